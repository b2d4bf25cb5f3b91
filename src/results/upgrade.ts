// Brings a result written by an older runner up to the current model, once, when it is read,
// so readers never need to know which version wrote a file. Today that is one thing: files
// written before `summary.fit` existed get it, computed as the runner computes it (results/fit.ts)
// over the steps the runner fitted, which the file's phases still tell: every measured step but
// those of a measure with `fit: false` and of a reap. (Such files carry `run.fits`, the runner's
// old record without the steps it used; nothing reads it.)

import { fitMemory } from './fit.js';
import type { C1mResult, PhaseRecord, Run } from './schema.js';

/**
 * The steps a memory fit uses in a file that does not record them. Each measure or reap phase
 * made one step, in order; without phases, every step but the reaps.
 */
export function fittedSteps(run: Run, phases: readonly PhaseRecord[] | undefined): number[] {
  const measuring = (phases ?? []).filter((p) => p.kind === 'measure' || p.kind === 'reap');
  return run.steps.flatMap((s, i) => {
    if (s.reap !== undefined && s.reap !== null) return [];
    const phase = measuring[i];
    return phase !== undefined && (phase.kind === 'reap' || phase.fit === false) ? [] : [i];
  });
}

/** The result with `summary.fit` in every run that has a summary (the same object when all do). */
export function withMemoryFit(result: C1mResult): C1mResult {
  if (result.runs.every((r) => !r.summary || r.summary.fit)) return result;
  return {
    ...result,
    runs: result.runs.map((r) =>
      !r.summary || r.summary.fit ? r : { ...r, summary: { ...r.summary, fit: fitMemory(r.steps, fittedSteps(r, result.phases)) } },
    ),
  };
}
