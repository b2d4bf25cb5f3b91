// 64 MiB through one connection to a deliberately slow reader: the write queue grows, drains,
// and every byte arrives once and in order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, createHash } from 'node:crypto';
import { createServer, type EpollServer } from '../src/index.js';
import { closed, connect, until } from './helpers/net.js';

test('64 MiB to a slow reader: queue grows and drains, checksum matches', async () => {
  const TOTAL = 64 << 20;
  const CHUNK = 1 << 20;
  const sent = createHash('sha256');
  let drains = 0;
  const server: EpollServer = createServer({}, {
    onConnection(id) {
      for (let off = 0; off < TOTAL; off += CHUNK) {
        const part = randomBytes(CHUNK);
        sent.update(part);
        assert.equal(server.write(id, part), true);
      }
      server.end(id);
    },
    onDrain: () => { drains++; },
  });
  const { port } = server.listen();
  const s = await connect(port);
  const recv = createHash('sha256');
  let n = 0;
  // The reader takes one chunk, then stops for a millisecond: far slower than the writer.
  s.on('data', (d: Buffer) => {
    recv.update(d);
    n += d.length;
    s.pause();
    setTimeout(() => s.resume(), 1);
  });
  await closed(s);
  assert.equal(n, TOTAL);
  assert.equal(recv.digest('hex'), sent.digest('hex'));
  const c = server.counters();
  assert.ok(c['queuedBytesPeak']! >= 32 << 20, `queue grew to ${c['queuedBytesPeak']} bytes`);
  await until(() => server.counters()['queuedBytes'] === 0, 'queue to empty');
  assert.ok(c['eagainWrites']! > 0);
  assert.equal(drains, 0, 'end() after the writes: no drain event is owed, the close is');
  await server.close();
});

test('native echo pauses a peer that does not read its echoes, and resumes it', async () => {
  const server = createServer({ protocol: 'echo', highWaterMark: 256 * 1024 });
  const { port } = server.listen();
  const s = await connect(port);
  s.pause();
  const payload = randomBytes(16 << 20);
  s.write(payload);
  await until(() => server.counters()['pausedReads']! > 0, 'the echo path to pause reading');
  const recv = createHash('sha256');
  let n = 0;
  s.on('data', (d: Buffer) => {
    recv.update(d);
    n += d.length;
    if (n === payload.length) s.end();
  });
  s.resume();
  await closed(s);
  assert.equal(n, payload.length);
  assert.equal(recv.digest('hex'), createHash('sha256').update(payload).digest('hex'));
  await server.close();
});

test('maxQueuedBytes closes a connection whose queue overflows, counted', async () => {
  let reason = '';
  const server: EpollServer = createServer({ maxQueuedBytes: 1 << 20 }, {
    onConnection(id) { server.write(id, Buffer.alloc(8 << 20)); },
    onClose: (_id, r) => { reason = r; },
  });
  const { port } = server.listen();
  const s = await connect(port);
  s.pause();
  await until(() => reason !== '', 'close');
  assert.equal(reason, 'backpressure');
  s.destroy();
  await server.close();
});
