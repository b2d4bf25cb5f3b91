// Made-up result files for the report's chart tests (test/report-charts.test.ts and
// test/browser.test.ts): a stepped tcp-echo run with stored histograms, and one-contender
// million-connection idle-hold files. Every figure is chosen so a test can tell it apart.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DRIVER_LATENCY_LAYOUT } from '../../src/drivers/driver-contract.js';
import { Histogram } from '../../src/metrics/histogram.js';
import { latencyRecord } from '../../src/results/histograms.js';
import type { C1mResult, LoadedResult, Run, Step } from '../../src/results/schema.js';
import { summarizeRun } from '../../src/results/summary.js';
import { validateResult } from '../../src/results/validate.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));

export const layout = (): Histogram => new Histogram(DRIVER_LATENCY_LAYOUT.lowest, DRIVER_LATENCY_LAYOUT.highest, DRIVER_LATENCY_LAYOUT.digits);

/** A histogram holding from, from + 1, …, to, once each. */
export function uniform(from: number, to: number): Histogram {
  const h = layout();
  for (let v = from; v <= to; v++) h.record(v);
  return h;
}

export const STEPS = [
  { label: 'closed loop, depth 1', group: 'main' },
  { label: 'open loop 10000/s', group: 'open-10000' },
  { label: 'open loop 40000/s', group: 'open-40000' },
];

/**
 * tcp-echo with a closed loop and two open-loop rates, epoll and epoll-native, two repetitions
 * each. Figures are chosen so each is told apart: contender c (0, 1), repetition r (0, 1), step s
 * (0, 1, 2) achieves 1000 × (10 + 10c + r + s) ops/s, which is never an offered rate.
 */
export function stepped(): LoadedResult {
  const runs: Run[] = [];
  ['epoll', 'epoll-native'].forEach((contender, c) => {
    for (const rep of [0, 1]) {
      const steps: Step[] = STEPS.map((s, i) => {
        const ops = 1000 * (10 + 10 * c + rep + i);
        return {
          connections: 1000,
          label: s.label,
          windowMs: 10_000,
          server: { cpuUserMs: 1000 * (c + 1), cpuSysMs: 3000 + 1000 * rep },
          throughput: { opsPerSec: ops, opsPerServerCpuSec: ops / ((1000 * (c + 1) + 3000 + 1000 * rep) / 10_000) },
          latencyUs: latencyRecord(uniform(100 * (c + 1) + 10 * rep, 1000 * (c + 1) + 100 * i)),
          groups: { [s.group]: { opsPerSec: ops } },
          driverCpuPct: i === 0 ? 95 + rep : 20 + 10 * i,
          clientBound: i === 0,
        };
      });
      runs.push({ contender, protocol: 'tcp-echo', driver: 'native', rep, ok: true, steps });
    }
  });
  const result = {
    schema: 'c1m.result/1',
    scenario: 'tcp-echo',
    params: { protocol: 'tcp-echo' },
    env: {},
    startedAt: '2026-01-01T00:00:00Z',
    finishedAt: '2026-01-01T00:10:00Z',
    load: { mode: 'closed', depth: 1 },
    groups: { 'open-10000': { mode: 'open', rate: 10_000 }, 'open-40000': { mode: 'open', rate: 40_000 } },
    runs,
  };
  return { file: 'stepped.json', result: validateResult(result, 'stepped.json') };
}

/** An idle-hold file with one contender, its RSS rising `perConn` bytes a connection, steps to a million. */
export function capacityFile(contender: string, protocol: string, perConn: number, startedAt: string): LoadedResult {
  const json = JSON.parse(readFileSync(join(root, 'test/fixtures/result-idle-hold.json'), 'utf8')) as C1mResult;
  const run = structuredClone(json.runs.find((r) => r.contender === 'net')!);
  run.contender = contender;
  run.protocol = protocol;
  const counts = [250_000, 500_000, 750_000, 1_000_000];
  run.steps = counts.map((n, i) => ({ connections: n, server: { rssBytes: 50e6 + perConn * n + (i === 1 ? 1e6 : 0) }, kernel: { slabBytes: 10_000 * n } }));
  delete run.timeline;
  run.summary = summarizeRun(run.steps, [80_000]);
  const result = { ...json, startedAt, params: { ...json.params, protocol, contenders: [contender], connections: 1_000_000 }, runs: [run] };
  return { file: `${contender}-${protocol}.json`, result: validateResult(result, `${contender}-${protocol}.json`) };
}

