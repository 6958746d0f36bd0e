"""The HTTP endpoints of the real pdnsx-consumer (query.listen and
metrics.listen, one server module) against hostile and heavy clients, and
lookups' limits (issue 9, items 4 and 5):

- 70 slow clients (one header byte a second) on query.listen and 40 on
  metrics.listen, from one address and from many, are held open while a
  real client is answered within a second;
- slow clients are closed at http.request_timeout although they never go
  idle, counted and logged (without their address);
- http.max_per_client bounds one address; at http.max_connections the
  oldest connection makes room for a new client;
- 4 pipelined requests on one connection get 4 answers, in order, and the
  connection stays open;
- ?limit= and --limit cut answers, which say so; query.limit and
  query.max_limit apply;
- 16 wildcard answers over a store of ~200k records stream: the memory of
  the consumer does not grow with them, and a one-name lookup is answered
  within a second meanwhile;
- pdnsx-query --cluster over two real consumers of one group whose stores
  overlap (each starts with a store of every partition, of other counts):
  /partitions of both are disjoint and cover the topic; each answers for the
  partitions it owns only (its local store too: the others moved aside), so
  the merged answer is each record's owner's (checked against python's
  partitioner over whole copies of the stores); an rrset
  lookup reaches the owner alone (pdnsx_query_requests_total), rdata and
  wildcards both; a member that cut its answer is named; a member down
  fails the lookup (exit 1).

Stores are built with tests/bench's pdnsx-bench-store (the store API)."""
import atexit
import http.client
import json
import os
import select
import shutil
import socket
import subprocess
import sys
import threading
import time
import unittest
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pxtest  # noqa: E402

BENCH_STORE = os.environ.get("PDNSX_BENCH_STORE", os.path.join(
    os.path.dirname(pxtest.BIN), "bench", "pdnsx-bench-store"))
QUERY = os.path.join(pxtest.BIN, "pdnsx-query")
# The consumers read an empty topic of the shared broker: each is assigned
# its partitions (a query endpoint answers for those only, 503 before).
TOPIC = "pdnsx.obs.http-empty"
TOPIC_PARTITIONS = 4
_shared = {}
_groups = []


def shared():
    """One work directory and one pdnsx-broker for the whole file (the
    consumers need a broker; they read nothing from it: its one topic of
    TOPIC_PARTITIONS partitions is empty, and gives a consumer of a group of
    its own every partition, partition 0's store holding the records it
    answers from), made on first use and removed at exit (run_py does not
    call setUpModule)."""
    if not _shared:
        _shared["work"] = pxtest.tmpdir("pdnsx-http-")
        _shared["broker"] = pxtest.Broker(topics=["%s:%d" % (TOPIC, TOPIC_PARTITIONS)])

        def cleanup():
            _shared["broker"].close()
            shutil.rmtree(_shared["work"], ignore_errors=True)
        atexit.register(cleanup)
    return _shared["work"], _shared["broker"]


def build_store(name, n, keys, seed=0, partitions=0):
    """A store.path (docs/STORE-FORMAT.md, the partitioned layout) whose
    partition 0 store holds the bench store's records (a consumer owning
    every partition of its empty topic serves it); partitions N: the same
    records split into the stores of partitions 0 .. N-1 by the producers'
    partitioner, as a consumer of the topic would have written them."""
    path = os.path.join(shared()[0], name)
    if not os.path.exists(path):
        os.mkdir(path)
        with open(os.path.join(path, "LAYOUT"), "w") as f:
            f.write("pdnsx partitioned store 1\n")
        for i in range(max(partitions, 1)):
            split = ["-p", "%d/%d" % (i, partitions)] if partitions else []
            subprocess.run([BENCH_STORE, "-n", str(n), "-k", str(keys), "-b", "100000",
                            "-s", str(seed)] + split + [os.path.join(path, "partition-%d" % i)],
                           check=True, stdout=subprocess.DEVNULL, timeout=600)
    return path


def big_store():
    """~190k records (the issue's probe used 200k): about 24k under .com."""
    return build_store("big", 600000, 200000)


