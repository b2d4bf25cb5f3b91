// From measured steps to a run's summary, and from runs to the file's comparisons. Pure: the
// runner hands in what it measured, tests hand in made-up steps, the loader hands in old files.

import { median } from '../metrics/stats.js';
import { fitMemory, fittableSteps, perConnection } from './fit.js';
import { RATIO_INTERVAL_METHOD, ratioOf } from './ratio.js';
import type { Comparison, MemoryFit, Measured, Run, Step, Summary } from './schema.js';

/** The step a run's headline figures come from: the last one that ran load (-1 when none did). */
export function headlineStepIndex(steps: readonly Step[]): number {
  for (let i = steps.length - 1; i >= 0; i--) if (typeof steps[i]?.throughput?.opsPerSec === 'number') return i;
  return -1;
}

/**
 * Whether the driver was the bottleneck where the run's headline figures were measured: that
 * step's own flag, or the run's (any load) in files whose steps do not carry one.
 */
export function headlineClientBound(run: Run): boolean {
  const step = run.steps[headlineStepIndex(run.steps)];
  return typeof step?.clientBound === 'boolean' ? step.clientBound : run.clientBound === true;
}

/**
 * Milliseconds a run's ramps took to establish their connections, summed (the steps in between
 * are not counted); null without ramps, or when a ramp has no time (a sum without it would be short).
 */
export function establishMs(run: Run): number | null {
  const ramps = run.ramps ?? [];
  if (ramps.length === 0) return null;
  let ms = 0;
  for (const r of ramps) {
    if (typeof r.ms !== 'number' || !Number.isFinite(r.ms)) return null;
    ms += r.ms;
  }
  return ms;
}

/**
 * The summary of one run:
 * - maxConnections: the most established at any step;
 * - connectRatePerSec: the median connect rate over the ramps that opened connections;
 * - bytesPerConnection, kernelBytesPerConnection, engineBytesPerConnection,
 *   nonHeapBytesPerConnection: the slopes of `fit` (null when negative), which is recorded
 *   beside them as `fit`;
 * - opsPerSec, opsPerServerCpuSec, latency: from the last step that ran load (scenarios put
 *   their headline level last).
 * Without `fit`, every step but the reaps is fitted.
 */
export function summarizeRun(steps: readonly Step[], rampRates: readonly Measured[], fit: MemoryFit = fitMemory(steps, fittableSteps(steps))): Summary {
  const conns = steps.map((s) => s.connections).filter((c): c is number => typeof c === 'number');
  const loaded = steps[headlineStepIndex(steps)];
  const rates = rampRates.filter((r): r is number => typeof r === 'number' && r > 0);
  return {
    maxConnections: conns.length > 0 ? Math.max(...conns) : null,
    connectRatePerSec: median(rates),
    bytesPerConnection: perConnection(fit.bytesPerConnection),
    kernelBytesPerConnection: perConnection(fit.kernelBytesPerConnection),
    engineBytesPerConnection: perConnection(fit.engineBytesPerConnection),
    nonHeapBytesPerConnection: perConnection(fit.nonHeapBytesPerConnection),
    opsPerSec: loaded?.throughput?.opsPerSec ?? null,
    opsPerServerCpuSec: loaded?.throughput?.opsPerServerCpuSec ?? null,
    latencyUs: { p50: loaded?.latencyUs?.p50 ?? null, p99: loaded?.latencyUs?.p99 ?? null },
    fit,
  };
}

/** The summary fields compared between contenders, as dotted paths into a run. */
export const COMPARED_METRICS: readonly string[] = [
  'summary.bytesPerConnection',
  'summary.kernelBytesPerConnection',
  'summary.connectRatePerSec',
  'summary.opsPerSec',
  'summary.opsPerServerCpuSec',
  'summary.latencyUs.p50',
  'summary.latencyUs.p99',
];

function pickPath(run: Run, path: string): Measured {
  let v: unknown = run;
  for (const k of path.split('.')) {
    if (typeof v !== 'object' || v === null) return null;
    v = (v as Record<string, unknown>)[k];
  }
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

/**
 * Ratios of medians over the ok runs of each contender against the baseline's, per protocol,
 * from runs of this one file only, each with its interval over repetitions (results/ratio.ts).
 * A metric the baseline did not measure yields no comparison; a contender that did not
 * measure it gets null. `protocol`, `intervals`, `pairs` and `intervalMethod` are additions to
 * RESULTS.md.
 */
export function compareRuns(runs: readonly Run[], baseline = 'net'): Array<Comparison & { protocol: string }> {
  const out: Array<Comparison & { protocol: string }> = [];
  const protocols = [...new Set(runs.map((r) => r.protocol))];
  for (const protocol of protocols) {
    const ok = runs.filter((r) => r.protocol === protocol && r.ok);
    const contenders = [...new Set(runs.filter((r) => r.protocol === protocol).map((r) => r.contender))].filter((c) => c !== baseline);
    const base = ok.filter((r) => r.contender === baseline);
    if (base.length === 0 || contenders.length === 0) continue;
    for (const metric of COMPARED_METRICS) {
      const b = byRep(base, metric);
      const mb = median(b);
      if (mb === null || mb === 0) continue;
      const ratios: Record<string, Measured> = {};
      const intervals: Record<string, [number, number] | null> = {};
      const pairs: Record<string, number> = {};
      for (const c of contenders) {
        const e = ratioOf(byRep(ok.filter((r) => r.contender === c), metric), b);
        ratios[c] = e?.ratio ?? null;
        intervals[c] = e === null ? null : [e.low, e.high];
        pairs[c] = e?.pairs ?? 0;
      }
      out.push({ metric, baseline, protocol, ratios, intervals, pairs, intervalMethod: RATIO_INTERVAL_METHOD });
    }
  }
  return out;
}

/** The metric of each run indexed by its repetition (absent repetitions are null). */
export function byRep(runs: readonly Run[], metric: string): Measured[] {
  const out: Measured[] = [];
  for (const r of runs) out[r.rep] = pickPath(r, metric);
  return Array.from(out, (v) => v ?? null);
}
