#!/usr/bin/env bash
# Benchmark detection (issue 11; docs/BENCHMARKS.md, "Detection (issue 11)"):
#
#   scripts/with-kafka.sh tests/bench/alerts.sh          # both parts, a real broker
#   tests/bench/alerts.sh                                # pdnsx-broker
#   PARTS=latency WINDOWS=10 REPEATS=3 tests/bench/alerts.sh
#   PARTS=rate SCALE=40 RUNS=4 tests/bench/alerts.sh
#
# (a) latency: live traffic through the whole chain. Three pdnsx-producers
#     (one per organisation) read dnstap-unix sockets; tests/bench/
#     alerts_live.py plays their resolvers: background responses of old
#     domains (seeded ten days back, so the warm-up is over at the default
#     detect.* settings) and REPEATS new domains that burst across the three
#     organisations, the crossing response sent 0.3 s into a producer
#     window (the producer holds it nearly the whole window: the worst
#     case). The consumer (detection at its defaults, alerts.jsonl) runs
#     throughout. For each window of WINDOWS (window.seconds), each burst:
#     the time from the crossing response's sending, and from the Kafka
#     CreateTime of its observation, to its line appearing in alerts.jsonl
#     (polled every 10 ms); median and max. The target is 2 s plus the
#     window from the sending.
# (b) rate: the consumer's merge rate with detection on (the default
#     detect.rules, the scenario's brands, known domains and MMDBs, the
#     JSON-lines sink) and off (detect.rules=[], all else the same), as
#     whole processes (start-up, group join and run.exit_idle included)
#     pinned to core CPU, each into a fresh store, over the topics the
#     scenario's producers filled (pdnsx-scenario --scale SCALE: ten days
#     of four organisations with new domains every day, A/AAAA answers
#     that GeoIP places, the bursts and the geo shift). After one warm-up
#     run, RUNS rounds of off, on, off again (off2), the order reversed
#     every other round; per round the time on/off (the cost) and off2/off
#     (the noise) in wall, CPU (user + sys) and merge span (from no message
#     read to all merged, by /metrics every 100 ms); the median of the
#     per-round ratios. The target is on/off at most 1.15. The detection-on
#     runs must raise exactly the scenario's expected alerts, the off runs
#     none.
#
# Builds a Release tree in build-bench/ (BUILD=DIR for another) if needed.
# With PDNSX_BENCH_KAFKA or PDNSX_TEST_KAFKA a broker of yours (topics are
# created by the producers: the broker's num.partitions), otherwise
# pdnsx-broker with PARTITIONS (16) per topic. Logs in tests/bench/data/alerts/.
set -euo pipefail

PARTS=${PARTS:-"latency rate"}
WINDOWS=${WINDOWS:-"10 60"}  # the producers' window.seconds, one latency run each
REPEATS=${REPEATS:-5}        # bursts per window size
RATE=${RATE:-20}             # background responses a second per organisation
SCALE=${SCALE:-100}          # pdnsx-scenario --scale (100: about 3.2 M observations)
RUNS=${RUNS:-4}              # rounds of the merge rate, each on and off
IDLE=${IDLE:-3}              # the consumer's run.exit_idle in the rate part
CPU=${CPU:-1}                # core the rate part's consumers are pinned to
PARTITIONS=${PARTITIONS:-16} # pdnsx-broker only

root=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD:-$root/build-bench}
bin=$build/bin
data=$root/tests/bench/data/alerts
logs=$data/logs
py=/usr/bin/python3
mkdir -p "$logs"

die() { echo "alerts.sh: $*" >&2; exit 1; }
for t in /usr/bin/time taskset kcat curl perl; do
    command -v "$t" >/dev/null || die "$t is missing (scripts/setup.sh installs it)"
done
[ "$(nproc)" -gt "$CPU" ] || CPU=0
[ -f "$build/CMakeCache.txt" ] ||
    cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j2 --target pdnsx-broker pdnsx-consumer pdnsx-producer pdnsx-scenario \
    >"$logs/build.log" 2>&1 || die "build failed, see $logs/build.log"

