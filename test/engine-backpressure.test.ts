// 64 MiB through one connection to a deliberately slow reader: the write queue grows, drains,
// and every byte arrives once and in order.
import assert from 'node:assert/strict';
import { randomBytes, createHash } from 'node:crypto';
import { type EpollServer } from '../src/index.js';
import { backendTest, createServer } from './helpers/backends.js';
import { closed, connect, until } from './helpers/net.js';

backendTest('64 MiB to a slow reader: queue grows and drains, checksum matches', async () => {
  const TOTAL = 64 << 20;
  const CHUNK = 1 << 20;
  const sent = createHash('sha256');
  let drains = 0;
  // Unbounded on purpose (the default closes a connection past 16 MiB queued: see below).
  const server: EpollServer = createServer({ maxQueuedBytes: 0 }, {
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
  try {
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
  } finally {
    s.destroy();
    await server.close({ timeoutMs: 1000 });
  }
});

backendTest('by default a connection may queue at most 16 MiB: past it, it is closed as backpressure', async () => {
  let reason = '';
  const server: EpollServer = createServer({}, {
    onConnection(id) {
      // 64 MiB, 1 MiB at a time, to a peer that reads nothing: the kernel's socket buffers take
      // a few MiB, the engine's queue the rest, up to its bound.
      for (let i = 0; i < 64; i++) server.write(id, Buffer.alloc(1 << 20));
    },
    onClose: (_id, r) => { reason = r; },
  });
  assert.equal(server.options.maxQueuedBytes, 16 << 20);
  const before = server.counters();
  const { port } = server.listen();
  const s = await connect(port);
  try {
    s.pause();
    await until(() => reason !== '', 'close');
    assert.equal(reason, 'backpressure');
    assert.equal(server.counters()['closedBackpressure']! - before['closedBackpressure']!, 1);
  } finally {
    s.destroy();
    await server.close({ timeoutMs: 1000 });
  }
});

backendTest('native echo pauses a peer that does not read its echoes, and resumes it', async () => {
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

backendTest('maxQueuedBytes closes a connection whose queue overflows, counted', async () => {
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
