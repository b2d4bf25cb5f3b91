// Chart data for every measured step of a result file, not only the headline one: achieved
// throughput per step (with the offered rate of open-loop steps marked), server CPU per operation
// split into user and kernel time, server CPU beside the driver's with the client-bound threshold,
// latency against offered load, and the full percentile curve of each step on a "nines" axis from
// the stored histograms. Like charts.ts, everything that needs judgment happens here; the page
// only draws. Medians are over the ok repetitions of a contender; each repetition is kept too,
// to be drawn faint under the same legend entry.

import { CLIENT_BOUND_PCT } from '../drivers/cpu.js';
import { histogramOf, pooledHistogram } from '../results/histograms.js';
import type { C1mResult, LoadedResult, Run, Step } from '../results/schema.js';
import type { Histogram } from '../metrics/histogram.js';
import { fmtPct, fmtRate, fmtUs, type Unit } from './page-format.js';
import { runStatus, stat } from './model.js';
import type { LegendEntry } from './charts.js';

interface ChartBase {
  id: string;
  title: string;
  caption: string;
  legend: LegendEntry[];
}

/** Bars per step (one facet per step), one column per contender, optionally stacked in parts. */
export interface StepBarsChart extends ChartBase {
  kind: 'steps';
  unit: Unit;
  /** Facet labels, in the order the steps ran. */
  steps: string[];
  /** The columns of each facet, in order, and what each says under it. */
  columns: Array<{ key: string; label: string }>;
  /** One rectangle per part of a column's bar; medians over repetitions. */
  /** part: achieved, total, user, kernel (stacked on user) or driver (its own column). */
  bars: Array<{ step: string; column: string; contender: string; part: 'achieved' | 'total' | 'user' | 'kernel' | 'driver'; y1: number; y2: number; title: string }>;
  /** Each repetition's total, drawn as a faint dot on its column. */
  reps: Array<{ step: string; column: string; contender: string; value: number }>;
  /** The figure written above each column (the median), placed at `value`: the bar's top or its highest repetition, whichever is higher. */
  totals: Array<{ step: string; column: string; value: number; label: string }>;
  /** Horizontal marks: an open loop's offered rate (in its step), or a threshold across every step. */
  rules: Array<{ step: string | null; value: number; label: string }>;
}

/** Latency percentiles against the offered rate of the open-loop steps. */
export interface LoadLatencyChart extends ChartBase {
  kind: 'loadLatency';
  xLog: boolean;
  /** Medians over repetitions, one line per contender and percentile. */
  points: Array<{ contender: string; series: string; percentile: string; offered: number; achieved: number | null; us: number }>;
  /** Each repetition's figure, faint. */
  reps: Array<{ contender: string; percentile: string; offered: number; us: number }>;
}

/** One step's latency at every percentile, on a log axis of 1/(1 - p): 90 %, 99 %, 99.9 %… evenly spaced. */
export interface NinesChart extends ChartBase {
  kind: 'nines';
  /** Whether the curves come from the stored histograms or, in files without them, from the stored percentiles. */
  source: 'histograms' | 'percentiles';
  /** The largest 1/(1 - p) drawn: the count of the biggest histogram. */
  maxX: number;
  points: Array<{ contender: string; series: string; pooled: boolean; x: number; percentile: number; us: number }>;
}

export type StepChartSpec = StepBarsChart | LoadLatencyChart | NinesChart;

/** A point of a percentile curve: `x` is 1/(1 - p), so every added nine is one decade further right. */
export interface CurvePoint {
  x: number;
  /** 0..100. */
  percentile: number;
  us: number;
}

/**
 * The latency at every percentile of a histogram, `perDecade` points per decade of 1/(1 - p),
 * from the minimum (x = 1, p = 0) up to x = count. The maximum (p = 100, at x = infinity) is
 * drawn at x = count, the end of the axis: past 1/(1 - p) = count no recorded value is left to
 * tell percentiles apart, as in HdrHistogram's own percentile plots.
 */
export function percentileCurve(h: Histogram, perDecade = 10): CurvePoint[] {
  if (h.count === 0) return [];
  const xs: number[] = [];
  for (let j = 0; 10 ** (j / perDecade) < h.count; j++) xs.push(10 ** (j / perDecade));
  const ps = xs.map((x) => 100 * (1 - 1 / x));
  const us = h.valuesAtPercentiles(ps);
  const curve = xs.map((x, i) => ({ x, percentile: ps[i]!, us: us[i]! }));
  if (h.count > 1) curve.push({ x: h.count, percentile: 100, us: h.max });
  return curve;
}

