// Requests per second, and per server CPU-second, for keep-alive HTTP/1.1: C connections ask
// `GET /` for "Hello, World!", once with every connection waiting for each answer (depth 1)
// and once with requests pipelined (depth 16: sixteen in flight per connection), or at every
// depth of --depths, in that order; the last one is the run's headline. The load comes from
// autocannon by default (--driver native or wrk for the others); a driver process that
// saturates its CPU marks the step client-bound, and the report then says the figure is a
// lower bound of what the server can do. Each depth runs on its own connections (one driver
// group per depth), since a driver's pipelining is fixed when it starts.

import { defineScenario, MAIN_GROUP, type LoadSpec, type Phase } from '../src/runner/scenario.js';

const groupOf = (depth: number, i: number): string => (i === 0 ? MAIN_GROUP : `depth-${depth}`);

export default defineScenario({
  name: 'http-hello',
  description: 'keep-alive HTTP requests/s and requests per server CPU-second, with and without pipelining',
  protocols: ['http-hello'],
  contenders: ['epoll', 'epoll-native', 'net', 'uws'],
  kind: 'throughput',
  driver: 'autocannon',
  defaults: { connections: 100, duration: 10, warmup: 2 },
  params: {
    depths: { type: 'list', items: 'int', default: [16, 1], min: 1, max: 1024, help: 'requests in flight per connection (pipelining), one measured step each in this order (the last is the headline)' },
    connectRate: { type: 'int', default: 5000, min: 0, max: 10_000_000, help: 'new connections per second during the ramps (0 = as fast as possible)' },
  },
  load: (p) => ({ mode: 'closed', depth: p.depths[0] ?? 1 }),
  groups: (p) => Object.fromEntries(p.depths.slice(1).map((depth, i): [string, LoadSpec] => [groupOf(depth, i + 1), { mode: 'closed', depth }])),
  phases: (p) => {
    if (new Set(p.depths).size !== p.depths.length) throw new RangeError(`--depths lists a depth twice: ${p.depths.join(',')}`);
    const run = { durationMs: p.duration * 1000, warmupMs: p.warmup * 1000 };
    return p.depths.flatMap((depth, i): Phase[] => {
      const group = groupOf(depth, i);
      return [
        { kind: 'ramp', group, connections: p.connections, ratePerSec: p.connectRate },
        { kind: 'measure', label: depth === 1 ? 'keep-alive, depth 1' : `pipelined, depth ${depth}`, run: { ...run, groups: [group] } },
        { kind: 'ramp', group, connections: 0 },
      ];
    });
  },
});
