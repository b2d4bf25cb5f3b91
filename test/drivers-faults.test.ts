// The HTTP tool drivers (autocannon, h2load, wrk) against a server that misbehaves on purpose:
// it hangs up, resets or stalls each connection after a number of answers, or answers some
// requests with another status. The counts the drivers report are checked against what the
// server did: requests lost to a hang-up are errors, one per request; stalled requests past the
// response timeout are timeouts; only 2xx answers are ops, every answer is in the latency.
// Runs are short (≤ 3 s) and small (≤ 10 connections) on 127.0.0.1.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
import { after, test } from 'node:test';
import { startDriver, type DriverHandle } from '../src/drivers/driver-handle.js';
import type { DriverConfig, RunResult } from '../src/drivers/driver-contract.js';
import { findExecutable } from '../src/system/which.js';
import { h2loadLosses, readH2loadLog, readH2loadLogFile } from '../src/drivers/h2load.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Histogram } from '../src/metrics/histogram.js';
import { HTTP_HELLO_BODY } from '../src/wire/protocols.js';
import { waitGone } from './helpers/processes.js';

const HOST = '127.0.0.1';
const NO_WRK = findExecutable('wrk') === null ? 'wrk is not installed (apt-get install wrk)' : false;
const NO_H2LOAD = findExecutable('h2load') === null ? 'h2load is not installed (apt-get install nghttp2-client)' : false;
const TEST_TIMEOUT = 60_000;
const driverPids: number[] = [];

after(async () => {
  assert.deepEqual(await waitGone(driverPids, 3000), [], 'driver processes left behind');
});

/** What the server does with each connection. */
type Fault =
  | { kind: 'ok' }
  | { kind: 'close' | 'reset' | 'stall'; after: number } // hang up (FIN), reset (RST) or stop answering after `after` answers
  | { kind: 'status'; code: number; every: number } // every `every`-th answer (over the server) has status `code`
  | { kind: 'pause'; busyMs: number; pauseMs: number }; // answers held through the last pauseMs of every busyMs + pauseMs

interface FaultyServer {
  port: number;
  /** Date.now() of every accept, in order. */
  readonly acceptedAt: number[];
  readonly connectionsSeen: number;
  /** Answers written, connections the server closed (FIN or RST). */
  readonly answered: number;
  readonly closes: number;
  stop(): Promise<void>;
}

const answer = (code: number): string => `HTTP/1.1 ${code} X\r\nContent-Length: ${HTTP_HELLO_BODY.length}\r\nContent-Type: text/plain\r\n\r\n${HTTP_HELLO_BODY}`;

/** A node:net HTTP/1.1 server (GET without bodies, pipelining) that misbehaves as `fault` says. */
async function faultyServer(fault: Fault): Promise<FaultyServer> {
  const sockets = new Set<net.Socket>();
  const state = { answered: 0, closes: 0 };
  const acceptedAt: number[] = [];
  const t0 = Date.now();
  /** ms until the server's current pause ends (0 when it is not pausing). */
  const pausedFor = (): number => {
    if (fault.kind !== 'pause') return 0;
    const at = (Date.now() - t0) % (fault.busyMs + fault.pauseMs);
    return at < fault.busyMs ? 0 : fault.busyMs + fault.pauseMs - at;
  };
  const send = (socket: net.Socket, out: string): void => {
    const wait = pausedFor();
    if (wait === 0) socket.write(out);
    else setTimeout(() => socket.destroyed || socket.write(out), wait);
  };
  const s = net.createServer((socket) => {
    acceptedAt.push(Date.now());
    sockets.add(socket);
    socket.setNoDelay(true);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
    let buf = '';
    let n = 0;
    let done = false;
    socket.on('data', (chunk) => {
      if (done) return;
      buf += chunk.toString('latin1');
      let out = '';
      for (let i = buf.indexOf('\r\n\r\n'); i >= 0; i = buf.indexOf('\r\n\r\n')) {
        buf = buf.slice(i + 4);
        if ((fault.kind === 'close' || fault.kind === 'reset' || fault.kind === 'stall') && n >= fault.after) {
          done = true;
          if (out !== '') socket.write(out);
          if (fault.kind === 'stall') return;
          state.closes++;
          if (fault.kind === 'reset') socket.resetAndDestroy();
          else socket.end();
          return;
        }
        n++;
        state.answered++;
        out += answer(fault.kind === 'status' && state.answered % fault.every === 0 ? fault.code : 200);
      }
      if (out !== '') send(socket, out);
    });
  });
  await new Promise<void>((resolve) => s.listen(0, HOST, resolve));
  return {
    port: (s.address() as net.AddressInfo).port,
    acceptedAt,
    get connectionsSeen() {
      return acceptedAt.length;
    },
    get answered() {
      return state.answered;
    },
    get closes() {
      return state.closes;
    },
    stop: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => s.close(() => resolve()));
    },
  };
}

