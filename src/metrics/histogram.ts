// HDR latency histogram, the TypeScript twin of native/histogram.h: the same log-linear bucket
// layout (HdrHistogram's), the same serialized forms and the same percentile, mean and stddev
// rules, so a histogram recorded natively in one process and one recorded here merge exactly.
//
// Shared semantics (see native/histogram.h for the layout formulas):
// - Values are non-negative safe integers. A value above `highest` is recorded as `highest` and
//   also counted in `overflow`, so it moves percentiles to the top instead of vanishing.
// - `min` and `max` are the exact extreme recorded values (0 when empty).
// - valueAtPercentile(p): p = 0 gives min, p = 100 gives max; otherwise p is rounded to a
//   multiple of 1e-7 percent, rank = max(1, ceil(p / 100 * count)) is computed exactly, and the
//   answer is the highest value equivalent to the bucket where the cumulative count first
//   reaches rank, capped at max.
// - mean() and stddev() use each bucket's median-equivalent value, summed in ascending index
//   order in doubles (bit-identical to the C++ side).

import { checkInt } from '../checks.js';

/** The JSON form both sides read and write; `buckets` is [index, count, index, count, ...]. */
export interface HistogramJSON {
  lowest: number;
  highest: number;
  digits: number;
  count: number;
  min: number;
  max: number;
  overflow: number;
  buckets: number[];
}

/** The figures a report prints. */
export interface HistogramSummary {
  count: number;
  min: number;
  max: number;
  mean: number;
  stddev: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  overflow: number;
}

/** Largest allowed `highest`: every value and count stays an exact JavaScript number. */
export const MAX_HIGHEST = Number.MAX_SAFE_INTEGER;
/** Words before the [index, count] pairs in the flat encoding (lowest … overflow). */
export const HEADER_FIELDS = 7;

const TWO_32 = 4294967296;
const POW2: readonly number[] = Array.from({ length: 64 }, (_, k) => 2 ** k);
const HEADER_NAMES = ['lowest', 'highest', 'digits', 'count', 'min', 'max', 'overflow'] as const;

function bitLength(v: number): number {
  return v < TWO_32 ? 32 - Math.clz32(v) : 64 - Math.clz32(Math.floor(v / TWO_32));
}

function pow2(k: number): number {
  return POW2[k]!;
}

function corrupt(what: string): RangeError {
  return new RangeError(`corrupt histogram encoding: ${what}`);
}

export class Histogram {
  readonly lowest: number;
  readonly highest: number;
  readonly digits: number;
  readonly subBucketCount: number;
  readonly bucketCount: number;
  readonly countsLength: number;

  readonly #unitMagnitude: number;
  readonly #subBucketCountMagnitude: number;
  readonly #subBucketHalfCountMagnitude: number;
  readonly #subBucketHalfCount: number;
  readonly #highestIndex: number;
  #counts: Float64Array;
  #count = 0;
  #overflow = 0;
  #min = Number.POSITIVE_INFINITY;
  #max = 0;

