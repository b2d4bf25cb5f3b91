// The floors of src/ (STYLE.md: "The load side never imports the servers under test"): nothing
// under src/drivers/ or src/wire/ reaches src/contenders/, directly or through another module,
// type imports included; process supervision (src/process/) sits below both sides of a run; the
// lowest floor (checks.ts, limits.ts) imports nothing of the project; nothing below the command
// line imports it; the engine and the processes built on it (the epoll contenders, the contender
// child, the native driver) load none of the runner, report, results, profile or CLI code, nor
// the package face that re-exports some of it.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, it } from 'node:test';

// Compiled to dist/test/, run from there: the sources are two floors up, the compiled ones one.
const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../../src');
const DIST_SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../src');

/** What an engine process must not load: the package face, and the floors above the contenders. */
const ABOVE_ENGINE = ['index.ts', 'cli.ts', 'runner/', 'report/', 'results/', 'profile/', 'cli/'];

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? walk(p) : name.endsWith('.ts') ? [p] : [];
  });
}

/** The project files a source file imports (static, type-only, re-exports and dynamic imports). */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specs = [...text.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)].map((m) => m[1] as string);
  return specs.map((s) => resolve(dirname(file), s.replace(/\.js$/, '.ts'))).filter((p) => existsSync(p));
}

/** Every project file file reaches, with the chain that reaches it. */
function reach(file: string): Map<string, string[]> {
  const seen = new Map<string, string[]>([[file, [file]]]);
  const queue = [file];
  while (queue.length > 0) {
    const f = queue.shift() as string;
    for (const g of importsOf(f)) {
      if (seen.has(g)) continue;
      seen.set(g, [...(seen.get(f) ?? []), g]);
      queue.push(g);
    }
  }
  return seen;
}

const rel = (p: string): string => relative(SRC, p);

describe('the floors of src/', () => {
  for (const floor of ['drivers', 'wire']) {
    it(`nothing under src/${floor}/ reaches src/contenders/`, () => {
      const files = walk(join(SRC, floor));
      assert.ok(files.length > 0, `src/${floor}/ has sources`);
      for (const f of files) {
        for (const [g, chain] of reach(f)) {
          assert.ok(!rel(g).startsWith('contenders/'), `${chain.map(rel).join(' → ')}`);
        }
      }
    });
  }

  it('the command line is the top floor: only src/cli.ts (the documented entry) reaches into src/cli/', () => {
    for (const f of walk(SRC)) {
      if (rel(f).startsWith('cli/') || rel(f) === 'cli.ts') continue;
      for (const g of importsOf(f)) assert.ok(!rel(g).startsWith('cli/'), `${rel(f)} imports ${rel(g)}`);
    }
  });

  it('nothing under src/process/ reaches contenders/, drivers/ or runner/', () => {
    const files = walk(join(SRC, 'process'));
    assert.ok(files.length > 0, 'src/process/ has sources');
    for (const f of files) {
      for (const [g, chain] of reach(f)) {
        assert.ok(!/^(contenders|drivers|runner)\//.test(rel(g)), `${chain.map(rel).join(' → ')}`);
      }
    }
  });

  it('checks.ts and limits.ts import nothing above them', () => {
    for (const f of ['checks.ts', 'limits.ts']) {
      for (const g of importsOf(join(SRC, f))) assert.ok(['checks.ts', 'limits.ts'].includes(rel(g)), `${f} imports ${rel(g)}`);
    }
  });

  for (const entry of ['engine/index.ts', 'contenders/epoll.ts', 'contenders/contender-process.ts', 'drivers/native.ts']) {
    it(`${entry} reaches nothing of the runner, report, results, profile or CLI, nor src/index.ts`, () => {
      for (const [g, chain] of reach(join(SRC, entry))) {
        assert.ok(!ABOVE_ENGINE.some((p) => rel(g) === p || (p.endsWith('/') && rel(g).startsWith(p))), chain.map(rel).join(' → '));
      }
    });
  }

  it('an epoll contender that has loaded its engine has loaded no module above it (what V8 parsed, in a fresh node)', () => {
    // The inspector lists every script V8 has parsed: no loader hook, so nothing changes what gets imported.
    const script = `
      import { Session } from 'node:inspector';
      const { epollContender } = await import(${JSON.stringify(pathToFileURL(join(DIST_SRC, 'contenders/epoll.js')).href)});
      await epollContender.probe();
      const session = new Session();
      session.connect();
      const urls = [];
      session.on('Debugger.scriptParsed', (m) => urls.push(m.params.url));
      session.post('Debugger.enable', () => {});
      session.disconnect();
      process.stdout.write(JSON.stringify(urls));`;
    const urls = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' })) as string[];
    const loaded = urls.filter((u) => u.startsWith('file:')).map((u) => relative(DIST_SRC, fileURLToPath(u)).replace(/\.js$/, '.ts')).filter((f) => !f.startsWith('..'));
    assert.ok(loaded.includes('engine/native.ts'), `the engine was loaded: ${loaded.join(', ')}`);
    const above = loaded.filter((f) => ABOVE_ENGINE.some((p) => f === p || (p.endsWith('/') && f.startsWith(p))));
    assert.deepEqual(above, [], `loaded: ${loaded.join(', ')}`);
  });
});