/** Ramps `connections` (the probe's one request each counts towards `after`) and runs once. */
async function runAgainst(
  server: FaultyServer,
  cfg: Omit<DriverConfig, 'protocol' | 'mode' | 'targets'>,
  connections: number,
  durationMs: number,
  warmupMs: number,
): Promise<RunResult> {
  const d: DriverHandle = await startDriver({ protocol: 'http-hello', mode: 'closed', targets: [{ host: HOST, port: server.port }], ...cfg }, { stderr: 'pipe' });
  driverPids.push(d.pid);
  try {
    const ramp = await d.ramp(connections, 0, 5000);
    assert.equal(ramp.established, connections, `ramp: ${JSON.stringify(ramp)}`);
    return await d.run(durationMs, warmupMs);
  } finally {
    await d.close();
  }
}

function latencyCount(r: RunResult): number {
  assert.ok(r.latency !== null, `latency measured (warnings: ${JSON.stringify(r.warnings ?? [])})`);
  return Histogram.fromJSON(r.latency).count;
}

function p50(r: RunResult): number {
  assert.ok(r.latency !== null);
  return Histogram.fromJSON(r.latency).summary().p50;
}

// ---- autocannon: hang-ups and the queue of requests it never clears ---------------------------

test('autocannon: a connect that never completes is one timeout with reason ETIMEDOUT, not depth unanswered requests', { timeout: TEST_TIMEOUT }, async () => {
  // A listener with a backlog of 1 that never accepts: past the first connections the kernel
  // drops the SYNs, so those connects neither complete nor fail (node:net cannot listen without
  // accepting; python3 is on every machine that builds the addon).
  const py = spawn('python3', ['-c', 'import socket,time\ns=socket.socket()\ns.bind(("127.0.0.1",0))\ns.listen(1)\nprint(s.getsockname()[1],flush=True)\ntime.sleep(60)'], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const port = await new Promise<number>((resolve) => py.stdout.once('data', (b: Buffer) => resolve(Number(b.toString().trim()))));
    const depth = 4;
    const d: DriverHandle = await startDriver({ driver: 'autocannon', protocol: 'http-hello', mode: 'closed', targets: [{ host: HOST, port }], depth, responseTimeoutMs: 1000 }, { stderr: 'pipe' });
    driverPids.push(d.pid);
    try {
      await d.ramp(6, 0, 5000);
      const run = await d.run(3000, 0);
      const connectTimeouts = run.connectErrors?.['ETIMEDOUT'] ?? 0;
      assert.ok(connectTimeouts > 0, `connects that timed out say so: ${JSON.stringify({ errors: run.errors, connectErrors: run.connectErrors })}`);
      // The rest are the requests of the one or two connections the backlog let complete: whole batches.
      assert.equal((run.errors.timeout - connectTimeouts) % depth, 0, JSON.stringify(run.errors));
      assert.equal(run.ops, 0);
    } finally {
      await d.close();
    }
  } finally {
    py.kill('SIGKILL');
  }
});

test('autocannon: requests a connected server holds past the response timeout are timeouts, depth per connection each time, no connect error', { timeout: TEST_TIMEOUT }, async () => {
  const depth = 4;
  const server = await faultyServer({ kind: 'stall', after: 200 });
  try {
    const run = await runAgainst(server, { driver: 'autocannon', depth, responseTimeoutMs: 1000 }, 3, 2500, 0);
    assert.ok(run.errors.timeout >= 3 * depth, JSON.stringify({ errors: run.errors, connectErrors: run.connectErrors }));
    assert.equal(run.errors.timeout % depth, 0, 'whole batches: every request a stalled connection had in flight');
    assert.equal(run.connectErrors?.['ETIMEDOUT'], undefined, 'these connections were up: no connect timed out');
    assert.match(run.warnings!.join('\n'), new RegExp(`${run.errors.timeout} requests to .* got no answer within 1000 ms`));
  } finally {
    await server.stop();
  }
});

