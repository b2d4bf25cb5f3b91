// Contenders over TLS (#20): net (node:tls, node:https, ws on node:https) and uws (SSLApp) serve
// tls-echo, frames over TLS, https-hello, wss echo and broadcast with the run's certificate;
// net counts every handshake by how it ended and applies tickets and the handshake timeout as
// asked; every worker says in its ready message what TLS it applies; contenders without TLS are
// skipped with their reason. Nothing is left running.

import assert from 'node:assert/strict';
import { randomBytes, X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import tls from 'node:tls';
import WebSocket from 'ws';
import {
  agreedTls,
  checkServerTls,
  contenderAvailable,
  ContenderUnavailableError,
  speaks,
  startContender,
  type AppliedTls,
  type ContenderHandle,
  type Protocol,
  type ServerTls,
} from '../src/contenders/index.js';
import { parseChildConfig } from '../src/contenders/contender-config.js';
import { TICKET_KEY_BYTES } from '../src/engine/options.js';
import { eventually, waitGone } from './helpers/processes.js';
import { testCert } from './helpers/tls-cert.js';

const HOST = '127.0.0.1';
const SHUTDOWN_MS = 3000;
const HELLO = 'Hello, World!';
const GET = `GET / HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`;
const NODE_TLS = `node:tls (OpenSSL ${process.versions.openssl})`;
const cert = testCert();
const fingerprint = new X509Certificate(cert.certPem).fingerprint256;
const uwsAvailable = await contenderAvailable('uws');
const uringAvailable = await contenderAvailable('uring');
/** Every server pid this file started; all must be gone at the end. */
const startedPids: number[] = [];

function serverTls(extra: Partial<ServerTls> = {}): ServerTls {
  return { certFile: cert.certFile, keyFile: cert.keyFile, keyType: 'ec', tickets: true, handshakeTimeoutMs: 10_000, ...extra };
}

async function start(contender: string, protocol: Protocol, tlsExtra: Partial<ServerTls> = {}): Promise<ContenderHandle> {
  const h = await startContender({ contender, protocol, host: HOST, shutdownMs: SHUTDOWN_MS, stderr: 'pipe', tls: serverTls(tlsExtra) });
  startedPids.push(...h.pids);
  return h;
}

/** Runs body with a started contender, and always stops it. */
async function withContender(contender: string, protocol: Protocol, tlsExtra: Partial<ServerTls>, body: (h: ContenderHandle) => Promise<void>): Promise<void> {
  const h = await start(contender, protocol, tlsExtra);
  try {
    await body(h);
  } finally {
    await h.stop();
  }
}

function port(h: ContenderHandle): number {
  return h.ports[0] as number;
}

/**
 * A TLS connection to the contender, its handshake done, our certificate checked by fingerprint
 * (a resumed session presents none). onSession sees every session the server sends, from the
 * start: TLS 1.2 hands it over within the handshake, BoringSSL's TLS 1.3 with its Finished.
 */
async function connectTls(p: number, options: tls.ConnectionOptions = {}, onSession?: (session: Buffer) => void, expected = fingerprint): Promise<tls.TLSSocket> {
  const socket = tls.connect({ host: HOST, port: p, rejectUnauthorized: false, ...options });
  if (onSession !== undefined) socket.on('session', onSession);
  await new Promise<void>((resolve, reject) => {
    socket.once('secureConnect', resolve);
    socket.once('error', reject);
  });
  if (!socket.isSessionReused()) assert.equal(socket.getPeerX509Certificate()?.fingerprint256, expected, 'the server presents the run\'s certificate');
  return socket;
}

/** Resolves once socket has closed; rejects if it is still open after timeoutMs. */
function closedWithin(socket: net.Socket, timeoutMs: number): Promise<void> {
  if (socket.closed) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`connection still open after ${timeoutMs} ms`)), timeoutMs);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** Collects everything a socket receives. */
function collect(socket: net.Socket): { bytes: () => Buffer; until: (n: number, ms: number) => Promise<void> } {
  const chunks: Buffer[] = [];
  let length = 0;
  socket.on('data', (d: Buffer) => {
    chunks.push(d);
    length += d.length;
  });
  return {
    bytes: () => Buffer.concat(chunks),
    until: (n, ms) => eventually(() => length >= n, ms, `${n} bytes received (have ${length})`),
  };
}

async function extra(h: ContenderHandle): Promise<Record<string, number>> {
  return (await h.stats()).total.extra;
}

