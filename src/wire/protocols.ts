// What each protocol means, byte for byte, for servers and clients alike: the wire, the floor
// below both the servers under test (contenders/) and the load (drivers/, wire/clients/). Nothing
// here imports either side.

/** The protocols a contender serves and a driver speaks. */
export const PROTOCOLS = ['tcp-echo', 'frame-echo', 'http-hello', 'ws-echo', 'ws-broadcast'] as const;
export type Protocol = (typeof PROTOCOLS)[number];

/**
 * Short names for the two protocols a connection can idle on: `c1m run idle-hold --protocol tcp`,
 * and the same words for `c1m preflight` and `c1m serve`.
 */
export const PROTOCOL_ALIASES = Object.freeze({ tcp: 'tcp-echo', ws: 'ws-echo' } as const satisfies Record<string, Protocol>);

/** Every word a --protocol flag that knows the aliases accepts: the protocols, then the aliases. */
export const PROTOCOL_WORDS: readonly string[] = [...PROTOCOLS, ...Object.keys(PROTOCOL_ALIASES)];

/** "tcp = tcp-echo, ws = ws-echo", for help lines. */
export const PROTOCOL_ALIAS_HELP = Object.entries(PROTOCOL_ALIASES)
  .map(([a, p]) => `${a} = ${p}`)
  .join(', ');

/** The protocol a word names, an alias resolved; checkProtocol's errors otherwise. */
export function resolveProtocol(word: string): Protocol {
  return (PROTOCOL_ALIASES as Readonly<Record<string, Protocol>>)[word] ?? checkProtocol(word);
}

/** The protocol named by v; TypeError or RangeError (listing the known ones) otherwise. */
export function checkProtocol(v: unknown): Protocol {
  if (typeof v !== 'string') throw new TypeError(`protocol must be a string, got ${JSON.stringify(v)}`);
  if (!(PROTOCOLS as readonly string[]).includes(v)) throw new RangeError(`unknown protocol "${v}"; known: ${PROTOCOLS.join(', ')}`);
  return v as Protocol;
}

// ---- http-hello ------------------------------------------------------------------------------

/** The path http-hello answers 200 on, and where clients send requests and WebSocket upgrades unless told otherwise. */
export const HTTP_HELLO_PATH = '/';

/** GET / answers 200 with this body (HEAD / the same, without it); anything else answers 404 with HTTP_NOT_FOUND_BODY. */
export const HTTP_HELLO_BODY = 'Hello, World!';
export const HTTP_NOT_FOUND_BODY = 'Not Found';
export const HTTP_CONTENT_TYPE = 'text/plain';

/** True for the one request that gets 200: method GET (or HEAD) and path "/" (a query string is allowed). */
export function isHelloRequest(method: string | undefined, url: string | undefined): boolean {
  // HEAD is GET without the body (RFC 9110 9.3.2): the same status, as the native static path answers.
  return (method === 'GET' || method === 'HEAD') && url !== undefined && (url === '/' || url.startsWith('/?'));
}

// ---- frame-echo ------------------------------------------------------------------------------

/** A frame is a 4-byte big-endian payload length, then the payload (native/proto/frame.h). */
export const FRAME_HEADER_BYTES = 4;

/** Largest length the header can carry. */
export const FRAME_MAX_LENGTH = 0xffff_ffff;

export function encodeFrame(payload: Uint8Array): Buffer {
  if (payload.length > FRAME_MAX_LENGTH) throw new RangeError(`frame payload of ${payload.length} bytes does not fit a 32-bit length`);
  const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload.length);
  out.writeUInt32BE(payload.length, 0);
  out.set(payload, FRAME_HEADER_BYTES);
  return out;
}

/**
 * Called with a run of consecutive complete frames, headers included, exactly as they arrived
 * (a view into the received chunk, or the buffer a split frame was reassembled in).
 */
export type FrameRunHandler = (run: Buffer, frames: number) => void;

/** Thrown by FrameDecoder for a header announcing more than the maximum payload. */
export class FrameTooLargeError extends RangeError {
  constructor(
    readonly length: number,
    readonly maxPayload: number,
  ) {
    super(`frame of ${length} bytes exceeds the maximum of ${maxPayload}`);
    this.name = 'FrameTooLargeError';
  }
}

/**
 * Splits a byte stream into frames. Complete frames inside a chunk are handed on as one run
 * without copying; only a frame split across chunks is copied, into a buffer allocated once
 * its header is known. A header announcing more than maxPayload throws FrameTooLargeError after
 * the frames before it were handed on; the stream cannot be resynchronised after that.
 */
export class FrameDecoder {
  readonly #maxPayload: number;
  #pending: Buffer | null = null;
  #fill = 0;

