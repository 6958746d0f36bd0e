"""The dnstap.* connection settings through pdnsx-producer itself: a
connection that never shakes hands is closed at dnstap.handshake_ms, a full
set of dnstap.max_connections slots makes room for a new sender, and both
are counted on /metrics and said in the daemon's log, without an address."""
import os
import shutil
import socket
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pxtest  # noqa: E402
from dnswire import fstrm_control as control, fstrm_read_control as read_control  # noqa: E402

CT = b"protobuf:dnstap.Dnstap"
CLOSED = 'pdnsx_input_connections_closed_total{input="dnstap",reason="%s"}'


def closed(s):
    """True when the receiver closed the connection (within 10 s)."""
    s.settimeout(10)
    try:
        return s.recv(1) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


class DnstapLimits(unittest.TestCase):
    def setUp(self):
        self.dir = pxtest.tmpdir("pdnsx-dnstap-limits-")
        self.sock = os.path.join(self.dir, "dnstap.sock")
        self.mport = pxtest.free_port()
        self.log = os.path.join(self.dir, "producer.log")
        self.proc = None

    def start(self, handshake_ms):
        self.proc = subprocess.Popen(pxtest.producer_cmd([
            'org="limits"', 'inputs=({type="dnstap-unix"; path="%s";})' % self.sock,
            "kafka.enabled=false", "dnstap.max_connections=3",
            "dnstap.handshake_ms=%d" % handshake_ms,
            'metrics.listen="127.0.0.1:%d"' % self.mport]),
            stdout=open(self.log, "w"), stderr=subprocess.STDOUT)
        pxtest.wait_for(lambda: os.path.exists(self.sock), 20, "the dnstap socket")
        pxtest.wait_for(lambda: pxtest.metric(self.mport, CLOSED % "evicted") is not None, 20,
                        "the metrics endpoint")

    def tearDown(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=60)
        shutil.rmtree(self.dir, ignore_errors=True)

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(self.sock)
        return s

    def logtext(self):
        with open(self.log) as f:
            return f.read()

    def test_handshake_deadline(self):
        self.start(400)
        t0 = time.monotonic()
        mute = self.connect()
        half = self.connect()
        half.sendall(control(4, CT))  # READY
        self.assertEqual(read_control(half), 1)  # ACCEPT, then nothing more
        self.assertTrue(closed(mute))
        self.assertTrue(closed(half))
        self.assertGreaterEqual(time.monotonic() - t0, 0.35)
        pxtest.wait_for(lambda: pxtest.metric(self.mport, CLOSED % "handshake_timeout") == 2,
                        10, "the closes to be counted")
        self.assertIn("warning: dnstap-unix %s: closed a connection that did not complete the "
                      "Frame Streams handshake within 400 ms" % self.sock, self.logtext())
        mute.close()
        half.close()

    def test_full_slots_serve_a_new_sender(self):
        self.start(60000)  # the silent ones stay for the whole test
        silent = [self.connect() for _ in range(3)]
        pxtest.wait_for(lambda: pxtest.metric(
            self.mport, 'pdnsx_input_connections_total{input="dnstap"}') == 3, 10,
            "three connections taken")
        s = self.connect()
        s.sendall(control(4, CT))
        self.assertEqual(read_control(s), 1)  # ACCEPT: served
        s.sendall(control(2, CT) + control(3))  # START, STOP
        self.assertEqual(read_control(s), 5)  # FINISH
        self.assertTrue(closed(silent[0]))
        self.assertEqual(pxtest.metric(self.mport, CLOSED % "evicted"), 1)
        self.assertIn("all 3 connection slots in use (dnstap.max_connections)", self.logtext())
        for c in silent + [s]:
            c.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
