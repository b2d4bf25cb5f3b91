// A child process serving one engine listener (options as JSON in argv[2]); reports its port
// over IPC and answers 'stats' with the engine counters ('memory': its RSS, which reads /proc;
// 'heap': the engine's memory figure and malloc's in-use bytes). Exits when told 'close' or on SIGTERM.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createServer, Engine, type ServerOptions } from '../../src/engine/index.js';

// A full collection before the 'heap' reading, so V8 freeing its own malloc memory (external
// strings, IPC buffers) between two readings does not show up as a difference against the engine.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

// `$join: true` adds a WebSocket handler that subscribes a connection to the topic its message
// names ("join:ROOM"); every other key is a server option.
const { $join, ...opts } = JSON.parse(process.argv[2] ?? '{}') as ServerOptions & { $join?: boolean };
const server = createServer(opts, $join === true ? {
  onWsMessage(id, data) {
    // Read without a Buffer copy: Node's Buffer pool is malloc memory the 'heap' report would see.
    const text = String.fromCharCode(...data);
    if (text.startsWith('join:')) server.subscribe(id, text.slice(5));
  },
} : {});
const { port } = server.listen();
process.on('message', (m) => {
  if (m === 'stats') process.send?.({ type: 'stats', counters: server.counters() });
  if (m === 'memory') process.send?.({ type: 'memory', rss: process.memoryUsage().rss });
  // The engine's own count beside the allocator's (mallinfo2), read back to back.
  if (m === 'heap') {
    gc();
    gc();
    const engineBytes = server.counters()['engineBytes']!;
    process.send?.({ type: 'heap', engineBytes, inUseBytes: Engine.get().native.heapStats().inUseBytes });
  }
  if (m === 'close') void server.close({ force: true }).then(() => process.exit(0));
});
process.once('SIGTERM', () => process.exit(0));
process.send?.({ type: 'ready', port });
