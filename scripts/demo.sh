#!/usr/bin/env bash
# The demo, from a fresh Debian 12 machine (run as root): installs what is
# needed, builds, starts pdnsx-broker (a Kafka-protocol broker on loopback,
# nothing else needed), replays a bundled capture through pdnsx-producer and
# shows what was published.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"

PDNSX_SKIP_KAFKA=1 bash scripts/setup.sh
cmake -S . -B build -G Ninja >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
bin=build/bin
capture=${1:-etc/demo/demo.pcap}

work=$(mktemp -d)
broker_pid=
cleanup() {
  [ -n "$broker_pid" ] && kill "$broker_pid" 2>/dev/null && wait "$broker_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

# The broker prints its bootstrap list as its first line.
mkfifo "$work/broker.out"
"$bin/pdnsx-broker" --topic pdnsx.obs.demo-org:4 >"$work/broker.out" &
broker_pid=$!
exec 3<"$work/broker.out"
read -r brokers <&3
echo "== pdnsx-broker listening on $brokers"

echo "== pdnsx-producer: $capture -> topic pdnsx.obs.demo-org"
"$bin/pdnsx-producer" -s 'org="demo-org"' -s 'sensor="demo"' \
  -s "inputs=({type=\"pcap-file\"; path=\"$capture\";})" \
  -s "kafka.brokers=\"$brokers\""

echo "== what was published (pdnsx-tail; windows merged per record, top 12 of each type)"
"$bin/pdnsx-tail" -b "$brokers" -t pdnsx.obs.demo-org -e >"$work/published.jsonl"
/usr/bin/python3 - "$work/published.jsonl" <<'PY'
import json, sys, time
recs = [json.loads(l) for l in open(sys.argv[1])]
merged = {}
for r in recs:
    k = (r["rrname"], r["rrtype"], r["rdata"])
    m = merged.setdefault(k, dict(r))
    if m is not r and m.get("_seen"):
        m["count"] += r["count"]
        m["time_first"] = min(m["time_first"], r["time_first"])
        m["time_last"] = max(m["time_last"], r["time_last"])
    m["_seen"] = True
print("%d Kafka messages (one per record and window), %d distinct records, %d registered "
      "domains, %d responses' worth of answers\n" % (
          len(recs), len(merged), len({r["key"] for r in recs}), sum(r["count"] for r in recs)))
fmt = "%-32s %-5s %-38s %6s  %-8s %-8s"
print(fmt % ("rrname", "type", "rdata", "count", "first", "last"))
by_type = {}
for m in merged.values():
    by_type.setdefault(m["rrtype"], []).append(m)
for t in sorted(by_type):
    for m in sorted(by_type[t], key=lambda m: -m["count"])[:12]:
        print(fmt % (m["rrname"][:32], t, m["rdata"][:38], m["count"],
                     time.strftime("%H:%M:%S", time.gmtime(m["time_first"])),
                     time.strftime("%H:%M:%S", time.gmtime(m["time_last"]))))
PY
