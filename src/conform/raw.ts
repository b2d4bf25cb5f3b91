// The conformance suite's hands: one plain TCP connection per case (node:net, through the wire's
// connectTcp and Inbox), bytes written exactly as a case spells them, and lenient readers of what
// came back: HTTP/1.1 responses parsed without trusting their framing, and WebSocket frames
// decoded with every bit kept (a strict client rejects what a conformance check must describe).
// Every wait is bounded and answers a boolean or a value: a server that never answers is a
// finding, not an exception.

import { createHash, randomBytes } from 'node:crypto';
import type net from 'node:net';
import { connectTcp, Inbox, type Target } from '../wire/clients/tcp.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** One raw connection of a case. */
export class Wire {
  readonly inbox: Inbox;

  private constructor(readonly socket: net.Socket) {
    this.inbox = new Inbox(socket);
  }

  static async open(target: Target, timeoutMs: number): Promise<Wire> {
    return new Wire(await connectTcp(target, timeoutMs));
  }

  get closed(): boolean {
    return this.inbox.closed;
  }

  /** Everything received so far. */
  bytes(): Buffer {
    return this.inbox.bytes();
  }

  /** Writes bytes in one write; false when the socket is already gone. */
  write(data: string | Uint8Array): Promise<boolean> {
    if (this.socket.destroyed || !this.socket.writable) return Promise.resolve(false);
    return new Promise((resolve) => this.socket.write(data, (err) => resolve(err == null)));
  }

  /**
   * Writes data in pieces of `piece` bytes, `gapMs` apart, so that each piece leaves in its own
   * segment (Nagle is off); stops early when the connection closes or `until` passes.
   * Returns how many bytes were written.
   */
  async trickle(data: Uint8Array, piece: number, gapMs: number, until = Number.POSITIVE_INFINITY): Promise<number> {
    let sent = 0;
    for (let off = 0; off < data.length && !this.closed && Date.now() < until; off += piece) {
      const end = Math.min(off + piece, data.length);
      if (!(await this.write(data.subarray(off, end)))) break;
      sent = end;
      if (end < data.length) await sleep(gapMs);
    }
    return sent;
  }

  /** True once done() holds; false when the connection closed first or timeoutMs passed. */
  waitFor(done: () => boolean, timeoutMs: number): Promise<boolean> {
    return this.inbox.until(done, timeoutMs, 'waiting').then(
      () => true,
      () => done(),
    );
  }

