// The parent's side: start a contender as one or more child processes, ask them for stats,
// publish to their rooms, and stop them within a bound.

import { spawn } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { checkProtocol } from '../wire/protocols.js';
import { checkHost, checkInt } from '../checks.js';
import { LIMITS, resolveLimit } from '../limits.js';
import { checkPortMode, checkServerTls, DEFAULT_HOST, drainBoundMs, resolveLimits } from './contender-config.js';
import { getContender, speaksWith } from './registry.js';
import type {
  AppliedTls,
  ChildConfig,
  ContenderStats,
  EffectiveLimits,
  Limits,
  MemoryStats,
  PortMode,
  Protocol,
  ReadyMessage,
  ServerStats,
  ServerTls,
  WorkerStats,
} from './contender-contract.js';
import { CHILD_PATH, ContenderUnavailableError, KILL_AFTER_BOUND_MS, WorkerProcess, type SpawnOptions, type WorkerExit } from './worker.js';

export { ContenderUnavailableError, type WorkerExit } from './worker.js';

export interface StartOptions {
  contender: string;
  protocol: Protocol;
  /** Default 127.0.0.1. */
  host?: string;
  /** First port; 0 (the default) lets each worker take a free port. */
  port?: number;
  /** Worker processes, default 1. */
  workers?: number;
  /** Default 'per-worker': worker i on port + i. 'shared' needs SO_REUSEPORT support. */
  portMode?: PortMode;
  limits?: Partial<Limits>;
  /** The child's drain bound on SIGTERM, default 3000 ms. */
  shutdownMs?: number;
  /** How long to wait for every worker's ready message, default 10000 ms. */
  readyTimeoutMs?: number;
  /** 'ipc' (default) or 'stdio': JSON lines on the child's stdin/stdout. */
  control?: 'ipc' | 'stdio';
  /** A command prefix, e.g. ['taskset', '-c', '2'] or a profiler; node and the child follow it. */
  wrap?: readonly string[];
  /** Node flags for the child (default none: the parent's flags are not inherited). */
  execArgv?: readonly string[];
  env?: NodeJS.ProcessEnv;
  /** 'inherit' (default) or 'pipe': keep the last 64 KiB of each worker's stderr for the stop report. */
  stderr?: 'inherit' | 'pipe';
  /** Contender-specific settings, passed to the child untouched. */
  options?: Record<string, unknown>;
  /**
   * TLS on every worker's listener (https-hello, wss, tls-echo, frames over TLS); absent: plain
   * TCP. A contender that cannot serve the protocol over TLS so is skipped with its reason.
   */
  tls?: ServerTls;
}

export interface WorkerInfo {
  worker: number;
  /** The server's own pid (the spawned process's pid unless a wrapper forked it). */
  pid: number;
  port: number;
  limits: EffectiveLimits;
  /** The TLS the worker applies (its ready message); null when it serves plain TCP. */
  tls: AppliedTls | null;
  /** Processes that serve for this worker besides it (c-ref's C program); none for most. */
  servingPids: number[];
}

export interface StopReport {
  /** Every worker exited with code 0 on its own. */
  ok: boolean;
  workers: WorkerExit[];
  /**
   * The graceful drain of all workers: `cut` is the connections the drain bound forced closed,
   * summed over the workers (each worker's own is in workers[i].cut); null when any worker could
   * not tell or did not report (killed, died). `boundMs` is the drain bound each worker had.
   */
  drain: { cut: number | null; boundMs: number };
}

export interface StopOptions {
  /** SIGTERM (default) drains and exits; SIGINT drains and lets the loop end (for profilers). */
  signal?: 'SIGTERM' | 'SIGINT';
  /** Wait this long before SIGKILL; default the shutdown bound plus one second. */
  killAfterMs?: number;
}

export interface ContenderHandle {
  readonly contender: string;
  readonly protocol: Protocol;
  readonly host: string;
  readonly ports: readonly number[];
  readonly pids: readonly number[];
  /** The processes whose CPU and memory are the server's (see the class). */
  readonly measuredPids: readonly number[];
  readonly workers: readonly WorkerInfo[];
  /**
   * The TLS every worker applies (they are checked to agree when the contender starts); null when
   * it serves plain TCP. This is what a result records of the contender's TLS.
   */
  readonly tls: AppliedTls | null;
  /** Stats of every worker, and their sums. Rejects if a worker has exited or does not answer. */
  stats(timeoutMs?: number): Promise<ContenderStats>;
  /**
   * ws-broadcast: sends data (string as text, bytes as binary) to every member of room, in every
   * worker (rooms are per worker process); resolves with the number of recipients.
   */
  publish(room: string, data: string | Uint8Array, timeoutMs?: number): Promise<number>;
  /** Runs a full GC in every worker; true when all of them could (started with --expose-gc). */
  gc(timeoutMs?: number): Promise<boolean>;
  /** Signals every worker, waits for it, SIGKILLs after the bound. Idempotent. */
  stop(options?: StopOptions): Promise<StopReport>;
}

