"""INTERFACE.md's exit status for file inputs: 0 only when Kafka
acknowledged every message; a message Kafka never acknowledged makes it 1,
and the log says how many. Bad configuration is 2."""
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dnswire as w  # noqa: E402
import pxtest  # noqa: E402


class ProducerExit(unittest.TestCase):
    def setUp(self):
        self.dir = pxtest.tmpdir("pdnsx-exit-")
        self.pcap = os.path.join(self.dir, "one.pcap")
        msg = w.response("www.example.org", "A", [("www.example.org", "A", 60, "93.184.216.34")])
        w.write_pcap(self.pcap, [(1764000000.5, w.udp_packet("198.41.0.4", "203.0.113.9", 53,
                                                               40000, msg))])

    def run_producer(self, *sets):
        return subprocess.run(pxtest.producer_cmd(
            ['org="exit"', 'inputs=({type="pcap-file"; path="%s";})' % self.pcap] + list(sets)),
            capture_output=True, text=True, timeout=120)

    def test_unacknowledged_message_exits_1(self):
        port = pxtest.free_port()  # nothing listens there
        out = self.run_producer('kafka.brokers="127.0.0.1:%d"' % port,
                                'kafka.properties={ message = { timeout = { ms = 3000; }; }; }')
        self.assertEqual(out.returncode, 1, out.stderr)
        self.assertIn("1 messages were never acknowledged by Kafka", out.stderr)

    def test_acknowledged_exits_0(self):
        broker = pxtest.Broker()
        try:
            out = self.run_producer('kafka.brokers="%s"' % broker.bootstrap)
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertIn("delivered 1, failed 0", out.stderr)
        finally:
            broker.close()

    def test_bad_configuration_exits_2(self):
        out = self.run_producer("window.seconds=0")
        self.assertEqual(out.returncode, 2)
        self.assertIn("window.seconds", out.stderr)
        out = subprocess.run(pxtest.producer_cmd(['org="Bad Org"']), capture_output=True,
                             text=True, timeout=60)
        self.assertEqual(out.returncode, 2)
        self.assertIn("org", out.stderr)
        out = subprocess.run(pxtest.producer_cmd(['org="x"', 'inputs=({type="pcap-file";})'])
                             + ["--check"], capture_output=True, text=True, timeout=60)
        self.assertEqual(out.returncode, 2)
        self.assertIn("needs 'path'", out.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
