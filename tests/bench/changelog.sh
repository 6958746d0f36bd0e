#!/usr/bin/env bash
# Rows per second through the changelog topic (kafka.changelog_topic) on a
# real Kafka broker: publishing a store transaction's rows and waiting for
# Kafka's acknowledgement of every one, one transaction after another (as
# the consumer does), and restoring each partition from its start with an
# apply that only counts them (pdnsx-bench-changelog -h).
#
#   tests/bench/changelog.sh                          # starts Kafka (scripts/with-kafka.sh)
#   PDNSX_BENCH_KAFKA=127.0.0.1:9092 tests/bench/changelog.sh   # a broker of yours
#   N=2000000 TX="1000 5000 50000" tests/bench/changelog.sh
#   tests/bench/changelog.sh -T                       # each publish a Kafka transaction
#   tests/bench/changelog.sh -a 1000000               # an apply of 1 M rows/s (sleeping)
#   BASE=/tmp/base/build-bench ROUNDS=4 tests/bench/changelog.sh   # against a baseline
#
# Builds a Release tree in build-bench/ (BUILD=DIR for another one) if
# needed. Each case makes a fresh log-compacted topic of PARTITIONS
# partitions. Rows are KEY bytes of key (a table tag and a name, as a
# record's) and VALUE bytes of value, over KEYS distinct keys. With BASE (a
# Release build of another tree with pdnsx-bench-changelog built), each of
# ROUNDS (1) rounds runs both, the order reversed every other round, and
# each line is prefixed "round R new|base"; the restore's rows/s ratio
# new/base per round and its median close.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
if [ -z "${PDNSX_BENCH_KAFKA:-}" ] && [ -z "${PDNSX_TEST_KAFKA:-}" ]; then
    exec "$root/scripts/with-kafka.sh" "$0" "$@"
fi
brokers=${PDNSX_BENCH_KAFKA:-$PDNSX_TEST_KAFKA}
N=${N:-1000000}
TX=${TX:-"100 1000 5000 50000"}
PARTITIONS=${PARTITIONS:-2}
KEY=${KEY:-48}
VALUE=${VALUE:-96}
KEYS=${KEYS:-200000}
build=${BUILD:-$root/build-bench}
if [ ! -f "$build/CMakeCache.txt" ]; then
    cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build "$build" -j2 --target pdnsx-bench-changelog >/dev/null
ROUNDS=${ROUNDS:-1}
echo "broker $brokers; $N rows of $KEY+$VALUE bytes over $KEYS keys, $PARTITIONS partitions"
one() { # BUILD_DIR TX ARGS...: one run
    local b=$1 tx=$2
    shift 2
    "$b/bench/pdnsx-bench-changelog" -b "$brokers" -n "$N" -x "$tx" -p "$PARTITIONS" \
        -k "$KEY" -v "$VALUE" -K "$KEYS" "$@" 2> >(grep -v ' info: ' >&2)
}
if [ -z "${BASE:-}" ]; then
    for tx in $TX; do one "$build" "$tx" "$@"; done
    exit 0
fi
[ -x "$BASE/bench/pdnsx-bench-changelog" ] || { echo "no $BASE/bench/pdnsx-bench-changelog" >&2; exit 1; }
# rows/s of a run's restores (every partition's, summed over their seconds)
rate() { awk '$1 == "restore" { for (i = 2; i <= NF; i++) { split($i, kv, "=");
                if (kv[1] == "rows") r += kv[2]; if (kv[1] == "seconds") s += kv[2] } }
              END { printf "%.0f", (s > 0 ? r / s : 0) }'; }
for tx in $TX; do
    ratios=""
    for ((r = 0; r < ROUNDS; r++)); do
        order="new base"
        ((r % 2)) && order="base new"
        declare -A got=()
        for which in $order; do
            b=$build
            [ "$which" = base ] && b=$BASE
            out=$(one "$b" "$tx" "$@")
            sed "s/^/round $r $which /" <<<"$out"
            got[$which]=$(rate <<<"$out")
        done
        ratios="$ratios $(awk -v a="${got[new]}" -v b="${got[base]}" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')"
    done
    echo "rows a transaction $tx: restore rows/s new/base per round:$ratios; median" \
        "$(tr ' ' '\n' <<<"$ratios" | grep . | sort -g | awk '{ v[NR] = $1 } END { printf "%.2f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')"
done
