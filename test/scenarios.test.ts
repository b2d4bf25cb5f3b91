// The built-in scenarios: each one loads, says what question it answers, and runs in a tiny
// configuration (a few hundred connections, phases of about a second) against every contender
// it applies to, writing a result file that validates, with the figures its question needs.
// Then `c1m suite --tiny` end to end. Nothing is left running afterwards.

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { uwsHeartbeat, uwsPingMargin } from '../src/contenders/uws.js';
import type { C1mResult } from '../src/results/schema.js';
import { validateResult } from '../src/results/validate.js';
import { BUILTIN_DIR, builtinNames, loadScenario } from '../src/runner/catalog.js';
import { writeResult } from '../src/runner/output.js';
import { ProcessTracker } from '../src/runner/processes.js';
import type { RunRecord, StepRecord } from '../src/results/record.js';
import { runScenario } from '../src/runner/run.js';
import { reapBoundMs } from '../src/runner/session.js';
import { defineScenario, groupPeaks, peakConnections, phasesOf, resolveParams, type ParamValue, type Phase } from '../src/runner/scenario.js';
import { suiteEntries } from '../src/runner/suite.js';
import { ROOT, runCli, startedPids } from './helpers/cli.js';
import { waitGone } from './helpers/processes.js';

const tmp = mkdtempSync(join(tmpdir(), 'c1m-scenarios-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const SCENARIOS = ['idle-hold', 'tcp-echo', 'http-hello', 'ws-broadcast', 'heartbeat', 'churn', 'slow-consumer'];

async function assertAllGone(pids: readonly number[]): Promise<void> {
  assert.ok(pids.length > 0, 'no pids were recorded');
  assert.deepEqual(await waitGone(pids, 5000), [], 'processes left running');
}

/** Runs a scenario in this process, writes and re-reads its result, and checks nothing is left running. */
async function tiny(name: string, given: Record<string, ParamValue>): Promise<{ result: C1mResult; runs: RunRecord[] }> {
  const scenario = await loadScenario(name);
  const params = resolveParams(scenario, { reps: 1, ...given });
  const tracker = new ProcessTracker();
  const { result } = await runScenario({ scenario, params, tracker });
  const file = join(tmp, `${name}-${String(params.protocol)}.json`);
  writeResult(result, file);
  const back = validateResult(JSON.parse(readFileSync(file, 'utf8')) as unknown, file);
  await assertAllGone(tracker.all().map((t) => t.pid));
  const runs = back.runs as RunRecord[];
  assert.deepEqual(
    runs.map((r) => r.contender),
    [...params.contenders],
    'every contender the scenario applies to ran, in order',
  );
  for (const r of runs) {
    if (r.skipped) assert.match(r.skipped, /unavailable here/, `${r.contender} may only be skipped when it cannot run on this machine`);
    else assert.equal(r.ok, true, `${r.contender}: ${r.error ?? ''}`);
  }
  return { result: back, runs: runs.filter((r) => r.ok) };
}

const steps = (r: RunRecord): StepRecord[] => r.steps as StepRecord[];
const labelled = (r: RunRecord, re: RegExp): StepRecord => {
  const s = steps(r).find((x) => re.test(x.label ?? ''));
  assert.ok(s, `${r.contender}: no step labelled ${re}`);
  return s;
};

describe('the scenario set', () => {
  it('every scenario loads by name, says what it answers, and has valid phases at its defaults', async () => {
    assert.deepEqual(SCENARIOS.filter((s) => !builtinNames().includes(s)), [], 'all built in');
    for (const name of SCENARIOS) {
      const s = await loadScenario(name);
      assert.equal(s.name, name);
      const source = readFileSync(join(ROOT, 'scenarios', `${name}.ts`), 'utf8');
      const head = source.split('\n').filter((l) => l.startsWith('//'));
      assert.ok(head.length >= 3 && source.startsWith('//'), `${name}: a paragraph at the top says what question it answers`);
      const p = resolveParams(s);
      assert.ok(phasesOf(s, p).length > 0);
      for (const spec of Object.values(s.params ?? {})) assert.ok(spec.help.length > 10);
    }
    assert.ok(existsSync(join(BUILTIN_DIR, 'smoke.js')), 'smoke stays');
  });

  it('maps --protocol tcp / ws to a protocol and its own contenders', async () => {
    const s = await loadScenario('idle-hold');
    const tcp = resolveParams(s, { protocol: 'tcp' });
    assert.equal(tcp.protocol, 'tcp-echo');
    assert.deepEqual(tcp.contenders, ['epoll', 'epoll-native', 'uring', 'uring-native', 'net']);
    const ws = resolveParams(s, { protocol: 'ws' });
    assert.equal(ws.protocol, 'ws-echo');
    assert.deepEqual(ws.contenders, ['epoll', 'uring', 'net', 'uws']);
    assert.deepEqual(resolveParams(s, { protocol: 'ws', contenders: ['net'] }).contenders, ['net'], '--contenders wins');
  });

  it('plans for the connections all driver groups hold at once, and checks group names', async () => {
    const phases: Phase[] = [
      { kind: 'ramp', connections: 100 },
      { kind: 'ramp', group: 'stalled', connections: 30 },
      { kind: 'ramp', connections: 0 },
      { kind: 'ramp', group: 'open-1', connections: 100 },
      { kind: 'measure' },
    ];
    assert.equal(peakConnections(phases), 130);
    assert.deepEqual(Object.fromEntries(groupPeaks(phases)), { main: 100, stalled: 30, 'open-1': 100 });
    const s = defineScenario({ name: 'g', description: 'groups', protocols: ['tcp-echo'], contenders: ['net'], kind: 'memory', groups: { stalled: { mode: 'stall' } }, phases });
    assert.throws(() => phasesOf(s, resolveParams(s)), /unknown driver group "open-1"/);
    const ok = defineScenario({ ...s, groups: { stalled: { mode: 'stall' }, 'open-1': { mode: 'open', rate: 10 } } });
    assert.equal(phasesOf(ok, resolveParams(ok)).length, 5);
  });

  it('bounds a reap by the effective heartbeat or idle timeout, and maps a ping interval onto uWS', () => {
    assert.equal(reapBoundMs({ maxMessageBytes: null, idleTimeoutMs: 0, backlog: 512, pingIntervalMs: 1000, maxQueuedBytes: 0 }), 4000);
    assert.equal(reapBoundMs({ maxMessageBytes: null, idleTimeoutMs: 2000, backlog: 512, pingIntervalMs: null, maxQueuedBytes: null }), 4000);
    assert.equal(reapBoundMs({ maxMessageBytes: null, idleTimeoutMs: 0, backlog: 512, pingIntervalMs: 0, maxQueuedBytes: 0 }), null);
    assert.deepEqual(uwsHeartbeat(1000), { idleTimeoutS: 8, pingAfterS: 4 }, 'uWS: 8 s minimum, so a ping after 4 s of silence');
    assert.deepEqual(uwsHeartbeat(10_000), { idleTimeoutS: 14, pingAfterS: 10 });
    assert.deepEqual(uwsHeartbeat(30_000), { idleTimeoutS: 46, pingAfterS: 30 });
    assert.equal(uwsPingMargin(8), 4);
    assert.equal(uwsPingMargin(16), 8);
    assert.equal(uwsPingMargin(64), 16);
  });
});

describe('each scenario, tiny, against every contender it applies to', () => {
  it('idle-hold (tcp): memory slopes, connect rate and idle CPU per contender', async () => {
    const { result, runs } = await tiny('idle-hold', { protocol: 'tcp', connections: 200, levels: 2, duration: 0.2, settle: 0.1 });
    assert.equal(result.params['protocol'], 'tcp-echo');
    for (const r of runs) {
      assert.deepEqual(steps(r).map((s) => s.connections), [100, 200], r.contender);
      for (const s of steps(r)) {
        assert.ok((s.server.fds ?? 0) >= s.connections!, `${r.contender}: the server's fds are counted`);
        assert.equal(typeof s.server.cpuUserMs, 'number', 'idle CPU measured');
      }
      assert.equal(typeof r.summary?.fit?.bytesPerConnection?.slope, 'number');
      assert.deepEqual(r.summary?.fit?.steps, [0, 1], 'both idle steps fitted');
      assert.ok((r.summary?.connectRatePerSec ?? 0) > 0);
      assert.ok((r.ramps ?? []).every((x) => x.ratePerSec === null || x.ratePerSec <= 5000 * 1.5), 'the ramp is paced');
    }
  });

  it('idle-hold (ws): upgraded WebSockets, uws included', async () => {
    const { result, runs } = await tiny('idle-hold', { protocol: 'ws', connections: 200, levels: 2, duration: 0.2, settle: 0.1 });
    assert.equal(result.params['protocol'], 'ws-echo');
    for (const r of runs) assert.deepEqual(steps(r).map((s) => s.connections), [100, 200], r.contender);
  });

  it('tcp-echo: a closed loop and an open loop at a fixed rate, each on its own connections', async () => {
    const { runs } = await tiny('tcp-echo', { connections: 50, duration: 0.5, warmup: 0.1, rates: [2000] });
    for (const r of runs) {
      const closed = labelled(r, /closed loop/);
      const open = labelled(r, /open loop 2000/);
      assert.ok((closed.throughput?.opsPerSec ?? 0) > 0);
      assert.ok((open.throughput?.opsPerSec ?? 0) > 1000, `${r.contender}: the open loop runs near its rate`);
      assert.ok(open.groups?.['open-2000'], 'the step names its group');
      assert.equal(typeof open.latencyUs?.p99, 'number');
      assert.equal(r.summary?.opsPerSec, open.throughput?.opsPerSec, 'the last rate is the headline');
      // The engine counts its own syscalls; echoing one message at a time on a connection takes
      // at least one receive and one send per message on the server (the count of messages in
      // the interval is estimated from the step's rate, hence the margin).
      const sys = open.syscallsPerOp;
      if (r.contender === 'epoll' || r.contender === 'epoll-native') {
        assert.ok(sys && sys.writes !== undefined && sys.writes !== null && sys.writes >= 0.8 && sys.writes <= 1.25, `${r.contender}: ${JSON.stringify(sys)}`);
        assert.ok((sys.reads ?? 0) >= 0.8 && (sys.waits ?? 0) > 0, `${r.contender}: ${JSON.stringify(sys)}`);
        assert.equal(sys.enters, 0, `${r.contender}: no io_uring_enter on epoll`);
        // libuv's epoll_pwait: at least one turn of Node's loop per engine wait (the engine's fd is in its set).
        assert.ok((sys.loopWaits ?? 0) > 0, `${r.contender}: ${JSON.stringify(sys)}`);
        assert.ok(Math.abs((sys.total ?? 0) - (sys.reads! + sys.writes + sys.waits! + sys.loopWaits!)) < 1e-9);
      } else if (r.contender === 'uring' || r.contender === 'uring-native') {
        // Under io_uring receives and sends are not syscalls: what remains is the io_uring_enter
        // of each round (at most one per message here: one message per connection per round).
        assert.ok(sys && sys.enters !== undefined && sys.enters !== null && sys.enters > 0 && sys.enters <= 1.25, `${r.contender}: ${JSON.stringify(sys)}`);
        assert.ok((sys.reads ?? 1) < 0.05 && (sys.writes ?? 1) < 0.05, `${r.contender}: ${JSON.stringify(sys)}`);
        // Its completions reach Node's loop through libuv's epoll_pwait, the one wait it makes: counted too.
        assert.ok((sys.loopWaits ?? 0) > 0, `${r.contender}: ${JSON.stringify(sys)}`);
        assert.ok(Math.abs((sys.total ?? 0) - (sys.reads! + sys.writes! + sys.waits! + sys.enters + sys.loopWaits!)) < 1e-9);
      } else {
        assert.equal(sys, undefined, `${r.contender} does not count its syscalls: none recorded, not 0`);
      }
    }
  });

  it('http-hello: keep-alive and pipelined with autocannon, then an open loop from the native connector', async () => {
    const { result, runs } = await tiny('http-hello', { connections: 20, duration: 0.5, warmup: 0.1, depths: [4, 1], rates: [2000] });
    assert.equal(result.params['driver'], 'autocannon');
    assert.equal(result.groups?.['open-2000']?.driver, 'native', 'the result says which driver the group ran');
    for (const r of runs) {
      assert.deepEqual(steps(r).map((s) => s.label), ['pipelined, depth 4', 'keep-alive, depth 1', 'open loop 2000/s (native)']);
      for (const s of steps(r)) {
        assert.ok((s.throughput?.opsPerSec ?? 0) > 0, r.contender);
        // CPU is counted in 10 ms ticks: a fast server may show none in a short window (then null, never 0).
        const perCpu = s.throughput?.opsPerServerCpuSec;
        assert.ok(perCpu === null || (typeof perCpu === 'number' && perCpu > 0), `${r.contender}: ${perCpu}`);
      }
      const open = labelled(r, /open loop 2000/);
      assert.ok((open.throughput?.opsPerSec ?? 0) > 1000, `${r.contender}: the open loop runs near its rate`);
      assert.equal(open.groups?.['open-2000']?.errors?.protocol, 0, `${r.contender}: every answer is a right one`);
      assert.equal(r.summary?.opsPerSec, open.throughput?.opsPerSec, 'the last rate is the headline');
      assert.equal(typeof r.clientBound, 'boolean', 'client-bound is recorded');
    }
  });

  it('ws-broadcast: every member receives every message of its room', async () => {
    const { runs } = await tiny('ws-broadcast', { connections: 100, rooms: 4, publishers: 4, rate: 100, levels: 1, duration: 0.5, warmup: 0.1 });
    for (const r of runs) {
      const s = steps(r)[0];
      assert.ok(s && (s.throughput?.opsPerSec ?? 0) > 0);
      // Deliveries still in flight at the window's edges move the ratio a little (more on a busy machine).
      const perPublish = s?.groups?.['main']?.opsPerSent ?? 0;
      assert.ok(Math.abs(perPublish - 25) <= 25 * 0.3, `${r.contender}: ${perPublish} deliveries per publish, want 100/4`);
      assert.equal(typeof s?.latencyUs?.p99, 'number');
    }
  });

  it('heartbeat (ws): the server reaps peers that go silent, within its effective limits', async () => {
    const { runs } = await tiny('heartbeat', { connections: 180, stalled: 20, interval: 1, duration: 0.2 });
    for (const r of runs) {
      const idle = labelled(r, /idle with heartbeats/);
      assert.equal(idle.connections, 180);
      const reap = labelled(r, /silent peers/).reap;
      assert.ok(reap, 'the reap is recorded');
      assert.equal(reap.target, 20);
      assert.ok(reap.closedByServer >= 20, `${r.contender}: closed ${reap.closedByServer}`);
      const bound = reapBoundMs(r.limits);
      assert.ok(bound !== null && typeof reap.ms === 'number' && reap.ms <= bound, `${r.contender}: reaped in ${reap.ms} ms, bound ${bound}`);
      assert.equal(labelled(r, /silent peers/).connections, 180, `${r.contender}: the live peers stay (${JSON.stringify(reap)})`);
      if (r.contender === 'uws') assert.deepEqual([r.limits?.pingIntervalMs, r.limits?.idleTimeoutMs], [4000, 8000], 'uWS says what it does instead');
      else assert.equal(r.limits?.pingIntervalMs, 1000);
    }
  });

  it('heartbeat (tcp): the idle timeout reaps silent peers while live ones send heartbeats', async () => {
    const { runs } = await tiny('heartbeat', { protocol: 'tcp-echo', connections: 90, stalled: 10, interval: 1, duration: 0.2 });
    for (const r of runs) {
      assert.deepEqual([r.limits?.idleTimeoutMs, r.limits?.pingIntervalMs], [3000, null], r.contender);
      const reap = labelled(r, /silent peers/).reap;
      assert.ok(reap && reap.closedByServer >= 10 && typeof reap.ms === 'number', `${r.contender}: ${JSON.stringify(reap)}`);
      assert.equal(labelled(r, /silent peers/).connections, 90, `${r.contender}: the live peers, heartbeating, stay (${JSON.stringify(reap)})`);
    }
  });

  it('churn: connect/close cycles leave no fds behind', async () => {
    const { runs } = await tiny('churn', { connections: 200, cycles: 3, settle: 0.1 });
    for (const r of runs) {
      assert.deepEqual(steps(r).map((s) => s.connections), [200, 0, 200, 0], r.contender);
      const first = labelled(r, /cycle 1: all closed/);
      const last = labelled(r, /cycle 3: all closed/);
      assert.ok((last.server.fds ?? Infinity) <= (first.server.fds ?? 0) + 2, `${r.contender}: fds ${first.server.fds} → ${last.server.fds}`);
      assert.equal(typeof last.kernel.tcpTw, 'number', 'TIME_WAIT recorded');
      assert.equal((r.ramps ?? []).filter((x) => x.target > 0).length, 3);
      for (const s of steps(r)) assert.equal(s.errors?.connect, 0);
      assert.equal(r.summary?.bytesPerConnection, null, 'no per-connection slope from churn steps');
      assert.deepEqual(r.summary?.fit?.steps, [], 'the file says no step was fitted');
    }
  });

  it('slow-consumer: stalled readers are closed at the queue bound, the others lose nothing', async () => {
    const { runs } = await tiny('slow-consumer', { connections: 10, stalled: 4, rooms: 2, publishers: 2, rate: 100, messageBytes: 65_536, maxQueued: 65_536, duration: 3, warmup: 0.2 });
    for (const r of runs) {
      assert.equal(r.limits?.maxQueuedBytes, 65_536, r.contender);
      const reading = labelled(r, /everyone reading/);
      const stalled = labelled(r, /4 stalled/);
      assert.equal(stalled.reap?.target, 4);
      assert.equal(stalled.reap?.closedByServer, 4, `${r.contender}: the server closed the stalled readers`);
      const before = reading.groups?.['main']?.opsPerSent ?? 0;
      const during = stalled.groups?.['main']?.opsPerSent ?? 0;
      assert.ok(Math.abs(before - 5) <= 1 && Math.abs(during - 5) <= 1, `${r.contender}: deliveries per publish ${before} then ${during}, want 10/2`);
      assert.equal(stalled.groups?.['main']?.peerClosed, 0, 'no well-behaved peer was closed');
    }
  });
});

describe('c1m suite', () => {
  it('--tiny writes every result with its report, and prints one table with ratios against net', async () => {
    const out = join(tmp, 'suite');
    const md = join(out, 'SUMMARY.md');
    const r = await runCli(['suite', '--tiny', '--contenders', 'epoll,net', '--out-dir', out, '--md', md]);
    assert.equal(r.code, 0, `exit ${r.code}\n${r.stderr}`);
    assert.match(r.stdout, /bytes\/conn ↓ +connect rate ↑ +ops\/server CPU-s ↑ +p99 latency ↓/);
    assert.match(r.stdout, /net \(baseline\)/);
    // One repetition each: every ratio says it has no interval.
    assert.match(r.stdout, /epoll +\S+ .*\(\d+\.\d+× \?\)/);
    const scenarios = suiteEntries('tiny').map((e) => e.scenario);
    for (const name of scenarios) {
      const files = readdirSync(join(out, name));
      assert.equal(files.filter((f) => f.endsWith('.json')).length, 1, name);
      assert.equal(files.filter((f) => f.endsWith('.html')).length, 1, name);
      const json = join(out, name, files.find((f) => f.endsWith('.json')) ?? '');
      validateResult(JSON.parse(readFileSync(json, 'utf8')) as unknown, json);
      assert.ok(r.stdout.includes(`result: ${json}`));
    }
    const summary = readFileSync(md, 'utf8');
    assert.match(summary, /^## Results/);
    assert.match(summary, /Machine:\n\n- \d+ × /);
    assert.match(summary, /\| idle-hold \| tcp-echo \| net \(baseline\) \|/);
    await assertAllGone(startedPids(r.stderr).map((p) => p.pid));

    const again = await runCli(['suite', '--from', out]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /ws-broadcast +ws-broadcast +epoll/);
  });
});
