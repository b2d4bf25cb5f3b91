// The runner: preflight, then every contender × repetition interleaved (A B C A B C …), each
// in fresh processes (a Session, session.ts): start the contender, check it answers correctly
// (primer), start the driver(s), walk the phases sampling the kernel's own accounting, stop
// everything, and put the lot into one result. A run that fails is recorded with its reason
// and the next one goes.

import { execFileSync } from 'node:child_process';
import { errorMessage as message } from '../checks.js';
import {
  ContenderUnavailableError,
  contenderNames,
  DEFAULT_HOST,
  DEFAULT_SHUTDOWN_MS,
  getContender,
  resolveLimits,
  speaks,
  type Protocol,
} from '../contenders/index.js';
import { DriverUnavailableError } from '../drivers/driver-contract.js';
import { fitMemory } from '../results/fit.js';
import type { ResultRecord, RunRecord } from '../results/record.js';
import { RESULT_SCHEMA, type Measured } from '../results/schema.js';
import { compareRuns, summarizeRun } from '../results/summary.js';
import { readSystem, type SystemReadings } from '../system/limits.js';
import { fmtInt } from '../system/plain-format.js';
import { collectEnv } from './env.js';
import { Guard, Interrupted, memoryFloorBytes, ProcessDied } from './guard.js';
import { planScenario, PreflightRefusal, type ScenarioPlan } from './plan.js';
import { ProcessTracker } from './processes.js';
import { describePhase, Progress, runSeconds } from './progress.js';
import {
  groupPeaks,
  groupsOf,
  limitsOf,
  loadOf,
  MAIN_GROUP,
  peakConnections,
  phasesOf,
  type LoadSpec,
  type Params,
  type Phase,
  type Scenario,
  type ScenarioLimits,
} from './scenario.js';
import { Session } from './session.js';
import { runTls, type RunTls } from './tls.js';
import { summaryLine } from '../conform/summary.js';

export interface RunnerOptions {
  readonly scenario: Scenario;
  /** Effective parameters (resolveParams). */
  readonly params: Params;
  /** System readings for preflight and `env`; read from this machine when not given. */
  readonly readings?: SystemReadings;
  /** Aborting winds the run down: processes stopped, the result marked interrupted. */
  readonly signal?: AbortSignal;
  /** Progress and pid lines (stderr in the CLI). */
  readonly log?: (line: string) => void;
  /** Records every process started; the CLI shares it with its SIGINT handler. */
  readonly tracker?: ProcessTracker;
  /** Contender ratios are against; default "net". */
  readonly baseline?: string;
  /** Interval of progress lines during long phases; default 2000 ms. */
  readonly progressEveryMs?: number;
}

export interface RunnerOutcome {
  result: ResultRecord;
  interrupted: boolean;
  plan: ScenarioPlan;
}

/** "all" expands to every registered contender; names are checked (RangeError for unknown ones). */
export function expandContenders(list: readonly string[]): string[] {
  const out: string[] = [];
  for (const name of list) {
    if (name === 'all') out.push(...contenderNames());
    else {
      getContender(name);
      out.push(name);
    }
  }
  return [...new Set(out)];
}

/**
 * The order of runs: every contender once per repetition, interleaved (A B C A B C …), so that
 * drift on the machine (thermal, other load) spreads over all contenders instead of one.
 */
export function schedule(contenders: readonly string[], reps: number): Array<{ contender: string; rep: number }> {
  const out: Array<{ contender: string; rep: number }> = [];
  for (let rep = 0; rep < reps; rep++) for (const contender of contenders) out.push({ contender, rep });
  return out;
}

/** True when `name` is an executable on PATH. */
export function onPath(name: string): boolean {
  try {
    execFileSync('which', [name], { stdio: 'ignore', timeout: 5000 });
    return true;
  } catch {
    return false;
  }
}

/** The signal that aborted the run (the CLI aborts with the signal's name), for the record. */
function signalName(signal: AbortSignal | undefined): string {
  const reason: unknown = signal?.reason;
  return typeof reason === 'string' && /^SIG[A-Z]+$/.test(reason) ? reason : 'SIGINT';
}

/** A run's timeline keeps at most this many samples (evenly thinned, the last kept). */
export const MAX_TIMELINE_POINTS = 2000;

