// HTTP/1.1 in the engine, JS-answered (`http`) and native (`http-static`): keep-alive and
// pipelining, requests split at every byte, Connection: close and HTTP/1.0, clear errors for
// bad input within the configured limits, and independent clients (curl, autocannon, wrk).
import { afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { Engine, type EpollServer, type HttpRequest, type ServerOptions } from '../src/index.js';
import { backendTest, createServer as createEngineServer, currentBackend } from './helpers/backends.js';
import { fdCount, sha256, sleep, until } from './helpers/net.js';
import { checkResponseBasics, header, HttpConn, parseResponses, request, withTimeout, type ParsedResponse } from './helpers/http.js';
import { closeTracked, tracked } from './helpers/cleanup.js';

const createServer = (...args: Parameters<typeof createEngineServer>): EpollServer => tracked(createEngineServer(...args));
afterEach(closeTracked);

// Probed before any test is registered: a probe still running would skew a test's fd baseline.
// The external tools run without LD_PRELOAD: `npm run test:asan` preloads the ASan runtime into
// every child so that the addon's Node processes are checked, and curl hangs with it preloaded.
const { LD_PRELOAD: _preload, ...TOOL_ENV } = process.env;

function run(cmd: string, args: string[], timeoutMs = 15000): Promise<{ code: number; stdout: string; stderr: string }> {
  // Asynchronous on purpose: the server under test runs on this thread's event loop.
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 16 << 20, env: TOOL_ENV }, (err, stdout, stderr) => {
      if (err && typeof (err as NodeJS.ErrnoException).code === 'string') return reject(err);
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

async function onPath(cmd: string): Promise<boolean> {
  try {
    await run(cmd, ['--version'], 5000);
    return true;
  } catch {
    return false;
  }
}

const hasCurl = await onPath('curl');
const hasWrk = await onPath('wrk');

type Protocol = 'http' | 'http-static';
const PROTOCOLS: Protocol[] = ['http', 'http-static'];

interface Seen {
  method: string;
  url: string;
  path: string;
  query: string;
  versionMinor: number;
  keepAlive: boolean;
  headers: [string, string][];
  body: string;
}

/** What the JS handler answers: a function of the request, so order and content can be checked. */
function jsBody(method: string, url: string, body: string): string {
  return `${method} ${url} ${body.length}:${body}`;
}

/** The answer each protocol gives to a request (JS: echo of the request; static: / or 404). */
function expected(protocol: Protocol, method: string, url: string, body = ''): { status: number; body: string } {
  if (protocol === 'http') return { status: 200, body: jsBody(method, url, body) };
  const path = url.split('?')[0];
  return method === 'GET' && path === '/' ? { status: 200, body: 'Hello, World!' } : { status: 404, body: 'Not Found' };
}

interface TestServer {
  server: EpollServer;
  port: number;
  /** Requests the JS handler saw, per connection id (`http` only). */
  seen: Map<number, Seen[]>;
}

function startServer(protocol: Protocol, opts: ServerOptions = {}, onRequest?: (server: EpollServer, id: number, req: HttpRequest) => void): TestServer {
  const seen = new Map<number, Seen[]>();
  const server: EpollServer = createServer({ protocol, backlog: 4096, ...opts }, protocol === 'http-static' ? {} : {
    onRequest(id, req) {
      const body = Buffer.from(req.body).toString('latin1');
      let list = seen.get(id);
      if (!list) seen.set(id, (list = []));
      list.push({
        method: req.method, url: req.url, path: req.path, query: req.query, versionMinor: req.versionMinor,
        keepAlive: req.keepAlive, headers: req.headers(), body,
      });
      if (onRequest) onRequest(server, id, req);
      else server.respond(id, 200, jsBody(req.method, req.url, body), { 'Content-Type': 'text/plain' });
    },
  });
  const { port } = server.listen();
  return { server, port, seen };
}

/** Closes the server and checks that every connection and fd of the test is gone. */
async function finish(server: EpollServer, fdsBefore: number): Promise<void> {
  await until(() => server.counters()['active'] === 0, `every connection to close (active ${server.counters()['active']})`, 5000);
  await server.close({ timeoutMs: 2000 });
  await until(() => fdCount() === fdsBefore, `fds back to ${fdsBefore} (now ${fdCount()})`, 5000);
}

function summary(r: ParsedResponse): { status: number; body: string } {
  return { status: r.status, body: r.body.toString('latin1') };
}

function counterDelta(server: EpollServer, before: Record<string, number>, name: string): number {
  return server.counters()[name]! - before[name]!;
}

for (const protocol of PROTOCOLS) {
  backendTest(`${protocol}: 16 pipelined requests in one write get 16 responses in order; 1,000 in one write too`, { timeout: 30000 }, async () => {
    Engine.get();
    const fds = fdCount();
    const { server, port, seen } = startServer(protocol);
    const urls = Array.from({ length: 16 }, (_, i) => (i % 3 === 0 ? '/' : `/r/${i}?q=${i}`));
    const c = await HttpConn.open(port);
    c.send(Buffer.concat(urls.map((u) => request('GET', u))));
    const got = await c.responsesUntil(16);
    assert.equal(got.length, 16);
    got.forEach((r, i) => {
      checkResponseBasics(r);
      assert.deepEqual(summary(r), expected(protocol, 'GET', urls[i]!), `response ${i}`);
      assert.equal(header(r, 'connection'), undefined, 'a keep-alive response does not say Connection: close');
    });

    // 1,000 requests with bodies of varied sizes in one write: more than one batch of records.
    const reqs = Array.from({ length: 1000 }, (_, i) => ({ url: `/b/${i}`, body: 'x'.repeat(i % 50) }));
    c.send(Buffer.concat(reqs.map((r) => request('POST', r.url, { 'X-I': String(reqs.indexOf(r)) }, r.body))));
    const all = await c.responsesUntil(1016, 15000);
    all.slice(16).forEach((r, i) => assert.deepEqual(summary(r), expected(protocol, 'POST', reqs[i]!.url, reqs[i]!.body), `response ${16 + i}`));
    assert.equal(c.unparsed.length, 0);
    if (protocol === 'http') {
      const list = [...seen.values()];
      assert.equal(list.length, 1);
      assert.equal(list[0]!.length, 1016);
      assert.deepEqual(list[0]!.slice(16).map((s) => s.body.length), reqs.map((r) => r.body.length));
    }
    c.destroy();
    await finish(server, fds);
  });

  backendTest(`${protocol}: 8 connections with 4,000 pipelined requests each at once: every answer in order, the pipeline cap holds`, { timeout: 30000 }, async () => {
    Engine.get();
    const fds = fdCount();
    const { server, port } = startServer(protocol);
    const before = server.counters();
    const PER = 4000;
    const conns = await Promise.all(Array.from({ length: 8 }, () => HttpConn.open(port)));
    try {
      conns.forEach((c, k) => c.send(Buffer.concat(Array.from({ length: PER }, (_, i) => request('GET', `/${k}/${i}`)))));
      await Promise.all(conns.map((c) => c.responsesUntil(PER, 20000)));
      conns.forEach((c, k) => {
        assert.equal(c.responses.length, PER);
        c.responses.forEach((r, i) => {
          const want = expected(protocol, 'GET', `/${k}/${i}`);
          if (r.status !== want.status || r.body.toString('latin1') !== want.body) assert.fail(`connection ${k}, response ${i}: ${r.status} ${r.body.toString()}`);
        });
      });
      if (protocol === 'http') {
        // At most 32 requests of one connection wait for JS at a time; the rest stay in the
        // engine's buffer (and the socket) until answers go out.
        assert.ok(server.counters()['largestBatch']! <= 8 * 32, `largest batch ${server.counters()['largestBatch']}`);
        assert.ok(counterDelta(server, before, 'pausedReads') > 0, 'the pipeline cap paused reading');
      }
      assert.equal(counterDelta(server, before, 'httpResponses'), 8 * PER);
    } finally {
      for (const c of conns) c.destroy();
    }
    await finish(server, fds);
  });

  backendTest(`${protocol}: 600 connections with 32 pipelined requests each in one round: batches overflow, order holds`, { timeout: 30000 }, async () => {
    Engine.get();
    const fds = fdCount();
    const { server, port } = startServer(protocol);
    const before = server.counters();
    const N = 600;
    const PER = 32;
    const conns: HttpConn[] = [];
    try {
      for (let k = 0; k < N; k++) conns.push(await HttpConn.open(port));
      // Written in one synchronous loop: the server (on this thread) then finds them all ready
      // in one round, 19,200 requests, more than one batch holds (16,384 records).
      conns.forEach((c, k) => c.send(Buffer.concat(Array.from({ length: PER }, (_, i) => request('GET', `/${k}/${i}`)))));
      await Promise.all(conns.map((c) => c.responsesUntil(PER, 20000)));
      conns.forEach((c, k) => {
        assert.equal(c.responses.length, PER);
        c.responses.forEach((r, i) => {
          const want = expected(protocol, 'GET', `/${k}/${i}`);
          if (r.status !== want.status || r.body.toString('latin1') !== want.body) assert.fail(`connection ${k}, response ${i}: ${r.status} ${r.body.toString()}`);
        });
      });
      if (protocol === 'http') assert.ok(server.counters()['largestBatch']! >= 16384, `largest batch ${server.counters()['largestBatch']}`);
      assert.equal(counterDelta(server, before, 'httpResponses'), N * PER);
    } finally {
      for (const c of conns) c.destroy();
    }
    await finish(server, fds);
  });

  backendTest(`${protocol}: a request stream split at every byte position is parsed and answered the same`, { timeout: 60000 }, async () => {
    Engine.get();
    const fds = fdCount();
    const { server, port, seen } = startServer(protocol);
    const stream = Buffer.concat([
      request('GET', '/a?x=1', { Host: 'h', 'X-One': '1' }),
      request('POST', '/submit', { Host: 'h' }, 'hello world'),
      request('GET', '/', { Host: 'h', Connection: 'close' }),
    ]);
    const want = [expected(protocol, 'GET', '/a?x=1'), expected(protocol, 'POST', '/submit', 'hello world'), expected(protocol, 'GET', '/')];
    const splits = Array.from({ length: stream.length + 1 }, (_, k) => k);
    for (let i = 0; i < splits.length; i += 100) {
      await Promise.all(splits.slice(i, i + 100).map(async (k) => {
        const c = await HttpConn.open(port);
        c.send(stream.subarray(0, k));
        // 15 ms apart, so the server reads the two halves separately.
        await sleep(15);
        if (k < stream.length) c.send(stream.subarray(k));
        await c.waitClosed(10000);
        assert.equal(c.error, null, `split at ${k}: ${c.error?.message}`);
        assert.deepEqual(c.responses.map(summary), want, `split at ${k}`);
        assert.equal(c.unparsed.length, 0, `split at ${k}: stray bytes after the responses`);
        assert.equal(header(c.responses[2]!, 'connection'), 'close');
      }));
    }
    if (protocol === 'http') {
      assert.equal(seen.size, splits.length);
      const first = [...seen.values()][0]!;
      assert.deepEqual(first.map((s) => [s.method, s.url, s.body]), [['GET', '/a?x=1', ''], ['POST', '/submit', 'hello world'], ['GET', '/', '']]);
      for (const list of seen.values()) assert.deepEqual(list, first);
    }
    await finish(server, fds);
  });

  backendTest(`${protocol}: Connection: close is answered with Connection: close, then the connection closes`, { timeout: 20000 }, async () => {
    Engine.get();
    const fds = fdCount();
    const { server, port } = startServer(protocol);
    const before = server.counters();
    // Alone, and as the second of a pipelined pair followed by a request that must be ignored.
    const a = await HttpConn.open(port);
    a.send(request('GET', '/', { Connection: 'close' }));
    await a.waitClosed();
    assert.equal(a.responses.length, 1);
    checkResponseBasics(a.responses[0]!);
    assert.equal(header(a.responses[0]!, 'connection'), 'close');
    assert.deepEqual(summary(a.responses[0]!), expected(protocol, 'GET', '/'));

    const b = await HttpConn.open(port);
    b.send(Buffer.concat([request('GET', '/one'), request('GET', '/two', { Connection: 'keep-alive, close' }), request('GET', '/three')]));
    await b.waitClosed();
    assert.deepEqual(b.responses.map(summary), [expected(protocol, 'GET', '/one'), expected(protocol, 'GET', '/two')]);
    assert.equal(header(b.responses[0]!, 'connection'), undefined);
    assert.equal(header(b.responses[1]!, 'connection'), 'close');

    // The client keeps its side open: the server's FIN must come without the client's.
    const c = await HttpConn.open(port);
    c.send(request('GET', '/', { Connection: 'close' }));
    await c.waitEnded();
    assert.equal(c.responses.length, 1);
    c.socket.end();
    await c.waitClosed();
    assert.equal(counterDelta(server, before, 'httpErrors'), 0);
    await finish(server, fds);
    assert.equal(counterDelta(server, before, 'closedProtocol'), 0);
  });

  backendTest(`${protocol}: HTTP/1.0 closes without keep-alive; with Connection: keep-alive it stays open and says so`, { timeout: 20000 }, async () => {
    Engine.get();
    const fds = fdCount();
    const { server, port, seen } = startServer(protocol);
    const a = await HttpConn.open(port);
    a.send(request('GET', '/', {}, undefined, '1.0'));
    await a.waitClosed();
    assert.equal(a.responses.length, 1);
    checkResponseBasics(a.responses[0]!);
    assert.deepEqual(summary(a.responses[0]!), expected(protocol, 'GET', '/'));
    assert.equal(header(a.responses[0]!, 'connection'), 'close');

    const b = await HttpConn.open(port);
    b.send(request('GET', '/', { Connection: 'keep-alive' }, undefined, '1.0'));
    await b.responsesUntil(1);
    assert.equal(header(b.responses[0]!, 'connection'), 'keep-alive');
    await sleep(50);
    assert.equal(b.closed, false, 'an HTTP/1.0 keep-alive connection stays open');
    b.send(request('POST', '/again', { Connection: 'keep-alive' }, 'body', '1.0'));
    await b.responsesUntil(2);
    assert.equal(header(b.responses[1]!, 'connection'), 'keep-alive');
    assert.deepEqual(summary(b.responses[1]!), expected(protocol, 'POST', '/again', 'body'));
    // The last one of the connection, without keep-alive: answered with close, then closed.
    b.send(request('GET', '/', {}, undefined, '1.0'));
    await b.waitClosed();
    assert.equal(b.responses.length, 3);
    assert.equal(header(b.responses[2]!, 'connection'), 'close');
    if (protocol === 'http') {
      const lists = [...seen.values()];
      assert.deepEqual(lists.map((l) => l.map((s) => [s.versionMinor, s.keepAlive])), [[[0, false]], [[0, true], [0, true], [0, false]]]);
    }
    await finish(server, fds);
  });

  backendTest(`${protocol}: bad input gets a clear status and a close, counted, within the limits; other connections undisturbed`, { timeout: 30000 }, async () => {
    Engine.get();
    const fds = fdCount();
    const { server, port, seen } = startServer(protocol, { maxHeaderBytes: 1024, maxBodyBytes: 100 });
    const good = await HttpConn.open(port);
    let goodCount = 0;
    const checkGood = async (): Promise<void> => {
      good.send(request('GET', `/good/${goodCount}`));
      goodCount++;
      await good.responsesUntil(goodCount);
      assert.deepEqual(summary(good.responses[goodCount - 1]!), expected(protocol, 'GET', `/good/${goodCount - 1}`));
    };
    await checkGood();

    const pad = (headLen: number): Buffer => {
      // A GET whose head is exactly headLen bytes (request line + Host + X-Pad + blank line).
      const base = request('GET', '/', { 'X-Pad': '' }).length;
      return request('GET', '/', { 'X-Pad': 'p'.repeat(headLen - base) });
    };
    assert.equal(pad(1024).length, 1024);
    const cases: { name: string; bytes: Buffer; status: number; reason: RegExp }[] = [
      { name: 'garbage request line', bytes: Buffer.from('GARBAGE\r\n\r\n'), status: 400, reason: /method/ },
      { name: 'request line without a version', bytes: Buffer.from('GET /path\r\nHost: x\r\n\r\n'), status: 400, reason: /target|version/ },
      { name: 'bad version syntax', bytes: Buffer.from('GET / HTTP/x.y\r\nHost: x\r\n\r\n'), status: 400, reason: /version/ },
      { name: 'unsupported major version', bytes: Buffer.from('GET / HTTP/2.0\r\nHost: x\r\n\r\n'), status: 505, reason: /version/i },
      { name: 'space in a header name', bytes: Buffer.from('GET / HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n'), status: 400, reason: /colon/ },
      { name: 'header line without a colon', bytes: Buffer.from('GET / HTTP/1.1\r\nHost: x\r\nNoColonHere\r\n\r\n'), status: 400, reason: /header name/ },
      { name: 'control byte in a header value', bytes: Buffer.from('GET / HTTP/1.1\r\nHost: x\r\nX: a\x01b\r\n\r\n'), status: 400, reason: /header value/ },
      { name: 'HTTP/1.1 without Host', bytes: Buffer.from('GET / HTTP/1.1\r\n\r\n'), status: 400, reason: /Host/ },
      { name: 'non-numeric Content-Length', bytes: Buffer.from('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n'), status: 400, reason: /Content-Length/ },
      { name: 'two Content-Lengths', bytes: Buffer.from('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx'), status: 400, reason: /Content-Length/ },
      { name: 'header section one byte over maxHeaderBytes', bytes: pad(1025), status: 431, reason: /header/ },
      { name: 'header section of 4 KiB', bytes: pad(4096), status: 431, reason: /header/ },
      { name: 'body one byte over maxBodyBytes', bytes: request('POST', '/', {}, 'b'.repeat(101)), status: 413, reason: /body/ },
      { name: 'Content-Length of 10 GB', bytes: Buffer.from('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000000\r\n\r\n'), status: 413, reason: /body/ },
      { name: 'Transfer-Encoding: chunked', bytes: Buffer.from('POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n'), status: 501, reason: /Transfer-Encoding/ },
      { name: '65 header lines', bytes: request('GET', '/', Object.fromEntries(Array.from({ length: 64 }, (_, i) => [`X-H${i}`, '1']))), status: 431, reason: /headers/ },
    ];
    for (const bc of cases) {
      const before = server.counters();
      const seenBefore = [...seen.values()].reduce((n, l) => n + l.length, 0);
      const c = await HttpConn.open(port);
      c.send(bc.bytes);
      await c.waitClosed();
      assert.equal(c.error === null || (c.error as NodeJS.ErrnoException).code === 'ECONNRESET', true, `${bc.name}: ${c.error?.message}`);
      assert.equal(c.responses.length, 1, `${bc.name}: one response (${JSON.stringify(c.raw.toString('latin1'))})`);
      const r = c.responses[0]!;
      checkResponseBasics(r);
      assert.equal(r.status, bc.status, `${bc.name}: status`);
      assert.equal(header(r, 'connection'), 'close', `${bc.name}: Connection: close`);
      assert.match(r.body.toString(), bc.reason, `${bc.name}: the body gives the reason`);
      await until(() => counterDelta(server, before, 'closedProtocol') === 1, `${bc.name}: closedProtocol counted`, 2000);
      assert.equal(counterDelta(server, before, 'httpErrors'), 1, `${bc.name}: httpErrors counted`);
      assert.equal([...seen.values()].reduce((n, l) => n + l.length, 0), seenBefore, `${bc.name}: never reached the handler`);
      await checkGood();
    }

    // Exactly at the limits is fine (64 header lines is the most a request may have).
    const atLimits = await HttpConn.open(port);
    const headers64 = Object.fromEntries(Array.from({ length: 63 }, (_, i) => [`X${i}`, '1']));
    atLimits.send(Buffer.concat([pad(1024), request('POST', '/max', {}, 'b'.repeat(100)), request('GET', '/64', headers64)]));
    await atLimits.responsesUntil(3);
    assert.deepEqual(atLimits.responses.map(summary), [expected(protocol, 'GET', '/'), expected(protocol, 'POST', '/max', 'b'.repeat(100)), expected(protocol, 'GET', '/64')]);

    // Good requests before a bad one in the same write are all answered first, in order.
    const before = server.counters();
    const mixed = await HttpConn.open(port);
    mixed.send(Buffer.concat([request('GET', '/m1'), request('GET', '/m2'), Buffer.from('BAD REQUEST LINE\r\n\r\n')]));
    await mixed.waitClosed();
    assert.deepEqual(mixed.responses.map((r) => r.status), [expected(protocol, 'GET', '/m1').status, expected(protocol, 'GET', '/m2').status, 400]);
    assert.equal(counterDelta(server, before, 'httpErrors'), 1);
    await checkGood();
    good.destroy();
    atLimits.destroy();
    await finish(server, fds);
  });
}

backendTest('http: the handler sees method, target, query, version, headers and body; its status and headers are sent', { timeout: 20000 }, async () => {
  Engine.get();
  const fds = fdCount();
  const { server, port, seen } = startServer('http', {}, (srv, id, req) => {
    if (req.path === '/empty') srv.respond(id, 204);
    else if (req.path === '/missing') srv.respond(id, 404, 'nope', { 'X-Why': 'missing' });
    else srv.respond(id, 201, Buffer.from(req.body), { 'Content-Type': 'application/octet-stream', 'X-Method': req.method });
  });
  const binary = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  const c = await HttpConn.open(port);
  c.send(Buffer.concat([
    request('PUT', '/upload?name=a%20b&x=', { 'X-Custom': '  padded value  ', 'x-lower': 'v' }, binary),
    request('GET', '/empty'),
    request('DELETE', '/missing'),
    // A bare-LF request (RFC 9112 allows it) with leading empty lines.
    Buffer.from('\r\n\r\nOPTIONS * HTTP/1.1\nHost: y\n\n'),
  ]));
  const got = await c.responsesUntil(4);
  got.forEach(checkResponseBasics);
  assert.equal(got[0]!.status, 201);
  assert.equal(got[0]!.reason, 'Created');
  assert.ok(got[0]!.body.equals(binary));
  assert.equal(header(got[0]!, 'content-type'), 'application/octet-stream');
  assert.equal(header(got[0]!, 'x-method'), 'PUT');
  assert.equal(got[1]!.status, 204);
  assert.equal(header(got[1]!, 'content-length'), undefined, '204 carries no Content-Length');
  assert.equal(got[1]!.body.length, 0);
  assert.equal(got[2]!.status, 404);
  assert.equal(got[2]!.body.toString(), 'nope');
  assert.equal(header(got[2]!, 'x-why'), 'missing');
  assert.equal(got[3]!.status, 201);
  const list = [...seen.values()][0]!;
  assert.equal(list[0]!.method, 'PUT');
  assert.equal(list[0]!.url, '/upload?name=a%20b&x=');
  assert.equal(list[0]!.path, '/upload');
  assert.equal(list[0]!.query, 'name=a%20b&x=');
  assert.equal(list[0]!.versionMinor, 1);
  assert.equal(list[0]!.keepAlive, true);
  assert.deepEqual(list[0]!.headers, [['Host', 'test'], ['X-Custom', 'padded value'], ['x-lower', 'v'], ['Content-Length', '256']]);
  assert.equal(Buffer.from(list[0]!.body, 'latin1').equals(binary), true);
  assert.deepEqual([list[3]!.method, list[3]!.url, list[3]!.headers], ['OPTIONS', '*', [['Host', 'y']]]);
  c.destroy();
  await finish(server, fds);
});

backendTest('http: answers given later (outside the callback) still go out in request order', { timeout: 20000 }, async () => {
  Engine.get();
  const fds = fdCount();
  const queue: [number, string][] = [];
  const { server, port } = startServer('http', {}, (_srv, id, req) => { queue.push([id, req.url]); });
  const c = await HttpConn.open(port);
  c.send(Buffer.concat([request('GET', '/1'), request('GET', '/2'), request('GET', '/3', { Connection: 'close' })]));
  await until(() => queue.length === 3, 'three requests');
  await sleep(20);
  assert.equal(c.responses.length, 0);
  for (const [id, url] of queue) {
    assert.equal(server.respond(id, 200, url), true);
    await sleep(10);
  }
  assert.equal(server.respond(queue[0]![0], 200, 'extra'), false, 'no request left to answer');
  await c.waitClosed();
  assert.deepEqual(c.responses.map((r) => r.body.toString()), ['/1', '/2', '/3']);
  assert.equal(header(c.responses[2]!, 'connection'), 'close');

  // A bad request behind an unanswered good one: the good one is answered first, then the 400.
  queue.length = 0;
  const d = await HttpConn.open(port);
  d.send(Buffer.concat([request('GET', '/first'), Buffer.from('NOT HTTP\r\n\r\n')]));
  await until(() => queue.length === 1, 'the good request');
  await sleep(30);
  assert.equal(server.respond(queue[0]![0], 200, 'first'), true);
  await d.waitClosed();
  assert.deepEqual(d.responses.map((r) => [r.status, r.body.toString()]), [[200, 'first'], [400, 'invalid request target\n']]);
  await finish(server, fds);
});

backendTest('http-static: HEAD gets the head only; other paths and methods get 404', { timeout: 20000 }, async () => {
  Engine.get();
  const fds = fdCount();
  const { server, port } = startServer('http-static', { staticPath: '/hello', staticBody: 'static body', staticType: 'text/x-test' });
  const c = await HttpConn.open(port);
  c.send(request('HEAD', '/hello'));
  await c.wait(() => c.raw.includes('\r\n\r\n'), 'the HEAD answer');
  await sleep(30);
  const head = c.raw.toString('latin1');
  assert.match(head, /^HTTP\/1\.1 200 OK\r\n/);
  assert.match(head, /\r\nContent-Length: 11\r\n/);
  assert.match(head, /\r\nContent-Type: text\/x-test\r\n/);
  assert.ok(head.endsWith('\r\n\r\n'), 'no body after the head of a HEAD answer');
  c.destroy();
  const d = await HttpConn.open(port);
  d.send(Buffer.concat([request('GET', '/hello?x=1'), request('GET', '/'), request('POST', '/hello', {}, 'x')]));
  const got = await d.responsesUntil(3);
  assert.deepEqual(got.map((r) => [r.status, r.body.toString(), header(r, 'content-type')]), [
    [200, 'static body', 'text/x-test'], [404, 'Not Found', 'text/plain'], [404, 'Not Found', 'text/plain'],
  ]);
  d.destroy();
  // A long Content-Type and a large body are sent whole.
  const longType = `application/x-${'t'.repeat(300)}`;
  const bigBody = 'B'.repeat(200_000);
  const other = startServer('http-static', { staticType: longType, staticBody: bigBody });
  const e = await HttpConn.open(other.port);
  e.send(request('GET', '/'));
  const [r] = await e.responsesUntil(1);
  checkResponseBasics(r!);
  assert.equal(header(r!, 'content-type'), longType);
  assert.equal(r!.body.toString(), bigBody);
  e.destroy();
  await until(() => other.server.counters()['active'] === 0, 'close');
  await other.server.close();
  await finish(server, fds);
});

for (const protocol of PROTOCOLS) {
  backendTest(`${protocol}: a client that half-closes right after its requests still gets every answer`, { timeout: 20000 }, async () => {
    Engine.get();
    const fds = fdCount();
    // JS answers some requests at once and the last one only after the client's FIN arrived.
    const { server, port } = startServer(protocol, {}, (srv, id, req) => {
      if (req.path === '/later') setTimeout(() => srv.respond(id, 200, jsBody(req.method, req.url, '')), 50);
      else srv.respond(id, 200, jsBody(req.method, req.url, ''));
    });
    const c = await HttpConn.open(port);
    c.socket.setKeepAlive(false);
    c.send(Buffer.concat([request('GET', '/a'), request('GET', '/b'), request('GET', '/later')]));
    c.socket.end();
    await c.waitClosed();
    assert.equal(c.error, null, c.error?.message);
    assert.deepEqual(c.responses.map(summary), ['/a', '/b', '/later'].map((u) => expected(protocol, 'GET', u)));
    await finish(server, fds);
  });

  backendTest(`${protocol}: large bodies arriving in pieces and large answers to a slow reader`, { timeout: 30000 }, async () => {
    Engine.get();
    const fds = fdCount();
    const big = Buffer.alloc(3 << 20, 'z');
    const { server, port, seen } = startServer(protocol, {}, (srv, id, req) => {
      if (req.path === '/big') srv.respond(id, 200, big);
      else srv.respond(id, 200, jsBody(req.method, req.url, `${req.body.length}:${sha256(req.body)}`));
    });
    const body = Buffer.from(Array.from({ length: 900_000 }, (_, i) => (i * 7) & 0xff));
    const stream = Buffer.concat([request('POST', '/upload', {}, body), request('GET', '/after'), request('GET', '/big', { Connection: 'close' })]);
    const c = await HttpConn.open(port);
    for (let i = 0; i < stream.length; i += 64 * 1024) {
      c.send(stream.subarray(i, i + 64 * 1024));
      await sleep(2);
    }
    // Read the 3 MiB answer slowly, so the engine has to queue most of it.
    c.socket.on('data', () => {
      c.socket.pause();
      setTimeout(() => c.socket.resume(), 2);
    });
    await c.waitClosed(20000);
    assert.equal(c.responses.length, 3);
    if (protocol === 'http') {
      assert.deepEqual(summary(c.responses[0]!), { status: 200, body: jsBody('POST', '/upload', `${body.length}:${sha256(body)}`) });
      assert.equal(c.responses[2]!.body.length, big.length);
      assert.ok(c.responses[2]!.body.equals(big));
      assert.equal(header(c.responses[2]!, 'connection'), 'close');
      assert.equal([...seen.values()][0]!.length, 3);
    } else {
      assert.deepEqual(c.responses.map(summary), [expected(protocol, 'POST', '/upload'), expected(protocol, 'GET', '/after'), expected(protocol, 'GET', '/big')]);
    }
    await finish(server, fds);
  });

  backendTest(`${protocol}: 2,000 concurrent keep-alive connections are all served correctly`, { timeout: 60000 }, async () => {
    const CONNS = 2000;
    Engine.get();
    const fds = fdCount();
    const { server, port } = startServer(protocol);
    const before = server.counters();
    const conns: HttpConn[] = [];
    for (let i = 0; i < CONNS; i += 250) conns.push(...await Promise.all(Array.from({ length: Math.min(250, CONNS - i) }, () => HttpConn.open(port))));
    await until(() => counterDelta(server, before, 'accepted') === CONNS, 'every accept');
    assert.equal(server.counters()['active'], CONNS);
    // Each connection: one request, then two pipelined, all while every other one is open.
    await Promise.all(conns.map(async (c, i) => {
      c.send(request('GET', `/c/${i}`));
      await c.responsesUntil(1, 20000);
      c.send(Buffer.concat([request('POST', `/c/${i}/a`, {}, String(i)), request('GET', `/c/${i}/b`)]));
      await c.responsesUntil(3, 20000);
      assert.deepEqual(c.responses.map(summary), [
        expected(protocol, 'GET', `/c/${i}`), expected(protocol, 'POST', `/c/${i}/a`, String(i)), expected(protocol, 'GET', `/c/${i}/b`),
      ]);
    }));
    assert.equal(counterDelta(server, before, 'httpResponses'), 3 * CONNS);
    assert.equal(server.counters()['active'], CONNS, 'keep-alive: nothing closed');
    for (const c of conns) c.destroy();
    await finish(server, fds);
  });
}

// ---- independent clients --------------------------------------------------------------------


for (const protocol of PROTOCOLS) {
  backendTest(`${protocol}: curl gets correct answers, reuses the keep-alive connection, and HTTP/1.0 works`, { timeout: 30000, skip: hasCurl ? false : 'curl is not on PATH' }, async () => {
    Engine.get();
    const fds = fdCount();
    const { server, port, seen } = startServer(protocol);
    const base = `http://127.0.0.1:${port}`;
    const before = server.counters();
    const one = await run('curl', ['-sS', '-i', '--http1.1', `${base}/`]);
    assert.equal(one.code, 0, one.stderr);
    const { responses } = parseResponses(Buffer.from(one.stdout, 'latin1'));
    assert.equal(responses.length, 1);
    checkResponseBasics(responses[0]!);
    assert.deepEqual(summary(responses[0]!), expected(protocol, 'GET', '/'));

    // Three URLs in one curl: one connection, reused.
    const three = await run('curl', ['-sS', '--http1.1', '-o', '/dev/null', '-o', '/dev/null', '-o', '/dev/null',
      '-w', '%{http_code} %{num_connects} %{size_download}\\n', `${base}/`, `${base}/x`, `${base}/`]);
    assert.equal(three.code, 0, three.stderr);
    const lines = three.stdout.trim().split('\n').map((l) => l.split(' ').map(Number));
    const want = ['/', '/x', '/'].map((u) => expected(protocol, 'GET', u));
    assert.deepEqual(lines.map((l) => l[0]), want.map((w) => w.status));
    assert.deepEqual(lines.map((l) => l[1]), [1, 0, 0], 'curl reused the connection');
    assert.deepEqual(lines.map((l) => l[2]), want.map((w) => Buffer.byteLength(w.body)));

    // A POST body, and HTTP/1.0.
    const post = await run('curl', ['-sS', '--http1.1', '--data-binary', 'posted=1&b=2', '-w', '\\n%{http_code}', `${base}/form`]);
    assert.equal(post.code, 0, post.stderr);
    const pw = expected(protocol, 'POST', '/form', 'posted=1&b=2');
    assert.equal(post.stdout, `${pw.body}\n${pw.status}`);
    const old = await run('curl', ['-sS', '-i', '--http1.0', `${base}/`]);
    assert.equal(old.code, 0, old.stderr);
    const oldR = parseResponses(Buffer.from(old.stdout, 'latin1')).responses[0]!;
    assert.deepEqual(summary(oldR), expected(protocol, 'GET', '/'));
    assert.equal(header(oldR, 'connection'), 'close');

    assert.equal(counterDelta(server, before, 'accepted'), 4);
    assert.equal(counterDelta(server, before, 'httpResponses'), 6);
    assert.equal(counterDelta(server, before, 'httpErrors'), 0);
    if (protocol === 'http') assert.equal([...seen.values()].flat().find((s) => s.method === 'POST')?.body, 'posted=1&b=2');
    await finish(server, fds);
  });

  backendTest(`${protocol}: autocannon (20 connections, plain and pipelined) sees only 2xx, no errors, consistent bytes`, { timeout: 30000 }, async () => {
    Engine.get();
    const fds = fdCount();
    const { server, port } = startServer(protocol);
    const url = `http://127.0.0.1:${port}/`;
    const errorsBefore = server.counters()['httpErrors']!;
    // One response's exact size, measured with our own client.
    const probe = await HttpConn.open(port);
    probe.send(request('GET', '/'));
    const size = (await probe.responsesUntil(1))[0]!.size;
    probe.destroy();
    for (const pipelining of [1, 8]) {
      const before = server.counters();
      const r = await withTimeout(autocannon({ url, connections: 20, pipelining, duration: 1 }), 15000, 'autocannon');
      const answered = counterDelta(server, before, 'httpResponses');
      assert.ok(r['2xx'] > 0, 'some requests were answered');
      assert.equal(r.non2xx, 0);
      assert.equal(r.errors, 0);
      assert.equal(r.timeouts, 0);
      assert.equal(r.mismatches, 0);
      assert.equal(r.resets, 0);
      assert.ok(r['2xx'] <= answered, `autocannon counted ${r['2xx']} answers, the server sent ${answered}`);
      assert.ok(answered <= r['2xx'] + 20 * pipelining, `the server answered ${answered}, at most one pipeline per connection more than ${r['2xx']}`);
      // A request whose connection autocannon closed before the answer was sent goes unanswered.
      const requests = counterDelta(server, before, 'httpRequests');
      assert.ok(requests >= answered && requests <= answered + 20 * pipelining, `${requests} requests, ${answered} answers`);
      // Bytes are attributed to the oldest outstanding request, so per response they are exact
      // only without pipelining; in total they are exact up to the responses still in flight.
      if (pipelining === 1) assert.equal(r.throughput.total, r.requests.total * size);
      else assert.ok(Math.abs(r.throughput.total - r.requests.total * size) <= 20 * pipelining * size);
    }
    await finish(server, fds);
    assert.equal(server.counters()['httpErrors'], errorsBefore);
  });

  backendTest(`${protocol}: wrk (20 connections, plain and 16 deep pipelined) sees no errors and consistent bytes`, { timeout: 30000, skip: hasWrk ? false : 'wrk is not on PATH (apt-get install wrk)' }, async () => {
    Engine.get();
    const fds = fdCount();
    const { server, port } = startServer(protocol);
    const probe = await HttpConn.open(port);
    probe.send(request('GET', '/'));
    const size = (await probe.responsesUntil(1))[0]!.size;
    probe.destroy();
    const dir = mkdtempSync(join(tmpdir(), 'c1m-wrk-'));
    try {
      // wrk reports through Lua as JSON rather than through its human-readable text.
      const report = `done = function(s, l, r)
  io.write(string.format('{"requests":%d,"bytes":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}\\n',
    s.requests, s.bytes, s.errors.connect, s.errors.read, s.errors.write, s.errors.status, s.errors.timeout))
end
`;
      const plain = join(dir, 'plain.lua');
      const pipelined = join(dir, 'pipeline.lua');
      writeFileSync(plain, report);
      writeFileSync(pipelined, `init = function(args)
  local r = {}
  for i = 1, 16 do r[i] = wrk.format(nil, '/') end
  req = table.concat(r)
end
request = function() return req end
${report}`);
      for (const [script, depth] of [[plain, 1], [pipelined, 16]] as const) {
        const before = server.counters();
        const out = await run('wrk', ['-t1', '-c20', '-d1s', '-s', script, `http://127.0.0.1:${port}/`], 20000);
        assert.equal(out.code, 0, out.stderr);
        const line = out.stdout.split('\n').find((l) => l.startsWith('{'));
        assert.ok(line, `wrk printed its JSON summary: ${out.stdout}`);
        const s = JSON.parse(line) as Record<string, number>;
        const answered = counterDelta(server, before, 'httpResponses');
        assert.ok(s['requests']! > 0);
        assert.deepEqual([s['connect'], s['read'], s['write'], s['status'], s['timeout']], [0, 0, 0, 0, 0], JSON.stringify(s));
        assert.ok(s['requests']! <= answered, `wrk counted ${s['requests']}, the server answered ${answered}`);
        assert.ok(answered <= s['requests']! + 20 * depth);
        // wrk counts every byte read, including answers in flight when it stopped.
        assert.ok(s['bytes']! >= s['requests']! * size && s['bytes']! <= answered * size, `${s['bytes']} bytes for ${s['requests']} answers of ${size}`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    await finish(server, fds);
  });
}

for (const protocol of PROTOCOLS) {
  backendTest(`${protocol}: 16 pipelined requests that arrive in one read leave in one send (corked per round)`, { timeout: 30000 }, async () => {
    Engine.get();
    const fds = fdCount();
    const { server, port } = startServer(protocol);
    const c = await HttpConn.open(port);
    try {
      // A first exchange settles the connection (accepted, read once) so the counted window holds only the 16.
      c.send(request('GET', '/warm'));
      await c.responsesUntil(1);
      const before = server.counters();
      c.send(Buffer.concat(Array.from({ length: 16 }, (_, i) => request('GET', `/${i}`))));
      await c.responsesUntil(17);
      assert.equal(counterDelta(server, before, 'httpResponses'), 16);
      // Under io_uring a receive is a completion and a send one submitted request, not a syscall each.
      const uring = currentBackend() === 'uring';
      assert.equal(counterDelta(server, before, uring ? 'uringRecvs' : 'reads') >= 1, true);
      assert.equal(counterDelta(server, before, uring ? 'uringSends' : 'writes'), 1, 'one send for the sixteen answers');
    } finally {
      c.destroy();
    }
    await finish(server, fds);
  });
}
