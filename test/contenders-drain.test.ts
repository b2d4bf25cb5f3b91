// The graceful drain contract (src/contenders/README.md, "Graceful drain") for the contenders
// that count what they cut (net, uws and the engine): idle keep-alive connections close at
// once, a request written just before SIGTERM is still answered, WebSocket peers get 1001, and
// a peer that never reads is closed at the bound and counted. The C references (c-ref, c-ref-uring)
// have none: everything closes at once and the cut is not known. Every number is a total the
// test can miss.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type net from 'node:net';
import { test, type TestContext } from 'node:test';
import WebSocket from 'ws';
import { contenderAvailable, drainBoundMs, startContender, totalCut, type ContenderHandle, type Protocol, type StopReport } from '../src/contenders/index.js';
import { REF_DIED_EXIT_CODE } from '../src/contenders/cref.js';
import { connect } from './helpers/net.js';
import { eventually, waitGone } from './helpers/processes.js';

const HOST = '127.0.0.1';
// A 2 s drain bound: "at once" and "at the bound" stay apart on a loaded two-core machine.
const SHUTDOWN_MS = 4000;
const BOUND_MS = drainBoundMs(SHUTDOWN_MS);
const GET = `GET / HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`;
const HELLO = 'Hello, World!';

/** Every server pid this file started; all must be gone at the end. */
const startedPids: number[] = [];

async function start(contender: string, protocol: Protocol): Promise<ContenderHandle> {
  const h = await startContender({ contender, protocol, host: HOST, shutdownMs: SHUTDOWN_MS, stderr: 'pipe' });
  startedPids.push(...h.pids);
  return h;
}

/** A raw keep-alive HTTP connection that keeps everything it receives and when it closed. */
interface RawHttp {
  socket: net.Socket;
  text: () => string;
  /** ms since `since` when the connection closed; null while open. */
  closedAt: () => number | null;
  closed: Promise<void>;
}

async function openHttp(port: number, since: () => number): Promise<RawHttp> {
  const socket = await connect(port, HOST);
  let text = '';
  let closedAt: number | null = null;
  socket.setEncoding('latin1');
  socket.on('data', (d: string) => (text += d));
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve) =>
    socket.once('close', () => {
      closedAt = Date.now() - since();
      resolve();
    }),
  );
  return { socket, text: () => text, closedAt: () => closedAt, closed };
}

function count(haystack: string, needle: string): number {
  return haystack.split(needle).length - 1;
}

/** A `ws` client that records the messages it gets and its close code. */
interface Peer {
  ws: WebSocket;
  messages: string[];
  code: () => number | null;
  closed: Promise<void>;
}

async function openPeer(port: number): Promise<Peer> {
  const ws = new WebSocket(`ws://${HOST}:${port}/`, { perMessageDeflate: false });
  const messages: string[] = [];
  let code: number | null = null;
  ws.on('message', (data) => messages.push(String(data)));
  ws.on('error', () => {});
  const closed = new Promise<void>((resolve) =>
    ws.once('close', (c) => {
      code = c;
      resolve();
    }),
  );
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return { ws, messages, code: () => code, closed };
}

function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
    }),
  ]);
}

function assertCleanStop(report: StopReport, cut: number | null): void {
  const w = report.workers[0];
  assert.equal(report.workers.length, 1);
  assert.equal(w?.code, 0, `exit code (stderr: ${w?.stderr ?? ''})`);
  assert.equal(w?.killed, false);
  assert.equal(w?.drained, true, 'the worker reported its drain');
  assert.equal(w?.cut, cut, 'the worker cut');
  assert.deepEqual(report.drain, { cut, boundMs: BOUND_MS });
  assert.equal(report.ok, true);
}

test('the total cut is the sum over workers, and not known when any worker cannot tell', () => {
  assert.equal(totalCut([{ cut: 0 }, { cut: 2 }, { cut: 3 }]), 5);
  assert.equal(totalCut([{ cut: 0 }, { cut: null }]), null);
  assert.equal(drainBoundMs(3000), 1500);
});

