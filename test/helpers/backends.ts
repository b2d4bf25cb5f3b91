// The engine's backends as the engine suites see them: every case written with backendTest runs
// once per backend, and createServer here gives its servers the backend of the case running.
// epoll always runs; uring runs when this addon can run io_uring here (uringStatus), otherwise
// its cases are skipped with the exact reason and fix, never faked.
import net from 'node:net';
import { test, type TestContext, type TestOptions } from 'node:test';
import {
  createServer as createEngineServer,
  uringStatus,
  type EngineBackend,
  type EpollServer,
  type ServerHandlers,
  type ServerOptions,
} from '../../src/engine/index.js';

let uringSkip: string | false | undefined;

/** False when io_uring can run here, else why not (and the fix). */
export function uringSkipReason(): string | false {
  if (uringSkip === undefined) {
    const s = uringStatus();
    uringSkip = s.ok ? false : `io_uring backend unavailable: ${s.reason ?? 'unknown'}${s.fix !== undefined ? ` (fix: ${s.fix})` : ''}`;
  }
  return uringSkip;
}

/** Every backend, with the reason its cases skip here (false: they run). */
export function backends(): { backend: EngineBackend; skip: string | false }[] {
  return [{ backend: 'epoll', skip: false }, { backend: 'uring', skip: uringSkipReason() }];
}

let current: EngineBackend = 'epoll';

/** The backend of the case running now. */
export function currentBackend(): EngineBackend {
  return current;
}

/** An engine server on the backend of the case running now (an explicit `backend` option wins). */
export function createServer(o: ServerOptions = {}, h: ServerHandlers = {}): EpollServer {
  return createEngineServer({ backend: current, ...o }, h);
}

/**
 * Fds opened once per thread and kept, before a case runs, so a case that counts fds compares
 * connections only: libuv's spare fd for EMFILE (opened with the first stream), and the engine's
 * io_uring ring (one fd, opened by its first uring listener and kept, as its epoll set is).
 */
async function openBackend(backend: EngineBackend): Promise<void> {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  if (backend !== 'uring') return;
  const s = createEngineServer({ backend });
  s.listen();
  await s.close({ force: true });
}

type Body = (t: TestContext) => unknown;
type Options = TestOptions;

/** test(name, [options,] body), once per backend: "name [epoll]", "name [uring]". */
export function backendTest(name: string, a: Options | Body, b?: Body): void {
  const options: Options = typeof a === 'function' ? {} : a;
  const body = (typeof a === 'function' ? a : b)!;
  for (const { backend, skip } of backends()) {
    const opts: Options = skip === false ? options : { ...options, skip };
    void test(`${name} [${backend}]`, opts, async (t) => {
      current = backend;
      try {
        await openBackend(backend);
        await body(t);
      } finally {
        current = 'epoll';
      }
    });
  }
}
