// Pieces of the graceful drain that contenders share (the contract is in README.md, "Graceful
// drain"): one loop turn for what the kernel already holds, and the kernel's own view of this
// process's TCP connections, for a library (uWebSockets.js) that does not show JS the sockets it
// is still closing.

import { closeSync, openSync, readdirSync, readlinkSync, readSync } from 'node:fs';

/**
 * Resolves after one turn of the event loop. A request that reached the kernel before SIGTERM
 * can sit unread in the same poll round as the signal; closing "idle" connections inside the
 * signal handler would drop it unanswered. After this turn every such byte has been read and
 * answered, so the connections that still look idle are.
 */
export function afterPendingReads(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A TCP socket of this process, as /proc/net/tcp shows it. */
export interface TcpSocket {
  /** The kernel's state number (1 ESTABLISHED, 8 CLOSE_WAIT, 10 LISTEN, …). */
  state: number;
  /** Bytes in the send queue: written, not yet acknowledged by the peer. */
  txQueue: number;
  /** Bytes received, not yet read by the process. */
  rxQueue: number;
}

const TCP_LISTEN = 10;

/** Inodes of the sockets this process holds (socket:[N] links in /proc/self/fd). */
export function ownSocketInodes(): Set<number> {
  const out = new Set<number>();
  for (const fd of readdirSync('/proc/self/fd')) {
    let link: string;
    try {
      link = readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      continue; // closed meanwhile (the listing's own descriptor, among others)
    }
    if (link.startsWith('socket:[')) out.add(Number(link.slice(8, -1)));
  }
  return out;
}

/**
 * This process's TCP connections on local port `port` (not its listeners), from /proc/net/tcp and
 * /proc/net/tcp6 matched against the sockets in /proc/self/fd: connections the process has not
 * yet closed, whatever its library shows JS. Read in 1 MiB chunks, so a table of a million lines
 * is never one string. O(connections on the machine); meant for the end of a drain, not a hot path.
 */
export function ownTcpConnections(port: number): TcpSocket[] {
  const inodes = ownSocketInodes();
  const out: TcpSocket[] = [];
  const portHex = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    eachLine(file, (line) => {
      // "  sl  local_address rem_address   st tx_queue:rx_queue tr:tm->when retrnsmt   uid  timeout inode"
      const f = line.trim().split(/\s+/);
      const local = f[1];
      if (local === undefined || !local.endsWith(portHex)) return;
      const inode = Number(f[9]);
      if (!inodes.has(inode)) return;
      const state = parseInt(f[3] ?? '', 16);
      if (state === TCP_LISTEN) return;
      const [tx = '0', rx = '0'] = (f[4] ?? '').split(':');
      out.push({ state, txQueue: parseInt(tx, 16), rxQueue: parseInt(rx, 16) });
    });
  }
  return out;
}

function eachLine(file: string, cb: (line: string) => void): void {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return; // no IPv6 table on this kernel
  }
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    let rest = '';
    let first = true;
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      const lines = (rest + buf.toString('latin1', 0, n)).split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines) {
        if (first) {
          first = false; // the header
          continue;
        }
        cb(line);
      }
    }
    if (rest !== '' && !first) cb(rest);
  } finally {
    closeSync(fd);
  }
}
