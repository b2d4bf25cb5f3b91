// Conformance of every contender in the registry: the same assertions for every (contender ×
// protocol) pair it speaks, graceful shutdown with connections open, several workers, and the
// process layer's own promises (no orphans, bounded stop, validated options).

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type net from 'node:net';
import { test, type TestContext } from 'node:test';
import {
  assertHelloResponse,
  assertSameMessage,
  connectTcp,
  FrameConnection,
  frameEchoCheck,
  HttpConnection,
  Inbox,
  tcpEchoCheck,
  verifyProtocol,
  wsEchoCheck,
  WsClient,
  type Target,
} from '../src/wire/clients/index.js';
import {
  contenderAvailable,
  contenderNames,
  ContenderUnavailableError,
  drainBoundMs,
  getContender,
  PROTOCOLS,
  speaks,
  startContender,
  type ContenderHandle,
  type ContenderStats,
  type Protocol,
  type StartOptions,
} from '../src/contenders/index.js';
import { sampleProcesses } from '../src/metrics/proc.js';
import { eventually, fdsSettle, freePortRun, openFds, waitGone } from './helpers/processes.js';

const HOST = '127.0.0.1';
const MAX = 1024 * 1024;
const SHUTDOWN_MS = 3000;
const PAIR_TIMEOUT_MS = 90_000;

const names = contenderNames();
/** The C reference echo servers: no drain of their own, so the cut is not known (null). */
const C_REFERENCES = ['c-ref', 'c-ref-uring'];
const availability = new Map<string, true | string>();
for (const name of names) availability.set(name, await contenderAvailable(name));
const fdsAtStart = openFds();
/** Every server pid this suite started; all must be gone at the end. */
const startedPids: number[] = [];

async function start(contender: string, protocol: Protocol, extra: Partial<StartOptions> = {}): Promise<ContenderHandle> {
  const h = await startContender({
    contender,
    protocol,
    host: HOST,
    limits: { maxMessageBytes: MAX },
    shutdownMs: SHUTDOWN_MS,
    stderr: 'pipe',
    ...extra,
  });
  startedPids.push(...h.pids);
  return h;
}

function target(h: ContenderHandle, worker = 0): Target {
  return { host: HOST, port: h.ports[worker] as number };
}

function firstSpoken(name: string): Protocol | undefined {
  return PROTOCOLS.find((p) => speaks(name, p) === true);
}

/**
 * Checks a payload byte count: equal to want, or null where the contender says it cannot
 * count payload bytes for this protocol (it must then report null, never a guess).
 */
function assertPayloadBytes(t: TestContext, h: ContenderHandle, field: 'bytesIn' | 'bytesOut', got: number | null, want: number): void {
  const counts = getContender(h.contender).countsPayloadBytes(h.protocol);
  if (counts === true) {
    assert.equal(got, want, field);
    return;
  }
  t.diagnostic(`${h.contender} × ${h.protocol}: ${field} not counted: ${counts}`);
  assert.equal(got, null, `${field} is null when not counted`);
}

async function settled(h: ContenderHandle, what: string, done: (s: ContenderStats) => boolean, timeoutMs = 5000): Promise<ContenderStats> {
  let last: ContenderStats | undefined;
  await eventually(async () => done((last = await h.stats())), timeoutMs, `${what} (last: ${JSON.stringify(last?.total)})`);
  return last as ContenderStats;
}

function closedWithin(socket: net.Socket, timeoutMs: number): Promise<void> {
  if (socket.destroyed && socket.closed) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`connection still open ${timeoutMs} ms after stop`)), timeoutMs);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** Opens a connection that speaks protocol and has done one round trip; resolves with a "closed by the server" waiter. */
async function openLiveConnection(protocol: Protocol, t: Target): Promise<{ closed: (ms: number) => Promise<void>; drop: () => void }> {
  switch (protocol) {
    case 'tcp-echo': {
      const socket = await connectTcp(t);
      const inbox = new Inbox(socket);
      socket.write('live');
      await inbox.until(() => inbox.length === 4, 5000, 'echo of a live connection');
      return { closed: (ms) => closedWithin(socket, ms), drop: () => socket.destroy() };
    }
    case 'frame-echo': {
      const conn = await FrameConnection.open(t);
      await conn.send([Buffer.from('live')]);
      await conn.until(1, 5000);
      return { closed: (ms) => closedWithin(conn.socket, ms), drop: () => conn.close() };
    }
    case 'http-hello': {
      const conn = await HttpConnection.open(t);
      const [res] = await conn.pipeline(['/']);
      assertHelloResponse(res as NonNullable<typeof res>, '/');
      return { closed: (ms) => closedWithin(conn.socket, ms), drop: () => conn.close() };
    }
    case 'ws-echo':
    case 'ws-broadcast': {
      const c = await WsClient.open(t, protocol === 'ws-broadcast' ? '/?room=live' : '/');
      return { closed: (ms) => c.untilClosed(ms), drop: () => c.terminate() };
    }
  }
}

