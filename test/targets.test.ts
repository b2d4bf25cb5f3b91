// The performance targets checked from result files: ratios per step between two contenders
// of one file, a bound on a summary figure, and what counts as unmeasured.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkTargets, cpuSplit, cpuSplitMarkdown, hostSkewOf, hostSpeedSummary, hostSpeedText, targetsMarkdown, TARGETS } from '../src/report/targets.js';
import type { LoadedResult } from '../src/results/schema.js';
import { latestPerScenario, suiteTable } from '../src/runner/suite.js';

type RunSpec = { contender: string; steps: Record<string, number>; clientBound?: boolean; ok?: boolean; engineBytes?: number; host?: Record<string, number> };

function file(scenario: string, protocol: string, runs: RunSpec[], startedAt = '2026-11-21T00:00:00Z', name = `${scenario}.json`): LoadedResult {
  return {
    file: name,
    result: {
      scenario,
      startedAt,
      // Repetitions count per contender, in the order given (rep i of each ran back to back).
      runs: runs.map((r, i) => ({
        contender: r.contender,
        protocol,
        rep: runs.slice(0, i).filter((x) => x.contender === r.contender).length,
        ok: r.ok ?? true,
        skipped: null,
        clientBound: r.clientBound ?? false,
        steps: Object.entries(r.steps).map(([label, ops]) => ({
          label,
          connections: 100,
          throughput: { opsPerSec: ops, bytesPerSec: 0, opsPerServerCpuSec: ops },
          ...(r.host?.[label] === undefined ? {} : { host: { meanUs: r.host[label], minUs: 200, samples: 99, everyMs: 100, iterations: 50_000 } }),
        })),
        summary: { engineBytesPerConnection: r.engineBytes ?? null },
      })),
    },
  } as unknown as LoadedResult;
}

test('ratio targets: medians over reps, step by step, with the interval of per-repetition ratios; met, not met, undecided, unmeasured', () => {
  const http = file('http-hello', 'http-hello', [
    { contender: 'epoll', steps: { 'keep-alive, depth 1': 300, 'pipelined, depth 16': 900 } },
    { contender: 'uws', steps: { 'keep-alive, depth 1': 200, 'pipelined, depth 16': 1000 } },
    { contender: 'net', steps: { 'keep-alive, depth 1': 100 } },
    { contender: 'epoll', steps: { 'keep-alive, depth 1': 310, 'pipelined, depth 16': 1000 } },
    { contender: 'uws', steps: { 'keep-alive, depth 1': 210, 'pipelined, depth 16': 700 } },
    { contender: 'net', steps: { 'keep-alive, depth 1': 150, 'pipelined, depth 16': 500 }, ok: false },
    { contender: 'epoll', steps: { 'keep-alive, depth 1': 290, 'pipelined, depth 16': 950 } },
    { contender: 'uws', steps: { 'keep-alive, depth 1': 190, 'pipelined, depth 16': 1000 } },
  ]);
  const rows = checkTargets([http]);
  const find = (against: string, step: string) => rows.find((r) => r.target.against === against && r.step === step);
  // epoll / uws at depth 1: 300/200, 310/210, 290/190 → 1.5 (1.48–1.53), all of it ≥ 1.1.
  const ka = find('uws', 'keep-alive, depth 1')!;
  assert.equal(ka.value, 1.5);
  assert.deepEqual([ka.estimate?.low.toFixed(3), ka.estimate?.high.toFixed(3), ka.estimate?.pairs], ['1.476', '1.526', 3]);
  assert.equal(ka.verdict, 'met');
  // Pipelined: 900/1000, 1000/700, 950/1000 → 0.95 of medians, per-rep 0.9–1.43: straddles 1.25.
  const pl = find('uws', 'pipelined, depth 16')!;
  assert.equal(pl.value, 0.95);
  assert.equal(pl.verdict, 'undecided');
  // The failed net run is not counted: one measured pair at depth 1 shows no noise; none pipelined.
  assert.equal(find('net', 'keep-alive, depth 1')?.value, 3);
  assert.equal(find('net', 'keep-alive, depth 1')?.verdict, 'undecided');
  assert.equal(find('net', 'pipelined, depth 16')?.value, null);
  assert.equal(find('net', 'pipelined, depth 16')?.verdict, null);
  const md = targetsMarkdown(rows);
  assert.match(md, /\| HTTP requests per server CPU-s, epoll vs uws, keep-alive \| keep-alive, depth 1 \| 1\.50× \(1\.48–1\.53\) \(300 \/ 200\) \| ≥ 1\.1× uws \| met \|/);
  assert.match(md, /\| pipelined, depth 16 \| — \| ≥ 3× net \| not measured \|/);
  assert.match(md, /range of per-repetition ratios/);
  // All of the interval under the goal: not met.
  const slow = file('http-hello', 'http-hello', [0, 1, 2].flatMap((i) => [
    { contender: 'epoll', steps: { 'keep-alive, depth 1': 100 + i } },
    { contender: 'uws', steps: { 'keep-alive, depth 1': 100 } },
  ]));
  assert.equal(checkTargets([slow]).find((r) => r.target.against === 'uws')?.verdict, 'not met');
});

