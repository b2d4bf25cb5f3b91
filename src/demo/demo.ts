// A quick look at the engine without the scenario runner: for the native echo path and the JS
// echo path, each in a fresh server process, (1) hold idle connections and measure the
// server's RSS per connection as a slope, (2) run a closed-loop echo load from the engine's
// connector and report messages/s, messages per server CPU-second and latency, with the
// engine's counters. Everything on 127.0.0.1, bounded in connections and time.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ClientGroup } from '../engine/client.js';
import { sampleProcess } from '../metrics/proc.js';
import { linearFit } from '../metrics/stats.js';

export interface DemoOptions {
  idleConnections: number;
  loadConnections: number;
  seconds: number;
  messageBytes: number;
  depth: number;
}

export interface DemoResult {
  path: 'native echo' | 'JS echo';
  idle: { connections: number; rssBeforeBytes: number; rssAfterBytes: number; bytesPerConnection: number | null };
  load: {
    connections: number; messages: number; seconds: number; msgsPerSec: number; serverCpuSec: number; msgsPerServerCpuSec: number | null;
    /** CPU share of the load generator (this process); near 100% means msgs/s is the client's limit, not the server's. */
    clientCpuPct: number; clientBound: boolean;
    p50Us: number; p99Us: number;
  };
  counters: Record<string, number>;
}

const serverFile = fileURLToPath(new URL('./server.js', import.meta.url));

function startServer(protocol: 'echo' | 'raw'): Promise<{ child: ChildProcess; port: number }> {
  return new Promise((resolve, reject) => {
    const child = fork(serverFile, [protocol], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`demo server exited early with code ${code}`)));
    child.once('message', (m) => resolve({ child, port: (m as { port: number }).port }));
  });
}

function stats(child: ChildProcess): Promise<{ counters: Record<string, number> }> {
  return new Promise((resolve) => {
    child.once('message', (m) => resolve(m as { counters: Record<string, number> }));
    child.send('stats');
  });
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  child.removeAllListeners('exit');
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(t);
}

const rss = (pid: number): number => sampleProcess(pid, { pss: false, fds: false })?.rssBytes ?? NaN;
const cpuSec = (pid: number): number => {
  const s = sampleProcess(pid, { pss: false, fds: false });
  return s ? (s.cpuUserMs + s.cpuSysMs) / 1000 : NaN;
};
const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 300));

async function measure(protocol: 'echo' | 'raw', o: DemoOptions, log: (s: string) => void): Promise<DemoResult> {
  const path = protocol === 'echo' ? 'native echo' : 'JS echo';
  const { child, port } = await startServer(protocol);
  const pid = child.pid!;
  try {
    // Idle: RSS at several connection counts; the slope is the cost of one more connection.
    // The connections come from the engine's connector in this process (native, no JS each).
    log(`${path}: opening ${o.idleConnections} idle connections`);
    await settle();
    const xs: number[] = [0];
    const ys: number[] = [rss(pid)];
    const idle = new ClientGroup({ protocol: 'stream', targets: [{ host: '127.0.0.1', port }] });
    const steps = 4;
    for (let k = 1; k <= steps; k++) {
      idle.ramp(Math.round((o.idleConnections * k) / steps));
      await idle.rampDone(30000);
      await settle();
      xs.push(idle.stats().active);
      ys.push(rss(pid));
    }
    const fit = linearFit(xs, ys);
    const idleResult = { connections: idle.stats().active, rssBeforeBytes: ys[0]!, rssAfterBytes: ys.at(-1)!, bytesPerConnection: fit ? Math.round(fit.slope * 10) / 10 : null };
    idle.close();

    // Load: closed loop, `depth` messages in flight per connection, native client.
    log(`${path}: echo load, ${o.loadConnections} connections × depth ${o.depth}, ${o.messageBytes}-byte messages, ${o.seconds}s`);
    const load = new ClientGroup({ protocol: 'stream', targets: [{ host: '127.0.0.1', port }], messageBytes: o.messageBytes, depth: o.depth });
    load.ramp(o.loadConnections);
    await load.rampDone(30000);
    load.reset();
    load.run('closed');
    const cpu0 = cpuSec(pid);
    const client0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    await new Promise((r) => setTimeout(r, o.seconds * 1000));
    const done = load.stats();
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    load.stop();
    const messages = done.ops;
    const serverCpu = cpuSec(pid) - cpu0;
    const cu = process.cpuUsage(client0);
    const clientCpuPct = Math.round(((cu.user + cu.system) / 1e6 / secs) * 100);
    const counters = (await stats(child)).counters;
    load.close();
    return {
      path,
      idle: idleResult,
      load: {
        connections: done.active, messages, seconds: secs, msgsPerSec: Math.round(messages / secs), serverCpuSec: Math.round(serverCpu * 100) / 100,
        msgsPerServerCpuSec: serverCpu > 0 ? Math.round(messages / serverCpu) : null,
        clientCpuPct, clientBound: clientCpuPct >= 90,
        p50Us: done.latency.valueAtPercentile(50), p99Us: done.latency.valueAtPercentile(99),
      },
      counters,
    };
  } finally {
    await stop(child);
  }
}

