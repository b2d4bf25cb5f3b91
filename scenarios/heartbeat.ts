// What do liveness checks cost at scale? N connections sit idle while the server checks they are
// alive: WebSocket pings every --interval (ws-echo: a peer that has not answered the previous ping
// is closed; uWebSockets.js does this its own way, see the contenders README), or, for raw TCP
// where the protocol has no ping, an idle timeout of three times --interval (two missed
// heartbeats) with live clients sending a heartbeat byte every --interval. First the CPU the
// server spends on that while nothing else happens, over at least two intervals; then --stalled
// more peers connect and at once go silent (they stop reading and answer nothing: a second driver
// group) and the runner times how long the server takes to notice and close every one of them,
// from its own connection count polled every 100 ms, and records memory, fds and connections at
// the end, the live ones all still there. The contenders' effective limits are in each run's
// `limits`: where a library cannot do what was asked (uWS pings no sooner than after 4 s of
// silence) the figure says what it did instead.

import { paramRange } from '../src/limits.js';
import { defineScenario, type Phase } from '../src/runner/scenario.js';

export default defineScenario({
  name: 'heartbeat',
  description: 'CPU of heartbeats over idle connections, and the time the server takes to reap peers that go silent',
  protocols: ['ws-echo', 'tcp-echo'],
  contenders: ['epoll', 'epoll-native', 'uring', 'uring-native', 'net', 'uws'],
  contendersFor: { 'ws-echo': ['epoll', 'epoll-native', 'uring', 'uring-native', 'net', 'uws'], 'tcp-echo': ['epoll', 'epoll-native', 'uring', 'uring-native', 'net'] },
  kind: 'memory',
  driver: 'native',
  defaults: { connections: 10_000, duration: 10, warmup: 0 },
  params: {
    interval: { type: 'number', default: 4, min: 0.05, max: 3600, help: 'seconds between heartbeats (ws-echo: server pings; tcp-echo: client heartbeats, idle timeout three times this)' },
    stalled: { ...paramRange('connections'), default: 1000, help: 'peers that connect after the idle measurement and go silent (in addition to --connections)' },
    connectRate: { type: 'int', default: 5000, min: 0, max: 10_000_000, help: 'new connections per second during the ramps (0 = as fast as possible)' },
  },
  limits: (p) => (p.protocol === 'tcp-echo' ? { idleTimeoutMs: Math.round(3 * p.interval * 1000) } : { pingIntervalMs: Math.round(p.interval * 1000) }),
  // Live WebSocket peers answer pings in the driver's native code; live TCP peers send a byte
  // (which the server echoes) so that the idle timeout only ever catches the silent ones.
  load: (p) => ({ mode: 'idle', heartbeatMs: p.protocol === 'tcp-echo' ? Math.round(p.interval * 1000) : 0 }),
  // The silent set connects right before it goes silent and never sends a heartbeat, so its
  // time to be reaped runs from its last sign of life, as it would for a peer that vanished.
  groups: { stalled: { mode: 'stall', heartbeatMs: 0 } },
  phases: (p) => {
    const ramp = { ratePerSec: p.connectRate };
    return [
      { kind: 'ramp', connections: p.connections, ...ramp },
      // CPU over at least two intervals, so that every connection has had its heartbeats.
      { kind: 'measure', label: `idle with heartbeats every ${p.interval} s`, settleMs: 500, holdMs: Math.max(p.duration, 2 * p.interval) * 1000 },
      { kind: 'ramp', group: 'stalled', connections: p.stalled, ...ramp },
      // The reap step ends with the server's memory, fds and connections once they are gone.
      { kind: 'reap', group: 'stalled', label: `${p.stalled} silent peers` },
    ] satisfies Phase[];
  },
});
