// The scenario runner: the scenario format, slopes and comparisons, preflight's process counts
// and refusals, and `c1m run smoke` end to end (every contender, misbehaving contenders, a
// split into several processes, Ctrl-C), with nothing left running afterwards.
//
// The driver is autocannon unless C1M_TEST_DRIVER says otherwise (e.g. native).

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import net from 'node:net';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { DriverConfig } from '../src/drivers/driver-contract.js';
import type { C1mResult, Run, Step } from '../src/results/schema.js';
import { validateResult } from '../src/results/validate.js';
import { loadScenario, loadScenarioFile } from '../src/runner/catalog.js';
import { splitConfig } from '../src/runner/driver-group.js';
import { PreflightRefusal, planScenario } from '../src/runner/plan.js';
import { ProcessTracker } from '../src/runner/processes.js';
import { fitMemory } from '../src/results/fit.js';
import type { RunRecord, StepRecord } from '../src/results/record.js';
import { compareRuns, summarizeRun } from '../src/results/summary.js';
import { histogramOf } from '../src/results/histograms.js';
import { RATIO_INTERVAL_METHOD } from '../src/results/ratio.js';
import { runScenario, schedule, thinTimeline } from '../src/runner/run.js';
import {
  defineScenario,
  levelsUpTo,
  memoryPhases,
  parseValue,
  phasesOf,
  resolveParams,
  throughputPhases,
  type ScenarioSpec,
} from '../src/runner/scenario.js';
import { runCli, startCli, startedPids, TEST_DRIVER } from './helpers/cli.js';
import { fdsSettle, openFds, waitGone } from './helpers/processes.js';
import { box } from './helpers/readings.js';

