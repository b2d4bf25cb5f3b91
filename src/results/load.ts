// Reads result files named on the command line: files as given, folders searched recursively
// for *.json. A file named explicitly must be a valid result. Inside a folder, JSON that does
// not claim to be a c1m result (no "schema": "c1m.result/…", e.g. a profile's data) is set
// aside in `ignored` with the reason, so `c1m report results/` works on a mixed folder; a file
// that claims to be a result but breaks the contract still fails loudly. Every result read is
// brought up to the current model (upgrade.ts), so reports never see an older shape.

import { readFile, readdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { C1mResult, LoadedResult } from './schema.js';
import { withMemoryFit } from './upgrade.js';
import { ResultValidationError, validateResult } from './validate.js';

export interface LoadResults {
  /** In the order given; files found in one folder sorted by path (timestamps sort by time). */
  results: LoadedResult[];
  /** Files found in folders and passed over, with why. */
  ignored: Array<{ file: string; reason: string }>;
}

/** JSON Schema documents and the like that live next to results but are not results. */
function isSchemaFile(name: string): boolean {
  return name.endsWith('.schema.json');
}

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  const entries = await readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    if (e.name.startsWith('.') || e.name === 'node_modules') continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await walk(p)));
    else if (e.isFile() && e.name.endsWith('.json') && !isSchemaFile(e.name)) out.push(p);
  }
  return out;
}

/** A parsed result file as every reader takes it: validated, then brought up to the current model. */
export function readResult(json: unknown, file: string): C1mResult {
  return withMemoryFit(validateResult(json, file));
}

type Parsed = { ok: true; json: unknown } | { ok: false; reason: string };

async function parse(file: string): Promise<Parsed> {
  const text = await readFile(file, 'utf8');
  try {
    return { ok: true, json: JSON.parse(text) as unknown };
  } catch (err) {
    return { ok: false, reason: `not valid JSON: ${(err as Error).message}` };
  }
}

function claimsToBeResult(json: unknown): boolean {
  if (typeof json !== 'object' || json === null) return false;
  const schema = (json as Record<string, unknown>)['schema'];
  return typeof schema === 'string' && schema.startsWith('c1m.result/');
}

export async function loadResults(paths: readonly string[]): Promise<LoadResults> {
  const results: LoadedResult[] = [];
  const ignored: LoadResults['ignored'] = [];
  const seen = new Set<string>();
  for (const path of paths) {
    let info;
    try {
      info = await stat(path);
    } catch {
      throw new Error(`${path}: no such file or folder`);
    }
    if (info.isDirectory()) {
      for (const file of await walk(path)) {
        if (seen.has(resolve(file))) continue;
        seen.add(resolve(file));
        const parsed = await parse(file);
        if (!parsed.ok) ignored.push({ file, reason: parsed.reason });
        else if (!claimsToBeResult(parsed.json)) {
          ignored.push({ file, reason: 'not a c1m result file (no "schema": "c1m.result/1")' });
        } else results.push({ file, result: readResult(parsed.json, file) });
      }
    } else {
      if (seen.has(resolve(path))) continue;
      seen.add(resolve(path));
      const parsed = await parse(path);
      if (!parsed.ok) throw new ResultValidationError(path, '', parsed.reason);
      results.push({ file: path, result: readResult(parsed.json, path) });
    }
  }
  return { results, ignored };
}
