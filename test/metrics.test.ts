import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import { HostProbeWindow, probeOnceUs, readingOf } from '../src/metrics/host-probe.js';
import {
  countFds,
  kernelSampleFrom,
  parseMeminfo,
  parseSmapsRollup,
  parseSockstat,
  parseSchedstat,
  parseStat,
  parseStatus,
  sampleKernel,
  sampleProcess,
  sampleProcesses,
  Sampler,
  sumSamples,
  threadCpuMsBetween,
  type KernelSample,
  type ProcessSample,
} from '../src/metrics/proc.js';
import { max, mean, median, min, percentile, stddev, sum, summarize } from '../src/metrics/stats.js';
import { linearFit } from '../src/results/fit.js';
import { cpuMs } from '../src/runner/step.js';

const MEMINFO = `MemTotal:       24684084 kB
MemFree:        24281916 kB
MemAvailable:   24359396 kB
Slab:              35800 kB
SReclaimable:      15624 kB
SUnreclaim:        20176 kB
HugePages_Total:       0
Hugepagesize:       2048 kB
`;

const STATUS = `Name:\tnode
Umask:\t0022
State:\tS (sleeping)
VmPeak:\t 1180000 kB
VmHWM:\t   52000 kB
VmRSS:\t   40456 kB
RssAnon:\t    6328 kB
RssFile:\t   34128 kB
Threads:\t7
`;

const SMAPS_ROLLUP = `563806ad4000-7fffaad8d000 ---p 00000000 00:00 0                          [rollup]
Rss:                1784 kB
Pss:                 391 kB
Pss_Dirty:           116 kB
`;

// The command name contains spaces and a ')' to prove fields are counted from the last ')'.
const STAT = '4070 (my (odd) proc) S 4036 4036 2375 0 -1 4194304 101 0 0 0 250 75 0 0 20 0 7 0 30499 3133440 393 18446744073709551615';

const SOCKSTAT = `sockets: used 2000014
TCP: inuse 2000001 orphan 3 tw 17 alloc 2000004 mem 1234
UDP: inuse 0 mem 0
FRAG: inuse 0 memory 0
`;
const SOCKSTAT6 = `TCP6: inuse 5
UDP6: inuse 0
`;

