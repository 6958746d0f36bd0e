"""Detection end to end on the real Kafka broker (PDNSX_TEST_KAFKA, run under
scripts/with-kafka.sh): pdnsx-scenario's federation (etc/demo/scenario/
README.md) -> one pdnsx-producer per organisation reading its pcap ->
Kafka -> pdnsx-consumer with the scenario's MMDBs, brands and known
domains -> the alert sinks.

- All three sinks: the JSON-lines file, the alert topic read back over the
  Kafka protocol (kcat) and Debian's rsyslog on loopback (TCP here, UDP in
  the replay) carry exactly the alerts of expected-alerts.tsv (rule,
  registered domain, name, organisations, @timestamp within its bounds),
  none of traps.tsv, the same event.id and the same JSON everywhere, and
  `pdnsx.lookalike` on the look-alike bursts only; `pdnsx-query alerts`
  lists the same.
- Crash: the consumer killed with SIGKILL once the alerts are decided (in
  the outbox, seen with `pdnsx-query alerts`) and before the file and
  syslog sinks could deliver (the file on a full disk, /dev/full; rsyslog
  not started); restarted with them working, it delivers each alert once to
  the file, and to the topic and rsyslog with the same event.id and JSON.
- Replay: the same topics into a fresh store (a new group) give the same
  alerts: same event.id, same JSON.

Each organisation's topic carries the run's id (a real broker keeps its
topics between tests): org "RUN-org-a" publishes org-a.pcap."""
import json
import os
import shutil
import signal
import subprocess
import sys
import unittest
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pxtest  # noqa: E402
import rsyslogd  # noqa: E402

SCENARIO = os.path.join(pxtest.BIN, "pdnsx-scenario")
WRITER = os.path.join(pxtest.SRC, "tests", "geoip", "make-mmdb.pl")
ORGS = ["org-a", "org-b", "org-c", "org-d"]
RULES = ("pdnsx.new_domain_burst", "pdnsx.geo_shift")
# a short session: a restarted member gets the killed one's partitions soon
SESSION = 'kafka.properties={ session = { timeout = { ms = 6000; }; }; }'


read_tsv, epoch = pxtest.read_tsv, pxtest.epoch


def syslog_severity(event_severity):
    """docs/ALERT-SINKS.md: ArcSight's bands to syslog severities."""
    for top, sev in ((3, 5), (6, 4), (8, 3)):
        if event_severity <= top:
            return sev
    return 2


def tools_missing():
    if not os.environ.get("PDNSX_TEST_KAFKA"):
        return "a real Kafka broker (PDNSX_TEST_KAFKA; run under scripts/with-kafka.sh)"
    if subprocess.run(["perl", "-MMaxMind::DB::Writer::Tree", "-e", "1"],
                      capture_output=True).returncode != 0:
        return "MaxMind::DB::Writer (scripts/setup.sh)"
    if not shutil.which("kcat"):
        return "kcat (scripts/setup.sh)"
    if not rsyslogd.present():
        return "rsyslogd (scripts/setup.sh)"
    return None


