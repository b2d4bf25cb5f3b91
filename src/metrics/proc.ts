// Process and kernel memory/CPU from the kernel's own accounting in /proc. The parsers are
// pure functions over the file text (tests feed fixtures); the samplers read the real files.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { clockTicksPerSecond, pageSizeBytes } from '../system/getconf.js';

export interface ProcessSample {
  readonly pid: number;
  /** VmRSS: resident memory, shared pages counted in full. */
  readonly rssBytes: number;
  /** RssAnon: resident anonymous memory (heap, stacks, malloc arenas); null before Linux 4.5. */
  readonly rssAnonBytes: number | null;
  /** VmHWM: peak resident memory since the process started. */
  readonly peakRssBytes: number;
  /** Pss from smaps_rollup (shared pages divided among sharers); null when not read or unreadable. */
  readonly pssBytes: number | null;
  readonly cpuUserMs: number;
  readonly cpuSysMs: number;
  readonly threads: number;
  /** Open file descriptors; null when /proc/<pid>/fd is not readable (another user's process). */
  readonly fds: number | null;
  /**
   * On-CPU time of each live thread in nanoseconds (tid → the scheduler's sum_exec_runtime, from
   * /proc/<pid>/task/<tid>/schedstat), when asked for (threadCpu) and readable; else null. The
   * utime and stime of /proc/<pid>/stat come in clock ticks (10 ms): over a window of a few
   * hundred milliseconds of CPU that alone moves a figure by several per cent.
   */
  readonly threadCpuNs?: ReadonlyMap<number, number> | null;
}

export interface ParsedStatus {
  readonly rssBytes: number | null;
  readonly rssAnonBytes: number | null;
  readonly peakRssBytes: number | null;
  readonly threads: number | null;
}

export interface ParsedStat {
  readonly pid: number;
  readonly comm: string;
  readonly state: string;
  readonly utimeTicks: number;
  readonly stimeTicks: number;
  readonly threads: number;
  readonly startTimeTicks: number;
}

export interface Sockstat {
  readonly socketsUsed: number | null;
  readonly tcpInUse: number | null;
  readonly tcpOrphan: number | null;
  readonly tcpTw: number | null;
  readonly tcpAlloc: number | null;
  /** Pages of socket buffer memory charged to TCP (compare with net.ipv4.tcp_mem). */
  readonly tcpMemPages: number | null;
  /** TCP6 in-use from /proc/net/sockstat6; null when IPv6 is absent. */
  readonly tcp6InUse: number | null;
}

export interface KernelSample {
  readonly slabBytes: number | null;
  readonly sUnreclaimBytes: number | null;
  readonly sReclaimableBytes: number | null;
  readonly memAvailableBytes: number | null;
  readonly memFreeBytes: number | null;
  readonly sockstat: Sockstat;
  /** sockstat.tcpMemPages in bytes. */
  readonly tcpMemBytes: number | null;
}

/**
 * /proc/meminfo (and any "Key: value kB" file) → bytes per key. Values given in kB are
 * multiplied by 1024; unit-less values (HugePages_Total) are kept as counts.
 */
export function parseMeminfo(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = /^([^:\s]+):\s+(\d+)(?:\s+(kB))?\s*$/.exec(line);
    if (!m) continue;
    const n = Number(m[2]);
    out[m[1] ?? ''] = m[3] === 'kB' ? n * 1024 : n;
  }
  return out;
}

/** /proc/<pid>/status → resident memory and thread count. */
export function parseStatus(text: string): ParsedStatus {
  const kv = parseMeminfo(text);
  return {
    rssBytes: kv.VmRSS ?? null,
    rssAnonBytes: kv.RssAnon ?? null,
    peakRssBytes: kv.VmHWM ?? null,
    threads: kv.Threads ?? null,
  };
}

/** /proc/<pid>/smaps_rollup → Pss in bytes, or null when the file has no Pss line. */
export function parseSmapsRollup(text: string): number | null {
  return parseMeminfo(text).Pss ?? null;
}

/**
 * /proc/<pid>/stat → CPU times in clock ticks. The command name is in parentheses and may
 * itself contain spaces and parentheses, so fields are counted from the last ')'.
 */
