// The contender process: `node dist/src/contenders/contender-process.js '<ChildConfig JSON>'`.
// Starts one server, says ready on the control channel, answers stats/publish requests, and
// drains on SIGTERM (exit 0, or EXIT.shutdownTimeout after the bound), telling the parent what the
// drain had to cut ({type:'drained'}) before it exits. On SIGINT it drains the
// same way but lets the event loop end by itself, so tools that hook process exit (clinic) see a
// normal end. `contender-process.js --probe NAME` only checks that contender NAME can run here.

import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { errorMessage as message, isRecord } from '../checks.js';
import { drainBoundMs, parseChildConfig } from './contender-config.js';
import { openChildChannel, type ChildChannel } from './control.js';
import { getContender, speaksWith } from './registry.js';
import { EXIT, type ChildConfig, type ChildMessage, type ContenderServer, type WorkerStats } from './contender-contract.js';

function exitWith(channel: ChildChannel, msg: ChildMessage, code: number, prefix: string): void {
  const text = msg.type === 'unavailable' ? `unavailable: ${msg.reason}` : msg.type === 'failed' ? msg.message : msg.type;
  process.stderr.write(`${prefix}: ${text}\n`);
  channel.send(msg, () => process.exit(code));
}

async function probe(name: string | undefined): Promise<void> {
  try {
    await getContender(name ?? '').probe();
    process.stdout.write(`${JSON.stringify({ ok: true })}\n`);
  } catch (err) {
    process.stdout.write(`${JSON.stringify({ ok: false, reason: message(err) })}\n`);
    process.exitCode = EXIT.unavailable;
  }
}

