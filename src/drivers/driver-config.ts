// Validation at the edges of the driver layer: the parent checks what callers pass, the driver
// process checks what it is given, with the same functions and the same messages.

import { isIP } from 'node:net';
import { checkHost, checkInt, isRecord } from '../checks.js';
import { checkLimit, defaultOf, LIMITS, type LimitName } from '../limits.js';
import { checkProtocol, HTTP_HELLO_PATH, type Protocol } from '../wire/protocols.js';
import {
  DRIVERS, type DefaultedDriverField, type DriverCommand, type DriverName, type DriverTls, type LoadMode, type ResolvedDriverConfig, type Target,
} from './driver-contract.js';

export const LOAD_MODES: readonly LoadMode[] = ['idle', 'closed', 'open', 'stall', 'churn'];

/** The defaults resolveDriverConfig fills in: the limits table's, and the http-hello path. */
export const DRIVER_DEFAULTS: Readonly<Pick<ResolvedDriverConfig, DefaultedDriverField>> = Object.freeze({
  messageBytes: defaultOf('messageBytes'),
  depth: defaultOf('depth'),
  heartbeatMs: defaultOf('heartbeatMs'),
  connectTimeoutMs: defaultOf('connectTimeoutMs'),
  handshakeTimeoutMs: defaultOf('handshakeTimeoutMs'),
  responseTimeoutMs: defaultOf('responseTimeoutMs'),
  rooms: defaultOf('rooms'),
  publishers: defaultOf('publishers'),
  path: HTTP_HELLO_PATH,
});

/** The limit a protocol's message size is checked against: WebSocket messages carry an 8-byte send time. */
export function messageBytesLimit(protocol: Protocol): 'messageBytes' | 'wsMessageBytes' {
  return protocol === 'ws-echo' || protocol === 'ws-broadcast' ? 'wsMessageBytes' : 'messageBytes';
}

const CONFIG_KEYS = new Set([
  'driver', 'protocol', 'targets', 'mode', 'messageBytes', 'depth', 'rate', 'heartbeatMs', 'sourceAddresses',
  'connectTimeoutMs', 'handshakeTimeoutMs', 'responseTimeoutMs', 'rooms', 'publishers', 'path', 'tls',
]);

function checkDriverTls(v: unknown): DriverTls {
  if (!isRecord(v)) throw new TypeError(`tls must be an object { resume, ca?, servername? }, got ${JSON.stringify(v)}`);
  for (const key of Object.keys(v)) if (!['resume', 'ca', 'servername'].includes(key)) throw new RangeError(`tls: unknown field "${key}"; known: resume, ca, servername`);
  if (typeof v['resume'] !== 'boolean') throw new TypeError(`tls.resume must be true or false, got ${JSON.stringify(v['resume'])}`);
  const out: DriverTls = { resume: v['resume'] };
  const ca = v['ca'];
  if (ca !== undefined) {
    if (typeof ca !== 'string' || !ca.includes('-----BEGIN CERTIFICATE-----')) throw new TypeError('tls.ca must be a PEM certificate');
    out.ca = ca;
  }
  const name = v['servername'];
  if (name !== undefined) {
    if (typeof name !== 'string' || !/^[A-Za-z0-9.-]{1,253}$/.test(name)) throw new RangeError(`tls.servername must be a host name, got ${JSON.stringify(name)}`);
    out.servername = name;
  }
  return out;
}

export function checkDriverName(v: unknown): DriverName {
  if (typeof v !== 'string') throw new TypeError(`driver must be a string, got ${JSON.stringify(v)}`);
  if (!(DRIVERS as readonly string[]).includes(v)) throw new RangeError(`unknown driver "${v}"; known: ${DRIVERS.join(', ')}`);
  return v as DriverName;
}

function checkTargets(v: unknown): Target[] {
  if (!Array.isArray(v)) throw new TypeError(`targets must be an array of { host, port }, got ${JSON.stringify(v)}`);
  if (v.length === 0) throw new RangeError('targets must name at least one endpoint');
  return v.map((t: unknown, i) => {
    if (!isRecord(t)) throw new TypeError(`targets[${i}] must be an object { host, port }, got ${JSON.stringify(t)}`);
    for (const key of Object.keys(t)) if (key !== 'host' && key !== 'port') throw new RangeError(`targets[${i}]: unknown field "${key}"`);
    return { host: checkHost(t['host']), port: checkLimit('targetPort', t['port'], `targets[${i}].port`) };
  });
}

function checkSourceAddresses(v: unknown): string[] {
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) throw new TypeError('sourceAddresses must be an array of strings');
  for (const s of v as string[]) {
    if (isIP(s) !== 4 || !s.startsWith('127.')) throw new RangeError(`sourceAddresses must be IPv4 loopback addresses (127.0.0.0/8), got ${JSON.stringify(s)}`);
  }
  return [...(v as string[])];
}

