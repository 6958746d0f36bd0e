"""The consumer holds to the memory bound the README states ("Memory"):
merging 200,000 observations over 24 partitions with small
kafka.fetch_queue_* settings and a small batch, aligned in event time (the
default kafka.align_seconds), its peak anonymous memory (RssAnon, sampled
from /proc) stays under the formula for those settings, its term per
partition included, and no partition's queue (librdkafka's statistics)
holds more than its share and one fetch, what that term counts on; with
a deeper queue on the same data it takes
more (the settings are what bounds it, not the data), still under its
own bound. Unaligned (one queue), the bound holds without the term per
partition. And kafka.properties may not set the librdkafka properties
those settings own.

The RSS figures need a build without AddressSanitizer (its shadow memory
and quarantine are anonymous too): under ASan the small queue's run is
checked for everything but the figures, and the two runs that give only
figures are left out."""
import os
import shutil
import subprocess
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pxtest  # noqa: E402

OBSGEN = os.path.join(os.path.dirname(pxtest.BIN), "bench", "pdnsx-bench-obsgen")
CONSUMER = os.path.join(pxtest.BIN, "pdnsx-consumer")
N, KEYS = 200000, 40000
MIB = 1 << 20

# The README's bound ("Memory"): fixed + per queued message + queued
# payload + one fetch response + the store batch + LMDB's dirty pages of
# one transaction (at most the data file), and aligned, per partition one
# fetch past its share (64 KiB compressed, ~1,200 messages: obsgen writes
# record batches as pdnsx-producer does, at most 500 messages, smaller
# than that) and the 256 messages taken from its queue, 512 bytes each.
# Keep in step with it.
FIXED, PER_MSG, PER_REC, DIRTY = 96 * MIB, 400, 600, 8192 * 3 * 4096
PARTITIONS, PER_PARTITION = 24, (1200 + 256) * 512
FETCHQ = "pdnsx_kafka_partition_fetchq_messages{"
SMALL = {"kafka.fetch_queue_messages": 10000, "kafka.fetch_queue_kbytes": 2048,
         "kafka.fetch_max_kbytes": 1024, "store.batch_records": 10000}
DEEP = dict(SMALL, **{"kafka.fetch_queue_messages": 400000, "kafka.fetch_queue_kbytes": 65536})
UNALIGNED = dict(SMALL, **{"kafka.align_seconds": 0})


def bound(s, file_bytes):
    aligned = s.get("kafka.align_seconds", 60) > 0
    return (FIXED + s["kafka.fetch_queue_messages"] * PER_MSG
            + s["kafka.fetch_queue_kbytes"] * 1024 + s["kafka.fetch_max_kbytes"] * 1024
            + min(s["store.batch_records"], 1 << 18) * PER_REC + min(DIRTY, file_bytes)
            + (PARTITIONS * PER_PARTITION if aligned else 0))


def sanitized(path):
    with open(path, "rb") as f:
        return b"__asan_init" in f.read()


