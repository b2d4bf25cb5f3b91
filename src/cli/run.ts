// `c1m run <scenario>`: every contender × repetition interleaved, one result file and its HTML
// report; progress on stderr, the summary table (or with --json the result) on stdout.

import { summaryLine } from '../conform/summary.js';
import { renderCapacityMarkdown } from '../report/capacity.js';
import type { RunRecord } from '../results/record.js';
import { defaultResultPath, htmlPathFor, terminalSummary, writeAtomic, writeHtmlReport, writeResult } from '../runner/output.js';
import { PreflightRefusal } from '../runner/plan.js';
import { commandSession } from '../runner/processes.js';
import { expandContenders, runScenario } from '../runner/run.js';
import { resolveParams, type ParamValue, type Scenario } from '../runner/scenario.js';
import { EXIT, type ExitCode } from './exit.js';
import { flagHelp, scenarioCommand, UsageError, type FlagSpec } from './flags.js';
import type { Io } from './io.js';

const RUN_FLAGS: Record<string, FlagSpec> = {
  out: { type: 'string', help: 'result file (default results/<scenario>/<UTC timestamp>.json)' },
  quick: { type: 'bool', help: 'one repetition, measured phases of at most 2 s, warm-ups of at most 0.5 s (explicit flags win)' },
  json: { type: 'bool', help: 'print the result JSON on stdout (paths then go to stderr)' },
  baseline: { type: 'string', help: 'contender the ratios are against', default: 'net' },
  capacityMd: { type: 'string', help: 'write the capacity table (connections held, time to establish, bytes per connection user/kernel, total memory) here' },
};

function runUsage(scenario: Scenario | null): string {
  const lines = [
    'usage: c1m run <scenario name | path/to/scenario.js> [flags]',
    '',
    'Runs every contender × repetition interleaved (A B C A B C …), each in fresh processes, and',
    'writes one result file plus an HTML report beside it. Progress goes to stderr, the summary',
    'table to stdout. Ctrl-C stops every process and writes what was measured, marked interrupted.',
    '',
    'flags:',
    ...flagHelp(RUN_FLAGS),
  ];
  if (scenario === null) {
    lines.push('', 'plus the standard parameters (--contenders, --connections, --duration, --warmup, --workers,', '--driver, --reps, --pin, --protocol) and the scenario\'s own: c1m run <scenario> --help');
  } else {
    lines.push('', `parameters of ${scenario.name} (${scenario.description}):`, ...flagHelp(scenario.paramSpecs));
  }
  lines.push('', 'exit: 0 all runs ok (skips allowed), 1 failed or refused by preflight, 2 usage, 3 some runs not ok, 130 interrupted');
  return `${lines.join('\n')}\n`;
}

/** --quick: shorter defaults for a first look; values given explicitly are kept. */
function quickDefaults(s: Scenario, given: Record<string, ParamValue>): Record<string, ParamValue> {
  const out = { ...given };
  const num = (k: string): number => s.paramSpecs[k]?.default as number;
  out['reps'] ??= 1;
  out['duration'] ??= Math.min(num('duration'), 2);
  out['warmup'] ??= Math.min(num('warmup'), 0.5);
  return out;
}

/** One line per contender: what its quick conformance check found (the first repetition's). */
export function conformanceLines(runs: readonly RunRecord[]): string {
  const seen = new Set<string>();
  const lines: string[] = [];
  for (const r of runs) {
    if (r.conformance === undefined || seen.has(r.contender)) continue;
    seen.add(r.contender);
    lines.push(`conformance: ${r.contender} × ${r.protocol}: ${summaryLine(r.conformance)}`);
  }
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
}

export async function cmdRun(argv: readonly string[], io: Io): Promise<ExitCode> {
  const started = await scenarioCommand(argv, RUN_FLAGS, { command: 'c1m run', usage: runUsage }, io);
  if ('exit' in started) return started.exit;
  const { scenario, args } = started;
  const { out, quick, json, baseline, capacityMd, ...given } = args.values;
  let params;
  try {
    params = resolveParams(scenario, quick === true ? quickDefaults(scenario, given) : given);
  } catch (err) {
    throw new UsageError(`c1m run: ${(err as Error).message}`);
  }
  try {
    expandContenders(params.contenders);
  } catch (err) {
    throw new UsageError(`c1m run: ${(err as Error).message}`);
  }
  if (params.driver !== 'native' && params.protocol !== 'http-hello') {
    throw new UsageError(`c1m run: the ${params.driver} driver speaks HTTP only (http-hello); use --driver native for ${params.protocol}`);
  }

  const session = commandSession({
    log: io.err,
    onFirst: (sig) => `c1m: ${sig}: stopping every process and writing what was measured (again to kill at once)\n`,
    exitCode: EXIT.interrupted,
  });
  const { tracker } = session;
  try {
    let outcome;
    try {
      outcome = await runScenario({
        scenario,
        params,
        signal: session.signal,
        tracker,
        baseline: typeof baseline === 'string' ? baseline : 'net',
        log: (line) => io.err(`${line}\n`),
      });
    } catch (err) {
      if (err instanceof PreflightRefusal) {
        io.err(`${err.text}\n\nc1m run: refused: ${err.message}\n`);
        return EXIT.failed;
      }
      if (err instanceof RangeError || err instanceof TypeError) {
        io.err(`c1m run: ${err.message}\n`);
        return EXIT.failed;
      }
      throw err;
    }
    const { result } = outcome;
    const path = typeof out === 'string' ? out : defaultResultPath(scenario.name, result.startedAt);
    const loaded = writeResult(result, path);
    const html = htmlPathFor(path);
    let htmlError: string | null = null;
    try {
      writeHtmlReport(loaded, html, typeof baseline === 'string' ? baseline : 'net');
    } catch (err) {
      htmlError = (err as Error).message;
    }
    const say = json === true ? io.err : io.out;
    if (json === true) io.out(`${JSON.stringify(result, null, 2)}\n`);
    else {
      io.out(terminalSummary(loaded, typeof baseline === 'string' ? baseline : 'net', io.columns));
      io.out(conformanceLines(result.runs));
    }
    say(`result: ${path}\n`);
    say(htmlError === null ? `report: ${html}\n` : `report: not written (${htmlError})\n`);
    if (typeof capacityMd === 'string') {
      writeAtomic(capacityMd, renderCapacityMarkdown([loaded]));
      say(`capacity table: ${capacityMd}\n`);
    }
    if (outcome.interrupted) return EXIT.interrupted;
    return result.runs.every((r) => r.ok || r.skipped) ? EXIT.ok : EXIT.someRunsFailed;
  } finally {
    // The runner stops everything it started; this is the net under it.
    const left = session.end();
    if (left.length > 0) io.err(`c1m: killed leftover process(es) ${left.join(', ')}\n`);
  }
}