def query(store, *args, sets=()):
    """pdnsx-query: (COF records, stderr, exit status)."""
    cmd = [QUERY, "-s", 'store.path="%s"' % store]
    for s in sets:
        cmd += ["-s", s]
    out = subprocess.run(cmd + list(args), capture_output=True, text=True, timeout=300)
    recs = [json.loads(line) for line in out.stdout.splitlines()]
    return recs, out.stderr, out.returncode


class Consumer:
    """pdnsx-consumer serving a store on query.listen and metrics.listen."""

    def __init__(self, store, sets=(), env=None, group=None, wait_assigned=True):
        work, broker = shared()
        if group is None:  # a group of its own: it owns every partition
            _groups.append(pxtest.unique_org("http"))
            group = "%s-%d" % (_groups[-1], len(_groups))
        self.qport, self.mport = pxtest.free_port(), pxtest.free_port()
        self.log = open(os.path.join(work, "consumer-%d.log" % self.qport), "w+")
        cmd = [os.path.join(pxtest.BIN, "pdnsx-consumer"),
               "-s", 'kafka.brokers="%s"' % broker.bootstrap,
               *pxtest.NO_CHANGELOG, "-s", 'kafka.group="%s"' % group,
               "-s", 'kafka.topics="%s"' % TOPIC,
               "-s", 'store.path="%s"' % store,
               "-s", 'query.listen="127.0.0.1:%d"' % self.qport,
               "-s", 'metrics.listen="127.0.0.1:%d"' % self.mport]
        for s in sets:
            cmd += ["-s", s]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=self.log, env=env)
        pxtest.wait_for(lambda: self.proc.poll() is not None or self.metric(
            "pdnsx_http_connections") is not None, 60, "the consumer's endpoints")
        if self.proc.poll() is not None:
            raise AssertionError("pdnsx-consumer exited: " + self.logged())
        if wait_assigned:
            self.wait_assigned()

    def wait_assigned(self):
        pxtest.wait_for(lambda: self.proc.poll() is not None or self.partitions()["owned"],
                        60, "partitions assigned to the consumer")
        if self.proc.poll() is not None:
            raise AssertionError("pdnsx-consumer exited: " + self.logged())

    @staticmethod
    def several(store, settings):
        """{key: Consumer} for {key: settings}, each in a group of its own,
        started at once and then each waited for until assigned."""
        out = {}
        try:
            for key, sets in settings.items():
                out[key] = Consumer(store, sets, wait_assigned=False)
            for c in out.values():
                c.wait_assigned()
        except BaseException:
            Consumer.close_all(out.values(), check=False)
            raise
        return out

    @staticmethod
    def close_all(consumers, check=True):
        for c in list(consumers):
            if check:
                c.close()
            elif c.proc.poll() is None:
                c.proc.kill()
                c.proc.wait()

    def partitions(self):
        """GET /partitions, from an address of its own (127.0.0.250)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.qport, timeout=5,
                                          source_address=("127.0.0.250", 0))
        try:
            conn.request("GET", "/partitions")
            r = conn.getresponse()
            body = r.read().decode()
            if r.status != 200:
                raise AssertionError("/partitions answered %d: %s" % (r.status, body))
            return json.loads(body)
        finally:
            conn.close()

    def endpoint(self):
        return "127.0.0.1:%d" % self.qport

    def metric(self, name):
        """A value of /metrics, asked from an address of its own (127.0.0.250)
        so as not to count as one of the test's clients; None when the
        endpoint does not answer."""
        conn = http.client.HTTPConnection("127.0.0.1", self.mport, timeout=5,
                                          source_address=("127.0.0.250", 0))
        try:
            conn.request("GET", "/metrics")
            text = conn.getresponse().read().decode()
        except OSError:
            return None
        finally:
            conn.close()
        for line in text.splitlines():
            key, _, value = line.rpartition(" ")
            if key == name:
                return float(value)
        return 0 if "{" not in name else None  # a labelled one the server lacks

    def logged(self):
        self.log.flush()
        with open(self.log.name) as f:
            return f.read()

    def rss_anon_kib(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1])
        raise AssertionError("no RssAnon")

    def close(self):
        self.proc.terminate()
        rc = self.proc.wait(timeout=60)
        self.log.close()
        if rc != 0:
            raise AssertionError("pdnsx-consumer exited %d: %s" % (rc, self.logged()))


def rejected(c, endpoint, reason):
    return c.metric('pdnsx_http_rejected_total{endpoint="%s",reason="%s"}' % (endpoint, reason))


def taken(c, endpoint):
    """Connections the endpoint took: open ones and those it closed to
    make room (on metrics.listen, not the one asking). None from a server
    that does not count them (the code before these tests: they then run
    without waiting for it)."""
    asking = 1 if endpoint == "metrics" else 0
    vals = [c.metric('pdnsx_http_connections{endpoint="%s"}' % endpoint),
            rejected(c, endpoint, "per_client"), rejected(c, endpoint, "full")]
    return None if None in vals else vals[0] - asking + vals[1] + vals[2]


class SlowClients:
    """Connections that send a request one byte a second, from the given
    source addresses, until stopped; notes when the server closes each."""

    REQUEST = b"GET /rrset/slow.example HTTP/1.1\r\nHost: slow\r\nX-Padding: " + b"x" * 200

    def __init__(self, port, sources):
        self.socks = []
        self.opened = {}
        self.closed = {}
        self.lock = threading.Lock()
        for src in sources:
            s = socket.socket()
            s.bind((src, 0))
            s.connect(("127.0.0.1", port))
            s.send(self.REQUEST[:1])
            self.socks.append(s)
            self.opened[s] = time.monotonic()
        self.stop_flag = threading.Event()
        self.thread = threading.Thread(target=self._drip, daemon=True)
        self.thread.start()

    def _drip(self):
        i = 1
        while not self.stop_flag.wait(1.0):
            for s in self.socks:
                with self.lock:
                    if s in self.closed:
                        continue
                try:
                    s.send(self.REQUEST[i:i + 1], socket.MSG_NOSIGNAL)
                except OSError:
                    self._note_closed(s)
            i = min(i + 1, len(self.REQUEST) - 1)

    def _note_closed(self, s):
        with self.lock:
            self.closed.setdefault(s, time.monotonic())

    def poll(self, timeout):
        """Notes the connections the server closed."""
        with self.lock:
            live = [s for s in self.socks if s not in self.closed]
        if not live:
            return
        readable, _, _ = select.select(live, [], [], timeout)
        for s in readable:
            try:
                data = s.recv(4096, socket.MSG_DONTWAIT)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if not data:
                self._note_closed(s)

    def n_open(self):
        with self.lock:
            return len(self.socks) - len(self.closed)

    def stop(self):
        self.stop_flag.set()
        self.thread.join()
        for s in self.socks:
            s.close()


def timed_get(url, timeout=10):
    t0 = time.monotonic()
    with urllib.request.urlopen(url, timeout=timeout) as r:
        body = r.read()
        status = r.status
    return status, body, time.monotonic() - t0


def sources(first, n):
    return ["127.0.0.%d" % (first + i) for i in range(n)]


def chunked_answers(sock, n, timeout=30):
    """Reads n HTTP/1.1 answers from sock: [(status, body)]; a chunked body
    is decoded."""
    buf = b""
    out = []
    deadline = time.monotonic() + timeout

    def more():
        nonlocal buf
        sock.settimeout(max(0.1, deadline - time.monotonic()))
        data = sock.recv(65536)
        if not data:
            raise AssertionError("connection closed after %d answers" % len(out))
        buf += data

    while len(out) < n:
        while b"\r\n\r\n" not in buf:
            more()
        head, buf = buf.split(b"\r\n\r\n", 1)
        lines = head.decode().split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.lower(): v.strip() for k, v in (ln.split(":", 1) for ln in lines[1:])}
        body = b""
        if headers.get("transfer-encoding") == "chunked":
            while True:
                while b"\r\n" not in buf:
                    more()
                size_line, buf = buf.split(b"\r\n", 1)
                size = int(size_line.split(b";")[0], 16)
                while len(buf) < size + 2:
                    more()
                body += buf[:size]
                buf = buf[size + 2:]
                if size == 0:
                    break
        else:
            size = int(headers.get("content-length", "0"))
            while len(buf) < size:
                more()
            body, buf = buf[:size], buf[size:]
        out.append((status, body))
    return out


def lines_of(body):
    return [json.loads(line) for line in body.decode().splitlines()]


class SlowClientsTest(unittest.TestCase):
    """Item 5: slow clients never lock a real one out."""

    # each test's consumer (a group of its own each) and its settings:
    # started together, the groups' joins overlap (pdnsx-broker assigns a
    # new group's partitions after 3 s)
    CONSUMERS = {"query70": [], "metrics40": [], "deadline": ["http.request_timeout=2"],
                 "bound": ["http.max_connections=8", "http.max_per_client=3"],
                 "pipelining": []}

    @classmethod
    def setUpClass(cls):
        cls.store = build_store("small", 20000, 5000)
        cls.name = query(cls.store, "rrset", "*.com")[0][0]["rrname"]
        cls.want = query(cls.store, "rrset", cls.name)[0]
        cls.consumers = Consumer.several(cls.store, cls.CONSUMERS)

    @classmethod
    def tearDownClass(cls):
        Consumer.close_all(cls.consumers.values())

    def consumer(self, key):
        """The test's own consumer, stopped (exit 0 checked) after it."""
        c = self.consumers.pop(key)
        self.addCleanup(c.close)
        return c

    def hold_and_ask(self, c, endpoint, port, srcs, path, n_held):
        gauge = 'pdnsx_http_connections{endpoint="%s"}' % endpoint
        asking = 1 if endpoint == "metrics" else 0
        pxtest.wait_for(lambda: (c.metric(gauge) or 0) <= asking, 30, "no connection left")
        before = taken(c, endpoint)
        slow = SlowClients(port, srcs)
        try:
            if before is not None:
                pxtest.wait_for(lambda: taken(c, endpoint) - before >= len(srcs), 30,
                                "the server took every slow client")
            slow.poll(0.2)
            self.assertGreaterEqual(slow.n_open(), n_held)
            status, body, took = timed_get("http://127.0.0.1:%d%s" % (port, path))
            # the slow ones are still at it while the real one is served
            self.assertGreaterEqual(slow.n_open(), n_held - 1)
            self.assertEqual(status, 200)
            self.assertLess(took, 1.0, "a real client waited %.2f s" % took)
            return body
        finally:
            slow.stop()

    def check_log(self, c, setting):
        log = [ln for ln in c.logged().splitlines() if setting + ":" in ln]
        self.assertTrue(log, "nothing logged about %s" % setting)
        for ln in log:
            self.assertNotIn("127.0.0.", ln)
        return log

    def test_query_listen_70_slow_clients(self):
        c = self.consumer("query70")
        path = "/rrset/" + self.name
        # from as many addresses: 64 held (http.max_connections), the
        # oldest makes room for the real client
        body = self.hold_and_ask(c, "query", c.qport, sources(2, 70), path, 63)
        self.assertEqual(lines_of(body), self.want)
        self.assertGreaterEqual(rejected(c, "query", "full"), 7)
        # from one address: 16 held (http.max_per_client), the real
        # client from that address still served
        body = self.hold_and_ask(c, "query", c.qport, ["127.0.0.1"] * 70, path, 15)
        self.assertEqual(lines_of(body), self.want)
        self.assertGreaterEqual(rejected(c, "query", "per_client"), 70 - 16)
        log = self.check_log(c, "query.listen")
        self.assertTrue(any("http.max_connections" in ln for ln in log))

    def test_metrics_listen_40_slow_clients(self):
        c = self.consumer("metrics40")
        for srcs, held in ((sources(2, 40), 40), (["127.0.0.1"] * 40, 15)):
            body = self.hold_and_ask(c, "metrics", c.mport, srcs, "/metrics", held)
            self.assertIn(b"\npdnsx_http_connections{endpoint=\"metrics\"} ", body)

    def test_deadline_closes_dripping_clients(self):
        """They send a byte a second, so they are never idle: only a total
        deadline closes them."""
        c = self.consumer("deadline")
        slow = SlowClients(c.qport, sources(40, 10))
        try:
            pxtest.wait_for(lambda: (slow.poll(0.1), len(slow.closed) == 10)[1], 15,
                            "the slow clients closed")
        finally:
            slow.stop()
        for s, t in slow.closed.items():
            lived = t - slow.opened[s]
            self.assertGreater(lived, 1.5)
            self.assertLess(lived, 4.5)
        self.assertEqual(rejected(c, "query", "request_timeout"), 10)
        log = self.check_log(c, "query.listen")
        self.assertTrue(any("no whole request within 2 s" in ln for ln in log))
        # rate-limited: not a line per connection
        self.assertLess(len(log), 10)

    def test_per_client_bound_and_eviction(self):
        c = self.consumer("bound")
        one = SlowClients(c.qport, ["127.0.0.9"] * 5)
        try:
            pxtest.wait_for(lambda: (one.poll(0.1), len(one.closed) == 2)[1], 10,
                            "two of one client's connections closed")
            one.poll(0.5)
            self.assertEqual(one.n_open(), 3)
            self.assertEqual(rejected(c, "query", "per_client"), 2)
            # five more clients fill the endpoint: 8 open
            others = SlowClients(c.qport, sources(20, 5))
            try:
                pxtest.wait_for(lambda: taken(c, "query") >= 10, 10, "all taken")
                others.poll(0.5)
                self.assertEqual(one.n_open() + others.n_open(), 8)
                status, body, took = timed_get(
                    "http://127.0.0.1:%d/rrset/%s" % (c.qport, self.name))
                self.assertEqual(status, 200)
                self.assertLess(took, 1.0)
                self.assertEqual(rejected(c, "query", "full"), 1)
                pxtest.wait_for(lambda: (one.poll(0.1), others.poll(0.1),
                                         one.n_open() + others.n_open() == 7)[2], 5,
                                "one slow connection made room")
            finally:
                others.stop()
        finally:
            one.stop()

    def test_pipelining_and_keep_alive(self):
        names = [r["rrname"] for r in query(self.store, "rrset", "*.com")[0][:4]]
        self.assertEqual(len(names), 4)
        c = self.consumer("pipelining")
        for port, paths in ((c.qport, ["/rrset/" + n for n in names]),
                            (c.mport, ["/metrics", "/nothing", "/metrics", "/metrics"])):
            s = socket.create_connection(("127.0.0.1", port))
            try:
                s.sendall(b"".join(b"GET %s HTTP/1.1\r\nHost: t\r\n\r\n" % p.encode()
                                   for p in paths))
                answers = chunked_answers(s, 4)
                if port == c.qport:
                    for name, (status, body) in zip(names, answers):
                        self.assertEqual(status, 200)
                        self.assertEqual(lines_of(body), query(self.store, "rrset", name)[0])
                else:
                    self.assertEqual([a[0] for a in answers], [200, 404, 200, 200])
                # and the connection is still there for a fifth
                s.sendall(b"GET %s HTTP/1.1\r\nHost: t\r\n\r\n" % paths[0].encode())
                self.assertEqual(chunked_answers(s, 1)[0][0], 200)
            finally:
                s.close()


