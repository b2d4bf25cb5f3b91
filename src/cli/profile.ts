// `c1m profile <scenario> --contender X --tool T`: the scenario gives the protocol and the load
// (driver, load mode, connections, duration); the contender runs under the tool; the path of
// the file to open goes to stdout, progress to stderr.

import { relative } from 'node:path';
import { contenderNames, getContender } from '../contenders/index.js';
import type { DriverName } from '../drivers/driver-contract.js';
import { paramRange } from '../limits.js';
import { DEFAULT_ANALYSIS_TIMEOUT_MS, DEFAULT_EXIT_TIMEOUT_MS, DEFAULT_FREQUENCY_HZ, defaultProfileDir, profileContender } from '../profile/profile.js';
import { PROFILE_TOOLS, type CallGraph, type ProfileResult, type ProfileTool } from '../profile/profile-contract.js';
import { commandSession } from '../runner/processes.js';
import { limitsOf, loadOf, MAIN_GROUP, phasesOf, resolveParams, type Scenario } from '../runner/scenario.js';
import { EXIT, type ExitCode } from './exit.js';
import { flagHelp, scenarioCommand, UsageError, type FlagSpec } from './flags.js';
import type { Io } from './io.js';

export const PROFILE_FLAGS: Record<string, FlagSpec> = {
  contender: { type: 'string', help: `contender to profile (${contenderNames().join(', ')})` },
  tool: { type: 'string', choices: PROFILE_TOOLS, help: 'profiler' },
  out: { type: 'string', help: 'output directory (default results/profiles/<scenario>/<contender>/<tool>-<UTC timestamp>)' },
  callGraph: { type: 'string', choices: ['fp', 'dwarf'], help: 'perf: stack walking (default dwarf; fp for net)' },
  frequency: { ...paramRange('profileFrequencyHz'), help: 'perf: samples per second', default: DEFAULT_FREQUENCY_HZ },
  exitTimeout: { type: 'number', min: 1, max: 3600, help: 'seconds the contender may take to exit after SIGINT', default: DEFAULT_EXIT_TIMEOUT_MS / 1000 },
  analysisTimeout: { type: 'number', min: 1, max: 3600, help: "seconds for the profiler's own work after the exit", default: DEFAULT_ANALYSIS_TIMEOUT_MS / 1000 },
  json: { type: 'bool', help: 'print profile.json on stdout (paths then go to stderr)' },
};

/** Standard scenario parameters a profile does not use: one process, one pass. */
const UNUSED = ['contenders', 'reps', 'warmup', 'workers'];

const TOOL_HELP = `tools:
  doctor        clinic doctor: CPU, memory, event-loop delay and handles over time, with a diagnosis (HTML)
  flame         clinic flame: a flame graph of JavaScript and V8 from V8's sampling profiler (HTML)
  heapprofiler  clinic heapprofiler: where the JavaScript heap was allocated, as a flame graph (HTML)
  bubbleprof    clinic bubbleprof: where time passes between asynchronous operations (HTML)
  cpu-prof      node --cpu-prof: a .cpuprofile for Chrome DevTools or VS Code, plus a flame graph SVG
  heap-prof     node --heap-prof: a .heapprofile (sampled allocations), plus a flame graph SVG
  perf          perf record (cpu-clock) with --perf-basic-prof: native, kernel and JavaScript frames
                side by side in one flame graph SVG and folded stacks`;

function usage(scenario: Scenario | null): string {
  const lines = [
    'usage: c1m profile <scenario name | path> --contender <name> --tool <tool> [flags]',
    '',
    "Starts the contender under the profiler, waits until it is ready, applies the scenario's load",
    '(its protocol, driver and load mode; --connections connections, then --duration seconds of load)',
    'with c1m\'s own driver, stops the contender with SIGINT so that it exits normally, and prints the',
    'path of the file to open. Every step is bounded; Ctrl-C stops the load early and still writes',
    'the profile (twice: kills everything at once).',
    '',
    TOOL_HELP,
    '',
    'flags:',
    ...flagHelp(PROFILE_FLAGS),
  ];
  if (scenario === null) lines.push('', 'plus --protocol, --connections, --duration, --driver, --pin and the scenario\'s own flags: c1m profile <scenario> --help');
  else lines.push('', `parameters of ${scenario.name} (${scenario.description}); --${UNUSED.join(', --')} are not used:`, ...flagHelp(scenario.paramSpecs));
  lines.push('', 'exit: 0 written, 1 failed, 2 usage, 4 the tool or contender cannot run here, 130 interrupted (profile written)');
  return `${lines.join('\n')}\n`;
}

function show(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel === '' || rel.startsWith('..') ? path : rel;
}

/** The lines printed after a profile: where it is, what to open, and the costliest frames. */
export function formatProfileResult(r: ProfileResult): string {
  const lines: string[] = [];
  if (r.status !== 'ok') {
    lines.push(`profile ${r.status}: ${r.reason ?? ''}`);
    lines.push(`details: ${show(r.dir)}/profile.json`);
    return `${lines.join('\n')}\n`;
  }
  lines.push(`profile: ${show(r.dir)}/`);
  if (r.top !== null && r.top.totalValue > 0) {
    const unit = r.top.unit;
    lines.push('', `top frames by self ${unit === 'bytes' ? 'bytes' : 'time'} (of ${r.top.totalValue.toLocaleString('en-US')} ${unit}):`);
    for (const f of r.top.self.slice(0, 10)) lines.push(`  ${f.selfPct.toFixed(1).padStart(5)}%  ${f.name}`);
    lines.push('', `top frames by total ${unit === 'bytes' ? 'bytes' : 'time'} (the frame and what it called):`);
    for (const f of r.top.total.slice(0, 10)) lines.push(`  ${f.totalPct.toFixed(1).padStart(5)}%  ${f.name}`);
    lines.push('');
  }
  for (const w of r.warnings) lines.push(`warning: ${w}`);
  if (r.tool === 'cpu-prof' || r.tool === 'heap-prof') lines.push(`flame graph: ${show(r.dir)}/${r.tool === 'cpu-prof' ? 'cpu' : 'heap'}-flamegraph.svg`);
  lines.push(`open: ${r.open === null ? '(nothing)' : show(r.open)}`);
  return `${lines.join('\n')}\n`;
}

