// HTTP/1.1 conformance cases, from RFC 9112 (message syntax, framing, connections) and RFC 9110
// (semantics), against an http-hello server: GET / answers 200 "Hello, World!", any other path
// 404 (src/wire/protocols.ts). Each case sends its own bytes on its own connection and says what
// the server did in plain words. 204 is not here: nothing in http-hello can ask for one.

import { HTTP_HELLO_BODY } from '../wire/protocols.js';
import type { Target } from '../wire/clients/tcp.js';
import { deviation, notApplicable, pass, type CaseContext, type ConformCase, type Level, type Verdict } from './case.js';
import { parseResponses, preview, readResponses, statuses, withWire, type RawResponse, type Wire } from './raw.js';

const hostLine = (t: Target): string => `Host: ${t.host}:${t.port}\r\n`;
const get = (t: Target, path = '/', extra = ''): string => `GET ${path} HTTP/1.1\r\n${hostLine(t)}${extra}\r\n`;

const isHello = (r: RawResponse | undefined): boolean => r !== undefined && r.status === 200 && r.body.toString('latin1') === HTTP_HELLO_BODY;

/** "200 with a 13-byte body", "no answer within 1000 ms", "closed the connection without an answer". */
function answered(r: RawResponse | undefined, wire: Wire, ctx: CaseContext, rest: Buffer = wire.bytes()): string {
  if (r !== undefined) return `answered ${r.status}${r.body.length > 0 ? ` with a ${r.body.length}-byte body` : ''}`;
  const got = rest;
  if (got.length > 0) return `answered ${preview(got)}`;
  return wire.closed ? 'closed the connection without an answer' : `gave no answer within ${ctx.waitMs} ms`;
}

/** One request, one answer: pass when ok(answer), else a deviation naming what came back. */
async function oneAnswer(ctx: CaseContext, request: string | Uint8Array, breaks: Level, ok: (r: RawResponse) => boolean, want: string): Promise<Verdict> {
  return withWire(ctx.target, ctx.waitMs, async (w) => {
    await w.write(request);
    const { responses } = await readResponses(w, 1, ctx.waitMs);
    const r = responses[0];
    if (r !== undefined && ok(r)) return pass(`answered ${r.status}`);
    return deviation(breaks, `${answered(r, w, ctx)}; want ${want}`);
  });
}

/** The status of a request the server must refuse, and that it then closes (an error loses the framing). */
async function refusedAndClosed(ctx: CaseContext, request: string, want: number, what: string): Promise<Verdict> {
  return withWire(ctx.target, ctx.waitMs, async (w) => {
    await w.write(request);
    const { responses } = await readResponses(w, 1, ctx.waitMs);
    const r = responses[0];
    if (r === undefined || r.status !== want) return deviation('MUST', `${answered(r, w, ctx)} to ${what}; want ${want}, then close`);
    if (!(await w.waitClosed(ctx.waitMs))) return deviation('MUST', `answered ${want} but left the connection open for ${ctx.waitMs} ms; it must close`);
    return pass(`answered ${want} and closed`);
  });
}

const BAD_HEAD_FIELD = 'X-Conform : 1\r\n';