describe('proc parsers', () => {
  it('parses meminfo into bytes, keeping unit-less counts', () => {
    const m = parseMeminfo(MEMINFO);
    assert.equal(m.MemAvailable, 24359396 * 1024);
    assert.equal(m.Slab, 35800 * 1024);
    assert.equal(m.HugePages_Total, 0);
    assert.equal(m.Nope, undefined);
  });

  it('parses status and smaps_rollup', () => {
    assert.deepEqual(parseStatus(STATUS), { rssBytes: 40456 * 1024, rssAnonBytes: 6328 * 1024, peakRssBytes: 52000 * 1024, threads: 7 });
    assert.deepEqual(parseStatus('Name:\tzombie\nThreads:\t1\n'), { rssBytes: null, rssAnonBytes: null, peakRssBytes: null, threads: 1 });
    assert.equal(parseSmapsRollup(SMAPS_ROLLUP), 391 * 1024);
    assert.equal(parseSmapsRollup(''), null);
  });

  it('parses stat with an awkward command name', () => {
    const s = parseStat(STAT);
    assert.equal(s.pid, 4070);
    assert.equal(s.comm, 'my (odd) proc');
    assert.equal(s.state, 'S');
    assert.equal(s.utimeTicks, 250);
    assert.equal(s.stimeTicks, 75);
    assert.equal(s.threads, 7);
    assert.equal(s.startTimeTicks, 30499);
    assert.throws(() => parseStat('garbage'), TypeError);
    assert.throws(() => parseStat('1 (x) S 1 2'), TypeError);
  });

  it('parses sockstat and sockstat6', () => {
    assert.deepEqual(parseSockstat(SOCKSTAT, SOCKSTAT6), {
      socketsUsed: 2000014,
      tcpInUse: 2000001,
      tcpOrphan: 3,
      tcpTw: 17,
      tcpAlloc: 2000004,
      tcpMemPages: 1234,
      tcp6InUse: 5,
    });
    assert.equal(parseSockstat(SOCKSTAT).tcp6InUse, null);
    assert.equal(parseSockstat('').tcpInUse, null);
  });

  it('builds a kernel sample', () => {
    const k = kernelSampleFrom(MEMINFO, SOCKSTAT, null, 4096);
    assert.equal(k.slabBytes, 35800 * 1024);
    assert.equal(k.sUnreclaimBytes, 20176 * 1024);
    assert.equal(k.memAvailableBytes, 24359396 * 1024);
    assert.equal(k.tcpMemBytes, 1234 * 4096);
    assert.equal(k.sockstat.tcpInUse, 2000001);
  });

  it('sums samples, keeping unknowns unknown', () => {
    const a: ProcessSample = { pid: 1, rssBytes: 100, rssAnonBytes: 10, peakRssBytes: 120, pssBytes: 50, cpuUserMs: 5, cpuSysMs: 1, threads: 7, fds: 20 };
    const b: ProcessSample = { ...a, pid: 2, pssBytes: null };
    const s = sumSamples([a, b]);
    assert.equal(s.total.processes, 2);
    assert.equal(s.total.rssBytes, 200);
    assert.equal(s.total.pssBytes, null);
    assert.equal(s.total.fds, 40);
    // A process gone (c-ref's C program died, the wrapper lives on): no total is the set's.
    const gone = sumSamples([a, b], [3]);
    assert.equal(gone.total.processes, 2);
    assert.deepEqual([gone.total.rssBytes, gone.total.rssAnonBytes, gone.total.fds, gone.total.cpuUserMs], [null, null, null, null]);
    assert.deepEqual(gone.missing, [3]);
    const none = sumSamples([], [4]);
    assert.equal(none.total.rssBytes, null);
    assert.equal(none.total.cpuUserMs, null);
  });
});

describe('precise CPU between two samples', () => {
  const sample = (pid: number, user: number, sys: number, threads: Array<[number, number]> | null): ProcessSample => ({
    pid, rssBytes: 1, rssAnonBytes: 1, peakRssBytes: 1, pssBytes: null, cpuUserMs: user, cpuSysMs: sys, threads: 1, fds: null,
    threadCpuNs: threads === null ? null : new Map(threads),
  });
  it('parses schedstat: the first field, in nanoseconds', () => {
    assert.equal(parseSchedstat('387665807 9346873976 1237\n'), 387665807);
    assert.equal(parseSchedstat(''), null);
    assert.equal(parseSchedstat('x 1 2'), null);
  });
  it('sums the threads of every process; a thread born in the window counts whole, one that ended voids the figure', () => {
    const a = [sample(10, 100, 300, [[10, 1e9], [11, 5e8]]), sample(20, 0, 0, [[20, 0]])];
    const b = [sample(10, 110, 330, [[10, 1.03e9], [11, 5.01e8], [12, 2e6]]), sample(20, 0, 10, [[20, 9e6]])];
    // 30 + 1 + 2 (born) + 9 ms.
    assert.equal(threadCpuMsBetween(a, b), 42);
    assert.equal(threadCpuMsBetween(a, [sample(10, 110, 330, [[10, 1.03e9]]), b[1]!]), null, 'thread 11 ended');
    assert.equal(threadCpuMsBetween(a, [b[0]!]), null, 'a process is missing');
    assert.equal(threadCpuMsBetween([sample(10, 0, 0, null)], [b[0]!]), null, 'no counts on one side');
  });
  it("a step's user and kernel CPU: the precise total split as the ticks split it; the ticks when no precise total", () => {
    // Ticks say 10 + 40 = 50 ms; the threads were on the CPU for 42 ms.
    const a = [sample(10, 100, 300, [[10, 1e9]])];
    const b = [sample(10, 110, 340, [[10, 1.042e9]])];
    const cpu = cpuMs(sumSamples(a), sumSamples(b));
    assert.equal(cpu.from, 'schedstat');
    assert.ok(Math.abs((cpu.user ?? 0) - 8.4) < 1e-9 && Math.abs((cpu.sys ?? 0) - 33.6) < 1e-9, JSON.stringify(cpu));
    const ticks = cpuMs(sumSamples([sample(10, 100, 300, null)]), sumSamples([sample(10, 110, 340, null)]));
    assert.deepEqual(ticks, { user: 10, sys: 40, from: 'stat' });
    assert.deepEqual(cpuMs(sumSamples(a), sumSamples([], [10])), { user: null, sys: null, from: null });
    // No tick moved in the window (an idle step): the total is kept, split as the process's life splits it (100 : 300).
    const idle = cpuMs(sumSamples([sample(10, 100, 300, [[10, 1e9]])]), sumSamples([sample(10, 100, 300, [[10, 1.004e9]])]));
    assert.equal(idle.from, 'schedstat');
    assert.ok(Math.abs((idle.user ?? 0) - 1) < 1e-9 && Math.abs((idle.sys ?? 0) - 3) < 1e-9, JSON.stringify(idle));
    // The threads' total short of the ticks by more than their slack: time went to a thread no sample saw; the ticks win.
    const lost = cpuMs(sumSamples([sample(10, 100, 300, [[10, 1e9]])]), sumSamples([sample(10, 150, 400, [[10, 1.05e9]])]));
    assert.deepEqual(lost, { user: 50, sys: 100, from: 'stat' });
  });
});