class LimitTest(unittest.TestCase):
    """Item 4: lookups take a limit; a cut answer says so."""

    @classmethod
    def setUpClass(cls):
        cls.store = build_store("small", 20000, 5000)
        cls.all_com = query(cls.store, "--limit", "1000000", "rrset", "*.com")[0]
        assert len(cls.all_com) > 60, len(cls.all_com)

    def test_http_limit(self):
        c = Consumer(self.store, ["query.limit=5", "query.max_limit=50"])
        try:
            base = "http://127.0.0.1:%d/rrset/*.com" % c.qport
            for suffix, n in (("", 5), ("?limit=20", 20), ("?limit=1000", 50)):
                status, body, _ = timed_get(base + suffix)
                self.assertEqual(status, 200)
                recs = lines_of(body)
                self.assertEqual(recs[:-1], self.all_com[:n])
                self.assertEqual(recs[-1], {"cond": "limited", "limit": n,
                                            "msg": "answer cut at the limit of %d records" % n})
            # exactly the limit: whole, no condition line
            name = self.all_com[0]["rrname"]
            whole = query(self.store, "rrset", name)[0]
            status, body, _ = timed_get("http://127.0.0.1:%d/rrset/%s?limit=%d"
                                        % (c.qport, name, len(whole)))
            self.assertEqual(lines_of(body), whole)
            with self.assertRaises(urllib.error.HTTPError) as e:
                timed_get(base + "?limit=0")
            self.assertEqual(e.exception.code, 400)
        finally:
            c.close()

    def test_pdnsx_query_limit(self):
        sets = ["query.limit=5", "query.max_limit=50"]
        for args, n in (((), 5), (("--limit", "20"), 20), (("--limit", "1000"), 50)):
            recs, err, rc = query(self.store, *args, "rrset", "*.com", sets=sets)
            self.assertEqual(rc, 0, err)
            # stdout holds COF records only; stderr says the answer was cut
            self.assertEqual(recs, self.all_com[:n])
            self.assertIn("answer cut at the limit of %d records" % n, err)
        recs, err, rc = query(self.store, "--limit", str(len(self.all_com)), "rrset", "*.com")
        self.assertEqual((rc, err), (0, ""))
        self.assertEqual(recs, self.all_com)
        recs, err, rc = query(self.store, "--limit", "0", "rrset", "*.com")
        self.assertEqual(rc, 2)
        self.assertIn("limit", err)


