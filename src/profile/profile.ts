// One profile: a contender started under a profiler, loaded by c1m's own driver once it says it
// is ready, stopped with one SIGINT so that it ends normally and the profiler writes its data,
// then the profiler's own output turned into something to open. Every step has a bound, and
// every process started here is gone when profileContender returns, whatever happened.

import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { errorMessage as message } from '../checks.js';
import { checkLimit, defaultOf } from '../limits.js';
import { ContenderUnavailableError, DEFAULT_HOST, type ContenderHandle, type StopReport } from '../contenders/index.js';
import { DriverUnavailableError, type DriverName } from '../drivers/driver-contract.js';
import { reasonsText } from '../drivers/merge.js';
import { Guard, Interrupted, ProcessDied } from '../runner/guard.js';
import { fileTimestamp } from '../runner/output.js';
import { planScenario, PreflightRefusal, type ScenarioPlan } from '../runner/plan.js';
import { isSameProcess, killTracked, ProcessTracker, type Tracked } from '../runner/processes.js';
import { MAIN_GROUP } from '../runner/scenario.js';
import { Session } from '../runner/session.js';
import { readSystem } from '../system/limits.js';
import { DEFAULT_CONNECT_RATE } from '../system/preflight.js';
import { checkCpuProfile, checkHeapProfile, foldCpuProfile, foldHeapProfile, formatFolded, topFrames, type Folded } from './fold.js';
import { renderFlameGraph } from './flamegraph.js';
import { perfScriptFolded, recordedSamples } from './perf.js';
import { findExecutable } from '../system/which.js';
import { defaultCallGraph, isClinicTool, perfPath, recipe, toolAvailable, V8_LOG } from './tools.js';
import { PROFILE_TOOLS, type ProfileOptions, type ProfilePids, type ProfileResult } from './profile-contract.js';

export const PROFILE_ROOT = join('results', 'profiles');
export const DEFAULT_EXIT_TIMEOUT_MS = 15_000;
export const DEFAULT_ANALYSIS_TIMEOUT_MS = 120_000;
export const DEFAULT_FREQUENCY_HZ = defaultOf('profileFrequencyHz');
const READY_TIMEOUT_MS = 30_000;
/**
 * How long closing the drivers may take before any still running is killed: above a driver's
 * own close (closeTimeoutMs 1500 below, then SIGTERM and SIGKILL 2 s apart), so it is never cut short.
 */
const DRIVER_CLOSE_BOUND_MS = 6000;
/** The repository root, cut from script paths in frame names. */
const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** results/profiles/<scenario>/<contender>/<tool>-<UTC timestamp> under root. */
export function defaultProfileDir(scenario: string, contender: string, tool: string, startedAt: string, root = PROFILE_ROOT): string {
  return join(root, scenario, contender, `${tool}-${fileTimestamp(startedAt)}`);
}

const TRACE_LOG = /^node_trace\.\d+\.log$/;

/**
 * Removes node's trace-event logs (node_trace.N.log) from dirs: a killed clinic run leaves them
 * behind, and the next doctor run refuses to start while one is in its working directory.
 * Returns the files removed.
 */
export function cleanTraceLogs(dirs: readonly string[]): string[] {
  const removed: string[] = [];
  for (const dir of new Set(dirs.map((d) => resolve(d)))) {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      continue;
    }
    for (const name of names) {
      if (!TRACE_LOG.test(name)) continue;
      try {
        unlinkSync(join(dir, name));
        removed.push(join(dir, name));
      } catch {
        // Gone already, or not ours to remove.
      }
    }
  }
  return removed;
}

/** Fields 4 (ppid) and 5 (pgrp) of /proc/<pid>/stat, or null when the process is gone. */
function parentAndGroup(pid: number): { ppid: number; pgrp: number } | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(rest[1]), pgrp: Number(rest[2]) };
  } catch {
    return null;
  }
}

