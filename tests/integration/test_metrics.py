"""The metrics endpoints, scraped while the daemons run, against what the
test sent them.

Producer: the privacy audit's capture (every response breaks one rule of
docs/DATA-MODEL.md "Privacy rules", plus one ordinary answer) through a
running producer: /metrics counts every response, each whole response
dropped and each record dropped under the rule it breaks, and the one
observation delivered to Kafka, which holds exactly that.

Consumer (the real broker): the lag per partition is 0 once the consumer
has merged a topic, rises by what is produced while its merging stands
still (the store's write lock held by another process, as on a stalled
disk), to exactly the messages waiting per partition, and falls back to
0 when it catches up; librdkafka's statistics show the broker's round
trip."""
import os
import re
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pxtest  # noqa: E402
import test_privacy_audit as audit  # noqa: E402

REAL = os.environ.get("PDNSX_TEST_REAL") == "1"
STORE_TOOL = os.path.join(os.path.dirname(pxtest.BIN), "tests", "px-store-tool")
GENCAP = os.path.join(os.path.dirname(pxtest.BIN), "bench", "pdnsx-gencap")

# The rule each response of the audit's capture breaks, as the producer
# counts it: a whole response (pdnsx_responses_dropped_total) or its one
# record (pdnsx_records_dropped_total), by reason.
RULE = {
    "nxdomain": ("responses", "rcode"), "servfail": ("responses", "rcode"),
    "rfc1918": ("records", "private_addr"), "rfc1918-192": ("records", "private_addr"),
    "cgnat": ("records", "private_addr"), "loopback": ("records", "private_addr"),
    "linklocal": ("records", "private_addr"), "documentation": ("records", "private_addr"),
    "ula": ("records", "private_addr"), "v6-linklocal": ("records", "private_addr"),
    "v6-doc": ("records", "private_addr"), "mapped-private": ("records", "private_addr"),
    "local-zone": ("records", "local_name"), "home-arpa": ("records", "local_name"),
    "internal": ("records", "local_name"), "lan": ("records", "local_name"),
    "configured-zone": ("records", "local_name"), "single-label": ("records", "single_label"),
    "cname-into-local": ("records", "local_rdata"), "mx-into-local": ("records", "local_rdata"),
    "txt": ("records", "rrtype"), "ptr": ("records", "rrtype"),
    "reverse-private": ("records", "rrtype"), "glue-only": ("records", "section"),
}


def expected_drops():
    """{(level, reason): count} for audit.capture(): response i goes to
    1 + i % 4 clients; the wildcard server's answer once."""
    want = {}
    for i, (why, _) in enumerate(audit.FORBIDDEN):
        key = RULE[why]
        want[key] = want.get(key, 0) + 1 + i % 4
    key = ("responses", "wildcard_server")
    want[key] = want.get(key, 0) + 1
    return want


def series(text, base):
    """{labels: value} of every series of `base` in an exposition."""
    out = {}
    for line in text.splitlines():
        m = re.match(r"^%s(\{[^}]*\})? (-?[0-9.e+]+)$" % re.escape(base), line)
        if m:
            out[m.group(1) or ""] = float(m.group(2))
    return out


def scrape(port):
    import urllib.request
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5) as r:
        return r.read().decode()


