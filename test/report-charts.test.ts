// The HTML report's chart data (src/report/step-charts.ts, capacity.ts, palette.ts, charts.ts):
// every measured step charted with its achieved (not offered) rate, CPU split user/kernel beside
// the driver's, latency against offered load, percentile curves read from stored histograms, one
// legend entry per contender with distinct colours, legends that say what the tables say, and
// contenders of one file each listed once instead of as a sparse diagonal. Made-up results.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CLIENT_BOUND_PCT } from '../src/drivers/cpu.js';
import { Histogram } from '../src/metrics/histogram.js';
import { readResult } from '../src/results/load.js';
import type { LoadedResult } from '../src/results/schema.js';
import { perConnectionChart } from '../src/report/capacity.js';
import { chartsForResult, type ChartSpec, type MemoryChart } from '../src/report/charts.js';
import { renderHtml } from '../src/report/html.js';
import { COMPARED_METRICS, compareFiles, headlineTable, loneRows, metricText } from '../src/report/model.js';
import { CONTENDER_COLORS, contenderColors } from '../src/report/palette.js';
import { offeredRate, percentileCurve, type LoadLatencyChart, type NinesChart, type StepBarsChart } from '../src/report/step-charts.js';
import { capacityFile, layout, STEPS, stepped, uniform } from './helpers/made-up-results.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const fixture = (name: string): LoadedResult => ({
  file: `test/fixtures/${name}`,
  result: readResult(JSON.parse(readFileSync(join(root, 'test/fixtures', name), 'utf8')), name),
});

const byId = (charts: ChartSpec[], id: string): ChartSpec => {
  const c = charts.find((x) => x.id === id);
  assert.ok(c, `chart ${id} among ${charts.map((x) => x.id).join(', ')}`);
  return c;
};

test('every measured step is charted, with the achieved rate, and the offered rate of the open loops marked beside it', () => {
  const loaded = stepped();
  const charts = chartsForResult(loaded, 'r');
  assert.deepEqual(
    charts.map((c) => c.id),
    ['r-steps-throughput', 'r-steps-cpu-per-op', 'r-steps-cpu', 'r-load-latency', 'r-nines-1', 'r-nines-2', 'r-nines-3'],
  );
  const tp = byId(charts, 'r-steps-throughput') as StepBarsChart;
  assert.deepEqual(tp.steps, STEPS.map((s) => s.label));
  // Every contender in every step, at the median of its two repetitions' achieved rates.
  for (const [c, contender] of ['epoll', 'epoll-native'].entries()) {
    for (const [i, s] of STEPS.entries()) {
      const bar = tp.bars.filter((b) => b.contender === contender && b.step === s.label);
      assert.equal(bar.length, 1, `${contender} ${s.label}`);
      assert.equal(bar[0]!.y2, 1000 * (10 + 10 * c + 0.5 + i));
      assert.deepEqual(
        tp.reps.filter((r) => r.contender === contender && r.step === s.label).map((r) => r.value),
        [1000 * (10 + 10 * c + i), 1000 * (11 + 10 * c + i)],
      );
    }
  }
  // The closed loop saturated its driver: its figures are lower bounds and say so.
  assert.deepEqual(
    tp.totals.filter((t) => t.step === STEPS[0]!.label).map((t) => t.label),
    ['≥ 10.5k/s', '≥ 20.5k/s'],
  );
  assert.deepEqual(
    tp.totals.filter((t) => t.step === STEPS[1]!.label).map((t) => t.label),
    ['11.5k/s', '21.5k/s'],
  );
  // The offered rate is a mark of its own, in the open-loop steps only.
  assert.deepEqual(tp.rules, [
    { step: 'open loop 10000/s', value: 10_000, label: 'offered 10.0k/s' },
    { step: 'open loop 40000/s', value: 40_000, label: 'offered 40.0k/s' },
  ]);
  assert.equal(offeredRate(loaded.result, loaded.result.runs[0]!.steps[0]), null, 'a closed loop offers no rate');
});

test('server CPU per operation is split into user and kernel time; the driver CPU stands beside it with the client-bound threshold', () => {
  const charts = chartsForResult(stepped(), 'r');
  const perOp = byId(charts, 'r-steps-cpu-per-op') as StepBarsChart;
  const step = STEPS[1]!.label;
  const epoll = perOp.bars.filter((b) => b.contender === 'epoll' && b.step === step);
  assert.deepEqual(epoll.map((b) => b.part), ['user', 'kernel']);
  // epoll's reps: 11,000 and 12,000 ops/s on 0.4 and 0.5 cores: 36.36 and 41.67 µs per op, median 39.02;
  // user share 1/4 and 1/5, median 0.225.
  const total = (1e6 * 0.4) / 11_000 / 2 + (1e6 * 0.5) / 12_000 / 2;
  assert.ok(Math.abs(epoll[1]!.y2 - total) < 1e-9, `${epoll[1]!.y2} vs ${total}`);
  assert.ok(Math.abs(epoll[0]!.y2 - total * 0.225) < 1e-9);
  assert.equal(epoll[1]!.y1, epoll[0]!.y2, 'kernel is stacked on user');

  const cpu = byId(charts, 'r-steps-cpu') as StepBarsChart;
  assert.deepEqual(cpu.columns.map((c) => c.label), ['epoll', 'driver', 'epoll-native', 'driver']);
  assert.deepEqual(cpu.rules, [{ step: null, value: CLIENT_BOUND_PCT, label: `client-bound at ${CLIENT_BOUND_PCT.toFixed(1)} %` }]);
  const closed = cpu.bars.filter((b) => b.step === STEPS[0]!.label && b.contender === 'epoll');
  assert.deepEqual(
    closed.map((b) => [b.part, b.y1, b.y2]),
    [
      ['user', 0, 10],
      ['kernel', 10, 45],
      ['driver', 0, 95.5],
    ],
  );
  assert.match(closed[2]!.title, /client-bound in 2 of 2 repetition/);
});

