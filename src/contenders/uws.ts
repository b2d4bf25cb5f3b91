// uWebSockets.js: HTTP and WebSocket on uSockets' own epoll loop, with native publish/subscribe.
// It is an optional dependency, so it is imported by a computed specifier inside the child only:
// the project compiles and every other contender runs when it is missing.

import { Counters } from './counters.js';
import {
  HTTP_CONTENT_TYPE,
  HTTP_HELLO_BODY,
  HTTP_NOT_FOUND_BODY,
  roomFromJoin,
} from '../wire/protocols.js';
import { afterPendingReads, ownTcpConnections, sleep, type TcpSocket } from './drain.js';
import type { AppliedTls, ChildConfig, ContenderDefinition, ContenderServer, Protocol, ServerTls } from './contender-contract.js';

// The slice of the uWebSockets.js API used here (its own typings need the package installed).
type UwsData = string | ArrayBuffer | Uint8Array;
interface UwsListenSocket {
  readonly __listenSocket: never;
}
interface UwsResponse {
  cork(cb: () => void): UwsResponse;
  writeStatus(status: string): UwsResponse;
  writeHeader(key: string, value: string): UwsResponse;
  end(body?: UwsData, closeConnection?: boolean): UwsResponse;
  endWithoutBody(reportedContentLength?: number, closeConnection?: boolean): UwsResponse;
  onAborted(handler: () => void): UwsResponse;
  upgrade<T>(userData: T, key: string, protocol: string, extensions: string, context: unknown): void;
}
interface UwsRequest {
  getHeader(lowerCaseKey: string): string;
  getQuery(key: string): string | undefined;
}
interface UwsWebSocket<T> {
  send(message: UwsData, isBinary?: boolean): number;
  /** Sends a close frame, calls the close handler at once, FIN once flushed; the socket closes on the peer's FIN. */
  end(code?: number, shortMessage?: UwsData): void;
  subscribe(topic: string): boolean;
  getUserData(): T;
}
interface UwsBehavior<T> {
  compression?: number;
  maxPayloadLength?: number;
  idleTimeout?: number;
  maxBackpressure?: number;
  closeOnBackpressureLimit?: boolean;
  sendPingsAutomatically?: boolean;
  upgrade?: (res: UwsResponse, req: UwsRequest, context: unknown) => void;
  open?: (ws: UwsWebSocket<T>) => void;
  message?: (ws: UwsWebSocket<T>, message: ArrayBuffer, isBinary: boolean) => void;
  dropped?: (ws: UwsWebSocket<T>, message: ArrayBuffer, isBinary: boolean) => void;
  close?: (ws: UwsWebSocket<T>, code: number, message: ArrayBuffer) => void;
}
interface UwsApp {
  get(pattern: string, handler: (res: UwsResponse, req: UwsRequest) => void): UwsApp;
  head(pattern: string, handler: (res: UwsResponse, req: UwsRequest) => void): UwsApp;
  any(pattern: string, handler: (res: UwsResponse, req: UwsRequest) => void): UwsApp;
  ws<T>(pattern: string, behavior: UwsBehavior<T>): UwsApp;
  filter(cb: (res: UwsResponse, count: number) => void): UwsApp;
  listen(host: string, port: number, options: number, cb: (socket: UwsListenSocket | false) => void): UwsApp;
  publish(topic: string, message: UwsData, isBinary?: boolean): boolean;
  numSubscribers(topic: string): number;
  close(): UwsApp;
}
/** AppOptions of SSLApp: what uSockets' create_ssl_context_from_options reads (the files' paths among them). */
interface UwsSslOptions {
  key_file_name: string;
  cert_file_name: string;
}
interface UwsModule {
  App(): UwsApp;
  /** Throws "App construction failed" when the key or certificate cannot be loaded. */
  SSLApp(options: UwsSslOptions): UwsApp;
  us_listen_socket_close(socket: UwsListenSocket): void;
  us_socket_local_port(socket: UwsListenSocket): number;
  LIBUS_LISTEN_EXCLUSIVE_PORT: number;
  DISABLED: number;
}

let loading: Promise<UwsModule> | undefined;