export async function main(argv: readonly string[]): Promise<void> {
  if (argv[0] === '--probe') return probe(argv[1]);
  const channel = openChildChannel();
  let config: ChildConfig;
  try {
    config = parseChildConfig(argv[0]);
  } catch (err) {
    exitWith(channel, { type: 'failed', message: `bad configuration: ${message(err)}` }, EXIT.config, `c1m contender (pid ${process.pid})`);
    return;
  }
  const prefix = `c1m contender ${config.contender}/${config.protocol} worker ${config.worker} (pid ${process.pid})`;

  let server: ContenderServer;
  try {
    const def = getContender(config.contender);
    const speaks = speaksWith(def, config.protocol, config.tls);
    if (speaks !== true) throw new RangeError(speaks);
    if (config.portMode === 'shared') {
      const shared = def.sharedPort();
      if (shared !== true) throw new RangeError(shared);
    }
    try {
      await def.probe();
    } catch (err) {
      exitWith(channel, { type: 'unavailable', reason: message(err) }, EXIT.unavailable, prefix);
      return;
    }
    server = await def.start(config);
    // A server that did not say what TLS it applies has not applied it (or applied it unasked):
    // it must not be measured as what it is not.
    if ((config.tls === undefined) !== (server.tls === undefined)) {
      const why = config.tls === undefined ? 'reports TLS it was not asked for' : 'was asked for TLS but does not say it applies it';
      await server.close(0).catch(() => undefined);
      throw new Error(`${config.contender} ${why}`);
    }
  } catch (err) {
    exitWith(channel, { type: 'failed', message: message(err) }, EXIT.failed, prefix);
    return;
  }

  // A worker that only starts the process that serves (c-ref) has a V8 heap of its own, not the
  // server's: its heap figures are not measured.
  const ownHeap = (server.servingPids ?? []).length === 0;
  const stats = (): WorkerStats => {
    const m = process.memoryUsage();
    return {
      ...server.stats(),
      heapUsedBytes: ownHeap ? m.heapUsed : null,
      heapTotalBytes: ownHeap ? m.heapTotal : null,
      externalBytes: ownHeap ? m.external : null,
      arrayBuffersBytes: ownHeap ? m.arrayBuffers : null,
      rssBytes: m.rss,
      worker: config.worker,
      pid: process.pid,
      port: server.port,
    };
  };

  channel.onRequest((req) => {
    if (!isRecord(req) || typeof req['type'] !== 'string' || typeof req['id'] !== 'number') {
      process.stderr.write(`${prefix}: ignoring malformed control message ${JSON.stringify(req)}\n`);
      return;
    }
    const id = req['id'];
    try {
      switch (req['type']) {
        case 'stats':
          channel.send({ type: 'stats', id, stats: stats() });
          return;
        case 'gc': {
          // One full collection does not bring V8's committed heap down to its floor (it shrinks
          // over successive collections); collect until it stops shrinking, at most five times.
          const gc = (globalThis as { gc?: () => void }).gc;
          if (gc) {
            let prev = Infinity;
            for (let i = 0; i < 5; i++) {
              gc();
              const total = process.memoryUsage().heapTotal;
              if (total >= prev) break;
              prev = total;
            }
          }
          channel.send({ type: 'gc', id, collected: gc !== undefined });
          return;
        }
        case 'publish': {
          const { room, data, binary } = req;
          if (server.publish === undefined) throw new RangeError(`${config.contender} does not publish in ${config.protocol}`);
          if (typeof room !== 'string' || room === '') throw new TypeError('publish: room must be a non-empty string');
          if (typeof data !== 'string') throw new TypeError('publish: data must be a string (base64 when binary)');
          const recipients = binary === true ? server.publish(room, Buffer.from(data, 'base64'), true) : server.publish(room, data, false);
          channel.send({ type: 'published', id, recipients });
          return;
        }
        default:
          throw new RangeError(`unknown request type "${req['type']}"`);
      }
    } catch (err) {
      channel.send({ type: 'error', id, message: message(err) });
    }
  });

  let stopping = false;
  const shutdown = (why: 'SIGTERM' | 'SIGINT' | 'parent gone'): void => {
    if (stopping) {
      if (why === 'parent gone') return;
      process.stderr.write(`${prefix}: second ${why} while draining; exiting now\n`);
      process.exit(EXIT.shutdownTimeout);
    }
    stopping = true;
    const bound = setTimeout(() => {
      process.stderr.write(
        `${prefix}: shutdown on ${why} did not finish within ${config.shutdownMs} ms ` +
          `(${server.stats().connectionsNow} connections still open); exiting with code ${EXIT.shutdownTimeout}\n`,
      );
      process.exit(EXIT.shutdownTimeout);
    }, config.shutdownMs);
    // On SIGINT the loop must be free to end by itself; the bound then only fires if something
    // still holds it open.
    if (why === 'SIGINT') bound.unref();
    const boundMs = drainBoundMs(config.shutdownMs);
    server.close(boundMs).then(
      (r) => {
        const cut = typeof r?.cut === 'number' && Number.isInteger(r.cut) && r.cut >= 0 ? r.cut : null;
        if (cut !== null && cut > 0) process.stderr.write(`${prefix}: drain on ${why} cut ${cut} connection(s) still open after ${boundMs} ms\n`);
        const done = (): void => {
          channel.close();
          if (why !== 'SIGINT') process.exit(EXIT.ok);
        };
        // The parent learns what the drain had to cut before the exit; with the parent gone there
        // is nobody to tell (and a write to its closed pipe would only fail).
        if (why === 'parent gone') done();
        else channel.send({ type: 'drained', cut, boundMs }, done);
      },
      (err: unknown) => {
        process.stderr.write(`${prefix}: shutdown failed: ${message(err)}\n`);
        process.exit(EXIT.failed);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  channel.onLost(() => shutdown('parent gone'));

  channel.send({
    type: 'ready',
    contender: config.contender,
    protocol: config.protocol,
    worker: config.worker,
    pid: process.pid,
    host: config.host,
    port: server.port,
    limits: server.limits,
    ...(server.tls === undefined ? {} : { tls: server.tls }),
    ...(server.servingPids !== undefined && server.servingPids.length > 0 ? { servingPids: [...server.servingPids] } : {}),
  });
}

const entry = process.argv[1];
if (entry !== undefined && import.meta.url === pathToFileURL(realpathSync(entry)).href) {
  await main(process.argv.slice(2));
}
