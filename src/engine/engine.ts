// The per-thread engine: one native Loop per Node environment, its shared buffers, the batch
// callback, and op queueing for writes made while a batch is being handled.
import { loadAddon, type NativeAddon } from './native.js';
import { ID_SPLIT, Op, ProtoCode, WsModeCode } from './records.js';
import type { ResolvedServerOptions } from './options.js';

/**
 * One dispatch worth of events. Record i is words [5i .. 5i+4] of `records`:
 * kind | listener << 16, fd, generation, a, b. Views into `arena` are valid only during the
 * callback that received the batch: the engine reuses that memory for the next batch, so copy
 * (`Uint8Array.prototype.slice`) anything you keep.
 */
export class Batch {
  count = 0;
  constructor(readonly records: Uint32Array, readonly arena: Uint8Array, readonly meta: Uint32Array) {}
  /** Record kind (see `Rec`). */
  kind(i: number): number {
    return this.records[i * 5]! & 0xffff;
  }
  /** Listener index the record belongs to. */
  listener(i: number): number {
    return this.records[i * 5]! >>> 16;
  }
  /** Connection id: fd + generation * 2^32. */
  id(i: number): number {
    return this.records[i * 5 + 2]! * ID_SPLIT + this.records[i * 5 + 1]!;
  }
  a(i: number): number {
    return this.records[i * 5 + 3]!;
  }
  b(i: number): number {
    return this.records[i * 5 + 4]!;
  }
  /** Bytes of a Data/Frame record: a view into the arena, valid only during this callback. */
  data(i: number): Uint8Array {
    const off = this.records[i * 5 + 3]!;
    return this.arena.subarray(off, off + this.records[i * 5 + 4]!);
  }
}

export type BatchHandler = (batch: Batch) => void;

/** Counters of the engine in this thread, as plain numbers. */
export type EngineCounters = Record<string, number>;

let instance: Engine | undefined;

/** The engine of this thread (main thread or worker): created on first use. */
export class Engine {
  readonly native: NativeAddon;
  readonly batch: Batch;
  private readonly counterView: BigUint64Array;
  private readonly counterNames: readonly string[];
  private readonly ops: Uint32Array;
  private readonly outArena: Uint8Array;
  private readonly opsCap: number;
  private opsCount = 0;
  private outOff = 0;
  private inBatch = false;
  private handler: BatchHandler | null = null;

  static get(): Engine {
    instance ??= new Engine();
    return instance;
  }

  private constructor() {
    this.native = loadAddon();
    const v = this.native.init((count) => this.onBatch(count));
    this.batch = new Batch(new Uint32Array(v.records), new Uint8Array(v.arena), new Uint32Array(v.meta));
    this.counterView = new BigUint64Array(v.counters);
    this.counterNames = v.counterNames;
    this.ops = new Uint32Array(v.ops);
    this.outArena = new Uint8Array(v.outArena);
    this.opsCap = v.opsCap;
  }

  /** Installs the handler that receives every batch (the servers' router installs itself). */
  setBatchHandler(h: BatchHandler | null): void {
    if (h !== null && typeof h !== 'function') throw new TypeError('batch handler must be a function or null');
    this.handler = h;
  }

  /** True while a batch callback runs (writes are queued as ops then). */
  get inCallback(): boolean {
    return this.inBatch;
  }

  private onBatch(count: number): void {
    this.batch.count = count;
    this.inBatch = true;
    this.opsCount = 0;
    this.outOff = 0;
    try {
      this.handler?.(this.batch);
    } finally {
      this.inBatch = false;
      this.ops[0] = this.opsCount;
      // The native side runs the queued ops as soon as this returns.
    }
  }

