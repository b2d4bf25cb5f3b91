// Small loopback client helpers shared by the engine tests.
import net from 'node:net';
import { readdirSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';

/** Number of fds this process holds right now. */
export function fdCount(): number {
  return readdirSync('/proc/self/fd').length;
}

/** Opens a TCP connection to 127.0.0.1:port and resolves once it is established. */
export function connect(port: number, host = '127.0.0.1'): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host, noDelay: true });
    s.once('connect', () => {
      s.off('error', reject);
      resolve(s);
    });
    s.once('error', reject);
  });
}

/** Resolves with everything the socket receives until it reaches `bytes` (then ends it), or it closes. */
export function collect(s: net.Socket, bytes: number, endWhenDone = true): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let n = 0;
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      resolve(Buffer.concat(chunks));
    };
    s.on('data', (d: Buffer) => {
      chunks.push(d);
      n += d.length;
      if (n >= bytes) {
        if (endWhenDone) s.end();
        finish();
      }
    });
    s.once('close', finish);
    s.once('error', (e) => {
      if (!done) reject(e);
    });
  });
}

/** Resolves when the socket is fully closed. */
export function closed(s: net.Socket): Promise<void> {
  return new Promise((resolve) => {
    if (s.destroyed && s.closed) resolve();
    else s.once('close', () => resolve());
  });
}

export function sha256(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

export function randomPayload(min: number, max: number): Buffer {
  return randomBytes(min + Math.floor(Math.random() * (max - min + 1)));
}

/** Encodes payloads as 4-byte big-endian length-prefixed frames. */
export function frames(payloads: Uint8Array[]): Buffer {
  const parts: Buffer[] = [];
  for (const p of payloads) {
    const h = Buffer.alloc(4);
    h.writeUInt32BE(p.length);
    parts.push(h, Buffer.from(p));
  }
  return Buffer.concat(parts);
}

/** Waits until `cond` is true, polling; rejects with `what` after `ms`. */
export async function until(cond: () => boolean, what: string, ms = 10000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
