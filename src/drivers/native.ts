// The `native` driver: the engine's connector in this (driver) process. Every connection and
// message is handled natively; JS only steers the phases and reads counters.
import { ClientGroup, loadAddon, type ClientProtocol, type ClientGroupStats } from '../engine/index.js';
import type { Protocol } from '../wire/protocols.js';
import {
  DriverUnavailableError, type CpuUse, type DriverErrors, type DriverFactory, type DriverImpl, type DriverProbe,
  type RampResult, type ResolvedDriverConfig, type RunResult,
} from './driver-contract.js';
import { CLIENT_BOUND_PCT, cpuUse } from './cpu.js';
import { addErrors, emptyErrors, reasonsText } from './merge.js';

/** The connector is the engine's: it runs wherever the addon loads. */
export const probe: DriverProbe = async () => {
  try {
    loadAddon();
    return true;
  } catch (err) {
    return (err as Error).message;
  }
};

const PROTOCOL_MAP: Record<Protocol, ClientProtocol> = {
  'tcp-echo': 'stream',
  'frame-echo': 'frame',
  'http-hello': 'http',
  'ws-echo': 'ws-echo',
  'ws-broadcast': 'ws-broadcast',
};

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * After its window, a run waits at most this long (or the response timeout, if shorter) for the
 * answers still in flight, so that they are recorded at their real latency: without it, a
 * closed loop's last message on each connection is recorded at the part of its wait the window
 * saw. What has not come by then is recorded at what it waited (unanswered).
 */
export const SETTLE_MS = 1000;

function cpuSince(start: NodeJS.CpuUsage, ms: number): CpuUse {
  const d = process.cpuUsage(start);
  return cpuUse(d.user / 1000, d.system / 1000, ms);
}

/**
 * The connector's error counts as the driver's. A connection the server closed is a read error,
 * except in `stall` mode, whose peers go silent so that the server closes them (the reap step
 * counts those closes as what it measures, not as errors).
 */
function errorsOf(s: Omit<ClientGroupStats, 'latency'>, mode: ResolvedDriverConfig['mode']): DriverErrors {
  const closes = mode === 'stall' ? 0 : s.peerClosed;
  return { connect: s.errConnect, read: s.errRead + closes, write: s.errWrite, timeout: s.errTimeout, protocol: s.errProtocol };
}

/** How far each count grew since `then` (never below 0). */
function errorsSince(now: DriverErrors, then: DriverErrors): DriverErrors {
  const d = (k: keyof DriverErrors): number => Math.max(0, now[k] - then[k]);
  return { connect: d('connect'), read: d('read'), write: d('write'), timeout: d('timeout'), protocol: d('protocol') };
}

/**
 * The connector's error counts run from its last reset (a run's window) and serve every phase
 * after it, so each report takes only their growth since the report before: a ramp after a run
 * (or after another ramp) would otherwise report the earlier errors again, and the runner adds
 * every report to a step. What grew between two reports with no reset between is in the next.
 */
class ErrorLedger {
  #reported: DriverErrors = emptyErrors();
  readonly #life: DriverErrors = emptyErrors();

