// `c1m tune`: the kernel settings a million-connection run needs, shown against the current
// values, applied only on request (recording what was there before), and reverted from that
// record. Every read and write goes through a SysctlIO so tests use a fake and never touch
// the real kernel.
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fmtInt, nextPow2 } from './plain-format.js';
import { normalizeSysctl, parsePortRange, parseTcpMem, readSystem, sysctlPath, type SystemReadings, type TcpMem } from './limits.js';

/** Reads and writes sysctls by dotted name. read() returns null when the sysctl does not exist. */
export interface SysctlIO {
  read(key: string): string | null;
  write(key: string, value: string): void;
}

/** The real /proc/sys (or a copy of its layout under another root). */
export function procSysctlIO(root = '/proc/sys'): SysctlIO {
  const path = (key: string): string => join(root, sysctlPath(key).slice('/proc/sys/'.length));
  return {
    read(key) {
      try {
        return normalizeSysctl(readFileSync(path(key), 'utf8'));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
        throw err;
      }
    },
    write(key, value) {
      writeFileSync(path(key), `${value}\n`);
    },
  };
}

export interface TuneContext {
  /** Connections per side the settings should carry; 1,000,000 by default. */
  readonly connections: number;
  readonly pageSize: number;
  /** Caps socket-buffer memory below physical memory; null when unknown (no cap). */
  readonly memTotalBytes: number | null;
}

/**
 * Socket-buffer memory one connection pair may hold while data is in flight: one page per
 * socket, two sockets on a loopback run. It matches the ~8 KB of kernel memory measured per
 * idle pair, so tcp_mem's pressure threshold sits where a fully busy run would reach.
 */
export const SOCKET_BUFFER_BYTES_PER_PAIR = 8192;

/**
 * tcp_mem (pages) whose pressure threshold is `bytes` of socket buffers, in the kernel's own
 * 3:4:6 proportions (low:pressure:high), with high capped at three quarters of physical
 * memory so that TCP is refused memory before the OOM killer is woken.
 */
export function tcpMemFor(bytes: number, pageSize: number, memTotalBytes: number | null): TcpMem {
  let pressure = Math.ceil(bytes / pageSize);
  if (memTotalBytes !== null) {
    const capHigh = Math.floor((memTotalBytes * 0.75) / pageSize);
    pressure = Math.min(pressure, Math.floor((capHigh * 2) / 3));
  }
  return { low: Math.floor((pressure * 3) / 4), pressure, high: Math.floor((pressure * 3) / 2) };
}

interface Target {
  readonly key: string;
  readonly why: string;
  /** The value to have given the current one: the current value itself when it suffices. */
  readonly want: (current: string, ctx: TuneContext) => string;
}

// BigInt, because some values (fs.file-max = LONG_MAX under systemd) exceed 2^53.
const atLeast = (n: number) => (current: string): string =>
  /^-?\d+$/.test(current) && BigInt(current) >= BigInt(n) ? current : String(n);

