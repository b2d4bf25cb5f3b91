// Every process a run starts, by pid, so that none outlives `c1m run` (Ctrl-C included). A pid
// is remembered with its start time from /proc, and only a process with the same pid *and*
// start time is ever signalled: a pid the kernel has since handed to someone else is left alone.

import { readFileSync } from 'node:fs';
import { parseStat } from '../metrics/proc.js';

export type Role = 'contender' | 'driver';

export interface Tracked {
  pid: number;
  role: Role;
  name: string;
  startTime: number | null;
}

/**
 * SIGKILLs a tracked process that is still the one tracked. Drivers lead their own process
 * group (src/drivers/driver-handle.ts starts them detached, for wrk's subprocesses), so the group goes
 * with them.
 */
export function killTracked(t: Tracked): boolean {
  if (!isSameProcess(t)) return false;
  try {
    process.kill(t.role === 'driver' ? -t.pid : t.pid, 'SIGKILL');
    return true;
  } catch {
    try {
      process.kill(t.pid, 'SIGKILL');
      return true;
    } catch {
      return false;
    }
  }
}

function startTimeOf(pid: number): number | null {
  try {
    return parseStat(readFileSync(`/proc/${pid}/stat`, 'utf8')).startTimeTicks;
  } catch {
    return null;
  }
}

/** True while pid is the process that was tracked (not a zombie, not a reused pid). */
export function isSameProcess(t: Tracked): boolean {
  try {
    const stat = parseStat(readFileSync(`/proc/${t.pid}/stat`, 'utf8'));
    return stat.state !== 'Z' && (t.startTime === null || stat.startTimeTicks === t.startTime);
  } catch {
    return false;
  }
}

/** The line `c1m run` prints on stderr for every process it starts (tests parse it). */
export function pidLine(t: Tracked): string {
  return `c1m: started pid=${t.pid} role=${t.role} name=${t.name}`;
}

export class ProcessTracker {
  readonly #tracked: Tracked[] = [];
  readonly #onStart: ((t: Tracked) => void) | undefined;

  constructor(onStart?: (t: Tracked) => void) {
    this.#onStart = onStart;
  }

  add(pid: number, role: Role, name: string): Tracked {
    const t: Tracked = { pid, role, name, startTime: startTimeOf(pid) };
    this.#tracked.push(t);
    this.#onStart?.(t);
    return t;
  }

  all(): readonly Tracked[] {
    return this.#tracked;
  }

  /** Tracked processes that are still running. */
  alive(): Tracked[] {
    return this.#tracked.filter(isSameProcess);
  }

  /** SIGKILLs every tracked process still running; returns their pids. */
  killAll(): number[] {
    return this.alive()
      .filter(killTracked)
      .map((t) => t.pid);
  }

  /** Waits until no tracked process runs, or timeoutMs passes; returns those still running. */
  async waitGone(timeoutMs: number): Promise<Tracked[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const alive = this.alive();
      if (alive.length === 0 || Date.now() >= deadline) return alive;
      await new Promise((r) => setTimeout(r, 25));
    }
  }
}

/** The processes of one command (run, suite, profile) and what Ctrl-C does to them. */
export interface CommandSession {
  readonly tracker: ProcessTracker;
  /** Aborted by the first SIGINT or SIGTERM: the work stops and writes what it measured. */
  readonly signal: AbortSignal;
  /** Removes the signal handlers and SIGKILLs whatever is still running; returns those pids. */
  end(): number[];
}

/**
 * Starts a command session: every process started is announced with `log(pidLine)`, the first
 * signal logs `onFirst(sig)` and aborts, a second one kills every tracked process at once and
 * exits with `exitCode`.
 */
export function commandSession(o: { log: (line: string) => void; onFirst: (sig: NodeJS.Signals) => string; exitCode: number }): CommandSession {
  const tracker = new ProcessTracker((t) => o.log(`${pidLine(t)}\n`));
  const controller = new AbortController();
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals): void => {
    signals++;
    if (signals === 1) {
      o.log(o.onFirst(sig));
      controller.abort(sig);
      return;
    }
    tracker.killAll();
    process.exit(o.exitCode);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    tracker,
    signal: controller.signal,
    end: () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      return tracker.killAll();
    },
  };
}
