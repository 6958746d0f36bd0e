#!/usr/bin/env bash
# The consumer's memory as the topics grow: peak RSS and peak anonymous RSS
# against the bound the README states ("Memory"), per stage of a topic
# that grows to 10 million observations.
#
#   scripts/with-kafka.sh tests/bench/consumer_memory.sh     # real broker (10 M need it)
#   STAGES="200000 400000" tests/bench/consumer_memory.sh    # pdnsx-broker, a quick look
#   CASES="default q250k:kafka.fetch_queue_messages=250000" ...
#
# The topics pdnsx.obs.PREFIX-{a,b,c} grow in STAGES (cumulative
# observations, default 1, 2, 5 and 10 million); each stage publishes the
# difference with pdnsx-bench-obsgen (its own seed; distinct keys a fifth
# of the stage's total, so the key space grows too) and checks by the
# watermarks that the topics hold all of it. Then, for each case of CASES
# (NAME or NAME:SETTING=VALUE,SETTING=VALUE), pdnsx-consumer reads the
# whole topic from the beginning into a fresh store, pinned to core $CPU,
# and ends with run.exit_idle=3. Every 100 ms the script reads the
# consumer's /proc/PID/status (VmRSS, RssAnon) and /metrics. Printed per
# stage and case:
#  - peak RSS (VmHWM) and peak anonymous RSS (RssAnon): LMDB's map is
#    file-backed page cache (RssFile), not memory the consumer holds, so
#    anonymous memory is what the bound is about;
#  - the bound for the case's settings (README: fixed + per message +
#    payload + one fetch response + the store batch + LMDB's dirty pages);
#  - obs/s over the span from the last sample with no message read to the
#    first with all merged (group join and the idle wait do not count),
#    CPU (user + sys) and wall seconds of the whole run.
# With PDNSX_BENCH_KAFKA (or PDNSX_TEST_KAFKA, which scripts/with-kafka.sh
# sets) it uses that broker, with fresh per-run topics of PARTITIONS
# (default 4) partitions; else pdnsx-broker, whose mock cluster keeps only
# a few MB per partition (PARTITIONS default 16; fine for a few million).
set -euo pipefail

STAGES=${STAGES:-"1000000 2000000 5000000 10000000"}
CASES=${CASES:-default}
CPU=${CPU:-1}
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$root/build-bench
data=$root/tests/bench/data/memory
logs=$data/logs
mkdir -p "$logs"

die() { echo "consumer_memory.sh: $*" >&2; exit 1; }
[ -x /usr/bin/time ] || die "/usr/bin/time is missing (apt-get install time)"
for t in taskset curl; do
    command -v "$t" >/dev/null || die "$t is missing (scripts/setup.sh installs it)"
done
if [ "$(nproc)" -le "$CPU" ]; then CPU=0; fi

if [ ! -f "$build/CMakeCache.txt" ]; then
    cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build "$build" -j2 --target pdnsx-broker pdnsx-consumer pdnsx-bench-obsgen \
    >"$logs/build.log" 2>&1 || die "build failed, see $logs/build.log"
bin=$build/bin

# --- broker ----------------------------------------------------------------------
bpid="" cpid="" spid=""
cleanup() {
    for p in $spid $cpid $bpid; do kill "$p" 2>/dev/null || true; done
}
trap cleanup EXIT
kafka=${PDNSX_BENCH_KAFKA:-${PDNSX_TEST_KAFKA:-}}
if [ -n "$kafka" ]; then
    bootstrap=$kafka
    prefix=mem$(date +%s)
    PARTITIONS=${PARTITIONS:-4}
    create=(-P "$PARTITIONS")
    where="Kafka at $bootstrap"
else
    prefix=mem
    create=()
    PARTITIONS=${PARTITIONS:-16}
    exec {bfd}< <(exec "$bin/pdnsx-broker" --topic "pdnsx.obs.mem-a:$PARTITIONS" \
        --topic "pdnsx.obs.mem-b:$PARTITIONS" --topic "pdnsx.obs.mem-c:$PARTITIONS" \
        2>"$logs/broker.err")
    bpid=$!
    read -r -t 30 -u "$bfd" bootstrap && [ -n "$bootstrap" ] ||
        die "pdnsx-broker printed no bootstrap list, see $logs/broker.err"
    where="pdnsx-broker (librdkafka mock cluster)"