const tmp = mkdtempSync(join(tmpdir(), 'c1m-runner-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const MiB = 1024 * 1024;

function readResult(path: string): C1mResult {
  const json = JSON.parse(readFileSync(path, 'utf8')) as unknown;
  return validateResult(json, path);
}

async function assertAllGone(pids: readonly number[]): Promise<void> {
  assert.ok(pids.length > 0, 'no pids were reported');
  assert.deepEqual(await waitGone(pids, 5000), [], 'processes left running');
}

const minimal = {
  name: 'tiny',
  description: 'a test scenario',
  protocols: ['http-hello', 'tcp-echo'],
  contenders: ['net'],
  kind: 'memory',
  phases: [{ kind: 'ramp', connections: 10 }, { kind: 'measure' }],
} satisfies ScenarioSpec;

describe('scenario format', () => {
  it('fills in the standard parameters with the scenario defaults', () => {
    const s = defineScenario({ ...minimal, defaults: { connections: 50 } });
    const p = resolveParams(s);
    assert.equal(p.protocol, 'http-hello');
    assert.deepEqual(p.contenders, ['net']);
    assert.equal(p.connections, 50);
    assert.equal(p.reps, 1, 'memory scenarios run once by default');
    assert.equal(p.driver, 'native');
    assert.equal(resolveParams(defineScenario({ ...minimal, kind: 'throughput' })).reps, 3, 'throughput scenarios run three times by default');
  });

  it('refuses broken definitions with what is wrong', () => {
    assert.throws(() => defineScenario({ ...minimal, name: 'Not Ok' }), /lower-case/);
    assert.throws(() => defineScenario({ ...minimal, protocols: ['gopher' as 'tcp-echo'] }), /unknown protocol "gopher"/);
    assert.throws(() => defineScenario({ ...minimal, params: { connections: { type: 'int', default: 1, help: 'x' } } }), /standard flag/);
    assert.throws(() => defineScenario({ ...minimal, params: { rate: { type: 'int', default: 1, help: '' } } }), /help line/);
    assert.throws(() => defineScenario({ ...minimal, params: { rate: { type: 'int', default: 0, min: 1, help: 'x' } } }), /default of rate must be at least 1/);
    assert.throws(() => phasesOf(defineScenario({ ...minimal, phases: [{ kind: 'ramp', connections: 5 }] }), resolveParams(defineScenario(minimal))), /at least one measure/);
    assert.throws(() => phasesOf(defineScenario({ ...minimal, phases: [{ kind: 'jump' } as never] }), resolveParams(defineScenario(minimal))), /kind must be/);
  });

  it('checks and parses parameter values', () => {
    const s = defineScenario({ ...minimal, params: { levels: { type: 'list', items: 'int', default: [1, 2], min: 1, help: 'levels' } } });
    assert.deepEqual(resolveParams(s, { levels: [3, 4] })['levels'], [3, 4]);
    assert.throws(() => resolveParams(s, { nope: 1 }), /no parameter "nope"/);
    assert.throws(() => resolveParams(s, { levels: [0] }), /levels must be at least 1/);
    assert.deepEqual(parseValue('--levels', s.paramSpecs['levels']!, '10, 20,30'), [10, 20, 30]);
    assert.throws(() => parseValue('--levels', s.paramSpecs['levels']!, '10,,30'), /without empty items/);
    assert.throws(() => parseValue('--connections', s.paramSpecs['connections']!, '1e'), /must be an integer/);
    assert.throws(() => parseValue('--connections', s.paramSpecs['connections']!, '0x10'), /must be an integer/);
    assert.equal(parseValue('--pin', s.paramSpecs['pin']!, 'no'), false);
    assert.throws(() => parseValue('--driver', s.paramSpecs['driver']!, 'curl'), /one of native, autocannon, wrk/);
  });

  it('builds phases from levels', () => {
    assert.deepEqual(levelsUpTo(1000, 4), [250, 500, 750, 1000]);
    assert.deepEqual(levelsUpTo(1, 3), [1]);
    const t = throughputPhases([10, 20], { durationMs: 1000, warmupMs: 100 });
    assert.deepEqual(t.map((p) => p.kind), ['ramp', 'measure', 'ramp', 'measure']);
    const m = memoryPhases([10, 20], { settleMs: 50 }, { ratePerSec: 1000 });
    assert.deepEqual(m[0], { kind: 'ramp', connections: 10, ratePerSec: 1000 });
    assert.deepEqual(m[1], { kind: 'measure', label: '10 connections', settleMs: 50 });
  });

  it('loads a scenario module that default-exports plain data, from any path', async () => {
    const file = join(tmp, 'plain.mjs');
    writeFileSync(file, `export default ${JSON.stringify({ ...minimal, name: 'plain' })};\n`);
    const s = await loadScenarioFile(file);
    assert.equal(s.name, 'plain');
    assert.equal(s.file, file);
    assert.ok('connections' in s.paramSpecs);
    const smoke = await loadScenario('smoke');
    assert.equal(smoke.name, 'smoke');
    assert.equal(smoke.paramSpecs['driver']?.default, 'autocannon');
    await assert.rejects(loadScenario('no-such-scenario'), /unknown scenario "no-such-scenario"; built-in: .*smoke/);
  });
});

function step(connections: number, rss: number, slab: number, ops: number | null = null): Step {
  return {
    connections,
    server: { rssBytes: rss },
    kernel: { slabBytes: slab },
    ...(ops === null ? {} : { throughput: { opsPerSec: ops, opsPerServerCpuSec: ops * 2 }, latencyUs: { p50: 100, p99: 900 } }),
  };
}

function run(contender: string, rep: number, ok: boolean, ops: number | null, bytes: number | null = null): Run {
  return {
    contender,
    protocol: 'http-hello',
    driver: 'native',
    rep,
    ok,
    ...(ok ? {} : { error: 'it broke' }),
    steps: [],
    summary: { opsPerSec: ops, bytesPerConnection: bytes, latencyUs: { p50: null, p99: null } },
  };
}

describe('slopes and comparisons', () => {
  it('per-connection memory is the least-squares slope over the steps', () => {
    const steps = [step(1000, 50 * MiB + 1000 * 1000, 300 * MiB), step(2000, 50 * MiB + 2000 * 1000 + 40, 290 * MiB), step(4000, 50 * MiB + 4000 * 1000, 280 * MiB, 5000)];
    const fit = fitMemory(steps, [0, 1, 2]);
    assert.ok(Math.abs((fit.bytesPerConnection?.slope ?? 0) - 1000) < 0.1);
    assert.deepEqual(fit.bytesPerConnection?.steps, [0, 1, 2]);
    assert.equal(fit.bytesPerConnection?.of, 'server.rssBytes');
    const s = summarizeRun(steps, [null, 20_000, 40_000], fit);
    assert.ok(Math.abs((s.bytesPerConnection ?? 0) - 1000) < 0.1);
    assert.equal(s.fit, fit, 'the summary records the fit its figures come from');
    assert.ok((s.fit?.kernelBytesPerConnection?.slope ?? 0) < 0, 'the negative fit stays on record');
    assert.equal(s.kernelBytesPerConnection, null, 'a negative slope is not a cost: null, not 0');
    assert.equal(s.maxConnections, 4000);
    assert.equal(s.connectRatePerSec, 30_000, 'median of the measured ramp rates');
    assert.equal(s.opsPerSec, 5000, 'throughput from the last step that ran load');
    assert.deepEqual(s.latencyUs, { p50: 100, p99: 900 });
    const one = summarizeRun([step(1000, 1, 1)], []);
    assert.equal(one.bytesPerConnection, null, 'one step has no slope');
    assert.equal(one.connectRatePerSec, null);
    assert.equal(one.opsPerSec, null);
  });

  it('ratios are medians over ok runs against the baseline, from the same file', () => {
    const runs = [
      run('net', 0, true, 100, 3000),
      run('epoll', 0, true, 400, 60),
      run('uws', 0, false, null),
      run('net', 1, true, 300, 3000),
      run('epoll', 1, true, 600, 64),
      run('epoll', 2, true, 500, 62),
      run('net', 2, false, 100000),
    ];
    const cmp = compareRuns(runs);
    const ops = cmp.find((c) => c.metric === 'summary.opsPerSec');
    assert.deepEqual(ops, {
      metric: 'summary.opsPerSec', baseline: 'net', protocol: 'http-hello', ratios: { epoll: 2.5, uws: null },
      // Repetition 0 gives 400/100, repetition 1 gives 600/300; net's repetition 2 failed, so epoll's has no pair.
      intervals: { epoll: [2, 4], uws: null }, pairs: { epoll: 2, uws: 0 }, intervalMethod: RATIO_INTERVAL_METHOD,
    });
    assert.equal(cmp.find((c) => c.metric === 'summary.bytesPerConnection')?.ratios['epoll'], 62 / 3000);
    assert.equal(cmp.find((c) => c.metric === 'summary.latencyUs.p99'), undefined, 'nothing to compare when the baseline measured nothing');
    assert.deepEqual(compareRuns(runs.filter((r) => r.contender !== 'net')), [], 'no baseline, no ratios');
  });
});

describe('plan: preflight, process split, order', () => {
  const plan = (over: Partial<Parameters<typeof planScenario>[0]>) =>
    planScenario({ contenders: ['net', 'epoll'], protocol: 'tcp-echo', connections: 100_000, connectRatePerSec: 0, readings: box(), driver: 'native', ...over });

  it('splits into as many processes as the fd limit requires, and says how to need fewer', () => {
    const p = plan({});
    // 20,000 soft nofile − 64 reserve = 19,936 connections per process.
    assert.equal(p.serverWorkers, 6);
    assert.equal(p.driverProcesses, 6);
    // Each native driver process gets source addresses of its own, so no two search one
    // address's port range at once.
    assert.deepEqual(p.sourceAddresses, ['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5', '127.0.0.6', '127.0.0.7']);
    const nofile = p.warnings.find((w) => w.startsWith('nofile (server)'));
    assert.ok(nofile?.includes('split into 6 workers'), nofile);
    assert.ok(nofile?.includes('ulimit -n 131072'), nofile);
    assert.equal(plan({ connections: 19_936 }).serverWorkers, 1);
    assert.equal(plan({ connections: 19_937 }).serverWorkers, 2);
  });

  it('gives every driver process as many source addresses (a multiple of the processes), since each carries an equal share', () => {
    // 39,000 connections over 2 destination ports with 8,000 ports in the range: preflight needs
    // 5 addresses, which would split 3 and 2 between the 2 driver processes and leave the one with
    // 2 short. Rounded up to 6: 3 each.
    const p = plan({ connections: 39_000, readings: box({ portRange: { low: 20000, high: 27999 } }) });
    assert.equal(p.driverProcesses, 2);
    assert.equal(p.sourceAddresses.length, 6);
  });

  it('spreads over source addresses when one address runs out of ports, with the native driver only', () => {
    const big = box({ nofileSoft: 2_000_000, nofileHard: 2_000_000, nrOpen: 2_097_152 });
    const p = plan({ readings: big });
    assert.equal(p.serverWorkers, 1);
    // ceil(100,000 / floor(28,232 × 0.5)) = 8 addresses, each range filled to half.
    assert.deepEqual(p.sourceAddresses, Array.from({ length: 8 }, (_, i) => `127.0.0.${i + 2}`));
    assert.throws(
      () => plan({ readings: big, driver: 'autocannon' }),
      (err: unknown) =>
        err instanceof PreflightRefusal &&
        /ephemeral ports/.test(err.message) &&
        err.text.includes('FAIL  ephemeral ports') &&
        err.text.includes('sysctl -w net.ipv4.ip_local_port_range="1024 65535"') &&
        err.text.includes('--driver native'),
    );
  });

  it('refuses what cannot succeed, with the plan and its fixes', () => {
    assert.throws(
      () => plan({ workers: 1 }),
      (err: unknown) => err instanceof PreflightRefusal && err.text.includes('use 6 or more workers, or raise the limit'),
    );
    assert.throws(
      () => plan({ readings: box({ memAvailableBytes: 64 * MiB }) }),
      (err: unknown) => err instanceof PreflightRefusal && err.text.includes('FAIL  memory') && /lower connections to [\d,]+ or fewer/.test(err.text),
    );
  });

  it('refuses before starting anything', async () => {
    const smoke = await loadScenario('smoke');
    const tracker = new ProcessTracker();
    await assert.rejects(
      runScenario({ scenario: smoke, params: resolveParams(smoke, { contenders: ['net'], driver: TEST_DRIVER as 'native' }), readings: box({ memAvailableBytes: MiB }), tracker }),
      PreflightRefusal,
    );
    assert.equal(tracker.all().length, 0);
  });

  it('interleaves contenders and repetitions: A B C A B C', () => {
    assert.deepEqual(
      schedule(['a', 'b', 'c'], 2).map((x) => `${x.contender}${x.rep}`),
      ['a0', 'b0', 'c0', 'a1', 'b1', 'c1'],
    );
  });

  it('thins a long timeline evenly, keeping the first and last samples', () => {
    const n = 10;
    const t = { tMs: [...Array(n).keys()], connections: [...Array(n).keys()], cpuPct: Array<number | null>(n).fill(null), rssBytes: Array<number>(n).fill(1) };
    const thin = thinTimeline(t, 4);
    assert.deepEqual(thin.tMs, [0, 3, 6, 9]);
    assert.equal(thin.cpuPct.length, 4);
    assert.equal(thinTimeline(t, 20), t);
  });

  it('divides connections, addresses, rate and publishers between driver processes', () => {
    const config: DriverConfig = {
      driver: 'native',
      protocol: 'ws-broadcast',
      targets: [{ host: '127.0.0.1', port: 1 }],
      mode: 'open',
      rate: 1000,
      publishers: 3,
      sourceAddresses: ['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5', '127.0.0.6'],
    };
    const parts = splitConfig(config, 2);
    assert.deepEqual(parts.map((c) => c.sourceAddresses), [['127.0.0.2', '127.0.0.3', '127.0.0.4'], ['127.0.0.5', '127.0.0.6']]);
    assert.deepEqual(parts.map((c) => c.publishers), [2, 1]);
    // Each publisher publishes the same share: the rate follows the publishers, not the processes.
    assert.deepEqual(parts.map((c) => c.rate), [2000 / 3, 1000 / 3]);
    const { publishers: _, ...echo } = config;
    assert.deepEqual(splitConfig({ ...echo, protocol: 'tcp-echo' }, 2).map((c) => c.rate), [500, 500]);
    assert.deepEqual(splitConfig(config, 1), [config]);
  });

  it('refuses a ws-broadcast split that would cut rooms between workers or leave a driver process without publishers', async () => {
    const broadcast = await loadScenario('ws-broadcast');
    const tracker = new ProcessTracker();
    // A soft limit of 214 fds leaves 150 connections per process: 400 connections need 3 of each.
    const readings = box({ nofileSoft: 214, nofileHard: 214 });
    const run = (over: Record<string, unknown>) =>
      runScenario({ scenario: broadcast, params: resolveParams(broadcast, { contenders: ['net'], connections: 400, ...over } as Parameters<typeof resolveParams>[1]), readings, tracker });
    await assert.rejects(run({ rooms: 4, publishers: 10 }), (err: unknown) => err instanceof PreflightRefusal && /spreads 4 rooms over 3 contender workers/.test(err.message) && /--rooms a multiple of 3/.test(err.text));
    await assert.rejects(run({ rooms: 3, publishers: 2 }), (err: unknown) => err instanceof PreflightRefusal && /2 publishers for 3 driver processes/.test(err.message) && /--publishers 3 or more/.test(err.text));
    assert.equal(tracker.all().length, 0, 'nothing was started');
  });
});

describe(`c1m run smoke (driver ${TEST_DRIVER})`, () => {
  it('runs every contender and writes a result that validates, with slopes, percentiles and comparisons', async () => {
    const out = join(tmp, 'smoke-all.json');
    const r = await runCli(['run', 'smoke', '--driver', TEST_DRIVER, '--out', out]);
    assert.equal(r.code, 0, `exit ${r.code}\n${r.stderr}`);
    assert.ok(r.stdout.includes(`result: ${out}`), r.stdout);
    assert.ok(r.stdout.includes(`report: ${out.replace(/\.json$/, '.html')}`), r.stdout);
    assert.ok(existsSync(out.replace(/\.json$/, '.html')));
    assert.match(r.stdout, /net \(baseline\)/);
    const result = readResult(out);
    assert.equal(result.scenario, 'smoke');
    assert.equal(result.params['driver'], TEST_DRIVER);
    assert.ok(result.env.git === null || /^[0-9a-f]{40}$/.test(result.env.git ?? ''));
    assert.equal(result.env.versions?.['c1m'], '0.1.0');
    const ok = result.runs.filter((x) => x.ok) as RunRecord[];
    assert.ok(ok.some((x) => x.contender === 'net'), 'net ran');
    for (const x of result.runs) assert.ok(x.ok || x.skipped, `${x.contender}: ${x.error}`);
    for (const x of ok) {
      assert.equal(x.steps.length, 2, x.contender);
      const [a, b] = x.steps as StepRecord[];
      assert.equal(a?.connections, 100, `${x.contender} held 100 connections at the first level`);
      assert.equal(b?.connections, 200, `${x.contender} held 200 connections at the second level`);
      for (const s of [a, b]) {
        assert.ok((s?.throughput?.opsPerSec ?? 0) > 0);
        assert.ok((s?.throughput?.opsPerServerCpuSec ?? 0) > 0);
        // The server's CPU is read over the driver's counting period, not until its results arrive
        // (a tool that takes seconds to report would otherwise dilute the CPU with an idle server).
        const durationMs = Number(result.params['duration']) * 1000;
        assert.ok(s !== undefined && s.windowMs >= durationMs - 50 && s.windowMs <= durationMs + 250, `${x.contender}: window ${s?.windowMs} ms for ${durationMs} ms of load`);
        // The host's speed was probed through the window, every 100 ms (a loaded runner's timer
        // may lose some turns, never gain them).
        const host = s?.host;
        assert.ok(host !== undefined && host.samples >= durationMs / host.everyMs / 2 && host.samples <= durationMs / host.everyMs + 1, `${x.contender}: ${JSON.stringify(host)}`);
        assert.ok(host.minUs > 0 && host.minUs <= host.meanUs, JSON.stringify(host));
        const l = s?.latencyUs;
        assert.ok(l && typeof l.p50 === 'number' && l.p50 <= (l.p99 ?? 0) && (l.p99 ?? 0) <= (l.max ?? 0), JSON.stringify(l));
        // The complete histogram is stored beside the percentiles, and they are read from it.
        const h = histogramOf(l);
        assert.ok(h !== null && h.count > 0, `${x.contender} stores its step histogram`);
        assert.deepEqual([h.valueAtPercentile(50), h.valueAtPercentile(99), h.max], [l.p50, l.p99, l.max]);
        assert.ok((s?.server?.rssBytes ?? 0) > 10 * MiB);
        assert.ok((s?.server?.heapUsedBytes ?? 0) > 0);
        assert.deepEqual(s?.errors, { connect: 0, read: 0, write: 0, timeout: 0, protocol: 0 });
        // The conformance check's bad requests came before the load and are not the load's errors.
        assert.equal(s?.serverProtocolErrors, 0, `${x.contender} counted no protocol error under the load`);
      }
      assert.equal(typeof x.summary?.fit?.bytesPerConnection?.slope, 'number', 'memory slope computed');
      assert.equal(typeof x.summary?.fit?.kernelBytesPerConnection?.slope, 'number', 'kernel slope computed');
      assert.deepEqual(x.summary?.fit?.steps, [0, 1], 'both load steps fitted, and the file says so');
      assert.equal(x.summary?.maxConnections, 200);
      assert.ok((x.summary?.connectRatePerSec ?? 0) > 0);
      assert.ok((x.timeline?.tMs.length ?? 0) > 3);
      // The drivers are closed before the contender is stopped, so nothing is left to cut; a
      // contender that cannot tell (or an engine that does not say yet) records null, never 0.
      assert.ok(x.drain !== undefined && x.drain !== null, `${x.contender} records its drain`);
      assert.ok((x.drain.boundMs ?? 0) > 0, `${x.contender} drain bound ${x.drain.boundMs}`);
      if (x.contender === 'net' || x.contender === 'uws') assert.equal(x.drain.cut, 0, `${x.contender} drain cut`);
      else assert.ok(x.drain.cut === null || x.drain.cut === 0, `${x.contender} drain cut ${x.drain.cut}`);
      // Beside the figures: the quick conformance cases of the protocol, run before the load.
      const conf = x.conformance;
      assert.ok(conf !== undefined, `${x.contender} records its conformance`);
      assert.equal(conf.family, 'http');
      assert.ok(conf.casesRun > 10, `${x.contender} ran ${conf.casesRun} cases`);
      assert.equal(conf.passed + conf.notApplicable + conf.deviations.length, conf.casesRun);
      if (x.contender === 'epoll' || x.contender === 'epoll-native') assert.deepEqual(conf.deviations, [], `${x.contender} conforms`);
    }
    const others = new Set(ok.map((x) => x.contender).filter((c) => c !== 'net'));
    const ops = result.comparisons?.find((c) => c.metric === 'summary.opsPerServerCpuSec');
    assert.ok(ops, 'ops per CPU-second compared');
    assert.deepEqual(new Set(Object.keys(ops.ratios)), new Set(result.runs.map((x) => x.contender).filter((c) => c !== 'net')));
    for (const c of others) assert.ok((ops.ratios[c] ?? 0) > 0, c);
    await assertAllGone(startedPids(r.stderr).map((p) => p.pid));
  });

  it('records a contender that answers wrongly and one that crashes as not ok, and runs the others', async () => {
    const out = join(tmp, 'smoke-faulty.json');
    const r = await runCli(
      ['run', 'smoke', '--contenders', 'test-crash,test-wrong,net', '--driver', TEST_DRIVER, '--duration', '0.5', '--warmup', '0.2', '--out', out],
      { C1M_TEST_CONTENDERS: '1' },
    );
    assert.equal(r.code, 3, `some runs not ok → exit 3\n${r.stderr}`);
    const result = readResult(out);
    const by = (c: string): Run => result.runs.find((x) => x.contender === c) as Run;
    assert.equal(by('test-wrong').ok, false);
    assert.match(by('test-wrong').error ?? '', /^primer: test-wrong answered http-hello wrongly .*not measured: GET \/: body "Hello, World\?"/);
    assert.equal(by('test-wrong').steps.length, 0, 'never measured');
    assert.equal(by('test-crash').ok, false);
    assert.match(by('test-crash').error ?? '', /^contender test-crash\/http-hello#0 \(pid \d+\) exited \(code 70\) during phase \d .*crashing on purpose/);
    assert.equal(by('net').ok, true, by('net').error ?? '');
    assert.equal(by('net').steps.length, 2);
    // A worker that died reported no drain: not known, never 0. The others drained in time.
    assert.equal(by('test-crash').drain?.cut, null);
    assert.equal(by('net').drain?.cut, 0);
    assert.equal(by('test-wrong').drain?.cut, 0);
    assert.match(r.stdout, /failed: primer: test-wrong/);
    await assertAllGone(startedPids(r.stderr).map((p) => p.pid));
    // The test contenders exist only when asked for.
    const refused = await runCli(['run', 'smoke', '--contenders', 'test-wrong', '--out', join(tmp, 'never.json')]);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /unknown contender "test-wrong"/);
  });

  it('splits contender and driver into the processes preflight asks for, and leaves no process or fd behind', async () => {
    const smoke = await loadScenario('smoke');
    // autocannon opens its connections when its run starts: a warm-up of a second lets them all
    // be up before the server's count is read, even on a busy machine.
    const params = resolveParams(smoke, { contenders: ['net'], driver: TEST_DRIVER as 'native', duration: 0.5, warmup: 1 });
    const fdsBefore = openFds();
    const tracker = new ProcessTracker();
    // A soft limit of 214 fds leaves 150 connections per process: 200 connections need two of each.
    const readings = box({ nofileSoft: 214, nofileHard: 214 });
    const { result, plan } = await runScenario({ scenario: smoke, params, readings, tracker });
    assert.equal(plan.serverWorkers, 2);
    assert.equal(plan.driverProcesses, 2);
    assert.equal(result.preflight.serverWorkers, 2);
    const x = result.runs[0] as RunRecord;
    assert.equal(x.ok, true, x.error ?? '');
    assert.equal(x.workers, 2);
    assert.deepEqual(x.steps.map((s) => s.connections), [100, 200], 'connections summed over both workers');
    assert.equal(x.drain?.cut, 0, 'both workers reported a drain that cut nothing');
    assert.deepEqual(
      tracker.all().map((t) => t.role),
      ['contender', 'contender', 'driver', 'driver'],
    );
    validateResult(JSON.parse(JSON.stringify(result)) as unknown, 'in memory');
    await assertAllGone(tracker.all().map((t) => t.pid));
    assert.ok((await fdsSettle(fdsBefore)) <= fdsBefore, `fds: ${openFds()} now, ${fdsBefore} before`);
  });

  it("says where a driver's warning arose: the phase, and the group when there are several", async () => {
    // Two ramps cut at a bound they cannot meet (500 connects at 1,000/s in 150 ms): the native
    // driver warns for each, and each warning must name its phase and, for `late`, its group.
    const cut = defineScenario({
      name: 'cut-ramps',
      description: 'two ramps stopped at their bound',
      protocols: ['tcp-echo'],
      contenders: ['net'],
      kind: 'memory',
      driver: 'native',
      load: { mode: 'idle' },
      groups: { late: { mode: 'idle' } },
      phases: [
        { kind: 'ramp', connections: 500, ratePerSec: 1000, timeoutMs: 150 },
        { kind: 'ramp', group: 'late', connections: 500, ratePerSec: 1000, timeoutMs: 150 },
        { kind: 'measure' },
      ],
    });
    const tracker = new ProcessTracker();
    const { result } = await runScenario({ scenario: cut, params: resolveParams(cut, { contenders: ['net'] }), tracker });
    const x = result.runs[0] as RunRecord;
    assert.equal(x.ok, true, x.error ?? '');
    const cutWarnings = (x.warnings ?? []).filter((w) => w.includes('ramp stopped at its'));
    assert.equal(cutWarnings.length, 2, JSON.stringify(x.warnings));
    assert.match(cutWarnings[0] ?? '', /^phase 1 \(ramp to 500 connections at 1,000\/s\): ramp stopped/);
    assert.match(cutWarnings[1] ?? '', /^phase 2 \(ramp late to 500 connections at 1,000\/s\), group late: ramp stopped/);
    await assertAllGone(tracker.all().map((t) => t.pid));
  });

  it('warns when the run begins with sockets in TIME_WAIT, whose expiry would read as kernel memory given back', async () => {
    // 1,200 connections closed from our side first: each leaves a socket in TIME_WAIT for 60 s.
    const sink = net.createServer((s) => s.on('error', () => {}));
    await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
    try {
      const port = (sink.address() as net.AddressInfo).port;
      for (let k = 0; k < 6; k++) {
        await Promise.all(Array.from({ length: 200 }, () => new Promise<void>((resolve, reject) => {
          const c = net.connect(port, '127.0.0.1', () => c.end());
          c.on('error', reject);
          c.on('close', () => resolve());
          c.resume();
        })));
      }
    } finally {
      await new Promise<void>((resolve) => sink.close(() => resolve()));
    }
    const scenario = defineScenario({ ...minimal, name: 'tw-baseline' });
    const tracker = new ProcessTracker();
    const { result } = await runScenario({ scenario, params: resolveParams(scenario, { contenders: ['net'], protocol: 'tcp-echo' }), tracker });
    const x = result.runs[0] as RunRecord;
    assert.equal(x.ok, true, x.error ?? '');
    assert.ok((x.kernelBaseline?.tcpTw ?? 0) >= 1000, `baseline ${x.kernelBaseline?.tcpTw}`);
    assert.match((x.warnings ?? []).join('\n'), /^[\d,]+ TCP sockets were in TIME_WAIT when this run began; they expire within 60 s/m);
    await assertAllGone(tracker.all().map((t) => t.pid));
  });

  it('stops every process on Ctrl-C and writes the partial result, marked interrupted', async () => {
    const out = join(tmp, 'smoke-sigint.json');
    const cli = startCli(['run', 'smoke', '--contenders', 'net,uws', '--driver', TEST_DRIVER, '--duration', '5', '--out', out]);
    await cli.waitFor(/measure 100 connections/, 30_000);
    await new Promise((r) => setTimeout(r, 300));
    const pids = startedPids(cli.stderr());
    assert.deepEqual(pids.map((p) => p.role).sort(), ['contender', 'driver']);
    const sent = Date.now();
    cli.child.kill('SIGINT');
    const r = await cli.done;
    assert.equal(r.code, 130, r.stderr);
    assert.ok(Date.now() - sent < 10_000, `took ${Date.now() - sent} ms to stop`);
    await assertAllGone(pids.map((p) => p.pid));
    const result = readResult(out) as C1mResult & { interrupted?: boolean };
    assert.equal(result.interrupted, true);
    assert.match(result.note ?? '', /Interrupted \(SIGINT\) after 1 of 2 runs/);
    assert.equal(result.runs.length, 1);
    assert.match(result.runs[0]?.error ?? '', /^interrupted by SIGINT during phase 2/);
  });
});

describe('memory watchdog', () => {
  it('ends a wait with a sentence when MemAvailable falls under the floor, and not before', async () => {
    const { Guard, memoryFloorBytes } = await import('../src/runner/guard.js');
    assert.equal(memoryFloorBytes(24 * 2 ** 30), Math.round(24 * 2 ** 30 * 0.05));
    assert.equal(memoryFloorBytes(4 * 2 ** 30), 2 ** 30, 'at least 1 GiB');
    let avail = 8 * 2 ** 30;
    const g = new Guard(undefined, 2 ** 30, () => avail);
    const slow = new Promise<string>((r) => setTimeout(() => r('done'), 2000));
    const waiting = g.wait(slow, 5000, 'ramp to 1,000,000 connections');
    setTimeout(() => { avail = 512 * 2 ** 20; }, 150);
    await assert.rejects(waiting, /stopped by the memory watchdog: MemAvailable fell to 512 MiB, under the floor of 1,024 MiB during ramp to 1,000,000 connections/);
    avail = 8 * 2 ** 30;
    assert.equal(await new Guard(undefined, 2 ** 30, () => avail).wait(Promise.resolve('ok'), 1000, 'x'), 'ok');
  });
});
