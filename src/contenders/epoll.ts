// The project's own engine, twice per backend: `epoll` hands every message or request to a JS
// handler (the comparison that matters to a Node user), `epoll-native` runs the engine's native
// echo, static and broadcast paths with no JS per message (the floor); `uring` and
// `uring-native` are the same two on the engine's io_uring backend (one definition, the backend
// a parameter). The engine is a native addon, so it is imported inside probe() and start() only:
// the parent never loads it.

import type { EngineBackend, EngineCounters, EpollServer, ServerOptions } from '../engine/index.js';
import {
  HTTP_CONTENT_TYPE,
  HTTP_HELLO_BODY,
  HTTP_NOT_FOUND_BODY,
  isHelloRequest,
  measures,
  roomFromJoin,
  roomFromUrl,
} from '../wire/protocols.js';
import { assertIoUring } from '../system/io-uring.js';
import { readFileSync } from 'node:fs';
import type { AppliedTls, ChildConfig, ContenderDefinition, ContenderServer, EffectiveLimits, Protocol, ServerStats } from './contender-contract.js';

type EngineModule = typeof import('../engine/index.js');

let loading: Promise<EngineModule> | undefined;

/** Imports the engine and loads its addon once; rejects with the reason it cannot run here. */
function loadEngine(): Promise<EngineModule> {
  loading ??= import('../engine/index.js').then((engine) => {
    engine.loadAddon();
    return engine;
  });
  return loading;
}

/**
 * Loads the engine and checks that it can run `backend` here; rejects with the exact reason and
 * fix: first the machine's (ioUringStatus: liburing-dev at build time, the kernel, the sysctl, a
 * seccomp profile), then the addon's own ring setup.
 */
async function probeBackend(backend: EngineBackend): Promise<void> {
  const engine = await loadEngine();
  if (backend !== 'uring') return;
  assertIoUring();
  const s = engine.uringStatus();
  if (!s.ok) throw new Error(`the engine's io_uring backend cannot run here: ${s.reason ?? 'unknown'}; fix: ${s.fix ?? 'none known'}`);
}

/** What one worker's server counts in JS, on top of the engine's own counters. */
interface Tally {
  messagesIn: number;
  messagesOut: number;
  bytesIn: number;
  bytesOut: number;
  protocolErrors: number;
}

function tally(): Tally {
  return { messagesIn: 0, messagesOut: 0, bytesIn: 0, bytesOut: 0, protocolErrors: 0 };
}

/**
 * Turns engine counters and the protocol's own numbers into ServerStats. Connections come from
 * the engine (one server per worker process, so its per-thread counters are this server's).
 * Fields the protocol does not have are null; so are payload bytes passed as null because the
 * path cannot see them. Every engine counter goes into extra under "engine.", so wire bytes
 * and batch sizes are in the result too.
 */
function snapshot(protocol: Protocol, c: EngineCounters, s: { messagesIn: number; messagesOut: number; bytesIn: number | null; bytesOut: number | null; protocolErrors: number }, extra: Record<string, number> = {}): ServerStats {
  const m = measures(protocol);
  for (const [k, v] of Object.entries(c)) extra[`engine.${k}`] = v;
  return {
    connectionsNow: c['active'] ?? 0,
    connectionsTotal: c['accepted'] ?? 0,
    messagesIn: m.messages ? s.messagesIn : null,
    messagesOut: m.messages ? s.messagesOut : null,
    bytesIn: m.bytes ? s.bytesIn : null,
    bytesOut: m.bytes ? s.bytesOut : null,
    protocolErrors: s.protocolErrors,
    extra,
  };
}

/** The engine counter named k (every name is always present; 0 keeps the types honest). */
function n(c: EngineCounters, k: string): number {
  return c[k] ?? 0;
}

/**
 * Options every listener gets from the shared limits, and the limits it actually applies. The
 * limits table gives the contender limits the engine's own ranges, so only the message size is
 * cut, to what the engine's read arena holds.
 */
