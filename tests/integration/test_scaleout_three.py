"""Three pdnsx-consumer members on the real Kafka broker (issue 13, "What
must show it": the three-member test), with the changelog on (a
log-compacted topic of the test's, as many partitions as the
organisation topics), detection on and an alert file per member.

The stream is pdnsx-scenario's federation (etc/demo/scenario/README.md)
of five organisations, published by pdnsx-producer keyed by registered
domain: its stories make two new-domain bursts and a geo shift
(expected-alerts.tsv) and its traps nothing (traps.tsv; the test_scenario
oracle checks the data makes exactly those). The ground truth of the
records is what the producers published, read back from the topics
(count, first and last seen, organisations per record).

- Members m1, m2 and m3, each with its own store.path, merge the first
  four organisations' topics; the one owning the partition of the alerts'
  domains is killed with SIGKILL mid-stream (it has merged some, the group
  not all) and its disk lost; the other two take its partitions over,
  restoring them from the changelog.
- A new member m4 joins, and the fifth organisation's topic appears (made
  with the same partition count) while the members run (org-e is in no
  alerting story, which are org-a to org-d's, only in the baseline and the
  traps, so that its late event times change no alert); the members'
  pattern subscription picks the topic up and the group assigns its
  partition i to the member holding partition i of the others.
- At the end: the live members' GET /partitions own every partition
  exactly once, each member's topic partitions (its lag metrics) are
  exactly its partitions of every organisation topic, and its endpoint
  answers exactly the records of those; `pdnsx-query --cluster` over the
  live members answers exactly the ground truth; the members merged no
  observation twice (merged counters: restored, not read again); and the
  union of the four members' alerts.jsonl holds each expected alert
  exactly once (rule, domain, name, organisations, @timestamp within its
  bounds) and nothing else.

The alerts lie on the stream's last two days of event time, after the kill
(which comes at its start), so they are decided by the members that own
their partition then, on detection state the changelog carried over from
the killed member. About 30 s on 2 cores."""
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import unittest
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pxtest  # noqa: E402
import test_scenario as oracle  # noqa: E402  (the detection rules in python)

SCENARIO = os.path.join(pxtest.BIN, "pdnsx-scenario")
WRITER = os.path.join(pxtest.SRC, "tests", "geoip", "make-mmdb.pl")
PARTITIONS = 4
FIRST = ["org-a", "org-b", "org-c", "org-d"]
LATE = "org-e"
# librdkafka's 45 s session would hold the rebalance after the kill that
# long; 6 s is the broker's smallest allowed (group.min.session.timeout.ms).
# A member learns of a rebalance at its next heartbeat (3 s by default):
# the first member would merge that long alone before the others' join
# reached it.
SESSION = ('kafka.properties={ session = { timeout = { ms = 6000; }; }; '
           'heartbeat = { interval = { ms = 500; }; }; }')
# small store transactions: the stream takes many, so that the kill lands
# in its midst
BATCH = 100


def run(cmd, timeout=120):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def key(r):
    return (r["rrname"], r["rrtype"], r["rdata"])


def tools_missing():
    if not (os.environ.get("PDNSX_TEST_REAL") == "1" and os.environ.get("PDNSX_TEST_KAFKA")):
        return "a real Kafka broker (PDNSX_TEST_KAFKA; run under scripts/with-kafka.sh)"
    if subprocess.run(["perl", "-MMaxMind::DB::Writer::Tree", "-e", "1"],
                      capture_output=True).returncode != 0:
        return "MaxMind::DB::Writer (scripts/setup.sh)"
    return None


