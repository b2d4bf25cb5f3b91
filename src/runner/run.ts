// The runner: preflight, then every contender × repetition interleaved (A B C A B C …), each
// in fresh processes: start the contender, check it answers correctly (primer), start the
// driver(s), walk the phases sampling the kernel's own accounting, stop everything, and put
// the lot into one result. A run that fails is recorded with its reason and the next one goes.

import { execFileSync } from 'node:child_process';
import { verifyProtocol } from '../clients/verify.js';
import {
  ContenderUnavailableError,
  contenderNames,
  DEFAULT_HOST,
  getContender,
  speaks,
  startContender,
  type ContenderHandle,
  type ContenderStats,
  type Protocol,
  type StopReport,
} from '../contenders/index.js';
import { DriverUnavailableError, type DriverConfig, type DriverErrors, type RampResult, type RunResult } from '../drivers/types.js';
import { Histogram } from '../metrics/histogram.js';
import { sampleKernel, sampleProcesses, Sampler, type KernelSample, type ProcessesSample } from '../metrics/proc.js';
import { RESULT_SCHEMA, type C1mResult, type Latency, type Measured, type Run, type ServerStats, type Step } from '../results/schema.js';
import { readSystem, type SystemReadings } from '../system/limits.js';
import { DEFAULT_CONNECT_RATE } from '../system/preflight.js';
import { DriverGroup } from './drivers.js';
import { collectEnv } from './env.js';
import { Guard, Interrupted, ProcessDied, RunFailure } from './guard.js';
import { planScenario, type ScenarioPlan } from './plan.js';
import { killTracked, ProcessTracker, type Tracked } from './processes.js';
import { describePhase, Progress, runSeconds } from './progress.js';
import { loadOf, peakConnections, phasesOf, type LoadSpec, type Params, type Phase, type Scenario } from './scenario.js';
import { compareRuns, fitSteps, summarizeRun, type RunFits } from './summary.js';

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

/** A run as recorded: the contract's fields plus what the runner adds (see src/runner/README.md). */
export interface RunRecord extends Run {
  /** Every ramp: asked, established, how long, connections/s. */
  ramps?: Array<{ target: number; established: number; failed: number; ms: number; ratePerSec: Measured }>;
  /** Least-squares fits of memory over connections (slope = bytes per connection). */
  fits?: RunFits;
  /** Kernel figures before the contender started; step kernel figures are growth from these. */
  kernelBaseline?: { slabBytes: Measured; sockstatMemPages: Measured; tcpInUse: Measured };
  /** Things that did not fail the run but should be known (e.g. a worker that had to be killed). */
  warnings?: string[];
}

/** A measured step as recorded: the contract's fields plus the runner's additions. */
export interface StepRecord extends Step {
  server: ServerStats & { rssAnonBytes: Measured; heapTotalBytes: Measured };
  /** The phase's label, e.g. "200 connections". */
  label: string | null;
  /** Connections the driver(s) held at the end of the step (connections is the server's count). */
  driverConnections: number;
  /** Length of the measured window in ms (server CPU is over this window). */
  windowMs: number;
  /** Protocol errors the contender counted (malformed input from the driver). */
  serverProtocolErrors: number;
  /** The driver's CPU over the run, % of one core (load steps only). */
  driverCpuPct?: number;
  clientBound?: boolean;
}

