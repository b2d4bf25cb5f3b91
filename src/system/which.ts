// Where an executable is: the one PATH lookup of the project (the drivers' tools, the profilers,
// taskset and setsid).

import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/**
 * The first executable `name` on PATH (then in `extraDirs`, for tools Debian puts in sbin), or
 * null. A name with a slash is checked as it is.
 */
export function findExecutable(name: string, o: { extraDirs?: readonly string[]; path?: string } = {}): string | null {
  const dirs = name.includes('/') ? [''] : [...(o.path ?? process.env['PATH'] ?? '').split(delimiter), ...(o.extraDirs ?? [])];
  for (const dir of dirs) {
    if (dir === '' && !name.includes('/')) continue;
    const file = dir === '' ? name : join(dir, name);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // Not here.
    }
  }
  return null;
}
