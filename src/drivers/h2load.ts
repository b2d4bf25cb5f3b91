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
// by side, for the measured duration (`-D`, whole milliseconds) after a warm-up
// (`--warm-up-time`) whose requests h2load leaves out of everything it reports. h2load has no
// JSON, and in timing mode its summary cannot be trusted for losses (see h2loadLosses), so the
// driver reads: its per-request log (`--log-file`: one line per request closed in the measured
// period, "start µs <TAB> status <TAB> duration µs", status -1 for a failed one), which gives the
// answers, their statuses and every answer's latency exactly; its stdout lines "Main benchmark
// duration is started/over", timed as they arrive, which give the window on the wall clock; the
// sockets it holds, read from /proc/<pid>/fd every TOOL_CPU_POLL_MS in the window; and of its
// summary ("requests: …", "status codes: …", "traffic: … (BYTES) total", parsed by
// parseH2loadSummary, which refuses a summary it does not recognise rather than guess) only the
// bytes and, for comparison, the counts. ops are the 2xx answers; every other answer is a
// protocol error; `latency` holds every answer, never a failed line. No `-N` (see #spawn).
// CPU: h2load's own, read from /proc between its "started" and "over" lines.

import { closeSync, openSync, readdirSync, readlinkSync, readSync } from 'node:fs';
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
import { isClientBound, TOOL_CPU_POLL_MS, type ToolCpu } from './cpu.js';
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

/** What h2load's per-request log says about the measured period. */
export interface H2loadLog {
  /** Every answered request's duration (µs); failed lines (status -1) are not answers and are left out. */
  latency: Histogram;
  lines: number;
  /** Lines with a status (answers), 2xx among them, the others (1xx, 3xx, 4xx, 5xx). */
  answered: number;
  ok2xx: number;
  non2xx: number;
  /** Lines with status -1: requests h2load closed as failed. */
  failed: number;
  /** When the last answer ended (start + duration), µs since the epoch; null without answers. */
  lastAnswerEndUs: number | null;
}

/** Adds one line of h2load's per-request log to `out`; throws on a malformed line. */
function addLogLine(out: H2loadLog, line: string): void {
  if (line === '') return;
  const m = /^(\d+)\t(-?\d+)\t(\d+)$/.exec(line);
  if (m === null) throw new Error(`h2load log line ${out.lines + 1} is not "start<TAB>status<TAB>duration": ${JSON.stringify(line.slice(0, 80))}`);
  out.lines++;
  const status = Number(m[2]);
  if (status < 0) {
    out.failed++;
    return;
  }
  out.answered++;
  if (status >= 200 && status <= 299) out.ok2xx++;
  else out.non2xx++;
  const duration = Number(m[3]);
  out.latency.record(Math.max(1, duration));
  const end = Number(m[1]) + duration;
  if (out.lastAnswerEndUs === null || end > out.lastAnswerEndUs) out.lastAnswerEndUs = end;
}

function emptyLog(): H2loadLog {
  const h = new Histogram(DRIVER_LATENCY_LAYOUT.lowest, DRIVER_LATENCY_LAYOUT.highest, DRIVER_LATENCY_LAYOUT.digits);
  return { latency: h, lines: 0, answered: 0, ok2xx: 0, non2xx: 0, failed: 0, lastAnswerEndUs: null };
}

/**
 * Reads h2load's per-request log: one line per request closed in the measured period,
 * "start µs since the epoch \t status (-1: failed) \t duration µs". Throws on a malformed line.
 */
export function readH2loadLog(text: string): H2loadLog {
  const out = emptyLog();
  for (const line of text.split('\n')) addLogLine(out, line);
  return out;
}

/** Bytes of the log read at a time by readH2loadLogFile. */
const LOG_CHUNK_BYTES = 4 << 20;

/**
 * readH2loadLog over a file, a chunk at a time: a pipelined window writes about 25 bytes per
 * request, and 8.7 million requests in 10 s have been seen here, so a longer or faster window's
 * log can pass the longest string V8 makes (about 512 MiB) and must not be read whole. Null when
 * there is no file (h2load did not get as far as the measured period).
 */
export function readH2loadLogFile(path: string): H2loadLog | null {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return null;
  }
  try {
    const out = emptyLog();
    const buf = Buffer.allocUnsafe(LOG_CHUNK_BYTES);
    let rest = '';
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      // Lines are ASCII, so a chunk boundary never splits a character.
      const lines = (rest + buf.toString('latin1', 0, n)).split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines) addLogLine(out, line);
    }
    addLogLine(out, rest);
    return out;
  } finally {
    closeSync(fd);
  }
}

