// Validation at the edges: the parent checks what callers pass, the child checks what it is given.

import { checkHost, checkInt, isRecord } from '../checks.js';
import { checkProtocol } from '../wire/protocols.js';
import type { ChildConfig, Limits, PortMode } from './types.js';

export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  maxMessageBytes: 1024 * 1024,
  idleTimeoutMs: 0,
  backlog: 512,
  pingIntervalMs: 0,
  maxQueuedBytes: 0,
});

export const DEFAULT_HOST = '127.0.0.1';
/** How long a child may take to drain on SIGTERM before it exits anyway, non-zero. */
export const DEFAULT_SHUTDOWN_MS = 3000;

/**
 * The drain bound a child gives its server (ContenderServer.close) within its shutdown bound:
 * half of it, so that forcing, counting and exiting still fit in the other half.
 */
export function drainBoundMs(shutdownMs: number): number {
  return Math.floor(shutdownMs / 2);
}

export function checkPortMode(v: unknown): PortMode {
  if (v !== 'per-worker' && v !== 'shared') throw new RangeError(`portMode must be "per-worker" or "shared", got ${JSON.stringify(v)}`);
  return v;
}

/** Fills defaults into a partial limits object and checks every field. */
export function resolveLimits(v: unknown = {}): Limits {
  if (!isRecord(v)) throw new TypeError(`limits must be an object, got ${JSON.stringify(v)}`);
  for (const key of Object.keys(v)) {
    if (!(key in DEFAULT_LIMITS)) throw new RangeError(`unknown limit "${key}"; known: ${Object.keys(DEFAULT_LIMITS).join(', ')}`);
  }
  return {
    maxMessageBytes: checkInt('limits.maxMessageBytes', v['maxMessageBytes'] ?? DEFAULT_LIMITS.maxMessageBytes, 1, 0xffff_ffff),
    idleTimeoutMs: checkInt('limits.idleTimeoutMs', v['idleTimeoutMs'] ?? DEFAULT_LIMITS.idleTimeoutMs, 0, 2 ** 31 - 1),
    backlog: checkInt('limits.backlog', v['backlog'] ?? DEFAULT_LIMITS.backlog, 1, 2 ** 31 - 1),
    pingIntervalMs: checkInt('limits.pingIntervalMs', v['pingIntervalMs'] ?? DEFAULT_LIMITS.pingIntervalMs, 0, 2 ** 30),
    maxQueuedBytes: checkInt('limits.maxQueuedBytes', v['maxQueuedBytes'] ?? DEFAULT_LIMITS.maxQueuedBytes, 0, 0xffff_ffff),
  };
}

/** Parses and checks the JSON a child process receives. */
export function parseChildConfig(json: string | undefined): ChildConfig {
  if (json === undefined) throw new TypeError('missing configuration: pass the ChildConfig JSON as the first argument');
  let v: unknown;
  try {
    v = JSON.parse(json);
  } catch (err) {
    throw new TypeError(`configuration is not JSON: ${(err as Error).message}`);
  }
  if (!isRecord(v)) throw new TypeError('configuration must be a JSON object');
  if (typeof v['contender'] !== 'string' || v['contender'] === '') throw new TypeError('contender must be a non-empty string');
  const workers = checkInt('workers', v['workers'], 1, 4096);
  const options = v['options'] ?? {};
  if (!isRecord(options)) throw new TypeError('options must be an object');
  return {
    contender: v['contender'],
    protocol: checkProtocol(v['protocol']),
    host: checkHost(v['host']),
    port: checkInt('port', v['port'], 0, 65535),
    worker: checkInt('worker', v['worker'], 0, workers - 1),
    workers,
    portMode: checkPortMode(v['portMode']),
    limits: resolveLimits(v['limits']),
    shutdownMs: checkInt('shutdownMs', v['shutdownMs'], 1, 600_000),
    options,
  };
}