/** TIME_WAIT sockets at a run's start worth a warning (each holds kernel memory until it expires). */
const TIME_WAIT_WARN = 1000;

export function thinTimeline<T extends { tMs: number[]; connections: Measured[]; cpuPct: Measured[]; rssBytes: Measured[] }>(t: T, max: number): T {
  const n = t.tMs.length;
  if (n <= max) return t;
  const keep = Array.from({ length: max }, (_, i) => Math.round((i * (n - 1)) / (max - 1)));
  const pick = <V>(a: V[]): V[] => keep.map((i) => a[i] as V);
  return { ...t, tMs: pick(t.tMs), connections: pick(t.connections), cpuPct: pick(t.cpuPct), rssBytes: pick(t.rssBytes) };
}

interface Context {
  scenario: Scenario;
  params: Params;
  phases: readonly Phase[];
  load: LoadSpec;
  /** Driver processes of the main group. */
  mainProcesses: number;
  /** Other driver groups: load and process count. */
  groups: Map<string, { load: LoadSpec; processes: number }>;
  limits: ScenarioLimits;
  plan: ScenarioPlan;
  guardSignal: AbortSignal | undefined;
  /** The memory watchdog's floor for MemAvailable (see Guard). */
  memFloorBytes: number;
  tracker: ProcessTracker;
  progress: Progress;
  /** The run's TLS (--tls), null without it. */
  tls: RunTls | null;
}

/**
 * A ws-broadcast load split over processes must still measure what one process would:
 * - Rooms live in one contender worker each, and connection i goes to worker i mod W and joins
 *   room i mod R: a room stays whole only when W divides R. Otherwise every publish reaches a
 *   fraction of its room (measured: half the deliveries with 3 rooms on 2 workers).
 * - The publish rate is split over the driver processes by their publishers; a process with none
 *   would schedule publishes it cannot send, every one dropped and timed at its whole wait.
 * Refused before anything starts, with the fix.
 */
function checkBroadcastSplit(loads: ReadonlyArray<readonly [string, LoadSpec, number]>, workers: number): void {
  for (const [name, load, processes] of loads) {
    const rooms = load.rooms;
    const where = name === MAIN_GROUP ? 'the load' : `group ${name}`;
    if (rooms !== undefined && workers > 1 && rooms % workers !== 0) {
      throw new PreflightRefusal(
        `preflight: ${where} spreads ${rooms} rooms over ${workers} contender workers, which would split each room between workers (a publish reaches only its worker's members)`,
        `fix: --rooms a multiple of ${workers}, or fewer connections so that one worker holds them`,
      );
    }
    if (load.mode === 'open' && load.publishers !== undefined && load.publishers < processes) {
      throw new PreflightRefusal(
        `preflight: ${where} has ${load.publishers} publishers for ${processes} driver processes; a process without one could not send its share of the rate`,
        `fix: --publishers ${processes} or more`,
      );
    }
  }
}

