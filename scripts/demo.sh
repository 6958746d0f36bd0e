#!/usr/bin/env bash
# The demo, from a fresh Debian 12 machine (run as root): installs what is
# needed, builds, and runs the whole path on one machine with nothing else
# installed: pdnsx-broker (a Kafka-protocol broker on loopback), producers of
# three organisations replaying bundled captures, pdnsx-consumer merging them
# with a GeoIP country database, then a few pdnsx-query lookups.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"

PDNSX_SKIP_KAFKA=1 bash scripts/setup.sh
cmake -S . -B build -G Ninja >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
bin=build/bin
geoip=$(tests/geoip/fetch-geoip.sh)

work=$(mktemp -d)
broker_pid=
cleanup() {
  [ -n "$broker_pid" ] && kill "$broker_pid" 2>/dev/null && wait "$broker_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

# The broker prints its bootstrap list as its first line.
mkfifo "$work/broker.out"
"$bin/pdnsx-broker" --topic pdnsx.obs.org-a:4 --topic pdnsx.obs.org-b:4 \
  --topic pdnsx.obs.org-c:4 --topic pdnsx.dlq:4 >"$work/broker.out" 2>"$work/broker.log" &
broker_pid=$!
exec 3<"$work/broker.out"
read -r brokers <&3
say "pdnsx-broker listening on $brokers"

for org in org-a org-b org-c; do
  say "pdnsx-producer of $org: etc/demo/$org.pcap -> pdnsx.obs.$org"
  "$bin/pdnsx-producer" -s "org=\"$org\"" -s 'sensor="demo"' \
    -s "inputs=({type=\"pcap-file\"; path=\"etc/demo/$org.pcap\";})" \
    -s "kafka.brokers=\"$brokers\"" 2>&1 | grep -E "responses|error" || true
done

say "pdnsx-consumer: merge the three organisations (GeoIP: $geoip)"
"$bin/pdnsx-consumer" -s "kafka.brokers=\"$brokers\"" -s "store.path=\"$work/store\"" \
  -s "geoip.country=\"$geoip\"" -s 'run.exit_idle=3' 2>&1 |
  grep -E "merged|exiting|error|warning" | tail -n 3

q() {
  say "pdnsx-query $*"
  "$bin/pdnsx-query" -s "store.path=\"$work/store\"" "$@" >"$work/q.jsonl"
  /usr/bin/python3 - "$work/q.jsonl" <<'PY'
import json, sys, time
rows = [json.loads(l) for l in open(sys.argv[1])]
fmt = "%-30s %-5s %-36s %5s  %-8s %-8s %-17s %s"
print(fmt % ("rrname", "type", "rdata", "count", "first", "last", "orgs", "country"))
for r in rows[:15]:
    print(fmt % (r["rrname"][:30], r["rrtype"], r["rdata"][:36], r["count"],
                 time.strftime("%H:%M:%S", time.gmtime(r["time_first"])),
                 time.strftime("%H:%M:%S", time.gmtime(r["time_last"])),
                 ",".join(r["orgs"]), r.get("country", "")))
if len(rows) > 15:
    print("... %d more" % (len(rows) - 15))
if rows:
    print("\nas COF JSON, the first line:\n" + json.dumps(rows[0]))
PY
}

q rrset download6.klisu.com
q rrset '*.klisu.com' A
q rdata 52.12.13.175
q rrset '*.akamaiedge.net' --after 2025-11-27T00:20:00Z

echo
echo "GeoIP: IP to country data by DB-IP (https://db-ip.com), CC BY 4.0, where fetched."
