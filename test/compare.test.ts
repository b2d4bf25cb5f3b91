// `c1m compare BASE NEW` (src/report/gate.ts, src/cli/compare.ts): files paired by scenario and
// parameters, each figure's NEW/BASE with the unpaired interval, verdicts read the way each
// figure should go, and the exit code a CI job gates on: 1 only for a figure worse beyond both
// its noise and the threshold.

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { EXIT } from '../src/cli/exit.js';
import type { Io } from '../src/cli/io.js';
import { main } from '../src/cli/main.js';
import { gatePair, GateRefusal, gateVerdict, pairFiles, regressions, type GateOptions, type GateRow } from '../src/report/gate.js';
import { COMPARED_METRICS } from '../src/report/model.js';
import { renderGate } from '../src/report/terminal.js';
import { readResult } from '../src/results/load.js';
import type { C1mResult, LoadedResult } from '../src/results/schema.js';
import { runCli } from './helpers/cli.js';

/** Per contender, one entry per repetition: ops per server CPU-second and p99 latency (µs). */
type Reps = Record<string, Array<{ ops?: number; p99?: number }>>;

interface FileSpec {
  scenario?: string;
  params?: Record<string, unknown>;
  git?: string | null;
  startedAt?: string;
}

/** A result file as the runner writes it (validated and read like any other), made-up numbers. */
function resultOf(reps: Reps, o: FileSpec = {}): C1mResult {
  const contenders = Object.keys(reps);
  const count = Math.max(...contenders.map((c) => reps[c]!.length));
  const runs = [];
  for (let rep = 0; rep < count; rep++) {
    for (const contender of contenders) {
      const r = reps[contender]![rep];
      if (r === undefined) continue;
      runs.push({
        contender, protocol: 'tcp-echo', driver: 'native', rep, ok: true, error: null, skipped: null, steps: [],
        summary: { opsPerServerCpuSec: r.ops ?? null, latencyUs: { p50: null, p99: r.p99 ?? null } },
      });
    }
  }
  const json = {
    schema: 'c1m.result/1',
    scenario: o.scenario ?? 'tcp-echo',
    params: o.params ?? { protocol: 'tcp-echo', connections: 1000, duration: 10, driver: 'native', reps: count, contenders },
    env: { git: o.git === undefined ? '3f9c2d1e8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d' : o.git, hostname: 'bench-a', node: 'v20.20.2' },
    startedAt: o.startedAt ?? '2026-11-22T01:11:08.000Z',
    finishedAt: '2026-11-22T01:30:00.000Z',
    note: 'Test data for test/compare.test.ts: made-up numbers, not a measurement.',
    runs,
  };
  return readResult(json, 'made-up');
}

const loaded = (file: string, reps: Reps, o: FileSpec = {}): LoadedResult => ({ file, result: resultOf(reps, o) });
const OPTS: GateOptions = { maxRegressionPct: 5 };
const row = (rows: GateRow[], contender: string, metric: string): GateRow => {
  const r = rows.find((x) => x.contender === contender && x.metric.id === metric);
  assert.ok(r, `a row for ${contender} ${metric}`);
  return r;
};

const BASE = { epoll: [{ ops: 100, p99: 1000 }, { ops: 102, p99: 1010 }, { ops: 98, p99: 990 }] };

