// Hand-made WebSocket pieces for the engine tests: an upgrade done on a raw TCP socket and
// frames encoded and decoded byte by byte, so tests can send what no real client would
// (unmasked frames, stray continuations, bad UTF-8) and see exactly what the server answers.
import type net from 'node:net';
import { createHash, randomBytes } from 'node:crypto';
import { connect } from './net.js';
import { parseResponses, withTimeout, type ParsedResponse } from './http.js';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** Sec-WebSocket-Accept for a key (RFC 6455 4.2.2). */
export function acceptFor(key: string): string {
  return createHash('sha1').update(key + GUID).digest('base64');
}

export const Opcode = { Continuation: 0, Text: 1, Binary: 2, Close: 8, Ping: 9, Pong: 10 } as const;

export interface FrameOptions {
  fin?: boolean;
  /** Masked unless false (clients must mask; tests break that rule on purpose). */
  mask?: boolean;
  rsv?: number;
}

/** Encodes one frame as a client would send it. */
export function encodeFrame(opcode: number, payload: Uint8Array = Buffer.alloc(0), o: FrameOptions = {}): Buffer {
  const fin = o.fin ?? true;
  const masked = o.mask ?? true;
  const n = payload.length;
  const ext = n <= 125 ? 0 : n <= 0xffff ? 2 : 8;
  const head = Buffer.alloc(2 + ext + (masked ? 4 : 0));
  head[0] = (fin ? 0x80 : 0) | ((o.rsv ?? 0) << 4) | (opcode & 0x0f);
  head[1] = (masked ? 0x80 : 0) | (ext === 0 ? n : ext === 2 ? 126 : 127);
  if (ext === 2) head.writeUInt16BE(n, 2);
  if (ext === 8) head.writeBigUInt64BE(BigInt(n), 2);
  const body = Buffer.from(payload);
  if (masked) {
    const key = randomBytes(4);
    key.copy(head, 2 + ext);
    for (let i = 0; i < n; i++) body[i]! ^= key[i & 3]!;
  }
  return Buffer.concat([head, body]);
}

/** A close frame payload: 2-byte code and a UTF-8 reason. */
export function closePayload(code: number, reason = ''): Buffer {
  const b = Buffer.alloc(2 + Buffer.byteLength(reason));
  b.writeUInt16BE(code);
  b.write(reason, 2);
  return b;
}

export interface Frame {
  fin: boolean;
  rsv: number;
  opcode: number;
  masked: boolean;
  payload: Buffer;
}

/** Decodes every complete frame at the start of buf. */
export function decodeFrames(buf: Buffer): { frames: Frame[]; rest: Buffer } {
  const frames: Frame[] = [];
  let off = 0;
  for (;;) {
    if (buf.length - off < 2) break;
    const b0 = buf[off]!, b1 = buf[off + 1]!;
    const masked = (b1 & 0x80) !== 0;
    let len = b1 & 0x7f;
    let h = 2;
    if (len === 126) {
      if (buf.length - off < 4) break;
      len = buf.readUInt16BE(off + 2);
      h = 4;
    } else if (len === 127) {
      if (buf.length - off < 10) break;
      len = Number(buf.readBigUInt64BE(off + 2));
      h = 10;
    }
    const maskAt = off + h;
    if (masked) h += 4;
    if (buf.length - off < h + len) break;
    const payload = Buffer.from(buf.subarray(off + h, off + h + len));
    if (masked) for (let i = 0; i < len; i++) payload[i]! ^= buf[maskAt + (i & 3)]!;
    frames.push({ fin: (b0 & 0x80) !== 0, rsv: (b0 >> 4) & 7, opcode: b0 & 0x0f, masked, payload });
    off += h + len;
  }
  return { frames, rest: buf.subarray(off) };
}

/** The upgrade request a browser would send, with overridable headers (null removes one). */
export function upgradeRequest(path = '/', key = randomBytes(16).toString('base64'), headers: Record<string, string | null> = {}, method = 'GET', version = '1.1'): Buffer {
  const h: Record<string, string | null> = {
    Host: 'test', Upgrade: 'websocket', Connection: 'Upgrade', 'Sec-WebSocket-Key': key, 'Sec-WebSocket-Version': '13', ...headers,
  };
  let s = `${method} ${path} HTTP/${version}\r\n`;
  for (const [k, v] of Object.entries(h)) if (v !== null) s += `${k}: ${v}\r\n`;
  return Buffer.from(`${s}\r\n`, 'latin1');
}

/** A raw TCP socket that did the WebSocket upgrade by hand and now reads server frames. */
export class RawWs {
  readonly frames: Frame[] = [];
  closed = false;
  private buf: Buffer = Buffer.alloc(0);
  private waiters: (() => void)[] = [];