test('latency against offered load: p50 and p99 of each contender at each open-loop rate', () => {
  const chart = byId(chartsForResult(stepped(), 'r'), 'r-load-latency') as LoadLatencyChart;
  assert.deepEqual([...new Set(chart.points.map((p) => p.offered))], [10_000, 40_000]);
  assert.deepEqual([...new Set(chart.points.map((p) => p.series))], ['epoll p50', 'epoll p99', 'epoll-native p50', 'epoll-native p99']);
  assert.equal(chart.reps.length, 2 * 2 * 2 * 2, 'each repetition kept, to be drawn faint');
  assert.deepEqual(chart.legend.map((l) => l.contender), ['epoll', 'epoll-native'], 'one legend entry per contender');
});

test('the percentile curve of a known histogram: each decade of 1/(1 - p) one more nine', () => {
  const curve = percentileCurve(uniform(1, 1000));
  const at = (x: number): number | undefined => curve.find((p) => Math.abs(p.x - x) < 1e-9)?.us;
  assert.equal(at(1), 1, 'x = 1 is p0, the minimum');
  assert.equal(at(2), undefined, 'sampled ten to a decade, not at 2');
  assert.equal(at(10), 900, 'p90');
  assert.equal(at(100), 990, 'p99');
  assert.equal(at(10 ** 2.9), 999, 'p99.874: rank 999 of 1000');
  assert.deepEqual(curve.at(-1), { x: 1000, percentile: 100, us: 1000 }, 'the maximum, at the end of the axis: 1/(1 - p) = count');
  assert.equal(curve.length, 31);
  for (let i = 1; i < curve.length; i++) assert.ok(curve[i]!.us >= curve[i - 1]!.us, 'never falls');
  assert.deepEqual(percentileCurve(layout()), [], 'an empty histogram has no curve');
});

test('nines charts pool the repetitions\' stored histograms and keep each repetition as a faint series', () => {
  const charts = chartsForResult(stepped(), 'r');
  const nines = byId(charts, 'r-nines-3') as NinesChart;
  assert.equal(nines.source, 'histograms');
  assert.equal(nines.title, 'Latency by percentile: open loop 40000/s');
  // epoll's reps hold 100..1200 and 110..1200: pooled, min 100, max 1200, and 2,192 values.
  const pooled = nines.points.filter((p) => p.series === 'epoll' && p.pooled);
  const expected = percentileCurve(Histogram.mergeAll([uniform(100, 1200), uniform(110, 1200)]));
  assert.deepEqual(pooled.map((p) => [p.x, p.us]), expected.map((p) => [p.x, p.us]));
  assert.equal(pooled[0]!.us, 100);
  assert.equal(pooled.at(-1)!.us, 1200);
  assert.equal(pooled.at(-1)!.x, 2192);
  assert.deepEqual([...new Set(nines.points.filter((p) => !p.pooled).map((p) => p.series))], ['epoll #0', 'epoll #1', 'epoll-native #0', 'epoll-native #1']);
  assert.deepEqual(nines.legend.map((l) => l.contender), ['epoll', 'epoll-native'], 'one legend entry per contender, not per repetition');
  // A file without histograms draws the stored percentiles instead, at their places on the axis.
  const old = byId(chartsForResult(fixture('result-http-hello.json'), 'h'), 'h-nines-1') as NinesChart;
  assert.equal(old.source, 'percentiles');
  assert.deepEqual([...new Set(old.points.map((p) => Math.round(p.x)))], [2, 10, 100, 1000]);
});

test('colours: one fixed colour per contender name, all distinct, the same whatever the files and their order', () => {
  const names = Object.keys(CONTENDER_COLORS);
  assert.equal(new Set(Object.values(CONTENDER_COLORS)).size, names.length, 'every known contender has its own colour');
  assert.notEqual(CONTENDER_COLORS['epoll'], CONTENDER_COLORS['epoll-native']);
  const http = fixture('result-http-hello.json');
  const idle = fixture('result-idle-hold.json');
  const a = contenderColors([http, idle]);
  const b = contenderColors([idle, http]);
  for (const c of Object.keys(a)) assert.equal(a[c], b[c], c);
  assert.equal(a['epoll'], CONTENDER_COLORS['epoll']);
  // Unknown names get spare colours, distinct from every colour in use.
  const odd = structuredClone(http);
  odd.result.runs[0]!.contender = 'mystery';
  odd.result.runs[1]!.contender = 'another';
  const colors = Object.values(contenderColors([odd, idle]));
  assert.equal(new Set(colors).size, colors.length);
});

