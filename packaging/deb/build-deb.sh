#!/usr/bin/env bash
# Builds the pdnsx .deb (docs/OPERATIONS.md, "Package") and prints its path.
#
#   packaging/deb/build-deb.sh [BUILD_DIR] [CPACK_ARGS...]
#
# BUILD_DIR (default build-deb) is configured with prefix /usr, the programs
# only, and the compiler and linker flags Debian builds its packages with
# (dpkg-buildflags, all hardening on: fortified functions, stack protector,
# full RELRO, bind now); it is reused, so a second run rebuilds only what
# changed. CPACK_ARGS go to cpack, e.g. -D CPACK_DEBIAN_PACKAGE_RELEASE=2
# -B DIR for a version+1 in another directory.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-build-deb}
shift || true
export DEB_BUILD_MAINT_OPTIONS=hardening=+all
# -ffile-prefix-map in Debian's CFLAGS maps the current directory.
cd "$src"
cmake -S "$src" -B "$build" -G Ninja -DCMAKE_INSTALL_PREFIX=/usr -DPX_TESTS=OFF \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_FLAGS="$(dpkg-buildflags --get CPPFLAGS) $(dpkg-buildflags --get CFLAGS)" \
    -DCMAKE_EXE_LINKER_FLAGS="$(dpkg-buildflags --get LDFLAGS)" >/dev/null
cmake --build "$build" >/dev/null
cd "$build"
out=$(cpack -G DEB "$@")
# cpack's last line: "CPack: - package: PATH generated."
sed -n 's/^CPack: - package: \(.*\) generated\.$/\1/p' <<<"$out"
