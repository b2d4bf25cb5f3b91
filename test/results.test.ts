// The result model on its own floor (src/results/): the schema document generated from the one
// definition, the memory fit computed once and recorded with its steps, old files brought up to
// it when read, and readers that take the recorded fit instead of fitting again.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { renderCapacityMarkdown } from '../src/report/capacity.js';
import { chartsForResult, type MemoryChart } from '../src/report/charts.js';
import { fitMemory, perConnection, SUMMARY_FIT_KEYS } from '../src/results/fit.js';
import { loadResults, readResult } from '../src/results/load.js';
import { resultSchemaText, SCHEMA_FILE, type C1mResult, type LoadedResult, type Run, type Step } from '../src/results/schema.js';
import { headlineClientBound, headlineStepIndex, summarizeRun } from '../src/results/summary.js';
import { fittedSteps } from '../src/results/upgrade.js';
import { validateResult } from '../src/results/validate.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const readJson = (path: string): unknown => JSON.parse(readFileSync(join(root, path), 'utf8')) as unknown;

test('the committed JSON Schema document is what the definition generates (run `npm run schema` when this fails)', () => {
  assert.equal(readFileSync(join(root, SCHEMA_FILE), 'utf8'), resultSchemaText());
});

test('src/results/ imports nothing from the floors above it', () => {
  const dir = join(root, 'src/results');
  for (const name of readdirSync(dir).filter((n) => n.endsWith('.ts'))) {
    const text = readFileSync(join(dir, name), 'utf8');
    for (const [, spec] of text.matchAll(/from '([^']+)'/g)) {
      assert.ok(!/^\.\.\/(runner|report|contenders|drivers|engine|clients|profile|system)\//.test(spec ?? ''), `${name} imports ${spec}`);
    }
  }
});

const step = (connections: number | null, rssBytes: number | null, extra: Partial<Step> = {}): Step => ({ connections, server: { rssBytes }, ...extra });

test('memory outside the V8 heap: RSS minus the heap, all of the RSS for a server with no V8 heap (c-ref), none when the heap was not read', () => {
  const withHeap = (c: number, rss: number, heap: number | null | undefined): Step => ({ connections: c, server: { rssBytes: rss, ...(heap !== undefined ? { heapTotalBytes: heap } : {}) } });
  const v8 = fitMemory([withHeap(1000, 10_000_000, 4_000_000), withHeap(2000, 12_000_000, 5_000_000)], [0, 1]);
  assert.ok(Math.abs(v8.nonHeapBytesPerConnection!.slope - 1000) < 1e-6, 'the heap\'s growth is left out');
  const noV8 = fitMemory([withHeap(1000, 10_000_000, null), withHeap(2000, 12_000_000, null)], [0, 1]);
  assert.ok(Math.abs(noV8.nonHeapBytesPerConnection!.slope - 2000) < 1e-6, 'no V8 heap: all of it is outside one');
  assert.equal(fitMemory([withHeap(1000, 10_000_000, undefined), withHeap(2000, 12_000_000, undefined)], [0, 1]).nonHeapBytesPerConnection, null);
});

test('a memory fit records what it is of and the steps it used', () => {
  const steps = [step(1000, 10_000_000), step(2000, null), step(3000, 12_000_000), step(4000, 13_000_000), step(8000, 99_000_000)];
  const fit = fitMemory(steps, [0, 1, 2, 3]);
  assert.deepEqual(fit.steps, [0, 1, 2, 3]);
  const line = fit.bytesPerConnection!;
  assert.equal(line.of, 'server.rssBytes');
  assert.deepEqual(line.steps, [0, 2, 3], 'a step that did not measure the figure is not a point of the fit');
  assert.ok(Math.abs(line.slope - 1000) < 1e-6, String(line.slope));
  assert.equal(fit.kernelBytesPerConnection, null, 'nothing measured, no fit');
  assert.equal(fitMemory([step(10_000, 1), step(10_050, 2)], [0, 1]).bytesPerConnection, null, 'counts too close to tell a slope');
  const s = summarizeRun(steps, [], fit);
  for (const key of SUMMARY_FIT_KEYS) assert.equal(s[key], perConnection(fit[key]), key);
});

