// A measured step as the result file records it, built from what a measure phase read: the
// server's memory and stats at the end of the window, its CPU over the window, the kernel's
// figures against the baseline, and the driver groups' results. Pure: the waiting and sampling
// are the session's (session.ts).

import type { ContenderStats } from '../contenders/index.js';
import type { RunResult } from '../drivers/driver-contract.js';
import { Histogram } from '../metrics/histogram.js';
import type { HostProbeReading } from '../metrics/host-probe.js';
import { threadCpuMsBetween, type KernelSample, type ProcessesSample } from '../metrics/proc.js';
import { latencyRecord } from '../results/histograms.js';
import type { GivenUpRecord, GroupStepRecord, ReapRecord, StepRecord } from '../results/record.js';
import type { Latency, Measured, Step, Syscalls } from '../results/schema.js';
import { MAIN_GROUP } from './scenario.js';

/** The given-up counts a driver reported in its extra figures, or undefined when it has none. */
export function givenUpOf(extra: Readonly<Record<string, number>>): GivenUpRecord | undefined {
  const { dropped, timedOut, lost, unanswered } = extra;
  if (dropped === undefined || timedOut === undefined || lost === undefined || unanswered === undefined) return undefined;
  return { dropped, timedOut, lost, unanswered };
}

function latencyOf(r: RunResult): Latency | null {
  return r.latency === null ? null : latencyRecord(Histogram.fromJSON(r.latency));
}

/** How far a kernel figure moved since the baseline; null when either was not read. */
function change(now: number | null, base: number | null): Measured {
  return now === null || base === null ? null : now - base;
}

function growth(now: number | null, base: number | null): Measured {
  const d = change(now, base);
  // Slab and socket counts move with everything else on the machine; growth below the baseline
  // is noise, recorded as none (the fit takes the change before this floor, so it is not biased by it).
  return d === null ? null : Math.max(0, d);
}

/** How far apart two readings of a process's clock ticks may put its CPU (each of utime and stime is cut to a 10 ms tick). */
const TICK_SLACK_MS = 20;

/**
 * The server's user and kernel CPU over a window. The total is the threads' nanosecond on-CPU
 * time when both samples have it (cpuFrom 'schedstat'), split between user and kernel as the
 * clock ticks of /proc/<pid>/stat split it over the window (the kernel splits its own total the
 * same way), or over the processes' lives when no tick moved in the window (an idle step); else
 * the clock ticks themselves ('stat', 10 ms each: a step of 400 ms of CPU moves by up to 5 %).
 * The ticks also win when the threads' total falls short of them by more than the ticks' own
 * slack: a thread that started and ended inside the window (an io_uring worker) left no count.
 */
export function cpuMs(a: ProcessesSample, b: ProcessesSample): { user: Measured; sys: Measured; from: 'schedstat' | 'stat' | null } {
  const u0 = a.total.cpuUserMs;
  const u1 = b.total.cpuUserMs;
  const s0 = a.total.cpuSysMs;
  const s1 = b.total.cpuSysMs;
  if (u0 === null || u1 === null || s0 === null || s1 === null || b.missing.length > 0) return { user: null, sys: null, from: null };
  const user = Math.max(0, u1 - u0), sys = Math.max(0, s1 - s0);
  const ticks = { user, sys, from: 'stat' as const };
  const total = threadCpuMsBetween(a.perPid, b.perPid);
  if (total === null || total < user + sys - TICK_SLACK_MS * b.perPid.length) return ticks;
  // The split: the window's ticks, or the processes' lifetime ticks when none moved in it.
  const [su, ss] = user + sys > 0 ? [user, sys] : [u1, s1];
  if (su + ss <= 0) return ticks;
  return { user: (total * su) / (su + ss), sys: (total * ss) / (su + ss), from: 'schedstat' };
}

