// What can run on this machine, as `c1m list` and `c1m preflight` print it: sections of
// `  name   yes` or `  name   no: reason` lines, and the I/O models (epoll, libuv, uWebSockets.js,
// io_uring) each with the verdict of the check a run itself makes.

import { contenderAvailable } from '../contenders/index.js';
import { ioUringStatus, type IoUringStatus } from '../system/io-uring.js';
import { kernelTlsStatus, type KernelTlsStatus } from '../system/ktls.js';

export type Verdict = true | string;

/** One availability section: a title, then `  name   yes` or `  name   no: reason` per line. */
export function section(title: string, verdicts: ReadonlyArray<readonly [string, Verdict]>): string {
  const width = Math.max(...verdicts.map(([n]) => n.length));
  return `${title}\n${verdicts.map(([n, v]) => `  ${n.padEnd(width)}  ${v === true ? 'yes' : v.startsWith('yes ') ? v : `no: ${v}`}`).join('\n')}\n`;
}

/** Verdicts a caller already has (list has probed uws with the contenders), or a test's inputs. */
export interface KnownVerdicts {
  readonly uws?: Verdict;
  readonly uring?: IoUringStatus;
  readonly ktls?: KernelTlsStatus;
}

/**
 * The I/O models this machine can run, with what serves on each: epoll (the engine and c-ref),
 * libuv (node:net, node:http), uWebSockets.js (when its package loads: the uws contender's own
 * probe, or its verdict when the caller already has it) and io_uring (ioUringStatus: ok with
 * the kernel and liburing versions, or its reason and fix).
 */
export async function ioModels(known: KnownVerdicts = {}): Promise<Array<[string, Verdict]>> {
  const uws = known.uws ?? (await contenderAvailable('uws'));
  const uring = known.uring ?? ioUringStatus();
  return [
    ['epoll (readiness: epoll, epoll-native, c-ref)', process.platform === 'linux' ? true : `epoll is Linux only (this is ${process.platform})`],
    ['libuv (node:net, node:http: net)', true],
    ['uWebSockets.js (uws)', uws],
    [
      'io_uring (completion: uring, uring-native, c-ref-uring)',
      uring.ok ? `yes (kernel ${uring.kernel}${uring.liburing !== undefined ? `, liburing ${uring.liburing}` : ''})` : `${uring.reason ?? 'unknown'}; fix: ${uring.fix ?? 'none known'}`,
    ],
  ];
}

/** The I/O-model section as both commands print it. */
export async function ioModelSection(known: KnownVerdicts = {}): Promise<string> {
  return section('I/O models (can run here):', await ioModels(known));
}

/**
 * Where TLS comes from for each contender (`c1m run --tls`): the engine and node:tls on the
 * OpenSSL Node itself carries (the engine through memory BIOs, no second copy linked), uWS on
 * the BoringSSL compiled into it; and whether kernel TLS (kTLS) could take the records here,
 * which c1m does not use yet: it says so, with the reason kTLS could not run anyway.
 */
export async function tlsModels(known: KnownVerdicts = {}): Promise<Array<[string, Verdict]>> {
  const uws = known.uws ?? (await contenderAvailable('uws'));
  const ktls = known.ktls ?? kernelTlsStatus();
  return [
    [`OpenSSL ${process.versions.openssl} in Node (engine: epoll, epoll-native; node:tls: net)`, true],
    ['BoringSSL in uWebSockets.js (uws SSLApp)', uws],
    ['kernel TLS (kTLS, not used by c1m)', ktls.ok ? `yes (kernel ${ktls.kernel}), though c1m encrypts in user space` : `${ktls.reason ?? 'unknown'}; fix: ${ktls.fix ?? 'none known'}`],
  ];
}

/** The TLS section as both commands print it. */
export async function tlsSection(known: KnownVerdicts = {}): Promise<string> {
  return section('TLS (c1m run --tls):', await tlsModels(known));
}
