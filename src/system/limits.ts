// What the machine allows: per-process fd limits, the sysctls a million-connection run
// depends on, memory, CPUs. readSystem() reads the real box once; everything downstream
// (preflight, tune, the result's `env`) takes the readings as a parameter, so tests inject them.
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { parseMeminfo } from '../metrics/proc.js';
import { pageSizeBytes } from './getconf.js';

export interface PortRange {
  readonly low: number;
  readonly high: number;
}

/** fs.file-nr: allocated file handles, allocated-but-unused (always 0 since 2.6), and the maximum. */
export interface FileNr {
  readonly allocated: number;
  readonly unused: number;
  readonly max: number;
}

/** net.ipv4.tcp_mem in pages: below `low` no pressure, above `pressure` buffers shrink, `high` is a hard cap. */
export interface TcpMem {
  readonly low: number;
  readonly pressure: number;
  readonly high: number;
}

export interface SystemReadings {
  /** RLIMIT_NOFILE of this process; child processes inherit the soft limit. */
  readonly nofileSoft: number;
  readonly nofileHard: number;
  /** fs.nr_open: the ceiling any process's nofile hard limit can be raised to. */
  readonly nrOpen: number | null;
  /** fs.file-max: system-wide open file limit (processes with CAP_SYS_ADMIN may exceed it). */
  readonly fileMax: number | null;
  readonly fileNr: FileNr | null;
  readonly portRange: PortRange | null;
  readonly somaxconn: number | null;
  readonly tcpMaxSynBacklog: number | null;
  readonly tcpMem: TcpMem | null;
  /** null when nf_conntrack is not loaded. */
  readonly nfConntrackMax: number | null;
  /** Entries in use now; 0 with live connections means no rule makes conntrack track them. */
  readonly nfConntrackCount: number | null;
  readonly memTotalBytes: number | null;
  readonly memAvailableBytes: number | null;
  /** CPUs this process may run on (affinity-aware). */
  readonly cpus: number;
  readonly cpuModel: string | null;
  readonly kernelRelease: string;
  readonly pageSize: number;
  readonly isRoot: boolean;
  /** CAP_SYS_RESOURCE in the effective set: needed to raise a nofile hard limit. */
  readonly capSysResource: boolean;
  /** CAP_SYS_ADMIN in the effective set: such processes may open files beyond fs.file-max. */
  readonly capSysAdmin: boolean;
  /** Raw values (whitespace collapsed to one space) of every sysctl in READ_SYSCTLS that exists. */
  readonly sysctl: Readonly<Record<string, string>>;
}

/** The sysctls readSystem() records; tune and the result's `env.sysctl` draw on these. */
export const READ_SYSCTLS: readonly string[] = [
  'fs.nr_open',
  'fs.file-max',
  'fs.file-nr',
  'net.ipv4.ip_local_port_range',
  'net.core.somaxconn',
  'net.ipv4.tcp_max_syn_backlog',
  'net.ipv4.tcp_mem',
  'net.ipv4.tcp_tw_reuse',
  'net.ipv4.tcp_syncookies',
  'net.core.netdev_max_backlog',
  'net.netfilter.nf_conntrack_max',
  'net.netfilter.nf_conntrack_count',
];

const CAP_SYS_ADMIN = 21n;
const CAP_SYS_RESOURCE = 24n;

/** /proc/sys path of a dotted sysctl name. */
export function sysctlPath(key: string): string {
  if (typeof key !== 'string' || !/^[a-z0-9_-]+(\.[a-z0-9_-]+)+$/i.test(key)) {
    throw new TypeError(`sysctl name must look like "net.core.somaxconn", got ${JSON.stringify(key)}`);
  }
  return `/proc/sys/${key.replaceAll('.', '/')}`;
}

/** Collapses the tabs /proc/sys prints between fields so values compare and display as typed. */
export function normalizeSysctl(value: string): string {
  return value.trim().split(/\s+/).join(' ');
}

/** Parses /proc/<pid>/limits into {soft, hard} per limit name; "unlimited" is Infinity. */
export function parseProcLimits(text: string): Map<string, { soft: number; hard: number }> {
  const out = new Map<string, { soft: number; hard: number }>();
  for (const line of text.split('\n')) {
    // Names contain spaces, so split on the first value column rather than on whitespace.
    const m = /^(Max [a-z ]+?)\s{2,}(\S+)\s+(\S+)/.exec(line);
    if (!m) continue;
    const soft = parseLimitValue(m[2] ?? '');
    const hard = parseLimitValue(m[3] ?? '');
    if (soft !== null && hard !== null) out.set(m[1] ?? '', { soft, hard });
  }
  return out;
}

function parseLimitValue(s: string): number | null {
  if (s === 'unlimited') return Number.POSITIVE_INFINITY;
  const n = Number(s);
  return Number.isFinite(n) ? n : null;
}

/** The effective capability mask (CapEff) from /proc/<pid>/status, or null. */
export function parseCapEff(statusText: string): bigint | null {
  const m = /^CapEff:\s*([0-9a-f]+)\s*$/im.exec(statusText);
  return m ? BigInt(`0x${m[1] ?? '0'}`) : null;
}

