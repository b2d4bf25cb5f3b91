#!/usr/bin/env bash
# Builds and runs one libFuzzer target over native/proto (frame, http, ws) or over the TLS layer
# (tls: native/tls.cc, linked with Debian's OpenSSL 3.0 from libssl-dev):
#   npm run fuzz -- <frame|http|ws|tls> [seconds]     (default 60 seconds)
# The binary goes to build-fuzz/, the working corpus to build-fuzz/corpus-<target>/ (seeded from
# fuzz/corpus/<target>/, which never grows), crash inputs to fuzz/artifacts/ (git-ignored).
# Exits 0 if nothing was found, 1 on a finding, 2 on a usage or build problem.
# Extra libFuzzer flags may be passed in FUZZ_FLAGS, e.g. FUZZ_FLAGS="-max_len=16384".
set -euo pipefail
cd "$(dirname "$0")/.."

target=${1:-}
seconds=${2:-60}
case "$target" in
  frame | http | ws | tls) ;;
  *)
    echo "usage: npm run fuzz -- <frame|http|ws|tls> [seconds]" >&2
    exit 2
    ;;
esac
if ! [[ "$seconds" =~ ^[1-9][0-9]*$ ]]; then
  echo "fuzz: seconds must be a positive integer, got '$seconds'" >&2
  exit 2
fi

cxx=${CXX_FUZZ:-clang++}
install_hint="apt-get update && apt-get install -y clang libclang-rt-14-dev"
if ! command -v "$cxx" > /dev/null; then
  echo "fuzz: $cxx not found. Install clang with: $install_hint" >&2
  exit 2
fi

# The protocol targets need only native/proto; the TLS target needs the TLS layer and an OpenSSL
# to link (the addon uses Node's own, which a standalone binary cannot).
sources=(native/proto/*.cc)
libs=()
if [ "$target" = tls ]; then
  install_hint="apt-get update && apt-get install -y clang libclang-rt-14-dev libssl-dev"
  if [ ! -f /usr/include/openssl/ssl.h ]; then
    echo "fuzz: the tls target needs OpenSSL's headers. Install them with: $install_hint" >&2
    exit 2
  fi
  sources=(native/tls.cc)
  libs=(-lssl -lcrypto)
fi

mkdir -p build-fuzz fuzz/artifacts
bin=build-fuzz/${target}_fuzz
echo "fuzz: building $bin" >&2
if ! "$cxx" -std=c++20 -g -O1 -fno-exceptions -fno-omit-frame-pointer \
  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -Wall -Wextra \
  -Inative "fuzz/${target}_fuzz.cc" "${sources[@]}" -o "$bin" ${libs[@]+"${libs[@]}"}; then
  echo "fuzz: build failed. If the fuzzer runtime is missing, install it with: $install_hint" >&2
  exit 2
fi

corpus=build-fuzz/corpus-$target
mkdir -p "$corpus"
cp -n "fuzz/corpus/$target"/* "$corpus"/ 2> /dev/null || true

log=build-fuzz/$target.log
stamp=build-fuzz/.$target.start
touch "$stamp"
echo "fuzz: running $target for ${seconds}s (log: $log)" >&2
set +e
# shellcheck disable=SC2086  # FUZZ_FLAGS is a list of flags
"$bin" -max_total_time="$seconds" -timeout=10 -print_final_stats=1 \
  -artifact_prefix="fuzz/artifacts/$target-" ${FUZZ_FLAGS:-} "$corpus" > "$log" 2>&1
rc=$?
set -e

execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
last=$(grep -E '^#[0-9]+' "$log" | grep -E 'cov: ' | tail -n 1 || true)
cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<< "$last")
ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<< "$last")
corp=$(sed -n 's/.* corp: \([0-9]*\/[0-9]*[a-zA-Z]*\).*/\1/p' <<< "$last")
found=$(find fuzz/artifacts -maxdepth 1 -type f -name "$target-*" -newer "$stamp" | sort)
rm -f "$stamp"

echo "fuzz $target: ${execs:-?} executions in ${seconds}s, cov ${cov:-?}, features ${ft:-?}, corpus ${corp:-?}"
if [ "$rc" -ne 0 ] || [ -n "$found" ]; then
  echo "fuzz $target: FOUND a problem (libFuzzer exit $rc)"
  grep -E '^(==[0-9]+==ERROR|SUMMARY|.*invariant broken|.*runtime error)' "$log" | head -n 5 || true
  for f in $found; do echo "  artifact: $f (replay: $bin $f)"; done
  exit 1
fi
echo "fuzz $target: nothing found"
