// Servers a failed test left listening keep the engine (and so the test process) alive, and
// their connections would skew the next test's counts. Tests register their servers here; an
// afterEach hook closes whatever is still open.
import type { EpollServer } from '../../src/engine/index.js';
import { fdCount, until } from './net.js';

const open = new Set<EpollServer>();

/** Registers a server for closeTracked(); returns it. */
export function tracked<T extends EpollServer>(server: T): T {
  open.add(server);
  return server;
}

/** Force-closes every registered server (a no-op for those the test already closed). */
export async function closeTracked(): Promise<void> {
  const list = [...open];
  open.clear();
  for (const s of list) {
    if (s.address === null) continue;
    await s.close({ force: true }).catch(() => undefined);
  }
}

/** The end of a test: every connection gone, the server closed, the process's fds back to fdsBefore. */
export async function finish(server: EpollServer, fdsBefore: number): Promise<void> {
  await until(() => server.counters()['active'] === 0, `every connection to close (active ${server.counters()['active']})`, 5000);
  await server.close({ timeoutMs: 2000 });
  await until(() => fdCount() === fdsBefore, `fds back to ${fdsBefore} (now ${fdCount()})`, 5000);
}

/** How much counter `name` grew since the snapshot `before`. */
export function delta(server: EpollServer, before: Record<string, number>, name: string): number {
  return server.counters()[name]! - before[name]!;
}
