// What the native driver (the engine's connector) counts, against small servers that misbehave
// on purpose: each error reported once, in the phase it happened in; ops are the successful
// answers that arrived in the window; every message of the window ends in the latency, at its
// real wait when its answer comes soon after the window.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import http from 'node:http';
import { createNativeDriver } from '../src/drivers/native.js';
import { resolveDriverConfig } from '../src/drivers/driver-config.js';
import type { DriverConfig, DriverImpl, RunResult } from '../src/drivers/driver-contract.js';
import { Histogram } from '../src/metrics/histogram.js';

const HOST = '127.0.0.1';
const TIMEOUT = 30_000;
const NO_ERRORS = { connect: 0, read: 0, write: 0, timeout: 0, protocol: 0 };

async function listen(server: net.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  return (server.address() as net.AddressInfo).port;
}

async function closeServer(server: net.Server, sockets: Iterable<net.Socket> = []): Promise<void> {
  for (const s of sockets) s.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

async function driver(config: Omit<DriverConfig, 'driver'>): Promise<DriverImpl> {
  return createNativeDriver(resolveDriverConfig({ driver: 'native', ...config }));
}

const ramp = (d: DriverImpl, connections: number) => d.ramp({ type: 'ramp', connections, ratePerSec: 0, timeoutMs: 5000 }, () => {});
const run = (d: DriverImpl, durationMs: number, warmupMs: number): Promise<RunResult> => d.run({ type: 'run', durationMs, warmupMs }, () => {});
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** An echo server that can delay its echoes, hold them (silent), and reset its connections. */
function echoServer(o: { delayMs?: number } = {}) {
  const sockets = new Set<net.Socket>();
  const state = { silent: false, held: [] as [net.Socket, Buffer][] };
  const server = net.createServer((s) => {
    sockets.add(s);
    s.setNoDelay(true);
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
    s.on('data', (b) => {
      if (state.silent) {
        state.held.push([s, b]);
        return;
      }
      if ((o.delayMs ?? 0) > 0) setTimeout(() => s.destroyed || s.write(b), o.delayMs);
      else s.write(b);
    });
  });
  return { server, sockets, state };
}

test('native driver: each ramp reports its own errors, not the ones before it', { timeout: TIMEOUT }, async () => {
  // A port nobody listens on: every connect is refused.
  const probe = net.createServer();
  const port = await listen(probe);
  await closeServer(probe);
  const d = await driver({ protocol: 'tcp-echo', targets: [{ host: HOST, port }], mode: 'idle' });
  try {
    for (let i = 0; i < 3; i++) {
      const r = await ramp(d, 5);
      assert.equal(r.failed, 5);
      assert.deepEqual(r.connectErrors, { ECONNREFUSED: 5 });
      assert.equal(r.errors.connect, 5, `ramp ${i}: ${JSON.stringify(r.errors)}`);
    }
    assert.equal(d.stats().errors.connect, 15, 'the driver\'s life counts all of them');
  } finally {
    await d.close();
  }
});

test('native driver: a run\'s errors are not reported again by the next ramp, and errors between two runs are not lost', { timeout: TIMEOUT }, async () => {
  const { server, sockets } = echoServer();
  const port = await listen(server);
  const d = await driver({ protocol: 'tcp-echo', targets: [{ host: HOST, port }], mode: 'closed' });
  try {
    await ramp(d, 10);
    // Five connections are reset inside the window.
    setTimeout(() => [...sockets].slice(0, 5).forEach((s) => s.resetAndDestroy()), 500);
    const r1 = await run(d, 1000, 200);
    assert.equal(r1.errors.read, 5, `run 1: ${JSON.stringify(r1.errors)}`);
    assert.equal(r1.connections, 5);
    const back = await ramp(d, 10);
    assert.deepEqual(back.errors, NO_ERRORS, 'the ramp after the run saw no error of its own');
    // Between two runs (no ramp between): three more are reset.
    const r2 = await run(d, 300, 0);
    assert.deepEqual(r2.errors, NO_ERRORS);
    [...sockets].slice(0, 3).forEach((s) => s.resetAndDestroy());
    await sleep(200);
    const r3 = await run(d, 300, 100);
    assert.equal(r3.warmupErrors?.read, 3, `the gap's resets are reported before the window: ${JSON.stringify(r3.warmupErrors)}`);
    assert.deepEqual(r3.errors, NO_ERRORS);
    assert.equal(d.stats().errors.read, 8);
  } finally {
    await d.close();
    await closeServer(server, sockets);
  }
});

test('native driver: ops are the answers that arrived in the window, whenever their message left', { timeout: TIMEOUT }, async () => {
  // Each echo takes 200 ms, so every connection's first answer in the window is to a message of
  // the warm-up: work the server did in the window.
  const { server, sockets } = echoServer({ delayMs: 200 });
  const port = await listen(server);
  const d = await driver({ protocol: 'tcp-echo', targets: [{ host: HOST, port }], mode: 'closed', messageBytes: 64 });
  try {
    await ramp(d, 50);
    const r = await run(d, 1500, 500);
    assert.ok(r.ops > 0);
    // One 64-byte echo is one answer: the bytes that arrived in the window are its answers.
    assert.equal(r.ops, r.bytes / 64, `ops ${r.ops}, answers by bytes ${r.bytes / 64}`);
    assert.deepEqual(r.errors, NO_ERRORS);
  } finally {
    await d.close();
    await closeServer(server, sockets);
  }
});

test('native driver: the closed loop records the messages in flight at the window\'s end at their real latency', { timeout: TIMEOUT }, async () => {
  const { server, sockets } = echoServer({ delayMs: 200 });
  const port = await listen(server);
  const d = await driver({ protocol: 'tcp-echo', targets: [{ host: HOST, port }], mode: 'closed', messageBytes: 64 });
  try {
    await ramp(d, 20);
    const r = await run(d, 1000, 300);
    const h = Histogram.fromJSON(r.latency!);
    // Every message sent in the window is in the histogram once: the last one of each connection
    // was answered after the window, and waited for.
    assert.equal(h.count, r.extra['sent'], `${h.count} samples for ${r.extra['sent']} messages sent in the window`);
    assert.equal(r.extra['unanswered'], 0);
    assert.equal(h.count, r.extra['answered']! + r.extra['dropped']! + r.extra['timedOut']! + r.extra['lost']! + r.extra['unanswered']!, 'the latency\'s count, accounted for');
    assert.ok(h.min >= 190_000, `no sample is a part of its wait: min ${h.min} µs`);
  } finally {
    await d.close();
    await closeServer(server, sockets);
  }
});

test('native driver: a closed loop whose server stalls at the end of the window shows the stall', { timeout: TIMEOUT }, async () => {
  const { server, sockets, state } = echoServer();
  const port = await listen(server);
  const d = await driver({ protocol: 'tcp-echo', targets: [{ host: HOST, port }], mode: 'closed', messageBytes: 64 });
  try {
    await ramp(d, 10);
    // Silent from 700 ms before the window's end until well past the driver's settle time.
    const silence = setTimeout(() => (state.silent = true), 200 + 1300);
    const r = await run(d, 2000, 200);
    clearTimeout(silence);
    const h = Histogram.fromJSON(r.latency!);
    assert.equal(r.extra['unanswered'], 10, 'each connection\'s last message had no answer');
    assert.ok(h.max >= 700_000, `the stall is in the latency: max ${h.max} µs`);
  } finally {
    state.silent = false;
    await d.close();
    await closeServer(server, sockets);
  }
});

test('native driver: a closed loop sends a connection\'s next message before it serves the next connection', { timeout: TIMEOUT }, async () => {
  // The next message is stamped when it is written. Held until the end of the round (the loop's
  // cork), it waited for every connection served after it, and that wait read as the server's
  // latency. Here both connections' answers reach the driver in one round: the first is a good
  // answer, the second is garbage, which the driver closes at once. The first connection's next
  // request must leave before that close: it is not held behind the second's read.
  const OK = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok';
  const sockets = new Set<net.Socket>();
  const first: net.Socket[] = [];
  const order: string[] = [];
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
    let requests = 0;
    const gone = () => {
      if (s === first[1] && !order.includes('second closed')) order.push('second closed');
    };
    s.on('end', gone);
    s.on('close', () => {
      gone();
      sockets.delete(s);
    });
    s.on('data', () => {
      requests++;
      if (requests === 1) {
        first.push(s);
        // Both first requests are in: both answers are written in this one callback, so the
        // driver (on this thread) finds both ready in its next round, the good one first.
        if (first.length === 2) {
          first[0]!.write(OK);
          first[1]!.write('NOT-HTTP\r\n\r\n');
        }
        return;
      }
      if (s !== first[0]) return;
      if (requests === 2) order.push('first\'s next request');
      s.write(OK);
    });
  });
  const port = await listen(server);
  const d = await driver({ protocol: 'http-hello', targets: [{ host: HOST, port }], mode: 'closed' });
  try {
    await ramp(d, 2);
    const r = await run(d, 300, 0);
    assert.equal(r.errors.protocol, 1, `the garbage answer: ${JSON.stringify(r.errors)}`);
    assert.deepEqual(order.slice(0, 2), ['first\'s next request', 'second closed']);
  } finally {
    await d.close();
    await closeServer(server, sockets);
  }
});

