// Half-close, reset, stale ids after fd reuse, writes to closed connections, graceful drain.
import assert from 'node:assert/strict';
import { Engine, fdOf, genOf, type CloseReasonName, type EpollServer } from '../src/index.js';
import { backendTest, createServer, currentBackend } from './helpers/backends.js';
import { closed, collect, connect, fdCount, sleep, until } from './helpers/net.js';
import { startChild } from './helpers/child.js';
import type net from 'node:net';

backendTest('peer half-close with allowHalfOpen: server still writes, then ends gracefully', async () => {
  const events: string[] = [];
  let closeReason: CloseReasonName | null = null;
  const server: EpollServer = createServer({ allowHalfOpen: true }, {
    onData: (_id, d) => { events.push(`data:${Buffer.from(d).toString()}`); },
    onEnd: (id) => {
      events.push('end');
      // Our side is still open after the peer's FIN.
      assert.equal(server.write(id, Buffer.from('bye')), true);
      server.end(id);
    },
    onClose: (_id, reason) => { closeReason = reason; },
  });
  const { port } = server.listen();
  const s = await connect(port);
  s.write('hello');
  await sleep(20);
  s.end();
  const got = await collect(s, 1 << 20, false);
  assert.equal(got.toString(), 'bye');
  await until(() => closeReason !== null, 'close');
  assert.deepEqual(events, ['data:hello', 'end']);
  assert.equal(closeReason, 'graceful');
  await server.close();
});

backendTest('peer half-close without allowHalfOpen: the engine ends our side after queued bytes', async () => {
  let reason: CloseReasonName | null = null;
  const server = createServer({}, { onClose: (_id, r) => { reason = r; } });
  const { port } = server.listen();
  const s = await connect(port);
  s.end();
  await closed(s);
  await until(() => reason !== null, 'close');
  assert.equal(reason, 'graceful');
  await server.close();
});

backendTest('peer reset: closed with reason "reset" and ECONNRESET, nothing else disturbed', async () => {
  const closes: [CloseReasonName, number][] = [];
  const server: EpollServer = createServer({}, {
    onData: (id, d) => { server.write(id, d); },
    onClose: (_id, r, e) => { closes.push([r, e]); },
  });
  const { port } = server.listen();
  const other = await connect(port);
  const s = await connect(port);
  s.write('x');
  await sleep(20);
  s.resetAndDestroy();
  await until(() => closes.length === 1, 'the reset to be seen');
  assert.deepEqual(closes[0], ['reset', 104]);
  const back = collect(other, 4);
  other.write('ping');
  assert.equal((await back).toString(), 'ping');
  await closed(other);
  await server.close();
});

backendTest('a stale id after fd reuse is rejected and never reaches the new connection', async () => {
  const ids: number[] = [];
  const server: EpollServer = createServer({}, { onConnection: (id) => { ids.push(id); } });
  const { port } = server.listen();
  const staleBefore = server.counters()['staleIds']!;
  let oldId = -1, newId = -1;
  for (let attempt = 0; attempt < 20 && newId < 0; attempt++) {
    const a = await connect(port);
    await until(() => ids.length === 1, 'accept');
    oldId = ids.pop()!;
    assert.equal(server.destroy(oldId), true);
    await closed(a);
    const b = await connect(port);
    await until(() => ids.length === 1, 'accept');
    const id = ids.pop()!;
    if (fdOf(id) === fdOf(oldId)) {
      newId = id;
      const received = collect(b, 1, false);
      assert.notEqual(genOf(newId), genOf(oldId));
      assert.equal(server.write(oldId, Buffer.from('must not arrive')), false);
      assert.equal(server.end(oldId), false);
      assert.equal(server.destroy(oldId), false);
      assert.equal(server.queued(oldId), -1);
      assert.equal(server.write(newId, Buffer.from('Z')), true);
      assert.equal((await received).toString(), 'Z');
      server.destroy(newId);
    } else {
      server.destroy(id);
    }
    await closed(b);
  }
  assert.ok(newId >= 0, 'the fd was reused within 20 attempts');
  assert.ok(server.counters()['staleIds']! >= staleBefore + 3);
  await server.close();
});