class AlertsKafka(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.missing = tools_missing()
        if cls.missing:
            return
        cls.dir = pxtest.tmpdir("pdnsx-alerts-")
        cls.sc = os.path.join(cls.dir, "scenario")
        out = subprocess.run([SCENARIO, "-o", cls.sc, "--mmdb-writer", WRITER],
                             capture_output=True, text=True, timeout=120)
        if out.returncode != 0:
            raise AssertionError("pdnsx-scenario: " + out.stderr)
        cls.bootstrap = os.environ["PDNSX_TEST_KAFKA"]
        cls.run_id = pxtest.unique_org("al")

        def produce(org):
            return subprocess.run(pxtest.producer_cmd([
                'org="%s-%s"' % (cls.run_id, org),
                'inputs=({type="pcap-file"; path="%s";})' % os.path.join(cls.sc, org + ".pcap"),
                'kafka.brokers="%s"' % cls.bootstrap]), capture_output=True, text=True,
                timeout=300)
        with ThreadPoolExecutor(len(ORGS)) as pool:
            for org, out in zip(ORGS, pool.map(produce, ORGS)):
                if out.returncode != 0 or "failed 0," not in out.stderr:
                    raise AssertionError("producer of %s: %s" % (org, out.stderr))
        with open(os.path.join(cls.sc, "brands.txt")) as f:
            brands = [b.strip() for b in f if b.strip() and not b.startswith("#")]
        cls.detect = [
            "-s", 'geoip.country="%s"' % os.path.join(cls.sc, "country.mmdb"),
            "-s", 'geoip.asn="%s"' % os.path.join(cls.sc, "asn.mmdb"),
            "-s", "detect.brands=[%s]" % ",".join('"%s"' % b for b in brands),
            "-s", 'detect.known_domains="%s"' % os.path.join(cls.sc, "known-domains.csv")]

    @classmethod
    def tearDownClass(cls):
        if not cls.missing:
            shutil.rmtree(cls.dir, ignore_errors=True)

    def setUp(self):
        pxtest.need_fixture(self, not self.missing, self.missing or "")
        self.work = pxtest.tmpdir("pdnsx-alerts-t-")
        self.syslogs = []

    def tearDown(self):
        for r in self.syslogs:
            r.stop()
        shutil.rmtree(self.work, ignore_errors=True)

    # ---- the programs --------------------------------------------------------------

    def consumer_cmd(self, name, jsonl, topic=None, syslog=None, extra=()):
        """The consumer of group RUN-NAME into store WORK/NAME, with the
        scenario's detection settings and the given sinks. topic None: the
        default alert topic (pdnsx.alerts)."""
        cmd = [os.path.join(pxtest.BIN, "pdnsx-consumer"),
               "-s", 'kafka.brokers="%s"' % self.bootstrap,
               *pxtest.NO_CHANGELOG, "-s", 'kafka.group="%s-%s"' % (self.run_id, name),
               "-s", 'kafka.topics="^pdnsx\\\\.obs\\\\.%s-.+"' % self.run_id,
               "-s", 'store.path="%s"' % self.store(name),
               "-s", 'alerts.jsonl="%s"' % jsonl, "-s", SESSION] + self.detect
        if topic is not None:
            cmd += ["-s", 'alerts.kafka_topic="%s"' % topic]
        if syslog:
            cmd += ["-s", 'alerts.syslog="%s"' % syslog]
        return cmd + list(extra)

    def consume(self, *args, **kw):
        """One consumer run to the end (run.exit_idle: every message merged
        and every sink caught up with the outbox)."""
        cmd = self.consumer_cmd(*args, **kw) + ["-s", "run.exit_idle=4"]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertNotIn("alerts wait", out.stderr)
        return out.stderr

    def store(self, name):
        return os.path.join(self.work, name)

    def outbox(self, name, fail=True):
        """`pdnsx-query alerts` of a store: the alert JSON objects, in seq
        order (newest last); None if it fails and not fail (a store the
        consumer is still creating)."""
        if fail:
            return self.query(name, "alerts")
        out = subprocess.run([os.path.join(pxtest.BIN, "pdnsx-query"),
                              "-s", 'store.path="%s"' % self.store(name), "alerts"],
                             capture_output=True, text=True, timeout=60)
        return [json.loads(line) for line in out.stdout.splitlines()] if out.returncode == 0 \
            else None

    def query(self, name, *args):
        out = subprocess.run([os.path.join(pxtest.BIN, "pdnsx-query"),
                              "-s", 'store.path="%s"' % self.store(name)] + list(args),
                             capture_output=True, text=True, timeout=60)
        self.assertEqual(out.returncode, 0, out.stderr)
        return [json.loads(line) for line in out.stdout.splitlines()]

    def topic(self, topic):
        """The alert topic read back over the Kafka protocol: (key, JSON
        text) of this run's alerts (a topic shared with other runs holds
        theirs too: their organisations carry other ids)."""
        out = subprocess.run(["kcat", "-C", "-b", self.bootstrap, "-t", topic, "-e", "-q",
                              "-o", "beginning", "-f", "%k\t%s\n"], capture_output=True,
                             text=True, timeout=120)
        self.assertEqual(out.returncode, 0, out.stderr)
        msgs = []
        for line in out.stdout.splitlines():
            key, _, value = line.partition("\t")
            if all(o.startswith(self.run_id + "-") for o in json.loads(value)["pdnsx"]["orgs"]):
                msgs.append((key, value))
        return msgs

    def syslog(self):
        r = rsyslogd.Rsyslog(pxtest.tmpdir("pdnsx-alerts-syslog-"))
        self.syslogs.append(r)
        self.addCleanup(shutil.rmtree, r.dir, True)
        return r

    @staticmethod
    def lines(path):
        with open(path, encoding="utf-8") as f:
            text = f.read()
        assert text.endswith("\n"), "a torn last line"
        return text.splitlines()

    # ---- the checks ----------------------------------------------------------------

    def check_expected(self, alerts, store):
        """alerts (JSON objects) are exactly expected-alerts.tsv's, and no
        trap of traps.tsv; store: the consumer's that raised them."""
        rows = read_tsv(os.path.join(self.sc, "expected-alerts.tsv"))
        subject = lambda a: (a["rule"]["name"], a["dns"]["question"]["registered_domain"],  # noqa
                             a["dns"]["question"]["name"])
        self.assertEqual(sorted(subject(a) for a in alerts), sorted(tuple(r[:3]) for r in rows))
        ids = [a["event"]["id"] for a in alerts]
        self.assertEqual(len(set(ids)), len(ids))
        for a in alerts:
            row = next(r for r in rows if tuple(r[:3]) == subject(a))
            ev, ev_pdnsx = a["event"], a["pdnsx"]
            self.assertRegex(ev["id"], "^[0-9a-f]{32}$")
            self.assertEqual(ev["kind"], "alert")
            t = epoch(a["@timestamp"])
            self.assertTrue(epoch(row[4]) <= t < epoch(row[5]), (a["@timestamp"], row))
            prefix = self.run_id + "-"
            self.assertTrue(all(o.startswith(prefix) for o in ev_pdnsx["orgs"]), ev_pdnsx)
            orgs = {o[len(prefix):] for o in ev_pdnsx["orgs"]}
            if row[0] == "pdnsx.geo_shift":
                # the organisations of the transaction that brought the new
                # answer (docs/DETECTION.md, "Event time"): the one that
                # crossed, and those merged with it, which saw it too
                new = ev_pdnsx["new_answers"][0]
                saw = [r["orgs"] for r in self.query(store, "rrset", row[2], new["type"])
                       if r["rdata"] == new["rdata"]]
                self.assertEqual(len(saw), 1, new)
                self.assertLessEqual(set(row[6].split(",")), orgs, a)
                self.assertLessEqual(orgs, {o[len(prefix):] for o in saw[0]}, a)
            else:
                self.assertEqual(orgs, set(row[6].split(",")), a)
            if row[3] != "-":
                self.assertEqual(ev_pdnsx["lookalike"]["brand"], row[3], a)
                self.assertGreater(ev["severity"], 2, "a look-alike raises the severity")
            else:
                self.assertNotIn("lookalike", ev_pdnsx, a)
            if row[0] == "pdnsx.geo_shift":
                before, after = ev_pdnsx["before"], ev_pdnsx["after"]
                new = ev_pdnsx["new_answers"][0]
                self.assertNotIn(new["country"], before["countries"])
                self.assertEqual(sorted(after["countries"]),
                                 sorted(before["countries"] + [new["country"]]))
                self.assertNotIn(new["asn"], before["asns"])
        for trap, why in read_tsv(os.path.join(self.sc, "traps.tsv")):
            for a in alerts:
                q = a["dns"]["question"]
                self.assertNotIn(trap, (q["name"], q["registered_domain"]), why)

    def check_syslog(self, records, by_id, transport):
        """Each rsyslog record is one of the alerts (by_id: event.id -> JSON
        text), its PRI from event.severity, MSGID its rule, MSG its JSON."""
        for f in records:
            self.assertEqual(f[rsyslogd.INPUT], transport)
            a = json.loads(f[rsyslogd.MSG])
            text = by_id.get(a["event"]["id"])
            self.assertIsNotNone(text, f)
            self.assertEqual(f[rsyslogd.MSG], text)
            self.assertEqual(f[rsyslogd.MSGID], a["rule"]["name"])
            self.assertEqual(int(f[rsyslogd.PRI]), 4 * 8 + syslog_severity(a["event"]["severity"]))

    # ---- the tests -----------------------------------------------------------------

    def test_every_sink_gets_exactly_the_expected_alerts(self):
        rs = self.syslog()
        rs.start()
        jsonl = os.path.join(self.work, "alerts.jsonl")
        self.consume("sinks", jsonl, syslog=rs.url("tcp"))

        lines = self.lines(jsonl)
        alerts = [json.loads(line) for line in lines]
        self.check_expected(alerts, "sinks")
        by_id = {a["event"]["id"]: line for a, line in zip(alerts, lines)}
        self.assertEqual(len(by_id), len(lines), "each alert once in the file")
        # the outbox, newest last, is what the file holds, in its order
        self.assertEqual(self.outbox("sinks"), alerts)
        # the topic: each alert once, keyed by its registered domain
        msgs = self.topic("pdnsx.alerts")
        self.assertEqual(sorted(v for _, v in msgs), sorted(lines))
        for key, value in msgs:
            self.assertEqual(key, json.loads(value)["dns"]["question"]["registered_domain"])
        # rsyslog over TCP: each alert once
        pxtest.wait_for(lambda: len(rs.records()) >= len(lines), 60, "the alerts at rsyslog")
        recs = rs.records()
        self.assertEqual(sorted(f[rsyslogd.MSG] for f in recs), sorted(lines))
        self.check_syslog(recs, by_id, "imtcp")

    def test_kill_9_between_decision_and_delivery(self):
        # the file's disk is full: every write fails (the consumer opens
        # it at start, so it must open)
        jsonl = os.path.join(self.work, "alerts.jsonl")
        os.symlink("/dev/full", jsonl)
        topic = "pdnsx.alerts.%s-crash" % self.run_id
        rs = self.syslog()  # not started: TCP connects fail
        n = len(read_tsv(os.path.join(self.sc, "expected-alerts.tsv")))
        proc = subprocess.Popen(self.consumer_cmd("crash", jsonl, topic, rs.url("tcp"),
                                                  ["-s", "run.exit_idle=0"]),
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            def decided():
                if proc.poll() is not None:
                    raise AssertionError("the consumer exited: " + proc.stderr.read())
                return len(self.outbox("crash", fail=False) or ()) >= n
            pxtest.wait_for(decided, 180, "the alerts decided (in the outbox)")
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            proc.stderr.close()
        decided = self.outbox("crash")
        self.check_expected(decided, "crash")
        self.assertEqual(rs.records(), [])

        os.unlink(jsonl)  # space again
        rs.start()
        self.consume("crash", jsonl, topic, rs.url("tcp"))
        # nothing decided twice; each alert once in the file, in outbox order
        self.assertEqual(self.outbox("crash"), decided)
        lines = self.lines(jsonl)
        self.assertEqual([json.loads(line) for line in lines], decided)
        by_id = {a["event"]["id"]: line for a, line in zip(decided, lines)}
        # the topic: each alert, a copy (sent before the kill, its cursor
        # not yet recorded) with the same event.id and JSON
        msgs = self.topic(topic)
        self.assertEqual({json.loads(v)["event"]["id"] for _, v in msgs}, set(by_id))
        for _, value in msgs:
            self.assertEqual(value, by_id[json.loads(value)["event"]["id"]])
        pxtest.wait_for(lambda: {json.loads(f[rsyslogd.MSG])["event"]["id"]
                                 for f in rs.records()} == set(by_id), 60,
                        "every alert at rsyslog")
        self.check_syslog(rs.records(), by_id, "imtcp")

    def test_replay_into_a_fresh_store(self):
        rs = self.syslog()
        rs.start()
        rs.wait_udp()
        first, second = (os.path.join(self.work, n + ".jsonl") for n in ("first", "second"))
        self.consume("first", first, "pdnsx.alerts.%s-first" % self.run_id, rs.url("udp"))
        # the same topics again, a new group into a fresh store (a geo
        # shift's organisations are those of the transaction that brought
        # the new answer, docs/DETECTION.md: the same settings, so that a
        # backlog merges alike)
        self.consume("second", second, "pdnsx.alerts.%s-second" % self.run_id)
        # and cut into other transactions: the partitions, read unevenly,
        # are aligned in event time (kafka.align_seconds, 60 by default), so the merge
        # order and the alerts do not depend on the cuts
        third = os.path.join(self.work, "third.jsonl")
        self.consume("third", third, extra=["-s", "store.batch_records=5000"])
        a, b = self.lines(first), self.lines(second)
        self.check_expected([json.loads(line) for line in a], "first")
        self.assertEqual(sorted(a), sorted(b), "same event.id, same JSON")
        self.assertEqual(sorted(a), sorted(self.lines(third)),
                         "store.batch_records=5000: same event.id, same JSON")
        self.assertEqual(sorted(json.dumps(x, sort_keys=True) for x in self.outbox("first")),
                         sorted(json.dumps(x, sort_keys=True) for x in self.outbox("second")))
        self.assertEqual(sorted(v for _, v in self.topic("pdnsx.alerts.%s-second" %
                                                         self.run_id)), sorted(b))
        # rsyslog over UDP (the first run's)
        by_id = {json.loads(line)["event"]["id"]: line for line in a}
        pxtest.wait_for(lambda: len(rs.records()) >= len(a), 60, "the alerts at rsyslog")
        self.assertEqual(sorted(f[rsyslogd.MSG] for f in rs.records()), sorted(a))
        self.check_syslog(rs.records(), by_id, "imudp")


if __name__ == "__main__":
    unittest.main()