/** Where the stored percentiles sit on the nines axis (max has no fixed place and is left out). */
const STORED_PERCENTILES = [
  { key: 'p50', percentile: 50 },
  { key: 'p90', percentile: 90 },
  { key: 'p99', percentile: 99 },
  { key: 'p999', percentile: 99.9 },
] as const;

function loadOf(result: C1mResult, group: string): Record<string, unknown> | null {
  const load = group === 'main' ? result.load : result.groups?.[group];
  return load && typeof load === 'object' ? (load as Record<string, unknown>) : null;
}

/**
 * The message rate a step offered: the sum of the rates of its open-loop driver groups (the groups
 * that ran in it, as step.groups records them), or null when any group ran a closed loop or none
 * ran an open one, or when it is a broadcast (its rate counts publishes, its operations deliveries).
 * Groups that only hold or stall connections offer nothing.
 */
export function offeredRate(result: C1mResult, step: Step | undefined): number | null {
  const groups = Object.keys(step?.groups ?? {});
  if (groups.length === 0) return null;
  let total = 0;
  let open = false;
  for (const g of groups) {
    const load = loadOf(result, g);
    if (load?.['mode'] === 'closed') return null;
    // A broadcast's rate is publishes per second while its operations are deliveries (one per
    // member of the room): the two do not share a unit, so no offered rate is given.
    if (load?.['publishers'] !== undefined) return null;
    if (load?.['mode'] === 'open') {
      const rate = load['rate'];
      if (typeof rate !== 'number' || !(rate > 0)) return null;
      total += rate;
      open = true;
    }
  }
  return open ? total : null;
}

interface Series {
  /** Contender, or contender · protocol when the file has several protocols. */
  key: string;
  contender: string;
  runs: Run[];
}

function seriesOf(loaded: LoadedResult): Series[] {
  const ok = loaded.result.runs.filter((r) => runStatus(r) === 'ok');
  const protocols = new Set(ok.map((r) => r.protocol)).size > 1;
  const out: Series[] = [];
  for (const run of ok) {
    const key = protocols ? `${run.contender} · ${run.protocol}` : run.contender;
    const s = out.find((x) => x.key === key);
    if (s) s.runs.push(run);
    else out.push({ key, contender: run.contender, runs: [run] });
  }
  return out;
}

