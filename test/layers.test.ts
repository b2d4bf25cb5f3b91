// The floors of src/ (STYLE.md: "The load side never imports the servers under test"): nothing
// under src/drivers/ or src/wire/ reaches src/contenders/, directly or through another module,
// type imports included; process supervision (src/process/) sits below both sides of a run; the
// lowest floor (checks.ts, limits.ts) imports nothing of the project.

import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';

// Compiled to dist/test/, run from there: the sources are two floors up.
const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../../src');

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
});
