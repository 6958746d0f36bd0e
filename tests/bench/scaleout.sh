#!/usr/bin/env bash
# Scale-out: the merge rate of 1, 2 and 3 pdnsx-consumer members in one
# group, with the changelog topic and without, and the restore rate of a
# partition's state (docs/SCALING.md, docs/BENCHMARKS.md "Scale-out:
# members and restore").
#
#   tests/bench/scaleout.sh                          # starts Kafka (scripts/with-kafka.sh)
#   PDNSX_KAFKA_GROUP_DELAY_MS=3000 scripts/with-kafka.sh tests/bench/scaleout.sh  # the same
#   PDNSX_BENCH_KAFKA=127.0.0.1:9092 tests/bench/scaleout.sh   # a broker of yours
#   BUILD=/other/checkout/build-bench tests/bench/scaleout.sh  # another Release build
#   N=1000000 ROUNDS=2 MEMBERS="1 2" tests/bench/scaleout.sh   # quicker
#   CHANGELOG=on tests/bench/scaleout.sh             # members with the changelog only
#   PARTS=restore tests/bench/scaleout.sh            # the restore part only
#
# A real broker only: pdnsx-broker's mock cluster drops old messages and
# does not do static membership. Builds a Release tree in build-bench/
# (BUILD=DIR for another one) if needed.
#
# Members (PARTS=members): ORGS organisation topics of PARTITIONS partitions
# each (fresh, per run), filled once with N observations over K keys by
# pdnsx-bench-obsgen (keyed by registered domain, as producers do). Then
# ROUNDS rounds; each runs every M of MEMBERS, each with every mode of
# CHANGELOG (both orders reversed every other round: the machine's speed
# drifts): M pdnsx-consumer processes started together in a fresh group,
# with the changelog ("on": kafka.changelog_topic a fresh log-compacted
# topic of PARTITIONS partitions for the run, as pdnsx-kafka-federation
# makes pdnsx.state; "off": kafka.changelog_topic ""), each with its own
# fresh store.path, kafka.group_instance_id (static membership: a member that exits does not
# hand its partitions to the others, which would read them again) and
# run.exit_idle=IDLE, not pinned. Every 100 ms the script reads each
# member's /metrics. Per run:
#  - join: seconds from the start of the processes to the first message read (the
#    group join; with a harness broker started here, Kafka's default
#    group.initial.rebalance.delay.ms of 3 s: PDNSX_KAFKA_GROUP_DELAY_MS);
#  - merge: from then until the sum of the members' merged observations
#    (pdnsx_consumer_merged_total) stops growing (the last sample before
#    every member exited idle): the figure. Without double work (below)
#    the sum then is N; with it, the sum passes N before every partition is
#    merged once, and "to N" (start to the sum reaching N) is shown beside;
#  - merged: the sum of the members' "merged" at exit. Above N means double
#    work: a partition read by one member and, after a rebalance, again by
#    its new owner from the new owner's store's offset (with the changelog
#    off, the beginning; on, its restored position). The group join is such a rebalance: the first
#    member to join takes every partition until the others' JoinGroup
#    reaches it (up to heartbeat.interval.ms, 3 s);
#  - records: records summed over the members' stores (pdnsx-query verify);
#    above K means the stores overlap;
#  - CPU: user + sys of all members (/usr/bin/time), and obs per CPU second
#    (N over it); the broker's CPU seconds over the run, when it runs on
#    this machine (found by its port: ss -ltnp); assigned: partition assignments logged over the members
#    (ORGS x PARTITIONS when the group settled at once).
#  - changelog rows: rows the members published to the changelog, from
#    pdnsx_consumer_changelog_rows_total.
# The speed-up of M members is the M=1 run's merge time over the M run's
# (the same mode), per round, median over rounds; the changelog's cost, the
# "on" run's merge time over the "off" run's (the same M), likewise.
#
# Restore (PARTS=restore), end to end: one member merges the N
# observations with the changelog on (a fresh topic), exits, its store is
# deleted, and a member of the same group.instance.id starts on an empty
# store: it restores every partition from the changelog (Kafka and the
# store's apply) and merges nothing again (checked: merged 0, records K).
# Per run (ROUNDS): rows restored and the seconds the restores took (their
# log lines summed, and from the first restore's start to the last one's
# end), rows/s and records/s (K over it), the process's CPU. Then the
# store side alone, pdnsx-bench-store -n RN -k RK -r (rows of a store's
# changelog applied to a fresh store, no Kafka), and the Kafka side alone,
# tests/bench/changelog.sh (rows/s published and restored through the
# changelog topic, nothing applied) with CHANGELOG_N rows.
#
# Settings: N (3000000), K (600000), DOMAINS (60000), ORGS (3), PARTITIONS
# (12), MEMBERS ("1 2 3"), CHANGELOG ("on off"), ROUNDS (3), IDLE (3),
# SEED (1), SETTINGS (extra `-s PATH=VALUE` for every member, e.g.
# "-s store.batch_records=50000"),
# RN (1000000), RK (200000), CHANGELOG_N (1000000), CHANGELOG_SH (the Kafka
# side's script, tests/bench/changelog.sh) with CHANGELOG_KEY (24),
# CHANGELOG_VALUE (25) bytes a row and CHANGELOG_TX ("5000 50000") rows a
# transaction, PARTS ("members restore").
# Logs in tests/bench/data/scaleout/.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
if [ -z "${PDNSX_BENCH_KAFKA:-}" ] && [ -z "${PDNSX_TEST_KAFKA:-}" ]; then
    # Kafka's default initial rebalance delay (the harness's is 0): members
    # started together then join one generation, as in a deployment.
    PDNSX_KAFKA_GROUP_DELAY_MS=${PDNSX_KAFKA_GROUP_DELAY_MS:-3000} \
        exec "$root/scripts/with-kafka.sh" "$0" "$@"
