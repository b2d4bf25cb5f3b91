// The limits table (src/limits.ts) is the only place a bound is written: this suite walks it and
// checks that every layer that takes a limited option (scenario parameters and CLI flags, driver
// configurations and commands, contender configurations, the engine's server and client
// options, and the native addon's own guards behind them) accepts exactly its range: min and max
// accepted, min - 1 and max + 1 refused with an error that names the option.

import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { parseArgs, UsageError, type FlagSpec } from '../src/cli/flags.js';
import { PREFLIGHT_FLAGS } from '../src/cli/preflight.js';
import { PROFILE_FLAGS } from '../src/cli/profile.js';
import { SERVE_FLAGS } from '../src/cli/serve.js';
import { TUNE_FLAGS } from '../src/cli/tune.js';
import { resolveLimits, parseChildConfig } from '../src/contenders/contender-config.js';
import { resolveStart } from '../src/contenders/contender-handle.js';
import { checkCommand, resolveDriverConfig } from '../src/drivers/driver-config.js';
import { resolveStartDriverOptions } from '../src/drivers/driver-handle.js';
import { ClientGroup } from '../src/engine/client.js';
import { Engine } from '../src/engine/engine.js';
import { resolveServerOptions } from '../src/engine/options.js';
import { LIMITS, type Limit, type LimitName } from '../src/limits.js';
import { defineScenario, phasesOf, resolveParams, type Phase } from '../src/runner/scenario.js';
import { testCert } from './helpers/tls-cert.js';

const HOST = '127.0.0.1';

/** One layer's check of one limit: throws when it refuses v. */
interface Probe {
  readonly layer: string;
  /** The name the refusal must mention. */
  readonly names: string;
  readonly check: (v: number) => void;
  /** The layer takes the limit in another unit (seconds for milliseconds: 1000). */
  readonly scale?: number;
  /** A least value of its own below the table's, with the reason (a sentinel such as 0 = automatic). */
  readonly min?: { readonly value: number; readonly why: string };
  /** Only errors of this kind count as a refusal; others (EADDRINUSE from a real listen) mean the guard let it through. */
  readonly refusal?: (err: unknown) => boolean;
}

const byGuard = (err: unknown): boolean => err instanceof RangeError || err instanceof TypeError;

// ---- the layers --------------------------------------------------------------------------------

const scenario = defineScenario({
  name: 'limits',
  description: 'a scenario for the limits test',
  protocols: ['tcp-echo'],
  contenders: ['net'],
  kind: 'throughput',
  phases: [{ kind: 'ramp', connections: 1 }, { kind: 'measure' }],
});

function scenarioFlag(flag: string): Probe {
  return { layer: `scenario --${flag}`, names: flag, check: (v) => void resolveParams(scenario, { [flag]: v }) };
}

function cliFlag(command: string, flags: Readonly<Record<string, FlagSpec>>, flag: string): Probe {
  return { layer: `${command} --${flag}`, names: `--${flag}`, check: (v) => void parseArgs([`--${flag}`, String(v)], flags, { command }) };
}

function rampPhase(field: 'connections' | 'timeoutMs'): Probe {
  return {
    layer: `scenario ramp phase ${field}`,
    names: field,
    check: (v) => {
      const phases: Phase[] = [{ kind: 'ramp', connections: field === 'connections' ? v : 1, ...(field === 'timeoutMs' ? { timeoutMs: v } : {}) }, { kind: 'measure' }];
      phasesOf(defineScenario({ ...scenario, name: 'ramps', phases }), resolveParams(scenario));
    },
  };
}

const driverBase = { driver: 'native', protocol: 'tcp-echo', targets: [{ host: HOST, port: 9 }], mode: 'closed' };

function driverConfig(field: string, extra: Record<string, unknown> = {}): Probe {
  return { layer: `driver config ${field}`, names: field, check: (v) => void resolveDriverConfig({ ...driverBase, ...extra, [field]: v }) };
}

function driverCommand(type: 'ramp' | 'run', field: string, scale = 1): Probe {
  const base = type === 'ramp' ? { type, connections: 1, ratePerSec: 0, timeoutMs: 1000 } : { type, durationMs: 1000, warmupMs: 0 };
  return { layer: `driver command ${type}.${field}`, names: `${type}: ${field}`, scale, check: (v) => void checkCommand({ ...base, [field]: v }) };
}

function contenderLimit(field: string): Probe {
  return { layer: `contender limits.${field}`, names: `limits.${field}`, check: (v) => void resolveLimits({ [field]: v }) };
}

const childBase = { contender: 'net', protocol: 'tcp-echo', host: HOST, port: 0, worker: 0, workers: 1, portMode: 'per-worker', shutdownMs: 1000 };

