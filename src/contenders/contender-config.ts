// Validation at the edges: the parent checks what callers pass, the child checks what it is given.

import { accessSync, constants, readFileSync } from 'node:fs';
import { createPrivateKey } from 'node:crypto';
import { checkBool, checkHost, checkInt, errorMessage, isRecord, shown } from '../checks.js';
import { checkLimit, defaultOf, resolveLimit } from '../limits.js';
import { TICKET_KEY_BYTES } from '../engine/options.js';
import { checkProtocol } from '../wire/protocols.js';
import type { ChildConfig, Limits, PortMode, ServerTls } from './contender-contract.js';

/** What every contender applies unless told otherwise (the defaults of the limits table). */
export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  maxMessageBytes: defaultOf('limits.maxMessageBytes'),
  idleTimeoutMs: defaultOf('limits.idleTimeoutMs'),
  backlog: defaultOf('limits.backlog'),
  pingIntervalMs: defaultOf('pingIntervalMs'),
  maxQueuedBytes: defaultOf('limits.maxQueuedBytes'),
});

export const DEFAULT_HOST = '127.0.0.1';
/** How long a child may take to drain on SIGTERM before it exits anyway, non-zero. */
export const DEFAULT_SHUTDOWN_MS = defaultOf('shutdownMs');

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
    maxMessageBytes: resolveLimit('limits.maxMessageBytes', v['maxMessageBytes']),
    idleTimeoutMs: resolveLimit('limits.idleTimeoutMs', v['idleTimeoutMs']),
    backlog: resolveLimit('limits.backlog', v['backlog']),
    pingIntervalMs: resolveLimit('pingIntervalMs', v['pingIntervalMs'], 'limits.pingIntervalMs'),
    maxQueuedBytes: resolveLimit('limits.maxQueuedBytes', v['maxQueuedBytes']),
  };
}

const TLS_KEYS = ['certFile', 'keyFile', 'keyType', 'tickets', 'handshakeTimeoutMs', 'ticketKeyFile'] as const;

function checkReadableFile(name: string, v: unknown): string {
  if (typeof v !== 'string' || v === '') throw new TypeError(`${name} must be a file path, got ${shown(v)}`);
  try {
    accessSync(v, constants.R_OK);
  } catch (err) {
    throw new RangeError(`${name} ${v} cannot be read: ${errorMessage(err)}`);
  }
  return v;
}

/**
 * Checks a TLS configuration (ChildConfig.tls, StartOptions.tls): both files readable, the key
 * of the type it is said to be (a result records keyType, so an RSA key called 'ec' would make it
 * lie), tickets a boolean, handshakeTimeoutMs within the limits table's row, a ticket key file (if
 * any) of TICKET_KEY_BYTES.
 */
export function checkServerTls(v: unknown): ServerTls {
  if (!isRecord(v)) throw new TypeError(`tls must be an object, got ${shown(v)}`);
  for (const key of Object.keys(v)) {
    if (!(TLS_KEYS as readonly string[]).includes(key)) throw new RangeError(`unknown tls option "${key}"; known: ${TLS_KEYS.join(', ')}`);
  }
  const keyType = v['keyType'];
  if (keyType !== 'ec' && keyType !== 'rsa') throw new RangeError(`tls.keyType must be "ec" or "rsa", got ${shown(keyType)}`);
  const certFile = checkReadableFile('tls.certFile', v['certFile']);
  const keyFile = checkReadableFile('tls.keyFile', v['keyFile']);
  let actual: string | undefined;
  try {
    actual = createPrivateKey(readFileSync(keyFile)).asymmetricKeyType;
  } catch (err) {
    throw new RangeError(`tls.keyFile ${keyFile} holds no private key Node can read: ${errorMessage(err)}`);
  }
  if (actual !== keyType) throw new RangeError(`tls.keyFile ${keyFile} holds a${actual === 'ec' ? 'n' : ''} ${actual ?? 'unknown'} key, but tls.keyType says "${keyType}"`);
  let ticketKeyFile: string | undefined;
  if (v['ticketKeyFile'] !== undefined) {
    ticketKeyFile = checkReadableFile('tls.ticketKeyFile', v['ticketKeyFile']);
    const bytes = readFileSync(ticketKeyFile).length;
    if (bytes !== TICKET_KEY_BYTES) throw new RangeError(`tls.ticketKeyFile ${ticketKeyFile} holds ${bytes} bytes, not a ticket key of ${TICKET_KEY_BYTES}`);
  }
  return {
    certFile,
    keyFile,
    keyType,
    tickets: checkBool('tls.tickets', v['tickets']),
    handshakeTimeoutMs: checkLimit('tls.handshakeTimeoutMs', v['handshakeTimeoutMs']),
    ...(ticketKeyFile !== undefined ? { ticketKeyFile } : {}),
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
  const workers = checkLimit('workers', v['workers']);
  const options = v['options'] ?? {};
  if (!isRecord(options)) throw new TypeError('options must be an object');
  return {
    contender: v['contender'],
    protocol: checkProtocol(v['protocol']),
    host: checkHost(v['host']),
    port: checkLimit('port', v['port']),
    worker: checkInt('worker', v['worker'], 0, workers - 1),
    workers,
    portMode: checkPortMode(v['portMode']),
    limits: resolveLimits(v['limits']),
    shutdownMs: checkLimit('shutdownMs', v['shutdownMs']),
    options,
    ...(v['tls'] === undefined ? {} : { tls: checkServerTls(v['tls']) }),
  };
}
