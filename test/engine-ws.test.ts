// WebSocket in the engine (RFC 6455): the upgrade and its refusals, echo of every length class
// through the `ws` package and Node's built-in WebSocket, fragments, ping/pong, close codes,
// protocol violations on a raw socket, native topics with 2,000 subscribers, and the native
// echo and broadcast modes.
import { afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import WebSocket, { type RawData } from 'ws';
import { Engine, type CloseReasonName, type EpollServer, type ServerOptions } from '../src/index.js';
import { backendTest, createServer as createEngineServer } from './helpers/backends.js';
import { fdCount, sha256, sleep, until } from './helpers/net.js';
import { HttpConn, header, request, withTimeout } from './helpers/http.js';
import { acceptFor, closePayload, encodeFrame, Opcode, RawWs, rawHandshake, text, upgradeRequest } from './helpers/ws.js';
import { closeTracked, delta, finish, tracked } from './helpers/cleanup.js';

const createServer = (...args: Parameters<typeof createEngineServer>): EpollServer => tracked(createEngineServer(...args));
afterEach(closeTracked);

// Node's built-in WebSocket runs in a child process (it needs --experimental-websocket on Node 20).
// Probed before any test is registered: a probe still running would skew a test's fd baseline.
const builtinScript = fileURLToPath(new URL('./helpers/builtin-ws-client.js', import.meta.url));
const builtinWs = await new Promise<string | false>((resolve) => {
  execFile(process.execPath, ['--experimental-websocket', '-e', 'process.exit(typeof WebSocket === "function" ? 0 : 3)'], { timeout: 10000 }, (err) => {
    resolve(err ? `this node (${process.version}) has no built-in WebSocket, even with --experimental-websocket` : false);
  });
});

const MiB = 1 << 20;
const SIZES = [0, 125, 126, 65535, 65536, MiB];
const MAX_FRAME = MiB + 1024;


function bytes(n: number, seed = 7): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

function toBuffer(d: RawData): Buffer {
  return Buffer.isBuffer(d) ? d : Array.isArray(d) ? Buffer.concat(d) : Buffer.from(d);
}

interface Received {
  data: Buffer;
  binary: boolean;
}

/** A `ws` client that records every message and how the connection closed. */
class Client {
  readonly messages: Received[] = [];
  readonly pongs: Buffer[] = [];
  close: { code: number; reason: string } | null = null;
  private constructor(readonly ws: WebSocket) {
    ws.on('message', (d, isBinary) => this.messages.push({ data: toBuffer(d), binary: isBinary }));
    ws.on('pong', (d) => this.pongs.push(d));
    ws.on('close', (code, reason) => {
      this.close = { code, reason: reason.toString() };
    });
    ws.on('error', () => {
      // Protocol errors end in 'close' with the code; that is what the tests check.
    });
  }

  static open(port: number, path = '/'): Promise<Client> {
    return withTimeout(new Promise((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`, { perMessageDeflate: false, maxPayload: 64 * MiB });
      const c = new Client(ws);
      ws.once('open', () => resolve(c));
      ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade answered ${res.statusCode}`)));
      ws.once('error', reject);
    }), 10000, `opening ws://127.0.0.1:${port}${path}`);
  }

  send(data: string | Buffer, opts: { binary?: boolean; fin?: boolean } = {}): void {
    this.ws.send(data, { binary: opts.binary ?? typeof data !== 'string', fin: opts.fin ?? true, compress: false });
  }

  async next(count: number, ms = 10000): Promise<Received[]> {
    await until(() => this.messages.length >= count || this.close !== null, `${count} messages`, ms);
    assert.ok(this.messages.length >= count, `closed (${JSON.stringify(this.close)}) after ${this.messages.length} of ${count} messages`);
    return this.messages;
  }

  async closed(ms = 5000): Promise<{ code: number; reason: string }> {
    await until(() => this.close !== null, 'the close handshake', ms);
    return this.close!;
  }
}

interface WsServer {
  server: EpollServer;
  port: number;
  opened: { id: number; url: string; key: string | undefined }[];
  received: { id: number; data: Buffer; binary: boolean }[];
  closes: Map<number, CloseReasonName>;
}

