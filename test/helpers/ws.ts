// Hand-made WebSocket pieces for the engine tests: an upgrade done on a raw TCP socket and
// frames encoded and decoded byte by byte, so tests can send what no real client would
// (unmasked frames, stray continuations, bad UTF-8) and see exactly what the server answers.
// The frame codec is the conformance suite's (src/conform/raw.ts).
import type net from 'node:net';
import { randomBytes } from 'node:crypto';
import { closePayload as rawClosePayload, decodeFrames as decodeRawFrames, encodeFrame as encodeRawFrame, wsAccept, type Frame } from '../../src/conform/raw.js';
import { connect } from './net.js';
import { parseResponses, withTimeout, type ParsedResponse } from './http.js';

/** Sec-WebSocket-Accept for a key (RFC 6455 4.2.2). */
export const acceptFor = wsAccept;

export const Opcode = { Continuation: 0, Text: 1, Binary: 2, Close: 8, Ping: 9, Pong: 10 } as const;

export interface FrameOptions {
  fin?: boolean;
  /** Masked unless false (clients must mask; tests break that rule on purpose). */
  mask?: boolean;
  rsv?: number;
}

/** Encodes one frame as a client would send it (the conformance suite's encoder). */
export function encodeFrame(opcode: number, payload: Uint8Array = Buffer.alloc(0), o: FrameOptions = {}): Buffer {
  return encodeRawFrame({ opcode, payload, ...(o.fin !== undefined ? { fin: o.fin } : {}), ...(o.mask !== undefined ? { mask: o.mask } : {}), ...(o.rsv !== undefined ? { rsv: o.rsv } : {}) });
}

/** A close frame payload: 2-byte code and a UTF-8 reason. */
export const closePayload = (code: number, reason = ''): Buffer => rawClosePayload(code, reason);

export type { Frame };

/** Decodes every complete frame at the start of buf. */
export function decodeFrames(buf: Buffer): { frames: Frame[]; rest: Buffer } {
  const { frames, rest } = decodeRawFrames(buf);
  return { frames, rest: buf.subarray(buf.length - rest) };
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
