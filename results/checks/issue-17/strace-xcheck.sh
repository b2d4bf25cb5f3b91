#!/usr/bin/env bash
# strace -c against the engine's own counters over one h2load run (loopback, bounded).
set -euo pipefail
proto=${1:-http}; depth=${2:-16}; n=${3:-100000}
out=$(mktemp -d)
node "$(dirname "$0")/strace-xcheck.mjs" "$proto" > "$out/server.log" &
spid=$!
for i in $(seq 50); do grep -q port "$out/server.log" && break; sleep 0.1; done
port=$(head -1 "$out/server.log" | python3 -c 'import json,sys; print(json.load(sys.stdin)["port"])')
kill -USR1 $spid; sleep 0.2
strace -c -f -p $spid -o "$out/strace.txt" & tpid=$!
sleep 1
h2load --h1 -t1 -c100 -m"$depth" -n"$n" "http://127.0.0.1:$port/" | grep -E "^requests:|^finished"
sleep 0.5
kill -INT $tpid; wait $tpid || true
kill -USR2 $spid; sleep 0.3
kill -TERM $spid; wait $spid || true
tail -1 "$out/server.log"
grep -E "sendto|recvfrom|epoll_wait|epoll_pwait|writev|total" "$out/strace.txt"
rm -rf "$out"
