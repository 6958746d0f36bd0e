"""The consumer holds to the memory bound the README states ("Memory"):
with small kafka.fetch_queue_* settings and a small batch, its peak
anonymous memory (RssAnon, sampled from /proc while it merges 150,000
observations) stays under the formula for those settings, well below what
librdkafka's own defaults would let it take; and kafka.properties may not
set the librdkafka properties those settings own.

The RSS check needs a build without AddressSanitizer (its shadow memory
and quarantine are anonymous too): under ASan the run is checked for
everything but the figure."""
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
N, KEYS = 150000, 30000
MIB = 1 << 20

# The README's bound ("Memory"): fixed + per queued message + queued
# payload + one fetch response + the store batch. Keep in step with it.
FIXED, PER_MSG, PER_REC = 96 * MIB, 400, 600
SETTINGS = {"kafka.fetch_queue_messages": 20000, "kafka.fetch_queue_kbytes": 2048,
            "kafka.fetch_max_kbytes": 1024, "store.batch_records": 10000}


def bound(s):
    return (FIXED + s["kafka.fetch_queue_messages"] * PER_MSG
            + s["kafka.fetch_queue_kbytes"] * 1024 + s["kafka.fetch_max_kbytes"] * 1024
            + min(s["store.batch_records"], 1 << 18) * PER_REC)


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
        self.broker = pxtest.Broker(topics=["pdnsx.obs.mem-%s:8" % o for o in "abc"])

    def tearDown(self):
        self.broker.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def consumer(self, store, sets):
        args = [CONSUMER, "-s", 'kafka.brokers="%s"' % self.broker.bootstrap,
                "-s", 'kafka.group="mem-%d"' % os.getpid(),
                "-s", 'kafka.topics="^pdnsx\\\\.obs\\\\.mem-[abc]$"',
                "-s", 'store.path="%s"' % store, "-s", "run.exit_idle=2"]
        for s in sets:
            args += ["-s", s]
        return args

    def test_anonymous_memory_within_the_bound(self):
        out = subprocess.run([OBSGEN, "-b", self.broker.bootstrap, "-n", str(N), "-k", str(KEYS),
                              "-D", str(KEYS // 10), "-p", "mem"],
                             capture_output=True, text=True, timeout=300)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("stored %d" % N, out.stdout)
        store = os.path.join(self.dir, "store")
        proc = subprocess.Popen(self.consumer(store, ["%s=%d" % kv for kv in SETTINGS.items()]),
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        peak = [0]
        done = threading.Event()

        def sample():
            while not done.is_set():
                peak[0] = max(peak[0], anon_kib(proc.pid))
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
        if sanitized(CONSUMER):
            print("ASan build: peak anonymous memory %d MiB, not held to the bound"
                  % (peak[0] // 1024))
            return
        self.assertGreater(peak[0], 0)
        print("peak anonymous memory %d MiB, bound %d MiB" % (peak[0] // 1024,
                                                             bound(SETTINGS) // MIB))
        self.assertLessEqual(peak[0] * 1024, bound(SETTINGS),
                             "peak anonymous memory %d MiB over the bound %d MiB"
                             % (peak[0] // 1024, bound(SETTINGS) // MIB))

    def test_memory_properties_are_settings(self):
        for prop, setting in (("queued = { min = { messages = 1000000; }; }",
                               "kafka.fetch_queue_messages"),
                              ("queued = { max = { messages = { kbytes = 999999; }; }; }",
                               "kafka.fetch_queue_kbytes"),
                              ("fetch = { max = { bytes = 999999999; }; }",
                               "kafka.fetch_max_kbytes")):
            out = subprocess.run(self.consumer(os.path.join(self.dir, "s"),
                                               ["kafka.properties={ %s }" % prop]),
                                 capture_output=True, text=True, timeout=60)
            self.assertNotEqual(out.returncode, 0)
            self.assertIn(setting, out.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
