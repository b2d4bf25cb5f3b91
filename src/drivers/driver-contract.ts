// The driver contract: a driver is a load generator in its own process, steered phase by phase
// by the runner over a control channel (IPC), ending every phase with counts, a latency
// histogram and its own CPU use. Implementations: `native` (the engine's connector), `autocannon`
// (HTTP, its API), `wrk` and `h2load` (HTTP, when on PATH).
import type { HistogramJSON } from '../metrics/histogram.js';
import type { Protocol } from '../wire/protocols.js';

export const DRIVERS = ['native', 'autocannon', 'wrk', 'h2load'] as const;
export type DriverName = (typeof DRIVERS)[number];

/** What the load does on each connection once it is up. */
export type LoadMode =
  | 'idle'    // hold the connection; optional heartbeat
  | 'closed'  // closed loop: `depth` messages in flight per connection, a new one per answer
  | 'open'    // open loop: `rate` messages/s in total on a fixed schedule, latency from the schedule (coordinated-omission corrected)
  | 'stall'   // stop reading and sending (slow consumers, silent peers); closes by the server are counted
  | 'churn';  // `rate` new connections/s, each asking once when established (TLS: after its handshake) and closed on the answer; an op is one, latency from when it was due (native driver)

/**
 * The latency histogram layout (microseconds) every driver records with, so that histograms of
 * several driver processes, and of different drivers, merge exactly: 1 µs to 60 s at 3
 * significant digits. Slower answers are recorded as 60 s and counted in `overflow`.
 */
export const DRIVER_LATENCY_LAYOUT = Object.freeze({ lowest: 1, highest: 60_000_000, digits: 3 });

export interface Target {
  host: string;
  port: number;
}

/**
 * Everything a driver process needs; sent once at start. Bounds and defaults of the numbers are
 * in src/limits.ts (LIMITS), the default path is HTTP_HELLO_PATH.
 */
export interface DriverConfig {
  driver: DriverName;
  protocol: Protocol;
  /** Contender endpoints (one per worker); connections are spread over them round-robin. */
  targets: Target[];
  mode: LoadMode;
  /** Bytes per message (echo, frame, ws); ignored for http-hello. Default 64. */
  messageBytes?: number;
  /** Closed loop: messages in flight per connection (HTTP: pipeline depth). Default 1. */
  depth?: number;
  /** Open loop: messages per second over all this process's connections. */
  rate?: number;
  /** Idle mode: send one heartbeat per connection this often (0 = never). */
  heartbeatMs?: number;
  /** Source addresses (127.0.0.0/8) spread over connections, bound with IP_BIND_ADDRESS_NO_PORT. */
  sourceAddresses?: string[];
  /** A connect that has not completed in this long counts as a timeout. Default 10000. */
  connectTimeoutMs?: number;
  /** WebSocket: an upgrade not answered (101) this long after the TCP connect counts as a timeout. Default 30000. */
  handshakeTimeoutMs?: number;
  /** A message unanswered this long counts as a timeout and closes its connection. Default 10000. */
  responseTimeoutMs?: number;
  /** ws-broadcast: rooms; connection i joins room `r${i % rooms}` via `?room=`. Default 1. */
  rooms?: number;
  /** ws-broadcast: how many connections also publish (the rest only receive). Default 1. */
  publishers?: number;
  /** HTTP path. Default `/`. */
  path?: string;
  /** Speak TLS (https-hello, wss, tls-echo: `c1m run --tls`); absent: plain TCP. */
  tls?: DriverTls;
}

/** The driver's side of TLS. */
export interface DriverTls {
  /**
   * Offer the session of an earlier handshake (a ticket) on new connections, so the server may
   * resume instead of a full handshake; false: every handshake is full.
   */
  resume: boolean;
  /** PEM of the run's certificate, for drivers that verify the server (the native driver does not: the cost measured is the server's). */
  ca?: string;
  /** SNI sent in the ClientHello; default none. */
  servername?: string;
}

/** The fields of DriverConfig that have a default (filled in once, by resolveDriverConfig). */
export type DefaultedDriverField =
  | 'messageBytes' | 'depth' | 'heartbeatMs' | 'connectTimeoutMs' | 'handshakeTimeoutMs' | 'responseTimeoutMs' | 'rooms' | 'publishers' | 'path';

/** A checked DriverConfig with every default filled in: what a driver implementation is given. */
export type ResolvedDriverConfig = DriverConfig & Required<Pick<DriverConfig, DefaultedDriverField>>;

/** Parent → driver control messages. */
export type DriverCommand =
  | { type: 'ramp'; connections: number; ratePerSec: number; timeoutMs: number }  // grow (or shrink) to this many connections
  | { type: 'run'; durationMs: number; warmupMs: number }                         // apply the load mode for this long
  | { type: 'stats' }
  | { type: 'close' };                                                             // close everything and exit 0

export interface DriverErrors {
  connect: number;
  read: number;
  write: number;
  timeout: number;
  /** Wrong answers: bad frames, non-2xx statuses, bytes that differ from what was sent. */
  protocol: number;
}

