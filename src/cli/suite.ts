// `c1m suite [--tiny | --quick | --full] [--out-dir DIR] [--contenders a,b] [--only s1,s2]
// [--md FILE]`, and `c1m suite --from DIR [--md FILE]` to redraw the table from files already
// written. Progress goes to stderr, the table and the paths to stdout. Exit codes as `c1m run`:
// 0 every run ok (skips allowed), 1 nothing written, 2 usage, 3 some run not ok or some
// scenario refused, 130 interrupted.

import { didYouMean } from '../checks.js';
import { loadResults } from '../results/load.js';
import type { LoadedResult } from '../results/schema.js';
import { builtinNames } from '../runner/catalog.js';
import { writeAtomic } from '../runner/output.js';
import { commandSession } from '../runner/processes.js';
import { latestPerScenario, runSuite, suiteEntries, suiteMarkdown, suiteTable, type SuiteMode } from '../runner/suite.js';
import { EXIT, type ExitCode } from './exit.js';
import { flagHelp, parseArgs, UsageError, type FlagSpec } from './flags.js';
import type { Io } from './io.js';

const SUITE_FLAGS: Record<string, FlagSpec> = {
  tiny: { type: 'bool', help: 'a few hundred connections, sub-second phases: checks that everything works (figures meaningless)' },
  quick: { type: 'bool', help: 'the default: idle-hold to 10k, tcp-echo, http-hello, ws-broadcast, short phases, one repetition (a few minutes on 2 cores)' },
  full: { type: 'bool', help: 'the reference suite: every scenario at its defaults (throughput scenarios three times)' },
  outDir: { type: 'string', help: 'folder for the result files: <dir>/<scenario>/<UTC timestamp>.json and .html', default: 'results' },
  contenders: { type: 'list', help: 'only these contenders (each scenario keeps those of its own that are named)' },
  only: { type: 'list', help: 'only these scenarios of the suite' },
  from: { type: 'string', help: 'run nothing: draw the table from the newest result of each scenario in this folder' },
  md: { type: 'string', help: 'also write the table as markdown, with the machine described (the README results section)' },
  baseline: { type: 'string', help: 'contender the ratios are against', default: 'net' },
};

function usage(): string {
  return `usage: c1m suite [--tiny | --quick | --full] [flags]
       c1m suite --from <folder> [--md FILE]

Runs a set of scenarios one after another, each written as c1m run writes it (a result file and
its HTML report), then prints one table of the headline figures of all of them: bytes per
connection, connect rate, ops per server CPU-second and p99 latency, with ratios against net.
npm start runs c1m suite --quick.

suites:
  --tiny    ${suiteEntries('tiny').map((e) => e.scenario).join(', ')}
  --quick   ${suiteEntries('quick').map((e) => `${e.scenario}${e.params['protocol'] ? ` (${String(e.params['protocol'])})` : ''}`).join(', ')}
  --full    ${suiteEntries('full').map((e) => `${e.scenario}${e.params['protocol'] ? ` (${String(e.params['protocol'])})` : ''}`).join(', ')}

flags:
${flagHelp(SUITE_FLAGS).join('\n')}

exit: 0 all runs ok (skips allowed), 1 nothing written, 2 usage, 3 some runs not ok or a scenario refused, 130 interrupted
`;
}

function writeMarkdown(path: string, results: readonly LoadedResult[], baseline: string, io: Io): void {
  writeAtomic(path, suiteMarkdown(results, baseline));
  io.err(`markdown: ${path}\n`);
}

export async function cmdSuite(argv: readonly string[], io: Io): Promise<ExitCode> {
  const args = parseArgs(argv, SUITE_FLAGS, { command: 'c1m suite', maxPositionals: 0 });
  if (args.help) {
    io.out(usage());
    return EXIT.ok;
  }
  const v = args.values;
  const baseline = (v['baseline'] as string | undefined) ?? 'net';
  const md = v['md'] as string | undefined;
  const chosen = (['tiny', 'quick', 'full'] as const).filter((m) => v[m] === true);
  if (chosen.length > 1) throw new UsageError(`c1m suite: --${chosen.join(' and --')} exclude each other`);

  const from = v['from'] as string | undefined;
  if (from !== undefined) {
    if (chosen.length > 0 || v['only'] !== undefined || v['contenders'] !== undefined) throw new UsageError('c1m suite: --from draws existing files; it takes only --md and --baseline');
    let loaded;
    try {
      loaded = await loadResults([from]);
    } catch (err) {
      io.err(`c1m suite: ${(err as Error).message}\n`);
      return EXIT.failed;
    }
    const latest = latestPerScenario(loaded.results);
    if (latest.length === 0) {
      io.err(`c1m suite: no result files in ${from}\n`);
      return EXIT.failed;
    }
    io.out(suiteTable(latest, baseline));
    if (md !== undefined) writeMarkdown(md, latest, baseline, io);
    return EXIT.ok;
  }

  const mode: SuiteMode = chosen[0] ?? 'quick';
  let entries = suiteEntries(mode);
  const only = v['only'] as string[] | undefined;
  if (only !== undefined) {
    const known = builtinNames();
    for (const name of only) {
      if (!known.includes(name)) throw new UsageError(`c1m suite: unknown scenario "${name}"${didYouMean(name, known)}; built-in: ${known.join(', ')}`);
    }
    entries = entries.filter((e) => only.includes(e.scenario));
    if (entries.length === 0) throw new UsageError(`c1m suite: the ${mode} suite has none of ${only.join(', ')}`);
  }

  const session = commandSession({
    log: io.err,
    onFirst: (sig) => `c1m: ${sig}: stopping every process and writing what was measured (again to kill at once)\n`,
    exitCode: EXIT.interrupted,
  });
  const { tracker } = session;
  try {
    const contenders = v['contenders'] as string[] | undefined;
    const outcome = await runSuite({
      entries,
      outDir: (v['outDir'] as string | undefined) ?? 'results',
      baseline,
      signal: session.signal,
      tracker,
      log: (line) => io.err(`${line}\n`),
      ...(contenders !== undefined ? { contenders } : {}),
    });
    const written = outcome.items.flatMap((i) => (i.loaded === null ? [] : [i.loaded]));
    if (written.length > 0) io.out(`\n${suiteTable(written, baseline)}\n`);
    for (const item of outcome.items) {
      if (item.loaded !== null) io.out(`result: ${item.loaded.file}${item.html !== null ? ` (report: ${item.html})` : ''}\n`);
      if (item.error !== null) io.out(`${item.entry.scenario}: ${item.error.split('\n')[0] ?? ''}\n`);
    }
    if (md !== undefined && written.length > 0) writeMarkdown(md, written, baseline, io);
    if (outcome.interrupted) return EXIT.interrupted;
    if (written.length === 0) return EXIT.failed;
    return outcome.items.every((i) => i.ok) ? EXIT.ok : EXIT.someRunsFailed;
  } finally {
    const left = session.end();
    if (left.length > 0) io.err(`c1m: killed leftover process(es) ${left.join(', ')}\n`);
  }
}
