// The README's commands as written: every `c1m …` example line in a code block of README.md and
// of the READMEs under src/ and results/ parses (run with --help appended: flags, values, scenarios and
// positionals are checked, nothing is started), so the docs cannot drift from the CLI; the set-up
// that makes `c1m` a command is documented, and the bin it links is built; and npm's install
// script rebuilds the addon only when build/Release is out of date with its sources.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, it } from 'node:test';
import { EXIT } from '../src/cli/exit.js';
import type { Io } from '../src/cli/io.js';
import { main } from '../src/cli/main.js';
import { ROOT } from './helpers/cli.js';

/** README.md and every README.md under src/ and results/. */
function readmes(): string[] {
  const under = (dir: string): string[] =>
    readdirSync(dir).flatMap((name) => {
      const p = join(dir, name);
      return statSync(p).isDirectory() ? under(p) : name === 'README.md' ? [p] : [];
    });
  return [join(ROOT, 'README.md'), ...under(join(ROOT, 'src')), ...under(join(ROOT, 'results'))];
}

/** Words of a shell line: blanks split, single or double quotes group, `#` after a blank starts a comment. */
export function shellWords(line: string): string[] {
  const words: string[] = [];
  let word: string | null = null;
  let quote: string | null = null;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i] as string;
    if (quote !== null) {
      if (ch === quote) quote = null;
      else word = (word ?? '') + ch;
    } else if (ch === "'" || ch === '"') {
      quote = ch;
      word ??= '';
    } else if (ch === ' ' || ch === '\t') {
      if (word !== null) words.push(word);
      word = null;
    } else if (ch === '#' && word === null) {
      break;
    } else {
      word = (word ?? '') + ch;
    }
  }
  if (word !== null) words.push(word);
  return words;
}

/**
 * Every `c1m …` command line of a markdown text (continuation lines joined): all of them in ```sh
 * blocks; in blocks without a language, those that are examples rather than a synopsis (no
 * `<name>`, `[optional]`, `a|b` or `…`).
 */
