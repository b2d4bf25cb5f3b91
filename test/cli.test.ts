// The `c1m` command line: help for every command, unknown flags and bad values refused with
// exit 2, `list`, `preflight`, `tune` (show only: tests never change sysctls), `report`,
// `serve` in the foreground until Ctrl-C, and `run` with a scenario given by path.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { EXIT } from '../src/cli/exit.js';
import { validateResult } from '../src/results/validate.js';
import { c1m, CLI, ROOT, runCli, startCli, startedPids, TEST_DRIVER } from './helpers/cli.js';
import { waitGone } from './helpers/processes.js';

const tmp = mkdtempSync(join(tmpdir(), 'c1m-cli-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const COMMANDS = ['list', 'run', 'preflight', 'serve', 'tune', 'report', 'compare'];

describe('c1m usage', () => {
  it('prints the commands, and refuses an unknown one', async () => {
    const top = await c1m('--help');
    assert.equal(top.code, 0);
    for (const c of COMMANDS) assert.match(top.out, new RegExp(`^  ${c} `, 'm'));
    const none = await c1m();
    assert.equal(none.code, 2);
    const bad = await c1m('frobnicate');
    assert.equal(bad.code, 2);
    assert.match(bad.err, /unknown command "frobnicate"/);
  });

  for (const command of COMMANDS) {
    it(`${command} --help explains the command; an unknown flag is refused with exit 2`, async () => {
      const help = await c1m(command, '--help');
      assert.equal(help.code, 0, help.err);
      assert.match(help.out, new RegExp(`^usage: c1m ${command}`));
      const args = command === 'run' ? ['run', 'smoke', '--bogus', '1'] : command === 'serve' ? ['serve', 'net', '--bogus'] : [command, '--bogus'];
      const bad = await c1m(...args);
      assert.equal(bad.code, 2, `${command}: ${bad.err}`);
      assert.match(bad.err, new RegExp(`^c1m ${command}: unknown flag --bogus`));
    });
  }

  it('run --help on a scenario lists its own parameters', async () => {
    const r = await c1m('run', '--pin', '--connections', '10', 'smoke', '--help');
    assert.equal(r.code, 0);
    assert.match(r.out, /parameters of smoke/);
    assert.match(r.out, /--levels <N>\s+measured levels/);
    assert.match(r.out, /--message-bytes <N>/);
    assert.match(r.out, /--driver <native\|autocannon\|wrk\|h2load>\s+load generator \(default autocannon\)/);
  });

  it('refuses bad values with a message that names the flag', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['run'], /which scenario/],
      [['run', 'no-such-scenario'], /unknown scenario "no-such-scenario"/],
      [['run', 'smoke', '--connections', 'many'], /--connections must be an integer, got "many"/],
      [['run', 'smoke', '--connections', '0'], /--connections must be between 1 and \d+, got 0/],
      [['run', 'smoke', '--duration'], /--duration needs a value/],
      [['run', 'smoke', '--reps', '1.5'], /--reps must be an integer/],
      [['run', 'smoke', '--driver', 'curl'], /--driver must be one of native, autocannon, wrk/],
      [['run', 'smoke', '--protocol', 'gopher'], /--protocol must be one of/],
      [['run', 'smoke', '--contenders', 'net,nope'], /unknown contender "nope"/],
      [['run', 'smoke', '--protocol', 'tcp-echo', '--driver', 'autocannon'], /autocannon driver speaks HTTP only/],
      [['run', 'smoke', 'extra'], /unexpected argument "extra"/],
      [['run', 'smoke', '-x'], /unknown option -x/],
      [['preflight', '--connections', '-5'], /--connections must be between 1 and \d+, got -5/],
      [['preflight', '--protocol', 'smtp'], /--protocol must be one of/],
      [['serve'], /which contender/],
      [['serve', 'nope', '--protocol', 'http-hello'], /unknown contender "nope"/],
      [['serve', 'net'], /--protocol is required/],
      [['serve', 'net', '--protocol', 'http-hello', '--port', '70000'], /--port must be between 0 and 65535, got 70000/],
      [['tune', '--apply', '--revert'], /exclude each other/],
      [['tune', '--connections', 'x'], /--connections must be an integer/],
      [['report'], /which result files/],
      [['list', 'extra'], /unexpected argument/],
    ];
    for (const [argv, re] of cases) {
      const r = await c1m(...argv);
      assert.equal(r.code, 2, `${argv.join(' ')} → ${r.code}: ${r.err}`);
      assert.match(r.err, re, argv.join(' '));
    }
  });
});

