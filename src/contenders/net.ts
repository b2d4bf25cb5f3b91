// The libuv baseline: node:net for raw TCP, node:http for HTTP, the ws package on node:http for
// WebSocket. Written the way a competent Node user would: Nagle off, keep-alive on, per-message
// deflate off, backpressure by pause/resume. With ChildConfig.tls the same servers are
// node:tls, node:https and ws on node:https (net-tls.ts holds what TLS adds).

import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { Counters } from './counters.js';
import {
  FrameDecoder,
  HTTP_CONTENT_TYPE,
  HTTP_HELLO_BODY,
  HTTP_NOT_FOUND_BODY,
  isHelloRequest,
  roomFromJoin,
  roomFromUrl,
} from '../wire/protocols.js';
import { parseProcLimits } from '../system/limits.js';
import { afterPendingReads } from './drain.js';
import { appliedNodeTls, nodeTlsOptions, TlsHandshakes } from './net-tls.js';
import type { ChildConfig, ContenderDefinition, ContenderServer, DrainResult, EffectiveLimits, Protocol } from './contender-contract.js';

function nodeHasReusePort(): boolean {
  const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
  return major > 23 || (major === 23 && minor >= 1) || (major === 22 && minor >= 12);
}

export const netContender: ContenderDefinition = {
  name: 'net',
  description: 'node:net (tcp), node:http (http), ws on node:http (WebSocket): libuv, one JS object per connection',
  speaks: (_protocol: Protocol) => true,
  speaksTls: () => true,
  sharedPort: () => (nodeHasReusePort() ? true : `node:net supports reusePort only from Node 22.12 (this is ${process.version})`),
  countsPayloadBytes: () => true,
  joinByMessage: true,
  probe: async () => {},
  start: async (config) => {
    switch (config.protocol) {
      case 'tcp-echo':
      case 'frame-echo':
        return startTcp(config);
      case 'http-hello':
        return startHttp(config);
      case 'ws-echo':
      case 'ws-broadcast':
        return startWs(config);
    }
  },
};

/**
 * Connections this process may hold: its open-files limit less 64, which covers Node's own fds
 * (~20: epoll, event fds, stdio, IPC) and leaves ~32 free, as the epoll engine leaves them (it
 * counts fd numbers, so it needs no allowance for the rest). Reading /proc for stats needs an
 * fd: without a budget a full table makes the stats request itself fail with EMFILE.
 * Infinity when the limit is unreadable.
 */
function connectionBudget(): number {
  try {
    const soft = parseProcLimits(readFileSync('/proc/self/limits', 'utf8')).get('Max open files')?.soft;
    return soft === undefined || !Number.isFinite(soft) ? Infinity : soft - Math.min(64, Math.floor(soft / 8));
  } catch {
    return Infinity;
  }
}