// ---- per-protocol conformance ----------------------------------------------------------------

async function conformTcpEcho(t: TestContext, h: ContenderHandle): Promise<void> {
  const at = target(h);
  let connections = 0;
  let bytes = 0;
  const echo = async (payload: Buffer, chunkSize = 0): Promise<void> => {
    connections++;
    await tcpEchoCheck(at, payload, { chunkSize });
    bytes += payload.length;
  };
  await t.test('a small payload comes back', () => echo(Buffer.from('hello, echo')));
  await t.test('a 1 MiB payload comes back intact (one write)', () => echo(randomBytes(MAX)));
  await t.test('a 1 MiB payload comes back intact (4 KiB writes)', () => echo(randomBytes(MAX), 4096));
  await t.test('20 concurrent connections each get their own bytes back', async () => {
    await Promise.all(Array.from({ length: 20 }, () => echo(randomBytes(64 * 1024), 1500)));
  });
  await t.test('stats count every connection and every byte', async () => {
    const s = await settled(h, 'all connections closed', (x) => x.total.connectionsNow === 0);
    assert.equal(s.total.connectionsTotal, connections);
    assertPayloadBytes(t, h, 'bytesIn', s.total.bytesIn, bytes);
    assertPayloadBytes(t, h, 'bytesOut', s.total.bytesOut, bytes);
    assert.equal(s.total.messagesIn, null, 'tcp-echo has no messages');
    assert.equal(s.total.protocolErrors, 0);
  });
}

function randomPayloads(count: number, maxSize: number): Buffer[] {
  return Array.from({ length: count }, (_, i) => randomBytes(i === 0 ? 0 : Math.floor(Math.random() * maxSize)));
}

async function conformFrameEcho(t: TestContext, h: ContenderHandle): Promise<void> {
  const at = target(h);
  let connections = 0;
  let frames = 0;
  let bytes = 0;
  const check = async (payloads: Buffer[], cut: number | number[]): Promise<void> => {
    connections++;
    await frameEchoCheck(at, payloads, { cut, timeoutMs: 20_000 });
    frames += payloads.length;
    bytes += payloads.reduce((a, p) => a + p.length, 0);
  };
  await t.test('100 frames coalesced in one write come back one for one', () => check(randomPayloads(100, 3000), 0));
  await t.test('frames split byte by byte', () => check(randomPayloads(8, 300), 1));
  await t.test('frames split at odd boundaries (headers straddle writes)', () => check([...randomPayloads(60, 2000), randomBytes(70_000)], [1, 2, 3, 5, 7, 11, 13, 4096]));
  await t.test('an empty frame comes back empty', () => check([Buffer.alloc(0)], 0));
  await t.test('a 1 MiB frame (the limit) comes back intact, in one write and in 64 KiB pieces', async () => {
    await check([randomBytes(MAX)], 0);
    await check([randomBytes(MAX), Buffer.from('after')], 65536);
  });
  await t.test('a frame over the limit closes the connection and counts as a protocol error', async () => {
    const before = (await h.stats()).total.protocolErrors;
    const conn = await FrameConnection.open(at);
    connections++;
    try {
      const header = Buffer.alloc(4);
      header.writeUInt32BE(MAX + 1);
      await conn.sendRaw(Buffer.concat([header, randomBytes(1000)])).catch(() => {});
      await conn.untilClosed(5000);
    } finally {
      conn.close();
    }
    await settled(h, 'protocol error counted', (s) => s.total.protocolErrors === before + 1);
  });
  await t.test('stats count every frame and payload byte', async () => {
    const s = await settled(h, 'all connections closed', (x) => x.total.connectionsNow === 0);
    assert.equal(s.total.connectionsTotal, connections);
    assert.equal(s.total.messagesIn, frames);
    assert.equal(s.total.messagesOut, frames);
    assertPayloadBytes(t, h, 'bytesIn', s.total.bytesIn, bytes);
    assertPayloadBytes(t, h, 'bytesOut', s.total.bytesOut, bytes);
    assert.equal(s.total.protocolErrors, 1);
  });
}

