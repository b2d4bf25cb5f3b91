// Servers a failed test left listening keep the engine (and so the test process) alive, and
// their connections would skew the next test's counts. Tests register their servers here; an
// afterEach hook closes whatever is still open.
import type { EpollServer } from '../../src/index.js';

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
