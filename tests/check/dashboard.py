#!/usr/bin/env python3
"""check/dashboard: every metric the Grafana dashboard queries is one the
programs export.

The metric names are taken from the dashboard's PromQL expressions (every
"expr" of its panels and the "query" of its template variables: each
pdnsx_* identifier). The exported names are scraped from the real
daemons' /metrics: pdnsx-producer and pdnsx-consumer started on the
example configurations in etc/ (with the paths, ports and brokers of a
test: librdkafka's mock cluster, a dnstap socket, a spool, a store, the
jsonl alert sink), each HELP/TYPE line and sample counting, so that a
labelled family with no series yet counts too. Exit 1 naming each
metric the dashboard queries that neither program exports. With --doc,
the code blocks of a document's "## Monitoring" section (the example
alerting rules of docs/OPERATIONS.md) are held to the same.

  dashboard.py --bin BUILD/bin --src ROOT --dashboard FILE [--doc FILE]
               [--expect-missing N]

--expect-missing N: succeed only if exactly N are missing (the check's
own test, on a fixture that queries a metric nobody exports)."""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))
import pxtest  # noqa: E402

METRIC = re.compile(r"\b(pdnsx_[A-Za-z0-9_]+)\b")
WAIT_S = 30


def queried(node, out):
    """Every pdnsx_* name in the dashboard's expressions and queries."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k in ("expr", "query", "definition") and isinstance(v, str):
                out.update(METRIC.findall(v))
            else:
                queried(v, out)
    elif isinstance(node, list):
        for v in node:
            queried(v, out)
    return out


def documented(path):
    """pdnsx_* names in the code blocks of the "## Monitoring" section."""
    with open(path) as f:
        text = f.read()
    m = re.search(r"^## Monitoring\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    if not m:
        raise SystemExit("dashboard: %s has no \"## Monitoring\" section" % path)
    names = set()
    for block in re.findall(r"^```[a-z]*\n(.*?)^```", m.group(1), re.S | re.M):
        names.update(METRIC.findall(block))
    return names


def exported(port):
    """Names on /metrics: sample names (labels cut) and HELP/TYPE names."""
    names = set()
    try:
        import urllib.request
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5) as r:
            text = r.read().decode()
    except OSError:
        return names
    for line in text.splitlines():
        if line.startswith("# TYPE ") or line.startswith("# HELP "):
            names.add(line.split()[2])
        elif line and not line.startswith("#"):
            names.add(re.split(r"[{ ]", line, 1)[0])
    return names


def start(args, cmd, log):
    def launch(port):
        return subprocess.Popen(cmd + ["-s", 'metrics.listen="127.0.0.1:%d"' % port],
                                stdout=log, stderr=subprocess.STDOUT)
    proc, (port,) = pxtest.serve(launch)
    return proc, port


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--src", required=True)
    ap.add_argument("--dashboard", required=True)
    ap.add_argument("--doc")
    ap.add_argument("--expect-missing", type=int, default=0)
    a = ap.parse_args()
    with open(a.dashboard) as f:
        want = queried(json.load(f), set())
    if not want:
        print("dashboard: %s queries no pdnsx metric" % a.dashboard)
        return 1
    if a.doc:
        want |= documented(a.doc)
    pxtest.BIN = a.bin
    tmp = tempfile.mkdtemp(prefix="pdnsx-dashboard-")
    procs = []
    broker = pxtest.Broker()
    try:
        log = open(os.path.join(tmp, "daemons.log"), "w")
        common = ["-s", 'kafka.brokers="%s"' % broker.bootstrap]
        prod, pport = start(a, [os.path.join(a.bin, "pdnsx-producer"), "-c",
                                os.path.join(a.src, "etc", "pdnsx-producer.conf")] + common + [
            "-s", 'inputs=({type="dnstap-unix"; path="%s/dnstap.sock";})' % tmp,
            "-s", 'spool.path="%s/spool"' % tmp], log)
        procs.append(prod)
        cons, cport = start(a, [os.path.join(a.bin, "pdnsx-consumer"), "-c",
                                os.path.join(a.src, "etc", "pdnsx-consumer.conf")] + common + [
            "-s", 'store.path="%s/store"' % tmp,
            "-s", 'alerts.jsonl="%s/alerts.jsonl"' % tmp, "-s", "run.exit_idle=0"], log)
        procs.append(cons)
        # families are declared as each part starts: poll, with a deadline
        deadline = time.monotonic() + WAIT_S
        while True:
            have = exported(pport) | exported(cport)
            missing = sorted(want - have)
            if len(missing) <= a.expect_missing or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    finally:
        status = []
        for p in procs:
            p.terminate()
            status.append(p.wait(timeout=60))
        broker.close()
        shutil.rmtree(tmp, ignore_errors=True)
    if any(status):
        print("dashboard: a daemon exited %s on SIGTERM" % status)
        return 1
    for m in missing:
        print("dashboard: %s queried by %s%s: no program exports it" % (
            m, a.dashboard, " or " + a.doc if a.doc else ""))
    print("dashboard: %d metrics queried, %d missing" % (len(want), len(missing)))
    return 0 if len(missing) == a.expect_missing else 1


if __name__ == "__main__":
    sys.exit(main())
