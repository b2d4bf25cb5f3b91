// Finding scenarios: the built-in ones compiled to dist/scenarios/, or any module by path.
// A module's default export is either defineScenario(...)'s result or the plain object it
// would take, so a copied scenario needs no import at all to be runnable from anywhere.

import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, extname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { didYouMean } from '../checks.js';
import { defineScenario, type Scenario, type ScenarioSpec } from './scenario.js';

/** dist/scenarios/, next to dist/src/ where this module is compiled. */
export const BUILTIN_DIR = fileURLToPath(new URL('../../scenarios/', import.meta.url));

export class ScenarioNotFoundError extends Error {
  override name = 'ScenarioNotFoundError';
}

function isPath(ref: string): boolean {
  return ref.includes('/') || ref.includes('\\') || /\.(m?js|ts)$/.test(ref);
}

/** Names of the built-in scenarios (files in dist/scenarios/), sorted. */
export function builtinNames(dir = BUILTIN_DIR): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.js'))
    .map((f) => f.slice(0, -3))
    .sort();
}

/** Imports a scenario module and checks its default export. */
export async function loadScenarioFile(file: string): Promise<Scenario> {
  const path = resolve(file);
  if (!existsSync(path) || !statSync(path).isFile()) throw new ScenarioNotFoundError(`no scenario file ${file}`);
  if (extname(path) === '.ts') {
    throw new ScenarioNotFoundError(`${file} is TypeScript: compile it first (npx tsc -p .) and pass the .js file, or write the scenario as .mjs`);
  }
  const mod = (await import(pathToFileURL(path).href)) as { default?: unknown };
  const exported = mod.default;
  if (typeof exported !== 'object' || exported === null) {
    throw new TypeError(`${file} must default-export a scenario (defineScenario({...}) or the plain object it takes)`);
  }
  const scenario = 'paramSpecs' in exported ? (exported as Scenario) : defineScenario(exported as ScenarioSpec);
  return Object.freeze({ ...scenario, file: path });
}

/** A built-in scenario by name, or a scenario module by path. */
export async function loadScenario(ref: string, dir = BUILTIN_DIR): Promise<Scenario> {
  if (isPath(ref)) return loadScenarioFile(ref);
  const names = builtinNames(dir);
  if (!names.includes(ref)) {
    const known = names.length > 0 ? names.join(', ') : 'none (run npx tsc -p . first)';
    throw new ScenarioNotFoundError(`unknown scenario "${ref}"${didYouMean(ref, names)}; built-in: ${known}; or give a path to a scenario module`);
  }
  return loadScenarioFile(resolve(dir, `${ref}.js`));
}

/** Every built-in scenario, loaded; a module that fails to load is reported, not fatal. */
export async function listScenarios(dir = BUILTIN_DIR): Promise<Array<{ name: string; scenario: Scenario | null; error: string | null }>> {
  const out: Array<{ name: string; scenario: Scenario | null; error: string | null }> = [];
  for (const name of builtinNames(dir)) {
    try {
      out.push({ name, scenario: await loadScenarioFile(resolve(dir, `${name}.js`)), error: null });
    } catch (err) {
      out.push({ name: basename(name), scenario: null, error: (err as Error).message });
    }
  }
  return out;
}
