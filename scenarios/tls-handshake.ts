// What a TLS handshake costs the server: new connections at fixed rates from the native
// connector (its churn load), each asking once (GET /, one echo; over WebSocket one echo after the
// upgrade) and closed by the client on the answer: resumed handshakes, then full ones
// (resumed: each connection offers the ticket an earlier one was given). One request rides along because
// clients come for one, and because some servers (uWS) send their tickets only with their first
// write: a client that left before would never resume. Per step: connections per second, per
// server CPU-second, and the latency from when a connection was due to its answer (connect and
// handshake included), so a server that falls behind shows it in the percentiles; each group
// also counts its handshakes as the client saw them (full, resumed, failed), so a resumed step
// says how many really resumed. At a fixed offered rate every contender does the same work, so
// server CPU per handshake compares directly even though driver and server share the cores; the
// last full-handshake rate is the headline. Meanwhile the server holds --connections idle
// connections (established, over TLS, before the first step).
//
// The run is over TLS whatever --tls says (the certificate's key is --tls-key: ECDSA P-256 by
// default, RSA-2048 selectable). With --tls-tickets=false the servers issue no tickets, so the
// resumed steps measure what a client offering an unusable session gets: full handshakes.
// --tls=false runs the same churn over plain TCP: what a connection costs without TLS, for scale.

import { defineScenario, type LoadSpec, type Phase } from '../src/runner/scenario.js';

type Kind = 'full' | 'resumed';
const groupOf = (kind: Kind, rate: number): string => `${kind}-${rate}`;

export default defineScenario({
  name: 'tls-handshake',
  description: 'TLS handshakes per second and per server CPU-second, full and resumed, at fixed rates of new connections, with handshake latency',
  protocols: ['http-hello', 'ws-echo', 'tcp-echo'],
  contenders: ['epoll', 'epoll-native', 'net', 'uws'],
  contendersFor: {
    'http-hello': ['epoll', 'epoll-native', 'net', 'uws'],
    'ws-echo': ['epoll', 'epoll-native', 'net', 'uws'],
    'tcp-echo': ['epoll', 'epoll-native', 'net'],
  },
  kind: 'throughput',
  driver: 'native',
  defaults: { connections: 100, duration: 5, warmup: 1, tls: true },
  params: {
    rates: { type: 'list', items: 'int', default: [200, 600], min: 1, max: 1_000_000, help: 'new connections (handshakes) per second, one measured step each, full then resumed' },
    resumed: { type: 'bool', default: true, help: 'also measure resumed handshakes at every rate' },
  },
  load: { mode: 'idle', heartbeatMs: 0 },
  groups: (p) =>
    Object.fromEntries(
      kinds(p.resumed).flatMap((kind) =>
        p.rates.map((rate): [string, LoadSpec] => [groupOf(kind, rate), { mode: 'churn', rate, tlsResume: kind === 'resumed', responseTimeoutMs: 10_000 }]),
      ),
    ),
  phases: (p) => {
    if (new Set(p.rates).size !== p.rates.length) throw new RangeError(`--rates lists a rate twice: ${p.rates.join(',')}`);
    const run = { durationMs: p.duration * 1000, warmupMs: p.warmup * 1000 };
    // The server holds --connections idle ones meanwhile, as a server in service does. Resumed
    // steps first, so that the last step (the headline) is the full handshake at the top rate.
    return [
      { kind: 'ramp', connections: p.connections },
      ...[...kinds(p.resumed)].reverse().flatMap((kind) =>
        // The steps hold the same connections, give or take those in flight: no memory slope.
        p.rates.map((rate): Phase => ({ kind: 'measure', label: `${kind} handshakes at ${rate}/s`, fit: false, run: { ...run, groups: [groupOf(kind, rate)] } })),
      ),
    ];
  },
});

function kinds(resumed: boolean): Kind[] {
  return resumed ? ['full', 'resumed'] : ['full'];
}
