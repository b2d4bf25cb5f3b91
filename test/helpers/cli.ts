// Running the compiled `c1m` as a child process, the way a user does, and reading back the
// pids it reports starting (`c1m: started pid=… role=… name=…` on stderr); or its main() in this
// process, with what it prints captured.

import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Io } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';

/** `c1m argv…` through main() in this process: its exit code, stdout and stderr (120 columns). */
export async function c1m(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: Io = { out: (t) => (out += t), err: (t) => (err += t), columns: 120 };
  const code = await main(argv, io);
  return { code, out, err };
}

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const CLI = join(ROOT, 'dist/src/cli.js');

/** The driver the integration tests use: autocannon unless C1M_TEST_DRIVER names another (e.g. native). */
export const TEST_DRIVER = process.env['C1M_TEST_DRIVER'] ?? 'autocannon';

export interface CliRun {
  child: ChildProcess;
  /** Resolves when the process has exited, with everything it printed. */
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
  /** stderr so far. */
  stderr(): string;
  /** Resolves once a line of stdout or stderr matches re (rejects after timeoutMs or when the process ends first). */
  waitFor(re: RegExp, timeoutMs: number): Promise<string>;
}

export function startCli(args: readonly string[], env: NodeJS.ProcessEnv = {}): CliRun {
  const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const waiters = new Set<{ re: RegExp; resolve: (line: string) => void }>();
  const check = (): void => {
    for (const w of waiters) {
      const line = `${out}\n${err}`.split('\n').find((l) => w.re.test(l));
      if (line !== undefined) {
        waiters.delete(w);
        w.resolve(line);
      }
    }
  };
  child.stdout?.setEncoding('utf8').on('data', (s: string) => {
    out += s;
    check();
  });
  child.stderr?.setEncoding('utf8').on('data', (s: string) => {
    err += s;
    check();
  });
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve) => {
    child.once('close', (code, signal) => resolve({ code, signal, stdout: out, stderr: err }));
  });
  return {
    child,
    done,
    stderr: () => err,
    waitFor: (re, timeoutMs) =>
      new Promise<string>((resolve, reject) => {
        const line = `${out}\n${err}`.split('\n').find((l) => re.test(l));
        if (line !== undefined) return resolve(line);
        const w = {
          re,
          resolve: (l: string) => {
            clearTimeout(timer);
            resolve(l);
          },
        };
        const timer = setTimeout(() => {
          waiters.delete(w);
          reject(new Error(`no line matching ${re} within ${timeoutMs} ms; output so far:\n${out}\n${err}`));
        }, timeoutMs);
        waiters.add(w);
        void done.then(() => {
          if (!waiters.has(w)) return;
          waiters.delete(w);
          clearTimeout(timer);
          reject(new Error(`c1m exited before printing a line matching ${re}; stderr:\n${err}`));
        });
      }),
  };
}

/** Runs c1m to the end. */
export function runCli(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  return startCli(args, env).done;
}

/** Every pid c1m reported starting, with its role. */
export function startedPids(stderr: string): Array<{ pid: number; role: string; name: string }> {
  const out: Array<{ pid: number; role: string; name: string }> = [];
  for (const m of stderr.matchAll(/^c1m: started pid=(\d+) role=(\w+) name=(\S+)$/gm)) {
    out.push({ pid: Number(m[1]), role: m[2] ?? '', name: m[3] ?? '' });
  }
  return out;
}