/** websocket 'js' echo server; `/close-me` is closed by the server with 4001 "x" on open. */
function jsServer(opts: ServerOptions = {}): WsServer {
  const opened: WsServer['opened'] = [];
  const received: WsServer['received'] = [];
  const closes = new Map<number, CloseReasonName>();
  const server: EpollServer = createServer({ protocol: 'http', websocket: 'js', backlog: 4096, maxFrameBytes: MAX_FRAME, ...opts }, {
    onRequest(id, req) {
      server.respond(id, 200, `plain ${req.url}`);
    },
    onWsOpen(id, req) {
      opened.push({ id, url: req.url, key: req.header('sec-websocket-key') });
      if (req.path === '/close-me') server.wsClose(id, 4001, 'x');
    },
    onWsMessage(id, data, isBinary) {
      received.push({ id, data: Buffer.from(data), binary: isBinary });
      server.wsSend(id, data, isBinary);
    },
    onClose(id, reason) {
      closes.set(id, reason);
    },
  });
  const { port } = server.listen();
  return { server, port, opened, received, closes };
}

function nativeServer(websocket: 'echo' | 'broadcast', opts: ServerOptions = {}): { server: EpollServer; port: number } {
  const server = createServer({ protocol: 'http-static', websocket, backlog: 4096, maxFrameBytes: MAX_FRAME, ...opts });
  const { port } = server.listen();
  return { server, port };
}


/** Echo of every size as text and binary, and the same sizes sent by the server unprompted. */
async function echoAllSizes(port: number, pushFromServer?: (payload: Buffer, binary: boolean) => void): Promise<void> {
  const c = await Client.open(port);
  let n = 0;
  for (const size of SIZES) {
    const t = text(size);
    c.send(t);
    const b = bytes(size);
    c.send(b);
    n += 2;
    const got = await c.next(n);
    const [gt, gb] = [got[n - 2]!, got[n - 1]!];
    assert.equal(gt.binary, false, `text ${size}: opcode`);
    assert.equal(gt.data.length, size, `text ${size}: length`);
    assert.equal(gt.data.toString(), t, `text ${size}: content`);
    assert.equal(gb.binary, true, `binary ${size}: opcode`);
    assert.equal(sha256(gb.data), sha256(b), `binary ${size}: content`);
  }
  if (pushFromServer) {
    for (const size of SIZES) {
      pushFromServer(Buffer.from(text(size)), false);
      pushFromServer(bytes(size, 3), true);
    }
    const got = await c.next(n + 2 * SIZES.length);
    SIZES.forEach((size, i) => {
      const [gt, gb] = [got[n + 2 * i]!, got[n + 2 * i + 1]!];
      assert.deepEqual([gt.binary, gt.data.toString()], [false, text(size)], `server text ${size}`);
      assert.deepEqual([gb.binary, sha256(gb.data)], [true, sha256(bytes(size, 3))], `server binary ${size}`);
    });
  }
  c.ws.close(1000);
  assert.equal((await c.closed()).code, 1000);
}

