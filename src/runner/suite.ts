// `c1m suite`: several scenarios one after another, each written as `c1m run` writes it (a
// result file and its HTML report), then one table of the headline figures of all of them
// with ratios against the baseline contender. `--quick` (what `npm start` runs) takes a few
// minutes on a 2-core box; `--full` is the reference suite, every scenario at its defaults;
// `--tiny` only checks the chain end to end. The same table, as markdown with the machine
// described, is what the README's results section is made of (`--from DIR --md FILE`).

import { findExecutable } from '../system/which.js';
import type { LoadedResult, Run } from '../results/schema.js';
import { fmtBytes as fmtSystemBytes } from '../system/plain-format.js';
import { shortCommit } from '../report/page-format.js';
import { cellText } from '../report/markdown.js';
import { HEADLINE_METRICS, headlineTable, scenarioLabel, type HeadlineRow, type Metric } from '../report/model.js';
import { checkTargets, cpuSplit, cpuSplitMarkdown, hostSpeedSummary, hostSpeedText, targetsMarkdown } from '../report/targets.js';
import type { SystemReadings } from '../system/limits.js';
import { loadScenario } from './catalog.js';
import { defaultResultPath, htmlPathFor, writeHtmlReport, writeResult } from './output.js';
import { PreflightRefusal } from './plan.js';
import type { ProcessTracker } from './processes.js';
import { runScenario } from './run.js';
import { resolveParams, type ParamValue } from './scenario.js';

export const SUITE_MODES = ['tiny', 'quick', 'full'] as const;
export type SuiteMode = (typeof SUITE_MODES)[number];

/** One scenario run of a suite: the scenario and the parameters it is given. */
export interface SuiteEntry {
  readonly scenario: string;
  readonly params: Readonly<Record<string, ParamValue>>;
}

/**
 * The scenarios of each mode. quick: idle connections to 10k (raw TCP and WebSocket), echo,
 * HTTP and broadcast at sizes a 2-core machine runs in a few minutes, one repetition of short
 * phases, so the figures show the shape but are not for quoting. full: every scenario at its
 * defaults (throughput ones three times; http-hello's closed loops from h2load when it is
 * installed). tiny: the quick set at a few hundred connections and
 * sub-second phases, to check that everything works.
 */
export function suiteEntries(mode: SuiteMode, tools: { h2load: boolean } = { h2load: findExecutable('h2load') !== null }): SuiteEntry[] {
  switch (mode) {
    case 'tiny':
      return [
        { scenario: 'idle-hold', params: { protocol: 'tcp-echo', connections: 300, levels: 2, duration: 0.3, settle: 0.2 } },
        { scenario: 'tcp-echo', params: { connections: 50, duration: 0.5, warmup: 0.2, rates: [5000], reps: 1 } },
        { scenario: 'http-hello', params: { connections: 20, duration: 0.5, warmup: 0.2, depths: [1], rates: [2000], reps: 1 } },
        { scenario: 'ws-broadcast', params: { connections: 100, rooms: 4, publishers: 4, rate: 100, levels: 1, duration: 0.5, warmup: 0.2, reps: 1 } },
      ];
    case 'quick':
      return [
        { scenario: 'idle-hold', params: { protocol: 'tcp-echo', connections: 10_000, levels: 2, duration: 1, settle: 0.5, connectRate: 10_000 } },
        { scenario: 'idle-hold', params: { protocol: 'ws-echo', connections: 10_000, levels: 2, duration: 1, settle: 0.5, connectRate: 10_000 } },
        { scenario: 'tcp-echo', params: { connections: 100, duration: 2, warmup: 0.5, rates: [20_000], reps: 1 } },
        { scenario: 'http-hello', params: { connections: 50, duration: 2, warmup: 0.5, rates: [20_000], reps: 1 } },
        { scenario: 'ws-broadcast', params: { connections: 1000, rooms: 10, publishers: 10, rate: 500, levels: 1, duration: 2, warmup: 0.5, reps: 1 } },
      ];
    case 'full':
      return [
        { scenario: 'idle-hold', params: { protocol: 'tcp-echo' } },
        { scenario: 'idle-hold', params: { protocol: 'ws-echo' } },
        { scenario: 'tcp-echo', params: {} },
        // The closed loops from h2load where it is installed: autocannon, the scenario's default,
        // is JS and was the bottleneck in most runs (the result's params say which ran).
        { scenario: 'http-hello', params: tools.h2load ? { driver: 'h2load' } : {} },
        { scenario: 'ws-broadcast', params: {} },
        { scenario: 'heartbeat', params: {} },
        { scenario: 'churn', params: {} },
        { scenario: 'slow-consumer', params: {} },
      ];
  }
}