/** Runs a scenario and returns the result (not yet written). Throws PreflightRefusal or RangeError before anything starts. */
export async function runScenario(o: RunnerOptions): Promise<RunnerOutcome> {
  const { scenario, params } = o;
  const log = o.log ?? (() => {});
  const protocol = params.protocol;
  const phases = phasesOf(scenario, params);
  const load = loadOf(scenario, params);
  const groupLoads = groupsOf(scenario, params);
  const limits = limitsOf(scenario, params);
  // Bad limits are refused here, before any process starts.
  resolveLimits({ ...limits });
  const contenders = expandContenders(params.contenders);
  if (contenders.length === 0) throw new RangeError('no contenders to run');
  const readings = o.readings ?? readSystem();
  if (params.pin) {
    if (!onPath('taskset')) throw new RangeError('--pin needs taskset (util-linux) on PATH');
    if (readings.cpus < 2) throw new RangeError(`--pin puts the contender on CPU 0 and the driver on CPU 1, but only ${readings.cpus} CPU is available`);
  }

  // The certificate is made once for the whole run and removed when it ends, whatever happens.
  const tls = runTls(params);
  try {
    const speaking = contenders.filter((c) => speaks(c, protocol, tls?.server) === true);
    const rates = phases.map((ph) => (ph.kind === 'ramp' ? (ph.ratePerSec ?? 0) : 0));
    const plan = planScenario({
      contenders: speaking.length > 0 ? speaking : contenders,
      protocol,
      connections: peakConnections(phases),
      connectRatePerSec: rates.some((r) => r === 0) ? 0 : Math.max(0, ...rates),
      readings,
      tls: tls !== null,
      tlsTickets: params.tlsTickets,
      workers: params.workers,
      driver: params.driver,
    });
    for (const w of plan.warnings) log(`c1m: preflight warning: ${w}`);
    if (plan.serverWorkers > 1 || plan.driverProcesses > 1) {
      log(`c1m: the fd limit splits the run: ${plan.serverWorkers} contender worker(s), ${plan.driverProcesses} driver process(es)`);
    }

    // Each other group gets the processes its own peak needs under the fd limit.
    const budget = plan.plans[0]?.fdBudgetPerProcess ?? 0;
    const peaks = groupPeaks(phases);
    const processesFor = (peak: number): number => (budget > 0 ? Math.max(1, Math.ceil(peak / budget)) : 1);
    const groups = new Map<string, { load: LoadSpec; processes: number }>();
    for (const [name, groupLoad] of Object.entries(groupLoads)) groups.set(name, { load: groupLoad, processes: processesFor(peaks.get(name) ?? 0) });

    const order = schedule(contenders, params.reps);

    const tracker = o.tracker ?? new ProcessTracker();
    const progress = new Progress(log, order.length, runSeconds(phases), o.progressEveryMs ?? 2000);
    const mainProcesses = groups.size > 0 ? processesFor(peaks.get(MAIN_GROUP) ?? 0) : plan.driverProcesses;
    checkBroadcastSplit([[MAIN_GROUP, load, mainProcesses], ...[...groups].map(([name, g]) => [name, g.load, g.processes] as const)], plan.serverWorkers);
    const ctx: Context = {
      scenario, params, phases, load, mainProcesses, groups, limits, plan, guardSignal: o.signal,
      memFloorBytes: memoryFloorBytes(readings.memTotalBytes), tracker, progress, tls,
    };
    const startedAt = new Date().toISOString();
    progress.start();

    const runs: RunRecord[] = [];
    const unavailable = new Map<string, string>();
    let interrupted = false;
    for (const [i, { contender, rep }] of order.entries()) {
      if (o.signal?.aborted) {
        interrupted = true;
        break;
      }
      progress.runStarted(i, contender, rep, params.reps);
      const cannot = speaks(contender, protocol, tls?.server);
      const skippedReason = cannot !== true ? cannot : unavailable.get(contender);
      if (skippedReason !== undefined) {
        runs.push(skippedRun(contender, protocol, params, rep, skippedReason));
        progress.runEnded(`skipped: ${skippedReason}`);
        continue;
      }
      const { run, interrupted: stopped } = await runOne(ctx, contender, rep);
      if (run.skipped) unavailable.set(contender, run.skipped);
      runs.push(run);
      progress.runEnded(run.ok ? 'done' : run.skipped ? `skipped: ${run.skipped}` : `not ok: ${run.error ?? ''}`);
      if (stopped) {
        interrupted = true;
        break;
      }
    }
    if (interrupted) log(`c1m: interrupted after ${runs.length} of ${order.length} runs`);

    const result: ResultRecord = {
      schema: RESULT_SCHEMA,
      scenario: scenario.name,
      params: { ...params, contenders },
      env: collectEnv(readings),
      startedAt,
      finishedAt: new Date().toISOString(),
      runs,
      comparisons: compareRuns(runs, o.baseline ?? 'net'),
      note: interrupted ? `Interrupted (${signalName(o.signal)}) after ${runs.length} of ${order.length} runs; the run in progress is recorded as not ok.` : null,
      interrupted,
      phases: [...phases],
      load,
      ...(groups.size > 0 ? { groups: groupLoads } : {}),
      limits,
      preflight: {
        serverWorkers: plan.serverWorkers,
        driverProcesses: plan.driverProcesses,
        sourceAddresses: plan.sourceAddresses.length,
        listenBacklog: plan.listenBacklog,
        warnings: [...plan.warnings],
      },
    };
    return { result, interrupted, plan };
  } finally {
    tls?.dispose();
  }
}

