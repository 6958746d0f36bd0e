#!/usr/bin/env bash
# fetch-kafka.sh: puts an Apache Kafka server (jars only) into a cache dir,
# for the integration tests. Maven Central is the only source we may use, so
# the jars are resolved by Maven from tests/kafka/pom.xml.
#
#   PDNSX_KAFKA_VERSION  Kafka release (default 3.9.1; pom.xml's logging
#                        dependencies are for the 3.x line)
#   PDNSX_KAFKA_HOME     cache dir (default ~/.cache/pdnsx/kafka-<version>)
#
# Idempotent: a complete cache (libs/ plus its .complete marker, which holds
# the checksum of the pom.xml it was made from) is reused; a cache made from
# another pom.xml (a dependency added) is made again.
# Prints the Kafka home dir (the one that holds libs/) on stdout.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
version=${PDNSX_KAFKA_VERSION:-3.9.1}
home=${PDNSX_KAFKA_HOME:-${HOME:-/root}/.cache/pdnsx/kafka-$version}

pom_sum=$(sha256sum "$here/pom.xml" | cut -d' ' -f1)
if [ -f "$home/libs/.complete" ] && [ "$(cat "$home/libs/.complete")" = "$pom_sum" ]; then
    echo "$home"
    exit 0
fi
command -v mvn >/dev/null || { echo "fetch-kafka: mvn not found (run scripts/setup.sh)" >&2; exit 1; }

mkdir -p "$home"
tmp="$home/libs.partial"
rm -rf "$tmp"
# Only the runtime classpath is copied; -q keeps the log short, errors
# still show. Maven's progress goes to stderr so stdout stays one line.
mvn -q -B -Dstyle.color=never -f "$here/pom.xml" -Dkafka.version="$version" \
    dependency:copy-dependencies -DincludeScope=runtime \
    -DoutputDirectory="$tmp" >&2
ls "$tmp"/kafka_2.13-"$version".jar >/dev/null
echo "$pom_sum" >"$tmp/.complete"
rm -rf "$home/libs"
mv "$tmp" "$home/libs"
echo "$home"
