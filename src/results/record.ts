// What the runner writes: the file's types (schema.ts) with the fields the runner always fills
// made required, so the runner cannot leave one out and its tests read them without checks.
// A reader of files takes the types in schema.ts, where these fields are optional, because a
// result need not come from this runner.

import type {
  AppliedLimits,
  C1mResult,
  Comparison,
  DriverLoad,
  Errors,
  GivenUp,
  GroupStep,
  HostProbe,
  Conformance,
  KernelBaseline,
  KernelStats,
  Latency,
  Measured,
  PhaseRecord,
  Preflight,
  Ramp,
  Reap,
  RequestedLimits,
  Run,
  ServerStats,
  Step,
  Summary,
  Throughput,
} from './schema.js';

/** One driver group's own figures in a step where several groups ran. */
export interface GroupStepRecord extends Required<Omit<GroupStep, 'tls'>> {
  /** Over TLS, from the native driver only. */
  tls?: NonNullable<GroupStep['tls']>;
  connections: number;
  ops: number;
  opsPerSec: number;
  latencyUs: Latency | null;
  errors: Required<Errors>;
  driverCpuPct: number;
  clientBound: boolean;
}

/** How a group that went silent was reaped by the server (heartbeats, idle timeouts, queue bounds). */
export interface ReapRecord extends Required<Reap> {
  group: string;
  target: number;
  closedByServer: number;
  closedSeenByDriver: number;
  pollMs: number;
  samples: Array<[number, number]>;
}

export interface GivenUpRecord extends Required<GivenUp> {
  dropped: number;
  timedOut: number;
  lost: number;
  unanswered: number;
}

/** A measured step as the runner records it. */
export interface StepRecord extends Step {
  connections: Measured;
  server: Required<ServerStats>;
  kernel: Required<KernelStats>;
  throughput: Throughput | null;
  latencyUs: Latency | null;
  errors: Errors | null;
  label: string | null;
  driverConnections: number;
  windowMs: number;
  serverProtocolErrors: number;
  serverExtra: Record<string, number>;
  groups?: Record<string, GroupStepRecord>;
  reap?: ReapRecord;
  driverCpuPct?: number;
  clientBound?: boolean;
  givenUp?: GivenUpRecord;
  fellBehind?: boolean;
  /** Every figure of a window's probe is measured (the runner records none when no probe ran). */
  host?: { [K in keyof Required<HostProbe>]: number };
}

export interface RampRecord extends Ramp {
  target: number;
  established: number;
  failed: number;
  ms: number;
  ratePerSec: Measured;
  minWindow?: number;
  group?: string;
}

/** A run as the runner records it. */
export interface RunRecord extends Run {
  error: string | null;
  skipped: string | null;
  clientBound: boolean | null;
  workers: Measured;
  steps: StepRecord[];
  summary: Summary | null;
  ramps?: RampRecord[];
  limits?: Required<AppliedLimits>;
  kernelBaseline?: Required<KernelBaseline>;
  warnings?: string[];
  /** The quick conformance cases, run right after the primer (absent when the run failed before them). */
  conformance?: Conformance;
}

export interface ComparisonRecord extends Comparison {
  protocol: string;
}

export interface PreflightRecord extends Preflight {
  serverWorkers: number;
  driverProcesses: number;
  sourceAddresses: number;
  listenBacklog: number;
  warnings: string[];
}

/** A whole result as the runner records it. */
export interface ResultRecord extends C1mResult {
  runs: RunRecord[];
  comparisons: ComparisonRecord[];
  note: string | null;
  /** True when Ctrl-C ended the run early: later runs are missing, the one in progress is not ok. */
  interrupted: boolean;
  /** The phases every run walked, as the scenario produced them from params. */
  phases: PhaseRecord[];
  /** The main driver group's load; `groups` has the others, when the scenario has any. */
  load: DriverLoad;
  /** The limits the scenario asked the contenders for (each run's `limits` says what was applied). */
  limits: RequestedLimits;
  preflight: PreflightRecord;
}
