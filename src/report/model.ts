// Turns loaded result files into what every report shows: per file, one headline row per
// contender × protocol (medians over repetitions, ratios against a baseline contender of the
// same protocol in the same file), and, for a scenario given in several files, the same
// figures side by side with ratios against the earliest file.

import { ratioOf, ratioVerdict, type RatioEstimate, type RatioVerdict } from '../results/ratio.js';
import type { C1mResult, LoadedResult, Measured, Run } from '../results/schema.js';
import { fmtRatio, fmtTime, shortCommit, type Unit } from './format.js';

export interface Stat {
  median: number;
  min: number;
  max: number;
  /** How many measured values went in. */
  n: number;
}

/** Median, min and max of the measured values; null when nothing was measured. */
export function stat(values: ReadonlyArray<Measured | undefined>): Stat | null {
  const xs = values.filter((v): v is number => typeof v === 'number').sort((a, b) => a - b);
  const n = xs.length;
  if (n === 0) return null;
  const mid = Math.floor(n / 2);
  const median = n % 2 === 1 ? xs[mid]! : (xs[mid - 1]! + xs[mid]!) / 2;
  return { median, min: xs[0]!, max: xs[n - 1]!, n };
}

export type Better = 'lower' | 'higher';

export interface Metric {
  id: string;
  /** Column heading. */
  label: string;
  /** Shorter heading for narrow terminals. */
  short: string;
  unit: Unit;
  better: Better;
  pick: (run: Run) => Measured | undefined;
}

const m = (id: string, label: string, short: string, unit: Unit, better: Better, pick: Metric['pick']): Metric => ({
  id,
  label,
  short,
  unit,
  better,
  pick,
});

/** The headline: what a connection costs, how fast they come, work per CPU-second, tail latency. */
export const HEADLINE_METRICS: readonly Metric[] = [
  m('bytesPerConnection', 'bytes/conn', 'B/conn', 'bytes', 'lower', (r) => r.summary?.bytesPerConnection),
  m('connectRatePerSec', 'connect rate', 'conn/s', 'rate', 'higher', (r) => r.summary?.connectRatePerSec),
  m('opsPerServerCpuSec', 'ops/server CPU-s', 'ops/CPU-s', 'count', 'higher', (r) => r.summary?.opsPerServerCpuSec),
  m('p99', 'p99 latency', 'p99', 'us', 'lower', (r) => r.summary?.latencyUs?.p99),
];

/** Figures compared across files of one scenario; those measured in no file are left out. */
export const COMPARED_METRICS: readonly Metric[] = [
  HEADLINE_METRICS[0]!,
  m('kernelBytesPerConnection', 'kernel bytes/conn', 'kB/conn', 'bytes', 'lower', (r) => r.summary?.kernelBytesPerConnection),
  HEADLINE_METRICS[1]!,
  m('opsPerSec', 'ops/s', 'ops/s', 'rate', 'higher', (r) => r.summary?.opsPerSec),
  HEADLINE_METRICS[2]!,
  m('p50', 'p50 latency', 'p50', 'us', 'lower', (r) => r.summary?.latencyUs?.p50),
  HEADLINE_METRICS[3]!,
];

export type RowStatus = 'ok' | 'partial' | 'failed' | 'skipped';

export interface Cell {
  value: Stat | null;
  /** Median against the baseline row's median; null for the baseline itself or when either is unmeasured. */
  ratio: number | null;
  /** The ratio with its interval over repetitions (results/ratio.ts); null when ratio is. */
  estimate: RatioEstimate | null;
}

/** The metric of each run indexed by its repetition: rep i of one contender pairs with rep i of another. */
export function perRep(runs: readonly Run[], pick: Metric['pick']): Measured[] {
  const out: Measured[] = [];
  for (const r of runs) out[r.rep] = pick(r) ?? null;
  return Array.from(out, (v) => v ?? null);
}

/** What a ratio's interval says, read the way the figure should go: better, worse, within noise, or no interval. */
export function ratioSense(metric: Metric, e: RatioEstimate): 'better' | 'worse' | 'within noise' | 'no interval' {
  const v: RatioVerdict = ratioVerdict(e);
  if (v === 'within noise' || v === 'no interval') return v;
  return (v === 'above') === (metric.better === 'higher') ? 'better' : 'worse';
}

/** "1.76×", or "1.02× ~" when its interval over repetitions contains 1 (within noise). */
export function ratioText(e: RatioEstimate): string {
  return ratioVerdict(e) === 'within noise' ? `${fmtRatio(e.ratio)} ~` : fmtRatio(e.ratio);
}

