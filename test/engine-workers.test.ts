// Two worker threads, each with its own engine loop, share one SO_REUSEPORT port; both get
// connections, and terminating a worker closes every fd it held (under io_uring, its ring too).
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { closed, collect, connect, fdCount, sleep, until } from './helpers/net.js';
import { backendTest, currentBackend } from './helpers/backends.js';

const workerFile = fileURLToPath(new URL('./helpers/echo-worker.js', import.meta.url));

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
    srv.once('error', reject);
  });
}

function ask(w: Worker, msg: unknown): Promise<{ accepted: number; active: number }> {
  return new Promise((resolve) => {
    w.once('message', resolve);
    w.postMessage(msg);
  });
}

backendTest('two worker_threads serve one SO_REUSEPORT port; terminating a worker closes its fds', async () => {
  const before = fdCount();
  const port = await freePort();
  const workers = [0, 1].map(() => new Worker(workerFile, { workerData: { port, backend: currentBackend() } }));
  await Promise.all(workers.map((w) => new Promise((r) => w.once('message', r))));
  const socks = [];
  for (let i = 0; i < 64; i++) {
    const s = await connect(port);
    const back = collect(s, 5, false);
    s.write('hello');
    assert.equal((await back).toString(), 'hello');
    socks.push(s);
  }
  const stats = await Promise.all(workers.map((w) => ask(w, 'stats')));
  assert.equal(stats[0]!.accepted + stats[1]!.accepted, 64);
  assert.ok(stats[0]!.accepted > 0 && stats[1]!.accepted > 0, `both workers accept (${stats[0]!.accepted}/${stats[1]!.accepted})`);
  // Terminating worker 0 closes its listener and its connections: their clients see the close.
  await workers[0]!.terminate();
  await sleep(50);
  const open = socks.filter((s) => !s.destroyed);
  assert.equal(open.length, stats[1]!.accepted, 'exactly the connections of the terminated worker closed');
  await workers[1]!.terminate();
  await Promise.all(socks.map(closed));
  await until(() => fdCount() === before, `fd count back to ${before} (now ${fdCount()})`);
});