  /** True when the peer closed the connection within timeoutMs. */
  waitClosed(timeoutMs: number): Promise<boolean> {
    return this.inbox.untilClosed(timeoutMs, 'waiting for close').then(
      () => true,
      () => false,
    );
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** Runs f on a fresh connection to target, destroyed afterwards whatever f did. */
export async function withWire<T>(target: Target, waitMs: number, f: (w: Wire) => Promise<T>): Promise<T> {
  const w = await Wire.open(target, Math.max(1000, waitMs));
  try {
    return await f(w);
  } finally {
    w.destroy();
  }
}

// ---- HTTP/1.1 responses -------------------------------------------------------------------

export interface RawResponse {
  version: string;
  status: number;
  /** Lower-cased names; repeated fields joined with ", ". */
  headers: Record<string, string>;
  body: Buffer;
}

export interface ParsedResponses {
  responses: RawResponse[];
  /** Bytes after the last complete response. */
  rest: Buffer;
  /** Why parsing stopped before the end of the bytes, when it did. */
  error: string | null;
}

/**
 * Parses the responses in buf. `noBody(i)` says response i answers a HEAD (RFC 9110 9.3.2: no
 * content whatever its Content-Length says); 1xx, 204 and 304 never have content either
 * (RFC 9112 6.3). Otherwise the body is framed by chunked coding, by Content-Length, or by the
 * close of the connection (only when `closed`).
 */
export function parseResponses(buf: Buffer, noBody: (i: number) => boolean = () => false, closed = false): ParsedResponses {
  const responses: RawResponse[] = [];
  let off = 0;
  for (;;) {
    if (off >= buf.length) return { responses, rest: buf.subarray(off), error: null };
    const end = buf.indexOf('\r\n\r\n', off, 'latin1');
    if (end < 0) {
      const start = buf.toString('latin1', off, Math.min(buf.length, off + 8));
      const partial = 'HTTP/1.1 '.startsWith(start) || start.startsWith('HTTP/');
      return { responses, rest: buf.subarray(off), error: partial ? null : `bytes that are not a response: ${preview(buf.subarray(off))}` };
    }
    const lines = buf.toString('latin1', off, end).split('\r\n');
    const m = /^(HTTP\/\d\.\d) (\d{3})(?: .*)?$/.exec(lines[0] ?? '');
    if (m === null) return { responses, rest: buf.subarray(off), error: `bytes that are not a response: ${preview(buf.subarray(off))}` };
    const headers: Record<string, string> = {};
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      if (colon <= 0) continue;
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
    }
    const status = Number(m[2]);
    const bodyStart = end + 4;
    let bodyEnd: number;
    let body: Buffer;
    if (noBody(responses.length) || (status >= 100 && status < 200) || status === 204 || status === 304) {
      bodyEnd = bodyStart;
      body = Buffer.alloc(0);
    } else if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
      const dechunked = dechunk(buf, bodyStart);
      if (dechunked === null) return { responses, rest: buf.subarray(off), error: null };
      ({ end: bodyEnd, body } = dechunked);
    } else if (headers['content-length'] !== undefined && /^\d+$/.test(headers['content-length'])) {
      bodyEnd = bodyStart + Number(headers['content-length']);
      if (buf.length < bodyEnd) return { responses, rest: buf.subarray(off), error: null };
      body = buf.subarray(bodyStart, bodyEnd);
    } else {
      if (!closed) return { responses, rest: buf.subarray(off), error: null };
      bodyEnd = buf.length;
      body = buf.subarray(bodyStart);
    }
    responses.push({ version: m[1] as string, status, headers, body: Buffer.from(body) });
    off = bodyEnd;
  }
}

function dechunk(buf: Buffer, start: number): { end: number; body: Buffer } | null {
  const parts: Buffer[] = [];
  let off = start;
  for (;;) {
    const eol = buf.indexOf('\r\n', off, 'latin1');
    if (eol < 0) return null;
    const size = parseInt(buf.toString('latin1', off, eol).split(';')[0] ?? '', 16);
    if (!Number.isFinite(size)) return null;
    off = eol + 2;
    if (size === 0) {
      const trailerEnd = buf.indexOf('\r\n', off, 'latin1');
      return trailerEnd < 0 ? null : { end: trailerEnd + 2, body: Buffer.concat(parts) };
    }
    if (buf.length < off + size + 2) return null;
    parts.push(buf.subarray(off, off + size));
    off += size + 2;
  }
}

/** A short printable view of bytes for a verdict: "HTTP/1.1 200 OK\r\n…" with escapes. */
export function preview(bytes: Uint8Array, max = 40): string {
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.length, max)).toString('latin1');
  return JSON.stringify(text + (bytes.length > max ? '…' : ''));
}

/**
 * Waits until `count` responses have arrived whole on wire (or it closed, or timeoutMs passed)
 * and returns what was parsed by then.
 */
export async function readResponses(wire: Wire, count: number, timeoutMs: number, noBody: (i: number) => boolean = () => false): Promise<ParsedResponses> {
  const parse = (): ParsedResponses => parseResponses(wire.bytes(), noBody, wire.closed);
  await wire.waitFor(() => {
    const p = parse();
    return p.responses.length >= count || p.error !== null;
  }, timeoutMs);
  return parse();
}

