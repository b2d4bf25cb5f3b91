// The contender contract: what a contender is (a definition in the registry), what it runs
// (a server inside a child process), the child's configuration and the control-channel messages.

import type { Protocol } from '../wire/protocols.js';

// The protocols are the wire's (src/wire/protocols.ts); named here too because every contract
// below is spoken in them.
export { PROTOCOLS, type Protocol } from '../wire/protocols.js';

/** Limits every contender applies where its library lets it; the same values for all contenders. */
export interface Limits {
  /** Largest frame payload (frame-echo) or WebSocket message (ws-*) accepted; larger closes the connection. */
  maxMessageBytes: number;
  /** Close a connection after this long without traffic; 0 disables the timeout. */
  idleTimeoutMs: number;
  /** listen(2) backlog. uWebSockets.js always uses 512, so 512 is the default for everyone. */
  backlog: number;
  /** WebSocket heartbeat: ping every this often, close a peer that has not answered the previous ping; 0 = off. */
  pingIntervalMs: number;
  /** Close a connection whose unsent bytes (queued in user space) exceed this; 0 = unbounded. */
  maxQueuedBytes: number;
}

/**
 * The limits a worker actually applies, reported in its ready message. null means the contender
 * has no such limit for this protocol (e.g. no message size in tcp-echo); a value different from
 * the requested one means the library imposes its own (e.g. uWS's fixed 10 s HTTP idle timeout).
 */
export interface EffectiveLimits {
  maxMessageBytes: number | null;
  idleTimeoutMs: number | null;
  backlog: number | null;
  pingIntervalMs: number | null;
  maxQueuedBytes: number | null;
}

/**
 * per-worker: worker i listens on port + i (or its own free port when port is 0).
 * shared: every worker listens on the same port with SO_REUSEPORT, where the contender can.
 */
export type PortMode = 'per-worker' | 'shared';

/**
 * TLS on a contender's listening sockets (`c1m run --tls`): https-hello, wss-echo, tls-echo are
 * http-hello, ws-* and tcp-echo over it. The certificate is made for the run (src/tls/certs.ts),
 * never committed.
 */
export interface ServerTls {
  /** PEM files written for this run; the key file is mode 0600. */
  certFile: string;
  keyFile: string;
  /** The certificate's key: 'ec' = ECDSA P-256 (the default), 'rsa' = RSA-2048. */
  keyType: 'ec' | 'rsa';
  /** Session resumption by tickets: issued when true, never when false. */
  tickets: boolean;
  /** A connection that has not finished its handshake this long after accept is closed and counted. */
  handshakeTimeoutMs: number;
  /**
   * With tickets: a file of random bytes made with the run's certificate (TICKET_KEY_BYTES, mode
   * 0600) that every worker seals its tickets with, so a ticket resumes on whichever worker the
   * next connection reaches, as the processes of one service behind one port share theirs.
   * Absent: each worker its own key (with n workers a ticket resumes on 1 in n).
   */
  ticketKeyFile?: string;
}

/**
 * The TLS a worker actually applies, in its ready message. null: the contender's library has no
 * such setting (it is recorded, not guessed).
 */
export interface AppliedTls {
  /** Where the TLS code comes from, e.g. "node:tls (OpenSSL 3.0.19)" or "uSockets (BoringSSL)". */
  library: string;
  tickets: boolean | null;
  handshakeTimeoutMs: number | null;
  /**
   * With tickets: whether every worker sealed them with the run's one key (ServerTls.ticketKeyFile),
   * so a ticket resumes on any of them; false, each worker its own; null, the library cannot be
   * given a key. Absent with tickets off.
   */
  sharedTicketKey?: boolean | null;
  /** What the numbers above cannot say, in one sentence (e.g. what closes a stalled handshake instead). */
  note?: string;
}

