"""The round trip of issue 10 through the real programs: what a producer
publishes is what the store keeps, what pdnsx-query prints, and what the
consumer's validator accepts unchanged; `pdnsx-query rdata` finds each
record by any spelling of its value.

A pcap written here byte by byte carries answers with AAAA addresses in
the IPv4-mapped, IPv4-compatible and NAT64 prefixes and a global one, an A,
and CNAME, MX, SRV, NS, PTR and DNAME targets, compressed into the question
and uncompressed, in mixed case, one with octets that need escapes.
pdnsx-producer reads it (privacy.private_answers, every type) and
publishes to pdnsx-broker; pdnsx-consumer (trust.private_answers) merges;
pdnsx-query prints. Then each printed record is published again, as
python3-avro encodes it, to the organisation's topic: the consumer must
take it (its count doubles, nothing is dead-lettered).

The expected texts are computed here, independently of the C code: names
by the presentation rule of docs/DATA-MODEL.md (letters lowercased, `\\.`,
`\\\\`, `\\DDD` for the rest), addresses by python's ipaddress (hex
groups only, RFC 5952 section 4)."""
import ipaddress
import json
import os
import shutil
import struct
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dnswire  # noqa: E402
import pxtest  # noqa: E402
from test_consumer import SESSION, single_object  # noqa: E402

TYPES = {"A": 1, "NS": 2, "CNAME": 5, "PTR": 12, "MX": 15, "AAAA": 28, "SRV": 33, "DNAME": 39}


def labels(text):
    """'Mail.Example.COM' -> [b'Mail', b'Example', b'COM'] (no escapes)."""
    return [p.encode() for p in text.split(".") if p]


def canonical(name_labels):
    """The presentation rule of names (docs/DATA-MODEL.md), written again."""
    out = []
    for lab in name_labels:
        s = ""
        for b in lab:
            if 0x41 <= b <= 0x5A:
                s += chr(b + 32)
            elif b == 0x2E:
                s += "\\."
            elif b == 0x5C:
                s += "\\\\"
            elif 0x21 <= b <= 0x7E and chr(b) not in "\"$();@":
                s += chr(b)
            else:
                s += "\\%03d" % b
        out.append(s)
    return ".".join(out) if out else "."


class Message:
    """A DNS response built byte by byte, with name compression where asked:
    a name's suffix already written (compared without case, as RFC 1035
    says) becomes a pointer to it."""

    def __init__(self, qname, qtype):
        self.buf = bytearray(struct.pack(">HHHHHH", 0x4242, 0x8180, 1, 0, 0, 0))
        self.seen = {}
        self.answers = 0
        self.put_name(qname, compress=False)
        self.buf += struct.pack(">HH", TYPES[qtype], 1)

    def put_name(self, name_labels, compress=True):
        for i in range(len(name_labels)):
            suffix = tuple(bytes(x.lower()) for x in name_labels[i:])
            if compress and suffix in self.seen:
                self.buf += struct.pack(">H", 0xC000 | self.seen[suffix])
                return
            if len(self.buf) < 0x3FFF:
                self.seen.setdefault(suffix, len(self.buf))
            self.buf += bytes([len(name_labels[i])]) + name_labels[i]
        self.buf += b"\x00"

    def answer(self, owner, rtype, rdata_parts, owner_compress=True, ttl=300):
        """rdata_parts: bytes, or ('name', labels, compress) items."""
        self.put_name(owner, owner_compress)
        self.buf += struct.pack(">HHI", TYPES[rtype], 1, ttl)
        at = len(self.buf)
        self.buf += b"\x00\x00"
        for part in rdata_parts:
            if isinstance(part, bytes):
                self.buf += part
            else:
                self.put_name(part[1], part[2])
        struct.pack_into(">H", self.buf, at, len(self.buf) - at - 2)
        self.answers += 1
        struct.pack_into(">H", self.buf, 6, self.answers)

    def wire(self):
        return bytes(self.buf)


def v6(text):
    return ipaddress.IPv6Address(text).packed


