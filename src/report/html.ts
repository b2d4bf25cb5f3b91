// One self-contained HTML page: tables rendered here, charts drawn in the browser by Observable
// Plot from specs embedded as JSON. d3 and Plot are inlined, and a Content-Security-Policy
// forbids every fetch, so the page opens offline and cannot phone home.

import { formatRatio, UNPAIRED_INTERVAL_METHOD, type RatioEstimate } from '../results/ratio.js';
import type { LoadedResult, Run } from '../results/schema.js';
import { chartLibraries } from './assets.js';
import { chartsForResult, comparisonChart, type ChartSpec } from './charts.js';
import { contenderColors } from './palette.js';
import { perConnectionChart, type PerConnectionChart } from './capacity.js';
import {
  DASH,
  FORMAT_FUNCTIONS,
  fmtBytes,
  fmtCount,
  fmtRatio,
  fmtRate,
  fmtTime,
  fmtUnit,
  fmtUs,
  shortCommit,
} from './page-format.js';
import {
  HEADLINE_METRICS,
  differenceText,
  envRows,
  groupByScenario,
  headlineTable,
  loneRows,
  MAX_CONNECTIONS,
  metricText,
  COMPARED_METRICS,
  provenance,
  ratioSense,
  RATIO_MARKS,
  ratioText,
  runStatus,
  type Cell,
  type Metric,
  type ScenarioComparison,
} from './model.js';
import { PAGE_SCRIPT } from './page-script.js';

