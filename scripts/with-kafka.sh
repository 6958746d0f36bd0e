#!/usr/bin/env bash
# with-kafka.sh CMD...: runs CMD with a real single-node Apache Kafka started
# for it (fetched with Maven first if needed) in a temp dir on a free
# loopback port (chosen by kafka-start.sh, which checks that the broker got
# it). CMD sees PDNSX_TEST_KAFKA (bootstrap address, PLAINTEXT, no ACLs
# apply), PDNSX_TEST_KAFKA_LIBS (the Kafka jars), PDNSX_TEST_KAFKA_BIN
# (Kafka's admin scripts on those jars: kafka-topics.sh, kafka-configs.sh,
# kafka-acls.sh), and for the SASL_SSL listener PDNSX_TEST_KAFKA_SECURE (its
# bootstrap address), PDNSX_TEST_KAFKA_CA (the CA's PEM) and
# PDNSX_TEST_KAFKA_ADMIN_PROPERTIES (client properties of the super user
# User:admin, for Kafka's tools). Kafka is stopped afterwards,
# whatever happens; the exit status is CMD's.
#   e.g. scripts/with-kafka.sh ctest --test-dir build -L integration
set -uo pipefail
[ $# -ge 1 ] || { echo "usage: $0 CMD [ARG]..." >&2; exit 2; }
kdir=$(cd "$(dirname "$0")/../tests/kafka" && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/pdnsx-kafka.XXXXXX")
cleanup() {
    "$kdir/kafka-stop.sh" "$tmp" || true
    if [ -n "${PDNSX_KEEP_KAFKA_DIR:-}" ]; then
        echo "with-kafka: Kafka dir kept in $tmp" >&2
    else
        rm -rf "$tmp"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

home=$("$kdir/fetch-kafka.sh") || { echo "with-kafka: cannot fetch Kafka" >&2; exit 1; }
start=$SECONDS
# port 0: kafka-start.sh chooses the ports and makes sure the broker holds them
bootstrap=$("$kdir/kafka-start.sh" "$tmp" 0) || {
    echo "with-kafka: Kafka did not start; see $tmp/logs" >&2
    PDNSX_KEEP_KAFKA_DIR=1
    exit 1
}
echo "with-kafka: Kafka at $bootstrap (started in $((SECONDS - start)) s)" >&2
export PDNSX_TEST_KAFKA=$bootstrap
export PDNSX_TEST_KAFKA_LIBS=$home/libs
export PDNSX_TEST_KAFKA_BIN=$kdir/bin
PDNSX_TEST_KAFKA_SECURE=$(cat "$tmp/secure.bootstrap")
export PDNSX_TEST_KAFKA_SECURE
export PDNSX_TEST_KAFKA_CA=$tmp/tls/ca.pem
export PDNSX_TEST_KAFKA_ADMIN_PROPERTIES=$tmp/admin.properties
"$@"
exit $?
