// Ratios of two contenders' figures from one result file, with the noise they carry. The runner
// interleaves repetitions (A B C A B C …), so repetition i of each contender ran within minutes
// of the others' repetition i, on the same machine in the same state. The ratio is the ratio of
// the medians over repetitions; its interval is the range of the per-repetition ratios
// A_i / B_i, pairing the runs that ran back to back (which cancels drift between repetitions
// that a bootstrap over unpaired runs would count as noise). With three repetitions the range is
// the honest interval: it says how far one repetition's ratio strayed, with no assumption about
// a distribution that three points cannot show.
//
// Across two files nothing pairs: repetition i of one file ran hours or commits away from
// repetition i of the other. unpairedRatioOf keeps the ratio of medians and widens the interval
// to the range of every cross ratio a_i / b_j, so a ratio is clear of 1 only when every
// repetition of one side is beyond every repetition of the other (the two ranges do not overlap).

import { median } from '../metrics/stats.js';
import type { Measured } from './schema.js';

/** How the interval of every ratio in a result file is computed (recorded beside the ratios). */
export const RATIO_INTERVAL_METHOD = 'range of per-repetition ratios (repetition i of each contender, run back to back)';

/** How the interval of a ratio between two files (unpaired repetitions) is computed. */
export const UNPAIRED_INTERVAL_METHOD = 'range of all cross ratios, min(a)/max(b) to max(a)/min(b), since repetitions of two files do not pair';

export interface RatioEstimate {
  /** median(a) / median(b), over the repetitions each measured. */
  ratio: number;
  /** The lowest and highest per-repetition ratio a_i / b_i; equal to ratio with one pair. */
  low: number;
  high: number;
  /**
   * Repetition pairs in which both sides measured the figure; for unpaired samples
   * (unpairedRatioOf), the measured repetitions of the side with fewer, since an interval needs
   * both sides to show their noise.
   */
  pairs: number;
  /** Set by unpairedRatioOf: the interval is the range of all cross ratios, not of pairs. */
  unpaired?: true;
}

/** What an interval says about a ratio against 1 (or a goal); fewer than two pairs make no interval. */
export type RatioVerdict = 'above' | 'below' | 'within noise' | 'no interval';

/** What a target's interval says: met only when all of it clears the goal. */
export type TargetVerdict = 'met' | 'not met' | 'undecided';

const usable = (v: Measured | undefined): v is number => typeof v === 'number' && Number.isFinite(v);

/**
 * The ratio of a over b, per repetition index (a[i] and b[i] are repetition i of each side).
 * Null when either side measured nothing, or b's median is not positive.
 */
export function ratioOf(a: readonly Measured[], b: readonly Measured[]): RatioEstimate | null {
  const ma = median(a.filter(usable));
  const mb = median(b.filter(usable));
  if (ma === null || mb === null || mb <= 0) return null;
  const ratio = ma / mb;
  const per: number[] = [];
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const x = a[i], y = b[i];
    if (usable(x) && usable(y) && y > 0) per.push(x / y);
  }
  if (per.length === 0) return { ratio, low: ratio, high: ratio, pairs: 0 };
  return { ratio, low: Math.min(ratio, ...per), high: Math.max(ratio, ...per), pairs: per.length };
}

/**
 * The ratio of a over b when their repetitions do not pair (two files): the ratio of medians,
 * and as its interval the range of every cross ratio a_i / b_j, [min(a)/max(b), max(a)/min(b)].
 * Null when either side measured nothing, or b's median or minimum is not positive.
 */
export function unpairedRatioOf(a: readonly Measured[], b: readonly Measured[]): RatioEstimate | null {
  const xs = a.filter(usable);
  const ys = b.filter(usable);
  const ma = median(xs);
  const mb = median(ys);
  if (ma === null || mb === null || mb <= 0 || Math.min(...ys) <= 0) return null;
  const ratio = ma / mb;
  const low = Math.min(...xs) / Math.max(...ys);
  const high = Math.max(...xs) / Math.min(...ys);
  return { ratio, low, high, pairs: Math.min(xs.length, ys.length), unpaired: true };
}

/**
 * Whether the ratio is clear of `against` (1 by default): above or below when the whole
 * interval is, within noise when the interval contains it. One pair or none shows no noise:
 * no interval, and nothing can be said either way.
 */
export function ratioVerdict(e: RatioEstimate, against = 1): RatioVerdict {
  if (e.pairs < 2) return 'no interval';
  if (e.low > against) return 'above';
  if (e.high < against) return 'below';
  return 'within noise';
}

/** A target "ratio ≥ goal": met when the interval's low end clears it, not met when its high end falls short, undecided in between. */
export function targetVerdict(e: RatioEstimate, atLeast: number): TargetVerdict {
  if (e.pairs < 2) return 'undecided';
  if (e.low >= atLeast) return 'met';
  if (e.high < atLeast) return 'not met';
  return 'undecided';
}

/**
 * What an interval says about a ceiling (bytes per connection at most 0.5× another's): met when
 * every repetition's ratio is within it, not met when none is. As for a floor, one pair or none
 * shows no noise and decides nothing (with none, low and high are only the medians' ratio).
 */
export function targetVerdictAtMost(e: RatioEstimate, atMost: number): TargetVerdict {
  if (e.pairs < 2) return 'undecided';
  if (e.high <= atMost) return 'met';
  if (e.low > atMost) return 'not met';
  return 'undecided';
}

/** "1.25× (1.19–1.31)" with two decimals (more where two would put an end on the wrong side of `goal`); "1.25× (1 pair: no interval)" (unpaired: "1 rep on a side") without one. */
export function formatRatio(e: RatioEstimate, goal?: number): string {
  // Two decimals, or up to four where two would print a figure on the wrong side of the goal
  // (0.9496 beside "≥ 0.95" read 0.95, and "undecided" looked like a mistake).
  const f = (x: number): string => {
    if (goal === undefined || x === goal) return x.toFixed(2);
    for (let d = 2; d < 4; d++) {
      const t = Number(x.toFixed(d));
      if (t !== goal && t < goal === x < goal) return x.toFixed(d);
    }
    return x.toFixed(4);
  };
  if (e.pairs < 2) {
    const what = e.unpaired ? `${e.pairs} rep${e.pairs === 1 ? '' : 's'} on a side` : `${e.pairs} pair${e.pairs === 1 ? '' : 's'}`;
    return `${f(e.ratio)}× (${what}: no interval)`;
  }
  return `${f(e.ratio)}× (${f(e.low)}–${f(e.high)})`;
}
