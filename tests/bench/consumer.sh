#!/usr/bin/env bash
# Benchmark pdnsx-consumer against a plain Kafka reader (kcat) of the same
# topics, as whole processes: start-up, group join and the idle wait
# included, for both.
#
#   tests/bench/consumer.sh                       # 1,000,000 observations, 200,000 keys
#   N=200000 K=50000 BATCHES="5000" tests/bench/consumer.sh
#   scripts/with-kafka.sh tests/bench/consumer.sh # a real broker (PDNSX_TEST_KAFKA)
#   PDNSX_BENCH_KAFKA=127.0.0.1:9092 tests/bench/consumer.sh   # a broker of yours
#   PERF=1 tests/bench/consumer.sh                # also profile one consumer run
#   BASE=/work/base/build-bench tests/bench/consumer.sh   # paired with a baseline build
#
# Builds a Release tree in build-bench/ (BUILD=DIR for another one) if
# needed, starts pdnsx-broker with pdnsx.obs.bench-{a,b,c} (PARTITIONS each,
# 16 by default: see below) unless PDNSX_BENCH_KAFKA or PDNSX_TEST_KAFKA names
# a broker (then the topics get a fresh per-run organisation prefix and are
# created with PARTITIONS, default 4), publishes N observations over K
# distinct keys with pdnsx-bench-obsgen, checks the topics hold all N, and
# publishes one observation to a second, nearly empty set of topics. Then,
# pinned to one core:
#  - the fixed waits, whole process: kcat reading nothing of the topics
#    (-o end: connecting, metadata, offsets, the end of every partition),
#    the consumer over the nearly empty topics (group join, run.exit_idle);
#  - RUNS rounds, each: kcat, then the consumer for each batch size. kcat is
#    `kcat -C -e -o beginning -q` of each topic to /dev/null (the three
#    summed); the consumer merges into a fresh store with
#    run.exit_idle=$IDLE. For both: wall time of the whole process (start to
#    exit) and CPU time (user + sys, /usr/bin/time -v). The ratios are
#    obs/s and obs per CPU second of the consumer over kcat's, per round,
#    and their median over rounds (the shared machine's speed drifts; a pair
#    measured together is the fairest ratio); the table shows the fastest
#    run of each;
#  - with BASE=DIR (another Release build: DIR/bin/pdnsx-consumer,
#    DIR/bench/pdnsx-bench-store), its consumer runs in every round beside
#    ours, the order alternating by round, and the ratios ours/baseline per
#    round and their median are printed (wall and CPU); the store cases run
#    with both binaries too;
#  - the fixed waits' share of each total, with the N beyond which they
#    fall under 5 % (the figure is meant for such an N: expect ~10 M, beyond
#    what the mock cluster keeps, so a real broker);
#  - for reference, the consumer's merge span alone: from the last /metrics
#    sample (every 100 ms) with no message read to the first with all
#    merged;
#  - store bytes per distinct record: of each consumer store (`du` of
#    data.mdb, and its in-use pages by mdb_stat), and of pdnsx-bench-store
#    (no Kafka) for each of STORE_CASES (N:KEYS, default 50k and 800k keys).
# Prints a table and markdown rows to paste; logs in tests/bench/data/consumer/.
set -euo pipefail