export interface SuiteOptions {
  readonly entries: readonly SuiteEntry[];
  /** Result files go to <outDir>/<scenario>/<UTC timestamp>.json, the HTML report beside each. */
  readonly outDir: string;
  /** Only these contenders (each scenario keeps those of its own list that are named here). */
  readonly contenders?: readonly string[];
  readonly baseline?: string;
  readonly signal?: AbortSignal;
  readonly tracker?: ProcessTracker;
  readonly readings?: SystemReadings;
  /** Progress (stderr in the CLI). */
  readonly log?: (line: string) => void;
}

export interface SuiteItem {
  readonly entry: SuiteEntry;
  /** The result as written, or null when the scenario did not run (refused, nothing to run). */
  readonly loaded: LoadedResult | null;
  readonly html: string | null;
  /** Why the scenario wrote nothing, or why its HTML report is missing. */
  readonly error: string | null;
  /** Every run of the file is ok or skipped. */
  readonly ok: boolean;
}

export interface SuiteOutcome {
  readonly items: SuiteItem[];
  readonly interrupted: boolean;
}

const runOk = (r: Run): boolean => r.ok || Boolean(r.skipped);

/** Runs the entries one after another; a scenario that fails or is refused does not stop the others (Ctrl-C does). */
export async function runSuite(o: SuiteOptions): Promise<SuiteOutcome> {
  const log = o.log ?? (() => {});
  const baseline = o.baseline ?? 'net';
  const items: SuiteItem[] = [];
  for (const [i, entry] of o.entries.entries()) {
    if (o.signal?.aborted) return { items, interrupted: true };
    const scenario = await loadScenario(entry.scenario);
    let params = resolveParams(scenario, entry.params);
    if (o.contenders !== undefined) {
      const keep = params.contenders.filter((c) => o.contenders?.includes(c));
      if (keep.length === 0) {
        log(`c1m suite: ${entry.scenario} (${params.protocol}) skipped: none of its contenders (${params.contenders.join(', ')}) was asked for`);
        continue;
      }
      params = resolveParams(scenario, { ...entry.params, contenders: keep });
    }
    log(`c1m suite: [${i + 1}/${o.entries.length}] ${entry.scenario} (${params.protocol}): ${params.contenders.join(', ')}`);
    let outcome;
    try {
      outcome = await runScenario({
        scenario,
        params,
        baseline,
        log,
        ...(o.signal !== undefined ? { signal: o.signal } : {}),
        ...(o.tracker !== undefined ? { tracker: o.tracker } : {}),
        ...(o.readings !== undefined ? { readings: o.readings } : {}),
      });
    } catch (err) {
      const why = err instanceof PreflightRefusal ? `${err.message}\n${err.text}` : (err as Error).message;
      log(`c1m suite: ${entry.scenario} did not run: ${why}`);
      items.push({ entry, loaded: null, html: null, error: why, ok: false });
      continue;
    }
    const path = defaultResultPath(scenario.name, outcome.result.startedAt, o.outDir);
    const loaded = writeResult(outcome.result, path);
    const html = htmlPathFor(path);
    let error: string | null = null;
    try {
      writeHtmlReport(loaded, html, baseline);
    } catch (err) {
      error = `report not written: ${(err as Error).message}`;
    }
    log(`c1m suite: result: ${path}`);
    items.push({ entry, loaded, html: error === null ? html : null, error, ok: outcome.result.runs.every(runOk) });
    if (outcome.interrupted) return { items, interrupted: true };
  }
  return { items, interrupted: false };
}

// ---- the table -------------------------------------------------------------------------------

interface SuiteRow {
  scenario: string;
  row: HeadlineRow;
}

/** Rows of every file, scenario by scenario, in the order given. */
function suiteRows(results: readonly LoadedResult[], baseline: string): SuiteRow[] {
  return results.flatMap((loaded) => headlineTable(loaded, baseline).rows.map((row) => ({ scenario: scenarioLabel(loaded.result), row })));
}

function cell(metric: Metric, row: HeadlineRow): string {
  const c = row.cells[metric.id];
  return c === undefined || c.value === null ? '—' : cellText(metric, c);
}

