"""Nothing is lost when Kafka goes away: a real Kafka broker of the test's
own is down when the producer starts (file input) or dies in the middle of
a live dnstap stream; when it returns the producer delivers everything and
exits 0. With spool.path, a live input's observations go to the spool while
the broker is down (the input keeps reading) and are delivered from it when
the broker returns, in the same run or the next. What reaches the topic is
compared with a reference run of the same input through pdnsx-broker: same
records, same counts, same times."""
import os
import shutil
import signal
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pxtest  # noqa: E402

KAFKA = os.path.join(pxtest.SRC, "tests", "kafka")


class OwnKafka:
    """A real single-node Kafka this test may stop and start at will."""

    def __init__(self, workdir):
        self.dir = os.path.join(workdir, "kafka")
        self.port = pxtest.free_port()
        self.bootstrap = "127.0.0.1:%d" % self.port

    def start(self):
        subprocess.run([os.path.join(KAFKA, "kafka-start.sh"), self.dir, str(self.port)],
                       check=True, stdout=subprocess.DEVNULL, timeout=180)

    def stop(self):
        subprocess.run([os.path.join(KAFKA, "kafka-stop.sh"), self.dir], check=True, timeout=60)


def gencap(workdir, n, seed):
    base = os.path.join(workdir, "cap%d" % seed)
    out = subprocess.run([os.path.join(os.path.dirname(pxtest.BIN), "bench", "pdnsx-gencap"),
                          "-n", str(n), "-s", str(seed), "-N", "2000", "-D", "300",
                          "-t", "1800", "-o", base + ".pcap", "-d", base + ".dnstap"],
                         capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        raise AssertionError("pdnsx-gencap: " + out.stderr)
    return base + ".pcap", base + ".dnstap"


class Outage(unittest.TestCase):
    def setUp(self):
        pxtest.need_fixture(self, os.environ.get("PDNSX_TEST_KAFKA"),
                            "the real Kafka harness (PDNSX_TEST_KAFKA; scripts/with-kafka.sh)")
        self.dir = pxtest.tmpdir("pdnsx-outage-")
        self.kafka = OwnKafka(self.dir)
        self.procs = []

    def tearDown(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        try:
            self.kafka.stop()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def producer(self, org, inputs, brokers, props="", sets=()):
        """The producer and its metrics port."""
        log = open(os.path.join(self.dir, "producer-%s.log" % org), "a")
        p, (mport,) = pxtest.serve(lambda port: subprocess.Popen(pxtest.producer_cmd([
            'org="%s"' % org, "inputs=(%s)" % inputs, 'kafka.brokers="%s"' % brokers,
            'metrics.listen="127.0.0.1:%d"' % port,
            'kafka.properties={ reconnect = { backoff = { max = { ms = 1000; }; }; }; %s }'
            % props] + list(sets)),
            stdout=log, stderr=subprocess.STDOUT))
        self.procs.append(p)
        p.logname = log.name
        return p, mport

    def reference(self, inputs):
        """The same input through pdnsx-broker, merged per key."""
        broker = pxtest.Broker()
        try:
            org = pxtest.unique_org("ref")
            out = subprocess.run(pxtest.producer_cmd([
                'org="%s"' % org, "inputs=(%s)" % inputs,
                'kafka.brokers="%s"' % broker.bootstrap]), capture_output=True, text=True,
                timeout=300)
            self.assertEqual(out.returncode, 0, out.stderr)
            recs = pxtest.decode_messages(pxtest.read_topic_raw(broker.bootstrap,
                                                                "pdnsx.obs." + org))
        finally:
            broker.close()
        return strip(pxtest.sum_by_key(recs))

    def published(self, org):
        recs = pxtest.decode_messages(pxtest.read_topic_raw(self.kafka.bootstrap,
                                                            "pdnsx.obs." + org))
        return strip(pxtest.sum_by_key(recs))

    def test_broker_down_at_start_then_up(self):
        pcap, _ = gencap(self.dir, 20000, 7)
        inputs = '{type="pcap-file"; path="%s";}' % pcap
        org = pxtest.unique_org("late")
        prod, mport = self.producer(org, inputs, self.kafka.bootstrap)
        # the whole file is read and aggregated while nothing can be sent
        pxtest.wait_for(lambda: pxtest.metric(mport, "pdnsx_responses_total") == 20000, 120,
                        "the producer to read the capture")
        self.assertIsNone(prod.poll(), "the producer must wait for Kafka, not exit")
        self.kafka.start()
        self.assertEqual(prod.wait(timeout=300), 0, open(prod.logname).read())
        self.assertEqual(self.published(org), self.reference(inputs))

    def test_broker_dies_mid_stream(self):
        _, d1 = gencap(self.dir, 8000, 11)
        _, d2 = gencap(self.dir, 8000, 12)
        self.kafka.start()
        org = pxtest.unique_org("midway")
        sock = os.path.join(self.dir, "dnstap.sock")
        prod, mport = self.producer(org, '{type="dnstap-unix"; path="%s";}' % sock,
                                    self.kafka.bootstrap)
        pxtest.wait_for(lambda: os.path.exists(sock), 20, "dnstap socket")
        replay = ["fstrm_replay", "-t", "protobuf:dnstap.Dnstap", "-u", sock, "-r"]
        subprocess.run(replay + [d1], check=True, timeout=120)
        pxtest.wait_for(lambda: pxtest.metric(mport, "pdnsx_kafka_delivered_total") > 0, 60,
                        "first windows delivered")
        self.kafka.stop()
        subprocess.run(replay + [d2], check=True, timeout=120)
        pxtest.wait_for(lambda: pxtest.metric(mport, "pdnsx_responses_total") == 16000, 60,
                        "the second stream to arrive")
        self.kafka.start()
        prod.send_signal(signal.SIGTERM)
        self.assertEqual(prod.wait(timeout=120), 0, open(prod.logname).read())
        ref = self.reference('{type="dnstap-file"; path="%s";}, {type="dnstap-file"; '
                             'path="%s";}' % (d1, d2))
        self.assertEqual(self.published(org), ref)

    def spool_producer(self, org, sock, spool):
        """A live dnstap input with a spool (and its metrics port);
        librdkafka's queue is cut to 500 messages so that the spool takes
        most of an outage (over 90 % of these streams). Not lower: the
        spool is fed back at most a queue's worth per main-loop turn
        (100 ms, and linger.ms 100 before the batch leaves), so 50 took a
        minute to deliver a stream of 14000 observations."""
        prod, mport = self.producer(org, '{type="dnstap-unix"; path="%s";}' % sock,
                                    self.kafka.bootstrap,
                                    props='queue = { buffering = { max = { messages = "500"; }; }; };',
                                    sets=['spool.path="%s"' % spool, "kafka.max_block_ms=200"])
        pxtest.wait_for(lambda: os.path.exists(sock), 20, "dnstap socket")
        pxtest.wait_for(lambda: pxtest.metric(mport, "pdnsx_responses_total") is not None, 20,
                        "the metrics endpoint")
        return prod, mport

    def test_live_spool_replay(self):
        """The broker is down from the start: the stream is read whole,
        spooled, then delivered from the spool once the broker is up; the
        spool ends empty and the topic holds exactly the reference."""
        _, d1 = gencap(self.dir, 20000, 13)
        org = pxtest.unique_org("spool")
        sock = os.path.join(self.dir, "dnstap.sock")
        spool = os.path.join(self.dir, "spool")
        prod, mport = self.spool_producer(org, sock, spool)
        subprocess.run(REPLAY + [sock, "-r", d1], check=True, timeout=120)
        pxtest.wait_for(lambda: pxtest.metric(mport, "pdnsx_responses_total") == 20000, 60,
                        "the stream to be read")
        pxtest.wait_for(lambda: pxtest.metric(mport, "pdnsx_spool_written_total") > 0, 60,
                        "observations spooled")
        m = pxtest.metrics(mport)
        self.assertEqual(m.get('pdnsx_observations_dropped_total{reason="kafka_backlog"}', 0), 0)
        self.assertEqual(m.get("pdnsx_kafka_delivered_total", 0), 0)
        self.assertGreater(os.path.getsize(spool), 0)
        self.kafka.start()
        pxtest.wait_for(lambda: os.path.getsize(spool) == 0, 240, "the spool to be delivered")
        m = pxtest.metrics(mport)
        self.assertEqual(m["pdnsx_spool_read_total"], m["pdnsx_spool_written_total"])
        prod.send_signal(signal.SIGTERM)
        self.assertEqual(prod.wait(timeout=120), 0, open(prod.logname).read())
        self.assertEqual(os.path.getsize(spool), 0)
        self.assertEqual(self.published(org),
                         self.reference('{type="dnstap-file"; path="%s";}' % d1))

    def test_spool_survives_restart(self):
        """Stopped while the broker is down, the producer keeps what Kafka
        did not take in the spool (exit 0); the next run, broker up,
        delivers it with its own stream."""
        _, d1 = gencap(self.dir, 8000, 17)
        _, d2 = gencap(self.dir, 8000, 18)
        org = pxtest.unique_org("restart")
        sock = os.path.join(self.dir, "dnstap.sock")
        spool = os.path.join(self.dir, "spool")
        prod, mport = self.spool_producer(org, sock, spool)
        subprocess.run(REPLAY + [sock, "-r", d1], check=True, timeout=120)
        pxtest.wait_for(lambda: pxtest.metric(mport, "pdnsx_responses_total") == 8000, 60,
                        "the first stream to be read")
        prod.send_signal(signal.SIGTERM)
        self.assertEqual(prod.wait(timeout=120), 0, open(prod.logname).read())
        self.assertIn("kept in the spool for the next run", open(prod.logname).read())
        self.assertGreater(os.path.getsize(spool), 0)

        self.kafka.start()
        prod, mport = self.spool_producer(org, sock, spool)
        subprocess.run(REPLAY + [sock, "-r", d2], check=True, timeout=120)
        pxtest.wait_for(lambda: pxtest.metric(mport, "pdnsx_responses_total") == 8000, 60,
                        "the second stream to be read")
        pxtest.wait_for(lambda: os.path.getsize(spool) == 0, 240, "the spool to be delivered")
        prod.send_signal(signal.SIGTERM)
        self.assertEqual(prod.wait(timeout=120), 0, open(prod.logname).read())
        self.assertEqual(os.path.getsize(spool), 0)
        self.assertEqual(self.published(org),
                         self.reference('{type="dnstap-file"; path="%s";}, {type="dnstap-file"; '
                                        'path="%s";}' % (d1, d2)))


REPLAY = ["fstrm_replay", "-t", "protobuf:dnstap.Dnstap", "-u"]


def strip(merged):
    """What must match between two runs: per key, count and times."""
    return {k: (v["count"], v["time_first"], v["time_last"]) for k, v in merged.items()}


if __name__ == "__main__":
    unittest.main(verbosity=2)
