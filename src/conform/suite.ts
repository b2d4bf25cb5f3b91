// Which cases a protocol has, and the summary a measured run records beside its figures: the
// quick cases run against the contender the runner has just started, before it is measured.
// Cases speak HTTP/1.1 (http-hello) or WebSocket (ws-echo; ws-broadcast in a room of one, whose
// sender gets its own messages back); tcp-echo and frame-echo have no RFC to hold them to.

import { randomBytes } from 'node:crypto';
import type { Target } from '../wire/clients/tcp.js';
import type { Protocol } from '../wire/protocols.js';
import { runCases, type CaseContext, type ConformCase, type Family } from './case.js';
import { HTTP_CASES } from './http-cases.js';
import { summarize, type ConformanceSummary } from './summary.js';
import { WS_CASES } from './ws-cases.js';

export const ALL_CASES: readonly ConformCase[] = [...HTTP_CASES, ...WS_CASES];

/** The protocol each family of cases is run on by `c1m conform`. */
export const FAMILY_PROTOCOL: Readonly<Record<Family, Protocol>> = { http: 'http-hello', ws: 'ws-echo' };

/** The family of cases a protocol is held to, or null when no RFC describes it. */
export function familyOf(protocol: Protocol): Family | null {
  if (protocol === 'http-hello') return 'http';
  if (protocol === 'ws-echo' || protocol === 'ws-broadcast') return 'ws';
  return null;
}

export function casesFor(family: Family, quickOnly = false): ConformCase[] {
  return ALL_CASES.filter((c) => c.family === family && (!quickOnly || c.quick));
}

/** Default waits: a server owes its answers within this (loopback, an idle server). */
export const DEFAULT_WAIT_MS = 1000;
export const DEFAULT_SLOWLORIS_MS = 2000;

export function caseContext(target: Target, protocol: Protocol, o: { waitMs?: number; maxMessageBytes?: number | null; slowlorisMs?: number } = {}): CaseContext {
  return {
    target,
    protocol,
    wsPath: protocol === 'ws-broadcast' ? () => `/?room=c1m-conform-${randomBytes(6).toString('hex')}` : () => '/',
    waitMs: o.waitMs ?? DEFAULT_WAIT_MS,
    maxMessageBytes: o.maxMessageBytes ?? null,
    slowlorisMs: o.slowlorisMs ?? DEFAULT_SLOWLORIS_MS,
  };
}

/** How many quick cases a measured run's check runs at once. */
const QUICK_PARALLEL = 6;

/**
 * The quick cases of protocol against one server (the runner's check before measuring). The
 * cases that wait for a close the server owes wait `waitMs` at most, so a lax server costs a
 * few of those; a conforming one answers at once.
 */
export async function quickConformance(protocol: Protocol, target: Target, o: { waitMs?: number; maxMessageBytes?: number | null } = {}): Promise<ConformanceSummary> {
  const family = familyOf(protocol);
  if (family === null) return summarize(null, [], 0, `no conformance cases for ${protocol}: no RFC describes it`);
  const started = Date.now();
  const outcomes = await runCases(casesFor(family, true), caseContext(target, protocol, { waitMs: o.waitMs ?? 500, maxMessageBytes: o.maxMessageBytes ?? null }), QUICK_PARALLEL);
  return summarize(family, outcomes, Date.now() - started);
}
