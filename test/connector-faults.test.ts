// The connector under faults a review found (issue 14): a server that answers and then resets
// while the connector is still parsing the same read (use after close), and a server that stops
// answering an open loop (tails that must stay in the latency record).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ClientGroup } from '../src/engine/client.js';
import { Engine } from '../src/index.js';
import { fdCount, sleep, until } from './helpers/net.js';

interface Done {
  ramp: { established: number; timedOut: boolean };
  stats: Record<string, number>;
  latency: { count: number; p50: number; max: number };
}

/** Runs test/helpers/client-run.js with plan and returns its report and how the process ended. */
function runClient(plan: unknown, boundMs = 20000): Promise<{ done: Done | null; code: number | null; signal: string | null; exitedAlone: boolean }> {
  const file = fileURLToPath(new URL('./helpers/client-run.js', import.meta.url));
  const proc = fork(file, [JSON.stringify(plan)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  let done: Done | null = null;
  proc.on('message', (m: { type?: string } & Partial<Done>) => {
    if (m.type === 'done') done = m as Done;
  });
  return new Promise((resolve) => {
    let exitedAlone = true;
    const bound = setTimeout(() => {
      exitedAlone = false;
      proc.kill('SIGKILL');
    }, boundMs);
    proc.once('exit', (code, signal) => {
      clearTimeout(bound);
      resolve({ done, code, signal, exitedAlone });
    });
  });
}

function listen(server: net.Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port)));
}

const N = 20;

test('connector: two pipelined HTTP responses then a reset: one close per connection, exact counts, the process exits', { timeout: 60000 }, async () => {
  // Both answers and the RST are in the connector's socket before it reads: the first answer's
  // closed-loop send then fails (the peer reset), which closes the connection in the middle of
  // parsing the read that still holds the second answer.
  const answer = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok';
  const server = net.createServer((s) => {
    s.once('data', () => {
      s.write(answer + answer);
      s.resetAndDestroy();
    });
    s.on('error', () => {});
  });
  const port = await listen(server);
  try {
    const r = await runClient({ group: { protocol: 'http', targets: [{ host: '127.0.0.1', port }] }, connections: N, mode: 'closed', ms: 1500 });
    assert.equal(r.signal, null, `the client process died of ${r.signal}`);
    assert.equal(r.exitedAlone, true, 'the client process ended by itself (nothing left open, no count underflow)');
    assert.equal(r.code, 0);
    assert.ok(r.done, 'the client reported its stats');
    const s = r.done.stats;
    assert.equal(r.done.ramp.established, N);
    assert.equal(s['established'], N);
    assert.equal(s['closed'], N, 'every connection closed exactly once');
    assert.equal(s['active'], 0);
    assert.equal(s['pending'], 0);
    // One close each, counted once under its cause (the failed send, or the reset read).
    assert.equal(s['errWrite']! + s['errRead']! + s['peerClosed']! + s['errProtocol']!, N, JSON.stringify(s));
    // Every message of the window is in the record: answered, or lost with its connection.
    assert.equal(r.done.latency.count, s['answered']! + s['lost']! + s['timedOut']! + s['dropped']! + s['unanswered']!);
  } finally {
    server.close();
  }
});

test('connector: a WebSocket echo, a ping and a reset in one read: no abort, one close each, the process exits', { timeout: 60000 }, async () => {
  const upgraded = new WeakSet<net.Socket>();
  const server = net.createServer((s) => {
    s.on('error', () => {});
    s.on('data', (d: Buffer) => {
      if (!upgraded.has(s)) {
        upgraded.add(s);
        // The connector checks only the status line and that the response head is whole.
        s.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n');
        return;
      }
      // d is one masked client frame (2-byte header + 4-byte mask for payloads under 126 bytes).
      const len = d[1]! & 0x7f;
      const mask = d.subarray(2, 6);
      const payload = Buffer.from(d.subarray(6, 6 + len));
      for (let i = 0; i < payload.length; i++) payload[i]! ^= mask[i % 4]!;
      const echo = Buffer.concat([Buffer.from([0x82, payload.length]), payload]);
      const ping = Buffer.from([0x89, 0x00]);
      s.write(Buffer.concat([echo, ping]));
      s.resetAndDestroy();
    });
  });
  const port = await listen(server);
  try {
    const r = await runClient({ group: { protocol: 'ws-echo', targets: [{ host: '127.0.0.1', port }] }, connections: N, mode: 'closed', ms: 1500 });
    assert.equal(r.signal, null, `the client process died of ${r.signal}`);
    assert.notEqual(r.code, 134, 'no assertion abort');
    assert.equal(r.exitedAlone, true, 'the client process ended by itself');
    assert.equal(r.code, 0);
    assert.ok(r.done);
    const s = r.done.stats;
    assert.equal(s['established'], N);
    assert.equal(s['closed'], N);
    assert.equal(s['active'], 0);
    assert.equal(s['pending'], 0);
    assert.equal(r.done.latency.count, s['answered']! + s['lost']! + s['timedOut']! + s['dropped']! + s['unanswered']!);
  } finally {
    server.close();
  }
});

test('connector, open loop: a server that stops answering keeps every scheduled message in the latency record', { timeout: 60000 }, async () => {
  Engine.get();
  const fds = fdCount();
  // An echo server that answers for the first 300 ms of each connection's load, then goes silent
  // (keeps the connection, reads, never answers).
  const server = net.createServer((s) => {
    s.on('error', () => {});
    let first = 0;
    s.on('data', (d: Buffer) => {
      first ||= Date.now();
      if (Date.now() - first < 300) s.write(d);
    });
  });
  const port = await listen(server);
  const RATE = 2000;
  const WINDOW_MS = 1500;
  const g = new ClientGroup({ protocol: 'stream', targets: [{ host: '127.0.0.1', port }], messageBytes: 16, responseTimeoutMs: 400 });
  try {
    g.ramp(10, 0);
    const ramp = await g.rampDone(10000);
    assert.equal(ramp.stats.established, 10);
    g.run('open', RATE);
    g.reset();
    await sleep(WINDOW_MS);
    g.stop();
    const s = g.stats();
    const givenUp = s.dropped + s.timedOut + s.lost + s.unanswered;
    // Every message the schedule put in the window ends once in the record: answered or given up.
    assert.equal(s.latency.count, s.answered + givenUp, JSON.stringify({ ...s, latency: s.latency.count }));
    const scheduled = (RATE * WINDOW_MS) / 1000;
    assert.ok(Math.abs(s.latency.count - scheduled) <= scheduled * 0.1, `${s.latency.count} recorded, about ${scheduled} scheduled`);
    // The silence is visible: messages timed out (their connections closed) and the tail is at
    // least the response timeout, not the latency of the answers that did come.
    assert.ok(s.timedOut > 0, `timed out: ${s.timedOut}`);
    assert.ok(s.errTimeout > 0);
    assert.ok(s.latency.max >= 400_000, `max ${s.latency.max} µs`);
    assert.ok(s.latency.valueAtPercentile(90) >= 100_000, `p90 ${s.latency.valueAtPercentile(90)} µs`);
  } finally {
    g.close();
    server.close();
  }
  await until(() => fdCount() === fds, `fds back to ${fds} (now ${fdCount()})`, 5000);
});
