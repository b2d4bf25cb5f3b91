// `c1m compare BASE NEW` as data: which files of BASE and NEW pair up (one scenario each, the
// same figure-shaping parameters), and for every contender in both, each compared figure's
// NEW/BASE ratio with its interval and a verdict. A figure regressed when it got worse beyond
// its noise (the whole interval on the bad side of 1) and beyond the threshold (the interval's
// best case is still more than the threshold worse). Pure: the CLI loads, prints and exits.

import { headlineClientBound } from '../results/summary.js';
import { unpairedRatioOf, type RatioEstimate } from '../results/ratio.js';
import type { LoadedResult, Measured, Run } from '../results/schema.js';
import {
  assertOneScenario,
  COMPARED_METRICS,
  fileDifferences,
  fileLabels,
  okRunsOf,
  perRep,
  ratioSense,
  stat,
  type FileDifference,
  type Metric,
  type Stat,
} from './model.js';

/** The threshold when --max-regression is not given: 5 % worse, beyond noise, fails the gate. */
export const DEFAULT_MAX_REGRESSION_PCT = 5;

/** BASE and NEW do not make a comparison: different scenarios, a parameter that differs, nothing in common. */
export class GateRefusal extends Error {
  override name = 'GateRefusal';
}

export type GateVerdict = 'better' | 'worse' | 'within noise' | 'regressed' | 'no interval' | 'not measured';

export interface GateRow {
  contender: string;
  protocol: string;
  metric: Metric;
  /** Medians over repetitions (of the figure, or of its ratio to the anchor); null when not measured. */
  base: Stat | null;
  next: Stat | null;
  /** NEW/BASE with its interval; null when either side did not measure the figure. */
  estimate: RatioEstimate | null;
  verdict: GateVerdict;
  /** Client-bound runs, when there were any: the throughput figures are lower bounds. */
  note: string | null;
}

export interface GatePair {
  scenario: string;
  base: LoadedResult;
  next: LoadedResult;
  /** "575237e · 2026-11-22 00:27Z" for each (model.fileLabels). */
  labels: { base: string; next: string };
  differences: FileDifference[];
  rows: GateRow[];
  /** Contender · protocol pairs with ok runs on one side only (on the other they failed, were skipped or did not run). */
  onlyInBase: string[];
  onlyInNext: string[];
}

export interface GateOptions {
  /** How much worse, in percent, a figure may get beyond its noise before it regresses. */
  maxRegressionPct: number;
  /** Compare each contender's figures through its ratio to this contender in the same file. */
  anchor?: string | undefined;
  /** Compare files whose figure-shaping parameters differ (the differences are still said). */
  allowParamDiff?: boolean | undefined;
}

/**
 * The verdict on NEW/BASE for a figure: better or worse when the whole interval is on one side
 * of 1, regressed when worse and even the interval's best case is more than maxRegressionPct
 * worse (higher is better: high < 1 − pct/100; lower is better: low > 1 + pct/100), within
 * noise when the interval contains 1, no interval with a single repetition on a side.
 */
export function gateVerdict(metric: Metric, e: RatioEstimate, maxRegressionPct: number): Exclude<GateVerdict, 'not measured'> {
  const sense = ratioSense(metric, e);
  if (sense !== 'worse') return sense;
  const bound = regressionBound(metric, maxRegressionPct);
  const beyond = metric.better === 'higher' ? e.high < bound : e.low > bound;
  return beyond ? 'regressed' : 'worse';
}

/**
 * A contender's figure per repetition, indexed by rep. With an anchor, each repetition's figure
 * is divided by the anchor's figure of the same repetition in the same file (they ran back to
 * back), which takes out what moved both: the machine, the minute.
 */
function samples(l: LoadedResult, contender: string, protocol: string, metric: Metric, anchor: string | undefined): Measured[] {
  const own = perRep(okRunsOf(l, contender, protocol), metric.pick);
  if (anchor === undefined) return own;
  const base = perRep(okRunsOf(l, anchor, protocol), metric.pick);
  return own.map((v, i) => {
    const b = base[i];
    return typeof v === 'number' && typeof b === 'number' && b > 0 ? v / b : null;
  });
}

function boundNote(base: Run[], next: Run[]): string | null {
  const sides = [
    ['BASE', base],
    ['NEW', next],
  ] as const;
  const bound = sides.filter(([, runs]) => runs.some(headlineClientBound)).map(([name]) => name);
  return bound.length === 0 ? null : `client-bound in ${bound.join(' and ')}: throughput is a lower bound`;
}

/** Contender · protocol pairs with ok runs in a file, in the order run. */
function pairsOf(l: LoadedResult): Array<{ contender: string; protocol: string }> {
  const out: Array<{ contender: string; protocol: string }> = [];
  for (const r of l.result.runs) {
    if (r.ok && !out.some((p) => p.contender === r.contender && p.protocol === r.protocol)) out.push({ contender: r.contender, protocol: r.protocol });
  }
  return out;
}

/**
 * BASE against NEW, one file each, of one scenario. Refuses (GateRefusal) different scenarios,
 * and a figure-shaping parameter that differs unless allowParamDiff; either way every
 * difference is in `differences`.
 */
