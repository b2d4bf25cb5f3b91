// Prints 1 when liburing's development files (header and shared library) are installed, else 0.
// binding.gyp reads it into the variable c1m_uring: the io_uring pieces (the engine's io_uring
// backend, the io_uring C reference and its probe) are built only when it is 1, so a box without
// liburing-dev still builds everything else. Debian: `apt-get install liburing-dev` (2.3 on 12).
//
//   node scripts/has-liburing.mjs          1 or 0
//   node scripts/has-liburing.mjs --why    the header and library found, or what is missing

import { spawnSync } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const INCLUDE_DIRS = ['/usr/include', '/usr/local/include'];
const LIB_DIRS = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib', '/usr/local/lib'];

/** Where liburing's header and linkable library are, or what is missing. */
export function findLiburing() {
  const header = INCLUDE_DIRS.map((d) => join(d, 'liburing.h')).find((p) => existsSync(p));
  let library = LIB_DIRS.map((d) => join(d, 'liburing.so')).find((p) => existsSync(p));
  if (library === undefined) {
    // pkg-config knows non-standard prefixes; absent or silent, the fixed list stands.
    const r = spawnSync('pkg-config', ['--variable=libdir', 'liburing'], { encoding: 'utf8' });
    const dir = r.status === 0 ? r.stdout.trim() : '';
    if (dir !== '' && existsSync(join(dir, 'liburing.so'))) library = join(dir, 'liburing.so');
  }
  if (header === undefined || library === undefined) {
    const missing = [header === undefined ? 'liburing.h' : null, library === undefined ? 'liburing.so' : null].filter(Boolean).join(' and ');
    return { found: false, why: `${missing} not found (install liburing-dev: apt-get install liburing-dev)` };
  }
  return { found: true, header, library, why: `${header}, ${library}` };
}

// Node runs a main module from its real path: through a symlinked scripts/ (build-asan.sh's
// build-asan/src/scripts) argv[1] is the link, so compare real paths on both sides or nothing is printed.
if (process.argv[1] !== undefined && realpathSync(resolve(process.argv[1])) === realpathSync(fileURLToPath(import.meta.url))) {
  const found = findLiburing();
  if (process.argv.includes('--why')) console.log(found.why);
  else process.stdout.write(found.found ? '1' : '0');
}
