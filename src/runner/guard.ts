// Waiting on a run's promises while watching what can end the run early: Ctrl-C (an abort
// signal), a watched process dying (contender crash, driver crash) and a phase overrunning
// its bound. Whichever comes first settles the wait.

import { readFileSync } from 'node:fs';
import { parseMeminfo } from '../metrics/proc.js';
import { isSameProcess, type Tracked } from './processes.js';

/** The run was interrupted (SIGINT); the runner winds down and writes what it has. */
export class Interrupted extends Error {
  override name = 'Interrupted';
  constructor() {
    super('interrupted');
  }
}

/** A run failed; the message is the sentence recorded in the run's `error`. */
export class RunFailure extends Error {
  override name = 'RunFailure';
}

/** A watched process is gone while the run still needed it. */
export class ProcessDied extends RunFailure {
  override name = 'ProcessDied';
  constructor(
    readonly tracked: Tracked,
    readonly during: string,
  ) {
    super(`${tracked.role} ${tracked.name} (pid ${tracked.pid}) exited during ${during}`);
  }
}

const POLL_MS = 100;

/** The memory watchdog's floor: stop before MemAvailable falls under max(1 GiB, 5% of RAM). */
export function memoryFloorBytes(memTotalBytes: number | null): number {
  return Math.max(1 << 30, Math.round((memTotalBytes ?? 0) * 0.05));
}

/** MemAvailable in bytes from /proc/meminfo, or null when it cannot be read. */
export function memAvailableBytes(read: () => string = () => readFileSync('/proc/meminfo', 'utf8')): number | null {
  try {
    return parseMeminfo(read())['MemAvailable'] ?? null;
  } catch {
    return null;
  }
}

export class Guard {
  readonly #signal: AbortSignal | undefined;
  readonly #watched: Tracked[] = [];
  readonly #memFloor: number | null;
  readonly #memAvailable: () => number | null;

  /**
   * memFloorBytes: the watchdog's floor (null: no watchdog). While a wait is pending, a
   * MemAvailable under it ends the phase with a RunFailure that says so, and the runner's
   * cleanup stops the drivers and the contender before the machine runs out of memory.
   */
  constructor(signal: AbortSignal | undefined, memFloorBytes: number | null = null, memAvailable: () => number | null = () => memAvailableBytes()) {
    this.#signal = signal;
    this.#memFloor = memFloorBytes;
    this.#memAvailable = memAvailable;
  }

  /** A sentence when memory is under the floor, else null. */
  lowMemory(): string | null {
    if (this.#memFloor === null) return null;
    const avail = this.#memAvailable();
    if (avail === null || avail >= this.#memFloor) return null;
    const mib = (b: number): string => `${Math.round(b / 1048576).toLocaleString('en-US')} MiB`;
    return `stopped by the memory watchdog: MemAvailable fell to ${mib(avail)}, under the floor of ${mib(this.#memFloor)}`;
  }

  watch(tracked: readonly Tracked[]): void {
    this.#watched.push(...tracked);
  }

  /** The first watched process that is gone, if any. */
  dead(): Tracked | undefined {
    return this.#watched.find((t) => !isSameProcess(t));
  }

  /** Throws Interrupted when the signal has fired. */
  check(): void {
    if (this.#signal?.aborted) throw new Interrupted();
  }

  /**
   * Resolves with p, or rejects with Interrupted, ProcessDied (what = the phase, for the
   * sentence) or RunFailure when timeoutMs passes first. p keeps running either way; the
   * caller's cleanup (closing drivers, stopping the contender) is what ends it.
   */
  wait<T>(p: Promise<T>, timeoutMs: number, what: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      let poll: NodeJS.Timeout | undefined;
      let timer: NodeJS.Timeout | undefined;
      const finish = (f: () => void): void => {
        if (settled) return;
        settled = true;
        clearInterval(poll);
        clearTimeout(timer);
        this.#signal?.removeEventListener('abort', onAbort);
        f();
      };
      const onAbort = (): void => finish(() => reject(new Interrupted()));
      if (this.#signal?.aborted) {
        p.catch(() => {});
        onAbort();
        return;
      }
      this.#signal?.addEventListener('abort', onAbort, { once: true });
      timer = setTimeout(() => finish(() => reject(new RunFailure(`${what} did not finish within ${Math.round(timeoutMs / 1000)} s`))), timeoutMs);
      poll = setInterval(() => {
        const gone = this.dead();
        if (gone) finish(() => reject(new ProcessDied(gone, what)));
        const low = this.lowMemory();
        if (low) finish(() => reject(new RunFailure(`${low} during ${what}`)));
      }, POLL_MS);
      p.then(
        (v) => finish(() => resolve(v)),
        (err: unknown) =>
          finish(() => {
            // A driver's error is often the echo of a contender that died first: say that instead.
            const gone = this.dead();
            reject(gone ? new ProcessDied(gone, what) : err);
          }),
      );
    });
  }

  sleep(ms: number, what: string): Promise<void> {
    return this.wait(new Promise<void>((r) => setTimeout(r, ms)), ms + 5000, what);
  }
}
