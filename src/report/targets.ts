// The project's performance targets, checked against result files: each is a ratio of two
// contenders' figures in the same file (interleaved runs, same machine) or a bound on one
// figure. Targets are checked here, from measured runs, never by timed assertions in tests.

import { median } from '../metrics/stats.js';
import { formatRatio, RATIO_INTERVAL_METHOD, ratioOf, targetVerdict, targetVerdictAtMost, type RatioEstimate, type TargetVerdict } from '../results/ratio.js';
import type { LoadedResult, Measured, Run } from '../results/schema.js';
import { establishMs } from '../results/summary.js';
import { scenarioLabel } from './model.js';
import { fmtUnit } from './page-format.js';

export interface Target {
  /** What is asked, in words. */
  readonly what: string;
  readonly scenario: string;
  readonly protocol: string;
  /** The contender measured; for a ratio, the numerator. */
  readonly contender: string;
  /** A ratio target: contender / against ≥ atLeast, per measured step both have. */
  readonly against?: string;
  readonly atLeast?: number;
  /** A bound target: the figure ≤ atMost. */
  readonly atMost?: number;
  /** Only files whose run asked for exactly this many connections count (the million-connection runs). */
  readonly atConnections?: number;
  /** Which steps count (by label); all measured steps when absent. */
  readonly steps?: RegExp;
  /**
   * The figure: a step's ops per server CPU-second, the run summary's engine bytes per connection
   * (a bound), its bytes per connection as a ratio against another contender (≤ atMost), or the
   * seconds its ramps took to establish every connection asked for (a bound; the steps in between
   * are not counted, as in the capacity table).
   */
  readonly figure: 'opsPerServerCpuSec' | 'engineBytesPerConnection' | 'bytesPerConnection' | 'establishSeconds';
  /** Checked against files run over TLS (`--tls`) only; plain targets never read those. */
  readonly tls?: boolean;
}

