#!/usr/bin/env bash
# test_broker.sh BROKER_BIN: pdnsx-broker starts a mock cluster whose first
# stdout line is a usable bootstrap list; keyed messages round-trip through
# it with kcat, equal keys land on equal partitions, and SIGTERM exits 0.
set -euo pipefail
broker=${1:?usage: $0 PATH/TO/pdnsx-broker}
work=$(mktemp -d)
brk_pid=
cleanup() {
    [ -n "$brk_pid" ] && kill -KILL "$brk_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# Bad usage is exit status 2, not a running broker.
set +e
"$broker" --topic nopartitions </dev/null >/dev/null 2>&1; rc=$?
set -e
[ "$rc" = 2 ] || fail "bad --topic: exit $rc, want 2"

# --brokers N gives N bootstrap addresses.
coproc MULTI { exec "$broker" --brokers 3 2>/dev/null; }
read -r -t 20 -u "${MULTI[0]}" multi || fail "no bootstrap line from --brokers 3"
multi_pid=$MULTI_PID
kill -TERM "$multi_pid"
wait "$multi_pid" || fail "--brokers 3: non-zero exit after SIGTERM"
n=$(tr ',' '\n' <<<"$multi" | grep -c '^127\.0\.0\.1:[0-9]*$')
[ "$n" = 3 ] || fail "--brokers 3 printed '$multi'"

coproc BRK { exec "$broker" --topic t:4 2>"$work/broker.err"; }
brk_pid=$BRK_PID
read -r -t 20 -u "${BRK[0]}" bootstrap || fail "no bootstrap line from pdnsx-broker"
[[ "$bootstrap" =~ ^127\.0\.0\.1:[0-9]+(,127\.0\.0\.1:[0-9]+)*$ ]] ||
    fail "bootstrap line '$bootstrap' is not a loopback host:port list"
echo "broker at $bootstrap"

# The topic exists with the requested 4 partitions before anyone writes.
nparts=$(timeout 30 kcat -L -b "$bootstrap" -t t -m 10 | grep -c "partition [0-9]*, leader")
[ "$nparts" = 4 ] || fail "topic t has $nparts partitions, want 4"

# 100 messages over 20 keys, 5 each; values are unique.
for i in $(seq 0 99); do echo "key$((i % 20)):value$i"; done >"$work/sent"
timeout 60 kcat -P -b "$bootstrap" -t t -K: <"$work/sent"

timeout 60 kcat -C -b "$bootstrap" -t t -e -o beginning -q -f '%k %p %s\n' >"$work/got"
got=$(wc -l <"$work/got")
[ "$got" = 100 ] || fail "consumed $got messages, want 100"
# Same key:value pairs as sent, none lost, none doubled.
diff <(sort "$work/sent") <(awk '{print $1 ":" $3}' "$work/got" | sort) ||
    fail "consumed messages differ from the ones produced"
# Each key on exactly one partition; the keys spread over several partitions.
split=$(awk '{print $1, $2}' "$work/got" | sort -u | awk '{n[$1]++} END {for (k in n) if (n[k] > 1) print k}')
[ -z "$split" ] || fail "keys on more than one partition: $split"
used=$(awk '{print $2}' "$work/got" | sort -u | wc -l)
[ "$used" -ge 2 ] || fail "20 keys all landed on one partition of 4"

kill -TERM "$brk_pid"
set +e
wait "$brk_pid"; rc=$?
set -e
brk_pid=
[ "$rc" = 0 ] || { cat "$work/broker.err" >&2; fail "exit status $rc after SIGTERM, want 0"; }
echo "PASS: 100 messages, $used partitions used, clean exit on SIGTERM"
