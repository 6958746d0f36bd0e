"""Two pdnsx-consumer members in one group on the real Kafka broker (issue
13, item 1: state per partition), each with its own store.path and
kafka.group_instance_id, three organisations' topics of 4 partitions each
and a known stream (pdnsx-producer on generated captures, keyed by
registered domain).

(a) the data first, then the members (the second joining once the first
    merged everything), and (b) the members first, then the data: each
ends with every partition attached at exactly one member (its
store.path/partition-<i>/), `pdnsx-query --cluster` over both equal to the
ground truth exactly (count per record), and each member's local
pdnsx-query and query.listen endpoint (asked directly: `--cluster` with one
member refuses, the other's partitions being owned by none of those given)
answering exactly the records of the partitions it owns (the ground truth
knows each record's partition from the published messages): a member that
lost a partition does not answer for it. The members publish their stores'
changes to a changelog topic of the test's (log-compacted, 4 partitions),
so the new owner of a partition restores its store from it and reads none
of the input merged already:

(c) a member stopped, its store deleted, started again: it restores its
    partitions from the changelog, merges nothing again (its merged
    counter stays 0) and the cluster answer stays exact;
(d) a member killed (SIGKILL) mid-stream and a new member taking its
    partitions: it restores them, resumes from the restored offsets (it
    merges fewer than all the observations) and the answer is exact.
(Alerts are not checked here: records only.)"""
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pxtest  # noqa: E402

REAL = os.environ.get("PDNSX_TEST_REAL") == "1"
GENCAP = os.path.join(os.path.dirname(pxtest.BIN), "bench", "pdnsx-gencap")
PARTITIONS = 4
# librdkafka's 45 s session would hold a rebalance that long; 6 s is the
# broker's smallest allowed (group.min.session.timeout.ms)
SESSION = 'kafka.properties={ session = { timeout = { ms = 6000; }; }; }'


def run(cmd, timeout=300):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def key(r):
    return (r["rrname"], r["rrtype"], r["rdata"])


