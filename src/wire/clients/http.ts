// A minimal HTTP/1.1 client for checking servers: requests written back to back in one write
// (pipelining), responses parsed strictly in order. Bodies must be framed by Content-Length,
// which is what every http-hello contender is required to send.

import type net from 'node:net';
import { HTTP_CONTENT_TYPE, HTTP_HELLO_BODY, HTTP_NOT_FOUND_BODY, isHelloRequest } from '../protocols.js';
import { connectTcp, DEFAULT_CHECK_TIMEOUT_MS, type Target } from './tcp.js';

export interface HttpResponse {
  version: string;
  status: number;
  reason: string;
  /** Lower-cased names; repeated headers joined with ", ". */
  headers: Record<string, string>;
  body: Buffer;
}

const HEAD_END = Buffer.from('\r\n\r\n');
const MAX_HEAD_BYTES = 64 * 1024;

/** Incremental response parser: push bytes, take complete responses. */
export class HttpResponseParser {
  #buf: Buffer = Buffer.alloc(0);
  readonly responses: HttpResponse[] = [];

  push(chunk: Buffer): void {
    this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
    for (;;) {
      const end = this.#buf.indexOf(HEAD_END);
      if (end < 0) {
        if (this.#buf.length > MAX_HEAD_BYTES) throw new Error(`response head longer than ${MAX_HEAD_BYTES} bytes`);
        return;
      }
      const lines = this.#buf.toString('latin1', 0, end).split('\r\n');
      const m = /^(HTTP\/1\.[01]) (\d{3})(?: (.*))?$/.exec(lines[0] ?? '');
      if (m === null) throw new Error(`bad status line ${JSON.stringify(lines[0])}`);
      const headers: Record<string, string> = {};
      for (const line of lines.slice(1)) {
        const colon = line.indexOf(':');
        if (colon <= 0) throw new Error(`bad header line ${JSON.stringify(line)}`);
        const name = line.slice(0, colon).trim().toLowerCase();
        const value = line.slice(colon + 1).trim();
        headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
      }
      if (headers['transfer-encoding'] !== undefined) throw new Error(`unexpected Transfer-Encoding: ${headers['transfer-encoding']}`);
      const cl = headers['content-length'];
      if (cl === undefined || !/^\d+$/.test(cl)) throw new Error(`response without a valid Content-Length (${JSON.stringify(cl)})`);
      const bodyStart = end + HEAD_END.length;
      const bodyEnd = bodyStart + Number(cl);
      if (this.#buf.length < bodyEnd) return;
      this.responses.push({
        version: m[1] as string,
        status: Number(m[2]),
        reason: m[3] ?? '',
        headers,
        body: Buffer.from(this.#buf.subarray(bodyStart, bodyEnd)),
      });
      this.#buf = this.#buf.subarray(bodyEnd);
    }
  }

  get pendingBytes(): number {
    return this.#buf.length;
  }
}

/** One keep-alive connection on which batches of requests are pipelined. */
export class HttpConnection {
  readonly #parser = new HttpResponseParser();
  #taken = 0;
  #closed = false;
  #error: Error | null = null;
  #wake: (() => void) | null = null;

  private constructor(
    readonly socket: net.Socket,
    readonly target: Target,
  ) {
    socket.on('data', (chunk: Buffer) => {
      try {
        this.#parser.push(chunk);
      } catch (err) {
        this.#error = err as Error;
        socket.destroy();
      }
      this.#wake?.();
    });
    socket.on('error', (err) => {
      this.#error ??= err;
    });
    socket.on('close', () => {
      this.#closed = true;
      this.#wake?.();
    });
  }

  static async open(target: Target, timeoutMs = DEFAULT_CHECK_TIMEOUT_MS): Promise<HttpConnection> {
    return new HttpConnection(await connectTcp(target, timeoutMs), target);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The raw text of GET path (HTTP/1.1, with Host). */
  static get(target: Target, path: string, method = 'GET'): string {
    return `${method} ${path} HTTP/1.1\r\nHost: ${target.host}:${target.port}\r\n\r\n`;
  }

  /** Writes every request in one write, then resolves with as many responses, in order. */
  async pipeline(paths: readonly string[], timeoutMs = DEFAULT_CHECK_TIMEOUT_MS, method = 'GET'): Promise<HttpResponse[]> {
    return this.raw(paths.map((p) => HttpConnection.get(this.target, p, method)).join(''), paths.length, timeoutMs);
  }

  /** Writes text as is and resolves with the next count responses. */
  async raw(text: string, count: number, timeoutMs = DEFAULT_CHECK_TIMEOUT_MS): Promise<HttpResponse[]> {
    const want = this.#taken + count;
    const arrived = this.#wait(() => this.#parser.responses.length >= want, timeoutMs, `waiting for ${count} responses`);
    this.socket.write(text);
    await arrived;
    const out = this.#parser.responses.slice(this.#taken, want);
    this.#taken = want;
    return out;
  }

  #wait(done: () => boolean, timeoutMs: number, what: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#wake = null;
        reject(new Error(`${what}: timed out after ${timeoutMs} ms (${this.#parser.responses.length - this.#taken} arrived)`));
      }, timeoutMs);
      const check = (): void => {
        if (done()) {
          clearTimeout(timer);
          this.#wake = null;
          resolve();
        } else if (this.#closed || this.#error !== null) {
          clearTimeout(timer);
          this.#wake = null;
          reject(new Error(`${what}: connection ${this.#error ? `failed (${this.#error.message})` : 'closed'}`));
        }
      };
      this.#wake = check;
      check();
    });
  }

  close(): void {
    this.socket.destroy();
  }
}

/** Throws unless res is a well-formed http-hello answer to a GET or POST of path (200 for "/", 404 otherwise). */
export function assertHelloResponse(res: HttpResponse, path: string, method = 'GET'): void {
  const hello = isHelloRequest(method, path);
  const [status, body] = hello ? [200, HTTP_HELLO_BODY] : [404, HTTP_NOT_FOUND_BODY];
  const where = `${method} ${path}`;
  if (res.status !== status) throw new Error(`${where}: status ${res.status}, want ${status}`);
  if (res.body.toString('latin1') !== body) throw new Error(`${where}: body ${JSON.stringify(res.body.toString('latin1'))}, want ${JSON.stringify(body)}`);
  if (res.headers['content-length'] !== String(body.length)) throw new Error(`${where}: Content-Length ${res.headers['content-length']}, want ${body.length}`);
  const date = res.headers['date'];
  if (date === undefined || Number.isNaN(Date.parse(date))) throw new Error(`${where}: missing or unreadable Date header (${JSON.stringify(date)})`);
  const type = res.headers['content-type'];
  if (type === undefined || !type.startsWith(HTTP_CONTENT_TYPE)) throw new Error(`${where}: Content-Type ${JSON.stringify(type)}, want ${HTTP_CONTENT_TYPE}`);
  if (res.headers['connection']?.toLowerCase() === 'close') throw new Error(`${where}: server asked to close a keep-alive connection`);
}

/**
 * Pipelines requests for paths (default 16, alternating "/" and "/missing") in one write on one
 * connection, checks every response in order, then checks the connection is still usable.
 */
export async function httpHelloCheck(target: Target, paths?: readonly string[], timeoutMs = DEFAULT_CHECK_TIMEOUT_MS): Promise<{ requests: number; ms: number }> {
  const list = paths ?? Array.from({ length: 16 }, (_, i) => (i % 2 === 0 ? '/' : `/missing-${i}`));
  const started = Date.now();
  const conn = await HttpConnection.open(target, timeoutMs);
  try {
    const responses = await conn.pipeline(list, timeoutMs);
    responses.forEach((res, i) => assertHelloResponse(res, list[i] as string));
    const [again] = await conn.pipeline(['/'], timeoutMs);
    assertHelloResponse(again as HttpResponse, '/');
    return { requests: list.length + 1, ms: Date.now() - started };
  } finally {
    conn.close();
  }
}
