#!/usr/bin/env bash
# The demo, from a fresh Debian 12 machine (run as root): installs what is
# needed, builds, and runs the whole path on one machine with nothing else
# installed: pdnsx-broker (a Kafka-protocol broker on loopback), producers of
# three organisations replaying bundled captures, pdnsx-consumer merging them
# with a GeoIP country database, then a few pdnsx-query lookups. Then
# detection: pdnsx-scenario's federation (etc/demo/scenario/README.md)
# through four producers and a consumer with the scenario's GeoIP databases,
# brands and known domains, and the alerts it raises, each with the
# pdnsx-query history that explains it.
#
#   scripts/demo.sh [--bin DIR] [--geoip MMDB]
#     --bin DIR     use the programs built in DIR: no setup.sh, no build
#     --geoip MMDB  the first part's country database (default: fetched,
#                   tests/geoip/fetch-geoip.sh); with both, nothing needs
#                   root or the network (the tests run it so)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"

bin= geoip=
while [ $# -gt 0 ]; do
  case "$1" in
    --bin) bin=$(cd "$2" && pwd); shift 2 ;;
    --geoip) geoip=$2; shift 2 ;;
    *) echo "usage: $0 [--bin DIR] [--geoip MMDB]" >&2; exit 2 ;;
  esac
done
if [ -z "$bin" ]; then
  PDNSX_SKIP_KAFKA=1 PDNSX_SKIP_GEOIP=${geoip:+1} bash scripts/setup.sh
  cmake -S . -B build -G Ninja >/dev/null
  cmake --build build -j"$(nproc)" >/dev/null
  bin=build/bin
fi
[ -n "$geoip" ] || geoip=$(tests/geoip/fetch-geoip.sh)

work=$(mktemp -d)
brokers_pids=()
cleanup() {
  for pid in "${brokers_pids[@]}"; do
    kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  done
  rm -rf "$work"
}
trap cleanup EXIT

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

# start_broker NAME TOPIC...: a pdnsx-broker with these topics; its
# bootstrap list (the broker's first line of output) in $brokers. The
# FIFO stays open for reading while the broker runs.
start_broker() {
  local name=$1 args=() fd
  shift
  for t in "$@"; do args+=(--topic "$t"); done
  mkfifo "$work/$name.out"
  "$bin/pdnsx-broker" "${args[@]}" >"$work/$name.out" 2>"$work/$name.log" &
  brokers_pids+=($!)
  exec {fd}<"$work/$name.out"
  read -r brokers <&"$fd"
}

start_broker broker pdnsx.obs.org-a:4 pdnsx.obs.org-b:4 pdnsx.obs.org-c:4 pdnsx.dlq:4
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

# ---- detection: the scenario's federation and its alerts --------------------------
sc=$work/scenario
say "pdnsx-scenario: four organisations, ten days of DNS (etc/demo/scenario/README.md)"
"$bin/pdnsx-scenario" -o "$sc" --mmdb-writer tests/geoip/make-mmdb.pl | sed 's/^/  /'

# its own broker: the scenario's organisations are org-a to org-d too
start_broker scenario-broker pdnsx.obs.org-a:4 pdnsx.obs.org-b:4 pdnsx.obs.org-c:4 \
  pdnsx.obs.org-d:4 pdnsx.dlq:4 pdnsx.alerts:4
say "pdnsx-broker for the scenario listening on $brokers"
for org in org-a org-b org-c org-d; do
  say "pdnsx-producer of $org: $org.pcap -> pdnsx.obs.$org"
  "$bin/pdnsx-producer" -s "org=\"$org\"" -s 'sensor="demo"' \
    -s "inputs=({type=\"pcap-file\"; path=\"$sc/$org.pcap\";})" \
    -s "kafka.brokers=\"$brokers\"" 2>&1 | grep -E "responses|error" || true
done

