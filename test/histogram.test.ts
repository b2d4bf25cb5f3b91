// The TypeScript histogram against hand-computed cases, HdrHistogram's plain correction loop,
// and figures produced by the native self-test (native/tests/structs_selftest.cc, run with
// --fixture), so the two implementations are checked to share bucket math, percentiles,
// mean/stddev bits and the serialized form.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Histogram, HEADER_FIELDS, MAX_HIGHEST, type HistogramJSON } from '../src/metrics/histogram.js';
// The generator and value sequence of the native self-test, bit for bit.
import { xorshift32 } from './helpers/random.js';


function fixtureValue(next: () => number): number {
  const r = next();
  let v = 1 + (r % 50000);
  if (r % 97 === 0) v *= 1000;
  if (r % 1009 === 0) v = 70000000;
  return v;
}

function smallFixture(): Histogram {
  const h = new Histogram(1, 60000000, 3);
  const next = xorshift32(7);
  for (let k = 0; k < 12; k++) h.record(fixtureValue(next));
  h.record(70000000);
  h.recordCorrected(25000, 10000);
  return h;
}

function largeFixture(): Histogram {
  const h = new Histogram(1, 60000000, 3);
  const next = xorshift32(12345);
  for (let k = 0; k < 100000; k++) h.record(fixtureValue(next));
  return h;
}

// The definition recordCorrected must match: value, then value - interval, value - 2*interval,
// ... while >= interval, one record() each.
function naiveCorrected(h: Histogram, v: number, interval: number): Histogram {
  h.record(v);
  if (interval > 0) for (let m = v - interval; m >= interval; m -= interval) h.record(m);
  return h;
}

// One random (layout, value, interval) of the native test_hist_corrected_above_highest, drawn
// from the generator in the same order: interval 0, == v, > highest + 1, about highest, or small.
function correctedCase(next: () => number, k: number) {
  const lowest = 1 + (next() % (k % 4 === 0 ? 100 : 3));
  const highest = 2 * lowest + (next() % 5000);
  const digits = 1 + (next() % 3);
  const v = next() % (4 * highest + 10);
  let interval: number;
  switch (next() % 6) {
    case 0: interval = 0; break;
    case 1: interval = v; break;
    case 2: interval = highest + 2 + (next() % (2 * highest)); break;
    case 3: interval = highest - 2 + (next() % 5); break;
    default: interval = 1 + (next() % (Math.floor(highest / 4) + 1)); break;
  }
  return { lowest, highest, digits, v, interval };
}

// corrected_fixture() of the native self-test: recordCorrected with intervals of every kind
// around highest (0, == v, above highest + 1, below highest), or the naive loop for the same.
function correctedFixture(naive: boolean): Histogram {
  const h = new Histogram(2, 5000, 2);
  const next = xorshift32(99);
  for (let k = 0; k < 500; k++) {
    const v = next() % 24000;
    const kind = next() % 4;
    const r = next();
    const interval = kind === 0 ? 0 : kind === 1 ? v : kind === 2 ? 5002 + (r % 5000) : 1 + (r % 3000);
    if (naive) naiveCorrected(h, v, interval);
    else h.recordCorrected(v, interval);
  }
  return h;
}

// FNV-1a over the flat encoding, each word as two little-endian 32-bit halves (as in C++).
function digest(h: Histogram): number {
  let x = 2166136261;
  for (const w of h.encode()) {
    for (const half of [w >>> 0, Math.floor(w / 4294967296)]) {
      x ^= half;
      x = Math.imul(x, 16777619) >>> 0;
    }
  }
  return x >>> 0;
}

// Printed by `structs_selftest --fixture`; the self-test asserts the same string.
const NATIVE_SMALL_JSON =
  '{"lowest":1,"highest":60000000,"digits":3,"count":15,"min":5157,"max":60000000,"overflow":1,' +
  '"buckets":[3337,1,3425,1,4167,1,4947,1,5215,1,5622,1,5658,1,6005,1,6336,1,6346,1,6352,1,6397,1,6444,1,' +
  '6450,1,17191,1]}';

function sameContents(a: Histogram, b: Histogram): boolean {
  return JSON.stringify(a.toJSON()) === JSON.stringify(b.toJSON());
}