N=${N:-1000000}      # observations
K=${K:-200000}       # distinct (rrname, rrtype, rdata) keys
DOMAINS=${DOMAINS:-20000}
SEED=${SEED:-1}
RUNS=${RUNS:-1}      # rounds; the fastest run of each case makes the table
IDLE=${IDLE:-3}      # the consumer's run.exit_idle, seconds
# pdnsx-bench-store cases, N:KEYS (store bytes per record without Kafka)
STORE_CASES=${STORE_CASES:-"1000000:50000 4000000:800000"}
CPU=${CPU:-1}        # core to pin to
BATCHES=${BATCHES:-"5000 50000"}
PERF=${PERF:-0}
# Seconds of pause before every consumer run. On a VM that hands free memory
# back to its host (virtio-balloon free page reporting, order-9 blocks, about
# 2 s after they are freed), a process that starts right after another one's
# exit finds its pages still backed, while one that starts after a pause
# pays the host's faults in the kernel's page zeroing (clear_page_erms): the
# same consumer binary, 600k observations, 0.2 s of system time back to back
# against 1.0-1.1 s after 3 s or more (docs/BENCHMARKS.md). Back to back (0),
# the first consumer of a round (after kcat) is the cold one: use an even
# RUNS so each binary is first as often. SETTLE=5 makes every run cold, but
# the cold cost itself varies (0.7-1.2 s), so it does not narrow the spread.
SETTLE=${SETTLE:-0}
# Partitions per topic. librdkafka's mock cluster (pdnsx-broker) keeps only a
# few MB per partition and drops older messages, so 4 partitions cannot hold
# a million observations there: the mock gets 16 unless told otherwise.
PARTITIONS=${PARTITIONS:-}

root=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD:-$root/build-bench}
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
    pdnsx-bench-store \
    >"$logs/build.log" 2>&1 || die "build failed, see $logs/build.log"
bin=$build/bin
# The consumers measured: ours, and with BASE the baseline's beside it.
sides=(new)
declare -A side_bin side_store
side_bin[new]=$bin side_store[new]=$build/bench/pdnsx-bench-store
if [ -n "${BASE:-}" ]; then
    [ -x "$BASE/bin/pdnsx-consumer" ] && [ -x "$BASE/bench/pdnsx-bench-store" ] ||
        die "BASE=$BASE: no bin/pdnsx-consumer or bench/pdnsx-bench-store there (build it first)"
    sides+=(base)
    side_bin[base]=$BASE/bin side_store[base]=$BASE/bench/pdnsx-bench-store
fi
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
kafka=${PDNSX_BENCH_KAFKA:-${PDNSX_TEST_KAFKA:-}}
if [ -n "$kafka" ]; then
    bootstrap=$kafka
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
        --topic "pdnsx.obs.benche-a:$PARTITIONS" --topic "pdnsx.obs.benche-b:$PARTITIONS" \
        --topic "pdnsx.obs.benche-c:$PARTITIONS" 2>"$logs/broker.err")
    bpid=$!
    read -r -t 30 -u "$bfd" bootstrap && [ -n "$bootstrap" ] ||
        die "pdnsx-broker printed no bootstrap list, see $logs/broker.err"
    where="pdnsx-broker (librdkafka mock cluster, unpinned)"
fi
topics=(pdnsx.obs.$prefix-a pdnsx.obs.$prefix-b pdnsx.obs.$prefix-c)
# The nearly empty topics the fixed waits are measured on: same partitions,
# one observation in all (a consumer group needs a topic to join on).
eprefix=${prefix}e
etopics=(pdnsx.obs.$eprefix-a pdnsx.obs.$eprefix-b pdnsx.obs.$eprefix-c)

# --- data ----------------------------------------------------------------------
echo "publishing $N observations over $K keys ($DOMAINS domains, seed $SEED) to $where ..."
/usr/bin/time -v -o "$logs/obsgen.time" "$build/bench/pdnsx-bench-obsgen" -b "$bootstrap" \
    -n "$N" -k "$K" -D "$DOMAINS" -s "$SEED" -p "$prefix" "${create[@]}" \
    >"$data/obsgen.txt" 2>"$logs/obsgen.err" || die "pdnsx-bench-obsgen failed, see $logs/obsgen.err"
sed 's/^/  /' "$data/obsgen.txt"
stored=$(awk '$1 == "stored" { print $2 }' "$data/obsgen.txt")
[ "$stored" = "$N" ] || die "the topics hold $stored of $N messages (broker retention?" \
    "try more PARTITIONS, now $PARTITIONS)"
"$build/bench/pdnsx-bench-obsgen" -b "$bootstrap" -n 1 -k 1 -D 1 -s "$SEED" -p "$eprefix" \
    "${create[@]}" >"$data/obsgen-empty.txt" 2>"$logs/obsgen-empty.err" ||
    die "pdnsx-bench-obsgen (nearly empty topics) failed, see $logs/obsgen-empty.err"