brands=$(grep -v '^#' "$sc/brands.txt" | sed 's/.*/"&"/' | paste -sd, -)
say "pdnsx-consumer: merge and detect (brands [$brands], known-domains.csv, the scenario's GeoIP)"
"$bin/pdnsx-consumer" -s "kafka.brokers=\"$brokers\"" -s "store.path=\"$work/scenario-store\"" \
  -s "geoip.country=\"$sc/country.mmdb\"" -s "geoip.asn=\"$sc/asn.mmdb\"" \
  -s "detect.brands=[$brands]" -s "detect.known_domains=\"$sc/known-domains.csv\"" \
  -s "alerts.jsonl=\"$work/alerts.jsonl\"" -s 'run.exit_idle=3' 2>&1 |
  grep -E "merged|exiting|alert|error|warning" | tail -n 5

say "the alerts (alerts.jsonl), each with the pdnsx-query history that explains it"
/usr/bin/python3 - "$bin/pdnsx-query" "$work/scenario-store" "$work/alerts.jsonl" <<'PY'
import json, subprocess, sys, time
from datetime import datetime, timezone

query, store, path = sys.argv[1:4]


def epoch(text):
    return int(datetime.strptime(text.rstrip("Z").split(".")[0], "%Y-%m-%dT%H:%M:%S")
               .replace(tzinfo=timezone.utc).timestamp())


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def unicode(domain):
    try:
        u = domain.encode().decode("idna")
    except UnicodeError:
        return domain
    return domain if u == domain else "%s = %s" % (domain, u)


def history(*args):
    """pdnsx-query's answer, as a table."""
    out = subprocess.run([query, "-s", 'store.path="%s"' % store] + list(args),
                         capture_output=True, text=True, check=True).stdout
    rows = [json.loads(line) for line in out.splitlines()]
    print("\n  $ pdnsx-query %s" % " ".join(args))
    fmt = "    %-26s %-5s %-16s %6s  %-11s %-11s %-23s %s"
    print(fmt % ("rrname", "type", "rdata", "count", "first", "last", "orgs", "country/AS"))
    for r in rows[:12]:
        geo = "/".join(str(x) for x in (r.get("country"), r.get("asn")) if x is not None)
        print(fmt % (r["rrname"][:26], r["rrtype"], r["rdata"][:16], r["count"],
                     time.strftime("%d %H:%M:%S", time.gmtime(r["time_first"])),
                     time.strftime("%d %H:%M:%S", time.gmtime(r["time_last"])),
                     ",".join(r["orgs"]), geo))
    if len(rows) > 12:
        print("    ... %d more" % (len(rows) - 12))


alerts = [json.loads(line) for line in open(path)]
print("%d alerts" % len(alerts))
for a in alerts:
    p, q, t = a["pdnsx"], a["dns"]["question"], epoch(a["@timestamp"])
    print("\n\033[1mALERT %s %s\033[0m (%s)" % (a["rule"]["name"], q["name"],
                                              unicode(q["registered_domain"])))
    print("  at %s, severity %d, event.id %s" % (a["@timestamp"], a["event"]["severity"],
                                                 a["event"]["id"]))
    print("  organisations: %s" % ", ".join(p["orgs"]))
    if a["rule"]["name"] == "pdnsx.new_domain_burst":
        la = p.get("lookalike")
        print("  domain first seen %s; answers in %s (AS %s)" % (
            p["first_seen"], ", ".join(p["countries"]) or "-",
            ", ".join(map(str, p["asns"])) or "-"))
        print("  look-alike: %s" % ("of %s (%s, distance %d, skeleton %s)" % (
            la["brand"], la["method"], la["distance"], la["skeleton"]) if la else "none"))
        # the domain's names while it crossed the threshold
        history("--after", p["first_seen"], "--before", a["@timestamp"], "rrset",
                "*." + q["registered_domain"])
    else:
        new = p["new_answers"][0]
        print("  history since %s: countries %s, AS %s" % (
            p["history_first_seen"], ", ".join(p["before"]["countries"]),
            ", ".join(map(str, p["before"]["asns"]))))
        print("  new answer %s %s in %s (AS %s), first seen %s" % (
            new["type"], new["rdata"], new["country"], new.get("asn", "?"), new["first_seen"]))
        # the old answer and the new one, around the shift
        history("--after", iso(t - 3600), "--before", iso(t + 3600), "rrset", q["name"], "A")
PY

echo
echo "GeoIP: IP to country data by DB-IP (https://db-ip.com), CC BY 4.0, where fetched."