# --- broker --------------------------------------------------------------------
prefix=b$(date +%s)  # fresh topics and groups: a real broker keeps old ones
lat_orgs=("${prefix}l-a" "${prefix}l-b" "${prefix}l-c")
rate_orgs=("${prefix}r-a" "${prefix}r-b" "${prefix}r-c" "${prefix}r-d")
pids=()
cleanup() {
    local p
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
}
trap cleanup EXIT
kafka=${PDNSX_BENCH_KAFKA:-${PDNSX_TEST_KAFKA:-}}
if [ -n "$kafka" ]; then
    bootstrap=$kafka where="Kafka at $kafka"
else
    targs=()
    for o in "${lat_orgs[@]}" "${rate_orgs[@]}"; do targs+=(--topic "pdnsx.obs.$o:$PARTITIONS"); done
    exec {bfd}< <(exec "$bin/pdnsx-broker" "${targs[@]}" 2>"$logs/broker.err")
    pids+=($!)
    read -r -t 30 -u "$bfd" bootstrap && [ -n "$bootstrap" ] ||
        die "pdnsx-broker printed no bootstrap list, see $logs/broker.err"
    where="pdnsx-broker (librdkafka mock cluster), $PARTITIONS partitions a topic"
fi
echo "broker: $where; load average $(cut -d' ' -f1-3 /proc/loadavg)"