function childConfig(field: string): Probe {
  return { layer: `contender child config ${field}`, names: field, check: (v) => void parseChildConfig(JSON.stringify({ ...childBase, [field]: v })) };
}

/** A TLS option of a contender (ChildConfig.tls, StartOptions.tls), with a real certificate around it. */
function contenderTls(field: string): Probe[] {
  const cert = testCert();
  const tls = (v: number) => ({ certFile: cert.certFile, keyFile: cert.keyFile, keyType: 'ec', tickets: true, [field]: v });
  const names = `tls.${field}`;
  return [
    { layer: `contender child config tls.${field}`, names, check: (v) => void parseChildConfig(JSON.stringify({ ...childBase, tls: tls(v) })) },
    { layer: `startContender tls.${field}`, names, check: (v) => void resolveStart({ contender: 'net', protocol: 'tcp-echo', tls: tls(v) as never }) },
  ];
}

function contenderStart(field: string): Probe {
  return { layer: `startContender ${field}`, names: field, check: (v) => void resolveStart({ contender: 'net', protocol: 'tcp-echo', [field]: v }) };
}

function engineOption(field: string): Probe {
  return { layer: `engine ServerOptions.${field}`, names: field, check: (v) => void resolveServerOptions({ [field]: v }) };
}

function engineTlsOption(): Probe {
  const { certPem, keyPem } = testCert();
  return {
    layer: 'engine ServerOptions.tls.handshakeTimeoutMs',
    names: 'tls.handshakeTimeoutMs',
    check: (v) => void resolveServerOptions({ tls: { cert: certPem, key: keyPem, handshakeTimeoutMs: v } }),
  };
}

function clientOption(field: string, protocol: 'stream' | 'ws-echo' = 'stream'): Probe {
  return {
    layer: `engine ClientGroupOptions.${field} (${protocol})`,
    names: field,
    check: (v) => new ClientGroup({ protocol, targets: [{ host: HOST, port: 9 }], [field]: v }).close(),
  };
}

// The native guards: the addon's own checks behind the TypeScript ones (native/addon.cc).
let listener: net.Server;
let listenerPort = 0;
const native = (): ReturnType<typeof Engine.get>['native'] => Engine.get().native;
/** The addon's listen with only some options: the others take the addon's own defaults. */
function rawListen(port: number, options: Record<string, unknown>): number {
  const listen = native().listen as unknown as (host: string, port: number, o: Record<string, unknown>) => [number, number];
  return listen(HOST, port, options)[0];
}

function nativeClient(key: string): Probe {
  return {
    layer: `addon clientGroup ${key}`,
    names: key,
    refusal: byGuard,
    check: (v) => {
      const g = native().clientGroup({ proto: 0, targets: [[HOST, 9]], sources: [], [key]: v });
      native().clientClose(g);
    },
  };
}

function nativeListen(key: string, extra: Record<string, unknown> = {}): Probe {
  return {
    layer: `addon listen ${key}`,
    names: key,
    refusal: byGuard,
    check: (v) => {
      native().closeListener(rawListen(0, { ...extra, [key]: v }), false);
    },
  };
}

