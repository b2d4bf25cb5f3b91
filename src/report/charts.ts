// Chart data for the HTML page: each chart is a plain JSON object (a ChartSpec) that the page's
// script hands to Observable Plot. Everything that needs judgment (which runs count, medians,
// which fitted lines to draw, whether an axis is logarithmic) happens here, where tests can see
// it; the page only draws. Memory slopes are the runs' recorded fits (summary.fit), never refitted.

import { FIT_FIGURES } from '../results/fit.js';
import { LATENCY_KEYS, type FitKey, type LatencyKey, type LoadedResult, type Run } from '../results/schema.js';
import { fmtBytes, fmtRate, fmtRatio, fmtUnit, type Unit } from './page-format.js';
import { runStatus, stat, type ScenarioComparison } from './model.js';

/** A line under a chart naming a series in its colour, with a figure that belongs to it. */
export interface LegendEntry {
  contender: string;
  text: string;
  /** Drawn dashed, e.g. a run that failed. */
  dashed?: boolean;
}

interface ChartBase {
  id: string;
  title: string;
  /** One sentence on what is plotted and from where. */
  caption: string;
  legend: LegendEntry[];
}

export interface MemoryChart extends ChartBase {
  kind: 'memory';
  xLog: boolean;
  yLog: boolean;
  /** Every step of the ok runs; `fitted` when the run's memory fit used it. */
  points: Array<{ contender: string; rep: number; connections: number; bytes: number; fitted: boolean }>;
  /** Each run's recorded fit over the steps it used, sampled so it draws straight or curved as the axes require; one line per series. */
  fit: Array<{ contender: string; series: string; connections: number; bytes: number }>;
}

export interface BarChart extends ChartBase {
  kind: 'bars';
  unit: Unit;
  /** Several protocols are drawn side by side. */
  facet: boolean;
  bars: Array<{ contender: string; protocol: string; median: number; min: number; max: number; n: number; label: string }>;
}

export interface LatencyChart extends ChartBase {
  kind: 'latency';
  percentiles: string[];
  points: Array<{ contender: string; protocol: string; series: string; percentile: string; median: number; min: number; max: number }>;
}

export interface TimelineChart extends ChartBase {
  kind: 'timeline';
  unit: Unit;
  points: Array<{ contender: string; series: string; failed: boolean; tS: number; value: number }>;
}

export interface RatioChart extends ChartBase {
  kind: 'ratios';
  points: Array<{ contender: string; row: string; figure: string; ratio: number; label: string }>;
}

export type ChartSpec = MemoryChart | BarChart | LatencyChart | TimelineChart | RatioChart;

const PERCENTILE_LABELS: Record<LatencyKey, string> = { p50: 'p50', p90: 'p90', p99: 'p99', p999: 'p99.9', max: 'max' };

/** A range this wide (max / min) is drawn on a log axis. */
const WIDE_RANGE = 20;

function isWide(values: number[]): boolean {
  const positive = values.filter((v) => v > 0);
  if (positive.length < 2) return false;
  return Math.max(...positive) / Math.min(...positive) >= WIDE_RANGE;
}

function okRuns(loaded: LoadedResult): Run[] {
  return loaded.result.runs.filter((r) => runStatus(r) === 'ok');
}

/** Contenders in the order first run, so every chart of a file lists them alike. */
function contenders(runs: Run[]): string[] {
  return [...new Set(runs.map((r) => r.contender))];
}

