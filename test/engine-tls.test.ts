// TLS in the engine (issue #20, OpenSSL through an in-memory BIO), every case on both backends
// (epoll and io_uring): every protocol served over it to Node's own TLS clients (node:tls,
// node:https, the `ws` package over wss://), backpressure, resumption by tickets (on and off,
// TLS 1.2 and 1.3), and bad input: a plain HTTP request to a TLS port, a truncated ClientHello,
// garbage. Each case checks the bytes, the counters and that no fd is left behind.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import { afterEach, test } from 'node:test';
import WebSocket, { type RawData } from 'ws';
import { Engine, resolveServerOptions, TICKET_KEY_BYTES, type EpollServer, type ServerHandlers, type ServerOptions } from '../src/engine/index.js';
import { backendTest, createServer } from './helpers/backends.js';
import { closeTracked, delta, finish, tracked } from './helpers/cleanup.js';
import { collect, connect, fdCount, frames, randomPayload, sha256, until } from './helpers/net.js';
import { testCert } from './helpers/tls-cert.js';

afterEach(closeTracked);

const cert = testCert();

function tlsServer(o: ServerOptions, h: ServerHandlers = {}, extra: Partial<NonNullable<ServerOptions['tls']>> = {}): EpollServer {
  return tracked(createServer({ ...o, tls: { cert: cert.certPem, key: cert.keyPem, ...extra } }, h));
}

/** The fds of this process before a case, once the engine and libuv's spare fd exist. */
async function fdsBefore(): Promise<number> {
  Engine.get();
  const probe = net.createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  await new Promise<void>((r) => probe.close(() => r()));
  return fdCount();
}

function tlsConnect(port: number, o: tls.ConnectionOptions = {}, init?: (s: tls.TLSSocket) => void): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...o });
    init?.(s);
    s.once('secureConnect', () => {
      s.off('error', reject);
      resolve(s);
    });
    s.once('error', reject);
  });
}

function closedSocket(s: net.Socket): Promise<void> {
  return new Promise((r) => (s.closed ? r() : s.once('close', () => r())));
}

/** Everything the socket receives until it closes (errors such as a reset end it too). */
function readAll(s: net.Socket): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    s.on('data', (d: Buffer) => chunks.push(d));
    s.on('error', () => undefined);
    s.once('close', () => resolve(Buffer.concat(chunks)));
  });
}

backendTest('native echo over TLS: 1 MiB each way, every byte back in order, one full handshake counted', async () => {
  const fds = await fdsBefore();
  const server = tlsServer({ protocol: 'echo' });
  const { port } = server.listen();
  const before = server.counters();
  const s = await tlsConnect(port);
  assert.equal(s.getProtocol(), 'TLSv1.3');
  const payload = randomPayload(1 << 20, 1 << 20);
  const got = collect(s, payload.length);
  s.write(payload);
  const back = await got;
  assert.equal(back.length, payload.length);
  assert.equal(sha256(back), sha256(payload));
  await closedSocket(s);
  assert.equal(delta(server, before, 'tlsHandshakes'), 1);
  assert.equal(delta(server, before, 'tlsResumed'), 0);
  assert.equal(delta(server, before, 'tlsHandshakeFailed'), 0);
  assert.equal(delta(server, before, 'bytesIn'), payload.length);  // plaintext delivered
  assert.ok(delta(server, before, 'bytesOut') > payload.length);   // records on the wire
  await finish(server, fds);
});

backendTest('JS raw echo over TLS: open/data/close records only once the handshake is done, bytes in = bytes out', async () => {
  const fds = await fdsBefore();
  const events: string[] = [];
  let bytes = 0;
  const server: EpollServer = tlsServer({ protocol: 'raw' }, {
    onConnection: () => events.push('open'),
    onData: (id, d) => {
      bytes += d.length;
      server.write(id, d);
    },
    onClose: (_id, reason) => events.push(`close:${reason}`),
  });
  const { port } = server.listen();
  const s = await tlsConnect(port, { maxVersion: 'TLSv1.2' });
  assert.equal(s.getProtocol(), 'TLSv1.2');
  const payload = randomPayload(1 << 20, 1 << 20);
  const got = collect(s, payload.length);
  // Many writes of odd sizes: the server sees arbitrary record and read boundaries.
  for (let off = 0; off < payload.length; off += 7777) s.write(payload.subarray(off, Math.min(payload.length, off + 7777)));
  const back = await got;
  assert.equal(sha256(back), sha256(payload));
  assert.equal(bytes, payload.length);
  await closedSocket(s);
  await until(() => events.length === 2, 'the close record');
  assert.deepEqual(events, ['open', 'close:graceful']);
  await finish(server, fds);
});