function groupRecord(r: RunResult): GroupStepRecord {
  const sent = typeof r.extra['sent'] === 'number' ? r.extra['sent'] : null;
  return {
    connections: r.connections,
    ops: r.ops,
    opsPerSec: r.opsPerSec,
    sent,
    opsPerSent: sent !== null && sent > 0 ? r.ops / sent : null,
    peerClosed: typeof r.extra['peerClosed'] === 'number' ? r.extra['peerClosed'] : null,
    ...(typeof r.extra['tlsHandshakes'] === 'number'
      ? { tls: { handshakes: r.extra['tlsHandshakes'], resumed: r.extra['tlsResumed'] ?? null, failed: r.extra['tlsHandshakeFailed'] ?? null } }
      : {}),
    latencyUs: latencyOf(r),
    errors: r.errors,
    driverCpuPct: r.cpu.pct,
    clientBound: r.clientBound,
  };
}

/** What one measure phase read. */
export interface StepReadings {
  label: string | null;
  /** Server memory (with Pss and fds) at the end of the window. */
  mem: ProcessesSample;
  stats: ContenderStats;
  kernel: KernelSample;
  /** The kernel before the contender started. */
  kernel0: KernelSample;
  /** Server CPU at the start and the end of the window, and its length. */
  cpu0: ProcessesSample;
  cpu1: ProcessesSample;
  windowMs: number;
  /** The host's speed over the window (host-probe.ts); null or absent when no probe ran. */
  host?: HostProbeReading | null;
  /** Connections every driver group held (the driver's own count). */
  driverConnections: number;
  /** The results of the groups that applied their load, in `running` order (none for an idle step). */
  results: readonly RunResult[];
  running: readonly string[];
  reap: ReapRecord | undefined;
  /** The contender's protocol errors before any load: what the primer and the conformance check provoked on purpose. */
  protocolErrors0?: number;
  /** The contender's counters at the start of the window, and how long before the end read they were taken (load steps). */
  counters0?: { extra: Readonly<Record<string, number>>; msBeforeEnd: number } | undefined;
}

/**
 * The engine's syscalls per operation between two readings of its counters ('engine.reads',
 * 'engine.writes', 'engine.epollWaits', 'engine.enters', 'engine.loopWaits', summed over
 * workers), divided by the operations the load completed in that interval at the step's rate.
 * Under io_uring a receive or a send is not a syscall (reads and writes count only the direct
 * ones, near 0), and `enters` counts its io_uring_enter calls; an engine without that counter (an
 * older build) had none. `loopWaits` is libuv's epoll_pwait: one per turn of Node's loop and a
 * second in a turn whose poll blocked (native/counters.h); on io_uring the only wait, on epoll
 * the one around the engine's. A call that a completion's task work interrupts (EINTR) is
 * repeated by libuv and not counted: on io_uring the count is a lower bound (perf counted about
 * 1.3 times as many at 1,000 echoes a second; on epoll the same). An engine that did not count
 * it leaves it and the total null (a total without it read io_uring's waits as none). Null for
 * contenders without these counters.
 */
export function syscallsPerOp(before: Readonly<Record<string, number>>, after: Readonly<Record<string, number>>, opsPerSec: number, intervalMs: number): Syscalls | null {
  const delta = (k: string): number | null => {
    const a = before[`engine.${k}`];
    const b = after[`engine.${k}`];
    return a === undefined || b === undefined || b < a ? null : b - a;
  };
  const reads = delta('reads');
  const writes = delta('writes');
  const waits = delta('epollWaits');
  const enters = before['engine.enters'] === undefined && after['engine.enters'] === undefined ? 0 : delta('enters');
  const loopWaits = delta('loopWaits');
  const ops = (opsPerSec * intervalMs) / 1000;
  if (reads === null || writes === null || waits === null || enters === null || !(ops > 0)) return null;
  return {
    reads: reads / ops, writes: writes / ops, waits: waits / ops, enters: enters / ops,
    loopWaits: loopWaits === null ? null : loopWaits / ops,
    total: loopWaits === null ? null : (reads + writes + waits + enters + loopWaits) / ops, ops: Math.round(ops), intervalMs,
  };
}

