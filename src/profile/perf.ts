// After `perf record`: `perf script` folded into stacks as it streams (a long dwarf profile is
// hundreds of megabytes of text), within a bound.

import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { PerfFolder, type Folded } from './fold.js';

export interface PerfScriptResult {
  folded: Folded;
  samples: number;
  /** perf's warnings (lost samples, missing symbols), last lines. */
  stderr: string;
}

/**
 * Runs `perf script` on dataFile and folds its output. --no-inline: resolving inlined frames
 * runs addr2line for every address, minutes instead of a second, for names the symbol table
 * already gives. JIT frames are named from /tmp/perf-<pid>.map, which must still be there.
 */
export function perfScriptFolded(perf: string, dataFile: string, timeoutMs: number, stripPrefixes: readonly string[] = []): Promise<PerfScriptResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(perf, ['script', '--no-inline', '-i', dataFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    const folder = new PerfFolder({ stripPrefixes });
    let stderr = '';
    let timedOut = false;
    child.stderr.setEncoding('utf8').on('data', (s: string) => {
      stderr = (stderr + s).slice(-8192);
    });
    const lines = createInterface({ input: child.stdout, crlfDelay: Infinity });
    lines.on('line', (line) => folder.push(line));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`cannot run ${perf} script: ${err.message}`));
    });
    // 'close' comes after stdout has ended, so every line has been folded by then.
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (timedOut) return reject(new Error(`perf script did not finish within ${Math.round(timeoutMs / 1000)} s`));
      if (code !== 0) return reject(new Error(`perf script failed (${signal ?? `exit ${code}`}): ${stderr.trim().split('\n').slice(-3).join(' | ')}`));
      const folded = folder.end();
      resolve({ folded, samples: folder.samples, stderr: stderr.trim() });
    });
  });
}

/** "(1592 samples)" from perf record's last words, or null. */
export function recordedSamples(stderr: string | null): number | null {
  const m = /\((\d+) samples\)/.exec(stderr ?? '');
  return m === null ? null : Number(m[1]);
}
