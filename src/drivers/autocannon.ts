// autocannon as a driver, through its programmatic API: HTTP only, closed loop only.
//
// Ramp: autocannon opens its connections when its run starts and cannot hold idle ones, so the
// ramp is the shared HTTP probe (http-probe.ts): it opens the requested connections at the
// requested rate, gets one answer on each, reports what it saw, and closes them (extra.held = 0).
// The count it was asked for is what the next run opens.
//
// Run: one autocannon instance per target, side by side, with the ramped connections split over
// the targets and `pipelining` = depth. Each instance runs once for warm-up + duration; the
// measured window is cut out by time, so warm-up traffic flows on the same connections but is
// not counted. Latency is not taken from autocannon's summary: every answer's own response time
// (autocannon's 'response' event, from hrtime at the request's write to its last byte) is
// recorded in microseconds into our HDR histogram, so the histogram holds every sample of the
// window and merges exactly with other processes'; ops are the 2xx answers among them, every
// other answer a protocol error. Errors are counted per event through `setupClient` on each
// connection: connect failures by errno (autocannon retries a refused connection at once, so
// these count attempts), requests in flight on a socket the server hung up or reset as read
// errors, one per request (autocannon reconnects silently, and this driver clears the requests it
// would leave queued: see the _connect wrapper), per-request timeouts, and wrong bodies on 2xx
// answers as protocol errors. CPU: this process's own over the window.

import type { Socket } from 'node:net';
import type autocannonTypes from 'autocannon';
import { HTTP_HELLO_BODY, isHelloRequest } from '../wire/protocols.js';
import { Histogram } from '../metrics/histogram.js';
import { probeRamp, type HttpProbe } from './http-probe.js';
import { addErrors, emptyErrors, mergeRunResults, splitCount, totalErrors } from './merge.js';
import { targetText, targetUrl } from './tool-process.js';
import { cpuUse, isClientBound } from './cpu.js';
import {
  DRIVER_LATENCY_LAYOUT,
  DriverUnavailableError,
  type DriverProbe,
  type DriverCommand,
  type DriverErrors,
  type DriverFactory,
  type DriverImpl,
  type RampResult,
  type ResolvedDriverConfig,
  type RunResult,
  type Target,
} from './driver-contract.js';

type Autocannon = typeof autocannonTypes;
type Instance = autocannonTypes.Instance;

/** The parts of autocannon's per-connection Client (lib/httpClient.js) this driver hooks. */
interface ClientInternals {
  _connect(): void;
  conn: Socket;
  pipelinedRequests: { size(): number; clear(): void };
  parser: { type: string; reinitialize(type: string): void };
  on(event: 'response', cb: (status: number, bytes: number, ms: number) => void): void;
  on(event: 'timeout' | 'mismatch', cb: () => void): void;
}

/** How long after the window ends autocannon may take to destroy its clients and call back. */
const STOP_BOUND_MS = 5000;
const PROGRESS_MS = 250;


function zeroCpu(): RunResult['cpu'] {
  return { userMs: 0, sysMs: 0, pct: 0 };
}

/** Counts of one autocannon instance (one target) over one run. */
class TargetRun {
  readonly hist = new Histogram(DRIVER_LATENCY_LAYOUT.lowest, DRIVER_LATENCY_LAYOUT.highest, DRIVER_LATENCY_LAYOUT.digits);
  readonly errors = emptyErrors();
  /** Errors before the window (a connection reset in the warm-up); the runner adds them to the step's. */
  readonly warmupErrors = emptyErrors();
  readonly connectErrors: Record<string, number> = {};
  /** 2xx answers in the window (ops), and every answer in it. */
  ops = 0;
  answered = 0;
  bytes = 0;
  /** Requests in flight on a socket that hung up or was reset, never answered. */
  lost = 0;
  /** Connects that did not complete within the timeout (each one timeout, reason ETIMEDOUT). */
  connectTimeouts = 0;
  non2xx = 0;
  firstNon2xx = 0;
  mismatches = 0;
  closedByServer = 0;
  responsesTotal = 0;
  open = 0;
  peakOpen = 0;
  openAtEnd = 0;
  instance: Instance | undefined;
  finished: Promise<void> = Promise.resolve();
  failure: Error | undefined;

