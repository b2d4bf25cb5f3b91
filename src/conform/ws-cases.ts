// WebSocket conformance cases, from RFC 6455 (the Autobahn testsuite's sections are the map of
// behaviours: framing, pings and pongs, reserved bits, opcodes, fragmentation, UTF-8, close
// handling, limits), against a server that echoes every message with its type: ws-echo, or
// ws-broadcast in a room of one (its sender gets its own message back). Each case upgrades its
// own connection with raw bytes and says what the server did in plain words.

import { randomBytes } from 'node:crypto';
import { deviation, notApplicable, pass, type CaseContext, type ConformCase, type Level, type Verdict } from './case.js';
import { closePayload, describeFrame, encodeFrame, handshake, OP, upgradeRequest, withWire, wsAccept, WsWire, type Frame, type FrameSpec } from './raw.js';

/** Upgrades a fresh connection and runs f on it; a refused upgrade is a MUST deviation of the case. */
function withWs(ctx: CaseContext, f: (ws: WsWire) => Promise<Verdict>, glued?: Uint8Array): Promise<Verdict> {
  return withWire(ctx.target, ctx.waitMs, async (w) => {
    const h = await handshake(w, upgradeRequest(ctx.target, ctx.wsPath()), ctx.waitMs, glued);
    if (h.ws === null) return deviation('MUST', `a valid upgrade was not accepted: ${h.problem ?? `answered ${h.response?.status}`}`);
    return f(h.ws);
  });
}

const isClose = (f: Frame): boolean => f.opcode === OP.close;
const codeOf = (f: Frame): number | null => (f.payload.length >= 2 ? f.payload.readUInt16BE(0) : null);

/** The data and control frames the server sent before its close frame, if it sent one. */
function beforeClose(frames: readonly Frame[]): Frame[] {
  const i = frames.findIndex(isClose);
  return i < 0 ? [...frames] : frames.slice(0, i);
}

/**
 * Sends frames a conforming server must answer by failing the connection (RFC 6455 7.1.7):
 * nothing echoed, a close frame with `want` (SHOULD), and the TCP connection closed (MUST) once
 * the client has answered that close frame with its own, as a well-behaved client does.
 */
function expectFailure(ctx: CaseContext, frames: readonly FrameSpec[], want: number, what: string, prelude: readonly FrameSpec[] = []): Promise<Verdict> {
  return withWs(ctx, async (ws) => {
    if (prelude.length > 0) {
      await ws.send(prelude);
      // The prelude's answers (an echo) are waited for, so they are not taken for answers to the bad frames.
      await ws.until((fs) => fs.length >= prelude.length, ctx.waitMs);
    }
    const before = ws.frames().length;
    await ws.send([...frames]);
    const got = (await ws.until((fs) => fs.slice(before).some(isClose), ctx.waitMs)).slice(before);
    const answers = beforeClose(got).filter((f) => f.opcode !== OP.close);
    if (answers.length > 0) return deviation('MUST', `answered ${what} with ${answers.map(describeFrame).join(', ')} instead of failing the connection`);
    const close = got.find(isClose);
    if (close === undefined) {
      if (ws.wire.closed) return deviation('SHOULD', `closed the connection without a close frame on ${what}; want close ${want}`);
      return deviation('MUST', `kept the connection open for ${ctx.waitMs} ms after ${what}, without a close frame`);
    }
    await ws.send({ opcode: OP.close, payload: close.payload.subarray(0, 2) });
    const closed = await ws.wire.waitClosed(ctx.waitMs);
    const code = codeOf(close);
    if (code !== want) return deviation('SHOULD', `failed the connection on ${what} with ${code === null ? 'a close frame without a code' : `close code ${code}`}; want ${want}`);
    if (!closed) return deviation('SHOULD', `sent close ${want} but did not close TCP within ${ctx.waitMs} ms of the client's close`);
    return pass(`failed the connection with close ${want}`);
  });
}

