"""Shared helpers for pdnsx integration tests (run with Debian's /usr/bin/python3).

Everything here drives the real programs: pdnsx-broker or a real Kafka
broker (PDNSX_TEST_KAFKA), pdnsx-producer, pdnsx-tail. Waiting is always
polling a condition with a deadline, never a fixed sleep.
"""
import io
import json
import os
import struct
import subprocess
import tempfile
import time
import urllib.request
from datetime import datetime, timezone

import avro.io
import avro.schema

import ports

SRC = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("PDNSX_BIN", os.path.join(SRC, "build", "bin"))
SCHEMA_PATH = os.path.join(SRC, "schemas", "observation.avsc")
# The shared corpus of captures, a sibling of the checkout.
CORPUS = os.environ.get("PDNSX_CORPUS_DIR",
                        os.path.join(os.path.dirname(SRC), "shared", "corpus"))


def wait_for(pred, timeout=30.0, what="condition", interval=0.05):
    """Polls pred() until it returns a true value; fails after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(interval)


def in_ci():
    """True in CI (CI set to anything but "", "0" or "false", as .ci/run is
    started)."""
    return os.environ.get("CI", "") not in ("", "0", "false")


def need_fixture(test, present, what):
    """A test's fixture (the shared corpus, a tool setup.sh installs) is
    missing unless `present`: the test is skipped on a developer's machine
    and fails in CI, where a skip would let the suite pass having checked
    nothing."""
    if present:
        return
    if in_ci():
        test.fail("fixture missing in CI (CI=%s): %s" % (os.environ.get("CI"), what))
    test.skipTest("fixture missing: " + what)


def fixture_present(test, path):
    """True if path exists; else False (the caller leaves out what needs
    it), and in CI a failed test."""
    if os.path.exists(path):
        return True
    if in_ci():
        test.fail("fixture missing in CI (CI=%s): %s" % (os.environ.get("CI"), path))
    print("fixture missing, part of the test left out:", path)
    return False


def free_port(avoid=()):
    """A loopback port free now, outside the kernel's ephemeral range (see
    ports.py). A server should be started on it with serve(), which makes
    sure it got the port."""
    return ports.free_port(avoid)


def serve(start, n_ports=1, protos=("tcp",), timeout=30, attempts=8):
    """Starts a server on free ports: start(*ports) starts it and returns
    its Popen. Waits until the process (or a child) serves on every port.
    If another process took one first (the server exits, or serves without
    it), the server is stopped and started again on new ports. Returns
    (proc, ports); a server that exits with every port free is a failure of
    its own (AssertionError)."""
    for _ in range(attempts):
        got = []
        while len(got) < n_ports:
            got.append(free_port(avoid=got))
        proc = start(*got)

        def state():
            states = [ports.port_state(proc.pid, p, protos) for p in got]
            if "taken" in states:
                return "taken"
            if proc.poll() is not None:
                return "exited"
            return all(s == "ours" for s in states) and "ours"
        st = wait_for(state, timeout, "a server on ports %s" % got)
        if st == "ours":
            return proc, got
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        for f in (proc.stdout, proc.stderr):
            if f:
                f.close()
        if st == "exited" and not any(ports.port_state(proc.pid, p, protos) for p in got):
            raise AssertionError("server %s exited %d on free ports %s" % (
                proc.args[0] if isinstance(proc.args, list) else proc.args, proc.returncode,
                got))
    raise AssertionError("no free ports held after %d attempts" % attempts)


# For a consumer that needs no changelog topic (kafka.changelog_topic ""):
# the tests of one member. Those of several members (test_partition_stores)
# create one: librdkafka's mock cluster writes no transaction markers, so
# only the real broker runs it.
NO_CHANGELOG = ["-s", 'kafka.changelog_topic=""']


class Broker:
    """pdnsx-broker (librdkafka's mock cluster) or the real Kafka broker the
    suite started (PDNSX_TEST_KAFKA=host:port)."""

    def __init__(self, real=False, topics=()):
        self.proc = None
        self.real = real
        if real:
            self.bootstrap = os.environ["PDNSX_TEST_KAFKA"]
            return
        args = [os.path.join(BIN, "pdnsx-broker")]
        for t in topics:
            args += ["--topic", t]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
        self.bootstrap = self.proc.stdout.readline().strip()
        if not self.bootstrap:
            raise AssertionError("pdnsx-broker printed no bootstrap list")

    def close(self):
        if self.proc:
            self.proc.terminate()
            rc = self.proc.wait(timeout=30)
            self.proc.stdout.close()
            if rc != 0:
                raise AssertionError("pdnsx-broker exited %d" % rc)
            self.proc = None


def unique_org(prefix="t"):
    """A fresh organisation id per test run: a real broker keeps topics."""
    return "%s-%x" % (prefix, int(time.time() * 1000) ^ os.getpid())


def producer_cmd(conf_sets, config=None):
    args = [os.path.join(BIN, "pdnsx-producer")]
    if config:
        args += ["-c", config]
    for s in conf_sets:
        args += ["-s", s]
    return args


def read_topic_raw(bootstrap, topic):
    """All messages of a topic as (key, partition, value bytes)."""
    out = subprocess.run([os.path.join(BIN, "pdnsx-tail"), "-b", bootstrap, "-t", topic, "-e",
                          "--raw"], capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        raise AssertionError("pdnsx-tail failed: " + out.stderr)
    msgs = []
    for line in out.stdout.splitlines():
        key, part, hexval = line.split("\t")
        msgs.append((key, int(part), bytes.fromhex(hexval)))
    return msgs


# CRC-64-AVRO, written from the specification: the second implementation
# the producer's fingerprint is checked against.
_EMPTY = 0xC15D213AA4D7A795
_TABLE = []
for _i in range(256):
    _fp = _i
    for _ in range(8):
        _fp = (_fp >> 1) ^ (_EMPTY & -(_fp & 1))
    _TABLE.append(_fp)


def crc64_avro(data):
    fp = _EMPTY
    for b in data:
        fp = (fp >> 8) ^ _TABLE[(fp ^ b) & 0xFF]
    return fp


def load_schema():
    with open(SCHEMA_PATH) as f:
        return avro.schema.parse(f.read())


def schema_fingerprint(schema):
    """CRC-64-AVRO of python3-avro's Parsing Canonical Form."""
    return crc64_avro(schema.canonical_form.encode())


def decode_messages(msgs, schema=None):
    """Decodes single-object messages with python3-avro; checks magic and
    fingerprint. Returns dicts with the key and partition added."""
    schema = schema or load_schema()
    fp = struct.pack("<Q", schema_fingerprint(schema))
    reader = avro.io.DatumReader(schema)
    out = []
    for key, part, value in msgs:
        if value[:2] != b"\xc3\x01":
            raise AssertionError("bad single-object magic: %r" % value[:2])
        if value[2:10] != fp:
            raise AssertionError("fingerprint %s != schema's %s" % (value[2:10].hex(), fp.hex()))
        buf = io.BytesIO(value[10:])
        rec = reader.read(avro.io.BinaryDecoder(buf))
        if buf.read():
            raise AssertionError("trailing bytes after datum")
        rec["_key"] = key
        rec["_partition"] = part
        out.append(rec)
    return out


def sum_by_key(recs):
    """Merges observations of several windows: counts add, times min/max."""
    acc = {}
    for r in recs:
        k = (r["rrname"], r["rrtype"], r["rdata"], r["bailiwick"])
        if k not in acc:
            acc[k] = dict(r)
            continue
        a = acc[k]
        a["count"] += r["count"]
        a["time_first"] = min(a["time_first"], r["time_first"])
        a["time_last"] = max(a["time_last"], r["time_last"])
        # distinct clients do not add across windows: the largest window's
        # count is what two runs of the same traffic can agree on
        if r.get("clients") is not None:
            a["clients"] = max(a.get("clients") or 0, r["clients"])
    return acc


def java_murmur2(data):
    """Kafka's Utils.murmur2 (Java client), for the partition contract."""
    length = len(data)
    seed = 0x9747B28C
    m = 0x5BD1E995
    r = 24
    h = (seed ^ length) & 0xFFFFFFFF
    for i in range(length // 4):
        k = struct.unpack_from("<I", data, i * 4)[0]
        k = (k * m) & 0xFFFFFFFF
        k ^= k >> r
        k = (k * m) & 0xFFFFFFFF
        h = (h * m) & 0xFFFFFFFF
        h ^= k
    tail = length & 3
    base = length & ~3
    if tail == 3:
        h ^= data[base + 2] << 16
    if tail >= 2:
        h ^= data[base + 1] << 8
    if tail >= 1:
        h ^= data[base]
        h = (h * m) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * m) & 0xFFFFFFFF
    h ^= h >> 15
    return h


def java_partition(key, partitions):
    return (java_murmur2(key.encode()) & 0x7FFFFFFF) % partitions


def metrics(port):
    """The producer's /metrics as {name: value}."""
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5) as r:
        text = r.read().decode()
    vals = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, v = line.rpartition(" ")
            vals[name] = float(v)
    return vals


