"""A partition's restore from the changelog runs on its own thread (issue
13: "the restore does not hold up the partitions it kept"), on the real
Kafka broker, two members in one group, the changelog on
(test_partition_stores.py's set-up).

(a) m1 and m2 merge a stream; m2 leaves; m1 gains m2's partitions, whose
    changelog it restores. The restore is made to take seconds by the
    broker itself: the changelog topic has small segments (a fetch reads
    one segment) and a client quota throttles the restore's reader
    (client.id pdnsx-consumer-state-restore) to a few KiB/s; the members'
    own consumer is not throttled. While
    pdnsx_consumer_changelog_restoring_partitions says the gained
    partitions restore, a second stream is produced and m1 merges the
    kept partitions' part of it (its merged counter rises by exactly
    that), answers a lookup of a new record of a kept partition, refuses
    with 503 "restoring" one that routes to a restoring partition, and
    /partitions lists them as restoring. Then m2 comes back: the
    rebalance revokes the restores running (cancelled and joined), the
    quota goes, and once every restore ended `pdnsx-query --cluster` over
    both is the ground truth of both streams exactly, each member answers
    for its own partitions only, every message of the second stream was
    merged once (by one of them) and none of the first again, and both
    exit 0 on SIGTERM.
(b) a store written with the changelog off (data, no changelog position)
    is not restored into: it is moved aside (set-aside-<p>.1/, a warning
    names it) and the partition restored into a new store; the answer is
    exact (not the two mixed). That member reads without the alignment in
    event time (kafka.align_seconds=0), so that both ways a paused
    partition's input is held back and resumed are run."""
import http.client
import json
import os
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pxtest  # noqa: E402
from test_partition_stores import PARTITIONS, PartitionStoresBase, key, run  # noqa: E402

RESTORE_CLIENT = "pdnsx-consumer-state-restore"


def get(port, path):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, r.read().decode()
    finally:
        conn.close()


