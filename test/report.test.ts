// Result-file validation, loading, and the markdown/terminal/HTML reports of the fixtures in
// test/fixtures (made-up numbers; each fixture says so in its "note").

import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadResults, readResult } from '../src/results/load.js';
import type { C1mResult, LoadedResult } from '../src/results/schema.js';
import { ResultValidationError, validateResult } from '../src/results/validate.js';
import { chartsForResult, type MemoryChart } from '../src/report/charts.js';
import { fmtBytes, fmtCount, fmtRatio, fmtUs } from '../src/report/page-format.js';
import { renderHtml } from '../src/report/html.js';
import { renderMarkdown } from '../src/report/markdown.js';
import { compareFiles, differenceText, fileLabels, headlineTable, ScenarioMismatchError, stat } from '../src/report/model.js';
import { renderTerminal } from '../src/report/terminal.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const fixturePath = (name: string): string => join(root, 'test/fixtures', name);
const readJson = (path: string): unknown => JSON.parse(readFileSync(path, 'utf8')) as unknown;
const fixture = (name: string): LoadedResult => ({
  file: `test/fixtures/${name}`,
  result: readResult(readJson(fixturePath(name)), name),
});
const FIXTURES = ['result-idle-hold.json', 'result-http-hello.json', 'result-http-hello-next.json'];
const schemaDoc = readJson(join(root, 'results/schema/c1m.result-1.schema.json'));

test('the fixtures pass the validator', () => {
  for (const name of FIXTURES) assert.doesNotThrow(() => validateResult(readJson(fixturePath(name)), name), name);
});

// Each mutation breaks the contract and must be refused with a message that names the file and
// the field. The validator is the JSON Schema document compiled (plus what it cannot say), so
// this checks the document too. The message is checked where it is part of the contract.
const MUTATIONS: Array<{ what: string; mutate: (r: any) => void; message?: string }> = [
  {
    what: 'a step count that is a string',
    mutate: (r) => (r.runs[2].steps[0].connections = 'abc'),
    message: 'results/x.json: runs[2].steps[0].connections must be a non-negative number, got "abc"',
  },
  { what: 'a negative figure', mutate: (r) => (r.runs[0].steps[1].server.rssBytes = -1), message: 'results/x.json: runs[0].steps[1].server.rssBytes must be a non-negative number, got -1' },
  { what: 'no scenario', mutate: (r) => delete r.scenario, message: 'results/x.json: scenario must be a non-empty string, got nothing' },
  { what: 'runs not an array', mutate: (r) => (r.runs = {}), message: 'results/x.json: runs must be an array, got an object' },
  { what: 'a fractional rep', mutate: (r) => (r.runs[1].rep = 0.5), message: 'results/x.json: runs[1].rep must be a non-negative integer, got 0.5' },
  { what: 'ok as a string', mutate: (r) => (r.runs[0].ok = 'yes'), message: 'results/x.json: runs[0].ok must be true or false, got "yes"' },
  {
    what: 'a failed run without a reason',
    mutate: (r) => (r.runs[1].error = null),
    message: 'results/x.json: runs[1] has ok: false but neither an error nor a skipped reason',
  },
  {
    what: 'a skipped run marked ok',
    mutate: (r) => (r.runs[3].ok = true),
    message: 'results/x.json: runs[3].skipped is set but ok is true; a skipped run has ok: false',
  },
  { what: 'a date that is not ISO-8601', mutate: (r) => (r.startedAt = 'yesterday'), message: 'results/x.json: startedAt must be an ISO-8601 date-time such as "2025-01-31T12:00:00Z", got "yesterday"' },
  { what: 'a sysctl that is an object', mutate: (r) => (r.env.sysctl['fs.nr_open'] = { a: 1 }), message: 'results/x.json: env.sysctl["fs.nr_open"] must be a string, a number or null, got an object' },
  { what: 'a latency given as text', mutate: (r) => (r.runs[0].summary.latencyUs = { p99: '2ms' }) },
  { what: 'a ratio below zero', mutate: (r) => (r.comparisons[0].ratios.epoll = -0.5) },
  { what: 'a timeline sample that is text', mutate: (r) => (r.runs[0].timeline.cpuPct[3] = 'high') },
  { what: 'an empty contender name', mutate: (r) => (r.runs[0].contender = '') },
  { what: 'a step that is not an object', mutate: (r) => (r.runs[0].steps[0] = 5) },
  {
    what: 'a drain cut below zero',
    mutate: (r) => (r.runs[0].drain = { cut: -1, boundMs: 1500 }),
    message: 'results/x.json: runs[0].drain.cut must be a non-negative number, got -1',
  },
  { what: 'a drain cut given as text', mutate: (r) => (r.runs[2].drain = { cut: 'none', boundMs: 1500 }) },
  { what: 'a drain bound given as text', mutate: (r) => (r.runs[0].drain = { cut: 0, boundMs: '1.5 s' }) },
  { what: 'a drain that is not an object', mutate: (r) => (r.runs[0].drain = 3) },
];