export async function cmdProfile(argv: readonly string[], io: Io): Promise<ExitCode> {
  const started = await scenarioCommand(argv, PROFILE_FLAGS, { command: 'c1m profile', usage }, io);
  if ('exit' in started) return started.exit;
  const { scenario, args } = started;
  const { contender, tool, out, callGraph, frequency, exitTimeout, analysisTimeout, json, ...given } = args.values;
  if (typeof contender !== 'string') throw new UsageError(`c1m profile: --contender is required (${contenderNames().join(', ')})`);
  let notProfilable: string | undefined;
  try {
    notProfilable = getContender(contender).notProfilable;
  } catch (err) {
    throw new UsageError(`c1m profile: ${(err as Error).message}`);
  }
  if (notProfilable !== undefined) throw new UsageError(`c1m profile: ${notProfilable}`);
  if (typeof tool !== 'string') throw new UsageError(`c1m profile: --tool is required (${PROFILE_TOOLS.join(', ')})`);
  let params;
  try {
    params = resolveParams(scenario, given);
  } catch (err) {
    throw new UsageError(`c1m profile: ${(err as Error).message}`);
  }
  // A profile starts its contender and driver itself, in plain TCP: refused rather than profiled
  // without the TLS it was asked for.
  if (params.tls) throw new UsageError(`c1m profile: profiles run over plain TCP only; --tls (on by default in ${scenario.name === 'tls-handshake' ? 'tls-handshake' : 'this run'}) is not supported here: pass --tls false, or measure over TLS with c1m run`);
  const notes: string[] = [];
  for (const k of UNUSED) if (given[k] !== undefined) notes.push(`--${k} is not used by a profile (one contender process, one pass)`);
  let driver: DriverName = params.driver;
  if (driver !== 'native' && params.protocol !== 'http-hello') {
    if (given['driver'] !== undefined) throw new UsageError(`c1m profile: the ${driver} driver speaks HTTP only (http-hello); use --driver native for ${params.protocol}`);
    notes.push(`the scenario's ${driver} driver speaks HTTP only: the native driver applies the ${params.protocol} load`);
    driver = 'native';
  }
  // The main driver group's ramps (the scenario's `load`); other groups (open-loop rates,
  // stalled peers) are not replayed: a profile is one load on one process.
  const mainRamps = phasesOf(scenario, params).flatMap((ph) => (ph.kind === 'ramp' && (ph.group ?? MAIN_GROUP) === MAIN_GROUP ? [ph] : []));
  const peak = Math.max(0, ...mainRamps.map((ph) => ph.connections));
  const connections = given['connections'] !== undefined || peak === 0 ? params.connections : peak;
  const rates = mainRamps.flatMap((ph) => (ph.ratePerSec !== undefined ? [ph.ratePerSec] : []));
  const startedAt = new Date().toISOString();
  const outDir = typeof out === 'string' ? out : defaultProfileDir(scenario.name, contender, tool, startedAt);
  for (const n of notes) io.err(`c1m profile: ${n}\n`);

  const session = commandSession({
    log: io.err,
    onFirst: (sig) => `c1m profile: ${sig}: stopping the load; the profile is still written (again to kill everything at once)\n`,
    exitCode: EXIT.interrupted,
  });
  const { tracker } = session;
  let result: ProfileResult;
  try {
    result = await profileContender({
      scenario: scenario.name,
      contender,
      protocol: params.protocol,
      tool: tool as ProfileTool,
      driver,
      load: loadOf(scenario, params),
      limits: limitsOf(scenario, params),
      connections,
      connectRatePerSec: rates.length === 0 ? 0 : Math.max(...rates),
      durationSec: params.duration,
      outDir,
      pin: params.pin,
      ...(typeof callGraph === 'string' ? { callGraph: callGraph as CallGraph } : {}),
      ...(typeof frequency === 'number' ? { frequencyHz: frequency } : {}),
      ...(typeof exitTimeout === 'number' ? { exitTimeoutMs: Math.round(exitTimeout * 1000) } : {}),
      ...(typeof analysisTimeout === 'number' ? { analysisTimeoutMs: Math.round(analysisTimeout * 1000) } : {}),
      signal: session.signal,
      log: (line) => io.err(`${line}\n`),
      tracker,
    });
  } catch (err) {
    if (err instanceof RangeError || err instanceof TypeError) {
      io.err(`c1m profile: ${err.message}\n`);
      return EXIT.failed;
    }
    throw err;
  } finally {
    const left = session.end();
    if (left.length > 0) io.err(`c1m profile: killed leftover process(es) ${left.join(', ')}\n`);
  }
  if (json === true) {
    io.out(`${JSON.stringify(result, null, 2)}\n`);
    io.err(formatProfileResult(result));
  } else {
    io.out(formatProfileResult(result));
  }
  if (result.status === 'unavailable') return EXIT.unavailable;
  if (result.status === 'failed') return EXIT.failed;
  return result.interrupted ? EXIT.interrupted : EXIT.ok;
}