/** Sends messages (frames) and checks the echoes: same type, same bytes, in order, unmasked, final. */
function expectEcho(ctx: CaseContext, frames: readonly FrameSpec[], want: ReadonlyArray<{ opcode: number; payload: Buffer }>, breaks: Level, what: string, glued = false): Promise<Verdict> {
  const run = async (ws: WsWire): Promise<Verdict> => {
    if (!glued) await ws.send([...frames]);
    const got = await ws.until((fs) => fs.filter((f) => f.opcode === OP.text || f.opcode === OP.binary || isClose(f)).length >= want.length || fs.some(isClose), ctx.waitMs);
    const data = got.filter((f) => f.opcode === OP.text || f.opcode === OP.binary);
    const close = got.find(isClose);
    for (const [i, w] of want.entries()) {
      const f = data[i];
      if (f === undefined) {
        const how = close ? `sent ${describeFrame(close)}` : ws.wire.closed ? 'closed the connection' : `sent nothing more within ${ctx.waitMs} ms`;
        return deviation(breaks, `${what}: ${i === 0 ? 'no echo' : `${i} of ${want.length} echoes`}; the server ${how}`);
      }
      if (f.masked) return deviation('MUST', `${what}: the server masked its frame (a server MUST NOT mask)`);
      if (!f.fin) return deviation(breaks, `${what}: echo ${i} came fragmented (not checked here), want one frame`);
      if (f.opcode !== w.opcode || !f.payload.equals(w.payload)) return deviation(breaks, `${what}: echo ${i} is ${describeFrame(f)}, want a ${w.opcode === OP.text ? 'text' : 'binary'} frame of ${w.payload.length} bytes with the same bytes`);
    }
    return pass(`${what}: ${want.length} echo${want.length === 1 ? '' : 'es'} as sent`);
  };
  if (!glued) return withWs(ctx, run);
  return withWs(ctx, run, Buffer.concat(frames.map(encodeFrame)));
}

const text = (s: string): { opcode: number; payload: Buffer } => ({ opcode: OP.text, payload: Buffer.from(s, 'utf8') });

/** A handshake variant the server must refuse: pass on a non-101 answer (`ok` decides which). */
function expectRefused(ctx: CaseContext, request: string, what: string, ok: (status: number, headers: Record<string, string>) => string | null): Promise<Verdict> {
  return withWire(ctx.target, ctx.waitMs, async (w) => {
    const h = await handshake(w, request, ctx.waitMs);
    if (h.response === null) return deviation('MUST', `${h.problem ?? 'no answer'} to ${what}; want an HTTP error status`);
    if (h.response.status === 101) return deviation('MUST', `accepted ${what} with 101`);
    const problem = ok(h.response.status, h.response.headers);
    return problem === null ? pass(`refused with ${h.response.status}`) : deviation('MUST', `refused ${what} with ${h.response.status}, but ${problem}`);
  });
}

const is4xx = (s: number): boolean => s >= 400 && s < 500;

/** The largest message limit the 1009 case probes: a message one byte over it is built, masked and sent whole. */
const MAX_PROBED_LIMIT = 16 * 1024 * 1024;

/** Invalid UTF-8: "κόσμε" followed by an encoded surrogate (ED A0 80), Autobahn 6.3.1's bytes. */
const BAD_UTF8 = Buffer.from('cebae1bdb9cf83cebcceb5eda080656469746564', 'hex');
/** "κόσμε" with its second code point (3 bytes, E1 BD B9) cut after its first byte by a fragment boundary. */
const KOSME = Buffer.from('κόσμε', 'utf8');

