"""docs/INTERFACE.md's exit status for file inputs ("Exit status and
signals"): 0 only when Kafka acknowledged every message; a message Kafka
never acknowledged makes it 1, and the log says how many. Bad
configuration is 2."""
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
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

    @staticmethod
    def scrape(port, names):
        """The metrics if every one of names is there, else None."""
        try:
            got = pxtest.metrics(port)
        except OSError:
            return None
        return got if all(n in got for n in names) else None

    def test_ports_logged_then_sigterm_exits_0(self):
        """Port 0 for metrics.listen and a dnstap-tcp input: the start-up
        lines say the ports bound, and both serve there (the window's
        metrics among the others); SIGTERM is 0."""
        p = subprocess.Popen(pxtest.producer_cmd(
            ['org="exit"', 'inputs=({type="dnstap-tcp"; listen="127.0.0.1:0";})',
             'metrics.listen="127.0.0.1:0"', "kafka.enabled=false"]),
            stderr=subprocess.PIPE, text=True)
        lines = queue.Queue()
        reader = threading.Thread(target=lambda: [lines.put(x) for x in p.stderr] + [lines.put("")])
        reader.start()
        try:
            ports = {}
            while len(ports) < 2:
                line = lines.get(timeout=30)
                self.assertTrue(line, "the producer ended before logging its ports")
                m = re.search(r"(metrics|dnstap-tcp): listening on 127\.0\.0\.1:(\d+)$",
                              line.rstrip())
                if m:
                    ports[m.group(1)] = int(m.group(2))
            self.assertNotEqual(ports["metrics"], 0)
            self.assertNotEqual(ports["dnstap-tcp"], 0)
            window = ["pdnsx_window_keys", "pdnsx_window_entries", "pdnsx_window_bytes",
                      "pdnsx_window_flushes_total", "pdnsx_window_early_flushes_total",
                      "pdnsx_observations_withheld_total"]
            got = pxtest.wait_for(lambda: self.scrape(ports["metrics"], window), 20,
                                  "the window's metrics on the logged port")
            self.assertEqual(got["pdnsx_window_keys"], 0)
            self.assertEqual(got["pdnsx_window_flushes_total"], 0)
            self.assertGreater(got["pdnsx_window_bytes"], 0)
            with socket.create_connection(("127.0.0.1", ports["dnstap-tcp"]), timeout=10):
                pass
            p.send_signal(signal.SIGTERM)
            self.assertEqual(p.wait(timeout=60), 0)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
            reader.join()


if __name__ == "__main__":
    unittest.main(verbosity=2)