test('native driver: a churn connection due outside the window waits for its answer like the others', { timeout: TIMEOUT }, async () => {
  // Every echo takes 300 ms, so each connection is still waiting for its answer at one of the
  // driver's timeout scans (every 100 ms). The warm-up's connections are not recorded, but their
  // response timeout (10 s) still runs from when they were due: none of them is a timeout.
  const { server, sockets } = echoServer({ delayMs: 300 });
  const port = await listen(server);
  const d = await driver({ protocol: 'tcp-echo', targets: [{ host: HOST, port }], mode: 'churn', rate: 40, responseTimeoutMs: 10_000 });
  try {
    const r = await run(d, 600, 500);
    assert.deepEqual(r.warmupErrors, NO_ERRORS, 'the warm-up\'s connections were answered, not timed out');
    assert.deepEqual(r.errors, NO_ERRORS);
    assert.ok(r.ops > 0, `the window's connections were answered: ${r.ops}`);
  } finally {
    await d.close();
    await closeServer(server, sockets);
  }
});

test('native driver: an HTTP answer outside 2xx is a protocol error and not an op, and its latency is recorded', { timeout: TIMEOUT }, async () => {
  const server = http.createServer((_req, res) => {
    res.writeHead(503, { 'content-length': 2 });
    res.end('no');
  });
  server.keepAliveTimeout = 30_000;
  const port = await listen(server);
  const d = await driver({ protocol: 'http-hello', targets: [{ host: HOST, port }], mode: 'closed' });
  try {
    await ramp(d, 5);
    const r = await run(d, 500, 100);
    assert.equal(r.ops, 0);
    assert.ok(r.errors.protocol > 0);
    assert.ok(Histogram.fromJSON(r.latency!).count > 0, 'answered, so in the latency');
  } finally {
    await d.close();
    server.closeAllConnections();
    await closeServer(server);
  }
});

