"""The test suite's ports (ports.py, pxtest.serve): chosen below the
kernel's ephemeral range, and a server that lost its port to another
process between the choice and its bind is started again on another port,
never mistaken for the one that holds it."""
import os
import shutil
import socket
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ports  # noqa: E402
import pxtest  # noqa: E402


class Ports(unittest.TestCase):
    def test_free_ports_are_below_the_ephemeral_range(self):
        low = ports._ephemeral_low()
        got = [ports.free_port() for _ in range(50)]
        self.assertTrue(all(10000 <= p < low for p in got), got)

    def test_state_tells_ours_from_taken(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", ports.free_port()))
            s.listen()
            port = s.getsockname()[1]
            self.assertEqual(ports.port_state(os.getpid(), port), "ours")
            child = subprocess.Popen(["sleep", "30"])
            try:
                self.assertEqual(ports.port_state(child.pid, port), "taken")
            finally:
                child.kill()
                child.wait()
        self.assertIsNone(ports.port_state(os.getpid(), port))

    def test_serve_moves_off_a_taken_port(self):
        """The first port chosen is taken by someone else (a listener of
        this test): the producer exits (address in use), serve() starts it
        again on another port and returns that one, which it holds."""
        held = socket.socket()
        held.bind(("127.0.0.1", ports.free_port()))
        held.listen()
        taken = held.getsockname()[1]
        chosen = []
        real = ports.free_port

        def first_taken(avoid=()):
            chosen.append(taken if not chosen else real(avoid))
            return chosen[-1]
        ports.free_port = first_taken
        d = pxtest.tmpdir("pdnsx-ports-")
        try:
            proc, (port,) = pxtest.serve(lambda p: subprocess.Popen(pxtest.producer_cmd([
                'org="ports"', 'inputs=({type="dnstap-unix"; path="%s/s";})' % d,
                "kafka.enabled=false", 'metrics.listen="127.0.0.1:%d"' % p]),
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        finally:
            ports.free_port = real
            held.close()
        try:
            self.assertEqual(chosen[0], taken)
            self.assertNotEqual(port, taken)
            self.assertEqual(ports.port_state(proc.pid, port), "ours")
            self.assertEqual(pxtest.metric(port, "pdnsx_responses_total"), 0)
        finally:
            proc.terminate()
            self.assertEqual(proc.wait(timeout=30), 0)
            shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    unittest.main(verbosity=2)