  /** The growth of `now` (the connector's counts since its reset) since the last report. */
  take(now: DriverErrors): DriverErrors {
    const d = errorsSince(now, this.#reported);
    this.#reported = { ...now };
    addErrors(this.#life, d);
    return d;
  }

  /** The connector's counts were reset (after take() read them). */
  reset(): void {
    this.#reported = emptyErrors();
  }

  /** Everything reported over the driver's life, with what has grown since the last report. */
  life(now: DriverErrors): DriverErrors {
    return addErrors({ ...this.#life }, errorsSince(now, this.#reported));
  }
}

/** Creates the native driver for one resolved config (the addon must load). */
export const createNativeDriver: DriverFactory = async (config: ResolvedDriverConfig): Promise<DriverImpl> => {
  let group: ClientGroup;
  try {
    group = new ClientGroup({
      protocol: PROTOCOL_MAP[config.protocol],
      targets: config.targets,
      ...(config.sourceAddresses ? { sources: config.sourceAddresses } : {}),
      messageBytes: config.messageBytes,
      depth: config.depth,
      connectTimeoutMs: config.connectTimeoutMs,
      handshakeTimeoutMs: config.handshakeTimeoutMs,
      responseTimeoutMs: config.responseTimeoutMs,
      heartbeatMs: config.heartbeatMs,
      rooms: config.rooms,
      publishers: config.publishers,
      path: config.path,
      // The connector does not verify the server (the cost measured is the server's); the
      // primer verified the run's certificate before any load.
      ...(config.tls ? { tls: { resume: config.tls.resume, ...(config.tls.servername !== undefined ? { servername: config.tls.servername } : {}) } } : {}),
    });
  } catch (e) {
    if ((e as Error).message.includes('cannot load the epoll engine')) throw new DriverUnavailableError((e as Error).message);
    throw e;
  }

  const ledger = new ErrorLedger();
  // Why connections failed, counted as the errors are: each report says what grew since the one
  // before it (the counts behind it are the group's life's).
  let reasonsAt: GroupCounts = group.counts();

  return {
    async ramp(cmd, progress): Promise<RampResult> {
      const before = group.counts();
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      group.ramp(cmd.connections, cmd.ratePerSec);
      const { stats, timedOut } = await group.rampDone(cmd.timeoutMs, (s) => progress(s.active));
      const ms = performance.now() - t0;
      const warnings: string[] = [];
      if (timedOut) {
        // No more connects past the bound: what is still in flight finishes or times out on its own.
        group.ramp(stats.active + stats.pending, 0);
        warnings.push(`ramp stopped at its ${cmd.timeoutMs / 1000} s bound with ${stats.attemptsLeft} connects not started and ${stats.pending} in flight`);
      }
      const established = stats.established - before.established;
      const errors = ledger.take(errorsOf(stats, config.mode));
      const connectErrors = failureReasons(reasonsAt, stats);
      reasonsAt = stats;
      return {
        target: cmd.connections,
        established: stats.active,
        opened: Math.max(0, established),
        failed: stats.failed - before.failed,
        ms,
        ratePerSec: established > 0 && ms > 0 ? established / (ms / 1000) : null,
        errors,
        connectErrors,
        cpu: cpuSince(cpu0, ms),
        // The connect window: how many connects it allowed in flight at the end, and the least it
        // was cut to (below its start of 64: connects took over a second, or timed out).
        extra: { window: stats.window, minWindow: stats.windowMin },
        ...(warnings.length > 0 ? { warnings } : {}),
      };
    },

    async run(cmd, progress): Promise<RunResult> {
      // The warm-up's errors (with any since the last report: a connection the server reset
      // between two runs) are reported apart: reset() below clears the counts for the window,
      // and a connection lost before it would otherwise leave no trace.
      group.run(config.mode, config.rate);
      if (cmd.warmupMs > 0) await sleep(cmd.warmupMs);
      const warmupErrors = ledger.take(errorsOf(group.counts(), config.mode));
      group.reset();
      ledger.reset();
      // TLS handshake counts are the group's life's: the window's are the difference.
      const tls0 = config.tls ? group.stats() : null;
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      const end = t0 + cmd.durationMs;
      while (performance.now() < end) {
        await sleep(Math.min(500, Math.max(1, end - performance.now())));
        const s = group.counts();
        progress(s.active, s.ops);
      }
      // The window ends at the stop: its ops, bytes and CPU are read there. The answers still in
      // flight then are waited for (SETTLE_MS at most) only to record their latency; what does
      // not come is recorded at what it waited and counted as unanswered.
      const w = group.endWindow();
      const ms = performance.now() - t0;
      const cpu = cpuSince(cpu0, ms);
      await group.settle(Math.min(SETTLE_MS, config.responseTimeoutMs));
      const s = group.stats();
      const measured = config.mode === 'closed' || config.mode === 'open' || config.mode === 'churn';
      // Connections made during the run (churn, a handshake storm) fail with their reasons as a
      // ramp's do; they cover the warm-up too, as the step's errors do (warmupErrors).
      const connectErrors = failureReasons(reasonsAt, s);
      reasonsAt = s;
      return {
        durationMs: ms,
        connections: s.active,
        ops: w.ops,
        bytes: w.bytesIn,
        opsPerSec: w.ops / (ms / 1000),
        bytesPerSec: w.bytesIn / (ms / 1000),
        // An empty histogram where the mode measures (nothing was scheduled, or every connection
        // was lost): it merges with other processes' and reads as no latency on its own.
        latency: measured ? s.latency.toJSON() : null,
        errors: ledger.take(errorsOf(s, config.mode)),
        warmupErrors,
        cpu,
        clientBound: cpu.pct >= CLIENT_BOUND_PCT,
        extra: {
          sent: s.sent, bytesOut: s.bytesOut, peerClosed: s.peerClosed,
          // The latency's count: answers to messages of the window, and the messages given up
          // (each recorded at what it waited).
          answered: s.answered, dropped: s.dropped, timedOut: s.timedOut, lost: s.lost, unanswered: s.unanswered,
          // Over TLS: handshakes this window finished in full, resumed, and failed (client side).
          ...(tls0 !== null
            ? { tlsHandshakes: s.tlsHandshakes - tls0.tlsHandshakes, tlsResumed: s.tlsResumed - tls0.tlsResumed, tlsHandshakeFailed: s.tlsHandshakeFailed - tls0.tlsHandshakeFailed }
            : {}),
        },
        ...(Object.keys(connectErrors).length > 0 ? { connectErrors, warnings: [`connections failed during the run (${reasonsText(connectErrors)})`] } : {}),
      };
    },

    stats() {
      const s = group.counts();
      return { connections: s.active, errors: ledger.life(errorsOf(s, config.mode)) };
    },

    async close(): Promise<void> {
      group.close();
    },
  };
};

type GroupCounts = Pick<ClientGroupStats, 'connectErrors' | 'tlsErrors' | 'closedInHandshake'>;

/**
 * Why connections failed between two readings of a group (both are counts of the group's life):
 * the connect's errno, a TLS handshake's reason (`TLS: …`), a server that closed in the
 * handshake (TLS or WebSocket).
 */
function failureReasons(before: GroupCounts, now: GroupCounts): Record<string, number> {
  const out: Record<string, number> = {};
  const grew = (key: string, n: number, prior: number): void => {
    if (n > prior) out[key] = n - prior;
  };
  for (const [k, v] of Object.entries(now.connectErrors)) grew(k, v, before.connectErrors[k] ?? 0);
  for (const [k, v] of Object.entries(now.tlsErrors)) grew(`TLS: ${k}`, v, before.tlsErrors[k] ?? 0);
  grew('closed by the server in its handshake', now.closedInHandshake, before.closedInHandshake);
  return out;
}

export default createNativeDriver;