/** node's perf maps in /tmp (--perf-basic-prof writes /tmp/perf-<pid>.map) → their pids. */
function perfMaps(): Map<string, number> {
  const out = new Map<string, number>();
  try {
    for (const name of readdirSync('/tmp')) {
      const m = /^perf-(\d+)\.map$/.exec(name);
      if (m !== null) out.set(join('/tmp', name), Number(m[1]));
    }
  } catch {
    // No /tmp to read.
  }
  return out;
}

/**
 * Removes the perf map of a contender that died before it said ready (its pid was never
 * reported): maps that appeared since `before` was taken, whose process is gone.
 */
function removeOrphanMaps(before: ReadonlyMap<string, number>): void {
  for (const [path, pid] of perfMaps()) {
    if (before.has(path) || existsSync(`/proc/${pid}`)) continue;
    rmSync(path, { force: true });
  }
}

/** True once none of the tracked processes runs, false if one still does after ms. */
async function waitGone(tracked: readonly Tracked[], ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (!tracked.some(isSameProcess)) return true;
    const left = deadline - Date.now();
    if (left <= 0) return false;
    await new Promise((r) => setTimeout(r, Math.min(50, left)));
  }
}

function listFiles(dir: string): string[] {
  try {
    return readdirSync(dir)
      .map((name) => (statSync(join(dir, name)).isDirectory() ? `${name}/` : name))
      .sort();
  } catch {
    return [];
  }
}

function lastLines(text: string | null | undefined, n = 4): string {
  const t = (text ?? '').trim();
  return t === '' ? '' : t.split('\n').slice(-n).join(' | ');
}

/** Moves a file, also across file systems (/tmp may be tmpfs). */
function moveFile(from: string, to: string): void {
  try {
    renameSync(from, to);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
    copyFileSync(from, to);
    unlinkSync(from);
  }
}

function checkOptions(o: ProfileOptions): void {
  if (!(PROFILE_TOOLS as readonly string[]).includes(o.tool)) throw new RangeError(`unknown tool "${String(o.tool)}"; known: ${PROFILE_TOOLS.join(', ')}`);
  checkLimit('connections', o.connections);
  if (!(Number.isFinite(o.durationSec) && o.durationSec > 0)) throw new RangeError(`duration must be above 0 s, got ${o.durationSec}`);
  if (o.frequencyHz !== undefined) checkLimit('profileFrequencyHz', o.frequencyHz, 'frequency (Hz)');
  if (o.callGraph !== undefined && o.callGraph !== 'fp' && o.callGraph !== 'dwarf') throw new RangeError(`call graph must be fp or dwarf, got ${String(o.callGraph)}`);
  if (o.driver !== 'native' && o.protocol !== 'http-hello') throw new RangeError(`the ${o.driver} driver speaks HTTP only (http-hello); use the native driver for ${o.protocol}`);
}

/**
 * Profiles one contender under load. Resolves with what was written, or why nothing could be
 * (status unavailable: the tool or contender cannot run here; failed: it ran and broke). Rejects
 * only for bad options (RangeError, TypeError).
 */