for (const name of ['net', 'uws', 'epoll', 'epoll-native', 'uring', 'uring-native']) {
  const available = await contenderAvailable(name);
  const skip = (t: TestContext): boolean => {
    if (available === true) return false;
    t.diagnostic(`${name} is unavailable here: ${available}`);
    return true;
  };

  test(`${name} × http-hello: 100 idle keep-alive connections close at once, 10 requests written just before SIGTERM are answered, nothing is cut`, { timeout: 30_000 }, async (t) => {
    if (skip(t)) return;
    const h = await start(name, 'http-hello');
    const port = h.ports[0] as number;
    let t0 = 0;
    const since = (): number => t0;
    const idle: RawHttp[] = [];
    const late: RawHttp[] = [];
    try {
      // Every connection has been answered once, so it is an established keep-alive connection.
      for (let i = 0; i < 110; i++) (i < 100 ? idle : late).push(await openHttp(port, since));
      const all = [...idle, ...late];
      for (const c of all) c.socket.write(GET);
      await eventually(() => all.every((c) => count(c.text(), HELLO) === 1), 5000, 'every connection answered once');
      assert.ok(all.every((c) => c.closedAt() === null), 'keep-alive: nothing closed before the stop');

      // The request goes to the kernel (write() on a writable socket), then SIGTERM follows.
      for (const c of late) c.socket.write(GET);
      t0 = Date.now();
      const report = await h.stop();
      await within(Promise.all(all.map((c) => c.closed)), BOUND_MS, 'every connection closed');

      assertCleanStop(report, 0);
      const answered = late.filter((c) => count(c.text(), 'HTTP/1.1 200 OK') === 2 && count(c.text(), HELLO) === 2).length;
      assert.equal(answered, late.length, `requests written just before SIGTERM answered: ${answered} of ${late.length}`);
      assert.equal(idle.filter((c) => count(c.text(), HELLO) === 1).length, idle.length, 'idle connections got nothing more');
      // Closed at once, not at the bound: the drain did not wait for them.
      const slowest = Math.max(...all.map((c) => c.closedAt() ?? Infinity));
      assert.ok(slowest < BOUND_MS, `the last connection closed ${slowest} ms after the stop; the bound is ${BOUND_MS} ms`);
      assert.ok((report.workers[0]?.ms ?? Infinity) < BOUND_MS, `stopped in ${report.workers[0]?.ms} ms`);
    } finally {
      for (const c of [...idle, ...late]) c.socket.destroy();
      await h.stop();
    }
  });

  test(`${name} × ws-echo: 50 peers each get the echo of a message sent just before SIGTERM, then close code 1001; nothing is cut`, { timeout: 30_000 }, async (t) => {
    if (skip(t)) return;
    const h = await start(name, 'ws-echo');
    const port = h.ports[0] as number;
    const peers: Peer[] = [];
    try {
      for (let i = 0; i < 50; i++) peers.push(await openPeer(port));
      await Promise.all(peers.map((p, i) => new Promise<void>((resolve, reject) => p.ws.send(`last ${i}`, (err) => (err ? reject(err) : resolve())))));
      const report = await h.stop();
      await within(Promise.all(peers.map((p) => p.closed)), BOUND_MS, 'every peer closed');

      assertCleanStop(report, 0);
      assert.equal(peers.filter((p) => p.code() === 1001).length, peers.length, `close codes: ${peers.map((p) => p.code()).join(',')}`);
      assert.equal(peers.filter((p, i) => p.messages.length === 1 && p.messages[0] === `last ${i}`).length, peers.length, 'each peer got its last echo, before the close');
      assert.ok((report.workers[0]?.ms ?? Infinity) < BOUND_MS, `stopped in ${report.workers[0]?.ms} ms: the peers answered, the bound was not needed`);
    } finally {
      for (const p of peers) p.ws.terminate();
      await h.stop();
    }
  });

  test(`${name} × ws-echo: a peer that never reads keeps the drain to its bound and is the one connection cut; 20 others get 1001`, { timeout: 30_000 }, async (t) => {
    if (skip(t)) return;
    const h = await start(name, 'ws-echo');
    const port = h.ports[0] as number;
    const peers: Peer[] = [];
    try {
      for (let i = 0; i < 21; i++) peers.push(await openPeer(port));
      const deaf = peers[20] as Peer;
      deaf.ws.pause(); // its socket is no longer read: the close frame is never seen, never answered
      const report = await h.stop();
      const others = peers.slice(0, 20);
      await within(Promise.all(others.map((p) => p.closed)), BOUND_MS, 'every other peer closed');

      assertCleanStop(report, 1);
      assert.equal(others.filter((p) => p.code() === 1001).length, 20, `close codes: ${others.map((p) => p.code()).join(',')}`);
      assert.equal(deaf.code(), null, 'the deaf peer never saw a close');
      assert.ok((report.workers[0]?.ms ?? 0) >= BOUND_MS, `stopped in ${report.workers[0]?.ms} ms, before the ${BOUND_MS} ms bound`);
    } finally {
      for (const p of peers) p.ws.terminate();
      await h.stop();
    }
  });
}