fi
bootstrap=${PDNSX_BENCH_KAFKA:-$PDNSX_TEST_KAFKA}
if [ -z "${PDNSX_BENCH_KAFKA:-}" ] && [ -z "${PDNSX_KAFKA_GROUP_DELAY_MS:-}" ]; then
    echo "NOTE: the harness broker was started with group.initial.rebalance.delay.ms=0: the" \
         "first member to join takes every partition and the others read part of them again" \
         "(merged / N above 1). Run tests/bench/scaleout.sh by itself for the figures." >&2
fi

N=${N:-3000000}
K=${K:-600000}
DOMAINS=${DOMAINS:-60000}
ORGS=${ORGS:-3}
PARTITIONS=${PARTITIONS:-12}
MEMBERS=${MEMBERS:-"1 2 3"}
ROUNDS=${ROUNDS:-3}
IDLE=${IDLE:-3}
SEED=${SEED:-1}
CHANGELOG=${CHANGELOG:-"on off"}
SETTINGS=${SETTINGS:-}
RN=${RN:-1000000}
RK=${RK:-200000}
CHANGELOG_N=${CHANGELOG_N:-1000000}
CHANGELOG_SH=${CHANGELOG_SH:-$root/tests/bench/changelog.sh}
# Rows of the store's size: its changelog averages 48.5 bytes a row
# (pdnsx-bench-store -l: 42.2 MB for 869,759 rows).
CHANGELOG_KEY=${CHANGELOG_KEY:-24}
CHANGELOG_VALUE=${CHANGELOG_VALUE:-25}
CHANGELOG_TX=${CHANGELOG_TX:-"5000 50000"}
PARTS=${PARTS:-"members restore"}

build=${BUILD:-$root/build-bench}
data=$root/tests/bench/data/scaleout
logs=$data/logs
mkdir -p "$logs"

