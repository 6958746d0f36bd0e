"""End to end with a real resolver: nsd (authoritative) and unbound
(recursive, dnstap to the producer's unix socket) on loopback, dnsperf
sending a known query mix over UDP and TCP from two client addresses, the
producer publishing to Kafka (pdnsx-broker, or the real broker with
PDNSX_TEST_REAL=1), python3-avro decoding what was published.

The same traffic, captured with tcpdump, is replayed through the pcap-file
input and must give the same records and counts."""
import os
import random
import shutil
import signal
import struct
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pxtest  # noqa: E402
from resolvers import Nsd, Unbound, dnsperf  # noqa: E402

REAL = os.environ.get("PDNSX_TEST_REAL") == "1"

# (name, type, queries over UDP from 127.0.0.2, queries over TCP from 127.0.0.3)
MIX = [
    ("www.example.com", "A", 40, 10),
    ("www.example.com", "AAAA", 20, 5),
    ("example.com", "MX", 10, 2),
    ("example.com", "NS", 5, 1),
    ("alias.example.com", "A", 8, 2),
    ("multi.example.com", "A", 6, 0),
    ("api.example.net", "A", 7, 3),
    ("api.example.net", "AAAA", 4, 0),
    # everything below must publish nothing
    ("priv.example.com", "A", 5, 1),
    ("doc.example.com", "A", 3, 0),
    ("ula.example.com", "AAAA", 3, 0),
    ("intra.example.com", "A", 4, 1),
    ("host.corp.internal", "A", 3, 0),
    ("nonexistent.example.com", "A", 6, 1),
    ("example.com", "TXT", 4, 0),
    ("localhost", "A", 2, 0),
]

UDP_CLIENT, TCP_CLIENT = "127.0.0.2", "127.0.0.3"

# Asked once more over UDP at least two seconds after the mix began: its
# record's time_last must move to this later query (and time_first stay).
LATE = ("www.example.com", "A", 1, 0)
LATE_KEY = ("www.example.com", "A", "93.184.216.34")


def expected_records():
    """(rrname, rrtype, rdata) -> (count, clients) the mix must publish."""
    exp = {}

    def add(key, udp, tcp):
        c, cl = exp.get(key, (0, set()))
        cl = set(cl)
        if udp:
            cl.add(UDP_CLIENT)
        if tcp:
            cl.add(TCP_CLIENT)
        exp[key] = (c + udp + tcp, cl)

    www_a = LATE_KEY
    for name, qtype, udp, tcp in MIX + [LATE]:
        if (name, qtype) == ("www.example.com", "A"):
            add(www_a, udp, tcp)
        elif (name, qtype) == ("www.example.com", "AAAA"):
            add(("www.example.com", "AAAA", "2606:2800:220:1:248:1893:25c8:1946"), udp, tcp)
        elif (name, qtype) == ("example.com", "MX"):
            add(("example.com", "MX", "10 mail.example.com"), udp, tcp)
        elif (name, qtype) == ("example.com", "NS"):
            add(("example.com", "NS", "ns1.example.com"), udp, tcp)
        elif name == "alias.example.com":
            add(("alias.example.com", "CNAME", "www.example.com"), udp, tcp)
            add(www_a, udp, tcp)
        elif name == "multi.example.com":
            add(("multi.example.com", "A", "151.101.1.69"), udp, tcp)
            add(("multi.example.com", "A", "151.101.65.69"), udp, tcp)
        elif (name, qtype) == ("api.example.net", "A"):
            add(("api.example.net", "A", "104.16.132.229"), udp, tcp)
        elif (name, qtype) == ("api.example.net", "AAAA"):
            add(("api.example.net", "AAAA", "2606:4700::6810:84e5"), udp, tcp)
    return {k: (c, len(cl)) for k, (c, cl) in exp.items()}


FORBIDDEN = [b"10.1.2.3", b"192.0.2.10", b"fd00::1", b"corp.internal", b"nonexistent",
             b"v=spf1", b"localhost", b"127.0.0.", b"priv.example", b"doc.example",
             b"ula.example", b"intra.example"]