backendTest('a 16 KiB read budget over TLS: 4 MiB echoed natively and as frames, whatever was read and not yet decrypted served in later rounds', async () => {
  const fds = await fdsBefore();
  for (const protocol of ['echo', 'frame-echo'] as const) {
    const server = tlsServer({ protocol, readBudgetBytes: 16 * 1024, maxFrameBytes: 1 << 20 });
    const { port } = server.listen();
    const before = server.counters();
    const s = await tlsConnect(port);
    const wire = protocol === 'echo' ? randomPayload(4 << 20, 4 << 20) : frames(Array.from({ length: 8 }, () => randomPayload(1, 1 << 20)));
    const got = collect(s, wire.length);
    s.write(wire);
    const back = await got;
    assert.equal(sha256(back), sha256(wire), protocol);
    assert.ok(delta(server, before, 'budgetRequeues') > 10, `${protocol}: ${delta(server, before, 'budgetRequeues')} requeues`);
    await closedSocket(s);
    await finish(server, fds);
  }
});

backendTest('pause and resume over TLS: plaintext held inside the TLS layer while paused is delivered at resume, in order', async () => {
  const fds = await fdsBefore();
  const chunks: Buffer[] = [];
  let pauses = 0;
  const server: EpollServer = tlsServer({ protocol: 'raw' }, {
    onData: (id, d) => {
      chunks.push(Buffer.from(d));
      server.write(id, d);
      // Every fourth delivery pauses the connection for a while: what TLS already decrypted or
      // still holds must come out after resume with no new edge from the socket.
      if (chunks.length % 4 === 1) {
        pauses++;
        server.pause(id);
        setTimeout(() => server.resume(id), 20);
      }
    },
  });
  const { port } = server.listen();
  const s = await tlsConnect(port);
  const payload = randomPayload(2 << 20, 2 << 20);
  const got = collect(s, payload.length);
  s.write(payload);
  const back = await got;
  assert.equal(sha256(Buffer.concat(chunks)), sha256(payload));
  assert.equal(sha256(back), sha256(payload));
  assert.ok(pauses >= 2, `${pauses} pauses`);
  await closedSocket(s);
  await finish(server, fds);
});

backendTest('native frame-echo over TLS: 200 frames of every size class come back whole', async () => {
  const fds = await fdsBefore();
  const server = tlsServer({ protocol: 'frame-echo' });
  const { port } = server.listen();
  const before = server.counters();
  const s = await tlsConnect(port);
  const payloads = Array.from({ length: 200 }, (_, i) => randomPayload(i % 3 === 0 ? 0 : 1, i % 7 === 0 ? 70_000 : 300));
  const wire = frames(payloads);
  const got = collect(s, wire.length);
  s.write(wire);
  const back = await got;
  assert.equal(sha256(back), sha256(wire));
  assert.equal(delta(server, before, 'framesIn'), 200);
  await closedSocket(s);
  await finish(server, fds);
});

function httpsGet(port: number, path: string, agent: https.Agent): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = https.get({ host: '127.0.0.1', port, path, rejectUnauthorized: false, agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on('error', reject);
  });
}

backendTest('JS frames over TLS: onFrame sees whole frames, writeFrame answers come back in order', async () => {
  const fds = await fdsBefore();
  const seen: number[] = [];
  const server: EpollServer = tlsServer({ protocol: 'frame' }, {
    onFrame: (id, payload) => {
      seen.push(payload.length);
      server.writeFrame(id, payload);
    },
  });
  const { port } = server.listen();
  const s = await tlsConnect(port);
  const payloads = Array.from({ length: 100 }, (_, i) => randomPayload(i % 5 === 0 ? 0 : 1, i % 9 === 0 ? 200_000 : 1000));
  const wire = frames(payloads);
  const got = collect(s, wire.length);
  s.write(wire);
  assert.equal(sha256(await got), sha256(wire));
  assert.deepEqual(seen, payloads.map((p) => p.length));
  await closedSocket(s);
  await finish(server, fds);
});