test('old reference files get the fit the runner would have recorded, over the steps it fitted', async () => {
  const { results } = await loadResults([join(root, 'results/reference')]);
  assert.ok(results.length >= 14);
  const byScenario = new Map(results.map((l) => [l.result.scenario, l.result]));
  for (const { file, result } of results) {
    const raw = readJson(file.slice(root.length)) as C1mResult;
    raw.runs.forEach((old, i) => {
      const run = result.runs[i]!;
      // Files written since summary.fit was recorded are read as written (the next test).
      if (!old.summary || old.summary.fit !== undefined) return;
      const fit = run.summary?.fit;
      assert.ok(fit, `${file} runs[${i}] has its fit once loaded`);
      // The figures the runner wrote are the slopes of the fit computed at load.
      for (const key of SUMMARY_FIT_KEYS) {
        const recorded = old.summary[key] ?? null;
        const now = perConnection(fit[key]);
        assert.ok(recorded === now || (recorded !== null && now !== null && Math.abs(recorded - now) <= 1e-9 * Math.abs(recorded)), `${file} runs[${i}] ${key}: ${recorded} vs ${now}`);
      }
    });
  }
  // Which steps: a churn measure (fit: false) and a reap stay out, as the runner left them out.
  const churnFits = byScenario.get('churn')?.runs.map((r) => r.summary?.fit?.steps) ?? [];
  assert.ok(churnFits.length > 0);
  for (const steps of churnFits) assert.deepEqual(steps, []);
  assert.deepEqual(byScenario.get('heartbeat')?.runs[0]?.summary?.fit?.steps, [0]);
  assert.deepEqual(byScenario.get('slow-consumer')?.runs[0]?.summary?.fit?.steps, [0]);
  const withoutPhases = structuredClone(byScenario.get('heartbeat')!);
  assert.deepEqual(fittedSteps(withoutPhases.runs[0]!, undefined), [0], 'without phases, a reap step is still left out');
});

test('a file that records its fit is read as written, and its summary must agree with it', () => {
  const json = readJson('test/fixtures/result-idle-hold.json') as any;
  const upgraded = readResult(structuredClone(json), 'x.json') as any;
  const recorded = structuredClone(upgraded);
  recorded.runs[0].summary.fit.bytesPerConnection.slope = 300;
  assert.throws(() => validateResult(recorded, 'x.json'), {
    message: 'x.json: runs[0].summary.bytesPerConnection is 212 but summary.fit.bytesPerConnection makes it 300',
  });
  recorded.runs[0].summary.bytesPerConnection = 300;
  assert.equal(readResult(recorded, 'x.json').runs[0]!.summary!.fit!.bytesPerConnection!.slope, 300, 'not refitted at load');
  const bad = structuredClone(upgraded);
  bad.runs[0].summary.fit.bytesPerConnection.steps = [0, 7];
  assert.throws(() => validateResult(bad, 'x.json'), { message: 'x.json: runs[0].summary.fit.bytesPerConnection.steps has step 7, which is not among summary.fit.steps' });
});

/** The fixture with run 0's recorded fit replaced: the readers must show this, not a refit. */
function withMadeUpFit(): LoadedResult {
  const result = readResult(readJson('test/fixtures/result-idle-hold.json'), 'x.json');
  const run = result.runs[0]!;
  const fit = fitMemory(run.steps, [1, 2]);
  fit.bytesPerConnection = { of: 'server.rssBytes', slope: 333, intercept: 40e6, r2: 1, steps: [1, 2] };
  fit.engineBytesPerConnection = { of: 'server.engineBytes', slope: 44, intercept: 0, r2: 1, steps: [1, 2] };
  run.summary = { ...run.summary!, ...Object.fromEntries(SUMMARY_FIT_KEYS.map((k) => [k, perConnection(fit[k])])), fit };
  return { file: 'x.json', result: validateResult(result, 'x.json') };
}

test('the capacity table reads the recorded fit', () => {
  const md = renderCapacityMarkdown([withMadeUpFit()]);
  const row = md.split('\n').find((l) => l.startsWith('| epoll | tcp-echo'))!;
  assert.match(row, /\| 333\.0 B \| — \| 44\.0 B \|/, row);
});