function memoryChart(
  id: string,
  loaded: LoadedResult,
  what: 'user' | 'kernel',
): MemoryChart | null {
  const key: FitKey = what === 'user' ? 'bytesPerConnection' : 'kernelBytesPerConnection';
  const figure = FIT_FIGURES[key];
  const runs = okRuns(loaded);
  const points: MemoryChart['points'] = [];
  for (const run of runs) {
    const used = new Set(run.summary?.fit?.[key]?.steps ?? []);
    run.steps.forEach((step, i) => {
      const bytes = figure.read(step);
      if (typeof step.connections === 'number' && typeof bytes === 'number') {
        points.push({ contender: run.contender, rep: run.rep, connections: step.connections, bytes, fitted: used.has(i) });
      }
    });
  }
  if (new Set(points.map((p) => p.connections)).size < 2) return null;
  const xLog = isWide(points.map((p) => p.connections));
  const yLog = isWide(points.map((p) => p.bytes));
  const fit: MemoryChart['fit'] = [];
  const legend: LegendEntry[] = [];
  const reps = new Set(runs.map((r) => r.rep)).size > 1;
  for (const contender of contenders(runs)) {
    const slopes: number[] = [];
    for (const run of runs.filter((r) => r.contender === contender)) {
      const line = run.summary?.fit?.[key];
      if (!line) continue;
      slopes.push(line.slope);
      const xs = line.steps.map((i) => run.steps[i]?.connections).filter((x): x is number => typeof x === 'number' && (!xLog || x > 0));
      if (xs.length < 2) continue;
      const x0 = Math.min(...xs);
      const x1 = Math.max(...xs);
      const series = reps ? `${contender} #${run.rep}` : contender;
      // On log axes a line with an intercept is a curve, so it is sampled along the axis.
      const samples = xLog ? 32 : 2;
      for (let i = 0; i < samples; i++) {
        const f = i / (samples - 1);
        const x = xLog ? x0 * (x1 / x0) ** f : x0 + (x1 - x0) * f;
        const y = line.intercept + line.slope * x;
        if (!yLog || y > 0) fit.push({ contender, series, connections: x, bytes: y });
      }
    }
    const slope = stat(slopes);
    if (slope) legend.push({ contender, text: `${fmtBytes(Math.round(slope.median))}/conn${slope.n > 1 ? ` (median of ${slope.n} runs)` : ''}` });
  }
  const user = what === 'user';
  const how = ' The line is each run\'s recorded least-squares fit over the filled points; hollow points were left out of it.';
  return {
    kind: 'memory',
    id,
    title: user ? 'Server memory (RSS) vs connections' : 'Kernel memory (Slab) vs connections',
    caption: user
      ? `Resident set size of the server process(es) at each step; the slope of the line is the user-space cost of a connection.${how}`
      : `Slab from /proc/meminfo (whole machine) at each step, as growth since the run started; the slope is what the kernel spends per connection (socket buffers, TCP state).${how}`,
    legend,
    xLog,
    yLog,
    points,
    fit,
  };
}

function barChart(
  id: string,
  loaded: LoadedResult,
  title: string,
  caption: string,
  unit: Unit,
  pick: (run: Run) => number | null | undefined,
): BarChart | null {
  const runs = okRuns(loaded);
  const bars: BarChart['bars'] = [];
  const pairs: Array<[string, string]> = [];
  for (const run of runs) {
    if (!pairs.some(([c, p]) => c === run.contender && p === run.protocol)) pairs.push([run.contender, run.protocol]);
  }
  for (const [contender, protocol] of pairs) {
    const s = stat(runs.filter((r) => r.contender === contender && r.protocol === protocol).map(pick));
    if (s) bars.push({ contender, protocol, ...s, label: fmtUnit(unit, s.median) });
  }
  if (bars.length === 0) return null;
  const reps = Math.max(...bars.map((b) => b.n));
  return {
    kind: 'bars',
    id,
    title,
    caption: reps > 1 ? `${caption} Bars are medians over repetitions; whiskers span min to max.` : caption,
    legend: [],
    unit,
    facet: new Set(bars.map((b) => b.protocol)).size > 1,
    bars,
  };
}