/** Imports uWebSockets.js once; rejects with the reason it cannot be used here. */
export function loadUws(): Promise<UwsModule> {
  const specifier = 'uWebSockets.js';
  loading ??= (import(specifier) as Promise<Partial<UwsModule> & { default?: Partial<UwsModule> }>).then(
    (m) => {
      const mod = typeof m.App === 'function' ? m : m.default;
      if (mod === undefined || typeof mod.App !== 'function') throw new Error('uWebSockets.js loaded but exports no App()');
      return mod as UwsModule;
    },
    (err: unknown) => {
      throw new Error(`uWebSockets.js cannot be loaded: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`);
    },
  );
  return loading;
}

/** uWS's HTTP idle timeout is a compile-time constant (HttpContext::HTTP_IDLE_TIMEOUT_S). */
const UWS_HTTP_IDLE_TIMEOUT_MS = 10_000;
/** uSockets calls listen(2) with this backlog, whatever the caller wants. */
const UWS_BACKLOG = 512;
/** uWS accepts idleTimeout 0 or at least 8 s (any other value aborts the process). */
const UWS_MIN_IDLE_S = 8;
/** uWS refuses idleTimeouts above 960 s (uSockets counts timeouts in 4 s ticks within one byte). */
const UWS_MAX_IDLE_S = 960;

/**
 * With sendPingsAutomatically, uWS splits idleTimeout into "silence before the ping" and a
 * margin of 4, 8 or 16 s to wait for any answer (WebSocketContextData's
 * calculateIdleTimeoutCompnents): a peer silent for idleTimeout seconds in total is closed.
 */
export function uwsPingMargin(idleTimeoutS: number): number {
  let margin = 4;
  while (idleTimeoutS - margin * 2 >= margin * 2 && margin < 16) margin *= 2;
  return margin;
}

/**
 * The uWS idleTimeout whose ping comes after about pingMs of silence: the smallest margin m for
 * which idleTimeout = ping + m splits back into (ping, m), never below uWS's 8 s minimum.
 */
export function uwsHeartbeat(pingMs: number): { idleTimeoutS: number; pingAfterS: number } {
  const ping = Math.max(1, Math.ceil(pingMs / 1000));
  let t = UWS_MIN_IDLE_S;
  for (const m of [4, 8, 16]) {
    t = Math.max(UWS_MIN_IDLE_S, ping + m);
    if (uwsPingMargin(t) === m) break;
  }
  t = Math.min(UWS_MAX_IDLE_S, t);
  return { idleTimeoutS: t, pingAfterS: t - uwsPingMargin(t) };
}

/**
 * What SSLApp applies, found in three places: uws-pack's index.d.ts (AppOptions: key, cert, ca,
 * passphrase, dh_params, ssl_ciphers, ssl_prefer_low_memory_usage; nothing for tickets or a
 * handshake timeout), uSockets' src/crypto/openssl.c (create_ssl_context_from_options sets
 * read-ahead, a moving write buffer, TLS 1.2 at least and the options above, and never touches
 * tickets or the session cache), and the binary itself (its strings are BoringSSL's source paths,
 * uSockets/boringssl/ssl/*.cc: BoringSSL is compiled in, not the OpenSSL Node links). So tickets are
 * BoringSSL's default, on: a session is resumed (test/contenders-tls.test.ts resumes one); and
 * there is no handshake timeout: a connection silent in its handshake is an HTTP socket to uWS,
 * closed by its fixed HTTP idle timeout.
 */
const UWS_TLS_LIBRARY = 'uSockets (BoringSSL, compiled into uWebSockets.js)';

function appliedUwsTls(): AppliedTls {
  return {
    library: UWS_TLS_LIBRARY,
    tickets: true,
    handshakeTimeoutMs: null,
    sharedTicketKey: null,
    note: `uSockets has no handshake timeout; a connection silent in its handshake is closed by uWS's fixed HTTP idle timeout (${UWS_HTTP_IDLE_TIMEOUT_MS / 1000} s, in 4 s ticks); nor can SSLApp be given a ticket key: each worker seals tickets with its own, so with n workers a ticket resumes on 1 in n`,
  };
}

/**
 * Tickets off cannot be applied (BoringSSL issues them and SSLApp has no option to stop it), so
 * the pair is skipped with that reason rather than run with tickets: null. Recording null would
 * still measure a server that encrypts and sends tickets on every full handshake beside servers
 * that send none, and resumes any client that presents one: not the same work, whatever a note
 * says.
 */
