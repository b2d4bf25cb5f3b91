// The frame-echo check: length-prefixed frames must come back intact, one for one, whatever way
// the stream was cut or glued on the way in.

import type net from 'node:net';
import { encodeFrame, FrameDecoder, FRAME_MAX_LENGTH } from '../protocols.js';
import { assertSameBytes, connectTcp, DEFAULT_CHECK_TIMEOUT_MS, type Target } from './tcp.js';

/** A frame connection: send frames (in any cut), receive whole payloads. */
export class FrameConnection {
  readonly payloads: Buffer[] = [];
  closed = false;
  error: Error | null = null;
  readonly #decoder = new FrameDecoder(FRAME_MAX_LENGTH);
  #wake: (() => void) | null = null;

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      try {
        // Payloads may be views into chunks; copies keep them valid on their own.
        for (const p of this.#decoder.payloads(chunk)) this.payloads.push(Buffer.from(p));
      } catch (err) {
        this.error = err as Error;
        socket.destroy();
      }
      this.#wake?.();
    });
    socket.on('error', (err) => {
      this.error ??= err;
    });
    socket.on('close', () => {
      this.closed = true;
      this.#wake?.();
    });
  }

  static async open(target: Target, timeoutMs = DEFAULT_CHECK_TIMEOUT_MS): Promise<FrameConnection> {
    return new FrameConnection(await connectTcp(target, timeoutMs));
  }

  /**
   * Writes the frames of payloads as one byte stream cut into pieces: cut 0 sends it in one
   * write (coalesced), a number n cuts every n bytes, an array gives the piece sizes in turn.
   */
  async send(payloads: readonly Uint8Array[], cut: number | readonly number[] = 0): Promise<void> {
    const stream = Buffer.concat(payloads.map((p) => encodeFrame(p)));
    await this.sendRaw(stream, cut);
  }

  /** Writes bytes as they are (for malformed input), cut like send(). */
  async sendRaw(stream: Uint8Array, cut: number | readonly number[] = 0): Promise<void> {
    let off = 0;
    for (let i = 0; off < stream.length; i++) {
      const size = typeof cut === 'number' ? (cut <= 0 ? stream.length : cut) : Math.max(1, cut[i % cut.length] ?? 1);
      const piece = stream.subarray(off, Math.min(off + size, stream.length));
      off += piece.length;
      await new Promise<void>((resolve, reject) => this.socket.write(piece, (err) => (err ? reject(err) : resolve())));
    }
  }

  /** Resolves once count payloads have arrived in total. */
  until(count: number, timeoutMs: number): Promise<void> {
    return this.#wait(() => this.payloads.length >= count, timeoutMs, `waiting for ${count} frames (${this.payloads.length} so far)`, true);
  }

  /** Resolves when the server closes the connection. */
  untilClosed(timeoutMs: number): Promise<void> {
    return this.#wait(() => this.closed, timeoutMs, 'waiting for the server to close the connection', false);
  }

  #wait(done: () => boolean, timeoutMs: number, what: string, failOnClose: boolean): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#wake = null;
        reject(new Error(`${what}: timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      const check = (): void => {
        if (done()) {
          clearTimeout(timer);
          this.#wake = null;
          resolve();
        } else if (failOnClose && this.closed) {
          clearTimeout(timer);
          this.#wake = null;
          reject(new Error(`${what}: connection closed${this.error ? ` (${this.error.message})` : ''}`));
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

export interface FrameCheckOptions {
  /** How the byte stream is cut on the way out; see FrameConnection.send. */
  cut?: number | readonly number[];
  timeoutMs?: number;
}

/** Sends payloads as frames on a fresh connection; checks every frame comes back intact and in order. */
export async function frameEchoCheck(target: Target, payloads: readonly Uint8Array[], options: FrameCheckOptions = {}): Promise<{ frames: number; ms: number }> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_CHECK_TIMEOUT_MS;
  const started = Date.now();
  const conn = await FrameConnection.open(target, timeoutMs);
  try {
    await conn.send(payloads, options.cut ?? 0);
    await conn.until(payloads.length, timeoutMs);
    payloads.forEach((want, i) => assertSameBytes(conn.payloads[i] as Buffer, want, `frame-echo frame ${i}`));
    if (conn.payloads.length !== payloads.length) throw new Error(`frame-echo: got ${conn.payloads.length} frames, sent ${payloads.length}`);
    return { frames: payloads.length, ms: Date.now() - started };
  } finally {
    conn.close();
  }
}
