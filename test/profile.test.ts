// `c1m profile`: every tool on the epoll and net contenders under a second of tiny load, each run
// checked for its output (HTML, valid V8 profiles, folded perf stacks with the engine's native
// frames) and for what it must not leave behind (processes, trace logs, perf maps). Plus the
// pure parts (folding, the flame graph) and the CLI's Ctrl-C.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, test, type TestContext } from 'node:test';
import { checkCpuProfile, checkHeapProfile, foldCpuProfile, foldHeapProfile, foldPerfScript, parseFolded, formatFolded, topFrames } from '../src/profile/fold.js';
import { frameKind, renderFlameGraph } from '../src/profile/flamegraph.js';
import { cleanTraceLogs, profileContender } from '../src/profile/profile.js';
import { perfAvailable } from '../src/profile/tools.js';
import type { ProfileOptions, ProfileResult, ProfileTool } from '../src/profile/profile-contract.js';
import type { Protocol } from '../src/wire/protocols.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'c1m-profile-test-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
let seq = 0;

/** Alive and not a zombie. */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0] !== 'Z';
  } catch {
    return false;
  }
}

function traceLogs(dir: string): string[] {
  try {
    return readdirSync(dir).filter((f) => /^node_trace\.\d+\.log$/.test(f));
  } catch {
    return [];
  }
}

/** Files a profiler could drop in the working directory: trace logs, V8 isolate logs, clinic's default folder. */
function strays(dir: string): string[] {
  try {
    return readdirSync(dir).filter((f) => /^node_trace\.\d+\.log$|^isolate-.*\.log$|^\.clinic$|^\d+\.clinic-/.test(f));
  } catch {
    return [];
  }
}
const straysAtStart = new Set(strays(process.cwd()));

function assertNothingLeft(r: ProfileResult): void {
  const pids = [r.pids.contender, r.pids.wrapper, ...r.pids.drivers].filter((p): p is number => p !== null);
  assert.deepEqual(pids.filter(running), [], `processes left running: ${JSON.stringify(r.pids)}`);
  assert.deepEqual(traceLogs(r.dir), [], 'trace logs left in the output directory');
  assert.deepEqual(strays(process.cwd()).filter((f) => !straysAtStart.has(f)), [], 'profiler files left in the working directory');
  if (r.pids.contender !== null) assert.equal(existsSync(`/tmp/perf-${r.pids.contender}.map`), false, 'perf map left in /tmp');
}

async function profile(tool: ProfileTool, contender: string, protocol: Protocol, extra: Partial<ProfileOptions> = {}): Promise<ProfileResult> {
  const r = await profileContender({
    scenario: 'test',
    contender,
    protocol,
    tool,
    driver: 'native',
    load: { mode: 'closed', depth: 1, messageBytes: 64 },
    connections: 4,
    durationSec: 1,
    outDir: join(tmp, `${tool}-${contender}-${seq++}`),
    exitTimeoutMs: 10_000,
    analysisTimeoutMs: 60_000,
    ...extra,
  });
  assertNothingLeft(r);
  const json = JSON.parse(readFileSync(join(r.dir, 'profile.json'), 'utf8')) as ProfileResult;
  assert.equal(json.status, r.status);
  return r;
}

function assertOk(r: ProfileResult): asserts r is ProfileResult & { open: string } {
  assert.equal(r.status, 'ok', `${r.tool} on ${r.contender}: ${r.reason ?? ''}`);
  assert.ok(r.open !== null && existsSync(r.open), `the file to open exists: ${r.open}`);
  assert.ok((r.load.run?.ops ?? 0) > 0, 'the load ran');
  assert.equal(r.exit?.killed, false);
}

function assertHtml(r: ProfileResult): void {
  assertOk(r);
  assert.match(r.open, /\.html$/);
  assert.ok(statSync(r.open).size > 10_000, 'a real report, not an empty page');
  assert.match(readFileSync(r.open, 'utf8').slice(0, 2000), /<html/i);
}

// ---- pure parts ------------------------------------------------------------------------------

