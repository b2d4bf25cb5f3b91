// The command line's manners (issue 19): --version, "did you mean" for mistyped commands, flags,
// scenarios and contenders, the tcp/ws protocol aliases in preflight and serve, contenders and
// baselines that are not there refused with exit 2, output folders created, `c1m list` saying
// what can run here and why not, `c1m tune` on the open-files limit and on keeping settings, the
// uWebSockets.js version behind its repack, and clinic doctor refused where it is broken.

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { didYouMean, editDistance, nearest } from '../src/checks.js';
import { ioModelSection, tlsSection } from '../src/cli/availability.js';
import { EXIT } from '../src/cli/exit.js';
import { clinicAvailable, clinicDoctorBroken } from '../src/profile/tools.js';
import { uwsUpstreamVersion, versions } from '../src/runner/env.js';
import type { SystemReadings } from '../src/system/limits.js';
import { ioUringStatus } from '../src/system/io-uring.js';
import { formatNofile } from '../src/system/preflight.js';
import { formatPersist, tuneShow } from '../src/system/tune.js';
import { c1m, ROOT } from './helpers/cli.js';

const IDLE_HOLD = join(ROOT, 'results/reference/suite/idle-hold/2026-11-22T00-27-45Z.json');

describe('did you mean', () => {
  it('counts edits, a swap of neighbours as one', () => {
    assert.equal(editDistance('run', 'run'), 0);
    assert.equal(editDistance('rnu', 'run'), 1);
    assert.equal(editDistance('conections', 'connections'), 1);
    assert.equal(editDistance('', 'abc'), 3);
    assert.equal(editDistance('kitten', 'sitting'), 3);
  });

  it('suggests only what is near enough to be a slip', () => {
    assert.equal(nearest('epol', ['epoll', 'epoll-native', 'net']), 'epoll');
    assert.equal(nearest('nte', ['epoll', 'net', 'uws']), 'net');
    assert.equal(nearest('frobnicate', ['list', 'run', 'suite']), null);
    assert.equal(nearest('idle', ['churn', 'idle-hold', 'smoke']), 'idle-hold', 'a unique start');
    assert.equal(didYouMean('xyz', ['run']), '');
    assert.equal(didYouMean('rn', ['run'], (c) => `--${c}`), ' (did you mean --run?)');
  });

  it('for commands, flags, scenarios and contenders, each refused with exit 2', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['rnu'], /unknown command "rnu" \(did you mean "run"\?\)/],
      [['run', 'idle-hld'], /unknown scenario "idle-hld" \(did you mean "idle-hold"\?\)/],
      [['run', 'idle-hold', '--conections', '5'], /unknown flag --conections \(did you mean --connections\?\)/],
      [['run', 'tcp-echo', '--contenders', 'epol'], /unknown contender "epol" \(did you mean "epoll"\?\)/],
      [['suite', '--only', 'tcp-ech'], /unknown scenario "tcp-ech" \(did you mean "tcp-echo"\?\)/],
      [['report', '--htlm', 'x.html', 'results'], /unknown flag --htlm \(did you mean --html\?\)/],
      [['serve', 'ne', '--protocol', 'tcp'], /unknown contender "ne" \(did you mean "net"\?\)/],
    ];
    for (const [argv, re] of cases) {
      const r = await c1m(...argv);
      assert.equal(r.code, EXIT.usage, `${argv.join(' ')}: ${r.err}`);
      assert.match(r.err, re, argv.join(' '));
    }
  });

  it("an unknown scenario flag points to the scenario's own help", async () => {
    const r = await c1m('run', 'idle-hold', '--levls', '3');
    assert.equal(r.code, EXIT.usage);
    assert.match(r.err, /unknown flag --levls \(did you mean --levels\?\); see c1m run idle-hold --help/);
    const plain = await c1m('preflight', '--bogus');
    assert.match(plain.err, /unknown flag --bogus; see c1m preflight --help/);
  });
});

describe('c1m --version', () => {
  it("prints the package's version", async () => {
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    for (const flag of ['--version', '-v', 'version']) {
      const r = await c1m(flag);
      assert.equal(r.code, EXIT.ok);
      assert.equal(r.out, `c1m ${version}\n`);
    }
    assert.match((await c1m('--help')).out, /c1m --version/);
  });
});

