// What a conformance case is, what it concludes, and how a list of them runs against one server:
// every case on its own connection, each bounded in time, a case that throws or overruns its
// bound recorded as what it saw rather than lost. The cases themselves are in http-cases.ts and
// ws-cases.ts, written from RFC 9110, RFC 9112 and RFC 6455.

import { errorMessage } from '../checks.js';
import type { Target } from '../wire/clients/tcp.js';
import type { Protocol } from '../wire/protocols.js';

/** RFC 2119 words: what the requirement a case checks says. */
export type Level = 'MUST' | 'SHOULD' | 'MAY';

/** The family of protocols a case speaks: HTTP/1.1 itself, or WebSocket on top of it. */
export type Family = 'http' | 'ws';

export type Verdict =
  | { status: 'pass'; detail: string }
  /** `breaks`: the strongest word of the requirement that was not met. */
  | { status: 'deviation'; breaks: Level; detail: string }
  | { status: 'n/a'; detail: string };

export const pass = (detail: string): Verdict => ({ status: 'pass', detail });
export const deviation = (breaks: Level, detail: string): Verdict => ({ status: 'deviation', breaks, detail });
export const notApplicable = (detail: string): Verdict => ({ status: 'n/a', detail });

export interface CaseContext {
  target: Target;
  /** The protocol the server was started with (http-hello, ws-echo or ws-broadcast). */
  protocol: Protocol;
  /** Where the next WebSocket upgrade goes: "/" for ws-echo; for ws-broadcast a room of its own each time (its sender gets its own messages back). */
  wsPath(): string;
  /** How long to wait for an answer the server owes, or for a close it owes. */
  waitMs: number;
  /** The contender's effective message limit (WebSocket), for the 1009 case. */
  maxMessageBytes: number | null;
  /** How long the slowloris case trickles before it concludes. */
  slowlorisMs: number;
}

export interface ConformCase {
  /** Stable name: "http.pipelining", "ws.utf8-invalid". */
  id: string;
  family: Family;
  /** Where the requirement is written: "RFC 9112 §9.3.2". */
  source: string;
  level: Level;
  /** What a conforming server does, in one sentence. */
  requirement: string;
  /** What the case sends, in words (the bytes are in the code). */
  sends: string;
  /** Part of the quick set a measured run checks; false for cases that take seconds (slowloris). */
  quick: boolean;
  /** The case's whole bound when it needs more than the usual (several connections, a long trickle). */
  boundMs?: (ctx: CaseContext) => number;
  run(ctx: CaseContext): Promise<Verdict>;
}

export interface CaseOutcome {
  id: string;
  verdict: Verdict;
  ms: number;
}

/** A case's whole bound: its own waits, plus room for connecting and a few writes. */
export function caseBoundMs(c: ConformCase, ctx: CaseContext): number {
  return c.boundMs?.(ctx) ?? 4 * ctx.waitMs + 2000;
}

/** Runs one case within its bound; a throw or an overrun becomes a deviation that says so. */
export async function runCase(c: ConformCase, ctx: CaseContext): Promise<CaseOutcome> {
  const started = Date.now();
  const bound = caseBoundMs(c, ctx);
  let timer: NodeJS.Timeout | undefined;
  let verdict: Verdict;
  try {
    verdict = await Promise.race([
      c.run(ctx),
      new Promise<Verdict>((resolve) => {
        timer = setTimeout(() => resolve(deviation(c.level, `the case did not finish within ${bound} ms`)), bound);
      }),
    ]);
  } catch (err) {
    verdict = deviation(c.level, `the case could not complete: ${errorMessage(err)}`);
  } finally {
    clearTimeout(timer);
  }
  return { id: c.id, verdict, ms: Date.now() - started };
}

/**
 * Runs cases against one server, one after another (a slow case, slowloris, runs beside the
 * others so it costs no more than its own bound), results in the order of the list. With
 * `parallel` above 1, that many cases run at once (the runner's quick check, where time counts
 * more than telling which case upset a server that fell over).
 */
export async function runCases(cases: readonly ConformCase[], ctx: CaseContext, parallel = 1): Promise<CaseOutcome[]> {
  const slow = cases.filter((c) => !c.quick);
  const side = Promise.all(slow.map((c) => runCase(c, ctx)));
  const queue = cases.filter((c) => c.quick);
  const quick: CaseOutcome[] = [];
  const lane = async (): Promise<void> => {
    for (let c = queue.shift(); c !== undefined; c = queue.shift()) quick.push(await runCase(c, ctx));
  };
  await Promise.all(Array.from({ length: Math.max(1, parallel) }, lane));
  const done = new Map([...quick, ...(await side)].map((o) => [o.id, o]));
  return cases.map((c) => done.get(c.id) as CaseOutcome);
}