async function conformHttpHello(t: TestContext, h: ContenderHandle): Promise<void> {
  const at = target(h);
  let requests = 0;
  let connections = 0;
  const open = async (): Promise<HttpConnection> => {
    connections++;
    return HttpConnection.open(at);
  };
  await t.test('GET / is 200 "Hello, World!" with Content-Length, Content-Type and a current Date', async () => {
    const c = await open();
    try {
      const [res] = await c.pipeline(['/']);
      requests++;
      assert.ok(res);
      assertHelloResponse(res, '/');
      assert.equal(res.version, 'HTTP/1.1');
      assert.match(res.headers['date'] ?? '', /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/);
      assert.ok(Math.abs(Date.parse(res.headers['date'] ?? '') - Date.now()) < 60_000, 'Date is current');
    } finally {
      c.close();
    }
  });
  await t.test('anything else is 404 with a short body', async () => {
    const c = await open();
    try {
      const paths = ['/missing', '/index.html', '//', '/hello/'];
      const responses = await c.pipeline(paths);
      requests += paths.length;
      responses.forEach((r, i) => assertHelloResponse(r, paths[i] as string));
      const [post] = await c.pipeline(['/'], undefined, 'POST');
      requests++;
      assert.ok(post);
      assertHelloResponse(post, '/', 'POST');
    } finally {
      c.close();
    }
  });
  await t.test('16 requests pipelined in one write are answered in order', async () => {
    const c = await open();
    try {
      const paths = Array.from({ length: 16 }, (_, i) => ([0, 1, 4, 5, 6, 11, 15].includes(i) ? '/' : `/no-${i}`));
      const responses = await c.pipeline(paths);
      requests += paths.length;
      assert.equal(responses.length, 16);
      responses.forEach((r, i) => assertHelloResponse(r, paths[i] as string));
    } finally {
      c.close();
    }
  });
  await t.test('keep-alive: one connection serves several pipelined batches', async () => {
    const before = (await h.stats()).total.connectionsTotal;
    const c = await open();
    try {
      for (let batch = 0; batch < 3; batch++) {
        const paths = Array.from({ length: 16 }, (_, i) => ((i + batch) % 3 === 0 ? '/' : '/x'));
        const responses = await c.pipeline(paths);
        requests += paths.length;
        responses.forEach((r, i) => assertHelloResponse(r, paths[i] as string));
      }
      assert.equal((await h.stats()).total.connectionsTotal, before + 1);
      assert.equal(c.closed, false);
    } finally {
      c.close();
    }
  });
  await t.test('stats count every request', async () => {
    const s = await settled(h, 'all connections closed', (x) => x.total.connectionsNow === 0);
    assert.equal(s.total.connectionsTotal, connections);
    assert.equal(s.total.messagesIn, requests);
    assert.equal(s.total.messagesOut, requests);
    assert.equal(s.total.bytesIn, null, 'requests carry no payload');
    assert.equal(s.total.protocolErrors, 0);
  });
}

async function conformWsEcho(t: TestContext, h: ContenderHandle): Promise<void> {
  const at = target(h);
  let connections = 0;
  let messages = 0;
  let bytes = 0;
  const echo = async (list: (string | Buffer)[]): Promise<void> => {
    connections++;
    await wsEchoCheck(at, list, 20_000);
    messages += list.length;
    bytes += list.reduce((a, m) => a + (typeof m === 'string' ? Buffer.byteLength(m) : m.length), 0);
  };
  await t.test('text stays text', () => echo(['héllo wörld ✓', '', 'plain']));
  await t.test('binary stays binary', () => echo([randomBytes(1000), Buffer.alloc(0), Buffer.from('text-looking bytes')]));
  await t.test('1 MiB messages (the limit) come back intact, binary and text', () => echo([randomBytes(MAX), 'x'.repeat(MAX)]));
  await t.test('200 mixed messages come back in order with their types', () =>
    echo(Array.from({ length: 200 }, (_, i) => (i % 3 === 0 ? randomBytes(i * 7) : `message ${i} ${'z'.repeat(i)}`))),
  );
  await t.test('a message over the limit closes the connection and counts as a protocol error', async () => {
    const before = (await h.stats()).total.protocolErrors;
    const c = await WsClient.open(at);
    connections++;
    try {
      void c.send(randomBytes(MAX + 1)).catch(() => {});
      await c.untilClosed(5000);
    } finally {
      c.terminate();
    }
    await settled(h, 'protocol error counted', (s) => s.total.protocolErrors === before + 1);
  });
  await t.test('stats count every connection, message and payload byte', async () => {
    const s = await settled(h, 'all connections closed', (x) => x.total.connectionsNow === 0);
    assert.equal(s.total.connectionsTotal, connections);
    assert.equal(s.total.messagesIn, messages);
    assert.equal(s.total.messagesOut, messages);
    assertPayloadBytes(t, h, 'bytesIn', s.total.bytesIn, bytes);
    assertPayloadBytes(t, h, 'bytesOut', s.total.bytesOut, bytes);
    assert.equal(s.total.protocolErrors, 1);
  });
}

