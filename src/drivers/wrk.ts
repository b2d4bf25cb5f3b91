// wrk as a driver, when it is on PATH: HTTP only, closed loop only.
//
// Ramp: wrk opens its connections when it starts, so the ramp is the shared HTTP probe
// (http-probe.ts), as for autocannon; the count it was asked for is what the run opens.
//
// Run: one wrk process per target (`-t1`, the ramped connections split over the targets), side
// by side. Warm-up is a separate, discarded wrk run before the measured one (wrk reports totals
// only, so a window cannot be cut out of one run). wrk takes whole seconds for `-d`, so runs
// that must end elsewhere are stopped with SIGINT: the warm-up just before warmupMs, so that the
// measured run starts at warmupMs after the run command, where the runner's window starts; the
// measured run at durationMs (see measure()). The measured durationMs is wrk's own runtime.
// `-T` is responseTimeoutMs rounded up to whole seconds. CPU: each wrk's own, read from /proc
// from its start (its whole run is its window) to the line its done() prints first
// (`C1M_WRK_WINDOW_END`), so the walk of its latency table after the window is left out.
//
// A generated Lua script (in a temporary directory removed after the run) pipelines `depth`
// requests per write and, in wrk's done() hook, prints one line `C1M_WRK_RESULT <json>`; nothing
// else of wrk's output is read. The JSON holds:
//   durationUs, requests, bytes, sent (requests written, from a counter in request()),
//   errors { connect, read, write, status, timeout }  (wrk's own counters),
//   latency { popcount, min, max, mean, stdev, p50, p90, p99, p999 }  (µs, as wrk reports them),
//   raw: [value, count, ...] | null  (wrk's latency table, µs),
//   rateSamples (wrk's 100 ms rate samples: the ticks in which some answer came),
//   tailSilentUs (from the last batch any thread asked for, at a connect or when a connection's
//   batch was all answered, to the end of the run: the silence at the end; null when unknown).
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
// Ops: the 2xx answers, as for every driver; but wrk sees only status > 399 without a Lua
// response() callback (which would have wrk hand every answer's headers and body to Lua, a cost
// per request that would make it a slower client), so `ops` = answers − (status > 399), and
// 1xx/3xx answers count as ops. Every status > 399 is a protocol error.
//
// Errors: wrk counts a timeout only when a late answer arrives, and a reset or a hang-up as one
// read error whatever was in flight. Unanswered requests beyond what can be in flight when wrk
// stops (connections × depth) and beyond what its read and write errors can have lost (depth
// each) got no answer and no error: they count as timeouts. When no batch was asked for in the
// run's last timeout or more (tailSilentUs) with no error and no late answer, every request still
// in flight had waited that long: they count as timeouts too (a run with no answer at all is one
// such). Over plain TCP a connect error is a connection wrk never retries: `connections` leaves it
// out (over TLS a failed handshake is one too, and retried: the count is then unknown). When wrk
// cannot start because its start-up check cannot connect, the run reports one connect error, with
// the errno this driver sees on its own attempt.

import { writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { Histogram } from '../metrics/histogram.js';
import { findExecutable } from '../system/which.js';
import { HttpToolDriver, stderrTail, targetText, targetUrl, type ToolExit, type ToolMeasurement, type ToolPart } from './tool-process.js';
import { addErrors, emptyErrors } from './merge.js';
import { isClientBound, type ToolCpu } from './cpu.js';
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
/** The line wrk's done() prints first, when its window is over. */
const WRK_WINDOW_END = 'C1M_WRK_WINDOW_END';
/** Upper bound of distinct values × value range that done() walks to print the raw table. */
export const WRK_RAW_COST_LIMIT = 300_000_000;
/** Time allowed past a wrk run's own length (start-up, done(), exit). */
const WRK_EXTRA_MS = 15_000;
/** wrk's threads look at the stop flag every this many ms (RECORD_INTERVAL_MS in wrk.c). */
const WRK_STOP_TICK_MS = 100;
/** Silence (no answer on any connection) longer than this, and than a tenth of the window, is warned of. */
const WRK_SILENT_MS = 250;
/** The earliest a SIGINT is sent after wrk's start, so that its handler is installed by then. */
const WRK_SIGINT_SAFE_MS = 100;

export interface WrkJson {
  durationUs: number;
  requests: number;
  bytes: number;
  sent: number;
  errors: { connect: number; read: number; write: number; status: number; timeout: number };
  latency: { popcount: number; min: number; max: number; mean: number; stdev: number; p50: number; p90: number; p99: number; p999: number };
  raw: number[] | null;
  /** wrk's 100 ms rate samples: one per tick in which some answer came. */
  rateSamples: number;
  /** µs from the last batch any thread asked for to the end of the run; null when not known. */
  tailSilentUs: number | null;
}

/** The Lua script: pipelining by `depth` requests per write, and the JSON line in done(). */
export function wrkScript(depth: number, rawCostLimit = WRK_RAW_COST_LIMIT): string {
  return `-- c1m wrk driver (generated; removed after the run)
local depth = ${depth}
local raw_cost_limit = ${rawCostLimit}
local threads = {}
local batch
sent = 0
-- When each thread started (init runs just before wrk's clock starts) and last asked for a batch:
-- in a closed loop, at a connect or when a connection's batch was all answered. Monotonic µs,
-- through LuaJIT's ffi; without it (another Lua) both stay nil and the tail is not known.
local now_us = nil
local ok_ffi, ffi = pcall(require, "ffi")
if ok_ffi then
  ffi.cdef[[
    typedef struct { long tv_sec; long tv_nsec; } c1m_timespec;
    int clock_gettime(int clk, c1m_timespec *tp);
  ]]
  local ts = ffi.new("c1m_timespec")
  now_us = function()
    ffi.C.clock_gettime(1, ts)
    return tonumber(ts.tv_sec) * 1e6 + tonumber(ts.tv_nsec) / 1e3
  end
end
started_us = nil
last_us = nil

function setup(thread)
  threads[#threads + 1] = thread
end

function init(args)
  local r = {}
  for i = 1, depth do r[i] = wrk.format() end
  batch = table.concat(r)
  if now_us then started_us = now_us() end
end

function request()
  sent = sent + depth
  if now_us then last_us = now_us() end
  return batch
end

local function int(x) return string.format("%.0f", x) end
local function real(x)
  if x ~= x or x == math.huge or x == -math.huge then return "0" end
  return string.format("%.3f", x)
end

function done(summary, latency, requests)
  -- The window is over: the driver ends wrk's CPU reading here, before the table walk below.
  io.write("${WRK_WINDOW_END}\\n")
  io.flush()
  local total = 0
  -- The window's tail with no batch asked for: from the last thread's last request to the end of
  -- its run (its start plus wrk's duration); the whole run when it never asked; null unknown.
  local tail = nil
  for _, t in ipairs(threads) do
    total = total + (t:get("sent") or 0)
    local s, l = t:get("started_us"), t:get("last_us")
    if s ~= nil then
      local gap = summary.duration
      if l ~= nil then gap = math.max(0, s + summary.duration - l) end
      if tail == nil or gap < tail then tail = gap end
    end
  end
  local tail_text = "null"
  if tail ~= nil then tail_text = int(tail) end
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
  -- wrk records a rate sample every 100 ms in which some answer came, so the ticks without a
  -- sample are the time no connection was answered.
  local ticks = 0
  for i = 1, #requests do
    local _, c = requests(i)
    ticks = ticks + c
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
    ',"rateSamples":', int(ticks), ',"tailSilentUs":', tail_text, ',"raw":', raw, "}\\n")
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
    const t0 = performance.now();
    let warmupRequests = 0;
    const warnings: string[] = [];
    // The warm-up run's errors (its own connections) count in the step, as the window's do.
    let warmupErrors: DriverErrors | undefined;
    if (cmd.warmupMs > 0) {
      // The runner reads the server over [warmupMs, warmupMs + durationMs] after its run command,
      // so the measured wrk must start at warmupMs, not after a warm-up rounded up to whole
      // seconds. wrk's threads look at their stop flag every 100 ms (from their start), so the
      // warm-up (given a whole second more than it needs) is stopped with SIGINT 100 ms before
      // warmupMs: its load ends by then, and the measured run starts at warmupMs, or as soon as
      // the warm-up has exited if that is later (its done() skips the raw table, to be quick).
      const warmScript = join(dir, 'c1m-warmup.lua');
      writeFileSync(warmScript, wrkScript(this.config.depth, 0));
      const seconds = Math.ceil(cmd.warmupMs / 1000) + 1;
      const warm = await Promise.all(parts.map((p) => this.#spawn(warmScript, p.target, p.connections, seconds, t0 + cmd.warmupMs - WRK_STOP_TICK_MS)));
      warmupErrors = emptyErrors();
      warm.forEach((w, i) => {
        const json = parseWrkJson(w.stdout);
        warmupRequests += json?.requests ?? 0;
        if (json !== null) addErrors(warmupErrors!, wrkErrors(json));
        // A warm-up whose SIGINT came before wrk could take it (a slow start on a loaded host)
        // dies without its result: say so rather than count it as a clean warm-up.
        else warnings.push(`wrk's warm-up against ${targetText(parts[i]!.target)} ended without its result (${w.signal ?? `code ${w.code}`}): its requests and errors are not counted`);
      });
      const early = t0 + cmd.warmupMs - performance.now();
      if (early > 0) await new Promise((resolve) => setTimeout(resolve, early));
    }
    // A window of whole seconds ends by wrk's own -d (its sleep and its threads' stop ticks start
    // together); any other length is stopped with SIGINT, taking effect at the next stop tick.
    const whole = cmd.durationMs % 1000 === 0;
    const seconds = Math.max(1, Math.ceil(cmd.durationMs / 1000));
    const stopAt = whole ? undefined : performance.now() + cmd.durationMs - WRK_STOP_TICK_MS / 2;
    const exits = await Promise.all(parts.map((p) => this.#spawn(script, p.target, p.connections, seconds, stopAt)));
    const results = await Promise.all(exits.map((x, i) => this.#result(x, parts[i]!.target, parts[i]!.connections, seconds)));
    return { results, extra: { warmupRequests }, ...(warmupErrors !== undefined ? { warmupErrors } : {}), ...(warnings.length > 0 ? { warnings } : {}) };
  }

  /** Runs wrk for `seconds` (its -d), stopped early with SIGINT at `stopAt` (performance.now()) if given. */
  async #spawn(script: string, target: Target, connections: number, seconds: number, stopAt?: number): Promise<ToolExit> {
    const c = this.config;
    const timeoutS = Math.max(1, Math.ceil(c.responseTimeoutMs / 1000));
    const args = ['-t1', `-c${connections}`, `-d${seconds}s`, `-T${timeoutS}s`, '-s', script, targetUrl(c, target)];
    let stop: NodeJS.Timeout | undefined;
    const spawnedAt = performance.now();
    try {
      let cpu: ToolCpu | undefined;
      return await this.tools.run(this.exe, args, seconds * 1000 + WRK_EXTRA_MS, {
        onLine: (line) => {
          if (line === WRK_WINDOW_END) cpu?.end();
        },
        onSpawn: (child, toolCpu) => {
          cpu = toolCpu;
          if (stopAt === undefined) return;
          // wrk installs its SIGINT handler after starting its threads; before that SIGINT would kill it.
          const delay = Math.max(stopAt - performance.now(), WRK_SIGINT_SAFE_MS - (performance.now() - spawnedAt));
          stop = setTimeout(() => child.kill('SIGINT'), delay);
        },
      });
    } finally {
      clearTimeout(stop);
    }
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
    // What wrk wrote exceeds its answers plus what can be in flight at its stop (connections ×
    // depth) by less than one batch (measured against a local server: 0 to depth − 1 with 1–100
    // connections at depth 1–16), so one batch is taken off: that excess is never a timeout.
    const sent = Math.max(0, json.sent - c.depth);
    const unanswered = Math.max(0, sent - json.requests);
    const errors = wrkErrors(json);
    // A connect wrk could not make (socket() or connect() failed at once: EMFILE, EADDRNOTAVAIL)
    // is counted and never retried, so over plain TCP each connect error is a connection missing
    // from then on (a connect that fails later is a read or write error, and wrk reconnects).
    // Over TLS a failed handshake counts as a connect error too, and that one wrk retries: how
    // many were up is then not known (extra.connectionsUnknown), and the target is said.
    const unknownUp = Boolean(c.tls) && json.errors.connect > 0;
    const up = c.tls ? connections : Math.max(0, connections - json.errors.connect);
    const timeoutMs = Math.max(1, Math.ceil(c.responseTimeoutMs / 1000)) * 1000;
    // wrk counts a timeout only when a late answer arrives, and a request lost on a reset or a
    // hang-up only as the one read error of that event. What is exact: when wrk stops, at most
    // connections × depth requests are in flight (it keeps one pipelined batch per connection),
    // and each reset or hang-up it counted lost at most one batch (depth requests). Unanswered
    // requests beyond both got no answer and no error: the server kept them (a stall longer than
    // the window's tail) or dropped them silently; they count as timeouts.
    const inFlightAtEnd = up * c.depth;
    const beyond = Math.max(0, unanswered - inFlightAtEnd - (errors.read + errors.write) * c.depth);
    if (beyond > 0) {
      errors.timeout += beyond;
      warnings.push(`wrk: ${beyond} requests to ${at} got no answer and no error (more than the ${inFlightAtEnd} that can be in flight at the end, and than its ${errors.read + errors.write} read and write errors can explain): counted as timeouts`);
    }
    // wrk's threads record a rate sample every WRK_STOP_TICK_MS in which some answer came. A
    // server slow enough to leave ticks without answers in the ordinary way (under ten answers
    // per tick on average) is not warned of.
    const silentMs = Math.max(0, Math.round(durationMs - json.rateSamples * WRK_STOP_TICK_MS));
    const perTick = durationMs > 0 ? (json.requests * WRK_STOP_TICK_MS) / durationMs : 0;
    if (perTick >= 10 && silentMs > Math.max(WRK_SILENT_MS, durationMs / 10)) {
      warnings.push(`wrk against ${at}: no answer came in ${silentMs} ms of the ${Math.round(durationMs)} ms window (${json.rateSamples} of wrk's 100 ms ticks had answers); the server stalled, so the window's rate is that of a shorter period`);
    }
    if (json.requests === 0) warnings.push(`wrk: no answers from ${at} in ${Math.round(durationMs)} ms (${sent} requests sent on ${connections} connections)`);
    // In a closed loop wrk asks for a batch only at a connect or when a connection's batch was all
    // answered, so when none was asked for in the window's last tailSilentUs ≥ the timeout, with
    // no error (no reconnect) and no late answer (wrk's own timeouts), every request in flight at
    // the end had waited at least that long: they are timeouts. The silent ticks alone cannot say
    // it: pauses spread over the window add up to as much with nothing overdue at its end.
    const quiet = errors.connect + errors.read + errors.write + json.errors.timeout === 0;
    const tailMs = json.tailSilentUs === null || json.tailSilentUs === undefined ? null : json.tailSilentUs / 1000;
    if (quiet && sent > 0 && tailMs !== null && tailMs >= timeoutMs) errors.timeout += unanswered - beyond;
    if (errors.read > 0) warnings.push(`wrk: ${errors.read} read errors from ${at} (resets, hang-ups or malformed answers, one per event whatever the requests in flight); wrk reconnects after each`);
    if (errors.connect > 0) {
      warnings.push(
        unknownUp
          ? `wrk: ${errors.connect} connect errors to ${at}: over TLS they mix failed handshakes (retried) and failed connects (not), so how many of its ${connections} connections were up at the end is unknown`
          : `wrk: ${errors.connect} connect errors to ${at}: wrk does not retry a connect that failed, so ${up} of its ${connections} connections were up at the end`,
      );
    }
    if (errors.write > 0) warnings.push(`wrk: ${errors.write} write errors to ${at}`);
    if (json.errors.status > 0) warnings.push(`wrk: ${json.errors.status} answers from ${at} had a status above 399 (wrk cannot tell 1xx and 3xx from 2xx)`);
    // ops are the 2xx answers; wrk sees only status > 399 (see the head of this file).
    const ops = Math.max(0, json.requests - json.errors.status);

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
      connections: up,
      ops,
      bytes: json.bytes,
      opsPerSec: secs > 0 ? ops / secs : 0,
      bytesPerSec: secs > 0 ? json.bytes / secs : 0,
      latency,
      errors,
      cpu: x.cpu,
      clientBound: isClientBound(x.cpu),
      extra: {
        requests: ops,
        answered: json.requests,
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
        ...(unknownUp ? { connectionsUnknown: 1 } : {}),
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
