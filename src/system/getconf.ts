// Values the kernel reports in its own units (clock ticks, pages) need the system's
// constants to become milliseconds and bytes. Node exposes neither, so they come from
// getconf once per process.
import { execFileSync } from 'node:child_process';

const cache = new Map<string, number>();

/** Reads a positive integer from `getconf <name>`, once; falls back when getconf is missing or odd. */
export function getconfNumber(name: string, fallback: number): number {
  const hit = cache.get(name);
  if (hit !== undefined) return hit;
  let value = fallback;
  try {
    const out = execFileSync('getconf', [name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 2000 });
    const n = Number(out.trim());
    if (Number.isSafeInteger(n) && n > 0) value = n;
  } catch {
    // getconf absent (minimal containers): the fallback is the value on every mainstream Linux.
  }
  cache.set(name, value);
  return value;
}

/** Clock ticks per second (USER_HZ) that /proc/<pid>/stat times are counted in; normally 100. */
export function clockTicksPerSecond(): number {
  return getconfNumber('CLK_TCK', 100);
}

/** Page size in bytes that tcp_mem and sockstat `mem` are counted in; normally 4096. */
export function pageSizeBytes(): number {
  return getconfNumber('PAGESIZE', 4096);
}
