// Idle timeouts and WebSocket heartbeats on the engine's 50 ms timer wheel: a silent connection
// is closed no earlier than its timeout and within a tick plus scheduling slack after it, an
// active one is kept, a client that answers pings stays, one that stops answering is closed.
import { after, afterEach, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import type net from 'node:net';
import WebSocket from 'ws';
import { Engine, type CloseReasonName, type EpollServer, type EngineProtocol, type ServerOptions } from '../src/index.js';
import { backendTest, createServer as createEngineServer } from './helpers/backends.js';
import { closed, connect, fdCount, sleep, until } from './helpers/net.js';
import { HttpConn, request, withTimeout } from './helpers/http.js';
import { Opcode, RawWs } from './helpers/ws.js';
import { closeTracked, delta, finish, tracked } from './helpers/cleanup.js';

const createServer = (...args: Parameters<typeof createEngineServer>): EpollServer => tracked(createEngineServer(...args));
afterEach(closeTracked);

const IDLE = 300;
const PING = 200;
// One 50 ms wheel tick plus scheduling slack on a shared machine.
const LATE = 200;
// Durations are measured with performance.now() against deadlines libuv keeps in whole
// milliseconds, so "no earlier than" allows the 1 ms that flooring can take off.
const CLOCK = 1;

// On a loaded machine every timer of this process runs late, the engine's included. The longest
// stall of the event loop during a test is added to the allowed lateness, so the bound still
// catches a wheel that fires late while the loop is idle, without failing on scheduler noise.
const loopDelay = monitorEventLoopDelay({ resolution: 10 });
loopDelay.enable();
beforeEach(() => loopDelay.reset());
after(() => loopDelay.disable());
function late(): number {
  return LATE + loopDelay.max / 1e6;
}


/** Resolves with the time (performance.now()) at which the socket closed. */
function closedAt(s: net.Socket): Promise<number> {
  return new Promise((resolve) => {
    s.on('error', () => undefined);
    s.once('close', () => resolve(performance.now()));
  });
}

for (const protocol of ['raw', 'echo', 'http-static'] as const satisfies readonly EngineProtocol[]) {
  backendTest(`${protocol}: idle connections close after idleTimeoutMs; a client sending every timeout/3 survives 3x the timeout`, { timeout: 20000 }, async () => {
    Engine.get();
    const fds = fdCount();
    const reasons: CloseReasonName[] = [];
    const server = createServer({ protocol, idleTimeoutMs: IDLE }, protocol === 'raw' ? { onClose: (_id, r) => { reasons.push(r); } } : {});
    const { port } = server.listen();
    const before = server.counters();
    const IDLERS = 10;
    const idlers = await Promise.all(Array.from({ length: IDLERS }, async () => {
      const start = performance.now();
      const s = await connect(port);
      return { start, end: closedAt(s) };
    }));
    // Active clients: a byte (or, for HTTP, a request) every IDLE / 3 ms for 3 * IDLE ms.
    const ACTIVE = 2;
    const unit = protocol === 'http-static' ? request('GET', '/') : Buffer.from('x');
    const active = await Promise.all(Array.from({ length: ACTIVE }, async () => {
      const s = await connect(port);
      s.on('data', () => undefined);
      return { s, end: closedAt(s), last: performance.now() };
    }));
    const until3x = performance.now() + 3 * IDLE;
    while (performance.now() < until3x) {
      for (const a of active) {
        a.s.write(unit);
        a.last = performance.now();
      }
      await sleep(IDLE / 3);
    }
    for (const a of active) assert.equal(a.s.destroyed, false, 'an active connection is kept');
    for (const [i, c] of idlers.entries()) {
      const elapsed = (await withTimeout(c.end, 2000, `idle connection ${i} to be closed`)) - c.start;
      assert.ok(elapsed >= IDLE - CLOCK, `idle connection ${i} closed after ${elapsed.toFixed(1)} ms, before the ${IDLE} ms timeout`);
      assert.ok(elapsed <= IDLE + late(), `idle connection ${i} closed after ${elapsed.toFixed(1)} ms, later than ${(IDLE + late()).toFixed(1)} ms`);
    }
    // Silent now: the active ones go the same way, counted from their last byte.
    for (const [i, a] of active.entries()) {
      const elapsed = (await withTimeout(a.end, 2000, `active connection ${i} to be closed once silent`)) - a.last;
      assert.ok(elapsed >= IDLE - CLOCK && elapsed <= IDLE + late(), `active connection ${i} closed ${elapsed.toFixed(1)} ms after its last byte`);
    }
    assert.equal(delta(server, before, 'idleTimeouts'), IDLERS + ACTIVE);
    if (protocol === 'raw') assert.deepEqual(reasons, Array(IDLERS + ACTIVE).fill('timeout'));
    await finish(server, fds);
  });
}

backendTest('http: a keep-alive connection is closed idleTimeoutMs after its last request; a slow request keeps it alive', { timeout: 20000 }, async () => {
  Engine.get();
  const fds = fdCount();
  const server: EpollServer = createServer({ protocol: 'http', idleTimeoutMs: IDLE }, { onRequest: (id, req) => { server.respond(id, 200, req.url); } });
  const { port } = server.listen();
  const c = await HttpConn.open(port);
  const end = closedAt(c.socket);
  c.send(request('GET', '/1'));
  await c.responsesUntil(1);
  // A request trickling in over 2x the timeout, a few bytes at a time, is activity all along.
  const req = request('POST', '/slow', {}, 'b'.repeat(20));
  let last = 0;
  for (let i = 0; i < req.length; i += 8) {
    if (i > 0) await sleep((2 * IDLE) / Math.ceil(req.length / 8));
    c.send(req.subarray(i, i + 8));
    last = performance.now();
  }
  await c.responsesUntil(2);
  assert.deepEqual(c.responses.map((r) => r.body.toString()), ['/1', '/slow']);
  const elapsed = (await withTimeout(end, 2000, 'the idle close')) - last;
  assert.ok(elapsed >= IDLE - CLOCK && elapsed <= IDLE + late(), `closed ${elapsed.toFixed(1)} ms after the last request`);
  await finish(server, fds);
});

function wsServer(websocket: 'js' | 'echo', opts: ServerOptions, onClose?: (reason: CloseReasonName) => void): { server: EpollServer; port: number } {
  const server: EpollServer = websocket === 'js'
    ? createServer({ protocol: 'http', websocket, ...opts }, {
      onWsMessage: (id, data, bin) => { server.wsSend(id, data, bin); },
      onClose: (_id, r) => onClose?.(r),
    })
    : createServer({ protocol: 'http-static', websocket, ...opts });
  return { server, port: server.listen().port };
}

function openWs(port: number): Promise<WebSocket> {
  return withTimeout(new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`, { perMessageDeflate: false });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  }), 5000, 'ws open');
}

for (const websocket of ['js', 'echo'] as const) {
  backendTest(`${websocket}: heartbeat: a client answering pings stays; one that never answers is closed after about 2 intervals`, { timeout: 20000 }, async () => {
    Engine.get();
    const fds = fdCount();
    const reasons: CloseReasonName[] = [];
    const { server, port } = wsServer(websocket, { pingIntervalMs: PING }, (r) => reasons.push(r));
    const before = server.counters();
    const good = await openWs(port);
    let pings = 0;
    good.on('ping', () => { pings++; });
    let goodClosed = false;
    good.on('close', () => { goodClosed = true; });

    // A raw client that did the upgrade by hand and never answers a ping.
    const start = performance.now();
    const deaf = await RawWs.open(port);
    const deafEnd = closedAt(deaf.socket);
    // A ws client whose socket is paused: its library cannot see the pings, so it cannot answer.
    const paused = await openWs(port);
    const pausedStart = performance.now();
    const pausedSocket = (paused as unknown as { _socket: net.Socket })._socket;
    pausedSocket.pause();

    const elapsed = (await withTimeout(deafEnd, 3000, 'the silent client to be closed')) - start;
    assert.ok(elapsed >= 2 * PING - CLOCK, `closed after ${elapsed.toFixed(1)} ms, before 2 intervals`);
    assert.ok(elapsed <= 2 * PING + late(), `closed after ${elapsed.toFixed(1)} ms, later than ${(2 * PING + late()).toFixed(1)} ms`);
    const pingFrames = deaf.frames.filter((f) => f.opcode === Opcode.Ping);
    assert.equal(pingFrames.length, 1, 'one ping, then the close when it went unanswered');
    assert.equal(pingFrames[0]!.masked, false);
    await until(() => delta(server, before, 'heartbeatCloses') === 2, 'the paused client to be closed too', 3000);
    assert.ok(performance.now() - pausedStart >= 2 * PING - CLOCK);
    pausedSocket.resume();
    await until(() => paused.readyState === WebSocket.CLOSED, 'the paused client to see the close');

    // Meanwhile the answering client stays, through 5 pings (5 intervals) in all.
    await until(() => pings >= 5 || goodClosed, 'five pings to the answering client', 5000);
    assert.equal(goodClosed, false, 'a client that answers pings stays');
    assert.ok(performance.now() - start >= 5 * PING - CLOCK, 'pings are an interval apart');
    good.send('still here');
    const echo = await withTimeout(new Promise<string>((r) => good.once('message', (d) => r(d.toString()))), 2000, 'echo');
    assert.equal(echo, 'still here');
    assert.ok(delta(server, before, 'pingsSent') >= pings + 2);
    assert.ok(delta(server, before, 'pongsIn') >= pings);
    assert.equal(delta(server, before, 'heartbeatCloses'), 2);
    if (websocket === 'js') assert.deepEqual(reasons, ['timeout', 'timeout']);
    good.close();
    await until(() => goodClosed, 'the good client to close');
    await finish(server, fds);
  });
}

backendTest('js: a client that answers the first ping and then goes silent is closed one interval later', { timeout: 20000 }, async () => {
  Engine.get();
  const fds = fdCount();
  const { server, port } = wsServer('js', { pingIntervalMs: PING });
  const before = server.counters();
  const raw = await RawWs.open(port);
  const end = closedAt(raw.socket);
  const ping = await raw.waitFrame(Opcode.Ping, 2000);
  const { encodeFrame } = await import('./helpers/ws.js');
  raw.send(encodeFrame(Opcode.Pong, ping.payload));
  const answered = performance.now();
  const elapsed = (await withTimeout(end, 3000, 'the close')) - answered;
  // The next ping goes out one interval after the first; the close comes one interval after that.
  assert.ok(elapsed >= PING - CLOCK && elapsed <= 2 * PING + late(), `closed ${elapsed.toFixed(1)} ms after the pong`);
  assert.equal(raw.frames.filter((f) => f.opcode === Opcode.Ping).length, 2);
  assert.equal(delta(server, before, 'pongsIn'), 1);
  assert.equal(delta(server, before, 'heartbeatCloses'), 1);
  await finish(server, fds);
});

backendTest('idle timeout applies to upgraded WebSocket connections too, and closing ends the timers', { timeout: 20000 }, async () => {
  Engine.get();
  const fds = fdCount();
  const { server, port } = wsServer('js', { idleTimeoutMs: IDLE });
  const before = server.counters();
  const start = performance.now();
  const ws = await openWs(port);
  const code = await withTimeout(new Promise<number>((r) => ws.once('close', (c) => r(c))), 3000, 'idle close');
  const elapsed = performance.now() - start;
  assert.equal(code, 1006, 'an idle close is a plain TCP close');
  assert.ok(elapsed >= IDLE - CLOCK && elapsed <= IDLE + late(), `closed after ${elapsed.toFixed(1)} ms`);
  assert.equal(delta(server, before, 'idleTimeouts'), 1);
  // A connection closed by its peer before its deadline never fires.
  const s = await connect(port);
  s.destroy();
  await closed(s);
  await sleep(IDLE + 100);
  assert.equal(delta(server, before, 'idleTimeouts'), 1);
  await finish(server, fds);
});