const PERF_SCRIPT = `node 1234  100.000001:    2004008 cpu-clock:
\t    7f00 __send+0x10 (/usr/lib/x86_64-linux-gnu/libc.so.6)
\t    1200 c1m::Loop::send_or_queue(int, unsigned int)+0x42 (/work/main/build/Release/c1m.node)
\t    1100 c1m::Loop::round()+0x9 (/work/main/build/Release/c1m.node)
\t     900 uv__io_poll+0x1 (/usr/bin/node)

node 1234  100.000002:    2004008 cpu-clock:
\tffffffff81000000 tcp_sendmsg+0x5 ([kernel.kallsyms])
\t    7f00 __send+0x10 (/usr/lib/x86_64-linux-gnu/libc.so.6)
\t    1200 c1m::Loop::send_or_queue(int, unsigned int)+0x42 (/work/main/build/Release/c1m.node)
\t    1100 c1m::Loop::round()+0x9 (/work/main/build/Release/c1m.node)
\t     900 uv__io_poll+0x1 (/usr/bin/node)

V8 DefaultWorke 1240  100.000003:    2004008 cpu-clock:
\t    3a00 JS:*route file:///work/main/dist/src/engine/server.js:10:15 (/tmp/perf-1234.map)
\t    3b00 [unknown] (/tmp/perf-1234.map)
\t    3c00 [unknown] ([unknown])
`;

test('perf script output folds into root-first stacks with kernel and JIT frames annotated', () => {
  const folded = foldPerfScript(PERF_SCRIPT, { stripPrefixes: ['/work/main/'] });
  assert.deepEqual([...folded].sort(), [
    ['V8 DefaultWorke;[unknown];[perf-1234.map]_[j];JS:*route dist/src/engine/server.js:10:15_[j]', 1],
    ['node;uv__io_poll;c1m::Loop::round();c1m::Loop::send_or_queue(int, unsigned int);__send', 1],
    ['node;uv__io_poll;c1m::Loop::round();c1m::Loop::send_or_queue(int, unsigned int);__send;tcp_sendmsg_[k]', 1],
  ]);
  assert.deepEqual(parseFolded(formatFolded(folded)), folded);
  const top = topFrames(folded, 5, 1);
  assert.equal(top.totalValue, 3);
  assert.deepEqual(top.total[0], { name: 'uv__io_poll', self: 0, total: 2, selfPct: 0, totalPct: 66.7 });
  assert.equal(top.self.find((f) => f.name === '__send')?.self, 1);
});

test('V8 CPU and heap profiles fold by samples and by bytes', () => {
  const cpu = {
    startTime: 0,
    endTime: 10,
    nodes: [
      { id: 1, callFrame: { functionName: '(root)', url: '', lineNumber: -1 }, children: [2, 4] },
      { id: 2, callFrame: { functionName: 'outer', url: 'file:///app/a.js', lineNumber: 0 }, children: [3] },
      { id: 3, callFrame: { functionName: '', url: 'file:///app/a.js', lineNumber: 9 }, children: [] },
      { id: 4, callFrame: { functionName: '(idle)', url: '', lineNumber: -1 }, children: [] },
    ],
    samples: [3, 3, 2, 4],
    timeDeltas: [1, 1, 1, 1],
  };
  assert.deepEqual(
    [...foldCpuProfile(cpu, ['/app/'])].sort(),
    [
      ['(idle)', 1],
      ['outer a.js:1', 1],
      ['outer a.js:1;(anonymous) a.js:10', 2],
    ],
  );
  assert.throws(() => checkCpuProfile({ nodes: [] }), /nodes/);
  const heap = {
    head: {
      callFrame: { functionName: '(root)' },
      selfSize: 0,
      children: [{ callFrame: { functionName: 'alloc', url: 'file:///app/b.js', lineNumber: 4 }, selfSize: 4096, children: [] }],
    },
    samples: [],
  };
  assert.deepEqual([...foldHeapProfile(heap, ['/app/'])], [['alloc b.js:5', 4096]]);
  assert.throws(() => checkHeapProfile({ head: {} }), /head/);
});

test('the flame graph is one SVG with a frame per stack entry, coloured by kind', () => {
  const folded = foldPerfScript(PERF_SCRIPT);
  const svg = renderFlameGraph(folded, { title: 'a <test>', subtitle: 'x & y' });
  assert.match(svg, /^<\?xml[^]*<svg [^]*<\/svg>\n$/);
  assert.match(svg, /a &lt;test&gt;/);
  assert.match(svg, /x &amp; y/);
  assert.doesNotMatch(svg, /<script/);
  // all; two threads; uv__io_poll, round, send_or_queue, __send, tcp_sendmsg; [unknown], the map, route.
  assert.equal((svg.match(/<g class="f">/g) ?? []).length, 11);
  assert.match(svg, /c1m::Loop::round\(\) — 2 samples, 66\.67%/);
  assert.equal(frameKind('c1m::Loop::round()'), 'engine');
  assert.equal(frameKind('tcp_sendmsg_[k]'), 'kernel');
  assert.equal(frameKind('JS:*route x.js:1_[j]'), 'js');
  assert.equal(frameKind('uv__io_poll'), 'libuv');
  assert.equal(frameKind('route dist/src/engine/server.js:10'), 'js');
  assert.match(renderFlameGraph(new Map(), { title: 'empty' }), /no samples/);
});

