// A contender's conformance in a few numbers and the deviations by name: what every measured run
// records beside its figures (run.conformance in a result file) and what `c1m conform` keeps
// per contender and protocol. Its JSON Schema is defined here once, for both files.

import { Type, type Static } from '@sinclair/typebox';
import type { CaseOutcome, Family } from './case.js';

const level = Type.Union([Type.Literal('MUST'), Type.Literal('SHOULD'), Type.Literal('MAY')], { mustBe: 'MUST, SHOULD or MAY' });
const nonNegative = Type.Integer({ minimum: 0, mustBe: 'a non-negative integer' });

export const conformanceSummarySchema = Type.Object(
  {
    family: Type.Union([Type.Literal('http'), Type.Literal('ws'), Type.Null()], { mustBe: '"http", "ws" or null', description: 'The cases\' family; null when the protocol has none.' }),
    casesRun: nonNegative,
    passed: nonNegative,
    notApplicable: nonNegative,
    deviations: Type.Array(
      Type.Object(
        {
          id: Type.String({ minLength: 1, mustBe: 'a case id' }),
          breaks: level,
          detail: Type.String({ mustBe: 'a sentence' }),
        },
        { mustBe: 'an object' },
      ),
      { mustBe: 'an array', description: 'Each case the server did not pass: its id, the strongest requirement word it broke, and what was seen.' },
    ),
    ms: Type.Number({ minimum: 0, mustBe: 'a non-negative number', description: 'How long the cases took.' }),
    note: Type.Union([Type.String(), Type.Null()], { mustBe: 'a string or null', description: 'Why no case ran, when none did.' }),
  },
  {
    mustBe: 'an object',
    description: 'A contender\'s conformance (src/conform/): the strict cases of its protocol run against it, how many passed, and each deviation by name.',
  },
);

export type ConformanceSummary = Static<typeof conformanceSummarySchema>;

export function summarize(family: Family | null, outcomes: readonly CaseOutcome[], ms: number, note: string | null = null): ConformanceSummary {
  return {
    family,
    casesRun: outcomes.length,
    passed: outcomes.filter((o) => o.verdict.status === 'pass').length,
    notApplicable: outcomes.filter((o) => o.verdict.status === 'n/a').length,
    deviations: outcomes.flatMap((o) => (o.verdict.status === 'deviation' ? [{ id: o.id, breaks: o.verdict.breaks, detail: o.verdict.detail }] : [])),
    ms,
    note,
  };
}

/** "24 of 26 passed; deviations: ws.unmasked, ws.utf8-invalid" for progress lines. */
export function summaryLine(s: ConformanceSummary): string {
  if (s.casesRun === 0) return s.note ?? 'no cases';
  const na = s.notApplicable > 0 ? `, ${s.notApplicable} n/a` : '';
  const dev = s.deviations.length > 0 ? `; deviations: ${s.deviations.map((d) => d.id).join(', ')}` : '';
  return `${s.passed} of ${s.casesRun} passed${na}${dev}`;
}
