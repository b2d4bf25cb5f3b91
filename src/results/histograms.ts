// Latency histograms in result files: a step's latency record is built here from the driver's
// histogram (percentiles plus the complete histogram in HdrHistogram's V2 compressed form), read
// back here, and added up here, so driver processes and repetitions merge by adding counts and
// no reader averages percentiles. The .hgrm export of `c1m report --hgrm` is written from these.

import { fromCompressedBase64, toCompressedBase64, toHgrm } from '../metrics/hdr-v2.js';
import { Histogram } from '../metrics/histogram.js';
import { HDR_ENCODING, type C1mResult, type Hdr, type Latency, type Run, type Step } from './schema.js';

/** A step's latency record from a histogram of µs: null when nothing was recorded. */
export function latencyRecord(h: Histogram): Latency | null {
  if (h.count === 0) return null;
  const s = h.summary();
  return { p50: s.p50, p90: s.p90, p99: s.p99, p999: s.p999, max: s.max, hdr: hdrOf(h) };
}

/** The stored form of a histogram. */
export function hdrOf(h: Histogram): Hdr {
  return { encoding: HDR_ENCODING, counts: toCompressedBase64(h), count: h.count, min: h.min, max: h.max, overflow: h.overflow };
}

/** The histogram a latency record stores; null when it stores none (files written before histograms were kept). */
export function histogramOf(l: Latency | null | undefined): Histogram | null {
  const hdr = l?.hdr;
  if (hdr === null || hdr === undefined) return null;
  const h = fromCompressedBase64(hdr.counts, { min: hdr.min, max: hdr.max, overflow: hdr.overflow });
  if (h.count !== hdr.count) throw new RangeError(`a stored histogram holds ${h.count} values but says ${hdr.count}`);
  return h;
}

/**
 * The sum of the histograms of step `index` over `runs` (the repetitions of one contender), or of
 * one driver group's when `group` is given. Null when any run lacks the step or its histogram: a
 * partial sum would pass for the whole.
 */
export function pooledHistogram(runs: readonly Run[], index: number, group?: string): Histogram | null {
  const parts: Histogram[] = [];
  for (const run of runs) {
    const step: Step | undefined = run.steps[index];
    const latency = group === undefined ? step?.latencyUs : step?.groups?.[group]?.latencyUs;
    const h = histogramOf(latency);
    if (h === null) return null;
    parts.push(h);
  }
  if (parts.length === 0) return null;
  // Histograms of one layout add exactly; the driver's layout is fixed (DRIVER_LATENCY_LAYOUT).
  return Histogram.mergeAll(parts);
}

/** One .hgrm file: a contender's step, all its ok repetitions added. */
export interface HgrmFile {
  /** A file name: scenario, contender, protocol, step number and label. */
  name: string;
  text: string;
  /** How many repetitions were added. */
  reps: number;
}

function slug(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9.]+/g, '-').replace(/^-+|-+$/g, '');
}

/**
 * The percentile distribution (HdrHistogram's .hgrm text) of every step that stored a histogram,
 * per contender and protocol, over the ok repetitions of `result`. Values are in milliseconds:
 * HdrHistogram's plotter reads a .hgrm's values as ms (wrk2 and the Java tools' usual ratio of
 * 1000 write them so), and our µs would have read 1000 times too slow there.
 */
export function hgrmFiles(result: C1mResult): HgrmFile[] {
  const groups = new Map<string, Run[]>();
  for (const run of result.runs) {
    if (run.ok !== true) continue;
    const key = `${run.contender}\u0000${run.protocol ?? ''}`;
    groups.set(key, [...(groups.get(key) ?? []), run]);
  }
  const files: HgrmFile[] = [];
  for (const runs of groups.values()) {
    const first = runs[0]!;
    const steps = Math.min(...runs.map((r) => r.steps.length));
    for (let i = 0; i < steps; i++) {
      const h = pooledHistogram(runs, i);
      if (h === null) continue;
      const label = first.steps[i]?.label;
      const parts = [result.scenario, first.contender, first.protocol ?? '', `step${i + 1}`, label ?? ''].filter((p) => p !== '').map(slug);
      files.push({ name: `${parts.join('_')}.hgrm`, text: toHgrm(h, 1000), reps: runs.length });
    }
  }
  return files;
}