  constructor(maxPayload: number) {
    this.#maxPayload = maxPayload;
  }

  /** Bytes held back waiting for the rest of a frame. */
  get pendingBytes(): number {
    return this.#fill;
  }

  push(chunk: Buffer, onRun: FrameRunHandler): void {
    let off = 0;
    if (this.#pending !== null) {
      off = this.#continue(chunk, onRun);
      if (this.#pending !== null) return;
    }
    const start = off;
    let frames = 0;
    while (chunk.length - off >= FRAME_HEADER_BYTES) {
      const len = chunk.readUInt32BE(off);
      if (len > this.#maxPayload) {
        if (frames > 0) onRun(chunk.subarray(start, off), frames);
        throw new FrameTooLargeError(len, this.#maxPayload);
      }
      const end = off + FRAME_HEADER_BYTES + len;
      if (end > chunk.length) break;
      off = end;
      frames++;
    }
    if (frames > 0) onRun(chunk.subarray(start, off), frames);
    if (off < chunk.length) this.#hold(chunk, off);
  }

  /** Convenience for clients: the payloads completed by chunk, in order. */
  payloads(chunk: Buffer): Buffer[] {
    const out: Buffer[] = [];
    this.push(chunk, (run) => {
      for (let off = 0; off < run.length; ) {
        const end = off + FRAME_HEADER_BYTES + run.readUInt32BE(off);
        out.push(run.subarray(off + FRAME_HEADER_BYTES, end));
        off = end;
      }
    });
    return out;
  }

  #check(len: number): number {
    if (len > this.#maxPayload) throw new FrameTooLargeError(len, this.#maxPayload);
    return len;
  }

  #hold(chunk: Buffer, off: number): void {
    const rest = chunk.length - off;
    const size = rest >= FRAME_HEADER_BYTES ? FRAME_HEADER_BYTES + this.#check(chunk.readUInt32BE(off)) : FRAME_HEADER_BYTES;
    this.#pending = Buffer.allocUnsafe(size);
    chunk.copy(this.#pending, 0, off);
    this.#fill = rest;
  }

  // Feeds the start of chunk into the pending frame; returns how many bytes it took.
  #continue(chunk: Buffer, onRun: FrameRunHandler): number {
    let pending = this.#pending as Buffer;
    let off = 0;
    if (this.#fill < FRAME_HEADER_BYTES) {
      off = Math.min(FRAME_HEADER_BYTES - this.#fill, chunk.length);
      chunk.copy(pending, this.#fill, 0, off);
      this.#fill += off;
      if (this.#fill < FRAME_HEADER_BYTES) return off;
      const full = Buffer.allocUnsafe(FRAME_HEADER_BYTES + this.#check(pending.readUInt32BE(0)));
      pending.copy(full, 0, 0, FRAME_HEADER_BYTES);
      this.#pending = pending = full;
    }
    const take = Math.min(pending.length - this.#fill, chunk.length - off);
    chunk.copy(pending, this.#fill, off, off + take);
    this.#fill += take;
    off += take;
    if (this.#fill === pending.length) {
      this.#pending = null;
      this.#fill = 0;
      onRun(pending, 1);
    }
    return off;
  }
}

// ---- ws-broadcast ----------------------------------------------------------------------------

/** A first text message "join:NAME" joins room NAME (when the URL did not name one). */
export const JOIN_PREFIX = 'join:';

/** The room named by "?room=NAME" in a request URL, or undefined. */
export function roomFromUrl(url: string | undefined): string | undefined {
  if (url === undefined) return undefined;
  const q = url.indexOf('?');
  if (q < 0) return undefined;
  const room = new URLSearchParams(url.slice(q + 1)).get('room');
  return room === null || room === '' ? undefined : room;
}

/** The room named by a "join:NAME" text message, or undefined when the message is not a join. */
export function roomFromJoin(message: Uint8Array): string | undefined {
  if (message.length <= JOIN_PREFIX.length) return undefined;
  for (let i = 0; i < JOIN_PREFIX.length; i++) {
    if (message[i] !== JOIN_PREFIX.charCodeAt(i)) return undefined;
  }
  return Buffer.from(message.buffer, message.byteOffset + JOIN_PREFIX.length, message.length - JOIN_PREFIX.length).toString('utf8');
}

// ---- what each protocol measures ------------------------------------------------------------

/**
 * Which counters a protocol has: messages (tcp-echo is a byte stream, it has none) and payload
 * bytes (an http-hello request carries none). Servers report the others as null.
 */
export function measures(protocol: Protocol): { messages: boolean; bytes: boolean } {
  return { messages: protocol !== 'tcp-echo', bytes: protocol !== 'http-hello' };
}
