// A flame graph as one self-contained SVG (no script, no fonts, no network): roots at the
// bottom, callees above their callers, each frame as wide as its share of the samples (or
// bytes). Hovering a frame shows its name, value and share. Colours say what kind of code a
// frame is, so the engine's native frames, libuv, V8, JavaScript and the kernel read apart.

import type { Folded } from './fold.js';

export interface FlameGraphOptions {
  readonly title: string;
  /** A second line under the title (the command, the load). */
  readonly subtitle?: string;
  /** What values count, for tooltips: "samples" or "bytes". */
  readonly unit?: string;
  readonly width?: number;
  /** Frames narrower than this many pixels are left out (with their callees). */
  readonly minWidthPx?: number;
}

interface Node {
  name: string;
  value: number;
  children: Map<string, Node>;
}

const FRAME_H = 16;
const TOP = 58;
const BOTTOM = 34;
const PAD = 10;

export type FrameKind = 'kernel' | 'js' | 'engine' | 'libuv' | 'v8' | 'gc' | 'native';

/** What kind of code a frame name denotes (perf's _[k]/_[j] annotations, or its name). */
export function frameKind(name: string): FrameKind {
  if (name.endsWith('_[k]')) return 'kernel';
  if (name.endsWith('_[j]')) return 'js';
  if (/^\((garbage collector|program|idle)\)/.test(name)) return 'gc';
  if (/\bc1m::|^c1m_/.test(name)) return 'engine';
  if (/^uv_|^uv__|^uws_|^us_|uWS::/.test(name)) return 'libuv';
  if (/^(v8::|node::|Builtins_|napi_|Napi::|v8_|Runtime_|Stub_|BytecodeHandler)/.test(name)) return 'v8';
  // V8 CPU and heap profiles name JS functions with their script: "fn path/to/file.js:12".
  if (/\s\S+\.(m?js|cjs|ts):\d+$/.test(name) || /^\(anonymous\)/.test(name)) return 'js';
  return 'native';
}

const HUES: Record<FrameKind, [number, number, number]> = {
  // [hue, saturation %, base lightness %]
  kernel: [28, 85, 62],
  js: [110, 45, 55],
  engine: [220, 70, 66],
  libuv: [180, 55, 52],
  v8: [50, 80, 56],
  gc: [0, 0, 70],
  native: [5, 70, 62],
};

const LEGEND: Array<[FrameKind, string]> = [
  ['engine', 'c1m engine'],
  ['libuv', 'libuv / uSockets'],
  ['v8', 'V8 / node / N-API'],
  ['js', 'JavaScript'],
  ['native', 'other native (libc, libstdc++)'],
  ['kernel', 'kernel'],
];

function hash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return (h >>> 0) / 4294967295;
}

function colour(name: string): string {
  const [h, s, l] = HUES[frameKind(name)];
  return `hsl(${h},${s}%,${Math.round(l + (hash(name) - 0.5) * 14)}%)`;
}

function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c] ?? c);
}

function buildTree(folded: Folded): Node {
  const root: Node = { name: 'all', value: 0, children: new Map() };
  for (const [stack, v] of folded) {
    if (!(v > 0)) continue;
    root.value += v;
    let node = root;
    for (const name of stack.split(';')) {
      let next = node.children.get(name);
      if (next === undefined) {
        next = { name, value: 0, children: new Map() };
        node.children.set(name, next);
      }
      next.value += v;
      node = next;
    }
  }
  return root;
}

function formatValue(v: number, unit: string): string {
  if (unit === 'bytes') {
    if (v >= 1 << 20) return `${(v / (1 << 20)).toFixed(1)} MiB`;
    if (v >= 1 << 10) return `${(v / (1 << 10)).toFixed(1)} KiB`;
    return `${v} B`;
  }
  return `${v.toLocaleString('en-US')} ${unit}`;
}

/** The SVG text of a flame graph of folded stacks. */
export function renderFlameGraph(folded: Folded, o: FlameGraphOptions): string {
  const width = o.width ?? 1200;
  const unit = o.unit ?? 'samples';
  const minPx = o.minWidthPx ?? 0.3;
  const root = buildTree(folded);
  const scale = root.value > 0 ? (width - 2 * PAD) / root.value : 0;

  interface Placed {
    node: Node;
    x: number;
    w: number;
    depth: number;
  }
  const placed: Placed[] = [];
  let maxDepth = 0;
  const place = (node: Node, x: number, depth: number): void => {
    const w = node.value * scale;
    if (w < minPx) return;
    placed.push({ node, x, w, depth });
    maxDepth = Math.max(maxDepth, depth);
    let cx = x;
    // Alphabetical order, as flamegraph.pl: the x axis is not time, and equal stacks line up.
    for (const child of [...node.children.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      place(child, cx, depth + 1);
      cx += child.value * scale;
    }
  };
  place(root, PAD, 0);

  const height = TOP + (maxDepth + 1) * FRAME_H + BOTTOM;
  const yOf = (depth: number): number => height - BOTTOM - (depth + 1) * FRAME_H;
  const out: string[] = [];
  out.push(
    `<?xml version="1.0" standalone="no"?>`,
    `<svg version="1.1" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" xmlns="http://www.w3.org/2000/svg">`,
    `<style>text{font-family:Verdana,sans-serif;font-size:11px;fill:#000}.t{font-size:16px}.s{font-size:11px;fill:#555}.f:hover rect{stroke:#000;stroke-width:0.5}</style>`,
    `<rect x="0" y="0" width="${width}" height="${height}" fill="#f8f8f4"/>`,
    `<text class="t" x="${width / 2}" y="22" text-anchor="middle">${escapeXml(o.title)}</text>`,
  );
  if (o.subtitle !== undefined) out.push(`<text class="s" x="${width / 2}" y="40" text-anchor="middle">${escapeXml(o.subtitle)}</text>`);
  if (root.value === 0) out.push(`<text x="${width / 2}" y="${TOP + 20}" text-anchor="middle">no samples</text>`);
  for (const p of placed) {
    const pct = ((p.node.value / root.value) * 100).toFixed(2);
    const label = p.depth === 0 ? `all (${formatValue(root.value, unit)})` : p.node.name;
    const tip = `${label} — ${formatValue(p.node.value, unit)}, ${pct}%`;
    const y = yOf(p.depth);
    const fill = p.depth === 0 ? 'hsl(0,0%,80%)' : colour(p.node.name);
    out.push(`<g class="f"><title>${escapeXml(tip)}</title><rect x="${p.x.toFixed(2)}" y="${y}" width="${p.w.toFixed(2)}" height="${FRAME_H - 1}" fill="${fill}" rx="2"/>`);
    const chars = Math.floor((p.w - 6) / 6.6);
    if (chars >= 3) {
      const text = label.length <= chars ? label : `${label.slice(0, chars - 2)}..`;
      out.push(`<text x="${(p.x + 3).toFixed(2)}" y="${y + 11.5}">${escapeXml(text)}</text>`);
    }
    out.push('</g>');
  }
  let lx = PAD;
  const ly = height - 12;
  for (const [kind, text] of LEGEND) {
    const [h, s, l] = HUES[kind];
    out.push(`<rect x="${lx}" y="${ly - 9}" width="10" height="10" fill="hsl(${h},${s}%,${l}%)"/><text class="s" x="${lx + 14}" y="${ly}">${escapeXml(text)}</text>`);
    lx += 24 + text.length * 6.4;
  }
  out.push('</svg>\n');
  return out.join('\n');
}