# --- measuring -----------------------------------------------------------------
# timed NAME CMD...: one pinned run under /usr/bin/time; sets wall and cpu
# (user + sys seconds) of the whole process, and rss_kb.
timed() {
    local name=$1; shift
    taskset -c "$CPU" /usr/bin/time -v -o "$logs/$name.time" "$@" \
        >"${OUT:-$logs/$name.out}" 2>"$logs/$name.err" || return $?
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, p, ":"); s = 0;
             for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s }' "$logs/$name.time")
    cpu=$(awk -F': ' '/User time|System time/ { s += $2 } END { print s }' "$logs/$name.time")
    rss_kb=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$logs/$name.time")
}

per() { awk -v n="$1" -v w="$2" 'BEGIN { printf "%.0f", (w > 0 ? n / w : 0) }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (b > 0 ? 100 * a / b : 0) }'; }
add() { awk -v a="$1" -v b="$2" 'BEGIN { print a + b }'; }
less() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a != "" && (b == "" || a < b)) }'; }
median() {
    tr ' ' '\n' <<<"$*" | grep . | sort -g |
        awk '{ v[NR] = $1 } END { if (NR) printf "%.2f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
# The N at which a process's fixed wait F is under 5 % of its wall time W
# measured at N: the rest (W - F) grows with N, so N * 19 F / (W - F).
# "n/a" when the fixed wait is the whole run (kcat on the mock cluster).
n_for_5pct() {
    awk -v n="$N" -v f="$1" -v w="$2" 'BEGIN { v = w - f; if (v > 0) printf "%.0f", n * 19 * f / v; else print "n/a" }'
}

# A port below the kernel's ephemeral range (no bind to port 0 or outgoing
# connection takes it meanwhile; see tests/integration/ports.py).
free_port() {
    /usr/bin/python3 "$root/tests/integration/ports.py" free
}

# sample PORT FILE: appends "time messages merged commit_ms" every 100 ms until killed.
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

# kcat_run TAG FROM TOPIC...: kcat reading each topic from FROM (beginning,
# or end: nothing) to its end, to /dev/null; sets kw and kc, wall and CPU
# seconds summed over the topics.
kcat_run() {
    local tag=$1 from=$2 t; shift 2
    kw=0 kc=0
    for t in "$@"; do
        OUT=/dev/null timed "kcat-$tag-$t" kcat -C -b "$bootstrap" -t "$t" -e -o "$from" -q ||
            die "kcat failed on $t, see $logs/kcat-$tag-$t.err"
        kw=$(add "$kw" "$wall") kc=$(add "$kc" "$cpu")
    done
}

# consumer_run NAME PREFIX BATCH GROUP EXPECT [BIN]: pdnsx-consumer (of BIN,
# default ours) over the topics of PREFIX into a fresh store $data/store-NAME; sets wall, cpu, rss_kb
# (timed), span (merge span, "" without one), merged and commit_s.
# Returns the consumer's exit status.
consumer_run() {
    local name=$1 pfx=$2 batch=$3 group=$4 expect=$5 cbin=${6:-$bin} store=$data/store-$1
    local port samples st=0
    rm -rf "$store"
    sleep "$SETTLE"
    port=$(free_port)
    samples=$logs/$name.samples
    : >"$samples"
    sample "$port" "$samples" &
    spid=$!
    timed "$name" "$cbin/pdnsx-consumer" -s "kafka.brokers=\"$bootstrap\"" \
        -s "kafka.topics=\"^pdnsx\\\\.obs\\\\.$pfx-[abc]\$\"" \
        -s 'kafka.changelog_topic=""' -s "kafka.group=\"$group\"" -s "store.path=\"$store\"" \
        -s "store.batch_records=$batch" -s "run.exit_idle=$IDLE" "${unbounded[@]}" \
        -s "metrics.listen=\"127.0.0.1:$port\"" || st=$?
    kill "$spid" 2>/dev/null || true
    wait "$spid" 2>/dev/null || true
    spid=""
    span=$(awk -v n="$expect" '$2 == 0 { t0 = $1 } $3 >= n && t1 == "" { t1 = $1 }
                              END { if (t0 != "" && t1 != "") printf "%.3f", t1 - t0 }' "$samples")
    commit_s=$(awk 'END { printf "%.2f", $4 / 1000 }' "$samples")
    merged=$(grep -o 'merged [0-9]*' "$logs/$name.err" | tail -1 | awk '{ print $2 }')
    return "$st"
}

echo "measuring on core $CPU: fixed waits, then $RUNS round(s) ..."

# (a) The fixed waits: kcat reading nothing of the same topics (-o end:
# connecting, metadata, offsets, noticing the end of every partition), the
# consumer over the nearly empty topics (its group join and run.exit_idle;
# a fresh store starts at the beginning, so it needs topics of its own).
kcat_run empty end "${topics[@]}"
fkw=$kw fkc=$kc
consumer_run consumer-empty "$eprefix" 5000 "pdnsx-bench-empty-$$" 1 ||
    die "the consumer failed on the nearly empty topics, see $logs/consumer-empty.err"
fcw=$wall fcc=$cpu

# (b) Rounds: kcat, then the consumer for each batch size (with BASE: ours
# and the baseline's, the order alternating by round). The fastest run (by
# wall) of each case makes the table; each consumer run is also set against
# the kcat run of its own round, in wall and in CPU time, and with BASE ours
# against the baseline's of the same round.
declare -A bwall bcpu brss bspan bmerged bcommit rwall rcpu failed rnew_wall rnew_cpu
kbest="" kcbest=""
for ((r = 0; r < RUNS; r++)); do
    kcat_run "r$r" beginning "${topics[@]}"
    rkw=$kw rkc=$kc
    if less "$kw" "$kbest"; then kbest=$kw kcbest=$kc; fi
    order=("${sides[@]}")
    if ((r % 2)) && [ "${#sides[@]}" = 2 ]; then order=(base new); fi
    for b in $BATCHES; do
        declare -A this_wall=() this_cpu=()
        for s in "${order[@]}"; do
            c=$s-b$b
            [ -z "${failed[$c]:-}" ] || continue
            if ! consumer_run "$c" "$prefix" "$b" "pdnsx-bench-$c-$$-$r" "$N" "${side_bin[$s]}"; then
                failed[$c]="failed: see $logs/$c.err"
                continue
            fi
            this_wall[$s]=$wall this_cpu[$s]=$cpu
            # obs/s (obs per CPU second) of the consumer over kcat's: kcat's time over the consumer's.
            rwall[$c]+=" $(ratio "$rkw" "$wall")" rcpu[$c]+=" $(ratio "$rkc" "$cpu")"
            if less "$wall" "${bwall[$c]:-}"; then
                bwall[$c]=$wall bcpu[$c]=$cpu brss[$c]=$rss_kb bspan[$c]=$span
                bmerged[$c]=$merged bcommit[$c]=$commit_s
                mdb_stat -ef -a "$data/store-$c" >"$logs/$c.mdb_stat"
                du -B1 "$data/store-$c/data.mdb" | cut -f1 >"$logs/$c.du"
            fi
            last_store=$data/store-$c
        done
        if [ -n "${this_wall[base]:-}" ] && [ -n "${this_wall[new]:-}" ]; then
            rnew_wall[$b]+=" $(ratio "${this_wall[base]}" "${this_wall[new]}")"
            rnew_cpu[$b]+=" $(ratio "${this_cpu[base]}" "${this_cpu[new]}")"
        fi
    done
done

# (c) The store alone: bytes per record at each STORE_CASES size (with
# BASE, the baseline's pdnsx-bench-store too, alternating which goes first).
store_rows=()
i=0
for sc in $STORE_CASES; do
    sn=${sc%%:*} sk=${sc#*:}
    order=("${sides[@]}")
    if ((i++ % 2)) && [ "${#sides[@]}" = 2 ]; then order=(base new); fi
    for s in "${order[@]}"; do
        sdir=$data/store-bench-$s-$sk
        rm -rf "$sdir"
        taskset -c "$CPU" "${side_store[$s]}" -n "$sn" -k "$sk" -b 250000 "$sdir" \
            >"$logs/store-$s-$sk.out" 2>&1 || die "pdnsx-bench-store failed, see $logs/store-$s-$sk.out"
        store_rows+=("$s|$sn|$sk|$(awk '/^records/ { for (i = 1; i < NF; i++) {
                if ($i == "bytes/record" && u == "") u = $(i + 1)
                if ($i == "file") f = $(i + 2) } print u "|" f }' "$logs/store-$s-$sk.out")|$(
                awk '/^merges\/s/ { print $2 }' "$logs/store-$s-$sk.out")")
        rm -rf "$sdir"
    done
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
        -s 'kafka.changelog_topic=""' -s "kafka.group=\"pdnsx-bench-perf-$$\"" -s "store.path=\"$store\"" -s "run.exit_idle=$IDLE" \
        "${unbounded[@]}" >"$logs/perf.out" 2>"$logs/perf.err" || echo "perf run failed, see $logs/perf.err"
    perf report -i "$logs/perf.data" --stdio --sort dso,symbol 2>/dev/null |
        grep -v '^#' | grep -v '^$' | head -40 >"$logs/perf.txt" || true
    echo "profile (top symbols, $logs/perf.txt):"
    sed 's/^/  /' "$logs/perf.txt"
    rm -rf "$store"
fi

# --- report --------------------------------------------------------------------
# rows: case|obs/s|obs/cpu s|x kcat wall|x kcat cpu|wall|cpu|fixed wall|fixed %|N for 5 %|span|commit|rss|file B|used B|check
rows=("kcat|$(per "$N" "$kbest")|$(per "$N" "$kcbest")|1.00|1.00|$kbest|$kcbest|$fkw|$(pct "$fkw" "$kbest")|$(n_for_5pct "$fkw" "$kbest")||||||")
nmin=0
for b in $BATCHES; do
  for s in "${sides[@]}"; do
    c=$s-b$b
    if [ -n "${failed[$c]:-}" ]; then rows+=("$c|${failed[$c]}"); continue; fi
    st_txt=$logs/$c.mdb_stat
    psize=$(awk '/Page size:/ { print $3; exit }' "$st_txt")
    used=$(awk '/Number of pages used:/ { print $5; exit }' "$st_txt")
    freep=$(awk '/Free pages:/ { print $3; exit }' "$st_txt")
    recs=$(awk '/^Status of rec$/ { f = 1 } f && /Entries:/ { print $2; exit }' "$st_txt")
    du_b=$(cat "$logs/$c.du")
    inuse=$(( (used - freep) * psize ))
    ok="ok"
    [ "${bmerged[$c]}" = "$N" ] || ok="MERGED ${bmerged[$c]} != N $N"
    [ "$recs" = "$K" ] || ok="$ok; RECORDS $recs != K $K"
    n5=$(n_for_5pct "$fcw" "${bwall[$c]}")
    if [ "$n5" != n/a ] && less "$nmin" "$n5"; then nmin=$n5; fi
    rows+=("$c|$(per "$N" "${bwall[$c]}")|$(per "$N" "${bcpu[$c]}")|$(median "${rwall[$c]}")|$(median "${rcpu[$c]}")|${bwall[$c]}|${bcpu[$c]}|$fcw|$(pct "$fcw" "${bwall[$c]}")|$n5|${bspan[$c]}|${bcommit[$c]}|$(awk -v k="${brss[$c]}" 'BEGIN { printf "%.0f", k / 1024 }')|$(per "$du_b" "$recs")|$(per "$inuse" "$recs")|$ok")
  done
done

echo
echo "fixed waits (whole process): kcat -o end ${fkw} s wall, ${fkc} s CPU (three topics);" \
     "pdnsx-consumer on the nearly empty topics ${fcw} s wall, ${fcc} s CPU (group join, run.exit_idle=$IDLE)"
printf '%-15s %8s %8s %6s %6s %7s %6s %6s %5s %10s %6s %6s %5s %6s %6s  %s\n' case "obs/s" "obs/cpu" \
    "x wall" "x cpu" "wall s" "cpu s" "fix s" "fix%" "N for 5%" "span s" "fsyn s" "RSS M" \
    "file B" "used B" check
for r in "${rows[@]}"; do
    IFS='|' read -r c rate crate xw xc w cs fw fp n5 sp com rss fb ub ok <<<"$r"
    if [[ $rate == failed:* ]]; then
        printf '%-15s %s\n' "$c" "$rate"
    else
        printf '%-15s %8s %8s %6s %6s %7s %6s %6s %5s %10s %6s %6s %5s %6s %6s  %s\n' "$c" "$rate" \
            "$crate" "$xw" "$xc" "$w" "$cs" "$fw" "$fp" "$n5" "$sp" "$com" "$rss" "$fb" "$ub" "$ok"
    fi
done
cat <<'EOT'
obs/s, obs/cpu: N over the whole process's wall time, and over its user + sys time
(kcat: summed over the three topics). x wall, x cpu: the consumer's obs/s and obs per
CPU second over kcat's, each run against the kcat run of its round, median over rounds.
fix s, fix%: the process's wall time on the nearly empty topics, and its share of the
wall time here; N for 5%: the N at which that share falls to 5 % (n/a: the
process's whole run is its fixed waits; kcat's wall ratio then measures waits). span s: the merge
alone (from no message read to all merged), for reference. fsyn s: time in store
commits. RSS M: peak MiB. file B / used B: data.mdb size / in-use pages per record.
EOT
if awk -v a="$nmin" -v n="$N" 'BEGIN { exit !(a > n) }'; then
    echo "NOTE: the fixed waits are over 5 % of a total at N=$N: for the figure, run with N >= $nmin" \
         "(a real broker: scripts/with-kafka.sh; PARTITIONS=16)."
fi
echo
echo "store alone (pdnsx-bench-store -b 250000): bytes per record"
for s in "${store_rows[@]}"; do
    IFS='|' read -r side sn sk ub fb mps <<<"$s"
    echo "  $side -n $sn -k $sk: in use $ub B/record, data file $fb B/record ($mps merges/s)"
done
echo
echo "markdown rows ($N observations, $K distinct keys, $DOMAINS domains, seed $SEED," \
     "$where, $PARTITIONS partitions per topic, run.exit_idle=$IDLE, $RUNS round(s)," \
     "$(date -u +%F), $(uname -m)):"
echo "| case | obs/s (wall) | obs per CPU s | vs kcat, wall | vs kcat, CPU | wall s | CPU s | fixed wait s (share) | peak RSS MiB | store file B/record | store in-use B/record |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for r in "${rows[@]}"; do
    IFS='|' read -r c rate crate xw xc w cs fw fp n5 sp com rss fb ub ok <<<"$r"
    [[ $rate == failed:* ]] && continue
    echo "| $c | $rate | $crate | $xw | $xc | $w | $cs | $fw ($fp %) | $rss | $fb | $ub |"
done
echo
echo "| store (pdnsx-bench-store) | binary | keys | in-use B/record | data file B/record |"
echo "|---|---|---:|---:|---:|"
for s in "${store_rows[@]}"; do
    IFS='|' read -r side sn sk ub fb mps <<<"$s"
    echo "| -n $sn -k $sk -b 250000 | $side | $sk | $ub | $fb |"
done
if [ "${#sides[@]}" = 2 ]; then
    echo
    echo "ours against the baseline ($BASE), per round (baseline time over ours: above 1, ours is faster):"
    for b in $BATCHES; do
        [ -n "${rnew_wall[$b]:-}" ] || continue
        echo "  batch $b: wall${rnew_wall[$b]} (median $(median "${rnew_wall[$b]}"));" \
             "CPU${rnew_cpu[$b]} (median $(median "${rnew_cpu[$b]}"))"
    done
fi