test('cleanTraceLogs removes node_trace.N.log and nothing else', () => {
  const dir = mkdtempSync(join(tmp, 'trace-'));
  for (const f of ['node_trace.1.log', 'node_trace.12.log', 'node_trace.x.log', 'other.log']) writeFileSync(join(dir, f), '');
  assert.deepEqual(cleanTraceLogs([dir]).map((p) => p.slice(dir.length + 1)).sort(), ['node_trace.1.log', 'node_trace.12.log']);
  assert.deepEqual(readdirSync(dir).sort(), ['node_trace.x.log', 'other.log']);
});

// ---- the tools on real contenders --------------------------------------------------------------

for (const contender of ['epoll', 'net']) {
  for (const tool of ['doctor', 'flame', 'heapprofiler'] as const) {
    test(`${tool} on ${contender} writes its HTML report`, async () => {
      assertHtml(await profile(tool, contender, 'http-hello'));
    });
  }

  test(`cpu-prof on ${contender} writes a valid .cpuprofile and a flame graph`, async () => {
    const r = await profile('cpu-prof', contender, 'tcp-echo');
    assertOk(r);
    assert.match(r.open, /\.cpuprofile$/);
    const p = checkCpuProfile(JSON.parse(readFileSync(r.open, 'utf8')));
    assert.ok(p.samples.length > 100, `samples: ${p.samples.length}`);
    // The contender's own handler is JavaScript in both cases, so it shows up by name.
    const folded = readFileSync(join(r.dir, 'cpu.folded'), 'utf8');
    assert.match(folded, contender === 'epoll' ? /src\/engine\/server\.js/ : /node:net|node:internal\/stream_base_commons/);
    assert.match(readFileSync(join(r.dir, 'cpu-flamegraph.svg'), 'utf8'), /<svg /);
    assert.ok(r.top !== null && r.top.totalValue === p.samples.length);
  });

  test(`heap-prof on ${contender} writes a valid .heapprofile`, async () => {
    const r = await profile('heap-prof', contender, 'tcp-echo');
    assertOk(r);
    assert.match(r.open, /\.heapprofile$/);
    const p = checkHeapProfile(JSON.parse(readFileSync(r.open, 'utf8')));
    assert.ok(p.head.children !== undefined && p.head.children.length > 0);
    assert.ok(r.top !== null && r.top.unit === 'bytes' && r.top.totalValue > 0);
  });
}

test('perf on epoll: folded stacks with the engine\'s native frames, and JavaScript frames named', async (t: TestContext) => {
  const available = perfAvailable();
  if (available !== true) {
    t.skip(available);
    return;
  }
  const r = await profile('perf', 'epoll', 'tcp-echo');
  assertOk(r);
  assert.match(r.open, /flamegraph\.svg$/);
  const folded = readFileSync(join(r.dir, 'perf.folded'), 'utf8');
  assert.match(folded, /c1m::Loop::/, 'the addon\'s symbols resolve');
  assert.match(folded, /uv__io_poll/, 'libuv frames');
  assert.match(folded, /_\[k\]/, 'kernel frames');
  assert.match(folded, /_\[j\]/, 'JIT-compiled JavaScript named through the perf map');
  assert.ok(existsSync(join(r.dir, `perf-${r.pids.contender}.map`)), 'the JIT map moved next to perf.data');
  assert.ok(r.top !== null && r.top.total.some((f) => f.name.startsWith('c1m::Loop::')));
});