# Each case: one response. id, owner, type, rdata parts, expected rdata
# text, the spellings `pdnsx-query rdata` must find it by. The owner is
# written compressed (a pointer to the question) unless the id says
# "uncompressed".
TARGET_ODD = [b"Odd Name", b"a.b", b"Example", b"COM"]
CASES = [
    ("aaaa_mapped", "V6Mapped.Example.COM", "AAAA", [v6("::ffff:1.2.3.4")], "::ffff:102:304",
     ["::ffff:1.2.3.4", "::FFFF:102:304", "0:0:0:0:0:ffff:1.2.3.4", "::ffff:102:304"]),
    ("aaaa_compat", "V6Compat.example.com", "AAAA", [v6("::1.2.3.4")], "::102:304",
     ["::1.2.3.4", "::102:304", "0:0:0:0:0:0:102:304"]),
    ("aaaa_nat64", "v6nat64.EXAMPLE.com", "AAAA", [v6("64:ff9b::1.2.3.4")], "64:ff9b::102:304",
     ["64:ff9b::1.2.3.4", "64:FF9B::102:304", "64:ff9b:0:0:0:0:102:304"]),
    ("aaaa_global", "v6global.example.com", "AAAA", [v6("2001:4860:4860::8888")],
     "2001:4860:4860::8888", ["2001:4860:4860:0:0:0:0:8888", "2001:4860:4860::8888"]),
    ("a", "V4.Example.Com", "A", [bytes([1, 2, 3, 4])], "1.2.3.4", ["1.2.3.4"]),
    ("cname_compressed", "Alias.Example.COM", "CNAME",
     [("name", labels("Target.EXAMPLE.com"), True)], "target.example.com",
     ["TARGET.Example.COM.", "target.example.com"]),
    ("cname_uncompressed", "alias2.example.org", "CNAME",
     [("name", labels("Target2.Example.ORG"), False)], "target2.example.org",
     ["Target2.EXAMPLE.org", "target2.example.org."]),
    ("cname_escaped", "odd.example.com", "CNAME", [("name", TARGET_ODD, True)],
     canonical(TARGET_ODD), ["odd\\032name.a\\.b.example.com", "ODD\\032NAME.A\\.B.EXAMPLE.COM."]),
    ("mx_compressed", "Example.NET", "MX",
     [struct.pack(">H", 10), ("name", labels("Mail.Example.NET"), True)],
     "10 mail.example.net", ["MAIL.example.NET.", "mail.example.net"]),
    ("mx_uncompressed", "example.info", "MX",
     [struct.pack(">H", 20), ("name", labels("MX2.Example.Info"), False)],
     "20 mx2.example.info", ["mx2.EXAMPLE.info", "mx2.example.info"]),
    ("srv_uncompressed", "_sip._tcp.Example.COM", "SRV",
     [struct.pack(">HHH", 10, 60, 5060), ("name", labels("SIP.Example.COM"), False)],
     "10 60 5060 sip.example.com", ["SIP.EXAMPLE.COM.", "sip.example.com"]),
    ("srv_compressed", "_xmpp._tcp.example.com", "SRV",
     [struct.pack(">HHH", 5, 0, 5222), ("name", labels("XMPP.Example.com"), True)],
     "5 0 5222 xmpp.example.com", ["xmpp.example.com"]),
    ("ns_compressed", "Zone.Example.COM", "NS", [("name", labels("NS1.Example.COM"), True)],
     "ns1.example.com", ["NS1.EXAMPLE.COM", "ns1.example.com"]),
    ("ptr_uncompressed", "4.3.2.1.IN-ADDR.ARPA", "PTR",
     [("name", labels("Host.Example.COM"), False)], "host.example.com",
     ["HOST.example.com.", "host.example.com"]),
    ("dname_uncompressed", "Old.Example.COM", "DNAME",
     [("name", labels("New.Example.NET"), False)], "new.example.net",
     ["NEW.EXAMPLE.NET", "new.example.net"]),
]

# What today's code fails, and why (each entry names a generated test).

def run(cmd, timeout=300):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