/** Runs the demo for both engine paths and returns their figures. */
export async function runDemo(o: DemoOptions, log: (s: string) => void = (s) => process.stderr.write(`${s}\n`)): Promise<DemoResult[]> {
  const out: DemoResult[] = [];
  for (const protocol of ['echo', 'raw'] as const) out.push(await measure(protocol, o, log));
  return out;
}

/** The demo's table, as text. */
export function formatDemo(results: DemoResult[]): string {
  const fmt = (n: number | null): string => (n === null || Number.isNaN(n) ? '—' : n.toLocaleString('en-US'));
  const lines = [
    'path          idle conns  RSS before → after (KiB)   B/conn (slope)   msgs/s      server CPU s   msgs/server-CPU-s  p50/p99 µs     client CPU',
  ];
  for (const r of results) {
    lines.push([
      r.path.padEnd(13),
      fmt(r.idle.connections).padStart(10),
      `${fmt(Math.round(r.idle.rssBeforeBytes / 1024))} → ${fmt(Math.round(r.idle.rssAfterBytes / 1024))}`.padStart(26),
      fmt(r.idle.bytesPerConnection).padStart(16),
      fmt(r.load.msgsPerSec).padStart(11),
      fmt(r.load.serverCpuSec).padStart(14),
      fmt(r.load.msgsPerServerCpuSec).padStart(19),
      `${fmt(r.load.p50Us)}/${fmt(r.load.p99Us)}`.padStart(13),
      `${r.load.clientCpuPct}%${r.load.clientBound ? ' (client-bound: msgs/s is a lower bound)' : ''}`.padStart(11),
    ].join(' '));
  }
  for (const r of results) {
    const c = r.counters;
    lines.push(`${r.path}: accepted ${fmt(c['accepted'] ?? null)}, reads ${fmt(c['reads'] ?? null)}, writes ${fmt(c['writes'] ?? null)}, ` +
      `epoll waits ${fmt(c['epollWaits'] ?? null)}, events ${fmt(c['events'] ?? null)}, batches ${fmt(c['batches'] ?? null)}, ` +
      `largest batch ${fmt(c['largestBatch'] ?? null)}, budget requeues ${fmt(c['budgetRequeues'] ?? null)}, errors ${fmt((c['errRead'] ?? 0) + (c['errWrite'] ?? 0) + (c['errAccept'] ?? 0))}`);
  }
  return lines.join('\n');
}

function intArg(args: string[], name: string, dflt: number, min: number, max: number): number {
  const i = args.indexOf(`--${name}`);
  if (i < 0) return dflt;
  const v = Number(args[i + 1]);
  if (!Number.isInteger(v) || v < min || v > max) throw new RangeError(`--${name} must be an integer between ${min} and ${max}, got ${args[i + 1]}`);
  return v;
}

export async function main(args: string[] = process.argv.slice(2)): Promise<void> {
  const o: DemoOptions = {
    idleConnections: intArg(args, 'idle', 4000, 100, 19000),
    loadConnections: intArg(args, 'connections', 200, 1, 5000),
    seconds: intArg(args, 'seconds', 5, 1, 120),
    messageBytes: intArg(args, 'size', 64, 1, 65536),
    depth: intArg(args, 'depth', 8, 1, 256),
  };
  const results = await runDemo(o);
  process.stdout.write(`${formatDemo(results)}\n`);
  if (args.includes('--json')) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((e: unknown) => {
    process.stderr.write(`demo: ${(e as Error).message}\n`);
    process.exit(1);
  });
}