test('a contender that cannot start under perf leaves no perf map behind', async (t: TestContext) => {
  const available = perfAvailable();
  if (available !== true) {
    t.skip(available);
    return;
  }
  const maps = (): string[] => readdirSync('/tmp').filter((f) => /^perf-\d+\.map$/.test(f));
  const before = new Set(maps());
  const saved = process.env['C1M_ADDON'];
  // The epoll contender loads its addon from here, sees it missing and reports itself unavailable.
  process.env['C1M_ADDON'] = join(tmp, 'no-such-addon.node');
  try {
    const r = await profile('perf', 'epoll', 'tcp-echo');
    assert.equal(r.status, 'unavailable');
    assert.match(r.reason ?? '', /no-such-addon/);
  } finally {
    if (saved === undefined) delete process.env['C1M_ADDON'];
    else process.env['C1M_ADDON'] = saved;
  }
  assert.deepEqual(maps().filter((f) => !before.has(f)), []);
});

test('bubbleprof either writes its report or is reported unavailable with the reason, quickly', async () => {
  const started = Date.now();
  const r = await profile('bubbleprof', 'epoll', 'http-hello', { exitTimeoutMs: 8000 });
  if (r.status === 'ok') assertHtml(r);
  else {
    assert.equal(r.status, 'unavailable', r.reason ?? '');
    assert.match(r.reason ?? '', /bubbleprof/);
  }
  assert.ok(Date.now() - started < 60_000, `took ${Date.now() - started} ms`);
});

test('a contender that does not exit in time is killed with its profiler, and bubbleprof reported unavailable', async () => {
  // No process drains and exits within a millisecond of its SIGINT.
  const r = await profile('bubbleprof', 'epoll', 'http-hello', { exitTimeoutMs: 1 });
  assert.equal(r.status, 'unavailable');
  assert.match(r.reason ?? '', /did not exit within 0\.001 s of SIGINT.*bubbleprof/);
  assert.ok(r.pids.wrapper !== null, 'bubbleprof ran under its wrapper');
});

test('a pair the contender cannot speak is unavailable, with the reason, and starts nothing', async () => {
  const r = await profile('cpu-prof', 'uws', 'tcp-echo');
  assert.equal(r.status, 'unavailable');
  assert.match(r.reason ?? '', /uws/);
  assert.equal(r.pids.contender, null);
});

test('an abort stops the load early and still writes the profile', async () => {
  const controller = new AbortController();
  const started = Date.now();
  setTimeout(() => controller.abort(), 1500);
  const r = await profile('cpu-prof', 'net', 'tcp-echo', { durationSec: 60, signal: controller.signal });
  assert.equal(r.status, 'ok', r.reason ?? '');
  assert.equal(r.interrupted, true);
  assert.ok(r.open !== null && r.open.endsWith('.cpuprofile') && existsSync(r.open));
  assert.ok(Date.now() - started < 15_000, `took ${Date.now() - started} ms`);
});

// ---- the command ------------------------------------------------------------------------------

function runCli(args: readonly string[], onStderr: (text: string, child: ReturnType<typeof spawn>) => void = () => {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [join(ROOT, 'dist/src/cli.js'), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => {
    stderr += s;
    onStderr(stderr, child);
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  return new Promise((resolve) => child.once('close', (code) => {
    clearTimeout(timer);
    resolve({ code, stdout, stderr });
  }));
}

test('c1m profile: Ctrl-C stops the load, writes the profile, prints what to open, exits 130, leaves nothing', async () => {
  const out = join(tmp, `cli-${seq++}`);
  let sent = false;
  const r = await runCli(['profile', 'smoke', '--contender', 'net', '--tool', 'cpu-prof', '--protocol', 'tcp-echo', '--connections', '2', '--duration', '60', '--out', out], (err, child) => {
    if (!sent && /closed load for/.test(err)) {
      sent = true;
      setTimeout(() => child.kill('SIGINT'), 700);
    }
  });
  assert.equal(r.code, 130, r.stderr);
  const open = /^open: (.+)$/m.exec(r.stdout)?.[1];
  assert.ok(open !== undefined && open.endsWith('.cpuprofile'), r.stdout);
  checkCpuProfile(JSON.parse(readFileSync(resolve(ROOT, open), 'utf8')));
  const pids = [...r.stderr.matchAll(/c1m: started pid=(\d+)/g)].map((m) => Number(m[1]));
  assert.ok(pids.length >= 2, r.stderr);
  assert.deepEqual(pids.filter(running), []);
});

test('c1m profile: usage errors exit 2 before anything starts', async () => {
  const r = await runCli(['profile', 'smoke', '--contender', 'net']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--tool is required/);
  const r2 = await runCli(['profile', 'smoke', '--contender', 'net', '--tool', 'gdb']);
  assert.equal(r2.code, 2);
  assert.match(r2.stderr, /--tool must be one of/);
});