function checkPath(v: unknown): string {
  if (typeof v !== 'string' || !v.startsWith('/')) throw new TypeError(`path must be a string starting with "/", got ${JSON.stringify(v)}`);
  // Whitespace or control characters would break the request line of every HTTP driver.
  if (/[\s\x00-\x1f\x7f]/.test(v)) throw new RangeError(`path must not contain whitespace or control characters, got ${JSON.stringify(v)}`);
  if (v.length > 8192) throw new RangeError(`path longer than 8192 characters`);
  return v;
}

/**
 * Checks a DriverConfig (TypeError for wrong types, RangeError for bad values or unknown keys)
 * and returns a copy with the defaults filled in.
 */
export function resolveDriverConfig(v: unknown): ResolvedDriverConfig {
  if (!isRecord(v)) throw new TypeError(`driver config must be an object, got ${JSON.stringify(v)}`);
  for (const key of Object.keys(v)) if (!CONFIG_KEYS.has(key)) throw new RangeError(`unknown driver config field "${key}"`);
  const mode = v['mode'];
  if (typeof mode !== 'string' || !(LOAD_MODES as readonly string[]).includes(mode)) {
    throw new RangeError(`mode must be one of ${LOAD_MODES.join(', ')}, got ${JSON.stringify(mode)}`);
  }
  const opt = <T>(key: DefaultedDriverField, check: (x: unknown) => T): T => check(v[key] ?? DRIVER_DEFAULTS[key]);
  const num = (key: Exclude<DefaultedDriverField, 'path'>, limit: LimitName = key): number => opt(key, (x) => checkLimit(limit, x, key));
  const protocol = checkProtocol(v['protocol']);
  const out: ResolvedDriverConfig = {
    driver: checkDriverName(v['driver']),
    protocol,
    targets: checkTargets(v['targets']),
    mode: mode as LoadMode,
    messageBytes: num('messageBytes', messageBytesLimit(protocol)),
    depth: num('depth'),
    heartbeatMs: num('heartbeatMs'),
    connectTimeoutMs: num('connectTimeoutMs'),
    handshakeTimeoutMs: num('handshakeTimeoutMs'),
    responseTimeoutMs: num('responseTimeoutMs'),
    rooms: num('rooms'),
    publishers: num('publishers'),
    path: opt('path', checkPath),
  };
  const rate = v['rate'];
  if (rate !== undefined) {
    if (typeof rate !== 'number' || !Number.isFinite(rate)) throw new TypeError(`rate must be a finite number, got ${JSON.stringify(rate)}`);
    if (rate <= 0) throw new RangeError(`rate must be above 0 messages/s, got ${rate}`);
    out.rate = rate;
  } else if (out.mode === 'open') {
    throw new RangeError('open mode needs a rate (messages per second over all connections)');
  } else if (out.mode === 'churn') {
    throw new RangeError('churn mode needs a rate (new connections per second over all connections)');
  }
  if (v['sourceAddresses'] !== undefined) out.sourceAddresses = checkSourceAddresses(v['sourceAddresses']);
  if (v['tls'] !== undefined) out.tls = checkDriverTls(v['tls']);
  return out;
}

/** Checks one control command (as sent by the parent or received by the driver process). */
export function checkCommand(v: unknown): DriverCommand {
  if (!isRecord(v) || typeof v['type'] !== 'string') throw new TypeError(`a driver command must be an object with a type, got ${JSON.stringify(v)}`);
  switch (v['type']) {
    case 'ramp': {
      const rate = v['ratePerSec'];
      if (typeof rate !== 'number' || !Number.isFinite(rate)) throw new TypeError(`ramp: ratePerSec must be a finite number, got ${JSON.stringify(rate)}`);
      if (rate < 0) throw new RangeError(`ramp: ratePerSec must be 0 (as fast as possible) or more, got ${rate}`);
      return {
        type: 'ramp',
        connections: checkLimit('rampTarget', v['connections'], 'ramp: connections'),
        ratePerSec: rate,
        timeoutMs: checkLimit('phaseMs', v['timeoutMs'], 'ramp: timeoutMs'),
      };
    }
    case 'run':
      return {
        type: 'run',
        durationMs: checkLimit('phaseMs', v['durationMs'], 'run: durationMs'),
        // The warm-up's limit is in seconds on the command line; here in milliseconds.
        warmupMs: checkInt('run: warmupMs', v['warmupMs'], 0, LIMITS.warmupS.max * 1000),
      };
    case 'stats':
      return { type: 'stats' };
    case 'close':
      return { type: 'close' };
    default:
      throw new RangeError(`unknown driver command "${v['type']}"`);
  }
}