/** The JSON handed to a child process (argv[2]). */
export interface ChildConfig {
  contender: string;
  protocol: Protocol;
  host: string;
  port: number;
  worker: number;
  workers: number;
  portMode: PortMode;
  limits: Limits;
  /**
   * The shutdown bound in milliseconds: after it the child exits anyway, non-zero. The server's
   * drain is bounded by half of it (drainBoundMs in contender-config.ts).
   */
  shutdownMs: number;
  /** Contender-specific settings, passed through untouched. */
  options: Record<string, unknown>;
  /** TLS on the listening sockets; absent: plain TCP. */
  tls?: ServerTls;
}

/**
 * Counters a server keeps. null means "not measured for this protocol": tcp-echo has no
 * messages, HTTP requests carry no payload. Bytes are application payload bytes (tcp-echo: every
 * byte; frame-echo: frame payloads without the 4-byte header; ws-*: message payloads), which
 * every contender can count the same way; wire bytes come from the kernel and the driver.
 * In ws-broadcast, messagesOut counts deliveries (one message to 10 members is 10).
 */
export interface ServerStats {
  connectionsNow: number;
  connectionsTotal: number;
  messagesIn: number | null;
  messagesOut: number | null;
  bytesIn: number | null;
  bytesOut: number | null;
  protocolErrors: number;
  /** Contender-specific counters (numbers only, so they can be summed over workers). */
  extra: Record<string, number>;
}

/**
 * V8 and process memory from process.memoryUsage() in the worker. The V8 figures are null when
 * the worker does not serve in its own process (servingPids: c-ref's C program has no V8 heap,
 * and the worker's is not the server's).
 */
export interface MemoryStats {
  heapUsedBytes: number | null;
  heapTotalBytes: number | null;
  externalBytes: number | null;
  arrayBuffersBytes: number | null;
  rssBytes: number;
}

export interface WorkerStats extends ServerStats, MemoryStats {
  worker: number;
  pid: number;
  port: number;
}

/** Stats of all workers of one contender: sums in total, each worker's own in workers. */
export interface ContenderStats {
  contender: string;
  protocol: Protocol;
  /** Date.now() in the parent when the last worker answered. */
  at: number;
  total: ServerStats & MemoryStats;
  workers: WorkerStats[];
}

/** A running server inside a child process; what a contender's start() returns. */
export interface ContenderServer {
  /** The port actually bound (the one chosen by the kernel when asked for 0). */
  readonly port: number;
  readonly limits: EffectiveLimits;
  /** The TLS this worker applies: present exactly when ChildConfig.tls was set. */
  readonly tls?: AppliedTls;
  /**
   * Other processes that do the serving for this worker (c-ref's C program): the runner counts
   * their CPU and memory with the worker's. Absent when the worker serves by itself.
   */
  readonly servingPids?: readonly number[];
  stats(): ServerStats;
  /** ws-broadcast only: delivers data to every member of room; returns the number of recipients. */
  publish?(room: string, data: string | Buffer, binary: boolean): number;
  /**
   * The graceful drain (src/contenders/README.md, "Graceful drain"): stop accepting; answer every
   * request already received (idle HTTP keep-alive connections close at once); send WebSocket
   * peers a close frame 1001 and let them answer; flush every queued byte, then close. All of it
   * bounded by graceMs: whatever is still open then is closed by force and counted in `cut`.
   * Resolves when every connection and listener of this server is closed.
   */
  close(graceMs: number): Promise<DrainResult>;
}

/** What a drain had to do by force. */
export interface DrainResult {
  /**
   * Connections still open when the bound forced them closed: 0 when the drain finished in
   * time; null only when the contender cannot know (never a guess).
   */
  cut: number | null;
}

