// Child process of the demo: one epoll-engine server (native echo or JS echo) that reports its
// port over IPC, answers 'stats' with its counters and memory, and drains on SIGTERM.
import { createServer, type EpollServer } from '../index.js';

const protocol = process.argv[2] === 'echo' ? 'echo' : 'raw';
const server: EpollServer = createServer({ protocol, backlog: 4096 }, {
  onData: (id, data) => { server.write(id, data); },
});
const { port } = server.listen();

process.on('message', (msg) => {
  if (msg === 'stats') {
    const m = process.memoryUsage();
    process.send?.({ type: 'stats', counters: server.counters(), heapUsed: m.heapUsed, external: m.external });
  }
});
process.once('SIGTERM', () => {
  void server.close({ timeoutMs: 2000 }).then(() => process.exit(0));
});
process.send?.({ type: 'ready', port, pid: process.pid });
