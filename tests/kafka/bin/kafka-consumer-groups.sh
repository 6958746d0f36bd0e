#!/usr/bin/env bash
# kafka-consumer-groups.sh: Kafka's own script of that name, on the cached jars (see kafka-run-tool).
set -euo pipefail
exec "$(dirname "$0")/kafka-run-tool" org.apache.kafka.tools.consumer.group.ConsumerGroupCommand "$@"