/** "200", "200, 404", or "no answer" for verdict sentences. */
export function statuses(responses: readonly RawResponse[]): string {
  return responses.length === 0 ? 'no answer' : responses.map((r) => r.status).join(', ');
}

// ---- WebSocket (RFC 6455) -----------------------------------------------------------------

/** RFC 6455 1.3: the GUID the accept value is derived with. */
const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

export function wsAccept(key: string): string {
  return createHash('sha1').update(key + WS_GUID).digest('base64');
}

export const OP = { continuation: 0x0, text: 0x1, binary: 0x2, close: 0x8, ping: 0x9, pong: 0xa } as const;

export interface FrameSpec {
  opcode: number;
  payload?: Uint8Array | string;
  fin?: boolean;
  /** The three reserved bits, as a number 0-7 (RSV1 = 4). */
  rsv?: number;
  /** Client frames are masked (RFC 6455 5.1); false sends one unmasked. */
  mask?: boolean;
}

/** Encodes one frame, masked with a random key unless mask is false. */
export function encodeFrame(f: FrameSpec): Buffer {
  const payload = typeof f.payload === 'string' ? Buffer.from(f.payload, 'utf8') : Buffer.from(f.payload ?? new Uint8Array(0));
  const mask = f.mask ?? true;
  const len = payload.length;
  const lenBytes = len < 126 ? 0 : len < 65536 ? 2 : 8;
  const head = Buffer.alloc(2 + lenBytes + (mask ? 4 : 0));
  head[0] = ((f.fin ?? true) ? 0x80 : 0) | (((f.rsv ?? 0) & 7) << 4) | (f.opcode & 0x0f);
  head[1] = (mask ? 0x80 : 0) | (lenBytes === 0 ? len : lenBytes === 2 ? 126 : 127);
  if (lenBytes === 2) head.writeUInt16BE(len, 2);
  if (lenBytes === 8) head.writeBigUInt64BE(BigInt(len), 2);
  if (!mask) return Buffer.concat([head, payload]);
  const key = randomBytes(4);
  key.copy(head, 2 + lenBytes);
  const body = Buffer.allocUnsafe(len);
  for (let i = 0; i < len; i++) body[i] = (payload[i] as number) ^ (key[i & 3] as number);
  return Buffer.concat([head, body]);
}

/** A close frame's payload: the code (2 bytes) and the reason. */
export function closePayload(code: number, reason: Uint8Array | string = ''): Buffer {
  const r = typeof reason === 'string' ? Buffer.from(reason, 'utf8') : Buffer.from(reason);
  const out = Buffer.alloc(2 + r.length);
  out.writeUInt16BE(code, 0);
  r.copy(out, 2);
  return out;
}

export interface Frame {
  fin: boolean;
  rsv: number;
  opcode: number;
  masked: boolean;
  payload: Buffer;
}

/** Decodes every complete frame in buf (unmasking masked ones); `rest` is an unfinished frame. */
export function decodeFrames(buf: Buffer): { frames: Frame[]; rest: number } {
  const frames: Frame[] = [];
  let off = 0;
  while (buf.length - off >= 2) {
    const b0 = buf[off] as number;
    const b1 = buf[off + 1] as number;
    let len = b1 & 0x7f;
    let p = off + 2;
    if (len === 126) {
      if (buf.length < p + 2) break;
      len = buf.readUInt16BE(p);
      p += 2;
    } else if (len === 127) {
      if (buf.length < p + 8) break;
      len = Number(buf.readBigUInt64BE(p));
      p += 8;
    }
    const masked = (b1 & 0x80) !== 0;
    const key = masked ? buf.subarray(p, p + 4) : null;
    if (masked) p += 4;
    if (buf.length < p + len) break;
    const payload = Buffer.from(buf.subarray(p, p + len));
    if (key !== null) for (let i = 0; i < len; i++) payload[i] = (payload[i] as number) ^ (key[i & 3] as number);
    frames.push({ fin: (b0 & 0x80) !== 0, rsv: (b0 >> 4) & 7, opcode: b0 & 0x0f, masked, payload });
    off = p + len;
  }
  return { frames, rest: buf.length - off };
}