test('autocannon: a server that hangs up after every 50 answers loses depth requests each time, and latency stays that of a server that does not', { timeout: TEST_TIMEOUT }, async () => {
  const depth = 4;
  const ok = await faultyServer({ kind: 'ok' });
  const closing = await faultyServer({ kind: 'close', after: 50 });
  try {
    const base = await runAgainst(ok, { driver: 'autocannon', depth }, 10, 1500, 0);
    const run = await runAgainst(closing, { driver: 'autocannon', depth }, 10, 1500, 0);
    const hangUps = run.extra['closedByServer']!;
    assert.ok(hangUps > 10, `the server hung up ${closing.closes} times, autocannon saw ${hangUps}`);
    assert.ok(hangUps <= closing.closes, `autocannon saw ${hangUps} hang-ups, the server made ${closing.closes}`);
    // Each hang-up lost the depth requests in flight on that socket: one error each, no more.
    assert.equal(run.extra['lost'], hangUps * depth, JSON.stringify(run.extra));
    assert.equal(run.errors.read + run.errors.write, hangUps * depth, JSON.stringify(run.errors));
    assert.equal(run.errors.timeout + run.errors.connect + run.errors.protocol, 0, JSON.stringify(run.errors));
    assert.ok(run.ops > 0 && latencyCount(run) === run.ops);
    // Answers are timed from their own request, not from one left queued by a closed socket
    // (which would put the median at the age of the stale queue, hundreds of ms).
    assert.ok(p50(run) <= 4 * p50(base) + 2000, `p50 ${p50(run)} µs against ${p50(base)} µs without hang-ups`);
    assert.match(run.warnings!.join('\n'), new RegExp(`${hangUps * depth} requests to .* were lost to hang-ups \\(${hangUps}\\)`));
  } finally {
    await ok.stop();
    await closing.stop();
  }
});

// ---- h2load: connections it loses, and stalls ---------------------------------------------------

