// The driver process: `node dist/src/drivers/driver-process.js '<DriverConfig JSON>'`, started by
// driver-handle.ts with an IPC channel. It loads the driver named in the config, says ready (or
// unavailable, exit 3), then executes the parent's commands one at a time, sending progress
// every 500 ms while a phase runs. On SIGTERM, SIGINT, a close command or the loss of the parent
// it closes every connection and subprocess and exits.
//
// CPU: a run's `cpu` is the implementation's, over the measured window only (not the warm-up,
// nor reading a tool's output afterwards), with `pct` the busiest single process of the driver
// (see cpu.ts); this process does not overwrite it. A run is clientBound when the implementation
// says so or when that pct is at least CLIENT_BOUND_PCT (90 %) of one core. A ramp's `cpu` is
// this process's own threads over the whole ramp (CpuMeter), whatever the implementation put
// there: every ramp (the HTTP probe, the native connector) runs in this process.

import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { errorMessage as message } from '../checks.js';
import { checkCommand, resolveDriverConfig } from './driver-config.js';
import { CpuMeter, isClientBound } from './cpu.js';
import { loadDriver } from './registry.js';
import { DriverUnavailableError, type DriverCommand, type DriverImpl, type DriverMessage, type ResolvedDriverConfig } from './driver-contract.js';

/** Exit codes of the driver process. */
export const DRIVER_EXIT = Object.freeze({ ok: 0, failed: 1, config: 2, unavailable: 3, shutdownTimeout: 4 });
export const PROGRESS_INTERVAL_MS = 500;
/** How long closing the implementation may take before the process exits anyway. */
export const CLOSE_BOUND_MS = 5000;

function send(msg: DriverMessage, done?: () => void): void {
  if (process.connected && process.send !== undefined) process.send(msg, undefined, {}, () => done?.());
  else done?.();
}

function exitWith(msg: DriverMessage, code: number, prefix: string): void {
  const text = msg.type === 'unavailable' ? `unavailable: ${msg.reason}` : msg.type === 'failed' ? msg.message : msg.type;
  process.stderr.write(`${prefix}: ${text}\n`);
  send(msg, () => process.exit(code));
}

export async function main(argv: readonly string[]): Promise<void> {
  if (process.send === undefined) {
    process.stderr.write('c1m driver: start this process with an IPC channel (startDriver in src/drivers/driver-handle.ts)\n');
    process.exitCode = DRIVER_EXIT.config;
    return;
  }
  let prefix = `c1m driver (pid ${process.pid})`;
  let config: ResolvedDriverConfig;
  try {
    if (argv[0] === undefined) throw new TypeError('missing configuration: pass the DriverConfig JSON as the first argument');
    config = resolveDriverConfig(JSON.parse(argv[0]) as unknown);
  } catch (err) {
    exitWith({ type: 'failed', message: `bad configuration: ${message(err)}` }, DRIVER_EXIT.config, prefix);
    return;
  }
  prefix = `c1m driver ${config.driver}/${config.protocol} (pid ${process.pid})`;

  let impl: DriverImpl | undefined;
  let stopping = false;
  let progressTimer: NodeJS.Timeout | undefined;
  const shutdown = (why: string): void => {
    if (stopping) return;
    stopping = true;
    clearInterval(progressTimer);
    const bound = setTimeout(() => {
      process.stderr.write(`${prefix}: closing on ${why} did not finish within ${CLOSE_BOUND_MS} ms; exiting with code ${DRIVER_EXIT.shutdownTimeout}\n`);
      process.exit(DRIVER_EXIT.shutdownTimeout);
    }, CLOSE_BOUND_MS);
    (impl === undefined ? Promise.resolve() : impl.close()).then(
      () => {
        clearTimeout(bound);
        process.exit(DRIVER_EXIT.ok);
      },
      (err: unknown) => {
        process.stderr.write(`${prefix}: close failed: ${message(err)}\n`);
        process.exit(DRIVER_EXIT.failed);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('disconnect', () => shutdown('parent gone'));

  try {
    const factory = await loadDriver(config.driver);
    impl = await factory(config);
  } catch (err) {
    if (err instanceof DriverUnavailableError || (err instanceof Error && err.name === 'DriverUnavailableError')) {
      exitWith({ type: 'unavailable', reason: (err as DriverUnavailableError).reason ?? err.message }, DRIVER_EXIT.unavailable, prefix);
    } else {
      exitWith({ type: 'failed', message: message(err) }, DRIVER_EXIT.failed, prefix);
    }
    return;
  }
  if (stopping) {
    // A stop signal arrived while the driver was loading; shutdown() saw no impl to close.
    await impl.close();
    return;
  }
  const driver = impl;

  const phase = async <T>(name: 'ramp' | 'run', body: (progress: (connections: number, ops?: number) => void) => Promise<T>): Promise<T> => {
    const started = performance.now();
    let connections = 0;
    let ops = 0;
    progressTimer = setInterval(() => {
      send({ type: 'progress', phase: name, connections, ops, elapsedMs: Math.round(performance.now() - started) });
    }, PROGRESS_INTERVAL_MS);
    try {
      return await body((c, o) => {
        connections = c;
        if (o !== undefined) ops = o;
      });
    } finally {
      clearInterval(progressTimer);
    }
  };

  const execute = async (cmd: DriverCommand): Promise<void> => {
    switch (cmd.type) {
      case 'ramp': {
        const meter = new CpuMeter();
        const result = await phase('ramp', (progress) => driver.ramp(cmd, (c) => progress(c)));
        result.cpu = meter.read();
        send({ type: 'ramped', result });
        return;
      }
      case 'run': {
        const result = await phase('run', (progress) => driver.run(cmd, progress));
        result.clientBound = result.clientBound || isClientBound(result.cpu);
        send({ type: 'ran', result });
        return;
      }
      case 'stats': {
        const s = driver.stats();
        send({ type: 'stats', connections: s.connections, errors: s.errors });
        return;
      }
      case 'close':
        shutdown('close command');
        return;
    }
  };

  // Commands run strictly one after another, so replies come back in the order of the commands.
  let queue = Promise.resolve();
  process.on('message', (raw: unknown) => {
    queue = queue.then(async () => {
      if (stopping) return;
      const type = typeof raw === 'object' && raw !== null ? (raw as { type?: unknown }).type : undefined;
      try {
        await execute(checkCommand(raw));
      } catch (err) {
        const failed: DriverMessage = { type: 'failed', message: message(err) };
        if (type === 'ramp' || type === 'run' || type === 'stats' || type === 'close') failed.command = type;
        send(failed);
      }
    });
  });

  send({ type: 'ready', pid: process.pid, driver: config.driver });
}

const entry = process.argv[1];
if (entry !== undefined && import.meta.url === pathToFileURL(realpathSync(entry)).href) {
  await main(process.argv.slice(2));
}
