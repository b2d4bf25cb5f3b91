// Worker-thread body for engine-workers.test: a JS echo server on a shared SO_REUSEPORT port.
import { parentPort, workerData } from 'node:worker_threads';
import { createServer, type EpollServer } from '../../src/engine/index.js';

const server: EpollServer = createServer({ port: (workerData as { port: number }).port, reusePort: true }, {
  onData: (id, d) => { server.write(id, d); },
});
server.listen();
parentPort!.on('message', () => {
  const c = server.counters();
  parentPort!.postMessage({ accepted: c['accepted'], active: c['active'] });
});
parentPort!.postMessage('ready');
