#!/usr/bin/env bash
# Benchmark pdnsx-consumer against a plain Kafka reader of the same topics.
#
#   tests/bench/consumer.sh                       # 1,000,000 observations, 200,000 keys
#   N=200000 K=50000 BATCHES="5000" tests/bench/consumer.sh
#   PDNSX_BENCH_KAFKA=127.0.0.1:9092 tests/bench/consumer.sh   # a real broker
#   PERF=1 tests/bench/consumer.sh                # also profile one consumer run
#
# Builds a Release tree in build-bench/ if needed, starts pdnsx-broker with
# pdnsx.obs.bench-{a,b,c} (4 partitions each) unless PDNSX_BENCH_KAFKA names
# a broker (then the topics get a fresh per-run organisation prefix and are
# created with 4 partitions), publishes N observations over K distinct keys
# with pdnsx-bench-obsgen, then, pinned to one core:
#  - the floor: `kcat -C -e -o beginning -q` of each topic to /dev/null;
#  - pdnsx-consumer into a fresh store for each store.batch_records in
#    BATCHES: merged/s is N over the time from just before its first message
#    (pdnsx_consumer_messages_total still 0) to the first sample where
#    pdnsx_consumer_merged_total reaches N, sampling /metrics every 100 ms,
#    so joining the group and the run.exit_idle wait do not count;
#  - store bytes per distinct record: the data file's size (du) and its
#    in-use pages (mdb_stat: pages used minus free pages, as
#    px_store_get_stats counts) over the records in the store.
# Prints a table and markdown rows to paste; logs in tests/bench/data/consumer/.
set -euo pipefail

N=${N:-1000000}      # observations
K=${K:-200000}       # distinct (rrname, rrtype, rdata) keys
DOMAINS=${DOMAINS:-20000}
SEED=${SEED:-1}
RUNS=${RUNS:-1}      # runs per case; the fastest counts
CPU=${CPU:-1}        # core to pin to
BATCHES=${BATCHES:-"5000 50000"}
PERF=${PERF:-0}

root=$(cd "$(dirname "$0")/../.." && pwd)
build=$root/build-bench
data=$root/tests/bench/data/consumer
logs=$data/logs
mkdir -p "$logs"

die() { echo "consumer.sh: $*" >&2; exit 1; }
[ -x /usr/bin/time ] || die "/usr/bin/time is missing (apt-get install time)"
for t in taskset kcat mdb_stat curl; do
    command -v "$t" >/dev/null || die "$t is missing (scripts/setup.sh installs it)"
done
if [ "$(nproc)" -le "$CPU" ]; then CPU=0; fi

# --- build -------------------------------------------------------------------
if [ ! -f "$build/CMakeCache.txt" ]; then
    cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build "$build" -j2 --target pdnsx-broker pdnsx-consumer pdnsx-query pdnsx-bench-obsgen \
    >"$logs/build.log" 2>&1 || die "build failed, see $logs/build.log"
bin=$build/bin

# --- broker --------------------------------------------------------------------
bpid=""
cleanup() {
    [ -n "${cpid:-}" ] && kill "$cpid" 2>/dev/null || true
    [ -n "${spid:-}" ] && kill "$spid" 2>/dev/null || true
    [ -n "$bpid" ] && kill "$bpid" 2>/dev/null || true
}
trap cleanup EXIT
if [ -n "${PDNSX_BENCH_KAFKA:-}" ]; then
    bootstrap=$PDNSX_BENCH_KAFKA
    prefix=bench$(date +%s)   # fresh topics: a real broker keeps old ones
    create=(-P 4)
    where="Kafka at $bootstrap"