function baseOptions(engine: EngineModule, config: ChildConfig, messages: boolean, backend: EngineBackend): { options: ServerOptions; limits: EffectiveLimits; tls?: AppliedTls } {
  const maxFrameBytes = Math.min(config.limits.maxMessageBytes, engine.MAX_FRAME_LIMIT);
  const { backlog, idleTimeoutMs } = config.limits;
  // Pings exist only in WebSocket; the queue bound applies to every write path of the engine.
  const websocket = config.protocol === 'ws-echo' || config.protocol === 'ws-broadcast';
  const pingIntervalMs = websocket ? config.limits.pingIntervalMs : 0;
  const maxQueuedBytes = config.limits.maxQueuedBytes;
  return {
    options: {
      host: config.host,
      port: config.port,
      backlog,
      // Per-worker ports stay exclusive, so a port still held by a stale process fails loudly.
      reusePort: config.portMode === 'shared',
      noDelay: true,
      idleTimeoutMs,
      pingIntervalMs,
      maxQueuedBytes,
      maxFrameBytes,
      backend,
      ...(config.tls !== undefined
        ? {
            tls: {
              cert: readFileSync(config.tls.certFile, 'utf8'),
              key: readFileSync(config.tls.keyFile, 'utf8'),
              tickets: config.tls.tickets,
              handshakeTimeoutMs: config.tls.handshakeTimeoutMs,
              ...(config.tls.ticketKeyFile !== undefined ? { ticketKeys: readFileSync(config.tls.ticketKeyFile) } : {}),
            },
          }
        : {}),
    },
    ...(config.tls !== undefined
      ? {
          tls: {
            library: `the engine on Node's own ${engine.loadAddon().tlsLibrary} (memory BIOs)`,
            tickets: config.tls.tickets,
            handshakeTimeoutMs: config.tls.handshakeTimeoutMs,
            ...(config.tls.tickets ? { sharedTicketKey: config.tls.ticketKeyFile !== undefined } : {}),
          },
        }
      : {}),
    limits: {
      maxMessageBytes: messages ? maxFrameBytes : null,
      idleTimeoutMs,
      backlog,
      pingIntervalMs: websocket ? pingIntervalMs : null,
      maxQueuedBytes,
    },
  };
}

/** The engine's TLS counters, under the names node:tls's contender counts them by too. */
const TLS_COUNTERS = ['tlsHandshakes', 'tlsResumed', 'tlsHandshakeFailed', 'tlsHandshakeTimeouts', 'tlsPlainHttp'] as const;

function running(server: EpollServer, applied: { limits: EffectiveLimits; tls?: AppliedTls | undefined }, stats: () => ServerStats, publish?: ContenderServer['publish']): ContenderServer {
  const { limits, tls } = applied;
  const port = server.listen().port;
  const out: ContenderServer = {
    port,
    limits,
    // Over TLS the handshake counters also go into extra under the shared names.
    stats:
      tls === undefined
        ? stats
        : () => {
            const s = stats();
            for (const k of TLS_COUNTERS) s.extra[k] = s.extra[`engine.${k}`] ?? 0;
            return s;
          },
    // The engine drains natively (stop accepting, answer what was received, WebSocket 1001, flush,
    // close) and closes what is left at the bound; close() resolves with { cut }, the
    // connections the bound had to close.
    close: async (graceMs) => {
      const { cut } = await server.close({ timeoutMs: graceMs });
      return { cut };
    },
  };
  if (publish !== undefined) out.publish = publish;
  return tls === undefined ? out : { ...out, tls };
}

function byteLength(data: string | Uint8Array): number {
  return typeof data === 'string' ? Buffer.byteLength(data) : data.length;
}

// ---- epoll: JS handlers ----------------------------------------------------------------------

const TEXT_HEADERS = Object.freeze({ 'Content-Type': HTTP_CONTENT_TYPE });
const HELLO = Buffer.from(HTTP_HELLO_BODY);
const NOT_FOUND = Buffer.from(HTTP_NOT_FOUND_BODY);

/** The JS-handler contender on one backend of the engine. */
function jsContender(name: string, backend: EngineBackend, model: string): ContenderDefinition {
  return {
    name,
    description: `the c1m engine on ${model} (batched records) with a JS handler for every message or request`,
    speaks: () => true,
    speaksTls: () => true,
    sharedPort: () => true,
    countsPayloadBytes: () => true,
    joinByMessage: true,
    probe: () => probeBackend(backend),
    start: async (config) => startJs(await loadEngine(), config, backend),
  };
}

export const epollContender: ContenderDefinition = jsContender('epoll', 'epoll', 'epoll (edge-triggered readiness)');
export const uringContender: ContenderDefinition = jsContender('uring', 'uring', 'io_uring (multishot accept and receive into a provided-buffer ring, one submit per round, cooperative task running)');