test('h2load: connections reset in the window are counted, with their requests in flight, and not claimed as up', { timeout: TEST_TIMEOUT, skip: NO_H2LOAD }, async () => {
  const depth = 4;
  const connections = 10;
  // 1,000 answers per connection: every connection is reset well inside the 2.5 s window.
  const server = await faultyServer({ kind: 'reset', after: 1000 });
  try {
    const run = await runAgainst(server, { driver: 'h2load', depth }, connections, 2500, 0);
    assert.equal(server.closes, connections, 'the server reset every connection');
    assert.equal(run.connections, 0, 'no connection was up at the end');
    assert.equal(run.extra['connectionsLost'], connections);
    assert.equal(run.extra['connectionsUnknown'], 0);
    assert.equal(run.errors.read, connections * depth, JSON.stringify(run.errors));
    // Every answer the server wrote after the probe's reached h2load's log (no warm-up).
    assert.equal(run.ops, server.answered - connections);
    assert.equal(latencyCount(run), run.ops);
    assert.match(run.warnings!.join('\n'), /10 of its 10 connections were closed during the window/);
    assert.match(run.warnings!.join('\n'), /last answer came \d+ ms before the window's end; every connection was gone/);
  } finally {
    await server.stop();
  }
});

test('h2load: requests a stalled server holds past the response timeout are timeouts; the connections are still up', { timeout: TEST_TIMEOUT, skip: NO_H2LOAD }, async () => {
  const depth = 2;
  const connections = 5;
  const server = await faultyServer({ kind: 'stall', after: 200 });
  try {
    const run = await runAgainst(server, { driver: 'h2load', depth, responseTimeoutMs: 1000 }, connections, 2500, 0);
    assert.equal(run.connections, connections);
    assert.equal(run.errors.timeout, connections * depth, JSON.stringify(run.errors));
    assert.equal(run.errors.read, 0);
    assert.equal(run.ops, server.answered - connections);
    assert.match(run.warnings!.join('\n'), /got no answer within 1000 ms/);
  } finally {
    await server.stop();
  }
});

// ---- wrk: a stall is a timeout once it outlasts the response timeout ------------------------------

test('wrk: requests a stalled server holds past the response timeout are timeouts', { timeout: TEST_TIMEOUT, skip: NO_WRK }, async () => {
  const depth = 2;
  const connections = 5;
  const server = await faultyServer({ kind: 'stall', after: 200 });
  try {
    const run = await runAgainst(server, { driver: 'wrk', depth, responseTimeoutMs: 1000 }, connections, 2000, 0);
    assert.equal(run.extra['unanswered'], connections * depth);
    assert.equal(run.errors.timeout, connections * depth, JSON.stringify(run.errors));
    assert.equal(run.ops, server.answered - connections);
    assert.match(run.warnings!.join('\n'), /no answer came in \d+ ms of the \d+ ms window/);
  } finally {
    await server.stop();
  }
});

test('wrk: pauses spread over the window are no timeouts when nothing is overdue at its end', { timeout: TEST_TIMEOUT, skip: NO_WRK }, async () => {
  // Answers held 450 ms of every 500: the silent ticks add up to more than the 1 s timeout, but no
  // request ever waits 1 s, and the window's end finds none that did.
  const server = await faultyServer({ kind: 'pause', busyMs: 50, pauseMs: 450 });
  try {
    const run = await runAgainst(server, { driver: 'wrk', depth: 2, responseTimeoutMs: 1000 }, 5, 3000, 0);
    assert.ok(run.ops > 0);
    assert.equal(run.errors.timeout, 0, JSON.stringify({ errors: run.errors, extra: run.extra, warnings: run.warnings }));
    assert.ok((run.extra['maxUs'] ?? Infinity) < 1_000_000, `no answer waited the timeout: max ${run.extra['maxUs']} µs`);
  } finally {
    await server.stop();
  }
});

// ---- wrk: its measured run is the runner's window -----------------------------------------------

test('wrk: the measured run starts at warmupMs after the run command and lasts durationMs, not whole seconds', { timeout: TEST_TIMEOUT, skip: NO_WRK }, async (t) => {
  const connections = 4;
  const accepted: number[] = [];
  const server = await faultyServer({ kind: 'ok' });
  const d: DriverHandle = await startDriver({ driver: 'wrk', protocol: 'http-hello', mode: 'closed', targets: [{ host: HOST, port: server.port }] }, { stderr: 'pipe' });
  driverPids.push(d.pid);
  try {
    await d.ramp(connections, 0, 5000);
    // Accept times of every connection from here on: the warm-up's, then the measured run's.
    const before = server.connectionsSeen;
    const t0 = Date.now();
    const run = await d.run(1500, 500);
    accepted.push(...server.acceptedAt.slice(before).map((t) => t - t0));
    // Each wrk first connects once to check the address, then opens its connections.
    assert.equal(accepted.length, 2 * (connections + 1), `warm-up and measured connections: ${JSON.stringify(accepted)}`);
    const measuredStart = accepted[connections + 1]!;
    t.diagnostic(`measured wrk connected ${measuredStart} ms after the run command and ran ${run.durationMs} ms`);
    // The runner reads the server over [500, 2000] ms after its command; wrk stops on a 100 ms tick.
    assert.ok(measuredStart >= 400 && measuredStart <= 650, `the measured wrk connected ${measuredStart} ms after the run command`);
    assert.ok(run.durationMs >= 1400 && run.durationMs <= 1650, `the measured wrk ran ${run.durationMs} ms`);
  } finally {
    await d.close();
    await server.stop();
  }
});

// ---- One definition of ops: 2xx answers; every other answer is a protocol error ---------------

for (const driver of ['autocannon', 'h2load', 'wrk'] as const) {
  const skip = driver === 'wrk' ? NO_WRK : driver === 'h2load' ? NO_H2LOAD : false;
  test(`${driver}: ops are the 2xx answers, every 503 is a protocol error, latency holds every answer`, { timeout: TEST_TIMEOUT, skip }, async () => {
    const server = await faultyServer({ kind: 'status', code: 503, every: 5 });
    try {
      const run = await runAgainst(server, { driver }, 4, 1000, 300);
      const answered = driver === 'wrk' ? run.extra['answered']! : latencyCount(run);
      assert.equal(latencyCount(run), answered, 'one latency sample per answer (depth 1)');
      assert.equal(run.ops + run.errors.protocol, answered, `ops ${run.ops} + protocol ${run.errors.protocol} = answers ${answered}`);
      // One answer in five is a 503, whichever window of the server's sequence the run saw.
      assert.ok(Math.abs(run.errors.protocol - answered / 5) <= 4 + answered / 500, `${run.errors.protocol} of ${answered} answers were 503`);
      assert.equal(run.extra['requests'], run.ops);
      assert.ok(Math.abs(run.opsPerSec - run.ops / (run.durationMs / 1000)) <= 1e-6 * run.opsPerSec + 1e-9);
      // h2load's summary calls only answers below 400 succeeded: the 503s are no mismatch with its log.
      assert.doesNotMatch((run.warnings ?? []).join('\n'), /its log holds/);
    } finally {
      await server.stop();
    }
  });
}

// ---- h2loadLosses, the rules on made-up readings ------------------------------------------------

test('h2loadLosses: what is counted from the log, the sockets and the window, and what is said when the sockets are unknown', () => {
  const log = readH2loadLog('1000000000\t200\t500\n1000000100\t503\t400\n1000000200\t-1\t900\n');
  const o = { connections: 10, depth: 4, durationMs: 2000, warmupMs: 500, responseTimeoutMs: 1000 };
  // The window ended 2.5 s after the last answer (1,000,000,500 µs = 1,000,000.5 ms).
  const watch = { windowStartMs: 999_000, windowEndMs: 1_002_500.5, socketsPeak: 8, socketsAtEnd: 3 };
  const l = h2loadLosses('x', log, watch, { timeout: 0 }, o);
  assert.equal(l.connectionsAtEnd, 3);
  assert.equal(l.connectionsLost, 5);
  assert.equal(l.connectionsMissing, 2);
  // 5 lost connections × 4 in flight, and the failed line; 3 still up × 4 silent for 2.5 s ≥ 1 s.
  assert.deepEqual(l.errors, { connect: 0, read: 5 * 4 + 1, write: 0, timeout: 3 * 4, protocol: 1 });
  assert.deepEqual(l.warmupErrors, { connect: 0, read: 2 * 4, write: 0, timeout: 0, protocol: 0 });
  assert.equal(l.silentTailMs, 2500);
  // Without a warm-up, connections never open in the window never connected.
  assert.deepEqual(h2loadLosses('x', log, watch, { timeout: 0 }, { ...o, warmupMs: 0 }).errors.connect, 2);
  // Answers to the end: in-flight requests are not errors, and nothing is warned of.
  const busy = h2loadLosses('x', log, { ...watch, windowEndMs: 1_000_000.6, socketsPeak: 10, socketsAtEnd: 10 }, { timeout: 0 }, o);
  assert.deepEqual(busy.errors, { connect: 0, read: 1, write: 0, timeout: 0, protocol: 1 });
  assert.deepEqual(busy.warnings, []);
  const unknown = h2loadLosses('x', log, { ...watch, socketsPeak: null, socketsAtEnd: null }, { timeout: 0 }, o);
  assert.equal(unknown.connectionsAtEnd, null);
  assert.match(unknown.warnings.join('\n'), /how many of its 10 connections were up is unknown/);
});

test('h2load log: read from its file a chunk at a time, the same as read whole; a line split across chunks stays whole', () => {
  const dir = mkdtempSync(join(tmpdir(), 'c1m-h2log-'));
  try {
    // About 6 MB: more than one 4 MiB chunk, so at least one line straddles a boundary.
    const lines: string[] = [];
    for (let i = 0; i < 240_000; i++) lines.push(`${1796585256000000 + i * 7}\t${i % 97 === 0 ? 503 : i % 101 === 0 ? -1 : 200}\t${100 + (i % 5000)}`);
    const text = lines.join('\n') + '\n';
    const path = join(dir, 'log');
    writeFileSync(path, text);
    const whole = readH2loadLog(text);
    const chunked = readH2loadLogFile(path)!;
    assert.ok(text.length > 4 << 20);
    for (const k of ['lines', 'answered', 'ok2xx', 'non2xx', 'failed', 'lastAnswerEndUs'] as const) assert.equal(chunked[k], whole[k], k);
    assert.equal(chunked.lines, 240_000);
    assert.deepEqual(chunked.latency.toJSON(), whole.latency.toJSON());
    assert.equal(readH2loadLogFile(join(dir, 'none')), null, 'no file: h2load did not reach its window');
    writeFileSync(path, '1796585256173677 200 4750\n');
    assert.throws(() => readH2loadLogFile(path), /not "start<TAB>status<TAB>duration"/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