function note(row: HeadlineRow): string {
  return row.note ?? '';
}

const arrow = (m: Metric): string => (m.better === 'lower' ? '↓' : '↑');
const width = (s: string): number => [...s].length;

/** The suite's one table for a terminal: scenario, protocol, contender, the four headline figures, notes under their row. */
export function suiteTable(results: readonly LoadedResult[], baseline = 'net'): string {
  const rows = suiteRows(results, baseline);
  const head = ['scenario', 'protocol', 'contender', ...HEADLINE_METRICS.map((m) => `${m.label} ${arrow(m)}`)];
  const body = rows.map(({ scenario, row }) => [scenario, row.protocol, row.isBaseline ? `${row.contender} (baseline)` : row.contender, ...HEADLINE_METRICS.map((m) => cell(m, row))]);
  const widths = head.map((h, i) => Math.max(width(h), ...body.map((r) => width(r[i] ?? ''))));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (i < 3 ? c + ' '.repeat((widths[i] ?? 0) - width(c)) : ' '.repeat((widths[i] ?? 0) - width(c)) + c))
      .join('  ')
      .trimEnd();
  const out = [line(head), line(widths.map((w) => '─'.repeat(w)))];
  let last = '';
  body.forEach((cells, i) => {
    const r = rows[i];
    const key = `${r?.scenario}\u0000${r?.row.protocol}`;
    if (last !== '' && key !== last) out.push('');
    last = key;
    out.push(line(cells));
    const n = r === undefined ? '' : note(r.row);
    if (n !== '') out.push(`    ${n}`);
  });
  const host = hostSpeedSummary(results);
  const hostLine = host === null ? '' : `\n${hostSpeedText(host)}\n`;
  return `${out.join('\n')}\n\nmedians over repetitions; (×) = ratio against ${baseline} of the same protocol in the same result file, ~ when the range of per-repetition ratios contains 1 (within noise), ? when one repetition gives no range; ↓ lower is better, ↑ higher is better\n${hostLine}`;
}