describe('the verdict on one figure', () => {
  const ops = COMPARED_METRICS.find((m) => m.id === 'opsPerServerCpuSec')!;
  const p99 = COMPARED_METRICS.find((m) => m.id === 'p99')!;
  const e = (ratio: number, low: number, high: number) => ({ ratio, low, high, pairs: 3, unpaired: true as const });

  it('higher is better: regressed only when even the best case is beyond the threshold', () => {
    assert.equal(gateVerdict(ops, e(0.8, 0.78, 0.84), 5), 'regressed');
    assert.equal(gateVerdict(ops, e(0.97, 0.96, 0.98), 5), 'worse', 'beyond noise, under 5 %');
    assert.equal(gateVerdict(ops, e(0.97, 0.96, 0.98), 1), 'regressed', 'the same figure at 1 %');
    assert.equal(gateVerdict(ops, e(0.9, 0.8, 1.02), 5), 'within noise');
    assert.equal(gateVerdict(ops, e(1.2, 1.1, 1.3), 5), 'better');
    assert.equal(gateVerdict(ops, { ratio: 0.5, low: 0.5, high: 0.5, pairs: 1, unpaired: true }, 5), 'no interval', 'one repetition on a side is never gated');
  });

  it('lower is better (latency): a ratio above 1 is the bad side', () => {
    assert.equal(gateVerdict(p99, e(1.3, 1.25, 1.35), 5), 'regressed');
    assert.equal(gateVerdict(p99, e(1.03, 1.02, 1.04), 5), 'worse');
    assert.equal(gateVerdict(p99, e(0.7, 0.65, 0.75), 5), 'better');
    assert.equal(gateVerdict(p99, e(0.8, 0.75, 0.84), 5), 'better', 'a drop in latency is never a regression');
  });
});