export interface ResolvedStart extends SpawnOptions {
  contender: string;
  protocol: Protocol;
  host: string;
  port: number;
  workers: number;
  portMode: PortMode;
  limits: Limits;
  shutdownMs: number;
  readyTimeoutMs: number;
  options: Record<string, unknown>;
  tls?: ServerTls;
}

const START_KEYS = new Set([
  'contender', 'protocol', 'host', 'port', 'workers', 'portMode', 'limits', 'shutdownMs', 'readyTimeoutMs',
  'control', 'wrap', 'execArgv', 'env', 'stderr', 'options', 'tls',
]);

/** Checks start options and fills in the defaults (exported for the limits test). */
export function resolveStart(o: StartOptions): ResolvedStart {
  if (typeof o !== 'object' || o === null) throw new TypeError('startContender needs an options object');
  for (const key of Object.keys(o)) if (!START_KEYS.has(key)) throw new RangeError(`unknown start option "${key}"`);
  if (typeof o.contender !== 'string') throw new TypeError(`contender must be a string, got ${JSON.stringify(o.contender)}`);
  getContender(o.contender);
  const protocol = checkProtocol(o.protocol);
  const workers = resolveLimit('workers', o.workers);
  const port = resolveLimit('port', o.port);
  const portMode = checkPortMode(o.portMode ?? 'per-worker');
  if (portMode === 'per-worker' && port !== 0 && port + workers - 1 > LIMITS.port.max) {
    throw new RangeError(`ports ${port}..${port + workers - 1} run past ${LIMITS.port.max}`);
  }
  const control = o.control ?? 'ipc';
  if (control !== 'ipc' && control !== 'stdio') throw new RangeError(`control must be "ipc" or "stdio", got ${JSON.stringify(control)}`);
  const stderr = o.stderr ?? 'inherit';
  if (stderr !== 'inherit' && stderr !== 'pipe') throw new RangeError(`stderr must be "inherit" or "pipe", got ${JSON.stringify(stderr)}`);
  const strings = (name: string, v: unknown): readonly string[] => {
    if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) throw new TypeError(`${name} must be an array of strings`);
    return v as string[];
  };
  const options = o.options ?? {};
  if (typeof options !== 'object' || options === null || Array.isArray(options)) throw new TypeError('options must be an object');
  return {
    contender: o.contender,
    protocol,
    host: checkHost(o.host ?? DEFAULT_HOST),
    port,
    workers,
    portMode,
    limits: resolveLimits(o.limits ?? {}),
    shutdownMs: resolveLimit('shutdownMs', o.shutdownMs),
    readyTimeoutMs: resolveLimit('readyTimeoutMs', o.readyTimeoutMs),
    control,
    wrap: strings('wrap', o.wrap ?? []),
    execArgv: strings('execArgv', o.execArgv ?? []),
    env: o.env ?? process.env,
    stderr,
    options,
    ...(o.tls === undefined ? {} : { tls: checkServerTls(o.tls) }),
  };
}

function childConfig(o: ResolvedStart, worker: number, port: number): ChildConfig {
  return {
    contender: o.contender,
    protocol: o.protocol,
    host: o.host,
    port,
    worker,
    workers: o.workers,
    portMode: o.portMode,
    limits: o.limits,
    shutdownMs: o.shutdownMs,
    options: o.options,
    ...(o.tls === undefined ? {} : { tls: o.tls }),
  };
}

/**
 * Starts a contender: one child process per worker, each ready (listening) when this resolves.
 * Rejects with ContenderUnavailableError when the pair is skipped or the contender cannot run
 * here, with TypeError/RangeError for bad options, and with Error when a worker fails to start
 * (the workers already started are stopped first).
 */