describe('Histogram constructor', () => {
  it('rejects bad arguments with TypeError or RangeError', () => {
    assert.throws(() => new Histogram(0, 100, 3), RangeError);
    assert.throws(() => new Histogram(1, 100, 0), RangeError);
    assert.throws(() => new Histogram(1, 100, 6), RangeError);
    assert.throws(() => new Histogram(10, 19, 3), /highest must be >= 2 \* lowest/);
    assert.throws(() => new Histogram(1, MAX_HIGHEST + 1, 3), RangeError);
    assert.throws(() => new Histogram(1.5, 100, 3), TypeError);
    assert.throws(() => new Histogram(1, 100, '3' as unknown as number), TypeError);
    assert.throws(() => new Histogram(2 ** 50, 2 ** 52, 5), /62 bits/);
    assert.doesNotThrow(() => new Histogram(10, 20, 3));
    assert.doesNotThrow(() => new Histogram(1, MAX_HIGHEST, 5));
  });

  it('has the HdrHistogram layout', () => {
    const h = new Histogram(1, 60000000, 3);
    assert.equal(h.subBucketCount, 2048);
    assert.equal(h.bucketCount, 16);
    assert.equal(h.countsLength, 17408);
    assert.equal(h.memoryBytes, 17408 * 8);
    assert.equal(new Histogram(1, 3600000000, 3).countsLength, 23552);
  });
});

describe('Histogram bucket math', () => {
  it('matches hand-computed indices', () => {
    const h = new Histogram(1, 1000000, 2);
    assert.equal(h.subBucketCount, 256);
    assert.equal(h.indexOf(255), 255);
    assert.equal(h.indexOf(256), 256);
    assert.equal(h.highestEquivalent(256), 257);
    assert.equal(h.indexOf(1000), 506);
    assert.equal(h.lowestEquivalent(1001), 1000);
    assert.equal(h.highestEquivalent(1000), 1003);
    assert.equal(h.highestEquivalent(2000), 2007);
    const u = new Histogram(10, 100000, 2);
    assert.equal(u.lowestEquivalent(15), 8);
    assert.equal(u.highestEquivalent(15), 15);
    assert.equal(u.indexOf(7), 0);
  });

  it('matches native indices across the whole 53-bit range', () => {
    // [lowest, highest, digits, countsLength, [[value, index, highestEquivalent], ...]] from C++.
    const cases: [number, number, number, number, [number, number, number][]][] = [
      [1, 9007199254740991, 3, 45056, [[0, 0, 0], [1, 1, 1], [2047, 2047, 2047], [2048, 2048, 2049], [4095, 3071, 4095], [4096, 3072, 4099], [1000000, 11169, 1000447], [123456789, 18267, 123469823], [4294967295, 23551, 4294967295], [4294967296, 23552, 4299161599], [4294967297, 23552, 4299161599], [1099511640121, 31744, 1100585369599], [4503599627370497, 44032, 4507997673881599], [9007199254740991, 45055, 9007199254740991]]],
      [1000, 9007199254740991, 2, 4864, [[0, 0, 511], [1, 0, 511], [2047, 3, 2047], [2048, 4, 2559], [4095, 7, 4095], [4096, 8, 4607], [1000000, 628, 1003519], [123456789, 1515, 123731967], [4294967295, 2175, 4294967295], [4294967296, 2176, 4328521727], [4294967297, 2176, 4328521727], [1099511640121, 3200, 1108101562367], [4503599627370497, 4736, 4538783999459327], [9007199254740991, 4863, 9007199254740991]]],
      [3, 35184372088832, 5, 3801088, [[0, 0, 1], [1, 0, 1], [2047, 1023, 2047], [2048, 1024, 2049], [4095, 2047, 4095], [4096, 2048, 4097], [1000000, 381072, 1000003], [123456789, 1289702, 123457023], [4294967295, 1966079, 4294967295], [4294967296, 1966080, 4295000063], [4294967297, 1966080, 4295000063], [1099511640121, 3014656, 1099520016383]]],
    ];
    for (const [lowest, highest, digits, len, values] of cases) {
      const h = new Histogram(lowest, highest, digits);
      assert.equal(h.countsLength, len);
      for (const [v, index, hi] of values) {
        assert.equal(h.indexOf(v), index, `indexOf(${v}) in (${lowest}, ${highest}, ${digits})`);
        assert.equal(h.highestEquivalent(v), hi, `highestEquivalent(${v}) in (${lowest}, ${highest}, ${digits})`);
      }
    }
  });

  it('puts every value inside its contiguous, narrow bucket', () => {
    for (let digits = 1; digits <= 5; digits++) {
      const h = new Histogram(1, MAX_HIGHEST, digits);
      const next = xorshift32(digits);
      for (let k = 0; k < 5000; k++) {
        const v = Math.floor((next() * 2 ** 21 + (next() >>> 11)) / 2 ** (next() % 53));
        const i = h.indexOf(v);
        const lo = h.valueFromIndex(i);
        const hi = lo + h.rangeAtIndex(i) - 1;
        assert.ok(lo <= v && v <= hi, `${v} in [${lo}, ${hi}]`);
        if (i + 1 < h.countsLength) assert.equal(h.valueFromIndex(i + 1), hi + 1);
        if (lo >= h.subBucketCount) assert.ok((hi - lo + 1) / lo <= 10 ** -digits);
      }
    }
  });
});