export async function profileContender(o: ProfileOptions): Promise<ProfileResult> {
  checkOptions(o);
  const log = o.log ?? (() => {});
  const tracker = o.tracker ?? new ProcessTracker();
  const outDir = resolve(o.outDir);
  const exitTimeoutMs = o.exitTimeoutMs ?? DEFAULT_EXIT_TIMEOUT_MS;
  const analysisTimeoutMs = o.analysisTimeoutMs ?? DEFAULT_ANALYSIS_TIMEOUT_MS;
  const callGraph = o.callGraph ?? defaultCallGraph(o.contender);
  const startedAt = new Date().toISOString();
  const warnings: string[] = [];
  const pids: ProfilePids = { contender: null, wrapper: null, drivers: [] };
  const result: ProfileResult = {
    status: 'ok',
    reason: null,
    scenario: o.scenario,
    contender: o.contender,
    protocol: o.protocol,
    tool: o.tool,
    dir: outDir,
    open: null,
    files: [],
    startedAt,
    finishedAt: startedAt,
    load: { driver: o.driver, mode: o.load.mode, connectionsAsked: o.connections, connectionsEstablished: null, run: null },
    top: null,
    exit: null,
    interrupted: false,
    warnings,
    pids,
  };
  const finish = (status: ProfileResult['status'], reason: string | null): ProfileResult => {
    if (result.status === 'ok') {
      result.status = status;
      result.reason = reason;
    }
    return result;
  };

  if (existsSync(outDir) && readdirSync(outDir).length > 0) throw new RangeError(`output directory ${outDir} is not empty`);
  mkdirSync(outDir, { recursive: true });

  const available = toolAvailable(o.tool);
  if (available !== true) return write(outDir, finish('unavailable', available));

  let plan: ScenarioPlan;
  try {
    plan = planScenario({
      contenders: [o.contender],
      protocol: o.protocol,
      connections: o.connections,
      connectRatePerSec: o.connectRatePerSec ?? 0,
      readings: readSystem(),
      // A profiler follows one process: the whole load goes to one contender worker.
      workers: 1,
      driver: o.driver,
    });
  } catch (err) {
    if (err instanceof PreflightRefusal) {
      log(err.text);
      return write(outDir, finish('failed', err.message));
    }
    throw err;
  }
  for (const w of plan.warnings) warnings.push(`preflight: ${w}`);

  const clinic = isClinicTool(o.tool);
  if (clinic) {
    const stale = cleanTraceLogs([process.cwd()]);
    if (stale.length > 0) warnings.push(`removed trace logs left by an earlier run: ${stale.join(', ')}`);
  }

  const r = recipe({ tool: o.tool, outDir, analysisTimeoutMs: Math.max(1000, analysisTimeoutMs - 2000), callGraph, frequencyHz: o.frequencyHz ?? DEFAULT_FREQUENCY_HZ });
  // setsid: the profiler and the contender get a session (and process group) of their own, so a
  // Ctrl-C typed at c1m reaches neither (the contender gets exactly one SIGINT, from us, and a
  // second one would make it exit at once), and the group can be killed as one at the end.
  const setsid = findExecutable('setsid');
  if (setsid === null) warnings.push('setsid is not on PATH: the profiler shares our process group, so Ctrl-C also reaches it directly');
  const pin = o.pin === true ? (findExecutable('taskset') === null ? null : ['taskset', '-c', '0']) : [];
  if (pin === null) warnings.push('--pin ignored: taskset is not on PATH');
  const wrap = [...(setsid === null ? [] : [setsid]), ...(pin ?? []), ...r.wrap];
  log(`profile: ${o.contender} × ${o.protocol} under ${o.tool}${o.tool === 'perf' ? ` (call graph ${callGraph})` : ''}; output in ${outDir}`);

  const mapsBefore = o.tool === 'perf' ? perfMaps() : null;
  // The session walks the profile's two phases, a ramp and the load, as the runner walks a
  // scenario's; the contender's start (under the profiler) and its stop (one SIGINT) are ours.
  const session = new Session({
    contender: o.contender,
    protocol: o.protocol,
    guard: new Guard(o.signal),
    tracker,
    where: (ph) => (ph.kind === 'ramp' ? 'the ramp' : 'the load'),
  });
  let group: number | null = null;
  const ownGroup = parentAndGroup(process.pid)?.pgrp ?? -1;
  const profiled: Tracked[] = [];
  let stopReport: StopReport | null = null;

  // The kernel hands out no pid that is still some process group's id, so while any member of
  // the group lives, the group is the one setsid made for our profiler.
  const killGroup = (): void => {
    if (group === null || group === ownGroup || group <= 1) return;
    try {
      process.kill(-group, 'SIGKILL');
    } catch {
      // Every member is gone.
    }
  };
  let died: string | null = null;

  try {
    // ---- start the contender under the profiler
    let handle: ContenderHandle;
    try {
      handle = await session.startContender({
        options: {
          host: DEFAULT_HOST,
          workers: 1,
          limits: { ...o.limits, backlog: plan.listenBacklog },
          // The clinic wrappers and perf pass stdin and stdout on but not an IPC channel.
          control: 'stdio',
          stderr: 'pipe',
          readyTimeoutMs: READY_TIMEOUT_MS,
          wrap,
          execArgv: r.execArgv,
          env: r.env,
        },
        name: () => `${o.contender}/${o.protocol}`,
      });
    } catch (err) {
      if (err instanceof ContenderUnavailableError) return write(outDir, finish('unavailable', err.message));
      return write(outDir, finish('failed', `the contender did not start under ${o.tool}: ${message(err)}`));
    }
    const worker = handle.workers[0];
    if (worker === undefined) return write(outDir, finish('failed', 'the contender reported no worker'));
    pids.contender = worker.pid;
    const rel = parentAndGroup(worker.pid);
    if (rel !== null) {
      if (rel.ppid !== process.pid && rel.ppid > 1) pids.wrapper = rel.ppid;
      if (rel.pgrp !== ownGroup) group = rel.pgrp;
    }
    profiled.push(...session.contenderProcs);
    if (pids.wrapper !== null) profiled.push(tracker.add(pids.wrapper, 'contender', `${o.tool} profiler`));
    log(`profile: contender pid ${worker.pid} on ${handle.host}:${worker.port}${pids.wrapper === null ? '' : ` under ${o.tool} (pid ${pids.wrapper})`}`);

    // ---- the load
    // A driver answers commands in order, so a close during a run (Ctrl-C) waits for this
    // long before SIGTERM ends it; after a finished run it answers at once.
    const driverOpts = { stderr: 'pipe' as const, closeTimeoutMs: 1500, ...(o.pin === true && pin !== null ? { cpu: 1 } : {}) };
    let driverName = o.driver;
    const startDrivers = (driver: DriverName): Promise<void> =>
      session.startDrivers({
        driver,
        groups: [{ name: MAIN_GROUP, load: o.load, processes: plan.driverProcesses }],
        sourceAddresses: driver === 'native' ? plan.sourceAddresses : [],
        options: driverOpts,
        boundMs: 30_000,
      });
    try {
      try {
        await startDrivers(driverName);
      } catch (err) {
        if (!(err instanceof DriverUnavailableError) || driverName === 'native') throw err;
        warnings.push(`the ${driverName} driver is unavailable (${err.message}); the native driver applies the load instead`);
        driverName = 'native';
        result.load.driver = driverName;
        await startDrivers(driverName);
      }
      pids.drivers.push(...(session.drivers.get(MAIN_GROUP)?.pids ?? []));
      const rate = o.connectRatePerSec ?? 0;
      const rampTimeoutMs = Math.max(10_000, (2 * o.connections * 1000) / (rate > 0 ? rate : DEFAULT_CONNECT_RATE) + 5000);
      log(`profile: ramping ${o.connections} connection(s) with the ${driverName} driver`);
      const { ramp } = await session.phase({ kind: 'ramp', connections: o.connections, ratePerSec: rate, timeoutMs: rampTimeoutMs }, 0);
      if (ramp !== undefined) {
        result.load.connectionsEstablished = ramp.established;
        if (ramp.established < ramp.target) {
          const why = reasonsText(ramp.connectErrors);
          warnings.push(`ramp to ${ramp.target} established ${ramp.established}${why === '' ? '' : ` (${why})`}`);
        }
      }
      const durationMs = Math.round(o.durationSec * 1000);
      log(`profile: ${o.load.mode} load for ${o.durationSec} s`);
      const run = (await session.phase({ kind: 'warmup', durationMs }, 1)).results?.[0];
      if (run !== undefined) {
        result.load.run = { durationMs: run.durationMs, ops: run.ops, opsPerSec: run.opsPerSec, errors: run.errors, clientBound: run.clientBound };
        for (const w of run.warnings ?? []) warnings.push(w);
      }
    } catch (err) {
      if (err instanceof Interrupted) {
        result.interrupted = true;
        warnings.push('interrupted: the load was stopped early; the profile covers what ran');
      } else if (err instanceof ProcessDied) {
        died = err.message;
      } else if (session.drivers.size === 0) {
        finish('failed', `no load was applied: ${message(err)}`);
      } else {
        warnings.push(`the load failed: ${message(err)}; the profile covers what ran`);
      }
    }
    await session.closeDrivers(DRIVER_CLOSE_BOUND_MS);

    // ---- stop: one SIGINT to the contender, which drains and lets its loop end, so that the
    // profiler (which hooks the process's exit) writes its data; then the profiler's own work.
    log(`profile: stopping the contender (SIGINT); waiting for ${o.tool} to write its output`);
    const stopping = session.stopContender({ signal: 'SIGINT', killAfterMs: exitTimeoutMs + analysisTimeoutMs });
    const exitedInTime = await waitGone(profiled.slice(0, 1), exitTimeoutMs);
    if (!exitedInTime) {
      killGroup();
      for (const t of profiled) killTracked(t);
      const why =
        o.tool === 'bubbleprof'
          ? `bubbleprof: the contender did not exit within ${exitTimeoutMs / 1000} s of SIGINT: @clinic/bubbleprof's ` +
            'logger keeps node alive at exit (on Node 20 its write stream may never close); the process group was killed and no report was written'
          : `the contender did not exit within ${exitTimeoutMs / 1000} s of SIGINT under ${o.tool}; it was killed, so no profile was written`;
      finish(o.tool === 'bubbleprof' ? 'unavailable' : 'failed', why);
    }
    stopReport = await stopping;
    const w0 = stopReport.workers[0];
    if (w0 !== undefined) result.exit = { code: w0.code, signal: w0.signal, killed: w0.killed, ms: w0.ms };
    if (died !== null) finish('failed', `${died}${lastLines(w0?.stderr) === '' ? '' : `; its last words: ${lastLines(w0?.stderr)}`}`);
    if (w0?.killed === true) finish('failed', `${o.tool} did not finish within ${Math.round((exitTimeoutMs + analysisTimeoutMs) / 1000)} s and was killed${lastLines(w0.stderr) === '' ? '' : `: ${lastLines(w0.stderr)}`}`);
    killGroup();

    // ---- what to open
    if (result.status === 'ok') {
      try {
        await collectOutput(o, result, outDir, stopReport, callGraph, analysisTimeoutMs, warnings);
      } catch (err) {
        finish('failed', message(err));
      }
    }
  } finally {
    // Whatever happened above, nothing we started outlives this call.
    await session.teardown({ driversBoundMs: DRIVER_CLOSE_BOUND_MS, stop: { signal: 'SIGINT', killAfterMs: 2000 } }).catch(() => {});
    killGroup();
    for (const t of profiled) killTracked(t);
    await waitGone(profiled, 2000);
    if (pids.contender !== null) rmSync(`/tmp/perf-${pids.contender}.map`, { force: true });
    else if (mapsBefore !== null) removeOrphanMaps(mapsBefore);
    if (clinic) cleanTraceLogs([outDir, process.cwd()]);
  }
  return write(outDir, result);
}

