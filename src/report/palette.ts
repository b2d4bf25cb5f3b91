// The colour of each contender, the same on every chart and table swatch of every report: a fixed
// palette keyed by contender name, so epoll is the same blue in this week's report and last
// week's, and the two engine contenders of one backend (epoll and epoll-native) read as two
// clearly different hues rather than two shades of one. A contender the palette does not know
// takes the first spare colour not already in use, in the order the files ran them.

import type { LoadedResult } from '../results/schema.js';

/** Every contender the project ships, each with its own hue. */
export const CONTENDER_COLORS: Readonly<Record<string, string>> = {
  epoll: '#1f5fbf',
  'epoll-native': '#c8307c',
  net: '#e8830c',
  uws: '#23945a',
  'c-ref': '#5f6b7a',
  uring: '#7c4dbb',
  'uring-native': '#0f9fb0',
  'c-ref-uring': '#8b5a2b',
};

const SPARE = ['#b89b00', '#d9453b', '#5b8c00', '#9c4f96', '#3b6e8f', '#a0522d'];

/** Every contender of the given files, each with a colour that stays the same on every chart. */
export function contenderColors(results: readonly LoadedResult[]): Record<string, string> {
  const colors = new Map<string, string>();
  const names = [...new Set(results.flatMap((l) => l.result.runs.map((r) => r.contender)))];
  for (const name of names) if (Object.hasOwn(CONTENDER_COLORS, name)) colors.set(name, CONTENDER_COLORS[name]!);
  const used = new Set(colors.values());
  let next = 0;
  for (const name of names) {
    if (colors.has(name)) continue;
    while (next < SPARE.length && used.has(SPARE[next]!)) next++;
    // Past the spares, colours repeat; the legend's names still tell the series apart.
    const color = SPARE[next % SPARE.length]!;
    next++;
    used.add(color);
    colors.set(name, color);
  }
  return Object.fromEntries(names.map((n) => [n, colors.get(n)!]));
}
