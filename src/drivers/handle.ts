// The parent's side of the driver layer: start a driver process, steer it phase by phase, and
// end it within a bound. Every call has a deadline; a driver that dies, stalls or misses its
// deadline fails the call with a sentence saying which, and is then killed so that no late
// reply can be mistaken for the answer to a later command.

import { spawn, type ChildProcess } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { checkInt } from '../checks.js';
import { resolveLimit } from '../limits.js';
import { checkCommand, resolveDriverConfig } from './config.js';
import {
  DriverUnavailableError,
  type DriverCommand,
  type DriverConfig,
  type DriverErrors,
  type DriverMessage,
  type RampResult,
  type ResolvedDriverConfig,
  type RunResult,
} from './types.js';

export { mergeRampResults, mergeRunResults, splitCount } from './merge.js';

export const DRIVER_CHILD_PATH = fileURLToPath(new URL('./child.js', import.meta.url));
const STDERR_TAIL_BYTES = 64 * 1024;
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

interface Pending {
  cmd: DriverCommand['type'];
  expect: DriverMessage['type'];
  resolve(msg: DriverMessage): void;
  reject(err: Error): void;
}

// Driver processes still running when the parent exits are killed with their process group
// (wrk subprocesses included), so a crashed runner or test leaves no load generator behind.
const live = new Set<DriverProcess>();
process.once('exit', () => {
  for (const d of live) d.kill('SIGKILL');
});

class DriverProcess implements DriverHandle {
  readonly config: ResolvedDriverConfig;
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
  readonly #o: ResolvedStartOptions;
  #label: string;
  #pid: number;
  #exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  #stderr: string | null;
  #first: Promise<DriverMessage>;
  #pending: Pending | undefined;
  #lastMessageAt = performance.now();
  #broken: Error | undefined;
  #chain: Promise<unknown> = Promise.resolve();
  #closing: Promise<DriverCloseReport> | undefined;
  /** Some signal was sent to the process (by close() or after a failed command). */
  #signalled = false;
  readonly #listeners = new Set<(p: DriverProgress) => void>();

