// How fast the host itself ran while a window was measured. On a virtual machine the host's
// speed can swing by 2× within a second with no steal time counted (measured on this project's
// VM: a fixed piece of work took 1.0 ms and 2.0 ms in the same second, and a Python loop 0.9 s
// and 2.8 s minutes apart), and it stretches the CPU-seconds a contender spends, not every
// contender's by the same factor (an afternoon 1.1–3.2× slower by this probe stretched CPU per
// request 1.1–2.7×: results/checks/issue-17/host-probe/). Ratios from interleaved repetitions
// cancel the slow part of that drift, not the part that differs between two windows run back to
// back. So each measured window is shadowed by a
// probe: every PROBE_EVERY_MS the runner times a fixed piece of integer and cache work, and the
// window records the probes' mean and fastest. A probe reads the lesser of its wall time and the
// runner's CPU time over it: the wall time counts a preemption by the load as slowness, the CPU
// time (getrusage, the whole process) can count a tick of another runner thread or an interrupt
// charged to the probe; both at once is rare. Two windows whose means differ by 1.2× ran on
// hosts about 1.2× apart in speed. Our own load barely moves it (under h2load against the
// engine, loaded over idle 1.01 at 40,000 requests/s and 0.93 with both cores saturated:
// results/checks/issue-17/host-probe/), and JS that allocates slows further than the probe does
// when the host slows (2.34× where the probe read 1.71×). The probe costs under 0.5 % of one core.

import { mean, min } from './stats.js';

/** Iterations of the probe's work: about 0.25 ms on a 2.6 GHz Xeon at its fastest. */
export const PROBE_ITERATIONS = 50_000;
/** How often a window is probed. */
export const PROBE_EVERY_MS = 100;

/** What the probes of one window read. */
export interface HostProbeReading {
  /** The probes' mean in µs (each the lesser of its wall and CPU time): the window's host speed, lower is faster. */
  meanUs: number;
  /** The fastest probe of the window, µs. */
  minUs: number;
  samples: number;
  everyMs: number;
  iterations: number;
}

// 256 KiB: the work reads and writes it at pseudo-random places, so cache contention from a
// neighbour on the same core slows it as it slows a server.
const table = new Uint32Array(1 << 16);
let sink = 0;
let warmed = false;

function work(iterations: number): number {
  let x = 2463534242;
  let acc = 0;
  const mask = table.length - 1;
  for (let i = 0; i < iterations; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    const j = x & mask;
    table[j] = (table[j]! + i) >>> 0;
    acc = (acc + table[(j * 7) & mask]!) >>> 0;
  }
  return acc;
}

/** Runs the work until V8 has optimized it (once per process), so that no probe times the interpreter. */
export function warmProbe(): void {
  if (warmed) return;
  for (let i = 0; i < 20; i++) sink ^= work(PROBE_ITERATIONS);
  warmed = true;
}

/** The probe's work once, in µs: the lesser of its wall time and this process's CPU time over it. */
export function probeOnceUs(iterations = PROBE_ITERATIONS): number {
  warmProbe();
  const t0 = process.hrtime.bigint();
  const before = process.cpuUsage();
  sink ^= work(iterations);
  const d = process.cpuUsage(before);
  const wallUs = Number(process.hrtime.bigint() - t0) / 1000;
  return Math.min(wallUs, d.user + d.system);
}

/**
 * Probes the host every `everyMs` until end(), the first probe `everyMs` after construction
 * (the work is warmed here, so construct it just before the window starts). The timer does not
 * keep the process alive.
 */
export class HostProbeWindow {
  readonly #samples: number[] = [];
  readonly #everyMs: number;
  readonly #iterations: number;
  #timer: NodeJS.Timeout | null;

  constructor(everyMs = PROBE_EVERY_MS, iterations = PROBE_ITERATIONS) {
    if (!Number.isFinite(everyMs) || everyMs < 10) throw new RangeError(`HostProbeWindow: everyMs must be ≥ 10, got ${String(everyMs)}`);
    if (!Number.isSafeInteger(iterations) || iterations < 1) throw new RangeError(`HostProbeWindow: iterations must be a positive integer, got ${String(iterations)}`);
    this.#everyMs = everyMs;
    this.#iterations = iterations;
    warmProbe();
    this.#timer = setInterval(() => this.#samples.push(probeOnceUs(iterations)), everyMs);
    this.#timer.unref();
  }

  /** Stops probing; the reading, or null when no probe ran (a window shorter than everyMs). */
  end(): HostProbeReading | null {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    return readingOf(this.#samples, this.#everyMs, this.#iterations);
  }
}

/** The reading of a window's probes (µs each); null for none. */
export function readingOf(samplesUs: readonly number[], everyMs: number, iterations: number): HostProbeReading | null {
  const xs = samplesUs.filter((v) => Number.isFinite(v) && v > 0);
  const meanUs = mean(xs), minUs = min(xs);
  if (meanUs === null || minUs === null) return null;
  return { meanUs, minUs, samples: xs.length, everyMs, iterations };
}
