// The HTTP tools a driver runs as subprocesses (wrk, h2load): running one
// under a bound with its output collected, its CPU read while it lives (ToolCpu, cpu.ts), the
// temporary folders its runs need, ending everything at close (SIGTERM, then SIGKILL after a
// second), and the driver both are (HttpToolDriver: ramp by probe, one tool process per target,
// results merged). A run's `cpu` is the tools' CPU over their measured periods, pct the busiest
// tool's: the driver's own Node process only waits for them meanwhile, and its reading of their
// output afterwards is not load.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CpuUse, DriverCommand, DriverErrors, DriverImpl, RampResult, ResolvedDriverConfig, RunResult, Target } from './driver-contract.js';
import { ToolCpu } from './cpu.js';
import { probeRamp, type HttpProbe } from './http-probe.js';
import { addErrors, emptyErrors, mergeRunResults, splitCount } from './merge.js';

/** How much of a tool's stderr is kept for the sentence of a failure. */
const STDERR_TAIL = 16 * 1024;

/** "host:port", with an IPv6 host in brackets. */
export function targetText(t: Target): string {
  return net.isIPv6(t.host) ? `[${t.host}]:${t.port}` : `${t.host}:${t.port}`;
}

/** The URL an HTTP tool asks: https when the run is over TLS. */
export function targetUrl(c: Pick<ResolvedDriverConfig, 'tls' | 'path'>, t: Target): string {
  return `${c.tls ? 'https' : 'http'}://${targetText(t)}${c.path}`;
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
  /**
   * Its CPU over its measured period: from its start (or ToolCpu.begin() by the caller) to its
   * end (ToolCpu.end() by the caller, else the last reading before it exited).
   */
  cpu: CpuUse;
}