  /** Opens a native listener; returns its index and bound port. */
  listen(o: ResolvedServerOptions): { index: number; port: number } {
    const flags = (o.reusePort ? 1 : 0) | (o.ipv6Only ? 2 : 0) | (o.noDelay ? 4 : 0) | (o.allowHalfOpen ? 8 : 0);
    const [index, port] = this.native.listen(o.host, o.port, {
      proto: ProtoCode[o.protocol], ws: WsModeCode[o.websocket], backlog: o.backlog, flags,
      maxFrame: o.maxFrameBytes, readBudget: o.readBudgetBytes, highWater: o.highWaterMark, maxQueued: o.maxQueuedBytes,
      maxHeaderBytes: o.maxHeaderBytes, maxBody: o.maxBodyBytes, idleTimeoutMs: o.idleTimeoutMs, pingIntervalMs: o.pingIntervalMs,
      wsCloseTimeoutMs: o.wsCloseTimeoutMs, headerTimeoutMs: o.headerTimeoutMs, lingerMs: o.lingerMs,
      maxTopicNameBytes: o.maxTopicNameBytes, maxTopics: o.maxTopics, backend: o.backend === 'uring' ? 1 : 0,
      staticPath: o.staticPath, staticBody: o.staticBody, staticType: o.staticType,
      ...(o.tls ? { tls: { cert: o.tls.cert, key: o.tls.key, tickets: o.tls.tickets, handshakeTimeoutMs: o.tls.handshakeTimeoutMs, ...(o.tls.ticketKeys ? { ticketKeys: o.tls.ticketKeys } : {}) } } : {}),
    });
    return { index, port };
  }

  /**
   * Stops a listener: graceful drains its connections, otherwise (or on a second, forced call)
   * closes them at once. Ops queued in the current batch run first, so an answer written just
   * before the close goes out before the drain. Returns the connections closed at once.
   */
  closeListener(index: number, graceful: boolean): number {
    if (this.inBatch) this.flushOps();
    return Math.max(0, this.native.closeListener(index, graceful));
  }

  /** Executes queued ops now (used when the op buffer fills, or before a direct write). */
  flushOps(): void {
    if (this.opsCount === 0) return;
    this.ops[0] = this.opsCount;
    this.native.flush();
    this.opsCount = 0;
    this.outOff = 0;
  }

  private pushOp(op: number, id: number, off: number, len: number): void {
    if (this.opsCount >= this.opsCap) this.flushOps();
    const base = (this.opsCount + 1) * 5;
    const fd = id % ID_SPLIT;
    this.ops[base] = op;
    this.ops[base + 1] = fd;
    this.ops[base + 2] = (id - fd) / ID_SPLIT;
    this.ops[base + 3] = off;
    this.ops[base + 4] = len;
    this.opsCount++;
    this.ops[0] = this.opsCount;
  }

  /**
   * Writes bytes (copied before return). Outside a batch callback the write happens now and the
   * result is exact: false for a closed or stale id. Inside a callback it is queued and runs when
   * the callback returns (one boundary crossing for the whole batch); a stale id is then counted
   * in `staleIds` and the connection's Close record tells the rest.
   */
  write(id: number, data: Uint8Array, end = false): boolean {
    if (this.inBatch && data.length <= this.outArena.length) {
      if (this.outOff + data.length > this.outArena.length) this.flushOps();
      this.outArena.set(data, this.outOff);
      this.pushOp(end ? Op.WriteEnd : Op.Write, id, this.outOff, data.length);
      this.outOff += data.length;
      return true;
    }
    if (this.inBatch) this.flushOps();  // keep order with writes already queued
    const fd = id % ID_SPLIT;
    const gen = (id - fd) / ID_SPLIT;
    const r = this.native.write(fd, gen, data);
    if (r >= 0 && end) this.native.end(fd, gen);
    return r >= 0;
  }

