// Graceful close of an engine server (issue 14, items 4 and 11): every request received before
// close() is answered, WebSocket peers get 1001, what the drain had to cut is counted, and a
// listener index is never handed to a new server before JS has seen the old one drained.
import { afterEach } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { Engine, type EpollServer } from '../src/index.js';
import { backendTest, createServer as createEngineServer } from './helpers/backends.js';
import { connect, fdCount, sleep, until } from './helpers/net.js';
import { header, HttpConn, request } from './helpers/http.js';
import { encodeFrame, Opcode, RawWs } from './helpers/ws.js';
import { closeTracked, delta, tracked } from './helpers/cleanup.js';

const createServer = (...args: Parameters<typeof createEngineServer>): EpollServer => tracked(createEngineServer(...args));
afterEach(closeTracked);

backendTest('close() with 1,000 requests in flight: all 1,000 are answered (100 ms later, by JS), then each connection ends', { timeout: 30000 }, async () => {
  Engine.get();
  const fds = fdCount();
  const server: EpollServer = createServer({ protocol: 'http' }, {
    onRequest(id, req) {
      const body = `answer to ${req.url}`;
      setTimeout(() => server.respond(id, 200, body), 100);
    },
  });
  const { port } = server.listen();
  const before = server.counters();
  const CONNS = 100;
  const PER = 10;
  const conns = await Promise.all(Array.from({ length: CONNS }, () => HttpConn.open(port)));
  try {
    conns.forEach((c, k) => c.send(Buffer.concat(Array.from({ length: PER }, (_, i) => request('GET', `/${k}/${i}`)))));
    await until(() => delta(server, before, 'httpRequests') === CONNS * PER, 'every request to reach JS');
    const result = await server.close({ timeoutMs: 5000 });
    assert.deepEqual(result, { cut: 0 }, 'nothing had to be cut');
    for (const [k, c] of conns.entries()) {
      await c.waitClosed(5000);
      assert.equal(c.error, null, `connection ${k}: ${c.error?.message}`);
      assert.equal(c.responses.length, PER, `connection ${k}: ${c.responses.length} responses`);
      c.responses.forEach((r, i) => {
        assert.equal(r.status, 200);
        assert.equal(r.body.toString(), `answer to /${k}/${i}`);
      });
      // The last answer says the connection ends; the ones before it keep it open.
      assert.equal(header(c.responses[PER - 1]!, 'connection'), 'close', `connection ${k}`);
      assert.equal(header(c.responses[0]!, 'connection'), undefined);
    }
    assert.equal(delta(server, before, 'httpResponses'), CONNS * PER);
    assert.equal(delta(server, before, 'drainCut'), 0);
  } finally {
    for (const c of conns) c.destroy();
  }
  await until(() => fdCount() === fds, `fds back to ${fds} (now ${fdCount()})`, 5000);
});

backendTest('respond() then close() in one callback: the answer goes out before the drain, and idle keep-alive connections end at once', { timeout: 30000 }, async () => {
  Engine.get();
  let closing: Promise<{ cut: number }> | null = null;
  const server: EpollServer = createServer({ protocol: 'http' }, {
    onRequest(id) {
      server.respond(id, 200, 'last one');
      closing = server.close({ timeoutMs: 3000 });
    },
  });
  const { port } = server.listen();
  const idle = await Promise.all(Array.from({ length: 5 }, () => HttpConn.open(port)));
  const c = await HttpConn.open(port);
  try {
    await until(() => server.counters()['active'] === 6, 'six connections');
    c.send(request('GET', '/'));
    await c.waitClosed(5000);
    assert.equal(c.error, null, c.error?.message);
    assert.equal(c.responses.length, 1);
    assert.equal(c.responses[0]!.body.toString(), 'last one');
    for (const i of idle) await i.waitClosed(5000);
    assert.ok(closing);
    assert.deepEqual(await closing, { cut: 0 });
  } finally {
    c.destroy();
    for (const i of idle) i.destroy();
  }
});

backendTest('close() on WebSocket peers: each gets a 1001 close frame; peers that answer end the drain, a silent one is cut and counted', { timeout: 30000 }, async () => {
  Engine.get();
  const fds = fdCount();
  const server: EpollServer = createServer({ protocol: 'http', websocket: 'echo', wsCloseTimeoutMs: 20000 });
  const { port } = server.listen();
  const before = server.counters();
  const N = 50;
  const clients = await Promise.all(Array.from({ length: N }, () => new Promise<WebSocket>((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  })));
  const codes: number[] = [];
  const errors: string[] = [];
  const closed = clients.map((ws) => new Promise<void>((resolve) => ws.once('close', (code) => {
    codes.push(code);
    resolve();
  })));
  for (const ws of clients) ws.on('error', (e: NodeJS.ErrnoException) => void errors.push(e.code ?? e.message));
  // One raw peer that answers the close frame by hand and then reads to the end: the engine must
  // read that answer before it closes, or closing with it unread sends a reset.
  const polite = await RawWs.open(port);
  const politeErrors: string[] = [];
  polite.socket.on('error', (e: NodeJS.ErrnoException) => void politeErrors.push(e.code ?? e.message));
  void polite.waitFrame(Opcode.Close, 10000).then((f) => polite.send(encodeFrame(Opcode.Close, f.payload.subarray(0, 2), { mask: true })), () => {});
  // One raw peer that never reads nor answers: it gets the frame in its socket but the close
  // handshake never completes, so only the drain timeout ends it.
  const silent = await connect(port);
  try {
    silent.write('GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n');
    await until(() => delta(server, before, 'wsUpgrades') === N + 2, 'every upgrade');
    silent.pause();
    const t0 = Date.now();
    const result = await server.close({ timeoutMs: 1500 });
    await Promise.all(closed);
    assert.equal(codes.length, N);
    assert.ok(codes.every((c) => c === 1001), `close codes ${[...new Set(codes)].join(', ')}`);
    // The engine read each peer's answering close frame before it closed: no reset reached them.
    assert.deepEqual(errors, []);
    await polite.waitClosed(5000);
    assert.deepEqual(politeErrors, [], 'the hand-made peer saw a FIN, not a reset');
    assert.equal(delta(server, before, 'closedGraceful'), N + 1);
    assert.deepEqual(result, { cut: 1 }, 'the silent peer was cut at the drain timeout');
    assert.ok(Date.now() - t0 >= 1400, 'the drain waited for the silent peer until its timeout');
    assert.equal(delta(server, before, 'drainCut'), 1);
  } finally {
    silent.destroy();
    polite.socket.destroy();
    for (const ws of clients) ws.terminate();
  }
  await until(() => fdCount() === fds, `fds back to ${fds} (now ${fdCount()})`, 5000);
});

backendTest('a.close() not awaited, then b.listen(): b keeps its own listener and connections, a resolves', { timeout: 30000 }, async () => {
  Engine.get();
  const a = createServer({ protocol: 'echo' });
  a.listen();
  const drained = a.close({ timeoutMs: 50 });
  const b = createServer({ protocol: 'echo' });
  const { port } = b.listen();
  assert.deepEqual(await drained, { cut: 0 });
  // Past a's drain timeout: a's force timer (if it were pointed at b's index) has fired.
  await sleep(150);
  const s = await connect(port);
  try {
    s.write('still here');
    const got = await new Promise<string>((resolve) => s.once('data', (d: Buffer) => resolve(d.toString())));
    assert.equal(got, 'still here');
    assert.equal(b.counters()['listeners'], 1);
  } finally {
    s.destroy();
    await b.close({ timeoutMs: 1000 });
  }
});
