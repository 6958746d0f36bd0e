#!/usr/bin/env bash
# kafka-start.sh DIR PORT: starts a single-node KRaft Kafka (broker and
# controller in one JVM) for tests. DIR holds the config, data, logs and
# kafka.pid; the client listener is 127.0.0.1:PORT (0: a free port chosen
# here), the controller takes a second free loopback port. Waits until the
# broker answers metadata requests and the JVM holds the client port
# (deadline PDNSX_KAFKA_START_TIMEOUT, default 90 s), then prints the
# bootstrap address. Stop it with kafka-stop.sh DIR.
#
# A second client listener on a third port speaks SASL_SSL (SCRAM-SHA-512,
# a certificate for 127.0.0.1 signed by a CA made here with openssl) and
# Kafka's StandardAuthorizer judges every request. The PLAINTEXT listener
# is as it always was: its principal User:ANONYMOUS is a super user (as is
# User:admin, the SCRAM user made when the storage is formatted), so tests
# that do not care about security see no ACL. For tests that do, DIR holds:
#   secure.bootstrap    the SASL_SSL address (127.0.0.1:PORT)
#   tls/ca.pem          the CA certificate (librdkafka's ssl.ca.location)
#   admin.properties    client properties of User:admin over SASL_SSL, for
#                       Kafka's own tools (--command-config)
#   admin.password      its password
#
# Ports come from tests/integration/ports.py (below the kernel's ephemeral
# range). Another test may still take one before the JVM binds it: then
# the broker exits (address in use) or another process answers on the
# port. The start is then tried again on new ports (the client port too
# when PORT was 0; a fixed PORT that another process holds is an error).
#
# group.initial.rebalance.delay.ms is 0 (tests join groups at once) unless
# PDNSX_KAFKA_GROUP_DELAY_MS says otherwise: tests/bench/scaleout.sh runs
# Kafka's default, 3000, so that members started together join one
# generation instead of the first taking every partition.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
[ $# -eq 2 ] || { echo "usage: $0 DIR PORT" >&2; exit 2; }
dir=$(mkdir -p "$1" && cd "$1" && pwd)
port=$2
py=/usr/bin/python3
deadline=$((SECONDS + ${PDNSX_KAFKA_START_TIMEOUT:-90}))

home=$("$here/fetch-kafka.sh")
ports_py=$here/../integration/ports.py
auto_port=0
[ "$port" = 0 ] && auto_port=1
mkdir -p "$dir/data" "$dir/logs"

# choose_ports: sets port (if chosen here), cport and sport (SASL_SSL),
# distinct and free now.
choose_ports() {
    if [ "$auto_port" = 1 ]; then
        read -r port cport sport < <("$py" "$ports_py" free 3)
    else
        cport=$port sport=$port
        while [ "$cport" = "$port" ] || [ "$sport" = "$port" ]; do
            read -r cport sport < <("$py" "$ports_py" free 2)
        done
    fi
}

# write_config: server.properties for the ports chosen.
write_config() {
cat >"$dir/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,SASL_SSL://127.0.0.1:$sport,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port,SASL_SSL://127.0.0.1:$sport
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT
sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
ssl.keystore.type=PEM
ssl.keystore.location=$dir/tls/broker.pem
ssl.truststore.type=PEM
ssl.truststore.location=$dir/tls/ca.pem
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
super.users=User:admin;User:ANONYMOUS
log.dirs=$dir/data
num.partitions=4
default.replication.factor=1
auto.create.topics.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
group.initial.rebalance.delay.ms=${PDNSX_KAFKA_GROUP_DELAY_MS:-0}
PROPS
}

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
# The CA and the broker's certificate (for 127.0.0.1 and localhost), made
# once per DIR like the cluster id; PEM, which Kafka reads since 2.7 (its
# key as unencrypted PKCS#8), so no keystore tool is needed.
make_tls() {
    local t=$dir/tls
    [ -s "$t/broker.pem" ] && return 0
    mkdir -p "$t"
    (
        cd "$t"
        openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 30 \
            -subj "/CN=pdnsx test CA" 2>/dev/null
        openssl req -newkey rsa:2048 -nodes -keyout broker.key -out broker.csr \
            -subj "/CN=127.0.0.1" 2>/dev/null
        printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >broker.ext
        openssl x509 -req -in broker.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
            -out broker.crt -days 30 -extfile broker.ext 2>/dev/null
        openssl pkcs8 -topk8 -nocrypt -in broker.key -out broker.p8
        cat broker.p8 broker.crt >broker.pem.tmp
        mv broker.pem.tmp broker.pem
    )
}

# The admin's SCRAM password, kept in DIR so that a restart reuses it (the
# credential lives in the metadata log that --ignore-formatted keeps).
if [ ! -s "$dir/admin.password" ]; then
    "$py" -c 'import secrets; print(secrets.token_hex(16))' >"$dir/admin.password"
fi
admin_password=$(cat "$dir/admin.password")
make_tls

# write_secure_files: what tests need to use the SASL_SSL listener.
write_secure_files() {
    echo "127.0.0.1:$sport" >"$dir/secure.bootstrap"
    cat >"$dir/admin.properties" <<PROPS
security.protocol=SASL_SSL
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="$admin_password";
ssl.truststore.type=PEM
ssl.truststore.location=$dir/tls/ca.pem
PROPS
}

# secure_ready: the SASL_SSL listener takes the admin's login (the whole
# chain: TLS to the CA, SCRAM, the authorizer letting a super user see).
secure_ready() {
    kcat -L -b "127.0.0.1:$sport" -m 2 -X security.protocol=SASL_SSL \
        -X sasl.mechanisms=SCRAM-SHA-512 -X sasl.username=admin \
        -X sasl.password="$admin_password" -X ssl.ca.location="$dir/tls/ca.pem" \
        2>/dev/null | grep -q "broker 1 at"
}

# start_once: starts the JVM on the chosen ports and waits until it serves
# them. Returns 0 when it does, 75 when it lost a port to another process
# (stopped again: try new ports), 1 on any other failure.
start_once() {
    write_config
    java "${jvm[@]}" -cp "$cp" kafka.tools.StorageTool format --ignore-formatted \
        -t "$cluster_id" -c "$dir/server.properties" \
        --add-scram "SCRAM-SHA-512=[name=admin,password=$admin_password]" \
        >"$dir/logs/format.out" 2>&1 ||
        { cat "$dir/logs/format.out" >&2; return 1; }

    # server.log is appended to: only this start's lines count below
    local seen
    seen=$(wc -l <"$dir/logs/server.log" 2>/dev/null || echo 0)
    # The JVM must not hold our stdout: callers read it with $(...).
    java "${jvm[@]}" -cp "$cp" kafka.Kafka "$dir/server.properties" \
        </dev/null >"$dir/logs/kafka.out" 2>&1 &
    pid=$!
    echo "$pid" >"$dir/kafka.pid"

    # kcat waits up to 2 s per try for metadata, so this loop is not a spin.
    local state
    while :; do
        if ! kill -0 "$pid" 2>/dev/null; then
            wait "$pid" 2>/dev/null || true
            if { cat "$dir/logs/kafka.out"; tail -n +"$((seen + 1))" "$dir/logs/server.log"; } \
                2>/dev/null | grep -q "Address already in use"; then
                echo "kafka-start: a port was taken before the broker bound it" >&2
                return 75
            fi
            echo "kafka-start: broker exited early; last log lines:" >&2
            tail -n 30 "$dir/logs/kafka.out" "$dir/logs/server.log" >&2 2>/dev/null || true
            return 1
        fi
        state=$("$py" "$ports_py" state "$pid" "$port")
        if [ "$state" = taken ]; then
            # another process answers on the port: never report its broker
            echo "kafka-start: 127.0.0.1:$port is held by another process" >&2
            "$here/kafka-stop.sh" "$dir" || true
            return 75
        fi
        if [ "$state" = ours ] && [ "$("$py" "$ports_py" state "$pid" "$sport")" = taken ]; then
            echo "kafka-start: 127.0.0.1:$sport is held by another process" >&2
            "$here/kafka-stop.sh" "$dir" || true
            return 75
        fi
        if [ "$state" = ours ] &&
            kcat -L -b "127.0.0.1:$port" -m 2 2>/dev/null | grep -q "broker 1 at" &&
            secure_ready; then
            write_secure_files
            return 0
        fi
        if [ "$SECONDS" -ge "$deadline" ]; then
            echo "kafka-start: no answer on 127.0.0.1:$port in time" >&2
            "$here/kafka-stop.sh" "$dir" || true
            return 1
        fi
    done
}

for attempt in 1 2 3 4 5; do
    choose_ports
    rc=0
    start_once || rc=$?
    [ "$rc" = 0 ] && { echo "127.0.0.1:$port"; exit 0; }
    [ "$rc" = 75 ] || exit 1
done
echo "kafka-start: no free ports after $attempt attempts" >&2
exit 1
