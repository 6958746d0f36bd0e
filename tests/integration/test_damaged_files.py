"""Damaged capture files through the real pdnsx-producer (issue 9, item 10).

A damaged file used to lose data silently: a record header with caplen 2^31
ended reading after 1 of 101 responses with exit status 0 and no log line
(the same with a BPF filter, which made libpcap read the file); a file cut
short likewise; a damaged dnstap file logged `malformed input` and exited 0.
Now each damage is an error line with the file, the offset and the reason;
where reading can go on (a later plausible pcap record header) the log says
where it resumed and how many bytes were skipped, the records after the
damage are published, and the exit status is 1 once what was read has been
delivered. The files are written here, byte by byte."""
import os
import shutil
import struct
import subprocess
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dnswire as w  # noqa: E402
import pxtest  # noqa: E402

N = 101
T0 = 1764000000


def names():
    return ["host%d.example.org" % i for i in range(N)]


def frames():
    """N responses, one per name, half a second apart."""
    out = []
    for i, name in enumerate(names()):
        msg = w.response(name, "A", [(name, "A", 60, "93.184.216.%d" % (i % 250 + 1))],
                         qid=i + 1)
        out.append((T0 + i * 0.5, w.udp_packet("198.41.0.4", "203.0.113.9", 53, 40000, msg)))
    return out


def record_offsets(pkts):
    """File offset of each record of w.write_pcap()'s file."""
    offs, off = [], 24
    for _, frame in pkts:
        offs.append(off)
        off += 16 + len(frame)
    return offs


def varint(v):
    out = b""
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def field(num, wire, payload):
    key = varint(num << 3 | wire)
    if wire == 0:
        return key + varint(payload)
    if wire == 5:
        return key + struct.pack("<I", payload)
    return key + varint(len(payload)) + payload


def dnstap_response(msg, t):
    """A dnstap CLIENT_RESPONSE frame payload (dnstap.proto field numbers)."""
    m = (field(1, 0, 6) + field(2, 0, 1) + field(3, 0, 1) +
         field(4, 2, bytes([203, 0, 113, 9])) + field(5, 2, bytes([198, 41, 0, 4])) +
         field(6, 0, 40000) + field(7, 0, 53) + field(12, 0, int(t)) +
         field(13, 5, int((t % 1) * 1e9)) + field(14, 2, msg))
    return field(15, 0, 1) + field(14, 2, m)


def fstrm_control(ftype, content_type=None):
    body = struct.pack(">I", ftype)
    if content_type:
        body += struct.pack(">II", 1, len(content_type)) + content_type
    return struct.pack(">II", 0, len(body)) + body


def write_dnstap(path, payloads):
    """A Frame Streams file as fstrm_capture writes it; returns the offset
    of each data frame."""
    offs = []
    data = fstrm_control(2, b"protobuf:dnstap.Dnstap")
    for p in payloads:
        offs.append(len(data))
        data += struct.pack(">I", len(p)) + p
    data += fstrm_control(3)
    with open(path, "wb") as f:
        f.write(data)
    return offs


