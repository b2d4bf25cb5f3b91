// One contender × repetition in fresh processes: the contender, its driver groups, the guard that
// watches them, the sampler and its timeline, and the phases walked with one handler per kind.
// start (contender, primer, sampler, drivers) → walk → teardown, in that order; what the phases
// measured (steps, ramps, warnings, timeline) stays here for the runner to record. `c1m profile`
// walks its phases through a session too, with its own contender start and stop.

import { verifyProtocol } from '../wire/clients/verify.js';
import { familyOf, quickConformance } from '../conform/suite.js';
import { summarize, type ConformanceSummary } from '../conform/summary.js';
import { errorMessage as message } from '../checks.js';
import {
  getContender,
  startContender,
  type ContenderHandle,
  type ContenderStats,
  type EffectiveLimits,
  type Protocol,
  type StartOptions,
  type StopOptions,
  type StopReport,
  type WorkerInfo,
} from '../contenders/index.js';
import type { StartDriverOptions } from '../drivers/driver-handle.js';
import type { DriverConfig, DriverErrors, DriverName, DriverTls, RampResult, RunResult } from '../drivers/driver-contract.js';
import { addErrors, emptyErrors, reasonsText } from '../drivers/merge.js';
import type { Target, TargetTls } from '../wire/clients/tcp.js';
import { HostProbeWindow, type HostProbeReading } from '../metrics/host-probe.js';
import { sampleKernel, sampleProcesses, Sampler, type KernelSample, type ProcessesSample } from '../metrics/proc.js';
import type { RampRecord, ReapRecord, StepRecord } from '../results/record.js';
import type { Measured, Step } from '../results/schema.js';
import { DEFAULT_CONNECT_RATE } from '../system/preflight.js';
import { DriverGroup } from './driver-group.js';
import { Interrupted, ProcessDied, RunFailure, type Guard } from './guard.js';
import { killTracked, type ProcessTracker, type Tracked } from './processes.js';
import { describePhase } from './progress.js';
import { MAIN_GROUP, type LoadSpec, type Phase } from './scenario.js';
import { buildStep, type StepReadings } from './step.js';

/** The native driver's WebSocket handshake timeout: the last handshake of a ramp may take that long. */
const RAMP_SLACK_MS = 30_000;
/**
 * How long a contender's workers may take to answer a stats request. A worker saturated by its
 * load answers between the turns of its loop; net under a 10,000-member broadcast on a slow host
 * took over the handle's own 5 s default, and that repetition was lost.
 */
const STATS_WAIT_MS = 10_000;

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

/** Bounds `p` by ms (resolving undefined on timeout), for cleanup that must not hang. */
function bounded<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p.catch(() => undefined), new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), ms)))]).finally(() => clearTimeout(timer));
}

export interface Timeline {
  tMs: number[];
  connections: Measured[];
  cpuPct: Measured[];
  rssBytes: Measured[];
  marks: Array<{ tMs: number; label: string }>;
}

export interface SessionOptions {
  contender: string;
  protocol: Protocol;
  guard: Guard;
  /** Every process started is added here. */
  tracker: ProcessTracker;
  /** How phase i is named in sentences ("… exited during …"); default `phase ${i + 1} (${describePhase(ph)})`. */
  where?: (ph: Phase, i: number) => string;
  /** Called as each phase starts (progress lines). */
  onPhase?: (ph: Phase, i: number) => void;
  /** The contender serves TLS (`--tls`): the primer and the conformance cases speak it, verifying the run's certificate. */
  tls?: TargetTls;
  /** Every driver progress report: connections all groups hold, and the ops of a running load. */
  onTick?: (connections: number, ops: number | null) => void;
}

export interface ContenderStart {
  /** startContender's options (the session gives contender and protocol). */
  options: Omit<StartOptions, 'contender' | 'protocol'>;
  /** The guard's bound on the start-up; without one the start waits for the contender's own ready bound, Ctrl-C or not. */
  boundMs?: number;
  /** The name each worker is tracked under; default `${contender}/${protocol}#${worker}`. */
  name?: (w: WorkerInfo) => string;
}

export interface DriverGroupSpec {
  name: string;
  load: LoadSpec;
  processes: number;
}

