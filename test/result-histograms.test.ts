// Latency histograms in result files: a step stores its complete histogram in HdrHistogram's V2
// compressed form, which hdr-histogram-js (an independent implementation) decodes to the same
// counts and percentiles; repetitions add up exactly; `c1m report --hgrm` writes their
// percentile distributions.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import * as hdr from 'hdr-histogram-js';
import { DRIVER_LATENCY_LAYOUT } from '../src/drivers/driver-contract.js';
import { Histogram } from '../src/metrics/histogram.js';
import { hgrmFiles, histogramOf, latencyRecord, pooledHistogram } from '../src/results/histograms.js';
import type { C1mResult } from '../src/results/schema.js';
import { validateResult } from '../src/results/validate.js';
import { runCli } from './helpers/cli.js';
import { unitRandom } from './helpers/random.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

/** Deterministic latencies in µs: a body around 200–1,200 µs and a tail to 80 ms. */
function latencies(n: number, seed: number): Histogram {
  const h = new Histogram(DRIVER_LATENCY_LAYOUT.lowest, DRIVER_LATENCY_LAYOUT.highest, DRIVER_LATENCY_LAYOUT.digits);
  const next = unitRandom(seed);
  for (let i = 0; i < n; i++) h.record(next() < 0.98 ? Math.floor(200 + next() * 1000) : Math.floor(1200 + next() * 80_000));
  return h;
}

/** The http-hello fixture with every step's latency replaced by a stored histogram (run i from seed i). */
function withHistograms(): { result: C1mResult; sources: Histogram[] } {
  const json = JSON.parse(readFileSync(join(root, 'test/fixtures/result-http-hello.json'), 'utf8')) as C1mResult;
  const sources: Histogram[] = [];
  json.runs.forEach((run, i) => {
    const h = latencies(20_000 + 1000 * i, i + 1);
    sources.push(h);
    run.steps[0]!.latencyUs = latencyRecord(h);
  });
  return { result: validateResult(json, 'x.json'), sources };
}

test('a stored histogram decodes with hdr-histogram-js to the same counts and percentiles, and back here to the same histogram', () => {
  const h = latencies(50_000, 9);
  const rec = latencyRecord(h)!;
  assert.equal(rec.hdr?.count, h.count);
  assert.equal(rec.p99, h.valueAtPercentile(99));
  const theirs = hdr.decodeFromCompressedBase64(rec.hdr!.counts, 64, false) as unknown as { totalCount: number; getValueAtPercentile(p: number): number; maxValue: number };
  assert.equal(theirs.totalCount, h.count);
  for (const p of [50, 90, 99, 99.9, 99.99]) {
    // HdrHistogram reports the highest value equivalent to the percentile's bucket, as ours does.
    assert.equal(theirs.getValueAtPercentile(p), h.valueAtPercentile(p), `p${p}`);
  }
  const back = histogramOf(rec)!;
  assert.deepEqual(back.toJSON(), h.toJSON(), 'counts, exact min, max and overflow all come back');
  assert.equal(latencyRecord(new Histogram(1, 1000, 2)), null, 'an empty histogram is no latency record');
  assert.equal(histogramOf({ p50: 1, p99: 2 }), null, 'a file written before histograms were kept has none');
  assert.throws(() => histogramOf({ ...rec, hdr: { ...rec.hdr!, count: rec.hdr!.count + 1 } }), /holds 50000 values but says 50001/);
  assert.throws(() => histogramOf({ ...rec, hdr: { ...rec.hdr!, counts: 'HISTFAAAA' } }), /not an HdrHistogram V2 compressed histogram/);
});

test('repetitions add up: the pooled histogram is the exact sum, and its p99 is read from every sample', () => {
  const { result, sources } = withHistograms();
  const epoll = result.runs.filter((r) => r.contender === 'epoll');
  const pooled = pooledHistogram(epoll, 0)!;
  const expected = Histogram.mergeAll(result.runs.map((r, i) => [r, sources[i]!] as const).filter(([r]) => r.contender === 'epoll').map(([, h]) => h));
  assert.deepEqual(pooled.toJSON(), expected.toJSON());
  assert.equal(pooled.count, 20_000 + 24_000 + 28_000, 'reps 0, 1 and 2 of epoll are runs 0, 4 and 8');
  assert.equal(pooledHistogram(epoll, 1), null, 'no such step');
  const partial = structuredClone(epoll);
  delete partial[1]!.steps[0]!.latencyUs!.hdr;
  assert.equal(pooledHistogram(partial, 0), null, 'a repetition without its histogram: no partial sum');
});

test('c1m report --hgrm writes one percentile distribution per contender and step, repetitions added', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'c1m-hgrm-'));
  try {
    const { result } = withHistograms();
    const files = hgrmFiles(result);
    assert.deepEqual(files.map((f) => f.name).sort(), ['http-hello_epoll-native_http-hello_step1.hgrm', 'http-hello_epoll_http-hello_step1.hgrm', 'http-hello_net_http-hello_step1.hgrm', 'http-hello_uws_http-hello_step1.hgrm']);
    const file = join(dir, 'r.json');
    writeFileSync(file, JSON.stringify(result));
    const out = join(dir, 'hgrm', 'nested');
    const r = await runCli(['report', file, '--hgrm', out]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /hgrm: 4 files in /);
    const written = readdirSync(out).sort();
    assert.deepEqual(written, files.map((f) => f.name).sort());
    const text = readFileSync(join(out, 'http-hello_epoll_http-hello_step1.hgrm'), 'utf8');
    const pooled = pooledHistogram(result.runs.filter((x) => x.contender === 'epoll'), 0)!;
    assert.match(text, new RegExp(`Total count    = +${pooled.count}\\]`));
    // The last row is the largest value at percentile 1, in ms as HdrHistogram's plotter reads it.
    const rows = text.split('\n').filter((l) => /^ +\d/.test(l));
    assert.equal(rows.at(-1)!.trim().split(/ +/)[0], (pooled.max / 1000).toFixed(3));
    assert.match(text, new RegExp(`#\\[Max     = +${(pooled.max / 1000).toFixed(3)},`));
    const old = await runCli(['report', join(root, 'test/fixtures/result-http-hello.json'), '--hgrm', join(dir, 'none')]);
    assert.equal(old.code, 0, old.stderr);
    assert.match(old.stderr, /no stored latency histograms in these files/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
