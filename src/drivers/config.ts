// Validation at the edges of the driver layer: the parent checks what callers pass, the driver
// process checks what it is given, with the same functions and the same messages.

import { isIP } from 'node:net';
import { checkHost, checkInt, isRecord } from '../checks.js';
import { checkProtocol } from '../wire/protocols.js';
import { DRIVERS, type DriverCommand, type DriverConfig, type DriverName, type LoadMode, type Target } from './types.js';

export const LOAD_MODES: readonly LoadMode[] = ['idle', 'closed', 'open', 'stall'];

/** The defaults DriverConfig documents, filled in by resolveDriverConfig. */
export const DRIVER_DEFAULTS = Object.freeze({
  messageBytes: 64,
  depth: 1,
  heartbeatMs: 0,
  connectTimeoutMs: 10_000,
  handshakeTimeoutMs: 30_000,
  responseTimeoutMs: 10_000,
  rooms: 1,
  publishers: 1,
  path: '/',
});

/** A DriverConfig with every defaulted field present. */
export type ResolvedDriverConfig = DriverConfig & Required<Pick<DriverConfig, keyof typeof DRIVER_DEFAULTS>>;

const CONFIG_KEYS = new Set([
  'driver', 'protocol', 'targets', 'mode', 'messageBytes', 'depth', 'rate', 'heartbeatMs', 'sourceAddresses',
  'connectTimeoutMs', 'handshakeTimeoutMs', 'responseTimeoutMs', 'rooms', 'publishers', 'path',
]);
const MAX_MS = 3_600_000;

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
    return { host: checkHost(t['host']), port: checkInt(`targets[${i}].port`, t['port'], 1, 65535) };
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
  const opt = <T>(key: keyof typeof DRIVER_DEFAULTS, check: (x: unknown) => T): T => check(v[key] ?? DRIVER_DEFAULTS[key]);
  const out: ResolvedDriverConfig = {
    driver: checkDriverName(v['driver']),
    protocol: checkProtocol(v['protocol']),
    targets: checkTargets(v['targets']),
    mode: mode as LoadMode,
    messageBytes: opt('messageBytes', (x) => checkInt('messageBytes', x, 1, 64 * 1024 * 1024)),
    depth: opt('depth', (x) => checkInt('depth', x, 1, 65_536)),
    heartbeatMs: opt('heartbeatMs', (x) => checkInt('heartbeatMs', x, 0, MAX_MS)),
    connectTimeoutMs: opt('connectTimeoutMs', (x) => checkInt('connectTimeoutMs', x, 1, MAX_MS)),
    handshakeTimeoutMs: opt('handshakeTimeoutMs', (x) => checkInt('handshakeTimeoutMs', x, 1, MAX_MS)),
    responseTimeoutMs: opt('responseTimeoutMs', (x) => checkInt('responseTimeoutMs', x, 1, MAX_MS)),
    rooms: opt('rooms', (x) => checkInt('rooms', x, 1, 10_000_000)),
    publishers: opt('publishers', (x) => checkInt('publishers', x, 0, 10_000_000)),
    path: opt('path', checkPath),
  };
  const rate = v['rate'];
  if (rate !== undefined) {
    if (typeof rate !== 'number' || !Number.isFinite(rate)) throw new TypeError(`rate must be a finite number, got ${JSON.stringify(rate)}`);
    if (rate <= 0) throw new RangeError(`rate must be above 0 messages/s, got ${rate}`);
    out.rate = rate;
  } else if (out.mode === 'open') {
    throw new RangeError('open mode needs a rate (messages per second over all connections)');
  }
  if (v['sourceAddresses'] !== undefined) out.sourceAddresses = checkSourceAddresses(v['sourceAddresses']);
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
        connections: checkInt('ramp: connections', v['connections'], 0, 10_000_000),
        ratePerSec: rate,
        timeoutMs: checkInt('ramp: timeoutMs', v['timeoutMs'], 1, MAX_MS),
      };
    }
    case 'run':
      return {
        type: 'run',
        durationMs: checkInt('run: durationMs', v['durationMs'], 1, MAX_MS),
        warmupMs: checkInt('run: warmupMs', v['warmupMs'], 0, MAX_MS),
      };
    case 'stats':
      return { type: 'stats' };
    case 'close':
      return { type: 'close' };
    default:
      throw new RangeError(`unknown driver command "${v['type']}"`);
  }
}
