// Waiting on a run's promises while watching what can end the run early: Ctrl-C (an abort
// signal), a watched process dying (contender crash, driver crash) and a phase overrunning
// its bound. Whichever comes first settles the wait.

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

export class Guard {
  readonly #signal: AbortSignal | undefined;
  readonly #watched: Tracked[] = [];

  constructor(signal: AbortSignal | undefined) {
    this.#signal = signal;
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