/**
 * A full handshake, then a second connection that presents the first one's session; each does
 * one round trip of request (so that the server has finished its handshake, and TLS 1.3's
 * tickets, sent after it, have arrived). Whether the second was resumed.
 */
async function secondReused(p: number, maxVersion: tls.SecureVersion, request: string): Promise<boolean> {
  const roundTrip = async (socket: tls.TLSSocket): Promise<void> => {
    const got = new Promise<void>((resolve) => socket.once('data', () => resolve()));
    socket.write(request);
    await Promise.race([got, new Promise((_, reject) => setTimeout(() => reject(new Error('no answer over TLS')), 5000))]);
  };
  let session: Buffer | undefined;
  const first = await connectTls(p, { maxVersion }, (s) => (session ??= s));
  try {
    await roundTrip(first);
    await eventually(() => session !== undefined, 5000, 'a session from the first connection');
  } finally {
    first.destroy();
  }
  const second = await connectTls(p, { maxVersion, session: session as Buffer });
  try {
    await roundTrip(second);
    return second.isSessionReused();
  } finally {
    second.destroy();
  }
}

function httpsGet(p: number, path = '/'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.get({ host: HOST, port: p, path, rejectUnauthorized: false, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.setTimeout(5000, () => req.destroy(new Error('https GET timed out')));
  });
}