backendTest('https to http-static: node:https requests on one kept-alive TLS connection', async () => {
  const fds = await fdsBefore();
  const server = tlsServer({ protocol: 'http-static', staticBody: 'Hello over TLS' });
  const { port } = server.listen();
  const before = server.counters();
  const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    for (let i = 0; i < 5; i++) {
      const r = await httpsGet(port, '/', agent);
      assert.equal(r.status, 200);
      assert.equal(r.body, 'Hello over TLS');
    }
    const missing = await httpsGet(port, '/nope', agent);
    assert.equal(missing.status, 404);
  } finally {
    agent.destroy();
  }
  assert.equal(delta(server, before, 'httpResponses'), 6);
  assert.equal(delta(server, before, 'tlsHandshakes'), 1);
  await finish(server, fds);
});

backendTest('https to a JS http server: requests reach onRequest, answers come back over TLS', async () => {
  const fds = await fdsBefore();
  const server: EpollServer = tlsServer({ protocol: 'http' }, {
    onRequest: (id, req) => server.respond(id, 200, `you asked for ${req.path}`, { 'Content-Type': 'text/plain' }),
  });
  const { port } = server.listen();
  const agent = new https.Agent({ keepAlive: false });
  try {
    const r = await httpsGet(port, '/tls/path', agent);
    assert.equal(r.status, 200);
    assert.equal(r.body, 'you asked for /tls/path');
  } finally {
    agent.destroy();
  }
  await finish(server, fds);
});