describe('c1m entry points', () => {
  const bin = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { bin: { c1m: string } }).bin.c1m;

  it('every exit code a help text names is in the one table', async () => {
    const codes = new Set<number>(Object.values(EXIT));
    for (const command of ['run', 'suite', 'profile']) {
      const help = await c1m(command, '--help');
      const line = /^exit: (.*)$/m.exec(help.out)?.[1];
      assert.ok(line !== undefined, `${command} --help names its exit codes`);
      for (const m of line.matchAll(/(?:^|, )(\d+) /g)) assert.ok(codes.has(Number(m[1])), `${command}: exit ${m[1]} is not in EXIT`);
    }
  });

  it('the package bin, a symlink to it (as npm installs it) and node dist/src/cli.js run the same CLI', () => {
    assert.match(readFileSync(join(ROOT, bin), 'utf8'), /^#!\/usr\/bin\/env node\n/);
    const link = join(tmp, 'c1m');
    symlinkSync(join(ROOT, bin), link);
    const help = (file: string): string => execFileSync(process.execPath, [file, '--help'], { cwd: ROOT, encoding: 'utf8' });
    const expected = help(CLI);
    assert.match(expected, /^c1m — /);
    assert.equal(help(join(ROOT, bin)), expected);
    assert.equal(help(link), expected);
  });

  it('importing dist/src/cli.js runs nothing (run as a script, it would exit this process)', async () => {
    const mod = (await import(CLI)) as Record<string, unknown>;
    assert.deepEqual(Object.keys(mod), []);
  });
});

describe('c1m commands', () => {
  it('list shows the smoke scenario with its protocols and defaults', async () => {
    const r = await c1m('list');
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^smoke — tiny end-to-end check/m);
    assert.match(r.out, /protocols: http-hello, tcp-echo/);
    assert.match(r.out, /--connections 200 --duration 1 --warmup 0.5 --reps 1 --driver autocannon/);
    assert.match(r.out, /own: --levels 2 --depth 1 --message-bytes 64/);
  });

  it('preflight prints the plan and its checks for this machine', async () => {
    const r = await c1m('preflight', '--connections', '1000', '--contender', 'net', '--protocol', 'http-hello');
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /^preflight: 1,000 connections, contender net, protocol http-hello/);
    assert.match(r.out, /^feasible$/m);
  });

  it('tune shows the settings and changes nothing', async () => {
    const before = readFileSync('/proc/sys/net/core/somaxconn', 'utf8');
    const r = await c1m('tune');
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /fs\.file-max/);
    assert.match(r.out, /net\.ipv4\.ip_local_port_range/);
    assert.equal(readFileSync('/proc/sys/net/core/somaxconn', 'utf8'), before);
  });

  it('report renders result files to the terminal, markdown and HTML', async () => {
    const md = join(tmp, 'r.md');
    const html = join(tmp, 'r.html');
    const r = await c1m('report', join(ROOT, 'test/fixtures/result-http-hello.json'), '--md', md, '--html', html);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /net \(baseline\)/);
    assert.match(readFileSync(md, 'utf8'), /\| contender \|/);
    assert.match(readFileSync(html, 'utf8'), /^<!doctype html>/i);
    const missing = await c1m('report', join(tmp, 'nothing-here.json'));
    assert.equal(missing.code, 1);
    assert.match(missing.err, /no such file or folder/);
  });

  it('the compiled cli starts with a shebang', () => {
    assert.match(readFileSync(CLI, 'utf8'), /^#!\/usr\/bin\/env node\n/);
  });

  it('serve runs a contender in the foreground until Ctrl-C', async () => {
    const cli = startCli(['serve', 'net', '--protocol', 'http-hello']);
    const line = await cli.waitFor(/listening on 127\.0\.0\.1:\d+/, 15_000);
    const m = /:(\d+) \(worker 0, pid (\d+)\)/.exec(line);
    assert.ok(m, line);
    const [port, pid] = [Number(m[1]), Number(m[2])];
    const body = await new Promise<string>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (s: string) => (text += s)).on('end', () => resolve(text));
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(body, 'Hello, World!');
    cli.child.kill('SIGINT');
    const r = await cli.done;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /stopped/);
    assert.deepEqual(await waitGone([pid], 3000), []);
  });

  it('run takes a scenario by path: a copied module that exports plain data', async () => {
    const file = join(tmp, 'my-scenario.mjs');
    writeFileSync(
      file,
      `// No imports: a scenario is data.
export default {
  name: 'my-scenario',
  description: 'one level, one short load',
  protocols: ['http-hello'],
  contenders: ['net'],
  kind: 'throughput',
  driver: ${JSON.stringify(TEST_DRIVER)},
  defaults: { connections: 20, reps: 1 },
  phases: [{ kind: 'ramp', connections: 20 }, { kind: 'measure', run: { durationMs: 400, warmupMs: 100 } }],
};
`,
    );
    const out = join(tmp, 'my.json');
    const r = await runCli(['run', file, '--json', '--out', out]);
    assert.equal(r.code, 0, r.stderr);
    const printed = JSON.parse(r.stdout) as unknown;
    const result = validateResult(printed, 'stdout');
    assert.equal(result.scenario, 'my-scenario');
    assert.equal(result.runs[0]?.steps[0]?.connections, 20);
    assert.deepEqual(JSON.parse(readFileSync(out, 'utf8')), printed);
    assert.match(r.stderr, new RegExp(`result: ${out.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    assert.deepEqual(await waitGone(startedPids(r.stderr).map((p) => p.pid), 3000), []);
  });
});
