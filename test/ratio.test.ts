// Ratios with the noise they carry (src/results/ratio.ts): the ratio of medians over
// repetitions, the range of per-repetition ratios as its interval, and what that interval says.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatRatio, ratioOf, ratioVerdict, targetVerdict, targetVerdictAtMost, unpairedRatioOf } from '../src/results/ratio.js';
import { compareRuns } from '../src/results/summary.js';
import type { Run } from '../src/results/schema.js';

test('the ratio of medians, with the lowest and highest per-repetition ratio as its interval', () => {
  const e = ratioOf([110, 100, 120], [100, 100, 100])!;
  assert.equal(e.ratio, 1.1);
  assert.deepEqual([e.low, e.high, e.pairs], [1, 1.2, 3]);
  assert.equal(ratioVerdict(e), 'within noise', 'one repetition pair at 1.0: the interval contains 1');
  assert.equal(formatRatio(e), '1.10× (1.00–1.20)');
  const clear = ratioOf([130, 125, 140], [100, 101, 99])!;
  assert.equal(ratioVerdict(clear), 'above');
  assert.equal(ratioVerdict(ratioOf([80, 85, 90], [100, 100, 100])!), 'below');
  assert.equal(targetVerdict(clear, 1.25), 'undecided', '1.24 in one pair: straddles the goal');
  assert.equal(targetVerdict(clear, 1.2), 'met');
  assert.equal(targetVerdict(clear, 1.5), 'not met');
});

test('a ceiling target is met when every repetition is within it, not met when none is', () => {
  const e = ratioOf([40, 45, 50], [100, 100, 100])!;
  assert.equal(targetVerdictAtMost(e, 0.5), 'met');
  assert.equal(targetVerdictAtMost(e, 0.45), 'undecided');
  assert.equal(targetVerdictAtMost(e, 0.39), 'not met');
});

test('a ceiling target decides nothing from one repetition pair or none, as a floor does not', () => {
  const one = ratioOf([40], [100])!;
  assert.equal(one.pairs, 1);
  assert.equal(targetVerdictAtMost(one, 0.5), 'undecided');
  assert.equal(targetVerdict(one, 0.3), 'undecided');
  // No pair at all: the two sides measured in different repetitions.
  const none = ratioOf([40, null], [null, 100])!;
  assert.equal(none.pairs, 0);
  assert.equal(targetVerdictAtMost(none, 0.5), 'undecided');
});

test('unmeasured repetitions pair with nothing; one pair or none shows no noise; a side that measured nothing gives no ratio', () => {
  const e = ratioOf([null, 200, 210], [100, null, 100])!;
  assert.equal(e.pairs, 1);
  assert.equal(e.ratio, 205 / 100);
  assert.equal(ratioVerdict(e), 'no interval');
  assert.equal(targetVerdict(e, 1), 'undecided');
  assert.equal(ratioOf([null], [100]), null);
  assert.equal(ratioOf([100], [0]), null);
  assert.match(formatRatio(e), /1 pair: no interval/);
});

test('comparisons in a result file carry each ratio\'s interval and how it was computed', () => {
  const run = (contender: string, rep: number, ops: number): Run => ({
    contender, protocol: 'tcp-echo', driver: 'native', rep, ok: true, steps: [],
    summary: { opsPerServerCpuSec: ops },
  } as unknown as Run);
  const runs = [run('net', 0, 100), run('epoll', 0, 180), run('net', 1, 110), run('epoll', 1, 200), run('net', 2, 90), run('epoll', 2, 190)];
  const c = compareRuns(runs).find((x) => x.metric === 'summary.opsPerServerCpuSec')!;
  assert.equal(c.ratios['epoll'], 1.9);
  assert.deepEqual(c.intervals?.['epoll']?.map((x) => x.toFixed(3)), ['1.800', '2.111']);
  assert.equal(c.pairs?.['epoll'], 3);
  assert.match(c.intervalMethod ?? '', /per-repetition/);
});

test('across two files repetitions do not pair: the interval is the range of every cross ratio', () => {
  // Paired, every ratio is above 1 (1.20, 1.05, 1.18); unpaired, 110 of one file against 110 of the other is 1.
  const a = [120, 110, 130];
  const b = [100, 105, 110];
  const paired = ratioOf(a, b)!;
  assert.equal(ratioVerdict(paired), 'above');
  const e = unpairedRatioOf(a, b)!;
  assert.equal(e.ratio, 120 / 105, 'the ratio of medians, as when paired');
  assert.deepEqual([e.low, e.high], [110 / 110, 130 / 100]);
  assert.equal(e.pairs, 3);
  assert.equal(e.unpaired, true);
  assert.equal(ratioVerdict(e), 'within noise', 'the ranges overlap at 110');
  assert.equal(ratioVerdict(unpairedRatioOf([80, 85, 90], [100, 95, 98])!), 'below', 'every repetition of a under every one of b');
  // Unequal counts are fine; the side with fewer decides whether there is an interval.
  const one = unpairedRatioOf([80, 85, 90], [100, null])!;
  assert.equal(one.pairs, 1);
  assert.equal(ratioVerdict(one), 'no interval');
  assert.match(formatRatio(one), /1 rep on a side: no interval/);
  assert.equal(unpairedRatioOf([null], [100]), null);
  assert.equal(unpairedRatioOf([100], [0, 100]), null, 'a zero in the denominator gives no interval');
});

test('an interval end that two decimals would put on the goal is printed with the digits that show its side', () => {
  const near = ratioOf([9496, 9700, 9800], [10000, 10000, 10000])!;
  assert.equal(targetVerdict(near, 0.95), 'undecided');
  assert.equal(formatRatio(near), '0.97× (0.95–0.98)', 'without a goal: two decimals');
  assert.equal(formatRatio(near, 0.95), '0.97× (0.9496–0.98)', 'beside ≥ 0.95, its low end shows it falls short');
  assert.equal(formatRatio(ratioOf([9440, 9700, 9800], [10000, 10000, 10000])!, 0.95), '0.97× (0.94–0.98)', 'already clear in two decimals');
  assert.equal(formatRatio(ratioOf([9500, 9700, 9800], [10000, 10000, 10000])!, 0.95), '0.97× (0.95–0.98)', 'on the goal itself: met, two decimals');
});
