"""pdnsx-consumer's dead-letter topic, metrics and exit statuses, through
the real program: kcat (a librdkafka client, as a member's producer would
be) publishes into pdnsx-broker, or the real Kafka broker with
PDNSX_TEST_REAL=1; pdnsx-consumer reads; pdnsx.dlq is read back byte for
byte with px-topic-dump, and /metrics scraped from the running consumer.

- Every dead-letter reason the consumer gives that a message can provoke
  (decode: unknown fingerprint, decode: malformed, org mismatch, including
  an org that merely starts with the topic's, invalid:, topic:) lands in
  pdnsx.dlq once, key, value and headers unchanged, with pdnsx.error,
  pdnsx.topic, pdnsx.partition and pdnsx.offset naming it.
- A 999,902-byte invalid observation (issue 9, item 1: its copy with our
  headers exceeds librdkafka's message.max.bytes) is dead-lettered cut, with
  pdnsx.truncated and its sizes; what follows it is merged, and
  run.exit_idle ends the run.
- The metrics the README lists equal what was sent.
- Exit statuses: 0 after run.exit_idle, 1 when the store is unusable, 2 on a
  bad setting.
- Real broker only: a copy the broker refuses as too large (its
  max.message.bytes below dlq.max_bytes) is sent again cut small.
"""
import io
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import time
import unittest

import avro.io

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pxtest  # noqa: E402

REAL = os.environ.get("PDNSX_TEST_REAL") == "1"
DUMP = os.path.join(os.path.dirname(pxtest.BIN), "tests", "px-topic-dump")
CONSUMER = os.path.join(pxtest.BIN, "pdnsx-consumer")
SCHEMA = pxtest.load_schema()
NOW = int(time.time())


def obs(org, **kw):
    rec = {"rrname": "www.example.com", "rrtype": "A", "rdata": "93.184.216.34",
           "bailiwick": None, "count": 1, "time_first": NOW - 600, "time_last": NOW - 540,
           "ttl_min": 300, "ttl_max": 300, "clients": None, "org": org, "sensor": "s1"}
    rec.update(kw)
    return rec


def encode(rec, fingerprint=None):
    """Avro single-object encoding, written with python3-avro."""
    buf = io.BytesIO()
    avro.io.DatumWriter(SCHEMA).write(rec, avro.io.BinaryEncoder(buf))
    fp = pxtest.schema_fingerprint(SCHEMA) if fingerprint is None else fingerprint
    return b"\xc3\x01" + struct.pack("<Q", fp) + buf.getvalue()


def big_invalid(org, size):
    """A CNAME observation whose rdata (far over 16383 bytes: invalid)
    makes the message exactly size bytes."""
    n = size
    for _ in range(4):
        body = encode(obs(org, rrname="big.example.com", rrtype="CNAME",
                          rdata="x" * (n - 12) + ".example.com"))
        if len(body) == size:
            return body
        n += size - len(body)
    raise AssertionError("cannot make a %d-byte observation" % size)


def dump(bootstrap, topic):
    out = subprocess.run([DUMP, bootstrap, topic], capture_output=True, text=True, timeout=180)
    if out.returncode != 0:
        raise AssertionError("px-topic-dump %s: %s" % (topic, out.stderr))
    msgs = []
    for line in out.stdout.splitlines():
        j = json.loads(line)
        unhex = lambda v: None if v is None else bytes.fromhex(v)  # noqa: E731
        msgs.append({"partition": j["partition"], "offset": j["offset"],
                     "key": unhex(j["key"]), "value": unhex(j["value"]),
                     "headers": [(bytes.fromhex(n).decode(), unhex(v)) for n, v in j["headers"]]})
    return msgs


def last_header(msg, name):
    vals = [v for n, v in msg["headers"] if n == name]
    return vals[-1].decode() if vals and vals[-1] is not None else None