describe('protocol aliases and contenders in preflight and serve', () => {
  it('preflight takes tcp and ws for tcp-echo and ws-echo', async () => {
    for (const [alias, protocol] of [['tcp', 'tcp-echo'], ['ws', 'ws-echo']] as const) {
      const r = await c1m('preflight', '--protocol', alias, '--connections', '100');
      assert.notEqual(r.code, EXIT.usage, r.err);
      assert.match(r.out, new RegExp(`protocol ${protocol}\\b`));
    }
    assert.match((await c1m('preflight', '--help')).out, /tcp = tcp-echo, ws = ws-echo/);
  });

  it('serve takes them too (refused here only for the contender, after the protocol parsed)', async () => {
    assert.match((await c1m('serve', '--help')).out, /tcp = tcp-echo, ws = ws-echo/);
    const r = await c1m('serve', 'nope', '--protocol', 'ws');
    assert.equal(r.code, EXIT.usage);
    assert.match(r.err, /unknown contender "nope"/);
    const bad = await c1m('serve', 'net', '--protocol', 'wss');
    assert.equal(bad.code, EXIT.usage);
    assert.match(bad.err, /--protocol must be one of tcp-echo, .*, tcp, ws/);
  });

  it('preflight refuses a contender it does not know, with exit 2', async () => {
    const r = await c1m('preflight', '--contender', 'nope', '--connections', '100');
    assert.equal(r.code, EXIT.usage);
    assert.match(r.err, /^c1m preflight: unknown contender "nope"; known: epoll/);
    assert.equal(r.out, '');
  });
});

describe('report --baseline', () => {
  it('refuses a contender no file ran, with exit 2 and the ones that ran', async () => {
    const r = await c1m('report', IDLE_HOLD, '--baseline', 'nte');
    assert.equal(r.code, EXIT.usage);
    assert.match(r.err, /--baseline nte: no file ran that contender \(did you mean "net"\?\); they ran epoll, epoll-native, net/);
    assert.equal(r.out, '', 'nothing printed before the refusal');
    const ok = await c1m('report', IDLE_HOLD, '--baseline', 'epoll');
    assert.equal(ok.code, EXIT.ok, ok.err);
  });
});

