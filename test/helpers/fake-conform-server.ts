// A small http-hello + WebSocket echo server on node:net for the conformance tests: strict by
// default (it does what every case of src/conform/ asks), and lax in exactly the ways named by its
// faults, one fault per deviation a case must be able to see. Test code only: it proves each case
// can fail and can pass, it is no contender.

import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { encodeFrame, OP, wsAccept } from '../../src/conform/raw.js';

export const FAULTS = [
  // HTTP/1.1
  'split', // a head that does not arrive in one read gets 400
  'pipeline-one', // answers the first request of a read and drops the rest
  'bad-drops-good', // a malformed request anywhere in a read: only 400, the good ones before it dropped
  'lax-colon', // whitespace before a colon accepted
  'no-host-ok',
  'two-hosts-ok',
  'no-head-limit',
  'no-count-limit',
  'no-413', // waits for any body, however large
  'no-505', // 400 for a major version it does not speak
  'version-case-ok', // "http/1.1" accepted
  'cl-te-keepalive', // Transfer-Encoding ignored, Content-Length used, connection kept
  'two-cl-first', // the first of two Content-Lengths used
  'head-body', // HEAD answered with the body
  '304-body', // 304 answered with the body
  'ignore-close', // Connection: close ignored
  'http10-keepalive', // HTTP/1.0 connections kept open
  'no-100', // Expect: 100-continue ignored (waits for the body)
  'no-header-timeout',
  // WebSocket
  'ws-wrong-accept',
  'ws-any-version',
  'ws-any-key',
  'ws-no-upgrade-token-ok',
  'ws-post-ok',
  'ws-drop-glued', // bytes after the upgrade request in the same read are dropped
  'ws-mask-out', // the server masks its frames
  'ws-no-64bit', // a 64-bit length fails the connection
  'ws-no-ping-in-fragments', // pings inside a fragmented message are not answered
  'ws-pong-truncated',
  'ws-close-on-pong', // an unsolicited pong fails the connection
  'ws-accept-unmasked',
  'ws-no-control-limit',
  'ws-fragmented-control-ok',
  'ws-ignore-rsv',
  'ws-bare-close', // every protocol error: the socket is destroyed without a close frame
  'ws-no-close-reply', // a close frame is answered by destroying the socket
  'ws-echo-any-code', // any close code is echoed as valid
  'ws-no-utf8-check',
  'ws-utf8-per-fragment', // UTF-8 checked fragment by fragment
  'ws-no-size-limit',
] as const;
export type Fault = (typeof FAULTS)[number];

export const FAKE_MAX_MESSAGE_BYTES = 100_000;
const MAX_HEAD = 32 * 1024;
const MAX_FIELDS = 100;
const MAX_BODY = 1 << 20;
const HEADER_TIMEOUT_MS = 300;
const HELLO = 'Hello, World!';
const REASONS: Record<number, string> = { 100: 'Continue', 101: 'Switching Protocols', 200: 'OK', 304: 'Not Modified', 400: 'Bad Request', 404: 'Not Found', 408: 'Request Timeout', 413: 'Content Too Large', 426: 'Upgrade Required', 431: 'Request Header Fields Too Large', 501: 'Not Implemented', 505: 'HTTP Version Not Supported' };

export interface FakeServer {
  port: number;
  close(): Promise<void>;
}