def canonical(r):
    """The merged answer's order: labels from the right, then type, then
    rdata."""
    return (list(reversed(r["rrname"].encode().split(b"."))), r["rrtype"].encode(),
            r["rdata"].encode())


def python_cluster_merge(answers):
    """The store's merge rules, again in python, over COF answers; bailiwick
    and GeoIP from the earliest record that has them."""
    acc = {}
    for r in sorted((r for recs in answers for r in recs), key=lambda r: r["time_first"]):
        k = (r["rrname"], r["rrtype"], r["rdata"])
        if k not in acc:
            acc[k] = dict(r)
            continue
        a = acc[k]
        a["count"] += r["count"]
        a["time_first"] = min(a["time_first"], r["time_first"])
        a["time_last"] = max(a["time_last"], r["time_last"])
        a["orgs"] = sorted(set(a["orgs"]) | set(r["orgs"]))
        for f in ("bailiwick", "country", "asn", "as_org"):
            if f not in a and f in r:
                a[f] = r[f]
    return sorted(acc.values(), key=canonical)


def regdom(name):
    """The registered domain of a bench store's name (HOST.siteN.TLD, TLD
    one of com, co.uk, ...): what follows the first label."""
    return name.split(".", 1)[1]


def record_key(r):
    return (r["rrname"], r["rrtype"], r["rdata"])