async function wssEcho(port: number, messages: Buffer[]): Promise<Buffer[]> {
  const ws = new WebSocket(`wss://127.0.0.1:${port}/`, { rejectUnauthorized: false });
  const got: Buffer[] = [];
  const done = new Promise<void>((resolve, reject) => {
    ws.on('message', (d: RawData) => {
      got.push(Buffer.from(d as Buffer));
      if (got.length === messages.length) ws.close(1000);
    });
    ws.on('close', () => resolve());
    ws.on('error', reject);
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  for (const m of messages) ws.send(m);
  await done;
  return got;
}

backendTest('WebSocket over TLS (wss://, the ws package): native echo and JS echo, every message back', async () => {
  const fds = await fdsBefore();
  const messages = Array.from({ length: 50 }, (_, i) => randomPayload(1, i % 10 === 0 ? 100_000 : 500));
  const native = tlsServer({ protocol: 'http-static', websocket: 'echo' });
  const js: EpollServer = tlsServer({ protocol: 'http', websocket: 'js' }, {
    onWsMessage: (id, data, binary) => js.wsSend(id, data, binary),
  });
  for (const server of [native, js]) {
    const { port } = server.listen();
    const before = server.counters();
    const got = await wssEcho(port, messages);
    assert.equal(got.length, messages.length);
    for (let i = 0; i < messages.length; i++) assert.equal(sha256(got[i]!), sha256(messages[i]!));
    assert.equal(delta(server, before, 'wsMessagesIn'), messages.length);
    assert.equal(delta(server, before, 'tlsHandshakes'), 1);
    await until(() => server.counters()['active'] === 0, 'the WebSocket to close');
  }
  await finish(native, fds + 1);  // js is still listening
  await finish(js, fds);
});

backendTest('WebSocket broadcast over TLS: a message published natively reaches every member of the room, each sealed for its own connection', async () => {
  const fds = await fdsBefore();
  const server = tlsServer({ protocol: 'http-static', websocket: 'broadcast' });
  const { port } = server.listen();
  const before = server.counters();
  const open = (): Promise<WebSocket> => new Promise((resolve, reject) => {
    const ws = new WebSocket(`wss://127.0.0.1:${port}/?room=r1`, { rejectUnauthorized: false });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
  const members = await Promise.all([open(), open(), open()]);
  await until(() => server.topicSize('r1') === 3, 'three members');
  const got = members.map((ws) => new Promise<string>((resolve) => ws.once('message', (d: RawData) => resolve(String(d)))));
  members[0]!.send('to everyone', { binary: false });
  assert.deepEqual(await Promise.all(got), ['to everyone', 'to everyone', 'to everyone']);
  assert.equal(delta(server, before, 'deliveries'), 3);
  assert.equal(delta(server, before, 'tlsHandshakes'), 3);
  await Promise.all(members.map((ws) => new Promise<void>((resolve) => {
    ws.once('close', () => resolve());
    ws.close(1000);
  })));
  await finish(server, fds);
});

backendTest('backpressure over TLS: a peer that reads nothing is closed past maxQueuedBytes (ciphertext queued), counted', async () => {
  const fds = await fdsBefore();
  let reason = '';
  const server: EpollServer = tlsServer({ protocol: 'raw', maxQueuedBytes: 1 << 20 }, {
    // 16 MiB in one write: the socket takes a few MiB, the rest is queued ciphertext past the bound.
    onConnection: (id) => void server.write(id, new Uint8Array(16 << 20)),
    onClose: (_id, r) => (reason = r),
  });
  const { port } = server.listen();
  const before = server.counters();
  const s = await tlsConnect(port);
  s.pause();
  await until(() => reason !== '', 'the backpressure close');
  assert.equal(reason, 'backpressure');
  assert.equal(delta(server, before, 'closedBackpressure'), 1);
  s.destroy();
  await finish(server, fds);
});

backendTest('a plain HTTP request to a TLS port: answered 400 in plain text saying so, Connection: close, counted', async () => {
  const fds = await fdsBefore();
  const server = tlsServer({ protocol: 'http-static' });
  const { port } = server.listen();
  const before = server.counters();
  const s = await connect(port);
  const text = readAll(s);
  s.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
  const answer = (await text).toString('latin1');
  assert.match(answer, /^HTTP\/1\.1 400 Bad Request\r\n/);
  assert.match(answer, /\r\nConnection: close\r\n/i);
  assert.match(answer, /plain HTTP request was sent to a TLS \(HTTPS\) port/);
  const [head, body] = answer.split('\r\n\r\n') as [string, string];
  assert.equal(Number(/Content-Length: (\d+)/i.exec(head)?.[1]), Buffer.byteLength(body));
  assert.equal(delta(server, before, 'tlsPlainHttp'), 1);
  assert.equal(delta(server, before, 'tlsHandshakes'), 0);
  assert.equal(delta(server, before, 'httpRequests'), 0);
  await finish(server, fds);
});

backendTest('a truncated ClientHello is closed by the handshake timeout, counted; other connections are not disturbed', async () => {
  const fds = await fdsBefore();
  const server = tlsServer({ protocol: 'echo' }, {}, { handshakeTimeoutMs: 300 });
  const { port } = server.listen();
  const before = server.counters();
  const s = await connect(port);
  const t0 = Date.now();
  const seen = readAll(s);
  // A handshake record announcing 512 bytes, of which only the first few arrive.
  s.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]));
  // Meanwhile a good connection is served.
  const good = await tlsConnect(port);
  const got = collect(good, 5);
  good.write('hello');
  assert.equal((await got).toString(), 'hello');
  await seen;
  const waited = Date.now() - t0;
  assert.ok(waited >= 250, `closed after ${waited} ms, before the 300 ms handshake timeout`);
  assert.ok(waited < 3000, `closed after ${waited} ms`);
  assert.equal(delta(server, before, 'tlsHandshakeTimeouts'), 1);
  assert.equal(delta(server, before, 'tlsHandshakes'), 1);
  assert.equal(delta(server, before, 'closedTimeout'), 1);
  await closedSocket(good);
  await finish(server, fds);
});

backendTest('mid-handshake, a reset counts as a failed handshake and an idle limit shorter than the handshake timeout as a handshake timeout', async () => {
  const fds = await fdsBefore();
  const server = tlsServer({ protocol: 'echo', idleTimeoutMs: 200 }, {}, { handshakeTimeoutMs: 5000 });
  const { port } = server.listen();
  const before = server.counters();
  const truncated = Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]);
  // A peer that resets after part of its ClientHello.
  const r = await connect(port);
  r.on('error', () => undefined);
  r.write(truncated);
  await until(() => delta(server, before, 'accepted') === 1, 'the connection accepted');
  r.resetAndDestroy();
  await until(() => delta(server, before, 'tlsHandshakeFailed') === 1, `1 failed handshake (${delta(server, before, 'tlsHandshakeFailed')})`);
  // A peer that goes silent after part of its ClientHello: the 200 ms idle limit closes it.
  const s = await connect(port);
  const seen = readAll(s);
  s.write(truncated);
  await seen;
  await until(() => delta(server, before, 'idleTimeouts') === 1, 'the idle close');
  assert.equal(delta(server, before, 'tlsHandshakeTimeouts'), 1);
  assert.equal(delta(server, before, 'tlsHandshakeFailed'), 1);
  assert.equal(delta(server, before, 'tlsHandshakes'), 0);
  await finish(server, fds);
});

