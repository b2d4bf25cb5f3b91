// Raw TCP helpers and the tcp-echo check.

import net from 'node:net';
import tls from 'node:tls';

/** TLS to a target (`c1m run --tls`): the run's certificate verifies the server when ca is given. */
export interface TargetTls {
  /** PEM of the certificate to trust (the run's self-signed one); absent: the server is not verified. */
  ca?: string;
  /** SNI and the name verified; default: none (the certificate's IP address names 127.0.0.1). */
  servername?: string;
}

export interface Target {
  host: string;
  port: number;
  /** Speak TLS to it; absent: plain TCP. */
  tls?: TargetTls;
}

export const DEFAULT_CHECK_TIMEOUT_MS = 10_000;

/**
 * Connects with Nagle off (and, for a TLS target, completes the handshake, verifying the server
 * when the target names a certificate to trust); rejects after timeoutMs. Every client of the
 * checks and the conformance cases connects here, so each speaks TLS when its target does.
 */
export function connectTcp(target: Target, timeoutMs = DEFAULT_CHECK_TIMEOUT_MS): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const t = target.tls;
    const socket: net.Socket =
      t === undefined
        ? net.connect({ host: target.host, port: target.port, noDelay: true })
        : tls.connect({ host: target.host, port: target.port, ca: t.ca, servername: t.servername, rejectUnauthorized: t.ca !== undefined }).setNoDelay(true);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`${t ? 'TLS ' : ''}connect to ${target.host}:${target.port} timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once(t === undefined ? 'connect' : 'secureConnect', () => {
      clearTimeout(timer);
      socket.off('error', onError);
      resolve(socket);
    });
    const onError = (err: Error): void => {
      clearTimeout(timer);
      reject(new Error(`connect to ${target.host}:${target.port}: ${err.message}`));
    };
    socket.once('error', onError);
  });
}

/** Writes data in pieces of chunkSize bytes (all at once when chunkSize is 0), awaiting each write. */
export async function writeInChunks(socket: net.Socket, data: Uint8Array, chunkSize = 0): Promise<void> {
  const size = chunkSize <= 0 ? data.length : chunkSize;
  for (let off = 0; off < data.length; off += size) {
    const piece = data.subarray(off, Math.min(off + size, data.length));
    await new Promise<void>((resolve, reject) => socket.write(piece, (err) => (err ? reject(err) : resolve())));
  }
}

/**
 * Collects what a socket receives and lets a caller wait for a condition on it, or for the
 * socket to close. Attach it right after connecting so nothing is missed.
 */
export class Inbox {
  readonly chunks: Buffer[] = [];
  length = 0;
  closed = false;
  error: Error | null = null;
  #wake: (() => void) | null = null;

  constructor(readonly socket: net.Socket) {
    socket.on('data', (c: Buffer) => {
      this.chunks.push(c);
      this.length += c.length;
      this.#wake?.();
    });
    socket.on('error', (err) => {
      this.error = err;
    });
    socket.on('close', () => {
      this.closed = true;
      this.#wake?.();
    });
  }

  /** All bytes received so far, as one buffer. */
  bytes(): Buffer {
    if (this.chunks.length !== 1) {
      const all = Buffer.concat(this.chunks, this.length);
      this.chunks.length = 0;
      this.chunks.push(all);
    }
    return this.chunks[0] ?? Buffer.alloc(0);
  }

  /** Resolves once done() is true; rejects if the socket closes first or timeoutMs passes. */
  until(done: () => boolean, timeoutMs: number, what: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#wake = null;
        reject(new Error(`${what}: timed out after ${timeoutMs} ms (${this.length} bytes received)`));
      }, timeoutMs);
      const check = (): void => {
        if (done()) {
          clearTimeout(timer);
          this.#wake = null;
          resolve();
        } else if (this.closed) {
          clearTimeout(timer);
          this.#wake = null;
          reject(new Error(`${what}: connection closed after ${this.length} bytes${this.error ? ` (${this.error.message})` : ''}`));
        }
      };
      this.#wake = check;
      check();
    });
  }

  /** Resolves when the peer closes the connection; rejects after timeoutMs. */
  untilClosed(timeoutMs: number, what: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#wake = null;
        reject(new Error(`${what}: still open after ${timeoutMs} ms`));
      }, timeoutMs);
      const check = (): void => {
        if (!this.closed) return;
        clearTimeout(timer);
        this.#wake = null;
        resolve();
      };
      this.#wake = check;
      check();
    });
  }
}

function firstDifference(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return n;
}

export function assertSameBytes(got: Uint8Array, want: Uint8Array, what: string): void {
  if (got.length === want.length && Buffer.from(got.buffer, got.byteOffset, got.length).equals(want)) return;
  throw new Error(`${what}: got ${got.length} bytes, want ${want.length}; first difference at byte ${firstDifference(got, want)}`);
}

export interface EchoCheckOptions {
  /** Write the payload in pieces of this many bytes (0: one write). */
  chunkSize?: number;
  timeoutMs?: number;
}

/** Sends payload on a fresh connection and checks that exactly the same bytes come back. */
export async function tcpEchoCheck(target: Target, payload: Uint8Array, options: EchoCheckOptions = {}): Promise<{ bytes: number; ms: number }> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_CHECK_TIMEOUT_MS;
  const started = Date.now();
  const socket = await connectTcp(target, timeoutMs);
  try {
    const inbox = new Inbox(socket);
    await writeInChunks(socket, payload, options.chunkSize ?? 0);
    await inbox.until(() => inbox.length >= payload.length, timeoutMs, `tcp-echo of ${payload.length} bytes`);
    assertSameBytes(inbox.bytes(), payload, 'tcp-echo');
    return { bytes: payload.length, ms: Date.now() - started };
  } finally {
    socket.destroy();
  }
}