def anon_kib(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class ConsumerMemory(unittest.TestCase):
    def setUp(self):
        self.dir = pxtest.tmpdir("pdnsx-memory-")
        self.broker = pxtest.Broker(topics=["pdnsx.obs.mem-%s:%d" % (o, PARTITIONS // 3)
                                            for o in "abc"])

    def tearDown(self):
        self.broker.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def consumer(self, store, sets, group="mem"):
        args = [CONSUMER, "-s", 'kafka.brokers="%s"' % self.broker.bootstrap,
                *pxtest.NO_CHANGELOG, "-s", 'kafka.group="%s-%d"' % (group, os.getpid()),
                "-s", 'kafka.topics="^pdnsx\\\\.obs\\\\.mem-[abc]$"',
                "-s", 'store.path="%s"' % store, "-s", "run.exit_idle=2",
                # a fresh store fed from CreateTime topics: no per-org bound
                "-s", "trust.org_new_records=0"]
        for s in sets:
            args += ["-s", s]
        return args

    def peak_anon(self, name, settings, queues=None):
        """Merges the whole topic into a fresh store; (peak anonymous
        bytes, the store's data file bytes). queues: a dict that gets the
        most messages each partition's queue was seen holding
        (librdkafka's statistics, on /metrics)."""
        store = os.path.join(self.dir, name)
        sets = ["%s=%d" % kv for kv in settings.items()]
        port = None
        if queues is not None:
            port = pxtest.free_port()
            sets += ['metrics.listen="127.0.0.1:%d"' % port, "kafka.statistics_interval_ms=250"]
        proc = subprocess.Popen(self.consumer(store, sets, group=name),
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        peak = [0]
        done = threading.Event()

        def sample():
            while not done.is_set():
                peak[0] = max(peak[0], anon_kib(proc.pid))
                for k, v in (self.scrape(port) if port else {}).items():
                    if k.startswith(FETCHQ):
                        queues[k] = max(queues.get(k, 0), v)
                done.wait(0.02)
        t = threading.Thread(target=sample)
        t.start()
        try:
            err = proc.communicate(timeout=300)[1]
        finally:
            done.set()
            t.join()
        self.assertEqual(proc.returncode, 0, err)
        self.assertIn("merged %d" % N, err)
        # store.path holds one store per partition (docs/STORE-FORMAT.md)
        size = sum(os.path.getsize(os.path.join(store, d, "data.mdb"))
                   for d in os.listdir(store) if d.startswith("partition-"))
        return peak[0] * 1024, size

    @staticmethod
    def scrape(port):
        try:
            return pxtest.metrics(port)
        except OSError:
            return {}  # not listening yet, or gone

    def test_anonymous_memory_within_the_bound(self):
        out = subprocess.run([OBSGEN, "-b", self.broker.bootstrap, "-n", str(N), "-k", str(KEYS),
                              "-D", str(KEYS // 10), "-p", "mem"],
                             capture_output=True, text=True, timeout=300)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("stored %d" % N, out.stdout)
        queues = {}
        small, small_file = self.peak_anon("small", SMALL, queues)
        print("most messages seen in a partition's queue (aligned, small): %d"
              % max(queues.values() or [0]))
        # what the term per partition counts on: each queue holds at most
        # its share and one fetch (~1,200 messages: 64 KiB compressed, or
        # one record batch of at most 500)
        share = SMALL["kafka.fetch_queue_messages"] // PARTITIONS
        self.assertEqual(len(queues), PARTITIONS, queues)
        self.assertLessEqual(max(queues.values()), share + 1200, queues)
        if sanitized(CONSUMER):
            # no figure of an ASan build is held to a bound: the deep and
            # unaligned runs (two thirds of the test's time there) would
            # check nothing; the release build's run (label figures) holds
            # all three to their bounds
            print("ASan build: the figures are not held to the bound, the deep and unaligned "
                  "runs left out")
            return
        deep, deep_file = self.peak_anon("deep", DEEP)
        one, one_file = self.peak_anon("unaligned", UNALIGNED)
        print("peak anonymous memory: small queue %d MiB (bound %d MiB), deep queue %d MiB "
              "(bound %d MiB), small unaligned %d MiB (bound %d MiB)"
              % (small // MIB, bound(SMALL, small_file) // MIB, deep // MIB,
                 bound(DEEP, deep_file) // MIB, one // MIB, bound(UNALIGNED, one_file) // MIB))
        self.assertGreater(small, 0)
        self.assertLessEqual(small, bound(SMALL, small_file), "over the bound")
        self.assertLessEqual(deep, bound(DEEP, deep_file), "over the bound")
        self.assertLessEqual(one, bound(UNALIGNED, one_file), "over the bound, unaligned")
        # 390,000 more messages allowed, the topic holds 200,000: many of
        # them queue at once (about 500 bytes each with their payload). How
        # many depends on how far the fetcher runs ahead of the merge, that
        # is on the machine's load (32 MiB more on a loaded CI run);
        # settings that never reached librdkafka give none.
        self.assertGreater(deep - small, 16 * MIB, "the queue settings made no difference")

    def test_memory_properties_are_settings(self):
        for prop, setting in (("queued = { min = { messages = 1000000; }; }",
                               "kafka.fetch_queue_messages"),
                              ("queued = { max = { messages = { kbytes = 999999; }; }; }",
                               "kafka.fetch_queue_kbytes"),
                              ("fetch = { max = { bytes = 999999999; }; }",
                               "kafka.fetch_max_kbytes")):
            args = self.consumer(os.path.join(self.dir, "s"), ["kafka.properties={ %s }" % prop])
            # a configuration error: --check finds it, and a run stops at
            # start with the same message (exit 2)
            for extra in (["--check"], []):
                out = subprocess.run(args + extra, capture_output=True, text=True, timeout=60)
                self.assertEqual(out.returncode, 2, out.stderr)
                self.assertIn(setting, out.stderr)
                self.assertRegex(out.stderr, r"--set:\d+: kafka\.properties\.")


if __name__ == "__main__":
    unittest.main(verbosity=2)
