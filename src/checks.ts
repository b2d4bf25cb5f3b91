// Checks at the door, in one home: every layer that validates what a caller or a parent passed
// (scenario flags, contender and driver configs, engine options, child processes) uses these,
// so one kind of mistake reads the same everywhere and names the option it is about. Type
// mistakes throw TypeError, values out of range RangeError. This file imports nothing from the
// project, so any floor may import it. The numeric bounds themselves are in limits.ts.

import { isIP } from 'node:net';

/** A plain object (not null, not an array): what JSON configurations and messages are made of. */
export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The message of anything thrown (an Error's message, anything else as text). */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** A value as a message shows it: numbers as written, strings quoted, objects as JSON, others by type. */
export function shown(v: unknown): string {
  switch (typeof v) {
    case 'number':
    case 'boolean':
    case 'undefined':
      return String(v);
    case 'bigint':
      return `${v}n`;
    case 'function':
    case 'symbol':
      return `a ${typeof v}`;
    default:
      try {
        return JSON.stringify(v) ?? String(v);
      } catch {
        return `an ${typeof v}`;
      }
  }
}

/**
 * "between 1 and 4096", "at least 1" or "at most 10": the range as a sentence says it. A bound at
 * the end of the safe integers (or infinite) is no bound a reader needs to see.
 */
export function rangeText(min: number | undefined, max: number | undefined): string {
  const low = min !== undefined && min > -Number.MAX_SAFE_INTEGER ? min : undefined;
  const high = max !== undefined && max < Number.MAX_SAFE_INTEGER ? max : undefined;
  if (low !== undefined && high !== undefined) return `between ${low} and ${high}`;
  if (low !== undefined) return `at least ${low}`;
  if (high !== undefined) return `at most ${high}`;
  return 'any number';
}

export interface NumberBounds {
  readonly min?: number | undefined;
  readonly max?: number | undefined;
  /** Whole numbers only. */
  readonly integer?: boolean | undefined;
}

/**
 * A finite number within bounds (both inclusive), or a TypeError ("name must be an integer, got
 * "x"") or RangeError ("name must be between 1 and 4096, got 0") naming the option.
 */
export function checkNumber(name: string, v: unknown, bounds: NumberBounds = {}): number {
  const { min, max, integer = false } = bounds;
  if (typeof v !== 'number' || !Number.isFinite(v) || (integer && !Number.isInteger(v))) {
    throw new TypeError(`${name} must be ${integer ? 'an integer' : 'a finite number'}, got ${shown(v)}`);
  }
  if ((min !== undefined && v < min) || (max !== undefined && v > max)) {
    throw new RangeError(`${name} must be ${rangeText(min, max)}, got ${v}`);
  }
  return v;
}

/** An integer in min..max (both inclusive); see checkNumber for the errors. */
export function checkInt(name: string, v: unknown, min: number, max: number): number {
  return checkNumber(name, v, { min, max, integer: true });
}

/** A boolean, or a TypeError naming the option. */
export function checkBool(name: string, v: unknown): boolean {
  if (typeof v !== 'boolean') throw new TypeError(`${name} must be a boolean, got ${shown(v)}`);
  return v;
}

/** An IPv4 or IPv6 address literal, or a TypeError naming the option. */
export function checkHost(v: unknown, name = 'host'): string {
  if (typeof v !== 'string' || isIP(v) === 0) throw new TypeError(`${name} must be an IP address, got ${shown(v)}`);
  return v;
}

/**
 * Edits that turn a into b, each an insertion, a deletion or a substitution of one character or
 * a swap of two neighbours ("rnu" is one edit from "run"): the optimal string alignment distance.
 */
export function editDistance(a: string, b: string): number {
  // d[i][j]: edits from a's first i characters to b's first j.
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  const at = (i: number, j: number): number => (d[i] as number[])[j] as number;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, at(i - 2, j - 2) + 1);
      (d[i] as number[])[j] = v;
    }
  }
  return at(a.length, b.length);
}

/**
 * The candidate a mistyped word most likely meant, or null when none is near enough to be a
 * slip of the keyboard: at most a third of the word's letters edited (one for short words), or
 * the word a unique start of the candidate. Ties go to the earlier candidate.
 */
export function nearest(word: string, candidates: readonly string[]): string | null {
  const w = word.toLowerCase();
  const bound = Math.max(1, Math.floor(w.length / 3));
  let best: string | null = null;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const c of candidates) {
    const d = editDistance(w, c.toLowerCase());
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  if (best !== null && bestDistance <= bound) return best;
  const starts = candidates.filter((c) => w.length >= 2 && c.toLowerCase().startsWith(w));
  return starts.length === 1 ? (starts[0] as string) : null;
}

/** ` (did you mean "run"?)` for a word near one of the candidates (each shown through show), or '' when none is. */
export function didYouMean(word: string, candidates: readonly string[], show: (c: string) => string = (c) => `"${c}"`): string {
  const c = nearest(word, candidates);
  return c === null ? '' : ` (did you mean ${show(c)}?)`;
}