export const TARGETS: readonly Target[] = [
  { what: 'epoll engine memory per idle connection', scenario: 'idle-hold', protocol: 'tcp-echo', contender: 'epoll', atMost: 64, figure: 'engineBytesPerConnection' },
  { what: 'HTTP requests per server CPU-s, epoll vs uws', scenario: 'http-hello', protocol: 'http-hello', contender: 'epoll', against: 'uws', atLeast: 1.25, steps: /^(pipelined|open loop)/, figure: 'opsPerServerCpuSec' },
  { what: 'HTTP requests per server CPU-s, epoll vs uws, keep-alive', scenario: 'http-hello', protocol: 'http-hello', contender: 'epoll', against: 'uws', atLeast: 1.1, steps: /^keep-alive/, figure: 'opsPerServerCpuSec' },
  { what: 'HTTP requests per server CPU-s, epoll vs net', scenario: 'http-hello', protocol: 'http-hello', contender: 'epoll', against: 'net', atLeast: 3, figure: 'opsPerServerCpuSec' },
  { what: 'echoes per server CPU-s, epoll vs net', scenario: 'tcp-echo', protocol: 'tcp-echo', contender: 'epoll', against: 'net', atLeast: 3, figure: 'opsPerServerCpuSec' },
  { what: 'echoes per server CPU-s, epoll-native vs the C reference (within 5 %)', scenario: 'tcp-echo', protocol: 'tcp-echo', contender: 'epoll-native', against: 'c-ref', atLeast: 0.95, figure: 'opsPerServerCpuSec' },
  { what: 'echoes per server CPU-s, epoll (JS handler) vs the C reference (within 10 %)', scenario: 'tcp-echo', protocol: 'tcp-echo', contender: 'epoll', against: 'c-ref', atLeast: 0.9, figure: 'opsPerServerCpuSec' },
  { what: 'echoes per server CPU-s, uring-native vs the C reference', scenario: 'tcp-echo', protocol: 'tcp-echo', contender: 'uring-native', against: 'c-ref', atLeast: 1.15, figure: 'opsPerServerCpuSec' },
  { what: 'HTTP requests per server CPU-s, uring vs uws', scenario: 'http-hello', protocol: 'http-hello', contender: 'uring', against: 'uws', atLeast: 1.25, figure: 'opsPerServerCpuSec' },
  { what: 'broadcast deliveries per server CPU-s, epoll vs uws', scenario: 'ws-broadcast', protocol: 'ws-broadcast', contender: 'epoll', against: 'uws', atLeast: 1.25, steps: /^10000 members/, figure: 'opsPerServerCpuSec' },
  { what: 'time to establish 1,000,000 WebSocket connections, epoll', scenario: 'idle-hold', protocol: 'ws-echo', contender: 'epoll', atMost: 45, atConnections: 1_000_000, figure: 'establishSeconds' },
  // Over TLS (issue 20).
  { what: 'bytes per idle wss connection, epoll vs net', scenario: 'idle-hold', protocol: 'ws-echo', contender: 'epoll', against: 'net', atMost: 0.5, figure: 'bytesPerConnection', tls: true },
  { what: 'bytes per idle TLS connection, epoll vs net', scenario: 'idle-hold', protocol: 'tcp-echo', contender: 'epoll', against: 'net', atMost: 0.5, figure: 'bytesPerConnection', tls: true },
  { what: 'https requests per server CPU-s, epoll vs uws', scenario: 'http-hello', protocol: 'http-hello', contender: 'epoll', against: 'uws', atLeast: 1, figure: 'opsPerServerCpuSec', tls: true },
  { what: 'https requests per server CPU-s, epoll-native vs uws', scenario: 'http-hello', protocol: 'http-hello', contender: 'epoll-native', against: 'uws', atLeast: 1, figure: 'opsPerServerCpuSec', tls: true },
  { what: 'full handshakes per server CPU-s, epoll vs uws', scenario: 'tls-handshake', protocol: 'http-hello', contender: 'epoll', against: 'uws', atLeast: 1, steps: /^full/, figure: 'opsPerServerCpuSec', tls: true },
  { what: 'full handshakes per server CPU-s, epoll-native vs uws', scenario: 'tls-handshake', protocol: 'http-hello', contender: 'epoll-native', against: 'uws', atLeast: 1, steps: /^full/, figure: 'opsPerServerCpuSec', tls: true },
  // The same TLS layer on the engine's io_uring backend.
  { what: 'bytes per idle wss connection, uring vs net', scenario: 'idle-hold', protocol: 'ws-echo', contender: 'uring', against: 'net', atMost: 0.5, figure: 'bytesPerConnection', tls: true },
  { what: 'bytes per idle TLS connection, uring vs net', scenario: 'idle-hold', protocol: 'tcp-echo', contender: 'uring', against: 'net', atMost: 0.5, figure: 'bytesPerConnection', tls: true },
  { what: 'https requests per server CPU-s, uring vs uws', scenario: 'http-hello', protocol: 'http-hello', contender: 'uring', against: 'uws', atLeast: 1, figure: 'opsPerServerCpuSec', tls: true },
  { what: 'https requests per server CPU-s, uring-native vs uws', scenario: 'http-hello', protocol: 'http-hello', contender: 'uring-native', against: 'uws', atLeast: 1, figure: 'opsPerServerCpuSec', tls: true },
  { what: 'full handshakes per server CPU-s, uring vs uws', scenario: 'tls-handshake', protocol: 'http-hello', contender: 'uring', against: 'uws', atLeast: 1, steps: /^full/, figure: 'opsPerServerCpuSec', tls: true },
  { what: 'full handshakes per server CPU-s, uring-native vs uws', scenario: 'tls-handshake', protocol: 'http-hello', contender: 'uring-native', against: 'uws', atLeast: 1, steps: /^full/, figure: 'opsPerServerCpuSec', tls: true },
];

