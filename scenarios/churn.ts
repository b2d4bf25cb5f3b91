// Connect/close storms: can a server take connections as fast as clients open and drop them,
// again and again, without leaking? Each of --cycles cycles opens --connections as fast as
// --connect-rate allows (0: as fast as the driver can, a storm) and then closes them all. The
// ramps record the connect rate each cycle sustained and every connect error; the first and
// the last cycle are measured with all connections up and with all closed: the contender's fds
// and memory, and the kernel's TIME_WAIT count (from /proc/net/sockstat; the closing side is
// the client, so these sit on the driver's sockets). A server that leaks shows more fds or more
// memory at the end of the last cycle than at the end of the first.

import { defineScenario, type Phase } from '../src/runner/scenario.js';

export default defineScenario({
  name: 'churn',
  description: 'connect/close storms: sustained connects per second, errors, TIME_WAIT, and fds and memory after many cycles',
  protocols: ['tcp-echo', 'ws-echo', 'http-hello'],
  contenders: ['epoll', 'epoll-native', 'uring', 'uring-native', 'net'],
  contendersFor: {
    'tcp-echo': ['epoll', 'epoll-native', 'uring', 'uring-native', 'net'],
    'ws-echo': ['epoll', 'epoll-native', 'uring', 'uring-native', 'net', 'uws'],
    'http-hello': ['epoll', 'epoll-native', 'uring', 'uring-native', 'net', 'uws'],
  },
  kind: 'memory',
  driver: 'native',
  defaults: { connections: 5000, duration: 1, warmup: 0 },
  params: {
    cycles: { type: 'int', default: 10, min: 2, max: 10_000, help: 'open-all/close-all cycles; the first and the last are measured' },
    connectRate: { type: 'int', default: 0, min: 0, max: 10_000_000, help: 'new connections per second (0 = as fast as the driver can: a storm)' },
    settle: { type: 'number', default: 0.5, min: 0, max: 600, help: 'seconds to wait before each measurement (lets closes finish)' },
  },
  load: { mode: 'idle', heartbeatMs: 0 },
  phases: (p) => {
    const measured = (cycle: number): boolean => cycle === 1 || cycle === p.cycles;
    // Memory freed by closes stays in the allocator, so a slope over these steps would not be a
    // cost per connection; they are compared with each other instead.
    const at = { settleMs: p.settle * 1000, fit: false };
    const phases: Phase[] = [];
    for (let cycle = 1; cycle <= p.cycles; cycle++) {
      phases.push({ kind: 'ramp', connections: p.connections, ratePerSec: p.connectRate });
      if (measured(cycle)) phases.push({ kind: 'measure', label: `cycle ${cycle}: ${p.connections} up`, ...at });
      phases.push({ kind: 'ramp', connections: 0 });
      if (measured(cycle)) phases.push({ kind: 'measure', label: `cycle ${cycle}: all closed`, ...at });
    }
    return phases;
  },
});