def stop(proc):
    """Stops a daemon with SIGTERM; its exit status."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


class ProducerCounters(unittest.TestCase):
    def setUp(self):
        if REAL:
            self.skipTest("pdnsx-broker's run (integration/metrics) covers it")
        self.dir = pxtest.tmpdir("pdnsx-metrics-p-")
        self.broker = pxtest.Broker(topics=["pdnsx.obs.metrics:4"])
        self.proc = None

    def tearDown(self):
        if self.proc:
            stop(self.proc)
        self.broker.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def test_privacy_capture_counted_by_reason(self):
        pcap = os.path.join(self.dir, "audit.pcap")
        sent = audit.capture(pcap, with_control=True)
        sock = os.path.join(self.dir, "dnstap.sock")
        log = open(os.path.join(self.dir, "producer.log"), "w")
        # the idle dnstap socket keeps the producer running once the file
        # is read; short windows: the last one closes 5 s after it
        self.proc, (port,) = pxtest.serve(lambda p: subprocess.Popen(pxtest.producer_cmd([
            'org="metrics"', 'inputs=({type="pcap-file"; path="%s";}, '
            '{type="dnstap-unix"; path="%s";})' % (pcap, sock),
            'kafka.brokers="%s"' % self.broker.bootstrap, "kafka.statistics_interval_ms=200",
            "window.seconds=5",
            'privacy.local_zones=["intra.example.org."]',
            'privacy.wildcard_servers=["%s"]' % audit.WILDCARD,
            'metrics.listen="127.0.0.1:%d"' % p]), stdout=log, stderr=subprocess.STDOUT))
        pxtest.wait_for(lambda: pxtest.metric(port, "pdnsx_responses_total") == sent, 30,
                        "%d responses counted" % sent)
        # the control answer's observation, delivered once its window closes
        pxtest.wait_for(lambda: pxtest.metric(port, "pdnsx_kafka_delivered_total") >= 1, 60,
                        "the observation delivered")
        text = scrape(port)
        got = {}
        for level in ("responses", "records"):
            for labels, v in series(text, "pdnsx_%s_dropped_total" % level).items():
                if v:
                    got[(level, re.search(r'reason="([^"]+)"', labels).group(1))] = v
        self.assertEqual(got, expected_drops())
        self.assertEqual(series(text, "pdnsx_records_total"), {"": 1})
        self.assertEqual(series(text, "pdnsx_observations_published_total"), {"": 1})
        self.assertEqual(series(text, "pdnsx_kafka_delivered_total"), {"": 1})
        self.assertEqual(series(text, "pdnsx_kafka_failed_total"), {"": 0})
        self.assertEqual(len(pxtest.read_topic_raw(self.broker.bootstrap, "pdnsx.obs.metrics")),
                         1)
        # librdkafka's statistics: the broker the observation went to is up
        up = pxtest.wait_for(lambda: series(scrape(port), "pdnsx_kafka_broker_up"), 30,
                             "librdkafka's statistics")
        self.assertIn(1.0, up.values())
        for client in up:
            self.assertIn('client="pdnsx-producer#producer-', client)
        self.assertEqual(stop(self.proc), 0)


class ConsumerLag(unittest.TestCase):
    def setUp(self):
        if REAL:
            pxtest.need_fixture(self, os.environ.get("PDNSX_TEST_KAFKA"),
                                "a real Kafka broker (PDNSX_TEST_KAFKA; run under "
                                "scripts/with-kafka.sh)")
        else:
            self.skipTest("the lag is checked on the real broker (integration/metrics_kafka)")
        self.dir = pxtest.tmpdir("pdnsx-metrics-c-")
        self.broker = pxtest.Broker(real=True)
        self.org = pxtest.unique_org("lag")
        self.topic = "pdnsx.obs." + self.org
        self.procs = []
        self.produced = False

    def tearDown(self):
        for p in self.procs:
            stop(p)
        self.broker.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def produce(self, n, seed):
        """Runs a producer over a generated capture; returns the messages
        per partition it added to the topic."""
        before = self.per_partition()
        pcap = os.path.join(self.dir, "c%d.pcap" % seed)
        subprocess.run([GENCAP, "-n", str(n), "-s", str(seed), "-N", "300", "-t", "120",
                        "-o", pcap], check=True, stdout=subprocess.DEVNULL, timeout=120)
        out = subprocess.run(pxtest.producer_cmd([
            'org="%s"' % self.org, 'inputs=({type="pcap-file"; path="%s";})' % pcap,
            'kafka.brokers="%s"' % self.broker.bootstrap]),
            capture_output=True, text=True, timeout=300)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.produced = True
        after = self.per_partition()
        added = {p: after[p] - before.get(p, 0) for p in after}
        self.assertGreater(sum(added.values()), 0)
        return added

    def per_partition(self):
        counts = {}
        if not self.produced:  # the topic is made by the first producer
            return counts
        for _, part, _ in pxtest.read_topic_raw(self.broker.bootstrap, self.topic):
            counts[part] = counts.get(part, 0) + 1
        return counts

    def lag(self, port):
        """{partition: lag} of our topic."""
        out = {}
        for labels, v in series(scrape(port), "pdnsx_consumer_lag_messages").items():
            if 'topic="%s"' % self.topic in labels:
                out[int(re.search(r'partition="(\d+)"', labels).group(1))] = int(v)
        return out

    def test_lag_rises_while_stalled_and_falls_to_zero(self):
        first = self.produce(400, 11)
        store = os.path.join(self.dir, "store")
        log = open(os.path.join(self.dir, "consumer.log"), "w")
        cons, (port,) = pxtest.serve(lambda p: subprocess.Popen([
            os.path.join(pxtest.BIN, "pdnsx-consumer"),
            "-s", 'kafka.brokers="%s"' % self.broker.bootstrap,
            *pxtest.NO_CHANGELOG, "-s", 'kafka.group="%s"' % self.org, "-s", 'kafka.topics="%s"' % self.topic,
            "-s", 'store.path="%s"' % store, "-s", "run.exit_idle=0",
            "-s", "kafka.statistics_interval_ms=200",
            "-s", 'metrics.listen="127.0.0.1:%d"' % p], stdout=log, stderr=subprocess.STDOUT))
        self.procs.append(cons)
        parts = set(first) | set(self.per_partition())
        zero = {p: 0 for p in parts}
        # caught up: every partition's lag is known, and 0
        pxtest.wait_for(lambda: self.lag(port) == zero, 60, "lag 0 after the first batch")
        self.assertEqual(pxtest.metric(port, "pdnsx_consumer_messages_total"),
                         sum(first.values()))

        # merging stands still: every partition store's write lock is
        # someone else's
        holds = []
        for d in sorted(os.listdir(store)):
            if not d.startswith("partition-"):
                continue
            hold = subprocess.Popen([STORE_TOOL, "hold", os.path.join(store, d)],
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            self.procs.append(hold)
            self.assertEqual(hold.stdout.readline().strip(), "held")
            holds.append(hold)
        self.assertEqual(len(holds), len(parts))
        second = self.produce(300, 12)
        want = {p: second.get(p, 0) for p in parts}
        pxtest.wait_for(lambda: self.lag(port) == want, 60,
                        "lag %s while merging stands still" % want)
        self.assertTrue(any(want.values()))

        for hold in holds:
            hold.stdin.close()
        for hold in holds:
            self.assertEqual(hold.wait(timeout=30), 0)
        pxtest.wait_for(lambda: self.lag(port) == zero, 60, "lag 0 after catching up")
        self.assertEqual(pxtest.metric(port, "pdnsx_consumer_messages_total"),
                         sum(first.values()) + sum(second.values()))
        # librdkafka's statistics: the broker's round trip, the prefetch
        text = pxtest.wait_for(
            lambda: (lambda t: series(t, "pdnsx_kafka_broker_rtt_avg_microseconds") and t)(
                scrape(port)), 30, "a broker round-trip time")
        self.assertTrue(all(v > 0 for v in
                            series(text, "pdnsx_kafka_broker_rtt_avg_microseconds").values()))
        fetchq = series(text, "pdnsx_kafka_partition_fetchq_messages")
        self.assertEqual({int(re.search(r'partition="(\d+)"', k).group(1))
                          for k in fetchq if self.topic in k}, parts)
        self.assertEqual(stop(cons), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