for (const kind of ['TLS, answered with plain text', 'TLS, closed by the server', 'WebSocket, closed by the server', 'WebSocket, reset by the server'] as const) {
  test(`native driver: handshakes the server breaks are errors with their reason (${kind})`, { timeout: TIMEOUT }, async () => {
    const plain = kind.includes('plain text');
    const server = net.createServer((s) => {
      s.on('error', () => {});
      s.once('data', () => (plain ? s.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n') : kind.includes('reset') ? s.resetAndDestroy() : s.end()));
    });
    const port = await listen(server);
    const tls = kind.startsWith('TLS');
    const d = await driver({ protocol: tls ? 'tcp-echo' : 'ws-echo', targets: [{ host: HOST, port }], mode: 'idle', ...(tls ? { tls: { resume: false } } : {}) });
    try {
      const r = await ramp(d, 10);
      assert.equal(r.established, 0);
      assert.equal(r.failed, 10);
      const errors = r.errors.read + r.errors.protocol;
      assert.equal(errors, 10, `every broken handshake is an error: ${JSON.stringify(r.errors)}`);
      const reasons = Object.values(r.connectErrors).reduce((a, n) => a + n, 0);
      assert.equal(reasons, 10, `with its reason: ${JSON.stringify(r.connectErrors)}`);
      if (plain) assert.ok(Object.keys(r.connectErrors).every((k) => k.startsWith('TLS: ')), JSON.stringify(r.connectErrors));
    } finally {
      await d.close();
      await closeServer(server);
    }
  });

  test(`native driver: a churn run's broken handshakes are errors with their reason too (${kind})`, { timeout: TIMEOUT }, async () => {
    const plain = kind.includes('plain text');
    const server = net.createServer((s) => {
      s.on('error', () => {});
      s.once('data', () => (plain ? s.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n') : kind.includes('reset') ? s.resetAndDestroy() : s.end()));
    });
    const port = await listen(server);
    const tls = kind.startsWith('TLS');
    const d = await driver({ protocol: tls ? 'tcp-echo' : 'ws-echo', targets: [{ host: HOST, port }], mode: 'churn', rate: 50, ...(tls ? { tls: { resume: false } } : {}) });
    try {
      // The handshakes happen in the run (a handshake storm, the churn scenario), not in a ramp.
      const r = await run(d, 400, 0);
      const errors = r.errors.read + r.errors.protocol;
      assert.ok(errors >= 5, `the run's broken handshakes are errors: ${JSON.stringify(r.errors)}`);
      const reasons = Object.values(r.connectErrors ?? {}).reduce((a, n) => a + n, 0);
      assert.equal(reasons, errors, `each with its reason: ${JSON.stringify(r.connectErrors)}`);
      if (plain) assert.ok(Object.keys(r.connectErrors!).every((k) => k.startsWith('TLS: ')), JSON.stringify(r.connectErrors));
      const said = (r.warnings ?? []).find((w) => w.startsWith('connections failed during the run'));
      assert.ok(said !== undefined && Object.keys(r.connectErrors!).every((k) => said.includes(k)), `the run's warnings say them: ${JSON.stringify(r.warnings)}`);
    } finally {
      await d.close();
      await closeServer(server);
    }
  });
}