class RdataRoundTrip(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = pxtest.tmpdir("pdnsx-roundtrip-")
        cls.broker = pxtest.Broker()
        cls.run_id = pxtest.unique_org("rt")
        cls.org = cls.run_id + "-a"
        cls.store = os.path.join(cls.dir, "store")
        try:
            cls.published = cls.produce()
            cls.consume()
            cls.printed = {c[0]: cls.query("rrset", canonical(labels(c[1])), c[2])
                           for c in CASES}
            cls.republish()
            cls.consume()
            cls.reprinted = {c[0]: cls.query("rrset", canonical(labels(c[1])), c[2])
                             for c in CASES}
            cls.dlq = cls.dead_letters()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.broker.close()
        shutil.rmtree(cls.dir, ignore_errors=True)

    @classmethod
    def produce(cls):
        now = int(time.time()) - 600
        packets = []
        for i, (cid, owner, rtype, parts, _, _) in enumerate(CASES):
            m = Message(labels(owner), rtype)
            m.answer(labels(owner), rtype, parts, owner_compress="uncompressed" not in cid)
            packets.append((now + i, dnswire.udp_packet("192.0.2.53", "192.0.2.100", 53,
                                                        40000 + i, m.wire())))
        pcap = os.path.join(cls.dir, "answers.pcap")
        dnswire.write_pcap(pcap, packets)
        types = ", ".join('"%s"' % t for t in TYPES)
        out = run(pxtest.producer_cmd([
            'org="%s"' % cls.org, 'inputs=({type="pcap-file"; path="%s";})' % pcap,
            'kafka.brokers="%s"' % cls.broker.bootstrap, "privacy.private_answers=true",
            "privacy.rrtypes=[%s]" % types]))
        if out.returncode != 0:
            raise AssertionError("pdnsx-producer: " + out.stderr)
        recs = pxtest.decode_messages(pxtest.read_topic_raw(cls.broker.bootstrap,
                                                            "pdnsx.obs." + cls.org))
        return {(r["rrname"], r["rrtype"]): r for r in recs}

    @classmethod
    def consume(cls):
        out = run([os.path.join(pxtest.BIN, "pdnsx-consumer"),
                   "-s", 'kafka.brokers="%s"' % cls.broker.bootstrap,
                   *pxtest.NO_CHANGELOG, "-s", 'kafka.group="%s"' % cls.run_id,
                   "-s", 'kafka.topics="pdnsx.obs.%s"' % cls.org,
                   "-s", 'store.path="%s"' % cls.store, "-s", "run.exit_idle=3",
                   "-s", "trust.private_answers=true"] + SESSION, timeout=300)
        if out.returncode != 0:
            raise AssertionError("pdnsx-consumer: " + out.stderr)

    @classmethod
    def query(cls, *args):
        out = run([os.path.join(pxtest.BIN, "pdnsx-query"), "-s",
                   'store.path="%s"' % cls.store] + list(args))
        if out.returncode != 0:
            raise AssertionError("pdnsx-query %s: %s" % (args, out.stderr))
        return [json.loads(line) for line in out.stdout.splitlines()]

    @classmethod
    def republish(cls):
        """Each printed record, as a new observation of the same
        organisation, keyed by its case id, to the partition the producer
        gave it (the consumer keeps a store per partition: the record's
        store)."""
        sep, ksep = b"@@PX-MSG@@", b"@@PX-KEY@@"
        bodies = {}
        for cid, recs in cls.printed.items():
            for r in recs:
                pub = cls.published.get((r["rrname"], r["rrtype"]))
                if not pub:
                    continue
                obs = {k: pub[k] for k in pub if not k.startswith("_")}
                obs.update(rrname=r["rrname"], rrtype=r["rrtype"], rdata=r["rdata"])
                val = single_object(obs)
                bodies.setdefault(pub["_partition"], []).append(cid.encode() + ksep + val + sep)
        for part, body in sorted(bodies.items()):
            out = subprocess.run(["kcat", "-P", "-b", cls.broker.bootstrap, "-t",
                                  "pdnsx.obs." + cls.org, "-p", str(part), "-D", sep.decode(),
                                  "-K", ksep.decode()], input=b"".join(body),
                                 capture_output=True, timeout=60)
            if out.returncode != 0:
                raise AssertionError("kcat: %r" % out.stderr)

    @classmethod
    def dead_letters(cls):
        """pdnsx.dlq's copies of this test's messages: key -> headers."""
        out = run(["kcat", "-C", "-b", cls.broker.bootstrap, "-t", "pdnsx.dlq", "-e", "-o",
                   "beginning", "-f", "%k\t%h\n"], timeout=60)
        if out.returncode != 0:
            return {}  # no dead letter was ever written: the topic does not exist
        got = {}
        for line in out.stdout.splitlines():
            key, _, headers = line.partition("\t")
            if "pdnsx.obs." + cls.org in headers:
                got[key] = headers
        return got


def _published(self, case):
    """The producer published the expected text (the producer is the
    reference the rest of the chain must keep)."""
    cid, owner, rtype, _, want, _ = case
    pub = self.published.get((canonical(labels(owner)), rtype))
    self.assertIsNotNone(pub, "nothing published for %s %s: %s" % (
        owner, rtype, sorted(self.published)))
    self.assertEqual(pub["rdata"], want)


def _printed(self, case):
    """pdnsx-query prints exactly the published record, rdata unchanged."""
    cid, owner, rtype, _, want, _ = case
    got = self.printed[cid]
    self.assertEqual([(r["rrname"], r["rrtype"]) for r in got],
                     [(canonical(labels(owner)), rtype)])
    self.assertEqual(got[0]["rdata"], want)


def _revalidated(self, case):
    """The printed record, published again, is accepted unchanged: its
    count doubles and nothing of it is dead-lettered."""
    cid, owner, rtype, _, want, _ = case
    self.assertNotIn(cid, self.dlq, self.dlq.get(cid))
    first, again = self.printed[cid], self.reprinted[cid]
    self.assertEqual(len(again), 1, again)
    self.assertEqual(again[0]["rdata"], first[0]["rdata"])
    self.assertEqual(again[0]["count"], 2 * first[0]["count"])


def _found(self, case):
    """pdnsx-query rdata finds exactly this record by every spelling."""
    cid, owner, rtype, _, want, spellings = case
    key = (canonical(labels(owner)), rtype)
    for s in spellings:
        with self.subTest(spelling=s):
            got = [(r["rrname"], r["rrtype"]) for r in self.query("rdata", s)]
            self.assertEqual(got, [key])


for _case in CASES:
    for _what, _fn in (("published", _published), ("printed", _printed),
                       ("revalidated", _revalidated), ("found", _found)):
        _name = "test_%s_%s" % (_what, _case[0])

        def _test(self, fn=_fn, case=_case):
            fn(self, case)

        _test.__name__ = _name
        _test.__doc__ = "%s: %s" % (_case[0], _fn.__doc__.split("\n")[0])
        setattr(RdataRoundTrip, _name, _test)

if __name__ == "__main__":
    unittest.main()