/** A wss client that keeps its messages; opened when this resolves. */
async function openWss(p: number, path = '/'): Promise<{ ws: WebSocket; messages: { data: Buffer; binary: boolean }[]; closed: Promise<number> }> {
  const ws = new WebSocket(`wss://${HOST}:${p}${path}`, { rejectUnauthorized: false });
  const messages: { data: Buffer; binary: boolean }[] = [];
  ws.on('message', (data: Buffer, binary: boolean) => messages.push({ data, binary }));
  const closed = new Promise<number>((resolve) => ws.once('close', (code: number) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  return { ws, messages, closed };
}

function assertNodeTls(applied: AppliedTls | null, tickets: boolean, handshakeTimeoutMs: number, sharedTicketKey = false): void {
  assert.deepEqual(applied, { library: NODE_TLS, tickets, handshakeTimeoutMs, ...(tickets ? { sharedTicketKey } : {}) });
}

// ---- net ---------------------------------------------------------------------------------------

test('net × tls-echo: 256 KiB in, the same 256 KiB out, one full handshake counted, AppliedTls in the ready info', { timeout: 30_000 }, async () => {
  await withContender('net', 'tcp-echo', { handshakeTimeoutMs: 7000 }, async (h) => {
    assertNodeTls(h.tls, true, 7000);
    assert.deepEqual(h.workers[0]?.tls, h.tls);
    const socket = await connectTls(port(h));
    try {
      const data = randomBytes(256 * 1024);
      const inbox = collect(socket);
      socket.write(data);
      await inbox.until(data.length, 10_000);
      assert.ok(inbox.bytes().equals(data), 'the echo is the bytes sent');
      const s = await h.stats();
      assert.equal(s.total.bytesIn, data.length);
      assert.equal(s.total.bytesOut, data.length);
      assert.equal(s.total.connectionsNow, 1);
      assert.deepEqual(s.total.extra, { tlsHandshakes: 1, tlsResumed: 0, tlsHandshakeFailed: 0, tlsHandshakeTimeouts: 0 });
    } finally {
      socket.destroy();
    }
  });
});

test('net × frame-echo over TLS: frames cut across writes come back whole', { timeout: 30_000 }, async () => {
  await withContender('net', 'frame-echo', {}, async (h) => {
    const socket = await connectTls(port(h));
    try {
      const payloads = [Buffer.from('one'), randomBytes(70_000), Buffer.alloc(0), Buffer.from('last')];
      const wire = Buffer.concat(payloads.flatMap((p) => [Buffer.from([p.length >>> 24, (p.length >>> 16) & 255, (p.length >>> 8) & 255, p.length & 255]), p]));
      const inbox = collect(socket);
      // Two writes that cut the second frame's header in half.
      socket.write(wire.subarray(0, 9));
      socket.write(wire.subarray(9));
      await inbox.until(wire.length, 10_000);
      assert.ok(inbox.bytes().equals(wire));
      const s = await h.stats();
      assert.equal(s.total.messagesIn, payloads.length);
      assert.equal(s.total.bytesIn, wire.length - 4 * payloads.length);
    } finally {
      socket.destroy();
    }
  });
});

test('net × https-hello: GET / is 200 Hello, World!, another path 404, over the run\'s certificate', { timeout: 30_000 }, async () => {
  await withContender('net', 'http-hello', {}, async (h) => {
    assertNodeTls(h.tls, true, 10_000);
    assert.deepEqual(await httpsGet(port(h)), { status: 200, body: HELLO });
    assert.deepEqual(await httpsGet(port(h), '/nope'), { status: 404, body: 'Not Found' });
    const s = await h.stats();
    assert.equal(s.total.messagesIn, 2);
    assert.equal(s.total.extra['tlsHandshakes'], 2);
  });
});

test('net × wss-echo: text stays text, binary stays binary', { timeout: 30_000 }, async () => {
  await withContender('net', 'ws-echo', {}, async (h) => {
    const c = await openWss(port(h));
    try {
      const bin = randomBytes(3000);
      c.ws.send('hello');
      c.ws.send(bin);
      c.ws.send('again');
      await eventually(() => c.messages.length === 3, 5000, 'three echoes');
      assert.deepEqual(c.messages.map((m) => [m.data.toString('latin1'), m.binary]), [['hello', false], [bin.toString('latin1'), true], ['again', false]]);
      assert.equal((await extra(h))['tlsHandshakes'], 1);
    } finally {
      c.ws.terminate();
    }
  });
});

test('net × wss-broadcast: a member\'s message and a publish reach every member of the room, no one else', { timeout: 30_000 }, async () => {
  await withContender('net', 'ws-broadcast', {}, async (h) => {
    const a = await openWss(port(h), '/?room=r');
    const b = await openWss(port(h), '/?room=r');
    const other = await openWss(port(h), '/?room=other');
    try {
      assert.equal(await h.publish('r', 'from the parent'), 2);
      a.ws.send('from a');
      await eventually(() => a.messages.length === 2 && b.messages.length === 2, 5000, 'two deliveries to each member');
      for (const m of [a, b]) assert.deepEqual(m.messages.map((x) => x.data.toString()), ['from the parent', 'from a']);
      assert.equal(other.messages.length, 0);
    } finally {
      for (const c of [a, b, other]) c.ws.terminate();
    }
  });
});

for (const maxVersion of ['TLSv1.3', 'TLSv1.2'] as const) {
  test(`net × tls-echo, ${maxVersion}: tickets on resume the first connection's session (tlsResumed), tickets off do not`, { timeout: 30_000 }, async () => {
    await withContender('net', 'tcp-echo', { tickets: true }, async (h) => {
      assert.equal(await secondReused(port(h), maxVersion, 'x'), true, 'resumed with tickets on');
      await eventually(async () => (await extra(h))['tlsResumed'] === 1, 5000, `tlsResumed counts the resumption (${JSON.stringify(await extra(h))})`);
      assert.equal((await extra(h))['tlsHandshakes'], 1);
    });
    await withContender('net', 'tcp-echo', { tickets: false }, async (h) => {
      assertNodeTls(h.tls, false, 10_000);
      assert.equal(await secondReused(port(h), maxVersion, 'x'), false, 'not resumed with tickets off');
      await eventually(async () => (await extra(h))['tlsHandshakes'] === 2, 5000, 'two full handshakes');
      assert.equal((await extra(h))['tlsResumed'], 0);
    });
  });
}

for (const protocol of ['tcp-echo', 'http-hello'] as const) {
  test(`net × ${protocol} over TLS: a connection that sends nothing is closed after handshakeTimeoutMs and counted; a finished handshake is not`, { timeout: 30_000 }, async () => {
    const timeoutMs = 400;
    await withContender('net', protocol, { handshakeTimeoutMs: timeoutMs }, async (h) => {
      const done = await connectTls(port(h));
      const stalled = net.connect(port(h), HOST);
      stalled.on('error', () => {});
      try {
        const t0 = Date.now();
        await closedWithin(stalled, 5000);
        const ms = Date.now() - t0;
        assert.ok(ms >= timeoutMs - 50 && ms < timeoutMs + 2000, `closed after ${ms} ms, handshakeTimeoutMs ${timeoutMs}`);
        await eventually(async () => (await extra(h))['tlsHandshakeTimeouts'] === 1, 5000, 'the timeout is counted');
        const e = await extra(h);
        assert.equal(e['tlsHandshakeFailed'], 0, 'a timeout is not a failure of another kind');
        assert.equal(e['tlsHandshakes'], 1);
        // The finished one outlived the handshake timeout (twice over) and still answers.
        await new Promise((r) => setTimeout(r, timeoutMs));
        assert.equal(done.closed, false, 'a connection past its handshake is not closed by the handshake timeout');
        const inbox = collect(done);
        done.write(protocol === 'tcp-echo' ? 'ping' : 'GET / HTTP/1.1\r\nHost: x\r\n\r\n');
        await inbox.until(4, 5000);
        assert.equal((await h.stats()).total.connectionsNow, 1);
      } finally {
        done.destroy();
        stalled.destroy();
      }
    });
  });
}

test('net × https-hello: plain HTTP to the TLS port gets no HTTP answer, is closed, and counts as a failed handshake, as does a peer that leaves mid-handshake', { timeout: 30_000 }, async () => {
  await withContender('net', 'http-hello', {}, async (h) => {
    const plain = net.connect(port(h), HOST);
    plain.on('error', () => {});
    const inbox = collect(plain);
    plain.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await closedWithin(plain, 5000);
    assert.ok(!inbox.bytes().toString('latin1').includes(HELLO), 'no hello in plain text');
    await eventually(async () => (await extra(h))['tlsHandshakeFailed'] === 1, 5000, 'the failed handshake is counted');
    // A peer that leaves before its handshake is done is a failed handshake too.
    const gone = net.connect(port(h), HOST);
    gone.on('error', () => {});
    await new Promise((resolve) => gone.once('connect', resolve));
    gone.end();
    await eventually(async () => (await extra(h))['tlsHandshakeFailed'] === 2, 5000, 'the abandoned handshake is counted');
    assert.deepEqual(await extra(h), { nodeParserPaused: 0, tlsHandshakes: 0, tlsResumed: 0, tlsHandshakeFailed: 2, tlsHandshakeTimeouts: 0 });
    await eventually(async () => (await h.stats()).total.connectionsNow === 0, 5000, 'both connections gone');
  });
});

test('net over TLS drains on SIGTERM: a wss peer gets 1001, a tls-echo peer its queued echo then the close, one still in its handshake is closed at once; nothing cut', { timeout: 30_000 }, async () => {
  const ws = await start('net', 'ws-echo');
  const c = await openWss(port(ws));
  const report = await ws.stop();
  assert.equal(await c.closed, 1001);
  assert.equal(report.ok, true);
  assert.equal(report.drain.cut, 0);

  const echo = await start('net', 'tcp-echo');
  const live = await connectTls(port(echo));
  const stalled = net.connect(port(echo), HOST);
  stalled.on('error', () => {});
  try {
    const inbox = collect(live);
    live.write('last words');
    await inbox.until(10, 5000);
    await eventually(async () => (await echo.stats()).total.connectionsNow === 2, 5000, 'both connections accepted');
    const t0 = Date.now();
    const stopped = echo.stop();
    await closedWithin(stalled, 2000);
    await closedWithin(live, 2000);
    const r = await stopped;
    assert.ok(Date.now() - t0 < 1500, 'the drain did not wait for the bound');
    assert.equal(r.ok, true);
    assert.equal(r.drain.cut, 0, 'nothing cut: the one in its handshake had nothing to answer');
    assert.equal(inbox.bytes().toString(), 'last words');
  } finally {
    live.destroy();
    stalled.destroy();
    await echo.stop();
  }
});

// ---- uws ---------------------------------------------------------------------------------------

const uwsSkip = uwsAvailable === true ? false : `uws unavailable: ${uwsAvailable}`;

function assertUwsTls(applied: AppliedTls | null): void {
  assert.ok(applied !== null);
  assert.match(applied.library, /BoringSSL/);
  assert.equal(applied.tickets, true);
  assert.equal(applied.handshakeTimeoutMs, null);
  assert.equal(applied.sharedTicketKey, null);
  assert.match(applied.note ?? '', /HTTP idle timeout/);
}

test('uws × https-hello on SSLApp: 200 Hello, World!, the run\'s certificate, AppliedTls says BoringSSL, tickets on, no handshake timeout', { timeout: 30_000, skip: uwsSkip }, async () => {
  await withContender('uws', 'http-hello', {}, async (h) => {
    assertUwsTls(h.tls);
    assert.deepEqual(await httpsGet(port(h)), { status: 200, body: HELLO });
    assert.deepEqual(await httpsGet(port(h), '/nope'), { status: 404, body: 'Not Found' });
    // Its tickets are really on: the second connection resumes the first one's session.
    assert.equal(await secondReused(port(h), 'TLSv1.3', GET), true);
    assert.equal(await secondReused(port(h), 'TLSv1.2', GET), true);
  });
});

test('uws × wss-echo and wss-broadcast on SSLApp', { timeout: 30_000, skip: uwsSkip }, async () => {
  await withContender('uws', 'ws-echo', {}, async (h) => {
    const c = await openWss(port(h));
    try {
      c.ws.send('hello');
      c.ws.send(Buffer.from([1, 2, 3]));
      await eventually(() => c.messages.length === 2, 5000, 'two echoes');
      assert.deepEqual(c.messages.map((m) => [[...m.data], m.binary]), [[[...Buffer.from('hello')], false], [[1, 2, 3], true]]);
    } finally {
      c.ws.terminate();
    }
  });
  await withContender('uws', 'ws-broadcast', {}, async (h) => {
    const a = await openWss(port(h), '/?room=r');
    const b = await openWss(port(h));
    try {
      b.ws.send('join:r');
      await eventually(async () => (await h.publish('r', 'to r')) === 2, 5000, 'both members in room r');
      a.ws.send('from a');
      await eventually(() => a.messages.some((m) => m.data.toString() === 'from a') && b.messages.some((m) => m.data.toString() === 'from a'), 5000, 'a member\'s message reaches both');
      assert.ok(b.messages.some((m) => m.data.toString() === 'to r'), 'the publish reached the member who joined by message');
    } finally {
      a.ws.terminate();
      b.ws.terminate();
    }
  });
});

test('uws over TLS drains on SIGTERM: a wss peer gets 1001, nothing cut', { timeout: 30_000, skip: uwsSkip }, async () => {
  const h = await start('uws', 'ws-echo');
  const c = await openWss(port(h));
  const report = await h.stop();
  assert.equal(await c.closed, 1001);
  assert.equal(report.ok, true);
  assert.equal(report.drain.cut, 0);
});

test('uws: tickets off are skipped with the reason (they cannot be turned off), raw TCP over TLS as before', { timeout: 30_000 }, async () => {
  const off = speaks('uws', 'http-hello', serverTls({ tickets: false }));
  assert.match(String(off), /cannot turn TLS session tickets off/);
  await assert.rejects(start('uws', 'ws-echo', { tickets: false }), (err: unknown) => err instanceof ContenderUnavailableError && err.kind === 'skipped' && /tickets/.test(err.reason));
  await assert.rejects(start('uws', 'tcp-echo'), (err: unknown) => err instanceof ContenderUnavailableError && err.kind === 'skipped' && /raw TCP/.test(err.reason));
});

test('uws: a connection silent in its handshake is closed by the fixed HTTP idle timeout, as its AppliedTls note says', { timeout: 30_000, skip: uwsSkip }, async () => {
  await withContender('uws', 'http-hello', {}, async (h) => {
    const stalled = net.connect(port(h), HOST);
    stalled.on('error', () => {});
    try {
      await new Promise((resolve) => stalled.once('connect', resolve));
      const t0 = Date.now();
      await closedWithin(stalled, 20_000);
      const ms = Date.now() - t0;
      // 10 s in 4 s ticks: between two and three ticks after the last one before accept.
      assert.ok(ms >= 7000 && ms <= 13_000, `closed after ${ms} ms`);
    } finally {
      stalled.destroy();
    }
  });
});

for (const contender of ['net', 'uws']) {
  test(`${contender} × https-hello with an RSA-2048 certificate`, { timeout: 30_000, skip: contender === 'uws' ? uwsSkip : false }, async () => {
    const rsa = testCert('rsa');
    await withContender(contender, 'http-hello', { certFile: rsa.certFile, keyFile: rsa.keyFile, keyType: 'rsa' }, async (h) => {
      const socket = await connectTls(port(h), {}, undefined, new X509Certificate(rsa.certPem).fingerprint256);
      try {
        const inbox = collect(socket);
        socket.write(GET);
        await eventually(() => inbox.bytes().toString().endsWith(HELLO), 5000, 'the hello over RSA');
      } finally {
        socket.destroy();
      }
    });
  });
}

// ---- skipped, and checked --------------------------------------------------------------------

test('c-ref and c-ref-uring are skipped over TLS with the reason; the engine speaks it on both backends', async () => {
  for (const name of ['c-ref', 'c-ref-uring']) {
    assert.equal(speaks(name, 'tcp-echo'), true, `${name} speaks plain tcp-echo`);
    assert.equal(speaks(name, 'tcp-echo', serverTls()), 'no TLS: the C reference serves plain TCP only');
    await assert.rejects(start(name, 'tcp-echo'), (err: unknown) => err instanceof ContenderUnavailableError && err.kind === 'skipped' && err.reason === 'no TLS: the C reference serves plain TCP only');
  }
  for (const name of ['epoll', 'epoll-native', 'uring', 'uring-native']) assert.equal(speaks(name, 'http-hello', serverTls()), true, name);
  assert.equal(speaks('net', 'tcp-echo', serverTls({ tickets: false })), true);
});

test('tls options are checked with errors that name what is wrong', () => {
  const base = { contender: 'net', protocol: 'tcp-echo', host: HOST, port: 0, worker: 0, workers: 1, portMode: 'per-worker', shutdownMs: 1000 };
  const child = (tls: unknown) => parseChildConfig(JSON.stringify({ ...base, tls }));
  assert.deepEqual(child(serverTls()).tls, serverTls());
  assert.equal(child(undefined).tls, undefined);
  assert.throws(() => child(serverTls({ keyFile: '/nonexistent/key.pem' })), /tls\.keyFile \/nonexistent\/key\.pem cannot be read: .*ENOENT/);
  assert.throws(() => child(serverTls({ certFile: '' })), /tls\.certFile must be a file path/);
  assert.throws(() => child({ ...serverTls(), keyType: 'dsa' }), /tls\.keyType must be "ec" or "rsa", got "dsa"/);
  assert.throws(() => child(serverTls({ keyType: 'rsa' })), /holds an ec key, but tls\.keyType says "rsa"/);
  assert.throws(() => child(serverTls({ keyFile: cert.certFile })), /holds no private key/);
  assert.throws(() => child(serverTls({ handshakeTimeoutMs: 0 })), /tls\.handshakeTimeoutMs must be between 1 and/);
  assert.throws(() => child(serverTls({ handshakeTimeoutMs: 1.5 })), /tls\.handshakeTimeoutMs must be an integer/);
  assert.throws(() => child({ ...serverTls(), tickets: 'yes' }), /tls\.tickets must be a boolean/);
  assert.throws(() => child({ ...serverTls(), alpn: 'h2' }), /unknown tls option "alpn"/);
  assert.throws(() => checkServerTls('on'), /tls must be an object/);
  const dir = mkdtempSync(join(tmpdir(), 'c1m-ticket-'));
  try {
    const short = join(dir, 'short.key');
    writeFileSync(short, randomBytes(48));
    assert.throws(() => child(serverTls({ ticketKeyFile: short })), /tls\.ticketKeyFile .*short\.key holds 48 bytes, not a ticket key of 80/);
    assert.throws(() => child(serverTls({ ticketKeyFile: join(dir, 'none.key') })), /tls\.ticketKeyFile .* cannot be read/);
    const good = join(dir, 'ticket.key');
    writeFileSync(good, randomBytes(TICKET_KEY_BYTES));
    assert.equal(child(serverTls({ ticketKeyFile: good })).tls?.ticketKeyFile, good);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const rsa = testCert('rsa');
  assert.equal(checkServerTls({ ...serverTls(), certFile: rsa.certFile, keyFile: rsa.keyFile, keyType: 'rsa' }).keyType, 'rsa');
});

/** A session from a tcp-echo over TLS at port a (its ticket read: an echo round trip), offered at port b: reused? */
async function resumedAcross(a: number, b: number): Promise<boolean> {
  const echo = async (port: number, session?: Buffer): Promise<{ reused: boolean; session: Buffer | undefined }> => {
    let got: Buffer | undefined;
    const s = tls.connect({ host: HOST, port, ca: cert.certPem, servername: 'localhost', minVersion: 'TLSv1.3', ...(session ? { session } : {}) });
    s.on('session', (x: Buffer) => (got = x));
    try {
      await new Promise<void>((ok, fail) => s.once('secureConnect', ok).once('error', fail));
      s.write('hi');
      await new Promise<void>((ok, fail) => s.once('data', () => ok()).once('error', fail));
      return { reused: s.isSessionReused(), session: got };
    } finally {
      s.destroy();
    }
  };
  const first = await echo(a);
  assert.ok(first.session, 'the first connection got a ticket');
  return (await echo(b, first.session)).reused;
}

for (const contender of ['net', 'epoll-native'] as const) {
  test(`${contender} with two workers: given the run's ticket key, a ticket from one worker resumes on the other; without it, not`, { timeout: 30_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'c1m-ticket-'));
    const ticketKeyFile = join(dir, 'ticket.key');
    writeFileSync(ticketKeyFile, randomBytes(TICKET_KEY_BYTES), { mode: 0o600 });
    try {
      for (const [keyed, expected] of [[true, true], [false, false]] as const) {
        const h = await startContender({ contender, protocol: 'tcp-echo', host: HOST, workers: 2, shutdownMs: SHUTDOWN_MS, stderr: 'pipe', tls: serverTls(keyed ? { ticketKeyFile } : {}) });
        startedPids.push(...h.pids);
        try {
          assert.equal(h.ports.length, 2, 'a port per worker');
          assert.equal(h.tls?.sharedTicketKey, keyed, 'the applied TLS says whether the key was shared');
          assert.equal(await resumedAcross(h.ports[0]!, h.ports[1]!), expected, keyed ? 'the shared key resumes across workers' : 'each worker\'s own key does not');
        } finally {
          await h.stop();
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('workers must agree on the TLS they apply, and say it exactly when asked', () => {
  const applied: AppliedTls = { library: NODE_TLS, tickets: true, handshakeTimeoutMs: 10_000 };
  const o = { contender: 'net', tls: serverTls() };
  assert.deepEqual(agreedTls(o, [{ worker: 0, tls: applied }, { worker: 1, tls: { ...applied } }]), applied);
  assert.throws(() => agreedTls(o, [{ worker: 0, tls: applied }, { worker: 1, tls: { ...applied, tickets: false } }]), /workers disagree on the TLS they apply/);
  assert.throws(() => agreedTls(o, [{ worker: 0, tls: applied }, { worker: 1 }]), /worker 1 was asked for TLS but its ready message says nothing of it/);
  assert.throws(() => agreedTls({ contender: 'net' }, [{ worker: 0, tls: applied }]), /reports TLS .* it was not asked for/);
  assert.equal(agreedTls({ contender: 'net' }, [{ worker: 0 }]), null);
});

test('net over TLS with two workers: each serves TLS, the handle keeps the one AppliedTls they agree on', { timeout: 30_000 }, async () => {
  const h = await startContender({ contender: 'net', protocol: 'http-hello', host: HOST, workers: 2, shutdownMs: SHUTDOWN_MS, stderr: 'pipe', tls: serverTls() });
  startedPids.push(...h.pids);
  try {
    assertNodeTls(h.tls, true, 10_000);
    for (const w of h.workers) assert.deepEqual(w.tls, h.tls);
    for (const p of h.ports) assert.deepEqual(await httpsGet(p), { status: 200, body: HELLO });
  } finally {
    await h.stop();
  }
});

test('nothing is left behind: every server process gone', { timeout: 10_000 }, async () => {
  assert.deepEqual(await waitGone(startedPids), []);
});

// The same driver must get the same work from every contender: each follows the client's order of
// TLS 1.3 cipher suites (a node:tls server picks its own first unless told not to), so the
// connector's browser order (AES-128-GCM first) is negotiated everywhere.
test('every TLS contender negotiates the suite the client asks first', async () => {
  const names = ['net', 'epoll', 'epoll-native', ...(uwsAvailable === true ? ['uws'] : []), ...(uringAvailable === true ? ['uring', 'uring-native'] : [])];
  for (const contender of names) {
    await withContender(contender, 'http-hello', {}, async (h) => {
      for (const first of ['TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384']) {
        const other = first === 'TLS_AES_128_GCM_SHA256' ? 'TLS_AES_256_GCM_SHA384' : 'TLS_AES_128_GCM_SHA256';
        const s = tls.connect({ host: HOST, port: h.ports[0]!, servername: 'localhost', ca: cert.certPem, ciphers: `${first}:${other}` });
        try {
          await new Promise<void>((resolve, reject) => {
            s.once('secureConnect', resolve);
            s.once('error', reject);
          });
          assert.equal(s.getCipher().standardName, first, `${contender} with ${first} asked first`);
        } finally {
          s.destroy();
        }
      }
    });
  }
});
