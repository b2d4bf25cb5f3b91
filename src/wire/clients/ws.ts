// WebSocket checks on the ws package as client: echo keeps content and type, broadcast reaches
// every member of a room exactly once and nobody else.

import { randomBytes } from 'node:crypto';
import WebSocket, { type RawData } from 'ws';
import { DEFAULT_CHECK_TIMEOUT_MS, type Target } from './tcp.js';

export interface WsMessage {
  data: Buffer;
  binary: boolean;
}

/** A client that queues every message from the moment it connects. */
export class WsClient {
  readonly messages: WsMessage[] = [];
  closed = false;
  closeCode: number | null = null;
  error: Error | null = null;
  #wake: (() => void) | null = null;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data: RawData, isBinary: boolean) => {
      const buf = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
      this.messages.push({ data: buf, binary: isBinary });
      this.#wake?.();
    });
    ws.on('error', (err) => {
      this.error ??= err;
    });
    ws.on('close', (code) => {
      this.closed = true;
      this.closeCode = code;
      this.#wake?.();
    });
  }

  /** Opens ws://host:port/path (wss:// for a TLS target); rejects if the upgrade fails or takes longer than timeoutMs. */
  static open(target: Target, path = '/', timeoutMs = DEFAULT_CHECK_TIMEOUT_MS): Promise<WsClient> {
    return new Promise((resolve, reject) => {
      const t = target.tls;
      const url = `${t ? 'wss' : 'ws'}://${target.host}:${target.port}${path}`;
      const tlsOptions = t ? { ca: t.ca, servername: t.servername, rejectUnauthorized: t.ca !== undefined } : {};
      const ws = new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: timeoutMs, maxPayload: 0x7fff_ffff, ...tlsOptions });
      const client = new WsClient(ws);
      ws.once('open', () => resolve(client));
      ws.once('close', () => reject(new Error(`WebSocket ${url}: closed before open${client.error ? ` (${client.error.message})` : ''}`)));
      ws.once('error', (err) => reject(new Error(`WebSocket ${url}: ${err.message}`)));
    });
  }

  /** Strings go as text frames, bytes as binary frames. */
  send(data: string | Uint8Array): Promise<void> {
    return new Promise((resolve, reject) => {
      this.ws.send(data, { binary: typeof data !== 'string' }, (err) => (err ? reject(err) : resolve()));
    });
  }

  /** Resolves once count messages have arrived in total. */
  until(count: number, timeoutMs = DEFAULT_CHECK_TIMEOUT_MS): Promise<void> {
    return this.#wait(() => this.messages.length >= count, timeoutMs, `waiting for ${count} messages (${this.messages.length} so far)`, true);
  }

  /** Resolves once some message satisfies match; returns its index. */
  async untilMatch(match: (m: WsMessage) => boolean, timeoutMs = DEFAULT_CHECK_TIMEOUT_MS, what = 'waiting for a message'): Promise<number> {
    await this.#wait(() => this.messages.some(match), timeoutMs, what, true);
    return this.messages.findIndex(match);
  }

  untilClosed(timeoutMs = DEFAULT_CHECK_TIMEOUT_MS): Promise<void> {
    return this.#wait(() => this.closed, timeoutMs, 'waiting for the server to close', false);
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
          reject(new Error(`${what}: connection closed (code ${this.closeCode}${this.error ? `, ${this.error.message}` : ''})`));
        }
      };
      this.#wake = check;
      check();
    });
  }

  /** Closes without the closing handshake. */
  terminate(): void {
    this.ws.terminate();
  }
}

/** Throws unless got carries the same type and bytes as want. */
export function assertSameMessage(got: WsMessage | undefined, want: string | Uint8Array, what: string): void {
  if (got === undefined) throw new Error(`${what}: no message`);
  const binary = typeof want !== 'string';
  if (got.binary !== binary) throw new Error(`${what}: got a ${got.binary ? 'binary' : 'text'} message, want ${binary ? 'binary' : 'text'}`);
  const bytes = typeof want === 'string' ? Buffer.from(want, 'utf8') : Buffer.from(want.buffer, want.byteOffset, want.length);
  if (!got.data.equals(bytes)) throw new Error(`${what}: got ${got.data.length} bytes, want ${bytes.length} (content differs)`);
}

/** Sends messages on a fresh connection and checks each comes back in order with its type. */
export async function wsEchoCheck(target: Target, messages: readonly (string | Uint8Array)[], timeoutMs = DEFAULT_CHECK_TIMEOUT_MS): Promise<{ messages: number; ms: number }> {
  const started = Date.now();
  const client = await WsClient.open(target, '/', timeoutMs);
  try {
    // A failed send shows up as a missing echo below, with the close code.
    for (const m of messages) client.send(m).catch(() => {});
    await client.until(messages.length, timeoutMs);
    messages.forEach((want, i) => assertSameMessage(client.messages[i], want, `ws-echo message ${i}`));
    return { messages: messages.length, ms: Date.now() - started };
  } finally {
    client.terminate();
  }
}

/**
 * Opens members connections in a fresh room (half by ?room=, half by a join: message when the
 * contender joins by message, else all by ?room=), has each send one message, and checks every
 * member receives every message exactly once.
 */
export async function wsBroadcastCheck(target: Target, members = 2, timeoutMs = DEFAULT_CHECK_TIMEOUT_MS, joinByMessage = true): Promise<{ deliveries: number; ms: number }> {
  const started = Date.now();
  const room = `check-${randomBytes(6).toString('hex')}`;
  const clients: WsClient[] = [];
  try {
    for (let i = 0; i < members; i++) {
      const byQuery = !joinByMessage || i % 2 === 0;
      const c = await WsClient.open(target, byQuery ? `/?room=${encodeURIComponent(room)}` : '/', timeoutMs);
      clients.push(c);
      if (!byQuery) await c.send(`join:${room}`);
    }
    // Joins by message race with the first broadcast; a round of pings through the room
    // (each member's own message comes back to it) proves every member is in.
    for (const [i, c] of clients.entries()) {
      await c.send(`ping-${i}`);
      await c.untilMatch((m) => !m.binary && m.data.toString() === `ping-${i}`, timeoutMs, `member ${i} waiting for its own message`);
    }
    const sent = clients.map((_, i) => `msg-${i}-${randomBytes(4).toString('hex')}`);
    for (const [i, c] of clients.entries()) await c.send(sent[i] as string);
    for (const [i, c] of clients.entries()) {
      for (const s of sent) await c.untilMatch((m) => m.data.toString() === s, timeoutMs, `member ${i} waiting for ${s}`);
      for (const s of sent) {
        const n = c.messages.filter((m) => m.data.toString() === s).length;
        if (n !== 1) throw new Error(`ws-broadcast: member ${i} got ${s} ${n} times`);
      }
    }
    return { deliveries: members * members, ms: Date.now() - started };
  } finally {
    for (const c of clients) c.terminate();
  }
}