/** What the driver saw of one h2load process while it ran (wall-clock ms, socket counts from /proc). */
export interface H2loadWatch {
  /** Date.now() when h2load said its main duration started, and when it said it was over; null if it never did. */
  windowStartMs: number | null;
  windowEndMs: number | null;
  /** Sockets h2load held: the most seen in the window, and at the last reading before its end; null when not readable. */
  socketsPeak: number | null;
  socketsAtEnd: number | null;
}

/** How the losses h2load does not report are counted (pure: tests feed it made-up figures). */
export interface H2loadLosses {
  errors: DriverErrors;
  /** Errors before the window: connections that never showed up in it (lost in the warm-up, or never connected). */
  warmupErrors: DriverErrors;
  /** Connections up at the window's end; null when unknown. */
  connectionsAtEnd: number | null;
  /** Connections h2load closed during the window (it does not reconnect). */
  connectionsLost: number;
  /** Connections that were never open during the window. */
  connectionsMissing: number;
  /** How long before the window's end the last answer came; null when the window's end is unknown. */
  silentTailMs: number | null;
  warnings: string[];
}

/**
 * A silent stretch at the window's end longer than this (and than a tenth of the window, and than
 * ten mean gaps between answers) means no connection was being answered any more, not the
 * ordinary gap between answers.
 */
export const H2LOAD_SILENT_TAIL_MS = 250;

/**
 * The losses h2load 1.52 hides. In timing mode (-D) its summary folds the requests a broken
 * connection abandoned back out again (print_stats: failed += total - status_success - failed, so
 * "failed" and "errored" read 0 after a reset), and it never reconnects. What can be trusted: its
 * log (answers and their statuses, failed lines, when the last answer came), its `timeout` count
 * (-N), and the sockets it holds, read from /proc/<pid>/fd while it runs. A connection h2load
 * closed during the window had `depth` requests in flight (it keeps -m requests outstanding per
 * connection; it sends the next one on each answer), so each counts `depth` read errors (a reset or
 * a hang-up; h2load does not say which). Requests still in flight when the window ends on
 * connections that are up are not errors: they are at most connections × depth, and h2load drops
 * them when it stops. A connection the readings missed (closed after the last of them, which
 * stop a margin before the end) is counted as up.
 */
export function h2loadLosses(
  at: string,
  log: H2loadLog,
  watch: H2loadWatch,
  summary: Pick<H2loadSummary, 'timeout'>,
  o: { connections: number; depth: number; durationMs: number; warmupMs: number; responseTimeoutMs: number },
): H2loadLosses {
  const errors: DriverErrors = { connect: 0, read: log.failed, write: 0, timeout: summary.timeout, protocol: log.non2xx };
  const warmupErrors: DriverErrors = { connect: 0, read: 0, write: 0, timeout: 0, protocol: 0 };
  const warnings: string[] = [];
  let connectionsAtEnd: number | null = null;
  let lost = 0;
  let missing = 0;
  if (watch.socketsPeak !== null && watch.socketsAtEnd !== null) {
    connectionsAtEnd = Math.min(o.connections, watch.socketsAtEnd);
    const peak = Math.min(o.connections, Math.max(watch.socketsPeak, connectionsAtEnd));
    lost = peak - connectionsAtEnd;
    missing = o.connections - peak;
    if (lost > 0) {
      errors.read += lost * o.depth;
      warnings.push(`h2load against ${at}: ${lost} of its ${o.connections} connections were closed during the window (reset or hung up; h2load does not reconnect); their ${lost * o.depth} requests in flight are counted as read errors`);
    }
    if (missing > 0) {
      // With a warm-up they were lost in it (h2load reports nothing of its warm-up); without one they never connected.
      if (o.warmupMs > 0) warmupErrors.read += missing * o.depth;
      else errors.connect += missing;
      warnings.push(`h2load against ${at}: ${missing} of its ${o.connections} connections were never open during the window (${o.warmupMs > 0 ? `lost in the warm-up or never connected: counted as ${missing * o.depth} read errors of the warm-up` : 'never connected: counted as connect errors'})`);
    }
  } else {
    warnings.push(`h2load against ${at}: its sockets could not be read while it ran, so how many of its ${o.connections} connections were up is unknown (reported as the target) and connections it lost are not counted`);
  }
  let silentTailMs: number | null = null;
  if (watch.windowEndMs !== null) {
    const lastMs = log.lastAnswerEndUs !== null ? log.lastAnswerEndUs / 1000 : watch.windowStartMs;
    silentTailMs = lastMs === null ? null : Math.max(0, Math.round(watch.windowEndMs - lastMs));
  }
  // In a closed loop h2load sends a request only on an answer (or at connect) and never
  // reconnects, so when no connection was answered for the last silentTailMs, every request in
  // flight on a connection still up had waited at least that long: past the response timeout
  // they are timeouts (h2load's own -N would abort it, see H2loadDriver).
  const upAtEnd = connectionsAtEnd ?? 0;
  if (silentTailMs !== null && silentTailMs >= o.responseTimeoutMs && upAtEnd > 0) {
    errors.timeout += upAtEnd * o.depth;
    warnings.push(`h2load against ${at}: ${upAtEnd * o.depth} requests on its ${upAtEnd} connections still up got no answer within ${o.responseTimeoutMs} ms (none came in the window's last ${silentTailMs} ms): counted as timeouts`);
  }
  if (log.answered === 0) {
    warnings.push(`h2load: no answers from ${at} in the ${Math.round(o.durationMs)} ms window`);
  } else if (silentTailMs !== null && silentTailMs > Math.max(H2LOAD_SILENT_TAIL_MS, o.durationMs / 10, (10 * o.durationMs) / log.answered)) {
    warnings.push(`h2load against ${at}: its last answer came ${silentTailMs} ms before the window's end; ${connectionsAtEnd === 0 ? 'every connection was gone' : 'the connections still up were not answered (a stalled server)'}, so the window's rate is that of a shorter period`);
  }
  return { errors, warmupErrors, connectionsAtEnd, connectionsLost: lost, connectionsMissing: missing, silentTailMs, warnings };
}

