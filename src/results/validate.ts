// Checks a parsed JSON value against the result contract and returns it typed. The rules are
// the JSON Schema document that src/results/schema.ts defines (compiled here with ajv), plus the
// few that JSON Schema cannot say, checked in code below. Errors name the file and the JSON path
// of the first bad field, so a stranger can fix a hand-edited file:
//   results/x.json: runs[2].steps[0].connections must be a non-negative number, got "abc"
// Unknown fields are allowed everywhere (the contract says fields may be added).

import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import { perConnection, SUMMARY_FIT_KEYS } from './fit.js';
import { FIT_KEYS, RESULT_SCHEMA, resultSchemaDocument, type C1mResult } from './schema.js';

export class ResultValidationError extends Error {
  override name = 'ResultValidationError';
  constructor(
    readonly file: string,
    readonly path: string,
    message: string,
  ) {
    super(`${file}: ${message}`);
  }
}

type Obj = Record<string, unknown>;

/** RFC 3339 date-time, the form `new Date().toISOString()` writes. */
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

let compiled: { check: ValidateFunction; doc: Obj } | null = null;

function compile(): { check: ValidateFunction; doc: Obj } {
  if (compiled !== null) return compiled;
  const doc = resultSchemaDocument();
  const ajv = new Ajv2020({ allErrors: false, verbose: true, strict: true });
  // Our annotations carry the wording of the messages; they assert nothing.
  ajv.addKeyword({ keyword: 'mustBe', schemaType: 'string' });
  ajv.addKeyword({ keyword: 'violation', schemaType: 'string' });
  ajv.addFormat('date-time', { type: 'string', validate: (s: string) => DATE_TIME.test(s) && !Number.isNaN(Date.parse(s)) });
  compiled = { check: ajv.compile(doc), doc };
  return compiled;
}

/** Validates `json` (already parsed) read from `fileName`; throws ResultValidationError. */
export function validateResult(json: unknown, fileName: string): C1mResult {
  if (!isObject(json) || json['schema'] !== RESULT_SCHEMA) {
    const got = isObject(json) ? describe(json['schema']) : describe(json);
    throw new ResultValidationError(fileName, 'schema', `not a c1m result file: schema must be ${JSON.stringify(RESULT_SCHEMA)}, got ${got}`);
  }
  const { check, doc } = compile();
  if (!check(json)) {
    const { path, message } = explain(check.errors ?? [], json, doc);
    throw new ResultValidationError(fileName, path, message);
  }
  const result = json as C1mResult;
  beyondSchema(result, fileName);
  return result;
}

function isObject(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object' && value !== null) return 'an object';
  if (typeof value === 'string' && value.length > 60) return JSON.stringify(`${value.slice(0, 57)}...`);
  return JSON.stringify(value);
}

function key(path: string, name: string): string {
  const part = /^[A-Za-z_$][\w$]*$/.test(name) ? `.${name}` : `[${JSON.stringify(name)}]`;
  return path === '' ? part.replace(/^\./, '') : path + part;
}

/** A JSON Pointer into `data` as the path a reader writes: runs[2].steps[0].connections. */
function readablePath(pointer: string, data: unknown): string {
  if (pointer === '') return '';
  let path = '';
  let at: unknown = data;
  for (const raw of pointer.slice(1).split('/')) {
    const part = raw.replaceAll('~1', '/').replaceAll('~0', '~');
    path = Array.isArray(at) ? `${path}[${part}]` : key(path, part);
    at = isObject(at) || Array.isArray(at) ? (at as Record<string, unknown>)[part] : undefined;
  }
  return path;
}

function depth(e: ErrorObject): number {
  const parts = e.instancePath === '' ? 0 : e.instancePath.split('/').length - 1;
  // A missing property is about the value one level down.
  return e.keyword === 'required' ? parts + 1 : parts;
}