async function collectOutput(o: ProfileOptions, result: ProfileResult, outDir: string, stop: StopReport, callGraph: string, analysisTimeoutMs: number, warnings: string[]): Promise<void> {
  const w0 = stop.workers[0];
  const tail = lastLines(w0?.stderr);
  const exitNote = w0 === undefined ? '' : ` (the profiler exited with ${w0.signal ?? `code ${w0.code}`}${tail === '' ? '' : `: ${tail}`})`;
  const strip = [REPO_ROOT];
  if (isClinicTool(o.tool)) {
    const manifest = join(outDir, 'clinic.json');
    if (!existsSync(manifest)) throw new Error(`clinic ${o.tool} wrote no report${exitNote}`);
    const { html } = JSON.parse(readFileSync(manifest, 'utf8')) as { html: string };
    if (!existsSync(html)) throw new Error(`clinic ${o.tool} named ${html}, which does not exist`);
    result.open = html;
    return;
  }
  if (o.tool === 'cpu-prof' || o.tool === 'heap-prof') {
    const ext = o.tool === 'cpu-prof' ? '.cpuprofile' : '.heapprofile';
    const file = readdirSync(outDir).find((f) => f.endsWith(ext));
    if (file === undefined) throw new Error(`node wrote no ${ext} file: the contender did not exit normally${exitNote}`);
    const path = join(outDir, file);
    const profile = JSON.parse(readFileSync(path, 'utf8')) as unknown;
    const cpu = o.tool === 'cpu-prof';
    let folded: Folded;
    if (cpu) {
      checkCpuProfile(profile);
      folded = foldCpuProfile(profile, strip);
    } else {
      checkHeapProfile(profile);
      folded = foldHeapProfile(profile, strip);
    }
    const unit = cpu ? 'samples' : 'bytes';
    const top = topFrames(folded, 15);
    result.top = { ...top, unit };
    const base = cpu ? 'cpu' : 'heap';
    writeFileSync(join(outDir, `${base}.folded`), formatFolded(folded));
    writeFileSync(
      join(outDir, `${base}-flamegraph.svg`),
      renderFlameGraph(folded, {
        title: `${o.contender} × ${o.protocol}: ${cpu ? 'V8 CPU profile (JavaScript only)' : 'V8 sampling heap profile (bytes allocated, still live at exit)'}`,
        subtitle: subtitle(o, result),
        unit,
      }),
    );
    result.open = path;
    return;
  }
  // perf
  const data = join(outDir, 'perf.data');
  if (!existsSync(data)) throw new Error(`perf wrote no perf.data${exitNote}`);
  const pid = result.pids.contender;
  const map = pid === null ? null : `/tmp/perf-${pid}.map`;
  const perf = perfPath() ?? 'perf';
  const script = await perfScriptFolded(perf, data, analysisTimeoutMs, strip);
  if (script.samples === 0) throw new Error(`perf recorded no samples${exitNote}`);
  const recorded = recordedSamples(w0?.stderr ?? null);
  if (/lost \d+ (chunks|samples)/i.test(script.stderr)) warnings.push(`perf: ${lastLines(script.stderr, 2)}`);
  // The JIT map is needed again only to re-run perf script on perf.data: it goes with it.
  if (map !== null && existsSync(map)) moveFile(map, join(outDir, `perf-${pid}.map`));
  rmSync(join(outDir, V8_LOG), { force: true });
  writeFileSync(join(outDir, 'perf.folded'), formatFolded(script.folded));
  // Depth 1 is the thread name, which would top the inclusive list at 100 %.
  const top = topFrames(script.folded, 15, 1);
  result.top = { ...top, unit: 'samples' };
  writeFileSync(
    join(outDir, 'flamegraph.svg'),
    renderFlameGraph(script.folded, {
      title: `${o.contender} × ${o.protocol}: perf, cpu-clock at ${o.frequencyHz ?? DEFAULT_FREQUENCY_HZ} Hz, call graph ${callGraph}`,
      subtitle: `${subtitle(o, result)} · ${script.samples} samples${recorded !== null && recorded !== script.samples ? ` (${recorded} recorded)` : ''}`,
    }),
  );
  result.open = join(outDir, 'flamegraph.svg');
}

function subtitle(o: ProfileOptions, result: ProfileResult): string {
  const run = result.load.run;
  const rate = run === null ? 'load did not complete' : `${Math.round(run.opsPerSec).toLocaleString('en-US')} ops/s over ${(run.durationMs / 1000).toFixed(1)} s`;
  return `scenario ${o.scenario} · ${result.load.driver} driver, ${o.load.mode} loop, ${result.load.connectionsEstablished ?? 0}/${o.connections} connections · ${rate}`;
}

/** Writes profile.json (how the profile was taken) and fills in the file list. */
function write(outDir: string, result: ProfileResult): ProfileResult {
  result.finishedAt = new Date().toISOString();
  result.files = [...new Set([...listFiles(outDir), 'profile.json'])].sort();
  writeFileSync(join(outDir, 'profile.json'), `${JSON.stringify(result, null, 2)}\n`);
  return result;
}
