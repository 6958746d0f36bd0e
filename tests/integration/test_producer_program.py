"""The real pdnsx-producer daemon, fed crafted dnstap over its unix socket
(fstrm_replay, the reference sender): privacy.min_clients, out-of-bailiwick
drops, SIGHUP, and every metric the README lists for the producer, each
equal to what the test sent.

All events of a run carry one timestamp, so they fall in one window
(window.seconds=2); a quiet live input flushes its window once that much
wall time has passed, so the published counts are read while it runs."""
import os
import shutil
import signal
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dnswire as w  # noqa: E402
import pxtest  # noqa: E402

T0 = 1764000000  # even: a 2-second window starts here
SERVER = "198.41.0.4"
CLIENTS = ["203.0.113.%d" % i for i in range(1, 31)]  # addresses only; never published
REASONS = ["not_response", "rcode", "wildcard_server", "section", "rrtype", "private_addr",
           "local_name", "local_rdata", "single_label", "out_of_bailiwick"]


def a(name, addr, ttl=300):
    return w.response(name, "A", [(name, "A", ttl, addr)])


def client_responses():
    """(frames, expected metrics, names published with min_clients=3)."""
    frames = []

    def send(msg, clients):
        for c in clients:
            frames.append(w.dnstap("CLIENT_RESPONSE", msg, T0, client=c, server=SERVER))
    # asked by 30 clients: past min_clients=3 whatever bits their hashes share
    send(a("pop.example.com", "93.184.216.40"), CLIENTS)
    # asked by 2 clients, and 10 times by 1: under min_clients=3 for certain
    send(a("two.example.com", "93.184.216.41"), CLIENTS[:2])
    send(a("one.example.com", "93.184.216.42"), [CLIENTS[5]] * 10)
    # dropped by the privacy filter
    send(w.response("gone.example.com", "A", rcode=3), CLIENTS[:3])          # whole response
    send(a("nas.example.com", "10.0.0.5"), CLIENTS[:2])                     # private_addr
    send(w.response("example.com", "TXT", [("example.com", "TXT", 60, "v=spf1 -all")]),
         CLIENTS[:1])                                                       # rrtype
    send(a("printer.local", "93.184.216.9"), CLIENTS[:1])                   # local_name
    want = {
        "pdnsx_responses_total": len(frames),
        "pdnsx_records_total": 30 + 2 + 10,
        'pdnsx_responses_dropped_total{reason="rcode"}': 3,
        'pdnsx_records_dropped_total{reason="private_addr"}': 2,
        'pdnsx_records_dropped_total{reason="rrtype"}': 1,
        'pdnsx_records_dropped_total{reason="local_name"}': 1,
        "pdnsx_observations_published_total": 1,
        "pdnsx_kafka_delivered_total": 1,
        "pdnsx_kafka_failed_total": 0,
    }
    return frames, want, [("pop.example.com", "A", "93.184.216.40")]


def resolver_responses():
    """A resolver's upstream answer from the example.com servers: the CNAME
    is theirs to give, the address of a name under other.net is not."""
    msg = w.response("www.example.com", "A", [
        ("www.example.com", "CNAME", 300, "cdn.other.net"),
        ("cdn.other.net", "A", 300, "93.184.216.50")])
    frames = [w.dnstap("RESOLVER_RESPONSE", msg, T0, server=SERVER, query_zone="example.com")]
    want = {
        "pdnsx_responses_total": 1,
        "pdnsx_records_total": 1,
        'pdnsx_records_dropped_total{reason="out_of_bailiwick"}': 1,
        "pdnsx_observations_published_total": 1,
    }
    return frames, want, [("www.example.com", "CNAME", "cdn.other.net")]


