#!/usr/bin/env bash
# The engine's loopWaits (libuv's epoll_pwait) against perf's count of the syscall, over one
# echo connection writing 64 bytes every <ms> (1 ms: most turns block). Usage: run.sh <epoll|uring> <ms>
# (after `npm run build`; needs perf). Prints the engine's counter deltas (USR1 to USR2, ~3.4 s)
# and perf's counts over the 3 s inside them: compare ratios (loopWaits / epollWaits or enters).
set -euo pipefail
cd "$(dirname "$0")"
backend=${1:-epoll}; every=${2:-1}
out=$(mktemp -d)
node server.mjs "$backend" > "$out/server.log" & spid=$!
for i in $(seq 50); do grep -q port "$out/server.log" && break; sleep 0.1; done
port=$(head -1 "$out/server.log" | python3 -c 'import json,sys; print(json.load(sys.stdin)["port"])')
node client.mjs "$port" "$every" 6 & cpid=$!
sleep 1
kill -USR1 $spid; sleep 0.1
perf stat -e 'syscalls:sys_enter_epoll_pwait,syscalls:sys_enter_io_uring_enter,syscalls:sys_enter_epoll_wait' -p $spid -o "$out/perf.txt" & tpid=$!
sleep 3
kill -INT $tpid; wait $tpid || true
kill -USR2 $spid; sleep 0.3
wait $cpid
kill -TERM $spid; wait $spid || true
tail -1 "$out/server.log"
grep -E "sys_enter|elapsed" "$out/perf.txt"
rm -rf "$out"
