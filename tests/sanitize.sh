#!/usr/bin/env bash
# Builds everything with AddressSanitizer and UBSan into build-asan/ and runs
# every test there (the process tests then run the sanitized datagate too).
# Slower than tests/run.sh; run it after touching memory-sensitive code.
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/install-deps.sh
flags="-fsanitize=address,undefined -fno-omit-frame-pointer"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS="$flags" \
  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" >/dev/null
cmake --build build-asan -j"${JOBS:-2}"
# LeakSanitizer skips only the library leaks listed (with evidence) in
# tests/lsan.supp; the path is absolute since each test runs in its own folder.
export LSAN_OPTIONS="suppressions=$PWD/tests/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --test-dir build-asan -j2 --output-on-failure --timeout 600
