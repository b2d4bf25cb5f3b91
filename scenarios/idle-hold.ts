// How much does a connection cost? Each contender is ramped in steps to N idle connections
// (10,000 by default; up to a million with --connections, split over as many processes as
// preflight says the fd limit needs), and at every step, after the connections have settled,
// the runner records the server's memory (RSS, RssAnon, V8 heap) and the kernel's slab, the
// CPU the server burns while nothing happens, and the connect rate each ramp sustained. The
// per-connection cost is the slope of memory over the steps, user space and kernel apart, not
// one division. The ramp is paced (--connect-rate) so that a short listen backlog (uWebSockets.js
// always asks for 512) is not what gets measured. `--protocol tcp` holds raw TCP connections
// (epoll, epoll-native, uring, uring-native, net); `--protocol ws` holds upgraded WebSockets
// (epoll, uring, net, uws). Under io_uring an idle connection also holds an armed multishot
// receive: a request in the ring and a poll entry on its socket, kernel memory the slab slope
// shows beside epoll's (one epitem per socket), and 24 bytes of receive state in user space
// beside its table slot.

import { defineScenario, levelsUpTo, memoryPhases } from '../src/runner/scenario.js';
import { PROTOCOL_ALIASES } from '../src/wire/protocols.js';

export default defineScenario({
  name: 'idle-hold',
  description: 'memory per idle connection (user space and kernel, as slopes), connect rate and idle CPU, in steps up to --connections',
  protocols: ['tcp-echo', 'ws-echo'],
  protocolAliases: PROTOCOL_ALIASES,
  contenders: ['epoll', 'epoll-native', 'uring', 'uring-native', 'net'],
  contendersFor: { 'tcp-echo': ['epoll', 'epoll-native', 'uring', 'uring-native', 'net'], 'ws-echo': ['epoll', 'uring', 'net', 'uws'] },
  kind: 'memory',
  driver: 'native',
  defaults: { connections: 10_000, duration: 3, warmup: 0 },
  params: {
    levels: { type: 'int', default: 4, min: 2, max: 50, help: 'measured steps, evenly spaced up to --connections (the slope needs at least two)' },
    connectRate: { type: 'int', default: 5000, min: 0, max: 10_000_000, help: 'new connections per second during the ramps, all driver processes together (0 = as fast as possible)' },
    settle: { type: 'number', default: 1, min: 0, max: 600, help: 'seconds to leave each step alone before reading memory (lets the kernel and the GC settle)' },
  },
  load: { mode: 'idle', heartbeatMs: 0 },
  // --duration is the window over which idle CPU is measured at each step.
  phases: (p) =>
    memoryPhases(levelsUpTo(p.connections, p.levels), { settleMs: p.settle * 1000, holdMs: p.duration * 1000 }, { ratePerSec: p.connectRate }),
});
