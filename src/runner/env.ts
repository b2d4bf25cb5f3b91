// The result file's `env` block: where the numbers came from (RESULTS.md).

import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import type { Env } from '../results/schema.js';
import { readingsEnv, type SystemReadings } from '../system/limits.js';

/** The package root (dist/src/runner → three levels up). */
export const PACKAGE_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** A package.json's name and version, each null when absent or unreadable. */
function packageOf(packageJson: string): { name: string | null; version: string | null } {
  try {
    const { name, version } = JSON.parse(readFileSync(packageJson, 'utf8')) as { name?: unknown; version?: unknown };
    const text = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);
    return { name: text(name), version: text(version) };
  } catch {
    return { name: null, version: null };
  }
}

/** The harness's own version (package.json), null when unreadable: `c1m --version`. */
export function packageVersion(root = PACKAGE_ROOT): string | null {
  return packageOf(`${root}/package.json`).version;
}

/**
 * The upstream uWebSockets.js major that the binary this Node loads was built from, as "20.x",
 * or null. The binary says it in its own server header ("uWebSockets/20 Server"); the repack
 * keeps the binaries in dist/bin/, upstream at the package's root.
 */
export function uwsUpstreamVersion(dir: string): string | null {
  const file = `uws_${process.platform}_${process.arch}_${process.versions.modules}.node`;
  for (const path of [`${dir}/${file}`, `${dir}/dist/bin/${file}`]) {
    if (!existsSync(path)) continue;
    const m = /uWebSockets\/(\d+) Server/.exec(readFileSync(path).toString('latin1'));
    return m === null ? null : `${m[1] as string}.x`;
  }
  return null;
}

/**
 * Versions of the harness and of the libraries a result depends on; null when not installed.
 * uWebSockets.js is the npm alias of a repack (uWebSockets.js: npm:uws-pack@…), whose version is
 * its own: then `uWebSockets.js` is the upstream version its binary was built from and the
 * repack's version is recorded under the repack's name beside it.
 */
export function versions(root = PACKAGE_ROOT): Record<string, string | null> {
  const dep = (name: string): string | null => packageOf(`${root}/node_modules/${name}/package.json`).version;
  const uwsDir = `${root}/node_modules/uWebSockets.js`;
  const uws = packageOf(`${uwsDir}/package.json`);
  const repack = uws.name !== null && uws.name !== 'uWebSockets.js' ? uws.name : null;
  return {
    c1m: packageVersion(root),
    'uWebSockets.js': repack === null ? uws.version : uwsUpstreamVersion(uwsDir),
    ...(repack === null ? {} : { [repack]: uws.version }),
    autocannon: dep('autocannon'),
    ws: dep('ws'),
  };
}

/** The commit checked out at root, or null outside a git checkout (or without git). */
export function gitCommit(root = PACKAGE_ROOT): string | null {
  try {
    const out = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: root, stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 }).toString().trim();
    return /^[0-9a-f]{40,64}$/.test(out) ? out : null;
  } catch {
    return null;
  }
}

export function collectEnv(readings: SystemReadings, root = PACKAGE_ROOT): Env {
  const r = readingsEnv(readings);
  // "unlimited" reads as Infinity, which JSON cannot carry; the file says null (not known as a number).
  const finite = (n: number | null): number | null => (n !== null && Number.isFinite(n) ? n : null);
  return {
    node: process.version,
    ...r,
    nofileSoft: finite(r.nofileSoft),
    nofileHard: finite(r.nofileHard),
    versions: versions(root),
    git: gitCommit(root),
    hostname: os.hostname() || null,
  };
}