/** A registry entry. Loaded in the parent too, so it must stay cheap to import. */
export interface ContenderDefinition {
  readonly name: string;
  /** One line: what the contender is built on. */
  readonly description: string;
  /** true, or the reason the contender cannot speak protocol (the pair is then skipped). */
  speaks(protocol: Protocol): true | string;
  /**
   * true, or the reason the contender cannot serve protocol over TLS as tls asks (the pair is
   * then skipped). Only asked when speaks(protocol) is true. Absent: the contender has no TLS.
   */
  speaksTls?(protocol: Protocol, tls: ServerTls): true | string;
  /** true, or the reason the contender cannot share one port between workers (SO_REUSEPORT). */
  sharedPort(): true | string;
  /**
   * true, or the reason the contender cannot count application payload bytes in protocol
   * (bytesIn and bytesOut are then null, never an estimate): a native path that sees only
   * wire bytes, framing included.
   */
  countsPayloadBytes(protocol: Protocol): true | string;
  /**
   * ws-broadcast: whether a first text message "join:NAME" joins a room. When false, only the
   * upgrade URL's ?room=NAME does, and a join message is one more message of a connection in no
   * room (dropped, a protocol error).
   */
  readonly joinByMessage: boolean;
  /**
   * Why `c1m profile` cannot profile this contender, when it cannot: the profilers attach to the
   * worker's Node process, so a contender that serves from another process says so here.
   */
  readonly notProfilable?: string;
  /**
   * Rejects when the contender cannot run on this machine (an optional package missing, an
   * addon not built); the error message is the reason it is unavailable. Runs in a child only.
   */
  probe(): Promise<void>;
  /** Starts a server for config.protocol on config.host:config.port. Runs in a child only. */
  start(config: ChildConfig): Promise<ContenderServer>;
}

// ---- control channel -------------------------------------------------------------------------
// IPC (child_process 'message', JSON serialization) or, with control: 'stdio', one JSON object
// per line on the child's stdin (requests) and stdout (replies); stdout lines that are not JSON
// objects with a string "type" are ignored, so a wrapper such as clinic may print there.

export interface ReadyMessage {
  type: 'ready';
  contender: string;
  protocol: Protocol;
  worker: number;
  pid: number;
  host: string;
  port: number;
  limits: EffectiveLimits;
  /** ContenderServer.tls: the TLS the worker applies, when it was asked for TLS. */
  tls?: AppliedTls;
  /** ContenderServer.servingPids, when the worker has them. */
  servingPids?: number[];
}
/** The contender cannot run here (exit code EXIT.unavailable follows). */
export interface UnavailableMessage {
  type: 'unavailable';
  reason: string;
}
/** The server could not start (listen failed, bad options); exit code EXIT.failed follows. */
export interface FailedMessage {
  type: 'failed';
  message: string;
}
export interface StatsReply {
  type: 'stats';
  id: number;
  stats: WorkerStats;
}
export interface PublishedReply {
  type: 'published';
  id: number;
  recipients: number;
}
export interface ErrorReply {
  type: 'error';
  id: number;
  message: string;
}
/** collected: false when the process was started without --expose-gc. */
export interface GcReply {
  type: 'gc';
  id: number;
  collected: boolean;
}
/**
 * Sent once the drain on SIGTERM or SIGINT is over, just before the child exits: what it had to
 * cut (DrainResult.cut) within boundMs, the graceMs it gave its server. A child killed, or that
 * overran its shutdown bound, sends none.
 */
export interface DrainedMessage {
  type: 'drained';
  cut: number | null;
  boundMs: number;
}
export type ChildMessage = ReadyMessage | UnavailableMessage | FailedMessage | StatsReply | PublishedReply | ErrorReply | GcReply | DrainedMessage;

export interface StatsRequest {
  type: 'stats';
  id: number;
}
/** data is text, or base64 of the bytes when binary is true. */
export interface PublishRequest {
  type: 'publish';
  id: number;
  room: string;
  data: string;
  binary?: boolean;
}
/** A full garbage collection before a memory sample, so V8's garbage is not read as per-connection cost. */
export interface GcRequest {
  type: 'gc';
  id: number;
}
export type ParentMessage = StatsRequest | PublishRequest | GcRequest;

/** Exit codes of the child process. */
export const EXIT = {
  ok: 0,
  failed: 1,
  config: 2,
  unavailable: 3,
  /** The shutdown bound passed with connections or handles still open. */
  shutdownTimeout: 4,
} as const;
