// Folded stacks ("root;caller;callee count" per line, the format of Brendan Gregg's
// stackcollapse scripts) from the three profile formats we produce: `perf script` text, V8
// .cpuprofile and V8 .heapprofile. A flame graph and the top-frames table are drawn from them.

import { isRecord } from '../checks.js';
import type { TopFrame } from './profile-contract.js';

/** Stack (root first, frames joined by ";") → samples or bytes. */
export type Folded = Map<string, number>;

export interface PerfFoldOptions {
  /** Path prefixes cut from JS frames' script URLs (file:// is always cut), e.g. the repository root. */
  readonly stripPrefixes?: readonly string[];
}

// A frame line of `perf script`: address, symbol (with +0xoffset), and the binary in parentheses.
// Symbols may contain parentheses themselves (C++ signatures), binaries do not.
const FRAME = /^\s+([0-9a-f]+)\s+(.*?)\s+\(([^()]*)\)\s*$/;

/**
 * Folds `perf script` output fed line by line. Frames are annotated the way stackcollapse-perf.pl
 * does it, so that renderers can colour them: `_[k]` for kernel code, `_[j]` for JIT-compiled
 * JavaScript (named through node's --perf-basic-prof map). The root frame is the thread name.
 */
export class PerfFolder {
  readonly folded: Folded = new Map();
  samples = 0;
  readonly #strip: readonly string[];
  #comm: string | null = null;
  #frames: string[] = [];

  constructor(options: PerfFoldOptions = {}) {
    this.#strip = options.stripPrefixes ?? [];
  }

