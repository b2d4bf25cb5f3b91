// The chat room of a million: --connections WebSockets in --rooms rooms (connection i of each
// driver process joins room r<i mod rooms> through ?room=), of which the first --publishers of
// each driver process also publish, together --rate messages per second on a fixed schedule.
// The server delivers every message to every member of its room, the sender included. Each
// step records deliveries per second (every member counts every message it receives), the
// latency from publish to receipt (the send time travels in the payload; driver and server
// share the machine's clock), the server's CPU and its deliveries per CPU-second, and memory.
// With --levels above 1 the rooms fill up in steps and the memory slope is the cost of a
// member. A lossless server keeps deliveries per publish (steps[].groups.main.opsPerSent) at
// connections ÷ rooms.

import { LIMITS, paramRange } from '../src/limits.js';
import { defineScenario, levelsUpTo, type Phase } from '../src/runner/scenario.js';

export default defineScenario({
  name: 'ws-broadcast',
  description: 'chat rooms: deliveries/s, publish-to-receive latency and deliveries per server CPU-second',
  protocols: ['ws-broadcast'],
  contenders: ['epoll', 'epoll-native', 'uring', 'uring-native', 'net', 'uws'],
  kind: 'throughput',
  driver: 'native',
  defaults: { connections: 10_000, duration: 10, warmup: 2 },
  params: {
    rooms: { ...paramRange('rooms'), default: 100, help: 'rooms; connection i joins room r<i mod rooms>' },
    publishers: { ...paramRange('publishers'), min: 1, default: 100, help: 'connections that publish (the first of each driver process), the rest only receive' },
    rate: { type: 'number', default: 1000, min: 0.1, max: 10_000_000, help: 'messages published per second, all publishers together (each is delivered to a whole room)' },
    messageBytes: { type: 'int', default: 64, min: LIMITS.wsMessageBytes.min, max: 1 << 20, help: 'bytes per message (at least 8: the send time travels in it)' },
    levels: { type: 'int', default: 2, min: 1, max: 20, help: 'measured steps, evenly spaced up to --connections' },
    connectRate: { type: 'int', default: 5000, min: 0, max: 10_000_000, help: 'new connections per second during the ramps (0 = as fast as possible)' },
  },
  load: (p) => ({ mode: 'open', rate: p.rate, rooms: p.rooms, publishers: p.publishers, messageBytes: p.messageBytes }),
  phases: (p) => {
    if (p.publishers > p.connections) throw new RangeError(`--publishers ${p.publishers} is more than --connections ${p.connections}`);
    const run = { durationMs: p.duration * 1000, warmupMs: p.warmup * 1000 };
    return levelsUpTo(p.connections, p.levels).flatMap((connections): Phase[] => [
      { kind: 'ramp', connections, ratePerSec: p.connectRate },
      { kind: 'measure', label: `${connections} members in ${p.rooms} rooms`, run },
    ]);
  },
});
