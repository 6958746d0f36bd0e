"""A secure federation on the real Kafka broker's SASL_SSL listener
(PDNSX_TEST_KAFKA_SECURE: TLS to the harness's CA, SCRAM-SHA-512, Kafka's
StandardAuthorizer; run under scripts/with-kafka.sh).

tools/kafka/pdnsx-kafka-federation sets up two organisations and the
consumers' principal (topics, users, ACLs) and has nothing to do the second
time; org A's producer delivers over TLS+SCRAM and a consumer with its own
principal merges what it sent; org A's credentials on org B's topic are
refused (said once in the log, counted, kept in the spool, nothing on the
topic); a wrong password is refused the same way."""
import json
import os
import re
import secrets
import shutil
import subprocess
import unittest

import pxtest
from test_outage import gencap

FEDERATION = os.path.join(pxtest.SRC, "tools", "kafka", "pdnsx-kafka-federation")


class KafkaSecure(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.secure = os.environ.get("PDNSX_TEST_KAFKA_SECURE")
        if not cls.secure:
            return
        cls.plain = os.environ["PDNSX_TEST_KAFKA"]
        cls.ca = os.environ["PDNSX_TEST_KAFKA_CA"]
        cls.admin = os.environ["PDNSX_TEST_KAFKA_ADMIN_PROPERTIES"]
        cls.kafka_bin = os.environ["PDNSX_TEST_KAFKA_BIN"]
        cls.dir = pxtest.tmpdir("pdnsx-kafka-secure-")
        base = pxtest.unique_org("sec")
        cls.org_a, cls.org_b = base + "-a", base + "-b"
        cls.consumer_user = base + "-consumer"
        cls.passwords = {u: secrets.token_hex(12)
                         for u in (cls.org_a, cls.org_b, cls.consumer_user)}
        cls.users = os.path.join(cls.dir, "users")
        with open(os.open(cls.users, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
            f.write("# test users\n")
            for u, pw in cls.passwords.items():
                f.write("%s=%s\n" % (u, pw))
        cls.first = cls.federation()
        cls.second = cls.federation()

    @classmethod
    def tearDownClass(cls):
        if cls.secure:
            shutil.rmtree(cls.dir, ignore_errors=True)

    def setUp(self):
        pxtest.need_fixture(self, self.secure,
                            "the real Kafka harness's SASL_SSL listener "
                            "(PDNSX_TEST_KAFKA_SECURE; scripts/with-kafka.sh)")
        self.procs = []

    def tearDown(self):
        pxtest.kill_all(self.procs)

    @classmethod
    def federation(cls, orgs=None, partitions=4, check=True):
        """Runs pdnsx-kafka-federation for orgs (default: A and B); its
        standard output (check) or the whole CompletedProcess."""
        args = [FEDERATION, "--bootstrap-server", cls.secure, "--command-config", cls.admin,
                "--kafka-bin", cls.kafka_bin, "--partitions", str(partitions),
                "--replication-factor", "1", "--consumer-principal", cls.consumer_user,
                "--consumer-group", cls.consumer_user, "--users", cls.users]
        for org in orgs or (cls.org_a, cls.org_b):
            args += ["--org", org]
        out = subprocess.run(args, capture_output=True, text=True, timeout=300)
        if not check:
            return out
        if out.returncode != 0:
            raise AssertionError("pdnsx-kafka-federation: " + out.stdout + out.stderr)
        return out.stdout

    def props(self, user, password):
        """A kafka.properties_file for user (0600, as the docs say)."""
        path = os.path.join(self.dir, "%s-%s.properties" % (user, secrets.token_hex(4)))
        with open(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
            f.write("# %s over TLS + SCRAM\nsecurity.protocol=SASL_SSL\n"
                    "sasl.mechanism=SCRAM-SHA-512\nsasl.username=%s\nsasl.password=%s\n"
                    "ssl.ca.location=%s\n" % (user, user, password, self.ca))
        return path

    def producer(self, org, pcap, props_file, sets=()):
        """A producer of org reading pcap over the secure listener; its
        process, metrics port and log path."""
        log_path = os.path.join(self.dir, "producer-%s.log" % secrets.token_hex(4))
        log = open(log_path, "w")
        p, (port,) = pxtest.serve(lambda port: subprocess.Popen(pxtest.producer_cmd([
            'org="%s"' % org, 'inputs=({type="pcap-file"; path="%s";})' % pcap,
            'kafka.brokers="%s"' % self.secure,
            'kafka.properties_file="%s"' % props_file,
            'metrics.listen="127.0.0.1:%d"' % port] + list(sets)),
            stdout=log, stderr=subprocess.STDOUT))
        self.procs.append(p)
        return p, port, log_path

    def test_federation_set_up_once(self):
        for t in (self.org_a, self.org_b):
            self.assertIn("changed: topic pdnsx.obs.%s created (4 partitions" % t, self.first)
            self.assertIn("changed: user %s SCRAM-SHA-512 credential set" % t, self.first)
            self.assertIn("changed: acl User:%s WRITE topic pdnsx.obs.%s (literal)" % (t, t),
                          self.first)
        self.assertIn("changed: acl User:%s READ topic pdnsx.obs. (prefixed)"
                      % self.consumer_user, self.first)
        # idempotent: nothing to do, nothing printed
        self.assertEqual(self.second, "")

    def test_federation_refuses_unequal_partition_counts(self):
        org_c = self.org_a + "-c"
        out = self.federation(orgs=(self.org_a, org_c), partitions=3, check=False)
        self.assertEqual(out.returncode, 1)
        self.assertIn("topic pdnsx.obs.%s has 4 partitions, not 3" % self.org_a, out.stderr)
        # refused before any change: org C's topic was not made
        self.assertEqual(out.stdout, "")
        topics = subprocess.run([os.path.join(self.kafka_bin, "kafka-topics.sh"),
                                 "--bootstrap-server", self.secure,
                                 "--command-config", self.admin, "--list"],
                                capture_output=True, text=True, timeout=120)
        self.assertEqual(topics.returncode, 0, topics.stderr)
        self.assertIn("pdnsx.obs." + self.org_a, topics.stdout.split())
        self.assertNotIn("pdnsx.obs." + org_c, topics.stdout.split())

    def test_file_open_to_others_is_warned(self):
        path = self.props(self.org_a, self.passwords[self.org_a])
        os.chmod(path, 0o644)
        pcap, _ = gencap(self.dir, 50, 13)
        out = subprocess.run(pxtest.producer_cmd([
            'org="%s"' % self.org_a, 'inputs=({type="pcap-file"; path="%s";})' % pcap,
            'kafka.properties_file="%s"' % path, "kafka.enabled=false"]),
            capture_output=True, text=True, timeout=120)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("warning: kafka.properties_file %s is open to every user (mode 0644)"
                      % path, out.stderr)
        self.assertNotIn(self.passwords[self.org_a], out.stderr)

    def test_org_delivers_and_consumer_merges_over_tls(self):
        pcap, _ = gencap(self.dir, 3000, 11)
        p, _, log_path = self.producer(
            self.org_a, pcap, self.props(self.org_a, self.passwords[self.org_a]))
        self.assertEqual(p.wait(timeout=180), 0, open(log_path).read())
        topic = "pdnsx.obs." + self.org_a
        sent = pxtest.decode_messages(pxtest.read_topic_raw(self.plain, topic))
        self.assertGreater(len(sent), 0)

        store = os.path.join(self.dir, "store")
        cprops = self.props(self.consumer_user, self.passwords[self.consumer_user])
        out = subprocess.run([os.path.join(pxtest.BIN, "pdnsx-consumer"),
                              "-s", 'kafka.brokers="%s"' % self.secure,
                              "-s", 'kafka.properties_file="%s"' % cprops,
                              *pxtest.NO_CHANGELOG, "-s", 'kafka.group="%s"' % self.consumer_user,
                              "-s", 'kafka.topics="^pdnsx\\\\.obs\\\\.%s$"' % self.org_a,
                              "-s", 'store.path="%s"' % store, "-s", "run.exit_idle=5"],
                             capture_output=True, text=True, timeout=300)
        self.assertEqual(out.returncode, 0, out.stderr)
        # every record org A sent is in the store, seen by org A
        for rec in sent[:20]:
            q = subprocess.run([os.path.join(pxtest.BIN, "pdnsx-query"), "-s",
                                'store.path="%s"' % store, "rrset", rec["rrname"], rec["rrtype"]],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(q.returncode, 0, q.stderr)
            rows = [json.loads(line) for line in q.stdout.splitlines()]
            match = [r for r in rows if r["rdata"] == rec["rdata"]]
            self.assertEqual(len(match), 1, (rec, rows))
            self.assertEqual(match[0]["orgs"], [self.org_a])

    def refused(self, props_file, topic_sets, reason, line):
        """A producer of org A refused for `reason`: the refusal is counted
        and said once without any password, nothing is delivered or lost.
        Returns the running producer, its metrics port, log and spool."""
        pcap, _ = gencap(self.dir, 500, 12)
        spool = os.path.join(self.dir, "spool-" + secrets.token_hex(4))
        p, port, log_path = self.producer(self.org_a, pcap, props_file,
                                          ['spool.path="%s"' % spool] + topic_sets)
        name = 'pdnsx_kafka_refused_total{reason="%s"}' % reason
        pxtest.wait_for(lambda: (pxtest.metric(port, name) or 0) > 0, timeout=120,
                        what=name)
        m = pxtest.metrics(port)
        self.assertEqual(m["pdnsx_kafka_delivered_total"], 0)
        self.assertEqual(m["pdnsx_kafka_failed_total"], 0)
        log = open(log_path).read()
        self.assertEqual(log.count(line), 1, log)
        self.assertNotIn("is open to", log)  # the file is 0600: no warning
        for pw in self.passwords.values():
            self.assertNotIn(pw, log)
        return p, port, log_path, spool

    def test_org_a_refused_on_org_b_topic(self):
        topic_b = "pdnsx.obs." + self.org_b
        p, port, log_path, _ = self.refused(
            self.props(self.org_a, self.passwords[self.org_a]), ['kafka.topic="%s"' % topic_b],
            "topic_authorization",
            "Kafka refused topic %s to principal User:%s" % (topic_b, self.org_a))
        # what was refused is in the spool, nothing reached the topic
        pxtest.wait_for(lambda: (pxtest.metric(port, "pdnsx_spool_written_total") or 0) > 0,
                        timeout=120, what="refused observations in the spool")
        self.assertEqual(pxtest.read_topic_raw(self.plain, topic_b), [])
        # The ACL fixed, the spool is tried again and delivered whole: the
        # file run then ends with status 0.
        out = subprocess.run([os.path.join(self.kafka_bin, "kafka-acls.sh"),
                              "--bootstrap-server", self.secure, "--command-config", self.admin,
                              "--add", "--allow-principal", "User:" + self.org_a,
                              "--operation", "Write", "--topic", topic_b],
                             capture_output=True, text=True, timeout=120)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(p.wait(timeout=120), 0, open(log_path).read())
        log = open(log_path).read()
        # the run's last words: "observations N; Kafka: delivered N, failed 0, ..."
        summary = re.search(r"observations (\d+); Kafka: delivered (\d+), failed (\d+)", log)
        self.assertIsNotNone(summary, log)
        observations, delivered, failed = (int(x) for x in summary.groups())
        self.assertGreater(observations, 0)
        self.assertEqual((delivered, failed), (observations, 0))
        self.assertEqual(len(pxtest.read_topic_raw(self.plain, topic_b)), observations)
        self.assertEqual(log.count("Kafka refused"), 1)

    def test_wrong_password_refused(self):
        # A short local queue, so that what waits for the login overflows
        # into the spool while the producer runs, as in an outage.
        p, port, _, _ = self.refused(
            self.props(self.org_a, "not-" + self.passwords[self.org_a]),
            ["kafka.properties.queue.buffering.max.messages=50", "kafka.max_block_ms=100"],
            "authentication", "Kafka refused the login as principal User:%s" % self.org_a)
        pxtest.wait_for(lambda: (pxtest.metric(port, "pdnsx_spool_written_total") or 0) > 0,
                        timeout=120, what="observations waiting in the spool")
        m = pxtest.metrics(port)
        self.assertEqual(m["pdnsx_kafka_delivered_total"], 0)
        self.assertEqual(m["pdnsx_kafka_failed_total"], 0)
        self.assertEqual(m['pdnsx_kafka_refused_total{reason="topic_authorization"}'], 0)

if __name__ == "__main__":
    unittest.main()
