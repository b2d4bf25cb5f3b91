// h2load (nghttp2's load generator, Debian's nghttp2-client) as a driver, when it is on PATH:
// HTTP/1.1 (`--h1`), closed loop only. An independent C client: its pipelining writes every
// request of a connection's window at once (`-m depth`), as real pipelining clients do, and it
// costs far less CPU per request than a JS driver, so a fast server is not hidden behind a busy
// driver.
//
// Ramp: h2load opens its connections when it starts, so the ramp is the shared HTTP probe
// (http-probe.ts), as for autocannon and wrk; the count it was asked for is what the run opens.
//
// Run: one h2load process per target (`-t1`, the ramped connections split over the targets), side
// by side, for the measured duration (`-D`, seconds with fractions) after a warm-up
// (`--warm-up-time`) whose requests h2load leaves out of everything it reports. h2load has no
// JSON: the driver reads two things only. Latency comes from its per-request log (`--log-file`:
// one line per request of the measured period, "start µs <TAB> status <TAB> duration µs"), so
// every request is in our HDR histogram exactly; counts come from its summary lines
// ("requests: … total, … started, … done, … succeeded, … failed, … errored, … timeout",
// "status codes: … 2xx, … 3xx, … 4xx, … 5xx", "traffic: … (BYTES) total"), parsed by
// parseH2loadSummary, which refuses a summary it does not recognise rather than guess.
// `-N` is the response timeout (h2load closes a connection silent that long).

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Histogram } from '../metrics/histogram.js';
import {
  DRIVER_LATENCY_LAYOUT,
  DriverUnavailableError,
  type DriverProbe,
  type DriverCommand,
  type DriverErrors,
  type DriverFactory,
  type DriverImpl,
  type ResolvedDriverConfig,
  type RunResult,
  type Target,
} from './driver-contract.js';
import { findExecutable } from '../system/which.js';
import { HttpToolDriver, stderrTail, targetText, targetUrl, type ToolExit, type ToolMeasurement, type ToolPart } from './tool-process.js';

/** Time allowed past an h2load run's own length (start-up, connects, exit). */
const H2LOAD_EXTRA_MS = 15_000;

/** What h2load's summary says about one run. */
export interface H2loadSummary {
  total: number;
  started: number;
  done: number;
  succeeded: number;
  failed: number;
  errored: number;
  timeout: number;
  status: { '2xx': number; '3xx': number; '4xx': number; '5xx': number };
  /** Bytes received (headers and bodies). */
  bytes: number;
}

const num = (s: string): number => {
  const v = Number(s);
  if (!Number.isFinite(v) || v < 0) throw new Error(`not a count: ${s}`);
  return v;
};

/**
 * Parses the summary h2load prints (nghttp2 1.4x–1.6x). Returns null when a line it needs is
 * missing or changed shape, so a new format is reported as unreadable, never half-read.
 */
export function parseH2loadSummary(stdout: string): H2loadSummary | null {
  const req = /^requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout$/m.exec(stdout);
  const codes = /^status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx$/m.exec(stdout);
  const traffic = /^traffic: \S+ \((\d+)\) total,/m.exec(stdout);
  if (req === null || codes === null || traffic === null) return null;
  try {
    const [total, started, done, succeeded, failed, errored, timeout] = req.slice(1, 8).map(num) as [number, number, number, number, number, number, number];
    const [s2, s3, s4, s5] = codes.slice(1, 5).map(num) as [number, number, number, number];
    return { total, started, done, succeeded, failed, errored, timeout, status: { '2xx': s2, '3xx': s3, '4xx': s4, '5xx': s5 }, bytes: num(traffic[1]!) };
  } catch {
    return null;
  }
}

/**
 * Reads h2load's per-request log into a histogram of durations (µs): one line per request,
 * "start µs \t status \t duration µs". Returns the histogram and the count of lines whose status
 * is not 2xx; throws on a malformed line.
 */
export function readH2loadLog(text: string): { latency: Histogram; lines: number; non2xx: number } {
  const h = new Histogram(DRIVER_LATENCY_LAYOUT.lowest, DRIVER_LATENCY_LAYOUT.highest, DRIVER_LATENCY_LAYOUT.digits);
  let lines = 0;
  let non2xx = 0;
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const m = /^(\d+)\t(-?\d+)\t(\d+)$/.exec(line);
    if (m === null) throw new Error(`h2load log line ${lines + 1} is not "start<TAB>status<TAB>duration": ${JSON.stringify(line.slice(0, 80))}`);
    lines++;
    const status = Number(m[2]);
    if (status < 200 || status > 299) non2xx++;
    h.record(Math.max(1, Number(m[3])));
  }
  return { latency: h, lines, non2xx };
}

/** How an h2load run ended, with its per-request log (null when it wrote none). */
interface H2loadExit extends ToolExit {
  log: string | null;
}

/** A duration as h2load's options read it: an integer with a unit, so whole milliseconds ("2500ms"), at least 1 ms. */
function secs(ms: number): string {
  return `${Math.max(1, Math.round(ms))}ms`;
}

