// The friendly API: a server per listener with per-connection handlers, built on the batch
// API. Connections are plain numeric ids (no JS object per connection); keep per-connection
// state in your own Map keyed by id if you need any.
import { Batch, Engine, type EngineCounters } from './engine.js';
import { resolveServerOptions, type ResolvedServerOptions, type ServerOptions } from './options.js';
import { CloseReason, Rec, type CloseReasonName } from './records.js';
import { HttpRequest, bodyBytes, encodeHeaders } from './http.js';

/** Per-connection callbacks. Byte views are valid only during the call: copy what you keep. */
export interface ServerHandlers {
  onConnection?(id: number): void;
  /** `raw` protocol: bytes as they arrived. */
  onData?(id: number, data: Uint8Array): void;
  /** `frame` protocol: one whole frame payload (without its 4-byte length). */
  onFrame?(id: number, payload: Uint8Array): void;
  /** The peer half-closed. Unless allowHalfOpen, the engine ends our side after queued bytes. */
  onEnd?(id: number): void;
  /** The connection is gone; its id is dead. `errno` is 0 unless an I/O error closed it. */
  onClose?(id: number, reason: CloseReasonName, errno: number): void;
  /** Bytes that had to be queued are all sent now. */
  onDrain?(id: number): void;
  /**
   * `http` protocol: one request. Answer with `respond(id, …)`; pipelined requests must be
   * answered in the order they came (answering inside the call does that). `req` is reused.
   */
  onRequest?(id: number, req: HttpRequest): void;
  /** `websocket: 'js'`: the upgrade is done; `req` is the upgrade request (reused object). */
  onWsOpen?(id: number, req: HttpRequest): void;
  /** `websocket: 'js'`: one whole message (fragments reassembled, text validated as UTF-8). */
  onWsMessage?(id: number, data: Uint8Array, isBinary: boolean): void;
}

export interface ServerAddress {
  host: string;
  port: number;
}

export interface CloseOptions {
  /** Close connections at once instead of draining them. Default false. */
  force?: boolean;
  /** After this many ms of graceful draining, close the rest at once (they are counted in `cut`). Default 5000. */
  timeoutMs?: number;
}

/** How a close() ended. */
export interface CloseResult {
  /** Connections still open when the drain had to close them at once (all of them with force). */
  cut: number;
}

const servers: (EpollServer | undefined)[] = [];
let requestView: HttpRequest | undefined;

function route(batch: Batch): void {
  const r = batch.records;
  const req = (requestView ??= new HttpRequest(batch.meta, batch.arena));
  for (let i = 0, w = 0; i < batch.count; i++, w += 5) {
    const word = r[w]!;
    const s = servers[word >>> 16];
    if (s === undefined) continue;
    const kind = word & 0xff;
    const id = r[w + 2]! * 4294967296 + r[w + 1]!;
    const h = s.handlers;
    switch (kind) {
      case Rec.Data:
      case Rec.Frame: {
        const off = r[w + 3]!;
        const view = batch.arena.subarray(off, off + r[w + 4]!);
        if (kind === Rec.Data) h.onData?.(id, view);
        else h.onFrame?.(id, view);
        break;
      }
      case Rec.Open:
        s.connections++;
        h.onConnection?.(id);
        break;
      case Rec.End:
        h.onEnd?.(id);
        break;
      case Rec.Close:
        s.connections--;
        h.onClose?.(id, CloseReason[r[w + 3]! as keyof typeof CloseReason] ?? 'error', r[w + 4]!);
        break;
      case Rec.Drain:
        h.onDrain?.(id);
        break;
      case Rec.Request:
        h.onRequest?.(id, req.at(r[w + 3]!));
        break;
      case Rec.WsOpen:
        h.onWsOpen?.(id, req.at(r[w + 3]!));
        break;
      case Rec.WsMessage: {
        const off = r[w + 3]!;
        h.onWsMessage?.(id, batch.arena.subarray(off, off + r[w + 4]!), ((word >>> 8) & 0xff) === 2);
        break;
      }
      case Rec.ListenerDrained:
        servers[word >>> 16] = undefined;
        s.drained();
        break;
    }
  }
}

/** A listener of the epoll engine with its handlers. */
export class EpollServer {
  readonly options: ResolvedServerOptions;
  readonly handlers: ServerHandlers;
  /** Open connections, as counted from open/close records (JS protocols only). */
  connections = 0;
  private readonly engine: Engine;
  private index = -1;
  private addr: ServerAddress | null = null;
  private closing: Promise<CloseResult> | null = null;
  private resolveDrained: (() => void) | null = null;

  constructor(options: ServerOptions = {}, handlers: ServerHandlers = {}) {
    this.options = resolveServerOptions(options);
    if (handlers === null || typeof handlers !== 'object') throw new TypeError('handlers must be an object');
    for (const [k, v] of Object.entries(handlers)) {
      if (typeof v !== 'function') throw new TypeError(`handler ${k} must be a function`);
    }
    this.handlers = handlers;
    this.engine = Engine.get();
  }

  /** Binds and starts accepting; returns the bound address. */
  listen(): ServerAddress {
    if (this.index >= 0) throw new Error('server is already listening');
    const { index, port } = this.engine.listen(this.options);
    this.index = index;
    servers[index] = this;
    this.engine.setBatchHandler(route);
    this.addr = { host: this.options.host, port };
    return this.addr;
  }

  /** Bound address, or null before listen(). */
  get address(): ServerAddress | null {
    return this.addr;
  }

  /** Sends bytes (copied). False when the connection is closed/ended (exact outside callbacks). */
  write(id: number, data: Uint8Array): boolean {
    if (!(data instanceof Uint8Array)) throw new TypeError('data must be a Uint8Array or Buffer');
    return this.engine.write(id, data);
  }