  constructor(config: ResolvedDriverConfig, o: ResolvedStartOptions) {
    this.config = config;
    this.#o = o;
    const nodeArgs = [...o.execArgv, DRIVER_CHILD_PATH, JSON.stringify(config)];
    const [file, args] = o.cpu === undefined ? [process.execPath, nodeArgs] : ['taskset', ['-c', String(o.cpu), process.execPath, ...nodeArgs]];
    // detached: the driver leads its own process group, so SIGKILL can take its subprocesses
    // (wrk) along; it still exits by itself when this process goes (the IPC channel closes).
    this.child = spawn(file, args, { stdio: ['ignore', 'inherit', o.stderr, 'ipc'], env: o.env, serialization: 'json', detached: true });
    this.#pid = this.child.pid ?? -1;
    this.#label = `driver ${config.driver} (pid ${this.#pid})`;
    live.add(this);
    this.#stderr = o.stderr === 'pipe' ? '' : null;
    this.child.stderr?.setEncoding('utf8').on('data', (s: string) => {
      this.#stderr = (this.#stderr + s).slice(-STDERR_TAIL_BYTES);
    });

    let first: (msg: DriverMessage) => void = () => {};
    let failFirst: (err: Error) => void = () => {};
    this.#first = new Promise((resolve, reject) => {
      first = resolve;
      failFirst = reject;
    });
    // A rejection nobody awaits yet (the exit of a process that never said ready) must not crash us.
    this.#first.catch(() => {});
    let started = false;
    this.child.on('message', (raw: unknown) => {
      if (typeof raw !== 'object' || raw === null || typeof (raw as { type?: unknown }).type !== 'string') return;
      const msg = raw as DriverMessage;
      this.#lastMessageAt = performance.now();
      if (!started) {
        if (msg.type === 'ready' || msg.type === 'unavailable' || msg.type === 'failed') {
          started = true;
          if (msg.type === 'ready') {
            this.#pid = msg.pid;
            this.#label = `driver ${config.driver} (pid ${msg.pid})`;
          }
          first(msg);
        }
        return;
      }
      if (msg.type === 'progress') {
        const p: DriverProgress = { pid: this.#pid, phase: msg.phase, connections: msg.connections, ops: msg.ops, elapsedMs: msg.elapsedMs };
        for (const cb of this.#listeners) cb(p);
        return;
      }
      const pending = this.#pending;
      if (pending === undefined) return;
      if (msg.type === 'failed') {
        this.#pending = undefined;
        pending.reject(new Error(`${this.#label}: ${pending.cmd} failed: ${msg.message}`));
      } else if (msg.type === pending.expect) {
        this.#pending = undefined;
        pending.resolve(msg);
      } else {
        this.#fail(new Error(`${this.#label} answered ${pending.cmd} with "${msg.type}"`));
      }
    });
    this.exited = new Promise((resolve) => {
      const ended = (code: number | null, signal: NodeJS.Signals | null, why: Error): void => {
        if (this.#exit !== undefined) return;
        this.#exit = { code, signal };
        live.delete(this);
        this.#broken ??= why;
        failFirst(why);
        const pending = this.#pending;
        this.#pending = undefined;
        pending?.reject(new Error(`${why.message} during ${pending.cmd}`));
        resolve();
      };
      this.child.once('exit', (code, signal) => {
        ended(code, signal, new Error(`${this.#label} exited (${signal ?? `code ${code}`})${this.#stderrNote()}`));
      });
      // A command that cannot be spawned (taskset not on PATH) never emits 'exit'.
      this.child.once('error', (err) => {
        if (this.child.pid === undefined) ended(null, null, new Error(`${this.#label}: cannot start ${file}: ${err.message}`));
      });
    });
  }

  get pid(): number {
    return this.#pid;
  }

  #stderrNote(): string {
    const tail = this.#stderr?.trim();
    return tail === undefined || tail === '' ? '' : `: ${tail.split('\n').slice(-3).join(' | ')}`;
  }

  /** Resolves when ready; rejects with DriverUnavailableError or the child's own reason otherwise. */
  async waitReady(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${this.#label} not ready after ${this.#o.readyTimeoutMs} ms${this.#stderrNote()}`)), this.#o.readyTimeoutMs);
    });
    try {
      const m = await Promise.race([this.#first, timeout]);
      if (m.type === 'ready') return;
      // It is on its way out (exit 3 or 1): let it go by itself, and make sure it is gone.
      if (!(await this.#waitExit(KILL_AFTER_MS))) await this.#terminate(0);
      if (m.type === 'unavailable') throw new DriverUnavailableError(m.reason);
      throw new Error(`${this.#label} failed to start: ${m.type === 'failed' ? m.message : m.type}`);
    } catch (err) {
      await this.#terminate(0);
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  onProgress(cb: (p: DriverProgress) => void): () => void {
    if (typeof cb !== 'function') throw new TypeError('onProgress needs a function');
    this.#listeners.add(cb);
    return () => this.#listeners.delete(cb);
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

  #send(cmd: DriverCommand, expect: DriverMessage['type'], boundMs: number, watchStall: boolean): Promise<DriverMessage> {
    if (this.#closing !== undefined) return Promise.reject(new Error(`${this.#label} is closed`));
    if (this.#broken !== undefined) return Promise.reject(new Error(`${this.#label} is unusable: ${this.#broken.message}`));
    return new Promise<DriverMessage>((resolve, reject) => {
      let bound: NodeJS.Timeout | undefined;
      let stall: NodeJS.Timeout | undefined;
      const done = (): void => {
        clearTimeout(bound);
        clearInterval(stall);
      };
      this.#pending = {
        cmd: cmd.type,
        expect,
        resolve: (m) => {
          done();
          resolve(m);
        },
        reject: (e) => {
          done();
          reject(e);
        },
      };
      this.#lastMessageAt = performance.now();
      bound = setTimeout(() => this.#fail(new Error(`${this.#label} did not finish ${cmd.type} within ${boundMs} ms`)), boundMs);
      if (watchStall) {
        stall = setInterval(() => {
          const quiet = performance.now() - this.#lastMessageAt;
          if (quiet > this.#o.stallMs) this.#fail(new Error(`${this.#label} stalled: no message for ${Math.round(quiet)} ms during ${cmd.type}`));
        }, Math.min(1000, this.#o.stallMs));
      }
      if (!this.child.connected) {
        this.#fail(new Error(`${this.#label}: cannot send ${cmd.type}: control channel closed`));
        return;
      }
      this.child.send(cmd, (err) => {
        if (err != null) this.#fail(new Error(`${this.#label}: cannot send ${cmd.type}: ${err.message}`));
      });
    });
  }

  /** Fails the command in flight and kills the process: its state is no longer known. */
  #fail(err: Error): void {
    this.#broken ??= err;
    const pending = this.#pending;
    this.#pending = undefined;
    pending?.reject(err);
    void this.#terminate(0);
  }

  kill(signal: NodeJS.Signals): void {
    if (this.#exit !== undefined || this.#pid <= 0) return;
    this.#signalled = true;
    try {
      // SIGKILL goes to the whole group (the driver and its subprocesses); other signals to the
      // driver only, which then ends its subprocesses itself.
      process.kill(signal === 'SIGKILL' ? -this.#pid : this.#pid, signal);
    } catch {
      try {
        process.kill(this.#pid, signal);
      } catch {
        // Already gone.
      }
    }
  }

  /** True once the process has exited, false if it is still running after ms. */
  #waitExit(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      if (this.#exit !== undefined) return resolve(true);
      const timer = setTimeout(() => resolve(false), ms);
      void this.exited.then(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  /** Close command (if graceMs > 0 and the channel is up), SIGTERM, SIGKILL; resolves when exited. */
  async #terminate(graceMs: number): Promise<void> {
    const wait = (ms: number): Promise<boolean> => this.#waitExit(ms);
    if (this.#exit !== undefined) return;
    if (graceMs > 0 && this.child.connected) {
      this.child.send({ type: 'close' } satisfies DriverCommand, () => {});
      if (await wait(graceMs)) return;
    }
    this.kill('SIGTERM');
    if (await wait(KILL_AFTER_MS)) return;
    this.kill('SIGKILL');
    await wait(KILL_AFTER_MS);
  }

  close(): Promise<DriverCloseReport> {
    this.#closing ??= (async () => {
      const started = performance.now();
      await this.#terminate(this.#o.closeTimeoutMs);
      const killed = this.#signalled;
      const exit = this.#exit ?? { code: null, signal: null };
      this.#listeners.clear();
      return {
        ok: exit.code === 0 && exit.signal === null && !killed,
        code: exit.code,
        signal: exit.signal,
        killed,
        ms: Math.round(performance.now() - started),
        stderr: this.#stderr,
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
