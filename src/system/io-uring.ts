// Can io_uring run here? Everything c1m builds on io_uring (the engine's io_uring backend, the
// `uring`, `uring-native` and `c-ref-uring` contenders) asks ioUringStatus() and, when it is not
// ok, is skipped with its reason and fix, never faked. The checks, in order, each the first that
// fails being the answer: liburing-dev was there at build time (scripts/has-liburing.mjs, as
// binding.gyp asks it, and the probe binary it gates was built), the kernel is 6.0 or later
// (multishot receive), kernel.io_uring_disabled allows it, and the probe binary
// (`c1m_ref_echo_uring --probe`) sets up a ring, a provided-buffer ring, a multishot accept and a
// multishot receive on loopback. The decision is a pure function of those readings
// (ioUringStatusOf) so each failing condition can be tested on a box where io_uring works.

import { spawnSync } from 'node:child_process';
import { accessSync, constants, readFileSync, realpathSync } from 'node:fs';
import { release } from 'node:os';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface IoUringStatus {
  ok: boolean;
  reason?: string;
  fix?: string;
  kernel: string;
  liburing?: string;
}

/** build/Release/c1m_ref_echo_uring: the io_uring C reference, and with --probe the check itself. */
export const REF_ECHO_URING_PATH = process.env['C1M_REF_ECHO_URING'] ?? fileURLToPath(new URL('../../../build/Release/c1m_ref_echo_uring', import.meta.url));

/** The oldest kernel with everything the io_uring pieces use (multishot receive is 6.0). */
export const MIN_KERNEL: readonly [number, number] = [6, 0];

const BUILD_FIX = 'apt-get install liburing-dev && npm run build:native';
const SECCOMP_REASON = "io_uring_setup denied (a seccomp profile such as Docker's or Kubernetes' default)";
const SECCOMP_FIX =
  'run with a seccomp profile that allows io_uring_setup, io_uring_enter and io_uring_register, e.g. docker run --security-opt seccomp=unconfined (Kubernetes: securityContext.seccompProfile.type: Unconfined)';

/** What the probe binary said: its first line of stdout ("ok", or the call that failed and its errno name). */
export interface ProbeResult {
  readonly status: number | null;
  readonly line: string;
}

/** The readings ioUringStatusOf decides from; ioUringStatus() takes them from this machine. */
export interface IoUringReadings {
  /** liburing's development files as scripts/has-liburing.mjs finds them (binding.gyp's c1m_uring). */
  readonly liburing: { readonly found: boolean; readonly why: string; readonly version?: string };
  /** Whether the probe binary is built (it is built only when liburing-dev was found). */
  readonly probeBuilt: boolean;
  /** The kernel release, as uname -r prints it. */
  readonly kernel: string;
  /** /proc/sys/kernel/io_uring_disabled; null when the kernel has no such knob (before 6.6: enabled). */
  readonly ioUringDisabled: number | null;
  /** Runs the probe binary; called only when every earlier check passed. */
  readonly probe: () => ProbeResult;
}

/** [major, minor] of a kernel release string ("6.1.0-18-amd64" → [6, 1]); null when it has none. */
export function kernelVersion(release: string): [number, number] | null {
  const m = /^(\d+)\.(\d+)/.exec(release);
  return m === null ? null : [Number(m[1]), Number(m[2])];
}