describe('proc samplers on the real /proc', () => {
  it('samples this process', () => {
    const s = sampleProcess(process.pid);
    assert.ok(s);
    assert.equal(s.pid, process.pid);
    assert.ok(s.rssBytes > 1024 * 1024, `rss ${s.rssBytes}`);
    assert.ok(s.rssAnonBytes !== null && s.rssAnonBytes > 0);
    assert.ok(s.peakRssBytes >= s.rssBytes);
    assert.ok(s.pssBytes !== null && s.pssBytes > 0);
    assert.ok(s.cpuUserMs + s.cpuSysMs > 0);
    assert.ok(s.threads >= 1);
    assert.ok(s.fds !== null && s.fds >= 3);
    const lean = sampleProcess(process.pid, { pss: false, fds: false });
    assert.equal(lean?.pssBytes, null);
    assert.equal(lean?.fds, null);
  });

  it("reads every thread's nanosecond on-CPU time when asked, and a busy loop shows in it", (t) => {
    assert.equal(sampleProcess(process.pid)?.threadCpuNs, undefined, 'not read unless asked');
    const a = sampleProcess(process.pid, { pss: false, fds: false, threadCpu: true });
    // Without CONFIG_SCHED_INFO there is no schedstat, and steps keep the clock ticks.
    if (!a?.threadCpuNs) return t.skip('this kernel has no /proc/<pid>/task/<tid>/schedstat');
    assert.ok(a.threadCpuNs.has(process.pid), 'the main thread is a task of its own');
    // 50 ms of CPU by the process's own count (getrusage), spent on this thread.
    const t0 = process.cpuUsage();
    while (process.cpuUsage(t0).user + process.cpuUsage(t0).system < 50_000) { /* spin */ }
    const b = sampleProcess(process.pid, { pss: false, fds: false, threadCpu: true });
    assert.ok(b?.threadCpuNs);
    const ms = threadCpuMsBetween([a], [b]);
    assert.ok(ms !== null && ms >= 45, `counted ${ms} ms of a 50 ms busy loop`);
    const split = cpuMs(sumSamples([a]), sumSamples([b]));
    assert.equal(split.from, 'schedstat');
    assert.ok(Math.abs((split.user ?? 0) + (split.sys ?? 0) - ms) < 1e-6, 'user + sys is the precise total');
  });

  it('counts an fd opened and closed', () => {
    const before = countFds(process.pid);
    assert.ok(before !== null);
    const fd = openSync('/proc/self/stat', 'r');
    assert.equal(countFds(process.pid), before + 1);
    closeSync(fd);
    assert.equal(countFds(process.pid), before);
  });

  it('reports an exited process as missing', () => {
    const child = spawnSync(process.execPath, ['-e', '0']);
    assert.equal(child.status, 0);
    const gone = child.pid;
    assert.equal(sampleProcess(gone), null);
    const s = sampleProcesses([process.pid, gone]);
    assert.equal(s.total.processes, 1);
    assert.deepEqual(s.missing, [gone]);
    assert.throws(() => sampleProcess(0), RangeError);
  });

  it('samples the kernel', () => {
    const k = sampleKernel();
    assert.ok(k.slabBytes !== null && k.slabBytes > 0);
    assert.ok(k.memAvailableBytes !== null && k.memAvailableBytes > 0);
    assert.equal(typeof k.sockstat.tcpInUse, 'number');
    assert.equal(typeof k.sockstat.tcpMemPages, 'number');
  });
});