def metric(port, name):
    try:
        return metrics(port).get(name, 0)
    except OSError:
        return None


def kill_all(procs):
    """Kills and reaps every process of procs still running (a test's
    tearDown: whatever the test left behind)."""
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()


def tmpdir(prefix):
    return tempfile.mkdtemp(prefix=prefix)


def merge_records(recs):
    """The merge rules, written again in python: per (rrname, rrtype,
    rdata) the summed count, first and last seen, and the organisations."""
    acc = {}
    for r in recs:
        k = (r["rrname"], r["rrtype"], r["rdata"])
        a = acc.setdefault(k, {"count": 0, "time_first": r["time_first"],
                               "time_last": r["time_last"], "orgs": set()})
        a["count"] += r["count"]
        a["time_first"] = min(a["time_first"], r["time_first"])
        a["time_last"] = max(a["time_last"], r["time_last"])
        a["orgs"].add(r["org"])
    return acc


def read_tsv(path):
    """The rows of a TSV file (pdnsx-scenario's), comments left out."""
    with open(path) as f:
        return [line.rstrip("\n").split("\t") for line in f if not line.startswith("#")]


def epoch(text):
    """RFC 3339 UTC with or without fractions of a second."""
    text = text.rstrip("Z").split(".")[0]
    return int(datetime.strptime(text, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)
               .timestamp())
