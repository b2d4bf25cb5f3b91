// Worker-thread body for engine-workers.test: a JS echo server on a shared SO_REUSEPORT port.
import { parentPort, workerData } from 'node:worker_threads';
import { createServer, type EngineBackend, type EpollServer } from '../../src/engine/index.js';

const { port, backend } = workerData as { port: number; backend?: EngineBackend };
const server: EpollServer = createServer({ port, reusePort: true, backend: backend ?? 'epoll' }, {
  onData: (id, d) => { server.write(id, d); },
});
server.listen();
parentPort!.on('message', () => {
  const c = server.counters();
  parentPort!.postMessage({ accepted: c['accepted'], active: c['active'] });
});
parentPort!.postMessage('ready');
