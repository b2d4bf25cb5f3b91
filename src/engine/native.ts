// Loads the compiled addon. C1M_ADDON points at another build (the sanitizer build, for one).
import { createRequire } from 'node:module';
import { constants as osConstants } from 'node:os';
import { fileURLToPath } from 'node:url';
import { dirname, resolve } from 'node:path';

/** The shared buffers the engine lends to JS, created once per thread by `init`. */
export interface NativeViews {
  readonly records: ArrayBuffer;
  readonly arena: ArrayBuffer;
  readonly meta: ArrayBuffer;
  readonly ops: ArrayBuffer;
  readonly outArena: ArrayBuffer;
  readonly counters: ArrayBuffer;
  readonly counterNames: readonly string[];
  readonly recordWords: number;
  readonly recordCap: number;
  readonly opsCap: number;
}

/**
 * The engine's vocabulary, exported by the addon from the lists native/records.h and
 * native/counters.h write once. src/engine/records.ts keeps a typed copy (its literal types type
 * the API, and importing the package must not load the addon); test/engine-constants.test.ts
 * fails when the copy and these disagree.
 */
export interface NativeVocabulary {
  /** Record kinds by name (Rec). */
  readonly recordKinds: Readonly<Record<string, number>>;
  /** Op kinds by name (Op). */
  readonly opKinds: Readonly<Record<string, number>>;
  /** Close reason names by code (CloseReason). */
  readonly closeReasons: Readonly<Record<number, string>>;
  /** Listener protocol codes by name (ProtoCode). */
  readonly protocols: Readonly<Record<string, number>>;
  /** WebSocket mode codes by name (WsModeCode). */
  readonly wsModes: Readonly<Record<string, number>>;
  /** uint32 words per record and per op. */
  readonly recordWords: number;
  /** Words of a request descriptor before its headers (REQ_FIXED_WORDS). */
  readonly requestFixedWords: number;
  /** Counter names, in the order of the counters block. */
  readonly counterNames: readonly string[];
  /** The io_uring backend's fixed sizes (native/uring.h); built: whether this addon has the backend. */
  readonly uringSizes: UringSizes;
  /** The OpenSSL the engine's TLS runs on: Node's own, e.g. "OpenSSL 3.0.19 30 Sep 2025" (native/tls.h). */
  readonly tlsLibrary: string;
}

/** The io_uring backend's ring and buffer sizes, as the addon was compiled. */
export interface UringSizes {
  readonly built: boolean;
  readonly sqEntries: number;
  readonly cqEntries: number;
  readonly buffers: number;
  readonly bufferBytes: number;
  readonly holdCap: number;
}

/** The raw addon surface. Ids are passed as (fd, generation) pairs. */
export interface NativeAddon extends NativeVocabulary {
  init(onBatch: (count: number) => void, arenaBytes?: number): NativeViews;
  listen(host: string, port: number, options: NativeListenOptions): [index: number, port: number];
  /** 0 when this kernel runs the io_uring backend, else -errno. Absent from a build without liburing. */
  uringSupport?(): number;
  /** Connections closed at once (-1: unknown or already drained index). */
  closeListener(index: number, graceful: boolean): number;
  write(fd: number, gen: number, data: Uint8Array): number;
  end(fd: number, gen: number): boolean;
  close(fd: number, gen: number): boolean;
  pause(fd: number, gen: number): boolean;
  resume(fd: number, gen: number): boolean;
  queued(fd: number, gen: number): number;
  flush(): void;
  respond(fd: number, gen: number, status: number, headerLines: Uint8Array, body: Uint8Array): boolean;
  wsSend(fd: number, gen: number, opcode: number, data: Uint8Array): boolean;
  wsClose(fd: number, gen: number, code: number, reason: Uint8Array): boolean;
  /** 1 joined, 0 stale id or not a WebSocket, -1 name too long, -2 too many topics. */
  subscribe(fd: number, gen: number, topic: string): number;
  /** 1 left, 0 not a member or a stale id. */
  unsubscribe(fd: number, gen: number, topic: string): number;
  /** Refreshes the engineBytes and topics counters. */
  accountMemory(): void;
  /** What glibc's malloc has handed out right now (mallinfo2), for checking engineBytes. */
  heapStats(): { inUseBytes: number };
  publish(topic: string, data: Uint8Array, opcode: number): number;
  topicSize(topic: string): number;
  clientGroup(options: NativeClientOptions): number;
  clientRamp(group: number, target: number, ratePerSec: number): boolean;
  clientRun(group: number, mode: number, rate: number): boolean;
  clientReset(group: number): boolean;
  clientStop(group: number): boolean;
  clientFinish(group: number): boolean;
  clientClose(group: number): boolean;
  clientStats(group: number): NativeClientStats | null;
  clientStats(group: number, withLatency: false): Omit<NativeClientStats, 'histogram'> | null;
}