class ScaleoutThree(unittest.TestCase):
    def setUp(self):
        missing = tools_missing()
        pxtest.need_fixture(self, not missing, missing or "")
        self.dir = pxtest.tmpdir("pdnsx-three-")
        self.procs = {}
        self.logs = []
        self.broker = pxtest.Broker(real=True)
        self.run_id = pxtest.unique_org("three")
        self.sc = os.path.join(self.dir, "scenario")
        out = run([SCENARIO, "-o", self.sc, "-n", "5", "--mmdb-writer", WRITER])
        self.assertEqual(out.returncode, 0, out.stderr)
        self.changelog = "pdnsx.state." + self.run_id
        with open(os.path.join(self.sc, "brands.txt")) as f:
            brands = [b.strip() for b in f if b.strip() and not b.startswith("#")]
        self.detect = [
            "-s", 'geoip.country="%s"' % os.path.join(self.sc, "country.mmdb"),
            "-s", 'geoip.asn="%s"' % os.path.join(self.sc, "asn.mmdb"),
            "-s", "detect.brands=[%s]" % ",".join('"%s"' % b for b in brands),
            "-s", 'detect.known_domains="%s"' % os.path.join(self.sc, "known-domains.csv")]

    def tearDown(self):
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        for log in self.logs:
            log.close()
        self.broker.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    # ---- the topics and the stream ------------------------------------------------

    def topic(self, org):
        return "pdnsx.obs.%s-%s" % (self.run_id, org)

    def create_topics(self, names, compact=False):
        tool = os.path.join(os.environ["PDNSX_TEST_KAFKA_BIN"], "kafka-topics.sh")

        def create(name):
            cmd = [tool, "--bootstrap-server", self.broker.bootstrap, "--create", "--topic", name,
                   "--partitions", str(PARTITIONS), "--replication-factor", "1"]
            return run(cmd + (["--config", "cleanup.policy=compact"] if compact else []))
        with ThreadPoolExecutor(len(names)) as pool:
            for name, out in zip(names, pool.map(create, names)):
                self.assertEqual(out.returncode, 0, "%s: %s" % (name, out.stderr))

    def produce(self, orgs):
        """One pdnsx-producer per organisation on its scenario pcap."""
        def one(org):
            return run(pxtest.producer_cmd([
                'org="%s-%s"' % (self.run_id, org),
                'inputs=({type="pcap-file"; path="%s";})' % os.path.join(self.sc, org + ".pcap"),
                'kafka.brokers="%s"' % self.broker.bootstrap]), timeout=300)
        with ThreadPoolExecutor(len(orgs)) as pool:
            for org, out in zip(orgs, pool.map(one, orgs)):
                self.assertEqual(out.returncode, 0, "producer of %s: %s" % (org, out.stderr))
                self.assertIn("failed 0,", out.stderr, org)

    def truth(self, orgs):
        """What the producers published: per record its count, first and
        last seen and organisations, and its partition (the same in every
        topic: co-partitioned by registered domain); and the number of
        messages."""
        obs, part = [], {}
        for org in orgs:
            obs += pxtest.decode_messages(pxtest.read_topic_raw(self.broker.bootstrap,
                                                                self.topic(org)))
        for r in obs:
            self.assertEqual(part.setdefault(key(r), r["_partition"]), r["_partition"], r)
        self.assertEqual(set(part.values()), set(range(PARTITIONS)), "a partition got nothing")
        self.obs = obs
        return pxtest.merge_records(obs), part, len(obs)

    # ---- the members ------------------------------------------------------------------

    def member(self, name):
        """Starts member NAME (its own store, group instance id and alert
        file); returns its (query port, metrics port)."""
        store = self.store(name)
        log = open(os.path.join(self.dir, name + ".log"), "w+")
        self.logs.append(log)

        def start(qport, mport):
            return subprocess.Popen([
                os.path.join(pxtest.BIN, "pdnsx-consumer"),
                "-s", 'kafka.brokers="%s"' % self.broker.bootstrap,
                "-s", 'kafka.group="%s"' % self.run_id,
                "-s", 'kafka.group_instance_id="%s"' % name,
                "-s", 'kafka.topics="^pdnsx\\\\.obs\\\\.%s-.+"' % self.run_id,
                "-s", 'kafka.changelog_topic="%s"' % self.changelog,
                "-s", 'store.path="%s"' % store, "-s", "store.batch_records=%d" % BATCH,
                "-s", 'alerts.jsonl="%s"' % self.jsonl(name), "-s", "run.exit_idle=0",
                "-s", 'query.listen="127.0.0.1:%d"' % qport,
                "-s", 'metrics.listen="127.0.0.1:%d"' % mport, "-s", SESSION] + self.detect,
                stdout=subprocess.DEVNULL, stderr=log, text=True)
        try:
            proc, ports = pxtest.serve(start, n_ports=2)
        except AssertionError:
            log.seek(0)
            raise AssertionError("member %s did not start: %s" % (name, log.read()[-3000:]))
        self.procs[name] = proc
        return tuple(ports)

    def store(self, name):
        return os.path.join(self.dir, name)

    def jsonl(self, name):
        return os.path.join(self.dir, name + ".jsonl")

    def log_tail(self, name):
        with open(os.path.join(self.dir, name + ".log")) as f:
            return f.read()[-3000:]

    @staticmethod
    def get(port, path):
        """(status, body) of GET path on a member's port; None if it does
        not answer."""
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        try:
            conn.request("GET", path)
            r = conn.getresponse()
            return r.status, r.read().decode()
        except OSError:
            return None
        finally:
            conn.close()

    def partitions(self, qport):
        """A member's GET /partitions, or None."""
        got = self.get(qport, "/partitions")
        return json.loads(got[1]) if got and got[0] == 200 else None

    def owners(self, members):
        """The owned partitions of each member, or None unless each answered
        and they own every partition exactly once between them, each some."""
        parts = [self.partitions(q) for q, _ in members]
        if not all(p and p["partitions"] == PARTITIONS and not p["restoring"] for p in parts):
            return None
        owned = [set(p["owned"]) for p in parts]
        if not all(owned) or sorted(i for o in owned for i in o) != list(range(PARTITIONS)):
            return None
        return owned

    @staticmethod
    def topic_partitions(mport):
        """The (topic, partition) pairs a member has assigned: those of its
        pdnsx_consumer_lag_messages."""
        got = set()
        for name in pxtest.metrics(mport):
            m = re.match(r'pdnsx_consumer_lag_messages\{topic="([^"]+)",partition="(\d+)"\}$',
                         name)
            if m:
                got.add((m.group(1), int(m.group(2))))
        return got

    def cluster_answer(self, members, tlds):
        """Every record of these top-level domains through `pdnsx-query
        --cluster` over the members, or None if a lookup failed."""
        cluster = ",".join("127.0.0.1:%d" % q for q, _ in members)
        got = {}
        for tld in tlds:
            out = run([os.path.join(pxtest.BIN, "pdnsx-query"), "--limit", "1000000",
                       "--cluster", cluster, "rrset", "*." + tld])
            if out.returncode != 0:
                return None  # moved meanwhile, or restoring
            for line in out.stdout.splitlines():
                r = json.loads(line)
                self.assertNotIn(key(r), got, "a record twice in the answer")
                got[key(r)] = {"count": r["count"], "time_first": r["time_first"],
                               "time_last": r["time_last"], "orgs": set(r["orgs"])}
        return got

    # ---- the alerts -------------------------------------------------------------------

    def alerts(self, names):
        """The alerts in the members' alert files, in one list."""
        got = []
        for name in names:
            if os.path.exists(self.jsonl(name)):
                with open(self.jsonl(name), encoding="utf-8") as f:
                    text = f.read()
                self.assertTrue(text == "" or text.endswith("\n"), "a torn line in " + name)
                got += [json.loads(line) for line in text.splitlines()]
        return got

    def check_oracle(self, rows):
        """test_scenario's oracle of the rules, run over what the producers
        published (five organisations here, where test_scenario checks
        four), finds exactly the alerts of expected-alerts.tsv."""
        with open(os.path.join(self.sc, "known-domains.csv")) as f:
            known = {line.strip().split(",")[1] for line in f
                     if line.strip() and not line.startswith("#")}
        prefix = self.run_id + "-"
        got = {("pdnsx.new_domain_burst", dom): (t, [o[len(prefix):] for o in orgs])
               for dom, (t, orgs) in oracle.bursts(self.obs, known).items()}
        geo = oracle.Geo(os.path.join(self.sc, "geoip.txt"))
        got.update({("pdnsx.geo_shift", name): (t, None)
                    for name, t in oracle.geo_shifts(self.obs, geo).items()})
        want = {(r[0], r[1] if r[0] == "pdnsx.new_domain_burst" else r[2]): r for r in rows}
        self.assertEqual(sorted(got), sorted(want))
        for k, (t, orgs) in got.items():
            row = want[k]
            self.assertTrue(pxtest.epoch(row[4]) <= t < pxtest.epoch(row[5]), (k, t, row))
            if orgs is not None:
                self.assertEqual(orgs, sorted(row[6].split(",")), k)

    def check_alerts(self, alerts):
        """alerts are expected-alerts.tsv's, each once, and nothing else."""
        rows = pxtest.read_tsv(os.path.join(self.sc, "expected-alerts.tsv"))
        self.assertEqual(len(rows), 3)
        self.check_oracle(rows)

        def subject(a):
            return (a["rule"]["name"], a["dns"]["question"]["registered_domain"],
                    a["dns"]["question"]["name"])
        self.assertEqual(sorted(subject(a) for a in alerts), sorted(tuple(r[:3]) for r in rows))
        ids = [a["event"]["id"] for a in alerts]
        self.assertEqual(len(set(ids)), len(ids))
        prefix = self.run_id + "-"
        for a in alerts:
            row = next(r for r in rows if tuple(r[:3]) == subject(a))
            t = pxtest.epoch(a["@timestamp"])
            self.assertTrue(pxtest.epoch(row[4]) <= t < pxtest.epoch(row[5]), (t, row))
            orgs = {o[len(prefix):] for o in a["pdnsx"]["orgs"] if o.startswith(prefix)}
            self.assertEqual(len(orgs), len(a["pdnsx"]["orgs"]), a["pdnsx"]["orgs"])
            if row[0] == "pdnsx.geo_shift":
                # the organisations of the transaction that brought the new
                # answer: the crossing one, and those merged with it
                self.assertLessEqual(set(row[6].split(",")), orgs, a)
            else:
                self.assertEqual(orgs, set(row[6].split(",")), a)

    # ---- the test ---------------------------------------------------------------------

    def test_kill_join_new_topic(self):
        self.create_topics([self.topic(o) for o in FIRST])
        self.create_topics([self.changelog], compact=True)
        self.produce(FIRST)
        _, _, published = self.truth(FIRST)
        # the partition of the expected alerts' domains (murmur2 of the
        # registered domain, as the producers key them), and its messages
        hot = {pxtest.java_partition(r[1], PARTITIONS)
               for r in pxtest.read_tsv(os.path.join(self.sc, "expected-alerts.tsv"))}
        self.assertEqual(len(hot), 1, hot)
        hot = hot.pop()
        hot_msgs = sum(1 for o in self.obs if o["_partition"] == hot)

        with ThreadPoolExecutor(3) as pool:  # joining together
            m = dict(zip(("m1", "m2", "m3"), pool.map(self.member, ("m1", "m2", "m3"))))

        # the victim: the owner of the alerting partition once the group
        # shared the partitions out, when it has committed some of it
        # itself (its committed share grew) and at most 3/4 of it (in event
        # time the alerts lie beyond 4/5 of the stream: they are decided
        # after the kill, on the state its successor restores)
        first = {}

        def victim():
            parts = [self.partitions(q) for q, _ in m.values()]
            if not all(parts):
                return None
            name = next((n for n, p in zip(m, parts) if hot in p["owned"]), None)
            if not name or len(parts[list(m).index(name)]["owned"]) == PARTITIONS:
                return None
            lags = [v for k, v in pxtest.metrics(m[name][1]).items()
                    if k.startswith("pdnsx_consumer_lag_messages{") and
                    k.endswith(',partition="%d"}' % hot)]
            if len(lags) < len(FIRST):
                return None  # not fetched yet
            done = 1 - sum(lags) / hot_msgs
            self.assertLessEqual(done, 0.75, "%s merged partition %d too far before the group "
                                 "shared the partitions out" % (name, hot))
            return done > first.setdefault(name, done) and name
        dead = pxtest.wait_for(victim, 120, "m1, m2 and m3 share the partitions and the owner "
                               "of the alerting partition merged some of it", interval=0.01)
        before = pxtest.metric(m[dead][1], "pdnsx_consumer_merged_total")
        self.procs[dead].send_signal(signal.SIGKILL)
        self.procs[dead].wait()
        merged = sum(pxtest.metric(mp, "pdnsx_consumer_merged_total") for n, (_, mp) in m.items()
                     if n != dead) + before
        self.assertLess(merged, published, "the kill came after the stream was merged")
        shutil.rmtree(self.store(dead))  # the machine is gone with its disk
        del m[dead]
        pxtest.wait_for(lambda: self.owners(list(m.values())), 120,
                        "the others hold %s's partitions" % dead)

        # a new member, and a new organisation
        m["m4"] = self.member("m4")
        self.create_topics([self.topic(LATE)])
        self.produce([LATE])
        recs, part, published = self.truth(FIRST + [LATE])
        tlds = sorted({k[0].rsplit(".", 1)[-1] for k in recs})
        late_topic = self.topic(LATE)

        def settled():
            self.alive(m)
            owned = self.owners(list(m.values()))
            if not owned or not all((late_topic, p) in self.topic_partitions(mp)
                                    for o, (_, mp) in zip(owned, m.values()) for p in o):
                return False
            return self.cluster_answer(list(m.values()), tlds) == recs
        try:
            pxtest.wait_for(settled, 90, "every partition at one live member, the cluster "
                            "answer exact", interval=0.5)
        except AssertionError as e:
            raise AssertionError("%s\n%s" % (e, self.diagnose(m, recs, tlds))) from None

        # co-partitioned: each member has partition i of every organisation
        # topic for its partitions i, the late one too
        owned = self.owners(list(m.values()))
        topics = {self.topic(o) for o in FIRST + [LATE]}
        for o, (q, mp) in zip(owned, m.values()):
            self.assertEqual(self.topic_partitions(mp), {(t, p) for t in topics for p in o})
            # and answers exactly the records of its partitions
            self.assertEqual(self.endpoint_answer(q, tlds),
                             {k: v for k, v in recs.items() if part[k] in o})
        # restored, not read again: no observation merged twice (the dead
        # member's last scrape may miss its last commits: at most)
        self.assertGreater(sum(pxtest.metric(mp, "pdnsx_consumer_changelog_restored_rows_total")
                               for _, mp in m.values()), 0)
        merged = sum(pxtest.metric(mp, "pdnsx_consumer_merged_total") for _, mp in m.values())
        self.assertLessEqual(merged + before, published)

        # every alert delivered (the outboxes' file sinks caught up), each
        # once over the four members' files
        pxtest.wait_for(lambda: all(pxtest.metric(mp, 'pdnsx_alerts_outbox_depth{sink="jsonl"}')
                                    == 0 for _, mp in m.values()), 60, "the alert files caught up")
        self.assertEqual(self.alerts([dead]), [], "%s alerted before its kill" % dead)
        self.check_alerts(self.alerts(["m1", "m2", "m3", "m4"]))
        for name in m:
            self.procs[name].send_signal(signal.SIGTERM)
        for name in m:
            try:
                rc = self.procs[name].wait(timeout=60)
            except subprocess.TimeoutExpired:
                rc = "none 60 s after SIGTERM"
            self.assertEqual(rc, 0, "%s exit: %s\n%s" % (name, rc, self.log_tail(name)))

    def alive(self, names):
        """Fails at once, with its log, if a member exited."""
        for name in names:
            rc = self.procs[name].poll()
            if rc is not None:
                raise AssertionError("member %s exited %d:\n%s" % (name, rc, self.log_tail(name)))

    def diagnose(self, members, recs, tlds):
        """What the members say, for a failure's message."""
        lines = []
        for name, (q, mp) in members.items():
            try:
                parts = sorted(self.topic_partitions(mp))
            except OSError as e:
                parts = e
            lines.append("%s (exit %s): /partitions %s, topic partitions %s, merged %s" % (
                name, self.procs[name].poll(), self.partitions(q), parts,
                pxtest.metric(mp, "pdnsx_consumer_merged_total")))
        got = self.cluster_answer(list(members.values()), tlds)
        if got is not None:
            missing = [k for k in recs if k not in got]
            wrong = [(k, got[k], recs[k]) for k in recs if k in got and got[k] != recs[k]]
            extra = [k for k in got if k not in recs]
            lines.append("answer: %d missing (%s), %d wrong (%s), %d extra" % (
                len(missing), missing[:3], len(wrong), wrong[:3], len(extra)))
        for name in members:
            lines.append("%s log:\n%s" % (name, self.log_tail(name)))
        return "\n".join(lines)

    def endpoint_answer(self, qport, tlds):
        """One member's records of these top-level domains from its
        query.listen (GET /rrset/*.TLD: `--cluster` with one member refuses
        when it does not own every partition)."""
        got = {}
        for tld in tlds:
            status, body = self.get(qport, "/rrset/*.%s?limit=1000000" % tld)
            self.assertEqual(status, 200, body)
            for line in body.splitlines():
                r = json.loads(line)
                self.assertNotIn(key(r), got, "a record twice in one answer")
                got[key(r)] = {"count": r["count"], "time_first": r["time_first"],
                               "time_last": r["time_last"], "orgs": set(r["orgs"])}
        return got


if __name__ == "__main__":
    unittest.main()
