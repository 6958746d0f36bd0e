#!/usr/bin/env bash
# kafka-stop.sh DIR: stops the Kafka that kafka-start.sh DIR started and
# waits for it to exit (SIGTERM, then SIGKILL after 30 s).
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: $0 DIR" >&2; exit 2; }
pidfile="$1/kafka.pid"
[ -f "$pidfile" ] || exit 0
pid=$(cat "$pidfile")
# Only signal the process if it still is our broker (pids get reused).
if [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q "kafka.Kafka"; then
    kill -TERM "$pid" 2>/dev/null || true
    # tail --pid returns when the process is gone; timeout bounds the wait.
    if ! timeout 30 tail --pid="$pid" -f /dev/null; then
        kill -KILL "$pid" 2>/dev/null || true
        timeout 10 tail --pid="$pid" -f /dev/null || true
    fi
fi
rm -f "$pidfile"