def queries(which):
    """The query list for one transport, in a fixed shuffled order."""
    qs = []
    for name, qtype, udp, tcp in MIX:
        qs += [(name, qtype)] * (udp if which == "udp" else tcp)
    random.Random(42).shuffle(qs)
    return qs


class Capture:
    """tcpdump on loopback, for the pcap replay half of the test."""

    def __init__(self, path, port):
        self.path = path
        # Immediate mode gives each packet a ring slot of snaplen bytes: a
        # small snaplen and a large buffer keep the kernel from dropping.
        self.proc = subprocess.Popen(["tcpdump", "-i", "lo", "-n", "-U", "--immediate-mode",
                                      "-s", "4096", "-B", "65536", "-w", path,
                                      "port %d" % port],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        line = self.proc.stderr.readline()
        if "listening" not in line:
            raise AssertionError("tcpdump did not start: " + line)

    def close(self):
        self.proc.send_signal(signal.SIGINT)
        err = self.proc.communicate(timeout=30)[1]
        return err


def udp_responses_in_pcap(path, port):
    """Counts UDP packets from `port` in a pcap file (Linux loopback =
    Ethernet link type with zero MACs)."""
    n = 0
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        return 0
    off = 24
    while off + 16 <= len(data):
        incl = struct.unpack_from("<I", data, off + 8)[0]
        pkt = data[off + 16: off + 16 + incl]
        off += 16 + incl
        if len(pkt) < 14 + 28:
            continue
        ethertype = struct.unpack_from(">H", pkt, 12)[0]
        if ethertype == 0x0800 and pkt[14 + 9] == 17:
            ihl = (pkt[14] & 0x0F) * 4
            sport = struct.unpack_from(">H", pkt, 14 + ihl)[0]
            if sport == port:
                n += 1
    return n


class ResolverEndToEnd(unittest.TestCase):
    def setUp(self):
        if REAL:
            pxtest.need_fixture(self, os.environ.get("PDNSX_TEST_KAFKA"),
                                "a real Kafka broker (PDNSX_TEST_KAFKA; run under scripts/with-kafka.sh)")
        self.dir = pxtest.tmpdir("pdnsx-resolver-")
        self.broker = pxtest.Broker(real=REAL)
        self.nsd = Nsd(self.dir)
        self.closers = [self.broker.close, self.nsd.close]

    def tearDown(self):
        for close in reversed(self.closers):
            try:
                close()
            except Exception as e:  # keep cleaning up
                print("cleanup:", e, file=sys.stderr)
        shutil.rmtree(self.dir, ignore_errors=True)

    def start_producer(self, org, inputs, extra=()):
        self.prod_log = open(os.path.join(self.dir, "producer-%s.log" % org), "w")

        def start(port):
            cmd = pxtest.producer_cmd([
                'org="%s"' % org, 'sensor="itest"', "inputs=(%s)" % inputs,
                'kafka.brokers="%s"' % self.broker.bootstrap,
                'metrics.listen="127.0.0.1:%d"' % port,
                # one window per UTC day: the run stays in one unless it
                # crosses midnight (then per-window figures are merged)
                "window.seconds=86400", 'log.level="debug"'] + list(extra))
            return subprocess.Popen(cmd, stdout=self.prod_log, stderr=subprocess.STDOUT)
        proc, (self.metrics_port,) = pxtest.serve(start)
        return proc

    def producer_log(self):
        with open(self.prod_log.name) as f:
            return f.read()

    def published(self, org):
        msgs = pxtest.read_topic_raw(self.broker.bootstrap, "pdnsx.obs." + org)
        for _, _, value in msgs:
            for bad in FORBIDDEN:
                self.assertNotIn(bad, value, "forbidden content published")
        return msgs, pxtest.decode_messages(msgs)

    def check_records(self, recs, org, t0, t1, with_clients):
        exp = expected_records()
        got = pxtest.sum_by_key(recs)
        got3 = {(k[0], k[1], k[2]): v for k, v in got.items()}
        self.assertEqual(sorted(got3), sorted(exp), "published keys")
        for key, (count, clients) in exp.items():
            r = got3[key]
            self.assertEqual(r["count"], count, key)
            self.assertIsNone(r["bailiwick"])
            self.assertGreaterEqual(r["time_first"], int(t0))
            self.assertLessEqual(r["time_last"], int(t1) + 1)
            self.assertLessEqual(r["time_first"], r["time_last"])
        for r in recs:
            self.assertEqual(r["org"], org)
            self.assertEqual(r["sensor"], "itest")
            reg = ".".join(r["rrname"].split(".")[-2:])
            self.assertEqual(r["_key"], reg)
            self.assertEqual(r["_partition"], pxtest.java_partition(r["_key"], 4))
            self.assertLessEqual(r["ttl_min"], r["ttl_max"])
            if with_clients:
                # one window holds the whole run unless it crossed an hour
                exp_cl = exp[(r["rrname"], r["rrtype"], r["rdata"])][1]
                self.assertLessEqual(r["clients"], exp_cl)
                self.assertGreaterEqual(r["clients"], 1)
            else:
                self.assertIsNone(r["clients"])
        return got3

    def check_times_move(self, got, t0, t_late):
        """The record asked in the mix and again at t_late (seconds later):
        time_first from the mix, time_last from the late query."""
        r = got[LATE_KEY]
        self.assertGreaterEqual(r["time_last"], int(t_late), "time_last did not move forward")
        self.assertLessEqual(r["time_first"], int(t0) + 1)
        self.assertLess(r["time_first"], r["time_last"])

    def check_two_clients(self, *runs):
        """Every record both clients asked reads 2 distinct clients, in at
        least one of the runs (see the test for why not in every one); in
        each run all of them read the same."""
        two = [k for k, (_, cl) in expected_records().items() if cl == 2]
        self.assertGreater(len(two), 3)
        per_run = []
        for got in runs:
            values = {got[k]["clients"] for k in two}
            self.assertEqual(len(values), 1, "records asked by the same two clients: %s"
                             % {k: got[k]["clients"] for k in two})
            per_run.append(values.pop())
        self.assertIn(2, per_run, "two clients asked, the runs counted %s" % per_run)

    def test_dnstap_and_pcap_give_the_same_records(self):
        org = pxtest.unique_org("resolver")
        sock = os.path.join(self.dir, "dnstap.sock")
        prod = self.start_producer(org, '{type="dnstap-unix"; path="%s";}' % sock)
        self.closers.append(lambda: prod.poll() is None and prod.kill())
        pxtest.wait_for(lambda: os.path.exists(sock), 20, "dnstap socket")
        unbound = Unbound(self.dir, self.nsd.port, sock)
        self.closers.append(unbound.close)
        cap = Capture(os.path.join(self.dir, "traffic.pcap"), unbound.port)
        t0 = time.time()
        sent_udp, done_udp = dnsperf(unbound.port, queries("udp"), "udp", UDP_CLIENT)
        sent_tcp, done_tcp = dnsperf(unbound.port, queries("tcp"), "tcp", TCP_CLIENT)
        # the late query: two whole seconds after the mix began
        pxtest.wait_for(lambda: time.time() >= int(t0) + 3, 10, "two seconds to pass")
        t_late = time.time()
        late = dnsperf(unbound.port, [LATE[:2]], "udp", UDP_CLIENT)
        t1 = time.time()
        self.assertEqual((sent_udp, done_udp), (len(queries("udp")),) * 2)
        self.assertEqual((sent_tcp, done_tcp), (len(queries("tcp")),) * 2)
        self.assertEqual(late, (1, 1))
        done_udp += 1
        total = done_udp + done_tcp
        want_records = sum(c for c, _ in expected_records().values())
        # unbound's dnstap is buffered: wait until the producer has them all
        # (the fixture's readiness probe adds a response or two, whose SOA
        # answer the filter drops, so records are the exact measure).
        pxtest.wait_for(lambda: (pxtest.metric(self.metrics_port, "pdnsx_records_total") or 0)
                        >= want_records and
                        pxtest.metric(self.metrics_port, "pdnsx_responses_total") >= total,
                        60, "all %d responses via dnstap" % total)
        try:
            pxtest.wait_for(lambda: udp_responses_in_pcap(cap.path, unbound.port) >= done_udp,
                            30, "tcpdump to write every UDP response")
        except AssertionError:
            raise AssertionError("tcpdump wrote %d of %d UDP responses" % (
                udp_responses_in_pcap(cap.path, unbound.port), done_udp))
        unbound.close()  # closes its TCP connections: FINs are in the capture
        self.assertIn("\n0 packets dropped by kernel", cap.close())
        prod.send_signal(signal.SIGTERM)
        self.assertEqual(prod.wait(timeout=60), 0, self.producer_log())

        _, recs = self.published(org)
        dnstap_got = self.check_records(recs, org, t0, t1, with_clients=True)
        self.check_times_move(dnstap_got, t0, t_late)
        www = dnstap_got[LATE_KEY]
        # Asked from two clients (UDP from 127.0.0.2, TCP from 127.0.0.3).
        # The estimate is exact unless the two keyed client hashes share
        # one of the 64 bits of the window's client map, which happens in
        # one run in 64 (the key is random per run): then it reads 1, for
        # every record (the same two hashes). The pcap replay below draws
        # its own key: both runs reading 1 is one chance in 4096.
        self.assertIn(www["clients"], (1, 2))
        self.assertEqual(dnstap_got[("api.example.net", "AAAA", "2606:4700::6810:84e5")]
                         ["clients"], 1)

        # The pcap of the same traffic, replayed through the pcap-file input.
        # Unbound listened on a free port; a sensor on a span port sees 53
        # (DNS over TCP is reassembled only on port 53), so move it there.
        pcap53 = os.path.join(self.dir, "traffic53.pcap")
        subprocess.run(["tcprewrite", "--portmap=%d:53" % unbound.port, "--fixcsum",
                        "-i", cap.path, "-o", pcap53], check=True)
        org2 = pxtest.unique_org("pcap")
        prod2 = self.start_producer(org2, '{type="pcap-file"; path="%s";}' % pcap53)
        self.assertEqual(prod2.wait(timeout=120), 0, self.producer_log())
        _, recs2 = self.published(org2)
        pcap_got = self.check_records(recs2, org2, t0, t1, with_clients=True)
        self.check_times_move(pcap_got, t0, t_late)
        self.check_two_clients(dnstap_got, pcap_got)
        for key, r in dnstap_got.items():
            p = pcap_got[key]
            self.assertEqual(p["count"], r["count"], key)
            # clients: each run draws its own client key, so two clients
            # may share a bit in one run and not the other (see above);
            # check_records held both runs to 1..expected.
            self.assertLessEqual(abs(p["time_first"] - r["time_first"]), 1)
            self.assertLessEqual(abs(p["time_last"] - r["time_last"]), 1)

    def test_resolver_responses_carry_bailiwick(self):
        org = pxtest.unique_org("bailiwick")
        sock = os.path.join(self.dir, "dnstap.sock")
        prod = self.start_producer(org, '{type="dnstap-unix"; path="%s";}' % sock)
        self.closers.append(lambda: prod.poll() is None and prod.kill())
        pxtest.wait_for(lambda: os.path.exists(sock), 20, "dnstap socket")
        unbound = Unbound(self.dir, self.nsd.port, sock, client=False, resolver=True)
        self.closers.append(unbound.close)
        qs = [("www.example.com", "A"), ("api.example.net", "AAAA"), ("priv.example.com", "A")]
        sent, done = dnsperf(unbound.port, qs)
        self.assertEqual(done, len(qs))
        # one upstream response per query (nothing was cached), plus the
        # SOA probe the fixture sent while waiting for unbound
        pxtest.wait_for(lambda: (pxtest.metric(self.metrics_port, "pdnsx_responses_total")
                                 or 0) >= len(qs), 60, "resolver responses")
        unbound.close()
        prod.send_signal(signal.SIGTERM)
        self.assertEqual(prod.wait(timeout=60), 0, self.producer_log())
        _, recs = self.published(org)
        got = pxtest.sum_by_key(recs)
        www = got[("www.example.com", "A", "93.184.216.34", "example.com")]
        self.assertEqual(www["count"], 1)
        self.assertIsNone(www["clients"])  # the resolver is no client
        self.assertIn(("api.example.net", "AAAA", "2606:4700::6810:84e5", "example.net"), got)
        for (name, _, _, bw) in got:
            self.assertTrue(name == bw or name.endswith("." + bw), (name, bw))


if __name__ == "__main__":
    unittest.main(verbosity=2)
