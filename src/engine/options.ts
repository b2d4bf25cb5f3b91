// Server options: defaults and validation at the edge, before any native code runs.
import { isIP } from 'node:net';
import { checkBool } from '../checks.js';
import { LIMITS, resolveLimit } from '../limits.js';
import { HTTP_CONTENT_TYPE, HTTP_HELLO_BODY, HTTP_HELLO_PATH } from '../wire/protocols.js';
import { ProtoCode, WsModeCode, type EngineProtocol, type WebSocketMode } from './records.js';

/** Options of an engine server. Every size is in bytes; every bound and default is in src/limits.ts (LIMITS). */
export interface ServerOptions {
  /**
   * `raw` (bytes to JS), `echo` (native), `frame` (length-prefixed frames to JS), `frame-echo`
   * (native), `http` (requests to JS), `http-static` (native: GET `staticPath` → 200
   * `staticBody`, else 404). Default `raw`.
   */
  protocol?: EngineProtocol;
  /** HTTP protocols: what a WebSocket upgrade does: `off` (404), `js` (messages to JS), `echo` or `broadcast` (native; joins the topic `?room=NAME`). Default `off`. */
  websocket?: WebSocketMode;
  /** An IPv4 or IPv6 literal, or `localhost` (127.0.0.1). Default 127.0.0.1. */
  host?: string;
  /** 0 picks a free port. Default 0. */
  port?: number;
  /** listen(2) backlog (the kernel caps it at net.core.somaxconn). Default 511. */
  backlog?: number;
  /** SO_REUSEPORT, so several threads or processes share one port. Default false. */
  reusePort?: boolean;
  /** IPV6_V6ONLY for an IPv6 host. Default false. */
  ipv6Only?: boolean;
  /** TCP_NODELAY on accepted connections. Default true. */
  noDelay?: boolean;
  /** Keep our side open after the peer's FIN until `end()`. Default false: end when the peer ends. */
  allowHalfOpen?: boolean;
  /** Largest frame payload (`frame`/`frame-echo`) or WebSocket message; a bigger one closes that connection (WebSocket: 1009). Default 1 MiB. */
  maxFrameBytes?: number;
  /** HTTP: largest request head (request line + headers); more → 431. Default 8192. */
  maxHeaderBytes?: number;
  /** HTTP: largest Content-Length body; more → 413. Default 1 MiB. */
  maxBodyBytes?: number;
  /** Close a connection that sent nothing for this long (0 = never). Checked on a 50 ms wheel. Default 120000 (as uWebSockets). */
  idleTimeoutMs?: number;
  /**
   * HTTP: a request head must arrive whole within this many ms of its first byte, or the
   * connection gets 408 and is closed, counted as `headerTimeouts` with close reason
   * `header-timeout` (a slowloris peer). 0 = no limit. Default 10000.
   */
  headerTimeoutMs?: number;
  /**
   * After the engine sends its FIN (end(), a last response, an error answer) it waits this long
   * for the peer's; after an error answer it reads and drops what the peer still sends meanwhile
   * (a lingering close, so the peer reads the status or close code instead of a reset). Then the
   * connection is closed, counted (`finWaitTimeouts`, `lingerTimeouts`). Default 5000.
   */
  lingerMs?: number;
  /** WebSocket topics: the longest topic (room) name, in bytes; a longer one is refused. Default 256. */
  maxTopicNameBytes?: number;
  /** WebSocket topics alive at once in this thread's engine; a new topic beyond it is refused. Default 65536. */
  maxTopics?: number;
  /** WebSocket heartbeat: ping this often; a peer that has not answered by the next ping is closed (0 = off). Default 0. */
  pingIntervalMs?: number;
  /**
   * WebSocket: after the server sends a close frame (wsClose, a protocol error, or its answer to
   * the peer's close), the connection is closed anyway if it is still open this long after
   * (a peer that never answers or never reads). Counted as wsCloseTimeouts. Default 5000.
   */
  wsCloseTimeoutMs?: number;
  /** `http-static`: the path answered 200. Default `/`. */
  staticPath?: string;
  /** `http-static`: the 200 body. Default `Hello, World!`. */
  staticBody?: string;
  /** `http-static`: the 200 Content-Type. Default `text/plain`. */
  staticType?: string;
  /** Bytes read from one connection per round before others get their turn. Default 256 KiB. */
  readBudgetBytes?: number;
  /**
   * The native paths (echo, frame-echo, http-static, JS HTTP responses, WebSocket echo) stop
   * reading a peer whose queued answers exceed this, until they are sent. Default 1 MiB.
   */
  highWaterMark?: number;
  /** Close a connection whose unsent bytes exceed this (0 = never), counted as backpressure. Default 16 MiB. */
  maxQueuedBytes?: number;
  /**
   * The I/O model of this listener's connections. `epoll` (default): edge-triggered readiness.
   * `uring`: io_uring completions: one multishot accept, one multishot receive per connection
   * into a provided-buffer ring shared by the thread's engine (8,192 buffers of 4 KiB: 32 MiB,
   * counted in engineBytes; `uringSizes()` says so at run time), one send per connection per
   * round, one io_uring_enter per round. Sends in flight count as queued bytes. Needs an addon
   * built with liburing and a kernel that allows io_uring: `uringStatus()` says why not.
   */
  backend?: EngineBackend;
  /**
   * TLS on this listener's connections (either backend), through the OpenSSL Node exports to
   * addons: every protocol is served over it unchanged. Absent or null: plain TCP.
   */
  tls?: ServerTlsOptions | null;
}