export function parseStat(text: string): ParsedStat {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) throw new TypeError('not a /proc/<pid>/stat line: no (comm)');
  const rest = text.slice(close + 2).trim().split(' ');
  // rest[0] is field 3 (state); field N is rest[N - 3].
  const field = (n: number): number => {
    const v = Number(rest[n - 3]);
    if (!Number.isFinite(v)) throw new TypeError(`not a /proc/<pid>/stat line: field ${n} is ${JSON.stringify(rest[n - 3])}`);
    return v;
  };
  return {
    pid: Number(text.slice(0, open).trim()),
    comm: text.slice(open + 1, close),
    state: rest[0] ?? '?',
    utimeTicks: field(14),
    stimeTicks: field(15),
    threads: field(20),
    startTimeTicks: field(22),
  };
}

/** /proc/<pid>/task/<tid>/schedstat → nanoseconds on the CPU (its first field); null when not that line. */
export function parseSchedstat(text: string): number | null {
  const first = text.trim().split(/\s+/)[0];
  if (first === undefined || !/^\d+$/.test(first)) return null;
  const ns = Number(first);
  return Number.isSafeInteger(ns) ? ns : null;
}

/** Every live thread's on-CPU nanoseconds; null when the process is gone or the kernel has no schedstat (CONFIG_SCHED_INFO). */
export function sampleThreadCpuNs(pid: number): Map<number, number> | null {
  checkPid(pid);
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return null;
  }
  const out = new Map<number, number>();
  for (const t of tids) {
    const text = readOrNull(`/proc/${pid}/task/${t}/schedstat`);
    // A thread that ended between the listing and the read has no time to give.
    if (text === null) continue;
    const ns = parseSchedstat(text);
    if (ns === null) return null;
    out.set(Number(t), ns);
  }
  return out.size > 0 ? out : null;
}

/**
 * Milliseconds on the CPU of every process between two samples taken with threadCpu, from the
 * threads' nanosecond counts: a thread born in between counts all of its time. Null when a side
 * lacks the counts, a process is not in both, or a thread of the first sample ended before the
 * second (its time since the first is lost with it; the clock ticks of /proc/<pid>/stat keep it).
 */
export function threadCpuMsBetween(a: readonly ProcessSample[], b: readonly ProcessSample[]): number | null {
  if (a.length === 0 || a.length !== b.length) return null;
  let ns = 0;
  for (const y of b) {
    const x = a.find((s) => s.pid === y.pid);
    const before = x?.threadCpuNs, after = y.threadCpuNs;
    if (!before || !after) return null;
    for (const [tid, n0] of before) {
      const n1 = after.get(tid);
      if (n1 === undefined || n1 < n0) return null;
      ns += n1 - n0;
    }
    for (const [tid, n1] of after) if (!before.has(tid)) ns += n1;
  }
  return ns / 1e6;
}

/** /proc/net/sockstat (+ optional sockstat6 text) → TCP socket counts and memory pages. */
export function parseSockstat(text: string, text6: string | null = null): Sockstat {
  const rows = parseSockstatRows(text);
  const rows6 = text6 === null ? null : parseSockstatRows(text6);
  const tcp = rows.get('TCP');
  return {
    socketsUsed: rows.get('sockets')?.get('used') ?? null,
    tcpInUse: tcp?.get('inuse') ?? null,
    tcpOrphan: tcp?.get('orphan') ?? null,
    tcpTw: tcp?.get('tw') ?? null,
    tcpAlloc: tcp?.get('alloc') ?? null,
    tcpMemPages: tcp?.get('mem') ?? null,
    tcp6InUse: rows6?.get('TCP6')?.get('inuse') ?? null,
  };
}

function parseSockstatRows(text: string): Map<string, Map<string, number>> {
  const rows = new Map<string, Map<string, number>>();
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const words = line.slice(colon + 1).trim().split(/\s+/);
    const row = new Map<string, number>();
    for (let i = 0; i + 1 < words.length; i += 2) {
      const n = Number(words[i + 1]);
      if (Number.isFinite(n)) row.set(words[i] ?? '', n);
    }
    rows.set(line.slice(0, colon).trim(), row);
  }
  return rows;
}