  push(line: string): void {
    if (line.trim() === '') {
      this.#flush();
      return;
    }
    if (!/^\s/.test(line)) {
      this.#flush();
      // "comm pid[/tid] [cpu] time: period event:": the thread name is everything before the
      // first run of digits that stands alone (thread names may contain spaces).
      const m = /^(.*?)\s+\d+(?:\/\d+)?\s/.exec(line);
      this.#comm = (m?.[1] ?? line.split(/\s+/)[0] ?? 'unknown').trim() || 'unknown';
      this.#frames = [];
      return;
    }
    if (this.#comm === null) return;
    const m = FRAME.exec(line);
    if (m === null) return;
    this.#frames.push(this.#frameName(m[2] ?? '', m[3] ?? ''));
  }

  /** Call after the last line. */
  end(): Folded {
    this.#flush();
    return this.folded;
  }

  #frameName(rawSym: string, dso: string): string {
    let sym = rawSym.replace(/\+0x[0-9a-f]+$/, '');
    const base = dso.split('/').pop() ?? dso;
    if (sym === '' || sym === '[unknown]') sym = dso === '' || dso === '[unknown]' ? '[unknown]' : `[${base}]`;
    sym = sym.replaceAll(';', ':');
    if (dso.startsWith('[kernel') || dso === '[vdso]') return `${sym}_[k]`;
    if (/perf-\d+\.map$/.test(dso)) {
      sym = sym.replace(/file:\/\//g, '');
      for (const p of this.#strip) sym = sym.replaceAll(p, '');
      return `${sym}_[j]`;
    }
    return sym;
  }

  #flush(): void {
    if (this.#comm === null) return;
    // perf prints the leaf first; folded stacks go root first.
    const stack = [this.#comm.replaceAll(';', ':'), ...this.#frames.reverse()].join(';');
    this.folded.set(stack, (this.folded.get(stack) ?? 0) + 1);
    this.samples++;
    this.#comm = null;
    this.#frames = [];
  }
}

/** Folds a whole `perf script` text (tests and small files; the CLI streams into PerfFolder). */
export function foldPerfScript(text: string, options: PerfFoldOptions = {}): Folded {
  const f = new PerfFolder(options);
  for (const line of text.split('\n')) f.push(line);
  return f.end();
}

interface CallFrame {
  functionName?: string;
  url?: string;
  lineNumber?: number;
}

function jsFrameName(cf: CallFrame | undefined, strip: readonly string[]): string {
  const name = cf?.functionName || '(anonymous)';
  let url = (cf?.url ?? '').replace(/^file:\/\//, '');
  for (const p of strip) if (url.startsWith(p)) url = url.slice(p.length);
  const where = url === '' ? '' : ` ${url}:${(cf?.lineNumber ?? -1) + 1}`;
  return `${name}${where}`.replaceAll(';', ':');
}

/** Checks the shape of a V8 CPU profile (Chrome DevTools' format); throws TypeError saying what is wrong. */
export function checkCpuProfile(v: unknown): { nodes: Array<{ id: number; callFrame: CallFrame; children?: number[]; hitCount?: number }>; samples: number[] } {
  if (!isRecord(v)) throw new TypeError('a .cpuprofile must be a JSON object');
  const { nodes, samples, startTime, endTime } = v;
  if (!Array.isArray(nodes) || nodes.length === 0) throw new TypeError('a .cpuprofile needs a non-empty nodes array');
  if (!Array.isArray(samples)) throw new TypeError('a .cpuprofile needs a samples array');
  if (typeof startTime !== 'number' || typeof endTime !== 'number') throw new TypeError('a .cpuprofile needs numeric startTime and endTime');
  for (const n of nodes) {
    if (!isRecord(n) || typeof n['id'] !== 'number' || !isRecord(n['callFrame'])) throw new TypeError('every .cpuprofile node needs an id and a callFrame');
  }
  return v as ReturnType<typeof checkCpuProfile>;
}

/** Folds a V8 CPU profile: one count per sample, stacks from the root's children down. */
export function foldCpuProfile(profile: unknown, stripPrefixes: readonly string[] = []): Folded {
  const p = checkCpuProfile(profile);
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const counts = new Map<number, number>();
  if (p.samples.length > 0) for (const id of p.samples) counts.set(id, (counts.get(id) ?? 0) + 1);
  else for (const n of p.nodes) if ((n.hitCount ?? 0) > 0) counts.set(n.id, n.hitCount ?? 0);
  const folded: Folded = new Map();
  const stackOf = new Map<number, string>();
  const stack = (id: number): string => {
    const known = stackOf.get(id);
    if (known !== undefined) return known;
    const names: string[] = [];
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const node = byId.get(cur);
      if (node === undefined || (node.callFrame.functionName === '(root)' && !parent.has(cur))) break;
      names.push(jsFrameName(node.callFrame, stripPrefixes));
    }
    const s = names.reverse().join(';') || '(root)';
    stackOf.set(id, s);
    return s;
  };
  for (const [id, n] of counts) folded.set(stack(id), (folded.get(stack(id)) ?? 0) + n);
  return folded;
}

interface HeapNode {
  callFrame: CallFrame;
  selfSize: number;
  children?: HeapNode[];
}

/** Checks the shape of a V8 sampling heap profile; throws TypeError saying what is wrong. */
export function checkHeapProfile(v: unknown): { head: HeapNode } {
  if (!isRecord(v) || !isRecord(v['head'])) throw new TypeError('a .heapprofile must be a JSON object with a head node');
  const head = v['head'];
  if (!isRecord(head['callFrame']) || typeof head['selfSize'] !== 'number' || !Array.isArray(head['children'])) {
    throw new TypeError('a .heapprofile head needs a callFrame, a numeric selfSize and a children array');
  }
  return v as unknown as { head: HeapNode };
}

/** Folds a V8 sampling heap profile: bytes allocated (and still live when it was taken) per stack. */
export function foldHeapProfile(profile: unknown, stripPrefixes: readonly string[] = []): Folded {
  const { head } = checkHeapProfile(profile);
  const folded: Folded = new Map();
  const walk = (node: HeapNode, path: string[]): void => {
    const here = [...path, jsFrameName(node.callFrame, stripPrefixes)];
    if (node.selfSize > 0) {
      const key = here.join(';');
      folded.set(key, (folded.get(key) ?? 0) + node.selfSize);
    }
    for (const c of node.children ?? []) walk(c, here);
  };
  // The head is V8's "(root)"; its children are the real roots.
  for (const c of head.children ?? []) walk(c, []);
  return folded;
}

/** Folded stacks as text, one "stack count" line each, heaviest first. */
export function formatFolded(folded: Folded): string {
  return [...folded].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}\n`).join('');
}

/** Parses folded text back (lines "stack count"). */
export function parseFolded(text: string): Folded {
  const out: Folded = new Map();
  for (const line of text.split('\n')) {
    const i = line.lastIndexOf(' ');
    if (i <= 0) continue;
    const n = Number(line.slice(i + 1));
    if (!Number.isFinite(n)) continue;
    const k = line.slice(0, i);
    out.set(k, (out.get(k) ?? 0) + n);
  }
  return out;
}

/**
 * The n frames with the most self time and the n with the most total (inclusive) time. A frame
 * that recurses counts once per stack. skipDepth leaves out the first frames of every stack
 * (perf's thread name), which would otherwise top the total list at 100 %.
 */
export function topFrames(folded: Folded, n = 15, skipDepth = 0): { self: TopFrame[]; total: TopFrame[]; totalValue: number } {
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  let sum = 0;
  for (const [stack, v] of folded) {
    sum += v;
    const frames = stack.split(';').slice(skipDepth);
    const leaf = frames[frames.length - 1];
    if (leaf !== undefined) self.set(leaf, (self.get(leaf) ?? 0) + v);
    for (const f of new Set(frames)) total.set(f, (total.get(f) ?? 0) + v);
  }
  const pct = (x: number): number => (sum === 0 ? 0 : Math.round((x / sum) * 1000) / 10);
  const rows = (m: Map<string, number>, key: 'self' | 'total'): TopFrame[] =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([name]) => {
        const s = self.get(name) ?? 0;
        const t = total.get(name) ?? 0;
        return { name, self: s, total: t, selfPct: pct(s), totalPct: pct(t) };
      })
      .sort((a, b) => b[key] - a[key]);
  return { self: rows(self, 'self'), total: rows(total, 'total'), totalValue: sum };
}