function targets(ctx: TuneContext): Target[] {
  const n = ctx.connections;
  return [
    {
      key: 'fs.file-max',
      why: `system-wide open files: ${fmtInt(2 * n)} sockets (both ends on this host) plus headroom`,
      want: atLeast(nextPow2(Math.ceil(2 * n * 1.25))),
    },
    {
      key: 'fs.nr_open',
      why: 'ceiling for any process nofile limit: lets one process hold every connection if its limit is raised',
      want: atLeast(nextPow2(n + 1024)),
    },
    {
      key: 'net.ipv4.ip_local_port_range',
      why: 'ephemeral ports per (source address, destination address, destination port): 64,512 instead of 28,232; services that listen on ports above 1024 later may find them taken',
      want: (current) => {
        const r = parsePortRange(current);
        if (!r) return '1024 65535';
        const low = Math.min(r.low, 1024);
        const high = Math.max(r.high, 65535);
        return low === r.low && high === r.high ? current : `${low} ${high}`;
      },
    },
    {
      key: 'net.core.somaxconn',
      why: 'cap on each listen() backlog: a connect storm queues in the accept queue while the server is busy',
      want: atLeast(65535),
    },
    {
      key: 'net.ipv4.tcp_max_syn_backlog',
      why: 'half-open connections per listener before SYNs are dropped or answered with cookies',
      want: atLeast(65535),
    },
    {
      key: 'net.core.netdev_max_backlog',
      why: 'loopback packets pass through the per-CPU backlog queue; a connect storm overflows the default 1000 and SYNs are dropped (1 s retransmit)',
      want: atLeast(16384),
    },
    {
      key: 'net.ipv4.tcp_mem',
      why: `socket buffer pages: one page per socket in flight for ${fmtInt(n)} pairs before TCP enters memory pressure`,
      want: (current, c) => {
        const cur = parseTcpMem(current);
        const w = tcpMemFor(c.connections * SOCKET_BUFFER_BYTES_PER_PAIR, c.pageSize, c.memTotalBytes);
        if (!cur) return `${w.low} ${w.pressure} ${w.high}`;
        const low = Math.max(cur.low, w.low);
        const pressure = Math.max(cur.pressure, w.pressure);
        const high = Math.max(cur.high, w.high);
        return low === cur.low && pressure === cur.pressure && high === cur.high ? current : `${low} ${pressure} ${high}`;
      },
    },
    {
      key: 'net.netfilter.nf_conntrack_max',
      why: 'when netfilter rules track connections, a full conntrack table drops new connections',
      want: atLeast(nextPow2(Math.ceil(n * 1.25))),
    },
    {
      key: 'net.ipv4.tcp_tw_reuse',
      why: 'connection churn leaves sockets in TIME_WAIT holding ports; 2 (loopback only) or 1 lets connect() reuse them',
      want: (current) => (current === '0' ? '1' : current),
    },
  ];
}

export interface TuneRow {
  readonly key: string;
  /** Current value, or null when this kernel has no such sysctl (e.g. conntrack not loaded). */
  readonly current: string | null;
  /** Value a run needs; null when the sysctl is absent. Equal to current when it suffices. */
  readonly wanted: string | null;
  /** True when nothing needs changing. */
  readonly ok: boolean;
  readonly why: string;
}

function context(connections: number | undefined, pageSize: number, memTotalBytes: number | null): TuneContext {
  const n = connections ?? 1_000_000;
  if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`connections must be a positive integer, got ${String(connections)}`);
  if (!Number.isSafeInteger(pageSize) || pageSize < 1) throw new RangeError(`pageSize must be a positive integer, got ${String(pageSize)}`);
  return { connections: n, pageSize, memTotalBytes };
}

function rows(read: (key: string) => string | null, ctx: TuneContext): TuneRow[] {
  return targets(ctx).map((t) => {
    const raw = read(t.key);
    if (raw === null) return { key: t.key, current: null, wanted: null, ok: true, why: t.why };
    const current = normalizeSysctl(raw);
    const wanted = t.want(current, ctx);
    return { key: t.key, current, wanted, ok: wanted === current, why: t.why };
  });
}

export interface TuneShowOptions {
  readonly connections?: number;
}

/** Current against wanted for every setting, from readings (pure; changes nothing). */
export function tuneShow(readings: SystemReadings, options: TuneShowOptions = {}): TuneRow[] {
  if (readings === null || typeof readings !== 'object') throw new TypeError('tuneShow: readings must be SystemReadings');
  const ctx = context(options.connections, readings.pageSize, readings.memTotalBytes);
  return rows((key) => readings.sysctl[key] ?? null, ctx);
}

/** Human text for tuneShow's rows (pure). */
export function formatTune(list: readonly TuneRow[]): string {
  const width = Math.max(...list.map((r) => r.key.length));
  const lines: string[] = [];
  for (const r of list) {
    const status = r.current === null ? 'absent' : r.ok ? 'ok' : 'change';
    const values = r.current === null ? 'not present on this kernel' : r.ok ? r.current : `${r.current} → ${r.wanted ?? ''}`;
    lines.push(`${status.padEnd(6)}  ${r.key.padEnd(width)}  ${values}`);
    lines.push(`${' '.repeat(8 + width)}  ${r.why}`);
  }
  const pending = list.filter((r) => !r.ok);
  lines.push(
    pending.length === 0
      ? 'all settings suffice; nothing to apply'
      : `${pending.length} to change; apply with root (records the old values to revert), or by hand:\n` +
          pending.map((r) => `  sysctl -w ${r.key}=${quoteValue(r.wanted ?? '')}`).join('\n'),
  );
  return lines.join('\n');
}

