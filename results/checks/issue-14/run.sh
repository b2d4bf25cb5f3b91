#!/usr/bin/env bash
# Before/after check of issue 14: the same scenarios at their defaults from the commit before the
# fixes (/work/baseline) and the commit after them (/work/after14), one right after the other.
set -u
cd /work/bench14
for sc in tcp-echo http-hello ws-broadcast; do
  case $sc in
    tcp-echo) c=epoll,epoll-native,c-ref ;;
    *) c=epoll,epoll-native,uws ;;
  esac
  for side in before after; do
    dir=/work/baseline; [ $side = after ] && dir=/work/after14
    (cd $dir && node dist/src/cli.js run $sc --contenders $c --out /work/bench14/$side-$sc.json > /work/bench14/$side-$sc.txt 2> /work/bench14/$side-$sc.err)
    echo "$sc $side rc=$?" >> /work/bench14/done.log
  done
done
