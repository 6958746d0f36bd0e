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
"$bin/pdnsx-producer" -c etc/pdnsx-producer.conf \
  -s 'org="demo-org"' -s 'sensor="demo"' \
  -s "inputs=({type=\"pcap-file\"; path=\"$capture\";})" \
  -s "kafka.brokers=\"$brokers\"" -s 'metrics.listen=""' -s 'spool.path=""'

echo "== what was published (pdnsx-tail, the 25 most seen of each type)"
"$bin/pdnsx-tail" -b "$brokers" -t pdnsx.obs.demo-org -e >"$work/published.jsonl"
/usr/bin/python3 - "$work/published.jsonl" <<'PY'
import json, sys, time
recs = [json.loads(l) for l in open(sys.argv[1])]
print("%d observations, %d responses' worth of records, %d registered domains\n" % (
    len(recs), sum(r["count"] for r in recs), len({r["key"] for r in recs})))
fmt = "%-34s %-5s %-40s %7s %7s  %s"
print(fmt % ("rrname", "type", "rdata", "count", "clients", "first seen (UTC)"))
by_type = {}
for r in recs:
    by_type.setdefault(r["rrtype"], []).append(r)
for t in sorted(by_type):
    for r in sorted(by_type[t], key=lambda r: -r["count"])[:25]:
        print(fmt % (r["rrname"][:34], t, r["rdata"][:40], r["count"],
                     "-" if r["clients"] is None else r["clients"],
                     time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(r["time_first"]))))
PY