export function parsePortRange(value: string | undefined): PortRange | null {
  const p = parseInts(value, 2);
  return p ? { low: p[0] ?? 0, high: p[1] ?? 0 } : null;
}

export function parseTcpMem(value: string | undefined): TcpMem | null {
  const p = parseInts(value, 3);
  return p ? { low: p[0] ?? 0, pressure: p[1] ?? 0, high: p[2] ?? 0 } : null;
}

export function parseFileNr(value: string | undefined): FileNr | null {
  const p = parseInts(value, 3);
  return p ? { allocated: p[0] ?? 0, unused: p[1] ?? 0, max: p[2] ?? 0 } : null;
}

function parseInts(value: string | undefined, count: number): number[] | null {
  if (value === undefined) return null;
  const words = normalizeSysctl(value).split(' ');
  if (words.length !== count || !words.every((w) => /^-?\d+$/.test(w))) return null;
  // Values above 2^53 (systemd sets fs.file-max to LONG_MAX) lose digits but still compare right.
  return words.map(Number);
}

function parseOneInt(value: string | undefined): number | null {
  const p = parseInts(value, 1);
  return p ? (p[0] ?? null) : null;
}

/** First "model name" of /proc/cpuinfo (x86) or a "Model"/"Hardware" line (arm), else null. */
export function parseCpuModel(cpuinfo: string): string | null {
  const m = /^(?:model name|Model|Hardware|cpu model)\s*:\s*(.+)$/m.exec(cpuinfo);
  return m ? (m[1] ?? '').trim() || null : null;
}

export type TextReader = (path: string) => string | null;

/** Reads a whole file as text, or null when it does not exist or cannot be read. */
export const readTextOrNull: TextReader = (path) => {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
};

export interface ReadSystemOptions {
  /** Reads a /proc file; defaults to the real filesystem. */
  readonly readText?: TextReader;
}

/** Reads the real machine (or whatever readText serves). Never writes anything. */
export function readSystem(options: ReadSystemOptions = {}): SystemReadings {
  const readText = options.readText ?? readTextOrNull;
  const sysctl: Record<string, string> = {};
  for (const key of READ_SYSCTLS) {
    const v = readText(sysctlPath(key));
    if (v !== null) sysctl[key] = normalizeSysctl(v);
  }
  const limits = parseProcLimits(readText('/proc/self/limits') ?? '');
  const nofile = limits.get('Max open files');
  const status = readText('/proc/self/status') ?? '';
  const caps = parseCapEff(status) ?? 0n;
  const meminfo = parseMeminfo(readText('/proc/meminfo') ?? '');
  const uid = typeof process.getuid === 'function' ? process.getuid() : null;
  return {
    // Without /proc/self/limits, 1024 is what Linux gives a login shell by default.
    nofileSoft: nofile?.soft ?? 1024,
    nofileHard: nofile?.hard ?? 1024,
    nrOpen: parseOneInt(sysctl['fs.nr_open']),
    fileMax: parseOneInt(sysctl['fs.file-max']),
    fileNr: parseFileNr(sysctl['fs.file-nr']),
    portRange: parsePortRange(sysctl['net.ipv4.ip_local_port_range']),
    somaxconn: parseOneInt(sysctl['net.core.somaxconn']),
    tcpMaxSynBacklog: parseOneInt(sysctl['net.ipv4.tcp_max_syn_backlog']),
    tcpMem: parseTcpMem(sysctl['net.ipv4.tcp_mem']),
    nfConntrackMax: parseOneInt(sysctl['net.netfilter.nf_conntrack_max']),
    nfConntrackCount: parseOneInt(sysctl['net.netfilter.nf_conntrack_count']),
    memTotalBytes: meminfo.MemTotal ?? null,
    memAvailableBytes: meminfo.MemAvailable ?? null,
    cpus: os.availableParallelism(),
    cpuModel: parseCpuModel(readText('/proc/cpuinfo') ?? '') ?? (os.cpus()[0]?.model || null),
    kernelRelease: os.release(),
    pageSize: pageSizeBytes(),
    isRoot: uid === 0,
    capSysResource: ((caps >> CAP_SYS_RESOURCE) & 1n) === 1n,
    capSysAdmin: ((caps >> CAP_SYS_ADMIN) & 1n) === 1n,
    sysctl,
  };
}

/**
 * The `env` fields of a result file (results/README contract) that come from the readings:
 * single-number sysctls as numbers, multi-field ones (port range, tcp_mem) as their text.
 */
export function readingsEnv(r: SystemReadings): {
  kernel: string;
  cpus: number;
  cpuModel: string | null;
  memTotalBytes: number | null;
  nofileSoft: number;
  nofileHard: number;
  sysctl: Record<string, number | string>;
} {
  const sysctl: Record<string, number | string> = {};
  for (const [key, value] of Object.entries(r.sysctl)) {
    const n = Number(value);
    sysctl[key] = value !== '' && Number.isSafeInteger(n) ? n : value;
  }
  return {
    kernel: r.kernelRelease,
    cpus: r.cpus,
    cpuModel: r.cpuModel,
    memTotalBytes: r.memTotalBytes,
    nofileSoft: r.nofileSoft,
    nofileHard: r.nofileHard,
    sysctl,
  };
}