/** What a caller may watch while a tool runs. */
export interface ToolWatch {
  /** The process is started: its pid and CPU reader (begin() is already marked at the start). */
  onSpawn?: (child: ChildProcess, cpu: ToolCpu) => void;
  /** Each complete stdout line as it arrives, with Date.now() at its arrival. */
  onLine?: (line: string, atMs: number) => void;
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
  run(file: string, args: readonly string[], boundMs: number, watch: ToolWatch = {}): Promise<ToolExit> {
    if (this.#closed) return Promise.reject(new Error(`${this.#name} driver closed during the run`));
    return new Promise<ToolExit>((resolve, reject) => {
      const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      this.#procs.add(child);
      const cpu = child.pid === undefined ? undefined : new ToolCpu(child.pid);
      cpu?.begin();
      if (cpu !== undefined) watch.onSpawn?.(child, cpu);
      let stdout = '';
      let stderr = '';
      let timedOut = false;
      let lineStart = 0;
      child.stdout.setEncoding('utf8').on('data', (s: string) => {
        stdout += s;
        if (watch.onLine === undefined) return;
        const at = Date.now();
        for (let nl = stdout.indexOf('\n', lineStart); nl >= 0; nl = stdout.indexOf('\n', lineStart)) {
          watch.onLine(stdout.slice(lineStart, nl), at);
          lineStart = nl + 1;
        }
      });
      child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr = (stderr + s).slice(-STDERR_TAIL)));
      const bound = setTimeout(() => {
        timedOut = true;
        child.kill('SIGKILL');
      }, boundMs);
      child.once('error', (err) => {
        clearTimeout(bound);
        cpu?.stop();
        this.#procs.delete(child);
        reject(new Error(`cannot run ${file}: ${err.message}`));
      });
      child.once('close', (code, signal) => {
        clearTimeout(bound);
        this.#procs.delete(child);
        // Already reaped: end() keeps the last reading taken while it was alive.
        cpu?.end();
        cpu?.stop();
        resolve({ code, signal, stdout, stderr, timedOut, cpu: cpu?.read() ?? { userMs: 0, sysMs: 0, pct: 0 } });
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

/** One tool process's share of a run: a target and the connections it opens there. */
export interface ToolPart {
  target: Target;
  connections: number;
}

/** What a tool driver's measurement gives back: each part's result, and figures of the run as a whole. */
export interface ToolMeasurement {
  results: RunResult[];
  extra?: Record<string, number>;
  /** Errors of a warm-up the tool ran apart (wrk's own warm-up run), for the step. */
  warmupErrors?: DriverErrors;
  /** Sentences about the measurement that no single result carries (a warm-up that failed). */
  warnings?: string[];
}

/**
 * A driver that runs an HTTP tool (wrk, h2load) once per target for each measured period: the
 * ramp is a probe (the tool opens its connections itself when it runs), the run splits the
 * connections over the targets, runs the tool's processes side by side in a temporary folder and
 * merges their results. A tool says only how to run itself and read its output (measure).
 */
export abstract class HttpToolDriver implements DriverImpl {
  protected readonly config: ResolvedDriverConfig;
  protected readonly exe: string;
  protected readonly tools: ToolProcesses;
  readonly #name: 'wrk' | 'h2load';
  readonly #notes: string[];
  #target = 0;
  #probe: HttpProbe | undefined;
  #running = 0;
  readonly #cumulative = emptyErrors();

  constructor(name: 'wrk' | 'h2load', config: ResolvedDriverConfig, exe: string, notes: string[]) {
    this.#name = name;
    this.config = config;
    this.exe = exe;
    this.#notes = notes;
    this.tools = new ToolProcesses(name);
  }

  /** Runs the tool for `parts` side by side (temporary files in `dir`) and reads each one's result. */
  protected abstract measure(dir: string, parts: ToolPart[], cmd: Extract<DriverCommand, { type: 'run' }>): Promise<ToolMeasurement>;

  async ramp(cmd: Extract<DriverCommand, { type: 'ramp' }>, progress: (connections: number) => void): Promise<RampResult> {
    if (this.tools.closed) throw new Error(`${this.#name} driver is closed`);
    this.#target = cmd.connections;
    return probeRamp(this.#name, this.config, cmd, { notes: this.#notes, cumulative: this.#cumulative, track: (p) => (this.#probe = p), progress });
  }

  async run(cmd: Extract<DriverCommand, { type: 'run' }>, progress: (connections: number, ops: number) => void): Promise<RunResult> {
    if (this.tools.closed) throw new Error(`${this.#name} driver is closed`);
    if (this.#target === 0) throw new RangeError(`${this.#name}: ramp to a connection count before run (the run opens that many connections)`);
    const targets = this.config.targets;
    const parts = splitCount(this.#target, targets.length)
      .map((n, i) => ({ target: targets[i] as Target, connections: n }))
      .filter((p) => p.connections > 0);
    const dir = this.tools.tempDir();
    this.#running = this.#target;
    const ticker = setInterval(() => progress(this.#running, 0), 250);
    try {
      const m = await this.measure(dir, parts, cmd);
      const merged = mergeRunResults(m.results);
      Object.assign(merged.extra, m.extra ?? {});
      if (m.warmupErrors !== undefined) merged.warmupErrors = m.warmupErrors;
      addErrors(this.#cumulative, merged.errors);
      if (merged.warmupErrors !== undefined) addErrors(this.#cumulative, merged.warmupErrors);
      const warnings = [...this.#notes, ...(m.warnings ?? []), ...(merged.warnings ?? [])];
      if (warnings.length > 0) merged.warnings = warnings;
      progress(0, merged.ops);
      return merged;
    } finally {
      clearInterval(ticker);
      this.#running = 0;
      this.tools.removeDir(dir);
    }
  }

  stats(): { connections: number; errors: DriverErrors } {
    return { connections: this.#probe?.open ?? this.#running, errors: { ...this.#cumulative } };
  }

  async close(): Promise<void> {
    this.#probe?.abort();
    await this.tools.close();
  }
}