fi

# --- the bound ---------------------------------------------------------------------
# bound_mib FILE_BYTES SETTINGS...: the README's bound for these settings
# (defaults for the rest) and a store data file of FILE_BYTES, in MiB. Keep
# in step with README.md, "Memory".
bound_mib() {
    local file=$1 m=500000 kb=65536 fkb=16384 batch=250000 kv
    shift
    for kv in "$@"; do
        case $kv in
        kafka.fetch_queue_messages=*) m=${kv#*=} ;;
        kafka.fetch_queue_kbytes=*) kb=${kv#*=} ;;
        kafka.fetch_max_kbytes=*) fkb=${kv#*=} ;;
        store.batch_records=*) batch=${kv#*=} ;;
        esac
    done
    awk -v m="$m" -v kb="$kb" -v fkb="$fkb" -v b="$batch" -v file="$file" 'BEGIN {
        fixed = 96 * 1048576      # code, libraries, PSL cache (64 MiB), threads
        per_msg = 400             # librdkafka per queued message, besides its payload
        per_rec = 600             # store batch per distinct record (the spill caps it at 2^18)
        recs = (b < 262144 ? b : 262144)
        dirty = 8192 * 3 * 4096   # LMDB: one transaction dirty pages, 8192 records, 3 trees
        if (file < dirty) dirty = file
        printf "%.0f", (fixed + m * per_msg + kb * 1024 + fkb * 1024 + recs * per_rec + dirty) / 1048576 }'
}

# --- measuring ---------------------------------------------------------------------
free_port() { /usr/bin/python3 "$root/tests/integration/ports.py" free; }