/** Follows a local $ref to the schema it names. */
function resolve(schema: unknown, doc: Obj): Obj | undefined {
  if (!isObject(schema)) return undefined;
  const ref = schema['$ref'];
  if (typeof ref !== 'string' || !ref.startsWith('#/')) return schema;
  let at: unknown = doc;
  for (const part of ref.slice(2).split('/')) at = isObject(at) ? at[part] : undefined;
  return isObject(at) ? at : undefined;
}

function wording(e: ErrorObject, data: unknown, doc: Obj): { path: string; message: string } | null {
  const path = readablePath(e.instancePath, data);
  const parent = isObject(e.parentSchema) ? e.parentSchema : {};
  if (e.keyword === 'required') {
    const missing = String((e.params as { missingProperty?: unknown }).missingProperty);
    const properties = parent['properties'];
    const sub = resolve(isObject(properties) ? properties[missing] : undefined, doc);
    const mustBe = sub?.['mustBe'];
    const at = key(path, missing);
    return typeof mustBe === 'string' ? { path: at, message: `${at} must be ${mustBe}, got nothing` } : null;
  }
  if (typeof parent['violation'] === 'string') return { path, message: `${path} ${parent['violation']}` };
  if (typeof parent['mustBe'] === 'string') return { path, message: `${path} must be ${parent['mustBe']}, got ${describe(e.data)}` };
  return null;
}

/**
 * The one sentence about the first breach ajv found. A union that fails reports each of its
 * branches and then itself, so the error about the deepest value is where the data went wrong;
 * among the errors about that value, the last (the outermost schema) that carries our wording
 * says it. `if` errors only repeat that a `then` failed.
 */
function explain(errors: readonly ErrorObject[], data: unknown, doc: Obj): { path: string; message: string } {
  const considered = errors.filter((e) => e.keyword !== 'if');
  const deepest = Math.max(...considered.map(depth));
  const there = considered.filter((e) => depth(e) === deepest);
  for (let i = there.length - 1; i >= 0; i--) {
    const w = wording(there[i]!, data, doc);
    if (w !== null) return w;
  }
  const e = there.at(-1) ?? errors[0];
  const path = e === undefined ? '' : readablePath(e.instancePath, data);
  return { path, message: `${path === '' ? 'the file' : path} ${e?.message ?? 'is not a valid result'}` };
}

/** The rules JSON Schema cannot state: series lengths, orders, and what refers to what. */
function beyondSchema(result: C1mResult, file: string): void {
  const fail = (path: string, message: string): never => {
    throw new ResultValidationError(file, path, `${path} ${message}`);
  };
  result.runs.forEach((run, r) => {
    const at = `runs[${r}]`;
    const timeline = run.timeline;
    if (timeline) {
      let previous = -Infinity;
      timeline.tMs.forEach((t, i) => {
        if (t < previous) fail(`${at}.timeline.tMs[${i}]`, `must be a number not below the one before it, got ${describe(t)}`);
        previous = t;
      });
      for (const n of ['connections', 'cpuPct', 'rssBytes'] as const) {
        const series = timeline[n];
        if (series !== undefined && series.length !== timeline.tMs.length) {
          fail(`${at}.timeline.${n}`, `has ${series.length} samples but tMs has ${timeline.tMs.length}`);
        }
      }
    }
    const fit = run.summary?.fit;
    if (!fit) return;
    const summary = run.summary!;
    fit.steps.forEach((i, k) => {
      if (i >= run.steps.length) fail(`${at}.summary.fit.steps[${k}]`, `names step ${i} but the run has ${run.steps.length} steps`);
    });
    for (const name of FIT_KEYS) {
      for (const i of fit[name]?.steps ?? []) {
        if (!fit.steps.includes(i)) fail(`${at}.summary.fit.${name}.steps`, `has step ${i}, which is not among summary.fit.steps`);
      }
    }
    // The headline figure is the fit's slope: a reader taking either gets the same number.
    for (const name of SUMMARY_FIT_KEYS) {
      const expected = perConnection(fit[name]);
      const actual = summary[name] ?? null;
      if (actual !== expected) fail(`${at}.summary.${name}`, `is ${describe(actual)} but summary.fit.${name} makes it ${describe(expected)}`);
    }
  });
}
