// One worker process seen from the parent: what it is started with, what its handshake and
// replies mean, and what its stop reports (the process itself is supervised by
// src/process/supervisor.ts).

import { fileURLToPath } from 'node:url';
import { Supervisor } from '../process/supervisor.js';
import type { ChildConfig, ChildMessage, DrainedMessage, ParentMessage, Protocol, ReadyMessage } from './contender-contract.js';

export const CHILD_PATH = fileURLToPath(new URL('./contender-process.js', import.meta.url));
/** How long stop() waits past the child's own bound before it sends SIGKILL. */
export const KILL_AFTER_BOUND_MS = 1000;
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

/** One child process running one worker of a contender, and its end of the control channel. */
export class WorkerProcess {
  readonly worker: number;
  readonly #proc: Supervisor<ChildMessage>;
  #ready: ReadyMessage | undefined;
  #drained: DrainedMessage | undefined;

  constructor(config: ChildConfig, opts: SpawnOptions) {
    this.worker = config.worker;
    const nodeArgs = [...opts.execArgv, CHILD_PATH, JSON.stringify(config)];
    const [file, args] = opts.wrap.length > 0 ? [opts.wrap[0] as string, [...opts.wrap.slice(1), process.execPath, ...nodeArgs]] : [process.execPath, nodeArgs];
    this.#proc = new Supervisor<ChildMessage>({
      file,
      args,
      control: opts.control,
      stderr: opts.stderr,
      env: opts.env,
      handshake: ['ready', 'unavailable', 'failed'],
      notices: ['drained'],
      name: `${config.contender}/${config.protocol} worker ${config.worker}`,
      pidOnlyInStatus: true,
    });
    this.#proc.onNotice((m) => {
      if (m.type === 'drained') this.#drained = m;
    });
  }

  get pid(): number {
    return this.#proc.pid;
  }
  get ready(): ReadyMessage | undefined {
    return this.#ready;
  }

  /** Resolves with the ready message; rejects with the child's own reason otherwise. */
  async waitReady(timeoutMs: number, contender: string, protocol: Protocol): Promise<ReadyMessage> {
    const m = await this.#proc.handshake(timeoutMs);
    if (m.type === 'ready') {
      this.#ready = m;
      return m;
    }
    if (m.type === 'unavailable') throw new ContenderUnavailableError(contender, protocol, 'unavailable', m.reason);
    throw new Error(`${contender}/${protocol} worker ${this.worker} failed to start: ${m.type === 'failed' ? m.message : m.type}`);
  }

  request(body: { type: 'stats' } | { type: 'gc' } | Omit<Extract<ParentMessage, { type: 'publish' }>, 'id'>, timeoutMs: number): Promise<ChildMessage> {
    return this.#proc.request(body, { what: body.type, timeoutMs });
  }

  async stop(signal: NodeJS.Signals, killAfterMs: number): Promise<WorkerExit> {
    const started = Date.now();
    const pid = this.pid;
    // Only the server gets the stop signal: a wrapper (profiler) must outlive it to finish.
    const killed = await this.#proc.end(signal, killAfterMs, KILL_AFTER_BOUND_MS);
    const exit = this.#proc.exit ?? { code: null, signal: null };
    // 'exit' can come before the last control message has been read; 'close' comes after it
    // (a process that still holds the worker's pipes, such as c-ref's C server, must not hold
    // this up for long).
    if (this.#drained === undefined && !killed && exit.code === 0) {
      await Promise.race([this.#proc.closed, new Promise((resolve) => setTimeout(resolve, DRAIN_REPORT_WAIT_MS).unref())]);
    }
    const drained = this.#drained;
    return {
      worker: this.worker,
      pid,
      code: exit.code,
      signal: exit.signal,
      killed,
      ms: Date.now() - started,
      stderr: this.#proc.stderr,
      drained: drained !== undefined,
      cut: drained?.cut ?? null,
    };
  }
}
