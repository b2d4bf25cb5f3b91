#!/usr/bin/env node
// `c1m`: list scenarios, run one, check the machine first, serve a contender by hand, tune the
// kernel, and turn result files into reports. main() returns the exit code and runs only when
// this file is the entry point, so tests import it.
//
// Exit codes: 0 done; 1 failed (nothing written, or preflight refused); 2 usage (unknown flag,
// bad value); 3 `run` wrote a result in which some run is not ok; 130 interrupted (Ctrl-C).

import { realpathSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { contenderNames, DEFAULT_HOST, getContender, startContender } from './contenders/index.js';
import { defaultOf, paramRange } from './limits.js';
import { PROTOCOLS, type Protocol } from './wire/protocols.js';
import { loadResults } from './results/load.js';
import { renderHtml } from './report/html.js';
import { renderMarkdown } from './report/markdown.js';
import { renderTerminal } from './report/terminal.js';
import { readSystem } from './system/limits.js';
import { formatPreflight, planRun } from './system/preflight.js';
import { cmdProfile } from './profile/cli.js';
import { renderCapacityMarkdown } from './report/capacity.js';
import { formatTune, procSysctlIO, tuneApply, tuneRevert, tuneShow } from './system/tune.js';
import { flagHelp, parseArgs, UsageError, type FlagSpec } from './runner/args.js';
import { listScenarios, scenarioCommand } from './runner/catalog.js';
import { defaultResultPath, htmlPathFor, terminalSummary, writeHtmlReport, writeResult } from './runner/output.js';
import { PreflightRefusal } from './runner/plan.js';
import { commandSession, isSameProcess, ProcessTracker } from './runner/processes.js';
import { expandContenders, runScenario } from './runner/run.js';
import { cmdSuite } from './runner/suite-cli.js';
import { resolveParams, type ParamValue, type Scenario } from './runner/scenario.js';

export const EXIT = { ok: 0, failed: 1, usage: 2, someRunsFailed: 3, interrupted: 130 } as const;

export interface Io {
  out(text: string): void;
  err(text: string): void;
  /** Columns of stdout when it is a terminal. */
  columns?: number | undefined;
}

const processIo: Io = {
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
  columns: process.stdout.isTTY ? process.stdout.columns : undefined,
};

const USAGE = `c1m — a million-connection benchmark harness for Node.js on Linux

usage: c1m <command> [flags]   (c1m <command> --help for its flags)

  list          scenarios, with their protocols and parameters
  run           run a scenario; writes one result file and its HTML report
  suite         several scenarios (npm start: --quick), then one table of their headline figures
  preflight     what a run of N connections needs from this machine, with exact fixes
  serve         start a contender in the foreground until Ctrl-C
  tune          kernel settings for a million connections (show; --apply / --revert as root)
  report        terminal, markdown and HTML reports from result files
  profile       a contender under clinic, V8's profilers or perf while a scenario's load runs
`;

// ---- run ---------------------------------------------------------------------------------------

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

async function cmdRun(argv: readonly string[], io: Io): Promise<number> {
  const started = await scenarioCommand(argv, RUN_FLAGS, { command: 'c1m run', usage: runUsage, out: io.out, err: io.err, ok: EXIT.ok, failed: EXIT.failed });
  if ('exit' in started) return started.exit;
  const { scenario, args } = started;
  const { out, quick, json, baseline, ...given } = args.values;
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
    else io.out(terminalSummary(loaded, typeof baseline === 'string' ? baseline : 'net', io.columns));
    say(`result: ${path}\n`);
    say(htmlError === null ? `report: ${html}\n` : `report: not written (${htmlError})\n`);
    if (outcome.interrupted) return EXIT.interrupted;
    return result.runs.every((r) => r.ok || r.skipped) ? EXIT.ok : EXIT.someRunsFailed;
  } finally {
    // The runner stops everything it started; this is the net under it.
    const left = session.end();
    if (left.length > 0) io.err(`c1m: killed leftover process(es) ${left.join(', ')}\n`);
  }
}

// ---- list --------------------------------------------------------------------------------------