backendTest('upgrade: 101 with the RFC 6455 accept key; frames sent with the upgrade request are served', { timeout: 20000 }, async () => {
  Engine.get();
  const fds = fdCount();
  const { server, port, opened } = jsServer();
  const before = server.counters();
  // The example of RFC 6455 section 1.3.
  const key = 'dGhlIHNhbXBsZSBub25jZQ==';
  const hello = encodeFrame(Opcode.Text, Buffer.from('early'));
  const { socket, response, rest, closed } = await rawHandshake(port, Buffer.concat([upgradeRequest('/chat?x=1', key, { 'X-Extra': 'e' }), hello]));
  assert.equal(response.statusLine, 'HTTP/1.1 101 Switching Protocols');
  assert.equal(header(response, 'sec-websocket-accept'), 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
  assert.equal(acceptFor(key), 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
  assert.equal(header(response, 'upgrade')?.toLowerCase(), 'websocket');
  assert.equal(header(response, 'connection')?.toLowerCase(), 'upgrade');
  // The echo of the frame that came in the same write as the upgrade request.
  let buf = rest;
  const want = Buffer.from([0x81, 5, ...Buffer.from('early')]);
  if (buf.length < want.length) {
    buf = Buffer.concat([buf, await new Promise<Buffer>((r) => socket.once('data', r))]);
  }
  assert.ok(buf.equals(want), `echo ${buf.toString('hex')}`);
  assert.deepEqual(opened.map((o) => [o.url, o.key]), [['/chat?x=1', key]]);
  assert.equal(delta(server, before, 'wsUpgrades'), 1);
  socket.end(encodeFrame(Opcode.Close, closePayload(1000)));
  await withTimeout(closed, 5000, 'close');
  // A ws client with its defaults offers permessage-deflate; the server declines by silence.
  const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
  const echoed = await withTimeout(new Promise<string>((resolve, reject) => {
    ws.once('open', () => ws.send('plain'));
    ws.once('message', (d) => resolve(toBuffer(d).toString()));
    ws.once('error', reject);
  }), 5000, 'default ws client echo');
  assert.equal(echoed, 'plain');
  assert.equal(ws.extensions, '');
  ws.close();
  await new Promise((r) => ws.once('close', r));
  await finish(server, fds);
});

for (const mode of ['js', 'echo'] as const) {
  backendTest(`upgrade (${mode}): bad or missing key or version is refused with a clear status and reason, counted`, { timeout: 20000 }, async () => {
    Engine.get();
    const fds = fdCount();
    const { server, port } = mode === 'js' ? jsServer() : nativeServer('echo');
    const keeper = await Client.open(port);
    const cases: { name: string; req: Buffer; status: number; reason: RegExp }[] = [
      { name: 'missing key', req: upgradeRequest('/', undefined, { 'Sec-WebSocket-Key': null }), status: 400, reason: /missing Sec-WebSocket-Key/ },
      { name: 'key not 16 bytes', req: upgradeRequest('/', 'c2hvcnQ='), status: 400, reason: /Sec-WebSocket-Key/ },
      { name: 'key not base64', req: upgradeRequest('/', '!!!!!!!!!!!!!!!!!!!!!!=='), status: 400, reason: /Sec-WebSocket-Key/ },
      { name: 'two keys', req: Buffer.from(upgradeRequest('/').toString().replace('\r\n\r\n', '\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n')), status: 400, reason: /duplicate/ },
      { name: 'missing version', req: upgradeRequest('/', undefined, { 'Sec-WebSocket-Version': null }), status: 400, reason: /missing Sec-WebSocket-Version/ },
      { name: 'version 8', req: upgradeRequest('/', undefined, { 'Sec-WebSocket-Version': '8' }), status: 426, reason: /Sec-WebSocket-Version/ },
      { name: 'POST', req: upgradeRequest('/', undefined, {}, 'POST'), status: 400, reason: /GET/ },
      { name: 'HTTP/1.0', req: upgradeRequest('/', undefined, {}, 'GET', '1.0'), status: 400, reason: /HTTP\/1\.1/ },
    ];
    for (const bc of cases) {
      const before = server.counters();
      const { response, closed } = await rawHandshake(port, bc.req);
      assert.equal(response.status, bc.status, `${bc.name}: status`);
      assert.match(response.body.toString(), bc.reason, `${bc.name}: reason`);
      assert.equal(header(response, 'connection'), 'close', `${bc.name}: Connection: close`);
      if (bc.status === 426) assert.equal(header(response, 'sec-websocket-version'), '13');
      await withTimeout(closed, 5000, `${bc.name}: close`);
      await until(() => delta(server, before, 'closedProtocol') === 1, `${bc.name}: closedProtocol`, 2000);
      assert.equal(delta(server, before, 'httpErrors'), 1, `${bc.name}: httpErrors`);
      assert.equal(delta(server, before, 'wsUpgrades'), 0, `${bc.name}: no upgrade`);
      keeper.send(bc.name);
      assert.equal((await keeper.next(keeper.messages.length + 1)).at(-1)!.data.toString(), bc.name, 'the other connection is undisturbed');
    }
    // Plain HTTP keeps working on a WebSocket listener.
    const h = await HttpConn.open(port);
    h.send(request('GET', '/'));
    const [r] = await h.responsesUntil(1);
    assert.equal(r!.status, 200);
    h.destroy();
    keeper.ws.close();
    await keeper.closed();
    await finish(server, fds);
  });
}

backendTest('js: echo of text and binary messages of 0 B to 1 MiB through the ws client, both ways', { timeout: 30000 }, async () => {
  Engine.get();
  const fds = fdCount();
  const { server, port, opened, received, closes } = jsServer();
  await echoAllSizes(port, (payload, binary) => {
    // Outside any callback: the direct (unqueued) path of wsSend.
    assert.equal(server.wsSend(opened[0]!.id, payload, binary), true);
  });
  assert.deepEqual(received.map((r) => [r.data.length, r.binary]), SIZES.flatMap((s) => [[s, false], [s, true]]));
  await until(() => closes.size === 1, 'close record');
  assert.equal(closes.get(opened[0]!.id), 'graceful');
  await finish(server, fds);
});

backendTest('echo (native): echo of text and binary messages of 0 B to 1 MiB; plain GET still served', { timeout: 30000 }, async () => {
  Engine.get();
  const fds = fdCount();
  const { server, port } = nativeServer('echo');
  const before = server.counters();
  await echoAllSizes(port);
  assert.equal(delta(server, before, 'wsMessagesIn'), 2 * SIZES.length);
  assert.equal(delta(server, before, 'wsMessagesOut'), 2 * SIZES.length);
  await finish(server, fds);
});

for (const mode of ['js', 'echo'] as const) {
  backendTest(`${mode}: Node's built-in WebSocket echoes every size and closes with 4000${mode === 'js' ? '; sees the server close with 4001' : ''}`, { timeout: 60000, skip: builtinWs }, async () => {
    Engine.get();
    const fds = fdCount();
    const { server, port, opened } = mode === 'js' ? jsServer() : { ...nativeServer('echo'), opened: [] };
    // Only the JS mode has a handler to close /close-me from the server side.
    const out = await new Promise<string>((resolve, reject) => {
      execFile(process.execPath, ['--experimental-websocket', '--no-warnings', builtinScript, String(port), SIZES.join(','), mode === 'js' ? 'close-me' : ''],
        { timeout: 45000, maxBuffer: 1 << 20 }, (err, stdout, stderr) => (err && !stdout ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout)));
    });
    const r = JSON.parse(out.trim().split('\n').at(-1)!) as {
      ok: boolean; error?: string; echoes: { size: number; kind: string; ok: boolean }[];
      clientClose: { code: number; reason: string; wasClean: boolean }; serverClose: { code: number; reason: string; wasClean: boolean };
    };
    assert.equal(r.ok, true, r.error);
    assert.deepEqual(r.echoes, SIZES.flatMap((size) => [{ size, kind: 'text', ok: true }, { size, kind: 'binary', ok: true }]));
    assert.deepEqual(r.clientClose, { code: 4000, reason: '', wasClean: true });
    if (mode === 'js') {
      assert.deepEqual(r.serverClose, { code: 4001, reason: 'x', wasClean: true });
      assert.equal(opened.length, 2);
    }
    await finish(server, fds);
  });
}

for (const mode of ['js', 'echo'] as const) {
  backendTest(`${mode}: fragmented messages are reassembled (control frames between fragments allowed); ping gets its pong`, { timeout: 20000 }, async () => {
    Engine.get();
    const fds = fdCount();
    const { server, port } = mode === 'js' ? jsServer() : nativeServer('echo');
    const c = await Client.open(port);
    // A text message whose "€" (E2 82 AC) is split across fragments, with a ping in between.
    const euro = Buffer.from('abc€def');
    c.send(euro.subarray(0, 4), { binary: false, fin: false });
    c.ws.ping(Buffer.from('mid'));
    c.send(euro.subarray(4, 5), { fin: false });
    c.send(euro.subarray(5), { fin: true });
    // A binary message of 100 KiB in 7 uneven fragments, and a one-fragment message after it.
    const big = bytes(100 * 1024, 9);
    const cuts = [0, 1, 1000, 1001, 40000, 65536, 90000, big.length];
    for (let i = 0; i + 1 < cuts.length; i++) c.send(big.subarray(cuts[i], cuts[i + 1]), { binary: true, fin: i + 2 === cuts.length });
    c.send('after');
    const got = await c.next(3);
    assert.deepEqual([got[0]!.binary, got[0]!.data.toString()], [false, 'abc€def']);
    assert.deepEqual([got[1]!.binary, sha256(got[1]!.data)], [true, sha256(big)]);
    assert.deepEqual([got[2]!.binary, got[2]!.data.toString()], [false, 'after']);
    c.ws.ping(Buffer.from('hello ping'));
    c.ws.ping();
    await until(() => c.pongs.length === 3, 'three pongs');
    assert.deepEqual(c.pongs.map((p) => p.toString()), ['mid', 'hello ping', '']);
    c.ws.close(1000);
    await c.closed();
    await finish(server, fds);
  });
}

backendTest('js: 8 connections with 5,000 small messages each in one write: batches overflow, order holds', { timeout: 30000 }, async () => {
  Engine.get();
  const fds = fdCount();
  const { server, port } = jsServer();
  const PER = 5000;
  const raws = await Promise.all(Array.from({ length: 8 }, () => RawWs.open(port)));
  raws.forEach((r, k) => r.send(Buffer.concat(Array.from({ length: PER }, (_, i) => encodeFrame(i % 2 ? Opcode.Binary : Opcode.Text, Buffer.from(`${k}:${i}`))))));
  await until(() => raws.every((r) => r.frames.length >= PER), 'every echo', 20000);
  raws.forEach((r, k) => {
    r.frames.forEach((f, i) => {
      if (f.opcode !== (i % 2 ? Opcode.Binary : Opcode.Text) || f.payload.toString() !== `${k}:${i}`) assert.fail(`connection ${k}, message ${i}: ${f.opcode} ${f.payload.toString()}`);
    });
    r.socket.destroy();
  });
  assert.ok(server.counters()['largestBatch']! >= 16384, `largest batch ${server.counters()['largestBatch']}`);
  await finish(server, fds);
});

backendTest('js: several fragmented messages completing in one read each reach JS whole, in order, beside plain ones', { timeout: 30000 }, async () => {
  // Reassembled messages are copied into the batch's arena; two of them completing in the same
  // read window must not share (or overwrite) one copy before JS has read both.
  Engine.get();
  const fds = fdCount();
  const { server, port } = jsServer();
  const raw = await RawWs.open(port);
  try {
    const expected: string[] = [];
    const frames: Buffer[] = [];
    for (let i = 0; i < 200; i++) {
      const a = `m${i}-first-half-${'x'.repeat(i % 7)}`;
      const b = `-second-half-${'y'.repeat(i % 5)}`;
      frames.push(encodeFrame(Opcode.Text, Buffer.from(a), { mask: true, fin: false }));
      frames.push(encodeFrame(Opcode.Continuation, Buffer.from(b), { mask: true }));
      expected.push(a + b);
      if (i % 3 === 0) {
        frames.push(encodeFrame(Opcode.Text, Buffer.from(`plain ${i}`), { mask: true }));
        expected.push(`plain ${i}`);
      }
    }
    raw.send(Buffer.concat(frames));
    await until(() => raw.frames.length >= expected.length, 'every echo', 20000);
    assert.deepEqual(raw.frames.map((f) => f.payload.toString()), expected);
  } finally {
    raw.socket.destroy();
  }
  await finish(server, fds);
});

backendTest('js: close codes both ways: 4000 "bye" from the client is answered with 4000; wsClose(4001, "x") reaches the client', { timeout: 20000 }, async () => {
  Engine.get();
  const fds = fdCount();
  const { server, port, opened, closes } = jsServer();
  const a = await Client.open(port);
  a.send('before close');
  await a.next(1);
  // Watch the raw close frame the server answers with, not only the ws library's summary.
  const frames: Buffer[] = [];
  a.ws.on('close', () => undefined);
  const sock = (a.ws as unknown as { _socket: import('node:net').Socket })._socket;
  sock.prependListener('data', (d: Buffer) => frames.push(d));
  a.ws.close(4000, 'bye');
  assert.deepEqual(await a.closed(), { code: 4000, reason: '' });
  const closeFrame = Buffer.concat(frames);
  assert.ok(closeFrame.equals(Buffer.from([0x88, 2, 0x0f, 0xa0])), `server close frame ${closeFrame.toString('hex')}`);
  await until(() => closes.size === 1, 'close record');
  assert.equal(closes.get(opened[0]!.id), 'graceful');

  const b = await Client.open(port, '/close-me');
  assert.deepEqual(await b.closed(), { code: 4001, reason: 'x' });
  await until(() => closes.size === 2, 'close record');
  assert.equal(closes.get(opened[1]!.id), 'graceful');

  // wsClose from outside a callback, then sends after it are refused.
  const c = await Client.open(port, '/later');
  const id = opened[2]!.id;
  assert.equal(server.wsClose(id, 1001, 'going away'), true);
  assert.equal(server.wsSend(id, 'too late'), false);
  assert.deepEqual(await c.closed(), { code: 1001, reason: 'going away' });
  assert.equal(c.messages.length, 0);
  for (const bad of [999, 1004, 1005, 1006, 1015, 2000, 5000, 1000.5]) assert.throws(() => server.wsClose(id, bad), RangeError, `code ${bad}`);
  await finish(server, fds);
});

for (const mode of ['js', 'echo'] as const) {
  backendTest(`${mode}: protocol violations close with 1002/1007/1009 after what came before, counted; others undisturbed`, { timeout: 30000 }, async () => {
    Engine.get();
    const fds = fdCount();
    const { server, port } = mode === 'js' ? jsServer({ maxFrameBytes: 1024 }) : nativeServer('echo', { maxFrameBytes: 1024 });
    const keeper = await Client.open(port);
    const ok = encodeFrame(Opcode.Text, Buffer.from('ok'));
    const cases: { name: string; frames: Buffer; code: number }[] = [
      { name: 'unmasked frame', frames: encodeFrame(Opcode.Text, Buffer.from('hi'), { mask: false }), code: 1002 },
      { name: 'continuation without a start', frames: encodeFrame(Opcode.Continuation, Buffer.from('x')), code: 1002 },
      { name: 'new message inside a fragmented one', frames: Buffer.concat([encodeFrame(Opcode.Text, Buffer.from('a'), { fin: false }), encodeFrame(Opcode.Text, Buffer.from('b'))]), code: 1002 },
      { name: 'reserved bits', frames: encodeFrame(Opcode.Text, Buffer.from('x'), { rsv: 4 }), code: 1002 },
      { name: 'unknown opcode', frames: encodeFrame(3, Buffer.from('x')), code: 1002 },
      { name: 'fragmented ping', frames: encodeFrame(Opcode.Ping, Buffer.alloc(0), { fin: false }), code: 1002 },
      { name: 'ping over 125 bytes', frames: encodeFrame(Opcode.Ping, Buffer.alloc(126)), code: 1002 },
      { name: 'close with a 1-byte payload', frames: encodeFrame(Opcode.Close, Buffer.from([3])), code: 1002 },
      { name: 'close with code 999', frames: encodeFrame(Opcode.Close, closePayload(999)), code: 1002 },
      { name: 'message over maxFrameBytes', frames: encodeFrame(Opcode.Binary, Buffer.alloc(1025)), code: 1009 },
      { name: 'fragments over maxFrameBytes', frames: Buffer.concat([encodeFrame(Opcode.Binary, Buffer.alloc(600), { fin: false }), encodeFrame(Opcode.Continuation, Buffer.alloc(600))]), code: 1009 },
      { name: 'invalid UTF-8 text', frames: encodeFrame(Opcode.Text, Buffer.from([0x61, 0xff, 0x62])), code: 1007 },
      { name: 'surrogate in UTF-8 text', frames: encodeFrame(Opcode.Text, Buffer.from([0xed, 0xa0, 0x80])), code: 1007 },
      { name: 'invalid UTF-8 in a later fragment', frames: Buffer.concat([encodeFrame(Opcode.Text, Buffer.from('fine'), { fin: false }), encodeFrame(Opcode.Continuation, Buffer.from([0xc0, 0x80]))]), code: 1007 },
      { name: 'text ending inside a character', frames: Buffer.concat([encodeFrame(Opcode.Text, Buffer.from([0xe2, 0x82]), { fin: false }), encodeFrame(Opcode.Continuation, Buffer.alloc(0))]), code: 1007 },
      { name: 'close reason not UTF-8', frames: encodeFrame(Opcode.Close, Buffer.concat([closePayload(1000), Buffer.from([0xff])])), code: 1007 },
    ];
    for (const bc of cases) {
      const before = server.counters();
      const raw = await RawWs.open(port);
      // A valid message first, in the same write: it is answered before the error.
      raw.send(Buffer.concat([ok, bc.frames]));
      const [code, reason] = await raw.closeFrame();
      assert.equal(code, bc.code, `${bc.name}: close code (${reason})`);
      assert.ok(reason.length > 0, `${bc.name}: a reason is given`);
      const closeAt = raw.frames.findIndex((f) => f.opcode === Opcode.Close);
      assert.deepEqual(raw.frames.slice(0, closeAt).map((f) => [f.opcode, f.payload.toString()]), [[Opcode.Text, 'ok']], `${bc.name}: the valid message was answered first`);
      assert.equal(raw.frames[closeAt]!.masked, false, 'server frames are not masked');
      await raw.waitClosed();
      await until(() => delta(server, before, 'closedProtocol') === 1, `${bc.name}: closedProtocol`, 2000);
      assert.equal(delta(server, before, 'wsProtocolErrors'), 1, `${bc.name}: wsProtocolErrors`);
      keeper.send(bc.name);
      assert.equal((await keeper.next(keeper.messages.length + 1)).at(-1)!.data.toString(), bc.name, 'the other connection is undisturbed');
    }
    // The ws client sees the code too.
    const c = await Client.open(port);
    c.send(Buffer.alloc(2000));
    assert.equal((await c.closed()).code, 1009);
    keeper.ws.close();
    await keeper.closed();
    await finish(server, fds);
  });
}

backendTest('js: a topic with 2,000 subscribers gets every published message exactly once and in order', { timeout: 60000 }, async () => {
  const CLIENTS = 2000;
  const N = 40;
  Engine.get();
  const fds = fdCount();
  const server: EpollServer = createServer({ protocol: 'http', websocket: 'js', backlog: 4096 }, {
    onWsOpen(id, req) {
      assert.equal(server.subscribe(id, req.path === '/other' ? 'other' : 'news'), true);
    },
  });
  const { port } = server.listen();
  const clients: Client[] = [];
  for (let i = 0; i < CLIENTS; i += 200) clients.push(...await Promise.all(Array.from({ length: Math.min(200, CLIENTS - i) }, () => Client.open(port))));
  const other = await Client.open(port, '/other');
  await until(() => server.topicSize('news') === CLIENTS, `${CLIENTS} subscribers (${server.topicSize('news')})`);
  const before = server.counters();
  const payloads = Array.from({ length: N }, (_, i) => `seq:${i}:${'p'.repeat((i * 997) % 8000)}`);
  for (let i = 0; i < N; i++) {
    assert.equal(server.publish('news', i % 2 === 0 ? payloads[i]! : Buffer.from(payloads[i]!)), CLIENTS);
    if (i % 10 === 9) await sleep(5);
  }
  await until(() => clients.every((c) => c.messages.length >= N), 'every message everywhere', 30000);
  await sleep(50);
  for (const [k, c] of clients.entries()) {
    assert.equal(c.messages.length, N, `client ${k}: exactly ${N} messages`);
    c.messages.forEach((m, i) => {
      assert.equal(m.data.toString(), payloads[i], `client ${k}: message ${i} in order`);
      assert.equal(m.binary, i % 2 === 1, `client ${k}: message ${i} opcode`);
    });
  }
  assert.equal(other.messages.length, 0, 'another topic hears nothing');
  assert.equal(delta(server, before, 'published'), N);
  assert.equal(delta(server, before, 'deliveries'), N * CLIENTS);
  // Unsubscribed and closed members are no longer counted or sent to.
  const half = clients.slice(0, CLIENTS / 2);
  for (const c of half) c.ws.terminate();
  await until(() => server.topicSize('news') === CLIENTS / 2, 'closed members to drop out');
  assert.equal(server.publish('news', 'last'), CLIENTS / 2);
  await until(() => clients.slice(CLIENTS / 2).every((c) => c.messages.length === N + 1), 'the last message');
  for (const c of clients.slice(CLIENTS / 2)) c.ws.terminate();
  other.ws.terminate();
  await until(() => server.topicSize('news') === 0, 'no members');
  assert.equal(server.publish('news', 'nobody'), 0);
  await finish(server, fds);
});

backendTest('broadcast (native): a message reaches every member of its ?room= exactly once and no other room (names percent-decoded); JS can publish too', { timeout: 30000 }, async () => {
  Engine.get();
  const fds = fdCount();
  const { server, port } = nativeServer('broadcast');
  const a = await Promise.all([1, 2, 3].map(() => Client.open(port, '/?room=a')));
  // The room name is decoded as URLSearchParams decodes it: "b%20%2B+2" is room "b + 2".
  const b = await Promise.all([1, 2].map(() => Client.open(port, '/chat?x=1&room=b%20%2B+2')));
  await until(() => server.topicSize('a') === 3 && server.topicSize('b + 2') === 2, 'rooms filled');
  const before = server.counters();
  a[0]!.send('hello a');
  b[1]!.send(Buffer.from([1, 2, 3]));
  // A fragmented message is broadcast once, whole.
  a[2]!.send('frag', { binary: false, fin: false });
  a[2]!.send('mented', { fin: true });
  assert.equal(server.publish('a', 'from js'), 3);
  await Promise.all(a.map((c) => c.next(3)));
  await Promise.all(b.map((c) => c.next(1)));
  await sleep(50);
  for (const c of a) {
    assert.equal(c.messages.length, 3);
    assert.deepEqual(c.messages.map((m) => m.data.toString()).sort(), ['fragmented', 'from js', 'hello a']);
    assert.ok(c.messages.every((m) => !m.binary));
  }
  for (const c of b) assert.deepEqual(c.messages.map((m) => [m.binary, [...m.data]]), [[true, [1, 2, 3]]]);
  assert.equal(delta(server, before, 'deliveries'), 3 + 2 + 3 + 3);
  for (const c of [...a, ...b]) c.ws.close(1000);
  await Promise.all([...a, ...b].map((c) => c.closed()));
  assert.equal(server.topicSize('a'), 0);
  await finish(server, fds);
});

backendTest('an upgrade pipelined behind requests: native answers them and upgrades; JS answers them, then refuses it', { timeout: 20000 }, async () => {
  Engine.get();
  const fds = fdCount();
  for (const mode of ['echo', 'js'] as const) {
    const { server, port } = mode === 'js' ? jsServer() : nativeServer('echo');
    const before = server.counters();
    const c = await HttpConn.open(port);
    c.send(Buffer.concat([request('GET', '/'), request('GET', '/two'), upgradeRequest('/')]));
    if (mode === 'echo') {
      await until(() => c.responses.length >= 3, 'two answers and the 101');
      assert.deepEqual(c.responses.slice(0, 3).map((r) => r.status), [200, 404, 101]);
      const head = c.raw.length;
      c.send(encodeFrame(Opcode.Text, Buffer.from('upgraded')));
      await until(() => c.raw.subarray(head).includes('upgraded'), 'the echo after the upgrade');
      assert.ok(c.raw.subarray(head).equals(Buffer.from([0x81, 8, ...Buffer.from('upgraded')])));
      c.destroy();
    } else {
      await c.waitClosed();
      assert.deepEqual(c.responses.map((r) => [r.status, r.body.toString()]), [[200, 'plain /'], [200, 'plain /two'], [400, 'upgrade pipelined behind unanswered requests\n']]);
      assert.equal(delta(server, before, 'wsUpgrades'), 0);
    }
    await finish(server, fds);
  }
});

backendTest('js: publish from a handler keeps order with the handler\'s own sends', { timeout: 20000 }, async () => {
  Engine.get();
  const fds = fdCount();
  const server: EpollServer = createServer({ protocol: 'http', websocket: 'js' }, {
    onWsOpen(id) {
      server.subscribe(id, 't');
    },
    onWsMessage(id, data) {
      const m = Buffer.from(data).toString();
      server.wsSend(id, `${m}-1`);
      server.publish('t', `${m}-2`);
      server.wsSend(id, `${m}-3`);
    },
  });
  const { port } = server.listen();
  const a = await Client.open(port);
  const b = await Client.open(port);
  await until(() => server.topicSize('t') === 2, 'both subscribed');
  a.send('x');
  await a.next(3);
  await b.next(1);
  assert.deepEqual(a.messages.map((m) => m.data.toString()), ['x-1', 'x-2', 'x-3']);
  assert.deepEqual(b.messages.map((m) => m.data.toString()), ['x-2']);
  assert.equal(server.unsubscribe(fdIdOf(server, a), 't'), false, 'unknown ids are refused');
  a.ws.close();
  b.ws.close();
  await Promise.all([a.closed(), b.closed()]);
  await finish(server, fds);
});

/** An id that is certainly not a live connection of this server. */
function fdIdOf(_server: EpollServer, _c: Client): number {
  return 2 ** 40 + 12345;
}

backendTest('a peer that never answers our close frame is closed after wsCloseTimeoutMs, counted; one that answers is not', { timeout: 20000 }, async () => {
  Engine.get();
  const fds = fdCount();
  const { server, port, opened, closes } = jsServer({ wsCloseTimeoutMs: 300 });
  const before = server.counters();
  const mute = await RawWs.open(port, '/close-me');
  const polite = await RawWs.open(port, '/close-me');
  assert.deepEqual(await mute.closeFrame(), [4001, 'x']);
  assert.deepEqual(await polite.closeFrame(), [4001, 'x']);
  polite.send(encodeFrame(Opcode.Close, closePayload(4001), { mask: true }));
  await polite.waitClosed();
  // The mute peer keeps its socket open and says nothing: the server gives up on its own.
  await mute.waitClosed(5000);
  assert.equal(delta(server, before, 'wsCloseTimeouts'), 1);
  const [mid, pid] = opened.slice(-2).map((o) => o.id);
  assert.equal(closes.get(mid!), 'timeout');
  assert.equal(closes.get(pid!), 'graceful');
  await finish(server, fds);
});
