// Turns loaded result files into what every report shows: per file, one headline row per
// contender × protocol (medians over repetitions, ratios against a baseline contender of the
// same protocol in the same file), and, for a scenario given in several files, the same
// figures side by side with ratios against the earliest file. Files compared side by side are
// matched here once for every reader (the reports and `c1m compare`): one scenario only, runs
// paired by contender and protocol, every parameter or environment difference between them
// named, and each file labelled by its commit and start time.

import { basename } from 'node:path';
import { ratioOf, ratioVerdict, unpairedRatioOf, type RatioEstimate, type RatioVerdict } from '../results/ratio.js';
import { headlineClientBound } from '../results/summary.js';
import type { C1mResult, LoadedResult, Measured, Run } from '../results/schema.js';
import { DASH, fmtBytes, fmtRatio, fmtTime, fmtUnit, shortCommit, type Unit } from './page-format.js';
import { summaryLine } from '../conform/summary.js';

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

/**
 * A metric's figure as every table and chart legend shows it: the median over repetitions, or a
 * dash when nothing was measured (a memory slope that came out negative is recorded as null).
 */
export function metricText(metric: Metric, value: Stat | null): string {
  return fmtUnit(metric.unit, value?.median);
}

/** The most connections a run held at any step (the capacity figure). */
export const MAX_CONNECTIONS: Metric = m('maxConnections', 'connections held', 'conns', 'count', 'higher', (r) => r.summary?.maxConnections);

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

/** How ratioText marks a ratio, for the legends of the tables that show it. */
export const RATIO_MARKS = '~ within noise, ? one repetition: no interval';

/**
 * "1.76×"; "1.02× ~" when its interval over repetitions contains 1 (within noise); "0.97× ?"
 * when one repetition pair gave no interval, so nothing says whether it is clear of noise.
 */
export function ratioText(e: RatioEstimate): string {
  const v = ratioVerdict(e);
  return v === 'within noise' ? `${fmtRatio(e.ratio)} ~` : v === 'no interval' ? `${fmtRatio(e.ratio)} ?` : fmtRatio(e.ratio);
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
  // Said of the headline step: a run whose other steps saturated their driver (h2load's closed
  // loops) can have its headline from an open loop the driver kept easily.
  const bound = okRuns.filter(headlineClientBound).length;
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
  // What the contender implements of its protocol (the quick conformance cases run before it was
  // measured): a lax server's figures are not the same work as a strict one's.
  const conformance = (okRuns[0] ?? runs[0])?.conformance;
  if (conformance && conformance.casesRun > 0) notes.push(`conformance: ${summaryLine(conformance)}`);
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
  const tls = tlsText(result.params);
  if (tls !== null) parts.push(tls);
  return parts.join(' · ');
}

/**
 * "over TLS (ECDSA P-256, tickets on, handshake bound 10 s)" for a run with --tls, null for
 * plain TCP: every figure of such a file is a figure over TLS (https-hello, wss-*, tls-echo).
 */
export function tlsText(params: Readonly<Record<string, unknown>>): string | null {
  if (params['tls'] !== true) return null;
  const key = params['tlsKey'] === 'rsa' ? 'RSA-2048' : 'ECDSA P-256';
  const tickets = params['tlsTickets'] === false ? 'tickets off' : 'tickets on';
  const bound = typeof params['tlsHandshakeTimeout'] === 'number' ? `, handshake bound ${params['tlsHandshakeTimeout']} s` : '';
  return `over TLS (${key}, ${tickets}${bound})`;
}

/**
 * A file's scenario as a table names it: "http-hello over TLS" for a run with --tls, so a TLS
 * file's rows are never read as plain TCP's (and a suite keeps the newest of each apart).
 */
export function scenarioLabel(result: Pick<C1mResult, 'scenario' | 'params'>): string {
  return result.params?.['tls'] === true ? `${result.scenario} over TLS` : result.scenario;
}

export interface ComparedFile {
  /** A, B, C… in order of start time. */
  letter: string;
  loaded: LoadedResult;
  /** What tells this file apart from the others: commit and start time, host when hosts differ, the file name when that is not enough. */
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
  /** The same ratios with their interval over the two files' repetitions (unpaired: results/ratio.ts); index 0 is always null. */
  estimates: Array<RatioEstimate | null>;
}

export interface ScenarioComparison {
  scenario: string;
  files: ComparedFile[];
  /** What differs between the files besides their commit and time: parameters first, then the environment. */
  differences: FileDifference[];
  rows: ComparisonRow[];
}

/** Files of different scenarios given to be compared as one: their figures measure different things. */
export class ScenarioMismatchError extends Error {
  override name = 'ScenarioMismatchError';
}

