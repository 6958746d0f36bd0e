"""Bad input never crashes the producer and is never silent: every public
capture of the shared corpus (fuzzed traces, compression loops, bad
rdlengths, truncated snaplen, pcapng, ...), broken files, and a live dnstap
socket fed garbage and torn frames. Under the ASan build this also proves
there is no memory error on any of them."""
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pxtest  # noqa: E402

CORPUS = pxtest.CORPUS
# Files that are not dnstap at all must be refused at start with a reason.
NOT_DNSTAP = {"fstrm__test.fstrm"}


def run_file(kind, path):
    return subprocess.run(pxtest.producer_cmd([
        'org="robust"', 'inputs=({type="%s"; path="%s";})' % (kind, path),
        "kafka.enabled=false"]), capture_output=True, text=True, timeout=120)


def summary(stderr):
    """(responses, malformed) from the producer's closing log line."""
    for line in stderr.splitlines():
        if " responses " in line and "(malformed " in line:
            words = line.split("responses ", 1)[1].split()
            return int(words[0]), int(words[2].rstrip("),"))
    return None


class CorpusFiles(unittest.TestCase):
    def setUp(self):
        pxtest.need_fixture(self, os.path.isdir(CORPUS), CORPUS)

    def check(self, kind, name):
        out = run_file(kind, os.path.join(CORPUS, kind.split("-")[0], name))
        self.assertGreaterEqual(out.returncode, 0, "killed by a signal: %s\n%s" % (name,
                                                                                  out.stderr))
        self.assertNotIn("AddressSanitizer", out.stderr, name)
        self.assertNotIn("runtime error", out.stderr, name)
        if name in NOT_DNSTAP:
            self.assertEqual(out.returncode, 1, name)
            self.assertIn("content type", out.stderr, name)
            return None
        self.assertEqual(out.returncode, 0, "%s: %s" % (name, out.stderr[-2000:]))
        got = summary(out.stderr)
        self.assertIsNotNone(got, name)
        return got

    def test_every_pcap(self):
        total = 0
        for name in sorted(os.listdir(os.path.join(CORPUS, "pcap"))):
            if name.endswith((".pcap", ".pcapng")):
                with self.subTest(name=name):
                    total += self.check("pcap-file", name)[0]
        self.assertGreater(total, 1000)  # they hold real responses, read as such

    def test_every_dnstap(self):
        for name in sorted(os.listdir(os.path.join(CORPUS, "dnstap"))):
            with self.subTest(name=name):
                self.check("dnstap-file", name)

    def test_malformed_responses_are_counted(self):
        # hostile DNS inside well-formed packets: each response counted as
        # malformed, none fatal (the files are named for what they hold:
        # a forward compression pointer, a bad label type, broken answers)
        for name, want in [("tcpdump__dns_fwdptr.pcap", (1, 1)),
                           ("tcpdump__dns-badlabel.pcap", (1, 1)),
                           ("nDPI__malformed_dns.pcap", (4, 4))]:
            with self.subTest(name=name):
                self.assertEqual(self.check("pcap-file", name), want)


class BrokenFiles(unittest.TestCase):
    def setUp(self):
        self.dir = pxtest.tmpdir("pdnsx-bad-")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def write(self, name, data):
        path = os.path.join(self.dir, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def test_garbage_and_missing_files_are_clear_errors(self):
        junk = self.write("junk", os.urandom(4096))
        for kind in ("pcap-file", "dnstap-file"):
            out = run_file(kind, junk)
            self.assertEqual(out.returncode, 1, out.stderr)
            self.assertIn("input 1 (%s)" % kind, out.stderr)
            # a missing file is a configuration problem, found before the
            # run (issue 9): exit 2, at its setting
            out = run_file(kind, os.path.join(self.dir, "missing"))
            self.assertEqual(out.returncode, 2)
            self.assertIn("--set:2: 'inputs[0].path' \"%s\": No such file or directory"
                          % os.path.join(self.dir, "missing"), out.stderr)

    def test_truncated_pcap_keeps_what_is_whole(self):
        src = os.path.join(CORPUS, "pcap", "dnscap__dns.pcap")
        pxtest.need_fixture(self, os.path.exists(src), src)
        data = open(src, "rb").read()
        whole = summary(run_file("pcap-file", src).stderr)[0]
        cut = self.write("cut.pcap", data[: len(data) * 2 // 3 + 7])
        out = run_file("pcap-file", cut)
        # what is whole is read and delivered; the cut is an error (issue 9)
        self.assertEqual(out.returncode, 1, out.stderr)
        self.assertIn("%s: offset " % cut, out.stderr)
        self.assertIn("the file is cut short", out.stderr)
        got = summary(out.stderr)[0]
        self.assertGreater(got, 0)
        self.assertLess(got, whole)


class LiveSocket(unittest.TestCase):
    """A dnstap-unix producer fed garbage, a torn frame and then a good
    stream stays up, counts the bad, delivers the good."""

    def test_garbage_then_good_stream(self):
        d = pxtest.tmpdir("pdnsx-live-")
        sock = os.path.join(d, "dnstap.sock")
        log = open(os.path.join(d, "producer.log"), "w")
        prod, (mport,) = pxtest.serve(lambda port: subprocess.Popen(pxtest.producer_cmd([
            'org="live"', 'inputs=({type="dnstap-unix"; path="%s";})' % sock,
            "kafka.enabled=false", 'metrics.listen="127.0.0.1:%d"' % port]),
            stdout=log, stderr=subprocess.STDOUT))
        try:
            pxtest.wait_for(lambda: os.path.exists(sock), 20, "socket")
            ct = b"protobuf:dnstap.Dnstap"

            def control(ftype, fields=b""):
                body = struct.pack(">I", ftype) + fields
                return struct.pack(">II", 0, len(body)) + body

            ready = control(4, struct.pack(">II", 1, len(ct)) + ct)
            start = control(2, struct.pack(">II", 1, len(ct)) + ct)
            # 1: handshake, then a data frame of protobuf garbage, then a
            # frame cut in the middle by a disconnect
            with socket.socket(socket.AF_UNIX) as s:
                s.connect(sock)
                s.sendall(ready)
                s.recv(64)  # ACCEPT
                s.sendall(start + struct.pack(">I", 9) + b"\xff" * 9 +
                          struct.pack(">I", 500) + b"\x0a" * 100)
            # 2: no handshake at all, just noise
            with socket.socket(socket.AF_UNIX) as s:
                s.connect(sock)
                s.sendall(os.urandom(300))
            # 3: a real stream from the reference sender
            good = os.path.join(CORPUS, "dnstap", "dsc__dotdoh.dnstap")
            if pxtest.fixture_present(self, good):
                subprocess.run(["fstrm_replay", "-t", ct.decode(), "-u", sock, "-r", good],
                               check=True, timeout=60)
                pxtest.wait_for(lambda: pxtest.metric(mport, "pdnsx_responses_total") == 3,
                                30, "the good stream's 3 responses")
            bad = pxtest.wait_for(lambda: pxtest.metric(
                mport, 'pdnsx_input_malformed_total{input="dnstap",reason="protobuf"}'), 30,
                "the garbage frame to be counted")
            self.assertGreaterEqual(bad, 1)
            self.assertIsNone(prod.poll(), "producer died")
            prod.send_signal(signal.SIGTERM)
            self.assertEqual(prod.wait(timeout=60), 0)
        finally:
            if prod.poll() is None:
                prod.kill()
                prod.wait()
            log.close()
            shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    unittest.main(verbosity=2)
