// The headline table as plain text for a terminal of a given width. Three layouts, widest
// first: one line per row with the note at the end; the same with notes wrapped under their
// row; and, when even the figures do not fit, one block per row with a figure per line.
// Also the side-by-side table of several files, and `c1m compare`'s verdicts (renderGate).
// No colour codes: the caller decides whether its stream is a terminal.

import type { LoadedResult } from '../results/schema.js';
import { formatRatio, UNPAIRED_INTERVAL_METHOD } from '../results/ratio.js';
import { fmtRatio, fmtUnit } from './page-format.js';
import { regressions, type GatePair, type GateRow } from './gate.js';
import { cellText, repsText } from './markdown.js';
import {
  HEADLINE_METRICS,
  differenceText,
  groupByScenario,
  headlineTable,
  provenance,
  RATIO_MARKS,
  ratioText,
  type HeadlineRow,
  type HeadlineTable,
  type Metric,
  type ScenarioComparison,
} from './model.js';

export interface TerminalOptions {
  /** Contender the ratios are against; "net" when not given. */
  baseline?: string;
  /** Columns available, e.g. process.stdout.columns; 100 when not given. */
  width?: number;
}

/** Terminal columns a string takes; every character the report prints is one column wide. */
const len = (s: string): number => [...s].length;
const padEnd = (s: string, w: number): string => s + ' '.repeat(Math.max(0, w - len(s)));
const padStart = (s: string, w: number): string => ' '.repeat(Math.max(0, w - len(s))) + s;
const arrow = (metric: Metric): string => (metric.better === 'lower' ? '↓' : '↑');

/** Word-wraps text to `width` columns, each line starting with `indent`. */
export function wrap(text: string, width: number, indent = ''): string[] {
  const room = Math.max(10, width - len(indent));
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line === '') line = word;
    else if (len(line) + 1 + len(word) <= room) line += ` ${word}`;
    else {
      lines.push(line);
      line = word;
    }
    while (len(line) > room) {
      lines.push([...line].slice(0, room).join(''));
      line = [...line].slice(room).join('');
    }
  }
  if (line !== '') lines.push(line);
  return lines.map((l) => indent + l);
}

interface Column {
  head: string;
  right: boolean;
}

