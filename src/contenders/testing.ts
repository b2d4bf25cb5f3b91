// Contenders that misbehave on purpose, for the runner's tests: one answers wrongly (the primer
// must refuse to measure it), one crashes in the middle of a run (the run must be recorded as
// not ok while the others go on). They exist only when C1M_TEST_CONTENDERS=1 is set in the
// environment (which child processes inherit), and never appear in contenderNames().

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { netContender } from './net.js';
import { Counters } from './counters.js';
import { HTTP_CONTENT_TYPE } from '../wire/protocols.js';
import type { ContenderDefinition, ContenderServer, Protocol } from './contender-contract.js';

export const TEST_CONTENDERS_ENV = 'C1M_TEST_CONTENDERS';

/** Requests test-crash serves before it exits: past the primer's 17, well inside any load phase. */
export const CRASH_AFTER_REQUESTS = 300;
export const CRASH_EXIT_CODE = 70;

const httpOnly = (name: string) => (protocol: Protocol): true | string =>
  protocol === 'http-hello' ? true : `${name} is a test contender that speaks http-hello only`;

const wrongAnswers: ContenderDefinition = {
  name: 'test-wrong',
  description: 'test only: answers every http-hello request with a wrong body',
  speaks: httpOnly('test-wrong'),
  sharedPort: () => 'test contenders take one port per worker',
  countsPayloadBytes: () => true,
  joinByMessage: false,
  probe: async () => {},
  start: async (config): Promise<ContenderServer> => {
    const c = new Counters(config.protocol);
    const server = http.createServer((req, res) => {
      c.messagesIn++;
      c.messagesOut++;
      req.resume();
      const body = 'Hello, World?';
      res.writeHead(200, { 'Content-Type': HTTP_CONTENT_TYPE, 'Content-Length': String(body.length), Date: new Date().toUTCString() });
      res.end(body);
    });
    server.keepAliveTimeout = 0;
    server.on('connection', (socket) => {
      c.connectionsNow++;
      c.connectionsTotal++;
      socket.on('close', () => c.connectionsNow--);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: config.host, port: config.port, backlog: config.limits.backlog }, () => resolve());
    });
    return {
      port: (server.address() as AddressInfo).port,
      limits: { maxMessageBytes: null, idleTimeoutMs: 0, backlog: config.limits.backlog, pingIntervalMs: null, maxQueuedBytes: null },
      stats: () => c.snapshot(),
      close: (graceMs) =>
        new Promise((resolve) => {
          let cut = 0;
          const force = setTimeout(() => {
            cut = c.connectionsNow;
            server.closeAllConnections();
          }, graceMs);
          server.close(() => {
            clearTimeout(force);
            resolve({ cut });
          });
          server.closeIdleConnections();
        }),
    };
  },
};

const crashMidRun: ContenderDefinition = {
  name: 'test-crash',
  description: `test only: the net http-hello server, which exits with code ${CRASH_EXIT_CODE} after ${CRASH_AFTER_REQUESTS} requests`,
  speaks: httpOnly('test-crash'),
  sharedPort: () => 'test contenders take one port per worker',
  countsPayloadBytes: () => true,
  joinByMessage: false,
  probe: async () => {},
  start: async (config): Promise<ContenderServer> => {
    const server = await netContender.start(config);
    const watch = setInterval(() => {
      const served = server.stats().messagesIn ?? 0;
      if (served >= CRASH_AFTER_REQUESTS) {
        process.stderr.write(`test-crash: crashing on purpose after ${served} requests\n`);
        process.exit(CRASH_EXIT_CODE);
      }
    }, 10);
    watch.unref();
    return {
      port: server.port,
      limits: server.limits,
      stats: () => server.stats(),
      close: (graceMs) => {
        clearInterval(watch);
        return server.close(graceMs);
      },
    };
  },
};

/** The test contenders, when C1M_TEST_CONTENDERS=1; none otherwise. */
export function testContenders(): readonly ContenderDefinition[] {
  return process.env[TEST_CONTENDERS_ENV] === '1' ? [wrongAnswers, crashMidRun] : [];
}
