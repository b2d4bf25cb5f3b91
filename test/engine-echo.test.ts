// 5,000 concurrent connections each send random payloads; every byte comes back in order,
// through the native echo path and through a JS handler.
import assert from 'node:assert/strict';
import type net from 'node:net';
import { Engine, type EpollServer } from '../src/index.js';
import { backendTest, createServer } from './helpers/backends.js';
import { closed, collect, connect, fdCount, randomPayload, sha256, until } from './helpers/net.js';

const CONNS = 5000;

async function echoMany(server: EpollServer): Promise<void> {
  const { port } = server.listen();
  const sockets: net.Socket[] = [];
  // Connect in waves so the listen backlog (and the SYN queue) never overflows.
  for (let i = 0; i < CONNS; i += 500) {
    const wave = await Promise.all(Array.from({ length: Math.min(500, CONNS - i) }, () => connect(port)));
    sockets.push(...wave);
  }
  const results = await Promise.all(sockets.map(async (s) => {
    const payload = randomPayload(1, 24 * 1024);
    const got = collect(s, payload.length);
    // Split each payload into up to three writes so the server sees arbitrary boundaries.
    const a = Math.floor(payload.length / 3), b = Math.floor((2 * payload.length) / 3);
    s.write(payload.subarray(0, a));
    s.write(payload.subarray(a, b));
    s.write(payload.subarray(b));
    const back = await got;
    return { sent: sha256(payload), got: sha256(back), len: payload.length, backLen: back.length };
  }));
  let bytes = 0;
  for (const r of results) {
    assert.equal(r.backLen, r.len);
    assert.equal(r.got, r.sent);
    bytes += r.len;
  }
  await Promise.all(sockets.map(closed));
  await until(() => server.counters()['active'] === 0, 'all connections to close');
  const c = server.counters();
  assert.ok(c['accepted']! >= CONNS);
  assert.ok(c['bytesIn']! >= bytes && c['bytesOut']! >= bytes);
  await server.close();
}

backendTest('native echo: 5,000 connections, every byte back in order', async () => {
  // The engine keeps two fds of its own for the thread's life (the epoll set and the spare fd
  // for EMFILE); create it first so the count compares connections only.
  const base = Engine.get().counters();
  const before = fdCount();
  const server = createServer({ protocol: 'echo', backlog: 4096 });
  await echoMany(server);
  const c = server.counters();
  assert.equal(c['accepted']! - base['accepted']!, CONNS);
  assert.equal(c['closed']! - base['closed']!, CONNS);
  assert.equal(c['errRead']! + c['errWrite']! + c['errAccept']!, base['errRead']! + base['errWrite']! + base['errAccept']!);
  assert.equal(fdCount(), before);
});

backendTest('JS echo (raw protocol): 5,000 connections, every byte back in order', async () => {
  const before = fdCount();
  let opened = 0, closedN = 0, dataBytes = 0;
  const server: EpollServer = createServer({ protocol: 'raw', backlog: 4096 }, {
    onConnection: () => { opened++; },
    onData: (id, data) => { dataBytes += data.length; server.write(id, data); },
    onClose: () => { closedN++; },
  });
  await echoMany(server);
  assert.equal(opened, CONNS);
  assert.equal(closedN, CONNS);
  assert.ok(dataBytes > 0);
  assert.equal(server.connections, 0);
  assert.equal(fdCount(), before);
});

backendTest("loopWaits counts libuv's epoll_pwait: one per turn, and a second in each turn whose poll blocked", async () => {
  // A timer every 5 ms in an otherwise idle process: each fire ends a turn whose poll first looked
  // without waiting (Node has libuv time its idle polls) and then blocked, two calls (strace and
  // perf agree: results/checks/issue-17/README.md). Counting turns alone read half.
  const server = createServer({ protocol: 'echo' });
  server.listen();
  try {
    const before = server.counters()['loopWaits']!;
    let fires = 0;
    await new Promise<void>((resolve) => {
      const t = setInterval(() => {
        if (++fires === 100) {
          clearInterval(t);
          resolve();
        }
      }, 5);
    });
    const waits = server.counters()['loopWaits']! - before;
    assert.ok(waits >= 1.7 * fires, `${waits} epoll_pwait counted over ${fires} blocking turns`);
  } finally {
    await server.close();
  }
});

backendTest('native echo of 4 MiB through a 16 KiB read budget: every byte back in order, and the still-ready rounds wait on nothing', async () => {
  const server = createServer({ protocol: 'echo', readBudgetBytes: 16 * 1024 });
  const { port } = server.listen();
  const base = server.counters();
  const s = await connect(port);
  const payload = randomPayload(4 * 1024 * 1024, 4 * 1024 * 1024);
  const got = collect(s, payload.length);
  s.write(payload);
  const back = await got;
  assert.equal(back.length, payload.length);
  assert.equal(sha256(back), sha256(payload));
  s.destroy();
  await until(() => server.counters()['active'] === 0, 'the connection to close');
  const c = server.counters();
  const rounds = c['rounds']! - base['rounds']!;
  const waits = c['epollWaits']! - base['epollWaits']!;
  // Each budget cut puts the connection on the still-ready list, served by a round the idle
  // handle starts; such a round does not wait on the readiness source (libuv's poll in the same
  // iteration reports it when it has events), so some rounds made no epoll_wait at all.
  assert.ok(c['budgetRequeues']! > base['budgetRequeues']!, 'the budget cut the echo at least once');
  assert.ok(waits < rounds, `epoll waits (${waits}) fewer than rounds (${rounds})`);
  await server.close();
});
