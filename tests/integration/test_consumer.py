"""The central path end to end: producers of three organisations replay
captures with overlapping names -> Kafka (pdnsx-broker, or the real broker
with PDNSX_TEST_REAL=1) -> pdnsx-consumer (run.exit_idle) -> pdnsx-query.

What the consumer merged is checked against an independent merge, in
python, of what the producers published (decoded with python3-avro): counts
are exact sums, times min/max, orgs exact. A spoofed-org message and a
garbage message land in pdnsx.dlq with reasons and change nothing; a second
consumer run changes nothing; a consumer killed with SIGKILL mid-stream and
restarted counts nothing twice. GeoIP answers are checked against
mmdblookup on the same database."""
import json
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import io
import threading
import time
import unittest
import urllib.error
import urllib.request

import avro.io

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pxtest  # noqa: E402

REAL = os.environ.get("PDNSX_TEST_REAL") == "1"
GENCAP = os.path.join(os.path.dirname(pxtest.BIN), "bench", "pdnsx-gencap")
MAKE_MMDB = os.path.join(pxtest.SRC, "tests", "geoip", "make-mmdb.pl")
# A short group session for every consumer run. The mock cluster
# (pdnsx-broker) holds a member that left until its session expires, and
# delays a rebalance of a running group by the session less a second: with
# librdkafka's 45 s, a rerun in the same group and a topic created while
# the consumer runs each waited 44 s. 6 s is the broker's smallest allowed
# (group.min.session.timeout.ms); a restarted member gets a killed one's
# partitions as soon.
SESSION = ["-s", 'kafka.properties={ session = { timeout = { ms = 6000; }; }; }']


def gencap(workdir, name, n, seconds):
    """Same seed and name universe for every org: overlapping names, each
    org seeing them at its own times and counts."""
    path = os.path.join(workdir, name + ".pcap")
    subprocess.run([GENCAP, "-n", str(n), "-s", "77", "-N", "600", "-D", "120", "-c", "200",
                    "-t", str(seconds), "-o", path, "-d", path + ".dnstap"],
                   check=True, stdout=subprocess.DEVNULL, timeout=120)
    return path


def run(cmd, timeout=300):
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    return out


def query(store, *args):
    out = run([os.path.join(pxtest.BIN, "pdnsx-query"), "-s", 'store.path="%s"' % store]
              + list(args))
    if out.returncode != 0:
        raise AssertionError("pdnsx-query %s: %s" % (args, out.stderr))
    return [json.loads(line) for line in out.stdout.splitlines()]


def stop(proc, reader=None):
    """Kills a consumer a test left running (a failed check) and closes
    its stderr, once the thread reading it (if any) is done."""
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    if reader:
        reader.join(timeout=10)
    proc.stderr.close()


python_merge = pxtest.merge_records


def single_object(rec):
    schema = pxtest.load_schema()
    buf = io.BytesIO()
    avro.io.DatumWriter(schema).write(rec, avro.io.BinaryEncoder(buf))
    return (b"\xc3\x01" + struct.pack("<Q", pxtest.schema_fingerprint(schema))
            + buf.getvalue())