function listen(server: net.Server, config: ChildConfig): Promise<number> {
  // Past the budget node:net closes each new connection on accept (the engine does the same).
  const budget = connectionBudget();
  if (Number.isFinite(budget)) server.maxConnections = budget;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    const options: net.ListenOptions & { reusePort?: boolean } = { host: config.host, port: config.port, backlog: config.limits.backlog };
    if (config.portMode === 'shared') options.reusePort = true;
    server.listen(options, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/**
 * Stops accepting and resolves once server has closed (every connection gone). If connections
 * are still open after graceMs, force closes them and returns how many it closed: the cut.
 */
function closeServer(server: net.Server, graceMs: number, force: () => number): Promise<DrainResult> {
  return new Promise((resolve) => {
    let cut = 0;
    const timer = setTimeout(() => {
      cut = force();
    }, graceMs);
    server.close(() => {
      clearTimeout(timer);
      resolve({ cut });
    });
  });
}

/**
 * Counts every TCP connection, from accept to close. With TLS that includes the ones still in
 * their handshake (and ones that never finish it), as the kernel and the driver see them.
 */
function countConnections(server: net.Server, c: Counters): void {
  server.on('connection', (socket: net.Socket) => {
    c.connectionsNow++;
    c.connectionsTotal++;
    socket.once('close', () => c.connectionsNow--);
  });
}

/** The TLS a server applies, and its handshake counters, when it was asked for TLS. */
interface TlsPart {
  handshakes: TlsHandshakes | undefined;
  /** Spread into the ContenderServer. */
  applied: { tls?: ReturnType<typeof appliedNodeTls> };
}

function tlsPart(config: ChildConfig, server: net.Server): TlsPart {
  if (config.tls === undefined) return { handshakes: undefined, applied: {} };
  return { handshakes: new TlsHandshakes(server as tls.Server), applied: { tls: appliedNodeTls(config.tls) } };
}

// ---- tcp-echo, frame-echo --------------------------------------------------------------------

async function startTcp(config: ChildConfig): Promise<ContenderServer> {
  const c = new Counters(config.protocol);
  const sockets = new Set<net.Socket>();
  const idle = config.limits.idleTimeoutMs;
  const framed = config.protocol === 'frame-echo';
  const max = config.limits.maxMessageBytes;
  const maxQueued = config.limits.maxQueuedBytes;

  const onSocket = (socket: net.Socket): void => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    // A peer reset is ordinary for a benchmark server; 'close' follows and does the bookkeeping.
    socket.on('error', ignore);
    socket.on('drain', () => socket.resume());
    if (idle > 0) socket.setTimeout(idle, () => socket.destroy());
    // Reading pauses while the queue is above the stream's high-water mark, so the queue stays
    // near one chunk; the configured bound closes a socket whose queue passes it anyway.
    const send = (buf: Buffer): void => {
      if (socket.write(buf)) return;
      if (maxQueued > 0 && socket.writableLength > maxQueued) socket.destroy();
      else socket.pause();
    };
    if (framed) {
      const decoder = new FrameDecoder(max);
      const onRun = (run: Buffer, frames: number): void => {
        const payload = run.length - 4 * frames;
        c.messagesIn += frames;
        c.messagesOut += frames;
        c.bytesIn += payload;
        c.bytesOut += payload;
        send(run);
      };
      socket.on('data', (chunk: Buffer) => {
        try {
          decoder.push(chunk, onRun);
        } catch {
          c.protocolErrors++;
          socket.destroy();
        }
      });
    } else {
      socket.on('data', (chunk: Buffer) => {
        c.bytesIn += chunk.length;
        c.bytesOut += chunk.length;
        send(chunk);
      });
    }
  };
  // With TLS, onSocket gets the TLSSocket once its handshake is done ('secureConnection').
  const server = config.tls === undefined ? net.createServer({ noDelay: true }, onSocket) : tls.createServer({ noDelay: true, ...nodeTlsOptions(config.tls) }, onSocket);
  countConnections(server, c);
  const secure = tlsPart(config, server);
  const port = await listen(server, config);
  const limits: EffectiveLimits = {
    maxMessageBytes: framed ? max : null,
    idleTimeoutMs: idle,
    backlog: config.limits.backlog,
    pingIntervalMs: null,
    maxQueuedBytes: maxQueued,
  };
  return {
    port,
    limits,
    ...secure.applied,
    stats: () => c.snapshot(secure.handshakes?.extra()),
    close: async (graceMs) => {
      await afterPendingReads();
      secure.handshakes?.closeHandshaking();
      const closed = closeServer(server, graceMs, () => {
        let cut = 0;
        for (const s of sockets) {
          if (s.destroyed) continue;
          cut++;
          s.destroy();
        }
        return cut;
      });
      // Nothing received from now on is echoed; what is queued is flushed, the FIN follows it, and
      // the socket goes. Later input is read and dropped: unread bytes at close(2) would turn the
      // FIN into a reset that discards what is still in flight.
      for (const s of sockets) {
        s.removeAllListeners('data');
        s.on('data', ignore);
        s.resume();
        s.end(() => s.destroy());
      }
      return closed;
    },
  };
}

function ignore(): void {}

// ---- http-hello ------------------------------------------------------------------------------

const HELLO_HEADERS = { 'Content-Type': HTTP_CONTENT_TYPE, 'Content-Length': String(Buffer.byteLength(HTTP_HELLO_BODY)) };
const NOT_FOUND_HEADERS = { 'Content-Type': HTTP_CONTENT_TYPE, 'Content-Length': String(Buffer.byteLength(HTTP_NOT_FOUND_BODY)) };

/**
 * Requests node:http itself refused with HPE_PAUSED ("Parse Error: Paused"), per server. Its
 * server pauses its parser while the answers to pipelined requests wait on a socket that is not
 * draining, and over TLS more requests still reached the paused parser, which rejected them as a
 * parse error: well-formed pipelined GETs, answered 400 and closed. Measured with Node 20 on
 * https: every connection of an open loop at 60,000 requests/s within a second of its start;
 * over plain http at 90,000/s none. Not the client's fault, so not a protocol error.
 */
const parserPaused = new WeakMap<http.Server, { count: number }>();

/** The server's own counters for its stats: how many requests node:http refused with HPE_PAUSED. */
function httpExtra(server: http.Server): Record<string, number> {
  return { nodeParserPaused: parserPaused.get(server)?.count ?? 0 };
}

function createHttpServer(config: ChildConfig, c: Counters, onRequest: http.RequestListener): http.Server {
  // Node's own timeouts (5 s keep-alive, 60 s headers, 300 s request) would close idle
  // connections of an idle-hold scenario; the only timeout is the shared idleTimeoutMs.
  const options = { noDelay: true, keepAliveTimeout: 0, headersTimeout: 0, requestTimeout: 0 };
  const server: http.Server = config.tls === undefined ? http.createServer(options, onRequest) : https.createServer({ ...options, ...nodeTlsOptions(config.tls) }, onRequest);
  server.timeout = config.limits.idleTimeoutMs;
  // https emits 'connection' for the TCP socket, before its handshake.
  countConnections(server, c);
  const paused = { count: 0 };
  parserPaused.set(server, paused);
  server.on('clientError', (err: NodeJS.ErrnoException, socket: net.Socket) => {
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    if (err.code === 'HPE_PAUSED') paused.count++;
    else c.protocolErrors++;
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : '400 Bad Request';
    socket.end(`HTTP/1.1 ${status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
  });
  return server;
}

async function startHttp(config: ChildConfig): Promise<ContenderServer> {
  const c = new Counters(config.protocol);
  let draining = false;
  const server = createHttpServer(config, c, (req, res) => {
    c.messagesIn++;
    c.messagesOut++;
    // Node keeps a connection alive after a request answered while the server closes; during the
    // drain the answer says Connection: close and the connection ends once it is flushed.
    if (draining) res.shouldKeepAlive = false;
    if (isHelloRequest(req.method, req.url)) res.writeHead(200, HELLO_HEADERS).end(HTTP_HELLO_BODY);
    else res.writeHead(404, NOT_FOUND_HEADERS).end(HTTP_NOT_FOUND_BODY);
  });
  const secure = tlsPart(config, server);
  const port = await listen(server, config);
  return {
    port,
    limits: { maxMessageBytes: null, idleTimeoutMs: config.limits.idleTimeoutMs, backlog: config.limits.backlog, pingIntervalMs: null, maxQueuedBytes: null },
    ...secure.applied,
    stats: () => c.snapshot({ ...httpExtra(server), ...secure.handshakes?.extra() }),
    close: async (graceMs) => {
      draining = true;
      await afterPendingReads();
      // http does not track a connection before its handshake is done: it would hold close() up.
      secure.handshakes?.closeHandshaking();
      // close() also closes idle keep-alive connections (Node 19+, and again below for older
      // ones); a request in flight gets graceMs. Connections counts every socket not yet closed.
      const closed = closeServer(server, graceMs, () => {
        const cut = c.connectionsNow;
        server.closeAllConnections();
        return cut;
      });
      server.closeIdleConnections();
      return closed;
    },
  };
}

// ---- ws-echo, ws-broadcast -------------------------------------------------------------------

/** The ws package's own heartbeat pattern keeps a flag on each socket. */
type Heartbeat = WebSocket & { isAlive?: boolean };

function markAlive(this: Heartbeat): void {
  this.isAlive = true;
}

async function startWs(config: ChildConfig): Promise<ContenderServer> {
  const c = new Counters(config.protocol);
  const idle = config.limits.idleTimeoutMs;
  const pingMs = config.limits.pingIntervalMs;
  const maxQueued = config.limits.maxQueuedBytes;
  let draining = false;
  const server = createHttpServer(config, c, (_req, res) => {
    if (draining) res.shouldKeepAlive = false;
    res.writeHead(404, NOT_FOUND_HEADERS).end(HTTP_NOT_FOUND_BODY);
  });
  const wss = new WebSocketServer({ server, perMessageDeflate: false, maxPayload: config.limits.maxMessageBytes, clientTracking: true });
  const rooms = new Map<string, Set<WebSocket>>();

  // ws queues without bound; the documented way to bound it is to check bufferedAmount after send.
  const send = (peer: WebSocket, data: Buffer | string, binary: boolean): void => {
    peer.send(data, { binary });
    if (maxQueued > 0 && peer.bufferedAmount > maxQueued) peer.terminate();
  };
  const deliver = (members: Set<WebSocket>, data: Buffer | string, binary: boolean): number => {
    for (const peer of members) send(peer, data, binary);
    c.messagesOut += members.size;
    c.bytesOut += members.size * (typeof data === 'string' ? Buffer.byteLength(data) : data.length);
    return members.size;
  };
  const join = (ws: WebSocket, name: string): Set<WebSocket> => {
    let members = rooms.get(name);
    if (members === undefined) rooms.set(name, (members = new Set()));
    members.add(ws);
    ws.once('close', () => {
      members.delete(ws);
      if (members.size === 0 && rooms.get(name) === members) rooms.delete(name);
    });
    return members;
  };

  // Connections are counted per TCP socket by the HTTP layer (upgraded ones included).
  wss.on('connection', (ws, req) => {
    ws.on('error', (err: NodeJS.ErrnoException) => {
      // ws reports protocol violations (oversized message, bad frame, bad UTF-8) as WS_ERR_*.
      if (err.code?.startsWith('WS_ERR_') === true) c.protocolErrors++;
    });
    if (idle > 0) req.socket.setTimeout(idle, () => ws.terminate());
    if (pingMs > 0) {
      (ws as Heartbeat).isAlive = true;
      ws.on('pong', markAlive);
    }
    if (config.protocol === 'ws-echo') {
      ws.on('message', (data: RawData, isBinary: boolean) => {
        const buf = data as Buffer;
        c.messagesIn++;
        c.messagesOut++;
        c.bytesIn += buf.length;
        c.bytesOut += buf.length;
        send(ws, buf, isBinary);
      });
      return;
    }
    const named = roomFromUrl(req.url);
    let members = named === undefined ? undefined : join(ws, named);
    ws.on('message', (data: RawData, isBinary: boolean) => {
      const buf = data as Buffer;
      c.messagesIn++;
      c.bytesIn += buf.length;
      if (members !== undefined) {
        deliver(members, buf, isBinary);
        return;
      }
      const name = isBinary ? undefined : roomFromJoin(buf);
      if (name === undefined) c.protocolErrors++;
      else members = join(ws, name);
    });
  });

  // Ping every interval; a socket that has not answered the previous ping is terminated.
  const heartbeat =
    pingMs > 0
      ? setInterval(() => {
          for (const ws of wss.clients as Set<Heartbeat>) {
            if (ws.isAlive === false) {
              ws.terminate();
              continue;
            }
            ws.isAlive = false;
            ws.ping();
          }
        }, pingMs)
      : undefined;
  const queuedBytes = (): number => {
    let n = 0;
    for (const ws of wss.clients) n += ws.bufferedAmount;
    return n;
  };

  const secure = tlsPart(config, server);
  const port = await listen(server, config);
  return {
    port,
    limits: { maxMessageBytes: config.limits.maxMessageBytes, idleTimeoutMs: idle, backlog: config.limits.backlog, pingIntervalMs: pingMs, maxQueuedBytes: maxQueued },
    ...secure.applied,
    stats: () => {
      const extra: Record<string, number> = { websockets: wss.clients.size, queuedBytes: queuedBytes(), ...httpExtra(server), ...secure.handshakes?.extra() };
      if (config.protocol === 'ws-broadcast') extra['rooms'] = rooms.size;
      return c.snapshot(extra);
    },
    publish: (room, data, binary) => {
      const members = rooms.get(room);
      return members === undefined ? 0 : deliver(members, data, binary);
    },
    close: async (graceMs) => {
      clearInterval(heartbeat);
      draining = true;
      await afterPendingReads();
      secure.handshakes?.closeHandshaking();
      // Every TCP connection (upgraded or not) is counted by the HTTP layer until its 'close'.
      const closed = closeServer(server, graceMs, () => {
        const cut = c.connectionsNow;
        for (const ws of wss.clients) ws.terminate();
        server.closeAllConnections();
        return cut;
      });
      wss.close();
      server.closeIdleConnections();
      // ws sends the close frame after what is queued, waits for the peer's, then ends the socket.
      for (const ws of wss.clients) ws.close(1001, 'server shutting down');
      return closed;
    },
  };
}
