// What each profiler needs on this machine, and how a contender is started under it: the command
// put in front of node (`wrap`), node's own flags and the environment.

import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findExecutable } from '../system/which.js';
import { CLINIC_PACKAGES, CLINIC_TOOLS, type CallGraph, type ClinicTool, type ProfileTool } from './profile-contract.js';

const require = createRequire(import.meta.url);

/** V8's code log, a by-product of --perf-basic-prof, removed after the run. */
export const V8_LOG = 'v8.log';

export const CLINIC_WRAPPER_PATH = fileURLToPath(new URL('./clinic-wrapper.js', import.meta.url));

export function isClinicTool(tool: ProfileTool): tool is ClinicTool {
  return (CLINIC_TOOLS as readonly string[]).includes(tool);
}

export function perfPath(): string | null {
  return findExecutable('perf', { extraDirs: ['/usr/bin', '/usr/sbin', '/usr/local/bin'] });
}

function paranoid(): string {
  try {
    return spawnSync('cat', ['/proc/sys/kernel/perf_event_paranoid'], { encoding: 'utf8', timeout: 2000 }).stdout.trim();
  } catch {
    return 'unknown';
  }
}

let perfVerdict: true | string | undefined;

/**
 * true when `perf` can sample a process here, or the reason it cannot: not installed, or not
 * allowed (kernel.perf_event_paranoid above 1 for a user without CAP_PERFMON, or a container
 * without perf_event_open). Checked once per process with a sampled `true`.
 */
export function perfAvailable(): true | string {
  if (perfVerdict !== undefined) return perfVerdict;
  const perf = perfPath();
  if (perf === null) {
    perfVerdict = 'perf is not installed (apt-get install -y linux-perf)';
    return perfVerdict;
  }
  const r = spawnSync(perf, ['stat', '-e', 'cpu-clock', '-x', ',', '--', 'true'], { encoding: 'utf8', timeout: 10_000 });
  if (r.error !== undefined || r.status !== 0) {
    const why = (r.error?.message ?? r.stderr ?? '').trim().split('\n').slice(-2).join(' | ');
    perfVerdict =
      `perf cannot sample here (${why || `exit ${r.status}`}); kernel.perf_event_paranoid is ${paranoid()}: ` +
      'run as root, or sysctl -w kernel.perf_event_paranoid=1';
    return perfVerdict;
  }
  perfVerdict = true;
  return perfVerdict;
}

/**
 * Why clinic doctor cannot run on Node `version`, or null when it can: it does not work from
 * Node 21.7 on (clinicjs/node-clinic#480; the proposed fix, clinicjs/node-clinic-doctor#383, is
 * an open pull request), so it is refused before anything starts.
 */
export function clinicDoctorBroken(version: string): string | null {
  const [major = 0, minor = 0] = version.replace(/^v/, '').split('.').map(Number);
  if (major < 21 || (major === 21 && minor < 7)) return null;
  return (
    `clinic doctor does not work on Node ≥ 21.7 (this is ${version.replace(/^v?/, 'v')}; upstream bug clinicjs/node-clinic#480): ` +
    'use --tool cpu-prof (where the CPU goes, from V8) or --tool perf (native, kernel and JavaScript frames), or run doctor under Node 20'
  );
}

/** true when the clinic tool can run here (its package resolves, and doctor works on this Node), or the reason it cannot. */
export function clinicAvailable(tool: ClinicTool, nodeVersion = process.versions.node): true | string {
  if (tool === 'doctor') {
    const broken = clinicDoctorBroken(nodeVersion);
    if (broken !== null) return broken;
  }
  try {
    require.resolve(CLINIC_PACKAGES[tool]);
    return true;
  } catch {
    return `${CLINIC_PACKAGES[tool]} is not installed (npm install --save clinic)`;
  }
}

/** Whether tool can run here: true, or the reason it cannot. */
export function toolAvailable(tool: ProfileTool): true | string {
  if (isClinicTool(tool)) return clinicAvailable(tool);
  if (tool === 'perf') return perfAvailable();
  // --cpu-prof and --heap-prof are node's own (since 12 and 12.4).
  return true;
}

/** perf's default call graph: dwarf where the hot path is native code, fp where it is JavaScript. */
export function defaultCallGraph(contender: string): CallGraph {
  return contender === 'net' ? 'fp' : 'dwarf';
}

export interface Recipe {
  /** The command in front of node (after setsid and taskset, which the caller adds). */
  wrap: string[];
  execArgv: string[];
  env: NodeJS.ProcessEnv;
}

export interface RecipeOptions {
  tool: ProfileTool;
  outDir: string;
  analysisTimeoutMs: number;
  callGraph: CallGraph;
  frequencyHz: number;
}

/** How to start a contender under tool. */
export function recipe(o: RecipeOptions): Recipe {
  const env: NodeJS.ProcessEnv = { ...process.env };
  if (isClinicTool(o.tool)) {
    // The API needs neither, but a clinic started further down (or by hand from this
    // environment) must not ask questions or phone home.
    env['NO_INSIGHT'] = '1';
    env['NO_UPDATE_NOTIFIER'] = '1';
    return { wrap: [process.execPath, CLINIC_WRAPPER_PATH, o.tool, o.outDir, String(o.analysisTimeoutMs), '--'], execArgv: [], env };
  }
  switch (o.tool) {
    case 'cpu-prof':
      return { wrap: [], execArgv: ['--cpu-prof', '--cpu-prof-dir', o.outDir], env };
    case 'heap-prof':
      return { wrap: [], execArgv: ['--heap-prof', '--heap-prof-dir', o.outDir], env };
    case 'perf': {
      const perf = perfPath() ?? 'perf';
      // cpu-clock: a software event, because hardware counters are not available in VMs and
      // containers; -F: samples per second per CPU.
      const callGraph = o.callGraph === 'dwarf' ? ['--call-graph', 'dwarf,16384'] : ['--call-graph', 'fp'];
      return {
        wrap: [perf, 'record', '-e', 'cpu-clock', '-F', String(o.frequencyHz), ...callGraph, '-o', join(o.outDir, 'perf.data'), '--'],
        // --perf-basic-prof writes /tmp/perf-<pid>.map, which names JIT-compiled JS for perf;
        // --interpreted-frames-native-stack gives interpreted functions frames of their own.
        // --perf-basic-prof also turns V8's code log on, written to isolate-*-v8.log in the
        // working directory unless told where.
        execArgv: ['--perf-basic-prof', '--interpreted-frames-native-stack', `--logfile=${join(o.outDir, V8_LOG)}`, '--no-logfile-per-isolate'],
        env,
      };
    }
  }
  throw new RangeError(`unknown tool ${String(o.tool)}`);
}