describe('Histogram percentiles', () => {
  it('matches hand-computed values on exact buckets', () => {
    const h = new Histogram(1, 1000000, 2);
    assert.equal(h.valueAtPercentile(50), 0);
    for (let v = 1; v <= 100; v++) h.record(v);
    assert.equal(h.count, 100);
    assert.equal(h.min, 1);
    assert.equal(h.max, 100);
    assert.deepEqual(h.valuesAtPercentiles([0, 50, 90, 99, 99.9, 100, 0.5, 1e-12]), [1, 50, 90, 99, 100, 100, 1, 1]);
    assert.equal(h.mean(), 50.5);
    assert.ok(Math.abs(h.stddev() - Math.sqrt((100 * 100 - 1) / 12)) < 1e-12);
    const s = h.summary();
    assert.deepEqual(
      { ...s, stddev: 0 },
      { count: 100, min: 1, max: 100, mean: 50.5, stddev: 0, p50: 50, p90: 90, p99: 99, p999: 100, overflow: 0 },
    );
  });

  it('reports the highest equivalent value, capped at max', () => {
    const q = new Histogram(1, 1000000, 2);
    q.record(1000);
    q.record(2000);
    assert.equal(q.valueAtPercentile(50), 1003);
    assert.equal(q.valueAtPercentile(50.0000001), 2000);
    assert.equal(q.valueAtPercentile(75), 2000);
    assert.equal(q.mean(), (1002 + 2004) / 2);
  });

  it('computes the rank exactly', () => {
    // 99.9 / 100 * 1000 is 999.0000000000001 in doubles; the exact rank is 999.
    const e = new Histogram(1, 1000000, 3);
    for (let v = 1; v <= 1000; v++) e.record(v);
    assert.equal(e.valueAtPercentile(99.9), 999);
    assert.equal(e.valueAtPercentile(99.99), 1000);
    assert.equal(Histogram.rankFor(99.9, 1000), 999);
    assert.equal(Histogram.rankFor(99.99, 1000), 1000);
    assert.equal(Histogram.rankFor(50, 2 ** 52), 2 ** 51);
  });

  it('validates the percentile', () => {
    const h = new Histogram(1, 1000, 2);
    assert.throws(() => h.valueAtPercentile(-1), RangeError);
    assert.throws(() => h.valueAtPercentile(100.5), RangeError);
    assert.throws(() => h.valueAtPercentile(Number.NaN), TypeError);
  });
});

