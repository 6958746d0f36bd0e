"""Privacy audit: a capture made of nothing but forbidden things publishes
nothing. Each response below breaks exactly one rule of docs/DATA-MODEL.md
"Privacy rules"; the control run adds one ordinary answer and must publish
exactly that."""
import os
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dnswire as w  # noqa: E402
import pxtest  # noqa: E402

T0 = 1764000000.0
SERVER, WILDCARD = "198.41.0.4", "203.0.113.53"
CLIENTS = ["192.168.1.%d" % i for i in range(2, 12)] + ["2001:db8:cafe::%x" % i for i in range(1, 5)]

FORBIDDEN = [
    # (why, response)
    ("nxdomain", w.response("gone.example.org", "A", rcode=3,
                            authority=[("example.org", "NS", 300,
                                        "ns.example.org")])),
    ("servfail", w.response("broken.example.org", "A", rcode=2)),
    ("rfc1918", w.response("nas.example.org", "A", [("nas.example.org", "A", 60, "10.0.0.5")])),
    ("rfc1918-192", w.response("cam.example.org", "A",
                               [("cam.example.org", "A", 60, "192.168.7.9")])),
    ("cgnat", w.response("cg.example.org", "A", [("cg.example.org", "A", 60, "100.64.1.1")])),
    ("loopback", w.response("lo.example.org", "A", [("lo.example.org", "A", 60, "127.0.0.1")])),
    ("linklocal", w.response("ll.example.org", "A", [("ll.example.org", "A", 60,
                                                       "169.254.3.4")])),
    ("documentation", w.response("doc.example.org", "A", [("doc.example.org", "A", 60,
                                                            "198.51.100.7")])),
    ("ula", w.response("ula.example.org", "AAAA", [("ula.example.org", "AAAA", 60,
                                                    "fd12:3456::1")])),
    ("v6-linklocal", w.response("l6.example.org", "AAAA", [("l6.example.org", "AAAA", 60,
                                                             "fe80::1")])),
    ("v6-doc", w.response("d6.example.org", "AAAA", [("d6.example.org", "AAAA", 60,
                                                       "2001:db8::5")])),
    ("mapped-private", w.response("m6.example.org", "AAAA", [("m6.example.org", "AAAA", 60,
                                                               "::ffff:10.1.1.1")])),
    ("local-zone", w.response("printer.local", "A", [("printer.local", "A", 60, "93.184.216.9")])),
    ("home-arpa", w.response("nas.home.arpa", "A", [("nas.home.arpa", "A", 60, "93.184.216.9")])),
    ("internal", w.response("git.corp.internal", "A", [("git.corp.internal", "A", 60,
                                                         "93.184.216.9")])),
    ("lan", w.response("box.lan", "A", [("box.lan", "A", 60, "93.184.216.9")])),
    ("configured-zone", w.response("wiki.intra.example.org", "A",
                                   [("wiki.intra.example.org", "A", 60, "93.184.216.9")])),
    ("single-label", w.response("wpad", "A", [("wpad", "A", 60, "93.184.216.9")])),
    ("cname-into-local", w.response("vpn.example.org", "CNAME",
                                    [("vpn.example.org", "CNAME", 60, "gw.corp.internal")])),
    ("mx-into-local", w.response("example.org", "MX", [("example.org", "MX", 60,
                                                         "10 mx.home.arpa")])),
    ("txt", w.response("example.org", "TXT", [("example.org", "TXT", 60, "v=spf1 -all")])),
    ("ptr", w.response("9.216.184.93.in-addr.arpa", "PTR",
                       [("9.216.184.93.in-addr.arpa", "PTR", 60, "host.example.org")])),
    ("reverse-private", w.response("5.0.0.10.in-addr.arpa", "PTR",
                                   [("5.0.0.10.in-addr.arpa", "PTR", 60, "nas.example.org")])),
    ("glue-only", w.response("example.org", "A", authority=[],
                             additional=[("ns.example.org", "A", 60, "93.184.216.77")])),
]
WILDCARD_RESPONSE = w.response("anything.example.org", "A",
                               [("anything.example.org", "A", 60, "93.184.216.66")])
CONTROL = w.response("www.example.org", "A", [("www.example.org", "A", 300, "93.184.216.34")])


def capture(path, with_control):
    pkts, t = [], T0
    for i, (_, msg) in enumerate(FORBIDDEN):
        for c in CLIENTS[: 1 + i % 4]:
            pkts.append((t, w.udp_packet(SERVER if ":" not in c else "2001:500:2f::f", c, 53,
                                         40000 + i, msg)))
            t += 0.25
    pkts.append((t, w.udp_packet(WILDCARD, CLIENTS[0], 53, 41000, WILDCARD_RESPONSE)))
    if with_control:
        pkts.append((t + 1, w.udp_packet(SERVER, CLIENTS[1], 53, 41001, CONTROL)))
    w.write_pcap(path, pkts)
    return len(pkts)


class PrivacyAudit(unittest.TestCase):
    def setUp(self):
        self.dir = pxtest.tmpdir("pdnsx-privacy-")
        self.broker = pxtest.Broker(topics=["pdnsx.obs.audit:4", "pdnsx.obs.control:4"])

    def tearDown(self):
        self.broker.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def run_producer(self, org, pcap):
        out = subprocess.run(pxtest.producer_cmd([
            'org="%s"' % org, "inputs=({type=\"pcap-file\"; path=\"%s\";})" % pcap,
            'kafka.brokers="%s"' % self.broker.bootstrap,
            'privacy.local_zones=["intra.example.org."]',
            'privacy.wildcard_servers=["%s"]' % WILDCARD, 'log.level="debug"']),
            capture_output=True, text=True, timeout=120)
        self.assertEqual(out.returncode, 0, out.stderr)
        return out.stderr

    def test_forbidden_capture_publishes_nothing(self):
        pcap = os.path.join(self.dir, "forbidden.pcap")
        n = capture(pcap, with_control=False)
        log = self.run_producer("audit", pcap)
        self.assertIn("responses %d " % n, log)
        # not even at debug level does a log line name a client
        for client in CLIENTS:
            self.assertNotIn(client, log)
        self.assertEqual(pxtest.read_topic_raw(self.broker.bootstrap, "pdnsx.obs.audit"), [])

    def test_control_answer_is_all_that_is_published(self):
        pcap = os.path.join(self.dir, "control.pcap")
        capture(pcap, with_control=True)
        self.run_producer("control", pcap)
        msgs = pxtest.read_topic_raw(self.broker.bootstrap, "pdnsx.obs.control")
        recs = pxtest.decode_messages(msgs)
        self.assertEqual([(r["rrname"], r["rrtype"], r["rdata"], r["count"]) for r in recs],
                         [("www.example.org", "A", "93.184.216.34", 1)])
        for bad in [c.encode() for c in CLIENTS] + [b"192.168.", b"2001:db8"]:
            for _, _, value in msgs:
                self.assertNotIn(bad, value)


if __name__ == "__main__":
    unittest.main(verbosity=2)
