// The conformance result file (`c1m conform`), defined once as a TypeBox schema: its types, the
// JSON Schema document committed as results/schema/c1m.conform-1.schema.json (`npm run schema`)
// and its validator. Like a run's result it says what was run (params, the cases with their RFC
// sections), on what (env: versions, the machine, the commit) and when.

import { Type, type Static } from '@sinclair/typebox';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { resultSchemaDocument } from '../results/schema.js';
import { conformanceSummarySchema } from './summary.js';

export const CONFORM_SCHEMA = 'c1m.conform/1';

/** Where the generated JSON Schema document is committed, from the repository's root. */
export const CONFORM_SCHEMA_FILE = 'results/schema/c1m.conform-1.schema.json';

const str = (description?: string) => Type.String({ minLength: 1, mustBe: 'a non-empty string', ...(description ? { description } : {}) });
const family = Type.Union([Type.Literal('http'), Type.Literal('ws')], { mustBe: '"http" or "ws"' });
const level = Type.Union([Type.Literal('MUST'), Type.Literal('SHOULD'), Type.Literal('MAY')], { mustBe: 'MUST, SHOULD or MAY' });

const caseSchema = Type.Object(
  {
    id: str('Stable case name, e.g. "http.pipelining".'),
    family,
    protocol: str('The protocol the contender was started with for this case.'),
    source: str('Where the requirement is written, e.g. "RFC 9112 §9.3.2".'),
    level,
    requirement: str('What a conforming server does.'),
    sends: str('What the case sends, in words.'),
    quick: Type.Boolean({ description: 'Part of the quick set every measured run checks.' }),
  },
  { mustBe: 'an object' },
);

const runSchema = Type.Object(
  {
    contender: str(),
    family,
    protocol: str(),
    limits: Type.Union([Type.Object({ maxMessageBytes: Type.Union([Type.Number({ minimum: 0 }), Type.Null()]) }), Type.Null()], {
      mustBe: 'an object or null',
      description: 'The limits the contender applied (the WebSocket message limit the 1009 case uses); null when it was not started.',
    }),
    summary: conformanceSummarySchema,
    error: Type.Optional(Type.Union([Type.String({ minLength: 1 }), Type.Null()], {
      mustBe: 'a sentence or null',
      description: 'Why a contender that serves the protocol could not be checked (it failed to start); null (or absent) otherwise, skips included.',
    })),
  },
  { mustBe: 'an object', description: 'One contender × family: the contender started once with the family\'s protocol.' },
);

const cellSchema = Type.Object(
  {
    case: str(),
    contender: str(),
    status: Type.Union([Type.Literal('pass'), Type.Literal('deviation'), Type.Literal('n/a')], { mustBe: '"pass", "deviation" or "n/a"' }),
    breaks: Type.Union([level, Type.Null()], { mustBe: 'MUST, SHOULD, MAY or null', description: 'For a deviation: the strongest word of the requirement it broke.' }),
    detail: Type.String({ mustBe: 'a sentence', description: 'What the server did, in plain words; for n/a, why the case does not apply.' }),
    ms: Type.Number({ minimum: 0, mustBe: 'a non-negative number' }),
  },
  { mustBe: 'an object' },
);

const conformSchema = Type.Object(
  {
    schema: Type.Literal(CONFORM_SCHEMA),
    env: Type.Unsafe<Record<string, unknown>>({ $ref: '#/$defs/env' }),
    startedAt: Type.String({ format: 'date-time' }),
    finishedAt: Type.String({ format: 'date-time' }),
    params: Type.Object({
      contenders: Type.Array(str()),
      families: Type.Array(family),
      waitMs: Type.Number({ minimum: 0, description: 'How long a case waited for an answer or a close the server owed.' }),
      slowlorisMs: Type.Number({ minimum: 0, description: 'How long the slowloris case trickled.' }),
    }),
    cases: Type.Array(caseSchema),
    runs: Type.Array(runSchema),
    cells: Type.Array(cellSchema, { description: 'The matrix: one cell per case × contender.' }),
  },
  { mustBe: 'an object' },
);

export type CaseRecord = Static<typeof caseSchema>;
export type ConformRun = Static<typeof runSchema>;
export type ConformCell = Static<typeof cellSchema>;
export type ConformResult = Omit<Static<typeof conformSchema>, 'env'> & { env: import('../results/schema.js').Env };

/** The JSON Schema document (draft 2020-12) of a conformance file; env is the result file's. */
export function conformSchemaDocument(): Record<string, unknown> {
  const resultDefs = resultSchemaDocument()['$defs'] as Record<string, unknown>;
  const doc = {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: 'c1m.conform-1.schema.json',
    title: `c1m conformance file, schema ${CONFORM_SCHEMA}`,
    description:
      'One file per `c1m conform`: the strict HTTP/1.1 (RFC 9110, 9112) and WebSocket (RFC 6455) cases, and for each case × contender whether it passed, the deviation seen, or why it does not apply. env has the result file\'s meaning. Generated from src/conform/schema.ts by `npm run schema`; do not edit by hand.',
    ...conformSchema,
    $defs: { env: resultDefs['env'], ...pick(resultDefs, refsOf(resultDefs['env'])) },
  };
  return JSON.parse(JSON.stringify(doc)) as Record<string, unknown>;
}

/** The $defs an env definition refers to, so the document stands alone. */
function refsOf(schema: unknown): string[] {
  const text = JSON.stringify(schema);
  return [...text.matchAll(/"#\/\$defs\/([^"]+)"/g)].map((m) => m[1] as string);
}

function pick(defs: Record<string, unknown>, names: readonly string[]): Record<string, unknown> {
  return Object.fromEntries(names.filter((n) => n in defs).map((n) => [n, defs[n]]));
}

export function conformSchemaText(): string {
  return `${JSON.stringify(conformSchemaDocument(), null, 2)}\n`;
}

let check: ((v: unknown) => boolean) & { errors?: unknown } | null = null;

/** Throws unless json is a conformance file, naming the first field that is wrong. */
export function validateConform(json: unknown, file: string): ConformResult {
  if (check === null) {
    const ajv = new Ajv2020({ allErrors: false, strict: true });
    ajv.addKeyword({ keyword: 'mustBe', schemaType: 'string' });
    ajv.addKeyword({ keyword: 'violation', schemaType: 'string' });
    ajv.addFormat('date-time', { type: 'string', validate: (s: string) => !Number.isNaN(Date.parse(s)) });
    check = ajv.compile(conformSchemaDocument());
  }
  if (!check(json)) {
    const errs = (check.errors ?? []) as Array<{ instancePath: string; message?: string }>;
    const e = errs[0];
    throw new Error(`${file}: not a ${CONFORM_SCHEMA} file: ${e ? `${e.instancePath || 'the file'} ${e.message ?? ''}` : 'invalid'}`);
  }
  return json as ConformResult;
}
