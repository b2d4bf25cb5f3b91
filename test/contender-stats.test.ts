// A contender's stats over its workers (src/contenders/contender-handle.ts aggregateStats).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { aggregateStats } from '../src/contenders/contender-handle.js';
import type { WorkerStats } from '../src/contenders/contender-contract.js';

function worker(i: number, extra: Record<string, number>): WorkerStats {
  return {
    worker: i, pid: 1000 + i, port: 9000 + i,
    connectionsNow: 10, connectionsTotal: 12, messagesIn: 100, messagesOut: 100, bytesIn: 6400, bytesOut: 6400,
    protocolErrors: 1, extra,
    heapUsedBytes: 1, heapTotalBytes: 2, externalBytes: 3, arrayBuffersBytes: 4, rssBytes: 5,
  };
}

test('worker counts add up; a counter that is a worker\'s largest takes the largest, not the sum', () => {
  const s = aggregateStats('epoll', 'tcp-echo', [
    worker(0, { 'engine.reads': 5, 'engine.largestBatch': 64, 'engine.queuedBytesPeak': 4096 }),
    worker(1, { 'engine.reads': 7, 'engine.largestBatch': 60, 'engine.queuedBytesPeak': 8192 }),
    worker(2, { 'engine.reads': 1, 'engine.largestBatch': 64 }),
  ]);
  assert.equal(s.total.extra['engine.reads'], 13);
  assert.equal(s.total.extra['engine.largestBatch'], 64);
  assert.equal(s.total.extra['engine.queuedBytesPeak'], 8192);
  assert.equal(s.total.connectionsNow, 30);
  assert.equal(s.total.messagesIn, 300);
  assert.equal(s.total.protocolErrors, 3);
});