// uWS shows JS nothing of a request whose head has only partly arrived (src/contenders/README.md),
// so this one is net's: the in-flight request is half sent when SIGTERM comes, the rest after it.
test('net × http-hello: 10 requests in flight at SIGTERM (head half sent) finish, are answered with Connection: close, and nothing is cut', { timeout: 30_000 }, async () => {
  const h = await start('net', 'http-hello');
  const port = h.ports[0] as number;
  const conns: RawHttp[] = [];
  try {
    for (let i = 0; i < 10; i++) conns.push(await openHttp(port, () => 0));
    for (const c of conns) c.socket.write(GET.slice(0, 20));
    await new Promise((r) => setTimeout(r, 50));
    const stopping = h.stop();
    await new Promise((r) => setTimeout(r, 100));
    for (const c of conns) c.socket.write(GET.slice(20));
    const report = await stopping;
    await within(Promise.all(conns.map((c) => c.closed)), BOUND_MS, 'every connection closed');
    assertCleanStop(report, 0);
    const answered = conns.filter((c) => count(c.text(), HELLO) === 1 && /\r\nConnection: close\r\n/i.test(c.text())).length;
    assert.equal(answered, conns.length, `in-flight requests answered with Connection: close: ${answered} of ${conns.length}`);
    assert.ok((report.workers[0]?.ms ?? Infinity) < BOUND_MS, `stopped in ${report.workers[0]?.ms} ms`);
  } finally {
    for (const c of conns) c.socket.destroy();
    await h.stop();
  }
});

test('net × tcp-echo: a peer that stops reading while its echo is queued is cut at the bound; one that reads gets all its bytes', { timeout: 30_000 }, async () => {
  const h = await start('net', 'tcp-echo');
  const port = h.ports[0] as number;
  const sockets: net.Socket[] = [];
  try {
    const reader = await connect(port, HOST);
    const stuck = await connect(port, HOST);
    sockets.push(reader, stuck);
    let got = 0;
    reader.on('data', (d: Buffer) => (got += d.length));
    const readerClosed = new Promise<void>((resolve) => reader.once('close', () => resolve()));
    stuck.pause();
    stuck.on('error', () => {});
    // More than the kernel buffers of both directions hold: the server's echo of it backs up.
    stuck.write(randomBytes(16 << 20));
    reader.write(randomBytes(64 << 10));
    await eventually(() => got === 64 << 10, 5000, 'the reader has its echo');
    // The echo has backed up once the server stops reading the stuck peer (it pauses a socket
    // whose write is refused): the peer's own writes stall. Stopping before that (a slow server,
    // under ASan) would find nothing queued to cut.
    let last = -1;
    let since = Date.now();
    await eventually(() => {
      const w = stuck.writableLength;
      if (w !== last) [last, since] = [w, Date.now()];
      return w > 0 && Date.now() - since >= 300;
    }, 10_000, 'the stuck peer\'s writes to stall (the server stopped reading it)');
    const report = await h.stop();
    await within(readerClosed, BOUND_MS, 'the reader closed');
    assertCleanStop(report, 1);
    assert.equal(got, 64 << 10);
    assert.ok((report.workers[0]?.ms ?? 0) >= BOUND_MS, `stopped in ${report.workers[0]?.ms} ms`);
  } finally {
    for (const s of sockets) s.destroy();
    await h.stop();
  }
});

