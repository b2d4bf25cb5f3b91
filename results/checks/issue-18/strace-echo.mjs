// Syscalls per echo of a C reference echo server, counted over a bounded window of load and set
// against the echoes the server's own counters (bytesOut / message size) say it made in the same
// window. The load is the engine's connector in this process: a closed loop of 64-byte messages,
// depth 1, over N connections on loopback.
//
//   node results/checks/issue-18/strace-echo.mjs BINARY [connections=100] [seconds=5] [strace|perf]
//
// BINARY is build/Release/c1m_ref_echo (epoll) or build/Release/c1m_ref_echo_uring (io_uring).
// Prints one JSON line: the window's echoes, each syscall's count and count per echo.
// The counter: `strace -c -f -p PID` (the default), or `perf stat` on the syscall tracepoints.
// strace stops the server at every syscall, which changes what it does: the epoll server's
// second recv of a connection, meant to see EAGAIN, finds the client's next message already
// there, so it ping-pongs on one connection until its read budget and hardly waits; the io_uring
// server finds more completions per enter. perf's tracepoints count without stopping anything,
// so its figures are those of an untraced server.

import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClientGroup } from '../../../dist/src/engine/index.js';

const [binary, connArg = '100', secArg = '5', counter = 'strace'] = process.argv.slice(2);
if (binary === undefined || !['strace', 'perf'].includes(counter)) throw new Error('usage: strace-echo.mjs BINARY [connections] [seconds] [strace|perf]');
// io_uring's own tracepoints: SQEs submitted (a send each, in steady state), completions, and
// requests that found their socket not ready and armed a poll.
const PERF_URING = ['io_uring:io_uring_submit_req', 'io_uring:io_uring_complete', 'io_uring:io_uring_poll_arm'];
const PERF_SYSCALLS = ['sendto', 'recvfrom', 'epoll_wait', 'epoll_pwait', 'io_uring_enter', 'read', 'write', 'sendmsg', 'recvmsg', 'setsockopt', 'accept4', 'close'];
const connections = Number(connArg);
const seconds = Number(secArg);
const MESSAGE = 64;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const dir = mkdtempSync(join(tmpdir(), 'c1m-strace-'));
const countersFile = join(dir, 'counters');
const server = spawn(binary, ['127.0.0.1', '0', '1024', countersFile], { stdio: ['pipe', 'pipe', 'inherit'] });
const exited = new Promise((r) => server.once('exit', r));
let group;
let tracer;
try {
  const port = await new Promise((resolve, reject) => {
    let out = '';
    const t = setTimeout(() => reject(new Error('no "listening" within 5 s')), 5000);
    server.stdout.on('data', (d) => {
      out += d;
      const m = /listening (\d+)\n/.exec(out);
      if (m) {
        clearTimeout(t);
        resolve(Number(m[1]));
      }
    });
  });
  const bytesOut = () => Number(readFileSync(countersFile).readBigUInt64LE(32));
  group = new ClientGroup({ protocol: 'stream', targets: [{ host: '127.0.0.1', port }], messageBytes: MESSAGE, depth: 1 });
  group.ramp(connections, 0);
  const { stats } = await group.rampDone(10_000);
  if (stats.active !== connections) throw new Error(`only ${stats.active} of ${connections} connections up`);
  group.run('closed');
  await sleep(1000); // warm-up
  // The server's counters are read just before the counter starts and just after it ends: the
  // echo window holds the counted one, wider only by the counter's attach time (milliseconds).
  const out0 = bytesOut();
  const t0 = performance.now();
  const traceFile = join(dir, 'trace.txt');
  tracer =
    counter === 'strace'
      ? spawn('strace', ['-c', '-f', '-p', String(server.pid), '-o', traceFile], { stdio: ['ignore', 'ignore', 'pipe'] })
      : spawn('perf', ['stat', '-x', ',', '-o', traceFile, '-p', String(server.pid), '-e', [...PERF_SYSCALLS.map((c) => `syscalls:sys_enter_${c}`), ...PERF_URING].join(',')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let traceErr = '';
  tracer.stderr.on('data', (d) => (traceErr += d));
  if (counter === 'strace') {
    // strace says "Process N attached" on stderr once it is in.
    for (let i = 0; i < 50 && !/attached/.test(traceErr); i++) await sleep(100);
    if (!/attached/.test(traceErr)) throw new Error(`strace did not attach: ${traceErr}`);
  } else {
    await sleep(300); // perf stat says nothing until it ends; give it time to open its events
    if (tracer.exitCode !== null) throw new Error(`perf stat ended at once: ${traceErr}`);
  }
  await sleep(seconds * 1000);
  const traced = new Promise((r) => tracer.once('exit', r));
  tracer.kill('SIGINT');
  await traced;
  const out1 = bytesOut();
  const ms = performance.now() - t0;
  group.stop();
  const echoes = (out1 - out0) / MESSAGE;
  const calls = {};
  const uring = {};
  for (const line of readFileSync(traceFile, 'utf8').split('\n')) {
    if (counter === 'strace') {
      // strace -c's table: % time, seconds, usecs/call, calls, [errors,] syscall.
      const m = /^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:(\d+)\s+)?([a-z_0-9]+)\s*$/.exec(line);
      if (m && m[3] !== 'total') calls[m[3]] = { calls: Number(m[1]), errors: Number(m[2] ?? 0) };
    } else {
      // perf stat -x,: count,unit,event,…
      const m = /^(\d+),[^,]*,syscalls:sys_enter_([a-z_0-9]+),/.exec(line);
      if (m && Number(m[1]) > 0) calls[m[2]] = { calls: Number(m[1]) };
      const u = /^(\d+),[^,]*,io_uring:(io_uring_[a-z_]+),/.exec(line);
      if (u) uring[u[2]] = Number(u[1]);
    }
  }
  const total = Object.values(calls).reduce((a, c) => a + c.calls, 0);
  // The sends counted in the counter's own window (one per echo: depth 1, one message per read):
  // sendto calls for epoll, submitted SQEs for io_uring (sends, and the rare re-armed receive).
  // Per send, the window is exactly the counter's; per echo (bytesOut), it is a little wider.
  const sends = calls.sendto?.calls ?? uring.io_uring_submit_req ?? null;
  const perEcho = Object.fromEntries(Object.entries(calls).map(([k, c]) => [k, +(c.calls / echoes).toFixed(4)]));
  console.log(
    JSON.stringify({
      binary,
      counter,
      connections,
      messageBytes: MESSAGE,
      windowMs: Math.round(ms),
      echoes,
      echoesPerSec: Math.round(echoes / (ms / 1000)),
      syscalls: calls,
      syscallsTotal: total,
      syscallsPerEcho: +(total / echoes).toFixed(4),
      ...(Object.keys(uring).length > 0 ? { ioUringEvents: uring } : {}),
      sendsInWindow: sends,
      syscallsPerSend: sends ? +(total / sends).toFixed(4) : null,
      perEcho,
    }),
  );
} finally {
  if (tracer !== undefined && tracer.exitCode === null) tracer.kill('SIGINT');
  group?.close();
  server.kill('SIGTERM');
  await exited;
  rmSync(dir, { recursive: true, force: true });
}
