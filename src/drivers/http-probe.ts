// The ramp of the HTTP tool drivers (autocannon, wrk, h2load). Neither tool can open connections ahead
// of its run, so their ramp is a probe: open the requested number of connections at the
// requested rate, send one GET on each, wait for its answer, hold them all until every one has
// settled, then close them. The result says honestly how many connections this process could
// open and get answered; it is not a set of connections kept for the run (extra.held = 0).

import net from 'node:net';
import tls from 'node:tls';
import { HttpResponseParser } from '../wire/clients/http.js';
import { addErrors, emptyErrors, totalErrors } from './merge.js';
import type { DriverCommand, DriverErrors, DriverTls, RampResult, ResolvedDriverConfig, Target } from './driver-contract.js';

export interface HttpProbeOptions {
  /** Used in messages. */
  driver: string;
  targets: readonly Target[];
  connections: number;
  /** New connections per second; 0 = as fast as possible. */
  ratePerSec: number;
  /** Bound of the whole probe. */
  timeoutMs: number;
  connectTimeoutMs: number;
  responseTimeoutMs: number;
  path: string;
  /** Probe over TLS (the run's --tls): a connection counts once its handshake is done. */
  tls?: DriverTls;
}

export type HttpProbeResult = Omit<RampResult, 'cpu'>;

/**
 * The whole ramp of autocannon and wrk: one probe with the driver's config, its errors added to
 * `cumulative`, the driver's own notes in front of the probe's warnings. `track` is given the
 * probe while it runs (so the driver's close() can abort it) and undefined after. The probe
 * costs this process next to nothing, so the ramp reports no CPU.
 */
export async function probeRamp(
  driver: 'autocannon' | 'wrk' | 'h2load',
  c: ResolvedDriverConfig,
  cmd: Extract<DriverCommand, { type: 'ramp' }>,
  o: { notes: readonly string[]; cumulative: DriverErrors; track: (probe: HttpProbe | undefined) => void; progress: (connections: number) => void },
): Promise<RampResult> {
  const probe = new HttpProbe({
    driver,
    targets: c.targets,
    connections: cmd.connections,
    ratePerSec: cmd.ratePerSec,
    timeoutMs: cmd.timeoutMs,
    connectTimeoutMs: c.connectTimeoutMs,
    responseTimeoutMs: c.responseTimeoutMs,
    path: c.path,
    ...(c.tls ? { tls: c.tls } : {}),
  });
  o.track(probe);
  const r = await probe.run(o.progress).finally(() => o.track(undefined));
  addErrors(o.cumulative, r.errors);
  const warnings = [...o.notes, ...(r.warnings ?? [])];
  const out: RampResult = { ...r, cpu: { userMs: 0, sysMs: 0, pct: 0 } };
  if (warnings.length > 0) out.warnings = warnings;
  else delete out.warnings;
  return out;
}

interface Probe {
  socket: net.Socket;
  target: Target;
  connected: boolean;
  settled: boolean;
  timer: NodeJS.Timeout | undefined;
}

const LAUNCH_BATCH = 256;
const PACE_MS = 10;

function where(t: Target): string {
  return net.isIPv6(t.host) ? `[${t.host}]:${t.port}` : `${t.host}:${t.port}`;
}

/** One probe run; abort() ends it early (the promise still resolves with what was counted). */
export class HttpProbe {
  readonly #o: HttpProbeOptions;
  readonly #probes: Probe[] = [];
  readonly #errors = emptyErrors();
  readonly #connectErrors: Record<string, number> = {};
  readonly #byTarget = new Map<string, Record<string, number>>();
  #established = 0;
  #open = 0;
  #answered = 0;
  #non2xx = 0;
  #firstBadStatus = 0;
  #closedByServer = 0;
  #unanswered = 0;
  #launched = 0;
  #settled = 0;
  #lastConnectAt = 0;
  #start = 0;
  #finish: (() => void) | undefined;
  #done = false;

  constructor(options: HttpProbeOptions) {
    this.#o = options;
  }

  get open(): number {
    return this.#open;
  }

