// A run's CPU covers its measured window, and its `pct` is the busiest single process of the
// driver: two tool processes side by side, each well under saturation, do not make a run
// client-bound, and the driver's own work after the window (reading a long h2load log) is not in
// the run's CPU. The tool here is a stand-in for h2load (a small Node script first on PATH) that
// burns a known share of one core during its window, holds its connections, and writes a log and
// a summary of h2load's shape, so that the CPU figures are known in advance.

import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startDriver } from '../src/drivers/driver-handle.js';
import { CLIENT_BOUND_PCT } from '../src/drivers/cpu.js';
import type { RunResult, Target } from '../src/drivers/driver-contract.js';
import { HTTP_HELLO_BODY } from '../src/wire/protocols.js';
import { waitGone } from './helpers/processes.js';

const HOST = '127.0.0.1';
const TEST_TIMEOUT = 60_000;
const WINDOW_MS = 1500;

/**
 * The stand-in h2load: busy `FAKE_BUSY_MS` of every 10 ms through its window (-D), then writes
 * FAKE_LINES log lines and h2load's summary. Only what the driver reads is imitated.
 */
const FAKE_H2LOAD = `#!${process.execPath}
const net = require('node:net');
const { writeFileSync } = require('node:fs');
const args = process.argv.slice(2);
const opt = (p) => args.find((a) => a.startsWith(p))?.slice(p.length);
const connections = Number(opt('-c'));
const durationMs = parseInt(opt('-D'), 10);
const logFile = opt('--log-file=');
const url = new URL(args[args.length - 1]);
const busyMs = Number(process.env.FAKE_BUSY_MS);
const lines = Number(process.env.FAKE_LINES);
const sockets = [];
let up = 0;
for (let i = 0; i < connections; i++) {
  const s = net.connect(Number(url.port), url.hostname, () => { if (++up === connections) start(); });
  s.on('error', () => {});
  sockets.push(s);
}
function start() {
  console.log('Main benchmark duration is started for thread #0.');
  const end = Date.now() + durationMs;
  const tick = () => {
    const until = Date.now() + busyMs;
    while (Date.now() < until);
    if (Date.now() < end) setTimeout(tick, 10 - busyMs);
    else finish();
  };
  tick();
}
function finish() {
  console.log('Main benchmark duration is over for thread #0. Stopping all clients.');
  const t = Date.now() * 1000;
  const log = [];
  for (let i = 0; i < lines; i++) log.push(t - 100 + '\\t200\\t100');
  writeFileSync(logFile, log.join('\\n') + '\\n');
  for (const s of sockets) s.destroy();
  console.log('requests: ' + lines + ' total, ' + lines + ' started, ' + lines + ' done, ' + lines + ' succeeded, 0 failed, 0 errored, 0 timeout');
  console.log('status codes: ' + lines + ' 2xx, 0 3xx, 0 4xx, 0 5xx');
  console.log('traffic: 1MB (' + lines * 100 + ') total, 0B (0) headers (space savings 0.00%), 0B (0) data');
}
`;

let bin: string;
const servers: http.Server[] = [];
const targets: Target[] = [];
const driverPids: number[] = [];

before(async () => {
  bin = mkdtempSync(join(tmpdir(), 'c1m-fake-h2load-'));
  writeFileSync(join(bin, 'h2load'), FAKE_H2LOAD);
  chmodSync(join(bin, 'h2load'), 0o755);
  for (let i = 0; i < 2; i++) {
    const s = http.createServer((_req, res) => res.end(HTTP_HELLO_BODY));
    await new Promise<void>((resolve) => s.listen(0, HOST, resolve));
    servers.push(s);
    targets.push({ host: HOST, port: (s.address() as net.AddressInfo).port });
  }
});

after(async () => {
  for (const s of servers) {
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
  rmSync(bin, { recursive: true, force: true });
  assert.deepEqual(await waitGone(driverPids, 3000), [], 'driver processes left behind');
});

async function runFake(on: Target[], busyMs: number, lines: number): Promise<RunResult> {
  const env = { ...process.env, PATH: `${bin}:${process.env['PATH'] ?? ''}`, FAKE_BUSY_MS: String(busyMs), FAKE_LINES: String(lines) };
  const d = await startDriver({ driver: 'h2load', protocol: 'http-hello', mode: 'closed', targets: on }, { stderr: 'pipe', env });
  driverPids.push(d.pid);
  try {
    await d.ramp(2 * on.length, 0, 5000);
    return await d.run(WINDOW_MS, 0);
  } finally {
    await d.close();
  }
}

test('two tool processes side by side, each at about half a core, are not client-bound', { timeout: TEST_TIMEOUT }, async (t) => {
  const run = await runFake(targets, 5, 10);
  t.diagnostic(`cpu ${JSON.stringify(run.cpu)}`);
  assert.equal(run.extra['h2loadProcesses'], 2);
  const used = run.cpu.userMs + run.cpu.sysMs;
  // Each used about half of one core over the window; together about one core.
  assert.ok(used >= 0.6 * WINDOW_MS && used <= 1.4 * WINDOW_MS, `both tools used ${used} ms of CPU in a ${WINDOW_MS} ms window`);
  assert.ok(run.cpu.pct >= 30 && run.cpu.pct <= 75, `the busiest tool used ${run.cpu.pct} % of a core`);
  assert.ok(run.cpu.pct < CLIENT_BOUND_PCT);
  assert.equal(run.clientBound, false);
});

test("reading a long log after the window is not in the run's CPU", { timeout: TEST_TIMEOUT }, async (t) => {
  // 1.5 million lines take the driver a second or more of CPU to read, after the window.
  const run = await runFake(targets.slice(0, 1), 2, 1_500_000);
  t.diagnostic(`cpu ${JSON.stringify(run.cpu)}`);
  assert.equal(run.ops, 1_500_000, 'the whole log was read');
  const used = run.cpu.userMs + run.cpu.sysMs;
  // The tool burnt a fifth of a core through its window; the driver's reading of its log is not counted.
  assert.ok(used <= 0.5 * WINDOW_MS, `the run's CPU is ${used} ms for a tool at about ${0.2 * WINDOW_MS} ms`);
  assert.ok(run.cpu.pct >= 10 && run.cpu.pct <= 40, `the tool used ${run.cpu.pct} % of a core`);
  assert.equal(run.clientBound, false);
});