backendTest('garbage instead of a ClientHello: the handshake fails and is counted; OpenSSL\'s alert goes out where it made one', async () => {
  const fds = await fdsBefore();
  const server = tlsServer({ protocol: 'echo' });
  const { port } = server.listen();
  const before = server.counters();
  // A TLS record of an unknown handshake message: OpenSSL answers unexpected_message (fatal).
  const s = await connect(port);
  const seen = readAll(s);
  s.write(Buffer.concat([Buffer.from([0x16, 0x03, 0x01, 0x00, 0x20]), Buffer.alloc(32, 0xee)]));
  const back = await seen;
  assert.equal(back.length, 7, `${back.length} bytes came back: ${back.toString('hex')}`);
  assert.equal(back[0], 0x15, 'an alert record');
  assert.equal(back[5], 2, 'a fatal alert');
  assert.equal(back[6], 10, 'unexpected_message');
  // A record of no TLS version at all: OpenSSL makes no alert (wrong version number); closed.
  const t = await connect(port);
  const seen2 = readAll(t);
  t.write(Buffer.concat([Buffer.from([0x16, 0x7f, 0x7f, 0x00, 0x20]), Buffer.alloc(32, 0xee)]));
  assert.equal((await seen2).length, 0);
  // The server closes each once the peer's FIN ends its lingering close.
  await until(() => delta(server, before, 'closedProtocol') === 2, `2 protocol closes (${delta(server, before, 'closedProtocol')})`);
  assert.equal(delta(server, before, 'tlsHandshakeFailed'), 2);
  assert.equal(delta(server, before, 'tlsHandshakes'), 0);
  await finish(server, fds);
});

/** A first connection's session (TLS 1.3: from its ticket), then a second connection offering it (to port2, if given). */
async function resumeTwice(port: number, version: tls.SecureVersion, port2 = port): Promise<{ first: boolean; second: boolean; hadTicket: boolean }> {
  // The session comes during the handshake in TLS 1.2 and after it in TLS 1.3 (an echo round
  // trip makes sure its tickets were read): the listener is there from the start.
  let session: Buffer | undefined;
  const a = await tlsConnect(port, { maxVersion: version, minVersion: version }, (s) => s.on('session', (sess: Buffer) => (session = sess)));
  const echoed = collect(a, 2);
  a.write('hi');
  await echoed;
  const first = a.isSessionReused();
  await closedSocket(a);
  const hadTicket = session !== undefined;
  const b = await tlsConnect(port2, { maxVersion: version, minVersion: version, session: session ?? a.getSession() });
  const second = b.isSessionReused();
  const echoed2 = collect(b, 2);
  b.write('hi');
  await echoed2;
  await closedSocket(b);
  return { first, second, hadTicket };
}

for (const version of ['TLSv1.3', 'TLSv1.2'] as const) {
  backendTest(`${version}: tickets on, a second connection offering the first's session resumes, counted in tlsResumed`, async () => {
    const fds = await fdsBefore();
    const server = tlsServer({ protocol: 'echo' }, {}, { tickets: true });
    const { port } = server.listen();
    const before = server.counters();
    const r = await resumeTwice(port, version);
    assert.equal(r.hadTicket, true);
    assert.equal(r.first, false);
    assert.equal(r.second, true);
    assert.equal(delta(server, before, 'tlsHandshakes'), 1);
    assert.equal(delta(server, before, 'tlsResumed'), 1);
    await finish(server, fds);
  });

  backendTest(`${version}: tickets off, nothing resumes`, async () => {
    const fds = await fdsBefore();
    const server = tlsServer({ protocol: 'echo' }, {}, { tickets: false });
    const { port } = server.listen();
    const before = server.counters();
    const r = await resumeTwice(port, version);
    assert.equal(r.second, false);
    assert.equal(delta(server, before, 'tlsHandshakes'), 2);
    assert.equal(delta(server, before, 'tlsResumed'), 0);
    await finish(server, fds);
  });
}