/** How an h2load run ended, with its per-request log (null when it wrote none) and what was seen while it ran. */
interface H2loadExit extends ToolExit {
  log: H2loadLog | null;
  watch: H2loadWatch;
}

/** A duration as h2load's options read it: an integer with a unit, so whole milliseconds ("2500ms"), at least 1 ms. */
function secs(ms: number): string {
  return `${Math.max(1, Math.round(ms))}ms`;
}

/**
 * Sockets among a process's descriptors above 2 (h2load -t1 holds one per connection and no
 * other; its stdout and stderr are the socket pairs Node spawns it with, so 0–2 are left out);
 * null when unreadable.
 */
function countSockets(pid: number): number | null {
  try {
    let n = 0;
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      if (Number(fd) <= 2) continue;
      try {
        if (readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith('socket:')) n++;
      } catch {
        // Closed meanwhile.
      }
    }
    return n;
  } catch {
    return null;
  }
}

class H2loadDriver extends HttpToolDriver {
  constructor(config: ResolvedDriverConfig, h2load: string, notes: string[]) {
    super('h2load', config, h2load, notes);
  }

  protected async measure(dir: string, parts: ToolPart[], cmd: Extract<DriverCommand, { type: 'run' }>): Promise<ToolMeasurement> {
    const exits = await Promise.all(parts.map((p, i) => this.#spawn(join(dir, `log-${i}`), p.target, p.connections, cmd.warmupMs, cmd.durationMs)));
    return { results: exits.map((x, i) => this.#result(x, parts[i]!.target, parts[i]!.connections, cmd)) };
  }

  async #spawn(logFile: string, target: Target, connections: number, warmupMs: number, durationMs: number): Promise<H2loadExit> {
    const c = this.config;
    // No -N: h2load 1.52 aborts (a libev assertion, "I/O watcher with invalid fd") when its
    // inactivity timeout fires in timing mode, losing the whole run; timeouts are counted from
    // the silent end of the window instead (h2loadLosses).
    const args = [
      '--h1', '-t1', `-c${connections}`, `-m${c.depth}`, `-D${secs(durationMs)}`, `--log-file=${logFile}`,
      ...(warmupMs > 0 ? [`--warm-up-time=${secs(warmupMs)}`] : []),
      targetUrl(c, target),
    ];
    const watch: H2loadWatch = { windowStartMs: null, windowEndMs: null, socketsPeak: null, socketsAtEnd: null };
    let pid = 0;
    let cpu: ToolCpu | undefined;
    let poll: NodeJS.Timeout | undefined;
    // Sockets are read every TOOL_CPU_POLL_MS in the window, and no later than SOCKETS_MARGIN_MS
    // before its end by our clock: h2load closes its connections right after it prints "over",
    // and a timer tick can run after that but before the line is read (under load several
    // processes' lines came late, and a whole process's connections read as lost). The end is the
    // larger of the last two readings, so one reading caught mid-close does not count as a loss.
    // A connection closed in the window's last margin therefore counts as up.
    const margin = Math.max(2 * TOOL_CPU_POLL_MS, Math.min(500, durationMs / 10));
    let previous: number | null = null;
    const readSockets = (first = false): void => {
      if (!first && watch.windowStartMs !== null && Date.now() > watch.windowStartMs + durationMs - margin) {
        clearInterval(poll);
        return;
      }
      const n = countSockets(pid);
      if (n === null) return;
      watch.socketsAtEnd = previous === null ? n : Math.max(previous, n);
      watch.socketsPeak = Math.max(watch.socketsPeak ?? 0, n);
      previous = n;
    };
    const x = await this.tools.run(this.exe, args, warmupMs + durationMs + H2LOAD_EXTRA_MS, {
      onSpawn: (child, toolCpu) => {
        pid = child.pid ?? 0;
        cpu = toolCpu;
      },
      onLine: (line, atMs) => {
        if (line.startsWith('Main benchmark duration is started')) {
          watch.windowStartMs = atMs;
          cpu?.begin();
          readSockets(true);
          poll = setInterval(readSockets, TOOL_CPU_POLL_MS);
        } else if (line.startsWith('Main benchmark duration is over')) {
          watch.windowEndMs = atMs;
          cpu?.end();
          clearInterval(poll);
        }
      },
    });
    clearInterval(poll);
    return { ...x, log: readH2loadLogFile(logFile), watch };
  }

  #result(x: H2loadExit, target: Target, connections: number, cmd: Extract<DriverCommand, { type: 'run' }>): RunResult {
    const at = targetText(target);
    const stderr = stderrTail(x.stderr);
    if (x.timedOut) throw new Error(`h2load against ${at} did not finish within its bound and was killed${stderr ? `: ${stderr}` : ''}`);
    if (this.tools.closed) throw new Error('h2load driver closed during the run');
    const summary = parseH2loadSummary(x.stdout);
    if (summary === null || x.log === null) {
      throw new Error(`h2load against ${at} exited (${x.signal ?? `code ${x.code}`}) without a summary this driver can read${stderr ? `: ${stderr}` : ''}${x.stdout ? `; stdout ends: ${JSON.stringify(x.stdout.slice(-300))}` : ''}`);
    }
    const log = x.log;
    const durationMs = cmd.durationMs;
    const losses = h2loadLosses(at, log, x.watch, summary, { connections, depth: this.config.depth, durationMs, warmupMs: cmd.warmupMs, responseTimeoutMs: this.config.responseTimeoutMs });
    const warnings = [...losses.warnings];
    // succeeded counts the answers below 400 closed in the window (h2load 1.52): the log's answered
    // lines less the 4xx and 5xx its summary counts.
    const below400 = log.answered - summary.status['4xx'] - summary.status['5xx'];
    if (below400 !== summary.succeeded) warnings.push(`h2load against ${at}: its log holds ${below400} answers below 400, its summary ${summary.succeeded} succeeded`);
    if (log.failed > 0) warnings.push(`h2load against ${at}: ${log.failed} requests failed (status -1 in its log), counted as read errors`);
    if (log.non2xx > 0) warnings.push(`h2load against ${at}: ${log.non2xx} answers were not 2xx`);
    const seconds = durationMs / 1000;
    const result: RunResult = {
      durationMs,
      connections: losses.connectionsAtEnd ?? connections,
      ops: log.ok2xx,
      bytes: summary.bytes,
      opsPerSec: log.ok2xx / seconds,
      bytesPerSec: summary.bytes / seconds,
      latency: log.latency.toJSON(),
      errors: losses.errors,
      warmupErrors: losses.warmupErrors,
      cpu: x.cpu,
      clientBound: isClientBound(x.cpu),
      extra: {
        requests: log.ok2xx,
        answered: log.answered,
        non2xx: log.non2xx,
        started: summary.started,
        done: summary.done,
        succeeded: summary.succeeded,
        failed: log.failed,
        connectionsTarget: connections,
        connectionsLost: losses.connectionsLost,
        connectionsMissing: losses.connectionsMissing,
        connectionsUnknown: losses.connectionsAtEnd === null ? 1 : 0,
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
