// The connector's TS API: a group of outgoing connections driven entirely by native code (no
// JS per connection or per message). JS only steers: ramp, run, reset the window, read stats.
import { Engine } from './engine.js';
import { Histogram } from '../metrics/histogram.js';
import type { NativeClientStats } from './native.js';
import { isIP } from 'node:net';
import { checkBool } from '../checks.js';
import { checkLimit, resolveLimit } from '../limits.js';
import { HTTP_HELLO_PATH } from '../wire/protocols.js';

export const CLIENT_PROTOCOLS = { stream: 0, frame: 1, http: 2, 'ws-echo': 3, 'ws-broadcast': 4 } as const;
export type ClientProtocol = keyof typeof CLIENT_PROTOCOLS;
export const LOAD_MODES = { idle: 0, closed: 1, open: 2, stall: 3, churn: 4 } as const;
export type ClientLoadMode = keyof typeof LOAD_MODES;

/** Options of a client group; every bound and default is in src/limits.ts (LIMITS). */
export interface ClientGroupOptions {
  protocol: ClientProtocol;
  targets: { host: string; port: number }[];
  /** IPv4 source addresses (127.0.0.0/8) spread over connections. */
  sources?: string[];
  /** Payload bytes per message (stream, frame, ws). Default 64 (ws: at least 8, for the timestamp). */
  messageBytes?: number;
  /** Closed loop: messages in flight per connection (HTTP pipeline depth). Default 1. */
  depth?: number;
  /** TCP connect, default 10000 ms. */
  connectTimeoutMs?: number;
  /** WebSocket: from TCP connect to the server's 101, default 30000 ms. */
  handshakeTimeoutMs?: number;
  responseTimeoutMs?: number;
  /** Idle mode: one heartbeat per connection this often (0 = none). */
  heartbeatMs?: number;
  /** ws-broadcast: connection i joins room `r${i % rooms}`. */
  rooms?: number;
  /** ws-broadcast: the first `publishers` connections also send. */
  publishers?: number;
  /** HTTP/WebSocket request path. Default `/`. */
  path?: string;
  /**
   * TLS on every connection: a handshake before the protocol's first bytes, and a connection
   * counts as established when it is done (a ramp measures TLS handshakes). The server is not
   * verified (a run's certificate is self-signed). resume: keep the newest session (ticket) a
   * server issues and offer it on new connections. servername: SNI.
   */
  tls?: ClientTlsOptions;
}

export interface ClientTlsOptions {
  resume: boolean;
  servername?: string;
}

export interface ClientGroupStats extends Omit<NativeClientStats, 'histogram'> {
  /** Latency in µs of every message scheduled since the last `reset()` (answered, or given up at what it waited). */
  latency: Histogram;
}

function resolveClientTls(t: ClientTlsOptions | undefined): ClientTlsOptions | undefined {
  if (t === undefined) return undefined;
  if (t === null || typeof t !== 'object') throw new TypeError('tls must be an object { resume, servername? }');
  for (const k of Object.keys(t)) if (k !== 'resume' && k !== 'servername') throw new TypeError(`unknown option "tls.${k}"`);
  const resume = checkBool('tls.resume', t.resume);
  if (t.servername === undefined) return { resume };
  if (typeof t.servername !== 'string' || t.servername.length === 0 || t.servername.length > 255 || /[\s\0]/.test(t.servername)) {
    throw new TypeError(`tls.servername must be a host name (1..255 characters, no spaces), got ${String(t.servername)}`);
  }
  return { resume, servername: t.servername };
}

/** A group of native client connections in this thread's engine. */
export class ClientGroup {
  private readonly engine = Engine.get();
  private readonly g: number;
  private closed = false;

  constructor(o: ClientGroupOptions) {
    if (!(o.protocol in CLIENT_PROTOCOLS)) throw new TypeError(`protocol must be one of ${Object.keys(CLIENT_PROTOCOLS).join(', ')}`);
    if (!Array.isArray(o.targets) || o.targets.length === 0) throw new TypeError('targets must be a non-empty array');
    for (const t of o.targets) {
      if (isIP(t.host) === 0) throw new TypeError(`target host must be an IP literal, got ${t.host}`);
      checkLimit('targetPort', t.port, 'target port');
    }
    for (const s of o.sources ?? []) if (isIP(s) !== 4) throw new TypeError(`source must be an IPv4 literal, got ${s}`);
    const tls = resolveClientTls(o.tls);
    this.g = this.engine.native.clientGroup({
      proto: CLIENT_PROTOCOLS[o.protocol],
      targets: o.targets.map((t) => [t.host, t.port]),
      sources: o.sources ?? [],
      msgBytes: resolveLimit(o.protocol.startsWith('ws') ? 'wsMessageBytes' : 'messageBytes', o.messageBytes, 'messageBytes'),
      depth: resolveLimit('depth', o.depth),
      connectTimeoutMs: resolveLimit('connectTimeoutMs', o.connectTimeoutMs),
      handshakeTimeoutMs: resolveLimit('handshakeTimeoutMs', o.handshakeTimeoutMs),
      responseTimeoutMs: resolveLimit('responseTimeoutMs', o.responseTimeoutMs),
      heartbeatMs: resolveLimit('heartbeatMs', o.heartbeatMs),
      rooms: resolveLimit('rooms', o.rooms),
      publishers: resolveLimit('publishers', o.publishers),
      path: o.path ?? HTTP_HELLO_PATH,
      host: o.targets[0]!.host,
      ...(tls ? { tls } : {}),
    });
  }