# watch PID PORT OUT: every 100 ms "time rss_kb anon_kb messages merged".
watch() {
    local pid=$1 port=$2 out=$3 st m
    while kill -0 "$pid" 2>/dev/null; do
        st=$(awk '/^VmRSS/ { r = $2 } /^RssAnon/ { a = $2 } END { print r + 0, a + 0 }' \
            "/proc/$pid/status" 2>/dev/null) || break
        m=$(curl -s --max-time 1 "http://127.0.0.1:$port/metrics" 2>/dev/null |
            awk '$1 == "pdnsx_consumer_messages_total" { a = $2 }
                 $1 == "pdnsx_consumer_merged_total" { b = $2 }
                 END { if (a != "") print a, b; else print "-", "-" }') || m="- -"
        echo "$(date +%s.%N) $st $m" >>"$out"
        sleep 0.1
    done
}

rows=()
# run_case STAGE N NAME SETTINGS...: one consumer run over the whole topic.
run_case() {
    local stage=$1 n=$2 name=$3; shift 3
    local tag=s$stage-$name store=$data/store port samples sets=() kv
    for kv in "$@"; do sets+=(-s "$kv"); done
    rm -rf "$store"
    port=$(free_port)
    samples=$logs/$tag.samples
    : >"$samples"
    taskset -c "$CPU" /usr/bin/time -v -o "$logs/$tag.time" "$bin/pdnsx-consumer" \
        -s "kafka.brokers=\"$bootstrap\"" -s "kafka.topics=\"^pdnsx\\\\.obs\\\\.$prefix-[abc]\$\"" \
        -s 'kafka.changelog_topic=""' -s "kafka.group=\"mem-$tag-$$\"" -s "store.path=\"$store\"" -s 'run.exit_idle=3' -s 'trust.org_new_records=0' \
        -s "metrics.listen=\"127.0.0.1:$port\"" "${sets[@]}" >/dev/null 2>"$logs/$tag.err" &
    local tpid=$! t
    # /usr/bin/time's child is the consumer
    for t in $(seq 100); do
        cpid=$(pgrep -P "$tpid" -x pdnsx-consumer || true)
        [ -n "$cpid" ] && break
        sleep 0.05
    done
    [ -n "$cpid" ] || die "no consumer process, see $logs/$tag.err"
    watch "$cpid" "$port" "$samples" &
    spid=$!
    local st=0
    wait "$tpid" || st=$?
    wait "$spid" 2>/dev/null || true
    cpid="" spid=""
    [ "$st" = 0 ] || die "consumer exited $st, see $logs/$tag.err"
    local hwm anon span wall cpu merged
    hwm=$(awk -F': ' '/Maximum resident set size/ { printf "%.0f", $2 / 1024 }' "$logs/$tag.time")
    anon=$(awk '{ if ($3 > a) a = $3 } END { printf "%.0f", a / 1024 }' "$samples")
    # from the last sample before the first message (or the first sample)
    span=$(awk -v n="$n" 'NR == 1 { first = $1 } $4 == 0 { t0 = $1 }
                          $5 != "-" && $5 >= n && t1 == "" { t1 = $1 }
                          END { if (t0 == "") t0 = first;
                                if (t1 != "") printf "%.2f", t1 - t0 }' "$samples")
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ { k = split($2, p, ":"); s = 0;
             for (i = 1; i <= k; i++) s = s * 60 + p[i]; print s }' "$logs/$tag.time")
    cpu=$(awk -F': ' '/User time|System time/ { s += $2 } END { printf "%.1f", s }' "$logs/$tag.time")
    merged=$(grep -o 'merged [0-9]*' "$logs/$tag.err" | tail -1 | awk '{ print $2 }')
    local ok=ok bound rate file
    file=$(stat -c %s "$store/data.mdb")
    bound=$(bound_mib "$file" "$@")
    [ "$merged" = "$n" ] || ok="MERGED $merged != $n"
    [ "$anon" -le "$bound" ] || ok="$ok; ANON OVER THE BOUND"
    rate=$(awk -v n="$n" -v s="$span" 'BEGIN { printf "%.0f", (s > 0 ? n / s : 0) }')
    rows+=("$n|$name|$hwm|$anon|$bound|$rate|$span|$cpu|$wall|$ok")
    printf '  %-10s %-12s peak RSS %5s MiB, anon %5s MiB (bound %s), %s obs/s, cpu %s s, wall %s s  %s\n' \
        "$n" "$name" "$hwm" "$anon" "$bound" "$rate" "$cpu" "$wall" "$ok"
    rm -rf "$store"
}

prev=0 i=0
echo "topics pdnsx.obs.$prefix-{a,b,c} on $where, $PARTITIONS partitions each; consumer on core $CPU"
for n in $STAGES; do
    i=$((i + 1))
    add=$((n - prev))
    k=$((n / 5))
    echo "stage $i: publishing $add observations ($k distinct keys) ..."
    "$build/bench/pdnsx-bench-obsgen" -b "$bootstrap" -n "$add" -k "$k" -D $((k / 10)) \
        -s "$i" -p "$prefix" "${create[@]}" >"$logs/obsgen-$i.txt" 2>"$logs/obsgen-$i.err" ||
        die "pdnsx-bench-obsgen failed, see $logs/obsgen-$i.err"
    stored=$(awk '$1 == "stored" { print $2 }' "$logs/obsgen-$i.txt")
    [ "$stored" = "$n" ] || die "the topics hold $stored of $n messages (broker retention?" \
        "more PARTITIONS, or a real broker)"
    for c in $CASES; do
        name=${c%%:*} sets=()
        [ "$name" != "$c" ] && IFS=, read -r -a sets <<<"${c#*:}"
        run_case "$i" "$n" "$name" "${sets[@]}"
    done
    prev=$n
done

echo
echo "markdown rows ($where, $PARTITIONS partitions per topic, $(date -u +%F), $(uname -m)," \
     "load $(cut -d' ' -f1-3 /proc/loadavg)):"
echo "| observations in the topics | case | peak RSS MiB | peak anonymous MiB | bound MiB | obs/s | CPU s | wall s |"
echo "|---:|---|---:|---:|---:|---:|---:|---:|"
for r in "${rows[@]}"; do
    IFS='|' read -r n name hwm anon bound rate span cpu wall ok <<<"$r"
    [ "$ok" = ok ] || name="$name ($ok)"
    echo "| $n | $name | $hwm | $anon | $bound | $rate | $cpu | $wall |"
done