function readOrNull(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

/** Open fds of a process, or null when the fd directory cannot be read. */
export function countFds(pid: number): number | null {
  const dir = `/proc/${pid}/fd`;
  try {
    // Since Linux 6.2 the fd directory's st_size is the number of open fds; a stat is far
    // cheaper than listing twenty thousand entries on every sample.
    const size = statSync(dir).size;
    if (size > 0) return size;
    return readdirSync(dir).length;
  } catch {
    return null;
  }
}

function checkPid(pid: number): void {
  if (!Number.isSafeInteger(pid) || pid <= 0) throw new RangeError(`pid must be a positive integer, got ${String(pid)}`);
}

export interface SampleProcessOptions {
  /** Read smaps_rollup for Pss (walks every page table of the process: skip it in tight loops). Default true. */
  readonly pss?: boolean;
  /** Count open fds. Default true. */
  readonly fds?: boolean;
  /** Read each thread's on-CPU nanoseconds (threadCpuNs). Default false. */
  readonly threadCpu?: boolean;
}

/** Samples one process; null when it no longer exists. */
export function sampleProcess(pid: number, options: SampleProcessOptions = {}): ProcessSample | null {
  checkPid(pid);
  const statText = readOrNull(`/proc/${pid}/stat`);
  const statusText = readOrNull(`/proc/${pid}/status`);
  if (statText === null || statusText === null) return null;
  const stat = parseStat(statText);
  const status = parseStatus(statusText);
  // A zombie has released its memory and lost its VmRSS lines: it counts as gone.
  if (status.rssBytes === null) return null;
  const tick = clockTicksPerSecond();
  const smaps = options.pss === false ? null : readOrNull(`/proc/${pid}/smaps_rollup`);
  return {
    pid,
    rssBytes: status.rssBytes,
    rssAnonBytes: status.rssAnonBytes,
    peakRssBytes: status.peakRssBytes ?? status.rssBytes,
    pssBytes: smaps === null ? null : parseSmapsRollup(smaps),
    cpuUserMs: (stat.utimeTicks * 1000) / tick,
    cpuSysMs: (stat.stimeTicks * 1000) / tick,
    threads: stat.threads,
    fds: options.fds === false ? null : countFds(pid),
    ...(options.threadCpu === true ? { threadCpuNs: sampleThreadCpuNs(pid) } : {}),
  };
}

export interface ProcessesSample {
  /**
   * Sums over the processes that answered. Every field is null when none answered; pss,
   * rssAnon and fds are null when any answering process lacked them.
   */
  readonly total: {
    readonly processes: number;
    readonly rssBytes: number | null;
    readonly rssAnonBytes: number | null;
    readonly pssBytes: number | null;
    readonly cpuUserMs: number | null;
    readonly cpuSysMs: number | null;
    readonly threads: number | null;
    readonly fds: number | null;
  };
  readonly perPid: readonly ProcessSample[];
  /** Pids that no longer exist. */
  readonly missing: readonly number[];
}

/**
 * Sums a set of already-taken samples (pure; used by sampleProcesses and the Sampler). With a
 * process missing, every total is null: a sum without one of its members is not the set's.
 */
export function sumSamples(samples: readonly ProcessSample[], missing: readonly number[] = []): ProcessesSample {
  const sum = (pick: (s: ProcessSample) => number | null): number | null => {
    if (samples.length === 0 || missing.length > 0) return null;
    let total = 0;
    for (const s of samples) {
      const v = pick(s);
      if (v === null) return null;
      total += v;
    }
    return total;
  };
  return {
    total: {
      processes: samples.length,
      rssBytes: sum((s) => s.rssBytes),
      rssAnonBytes: sum((s) => s.rssAnonBytes),
      pssBytes: sum((s) => s.pssBytes),
      cpuUserMs: sum((s) => s.cpuUserMs),
      cpuSysMs: sum((s) => s.cpuSysMs),
      threads: sum((s) => s.threads),
      fds: sum((s) => s.fds),
    },
    perPid: samples,
    missing,
  };
}

/** Samples several processes (e.g. every worker of a contender) and sums them. */
export function sampleProcesses(pids: readonly number[], options: SampleProcessOptions = {}): ProcessesSample {
  if (!Array.isArray(pids)) throw new TypeError('pids must be an array of process ids');
  const samples: ProcessSample[] = [];
  const missing: number[] = [];
  for (const pid of pids) {
    const s = sampleProcess(pid, options);
    if (s === null) missing.push(pid);
    else samples.push(s);
  }
  return sumSamples(samples, missing);
}

/** Builds a kernel sample from meminfo and sockstat text (pure). */
export function kernelSampleFrom(meminfo: string, sockstat: string, sockstat6: string | null, pageSize: number): KernelSample {
  const mem = parseMeminfo(meminfo);
  const sock = parseSockstat(sockstat, sockstat6);
  return {
    slabBytes: mem.Slab ?? null,
    sUnreclaimBytes: mem.SUnreclaim ?? null,
    sReclaimableBytes: mem.SReclaimable ?? null,
    memAvailableBytes: mem.MemAvailable ?? null,
    memFreeBytes: mem.MemFree ?? null,
    sockstat: sock,
    tcpMemBytes: sock.tcpMemPages === null ? null : sock.tcpMemPages * pageSize,
  };
}

/** Kernel-side memory: slab (where socket structs live), TCP socket counts and buffer pages. */
export function sampleKernel(): KernelSample {
  return kernelSampleFrom(
    readOrNull('/proc/meminfo') ?? '',
    readOrNull('/proc/net/sockstat') ?? '',
    readOrNull('/proc/net/sockstat6'),
    pageSizeBytes(),
  );
}

export interface SamplePoint {
  /** Milliseconds since the sampler started. */
  readonly t: number;
  /** Wall-clock time of the sample (ms since the epoch). */
  readonly at: number;
  /** Set by the runner (phase or step name) so charts can mark phases. */
  readonly label: string | null;
  readonly processes: ProcessesSample['total'];
  /**
   * CPU used by the sampled processes since the previous point, as a percentage of one CPU
   * (200 = two cores busy). Only pids present in both points count; null on the first point.
   */
  readonly cpuPercent: number | null;
  readonly cpuUserPercent: number | null;
  readonly cpuSysPercent: number | null;
  /** Per-pid figures, only when the sampler was created with perPid: true. */
  readonly perPid: readonly { readonly pid: number; readonly rssBytes: number; readonly cpuPercent: number | null }[] | null;
  readonly kernel: KernelSample | null;
  readonly missing: readonly number[];
}

export interface SamplerOptions {
  /** The pids to sample, or a function returning the current set (workers may come and go). */
  readonly pids: readonly number[] | (() => readonly number[]);
  /** Interval between samples in ms (≥ 10). */
  readonly intervalMs: number;
  /**
   * Most points kept (≥ 4, default 3600). When full, every other point is dropped and the
   * interval doubles, so a long run keeps its whole shape at a coarser grain.
   */
  readonly capacity?: number;
  /** Sample /proc/meminfo and sockstat too (default true). */
  readonly kernel?: boolean;
  /** Read Pss too (default false: smaps_rollup walks every page table, costly at GBs of RSS). */
  readonly pss?: boolean;
  /** Count fds (default true). */
  readonly fds?: boolean;
  readonly perPid?: boolean;
  readonly onSample?: (point: SamplePoint) => void;
  /** Called when a timer-driven sample throws; the sampler keeps running. */
  readonly onError?: (err: unknown) => void;
  /** Injection points for tests. */
  readonly sampleProcesses?: (pids: readonly number[], options: SampleProcessOptions) => ProcessesSample;
  readonly sampleKernel?: () => KernelSample;
  readonly now?: () => number;
}

/** Samples a set of processes (and the kernel) on a timer into a bounded time series. */
export class Sampler {
  readonly #opts: SamplerOptions;
  readonly #capacity: number;
  readonly #points: SamplePoint[] = [];
  #timer: NodeJS.Timeout | null = null;
  #stride = 1;
  #startedAt: number | null = null;
  #prevAt: number | null = null;
  #prevCpu = new Map<number, { user: number; sys: number }>();
  #label: string | null = null;
  #lastError: unknown = null;

  constructor(options: SamplerOptions) {
    if (options === null || typeof options !== 'object') throw new TypeError('Sampler: options must be an object');
    const { pids, intervalMs } = options;
    if (typeof pids !== 'function' && !Array.isArray(pids)) throw new TypeError('Sampler: pids must be an array or a function returning one');
    if (typeof intervalMs !== 'number' || !Number.isFinite(intervalMs) || intervalMs < 10) {
      throw new RangeError(`Sampler: intervalMs must be a number ≥ 10, got ${String(intervalMs)}`);
    }
    const capacity = options.capacity ?? 3600;
    if (!Number.isSafeInteger(capacity) || capacity < 4) throw new RangeError(`Sampler: capacity must be an integer ≥ 4, got ${String(capacity)}`);
    this.#opts = options;
    this.#capacity = capacity;
  }

  get running(): boolean {
    return this.#timer !== null;
  }

  /** Current interval in ms (intervalMs × 2 for every time the series was thinned). */
  get intervalMs(): number {
    return this.#opts.intervalMs * this.#stride;
  }

  get lastError(): unknown {
    return this.#lastError;
  }

  /** Labels the following points (a phase or step name); null to clear. */
  setLabel(label: string | null): void {
    this.#label = label;
  }

  /** Takes a first sample now and then one every interval. */
  start(): void {
    if (this.#timer !== null) return;
    this.#tick();
    this.#schedule();
  }

  /** Stops the timer; the points stay readable. */
  stop(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
  }

  /** The series so far, oldest first (a copy). */
  points(): SamplePoint[] {
    return this.#points.slice();
  }

  /** Takes one sample now and records it (the runner calls this at step boundaries too). */
  sample(): SamplePoint {
    const o = this.#opts;
    const now = o.now ?? Date.now;
    const at = now();
    if (this.#startedAt === null) this.#startedAt = at;
    const pids = typeof o.pids === 'function' ? o.pids() : o.pids;
    const procs = (o.sampleProcesses ?? sampleProcesses)(pids, { pss: o.pss ?? false, fds: o.fds ?? true });
    const kernel = o.kernel === false ? null : (o.sampleKernel ?? sampleKernel)();

    const dt = this.#prevAt === null ? 0 : at - this.#prevAt;
    let du = 0;
    let ds = 0;
    let overlap = 0;
    const perPid: { pid: number; rssBytes: number; cpuPercent: number | null }[] = [];
    const cpu = new Map<number, { user: number; sys: number }>();
    for (const s of procs.perPid) {
      cpu.set(s.pid, { user: s.cpuUserMs, sys: s.cpuSysMs });
      const prev = this.#prevCpu.get(s.pid);
      let pct: number | null = null;
      if (prev && dt > 0) {
        du += s.cpuUserMs - prev.user;
        ds += s.cpuSysMs - prev.sys;
        overlap++;
        pct = ((s.cpuUserMs - prev.user + s.cpuSysMs - prev.sys) / dt) * 100;
      }
      if (o.perPid) perPid.push({ pid: s.pid, rssBytes: s.rssBytes, cpuPercent: pct });
    }
    const has = overlap > 0 && dt > 0;
    const point: SamplePoint = {
      t: at - this.#startedAt,
      at,
      label: this.#label,
      processes: procs.total,
      cpuPercent: has ? ((du + ds) / dt) * 100 : null,
      cpuUserPercent: has ? (du / dt) * 100 : null,
      cpuSysPercent: has ? (ds / dt) * 100 : null,
      perPid: o.perPid ? perPid : null,
      kernel,
      missing: procs.missing,
    };
    this.#prevCpu = cpu;
    this.#prevAt = at;
    this.#points.push(point);
    if (this.#points.length >= this.#capacity) this.#thin();
    o.onSample?.(point);
    return point;
  }

  #tick(): void {
    try {
      this.sample();
    } catch (err) {
      this.#lastError = err;
      this.#opts.onError?.(err);
    }
  }

  #schedule(): void {
    this.#timer = setInterval(() => this.#tick(), this.intervalMs);
    // Sampling must never be what keeps a finished runner alive.
    this.#timer.unref();
  }

  // Keeps every other point, ending on the newest, and doubles the interval. Each kept
  // point's CPU% still describes the interval before it at the grain it was taken.
  #thin(): void {
    const kept: SamplePoint[] = [];
    for (let i = this.#points.length - 1; i >= 0; i -= 2) kept.push(this.#points[i] as SamplePoint);
    kept.reverse();
    this.#points.length = 0;
    this.#points.push(...kept);
    this.#stride *= 2;
    if (this.#timer !== null) {
      clearInterval(this.#timer);
      this.#schedule();
    }
  }
}