class ProducerProgram(unittest.TestCase):
    def setUp(self):
        pxtest.need_fixture(self, os.access("/usr/bin/fstrm_replay", os.X_OK),
                            "/usr/bin/fstrm_replay (fstrm-bin)")
        self.dir = pxtest.tmpdir("pdnsx-producer-")
        self.broker = pxtest.Broker()
        self.procs = []

    def tearDown(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        self.broker.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def start(self, org, extra=(), brokers=None):
        sock = os.path.join(self.dir, "%s.sock" % org)
        self.log = os.path.join(self.dir, "%s.log" % org)
        logf = open(self.log, "w")
        proc, (port,) = pxtest.serve(lambda port: subprocess.Popen(pxtest.producer_cmd([
            'org="%s"' % org, 'inputs=({type="dnstap-unix"; path="%s";})' % sock,
            'kafka.brokers="%s"' % (brokers or self.broker.bootstrap),
            'metrics.listen="127.0.0.1:%d"' % port, "window.seconds=2"] + list(extra)),
            stdout=logf, stderr=subprocess.STDOUT))
        logf.close()
        self.procs.append(proc)
        pxtest.wait_for(lambda: os.path.exists(sock), 20, "the dnstap socket")
        return proc, port, sock

    def replay(self, sock, frames):
        path = os.path.join(self.dir, "in.fstrm")
        w.write_fstrm(path, frames)
        subprocess.run(["fstrm_replay", "-t", w.DNSTAP_CONTENT_TYPE.decode(), "-u", sock,
                        "-r", path], check=True, timeout=60)

    def log_text(self):
        with open(self.log) as f:
            return f.read()

    def check_metrics(self, proc, port, want):
        """Waits until the counters that move last reach their figures,
        then holds every listed metric, and every dropped reason not
        listed, to exactly what was sent."""
        last = [k for k in ("pdnsx_observations_published_total", "pdnsx_kafka_delivered_total",
                            "pdnsx_kafka_failed_total") if want.get(k)]
        try:
            pxtest.wait_for(lambda: proc.poll() is not None or
                            all(pxtest.metric(port, k) == want[k] for k in last), 30)
        except AssertionError:
            pass  # the comparison below says what differs
        self.assertIsNone(proc.poll(), "the producer exited")
        got = pxtest.metrics(port)
        full = dict(want)
        for r in REASONS:
            for kind in ("responses", "records"):
                full.setdefault('pdnsx_%s_dropped_total{reason="%s"}' % (kind, r), 0)
        for k in ("pdnsx_observations_failed_total", "pdnsx_responses_malformed_total",
                  "pdnsx_records_malformed_total"):
            full.setdefault(k, 0)
        self.assertEqual({k: got.get(k) for k in full}, full)

    def published(self, org):
        return sorted((r["rrname"], r["rrtype"], r["rdata"]) for r in pxtest.decode_messages(
            pxtest.read_topic_raw(self.broker.bootstrap, "pdnsx.obs." + org)))

    def test_min_clients_metrics_and_sighup(self):
        org = pxtest.unique_org("minclients")
        proc, port, sock = self.start(org, ["privacy.min_clients=3"])
        # SIGHUP: logs go to stderr, nothing to reload: it says so and
        # goes on serving (the default action would end it)
        proc.send_signal(signal.SIGHUP)
        pxtest.wait_for(lambda: "SIGHUP" in self.log_text() or proc.poll() is not None, 20,
                        "the SIGHUP log line")
        self.assertIsNone(proc.poll(), "SIGHUP ended the producer")
        frames, want, names = client_responses()
        self.replay(sock, frames)
        self.check_metrics(proc, port, want)
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(proc.wait(timeout=60), 0, self.log_text())
        self.assertEqual(self.published(org), names)
        for c in CLIENTS:
            self.assertNotIn(c, self.log_text())

    def test_min_clients_one_publishes_all(self):
        """The control: the same input with the default min_clients."""
        org = pxtest.unique_org("allclients")
        proc, port, sock = self.start(org)
        frames, want, _ = client_responses()
        want = dict(want, pdnsx_observations_published_total=3, pdnsx_kafka_delivered_total=3)
        self.replay(sock, frames)
        self.check_metrics(proc, port, want)
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(proc.wait(timeout=60), 0, self.log_text())
        self.assertEqual([n for n, _, _ in self.published(org)],
                         ["one.example.com", "pop.example.com", "two.example.com"])

    def test_out_of_bailiwick_dropped(self):
        org = pxtest.unique_org("bailiwick")
        proc, port, sock = self.start(org)
        frames, want, names = resolver_responses()
        want = dict(want, pdnsx_kafka_delivered_total=1, pdnsx_kafka_failed_total=0)
        self.replay(sock, frames)
        self.check_metrics(proc, port, want)
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(proc.wait(timeout=60), 0, self.log_text())
        recs = pxtest.decode_messages(pxtest.read_topic_raw(self.broker.bootstrap,
                                                            "pdnsx.obs." + org))
        self.assertEqual([(r["rrname"], r["rrtype"], r["rdata"]) for r in recs], names)
        self.assertEqual(recs[0]["bailiwick"], "example.com")

    def test_kafka_failures_counted(self):
        """A broker that never answers and a short message timeout: every
        observation fails, is counted, and the run ends with status 1."""
        org = pxtest.unique_org("failed")
        dead = "127.0.0.1:%d" % pxtest.free_port()  # nothing listens there
        proc, port, sock = self.start(org, [
            'kafka.properties={ message = { timeout = { ms = 1500; }; }; }'], brokers=dead)
        frames, want, _ = resolver_responses()
        want = dict(want, pdnsx_kafka_delivered_total=0, pdnsx_kafka_failed_total=1)
        self.replay(sock, frames)
        self.check_metrics(proc, port, want)
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(proc.wait(timeout=60), 1, self.log_text())
        self.assertIn("never acknowledged", self.log_text())


if __name__ == "__main__":
    unittest.main(verbosity=2)