describe('stats', () => {
  it('returns null, never 0, when nothing was measured', () => {
    for (const f of [min, max, mean, median, sum, stddev]) assert.equal(f([]), null);
    assert.equal(median([null, null]), null);
    assert.equal(percentile([], 99), null);
    assert.equal(linearFit([], []), null);
    assert.deepEqual(summarize([]), { n: 0, min: null, max: null, mean: null, median: null, stddev: null });
  });

  it('computes order statistics, skipping nulls', () => {
    assert.equal(min([3, null, 1, 2]), 1);
    assert.equal(max([3, null, 1, 2]), 3);
    assert.equal(mean([1, 2, 3, null]), 2);
    assert.equal(sum([1, 2, 3]), 6);
    assert.equal(median([5, 1, 3]), 3);
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.equal(percentile([1, 2, 3, 4, 5], 0), 1);
    assert.equal(percentile([1, 2, 3, 4, 5], 100), 5);
    assert.equal(percentile([1, 2, 3, 4, 5], 90), 4.6);
    assert.equal(percentile([7], 99), 7);
    assert.equal(stddev([2, 4, 4, 4, 5, 5, 7, 9])?.toFixed(4), '2.1381');
    assert.equal(stddev([1]), null);
  });

  it('rejects what is not a measurement', () => {
    assert.throws(() => mean([1, Number.NaN]), RangeError);
    assert.throws(() => mean([1, Infinity]), RangeError);
    assert.throws(() => mean(['1' as unknown as number]), TypeError);
    assert.throws(() => mean('12' as unknown as number[]), TypeError);
    assert.throws(() => percentile([1], 101), RangeError);
    assert.throws(() => percentile([1], -1), RangeError);
    assert.throws(() => linearFit([1, 2], [1]), RangeError);
  });

  it('fits bytes per connection as a slope', () => {
    // 40 MiB base, 2,800 bytes per connection.
    const xs = [0, 10_000, 100_000, 500_000, 1_000_000];
    const ys = xs.map((x) => 41_943_040 + 2800 * x);
    const f = linearFit(xs, ys);
    assert.ok(f);
    assert.ok(Math.abs(f.slope - 2800) < 1e-6, `slope ${f.slope}`);
    assert.ok(Math.abs(f.intercept - 41_943_040) < 1e-3, `intercept ${f.intercept}`);
    assert.equal(f.r2, 1);
    assert.equal(f.n, 5);
  });

  it('reports fit quality, and skips unmeasured pairs', () => {
    const f = linearFit([1, 2, 3, 4, null], [2, 4, 5, 8, 100]);
    assert.ok(f);
    assert.equal(f.n, 4);
    assert.ok(Math.abs(f.slope - 1.9) < 1e-12);
    assert.ok(Math.abs(f.intercept - 0) < 1e-12);
    assert.ok(f.r2 !== null && f.r2 > 0.95 && f.r2 < 1);
    assert.equal(linearFit([1, 2, 3], [5, 5, 5])?.r2, null, 'flat y: slope 0, nothing to explain');
    assert.equal(linearFit([1, 2, 3], [5, 5, 5])?.slope, 0);
    assert.equal(linearFit([2, 2, 2], [1, 2, 3]), null, 'all x equal: no slope');
    assert.equal(linearFit([1], [1]), null);
  });
});