export function gatePair(base: LoadedResult, next: LoadedResult, o: GateOptions): GatePair {
  let scenario: string;
  try {
    scenario = assertOneScenario([base, next]);
  } catch (err) {
    throw new GateRefusal((err as Error).message);
  }
  const differences = fileDifferences([base, next]);
  const shaping = differences.filter((d) => d.kind === 'param' && d.shapesFigures);
  if (shaping.length > 0 && o.allowParamDiff !== true) {
    const said = shaping.map((d) => `${d.name} (BASE ${d.values[0]}, NEW ${d.values[1]})`).join(', ');
    throw new GateRefusal(
      `${base.file} and ${next.file} ran ${scenario} with different parameters: ${said}; their figures measure different loads (--allow-param-diff compares them anyway)`,
    );
  }
  if (o.anchor !== undefined) {
    for (const l of [base, next]) {
      if (!l.result.runs.some((r) => r.ok && r.contender === o.anchor)) {
        throw new GateRefusal(`${l.file} has no ok run of ${o.anchor}, the contender the figures were to be divided by (--baseline)`);
      }
    }
  }
  const [baseLabel, nextLabel] = fileLabels([base, next]) as [string, string];
  const inBase = pairsOf(base);
  const inNext = pairsOf(next);
  const both = inBase.filter((p) => inNext.some((q) => q.contender === p.contender && q.protocol === p.protocol) && p.contender !== o.anchor);
  const name = (p: { contender: string; protocol: string }): string => `${p.contender} · ${p.protocol}`;
  const missing = (from: typeof inBase, other: typeof inBase): string[] =>
    from.filter((p) => !other.some((q) => q.contender === p.contender && q.protocol === p.protocol)).map(name);
  const rows: GateRow[] = [];
  for (const p of both) {
    const note = boundNote(okRunsOf(base, p.contender, p.protocol), okRunsOf(next, p.contender, p.protocol));
    for (const metric of COMPARED_METRICS) {
      const b = samples(base, p.contender, p.protocol, metric, o.anchor);
      const n = samples(next, p.contender, p.protocol, metric, o.anchor);
      const bs = stat(b);
      const ns = stat(n);
      if (bs === null && ns === null) continue;
      const estimate = unpairedRatioOf(n, b);
      const verdict = estimate === null ? 'not measured' : gateVerdict(metric, estimate, o.maxRegressionPct);
      rows.push({ contender: p.contender, protocol: p.protocol, metric, base: bs, next: ns, estimate, verdict, note });
    }
  }
  return {
    scenario,
    base,
    next,
    labels: { base: baseLabel, next: nextLabel },
    differences,
    rows,
    onlyInBase: missing(inBase, inNext),
    onlyInNext: missing(inNext, inBase),
  };
}

export interface Pairing {
  pairs: Array<{ base: LoadedResult; next: LoadedResult }>;
  /** Scenarios (or files of a scenario) found on one side only, with the side. */
  unmatched: string[];
}

/**
 * Pairs the files of BASE with those of NEW by scenario (one file a side pairs as given). When a side holds several files of a
 * scenario, each pairs with the one of the other side that ran with the same figure-shaping
 * parameters; one without such a partner is listed as unmatched, and one with several is
 * refused (GateRefusal), since guessing would compare runs that are not the same load twice.
 */
export function pairFiles(base: readonly LoadedResult[], next: readonly LoadedResult[]): Pairing {
  // One file a side: those two were meant, and gatePair says why if they cannot be compared.
  if (base.length === 1 && next.length === 1) return { pairs: [{ base: base[0]!, next: next[0]! }], unmatched: [] };
  const scenarios = [...new Set([...base, ...next].map((l) => l.result.scenario))];
  const pairs: Pairing['pairs'] = [];
  const unmatched: string[] = [];
  const sameLoad = (a: LoadedResult, b: LoadedResult): boolean => !fileDifferences([a, b]).some((d) => d.kind === 'param' && d.shapesFigures);
  for (const scenario of scenarios) {
    const bs = base.filter((l) => l.result.scenario === scenario);
    const ns = next.filter((l) => l.result.scenario === scenario);
    if (bs.length === 0 || ns.length === 0) {
      unmatched.push(`${scenario} (only in ${bs.length === 0 ? 'NEW' : 'BASE'})`);
      continue;
    }
    if (bs.length === 1 && ns.length === 1) {
      pairs.push({ base: bs[0]!, next: ns[0]! });
      continue;
    }
    for (const b of bs) {
      const partners = ns.filter((n) => sameLoad(b, n));
      if (partners.length === 0) {
        unmatched.push(`${scenario}: ${b.file} (only in BASE)`);
        continue;
      }
      if (partners.length > 1 || bs.filter((x) => sameLoad(x, partners[0]!)).length > 1) {
        throw new GateRefusal(
          `${scenario}: BASE holds ${bs.length} files and NEW ${ns.length}, and ${b.file} ran with the same parameters as more than one file of the other side; name the two files to compare`,
        );
      }
      pairs.push({ base: b, next: partners[0]! });
    }
    for (const n of ns) if (!pairs.some((p) => p.next === n)) unmatched.push(`${scenario}: ${n.file} (only in NEW)`);
  }
  return { pairs, unmatched };
}

/** How many rows regressed, over all pairs. */
export function regressions(pairs: readonly GatePair[]): GateRow[] {
  return pairs.flatMap((p) => p.rows.filter((r) => r.verdict === 'regressed'));
}

/** The threshold a verdict of "regressed" needs, as the ratio NEW/BASE must pass: 0.95 for higher is better at 5 %. */
export function regressionBound(metric: Metric, maxRegressionPct: number): number {
  return metric.better === 'higher' ? 1 - maxRegressionPct / 100 : 1 + maxRegressionPct / 100;
}