export interface TargetRow {
  readonly target: Target;
  /** The step label, or null for a run-level figure. */
  readonly step: string | null;
  /** The measured figure (a ratio of medians for ratio targets); null when a side was not measured. */
  readonly value: number | null;
  /** A ratio target's ratio with its interval over repetitions; null for a bound or when unmeasured. */
  readonly estimate: RatioEstimate | null;
  /** The medians the ratio is made of (numerator, denominator). */
  readonly parts: readonly [number, number] | null;
  /**
   * met when the whole interval clears the goal (every repetition's figure, for a bound), not
   * met when none of it does, undecided when it straddles the goal; null when not measured.
   */
  readonly verdict: TargetVerdict | null;
  /** Some run of either side had its driver near saturation: the ratio is not the server's alone. */
  readonly clientBound: boolean;
  /**
   * How far apart the host's speed was between the two sides' windows of one repetition pair,
   * the largest over the pairs (step.host's meanUs, the slower over the faster); null when no
   * pair has both probes (files from before the probe).
   */
  readonly hostSkew?: number | null;
  /** A bound's repetitions: how many ran, how many have the figure, and its lowest and highest (null when none has it). */
  readonly spread?: { readonly reps: number; readonly measured: number; readonly low: number | null; readonly high: number | null } | undefined;
  readonly file: string;
}

const okRuns = (r: LoadedResult, contender: string, protocol: string): Run[] =>
  r.result.runs.filter((x) => x.contender === contender && x.protocol === protocol && x.ok && !x.skipped);

/** One step's figure per repetition (index = rep), by step label: ops per server CPU-second, or what `pick` reads. */
function perStep(runs: readonly Run[], pick: (s: Run['steps'][number]) => unknown = (s) => s.throughput?.opsPerServerCpuSec): Map<string, Measured[]> {
  const values = new Map<string, Measured[]>();
  for (const run of runs) {
    for (const s of run.steps) {
      // The runner labels its steps (an addition to the contract's Step).
      const label = (s as { label?: unknown }).label;
      const v = pick(s);
      if (typeof v !== 'number' || typeof label !== 'string') continue;
      const list = values.get(label) ?? [];
      list[run.rep] = v;
      values.set(label, list);
    }
  }
  for (const [label, list] of values) values.set(label, Array.from(list, (v) => v ?? null));
  return values;
}

/** The host ran this much slower in one side's window than in the other's, at most over the pairs; null when no pair has both. */
export function hostSkewOf(a: readonly (number | null | undefined)[] | undefined, b: readonly (number | null | undefined)[] | undefined): number | null {
  let worst: number | null = null;
  for (let i = 0; i < Math.min(a?.length ?? 0, b?.length ?? 0); i++) {
    const x = a?.[i], y = b?.[i];
    if (typeof x !== 'number' || typeof y !== 'number' || !(x > 0) || !(y > 0)) continue;
    const skew = Math.max(x, y) / Math.min(x, y);
    worst = worst === null ? skew : Math.max(worst, skew);
  }
  return worst;
}

export interface HostSpeedSummary {
  /** Windows probed, over all the files. */
  readonly windows: number;
  /** Each window's mean probe against the fastest probe of its file: the lowest and highest factor. */
  readonly low: number;
  readonly high: number;
  /** The widest spread (slowest over fastest mean) among one step's windows in one repetition round (every contender once). */
  readonly roundSkew: number | null;
}

/** How steady the host was over the files' measured windows (step.host); null when none was probed. */
export function hostSpeedSummary(results: readonly LoadedResult[]): HostSpeedSummary | null {
  let windows = 0, low = Infinity, high = 0;
  let roundSkew: number | null = null;
  for (const r of results) {
    const positive = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v > 0;
    const probed = r.result.runs.flatMap((run) => run.steps.map((st) => ({ run, st }))).filter(({ st }) => positive(st.host?.meanUs) && positive(st.host?.minUs));
    if (probed.length === 0) continue;
    const fastest = Math.min(...probed.map(({ st }) => st.host?.minUs ?? Infinity));
    const rounds = new Map<string, number[]>();
    for (const { run, st } of probed) {
      const mean = st.host?.meanUs ?? 0;
      windows++;
      low = Math.min(low, mean / fastest);
      high = Math.max(high, mean / fastest);
      const key = `${run.rep}\u0000${st.label ?? ''}`;
      rounds.set(key, [...(rounds.get(key) ?? []), mean]);
    }
    for (const means of rounds.values()) {
      if (means.length < 2) continue;
      const skew = Math.max(...means) / Math.min(...means);
      roundSkew = roundSkew === null ? skew : Math.max(roundSkew, skew);
    }
  }
  return windows === 0 ? null : { windows, low, high, roundSkew };
}