export interface DriversStart {
  driver: DriverName;
  /** The main group first; each group runs in its own processes. */
  groups: readonly DriverGroupSpec[];
  sourceAddresses: readonly string[];
  options: StartDriverOptions;
  /** The guard's bound on the start-up of every process. */
  boundMs: number;
  /** Drive over TLS (`--tls`). */
  tls?: DriverTls;
}

/** What a phase gave back beyond what the session records: the ramp's result, or the loads' results. */
export interface PhaseOutcome {
  ramp?: RampResult;
  results?: readonly RunResult[];
}

type MeasurePhase = Extract<Phase, { kind: 'measure' }>;

export class Session {
  readonly contender: string;
  readonly protocol: Protocol;
  readonly guard: Guard;
  /** The kernel before the contender started: a step's kernel figures are growth since then. */
  readonly kernel0: KernelSample = sampleKernel();
  /** Where the session is, for the sentence of a failure ("start-up", "the primer", "phase 2 (…)"). */
  where = 'start-up';

  // What the phases measured.
  readonly steps: StepRecord[] = [];
  /** What the memory fits read, one per step (the kernel's change before its floor at 0). */
  readonly fitInputs: Step[] = [];
  /** The steps the fits use: a measure with fit: false and a reap stay out. */
  readonly fitted: number[] = [];
  readonly ramps: RampRecord[] = [];
  readonly warnings: string[] = [];
  readonly timeline: Timeline = { tMs: [], connections: [], cpuPct: [], rssBytes: [], marks: [] };
  /** True once any load was client-bound; null before any load ran. */
  clientBound: boolean | null = null;
  /** The quick conformance cases' summary, once conformance() has run. */
  conformance: ConformanceSummary | null = null;

  readonly #o: SessionOptions;
  #handle: ContenderHandle | null = null;
  readonly #contenderProcs: Tracked[] = [];
  readonly #drivers = new Map<string, DriverGroup>();
  readonly #loads = new Map<string, LoadSpec>();
  /** Connections each driver group holds now; their sum is the timeline's count. */
  readonly #held = new Map<string, number>();
  /** Driver errors over the ramps and loads since the last step. */
  #errors: DriverErrors = emptyErrors();
  #sampler: Sampler | null = null;
  #samplerStart = 0;
  #stopReport: StopReport | undefined;
  /** Protocol errors the contender counted before any load (the conformance cases send bad input on purpose). */
  #protocolErrors0 = 0;

  constructor(o: SessionOptions) {
    this.#o = o;
    this.contender = o.contender;
    this.protocol = o.protocol;
    this.guard = o.guard;
  }

  get handle(): ContenderHandle | null {
    return this.#handle;
  }
  /** The contender's tracked worker processes. */
  get contenderProcs(): readonly Tracked[] {
    return this.#contenderProcs;
  }
  get drivers(): ReadonlyMap<string, DriverGroup> {
    return this.#drivers;
  }
  /** The limits the contender applied (its first worker's ready message). */
  get limits(): EffectiveLimits | undefined {
    return this.#handle?.workers[0]?.limits;
  }
  /** How the contender stopped, once it has. */
  get stopReport(): StopReport | undefined {
    return this.#stopReport;
  }

  #current(): number {
    return [...this.#held.values()].reduce((a, b) => a + b, 0);
  }

  // ---- start ------------------------------------------------------------------------------

