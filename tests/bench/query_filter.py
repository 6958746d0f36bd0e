"""The cost of a member's ownership filter (docs/INTERFACE.md, "Queries
across members"): one wildcard answer (*.com, ~24k records of a ~190k-record
store) from a consumer owning every partition (no filter) and from each of
two members of one group owning half (each record's registered domain
hashed; the others left out). pdnsx-broker with one empty topic of 4
partitions; the consumers only serve their stores. Prints the best of
ROUNDS (default 5) per consumer.

    /usr/bin/python3 tests/bench/query_filter.py BUILD_DIR [WORK_DIR]
"""
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request

build = os.path.abspath(sys.argv[1])
work = sys.argv[2] if len(sys.argv) > 2 else "/tmp/pdnsx-query-filter"
rounds = int(os.environ.get("ROUNDS", "5"))
binp = os.path.join(build, "bin")
store = os.path.join(work, "store")
os.makedirs(work, exist_ok=True)
if not os.path.exists(store):
    subprocess.run([os.path.join(build, "bench", "pdnsx-bench-store"), "-n", "600000", "-k",
                    "200000", "-b", "100000", store], check=True, stdout=subprocess.DEVNULL)
for copy in ("a", "b"):
    if not os.path.exists(store + "-" + copy):
        shutil.copytree(store, store + "-" + copy)
broker = subprocess.Popen([os.path.join(binp, "pdnsx-broker"), "--topic", "pdnsx.obs.qf:4"],
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
boot = broker.stdout.readline().strip()
procs = []


def consumer(group, port, path):
    procs.append(subprocess.Popen(
        [os.path.join(binp, "pdnsx-consumer"), "-s", 'kafka.brokers="%s"' % boot,
         "-s", 'kafka.group="%s"' % group, "-s", 'kafka.topics="pdnsx.obs.qf"',
         "-s", 'store.path="%s"' % path, "-s", 'query.listen="127.0.0.1:%d"' % port],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))


def owned(port):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/partitions" % port, timeout=5) as r:
            return json.loads(r.read())["owned"]
    except OSError:
        return []


def wait(pred, what, timeout=300):
    end = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > end:
            raise SystemExit("timed out waiting for " + what)
        time.sleep(0.2)


def best(port):
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        with urllib.request.urlopen("http://127.0.0.1:%d/rrset/*.com?limit=1000000" % port,
                                    timeout=300) as r:
            n = r.read().count(b"\n")
        times.append(time.perf_counter() - t0)
    return n, min(times)


try:
    ports = [19301, 19302, 19303]
    consumer("qf-solo", ports[0], store)
    wait(lambda: owned(ports[0]) == [0, 1, 2, 3], "the solo consumer's assignment")
    total, t = best(ports[0])
    print("owning all 4 partitions (no filter): %d records in %.3f s (%.2f us a record)"
          % (total, t, t / total * 1e6))
    consumer("qf-pair", ports[1], store + "-a")
    consumer("qf-pair", ports[2], store + "-b")
    wait(lambda: owned(ports[1]) and owned(ports[2]) and
         len(owned(ports[1])) + len(owned(ports[2])) == 4, "the pair's split")
    for p in ports[1:]:
        n, t = best(p)
        print("owning %s: %d of the %d records in %.3f s (%.2f us a record scanned)"
              % (owned(p), n, total, t, t / total * 1e6))
finally:
    for p in procs:
        p.terminate()
        p.wait()
    broker.terminate()
    broker.wait()
