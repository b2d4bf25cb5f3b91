// The parent's side of the driver layer: start a driver process, steer it phase by phase, and
// end it within a bound. Every call has a deadline; a driver that dies, stalls or misses its
// deadline fails the call with a sentence saying which, and is then killed so that no late
// reply can be mistaken for the answer to a later command.

import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { checkInt } from '../checks.js';
import { resolveLimit } from '../limits.js';
import { RequestFailure, Supervisor } from '../process/supervisor.js';
import { checkCommand, resolveDriverConfig } from './driver-config.js';
import {
  DriverUnavailableError,
  type DriverCommand,
  type DriverConfig,
  type DriverErrors,
  type DriverMessage,
  type RampResult,
  type ResolvedDriverConfig,
  type RunResult,
} from './driver-contract.js';

export { mergeRampResults, mergeRunResults, splitCount } from './merge.js';

export const DRIVER_CHILD_PATH = fileURLToPath(new URL('./driver-process.js', import.meta.url));
/** After SIGTERM, how long close() waits before SIGKILL; after SIGKILL, how long before giving up. */
const KILL_AFTER_MS = 2000;

export interface StartDriverOptions {
  /** Pin the driver process to this CPU with taskset (taskset must be on PATH). */
  cpu?: number;
  /** 'inherit' (default) or 'pipe': keep the last 64 KiB of stderr for error messages. */
  stderr?: 'inherit' | 'pipe';
  /** How long to wait for ready (or unavailable), default 10000 ms. */
  readyTimeoutMs?: number;
  /** Time allowed past a phase's own length (ramp timeoutMs, run warm-up + duration), default 10000 ms. */
  marginMs?: number;
  /** A ramp or run with no message at all from the driver for this long has stalled, default 15000 ms. */
  stallMs?: number;
  /** How long close() waits for a clean exit after the close command before SIGTERM, default 5000 ms. */
  closeTimeoutMs?: number;
  /** Node flags for the driver process (the parent's are not inherited). */
  execArgv?: readonly string[];
  env?: NodeJS.ProcessEnv;
}

export interface DriverProgress {
  pid: number;
  phase: 'ramp' | 'run';
  connections: number;
  ops: number;
  elapsedMs: number;
}

export interface DriverCloseReport {
  /** The process exited with code 0 on its own (no signal needed). */
  ok: boolean;
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The process had to be signalled (SIGTERM/SIGKILL), by close() or after a failed command. */
  killed: boolean;
  ms: number;
  /** The stderr tail with stderr: 'pipe'; null otherwise. */
  stderr: string | null;
}

export interface DriverHandle {
  readonly pid: number;
  readonly config: ResolvedDriverConfig;
  /** Grows (or shrinks) to connections; bound: timeoutMs + marginMs. */
  ramp(connections: number, ratePerSec: number, timeoutMs: number): Promise<RampResult>;
  /** Applies the load for warm-up + duration; bound: warmupMs + durationMs + marginMs. */
  run(durationMs: number, warmupMs: number): Promise<RunResult>;
  stats(timeoutMs?: number): Promise<{ connections: number; errors: DriverErrors }>;
  /** Close command, then SIGTERM, then SIGKILL (each after its bound). Idempotent. */
  close(): Promise<DriverCloseReport>;
  /** Calls cb with every progress message; returns the function that unsubscribes. */
  onProgress(cb: (p: DriverProgress) => void): () => void;
}

export interface ResolvedStartOptions {
  cpu: number | undefined;
  stderr: 'inherit' | 'pipe';
  readyTimeoutMs: number;
  marginMs: number;
  stallMs: number;
  closeTimeoutMs: number;
  execArgv: readonly string[];
  env: NodeJS.ProcessEnv;
}

const OPTION_KEYS = new Set(['cpu', 'stderr', 'readyTimeoutMs', 'marginMs', 'stallMs', 'closeTimeoutMs', 'execArgv', 'env']);