class DamagedFiles(unittest.TestCase):
    def setUp(self):
        self.dir = pxtest.tmpdir("pdnsx-damaged-")
        self.pkts = frames()
        self.offs = record_offsets(self.pkts)
        self.good = os.path.join(self.dir, "good.pcap")
        w.write_pcap(self.good, self.pkts)
        with open(self.good, "rb") as f:
            self.data = f.read()

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def write(self, name, data):
        path = os.path.join(self.dir, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def bad_caplen(self):
        """The 101 responses with record 2's caplen set to 2^31."""
        d = bytearray(self.data)
        struct.pack_into("<I", d, self.offs[1] + 8, 2 ** 31)
        return self.write("caplen.pcap", bytes(d))

    def run_producer(self, inp, *sets):
        return subprocess.run(pxtest.producer_cmd(
            ['org="damaged"', "inputs=(%s)" % inp] + list(sets)),
            capture_output=True, text=True, timeout=120)

    def published(self, inp):
        """Runs the producer into pdnsx-broker; returns (result, rrnames)."""
        broker = pxtest.Broker()
        try:
            out = self.run_producer(inp, 'kafka.brokers="%s"' % broker.bootstrap)
            recs = pxtest.decode_messages(pxtest.read_topic_raw(broker.bootstrap,
                                                                "pdnsx.obs.damaged"))
        finally:
            broker.close()
        return out, sorted(r["rrname"] for r in recs)

    def test_bad_caplen_resumes_and_exits_1(self):
        path = self.bad_caplen()
        want = sorted(n for i, n in enumerate(names()) if i != 1)
        skipped = self.offs[2] - self.offs[1]
        for filt in ("", ' filter = "udp";'):
            with self.subTest(filter=filt):
                out, got = self.published('{type="pcap-file"; path="%s";%s}' % (path, filt))
                self.assertEqual(out.returncode, 1, out.stderr)
                # what came after the damaged header was read and published
                self.assertEqual(got, want)
                self.assertIn("%s: offset %d: record length (caplen) 2147483648 is over the "
                              "maximum of 262144" % (path, self.offs[1]), out.stderr)
                self.assertIn("%s: reading resumes at offset %d, %d bytes skipped"
                              % (path, self.offs[2], skipped), out.stderr)
                self.assertIn("input 1 (pcap-file): the file is damaged", out.stderr)
                self.assertIn("delivered 100, failed 0", out.stderr)

    def test_truncated_pcap_exits_1(self):
        cut = len(self.data) - 20
        path = self.write("cut.pcap", self.data[:cut])
        out = self.run_producer('{type="pcap-file"; path="%s";}' % path, "kafka.enabled=false")
        self.assertEqual(out.returncode, 1, out.stderr)
        last = self.offs[-1]
        self.assertIn("%s: offset %d: the file ends %d bytes into a %d-byte record"
                      % (path, last, cut - last, len(self.data) - last), out.stderr)
        self.assertIn("the file is cut short", out.stderr)
        self.assertIn("responses 100 (", out.stderr)

    def test_libpcap_path_says_it_cannot_resume(self):
        # a FIFO is read by libpcap (it cannot be read twice): the damage is
        # reported with libpcap's reason, and that the rest is lost
        fifo = os.path.join(self.dir, "fifo.pcap")
        os.mkfifo(fifo)
        path = self.bad_caplen()

        def feed():
            with open(fifo, "wb") as f, open(path, "rb") as src:
                shutil.copyfileobj(src, f)

        t = threading.Thread(target=feed)
        t.start()
        out = self.run_producer('{type="pcap-file"; path="%s"; filter="udp";}' % fifo,
                                "kafka.enabled=false")
        t.join()
        self.assertEqual(out.returncode, 1, out.stderr)
        self.assertIn("%s: invalid packet capture length 2147483648" % fifo, out.stderr)
        self.assertIn("libpcap cannot read past a damaged record", out.stderr)
        self.assertIn("responses 1 (", out.stderr)

    def test_damaged_dnstap_file_exits_1(self):
        payloads = [dnstap_response(f[1][42:], f[0]) for f in self.pkts[:10]]
        path = os.path.join(self.dir, "bad.dnstap")
        offs = write_dnstap(path, payloads)
        with open(path, "r+b") as f:  # frame 5's length: 2^31 - 1
            f.seek(offs[5])
            f.write(struct.pack(">I", 0x7FFFFFFF))
        size = os.path.getsize(path)
        out = self.run_producer('{type="dnstap-file"; path="%s";}' % path, "kafka.enabled=false")
        self.assertEqual(out.returncode, 1, out.stderr)
        self.assertIn("%s: offset %d: frame length 2147483647 is over the maximum of 1048576"
                      % (path, offs[5]), out.stderr)
        self.assertIn("the last %d bytes of the file are not read" % (size - offs[5]),
                      out.stderr)
        self.assertIn("responses 5 (", out.stderr)
        # the same file whole: all 10, exit 0 (the frames are real dnstap)
        write_dnstap(path, payloads)
        out = self.run_producer('{type="dnstap-file"; path="%s";}' % path, "kafka.enabled=false")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("responses 10 (", out.stderr)

    def test_cut_dnstap_file_exits_1(self):
        payloads = [dnstap_response(f[1][42:], f[0]) for f in self.pkts[:3]]
        path = os.path.join(self.dir, "cut.dnstap")
        offs = write_dnstap(path, payloads)
        with open(path, "rb") as f:
            data = f.read()
        cut = offs[2] + 10
        with open(path, "wb") as f:
            f.write(data[:cut])
        out = self.run_producer('{type="dnstap-file"; path="%s";}' % path, "kafka.enabled=false")
        self.assertEqual(out.returncode, 1, out.stderr)
        self.assertIn("%s: offset %d: the file ends 10 bytes into a frame" % (path, offs[2]),
                      out.stderr)
        self.assertIn("responses 2 (", out.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