describe('Histogram recording', () => {
  it('clamps values above highest and counts them as overflow', () => {
    const h = new Histogram(1, 1000, 2);
    h.record(5);
    h.record(5000);
    assert.equal(h.count, 2);
    assert.equal(h.overflow, 1);
    assert.equal(h.max, 1000);
    assert.equal(h.valueAtPercentile(100), 1000);
    h.record(0);
    assert.equal(h.min, 0);
    h.reset();
    assert.deepEqual(h.toJSON(), { lowest: 1, highest: 1000, digits: 2, count: 0, min: 0, max: 0, overflow: 0, buckets: [] });
    assert.equal(h.mean(), 0);
  });

  it('rejects values that are not non-negative safe integers', () => {
    const h = new Histogram(1, 1000, 2);
    assert.throws(() => h.record(-1), RangeError);
    assert.throws(() => h.record(1.5), TypeError);
    assert.throws(() => h.record(2 ** 53), RangeError);
    assert.throws(() => h.record(Number.NaN), TypeError);
    assert.throws(() => h.recordCorrected(10, -1), RangeError);
    assert.throws(() => h.recordCount(10, 0.5), TypeError);
    assert.equal(h.count, 0);
  });

  it('corrects for coordinated omission like HdrHistogram', () => {
    const h = new Histogram(1, 100000, 3);
    h.recordCorrected(10000, 1000);
    assert.equal(h.count, 10);
    assert.equal(h.min, 1000);
    h.recordCorrected(1500, 1000);
    assert.equal(h.count, 11);

    const next = xorshift32(4242);
    for (let k = 0; k < 2000; k++) {
      const digits = 1 + (k % 5);
      const fast = new Histogram(1, 200000, digits);
      const slow = new Histogram(1, 200000, digits);
      const v = next() % 400000;
      const interval = next() % 3 === 0 ? 0 : 1 + (next() % (k % 2 ? 50 : 5000));
      fast.recordCorrected(v, interval);
      slow.record(v);
      if (interval > 0) for (let m = v - interval; m >= interval; m -= interval) slow.record(m);
      assert.ok(sameContents(fast, slow), `recordCorrected(${v}, ${interval}) at ${digits} digits`);
    }
  });

  it('corrects with an interval above highest like the naive loop', () => {
    // Of 2600 and 1100 (both above highest) only 2600 is >= interval; the run above highest
    // used to take both.
    const h = new Histogram(1, 1000, 3);
    h.recordCorrected(4100, 1500);
    assert.deepEqual(h.toJSON(), naiveCorrected(new Histogram(1, 1000, 3), 4100, 1500).toJSON());
    assert.equal(h.count, 2);
    assert.equal(h.overflow, 2);
    assert.equal(h.min, 1000);
    assert.equal(h.max, 1000);

    // A stall of 2^53 - 1 at interval 7 stays O(buckets).
    const big = new Histogram(1, 1000000, 3);
    const v = MAX_HIGHEST;
    const r = v % 7;
    big.recordCorrected(v, 7);
    assert.equal(big.count, Math.floor(v / 7));
    assert.equal(big.overflow, Math.floor(v / 7) - Math.floor((1000000 - r) / 7));
    assert.equal(big.min, r + 7);
    assert.equal(big.max, 1000000);
  });

  it('matches the naive loop around and above highest', () => {
    // The same generator and cases as test_hist_corrected_above_highest in the native self-test.
    const next = xorshift32(1729);
    for (let k = 0; k < 20000; k++) {
      const c = correctedCase(next, k);
      const fast = new Histogram(c.lowest, c.highest, c.digits);
      fast.recordCorrected(c.v, c.interval);
      const naive = naiveCorrected(new Histogram(c.lowest, c.highest, c.digits), c.v, c.interval);
      const what = `recordCorrected(${c.v}, ${c.interval}) in (${c.lowest}, ${c.highest}, ${c.digits})`;
      assert.deepEqual(Array.from(fast.encode()), Array.from(naive.encode()), what);
      assert.deepEqual(fast.valuesAtPercentiles([50, 99]), naive.valuesAtPercentiles([50, 99]), what);
    }
  });
});

describe('Histogram merge', () => {
  it('adds counts exactly', () => {
    const all = new Histogram(1, 60000000, 3);
    const a = new Histogram(1, 60000000, 3);
    const b = new Histogram(1, 60000000, 3);
    const next = xorshift32(5);
    for (let k = 0; k < 50000; k++) {
      const v = 1 + (next() % 70000000);
      all.record(v);
      (k % 3 ? a : b).record(v);
    }
    assert.equal(a.merge(b), a);
    assert.ok(sameContents(a, all));
    assert.ok(sameContents(Histogram.mergeAll([all.toJSON(), b]), all.clone().merge(b)));
    assert.equal(Histogram.mergeAll([all, all.toJSON(), a]).count, 3 * all.count);
    const empty = new Histogram(1, 60000000, 3);
    assert.ok(sameContents(empty.merge(all), all));
  });

  it('reports a layout mismatch', () => {
    const a = new Histogram(1, 60000000, 3);
    assert.throws(() => a.merge(new Histogram(1, 60000000, 2)), /layouts differ: \(1, 60000000, 3\) vs \(1, 60000000, 2\)/);
    assert.throws(() => a.merge(new Histogram(2, 60000000, 3)), RangeError);
    assert.throws(() => Histogram.mergeAll([]), RangeError);
  });
});

