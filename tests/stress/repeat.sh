#!/bin/sh
# Runs one cmocka test many times at once under CPU load, to find what
# fails once in many runs (a race with a broker's timers, say).
#   tests/stress/repeat.sh BINARY TEST [RUNS [PROCESSES [BUSY]]]
# BINARY: a unit program that honours PXT_REPEAT/PXT_ONLY (test_changelog);
# RUNS per process (default 30, at most 100), PROCESSES in parallel
# (default 6), BUSY spinning shells beside them (default 3).
# Prints "runs passed: P, failed: F" and exits non-zero when F > 0.
set -u
[ $# -ge 2 ] || { sed -n '2,8p' "$0" >&2; exit 2; }
bin=$1 test=$2 runs=${3:-30} procs=${4:-6} busy=${5:-3}
[ "$runs" -le 100 ] || runs=100 # the programs run a test at most 100 times
[ -x "$bin" ] || { echo "$bin: not an executable" >&2; exit 2; }
out=$(mktemp -d)
spin=""
trap 'kill $spin 2>/dev/null; rm -rf "$out"' EXIT INT TERM
for _ in $(seq "$busy"); do
    sh -c 'while :; do :; done' &
    spin="$spin $!"
done
pids=""
for i in $(seq "$procs"); do
    # a minute a run at most: a hung program counts its runs left as failed
    PXT_REPEAT=$runs PXT_ONLY=$test CMOCKA_MESSAGE_OUTPUT=stdout \
        timeout $((runs * 60)) "$bin" > "$out/$i" 2>&1 &
    pids="$pids $!"
done
wait $pids
passed=$(cat "$out"/* | grep -c '^\[       OK \]')
# a failed run, or one its process never finished (crashed, aborted)
failed=$((runs * procs - passed))
grep -h "producers replaced" "$out"/* | sort | uniq -c | sed 's/^/  /'
echo "runs passed: $passed, failed: $failed"
[ "$failed" -eq 0 ]