  /**
   * Answers the oldest unanswered request of an HTTP connection. `headerLines` are complete
   * CRLF-terminated lines (validated by the caller); Content-Length, Date and Connection are added.
   */
  respond(id: number, status: number, headerLines: Uint8Array, body: Uint8Array): boolean {
    const len = 4 + headerLines.length + body.length;
    if (this.inBatch && len <= this.outArena.length) {
      if (this.outOff + len > this.outArena.length) this.flushOps();
      new DataView(this.outArena.buffer, this.outArena.byteOffset).setUint32(this.outOff, headerLines.length, true);
      this.outArena.set(headerLines, this.outOff + 4);
      this.outArena.set(body, this.outOff + 4 + headerLines.length);
      this.pushOp(Op.Respond | (status << 16), id, this.outOff, len);
      this.outOff += len;
      return true;
    }
    if (this.inBatch) this.flushOps();
    const fd = id % ID_SPLIT;
    return this.native.respond(fd, (id - fd) / ID_SPLIT, status, headerLines, body);
  }

  /** Sends one WebSocket message (opcode 1 text, 2 binary), queued when inside a callback. */
  wsSend(id: number, opcode: number, data: Uint8Array): boolean {
    if (this.inBatch && data.length <= this.outArena.length) {
      if (this.outOff + data.length > this.outArena.length) this.flushOps();
      this.outArena.set(data, this.outOff);
      this.pushOp(Op.WsSend | (opcode << 16), id, this.outOff, data.length);
      this.outOff += data.length;
      return true;
    }
    if (this.inBatch) this.flushOps();
    const fd = id % ID_SPLIT;
    return this.native.wsSend(fd, (id - fd) / ID_SPLIT, opcode, data);
  }

  /** Starts the WebSocket close handshake. */
  wsClose(id: number, code: number, reason: Uint8Array): boolean {
    if (this.inBatch) this.flushOps();
    const fd = id % ID_SPLIT;
    return this.native.wsClose(fd, (id - fd) / ID_SPLIT, code, reason);
  }

  /** Joins a topic; false for a closed id or a connection that is not a WebSocket. Throws when the listener's topic bounds refuse it. */
  subscribe(id: number, topic: string): boolean {
    const fd = id % ID_SPLIT;
    const r = this.native.subscribe(fd, (id - fd) / ID_SPLIT, topic);
    if (r === -1) throw new RangeError(`topic name of ${Buffer.byteLength(topic)} bytes is over maxTopicNameBytes`);
    if (r === -2) throw new RangeError('too many topics: maxTopics reached');
    return r === 1;
  }
  unsubscribe(id: number, topic: string): boolean {
    const fd = id % ID_SPLIT;
    return this.native.unsubscribe(fd, (id - fd) / ID_SPLIT, topic) === 1;
  }
  /** Publishes natively to every member; queued ops go first so per-connection order holds. */
  publish(topic: string, opcode: number, data: Uint8Array): number {
    if (this.inBatch) this.flushOps();
    return this.native.publish(topic, data, opcode);
  }

  /** Runs op now, or queues it when inside a batch callback. */
  private idOp(op: number, id: number, direct: (fd: number, gen: number) => boolean): boolean {
    if (this.inBatch) {
      this.pushOp(op, id, 0, 0);
      return true;
    }
    const fd = id % ID_SPLIT;
    return direct(fd, (id - fd) / ID_SPLIT);
  }

  end(id: number): boolean {
    return this.idOp(Op.End, id, (f, g) => this.native.end(f, g));
  }
  destroy(id: number): boolean {
    return this.idOp(Op.Close, id, (f, g) => this.native.close(f, g));
  }
  pause(id: number): boolean {
    return this.idOp(Op.Pause, id, (f, g) => this.native.pause(f, g));
  }
  resume(id: number): boolean {
    return this.idOp(Op.Resume, id, (f, g) => this.native.resume(f, g));
  }
  /** Unsent bytes queued for a connection, or -1 for a closed/stale id (flushes queued ops first). */
  queued(id: number): number {
    if (this.inBatch) this.flushOps();
    const fd = id % ID_SPLIT;
    return this.native.queued(fd, (id - fd) / ID_SPLIT);
  }

  /** Every counter of this thread's engine, read from the shared counter block. */
  counters(): EngineCounters {
    this.native.accountMemory();
    const out: EngineCounters = {};
    for (let i = 0; i < this.counterNames.length; i++) out[this.counterNames[i]!] = Number(this.counterView[i]);
    return out;
  }
}