/** TLS of an engine listener. */
export interface ServerTlsOptions {
  /** The certificate (then any chain certificates) as PEM. */
  cert: string;
  /** Its unencrypted private key as PEM. */
  key: string;
  /**
   * Issue session tickets, so a client may resume (TLS 1.3 resumes only by tickets; the engine
   * keeps no session cache, so with false nothing resumes). Default true.
   */
  tickets?: boolean;
  /**
   * A connection whose handshake has not finished this long after accept is closed, counted as
   * `tlsHandshakeTimeouts` (0 = no limit). Default 10000.
   */
  handshakeTimeoutMs?: number;
  /**
   * The key session tickets are sealed with, TICKET_KEY_BYTES in OpenSSL's layout (16 bytes of
   * name, 32 of HMAC key, 32 of AES key). Listeners given the same key resume each other's
   * tickets, as the processes of one service behind one port must; absent or null: a random key
   * of this listener's own.
   */
  ticketKeys?: Buffer | null;
}

/** Bytes of an engine listener's ticket key (tls.ticketKeys). */
export const TICKET_KEY_BYTES = 80;

export type ResolvedServerTls = Required<ServerTlsOptions>;

/** The engine's I/O backends. */
export type EngineBackend = 'epoll' | 'uring';
export const ENGINE_BACKENDS: readonly EngineBackend[] = ['epoll', 'uring'];

export type ResolvedServerOptions = Required<Omit<ServerOptions, 'tls'>> & { tls: ResolvedServerTls | null };

/** Largest frame the default 4 MiB arena can hold whole (LIMITS.maxFrameBytes). */
export const MAX_FRAME_LIMIT = LIMITS.maxFrameBytes.max;

function checkStr(name: string, v: unknown): string {
  if (typeof v !== 'string') throw new TypeError(`${name} must be a string, got ${typeof v}`);
  if (/[\r\n\0]/.test(v)) throw new TypeError(`${name} must not contain CR, LF or NUL`);
  return v;
}

