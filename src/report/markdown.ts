// The headline table as GitHub-flavoured markdown, for a pull request or a README section.

import type { LoadedResult } from '../results/schema.js';
import { UNPAIRED_INTERVAL_METHOD } from '../results/ratio.js';
import { fmtRatio, fmtUnit } from './page-format.js';
import {
  HEADLINE_METRICS,
  differenceText,
  groupByScenario,
  headlineTable,
  provenance,
  RATIO_MARKS,
  ratioText,
  type Cell,
  type HeadlineRow,
  type Metric,
  type ScenarioComparison,
} from './model.js';

export interface MarkdownOptions {
  /** Contender the ratios are against; "net" when not given. */
  baseline?: string;
}

const arrow = (metric: Metric): string => (metric.better === 'lower' ? '↓' : '↑');

function escapeCell(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

/** "212 B (0.09×)", "4.89k/s (1.00× ~)" when within noise, "(0.97× ?)" with no interval, or the value alone when there is no ratio. */
export function cellText(metric: Metric, cell: Cell): string {
  const value = fmtUnit(metric.unit, cell.value?.median);
  return cell.estimate === null ? value : `${value} (${ratioText(cell.estimate)})`;
}

/** Repetitions that measured out of those run: "3/3"; a skipped row has none. */
export function repsText(row: HeadlineRow): string {
  if (row.status === 'skipped') return '—';
  return `${row.okRuns.length}/${row.runs.length}`;
}

function headlineMarkdown(loaded: LoadedResult, baseline: string, heading: string): string[] {
  const table = headlineTable(loaded, baseline);
  const out: string[] = [];
  out.push(heading, '');
  out.push(`\`${loaded.file}\` · ${provenance(loaded)}`, '');
  if (loaded.result.note) out.push(`> ${escapeCell(loaded.result.note)}`, '');
  const against = table.baselinePresent
    ? `ratios against ${baseline} of the same protocol (${RATIO_MARKS})`
    : `no ${baseline} run in this file, so no ratios`;
  out.push(`Medians over repetitions; ${against}. ↓ lower is better, ↑ higher is better.`, '');
  const head = ['contender', 'protocol', ...HEADLINE_METRICS.map((m) => `${m.label} ${arrow(m)}`), 'reps', 'note'];
  const align = ['---', '---', ...HEADLINE_METRICS.map(() => '---:'), '---:', '---'];
  out.push(`| ${head.join(' | ')} |`, `| ${align.join(' | ')} |`);
  for (const row of table.rows) {
    const cells = [
      row.isBaseline ? `${row.contender} (baseline)` : row.contender,
      row.protocol,
      ...HEADLINE_METRICS.map((m) => cellText(m, row.cells[m.id]!)),
      repsText(row),
      row.note ?? '',
    ];
    out.push(`| ${cells.map(escapeCell).join(' | ')} |`);
  }
  out.push('');
  return out;
}

function comparisonMarkdown(c: ScenarioComparison): string[] {
  const out: string[] = [];
  out.push(`### ${c.scenario}: ${c.files.map((f) => f.letter).join(' vs ')}`, '');
  const letters = c.files.map((f) => f.letter);
  if (c.differences.length > 0) out.push(...c.differences.map((d) => `- ${escapeCell(differenceText(d, letters))}`), '');
  out.push(`Later files against A: ratios of medians, ~ when within noise, ? when one repetition on a side gives no interval. Interval: ${UNPAIRED_INTERVAL_METHOD}.`, '');
  const later = c.files.slice(1);
  const head = ['contender', 'protocol', 'figure', ...c.files.map((f) => `${f.letter}: ${f.label}`), ...later.map((f) => `${f.letter}/A`)];
  const align = ['---', '---', '---', ...c.files.map(() => '---:'), ...later.map(() => '---:')];
  out.push(`| ${head.map(escapeCell).join(' | ')} |`, `| ${align.join(' | ')} |`);
  for (const row of c.rows) {
    const cells = [
      row.contender,
      row.protocol,
      `${row.metric.label} ${arrow(row.metric)}`,
      ...row.values.map((v) => fmtUnit(row.metric.unit, v?.median)),
      ...row.estimates.slice(1).map((est) => (est === null ? fmtRatio(null) : ratioText(est))),
    ];
    out.push(`| ${cells.map(escapeCell).join(' | ')} |`);
  }
  out.push('');
  return out;
}

/** Per scenario: a headline table per file, then a side-by-side table when there are several. */
export function renderMarkdown(results: readonly LoadedResult[], opts: MarkdownOptions = {}): string {
  const baseline = opts.baseline ?? 'net';
  const out: string[] = ['# c1m report', ''];
  for (const group of groupByScenario(results)) {
    out.push(`## ${group.scenario}`, '');
    const c = group.comparison;
    if (!c) out.push(...headlineMarkdown(group.files[0]!, baseline, `### ${group.scenario}`).slice(2));
    else {
      for (const f of c.files) out.push(...headlineMarkdown(f.loaded, baseline, `### ${f.letter}: ${f.label}`));
      out.push(...comparisonMarkdown(c));
    }
  }
  return `${out.join('\n').trimEnd()}\n`;
}