  /** Sends one length-prefixed frame. */
  writeFrame(id: number, payload: Uint8Array): boolean {
    if (!(payload instanceof Uint8Array)) throw new TypeError('payload must be a Uint8Array or Buffer');
    const buf = new Uint8Array(4 + payload.length);
    new DataView(buf.buffer).setUint32(0, payload.length);
    buf.set(payload, 4);
    return this.engine.write(id, buf);
  }

  /** Graceful close of one connection: optional last bytes, flush, FIN, close on the peer's FIN. */
  end(id: number, data?: Uint8Array): boolean {
    if (data !== undefined) {
      if (!(data instanceof Uint8Array)) throw new TypeError('data must be a Uint8Array or Buffer');
      return this.engine.write(id, data, true);
    }
    return this.engine.end(id);
  }

  /** Immediate close of one connection; queued bytes are dropped. */
  destroy(id: number): boolean {
    return this.engine.destroy(id);
  }

  /** Stops reading a connection (backpressure); `resume` starts again. */
  pause(id: number): boolean {
    return this.engine.pause(id);
  }
  resume(id: number): boolean {
    return this.engine.resume(id);
  }
  /** Unsent bytes queued for a connection, or -1 when it is closed. */
  queued(id: number): number {
    return this.engine.queued(id);
  }

  /**
   * Answers the oldest unanswered request of an HTTP connection. Content-Length, Date and (for
   * a last request) Connection: close are added; `headers` must not set them.
   */
  respond(id: number, status: number, body?: string | Uint8Array, headers?: Readonly<Record<string, string | number>>): boolean {
    if (!Number.isInteger(status) || status < 200 || status > 999) throw new RangeError(`status must be an integer 200..999 (a 1xx is not an answer), got ${status}`);
    return this.engine.respond(id, status, encodeHeaders(headers), bodyBytes(body));
  }

  /** Sends one WebSocket message: text for a string unless `binary`, binary for bytes unless `binary === false`. */
  wsSend(id: number, data: string | Uint8Array, binary?: boolean): boolean {
    const bin = binary ?? typeof data !== 'string';
    return this.engine.wsSend(id, bin ? 2 : 1, bodyBytes(data));
  }

  /**
   * Starts the close handshake with a code that may go on the wire (1000..1003, 1007..1014 or
   * 3000..4999; 1004..1006 and 1015 are reserved for reporting) and a reason of up to 123 bytes.
   */
  wsClose(id: number, code = 1000, reason = ''): boolean {
    const sendable = Number.isInteger(code) && ((code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999));
    if (!sendable) throw new RangeError(`code must be an integer in 1000..1003, 1007..1014 or 3000..4999, got ${code}`);
    const r = bodyBytes(reason);
    if (r.length > 123) throw new RangeError('reason must be at most 123 bytes');
    return this.engine.wsClose(id, code, r);
  }

  /** Adds a WebSocket connection to a topic (idempotent). */
  subscribe(id: number, topic: string): boolean {
    if (typeof topic !== 'string') throw new TypeError('topic must be a string');
    return this.engine.subscribe(id, topic);
  }
  unsubscribe(id: number, topic: string): boolean {
    if (typeof topic !== 'string') throw new TypeError('topic must be a string');
    return this.engine.unsubscribe(id, topic);
  }
  /** Sends one message to every member of a topic, natively; returns the number of recipients. */
  publish(topic: string, data: string | Uint8Array, binary?: boolean): number {
    if (typeof topic !== 'string') throw new TypeError('topic must be a string');
    const bin = binary ?? typeof data !== 'string';
    return this.engine.publish(topic, bin ? 2 : 1, bodyBytes(data));
  }
  /** Live members of a topic. */
  topicSize(topic: string): number {
    if (typeof topic !== 'string') throw new TypeError('topic must be a string');
    return this.engine.native.topicSize(topic);
  }

  /** Counters of this thread's engine (shared by every server in the thread). */
  counters(): EngineCounters {
    return this.engine.counters();
  }

  /** @internal called by the router when the listener's last connection is gone. */
  drained(): void {
    this.resolveDrained?.();
  }

  /**
   * Stops accepting and drains: each connection is answered what it already sent (requests
   * received are answered, the last with Connection: close; writes queued before this call go
   * first), WebSocket peers get a 1001 close frame and may answer with theirs, queued bytes are
   * flushed, then each connection ends. The promise resolves when the last one is gone; after
   * `timeoutMs` the rest are closed at once and counted in `cut`.
   */
  close(opts: CloseOptions = {}): Promise<CloseResult> {
    if (this.index < 0) return Promise.reject(new Error('server is not listening'));
    if (this.closing) return this.closing;
    const timeoutMs = opts.timeoutMs ?? 5000;
    if (!Number.isInteger(timeoutMs) || timeoutMs < 0) throw new RangeError(`timeoutMs must be a non-negative integer, got ${timeoutMs}`);
    const force = opts.force ?? false;
    let cut = 0;
    this.closing = new Promise<CloseResult>((resolve) => {
      const timer = setTimeout(() => {
        // The graceful path already closed the listener; closing it again forces the rest.
        cut += this.engine.closeListener(this.index, false);
      }, timeoutMs);
      timer.unref();
      this.resolveDrained = () => {
        clearTimeout(timer);
        resolve({ cut });
      };
    });
    cut += this.engine.closeListener(this.index, !force);
    return this.closing;
  }
}

/** Creates a server of the epoll engine; call `listen()` to start it. */
export function createServer(options: ServerOptions = {}, handlers: ServerHandlers = {}): EpollServer {
  return new EpollServer(options, handlers);
}
