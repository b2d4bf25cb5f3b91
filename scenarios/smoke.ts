// The smallest end-to-end run: every contender that speaks the protocol, a few hundred
// connections, two measured levels of about a second each. It checks that the whole chain
// (contender, primer, driver, sampling, result file, report) works; its numbers are too short
// to quote. Copy it to start a scenario of your own.

import { defineScenario, levelsUpTo, throughputPhases } from '../src/runner/scenario.js';

export default defineScenario({
  name: 'smoke',
  description: 'tiny end-to-end check: two ~1 s load levels up to a few hundred connections per contender',
  protocols: ['http-hello', 'tcp-echo', 'frame-echo', 'ws-echo'],
  contenders: 'all',
  kind: 'throughput',
  driver: 'autocannon',
  defaults: { connections: 200, duration: 1, warmup: 0.5, reps: 1 },
  params: {
    levels: { type: 'int', default: 2, min: 1, max: 10, help: 'measured levels, evenly spaced up to --connections' },
    depth: { type: 'int', default: 1, min: 1, max: 64, help: 'messages in flight per connection (HTTP pipelining)' },
    messageBytes: { type: 'int', default: 64, min: 1, max: 1 << 20, help: 'bytes per message (echo and WebSocket protocols)' },
  },
  load: (p) => ({ mode: 'closed', depth: p.depth, messageBytes: p.messageBytes }),
  phases: (p) => throughputPhases(levelsUpTo(p.connections, p.levels), { durationMs: p.duration * 1000, warmupMs: p.warmup * 1000 }),
});
