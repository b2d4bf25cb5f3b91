// The result file's `env` block: where the numbers came from (RESULTS.md).

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import type { Env } from '../results/schema.js';
import { readingsEnv, type SystemReadings } from '../system/limits.js';

/** The package root (dist/src/runner → three levels up). */
export const PACKAGE_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

function versionOf(packageJson: string): string | null {
  try {
    const v = (JSON.parse(readFileSync(packageJson, 'utf8')) as { version?: unknown }).version;
    return typeof v === 'string' && v !== '' ? v : null;
  } catch {
    return null;
  }
}

/** Versions of the harness and of the libraries a result depends on; null when not installed. */
export function versions(root = PACKAGE_ROOT): Record<string, string | null> {
  const dep = (name: string): string | null => versionOf(`${root}/node_modules/${name}/package.json`);
  return {
    c1m: versionOf(`${root}/package.json`),
    'uWebSockets.js': dep('uWebSockets.js'),
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