/** Client group options as the addon reads them (native/addon.cc ClientGroup). */
export interface NativeClientOptions {
  proto: number;
  targets: [host: string, port: number][];
  sources?: string[];
  msgBytes?: number;
  depth?: number;
  connectTimeoutMs?: number;
  handshakeTimeoutMs?: number;
  responseTimeoutMs?: number;
  heartbeatMs?: number;
  rooms?: number;
  publishers?: number;
  path?: string;
  host?: string;
  /** TLS on every connection: the handshake before the protocol; resume offers the group's newest session. */
  tls?: { resume: boolean; servername?: string };
}

/** Counts of a client group (native/loop.h ClientStats) and its encoded latency histogram (µs). */
export interface NativeClientStats {
  started: number; established: number; failed: number; closed: number; pending: number; active: number;
  attemptsLeft: number;
  /** Connects (and WebSocket handshakes) allowed in flight now, and the least it was cut to. */
  window: number; windowMin: number;
  /**
   * ops: successful answers (HTTP: 2xx) that arrived in the window, whenever their message left.
   * Every message scheduled in the window ends once in the histogram: answered (also after the
   * window, until finish), or given up and recorded at what it had waited: dropped (never sent in
   * time), timedOut (answer overdue: its connection closed), lost (its connection closed
   * first), unanswered (still in flight at finish).
   */
  ops: number; sent: number; dropped: number; timedOut: number; lost: number; unanswered: number;
  /** Answers recorded in the histogram (their message was scheduled in the window): with the four given-up counts, its count. */
  answered: number;
  /** Messages awaiting answers now, over every connection of the group. */
  inFlight: number;
  /** Open-loop messages scheduled and waiting for a connection with room, now. */
  backlog: number;
  bytesIn: number; bytesOut: number;
  errConnect: number; errRead: number; errWrite: number; errTimeout: number; errProtocol: number; peerClosed: number;
  /** Connections the server closed in their handshake (TLS or WebSocket; kept for the group's life). Each is also a read error. */
  closedInHandshake: number;
  connectErrors: Record<string, number>;
  /** TLS: handshakes finished in full, resumed ones, failed ones (kept for the group's life, like established). */
  tlsHandshakes: number; tlsResumed: number; tlsHandshakeFailed: number;
  /** TLS: failed handshakes by OpenSSL's reason. */
  tlsErrors: Record<string, number>;
  histogram: Float64Array;
}

/** Listener options as the addon reads them (see native/addon.cc Listen). */
export interface NativeListenOptions {
  proto: number;
  ws: number;
  backlog: number;
  flags: number;
  maxFrame: number;
  readBudget: number;
  highWater: number;
  maxQueued: number;
  maxHeaderBytes: number;
  maxBody: number;
  idleTimeoutMs: number;
  pingIntervalMs: number;
  wsCloseTimeoutMs: number;
  headerTimeoutMs: number;
  lingerMs: number;
  maxTopicNameBytes: number;
  maxTopics: number;
  /** 0 epoll, 1 io_uring. */
  backend: number;
  staticPath: string;
  staticBody: string;
  staticType: string;
  /** TLS: PEM certificate and key, tickets, handshake timeout, the ticket key (absent: the listener's own). */
  tls?: { cert: string; key: string; tickets: boolean; handshakeTimeoutMs: number; ticketKeys?: Buffer };
}

// Compiled to dist/src/engine/: the build folder is three floors up.
const here = dirname(fileURLToPath(import.meta.url));
/** Absolute path of the addon this process loads. */
export const addonPath = process.env['C1M_ADDON'] ?? resolve(here, '../../../build/Release/c1m.node');

let cached: NativeAddon | undefined;

/** Whether this addon can run the io_uring backend here, and if not the exact reason and its fix. */
export interface UringStatus {
  ok: boolean;
  reason?: string;
  fix?: string;
}

/**
 * Asks the addon (loading it) whether io_uring listeners can run: built with liburing, and a
 * ring with a provided-buffer ring can be set up on this kernel. The reason names the errno.
 */
export function uringStatus(): UringStatus {
  // Why io_uring cannot run on this machine (kernel, sysctl, seccomp) is src/system/io-uring.ts's
  // to say; this is only whether this addon has the backend and whether its ring comes up.
  const addon = loadAddon();
  if (addon.uringSupport === undefined) {
    return { ok: false, reason: 'the addon was built without liburing (c1m_uring=0)', fix: 'apt-get install liburing-dev && npm run build:native' };
  }
  const r = addon.uringSupport();
  if (r === 0) return { ok: true };
  const name = Object.entries(osConstants.errno).find(([, v]) => v === -r)?.[0] ?? `errno ${-r}`;
  return { ok: false, reason: `setting up the engine's io_uring with its provided-buffer ring failed with ${name}`, fix: 'see c1m list: its io_uring line says whether and why this machine refuses io_uring' };
}

/** Returns the addon, loading it on first use; throws with the path and a hint when it is missing. */
export function loadAddon(): NativeAddon {
  if (cached) return cached;
  const require = createRequire(import.meta.url);
  try {
    cached = require(addonPath) as NativeAddon;
  } catch (err) {
    const e = new Error(`c1m: cannot load the epoll engine from ${addonPath} (run \`npm install\` or \`npm run build:native\`): ${(err as Error).message}`);
    (e as Error & { cause: unknown }).cause = err;
    throw e;
  }
  return cached;
}
