// wrk as a driver, when it is on PATH: HTTP only, closed loop only.
//
// Ramp: wrk opens its connections when it starts, so the ramp is the shared HTTP probe
// (http-probe.ts), as for autocannon; the count it was asked for is what the run opens.
//
// Run: one wrk process per target (`-t1`, the ramped connections split over the targets), side
// by side. Warm-up is a separate, discarded wrk run before the measured one (wrk reports totals
// only, so a window cannot be cut out of one run). wrk takes whole seconds: `-d` is durationMs
// (and the warm-up) rounded up, at least 1 s, and the measured durationMs is wrk's own runtime;
// `-T` is responseTimeoutMs rounded up to whole seconds.
//
// A generated Lua script (in a temporary directory removed after the run) pipelines `depth`
// requests per write and, in wrk's done() hook, prints one line `C1M_WRK_RESULT <json>`; nothing
// else of wrk's output is read. The JSON holds:
//   durationUs, requests, bytes, sent (requests written, from a counter in request()),
//   errors { connect, read, write, status, timeout }  (wrk's own counters),
//   latency { popcount, min, max, mean, stdev, p50, p90, p99, p999 }  (µs, as wrk reports them),
//   raw: [value, count, ...] | null  (wrk's latency table, µs).
//
// Latency: wrk keeps an exact table of microsecond values, and before done() it adds its own
// coordinated-omission estimate to it (stats_correct: for every sample above twice the mean
// per-connection interval, copies at that interval below it). That step is deterministic, so
// this driver undoes it exactly and records wrk's measured samples into our HDR histogram
// (`latency`); wrk's own corrected figures stay in extra: p50Us, p90Us, p99Us, p999Us, maxUs,
// minUs, meanUs, stdevUs. Reading the table costs wrk O(distinct values × range); above a fixed
// budget the script omits it and `latency` is null (the extra percentiles remain).
// With depth > 1 wrk records one sample per pipelined batch (until its last answer), so the
// histogram's count is about requests / depth (extra.latencySamples).
//
// Errors: wrk counts a timeout only when a late answer arrives. A run in which no request was
// answered at all, no connection failed, and which lasted at least the timeout counts every
// unanswered request as a timeout (each was sent at connect and waited the whole run). When wrk cannot start because its start-up check cannot
// connect, the run reports one connect error, with the errno this driver sees on its own attempt.

import { writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { Histogram } from '../metrics/histogram.js';
import { findExecutable } from '../system/which.js';
import { HttpToolDriver, stderrTail, targetText, targetUrl, type ToolExit, type ToolMeasurement, type ToolPart } from './tool-process.js';
import { addErrors, emptyErrors } from './merge.js';
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

export const WRK_RESULT_PREFIX = 'C1M_WRK_RESULT ';
/** Upper bound of distinct values × value range that done() walks to print the raw table. */
export const WRK_RAW_COST_LIMIT = 300_000_000;
/** Time allowed past a wrk run's own length (start-up, done(), exit). */
const WRK_EXTRA_MS = 15_000;

export interface WrkJson {
  durationUs: number;
  requests: number;
  bytes: number;
  sent: number;
  errors: { connect: number; read: number; write: number; status: number; timeout: number };
  latency: { popcount: number; min: number; max: number; mean: number; stdev: number; p50: number; p90: number; p99: number; p999: number };
  raw: number[] | null;
}

/** The Lua script: pipelining by `depth` requests per write, and the JSON line in done(). */
export function wrkScript(depth: number): string {
  return `-- c1m wrk driver (generated; removed after the run)
local depth = ${depth}
local raw_cost_limit = ${WRK_RAW_COST_LIMIT}
local threads = {}
local batch
sent = 0

function setup(thread)
  threads[#threads + 1] = thread
end

function init(args)
  local r = {}
  for i = 1, depth do r[i] = wrk.format() end
  batch = table.concat(r)
end

function request()
  sent = sent + depth
  return batch
end

local function int(x) return string.format("%.0f", x) end
local function real(x)
  if x ~= x or x == math.huge or x == -math.huge then return "0" end
  return string.format("%.3f", x)
end

function done(summary, latency, requests)
  local total = 0
  for _, t in ipairs(threads) do total = total + (t:get("sent") or 0) end
  local e = summary.errors
  local n = #latency
  local min = 0
  if n > 0 then min = latency.min end
  local raw = "null"
  if n > 0 and n * (latency.max - min + 1) <= raw_cost_limit then
    local parts = {}
    for i = 1, n do
      local v, c = latency(i)
      parts[#parts + 1] = int(v)
      parts[#parts + 1] = int(c)
    end
    raw = "[" .. table.concat(parts, ",") .. "]"
  end
  io.write("${WRK_RESULT_PREFIX.trim()} {",
    '"durationUs":', int(summary.duration), ',"requests":', int(summary.requests), ',"bytes":', int(summary.bytes),
    ',"sent":', int(total),
    ',"errors":{"connect":', int(e.connect), ',"read":', int(e.read), ',"write":', int(e.write),
    ',"status":', int(e.status), ',"timeout":', int(e.timeout), '}',
    ',"latency":{"popcount":', int(n), ',"min":', int(min), ',"max":', int(latency.max),
    ',"mean":', real(latency.mean), ',"stdev":', real(latency.stdev),
    ',"p50":', int(latency:percentile(50)), ',"p90":', int(latency:percentile(90)),
    ',"p99":', int(latency:percentile(99)), ',"p999":', int(latency:percentile(99.9)), '}',
    ',"raw":', raw, "}\\n")
end
`;
}

/**
 * Undoes wrk's stats_correct(expected) on its latency table (ascending [value, count] pairs):
 * final[m] = raw[m] + Σ_{k≥1} raw[m + k·expected] for m > expected, final[m] = raw[m] otherwise.
 * Returns the raw table, or null if the table is not consistent with that rule.
 */
export function uncorrectWrkLatency(pairs: readonly number[], expected: number): number[] | null {
  if (pairs.length % 2 !== 0) return null;
  if (expected < 1) return [...pairs];
  const raw = new Map<number, number>();
  const added = new Map<number, number>();
  for (let k = pairs.length - 2; k >= 0; k -= 2) {
    const v = pairs[k] as number;
    const total = pairs[k + 1] as number;
    const t = v > expected ? (raw.get(v + expected) ?? 0) + (added.get(v + expected) ?? 0) : 0;
    const r = total - t;
    if (r < 0) return null;
    raw.set(v, r);
    if (t > 0) added.set(v, t);
  }
  const out: number[] = [];
  for (let k = 0; k < pairs.length; k += 2) {
    const v = pairs[k] as number;
    const r = raw.get(v) ?? 0;
    if (r > 0) out.push(v, r);
  }
  return out;
}

/** wrk's correction interval: runtime / (requests per connection), in integer µs as wrk computes it. */
export function wrkCorrectionInterval(durationUs: number, requests: number, connections: number): number {
  const perConnection = Math.floor(requests / connections);
  return perConnection > 0 ? Math.floor(durationUs / perConnection) : 0;
}

/** wrk's error counts as the driver's (a non-2xx status is a protocol error). */
function wrkErrors(json: WrkJson): DriverErrors {
  return { connect: json.errors.connect, read: json.errors.read, write: json.errors.write, timeout: json.errors.timeout, protocol: json.errors.status };
}

function parseWrkJson(stdout: string): WrkJson | null {
  for (const line of stdout.split('\n')) {
    if (!line.startsWith(WRK_RESULT_PREFIX)) continue;
    return JSON.parse(line.slice(WRK_RESULT_PREFIX.length)) as WrkJson;
  }
  return null;
}

/** One connect attempt, to name the errno wrk's start-up check met. */
function connectErrno(t: Target, timeoutMs: number): Promise<string | null> {
  return new Promise((resolve) => {
    const s = net.connect({ host: t.host, port: t.port });
    const timer = setTimeout(() => {
      s.destroy();
      resolve('ETIMEDOUT');
    }, timeoutMs);
    s.once('connect', () => {
      clearTimeout(timer);
      s.destroy();
      resolve(null);
    });
    s.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve(err.code ?? 'EUNKNOWN');
    });
  });
}

class WrkDriver extends HttpToolDriver {
  constructor(config: ResolvedDriverConfig, wrk: string, notes: string[]) {
    super('wrk', config, wrk, notes);
  }

