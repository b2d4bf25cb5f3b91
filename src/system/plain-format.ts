// Number formatting for the system layer's human-readable text. Deterministic (no locale
// lookups), so printed plans can be compared exactly in tests.

/** 1000000 → "1,000,000". */
export function fmtInt(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const sign = n < 0 ? '-' : '';
  const digits = String(Math.round(Math.abs(n)));
  return sign + digits.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'] as const;

/** Binary units, one decimal from KiB up: 8192000000 → "7.6 GiB", 2800 → "2.7 KiB". */
export function fmtBytes(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  let v = Math.abs(n);
  let u = 0;
  while (v >= 1024 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  const sign = n < 0 ? '-' : '';
  return u === 0 ? `${sign}${fmtInt(v)} B` : `${sign}${v.toFixed(1)} ${UNITS[u]}`;
}

/** Smallest power of two ≥ n (n ≥ 1), used to round suggested limits to familiar values. */
export function nextPow2(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}
