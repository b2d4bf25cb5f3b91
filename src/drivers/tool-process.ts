// The HTTP tools a driver runs as subprocesses (wrk, h2load): running one
// under a bound with its output collected, the temporary folders its runs need, and ending
// everything at close (SIGTERM, then SIGKILL after a second).

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Target } from './driver-contract.js';

/** How much of a tool's stderr is kept for the sentence of a failure. */
const STDERR_TAIL = 16 * 1024;

/** "host:port", with an IPv6 host in brackets. */
export function targetText(t: Target): string {
  return net.isIPv6(t.host) ? `[${t.host}]:${t.port}` : `${t.host}:${t.port}`;
}

/** The last lines of a tool's stderr, joined for a sentence ("" when it printed nothing). */
export function stderrTail(stderr: string, lines = 3): string {
  return stderr.trim().split('\n').slice(-lines).join(' | ');
}

/** How one run of a tool ended, with everything it printed on stdout and the tail of its stderr. */
export interface ToolExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** It outlived its bound and was killed. */
  timedOut: boolean;
}

/** The tool processes and temporary folders of one driver. */
export class ToolProcesses {
  readonly #name: string;
  readonly #procs = new Set<ChildProcess>();
  readonly #dirs = new Set<string>();
  #closed = false;

  /** `name` names the tool in sentences ("wrk", "h2load"). */
  constructor(name: string) {
    this.#name = name;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** A fresh temporary folder, removed by removeDir or at close. */
  tempDir(): string {
    const dir = mkdtempSync(join(tmpdir(), `c1m-${this.#name}-`));
    this.#dirs.add(dir);
    return dir;
  }

  removeDir(dir: string): void {
    rmSync(dir, { recursive: true, force: true });
    this.#dirs.delete(dir);
  }

  /** Runs `file args`, killed with SIGKILL if it outlives boundMs. Rejects only when it cannot start. */
  run(file: string, args: readonly string[], boundMs: number): Promise<ToolExit> {
    if (this.#closed) return Promise.reject(new Error(`${this.#name} driver closed during the run`));
    return new Promise<ToolExit>((resolve, reject) => {
      const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      this.#procs.add(child);
      let stdout = '';
      let stderr = '';
      let timedOut = false;
      child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
      child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr = (stderr + s).slice(-STDERR_TAIL)));
      const bound = setTimeout(() => {
        timedOut = true;
        child.kill('SIGKILL');
      }, boundMs);
      child.once('error', (err) => {
        clearTimeout(bound);
        this.#procs.delete(child);
        reject(new Error(`cannot run ${file}: ${err.message}`));
      });
      child.once('close', (code, signal) => {
        clearTimeout(bound);
        this.#procs.delete(child);
        resolve({ code, signal, stdout, stderr, timedOut });
      });
    });
  }

  /** Ends every tool still running (SIGTERM, SIGKILL a second later) and removes the folders. */
  async close(): Promise<void> {
    this.#closed = true;
    const procs = [...this.#procs];
    const gone = Promise.all(procs.map((p) => new Promise<void>((resolve) => (p.exitCode !== null || p.signalCode !== null ? resolve() : p.once('close', () => resolve())))));
    for (const p of procs) p.kill('SIGTERM');
    let bound: NodeJS.Timeout | undefined;
    const late = await Promise.race([gone.then(() => false), new Promise<boolean>((resolve) => (bound = setTimeout(() => resolve(true), 1000)))]);
    clearTimeout(bound);
    if (late) for (const p of procs) p.kill('SIGKILL');
    for (const dir of this.#dirs) rmSync(dir, { recursive: true, force: true });
    this.#dirs.clear();
  }
}
