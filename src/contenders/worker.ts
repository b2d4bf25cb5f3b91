// One worker process seen from the parent: how it is spawned, its control channel, its exit.

import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { ChildConfig, ChildMessage, DrainedMessage, ParentMessage, Protocol, ReadyMessage } from './types.js';

export const CHILD_PATH = fileURLToPath(new URL('./child.js', import.meta.url));
/** How long stop() waits past the child's own bound before it sends SIGKILL. */
export const KILL_AFTER_BOUND_MS = 1000;
const STDERR_TAIL_BYTES = 64 * 1024;
/** How long stop() waits, after a clean exit, for a drain report still in the channel. */
const DRAIN_REPORT_WAIT_MS = 500;

/** How a worker process is started (see StartOptions for the meaning of each). */
export interface SpawnOptions {
  control: 'ipc' | 'stdio';
  wrap: readonly string[];
  execArgv: readonly string[];
  env: NodeJS.ProcessEnv;
  stderr: 'inherit' | 'pipe';
}

export interface WorkerExit {
  worker: number;
  pid: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  /** True when stop() had to SIGKILL the worker. */
  killed: boolean;
  /** From the stop signal to the exit. */
  ms: number;
  /** The stderr tail, with stderr: 'pipe'; null otherwise. */
  stderr: string | null;
  /** The worker reported the end of its drain ({type:'drained'}) before it exited. */
  drained: boolean;
  /**
   * Connections its drain had to cut (closed by force at the drain bound): null when the
   * contender cannot tell, or when the worker reported nothing (killed, died, overran its bound).
   */
  cut: number | null;
}

/** The contender cannot run this pair: skipped (it does not speak the protocol) or unavailable here. */
export class ContenderUnavailableError extends Error {
  constructor(
    readonly contender: string,
    readonly protocol: Protocol,
    readonly kind: 'skipped' | 'unavailable',
    readonly reason: string,
  ) {
    super(`${contender} × ${protocol} ${kind}: ${reason}`);
    this.name = 'ContenderUnavailableError';
  }
}
interface Pending {
  resolve(msg: ChildMessage): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

// Children still running when the parent exits are killed, so that a crashed test or runner
// leaves no server behind (they also stop on their own when the control channel goes).
const live = new Set<WorkerProcess>();
process.once('exit', () => {
  for (const w of live) w.kill('SIGKILL');
});

/** One child process running one worker of a contender, and its end of the control channel. */
export class WorkerProcess {
  readonly worker: number;
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
  readonly #label: string;
  #ready: ReadyMessage | undefined;
  #drained: DrainedMessage | undefined;
  #exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  #stderr: string | null;
  #nextId = 1;
  readonly #pending = new Map<number, Pending>();
  readonly #first: Promise<ChildMessage>;
  /** The child process and its stdio and control channel are all closed. */
  readonly #closed: Promise<void>;

  constructor(config: ChildConfig, opts: SpawnOptions) {
    this.worker = config.worker;
    this.#label = `${config.contender}/${config.protocol} worker ${config.worker}`;
    const nodeArgs = [...opts.execArgv, CHILD_PATH, JSON.stringify(config)];
    const [file, args] = opts.wrap.length > 0 ? [opts.wrap[0] as string, [...opts.wrap.slice(1), process.execPath, ...nodeArgs]] : [process.execPath, nodeArgs];
    const stdio: ('ignore' | 'inherit' | 'pipe' | 'ipc')[] = opts.control === 'ipc' ? ['ignore', 'inherit', opts.stderr, 'ipc'] : ['pipe', 'pipe', opts.stderr];
    this.child = spawn(file, args, { stdio, env: opts.env, serialization: 'json' });
    live.add(this);
    this.#stderr = opts.stderr === 'pipe' ? '' : null;
    this.child.stderr?.setEncoding('utf8').on('data', (s: string) => {
      this.#stderr = (this.#stderr + s).slice(-STDERR_TAIL_BYTES);
    });

    let first: (msg: ChildMessage) => void = () => {};
    let failFirst: (err: Error) => void = () => {};
    this.#first = new Promise((resolve, reject) => {
      first = resolve;
      failFirst = reject;
    });
    const onMessage = (msg: unknown): void => {
      if (typeof msg !== 'object' || msg === null || typeof (msg as { type?: unknown }).type !== 'string') return;
      const m = msg as ChildMessage;
      if (m.type === 'ready' || m.type === 'unavailable' || m.type === 'failed') {
        if (m.type === 'ready') this.#ready = m;
        first(m);
        return;
      }
      if (m.type === 'drained') {
        this.#drained = m;
        return;
      }
      const p = this.#pending.get(m.id);
      if (p === undefined) return;
      this.#pending.delete(m.id);
      clearTimeout(p.timer);
      p.resolve(m);
    };
    if (opts.control === 'ipc') {
      this.child.on('message', onMessage);
    } else if (this.child.stdout !== null) {
      createInterface({ input: this.child.stdout, crlfDelay: Infinity }).on('line', (line) => {
        let msg: unknown;
        try {
          msg = JSON.parse(line);
        } catch {
          // Not ours (a wrapper's output): pass it on rather than lose it.
          process.stderr.write(`${line}\n`);
          return;
        }
        onMessage(msg);
      });
    }
    this.#closed = new Promise((resolve) => this.child.once('close', () => resolve()));
    this.exited = new Promise((resolve) => {
      const ended = (code: number | null, signal: NodeJS.Signals | null, why: Error): void => {
        if (this.#exit !== undefined) return;
        this.#exit = { code, signal };
        live.delete(this);
        failFirst(why);
        for (const p of this.#pending.values()) {
          clearTimeout(p.timer);
          p.reject(why);
        }
        this.#pending.clear();
        resolve();
      };
      this.child.once('exit', (code, signal) => {
        ended(code, signal, new Error(`${this.#label} (pid ${this.pid}) exited (${signal ?? `code ${code}`})${this.#stderrNote()}`));
      });
      // A command that cannot be spawned (a wrapper not on PATH) never emits 'exit'.
      this.child.once('error', (err) => {
        if (this.child.pid === undefined) ended(null, null, new Error(`${this.#label}: cannot start ${file}: ${err.message}`));
      });
    });
  }