  /** Starts growing (or shrinking) to `target` connections at `ratePerSec` (0 = unpaced). */
  ramp(target: number, ratePerSec = 0): void {
    checkLimit('rampTarget', target, 'target');
    if (typeof ratePerSec !== 'number' || !(ratePerSec >= 0)) throw new RangeError('ratePerSec must be >= 0');
    this.engine.native.clientRamp(this.g, target, ratePerSec);
  }

  /** Resolves when the ramp has started every connect and each one ended (established or failed), or at the timeout. */
  async rampDone(timeoutMs: number, onProgress?: (s: Omit<ClientGroupStats, 'latency'>) => void): Promise<{ stats: ClientGroupStats; timedOut: boolean }> {
    const end = Date.now() + timeoutMs;
    let last = 0;
    for (;;) {
      const s = this.counts();
      if (s.attemptsLeft === 0 && s.pending === 0) return { stats: this.stats(), timedOut: false };
      if (Date.now() >= end) return { stats: this.stats(), timedOut: true };
      if (onProgress && Date.now() - last >= 500) {
        last = Date.now();
        onProgress(s);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /**
   * Starts the load: idle (hold), closed loop, open loop at `rate` messages/s, stall (stop
   * reading and sending: a slow consumer or a silent peer; a close by the server still counts
   * as peerClosed), or churn (`rate` new connections/s, each asking once when established —
   * connected, TLS handshake done, upgraded — and closed by the client on the answer; a
   * ws-broadcast member at its upgrade; an op is one connection, its latency from when it was due
   * to the answer). The group's held connections are left alone in churn.
   */
  run(mode: ClientLoadMode, rate = 0): void {
    if (!(mode in LOAD_MODES)) throw new TypeError(`mode must be one of ${Object.keys(LOAD_MODES).join(', ')}`);
    if ((mode === 'open' || mode === 'churn') && !(rate > 0)) throw new RangeError(`${mode === 'open' ? 'open loop' : 'churn'} needs rate > 0`);
    this.engine.native.clientRun(this.g, LOAD_MODES[mode], rate);
  }
  /** Starts a measured window (ops, bytes, errors, latency from zero). */
  reset(): void {
    this.engine.native.clientReset(this.g);
  }
  /**
   * Ends the measured window and its recording at once: no new messages, and every message of
   * the window still in flight is recorded at what it waited (unanswered).
   */
  stop(): void {
    this.engine.native.clientStop(this.g);
    this.engine.native.clientFinish(this.g);
  }

  /** Ends the measured window (no new messages, no more ops); returns its counts. settle() ends the recording. */
  endWindow(): Omit<ClientGroupStats, 'latency'> {
    this.engine.native.clientStop(this.g);
    return this.counts();
  }

  /**
   * After endWindow(): waits up to `graceMs` for the answers still in flight, recording each at
   * its real latency, then gives up the rest as unanswered. Without the wait a closed loop's
   * last `depth` messages per connection would be recorded at the part of their wait the window
   * saw.
   */
  async settle(graceMs: number): Promise<void> {
    const end = performance.now() + graceMs;
    while (this.counts().inFlight > 0 && performance.now() < end) {
      await new Promise((r) => setTimeout(r, Math.min(5, Math.max(1, end - performance.now()))));
    }
    this.engine.native.clientFinish(this.g);
  }

  stats(): ClientGroupStats {
    const s = this.engine.native.clientStats(this.g);
    if (!s) throw new Error('client group is closed');
    const { histogram, ...rest } = s;
    return { ...rest, latency: Histogram.decode(histogram) };
  }

  /**
   * The counts without the latency histogram: cheap enough to poll. (Decoding the histogram
   * allocates 136 KiB, 17,408 counts. While ramps polled stats() every 10 ms, the 51 driver
   * processes of a 1M WebSocket run had used twice the CPU of the contender: 102 s to 51 s.)
   */
  counts(): Omit<ClientGroupStats, 'latency'> {
    const s = this.engine.native.clientStats(this.g, false);
    if (!s) throw new Error('client group is closed');
    return s;
  }

  /** Closes every connection of the group. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.engine.native.clientClose(this.g);
  }
}
