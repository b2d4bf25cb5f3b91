// The capacity view (the million-connection runs): per contender × protocol, how many
// connections were held, how long establishing them took, what each cost in user space and in
// the kernel, and what the whole run held; and the chart of what a connection costs against how
// many are held, one line per contender, on a log axis to 1,000,000. Pure: result files in,
// rows, markdown and chart data out. The per-connection figures are the runs' recorded memory
// fits (summary.fit), as in every other report.
import { FIT_FIGURES, perConnection } from '../results/fit.js';
import { establishMs } from '../results/summary.js';
import { checkTargets, TARGETS, targetsMarkdown } from './targets.js';
import type { FitKey, LoadedResult, Run } from '../results/schema.js';
import type { LegendEntry } from './charts.js';
import { COMPARED_METRICS, metricText, stat } from './model.js';

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const int = (v: number | null): string => (v === null ? '—' : Math.round(v).toLocaleString('en-US'));
const bytes = (v: number | null): string => {
  if (v === null) return '—';
  if (v >= 2 ** 30) return `${(v / 2 ** 30).toFixed(1)} GiB`;
  if (v >= 2 ** 20) return `${(v / 2 ** 20).toFixed(1)} MiB`;
  if (v >= 1024) return `${(v / 1024).toFixed(2)} KiB`;
  return `${v.toFixed(1)} B`;
};

/** The headings of the capacity table, in order; the figures of a CapacityRow follow them. */
export const CAPACITY_HEADINGS = [
  'contender',
  'protocol',
  'connections held',
  'time to establish',
  'connect rate',
  'user B/conn (RSS slope)',
  'outside JS heap B/conn',
  'engine B/conn (own count)',
  'kernel B/conn (slab)',
  'whole run at the top (MemAvailable drop)',
  'server RSS at the top',
  'outcome',
] as const;

/** Which headings are figures (right-aligned). */
export const CAPACITY_NUMERIC: readonly boolean[] = CAPACITY_HEADINGS.map((h) => !['contender', 'protocol', 'outcome'].includes(h));

export interface CapacityRow {
  file: string;
  contender: string;
  protocol: string;
  /** One text per CAPACITY_HEADINGS entry. */
  cells: string[];
}

export const CAPACITY_NOTE =
  'Time to establish is the sum of the ramps (the steps in between are not counted). "Engine B/conn" is the epoll engine\'s own exact count of what it holds; "outside JS heap" is the RSS slope minus V8\'s committed heap; "user B/conn" is the plain RSS slope (— when V8 resized its heap between steps and the slope came out negative).';

/** One row per run (skipped runs say why; failed ones say where and why). */
export function capacityRows(results: readonly LoadedResult[]): CapacityRow[] {
  const rows: CapacityRow[] = [];
  for (const { file, result } of results) {
    for (const run of result.runs) {
      const fit = run.summary?.fit;
      const establish = establishMs(run);
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
      rows.push({
        file,
        contender: run.contender,
        protocol: run.protocol,
        cells: [
          run.contender,
          run.protocol,
          int(held),
          establish === null ? '—' : `${(establish / 1000).toFixed(1)} s`,
          rate === null ? '—' : `${int(rate)}/s`,
          ...perConn,
          bytes(num(last?.kernel?.memUsedBytes)),
          bytes(num(last?.server?.rssBytes)),
          outcome,
        ],
      });
    }
  }
  return rows;
}

/** A file's machine, in one line. */
function machineOf(l: LoadedResult): string {
  const env = l.result.env;
  return env ? `${env.cpus ?? '?'} × ${env.cpuModel ?? '?'}, ${bytes(num(env.memTotalBytes))} RAM, Linux ${env.kernel ?? '?'}, Node ${env.node ?? '?'}, nofile ${env.nofileSoft ?? '?'}` : 'unknown machine';
}

/** The distinct machines of the files, in file order: one line each. */
export function capacityMachines(results: readonly LoadedResult[]): string[] {
  return [...new Set(results.map(machineOf))];
}

/**
 * The table as markdown under the machine it was measured on. Files from more than one machine
 * (a VM that moved host, a re-run of some contenders) are not silently put under the first
 * one's: the machines are listed by letter and each row says which it ran on, and when.
 */
export function renderCapacityMarkdown(results: readonly LoadedResult[]): string {
  const machines = capacityMachines(results);
  const several = machines.length > 1;
  const letter = (i: number): string => String.fromCharCode(65 + i);
  const machineOfFile = new Map(results.map((l) => [l.file, letter(machines.indexOf(machineOf(l)))]));
  const dayOfFile = new Map(results.map((l) => [l.file, l.result.startedAt.slice(0, 10)]));
  const headings = several ? [...CAPACITY_HEADINGS, 'machine, day'] : [...CAPACITY_HEADINGS];
  const numeric = several ? [...CAPACITY_NUMERIC, false] : CAPACITY_NUMERIC;
  const lines = [
    `| ${headings.join(' | ')} |`,
    `|${numeric.map((n) => (n ? '---:' : '---')).join('|')}|`,
    ...capacityRows(results).map((r) => {
      const cells = several ? [...r.cells, `${machineOfFile.get(r.file)}, ${dayOfFile.get(r.file)}`] : r.cells;
      return `| ${cells.map((c) => c.replaceAll('|', '\\|')).join(' | ')} |`;
    }),
  ];
  const head = several ? `Machines: ${machines.map((m, i) => `(${letter(i)}) ${m}`).join('; ')}. Figures from different machines do not compare directly.` : `Machine: ${machines[0] ?? 'unknown machine'}.`;
  // The targets on the million-connection runs themselves (time to establish), from the newest file that has them.
  const targets = targetsMarkdown(checkTargets(results, TARGETS.filter((t) => t.atConnections !== undefined)));
  return [head, '', ...lines, '', CAPACITY_NOTE, '', ...(targets === '' ? [] : ['Targets:', '', targets])].join('\n');
}