/**
 * The step's record, and the same figures as the memory fits read them (the kernel's change
 * before the floor at zero: floored growth would bias the slope).
 */
export function buildStep(r: StepReadings): { step: StepRecord; raw: Step } {
  const { mem, stats, kernel: k, kernel0, results, windowMs } = r;
  const cpu = windowMs >= 1 ? cpuMs(r.cpu0, r.cpu1) : { user: null, sys: null, from: null };
  const serverCores = cpu.user !== null && cpu.sys !== null && windowMs > 0 ? (cpu.user + cpu.sys) / windowMs : null;
  const result = results[0] ?? null;

  const step: StepRecord = {
    connections: stats.total.connectionsNow,
    server: {
      rssBytes: mem.total.rssBytes,
      pssBytes: mem.total.pssBytes,
      heapUsedBytes: stats.total.heapUsedBytes,
      externalBytes: stats.total.externalBytes,
      cpuUserMs: cpu.user,
      cpuSysMs: cpu.sys,
      cpuFrom: cpu.from,
      rssAnonBytes: mem.total.rssAnonBytes,
      heapTotalBytes: stats.total.heapTotalBytes,
      fds: mem.total.fds,
      engineBytes: stats.total.extra['engine.engineBytes'] ?? null,
    },
    kernel: {
      slabBytes: growth(k.slabBytes, kernel0.slabBytes),
      sockstatMemPages: growth(k.sockstat.tcpMemPages, kernel0.sockstat.tcpMemPages),
      tcpInUse: growth(k.sockstat.tcpInUse, kernel0.sockstat.tcpInUse),
      tcpTw: growth(k.sockstat.tcpTw, kernel0.sockstat.tcpTw),
      // Everything the run holds, system-wide (contenders, drivers, kernel): MemAvailable's drop.
      memUsedBytes: k.memAvailableBytes !== null && kernel0.memAvailableBytes !== null ? kernel0.memAvailableBytes - k.memAvailableBytes : null,
    },
    throughput:
      result === null
        ? null
        : {
            opsPerSec: result.opsPerSec,
            bytesPerSec: result.bytesPerSec,
            opsPerServerCpuSec: serverCores !== null && serverCores > 0 ? result.opsPerSec / serverCores : null,
          },
    latencyUs: result === null ? null : latencyOf(result),
    errors: null,
    label: r.label,
    driverConnections: r.driverConnections,
    windowMs,
    serverProtocolErrors: Math.max(0, stats.total.protocolErrors - (r.protocolErrors0 ?? 0)),
    serverExtra: { ...stats.total.extra },
    ...(result !== null ? { driverCpuPct: Math.max(...results.map((x) => x.cpu.pct)), clientBound: results.some((x) => x.clientBound) } : {}),
  };
  if (results.length > 0) {
    step.groups = {};
    results.forEach((x, i) => {
      if (step.groups !== undefined) step.groups[r.running[i] ?? MAIN_GROUP] = groupRecord(x);
    });
  }
  if (r.reap !== undefined) step.reap = r.reap;
  if (r.host !== undefined && r.host !== null) step.host = { ...r.host };
  if (r.counters0 !== undefined && result !== null) {
    const perOp = syscallsPerOp(r.counters0.extra, stats.total.extra, result.opsPerSec, r.counters0.msBeforeEnd);
    if (perOp !== null) step.syscallsPerOp = perOp;
  }
  const givenUp = result !== null ? givenUpOf(result.extra) : undefined;
  if (givenUp !== undefined) {
    step.givenUp = givenUp;
    step.fellBehind = givenUp.dropped + givenUp.timedOut + givenUp.lost > 0;
  }
  const raw: Step = {
    connections: step.connections,
    server: step.server,
    kernel: {
      slabBytes: change(k.slabBytes, kernel0.slabBytes),
      sockstatMemPages: change(k.sockstat.tcpMemPages, kernel0.sockstat.tcpMemPages),
      tcpInUse: change(k.sockstat.tcpInUse, kernel0.sockstat.tcpInUse),
    },
  };
  return { step, raw };
}