describe('Sampler', () => {
  function fake(): {
    clock: { t: number };
    cpu: Map<number, number>;
    pids: number[];
    sampler: (capacity?: number) => Sampler;
  } {
    const clock = { t: 1_000_000 };
    const cpu = new Map<number, number>([
      [10, 0],
      [11, 0],
    ]);
    const pids = [10, 11];
    const kernel: KernelSample = kernelSampleFrom(MEMINFO, SOCKSTAT, null, 4096);
    const sampler = (capacity = 3600): Sampler =>
      new Sampler({
        pids: () => pids,
        intervalMs: 100,
        capacity,
        perPid: true,
        now: () => clock.t,
        sampleKernel: () => kernel,
        sampleProcesses: (list) =>
          sumSamples(
            list.filter((p) => cpu.has(p)).map((pid) => ({
              pid,
              rssBytes: 1000 * pid,
              rssAnonBytes: 10,
              peakRssBytes: 1000 * pid,
              pssBytes: null,
              cpuUserMs: cpu.get(pid) ?? 0,
              cpuSysMs: (cpu.get(pid) ?? 0) / 2,
              threads: 1,
              fds: 3,
            })),
            list.filter((p) => !cpu.has(p)),
          ),
      });
    return { clock, cpu, pids, sampler };
  }

  it('computes CPU% from deltas between points', () => {
    const { clock, cpu, sampler } = fake();
    const s = sampler();
    const p0 = s.sample();
    assert.equal(p0.t, 0);
    assert.equal(p0.cpuPercent, null);
    assert.equal(p0.processes.rssBytes, 21000);
    clock.t += 100;
    cpu.set(10, 40); // 40 ms user + 20 ms sys in 100 ms
    cpu.set(11, 20); // 20 ms user + 10 ms sys
    s.setLabel('warm-up');
    const p1 = s.sample();
    assert.equal(p1.t, 100);
    assert.equal(p1.label, 'warm-up');
    assert.equal(p1.cpuPercent, 90);
    assert.equal(p1.cpuUserPercent, 60);
    assert.equal(p1.cpuSysPercent, 30);
    assert.deepEqual(p1.perPid, [
      { pid: 10, rssBytes: 10000, cpuPercent: 60 },
      { pid: 11, rssBytes: 11000, cpuPercent: 30 },
    ]);
    assert.equal(p1.kernel?.sockstat.tcpInUse, 2000001);
  });

  it('counts only pids present in both points, and lists the missing', () => {
    const { clock, cpu, pids, sampler } = fake();
    const s = sampler();
    s.sample();
    clock.t += 200;
    cpu.delete(11);
    cpu.set(10, 20);
    cpu.set(12, 500); // new worker: its lifetime CPU is not this interval's
    pids.push(12);
    const p = s.sample();
    assert.deepEqual(p.missing, [11]);
    assert.equal(p.cpuPercent, 15);
    assert.equal(p.perPid?.find((x) => x.pid === 12)?.cpuPercent, null);
  });

  it('stays bounded by thinning and doubling its interval', () => {
    const { clock, sampler } = fake();
    const s = sampler(8);
    for (let i = 0; i < 8; i++) {
      s.sample();
      clock.t += 100;
    }
    assert.equal(s.points().length, 4);
    assert.equal(s.intervalMs, 200);
    assert.deepEqual(s.points().map((p) => p.t), [100, 300, 500, 700]);
    for (let i = 0; i < 100; i++) {
      s.sample();
      clock.t += 100;
    }
    assert.ok(s.points().length < 8);
    assert.equal(s.points().at(-1)?.t, 10700);
  });

  it('runs on a timer against the real /proc and stops', async () => {
    const s = new Sampler({ pids: [process.pid], intervalMs: 20, kernel: true });
    s.start();
    assert.equal(s.running, true);
    const spin = Date.now() + 80;
    while (Date.now() < spin) {
      // Burn CPU so the deltas have something to measure.
    }
    await sleep(60);
    s.stop();
    assert.equal(s.running, false);
    const pts = s.points();
    assert.ok(pts.length >= 2, `points ${pts.length}`);
    assert.equal(s.lastError, null);
    const last = pts.at(-1);
    assert.ok(last && last.cpuPercent !== null && last.cpuPercent >= 0);
    assert.ok(last.kernel && last.kernel.slabBytes !== null);
    const count = pts.length;
    await sleep(50);
    assert.equal(s.points().length, count, 'no samples after stop');
  });

  it('validates options', () => {
    assert.throws(() => new Sampler({ pids: [1], intervalMs: 1 }), RangeError);
    assert.throws(() => new Sampler({ pids: [1], intervalMs: 100, capacity: 2 }), RangeError);
    assert.throws(() => new Sampler({ pids: 5 as unknown as number[], intervalMs: 100 }), TypeError);
  });
});

