// HTTP pieces of the TS API: a reusable request view over the engine's request descriptors, and
// response header encoding with validation (no header injection through CR/LF).
import { Buffer } from 'node:buffer';
import { REQ_FIXED_WORDS } from './records.js';

/**
 * One parsed request, read straight from the engine's shared buffers. The same object is reused
 * for every request: it is valid only during the handler call; copy what you keep.
 */
export class HttpRequest {
  private w = 0;
  private readonly text: Buffer;
  constructor(private readonly meta: Uint32Array, private readonly arena: Uint8Array) {
    this.text = Buffer.from(arena.buffer, arena.byteOffset, arena.byteLength);
  }
  /** @internal points the view at the descriptor at word offset `w`. */
  at(w: number): this {
    this.w = w;
    return this;
  }
  private str(off: number, len: number): string {
    return this.text.toString('latin1', off, off + len);
  }
  get method(): string {
    return this.str(this.meta[this.w]!, this.meta[this.w + 1]!);
  }
  /** The request target as sent (path and query). */
  get url(): string {
    return this.str(this.meta[this.w + 2]!, this.meta[this.w + 3]!);
  }
  /** The target up to `?`. */
  get path(): string {
    return this.str(this.meta[this.w + 2]!, this.meta[this.w + 4]!);
  }
  /** The query string after `?` (without it), or ''. */
  get query(): string {
    const len = this.meta[this.w + 3]!, plen = this.meta[this.w + 4]!;
    return len > plen + 1 ? this.str(this.meta[this.w + 2]! + plen + 1, len - plen - 1) : '';
  }
  /** 0 for HTTP/1.0, 1 for HTTP/1.1. */
  get versionMinor(): number {
    return this.meta[this.w + 5]! & 0xff;
  }
  get keepAlive(): boolean {
    return (this.meta[this.w + 5]! & 0x100) !== 0;
  }
  /** The body (Content-Length bytes): a view valid only during the call. */
  get body(): Uint8Array {
    const off = this.meta[this.w + 6]!;
    return this.arena.subarray(off, off + this.meta[this.w + 7]!);
  }
  get headerCount(): number {
    return this.meta[this.w + 8]!;
  }
  /** The first header with this name (case-insensitive), or undefined. */
  header(name: string): string | undefined {
    const n = this.meta[this.w + 8]!;
    const lower = name.toLowerCase();
    for (let i = 0; i < n; i++) {
      const b = this.w + REQ_FIXED_WORDS + 4 * i;
      if (this.meta[b + 1] === lower.length && this.str(this.meta[b]!, this.meta[b + 1]!).toLowerCase() === lower) {
        return this.str(this.meta[b + 2]!, this.meta[b + 3]!);
      }
    }
    return undefined;
  }
  /** All headers as [name, value] pairs, in order. */
  headers(): [string, string][] {
    const out: [string, string][] = [];
    const n = this.meta[this.w + 8]!;
    for (let i = 0; i < n; i++) {
      const b = this.w + REQ_FIXED_WORDS + 4 * i;
      out.push([this.str(this.meta[b]!, this.meta[b + 1]!), this.str(this.meta[b + 2]!, this.meta[b + 3]!)]);
    }
    return out;
  }
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const MANAGED = new Set(['content-length', 'date', 'connection', 'transfer-encoding']);
const EMPTY = new Uint8Array(0);
const cache = new WeakMap<object, Uint8Array>();

/**
 * Encodes response headers as CRLF-terminated lines. Names must be tokens, values must not hold
 * CR/LF/NUL; Content-Length, Date, Connection and Transfer-Encoding are the engine's to set.
 * The encoding of a frozen headers object is cached, so a constant header set costs nothing.
 */
export function encodeHeaders(headers: Readonly<Record<string, string | number>> | undefined): Uint8Array {
  if (headers === undefined) return EMPTY;
  const hit = cache.get(headers);
  if (hit) return hit;
  let s = '';
  for (const [k, v] of Object.entries(headers)) {
    if (!TOKEN.test(k)) throw new TypeError(`header name ${JSON.stringify(k)} is not a valid token`);
    if (MANAGED.has(k.toLowerCase())) throw new TypeError(`header ${k} is set by the engine`);
    const val = String(v);
    if (/[\r\n\0]/.test(val)) throw new TypeError(`header ${k} must not contain CR, LF or NUL`);
    s += `${k}: ${val}\r\n`;
  }
  const out = Buffer.from(s, 'latin1');
  if (Object.isFrozen(headers)) cache.set(headers, out);
  return out;
}

/** Bytes of a body given as string (UTF-8) or bytes. */
export function bodyBytes(body: string | Uint8Array | undefined): Uint8Array {
  if (body === undefined) return EMPTY;
  if (typeof body === 'string') return Buffer.from(body);
  if (body instanceof Uint8Array) return body;
  throw new TypeError('body must be a string or a Uint8Array');
}