class ClusterTest(unittest.TestCase):
    """--cluster over two real consumers of one group whose stores overlap."""

    def split(self, consumers):
        """Both members' /partitions once the group has split the topic
        between them (disjoint, covering), else None."""
        ps = [c.partitions() for c in consumers]
        owned = [set(p["owned"]) for p in ps]
        whole = set(range(TOPIC_PARTITIONS))
        if all(owned) and not owned[0] & owned[1] and owned[0] | owned[1] == whole:
            return ps
        return None

    def test_cluster_members_answer_for_their_partitions(self):
        # served: split by partition; wholes: the same records in one store
        # (what each member held before the group split the partitions)
        stores = [build_store("part-a", 6000, 3000, seed=1, partitions=TOPIC_PARTITIONS),
                  build_store("part-b", 6000, 3000, seed=2, partitions=TOPIC_PARTITIONS)]
        wholes = [build_store("whole-a", 6000, 3000, seed=1),
                  build_store("whole-b", 6000, 3000, seed=2)]
        group = pxtest.unique_org("http-cluster")
        consumers = [Consumer(s, group=group, wait_assigned=False) for s in stores]
        try:
            cluster = ",".join(c.endpoint() for c in consumers)
            ps = pxtest.wait_for(lambda: self.split(consumers), 90,
                                 "the group's partitions split over both consumers")
            owner = {}
            for i, p in enumerate(ps):
                self.assertEqual((p["partitions"], p["restoring"]), (TOPIC_PARTITIONS, []))
                self.assertRegex(p["assignment"], "^[0-9a-f]{16}$")
                owner.update((n, i) for n in p["owned"])

            def mine(i, r):
                return owner[pxtest.java_partition(regdom(r["rrname"]), TOPIC_PARTITIONS)] == i

            com = [query(s, "--limit", "1000000", "rrset", "*.com")[0] for s in wholes]
            keys = [set(record_key(r) for r in p) for p in com]
            # each member's local store: its partitions' records only
            for i, s in enumerate(stores):
                local = query(s, "--limit", "1000000", "rrset", "*.com")[0]
                self.assertEqual(sorted(local, key=canonical),
                                 sorted((r for r in com[i] if mine(i, r)), key=canonical))
            both = keys[0] & keys[1]
            # each saw records the other did not, and they share some
            self.assertTrue(both and keys[0] - keys[1] and keys[1] - keys[0])
            cname = sorted(k for k in both if k[1] == "CNAME")[0]
            address = sorted(k for k in both if k[1] == "A")[0]
            for lookup in (("rrset", "*.com"), ("rrset", "*.net"), ("rrset", cname[0]),
                           ("rdata", cname[2]), ("rdata", address[2])):
                parts = [query(s, "--limit", "1000000", *lookup)[0] for s in wholes]
                # each record from its owner's store only: never both added
                want = python_cluster_merge(
                    [[r for r in parts[i] if mine(i, r)] for i in range(2)])
                self.assertTrue(want, lookup)
                got, err, rc = query(stores[0], "--cluster", cluster, "--limit", "1000000",
                                     *lookup)
                self.assertEqual((rc, err), (0, ""))
                self.assertEqual(got, want, lookup)
            # a record both stores hold, with different counts: the owner's
            shared = [k for k in both
                      if [next(r["count"] for r in p if record_key(r) == k) for p in com][0]
                      != [next(r["count"] for r in p if record_key(r) == k) for p in com][1]]
            self.assertTrue(shared)
            k = shared[0]
            i = owner[pxtest.java_partition(regdom(k[0]), TOPIC_PARTITIONS)]
            got, err, rc = query(stores[0], "--cluster", cluster, "rrset", k[0], k[1])
            self.assertEqual((rc, err), (0, ""))
            self.assertEqual([r["count"] for r in got if record_key(r) == k],
                             [r["count"] for r in com[i] if record_key(r) == k])

            # an rrset lookup reaches its owner only; rdata both
            def counts(endpoint):
                return [c.metric('pdnsx_query_requests_total{endpoint="%s"}' % endpoint)
                        for c in consumers]
            before = {e: counts(e) for e in ("rrset", "rdata", "partitions")}
            i = owner[pxtest.java_partition(regdom(cname[0]), TOPIC_PARTITIONS)]
            self.assertEqual(query(stores[0], "--cluster", cluster, "rrset",
                                   cname[0].upper() + ".")[2], 0)
            self.assertEqual(query(stores[0], "--cluster", cluster, "rdata", address[2])[2], 0)
            after = {e: counts(e) for e in before}
            self.assertEqual([a - b for a, b in zip(after["rrset"], before["rrset"])],
                             [1 if j == i else 0 for j in range(2)])
            self.assertEqual([a - b for a, b in zip(after["rdata"], before["rdata"])], [1, 1])
            self.assertEqual([a - b for a, b in zip(after["partitions"], before["partitions"])],
                             [2, 2])

            # members that cut their answers are named
            got, err, rc = query(stores[0], "--cluster", cluster, "--limit", "10", "rrset", "*.com")
            self.assertEqual(rc, 0, err)
            self.assertEqual(len(got), 10)
            self.assertIn("2 consumers (%s first) cut their answers at the limit of 10 records"
                          % consumers[0].endpoint(), err)
            self.assertIn("may be incomplete", err)
            self.assertIn("answer cut at the limit of 10 records", err)
            # at the smaller member's count, the larger one cuts its answer
            # and the smaller one's is whole
            sizes = [len([r for r in com[i] if mine(i, r)]) for i in range(2)]
            self.assertNotEqual(sizes[0], sizes[1])
            big = sizes.index(max(sizes))
            got, err, rc = query(stores[0], "--cluster", cluster, "--limit", str(min(sizes)),
                                 "rrset", "*.com")
            self.assertEqual(rc, 0, err)
            self.assertEqual(len(got), min(sizes))
            self.assertIn("pdnsx-query: %s cut its answer at the limit of %d records: the merged "
                          "answer may be incomplete" % (consumers[big].endpoint(), min(sizes)),
                          err)
            # a member down: no answer rather than half of one
            consumers[1].close()
            consumers = consumers[:1]
            got, err, rc = query(stores[0], "--cluster", cluster, "rrset", cname[0])
            self.assertEqual((rc, got), (1, []))
            self.assertIn(cluster.split(",")[1], err)
        finally:
            for c in consumers:
                c.close()