describe('gatePair', () => {
  it('a clear regression beyond noise and threshold, a latency that got worse and one that got better', () => {
    const base = loaded('base.json', { ...BASE, net: [{ ops: 50, p99: 2000 }, { ops: 51, p99: 2020 }, { ops: 49, p99: 1980 }] });
    const next = loaded('new.json', {
      epoll: [{ ops: 80, p99: 1300 }, { ops: 82, p99: 1320 }, { ops: 79, p99: 1290 }],
      net: [{ ops: 50, p99: 1500 }, { ops: 52, p99: 1490 }, { ops: 49, p99: 1510 }],
    }, { startedAt: '2026-11-23T09:00:00.000Z', git: '9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b' });
    const g = gatePair(base, next, OPTS);
    const ops = row(g.rows, 'epoll', 'opsPerServerCpuSec');
    assert.equal(ops.verdict, 'regressed');
    assert.equal(ops.estimate!.ratio, 80 / 100);
    assert.deepEqual([ops.estimate!.low, ops.estimate!.high], [79 / 102, 82 / 98]);
    assert.equal(row(g.rows, 'epoll', 'p99').verdict, 'regressed', 'p99 up 30 %: lower is better');
    assert.equal(row(g.rows, 'net', 'p99').verdict, 'better', 'p99 down 25 %');
    assert.equal(row(g.rows, 'net', 'opsPerServerCpuSec').verdict, 'within noise');
    assert.deepEqual(regressions([g]).map((r) => `${r.contender} ${r.metric.id}`), ['epoll opsPerServerCpuSec', 'epoll p99']);
    assert.deepEqual(g.labels, { base: '3f9c2d1 · 2026-11-22 01:11Z', next: '9a8b7c6 · 2026-11-23 09:00Z' });
    // Figures neither file measured make no rows; no figure is invented.
    assert.deepEqual([...new Set(g.rows.map((r) => r.metric.id))], ['opsPerServerCpuSec', 'p99']);
    const text = renderGate([g], { maxRegressionPct: 5, width: 120 });
    assert.match(text, /epoll\s+tcp-echo\s+ops\/server CPU-s ↑\s+100\s+80\s+0\.80× \(0\.77–0\.84\)\s+regressed/);
    assert.match(text, /2 figure\(s\) regressed beyond their noise and 5 %/);
    assert.match(text, /range of all cross ratios/);
  });

  it('a drop within noise passes as "within noise"; one beyond noise but under the threshold as "worse"', () => {
    const noisy = gatePair(loaded('base.json', BASE), loaded('new.json', { epoll: [{ ops: 90 }, { ops: 101 }, { ops: 95 }] }), OPTS);
    assert.equal(row(noisy.rows, 'epoll', 'opsPerServerCpuSec').verdict, 'within noise');
    assert.deepEqual(regressions([noisy]), []);
    const slight = gatePair(loaded('base.json', BASE), loaded('new.json', { epoll: [{ ops: 97 }, { ops: 96.5 }, { ops: 96 }] }), OPTS);
    assert.equal(row(slight.rows, 'epoll', 'opsPerServerCpuSec').verdict, 'worse');
    assert.equal(row(slight.rows, 'epoll', 'p99').verdict, 'not measured', 'p99 gone from NEW: said, not gated');
    assert.deepEqual(regressions([slight]), []);
    const strict = gatePair(loaded('base.json', BASE), loaded('new.json', { epoll: [{ ops: 97 }, { ops: 96.5 }, { ops: 96 }] }), { maxRegressionPct: 1 });
    assert.equal(row(strict.rows, 'epoll', 'opsPerServerCpuSec').verdict, 'regressed');
  });

  it('with --baseline, figures go through their ratio to that contender in the same file, so a slower machine is not a regression', () => {
    const base = loaded('base.json', { epoll: [{ ops: 200 }, { ops: 204 }, { ops: 196 }], uws: [{ ops: 100 }, { ops: 102 }, { ops: 98 }] });
    const slower = loaded('new.json', { epoll: [{ ops: 160 }, { ops: 163 }, { ops: 157 }], uws: [{ ops: 80 }, { ops: 81.5 }, { ops: 78.5 }] });
    assert.equal(row(gatePair(base, slower, OPTS).rows, 'epoll', 'opsPerServerCpuSec').verdict, 'regressed');
    const anchored = gatePair(base, slower, { ...OPTS, anchor: 'uws' });
    assert.deepEqual(anchored.rows.map((r) => r.contender), ['epoll'], "the anchor's own figures are not gated");
    assert.equal(row(anchored.rows, 'epoll', 'opsPerServerCpuSec').verdict, 'within noise');
    assert.equal(row(anchored.rows, 'epoll', 'opsPerServerCpuSec').base!.median, 2);
    assert.throws(() => gatePair(base, slower, { ...OPTS, anchor: 'net' }), /base.json has no ok run of net/);
  });

  it('refuses different scenarios and a parameter that shapes the figures; says every difference', () => {
    const base = loaded('base.json', BASE);
    assert.throws(() => gatePair(base, loaded('idle.json', BASE, { scenario: 'idle-hold' }), OPTS), (err: Error) => {
      assert.ok(err instanceof GateRefusal);
      assert.match(err.message, /cannot compare different scenarios: base.json is tcp-echo, idle.json is idle-hold/);
      return true;
    });
    const quick = loaded('quick.json', BASE, { params: { protocol: 'tcp-echo', connections: 100, duration: 2, driver: 'native', reps: 3, contenders: ['epoll'] } });
    assert.throws(() => gatePair(base, quick, OPTS), /ran tcp-echo with different parameters: connections \(BASE 1000, NEW 100\), duration \(BASE 10, NEW 2\)/);
    const allowed = gatePair(base, quick, { ...OPTS, allowParamDiff: true });
    assert.deepEqual(allowed.differences.map((d) => d.name), ['connections', 'duration']);
    assert.match(renderGate([allowed], { maxRegressionPct: 5 }), /Parameter connections differs: BASE 1000, NEW 100\./);
    // Which contenders ran and how many repetitions do not change a contender's figures.
    const more = loaded('more.json', { ...BASE, net: [{ ops: 1 }] }, { params: { protocol: 'tcp-echo', connections: 1000, duration: 10, driver: 'native', reps: 5, contenders: ['epoll', 'net'] } });
    const g = gatePair(base, more, OPTS);
    assert.deepEqual(g.differences.map((d) => [d.name, d.shapesFigures]), [['reps', false], ['contenders', false]]);
    assert.deepEqual(g.onlyInNext, ['net · tcp-echo']);
  });
});

