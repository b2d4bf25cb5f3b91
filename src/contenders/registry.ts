// Every contender by name. Adding one = one module exporting a ContenderDefinition, one line here.
// Definitions are imported by the parent as well as the child, so a contender module must keep
// heavy or optional imports (addons, optional packages) inside probe() and start().

import { didYouMean } from '../checks.js';
import { checkProtocol } from '../wire/protocols.js';
import { crefContender } from './cref.js';
import { crefUringContender } from './cref-uring.js';
import { epollContender, epollNativeContender, uringContender, uringNativeContender } from './epoll.js';
import { netContender } from './net.js';
import { testContenders } from './testing.js';
import type { ContenderDefinition, Protocol, ServerTls } from './contender-contract.js';
import { uwsContender } from './uws.js';

const DEFINITIONS: readonly ContenderDefinition[] = [
  epollContender, epollNativeContender, uringContender, uringNativeContender, netContender, uwsContender, crefContender, crefUringContender,
];

const BY_NAME = new Map(DEFINITIONS.map((d) => [d.name, d]));

/** Names of all registered contenders, in registry order. */
export function contenderNames(): string[] {
  return DEFINITIONS.map((d) => d.name);
}

export function getContender(name: string): ContenderDefinition {
  // Test contenders (src/contenders/testing.ts) resolve by name only when enabled, and are never listed.
  const def = BY_NAME.get(name) ?? testContenders().find((d) => d.name === name);
  if (def === undefined) throw new RangeError(`unknown contender "${name}"${didYouMean(name, contenderNames())}; known: ${contenderNames().join(', ')}`);
  return def;
}

/**
 * true, or the reason contender cannot speak protocol (the pair is skipped, never faked); with
 * tls, over TLS as tls asks (a contender without speaksTls has no TLS).
 */
export function speaks(contender: string, protocol: Protocol, tls?: ServerTls): true | string {
  return speaksWith(getContender(contender), checkProtocol(protocol), tls);
}

/** speaks() for a definition in hand (the parent's start and the child use it). */
export function speaksWith(def: ContenderDefinition, protocol: Protocol, tls: ServerTls | undefined): true | string {
  const plain = def.speaks(protocol);
  if (plain !== true || tls === undefined) return plain;
  return def.speaksTls?.(protocol, tls) ?? `${def.name} does not speak TLS`;
}