export async function startContender(options: StartOptions): Promise<ContenderHandle> {
  const o = resolveStart(options);
  const def = getContender(o.contender);
  const speaks = speaksWith(def, o.protocol, o.tls);
  if (speaks !== true) throw new ContenderUnavailableError(o.contender, o.protocol, 'skipped', speaks);
  if (o.portMode === 'shared') {
    const shared = def.sharedPort();
    if (shared !== true) throw new RangeError(`${o.contender} cannot share a port between workers: ${shared}`);
  }

  const procs: WorkerProcess[] = [];
  const launch = (worker: number, port: number): Promise<ReadyMessage> => {
    const p = new WorkerProcess(childConfig(o, worker, port), o);
    procs.push(p);
    return p.waitReady(o.readyTimeoutMs, o.contender, o.protocol);
  };
  try {
    // SO_REUSEPORT needs a concrete port in every worker (uSockets does not even set it for
    // port 0), so a shared port 0 becomes a port that was free a moment ago.
    const base = o.portMode === 'shared' && o.port === 0 ? await freePort(o.host) : o.port;
    const portOf = (i: number): number => (base === 0 || o.portMode === 'shared' ? base : base + i);
    const readies = await Promise.all(Array.from({ length: o.workers }, (_, i) => launch(i, portOf(i))));
    agreedTls(o, readies);
  } catch (err) {
    await Promise.all(procs.map((p) => p.stop('SIGTERM', o.shutdownMs + KILL_AFTER_BOUND_MS)));
    throw err;
  }
  procs.sort((a, b) => a.worker - b.worker);
  return new Handle(o, procs);
}

/**
 * The TLS every worker applies: each says so exactly when it was asked for TLS, and all say the
 * same (a result records one AppliedTls per contender). Throws what does not hold.
 */
export function agreedTls(o: Pick<ResolvedStart, 'contender' | 'tls'>, readies: readonly Pick<ReadyMessage, 'worker' | 'tls'>[]): AppliedTls | null {
  let first: AppliedTls | undefined;
  for (const r of readies) {
    if (o.tls === undefined) {
      if (r.tls !== undefined) throw new Error(`${o.contender} worker ${r.worker} reports TLS (${JSON.stringify(r.tls)}) it was not asked for`);
      continue;
    }
    if (r.tls === undefined) throw new Error(`${o.contender} worker ${r.worker} was asked for TLS but its ready message says nothing of it`);
    if (first === undefined) first = r.tls;
    else if (JSON.stringify(r.tls) !== JSON.stringify(first)) {
      throw new Error(`${o.contender} workers disagree on the TLS they apply: worker ${readies[0]?.worker} ${JSON.stringify(first)}, worker ${r.worker} ${JSON.stringify(r.tls)}`);
    }
  }
  return first ?? null;
}