export interface HeadlineRow {
  contender: string;
  protocol: string;
  isBaseline: boolean;
  runs: Run[];
  okRuns: Run[];
  status: RowStatus;
  /** Why a row is failed, skipped, partial or client-bound, in one sentence; null when nothing to say. */
  note: string | null;
  cells: Record<string, Cell>;
}

export interface HeadlineTable {
  file: string;
  result: C1mResult;
  baseline: string;
  /** False when no run of the baseline contender is in the file. */
  baselinePresent: boolean;
  rows: HeadlineRow[];
}

export function runStatus(run: Run): 'ok' | 'failed' | 'skipped' {
  if (run.skipped) return 'skipped';
  return run.ok ? 'ok' : 'failed';
}

function firstReason(runs: Run[]): string {
  const run = runs.find((r) => r.error) ?? runs[0];
  return run?.error ?? run?.skipped ?? 'no reason recorded';
}

function rowNote(runs: Run[], okRuns: Run[], status: RowStatus): string | null {
  const notes: string[] = [];
  if (status === 'skipped') notes.push(`skipped: ${runs.find((r) => r.skipped)?.skipped ?? 'no reason recorded'}`);
  if (status === 'failed') notes.push(`failed: ${firstReason(runs)}`);
  if (status === 'partial') {
    const bad = runs.filter((r) => runStatus(r) !== 'ok');
    notes.push(`${bad.length} of ${runs.length} reps failed: ${firstReason(bad)}`);
  }
  const bound = okRuns.filter((r) => r.clientBound === true).length;
  if (bound > 0) {
    const where = bound === okRuns.length ? 'client-bound' : `client-bound in ${bound} of ${okRuns.length} reps`;
    notes.push(`${where}: throughput is a lower bound`);
  }
  // Steps in which the contender fell behind the load: messages went unanswered (dropped, timed
  // out, lost). They are in the latency figures at what they waited, so the tail is not hidden.
  let behind = 0;
  let given = 0;
  for (const r of okRuns) {
    for (const st of r.steps) {
      if (st.fellBehind !== true || !st.givenUp) continue;
      behind++;
      given += (st.givenUp.dropped ?? 0) + (st.givenUp.timedOut ?? 0) + (st.givenUp.lost ?? 0);
    }
  }
  if (behind > 0) notes.push(`fell behind in ${behind} step(s): ${given.toLocaleString('en-US')} messages unanswered, in the latency at what they waited`);
  return notes.length > 0 ? notes.join('; ') : null;
}

function groupRuns(runs: Run[]): Map<string, Run[]> {
  const groups = new Map<string, Run[]>();
  for (const run of runs) {
    const k = `${run.protocol}\u0000${run.contender}`;
    const g = groups.get(k);
    if (g) g.push(run);
    else groups.set(k, [run]);
  }
  return groups;
}

function cellsFor(okRuns: Run[], metrics: readonly Metric[]): Record<string, Cell> {
  const cells: Record<string, Cell> = {};
  for (const metric of metrics) cells[metric.id] = { value: stat(okRuns.map(metric.pick)), ratio: null, estimate: null };
  return cells;
}

/** Headline rows of one file: protocols in the order first run, the baseline first within each. */
export function headlineTable(loaded: LoadedResult, baseline: string): HeadlineTable {
  const { result } = loaded;
  const rows: HeadlineRow[] = [];
  for (const runs of groupRuns(result.runs).values()) {
    const first = runs[0]!;
    const okRuns = runs.filter((r) => runStatus(r) === 'ok');
    let status: RowStatus;
    if (okRuns.length === runs.length) status = 'ok';
    else if (okRuns.length > 0) status = 'partial';
    else status = runs.every((r) => runStatus(r) === 'skipped') ? 'skipped' : 'failed';
    rows.push({
      contender: first.contender,
      protocol: first.protocol,
      isBaseline: first.contender === baseline,
      runs,
      okRuns,
      status,
      note: rowNote(runs, okRuns, status),
      cells: cellsFor(okRuns, HEADLINE_METRICS),
    });
  }
  const protocols = [...new Set(rows.map((r) => r.protocol))];
  rows.sort((a, b) => protocols.indexOf(a.protocol) - protocols.indexOf(b.protocol) || Number(b.isBaseline) - Number(a.isBaseline));
  for (const row of rows) {
    const base = rows.find((r) => r.isBaseline && r.protocol === row.protocol);
    if (!base || row.isBaseline) continue;
    for (const metric of HEADLINE_METRICS) {
      const cell = row.cells[metric.id]!;
      const e = ratioOf(perRep(row.okRuns, metric.pick), perRep(base.okRuns, metric.pick));
      cell.ratio = e?.ratio ?? null;
      cell.estimate = e;
    }
  }
  return {
    file: loaded.file,
    result,
    baseline,
    baselinePresent: result.runs.some((r) => r.contender === baseline),
    rows,
  };
}