async function cmdList(argv: readonly string[], io: Io): Promise<number> {
  const args = parseArgs(argv, {}, { command: 'c1m list', maxPositionals: 0 });
  if (args.help) {
    io.out('usage: c1m list\n\nThe built-in scenarios (dist/scenarios/): name, description, protocols and parameters with defaults.\nRun one with c1m run <name>, or copy its file and run it by path.\n');
    return EXIT.ok;
  }
  const list = await listScenarios();
  if (list.length === 0) {
    io.err('c1m list: no scenarios found in dist/scenarios (build with npx tsc -p .)\n');
    return EXIT.failed;
  }
  for (const { name, scenario, error } of list) {
    if (scenario === null) {
      io.out(`${name}\n  cannot be loaded: ${error ?? ''}\n\n`);
      continue;
    }
    const p = scenario.paramSpecs;
    const d = (k: string): string => {
      const v = p[k]?.default;
      return Array.isArray(v) ? v.join(',') : String(v);
    };
    io.out(`${scenario.name} — ${scenario.description}\n`);
    io.out(`  protocols: ${scenario.protocols.join(', ')} · contenders: ${d('contenders')} · ${scenario.kind}\n`);
    io.out(`  defaults: --connections ${d('connections')} --duration ${d('duration')} --warmup ${d('warmup')} --reps ${d('reps')} --driver ${d('driver')}\n`);
    const own = Object.keys(scenario.params ?? {});
    if (own.length > 0) io.out(`  own: ${own.map((k) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} ${d(k)}`).join(' ')}\n`);
    io.out('\n');
  }
  return list.some((s) => s.scenario === null) ? EXIT.failed : EXIT.ok;
}

// ---- preflight ---------------------------------------------------------------------------------

/** What preflight and tune plan for unless told otherwise: the million c1m is named after. */
const PLAN_CONNECTIONS = 1_000_000;

export const PREFLIGHT_FLAGS = {
  connections: { ...paramRange('connections'), help: 'connections per side', default: PLAN_CONNECTIONS },
  contender: { type: 'string', help: 'contender (memory per connection differs)', default: 'epoll' },
  protocol: { type: 'string', choices: PROTOCOLS, help: 'protocol', default: 'tcp-echo' },
  workers: { ...paramRange('workers'), help: 'contender processes (default: as the fd limit needs)' },
  drivers: { ...paramRange('workers'), help: 'driver processes (default: as the fd limit needs)' },
} as const satisfies Record<string, FlagSpec>;

function cmdPreflight(argv: readonly string[], io: Io): number {
  const args = parseArgs(argv, PREFLIGHT_FLAGS, { command: 'c1m preflight', maxPositionals: 0 });
  if (args.help) {
    io.out(`usage: c1m preflight [flags]\n\nWhat a run needs from this machine (fds, ports, sysctls, memory, CPUs), each check OK, WARN or\nFAIL with the exact command that fixes it. Changes nothing. Exit 0 when feasible, 1 when not.\n\nflags:\n${flagHelp(PREFLIGHT_FLAGS).join('\n')}\n`);
    return EXIT.ok;
  }
  const v = args.values;
  const contender = (v['contender'] as string | undefined) ?? PREFLIGHT_FLAGS.contender.default;
  const plan = planRun({
    connections: (v['connections'] as number | undefined) ?? PREFLIGHT_FLAGS.connections.default,
    contender,
    protocol: (v['protocol'] as string | undefined) ?? PREFLIGHT_FLAGS.protocol.default,
    readings: readSystem(),
    ...(v['workers'] !== undefined ? { workers: v['workers'] as number } : {}),
    ...(v['drivers'] !== undefined ? { driverProcesses: v['drivers'] as number } : {}),
  });
  io.out(`${formatPreflight(plan)}\n`);
  return plan.feasible ? EXIT.ok : EXIT.failed;
}

// ---- serve -------------------------------------------------------------------------------------

export const SERVE_FLAGS = {
  protocol: { type: 'string', choices: PROTOCOLS, help: 'protocol to serve (required)' },
  port: { ...paramRange('port'), help: 'first port; worker i listens on port + i (0 = free ports)', default: defaultOf('port') },
  host: { type: 'string', help: 'address to listen on', default: DEFAULT_HOST },
  workers: { ...paramRange('workers'), help: 'worker processes', default: defaultOf('workers') },
} as const satisfies Record<string, FlagSpec>;

async function cmdServe(argv: readonly string[], io: Io): Promise<number> {
  const args = parseArgs(argv, SERVE_FLAGS, { command: 'c1m serve', maxPositionals: 1 });
  if (args.help) {
    io.out(`usage: c1m serve <contender> --protocol <name> [flags]\n\nStarts a contender in the foreground (the same processes c1m run starts), prints where it\nlistens, and serves until Ctrl-C, then drains and stops it. Contenders: ${contenderNames().join(', ')}.\n\nflags:\n${flagHelp(SERVE_FLAGS).join('\n')}\n`);
    return EXIT.ok;
  }
  const contender = args.positionals[0];
  if (contender === undefined) throw new UsageError(`c1m serve: which contender? (${contenderNames().join(', ')})`);
  try {
    getContender(contender);
  } catch (err) {
    throw new UsageError(`c1m serve: ${(err as Error).message}`);
  }
  const protocol = args.values['protocol'] as Protocol | undefined;
  if (protocol === undefined) throw new UsageError(`c1m serve: --protocol is required (${PROTOCOLS.join(', ')})`);
  const host = (args.values['host'] as string | undefined) ?? DEFAULT_HOST;
  const port = args.values['port'] as number | undefined;
  const workers = args.values['workers'] as number | undefined;
  let handle;
  try {
    // Absent flags stay absent: startContender fills in the defaults the help shows (the limits table's).
    handle = await startContender({ contender, protocol, host, ...(port !== undefined ? { port } : {}), ...(workers !== undefined ? { workers } : {}) });
  } catch (err) {
    if (err instanceof TypeError && /host/.test(err.message)) throw new UsageError(`c1m serve: ${err.message}`);
    io.err(`c1m serve: ${(err as Error).message}\n`);
    return EXIT.failed;
  }
  for (const w of handle.workers) io.out(`${contender} ${protocol} listening on ${host}:${w.port} (worker ${w.worker}, pid ${w.pid})\n`);
  io.out('serving until Ctrl-C\n');
  const tracked = handle.workers.map((w) => new ProcessTracker().add(w.pid, 'contender', `${contender}#${w.worker}`));
  const code = await new Promise<number>((resolve) => {
    const stop = (): void => {
      clearInterval(watch);
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve(EXIT.ok);
    };
    // A worker that dies on its own ends the serve with an error instead of serving half.
    const watch = setInterval(() => {
      const gone = tracked.find((t) => !isSameProcess(t));
      if (gone) {
        io.err(`c1m serve: worker pid ${gone.pid} exited on its own\n`);
        stop();
        resolve(EXIT.failed);
      }
    }, 500);
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  const report = await handle.stop();
  const cut = report.drain.cut === null ? 'not known' : String(report.drain.cut);
  io.err(`c1m serve: stopped (${report.workers.map((w) => `pid ${w.pid}: ${w.signal ?? `code ${w.code}`}${w.killed ? ', killed' : ''}`).join('; ')}); drain cut ${cut} connection(s), bound ${report.drain.boundMs} ms\n`);
  return code;
}

// ---- tune --------------------------------------------------------------------------------------

export const TUNE_FLAGS = {
  apply: { type: 'bool', help: 'write the settings that fall short (root; old values recorded for --revert)' },
  revert: { type: 'bool', help: 'restore the values recorded by --apply (root)' },
  connections: { ...paramRange('connections'), help: 'connections the settings should carry', default: PLAN_CONNECTIONS },
} as const satisfies Record<string, FlagSpec>;

function cmdTune(argv: readonly string[], io: Io): number {
  const args = parseArgs(argv, TUNE_FLAGS, { command: 'c1m tune', maxPositionals: 0 });
  if (args.help) {
    io.out(`usage: c1m tune [--apply | --revert] [--connections N]\n\nShows every kernel setting a million-connection run depends on, current against wanted, and why.\nChanges nothing unless --apply is given.\n\nflags:\n${flagHelp(TUNE_FLAGS).join('\n')}\n`);
    return EXIT.ok;
  }
  const { apply, revert } = args.values;
  const connections = (args.values['connections'] as number | undefined) ?? TUNE_FLAGS.connections.default;
  if (apply === true && revert === true) throw new UsageError('c1m tune: --apply and --revert exclude each other');
  try {
    if (apply === true) {
      const r = tuneApply({ io: procSysctlIO(), connections });
      if (r.changed.length === 0) io.out('nothing to change: every setting suffices\n');
      for (const c of r.changed) io.out(`changed ${c.key}: ${c.from} → ${c.to}\n`);
      if (r.changed.length > 0) io.out(`old values recorded in ${r.stateFile}; c1m tune --revert restores them\n`);
      return EXIT.ok;
    }
    if (revert === true) {
      const r = tuneRevert({ io: procSysctlIO() });
      if (!r.found) io.out(`nothing to revert (no ${r.stateFile})\n`);
      for (const c of r.restored) io.out(`restored ${c.key}: ${c.from} → ${c.to}\n`);
      return EXIT.ok;
    }
  } catch (err) {
    io.err(`c1m tune: ${(err as Error).message}\n`);
    return EXIT.failed;
  }
  io.out(`${formatTune(tuneShow(readSystem(), { connections }))}\n`);
  return EXIT.ok;
}

// ---- report ------------------------------------------------------------------------------------

const REPORT_FLAGS: Record<string, FlagSpec> = {
  html: { type: 'string', help: 'write the HTML report (self-contained, opens offline) here' },
  md: { type: 'string', help: 'write the markdown report here' },
  baseline: { type: 'string', help: 'contender the ratios are against', default: 'net' },
  capacityMd: { type: 'string', help: 'write the capacity table (connections held, time to establish, bytes per connection user/kernel, total memory) here' },
};

async function cmdReport(argv: readonly string[], io: Io): Promise<number> {
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
  io.out(renderTerminal(loaded.results, io.columns === undefined ? { baseline } : { baseline, width: io.columns }));
  const html = args.values['html'];
  if (typeof html === 'string') {
    writeFileSync(html, renderHtml(loaded.results, { baseline }));
    io.err(`report: ${html}\n`);
  }
  const md = args.values['md'];
  if (typeof md === 'string') {
    writeFileSync(md, renderMarkdown(loaded.results, { baseline }));
    io.err(`markdown: ${md}\n`);
  }
  const cap = args.values['capacityMd'];
  if (typeof cap === 'string') {
    writeFileSync(cap, renderCapacityMarkdown(loaded.results));
    io.err(`capacity table: ${cap}\n`);
  }
  return EXIT.ok;
}

// ---- main --------------------------------------------------------------------------------------

const COMMANDS: Record<string, (argv: readonly string[], io: Io) => number | Promise<number>> = {
  list: cmdList,
  run: cmdRun,
  suite: cmdSuite,
  preflight: cmdPreflight,
  serve: cmdServe,
  tune: cmdTune,
  report: cmdReport,
  profile: cmdProfile,
};

export async function main(argv: readonly string[], io: Io = processIo): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    io.out(USAGE);
    return command === undefined ? EXIT.usage : EXIT.ok;
  }
  const run = COMMANDS[command];
  if (run === undefined) {
    io.err(`c1m: unknown command "${command}"\n\n${USAGE}`);
    return EXIT.usage;
  }
  try {
    return await run(rest, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`${err.message}\n`);
      return EXIT.usage;
    }
    io.err(`c1m ${command}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return EXIT.failed;
  }
}

const entry = process.argv[1];
if (entry !== undefined && import.meta.url === pathToFileURL(realpathSync(entry)).href) {
  const code = await main(process.argv.slice(2));
  // Every child is stopped by now; exiting here keeps a stray handle from holding the CLI open.
  process.exit(code);
}