test('contract breaches are refused, each with a sentence about the field', () => {
  const original = readJson(fixturePath('result-idle-hold.json'));
  for (const m of MUTATIONS) {
    const json = structuredClone(original) as any;
    m.mutate(json);
    assert.throws(
      () => validateResult(json, 'results/x.json'),
      (err: unknown) => {
        assert.ok(err instanceof ResultValidationError, m.what);
        if (m.message) assert.equal(err.message, m.message, m.what);
        else assert.match(err.message, /^results\/x\.json: /, m.what);
        return true;
      },
      m.what,
    );
  }
});

test("a run's drain (cut and bound, cut null when not known) passes the validator", () => {
  const json = structuredClone(readJson(fixturePath('result-idle-hold.json'))) as any;
  json.runs[0].drain = { cut: 0, boundMs: 1500 };
  json.runs[1].drain = { cut: null, boundMs: 1500 };
  json.runs[2].drain = { cut: 3, boundMs: 11_500 };
  json.runs[3].drain = null;
  const result = validateResult(json, 'x.json');
  assert.deepEqual(result.runs.map((r) => r.drain), [{ cut: 0, boundMs: 1500 }, { cut: null, boundMs: 1500 }, { cut: 3, boundMs: 11_500 }, null]);
});

test('a timeline whose series do not match tMs is refused (beyond what JSON Schema can say)', () => {
  const json = structuredClone(readJson(fixturePath('result-idle-hold.json'))) as any;
  json.runs[0].timeline.cpuPct.pop();
  const n = json.runs[0].timeline.tMs.length;
  assert.throws(() => validateResult(json, 'x.json'), {
    message: `x.json: runs[0].timeline.cpuPct has ${n - 1} samples but tMs has ${n}`,
  });
});

test('foreign JSON is refused with a message naming the file', () => {
  assert.throws(() => validateResult({ name: 'package' }, 'package.json'), {
    message: 'package.json: not a c1m result file: schema must be "c1m.result/1", got nothing',
  });
  assert.throws(() => validateResult([1, 2], 'list.json'), {
    message: 'list.json: not a c1m result file: schema must be "c1m.result/1", got an array',
  });
  assert.throws(() => validateResult({ schema: 'c1m.result/2' }, 'new.json'), {
    message: 'new.json: not a c1m result file: schema must be "c1m.result/1", got "c1m.result/2"',
  });
});

test('unknown fields are allowed, as the contract says fields may be added', () => {
  const json = structuredClone(readJson(fixturePath('result-http-hello.json'))) as any;
  json.extra = { anything: true };
  json.runs[0].steps[0].server.newFigure = 'x';
  assert.doesNotThrow(() => validateResult(json, 'x.json'));
});