describe('Histogram serialization', () => {
  it('round-trips the JSON and flat forms', () => {
    const h = new Histogram(1, 60000000, 3);
    const next = xorshift32(77);
    for (let k = 0; k < 1000; k++) h.record(next() % 80000000);
    const json = h.toJSON();
    assert.ok(sameContents(Histogram.fromJSON(JSON.parse(JSON.stringify(json))), h));
    const flat = h.encode();
    assert.equal(flat.length, HEADER_FIELDS + json.buckets.length);
    assert.deepEqual(Array.from(flat.subarray(0, 4)), [1, 60000000, 3, 1000]);
    assert.ok(sameContents(Histogram.decode(flat), h));
    assert.ok(sameContents(Histogram.decode(BigUint64Array.from(flat, (w) => BigInt(w))), h));
    const empty = new Histogram(1, 1000, 1);
    assert.equal(Histogram.decode(empty.encode()).count, 0);
  });

  it('rejects corrupt encodings', () => {
    const h = new Histogram(1, 60000000, 3);
    const next = xorshift32(77);
    for (let k = 0; k < 1000; k++) h.record(next() % 80000000);
    const good = h.toJSON();
    const bad = (patch: (j: HistogramJSON) => void): void => {
      const j = structuredClone(good);
      patch(j);
      assert.throws(() => Histogram.fromJSON(j), RangeError);
    };
    bad((j) => (j.count += 1));
    bad((j) => j.buckets.pop());
    bad((j) => ([j.buckets[0], j.buckets[2]] = [j.buckets[2]!, j.buckets[0]!]));
    bad((j) => (j.buckets[j.buckets.length - 2] = 17408));
    bad((j) => (j.min = j.max));
    bad((j) => (j.digits = 9));
    bad((j) => (j.overflow = j.count + 1));
    bad((j) => (j.buckets[1] = 0));
    assert.throws(() => Histogram.fromJSON(null), TypeError);
    assert.throws(() => Histogram.fromJSON({ ...good, min: '1' }), /field min/);
    assert.throws(() => Histogram.fromJSON({ ...good, buckets: [1, -1] }), TypeError);
    assert.throws(() => Histogram.decode([1, 2, 3]), RangeError);
    assert.throws(() => Histogram.decode([1, 1000, 2, 0, 0, 0, -1]), TypeError);
    assert.throws(() => Histogram.decode(BigUint64Array.of(1n, 2n ** 60n, 3n, 0n, 0n, 0n, 0n)), TypeError);
  });
});

describe('Histogram agrees with the native histogram', () => {
  it('records the small fixture to the same JSON as C++', () => {
    assert.equal(JSON.stringify(smallFixture().toJSON()), NATIVE_SMALL_JSON);
  });

  it('decodes the native JSON and computes the same statistics', () => {
    const n = Histogram.fromJSON(JSON.parse(NATIVE_SMALL_JSON));
    assert.deepEqual(n.valuesAtPercentiles([50, 90, 99]), [30559, 42591, 60000000]);
    assert.equal(n.mean(), 4026024.7999999998);
    assert.equal(n.stddev(), 14963579.88331259);
    // A native histogram and a TS one of the same layout merge exactly.
    const merged = Histogram.mergeAll([n, smallFixture()]);
    assert.equal(merged.count, 30);
    assert.equal(merged.overflow, 2);
    assert.deepEqual(
      merged.toJSON().buckets,
      n.toJSON().buckets.map((x, k) => (k % 2 ? x * 2 : x)),
    );
  });

  it('corrects for coordinated omission to the same figures as C++', () => {
    // Printed by `structs_selftest --fixture` ("corrected: ..."); the self-test asserts them too.
    const h = correctedFixture(false);
    assert.ok(sameContents(h, correctedFixture(true)));
    assert.equal(h.count, 7373);
    assert.equal(h.min, 7);
    assert.equal(h.max, 5000);
    assert.equal(h.overflow, 5076);
    assert.equal(digest(h), 3046518349);
    assert.deepEqual(h.valuesAtPercentiles([10, 25, 50]), [1719, 4047, 5000]);
    assert.equal(h.mean(), 4246.4429675844294);
    assert.equal(h.stddev(), 1381.7344944348251);
  });

  it('matches the native figures for 100000 values', () => {
    const h = largeFixture();
    assert.equal(h.count, 100000);
    assert.equal(h.min, 1);
    assert.equal(h.max, 60000000);
    assert.equal(h.overflow, 96);
    assert.equal(digest(h), 115944130);
    assert.deepEqual(h.valuesAtPercentiles([50, 90, 99, 99.9, 99.99]), [25247, 45439, 6012927, 49741823, 60000000]);
    assert.equal(h.mean(), 336570.80255999998);
    assert.equal(h.stddev(), 3435480.1106563592);
  });
});