die() { echo "scaleout.sh: $*" >&2; exit 1; }
[ -x /usr/bin/time ] || die "/usr/bin/time is missing (apt-get install time)"
command -v curl >/dev/null || die "curl is missing (scripts/setup.sh installs it)"

if [ ! -f "$build/CMakeCache.txt" ]; then
    cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build "$build" -j2 --target pdnsx-consumer pdnsx-query pdnsx-bench-obsgen \
    pdnsx-bench-store >"$logs/build.log" 2>&1 || die "build failed, see $logs/build.log"
for mode in $CHANGELOG; do
    [[ $mode == on || $mode == off ]] || die "CHANGELOG: \"$mode\" is neither on nor off"
done
bin=$build/bin

pids=()
spid=""
cleanup() {
    local p
    for p in "${pids[@]}" $spid; do kill "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

per() { awk -v n="$1" -v w="$2" 'BEGIN { printf "%.0f", (w > 0 ? n / w : 0) }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (a > 0 && b > 0 ? a / b : 0) }'; }
median() {
    tr ' ' '\n' <<<"$*" | grep . | sort -g |
        awk '{ v[NR] = $1 } END { if (NR) printf "%.2f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
# The broker's CPU seconds so far (user + sys), when it runs on this
# machine (found by its listening port); "" otherwise.
broker_pid=$(ss -ltnpH "sport = :${bootstrap##*:}" 2>/dev/null | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2)
broker_cpu() {
    [ -n "$broker_pid" ] && [ -r "/proc/$broker_pid/stat" ] || return 0
    awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.2f", ($12 + $13) / hz }' \
        "/proc/$broker_pid/stat"
}
median_int() { median "$@" | awk '{ printf "%.0f", $1 }'; }
free_port() { /usr/bin/python3 "$root/tests/integration/ports.py" free; }
now() { date +%s.%N; }

# sample T0 PORT...: one line every 100 ms, "seconds-since-T0 merged-sum
# messages-sum commit-ms-sum changelog-rows-sum merged-of-each-member",
# from each member's /metrics (pdnsx_consumer_merged_total counts at each
# batch's commit, pdnsx_consumer_messages_total as messages are read,
# pdnsx_consumer_commit_milliseconds_total the time in store commits,
# pdnsx_consumer_changelog_rows_total the rows published to the changelog;
# a member that has exited keeps its last values), until killed.
sample() {
    local t0=$1 p v; shift
    declare -A merged read commit clog
    while :; do
        local line="" sum=0 rsum=0 csum=0 lsum=0
        for p in "$@"; do
            v=$(curl -s --max-time 1 "http://127.0.0.1:$p/metrics" 2>/dev/null |
                awk '$1 == "pdnsx_consumer_merged_total" { m = $2 }
                     $1 == "pdnsx_consumer_messages_total" { r = $2 }
                     $1 == "pdnsx_consumer_commit_milliseconds_total" { c = $2 }
                     $1 == "pdnsx_consumer_changelog_rows_total" { l = $2 }
                     END { if (m != "") print m, r, c + 0, l + 0 }') || true
            if [ -n "$v" ]; then
                read -r merged[$p] read[$p] commit[$p] clog[$p] <<<"$v"
            fi
            sum=$((sum + ${merged[$p]:-0})) rsum=$((rsum + ${read[$p]:-0}))
            csum=$((csum + ${commit[$p]:-0})) lsum=$((lsum + ${clog[$p]:-0}))
            line="$line ${merged[$p]:-0}"
        done
        echo "$(awk -v a="$(now)" -v b="$t0" 'BEGIN { printf "%.2f", a - b }') $sum $rsum $csum $lsum$line"
        sleep 0.1
    done
}

# members_run NAME M TOPIC: M members in the group NAME (fresh stores),
# with the changelog topic TOPIC ("": none); sets to_n, join_s, span
# (done_s - join_s), done_s, commit_s (seconds in store commits, all
# members, as last sampled), clog_rows (rows published to the changelog,
# as last sampled), wall, cpu, bcpu (the broker's CPU seconds meanwhile,
# "" for a broker elsewhere), merged, records, assigned, per_member (merged
# of each), restored_rows and restore_s (changelog restores, from the
# members' logs: rows, seconds summed), restore_span (from the first
# restore's start to the last one's end). The members' stores are deleted
# after.
members_run() {
    local name=$1 m=$2 topic=$3 i ports=() t0 st b0
    pids=()
    for ((i = 0; i < m; i++)); do
        rm -rf "$data/store-$name-$i"
        ports+=("$(free_port)")
    done
    b0=$(broker_cpu)
    t0=$(now)
    for ((i = 0; i < m; i++)); do
        # shellcheck disable=SC2086 # SETTINGS is a list of words
        /usr/bin/time -f '%U %S' -o "$logs/$name-$i.time" "$bin/pdnsx-consumer" \
            -s "kafka.brokers=\"$bootstrap\"" \
            -s "kafka.topics=\"^pdnsx\\\\.obs\\\\.$prefix-[a-z]\$\"" \
            -s "kafka.group=\"$name\"" -s "kafka.group_instance_id=\"member-$i\"" \
            -s "store.path=\"$data/store-$name-$i\"" -s "run.exit_idle=$IDLE" \
            -s 'trust.org_new_records=1000000000' \
            -s "metrics.listen=\"127.0.0.1:${ports[$i]}\"" \
            -s "kafka.changelog_topic=\"$topic\"" $SETTINGS \
            >"$logs/$name-$i.out" 2>"$logs/$name-$i.err" &
        pids+=($!)
    done
    sample "$t0" "${ports[@]}" >"$logs/$name.samples" &
    spid=$!
    st=0
    for i in "${!pids[@]}"; do wait "${pids[$i]}" || st=$?; done
    wall=$(awk -v a="$(now)" -v b="$t0" 'BEGIN { printf "%.2f", a - b }')
    bcpu=$(awk -v a="$(broker_cpu)" -v b="$b0" 'BEGIN { if (a != "") printf "%.2f", a - b }')
    kill "$spid" 2>/dev/null || true
    wait "$spid" 2>/dev/null || true
    spid="" pids=()
    [ "$st" = 0 ] || die "a member of $name failed (status $st), see $logs/$name-*.err"
    to_n=$(awk -v n="$N" '$2 >= n { print $1; exit }' "$logs/$name.samples")
    # The last sample with no message read: the group's join is over by then.
    join_s=$(awk '$3 > 0 { print prev + 0; exit } { prev = $1 }' "$logs/$name.samples")
    done_s=$(awk '$2 > max { max = $2; t = $1 } END { print t }' "$logs/$name.samples")
    commit_s=$(awk 'END { printf "%.2f", $4 / 1000 }' "$logs/$name.samples")
    clog_rows=$(awk 'END { print $5 + 0 }' "$logs/$name.samples")
    cpu=0 merged=0 records=0 assigned=0 per_member=""
    read -r restored_rows restore_s restore_span < <(cat "$logs/$name"-*.err | awk '
        function t(s) { split(substr(s, 12, 12), a, ":"); return a[1] * 3600 + a[2] * 60 + a[3] }
        / changelog: restoring partition / { if (first == "" || t($1) < first) first = t($1) }
        / changelog: partition [0-9]+ restored[: ]/ {
            for (j = 1; j < NF; j++) { if ($(j + 1) == "rows") r += $j; if ($(j + 1) == "s") s += $j }
            if (t($1) > last) last = t($1) }
        END { printf "%d %.2f %.2f\n", r, s, (first == "" ? 0 : last - first) }')
    for ((i = 0; i < m; i++)); do
        cpu=$(awk -v c="$cpu" '{ print c + $1 + $2 }' "$logs/$name-$i.time")
        local mg
        mg=$(grep -o 'merged [0-9]*' "$logs/$name-$i.err" | tail -1 | awk '{ print $2 }')
        merged=$((merged + ${mg:-0})) per_member="$per_member${per_member:+/}${mg:-?}"
        assigned=$((assigned + $(grep -c 'assigned .* from offset' "$logs/$name-$i.err" || true)))
        # Every store pdnsx-query finds there (one, or one per partition).
        "$bin/pdnsx-query" -s "store.path=\"$data/store-$name-$i\"" verify \
            >"$logs/$name-$i.verify" 2>&1 || die "verify of $name member $i failed, see $logs/$name-$i.verify"
        records=$((records + $(awk '/^store .* records/ { for (j = 1; j < NF; j++)
                if ($(j + 1) == "of") { s += $j; break } } END { print s + 0 }' "$logs/$name-$i.verify")))
        rm -rf "$data/store-$name-$i"
    done
    # Without a sample at N (members exited between samples), the exit is the bound.
    [ -n "$to_n" ] || to_n=$done_s
    # Until the sum stopped growing: with double work the sum passes N
    # before every partition is merged once; without, it is the time to N.
    span=$(awk -v a="$done_s" -v b="$join_s" 'BEGIN { printf "%.2f", a - b }')
}

# publish: fills the ORGS topics (prefix $prefix, fresh) with the N observations.
publish() {
    prefix=scale$(date +%s)
    echo "publishing $N observations over $K keys ($DOMAINS domains, $ORGS organisations," \
         "$PARTITIONS partitions a topic, seed $SEED) to Kafka at $bootstrap ..."
    "$build/bench/pdnsx-bench-obsgen" -b "$bootstrap" -n "$N" -k "$K" -D "$DOMAINS" -s "$SEED" \
        -p "$prefix" -o "$ORGS" -P "$PARTITIONS" >"$data/obsgen.txt" 2>"$logs/obsgen.err" ||
        die "pdnsx-bench-obsgen failed, see $logs/obsgen.err"
    stored=$(awk '$1 == "stored" { print $2 }' "$data/obsgen.txt")
    [ "$stored" = "$N" ] || die "the topics hold $stored of $N observations"
}

# changelog_topic NAME: creates the fresh changelog topic pdnsx.state.NAME
# (log-compacted, PARTITIONS partitions); sets topic to its name.
changelog_topic() {
    topic=pdnsx.state.$1
    "$build/bench/pdnsx-bench-obsgen" -b "$bootstrap" -C "$topic" -P "$PARTITIONS" \
        2>>"$logs/obsgen.err" || die "cannot create $topic, see $logs/obsgen.err"
}

# --- members -------------------------------------------------------------------
if [[ " $PARTS " == *" members "* ]]; then
    publish
    declare -A r_to_n r_join r_span r_done r_cpu r_bcpu r_commit r_work r_rec r_asg r_speed
    declare -A r_clog r_cost row_span
    reverse() { tr ' ' '\n' <<<"$*" | grep . | tac | tr '\n' ' '; }
    for ((r = 0; r < ROUNDS; r++)); do
        order=$MEMBERS modes=$CHANGELOG
        ((r % 2)) && order=$(reverse "$MEMBERS") modes=$(reverse "$CHANGELOG")
        for m in $order; do
            for mode in $modes; do
                name=scale-$$-r$r-m$m-$mode topic=""
                [ "$mode" = off ] || changelog_topic "$name"
                members_run "$name" "$m" "$topic"
                [ "$restored_rows" = 0 ] || die "$name restored $restored_rows rows from a fresh changelog"
                k=$mode.$m
                row_span[$r.$k]=$span
                r_to_n[$k]+=" $to_n" r_done[$k]+=" $done_s" r_cpu[$k]+=" $cpu"
                r_join[$k]+=" $join_s" r_span[$k]+=" $span" r_bcpu[$k]+=" $bcpu"
                r_commit[$k]+=" $commit_s" r_clog[$k]+=" $clog_rows"
                r_work[$k]+=" $(ratio "$merged" "$N")" r_rec[$k]+=" $records" r_asg[$k]+=" $assigned"
                printf 'round %d, %d member(s), changelog %-3s: join %5.2f s, merge %6.2f s (%s obs/s), to N %6.2f s,' \
                    "$r" "$m" "$mode" "$join_s" "$span" "$(per "$N" "$span")" "$to_n"
                printf ' done %6.2f s, exit %6.2f s, commits %5.2f s, changelog rows %s,' \
                    "$done_s" "$wall" "$commit_s" "$clog_rows"
                printf ' CPU %6.2f s (broker %s s), merged %s (%s), records %s of %s, assignments %s, load %s\n' \
                    "$cpu" "${bcpu:-?}" "$merged" "$per_member" "$records" "$K" "$assigned" \
                    "$(cut -d' ' -f1 /proc/loadavg)"
            done
        done
        for mode in $CHANGELOG; do
            if [[ " $MEMBERS " == *" 1 "* ]]; then
                for m in $MEMBERS; do
                    r_speed[$mode.$m]+=" $(ratio "${row_span[$r.$mode.1]}" "${row_span[$r.$mode.$m]}")"
                done
            fi
        done
        if [[ " $CHANGELOG " == *" on "* && " $CHANGELOG " == *" off "* ]]; then
            for m in $MEMBERS; do
                r_cost[$m]+=" $(ratio "${row_span[$r.on.$m]}" "${row_span[$r.off.$m]}")"
            done
        fi
    done
    echo
    echo "medians over $ROUNDS round(s) ($N observations, $K keys, $ORGS organisations x" \
         "$PARTITIONS partitions, run.exit_idle=$IDLE, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)," \
         "$(date -u +%F), $(git -C "$root" rev-parse --short HEAD)):"
    echo "| changelog | members | merge s | obs/s | speed-up vs 1 | on/off merge s | join s | start to N s | done s | CPU s (all members) | obs per CPU s | broker CPU s | commit s (all members) | changelog rows | merged / N | records (K=$K) | assignments |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    for mode in $CHANGELOG; do
        for m in $MEMBERS; do
            k=$mode.$m
            t=$(median "${r_span[$k]}") c=$(median "${r_cpu[$k]}") cost=""
            [ "$mode" = on ] && cost=$(median "${r_cost[$m]:-}")
            echo "| $mode | $m | $t | $(per "$N" "$t") | $(median "${r_speed[$k]:-}") | $cost |" \
                 "$(median "${r_join[$k]}") | $(median "${r_to_n[$k]}") | $(median "${r_done[$k]}") |" \
                 "$c | $(per "$N" "$c") | $(median "${r_bcpu[$k]}") | $(median "${r_commit[$k]}") |" \
                 "$(median_int "${r_clog[$k]}") | $(median "${r_work[$k]}") | $(median_int "${r_rec[$k]}") | $(median_int "${r_asg[$k]}") |"
        done
    done
    for mode in $CHANGELOG; do
        for m in $MEMBERS; do
            echo "  changelog $mode, $m member(s), per round: merge s${r_span[$mode.$m]}; CPU s${r_cpu[$mode.$m]};" \
                 "merged / N${r_work[$mode.$m]}; speed-up${r_speed[$mode.$m]:-}"
        done
    done
    for m in $MEMBERS; do
        [ -n "${r_cost[$m]:-}" ] && echo "  $m member(s), changelog on/off merge s per round:${r_cost[$m]}"
    done
    cat <<'EOT'
merge s: from the last sample with no message read to the last growth of the sum of the
members' merged (sampled every 100 ms; N when nothing is merged twice); obs/s: N over it;
speed-up: the 1-member run's merge s over this one's (the same changelog mode), per round,
median. on/off merge s: the changelog-on run's merge s over the off run's (the same members),
per round, median: the changelog's cost. join s: start of the processes to the first message
read (group join, with the broker's group.initial.rebalance.delay.ms). start to N s: to the
sum reaching N; done s: to its last growth. CPU s: user + sys of every member, whole
processes. broker CPU s: the Kafka broker's (a local one) over the same run, group join and
idle wait included. commit s: the members' time in store commits summed
(pdnsx_consumer_commit_milliseconds_total). changelog rows: rows published to the changelog
(pdnsx_consumer_changelog_rows_total). merged / N above 1: double work (a rebalance handed
a partition to a member that read it again); records above K: the stores overlap.
EOT
fi

# --- restore -------------------------------------------------------------------
if [[ " $PARTS " == *" restore "* ]]; then
    echo
    [ -n "${prefix:-}" ] || publish
    echo "restore, end to end: 1 member merges the $N observations with the changelog on, its" \
         "store is deleted, a member with the same group.instance.id restores it ($ROUNDS round(s)) ..."
    declare -A e_rows e_s e_span e_cpu e_wall e_rps e_kps
    for ((r = 0; r < ROUNDS; r++)); do
        name=scale-$$-restore-r$r
        changelog_topic "$name"
        members_run "$name" 1 "$topic"
        [ "$merged" = "$N" ] && [ "$records" = "$K" ] ||
            die "$name: the first member merged $merged of $N, records $records of $K"
        published=$clog_rows fill_cpu=$cpu
        # the same group, instance id, store.path (deleted) and changelog topic
        members_run "$name" 1 "$topic"
        [ "$merged" = 0 ] || die "$name: the restored member merged $merged observations again"
        [ "$records" = "$K" ] || die "$name: the restored store holds $records of $K records"
        rps=$(per "$restored_rows" "$restore_span") kps=$(per "$K" "$restore_span")
        e_rows[$r]=$restored_rows e_s[$r]=$restore_s e_span[$r]=$restore_span e_cpu[$r]=$cpu
        e_wall[$r]=$wall e_rps[$r]=$rps e_kps[$r]=$kps
        printf 'round %d: %s rows published (merge CPU %s s); restored %s rows (%s records) in %s s' \
            "$r" "$published" "$fill_cpu" "$restored_rows" "$records" "$restore_s"
        printf ' (first start to last end %s s): %s rows/s, %s records/s; restoring process CPU %s s, exit %s s, load %s\n' \
            "$restore_span" "$rps" "$kps" "$cpu" "$wall" "$(cut -d' ' -f1 /proc/loadavg)"
    done
    echo "  median: $(median "${e_span[@]}") s, $(median_int "${e_rps[@]}") rows/s," \
         "$(median_int "${e_kps[@]}") records/s, CPU $(median "${e_cpu[@]}") s (whole process:" \
         "start, group join, restore, idle exit)"
    echo
    echo "restore, store side: pdnsx-bench-store -n $RN -k $RK -b 250000 -r (no Kafka) ..."
    rm -rf "$data/rstore" "$data/rstore2"
    "$build/bench/pdnsx-bench-store" -n "$RN" -k "$RK" -b 250000 -r "$data/rstore2" "$data/rstore" \
        >"$logs/restore-store.out" 2>&1 || die "pdnsx-bench-store failed, see $logs/restore-store.out"
    grep -E '^(merges|records|changelog|restore)' "$logs/restore-store.out" | sed 's/^/  /'
    rm -rf "$data/rstore" "$data/rstore2"
    echo "restore, Kafka side: N=$CHANGELOG_N $CHANGELOG_SH ..."
    PDNSX_BENCH_KAFKA=$bootstrap N=$CHANGELOG_N KEY=$CHANGELOG_KEY VALUE=$CHANGELOG_VALUE \
        TX=$CHANGELOG_TX BUILD=$build "$CHANGELOG_SH" \
        2>"$logs/changelog.err" | tee "$logs/changelog.out" | sed 's/^/  /' ||
        echo "  changelog.sh failed, see $logs/changelog.err"
fi
