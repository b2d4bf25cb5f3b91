// What c1m accepts for every numeric option, written once: the least and the most, the default
// where one applies, the unit, and why the bound is where it is. Every layer reads it (scenario
// parameters and CLI flags, contender and driver configurations, the engine's server and client
// options), so a configuration the parent accepts is never refused inside a child for a bound
// another layer wrote differently. The native addon (native/addon.cc) keeps its own guards as
// the second line; test/limits.test.ts checks they refuse exactly outside these ranges.
// (What the machine allows, fds and sysctls, is system/limits.ts.)

import { checkNumber } from './checks.js';

export interface Limit {
  /** Least accepted value (inclusive). */
  readonly min: number;
  /** Most accepted value (inclusive). */
  readonly max: number;
  /** The value an absent option takes, where the option has one. */
  readonly default?: number;
  readonly unit: 'connections' | 'processes' | 'messages' | 'bytes' | 'ms' | 's' | 'rooms' | 'runs' | 'port' | 'topics' | 'Hz';
  /** False for a number that may have a fraction (seconds on the command line); integers otherwise. */
  readonly integer?: false;
  /** One line: why the bound is where it is. */
  readonly why: string;
}

/** Ten times the million c1m is named after; per side, it needs ~80 GB of kernel memory on loopback. */
const MAX_CONNECTIONS = 10_000_000;
/** The engine's timer bound (its wheel and native/addon.cc): about 12.4 days. */
const MAX_TIMER_MS = 2 ** 30;
/** A day: longer than any benchmark phase, and far below Node's 2^31-1 ms timer limit. */
const MAX_PHASE_MS = 86_400_000;
/** How long a parent waits on a child process at most (ready, drain, stats): ten minutes. */
const MAX_WAIT_MS = 600_000;
const U32_MAX = 0xffff_ffff;
const MIB = 1024 * 1024;
/** The engine's default read arena (native/addon.cc kDefaultArenaBytes): what a whole frame or request must fit in. */
const ENGINE_ARENA_BYTES = 4 * MIB;