export function c1mLines(markdown: string): string[] {
  const out: string[] = [];
  for (const block of markdown.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)) {
    const lang = block[1] as string;
    if (lang !== '' && !['sh', 'bash', 'shell'].includes(lang)) continue;
    const text = (block[2] as string).replace(/\\\n/g, ' ');
    for (const raw of text.split('\n')) {
      const line = raw.trim();
      if (!/^c1m(\s|$)/.test(line)) continue;
      if (lang === '' && /[<[|…]/.test(line.replace(/#.*$/, ''))) continue;
      out.push(line);
    }
  }
  return out;
}

async function parses(words: readonly string[]): Promise<{ code: number; err: string }> {
  let err = '';
  const io: Io = { out: () => {}, err: (t) => (err += t), columns: 120 };
  return { code: await main([...words.slice(1), '--help'], io), err };
}

describe('the README commands', () => {
  it('finds c1m command lines, and the helpers read shell lines as a shell would', () => {
    assert.deepEqual(shellWords(`c1m tune --apply   # as root`), ['c1m', 'tune', '--apply']);
    assert.deepEqual(shellWords(`c1m run x --md "a b.md" --out 'c#d'`), ['c1m', 'run', 'x', '--md', 'a b.md', '--out', 'c#d']);
    assert.deepEqual(c1mLines('text\n```sh\nnpm link\nc1m list\nc1m run a \\\n  --quick\n```\n```\nc1m run <scenario> [--quick]\nc1m tune --apply\n```\n```ts\nc1m run x\n```\n'), [
      'c1m list',
      'c1m run a    --quick',
      'c1m tune --apply',
    ]);
    const all = readmes().flatMap((f) => c1mLines(readFileSync(f, 'utf8')));
    assert.ok(all.length >= 10, `found ${all.length} lines`);
  });

  for (const file of readmes()) {
    const lines = c1mLines(readFileSync(file, 'utf8'));
    if (lines.length === 0) continue;
    it(`every c1m line of ${relative(ROOT, file)} parses`, async () => {
      for (const line of lines) {
        const r = await parses(shellWords(line));
        assert.equal(r.code, EXIT.ok, `${relative(ROOT, file)}: ${line}\n${r.err}`);
      }
    });
  }

  it('a line with a mistake is caught', async () => {
    assert.equal((await parses(shellWords('c1m run idle-hold --protocol tpc'))).code, EXIT.usage);
    assert.equal((await parses(shellWords('c1m suite --qiuck'))).code, EXIT.usage);
  });

  it('the Quick start makes c1m a command (npm link), and the bin it links is built and executable', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const quick = readme.slice(readme.indexOf('## Quick start'), readme.indexOf('## Results'));
    assert.match(quick, /^npm link\b/m, 'npm link in a ```sh block of the Quick start');
    assert.match(quick, /node dist\/src\/cli\.js/);
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string> };
    const bin = join(ROOT, pkg.bin['c1m'] as string);
    assert.ok(existsSync(bin), bin);
    assert.match(readFileSync(bin, 'utf8'), /^#!\/usr\/bin\/env node\n/);
    assert.match(execFileSync(process.execPath, [bin, '--version'], { encoding: 'utf8' }), /^c1m \d+\.\d+\.\d+/);
  });
});

type GypVariables = Record<string, string | number>;

interface InstallScript {
  buildOutputs(root: string, vars?: GypVariables): string[];
  rebuildReason(root: string, vars?: GypVariables): string | null;
}

interface HasLiburing {
  findLiburing(): { found: boolean; why: string };
}

describe('the install script (scripts/install.mjs)', () => {
  const script = join(ROOT, 'scripts/install.mjs');
  const load = async (): Promise<InstallScript> => (await import(pathToFileURL(script).href)) as InstallScript;

  it('is what npm runs on install', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    assert.equal(pkg.scripts['install'], 'node scripts/install.mjs');
  });

  it("names binding.gyp's outputs", async () => {
    const outs = (await load()).buildOutputs(ROOT).map((p) => relative(ROOT, p));
    assert.ok(outs.includes(join('build', 'Release', 'c1m.node')), outs.join(', '));
    assert.ok(outs.includes(join('build', 'Release', 'c1m_ref_echo')), 'executables by name');
  });

  it('counts a conditional target only where its condition holds (c1m_uring: liburing-dev installed)', async () => {
    const { buildOutputs, rebuildReason } = await load();
    const uring = join('build', 'Release', 'c1m_ref_echo_uring');
    const outs = (vars?: GypVariables): string[] => buildOutputs(ROOT, vars).map((p) => relative(ROOT, p));
    assert.ok(outs({ c1m_uring: 1, c1m_sanitize: 0 }).includes(uring), 'with liburing-dev');
    assert.ok(!outs({ c1m_uring: 0, c1m_sanitize: 0 }).includes(uring), 'without liburing-dev');
    assert.ok(outs({ c1m_uring: 0, c1m_sanitize: 0 }).includes(join('build', 'Release', 'c1m_ref_echo')), 'the unconditional ones stay');
    // By default the condition is evaluated as binding.gyp's variable is: by scripts/has-liburing.mjs.
    const { findLiburing } = (await import(pathToFileURL(join(ROOT, 'scripts/has-liburing.mjs')).href)) as HasLiburing;
    assert.equal(outs().includes(uring), findLiburing().found, findLiburing().why);
    const root = mkdtempSync(join(tmpdir(), 'c1m-install-'));
    try {
      cpSync(join(ROOT, 'binding.gyp'), join(root, 'binding.gyp'));
      mkdirSync(join(root, 'native'), { recursive: true });
      writeFileSync(join(root, 'native', 'addon.cc'), '// a');
      const past = new Date(Date.now() - 60_000);
      for (const f of ['binding.gyp', 'native/addon.cc']) utimesSync(join(root, f), past, past);
      mkdirSync(join(root, 'build', 'Release'), { recursive: true });
      // Every output of a box without liburing-dev: up to date there, missing one where it is installed.
      for (const out of buildOutputs(root, { c1m_uring: 0, c1m_sanitize: 0 })) writeFileSync(out, '');
      assert.equal(rebuildReason(root, { c1m_uring: 0, c1m_sanitize: 0 }), null);
      assert.equal(rebuildReason(root, { c1m_uring: 1, c1m_sanitize: 0 }), 'build/Release/c1m_ref_echo_uring is missing');
      // A condition the script cannot evaluate is an error that names it, not a silent guess.
      writeFileSync(join(root, 'binding.gyp'), readFileSync(join(ROOT, 'binding.gyp'), 'utf8').replaceAll('"c1m_uring==1"', '"c1m_uring>=1 and OS==\'linux\'"'));
      assert.throws(() => buildOutputs(root), /cannot evaluate the condition "c1m_uring>=1 and OS=='linux'"/);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('rebuilds only when an output is missing or older than binding.gyp or a native/ file', async () => {
    const { rebuildReason, buildOutputs } = await load();
    const root = mkdtempSync(join(tmpdir(), 'c1m-install-'));
    try {
      cpSync(join(ROOT, 'binding.gyp'), join(root, 'binding.gyp'));
      mkdirSync(join(root, 'native', 'proto'), { recursive: true });
      writeFileSync(join(root, 'native', 'addon.cc'), '// a');
      writeFileSync(join(root, 'native', 'proto', 'http.cc'), '// b');
      const past = new Date(Date.now() - 60_000);
      for (const f of ['binding.gyp', 'native/addon.cc', 'native/proto/http.cc']) utimesSync(join(root, f), past, past);
      assert.match(rebuildReason(root) ?? '', /build\/Release\/c1m\.node is missing/);
      mkdirSync(join(root, 'build', 'Release'), { recursive: true });
      for (const out of buildOutputs(root)) writeFileSync(out, '');
      assert.equal(rebuildReason(root), null, 'every output newer than every input');
      // The check as npm's install would run it, without building.
      const check = (): { status: number; out: string } => {
        try {
          return { status: 0, out: execFileSync(process.execPath, [script, '--check', '--root', root], { encoding: 'utf8', env: { ...process.env, C1M_REBUILD: '' } }) };
        } catch (err) {
          const e = err as { status: number; stdout: string };
          return { status: e.status, out: e.stdout };
        }
      };
      assert.deepEqual(check(), { status: 0, out: 'c1m: the native build is up to date\n' });
      const future = new Date(Date.now() + 60_000);
      utimesSync(join(root, 'native', 'proto', 'http.cc'), future, future);
      assert.match(rebuildReason(root) ?? '', /^native\/proto\/http\.cc is newer than build\/Release\//);
      const stale = check();
      assert.equal(stale.status, 1);
      assert.match(stale.out, /must run: native\/proto\/http\.cc is newer/);
      utimesSync(join(root, 'native', 'proto', 'http.cc'), past, past);
      rmSync(join(root, 'build', 'Release', 'c1m_ref_echo'));
      assert.match(rebuildReason(root) ?? '', /c1m_ref_echo is missing/);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
