#!/usr/bin/env bash
# Runs the whole node:test suite against the ASan+UBSan build of the addon.
# Node itself is not instrumented, so the ASan runtime is preloaded; leak checking is left to
# the engine's own fd/buffer accounting because V8 keeps allocations alive until exit.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f build-asan/Debug/c1m.node ] || bash scripts/build-asan.sh
asan_rt=$(g++ -print-file-name=libasan.so)
ubsan_rt=$(g++ -print-file-name=libubsan.so)
export LD_PRELOAD="$asan_rt $ubsan_rt"
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:halt_on_error=1:detect_odr_violation=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export C1M_ADDON="$PWD/build-asan/Debug/c1m.node"
npx tsc -p .
node scripts/run-tests.mjs "$@"