/** Where `c1m tune` suggests the settings be kept so that they survive a reboot. */
export const SYSCTL_CONF = '/etc/sysctl.d/90-c1m.conf';

/**
 * How to keep the settings after a reboot (--apply and sysctl -w change the running kernel
 * only): the wanted value of every setting this kernel has, as lines of a sysctl.d file (pure).
 */
export function formatPersist(list: readonly TuneRow[]): string {
  const present = list.filter((r) => r.wanted !== null);
  return [
    `to keep them after a reboot (--apply changes the running kernel only), put these lines in ${SYSCTL_CONF}`,
    'and load it with sysctl --system (as root):',
    ...present.map((r) => `  ${r.key} = ${r.wanted ?? ''}`),
  ].join('\n');
}

/** Shell-quotes multi-field values the way `sysctl -w` expects them. */
export function quoteValue(value: string): string {
  return value.includes(' ') ? `"${value}"` : value;
}

/** ~/.cache/c1m/tune-state.json, honouring XDG_CACHE_HOME. */
export function defaultStateFile(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CACHE_HOME && env.XDG_CACHE_HOME.startsWith('/') ? env.XDG_CACHE_HOME : join(env.HOME ?? os.homedir(), '.cache');
  return join(base, 'c1m', 'tune-state.json');
}

export interface TuneState {
  readonly schema: 'c1m.tune-state/1';
  readonly appliedAt: string;
  /** Values before the first apply that changed each key; a later apply never overwrites them. */
  readonly previous: Readonly<Record<string, string>>;
}