/** The summary as one sentence for a report. */
export function hostSpeedText(h: HostSpeedSummary): string {
  const f = (x: number): string => x.toFixed(2);
  const round = h.roundSkew === null ? '' : `; within one repetition round (every contender once) one step's windows were up to ${f(h.roundSkew)}× apart`;
  return `Host speed over the ${h.windows} measured windows (the runner's probe, \`step.host\`): each window's mean probe took ${f(h.low)}–${f(h.high)}× the time of its file's fastest probe${round}. The host's swings stretch the contenders' CPU-seconds, and not all alike; ratios cancel them only where paired windows ran at one speed.`;
}

/** A pair whose windows' host speeds differ by this much or more is noted beside its ratio. */
export const HOST_SKEW_NOTE = 1.1;

/**
 * A bound "figure ≤ atMost" over repetitions: met when every repetition is within it, not met
 * when none is. A repetition with no figure (a ramp that fell short) counts as over the bound.
 */
function boundVerdict(values: readonly (number | null)[], atMost: number): TargetVerdict {
  if (values.every((v) => v !== null && v <= atMost)) return 'met';
  if (values.every((v) => v === null || v > atMost)) return 'not met';
  return 'undecided';
}

/** Seconds a run's ramps took to establish `connections`, or null when it did not hold them all. */
function establishSeconds(run: Run, connections: number): number | null {
  const ms = establishMs(run), held = run.summary?.maxConnections;
  return ms === null || typeof held !== 'number' || held < connections ? null : ms / 1000;
}

/** Every target checked against the newest file of its scenario among `results` (null files are skipped). */
export function checkTargets(results: readonly LoadedResult[], targets: readonly Target[] = TARGETS): TargetRow[] {
  const rows: TargetRow[] = [];
  for (const t of targets) {
    const files = results
      .filter((r) => (r.result.params?.['tls'] === true) === (t.tls === true))
      .filter((r) => r.result.scenario === t.scenario && r.result.runs.some((x) => x.protocol === t.protocol && x.contender === t.contender))
      .filter((r) => t.atConnections === undefined || r.result.params?.['connections'] === t.atConnections)
      .sort((a, b) => Date.parse(b.result.startedAt) - Date.parse(a.result.startedAt));
    const file = files[0];
    if (file === undefined) continue;
    const mine = okRuns(file, t.contender, t.protocol);
    // Whether a driver was the bottleneck in the step a row reads (the run's flag for files whose steps carry none).
    const bound = (runs: readonly Run[], label: string | null): boolean =>
      runs.some((x) => {
        const step = x.steps.find((st) => st.label === label);
        return typeof step?.clientBound === 'boolean' ? step.clientBound : x.clientBound === true;
      });
    if (t.figure === 'engineBytesPerConnection') {
      // A repetition with no figure (its fit had too few steps) counts against the bound, as a
      // short ramp does: one repetition of three must not decide alone.
      const values = mine.map((x) => x.summary?.engineBytesPerConnection).map((v) => (typeof v === 'number' ? v : null));
      const value = median(values.filter((v): v is number => v !== null));
      const verdict = value === null || t.atMost === undefined ? null : boundVerdict(values, t.atMost);
      rows.push({ target: t, step: null, value, estimate: null, parts: null, verdict, clientBound: false, file: file.file });
      continue;
    }
    if (t.figure === 'establishSeconds') {
      // Every run counts, not only the ok ones: a run stopped short of the connections did not meet it.
      const runs = file.result.runs.filter((x) => x.contender === t.contender && x.protocol === t.protocol && !x.skipped);
      const values = runs.map((x) => (t.atConnections === undefined ? null : establishSeconds(x, t.atConnections)));
      const measured = values.filter((v): v is number => v !== null);
      const value = median(measured);
      const verdict = values.length === 0 || t.atMost === undefined ? null : boundVerdict(values, t.atMost);
      const spread = { reps: values.length, measured: measured.length, low: measured.length ? Math.min(...measured) : null, high: measured.length ? Math.max(...measured) : null };
      rows.push({ target: t, step: null, value, estimate: null, parts: null, verdict, clientBound: false, spread, file: file.file });
      continue;
    }
    const theirs = t.against === undefined ? [] : okRuns(file, t.against, t.protocol);
    if (t.figure === 'bytesPerConnection') {
      // Run-level: the memory slope of each repetition, paired by repetition.
      const byRep = (runs: readonly Run[]): Measured[] => {
        const list: Measured[] = [];
        for (const x of runs) list[x.rep] = x.summary?.bytesPerConnection ?? null;
        return Array.from(list, (v) => v ?? null);
      };
      const va = byRep(mine), vb = byRep(theirs);
      const estimate = ratioOf(va, vb);
      const ma = median(va.filter((v): v is number => typeof v === 'number')), mb = median(vb.filter((v): v is number => typeof v === 'number'));
      rows.push({
        target: t,
        step: null,
        value: estimate?.ratio ?? null,
        estimate,
        parts: ma === null || mb === null ? null : [ma, mb],
        verdict: estimate === null || t.atMost === undefined ? null : targetVerdictAtMost(estimate, t.atMost),
        clientBound: false,
        file: file.file,
      });
      continue;
    }
    const a = perStep(mine), b = perStep(theirs);
    const hostMean = (st: Run['steps'][number]): unknown => st.host?.meanUs;
    const hostA = perStep(mine, hostMean), hostB = perStep(theirs, hostMean);
    for (const [label, va] of a) {
      if (t.steps !== undefined && !t.steps.test(label)) continue;
      const vb = b.get(label);
      const estimate = vb === undefined ? null : ratioOf(va, vb);
      const ma = median(va), mb = vb === undefined ? null : median(vb);
      rows.push({
        target: t,
        step: label,
        value: estimate?.ratio ?? null,
        estimate,
        parts: ma === null || mb === null ? null : [ma, mb],
        verdict: estimate === null || t.atLeast === undefined ? null : targetVerdict(estimate, t.atLeast),
        clientBound: bound(mine, label) || bound(theirs, label),
        hostSkew: hostSkewOf(hostA.get(label), hostB.get(label)),
        file: file.file,
      });
    }
  }
  return rows;
}

