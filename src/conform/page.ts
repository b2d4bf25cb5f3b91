// The conformance matrix as a page a browser opens from disk: one self-contained HTML file (no
// script, no external asset), cases down, contenders across, each cell green for a pass, amber
// (SHOULD, MAY) or red (MUST) with the deviation in words, grey for n/a with its reason; then
// every case's requirement, RFC section and bytes in words. A terminal table comes from the same
// file too.

import { escapeHtml } from '../report/html.js';
import { fmtTime, shortCommit } from '../report/page-format.js';
import type { ConformCell, ConformResult } from './schema.js';

const CSS = `
body { font: 14px/1.45 system-ui, sans-serif; margin: 2rem; color: #1d1d1f; }
h1 { font-size: 1.4rem; margin-bottom: .2rem; }
.meta { color: #555; margin-bottom: 1.2rem; }
table { border-collapse: collapse; margin: 1rem 0 2rem; }
th, td { border: 1px solid #d0d0d0; padding: .35rem .5rem; vertical-align: top; text-align: left; }
th { background: #f4f4f6; }
td.case { white-space: nowrap; font-family: ui-monospace, monospace; font-size: 12.5px; }
td.pass { background: #e3f6e5; color: #185c22; }
td.must { background: #fbe2e0; color: #7a1b12; }
td.should { background: #fdf1d8; color: #6b4a00; }
td.na { background: #efefef; color: #666; }
td.cell { max-width: 22rem; font-size: 12.5px; }
.level { font-size: 11px; font-weight: 600; }
tr.totals td { font-weight: 600; background: #f9f9fb; }
.legend span { display: inline-block; padding: .1rem .5rem; margin-right: .4rem; border: 1px solid #d0d0d0; }
`;

function cellClass(c: ConformCell | undefined): string {
  if (c === undefined) return 'na';
  if (c.status === 'pass') return 'pass';
  if (c.status === 'n/a') return 'na';
  return c.breaks === 'MUST' ? 'must' : 'should';
}

function cellText(c: ConformCell | undefined): string {
  if (c === undefined) return 'not run';
  if (c.status === 'pass') return `pass${c.detail ? `: ${c.detail}` : ''}`;
  if (c.status === 'n/a') return `n/a: ${c.detail}`;
  return `${c.breaks} not met: ${c.detail}`;
}

/** The cell of case id × contender. */
export function cellOf(r: ConformResult, id: string, contender: string): ConformCell | undefined {
  return r.cells.find((c) => c.case === id && c.contender === contender);
}