test('the newest file of a scenario counts; step filters; a driver near saturation is flagged', () => {
  const old = file('ws-broadcast', 'ws-broadcast', [
    { contender: 'epoll', steps: { '10000 members in 100 rooms': 10 } },
    { contender: 'uws', steps: { '10000 members in 100 rooms': 100 } },
  ], '2026-11-20T00:00:00Z', 'old.json');
  const now = file('ws-broadcast', 'ws-broadcast', [
    { contender: 'epoll', steps: { '5000 members in 100 rooms': 50, '10000 members in 100 rooms': 120 }, clientBound: true },
    { contender: 'uws', steps: { '5000 members in 100 rooms': 100, '10000 members in 100 rooms': 100 } },
  ], '2026-11-21T00:00:00Z', 'new.json');
  const rows = checkTargets([now, old]);
  assert.equal(rows.length, 1, 'only the 10,000-member step counts');
  assert.equal(rows[0]!.file, 'new.json');
  assert.equal(rows[0]!.value, 1.2);
  assert.equal(rows[0]!.clientBound, true);
  assert.match(targetsMarkdown(rows), /1\.20× \(1 pair: no interval\) \(120 \/ 100\) \(driver near saturation\)/);
});

test('a bound target reads the run summary over repetitions; no file for a scenario means no row', () => {
  const idle = file('idle-hold', 'tcp-echo', [{ contender: 'epoll', steps: {}, engineBytes: 32.5 }, { contender: 'net', steps: {} }]);
  const rows = checkTargets([idle]);
  assert.equal(rows.length, 1);
  assert.equal(rows[0]!.value, 32.5);
  assert.equal(rows[0]!.verdict, 'met');
  const over = checkTargets([file('idle-hold', 'tcp-echo', [{ contender: 'epoll', steps: {}, engineBytes: 80 }])]);
  assert.equal(over[0]!.verdict, 'not met');
  const mixed = checkTargets([file('idle-hold', 'tcp-echo', [{ contender: 'epoll', steps: {}, engineBytes: 60 }, { contender: 'epoll', steps: {}, engineBytes: 70 }])]);
  assert.equal(mixed[0]!.verdict, 'undecided');
  // A repetition whose fit gave no figure counts against the bound: the one that did cannot decide alone.
  const gap = checkTargets([file('idle-hold', 'tcp-echo', [{ contender: 'epoll', steps: {} }, { contender: 'epoll', steps: {} }, { contender: 'epoll', steps: {}, engineBytes: 32 }])]);
  assert.deepEqual([gap[0]!.value, gap[0]!.verdict], [32, 'undecided']);
  assert.equal(checkTargets([file('idle-hold', 'tcp-echo', [{ contender: 'epoll', steps: {} }])])[0]!.verdict, null, 'no figure at all: not measured');
  assert.equal(targetsMarkdown(checkTargets([])), '');
  assert.ok(TARGETS.length >= 5);
});

