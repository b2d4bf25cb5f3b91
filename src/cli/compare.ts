// `c1m compare BASE NEW`: a regression gate for CI. BASE and NEW are result files, or folders
// holding one file per scenario (paired by scenario, then by parameters). Every figure the
// report compares gets NEW/BASE with its interval and a verdict; the exit code says whether any
// regressed beyond both its noise and --max-regression. The pairing and the verdicts live in
// src/report/gate.ts, the text in src/report/terminal.ts.

import { DEFAULT_MAX_REGRESSION_PCT, gatePair, GateRefusal, pairFiles, regressions, type GatePair } from '../report/gate.js';
import { renderGate } from '../report/terminal.js';
import { loadResults } from '../results/load.js';
import type { LoadedResult } from '../results/schema.js';
import { EXIT, type ExitCode } from './exit.js';
import { flagHelp, parseArgs, UsageError, type FlagSpec } from './flags.js';
import type { Io } from './io.js';

const COMPARE_FLAGS: Record<string, FlagSpec> = {
  maxRegression: {
    type: 'number',
    min: 0,
    max: 100,
    default: DEFAULT_MAX_REGRESSION_PCT,
    help: 'percent a figure may get worse, beyond its noise, before the gate fails',
  },
  baseline: {
    type: 'string',
    help: "compare each contender through its ratio to this contender in the same file (cancels the drift of the machine between BASE and NEW; that contender's own figures are not gated)",
  },
  allowParamDiff: { type: 'bool', help: 'compare files whose figure-shaping parameters differ (each difference is still printed)' },
};

const USAGE = `usage: c1m compare BASE NEW [flags]

A regression gate: BASE and NEW are result files, or folders with one file per scenario (paired by
scenario; several files of one scenario pair by their parameters). For every contender and
protocol with ok runs on both sides, each figure the report compares (bytes per connection, kernel
bytes per connection, connect rate, ops/s, ops per server CPU-second, p50 and p99 latency) gets
NEW/BASE: the ratio of medians over repetitions, with as interval the range of all cross ratios
min(NEW)/max(BASE) to max(NEW)/min(BASE), since the repetitions of two files do not pair.

Verdicts, read the way each figure should go (↑ higher is better, ↓ lower is better):
  better        the whole interval is on the better side of 1
  within noise  the interval contains 1
  worse         the whole interval is on the worse side of 1, but not beyond --max-regression
  regressed     worse, and even the interval's best case is more than --max-regression worse
                (NEW/BASE below 1 − PCT/100 for ↑, above 1 + PCT/100 for ↓)
  no interval   a single repetition on a side shows no noise: reported, never gated
  not measured  one side did not measure the figure

Files of different scenarios are refused, and so are files whose figure-shaping parameters differ
(connections, durations, rates, message size, depth, driver, protocol, workers, pinning, the
scenario's own) unless --allow-param-diff; which contenders ran and how many repetitions may differ.
Every difference is printed either way.

exit codes: 0 nothing regressed; 1 some figure regressed; 2 usage: a bad flag, a file that cannot
be read, different scenarios, a parameter that differs, nothing in common to compare.

flags:
${flagHelp(COMPARE_FLAGS).join('\n')}
`;

async function load(side: string, path: string, io: Io): Promise<LoadedResult[]> {
  let loaded;
  try {
    loaded = await loadResults([path]);
  } catch (err) {
    throw new UsageError(`c1m compare: ${side}: ${(err as Error).message}`);
  }
  for (const i of loaded.ignored) io.err(`c1m compare: ignored ${i.file}: ${i.reason}\n`);
  if (loaded.results.length === 0) throw new UsageError(`c1m compare: ${side}: no result files in ${path}`);
  return loaded.results;
}

export async function cmdCompare(argv: readonly string[], io: Io): Promise<ExitCode> {
  const args = parseArgs(argv, COMPARE_FLAGS, { command: 'c1m compare', maxPositionals: 2 });
  if (args.help) {
    io.out(USAGE);
    return EXIT.ok;
  }
  const [basePath, nextPath] = args.positionals;
  if (basePath === undefined || nextPath === undefined) {
    throw new UsageError('c1m compare: which two results? (c1m compare BASE NEW; see c1m compare --help)');
  }
  const maxRegressionPct = (args.values['maxRegression'] as number | undefined) ?? DEFAULT_MAX_REGRESSION_PCT;
  const anchor = args.values['baseline'] as string | undefined;
  const allowParamDiff = args.values['allowParamDiff'] === true;
  const base = await load('BASE', basePath, io);
  const next = await load('NEW', nextPath, io);
  const gated: GatePair[] = [];
  try {
    const pairing = pairFiles(base, next);
    for (const u of pairing.unmatched) io.err(`c1m compare: not compared, ${u}\n`);
    if (pairing.pairs.length === 0) throw new GateRefusal(`BASE and NEW share no scenario (BASE: ${names(base)}; NEW: ${names(next)})`);
    for (const p of pairing.pairs) gated.push(gatePair(p.base, p.next, { maxRegressionPct, anchor, allowParamDiff }));
  } catch (err) {
    if (err instanceof GateRefusal) throw new UsageError(`c1m compare: ${err.message}`);
    throw err;
  }
  io.out(renderGate(gated, { maxRegressionPct, anchor, width: io.columns }));
  if (gated.every((p) => p.rows.length === 0)) {
    io.err('c1m compare: no contender ran the same protocol in both BASE and NEW: nothing was compared\n');
    return EXIT.usage;
  }
  return regressions(gated).length > 0 ? EXIT.failed : EXIT.ok;
}

const names = (ls: readonly LoadedResult[]): string => [...new Set(ls.map((l) => l.result.scenario))].join(', ');
