// HdrHistogram's standard interchange forms for our histograms: the V2 compressed encoding in
// base64 (what HistogramLogWriter writes, what every HdrHistogram implementation decodes) and
// the ".hgrm" percentile distribution (outputPercentileDistribution's text). Our layout is
// HdrHistogram's (see histogram.ts), so a count index here is the same index there.
//
// V2, uncompressed: a 40-byte big-endian header — cookie 0x1c849313, payload length,
// normalizing index offset (0), significant digits, lowest discernible value (int64), highest
// trackable value (int64), integer-to-double ratio (1.0) — then the counts from index 0 to the
// index of the largest value, each a ZigZag LEB128 varint, a run of two or more empty counts
// written as one negative number (minus the run's length). Compressed: cookie 0x1c849314, the
// length of what follows, then the uncompressed form through zlib (deflate with its header).
// The encoding carries counts only: the exact min, max and overflow travel beside it.
import { deflateSync, inflateSync } from 'node:zlib';
import { Histogram, type HistogramJSON } from './histogram.js';

const V2_COOKIE = 0x1c849313;
const V2_COMPRESSED_COOKIE = 0x1c849314;
const HEADER_BYTES = 40;

/** What a V2 string leaves out: the exact extremes and how many values were above highest. */
export interface HistogramExtremes {
  min: number;
  max: number;
  overflow: number;
}

function zigzag(v: number): bigint {
  const b = BigInt(v);
  return b >= 0n ? b << 1n : ((-b) << 1n) - 1n;
}

function unzigzag(u: bigint): number {
  return Number((u & 1n) === 0n ? u >> 1n : -((u + 1n) >> 1n));
}

function putVarint(out: number[], v: number): void {
  let u = zigzag(v);
  // LEB128, 7 bits a byte; counts are below 2^53, so 8 bytes always suffice (HdrHistogram's 9th
  // byte form, for 64-bit values, is never needed and never accepted here).
  while (u >= 0x80n) {
    out.push(Number(u & 0x7fn) | 0x80);
    u >>= 7n;
  }
  out.push(Number(u));
}

/** The V2 uncompressed encoding of h's counts. */
function encodeUncompressed(h: Histogram): Buffer {
  const payload: number[] = [];
  if (h.count > 0) {
    const limit = h.indexOf(h.max) + 1;
    for (let i = 0; i < limit; ) {
      const c = h.countAtIndex(i++);
      if (c !== 0) {
        putVarint(payload, c);
        continue;
      }
      let zeros = 1;
      while (i < limit && h.countAtIndex(i) === 0) {
        zeros++;
        i++;
      }
      putVarint(payload, zeros > 1 ? -zeros : 0);
    }
  }
  const buf = Buffer.alloc(HEADER_BYTES + payload.length);
  buf.writeInt32BE(V2_COOKIE, 0);
  buf.writeInt32BE(payload.length, 4);
  buf.writeInt32BE(0, 8);
  buf.writeInt32BE(h.digits, 12);
  buf.writeBigInt64BE(BigInt(h.lowest), 16);
  buf.writeBigInt64BE(BigInt(h.highest), 24);
  buf.writeDoubleBE(1.0, 32);
  Buffer.from(payload).copy(buf, HEADER_BYTES);
  return buf;
}

/** h in HdrHistogram's V2 compressed encoding, base64: the form every HdrHistogram reads. */
export function toCompressedBase64(h: Histogram): string {
  const inner = deflateSync(encodeUncompressed(h));
  const out = Buffer.alloc(8 + inner.length);
  out.writeInt32BE(V2_COMPRESSED_COOKIE, 0);
  out.writeInt32BE(inner.length, 4);
  inner.copy(out, 8);
  return out.toString('base64');
}

function corrupt(what: string): RangeError {
  return new RangeError(`not an HdrHistogram V2 compressed histogram: ${what}`);
}

/**
 * Decodes a V2 compressed base64 histogram into ours. Without `extremes`, min and max are the
 * lowest and highest values equivalent to the first and last non-empty buckets (what the
 * encoding can tell) and overflow is 0.
 */