/** The targets as a markdown table (empty string when no file has any target's scenario). */
export function targetsMarkdown(rows: readonly TargetRow[]): string {
  if (rows.length === 0) return '';
  const out = ['| target | step | measured | needed | verdict | from |', '|---|---|---:|---:|---|---|'];
  for (const r of rows) {
    const t = r.target;
    const seconds = t.figure === 'establishSeconds';
    const sec = (v: number): string => `${v.toFixed(1)} s`;
    let measured = '—';
    const sp = r.spread;
    const short = sp === undefined || sp.measured === sp.reps ? '' : `${sp.reps - sp.measured} of ${sp.reps} runs fell short`;
    if (r.value === null && short !== '') measured = `— (${short})`;
    if (r.value !== null) {
      const unit = t.figure === 'bytesPerConnection' ? 'bytes' : 'count';
      const held = short === '' ? '' : `; ${short}`;
      measured = seconds
        ? `${sec(r.value)}${sp === undefined ? '' : sp.measured < 2 || sp.low === null || sp.high === null ? ` (1 run${held})` : ` (${sec(sp.low)}–${sec(sp.high)}, ${sp.measured} runs${held})`}`
        : t.against === undefined || r.estimate === null
          ? fmtUnit('bytes', r.value)
          : `${formatRatio(r.estimate, t.atLeast ?? t.atMost)} (${fmtUnit(unit, r.parts?.[0] ?? 0)} / ${fmtUnit(unit, r.parts?.[1] ?? 0)})`;
    }
    const needed = t.against === undefined ? (seconds ? `≤ ${t.atMost} s` : `≤ ${t.atMost} B`) : t.atLeast !== undefined ? `≥ ${t.atLeast}× ${t.against}` : `≤ ${t.atMost}× ${t.against}`;
    const verdict = r.verdict ?? 'not measured';
    const skew = r.hostSkew ?? null;
    const flag = (r.clientBound ? ' (driver near saturation)' : '') + (skew !== null && skew >= HOST_SKEW_NOTE ? ` (host ${skew.toFixed(2)}× apart in a pair)` : '');
    out.push(`| ${t.what} | ${r.step ?? '—'} | ${measured}${flag} | ${needed} | ${verdict} | \`${r.file}\` |`);
  }
  const notes: string[] = [];
  if (rows.some((r) => r.target.against !== undefined)) notes.push(`Ratios are of medians over repetitions; the interval in brackets is the ${RATIO_INTERVAL_METHOD}. A target is met when the whole interval clears its goal, not met when none of it does, and undecided when the interval straddles it.`);
  if (rows.some((r) => r.target.against === undefined)) notes.push('A bound is met when every run is within it, not met when none is, and undecided otherwise.');
  if (rows.some((r) => (r.hostSkew ?? 0) >= HOST_SKEW_NOTE)) {
    notes.push(
      `"Host n× apart in a pair": in some repetition pair the host itself ran n× slower in one side's window than in the other's, by the runner's probe (step.host). That side's CPU-seconds may be stretched by as much, so that pair's ratio is partly the host's.`,
    );
  }
  if (rows.some((r) => r.target.figure === 'establishSeconds')) notes.push('A time to establish is the median over the runs, with their range; a run that did not establish them all counts against its bound.');
  out.push('', notes.join(' '));
  return `${out.join('\n')}\n`;
}