backendTest('two listeners given one ticket key resume each other\'s tickets; each with its own key, they do not', async () => {
  const fds = await fdsBefore();
  const key = randomBytes(TICKET_KEY_BYTES);
  const a = tlsServer({ protocol: 'echo' }, {}, { ticketKeys: key });
  const b = tlsServer({ protocol: 'echo' }, {}, { ticketKeys: Buffer.from(key) });
  const c = tlsServer({ protocol: 'echo' });
  try {
    const pa = a.listen().port;
    const pb = b.listen().port;
    const pc = c.listen().port;
    // The counters are the engine's, over every listener of this process.
    const before = a.counters();
    const shared = await resumeTwice(pa, 'TLSv1.3', pb);
    assert.equal(shared.hadTicket, true);
    assert.equal(shared.second, true, 'a ticket from one listener resumes on the other');
    assert.equal(delta(a, before, 'tlsResumed'), 1);
    const own = await resumeTwice(pa, 'TLSv1.3', pc);
    assert.equal(own.hadTicket, true);
    assert.equal(own.second, false, 'a listener with its own key cannot open the other\'s ticket');
    assert.equal(delta(a, before, 'tlsResumed'), 1);
    assert.equal(delta(a, before, 'tlsHandshakes'), 3, 'the first of each pair, and the one offered to its own-key listener');
  } finally {
    await b.close({ timeoutMs: 2000 });
    await c.close({ timeoutMs: 2000 });
  }
  await finish(a, fds);
});

backendTest('graceful close over TLS: close() drains, the peer gets close_notify before the FIN', async () => {
  const fds = await fdsBefore();
  const server = tlsServer({ protocol: 'echo' });
  const { port } = server.listen();
  const s = await tlsConnect(port);
  const got = collect(s, 3, false);
  s.write('abc');
  // 'end' on a TLS socket after close_notify; a FIN without it is an ECONNRESET-like error in Node.
  const ended = new Promise<boolean>((resolve) => {
    s.once('end', () => resolve(true));
    s.once('error', () => resolve(false));
  });
  assert.equal((await got).toString(), 'abc');
  const closing = server.close({ timeoutMs: 2000 });
  assert.equal(await ended, true);
  s.end();
  assert.deepEqual(await closing, { cut: 0 });
  await until(() => fdCount() === fds, 'fds back');
});

backendTest('memory: an idle TLS connection after its handshake costs a bounded few KiB of heap, all given back at close', async (t) => {
  // The clients live in a child process, so this process's malloc counts (mallinfo2) hold the
  // server's side only: the engine's and OpenSSL's (which allocates through the same malloc).
  // Two rounds: the first sizes what is kept for the thread's life (fd-indexed tables, the
  // ciphertext read buffer), the second is measured.
  const N = 300;
  const server = tlsServer({ protocol: 'echo', backlog: 1024 });
  const { port } = server.listen();
  const heap = (): number => Engine.get().native.heapStats().inUseBytes;
  if (heap() === 0) {
    // ASan (npm run test:asan) replaces malloc, and mallinfo2 then reports nothing.
    t.skip('this allocator does not report through mallinfo2 (glibc malloc only)');
    await server.close();
    return;
  }
  const round = async (): Promise<{ perConn: number; left: number }> => {
    const h0 = heap();
    const child = spawn(process.execPath, ['-e', `
      const tls = require('node:tls'); let n = 0; const socks = [];
      function one() {
        const s = tls.connect({ host: '127.0.0.1', port: ${port}, rejectUnauthorized: false }); socks.push(s);
        s.on('error', (e) => { console.error(e); process.exit(1); });
        s.once('secureConnect', () => { s.write('x'); s.once('data', () => (++n === ${N} ? process.stdout.write('ready\\n') : one())); });
      }
      one(); process.stdin.on('data', () => process.exit(0));
    `], { stdio: ['pipe', 'pipe', 'inherit'] });
    let perConn = 0;
    try {
      await new Promise((resolve, reject) => {
        child.stdout.once('data', resolve);
        child.once('exit', reject);
      });
      await until(() => server.counters()['active'] === N, 'every connection');
      perConn = (heap() - h0) / N;
    } finally {
      child.stdin.end('q');
      await new Promise((r) => child.once('close', r));
    }
    await until(() => server.counters()['active'] === 0, 'every connection closed');
    return { perConn, left: (heap() - h0) / N };
  };
  await round();
  const { perConn, left } = await round();
  process.stderr.write(`# heap per idle TLS connection (server side, after the handshake, ECDSA P-256, TLS 1.3): ${Math.round(perConn)} bytes\n`);
  assert.ok(perConn > 2048 && perConn < 32768, `${Math.round(perConn)} bytes per idle TLS connection`);
  assert.ok(left < 256, `${Math.round(left)} bytes per connection still held after every close`);
  await server.close();
});