/** Checks driver start options and fills in the defaults (exported for the limits test). */
export function resolveStartDriverOptions(o: StartDriverOptions): ResolvedStartOptions {
  if (typeof o !== 'object' || o === null) throw new TypeError('driver start options must be an object');
  for (const key of Object.keys(o)) if (!OPTION_KEYS.has(key)) throw new RangeError(`unknown driver start option "${key}"`);
  const stderr = o.stderr ?? 'inherit';
  if (stderr !== 'inherit' && stderr !== 'pipe') throw new RangeError(`stderr must be "inherit" or "pipe", got ${JSON.stringify(stderr)}`);
  const execArgv = o.execArgv ?? [];
  if (!Array.isArray(execArgv) || !execArgv.every((s) => typeof s === 'string')) throw new TypeError('execArgv must be an array of strings');
  return {
    cpu: o.cpu === undefined ? undefined : checkInt('cpu', o.cpu, 0, availableParallelism() - 1),
    stderr,
    readyTimeoutMs: resolveLimit('readyTimeoutMs', o.readyTimeoutMs),
    marginMs: checkInt('marginMs', o.marginMs ?? 10_000, 0, 600_000),
    stallMs: checkInt('stallMs', o.stallMs ?? 15_000, 1, 600_000),
    closeTimeoutMs: checkInt('closeTimeoutMs', o.closeTimeoutMs ?? 5000, 0, 600_000),
    execArgv,
    env: o.env ?? process.env,
  };
}

class DriverProcess implements DriverHandle {
  readonly config: ResolvedDriverConfig;
  readonly #o: ResolvedStartOptions;
  readonly #proc: Supervisor<DriverMessage>;
  #broken: Error | undefined;
  #chain: Promise<unknown> = Promise.resolve();
  #closing: Promise<DriverCloseReport> | undefined;

  constructor(config: ResolvedDriverConfig, o: ResolvedStartOptions) {
    this.config = config;
    this.#o = o;
    const nodeArgs = [...o.execArgv, DRIVER_CHILD_PATH, JSON.stringify(config)];
    const [file, args] = o.cpu === undefined ? [process.execPath, nodeArgs] : ['taskset', ['-c', String(o.cpu), process.execPath, ...nodeArgs]];
    // group: the driver leads its own process group, so SIGKILL can take its subprocesses (wrk)
    // along; it still exits by itself when this process goes (the IPC channel closes).
    this.#proc = new Supervisor<DriverMessage>({
      file,
      args,
      control: 'ipc',
      stderr: o.stderr,
      env: o.env,
      group: true,
      handshake: ['ready', 'unavailable', 'failed'],
      notices: ['progress'],
      name: `driver ${config.driver}`,
    });
  }

  get pid(): number {
    return this.#proc.pid;
  }

  /** Resolves when ready; rejects with DriverUnavailableError or the child's own reason otherwise. */
  async waitReady(): Promise<void> {
    try {
      const m = await this.#proc.handshake(this.#o.readyTimeoutMs);
      if (m.type === 'ready') return;
      // It is on its way out (exit 3 or 1): let it go by itself, and make sure it is gone.
      if (!(await this.#proc.waitExit(KILL_AFTER_MS))) await this.#terminate(0);
      if (m.type === 'unavailable') throw new DriverUnavailableError(m.reason);
      throw new Error(`${this.#proc.label()} failed to start: ${m.type === 'failed' ? m.message : m.type}`);
    } catch (err) {
      await this.#terminate(0);
      throw err;
    }
  }

  onProgress(cb: (p: DriverProgress) => void): () => void {
    if (typeof cb !== 'function') throw new TypeError('onProgress needs a function');
    return this.#proc.onNotice((msg) => {
      if (msg.type === 'progress') cb({ pid: this.pid, phase: msg.phase, connections: msg.connections, ops: msg.ops, elapsedMs: msg.elapsedMs });
    });
  }

  async ramp(connections: number, ratePerSec: number, timeoutMs: number): Promise<RampResult> {
    const cmd = checkCommand({ type: 'ramp', connections, ratePerSec, timeoutMs });
    const m = await this.#request(cmd, 'ramped', timeoutMs + this.#o.marginMs, true);
    return (m as Extract<DriverMessage, { type: 'ramped' }>).result;
  }

  async run(durationMs: number, warmupMs: number): Promise<RunResult> {
    const cmd = checkCommand({ type: 'run', durationMs, warmupMs });
    const m = await this.#request(cmd, 'ran', durationMs + warmupMs + this.#o.marginMs, true);
    return (m as Extract<DriverMessage, { type: 'ran' }>).result;
  }

  async stats(timeoutMs = 5000): Promise<{ connections: number; errors: DriverErrors }> {
    checkInt('timeoutMs', timeoutMs, 1, 600_000);
    const m = (await this.#request({ type: 'stats' }, 'stats', timeoutMs, false)) as Extract<DriverMessage, { type: 'stats' }>;
    return { connections: m.connections, errors: m.errors };
  }

  /** Queues cmd behind earlier commands: the driver answers strictly in order. */
  #request(cmd: DriverCommand, expect: DriverMessage['type'], boundMs: number, watchStall: boolean): Promise<DriverMessage> {
    const p = this.#chain.then(() => this.#send(cmd, expect, boundMs, watchStall));
    this.#chain = p.catch(() => {});
    return p;
  }

  async #send(cmd: DriverCommand, expect: DriverMessage['type'], boundMs: number, watchStall: boolean): Promise<DriverMessage> {
    const label = this.#proc.label();
    if (this.#closing !== undefined) throw new Error(`${label} is closed`);
    const broken = this.#broken ?? this.#proc.exitError;
    if (broken !== undefined) throw new Error(`${label} is unusable: ${broken.message}`);
    let m: DriverMessage;
    try {
      m = await this.#proc.request(cmd, { what: cmd.type, timeoutMs: boundMs, verb: 'finish', reply: 'next', ...(watchStall ? { stallMs: this.#o.stallMs } : {}) });
    } catch (err) {
      if (err instanceof RequestFailure && err.kind === 'exited') throw new Error(`${err.message} during ${cmd.type}`);
      throw this.#fail(err as Error);
    }
    if (m.type === 'failed') throw new Error(`${this.#proc.label()}: ${cmd.type} failed: ${m.message}`);
    if (m.type === expect) return m;
    throw this.#fail(new Error(`${this.#proc.label()} answered ${cmd.type} with "${m.type}"`));
  }

  /** A command failed with the process in an unknown state: it is killed, and every later call fails. */
  #fail(err: Error): Error {
    this.#broken ??= err;
    void this.#terminate(0);
    return err;
  }

  /** Close command (if graceMs > 0 and the channel is up), SIGTERM, SIGKILL; resolves when exited. */
  async #terminate(graceMs: number): Promise<void> {
    if (this.#proc.exit !== undefined) return;
    if (graceMs > 0 && this.#proc.child.connected) {
      this.#proc.send({ type: 'close' } satisfies DriverCommand).catch(() => {});
      if (await this.#proc.waitExit(graceMs)) return;
    }
    await this.#proc.end('SIGTERM', KILL_AFTER_MS, KILL_AFTER_MS);
  }

  close(): Promise<DriverCloseReport> {
    this.#closing ??= (async () => {
      const started = performance.now();
      await this.#terminate(this.#o.closeTimeoutMs);
      const killed = this.#proc.signalled;
      const exit = this.#proc.exit ?? { code: null, signal: null };
      this.#proc.clearNotices();
      return {
        ok: exit.code === 0 && exit.signal === null && !killed,
        code: exit.code,
        signal: exit.signal,
        killed,
        ms: Math.round(performance.now() - started),
        stderr: this.#proc.stderr,
      };
    })();
    return this.#closing;
  }
}