  get pid(): number {
    return this.#ready?.pid ?? this.child.pid ?? -1;
  }
  get ready(): ReadyMessage | undefined {
    return this.#ready;
  }
  get exit(): { code: number | null; signal: NodeJS.Signals | null } | undefined {
    return this.#exit;
  }
  get stderr(): string | null {
    return this.#stderr;
  }

  #stderrNote(): string {
    const tail = this.#stderr?.trim();
    return tail === undefined || tail === '' ? '' : `: ${tail.split('\n').slice(-3).join(' | ')}`;
  }

  /** Resolves with the ready message; rejects with the child's own reason otherwise. */
  async waitReady(timeoutMs: number, contender: string, protocol: Protocol): Promise<ReadyMessage> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${this.#label} (pid ${this.pid}) not ready after ${timeoutMs} ms${this.#stderrNote()}`)), timeoutMs);
    });
    try {
      const m = await Promise.race([this.#first, timeout]);
      if (m.type === 'ready') return m;
      if (m.type === 'unavailable') throw new ContenderUnavailableError(contender, protocol, 'unavailable', m.reason);
      throw new Error(`${this.#label} failed to start: ${m.type === 'failed' ? m.message : m.type}`);
    } finally {
      clearTimeout(timer);
    }
  }

  request(body: { type: 'stats' } | { type: 'gc' } | Omit<Extract<ParentMessage, { type: 'publish' }>, 'id'>, timeoutMs: number): Promise<ChildMessage> {
    if (this.#exit !== undefined) {
      return Promise.reject(new Error(`${this.#label} (pid ${this.pid}) has exited (${this.#exit.signal ?? `code ${this.#exit.code}`})`));
    }
    const id = this.#nextId++;
    const msg = { ...body, id } as ParentMessage;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`${this.#label} (pid ${this.pid}) did not answer ${body.type} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, { resolve, reject, timer });
      const failed = (err: Error | null | undefined): void => {
        if (err == null || !this.#pending.has(id)) return;
        this.#pending.delete(id);
        clearTimeout(timer);
        reject(new Error(`${this.#label}: cannot send ${body.type}: ${err.message}`));
      };
      if (this.child.send !== undefined && this.child.connected) this.child.send(msg, failed);
      else if (this.child.stdin !== null) this.child.stdin.write(`${JSON.stringify(msg)}\n`, failed);
      else failed(new Error('no control channel'));
    });
  }

  kill(signal: NodeJS.Signals): void {
    if (this.#exit !== undefined) return;
    for (const pid of new Set([this.pid, this.child.pid])) {
      if (pid === undefined || pid <= 0) continue;
      try {
        process.kill(pid, signal);
      } catch {
        // Already gone.
      }
    }
  }

  async stop(signal: NodeJS.Signals, killAfterMs: number): Promise<WorkerExit> {
    const started = Date.now();
    const pid = this.pid;
    let killed = false;
    if (this.#exit === undefined) {
      // Only the server gets the stop signal: a wrapper (profiler) must outlive it to finish.
      try {
        process.kill(pid, signal);
      } catch {
        // It died on its own; the exit event says how.
      }
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), killAfterMs);
      });
      killed = await Promise.race([this.exited.then(() => false), late]);
      clearTimeout(timer);
      if (killed) {
        this.kill('SIGKILL');
        await Promise.race([this.exited, new Promise((resolve) => setTimeout(resolve, KILL_AFTER_BOUND_MS).unref())]);
      }
    }
    const exit = this.#exit ?? { code: null, signal: null };
    // 'exit' can come before the last control message has been read; 'close' comes after it
    // (a process that still holds the worker's pipes, such as c-ref's C server, must not hold
    // this up for long).
    if (this.#drained === undefined && !killed && exit.code === 0) {
      await Promise.race([this.#closed, new Promise((resolve) => setTimeout(resolve, DRAIN_REPORT_WAIT_MS).unref())]);
    }
    const drained = this.#drained;
    return {
      worker: this.worker,
      pid,
      code: exit.code,
      signal: exit.signal,
      killed,
      ms: Date.now() - started,
      stderr: this.#stderr,
      drained: drained !== undefined,
      cut: drained?.cut ?? null,
    };
  }
}

