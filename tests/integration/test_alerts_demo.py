"""scripts/demo.sh on its non-interactive path (--bin: the built programs,
no setup.sh, no build; --geoip: a country database made here, no
download): the first part still merges and answers lookups, and the demo
ends with exactly the scenario's expected alerts (expected-alerts.tsv of
pdnsx-scenario's defaults), each printed with its severity, organisations,
look-alike (on the look-alike bursts only) and a pdnsx-query history that
shows the names behind it: the burst's names, the geo shift's old and new
answers."""
import os
import re
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pxtest  # noqa: E402

DEMO = os.path.join(pxtest.SRC, "scripts", "demo.sh")
WRITER = os.path.join(pxtest.SRC, "tests", "geoip", "make-mmdb.pl")


def read_tsv(path):
    with open(path) as f:
        return [line.rstrip("\n").split("\t") for line in f if not line.startswith("#")]


class Demo(unittest.TestCase):
    def setUp(self):
        have = subprocess.run(["perl", "-MMaxMind::DB::Writer::Tree", "-e", "1"],
                              capture_output=True).returncode == 0
        pxtest.need_fixture(self, have, "MaxMind::DB::Writer (scripts/setup.sh)")
        self.dir = pxtest.tmpdir("pdnsx-demo-")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def test_demo_ends_with_the_alerts(self):
        db = os.path.join(self.dir, "country.mmdb")
        subprocess.run(["perl", WRITER, "--country-key", "country_code", "--country", db],
                       check=True, capture_output=True, timeout=120)
        env = dict(os.environ, TMPDIR=self.dir)
        run = subprocess.run(["bash", DEMO, "--bin", pxtest.BIN, "--geoip", db],
                             capture_output=True, text=True, timeout=300, env=env)
        self.assertEqual(run.returncode, 0, run.stdout[-3000:] + run.stderr)
        text = re.sub(r"\x1b\[[0-9;]*m", "", run.stdout)

        # the first part: the bundled captures merged and looked up
        first = text.split("== pdnsx-query rrset download6.klisu.com\n", 1)
        self.assertEqual(len(first), 2, text[:3000])
        self.assertRegex(first[1], r"(?m)^download6\.klisu\.com +A ")

        # the same scenario as the demo's (the defaults write the same bytes)
        sc = os.path.join(self.dir, "scenario")
        subprocess.run([os.path.join(pxtest.BIN, "pdnsx-scenario"), "-o", sc], check=True,
                       capture_output=True, timeout=120)
        rows = read_tsv(os.path.join(sc, "expected-alerts.tsv"))

        self.assertIn("\n%d alerts\n" % len(rows), text)
        sections = text.split("\nALERT ")[1:]
        sections[-1] = sections[-1].split("\nGeoIP: ")[0]
        heads = [re.match(r"(\S+) (\S+) \(([^ )]+)", s).groups() for s in sections]
        self.assertEqual(sorted((r, d, n) for r, n, d in heads),
                         sorted(tuple(r[:3]) for r in rows))
        for section, (rule, name, domain) in zip(sections, heads):
            row = next(r for r in rows if r[0] == rule and r[2] == name)
            orgs = set(re.search(r"(?m)^  organisations: (.*)$", section).group(1).split(", "))
            if rule != "pdnsx.geo_shift":
                self.assertEqual(orgs, set(row[6].split(",")), section)
            self.assertRegex(section, r"(?m)^  at \S+, severity \d+, event\.id [0-9a-f]{32}$")
            self.assertIn("\n  $ pdnsx-query --after ", section)
            table = [line.split() for line in section.splitlines()
                     if line.startswith("    ") and line.split()[0] != "rrname"]
            if row[3] != "-":
                self.assertIn("  look-alike: of %s (" % row[3], section)
                # the names of the domain, and the one of the alert among them
                self.assertTrue(table, section)
                self.assertTrue(all(t[0].endswith("." + domain) for t in table), section)
                self.assertIn(name, [t[0] for t in table], section)
            else:
                self.assertNotIn("look-alike", section)
            if rule == "pdnsx.geo_shift":
                # the old answer and the new one, in their countries
                new = re.search(r"(?m)^  new answer A (\S+) in (\S+) ", section).groups()
                answers = {t[2]: t[-1] for t in table if t[0] == name and t[1] == "A"}
                self.assertIn(new[0], answers, section)
                # the organisations of the transaction that brought the new
                # answer (docs/DETECTION.md, "Event time"): the one that
                # crossed, and those merged with it, which saw it too
                saw = next(t[-2] for t in table if t[0] == name and t[2] == new[0])
                self.assertLessEqual(set(row[6].split(",")), orgs, section)
                self.assertLessEqual(orgs, set(saw.split(",")), section)
                self.assertTrue(answers[new[0]].startswith(new[1] + "/"), section)
                self.assertTrue(any(not v.startswith(new[1] + "/") for v in answers.values()),
                                section)


if __name__ == "__main__":
    unittest.main()