test('server CPU per operation: user and kernel time over every ok run of a step, per contender', () => {
  const step = (label: string, ops: number, user: number, sys: number) => ({ label, windowMs: 2000, connections: 10, server: { cpuUserMs: user, cpuSysMs: sys }, throughput: { opsPerSec: ops, bytesPerSec: 0, opsPerServerCpuSec: 0 } });
  const echo = {
    file: 'echo.json',
    result: {
      scenario: 'tcp-echo',
      startedAt: '2026-11-21T00:00:00Z',
      runs: [
        { contender: 'epoll', protocol: 'tcp-echo', ok: true, skipped: null, steps: [step('closed', 50_000, 100, 900)] },
        { contender: 'epoll', protocol: 'tcp-echo', ok: true, skipped: null, steps: [step('closed', 50_000, 100, 900)] },
        { contender: 'net', protocol: 'tcp-echo', ok: true, skipped: null, steps: [step('closed', 25_000, 400, 600)] },
        { contender: 'net', protocol: 'tcp-echo', ok: false, skipped: null, steps: [step('closed', 1, 999, 999)] },
      ],
    },
  } as unknown as LoadedResult;
  const rows = cpuSplit([echo]);
  assert.deepEqual(rows.map((r) => [r.contender, r.userUs, r.kernelUs]), [['epoll', 1, 9], ['net', 8, 12]]);
  assert.match(cpuSplitMarkdown(rows), /\| tcp-echo \| closed \| net \| 8\.00 \| 12\.00 \| 20\.00 \| 60 % \|/);
  assert.equal(cpuSplitMarkdown([]), '');
  // A newer file of the scenario over TLS does not stand in for the plain one: each has its rows, named.
  const overTls = { file: 'echo-tls.json', result: { ...echo.result, startedAt: '2026-11-22T00:00:00Z', params: { tls: true }, runs: [{ ...echo.result.runs[2]!, steps: [step('closed', 10_000, 400, 600)] }] } } as unknown as LoadedResult;
  const both = cpuSplit([echo, overTls]);
  assert.deepEqual(both.map((r) => [r.scenario, r.contender, r.userUs, r.kernelUs]), [['tcp-echo', 'epoll', 1, 9], ['tcp-echo', 'net', 8, 12], ['tcp-echo over TLS', 'net', 20, 30]]);
});

test('targets over TLS read only files run with --tls, and plain targets never read those; a bytes ratio target is met when the whole interval is within it', () => {
  const tlsFile = (f: LoadedResult): LoadedResult => ({ ...f, result: { ...f.result, params: { tls: true } } }) as unknown as LoadedResult;
  const https = tlsFile(file('http-hello', 'http-hello', [
    { contender: 'epoll', steps: { 'open loop 30000/s (native)': 200 } },
    { contender: 'uws', steps: { 'open loop 30000/s (native)': 100 } },
    { contender: 'epoll', steps: { 'open loop 30000/s (native)': 210 } },
    { contender: 'uws', steps: { 'open loop 30000/s (native)': 110 } },
  ]));
  const rows = checkTargets([https]);
  // Only the TLS target reads it, and it is met (2×); the plain 1.25× target has no file.
  assert.deepEqual(rows.map((r) => [r.target.what, r.verdict]), [['https requests per server CPU-s, epoll vs uws', 'met']]);
  assert.ok(rows.every((r) => r.target.tls === true));
  const idle = (bytes: Record<string, number[]>): LoadedResult => {
    const f = tlsFile(file('idle-hold', 'ws-echo', Object.entries(bytes).flatMap(([contender, list]) => list.map(() => ({ contender, steps: {} })))));
    for (const run of f.result.runs) (run as { summary: unknown }).summary = { bytesPerConnection: bytes[run.contender]![run.rep]! };
    return f;
  };
  const verdict = (f: LoadedResult): string | null => checkTargets([f]).find((r) => r.target.what === 'bytes per idle wss connection, epoll vs net')?.verdict ?? null;
  assert.equal(verdict(idle({ epoll: [14_000, 15_000], net: [34_000, 33_000] })), 'met');
  assert.equal(verdict(idle({ epoll: [14_000, 20_000], net: [34_000, 33_000] })), 'undecided');
  assert.equal(verdict(idle({ epoll: [30_000, 31_000], net: [34_000, 33_000] })), 'not met');
  // One repetition shows no noise: decided neither way, however far from the goal.
  assert.equal(verdict(idle({ epoll: [30_000], net: [34_000] })), 'undecided');
  assert.match(targetsMarkdown(checkTargets([idle({ epoll: [14_000], net: [34_000] })])), /0\.41× \(1 pair: no interval\).*≤ 0\.5× net \| undecided/);
});

