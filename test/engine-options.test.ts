// Options are validated in TypeScript with clear TypeError/RangeError messages before any
// native call; OS errors come back as Errors with errno.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, resolveServerOptions, type ServerOptions } from '../src/index.js';
import { loadAddon, uringStatus } from '../src/engine/index.js';
import { release } from 'node:os';
import { kernelVersion } from '../src/system/io-uring.js';

test('bad options are refused with the option named', () => {
  const bad: [unknown, RegExp, ErrorConstructor][] = [
    [{ protocol: 'smtp' }, /protocol must be one of raw, echo, frame, frame-echo/, TypeError],
    [{ port: 70000 }, /port must be between 0 and 65535, got 70000/, RangeError],
    [{ port: 1.5 }, /port must be an integer/, TypeError],
    [{ host: 'example.com' }, /host must be an IP address literal/, TypeError],
    [{ backlog: 0 }, /backlog must be between/, RangeError],
    [{ reusePort: 'yes' }, /reusePort must be a boolean/, TypeError],
    [{ maxFrameBytes: 1 << 30 }, /maxFrameBytes must be between 0 and 4194240/, RangeError],
    [{ readBudget: 5 }, /unknown option "readBudget"/, TypeError],
    [{ backend: 'kqueue' }, /backend must be one of epoll, uring, got kqueue/, TypeError],
  ];
  for (const [opts, msg, type] of bad) {
    assert.throws(() => resolveServerOptions(opts as ServerOptions), (e: Error) => e instanceof type && msg.test(e.message), JSON.stringify(opts));
  }
  assert.throws(() => createServer({}, { onData: 42 as unknown as () => void }), /handler onData must be a function/);
  assert.equal(resolveServerOptions({ host: 'localhost' }).host, '127.0.0.1');
});

test('a port in use fails with EADDRINUSE; IPv6 loopback works', async () => {
  const a = createServer();
  const { port } = a.listen();
  const b = createServer({ port });
  assert.throws(() => b.listen(), (e: Error & { errno?: number }) => /Address already in use/.test(e.message) && e.errno === 98);
  const v6 = createServer({ host: '::1', protocol: 'echo' });
  assert.ok(v6.listen().port > 0);
  await Promise.all([a.close(), v6.close()]);
});

test('backend: epoll by default; a uring listener listens where the addon can run io_uring, else fails naming why', async () => {
  assert.equal(resolveServerOptions({}).backend, 'epoll');
  const status = uringStatus();
  const server = createServer({ backend: 'uring', protocol: 'echo' });
  if (!status.ok) {
    assert.ok(status.reason !== undefined && status.fix !== undefined, 'the status says why and what to do');
    assert.throws(() => server.listen(), (e: Error & { code?: string; errno?: number }) =>
      e.code === 'C1M_URING_UNAVAILABLE' && typeof e.errno === 'number' && /the io_uring backend cannot run here: .+/.test(e.message));
    return;
  }
  // The addon that can run it says so, with its ring's fixed sizes.
  assert.equal(loadAddon().uringSizes.built, true);
  assert.equal(typeof loadAddon().uringSupport, 'function');
  const { port } = server.listen();
  assert.ok(port > 0);
  // The ring runs its task work cooperatively where the kernel can (COOP_TASKRUN, Linux 5.19; an
  // older kernel may have it backported): the mode behind its figures, recorded with every
  // result's engine counters.
  const v = kernelVersion(release());
  const coop = server.counters()['uringCoopTaskrun'];
  if (v !== null && (v[0] > 5 || (v[0] === 5 && v[1] >= 19))) assert.equal(coop, 1, `kernel ${release()}`);
  else assert.ok(coop === 0 || coop === 1, `kernel ${release()}: ${coop}`);
  await server.close({ force: true });
});
