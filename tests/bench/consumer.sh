#!/usr/bin/env bash
# Benchmark pdnsx-consumer against a plain Kafka reader of the same topics.
#
#   tests/bench/consumer.sh                       # 1,000,000 observations, 200,000 keys
#   N=200000 K=50000 BATCHES="5000" tests/bench/consumer.sh
#   PDNSX_BENCH_KAFKA=127.0.0.1:9092 tests/bench/consumer.sh   # a real broker
#   PERF=1 tests/bench/consumer.sh                # also profile one consumer run
#
# Builds a Release tree in build-bench/ if needed, starts pdnsx-broker with
# pdnsx.obs.bench-{a,b,c} (PARTITIONS each, 16 by default: see below) unless
# PDNSX_BENCH_KAFKA names a broker (then the topics get a fresh per-run
# organisation prefix and are created with PARTITIONS, default 4),
# publishes N observations over K distinct keys with pdnsx-bench-obsgen,
# checks the topics hold all N, then, pinned to one core, in RUNS rounds
# (each: kcat, then the consumer for each batch size; the fastest run of
# each counts, and each consumer run is also set against the kcat run of
# its own round, printed with their median, as the machine's speed drifts):
#  - the floor: `kcat -C -e -o beginning -q` of each topic to /dev/null,
#    wall and user + sys time;
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
# Partitions per topic. librdkafka's mock cluster (pdnsx-broker) keeps only a
# few MB per partition and drops older messages, so 4 partitions cannot hold
# a million observations there: the mock gets 16 unless told otherwise.
PARTITIONS=${PARTITIONS:-}

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
# Every key is new to a fresh store, and pdnsx-broker stamps CreateTime, so
# the consumer's clock would hold each organisation to trust.org_new_records
# a minute: lift the bound out of reach (its bookkeeping still runs).
unbounded=(-s 'trust.org_new_records=1000000000')

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
    PARTITIONS=${PARTITIONS:-4}
    create=(-P "$PARTITIONS")
    where="Kafka at $bootstrap"
else
    prefix=bench
    create=()
    PARTITIONS=${PARTITIONS:-16}
    exec {bfd}< <(exec "$bin/pdnsx-broker" --topic "pdnsx.obs.bench-a:$PARTITIONS" \
        --topic "pdnsx.obs.bench-b:$PARTITIONS" --topic "pdnsx.obs.bench-c:$PARTITIONS" \
        2>"$logs/broker.err")
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
stored=$(awk '$1 == "stored" { print $2 }' "$data/obsgen.txt")
[ "$stored" = "$N" ] || die "the topics hold $stored of $N messages (broker retention?" \
    "try more PARTITIONS, now $PARTITIONS)"

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

