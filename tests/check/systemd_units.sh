#!/usr/bin/env bash
# The systemd units as installed: `systemd-analyze verify` says nothing
# about them, and `systemd-analyze security --offline=true` rates each one
# 2.0 or better ("OK"), the producer's also with the live-capture drop-in.
#
#   tests/check/systemd_units.sh [--expect-findings N] UNITDIR [DROPIN]
#
# UNITDIR holds configured *.service files (the build's systemd/), DROPIN
# the producer's pcap drop-in. They are checked inside a scratch root
# (--root) holding the host's targets and a stub for every program the
# units run, so nothing needs installing; the man pages are the package
# test's (tests/package/). Exit 0 when the findings number N (default 0);
# 77 (skip) without systemd-analyze, unless CI is set.
set -euo pipefail
expect=0
if [ "${1:-}" = --expect-findings ]; then expect=$2; shift 2; fi
units=$1
dropin=${2:-}
if ! command -v systemd-analyze >/dev/null; then
  echo "systemd-analyze not found"
  [ -n "${CI:-}" ] && exit 1
  exit 77
fi
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
sysdir=$root/lib/systemd/system
mkdir -p "$sysdir"
cp /lib/systemd/system/*.target "$sysdir/"
cp "$units"/*.service "$sysdir/"
# A stub for each program an Exec line names, so that verify finds it.
sed -nE 's/^Exec[A-Za-z]*=[-@:+!]*(\/[^ ]+).*/\1/p' "$units"/*.service | sort -u |
  while read -r prog; do
    mkdir -p "$root$(dirname "$prog")"
    printf '#!/bin/sh\n' >"$root$prog"
    chmod 755 "$root$prog"
  done

findings=0
exposure() { # UNIT: checks and prints its exposure; counts it above 2.0
  local out rc=0
  out=$(systemd-analyze security --offline=true --root="$root" --threshold=20 "$1" 2>&1) || rc=$?
  printf '%s: %s\n' "$1" "$(printf '%s\n' "$out" | sed -n 's/.*Overall exposure level for [^:]*: //p')"
  if [ "$rc" != 0 ]; then
    printf '%s\n' "$out" | grep '^✗' || true
    echo "FINDING: $1: exposure above 2.0"
    findings=$((findings + 1))
  fi
}
for path in "$units"/*.service; do
  unit=$(basename "$path")
  case $unit in *@.service) unit=${unit%@.service}@check.service ;; esac
  out=$(systemd-analyze verify --root="$root" --man=no "$unit" 2>&1) || true
  if [ -n "$out" ]; then
    printf '%s\n' "$out"
    echo "FINDING: $unit: systemd-analyze verify"
    findings=$((findings + 1))
  fi
  exposure "$unit"
done
if [ -n "$dropin" ]; then
  for unit in pdnsx-producer.service pdnsx-producer@check.service; do
    [ -e "$sysdir/${unit/@check/@}" ] || continue
    mkdir -p "$root/etc/systemd/system/$unit.d"
    cp "$dropin" "$root/etc/systemd/system/$unit.d/pcap.conf"
    printf 'with %s: ' "$(basename "$dropin")"
    exposure "$unit"
  done
fi
echo "== findings: $findings (expected $expect)"
[ "$findings" = "$expect" ]
