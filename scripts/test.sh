#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine (run as root):
# installs what is needed, builds (plain and ASan+UBSan), starts a real
# single-node Kafka broker and runs every test against it and against
# pdnsx-broker. Exit status 0 only if everything passed.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
jobs=$(nproc)

bash scripts/setup.sh

echo "== format (clang-format, .clang-format)"
git ls-files '*.c' '*.h' | xargs clang-format --dry-run --Werror

echo "== build (RelWithDebInfo)"
cmake -S . -B build -G Ninja >/dev/null
cmake --build build -j"$jobs"

# Exported library functions that no program needs (only tests use them)
# or that only their own file uses fail the run, unless
# tests/check/exports-allow.txt says why (tests/check/exports.py; a build
# of the programs without inlining, unused sections dropped).
echo "== exports"
cmake -S . -B build-check -G Ninja -DPX_TESTS=OFF -DCMAKE_BUILD_TYPE=None \
  -DCMAKE_C_FLAGS="-O0 -fno-inline -ffunction-sections -fdata-sections" \
  -DCMAKE_EXE_LINKER_FLAGS="-Wl,--gc-sections" >/dev/null
cmake --build build-check -j"$jobs" >/dev/null
/usr/bin/python3 tests/check/exports.py build-check --enforce

echo "== build (AddressSanitizer + UndefinedBehaviorSanitizer)"
cmake -S . -B build-asan -G Ninja -DPX_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build build-asan -j"$jobs"

# Sanitizer findings fail the test that triggers them.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

# Every test, the real-broker ones too (label real-kafka: Kafka semantics,
# outages, the consumer against a real group coordinator), against a real
# Kafka broker started for this run. About 2 more minutes than without the
# real-broker tests on 2 cores. Twice as many tests as cores at once: the
# tests mostly wait (group joins, brokers starting, run.exit_idle), so at
# one per core the run kept the cores ~15 % busy (user+sys 3 of 2x10
# minutes); two per core take half the wall time, each test as long.
echo "== tests under ASan/UBSan (unit and integration, pdnsx-broker and a real Kafka broker)"
PDNSX_BIN="$here/build-asan/bin" scripts/with-kafka.sh \
  ctest --test-dir build-asan --output-on-failure -j"$((2 * jobs))" -LE 'package|rollout'

echo "== fuzz harnesses (libFuzzer, a short run each: they build and survive)"
CC=clang cmake -S . -B build-fuzz -G Ninja -DPX_FUZZ=ON -DPX_TESTS=ON >/dev/null
fuzzers=$(cd tests/fuzz && ls fuzz_*.c | sed 's/\.c$//')
# shellcheck disable=SC2086
cmake --build build-fuzz -j"$jobs" --target $fuzzers
# One fuzzer per core at a time (each still runs its whole -max_total_time):
# its last line when it survives, the end of its log when it does not; every
# fuzzer runs, and the step fails if one failed. Each starts from the inputs
# that once crashed it (tests/fuzz/regress/NAME, kept as regressions: they
# run first, every time) and writes what it finds to build-fuzz/corpus/NAME.
mkdir -p build-fuzz/logs
# shellcheck disable=SC2016
printf '%s\n' build-fuzz/fuzz/fuzz_* |
  LSAN_OPTIONS=suppressions=$here/tests/fuzz/lsan.supp xargs -P "$jobs" -I{} bash -c '
    name=${1##*/} log=build-fuzz/logs/${1##*/}.log
    mkdir -p "build-fuzz/corpus/$name"
    dirs=("build-fuzz/corpus/$name")
    [ -d "tests/fuzz/regress/$name" ] && dirs+=("tests/fuzz/regress/$name")
    if "$1" -max_total_time="$2" -print_final_stats=0 "${dirs[@]}" >"$log" 2>&1; then
      echo "${1##*/}: $(tail -n 1 "$log")"
    else
      tail -n 60 "$log"; echo "FAILED: ${1##*/} (log: $log)"; exit 1
    fi' _ {} "${PDNSX_FUZZ_SECONDS:-10}"

# The release build: the unit and check tests once more (optimised code
# finds other undefined behaviour than the sanitizers do), the tests whose
# figures need a build without sanitizers (label figures: memory bounds),
# and below the package and rollout tests, which install and run the
# release programs end to end. The integration tests ran above, under the
# sanitizers; running them twice cost seven minutes of the CI budget.
echo "== unit, check and figures tests, release build, with a real Kafka broker"
scripts/with-kafka.sh ctest --test-dir build --output-on-failure -j"$jobs" -L 'unit|check|figures'

# Labels package and rollout: left out above, run once each here. The
# package test builds the .deb in build/package-deb (docs/OPERATIONS.md).
echo "== the Debian package on a clean Debian 12 tree (tests/package/test_deb.sh)"
ctest --test-dir build --output-on-failure -L package
echo "== ansible rollout on this machine (tests/integration/test_rollout_site.py)"
scripts/with-kafka.sh ctest --test-dir build --output-on-failure -L rollout
