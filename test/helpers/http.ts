// A deliberately small HTTP/1.1 client for the engine tests: requests are written byte for byte
// (so tests control splits, pipelining and malformed input) and responses are parsed strictly
// from the raw stream, independently of node:http.
import type net from 'node:net';
import { connect } from './net.js';

export interface ParsedResponse {
  /** The status line as sent, e.g. "HTTP/1.1 200 OK". */
  statusLine: string;
  version: string;
  status: number;
  reason: string;
  /** Header names lower-cased; a repeated header keeps every value. */
  headers: Map<string, string[]>;
  body: Buffer;
  /** Bytes of the whole response (head + body). */
  size: number;
}

/** The single value of a header, failing loudly when it is repeated. */
export function header(r: ParsedResponse, name: string): string | undefined {
  const v = r.headers.get(name.toLowerCase());
  if (v === undefined) return undefined;
  if (v.length !== 1) throw new Error(`header ${name} appears ${v.length} times`);
  return v[0];
}

/**
 * Parses every complete response at the start of buf. Throws on anything that is not a
 * well-formed HTTP/1.1 response head with CRLF line ends, a valid Content-Length (required
 * unless the status forbids a body) and no Transfer-Encoding; the engine never sends those.
 */
export function parseResponses(buf: Buffer): { responses: ParsedResponse[]; rest: Buffer } {
  const responses: ParsedResponse[] = [];
  let off = 0;
  for (;;) {
    const end = buf.indexOf('\r\n\r\n', off);
    if (end < 0) break;
    const lines = buf.toString('latin1', off, end).split('\r\n');
    const statusLine = lines[0]!;
    const m = /^(HTTP\/1\.[01]) (\d{3}) ([^\r\n]*)$/.exec(statusLine);
    if (!m) throw new Error(`malformed status line ${JSON.stringify(statusLine)}`);
    const headers = new Map<string, string[]>();
    for (const line of lines.slice(1)) {
      const hm = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+): ?(.*?)[ \t]*$/.exec(line);
      if (!hm) throw new Error(`malformed header line ${JSON.stringify(line)}`);
      const k = hm[1]!.toLowerCase();
      const list = headers.get(k) ?? [];
      list.push(hm[2]!);
      headers.set(k, list);
    }
    const status = Number(m[2]);
    if (headers.has('transfer-encoding')) throw new Error('unexpected Transfer-Encoding in a response');
    const cl = headers.get('content-length');
    let length = 0;
    if (cl !== undefined) {
      if (cl.length !== 1 || !/^\d+$/.test(cl[0]!)) throw new Error(`bad Content-Length ${JSON.stringify(cl)}`);
      length = Number(cl[0]);
    } else if (!(status < 200 || status === 204 || status === 304)) {
      throw new Error(`response ${status} without Content-Length`);
    }
    const bodyStart = end + 4;
    if (buf.length < bodyStart + length) break;
    responses.push({
      statusLine, version: m[1]!, status, reason: m[3]!, headers,
      body: buf.subarray(bodyStart, bodyStart + length), size: bodyStart + length - off,
    });
    off = bodyStart + length;
  }
  return { responses, rest: buf.subarray(off) };
}

/** Formats a request. Header values are written as given; Content-Length is added for a body. */
export function request(method: string, target: string, headers: Record<string, string> = {}, body?: string | Buffer, version = '1.1'): Buffer {
  let head = `${method} ${target} HTTP/${version}\r\n`;
  const hasHost = Object.keys(headers).some((k) => k.toLowerCase() === 'host');
  if (!hasHost && version === '1.1') head += 'Host: test\r\n';
  for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`;
  const b = body === undefined ? Buffer.alloc(0) : Buffer.from(body);
  if (body !== undefined) head += `Content-Length: ${b.length}\r\n`;
  return Buffer.concat([Buffer.from(`${head}\r\n`, 'latin1'), b]);
}

/** Rejects with a message naming `what` if p does not settle within ms. */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

/** A connection that parses responses as they arrive and tells when the server closed it. */
export class HttpConn {
  readonly responses: ParsedResponse[] = [];
  /** Every byte received, for byte-exact comparisons. */
  raw: Buffer = Buffer.alloc(0);
  ended = false;
  closed = false;
  error: Error | null = null;
  private pending: Buffer = Buffer.alloc(0);
  private waiters: (() => void)[] = [];

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (d: Buffer) => {
      this.raw = Buffer.concat([this.raw, d]);
      this.pending = Buffer.concat([this.pending, d]);
      try {
        const { responses, rest } = parseResponses(this.pending);
        this.responses.push(...responses);
        this.pending = rest;
      } catch (e) {
        this.error ??= e as Error;
      }
      this.wake();
    });
    socket.on('end', () => {
      this.ended = true;
      this.wake();
    });
    socket.on('error', (e) => {
      this.error ??= e;
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
  }

  static async open(port: number): Promise<HttpConn> {
    return new HttpConn(await connect(port));
  }

  /** Bytes received but not yet part of a complete response. */
  get unparsed(): Buffer {
    return this.pending;
  }

  send(data: string | Buffer): void {
    this.socket.write(data);
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Waits until cond() holds; rejects after ms or when the connection closes first. */
  wait(cond: () => boolean, what: string, ms = 5000): Promise<void> {
    return withTimeout(new Promise<void>((resolve, reject) => {
      const check = (): void => {
        if (this.error && !(this.error as NodeJS.ErrnoException).code) return reject(this.error);
        if (cond()) return resolve();
        if (this.closed) return reject(new Error(`connection closed while waiting for ${what} (${this.responses.length} responses)`));
        this.waiters.push(check);
      };
      check();
    }), ms, what);
  }

  /** Waits for `count` responses in total and returns them all. */
  async responsesUntil(count: number, ms = 5000): Promise<ParsedResponse[]> {
    await this.wait(() => this.responses.length >= count, `${count} responses`, ms);
    return this.responses;
  }

  /** Waits until the server closed the connection (FIN or reset). */
  waitClosed(ms = 5000): Promise<void> {
    return withTimeout(new Promise<void>((resolve) => {
      const check = (): void => {
        if (this.closed) resolve();
        else this.waiters.push(check);
      };
      check();
    }), ms, 'the server to close the connection');
  }

  /** Waits until the server half-closed (FIN seen). */
  waitEnded(ms = 5000): Promise<void> {
    return withTimeout(new Promise<void>((resolve) => {
      const check = (): void => {
        if (this.ended || this.closed) resolve();
        else this.waiters.push(check);
      };
      check();
    }), ms, 'the server to end the connection');
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** Checks the framing every engine response must have: HTTP/1.1, Content-Length, a fresh Date. */
export function checkResponseBasics(r: ParsedResponse): void {
  if (r.version !== 'HTTP/1.1') throw new Error(`version ${r.version}, expected HTTP/1.1`);
  const date = header(r, 'date');
  if (date === undefined) throw new Error('no Date header');
  if (!/^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT$/.test(date)) {
    throw new Error(`Date ${JSON.stringify(date)} is not an IMF-fixdate`);
  }
  const skew = Math.abs(Date.parse(date) - Date.now());
  if (skew > 5000) throw new Error(`Date ${date} is ${skew} ms off`);
  if (r.status >= 200 && r.status !== 204 && r.status !== 304) {
    const cl = header(r, 'content-length');
    if (cl === undefined || Number(cl) !== r.body.length) throw new Error(`Content-Length ${cl} for a ${r.body.length}-byte body`);
  }
}
