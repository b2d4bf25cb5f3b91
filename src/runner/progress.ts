// Progress on stderr while a run goes: a line per phase, and for long phases a line every
// couple of seconds with connections up, ops/s and the time left. Never on stdout, which
// carries the result (or its JSON).

import { fmtInt } from '../system/plain-format.js';
import type { Phase } from './scenario.js';

/** Rough seconds a phase takes, for the time-left estimate. */
export function phaseSeconds(ph: Phase, fromConnections: number): number {
  switch (ph.kind) {
    case 'ramp': {
      const delta = Math.abs(ph.connections - fromConnections);
      const rate = ph.ratePerSec !== undefined && ph.ratePerSec > 0 ? ph.ratePerSec : 20_000;
      return 0.2 + delta / rate;
    }
    case 'warmup':
    case 'hold':
      return ph.durationMs / 1000;
    case 'cooldown':
      return 0.2 + ph.durationMs / 1000;
    case 'measure':
      return ph.run ? (ph.run.durationMs + (ph.run.warmupMs ?? 0)) / 1000 + 0.3 : ((ph.settleMs ?? 500) + (ph.holdMs ?? 0)) / 1000 + 0.3;
    case 'reap':
      return (ph.timeoutMs ?? 10_000) / 1000 + 0.3;
  }
}

/** Seconds one contender run is expected to take: start, primer, phases, stop. */
export function runSeconds(phases: readonly Phase[]): number {
  const conns = new Map<string, number>();
  let total = 1.5;
  for (const ph of phases) {
    const group = ph.kind === 'ramp' ? (ph.group ?? 'main') : 'main';
    total += phaseSeconds(ph, conns.get(group) ?? 0);
    if (ph.kind === 'ramp') conns.set(group, ph.connections);
    if (ph.kind === 'cooldown') conns.clear();
  }
  return total;
}

export function describePhase(ph: Phase): string {
  switch (ph.kind) {
    case 'ramp':
      return `ramp ${ph.group !== undefined ? `${ph.group} ` : ''}to ${fmtInt(ph.connections)} connections${ph.ratePerSec ? ` at ${fmtInt(ph.ratePerSec)}/s` : ''}`;
    case 'warmup':
      return `warm-up ${ph.durationMs / 1000} s${ph.groups !== undefined ? ` (${ph.groups.join(', ')})` : ''}`;
    case 'reap':
      return `reap${ph.label ? ` ${ph.label}` : ''}: ${ph.group} goes silent until the server closes it${ph.timeoutMs !== undefined ? ` (at most ${ph.timeoutMs / 1000} s)` : ''}`;
    case 'measure':
      return ph.run
        ? `measure${ph.label ? ` ${ph.label}` : ''}: load ${ph.run.durationMs / 1000} s${ph.run.warmupMs ? ` after ${ph.run.warmupMs / 1000} s warm-up` : ''}`
        : `measure${ph.label ? ` ${ph.label}` : ''}: idle`;
    case 'hold':
      return `hold ${ph.durationMs / 1000} s`;
    case 'cooldown':
      return `cool-down: close all, wait ${ph.durationMs / 1000} s`;
  }
}

export class Progress {
  readonly #write: (line: string) => void;
  readonly #everyMs: number;
  readonly #totalSeconds: number;
  #runsDone = 0;
  readonly #runs: number;
  readonly #perRun: number;
  #runStartedAt = Date.now();
  #lastTick = 0;
  #lastOps: { ops: number; at: number } | null = null;
  #head = '';

  constructor(write: (line: string) => void, runs: number, perRunSeconds: number, everyMs = 2000) {
    this.#write = write;
    this.#runs = runs;
    this.#perRun = perRunSeconds;
    this.#totalSeconds = runs * perRunSeconds;
    this.#everyMs = everyMs;
  }

  /** Seconds left: runs not started at their estimate, plus what remains of the current one. */
  secondsLeft(): number {
    const inRun = (Date.now() - this.#runStartedAt) / 1000;
    const left = (this.#runs - this.#runsDone - 1) * this.#perRun + Math.max(0, this.#perRun - inRun);
    return Math.max(0, Math.round(left));
  }

  line(text: string): void {
    this.#write(`c1m: ${text}`);
  }

  start(): void {
    this.line(`${this.#runs} run${this.#runs === 1 ? '' : 's'}, about ${Math.ceil(this.#totalSeconds)} s`);
  }

  runStarted(index: number, contender: string, rep: number, reps: number): void {
    this.#runStartedAt = Date.now();
    this.#head = `[${index + 1}/${this.#runs}] ${contender}${reps > 1 ? ` rep ${rep + 1}/${reps}` : ''}`;
  }

  runEnded(outcome: string): void {
    this.#runsDone++;
    this.line(`${this.#head} · ${outcome}`);
  }

  phase(text: string): void {
    this.#lastTick = Date.now();
    this.#lastOps = null;
    this.line(`${this.#head} · ${text} · ~${this.secondsLeft()} s left`);
  }

  /** Called with every driver progress report; prints at most one line per interval. */
  tick(connections: number, ops: number | null): void {
    const now = Date.now();
    if (ops !== null && this.#lastOps === null) this.#lastOps = { ops, at: now };
    if (now - this.#lastTick < this.#everyMs) return;
    let rate = '';
    const last = this.#lastOps;
    if (ops !== null && last !== null && now > last.at && ops >= last.ops) rate = ` · ${fmtInt(((ops - last.ops) * 1000) / (now - last.at))} ops/s`;
    this.#lastTick = now;
    if (ops !== null) this.#lastOps = { ops, at: now };
    this.line(`${this.#head} · ${fmtInt(connections)} connections up${rate} · ~${this.secondsLeft()} s left`);
  }
}
