// The capacity table (the million-connection runs): per contender × protocol, how many
// connections were held, how long establishing them took, what each cost in user space and in
// the kernel, and what the whole run held. Pure: result files in, markdown out. The per-connection
// figures are the run's recorded memory fits (summary.fit), as in every other report.
import { perConnection } from '../results/fit.js';
import type { LoadedResult } from '../results/schema.js';

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const int = (v: number | null): string => (v === null ? '—' : Math.round(v).toLocaleString('en-US'));
const bytes = (v: number | null): string => {
  if (v === null) return '—';
  if (v >= 2 ** 30) return `${(v / 2 ** 30).toFixed(1)} GiB`;
  if (v >= 2 ** 20) return `${(v / 2 ** 20).toFixed(1)} MiB`;
  if (v >= 1024) return `${(v / 1024).toFixed(2)} KiB`;
  return `${v.toFixed(1)} B`;
};

/** One markdown table row per run (skipped runs say why; failed ones say where and why). */
export function renderCapacityMarkdown(results: readonly LoadedResult[]): string {
  const lines = [
    '| contender | protocol | connections held | time to establish | connect rate | user B/conn (RSS slope) | outside JS heap B/conn | engine B/conn (own count) | kernel B/conn (slab) | whole run at the top (MemAvailable drop) | server RSS at the top | outcome |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|',
  ];
  for (const { result } of results) {
    for (const run of result.runs) {
      const fit = run.summary?.fit;
      const ramps = run.ramps ?? [];
      const establishMs = ramps.length > 0 ? ramps.reduce((a, x) => a + (num(x.ms) ?? 0), 0) : null;
      const last = run.steps.at(-1);
      const target = num(result.params['connections']);
      const held = num(run.summary?.maxConnections);
      const rate = num(run.summary?.connectRatePerSec);
      const warnings = run.warnings ?? [];
      const outcome = run.skipped
        ? `skipped: ${run.skipped}`
        : !run.ok
          ? `stopped: ${run.error ?? 'unknown'}`
          : target !== null && held !== null && held < target
            ? `reached ${int(held)} of ${int(target)}: ${warnings[0] ?? 'ramps fell short'}`
            : 'held';
      const perConn = [fit?.bytesPerConnection, fit?.nonHeapBytesPerConnection, fit?.engineBytesPerConnection, fit?.kernelBytesPerConnection].map((f) => bytes(perConnection(f)));
      lines.push(`| ${run.contender} | ${run.protocol} | ${int(held)} | ${establishMs === null ? '—' : `${(establishMs / 1000).toFixed(1)} s`} | ${rate === null ? '—' : `${int(rate)}/s`} | ${perConn.join(' | ')} | ${bytes(num(last?.kernel?.memUsedBytes))} | ${bytes(num(last?.server?.rssBytes))} | ${outcome.replaceAll('|', '\\|')} |`);
    }
  }
  const env = results[0]?.result.env;
  const machine = env ? `${env.cpus ?? '?'} × ${env.cpuModel ?? '?'}, ${bytes(num(env.memTotalBytes))} RAM, Linux ${env.kernel ?? '?'}, Node ${env.node ?? '?'}, nofile ${env.nofileSoft ?? '?'}` : 'unknown machine';
  return [
    `Machine: ${machine}.`,
    '',
    ...lines,
    '',
    'Time to establish is the sum of the ramps (the steps in between are not counted). "Engine B/conn" is the epoll engine\'s own exact count of what it holds; "outside JS heap" is the RSS slope minus V8\'s committed heap; "user B/conn" is the plain RSS slope (— when V8 resized its heap between steps and the slope came out negative).',
    '',
  ].join('\n');
}