export const LIMITS = {
  // ---- a run --------------------------------------------------------------------------------
  connections: {
    min: 1, max: MAX_CONNECTIONS, default: 1000, unit: 'connections',
    why: 'per side at the largest level; ten times a million, more than one box\'s kernel memory holds',
  },
  rampTarget: {
    min: 0, max: MAX_CONNECTIONS, unit: 'connections',
    why: 'a ramp grows or shrinks a driver group to this many (0 closes them all); at most the connections limit',
  },
  workers: {
    min: 1, max: 4096, default: 1, unit: 'processes',
    why: 'processes per side (contender workers, driver processes); each is a whole Node process of ~48 MiB',
  },
  durationS: {
    min: 0.1, max: MAX_PHASE_MS / 1000, default: 10, unit: 's', integer: false,
    why: 'a measured window: shorter is noise, longer than a day is no benchmark phase (and the driver\'s bound)',
  },
  warmupS: {
    min: 0, max: 3600, default: 2, unit: 's', integer: false,
    why: 'load before each measured window; an hour warms anything',
  },
  reps: {
    min: 1, max: 100, default: 3, unit: 'runs',
    why: 'repetitions of every contender (throughput; memory scenarios default to 1); 100 is a night of runs',
  },
  phaseMs: {
    min: 1, max: MAX_PHASE_MS, unit: 'ms',
    why: 'a driver phase (ramp bound, measured run): up to a day, the duration limit in milliseconds',
  },
  readyTimeoutMs: {
    min: 1, max: MAX_WAIT_MS, default: 10_000, unit: 'ms',
    why: 'how long a contender or driver process may take to say it is ready',
  },
  shutdownMs: {
    min: 1, max: MAX_WAIT_MS, default: 3000, unit: 'ms',
    why: 'how long a contender child may drain on SIGTERM before it exits anyway',
  },

  // ---- ports ----------------------------------------------------------------------------------
  port: {
    min: 0, max: 65535, default: 0, unit: 'port',
    why: 'a TCP port to listen on; 0 lets the kernel pick a free one',
  },
  targetPort: {
    min: 1, max: 65535, unit: 'port',
    why: 'a TCP port to connect to (0 is no destination)',
  },

  // ---- the load (driver configuration, the engine's ClientGroup) --------------------------------
  messageBytes: {
    min: 1, max: 16 * MIB, default: 64, unit: 'bytes',
    why: 'payload per message (echo, frame); 16 MiB is the native connector\'s bound',
  },
  wsMessageBytes: {
    min: 8, max: 16 * MIB, default: 64, unit: 'bytes',
    why: 'payload per WebSocket message: its first 8 bytes carry the send time the latency is measured from',
  },
  depth: {
    min: 1, max: 4096, default: 1, unit: 'messages',
    why: 'messages in flight per connection (HTTP pipelining); the connector keeps 8 bytes of send time per message in flight',
  },
  connectTimeoutMs: {
    min: 1, max: MAX_TIMER_MS, default: 10_000, unit: 'ms',
    why: 'a TCP connect not completed in this long counts as a timeout',
  },
  handshakeTimeoutMs: {
    min: 1, max: MAX_TIMER_MS, default: 30_000, unit: 'ms',
    why: 'WebSocket: longer than a connect, because under a connect storm the server accepts late',
  },
  responseTimeoutMs: {
    min: 1, max: MAX_TIMER_MS, default: 10_000, unit: 'ms',
    why: 'a message unanswered this long counts as a timeout and closes its connection',
  },
  heartbeatMs: {
    min: 0, max: MAX_TIMER_MS, default: 0, unit: 'ms',
    why: 'idle mode: one heartbeat per connection this often; 0 sends none',
  },
  rooms: {
    min: 1, max: 1 << 24, default: 1, unit: 'rooms',
    why: 'ws-broadcast rooms (connection i joins r<i mod rooms>); 2^24 is above the connections limit',
  },
  publishers: {
    min: 0, max: MAX_CONNECTIONS, default: 1, unit: 'connections',
    why: 'ws-broadcast connections that also publish: at most the connections limit',
  },

  // ---- what every contender applies (ChildConfig.limits) ----------------------------------------
  'limits.maxMessageBytes': {
    min: 1, max: U32_MAX, default: MIB, unit: 'bytes',
    why: 'largest frame payload or WebSocket message a contender accepts; a 32-bit frame length is the wire\'s own bound',
  },
  'limits.idleTimeoutMs': {
    min: 0, max: MAX_TIMER_MS, default: 0, unit: 'ms',
    why: 'contenders close a silent connection after this long; off (0) unless a scenario asks, the same for all',
  },
  'limits.backlog': {
    min: 1, max: 1 << 20, default: 512, unit: 'connections',
    why: 'listen(2) backlog; uWebSockets.js always uses 512, so 512 is everyone\'s default; the kernel caps it at somaxconn',
  },
  'limits.maxQueuedBytes': {
    min: 0, max: U32_MAX, default: 0, unit: 'bytes',
    why: 'unsent bytes a connection may queue before a contender closes it; 0 = unbounded unless a scenario asks',
  },
  'tls.handshakeTimeoutMs': {
    min: 1, max: MAX_TIMER_MS, unit: 'ms',
    why: 'a contender closes a connection whose TLS handshake has not finished this long after accept; the engine\'s timer bound',
  },

  // ---- the engine's server options (ServerOptions) ---------------------------------------------
  backlog: {
    min: 1, max: 1 << 20, default: 511, unit: 'connections',
    why: 'listen(2) backlog; Node\'s default, and the kernel caps it at net.core.somaxconn',
  },
  maxFrameBytes: {
    min: 0, max: ENGINE_ARENA_BYTES - 64, default: MIB, unit: 'bytes',
    why: 'largest frame or WebSocket message; a whole one must fit in the 4 MiB read arena',
  },
  maxHeaderBytes: {
    min: 256, max: MIB, default: 8192, unit: 'bytes',
    why: 'HTTP request head; more answers 431',
  },
  maxBodyBytes: {
    min: 0, max: ENGINE_ARENA_BYTES / 2 - MIB, default: MIB, unit: 'bytes',
    why: 'HTTP Content-Length body; head and body must fit in half the arena even with the largest head',
  },
  readBudgetBytes: {
    min: 1, max: U32_MAX, default: 256 * 1024, unit: 'bytes',
    why: 'bytes read from one connection per round before the others get their turn',
  },
  highWaterMark: {
    min: 0, max: U32_MAX, default: MIB, unit: 'bytes',
    why: 'the native paths stop reading a peer whose queued answers exceed this',
  },
  maxQueuedBytes: {
    min: 0, max: U32_MAX, default: 16 * MIB, unit: 'bytes',
    why: 'close a connection whose unsent bytes exceed this (0 = never): a library default that is bounded',
  },
  idleTimeoutMs: {
    min: 0, max: MAX_TIMER_MS, default: 120_000, unit: 'ms',
    why: 'close a silent connection (0 = never); bounded by default, as uWebSockets is',
  },
  headerTimeoutMs: {
    min: 0, max: MAX_TIMER_MS, default: 10_000, unit: 'ms',
    why: 'HTTP: a request head must arrive whole this soon after its first byte (slowloris); 0 = no limit',
  },
  tlsHandshakeTimeoutMs: {
    min: 0, max: MAX_TIMER_MS, default: 10_000, unit: 'ms',
    why: 'TLS: a handshake must finish this soon after accept (a stalled or truncated ClientHello); 0 = no limit',
  },
  lingerMs: {
    min: 1, max: MAX_TIMER_MS, default: 5000, unit: 'ms',
    why: 'how long a closing connection waits for the peer\'s FIN, reading and dropping what it still sends',
  },
  pingIntervalMs: {
    min: 0, max: MAX_TIMER_MS, default: 0, unit: 'ms',
    why: 'WebSocket heartbeat (engine and contenders alike): ping this often, close a peer that missed the last; 0 = off',
  },
  wsCloseTimeoutMs: {
    min: 1, max: MAX_TIMER_MS, default: 5000, unit: 'ms',
    why: 'WebSocket: close anyway this long after our close frame if the peer never answers',
  },
  maxTopicNameBytes: {
    min: 1, max: MIB, default: 256, unit: 'bytes',
    why: 'the longest WebSocket topic (room) name',
  },
  maxTopics: {
    min: 1, max: 1 << 30, default: 65_536, unit: 'topics',
    why: 'WebSocket topics alive at once in one engine',
  },

  // ---- c1m profile ----------------------------------------------------------------------------
  profileFrequencyHz: {
    min: 1, max: 100_000, default: 499, unit: 'Hz',
    why: 'perf samples per second (a prime default, off the beat of periodic timers)',
  },
} as const satisfies Record<string, Limit>;

