// Types of the result file, as specified in /work/shared/RESULTS.md (the contract) plus the
// additive fields documented in results/README.md (`note`, `run.timeline`, `run.drain`). Every
// measured number is `number | null` and may be absent: an unmeasured figure is never written as
// 0. Objects may carry fields this version does not know; readers ignore them.

export const RESULT_SCHEMA = 'c1m.result/1';

/** A figure that may not have been measured: absent or null means "not measured". */
export type Measured = number | null;

export interface C1mResult {
  schema: typeof RESULT_SCHEMA;
  /** Scenario name, e.g. "idle-hold". */
  scenario: string;
  /** Every effective parameter of the run, defaults filled in. */
  params: Record<string, unknown>;
  env: Env;
  /** ISO-8601. */
  startedAt: string;
  /** ISO-8601. */
  finishedAt: string;
  /** One per contender × repetition, in the order run. */
  runs: Run[];
  /** Ratios computed by the runner from runs of this same file. */
  comparisons?: Comparison[];
  /** Free text, e.g. "test data" for fixtures. Addition to RESULTS.md. */
  note?: string | null;
}

export interface Env {
  node?: string | null;
  kernel?: string | null;
  cpus?: Measured;
  cpuModel?: string | null;
  memTotalBytes?: Measured;
  nofileSoft?: Measured;
  nofileHard?: Measured;
  sysctl?: Record<string, string | number | null>;
  versions?: Record<string, string | null>;
  /** The commit the harness ran from, null outside a git checkout. */
  git?: string | null;
  hostname?: string | null;
}

export interface Run {
  contender: string;
  protocol: string;
  driver: string;
  /** Repetition index, from 0. */
  rep: number;
  ok: boolean;
  /** A sentence, when ok is false. */
  error?: string | null;
  /** A reason, when the contender cannot speak the protocol. */
  skipped?: string | null;
  /** The driver saturated its CPU: throughput is a lower bound. */
  clientBound?: boolean | null;
  workers?: Measured;
  /** One per measured level; empty for a skipped run. */
  steps: Step[];
  /** Absent for a skipped run or one that failed before measuring. */
  summary?: Summary | null;
  /** Samples over the whole run (ramps included). Addition to RESULTS.md. */
  timeline?: Timeline | null;
  /** The contender's graceful drain when it was stopped. Addition to RESULTS.md. */
  drain?: Drain | null;
}

/**
 * How the contender's graceful drain ended (src/contenders/README.md, "Graceful drain").
 * Addition to RESULTS.md.
 */
export interface Drain {
  /**
   * Connections still open when the drain bound forced them closed, summed over the worker
   * processes: 0 when the drain finished in time; null when a worker could not tell (c-ref) or
   * did not report (killed, died).
   */
  cut?: Measured;
  /** The drain bound each worker had, in ms. */
  boundMs?: Measured;
}

export interface Step {
  /** Established, as counted by the server and by the driver. */
  connections: Measured;
  server?: ServerStats | null;
  kernel?: KernelStats | null;
  throughput?: Throughput | null;
  latencyUs?: Latency | null;
  errors?: Errors | null;
}

export interface ServerStats {
  rssBytes?: Measured;
  pssBytes?: Measured;
  heapUsedBytes?: Measured;
  externalBytes?: Measured;
  cpuUserMs?: Measured;
  cpuSysMs?: Measured;
}

export interface KernelStats {
  slabBytes?: Measured;
  sockstatMemPages?: Measured;
  tcpInUse?: Measured;
}

export interface Throughput {
  opsPerSec?: Measured;
  bytesPerSec?: Measured;
  opsPerServerCpuSec?: Measured;
}

export interface Latency {
  p50?: Measured;
  p90?: Measured;
  p99?: Measured;
  p999?: Measured;
  max?: Measured;
}

export interface Errors {
  connect?: Measured;
  read?: Measured;
  write?: Measured;
  timeout?: Measured;
  protocol?: Measured;
}

export interface Summary {
  maxConnections?: Measured;
  connectRatePerSec?: Measured;
  /** Slope of server memory over the steps. */
  bytesPerConnection?: Measured;
  kernelBytesPerConnection?: Measured;
  /** Epoll engine contenders: slope of the engine's own accounting of what it holds (exact). */
  engineBytesPerConnection?: Measured;
  /** Slope of RSS minus V8's committed heap: the process's memory outside the JS heap. */
  nonHeapBytesPerConnection?: Measured;
  opsPerSec?: Measured;
  opsPerServerCpuSec?: Measured;
  latencyUs?: Pick<Latency, 'p50' | 'p99'> | null;
}

/**
 * Samples taken during the run, one index per sample. `tMs` is milliseconds since the run
 * started and rises; every other array present has the same length, with null for a sample
 * where that figure was not read. Addition to RESULTS.md.
 */
export interface Timeline {
  tMs: number[];
  /** Established connections. */
  connections?: Measured[];
  /** Server CPU (user + system) in percent of one core; above 100 with several workers. */
  cpuPct?: Measured[];
  /** Server resident set size, all workers. */
  rssBytes?: Measured[];
}

export interface Comparison {
  /** Dotted path of the compared field in a run, e.g. "summary.bytesPerConnection". */
  metric: string;
  /** Contender the ratios are relative to. */
  baseline: string;
  ratios: Record<string, Measured>;
}

/** A validated result together with the file it came from. */
export interface LoadedResult {
  file: string;
  result: C1mResult;
}

export const LATENCY_KEYS = ['p50', 'p90', 'p99', 'p999', 'max'] as const;
export type LatencyKey = (typeof LATENCY_KEYS)[number];