test('the time to establish a million connections: the sum of each run\'s ramps, a bound over runs; a run that fell short counts against it; files of other sizes do not count', () => {
  const million = (seconds: Array<number | null>, connections = 1_000_000, startedAt = '2026-11-21T00:00:00Z'): LoadedResult => {
    const f = file('idle-hold', 'ws-echo', seconds.map(() => ({ contender: 'epoll', steps: {} })), startedAt, `ws-${connections}-${startedAt}.json`);
    (f.result as { params: unknown }).params = { connections };
    f.result.runs.forEach((run, i) => {
      const s = seconds[i]!;
      // Four ramps; a run that fell short held 755,430.
      (run as { ramps: unknown }).ramps = [0.25, 0.25, 0.25, 0.25].map((part) => ({ ms: ((s ?? 100) * 1000 * part) }));
      (run as { summary: unknown }).summary = { maxConnections: s === null ? 755_430 : connections };
    });
    return f;
  };
  const row = (files: LoadedResult[]) => checkTargets(files).find((r) => r.target.figure === 'establishSeconds');
  const met = row([million([39.8, 42.0])])!;
  assert.equal(met.value, 40.9);
  assert.equal(met.verdict, 'met');
  assert.match(targetsMarkdown([met]), /\| time to establish 1,000,000 WebSocket connections, epoll \| — \| 40\.9 s \(39\.8 s–42\.0 s, 2 runs\) \| ≤ 45 s \| met \|/);
  // A table of bounds only explains bounds, not ratios.
  assert.match(targetsMarkdown([met]), /A bound is met when every run is within it.*a run that did not establish them all counts against its bound/);
  assert.doesNotMatch(targetsMarkdown([met]), /per-repetition ratios/);
  assert.equal(row([million([39.8, 47])])!.verdict, 'undecided');
  assert.equal(row([million([93.4])])!.verdict, 'not met');
  assert.match(targetsMarkdown([row([million([93.4])])!]), /93\.4 s \(1 run\)/);
  // A run that did not hold them all has no time; with the other under the bound it is undecided, alone not met.
  const half = row([million([39.8, null])])!;
  assert.equal(half.verdict, 'undecided');
  assert.match(targetsMarkdown([half]), /39\.8 s \(1 run; 1 of 2 runs fell short\)/);
  const short = row([million([null])])!;
  assert.deepEqual([short.value, short.verdict], [null, 'not met']);
  assert.match(targetsMarkdown([short]), /\| — \(1 of 1 runs fell short\) \| ≤ 45 s \| not met \|/);
  // A ramp with no time makes no time to establish (a sum without it would be short).
  const untimed = million([30]);
  (untimed.result.runs[0] as { ramps: unknown }).ramps = [{ ms: 10_000 }, {}];
  assert.deepEqual([row([untimed])!.value, row([untimed])!.verdict], [null, 'not met']);
  // A 400,000-connection file is no answer, even when it is the newer one.
  assert.equal(row([million([20], 400_000, '2026-11-22T00:00:00Z')]), undefined);
  assert.equal(row([million([20], 400_000, '2026-11-22T00:00:00Z'), million([93.4])])!.value, 93.4);
});

