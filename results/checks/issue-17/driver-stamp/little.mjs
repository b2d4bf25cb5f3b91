// Mean latency × throughput of every step in this folder's result files (Little's law: the
// messages the latency counts as in flight). Run from the repository after `npm run build`:
//   node results/checks/issue-17/driver-stamp/little.mjs > results/checks/issue-17/driver-stamp/little.txt
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { histogramOf } from '../../../../dist/src/results/histograms.js';

const dir = dirname(fileURLToPath(import.meta.url));
const rows = {};
for (const f of readdirSync(dir).filter((x) => x.endsWith('.json')).sort()) {
  const d = JSON.parse(readFileSync(join(dir, f), 'utf8'));
  for (const r of d.runs) {
    for (const s of r.steps) {
      const mean = histogramOf(s.latencyUs).mean();
      const rate = s.throughput.opsPerSec;
      (rows[`${r.contender} ${s.label}`] ??= []).push(`${f.slice(0, 6)} mean ${Math.round(mean)} µs × ${Math.round(rate)}/s = ${((mean * rate) / 1e6).toFixed(1)} in flight`);
    }
  }
}
for (const [k, v] of Object.entries(rows)) console.log(`${k}\n  ${v.join('\n  ')}`);