test('options: tls needs PEM text (either backend); OpenSSL\'s refusals are clear errors', () => {
  assert.throws(() => resolveServerOptions({ tls: { cert: 'nope', key: cert.keyPem } }), /tls\.cert must be PEM text/);
  assert.throws(() => resolveServerOptions({ tls: { cert: cert.certPem, key: 'nope' } }), /tls\.key must be PEM text/);
  assert.equal(resolveServerOptions({ backend: 'uring', tls: { cert: cert.certPem, key: cert.keyPem } }).tls?.cert, cert.certPem);
  assert.throws(() => resolveServerOptions({ tls: { cert: cert.certPem, key: cert.keyPem, tickets: 1 as unknown as boolean } }), /tls\.tickets must be a boolean/);
  assert.throws(() => resolveServerOptions({ tls: { cert: cert.certPem, key: cert.keyPem, handshakeTimeoutMs: -1 } }), /tls\.handshakeTimeoutMs/);
  assert.throws(() => resolveServerOptions({ tls: { cert: cert.certPem, key: cert.keyPem, extra: 1 } as never }), /unknown option "tls\.extra"/);
  assert.equal(resolveServerOptions({ tls: { cert: cert.certPem, key: cert.keyPem } }).tls?.handshakeTimeoutMs, 10000);
  assert.equal(resolveServerOptions({ tls: { cert: cert.certPem, key: cert.keyPem } }).tls?.ticketKeys, null);
  assert.throws(() => resolveServerOptions({ tls: { cert: cert.certPem, key: cert.keyPem, ticketKeys: Buffer.alloc(48) } }), /tls\.ticketKeys must be 80 bytes, got 48/);
  assert.throws(() => resolveServerOptions({ tls: { cert: cert.certPem, key: cert.keyPem, ticketKeys: 'k' as never } }), /tls\.ticketKeys must be a Buffer/);
  // A key that is not the certificate's, and a broken certificate body: OpenSSL's word, named.
  const other = testCert('rsa');
  assert.throws(() => createServer({ tls: { cert: cert.certPem, key: other.keyPem } }).listen(), /tls\.key does not match tls\.cert/);
  const broken = cert.certPem.replace(/\n[A-Za-z0-9+/]{20}/, '\n!!!!!!!!!!!!!!!!!!!!');
  assert.throws(() => createServer({ tls: { cert: broken, key: cert.keyPem } }).listen(), /tls\.cert/);
  // The library is Node's own OpenSSL (the addon links none of its own).
  assert.ok(Engine.get().native.tlsLibrary.startsWith(`OpenSSL ${process.versions.openssl} `), Engine.get().native.tlsLibrary);
});

backendTest('an RSA certificate serves as well (TLS 1.2 and 1.3)', async () => {
  const fds = await fdsBefore();
  const rsa = testCert('rsa');
  const server = tracked(createServer({ protocol: 'echo', tls: { cert: rsa.certPem, key: rsa.keyPem } }));
  const { port } = server.listen();
  for (const v of ['TLSv1.2', 'TLSv1.3'] as const) {
    const s = await tlsConnect(port, { maxVersion: v, minVersion: v });
    const got = collect(s, 4);
    s.write('rsa!');
    assert.equal((await got).toString(), 'rsa!');
    await closedSocket(s);
  }
  await finish(server, fds);
});
