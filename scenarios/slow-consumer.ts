// Backpressure: what does a server do with clients that stop reading while it keeps writing to
// them? A chat room as in ws-broadcast: --connections well-behaved members publish and receive;
// then --stalled more members join the same rooms (a second driver group) and at once stop reading
// and answering altogether, while the publishers go on. Every contender is given the same bound,
// --max-queued bytes of unsent data per connection (the contender's maxQueuedBytes limit: epoll's
// maxQueuedBytes, ws's bufferedAmount checked after each send, uWS's maxBackpressure with
// closeOnBackpressureLimit), beyond which it closes the connection; 0 leaves the queues unbounded,
// to see what that costs. The steps record, with everyone reading and then with the stalled set
// stalled: the server's memory and queued bytes (where the contender can count them: epoll's
// engine counters, net's bufferedAmount sum), how many stalled connections it closed and how soon
// (steps[].reap), and whether the well-behaved members lost anything: their deliveries per publish
// (groups.main.opsPerSent) must stay at connections ÷ rooms, with the same latency figures as
// before. On loopback the kernel holds a megabyte or more of unread data per socket before the
// server's own queue starts to grow, so the defaults send large messages to small rooms: each
// stalled peer is sent ~800 KB/s, and the bound is reached within seconds, not minutes.

import { LIMITS, paramRange } from '../src/limits.js';
import { defineScenario, type Phase } from '../src/runner/scenario.js';

export default defineScenario({
  name: 'slow-consumer',
  description: 'ws-broadcast with a set of receivers that stop reading: bounded server memory, closes, and nothing lost for the others',
  protocols: ['ws-broadcast'],
  contenders: ['epoll', 'epoll-native', 'uring', 'uring-native', 'net', 'uws'],
  kind: 'throughput',
  driver: 'native',
  defaults: { connections: 200, duration: 10, warmup: 1, reps: 1 },
  params: {
    stalled: { ...paramRange('connections'), default: 100, help: 'members that stop reading (in addition to --connections)' },
    rooms: { ...paramRange('rooms'), default: 20, help: 'rooms; connection i of each group joins room r<i mod rooms>' },
    publishers: { ...paramRange('publishers'), min: 1, default: 20, help: 'well-behaved connections that publish' },
    rate: { type: 'number', default: 1000, min: 0.1, max: 10_000_000, help: 'messages published per second, all publishers together' },
    messageBytes: { type: 'int', default: 16_384, min: LIMITS.wsMessageBytes.min, max: 1 << 20, help: 'bytes per message' },
    maxQueued: { ...paramRange('limits.maxQueuedBytes'), default: 256 * 1024, help: 'bytes of unsent data a connection may have queued before the server closes it (0 = unbounded)' },
    connectRate: { type: 'int', default: 5000, min: 0, max: 10_000_000, help: 'new connections per second during the ramps (0 = as fast as possible)' },
  },
  limits: (p) => ({ maxQueuedBytes: p.maxQueued }),
  load: (p) => ({ mode: 'open', rate: p.rate, rooms: p.rooms, publishers: p.publishers, messageBytes: p.messageBytes }),
  groups: (p) => ({ stalled: { mode: 'stall', rooms: p.rooms, publishers: 0, messageBytes: p.messageBytes } }),
  phases: (p) => {
    if (p.publishers > p.connections) throw new RangeError(`--publishers ${p.publishers} is more than --connections ${p.connections}`);
    const ramp = { ratePerSec: p.connectRate };
    return [
      { kind: 'ramp', connections: p.connections, ...ramp },
      { kind: 'measure', label: 'everyone reading', run: { durationMs: p.duration * 1000, warmupMs: p.warmup * 1000 } },
      // The stalled set joins just before it stalls: a peer that has been reading at full speed
      // has had its socket buffers grown by the kernel to megabytes, which would hide the
      // server's own queue for the whole window.
      { kind: 'ramp', group: 'stalled', connections: p.stalled, ...ramp },
      // Memory here is the queues of the stalled, not a cost per connection: no slope from it.
      // The step's reap record has the peak over the window; its memory is read at the end.
      { kind: 'measure', label: `${p.stalled} stalled`, run: { durationMs: p.duration * 1000, groups: ['main', 'stalled'] }, fit: false },
    ] satisfies Phase[];
  },
});