async function conformWsBroadcast(t: TestContext, h: ContenderHandle): Promise<void> {
  const at = target(h);
  const clients: WsClient[] = [];
  let messagesIn = 0;
  let bytesIn = 0;
  let deliveries = 0;
  const send = async (c: WsClient, m: string | Buffer): Promise<void> => {
    await c.send(m);
    messagesIn++;
    bytesIn += typeof m === 'string' ? Buffer.byteLength(m) : m.length;
  };
  const open = async (path: string): Promise<WsClient> => {
    const c = await WsClient.open(at, path);
    clients.push(c);
    return c;
  };
  const byMessage = getContender(h.contender).joinByMessage;
  if (!byMessage) t.diagnostic(`${h.contender} joins rooms by ?room= only: every member joins by URL`);
  try {
    // Room "alpha": two members by query string, one by a join message. Room "beta": one of each.
    // A contender that joins by URL only gets every member by URL.
    const a1 = await open('/?room=alpha');
    const a2 = await open('/?room=alpha');
    const a3 = await open(byMessage ? '/' : '/?room=alpha');
    const b1 = await open('/?room=beta');
    const b2 = await open(byMessage ? '/' : '/?room=beta');
    const loner = await open('/');
    if (byMessage) {
      await send(a3, 'join:alpha');
      await send(b2, 'join:beta');
    }
    const alpha = [a1, a2, a3];
    const beta = [b1, b2];

    await t.test(byMessage ? 'members join by ?room= and by a first "join:" message' : 'members join by ?room=', async () => {
      // A join by message is in once a publish reaches all members; each publish counts.
      for (const [room, size] of [['alpha', 3], ['beta', 2]] as const) {
        await eventually(
          async () => {
            const n = await h.publish(room, 'sync');
            deliveries += n;
            return n === size;
          },
          5000,
          `${room} has ${size} members`,
        );
      }
    });

    await t.test('a message from a connection in no room is a protocol error and goes nowhere', async () => {
      // Where joining is by URL only, a join message is just such a message: it joins nothing
      // (the loner must then get none of alpha's traffic below).
      await send(loner, byMessage ? 'hello, anyone?' : 'join:alpha');
      await settled(h, 'protocol error counted', (s) => s.total.protocolErrors === 1);
    });

    const alphaMsgs: (string | Buffer)[] = [];
    const betaMsgs: (string | Buffer)[] = [];
    await t.test('every member gets every message of its room exactly once, the sender included, with its type', async () => {
      for (const [i, c] of alpha.entries()) {
        for (let k = 0; k < 4; k++) {
          const m = k % 2 === 0 ? `alpha-${i}-${k}` : Buffer.concat([Buffer.from(`alpha-${i}-${k}-`), randomBytes(16)]);
          alphaMsgs.push(m);
          await send(c, m);
          deliveries += alpha.length;
        }
      }
      for (const [i, c] of beta.entries()) {
        for (let k = 0; k < 4; k++) {
          const m = k % 2 === 0 ? Buffer.concat([Buffer.from(`beta-${i}-${k}-`), randomBytes(16)]) : `beta-${i}-${k}`;
          betaMsgs.push(m);
          await send(c, m);
          deliveries += beta.length;
        }
      }
      const ctlAlpha = await h.publish('alpha', 'control says hi');
      const ctlBeta = await h.publish('beta', Buffer.from([0, 1, 2, 255]));
      assert.equal(ctlAlpha, 3);
      assert.equal(ctlBeta, 2);
      deliveries += ctlAlpha + ctlBeta;
      // Everything above was sent before these markers, on the same connections, so whatever
      // a member will ever get of it has arrived once its marker has.
      deliveries += await h.publish('alpha', 'end');
      deliveries += await h.publish('beta', 'end');
      for (const c of [...alpha, ...beta]) await c.untilMatch((m) => !m.binary && m.data.toString() === 'end', 10_000, 'end marker');

      const count = (c: WsClient, want: string | Buffer): number =>
        c.messages.filter((m) => m.binary === (typeof want !== 'string') && m.data.equals(typeof want === 'string' ? Buffer.from(want) : want)).length;
      for (const [i, c] of alpha.entries()) {
        for (const m of alphaMsgs) assert.equal(count(c, m), 1, `alpha member ${i} got ${String(m)} once`);
        for (const m of betaMsgs) assert.equal(count(c, m), 0, `alpha member ${i} got nothing from beta`);
        assert.equal(count(c, 'control says hi'), 1);
        const own = c.messages.filter((m) => m.data.toString('latin1').startsWith(`alpha-${i}-`));
        assert.equal(own.length, 4, `alpha member ${i} got its own 4 messages back`);
      }
      for (const [i, c] of beta.entries()) {
        for (const m of betaMsgs) assert.equal(count(c, m), 1, `beta member ${i} got ${String(m)} once`);
        for (const m of alphaMsgs) assert.equal(count(c, m), 0, `beta member ${i} got nothing from alpha`);
        assert.equal(count(c, Buffer.from([0, 1, 2, 255])), 1);
        assertSameMessage(c.messages.find((m) => m.binary && m.data.length === 4), Buffer.from([0, 1, 2, 255]), 'control binary publish');
      }
      assert.equal(loner.messages.length, 0, 'a connection in no room gets nothing');
    });

    await t.test('publishing to an empty room reaches nobody', async () => {
      assert.equal(await h.publish('nobody-here', 'echo?'), 0);
    });

    await t.test('stats count messages in and deliveries out', async () => {
      const s = await h.stats();
      assert.equal(s.total.messagesIn, messagesIn);
      assertPayloadBytes(t, h, 'bytesIn', s.total.bytesIn, bytesIn);
      assert.equal(s.total.messagesOut, deliveries);
      assert.equal(s.total.connectionsNow, clients.length);
      assert.equal(s.total.connectionsTotal, clients.length);
      assert.equal(s.total.protocolErrors, 1);
    });
  } finally {
    for (const c of clients) c.terminate();
  }
  await settled(h, 'all connections closed', (x) => x.total.connectionsNow === 0);
}