describe('host probe', () => {
  it('times its fixed work every interval through a window, and stops at end()', async () => {
    const w = new HostProbeWindow(20, 20_000);
    await sleep(150);
    const r = w.end();
    assert.ok(r !== null, 'probed');
    assert.ok(r.samples >= 3 && r.samples <= 9, `samples ${r.samples}`);
    assert.ok(r.minUs > 0 && r.minUs <= r.meanUs, JSON.stringify(r));
    assert.deepEqual([r.everyMs, r.iterations], [20, 20_000]);
    await sleep(60);
    assert.deepEqual(w.end(), r, 'no probe after end()');
  });

  it('more work reads longer, and a probe preempted or sharing its process with a busy thread reads no longer than its own wall time', () => {
    const small = Math.min(...Array.from({ length: 5 }, () => probeOnceUs(20_000)));
    const large = Math.min(...Array.from({ length: 5 }, () => probeOnceUs(400_000)));
    assert.ok(large > 4 * small, `20k iterations ${small} µs, 400k ${large} µs`);
  });

  it("reads no longer than its own wall time while another thread of the process burns CPU (the process's CPU time counts both)", async () => {
    const spinner = new Worker('const end = Date.now() + 1500; while (Date.now() < end) {}', { eval: true });
    try {
      await sleep(100);
      for (let i = 0; i < 5; i++) {
        const t0 = process.hrtime.bigint();
        const us = probeOnceUs(400_000);
        const wallUs = Number(process.hrtime.bigint() - t0) / 1000;
        assert.ok(us > 0 && us <= wallUs, `probe ${us} µs in ${wallUs} µs of wall time`);
      }
    } finally {
      await spinner.terminate();
    }
  });

  it('reads nothing from no probe, and refuses a bad interval or work', () => {
    assert.equal(readingOf([], 100, 1000), null);
    assert.deepEqual(readingOf([200, 300, Number.NaN], 100, 1000), { meanUs: 250, minUs: 200, samples: 2, everyMs: 100, iterations: 1000 });
    assert.throws(() => new HostProbeWindow(1), RangeError);
    assert.throws(() => new HostProbeWindow(100, 0), RangeError);
  });
});