class DeadLetter(unittest.TestCase):
    def setUp(self):
        if REAL and not os.environ.get("PDNSX_TEST_KAFKA"):
            self.skipTest("no real Kafka broker (PDNSX_TEST_KAFKA)")
        self.dir = pxtest.tmpdir("pdnsx-dlq-")
        self.broker = pxtest.Broker(real=REAL)
        self.run_id = pxtest.unique_org("d")
        self.org_a, self.org_b = self.run_id + "-a", self.run_id + "-b"
        self.next_offset = {}

    def tearDown(self):
        self.broker.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def publish(self, topic, key, body, headers=(), props=()):
        """One message with kcat to partition 0 of topic; returns its
        offset (each test's topics are new: offsets count from 0)."""
        path = os.path.join(self.dir, "msg")
        with open(path, "wb") as f:
            f.write(body)
        cmd = ["kcat", "-P", "-b", self.broker.bootstrap, "-t", topic, "-p", "0", "-k", key]
        for name, value in headers:
            cmd += ["-H", "%s=%s" % (name, value)]
        for p in props:
            cmd += ["-X", p]
        subprocess.run(cmd + [path], check=True, timeout=60, stdout=subprocess.DEVNULL)
        off = self.next_offset.get(topic, 0)
        self.next_offset[topic] = off + 1
        return off

    def consumer(self, store, extra=(), wait=True):
        cmd = [CONSUMER, "-s", 'kafka.brokers="%s"' % self.broker.bootstrap,
               *pxtest.NO_CHANGELOG, "-s", 'kafka.group="%s"' % self.run_id,
               "-s", 'kafka.topics="^pdnsx\\\\.obs\\\\.%s-.+"' % self.run_id,
               "-s", 'store.path="%s"' % store] + list(extra)
        if not wait:
            return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                    text=True)
        return subprocess.run(cmd, capture_output=True, text=True, timeout=300)

    def my_dlq(self):
        """pdnsx.dlq's copies of this test's messages, by (topic, offset)."""
        copies = {}
        for m in dump(self.broker.bootstrap, "pdnsx.dlq"):
            topic = last_header(m, "pdnsx.topic")
            if topic and topic.startswith("pdnsx.obs.%s-" % self.run_id):
                key = (topic, int(last_header(m, "pdnsx.offset")))
                copies.setdefault(key, []).append(m)
        return copies

    def test_reasons_bytes_and_metrics(self):
        a, b = "pdnsx.obs." + self.org_a, "pdnsx.obs." + self.org_b
        no_org = "pdnsx.obs.%s-Not_An_Org" % self.run_id
        fp = pxtest.schema_fingerprint(SCHEMA)
        bad = {}  # (topic, offset) -> (key, body, pdnsx.error, headers)

        def refuse(topic, key, body, error, headers=()):
            bad[(topic, self.publish(topic, key, body, headers))] = (key, body, error, headers)

        valid = [(a, obs(self.org_a, count=3)), (b, obs(self.org_b, count=4)),
                 (b, obs(self.org_b, rrname="mail.example.net", rdata="93.184.216.35"))]
        self.publish(a, "example.com", encode(valid[0][1]))
        refuse(a, "unknown.example", encode(obs(self.org_a), fingerprint=fp ^ 1),
               "decode: unknown fingerprint", [("x-trace", "7")])
        refuse(a, "garbage.example", b"hello", None)
        refuse(a, "spoof.example", encode(obs(self.org_b, count=1000000)),
               "org mismatch: record says %s, topic says %s" % (self.org_b, self.org_a))
        refuse(a, "prefix.example", encode(obs(self.org_a + "b", count=1000000)),
               "org mismatch: record says %sb, topic says %s" % (self.org_a, self.org_a))
        refuse(a, "invalid.example", encode(obs(self.org_a, count=0)),
               "invalid: count 0 below 1")
        big = big_invalid(self.org_a, 999902)
        refuse(a, "big.example", big, "invalid: ")  # a prefix: the wording is validation's
        for topic, rec in valid[1:]:
            self.publish(topic, "example.com", encode(rec))
        refuse(no_org, "example.com", encode(obs(self.org_a)),
               "topic: %s names no organisation" % no_org)
        n_msgs = len(valid) + len(bad)

        store = os.path.join(self.dir, "store")
        port = pxtest.free_port()
        proc = self.consumer(store, ["-s", 'metrics.listen="127.0.0.1:%d"' % port,
                                     "-s", "store.batch_ms=200"], wait=False)
        try:
            def settled():
                try:
                    m = pxtest.metrics(port)
                except OSError:  # not listening yet
                    return None
                done = (m.get("pdnsx_consumer_messages_total") == n_msgs
                        and m.get("pdnsx_consumer_merged_total") == len(valid)
                        and sum(v for k, v in m.items()
                                if k.startswith("pdnsx_consumer_dlq_total{")) == len(bad))
                return m if done else None
            m = pxtest.wait_for(lambda: proc.poll() is None and settled(), 120,
                                "every message merged or dead-lettered")
            self.assertEqual(m["pdnsx_consumer_messages_total"], n_msgs)
            self.assertEqual(m["pdnsx_consumer_merged_total"], len(valid))
            self.assertEqual(m['pdnsx_consumer_dlq_total{reason="decode"}'], 2)
            self.assertEqual(m['pdnsx_consumer_dlq_total{reason="org_mismatch"}'], 2)
            self.assertEqual(m['pdnsx_consumer_dlq_total{reason="invalid"}'], 2)
            self.assertEqual(m['pdnsx_consumer_dlq_total{reason="topic"}'], 1)
            self.assertEqual(m['pdnsx_consumer_dlq_total{reason="store"}'], 0)
            self.assertEqual(m["pdnsx_consumer_dlq_truncated_total"], 1)
            self.assertEqual(m["pdnsx_consumer_dlq_skipped_total"], 0)
            self.assertGreaterEqual(m["pdnsx_consumer_batches_total"], 1)
            self.assertEqual(m["pdnsx_consumer_batches_aborted_total"], 0)
            # the commits (an fsync each, and a 1 MB copy to acknowledge) took time
            self.assertGreater(m["pdnsx_consumer_commit_milliseconds_total"], 0)
            self.assertIn("pdnsx_consumer_last_commit_milliseconds", m)
            self.assertLessEqual(m["pdnsx_consumer_last_commit_milliseconds"],
                                 m["pdnsx_consumer_commit_milliseconds_total"])
            proc.send_signal(signal.SIGTERM)
            self.assertEqual(proc.wait(timeout=60), 0)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            log = proc.stderr.read()
            proc.stderr.close()

        copies = self.my_dlq()
        self.assertEqual(set(copies), set(bad), log)
        for (topic, off), (key, body, error, headers) in bad.items():
            self.assertEqual(len(copies[(topic, off)]), 1, (topic, off))  # once
            c = copies[(topic, off)][0]
            self.assertEqual(c["key"], key.encode())
            err = last_header(c, "pdnsx.error")
            if error == "invalid: ":
                self.assertTrue(err.startswith(error), err)
            elif error:
                self.assertEqual(err, error)
            else:
                self.assertTrue(err.startswith("decode: ") and "fingerprint" not in err, err)
            self.assertEqual(last_header(c, "pdnsx.topic"), topic)
            self.assertEqual(last_header(c, "pdnsx.partition"), "0")
            self.assertEqual(last_header(c, "pdnsx.offset"), str(off))
            for name, value in headers:
                self.assertEqual(c["headers"][0], (name, value.encode()))
            if body is big:
                self.assertEqual(last_header(c, "pdnsx.truncated"), "value")
                self.assertEqual(last_header(c, "pdnsx.value_size"), str(len(big)))
                self.assertEqual(last_header(c, "pdnsx.key_size"), str(len(key)))
                self.assertTrue(990000 < len(c["value"]) < len(big))
                self.assertEqual(c["value"], big[:len(c["value"])])
            else:
                self.assertEqual(c["value"], body)  # byte for byte
                self.assertIsNone(last_header(c, "pdnsx.truncated"))

        # what was merged: the three valid observations, nothing of the others
        got = subprocess.run([os.path.join(pxtest.BIN, "pdnsx-query"), "-s",
                              'store.path="%s"' % store, "rrset", "*.example.com"],
                             capture_output=True, text=True, timeout=60)
        self.assertEqual(got.returncode, 0, got.stderr)
        recs = {(r["rrname"], r["rdata"]): r for r in map(json.loads, got.stdout.splitlines())}
        self.assertEqual(set(recs), {("www.example.com", "93.184.216.34")})
        self.assertEqual(recs[("www.example.com", "93.184.216.34")]["count"], 7)
        self.assertEqual(sorted(recs[("www.example.com", "93.184.216.34")]["orgs"]),
                         [self.org_a, self.org_b])

    def test_oversized_then_exit_idle(self):
        """Issue 9, item 1 as reported: the big invalid observation first,
        valid ones after it; run.exit_idle must end the run with 0."""
        a = "pdnsx.obs." + self.org_a
        big = big_invalid(self.org_a, 999902)
        off = self.publish(a, "big.example", big)
        for i in range(3):
            self.publish(a, "example.com", encode(obs(self.org_a, count=1 + i)))
        store = os.path.join(self.dir, "store")
        out = self.consumer(store, ["-s", "run.exit_idle=3"])
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("messages 4, merged 3, dead-lettered 1 (cut 1, skipped without a copy 0)",
                      out.stderr)
        copies = self.my_dlq()
        self.assertEqual(list(copies), [(a, off)])
        self.assertEqual(len(copies[(a, off)]), 1)
        c = copies[(a, off)][0]
        self.assertEqual(last_header(c, "pdnsx.truncated"), "value")
        self.assertEqual(last_header(c, "pdnsx.value_size"), "999902")
        self.assertEqual(c["value"], big[:len(c["value"])])
        got = subprocess.run([os.path.join(pxtest.BIN, "pdnsx-query"), "-s",
                              'store.path="%s"' % store, "rrset", "www.example.com"],
                             capture_output=True, text=True, timeout=60)
        self.assertEqual(got.returncode, 0, got.stderr)
        self.assertEqual([json.loads(l)["count"] for l in got.stdout.splitlines()], [6])

    def test_exit_statuses(self):
        store = os.path.join(self.dir, "store")
        # 2: a bad setting (dlq.max_bytes below its least, 4096)
        out = self.consumer(store, ["-s", "dlq.max_bytes=100"])
        self.assertEqual(out.returncode, 2, out.stderr)
        self.assertIn("dlq.max_bytes", out.stderr)
        # 2 as well: a regular file where the store's directory should be
        # (--check finds it before anything runs)
        notdir = os.path.join(self.dir, "file")
        with open(notdir, "w") as f:
            f.write("not a store\n")
        out = self.consumer(notdir, ["-s", "run.exit_idle=1"])
        self.assertEqual(out.returncode, 2, out.stderr)
        self.assertIn("not a directory", out.stderr)
        # 1: a store that cannot be opened at run time (a partition store
        # whose data file is no LMDB file)
        bad = os.path.join(self.dir, "bad-store")
        os.makedirs(os.path.join(bad, "partition-0"))
        with open(os.path.join(bad, "LAYOUT"), "w") as f:
            f.write("pdnsx partitioned store 1\n")
        with open(os.path.join(bad, "partition-0", "data.mdb"), "wb") as f:
            f.write(bytes(range(256)) * 64)
        out = self.consumer(bad, ["-s", "run.exit_idle=1"])
        self.assertEqual(out.returncode, 1, out.stderr)
        self.assertIn("partition 0", out.stderr)
        # 1: the single store of an earlier pdnsx (data.mdb directly in
        # store.path): refused, saying what to do, and left as it was
        old = os.path.join(self.dir, "old-store")
        os.mkdir(old)
        with open(os.path.join(old, "data.mdb"), "wb") as f:
            f.write(b"old")
        out = self.consumer(old, ["-s", "run.exit_idle=1"])
        self.assertEqual(out.returncode, 1, out.stderr)
        self.assertIn("holds a single store (data.mdb) of an earlier pdnsx", out.stderr)
        self.assertIn("Move the old directory aside", out.stderr)
        self.assertEqual(sorted(os.listdir(old)), ["data.mdb"])
        # 0: run.exit_idle after everything was merged
        self.publish("pdnsx.obs." + self.org_a, "example.com", encode(obs(self.org_a)))
        out = self.consumer(store, ["-s", "run.exit_idle=2"])
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("messages 1, merged 1", out.stderr)

    @unittest.skipUnless(REAL, "the mock broker has no size limit (test_consumer covers it "
                         "with an injected error)")
    def test_broker_refuses_copy_as_too_large(self):
        """dlq.max_bytes above the broker's max.message.bytes (1048588):
        the broker refuses the copy of a message that just fit, and the
        consumer sends it again cut to 4096 bytes."""
        a = "pdnsx.obs." + self.org_a
        body = bytes(range(256)) * (1048450 // 256) + b"\0" * (1048450 % 256)
        off = self.publish(a, "big", body, props=["message.max.bytes=2000000"])
        self.publish(a, "example.com", encode(obs(self.org_a, count=5)))
        store = os.path.join(self.dir, "store")
        out = self.consumer(store, ["-s", "run.exit_idle=3", "-s", "dlq.max_bytes=2000000",
                                    "-s", 'log.level="debug"'])
        self.assertEqual(out.returncode, 0, out.stderr)
        # the broker refused the first copy (librdkafka let it through)
        self.assertIn("dead-letter topic: delivery failed: Broker: Message size too large",
                      out.stderr)
        self.assertIn("merged 1, dead-lettered 1 (cut 1, skipped without a copy 0)", out.stderr)
        self.assertIn("(abandoned 0)", out.stderr)
        copies = self.my_dlq()
        self.assertEqual(list(copies), [(a, off)])
        self.assertEqual(len(copies[(a, off)]), 1)
        c = copies[(a, off)][0]
        self.assertEqual(last_header(c, "pdnsx.truncated"), "value")
        self.assertEqual(last_header(c, "pdnsx.value_size"), str(len(body)))
        self.assertLess(len(c["value"]), 4096)
        self.assertEqual(c["value"], body[:len(c["value"])])


if __name__ == "__main__":
    unittest.main(verbosity=2)
