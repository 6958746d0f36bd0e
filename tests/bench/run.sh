#!/usr/bin/env bash
# Benchmark pdnsx-producer against the cost of merely reading its input.
#
#   tests/bench/run.sh            # 1,000,000 responses, seed 1
#   N=200000 RUNS=3 tests/bench/run.sh
#
# Builds a Release tree in build-bench/ if needed, generates the capture once
# into tests/bench/data/ (gitignored; regenerated when N or SEED change), then
# runs each case pinned to one core under /usr/bin/time -v and prints a table
# plus markdown rows to paste into the docs (nothing is written to docs).
set -euo pipefail

# ---------------------------------------------------------------------------
# How the producer is run. Its command line is decided by the producer's
# author; export these two templates to try other settings.
# They are shell words, expanded with eval after substituting:
#   @TYPE@     input type: pcap-file or dnstap-file
#   @FILE@     input path (no spaces or quotes in it)
#   @BROKERS@  bootstrap list printed by pdnsx-broker (Kafka case only)
# "Kafka off" is kafka.enabled=false: the producer parses, filters,
# aggregates and Avro-encodes everything and publishes nothing.
PRODUCER_OFF_ARGS=${PRODUCER_OFF_ARGS-"-s 'org=\"bench\"' -s 'inputs=({type=\"@TYPE@\"; path=\"@FILE@\";})' -s 'kafka.enabled=false'"}
PRODUCER_KAFKA_ARGS=${PRODUCER_KAFKA_ARGS-"-s 'org=\"bench\"' -s 'inputs=({type=\"@TYPE@\"; path=\"@FILE@\";})' -s 'kafka.brokers=\"@BROKERS@\"'"}
# ---------------------------------------------------------------------------

N=${N:-1000000}          # responses in the capture
SEED=${SEED:-1}          # generator seed
RUNS=${RUNS:-1}          # runs per case; the fastest counts
CPU=${CPU:-1}            # core to pin to (taskset -c)
TOPIC=${TOPIC:-pdnsx.obs.bench:4}

root=$(cd "$(dirname "$0")/../.." && pwd)
build=$root/build-bench
data=$root/tests/bench/data
logs=$data/logs
mkdir -p "$logs"

die() { echo "run.sh: $*" >&2; exit 1; }
[ -x /usr/bin/time ] || die "/usr/bin/time is missing (apt-get install time)"
command -v taskset >/dev/null || die "taskset is missing (util-linux)"
if [ "$(nproc)" -le "$CPU" ]; then CPU=0; fi

# --- build -------------------------------------------------------------------
if [ ! -f "$build/CMakeCache.txt" ]; then
    cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
# Build everything; if the producer does not build yet, the kit still does.
if ! cmake --build "$build" -j2 >"$logs/build.log" 2>&1; then
    echo "note: full Release build failed (see $logs/build.log); building the bench kit only"
    cmake --build "$build" -j2 --target pdnsx-gencap pdnsx-bench-pcapread pdnsx-bench-fstrmread \
        >>"$logs/build.log" 2>&1 || die "cannot build the bench kit, see $logs/build.log"
fi

# --- data ----------------------------------------------------------------------
pcap=$data/bench.pcap
dnstap=$data/bench.dnstap
summary=$data/gencap.txt
stamp="n=$N seed=$SEED gencap=$(cksum <"$root/tests/bench/gencap.c")"
if [ ! -s "$pcap" ] || [ ! -s "$dnstap" ] || [ "$(cat "$data/stamp" 2>/dev/null)" != "$stamp" ]; then
    echo "generating $N responses (seed $SEED) into $data ..."
    rm -f "$data/stamp"
    /usr/bin/time -v "$build/bench/pdnsx-gencap" -n "$N" -s "$SEED" -o "$pcap" -d "$dnstap" \
        >"$summary" 2>"$logs/gencap.time" || die "pdnsx-gencap failed"
    echo "$stamp" >"$data/stamp"
fi
field() { awk -v k="$1" '$1 == k { print $2; exit }' "$summary"; }
responses=$(field responses)
keys=$(field distinct_keys)
echo "capture: $responses responses, $keys distinct keys expected to pass the filter," \
     "$(field distinct_key_windows_60s) (key, 60 s window) pairs;" \
     "pcap $(field pcap_bytes) B, dnstap $(field dnstap_bytes) B"

# --- measuring -----------------------------------------------------------------
# measure NAME CMD...: runs CMD RUNS times; sets wall, user, rss_kb of the
# fastest run; returns the command's exit status.
measure() {
    local name=$1; shift
    local best="" i st w u r t0 t1
    for ((i = 0; i < RUNS; i++)); do
        st=0
        # Wall time to the microsecond (/usr/bin/time says 10 ms steps,
        # too coarse for a 0.1 s baseline); it includes the ~1 ms of
        # starting taskset and time, alike for every case.
        t0=$(date +%s%N)
        taskset -c "$CPU" /usr/bin/time -v -o "$logs/$name.time" "$@" \
            >"$logs/$name.out" 2>"$logs/$name.err" || st=$?
        t1=$(date +%s%N)
        [ "$st" -eq 0 ] || return "$st"
        w=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", (b - a) / 1e9 }')
        u=$(awk -F': ' '/User time/ { print $2 }' "$logs/$name.time")
        r=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$logs/$name.time")
        if [ -z "$best" ] || awk -v a="$w" -v b="$best" 'BEGIN { exit !(a < b) }'; then
            best=$w wall=$w user=$u rss_kb=$r
        fi
    done
}