export async function startFakeServer(faults: readonly Fault[] = []): Promise<FakeServer> {
  const f = new Set<Fault>(faults);
  const sockets = new Set<Socket>();
  const server: Server = createServer({ noDelay: true }, (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    new Conn(socket, f);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
function validUtf8(b: Buffer): boolean {
  try {
    utf8.decode(b);
    return true;
  } catch {
    return false;
  }
}

class Conn {
  #buf = Buffer.alloc(0);
  #done = false;
  #ws = false;
  #expectSent = false;
  #headTimer: NodeJS.Timeout | null = null;
  // WebSocket: the message being reassembled.
  #frag: { opcode: number; parts: Buffer[]; size: number } | null = null;

  constructor(
    readonly socket: Socket,
    readonly f: ReadonlySet<Fault>,
  ) {
    socket.on('data', (chunk: Buffer) => this.#data(chunk));
    socket.on('close', () => this.#clearTimer());
  }

  #clearTimer(): void {
    if (this.#headTimer !== null) clearTimeout(this.#headTimer);
    this.#headTimer = null;
  }

  #data(chunk: Buffer): void {
    if (this.#done) return;
    this.#buf = Buffer.concat([this.#buf, chunk]);
    if (this.#ws) this.#frames();
    else this.#http(chunk);
  }

  // ---- HTTP ----

  #reply(status: number, o: { close?: boolean; body?: string; fields?: string } = {}): void {
    const body = o.body ?? '';
    const close = o.close ?? true;
    this.socket.write(`HTTP/1.1 ${status} ${REASONS[status] ?? 'X'}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${o.fields ?? ''}${close ? 'Connection: close\r\n' : ''}\r\n${body}`);
    if (close) this.#end();
  }

  #end(): void {
    this.#done = true;
    this.#clearTimer();
    this.socket.end();
  }

  #http(chunk: Buffer): void {
    if (this.f.has('split') && !chunk.includes('\r\n\r\n')) return this.#reply(400);
    if (this.f.has('bad-drops-good') && /\r\n[^:\r\n\s]+\s+:/.test(this.#buf.toString('latin1'))) return this.#reply(400);
    while (!this.#done && !this.#ws && this.#buf.length > 0) {
      if (!this.#request()) return;
      if (this.f.has('pipeline-one')) {
        this.#buf = Buffer.alloc(0);
        return;
      }
    }
  }

  /** Handles one request at the start of the buffer; false when more bytes are needed. */
  #request(): boolean {
    const end = this.#buf.indexOf('\r\n\r\n');
    if (end < 0) {
      if (this.#buf.length > MAX_HEAD && !this.f.has('no-head-limit')) {
        this.#reply(431);
        return false;
      }
      if (this.#headTimer === null && !this.f.has('no-header-timeout')) this.#headTimer = setTimeout(() => this.#reply(408), HEADER_TIMEOUT_MS);
      return false;
    }
    this.#clearTimer();
    if (end > MAX_HEAD && !this.f.has('no-head-limit')) return (this.#reply(431), false);
    const lines = this.#buf.toString('latin1', 0, end).split('\r\n');
    const m = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+) (\S+) ([A-Za-z]+)\/(\d)\.(\d)$/.exec(lines[0] ?? '');
    if (m === null) return (this.#reply(400), false);
    const [, method, path, name, major, minor] = m as unknown as [string, string, string, string, string, string];
    if (name !== 'HTTP' && !(this.f.has('version-case-ok') && name.toUpperCase() === 'HTTP')) return (this.#reply(400), false);
    if (major !== '1') return (this.#reply(this.f.has('no-505') ? 400 : 505), false);
    const fields: Array<[string, string]> = [];
    for (const line of lines.slice(1)) {
      if (/^[^:\s]+\s+:/.test(line) && !this.f.has('lax-colon')) return (this.#reply(400), false);
      const colon = line.indexOf(':');
      if (colon <= 0) return (this.#reply(400), false);
      fields.push([line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim()]);
    }
    if (fields.length > MAX_FIELDS && !this.f.has('no-count-limit')) return (this.#reply(431), false);
    const all = (n: string): string[] => fields.filter(([k]) => k === n).map(([, v]) => v);
    const one = (n: string): string | undefined => all(n)[0];
    const hosts = all('host').length;
    if (minor === '1' && hosts === 0 && !this.f.has('no-host-ok')) return (this.#reply(400), false);
    if (hosts > 1 && !this.f.has('two-hosts-ok')) return (this.#reply(400), false);
    if (one('transfer-encoding') !== undefined && !this.f.has('cl-te-keepalive')) return (this.#reply(501), false);
    const cls = all('content-length');
    if (cls.some((v) => !/^\d+$/.test(v))) return (this.#reply(400), false);
    if (new Set(cls).size > 1 && !this.f.has('two-cl-first')) return (this.#reply(400), false);
    const cl = cls.length > 0 ? Number(cls[0]) : 0;
    if (cl > MAX_BODY && !this.f.has('no-413')) return (this.#reply(413), false);

    if (/websocket/i.test(one('upgrade') ?? '') && this.#upgrade(method, fields, end)) return false;

    if (cl > 0 && /100-continue/i.test(one('expect') ?? '') && !this.#expectSent && !this.f.has('no-100') && this.#buf.length < end + 4 + cl) {
      this.#expectSent = true;
      this.socket.write('HTTP/1.1 100 Continue\r\n\r\n');
    }
    if (this.#buf.length < end + 4 + cl) return false;
    this.#buf = this.#buf.subarray(end + 4 + cl);
    this.#expectSent = false;

    const connection = (one('connection') ?? '').toLowerCase();
    let keep = minor === '1' ? !/\bclose\b/.test(connection) : /\bkeep-alive\b/.test(connection);
    if (this.f.has('ignore-close') && minor === '1') keep = true;
    if (this.f.has('http10-keepalive') && minor === '0') keep = true;
    const hello = (method === 'GET' || method === 'HEAD') && path === '/';
    const fieldsOut = `Content-Type: text/plain\r\nDate: ${new Date().toUTCString()}\r\n`;
    if (hello && method === 'GET' && one('if-none-match') === '*') {
      this.socket.write(`HTTP/1.1 304 Not Modified\r\n${fieldsOut}${keep ? '' : 'Connection: close\r\n'}\r\n${this.f.has('304-body') ? HELLO : ''}`);
    } else {
      const body = hello ? HELLO : 'Not Found';
      const send = method === 'HEAD' && !this.f.has('head-body') ? '' : body;
      this.socket.write(`HTTP/1.1 ${hello ? 200 : 404} ${hello ? 'OK' : 'Not Found'}\r\n${fieldsOut}Content-Length: ${Buffer.byteLength(body)}\r\n${keep ? '' : 'Connection: close\r\n'}\r\n${send}`);
    }
    if (!keep) this.#end();
    return true;
  }

  /** An upgrade request: true when it was answered (101 or an error); false to serve it as plain HTTP. */
  #upgrade(method: string, fields: Array<[string, string]>, end: number): boolean {
    const one = (n: string): string => fields.find(([k]) => k === n)?.[1] ?? '';
    if (method !== 'GET' && !this.f.has('ws-post-ok')) return false;
    if (!/\bupgrade\b/i.test(one('connection')) && !this.f.has('ws-no-upgrade-token-ok')) return false;
    if (one('sec-websocket-version') !== '13' && !this.f.has('ws-any-version')) return (this.#reply(426, { fields: 'Sec-WebSocket-Version: 13\r\n' }), true);
    const key = one('sec-websocket-key');
    const decoded = Buffer.from(key, 'base64');
    if ((decoded.length !== 16 || decoded.toString('base64') !== key) && !this.f.has('ws-any-key')) return (this.#reply(400), true);
    const accept = this.f.has('ws-wrong-accept') ? wsAccept(`${key}x`) : wsAccept(key);
    this.socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
    this.#ws = true;
    this.#buf = this.f.has('ws-drop-glued') ? Buffer.alloc(0) : this.#buf.subarray(end + 4);
    this.#frames();
    return true;
  }

  // ---- WebSocket ----

  #send(opcode: number, payload: Buffer): void {
    this.socket.write(encodeFrame({ opcode, payload, mask: this.f.has('ws-mask-out') }));
  }

  #fail(code: number): void {
    this.#done = true;
    if (this.f.has('ws-bare-close')) {
      this.socket.destroy();
      return;
    }
    const p = Buffer.alloc(2);
    p.writeUInt16BE(code);
    this.#send(OP.close, p);
    this.socket.end();
  }

  #frames(): void {
    while (!this.#done && this.#buf.length >= 2) {
      const b0 = this.#buf[0] as number;
      const b1 = this.#buf[1] as number;
      let len = b1 & 0x7f;
      let p = 2;
      if (len === 126) {
        if (this.#buf.length < 4) return;
        len = this.#buf.readUInt16BE(2);
        p = 4;
      } else if (len === 127) {
        if (this.f.has('ws-no-64bit')) return this.#fail(1002);
        if (this.#buf.length < 10) return;
        len = Number(this.#buf.readBigUInt64BE(2));
        p = 10;
      }
      const opcode = b0 & 0x0f;
      if (opcode < 8 && len + (this.#frag?.size ?? 0) > FAKE_MAX_MESSAGE_BYTES && !this.f.has('ws-no-size-limit')) return this.#fail(1009);
      const masked = (b1 & 0x80) !== 0;
      const key = masked ? this.#buf.subarray(p, p + 4) : null;
      if (masked) p += 4;
      if (this.#buf.length < p + len) return;
      const payload = Buffer.from(this.#buf.subarray(p, p + len));
      if (key !== null) for (let i = 0; i < len; i++) payload[i] = (payload[i] as number) ^ (key[i & 3] as number);
      this.#buf = this.#buf.subarray(p + len);
      this.#frame(b0, masked, opcode, payload);
    }
  }

  #frame(b0: number, masked: boolean, opcode: number, payload: Buffer): void {
    const fin = (b0 & 0x80) !== 0;
    if (!masked && !this.f.has('ws-accept-unmasked')) return this.#fail(1002);
    if ((b0 & 0x70) !== 0 && !this.f.has('ws-ignore-rsv')) return this.#fail(1002);
    if (opcode >= 8) {
      if (opcode !== OP.close && opcode !== OP.ping && opcode !== OP.pong) return this.#fail(1002);
      if (payload.length > 125 && !this.f.has('ws-no-control-limit')) return this.#fail(1002);
      if (!fin && !this.f.has('ws-fragmented-control-ok')) return this.#fail(1002);
      if (opcode === OP.ping) {
        if (this.#frag !== null && this.f.has('ws-no-ping-in-fragments')) return;
        return this.#send(OP.pong, this.f.has('ws-pong-truncated') ? payload.subarray(0, 100) : payload);
      }
      if (opcode === OP.pong) return this.f.has('ws-close-on-pong') ? this.#fail(1002) : undefined;
      return this.#close(payload);
    }
    if (opcode === OP.continuation) {
      if (this.#frag === null) return this.#fail(1002);
    } else if (opcode === OP.text || opcode === OP.binary) {
      if (this.#frag !== null) return this.#fail(1002);
      this.#frag = { opcode, parts: [], size: 0 };
    } else {
      return this.#fail(1002);
    }
    const m = this.#frag;
    if (m.opcode === OP.text && this.f.has('ws-utf8-per-fragment') && !validUtf8(payload)) return this.#fail(1007);
    m.parts.push(payload);
    m.size += payload.length;
    if (!fin) return;
    this.#frag = null;
    const message = Buffer.concat(m.parts);
    if (m.opcode === OP.text && !validUtf8(message) && !this.f.has('ws-no-utf8-check')) return this.#fail(1007);
    this.#send(m.opcode, message);
  }

  #close(payload: Buffer): void {
    if (payload.length === 1) return this.#fail(1002);
    if (payload.length >= 2) {
      const code = payload.readUInt16BE(0);
      const valid = (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
      if (!valid && !this.f.has('ws-echo-any-code')) return this.#fail(1002);
      if (!validUtf8(payload.subarray(2))) return this.#fail(1007);
    }
    this.#done = true;
    if (this.f.has('ws-no-close-reply')) {
      this.socket.destroy();
      return;
    }
    this.#send(OP.close, payload.subarray(0, 2));
    this.socket.end();
  }
}