function renderGrid(columns: Column[], rows: string[][]): string[] {
  const widths = columns.map((c, i) => Math.max(len(c.head), ...rows.map((r) => len(r[i] ?? ''))));
  const line = (cells: string[]): string =>
    cells
      .map((cell, i) => (columns[i]!.right ? padStart(cell, widths[i]!) : padEnd(cell, widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(columns.map((c) => c.head)), line(widths.map((w) => '─'.repeat(w))), ...rows.map(line)];
}

const contenderText = (row: HeadlineRow): string => (row.isBaseline ? `${row.contender} (baseline)` : row.contender);

function tableLines(table: HeadlineTable, width: number): string[] {
  const figureColumns: Column[] = [
    { head: 'contender', right: false },
    { head: 'protocol', right: false },
    ...HEADLINE_METRICS.map((m) => ({ head: `${m.label} ${arrow(m)}`, right: true })),
    { head: 'reps', right: true },
  ];
  const figures = table.rows.map((row) => [
    contenderText(row),
    row.protocol,
    ...HEADLINE_METRICS.map((m) => cellText(m, row.cells[m.id]!)),
    repsText(row),
  ]);
  const withNotes = renderGrid(
    [...figureColumns, { head: 'note', right: false }],
    table.rows.map((row, i) => [...figures[i]!, row.note ?? '']),
  );
  if (withNotes.every((l) => len(l) <= width)) return withNotes;

  const grid = renderGrid(figureColumns, figures);
  if (grid.every((l) => len(l) <= width)) {
    const out = grid.slice(0, 2);
    table.rows.forEach((row, i) => {
      out.push(grid[i + 2]!);
      if (row.note) out.push(...wrap(row.note, width, '    '));
    });
    return out;
  }

  // One block per row: the figures fit any terminal a person would read this on.
  const labelWidth = Math.max(...HEADLINE_METRICS.map((m) => len(`${m.label} ${arrow(m)}`)));
  const out: string[] = [];
  for (const row of table.rows) {
    if (out.length > 0) out.push('');
    out.push(...wrap(`${contenderText(row)} · ${row.protocol} · reps ${repsText(row)}`, width));
    for (const m of HEADLINE_METRICS) {
      out.push(`  ${padEnd(`${m.label} ${arrow(m)}`, labelWidth)}  ${cellText(m, row.cells[m.id]!)}`);
    }
    if (row.note) out.push(...wrap(row.note, width, '  '));
  }
  return out;
}

function headlineLines(loaded: LoadedResult, baseline: string, width: number, title: string): string[] {
  const table = headlineTable(loaded, baseline);
  const out = [...wrap(`${title} · ${loaded.file}`, width), ...wrap(provenance(loaded), width)];
  if (loaded.result.note) out.push(...wrap(loaded.result.note, width));
  const against = table.baselinePresent
    ? `ratios against ${baseline} of the same protocol (${RATIO_MARKS})`
    : `no ${baseline} run in this file, so no ratios`;
  out.push(...wrap(`medians over repetitions; ${against}`, width), '');
  out.push(...tableLines(table, width));
  return out;
}

function comparisonLines(c: ScenarioComparison, width: number): string[] {
  const out = wrap(`${c.scenario}: ${c.files.map((f) => `${f.letter} = ${f.label}`).join(', ')}`, width);
  const letters = c.files.map((f) => f.letter);
  for (const d of c.differences) out.push(...wrap(differenceText(d, letters), width, '  '));
  out.push(...wrap(`Later files against A: ratios of medians, ~ when within noise, ? when one repetition on a side gives no interval. Interval: ${UNPAIRED_INTERVAL_METHOD}.`, width));
  out.push('');
  const later = c.files.slice(1);
  const columns: Column[] = [
    { head: 'contender', right: false },
    { head: 'protocol', right: false },
    { head: 'figure', right: false },
    ...c.files.map((f) => ({ head: f.letter, right: true })),
    ...later.map((f) => ({ head: `${f.letter}/A`, right: true })),
  ];
  const rows = c.rows.map((row) => [
    row.contender,
    row.protocol,
    `${row.metric.label} ${arrow(row.metric)}`,
    ...row.values.map((v) => fmtUnit(row.metric.unit, v?.median)),
    ...row.estimates.slice(1).map((est) => (est === null ? fmtRatio(null) : ratioText(est))),
  ]);
  const grid = renderGrid(columns, rows);
  if (grid.every((l) => len(l) <= width)) return [...out, ...grid];
  // Narrow: drop the protocol column into the contender's heading line.
  let current = '';
  c.rows.forEach((row, i) => {
    const heading = `${row.contender} · ${row.protocol}`;
    if (heading !== current) {
      if (current !== '') out.push('');
      out.push(...wrap(heading, width));
      current = heading;
    }
    const cells = rows[i]!.slice(3);
    const values = cells.slice(0, c.files.length).map((v, j) => `${c.files[j]!.letter} ${v}`);
    const ratios = cells.slice(c.files.length).map((r, j) => `${later[j]!.letter}/A ${r}`);
    out.push(...wrap(`${row.metric.short}: ${[...values, ...ratios].join(', ')}`, width, '  '));
  });
  return out;
}

export function renderTerminal(results: readonly LoadedResult[], opts: TerminalOptions = {}): string {
  const baseline = opts.baseline ?? 'net';
  const width = opts.width !== undefined && Number.isFinite(opts.width) ? Math.max(20, Math.floor(opts.width)) : 100;
  const blocks: string[][] = [];
  for (const group of groupByScenario(results)) {
    const c = group.comparison;
    if (!c) blocks.push(headlineLines(group.files[0]!, baseline, width, group.scenario));
    else {
      for (const f of c.files) blocks.push(headlineLines(f.loaded, baseline, width, `${group.scenario} ${f.letter}`));
      blocks.push(comparisonLines(c, width));
    }
  }
  return `${blocks.map((b) => b.join('\n')).join('\n\n')}\n`;
}

export interface GateTextOptions {
  maxRegressionPct: number;
  /** The contender each figure was divided by, in its own file, when one was. */
  anchor?: string | undefined;
  /** Columns available; 100 when not given. */
  width?: number | undefined;
}

/** `c1m compare`: per pair of files, what differs, then one row per contender and figure with its verdict; last, what regressed. */
export function renderGate(pairs: readonly GatePair[], o: GateTextOptions): string {
  const width = o.width !== undefined && Number.isFinite(o.width) ? Math.max(20, Math.floor(o.width)) : 100;
  const pct = `${o.maxRegressionPct} %`;
  const blocks: string[][] = [];
  for (const p of pairs) {
    const side = (name: string, label: string, file: string): string => `${name} = ${label}${label.endsWith(file) ? '' : ` (${file})`}`;
    const out = wrap(`${p.scenario}: ${side('BASE', p.labels.base, p.base.file)}, ${side('NEW', p.labels.next, p.next.file)}`, width);
    for (const d of p.differences) out.push(...wrap(differenceText(d, ['BASE', 'NEW']), width, '  '));
    if (o.anchor !== undefined) {
      out.push(...wrap(`Each figure is the contender's ratio to ${o.anchor} in the same file, repetition by repetition (what moved both files' machines cancels).`, width));
    }
    out.push('');
    const value = (m: Metric, s: GateRow['base']): string => (o.anchor === undefined ? fmtUnit(m.unit, s?.median) : fmtRatio(s?.median));
    const columns: Column[] = [
      { head: 'contender', right: false },
      { head: 'protocol', right: false },
      { head: 'figure', right: false },
      { head: 'BASE', right: true },
      { head: 'NEW', right: true },
      { head: 'NEW/BASE', right: true },
      { head: 'verdict', right: false },
    ];
    const cells = p.rows.map((r) => [
      r.contender,
      r.protocol,
      `${r.metric.label} ${arrow(r.metric)}`,
      value(r.metric, r.base),
      value(r.metric, r.next),
      // Without an interval the verdict column says so; the ratio alone keeps the column narrow.
      r.estimate === null ? fmtRatio(null) : r.verdict === 'no interval' ? fmtRatio(r.estimate.ratio) : formatRatio(r.estimate),
      r.verdict,
    ]);
    const grid = renderGrid(columns, cells);
    if (p.rows.length === 0) out.push('No contender has ok runs of the same protocol in both files: nothing to compare.');
    else if (grid.every((l) => len(l) <= width)) out.push(...grid);
    else {
      p.rows.forEach((r, i) => {
        const c = cells[i]!;
        out.push(...wrap(`${r.contender} · ${r.protocol} · ${c[2]}: BASE ${c[3]}, NEW ${c[4]}, ${c[5]}: ${r.verdict}`, width, '  '));
      });
    }
    // A note belongs to a contender, not to each of its figures: said once under the table.
    const notes = new Map(p.rows.filter((r) => r.note !== null).map((r) => [`${r.contender} · ${r.protocol}`, r.note!]));
    for (const [who, note] of notes) out.push(...wrap(`${who}: ${note}.`, width));
    if (p.onlyInBase.length > 0) out.push(...wrap(`Not compared, ok runs in BASE only (NEW has none: failed, skipped or not run): ${p.onlyInBase.join(', ')}.`, width));
    if (p.onlyInNext.length > 0) out.push(...wrap(`Not compared, ok runs in NEW only (BASE has none: failed, skipped or not run): ${p.onlyInNext.join(', ')}.`, width));
    blocks.push(out);
  }
  const tail: string[] = [];
  tail.push(
    ...wrap(
      `NEW/BASE is the ratio of medians over repetitions; its interval is the ${UNPAIRED_INTERVAL_METHOD} (a = NEW, b = BASE). A figure regressed when the whole interval is on the worse side of 1 and beyond ${pct} (below ${fmtRatio(1 - o.maxRegressionPct / 100)} where higher is better ↑, above ${fmtRatio(1 + o.maxRegressionPct / 100)} where lower is better ↓).`,
      width,
    ),
  );
  const rows = pairs.flatMap((p) => p.rows);
  const single = rows.filter((r) => r.verdict === 'no interval').length;
  if (single > 0) tail.push(...wrap(`${single} figure(s) had a single repetition on a side: no interval, so they cannot regress; run with --reps 2 or more to gate them.`, width));
  const bad = regressions(pairs);
  if (bad.length === 0) tail.push(...wrap(`No figure regressed beyond its noise and ${pct}.`, width));
  else {
    tail.push(...wrap(`${bad.length} figure(s) regressed beyond their noise and ${pct}:`, width));
    for (const r of bad) tail.push(...wrap(`${r.contender} · ${r.protocol} · ${r.metric.label}: ${formatRatio(r.estimate!)}`, width, '  '));
  }
  blocks.push(tail);
  return `${blocks.map((b) => b.join('\n')).join('\n\n')}\n`;
}