export const HTTP_CASES: readonly ConformCase[] = [
  {
    id: 'http.pipelining',
    family: 'http',
    source: 'RFC 9112 §9.3.2',
    level: 'MUST',
    requirement: 'A server answers pipelined requests, and MUST send the responses in the order the requests were received.',
    sends: 'GET /, GET /missing, GET / in one write',
    quick: true,
    run: (ctx) =>
      withWire(ctx.target, ctx.waitMs, async (w) => {
        await w.write(get(ctx.target) + get(ctx.target, '/missing') + get(ctx.target));
        const { responses, error } = await readResponses(w, 3, ctx.waitMs);
        const got = responses.map((r) => r.status).join(', ');
        if (responses.length === 0) return deviation('MUST', `${answered(undefined, w, ctx)} to 3 pipelined requests`);
        if (responses.length < 3) return deviation('MUST', `answered only ${got} to 3 pipelined requests${w.closed ? ', then closed' : ` within ${ctx.waitMs} ms`}${error ? ` (${error})` : ''}`);
        if (!(isHello(responses[0]) && responses[1]?.status === 404 && isHello(responses[2]))) return deviation('MUST', `answered ${got}; want 200, 404, 200 in that order`);
        return pass('3 answers, in order');
      }),
  },
  {
    id: 'http.split-every-byte',
    family: 'http',
    source: 'RFC 9112 §2.2',
    level: 'MUST',
    requirement: 'A recipient MUST parse a message as a sequence of octets: however TCP cuts it, the same request gets the same answer.',
    sends: 'GET / with each byte in its own segment, 2 ms apart',
    quick: true,
    boundMs: (ctx) => 4 * ctx.waitMs + 3000,
    run: (ctx) =>
      withWire(ctx.target, ctx.waitMs, async (w) => {
        const req = Buffer.from(get(ctx.target), 'latin1');
        const sent = await w.trickle(req, 1, 2);
        const { responses } = await readResponses(w, 1, ctx.waitMs);
        const r = responses[0];
        if (isHello(r)) return pass(`answered 200 to ${req.length} one-byte segments`);
        const at = sent < req.length ? ` after ${sent} of ${req.length} bytes (${preview(req.subarray(0, sent))})` : '';
        return deviation('MUST', `${answered(r, w, ctx)} to GET / sent one byte at a time${at}; want 200`);
      }),
  },
  {
    id: 'http.pipeline-before-bad',
    family: 'http',
    source: 'RFC 9112 §9.3.2, §5.1',
    level: 'MUST',
    requirement: 'A valid request pipelined before a malformed one is answered first; the malformed one gets 400.',
    sends: 'GET / then a request with whitespace before a colon, in one write',
    quick: true,
    run: (ctx) =>
      withWire(ctx.target, ctx.waitMs, async (w) => {
        await w.write(get(ctx.target) + get(ctx.target, '/', BAD_HEAD_FIELD));
        const { responses, rest } = await readResponses(w, 2, ctx.waitMs);
        if (!isHello(responses[0])) {
          const what = responses.length === 0 ? answered(undefined, w, ctx) : `answered ${statuses(responses)}`;
          return deviation('MUST', `${what}: the valid request before the malformed one got no 200`);
        }
        if (responses[1]?.status !== 400) return deviation('MUST', `answered the valid request, then ${answered(responses[1], w, ctx, rest)} to the malformed one; want 400`);
        return pass('answered 200, then 400');
      }),
  },
  {
    id: 'http.space-before-colon',
    family: 'http',
    source: 'RFC 9112 §5.1',
    level: 'MUST',
    requirement: 'A server MUST reject with 400 a request with whitespace between a field name and its colon.',
    sends: 'GET / with "X-Conform : 1"',
    quick: true,
    run: (ctx) => refusedAndClosed(ctx, get(ctx.target, '/', BAD_HEAD_FIELD), 400, 'whitespace before a colon'),
  },
  {
    id: 'http.no-host',
    family: 'http',
    source: 'RFC 9112 §3.2',
    level: 'MUST',
    requirement: 'A server MUST answer 400 to an HTTP/1.1 request without a Host field.',
    sends: 'GET / HTTP/1.1 without Host',
    quick: true,
    run: (ctx) => oneAnswer(ctx, 'GET / HTTP/1.1\r\n\r\n', 'MUST', (r) => r.status === 400, '400'),
  },
  {
    id: 'http.two-hosts',
    family: 'http',
    source: 'RFC 9112 §3.2',
    level: 'MUST',
    requirement: 'A server MUST answer 400 to a request with more than one Host field line.',
    sends: 'GET / with two Host lines',
    quick: true,
    run: (ctx) => oneAnswer(ctx, get(ctx.target, '/', 'Host: other.example\r\n'), 'MUST', (r) => r.status === 400, '400'),
  },
  {
    id: 'http.431-head-size',
    family: 'http',
    source: 'RFC 9110 §5.4; RFC 6585 §5',
    level: 'MUST',
    requirement: 'A header section larger than the server wishes to process MUST get a 4xx; 431 says which.',
    sends: 'GET / with one 64 KiB field',
    quick: true,
    run: (ctx) => limitCase(ctx, get(ctx.target, '/', `X-Fill: ${'a'.repeat(64 * 1024)}\r\n`), 431, 'a 64 KiB header section'),
  },
  {
    id: 'http.431-field-count',
    family: 'http',
    source: 'RFC 9110 §5.4; RFC 6585 §5',
    level: 'MUST',
    requirement: 'More header fields than the server processes MUST get a 4xx (431), not be dropped in silence.',
    sends: 'GET / with 2,100 one-byte fields (21.5 KiB in all)',
    quick: true,
    run: (ctx) => limitCase(ctx, get(ctx.target, '/', Array.from({ length: 2100 }, (_, i) => `X-${i}: 1\r\n`).join('')), 431, '2,100 header fields'),
  },
  {
    id: 'http.413-body-size',
    family: 'http',
    source: 'RFC 9110 §15.5.14',
    level: 'SHOULD',
    requirement: 'A body larger than the server is willing to take is refused with 413, before it is sent.',
    sends: 'POST / with Content-Length: 1 TiB and no body yet',
    quick: true,
    run: (ctx) =>
      withWire(ctx.target, ctx.waitMs, async (w) => {
        await w.write(`POST / HTTP/1.1\r\n${hostLine(ctx.target)}Content-Length: ${2 ** 40}\r\n\r\n`);
        const { responses } = await readResponses(w, 1, ctx.waitMs);
        const r = responses[0];
        if (r?.status === 413) return pass('answered 413');
        return deviation('SHOULD', `${answered(r, w, ctx)} to a 1 TiB Content-Length; want 413`);
      }),
  },
  {
    id: 'http.505-version',
    family: 'http',
    source: 'RFC 9110 §15.6.6, §2.5',
    level: 'SHOULD',
    requirement: 'A request in a major version the server does not speak gets 505 (HTTP Version Not Supported).',
    sends: 'GET / HTTP/3.0',
    quick: true,
    run: (ctx) => oneAnswer(ctx, `GET / HTTP/3.0\r\n${hostLine(ctx.target)}\r\n`, 'SHOULD', (r) => r.status === 505, '505'),
  },
  {
    id: 'http.version-case',
    family: 'http',
    source: 'RFC 9112 §2.3, §3',
    level: 'SHOULD',
    requirement: 'HTTP-name is case-sensitive: "http/1.1" is an invalid request line, answered 400.',
    sends: 'GET / http/1.1',
    quick: true,
    run: (ctx) => oneAnswer(ctx, `GET / http/1.1\r\n${hostLine(ctx.target)}\r\n`, 'SHOULD', (r) => r.status === 400, '400'),
  },
  {
    id: 'http.smuggle-cl-te',
    family: 'http',
    source: 'RFC 9112 §6.1, §6.3',
    level: 'MUST',
    requirement: 'A request with both Content-Length and Transfer-Encoding may be refused or read by its chunked coding; either way the server MUST close the connection after answering.',
    sends: 'POST / with Content-Length: 5 and Transfer-Encoding: chunked, body "0\\r\\n\\r\\n"',
    quick: true,
    run: (ctx) =>
      withWire(ctx.target, ctx.waitMs, async (w) => {
        await w.write(`POST / HTTP/1.1\r\n${hostLine(ctx.target)}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`);
        const { responses } = await readResponses(w, 1, ctx.waitMs);
        const r = responses[0];
        if (await w.waitClosed(ctx.waitMs)) return pass(r === undefined ? 'closed without an answer' : `answered ${r.status} and closed`);
        return deviation('MUST', `${answered(r, w, ctx)} and left the connection open for ${ctx.waitMs} ms; it must close`);
      }),
  },
  {
    id: 'http.smuggle-two-cl',
    family: 'http',
    source: 'RFC 9112 §6.3 (5); RFC 9110 §8.6',
    level: 'MUST',
    requirement: 'Two different Content-Length values make the framing invalid: the server MUST answer 400 and close.',
    sends: 'POST / with Content-Length: 1 and Content-Length: 2',
    quick: true,
    run: (ctx) => refusedAndClosed(ctx, `POST / HTTP/1.1\r\n${hostLine(ctx.target)}Content-Length: 1\r\nContent-Length: 2\r\n\r\nab`, 400, 'two Content-Lengths'),
  },
  {
    id: 'http.head-no-body',
    family: 'http',
    source: 'RFC 9110 §9.3.2; RFC 9112 §6.3 (1)',
    level: 'MUST',
    requirement: 'The answer to HEAD is the answer to GET without its content: the server MUST NOT send a body.',
    sends: 'HEAD /, then GET / once the HEAD answer\'s head is in',
    quick: true,
    run: (ctx) =>
      withWire(ctx.target, ctx.waitMs, async (w) => {
        // HEAD alone, then GET once its head is in: body bytes after the HEAD head come before the GET's answer.
        await w.write(`HEAD / HTTP/1.1\r\n${hostLine(ctx.target)}\r\n`);
        await w.waitFor(() => w.bytes().includes('\r\n\r\n'), ctx.waitMs);
        await w.write(get(ctx.target));
        const noBody = (i: number): boolean => i === 0;
        await w.waitFor(() => {
          const p = parseResponses(w.bytes(), noBody, w.closed);
          return p.responses.length >= 2 || p.error !== null;
        }, ctx.waitMs);
        const { responses, rest } = parseResponses(w.bytes(), noBody, w.closed);
        const head = responses[0];
        if (head === undefined) return deviation('MUST', `${answered(undefined, w, ctx)} to HEAD /`);
        if (head.status !== 200) return deviation('MUST', `answered ${head.status} to HEAD /; want 200 as for GET /`);
        const bodyLen = Buffer.byteLength(HTTP_HELLO_BODY);
        if (rest.toString('latin1').startsWith(HTTP_HELLO_BODY)) return deviation('MUST', `answered 200 with a ${bodyLen}-byte body to HEAD`);
        const next = responses[1];
        if (!isHello(next)) return deviation('MUST', `answered 200 to HEAD without a body, then ${answered(next, w, ctx, rest)} to the GET / that followed on the connection; want 200`);
        return pass('answered 200 to HEAD without a body');
      }),
  },
  {
    id: 'http.304-no-body',
    family: 'http',
    source: 'RFC 9110 §15.4.5, §13.1.2; RFC 9112 §6.3 (1)',
    level: 'MUST',
    requirement: 'A 304 has no content; a server that does not evaluate preconditions answers 200 (then there is no 304 to check).',
    sends: 'GET / with If-None-Match: *, then GET / in one write',
    quick: true,
    run: (ctx) =>
      withWire(ctx.target, ctx.waitMs, async (w) => {
        await w.write(get(ctx.target, '/', 'If-None-Match: *\r\n') + get(ctx.target));
        const { responses, rest } = await readResponses(w, 2, ctx.waitMs);
        const first = responses[0];
        if (first === undefined) return deviation('MUST', answered(undefined, w, ctx));
        if (first.status !== 304) return notApplicable(`answered ${first.status}: the server does not evaluate If-None-Match, so it sends no 304`);
        if (rest.toString('latin1').startsWith(HTTP_HELLO_BODY) || !isHello(responses[1])) return deviation('MUST', 'sent bytes after the 304 head that are not the next answer (a body?)');
        return pass('answered 304 without a body');
      }),
  },
  {
    id: 'http.connection-close',
    family: 'http',
    source: 'RFC 9112 §9.6',
    level: 'MUST',
    requirement: 'After answering a request with "Connection: close" the server MUST close the connection, and SHOULD say "Connection: close" in its answer.',
    sends: 'GET / with Connection: close',
    quick: true,
    run: (ctx) =>
      withWire(ctx.target, ctx.waitMs, async (w) => {
        await w.write(get(ctx.target, '/', 'Connection: close\r\n'));
        const { responses } = await readResponses(w, 1, ctx.waitMs);
        const r = responses[0];
        if (!isHello(r)) return deviation('MUST', `${answered(r, w, ctx)}; want 200`);
        if (!(await w.waitClosed(ctx.waitMs))) return deviation('MUST', `answered 200 and left the connection open for ${ctx.waitMs} ms`);
        if (!/\bclose\b/i.test(r?.headers['connection'] ?? '')) return deviation('SHOULD', 'closed, but its answer did not say Connection: close');
        return pass('answered 200 with Connection: close, then closed');
      }),
  },
  {
    id: 'http.http10',
    family: 'http',
    source: 'RFC 9112 §9.3, §2.3',
    level: 'MUST',
    requirement: 'An HTTP/1.0 request without keep-alive is answered, and the connection closes after the answer.',
    sends: 'GET / HTTP/1.0 (no Host, no keep-alive)',
    quick: true,
    run: (ctx) =>
      withWire(ctx.target, ctx.waitMs, async (w) => {
        await w.write('GET / HTTP/1.0\r\n\r\n');
        await w.waitClosed(ctx.waitMs);
        const { responses } = parseResponses(w.bytes(), () => false, w.closed);
        const r = responses[0];
        if (!isHello(r)) return deviation('MUST', `${answered(r, w, ctx)} to an HTTP/1.0 GET /; want 200`);
        if (!w.closed) return deviation('MUST', `answered 200 and kept the HTTP/1.0 connection open for ${ctx.waitMs} ms`);
        return pass(`answered 200 (${r?.version}) and closed`);
      }),
  },
  {
    id: 'http.expect-100',
    family: 'http',
    source: 'RFC 9110 §10.1.1',
    level: 'MUST',
    requirement: 'On a head with "Expect: 100-continue" and a body to come, the server MUST send 100 (Continue) or a final status at once.',
    sends: 'POST / with Expect: 100-continue and Content-Length: 5, body held back',
    quick: true,
    run: (ctx) =>
      withWire(ctx.target, ctx.waitMs, async (w) => {
        await w.write(`POST / HTTP/1.1\r\n${hostLine(ctx.target)}Content-Length: 5\r\nExpect: 100-continue\r\n\r\n`);
        const first = (await readResponses(w, 1, ctx.waitMs)).responses[0];
        if (first === undefined) return deviation('MUST', `${answered(undefined, w, ctx)} to the head; want 100 or a final status`);
        if (first.status !== 100) return pass(`answered ${first.status} at once, without waiting for the body`);
        await w.write('hello');
        const final = (await readResponses(w, 2, ctx.waitMs)).responses[1];
        if (final === undefined) return deviation('MUST', `answered 100, then ${answered(undefined, w, ctx).replace('answered ', '')} after the body`);
        return pass(`answered 100, then ${final.status} after the body`);
      }),
  },
  {
    id: 'http.slowloris',
    family: 'http',
    source: 'RFC 9112 §9.5',
    level: 'MAY',
    requirement: 'A server MAY close a connection whose request head trickles in without end; one facing the internet needs a header timeout.',
    sends: 'GET / and Host at once, then header fields that never end, 1 byte every 200 ms',
    quick: false,
    boundMs: (ctx) => ctx.slowlorisMs + 2 * ctx.waitMs + 2000,
    run: (ctx) =>
      withWire(ctx.target, ctx.waitMs, async (w) => {
        const started = Date.now();
        // The request line and Host go at once, as a slowloris client sends them; then the rest of the head trickles.
        await w.write(`GET / HTTP/1.1\r\n${hostLine(ctx.target)}`);
        const fields = Buffer.from(Array.from({ length: 1000 }, (_, i) => `X-Slow-${i}: 1\r\n`).join(''), 'latin1');
        const sent = await w.trickle(fields, 1, 200, started + ctx.slowlorisMs);
        const secs = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
        if (w.closed || (await w.waitClosed(50))) {
          const said = parseResponses(w.bytes(), () => false, true).responses[0];
          const after = `after ${secs(Date.now() - started)} (${sent} bytes of fields trickled)`;
          // A timeout answers 408 (or nothing); a head limit 431; anything else is some other fault.
          if (said !== undefined && said.status !== 408 && said.status !== 431) return notApplicable(`answered ${said.status} to the unfinished head ${after}: some other fault, so no header timeout could be seen`);
          return pass(`closed ${after}${said ? `, answering ${said.status}` : ''}`);
        }
        return deviation('MAY', `still open after ${secs(Date.now() - started)} of 1 byte per 200 ms (${sent} bytes of an unfinished head)`);
      }),
  },
];

/** A request past a limit: pass on `want`; another 4xx breaks only the SHOULD; anything else the MUST. */
function limitCase(ctx: CaseContext, request: string, want: number, what: string): Promise<Verdict> {
  return withWire(ctx.target, ctx.waitMs, async (w) => {
    await w.write(request);
    const { responses } = await readResponses(w, 1, ctx.waitMs);
    const r = responses[0];
    if (r?.status === want) return pass(`answered ${want}`);
    if (r !== undefined && r.status >= 400 && r.status < 500) return deviation('SHOULD', `answered ${r.status} to ${what}, a 4xx but not ${want}`);
    return deviation('MUST', `${answered(r, w, ctx)} to ${what}; want ${want}`);
  });
}