/** What a connection costs against how many are held: one line per contender (and protocol, and file when one pair is in several). */
export interface PerConnectionChart {
  kind: 'perConn';
  id: string;
  title: string;
  caption: string;
  legend: LegendEntry[];
  yLog: boolean;
  /** The x axis runs at least to this many connections: a million when some run held a tenth of that. */
  xMax: number;
  points: Array<{ contender: string; series: string; dashed: boolean; connections: number; bytes: number }>;
}

/** The connection count every capacity chart reaches on its x axis. */
export const CAPACITY_CONNECTIONS = 1_000_000;

/**
 * Bytes per connection at each fitted step of each ok run: the step's memory above its fit's
 * intercept (the memory at zero connections), divided by its connections. A flat line is a
 * connection that costs the same however many are held, and the points converge on the slope,
 * the figure the tables give. A run whose slope came out negative is left out of the lines and
 * says "—" in the legend, as the tables do.
 */
export function perConnectionChart(files: readonly LoadedResult[], id: string, what: 'user' | 'kernel', letters?: readonly string[]): PerConnectionChart | null {
  const key: FitKey = what === 'user' ? 'bytesPerConnection' : 'kernelBytesPerConnection';
  const metric = COMPARED_METRICS.find((m) => m.id === key)!;
  const figure = FIT_FIGURES[key];
  const runs: Array<{ run: Run; file: number }> = [];
  files.forEach((l, file) => l.result.runs.forEach((run) => run.ok && !run.skipped && runs.push({ run, file })));
  const pairKey = (r: Run): string => `${r.contender} · ${r.protocol}`;
  const filesOf = new Map<string, Set<number>>();
  for (const { run, file } of runs) filesOf.set(pairKey(run), (filesOf.get(pairKey(run)) ?? new Set()).add(file));
  const protocols = [...new Set(runs.map(({ run }) => run.protocol))];
  const points: PerConnectionChart['points'] = [];
  const legend: LegendEntry[] = [];
  const seriesRuns = new Map<string, Run[]>();
  for (const { run, file } of runs) {
    const pair = pairKey(run);
    const several = (filesOf.get(pair)?.size ?? 0) > 1;
    const series = several ? `${pair} · ${letters?.[file] ?? `file ${file + 1}`}` : pair;
    seriesRuns.set(series, [...(seriesRuns.get(series) ?? []), run]);
    const line = run.summary?.fit?.[key];
    if (!line || perConnection(line) === null) continue;
    for (const i of line.steps) {
      const step = run.steps[i];
      const x = num(step?.connections);
      const y = step ? num(figure.read(step)) : null;
      if (x === null || y === null || x <= 0) continue;
      points.push({ contender: run.contender, series, dashed: protocols.indexOf(run.protocol) > 0, connections: x, bytes: (y - line.intercept) / x });
    }
  }
  for (const [series, own] of seriesRuns) {
    if (!own.some((r) => r.summary?.fit?.[key])) continue;
    const value = stat(own.map(metric.pick));
    legend.push({ contender: own[0]!.contender, text: `${series.slice(own[0]!.contender.length + 3)} ${metricText(metric, value)}${value ? '/conn' : ' (slope below zero)'}`, ...(protocols.indexOf(own[0]!.protocol) > 0 ? { dashed: true } : {}) });
  }
  if (points.length === 0) return null;
  const ys = points.map((p) => p.bytes).filter((y) => y > 0);
  const yLog = ys.length === points.length && Math.max(...ys) / Math.min(...ys) >= 20;
  const user = what === 'user';
  return {
    kind: 'perConn',
    id,
    title: user ? 'Bytes per connection (server RSS)' : 'Kernel bytes per connection (Slab)',
    caption: `${user ? 'Server resident memory' : 'Kernel Slab growth'} at each step above the run's fitted memory at zero connections, divided by the connections held: a flat line is a connection that costs the same at any scale; the legend gives the fitted slope, as the tables do (— when it came out negative, and then no line).${protocols.length > 1 ? ` Dashed: ${protocols.slice(1).join(', ')}.` : ''} Log scale of connections.`,
    legend,
    yLog,
    // A capacity run's axis reaches a million, so runs of several sizes read against the target.
    xMax: Math.max(...points.map((p) => p.connections)) >= CAPACITY_CONNECTIONS / 10 ? CAPACITY_CONNECTIONS : Math.max(...points.map((p) => p.connections)),
    points,
  };
}