/** Refuses files of more than one scenario, naming each file's. */
export function assertOneScenario(files: readonly LoadedResult[]): string {
  const scenarios = [...new Set(files.map((l) => l.result.scenario))];
  if (scenarios.length !== 1) {
    throw new ScenarioMismatchError(
      `cannot compare different scenarios: ${files.map((l) => `${l.file} is ${l.result.scenario}`).join(', ')}; a scenario's figures only compare with the same scenario's`,
    );
  }
  return scenarios[0]!;
}

/** The environment as label → value rows; a value that was not recorded shows as a dash. */
export function envRows(loaded: LoadedResult): Array<[string, string]> {
  const { result } = loaded;
  const env = result.env;
  const text = (v: string | number | null | undefined): string => (v === null || v === undefined ? DASH : String(v));
  const rows: Array<[string, string]> = [
    ['host', text(env.hostname)],
    ['CPU', env.cpus === null || env.cpus === undefined ? text(env.cpuModel) : `${env.cpus} × ${env.cpuModel ?? 'CPU'}`],
    ['memory', fmtBytes(env.memTotalBytes)],
    ['kernel', text(env.kernel)],
    ['Node.js', text(env.node)],
    ['open files (soft / hard)', `${text(env.nofileSoft)} / ${text(env.nofileHard)}`],
  ];
  for (const [k, v] of Object.entries(env.sysctl ?? {})) rows.push([k, text(v)]);
  for (const [k, v] of Object.entries(env.versions ?? {})) rows.push([`${k} version`, text(v)]);
  rows.push(['commit', text(env.git)]);
  const ms = Date.parse(result.finishedAt) - Date.parse(result.startedAt);
  rows.push(['started', fmtTime(result.startedAt)]);
  rows.push(['finished', `${fmtTime(result.finishedAt)}${ms >= 0 ? ` (${(ms / 60000).toFixed(1)} min)` : ''}`]);
  return rows;
}

/**
 * Run parameters that do not change any one contender's figures: which contenders ran beside it,
 * and how many repetitions (which changes the noise an interval shows, not the figure). Every
 * other parameter (connections, durations, rates, message size, depth, driver, protocol, pinning,
 * workers, a scenario's own) shapes the figures.
 */
const NOT_SHAPING_PARAMS: ReadonlySet<string> = new Set(['contenders', 'reps']);

/**
 * Environment rows that are readings of the moment rather than settings (fs.file-nr: the file
 * handles in use machine-wide): they differ between any two runs and say nothing about the setup.
 */
const LIVE_READINGS: ReadonlySet<string> = new Set(['fs.file-nr']);

export interface FileDifference {
  kind: 'param' | 'env';
  /** The parameter's name, or the environment row's label. */
  name: string;
  /** One per file, as text; "absent" where a file does not have it. */
  values: string[];
  /** A parameter that shapes the figures (see NOT_SHAPING_PARAMS); always false for the environment. */
  shapesFigures: boolean;
}

const paramText = (v: unknown): string => (v === undefined ? 'absent' : typeof v === 'string' ? v : JSON.stringify(v));

/**
 * Every parameter and environment row whose value is not the same in all the files, parameters
 * first (in the order the first file lists them). The commit and the start and finish times are
 * left out (they are what the files' labels say), and so are readings of the moment (LIVE_READINGS).
 */
export function fileDifferences(files: readonly LoadedResult[]): FileDifference[] {
  const out: FileDifference[] = [];
  const keys = [...new Set(files.flatMap((l) => Object.keys(l.result.params)))];
  for (const name of keys) {
    const values = files.map((l) => paramText(Object.hasOwn(l.result.params, name) ? l.result.params[name] : undefined));
    if (new Set(values).size > 1) out.push({ kind: 'param', name, values, shapesFigures: !NOT_SHAPING_PARAMS.has(name) });
  }
  const envs = files.map((l) => new Map(envRows(l).filter(([k]) => k !== 'commit' && k !== 'started' && k !== 'finished' && !LIVE_READINGS.has(k))));
  for (const name of [...new Set(envs.flatMap((m) => [...m.keys()]))]) {
    const values = envs.map((m) => m.get(name) ?? 'absent');
    if (new Set(values).size > 1) out.push({ kind: 'env', name, values, shapesFigures: false });
  }
  return out;
}

/** "Parameter connections differs: A 10000, B 1000000." with the files' names given (letters, or BASE and NEW). */
export function differenceText(d: FileDifference, names: readonly string[]): string {
  const what = d.kind === 'param' ? `Parameter ${d.name} differs${d.shapesFigures ? '' : ' (it does not shape the figures)'}` : `Environment: ${d.name} differs`;
  return `${what}: ${d.values.map((v, i) => `${names[i] ?? '?'} ${v}`).join(', ')}.`;
}

/** Start time to the minute, UTC: 2026-11-22 00:27Z. */
const minute = (iso: string): string => `${fmtTime(iso).slice(0, 16)}Z`;