describe('pairFiles', () => {
  it('pairs folders by scenario, several files of one scenario by their parameters, and lists the rest', () => {
    const tcp = { protocol: 'tcp-echo', connections: 1000 };
    const ws = { protocol: 'ws-echo', connections: 1000 };
    const base = [loaded('b/idle-tcp.json', BASE, { scenario: 'idle-hold', params: tcp }), loaded('b/idle-ws.json', BASE, { scenario: 'idle-hold', params: ws }), loaded('b/churn.json', BASE, { scenario: 'churn' })];
    const next = [loaded('n/idle-ws.json', BASE, { scenario: 'idle-hold', params: ws }), loaded('n/idle-tcp.json', BASE, { scenario: 'idle-hold', params: tcp }), loaded('n/echo.json', BASE)];
    const p = pairFiles(base, next);
    assert.deepEqual(p.pairs.map((x) => `${x.base.file} ~ ${x.next.file}`), ['b/idle-tcp.json ~ n/idle-tcp.json', 'b/idle-ws.json ~ n/idle-ws.json']);
    assert.deepEqual(p.unmatched, ['churn (only in BASE)', 'tcp-echo (only in NEW)']);
    assert.throws(() => pairFiles([base[0]!], [next[1]!, loaded('n/again.json', BASE, { scenario: 'idle-hold', params: tcp })]), /name the two files to compare/);
  });
});

describe('c1m compare', () => {
  async function c1m(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
    let out = '';
    let err = '';
    const io: Io = { out: (t) => (out += t), err: (t) => (err += t), columns: 120 };
    return { code: await main(argv, io), out, err };
  }

  it('exits 1 on a regression, 0 under a looser threshold or within noise, 2 when the files cannot be compared (the built CLI, on files in a temp dir)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'c1m-compare-'));
    try {
      const write = (name: string, result: C1mResult): string => {
        const path = join(dir, name);
        mkdirSync(join(path, '..'), { recursive: true });
        writeFileSync(path, JSON.stringify(result));
        return path;
      };
      const base = write('base/tcp-echo.json', resultOf(BASE));
      const worse = write('worse/tcp-echo.json', resultOf({ epoll: [{ ops: 80, p99: 1000 }, { ops: 82, p99: 1005 }, { ops: 79, p99: 995 }] }, { startedAt: '2026-11-23T09:00:00.000Z' }));
      const noisy = write('noisy.json', resultOf({ epoll: [{ ops: 90, p99: 1000 }, { ops: 101, p99: 1010 }, { ops: 95, p99: 990 }] }));
      const other = write('idle.json', resultOf(BASE, { scenario: 'idle-hold' }));

      const gate = await runCli(['compare', base, worse]);
      assert.equal(gate.code, EXIT.failed, gate.stderr);
      assert.match(gate.stdout, /ops\/server CPU-s ↑\s+100\s+80\s+0\.80× \(0\.77–0\.84\)\s+regressed/);
      assert.match(gate.stdout, /BASE = 3f9c2d1 · 2026-11-22 01:11Z .*NEW =\s3f9c2d1 · 2026-11-23 09:00Z/s, 'labelled by commit and start time');
      const folders = await runCli(['compare', join(dir, 'base'), join(dir, 'worse')]);
      assert.equal(folders.code, EXIT.failed, 'folders pair by scenario');
      const loose = await runCli(['compare', base, worse, '--max-regression', '30']);
      assert.equal(loose.code, EXIT.ok, loose.stdout);
      assert.match(loose.stdout, /0\.80× \(0\.77–0\.84\)\s+worse/);
      const within = await c1m('compare', base, noisy);
      assert.equal(within.code, EXIT.ok);
      assert.match(within.out, /within noise/);
      assert.match(within.out, /No figure regressed beyond its noise and 5 %/);

      const scenarios = await c1m('compare', base, other);
      assert.equal(scenarios.code, EXIT.usage);
      assert.match(scenarios.err, /c1m compare: cannot compare different scenarios/);
      const missing = await c1m('compare', base, join(dir, 'nothing.json'));
      assert.equal(missing.code, EXIT.usage);
      assert.match(missing.err, /NEW: .*nothing.json: no such file or folder/);
      const one = await c1m('compare', base);
      assert.equal(one.code, EXIT.usage);
      assert.match(one.err, /which two results/);
      const bad = await c1m('compare', base, worse, '--max-regression', '-1');
      assert.equal(bad.code, EXIT.usage);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