/** Step labels, one per step index of the file, made unique (a repeated label gets its number). */
function stepLabels(loaded: LoadedResult): string[] {
  const n = Math.max(0, ...loaded.result.runs.map((r) => r.steps.length));
  const labels: string[] = [];
  for (let i = 0; i < n; i++) {
    const run = loaded.result.runs.find((r) => typeof r.steps[i]?.label === 'string');
    labels.push(run?.steps[i]?.label ?? `step ${i + 1}`);
  }
  return labels.map((l, i) => (labels.indexOf(l) === labels.lastIndexOf(l) ? l : `${i + 1}: ${l}`));
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** Indices of the steps in which some ok run measured a throughput. */
function loadSteps(series: Series[], labels: string[]): number[] {
  return labels.map((_, i) => i).filter((i) => series.some((s) => s.runs.some((r) => num(r.steps[i]?.throughput?.opsPerSec) !== null)));
}

const contendersLegend = (series: Series[]): LegendEntry[] => {
  const seen = new Set<string>();
  const out: LegendEntry[] = [];
  for (const s of series) {
    if (seen.has(s.contender)) continue;
    seen.add(s.contender);
    out.push({ contender: s.contender, text: '' });
  }
  return out;
};

function repsNote(series: Series[]): string {
  const reps = Math.max(...series.map((s) => s.runs.length));
  return reps > 1 ? ` Bars are medians over ${reps} repetitions; each repetition is a faint dot.` : '';
}

/** A bars-per-step chart with nothing in it yet: one column per series, the steps added as they are filled. */
function emptyStepBars(id: string, title: string, unit: Unit, series: Series[], columns = series.map((s) => ({ key: s.key, label: s.key }))): StepBarsChart {
  return { kind: 'steps', id, title, caption: '', legend: contendersLegend(series), unit, steps: [], columns, bars: [], reps: [], totals: [], rules: [] };
}

function throughputChart(id: string, loaded: LoadedResult, series: Series[], labels: string[]): StepBarsChart | null {
  const steps = loadSteps(series, labels);
  if (steps.length === 0) return null;
  const chart = emptyStepBars(id, 'Throughput per step', 'rate', series);
  chart.steps = steps.map((i) => labels[i]!);
  let offeredAny = false;
  let boundAny = false;
  for (const i of steps) {
    const step = labels[i]!;
    for (const s of series) {
      const values = s.runs.map((r) => num(r.steps[i]?.throughput?.opsPerSec));
      const v = stat(values);
      if (!v) continue;
      // A driver that saturated its CPU set the pace: the figure is a lower bound, and says so.
      const bound = s.runs.filter((r) => r.steps[i]?.clientBound === true).length;
      const lower = bound > 0 ? `\nclient-bound in ${bound} of ${s.runs.length}: a lower bound` : '';
      chart.bars.push({ step, column: s.key, contender: s.contender, part: 'achieved', y1: 0, y2: v.median, title: `${s.key} · ${step}\nachieved ${fmtRate(v.median)}${v.n > 1 ? ` (median of ${v.n}; ${fmtRate(v.min)} – ${fmtRate(v.max)})` : ''}${lower}` });
      chart.totals.push({ step, column: s.key, value: v.max, label: `${bound > 0 ? '≥ ' : ''}${fmtRate(v.median)}` });
      boundAny ||= bound > 0;
      if (v.n > 1) for (const x of values) if (x !== null) chart.reps.push({ step, column: s.key, contender: s.contender, value: x });
    }
    const offered = offeredRate(loaded.result, series[0]?.runs[0]?.steps[i]);
    if (offered !== null) {
      chart.rules.push({ step, value: offered, label: `offered ${fmtRate(offered)}` });
      offeredAny = true;
    }
  }
  chart.caption =
    'Operations per second the driver saw answered in each measured step (achieved, not offered).' +
    (offeredAny ? ' The dashed line in an open-loop step is the rate it offered: a bar below it fell behind.' : '') +
    (boundAny ? ' "≥" marks a figure measured with the driver\'s CPU saturated in some repetition (client-bound): the server may do more.' : '') +
    repsNote(series);
  return chart;
}

/** Server CPU per operation, in µs, split by the step's user and system time. */
function cpuPerOpChart(id: string, series: Series[], labels: string[]): StepBarsChart | null {
  const chart = emptyStepBars(id, 'Server CPU per operation', 'us', series);
  for (const i of loadSteps(series, labels)) {
    const step = labels[i]!;
    let any = false;
    for (const s of series) {
      // The total is the stored ops per server CPU-second, inverted; the split is the step's own user and system time.
      const totals = s.runs.map((r) => {
        const per = num(r.steps[i]?.throughput?.opsPerServerCpuSec);
        return per !== null && per > 0 ? 1e6 / per : null;
      });
      const shares = s.runs.map((r) => {
        const u = num(r.steps[i]?.server?.cpuUserMs);
        const k = num(r.steps[i]?.server?.cpuSysMs);
        return u !== null && k !== null && u + k > 0 ? u / (u + k) : null;
      });
      const total = stat(totals);
      const share = stat(shares);
      if (!total) continue;
      any = true;
      const head = `${s.key} · ${step}\n${fmtUs(total.median)} of server CPU per operation`;
      if (share) {
        const user = total.median * share.median;
        chart.bars.push({ step, column: s.key, contender: s.contender, part: 'user', y1: 0, y2: user, title: `${head}\nuser ${fmtUs(user)}` });
        chart.bars.push({ step, column: s.key, contender: s.contender, part: 'kernel', y1: user, y2: total.median, title: `${head}\nkernel ${fmtUs(total.median - user)}` });
      } else {
        chart.bars.push({ step, column: s.key, contender: s.contender, part: 'total', y1: 0, y2: total.median, title: head });
      }
      chart.totals.push({ step, column: s.key, value: total.max, label: fmtUs(total.median) });
      if (total.n > 1) for (const x of totals) if (x !== null) chart.reps.push({ step, column: s.key, contender: s.contender, value: x });
    }
    if (any) chart.steps.push(step);
  }
  if (chart.steps.length === 0) return null;
  chart.caption =
    'Server CPU time (all its processes) per operation answered, in each step: the solid part is user time, the pale part on top is kernel (system) time. Lower is better.' +
    repsNote(series);
  return chart;
}

/** Server CPU (user and kernel, % of one core) and the driver's beside it, with the client-bound threshold. */
function cpuLoadChart(id: string, series: Series[], labels: string[]): StepBarsChart | null {
  const columns = series.flatMap((s) => [
    { key: s.key, label: s.key },
    { key: `${s.key}\u0000driver`, label: 'driver' },
  ]);
  const chart = emptyStepBars(id, 'Server and driver CPU', 'pct', series, columns);
  chart.rules.push({ step: null, value: CLIENT_BOUND_PCT, label: `client-bound at ${fmtPct(CLIENT_BOUND_PCT)}` });
  let driverAny = false;
  for (const i of loadSteps(series, labels)) {
    const step = labels[i]!;
    let any = false;
    for (const s of series) {
      const pct = (ms: keyof NonNullable<Step['server']>) => (r: Run): number | null => {
        const v = num(r.steps[i]?.server?.[ms]);
        const w = num(r.steps[i]?.windowMs);
        return v !== null && w !== null && w > 0 ? (100 * v) / w : null;
      };
      const user = stat(s.runs.map(pct('cpuUserMs')));
      const kernel = stat(s.runs.map(pct('cpuSysMs')));
      const totals = s.runs.map((r) => {
        const u = pct('cpuUserMs')(r);
        const k = pct('cpuSysMs')(r);
        return u !== null && k !== null ? u + k : null;
      });
      if (user && kernel) {
        any = true;
        const head = `${s.key} · ${step}\nserver ${fmtPct(user.median + kernel.median)} of one core`;
        chart.bars.push({ step, column: s.key, contender: s.contender, part: 'user', y1: 0, y2: user.median, title: `${head}\nuser ${fmtPct(user.median)}` });
        chart.bars.push({ step, column: s.key, contender: s.contender, part: 'kernel', y1: user.median, y2: user.median + kernel.median, title: `${head}\nkernel ${fmtPct(kernel.median)}` });
        chart.totals.push({ step, column: s.key, value: Math.max(user.median + kernel.median, ...totals.filter((x): x is number => x !== null)), label: fmtPct(user.median + kernel.median) });
        if (s.runs.length > 1) for (const x of totals) if (x !== null) chart.reps.push({ step, column: s.key, contender: s.contender, value: x });
      }
      const driverValues = s.runs.map((r) => num(r.steps[i]?.driverCpuPct));
      const driver = stat(driverValues);
      if (driver) {
        any = true;
        driverAny = true;
        const bound = s.runs.filter((r) => r.steps[i]?.clientBound === true).length;
        const column = `${s.key}\u0000driver`;
        const title = `${s.key} · ${step}\ndriver ${fmtPct(driver.median)} of one core (its busiest process)${bound > 0 ? `\nclient-bound in ${bound} of ${s.runs.length} repetition(s)` : ''}`;
        chart.bars.push({ step, column, contender: s.contender, part: 'driver', y1: 0, y2: driver.median, title });
        chart.totals.push({ step, column, value: driver.max, label: fmtPct(driver.median) });
        if (driver.n > 1) for (const x of driverValues) if (x !== null) chart.reps.push({ step, column, contender: s.contender, value: x });
      }
    }
    if (any) chart.steps.push(step);
  }
  if (chart.steps.length === 0) return null;
  if (!driverAny) {
    chart.columns = chart.columns.filter((c) => !c.key.endsWith('\u0000driver'));
    chart.rules = [];
  }
  chart.caption =
    'CPU over each measured window, percent of one core: the server (all its processes; solid user, pale kernel) and, in the outlined column beside it, its driver (the busiest driver process; the file stores the driver\'s total only, not its user/kernel split).' +
    (driverAny ? ` A driver at or above the dashed ${fmtPct(CLIENT_BOUND_PCT)} line set the pace itself: that step is client-bound and its throughput a lower bound.` : '') +
    repsNote(series);
  return chart;
}

function loadLatencyChart(id: string, loaded: LoadedResult, series: Series[], labels: string[]): LoadLatencyChart | null {
  const chart: LoadLatencyChart = { kind: 'loadLatency', id, title: 'Latency against offered load', caption: '', legend: contendersLegend(series), xLog: false, points: [], reps: [] };
  const rates = new Set<number>();
  labels.forEach((_, i) => {
    const offered = offeredRate(loaded.result, series[0]?.runs[0]?.steps[i]);
    if (offered === null) return;
    for (const s of series) {
      const achieved = stat(s.runs.map((r) => num(r.steps[i]?.throughput?.opsPerSec)));
      for (const key of ['p50', 'p99'] as const) {
        const values = s.runs.map((r) => num(r.steps[i]?.latencyUs?.[key]));
        const v = stat(values);
        if (!v) continue;
        rates.add(offered);
        chart.points.push({ contender: s.contender, series: `${s.key} ${key}`, percentile: key, offered, achieved: achieved?.median ?? null, us: v.median });
        if (v.n > 1) for (const x of values) if (x !== null) chart.reps.push({ contender: s.contender, percentile: key, offered, us: x });
      }
    }
  });
  // One offered rate is a single point per line: the nines charts show that step better.
  if (rates.size < 2) return null;
  chart.xLog = Math.max(...rates) / Math.min(...rates) >= 20;
  chart.caption =
    'p50 (solid) and p99 (dashed) latency of the open-loop steps against the rate they offered; latency is measured from the schedule, so a server that falls behind shows it here.' +
    (chart.reps.length > 0 ? ' Lines join medians over repetitions; each repetition is a faint dot.' : '') +
    ' Log scale.';
  return chart;
}

function ninesCharts(prefix: string, series: Series[], labels: string[]): NinesChart[] {
  const out: NinesChart[] = [];
  labels.forEach((label, i) => {
    const points: NinesChart['points'] = [];
    let source: NinesChart['source'] | null = null;
    let pooledReps = 0;
    for (const s of series) {
      const hs = s.runs.map((r) => histogramOf(r.steps[i]?.latencyUs));
      if (hs.length > 0 && hs.every((h) => h !== null && h.count > 0)) {
        source = source ?? 'histograms';
        const pooled = pooledHistogram(s.runs, i);
        if (pooled) {
          for (const p of percentileCurve(pooled)) points.push({ contender: s.contender, series: s.key, pooled: true, ...p });
          pooledReps = Math.max(pooledReps, s.runs.length);
        }
        if (hs.length > 1) {
          hs.forEach((h, k) => {
            for (const p of percentileCurve(h!)) points.push({ contender: s.contender, series: `${s.key} #${s.runs[k]!.rep}`, pooled: false, ...p });
          });
        }
        continue;
      }
      // Files written before histograms were stored: the stored percentiles, medians over repetitions.
      for (const { key, percentile } of STORED_PERCENTILES) {
        const values = s.runs.map((r) => num(r.steps[i]?.latencyUs?.[key]));
        const v = stat(values);
        if (!v) continue;
        source = source ?? 'percentiles';
        const x = 1 / (1 - percentile / 100);
        points.push({ contender: s.contender, series: s.key, pooled: true, x, percentile, us: v.median });
        if (v.n > 1) s.runs.forEach((r, k) => values[k] !== null && points.push({ contender: s.contender, series: `${s.key} #${r.rep}`, pooled: false, x, percentile, us: values[k]! }));
      }
    }
    if (points.length === 0 || source === null) return;
    const from =
      source === 'histograms'
        ? `from the stored histograms${pooledReps > 1 ? `; the bold line adds up the ${pooledReps} repetitions' histograms, the faint ones are each repetition` : ''}`
        : 'from the stored percentiles (this file keeps no histograms)' + (points.some((p) => !p.pooled) ? '; the bold line joins medians over repetitions, the faint ones are each repetition' : '');
    out.push({
      kind: 'nines',
      id: `${prefix}-nines-${i + 1}`,
      title: `Latency by percentile: ${label}`,
      caption: `Latency at every percentile of the step, ${from}. Each step right is one more nine (90 %, 99 %, 99.9 %…); log scales.`,
      legend: contendersLegend(series.filter((s) => points.some((p) => p.series === s.key))),
      source,
      maxX: Math.max(...points.map((p) => p.x)),
      points,
    });
  });
  return out;
}

/** Every per-step chart of one file, in reading order; charts without data are left out. */
export function stepChartsForResult(loaded: LoadedResult, prefix: string): StepChartSpec[] {
  const series = seriesOf(loaded);
  if (series.length === 0) return [];
  const labels = stepLabels(loaded);
  const charts: Array<StepChartSpec | null> = [
    throughputChart(`${prefix}-steps-throughput`, loaded, series, labels),
    cpuPerOpChart(`${prefix}-steps-cpu-per-op`, series, labels),
    cpuLoadChart(`${prefix}-steps-cpu`, series, labels),
    loadLatencyChart(`${prefix}-load-latency`, loaded, series, labels),
    ...ninesCharts(prefix, series, labels),
  ];
  return charts.filter((c): c is StepChartSpec => c !== null);
}
