// The profile contract: which tools there are, what a profile run is asked to do, and what it
// leaves behind (a directory of files, one of them the one to open, and a profile.json that
// says how the profile was taken).

import type { Protocol } from '../wire/protocols.js';
import type { DriverName, LoadMode, RunResult } from '../drivers/driver-contract.js';
import type { ProcessTracker } from '../runner/processes.js';
import type { LoadSpec, ScenarioLimits } from '../runner/scenario.js';

export const CLINIC_TOOLS = ['doctor', 'flame', 'heapprofiler', 'bubbleprof'] as const;
export const V8_TOOLS = ['cpu-prof', 'heap-prof'] as const;
export const PROFILE_TOOLS = [...CLINIC_TOOLS, ...V8_TOOLS, 'perf'] as const;

export type ClinicTool = (typeof CLINIC_TOOLS)[number];
export type ProfileTool = (typeof PROFILE_TOOLS)[number];

/** The npm package of each clinic tool (all come with the `clinic` package). */
export const CLINIC_PACKAGES: Readonly<Record<ClinicTool, string>> = {
  doctor: '@clinic/doctor',
  flame: '@clinic/flame',
  heapprofiler: '@clinic/heap-profiler',
  bubbleprof: '@clinic/bubbleprof',
};

/** The name clinic gives its data: <outDir>/contender.clinic-<tool>, and the report beside it with .html. */
export const CLINIC_NAME = 'contender';

/**
 * How perf walks stacks. fp: frame pointers, cheap, follows JIT-compiled JS but stops at native
 * code built without frame pointers (glibc's syscall wrappers, the -O3 addon). dwarf: copies
 * the stack with every sample and unwinds it with the binaries' unwind tables, so native and
 * kernel frames keep their callers, but JS frames (no unwind tables) end the walk.
 */
export type CallGraph = 'fp' | 'dwarf';

export interface ProfileOptions {
  /** For the output path and profile.json. */
  readonly scenario: string;
  readonly contender: string;
  readonly protocol: Protocol;
  readonly tool: ProfileTool;
  readonly driver: DriverName;
  /** The driver's load (DriverConfig without driver, protocol and targets). */
  readonly load: LoadSpec;
  /** Limits the contender applies (message size, idle timeout), as the scenario sets them. */
  readonly limits?: ScenarioLimits;
  /** Connections the driver opens before the load runs. */
  readonly connections: number;
  /** New connections per second during the ramp (0 = as fast as the driver can). */
  readonly connectRatePerSec?: number;
  /** Seconds of load. */
  readonly durationSec: number;
  /** The output directory (created; should not exist or be empty). */
  readonly outDir: string;
  /** Contender on CPU 0, driver on CPU 1. */
  readonly pin?: boolean;
  /** perf only; default dwarf for contenders whose hot path is native, fp for net. */
  readonly callGraph?: CallGraph;
  /** perf only: samples per second, default 499. */
  readonly frequencyHz?: number;
  /**
   * Bound from the stop signal to the profiled process's exit, default 15 s. A process still
   * running then is killed with its profiler, and the profile reported as not written.
   */
  readonly exitTimeoutMs?: number;
  /** Bound on the profiler's own work after the process exited (clinic's analysis and HTML, perf script), default 120 s. */
  readonly analysisTimeoutMs?: number;
  /** Aborting stops the load early; the profile is still taken from what ran. */
  readonly signal?: AbortSignal;
  /** Progress lines (stderr in the CLI). */
  readonly log?: (line: string) => void;
  /** Every process started is added here (the CLI's second Ctrl-C kills them all at once). */
  readonly tracker?: ProcessTracker;
}

export interface ProfilePids {
  /** The profiled node process (the contender's worker). */
  contender: number | null;
  /** The process the contender runs under (setsid'd profiler or wrapper); it leads its own process group. */
  wrapper: number | null;
  drivers: number[];
}

/** Frames that cost the most, from a folded profile. */
export interface TopFrame {
  name: string;
  /** Samples (or bytes, heap-prof) in the frame itself. */
  self: number;
  /** Samples (or bytes) in the frame and everything it called. */
  total: number;
  selfPct: number;
  totalPct: number;
}

export interface ProfileResult {
  status: 'ok' | 'unavailable' | 'failed';
  /** Why the tool is unavailable or the run failed; null when ok. */
  reason: string | null;
  scenario: string;
  contender: string;
  protocol: Protocol;
  tool: ProfileTool;
  dir: string;
  /** The file to open: an HTML report, a .cpuprofile/.heapprofile, or an SVG flame graph. */
  open: string | null;
  /** Every file the run left in dir, relative to it. */
  files: string[];
  startedAt: string;
  finishedAt: string;
  /** Seconds the load actually ran (less than asked when interrupted). */
  load: {
    driver: DriverName;
    mode: LoadMode;
    connectionsAsked: number;
    connectionsEstablished: number | null;
    run: Pick<RunResult, 'durationMs' | 'ops' | 'opsPerSec' | 'errors' | 'clientBound'> | null;
  };
  /** perf and cpu-prof: the most expensive frames. */
  top: { self: TopFrame[]; total: TopFrame[]; unit: 'samples' | 'bytes'; totalValue: number } | null;
  /** How the contender process ended: exit code and signal of its wrapper (the profiler). */
  exit: { code: number | null; signal: string | null; killed: boolean; ms: number } | null;
  interrupted: boolean;
  warnings: string[];
  pids: ProfilePids;
}
