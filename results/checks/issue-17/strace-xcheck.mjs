// Serves http-hello on the engine (JS handler or native http-static) in this process and prints
// the engine's own syscall counters on SIGUSR1 (start) and SIGUSR2 (end), so they can be set
// against `strace -c -f -p <pid>` over the same interval. Exits on SIGTERM.
import { createServer } from '../../../dist/src/engine/index.js';
const protocol = process.argv[2] ?? 'http';
const s = createServer({ protocol, port: 0 }, protocol === 'http' ? { onRequest: (id) => s.respond(id, 200, 'Hello, World!', { 'Content-Type': 'text/plain' }) } : {});
const { port } = s.listen();
console.log(JSON.stringify({ pid: process.pid, port }));
let start = null;
const pick = (c) => ({ reads: c.reads, writes: c.writes, epollWaits: c.epollWaits, rounds: c.rounds, httpResponses: c.httpResponses, eagainReads: c.eagainReads });
process.on('SIGUSR1', () => { start = pick(s.counters()); });
process.on('SIGUSR2', () => {
  const end = pick(s.counters());
  const d = Object.fromEntries(Object.keys(end).map((k) => [k, end[k] - start[k]]));
  console.log(JSON.stringify({ delta: d, perResponse: { reads: d.reads / d.httpResponses, writes: d.writes / d.httpResponses, waits: d.epollWaits / d.httpResponses } }));
});
process.on('SIGTERM', () => { void s.close({ timeoutMs: 500 }).then(() => process.exit(0)); });