  private constructor(readonly socket: net.Socket, readonly upgrade: ParsedResponse, rest: Buffer) {
    socket.on('data', (d: Buffer) => this.feed(d));
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => {
      // A reset after the server's close frame is an acceptable way for it to end; 'close' follows.
    });
    if (rest.length > 0) this.feed(rest);
  }

  /** Connects, upgrades and checks the 101 answer (status, headers, accept key). */
  static async open(port: number, path = '/'): Promise<RawWs> {
    const key = randomBytes(16).toString('base64');
    const { socket, response, rest } = await rawHandshake(port, upgradeRequest(path, key));
    if (response.status !== 101) {
      socket.destroy();
      throw new Error(`upgrade answered ${response.statusLine}: ${response.body.toString()}`);
    }
    const accept = response.headers.get('sec-websocket-accept');
    if (accept?.[0] !== acceptFor(key)) {
      socket.destroy();
      throw new Error(`Sec-WebSocket-Accept ${String(accept)} is not ${acceptFor(key)}`);
    }
    return new RawWs(socket, response, rest);
  }

  private feed(d: Buffer): void {
    this.buf = Buffer.concat([this.buf, d]);
    const { frames, rest } = decodeFrames(this.buf);
    this.frames.push(...frames);
    this.buf = rest;
    this.wake();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  send(frame: Buffer): void {
    this.socket.write(frame);
  }

  /** Waits until a frame of this opcode arrived; returns the first such frame. */
  async waitFrame(opcode: number, ms = 5000): Promise<Frame> {
    await withTimeout(new Promise<void>((resolve, reject) => {
      const check = (): void => {
        if (this.frames.some((f) => f.opcode === opcode)) resolve();
        else if (this.closed) reject(new Error(`closed before a frame with opcode ${opcode} arrived`));
        else this.waiters.push(check);
      };
      check();
    }), ms, `a frame with opcode ${opcode}`);
    return this.frames.find((f) => f.opcode === opcode)!;
  }

  /** Waits until the server closed the TCP connection. */
  waitClosed(ms = 5000): Promise<void> {
    return withTimeout(new Promise<void>((resolve) => {
      const check = (): void => {
        if (this.closed) resolve();
        else this.waiters.push(check);
      };
      check();
    }), ms, 'the server to close the TCP connection');
  }

  /** The server's close frame as [code, reason]; fails if it sent none. */
  async closeFrame(ms = 5000): Promise<[number, string]> {
    const f = await this.waitFrame(Opcode.Close, ms);
    if (f.payload.length < 2) return [1005, ''];
    return [f.payload.readUInt16BE(0), f.payload.subarray(2).toString()];
  }
}

/** Sends an upgrade request and resolves with the parsed answer and any bytes after it. */
export async function rawHandshake(port: number, req: Buffer): Promise<{ socket: net.Socket; response: ParsedResponse; rest: Buffer; closed: Promise<void> }> {
  const socket = await connect(port);
  const closed = new Promise<void>((r) => socket.once('close', () => r()));
  socket.on('error', () => {
    // Errors after a refused upgrade show up as 'close'.
  });
  let buf = Buffer.alloc(0);
  const got = new Promise<{ response: ParsedResponse; rest: Buffer }>((resolve, reject) => {
    const onData = (d: Buffer): void => {
      buf = Buffer.concat([buf, d]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      // A 101 has no body and frames may follow it at once; any other answer has a Content-Length.
      if (/^HTTP\/1\.1 101 /.test(buf.toString('latin1', 0, 13))) {
        const { responses } = parseResponses(buf.subarray(0, end + 4));
        socket.off('data', onData);
        resolve({ response: responses[0]!, rest: buf.subarray(end + 4) });
        return;
      }
      try {
        const { responses, rest } = parseResponses(buf);
        if (responses.length > 0) {
          socket.off('data', onData);
          resolve({ response: responses[0]!, rest });
        }
      } catch (e) {
        reject(e as Error);
      }
    };
    socket.on('data', onData);
    socket.once('close', () => reject(new Error(`closed before an answer to the upgrade (got ${JSON.stringify(buf.toString('latin1'))})`)));
  });
  socket.write(req);
  const { response, rest } = await withTimeout(got, 5000, 'the answer to an upgrade request');
  return { socket, response, rest, closed };
}

/** A valid UTF-8 string of exactly n bytes, with 1- to 4-byte characters. */
export function text(n: number): string {
  let s = '';
  let bytes = 0;
  while (bytes + 10 <= n) {
    s += 'aé€😀';
    bytes += 10;
  }
  return s + 'x'.repeat(n - bytes);
}
