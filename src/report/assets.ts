// Reads the browser builds of the charting library from node_modules so the HTML page can carry
// them inline and open offline. Each package names its browser build itself (the "umd" export
// condition, or "unpkg"), so a version bump that moves the file still finds it.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

export interface BrowserLibrary {
  name: string;
  version: string;
  license: string;
  /** The minified UMD build, safe to put between <script> tags. */
  code: string;
}

interface PackageJson {
  name?: string;
  version?: string;
  license?: string;
  unpkg?: string;
  exports?: Record<string, unknown>;
}

const require = createRequire(import.meta.url);
const cache = new Map<string, BrowserLibrary>();

function packageRoot(name: string): { dir: string; pkg: PackageJson } {
  // package.json itself is not exported by these packages, so start from the entry point and walk up.
  let dir = dirname(require.resolve(name));
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as PackageJson;
      if (pkg.name === name) return { dir, pkg };
    } catch {
      // No package.json at this level; keep walking up.
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`cannot find the package folder of ${name}`);
    dir = parent;
  }
}

export function browserLibrary(name: string): BrowserLibrary {
  const hit = cache.get(name);
  if (hit) return hit;
  const { dir, pkg } = packageRoot(name);
  const umd = pkg.exports?.['umd'];
  const file = typeof umd === 'string' ? umd : pkg.unpkg;
  if (!file) throw new Error(`${name} names no browser build (no "umd" export, no "unpkg" field)`);
  // "</script" inside the code would end the inline <script> element early; "<\/script" is the
  // same text to JavaScript in a string or regular expression, the only places it can occur.
  const code = readFileSync(join(dir, file), 'utf8').replace(/<\/script/gi, '<\\/script');
  const lib = { name, version: pkg.version ?? 'unknown', license: pkg.license ?? 'unknown', code };
  cache.set(name, lib);
  return lib;
}

/** d3 first: Plot's UMD build expects the global `d3`. */
export function chartLibraries(): BrowserLibrary[] {
  return [browserLibrary('d3'), browserLibrary('@observablehq/plot')];
}