export interface ResultRecord extends C1mResult {
  runs: RunRecord[];
  /** True when Ctrl-C ended the run early: later runs are missing, the one in progress is not ok. */
  interrupted: boolean;
  /** The phases every run walked, as the scenario produced them from params. */
  phases: readonly Phase[];
  load: LoadSpec;
  preflight: {
    serverWorkers: number;
    driverProcesses: number;
    sourceAddresses: number;
    listenBacklog: number;
    warnings: readonly string[];
  };
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

const ZERO_ERRORS: DriverErrors = { connect: 0, read: 0, write: 0, timeout: 0, protocol: 0 };

function addErrors(a: DriverErrors, b: DriverErrors | undefined): DriverErrors {
  if (b === undefined) return a;
  return { connect: a.connect + b.connect, read: a.read + b.read, write: a.write + b.write, timeout: a.timeout + b.timeout, protocol: a.protocol + b.protocol };
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function latencyOf(r: RunResult): Latency | null {
  if (r.latency === null) return null;
  const h = Histogram.fromJSON(r.latency);
  if (h.count === 0) return null;
  const s = h.summary();
  return { p50: s.p50, p90: s.p90, p99: s.p99, p999: s.p999, max: s.max };
}

function growth(now: number | null, base: number | null): Measured {
  if (now === null || base === null) return null;
  // Slab and socket counts move with everything else on the machine; growth below the baseline
  // is noise, recorded as none (the fit uses the raw figures, so it is not biased by this).
  return Math.max(0, now - base);
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
  plan: ScenarioPlan;
  guardSignal: AbortSignal | undefined;
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

  const order = schedule(contenders, params.reps);

  const tracker = o.tracker ?? new ProcessTracker();
  const progress = new Progress(log, order.length, runSeconds(phases), o.progressEveryMs ?? 2000);
  const ctx: Context = { scenario, params, phases, load, plan, guardSignal: o.signal, tracker, progress };
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
    phases,
    load,
    preflight: {
      serverWorkers: plan.serverWorkers,
      driverProcesses: plan.driverProcesses,
      sourceAddresses: plan.sourceAddresses.length,
      listenBacklog: plan.listenBacklog,
      warnings: plan.warnings,
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
  const guard = new Guard(ctx.guardSignal);
  const warnings: string[] = [];
  const ramps: NonNullable<RunRecord['ramps']> = [];
  const rawSteps: Step[] = [];
  const timeline: Timeline = { tMs: [], connections: [], cpuPct: [], rssBytes: [], marks: [] };
  let current = 0;
  let where = 'start-up';
  let handle: ContenderHandle | null = null;
  let drivers: DriverGroup | null = null;
  let sampler: Sampler | null = null;
  let samplerStart = 0;
  let stopReport: StopReport | undefined;
  let interrupted = false;
  let clientBound: boolean | null = null;

  const kernel0: KernelSample = sampleKernel();
  run.kernelBaseline = { slabBytes: kernel0.slabBytes, sockstatMemPages: kernel0.sockstat.tcpMemPages, tcpInUse: kernel0.sockstat.tcpInUse };
  const contenderProcs: Tracked[] = [];

  try {
    progress.phase('starting contender');
    const starting = startContender({
      contender,
      protocol,
      host: DEFAULT_HOST,
      workers: plan.serverWorkers,
      limits: { backlog: plan.listenBacklog },
      stderr: 'pipe',
      readyTimeoutMs: 15_000,
      ...(params.pin ? { wrap: ['taskset', '-c', '0'] } : {}),
    });
    try {
      handle = await guard.wait(starting, 20_000, 'contender start-up');
    } catch (err) {
      // The wait was cut short (Ctrl-C, timeout): if the contender still comes up, stop it then.
      starting.then((late) => void late.stop({ killAfterMs: 1500 }), () => {});
      throw err;
    }
    const h = handle;
    h.workers.forEach((w) => contenderProcs.push(tracker.add(w.pid, 'contender', `${contender}/${protocol}#${w.worker}`)));
    guard.watch(contenderProcs);

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
        timeline.connections.push(current);
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
    progress.phase(`starting ${plan.driverProcesses} ${params.driver} driver process(es)`);
    const config: DriverConfig = {
      driver: params.driver,
      protocol,
      targets: h.ports.map((port) => ({ host: h.host, port })),
      ...ctx.load,
      ...(plan.sourceAddresses.length > 0 ? { sourceAddresses: [...plan.sourceAddresses] } : {}),
    };
    const driverOpts = { stderr: 'pipe' as const, ...(params.pin ? { cpu: 1 } : {}) };
    const startingDrivers = DriverGroup.start(config, plan.driverProcesses, driverOpts);
    try {
      drivers = await guard.wait(startingDrivers, 30_000, 'driver start-up');
    } catch (err) {
      startingDrivers.then((late) => void late.close(), () => {});
      throw err;
    }
    const driverProcs = drivers.pids.map((pid, i) => tracker.add(pid, 'driver', `${params.driver}#${i}`));
    guard.watch(driverProcs);
    const d = drivers;
    d.onProgress((p) => {
      current = p.connections;
      progress.tick(p.connections, p.phase === 'run' ? p.ops : null);
    });

    let errors: DriverErrors = { ...ZERO_ERRORS };
    for (const [i, ph] of ctx.phases.entries()) {
      guard.check();
      where = `phase ${i + 1} (${describePhase(ph)})`;
      progress.phase(describePhase(ph));
      mark(describePhase(ph));
      switch (ph.kind) {
        case 'ramp': {
          const rate = ph.ratePerSec ?? 0;
          // Twice the time the ramp should take (at preflight's default rate when unpaced); the
          // driver's own bound (timeoutMs + its margin) fires before the guard's and says more.
          const expectedMs = (Math.abs(ph.connections - current) / (rate > 0 ? rate : DEFAULT_CONNECT_RATE)) * 1000;
          const timeoutMs = ph.timeoutMs ?? Math.max(10_000, 2 * expectedMs + 5000);
          const r: RampResult = await guard.wait(d.ramp(ph.connections, rate, timeoutMs), timeoutMs + 15_000, where);
          // A driver that cannot hold idle connections probes them and lets go (extra.held = 0).
          current = r.extra?.['held'] === 0 ? 0 : r.established;
          for (const w of r.warnings ?? []) warnings.push(w);
          errors = addErrors(errors, r.errors);
          ramps.push({ target: r.target, established: r.established, failed: r.failed, ms: r.ms, ratePerSec: r.ratePerSec });
          if (r.established < r.target) {
            const why = Object.entries(r.connectErrors).map(([k, v]) => `${k} × ${v}`).join(', ');
            warnings.push(`ramp to ${r.target} established ${r.established}${why ? ` (${why})` : ''}`);
          }
          break;
        }
        case 'warmup': {
          const r = await guard.wait(d.run(ph.durationMs, 0), ph.durationMs + 15_000, where);
          errors = addErrors(errors, r.errors);
          current = r.connections;
          break;
        }
        case 'measure': {
          const { step, raw, result } = await measure(guard, h, d, ph, where, kernel0);
          if (result) {
            for (const w of result.warnings ?? []) warnings.push(w);
            errors = addErrors(errors, result.errors);
            clientBound = (clientBound ?? false) || result.clientBound;
            current = result.connections;
          }
          step.errors = { ...errors };
          raw.errors = step.errors;
          errors = { ...ZERO_ERRORS };
          run.steps.push(step);
          rawSteps.push(raw);
          break;
        }
        case 'hold':
          await guard.sleep(ph.durationMs, where);
          break;
        case 'cooldown': {
          const r = await guard.wait(d.ramp(0, 0, 10_000), 25_000, where);
          current = r.established;
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
    if (drivers !== null) {
      await bounded(drivers.close(), fast ? 2000 : 5000);
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
  if (stopReport !== undefined && run.ok) {
    for (const w of stopReport.workers) {
      if (w.killed) warnings.push(`contender worker ${w.worker} (pid ${w.pid}) did not stop within the bound and was killed`);
      else if (w.code !== 0) warnings.push(`contender worker ${w.worker} (pid ${w.pid}) exited with ${w.signal ?? `code ${w.code}`} on stop`);
    }
  }

  const fits = fitSteps(rawSteps);
  run.clientBound = clientBound;
  if (run.steps.length > 0) {
    run.summary = summarizeRun(run.steps, ramps.map((r) => r.ratePerSec), fits);
    run.fits = fits;
  }
  if (ramps.length > 0) run.ramps = ramps;
  if (warnings.length > 0) run.warnings = [...new Set(warnings)];
  if (timeline.tMs.length > 0) run.timeline = thinTimeline(timeline, MAX_TIMELINE_POINTS);
  return { run, interrupted };
}

/** One measured step at the current connection count. */
async function measure(
  guard: Guard,
  h: ContenderHandle,
  d: DriverGroup,
  ph: Extract<Phase, { kind: 'measure' }>,
  where: string,
  kernel0: KernelSample,
): Promise<{ step: StepRecord; raw: Step; result: RunResult | null }> {
  const pids = h.pids;
  const readServer = async (): Promise<{ mem: ProcessesSample; stats: ContenderStats; k: KernelSample }> => {
    const mem = sampleProcesses(pids, { pss: true, fds: false });
    const stats = await guard.wait(h.stats(), 10_000, where);
    return { mem, stats, k: sampleKernel() };
  };
  let result: RunResult | null = null;
  let cpu0: ProcessesSample;
  let cpu1: ProcessesSample;
  let windowMs: number;
  let server: Awaited<ReturnType<typeof readServer>>;
  let driverConnections: number;
  if (ph.run !== undefined) {
    const { durationMs } = ph.run;
    const warmupMs = ph.run.warmupMs ?? 0;
    const running = d.run(durationMs, warmupMs);
    running.catch(() => {});
    // The driver counts only after its warm-up, so server CPU is read from the same moment.
    await guard.sleep(warmupMs, where);
    cpu0 = sampleProcesses(pids, { pss: false, fds: false });
    const t0 = Date.now();
    // Memory and connections are read near the end of the window, while the load still holds
    // its connections: a driver may close them as soon as its run ends (autocannon does).
    await guard.sleep(Math.max(0, durationMs - Math.min(500, durationMs * 0.2)), where);
    server = await readServer();
    result = await guard.wait(running, durationMs + warmupMs + 15_000, where);
    cpu1 = sampleProcesses(pids, { pss: false, fds: false });
    windowMs = Date.now() - t0;
    driverConnections = result.connections;
  } else {
    await guard.sleep(ph.settleMs ?? 500, where);
    cpu0 = sampleProcesses(pids, { pss: false, fds: false });
    const t0 = Date.now();
    if ((ph.holdMs ?? 0) > 0) await guard.sleep(ph.holdMs ?? 0, where);
    cpu1 = sampleProcesses(pids, { pss: false, fds: false });
    windowMs = Date.now() - t0;
    server = await readServer();
    driverConnections = (await guard.wait(d.stats(), 10_000, where)).connections;
  }
  const { mem, stats, k } = server;
  const cpu = windowMs >= 1 ? cpuMs(cpu0, cpu1) : { user: null, sys: null };
  const serverCores = cpu.user !== null && cpu.sys !== null && windowMs > 0 ? (cpu.user + cpu.sys) / windowMs : null;

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
    },
    kernel: {
      slabBytes: growth(k.slabBytes, kernel0.slabBytes),
      sockstatMemPages: growth(k.sockstat.tcpMemPages, kernel0.sockstat.tcpMemPages),
      tcpInUse: growth(k.sockstat.tcpInUse, kernel0.sockstat.tcpInUse),
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
    ...(result !== null ? { driverCpuPct: result.cpu.pct, clientBound: result.clientBound } : {}),
  };
  // The fit uses the absolute kernel figures: growth clamped at zero would bias the slope.
  const raw: Step = { connections: step.connections, server: step.server, kernel: { slabBytes: k.slabBytes, sockstatMemPages: k.sockstat.tcpMemPages, tcpInUse: k.sockstat.tcpInUse } };
  return { step, raw, result };
}
