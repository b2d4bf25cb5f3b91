// CPU use of a driver process over one phase: its own threads (process.cpuUsage) plus the
// children it has already reaped (cutime/cstime in /proc/self/stat), so that a tool the driver
// runs as a subprocess (wrk) is charged to the phase it ran in.

import { readFileSync } from 'node:fs';
import { clockTicksPerSecond } from '../system/getconf.js';
import type { CpuUse } from './driver-contract.js';

/**
 * A phase whose driver used at least this share of one core is client-bound: the load generator,
 * not the server, set the pace, so throughput is only a lower bound. 90 % rather than 100 %
 * because a saturated single-threaded event loop still spends a few percent waiting in epoll
 * between batches and in timer slack, and the kernel's tick accounting rounds.
 */
export const CLIENT_BOUND_PCT = 90;

export function isClientBound(cpu: CpuUse): boolean {
  return cpu.pct >= CLIENT_BOUND_PCT;
}

/** CPU of reaped children in ms: fields 16 and 17 of /proc/self/stat; zeros where unreadable. */
function childrenCpuMs(): { userMs: number; sysMs: number } {
  try {
    const text = readFileSync('/proc/self/stat', 'utf8');
    // Fields are counted from the last ')', as the command name may contain spaces.
    const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
    const ticks = clockTicksPerSecond();
    const cutime = Number(rest[16 - 3]);
    const cstime = Number(rest[17 - 3]);
    if (!Number.isFinite(cutime) || !Number.isFinite(cstime)) return { userMs: 0, sysMs: 0 };
    return { userMs: (cutime * 1000) / ticks, sysMs: (cstime * 1000) / ticks };
  } catch {
    return { userMs: 0, sysMs: 0 };
  }
}

/** Measures from construction to each call of read(). */
export class CpuMeter {
  readonly #start = process.cpuUsage();
  readonly #children = childrenCpuMs();
  readonly #at = process.hrtime.bigint();

  read(): CpuUse {
    const own = process.cpuUsage(this.#start);
    const children = childrenCpuMs();
    const wallMs = Number(process.hrtime.bigint() - this.#at) / 1e6;
    const userMs = own.user / 1000 + (children.userMs - this.#children.userMs);
    const sysMs = own.system / 1000 + (children.sysMs - this.#children.sysMs);
    return {
      userMs: round3(userMs),
      sysMs: round3(sysMs),
      pct: wallMs > 0 ? round3(((userMs + sysMs) / wallMs) * 100) : 0,
    };
  }
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