const CONFORMANCE: Record<Protocol, (t: TestContext, h: ContenderHandle) => Promise<void>> = {
  'tcp-echo': conformTcpEcho,
  'frame-echo': conformFrameEcho,
  'http-hello': conformHttpHello,
  'ws-echo': conformWsEcho,
  'ws-broadcast': conformWsBroadcast,
};

async function stopWithOpenConnections(h: ContenderHandle, protocol: Protocol, signal: 'SIGTERM' | 'SIGINT'): Promise<void> {
  const conns = await Promise.all(h.ports.flatMap((port) => [0, 1, 2].map(() => openLiveConnection(protocol, { host: HOST, port }))));
  try {
    await settled(h, 'server sees the connections', (s) => s.total.connectionsNow >= conns.length);
    const t0 = Date.now();
    const report = await h.stop({ signal });
    const ms = Date.now() - t0;
    for (const w of report.workers) {
      assert.equal(w.code, 0, `worker ${w.worker} exit code (stderr: ${w.stderr ?? ''})`);
      assert.equal(w.killed, false);
    }
    assert.equal(report.ok, true);
    assert.ok(ms < SHUTDOWN_MS, `stopped in ${ms} ms, bound ${SHUTDOWN_MS} ms`);
    // Live peers answer the drain, so nothing is cut; a contender that cannot tell (the C
    // references, c-ref and c-ref-uring) says null, never a guess.
    for (const w of report.workers) assert.equal(w.drained, true, `worker ${w.worker} reported its drain`);
    assert.equal(report.drain.boundMs, drainBoundMs(SHUTDOWN_MS));
    if (C_REFERENCES.includes(h.contender)) assert.equal(report.drain.cut, null, `${h.contender} cannot tell what it cut`);
    else assert.equal(report.drain.cut, 0, 'drain cut');
    await Promise.all(conns.map((c) => c.closed(2000)));
    assert.deepEqual(await waitGone(h.pids), [], 'no worker process left');
  } finally {
    for (const c of conns) c.drop();
  }
}

// ---- the suite -------------------------------------------------------------------------------

