// Can kernel TLS (kTLS) run here? The kernel offers TLS record encryption as a TCP upper-layer
// protocol ("ulp") named "tls", listed in net.ipv4.tcp_available_ulp once the tls module
// (CONFIG_TLS) is loaded or built in. Anything in c1m that would hand TLS records to the kernel
// asks kernelTlsStatus() and, when it is not ok, says why and the fix instead of pretending.
// The decision is a pure function of the readings (kernelTlsStatusOf) so each answer can be
// tested on any box; kernelTlsStatus() reads this machine's.

import { readFileSync } from 'node:fs';
import { release } from 'node:os';

/** Where the kernel lists its TCP upper-layer protocols. */
export const TCP_AVAILABLE_ULP_PATH = '/proc/sys/net/ipv4/tcp_available_ulp';

export interface KernelTlsStatus {
  ok: boolean;
  reason?: string;
  fix?: string;
  kernel: string;
}

/** The readings kernelTlsStatusOf decides from. */
export interface KernelTlsReadings {
  /** The contents of /proc/sys/net/ipv4/tcp_available_ulp; undefined when it could not be read. */
  readonly ulp: string | undefined;
  /** The kernel release, as uname -r prints it. */
  readonly kernel: string;
}

const FIX = 'modprobe tls (CONFIG_TLS), or a kernel built with it';

/** The verdict: ok when "tls" is one of the listed protocols (a whole word: "tls" in "mptcp tls"). */
export function kernelTlsStatusOf(r: KernelTlsReadings): KernelTlsStatus {
  if (r.ulp === undefined) {
    return { ok: false, reason: `unreadable ${TCP_AVAILABLE_ULP_PATH}: the kernel's TCP upper-layer protocols, tls among them, cannot be listed`, fix: FIX, kernel: r.kernel };
  }
  const listed = r.ulp.split(/\s+/).filter((w) => w !== '');
  if (listed.includes('tls')) return { ok: true, kernel: r.kernel };
  const shown = listed.length === 0 ? '(none)' : listed.join(' ');
  return { ok: false, reason: `the kernel's tls module is not loaded (net.ipv4.tcp_available_ulp: ${shown})`, fix: FIX, kernel: r.kernel };
}

/** The file's contents, or undefined when it cannot be read (no /proc, a kernel without it). */
export function readTcpAvailableUlp(path = TCP_AVAILABLE_ULP_PATH): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/**
 * Whether kernel TLS can run on this machine, and if not why and the fix. Read afresh on each
 * call, not memoised: one modprobe changes the answer, and the read is a few bytes of /proc.
 */
export function kernelTlsStatus(): KernelTlsStatus {
  return kernelTlsStatusOf({ ulp: readTcpAvailableUlp(), kernel: release() });
}