class PartitionStoresBase(unittest.TestCase):
    """The broker, topics, members and answers (test_partition_restore.py
    uses them too)."""
    # the changelog topic's configuration
    CHANGELOG_CONFIG = ("cleanup.policy=compact",)
    KAFKA_PROPERTIES = SESSION  # the members' kafka.properties

    def setUp(self):
        pxtest.need_fixture(self, REAL and os.environ.get("PDNSX_TEST_KAFKA"),
                            "a real Kafka broker (PDNSX_TEST_KAFKA; run under "
                            "scripts/with-kafka.sh)")
        self.dir = pxtest.tmpdir("pdnsx-pstores-")
        self.broker = pxtest.Broker(real=True)
        self.run_id = pxtest.unique_org("ps")
        self.orgs = ["%s-%s" % (self.run_id, o) for o in ("a", "b", "c")]
        self.procs = []
        topics = os.path.join(os.environ["PDNSX_TEST_KAFKA_BIN"], "kafka-topics.sh")
        for org in self.orgs:
            out = run([topics, "--bootstrap-server", self.broker.bootstrap, "--create",
                       "--topic", "pdnsx.obs." + org, "--partitions", str(PARTITIONS),
                       "--replication-factor", "1"], timeout=120)
            self.assertEqual(out.returncode, 0, out.stderr)
        self.changelog = "pdnsx.state." + self.run_id
        configs = []
        for c in self.CHANGELOG_CONFIG:
            configs += ["--config", c]
        out = run([topics, "--bootstrap-server", self.broker.bootstrap, "--create",
                   "--topic", self.changelog, "--partitions", str(PARTITIONS),
                   "--replication-factor", "1"] + configs, timeout=120)
        self.assertEqual(out.returncode, 0, out.stderr)

    def tearDown(self):
        for proc, log in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            log.close()
        self.broker.close()
        if not os.environ.get("PDNSX_TEST_KEEP"):  # the members' logs, to look at
            shutil.rmtree(self.dir, ignore_errors=True)

    def produce(self, sizes=(1500, 2500, 1000), seed=77):
        """Each organisation replays a capture of overlapping names; returns
        the ground truth of everything its topics hold: per record its
        count and partition."""
        for org, n in zip(self.orgs, sizes):
            path = os.path.join(self.dir, "%s-%d.pcap" % (org, seed))
            subprocess.run([GENCAP, "-n", str(n), "-s", str(seed), "-N", "400", "-D", "80", "-c",
                            "100", "-t", "300", "-o", path], check=True,
                           stdout=subprocess.DEVNULL, timeout=120)
            out = run(pxtest.producer_cmd([
                'org="%s"' % org, 'inputs=({type="pcap-file"; path="%s";})' % path,
                'kafka.brokers="%s"' % self.broker.bootstrap]))
            self.assertEqual(out.returncode, 0, out.stderr)
        truth, part = {}, {}
        self.published = 0
        for org in self.orgs:
            msgs = pxtest.read_topic_raw(self.broker.bootstrap, "pdnsx.obs." + org)
            self.published += len(msgs)
            for r in pxtest.decode_messages(msgs):
                k = key(r)
                truth[k] = truth.get(k, 0) + r["count"]
                # co-partitioning: a record's partition is the same in every topic
                self.assertEqual(part.setdefault(k, r["_partition"]), r["_partition"])
        self.assertEqual(set(part.values()), set(range(PARTITIONS)), "a partition got nothing")
        return truth, part

    def member(self, name, extra=(), static=True):
        """Starts a member (static: with kafka.group_instance_id, so that a
        restart keeps its partitions; else it leaves the group when it
        stops); returns (store path, query port, metrics port)."""
        store = os.path.join(self.dir, name)
        log = open(os.path.join(self.dir, name + ".log"), "w+")

        def start(qport, mport):
            return subprocess.Popen([
                os.path.join(pxtest.BIN, "pdnsx-consumer"),
                "-s", 'kafka.brokers="%s"' % self.broker.bootstrap,
                "-s", 'kafka.group="%s"' % self.run_id,
                "-s", 'kafka.group_instance_id="%s"' % (name if static else ""),
                "-s", 'kafka.topics="^pdnsx\\\\.obs\\\\.%s-.+"' % self.run_id,
                "-s", 'store.path="%s"' % store, "-s", "run.exit_idle=0",
                "-s", 'query.listen="127.0.0.1:%d"' % qport,
                "-s", 'metrics.listen="127.0.0.1:%d"' % mport, "-s", self.KAFKA_PROPERTIES,
                "-s", 'kafka.changelog_topic="%s"' % self.changelog] + list(extra),
                stdout=subprocess.DEVNULL, stderr=log, text=True)
        try:
            proc, (qport, mport) = pxtest.serve(start, n_ports=2)
        except AssertionError:
            log.seek(0)
            raise AssertionError("member %s did not start: %s" % (name, log.read()[-3000:]))
        self.procs.append((proc, log))
        return store, qport, mport

    @staticmethod
    def owned(store):
        """The partitions whose store is attached (store.path/partition-<i>/)."""
        if not os.path.isdir(store):
            return set()
        return {int(d[len("partition-"):]) for d in os.listdir(store)
                if d.startswith("partition-")}

    def answer(self, args, tlds):
        """Every record of these top-level domains, by pdnsx-query args."""
        got = {}
        for tld in tlds:
            out = run([os.path.join(pxtest.BIN, "pdnsx-query"), "--limit", "1000000"] + args
                      + ["rrset", "*." + tld])
            if out.returncode != 0:
                return None  # a member not serving yet
            for line in out.stdout.splitlines():
                r = json.loads(line)
                self.assertNotIn(key(r), got, "a record twice in one answer")
                got[key(r)] = r["count"]
        return got

    def endpoint_answer(self, qport, tlds):
        """Every record of these top-level domains from one member's
        query.listen (GET /rrset/*.TLD), None unless each answered 200."""
        got = {}
        for tld in tlds:
            conn = http.client.HTTPConnection("127.0.0.1", qport, timeout=60)
            try:
                conn.request("GET", "/rrset/*.%s?limit=1000000" % tld)
                r = conn.getresponse()
                body = r.read().decode()
            finally:
                conn.close()
            if r.status != 200:
                return None
            for line in body.splitlines():
                rec = json.loads(line)
                self.assertNotIn(key(rec), got, "a record twice in one answer")
                got[key(rec)] = rec["count"]
        return got

    def settle(self, members, truth):
        """Waits until every partition is at one member and the cluster
        answer over them is the ground truth."""
        tlds = sorted({k[0].rsplit(".", 1)[-1] for k in truth})
        cluster = ",".join("127.0.0.1:%d" % q for _, q, _ in members)

        def settled():
            owners = [self.owned(s) for s, _, _ in members]
            whole = sorted(p for o in owners for p in o) == list(range(PARTITIONS))
            return whole and all(owners) and self.answer(["--cluster", cluster], tlds) == truth
        pxtest.wait_for(settled, 300, "every partition at one member, the cluster answer exact",
                        interval=1.0)
        return tlds

    def check(self, members, truth, part):
        tlds = self.settle(members, truth)
        owners = [self.owned(s) for s, _, _ in members]
        self.assertEqual(owners[0] & owners[1], set(), owners)
        for (store, qport, _), mine in zip(members, owners):
            want = {k: c for k, c in truth.items() if part[k] in mine}
            self.assertTrue(want)
            local = self.answer(["-s", 'store.path="%s"' % store], tlds)
            self.assertEqual(local, want, "local answer of %s (partitions %s)" % (store, mine))
            remote = self.endpoint_answer(qport, tlds)
            self.assertEqual(remote, want, "endpoint of %s (partitions %s)" % (store, mine))
            out = run([os.path.join(pxtest.BIN, "pdnsx-query"), "--cluster",
                       "127.0.0.1:%d" % qport, "rrset", "*.com"])
            self.assertEqual(out.returncode, 1)
            self.assertIn("owned by none of the consumers given", out.stderr)
        for _, _, mport in members:  # exported (a refusal in a rebalance is harmless)
            have = pxtest.metrics(mport)
            for name in ("pdnsx_consumer_changelog_group_refused_total",
                         "pdnsx_consumer_changelog_producers_renewed_total"):
                self.assertIn(name, have)
        for proc, _ in self.procs:
            proc.send_signal(signal.SIGTERM)
        for proc, log in self.procs:
            self.assertEqual(proc.wait(timeout=120), 0, open(log.name).read()[-3000:])

    def stop(self, member):
        """SIGTERM to the process of member (exit 0 asserted)."""
        for proc, log in self.procs:
            if 'store.path="%s"' % member[0] in proc.args and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                self.assertEqual(proc.wait(timeout=120), 0, open(log.name).read()[-3000:])
                return
        raise AssertionError("no running process for " + member[0])