export interface HtmlOptions {
  /** Contender the ratios are against; "net" when not given. */
  baseline?: string;
  /** Page title; "c1m report" when not given. */
  title?: string;
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const e = escapeHtml;

/** Text for inside a double-quoted CSS string: everything but plain name characters as a hex escape. */
function cssString(text: string): string {
  return text.replace(/[^A-Za-z0-9_-]/g, (c) => `\\${c.codePointAt(0)!.toString(16)} `);
}

/**
 * A ratio is good or bad depending on which way the figure should go, and "same" when its
 * interval over repetitions contains 1 (within noise). A ratio without one (a single repetition
 * on a side) falls back to ±5 %.
 */
function ratioClass(metric: Metric, ratio: number, estimate: RatioEstimate | null = null): string {
  const sense = estimate === null ? 'no interval' : ratioSense(metric, estimate);
  if (sense === 'within noise') return 'same';
  if (sense === 'better' || sense === 'worse') return sense;
  if (ratio > 0.95 && ratio < 1.05) return 'same';
  const better = metric.better === 'lower' ? ratio < 1 : ratio > 1;
  return better ? 'better' : 'worse';
}

function cellHtml(metric: Metric, cell: Cell): string {
  const value = metricText(metric, cell.value);
  if (!cell.value) return `<td class="num empty">${DASH}</td>`;
  const spread =
    cell.value.n > 1 && cell.value.min !== cell.value.max
      ? ` title="min ${e(fmtUnit(metric.unit, cell.value.min))}, max ${e(fmtUnit(metric.unit, cell.value.max))} over ${cell.value.n} reps"`
      : '';
  const interval =
    cell.estimate === null
      ? ''
      : cell.estimate.pairs >= 2
        ? ` title="${e(formatRatio(cell.estimate))} over ${cell.estimate.pairs} repetition pairs${ratioSense(metric, cell.estimate) === 'within noise' ? ': within noise' : ''}"`
        : ' title="one repetition pair: no interval, so whether it is clear of noise is unknown"';
  const ratio =
    cell.ratio === null ? '' : ` <span class="ratio ${ratioClass(metric, cell.ratio, cell.estimate)}"${interval}>${e(cell.estimate === null ? fmtRatio(cell.ratio) : ratioText(cell.estimate))}</span>`;
  return `<td class="num"${spread}>${e(value)}${ratio}</td>`;
}

const arrow = (metric: Metric): string => (metric.better === 'lower' ? '↓' : '↑');

function headlineHtml(loaded: LoadedResult, baseline: string): string {
  const table = headlineTable(loaded, baseline);
  const head = HEADLINE_METRICS.map((m) => `<th class="num">${e(m.label)} <span class="dir">${arrow(m)}</span></th>`).join('');
  const rows = table.rows
    .map((row) => {
      const status = row.status === 'ok' || row.status === 'partial' ? '' : ` class="row-${row.status}"`;
      const name = row.isBaseline ? `${e(row.contender)} <span class="tag">baseline</span>` : e(row.contender);
      const reps = row.status === 'skipped' ? DASH : `${row.okRuns.length}/${row.runs.length}`;
      const note = row.note ? `<span class="note-${row.status}">${e(row.note)}</span>` : '';
      return `<tr${status}><td><span class="swatch" data-c="${e(row.contender)}"></span>${name}</td><td>${e(row.protocol)}</td>${HEADLINE_METRICS.map((m) => cellHtml(m, row.cells[m.id]!)).join('')}<td class="num">${reps}</td><td class="note">${note}</td></tr>`;
    })
    .join('\n');
  const against = table.baselinePresent
    ? `ratios against <b>${e(baseline)}</b> of the same protocol (${e(RATIO_MARKS)})`
    : `no <b>${e(baseline)}</b> run in this file, so no ratios`;
  return `<div class="scroll"><table class="headline">
<caption>Medians over repetitions; ${against}. ↓ lower is better, ↑ higher is better.</caption>
<thead><tr><th>contender</th><th>protocol</th>${head}<th class="num">reps</th><th>note</th></tr></thead>
<tbody>
${rows}
</tbody></table></div>`;
}

function legendHtml(spec: ChartSpec): string {
  if (spec.legend.length === 0) return '';
  const items = spec.legend
    .map(
      (l) =>
        `<li><span class="swatch${l.dashed ? ' dashed' : ''}" data-c="${e(l.contender)}"></span>${e(l.contender)} <b>${e(l.text)}</b></li>`,
    )
    .join('');
  return `<ul class="legend">${items}</ul>`;
}

function figureHtml(spec: ChartSpec, wide = false): string {
  return `<figure class="chart${wide ? ' wide' : ''}" data-chart="${e(spec.id)}" data-kind="${spec.kind}">
<figcaption><h4>${e(spec.title)}</h4>${legendHtml(spec)}</figcaption>
<div class="plot"></div>
<p class="caption">${e(spec.caption)}</p>
</figure>`;
}

function failuresHtml(loaded: LoadedResult): string {
  const bad = loaded.result.runs.filter((r) => runStatus(r) !== 'ok');
  if (bad.length === 0) return '<p class="allok">Every run finished.</p>';
  const rows = bad
    .map((r) => {
      const status = runStatus(r);
      const reason = status === 'skipped' ? r.skipped : r.error;
      const steps = status === 'skipped' ? DASH : `${r.steps.length}`;
      return `<tr class="row-${status}"><td>${e(r.contender)}</td><td>${e(r.protocol)}</td><td class="num">${r.rep}</td><td>${status}</td><td class="num">${steps}</td><td>${e(reason ?? 'no reason recorded')}</td></tr>`;
    })
    .join('\n');
  return `<div class="scroll"><table class="failures">
<caption>Runs that failed or were skipped (they are left out of the figures and charts above; timelines show failed runs dashed).</caption>
<thead><tr><th>contender</th><th>protocol</th><th class="num">rep</th><th>status</th><th class="num">steps measured</th><th>reason</th></tr></thead>
<tbody>
${rows}
</tbody></table></div>`;
}

function stepsHtml(loaded: LoadedResult): string {
  const num = (text: string): string => `<td class="num">${e(text)}</td>`;
  const cpu = (run: Run, i: number): string => {
    const s = run.steps[i]?.server;
    if (typeof s?.cpuUserMs !== 'number' || typeof s.cpuSysMs !== 'number') return DASH;
    return `${fmtCount(s.cpuUserMs)} + ${fmtCount(s.cpuSysMs)}`;
  };
  const errors = (run: Run, i: number): string => {
    const x = run.steps[i]?.errors;
    if (!x) return DASH;
    const parts = Object.entries(x).filter(([, v]) => typeof v === 'number' && v > 0);
    const measured = Object.values(x).some((v) => typeof v === 'number');
    if (!measured) return DASH;
    return parts.length === 0 ? '0' : parts.map(([k, v]) => `${k} ${v}`).join(', ');
  };
  const rows: string[] = [];
  for (const run of loaded.result.runs) {
    if (run.steps.length === 0) continue;
    run.steps.forEach((s, i) => {
      rows.push(
        `<tr${runStatus(run) === 'ok' ? '' : ' class="row-failed"'}><td>${e(run.contender)}</td><td>${e(run.protocol)}</td><td class="num">${run.rep}</td>` +
          num(fmtCount(s.connections)) +
          num(fmtBytes(s.server?.rssBytes)) +
          num(fmtBytes(s.server?.pssBytes)) +
          num(fmtBytes(s.server?.heapUsedBytes)) +
          num(fmtBytes(s.server?.externalBytes)) +
          num(cpu(run, i)) +
          num(fmtBytes(s.kernel?.slabBytes)) +
          num(fmtCount(s.kernel?.sockstatMemPages)) +
          num(fmtCount(s.kernel?.tcpInUse)) +
          num(fmtRate(s.throughput?.opsPerSec)) +
          num(fmtBytes(s.throughput?.bytesPerSec)) +
          num(fmtUs(s.latencyUs?.p50)) +
          num(fmtUs(s.latencyUs?.p99)) +
          num(fmtUs(s.latencyUs?.max)) +
          num(errors(run, i)) +
          '</tr>',
      );
    });
  }
  if (rows.length === 0) return '';
  return `<details class="steps"><summary>Every measured step (${rows.length})</summary>
<div class="scroll"><table>
<thead><tr><th>contender</th><th>protocol</th><th class="num">rep</th><th class="num">connections</th><th class="num">RSS</th><th class="num">PSS</th><th class="num">V8 heap</th><th class="num">external</th><th class="num">CPU ms user + sys</th><th class="num">Slab</th><th class="num">sock pages</th><th class="num">TCP in use</th><th class="num">ops/s</th><th class="num">bytes/s</th><th class="num">p50</th><th class="num">p99</th><th class="num">max</th><th class="num">errors</th></tr></thead>
<tbody>
${rows.join('\n')}
</tbody></table></div></details>`;
}

function envHtml(loaded: LoadedResult): string {
  const items = envRows(loaded)
    .map(([k, v]) => `<div><dt>${e(k)}</dt><dd>${e(v)}</dd></div>`)
    .join('');
  const params = JSON.stringify(loaded.result.params, null, 2);
  return `<div class="env"><h4>Environment</h4><dl class="env-grid">${items}</dl>
<details><summary>Scenario parameters</summary><pre>${e(params)}</pre></details></div>`;
}

function comparisonHtml(c: ScenarioComparison, id: string): { html: string; chart: ChartSpec | null } {
  // Pairs that only one file measured are listed on their own below (loneRows), not as a diagonal here.
  const lone = new Set(loneRows(c).map((l) => `${l.contender}\u0000${l.protocol}`));
  const compared = c.rows.filter((row) => !lone.has(`${row.contender}\u0000${row.protocol}`));
  // Columns of files that measured none of the compared rows, and ratio columns with no ratio, are left out.
  const shown = c.files.map((_, i) => compared.some((row) => row.values[i] !== null));
  const ratioShown = c.files.map((_, i) => i > 0 && compared.some((row) => row.estimates[i] !== null));
  const head = [
    '<th>contender</th><th>protocol</th><th>figure</th>',
    ...c.files.filter((_, i) => shown[i]).map((f) => `<th class="num">${f.letter}</th>`),
    ...c.files.filter((_, i) => ratioShown[i]).map((f) => `<th class="num">${f.letter}/A</th>`),
  ].join('');
  const rows = compared
    .map((row) => {
      const values = row.values
        .filter((_, i) => shown[i])
        .map((v) => `<td class="num">${e(fmtUnit(row.metric.unit, v?.median))}</td>`)
        .join('');
      const ratios = row.estimates
        .filter((_, i) => ratioShown[i])
        .map((est) => {
          if (est === null) return `<td class="num empty">${DASH}</td>`;
          const title = ` title="${e(formatRatio(est))}: ${e(UNPAIRED_INTERVAL_METHOD)}${ratioSense(row.metric, est) === 'within noise' ? ', within noise' : ''}"`;
          return `<td class="num"><span class="ratio ${ratioClass(row.metric, est.ratio, est)}"${title}>${e(ratioText(est))}</span></td>`;
        })
        .join('');
      return `<tr><td><span class="swatch" data-c="${e(row.contender)}"></span>${e(row.contender)}</td><td>${e(row.protocol)}</td><td>${e(row.metric.label)} <span class="dir">${arrow(row.metric)}</span></td>${values}${ratios}</tr>`;
    })
    .join('\n');
  // Parameters that differ change what was measured: each is said in a sentence above the table.
  const letters = c.files.map((f) => f.letter);
  const params = c.differences.filter((d) => d.kind === 'param');
  const paramDiff =
    params.length === 0
      ? '<p class="same-params">The files ran with the same parameters.</p>'
      : `<ul class="param-diff">${params.map((d) => `<li${d.shapesFigures ? ' class="shapes"' : ''}>${e(differenceText(d, letters))}</li>`).join('')}</ul>`;
  // What differs between the files' environments says whether this is two commits or two machines.
  const differing = c.differences.filter((d) => d.kind === 'env');
  const envDiff =
    differing.length === 0
      ? '<p>The environments are the same.</p>'
      : `<table class="kv diff"><thead><tr><th></th>${c.files.map((f) => `<th>${f.letter}</th>`).join('')}</tr></thead><tbody>${differing
          .map((d) => `<tr><th>${e(d.name)}</th>${d.values.map((v) => `<td>${e(v)}</td>`).join('')}</tr>`)
          .join('')}</tbody></table>`;
  const files = c.files
    .map((f) => `<li><b>${f.letter}</b> <code>${e(f.loaded.file)}</code> · ${e(provenance(f.loaded))}</li>`)
    .join('');
  const chart = comparisonChart(c, id);
  const html = `<section class="comparison">
<h3>${e(c.scenario)}: ${c.files.map((f) => f.letter).join(' vs ')}</h3>
<ul class="files">${files}</ul>
${paramDiff}
${ratioShown.some((x) => x) ? `<p class="caption">Each later file's figure against A's: a ratio of medians, marked ~ when within noise and ? when one repetition on a side gives no interval. Interval: ${e(UNPAIRED_INTERVAL_METHOD)}.</p>` : ''}
<div class="cmp-grid${c.files.length > 2 ? ' stacked' : ''}">
<div>${
    compared.length > 0
      ? `<div class="scroll"><table class="compare"><thead><tr>${head}</tr></thead><tbody>
${rows}
</tbody></table></div>`
      : '<p class="nothing-compared">No contender and protocol has runs in more than one of these files, so no figure is compared across them; each is listed once below.</p>'
  }
<h4>What differs in the environment</h4>${envDiff}</div>
${chart ? figureHtml(chart) : ''}
</div>
</section>`;
  return { html, chart };
}

/**
 * The pairs only one file measured, one row each (a pivot of the side-by-side table), and what a
 * connection costs against how many are held, every file's runs on one chart. Nothing when every
 * pair is in the side-by-side table already.
 */
function loneHtml(c: ScenarioComparison, sid: string): { html: string; charts: ChartSpec[] } {
  const lone = loneRows(c);
  if (lone.length === 0) return { html: '', charts: [] };
  const letters = c.files.map((f) => f.letter);
  const files = c.files.map((f) => f.loaded);
  const charts = [perConnectionChart(files, `${sid}-per-conn-user`, 'user', letters), perConnectionChart(files, `${sid}-per-conn-kernel`, 'kernel', letters)].filter(
    (x): x is PerConnectionChart => x !== null,
  );
  const metrics = COMPARED_METRICS.filter((m) => lone.some((l) => l.values[m.id]));
  const held = lone.some((l) => l.maxConnections !== null);
  const head = `<th>file</th><th>contender</th><th>protocol</th>${held ? '<th class="num">connections held</th>' : ''}${metrics.map((m) => `<th class="num">${e(m.label)} <span class="dir">${arrow(m)}</span></th>`).join('')}`;
  const rows = lone
    .map(
      (l) =>
        `<tr><td>${letters[l.file]}</td><td><span class="swatch" data-c="${e(l.contender)}"></span>${e(l.contender)}</td><td>${e(l.protocol)}</td>${held ? `<td class="num">${e(metricText(MAX_CONNECTIONS, l.maxConnections))}</td>` : ''}${metrics
          .map((m) => `<td class="num">${e(metricText(m, l.values[m.id] ?? null))}</td>`)
          .join('')}</tr>`,
    )
    .join('\n');
  const table = `<div class="scroll"><table class="lone"><caption>Measured in one file each: medians over its repetitions, no ratios (nothing in the same file to divide by). ↓ lower is better, ↑ higher is better.</caption>
<thead><tr>${head}</tr></thead><tbody>
${rows}
</tbody></table></div>`;
  const html = `<section class="lone">
<h3>${e(c.scenario)}: one file each${charts.length > 0 ? ', and what a connection costs at each scale' : ''}</h3>
${table}
${charts.length > 0 ? `<div class="charts">\n${charts.map((x) => figureHtml(x)).join('\n')}\n</div>` : ''}
</section>`;
  return { html, charts };
}

function resultHtml(loaded: LoadedResult, baseline: string, prefix: string, heading: string): { html: string; charts: ChartSpec[] } {
  const charts = chartsForResult(loaded, prefix);
  const note = loaded.result.note ? `<p class="note-banner">${e(loaded.result.note)}</p>` : '';
  const html = `<article class="result" id="${prefix}">
<h3>${e(heading)}</h3>
<p class="prov"><code>${e(loaded.file)}</code> · ${e(provenance(loaded))}</p>
${note}
${headlineHtml(loaded, baseline)}
${charts.length > 0 ? `<div class="charts">\n${charts.map((c) => figureHtml(c, c.kind === 'steps')).join('\n')}\n</div>` : '<p class="nocharts">Nothing in this file to chart.</p>'}
${failuresHtml(loaded)}
${envHtml(loaded)}
${stepsHtml(loaded)}
</article>`;
  return { html, charts };
}

const CSS = `
:root { --fg: #1d2430; --muted: #5c6675; --line: #dde2ea; --bg: #f6f7f9; --card: #fff; --better: #1f7a3d; --worse: #b3261e; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif; color: var(--fg); background: var(--bg); }
header.top { background: #1d2430; color: #fff; padding: 18px 32px; }
header.top h1 { margin: 0; font-size: 22px; font-weight: 650; }
header.top p { margin: 4px 0 0; color: #c5cbd6; }
header.top nav a { color: #fff; margin-right: 14px; }
main { max-width: 1400px; margin: 0 auto; padding: 8px 32px 48px; }
h2 { font-size: 20px; margin: 32px 0 8px; padding-bottom: 6px; border-bottom: 2px solid var(--line); }
h3 { font-size: 17px; margin: 20px 0 4px; }
h4 { font-size: 14px; margin: 14px 0 6px; }
figure h4 { margin: 0; }
code { font: 12.5px ui-monospace, SFMono-Regular, Menlo, monospace; }
.prov { color: var(--muted); margin: 0 0 10px; }
.note-banner { background: #fff7e0; border: 1px solid #f0d68a; padding: 6px 10px; border-radius: 6px; display: inline-block; margin: 0 0 12px; }
article.result, section.comparison, section.lone { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 16px 20px 20px; margin: 16px 0; }
table { border-collapse: collapse; width: 100%; }
caption { caption-side: top; text-align: left; color: var(--muted); padding: 0 0 6px; }
th, td { padding: 5px 10px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
thead th { font-weight: 600; color: var(--muted); border-bottom: 1px solid #c8ced8; white-space: nowrap; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.empty { color: #a0a7b3; }
.dir { color: #8a93a3; font-weight: 400; }
.ratio { font-size: 12px; padding: 1px 5px; border-radius: 4px; margin-left: 4px; background: #eef1f5; }
.ratio.better { color: var(--better); background: #e3f3e8; }
.ratio.worse { color: var(--worse); background: #fbe7e5; }
.tag { font-size: 11px; color: var(--muted); border: 1px solid var(--line); border-radius: 4px; padding: 0 4px; margin-left: 4px; }
.swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 6px; vertical-align: baseline; }
.swatch.dashed { height: 0; border-top-width: 3px; border-top-style: dashed; border-radius: 0; width: 14px; vertical-align: middle; background: none !important; }
tr.row-failed td, tr.row-skipped td { color: #6b7280; }
.note-failed, .note-partial { color: var(--worse); }
.note-skipped { color: #7a5b00; }
td.note { white-space: normal; min-width: 220px; }
table.headline td:first-child, table.headline td:nth-child(2) { white-space: nowrap; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(520px, 1fr)); gap: 16px; margin: 18px 0; }
figure.chart.wide { grid-column: 1 / -1; }
figure.chart { margin: 0; border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px 8px; background: #fff; min-width: 0; }
figure.chart h4 { display: inline; margin-right: 12px; }
ul.legend { display: inline; list-style: none; padding: 0; margin: 0; }
ul.legend li { display: inline-block; margin-right: 14px; color: var(--muted); font-size: 12.5px; }
ul.legend b { color: var(--fg); font-weight: 600; }
.plot { min-height: 120px; margin-top: 6px; }
.plot svg { max-width: 100%; height: auto; }
.caption { color: var(--muted); font-size: 12px; margin: 4px 0 0; }
@media (max-width: 1000px) { .charts { grid-template-columns: 1fr; } td.note { min-width: 160px; } main { padding: 8px 12px 32px; } article.result, section.comparison, section.lone { padding: 12px; } }
table.kv { width: auto; }
table.kv th { color: var(--muted); font-weight: 500; white-space: nowrap; }
table.kv th, table.kv td { padding: 3px 12px 3px 8px; font-size: 13px; }
.env { margin-top: 16px; }
dl.env-grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(290px, 1fr)); gap: 0 24px; margin: 0; }
dl.env-grid div { display: flex; gap: 10px; justify-content: space-between; border-bottom: 1px solid var(--line); padding: 3px 0; font-size: 13px; }
dl.env-grid dt { color: var(--muted); white-space: nowrap; }
dl.env-grid dd { margin: 0; text-align: right; word-break: break-all; font-variant-numeric: tabular-nums; }
table.failures { margin-top: 8px; }
.allok { color: var(--better); }
details { margin-top: 12px; }
summary { cursor: pointer; color: var(--muted); }
pre { background: #f3f5f8; padding: 10px; border-radius: 6px; overflow: auto; font-size: 12px; }
.scroll { overflow-x: auto; }
details.steps table td, details.steps table th { font-size: 12.5px; padding: 3px 8px; }
.cmp-grid { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 20px; align-items: start; }
.cmp-grid.stacked { grid-template-columns: 1fr; }
@media (max-width: 1100px) { .cmp-grid { grid-template-columns: 1fr; } }
ul.files { padding-left: 18px; color: var(--muted); }
ul.param-diff { padding-left: 18px; }
ul.param-diff li.shapes { color: var(--worse); }
footer { color: var(--muted); font-size: 12px; max-width: 1400px; margin: 0 auto; padding: 0 32px 32px; }
`;

/** Renders the whole page. The output depends only on the inputs (no clock), so it diffs cleanly. */
export function renderHtml(results: readonly LoadedResult[], opts: HtmlOptions = {}): string {
  const baseline = opts.baseline ?? 'net';
  const title = opts.title ?? 'c1m report';
  const colors = contenderColors(results);
  const charts: ChartSpec[] = [];
  const sections: string[] = [];
  let n = 0;
  for (const group of groupByScenario(results)) {
    const parts: string[] = [];
    const c = group.comparison;
    const sid = `s${sections.length + 1}`;
    if (c) {
      const cmp = comparisonHtml(c, `${sid}-compare`);
      if (cmp.chart) charts.push(cmp.chart);
      parts.push(cmp.html);
      const lone = loneHtml(c, sid);
      charts.push(...lone.charts);
      if (lone.html) parts.push(lone.html);
    }
    group.files.forEach((loaded, i) => {
      n += 1;
      const heading = c ? `${c.files[i]!.letter}: ${c.files[i]!.label}` : `${loaded.result.scenario}, ${fmtTime(loaded.result.startedAt)}`;
      const r = resultHtml(loaded, baseline, `r${n}`, heading);
      charts.push(...r.charts);
      parts.push(r.html);
    });
    sections.push(`<section class="scenario" id="${sid}"><h2>${e(group.scenario)}</h2>\n${parts.join('\n')}\n</section>`);
  }
  const nav = groupByScenario(results)
    .map((g, i) => `<a href="#s${i + 1}">${e(g.scenario)}</a>`)
    .join('');
  const commits = [...new Set(results.map((l) => shortCommit(l.result.env.git) ?? 'no commit'))].join(', ');
  const libs = chartLibraries();
  const swatches = Object.entries(colors)
    .map(([c, color]) => `[data-c="${cssString(c)}"] { background: ${color}; border-color: ${color}; }`)
    .join('\n');
  const data = { colors, charts };
  // "<" is escaped so nothing inside the JSON can close the <script> element that holds it.
  const json = JSON.stringify(data).replace(/</g, '\\u003c');
  const format = FORMAT_FUNCTIONS.map((f) => f.toString()).join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:">
<title>${e(title)}</title>
<style>${CSS}
${swatches}
</style>
</head>
<body>
<header class="top"><h1>${e(title)}</h1>
<p>${results.length} result file${results.length === 1 ? '' : 's'} · commit ${e(commits)} · figures that were not measured show as ${DASH}</p>
<nav>${nav}</nav></header>
<main>
${sections.join('\n')}
</main>
<footer>Charts drawn with ${libs.map((l) => `${e(l.name)} ${e(l.version)} (${e(l.license)})`).join(' and ')}, inlined in this page.</footer>
<script type="application/json" id="c1m-data">${json}</script>
${libs.map((l) => `<script>/* ${l.name} ${l.version} */\n${l.code}\n</script>`).join('\n')}
<script>
${format}
${PAGE_SCRIPT}
</script>
</body>
</html>
`;
}
