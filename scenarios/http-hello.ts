// Requests per second, and per server CPU-second, for keep-alive HTTP/1.1: C connections ask
// `GET /` for "Hello, World!". First in closed loops from the run's driver: every connection
// waiting for each answer (depth 1) and pipelining (depth 16: sixteen in flight per connection),
// or at every depth of --depths, in that order. Then in open loops from the native connector at
// each of --rates requests per second over all connections (a fixed schedule, latency measured
// from when each request was due): at a fixed offered rate every contender does the same work,
// so server CPU per request compares directly even when driver and server share the cores, and
// the last rate is the headline. With --rates none, the last depth is the headline.
//
// The closed loops come from autocannon by default, the familiar Node client; it is JS and often
// the bottleneck, and a driver process that saturates its CPU marks the step client-bound (the
// report then says the figure is a lower bound). --driver h2load (Debian's nghttp2-client, a C
// client that writes a connection's whole pipelined window at once) or wrk take that cost away;
// --driver native uses the engine's connector for every step. Each load runs on its own
// connections (one driver group per depth and per rate), since a driver's load is fixed when it
// starts.

import { defineScenario, MAIN_GROUP, type LoadSpec, type Phase } from '../src/runner/scenario.js';

const groupOf = (depth: number, i: number): string => (i === 0 ? MAIN_GROUP : `depth-${depth}`);

export default defineScenario({
  name: 'http-hello',
  description: 'keep-alive HTTP requests/s and requests per server CPU-second: closed loops with and without pipelining, then open loops at fixed rates',
  protocols: ['http-hello'],
  contenders: ['epoll', 'epoll-native', 'uring', 'uring-native', 'net', 'uws'],
  kind: 'throughput',
  driver: 'autocannon',
  defaults: { connections: 100, duration: 10, warmup: 2 },
  params: {
    depths: { type: 'list', items: 'int', default: [16, 1], min: 1, max: 1024, help: 'closed loop: requests in flight per connection (pipelining), one measured step each in this order' },
    rates: {
      type: 'list',
      items: 'int',
      default: [10_000, 30_000],
      min: 0,
      max: 100_000_000,
      help: 'open loop from the native connector: requests per second over all connections, one measured step each after the closed loops (the last is the headline; 0 = none)',
    },
    connectRate: { type: 'int', default: 5000, min: 0, max: 10_000_000, help: 'new connections per second during the ramps (0 = as fast as possible)' },
  },
  load: (p) => ({ mode: 'closed', depth: p.depths[0] ?? 1 }),
  groups: (p) =>
    Object.fromEntries([
      ...p.depths.slice(1).map((depth, i): [string, LoadSpec] => [groupOf(depth, i + 1), { mode: 'closed', depth }]),
      ...openRates(p.rates).map((rate): [string, LoadSpec] => [`open-${rate}`, { mode: 'open', rate, driver: 'native' }]),
    ]),
  phases: (p) => {
    if (new Set(p.depths).size !== p.depths.length) throw new RangeError(`--depths lists a depth twice: ${p.depths.join(',')}`);
    const rates = openRates(p.rates);
    if (new Set(rates).size !== rates.length) throw new RangeError(`--rates lists a rate twice: ${rates.join(',')}`);
    const run = { durationMs: p.duration * 1000, warmupMs: p.warmup * 1000 };
    const ramp = { ratePerSec: p.connectRate };
    const closed = p.depths.flatMap((depth, i): Phase[] => {
      const group = groupOf(depth, i);
      return [
        { kind: 'ramp', group, connections: p.connections, ...ramp },
        { kind: 'measure', label: depth === 1 ? 'keep-alive, depth 1' : `pipelined, depth ${depth}`, run: { ...run, groups: [group] } },
        { kind: 'ramp', group, connections: 0 },
      ];
    });
    const open = rates.flatMap((rate): Phase[] => {
      const group = `open-${rate}`;
      return [
        { kind: 'ramp', group, connections: p.connections, ...ramp },
        { kind: 'measure', label: `open loop ${rate}/s (native)`, run: { ...run, groups: [group] } },
        { kind: 'ramp', group, connections: 0 },
      ];
    });
    return [...closed, ...open];
  },
});

/** The open-loop rates asked for: `--rates 0` (or a 0 in the list) asks for none. */
function openRates(rates: readonly number[]): number[] {
  return rates.filter((r) => r > 0);
}
