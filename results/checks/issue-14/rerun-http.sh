#!/usr/bin/env bash
# http-hello again, quiet box: after first, then before, then after again (a second pair to see drift).
cd /work/bench14
c=epoll,epoll-native,uws
(cd /work/after14 && node dist/src/cli.js run http-hello --contenders $c --out /work/bench14/after2-http-hello.json > after2.txt 2> after2.err); echo "after2 rc=$?" >> done.log
(cd /work/baseline && node dist/src/cli.js run http-hello --contenders $c --out /work/bench14/before2-http-hello.json > before2.txt 2> before2.err); echo "before2 rc=$?" >> done.log