export function readTuneState(stateFile: string): TuneState | null {
  let text: string;
  try {
    text = readFileSync(stateFile, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  const data = JSON.parse(text) as Partial<TuneState>;
  if (data.schema !== 'c1m.tune-state/1' || typeof data.previous !== 'object' || data.previous === null) {
    throw new TypeError(`${stateFile} is not a c1m tune state file`);
  }
  for (const [k, v] of Object.entries(data.previous)) {
    sysctlPath(k);
    if (typeof v !== 'string') throw new TypeError(`${stateFile}: previous value of ${k} is not a string`);
  }
  return { schema: data.schema, appliedAt: String(data.appliedAt ?? ''), previous: { ...data.previous } };
}

function writeTuneState(stateFile: string, state: TuneState): void {
  mkdirSync(dirname(stateFile), { recursive: true });
  // Written whole then renamed, so a crash never leaves a half-written record of old values.
  const tmp = `${stateFile}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`);
  renameSync(tmp, stateFile);
}

export interface TuneChange {
  readonly key: string;
  readonly from: string;
  /** Value read back after writing (the kernel may clamp what was written). */
  readonly to: string;
}

export interface TuneApplyOptions {
  readonly io: SysctlIO;
  /** Where the previous values are recorded; defaultStateFile() when omitted. */
  readonly stateFile?: string;
  /** Defaults to process.getuid() === 0. */
  readonly isRoot?: boolean;
  readonly connections?: number;
  /** Page size and MemTotal for tcp_mem; read from the machine when omitted. */
  readonly readings?: Pick<SystemReadings, 'pageSize' | 'memTotalBytes'>;
}

export interface TuneApplyResult {
  readonly changed: readonly TuneChange[];
  /** Keys that already sufficed or are absent on this kernel. */
  readonly unchanged: readonly string[];
  readonly stateFile: string;
}

function requireRoot(isRoot: boolean | undefined, verb: string): void {
  const root = isRoot ?? (typeof process.getuid === 'function' && process.getuid() === 0);
  if (!root) {
    throw new Error(`tune ${verb} writes kernel settings under /proc/sys and must run as root (for example with sudo); nothing was changed`);
  }
}

function errorText(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return e && typeof e === 'object' && 'message' in e ? (e.code ? `${e.code}: ${e.message}` : e.message) : String(err);
}

/**
 * Writes every setting that falls short, after recording the old values in the state file.
 * If any write fails, the ones already written are put back and the error says which failed.
 */
export function tuneApply(options: TuneApplyOptions): TuneApplyResult {
  const { io } = options;
  if (!io || typeof io.read !== 'function' || typeof io.write !== 'function') throw new TypeError('tuneApply: io must be a SysctlIO');
  requireRoot(options.isRoot, 'apply');
  const stateFile = options.stateFile ?? defaultStateFile();
  const readings = options.readings ?? readSystem();
  const ctx = context(options.connections, readings.pageSize, readings.memTotalBytes);
  const list = rows((key) => io.read(key), ctx);
  const pending = list.filter((r) => !r.ok);
  if (pending.length === 0) return { changed: [], unchanged: list.map((r) => r.key), stateFile };

  const before = readTuneState(stateFile);
  const previous: Record<string, string> = { ...(before?.previous ?? {}) };
  for (const r of pending) if (!(r.key in previous) && r.current !== null) previous[r.key] = r.current;
  writeTuneState(stateFile, { schema: 'c1m.tune-state/1', appliedAt: new Date().toISOString(), previous });

  const written: TuneRow[] = [];
  for (const r of pending) {
    try {
      io.write(r.key, r.wanted ?? '');
      written.push(r);
    } catch (err) {
      const failedBack: string[] = [];
      for (const w of written.reverse()) {
        try {
          io.write(w.key, w.current ?? '');
        } catch {
          failedBack.push(`${w.key}=${quoteValue(w.current ?? '')}`);
        }
      }
      if (failedBack.length === 0) {
        if (before) writeTuneState(stateFile, before);
        else rmSync(stateFile, { force: true });
      }
      const tail =
        failedBack.length === 0
          ? 'the settings written before it were restored; nothing is changed'
          : `restoring failed for ${failedBack.join(', ')}; the old values stay recorded in ${stateFile} for tune revert`;
      throw new Error(`could not write ${r.key}=${quoteValue(r.wanted ?? '')} (${errorText(err)}); ${tail}`, { cause: err });
    }
  }
  const changed = written.map((r) => ({ key: r.key, from: r.current ?? '', to: io.read(r.key) ?? r.wanted ?? '' }));
  return { changed, unchanged: list.filter((r) => r.ok).map((r) => r.key), stateFile };
}

export interface TuneRevertOptions {
  readonly io: SysctlIO;
  readonly stateFile?: string;
  readonly isRoot?: boolean;
}

export interface TuneRevertResult {
  /** False when there was no state file: nothing had been applied (or it was reverted already). */
  readonly found: boolean;
  readonly restored: readonly TuneChange[];
  readonly stateFile: string;
}

/** Restores the values recorded by tuneApply and removes the state file. */
export function tuneRevert(options: TuneRevertOptions): TuneRevertResult {
  const { io } = options;
  if (!io || typeof io.read !== 'function' || typeof io.write !== 'function') throw new TypeError('tuneRevert: io must be a SysctlIO');
  const stateFile = options.stateFile ?? defaultStateFile();
  const state = readTuneState(stateFile);
  if (!state) return { found: false, restored: [], stateFile };
  requireRoot(options.isRoot, 'revert');
  const restored: TuneChange[] = [];
  const left: Record<string, string> = {};
  const failures: string[] = [];
  for (const [key, value] of Object.entries(state.previous)) {
    const from = io.read(key);
    if (from === null) continue; // The sysctl went away (module unloaded): nothing to restore.
    try {
      io.write(key, value);
      restored.push({ key, from, to: io.read(key) ?? value });
    } catch (err) {
      left[key] = value;
      failures.push(`${key}=${quoteValue(value)} (${errorText(err)})`);
    }
  }
  if (failures.length > 0) {
    writeTuneState(stateFile, { ...state, previous: left });
    throw new Error(`could not restore ${failures.join(', ')}; those stay recorded in ${stateFile}`);
  }
  rmSync(stateFile, { force: true });
  return { found: true, restored, stateFile };
}
