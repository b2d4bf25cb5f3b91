// The load side of a run: one or more driver processes (src/drivers/driver-handle.ts) behaving as one.
// When the fd limit caps a process below the target, the connections, the connect rate, an
// open loop's message rate and the publishers are split between processes, and their ramp
// and run results merged (counts add, histograms merge, CPU is kept per process so that one
// saturated driver marks the whole run client-bound).

import { mergeRampResults, mergeRunResults, splitCount, startDrivers, type DriverHandle, type StartDriverOptions } from '../drivers/driver-handle.js';
import type { DriverConfig, DriverErrors, RampResult, RunResult } from '../drivers/driver-contract.js';

export interface DriverProgress {
  phase: 'ramp' | 'run';
  connections: number;
  ops: number;
  elapsedMs: number;
}

/**
 * Configs for n driver processes that together apply config: disjoint slices of the source
 * addresses when there are enough to go round (all of them to each otherwise), and an open
 * loop's rate and the ws-broadcast publishers divided between them.
 */
export function splitConfig(config: DriverConfig, n: number): DriverConfig[] {
  if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`driver processes must be a positive integer, got ${n}`);
  if (n === 1) return [config];
  const addrs = config.sourceAddresses ?? [];
  const out: DriverConfig[] = [];
  const addrShares = splitCount(addrs.length, n);
  const publisherShares = splitCount(config.publishers ?? 0, n);
  let from = 0;
  for (let i = 0; i < n; i++) {
    const c: DriverConfig = { ...config, targets: [...config.targets] };
    if (addrs.length >= n) {
      const k = addrShares[i] ?? 0;
      c.sourceAddresses = addrs.slice(from, from + k);
      from += k;
    }
    // ws-broadcast: each process publishes its publishers' share of the rate (the runner refuses a
    // split that leaves a process without publishers); any other open loop, an equal share.
    if (config.rate !== undefined) c.rate = config.publishers ? (config.rate * (publisherShares[i] ?? 0)) / config.publishers : config.rate / n;
    if (config.publishers !== undefined) c.publishers = publisherShares[i] ?? 0;
    out.push(c);
  }
  return out;
}

/** Several driver processes steered as one. */
export class DriverGroup {
  readonly handles: readonly DriverHandle[];
  readonly #progress = new Map<number, DriverProgress>();
  #listener: ((p: DriverProgress) => void) | null = null;

  private constructor(handles: DriverHandle[]) {
    this.handles = handles;
    handles.forEach((h, i) =>
      h.onProgress((p) => {
        this.#progress.set(i, p);
        this.#listener?.(this.progress());
      }),
    );
  }

  /** Starts n processes side by side for config; if one fails, the others are closed and the error passed on. */
  static async start(config: DriverConfig, n: number, opts: StartDriverOptions): Promise<DriverGroup> {
    return new DriverGroup(await startDrivers(splitConfig(config, n), opts));
  }

  get pids(): number[] {
    return this.handles.map((h) => h.pid);
  }

  onProgress(cb: ((p: DriverProgress) => void) | null): void {
    this.#listener = cb;
  }

  /** The latest progress of every process, summed. */
  progress(): DriverProgress {
    let connections = 0;
    let ops = 0;
    let elapsedMs = 0;
    let phase: 'ramp' | 'run' = 'ramp';
    for (const p of this.#progress.values()) {
      connections += p.connections;
      ops += p.ops;
      elapsedMs = Math.max(elapsedMs, p.elapsedMs);
      phase = p.phase;
    }
    return { phase, connections, ops, elapsedMs };
  }

  async ramp(connections: number, ratePerSec: number, timeoutMs: number): Promise<RampResult> {
    const n = this.handles.length;
    const shares = splitCount(connections, n);
    this.#progress.clear();
    // Several processes are timed as one, from the commands to the last answer: each times only
    // itself, from when its command arrived.
    const t0 = performance.now();
    const results = await Promise.all(this.handles.map((h, i) => h.ramp(shares[i] ?? 0, ratePerSec / n, timeoutMs)));
    return n === 1 ? (results[0] as RampResult) : mergeRampResults(results, performance.now() - t0);
  }

  async run(durationMs: number, warmupMs: number): Promise<RunResult> {
    this.#progress.clear();
    const results = await Promise.all(this.handles.map((h) => h.run(durationMs, warmupMs)));
    return results.length === 1 ? (results[0] as RunResult) : mergeRunResults(results);
  }

  /** Connections and errors summed over the processes (answered after any phase in flight). */
  async stats(): Promise<{ connections: number; errors: DriverErrors }> {
    const all = await Promise.all(this.handles.map((h) => h.stats()));
    const errors: DriverErrors = { connect: 0, read: 0, write: 0, timeout: 0, protocol: 0 };
    for (const s of all) for (const k of Object.keys(errors) as (keyof DriverErrors)[]) errors[k] += s.errors[k];
    return { connections: all.reduce((a, s) => a + s.connections, 0), errors };
  }

  /** Closes every process (close command, then SIGTERM, then SIGKILL, each bounded). */
  async close(): Promise<void> {
    await Promise.allSettled(this.handles.map((h) => h.close()));
  }
}