function escapeCell(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

/** The machines the files came from, one line each (most often one line). */
export function machineLines(results: readonly LoadedResult[]): string[] {
  const lines = new Set<string>();
  for (const { result } of results) {
    const e = result.env;
    const parts: string[] = [];
    if (e.cpus !== null && e.cpus !== undefined) parts.push(`${e.cpus} × ${e.cpuModel ?? 'CPU'}`);
    if (typeof e.memTotalBytes === 'number') parts.push(`${fmtSystemBytes(e.memTotalBytes)} RAM`);
    if (e.kernel) parts.push(`Linux ${e.kernel}`);
    if (e.node) parts.push(`Node ${e.node}`);
    if (typeof e.nofileSoft === 'number') parts.push(`nofile ${e.nofileSoft}`);
    const sysctl = e.sysctl ?? {};
    for (const key of ['net.core.somaxconn', 'net.ipv4.ip_local_port_range', 'net.ipv4.tcp_mem']) {
      const v = sysctl[key];
      if (v !== undefined && v !== null) parts.push(`${key} = ${String(v)}`);
    }
    const versions = Object.entries(e.versions ?? {})
      .filter(([, v]) => v !== null)
      .map(([k, v]) => `${k} ${v ?? ''}`);
    if (versions.length > 0) parts.push(versions.join(', '));
    if (e.hostname) parts.push(`host ${e.hostname}`);
    lines.add(parts.join(' · '));
  }
  return [...lines];
}

/** The parameters a reader needs to judge a file's figures, in one line. */
function paramsLine(r: LoadedResult): string {
  const p = r.result.params;
  const own = Object.entries(p).filter(([k]) => !['contenders', 'workers', 'pin', 'driver', 'protocol', 'connections', 'duration', 'warmup', 'reps'].includes(k));
  const fmt = (v: unknown): string => (Array.isArray(v) ? v.join(',') : String(v));
  const head = [`${fmt(p['protocol'])}`, `driver ${fmt(p['driver'])}`, `${fmt(p['connections'])} connections`, `${fmt(p['duration'])} s phases`, `${fmt(p['reps'])} rep(s)`];
  return [...head, ...own.map(([k, v]) => `${k} ${fmt(v)}`)].join(', ');
}

/**
 * The suite's table as markdown, with where the figures come from (the machine from each
 * file's env block, the commits, the dates, the files): the README's results section.
 */
export function suiteMarkdown(results: readonly LoadedResult[], baseline = 'net', opts: { heading?: boolean } = {}): string {
  const out: string[] = [];
  const commits = [...new Set(results.map((r) => shortCommit(r.result.env.git) ?? 'no commit recorded'))];
  const dates = results.map((r) => r.result.startedAt).sort();
  // Without the heading, the text fits between markers inside a README section of its own.
  if (opts.heading !== false) out.push('## Results', '');
  out.push(`Generated by \`c1m suite … --md\` from ${results.length} result file${results.length === 1 ? '' : 's'} (listed at the end); every figure below is in one of them.`, '');
  out.push('Machine:', '');
  for (const m of machineLines(results)) out.push(`- ${m}`);
  out.push('');
  out.push(`Commit${commits.length === 1 ? '' : 's'}: ${commits.join(', ')} · runs from ${dates[0] ?? '?'} to ${dates[dates.length - 1] ?? '?'} (UTC)`, '');
  const host = hostSpeedSummary(results);
  if (host !== null) out.push(hostSpeedText(host), '');
  out.push(`Medians over repetitions; (×) is the ratio against \`${baseline}\` of the same scenario and protocol, from the same file (interleaved runs), marked ~ when it is within noise: the range of its per-repetition ratios (repetition i of each, run back to back) contains 1; marked ? when one repetition gives no range, so nothing says whether it is clear of noise. ↓ lower is better, ↑ higher is better; — was not measured in that scenario.`, '');
  const head = ['scenario', 'protocol', 'contender', ...HEADLINE_METRICS.map((m) => `${m.label} ${arrow(m)}`), 'note'];
  out.push(`| ${head.join(' | ')} |`, `| ${['---', '---', '---', ...HEADLINE_METRICS.map(() => '---:'), '---'].join(' | ')} |`);
  for (const { scenario, row } of suiteRows(results, baseline)) {
    const cells = [scenario, row.protocol, row.isBaseline ? `${row.contender} (baseline)` : row.contender, ...HEADLINE_METRICS.map((m) => cell(m, row)), note(row)];
    out.push(`| ${cells.map(escapeCell).join(' | ')} |`);
  }
  const targets = targetsMarkdown(checkTargets(results));
  if (targets !== '') {
    out.push('', 'Targets (ratios of two contenders in the same file, step by step; rows from runs in which a driver process was near saturation are marked: their ratios are not the server\'s alone):', '');
    out.push(targets.trimEnd());
  }
  const split = cpuSplitMarkdown(cpuSplit(results));
  if (split !== '') {
    out.push('', 'Server CPU per operation (echo, request or delivery), user space and kernel, from the same files. The kernel\'s part (recv, send with the loopback delivery it carries, epoll) is paid by every I/O model (node:net\'s a little more, per the table), so it bounds every ratio above:', '');
    out.push(split.trimEnd());
  }
  out.push('', 'Files:', '');
  for (const r of results) out.push(`- \`${r.file}\`: ${r.result.scenario}, ${paramsLine(r)}`);
  return `${out.join('\n')}\n`;
}

/**
 * The newest file of each scenario (plain or over TLS), protocol set and contender set among
 * `results` (a folder may hold older runs too, or one file per contender), in the order of the
 * suite's scenarios, then any other scenario by name.
 */
export function latestPerScenario(results: readonly LoadedResult[]): LoadedResult[] {
  const newest = new Map<string, LoadedResult>();
  for (const r of results) {
    const set = (pick: (x: Run) => string): string => [...new Set(r.result.runs.map(pick))].sort().join(',');
    const key = `${scenarioLabel(r.result)}\u0000${set((x) => x.protocol)}\u0000${set((x) => x.contender)}`;
    const seen = newest.get(key);
    if (seen === undefined || Date.parse(r.result.startedAt) > Date.parse(seen.result.startedAt)) newest.set(key, r);
  }
  const order = suiteEntries('full').map((e) => e.scenario);
  const rank = (s: string): number => (order.includes(s) ? order.indexOf(s) : order.length);
  return [...newest.values()].sort(
    (a, b) => rank(a.result.scenario) - rank(b.result.scenario) || a.result.scenario.localeCompare(b.result.scenario) || Date.parse(a.result.startedAt) - Date.parse(b.result.startedAt),
  );
}