else
    prefix=bench
    create=()
    exec {bfd}< <(exec "$bin/pdnsx-broker" --topic pdnsx.obs.bench-a:4 --topic pdnsx.obs.bench-b:4 \
        --topic pdnsx.obs.bench-c:4 2>"$logs/broker.err")
    bpid=$!
    read -r -t 30 -u "$bfd" bootstrap && [ -n "$bootstrap" ] ||
        die "pdnsx-broker printed no bootstrap list, see $logs/broker.err"
    where="pdnsx-broker (librdkafka mock cluster, unpinned)"
fi
topics=(pdnsx.obs.$prefix-a pdnsx.obs.$prefix-b pdnsx.obs.$prefix-c)

# --- data ----------------------------------------------------------------------
echo "publishing $N observations over $K keys ($DOMAINS domains, seed $SEED) to $where ..."
/usr/bin/time -v -o "$logs/obsgen.time" "$build/bench/pdnsx-bench-obsgen" -b "$bootstrap" \
    -n "$N" -k "$K" -D "$DOMAINS" -s "$SEED" -p "$prefix" "${create[@]}" \
    >"$data/obsgen.txt" 2>"$logs/obsgen.err" || die "pdnsx-bench-obsgen failed, see $logs/obsgen.err"
sed 's/^/  /' "$data/obsgen.txt"

# --- measuring -----------------------------------------------------------------
# timed NAME CMD...: one pinned run under /usr/bin/time; sets wall and cpu
# (user + sys seconds).
timed() {
    local name=$1; shift
    taskset -c "$CPU" /usr/bin/time -v -o "$logs/$name.time" "$@" \
        >"${OUT:-$logs/$name.out}" 2>"$logs/$name.err" || return $?
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, p, ":"); s = 0;
             for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s }' "$logs/$name.time")
    cpu=$(awk -F': ' '/User time|System time/ { s += $2 } END { print s }' "$logs/$name.time")
    rss_kb=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$logs/$name.time")
}

rows=()
echo "measuring on core $CPU, $RUNS run(s) each ..."

# (a) the floor: kcat reading each topic to the end.
best=""
for ((r = 0; r < RUNS; r++)); do
    tw=0 tc=0 bytes=0
    for t in "${topics[@]}"; do
        OUT=/dev/null timed "kcat-$t" kcat -C -b "$bootstrap" -t "$t" -e -o beginning -q ||
            die "kcat failed on $t, see $logs/kcat-$t.err"
        tw=$(awk -v a="$tw" -v b="$wall" 'BEGIN { print a + b }')
        tc=$(awk -v a="$tc" -v b="$cpu" 'BEGIN { print a + b }')
    done
    if [ -z "$best" ] || awk -v a="$tw" -v b="$best" 'BEGIN { exit !(a < b) }'; then
        best=$tw kwall=$tw kcpu=$tc
    fi
done
# kcat's fixed cost (connect, metadata, offsets, noticing the end): the same
# reads from the end, i.e. of nothing. Subtracted for the "net" row, which
# is the fair comparison with the consumer's first-to-last-message span.
ewall=0
for t in "${topics[@]}"; do
    OUT=/dev/null timed "kcat-empty-$t" kcat -C -b "$bootstrap" -t "$t" -e -o end -q ||
        die "kcat failed on $t, see $logs/kcat-empty-$t.err"
    ewall=$(awk -v a="$ewall" -v b="$wall" 'BEGIN { print a + b }')
done
kcat_raw=$(awk -v n="$N" -v w="$kwall" 'BEGIN { printf "%.0f", (w > 0 ? n / w : 0) }')
knet=$(awk -v a="$kwall" -v b="$ewall" 'BEGIN { printf "%.2f", a - b }')
kcat_rate=$(awk -v n="$N" -v w="$knet" 'BEGIN { printf "%.0f", (w > 0 ? n / w : 0) }')
rows+=("kcat (3 topics)|$kcat_raw|$(awk -v a="$kcat_raw" -v b="$kcat_rate" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')|$kwall|$kcpu|$kwall||||")
rows+=("kcat net|$kcat_rate|1.00|$knet||||||minus $ewall s reading nothing")