export function fromCompressedBase64(text: string, extremes?: HistogramExtremes): Histogram {
  if (typeof text !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) throw corrupt('not base64');
  const bytes = Buffer.from(text, 'base64');
  if (bytes.length < 8 || bytes.readInt32BE(0) !== V2_COMPRESSED_COOKIE) throw corrupt('wrong cookie');
  const length = bytes.readInt32BE(4);
  if (length !== bytes.length - 8) throw corrupt(`length ${length}, ${bytes.length - 8} bytes follow`);
  let inner: Buffer;
  try {
    inner = inflateSync(bytes.subarray(8));
  } catch (e) {
    throw corrupt(`inflate: ${(e as Error).message}`);
  }
  if (inner.length < HEADER_BYTES || inner.readInt32BE(0) !== V2_COOKIE) throw corrupt('wrong inner cookie');
  const payloadLength = inner.readInt32BE(4);
  if (payloadLength !== inner.length - HEADER_BYTES) throw corrupt('payload length');
  // The normalizing index offset (bytes 8..11) is 0 in what c1m and Java write; hdr-histogram-js
  // writes 1 there and its own decoder ignores it, as this one does.
  const digits = inner.readInt32BE(12);
  const lowest = Number(inner.readBigInt64BE(16));
  const highest = Number(inner.readBigInt64BE(24));
  const layout = new Histogram(lowest, highest, digits);
  const buckets: number[] = [];
  let count = 0;
  let i = 0;
  let p = HEADER_BYTES;
  while (p < inner.length) {
    let u = 0n;
    let shift = 0n;
    for (;;) {
      if (p >= inner.length || shift > 56n) throw corrupt('truncated or oversized varint');
      const b = inner[p++]!;
      u |= BigInt(b & 0x7f) << shift;
      shift += 7n;
      if (b < 0x80) break;
    }
    const v = unzigzag(u);
    if (v < 0) {
      i += -v;
      continue;
    }
    if (v > 0) {
      if (i >= layout.countsLength) throw corrupt(`count at index ${i}, past the layout`);
      buckets.push(i, v);
      count += v;
    }
    i++;
  }
  const first = buckets[0];
  const last = buckets[buckets.length - 2];
  const json: HistogramJSON = {
    lowest,
    highest,
    digits,
    count,
    min: extremes?.min ?? (first === undefined ? 0 : layout.valueFromIndex(first)),
    max: extremes?.max ?? (last === undefined ? 0 : Math.min(highest, layout.valueFromIndex(last) + layout.rangeAtIndex(last) - 1)),
    overflow: extremes?.overflow ?? 0,
    buckets,
  };
  return Histogram.fromJSON(json);
}

/**
 * The ".hgrm" percentile distribution of h, as HdrHistogram's outputPercentileDistribution
 * writes it (5 ticks per half distance), values divided by `unitRatio` (1000: µs shown as ms).
 */
export function toHgrm(h: Histogram, unitRatio = 1): string {
  const lines: string[] = [`${'Value'.padStart(12)} ${'Percentile'.padStart(14)} ${'TotalCount'.padStart(10)} ${'1/(1-Percentile)'.padStart(14)}`, ''];
  const fmt = (v: number): string => (v / unitRatio).toFixed(3).padStart(12);
  const row = (value: number, pct: number, total: number): void => {
    const inv = pct >= 1 ? '' : ` ${(1 / (1 - pct)).toFixed(2).padStart(14)}`;
    lines.push(`${fmt(value)} ${pct.toFixed(12).padStart(14)} ${String(total).padStart(10)}${inv}`);
  };
  if (h.count > 0) {
    // Walk the percentile ticks as HdrHistogram's PercentileIterator does: each half of the
    // remaining distance gets `ticks` reporting points.
    const ticks = 5;
    let pct = 0;
    for (;;) {
      const value = h.valueAtPercentile(pct * 100);
      const below = cumulativeAtOrBelow(h, value);
      row(value, below / h.count >= 1 ? 1 : pct, below);
      if (below >= h.count) break;
      const halfDistance = 2 ** Math.floor(Math.log2(100 / (100 - pct * 100)) + 1);
      pct += 1 / (halfDistance * ticks);
      if (pct >= 1) pct = 1;
    }
  }
  const m = h.count > 0 ? h.mean() / unitRatio : 0;
  const sd = h.count > 0 ? h.stddev() / unitRatio : 0;
  lines.push(`#[Mean    = ${m.toFixed(3).padStart(12)}, StdDeviation   = ${sd.toFixed(3).padStart(12)}]`);
  lines.push(`#[Max     = ${(h.max / unitRatio).toFixed(3).padStart(12)}, Total count    = ${String(h.count).padStart(12)}]`);
  lines.push(`#[Buckets = ${String(h.bucketCount).padStart(12)}, SubBuckets     = ${String(h.subBucketCount).padStart(12)}]`);
  return `${lines.join('\n')}\n`;
}

function cumulativeAtOrBelow(h: Histogram, value: number): number {
  const last = h.indexOf(Math.min(value, h.highest));
  let total = 0;
  for (let i = 0; i <= last; i++) total += h.countAtIndex(i);
  return total;
}