test('the registry names contenders and says which protocols each speaks', () => {
  for (const name of ['epoll', 'epoll-native', 'uring', 'uring-native', 'net', 'uws', ...C_REFERENCES]) assert.ok(names.includes(name), name);
  for (const name of C_REFERENCES) {
    for (const p of PROTOCOLS) assert.equal(speaks(name, p), p === 'tcp-echo' ? true : 'the C reference speaks raw TCP echo only', `${name} × ${p}`);
  }
  assert.equal(speaks('net', 'tcp-echo'), true);
  assert.equal(speaks('uws', 'tcp-echo'), 'uWebSockets.js does not speak raw TCP');
  assert.equal(speaks('uws', 'frame-echo'), 'uWebSockets.js does not speak raw TCP');
  assert.throws(() => speaks('no-such-contender', 'tcp-echo'), RangeError);
  assert.throws(() => speaks('net', 'gopher' as Protocol), RangeError);
  for (const name of names) {
    const def = getContender(name);
    assert.equal(def.name, name);
    assert.equal(typeof def.joinByMessage, 'boolean');
    for (const p of PROTOCOLS) {
      const s = speaks(name, p);
      assert.ok(s === true || (typeof s === 'string' && s.length > 0), `${name} × ${p} is true or a reason`);
      const b = def.countsPayloadBytes(p);
      assert.ok(b === true || (typeof b === 'string' && b.length > 0), `${name} × ${p} counts payload bytes, or says why not`);
    }
  }
  // The JS-facing contenders count payload bytes everywhere; only a native path may not.
  for (const name of ['epoll', 'net', 'uws']) for (const p of PROTOCOLS) assert.equal(getContender(name).countsPayloadBytes(p), true);
  assert.equal(getContender('epoll-native').joinByMessage, false);
});

test('start options are checked before any process starts', async () => {
  await assert.rejects(startContender({ contender: 'nope', protocol: 'tcp-echo' }), RangeError);
  await assert.rejects(startContender({ contender: 'net', protocol: 'smtp' as Protocol }), RangeError);
  await assert.rejects(startContender({ contender: 'net', protocol: 'tcp-echo', port: 70000 }), RangeError);
  await assert.rejects(startContender({ contender: 'net', protocol: 'tcp-echo', port: 1.5 }), TypeError);
  await assert.rejects(startContender({ contender: 'net', protocol: 'tcp-echo', workers: 0 }), RangeError);
  await assert.rejects(startContender({ contender: 'net', protocol: 'tcp-echo', host: 'localhost' }), TypeError);
  await assert.rejects(startContender({ contender: 'net', protocol: 'tcp-echo', limits: { maxMessageBytes: 0 } }), RangeError);
  await assert.rejects(startContender({ contender: 'net', protocol: 'tcp-echo', limits: { bogus: 1 } as never }), RangeError);
  await assert.rejects(startContender({ contender: 'net', protocol: 'tcp-echo', port: 65535, workers: 2 }), RangeError);
  await assert.rejects(startContender({ contender: 'net', protocol: 'tcp-echo', wat: true } as never), RangeError);
  await assert.rejects(startContender({ contender: 'uws', protocol: 'tcp-echo' }), (err: unknown) => {
    assert.ok(err instanceof ContenderUnavailableError);
    assert.equal(err.kind, 'skipped');
    assert.equal(err.reason, 'uWebSockets.js does not speak raw TCP');
    return true;
  });
});