function startJs(engine: EngineModule, config: ChildConfig, backend: EngineBackend): ContenderServer {
  const { protocol } = config;
  const t = tally();
  switch (protocol) {
    case 'tcp-echo': {
      const { options, limits, tls } = baseOptions(engine, config, false, backend);
      // Raw bytes are payload bytes, so the engine's byte counters are exactly the protocol's; over
      // TLS its bytesOut counts ciphertext, so the handler counts what it echoes.
      const server: EpollServer = engine.createServer(
        { ...options, protocol: 'raw' },
        {
          onData: (id, data) => {
            if (tls !== undefined) t.bytesOut += data.length;
            void server.write(id, data);
          },
        },
      );
      return running(server, { limits, tls }, () => {
        const c = server.counters();
        return snapshot(protocol, c, { ...t, bytesIn: n(c, 'bytesIn'), bytesOut: tls !== undefined ? t.bytesOut : n(c, 'bytesOut') });
      });
    }
    case 'frame-echo': {
      const { options, limits, tls } = baseOptions(engine, config, true, backend);
      const server: EpollServer = engine.createServer(
        { ...options, protocol: 'frame' },
        {
          onFrame: (id, payload) => {
            t.messagesIn++;
            t.messagesOut++;
            t.bytesIn += payload.length;
            t.bytesOut += payload.length;
            server.writeFrame(id, payload);
          },
        },
      );
      // An oversized header is the only thing that closes a frame connection for its protocol.
      return running(server, { limits, tls }, () => {
        const c = server.counters();
        return snapshot(protocol, c, { ...t, protocolErrors: n(c, 'closedProtocol') });
      });
    }
    case 'http-hello': {
      const { options, limits, tls } = baseOptions(engine, config, false, backend);
      const server: EpollServer = engine.createServer(
        { ...options, protocol: 'http' },
        {
          onRequest: (id, req) => {
            t.messagesIn++;
            t.messagesOut++;
            if (isHelloRequest(req.method, req.url)) server.respond(id, 200, HELLO, TEXT_HEADERS);
            else server.respond(id, 404, NOT_FOUND, TEXT_HEADERS);
          },
        },
      );
      return running(server, { limits, tls }, () => {
        const c = server.counters();
        return snapshot(protocol, c, { ...t, protocolErrors: n(c, 'httpErrors') });
      });
    }
    case 'ws-echo': {
      const { options, limits, tls } = baseOptions(engine, config, true, backend);
      const server: EpollServer = engine.createServer(
        { ...options, protocol: 'http', websocket: 'js' },
        {
          // A plain request on a WebSocket listener is 404, as with net and uws.
          onRequest: (id) => void server.respond(id, 404, NOT_FOUND, TEXT_HEADERS),
          onWsMessage: (id, data, isBinary) => {
            t.messagesIn++;
            t.messagesOut++;
            t.bytesIn += data.length;
            t.bytesOut += data.length;
            server.wsSend(id, data, isBinary);
          },
        },
      );
      return running(server, { limits, tls }, () => {
        const c = server.counters();
        return snapshot(protocol, c, { ...t, protocolErrors: n(c, 'wsProtocolErrors') + n(c, 'httpErrors') });
      });
    }
    case 'ws-broadcast':
      return startJsBroadcast(engine, config, t, backend);
  }
}

function startJsBroadcast(engine: EngineModule, config: ChildConfig, t: Tally, backend: EngineBackend): ContenderServer {
  const { options, limits, tls } = baseOptions(engine, config, true, backend);
  // The engine keeps topic membership natively; JS only remembers which room a connection is
  // in, to publish its messages there.
  const roomOf = new Map<number, string>();
  const join = (id: number, room: string): void => {
    roomOf.set(id, room);
    server.subscribe(id, room);
  };
  const deliver = (room: string, data: string | Uint8Array, binary: boolean): number => {
    // Native fan-out to every member, the sender included; the frame is built once.
    const recipients = server.publish(room, data, binary);
    t.messagesOut += recipients;
    t.bytesOut += recipients * byteLength(data);
    return recipients;
  };
  const server: EpollServer = engine.createServer(
    { ...options, protocol: 'http', websocket: 'js' },
    {
      onRequest: (id) => void server.respond(id, 404, NOT_FOUND, TEXT_HEADERS),
      onWsOpen: (id, req) => {
        const room = roomFromUrl(req.url);
        if (room !== undefined) join(id, room);
      },
      onWsMessage: (id, data, isBinary) => {
        t.messagesIn++;
        t.bytesIn += data.length;
        const room = roomOf.get(id);
        if (room !== undefined) {
          deliver(room, data, isBinary);
          return;
        }
        const named = isBinary ? undefined : roomFromJoin(data);
        if (named === undefined) t.protocolErrors++;
        else join(id, named);
      },
      onClose: (id) => void roomOf.delete(id),
    },
  );
  return running(
    server,
    { limits, tls },
    () => {
      const c = server.counters();
      return snapshot(config.protocol, c, { ...t, protocolErrors: t.protocolErrors + n(c, 'wsProtocolErrors') + n(c, 'httpErrors') }, { members: roomOf.size });
    },
    (room, data, binary) => deliver(room, data, binary),
  );
}