  /** Starts the contender, tracks its workers and has the guard watch them. */
  async startContender(c: ContenderStart): Promise<ContenderHandle> {
    const starting = startContender({ ...c.options, contender: this.contender, protocol: this.protocol });
    let h: ContenderHandle;
    if (c.boundMs === undefined) {
      h = await starting;
    } else {
      try {
        h = await this.guard.wait(starting, c.boundMs, 'contender start-up');
      } catch (err) {
        // The wait was cut short (Ctrl-C, timeout): if the contender still comes up, stop it then.
        starting.then((late) => void late.stop({ killAfterMs: 1500 }), () => {});
        throw err;
      }
    }
    this.#handle = h;
    const name = c.name ?? ((w: WorkerInfo) => `${this.contender}/${this.protocol}#${w.worker}`);
    h.workers.forEach((w) => this.#contenderProcs.push(this.#o.tracker.add(w.pid, 'contender', name(w))));
    this.guard.watch(this.#contenderProcs);
    return h;
  }

  /** Where the checks connect: the contender's port, over TLS when it serves TLS. */
  #target(host: string, port: number): Target {
    return this.#o.tls === undefined ? { host, port } : { host, port, tls: this.#o.tls };
  }

  #contenderHandle(): ContenderHandle {
    if (this.#handle === null) throw new RunFailure(`${this.where}: the contender has not started`);
    return this.#handle;
  }

  /** Checks that the contender answers its protocol correctly on every port: one that does not is never measured. */
  async primer(): Promise<void> {
    const h = this.#contenderHandle();
    this.where = 'the primer';
    const joinByMessage = getContender(this.contender).joinByMessage;
    for (const port of h.ports) {
      try {
        await this.guard.wait(verifyProtocol(this.protocol, this.#target(h.host, port), 5000, { joinByMessage }), 15_000, 'the primer');
      } catch (err) {
        if (err instanceof Interrupted || err instanceof ProcessDied) throw err;
        throw new RunFailure(`primer: ${this.contender} answered ${this.protocol} wrongly on port ${port}, so it was not measured: ${message(err)}`);
      }
    }
  }

  /**
   * Runs the protocol's quick conformance cases against the first port, after the primer and
   * before any load: what the figures about to be measured are figures of. A deviation is
   * recorded, not a failure; only an interruption or a dead contender ends the run here.
   */
  async checkConformance(): Promise<ConformanceSummary> {
    const h = this.#contenderHandle();
    this.where = 'the conformance check';
    const port = h.ports[0] as number;
    const maxMessageBytes = h.workers[0]?.limits.maxMessageBytes ?? null;
    const started = Date.now();
    try {
      this.conformance = await this.guard.wait(quickConformance(this.protocol, this.#target(h.host, port), { maxMessageBytes }), 30_000, 'the conformance check');
    } catch (err) {
      if (err instanceof Interrupted || err instanceof ProcessDied) throw err;
      this.conformance = summarize(familyOf(this.protocol), [], Date.now() - started, `the conformance check did not finish: ${message(err)}`);
    }
    // The bad input was sent on purpose: steps count the protocol errors of the load only.
    this.#protocolErrors0 = (await this.#serverStats(h)).total.protocolErrors;
    return this.conformance;
  }

  /** Samples the contender's processes every intervalMs into the timeline, until teardown. */
  startSampler(intervalMs: number): void {
    const h = this.#contenderHandle();
    const t = this.timeline;
    this.#sampler = new Sampler({
      pids: h.measuredPids,
      intervalMs,
      kernel: false,
      fds: false,
      onSample: (pt) => {
        t.tMs.push(pt.t);
        t.connections.push(this.#current());
        t.cpuPct.push(pt.cpuPercent);
        t.rssBytes.push(pt.processes.rssBytes);
      },
    });
    this.#samplerStart = Date.now();
    this.#sampler.start();
  }

  /** Starts every driver group against the contender's ports, tracks and watches their processes. */
  async startDrivers(d: DriversStart): Promise<void> {
    const h = this.#contenderHandle();
    this.where = 'driver start-up';
    const starts = d.groups.map((g) => {
      const { driver = d.driver, tlsResume, ...load } = g.load;
      const tls = d.tls === undefined ? undefined : { ...d.tls, resume: tlsResume ?? d.tls.resume };
      const config: DriverConfig = {
        driver,
        protocol: this.protocol,
        targets: h.ports.map((port) => ({ host: h.host, port })),
        ...load,
        ...(d.sourceAddresses.length > 0 ? { sourceAddresses: [...d.sourceAddresses] } : {}),
        ...(tls !== undefined ? { tls } : {}),
      };
      return DriverGroup.start(config, g.processes, d.options);
    });
    try {
      const started = await this.guard.wait(Promise.all(starts), d.boundMs, 'driver start-up');
      started.forEach((group, i) => {
        const g = d.groups[i];
        this.#drivers.set(g?.name ?? MAIN_GROUP, group);
        if (g !== undefined) this.#loads.set(g.name, g.load);
      });
    } catch (err) {
      // Whatever did start (now or later) is closed; a group that failed has closed its own.
      for (const p of starts) p.then((late) => void late.close(), () => {});
      throw err;
    }
    for (const [name, group] of this.#drivers) {
      const driver = this.#loads.get(name)?.driver ?? d.driver;
      const label = name === MAIN_GROUP ? driver : `${driver}/${name}`;
      this.guard.watch(group.pids.map((pid, i) => this.#o.tracker.add(pid, 'driver', `${label}#${i}`)));
      this.#held.set(name, 0);
      group.onProgress((p) => {
        this.#held.set(name, p.connections);
        this.#o.onTick?.(this.#current(), p.phase === 'run' ? p.ops : null);
      });
    }
  }

  #group(name: string | undefined): DriverGroup {
    const d = this.#drivers.get(name ?? MAIN_GROUP);
    if (d === undefined) throw new RunFailure(`no driver group ${JSON.stringify(name)}`);
    return d;
  }

  // ---- phases -----------------------------------------------------------------------------

  /** Walks the phases in order; Ctrl-C between two phases ends the walk. */
  async walk(phases: readonly Phase[]): Promise<void> {
    for (const [i, ph] of phases.entries()) {
      this.guard.check();
      await this.phase(ph, i);
    }
  }

  /** One phase: named for sentences, announced, marked on the timeline, then handled by its kind. */
  async phase(ph: Phase, i: number): Promise<PhaseOutcome> {
    const text = describePhase(ph);
    this.where = this.#o.where?.(ph, i) ?? `phase ${i + 1} (${text})`;
    this.#o.onPhase?.(ph, i);
    if (this.#sampler !== null) this.timeline.marks.push({ tMs: Date.now() - this.#samplerStart, label: text });
    switch (ph.kind) {
      case 'ramp':
        return { ramp: await this.#ramp(ph) };
      case 'warmup':
        return { results: await this.#warmup(ph) };
      case 'measure':
        return { results: await this.#measure(ph) };
      case 'reap':
        return { results: await this.#reap(ph) };
      case 'hold':
        await this.guard.sleep(ph.durationMs, this.where);
        return {};
      case 'cooldown':
        await this.#cooldown(ph);
        return {};
    }
  }

  async #ramp(ph: Extract<Phase, { kind: 'ramp' }>): Promise<RampResult> {
    const name = ph.group ?? MAIN_GROUP;
    const d = this.#group(name);
    const rate = ph.ratePerSec ?? 0;
    // Three times the time the ramp should take (at preflight's default rate when unpaced),
    // plus a WebSocket handshake timeout: the connect window slows a ramp the server cannot
    // keep up with, and that is measured, not cut short. The driver's own bound (timeoutMs +
    // its margin) fires before the guard's and says more.
    const expectedMs = (Math.abs(ph.connections - (this.#held.get(name) ?? 0)) / (rate > 0 ? rate : DEFAULT_CONNECT_RATE)) * 1000;
    const timeoutMs = ph.timeoutMs ?? Math.ceil(Math.max(10_000, 3 * expectedMs + RAMP_SLACK_MS));
    const r = await this.guard.wait(d.ramp(ph.connections, rate, timeoutMs), timeoutMs + 15_000, this.where);
    // A driver that cannot hold idle connections probes them and lets go (extra.held = 0).
    this.#held.set(name, r.extra?.['held'] === 0 ? 0 : r.established);
    this.#driverWarnings(name, r.warnings);
    addErrors(this.#errors, r.errors);
    this.ramps.push({
      target: r.target,
      established: r.established,
      failed: r.failed,
      ms: r.ms,
      ratePerSec: r.ratePerSec,
      ...(typeof r.extra?.['minWindow'] === 'number' ? { minWindow: r.extra['minWindow'] } : {}),
      ...(name !== MAIN_GROUP ? { group: name } : {}),
    });
    if (r.established < r.target) {
      const why = reasonsText(r.connectErrors);
      this.warnings.push(`ramp${name !== MAIN_GROUP ? ` of ${name}` : ''} to ${r.target} established ${r.established}${why ? ` (${why})` : ''}`);
    }
    return r;
  }

  async #warmup(ph: Extract<Phase, { kind: 'warmup' }>): Promise<RunResult[]> {
    const names = ph.groups ?? [MAIN_GROUP];
    const results = await this.guard.wait(Promise.all(names.map((n) => this.#group(n).run(ph.durationMs, 0))), ph.durationMs + 15_000, this.where);
    results.forEach((r, k) => {
      this.#driverWarnings(names[k] ?? MAIN_GROUP, r.warnings);
      addErrors(this.#errors, r.errors);
      this.#held.set(names[k] ?? MAIN_GROUP, r.connections);
    });
    return results;
  }

  async #measure(ph: MeasurePhase): Promise<RunResult[]> {
    const running = ph.run === undefined ? [] : (ph.run.groups ?? [MAIN_GROUP]);
    const m = await this.#step(ph, running);
    this.#record(m.step, m.raw, m.results, running, ph.fit !== false);
    return m.results;
  }

  async #reap(ph: Extract<Phase, { kind: 'reap' }>): Promise<RunResult[]> {
    const timeoutMs = ph.timeoutMs ?? reapBoundMs(this.limits);
    if (timeoutMs === null) {
      throw new RunFailure(`${this.where}: ${this.contender} applies neither a heartbeat nor an idle timeout here, so nothing would reap the silent peers; give the phase a timeoutMs`);
    }
    const asMeasure: MeasurePhase = { kind: 'measure', label: ph.label ?? `reap ${ph.group}`, run: { durationMs: timeoutMs, warmupMs: 0, groups: [ph.group] } };
    const m = await this.#step(asMeasure, [ph.group], 100);
    // Silent peers answer nothing, so the window has no throughput or latency to speak of.
    m.step.throughput = null;
    m.step.latencyUs = null;
    this.#record(m.step, m.raw, m.results, [ph.group], false);
    return m.results;
  }

  async #cooldown(ph: Extract<Phase, { kind: 'cooldown' }>): Promise<void> {
    const closing = [...this.#drivers].map(async ([name, d]) => this.#held.set(name, (await d.ramp(0, 0, 10_000)).established));
    await this.guard.wait(Promise.all(closing), 25_000, this.where);
    await this.guard.sleep(ph.durationMs, this.where);
  }

  /**
   * A driver's warnings, said where they arose: the phase, and the group when it is not the
   * scenario's main load (a publisher's failed connections are not its subscribers').
   */
  #driverWarnings(group: string, ws: readonly string[] | undefined): void {
    for (const w of ws ?? []) this.warnings.push(`${this.where}${group !== MAIN_GROUP ? `, group ${group}` : ''}: ${w}`);
  }

  /**
   * Adds a step: the driver errors and warnings since the last one (results in the order of the
   * groups that ran), and whether the fits use it.
   */
  #record(step: StepRecord, raw: Step, results: readonly RunResult[], groups: readonly string[], fit: boolean): void {
    results.forEach((r, k) => {
      this.#driverWarnings(groups[k] ?? MAIN_GROUP, r.warnings);
      // The warm-up is part of the load since the previous step, and so are its errors.
      if (r.warmupErrors !== undefined) addErrors(this.#errors, r.warmupErrors);
      addErrors(this.#errors, r.errors);
      this.clientBound = (this.clientBound ?? false) || r.clientBound;
    });
    step.errors = { ...this.#errors };
    raw.errors = step.errors;
    this.#errors = emptyErrors();
    const reap = step.reap;
    if (reap !== undefined && reap.target > 0 && reap.ms === null) {
      this.warnings.push(`${step.label ?? 'a step'}: the server closed ${reap.closedByServer} of the ${reap.target} silent connections of ${reap.group} within ${Math.round(step.windowMs / 100) / 10} s`);
    }
    this.steps.push(step);
    this.fitInputs.push(raw);
    if (fit) this.fitted.push(this.steps.length - 1);
  }

  /**
   * One measured step at the current connection count. With a load (`running` names the driver
   * groups that apply theirs), throughput and latency come from the first group; a group in
   * `stall` mode is watched until the server has closed as many connections as it held.
   */
  async #step(ph: MeasurePhase, running: readonly string[], pollMs = 250): Promise<{ step: StepRecord; raw: Step; results: RunResult[] }> {
    const h = this.#contenderHandle();
    const w = ph.run === undefined ? await this.#idleWindow(h, ph) : await this.#loadWindow(h, ph.run, running, pollMs);
    const { step, raw } = buildStep({ ...w, label: ph.label ?? null, kernel0: this.kernel0, running, protocolErrors0: this.#protocolErrors0 });
    return { step, raw, results: w.results };
  }

  /** The contender's stats, its workers given STATS_WAIT_MS to answer and the guard a second more. */
  #serverStats(h: ContenderHandle): Promise<ContenderStats> {
    return this.guard.wait(h.stats(STATS_WAIT_MS), STATS_WAIT_MS + 1000, this.where);
  }

  async #readServer(h: ContenderHandle): Promise<{ mem: ProcessesSample; stats: ContenderStats; statsAt: number; kernel: KernelSample }> {
    const mem = sampleProcesses(h.measuredPids, { pss: true, fds: true });
    const { stats, at } = await this.#serverStatsAt(h);
    return { mem, stats, statsAt: at, kernel: sampleKernel() };
  }

  /**
   * The contender's stats and when its counters were read: the middle of the request's round
   * trip (Date.now() ms), not either end of it.
   */
  async #serverStatsAt(h: ContenderHandle): Promise<{ stats: ContenderStats; at: number }> {
    const asked = Date.now();
    const stats = await this.#serverStats(h);
    return { stats, at: (asked + Date.now()) / 2 };
  }

  /** The load window: CPU from the end of the warm-up, memory and connections near the end of the window. */
  async #loadWindow(h: ContenderHandle, run: NonNullable<MeasurePhase['run']>, running: readonly string[], pollMs: number): Promise<Window> {
    const where = this.where;
    const { durationMs } = run;
    const warmupMs = run.warmupMs ?? 0;
    const groups = running.map((n) => this.#group(n));
    const silent = running.find((n) => this.#loads.get(n)?.mode === 'stall');
    let target = 0;
    let first = 0;
    if (silent !== undefined) {
      target = (await this.guard.wait(this.#group(silent).stats(), 10_000, where)).connections;
      first = (await this.#serverStats(h)).total.connectionsNow;
    }
    const t0 = Date.now();
    const runs = Promise.all(groups.map((d) => d.run(durationMs, warmupMs)));
    runs.catch(() => {});
    const watching = silent === undefined ? null : watchServer(h, t0, first, pollMs, runs, durationMs + warmupMs + 20_000);
    // The driver counts only after its warm-up, so server CPU is read from the same moment.
    await this.guard.sleep(warmupMs, where);
    // The host's speed is probed over the window (host-probe.ts); made before it, as it warms its
    // work, and stopped however the window ends.
    const probe = new HostProbeWindow();
    try {
      const cpu0 = sampleProcesses(h.measuredPids, { pss: false, fds: false, threadCpu: true });
      const t1 = Date.now();
      // The server's CPU is read again where the driver's count ends, durationMs after its
      // warm-up, not when its results arrive: h2load's log of 8.7 million pipelined requests took
      // 3.3 s to read, and those 3.3 s of an idle server in the window made its CPU per request a
      // quarter too small (windowMs 13.3 s for 10 s of requests).
      const cpuEnd = this.guard
        .sleep(durationMs, where)
        .then(() => ({ cpu1: sampleProcesses(h.measuredPids, { pss: false, fds: false, threadCpu: true }), at: Date.now(), host: probe.end() }));
      cpuEnd.catch(() => {});
      // The engine's syscall counters at the start of the window and again with the memory near
      // its end, each timed at the middle of its stats request (not at its answer and before the
      // end's memory sample, which made the interval short by both), for syscalls per operation.
      const start = await this.#serverStatsAt(h);
      const extra0 = start.stats.total.extra;
      const tc0 = start.at;
      // Memory and connections are read near the end of the window, while the load still holds
      // its connections: a driver may close them as soon as its run ends (autocannon does).
      await this.guard.sleep(Math.max(0, durationMs - Math.min(500, durationMs * 0.2) - (Date.now() - t1)), where);
      const server = await this.#readServer(h);
      const tc1 = server.statsAt;
      const results = await this.guard.wait(runs, durationMs + warmupMs + 15_000, where);
      const { cpu1, at, host } = await cpuEnd;
      const windowMs = at - t1;
      results.forEach((r, i) => this.#held.set(running[i] ?? MAIN_GROUP, r.connections));
      let reap: ReapRecord | undefined;
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
      return { ...server, cpu0, cpu1, windowMs, host, driverConnections: this.#current(), results, reap, counters0: { extra: extra0, msBeforeEnd: tc1 - tc0 } };
    } finally {
      probe.end();
    }
  }

  /**
   * The idle window: collect V8's garbage in every contender process, then wait until the
   * committed heap holds still across two checks a second apart (at most 8 s). Right after
   * start-up V8 keeps shrinking its heap for seconds whatever we collect; sampled then, the
   * shrink reads as a negative per-connection cost (measured: 3 MB per worker).
   */
  async #idleWindow(h: ContenderHandle, ph: MeasurePhase): Promise<Window> {
    const where = this.where;
    let lastHeap: number | null = null;
    for (let i = 0; i < 8; i++) {
      await this.guard.wait(h.gc(), 30_000, where);
      const heap = (await this.#serverStats(h)).total.heapTotalBytes;
      // No V8 heap to wait for (c-ref), or it held still.
      if (heap === null || heap === lastHeap) break;
      lastHeap = heap;
      await this.guard.sleep(1000, where);
    }
    await this.guard.sleep(ph.settleMs ?? 500, where);
    const probe = new HostProbeWindow();
    const cpu0 = sampleProcesses(h.measuredPids, { pss: false, fds: false, threadCpu: true });
    const t0 = Date.now();
    let host: HostProbeReading | null;
    try {
      if ((ph.holdMs ?? 0) > 0) await this.guard.sleep(ph.holdMs ?? 0, where);
    } finally {
      host = probe.end();
    }
    const cpu1 = sampleProcesses(h.measuredPids, { pss: false, fds: false, threadCpu: true });
    const windowMs = Date.now() - t0;
    const server = await this.#readServer(h);
    const counts = await this.guard.wait(Promise.all([...this.#drivers.values()].map((d) => d.stats())), 10_000, where);
    const driverConnections = counts.reduce((a, c) => a + c.connections, 0);
    return { ...server, cpu0, cpu1, windowMs, host, driverConnections, results: [], reap: undefined };
  }

  // ---- teardown ---------------------------------------------------------------------------

  /** Closes every driver process within boundMs; any still running then is killed by pid. */
  async closeDrivers(boundMs: number): Promise<void> {
    if (this.#drivers.size === 0) return;
    await bounded(Promise.all([...this.#drivers.values()].map((d) => d.close())), boundMs);
    for (const t of this.#o.tracker.alive().filter((x) => x.role === 'driver')) killTracked(t);
  }

  /** Stops the contender (once: a later call gets the first call's report, whatever its options). */
  async stopContender(o: StopOptions): Promise<StopReport> {
    this.#stopReport = await this.#contenderHandle().stop(o);
    return this.#stopReport;
  }

  /** Ends everything the session started: sampler, drivers, then the contender. */
  async teardown(o: { driversBoundMs: number; stop: StopOptions }): Promise<void> {
    this.#sampler?.stop();
    await this.closeDrivers(o.driversBoundMs);
    if (this.#handle !== null) await this.stopContender(o.stop);
  }
}

/** What a measure window read, for buildStep. */
interface Window {
  mem: ProcessesSample;
  stats: ContenderStats;
  kernel: KernelSample;
  cpu0: ProcessesSample;
  cpu1: ProcessesSample;
  windowMs: number;
  host: HostProbeReading | null;
  driverConnections: number;
  results: RunResult[];
  reap: ReapRecord | undefined;
  counters0?: StepReadings['counters0'];
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
    const rss = sampleProcesses(h.measuredPids, { pss: false, fds: false }).total.rssBytes;
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