/** The page. */
export function renderConformHtml(r: ConformResult, title = 'c1m conformance'): string {
  const contenders = r.params.contenders;
  const env = r.env;
  const versions = Object.entries(env.versions ?? {})
    .filter(([, v]) => v !== null)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  const meta = [
    `${fmtTime(r.startedAt)} to ${fmtTime(r.finishedAt)}`,
    env.node ? `Node ${env.node}` : null,
    env.kernel ? `Linux ${env.kernel}` : null,
    env.cpus ? `${env.cpus} × ${env.cpuModel ?? 'CPU'}` : null,
    versions || null,
    env.git ? `commit ${shortCommit(env.git)}` : null,
    env.hostname ? `host ${env.hostname}` : null,
    `waits of ${r.params.waitMs} ms; slowloris for ${r.params.slowlorisMs} ms`,
  ].filter((x): x is string => x !== null);

  const head = `<tr><th>case</th><th>level</th>${contenders.map((c) => `<th>${escapeHtml(c)}</th>`).join('')}</tr>`;
  const rows: string[] = [];
  for (const fam of r.params.families) {
    const protocol = r.cases.find((c) => c.family === fam)?.protocol ?? fam;
    rows.push(`<tr><th colspan="${contenders.length + 2}">${fam === 'http' ? 'HTTP/1.1' : 'WebSocket'} (served as ${escapeHtml(protocol)})</th></tr>`);
    for (const k of r.cases.filter((c) => c.family === fam)) {
      const cells = contenders.map((name) => {
        const c = cellOf(r, k.id, name);
        return `<td class="cell ${cellClass(c)}">${escapeHtml(cellText(c))}</td>`;
      });
      rows.push(`<tr><td class="case"><a href="#${escapeHtml(k.id)}" title="${escapeHtml(`${k.source}: ${k.requirement}`)}">${escapeHtml(k.id)}</a></td><td class="level">${k.level}</td>${cells.join('')}</tr>`);
    }
    const totals = contenders.map((name) => {
      const run = r.runs.find((x) => x.contender === name && x.family === fam);
      if (run === undefined) return '<td>—</td>';
      const s = run.summary;
      return `<td>${s.casesRun === 0 ? escapeHtml(s.note ?? 'not run') : `${s.passed} of ${s.casesRun} passed${s.notApplicable > 0 ? `, ${s.notApplicable} n/a` : ''}`}</td>`;
    });
    rows.push(`<tr class="totals"><td colspan="2">total</td>${totals.join('')}</tr>`);
  }

  const cases = r.cases
    .map(
      (k) =>
        `<tr id="${escapeHtml(k.id)}"><td class="case">${escapeHtml(k.id)}</td><td>${escapeHtml(k.source)}</td><td class="level">${k.level}</td><td>${escapeHtml(k.requirement)}</td><td>${escapeHtml(k.sends)}</td><td>${k.quick ? 'yes' : 'no'}</td></tr>`,
    )
    .join('\n');

  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>${CSS}</style></head>
<body>
<h1>${escapeHtml(title)}</h1>
<div class="meta">${meta.map(escapeHtml).join(' · ')}</div>
<p>Each case sends raw bytes over a plain TCP connection to 127.0.0.1 and says what the server did. A lax server's
throughput is not the same work as a strict one's: read the figures of a contender beside this matrix.</p>
<p class="legend"><span class="pass" style="background:#e3f6e5">pass</span><span style="background:#fbe2e0">a MUST not met</span><span style="background:#fdf1d8">a SHOULD or MAY not met</span><span style="background:#efefef">n/a</span></p>
<table>
${head}
${rows.join('\n')}
</table>
<h2>The cases</h2>
<table>
<tr><th>case</th><th>source</th><th>level</th><th>what a conforming server does</th><th>what the case sends</th><th>quick</th></tr>
${cases}
</table>
</body></html>
`;
}

/** The matrix as plain text: one line per case, a column per contender ("pass", "MUST", "SHOULD", "n/a"). */
export function renderConformText(r: ConformResult): string {
  const contenders = r.params.contenders;
  const idWidth = Math.max(4, ...r.cases.map((c) => c.id.length));
  const colWidth = Math.max(8, ...contenders.map((c) => c.length));
  const mark = (c: ConformCell | undefined): string => (c === undefined ? '-' : c.status === 'deviation' ? `✗ ${c.breaks}` : c.status === 'pass' ? 'pass' : 'n/a');
  const lines = [`${'case'.padEnd(idWidth)}  ${contenders.map((c) => c.padEnd(colWidth)).join('  ')}`];
  for (const k of r.cases) lines.push(`${k.id.padEnd(idWidth)}  ${contenders.map((n) => mark(cellOf(r, k.id, n)).padEnd(colWidth)).join('  ')}`);
  lines.push('');
  for (const run of r.runs) {
    const s = run.summary;
    if (s.casesRun === 0) {
      lines.push(`${run.contender} × ${run.protocol}: ${s.note ?? 'not run'}`);
      continue;
    }
    lines.push(`${run.contender} × ${run.protocol}: ${s.passed} of ${s.casesRun} passed${s.notApplicable > 0 ? `, ${s.notApplicable} n/a` : ''}`);
    for (const d of s.deviations) lines.push(`  ${d.id} (${d.breaks}): ${d.detail}`);
  }
  return `${lines.join('\n')}\n`;
}

/**
 * The matrix in a few lines of markdown, one row per contender × protocol: cases passed of those
 * run, and the deviations named by the strongest word they broke. What the README shows
 * (scripts/readme-results.mjs), generated from a committed file, never typed.
 */
export function renderConformMarkdown(r: ConformResult, file: string): string {
  const commit = typeof r.env.git === 'string' ? ` (commit ${shortCommit(r.env.git)})` : '';
  const lines = [
    `From \`${file}\`${commit}: waits of ${r.params.waitMs} ms, slowloris for ${r.params.slowlorisMs} ms.`,
    '',
    '| contender | protocol | passed | deviations (the strongest word broken) |',
    '|---|---|---|---|',
  ];
  for (const run of r.runs) {
    const s = run.summary;
    if (s.casesRun === 0 || s.casesRun === s.notApplicable) {
      lines.push(`| ${run.contender} | ${run.protocol} | n/a | ${(s.note ?? run.error ?? 'no case applies').replaceAll('|', '\\|')} |`);
      continue;
    }
    const by = (level: string): string[] => s.deviations.filter((d) => d.breaks === level).map((d) => `\`${d.id.replace(/^(http|ws)\./, '')}\``);
    const parts = ['MUST', 'SHOULD', 'MAY'].flatMap((level) => (by(level).length > 0 ? [`${by(level).join(', ')} (${level})`] : []));
    const na = s.notApplicable > 0 ? `, ${s.notApplicable} n/a` : '';
    lines.push(`| ${run.contender} | ${run.protocol} | ${s.passed} of ${s.casesRun - s.notApplicable}${na} | ${parts.length > 0 ? parts.join('; ') : 'none'} |`);
  }
  return `${lines.join('\n')}\n`;
}