class PartitionStores(PartitionStoresBase):
    def test_data_first_then_members(self):
        truth, part = self.produce()
        first = self.member("m1")
        pxtest.wait_for(lambda: pxtest.metric(first[2], "pdnsx_consumer_merged_total")
                        == self.published, 180, "the first member merged everything")
        self.assertEqual(self.owned(first[0]), set(range(PARTITIONS)))
        second = self.member("m2")
        self.check([first, second], truth, part)
        # the partitions m1 gave away are kept aside, not answered for
        gone = set(range(PARTITIONS)) - self.owned(first[0])
        self.assertTrue(gone)
        for p in gone:
            self.assertTrue(os.path.isdir(os.path.join(first[0], "detached-%d" % p)))
        self.assertGroupCaughtUp()

    def assertGroupCaughtUp(self):
        """The group's committed offsets, as Kafka's own tool shows them,
        are the ends of every organisation topic's partitions: the members'
        changelog transactions commit them (their only commit with the
        changelog on), so they move with the stores."""
        tool = os.path.join(os.environ["PDNSX_TEST_KAFKA_BIN"], "kafka-consumer-groups.sh")
        out = run([tool, "--bootstrap-server", self.broker.bootstrap, "--describe", "--group",
                   self.run_id], timeout=120)
        self.assertEqual(out.returncode, 0, out.stderr)
        rows = {}
        for line in out.stdout.splitlines():
            f = line.split()
            if len(f) >= 6 and f[1].startswith("pdnsx.obs.") and f[3].isdigit():
                rows[(f[1], int(f[2]))] = (int(f[3]), int(f[4]))
        want = {("pdnsx.obs." + o, p) for o in self.orgs for p in range(PARTITIONS)}
        self.assertEqual(set(rows), want, out.stdout)
        for tp, (current, end) in rows.items():
            self.assertEqual(current, end, "%s: committed %d, end %d" % (tp, current, end))

    def test_members_first_then_data(self):
        members = [self.member("m1"), self.member("m2")]
        pxtest.wait_for(lambda: all(self.owned(s) for s, _, _ in members), 120,
                        "both members hold partitions")
        truth, part = self.produce()
        self.check(members, truth, part)

    def test_store_lost_restored_from_changelog(self):
        truth, part = self.produce()
        members = [self.member("m1"), self.member("m2")]
        self.settle(members, truth)
        second = members[1]
        self.assertGreater(sum(pxtest.metric(m[2], "pdnsx_consumer_changelog_rows_total")
                               for m in members), 0, "no store rows published")
        self.stop(second)
        shutil.rmtree(second[0])
        again = self.member("m2")
        self.settle([members[0], again], truth)
        restored = pxtest.metric(again[2], "pdnsx_consumer_changelog_restored_rows_total")
        self.assertGreater(restored, 0)
        self.assertEqual(pxtest.metric(again[2], "pdnsx_consumer_merged_total"), 0,
                         "the restored member merged observations again")
        self.assertEqual(pxtest.metric(again[2], "pdnsx_consumer_changelog_restoring_partitions"), 0)
        self.check([members[0], again], truth, part)

    def test_member_killed_mid_stream(self):
        truth, part = self.produce()
        first = self.member("m1", ["-s", "store.batch_records=100"])
        pxtest.wait_for(lambda: (pxtest.metric(first[2], "pdnsx_consumer_batches_total") or 0)
                        >= 3, 180, "some batches committed")
        proc = self.procs[-1][0]
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        shutil.rmtree(first[0])  # the machine is gone with its disk
        second = self.member("m2")
        pxtest.wait_for(lambda: self.owned(second[0]) == set(range(PARTITIONS)), 120,
                        "the new member holds every partition")
        tlds = sorted({k[0].rsplit(".", 1)[-1] for k in truth})
        pxtest.wait_for(lambda: self.answer(["--cluster", "127.0.0.1:%d" % second[1]], tlds)
                        == truth, 300, "the new member's answer exact", interval=1.0)
        self.assertGreater(pxtest.metric(second[2], "pdnsx_consumer_changelog_restored_rows_total"),
                           0)
        self.assertLess(pxtest.metric(second[2], "pdnsx_consumer_merged_total"), self.published,
                        "the new member read the whole input again")
        self.assertEqual(self.answer(["-s", 'store.path="%s"' % second[0]], tlds), truth)


if __name__ == "__main__":
    unittest.main()
