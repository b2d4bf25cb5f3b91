// The runner: preflight, then every contender × repetition interleaved (A B C A B C …), each
// in fresh processes: start the contender, check it answers correctly (primer), start the
// driver(s), walk the phases sampling the kernel's own accounting, stop everything, and put
// the lot into one result. A run that fails is recorded with its reason and the next one goes.

import { execFileSync } from 'node:child_process';
import { errorMessage as message } from '../checks.js';
import { verifyProtocol } from '../wire/clients/verify.js';
import {
  ContenderUnavailableError,
  contenderNames,
  DEFAULT_HOST,
  DEFAULT_SHUTDOWN_MS,
  getContender,
  resolveLimits,
  speaks,
  startContender,
  type ContenderHandle,
  type ContenderStats,
  type Protocol,
  type StopReport,
} from '../contenders/index.js';
import type { EffectiveLimits } from '../contenders/types.js';
import { DriverUnavailableError, type DriverConfig, type DriverErrors, type RampResult, type RunResult } from '../drivers/types.js';
import { Histogram } from '../metrics/histogram.js';
import { sampleKernel, sampleProcesses, Sampler, type KernelSample, type ProcessesSample } from '../metrics/proc.js';
import { fitMemory } from '../results/fit.js';
import type { GivenUpRecord, GroupStepRecord, ReapRecord, ResultRecord, RunRecord, StepRecord } from '../results/record.js';
import { RESULT_SCHEMA, type Latency, type Measured, type Step } from '../results/schema.js';
import { compareRuns, summarizeRun } from '../results/summary.js';
import { readSystem, type SystemReadings } from '../system/limits.js';
import { DEFAULT_CONNECT_RATE } from '../system/preflight.js';
import { DriverGroup } from './drivers.js';
import { collectEnv } from './env.js';
import { Guard, Interrupted, memoryFloorBytes, ProcessDied, RunFailure } from './guard.js';
import { planScenario, type ScenarioPlan } from './plan.js';
import { killTracked, ProcessTracker, type Tracked } from './processes.js';
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

