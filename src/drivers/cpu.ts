// A driver's CPU over the measured window of a run. Every process a driver runs its load in is
// single-threaded where the load is generated (the driver's own Node process for autocannon, one
// wrk -t1 or h2load -t1 per target), so a run's `pct` is the busiest single process's share of
// one core over its measured period, and `userMs`/`sysMs` add up over the processes. Summing the
// percentages of tools that ran side by side would mark a run client-bound when none of them was
// near saturation.
//
// A tool process is read from /proc/<pid>/stat (utime + stime) while it is alive: Node reaps a
// child as soon as it exits, so its figures cannot be read after the fact, and the cumulative
// cutime/cstime of /proc/self/stat would lump together every child reaped, with its start-up and
// its tail. ToolCpu therefore samples a child every TOOL_CPU_POLL_MS and on demand; the end of a
// measured period is read on demand when the tool says its window is over (h2load), or from the
// last poll before it exited (wrk), so the resolution is the poll interval and the kernel's
// clock tick (10 ms).

import { readFileSync } from 'node:fs';
import { parseStat } from '../metrics/proc.js';
import { clockTicksPerSecond } from '../system/getconf.js';
import type { CpuUse } from './driver-contract.js';

/**
 * A phase whose driver used at least this share of one core is client-bound: the load generator,
 * not the server, set the pace, so throughput is only a lower bound. 90 % rather than 100 %
 * because a saturated single-threaded event loop still spends a few percent waiting in epoll
 * between batches and in timer slack, and the kernel's tick accounting rounds.
 */
export const CLIENT_BOUND_PCT = 90;

/** How often a tool process's CPU is read while it runs. */
export const TOOL_CPU_POLL_MS = 100;

export function isClientBound(cpu: CpuUse): boolean {
  return cpu.pct >= CLIENT_BOUND_PCT;
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

/** user + sys over wallMs as a CpuUse (pct of one core). */
export function cpuUse(userMs: number, sysMs: number, wallMs: number): CpuUse {
  return { userMs: round3(userMs), sysMs: round3(sysMs), pct: wallMs > 0 ? round3(((userMs + sysMs) / wallMs) * 100) : 0 };
}

/** Measures this process's own threads from construction to each call of read(). */
export class CpuMeter {
  readonly #start = process.cpuUsage();
  readonly #at = performance.now();

  read(): CpuUse {
    const own = process.cpuUsage(this.#start);
    return cpuUse(own.user / 1000, own.system / 1000, performance.now() - this.#at);
  }
}

/** One reading of a process's CPU: user and system ms, and when (performance.now()). */
interface CpuReading {
  userMs: number;
  sysMs: number;
  at: number;
}

/** utime and stime of /proc/<pid>/stat in ms, or null when the process is gone (or a zombie). */
function readProcessCpu(pid: number): CpuReading | null {
  try {
    const stat = parseStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
    if (stat.state === 'Z') return null;
    const ticks = clockTicksPerSecond();
    return { userMs: (stat.utimeTicks * 1000) / ticks, sysMs: (stat.stimeTicks * 1000) / ticks, at: performance.now() };
  } catch {
    return null;
  }
}

/**
 * The CPU of one child process over its measured period: begin() marks the start (read now), and
 * end() the end (read now if it is alive, else the last poll before it exited). Polls every
 * TOOL_CPU_POLL_MS until stop(); the timer does not hold the event loop open.
 */
export class ToolCpu {
  readonly #pid: number;
  readonly #timer: NodeJS.Timeout;
  #last: CpuReading | null;
  #begin: CpuReading | null = null;
  #end: CpuReading | null = null;

  constructor(pid: number) {
    this.#pid = pid;
    this.#last = readProcessCpu(pid);
    this.#timer = setInterval(() => this.poll(), TOOL_CPU_POLL_MS);
    this.#timer.unref();
  }

  /** Reads the process now, keeping the reading if it is alive. */
  poll(): void {
    const r = readProcessCpu(this.#pid);
    if (r !== null) this.#last = r;
  }

  /** The measured period starts now (a later call moves it; the last reading if the process is already gone). */
  begin(): void {
    this.poll();
    this.#begin = this.#last;
  }

  /** The measured period ends now, or at the last reading of a process that has exited. */
  end(): void {
    if (this.#end !== null) return;
    this.poll();
    this.#end = this.#last;
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /** CPU between begin() (or the first reading) and end() (or the last reading); zeros when nothing was read. */
  read(): CpuUse {
    const a = this.#begin;
    const b = this.#end ?? this.#last;
    if (a === null || b === null) return cpuUse(0, 0, 0);
    return cpuUse(b.userMs - a.userMs, b.sysMs - a.sysMs, b.at - a.at);
  }
}