class ConsumerEndToEnd(unittest.TestCase):
    def setUp(self):
        if REAL:
            pxtest.need_fixture(self, os.environ.get("PDNSX_TEST_KAFKA"),
                                "a real Kafka broker (PDNSX_TEST_KAFKA; run under scripts/with-kafka.sh)")
        self.dir = pxtest.tmpdir("pdnsx-consumer-")
        self.broker = pxtest.Broker(real=REAL)
        self.run_id = pxtest.unique_org("c")
        self.orgs = ["%s-%s" % (self.run_id, o) for o in ("a", "b", "c")]

    def tearDown(self):
        self.broker.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def produce_all(self):
        sizes = {self.orgs[0]: (3000, 600), self.orgs[1]: (5000, 900),
                 self.orgs[2]: (2000, 300)}
        for org, (n, secs) in sizes.items():
            pcap = gencap(self.dir, org, n, secs)
            out = run(pxtest.producer_cmd([
                'org="%s"' % org, 'inputs=({type="pcap-file"; path="%s";})' % pcap,
                'kafka.brokers="%s"' % self.broker.bootstrap]))
            self.assertEqual(out.returncode, 0, out.stderr)
        published = []
        for org in self.orgs:
            published += pxtest.decode_messages(
                pxtest.read_topic_raw(self.broker.bootstrap, "pdnsx.obs." + org))
        return published

    def consumer_cmd(self, store, extra=()):
        return [os.path.join(pxtest.BIN, "pdnsx-consumer"),
                "-s", 'kafka.brokers="%s"' % self.broker.bootstrap,
                *pxtest.NO_CHANGELOG, "-s", 'kafka.group="%s"' % self.run_id,
                "-s", 'kafka.topics="^pdnsx\\\\.obs\\\\.%s-.+"' % self.run_id,
                "-s", 'store.path="%s"' % store, "-s", "run.exit_idle=4"] + SESSION + list(extra)

    def consumer(self, store, extra=(), wait=True):
        cmd = self.consumer_cmd(store, extra)
        if not wait:
            return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                    text=True)
        out = run(cmd, timeout=600)
        self.assertEqual(out.returncode, 0, out.stderr)
        return out

    def stored(self, store, names):
        """Everything the store holds for these names, via pdnsx-query: one
        wildcard query per top-level domain, plus the exact names."""
        got = {}
        for tld in sorted({n.rsplit(".", 1)[-1] for n in names}):
            for r in query(store, "rrset", "*." + tld):
                if r["rrname"] in names:
                    got[(r["rrname"], r["rrtype"], r["rdata"])] = r
        return got

    def test_merge_dlq_rerun(self):
        published = self.produce_all()
        expected = python_merge(published)
        names = {k[0] for k in expected}
        self.assertGreater(len([k for k, v in expected.items() if len(v["orgs"]) == 3]), 10,
                           "the captures must overlap")

        # a spoofed org and garbage, on org a's topic
        spoof = dict(published[0])
        for k in ("_key", "_partition"):
            spoof.pop(k)
        spoof["org"] = self.orgs[1]
        spoof["count"] = 1000000
        for name, body in (("spoof", single_object(spoof)), ("junk", b"\xc3\x01garbage!!")):
            path = os.path.join(self.dir, name)
            with open(path, "wb") as f:
                f.write(body)
            subprocess.run(["kcat", "-P", "-b", self.broker.bootstrap, "-t",
                            "pdnsx.obs." + self.orgs[0], "-k", name, path], check=True,
                           timeout=60)

        store = os.path.join(self.dir, "store")
        self.consumer(store)
        got = self.stored(store, names)
        self.assertEqual(set(got), set(expected))
        for k, e in expected.items():
            g = got[k]
            self.assertEqual(g["count"], e["count"], k)
            self.assertEqual(g["time_first"], e["time_first"], k)
            self.assertEqual(g["time_last"], e["time_last"], k)
            self.assertEqual(sorted(g["orgs"]), sorted(e["orgs"]), k)

        dlq = run(["kcat", "-C", "-b", self.broker.bootstrap, "-t", "pdnsx.dlq", "-e", "-o",
                   "beginning", "-f", "%k\t%h\n"], timeout=60)
        self.assertEqual(dlq.returncode, 0, dlq.stderr)
        lines = [l for l in dlq.stdout.splitlines() if l.strip()]
        mine = [l for l in lines if "pdnsx.obs." + self.orgs[0] in l]
        self.assertEqual(sorted(l.split("\t")[0] for l in mine), ["junk", "spoof"])
        self.assertTrue(any("org mismatch" in l for l in mine if l.startswith("spoof")))
        self.assertTrue(any("decode" in l for l in mine if l.startswith("junk")))

        # a second run over the same topics changes nothing
        self.consumer(store)
        self.assertEqual(self.stored(store, names), got)

    def test_kill_9_counts_nothing_twice(self):
        published = self.produce_all()
        expected = python_merge(published)
        names = {k[0] for k in expected}
        store = os.path.join(self.dir, "store")
        # the restarted member waits for the killed one's partitions until
        # the broker gives up on it (SESSION)
        proc, (mport,) = pxtest.serve(lambda port: self.consumer(
            store, ["-s", "store.batch_records=200",
                        "-s", 'metrics.listen="127.0.0.1:%d"' % port], wait=False))
        try:
            pxtest.wait_for(lambda: (pxtest.metric(mport, "pdnsx_consumer_batches_total")
                                     or 0) >= 2, 120, "some batches committed")
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            proc.stderr.close()
        self.consumer(store)
        got = self.stored(store, names)
        self.assertEqual({k: v["count"] for k, v in got.items()},
                         {k: v["count"] for k, v in expected.items()})

    def test_query_while_running_and_cluster(self):
        """pdnsx-query reads the store while the consumer writes, and
        --cluster over the consumer's query.listen gives the same answer."""
        published = self.produce_all()
        store = os.path.join(self.dir, "store")
        proc, (mport, qport) = pxtest.serve(lambda mp, qp: self.consumer(
            store, ["-s", "run.exit_idle=0", "-s", 'metrics.listen="127.0.0.1:%d"' % mp,
                    "-s", 'query.listen="127.0.0.1:%d"' % qp], wait=False), n_ports=2)
        try:
            pxtest.wait_for(lambda: pxtest.metric(mport, "pdnsx_consumer_merged_total")
                            == len(published), 120, "every message merged")
            for name in ("*.com", "*.net"):
                local = query(store, "rrset", name)
                self.assertTrue(local, name)
                remote = query(store, "--cluster", "127.0.0.1:%d" % qport, "rrset", name)
                key = lambda r: (r["rrname"], r["rrtype"], r["rdata"])  # noqa: E731
                self.assertEqual(sorted(remote, key=key), sorted(local, key=key))
            addr = next(r["rdata"] for r in published if r["rrtype"] == "A")
            self.assertTrue(query(store, "--cluster", "127.0.0.1:%d" % qport, "rdata", addr))

            # a new organisation's topic, created while the consumer runs,
            # is picked up (regex subscription, metadata refresh)
            late = "%s-d" % self.run_id
            pcap = gencap(self.dir, late, 500, 60)
            out = run(pxtest.producer_cmd([
                'org="%s"' % late, 'inputs=({type="pcap-file"; path="%s";})' % pcap,
                'kafka.brokers="%s"' % self.broker.bootstrap]))
            self.assertEqual(out.returncode, 0, out.stderr)
            n_late = len(pxtest.read_topic_raw(self.broker.bootstrap, "pdnsx.obs." + late))
            pxtest.wait_for(lambda: pxtest.metric(mport, "pdnsx_consumer_merged_total")
                            == len(published) + n_late, 120, "the new topic merged")
            self.assertTrue(any(late in r["orgs"] for r in query(store, "rrset", "*.com")))
            proc.send_signal(signal.SIGTERM)
            self.assertEqual(proc.wait(timeout=60), 0)
        finally:
            stop(proc)

    def publish(self, topic, keyed):
        """Publishes (key, observation dict) pairs with kcat, in order."""
        sep, ksep = b"@@PX-MSG@@", b"@@PX-KEY@@"
        body = b""
        for key, rec in keyed:
            val = single_object(rec)
            self.assertNotIn(sep, val)
            self.assertNotIn(ksep, val)
            body += key.encode() + ksep + val + sep
        out = subprocess.run(["kcat", "-P", "-b", self.broker.bootstrap, "-t", topic, "-p", "0",
                              "-D", sep.decode(), "-K", ksep.decode()], input=body,
                             capture_output=True, timeout=60)
        self.assertEqual(out.returncode, 0, out.stderr)

    def test_copartition_refused(self):
        """Organisation topics with unequal partition counts would split a
        domain over members: the consumer stops with exit status 1 and one
        error naming each topic with its count. On the real broker a
        running consumer stops when the odd topic appears; pdnsx-broker
        makes its topics at its start, so there the consumer does not start."""
        a, b, c = ("pdnsx.obs." + o for o in self.orgs)
        want = "co-partitioning broken: "
        counts = "3 partitions: %s; 2 partitions: %s, %s" % (c, a, b)
        store = os.path.join(self.dir, "store")
        if not REAL:
            self.broker.close()
            self.broker = pxtest.Broker(topics=["%s:2" % a, "%s:2" % b, "%s:3" % c])
            out = run(self.consumer_cmd(store, ["-s", "run.exit_idle=0"]), timeout=120)
            self.assertEqual(out.returncode, 1, out.stderr)
            self.assertIn(want, out.stderr)
            self.assertIn(counts, out.stderr)
            return
        topics = os.path.join(os.environ["PDNSX_TEST_KAFKA_BIN"], "kafka-topics.sh")

        def create(topic, n):
            out = run([topics, "--bootstrap-server", self.broker.bootstrap, "--create",
                       "--topic", topic, "--partitions", str(n), "--replication-factor", "1"],
                      timeout=120)
            self.assertEqual(out.returncode, 0, out.stderr)
        create(a, 2)
        create(b, 2)
        proc = self.consumer(store, ["-s", "run.exit_idle=0"], wait=False)
        lines = []
        reader = threading.Thread(target=lambda: lines.extend(proc.stderr), daemon=True)
        reader.start()
        try:
            pxtest.wait_for(lambda: sum("info: assigned " in x for x in list(lines)) == 4, 120,
                            "the four partitions assigned")
            create(c, 3)
            self.assertEqual(proc.wait(timeout=120), 1, "".join(lines))
            reader.join(timeout=10)
            errors = [x for x in lines if want in x]
            self.assertEqual(len(errors), 1, "".join(lines))
            self.assertIn(counts, errors[0])
            self.assertFalse(any("assigned " + c in x for x in lines), "".join(lines))
        finally:
            stop(proc, reader)

    def test_ports_picked_are_logged(self):
        """With port 0 the kernel picks the ports of metrics.listen and
        query.listen; the consumer says which ("metrics on HOST:PORT",
        "query endpoint on HOST:PORT") and serves there."""
        store = os.path.join(self.dir, "store")
        proc = self.consumer(store, ["-s", "run.exit_idle=0",
                                     "-s", 'metrics.listen="127.0.0.1:0"',
                                     "-s", 'query.listen="127.0.0.1:0"'], wait=False)
        lines = []
        reader = threading.Thread(target=lambda: lines.extend(proc.stderr), daemon=True)
        reader.start()
        try:
            def port(what):
                for line in list(lines):
                    m = re.search(r"info: %s on 127\.0\.0\.1:(\d+)$" % what, line.rstrip())
                    if m:
                        return int(m.group(1))
                return None
            pxtest.wait_for(lambda: port("metrics") and port("query endpoint"), 60,
                            "both ports logged")
            mport, qport = port("metrics"), port("query endpoint")
            self.assertNotEqual(mport, qport)
            self.assertIsNotNone(pxtest.metric(mport, "pdnsx_consumer_messages_total"))
            # no organisation topic exists: nothing is assigned, and a lookup
            # says so rather than answer empty (docs/INTERFACE.md, "Queries
            # across members")
            with urllib.request.urlopen("http://127.0.0.1:%d/partitions" % qport,
                                        timeout=10) as r:
                self.assertEqual(r.status, 200)
                self.assertEqual(json.loads(r.read())["owned"], [])
            with self.assertRaises(urllib.error.HTTPError) as e:
                urllib.request.urlopen("http://127.0.0.1:%d/rrset/nothing.example" % qport,
                                       timeout=10)
            self.assertEqual(e.exception.code, 503)
            self.assertIn(b'"error":"unassigned"', e.exception.read())
            proc.send_signal(signal.SIGTERM)
            self.assertEqual(proc.wait(timeout=60), 0)
        finally:
            stop(proc, reader)

    def test_trust_and_org_bound(self):
        """Through the real programs: records the producer's privacy rules
        forbid and implausible times are dead-lettered with their reason
        and never reach pdnsx-query; one organisation flooding new names is
        held to trust.org_new_records a minute (dead-lettered as org_rate,
        counted per organisation on /metrics) while another's all merge."""
        now = int(time.time())
        org_a, org_b = self.orgs[0], self.orgs[1]

        def rec(org, name, rrtype="A", rdata="93.184.216.34", first=now - 600, last=now - 540):
            return {"rrname": name, "rrtype": rrtype, "rdata": rdata, "bailiwick": None,
                    "count": 1, "time_first": first, "time_last": last, "ttl_min": 300,
                    "ttl_max": 300, "clients": None, "org": org, "sensor": "s1"}

        bad = [("root", rec(org_a, ".", "NS", "a.root-servers.net"), "invalid: name is the root"),
               ("com", rec(org_a, "com", "NS", "a.gtld-servers.net"),
                "invalid: single-label name"),
               ("co.uk", rec(org_a, "co.uk", "NS", "nsa.nic.uk"),
                "invalid: name is a public suffix"),
               ("corp", rec(org_a, "host.corp"), "invalid: name under a local zone"),
               ("printer", rec(org_a, "printer"), "invalid: single-label name"),
               ("rfc1918", rec(org_a, "nas.trust-test.example.com", rdata="10.0.0.1"),
                "invalid: private address 10.0.0.1"),
               ("type", rec(org_a, "www.trust-test.example.com", "TYPE65280", "\\# 0"),
                "invalid: rrtype TYPE65280 not accepted"),
               ("old", rec(org_a, "www.trust-test.example.com", first=1),
                "invalid: time_first 1 before the floor 1072915200"),
               ("future", rec(org_a, "www.trust-test.example.com", first=now - 60,
                              last=now + 3600), "invalid: time_last %d more than 300 s" % (now + 3600))]
        good = rec(org_a, "www.trust-test.example.com")
        flood = [("flood%d" % i, rec(org_a, "f%d.flood.example.net" % i)) for i in range(200)]
        calm = [("c%d" % i, rec(org_b, "c%d.calm.example.org" % i)) for i in range(25)]
        self.publish("pdnsx.obs." + org_a, [("good", good)] + [(k, r) for k, r, _ in bad] + flood)
        self.publish("pdnsx.obs." + org_b, calm)
        total = 1 + len(bad) + len(flood) + len(calm)

        store = os.path.join(self.dir, "store")
        mport = pxtest.free_port()
        proc = self.consumer(store, ["-s", "run.exit_idle=0", "-s", "trust.org_new_records=30",
                                     "-s", 'metrics.listen="127.0.0.1:%d"' % mport], wait=False)
        try:
            def done():
                try:
                    m = pxtest.metrics(mport)
                except OSError:  # not listening yet
                    return False
                return m.get("pdnsx_consumer_merged_total", 0) + sum(
                    v for k, v in m.items() if k.startswith("pdnsx_consumer_dlq_total")) == total
            pxtest.wait_for(done, 120, "every message merged or dead-lettered")
            m = pxtest.metrics(mport)
            proc.send_signal(signal.SIGTERM)
            self.assertEqual(proc.wait(timeout=60), 0)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            log = proc.stderr.read()
            proc.stderr.close()

        # org a's new records: 30 in a minute (60 if the run crossed a
        # minute's end), the good one among them
        flooded = query(store, "rrset", "*.flood.example.net")
        self.assertGreaterEqual(1 + len(flooded), 30)
        self.assertLessEqual(1 + len(flooded), 60)
        rated = len(flood) - len(flooded)
        self.assertEqual(m['pdnsx_consumer_dlq_total{reason="org_rate"}'], rated)
        self.assertEqual(
            m['pdnsx_consumer_org_new_records_rejected_total{org="%s"}' % org_a], rated)
        self.assertNotIn('pdnsx_consumer_org_new_records_rejected_total{org="%s"}' % org_b, m)
        self.assertEqual(len(query(store, "rrset", "*.calm.example.org")), len(calm))
        self.assertIn("org %s reached its bound of 30 new records this minute" % org_a, log)

        # the untrusted ones: dead-lettered with their reason, not stored
        self.assertEqual(m['pdnsx_consumer_dlq_total{reason="invalid"}'], len(bad))
        self.assertEqual(m['pdnsx_consumer_invalid_total{rule="public_suffix"}'], 2)
        self.assertEqual(m['pdnsx_consumer_invalid_total{rule="time_floor"}'], 1)
        for name in (".", "com", "co.uk", "host.corp", "printer", "nas.trust-test.example.com"):
            self.assertEqual(query(store, "rrset", name), [], name)
        www = query(store, "rrset", "www.trust-test.example.com")
        self.assertEqual([(r["rrtype"], r["time_first"], r["time_last"], r["count"]) for r in www],
                         [("A", now - 600, now - 540, 1)])
        # logged, but not once per record: a member could flood the log
        self.assertEqual(log.count("record refused, invalid: "), 1, log)
        dlq = run(["kcat", "-C", "-b", self.broker.bootstrap, "-t", "pdnsx.dlq", "-e", "-o",
                   "beginning", "-f", "%k\t%h\n"], timeout=60)
        self.assertEqual(dlq.returncode, 0, dlq.stderr)
        reasons = {}
        for line in dlq.stdout.splitlines():
            if "pdnsx.obs." + org_a not in line:
                continue
            key, _, headers = line.partition("\t")
            err = [h for h in headers.split(",") if h.startswith("pdnsx.error=")]
            reasons.setdefault(key, []).append(err[0][len("pdnsx.error="):])
        for key, _, why in bad:
            self.assertEqual(len(reasons.get(key, [])), 1, key)
            self.assertTrue(reasons[key][0].startswith(why), (key, reasons[key]))
        self.assertEqual(sum(1 for k in reasons if k.startswith("flood")), rated)

    def test_geoip_matches_mmdblookup(self):
        pxtest.need_fixture(self, os.path.exists(MAKE_MMDB), MAKE_MMDB)
        country = os.path.join(self.dir, "country.mmdb")
        asn = os.path.join(self.dir, "asn.mmdb")
        # wide blocks, so that the generator's random public addresses hit
        # (and some miss: 160.0.0.0/3 and most of IPv6 are unknown)
        desc = os.path.join(self.dir, "networks.txt")
        with open(desc, "w") as f:
            f.write("0.0.0.0/2 US 64500 Example One\n64.0.0.0/2 DE 64501 Beispiel Zwei\n"
                    "128.0.0.0/3 JP - -\n192.0.0.0/2 BR 64503 Exemplo Tres\n"
                    "2000::/5 FR 64504 Exemple Quatre\n")
        subprocess.run(["perl", MAKE_MMDB, "--desc", desc, "--country", country, "--asn", asn],
                       check=True, timeout=120)
        published = self.produce_all()
        store = os.path.join(self.dir, "store")
        self.consumer(store, ["-s", 'geoip.country="%s"' % country,
                              "-s", 'geoip.asn="%s"' % asn])
        names = {r["rrname"] for r in published if r["rrtype"] in ("A", "AAAA")}
        checked = known = 0
        for r in self.stored(store, names).values():
            if r["rrtype"] not in ("A", "AAAA"):
                continue
            look = run(["mmdblookup", "--file", country, "--ip", r["rdata"], "country",
                        "iso_code"])
            want = look.stdout.split('"')[1] if look.returncode == 0 and '"' in look.stdout \
                else None
            self.assertEqual(r.get("country"), want, r)
            look = run(["mmdblookup", "--file", asn, "--ip", r["rdata"],
                        "autonomous_system_number"])
            words = look.stdout.split()
            want_asn = int(words[0]) if look.returncode == 0 and words and \
                words[0].isdigit() else None
            self.assertEqual(r.get("asn"), want_asn, r)
            checked += 1
            known += want is not None
        self.assertGreater(checked, 50)
        self.assertGreater(known, 20)
        self.assertLess(known, checked)


if __name__ == "__main__":
    unittest.main(verbosity=2)