/** The given-up counts a driver reported in its extra figures, or undefined when it has none. */
export function givenUpOf(extra: Readonly<Record<string, number>>): GivenUpRecord | undefined {
  const { dropped, timedOut, lost, unanswered } = extra;
  if (dropped === undefined || timedOut === undefined || lost === undefined || unanswered === undefined) return undefined;
  return { dropped, timedOut, lost, unanswered };
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

/** The native driver's WebSocket handshake timeout: the last handshake of a ramp may take that long. */
const RAMP_SLACK_MS = 30_000;
const ZERO_ERRORS: DriverErrors = { connect: 0, read: 0, write: 0, timeout: 0, protocol: 0 };

function addErrors(a: DriverErrors, b: DriverErrors | undefined): DriverErrors {
  if (b === undefined) return a;
  return { connect: a.connect + b.connect, read: a.read + b.read, write: a.write + b.write, timeout: a.timeout + b.timeout, protocol: a.protocol + b.protocol };
}

function latencyOf(r: RunResult): Latency | null {
  if (r.latency === null) return null;
  const h = Histogram.fromJSON(r.latency);
  if (h.count === 0) return null;
  const s = h.summary();
  return { p50: s.p50, p90: s.p90, p99: s.p99, p999: s.p999, max: s.max };
}

/** How far a kernel figure moved since the baseline; null when either was not read. */
function change(now: number | null, base: number | null): Measured {
  return now === null || base === null ? null : now - base;
}

function growth(now: number | null, base: number | null): Measured {
  const d = change(now, base);
  // Slab and socket counts move with everything else on the machine; growth below the baseline
  // is noise, recorded as none (the fit takes the change before this floor, so it is not biased by it).
  return d === null ? null : Math.max(0, d);
}

function cpuMs(a: ProcessesSample, b: ProcessesSample): { user: Measured; sys: Measured } {
  const u0 = a.total.cpuUserMs;
  const u1 = b.total.cpuUserMs;
  const s0 = a.total.cpuSysMs;
  const s1 = b.total.cpuSysMs;
  if (u0 === null || u1 === null || s0 === null || s1 === null || b.missing.length > 0) return { user: null, sys: null };
  return { user: Math.max(0, u1 - u0), sys: Math.max(0, s1 - s0) };
}

/** The signal that aborted the run (the CLI aborts with the signal's name), for the record. */
function signalName(signal: AbortSignal | undefined): string {
  const reason: unknown = signal?.reason;
  return typeof reason === 'string' && /^SIG[A-Z]+$/.test(reason) ? reason : 'SIGINT';
}

/** A run's timeline keeps at most this many samples (evenly thinned, the last kept). */
export const MAX_TIMELINE_POINTS = 2000;

export function thinTimeline<T extends { tMs: number[]; connections: Measured[]; cpuPct: Measured[]; rssBytes: Measured[] }>(t: T, max: number): T {
  const n = t.tMs.length;
  if (n <= max) return t;
  const keep = Array.from({ length: max }, (_, i) => Math.round((i * (n - 1)) / (max - 1)));
  const pick = <V>(a: V[]): V[] => keep.map((i) => a[i] as V);
  return { ...t, tMs: pick(t.tMs), connections: pick(t.connections), cpuPct: pick(t.cpuPct), rssBytes: pick(t.rssBytes) };
}

/** Bounds `p` by ms (resolving undefined on timeout), for cleanup that must not hang. */
function bounded<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p.catch(() => undefined), new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), ms)))]).finally(() => clearTimeout(timer));
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

  const speaking = contenders.filter((c) => speaks(c, protocol) === true);
  const rates = phases.map((ph) => (ph.kind === 'ramp' ? (ph.ratePerSec ?? 0) : 0));
  const plan = planScenario({
    contenders: speaking.length > 0 ? speaking : contenders,
    protocol,
    connections: peakConnections(phases),
    connectRatePerSec: rates.some((r) => r === 0) ? 0 : Math.max(0, ...rates),
    readings,
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
  const ctx: Context = {
    scenario, params, phases, load, mainProcesses, groups, limits, plan, guardSignal: o.signal,
    memFloorBytes: memoryFloorBytes(readings.memTotalBytes), tracker, progress,
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
    const cannot = speaks(contender, protocol);
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
}

function skippedRun(contender: string, protocol: Protocol, params: Params, rep: number, reason: string): RunRecord {
  return { contender, protocol, driver: params.driver, rep, ok: false, error: null, skipped: reason, clientBound: null, workers: null, steps: [], summary: null };
}

interface Timeline {
  tMs: number[];
  connections: Measured[];
  cpuPct: Measured[];
  rssBytes: Measured[];
  marks: Array<{ tMs: number; label: string }>;
}

/** One contender × repetition in fresh processes. Never throws: failures go into the run. */
async function runOne(ctx: Context, contender: string, rep: number): Promise<{ run: RunRecord; interrupted: boolean }> {
  const { params, plan, tracker, progress } = ctx;
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
  const guard = new Guard(ctx.guardSignal, ctx.memFloorBytes);
  const warnings: string[] = [];
  const ramps: NonNullable<RunRecord['ramps']> = [];
  // What the memory fits read, one per step (the step's figures with the kernel's growth before
  // its floor at 0), and the steps the fits use: a measure with fit: false and a reap stay out.
  const fitInputs: Step[] = [];
  const fitted: number[] = [];
  const timeline: Timeline = { tMs: [], connections: [], cpuPct: [], rssBytes: [], marks: [] };
  // Connections each driver group holds now; their sum is the timeline's count.
  const held = new Map<string, number>();
  const current = (): number => [...held.values()].reduce((a, b) => a + b, 0);
  let where = 'start-up';
  let handle: ContenderHandle | null = null;
  const drivers = new Map<string, DriverGroup>();
  let sampler: Sampler | null = null;
  let samplerStart = 0;
  let stopReport: StopReport | undefined;
  let interrupted = false;
  let clientBound: boolean | null = null;

  const kernel0: KernelSample = sampleKernel();
  run.kernelBaseline = {
    slabBytes: kernel0.slabBytes,
    sockstatMemPages: kernel0.sockstat.tcpMemPages,
    tcpInUse: kernel0.sockstat.tcpInUse,
    tcpTw: kernel0.sockstat.tcpTw,
  };
  const contenderProcs: Tracked[] = [];

  try {
    progress.phase('starting contender');
    const starting = startContender({
      contender,
      protocol,
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
    });
    try {
      handle = await guard.wait(starting, startupBoundMs(plan.serverWorkers) + 5_000, 'contender start-up');
    } catch (err) {
      // The wait was cut short (Ctrl-C, timeout): if the contender still comes up, stop it then.
      starting.then((late) => void late.stop({ killAfterMs: 1500 }), () => {});
      throw err;
    }
    const h = handle;
    h.workers.forEach((w) => contenderProcs.push(tracker.add(w.pid, 'contender', `${contender}/${protocol}#${w.worker}`)));
    guard.watch(contenderProcs);
    const applied = h.workers[0]?.limits;
    if (applied !== undefined) run.limits = applied;

    where = 'the primer';
    progress.phase(`primer: checking ${protocol} answers on ${h.ports.length} port(s)`);
    for (const port of h.ports) {
      try {
        const joinByMessage = getContender(contender).joinByMessage;
        await guard.wait(verifyProtocol(protocol, { host: h.host, port }, 5000, { joinByMessage }), 15_000, 'the primer');
      } catch (err) {
        if (err instanceof Interrupted || err instanceof ProcessDied) throw err;
        throw new RunFailure(`primer: ${contender} answered ${protocol} wrongly on port ${port}, so it was not measured: ${message(err)}`);
      }
    }

    sampler = new Sampler({
      pids: h.pids,
      intervalMs: ctx.scenario.sampleIntervalMs ?? 250,
      kernel: false,
      fds: false,
      onSample: (pt) => {
        timeline.tMs.push(pt.t);
        timeline.connections.push(current());
        timeline.cpuPct.push(pt.cpuPercent);
        timeline.rssBytes.push(pt.processes.rssBytes);
      },
    });
    samplerStart = Date.now();
    sampler.start();
    const mark = (label: string): void => {
      timeline.marks.push({ tMs: Date.now() - samplerStart, label });
    };

    where = 'driver start-up';
    const wanted: Array<{ name: string; load: LoadSpec; processes: number }> = [
      { name: MAIN_GROUP, load: ctx.load, processes: ctx.mainProcesses },
      ...[...ctx.groups].map(([name, g]) => ({ name, ...g })),
    ];
    const total = wanted.reduce((a, g) => a + g.processes, 0);
    progress.phase(`starting ${total} ${params.driver} driver process(es)${ctx.groups.size > 0 ? ` in ${wanted.length} groups` : ''}`);
    const driverOpts = {
      stderr: 'pipe' as const,
      readyTimeoutMs: startupBoundMs(total),
      // A driver busy opening thousands of connections among a hundred busy processes can miss
      // a progress tick for a while; the phase bounds still apply.
      stallMs: 15_000 + 1_000 * total,
      ...(params.pin ? { cpu: 1 } : {}),
    };
    const starts = wanted.map((g) => {
      const config: DriverConfig = {
        driver: params.driver,
        protocol,
        targets: h.ports.map((port) => ({ host: h.host, port })),
        ...g.load,
        ...(plan.sourceAddresses.length > 0 ? { sourceAddresses: [...plan.sourceAddresses] } : {}),
      };
      return DriverGroup.start(config, g.processes, driverOpts);
    });
    const startingDrivers = Promise.all(starts);
    try {
      const started = await guard.wait(startingDrivers, startupBoundMs(total) + 5_000, 'driver start-up');
      started.forEach((d, i) => drivers.set(wanted[i]?.name ?? MAIN_GROUP, d));
    } catch (err) {
      // Whatever did start (now or later) is closed; a group that failed has closed its own.
      for (const p of starts) p.then((late) => void late.close(), () => {});
      throw err;
    }
    for (const [name, d] of drivers) {
      const label = name === MAIN_GROUP ? params.driver : `${params.driver}/${name}`;
      guard.watch(d.pids.map((pid, i) => tracker.add(pid, 'driver', `${label}#${i}`)));
      held.set(name, 0);
      d.onProgress((p) => {
        held.set(name, p.connections);
        progress.tick(current(), p.phase === 'run' ? p.ops : null);
      });
    }
    const group = (name: string | undefined): DriverGroup => {
      const d = drivers.get(name ?? MAIN_GROUP);
      if (d === undefined) throw new RunFailure(`no driver group ${JSON.stringify(name)}`);
      return d;
    };

    let errors: DriverErrors = { ...ZERO_ERRORS };
    const afterStep = (step: StepRecord, raw: Step, results: RunResult[], fit: boolean): void => {
      for (const r of results) {
        for (const w of r.warnings ?? []) warnings.push(w);
        errors = addErrors(errors, r.errors);
        clientBound = (clientBound ?? false) || r.clientBound;
      }
      step.errors = { ...errors };
      raw.errors = step.errors;
      errors = { ...ZERO_ERRORS };
      const reap = step.reap;
      if (reap !== undefined && reap.target > 0 && reap.ms === null) {
        warnings.push(`${step.label ?? 'a step'}: the server closed ${reap.closedByServer} of the ${reap.target} silent connections of ${reap.group} within ${Math.round(step.windowMs / 100) / 10} s`);
      }
      run.steps.push(step);
      fitInputs.push(raw);
      if (fit) fitted.push(run.steps.length - 1);
    };
    for (const [i, ph] of ctx.phases.entries()) {
      guard.check();
      where = `phase ${i + 1} (${describePhase(ph)})`;
      progress.phase(describePhase(ph));
      mark(describePhase(ph));
      switch (ph.kind) {
        case 'ramp': {
          const name = ph.group ?? MAIN_GROUP;
          const d = group(name);
          const rate = ph.ratePerSec ?? 0;
          // Three times the time the ramp should take (at preflight's default rate when unpaced),
          // plus a WebSocket handshake timeout: the connect window slows a ramp the server cannot
          // keep up with, and that is measured, not cut short. The driver's own bound (timeoutMs +
          // its margin) fires before the guard's and says more.
          const expectedMs = (Math.abs(ph.connections - (held.get(name) ?? 0)) / (rate > 0 ? rate : DEFAULT_CONNECT_RATE)) * 1000;
          const timeoutMs = ph.timeoutMs ?? Math.ceil(Math.max(10_000, 3 * expectedMs + RAMP_SLACK_MS));
          const r: RampResult = await guard.wait(d.ramp(ph.connections, rate, timeoutMs), timeoutMs + 15_000, where);
          // A driver that cannot hold idle connections probes them and lets go (extra.held = 0).
          held.set(name, r.extra?.['held'] === 0 ? 0 : r.established);
          for (const w of r.warnings ?? []) warnings.push(w);
          errors = addErrors(errors, r.errors);
          ramps.push({
            target: r.target,
            established: r.established,
            failed: r.failed,
            ms: r.ms,
            ratePerSec: r.ratePerSec,
            ...(typeof r.extra?.['minWindow'] === 'number' ? { minWindow: r.extra['minWindow'] } : {}),
            ...(name !== MAIN_GROUP ? { group: name } : {}),
          });
          if (r.established < r.target) {
            const why = Object.entries(r.connectErrors).map(([k, v]) => `${k} × ${v}`).join(', ');
            warnings.push(`ramp${name !== MAIN_GROUP ? ` of ${name}` : ''} to ${r.target} established ${r.established}${why ? ` (${why})` : ''}`);
          }
          break;
        }
        case 'warmup': {
          const names = ph.groups ?? [MAIN_GROUP];
          const results = await guard.wait(Promise.all(names.map((n) => group(n).run(ph.durationMs, 0))), ph.durationMs + 15_000, where);
          results.forEach((r, k) => {
            errors = addErrors(errors, r.errors);
            held.set(names[k] ?? MAIN_GROUP, r.connections);
          });
          break;
        }
        case 'measure': {
          const running = ph.run === undefined ? [] : (ph.run.groups ?? [MAIN_GROUP]);
          const m = await measure(ctx, guard, h, drivers, held, ph, running, where, kernel0);
          afterStep(m.step, m.raw, m.results, ph.fit !== false);
          break;
        }
        case 'reap': {
          const timeoutMs = ph.timeoutMs ?? reapBoundMs(run.limits);
          if (timeoutMs === null) throw new RunFailure(`${where}: ${contender} applies neither a heartbeat nor an idle timeout here, so nothing would reap the silent peers; give the phase a timeoutMs`);
          const asMeasure: Extract<Phase, { kind: 'measure' }> = { kind: 'measure', label: ph.label ?? `reap ${ph.group}`, run: { durationMs: timeoutMs, warmupMs: 0, groups: [ph.group] } };
          const m = await measure(ctx, guard, h, drivers, held, asMeasure, [ph.group], where, kernel0, 100);
          // Silent peers answer nothing, so the window has no throughput or latency to speak of.
          m.step.throughput = null;
          m.step.latencyUs = null;
          afterStep(m.step, m.raw, m.results, false);
          break;
        }
        case 'hold':
          await guard.sleep(ph.durationMs, where);
          break;
        case 'cooldown': {
          const closing = [...drivers].map(async ([name, d]) => held.set(name, (await d.ramp(0, 0, 10_000)).established));
          await guard.wait(Promise.all(closing), 25_000, where);
          await guard.sleep(ph.durationMs, where);
          break;
        }
      }
    }
    run.ok = true;
  } catch (err) {
    if (err instanceof ContenderUnavailableError) {
      run.skipped = err.kind === 'skipped' ? err.reason : `unavailable here: ${err.reason}`;
    } else if (err instanceof DriverUnavailableError) {
      run.error = `the ${params.driver} driver cannot run here: ${err.reason}`;
    } else if (err instanceof Interrupted || ctx.guardSignal?.aborted) {
      interrupted = true;
      run.error = `interrupted by ${signalName(ctx.guardSignal)} during ${where}`;
    } else {
      const dead = err instanceof ProcessDied ? err.tracked : guard.dead();
      run.error = dead ? `${dead.role} ${dead.name} (pid ${dead.pid}) exited during ${where}` : message(err);
    }
  } finally {
    sampler?.stop();
    const fast = interrupted || !run.ok;
    if (drivers.size > 0) {
      await bounded(Promise.all([...drivers.values()].map((d) => d.close())), fast ? 2000 : 5000);
      for (const t of tracker.alive().filter((x) => x.role === 'driver')) killTracked(t);
    }
    if (handle !== null) stopReport = await handle.stop(fast ? { killAfterMs: 1500 } : {});
  }

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

  run.clientBound = clientBound;
  if (run.steps.length > 0) run.summary = summarizeRun(run.steps, ramps.map((r) => r.ratePerSec), fitMemory(fitInputs, fitted));
  if (ramps.length > 0) run.ramps = ramps;
  if (warnings.length > 0) run.warnings = [...new Set(warnings)];
  if (timeline.tMs.length > 0) run.timeline = thinTimeline(timeline, MAX_TIMELINE_POINTS);
  return { run, interrupted };
}

/**
 * How long silent peers may take to be reaped under a contender's effective limits: two
 * heartbeat intervals (the ping, then the answer that never comes) or the idle timeout,
 * whichever is shorter, plus half again for coarse timer wheels (uSockets sweeps every 4 s)
 * and a second of slack. null when the contender applies neither.
 */
export function reapBoundMs(limits: EffectiveLimits | undefined): number | null {
  const ping = limits?.pingIntervalMs ?? 0;
  const idle = limits?.idleTimeoutMs ?? 0;
  const base = ping > 0 ? (idle > 0 ? Math.min(2 * ping, idle) : 2 * ping) : idle;
  return base > 0 ? Math.ceil(base * 1.5) + 1000 : null;
}

/** The server's connection count every pollMs while `until` is pending ([ms since t0, count]), and its peak RSS. */
async function watchServer(
  h: ContenderHandle,
  t0: number,
  first: number,
  pollMs: number,
  until: Promise<unknown>,
  maxMs: number,
): Promise<{ samples: Array<[number, number]>; rssPeakBytes: Measured }> {
  const samples: Array<[number, number]> = [[0, first]];
  let rssPeakBytes: Measured = null;
  let done = false;
  until.then(
    () => (done = true),
    () => (done = true),
  );
  while (!done && Date.now() - t0 < maxMs) {
    await new Promise((r) => setTimeout(r, pollMs));
    const rss = sampleProcesses(h.pids, { pss: false, fds: false }).total.rssBytes;
    if (rss !== null) rssPeakBytes = Math.max(rssPeakBytes ?? 0, rss);
    try {
      const s = await h.stats();
      samples.push([Date.now() - t0, s.total.connectionsNow]);
    } catch {
      // A contender that stops answering is the guard's business; the watch just ends.
      break;
    }
  }
  return { samples, rssPeakBytes };
}

function groupRecord(r: RunResult): GroupStepRecord {
  const sent = typeof r.extra['sent'] === 'number' ? r.extra['sent'] : null;
  return {
    connections: r.connections,
    ops: r.ops,
    opsPerSec: r.opsPerSec,
    sent,
    opsPerSent: sent !== null && sent > 0 ? r.ops / sent : null,
    peerClosed: typeof r.extra['peerClosed'] === 'number' ? r.extra['peerClosed'] : null,
    latencyUs: latencyOf(r),
    errors: r.errors,
    driverCpuPct: r.cpu.pct,
    clientBound: r.clientBound,
  };
}

/**
 * One measured step at the current connection count. With a load (`running` names the driver
 * groups that apply theirs), throughput and latency come from the first group; a group in
 * `stall` mode is watched until the server has closed as many connections as it held.
 */
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

async function measure(
  ctx: Context,
  guard: Guard,
  h: ContenderHandle,
  drivers: ReadonlyMap<string, DriverGroup>,
  held: Map<string, number>,
  ph: Extract<Phase, { kind: 'measure' }>,
  running: readonly string[],
  where: string,
  kernel0: KernelSample,
  pollMs = 250,
): Promise<{ step: StepRecord; raw: Step; results: RunResult[] }> {
  const pids = h.pids;
  const readServer = async (): Promise<{ mem: ProcessesSample; stats: ContenderStats; k: KernelSample }> => {
    const mem = sampleProcesses(pids, { pss: true, fds: true });
    const stats = await guard.wait(h.stats(), 10_000, where);
    return { mem, stats, k: sampleKernel() };
  };
  const driverOf = (name: string): DriverGroup => {
    const d = drivers.get(name);
    if (d === undefined) throw new RunFailure(`${where}: no driver group ${JSON.stringify(name)}`);
    return d;
  };
  const loadOfGroup = (name: string): LoadSpec | undefined => (name === MAIN_GROUP ? ctx.load : ctx.groups.get(name)?.load);
  let results: RunResult[] = [];
  let reap: ReapRecord | undefined;
  let cpu0: ProcessesSample;
  let cpu1: ProcessesSample;
  let windowMs: number;
  let server: Awaited<ReturnType<typeof readServer>>;
  let driverConnections: number;
  if (ph.run !== undefined) {
    const { durationMs } = ph.run;
    const warmupMs = ph.run.warmupMs ?? 0;
    const groups = running.map(driverOf);
    const silent = running.find((n) => loadOfGroup(n)?.mode === 'stall');
    let target = 0;
    let first = 0;
    if (silent !== undefined) {
      target = (await guard.wait(driverOf(silent).stats(), 10_000, where)).connections;
      first = (await guard.wait(h.stats(), 10_000, where)).total.connectionsNow;
    }
    const t0 = Date.now();
    const runs = Promise.all(groups.map((d) => d.run(durationMs, warmupMs)));
    runs.catch(() => {});
    const watching = silent === undefined ? null : watchServer(h, t0, first, pollMs, runs, durationMs + warmupMs + 20_000);
    // The driver counts only after its warm-up, so server CPU is read from the same moment.
    await guard.sleep(warmupMs, where);
    cpu0 = sampleProcesses(pids, { pss: false, fds: false });
    const t1 = Date.now();
    // Memory and connections are read near the end of the window, while the load still holds
    // its connections: a driver may close them as soon as its run ends (autocannon does).
    await guard.sleep(Math.max(0, durationMs - Math.min(500, durationMs * 0.2)), where);
    server = await readServer();
    results = await guard.wait(runs, durationMs + warmupMs + 15_000, where);
    cpu1 = sampleProcesses(pids, { pss: false, fds: false });
    windowMs = Date.now() - t1;
    results.forEach((r, i) => held.set(running[i] ?? MAIN_GROUP, r.connections));
    driverConnections = [...held.values()].reduce((a, b) => a + b, 0);
    if (silent !== undefined && watching !== null) {
      const { samples, rssPeakBytes } = await watching;
      const low = Math.min(...samples.map(([, c]) => c));
      const reaped = samples.find(([, c]) => first - c >= target);
      const end = results[running.indexOf(silent)];
      reap = {
        group: silent,
        target,
        closedByServer: Math.max(0, first - low),
        ms: target > 0 && reaped !== undefined ? reaped[0] : null,
        closedSeenByDriver: end === undefined ? 0 : Math.max(0, target - end.connections),
        pollMs,
        samples,
        rssPeakBytes,
      };
    }
  } else {
    // Idle memory step: collect V8's garbage in every contender process, then wait until the
    // committed heap holds still across two checks a second apart (at most 8 s). Right after
    // start-up V8 keeps shrinking its heap for seconds whatever we collect; sampled then, the
    // shrink reads as a negative per-connection cost (measured: 3 MB per worker).
    let lastHeap: number | null = null;
    for (let i = 0; i < 8; i++) {
      await guard.wait(h.gc(), 30_000, where);
      const heap = (await guard.wait(h.stats(), 10_000, where)).total.heapTotalBytes;
      if (heap !== null && heap === lastHeap) break;
      lastHeap = heap;
      await guard.sleep(1000, where);
    }
    await guard.sleep(ph.settleMs ?? 500, where);
    cpu0 = sampleProcesses(pids, { pss: false, fds: false });
    const t0 = Date.now();
    if ((ph.holdMs ?? 0) > 0) await guard.sleep(ph.holdMs ?? 0, where);
    cpu1 = sampleProcesses(pids, { pss: false, fds: false });
    windowMs = Date.now() - t0;
    server = await readServer();
    const counts = await guard.wait(Promise.all([...drivers.values()].map((d) => d.stats())), 10_000, where);
    driverConnections = counts.reduce((a, c) => a + c.connections, 0);
  }
  const { mem, stats, k } = server;
  const cpu = windowMs >= 1 ? cpuMs(cpu0, cpu1) : { user: null, sys: null };
  const serverCores = cpu.user !== null && cpu.sys !== null && windowMs > 0 ? (cpu.user + cpu.sys) / windowMs : null;
  const result = results[0] ?? null;

  const step: StepRecord = {
    connections: stats.total.connectionsNow,
    server: {
      rssBytes: mem.total.rssBytes,
      pssBytes: mem.total.pssBytes,
      heapUsedBytes: stats.total.heapUsedBytes,
      externalBytes: stats.total.externalBytes,
      cpuUserMs: cpu.user,
      cpuSysMs: cpu.sys,
      rssAnonBytes: mem.total.rssAnonBytes,
      heapTotalBytes: stats.total.heapTotalBytes,
      fds: mem.total.fds,
      engineBytes: stats.total.extra['engine.engineBytes'] ?? null,
    },
    kernel: {
      slabBytes: growth(k.slabBytes, kernel0.slabBytes),
      sockstatMemPages: growth(k.sockstat.tcpMemPages, kernel0.sockstat.tcpMemPages),
      tcpInUse: growth(k.sockstat.tcpInUse, kernel0.sockstat.tcpInUse),
      tcpTw: growth(k.sockstat.tcpTw, kernel0.sockstat.tcpTw),
      // Everything the run holds, system-wide (contenders, drivers, kernel): MemAvailable's drop.
      memUsedBytes: k.memAvailableBytes !== null && kernel0.memAvailableBytes !== null ? kernel0.memAvailableBytes - k.memAvailableBytes : null,
    },
    throughput:
      result === null
        ? null
        : {
            opsPerSec: result.opsPerSec,
            bytesPerSec: result.bytesPerSec,
            opsPerServerCpuSec: serverCores !== null && serverCores > 0 ? result.opsPerSec / serverCores : null,
          },
    latencyUs: result === null ? null : latencyOf(result),
    errors: null,
    label: ph.label ?? null,
    driverConnections,
    windowMs,
    serverProtocolErrors: stats.total.protocolErrors,
    serverExtra: { ...stats.total.extra },
    ...(result !== null ? { driverCpuPct: Math.max(...results.map((r) => r.cpu.pct)), clientBound: results.some((r) => r.clientBound) } : {}),
  };
  if (results.length > 0) {
    step.groups = {};
    results.forEach((r, i) => {
      if (step.groups !== undefined) step.groups[running[i] ?? MAIN_GROUP] = groupRecord(r);
    });
  }
  if (reap !== undefined) step.reap = reap;
  const givenUp = result !== null ? givenUpOf(result.extra) : undefined;
  if (givenUp !== undefined) {
    step.givenUp = givenUp;
    step.fellBehind = givenUp.dropped + givenUp.timedOut + givenUp.lost > 0;
  }
  // The fit takes the kernel's change before the floor at zero: floored growth would bias the slope.
  const raw: Step = {
    connections: step.connections,
    server: step.server,
    kernel: {
      slabBytes: change(k.slabBytes, kernel0.slabBytes),
      sockstatMemPages: change(k.sockstat.tcpMemPages, kernel0.sockstat.tcpMemPages),
      tcpInUse: change(k.sockstat.tcpInUse, kernel0.sockstat.tcpInUse),
    },
  };
  return { step, raw, results };
}