/** The verdict from the readings, checks in order (see the head of this file). */
export function ioUringStatusOf(r: IoUringReadings): IoUringStatus {
  const base = { kernel: r.kernel, ...(r.liburing.version !== undefined ? { liburing: r.liburing.version } : {}) };
  const no = (reason: string, fix: string): IoUringStatus => ({ ok: false, reason, fix, ...base });
  if (!r.liburing.found) return no(`built without liburing-dev (${r.liburing.why.replace(/ \(install liburing-dev.*\)$/, '')})`, BUILD_FIX);
  if (!r.probeBuilt) return no('built without liburing-dev (c1m_ref_echo_uring is not built: binding.gyp builds it only where liburing-dev was found at build time)', BUILD_FIX);
  const v = kernelVersion(r.kernel);
  const [minMajor, minMinor] = MIN_KERNEL;
  if (v === null || v[0] < minMajor || (v[0] === minMajor && v[1] < minMinor)) {
    return no(
      `kernel ${r.kernel} is older than ${minMajor}.${minMinor} (multishot receive into a provided-buffer ring needs ${minMajor}.${minMinor})`,
      `a newer kernel: Linux ${minMajor}.${minMinor} or later (Debian 12: apt-get install -t bookworm-backports linux-image-amd64, then reboot)`,
    );
  }
  const sysctl = (value: number): IoUringStatus =>
    value === 1
      ? no(
          'kernel.io_uring_disabled is 1: io_uring is refused to processes that are neither privileged nor in the group kernel.io_uring_group names',
          'sysctl -w kernel.io_uring_disabled=0 (or add this user to the group whose id is in kernel.io_uring_group)',
        )
      : no(`kernel.io_uring_disabled is ${value}: io_uring is refused to every process`, 'sysctl -w kernel.io_uring_disabled=0');
  // 2 refuses everyone. 1 refuses unprivileged processes outside io_uring_group: the probe says
  // whether this one is refused, and an EPERM from it is then the sysctl's doing.
  if (r.ioUringDisabled !== null && r.ioUringDisabled >= 2) return sysctl(r.ioUringDisabled);
  const p = r.probe();
  if (p.status === 0 && p.line === 'ok') return { ok: true, ...base };
  const line = p.line === '' ? `exit status ${p.status ?? 'null (killed)'}, nothing said` : p.line;
  if (/^io_uring_setup: (EPERM|ENOSYS|EACCES)\b/.test(line)) {
    if (r.ioUringDisabled === 1 && /EPERM/.test(line)) return sysctl(1);
    return no(`${SECCOMP_REASON}: ${line}`, SECCOMP_FIX);
  }
  return no(`the io_uring probe failed: ${line}`, `a Linux ${minMajor}.${minMinor} or later kernel built with CONFIG_IO_URING=y, and a build of this checkout (npm run build:native)`);
}

/**
 * The probe binary, run for real: bounded in time, its first stdout line. wrapper is a command
 * it runs under (a test's seccomp filter, say).
 */
export function runProbe(path = REF_ECHO_URING_PATH, wrapper: readonly string[] = []): ProbeResult {
  const [cmd = path, ...args] = [...wrapper, path, '--probe'];
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.error !== undefined) return { status: null, line: `${cmd}: ${r.error.message}` };
  return { status: r.status, line: (r.stdout ?? '').split('\n')[0]?.trim() ?? '' };
}

function readDisabled(): number | null {
  try {
    return Number(readFileSync('/proc/sys/kernel/io_uring_disabled', 'utf8').trim());
  } catch {
    return null;
  }
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** liburing's version from the library's real name (liburing.so → liburing.so.2.3 → "2.3"). */
function liburingVersion(library: string | undefined): string | undefined {
  if (library === undefined) return undefined;
  try {
    return /\.so\.(\d+(?:\.\d+)*)$/.exec(basename(realpathSync(library)))?.[1];
  } catch {
    return undefined;
  }
}

interface FoundLiburing {
  found: boolean;
  why: string;
  library?: string;
}

// scripts/has-liburing.mjs is binding.gyp's check; importing it keeps one definition of "found".
const hasLiburing = (await import(new URL('../../../scripts/has-liburing.mjs', import.meta.url).href)) as { findLiburing(): FoundLiburing };

let cached: IoUringStatus | undefined;

/** Whether io_uring can run on this machine, and if not why and the fix. Memoised per process. */
export function ioUringStatus(): IoUringStatus {
  if (cached !== undefined) return cached;
  const lib = hasLiburing.findLiburing();
  const version = liburingVersion(lib.library);
  cached = ioUringStatusOf({
    liburing: { found: lib.found, why: lib.why, ...(version !== undefined ? { version } : {}) },
    probeBuilt: isExecutable(REF_ECHO_URING_PATH),
    kernel: release(),
    ioUringDisabled: readDisabled(),
    probe: () => runProbe(),
  });
  return cached;
}

/** Throws "<reason>; fix: <fix>" when io_uring cannot run here: what every io_uring contender's probe says. */
export function assertIoUring(): void {
  const s = ioUringStatus();
  if (!s.ok) throw new Error(`${s.reason ?? 'io_uring cannot run here'}; fix: ${s.fix ?? 'none known'}`);
}
