// One child process under supervision, for both sides of a run (contender workers and drivers):
// spawned with a control channel, the start-up handshake, bounded request/reply, a stall watch,
// a stop signal then SIGKILL after a bound, the tail of its stderr, and a last SIGKILL for every
// child still running when this process exits. What the messages mean stays with the owner.

import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

/** How much of a child's stderr is kept (with stderr: 'pipe'). */
export const STDERR_TAIL_BYTES = 64 * 1024;

export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A message on the control channel: an object with a string `type`. */
export interface ControlMessage {
  readonly type: string;
}

export interface SuperviseOptions {
  /** The command: file and arguments (a wrapper such as taskset first, node after it). */
  file: string;
  args: readonly string[];
  /** 'ipc': Node's IPC channel; 'stdio': one JSON object per line on the child's stdin/stdout. */
  control: 'ipc' | 'stdio';
  /** 'pipe' keeps the last STDERR_TAIL_BYTES of stderr for sentences and reports. */
  stderr: 'inherit' | 'pipe';
  env: NodeJS.ProcessEnv;
  /** The child leads a process group of its own, and kill() takes the whole group. */
  group?: boolean;
  /**
   * The message types that end the start-up handshake: ready, or the child's reason why not. A
   * 'ready' message's `pid` becomes the child's pid (a wrapper may have forked it).
   */
  handshake: readonly string[];
  /** Message types that are never replies (progress, drain reports): they go to onNotice. */
  notices?: readonly string[];
  /** The child in sentences: `${name} (pid N)`. */
  name: string;
  /**
   * Sentences about starting and sending name the child without its pid; only those about its
   * state (exited, not ready, no answer) carry it.
   */
  pidOnlyInStatus?: boolean;
}

export interface RequestOptions {
  /** The request in sentences ("stats", "run"). */
  what: string;
  /** The reply is due within this bound. */
  timeoutMs: number;
  /** The sentence on a missed bound: `did not ${verb} ${what} within N ms`; default 'answer'. */
  verb?: string;
  /**
   * 'id' (default): the request carries a fresh `id` and the reply with that id answers it, so
   * requests may overlap. 'next': the child answers in order, and the next message that is not a
   * notice answers the oldest such request.
   */
  reply?: 'id' | 'next';
  /** Fail the request when the child sends no message at all for this long. */
  stallMs?: number;
}

/**
 * Why a request failed: the child exited, missed the bound, stalled, or could not be sent to.
 * (Its name stays "Error": callers have always shown these as plain errors.)
 */
export class RequestFailure extends Error {
  constructor(
    readonly kind: 'exited' | 'timeout' | 'stalled' | 'unsent',
    message: string,
  ) {
    super(message);
  }
}

interface Pending {
  reply: 'id' | 'next';
  resolve(msg: ControlMessage): void;
  reject(err: Error): void;
}

// Children still running when this process exits are killed, so that a crashed test or runner
// leaves no process behind (they also end by themselves when the control channel goes).
const live = new Set<{ kill(): void }>();
process.once('exit', () => {
  for (const s of live) s.kill();
});

export class Supervisor<M extends ControlMessage = ControlMessage> {
  readonly child: ChildProcess;
  /** Resolves once the child has exited (or could not be started at all). */
  readonly exited: Promise<void>;
  /** Resolves once the child's stdio and control channel are closed too ('close' comes after every message). */
  readonly closed: Promise<void>;
  readonly #o: SuperviseOptions;
  #readyPid: number | undefined;
  #exit: ChildExit | undefined;
  #exitError: Error | undefined;
  #stderr: string | null;
  #handshake: Promise<M>;
  #nextId = 1;
  readonly #pending = new Map<number, Pending>();
  readonly #notice = new Set<(msg: M) => void>();
  #lastMessageAt = performance.now();
  #signalled = false;