class PartitionRestore(PartitionStoresBase):
    # a fetch reads one segment: small ones make the restore fetch many
    # times, each throttled by the quota (a compacted topic's segments
    # are rolled as they fill)
    CHANGELOG_CONFIG = ("cleanup.policy=compact", "segment.bytes=16384")
    # the changelog's batches fit a segment (Kafka refuses a bigger one)
    KAFKA_PROPERTIES = ("kafka.properties={ session = { timeout = { ms = 6000; }; }; "
                        "batch = { size = 8192; }; }")

    def quota(self, rate):
        """consumer_byte_rate of the restore's reader (None: removed)."""
        configs = os.path.join(os.environ["PDNSX_TEST_KAFKA_BIN"], "kafka-configs.sh")
        change = (["--add-config", "consumer_byte_rate=%d" % rate] if rate
                  else ["--delete-config", "consumer_byte_rate"])
        out = run([configs, "--bootstrap-server", self.broker.bootstrap, "--alter",
                   "--entity-type", "clients", "--entity-name", RESTORE_CLIENT] + change,
                  timeout=120)
        self.assertEqual(out.returncode, 0, out.stderr)

    def tearDown(self):
        if getattr(self, "quota_set", False):
            self.quota(None)  # the broker is the run's: other tests restore too
        super().tearDown()

    def kept_messages(self, kept):
        """How many messages the organisation topics hold in partitions kept."""
        return sum(1 for org in self.orgs
                   for _, p, _ in pxtest.read_topic_raw(self.broker.bootstrap,
                                                        "pdnsx.obs." + org) if p in kept)

    def test_restore_beside_the_kept_partitions(self):
        m1 = self.member("m1")
        m2 = self.member("m2", static=False)  # leaves the group at once when stopped
        pxtest.wait_for(lambda: self.owned(m1[0]) and self.owned(m2[0]), 120,
                        "both members hold partitions")
        truth1, part = self.produce()
        self.settle([m1, m2], truth1)
        kept = self.owned(m1[0])
        gained = set(range(PARTITIONS)) - kept
        self.assertTrue(kept and gained, kept)

        self.quota(1024)
        self.quota_set = True
        before = pxtest.metric(m1[2], "pdnsx_consumer_merged_total")
        self.stop(m2)
        pxtest.wait_for(lambda: pxtest.metric(
            m1[2], "pdnsx_consumer_changelog_restoring_partitions") == len(gained), 60,
            "m1 restoring the partitions it gained")
        # the endpoint takes the assignment at the end of the rebalance
        # callback, after the restores started: until then it says "owned"
        # nothing (503 "unassigned", never a short answer)
        pxtest.wait_for(lambda: json.loads(get(m1[1], "/partitions")[1])["owned"], 30,
                        "m1's endpoint taking the new assignment")
        status, body = get(m1[1], "/partitions")
        self.assertEqual(status, 200)
        parts = json.loads(body)
        self.assertEqual(sorted(parts["restoring"]), sorted(gained), body)
        self.assertEqual(sorted(parts["owned"]), list(range(PARTITIONS)), body)

        # a second stream while it restores
        first = self.published
        kept_before = self.kept_messages(kept)
        truth, part2 = self.produce(sizes=(600, 900, 500), seed=78)
        kept_msgs = self.kept_messages(kept) - kept_before
        self.assertGreater(kept_msgs, 0)
        new_kept = next((k for k in truth if k not in truth1 and part2[k] in kept), None)
        self.assertIsNotNone(new_kept, "no new record in a kept partition")
        gone = next(k for k in truth1 if part[k] in gained)
        t0 = time.monotonic()
        pxtest.wait_for(lambda: pxtest.metric(m1[2], "pdnsx_consumer_merged_total")
                        >= before + kept_msgs, 60,
                        "m1 merging its kept partitions' new messages", interval=0.1)
        print("kept partitions' %d new messages merged in %.1f s" % (kept_msgs,
              time.monotonic() - t0), file=sys.stderr)
        # ... while the restore still runs, and of them alone
        self.assertEqual(pxtest.metric(m1[2], "pdnsx_consumer_changelog_restoring_partitions"),
                         len(gained), "the restore ended before the kept partitions were "
                         "merged: make it slower (the quota)")
        self.assertEqual(pxtest.metric(m1[2], "pdnsx_consumer_merged_total"), before + kept_msgs)
        status, body = get(m1[1], "/rrset/%s/%s" % (new_kept[0], new_kept[1]))
        self.assertEqual(status, 200, body)
        self.assertIn(new_kept[2], [json.loads(line)["rdata"] for line in body.splitlines()])
        status, body = get(m1[1], "/rrset/%s" % gone[0])
        self.assertEqual(status, 503, body)
        self.assertEqual(json.loads(body)["error"], "restoring", body)

        # m2 comes back: the rebalance revokes m1's restores (cancelled,
        # their threads joined; a partition m1 gets again goes on from the
        # position reached), then the quota goes and every restore ends
        again = self.member("m2", static=False)
        pxtest.wait_for(lambda: self.owned(again[0]) and len(self.owned(m1[0])) < PARTITIONS,
                        120, "m2 back in the group")
        self.quota(None)
        self.quota_set = False
        self.settle([m1, again], truth)
        for m in (m1, again):
            pxtest.wait_for(lambda: pxtest.metric(
                m[2], "pdnsx_consumer_changelog_restoring_partitions") == 0, 120, "restored")
            status, body = get(m[1], "/partitions")
            self.assertEqual(json.loads(body)["restoring"], [], body)
        print("restored %.1f s after the second stream" % (time.monotonic() - t0),
              file=sys.stderr)
        with open(os.path.join(self.dir, "m1.log")) as f:
            self.assertIn("(revoked) after", f.read())
        # every message of the second stream merged once, by one of them;
        # none of the first again
        self.assertEqual(pxtest.metric(m1[2], "pdnsx_consumer_merged_total") - before
                         + pxtest.metric(again[2], "pdnsx_consumer_merged_total"),
                         self.published - first)
        self.check([m1, again], truth, part2)

    def test_store_without_position_set_aside(self):
        truth, part = self.produce()
        m1 = self.member("m1")
        pxtest.wait_for(lambda: pxtest.metric(m1[2], "pdnsx_consumer_merged_total")
                        == self.published, 180, "m1 merged everything")
        self.stop(m1)
        # m2 merges the same stream with the changelog off, in a group of
        # its own: its stores hold data and no changelog position
        off = self.member("m2", ["-s", 'kafka.changelog_topic=""',
                                 "-s", 'kafka.group="%s-off"' % self.run_id])
        pxtest.wait_for(lambda: pxtest.metric(off[2], "pdnsx_consumer_merged_total")
                        == self.published, 180, "m2 merged everything without the changelog")
        self.stop(off)
        # m2 again, in m1's group with the changelog: it gains every partition
        # (without the alignment in event time: its input read from the
        # consumer's queue, the other path a paused partition takes)
        m2 = self.member("m2", ["-s", "kafka.align_seconds=0"])
        pxtest.wait_for(lambda: self.owned(m2[0]) == set(range(PARTITIONS)), 120,
                        "m2 holds every partition")
        tlds = sorted({k[0].rsplit(".", 1)[-1] for k in truth})
        pxtest.wait_for(lambda: self.answer(["--cluster", "127.0.0.1:%d" % m2[1]], tlds)
                        == truth, 120, "m2's answer exact", interval=0.5)
        self.assertEqual(pxtest.metric(m2[2], "pdnsx_consumer_merged_total"), 0,
                         "m2 read the input again instead of restoring")
        aside = sorted(d for d in os.listdir(m2[0]) if d.startswith("set-aside-"))
        self.assertEqual(aside, ["set-aside-%d.1" % p for p in range(PARTITIONS)])
        log = open(os.path.join(self.dir, "m2.log")).read()
        for p in range(PARTITIONS):
            self.assertIn("moved aside to %s/set-aside-%d.1" % (m2[0], p), log)
        self.stop(m2)


if __name__ == "__main__":
    unittest.main()
