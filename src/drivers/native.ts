// The `native` driver: the engine's connector in this (driver) process. Every connection and
// message is handled natively; JS only steers the phases and reads counters.
import { ClientGroup, loadAddon, type ClientProtocol, type ClientGroupStats } from '../engine/index.js';
import type { Protocol } from '../wire/protocols.js';
import {
  DriverUnavailableError, type CpuUse, type DriverErrors, type DriverFactory, type DriverImpl, type DriverProbe,
  type RampResult, type ResolvedDriverConfig, type RunResult,
} from './driver-contract.js';
import { CLIENT_BOUND_PCT } from './cpu.js';

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

function cpuSince(start: NodeJS.CpuUsage, ms: number): CpuUse {
  const d = process.cpuUsage(start);
  const userMs = d.user / 1000, sysMs = d.system / 1000;
  return { userMs, sysMs, pct: ms > 0 ? ((userMs + sysMs) / ms) * 100 : 0 };
}

function errorsOf(s: Omit<ClientGroupStats, 'latency'>): DriverErrors {
  return { connect: s.errConnect, read: s.errRead + s.peerClosed, write: s.errWrite, timeout: s.errTimeout, protocol: s.errProtocol };
}

/** How far each count grew since `then` (never below 0). */
function errorsSince(now: DriverErrors, then: DriverErrors): DriverErrors {
  const d = (k: keyof DriverErrors): number => Math.max(0, now[k] - then[k]);
  return { connect: d('connect'), read: d('read'), write: d('write'), timeout: d('timeout'), protocol: d('protocol') };
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
        warnings.push(`ramp stopped at its ${Math.round(cmd.timeoutMs / 1000)} s bound with ${stats.attemptsLeft} connects not started and ${stats.pending} in flight`);
      }
      const established = stats.established - before.established;
      const errors = errorsOf(stats);
      const connectErrors: Record<string, number> = {};
      for (const [k, v] of Object.entries(stats.connectErrors)) {
        const prior = before.connectErrors[k] ?? 0;
        if (v > prior) connectErrors[k] = v - prior;
      }
      return {
        target: cmd.connections,
        established: stats.active,
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
      // The warm-up's errors are its counts' growth over it: reset() below clears them for the
      // window, and a connection the server reset in the warm-up would otherwise leave no trace.
      const errors0 = errorsOf(group.counts());
      group.run(config.mode, config.rate);
      if (cmd.warmupMs > 0) await sleep(cmd.warmupMs);
      const warmupErrors = errorsSince(errorsOf(group.counts()), errors0);
      group.reset();
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
      // Stopped first: the open loop's window ends there, and every message it scheduled in the
      // window and did not see answered is recorded then (at what it waited) and counted.
      group.stop();
      const s = group.stats();
      const ms = performance.now() - t0;
      const cpu = cpuSince(cpu0, ms);
      const measured = config.mode === 'closed' || config.mode === 'open' || config.mode === 'churn';
      return {
        durationMs: ms,
        connections: s.active,
        ops: s.ops,
        bytes: s.bytesIn,
        opsPerSec: s.ops / (ms / 1000),
        bytesPerSec: s.bytesIn / (ms / 1000),
        latency: measured && s.latency.count > 0 ? s.latency.toJSON() : null,
        errors: errorsOf(s),
        warmupErrors,
        cpu,
        clientBound: cpu.pct >= CLIENT_BOUND_PCT,
        extra: {
          sent: s.sent, bytesOut: s.bytesOut, peerClosed: s.peerClosed,
          // Messages given up in the window (each recorded in the latency at what it waited).
          dropped: s.dropped, timedOut: s.timedOut, lost: s.lost, unanswered: s.unanswered,
          // Over TLS: handshakes this window finished in full, resumed, and failed (client side).
          ...(tls0 !== null
            ? { tlsHandshakes: s.tlsHandshakes - tls0.tlsHandshakes, tlsResumed: s.tlsResumed - tls0.tlsResumed, tlsHandshakeFailed: s.tlsHandshakeFailed - tls0.tlsHandshakeFailed }
            : {}),
        },
      };
    },

    stats() {
      const s = group.counts();
      return { connections: s.active, errors: errorsOf(s) };
    },

    async close(): Promise<void> {
      group.close();
    },
  };
};

export default createNativeDriver;