/**
 * A driver's CPU. A run's covers its measured window only (not the warm-up, nor the driver's work
 * on the results afterwards); a ramp's the whole ramp. user and system times add up over the
 * driver's processes (its own, and each tool it runs: wrk, h2load).
 */
export interface CpuUse {
  userMs: number;
  sysMs: number;
  /**
   * Share of one core, in percent, of the busiest single process of the driver (each is
   * single-threaded where the load is made), so that saturation shows: tools side by side at
   * 50 % each are 50, not 100.
   */
  pct: number;
}

/** Result of a ramp. */
export interface RampResult {
  target: number;
  /** Connections held at the end of the ramp (those from earlier ramps included). */
  established: number;
  /** Connections this ramp established: what ratePerSec counts. */
  opened: number;
  failed: number;
  ms: number;
  /** Connections this ramp established per second of it; null when it established none. */
  ratePerSec: number | null;
  errors: DriverErrors;
  /** errno name → count, for connect failures (ECONNREFUSED, ETIMEDOUT, EADDRNOTAVAIL, …). */
  connectErrors: Record<string, number>;
  cpu: CpuUse;
  /** Driver-specific figures (e.g. `held: 0` when the ramp's connections are not kept for the run). */
  extra?: Record<string, number>;
  /** Sentences about what went wrong or what the figures mean (refusals, probes, ignored options). */
  warnings?: string[];
}

/** Result of a run phase. Counts cover the measured window only (after warm-up). */
export interface RunResult {
  durationMs: number;
  /** Connections up at the window's end (h2load: as far as its sockets could be read, see extra.connectionsUnknown). */
  connections: number;
  /** Completed operations; for HTTP, answers with a 2xx status (every other answer is a protocol error). */
  ops: number;
  bytes: number;
  opsPerSec: number;
  bytesPerSec: number;
  /**
   * Latency in microseconds of the window's requests: every answer (HTTP: whatever its status);
   * the native driver also records each message of the window that got none, at what it waited
   * (see src/drivers/README.md). Null when the mode measures none (idle).
   */
  latency: HistogramJSON | null;
  errors: DriverErrors;
  /**
   * Errors during the warm-up before the window (a connection the server reset then is gone
   * from the window, and its count with it unless it is here); the runner adds them to the
   * step's. Zeros or absent with no warm-up; absent when the driver cannot tell. h2load reports
   * nothing of its warm-up: its driver counts the connections already gone when the window began.
   */
  warmupErrors?: DriverErrors;
  cpu: CpuUse;
  /** The driver's CPU was near saturation: throughput is a lower bound of the server's. */
  clientBound: boolean;
  /** Driver-specific figures (e.g. ws-broadcast deliveries, autocannon's non2xx). */
  extra: Record<string, number>;
  /** errno name → count, for connect failures during the run (drivers that reconnect). */
  connectErrors?: Record<string, number>;
  /** Sentences about what went wrong or what the figures mean (no answers, refusals, approximations). */
  warnings?: string[];
}

/** Driver → parent messages. */
export type DriverMessage =
  | { type: 'ready'; pid: number; driver: DriverName }
  | { type: 'unavailable'; reason: string }  // e.g. wrk not on PATH; exits 3
  | { type: 'progress'; phase: 'ramp' | 'run'; connections: number; ops: number; elapsedMs: number }
  | { type: 'ramped'; result: RampResult }
  | { type: 'ran'; result: RunResult }
  | { type: 'stats'; connections: number; errors: DriverErrors }
  | { type: 'failed'; message: string; command?: DriverCommand['type'] };

/** One driver implementation inside the driver process (src/drivers/driver-process.ts picks it by name). */
export interface DriverImpl {
  /** Grows (or shrinks) to `connections`, at most `ratePerSec` new connections/s (0 = as fast as possible). */
  ramp(cmd: Extract<DriverCommand, { type: 'ramp' }>, progress: (connections: number) => void): Promise<RampResult>;
  /** Applies the load mode for warm-up + duration; counts only the measured window. */
  run(cmd: Extract<DriverCommand, { type: 'run' }>, progress: (connections: number, ops: number) => void): Promise<RunResult>;
  /**
   * Connections held now, and the errors of the driver's life. A ramp's and a run's `errors` (and
   * `warmupErrors`) count only what happened since the driver's previous ramp or run result: the
   * runner adds every one of them to a step, so none may repeat an earlier one.
   */
  stats(): { connections: number; errors: DriverErrors };
  close(): Promise<void>;
}

/** Thrown by a factory when the driver cannot run here (reason goes into the result as `skipped`). */
export class DriverUnavailableError extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'DriverUnavailableError';
  }
}

/**
 * Whether a driver can run on this machine at all (its package, executable or the engine's addon
 * are there): true, or the reason it cannot, the same sentence its factory throws. A driver
 * module may export one as `probe`; `c1m list` asks every driver through the registry.
 */
export type DriverProbe = () => Promise<true | string>;

/** Creates a driver for a resolved configuration (src/drivers/driver-config.ts resolveDriverConfig). */
export type DriverFactory = (config: ResolvedDriverConfig) => Promise<DriverImpl>;