// The C references (c-ref on epoll, c-ref-uring on io_uring) have no drain: SIGTERM ends their loop
// and closes every connection at once, a peer that stopped reading included, without waiting for
// the bound; they cannot tell which of those had bytes pending, so the cut is null, never a guess.
for (const name of ['c-ref', 'c-ref-uring']) {
  test(`${name} × tcp-echo: SIGTERM closes every connection at once, a stuck reader too, exit 0, cut not known (null)`, { timeout: 30_000 }, async (t) => {
    const available = await contenderAvailable(name);
    if (available !== true) return t.diagnostic(`${name} is unavailable here: ${available}`);
    const h = await start(name, 'tcp-echo');
    const port = h.ports[0] as number;
    const sockets: net.Socket[] = [];
    try {
      const readers = await Promise.all(Array.from({ length: 10 }, () => connect(port, HOST)));
      const stuck = await connect(port, HOST);
      sockets.push(...readers, stuck);
      const got = readers.map(() => 0);
      readers.forEach((r, i) => r.on('data', (d: Buffer) => (got[i] = (got[i] ?? 0) + d.length)));
      const closed = [...readers, stuck].map((s) => new Promise<void>((resolve) => s.once('close', () => resolve())));
      stuck.pause();
      stuck.on('error', () => {});
      for (const r of readers) r.on('error', () => {});
      stuck.write(randomBytes(16 << 20));
      for (const r of readers) r.write(randomBytes(32 << 10));
      await eventually(() => got.every((n) => n === 32 << 10), 5000, 'every reader has its echo');
      const report = await h.stop();
      await within(Promise.all(closed), BOUND_MS, 'every connection closed, the stuck one too');
      assertCleanStop(report, null);
      // Before the bound: the C process ended on SIGTERM itself, not on the SIGKILL that follows it.
      assert.ok((report.workers[0]?.ms ?? BOUND_MS) < BOUND_MS, `stopped at once, not at the bound: ${report.workers[0]?.ms} ms`);
    } finally {
      for (const s of sockets) s.destroy();
      await h.stop();
    }
  });
}

// The C program serves and the worker only relays: if the program ends on its own, the worker
// ends too, saying why, so the runner (which watches the workers) stops the run there instead of
// reading the dead program's last counters and the wrapper's memory as the server's.
for (const name of ['c-ref', 'c-ref-uring']) {
  test(`${name}: the worker exits, saying why, when its C program dies while serving`, { timeout: 30_000 }, async (t) => {
    const available = await contenderAvailable(name);
    if (available !== true) return t.diagnostic(`${name} is unavailable here: ${available}`);
    const h = await start(name, 'tcp-echo');
    try {
      const worker = h.workers[0]!;
      const serving = worker.servingPids[0];
      assert.ok(serving !== undefined && serving !== worker.pid, 'the C program has its own pid');
      process.kill(serving, 'SIGKILL');
      assert.deepEqual(await waitGone([worker.pid], 5000), [], 'the worker ended with its C program');
      const report = await h.stop();
      assert.equal(report.ok, false);
      assert.equal(report.workers[0]?.code, REF_DIED_EXIT_CODE);
      assert.match(report.workers[0]?.stderr ?? '', new RegExp(`${name}: c1m_ref_echo\\S* \\(pid ${serving}\\) exited with SIGKILL while serving`));
    } finally {
      await h.stop();
    }
  });
}

test('nothing is left behind: every server process gone', { timeout: 10_000 }, async () => {
  assert.deepEqual(await waitGone(startedPids), []);
});