/**
 * Starts one driver process and resolves once it is ready. Rejects with TypeError/RangeError for
 * a bad config or options, DriverUnavailableError when the driver cannot run here (wrk not
 * installed, a protocol it does not speak), and Error when the process fails to start; no
 * process is left behind in any of these cases.
 */
export async function startDriver(config: DriverConfig, opts: StartDriverOptions = {}): Promise<DriverHandle> {
  const resolved = resolveDriverConfig(config);
  const o = resolveStartDriverOptions(opts);
  const d = new DriverProcess(resolved, o);
  await d.waitReady();
  return d;
}

/**
 * Starts one driver process per config side by side (opts may be a function of the index, e.g.
 * to pin each to its own CPU). If any fails, the others are closed and the first failure, in
 * config order, is thrown.
 */
export async function startDrivers(configs: readonly DriverConfig[], opts: StartDriverOptions | ((index: number) => StartDriverOptions) = {}): Promise<DriverHandle[]> {
  if (!Array.isArray(configs) || configs.length === 0) throw new RangeError('startDrivers needs at least one config');
  const settled = await Promise.allSettled(configs.map((c, i) => startDriver(c, typeof opts === 'function' ? opts(i) : opts)));
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed === undefined) return settled.map((s) => (s as PromiseFulfilledResult<DriverHandle>).value);
  await Promise.all(settled.map((s) => (s.status === 'fulfilled' ? s.value.close() : undefined)));
  throw failed.reason;
}
