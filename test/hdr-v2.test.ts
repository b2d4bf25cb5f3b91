// Our histograms in HdrHistogram's standard forms: a V2 compressed base64 string written here
// decodes with hdr-histogram-js (an independent implementation) to the same counts and
// percentiles, decodes back here to the same histogram, and prints as a .hgrm distribution.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as hdr from 'hdr-histogram-js';
import { Histogram } from '../src/metrics/histogram.js';
import { fromCompressedBase64, toCompressedBase64, toHgrm } from '../src/metrics/hdr-v2.js';
import { unitRandom } from './helpers/random.js';

/** Deterministic latencies in µs: mostly ~100 µs to ~2 ms, with a tail to seconds. */
function sample(n: number, seed = 7): number[] {
  const next = unitRandom(seed);
  return Array.from({ length: n }, () => {
    const u = next();
    return u < 0.99 ? Math.floor(80 + next() * 2000) : Math.floor(2000 + next() * 5_000_000);
  });
}

for (const [lowest, highest, digits] of [[1, 60_000_000, 3], [1, 3_600_000_000, 2], [1000, 1e12, 4]] as const) {
  test(`V2 compressed base64 of (${lowest}, ${highest}, ${digits}) decodes with hdr-histogram-js to the same counts and percentiles`, () => {
    const h = new Histogram(lowest, highest, digits);
    for (const v of sample(100_000)) h.record(Math.max(lowest, v));
    const text = toCompressedBase64(h);
    const theirs = hdr.decodeFromCompressedBase64(text, 64, false) as unknown as {
      totalCount: number;
      getCountAtIndex(i: number): number;
      getValueAtPercentile(p: number): number;
      lowestDiscernibleValue: number;
      highestTrackableValue: number;
      numberOfSignificantValueDigits: number;
    };
    assert.equal(theirs.totalCount, h.count);
    assert.equal(theirs.lowestDiscernibleValue, lowest);
    assert.equal(theirs.highestTrackableValue, highest);
    assert.equal(theirs.numberOfSignificantValueDigits, digits);
    for (let i = 0; i < h.countsLength; i++) {
      if (theirs.getCountAtIndex(i) !== h.countAtIndex(i)) assert.fail(`index ${i}: theirs ${theirs.getCountAtIndex(i)}, ours ${h.countAtIndex(i)}`);
    }
    // 100,000 values: at these percentiles both rank rules (ours ceil, theirs round) agree.
    for (const p of [50, 90, 99, 99.9]) assert.equal(theirs.getValueAtPercentile(p), h.valueAtPercentile(p), `p${p}`);
    // And back: the same histogram here, exact once min, max and overflow travel beside it.
    const back = fromCompressedBase64(text, { min: h.min, max: h.max, overflow: h.overflow });
    assert.deepEqual(back.toJSON(), h.toJSON());
  });
}

test('a string written by hdr-histogram-js decodes here to its counts; an empty histogram round-trips', () => {
  const theirs = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3, bitBucketSize: 64 });
  for (const v of sample(10_000, 11)) theirs.recordValue(v);
  const ours = fromCompressedBase64(hdr.encodeIntoCompressedBase64(theirs));
  assert.equal(ours.count, theirs.totalCount);
  assert.equal(ours.valueAtPercentile(99), theirs.getValueAtPercentile(99));
  const empty = new Histogram(1, 60_000_000, 3);
  assert.deepEqual(fromCompressedBase64(toCompressedBase64(empty)).toJSON(), empty.toJSON());
  assert.throws(() => fromCompressedBase64('SGVsbG8='), /not an HdrHistogram V2/);
});

test('.hgrm: a percentile distribution ending at 100 % with the total, mean and max', () => {
  const h = new Histogram(1, 60_000_000, 3);
  for (const v of sample(10_000)) h.record(v);
  const text = toHgrm(h, 1000);
  const rows = text.split('\n').filter((l) => /^\s+\d/.test(l));
  assert.ok(rows.length > 20, `${rows.length} rows`);
  const last = rows[rows.length - 1]!.trim().split(/\s+/);
  assert.equal(Number(last[1]), 1);
  assert.equal(Number(last[2]), h.count);
  assert.match(text, /#\[Max {5}= +\d+\.\d{3}, Total count {4}= +10000\]/);
  // Cumulative counts never go down.
  const totals = rows.map((r) => Number(r.trim().split(/\s+/)[2]));
  for (let i = 1; i < totals.length; i++) assert.ok(totals[i]! >= totals[i - 1]!);
});