test("the host's speed in paired windows: a pair whose windows ran on hosts 1.1× or more apart is noted beside its ratio", () => {
  const ka = 'keep-alive, depth 1', pl = 'pipelined, depth 16';
  const http = file('http-hello', 'http-hello', [
    { contender: 'epoll', steps: { [ka]: 300, [pl]: 900 }, host: { [ka]: 250, [pl]: 250 } },
    { contender: 'uws', steps: { [ka]: 200, [pl]: 600 }, host: { [ka]: 260, [pl]: 250 } },
    { contender: 'epoll', steps: { [ka]: 310, [pl]: 950 }, host: { [ka]: 240, [pl]: 400 } },
    { contender: 'uws', steps: { [ka]: 210, [pl]: 640 }, host: { [ka]: 250, [pl]: 300 } },
  ]);
  const rows = checkTargets([http]);
  const row = (step: string) => rows.find((r) => r.target.against === 'uws' && r.target.contender === 'epoll' && r.step === step && r.target.what.endsWith(step === ka ? 'keep-alive' : 'uws'));
  // Keep-alive: 250/260 and 240/250 → 1.04 at most, not noted; pipelined: 400/300 in the second pair.
  assert.equal(row(ka)?.hostSkew?.toFixed(2), '1.04');
  assert.equal(row(pl)?.hostSkew?.toFixed(2), '1.33');
  const md = targetsMarkdown(rows);
  assert.match(md, /\| pipelined, depth 16 \| 1\.49× \(1\.48–1\.50\) \(925 \/ 620\) \(host 1\.33× apart in a pair\) \|/);
  assert.doesNotMatch(md, /keep-alive, depth 1 \| [^|]*host/);
  assert.match(md, /"Host n× apart in a pair"/);
  // A file from before the probe has no skew, and says nothing about it.
  const old = checkTargets([file('http-hello', 'http-hello', [{ contender: 'epoll', steps: { [ka]: 300 } }, { contender: 'uws', steps: { [ka]: 200 } }])]);
  assert.equal(old.find((r) => r.target.against === 'uws')?.hostSkew, null);
  assert.doesNotMatch(targetsMarkdown(old), /[Hh]ost/);
  assert.equal(hostSpeedSummary([file('http-hello', 'http-hello', [{ contender: 'epoll', steps: { [ka]: 300 } }])]), null);
  // Over the file: each window's mean against the fastest probe (200 µs), and the widest round.
  const h = hostSpeedSummary([http]);
  assert.deepEqual(h && [h.windows, h.low, h.high, h.roundSkew?.toFixed(2)], [8, 1.2, 2, '1.33']);
  assert.match(hostSpeedText(h!), /8 measured windows .* 1\.20–2\.00× the time of its file's fastest probe; within one repetition round .* up to 1\.33× apart/);
  assert.equal(hostSkewOf([1, null, 2], [1.05, 3]), 1.05);
  assert.equal(hostSkewOf(undefined, [1]), null);
});

test("the suite's terminal table ends with the host's steadiness when its files probed the host, and says nothing of it otherwise", () => {
  const ka = 'keep-alive, depth 1';
  const probed = file('http-hello', 'http-hello', [
    { contender: 'net', steps: { [ka]: 100 }, host: { [ka]: 220 } },
    { contender: 'epoll', steps: { [ka]: 300 }, host: { [ka]: 250 } },
  ]);
  assert.match(suiteTable([probed]), /Host speed over the 2 measured windows .* 1\.10–1\.25× the time of its file's fastest probe; within one repetition round .* up to 1\.14× apart/);
  assert.doesNotMatch(suiteTable([file('http-hello', 'http-hello', [{ contender: 'net', steps: { [ka]: 100 } }])]), /Host speed/);
});

test('a suite keeps the newest plain file and the newest TLS file of a scenario apart, and names the TLS rows', () => {
  const ka = 'keep-alive, depth 1';
  const plain = file('http-hello', 'http-hello', [{ contender: 'net', steps: { [ka]: 100 } }], '2026-11-21T00:00:00Z', 'plain.json');
  const older = file('http-hello', 'http-hello', [{ contender: 'net', steps: { [ka]: 90 } }], '2026-11-20T00:00:00Z', 'older.json');
  const overTls = file('http-hello', 'http-hello', [{ contender: 'net', steps: { [ka]: 40 } }], '2026-11-22T00:00:00Z', 'tls.json');
  (overTls.result as { params: unknown }).params = { tls: true };
  const latest = latestPerScenario([older, overTls, plain]);
  assert.deepEqual(latest.map((r) => r.file), ['plain.json', 'tls.json']);
  const table = suiteTable(latest);
  assert.match(table, /^http-hello +http-hello +net/m);
  assert.match(table, /^http-hello over TLS +http-hello +net/m);
});