function latencyChart(id: string, loaded: LoadedResult): LatencyChart | null {
  const runs = okRuns(loaded);
  const points: LatencyChart['points'] = [];
  const legend: LegendEntry[] = [];
  const protocols = new Set(runs.map((r) => r.protocol));
  const pairs: Array<[string, string]> = [];
  for (const run of runs) {
    if (!pairs.some(([c, p]) => c === run.contender && p === run.protocol)) pairs.push([run.contender, run.protocol]);
  }
  let levels = new Set<number | null>();
  for (const [contender, protocol] of pairs) {
    // The last step with latency is the heaviest level measured; that is the curve that matters.
    const steps = runs
      .filter((r) => r.contender === contender && r.protocol === protocol)
      .map((r) => [...r.steps].reverse().find((s) => s.latencyUs && LATENCY_KEYS.some((k) => typeof s.latencyUs?.[k] === 'number')))
      .filter((s) => s !== undefined);
    if (steps.length === 0) continue;
    for (const s of steps) levels.add(s.connections ?? null);
    const series = protocols.size > 1 ? `${contender} · ${protocol}` : contender;
    for (const key of LATENCY_KEYS) {
      const v = stat(steps.map((s) => s.latencyUs?.[key]));
      if (v) points.push({ contender, protocol, series, percentile: PERCENTILE_LABELS[key], median: v.median, min: v.min, max: v.max });
    }
    const p99 = stat(steps.map((s) => s.latencyUs?.p99));
    legend.push({ contender, text: protocols.size > 1 ? `${protocol}, p99 ${fmtUnit('us', p99?.median)}` : `p99 ${fmtUnit('us', p99?.median)}` });
  }
  if (points.length === 0) return null;
  levels = new Set([...levels].filter((l) => l !== null));
  const at = levels.size === 1 ? ` at ${[...levels][0]} connections` : ' at the heaviest step of each run';
  return {
    kind: 'latency',
    id,
    title: 'Latency percentiles',
    caption: `Request latency seen by the driver${at}; medians over repetitions, whiskers min to max. Log scale.`,
    legend,
    percentiles: LATENCY_KEYS.map((k) => PERCENTILE_LABELS[k]),
    points,
  };
}

function timelineChart(
  id: string,
  loaded: LoadedResult,
  title: string,
  caption: string,
  unit: Unit,
  series: 'connections' | 'cpuPct' | 'rssBytes',
  legendText: (run: Run) => string,
): TimelineChart | null {
  const points: TimelineChart['points'] = [];
  const legend: LegendEntry[] = [];
  const runs = loaded.result.runs.filter((r) => r.timeline && r.timeline[series]);
  const reps = new Set(runs.map((r) => r.rep)).size > 1;
  for (const run of runs) {
    const tl = run.timeline!;
    const values = tl[series]!;
    const failed = runStatus(run) !== 'ok';
    const name = `${run.contender}${reps ? ` #${run.rep}` : ''}`;
    let any = false;
    tl.tMs.forEach((t, i) => {
      const v = values[i];
      if (typeof v === 'number') {
        points.push({ contender: run.contender, series: name, failed, tS: t / 1000, value: v });
        any = true;
      }
    });
    if (any) {
      const text = failed ? `${reps ? `#${run.rep} ` : ''}failed` : legendText(run);
      legend.push({ contender: run.contender, text, ...(failed ? { dashed: true } : {}) });
    }
  }
  if (points.length === 0) return null;
  return { kind: 'timeline', id, title, caption, legend, unit, points };
}