function skippedRun(contender: string, protocol: Protocol, params: Params, rep: number, reason: string): RunRecord {
  return { contender, protocol, driver: params.driver, rep, ok: false, error: null, skipped: reason, clientBound: null, workers: null, steps: [], summary: null };
}

/** One contender × repetition in fresh processes (a Session). Never throws: failures go into the run. */
async function runOne(ctx: Context, contender: string, rep: number): Promise<{ run: RunRecord; interrupted: boolean }> {
  const { params, plan, progress } = ctx;
  const protocol = params.protocol;
  const run: RunRecord = {
    contender,
    protocol,
    driver: params.driver,
    rep,
    ok: false,
    error: null,
    skipped: null,
    clientBound: null,
    workers: plan.serverWorkers,
    steps: [],
    summary: null,
  };
  const session = new Session({
    contender,
    protocol,
    guard: new Guard(ctx.guardSignal, ctx.memFloorBytes),
    tracker: ctx.tracker,
    onPhase: (ph) => progress.phase(describePhase(ph)),
    onTick: (connections, ops) => progress.tick(connections, ops),
    ...(ctx.tls !== null ? { tls: ctx.tls.target } : {}),
  });
  const kernel0 = session.kernel0;
  run.kernelBaseline = {
    slabBytes: kernel0.slabBytes,
    sockstatMemPages: kernel0.sockstat.tcpMemPages,
    tcpInUse: kernel0.sockstat.tcpInUse,
    tcpTw: kernel0.sockstat.tcpTw,
  };
  // Sockets in TIME_WAIT at the baseline (left by an earlier run's tool drivers or churn, or by
  // another program) expire within 60 s, during this run's steps: the kernel memory they free
  // makes its kernel growth read low (about 9 % per connection with 28,000 of them in idle-hold).
  const tw = kernel0.sockstat.tcpTw;
  if (tw !== null && tw >= TIME_WAIT_WARN) {
    session.warnings.push(`${fmtInt(tw)} TCP sockets were in TIME_WAIT when this run began; they expire within 60 s, during its steps, and the kernel memory they free makes its kernel figures (slab, TCP memory, kernel bytes per connection) read low`);
  }
  let interrupted = false;

  try {
    progress.phase('starting contender');
    const h = await session.startContender({
      options: {
        host: DEFAULT_HOST,
        workers: plan.serverWorkers,
        limits: { ...ctx.limits, backlog: plan.listenBacklog },
        stderr: 'pipe',
        // Dozens of Node processes starting at once on two cores take a while: the bound grows
        // with the count (measured: 51 workers missed a flat 15 s).
        readyTimeoutMs: startupBoundMs(plan.serverWorkers),
        shutdownMs: shutdownBoundMs(peakConnections(ctx.phases)),
        // Only exposes global.gc (same for every contender): memory steps collect before sampling.
        execArgv: ['--expose-gc'],
        ...(params.pin ? { wrap: ['taskset', '-c', '0'] } : {}),
        ...(ctx.tls !== null ? { tls: ctx.tls.server } : {}),
      },
      boundMs: startupBoundMs(plan.serverWorkers) + 5_000,
    });
    if (session.limits !== undefined) run.limits = session.limits;
    if (h.tls !== null) {
      run.tls = {
        library: h.tls.library,
        tickets: h.tls.tickets,
        handshakeTimeoutMs: h.tls.handshakeTimeoutMs,
        ...(h.tls.sharedTicketKey !== undefined ? { sharedTicketKey: h.tls.sharedTicketKey } : {}),
        ...(h.tls.note !== undefined ? { note: h.tls.note } : {}),
      };
    }

    progress.phase(`primer: checking ${protocol} answers on ${h.ports.length} port(s)`);
    await session.primer();
    progress.phase(`conformance: the quick ${protocol} cases`);
    const conformance = await session.checkConformance();
    run.conformance = conformance;
    progress.phase(`conformance: ${summaryLine(conformance)}`);
    session.startSampler(ctx.scenario.sampleIntervalMs ?? 250);

    const groups = [{ name: MAIN_GROUP, load: ctx.load, processes: ctx.mainProcesses }, ...[...ctx.groups].map(([name, g]) => ({ name, ...g }))];
    const total = groups.reduce((a, g) => a + g.processes, 0);
    progress.phase(`starting ${total} ${params.driver} driver process(es)${ctx.groups.size > 0 ? ` in ${groups.length} groups` : ''}`);
    await session.startDrivers({
      driver: params.driver,
      groups,
      sourceAddresses: plan.sourceAddresses,
      options: {
        stderr: 'pipe',
        readyTimeoutMs: startupBoundMs(total),
        // A driver busy opening thousands of connections among a hundred busy processes can miss
        // a progress tick for a while; the phase bounds still apply.
        stallMs: 15_000 + 1_000 * total,
        ...(params.pin ? { cpu: 1 } : {}),
      },
      boundMs: startupBoundMs(total) + 5_000,
      ...(ctx.tls !== null ? { tls: ctx.tls.driver } : {}),
    });

    await session.walk(ctx.phases);
    run.ok = true;
  } catch (err) {
    const where = session.where;
    if (err instanceof ContenderUnavailableError) {
      run.skipped = err.kind === 'skipped' ? err.reason : `unavailable here: ${err.reason}`;
    } else if (err instanceof DriverUnavailableError) {
      run.error = `the ${params.driver} driver cannot run here: ${err.reason}`;
    } else if (err instanceof Interrupted || ctx.guardSignal?.aborted) {
      interrupted = true;
      run.error = `interrupted by ${signalName(ctx.guardSignal)} during ${where}`;
    } else {
      const dead = err instanceof ProcessDied ? err.tracked : session.guard.dead();
      run.error = dead ? `${dead.role} ${dead.name} (pid ${dead.pid}) exited during ${where}` : message(err);
    }
  } finally {
    const fast = interrupted || !run.ok;
    await session.teardown({ driversBoundMs: fast ? 2000 : 5000, stop: fast ? { killAfterMs: 1500 } : {} });
  }

  const stopReport = session.stopReport;
  const warnings = session.warnings;
  // A contender that died says how, from its exit status and the last words on its stderr.
  if (!run.ok && run.error !== null && stopReport !== undefined && !interrupted) {
    const dead = stopReport.workers.find((w) => run.error?.includes(`(pid ${w.pid})`));
    if (dead) {
      const how = dead.signal !== null ? `killed by ${dead.signal}` : `code ${dead.code}`;
      const last = dead.stderr?.trim().split('\n').filter(Boolean).slice(-1)[0];
      run.error = (run.error ?? '').replace(' exited during', ` exited (${how}) during`) + (last ? `; its last words: ${last.slice(0, 300)}` : '');
    }
  }
  // The drain is recorded for every contender that was stopped, whatever became of the run.
  if (stopReport !== undefined) run.drain = { cut: stopReport.drain.cut, boundMs: stopReport.drain.boundMs };
  if (stopReport !== undefined && run.ok) {
    for (const w of stopReport.workers) {
      if (w.killed) warnings.push(`contender worker ${w.worker} (pid ${w.pid}) did not stop within the bound and was killed`);
      else if (w.code !== 0) warnings.push(`contender worker ${w.worker} (pid ${w.pid}) exited with ${w.signal ?? `code ${w.code}`} on stop`);
    }
    const { cut, boundMs } = stopReport.drain;
    if (cut !== null && cut > 0) warnings.push(`the contender's drain cut ${cut} connection(s) still open after its ${boundMs} ms bound`);
  }

  run.clientBound = session.clientBound;
  run.steps = session.steps;
  if (run.steps.length > 0) run.summary = summarizeRun(run.steps, session.ramps.map((r) => r.ratePerSec), fitMemory(session.fitInputs, session.fitted));
  if (session.ramps.length > 0) run.ramps = session.ramps;
  if (warnings.length > 0) run.warnings = [...new Set(warnings)];
  if (session.timeline.tMs.length > 0) run.timeline = thinTimeline(session.timeline, MAX_TIMELINE_POINTS);
  return { run, interrupted };
}

/** How long n processes starting together may take to report ready. */
function startupBoundMs(n: number): number {
  return 15_000 + 1_000 * n;
}

/**
 * The drain bound grows with the connections: after a million clients close at once, the
 * workers still have a million FINs to read on two cores (measured: a flat 3 s left 12 of 51
 * epoll workers with connections open).
 */
function shutdownBoundMs(connections: number): number {
  return DEFAULT_SHUTDOWN_MS + Math.ceil(connections / 50);
}