# Runs go in rounds: kcat, then the consumer for each batch size, RUNS
# times; the fastest of each counts, and each consumer run is also set
# against the kcat run of its own round (the machine's speed drifts over
# minutes: a pair measured together is the fairest ratio).
per() { awk -v n="$1" -v w="$2" 'BEGIN { printf "%.0f", (w > 0 ? n / w : 0) }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }

# (a) the floor: kcat reading each topic to the end; sets round_kwall.
kbest=""
kcat_round() {
    local tw=0 tc=0 t
    for t in "${topics[@]}"; do
        OUT=/dev/null timed "kcat-$t" kcat -C -b "$bootstrap" -t "$t" -e -o beginning -q ||
            die "kcat failed on $t, see $logs/kcat-$t.err"
        tw=$(awk -v a="$tw" -v b="$wall" 'BEGIN { print a + b }')
        tc=$(awk -v a="$tc" -v b="$cpu" 'BEGIN { print a + b }')
    done
    round_kwall=$tw
    if [ -z "$kbest" ] || awk -v a="$tw" -v b="$kbest" 'BEGIN { exit !(a < b) }'; then
        kbest=$tw kwall=$tw kcpu=$tc
    fi
}

# A port below the kernel's ephemeral range (no bind to port 0 or outgoing
# connection takes it meanwhile; see tests/integration/ports.py).
free_port() {
    /usr/bin/python3 "$root/tests/integration/ports.py" free
}

# sample PORT FILE: appends "time messages merged" every 100 ms until killed.
sample() {
    local port=$1 out=$2 m
    while :; do
        m=$(curl -s --max-time 1 "http://127.0.0.1:$port/metrics" 2>/dev/null |
            awk '$1 == "pdnsx_consumer_messages_total" { a = $2 }
                 $1 == "pdnsx_consumer_merged_total" { b = $2 }
                 $1 == "pdnsx_consumer_commit_milliseconds_total" { c = $2 }
                 END { if (a != "") print a, b, c }') || true
        [ -n "$m" ] && echo "$(date +%s.%N) $m" >>"$out"
        sleep 0.1
    done
}

# (b) + (c): the consumer, one fresh store per run; one run of round r.
declare -A bspan bwall bcpu brss bmerged bcommit pairs failed
consumer_round() {
    local batch=$1 r=$2 name=consumer-b$1 store port samples st span
    [ -z "${failed[$batch]:-}" ] || return 0
    {
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
            -s "store.batch_records=$batch" -s 'run.exit_idle=3' "${unbounded[@]}" \
            -s "metrics.listen=\"127.0.0.1:$port\"" || st=$?
        kill "$spid" 2>/dev/null || true
        wait "$spid" 2>/dev/null || true
        spid=""
        [ "$st" -eq 0 ] || { failed[$batch]="failed: exit $st, see $logs/$name.err"; return 0; }
        # From the last sample with no message read to the first with all merged.
        span=$(awk -v n="$N" '$2 == 0 { t0 = $1 } $3 >= n && t1 == "" { t1 = $1 }
                              END { if (t0 != "" && t1 != "") printf "%.3f", t1 - t0 }' "$samples")
        commit_s=$(awk 'END { printf "%.2f", $4 / 1000 }' "$samples")
        merged=$(grep -o 'merged [0-9]*' "$logs/$name.err" | tail -1 | awk '{ print $2 }')
        [ -n "$span" ] && pairs[$batch]+=" $(ratio "$round_kwall" "$span")"
        if [ -z "${bspan[$batch]:-}" ] ||
            awk -v a="$span" -v b="${bspan[$batch]}" 'BEGIN { exit !(a != "" && a < b) }'; then
            bspan[$batch]=$span bwall[$batch]=$wall bcpu[$batch]=$cpu brss[$batch]=$rss_kb
            bmerged[$batch]=$merged bcommit[$batch]=$commit_s
        fi
        last_store_b=$store
    }
}

# The row of one batch size, from its fastest run and its last store.
consumer_row() {
    local batch=$1 name=consumer-b$1 store=$data/store-b$1 rate
    local bspan=${bspan[$batch]:-} bwall=${bwall[$batch]:-} bcpu=${bcpu[$batch]:-}
    local brss=${brss[$batch]:-} bmerged=${bmerged[$batch]:-} bcommit=${bcommit[$batch]:-}
    [ -z "${failed[$batch]:-}" ] || { rows+=("$name|${failed[$batch]}|||||||||||"); return 0; }
    [ -n "$bspan" ] || { rows+=("$name|failed: no /metrics span, see $logs/$name.samples|||||||||||"); return 0; }
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
    rows+=("$name|$rate|$(per "$N" "$bcpu")|$(ratio "$rate" "$kcat_rate")|$(ratio "$rate" "$kcat_cpu_rate")|$bspan|$bwall|$bcpu|$bcommit|$(awk -v k="$brss" 'BEGIN { printf "%.0f", k / 1024 }')|$(awk -v a="$du_b" -v r="$recs" 'BEGIN { printf "%.0f", (r > 0 ? a / r : 0) }')|$(awk -v a="$inuse" -v r="$recs" 'BEGIN { printf "%.0f", (r > 0 ? a / r : 0) }')|$ok")
    last_store=$store
}

cpid=""
for ((r = 0; r < RUNS; r++)); do
    kcat_round
    for b in $BATCHES; do
        consumer_round "$b" "$r"
    done
done
# kcat's wall time is mostly fixed waits (connecting, offsets, noticing the
# end of 16 partitions): reading nothing (-o end) takes as long as reading
# everything from the mock broker. Its CPU time is the one-core read cost.
kcat_rate=$(per "$N" "$kwall")
kcat_cpu_rate=$(per "$N" "$kcpu")
rows+=("kcat|$kcat_rate|$kcat_cpu_rate|1.00|$(ratio "$kcat_rate" "$kcat_cpu_rate")|$kwall|$kwall|$kcpu||||||")
for b in $BATCHES; do
    consumer_row "$b"
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
        "${unbounded[@]}" >"$logs/perf.out" 2>"$logs/perf.err" || echo "perf run failed, see $logs/perf.err"
    perf report -i "$logs/perf.data" --stdio --sort dso,symbol 2>/dev/null |
        grep -v '^#' | grep -v '^$' | head -40 >"$logs/perf.txt" || true
    echo "profile (top symbols, $logs/perf.txt):"
    sed 's/^/  /' "$logs/perf.txt"
    rm -rf "$store"
fi

# --- report --------------------------------------------------------------------
# Fields: case rate cpu_rate x_kcat x_kcat_cpu span wall cpu commit rss file_b used_b check
echo
printf '%-15s %8s %8s %6s %6s %7s %6s %6s %6s %5s %6s %6s  %s\n' case "obs/s" "obs/cpu" \
    "x kcat" "x kcpu" "span s" "wall s" "cpu s" "fsyn s" "RSS M" "file B" "used B" check
for r in "${rows[@]}"; do
    IFS='|' read -r c rate crate xk xkc span wall_s cpu_s com rss fb ub ok <<<"$r"
    if [[ $rate == failed:* ]]; then
        printf '%-15s %s\n' "$c" "$rate"
    else
        printf '%-15s %8s %8s %6s %6s %7s %6s %6s %6s %5s %6s %6s  %s\n' "$c" "$rate" "$crate" \
            "$xk" "$xkc" "$span" "$wall_s" "$cpu_s" "$com" "$rss" "$fb" "$ub" "$ok"
    fi
done
cat <<'EOT'
obs/s: N over the span (kcat: its whole wall, summed over the three topics; consumer:
from just before its first message to all merged). obs/cpu: N over user + sys seconds
of the whole run. x kcat / x kcpu: obs/s over kcat's obs/s / obs/cpu (the one-core read
cost). wall s: whole run, with group join and run.exit_idle=3. fsyn s: time in store
commits (pdnsx_consumer_commit_milliseconds_total). RSS M: peak MiB. file B / used B:
data.mdb size / in-use pages, per distinct record stored.
EOT
echo
echo "markdown rows ($N observations, $K distinct keys, $DOMAINS domains, seed $SEED," \
     "$where, $PARTITIONS partitions per topic, $(date -u +%F), $(uname -m)):"
echo "| case | obs/s | obs per CPU s | vs kcat obs/s | vs kcat obs per CPU s | commit s | peak RSS MiB | store file B/record | store in-use B/record |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
for r in "${rows[@]}"; do
    IFS='|' read -r c rate crate xk xkc span wall_s cpu_s com rss fb ub ok <<<"$r"
    [[ $rate == failed:* ]] && continue
    echo "| $c | $rate | $crate | $xk | $xkc | $com | $rss | $fb | $ub |"
done
echo
echo "each consumer run against the kcat run of its round (obs/s over obs/s):"
for b in $BATCHES; do
    [ -n "${pairs[$b]:-}" ] || continue
    echo "  consumer-b$b:${pairs[$b]}  (median $(tr ' ' '\n' <<<"${pairs[$b]}" | grep . | sort -n |
        awk '{ v[NR] = $1 } END { printf "%.2f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'))"
done
