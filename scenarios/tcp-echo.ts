// What does a message cost? With C connections open, each contender echoes messages of
// --message-bytes first in a closed loop (every connection keeps --depth messages in flight and
// sends the next one as soon as an answer arrives: the most the pair can do), then in an open
// loop at each of --rates messages per second over all connections (a fixed schedule, latency
// measured from when each message was due, so a server that falls behind is charged for the
// wait). Each step records ops/s, ops per server CPU-second and latency percentiles; the last
// rate is the headline, because at a fixed offered rate the contenders do the same work and
// their CPU and tail latency compare directly. Every load runs on its own set of connections
// (one driver group per load), ramped up for its step and closed after it. Contenders: epoll,
// epoll-native, net, c-ref (a C echo server on plain epoll, no Node: the floor the engine's
// native echo is held against; raw TCP only) and c-ref-uring (the same on io_uring: the floor of
// the completion model; unavailable with the reason where io_uring cannot run).

import { defineScenario, type LoadSpec, type Phase } from '../src/runner/scenario.js';

export default defineScenario({
  name: 'tcp-echo',
  description: 'ops/s, ops per server CPU-second and latency of echo: a closed loop, then open loops at fixed rates',
  protocols: ['tcp-echo', 'frame-echo'],
  contenders: ['epoll', 'epoll-native', 'uring', 'uring-native', 'net', 'c-ref', 'c-ref-uring'],
  kind: 'throughput',
  driver: 'native',
  defaults: { connections: 1000, duration: 10, warmup: 2 },
  params: {
    messageBytes: { type: 'int', default: 64, min: 1, max: 1 << 20, help: 'bytes per message' },
    depth: { type: 'int', default: 1, min: 1, max: 1024, help: 'closed loop: messages in flight per connection' },
    rates: { type: 'list', items: 'int', default: [10_000, 40_000], min: 1, max: 100_000_000, help: 'open loop: messages per second over all connections, one measured step each (the last is the headline)' },
    connectRate: { type: 'int', default: 5000, min: 0, max: 10_000_000, help: 'new connections per second during the ramps (0 = as fast as possible)' },
  },
  load: (p) => ({ mode: 'closed', depth: p.depth, messageBytes: p.messageBytes }),
  groups: (p) => Object.fromEntries(p.rates.map((rate): [string, LoadSpec] => [`open-${rate}`, { mode: 'open', rate, messageBytes: p.messageBytes }])),
  phases: (p) => {
    const run = { durationMs: p.duration * 1000, warmupMs: p.warmup * 1000 };
    const ramp = { ratePerSec: p.connectRate };
    const phases: Phase[] = [
      { kind: 'ramp', connections: p.connections, ...ramp },
      { kind: 'measure', label: `closed loop, depth ${p.depth}`, run },
      { kind: 'ramp', connections: 0 },
    ];
    for (const rate of p.rates) {
      const group = `open-${rate}`;
      phases.push(
        { kind: 'ramp', group, connections: p.connections, ...ramp },
        { kind: 'measure', label: `open loop ${rate}/s`, run: { ...run, groups: [group] } },
        { kind: 'ramp', group, connections: 0 },
      );
    }
    return phases;
  },
});