function uwsSpeaksTls(_protocol: Protocol, tls: ServerTls): true | string {
  return tls.tickets ? true : 'uWebSockets.js cannot turn TLS session tickets off: uSockets leaves BoringSSL\'s default (tickets on) and SSLApp has no option for it';
}

/** App(), or SSLApp() on the run's certificate when the child was asked for TLS. */
function createApp(uws: UwsModule, config: ChildConfig): UwsApp {
  if (config.tls === undefined) return uws.App();
  try {
    return uws.SSLApp({ key_file_name: config.tls.keyFile, cert_file_name: config.tls.certFile });
  } catch (err) {
    throw new Error(`uWebSockets.js could not load the key ${config.tls.keyFile} or certificate ${config.tls.certFile}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

export const uwsContender: ContenderDefinition = {
  name: 'uws',
  description: 'uWebSockets.js (uSockets epoll loop in C++), HTTP and WebSocket with native pub/sub',
  speaks: (protocol: Protocol) =>
    protocol === 'tcp-echo' || protocol === 'frame-echo' ? 'uWebSockets.js does not speak raw TCP' : true,
  speaksTls: uwsSpeaksTls,
  sharedPort: () => true,
  countsPayloadBytes: () => true,
  joinByMessage: true,
  probe: async () => {
    await loadUws();
  },
  start: async (config) => {
    const uws = await loadUws();
    switch (config.protocol) {
      case 'http-hello':
        return startHttp(uws, config);
      case 'ws-echo':
      case 'ws-broadcast':
        return startWs(uws, config);
      default:
        throw new RangeError(`uws does not speak ${config.protocol}`);
    }
  },
};

function listen(uws: UwsModule, app: UwsApp, config: ChildConfig): Promise<UwsListenSocket> {
  // uSockets sets SO_REUSEPORT on every listener unless told otherwise; per-worker ports ask
  // for an exclusive port so that a port still held by a stale process fails loudly.
  const options = config.portMode === 'shared' ? 0 : uws.LIBUS_LISTEN_EXCLUSIVE_PORT;
  return new Promise((resolve, reject) => {
    app.listen(config.host, config.port, options, (socket) => {
      if (socket === false) reject(new Error(`uWebSockets.js could not listen on ${config.host}:${config.port} (in use or unavailable)`));
      else resolve(socket);
    });
  });
}

/** During the drain every answer closes its connection once written (Connection: close). */
interface Draining {
  on: boolean;
}

function notFound(res: UwsResponse, draining: Draining): void {
  res.cork(() => {
    res.writeStatus('404 Not Found').writeHeader('Content-Type', HTTP_CONTENT_TYPE).end(HTTP_NOT_FOUND_BODY, draining.on);
  });
}

/** How one kind of uWS server drains (see running()). */
interface Drain {
  /** Called once the listener is closed: answers close their connections, WebSockets get 1001. */
  begin(): void;
  /** Connections still draining, given this process's open TCP connections (the kernel's list). */
  pending(conns: readonly TcpSocket[]): number;
}

/**
 * The drain: close the listen socket, begin (HTTP answers say Connection: close, every WebSocket
 * is ended with 1001), give what the kernel already holds one loop turn, then wait until nothing
 * is pending or graceMs has passed; app.close() then closes whatever is left, and what was still
 * pending is the cut. uWS calls a WebSocket's close handler as soon as end() sends the close
 * frame, and shows JS nothing of the socket after that (it closes on the peer's FIN), so what is
 * still open comes from the kernel: this process's TCP connections on the port (drain.ts), read
 * only while the drain lasts, at no cost per connection before it.
 */
function running(uws: UwsModule, app: UwsApp, socket: UwsListenSocket, server: Omit<ContenderServer, 'port' | 'close'>, drain: Drain): ContenderServer {
  const port = uws.us_socket_local_port(socket);
  return {
    ...server,
    port,
    close: async (graceMs) => {
      uws.us_listen_socket_close(socket);
      drain.begin();
      await afterPendingReads();
      const deadline = Date.now() + graceMs;
      let cut: number | null;
      for (;;) {
        const t0 = Date.now();
        let pending: number;
        try {
          pending = drain.pending(ownTcpConnections(port));
        } catch {
          cut = null; // /proc unreadable: what app.close() cuts cannot be known
          break;
        }
        if (pending <= 0) {
          cut = 0;
          break;
        }
        const now = Date.now();
        if (now >= deadline) {
          cut = pending;
          break;
        }
        // Reading the kernel's table costs O(connections): poll no more than a fifth of the time.
        await sleep(Math.min(deadline - now, Math.max(10, 4 * (now - t0))));
      }
      app.close();
      return { cut };
    },
  };
}

async function startHttp(uws: UwsModule, config: ChildConfig): Promise<ContenderServer> {
  const c = new Counters(config.protocol);
  const draining: Draining = { on: false };
  const app = createApp(uws, config);
  // filter() sees every HTTP socket open (+1) and close (-1).
  app.filter((_res, count) => {
    c.connectionsNow += count;
    if (count > 0) c.connectionsTotal++;
  });
  app.get('/', (res) => {
    c.messagesIn++;
    c.messagesOut++;
    res.cork(() => {
      res.writeHeader('Content-Type', HTTP_CONTENT_TYPE).end(HTTP_HELLO_BODY, draining.on);
    });
  });
  // HEAD / is GET / without the body (RFC 9110 9.3.2), as every contender answers it. This build
  // does not count endWithoutBody() as an answer and aborts the process ("returning from a
  // request handler without responding") unless an abort handler is attached first.
  app.head('/', (res) => {
    c.messagesIn++;
    c.messagesOut++;
    res.onAborted(() => {});
    res.writeHeader('Content-Type', HTTP_CONTENT_TYPE).endWithoutBody(Buffer.byteLength(HTTP_HELLO_BODY), draining.on);
  });
  app.any('/*', (res) => {
    c.messagesIn++;
    c.messagesOut++;
    notFound(res, draining);
  });
  const socket = await listen(uws, app, config);
  return running(
    uws,
    app,
    socket,
    {
      limits: { maxMessageBytes: null, idleTimeoutMs: UWS_HTTP_IDLE_TIMEOUT_MS, backlog: UWS_BACKLOG, pingIntervalMs: null, maxQueuedBytes: null },
      ...(config.tls === undefined ? {} : { tls: appliedUwsTls() }),
      stats: () => c.snapshot(),
    },
    {
      begin: () => {
        draining.on = true;
      },
      // Answers are written at once, so after the loop turn a connection with nothing left in
      // its send queue is idle (closed at once by app.close(), not a cut); one whose peer has
      // not taken its answer yet is still draining.
      pending: (conns) => conns.filter((s) => s.txQueue > 0).length,
    },
  );
}

/**
 * uWS closes with 1006 and a reason such as "Received too big message" or "Received invalid
 * UTF-8" when a peer breaks the protocol; "Received TCP FIN before WebSocket close frame" is a
 * peer that just went away, and "WebSocket timed out from inactivity" is the idle timeout.
 */
function isProtocolViolation(reason: string): boolean {
  return reason.startsWith('Received ') && !reason.startsWith('Received TCP FIN');
}

interface Member {
  room: string | undefined;
}

async function startWs(uws: UwsModule, config: ChildConfig): Promise<ContenderServer> {
  const c = new Counters(config.protocol);
  const app = createApp(uws, config);
  let dropped = 0;
  const idleMs = config.limits.idleTimeoutMs;
  const pingMs = config.limits.pingIntervalMs;
  const maxQueued = config.limits.maxQueuedBytes;
  // uWS has one timer per socket: with pings on, idleTimeout is derived from the interval and
  // is also what closes a silent peer, so a separate idleTimeoutMs cannot be honoured as well.
  const beat = pingMs > 0 ? uwsHeartbeat(pingMs) : null;
  const idleS = beat !== null ? beat.idleTimeoutS : idleMs === 0 ? 0 : Math.min(UWS_MAX_IDLE_S, Math.max(UWS_MIN_IDLE_S, Math.ceil(idleMs / 1000)));
  const broadcast = config.protocol === 'ws-broadcast';
  const draining: Draining = { on: false };
  // Open WebSockets, to end each with 1001 on the drain (a set entry per connection is the only
  // per-connection cost of the drain). HTTP sockets: filter() counts each open (+1) and each
  // close of a socket that was not upgraded (-1); an upgraded one never comes back to it.
  const sockets = new Set<UwsWebSocket<Member>>();
  let httpSockets = 0;
  let upgraded = 0;
  app.filter((_res, count) => {
    httpSockets += count;
  });

  const deliver = (room: string, message: UwsData, isBinary: boolean): number => {
    const n = app.numSubscribers(room);
    // app.publish reaches every subscriber, the sender included (ws.publish would skip it).
    app.publish(room, message, isBinary);
    c.messagesOut += n;
    c.bytesOut += n * (typeof message === 'string' ? Buffer.byteLength(message) : message.byteLength);
    return n;
  };

  const behavior: UwsBehavior<Member> = {
    compression: uws.DISABLED,
    maxPayloadLength: config.limits.maxMessageBytes,
    idleTimeout: idleS,
    // 0 lifts the send-buffer cap (default 64 KiB, beyond which uWS drops messages): like ws and
    // node:net, every message is delivered and the driver is what limits the load. With a
    // maxQueuedBytes limit, the cap is that limit and a socket over it is closed, as elsewhere.
    maxBackpressure: maxQueued,
    closeOnBackpressureLimit: maxQueued > 0,
    // Without a heartbeat a live client must not be pinged, so that idleTimeout means "no
    // traffic" as it does for every other contender.
    sendPingsAutomatically: beat !== null,
    open: (ws) => {
      c.connectionsNow++;
      c.connectionsTotal++;
      upgraded++;
      sockets.add(ws);
      if (broadcast) {
        const { room } = ws.getUserData();
        if (room !== undefined) ws.subscribe(room);
      }
    },
    message: broadcast
      ? (ws, message, isBinary) => {
          c.messagesIn++;
          c.bytesIn += message.byteLength;
          const member = ws.getUserData();
          if (member.room !== undefined) {
            deliver(member.room, message, isBinary);
            return;
          }
          const room = isBinary ? undefined : roomFromJoin(new Uint8Array(message));
          if (room === undefined) {
            c.protocolErrors++;
            return;
          }
          member.room = room;
          ws.subscribe(room);
        }
      : (ws, message, isBinary) => {
          c.messagesIn++;
          c.messagesOut++;
          c.bytesIn += message.byteLength;
          c.bytesOut += message.byteLength;
          ws.send(message, isBinary);
        },
    dropped: () => {
      dropped++;
    },
    close: (ws, code, message) => {
      c.connectionsNow--;
      sockets.delete(ws);
      if (code === 1006 && isProtocolViolation(Buffer.from(message).toString('latin1'))) c.protocolErrors++;
    },
  };
  if (broadcast) {
    behavior.upgrade = (res, req, context) => {
      const room = req.getQuery('room');
      const member: Member = { room: room === undefined || room === '' ? undefined : room };
      res.upgrade(member, req.getHeader('sec-websocket-key'), req.getHeader('sec-websocket-protocol'), req.getHeader('sec-websocket-extensions'), context);
    };
  }
  app.ws('/*', behavior);
  app.any('/*', (res) => notFound(res, draining));
  const socket = await listen(uws, app, config);
  return running(uws, app, socket, {
    limits: {
      maxMessageBytes: config.limits.maxMessageBytes,
      idleTimeoutMs: idleS * 1000,
      backlog: UWS_BACKLOG,
      // Not a period: uWS pings a socket after this much silence (4 s timer ticks), and closes it
      // when nothing arrives within the margin after the ping.
      pingIntervalMs: beat === null ? 0 : beat.pingAfterS * 1000,
      maxQueuedBytes: maxQueued,
    },
    ...(config.tls === undefined ? {} : { tls: appliedUwsTls() }),
    stats: () => c.snapshot({ dropped }),
    publish: (room, data, binary) => deliver(room, data, binary),
  }, {
    begin: () => {
      draining.on = true;
      // The close frame goes out after anything queued; end() calls the close handler, which
      // takes the socket out of the set.
      for (const ws of sockets) ws.end(1001, 'server shutting down');
    },
    // Every connection of the process still open, less the plain HTTP ones (idle: app.close()
    // closes them at once), is a WebSocket whose peer has not closed yet.
    pending: (conns) => conns.length - (httpSockets - upgraded),
  });
}