/** Fills in defaults and validates; throws TypeError/RangeError naming the option. */
export function resolveServerOptions(o: ServerOptions = {}): ResolvedServerOptions {
  if (o === null || typeof o !== 'object') throw new TypeError('options must be an object');
  const known = new Set(['protocol', 'websocket', 'host', 'port', 'backlog', 'reusePort', 'ipv6Only', 'noDelay', 'allowHalfOpen',
    'maxFrameBytes', 'readBudgetBytes', 'highWaterMark', 'maxQueuedBytes', 'maxHeaderBytes', 'maxBodyBytes', 'idleTimeoutMs',
    'headerTimeoutMs', 'lingerMs', 'maxTopicNameBytes', 'maxTopics', 'pingIntervalMs', 'wsCloseTimeoutMs', 'staticPath',
    'staticBody', 'staticType', 'backend', 'tls']);
  for (const k of Object.keys(o)) if (!known.has(k)) throw new TypeError(`unknown option "${k}"`);
  const protocol = o.protocol ?? 'raw';
  if (typeof protocol !== 'string' || !(protocol in ProtoCode)) {
    throw new TypeError(`protocol must be one of ${Object.keys(ProtoCode).join(', ')}, got ${String(protocol)}`);
  }
  const websocket = o.websocket ?? 'off';
  if (typeof websocket !== 'string' || !(websocket in WsModeCode)) {
    throw new TypeError(`websocket must be one of ${Object.keys(WsModeCode).join(', ')}, got ${String(websocket)}`);
  }
  if (websocket !== 'off' && protocol !== 'http' && protocol !== 'http-static') {
    throw new TypeError(`websocket "${websocket}" needs protocol http or http-static, got ${protocol}`);
  }
  const backend = o.backend ?? 'epoll';
  if (typeof backend !== 'string' || !(ENGINE_BACKENDS as readonly string[]).includes(backend)) {
    throw new TypeError(`backend must be one of ${ENGINE_BACKENDS.join(', ')}, got ${String(backend)}`);
  }
  const tls = resolveServerTls(o.tls);
  let host = o.host ?? '127.0.0.1';
  if (typeof host !== 'string') throw new TypeError(`host must be a string, got ${typeof host}`);
  if (host === 'localhost') host = '127.0.0.1';
  if (isIP(host) === 0) throw new TypeError(`host must be an IP address literal or "localhost", got "${host}"`);
  return {
    protocol,
    host,
    port: resolveLimit('port', o.port),
    backlog: resolveLimit('backlog', o.backlog),
    reusePort: checkBool('reusePort', o.reusePort ?? false),
    ipv6Only: checkBool('ipv6Only', o.ipv6Only ?? false),
    noDelay: checkBool('noDelay', o.noDelay ?? true),
    allowHalfOpen: checkBool('allowHalfOpen', o.allowHalfOpen ?? false),
    maxFrameBytes: resolveLimit('maxFrameBytes', o.maxFrameBytes),
    readBudgetBytes: resolveLimit('readBudgetBytes', o.readBudgetBytes),
    highWaterMark: resolveLimit('highWaterMark', o.highWaterMark),
    maxQueuedBytes: resolveLimit('maxQueuedBytes', o.maxQueuedBytes),
    websocket,
    maxHeaderBytes: resolveLimit('maxHeaderBytes', o.maxHeaderBytes),
    maxBodyBytes: resolveLimit('maxBodyBytes', o.maxBodyBytes),
    idleTimeoutMs: resolveLimit('idleTimeoutMs', o.idleTimeoutMs),
    headerTimeoutMs: resolveLimit('headerTimeoutMs', o.headerTimeoutMs),
    lingerMs: resolveLimit('lingerMs', o.lingerMs),
    maxTopicNameBytes: resolveLimit('maxTopicNameBytes', o.maxTopicNameBytes),
    maxTopics: resolveLimit('maxTopics', o.maxTopics),
    pingIntervalMs: resolveLimit('pingIntervalMs', o.pingIntervalMs),
    wsCloseTimeoutMs: resolveLimit('wsCloseTimeoutMs', o.wsCloseTimeoutMs),
    staticPath: checkStr('staticPath', o.staticPath ?? HTTP_HELLO_PATH),
    staticBody: checkStr('staticBody', o.staticBody ?? HTTP_HELLO_BODY),
    staticType: checkStr('staticType', o.staticType ?? HTTP_CONTENT_TYPE),
    backend: backend as EngineBackend,
    tls,
  };
}

function checkPem(name: string, v: unknown, block: RegExp, what: string): string {
  if (typeof v !== 'string') throw new TypeError(`${name} must be a PEM string, got ${typeof v}`);
  if (!block.test(v)) throw new TypeError(`${name} must be PEM text holding ${what}`);
  return v;
}

function checkTicketKeys(v: unknown): Buffer | null {
  if (v === undefined || v === null) return null;
  if (!Buffer.isBuffer(v)) throw new TypeError(`tls.ticketKeys must be a Buffer of ${TICKET_KEY_BYTES} bytes, got ${typeof v}`);
  if (v.length !== TICKET_KEY_BYTES) throw new RangeError(`tls.ticketKeys must be ${TICKET_KEY_BYTES} bytes, got ${v.length}`);
  return v;
}

function resolveServerTls(t: ServerTlsOptions | null | undefined): ResolvedServerTls | null {
  if (t === undefined || t === null) return null;
  if (typeof t !== 'object') throw new TypeError(`tls must be an object { cert, key, tickets, handshakeTimeoutMs, ticketKeys }, got ${typeof t}`);
  for (const k of Object.keys(t)) {
    if (!['cert', 'key', 'tickets', 'handshakeTimeoutMs', 'ticketKeys'].includes(k)) throw new TypeError(`unknown option "tls.${k}"`);
  }
  return {
    cert: checkPem('tls.cert', t.cert, /-----BEGIN CERTIFICATE-----/, 'a certificate ("-----BEGIN CERTIFICATE-----")'),
    key: checkPem('tls.key', t.key, /-----BEGIN [A-Z ]*PRIVATE KEY-----/, 'a private key ("-----BEGIN PRIVATE KEY-----")'),
    tickets: checkBool('tls.tickets', t.tickets ?? true),
    handshakeTimeoutMs: resolveLimit('tlsHandshakeTimeoutMs', t.handshakeTimeoutMs, 'tls.handshakeTimeoutMs'),
    ticketKeys: checkTicketKeys(t.ticketKeys),
  };
}