/** Every chart one result file can draw, in reading order; charts without data are left out. */
export function chartsForResult(loaded: LoadedResult, prefix: string): ChartSpec[] {
  const connectRate = (run: Run): string => `${fmtRate(run.summary?.connectRatePerSec)} connect rate`;
  const peak = (run: Run): string => {
    const cpu = run.timeline?.cpuPct?.filter((v): v is number => typeof v === 'number') ?? [];
    return cpu.length > 0 ? `peak ${fmtUnit('pct', Math.max(...cpu))}` : '';
  };
  const charts: Array<ChartSpec | null> = [
    memoryChart(`${prefix}-memory-user`, loaded, 'user'),
    memoryChart(`${prefix}-memory-kernel`, loaded, 'kernel'),
    barChart(
      `${prefix}-connect-rate`,
      loaded,
      'Connect rate',
      'Connections established per second during the ramps.',
      'rate',
      (r) => r.summary?.connectRatePerSec,
    ),
    barChart(`${prefix}-throughput`, loaded, 'Throughput', 'Operations per second at the heaviest step.', 'rate', (r) => r.summary?.opsPerSec),
    barChart(
      `${prefix}-ops-per-cpu`,
      loaded,
      'Throughput per server CPU-second',
      'Operations per second of server CPU time (user + system): what a core buys.',
      'count',
      (r) => r.summary?.opsPerServerCpuSec,
    ),
    latencyChart(`${prefix}-latency`, loaded),
    timelineChart(
      `${prefix}-timeline-connections`,
      loaded,
      'Connections over time',
      'Established connections sampled during the run; the steep parts are the ramps, their slope the connect rate.',
      'count',
      'connections',
      connectRate,
    ),
    timelineChart(
      `${prefix}-timeline-cpu`,
      loaded,
      'Server CPU over time',
      'User + system CPU of the server, percent of one core.',
      'pct',
      'cpuPct',
      peak,
    ),
    timelineChart(
      `${prefix}-timeline-rss`,
      loaded,
      'Server memory over time',
      'Resident set size of the server during the run.',
      'bytes',
      'rssBytes',
      (run) => {
        const rss = run.timeline?.rssBytes?.filter((v): v is number => typeof v === 'number') ?? [];
        return rss.length > 0 ? `peak ${fmtBytes(Math.max(...rss))}` : '';
      },
    ),
  ];
  return charts.filter((c): c is ChartSpec => c !== null);
}

/** Ratios of later files against the first, one dot per contender and figure. */
export function comparisonChart(c: ScenarioComparison, id: string): RatioChart | null {
  const points: RatioChart['points'] = [];
  for (const row of c.rows) {
    row.ratios.forEach((ratio, i) => {
      if (i === 0 || ratio === null) return;
      const letter = c.files[i]!.letter;
      const name = `${row.contender}${c.files.length > 2 ? ` ${letter}/A` : ''}`;
      points.push({
        contender: row.contender,
        row: name,
        figure: `${row.metric.label} ${row.metric.better === 'lower' ? '↓' : '↑'}`,
        ratio,
        label: fmtRatio(ratio),
      });
    });
  }
  if (points.length === 0) return null;
  const later = c.files.slice(1).map((f) => f.letter).join(', ');
  return {
    kind: 'ratios',
    id,
    title: `${later} against A`,
    caption: 'Each figure of a later file divided by the same figure of file A (log scale; 1× is no change). Arrows say which way is better.',
    legend: [],
    points,
  };
}

/** Every contender of the given files, each with a colour that stays the same on every chart. */
export function contenderColors(results: readonly LoadedResult[]): Record<string, string> {
  const fixed: Record<string, string> = {
    epoll: '#2563b0',
    'epoll-native': '#6fa8dc',
    uring: '#7b3fa0',
    'uring-native': '#b48ad0',
    net: '#e07b39',
    uws: '#2e9e5b',
  };
  const spare = ['#8e5bb5', '#c9a227', '#d0576b', '#5f7386', '#3bb3b0', '#a0522d'];
  const colors = new Map<string, string>();
  let next = 0;
  for (const l of results) {
    for (const run of l.result.runs) {
      if (colors.has(run.contender)) continue;
      const own = Object.hasOwn(fixed, run.contender) ? fixed[run.contender] : undefined;
      colors.set(run.contender, own ?? spare[next++ % spare.length]!);
    }
  }
  return Object.fromEntries(colors);
}
