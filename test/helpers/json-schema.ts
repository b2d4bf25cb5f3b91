// A JSON Schema checker for results/schema/c1m.result-1.schema.json, shared by the report tests
// (the fixtures) and the runner's tests (what `c1m run` writes).

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

// A small JSON Schema (2020-12) checker covering the keywords the schema document uses, so the
// document is tested without adding a validator dependency. Returns the first problem or null.
type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
function jsonType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}
export function schemaCheck(schema: Json, value: unknown, path: string, rootSchema: Json): string | null {
  if (schema === true || schema === undefined) return null;
  if (schema === false) return `${path}: not allowed`;
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) throw new Error('bad schema');
  const s = schema;
  if (typeof s['$ref'] === 'string') {
    const target = s['$ref'].replace(/^#\//, '').split('/').reduce<Json>((o, k) => (o as Record<string, Json>)[k]!, rootSchema);
    const r = schemaCheck(target, value, path, rootSchema);
    if (r) return r;
  }
  if (s['type'] !== undefined) {
    const types = Array.isArray(s['type']) ? s['type'] : [s['type']];
    const t = jsonType(value);
    if (!types.some((x) => x === t || (x === 'number' && t === 'integer'))) return `${path}: type ${t}, want ${types.join('|')}`;
  }
  if ('const' in s && JSON.stringify(s['const']) !== JSON.stringify(value)) return `${path}: not the const`;
  if (typeof value === 'number' && typeof s['minimum'] === 'number' && value < s['minimum']) return `${path}: below minimum`;
  if (typeof value === 'string') {
    if (typeof s['minLength'] === 'number' && value.length < s['minLength']) return `${path}: too short`;
    if (s['format'] === 'date-time' && !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(value)) {
      return `${path}: not a date-time`;
    }
  }
  if (jsonType(value) === 'object') {
    const o = value as Record<string, unknown>;
    for (const k of (s['required'] as string[] | undefined) ?? []) if (!(k in o)) return `${path}.${k}: required`;
    const props = (s['properties'] as Record<string, Json> | undefined) ?? {};
    for (const [k, v] of Object.entries(o)) {
      const sub = k in props ? props[k]! : s['additionalProperties'];
      if (sub !== undefined) {
        const r = schemaCheck(sub, v, `${path}.${k}`, rootSchema);
        if (r) return r;
      }
    }
  }
  if (Array.isArray(value) && s['items'] !== undefined) {
    for (let i = 0; i < value.length; i++) {
      const r = schemaCheck(s['items'], value[i], `${path}[${i}]`, rootSchema);
      if (r) return r;
    }
  }
  for (const sub of (s['allOf'] as Json[] | undefined) ?? []) {
    const r = schemaCheck(sub, value, path, rootSchema);
    if (r) return r;
  }
  if (s['anyOf'] && !(s['anyOf'] as Json[]).some((sub) => schemaCheck(sub, value, path, rootSchema) === null)) {
    return `${path}: matches none of anyOf`;
  }
  if (s['oneOf'] && (s['oneOf'] as Json[]).filter((sub) => schemaCheck(sub, value, path, rootSchema) === null).length !== 1) {
    return `${path}: does not match exactly one of oneOf`;
  }
  if (s['if'] !== undefined && schemaCheck(s['if'], value, path, rootSchema) === null && s['then'] !== undefined) {
    const r = schemaCheck(s['then'], value, path, rootSchema);
    if (r) return r;
  }
  return null;
}

const root = fileURLToPath(new URL('../../../', import.meta.url));
const schemaDoc = JSON.parse(readFileSync(join(root, 'results/schema/c1m.result-1.schema.json'), 'utf8')) as Json;

/** The first way value breaks the result schema document, or null when it conforms. */
export function matchesResultSchema(value: unknown): string | null {
  return schemaCheck(schemaDoc, value, '$', schemaDoc);
}