export const WS_CASES: readonly ConformCase[] = [
  {
    id: 'ws.handshake',
    family: 'ws',
    source: 'RFC 6455 §4.2.2',
    level: 'MUST',
    requirement: 'A valid opening handshake is answered 101 with Upgrade: websocket, Connection: Upgrade and the Sec-WebSocket-Accept derived from the key.',
    sends: 'a valid upgrade request',
    quick: true,
    run: (ctx) =>
      withWire(ctx.target, ctx.waitMs, async (w) => {
        const key = randomBytes(16).toString('base64');
        const h = await handshake(w, upgradeRequest(ctx.target, ctx.wsPath(), { key }), ctx.waitMs);
        const r = h.response;
        if (r === null) return deviation('MUST', h.problem ?? 'no answer');
        if (r.status !== 101) return deviation('MUST', `answered ${r.status}; want 101`);
        if (r.headers['upgrade']?.toLowerCase() !== 'websocket') return deviation('MUST', `101 with Upgrade: ${JSON.stringify(r.headers['upgrade'])}`);
        if (!/\bupgrade\b/i.test(r.headers['connection'] ?? '')) return deviation('MUST', `101 with Connection: ${JSON.stringify(r.headers['connection'])}`);
        if (r.headers['sec-websocket-accept'] !== wsAccept(key)) return deviation('MUST', `101 with Sec-WebSocket-Accept ${JSON.stringify(r.headers['sec-websocket-accept'])}; want ${wsAccept(key)}`);
        return pass('101 with the right accept value');
      }),
  },
  {
    id: 'ws.handshake-version',
    family: 'ws',
    source: 'RFC 6455 §4.2.2 (4), §4.4',
    level: 'MUST',
    requirement: 'An upgrade with a version the server does not speak MUST be refused with an HTTP error (such as 426) and a Sec-WebSocket-Version field listing the versions it speaks.',
    sends: 'an upgrade with Sec-WebSocket-Version: 12',
    quick: true,
    run: (ctx) =>
      expectRefused(ctx, upgradeRequest(ctx.target, ctx.wsPath(), { fields: { 'Sec-WebSocket-Version': '12' } }), 'version 12', (status, headers) => {
        if (!is4xx(status)) return `${status} is not a client error`;
        return /\b13\b/.test(headers['sec-websocket-version'] ?? '') ? null : 'without a Sec-WebSocket-Version field naming 13';
      }),
  },
  {
    id: 'ws.handshake-key',
    family: 'ws',
    source: 'RFC 6455 §4.2.1 (5)',
    level: 'MUST',
    requirement: 'A Sec-WebSocket-Key that is not 16 bytes in base64 makes the handshake invalid: the server MUST answer an HTTP error (such as 400).',
    sends: 'an upgrade with Sec-WebSocket-Key: "not-a-key"',
    quick: true,
    run: (ctx) => expectRefused(ctx, upgradeRequest(ctx.target, ctx.wsPath(), { key: 'not-a-key' }), 'an invalid key', (status) => (is4xx(status) ? null : `${status} is not a client error`)),
  },
  {
    id: 'ws.handshake-upgrade',
    family: 'ws',
    source: 'RFC 6455 §4.2.1 (3, 4)',
    level: 'MUST',
    requirement: 'Without the "Upgrade" token in Connection the request is no upgrade: it MUST NOT be answered 101.',
    sends: 'an upgrade with Connection: keep-alive',
    quick: true,
    run: (ctx) => expectRefused(ctx, upgradeRequest(ctx.target, ctx.wsPath(), { fields: { Connection: 'keep-alive' } }), 'an upgrade without Connection: Upgrade', () => null),
  },
  {
    id: 'ws.handshake-method',
    family: 'ws',
    source: 'RFC 6455 §4.2.1 (1)',
    level: 'MUST',
    requirement: 'The opening handshake is a GET: a POST with the upgrade fields MUST NOT be answered 101.',
    sends: 'POST with the upgrade fields',
    quick: true,
    run: (ctx) => expectRefused(ctx, upgradeRequest(ctx.target, ctx.wsPath(), { method: 'POST', fields: { 'Content-Length': '0' } }), 'a POST upgrade', () => null),
  },
  {
    id: 'ws.frame-with-upgrade',
    family: 'ws',
    source: 'RFC 6455 §4.1, §5; RFC 9110 §7.8',
    level: 'SHOULD',
    requirement: 'Bytes after the upgrade request are WebSocket frames: a frame that arrives in the same packet as the request is read, not dropped.',
    sends: 'the upgrade request and a masked text frame in one write',
    quick: true,
    run: (ctx) => expectEcho(ctx, [{ opcode: OP.text, payload: 'glued' }], [text('glued')], 'SHOULD', 'a frame sent with the upgrade request', true),
  },
  {
    id: 'ws.echo',
    family: 'ws',
    source: 'RFC 6455 §5.1, §5.6',
    level: 'MUST',
    requirement: 'Text and binary messages come back with their type, unmasked (a server MUST NOT mask).',
    sends: 'a text frame and a 256-byte binary frame',
    quick: true,
    run: (ctx) => {
      const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
      return expectEcho(ctx, [{ opcode: OP.text, payload: 'Hello' }, { opcode: OP.binary, payload: bytes }], [text('Hello'), { opcode: OP.binary, payload: bytes }], 'MUST', 'text and binary');
    },
  },
  {
    id: 'ws.payload-lengths',
    family: 'ws',
    source: 'RFC 6455 §5.2',
    level: 'MUST',
    requirement: 'Payload lengths in the 7-bit, 16-bit and 64-bit forms are read alike.',
    sends: 'binary messages of 125, 126, 65,535 and 65,536 bytes',
    quick: true,
    run: (ctx) => {
      const sizes = [125, 126, 65535, 65536];
      const payloads = sizes.map((n) => randomBytes(n));
      return expectEcho(ctx, payloads.map((payload) => ({ opcode: OP.binary, payload })), payloads.map((payload) => ({ opcode: OP.binary, payload })), 'MUST', `${sizes.join(', ')}-byte messages`);
    },
  },
  {
    id: 'ws.fragments-with-pings',
    family: 'ws',
    source: 'RFC 6455 §5.4, §5.5.2',
    level: 'MUST',
    requirement: 'A fragmented message is reassembled, and pings between its fragments are answered with pongs carrying the same data.',
    sends: 'text "frag" (not final), ping "p1", continuation "ment", ping "p2", continuation "ed" (final)',
    quick: true,
    run: (ctx) =>
      withWs(ctx, async (ws) => {
        await ws.send([
          { opcode: OP.text, payload: 'frag', fin: false },
          { opcode: OP.ping, payload: 'p1' },
          { opcode: OP.continuation, payload: 'ment', fin: false },
          { opcode: OP.ping, payload: 'p2' },
          { opcode: OP.continuation, payload: 'ed' },
        ]);
        const got = await ws.until((fs) => fs.filter((f) => f.opcode === OP.pong).length >= 2 && fs.some((f) => f.opcode === OP.text), ctx.waitMs);
        const pongs = got.filter((f) => f.opcode === OP.pong).map((f) => f.payload.toString());
        const echo = got.find((f) => f.opcode === OP.text);
        const close = got.find(isClose);
        if (pongs.join(',') !== 'p1,p2') return deviation('MUST', `answered the pings with ${pongs.length === 0 ? 'no pong' : `pongs ${JSON.stringify(pongs)}`}${close ? ` and ${describeFrame(close)}` : ''}; want pongs "p1", "p2"`);
        if (echo === undefined || echo.payload.toString() !== 'fragmented') return deviation('MUST', `echoed ${echo ? JSON.stringify(echo.payload.toString()) : 'nothing'}; want "fragmented"`);
        return pass('two pongs and the message whole');
      }),
  },
  {
    id: 'ws.ping-125',
    family: 'ws',
    source: 'RFC 6455 §5.5.2, §5.5.3',
    level: 'MUST',
    requirement: 'A ping is answered by a pong with identical application data, up to the 125 bytes a control frame may carry.',
    sends: 'a ping with 125 bytes',
    quick: true,
    run: (ctx) =>
      withWs(ctx, async (ws) => {
        const data = randomBytes(125);
        await ws.send({ opcode: OP.ping, payload: data });
        const got = await ws.until((fs) => fs.some((f) => f.opcode === OP.pong || isClose(f)), ctx.waitMs);
        const pong = got.find((f) => f.opcode === OP.pong);
        if (pong === undefined) return deviation('MUST', `no pong within ${ctx.waitMs} ms${got[0] ? `; sent ${describeFrame(got[0])}` : ''}`);
        if (!pong.payload.equals(data)) return deviation('MUST', `a pong of ${pong.payload.length} bytes that differ from the ping's`);
        return pass('a pong with the same 125 bytes');
      }),
  },
  {
    id: 'ws.pong-unsolicited',
    family: 'ws',
    source: 'RFC 6455 §5.5.3',
    level: 'MUST',
    requirement: 'An unsolicited pong expects no answer; the connection carries on.',
    sends: 'a pong, then text "after"',
    quick: true,
    run: (ctx) => expectEcho(ctx, [{ opcode: OP.pong, payload: 'unasked' }, { opcode: OP.text, payload: 'after' }], [text('after')], 'MUST', 'a message after an unsolicited pong'),
  },
  {
    id: 'ws.unmasked',
    family: 'ws',
    source: 'RFC 6455 §5.1',
    level: 'MUST',
    requirement: 'The server MUST close the connection on a frame from the client that is not masked (it MAY send close 1002 first).',
    sends: 'an unmasked text frame',
    quick: true,
    run: (ctx) => expectFailure(ctx, [{ opcode: OP.text, payload: 'bare', mask: false }], 1002, 'an unmasked frame'),
  },
  {
    id: 'ws.control-too-long',
    family: 'ws',
    source: 'RFC 6455 §5.5',
    level: 'MUST',
    requirement: 'Control frames carry at most 125 bytes: a longer ping fails the connection (close 1002).',
    sends: 'a ping with 126 bytes',
    quick: true,
    run: (ctx) => expectFailure(ctx, [{ opcode: OP.ping, payload: randomBytes(126) }], 1002, 'a 126-byte ping'),
  },
  {
    id: 'ws.control-fragmented',
    family: 'ws',
    source: 'RFC 6455 §5.5',
    level: 'MUST',
    requirement: 'Control frames MUST NOT be fragmented: a ping without FIN fails the connection (close 1002).',
    sends: 'a ping with FIN clear',
    quick: true,
    run: (ctx) => expectFailure(ctx, [{ opcode: OP.ping, payload: 'split', fin: false }], 1002, 'a fragmented ping'),
  },
  {
    id: 'ws.reserved-bits',
    family: 'ws',
    source: 'RFC 6455 §5.2',
    level: 'MUST',
    requirement: 'A reserved bit set without an extension that defines it MUST fail the connection (close 1002).',
    sends: 'a text frame with RSV1 set',
    quick: true,
    run: (ctx) => expectFailure(ctx, [{ opcode: OP.text, payload: 'rsv', rsv: 4 }], 1002, 'a frame with RSV1 set'),
  },
  {
    id: 'ws.reserved-opcode-data',
    family: 'ws',
    source: 'RFC 6455 §5.2',
    level: 'MUST',
    requirement: 'An unknown opcode MUST fail the connection (close 1002).',
    sends: 'a frame with opcode 0x3',
    quick: true,
    run: (ctx) => expectFailure(ctx, [{ opcode: 0x3, payload: 'x' }], 1002, 'opcode 0x3'),
  },
  {
    id: 'ws.reserved-opcode-control',
    family: 'ws',
    source: 'RFC 6455 §5.2',
    level: 'MUST',
    requirement: 'An unknown control opcode MUST fail the connection (close 1002).',
    sends: 'a frame with opcode 0xB',
    quick: true,
    run: (ctx) => expectFailure(ctx, [{ opcode: 0xb, payload: 'x' }], 1002, 'opcode 0xB'),
  },
  {
    id: 'ws.continuation-first',
    family: 'ws',
    source: 'RFC 6455 §5.4',
    level: 'MUST',
    requirement: 'A continuation frame with no message begun fails the connection (close 1002).',
    sends: 'a final continuation frame on a fresh connection',
    quick: true,
    run: (ctx) => expectFailure(ctx, [{ opcode: OP.continuation, payload: 'orphan' }], 1002, 'a continuation with nothing to continue'),
  },
  {
    id: 'ws.interleaved-messages',
    family: 'ws',
    source: 'RFC 6455 §5.4',
    level: 'MUST',
    requirement: 'The fragments of one message MUST NOT be interleaved with another message: a new text frame before the final fragment fails the connection (close 1002).',
    sends: 'text "a" (not final), then text "b" (final)',
    quick: true,
    run: (ctx) => expectFailure(ctx, [{ opcode: OP.text, payload: 'a', fin: false }, { opcode: OP.text, payload: 'b' }], 1002, 'a new message inside a fragmented one'),
  },
  {
    id: 'ws.close-echo',
    family: 'ws',
    source: 'RFC 6455 §5.5.1, §7.1.1',
    level: 'MUST',
    requirement: 'A close frame MUST be answered with a close frame (usually echoing the code); the server SHOULD then close TCP first.',
    sends: 'close 1000 "bye"',
    quick: true,
    run: (ctx) =>
      withWs(ctx, async (ws) => {
        await ws.send({ opcode: OP.close, payload: closePayload(1000, 'bye') });
        const close = (await ws.until((fs) => fs.some(isClose), ctx.waitMs)).find(isClose);
        if (close === undefined) return deviation('MUST', ws.wire.closed ? 'closed TCP without answering the close frame' : `no close frame within ${ctx.waitMs} ms`);
        if (!(await ws.wire.waitClosed(ctx.waitMs))) return deviation('SHOULD', `answered with ${describeFrame(close)} but left TCP open for ${ctx.waitMs} ms`);
        return pass(`answered with ${describeFrame(close)}, then closed TCP`);
      }),
  },
  {
    id: 'ws.close-payload-1-byte',
    family: 'ws',
    source: 'RFC 6455 §5.5.1',
    level: 'MUST',
    requirement: 'A close body starts with a 2-byte code: a 1-byte body is a protocol error (close 1002).',
    sends: 'a close frame with a 1-byte payload',
    quick: true,
    run: (ctx) => expectFailure(ctx, [{ opcode: OP.close, payload: Buffer.from([0x03]) }], 1002, 'a 1-byte close payload'),
  },
  {
    id: 'ws.close-code-invalid',
    family: 'ws',
    source: 'RFC 6455 §7.4.1, §7.4.2',
    level: 'SHOULD',
    requirement: 'Codes below 1000, 1004-1006, 1015-2999 unassigned are not valid on the wire: such a close is answered as a protocol error (close 1002), as Autobahn 7.9 expects.',
    sends: 'close 999, 1005, 1016 and 2999, each on its own connection',
    quick: true,
    boundMs: (ctx) => 4 * (3 * ctx.waitMs + 1000) + 2000,
    run: async (ctx) => {
      for (const code of [999, 1005, 1016, 2999]) {
        const v = await expectFailure(ctx, [{ opcode: OP.close, payload: closePayload(code) }], 1002, `close code ${code}`);
        if (v.status !== 'pass') return v.status === 'deviation' ? deviation('SHOULD', v.detail) : v;
      }
      return pass('answered each invalid code with close 1002');
    },
  },
  {
    id: 'ws.close-reason-utf8',
    family: 'ws',
    source: 'RFC 6455 §5.5.1, §8.1',
    level: 'MUST',
    requirement: 'A close reason is UTF-8: an invalid one fails the connection (close 1007).',
    sends: 'close 1000 with the reason bytes FF FE',
    quick: true,
    run: (ctx) => expectFailure(ctx, [{ opcode: OP.close, payload: closePayload(1000, Buffer.from([0xff, 0xfe])) }], 1007, 'a close reason that is not UTF-8'),
  },
  {
    id: 'ws.utf8-invalid',
    family: 'ws',
    source: 'RFC 6455 §8.1, §5.6',
    level: 'MUST',
    requirement: 'A text message that is not valid UTF-8 MUST fail the connection (close 1007).',
    sends: 'a text frame holding an encoded surrogate (ED A0 80)',
    quick: true,
    run: (ctx) => expectFailure(ctx, [{ opcode: OP.text, payload: BAD_UTF8 }], 1007, 'text that is not UTF-8'),
  },
  {
    id: 'ws.utf8-split-code-point',
    family: 'ws',
    source: 'RFC 6455 §5.6, §8.1',
    level: 'MUST',
    requirement: 'UTF-8 is checked over the whole message: a code point cut by a fragment boundary is valid.',
    sends: 'text "κόσμε" in two fragments, cut inside the 3-byte "ό"',
    quick: true,
    run: (ctx) =>
      expectEcho(ctx, [{ opcode: OP.text, payload: KOSME.subarray(0, 3), fin: false }, { opcode: OP.continuation, payload: KOSME.subarray(3) }], [{ opcode: OP.text, payload: KOSME }], 'MUST', 'a code point split across fragments'),
  },
  {
    id: 'ws.message-too-big',
    family: 'ws',
    source: 'RFC 6455 §7.4.1, §10.4',
    level: 'SHOULD',
    requirement: 'A message over the server\'s limit is refused with close 1009 (Message Too Big), not echoed.',
    sends: 'a binary message one byte over the contender\'s maxMessageBytes',
    quick: true,
    run: (ctx) => {
      const limit = ctx.maxMessageBytes;
      if (limit === null) return Promise.resolve(notApplicable('the contender reports no message limit'));
      if (limit > MAX_PROBED_LIMIT) return Promise.resolve(notApplicable(`the contender's limit of ${limit} bytes is more than this case sends (${MAX_PROBED_LIMIT})`));
      return expectFailure(ctx, [{ opcode: OP.binary, payload: Buffer.alloc(limit + 1, 0x61) }], 1009, `a ${limit + 1}-byte message (limit ${limit})`).then((v) =>
        v.status === 'deviation' ? deviation('SHOULD', v.detail) : v,
      );
    },
  },
];