for (const name of names) {
  const available = availability.get(name) as true | string;

  test(`${name}: skipped and unavailable pairs, with reasons`, { timeout: 30_000 }, async (t) => {
    for (const p of PROTOCOLS) {
      const s = speaks(name, p);
      if (s !== true) t.diagnostic(`${name} × ${p} skipped: ${s}`);
    }
    const protocol = firstSpoken(name);
    if (available === true || protocol === undefined) return;
    t.diagnostic(`${name} is unavailable here: ${available}`);
    // Starting it anyway fails cleanly, with the same reason, and leaves no process behind.
    await assert.rejects(start(name, protocol), (err: unknown) => {
      assert.ok(err instanceof ContenderUnavailableError);
      assert.equal(err.kind, 'unavailable');
      assert.equal(err.reason, available);
      return true;
    });
  });

  for (const protocol of PROTOCOLS) {
    test(`${name} × ${protocol}`, { timeout: PAIR_TIMEOUT_MS }, async (t) => {
      const s = speaks(name, protocol);
      if (s !== true) return t.diagnostic(`skipped: ${s}`);
      if (available !== true) return t.diagnostic(`unavailable: ${available}`);
      const h = await start(name, protocol);
      try {
        assert.equal(h.ports.length, 1);
        assert.ok((h.ports[0] as number) > 0, 'port 0 resolved to a real port');
        await CONFORMANCE[protocol](t, h);
        await t.test('SIGTERM with connections open: exit 0 within the bound, connections closed, no process left', () =>
          stopWithOpenConnections(h, protocol, 'SIGTERM'),
        );
      } finally {
        await h.stop();
      }
    });
  }

  test(`${name}: SIGINT drains and lets the event loop end`, { timeout: 30_000 }, async (t) => {
    const protocol = firstSpoken(name);
    if (protocol === undefined || available !== true) return t.diagnostic(`not run: ${available === true ? 'speaks nothing' : available}`);
    const h = await start(name, protocol);
    try {
      await stopWithOpenConnections(h, protocol, 'SIGINT');
    } finally {
      await h.stop();
    }
  });

  test(`${name}: two workers on consecutive ports serve and report summed stats`, { timeout: 60_000 }, async (t) => {
    const protocol = firstSpoken(name);
    if (protocol === undefined || available !== true) return t.diagnostic(`not run: ${available === true ? 'speaks nothing' : available}`);
    const base = await freePortRun(HOST, 2);
    const h = await start(name, protocol, { workers: 2, port: base });
    try {
      assert.deepEqual(h.ports, [base, base + 1]);
      assert.equal(new Set(h.workers.map((w) => w.pid)).size, 2, 'two worker processes');
      // Every process that serves is measured: the workers and whatever serves for them (c-ref's C program).
      assert.deepEqual(h.pids, h.workers.flatMap((w) => [w.pid, ...w.servingPids]));
      assert.equal(new Set(h.pids).size, h.pids.length);
      if (h.workers.some((w) => w.servingPids.length > 0)) {
        // Its CPU and memory are the C program's alone: the Node worker only relays, and its tens
        // of MB are not the server's.
        assert.deepEqual(h.measuredPids, h.workers.flatMap((w) => w.servingPids));
        const program = sampleProcesses(h.measuredPids).total.rssBytes!, wrappers = sampleProcesses(h.workers.map((w) => w.pid)).total.rssBytes!;
        assert.ok(program < wrappers / 4, `the C programs' RSS ${program} B, their workers' ${wrappers} B`);
      } else {
        assert.deepEqual(h.measuredPids, h.pids);
      }
      // Worker 1 gets twice the checks of worker 0, so a sum cannot pass by accident.
      for (const [i, port] of h.ports.entries()) {
        for (let k = 0; k <= i; k++) await verifyProtocol(protocol, { host: HOST, port });
      }
      const s = await h.stats();
      assert.equal(s.workers.length, 2);
      const [w0, w1] = s.workers as [ContenderStats['workers'][number], ContenderStats['workers'][number]];
      assert.deepEqual([w0.worker, w1.worker], [0, 1]);
      assert.deepEqual([w0.port, w1.port], h.ports);
      assert.deepEqual([w0.pid, w1.pid], h.workers.map((w) => w.pid));
      assert.ok(w0.connectionsTotal > 0);
      assert.equal(w1.connectionsTotal, 2 * w0.connectionsTotal);
      assert.equal(s.total.connectionsTotal, w0.connectionsTotal + w1.connectionsTotal);
      if (w0.messagesIn !== null && w1.messagesIn !== null) assert.equal(s.total.messagesIn, w0.messagesIn + w1.messagesIn);
      if (h.workers.some((w) => w.servingPids.length > 0)) {
        // The worker only starts the C program: its V8 heap is not the server's, so none is reported.
        for (const w of s.workers) assert.ok(w.heapUsedBytes === null && w.heapTotalBytes === null && w.externalBytes === null && w.arrayBuffersBytes === null && w.rssBytes > 0, JSON.stringify(w));
        assert.equal(s.total.heapUsedBytes, null);
      } else {
        for (const w of s.workers) assert.ok(w.heapUsedBytes! > 0 && w.heapTotalBytes! >= w.heapUsedBytes! && w.rssBytes > 0);
        assert.equal(s.total.heapUsedBytes, w0.heapUsedBytes! + w1.heapUsedBytes!);
        assert.equal(s.total.externalBytes, w0.externalBytes! + w1.externalBytes!);
      }
      await stopWithOpenConnections(h, protocol, 'SIGTERM');
    } finally {
      await h.stop();
    }
  });

  test(`${name}: two workers with port 0 each take a free port`, { timeout: 30_000 }, async (t) => {
    const protocol = firstSpoken(name);
    if (protocol === undefined || available !== true) return t.diagnostic(`not run: ${available === true ? 'speaks nothing' : available}`);
    const h = await start(name, protocol, { workers: 2 });
    try {
      assert.equal(new Set(h.ports).size, 2);
      for (const port of h.ports) await verifyProtocol(protocol, { host: HOST, port });
    } finally {
      const report = await h.stop();
      assert.equal(report.ok, true);
    }
  });

  test(`${name}: two workers sharing one port (SO_REUSEPORT), or the reason it cannot`, { timeout: 30_000 }, async (t) => {
    const protocol = firstSpoken(name);
    if (protocol === undefined || available !== true) return t.diagnostic(`not run: ${available === true ? 'speaks nothing' : available}`);
    const shared = getContender(name).sharedPort();
    if (shared !== true) {
      t.diagnostic(`shared port unsupported: ${shared}`);
      await assert.rejects(start(name, protocol, { workers: 2, portMode: 'shared' }), RangeError);
      return;
    }
    const h = await start(name, protocol, { workers: 2, portMode: 'shared' });
    const conns: Awaited<ReturnType<typeof openLiveConnection>>[] = [];
    try {
      assert.equal(h.ports[0], h.ports[1]);
      for (let i = 0; i < 16; i++) conns.push(await openLiveConnection(protocol, target(h)));
      const s = await settled(h, 'both workers count the connections', (x) => x.total.connectionsNow === 16);
      assert.equal(s.total.connectionsTotal, 16);
    } finally {
      for (const c of conns) c.drop();
      await h.stop();
    }
  });

  test(`${name}: the idle timeout closes silent connections (where the library's minimum is short enough to test)`, { timeout: 30_000 }, async (t) => {
    if (available !== true) return t.diagnostic(`not run: ${available}`);
    for (const protocol of PROTOCOLS.filter((p) => speaks(name, p) === true)) {
      const h = await start(name, protocol, { limits: { maxMessageBytes: MAX, idleTimeoutMs: 300 } });
      try {
        const idle = h.workers[0]?.limits.idleTimeoutMs ?? null;
        if (idle === null || idle > 2000) {
          t.diagnostic(`${name} × ${protocol}: effective idle timeout ${idle} ms (library minimum), not exercised here`);
          continue;
        }
        assert.equal(idle, 300);
        const conn = await openLiveConnection(protocol, target(h));
        try {
          await conn.closed(idle + 3000);
        } finally {
          conn.drop();
        }
      } finally {
        await h.stop();
      }
    }
  });
}