/** "close 1002", "close without a code", "text (5 bytes)", for verdict sentences. */
export function describeFrame(f: Frame): string {
  if (f.opcode === OP.close) return f.payload.length >= 2 ? `a close frame with code ${f.payload.readUInt16BE(0)}` : 'a close frame without a code';
  const name = ['continuation', 'text', 'binary', 'op 3', 'op 4', 'op 5', 'op 6', 'op 7', 'close', 'ping', 'pong'][f.opcode] ?? `op ${f.opcode}`;
  return `a ${name} frame (${f.payload.length} bytes${f.fin ? '' : ', not final'})`;
}

/** The opening handshake request (RFC 6455 4.1), with any field replaced or removed (null). */
export function upgradeRequest(target: Target, path: string, o: { key?: string; method?: string; fields?: Record<string, string | null> } = {}): string {
  const fields: Record<string, string | null> = {
    Host: `${target.host}:${target.port}`,
    Upgrade: 'websocket',
    Connection: 'Upgrade',
    'Sec-WebSocket-Key': o.key ?? randomBytes(16).toString('base64'),
    'Sec-WebSocket-Version': '13',
    ...o.fields,
  };
  const lines = Object.entries(fields).filter((e): e is [string, string] => e[1] !== null).map(([k, v]) => `${k}: ${v}\r\n`);
  return `${o.method ?? 'GET'} ${path} HTTP/1.1\r\n${lines.join('')}\r\n`;
}

/** A WebSocket connection after its handshake: frames are read from `start` on. */
export class WsWire {
  constructor(
    readonly wire: Wire,
    readonly start: number,
  ) {}

  frames(): Frame[] {
    return decodeFrames(this.wire.bytes().subarray(this.start)).frames;
  }

  send(f: FrameSpec | readonly FrameSpec[]): Promise<boolean> {
    const list = Array.isArray(f) ? (f as readonly FrameSpec[]) : [f as FrameSpec];
    return this.wire.write(Buffer.concat(list.map(encodeFrame)));
  }

  /** The frames once done(frames) holds, the connection closed, or timeoutMs passed. */
  async until(done: (frames: Frame[]) => boolean, timeoutMs: number): Promise<Frame[]> {
    await this.wire.waitFor(() => done(this.frames()), timeoutMs);
    return this.frames();
  }
}

export interface Handshake {
  response: RawResponse | null;
  /** The connection, when the server answered 101. */
  ws: WsWire | null;
  /** What went wrong in words, when response is null. */
  problem: string | null;
}

/**
 * Sends request (plus any bytes glued after it, in the same write) and reads the answer's head.
 * A 101 gives a WsWire whose frames start right after the head.
 */
export async function handshake(wire: Wire, request: string, timeoutMs: number, glued?: Uint8Array): Promise<Handshake> {
  await wire.write(glued === undefined ? request : Buffer.concat([Buffer.from(request, 'latin1'), glued]));
  const headEnd = (): number => wire.bytes().indexOf('\r\n\r\n', 0, 'latin1');
  await wire.waitFor(() => headEnd() >= 0, timeoutMs);
  const end = headEnd();
  if (end < 0) {
    const got = wire.bytes();
    const how = wire.closed ? 'closed the connection' : `sent nothing complete within ${timeoutMs} ms`;
    return { response: null, ws: null, problem: got.length === 0 ? `${how} without an answer` : `${how} after ${preview(got)}` };
  }
  const [response] = parseResponses(wire.bytes().subarray(0, end + 4), () => true).responses;
  if (response === undefined) return { response: null, ws: null, problem: `answered ${preview(wire.bytes())}` };
  return { response, ws: response.status === 101 ? new WsWire(wire, end + 4) : null, problem: null };
}
