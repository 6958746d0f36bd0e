"""pdnsx-scenario, the demo's federation (etc/demo/scenario/README.md).

- The same seed writes the same bytes (pcaps, lists, MMDBs); another seed
  other pcaps but the same stories.
- The real pdnsx-producer reads every organisation's pcap and publishes the
  scenario's names, and nothing the privacy rules forbid.
- The published observations have the shapes the detectors are made for
  (docs/DETECTION.md, the INTERFACE defaults): an oracle written here from
  the rules, run over what the producers published, finds exactly the bursts
  and the geo shift of expected-alerts.tsv, at their times, and none of the
  traps. The oracle is not the detector; it checks the data, so that a
  missing or extra alert in the end-to-end tests is the detector's doing.
- The MMDBs answer every published address as geoip.txt says (mmdblookup).
"""
import ipaddress
import json
import os
import shutil
import subprocess
import sys
import unittest
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pxtest  # noqa: E402

TOOL = os.path.join(pxtest.BIN, "pdnsx-scenario")
WRITER = os.path.join(pxtest.SRC, "tests", "geoip", "make-mmdb.pl")
ORGS = ["org-a", "org-b", "org-c", "org-d"]

# docs/INTERFACE.md defaults of detect.*, and a CDN bound: a name whose
# earlier answers span this many countries does not make a geo shift.
BURST_ORGS, BURST_WINDOW, NEW_FOR, WARMUP = 3, 3600, 86400, 604800
MIN_HISTORY, CDN_COUNTRIES = 604800, 4
LOCAL_SUFFIXES = (".local", ".localhost", ".internal", ".home.arpa", ".lan", ".corp")


def scenario(out, *args):
    return subprocess.run([TOOL, "-o", out, *args], capture_output=True, text=True, timeout=120)


def read_tsv(path):
    with open(path) as f:
        return [line.rstrip("\n").split("\t") for line in f if not line.startswith("#")]


