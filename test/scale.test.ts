// The million-connection machinery, scaled down: 40,000 idle connections are more than one
// process may hold here (20,000 fds), so preflight splits the contender and the driver into
// several processes each. Counts must agree on both sides and in the kernel, the workers'
// figures must add up, and every process and fd must be gone afterwards.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateResult } from '../src/results/validate.js';
import { ProcessTracker } from '../src/runner/processes.js';
import type { RunRecord } from '../src/results/record.js';
import { runScenario } from '../src/runner/run.js';
import { defineScenario, memoryPhases, resolveParams } from '../src/runner/scenario.js';
import { readSystem } from '../src/system/limits.js';
import { fdsSettle, openFds, waitGone } from './helpers/processes.js';

const scaled = defineScenario({
  name: 'scaled-hold',
  description: 'idle hold across several processes (test)',
  protocols: ['tcp-echo'],
  contenders: ['epoll'],
  kind: 'memory',
  driver: 'native',
  defaults: { connections: 40_000, duration: 1, warmup: 0, reps: 1 },
  params: {},
  load: () => ({ mode: 'idle' }),
  phases: (p) => memoryPhases([p.connections / 2, p.connections], { settleMs: 300, holdMs: 300 }, { timeoutMs: 60_000 }),
});

test('40,000 idle connections across several contender and driver processes: counts agree, nothing left behind', async (t) => {
  const readings = readSystem();
  const perProcess = readings.nofileSoft - 64;
  if (perProcess * 2 >= 40_000) {
    t.skip(`this machine allows ${readings.nofileSoft} fds per process, so 40,000 connections fit in two; the split is not exercised`);
    return;
  }
  const fdsBefore = openFds();
  const tracker = new ProcessTracker();
  const params = resolveParams(scaled, { contenders: ['epoll'] });
  const { result, plan } = await runScenario({ scenario: scaled, params, readings, tracker });
  const run = result.runs[0] as RunRecord;
  assert.equal(run.ok, true, run.error ?? '');
  assert.ok(plan.serverWorkers >= 3 && plan.driverProcesses >= 3, `split into ${plan.serverWorkers} workers and ${plan.driverProcesses} drivers`);
  assert.equal(run.workers, plan.serverWorkers);
  // Server-side counts, summed over the workers, at each step.
  assert.deepEqual(run.steps.map((s) => s.connections), [20_000, 40_000]);
  // Driver-side counts, merged over the driver processes.
  const ramps = (run as RunRecord & { ramps?: { established: number; failed: number }[] }).ramps ?? [];
  assert.equal(ramps.at(-1)?.established, 40_000);
  assert.equal(ramps.reduce((a, r) => a + r.failed, 0), 0);
  // The kernel sees both ends of every connection.
  const last = run.steps.at(-1)!;
  // sockstat is machine-wide: a few sockets of other processes closing meanwhile move it a little.
  assert.ok((last.kernel?.tcpInUse ?? 0) >= 80_000 - 100, `sockstat TCP inuse grew by ${last.kernel?.tcpInUse}`);
  // The engine's own accounting: one 32-byte slot per connection (plus its reserve granularity).
  const perConn = run.summary?.engineBytesPerConnection ?? null;
  assert.ok(perConn !== null && perConn >= 32 && perConn <= 40, `engine bytes per connection ${perConn}`);
  validateResult(JSON.parse(JSON.stringify(result)) as unknown, 'in memory');
  const pids = tracker.all().map((p) => p.pid);
  assert.ok(pids.length >= 6);
  assert.deepEqual(await waitGone(pids, 10_000), [], 'processes left running');
  assert.ok((await fdsSettle(fdsBefore)) <= fdsBefore, `fds: ${openFds()} now, ${fdsBefore} before`);
});