  protected async measure(dir: string, parts: ToolPart[], cmd: Extract<DriverCommand, { type: 'run' }>): Promise<ToolMeasurement> {
    const script = join(dir, 'c1m.lua');
    writeFileSync(script, wrkScript(this.config.depth));
    let warmupRequests = 0;
    // The warm-up run's errors (its own connections) count in the step, as the window's do.
    let warmupErrors: DriverErrors | undefined;
    if (cmd.warmupMs > 0) {
      const seconds = Math.ceil(cmd.warmupMs / 1000);
      const warm = await Promise.all(parts.map((p) => this.#spawn(script, p.target, p.connections, seconds)));
      warmupErrors = emptyErrors();
      for (const w of warm) {
        const json = parseWrkJson(w.stdout);
        warmupRequests += json?.requests ?? 0;
        if (json !== null) addErrors(warmupErrors, wrkErrors(json));
      }
    }
    const seconds = Math.ceil(cmd.durationMs / 1000);
    const exits = await Promise.all(parts.map((p) => this.#spawn(script, p.target, p.connections, seconds)));
    const results = await Promise.all(exits.map((x, i) => this.#result(x, parts[i]!.target, parts[i]!.connections, seconds)));
    return { results, extra: { warmupRequests }, ...(warmupErrors !== undefined ? { warmupErrors } : {}) };
  }

  #spawn(script: string, target: Target, connections: number, seconds: number): Promise<ToolExit> {
    const c = this.config;
    const timeoutS = Math.max(1, Math.ceil(c.responseTimeoutMs / 1000));
    const args = ['-t1', `-c${connections}`, `-d${seconds}s`, `-T${timeoutS}s`, '-s', script, targetUrl(c, target)];
    return this.tools.run(this.exe, args, seconds * 1000 + WRK_EXTRA_MS);
  }

  async #result(x: ToolExit, target: Target, connections: number, seconds: number): Promise<RunResult> {
    const c = this.config;
    const at = targetText(target);
    const stderr = stderrTail(x.stderr);
    if (x.timedOut) throw new Error(`wrk against ${at} did not finish within ${seconds * 1000 + WRK_EXTRA_MS} ms and was killed${stderr ? `: ${stderr}` : ''}`);
    if (this.tools.closed) throw new Error('wrk driver closed during the run');
    const json = parseWrkJson(x.stdout);
    if (json === null) {
      const errno = await connectErrno(target, c.connectTimeoutMs);
      if (errno === null) throw new Error(`wrk against ${at} exited (${x.signal ?? `code ${x.code}`}) without a result${stderr ? `: ${stderr}` : ''}`);
      const errors = emptyErrors();
      errors.connect = 1;
      return {
        durationMs: 0,
        connections: 0,
        ops: 0,
        bytes: 0,
        opsPerSec: 0,
        bytesPerSec: 0,
        latency: null,
        errors,
        cpu: { userMs: 0, sysMs: 0, pct: 0 },
        clientBound: false,
        extra: { requests: 0, connectionsTarget: connections, wrkProcesses: 1 },
        connectErrors: { [errno]: 1 },
        warnings: [`wrk could not start against ${at}: its start-up connect failed (${errno})${stderr ? `; wrk said: ${stderr}` : ''}; none of the ${connections} connections was opened`],
      };
    }
    const warnings: string[] = [];
    const durationMs = json.durationUs / 1000;
    const sent = Math.max(0, json.sent - c.depth);
    const unanswered = Math.max(0, sent - json.requests);
    const errors = wrkErrors(json);
    const timeoutMs = Math.max(1, Math.ceil(c.responseTimeoutMs / 1000)) * 1000;
    if (json.requests === 0) {
      warnings.push(`wrk: no answers from ${at} in ${Math.round(durationMs)} ms (${sent} requests sent on ${connections} connections)`);
      // Silent connections only: a request lost to a reset or a hang-up is already a read error.
      const silent = errors.connect + errors.read + errors.write === 0;
      if (silent && sent > 0 && durationMs >= timeoutMs) errors.timeout += unanswered;
    }
    if (errors.read > 0) warnings.push(`wrk: ${errors.read} read errors from ${at} (resets or malformed answers); wrk reconnects after each`);
    if (errors.connect > 0) warnings.push(`wrk: ${errors.connect} connect errors to ${at}; how many of its ${connections} connections were up at the end is unknown`);
    if (errors.write > 0) warnings.push(`wrk: ${errors.write} write errors to ${at}`);
    if (json.errors.status > 0) warnings.push(`wrk: ${json.errors.status} answers from ${at} had a status above 399`);

    let latency: RunResult['latency'] = null;
    let latencySamples = 0;
    const interval = wrkCorrectionInterval(json.durationUs, json.requests, connections);
    if (json.raw !== null) {
      const raw = uncorrectWrkLatency(json.raw, interval);
      if (raw === null) {
        warnings.push(`wrk: its latency table from ${at} does not match its correction rule (interval ${interval} µs); latency left out`);
      } else {
        const h = new Histogram(DRIVER_LATENCY_LAYOUT.lowest, DRIVER_LATENCY_LAYOUT.highest, DRIVER_LATENCY_LAYOUT.digits);
        for (let k = 0; k < raw.length; k += 2) h.recordCount(raw[k] as number, raw[k + 1] as number);
        latency = h.toJSON();
        latencySamples = h.count;
      }
    } else if (json.latency.popcount > 0) {
      warnings.push(`wrk: its latency table from ${at} was too costly to print (${json.latency.popcount} distinct values over ${json.latency.max - json.latency.min} µs); only wrk's own percentiles (extra.p50Us …) are kept`);
    } else {
      latency = new Histogram(DRIVER_LATENCY_LAYOUT.lowest, DRIVER_LATENCY_LAYOUT.highest, DRIVER_LATENCY_LAYOUT.digits).toJSON();
    }
    const secs = durationMs / 1000;
    const result: RunResult = {
      durationMs,
      connections,
      ops: json.requests,
      bytes: json.bytes,
      opsPerSec: secs > 0 ? json.requests / secs : 0,
      bytesPerSec: secs > 0 ? json.bytes / secs : 0,
      latency,
      errors,
      cpu: { userMs: 0, sysMs: 0, pct: 0 },
      clientBound: false,
      extra: {
        requests: json.requests,
        sent,
        unanswered,
        statusErrors: json.errors.status,
        latencySamples,
        latencyCorrectionUs: interval,
        p50Us: json.latency.p50,
        p90Us: json.latency.p90,
        p99Us: json.latency.p99,
        p999Us: json.latency.p999,
        maxUs: json.latency.max,
        minUs: json.latency.min,
        meanUs: json.latency.mean,
        stdevUs: json.latency.stdev,
        connectionsTarget: connections,
        wrkProcesses: 1,
      },
    };
    if (warnings.length > 0) result.warnings = warnings;
    return result;
  }
}

const WRK_MISSING = 'wrk is not installed (apt-get install wrk)';

export const probe: DriverProbe = async () => (findExecutable('wrk') === null ? WRK_MISSING : true);

export const createDriver: DriverFactory = async (c: ResolvedDriverConfig): Promise<DriverImpl> => {
  if (c.protocol !== 'http-hello') throw new DriverUnavailableError(`wrk speaks HTTP only, not ${c.protocol}`);
  if (c.mode !== 'closed') {
    throw new DriverUnavailableError(
      c.mode === 'idle' ? 'wrk cannot hold idle connections: it sends requests on every connection it opens' : 'wrk has no open-loop schedule (that is wrk2)',
    );
  }
  const wrk = findExecutable('wrk');
  if (wrk === null) throw new DriverUnavailableError(WRK_MISSING);
  const notes: string[] = [];
  if (c.sourceAddresses !== undefined && c.sourceAddresses.length > 0) {
    notes.push('wrk cannot bind source addresses: sourceAddresses ignored (all connections come from the default address)');
  }
  if (c.responseTimeoutMs % 1000 !== 0) notes.push(`wrk takes whole seconds: responseTimeoutMs ${c.responseTimeoutMs} rounded up to ${Math.max(1, Math.ceil(c.responseTimeoutMs / 1000)) * 1000}`);
  return new WrkDriver(c, wrk, notes);
};