backendTest('writes to a closed connection return false; bad arguments throw TypeError', async () => {
  let theId = -1;
  let closedId = -1;
  const server = createServer({}, { onConnection: (id) => { theId = id; }, onClose: (id) => { closedId = id; } });
  const { port } = server.listen();
  const s = await connect(port);
  await until(() => theId >= 0, 'accept');
  s.destroy();
  await until(() => closedId === theId, 'close');
  assert.equal(server.write(theId, Buffer.from('late')), false);
  assert.equal(server.end(theId), false);
  assert.throws(() => server.write(theId, 'text' as unknown as Uint8Array), TypeError);
  const native = Engine.get().native;
  assert.throws(() => native.write(-1, 0, Buffer.alloc(1)), TypeError);
  assert.throws(() => native.write(1, 0, 'x' as unknown as Uint8Array), TypeError);
  await server.close();
});

backendTest('server close drains: queued bytes are delivered, then every fd is gone', async () => {
  Engine.get();
  const before = fdCount();
  const big = Buffer.alloc(8 << 20, 3);
  let opened = 0;
  const server: EpollServer = createServer({}, { onConnection: (id) => { opened++; server.write(id, big); } });
  const { port } = server.listen();
  const socks = await Promise.all(Array.from({ length: 20 }, () => connect(port)));
  await until(() => opened === 20, 'accepts');
  const got = socks.map((s) => collect(s, big.length, true));
  await server.close({ timeoutMs: 20000 });
  for (const g of await Promise.all(got)) assert.equal(g.length, big.length);
  await Promise.all(socks.map(closed));
  assert.equal(fdCount(), before);
});

backendTest('a full fd table: connections past the limit are refused and counted, the process keeps fds of its own', async () => {
  // 256 open files: the engine takes no fd numbered within 16 of the limit (min(32, 256/16)).
  const server = await startChild('engine-server', { protocol: 'echo', backlog: 1024, backend: currentBackend() }, { nofile: 256 });
  const port = server.ready['port'] as number;
  const socks: net.Socket[] = [];
  try {
    for (let i = 0; i < 300; i++) {
      const s = await connect(port);
      s.on('error', () => undefined);
      socks.push(s);
    }
    const stats = async (): Promise<Record<string, number>> => (await server.ask<{ counters: Record<string, number> }>('stats', 'stats')).counters;
    const eventually = async (cond: (c: Record<string, number>) => boolean, what: string): Promise<Record<string, number>> => {
      for (let end = Date.now() + 10_000; ; await sleep(20)) {
        const c = await stats();
        if (cond(c)) return c;
        if (Date.now() > end) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(c)}`);
      }
    };
    await eventually((c) => c['active']! + c['errEmfile']! === 300, 'every connection accepted or refused');
    const c = await stats();
    assert.ok(c['active']! > 200 && c['active']! < 240, `active ${c['active']}`);
    assert.ok(c['errEmfile']! > 60, `errEmfile ${c['errEmfile']}`);
    // The process still opens files (RSS is read from /proc), and held connections still echo.
    assert.ok((await server.ask<{ rss: number }>('memory', 'memory')).rss > 0);
    const probe = socks[0]!;  // the first connection got the lowest fd: held
    const got = collect(probe, 5);
    probe.write('hello');
    assert.equal((await got).toString(), 'hello');
    // Fds given back are usable again.
    for (const s of socks.splice(0, 50)) s.destroy();
    await eventually((now) => now['active']! <= c['active']! - 40, 'closes to be seen');
    const again = await connect(port);
    const echoed = collect(again, 2);
    again.write('ok');
    assert.equal((await echoed).toString(), 'ok');
    again.destroy();
  } finally {
    for (const s of socks) s.destroy();
    await server.stop();
  }
});