test('control over stdin/stdout through a command wrapper', { timeout: 30_000 }, async () => {
  const h = await start('net', 'tcp-echo', { control: 'stdio', wrap: ['env', 'C1M_WRAPPED=1'] });
  try {
    await tcpEchoCheck(target(h), randomBytes(10_000));
    const s = await h.stats();
    assert.equal(s.total.bytesIn, 10_000);
  } finally {
    const report = await h.stop();
    assert.equal(report.ok, true, JSON.stringify(report));
  }
  assert.deepEqual(await waitGone(h.pids), []);
});

test('a wrapper that cannot be started fails the start, and leaves nothing behind', { timeout: 30_000 }, async () => {
  await assert.rejects(start('net', 'tcp-echo', { wrap: ['/nonexistent/c1m-wrapper'] }), /cannot start .*ENOENT/);
});

test('a worker that does not stop within the bound is killed, and says so', { timeout: 30_000 }, async () => {
  const h = await start('net', 'tcp-echo', { shutdownMs: 300 });
  const pid = h.pids[0] as number;
  process.kill(pid, 'SIGSTOP');
  const report = await h.stop({ killAfterMs: 500 });
  assert.equal(report.ok, false);
  assert.equal(report.workers[0]?.killed, true);
  assert.equal(report.workers[0]?.signal, 'SIGKILL');
  // A killed worker reported no drain: what it cut is not known, not 0.
  assert.equal(report.workers[0]?.drained, false);
  assert.equal(report.drain.cut, null);
  assert.deepEqual(await waitGone([pid]), []);
});

test('a worker that dies is reported, not waited for', { timeout: 30_000 }, async () => {
  const h = await start('net', 'ws-broadcast');
  const pid = h.pids[0] as number;
  process.kill(pid, 'SIGKILL');
  assert.deepEqual(await waitGone([pid]), []);
  await assert.rejects(h.stats(), /exited/);
  await assert.rejects(h.publish('room', 'x'), /exited/);
  const report = await h.stop();
  assert.equal(report.ok, false);
  assert.equal(report.workers[0]?.signal, 'SIGKILL');
  assert.equal(report.workers[0]?.killed, false);
});

test('publish is for ws-broadcast only', { timeout: 30_000 }, async () => {
  const h = await start('net', 'ws-echo');
  try {
    await assert.rejects(h.publish('room', 'x'), RangeError);
  } finally {
    await h.stop();
  }
});

test('a busy port fails the start with the reason, and leaves nothing behind', { timeout: 30_000 }, async () => {
  const h = await start('net', 'tcp-echo');
  try {
    await assert.rejects(start('net', 'tcp-echo', { port: h.ports[0] as number }), /EADDRINUSE|in use/);
  } finally {
    await h.stop();
  }
});

test('nothing is left behind: every server process gone, no descriptors leaked', { timeout: 10_000 }, async () => {
  assert.deepEqual(await waitGone(startedPids), []);
  const fds = await fdsSettle(fdsAtStart);
  assert.ok(fds <= fdsAtStart, `${fds} descriptors open, ${fdsAtStart} at the start`);
});
