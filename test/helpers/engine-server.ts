// A child process serving one engine listener (options as JSON in argv[2]); reports its port
// over IPC and answers 'stats' with the engine counters ('memory': its RSS, which reads /proc). Exits when told 'close' or on SIGTERM.
import { createServer, type ServerOptions } from '../../src/index.js';

const opts = JSON.parse(process.argv[2] ?? '{}') as ServerOptions;
const server = createServer(opts);
const { port } = server.listen();
process.on('message', (m) => {
  if (m === 'stats') process.send?.({ type: 'stats', counters: server.counters() });
  if (m === 'memory') process.send?.({ type: 'memory', rss: process.memoryUsage().rss });
  if (m === 'close') void server.close({ force: true }).then(() => process.exit(0));
});
process.once('SIGTERM', () => process.exit(0));
process.send?.({ type: 'ready', port });
