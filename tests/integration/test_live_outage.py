"""A live dnstap input is never held up by Kafka beyond kafka.max_block_ms.

Nothing listens at kafka.brokers, so librdkafka's local queue (cut to 50
messages) is full after the first window flushes. The resolver's side, here
Debian's fstrm_replay, must still get every frame in: without a spool the
newest observations are dropped, counted and logged; with spool.path they
all go to the spool and none is dropped. (The spool's delivery once the
broker returns is in test_outage.py, on a real broker the test stops and
starts.)"""
import os
import shutil
import signal
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pxtest  # noqa: E402

RESPONSES = 20000
DROPPED = 'pdnsx_observations_dropped_total{reason="kafka_backlog"}'


def gencap(workdir, n, seed):
    """A deterministic dnstap file: n responses over 30 minutes of event
    time, so that many one-minute windows flush while it is read."""
    base = os.path.join(workdir, "cap%d" % seed)
    out = subprocess.run([os.path.join(os.path.dirname(pxtest.BIN), "bench", "pdnsx-gencap"),
                          "-n", str(n), "-s", str(seed), "-N", "2000", "-D", "300",
                          "-t", "1800", "-d", base + ".dnstap"],
                         capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        raise AssertionError("pdnsx-gencap: " + out.stderr)
    return base + ".dnstap"


class LiveOutage(unittest.TestCase):
    def setUp(self):
        if not os.access("/usr/bin/fstrm_replay", os.X_OK):
            self.skipTest("needs fstrm_replay (Debian's fstrm-bin)")
        self.dir = pxtest.tmpdir("pdnsx-live-outage-")
        self.dnstap = gencap(self.dir, RESPONSES, 5)
        self.sock = os.path.join(self.dir, "dnstap.sock")
        self.mport = pxtest.free_port()
        self.proc = None

    def tearDown(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

    def start(self, *sets):
        self.log = os.path.join(self.dir, "producer.log")
        dead = pxtest.free_port()  # nothing listens there: Kafka is down
        self.proc = subprocess.Popen(pxtest.producer_cmd([
            'org="live-outage"', 'inputs=({type="dnstap-unix"; path="%s";})' % self.sock,
            'kafka.brokers="127.0.0.1:%d"' % dead, "kafka.max_block_ms=200",
            'kafka.properties={ queue = { buffering = { max = { messages = "50"; }; }; }; }',
            'metrics.listen="127.0.0.1:%d"' % self.mport] + list(sets)),
            stdout=open(self.log, "w"), stderr=subprocess.STDOUT)
        pxtest.wait_for(lambda: os.path.exists(self.sock), 20, "the dnstap socket")
        pxtest.wait_for(lambda: pxtest.metric(self.mport, "pdnsx_responses_total") is not None,
                        20, "the metrics endpoint")

    def replay(self):
        """The resolver's side: every frame must go in; a receiver that
        stopped reading would block fstrm_replay until the timeout."""
        try:
            subprocess.run(["fstrm_replay", "-t", "protobuf:dnstap.Dnstap", "-u", self.sock,
                            "-r", self.dnstap], check=True, timeout=60)
        except subprocess.TimeoutExpired:
            self.fail("the producer stopped reading its dnstap socket (Kafka is down)\n"
                      + self.logtext()[-3000:])
        pxtest.wait_for(lambda: pxtest.metric(self.mport, "pdnsx_responses_total") == RESPONSES,
                        60, "every response to be read")

    def logtext(self):
        with open(self.log) as f:
            return f.read()

    def test_no_spool_drops_newest_and_keeps_reading(self):
        self.start()
        self.replay()
        m = pxtest.metrics(self.mport)
        self.assertGreater(m.get(DROPPED, 0), 0)
        self.assertEqual(m.get("pdnsx_kafka_delivered_total", 0), 0)
        # every observation is either in librdkafka's queue (50) or dropped
        self.assertEqual(m["pdnsx_observations_published_total"], 50)
        self.assertEqual(m["pdnsx_observations_failed_total"], m[DROPPED])
        log = self.logtext()
        self.assertIn("dropping the newest observations so that the inputs keep reading", log)
        # thousands of drops, a handful of lines about them
        self.assertLessEqual(log.count("Kafka's local queue"), 3, log[-3000:])
        # and the input still takes a second stream
        self.replay_again()

    def replay_again(self):
        subprocess.run(["fstrm_replay", "-t", "protobuf:dnstap.Dnstap", "-u", self.sock,
                        "-r", self.dnstap], check=True, timeout=60)
        pxtest.wait_for(lambda: pxtest.metric(self.mport, "pdnsx_responses_total")
                        == 2 * RESPONSES, 60, "the second stream to be read")

    def test_spool_takes_everything(self):
        spool = os.path.join(self.dir, "spool")
        self.start('spool.path="%s"' % spool)
        self.replay()
        m = pxtest.metrics(self.mport)
        self.assertEqual(m.get(DROPPED, 0), 0)
        self.assertGreater(m["pdnsx_spool_written_total"], 0)
        self.assertEqual(m["pdnsx_observations_failed_total"], 0)
        self.assertGreater(os.path.getsize(spool), 0)
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()


if __name__ == "__main__":
    unittest.main(verbosity=2)
