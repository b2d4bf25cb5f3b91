// Server CPU per request, user space and kernel, per contender and step: the morning reference
// file against an afternoon run of the same scenario with the same parameters, with the
// afternoon's host probe (step.host: each window's mean probe over the file's fastest probe).
// Operations are counted over the driver's period (ops/s × the phase's duration), so the
// morning file's h2load windows, which ran past the driver's count, give the right CPU per op.
// Usage: node per-op-then-and-now.mjs <morning.json> <afternoon.json>
import { readFileSync } from 'node:fs';

const [morning, afternoon] = process.argv.slice(2).map((f) => ({ f, r: JSON.parse(readFileSync(f, 'utf8')) }));
if (morning === undefined || afternoon === undefined) throw new Error('usage: node per-op-then-and-now.mjs <morning.json> <afternoon.json>');

function perOp({ r }) {
  const durationMs = Number(r.params.duration) * 1000;
  const fastest = Math.min(...r.runs.flatMap((x) => x.steps.map((s) => s.host?.minUs ?? Infinity)));
  const acc = new Map();
  for (const run of r.runs) {
    if (!run.ok) continue;
    for (const s of run.steps) {
      const key = `${run.contender}\u0000${s.label}`;
      const a = acc.get(key) ?? { user: 0, sys: 0, ops: 0, host: [] };
      a.user += s.server.cpuUserMs;
      a.sys += s.server.cpuSysMs;
      a.ops += (s.throughput.opsPerSec * durationMs) / 1000;
      if (typeof s.host?.meanUs === 'number') a.host.push(s.host.meanUs / fastest);
      acc.set(key, a);
    }
  }
  return acc;
}

const a = perOp(morning), b = perOp(afternoon);
const f = (x) => x.toFixed(2);
console.log(`morning: ${morning.f} (${morning.r.startedAt}); afternoon: ${afternoon.f} (${afternoon.r.startedAt})`);
console.log('contender      | step                         | user µs/op then → now (×) | kernel µs/op then → now (×) | host now (× fastest)');
for (const [key, x] of a) {
  const y = b.get(key);
  if (y === undefined) continue;
  const [c, label] = key.split('\u0000');
  const [ux, sx, uy, sy] = [(x.user * 1000) / x.ops, (x.sys * 1000) / x.ops, (y.user * 1000) / y.ops, (y.sys * 1000) / y.ops];
  const host = y.host.length ? `${f(Math.min(...y.host))}–${f(Math.max(...y.host))}` : '—';
  console.log(`${c.padEnd(14)} | ${label.slice(0, 28).padEnd(28)} | ${f(ux)} → ${f(uy)} (${f(uy / ux)}×)`.padEnd(76) + ` | ${f(sx)} → ${f(sy)} (${f(sy / sx)}×)`.padEnd(30) + ` | ${host}`);
}
