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
#
# Builds a Release tree in build-bench/ (BUILD=DIR for another one) if
# needed. Each case makes a fresh log-compacted topic of PARTITIONS
# partitions. Rows are KEY bytes of key (a table tag and a name, as a
# record's) and VALUE bytes of value, over KEYS distinct keys.
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
echo "broker $brokers; $N rows of $KEY+$VALUE bytes over $KEYS keys, $PARTITIONS partitions"
for tx in $TX; do
    "$build/bench/pdnsx-bench-changelog" -b "$brokers" -n "$N" -x "$tx" -p "$PARTITIONS" \
        -k "$KEY" -v "$VALUE" -K "$KEYS" "$@" 2> >(grep -v ' info: ' >&2)
done