test('the capacity table of files from two machines names each machine and says which row ran on which, never the first for all', () => {
  const a = withMadeUpFit();
  const b = structuredClone(withMadeUpFit());
  b.file = 'y.json';
  b.result.env = { ...b.result.env, cpuModel: 'Another CPU', kernel: '6.18.0-other' };
  b.result.startedAt = '2026-12-06T23:50:00.000Z';
  const md = renderCapacityMarkdown([a, b]);
  const head = md.split('\n')[0]!;
  assert.match(head, /^Machines: \(A\) .*; \(B\) .*Another CPU.*6\.18\.0-other.*do not compare directly\.$/, head);
  const rows = md.split('\n').filter((l) => l.startsWith('| epoll | tcp-echo'));
  assert.equal(rows.length, 2);
  assert.match(rows[0]!, new RegExp(`\\| A, ${a.result.startedAt.slice(0, 10)} \\|$`));
  assert.match(rows[1]!, /\| B, 2026-12-06 \|$/);
  assert.match(renderCapacityMarkdown([a]).split('\n')[0]!, /^Machine: /, 'one machine keeps the one line');
});

test('memory charts draw the recorded fit over the points it used; the others are hollow', () => {
  const user = chartsForResult(withMadeUpFit(), 'r').find((c) => c.id === 'r-memory-user') as MemoryChart;
  assert.deepEqual(user.legend[0], { contender: 'epoll', text: '333 B/conn' });
  assert.deepEqual(
    user.points.filter((p) => p.contender === 'epoll').map((p) => p.fitted),
    [false, true, true],
  );
  const line = user.fit.filter((p) => p.series === 'epoll');
  assert.equal(line[0]!.connections, 10_000, 'the line spans the fitted steps only');
  assert.equal(line.at(-1)!.bytes, 40e6 + 333 * 100_000);
});

test('several repetitions: one line per run, the legend gives the median slope', () => {
  const result = readResult(readJson('test/fixtures/result-idle-hold.json'), 'x.json');
  const net = result.runs.find((r) => r.contender === 'net')!;
  const again = structuredClone(net);
  again.rep = 1;
  again.summary!.fit!.bytesPerConnection!.slope = 2000;
  again.summary!.bytesPerConnection = 2000;
  const twice: LoadedResult = { file: 'x.json', result: { ...result, runs: [...result.runs, again] } };
  const user = chartsForResult(twice, 'r').find((c) => c.id === 'r-memory-user') as MemoryChart;
  assert.deepEqual([...new Set(user.fit.filter((p) => p.contender === 'net').map((p) => p.series))], ['net #0', 'net #1']);
  const median = (2000 + net.summary!.fit!.bytesPerConnection!.slope) / 2;
  assert.equal(user.legend.find((l) => l.contender === 'net')?.text, `${median >= 1024 ? `${(median / 1024).toFixed(2)} KiB` : `${Math.round(median)} B`}/conn (median of 2 runs)`);
});

test('client-bound is said of the headline step: a saturated closed loop earlier in the run does not mark an open-loop headline', () => {
  const loaded = (clientBound: boolean | undefined): Step => ({ connections: 100, throughput: { opsPerSec: 1000 }, ...(clientBound === undefined ? {} : { clientBound }) });
  const run = (steps: Step[], clientBound: boolean): Run => ({ contender: 'epoll', protocol: 'http-hello', driver: 'h2load', rep: 0, ok: true, steps, clientBound });
  assert.equal(headlineStepIndex([loaded(true), loaded(false), step(100, 1)]), 1, 'the last step that ran load, not an idle one after it');
  assert.equal(headlineStepIndex([step(100, 1)]), -1);
  assert.equal(headlineClientBound(run([loaded(true), loaded(false)], true)), false, "the headline step's own flag");
  assert.equal(headlineClientBound(run([loaded(false), loaded(true)], true)), true);
  assert.equal(headlineClientBound(run([loaded(undefined)], true)), true, 'files whose steps carry no flag: the run\'s');
});
