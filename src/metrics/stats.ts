// Summary statistics for measured series. An unmeasured value is null, never 0: inputs may
// contain nulls (they are skipped), and every function returns null when nothing measured
// remains, so a missing figure can never pass for a zero.

export type Measured = number | null;

/** The finite values of a series, nulls dropped; rejects anything else. */
function measured(values: readonly Measured[], name: string): number[] {
  if (!Array.isArray(values)) throw new TypeError(`${name}: expected an array of numbers (or null), got ${typeof values}`);
  const out: number[] = [];
  for (const v of values) {
    if (v === null) continue;
    if (typeof v !== 'number') throw new TypeError(`${name}: expected numbers or null, got ${typeof v}`);
    if (!Number.isFinite(v)) throw new RangeError(`${name}: values must be finite, got ${v}`);
    out.push(v);
  }
  return out;
}

export function min(values: readonly Measured[]): number | null {
  const v = measured(values, 'min');
  return v.length === 0 ? null : v.reduce((a, b) => (b < a ? b : a));
}

export function max(values: readonly Measured[]): number | null {
  const v = measured(values, 'max');
  return v.length === 0 ? null : v.reduce((a, b) => (b > a ? b : a));
}

export function sum(values: readonly Measured[]): number | null {
  const v = measured(values, 'sum');
  return v.length === 0 ? null : v.reduce((a, b) => a + b, 0);
}

export function mean(values: readonly Measured[]): number | null {
  const v = measured(values, 'mean');
  return v.length === 0 ? null : v.reduce((a, b) => a + b, 0) / v.length;
}

/** Sample standard deviation (n − 1); null with fewer than two values. */
export function stddev(values: readonly Measured[]): number | null {
  const v = measured(values, 'stddev');
  if (v.length < 2) return null;
  const m = v.reduce((a, b) => a + b, 0) / v.length;
  return Math.sqrt(v.reduce((a, b) => a + (b - m) ** 2, 0) / (v.length - 1));
}

/**
 * The p-th percentile (0 ≤ p ≤ 100), interpolating linearly between the two nearest ranks
 * (the definition spreadsheets and NumPy use by default): percentile(xs, 50) is the median.
 */
export function percentile(values: readonly Measured[], p: number): number | null {
  if (typeof p !== 'number' || !Number.isFinite(p) || p < 0 || p > 100) {
    throw new RangeError(`percentile: p must be a number from 0 to 100, got ${String(p)}`);
  }
  const v = measured(values, 'percentile').sort((a, b) => a - b);
  if (v.length === 0) return null;
  const rank = (p / 100) * (v.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  const a = v[lo] ?? 0;
  const b = v[hi] ?? a;
  return a + (b - a) * (rank - lo);
}

export function median(values: readonly Measured[]): number | null {
  return percentile(values, 50);
}

export interface Summary {
  readonly n: number;
  readonly min: number | null;
  readonly max: number | null;
  readonly mean: number | null;
  readonly median: number | null;
  readonly stddev: number | null;
}

/** The usual summary of a series (e.g. one figure over repetitions). */
export function summarize(values: readonly Measured[]): Summary {
  const v = measured(values, 'summarize');
  return { n: v.length, min: min(v), max: max(v), mean: mean(v), median: median(v), stddev: stddev(v) };
}