// ---- epoll-native: the engine's native paths -------------------------------------------------

/**
 * A path no request line can carry (the target ends at the first space), so the static
 * responder of a WebSocket listener answers every plain request 404, as net and uws do.
 */
const NO_STATIC_PATH = ' ';

const WIRE_BYTES_ONLY =
  'the native path counts wire bytes only (frame headers, WebSocket framing and unfinished messages included), ' +
  'so payload bytes are null; wire bytes are in extra["engine.bytesIn"] and extra["engine.bytesOut"]';

/** The native-path contender on one backend of the engine. */
function nativeContender(name: string, backend: EngineBackend, model: string): ContenderDefinition {
  return {
    name,
    description: `the c1m engine on ${model}, on its native paths (echo, frame echo, static HTTP, WebSocket echo and topics): no JS per message`,
    speaks: () => true,
    speaksTls: () => true,
    sharedPort: () => true,
    countsPayloadBytes: (protocol) => (protocol === 'tcp-echo' || protocol === 'http-hello' ? true : WIRE_BYTES_ONLY),
    // The native broadcast mode joins the room of the upgrade URL (?room=NAME) and nothing else.
    joinByMessage: false,
    probe: () => probeBackend(backend),
    start: async (config) => startNative(await loadEngine(), config, backend),
  };
}

export const epollNativeContender: ContenderDefinition = nativeContender('epoll-native', 'epoll', 'epoll');
export const uringNativeContender: ContenderDefinition = nativeContender('uring-native', 'uring', 'io_uring');

function startNative(engine: EngineModule, config: ChildConfig, backend: EngineBackend): ContenderServer {
  const { protocol } = config;
  const messages = protocol !== 'tcp-echo' && protocol !== 'http-hello';
  const { options, limits, tls } = baseOptions(engine, config, messages, backend);
  switch (protocol) {
    case 'tcp-echo': {
      const server = engine.createServer({ ...options, protocol: 'echo' });
      // Over TLS the engine's bytesOut counts ciphertext on the wire, not payload: not measured.
      return running(server, { limits, tls }, () => {
        const c = server.counters();
        return snapshot(protocol, c, { ...tally(), bytesIn: n(c, 'bytesIn'), bytesOut: tls !== undefined ? null : n(c, 'bytesOut') });
      });
    }
    case 'frame-echo': {
      const server = engine.createServer({ ...options, protocol: 'frame-echo' });
      // Every complete frame is written back as it is parsed, so frames out are frames in.
      return running(server, { limits, tls }, () => {
        const c = server.counters();
        const frames = n(c, 'framesIn');
        return snapshot(protocol, c, { messagesIn: frames, messagesOut: frames, bytesIn: null, bytesOut: null, protocolErrors: n(c, 'closedProtocol') });
      });
    }
    case 'http-hello': {
      const server = engine.createServer({
        ...options,
        protocol: 'http-static',
        staticPath: '/',
        staticBody: HTTP_HELLO_BODY,
        staticType: HTTP_CONTENT_TYPE,
      });
      return running(server, { limits, tls }, () => {
        const c = server.counters();
        return snapshot(protocol, c, { ...tally(), messagesIn: n(c, 'httpRequests'), messagesOut: n(c, 'httpResponses'), protocolErrors: n(c, 'httpErrors') });
      });
    }
    case 'ws-echo':
    case 'ws-broadcast': {
      const broadcast = protocol === 'ws-broadcast';
      const server = engine.createServer({ ...options, protocol: 'http-static', staticPath: NO_STATIC_PATH, websocket: broadcast ? 'broadcast' : 'echo' });
      const stats = (): ServerStats => {
        const c = server.counters();
        return snapshot(protocol, c, {
          messagesIn: n(c, 'wsMessagesIn'),
          // In broadcast mode the only messages sent are publish deliveries (control publishes included).
          messagesOut: n(c, broadcast ? 'deliveries' : 'wsMessagesOut'),
          bytesIn: null,
          bytesOut: null,
          protocolErrors: n(c, 'wsProtocolErrors') + n(c, 'httpErrors'),
        });
      };
      return running(server, { limits, tls }, stats, broadcast ? (room, data, binary) => server.publish(room, data, binary) : undefined);
    }
  }
}