  constructor(o: SuperviseOptions) {
    this.#o = o;
    const stdio: ('ignore' | 'inherit' | 'pipe' | 'ipc')[] = o.control === 'ipc' ? ['ignore', 'inherit', o.stderr, 'ipc'] : ['pipe', 'pipe', o.stderr];
    this.child = spawn(o.file, o.args, { stdio, env: o.env, serialization: 'json', ...(o.group === true ? { detached: true } : {}) });
    live.add(this);
    this.#stderr = o.stderr === 'pipe' ? '' : null;
    this.child.stderr?.setEncoding('utf8').on('data', (s: string) => {
      this.#stderr = (this.#stderr + s).slice(-STDERR_TAIL_BYTES);
    });

    let shake: (msg: M) => void = () => {};
    let failShake: (err: Error) => void = () => {};
    this.#handshake = new Promise((resolve, reject) => {
      shake = resolve;
      failShake = reject;
    });
    // A rejection nobody awaits yet (the exit of a child that never said ready) must not crash us.
    this.#handshake.catch(() => {});
    let started = false;
    const onMessage = (raw: unknown): void => {
      if (typeof raw !== 'object' || raw === null || typeof (raw as { type?: unknown }).type !== 'string') return;
      const msg = raw as M;
      this.#lastMessageAt = performance.now();
      if (!started && o.handshake.includes(msg.type)) {
        started = true;
        const pid = (msg as { pid?: unknown }).pid;
        if (msg.type === 'ready' && typeof pid === 'number') this.#readyPid = pid;
        shake(msg);
        return;
      }
      if (o.notices?.includes(msg.type) === true) {
        for (const cb of this.#notice) cb(msg);
        return;
      }
      this.#answer(msg);
    };
    if (o.control === 'ipc') {
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
    this.closed = new Promise((resolve) => this.child.once('close', () => resolve()));
    this.exited = new Promise((resolve) => {
      const ended = (exit: ChildExit, why: Error): void => {
        if (this.#exit !== undefined) return;
        this.#exit = exit;
        this.#exitError = why;
        live.delete(this);
        failShake(why);
        for (const p of this.#pending.values()) p.reject(new RequestFailure('exited', why.message));
        this.#pending.clear();
        resolve();
      };
      this.child.once('exit', (code, signal) => {
        ended({ code, signal }, new Error(`${this.label()} exited (${signal ?? `code ${code}`})${this.stderrNote()}`));
      });
      // A command that cannot be spawned (a wrapper not on PATH) never emits 'exit'.
      this.child.once('error', (err) => {
        if (this.child.pid === undefined) ended({ code: null, signal: null }, new Error(`${this.#brief()}: cannot start ${o.file}: ${err.message}`));
      });
    });
  }

  /** The child's own pid: the one its ready message gave (a wrapper may have forked it), else the spawned one; -1 before spawn. */
  get pid(): number {
    return this.#readyPid ?? this.child.pid ?? -1;
  }
  get exit(): ChildExit | undefined {
    return this.#exit;
  }
  /** The sentence saying how the child ended ("… exited (SIGKILL): last words"), once it has. */
  get exitError(): Error | undefined {
    return this.#exitError;
  }
  /** The stderr tail with stderr: 'pipe'; null otherwise. */
  get stderr(): string | null {
    return this.#stderr;
  }
  /** Some signal was sent to the child (by signal(), kill() or end()). */
  get signalled(): boolean {
    return this.#signalled;
  }

  /** `${name} (pid N)`, for sentences. */
  label(): string {
    return `${this.#o.name} (pid ${this.pid})`;
  }

  #brief(): string {
    return this.#o.pidOnlyInStatus === true ? this.#o.name : this.label();
  }

  /** ": " and the last three lines of stderr, or nothing. */
  stderrNote(): string {
    const tail = this.#stderr?.trim();
    return tail === undefined || tail === '' ? '' : `: ${tail.split('\n').slice(-3).join(' | ')}`;
  }

  /** The first handshake message; rejects when the child exits first or timeoutMs passes. */
  async handshake(timeoutMs: number): Promise<M> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${this.label()} not ready after ${timeoutMs} ms${this.stderrNote()}`)), timeoutMs);
    });
    try {
      return await Promise.race([this.#handshake, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Calls cb with every notice; returns the function that unsubscribes. */
  onNotice(cb: (msg: M) => void): () => void {
    this.#notice.add(cb);
    return () => this.#notice.delete(cb);
  }

  clearNotices(): void {
    this.#notice.clear();
  }

  #answer(msg: M): void {
    const id = (msg as { id?: unknown }).id;
    let key: number | undefined;
    if (typeof id === 'number' && this.#pending.get(id)?.reply === 'id') key = id;
    else for (const [k, p] of this.#pending) if (p.reply === 'next') { key = k; break; }
    const p = key === undefined ? undefined : this.#pending.get(key);
    if (key === undefined || p === undefined) return;
    this.#pending.delete(key);
    p.resolve(msg);
  }

  /** Hands msg to the control channel; rejects when it cannot be sent. */
  send(msg: object): Promise<void> {
    return new Promise((resolve, reject) => {
      const done = (err: Error | null | undefined): void => (err == null ? resolve() : reject(err));
      if (this.#o.control === 'ipc') {
        if (this.child.send !== undefined && this.child.connected) this.child.send(msg, done);
        else done(new Error('control channel closed'));
      } else if (this.child.stdin !== null) {
        this.child.stdin.write(`${JSON.stringify(msg)}\n`, done);
      } else {
        done(new Error('no control channel'));
      }
    });
  }

  /**
   * Sends body and resolves with the reply (see RequestOptions.reply). Rejects with a
   * RequestFailure when the child has exited or exits, misses the bound, stalls, or cannot be
   * sent to; the child keeps running either way (what a failure means is the owner's call).
   */
  request(body: object, o: RequestOptions): Promise<M> {
    if (this.#exit !== undefined) {
      return Promise.reject(new RequestFailure('exited', `${this.label()} has exited (${this.#exit.signal ?? `code ${this.#exit.code}`})`));
    }
    const reply = o.reply ?? 'id';
    const key = this.#nextId++;
    const msg = reply === 'id' ? { ...body, id: key } : body;
    return new Promise<M>((resolve, reject) => {
      let bound: NodeJS.Timeout | undefined;
      let stall: NodeJS.Timeout | undefined;
      const settle = (f: () => void): void => {
        clearTimeout(bound);
        clearInterval(stall);
        f();
      };
      const fail = (err: RequestFailure): void => {
        if (this.#pending.delete(key)) settle(() => reject(err));
      };
      this.#pending.set(key, {
        reply,
        resolve: (m) => settle(() => resolve(m as M)),
        reject: (e) => settle(() => reject(e)),
      });
      const sentAt = performance.now();
      bound = setTimeout(() => fail(new RequestFailure('timeout', `${this.label()} did not ${o.verb ?? 'answer'} ${o.what} within ${o.timeoutMs} ms`)), o.timeoutMs);
      const stallMs = o.stallMs;
      if (stallMs !== undefined) {
        stall = setInterval(() => {
          const quiet = performance.now() - Math.max(sentAt, this.#lastMessageAt);
          if (quiet > stallMs) fail(new RequestFailure('stalled', `${this.label()} stalled: no message for ${Math.round(quiet)} ms during ${o.what}`));
        }, Math.min(1000, stallMs));
      }
      this.send(msg).catch((err: Error) => fail(new RequestFailure('unsent', `${this.#brief()}: cannot send ${o.what}: ${err.message}`)));
    });
  }

  /** Sends signal to the child's own pid only (a wrapper such as a profiler must outlive it to finish). */
  signal(signal: NodeJS.Signals): void {
    if (this.#exit !== undefined || this.pid <= 0) return;
    this.#signalled = true;
    try {
      process.kill(this.pid, signal);
    } catch {
      // Already gone; the exit event says how.
    }
  }

  /** SIGKILL to the child, to the process spawned for it (a wrapper), and to its group when it leads one. */
  kill(): void {
    if (this.#exit !== undefined) return;
    for (const pid of new Set([this.pid, this.child.pid])) {
      if (pid === undefined || pid <= 0) continue;
      this.#signalled = true;
      try {
        process.kill(this.#o.group === true ? -pid : pid, 'SIGKILL');
      } catch {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // Already gone.
        }
      }
    }
  }

  /** True once the child has exited, false if it still runs after ms. */
  waitExit(ms: number): Promise<boolean> {
    if (this.#exit !== undefined) return Promise.resolve(true);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), ms);
    });
    return Promise.race([this.exited.then(() => true), late]).finally(() => clearTimeout(timer));
  }

  /**
   * Sends signal, waits up to waitMs for the exit, then SIGKILLs and waits up to killWaitMs more.
   * Resolves with whether SIGKILL was needed.
   */
  async end(signal: NodeJS.Signals, waitMs: number, killWaitMs: number): Promise<boolean> {
    if (this.#exit !== undefined) return false;
    this.signal(signal);
    if (await this.waitExit(waitMs)) return false;
    this.kill();
    await this.waitExit(killWaitMs);
    return true;
  }
}