export type LimitName = keyof typeof LIMITS;
/** The limits that have a default. */
export type DefaultedLimit = { [K in LimitName]: (typeof LIMITS)[K] extends { default: number } ? K : never }[LimitName];

/** The default of a limit (the one place it is written). */
export function defaultOf(name: DefaultedLimit): number {
  return LIMITS[name].default;
}

/**
 * v when it is within the limit's range (a TypeError or RangeError naming label otherwise, the
 * option's own name by default: "depth must be between 1 and 4096, got 0").
 */
export function checkLimit(name: LimitName, v: unknown, label: string = name): number {
  const l: Limit = LIMITS[name];
  return checkNumber(label, v, { min: l.min, max: l.max, integer: l.integer !== false });
}

/** v checked against the limit, or the limit's default when v is undefined. */
export function resolveLimit(name: DefaultedLimit, v: unknown, label: string = name): number {
  return checkLimit(name, v === undefined ? defaultOf(name) : v, label);
}

/** The type and bounds of a scenario parameter or CLI flag that takes this limit. */
export function paramRange(name: LimitName): { readonly type: 'int' | 'number'; readonly min: number; readonly max: number } {
  const l: Limit = LIMITS[name];
  return { type: l.integer === false ? 'number' : 'int', min: l.min, max: l.max };
}