  run(progress: (connections: number) => void): Promise<HttpProbeResult> {
    const o = this.#o;
    this.#start = performance.now();
    return new Promise<HttpProbeResult>((resolve) => {
      let pacer: NodeJS.Timeout | undefined;
      const bound = setTimeout(() => this.abort(), o.timeoutMs);
      const tick = setInterval(() => progress(this.#open), 250);
      this.#finish = () => {
        if (this.#done) return;
        this.#done = true;
        clearTimeout(bound);
        clearInterval(tick);
        clearTimeout(pacer);
        const ms = performance.now() - this.#start;
        for (const p of this.#probes) {
          clearTimeout(p.timer);
          p.socket.destroy();
        }
        progress(0);
        resolve(this.#result(ms));
      };
      const launchDue = (): void => {
        if (this.#done) return;
        const due = o.ratePerSec > 0 ? Math.min(o.connections, Math.floor(((performance.now() - this.#start) / 1000) * o.ratePerSec) + 1) : o.connections;
        // Launch in batches so a large ramp does not hold the event loop for the whole storm.
        const until = Math.min(due, this.#launched + LAUNCH_BATCH);
        while (this.#launched < until) this.#launch(o.targets[this.#launched % o.targets.length] as Target);
        if (this.#launched < o.connections) pacer = this.#launched < due ? setTimeout(launchDue, 0) : setTimeout(launchDue, PACE_MS);
      };
      if (o.connections === 0) this.#finish();
      else launchDue();
    });
  }

  /** Ends the probe now: pending connects and answers count as timeouts, unlaunched ones as failed. */
  abort(): void {
    if (this.#done) return;
    for (const p of this.#probes) {
      if (p.settled) continue;
      this.#errors.timeout++;
      if (p.connected) this.#unanswered++;
      else this.#countConnectError(p.target, 'ETIMEDOUT');
      p.settled = true;
    }
    this.#finish?.();
  }

  #launch(target: Target): void {
    const o = this.#o;
    this.#launched++;
    const t = o.tls;
    const socket: net.Socket =
      t === undefined
        ? net.connect({ host: target.host, port: target.port, noDelay: true })
        : tls.connect({ host: target.host, port: target.port, ca: t.ca, servername: t.servername, rejectUnauthorized: t.ca !== undefined }).setNoDelay(true);
    const p: Probe = { socket, target, connected: false, settled: false, timer: undefined };
    this.#probes.push(p);
    const parser = new HttpResponseParser();
    const settle = (): void => {
      if (p.settled) return;
      p.settled = true;
      clearTimeout(p.timer);
      this.#settled++;
      if (this.#settled === o.connections) this.#finish?.();
    };
    p.timer = setTimeout(() => {
      if (p.settled) return;
      this.#errors.timeout++;
      if (p.connected) this.#unanswered++;
      else this.#countConnectError(target, 'ETIMEDOUT');
      socket.destroy();
      settle();
    }, o.connectTimeoutMs);
    socket.once(t === undefined ? 'connect' : 'secureConnect', () => {
      p.connected = true;
      this.#established++;
      this.#open++;
      this.#lastConnectAt = performance.now();
      clearTimeout(p.timer);
      p.timer = setTimeout(() => {
        if (p.settled) return;
        this.#errors.timeout++;
        this.#unanswered++;
        settle();
      }, o.responseTimeoutMs);
      socket.write(`GET ${o.path} HTTP/1.1\r\nHost: ${where(target)}\r\n\r\n`);
    });
    socket.on('data', (chunk: Buffer) => {
      if (p.settled) return;
      try {
        parser.push(chunk);
      } catch {
        this.#errors.protocol++;
        socket.destroy();
        settle();
        return;
      }
      const res = parser.responses[0];
      if (res === undefined) return;
      this.#answered++;
      if (res.status < 200 || res.status > 299) {
        this.#errors.protocol++;
        this.#non2xx++;
        if (this.#firstBadStatus === 0) this.#firstBadStatus = res.status;
      }
      settle();
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (p.settled) return;
      if (!p.connected) this.#countConnectError(target, err.code ?? 'EUNKNOWN');
      else if (err.code === 'EPIPE') this.#errors.write++;
      else this.#errors.read++;
      settle();
    });
    socket.on('close', () => {
      if (p.connected) this.#open--;
      if (p.settled) return;
      // Closed without an error before the answer: the server hung up on us.
      if (p.connected) {
        this.#errors.read++;
        this.#closedByServer++;
      } else {
        this.#countConnectError(target, 'ECONNABORTED');
      }
      settle();
    });
  }

  #countConnectError(target: Target, code: string): void {
    if (code !== 'ETIMEDOUT') this.#errors.connect++;
    this.#connectErrors[code] = (this.#connectErrors[code] ?? 0) + 1;
    const key = where(target);
    const m = this.#byTarget.get(key) ?? {};
    m[code] = (m[code] ?? 0) + 1;
    this.#byTarget.set(key, m);
  }

  #result(ms: number): HttpProbeResult {
    const o = this.#o;
    const spanMs = this.#lastConnectAt - this.#start;
    const notLaunched = o.connections - this.#launched;
    const warnings: string[] = [];
    for (const [target, codes] of this.#byTarget) {
      const list = Object.entries(codes).map(([code, n]) => `${code} ×${n}`).join(', ');
      warnings.push(`${o.driver} ramp: connections to ${target} failed (${list})`);
    }
    if (this.#closedByServer > 0) warnings.push(`${o.driver} ramp: the server closed ${this.#closedByServer} connection(s) before answering GET ${o.path}`);
    if (this.#unanswered > 0) warnings.push(`${o.driver} ramp: ${this.#unanswered} GET ${o.path} got no answer within ${o.responseTimeoutMs} ms`);
    if (this.#non2xx > 0) warnings.push(`${o.driver} ramp: ${this.#non2xx} answer(s) were not 2xx (first: ${this.#firstBadStatus})`);
    if (notLaunched > 0) warnings.push(`${o.driver} ramp: the ${o.timeoutMs} ms bound ended the ramp with ${notLaunched} connection(s) not yet attempted`);
    const result: HttpProbeResult = {
      target: o.connections,
      established: this.#established,
      opened: this.#established,
      failed: o.connections - this.#established,
      ms: Math.round(ms * 1000) / 1000,
      ratePerSec: this.#established === 0 ? null : Math.round((this.#established / Math.max(spanMs, 0.001)) * 1000 * 1000) / 1000,
      errors: this.#errors,
      connectErrors: this.#connectErrors,
      extra: { held: 0, answered: this.#answered, non2xx: this.#non2xx, closedByServer: this.#closedByServer, unanswered: this.#unanswered, notAttempted: notLaunched },
    };
    if (warnings.length > 0 || totalErrors(this.#errors) > 0) result.warnings = warnings;
    return result;
  }
}