/**
 * Each file's label: its short commit and its start time to the minute (UTC), the host too when
 * the files come from several, and the file name when that still leaves two alike.
 */
export function fileLabels(files: readonly LoadedResult[]): string[] {
  const hosts = new Set(files.map((l) => l.result.env.hostname ?? null)).size > 1;
  const labels = files.map((l) => {
    const parts = [shortCommit(l.result.env.git) ?? 'no commit', minute(l.result.startedAt)];
    if (hosts) parts.push(l.result.env.hostname ?? 'unknown host');
    return parts.join(' · ');
  });
  return labels.map((label, i) => {
    if (labels.filter((x) => x === label).length === 1) return label;
    const name = basename(files[i]!.file);
    // Same name in two folders: the path it was given by.
    return `${label} · ${files.filter((l) => basename(l.file) === name).length > 1 ? files[i]!.file : name}`;
  });
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
    return { scenario, files, comparison: files.length > 1 ? compareFiles(files) : null };
  });
}

/** A contender × protocol whose ok runs are in one of the compared files only. */
export interface LoneRow {
  contender: string;
  protocol: string;
  /** Index into the comparison's files. */
  file: number;
  /** The compared figures of that file, by metric id (medians over its repetitions). */
  values: Record<string, Stat | null>;
  /** The most connections any of its runs held. */
  maxConnections: Stat | null;
}

/**
 * The contender × protocol pairs of a comparison that only one file measured: there is nothing to
 * compare them with, and as rows of the side-by-side table they would read as a sparse diagonal.
 * They are listed one row each instead (a pivot), in file order.
 */
export function loneRows(c: ScenarioComparison): LoneRow[] {
  const out: LoneRow[] = [];
  const seen = new Set<string>();
  c.files.forEach((f, file) => {
    for (const run of f.loaded.result.runs) {
      const key = `${run.contender}\u0000${run.protocol}`;
      if (seen.has(key)) continue;
      const measuredIn = c.files.filter((g) => okRunsOf(g.loaded, run.contender, run.protocol).length > 0).length;
      const own = okRunsOf(f.loaded, run.contender, run.protocol);
      if (measuredIn !== 1 || own.length === 0) continue;
      seen.add(key);
      const values: Record<string, Stat | null> = {};
      for (const row of c.rows.filter((r) => r.contender === run.contender && r.protocol === run.protocol)) values[row.metric.id] = row.values[file] ?? null;
      out.push({ contender: run.contender, protocol: run.protocol, file, values, maxConnections: stat(own.map(MAX_CONNECTIONS.pick)) });
    }
  });
  return out;
}

/** The ok runs of one contender and protocol in a file. */
export function okRunsOf(l: LoadedResult, contender: string, protocol: string): Run[] {
  return l.result.runs.filter((r) => r.contender === contender && r.protocol === protocol && runStatus(r) === 'ok');
}

/**
 * Several files of one scenario (oldest first), compared figure by figure: runs matched by
 * contender and protocol, every difference between the files named. Files of several scenarios
 * are refused (ScenarioMismatchError).
 */
export function compareFiles(sorted: LoadedResult[]): ScenarioComparison {
  const scenario = assertOneScenario(sorted);
  const labels = fileLabels(sorted);
  const files = sorted.map((l, i) => ({ letter: String.fromCharCode(65 + (i % 26)), loaded: l, label: labels[i]! }));
  const pairs: Array<{ contender: string; protocol: string }> = [];
  for (const l of sorted) {
    for (const run of l.result.runs) {
      if (!pairs.some((p) => p.contender === run.contender && p.protocol === run.protocol)) {
        pairs.push({ contender: run.contender, protocol: run.protocol });
      }
    }
  }
  const rows: ComparisonRow[] = [];
  for (const metric of COMPARED_METRICS) {
    const measured = sorted.some((l) => l.result.runs.some((r) => runStatus(r) === 'ok' && typeof metric.pick(r) === 'number'));
    if (!measured) continue;
    for (const p of pairs) {
      const samples = sorted.map((l) => okRunsOf(l, p.contender, p.protocol).map((r) => metric.pick(r) ?? null));
      const values = samples.map((xs) => stat(xs));
      const estimates = samples.map((xs, i) => (i > 0 ? unpairedRatioOf(xs, samples[0]!) : null));
      rows.push({ ...p, metric, values, ratios: estimates.map((e) => e?.ratio ?? null), estimates });
    }
  }
  // Group by contender so one contender's figures read together; sort is stable.
  const at = (r: ComparisonRow): number => pairs.findIndex((p) => p.contender === r.contender && p.protocol === r.protocol);
  rows.sort((a, b) => at(a) - at(b));
  return { scenario, files, differences: fileDifferences(sorted), rows };
}