# --- helpers -------------------------------------------------------------------
free_port() { "$py" "$root/tests/integration/ports.py" free; }
metric() { # PORT NAME: the value of one counter, empty if none yet
    curl -s --max-time 1 "http://127.0.0.1:$1/metrics" 2>/dev/null | awk -v n="$2" '$1 == n { print $2 }'
}
median() {
    tr ' ' '\n' <<<"$*" | grep . | sort -g |
        awk '{ v[NR] = $1 } END { if (NR) printf "%.3f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
topics_re() { # PREFIX: the consumer's topic regex for pdnsx.obs.PREFIX-<letter>
    echo "\"^pdnsx\\\\.obs\\\\.$1-[a-z]\$\""
}
# published LOG: the observations a producer's summary line counts
published() { grep -o 'observations [0-9]*' "$1" | tail -1 | awk '{ print $2 }'; }

# ============================================================ (a) latency
latency() {
    local dir=$data/latency port cpid w o n want lg tsv=$data/latency.tsv
    rm -rf "$dir" && mkdir -p "$dir"
    : >"$tsv"
    "$py" "$root/tests/bench/alerts_live.py" seed "$dir" "${lat_orgs[@]}"
    port=$(free_port)
    "$bin/pdnsx-consumer" -s "kafka.brokers=\"$bootstrap\"" \
        -s "kafka.topics=$(topics_re "${prefix}l")" -s 'kafka.changelog_topic=""' -s "kafka.group=\"$prefix-lat\"" \
        -s "store.path=\"$dir/store\"" \
        -s "alerts.jsonl=\"$dir/alerts.jsonl\"" -s "metrics.listen=\"127.0.0.1:$port\"" \
        -s 'detect.brands=["paypal.com","apple.com","microsoft.com"]' \
        >"$logs/lat-consumer.out" 2>"$logs/lat-consumer.err" &
    cpid=$!
    pids+=("$cpid")
    # the seed: a dnstap-file producer per organisation, then wait until
    # the consumer merged it all (the history the warm-up needs comes first)
    want=0
    for o in "${lat_orgs[@]}"; do
        lg=$logs/lat-seed-${o##*-}.err
        "$bin/pdnsx-producer" -s "org=\"$o\"" -s "kafka.brokers=\"$bootstrap\"" \
            -s "inputs=({type=\"dnstap-file\"; path=\"$dir/seed-$o.dnstap\";})" \
            >/dev/null 2>"$lg" || die "seed producer failed, see $lg"
        want=$((want + $(published "$lg")))
    done
    for ((n = 0; n < 1200; n++)); do
        [ "$(metric "$port" pdnsx_consumer_merged_total)" = "$want" ] && break
        kill -0 "$cpid" 2>/dev/null || die "the consumer exited, see $logs/lat-consumer.err"
        sleep 0.1
    done
    [ "$n" -lt 1200 ] || die "the consumer did not merge the $want seed observations in 120 s"
    echo "latency: consumer up, $want seed observations merged (history from ten days ago)"
    for w in $WINDOWS; do
        local socks=() ppids=()
        for o in "${lat_orgs[@]}"; do
            "$bin/pdnsx-producer" -s "org=\"$o\"" -s "kafka.brokers=\"$bootstrap\"" \
                -s "window.seconds=$w" -s "inputs=({type=\"dnstap-unix\"; path=\"$dir/$o.sock\";})" \
                >/dev/null 2>"$logs/lat-w$w-${o##*-}.err" &
            ppids+=($!)
            pids+=($!)
            socks+=("$o=$dir/$o.sock")
        done
        for o in "${lat_orgs[@]}"; do
            for ((n = 0; n < 200; n++)); do
                [ -S "$dir/$o.sock" ] && break
                sleep 0.1
            done
            [ -S "$dir/$o.sock" ] || die "no dnstap socket for $o, see $logs/lat-w$w-${o##*-}.err"
        done
        echo "latency: window $w s, $REPEATS bursts (about $(((REPEATS + 2) * w)) s) ..."
        "$py" "$root/tests/bench/alerts_live.py" live --window "$w" --repeats "$REPEATS" \
            --rate "$RATE" --alerts "$dir/alerts.jsonl" --out "$tsv" --bootstrap "$bootstrap" \
            --topic "pdnsx.obs.${lat_orgs[2]}" "${socks[@]}" || die "alerts_live.py failed"
        kill -TERM "${ppids[@]}" 2>/dev/null || true
        wait "${ppids[@]}" 2>/dev/null || true
        rm -f "$dir"/*.sock
    done
    kill -TERM "$cpid" 2>/dev/null || true
    wait "$cpid" 2>/dev/null || true
    echo
    echo "latency to the alerts.jsonl line, seconds ($REPEATS bursts per window," \
         "$(date -u +%F), $where):"
    "$py" "$root/tests/bench/alerts_live.py" summary "$tsv"
    echo "rows (window, domain, sent, CreateTime, alert seen; epoch s): $tsv"
}

# ============================================================ (b) rate
# rate_run NAME DETECT(on|off): one pinned consumer into a fresh store; sets
# wall, cpu (user + sys), span, merged, alerts.
rate_run() {
    local name=$1 store=$data/store-$1 port spid samples=$logs/$1.samples
    local det=()
    [ "$2" = on ] || det=(-s 'detect.rules=[]')
    rm -rf "$store"
    port=$(free_port)
    : >"$samples"
    while :; do
        m=$(curl -s --max-time 1 "http://127.0.0.1:$port/metrics" 2>/dev/null |
            awk '$1 == "pdnsx_consumer_messages_total" { a = $2 } $1 == "pdnsx_consumer_merged_total" { b = $2 }
                 END { if (a != "") print a, b }') || true
        [ -n "$m" ] && echo "$(date +%s.%N) $m" >>"$samples"
        sleep 0.1
    done &
    spid=$!
    taskset -c "$CPU" /usr/bin/time -v -o "$logs/$name.time" "$bin/pdnsx-consumer" \
        -s "kafka.brokers=\"$bootstrap\"" -s "kafka.topics=$(topics_re "${prefix}r")" \
        -s 'kafka.changelog_topic=""' -s "kafka.group=\"$prefix-$name\"" -s "store.path=\"$store\"" -s "run.exit_idle=$IDLE" \
        -s 'trust.org_new_records=1000000000' -s "metrics.listen=\"127.0.0.1:$port\"" \
        -s "geoip.country=\"$sc/country.mmdb\"" -s "geoip.asn=\"$sc/asn.mmdb\"" \
        -s "detect.brands=[$(grep -v '^#' "$sc/brands.txt" | grep . | sed 's/.*/"&"/' | paste -sd,)]" \
        -s "detect.known_domains=\"$sc/known-domains.csv\"" -s "alerts.jsonl=\"$store/alerts.jsonl\"" \
        "${det[@]}" >"$logs/$name.out" 2>"$logs/$name.err" || die "consumer $name failed, see $logs/$name.err"
    kill "$spid" 2>/dev/null || true
    wait "$spid" 2>/dev/null || true
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, p, ":"); s = 0;
             for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s }' "$logs/$name.time")
    cpu=$(awk -F': ' '/User time|System time/ { s += $2 } END { print s }' "$logs/$name.time")
    span=$(awk -v n="$N" '$2 == 0 { t0 = $1 } $3 >= n && t1 == "" { t1 = $1 }
                          END { if (t0 != "" && t1 != "") printf "%.3f", t1 - t0 }' "$samples")
    merged=$(grep -o 'merged [0-9]*' "$logs/$name.err" | tail -1 | awk '{ print $2 }')
    alerts=0
    [ ! -f "$store/alerts.jsonl" ] || alerts=$(wc -l <"$store/alerts.jsonl")
    rm -rf "$store"
}

per() { awk -v n="$1" -v t="$2" 'BEGIN { if (t > 0) printf "%.0f", n / t }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a != "" && b > 0) printf "%.3f", a / b }'; }

rate() {
    sc=$data/scenario-x$SCALE
    if [ ! -f "$sc/known-domains.csv" ]; then
        rm -rf "$sc"
        "$bin/pdnsx-scenario" -o "$sc" -x "$SCALE" --mmdb-writer "$root/tests/geoip/make-mmdb.pl" \
            >"$logs/scenario.out" 2>&1 || die "pdnsx-scenario failed, see $logs/scenario.out"
    fi
    local expect i=0 o r s f q want ok rows=()
    expect=$(grep -vc '^#' "$sc/expected-alerts.tsv")
    N=0
    for o in a b c d; do
        "$bin/pdnsx-producer" -s "org=\"${rate_orgs[$i]}\"" -s "kafka.brokers=\"$bootstrap\"" \
            -s "inputs=({type=\"pcap-file\"; path=\"$sc/org-$o.pcap\";})" \
            >/dev/null 2>"$logs/rate-producer-$o.err" || die "producer failed, see $logs/rate-producer-$o.err"
        N=$((N + $(published "$logs/rate-producer-$o.err")))
        i=$((i + 1))
    done
    echo "rate: pdnsx-scenario -x $SCALE published $N observations; $RUNS round(s) on core $CPU ..."
    # Not counted: the first consumer after the producers would be the only
    # one not started right after another consumer's exit (tests/bench/
    # README.md, SETTLE: a VM that hands freed pages back to its host).
    rate_run warmup off
    # Each round: off, on, off again (off2), the order reversed every other
    # round; on/off is the cost, off2/off the noise of the same rounds.
    declare -A W C S R
    for ((r = 0; r < RUNS; r++)); do
        order="off on off2"
        ((r % 2)) && order="off2 on off"
        for s in $order; do
            rate_run "r$r-$s" "${s%2}"
            W[$s]=$wall C[$s]=$cpu S[$s]=$span
            want=0 ok=ok
            [ "$s" != on ] || want=$expect
            [ "$merged" = "$N" ] || ok="MERGED $merged != $N"
            [ "$alerts" = "$want" ] || ok="$ok; ALERTS $alerts != $want"
            rows+=("$r|$s|$wall|$cpu|${span:-n/a}|$merged|$alerts|$ok")
            R[wall-$s]+=" $wall"
        done
        for q in on off2; do
            R[w-$q]+=" $(ratio "${W[$q]}" "${W[off]}")"
            R[c-$q]+=" $(ratio "${C[$q]}" "${C[off]}")"
            [ -z "${S[$q]}" ] || [ -z "${S[off]}" ] || R[s-$q]+=" $(ratio "${S[$q]}" "${S[off]}")"
        done
    done
    echo
    echo "merge rate, detection on against off ($N observations, pdnsx-scenario -x $SCALE, $where," \
         "run.exit_idle=$IDLE, $(date -u +%F)):"
    printf '%-6s %-5s %8s %7s %7s %9s %7s  %s\n' round side "wall s" "CPU s" "span s" merged alerts check
    for row in "${rows[@]}"; do
        IFS='|' read -r -a f <<<"$row"
        printf '%-6s %-5s %8s %7s %7s %9s %7s  %s\n' "${f[@]}"
    done
    echo "time over the same round's off run, per round (median):"
    for q in on off2; do
        echo "  $q/off: wall${R[w-$q]} ($(median "${R[w-$q]}")); CPU${R[c-$q]} ($(median "${R[c-$q]}"));" \
             "merge span${R[s-$q]} ($(median "${R[s-$q]}"))"
    done
    echo "obs/s (wall, whole process), median over rounds: on $(per "$N" "$(median "${R[wall-on]}")")," \
         "off $(per "$N" "$(median "${R[wall-off]}")")"
    echo "on/off is the cost of detection, off2/off the noise (the same binary and settings twice);"
    echo "the target: detection costs at most 15 % (on/off at most 1.15)"
}

for part in $PARTS; do
    case $part in
    latency) latency ;;
    rate) rate ;;
    *) die "unknown part $part (latency, rate)" ;;
    esac
done
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
