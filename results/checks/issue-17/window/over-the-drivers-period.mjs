// Re-reads a result file with each load step's ops per server CPU-second scaled by windowMs / the
// driver's duration: what the figure is when the server's CPU is counted over the driver's period
// only, assuming the server was idle in the rest of the old window (the driver had stopped).
const { loadResults } = await import('../../../../dist/src/results/load.js');
const { checkTargets } = await import('../../../../dist/src/report/targets.js');
const { formatRatio } = await import('../../../../dist/src/results/ratio.js');
const f = process.argv[2];
const { results } = await loadResults([f]);
const before = checkTargets(results);
const dur = Number(results[0].result.params.duration) * 1000;
for (const run of results[0].result.runs) for (const s of run.steps) if (s.throughput && typeof s.windowMs === 'number' && s.windowMs > dur) s.throughput.opsPerServerCpuSec *= dur / s.windowMs;
const after = checkTargets(results);
for (const a of after) {
  const b = before.find((x) => x.target === a.target && x.step === a.step);
  if (!a.estimate || !b?.estimate) continue;
  console.log(`${a.target.what} | ${a.step} | as recorded ${formatRatio(b.estimate)} ${b.verdict} | over the driver's period ${formatRatio(a.estimate)} ${a.verdict}`);
}