const PROBES: Partial<Record<LimitName, readonly Probe[]>> = {
  connections: [
    scenarioFlag('connections'),
    cliFlag('c1m preflight', PREFLIGHT_FLAGS, 'connections'),
    cliFlag('c1m tune', TUNE_FLAGS, 'connections'),
  ],
  rampTarget: [
    rampPhase('connections'),
    driverCommand('ramp', 'connections'),
    {
      layer: 'engine ClientGroup.ramp target',
      names: 'target',
      check: (v) => {
        const g = new ClientGroup({ protocol: 'stream', targets: [{ host: HOST, port: listenerPort }] });
        try {
          g.ramp(v, 1);
        } finally {
          g.close();
        }
      },
    },
    {
      layer: 'addon clientRamp target',
      names: 'target',
      refusal: byGuard,
      check: (v) => {
        const g = native().clientGroup({ proto: 0, targets: [[HOST, listenerPort]], sources: [] });
        try {
          native().clientRamp(g, v, 1);
        } finally {
          native().clientClose(g);
        }
      },
    },
  ],
  workers: [
    { ...scenarioFlag('workers'), min: { value: 0, why: '0 = as many as the fd limit needs' } },
    cliFlag('c1m serve', SERVE_FLAGS, 'workers'),
    cliFlag('c1m preflight', PREFLIGHT_FLAGS, 'workers'),
    cliFlag('c1m preflight', PREFLIGHT_FLAGS, 'drivers'),
    childConfig('workers'),
    contenderStart('workers'),
  ],
  durationS: [scenarioFlag('duration')],
  warmupS: [scenarioFlag('warmup'), driverCommand('run', 'warmupMs', 1000)],
  reps: [scenarioFlag('reps')],
  phaseMs: [rampPhase('timeoutMs'), driverCommand('ramp', 'timeoutMs'), driverCommand('run', 'durationMs')],
  readyTimeoutMs: [
    contenderStart('readyTimeoutMs'),
    { layer: 'startDriver readyTimeoutMs', names: 'readyTimeoutMs', check: (v) => void resolveStartDriverOptions({ readyTimeoutMs: v }) },
  ],
  shutdownMs: [childConfig('shutdownMs'), contenderStart('shutdownMs')],
  port: [cliFlag('c1m serve', SERVE_FLAGS, 'port'), childConfig('port'), contenderStart('port'), engineOption('port'), nativeListenPort()],
  targetPort: [
    {
      layer: 'driver config targets[0].port',
      names: 'targets[0].port',
      check: (v) => void resolveDriverConfig({ ...driverBase, targets: [{ host: HOST, port: v }] }),
    },
    { layer: 'engine ClientGroupOptions.targets', names: 'target port', check: (v) => new ClientGroup({ protocol: 'stream', targets: [{ host: HOST, port: v }] }).close() },
    {
      layer: 'addon clientGroup targets',
      names: 'port',
      refusal: byGuard,
      check: (v) => native().clientClose(native().clientGroup({ proto: 0, targets: [[HOST, v]], sources: [] })),
    },
  ],
  messageBytes: [driverConfig('messageBytes'), clientOption('messageBytes'), nativeClient('msgBytes')],
  wsMessageBytes: [
    { ...driverConfig('messageBytes', { protocol: 'ws-echo' }), layer: 'driver config messageBytes (ws-echo)' },
    clientOption('messageBytes', 'ws-echo'),
  ],
  depth: [driverConfig('depth'), clientOption('depth'), nativeClient('depth')],
  connectTimeoutMs: [driverConfig('connectTimeoutMs'), clientOption('connectTimeoutMs'), nativeClient('connectTimeoutMs')],
  handshakeTimeoutMs: [driverConfig('handshakeTimeoutMs'), clientOption('handshakeTimeoutMs'), nativeClient('handshakeTimeoutMs')],
  responseTimeoutMs: [driverConfig('responseTimeoutMs'), clientOption('responseTimeoutMs'), nativeClient('responseTimeoutMs')],
  heartbeatMs: [driverConfig('heartbeatMs'), clientOption('heartbeatMs'), nativeClient('heartbeatMs')],
  rooms: [driverConfig('rooms'), clientOption('rooms'), nativeClient('rooms')],
  publishers: [driverConfig('publishers'), clientOption('publishers'), nativeClient('publishers')],
  'limits.maxMessageBytes': [contenderLimit('maxMessageBytes')],
  'limits.idleTimeoutMs': [contenderLimit('idleTimeoutMs')],
  'limits.backlog': [contenderLimit('backlog')],
  'limits.maxQueuedBytes': [contenderLimit('maxQueuedBytes')],
  'tls.handshakeTimeoutMs': contenderTls('handshakeTimeoutMs'),
  pingIntervalMs: [contenderLimit('pingIntervalMs'), engineOption('pingIntervalMs'), nativeListen('pingIntervalMs')],
  backlog: [engineOption('backlog'), nativeListen('backlog')],
  maxFrameBytes: [engineOption('maxFrameBytes'), nativeListen('maxFrame')],
  maxHeaderBytes: [engineOption('maxHeaderBytes'), nativeListen('maxHeaderBytes')],
  // Natively, head and body share half the arena: with the largest head, the body's bound is the table's.
  maxBodyBytes: [engineOption('maxBodyBytes'), nativeListen('maxBody', { maxHeaderBytes: LIMITS.maxHeaderBytes.max })],
  readBudgetBytes: [engineOption('readBudgetBytes'), nativeListen('readBudget')],
  highWaterMark: [engineOption('highWaterMark'), nativeListen('highWater')],
  maxQueuedBytes: [engineOption('maxQueuedBytes'), nativeListen('maxQueued')],
  idleTimeoutMs: [engineOption('idleTimeoutMs'), nativeListen('idleTimeoutMs')],
  headerTimeoutMs: [engineOption('headerTimeoutMs'), nativeListen('headerTimeoutMs')],
  tlsHandshakeTimeoutMs: [engineTlsOption(), nativeListenTls()],
  lingerMs: [engineOption('lingerMs'), nativeListen('lingerMs')],
  wsCloseTimeoutMs: [engineOption('wsCloseTimeoutMs'), nativeListen('wsCloseTimeoutMs')],
  maxTopicNameBytes: [engineOption('maxTopicNameBytes'), nativeListen('maxTopicNameBytes')],
  maxTopics: [engineOption('maxTopics'), nativeListen('maxTopics')],
  profileFrequencyHz: [cliFlag('c1m profile', PROFILE_FLAGS, 'frequency')],
};