class H2loadDriver extends HttpToolDriver {
  constructor(config: ResolvedDriverConfig, h2load: string, notes: string[]) {
    super('h2load', config, h2load, notes);
  }

  protected async measure(dir: string, parts: ToolPart[], cmd: Extract<DriverCommand, { type: 'run' }>): Promise<ToolMeasurement> {
    const exits = await Promise.all(parts.map((p, i) => this.#spawn(join(dir, `log-${i}`), p.target, p.connections, cmd.warmupMs, cmd.durationMs)));
    return { results: exits.map((x, i) => this.#result(x, parts[i]!.target, parts[i]!.connections, cmd.durationMs)) };
  }

  async #spawn(logFile: string, target: Target, connections: number, warmupMs: number, durationMs: number): Promise<H2loadExit> {
    const c = this.config;
    const args = [
      '--h1', '-t1', `-c${connections}`, `-m${c.depth}`, `-D${secs(durationMs)}`, `-N${secs(c.responseTimeoutMs)}`, `--log-file=${logFile}`,
      ...(warmupMs > 0 ? [`--warm-up-time=${secs(warmupMs)}`] : []),
      targetUrl(c, target),
    ];
    const x = await this.tools.run(this.exe, args, warmupMs + durationMs + H2LOAD_EXTRA_MS);
    let log: string | null = null;
    try {
      log = readFileSync(logFile, 'utf8');
    } catch {
      // No log: h2load did not get as far as the measured period.
    }
    return { ...x, log };
  }

  #result(x: H2loadExit, target: Target, connections: number, durationMs: number): RunResult {
    const at = targetText(target);
    const stderr = stderrTail(x.stderr);
    if (x.timedOut) throw new Error(`h2load against ${at} did not finish within its bound and was killed${stderr ? `: ${stderr}` : ''}`);
    if (this.tools.closed) throw new Error('h2load driver closed during the run');
    const summary = parseH2loadSummary(x.stdout);
    if (summary === null || x.log === null) {
      throw new Error(`h2load against ${at} exited (${x.signal ?? `code ${x.code}`}) without a summary this driver can read${stderr ? `: ${stderr}` : ''}${x.stdout ? `; stdout ends: ${JSON.stringify(x.stdout.slice(-300))}` : ''}`);
    }
    const log = readH2loadLog(x.log);
    const warnings: string[] = [];
    const answered = summary.succeeded;
    const non2xx = summary.status['3xx'] + summary.status['4xx'] + summary.status['5xx'];
    const errors: DriverErrors = {
      connect: 0,
      read: summary.errored,
      write: 0,
      timeout: summary.timeout,
      protocol: non2xx,
    };
    if (log.lines !== summary.done) warnings.push(`h2load against ${at}: its log holds ${log.lines} requests, its summary ${summary.done} done`);
    if (summary.failed > 0) warnings.push(`h2load against ${at}: ${summary.failed} requests failed (${summary.errored} errored, ${summary.timeout} timed out)`);
    if (non2xx > 0) warnings.push(`h2load against ${at}: ${non2xx} answers were not 2xx`);
    const seconds = durationMs / 1000;
    const result: RunResult = {
      durationMs,
      connections,
      ops: answered,
      bytes: summary.bytes,
      opsPerSec: answered / seconds,
      bytesPerSec: summary.bytes / seconds,
      latency: log.latency.toJSON(),
      errors,
      cpu: { userMs: 0, sysMs: 0, pct: 0 },
      clientBound: false,
      extra: {
        requests: summary.total,
        started: summary.started,
        done: summary.done,
        succeeded: summary.succeeded,
        failed: summary.failed,
        connectionsTarget: connections,
        h2loadProcesses: 1,
      },
    };
    if (warnings.length > 0) result.warnings = warnings;
    return result;
  }
}

const H2LOAD_MISSING = 'h2load is not installed (apt-get install nghttp2-client)';

export const probe: DriverProbe = async () => (findExecutable('h2load') === null ? H2LOAD_MISSING : true);

export const createDriver: DriverFactory = async (c: ResolvedDriverConfig): Promise<DriverImpl> => {
  if (c.protocol !== 'http-hello') throw new DriverUnavailableError(`h2load is used here for HTTP/1.1 only, not ${c.protocol}`);
  if (c.mode !== 'closed') {
    throw new DriverUnavailableError(
      c.mode === 'idle' ? 'h2load cannot hold idle connections: it sends requests on every connection it opens' : 'h2load has no open-loop request schedule (its --rate paces connections, not requests)',
    );
  }
  const h2load = findExecutable('h2load');
  if (h2load === null) throw new DriverUnavailableError(H2LOAD_MISSING);
  const notes: string[] = [];
  if (c.sourceAddresses !== undefined && c.sourceAddresses.length > 0) {
    notes.push('h2load cannot bind source addresses: sourceAddresses ignored (all connections come from the default address)');
  }
  return new H2loadDriver(c, h2load, notes);
};