rows=()
declare -A rate_of
# row NAME BASELINE: one table line from the last measure
row() {
    local name=$1 base=$2
    local rate ratio
    rate=$(awk -v n="$responses" -v w="$wall" 'BEGIN { if (w > 0) printf "%.0f", n / w; else print "n/a" }')
    rate_of[$name]=$rate
    ratio=$(awk -v a="$rate" -v b="${rate_of[$base]:-0}" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
    rows+=("$name|$rate|$ratio|$(awk -v k="$rss_kb" 'BEGIN { printf "%.1f", k / 1024 }')|$(awk -v k="$rss_kb" -v n="$keys" 'BEGIN { printf "%.0f", (n > 0 ? k * 1024 / n : 0) }')|$wall|$user")
}

skip() { rows+=("$1|skipped: $2||||||"); echo "skipped $1: $2"; }

echo "measuring on core $CPU, $RUNS run(s) each ..."
measure pcap-read "$build/bench/pdnsx-bench-pcapread" "$pcap" || die "pcap baseline failed"
row pcap-read pcap-read
measure fstrm-read "$build/bench/pdnsx-bench-fstrmread" "$dnstap" || die "fstrm baseline failed"
row fstrm-read fstrm-read

producer=$build/bin/pdnsx-producer
# run_producer NAME BASELINE TEMPLATE TYPE FILE [BROKERS]
run_producer() {
    local name=$1 base=$2 tmpl=$3 type=$4 file=$5 brokers=${6:-} args st=0
    tmpl=${tmpl//@TYPE@/$type}
    tmpl=${tmpl//@FILE@/$file}
    tmpl=${tmpl//@BROKERS@/$brokers}
    eval "args=($tmpl)"
    measure "$name" "$producer" "${args[@]}" || st=$?
    if [ "$st" -ne 0 ]; then
        skip "$name" "pdnsx-producer exit $st, see $logs/$name.err"
        return 0
    fi
    row "$name" "$base"
}

if [ ! -x "$producer" ]; then
    skip producer "$producer is missing (not built yet)"
else
    run_producer producer-pcap pcap-read "$PRODUCER_OFF_ARGS" pcap-file "$pcap"
    run_producer producer-dnstap fstrm-read "$PRODUCER_OFF_ARGS" dnstap-file "$dnstap"
    broker=$build/bin/pdnsx-broker
    if [ ! -x "$broker" ]; then
        skip producer-kafka "$broker is missing"
    else
        exec {bfd}< <(exec "$broker" --topic "$TOPIC" 2>"$logs/broker.err")
        bpid=$!
        trap 'kill "$bpid" 2>/dev/null || true' EXIT
        if read -r -t 30 -u "$bfd" bootstrap && [ -n "$bootstrap" ]; then
            run_producer producer-pcap-kafka pcap-read "$PRODUCER_KAFKA_ARGS" pcap-file "$pcap" "$bootstrap"
            run_producer producer-dnstap-kafka fstrm-read "$PRODUCER_KAFKA_ARGS" dnstap-file "$dnstap" "$bootstrap"
        else
            skip producer-kafka "pdnsx-broker printed no bootstrap list, see $logs/broker.err"
        fi
        kill "$bpid" 2>/dev/null || true
        wait "$bpid" 2>/dev/null || true
        exec {bfd}<&-
        trap - EXIT
    fi
fi

# --- report --------------------------------------------------------------------
echo
printf '%-22s %12s %7s %9s %11s %8s %8s\n' case "responses/s" "x base" "RSS MiB" "RSS B/key" "wall s" "user s"
for r in "${rows[@]}"; do
    IFS='|' read -r c rate ratio rss per wall_s user_s <<<"$r"
    if [[ $rate == skipped:* ]]; then
        printf '%-22s %s\n' "$c" "$rate"
    else
        printf '%-22s %12s %7s %9s %11s %8s %8s\n' "$c" "$rate" "$ratio" "$rss" "$per" "$wall_s" "$user_s"
    fi
done
echo
echo "markdown rows ($responses responses, $keys distinct keys, seed $SEED, $(date -u +%F), $(uname -m)):"
echo "| case | responses/s | vs read | peak RSS MiB | RSS B/key |"
echo "|---|---:|---:|---:|---:|"
for r in "${rows[@]}"; do
    IFS='|' read -r c rate ratio rss per _ _ <<<"$r"
    [[ $rate == skipped:* ]] && continue
    echo "| $c | $rate | $ratio | $rss | $per |"
done