function nativeListenTls(): Probe {
  const { certPem, keyPem } = testCert();
  return {
    layer: 'addon listen tls.handshakeTimeoutMs',
    names: 'tls.handshakeTimeoutMs',
    refusal: byGuard,
    check: (v) => {
      native().closeListener(rawListen(0, { tls: { cert: certPem, key: keyPem, handshakeTimeoutMs: v } }), false);
    },
  };
}

/** The listen port is an argument of its own, not an option. */
function nativeListenPort(): Probe {
  return {
    layer: 'addon listen port',
    names: 'port',
    refusal: byGuard,
    check: (v) => {
      let index: number;
      try {
        index = rawListen(v, {});
      } catch (err) {
        // A port another process holds is no refusal by the guard.
        if ((err as { errno?: number }).errno !== undefined) return;
        throw err;
      }
      native().closeListener(index, false);
    },
  };
}

// ---- the walk ----------------------------------------------------------------------------------

function accepts(p: Probe, v: number): void {
  const x = v * (p.scale ?? 1);
  try {
    p.check(x);
  } catch (err) {
    if (p.refusal === undefined || p.refusal(err)) assert.fail(`${p.layer} refused ${x}: ${(err as Error).message}`);
  }
}

function refuses(p: Probe, v: number): void {
  const x = v * (p.scale ?? 1);
  assert.throws(
    () => p.check(x),
    (err: unknown) => {
      assert.ok(p.refusal === undefined || p.refusal(err), `${p.layer} failed on ${x} other than by its guard: ${String(err)}`);
      // A CLI flag's refusal is a UsageError (exit 2) carrying the same message.
      assert.ok(err instanceof RangeError || err instanceof TypeError || err instanceof UsageError, `${p.layer}: ${x} should be a RangeError, TypeError or UsageError, got ${String(err)}`);
      assert.ok(err.message.includes(p.names), `${p.layer}: the message should name ${JSON.stringify(p.names)}: ${err.message}`);
      return true;
    },
    `${p.layer} accepted ${x}`,
  );
}

describe('the limits table', () => {
  before(async () => {
    // The ramp probes connect (one connection at most, at 1/s) to a listener of ours.
    listener = net.createServer((s) => s.destroy());
    await new Promise<void>((resolve) => listener.listen(0, HOST, resolve));
    listenerPort = (listener.address() as net.AddressInfo).port;
  });
  after(async () => {
    await new Promise<void>((resolve) => listener.close(() => resolve()));
  });

  it('has a sound row for every limit: min ≤ default ≤ max, a unit and a reason', () => {
    for (const [name, l] of Object.entries(LIMITS) as [LimitName, Limit][]) {
      assert.ok(l.min <= l.max, `${name}: min ${l.min} > max ${l.max}`);
      if (l.default !== undefined) assert.ok(l.min <= l.default && l.default <= l.max, `${name}: default ${l.default} outside ${l.min}..${l.max}`);
      assert.ok(l.why.length > 10, `${name}: says why`);
      assert.ok(Number.isSafeInteger(l.max * 1000), `${name}: max is a plain number`);
    }
  });

  it('is read by some layer for every row (no row without a check, no check without a row)', () => {
    for (const name of Object.keys(LIMITS) as LimitName[]) assert.ok((PROBES[name] ?? []).length > 0, `${name} has no probe`);
    for (const name of Object.keys(PROBES)) assert.ok(name in LIMITS, `probe for unknown limit ${name}`);
  });

  for (const [name, probes] of Object.entries(PROBES) as [LimitName, readonly Probe[]][]) {
    const l: Limit = LIMITS[name];
    it(`${name}: ${l.min}..${l.max} ${l.unit}, in ${probes.length} layer(s)`, () => {
      for (const p of probes) {
        const min = p.min?.value ?? l.min;
        accepts(p, min);
        accepts(p, l.max);
        if (l.default !== undefined) accepts(p, l.default);
        refuses(p, min - 1);
        refuses(p, l.max + 1);
      }
    });
  }

  it('checks the WebSocket message size, not the byte stream one, for ws-* in the driver config', () => {
    assert.equal(resolveDriverConfig({ ...driverBase, messageBytes: 1 }).messageBytes, 1);
    assert.throws(() => resolveDriverConfig({ ...driverBase, protocol: 'ws-broadcast', messageBytes: 7 }), /messageBytes must be between 8 and/);
  });

  it('fills in every default once: the driver config a factory gets has them all', () => {
    const c = resolveDriverConfig(driverBase);
    for (const k of ['messageBytes', 'depth', 'heartbeatMs', 'connectTimeoutMs', 'handshakeTimeoutMs', 'responseTimeoutMs', 'rooms', 'publishers'] as const) {
      assert.equal(c[k], LIMITS[k].default, k);
    }
    assert.equal(c.path, '/');
  });
});