  /** Creates an empty histogram for values lowest..highest at `digits` (1..5) significant digits. */
  constructor(lowest: number, highest: number, digits: number) {
    checkInt('lowest', lowest, 1, Math.floor(MAX_HIGHEST / 2));
    checkInt('highest', highest, 2, MAX_HIGHEST);
    checkInt('digits', digits, 1, 5);
    if (highest < 2 * lowest) throw new RangeError(`highest must be >= 2 * lowest, got ${highest} < 2 * ${lowest}`);
    this.lowest = lowest;
    this.highest = highest;
    this.digits = digits;
    this.#unitMagnitude = bitLength(lowest) - 1;
    // Smallest m with 2^m >= 2 * 10^digits, by integer arithmetic as in C++.
    this.#subBucketCountMagnitude = bitLength(2 * 10 ** digits - 1);
    if (this.#unitMagnitude + this.#subBucketCountMagnitude > 62) {
      throw new RangeError(`lowest ${lowest} with ${digits} digits needs more than 62 bits of range`);
    }
    this.#subBucketHalfCountMagnitude = this.#subBucketCountMagnitude - 1;
    this.subBucketCount = pow2(this.#subBucketCountMagnitude);
    this.#subBucketHalfCount = this.subBucketCount / 2;
    let smallestUntrackable = this.subBucketCount * pow2(this.#unitMagnitude);
    let buckets = 1;
    while (smallestUntrackable <= highest) {
      smallestUntrackable *= 2;
      buckets++;
    }
    this.bucketCount = buckets;
    this.countsLength = (buckets + 1) * this.#subBucketHalfCount;
    this.#counts = new Float64Array(this.countsLength);
    this.#highestIndex = this.indexOf(highest);
  }

  // --- Layout ---------------------------------------------------------------------------------

  /** True if other has the same (lowest, highest, digits), so counts add index by index. */
  sameLayout(other: Histogram): boolean {
    return this.lowest === other.lowest && this.highest === other.highest && this.digits === other.digits;
  }

  /** Bytes held by the counts array. */
  get memoryBytes(): number {
    return this.#counts.byteLength;
  }

  /** Index in the counts array of a value <= highest. */
  indexOf(v: number): number {
    let bucket = bitLength(v) - this.#unitMagnitude - this.#subBucketCountMagnitude;
    if (bucket < 0) bucket = 0;
    const sub = Math.floor(v / pow2(bucket + this.#unitMagnitude));
    return (bucket + 1) * this.#subBucketHalfCount + sub - this.#subBucketHalfCount;
  }

  /** Lowest value that maps to counts index i. */
  valueFromIndex(i: number): number {
    let bucket = (i >> this.#subBucketHalfCountMagnitude) - 1;
    let sub = (i & (this.#subBucketHalfCount - 1)) + this.#subBucketHalfCount;
    if (bucket < 0) {
      sub -= this.#subBucketHalfCount;
      bucket = 0;
    }
    return sub * pow2(bucket + this.#unitMagnitude);
  }

  /** Number of distinct values that map to counts index i. */
  rangeAtIndex(i: number): number {
    const bucket = (i >> this.#subBucketHalfCountMagnitude) - 1;
    return pow2((bucket < 0 ? 0 : bucket) + this.#unitMagnitude);
  }

  /** Smallest value equivalent to v (same counts index). */
  lowestEquivalent(v: number): number {
    return this.valueFromIndex(this.indexOf(v));
  }

  /** Largest value equivalent to v (same counts index). */
  highestEquivalent(v: number): number {
    const i = this.indexOf(v);
    return this.valueFromIndex(i) + this.rangeAtIndex(i) - 1;
  }

  /** Count stored at counts index i. */
  countAtIndex(i: number): number {
    return this.#counts[i] ?? 0;
  }

  // --- Recording ------------------------------------------------------------------------------

  /** Records one value; a value above highest is recorded as highest and counted in overflow. */
  record(value: number): void {
    if (!Number.isSafeInteger(value) || value < 0) throw badValue('value', value);
    this.#add(value, 1);
  }

  /** Records value n times. */
  recordCount(value: number, n: number): void {
    if (!Number.isSafeInteger(value) || value < 0) throw badValue('value', value);
    if (!Number.isSafeInteger(n) || n < 0) throw badValue('n', n);
    if (n > 0) this.#add(value, n);
  }

  /**
   * Records value plus the samples a stalled closed-loop client failed to send:
   * value - k*interval for k = 1, 2, ... while that is >= interval (HdrHistogram's
   * recordValueWithExpectedInterval). interval 0 records value only.
   */
  recordCorrected(value: number, interval: number): void {
    if (!Number.isSafeInteger(value) || value < 0) throw badValue('value', value);
    if (!Number.isSafeInteger(interval) || interval < 0) throw badValue('interval', interval);
    this.#add(value, 1);
    if (interval === 0 || value <= interval) return;
    // Runs of synthetic values are added per bucket, as in C++. Every operand is an integer
    // below 2^53, where Math.floor(a / b) is exact.
    let m = value - interval;
    while (m >= interval) {
      let n: number;
      if (m > this.highest) {
        // Those above highest, bounded by those still >= interval (as in C++).
        n = Math.min(Math.floor((m - (this.highest + 1)) / interval) + 1, Math.floor(m / interval));
        this.#add(this.highest, n);
        this.#overflow += n;
      } else {
        const i = this.indexOf(m);
        const low = this.valueFromIndex(i);
        n = Math.floor((m - (low > interval ? low : interval)) / interval) + 1;
        this.#counts[i]! += n;
        this.#count += n;
        const smallest = m - (n - 1) * interval;
        if (smallest < this.#min) this.#min = smallest;
        if (m > this.#max) this.#max = m;
      }
      m -= n * interval;
    }
  }

  /** Adds other's counts to this one; throws RangeError unless the layouts are the same. */
  merge(other: Histogram): this {
    if (!this.sameLayout(other)) {
      throw new RangeError(
        `histogram layouts differ: (${this.lowest}, ${this.highest}, ${this.digits}) vs ` +
          `(${other.lowest}, ${other.highest}, ${other.digits})`,
      );
    }
    if (other.#count === 0) return this;
    const mine = this.#counts;
    const theirs = other.#counts;
    for (let i = 0; i < mine.length; i++) mine[i]! += theirs[i]!;
    this.#count += other.#count;
    this.#overflow += other.#overflow;
    if (other.#min < this.#min) this.#min = other.#min;
    if (other.#max > this.#max) this.#max = other.#max;
    return this;
  }

  /** Merges histograms (instances or their JSON forms) of one layout into a new histogram. */
  static mergeAll(items: Iterable<Histogram | HistogramJSON>): Histogram {
    let out: Histogram | undefined;
    for (const item of items) {
      const h = item instanceof Histogram ? item : Histogram.fromJSON(item);
      if (out === undefined) out = new Histogram(h.lowest, h.highest, h.digits);
      out.merge(h);
    }
    if (out === undefined) throw new RangeError('mergeAll needs at least one histogram');
    return out;
  }

  /** Clears all counts, keeping the layout. */
  reset(): void {
    this.#counts.fill(0);
    this.#count = 0;
    this.#overflow = 0;
    this.#min = Number.POSITIVE_INFINITY;
    this.#max = 0;
  }

  /** An independent copy. */
  clone(): Histogram {
    return new Histogram(this.lowest, this.highest, this.digits).merge(this);
  }

  // --- Statistics -----------------------------------------------------------------------------

  get count(): number {
    return this.#count;
  }

  get min(): number {
    return this.#count === 0 ? 0 : this.#min;
  }

  get max(): number {
    return this.#max;
  }

  /** Values that were above highest (also included in count, recorded as highest). */
  get overflow(): number {
    return this.#overflow;
  }

  /** Value at percentile p (0..100) as defined at the top of this file; 0 when empty. */
  valueAtPercentile(p: number): number {
    return this.valuesAtPercentiles([p])[0]!;
  }

  /** Values at several percentiles in one pass over the counts. */
  valuesAtPercentiles(ps: readonly number[]): number[] {
    const out = new Array<number>(ps.length).fill(0);
    const pending: { at: number; rank: number }[] = [];
    for (let k = 0; k < ps.length; k++) {
      const p = ps[k]!;
      if (typeof p !== 'number' || Number.isNaN(p)) throw new TypeError(`percentile must be a number, got ${p}`);
      if (p < 0 || p > 100) throw new RangeError(`percentile must be in 0..100, got ${p}`);
      if (this.#count === 0) continue;
      if (p === 0) out[k] = this.#min;
      else if (p === 100) out[k] = this.#max;
      else pending.push({ at: k, rank: Histogram.rankFor(p, this.#count) });
    }
    if (pending.length === 0) return out;
    pending.sort((a, b) => a.rank - b.rank);
    const counts = this.#counts;
    let next = 0;
    let seen = 0;
    for (let i = 0; i < counts.length && next < pending.length; i++) {
      const c = counts[i]!;
      if (c === 0) continue;
      seen += c;
      while (next < pending.length && seen >= pending[next]!.rank) {
        const v = this.valueFromIndex(i) + this.rangeAtIndex(i) - 1;
        out[pending[next]!.at] = v < this.#max ? v : this.#max;
        next++;
      }
    }
    return out;
  }

  /** Exact integer rank for percentile p in (0, 100): max(1, ceil(round(p * 1e7) * count / 1e9)). */
  static rankFor(p: number, count: number): number {
    const partsPerBillion = BigInt(Math.round(p * 1e7));
    const rank = (BigInt(count) * partsPerBillion + 999_999_999n) / 1_000_000_000n;
    return rank === 0n ? 1 : Number(rank);
  }

  /** Mean of the bucket median-equivalent values; 0 when empty. */
  mean(): number {
    if (this.#count === 0) return 0;
    const counts = this.#counts;
    let total = 0;
    for (let i = 0; i < counts.length; i++) {
      const c = counts[i]!;
      if (c !== 0) total += this.#medianAt(i) * c;
    }
    return total / this.#count;
  }

  /** Population standard deviation of the bucket median-equivalent values; 0 when empty. */
  stddev(): number {
    if (this.#count === 0) return 0;
    const mu = this.mean();
    const counts = this.#counts;
    let total = 0;
    for (let i = 0; i < counts.length; i++) {
      const c = counts[i]!;
      if (c === 0) continue;
      const dev = this.#medianAt(i) - mu;
      total += dev * dev * c;
    }
    return Math.sqrt(total / this.#count);
  }

  /** count, min, max, mean, stddev, p50, p90, p99, p99.9 and overflow. */
  summary(): HistogramSummary {
    const [p50, p90, p99, p999] = this.valuesAtPercentiles([50, 90, 99, 99.9]) as [number, number, number, number];
    return {
      count: this.#count,
      min: this.min,
      max: this.#max,
      mean: this.mean(),
      stddev: this.stddev(),
      p50,
      p90,
      p99,
      p999,
      overflow: this.#overflow,
    };
  }

  // --- Serialization --------------------------------------------------------------------------

  /** The sparse JSON form (same field order as the native side prints). */
  toJSON(): HistogramJSON {
    const buckets: number[] = [];
    const counts = this.#counts;
    for (let i = 0; i < counts.length; i++) {
      const c = counts[i]!;
      if (c !== 0) buckets.push(i, c);
    }
    return {
      lowest: this.lowest,
      highest: this.highest,
      digits: this.digits,
      count: this.#count,
      min: this.min,
      max: this.#max,
      overflow: this.#overflow,
      buckets,
    };
  }

  /** Validates and decodes the JSON form (TypeError for wrong types, RangeError for bad values). */
  static fromJSON(json: unknown): Histogram {
    if (typeof json !== 'object' || json === null) throw new TypeError('histogram JSON must be an object');
    const o = json as Record<string, unknown>;
    const header = HEADER_NAMES.map((name) => {
      const v = o[name];
      if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
        throw new TypeError(`histogram JSON field ${name} must be a non-negative safe integer, got ${String(v)}`);
      }
      return v;
    });
    const buckets = o['buckets'];
    if (!Array.isArray(buckets)) throw new TypeError('histogram JSON field buckets must be an array');
    for (const v of buckets as unknown[]) {
      if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
        throw new TypeError(`histogram JSON buckets must hold non-negative safe integers, got ${String(v)}`);
      }
    }
    return Histogram.#build(header, buckets as number[], 0);
  }

  /** The flat encoding: lowest, highest, digits, count, min, max, overflow, then the pairs. */
  encode(): Float64Array {
    const { buckets, ...h } = this.toJSON();
    const out = new Float64Array(HEADER_FIELDS + buckets.length);
    HEADER_NAMES.forEach((name, k) => {
      out[k] = h[name];
    });
    out.set(buckets, HEADER_FIELDS);
    return out;
  }

  /** Decodes the flat encoding (native encode() output as numbers or a BigUint64Array). */
  static decode(data: ArrayLike<number> | ArrayLike<bigint>): Histogram {
    const words: number[] = new Array<number>(data.length);
    for (let k = 0; k < data.length; k++) {
      const w = data[k];
      const v = typeof w === 'bigint' ? (w <= BigInt(Number.MAX_SAFE_INTEGER) && w >= 0n ? Number(w) : -1) : w;
      if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
        throw new TypeError(`histogram encoding word ${k} must be a non-negative safe integer, got ${String(w)}`);
      }
      words[k] = v;
    }
    if (words.length < HEADER_FIELDS) throw corrupt(`${words.length} words, the header alone is ${HEADER_FIELDS}`);
    return Histogram.#build(words.slice(0, HEADER_FIELDS), words, HEADER_FIELDS);
  }

  // The checks mirror Histogram::decode in native/histogram.h.
  static #build(header: readonly number[], pairs: readonly number[], offset: number): Histogram {
    const [lowest, highest, digits, count, min, max, overflow] = header as [
      number,
      number,
      number,
      number,
      number,
      number,
      number,
    ];
    if ((pairs.length - offset) % 2 !== 0) throw corrupt('odd number of bucket words');
    const h = new Histogram(lowest, highest, digits);
    let total = 0;
    let first = -1;
    let last = -1;
    for (let k = offset; k < pairs.length; k += 2) {
      const i = pairs[k]!;
      const c = pairs[k + 1]!;
      if (i > h.#highestIndex) throw corrupt(`bucket index ${i} is past the index of highest (${h.#highestIndex})`);
      if (c === 0) throw corrupt(`zero count at bucket index ${i}`);
      if (i <= last) throw corrupt(`bucket index ${i} after ${last}: indices must ascend`);
      if (first < 0) first = i;
      last = i;
      h.#counts[i] = c;
      total += c;
    }
    if (!Number.isSafeInteger(total) || total !== count) throw corrupt(`bucket counts add to ${total}, count is ${count}`);
    if (overflow > count) throw corrupt(`overflow ${overflow} > count ${count}`);
    if (count === 0) {
      if (min !== 0 || max !== 0) throw corrupt('an empty histogram must have min = max = 0');
    } else {
      if (min > max || max > highest) throw corrupt(`min ${min} / max ${max} out of order or above highest`);
      if (h.indexOf(min) !== first) throw corrupt(`min ${min} is not in the first non-empty bucket`);
      if (h.indexOf(max) !== last) throw corrupt(`max ${max} is not in the last non-empty bucket`);
      if (overflow > 0 && max !== highest) throw corrupt('overflow without max = highest');
      h.#min = min;
      h.#max = max;
    }
    h.#count = count;
    h.#overflow = overflow;
    return h;
  }

  #add(v: number, n: number): void {
    if (v > this.highest) {
      v = this.highest;
      this.#overflow += n;
    }
    this.#counts[this.indexOf(v)]! += n;
    this.#count += n;
    if (v < this.#min) this.#min = v;
    if (v > this.#max) this.#max = v;
  }

  #medianAt(i: number): number {
    return this.valueFromIndex(i) + Math.floor(this.rangeAtIndex(i) / 2);
  }
}

function badValue(name: string, v: unknown): Error {
  if (typeof v !== 'number') return new TypeError(`${name} must be a number, got ${typeof v}`);
  if (!Number.isInteger(v)) return new TypeError(`${name} must be an integer, got ${v}`);
  return new RangeError(`${name} must be in 0..${Number.MAX_SAFE_INTEGER}, got ${v}`);
}