test('one legend entry per contender however many repetitions, their lines faint', () => {
  const loaded = fixture('result-http-hello.json');
  for (const chart of chartsForResult(loaded, 'h')) {
    const contenders = chart.legend.map((l) => l.contender);
    assert.equal(new Set(contenders).size, contenders.length, `${chart.id}: ${contenders.join(', ')}`);
  }
  const result = readResult(JSON.parse(readFileSync(join(root, 'test/fixtures/result-idle-hold.json'), 'utf8')), 'x.json');
  const net = result.runs.find((r) => r.contender === 'net')!;
  const again = { ...structuredClone(net), rep: 1 };
  const charts = chartsForResult({ file: 'x.json', result: { ...result, runs: [...result.runs, again] } }, 'r');
  const timeline = byId(charts, 'r-timeline-connections');
  assert.deepEqual(
    timeline.legend.filter((l) => l.contender === 'net').map((l) => l.text),
    ['21.4k/s connect rate (median of 2)'],
  );
  assert.equal(timeline.kind === 'timeline' && timeline.faint, true);
  assert.equal((byId(charts, 'r-memory-user') as MemoryChart).faint, true);
});

test('a memory slope that came out negative reads as a dash in the legend, as in the table, by the same function', () => {
  const loaded = fixture('result-idle-hold.json');
  const epoll = loaded.result.runs.find((r) => r.contender === 'epoll')!;
  // As the runner records a slope below zero: the fit as it came out, the summary figure null.
  epoll.summary!.fit!.bytesPerConnection!.slope = -200;
  epoll.summary!.bytesPerConnection = null;
  const user = byId(chartsForResult(loaded, 'r'), 'r-memory-user') as MemoryChart;
  const metric = COMPARED_METRICS.find((m) => m.id === 'bytesPerConnection')!;
  const cell = headlineTable(loaded, 'net').rows.find((r) => r.contender === 'epoll')!.cells['bytesPerConnection']!;
  assert.equal(metricText(metric, cell.value), '—');
  assert.equal(user.legend.find((l) => l.contender === 'epoll')?.text, '— (slope below zero)');
  assert.ok(!user.legend.some((l) => l.text.includes('-200') || l.text.includes('−200')));
});

test('files of one contender each: listed once each, not as a sparse diagonal, and bytes per connection drawn against connections to 1,000,000', () => {
  const files = [
    capacityFile('epoll', 'tcp-echo', 30, '2026-01-01T00:00:00Z'),
    capacityFile('net', 'tcp-echo', 1600, '2026-01-01T01:00:00Z'),
    capacityFile('net', 'ws-echo', 3500, '2026-01-01T02:00:00Z'),
  ];
  const c = compareFiles(files);
  const lone = loneRows(c);
  assert.deepEqual(lone.map((l) => [l.contender, l.protocol, l.file]), [
    ['epoll', 'tcp-echo', 0],
    ['net', 'tcp-echo', 1],
    ['net', 'ws-echo', 2],
  ]);
  assert.equal(lone[0]!.maxConnections?.median, 1_000_000);
  const html = renderHtml(files);
  assert.ok(html.includes('no figure is compared across them'), 'no side-by-side table of dashes');
  assert.ok(!html.includes('<table class="compare">'));
  assert.ok(html.includes('<table class="lone">'));

  const user = perConnectionChart(files, 'u', 'user', ['A', 'B', 'C'])!;
  assert.equal(user.xMax, 1_000_000);
  assert.deepEqual([...new Set(user.points.map((p) => p.series))], ['epoll · tcp-echo', 'net · tcp-echo', 'net · ws-echo']);
  assert.deepEqual(user.legend.map((l) => l.contender), ['epoll', 'net', 'net']);
  assert.equal(user.points.filter((p) => p.series === 'net · ws-echo').every((p) => p.dashed), true, 'the second protocol is dashed');
  // Each point is the step's RSS above the fit's intercept over its connections: near the slope.
  for (const p of user.points.filter((x) => x.series === 'epoll · tcp-echo')) assert.ok(Math.abs(p.bytes - 30) < 3, `${p.connections}: ${p.bytes}`);
  const slope = files[0]!.result.runs[0]!.summary!.bytesPerConnection!;
  assert.equal(user.legend[0]!.text, `tcp-echo ${metricText(COMPARED_METRICS[0]!, { median: slope, min: slope, max: slope, n: 1 })}/conn`);
  const kernel = perConnectionChart(files, 'k', 'kernel')!;
  for (const p of kernel.points) assert.ok(Math.abs(p.bytes - 10_000) < 1e-6);
});
