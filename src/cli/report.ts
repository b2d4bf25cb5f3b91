// `c1m report <files or folders…>`: the headline table on the terminal, and on request the HTML
// page, the markdown tables and the capacity table, from result files.

import { mkdirSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { didYouMean } from '../checks.js';
import { renderCapacityMarkdown } from '../report/capacity.js';
import { renderHtml } from '../report/html.js';
import { renderMarkdown } from '../report/markdown.js';
import { renderTerminal } from '../report/terminal.js';
import { hgrmFiles } from '../results/histograms.js';
import { loadResults } from '../results/load.js';
import { writeAtomic } from '../runner/output.js';
import { EXIT, type ExitCode } from './exit.js';
import { flagHelp, parseArgs, UsageError, type FlagSpec } from './flags.js';
import type { Io } from './io.js';

const REPORT_FLAGS: Record<string, FlagSpec> = {
  html: { type: 'string', help: 'write the HTML report (self-contained, opens offline) here' },
  md: { type: 'string', help: 'write the markdown report here' },
  baseline: { type: 'string', help: 'contender the ratios are against', default: 'net' },
  hgrm: { type: 'string', help: 'write one .hgrm percentile distribution per contender and step (repetitions added, values in ms) into this folder' },
  capacityMd: { type: 'string', help: 'write the capacity table (connections held, time to establish, bytes per connection user/kernel, total memory) here' },
};

export async function cmdReport(argv: readonly string[], io: Io): Promise<ExitCode> {
  const args = parseArgs(argv, REPORT_FLAGS, { command: 'c1m report' });
  if (args.help) {
    io.out(`usage: c1m report <files or folders…> [flags]\n\nReads result files (folders are searched for *.json) and prints the headline table; several\nfiles of one scenario are compared side by side.\n\nflags:\n${flagHelp(REPORT_FLAGS).join('\n')}\n`);
    return EXIT.ok;
  }
  if (args.positionals.length === 0) throw new UsageError('c1m report: which result files or folders? (e.g. c1m report results/)');
  const baseline = (args.values['baseline'] as string | undefined) ?? 'net';
  let loaded;
  try {
    loaded = await loadResults(args.positionals);
  } catch (err) {
    io.err(`c1m report: ${(err as Error).message}\n`);
    return EXIT.failed;
  }
  for (const i of loaded.ignored) io.err(`c1m report: ignored ${i.file}: ${i.reason}\n`);
  if (loaded.results.length === 0) {
    io.err('c1m report: no result files found\n');
    return EXIT.failed;
  }
  if (typeof args.values['baseline'] === 'string') {
    // A baseline no file ran would leave every ratio out without a word.
    const ran = [...new Set(loaded.results.flatMap(({ result }) => result.runs.map((r) => r.contender)))];
    if (!ran.includes(baseline)) {
      throw new UsageError(`c1m report: --baseline ${baseline}: no file ran that contender${didYouMean(baseline, ran)}; they ran ${ran.join(', ') || 'none'}`);
    }
  }
  io.out(renderTerminal(loaded.results, io.columns === undefined ? { baseline } : { baseline, width: io.columns }));
  const html = args.values['html'];
  if (typeof html === 'string') {
    writeAtomic(html, renderHtml(loaded.results, { baseline }));
    io.err(`report: ${html}\n`);
  }
  const md = args.values['md'];
  if (typeof md === 'string') {
    writeAtomic(md, renderMarkdown(loaded.results, { baseline }));
    io.err(`markdown: ${md}\n`);
  }
  const cap = args.values['capacityMd'];
  if (typeof cap === 'string') {
    writeAtomic(cap, renderCapacityMarkdown(loaded.results));
    io.err(`capacity table: ${cap}\n`);
  }
  const hgrm = args.values['hgrm'];
  if (typeof hgrm === 'string') {
    mkdirSync(hgrm, { recursive: true });
    let written = 0;
    // Several files of one scenario would write the same names: each file's names then start with its own.
    const prefix = loaded.results.length > 1;
    for (const { file, result } of loaded.results) {
      for (const f of hgrmFiles(result)) {
        writeFileSync(join(hgrm, prefix ? `${basename(file, '.json')}_${f.name}` : f.name), f.text);
        written++;
      }
    }
    if (written === 0) io.err(`c1m report: no stored latency histograms in these files (results written before histograms were kept have percentiles only)\n`);
    else io.err(`hgrm: ${written} files in ${hgrm}\n`);
  }
  return EXIT.ok;
}
