#!/usr/bin/env bash
# kafka-start.sh DIR PORT: starts a single-node KRaft Kafka (broker and
# controller in one JVM) for tests. DIR holds the config, data, logs and
# kafka.pid; the client listener is 127.0.0.1:PORT, the controller takes a
# second free loopback port. Waits until the broker answers metadata
# requests (deadline PDNSX_KAFKA_START_TIMEOUT, default 90 s), then prints
# the bootstrap address. Stop it with kafka-stop.sh DIR.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
[ $# -eq 2 ] || { echo "usage: $0 DIR PORT" >&2; exit 2; }
dir=$(mkdir -p "$1" && cd "$1" && pwd)
port=$2
py=/usr/bin/python3
deadline=$((SECONDS + ${PDNSX_KAFKA_START_TIMEOUT:-90}))

home=$("$here/fetch-kafka.sh")
free_port() {
    "$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
cport=$(free_port)
while [ "$cport" = "$port" ]; do cport=$(free_port); done

mkdir -p "$dir/data" "$dir/logs"
cat >"$dir/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$dir/data
num.partitions=4
default.replication.factor=1
auto.create.topics.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
group.initial.rebalance.delay.ms=0
PROPS
cat >"$dir/log4j.properties" <<'PROPS'
log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.File=${kafka.logs.dir}/server.log
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka=INFO
log4j.logger.org.apache.kafka=INFO
PROPS

# Short-lived test JVM on a small shared machine: small heap, serial GC,
# C1 only (JIT time dominates a test broker's start).
jvm=(-Xms128m -Xmx512m -XX:+UseSerialGC -XX:TieredStopAtLevel=1
    -Djava.awt.headless=true -Dkafka.logs.dir="$dir/logs"
    -Dlog4j.configuration="file:$dir/log4j.properties")
cp="$home/libs/*"

# A random cluster id: 16 random bytes, base64url without padding (Kafka's Uuid).
# Never one that starts with "-": the storage tool would take it for an
# option (Kafka's own Uuid.randomUuid() redraws those too; 1 id in 64).
# Kept in DIR so that a restart on the same DIR (outage tests) reuses it.
if [ -s "$dir/cluster.id" ]; then
    cluster_id=$(cat "$dir/cluster.id")
else
    cluster_id=$("$py" -c '
import base64, os
while True:
    u = base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("=")
    if not u.startswith("-"):
        print(u)
        break')
    echo "$cluster_id" >"$dir/cluster.id"
fi
java "${jvm[@]}" -cp "$cp" kafka.tools.StorageTool format --ignore-formatted \
    -t "$cluster_id" -c "$dir/server.properties" >"$dir/logs/format.out" 2>&1 ||
    { cat "$dir/logs/format.out" >&2; exit 1; }

# The JVM must not hold our stdout: callers read it with $(...).
java "${jvm[@]}" -cp "$cp" kafka.Kafka "$dir/server.properties" \
    </dev/null >"$dir/logs/kafka.out" 2>&1 &
pid=$!
echo "$pid" >"$dir/kafka.pid"

# kcat waits up to 2 s per try for metadata, so this loop is not a spin.
while :; do
    if ! kill -0 "$pid" 2>/dev/null; then
        echo "kafka-start: broker exited early; last log lines:" >&2
        tail -n 30 "$dir/logs/kafka.out" "$dir/logs/server.log" >&2 2>/dev/null || true
        exit 1
    fi
    if kcat -L -b "127.0.0.1:$port" -m 2 2>/dev/null | grep -q "broker 1 at"; then
        break
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
        echo "kafka-start: no answer on 127.0.0.1:$port in time" >&2
        "$here/kafka-stop.sh" "$dir" || true
        exit 1
    fi
done
echo "127.0.0.1:$port"