function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen({ host, port: 0 }, () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

function sumNullable(values: (number | null)[]): number | null {
  let sum = 0;
  for (const v of values) {
    if (v === null) return null;
    sum += v;
  }
  return sum;
}

/** Connections cut by every worker's drain: null when any worker could not tell or did not report. */
export function totalCut(workers: readonly Pick<WorkerExit, 'cut'>[]): number | null {
  return sumNullable(workers.map((w) => w.cut));
}

/** Extra counters that are a worker's largest (engine.largestBatch, engine.queuedBytesPeak): across workers, the largest. */
const PEAK_EXTRA = /(^|\.)largest[A-Z]|Peak$/;

/** Sums worker stats (a field is null when any worker reports it as not measured); peak counters take the largest. */
export function aggregateStats(contender: string, protocol: Protocol, workers: WorkerStats[]): ContenderStats {
  const extra: Record<string, number> = {};
  for (const w of workers) {
    for (const [k, v] of Object.entries(w.extra)) {
      const prev = extra[k];
      extra[k] = prev === undefined ? v : PEAK_EXTRA.test(k) ? Math.max(prev, v) : prev + v;
    }
  }
  const sum = (f: (w: WorkerStats) => number): number => workers.reduce((a, w) => a + f(w), 0);
  const total: ServerStats & MemoryStats = {
    connectionsNow: sum((w) => w.connectionsNow),
    connectionsTotal: sum((w) => w.connectionsTotal),
    messagesIn: sumNullable(workers.map((w) => w.messagesIn)),
    messagesOut: sumNullable(workers.map((w) => w.messagesOut)),
    bytesIn: sumNullable(workers.map((w) => w.bytesIn)),
    bytesOut: sumNullable(workers.map((w) => w.bytesOut)),
    protocolErrors: sum((w) => w.protocolErrors),
    extra,
    heapUsedBytes: sumNullable(workers.map((w) => w.heapUsedBytes)),
    heapTotalBytes: sumNullable(workers.map((w) => w.heapTotalBytes)),
    externalBytes: sumNullable(workers.map((w) => w.externalBytes)),
    arrayBuffersBytes: sumNullable(workers.map((w) => w.arrayBuffersBytes)),
    rssBytes: sum((w) => w.rssBytes),
  };
  return { contender, protocol, at: Date.now(), total, workers };
}

class Handle implements ContenderHandle {
  readonly contender: string;
  readonly protocol: Protocol;
  readonly host: string;
  readonly workers: readonly WorkerInfo[];
  readonly tls: AppliedTls | null;
  readonly #procs: readonly WorkerProcess[];
  readonly #opts: ResolvedStart;
  #stopping: Promise<StopReport> | undefined;

  constructor(o: ResolvedStart, procs: readonly WorkerProcess[]) {
    this.contender = o.contender;
    this.protocol = o.protocol;
    this.host = o.host;
    this.#opts = o;
    this.#procs = procs;
    this.workers = procs.map((p) => {
      const r = p.ready as ReadyMessage;
      return { worker: r.worker, pid: r.pid, port: r.port, limits: r.limits, tls: r.tls ?? null, servingPids: r.servingPids ?? [] };
    });
    this.tls = this.workers[0]?.tls ?? null;
  }

  get ports(): readonly number[] {
    return this.workers.map((w) => w.port);
  }
  /** Every process of the contender: each worker and what serves for it. */
  get pids(): readonly number[] {
    return this.workers.flatMap((w) => [w.pid, ...w.servingPids]);
  }
  /**
   * The processes whose CPU and memory are the server's: a worker's serving processes when it
   * has them (c-ref's C program; its Node worker only starts it and relays its counters, and
   * its 60 MB were most of c-ref's RSS), else the worker.
   */
  get measuredPids(): readonly number[] {
    return this.workers.flatMap((w) => (w.servingPids.length > 0 ? w.servingPids : [w.pid]));
  }

  async stats(timeoutMs = 5000): Promise<ContenderStats> {
    const replies = await Promise.all(this.#procs.map((p) => p.request({ type: 'stats' }, timeoutMs)));
    const workers = replies.map((m) => {
      if (m.type === 'stats') return m.stats;
      throw new Error(`stats: ${m.type === 'error' ? m.message : `unexpected reply ${m.type}`}`);
    });
    return aggregateStats(this.contender, this.protocol, workers);
  }

  async gc(timeoutMs = 15000): Promise<boolean> {
    const replies = await Promise.all(this.#procs.map((p) => p.request({ type: 'gc' }, timeoutMs)));
    return replies.every((m) => m.type === 'gc' && m.collected);
  }

  async publish(room: string, data: string | Uint8Array, timeoutMs = 5000): Promise<number> {
    if (this.protocol !== 'ws-broadcast') throw new RangeError(`publish is for ws-broadcast, not ${this.protocol}`);
    if (typeof room !== 'string' || room === '') throw new TypeError('room must be a non-empty string');
    const body =
      typeof data === 'string'
        ? { type: 'publish' as const, room, data }
        : data instanceof Uint8Array
          ? { type: 'publish' as const, room, data: Buffer.from(data.buffer, data.byteOffset, data.length).toString('base64'), binary: true }
          : undefined;
    if (body === undefined) throw new TypeError('data must be a string or a Uint8Array');
    const replies = await Promise.all(this.#procs.map((p) => p.request(body, timeoutMs)));
    let recipients = 0;
    for (const m of replies) {
      if (m.type === 'published') recipients += m.recipients;
      else throw new Error(`publish: ${m.type === 'error' ? m.message : `unexpected reply ${m.type}`}`);
    }
    return recipients;
  }

  stop(options: StopOptions = {}): Promise<StopReport> {
    const signal = options.signal ?? 'SIGTERM';
    let killAfterMs: number;
    try {
      if (signal !== 'SIGTERM' && signal !== 'SIGINT') throw new RangeError(`stop signal must be SIGTERM or SIGINT, got ${String(signal)}`);
      killAfterMs = checkInt('killAfterMs', options.killAfterMs ?? this.#opts.shutdownMs + KILL_AFTER_BOUND_MS, 0, 3_600_000);
    } catch (err) {
      return Promise.reject(err);
    }
    this.#stopping ??= Promise.all(this.#procs.map((p) => p.stop(signal, killAfterMs))).then((workers) => ({
      ok: workers.every((w) => w.code === 0 && !w.killed),
      workers,
      drain: { cut: totalCut(workers), boundMs: drainBoundMs(this.#opts.shutdownMs) },
    }));
    return this.#stopping;
  }
}

/**
 * Whether contender can run on this machine: true, or the reason it cannot (e.g. an optional
 * package that is not installed). Checked in a short-lived child so nothing is loaded here.
 */
export function contenderAvailable(contender: string, timeoutMs = 10_000): Promise<true | string> {
  getContender(contender);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CHILD_PATH, '--probe', contender], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (e) => resolve(`probe could not start: ${e.message}`));
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      const line = out.trim().split('\n').pop() ?? '';
      try {
        const r = JSON.parse(line) as { ok: boolean; reason?: string };
        resolve(r.ok ? true : (r.reason ?? 'unavailable'));
      } catch {
        resolve(`probe exited (${signal ?? `code ${code}`}) without an answer${err.trim() === '' ? '' : `: ${err.trim().split('\n').slice(-2).join(' | ')}`}`);
      }
    });
  });
}