def epoch(iso):
    return int(datetime.strptime(iso, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
               .timestamp())


def tools_present():
    have_perl = subprocess.run(["perl", "-MMaxMind::DB::Writer::Tree", "-e", "1"],
                               capture_output=True).returncode == 0
    return have_perl and shutil.which("mmdblookup") is not None


class Geo:
    """geoip.txt: address -> (country, asn)."""

    def __init__(self, path):
        self.nets = []
        for row in read_tsv(path):
            self.nets.append((ipaddress.ip_network(row[0]), row[1], int(row[2])))

    def __call__(self, addr):
        ip = ipaddress.ip_address(addr)
        for net, cc, asn in self.nets:
            if ip.version == net.version and ip in net:
                return cc, asn
        return None


def bursts(obs, known):
    """{registered domain: (time, orgs in the window)} by the burst rule."""
    start = min(o["time_first"] for o in obs)
    by_domain = {}
    for o in obs:
        by_domain.setdefault(o["_key"], []).append(o)
    found = {}
    for dom, seen in by_domain.items():
        if dom in known:
            continue
        seen.sort(key=lambda o: (o["time_first"], o["time_last"]))
        first, last = seen[0]["time_first"], {}
        for o in seen:
            t = o["time_first"]
            last[o["org"]] = max(last.get(o["org"], 0), o["time_last"])
            orgs = sorted(g for g, lt in last.items() if lt >= t - BURST_WINDOW)
            if len(orgs) >= BURST_ORGS and t - first < NEW_FOR and t - start >= WARMUP:
                found[dom] = (t, orgs)
                break
    return found


def geo_shifts(obs, geo):
    """{rrname: time} by the geo-shift rule, for A and AAAA answers."""
    by_name = {}
    for o in obs:
        if o["rrtype"] in ("A", "AAAA"):
            by_name.setdefault(o["rrname"], []).append(o)
    found = {}
    for name, seen in by_name.items():
        seen.sort(key=lambda o: o["time_first"])
        first, answers = seen[0]["time_first"], set()
        for o in seen:
            t, addr = o["time_first"], o["rdata"]
            if addr not in answers and answers and t - first >= MIN_HISTORY:
                before = {geo(a) for a in answers}
                cc, asn = geo(addr)
                if (len({b[0] for b in before}) < CDN_COUNTRIES
                        and cc not in {b[0] for b in before}
                        and asn not in {b[1] for b in before}):
                    found.setdefault(name, t)
            answers.add(addr)
    return found


class Scenario(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = pxtest.tmpdir("pdnsx-scenario-")
        cls.a = os.path.join(cls.dir, "a")
        cls.runs = {}
        cls.obs = None
        if tools_present():
            for name, args in (("a", []), ("b", []), ("seed2", ["--seed", "2"])):
                out = os.path.join(cls.dir, name)
                cls.runs[name] = scenario(out, "--mmdb-writer", WRITER, *args)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def setUp(self):
        pxtest.need_fixture(self, tools_present(),
                            "mmdblookup and MaxMind::DB::Writer (scripts/setup.sh)")
        for name, run in self.runs.items():
            self.assertEqual(run.returncode, 0, "%s: %s" % (name, run.stderr))

    def published(self):
        """Every organisation's pcap through the real producer; the
        observations of all topics, decoded with python3-avro."""
        if Scenario.obs is not None:
            return Scenario.obs
        broker = pxtest.Broker(topics=["pdnsx.obs.%s:4" % o for o in ORGS])
        try:
            def produce(org):
                return subprocess.run(pxtest.producer_cmd([
                    'org="%s"' % org,
                    'inputs=({type="pcap-file"; path="%s";})' % os.path.join(self.a,
                                                                              org + ".pcap"),
                    'kafka.brokers="%s"' % broker.bootstrap]),
                    capture_output=True, text=True, timeout=120)
            with ThreadPoolExecutor(len(ORGS)) as pool:
                for org, out in zip(ORGS, pool.map(produce, ORGS)):
                    self.assertEqual(out.returncode, 0, out.stderr)
                    self.assertIn("malformed 0)", out.stderr)
            obs = []
            for org in ORGS:
                recs = pxtest.decode_messages(
                    pxtest.read_topic_raw(broker.bootstrap, "pdnsx.obs." + org))
                self.assertTrue(recs, org)
                for r in recs:
                    self.assertEqual(r["org"], org)
                obs += recs
        finally:
            broker.close()
        Scenario.obs = obs
        return obs

    def test_same_seed_same_bytes(self):
        files = sorted(os.listdir(self.a))
        self.assertEqual(files, sorted(os.listdir(os.path.join(self.dir, "b"))))
        for f in ["org-%s.pcap" % c for c in "abcd"] + [
                "geoip.txt", "country.mmdb", "asn.mmdb", "brands.txt", "known-domains.csv",
                "expected-alerts.tsv", "traps.tsv"]:
            self.assertIn(f, files)
        for f in files:
            with open(os.path.join(self.a, f), "rb") as x, \
                    open(os.path.join(self.dir, "b", f), "rb") as y:
                self.assertEqual(x.read(), y.read(), f)
        # another seed: other traffic, the same stories
        other = os.path.join(self.dir, "seed2")
        with open(os.path.join(self.a, "org-a.pcap"), "rb") as x, \
                open(os.path.join(other, "org-a.pcap"), "rb") as y:
            self.assertNotEqual(x.read(), y.read())
        rows = [r[:3] for r in read_tsv(os.path.join(self.a, "expected-alerts.tsv"))]
        self.assertEqual(rows, [r[:3] for r in read_tsv(os.path.join(other,
                                                                     "expected-alerts.tsv"))])

    def test_options(self):
        out = os.path.join(self.dir, "opt")
        for bad in (["--orgs", "2"], ["--orgs", "27"], ["--days", "9"], ["--scale", "0"],
                    ["--start", "1793491201"], ["--seed", "x"], ["extra"]):
            run = scenario(out, *bad)
            self.assertEqual(run.returncode, 2, bad)
            self.assertIn("usage", run.stderr)
        self.assertEqual(subprocess.run([TOOL], capture_output=True).returncode, 2)
        # --scale grows the baseline and keeps the stories; --orgs 3 tells
        # them with three organisations
        small, big = scenario(out + "1"), scenario(out + "3", "--scale", "3", "--orgs", "3")
        self.assertEqual(small.returncode, 0, small.stderr)
        self.assertEqual(big.returncode, 0, big.stderr)
        def packets(run):
            return sum(int(line.split("\t")[1].split()[0]) for line in run.stdout.splitlines())
        self.assertGreater(packets(big) / 3, 2 * packets(small) / 4)  # per organisation
        self.assertEqual(sorted(os.listdir(out + "3")),
                         sorted(["org-a.pcap", "org-b.pcap", "org-c.pcap", "geoip.txt",
                                 "brands.txt", "known-domains.csv", "expected-alerts.tsv",
                                 "traps.tsv"]))
        self.assertEqual([r[:3] for r in read_tsv(os.path.join(out + "1",
                                                               "expected-alerts.tsv"))],
                         [r[:3] for r in read_tsv(os.path.join(out + "3",
                                                               "expected-alerts.tsv"))])

    def test_published_names_and_privacy(self):
        obs = self.published()
        names = {o["rrname"] for o in obs}
        keys = {o["_key"] for o in obs}
        for row in read_tsv(os.path.join(self.a, "expected-alerts.tsv")):
            self.assertIn(row[1], keys)
            self.assertIn(row[2], names)
        for name, why in read_tsv(os.path.join(self.a, "traps.tsv")):
            if why.startswith("privacy:"):
                self.assertNotIn(name, names, why)
                self.assertFalse(any(o["rdata"].endswith(name) for o in obs), why)
            else:
                self.assertTrue(name in names or name in keys, name)
        start = min(o["time_first"] for o in obs)
        end = max(o["time_last"] for o in obs)
        self.assertLess(start % 86400, 3600, "day 0 starts at midnight")
        self.assertLess(end - start, 10 * 86400)
        for o in obs:
            self.assertIn(o["rrtype"], ("A", "AAAA", "CNAME", "MX", "NS"))
            self.assertIn(".", o["rrname"], o)
            self.assertFalse(o["rrname"].endswith(LOCAL_SUFFIXES), o)
            if o["rrtype"] in ("A", "AAAA"):
                self.assertTrue(ipaddress.ip_address(o["rdata"]).is_global, o)
            else:
                self.assertFalse(o["rdata"].endswith(LOCAL_SUFFIXES), o)

    def test_mmdb_answers_every_address(self):
        geo = Geo(os.path.join(self.a, "geoip.txt"))
        addrs = sorted({o["rdata"] for o in self.published() if o["rrtype"] in ("A", "AAAA")})
        self.assertGreater(len(addrs), 50)

        def lookup(addr):
            cc = subprocess.run(["mmdblookup", "--file", os.path.join(self.a, "country.mmdb"),
                                 "--ip", addr, "country", "iso_code"], capture_output=True,
                                text=True)
            asn = subprocess.run(["mmdblookup", "--file", os.path.join(self.a, "asn.mmdb"),
                                  "--ip", addr, "autonomous_system_number"],
                                 capture_output=True, text=True)
            return (cc.stdout.split('"')[1] if '"' in cc.stdout else None,
                    int(asn.stdout.split()[0]) if asn.returncode == 0 else None)
        with ThreadPoolExecutor(4) as pool:
            for addr, got in zip(addrs, pool.map(lookup, addrs)):
                self.assertIsNotNone(geo(addr), addr)
                self.assertEqual(got, geo(addr), addr)

    def test_oracle_finds_the_expected_alerts_and_no_trap(self):
        obs = self.published()
        geo = Geo(os.path.join(self.a, "geoip.txt"))
        with open(os.path.join(self.a, "known-domains.csv")) as f:
            known = {line.strip().split(",")[1] for line in f
                     if line.strip() and not line.startswith("#")}
        expected = read_tsv(os.path.join(self.a, "expected-alerts.tsv"))
        want_bursts = {r[1]: r for r in expected if r[0] == "pdnsx.new_domain_burst"}
        want_geo = {r[2]: r for r in expected if r[0] == "pdnsx.geo_shift"}
        got_bursts, got_geo = bursts(obs, known), geo_shifts(obs, geo)
        self.assertEqual(sorted(got_bursts), sorted(want_bursts))
        self.assertEqual(sorted(got_geo), sorted(want_geo))
        for dom, (t, orgs) in got_bursts.items():
            row = want_bursts[dom]
            self.assertTrue(epoch(row[4]) <= t < epoch(row[5]), (dom, t, row))
            self.assertEqual(orgs, sorted(row[6].split(",")), dom)
        for name, t in got_geo.items():
            row = want_geo[name]
            self.assertTrue(epoch(row[4]) <= t < epoch(row[5]), (name, t, row))
        # without known-domains.csv, its entry is the only other burst
        self.assertEqual(sorted(set(bursts(obs, set())) - set(want_bursts)),
                         ["fieldnote-app.com"])
        # the bank's answers before and after: other country, other ASN
        bank = next(iter(want_geo))
        answers = {geo(o["rdata"]) for o in obs if o["rrname"] == bank and o["rrtype"] == "A"}
        self.assertEqual(len(answers), 2)
        self.assertEqual(len({a[0] for a in answers}), 2)
        self.assertEqual(len({a[1] for a in answers}), 2)
        # the CDN trap: six countries and networks before, a seventh after
        cdn = [o for o in obs if o["rrname"] == "edge.nimbus-stream.net"]
        self.assertEqual(len({geo(o["rdata"]) for o in cdn}), 7)
        print(json.dumps({"observations": len(obs), "bursts": got_bursts, "geo": got_geo}))


if __name__ == "__main__":
    unittest.main()