test('loadResults reads files and folders, skipping schema files and setting foreign JSON aside', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'c1m-load-'));
  try {
    mkdirSync(join(dir, 'idle-hold'));
    mkdirSync(join(dir, 'schema'));
    mkdirSync(join(dir, 'profiles'));
    writeFileSync(join(dir, 'idle-hold', '2025-11-20T14-02-11Z.json'), readFileSync(fixturePath('result-idle-hold.json')));
    writeFileSync(join(dir, 'schema', 'c1m.result-1.schema.json'), JSON.stringify(schemaDoc));
    writeFileSync(join(dir, 'profiles', 'clinic.json'), '{"doctor": true}');
    writeFileSync(join(dir, 'profiles', 'broken.json'), '{');
    writeFileSync(join(dir, 'notes.txt'), 'not json');
    const loaded = await loadResults([dir, fixturePath('result-http-hello.json')]);
    assert.deepEqual(
      loaded.results.map((r) => r.result.scenario),
      ['idle-hold', 'http-hello'],
    );
    assert.equal(loaded.results[0]!.file, join(dir, 'idle-hold', '2025-11-20T14-02-11Z.json'));
    assert.deepEqual(
      loaded.ignored.map((i) => i.file),
      [join(dir, 'profiles', 'broken.json'), join(dir, 'profiles', 'clinic.json')],
    );
    assert.match(loaded.ignored[0]!.reason, /^not valid JSON/);
    assert.equal(loaded.ignored[1]!.reason, 'not a c1m result file (no "schema": "c1m.result/1")');

    // Named explicitly, a foreign file is an error, and so is a broken result inside a folder.
    await assert.rejects(loadResults([join(dir, 'profiles', 'clinic.json')]), /clinic\.json: not a c1m result file/);
    await assert.rejects(loadResults([join(dir, 'profiles', 'broken.json')]), /broken\.json: not valid JSON/);
    const bad = structuredClone(readJson(fixturePath('result-idle-hold.json'))) as any;
    bad.runs[0].steps[0].connections = 'abc';
    writeFileSync(join(dir, 'idle-hold', 'bad.json'), JSON.stringify(bad));
    await assert.rejects(loadResults([dir]), /bad\.json: runs\[0\]\.steps\[0\]\.connections must be a non-negative number, got "abc"/);
    await assert.rejects(loadResults([join(dir, 'missing.json')]), /missing\.json: no such file or folder/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('figures format with units, and an unmeasured figure is a dash, never 0', () => {
  assert.equal(fmtBytes(212), '212 B');
  assert.equal(fmtBytes(2310), '2.26 KiB');
  assert.equal(fmtBytes(1023.9), '1.00 KiB');
  assert.equal(fmtBytes(48_000_000), '45.8 MiB');
  assert.equal(fmtBytes(null), '—');
  assert.equal(fmtBytes(undefined), '—');
  assert.equal(fmtBytes(0), '0 B');
  assert.equal(fmtCount(950), '950');
  assert.equal(fmtCount(48_200), '48.2k');
  assert.equal(fmtCount(999_999), '1.00M');
  assert.equal(fmtUs(880), '880 µs');
  assert.equal(fmtUs(2610), '2.61 ms');
  assert.equal(fmtUs(1_200_000), '1.20 s');
  assert.equal(fmtRatio(0.0917), '0.09×');
  assert.equal(fmtRatio(12.34), '12.3×');
  assert.equal(fmtRatio(null), '—');
});

test('medians over repetitions; min and max for the whiskers', () => {
  assert.deepEqual(stat([3, null, 1, undefined, 2]), { median: 2, min: 1, max: 3, n: 3 });
  assert.deepEqual(stat([4, 1, 3, 2]), { median: 2.5, min: 1, max: 4, n: 4 });
  assert.equal(stat([null, undefined]), null);
  const http = headlineTable(fixture('result-http-hello.json'), 'net');
  const epoll = http.rows.find((r) => r.contender === 'epoll')!;
  assert.equal(epoll.okRuns.length, 3);
  assert.equal(epoll.cells['opsPerServerCpuSec']!.value!.n, 3);
});

test('a row says what its contender implements: the conformance summary its run recorded, deviations by name', () => {
  const loaded = fixture('result-http-hello.json');
  const copy = structuredClone(loaded);
  for (const run of copy.result.runs.filter((r) => r.contender === 'uws')) {
    run.conformance = {
      family: 'http', casesRun: 19, passed: 17, notApplicable: 0, ms: 40, note: null,
      deviations: [
        { id: 'http.head-no-body', breaks: 'MUST', detail: 'sent a 5-byte body to HEAD' },
        { id: 'http.505-version', breaks: 'SHOULD', detail: 'answered 400' },
      ],
    };
  }
  const rows = headlineTable(copy, 'net').rows;
  assert.match(rows.find((r) => r.contender === 'uws')!.note ?? '', /conformance: 17 of 19 passed; deviations: http\.head-no-body, http\.505-version/);
  assert.doesNotMatch(rows.find((r) => r.contender === 'net')!.note ?? '', /conformance/, 'a run that recorded none says nothing');
});

const IDLE_MARKDOWN = `# c1m report

## idle-hold

\`test/fixtures/result-idle-hold.json\` · started 2025-11-20 14:02:11Z · commit 3f9c2d1 · bench-a · Node v20.20.2 · Linux 6.1.0-40-amd64 · 8 × AMD EPYC 7B13

> Test data for test/report.test.ts and test/browser.test.ts: made-up numbers, not a measurement.

Medians over repetitions; ratios against net of the same protocol (~ within noise, ? one repetition: no interval). ↓ lower is better, ↑ higher is better.

| contender | protocol | bytes/conn ↓ | connect rate ↑ | ops/server CPU-s ↑ | p99 latency ↓ | reps | note |
| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |
| net (baseline) | tcp-echo | 2.26 KiB | 21.4k/s | — | — | 1/1 |  |
| epoll | tcp-echo | 212 B (0.09× ?) | 48.2k/s (2.25× ?) | — | — | 1/1 |  |
| epoll-native | tcp-echo | — | — | — | — | 0/1 | failed: driver timed out waiting for 100000 connections (98211 established after 60 s) |
| uws | tcp-echo | — | — | — | — | — | skipped: uWebSockets.js does not speak raw TCP |
`;

test('markdown: headline table with ratios against net, failed and skipped rows with their reasons', () => {
  assert.equal(renderMarkdown([fixture('result-idle-hold.json')]), IDLE_MARKDOWN);
  assert.equal(renderMarkdown([fixture('result-idle-hold.json')], { baseline: 'net' }), IDLE_MARKDOWN);
});

test('markdown: another baseline, and a baseline absent from the file', () => {
  const md = renderMarkdown([fixture('result-http-hello.json')], { baseline: 'uws' });
  assert.ok(md.includes('| uws (baseline) | http-hello | — | — | 140k | 2.08 ms | 3/3 |  |\n'), md);
  assert.ok(md.includes('| net | http-hello | — | — | 38.7k (0.28×) | 6.02 ms (2.89×) | 3/3 |  |\n'), md);
  assert.ok(
    md.includes('| epoll-native | http-hello | — | — | 152k (1.08×) | 1.89 ms (0.91×) | 3/3 | client-bound in 1 of 3 reps: throughput is a lower bound |\n'),
    md,
  );
  const none = renderMarkdown([fixture('result-idle-hold.json')], { baseline: 'ws' });
  assert.ok(none.includes('no ws run in this file, so no ratios'));
  assert.ok(none.includes('| epoll | tcp-echo | 212 B | 48.2k/s | — | — | 1/1 |  |\n'), none);
});

test('markdown: two files of one scenario side by side, later against earlier', () => {
  // Given newest first, the report still orders the files by start time.
  const md = renderMarkdown([fixture('result-http-hello-next.json'), fixture('result-http-hello.json')]);
  const expected = `### http-hello: A vs B

Later files against A: ratios of medians, ~ when within noise, ? when one repetition on a side gives no interval. Interval: range of all cross ratios, min(a)/max(b) to max(a)/min(b), since repetitions of two files do not pair.

| contender | protocol | figure | A: 3f9c2d1 · 2025-11-20 14:10Z | B: 9a8b7c6 · 2025-11-21 09:30Z | B/A |
| --- | --- | --- | ---: | ---: | ---: |
| epoll | http-hello | ops/s ↑ | 96.4k/s | 108k/s | 1.12× |
| epoll | http-hello | ops/server CPU-s ↑ | 99.4k | 111k | 1.12× |
| epoll | http-hello | p50 latency ↓ | 880 µs | 786 µs | 0.89× |
| epoll | http-hello | p99 latency ↓ | 2.61 ms | 2.33 ms | 0.89× |
| epoll-native | http-hello | ops/s ↑ | 141k/s | 145k/s | 1.03× ~ |
| epoll-native | http-hello | ops/server CPU-s ↑ | 152k | 156k | 1.03× ~ |
| epoll-native | http-hello | p50 latency ↓ | 610 µs | 592 µs | 0.97× ~ |
| epoll-native | http-hello | p99 latency ↓ | 1.89 ms | 1.83 ms | 0.97× ~ |
| net | http-hello | ops/s ↑ | 38.7k/s | 38.7k/s | 1.00× ~ |
| net | http-hello | ops/server CPU-s ↑ | 38.7k | 38.7k | 1.00× ~ |
| net | http-hello | p50 latency ↓ | 2.42 ms | 2.42 ms | 1.00× ~ |
| net | http-hello | p99 latency ↓ | 6.02 ms | 6.02 ms | 1.00× ~ |
| uws | http-hello | ops/s ↑ | 127k/s | 127k/s | 1.00× ~ |
| uws | http-hello | ops/server CPU-s ↑ | 140k | 140k | 1.00× ~ |
| uws | http-hello | p50 latency ↓ | 700 µs | 700 µs | 1.00× ~ |
| uws | http-hello | p99 latency ↓ | 2.08 ms | 2.08 ms | 1.00× ~ |
`;
  assert.ok(md.endsWith(expected), md);
  assert.ok(md.indexOf('### A: 3f9c2d1 · 2025-11-20 14:10Z') < md.indexOf('### B: 9a8b7c6 · 2025-11-21 09:30Z'));
});

const IDLE_HEAD = `idle-hold · test/fixtures/result-idle-hold.json
started 2025-11-20 14:02:11Z · commit 3f9c2d1 · bench-a · Node v20.20.2 · Linux 6.1.0-40-amd64 · 8 × AMD EPYC 7B13
Test data for test/report.test.ts and test/browser.test.ts: made-up numbers, not a measurement.
medians over repetitions; ratios against net of the same protocol (~ within noise, ? one repetition: no interval)
`;

test('terminal: the full table when the width allows', () => {
  const out = renderTerminal([fixture('result-idle-hold.json')], { width: 200 });
  assert.equal(
    out,
    `${IDLE_HEAD}
contender       protocol     bytes/conn ↓     connect rate ↑  ops/server CPU-s ↑  p99 latency ↓  reps  note
──────────────  ────────  ───────────────  ─────────────────  ──────────────────  ─────────────  ────  ──────────────────────────────────────────────────────────────────────────────────────
net (baseline)  tcp-echo         2.26 KiB            21.4k/s                   —              —   1/1
epoll           tcp-echo  212 B (0.09× ?)  48.2k/s (2.25× ?)                   —              —   1/1
epoll-native    tcp-echo                —                  —                   —              —   0/1  failed: driver timed out waiting for 100000 connections (98211 established after 60 s)
uws             tcp-echo                —                  —                   —              —     —  skipped: uWebSockets.js does not speak raw TCP
`,
  );
});

test('terminal: notes under their rows when the note column does not fit', () => {
  const out = renderTerminal([fixture('result-idle-hold.json')], { width: 120 });
  assert.equal(
    out,
    `${IDLE_HEAD}
contender       protocol     bytes/conn ↓     connect rate ↑  ops/server CPU-s ↑  p99 latency ↓  reps
──────────────  ────────  ───────────────  ─────────────────  ──────────────────  ─────────────  ────
net (baseline)  tcp-echo         2.26 KiB            21.4k/s                   —              —   1/1
epoll           tcp-echo  212 B (0.09× ?)  48.2k/s (2.25× ?)                   —              —   1/1
epoll-native    tcp-echo                —                  —                   —              —   0/1
    failed: driver timed out waiting for 100000 connections (98211 established after 60 s)
uws             tcp-echo                —                  —                   —              —     —
    skipped: uWebSockets.js does not speak raw TCP
`,
  );
});

test('terminal: one block per row on a narrow terminal, nothing wider than asked', () => {
  const out = renderTerminal([fixture('result-idle-hold.json')], { width: 60 });
  assert.equal(
    out,
    `idle-hold · test/fixtures/result-idle-hold.json
started 2025-11-20 14:02:11Z · commit 3f9c2d1 · bench-a ·
Node v20.20.2 · Linux 6.1.0-40-amd64 · 8 × AMD EPYC 7B13
Test data for test/report.test.ts and test/browser.test.ts:
made-up numbers, not a measurement.
medians over repetitions; ratios against net of the same
protocol (~ within noise, ? one repetition: no interval)

net (baseline) · tcp-echo · reps 1/1
  bytes/conn ↓        2.26 KiB
  connect rate ↑      21.4k/s
  ops/server CPU-s ↑  —
  p99 latency ↓       —

epoll · tcp-echo · reps 1/1
  bytes/conn ↓        212 B (0.09× ?)
  connect rate ↑      48.2k/s (2.25× ?)
  ops/server CPU-s ↑  —
  p99 latency ↓       —

epoll-native · tcp-echo · reps 0/1
  bytes/conn ↓        —
  connect rate ↑      —
  ops/server CPU-s ↑  —
  p99 latency ↓       —
  failed: driver timed out waiting for 100000 connections
  (98211 established after 60 s)

uws · tcp-echo · reps —
  bytes/conn ↓        —
  connect rate ↑      —
  ops/server CPU-s ↑  —
  p99 latency ↓       —
  skipped: uWebSockets.js does not speak raw TCP
`,
  );
  const all = renderTerminal(FIXTURES.map(fixture), { width: 60 });
  for (const line of all.split('\n')) assert.ok([...line].length <= 60, `too wide: ${line}`);
  const wide = renderTerminal(FIXTURES.map(fixture), { width: 100 });
  for (const line of wide.split('\n')) assert.ok([...line].length <= 100, `too wide: ${line}`);
  assert.ok(wide.includes('http-hello: A = 3f9c2d1 · 2025-11-20 14:10Z, B = 9a8b7c6 · 2025-11-21 09:30Z'), wide);
  assert.ok(wide.includes('epoll         http-hello  ops/s ↑             96.4k/s   108k/s    1.12×'), wide);
  assert.ok(wide.includes('net           http-hello  ops/s ↑             38.7k/s  38.7k/s  1.00× ~'), 'an unchanged figure is within noise');
});

test('chart data: fitted memory slopes agree with the runner, failed and skipped runs stay out', () => {
  const charts = chartsForResult(fixture('result-idle-hold.json'), 'r');
  assert.deepEqual(
    charts.map((c) => c.id),
    ['r-memory-user', 'r-memory-kernel', 'r-connect-rate', 'r-timeline-connections', 'r-timeline-cpu', 'r-timeline-rss'],
  );
  const user = charts[0] as MemoryChart;
  assert.equal(user.xLog, true);
  assert.equal(user.yLog, false);
  assert.deepEqual([...new Set(user.points.map((p) => p.contender))], ['epoll', 'net']);
  assert.deepEqual(user.legend, [
    { contender: 'epoll', text: '212 B/conn' },
    { contender: 'net', text: '2.26 KiB/conn' },
  ]);
  const timeline = charts.find((c) => c.id === 'r-timeline-connections')!;
  assert.deepEqual(timeline.legend, [
    { contender: 'epoll', text: '48.2k/s connect rate' },
    { contender: 'epoll-native', text: 'failed', dashed: true },
    { contender: 'net', text: '21.4k/s connect rate' },
  ]);
  const http = chartsForResult(fixture('result-http-hello.json'), 'h');
  assert.deepEqual(
    http.map((c) => c.id),
    ['h-steps-throughput', 'h-steps-cpu-per-op', 'h-nines-1'],
  );
});

test('html: one self-contained page that fetches nothing and escapes what the files say', () => {
  const loaded = FIXTURES.map(fixture);
  const evil = structuredClone(loaded[0]!) as { file: string; result: C1mResult };
  evil.file = 'evil.json';
  evil.result.note = '</script><script>alert(1)</script>';
  evil.result.runs[1]!.error = '<img src=x onerror=alert(1)>';
  const html = renderHtml([...loaded, evil]);
  assert.ok(html.startsWith('<!doctype html>'));
  assert.ok(html.includes(`content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:"`));
  assert.ok(!/<script[^>]+src=/i.test(html), 'no external script');
  assert.ok(!/<link[^>]+href=/i.test(html), 'no external stylesheet');
  assert.ok(!html.includes('<img src=x'), 'error text escaped');
  assert.equal(html.match(/<\/script>/g)!.length, html.match(/<script[ >]/g)!.length, 'every script element closes once');
  assert.ok(html.includes('@observablehq/plot'), 'Plot inlined');
  assert.ok(html.includes('data-chart="r1-memory-user"'));
  // The same input gives the same page: no clock, no randomness.
  assert.equal(renderHtml(loaded), renderHtml(loaded));
});

// Two files of one scenario compared side by side: the complaints were a --quick file
// compared with the reference without a word, and two files of one day labelled alike.
function variant(base: LoadedResult, file: string, change: (r: C1mResult) => void): LoadedResult {
  const result = structuredClone(base.result) as C1mResult;
  change(result);
  return { file, result };
}

test('files side by side: every parameter difference is said in a sentence, in the terminal, markdown and HTML', () => {
  const a = fixture('result-http-hello.json');
  const b = variant(a, 'results/http-hello/quick.json', (r) => {
    r.startedAt = '2025-11-20T16:45:00.000Z';
    r.params = { ...r.params, connections: 10, durationMs: 2000, reps: 1 };
    r.env.node = 'v22.1.0';
  });
  const c = compareFiles([a, b]);
  assert.deepEqual(
    c.differences.map((d) => [d.kind, d.name, d.values, d.shapesFigures]),
    [
      ['param', 'connections', ['100', '10'], true],
      ['param', 'durationMs', ['10000', '2000'], true],
      ['param', 'reps', ['3', '1'], false],
      ['env', 'Node.js', ['v20.20.2', 'v22.1.0'], false],
    ],
  );
  const sentence = 'Parameter connections differs: A 100, B 10.';
  assert.equal(differenceText(c.differences[0]!, ['A', 'B']), sentence);
  assert.equal(differenceText(c.differences[2]!, ['A', 'B']), 'Parameter reps differs (it does not shape the figures): A 3, B 1.');
  const term = renderTerminal([a, b], { width: 200 });
  assert.ok(term.includes(`  ${sentence}\n`), term);
  assert.ok(term.includes('Environment: Node.js differs: A v20.20.2, B v22.1.0.'), term);
  assert.ok(renderMarkdown([a, b]).includes(`\n- ${sentence}\n`));
  assert.ok(renderHtml([a, b]).includes(`<li class="shapes">${sentence}</li>`));
  // The same parameters: nothing to say, and the page says that too.
  const same = variant(a, 'same.json', (r) => (r.startedAt = '2025-11-20T16:45:00.000Z'));
  assert.deepEqual(compareFiles([a, same]).differences, []);
  assert.ok(renderHtml([a, same]).includes('The files ran with the same parameters.'));
});

test('files side by side are labelled by commit and start time to the minute, then by file name', () => {
  const a = fixture('result-http-hello.json');
  const later = variant(a, 'results/http-hello/2025-11-20T16-45-00Z.json', (r) => (r.startedAt = '2025-11-20T16:45:59.000Z'));
  assert.deepEqual(fileLabels([a, later]), ['3f9c2d1 · 2025-11-20 14:10Z', '3f9c2d1 · 2025-11-20 16:45Z']);
  assert.ok(renderTerminal([a, later]).includes('http-hello: A = 3f9c2d1 · 2025-11-20 14:10Z, B = 3f9c2d1 · 2025-11-20 16:45Z'));
  // Same commit, same minute: the file name tells them apart; same name too: the path.
  const twin = variant(a, 'elsewhere/result-http-hello-rerun.json', (r) => (r.startedAt = '2025-11-20T14:10:40.000Z'));
  assert.deepEqual(fileLabels([a, twin]), ['3f9c2d1 · 2025-11-20 14:10Z · result-http-hello.json', '3f9c2d1 · 2025-11-20 14:10Z · result-http-hello-rerun.json']);
  const copy = variant(a, 'elsewhere/result-http-hello.json', () => {});
  assert.deepEqual(fileLabels([a, copy]), [`3f9c2d1 · 2025-11-20 14:10Z · ${a.file}`, '3f9c2d1 · 2025-11-20 14:10Z · elsewhere/result-http-hello.json']);
  // No commit recorded, and files from two hosts.
  const other = variant(a, 'b.json', (r) => {
    r.env.git = null;
    r.env.hostname = 'bench-b';
  });
  assert.deepEqual(fileLabels([a, other]), ['3f9c2d1 · 2025-11-20 14:10Z · bench-a', 'no commit · 2025-11-20 14:10Z · bench-b']);
});

test('files of different scenarios are never compared as one', () => {
  assert.throws(() => compareFiles([fixture('result-idle-hold.json'), fixture('result-http-hello.json')]), (err: Error) => {
    assert.ok(err instanceof ScenarioMismatchError);
    assert.match(err.message, /cannot compare different scenarios: test\/fixtures\/result-idle-hold.json is idle-hold, test\/fixtures\/result-http-hello.json is http-hello/);
    return true;
  });
  // The report puts each scenario in its own section instead.
  const md = renderMarkdown([fixture('result-idle-hold.json'), fixture('result-http-hello.json')]);
  assert.ok(md.includes('## idle-hold') && md.includes('## http-hello') && !md.includes(' vs '));
});
