#!/usr/bin/env bash
# Builds the addon (and the native self-tests) with AddressSanitizer + UndefinedBehaviorSanitizer
# into build-asan/, leaving the normal build/ alone: node-gyp always writes ./build, so it runs
# in build-asan/src, whose binding.gyp, native/ and node_modules/ link back to this checkout.
# The tests use it with C1M_ADDON=build-asan/Debug/c1m.node (scripts/test-asan.sh does that).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
rm -rf build-asan
mkdir -p build-asan/src
# scripts/: binding.gyp runs scripts/has-liburing.mjs to set c1m_uring.
for f in binding.gyp native node_modules package.json scripts; do ln -s "$root/$f" "build-asan/src/$f"; done
# npm exports the path of its bundled node-gyp to scripts; outside npm, find it beside npm.
gyp=${npm_config_node_gyp:-$(dirname "$(readlink -f "$(command -v npm)")")/../node_modules/node-gyp/bin/node-gyp.js}
# Use the headers npm is configured with (nodedir), as `npm install` does; else node-gyp fetches them.
nodedir=${npm_config_nodedir:-$(npm config get nodedir 2>/dev/null || true)}
extra=()
if [ -n "$nodedir" ] && [ "$nodedir" != "undefined" ] && [ "$nodedir" != "null" ]; then extra=(--nodedir="$nodedir"); fi
(cd build-asan/src && node "$gyp" rebuild --debug "${extra[@]}" -- -Dc1m_sanitize=1)
mv build-asan/src/build/Debug build-asan/Debug
rm -rf build-asan/src
echo "sanitizer build: build-asan/Debug/c1m.node"