export interface CpuSplitRow {
  /** The scenario as tables name it ("http-hello over TLS" for a TLS file). */
  readonly scenario: string;
  readonly step: string;
  readonly contender: string;
  /** Server CPU per operation in µs, user space and kernel, summed over the ok runs' windows. */
  readonly userUs: number;
  readonly kernelUs: number;
}

/**
 * Where the server's CPU goes per operation (echo, request, delivery), user space against
 * kernel, for every measured step of the throughput scenarios: the kernel's share is what no
 * user-space I/O model can remove, so it bounds every ratio of ops per server CPU-second. The
 * newest file of each scenario, plain and over TLS apart (a TLS request costs twice a plain one).
 */
export function cpuSplit(results: readonly LoadedResult[], scenarios: readonly string[] = ['tcp-echo', 'http-hello', 'ws-broadcast']): CpuSplitRow[] {
  const rows: CpuSplitRow[] = [];
  for (const [scenario, tls] of scenarios.flatMap((sc) => [[sc, false], [sc, true]] as const)) {
    const file = results
      .filter((r) => r.result.scenario === scenario && (r.result.params?.['tls'] === true) === tls)
      .sort((a, b) => Date.parse(b.result.startedAt) - Date.parse(a.result.startedAt))[0];
    if (file === undefined) continue;
    const label = scenarioLabel(file.result);
    const acc = new Map<string, { step: string; contender: string; user: number; sys: number; ops: number }>();
    for (const run of file.result.runs) {
      if (!run.ok || run.skipped) continue;
      for (const s of run.steps) {
        const { label, windowMs } = s;
        const user = s.server?.cpuUserMs, sys = s.server?.cpuSysMs, rate = s.throughput?.opsPerSec;
        if (typeof label !== 'string' || typeof windowMs !== 'number' || typeof user !== 'number' || typeof sys !== 'number' || typeof rate !== 'number') continue;
        const key = `${label}\u0000${run.contender}`;
        const a = acc.get(key) ?? { step: label, contender: run.contender, user: 0, sys: 0, ops: 0 };
        a.user += user;
        a.sys += sys;
        a.ops += (rate * windowMs) / 1000;
        acc.set(key, a);
      }
    }
    for (const a of acc.values()) {
      if (a.ops > 0) rows.push({ scenario: label, step: a.step, contender: a.contender, userUs: (a.user * 1000) / a.ops, kernelUs: (a.sys * 1000) / a.ops });
    }
  }
  return rows;
}

export function cpuSplitMarkdown(rows: readonly CpuSplitRow[]): string {
  if (rows.length === 0) return '';
  const out = ['| scenario | step | contender | user µs/op | kernel µs/op | total µs/op | kernel share |', '|---|---|---|---:|---:|---:|---:|'];
  for (const r of rows) {
    const total = r.userUs + r.kernelUs;
    out.push(`| ${r.scenario} | ${r.step} | ${r.contender} | ${r.userUs.toFixed(2)} | ${r.kernelUs.toFixed(2)} | ${total.toFixed(2)} | ${total > 0 ? Math.round((100 * r.kernelUs) / total) : 0} % |`);
  }
  return `${out.join('\n')}\n`;
}