free_port() {
    /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# sample PORT FILE: appends "time messages merged" every 100 ms until killed.
sample() {
    local port=$1 out=$2 m
    while :; do
        m=$(curl -s --max-time 1 "http://127.0.0.1:$port/metrics" 2>/dev/null |
            awk '$1 == "pdnsx_consumer_messages_total" { a = $2 }
                 $1 == "pdnsx_consumer_merged_total" { b = $2 }
                 END { if (a != "") print a, b }') || true
        [ -n "$m" ] && echo "$(date +%s.%N) $m" >>"$out"
        sleep 0.1
    done
}

# (b) + (c): the consumer, one fresh store per run.
run_consumer() {
    local batch=$1 name=consumer-b$1 r store port samples st span rate
    local bspan=""
    for ((r = 0; r < RUNS; r++)); do
        store=$data/store-b$batch
        rm -rf "$store"
        port=$(free_port)
        samples=$logs/$name.samples
        : >"$samples"
        sample "$port" "$samples" &
        spid=$!
        st=0
        timed "$name" "$bin/pdnsx-consumer" -s "kafka.brokers=\"$bootstrap\"" \
            -s "kafka.topics=\"^pdnsx\\\\.obs\\\\.$prefix-[abc]\$\"" \
            -s "kafka.group=\"pdnsx-bench-$batch-$$-$r\"" -s "store.path=\"$store\"" \
            -s "store.batch_records=$batch" -s 'run.exit_idle=3' \
            -s "metrics.listen=\"127.0.0.1:$port\"" || st=$?
        kill "$spid" 2>/dev/null || true
        wait "$spid" 2>/dev/null || true
        spid=""
        [ "$st" -eq 0 ] || { rows+=("$name|failed: exit $st, see $logs/$name.err|||||||||"); return 0; }
        # From the last sample with no message read to the first with all merged.
        span=$(awk -v n="$N" '$2 == 0 { t0 = $1 } $3 >= n && t1 == "" { t1 = $1 }
                              END { if (t0 != "" && t1 != "") printf "%.3f", t1 - t0 }' "$samples")
        merged=$(grep -o 'merged [0-9]*' "$logs/$name.err" | tail -1 | awk '{ print $2 }')
        if [ -z "$bspan" ] || awk -v a="$span" -v b="$bspan" 'BEGIN { exit !(a != "" && a < b) }'; then
            bspan=$span bwall=$wall bcpu=$cpu brss=$rss_kb bmerged=$merged
        fi
    done
    [ -n "$bspan" ] || { rows+=("$name|failed: no /metrics span, see $samples|||||||||"); return 0; }
    rate=$(awk -v n="$N" -v w="$bspan" 'BEGIN { printf "%.0f", (w > 0 ? n / w : 0) }')
    # The store: file size, in-use pages, distinct records.
    local st_txt=$logs/$name.mdb_stat
    mdb_stat -ef -a "$store" >"$st_txt"
    local psize used freep recs du_b inuse
    psize=$(awk '/Page size:/ { print $3; exit }' "$st_txt")
    used=$(awk '/Number of pages used:/ { print $5; exit }' "$st_txt")
    freep=$(awk '/Free pages:/ { print $3; exit }' "$st_txt")
    recs=$(awk '/^Status of rec$/ { f = 1 } f && /Entries:/ { print $2; exit }' "$st_txt")
    du_b=$(du -B1 "$store/data.mdb" | cut -f1)
    inuse=$(( (used - freep) * psize ))
    local ok="ok"
    [ "$bmerged" = "$N" ] || ok="MERGED $bmerged != N $N"
    [ "$recs" = "$K" ] || ok="$ok; RECORDS $recs != K $K"
    rows+=("$name|$rate|$(awk -v a="$rate" -v b="$kcat_rate" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')|$bspan|$bcpu|$bwall|$(awk -v k="$brss" 'BEGIN { printf "%.0f", k / 1024 }')|$(awk -v a="$du_b" -v r="$recs" 'BEGIN { printf "%.0f", (r > 0 ? a / r : 0) }')|$(awk -v a="$inuse" -v r="$recs" 'BEGIN { printf "%.0f", (r > 0 ? a / r : 0) }')|$ok")
    last_store=$store
}

cpid=""
for b in $BATCHES; do
    run_consumer "$b"
done

# Light check that the data is there: two lookups in the last store.
if [ -n "${last_store:-}" ]; then
    echo "lookups in $last_store:"
    # Key 0 is an A record of www.acmeacme0.com with rdata 23.0.0.0 (obsgen.c).
    for q in "rrset|*.acmeacme0.com" "rdata|23.0.0.0"; do
        n=$("$bin/pdnsx-query" -s "store.path=\"$last_store\"" "${q%%|*}" "${q#*|}" |
            tee "$logs/query.out" | wc -l)
        echo "  pdnsx-query ${q%%|*} ${q#*|}: $n record(s); first: $(head -n1 "$logs/query.out" | head -c 220)"
        [ "$n" -gt 0 ] || echo "  WARNING: no record found"
    done
fi

# Optional profile of one consumer run (batch 5000), flat (no call graphs).
if [ "$PERF" = 1 ] && command -v perf >/dev/null; then
    store=$data/store-perf
    rm -rf "$store"
    taskset -c "$CPU" perf record -q -F 2000 -o "$logs/perf.data" -- "$bin/pdnsx-consumer" \
        -s "kafka.brokers=\"$bootstrap\"" -s "kafka.topics=\"^pdnsx\\\\.obs\\\\.$prefix-[abc]\$\"" \
        -s "kafka.group=\"pdnsx-bench-perf-$$\"" -s "store.path=\"$store\"" -s 'run.exit_idle=3' \
        >"$logs/perf.out" 2>"$logs/perf.err" || echo "perf run failed, see $logs/perf.err"
    perf report -i "$logs/perf.data" --stdio --sort dso,symbol 2>/dev/null |
        grep -v '^#' | grep -v '^$' | head -40 >"$logs/perf.txt" || true
    echo "profile (top symbols, $logs/perf.txt):"
    sed 's/^/  /' "$logs/perf.txt"
    rm -rf "$store"
fi

# --- report --------------------------------------------------------------------
echo
printf '%-16s %10s %7s %8s %8s %8s %8s %9s %9s  %s\n' case "obs/s" "x kcat" "span s" "cpu s" \
    "wall s" "RSS MiB" "file B/r" "used B/r" check
for r in "${rows[@]}"; do
    IFS='|' read -r c rate ratio span cpu_s wall_s rss fb ub ok <<<"$r"
    if [[ $rate == failed:* ]]; then
        printf '%-16s %s\n' "$c" "$rate"
    else
        printf '%-16s %10s %7s %8s %8s %8s %8s %9s %9s  %s\n' "$c" "$rate" "$ratio" "$span" \
            "$cpu_s" "$wall_s" "$rss" "$fb" "$ub" "$ok"
    fi
done
echo "(x kcat: against 'kcat net'; kcat: sum over the three topics; consumer span: first message to all merged," \
     "wall includes joining the group and run.exit_idle=3)"
echo
echo "markdown rows ($N observations, $K distinct keys, $DOMAINS domains, seed $SEED," \
     "$where, $(date -u +%F), $(uname -m)):"
echo "| case | obs/s | vs kcat net | cpu s | wall s | peak RSS MiB | store file B/record | store in-use B/record |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
for r in "${rows[@]}"; do
    IFS='|' read -r c rate ratio span cpu_s wall_s rss fb ub ok <<<"$r"
    [[ $rate == failed:* ]] && continue
    echo "| $c | $rate | $ratio | $cpu_s | $wall_s | $rss | $fb | $ub |"
done