/** One line about where a file's numbers come from. */
export function provenance(loaded: LoadedResult): string {
  const { result } = loaded;
  const env = result.env;
  const parts = [`started ${fmtTime(result.startedAt)}`];
  const commit = shortCommit(env.git);
  parts.push(commit ? `commit ${commit}` : 'no commit recorded');
  if (env.hostname) parts.push(env.hostname);
  if (env.node) parts.push(`Node ${env.node}`);
  if (env.kernel) parts.push(`Linux ${env.kernel}`);
  if (env.cpus !== null && env.cpus !== undefined) parts.push(`${env.cpus} × ${env.cpuModel ?? 'CPU'}`);
  return parts.join(' · ');
}

export interface ComparedFile {
  /** A, B, C… in order of start time. */
  letter: string;
  loaded: LoadedResult;
  /** What tells this file apart from the others: commit, host or start time. */
  label: string;
}

export interface ComparisonRow {
  contender: string;
  protocol: string;
  metric: Metric;
  /** One per file, in ComparedFile order. */
  values: Array<Stat | null>;
  /** values[i] / values[0] for i ≥ 1; index 0 is always null. */
  ratios: Array<number | null>;
}

export interface ScenarioComparison {
  scenario: string;
  files: ComparedFile[];
  rows: ComparisonRow[];
}

function fileLabel(loaded: LoadedResult, all: LoadedResult[]): string {
  const env = loaded.result.env;
  const differ = (f: (r: C1mResult) => unknown): boolean => new Set(all.map((l) => f(l.result))).size > 1;
  const parts: string[] = [];
  if (differ((r) => r.env.git)) parts.push(shortCommit(env.git) ?? 'no commit');
  if (differ((r) => r.env.hostname)) parts.push(env.hostname ?? 'unknown host');
  parts.push(fmtTime(loaded.result.startedAt).slice(0, 10));
  return parts.join(' · ');
}

export interface ScenarioGroup {
  scenario: string;
  /** Oldest first. */
  files: LoadedResult[];
  /** Present when the scenario is given in more than one file. */
  comparison: ScenarioComparison | null;
}

/** Files grouped by scenario (in the order first given), oldest first within each. */
export function groupByScenario(loaded: readonly LoadedResult[]): ScenarioGroup[] {
  const byScenario = new Map<string, LoadedResult[]>();
  for (const l of loaded) {
    const list = byScenario.get(l.result.scenario);
    if (list) list.push(l);
    else byScenario.set(l.result.scenario, [l]);
  }
  return [...byScenario].map(([scenario, list]) => {
    const files = [...list].sort((a, b) => Date.parse(a.result.startedAt) - Date.parse(b.result.startedAt));
    return { scenario, files, comparison: files.length > 1 ? compareFiles(scenario, files) : null };
  });
}

/** Several files of one scenario (oldest first), compared figure by figure. */
export function compareFiles(scenario: string, sorted: LoadedResult[]): ScenarioComparison {
  const files = sorted.map((l, i) => ({ letter: String.fromCharCode(65 + (i % 26)), loaded: l, label: fileLabel(l, sorted) }));
  const pairs: Array<{ contender: string; protocol: string }> = [];
  for (const l of sorted) {
    for (const run of l.result.runs) {
      if (!pairs.some((p) => p.contender === run.contender && p.protocol === run.protocol)) {
        pairs.push({ contender: run.contender, protocol: run.protocol });
      }
    }
  }
  const okRunsOf = (l: LoadedResult, p: { contender: string; protocol: string }): Run[] =>
    l.result.runs.filter((r) => r.contender === p.contender && r.protocol === p.protocol && runStatus(r) === 'ok');
  const rows: ComparisonRow[] = [];
  for (const metric of COMPARED_METRICS) {
    const measured = sorted.some((l) => l.result.runs.some((r) => runStatus(r) === 'ok' && typeof metric.pick(r) === 'number'));
    if (!measured) continue;
    for (const p of pairs) {
      const values = sorted.map((l) => stat(okRunsOf(l, p).map(metric.pick)));
      const first = values[0];
      const ratios = values.map((v, i) => (i > 0 && v && first && first.median > 0 ? v.median / first.median : null));
      rows.push({ ...p, metric, values, ratios });
    }
  }
  // Group by contender so one contender's figures read together; sort is stable.
  const at = (r: ComparisonRow): number => pairs.findIndex((p) => p.contender === r.contender && p.protocol === r.protocol);
  rows.sort((a, b) => at(a) - at(b));
  return { scenario, files, rows };
}
