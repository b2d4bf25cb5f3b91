// Number formatting shared by the markdown, terminal and HTML reports. The functions are also
// inlined into the HTML page's script by their source text (see html.ts), so each must stay
// self-contained: no imports, no module-level state, only calls to the functions listed in
// FORMAT_FUNCTIONS.

/** What an unmeasured figure renders as, everywhere. Never 0. */
export const DASH = '—';

/** Three significant digits without exponent notation: 1.23, 12.3, 123. */
export function sig3(x: number): string {
  const a = Math.abs(x);
  if (a >= 99.95) return x.toFixed(0);
  if (a >= 9.995) return x.toFixed(1);
  return x.toFixed(2);
}

/** Scales by `base` through `units` so the shown number stays below `base`. */
export function scaled(x: number, base: number, units: readonly string[], sep: string): string {
  let v = x;
  let i = 0;
  // Rounding decides the unit, so 1023.9 B shows as 1.00 KiB and not as 1024 B.
  while (i < units.length - 1 && Math.abs(Number(sig3(v))) >= base) {
    v /= base;
    i += 1;
  }
  const text = i === 0 && Number.isInteger(v) ? String(v) : sig3(v);
  return `${text}${sep}${units[i] ?? ''}`;
}

export function fmtBytes(x: number | null | undefined): string {
  if (x === null || x === undefined) return '—';
  return scaled(x, 1024, ['B', 'KiB', 'MiB', 'GiB', 'TiB'], ' ');
}

/** Counts and rates: 950, 48.2k, 1.10M. */
export function fmtCount(x: number | null | undefined): string {
  if (x === null || x === undefined) return '—';
  if (Math.abs(x) < 1000) return Number.isInteger(x) ? String(x) : sig3(x);
  return scaled(x, 1000, ['', 'k', 'M', 'G', 'T'], '');
}

export function fmtRate(x: number | null | undefined): string {
  if (x === null || x === undefined) return '—';
  return `${fmtCount(x)}/s`;
}

/** Latency given in microseconds: 880 µs, 2.61 ms, 1.20 s. */
export function fmtUs(x: number | null | undefined): string {
  if (x === null || x === undefined) return '—';
  if (Math.abs(x) < 999.5) return `${Number.isInteger(x) ? String(x) : sig3(x)} µs`;
  if (Math.abs(x) < 999500) return `${sig3(x / 1000)} ms`;
  return `${sig3(x / 1e6)} s`;
}

export function fmtPct(x: number | null | undefined): string {
  if (x === null || x === undefined) return '—';
  return `${sig3(x)} %`;
}

/** A ratio against a baseline: 0.09×, 2.25×, 12.3×, 140×. */
export function fmtRatio(r: number | null | undefined): string {
  if (r === null || r === undefined || !Number.isFinite(r)) return '—';
  if (r >= 99.5) return `${r.toFixed(0)}×`;
  if (r >= 9.95) return `${r.toFixed(1)}×`;
  return `${r.toFixed(2)}×`;
}

export type Unit = 'bytes' | 'count' | 'rate' | 'us' | 'pct';

export function fmtUnit(unit: Unit, x: number | null | undefined): string {
  switch (unit) {
    case 'bytes':
      return fmtBytes(x);
    case 'count':
      return fmtCount(x);
    case 'rate':
      return fmtRate(x);
    case 'us':
      return fmtUs(x);
    case 'pct':
      return fmtPct(x);
  }
}

/** The functions the HTML page's script gets, in dependency order. */
export const FORMAT_FUNCTIONS = [sig3, scaled, fmtBytes, fmtCount, fmtRate, fmtUs, fmtPct, fmtRatio, fmtUnit];

/** 3f9c2d1e… → 3f9c2d1; null → null. */
export function shortCommit(git: string | null | undefined): string | null {
  if (!git) return null;
  return /^[0-9a-f]{40}$/i.test(git) ? git.slice(0, 7) : git;
}

/** 2025-11-20T14:02:11.000Z → 2025-11-20 14:02:11Z (UTC, as in the file). */
export function fmtTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${d.toISOString().slice(0, 19).replace('T', ' ')}Z`;
}
