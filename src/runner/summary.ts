// From measured steps to a run's summary, and from runs to the file's comparisons. Pure: the
// runner hands in what it measured, tests hand in made-up steps.

import { median, linearFit, type LinearFit } from '../metrics/stats.js';
import type { Comparison, Measured, Run, Step, Summary } from '../results/schema.js';

/** A least-squares fit as recorded in a run's `fits` (an addition to RESULTS.md). */
export interface FitRecord {
  /** Bytes per connection. */
  slope: number;
  /** Bytes at zero connections (the process, or the kernel's baseline drift). */
  intercept: number;
  r2: Measured;
  /** Steps that went into the fit. */
  n: number;
}

export interface RunFits {
  /** Server RSS (all workers) over connections: summary.bytesPerConnection. */
  rssBytes: FitRecord | null;
  /** Server anonymous memory (RssAnon): heap, stacks, malloc arenas, without file-backed pages. */
  rssAnonBytes: FitRecord | null;
  /** V8 heap in use (all workers). */
  heapUsedBytes: FitRecord | null;
  /** Kernel slab over connections: summary.kernelBytesPerConnection. */
  slabBytes: FitRecord | null;
  /**
   * What the epoll engine itself holds, by its own exact accounting (counter engineBytes:
   * slots, timer wheels, client state, topic members, queued bytes): summary.engineBytesPerConnection.
   * Null for contenders without the engine. RSS (above) is the kernel's view of the same process.
   */
  engineBytes: FitRecord | null;
  /**
   * RSS minus V8's committed heap (heapTotal), all workers: the process's memory outside the JS
   * heap, from the kernel's and V8's own figures. V8 grows and shrinks its heap by megabytes
   * between steps whatever the connections do; this fit is immune to that:
   * summary.nonHeapBytesPerConnection.
   */
  nonHeapRssBytes: FitRecord | null;
}

function fitRecord(fit: LinearFit | null): FitRecord | null {
  return fit === null ? null : { slope: fit.slope, intercept: fit.intercept, r2: fit.r2, n: fit.n };
}

type Pick = (s: Step) => Measured | undefined;

function fitOver(steps: readonly Step[], pick: Pick): FitRecord | null {
  const xs = steps.map((s) => s.connections ?? null);
  const ys = steps.map((s) => pick(s) ?? null);
  // A slope over steps whose connection counts barely differ (the ramps fell short) divides
  // noise by almost nothing: no per-connection figure then.
  const present = xs.filter((x): x is number => typeof x === 'number');
  if (present.length < 2 || Math.max(...present) - Math.min(...present) < Math.max(100, 0.1 * Math.max(...present))) return null;
  return fitRecord(linearFit(xs, ys));
}

/** Per-connection slopes over the steps: the fit needs two steps at different connection counts. */
export function fitSteps(steps: readonly Step[]): RunFits {
  return {
    rssBytes: fitOver(steps, (s) => s.server?.rssBytes),
    rssAnonBytes: fitOver(steps, (s) => (s.server as { rssAnonBytes?: Measured } | null | undefined)?.rssAnonBytes),
    heapUsedBytes: fitOver(steps, (s) => s.server?.heapUsedBytes),
    slabBytes: fitOver(steps, (s) => s.kernel?.slabBytes),
    engineBytes: fitOver(steps, (s) => (s.server as { engineBytes?: Measured } | null | undefined)?.engineBytes),
    nonHeapRssBytes: fitOver(steps, (s) => {
      const rss = s.server?.rssBytes;
      const heap = (s.server as { heapTotalBytes?: Measured } | null | undefined)?.heapTotalBytes;
      return typeof rss === 'number' && typeof heap === 'number' ? rss - heap : null;
    }),
  };
}

/**
 * A slope is a cost per connection and cannot be negative; a negative fit means the memory
 * moved for reasons other than connections (a GC between steps, reclaimed slab), and saying so
 * with null is more honest than clamping to 0.
 */
function perConnection(fit: FitRecord | null): Measured {
  return fit === null || fit.slope < 0 ? null : fit.slope;
}

/**
 * The summary of one run:
 * - maxConnections: the most established at any step;
 * - connectRatePerSec: the median connect rate over the ramps that opened connections;
 * - bytesPerConnection / kernelBytesPerConnection: slopes of server RSS and kernel slab;
 * - opsPerSec, opsPerServerCpuSec, latency: from the last step that ran load (scenarios put
 *   their headline level last).
 */
export function summarizeRun(steps: readonly Step[], rampRates: readonly Measured[], fits: RunFits = fitSteps(steps)): Summary {
  const conns = steps.map((s) => s.connections).filter((c): c is number => typeof c === 'number');
  const loaded = [...steps].reverse().find((s) => typeof s.throughput?.opsPerSec === 'number');
  const rates = rampRates.filter((r): r is number => typeof r === 'number' && r > 0);
  return {
    maxConnections: conns.length > 0 ? Math.max(...conns) : null,
    connectRatePerSec: median(rates),
    bytesPerConnection: perConnection(fits.rssBytes),
    kernelBytesPerConnection: perConnection(fits.slabBytes),
    engineBytesPerConnection: perConnection(fits.engineBytes),
    nonHeapBytesPerConnection: perConnection(fits.nonHeapRssBytes),
    opsPerSec: loaded?.throughput?.opsPerSec ?? null,
    opsPerServerCpuSec: loaded?.throughput?.opsPerServerCpuSec ?? null,
    latencyUs: { p50: loaded?.latencyUs?.p50 ?? null, p99: loaded?.latencyUs?.p99 ?? null },
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
 * from runs of this one file only. A metric the baseline did not measure yields no comparison;
 * a contender that did not measure it gets null. `protocol` is an addition to RESULTS.md.
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
      const b = median(base.map((r) => pickPath(r, metric)));
      if (b === null || b === 0) continue;
      const ratios: Record<string, Measured> = {};
      for (const c of contenders) {
        const m = median(ok.filter((r) => r.contender === c).map((r) => pickPath(r, metric)));
        ratios[c] = m === null ? null : m / b;
      }
      out.push({ metric, baseline, protocol, ratios });
    }
  }
  return out;
}
