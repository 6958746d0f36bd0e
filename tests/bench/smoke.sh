#!/bin/sh
# integration/gencap_smoke: 2,000 generated responses must read back as
# exactly 2,000 packets (tcpdump, no malformed or bad-checksum packets) and
# 2,000 dnstap frames (fstrm_dump and our reader), the Python parser must agree
# with the generator's expected key counts, and the same seed must give the
# same bytes.
set -eu
gencap=$1 fstrmread=$2 pcapread=$3 dir=$4
here=$(cd "$(dirname "$0")" && pwd)
n=2000

command -v tcpdump >/dev/null 2>&1 || { echo "SKIP: tcpdump not installed"; exit 77; }
rm -rf "$dir" && mkdir -p "$dir"
"$gencap" -n $n -s 7 -N 5000 -D 500 -t 600 -o "$dir/a.pcap" -d "$dir/a.dnstap" >"$dir/a.txt"
cat "$dir/a.txt"

fail() { echo "FAIL: $*"; exit 1; }

grep -qx "responses $n" "$dir/a.txt" || fail "gencap did not report $n responses"

got=$(tcpdump -nr "$dir/a.pcap" 2>/dev/null | wc -l)
[ "$got" -eq $n ] || fail "tcpdump read $got packets"
# -vv verifies IP/UDP checksums and decodes DNS; "[|" marks a truncated decode
bad=$(tcpdump -vvnr "$dir/a.pcap" 2>/dev/null | grep -c -e '\[|' -e 'malformed' -e 'bad udp cksum' -e 'bad cksum' || true)
[ "$bad" -eq 0 ] || fail "tcpdump flags $bad packets"

if command -v fstrm_dump >/dev/null 2>&1; then
    got=$(fstrm_dump "$dir/a.dnstap" 2>&1 >/dev/null | grep -c '^Data frame')
    [ "$got" -eq $n ] || fail "fstrm_dump read $got data frames"
    fstrm_dump "$dir/a.dnstap" 2>&1 >/dev/null | grep -q '^FSTRM_CONTROL_STOP' || fail "no STOP frame"
fi
"$fstrmread" "$dir/a.dnstap" | grep -qx "frames $n" || fail "pdnsx-bench-fstrmread count"
"$pcapread" "$dir/a.pcap" | grep -qx "packets $n" || fail "pdnsx-bench-pcapread count"

/usr/bin/python3 "$here/check_capture.py" "$dir/a.pcap" "$dir/a.dnstap" --responses $n \
    --gencap-output "$dir/a.txt" || fail "check_capture.py"

"$gencap" -n $n -s 7 -N 5000 -D 500 -t 600 -o "$dir/b.pcap" -d "$dir/b.dnstap" >/dev/null
cmp "$dir/a.pcap" "$dir/b.pcap" && cmp "$dir/a.dnstap" "$dir/b.dnstap" || fail "not deterministic"
"$gencap" -n $n -s 8 -N 5000 -D 500 -t 600 -o "$dir/c.pcap" >/dev/null
! cmp -s "$dir/a.pcap" "$dir/c.pcap" || fail "the seed changes nothing"
echo "gencap_smoke: OK"
