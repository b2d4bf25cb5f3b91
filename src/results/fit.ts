// The memory fits: what a connection costs is the least-squares slope of a memory figure over
// the steps' connection counts, never one division. Computed once, by the runner when it writes
// a result (or by the loader for a file written before the fit was recorded), and recorded in
// `summary.fit` with the steps it used; every reader takes the recorded fit.

import { FIT_KEYS, type FitKey, type FitLine, type Measured, type MemoryFit, type Step } from './schema.js';

export interface LinearFit {
  /** dy/dx: e.g. bytes per connection when y is memory and x is connections. */
  readonly slope: number;
  /** y at x = 0: e.g. the process's memory with no connections. */
  readonly intercept: number;
  /** Coefficient of determination; null when y does not vary (nothing to explain). */
  readonly r2: number | null;
  /** Points used (pairs where both x and y were measured). */
  readonly n: number;
}

function finite(v: number): number {
  if (typeof v !== 'number') throw new TypeError(`linearFit: expected numbers or null, got ${typeof v}`);
  if (!Number.isFinite(v)) throw new RangeError(`linearFit: values must be finite, got ${v}`);
  return v;
}

/**
 * Ordinary least-squares fit of y over x. Pairs where either side is null are skipped; null
 * when fewer than two points remain or all x are equal (no slope can be told).
 */
export function linearFit(xs: readonly Measured[], ys: readonly Measured[]): LinearFit | null {
  if (!Array.isArray(xs) || !Array.isArray(ys)) throw new TypeError('linearFit: x and y must be arrays');
  if (xs.length !== ys.length) throw new RangeError(`linearFit: x has ${xs.length} values but y has ${ys.length}`);
  const px: number[] = [];
  const py: number[] = [];
  for (let i = 0; i < xs.length; i++) {
    const x = xs[i] ?? null;
    const y = ys[i] ?? null;
    if (x === null || y === null) continue;
    px.push(finite(x));
    py.push(finite(y));
  }
  const n = px.length;
  if (n < 2) return null;
  // Centre the data first: raw sums of squares of connection counts near a million lose
  // precision that the centred form keeps.
  const mx = px.reduce((a, b) => a + b, 0) / n;
  const my = py.reduce((a, b) => a + b, 0) / n;
  let sxx = 0;
  let sxy = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = (px[i] ?? 0) - mx;
    const dy = (py[i] ?? 0) - my;
    sxx += dx * dx;
    sxy += dx * dy;
    syy += dy * dy;
  }
  if (sxx === 0) return null;
  const slope = sxy / sxx;
  const intercept = my - slope * mx;
  let ssRes = 0;
  for (let i = 0; i < n; i++) {
    const r = (py[i] ?? 0) - (intercept + slope * (px[i] ?? 0));
    ssRes += r * r;
  }
  const r2 = syy === 0 ? null : Math.max(0, 1 - ssRes / syy);
  return { slope, intercept, r2, n };
}

/** A memory figure of a step, as a fit reads it. */
export interface FitFigure {
  /** The step figure, as recorded in FitLine.of. */
  readonly of: string;
  readonly read: (s: Step) => Measured | undefined;
}

/** What each fit is of (the x is always step.connections). */
export const FIT_FIGURES: Readonly<Record<FitKey, FitFigure>> = {
  bytesPerConnection: { of: 'server.rssBytes', read: (s) => s.server?.rssBytes },
  // The kernel's growth before the floor at 0 the step record applies: floored growth would
  // bias the slope (the runner hands in the unfloored figures; a file keeps only the floored).
  kernelBytesPerConnection: { of: 'kernel.slabBytes', read: (s) => s.kernel?.slabBytes },
  // The epoll engine's own exact count of what it holds: slots, timer wheels, client state,
  // topic members, queued bytes. Null for contenders without the engine.
  engineBytesPerConnection: { of: 'server.engineBytes', read: (s) => s.server?.engineBytes },
  // RSS minus V8's committed heap: V8 grows and shrinks its heap by megabytes between steps
  // whatever the connections do, and this figure is immune to that. A server with no V8 heap of
  // its own (c-ref's C program: heapTotalBytes null in a step that has the RSS) holds all of it
  // outside one, so its figure is the RSS.
  nonHeapBytesPerConnection: {
    of: 'server.rssBytes - server.heapTotalBytes',
    read: (s) => {
      const rss = s.server?.rssBytes;
      const heap = s.server?.heapTotalBytes;
      if (typeof rss !== 'number') return null;
      if (heap === null) return rss;
      return typeof heap === 'number' ? rss - heap : null;
    },
  },
  rssAnonBytesPerConnection: { of: 'server.rssAnonBytes', read: (s) => s.server?.rssAnonBytes },
  heapUsedBytesPerConnection: { of: 'server.heapUsedBytes', read: (s) => s.server?.heapUsedBytes },
};

/** The fits that are summary figures of the same name. */
export const SUMMARY_FIT_KEYS = ['bytesPerConnection', 'kernelBytesPerConnection', 'engineBytesPerConnection', 'nonHeapBytesPerConnection'] as const;

function fitOne(steps: readonly Step[], fitted: readonly number[], figure: FitFigure): FitLine | null {
  const at = fitted.map((i) => steps[i]);
  const xs = at.map((s) => s?.connections ?? null);
  // A slope over steps whose connection counts barely differ (the ramps fell short) divides
  // noise by almost nothing: no per-connection figure then.
  const present = xs.filter((x): x is number => typeof x === 'number');
  if (present.length < 2 || Math.max(...present) - Math.min(...present) < Math.max(100, 0.1 * Math.max(...present))) return null;
  const ys = at.map((s) => (s === undefined ? null : (figure.read(s) ?? null)));
  const fit = linearFit(xs, ys);
  if (fit === null) return null;
  const used = fitted.filter((_, k) => typeof xs[k] === 'number' && typeof ys[k] === 'number');
  return { of: figure.of, slope: fit.slope, intercept: fit.intercept, r2: fit.r2, steps: used };
}

/**
 * Every memory fit over the steps named in `fitted` (indices into `steps`): each needs two of
 * them at clearly different connection counts.
 */
export function fitMemory(steps: readonly Step[], fitted: readonly number[]): MemoryFit {
  const fit: Partial<MemoryFit> = { steps: [...fitted] };
  for (const key of FIT_KEYS) fit[key] = fitOne(steps, fitted, FIT_FIGURES[key]);
  return fit as MemoryFit;
}

/** Every step that is not a reap: the steps a fit may use when nothing else says. */
export function fittableSteps(steps: readonly Step[]): number[] {
  return steps.flatMap((s, i) => (s.reap === undefined || s.reap === null ? [i] : []));
}

/**
 * A slope as a cost per connection, which cannot be negative: a negative fit means the memory
 * moved for reasons other than connections (a GC between steps, reclaimed slab), and saying so
 * with null is more honest than clamping to 0.
 */
export function perConnection(fit: FitLine | null | undefined): Measured {
  return fit === null || fit === undefined || fit.slope < 0 ? null : fit.slope;
}