  constructor(
    readonly target: Target,
    readonly connections: number,
  ) {}
}

class AutocannonDriver implements DriverImpl {
  readonly #config: ResolvedDriverConfig;
  readonly #autocannon: Autocannon;
  readonly #notes: string[];
  /** Connections the next run opens: the last ramp's target. */
  #target = 0;
  #probe: HttpProbe | undefined;
  #runs: TargetRun[] = [];
  #stopRun: (() => void) | undefined;
  readonly #cumulative = emptyErrors();
  #closed = false;

  constructor(config: ResolvedDriverConfig, autocannon: Autocannon, notes: string[]) {
    this.#config = config;
    this.#autocannon = autocannon;
    this.#notes = notes;
  }

  async ramp(cmd: Extract<DriverCommand, { type: 'ramp' }>, progress: (connections: number) => void): Promise<RampResult> {
    if (this.#closed) throw new Error('autocannon driver is closed');
    this.#target = cmd.connections;
    return probeRamp('autocannon', this.#config, cmd, { notes: this.#notes, cumulative: this.#cumulative, track: (p) => (this.#probe = p), progress });
  }

  async run(cmd: Extract<DriverCommand, { type: 'run' }>, progress: (connections: number, ops: number) => void): Promise<RunResult> {
    if (this.#closed) throw new Error('autocannon driver is closed');
    if (this.#target === 0) throw new RangeError('autocannon: ramp to a connection count before run (the run opens that many connections)');
    const c = this.#config;
    const runs = splitCount(this.#target, c.targets.length)
      .map((n, i) => new TargetRun(c.targets[i] as Target, n))
      .filter((r) => r.connections > 0);
    this.#runs = runs;
    let measuring = cmd.warmupMs === 0;
    let warming = cmd.warmupMs > 0;
    let windowStart = performance.now();
    let windowEnd = windowStart;
    // The driver's own CPU over the window: autocannon runs in this process, on its one thread.
    let cpuStart = process.cpuUsage();
    let cpu = zeroCpu();
    const expectBody = isHelloRequest('GET', c.path) ? HTTP_HELLO_BODY : undefined;
    // autocannon refuses timeouts under one second.
    const timeoutS = Math.max(1, c.responseTimeoutMs / 1000);

    // Errors count in the window, or apart in the warm-up (those after the window in neither).
    const errorsNow = (r: TargetRun): DriverErrors | null => (measuring ? r.errors : warming ? r.warmupErrors : null);
    for (const r of runs) this.#start(r, cmd, timeoutS, expectBody, () => measuring, errorsNow);

    const ticker = setInterval(() => {
      progress(
        runs.reduce((a, r) => a + r.open, 0),
        runs.reduce((a, r) => a + r.ops, 0),
      );
    }, PROGRESS_MS);
    await new Promise<void>((resolve) => {
      const warm = setTimeout(() => {
        warming = false;
        measuring = true;
        windowStart = performance.now();
        cpuStart = process.cpuUsage();
      }, cmd.warmupMs);
      const end = setTimeout(() => stop(), cmd.warmupMs + cmd.durationMs);
      const stop = (): void => {
        if (this.#stopRun === undefined) return;
        this.#stopRun = undefined;
        clearTimeout(warm);
        clearTimeout(end);
        windowEnd = performance.now();
        const used = process.cpuUsage(cpuStart);
        cpu = cpuUse(used.user / 1000, used.system / 1000, windowEnd - windowStart);
        warming = false;
        measuring = false;
        for (const r of runs) {
          r.openAtEnd = r.open;
          r.instance?.stop();
        }
        resolve();
      };
      this.#stopRun = stop;
      if (runs.every((r) => r.failure !== undefined)) stop();
    });
    clearInterval(ticker);
    // autocannon destroys its clients at its next sample tick after stop(); wait for that, bounded.
    let bound: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(runs.map((r) => r.finished)), new Promise((resolve) => (bound = setTimeout(resolve, STOP_BOUND_MS)))]);
    clearTimeout(bound);
    this.#runs = [];
    if (this.#closed) throw new Error('autocannon driver closed during the run');
    const failures = runs.filter((r) => r.failure !== undefined);
    if (failures.length === runs.length) throw new Error(`autocannon could not run: ${failures.map((r) => r.failure?.message).join('; ')}`);
    const durationMs = Math.max(0, windowEnd - windowStart);
    const results = runs.map((r) => this.#result(r, durationMs));
    for (const r of results) {
      addErrors(this.#cumulative, r.errors);
      if (r.warmupErrors !== undefined) addErrors(this.#cumulative, r.warmupErrors);
    }
    const merged = mergeRunResults(results);
    // One process ran every instance: its CPU is the run's, not a sum over the targets.
    merged.cpu = cpu;
    merged.clientBound = isClientBound(cpu);
    const warnings = [...this.#notes, ...(merged.warnings ?? [])];
    if (warnings.length > 0) merged.warnings = warnings;
    return merged;
  }

  #start(
    r: TargetRun,
    cmd: Extract<DriverCommand, { type: 'run' }>,
    timeoutS: number,
    expectBody: string | undefined,
    measuring: () => boolean,
    errorsNow: (r: TargetRun) => DriverErrors | null,
  ): void {
    const c = this.#config;
    const setupClient = (client: autocannonTypes.Client): void => {
      const cl = client as unknown as ClientInternals;
      const connect = cl._connect;
      let lastStatus = 200;
      /** The socket of the client's latest _connect: whether it connected, hung up (FIN), or failed (errno). */
      let socket: { connected: boolean; ended: boolean; errorCode: string | undefined; connectTimedOut: boolean } | undefined;
      // The socket the last _connect() replaced: on a timeout autocannon reconnects before it
      // emits its 'timeout' events, so this, not `socket`, is the one that timed out.
      let replaced: typeof socket;
      // Wrapping _connect is the one way to see every socket autocannon opens, including the
      // silent reconnects after a server hang-up that its own counters never show.
      cl._connect = function (this: ClientInternals): void {
        // autocannon 9 calls _connect() on a socket's 'end' or 'error' without clearing the queue
        // of requests written on that socket (only its timeout and reconnectRate paths clear it).
        // Those requests will never be answered: left queued, every later answer would be matched
        // to the oldest of them and timed from its send time, and every later hang-up would seem
        // to have requests in flight. So they are cleared here, before the new socket's requests
        // are queued, and counted as lost: read errors (write errors after EPIPE), one per request.
        // The requests queued on a socket that never connected were never sent: the connect error
        // is counted, not them. A hang-up with nothing outstanding is no error.
        const stale = this.pipelinedRequests.size();
        const prev = socket;
        replaced = prev;
        if (prev !== undefined && stale > 0) {
          this.pipelinedRequests.clear();
          if (prev.connected) {
            // A hang-up or reset may cut an answer short: its parser state must not run on.
            this.parser.reinitialize(this.parser.type);
            const errors = errorsNow(r);
            if (errors !== null) {
              if (prev.errorCode === 'EPIPE') errors.write += stale;
              else errors.read += stale;
              if (measuring()) {
                r.lost += stale;
                if (prev.ended) r.closedByServer++;
              }
            }
          }
        }
        connect.call(this);
        const conn = this.conn;
        const state: NonNullable<typeof socket> = { connected: false, ended: false, errorCode: undefined, connectTimedOut: false };
        socket = state;
        conn.once('connect', () => {
          state.connected = true;
          r.open++;
          if (r.open > r.peakOpen) r.peakOpen = r.open;
        });
        conn.once('close', () => {
          if (state.connected) r.open--;
        });
        // Before autocannon's own listeners, which reconnect at once: the new _connect reads this.
        conn.prependListener('error', (err: NodeJS.ErrnoException) => {
          state.errorCode ??= err.code ?? 'EUNKNOWN';
          if (state.connected) return;
          const errors = errorsNow(r);
          if (errors === null) return;
          errors.connect++;
          const code = err.code ?? 'EUNKNOWN';
          if (measuring()) r.connectErrors[code] = (r.connectErrors[code] ?? 0) + 1;
        });
        conn.prependOnceListener('end', () => {
          state.ended = true;
        });
      };
      cl.on('response', (status, bytes, ms) => {
        r.responsesTotal++;
        lastStatus = status;
        if (!measuring()) {
          const errors = errorsNow(r);
          if (errors !== null && (status < 200 || status > 299)) errors.protocol++;
          return;
        }
        // Every answer is timed; only a 2xx answer is an op (the definition all drivers share).
        r.answered++;
        r.bytes += bytes;
        r.hist.record(Math.max(0, Math.round(ms * 1000)));
        if (status < 200 || status > 299) {
          r.errors.protocol++;
          r.non2xx++;
          if (r.firstNon2xx === 0) r.firstNon2xx = status;
        } else {
          r.ops++;
        }
      });
      // autocannon reconnects, then emits one 'timeout' per pipelined request of the connection
      // that timed out (`replaced`). On a socket that never connected those requests were never
      // sent: that is one connect that timed out (reason ETIMEDOUT, as every driver counts it),
      // not depth unanswered requests every timeout period.
      cl.on('timeout', () => {
        const errors = errorsNow(r);
        if (errors === null) return;
        const s = replaced;
        if (s !== undefined && !s.connected) {
          if (s.connectTimedOut) return;
          s.connectTimedOut = true;
          errors.timeout++;
          if (measuring()) {
            r.connectTimeouts++;
            r.connectErrors['ETIMEDOUT'] = (r.connectErrors['ETIMEDOUT'] ?? 0) + 1;
          }
          return;
        }
        errors.timeout++;
      });
      cl.on('mismatch', () => {
        // A non-2xx answer is already a protocol error; count a wrong body only on a 2xx.
        const errors = errorsNow(r);
        if (errors !== null && lastStatus >= 200 && lastStatus <= 299) {
          errors.protocol++;
          if (measuring()) r.mismatches++;
        }
      });
    };
    const opts: autocannonTypes.Options = {
      url: targetUrl(c, r.target),
      connections: r.connections,
      pipelining: c.depth,
      // A safety net only: the driver stops the instance itself when the window ends.
      duration: (cmd.warmupMs + cmd.durationMs) / 1000 + 60,
      timeout: timeoutS,
      // autocannon acts on stop() at its next sample tick; 100 ms keeps that tail short.
      sampleInt: 100,
      setupClient,
      skipAggregateResult: true,
    };
    if (expectBody !== undefined) opts.expectBody = expectBody;
    r.finished = new Promise<void>((resolve) => {
      try {
        r.instance = this.#autocannon(opts, (err) => {
          if (err != null) r.failure = err instanceof Error ? err : new Error(String(err));
          resolve();
        });
      } catch (err) {
        r.failure = err instanceof Error ? err : new Error(String(err));
        resolve();
      }
    });
  }

  #result(r: TargetRun, durationMs: number): RunResult {
    const seconds = durationMs / 1000;
    const warnings: string[] = [];
    const at = targetText(r.target);
    if (r.failure !== undefined) warnings.push(`autocannon against ${at} failed: ${r.failure.message}`);
    if (r.answered === 0) {
      warnings.push(`autocannon: no answers from ${at} in the ${Math.round(durationMs)} ms window (${totalErrors(r.errors)} errors on ${r.connections} connections)`);
    } else if (r.ops === 0) {
      warnings.push(`autocannon: none of the ${r.answered} answers from ${at} in the ${Math.round(durationMs)} ms window was 2xx`);
    }
    const codes = Object.entries(r.connectErrors);
    if (codes.length > 0) {
      warnings.push(`autocannon: connect attempts to ${at} failed (${codes.map(([k, n]) => `${k} ×${n}`).join(', ')}); autocannon retries at once, so these count attempts, not connections`);
    }
    if (r.lost > 0) {
      warnings.push(`autocannon: ${r.lost} requests to ${at} were lost to hang-ups (${r.closedByServer}) or resets with requests in flight, counted as read or write errors; autocannon reconnected each time`);
    }
    const unanswered = r.errors.timeout - r.connectTimeouts;
    if (unanswered > 0) warnings.push(`autocannon: ${unanswered} requests to ${at} got no answer within ${Math.max(1000, this.#config.responseTimeoutMs)} ms`);
    if (r.non2xx > 0) warnings.push(`autocannon: ${r.non2xx} answers from ${at} were not 2xx (first: ${r.firstNon2xx})`);
    if (r.mismatches > 0) warnings.push(`autocannon: ${r.mismatches} 2xx answers from ${at} had a body other than ${JSON.stringify(HTTP_HELLO_BODY)}`);
    const result: RunResult = {
      durationMs: Math.round(durationMs * 1000) / 1000,
      connections: r.openAtEnd,
      ops: r.ops,
      bytes: r.bytes,
      opsPerSec: seconds > 0 ? r.ops / seconds : 0,
      bytesPerSec: seconds > 0 ? r.bytes / seconds : 0,
      latency: r.hist.toJSON(),
      errors: r.errors,
      warmupErrors: r.warmupErrors,
      cpu: zeroCpu(),
      clientBound: false,
      extra: {
        requests: r.ops,
        answered: r.answered,
        non2xx: r.non2xx,
        lost: r.lost,
        mismatches: r.mismatches,
        closedByServer: r.closedByServer,
        responsesTotal: r.responsesTotal,
        connectionsTarget: r.connections,
        connectionsPeak: r.peakOpen,
      },
      connectErrors: r.connectErrors,
    };
    if (warnings.length > 0) result.warnings = warnings;
    return result;
  }

  stats(): { connections: number; errors: DriverErrors } {
    const open = this.#probe?.open ?? this.#runs.reduce((a, r) => a + r.open, 0);
    const errors = { ...this.#cumulative };
    for (const r of this.#runs) addErrors(errors, r.errors);
    return { connections: open, errors };
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#probe?.abort();
    const runs = this.#runs;
    for (const r of runs) r.instance?.stop();
    this.#stopRun?.();
    let bound: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(runs.map((r) => r.finished)), new Promise((resolve) => (bound = setTimeout(resolve, STOP_BOUND_MS)))]);
    clearTimeout(bound);
  }
}

/** The autocannon package, or DriverUnavailableError when it is not installed. */
async function loadAutocannon(): Promise<Autocannon> {
  try {
    return ((await import('autocannon')) as { default: Autocannon }).default;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND') throw new DriverUnavailableError('autocannon is not installed (npm install autocannon)');
    throw err;
  }
}

export const probe: DriverProbe = async () => {
  try {
    await loadAutocannon();
    return true;
  } catch (err) {
    if (err instanceof DriverUnavailableError) return err.message;
    throw err;
  }
};

export const createDriver: DriverFactory = async (c: ResolvedDriverConfig): Promise<DriverImpl> => {
  if (c.protocol !== 'http-hello') throw new DriverUnavailableError(`autocannon speaks HTTP only, not ${c.protocol}`);
  if (c.mode !== 'closed') {
    throw new DriverUnavailableError(
      c.mode === 'idle'
        ? 'autocannon cannot hold idle connections: it sends requests on every connection it opens'
        : 'autocannon has no open-loop schedule: its rate option caps requests per second per connection and measures latency from the send, not from a schedule',
    );
  }
  const autocannon = await loadAutocannon();
  const notes: string[] = [];
  if (c.sourceAddresses !== undefined && c.sourceAddresses.length > 0) {
    notes.push('autocannon cannot bind source addresses: sourceAddresses ignored (all connections come from the default address)');
  }
  if (c.responseTimeoutMs < 1000) notes.push(`autocannon's request timeout is at least 1 s: responseTimeoutMs ${c.responseTimeoutMs} raised to 1000`);
  return new AutocannonDriver(c, autocannon, notes);
};