class StreamingTest(unittest.TestCase):
    """Item 4: wildcard answers over a big store stream."""

    def test_16_wildcard_answers_stream(self):
        store = big_store()
        n_com = len(query(store, "--limit", "1000000", "rrset", "*.com")[0])
        self.assertGreater(n_com, 20000)
        one = query(store, "rrset", "*.com", "--limit", "1")[0][0]["rrname"]
        env = dict(os.environ)
        # under ASan, freed memory waits in a quarantine (256 MiB): it
        # would count as growth here
        env["ASAN_OPTIONS"] = env.get("ASAN_OPTIONS", "") + ":quarantine_size_mb=0"
        c = Consumer(store, env=env)
        socks = []
        try:
            timed_get("http://127.0.0.1:%d/rrset/%s" % (c.qport, one))
            base = c.rss_anon_kib()
            for i in range(16):
                # each from an address of its own: http.max_per_client is 16,
                # and the lookup below comes from 127.0.0.1
                s = socket.create_connection(("127.0.0.1", c.qport),
                                             source_address=("127.0.0.%d" % (100 + i), 0))
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
                s.sendall(b"GET /rrset/*.com?limit=1000000 HTTP/1.1\r\nHost: t\r\n"
                          b"Connection: close\r\n\r\n")
                socks.append(s)
            got = [b""] * 16
            done = [False] * 16
            peak = base
            rounds = 0
            one_took = None
            while not all(done):
                # the clients read in turns, 64 KiB at a time: every answer is
                # under way at once
                for i, s in enumerate(socks):
                    if done[i]:
                        continue
                    s.settimeout(30)
                    data = s.recv(65536)
                    if not data:
                        done[i] = True
                    got[i] += data
                rounds += 1
                peak = max(peak, c.rss_anon_kib())
                if rounds == 2:
                    _, body, one_took = timed_get("http://127.0.0.1:%d/rrset/%s" % (c.qport, one))
                    self.assertTrue(body)
            total = sum(len(g) for g in got)
            print("16 answers, %d bytes in all, %d rounds; consumer RssAnon %d KiB -> peak %d KiB;"
                  " a one-name lookup meanwhile took %.3f s" % (total, rounds, base, peak,
                                                                one_took), file=sys.stderr)
            for g in got:
                head, body = g.split(b"\r\n\r\n", 1)
                self.assertIn(b"Transfer-Encoding: chunked", head)
                self.assertTrue(body.endswith(b"\r\n0\r\n\r\n"), body[-80:])
                self.assertEqual(body.count(b'"rrname"'), n_com)
            self.assertGreater(total, 16 * 4 << 20)
            # a whole answer (5 MB) in memory per client would be 80 MB
            self.assertLess(peak - base, 20 << 10, "memory grew with the answers")
            self.assertLess(one_took, 1.0)
        finally:
            for s in socks:
                s.close()
            c.close()


if __name__ == "__main__":
    unittest.main()
