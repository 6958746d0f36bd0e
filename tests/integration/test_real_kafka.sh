#!/usr/bin/env bash
# test_real_kafka.sh: keyed messages round-trip through a real Apache Kafka,
# and kcat with topic.partitioner=murmur2_random (what librdkafka clients
# such as pdnsx use) puts every key on the partition the Java client picks:
# toPositive(murmur2(key)) % partitions. That is the key->partition contract
# the consumers' co-partitioning relies on, across client libraries.
#
#   PDNSX_TEST_KAFKA       bootstrap address of a real broker; unset: skip (77)
#   PDNSX_TEST_KAFKA_LIBS  optional dir of Kafka jars: the Java console
#                          producer then writes the same keys, and its
#                          partitions must match kcat's too
# scripts/with-kafka.sh sets both.
set -euo pipefail
if [ -z "${PDNSX_TEST_KAFKA:-}" ]; then
    # in CI the broker is a fixture: its absence fails the test
    case "${CI:-}" in
    "" | 0 | false) ;;
    *) echo "FAIL: PDNSX_TEST_KAFKA is not set in CI (run under scripts/with-kafka.sh)" >&2
       exit 1 ;;
    esac
    echo "SKIP: PDNSX_TEST_KAFKA is not set (run under scripts/with-kafka.sh)"
    exit 77
fi
bootstrap=$PDNSX_TEST_KAFKA
py=/usr/bin/python3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
topic="pdnsx-test-murmur-$$-$RANDOM"

# Keys of every length mod 4 (murmur2's tail cases), registered-domain-like,
# plus a few repeated ones.
{
    for k in a ab abc abcd abcde example.com example.org xn--bcher-kva.example \
        paypa1-secure.net co.uk a.b.c.d.e.f.g; do echo "$k"; done
    for i in $(seq 1 40); do echo "d$i.example$((i % 7)).net"; done
} >"$work/keys"
awk '{print $0 ":kcat" NR}' "$work/keys" >"$work/sent"
awk '{print $0 ":kcat-again" NR}' "$work/keys" | head -n 10 >>"$work/sent"
nsent=$(wc -l <"$work/sent")

timeout 60 kcat -P -b "$bootstrap" -t "$topic" -K: -X topic.partitioner=murmur2_random \
    <"$work/sent" || fail "kcat could not produce to $bootstrap"

if [ -n "${PDNSX_TEST_KAFKA_LIBS:-}" ]; then
    # The Java client's default partitioner hashes keyed records with murmur2.
    awk '{print $0 ":java" NR}' "$work/keys" >"$work/sent-java"
    timeout 120 java -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
        -Dlog4j.configuration=file:/dev/null -cp "$PDNSX_TEST_KAFKA_LIBS/*" \
        kafka.tools.ConsoleProducer --bootstrap-server "$bootstrap" --topic "$topic" \
        --property parse.key=true --property key.separator=: \
        <"$work/sent-java" 2>"$work/java.err" ||
        { cat "$work/java.err" >&2; fail "Java console producer failed"; }
    nsent=$((nsent + $(wc -l <"$work/sent-java")))
fi

nparts=$(timeout 30 kcat -L -b "$bootstrap" -t "$topic" -m 10 | grep -c "partition [0-9]*, leader")
[ "$nparts" -ge 2 ] || fail "topic $topic has $nparts partitions; the check needs 2 or more"

timeout 60 kcat -C -b "$bootstrap" -t "$topic" -e -o beginning -q -f '%k %p %s\n' >"$work/got"
ngot=$(wc -l <"$work/got")
[ "$ngot" = "$nsent" ] || fail "consumed $ngot messages, produced $nsent"

"$py" - "$nparts" "$work/got" <<'PY'
import sys
from collections import defaultdict

def murmur2(data: bytes) -> int:
    """Kafka's org.apache.kafka.common.utils.Utils.murmur2, as 32-bit unsigned."""
    m, r, mask = 0x5BD1E995, 24, 0xFFFFFFFF
    n = len(data)
    h = (0x9747B28C ^ n) & mask
    for i in range(n // 4):
        k = int.from_bytes(data[4 * i:4 * i + 4], "little")
        k = (k * m) & mask
        k ^= k >> r
        k = (k * m) & mask
        h = ((h * m) & mask) ^ k
    tail, rest = n & ~3, n % 4
    if rest >= 3:
        h ^= data[tail + 2] << 16
    if rest >= 2:
        h ^= data[tail + 1] << 8
    if rest >= 1:
        h ^= data[tail]
        h = (h * m) & mask
    h ^= h >> 13
    h = (h * m) & mask
    h ^= h >> 15
    return h

def java_partition(key: bytes, partitions: int) -> int:
    return (murmur2(key) & 0x7FFFFFFF) % partitions  # Utils.toPositive

nparts, path = int(sys.argv[1]), sys.argv[2]
seen = defaultdict(set)
bad = []
for line in open(path, "rb"):
    key, part, value = line.rstrip(b"\n").split(b" ", 2)
    part = int(part)
    seen[key].add(part)
    want = java_partition(key, nparts)
    if part != want:
        bad.append(f"{key.decode()} ({value.decode()}) on {part}, Java murmur2 says {want}")
split = {k.decode(): sorted(p) for k, p in seen.items() if len(p) > 1}
used = {p for ps in seen.values() for p in ps}
if bad or split or len(used) < 2:
    for b in bad:
        print("FAIL:", b, file=sys.stderr)
    if split:
        print("FAIL: keys on several partitions:", split, file=sys.stderr)
    if len(used) < 2:
        print("FAIL: every key on one partition", file=sys.stderr)
    sys.exit(1)
print(f"{len(seen)} keys on the Java murmur2 partition of {nparts}; {len(used)} partitions used")
PY
echo "PASS: $ngot messages round-tripped through $bootstrap"