describe('output folders', () => {
  it('report --html, --md, --capacity-md and --hgrm create missing folders', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'c1m-polish-'));
    try {
      const html = join(dir, 'a', 'b', 'r.html');
      const md = join(dir, 'm', 'r.md');
      const cap = join(dir, 'c', 'd', 'cap.md');
      const r = await c1m('report', IDLE_HOLD, '--html', html, '--md', md, '--capacity-md', cap, '--hgrm', join(dir, 'h', 'g'));
      assert.equal(r.code, EXIT.ok, r.err);
      for (const f of [html, md, cap]) assert.ok(existsSync(f), f);
      assert.ok(existsSync(join(dir, 'h', 'g')));
      assert.match(readFileSync(html, 'utf8'), /<html/i);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('c1m preflight: the I/O models', () => {
  it('follow the checks, and say the same as c1m list', async () => {
    const r = await c1m('preflight', '--connections', '100');
    assert.equal(r.code, EXIT.ok, r.err);
    assert.match(r.out, /\n\nI\/O models \(can run here\):\n {2}epoll .*yes\n {2}libuv .*yes\n {2}uWebSockets\.js \(uws\) .*\n {2}io_uring \(completion: uring, uring-native, c-ref-uring\) +(yes \(kernel .+\)|no: .+; fix: .+)\n\nTLS /);
    const models = r.out.slice(r.out.indexOf('I/O models'), r.out.indexOf('\nTLS '));
    assert.equal(models, await ioModelSection());
    // Then where TLS comes from, and whether kernel TLS could run here (its reason and fix when not).
    const tls = r.out.slice(r.out.indexOf('TLS ('));
    assert.match(tls, /^TLS \(c1m run --tls\):\n {2}OpenSSL \S+ in Node .*yes\n {2}BoringSSL in uWebSockets\.js .*\n {2}kernel TLS \(kTLS, not used by c1m\) +(yes .+|no: .+; fix: .+)\n$/);
    assert.equal(tls, await tlsSection());
  });
});

describe('c1m list: what can run here', () => {
  it('names every contender, driver and profiler, with the reason when one cannot run', async () => {
    const saved = { path: process.env['PATH'], addon: process.env['C1M_ADDON'] };
    // No executables on PATH: wrk and h2load cannot be found; the contender probes (children
    // started by absolute path) inherit an addon path that does not exist.
    process.env['PATH'] = '';
    process.env['C1M_ADDON'] = join(tmpdir(), 'c1m-no-such-addon.node');
    let r;
    try {
      r = await c1m('list');
    } finally {
      process.env['PATH'] = saved.path;
      if (saved.addon === undefined) delete process.env['C1M_ADDON'];
      else process.env['C1M_ADDON'] = saved.addon;
    }
    assert.equal(r.code, EXIT.ok, r.err);
    // The I/O models first: epoll and libuv on any Linux box, the others as their checks say.
    assert.match(r.out, /^I\/O models \(can run here\):\n {2}epoll \(readiness: .*\) +yes\n {2}libuv \(.*\) +yes\n {2}uWebSockets\.js \(uws\) +(yes|no: .+)\n {2}io_uring \(completion: uring, uring-native, c-ref-uring\) +(.+)$/m);
    const uring = ioUringStatus();
    const line = /^ {2}io_uring \(completion: uring, uring-native, c-ref-uring\) +(.+)$/m.exec(r.out)?.[1];
    assert.equal(line, uring.ok ? `yes (kernel ${uring.kernel}${uring.liburing !== undefined ? `, liburing ${uring.liburing}` : ''})` : `no: ${uring.reason}; fix: ${uring.fix}`);
    assert.match(r.out, /^contenders \(can run here\):$/m);
    assert.match(r.out, new RegExp(`^ {2}c-ref-uring +${uring.ok ? 'yes' : 'no: .+'}$`, 'm'), 'c-ref-uring runs where io_uring does');
    assert.match(r.out, /^ {2}epoll +no: c1m: cannot load the epoll engine from .*c1m-no-such-addon\.node/m);
    assert.match(r.out, /^ {2}net +yes$/m);
    assert.match(r.out, /^drivers \(--driver\):$/m);
    assert.match(r.out, /^ {2}wrk +no: wrk is not installed \(apt-get install wrk\)$/m);
    assert.match(r.out, /^ {2}h2load +no: h2load is not installed \(apt-get install nghttp2-client\)$/m);
    assert.match(r.out, /^ {2}autocannon +yes$/m);
    assert.match(r.out, /^profilers \(c1m profile --tool\):$/m);
    for (const t of ['doctor', 'flame', 'heapprofiler', 'bubbleprof', 'cpu-prof', 'heap-prof', 'perf']) assert.match(r.out, new RegExp(`^ {2}${t} +(yes|no: .+)$`, 'm'));
    assert.match(r.out, /^ {2}cpu-prof +yes$/m);
  });
});

/** A box with a 20,000-fd limit, as the reference machine. */
const READINGS = {
  nofileSoft: 20_000,
  nofileHard: 20_000,
  nrOpen: 1_048_576,
  capSysResource: false,
  pageSize: 4096,
  memTotalBytes: 24 * 2 ** 30,
  sysctl: { 'fs.file-max': '2466170', 'net.core.somaxconn': '4096', 'net.ipv4.tcp_mem': '287898\t383867\t575796' },
} as unknown as SystemReadings;

describe('c1m tune: the open-files limit and settings that last', () => {
  it('says what one process needs, how to raise the limit and how to keep it', () => {
    const text = formatNofile(1_000_000, READINGS);
    assert.match(text, /open files per process \(nofile\): soft 20,000, hard 20,000; one process holding 1,000,000 connections needs 1,000,064/);
    assert.match(text, /prlimit --pid \$\$ --nofile=1048576:1048576/);
    assert.match(text, /LimitNOFILE=1048576/);
    assert.match(text, /\/etc\/security\/limits\.conf/);
    assert.match(formatNofile(1000, READINGS), /one process can hold 1,000 connections/);
  });

  it('writes the wanted values as sysctl.d lines', () => {
    const text = formatPersist(tuneShow(READINGS, { connections: 1_000_000 }));
    assert.match(text, /\/etc\/sysctl\.d\/90-c1m\.conf/);
    assert.match(text, /sysctl --system/);
    assert.match(text, /^ {2}net\.core\.somaxconn = 65535$/m);
    assert.match(text, /^ {2}fs\.file-max = 4194304$/m);
    assert.doesNotMatch(text, /nf_conntrack/, 'a setting this kernel lacks is not written');
  });

  it('c1m tune prints both', async () => {
    const r = await c1m('tune', '--connections', '1000');
    assert.equal(r.code, EXIT.ok, r.err);
    assert.match(r.out, /\/etc\/sysctl\.d\/90-c1m\.conf/);
    assert.match(r.out, /open files per process \(nofile\)/);
  });
});

describe('dependency fidelity', () => {
  it('records the upstream uWebSockets.js beside the repack that carries it', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'node_modules/uWebSockets.js/package.json'), 'utf8')) as { name: string; version: string };
    const v = versions();
    if (pkg.name === 'uWebSockets.js') {
      assert.equal(v['uWebSockets.js'], pkg.version);
      return;
    }
    assert.equal(v[pkg.name], pkg.version, 'the repack under its own name');
    assert.match(v['uWebSockets.js'] ?? '', /^\d+\.x$/, 'the upstream major, from the binary');
    assert.equal(v['uWebSockets.js'], `${pkg.version.split('.')[0] as string}.x`, 'uws-pack majors follow upstream majors');
    assert.equal(uwsUpstreamVersion(join(ROOT, 'no-such-dir')), null);
  });

  it('refuses clinic doctor on Node ≥ 21.7 with a pointer to cpu-prof and perf', () => {
    assert.equal(clinicDoctorBroken('20.20.2'), null);
    assert.equal(clinicDoctorBroken('21.6.9'), null);
    for (const v of ['21.7.0', 'v22.11.0', '24.1.0']) {
      const why = clinicDoctorBroken(v);
      assert.ok(why !== null, v);
      assert.match(why, /Node ≥ 21\.7/);
      assert.match(why, /--tool cpu-prof/);
      assert.match(why, /--tool perf/);
      assert.match(why, /clinicjs\/node-clinic#480/);
    }
    assert.match(String(clinicAvailable('doctor', '22.0.0')), /does not work on Node ≥ 21\.7/);
    assert.equal(clinicAvailable('flame', '22.0.0'), true);
  });
});
