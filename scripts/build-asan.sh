#!/usr/bin/env bash
# Builds the addon with AddressSanitizer + UndefinedBehaviorSanitizer into build-asan/.
# The tests pick it up with C1M_ADDON=build-asan/Debug/c1m.node (see scripts/test-asan.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf build-asan
# node-gyp always writes to ./build; build there, then move it aside so the normal build stays.
if [ -d build ]; then mv build build.keep; fi
trap 'if [ -d build.keep ]; then rm -rf build; mv build.keep build; fi' EXIT
# npm exports the path of its bundled node-gyp to scripts; outside npm, find it beside npm.
gyp=${npm_config_node_gyp:-$(dirname "$(readlink -f "$(command -v npm)")")/../node_modules/node-gyp/bin/node-gyp.js}
# Use the headers npm is configured with (nodedir), as `npm install` does; else node-gyp fetches them.
nodedir=${npm_config_nodedir:-$(npm config get nodedir 2>/dev/null || true)}
extra=()
if [ -n "$nodedir" ] && [ "$nodedir" != "undefined" ] && [ "$nodedir" != "null" ]; then extra=(--nodedir="$nodedir"); fi
node "$gyp" rebuild --debug "${extra[@]}" -- -Dc1m_sanitize=1
mv build build-asan
echo "sanitizer build: build-asan/Debug/c1m.node"
