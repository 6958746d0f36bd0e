#!/usr/bin/env bash
# Output identity check for producer speed work: runs one or more
# pdnsx-producer binaries on the bench captures into pdnsx-broker and prints,
# per binary and input, the md5 of the sorted published messages (Kafka key
# and Avro bytes) and the producer's summary line. Equal sums: same output.
# The `clients` estimate is masked (mask_clients.py): client hashes use a
# random key per process, so it differs between any two runs.
#
#   tests/bench/same_output.sh OLD/pdnsx-producer NEW/pdnsx-producer
#
# Needs pdnsx-broker and pdnsx-tail (TOOLS=dir, default build-bench/bin).
# pdnsx-tail reads while the producer writes: the mock cluster drops old
# message sets of a busy partition, so reading afterwards would miss some.
# Data: tests/bench/data/bench.{pcap,dnstap} (see run.sh).
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
data=${DATA:-$root/tests/bench/data}
tools=${TOOLS:-$root/build-bench/bin}
[ $# -ge 1 ] || { echo "usage: $0 PRODUCER..." >&2; exit 2; }

tmp=$(mktemp -d)
broker_pid= tail_pid=
stop() {
    for pid in "$@"; do
        if [ -n "$pid" ]; then kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true; fi
    done
}
cleanup() {
    stop "$tail_pid" "$broker_pid"
    rm -rf "$tmp"
}
trap cleanup EXIT

n=0
for producer in "$@"; do
    for kind in pcap dnstap; do
        n=$((n + 1))
        # A fresh broker per run, so the topic holds that run's messages
        # only. Its first output line is the bootstrap list; the fifo stays
        # open (fd 3) so later output cannot hit a closed pipe.
        mkfifo "$tmp/out$n"
        "$tools/pdnsx-broker" --topic pdnsx.obs.bench:4 >"$tmp/out$n" 2>/dev/null &
        broker_pid=$!
        exec 3<"$tmp/out$n"
        read -r brokers <&3
        stdbuf -oL "$tools/pdnsx-tail" -b "$brokers" -t pdnsx.obs.bench --raw >"$tmp/raw$n" 2>/dev/null &
        tail_pid=$!
        "$producer" -s 'org="bench"' -s 'sensor="s1"' \
            -s "inputs=({type=\"$kind-file\"; path=\"$data/bench.$kind\";})" \
            -s "kafka.brokers=\"$brokers\"" 2>"$tmp/log$n"
        count=$(grep -o 'delivered [0-9]*' "$tmp/log$n" | cut -d' ' -f2)
        # every delivered message, as pdnsx-tail prints them (one per line)
        (timeout 300 tail -n +1 -f "$tmp/raw$n" || true) | head -n "$count" | sort >"$tmp/sorted$n"
        sum=$(/usr/bin/python3 "$root/tests/bench/mask_clients.py" <"$tmp/sorted$n" | sort |
            md5sum | cut -d' ' -f1)
        [ -z "${KEEP:-}" ] || cp "$tmp/sorted$n" "$KEEP.$n"
        stop "$tail_pid" "$broker_pid"
        tail_pid= broker_pid=
        exec 3<&-
        summary=$(grep -o 'responses .*' "$tmp/log$n" | head -1)
        printf '%s %s messages=%s %s\n  %s\n' "$sum" "$kind" "$count" "$producer" "$summary"
    done
done
