// Before a run: how many processes, source addresses and bytes it takes, checked against
// what the machine allows, with the exact command for each shortfall. Pure: readings come in
// as a parameter, text comes out of formatPreflight.
import { checkInt, checkNumber } from '../checks.js';
import { LIMITS } from '../limits.js';
import { fmtBytes, fmtInt, nextPow2 } from './plain-format.js';
import type { SystemReadings } from './limits.js';
import { quoteValue, SOCKET_BUFFER_BYTES_PER_PAIR, tcpMemFor } from './tune.js';

/**
 * User-space bytes per idle connection, measured on the reference box: node:net keeps a
 * socket object graph, uWebSockets.js a C struct plus a small JS handle, the epoll engine a
 * table slot. Callers pass measured values (a run's slope) through perConnBytes.
 */
export const DEFAULT_PER_CONN_BYTES: Readonly<Record<string, number>> = {
  net: 2800,
  uws: 800,
  epoll: 64,
  'epoll-native': 64,
  // The same slot plus 24 bytes of receive state (native/uring.h): engineBytes grew 67 B per idle
  // connection up to 40,000 (results/checks/issue-18/idle-hold-40k.json), epoll-native's 32 B.
  uring: 88,
  'uring-native': 88,
  // Not measured: by construction, a 24-byte slot in a table that at most doubles (native/ref).
  'c-ref': 48,
  // Not measured: by construction, a 28-byte slot likewise (native/ref/echo_server_uring.cc); its
  // buffers are a fixed 16 MiB ring, not per connection.
  'c-ref-uring': 64,
};

/**
 * The same over TLS (`--tls`): user-space bytes per idle TLS connection, the slopes of
 * results/reference/tls/idle-hold-{wss,tls}.json rounded up. OpenSSL's per-connection objects
 * (SSL, BIOs, session, cipher contexts) dwarf the I/O model's own state; uws carries BoringSSL,
 * which frees its handshake state. A contender without TLS (the C references) has no entry.
 */
export const TLS_PER_CONN_BYTES: Readonly<Record<string, number>> = {
  net: 37 * 1024,
  uws: 3.5 * 1024,
  epoll: 14 * 1024,
  'epoll-native': 14 * 1024,
  // 14.9 KiB over the four levels, of which the ring's pages touched in the first (32 MiB per
  // worker, not per connection); planned at the slope as measured.
  uring: 15 * 1024,
  'uring-native': 15 * 1024,
};
/**
 * The native connector's user-space bytes per idle TLS connection, its OpenSSL client's state
 * (the memory used per connection less the server's and the slab's): about 20.5 KiB when it
 * resumes (42.4 KiB in all, results/checks/issue-20/idle-hold-tls-350k.json), about 16.5 KiB with
 * tickets off, when the client keeps no session (39.1 KiB in all, idle-hold-tls-175k-tickets-off.json).
 */
export const TLS_DRIVER_PER_CONN_BYTES = { resumed: 21 * 1024, full: 17 * 1024 } as const;

/** Kernel memory per idle connection pair on loopback (two sockets, files, epoll items), measured. */
export const KERNEL_BYTES_PER_PAIR = 8192;
/** Resident memory of an idle Node process before any connection (measured ~40 MiB on Node 20). */
export const NODE_PROCESS_BYTES = 48 * 1024 * 1024;
/** Fds a process keeps for itself (stdio, epoll, eventfds, IPC, libuv pool, modules). */
export const DEFAULT_FD_RESERVE = 64;
export const DEFAULT_CONNECT_RATE = 20_000;
/** The accept queue must absorb this long a pause of the server (a GC, a busy handler). */
export const ACCEPT_STALL_SECONDS = 0.1;
/** Node's default listen() backlog, and the floor we ask for. */
export const MIN_BACKLOG = 511;
/** MemAvailable must exceed the estimate by this factor for the memory check to pass outright. */
export const MEMORY_MARGIN = 1.2;

export interface PlanOptions {
  /** Connections per side (the driver opens them, the server accepts them). */
  readonly connections: number;
  /** Contender name: net, uws, epoll, epoll-native (others need perConnBytes). */
  readonly contender: string;
  readonly protocol: string;
  readonly readings: SystemReadings;
  /** Server worker processes; computed from the fd budget when omitted. */
  readonly workers?: number;
  /** Driver processes; computed from the fd budget when omitted. */
  readonly driverProcesses?: number;
  /** Served and driven over TLS: the per-connection defaults are TLS_PER_CONN_BYTES and TLS_DRIVER_PER_CONN_BYTES. */
  readonly tls?: boolean;
  /** Over TLS, whether sessions resume by tickets (the default): the driver then keeps a session per connection. */
  readonly tlsTickets?: boolean;
  /** Server user-space bytes per connection (a measured slope); DEFAULT_PER_CONN_BYTES (or TLS_PER_CONN_BYTES) otherwise. */
  readonly perConnBytes?: number;
  /** Driver user-space bytes per connection; 64 (the native connector; TLS_DRIVER_PER_CONN_BYTES over TLS) by default. */
  readonly driverPerConnBytes?: number;
  /** Kernel bytes per connection; KERNEL_BYTES_PER_PAIR with the driver on this host, half without. */
  readonly kernelBytesPerConn?: number;
  /** Resident bytes of one process before connections; NODE_PROCESS_BYTES by default. */
  readonly perProcessBytes?: number;
  /** Fds each process keeps for itself; DEFAULT_FD_RESERVE by default. */
  readonly fdReserve?: number;
  /** False when the driver runs on another machine: its fds, memory and CPUs are not counted here. */
  readonly driverOnHost?: boolean;
  /** Destination ports the driver spreads over (1 with SO_REUSEPORT; one per worker otherwise). */
  readonly destinationPorts?: number;
  /** Source addresses the connector is configured with; by default the plan says how many it needs. */
  readonly sourceAddresses?: number;
  /** New connections per second the driver opens; DEFAULT_CONNECT_RATE by default. */
  readonly connectRatePerSec?: number;
}

export type CheckLevel = 'ok' | 'warn' | 'fail';

export interface PreflightCheck {
  readonly item: string;
  /** True when nothing needs doing. */
  readonly ok: boolean;
  /** warn: the run works but differs from ideal (split processes, contention); fail: it cannot succeed. */
  readonly level: CheckLevel;
  /** What the machine has. */
  readonly value: string;
  /** What the run needs. */
  readonly need: string;
  /** Exact command(s) to run, one per line; null when ok. */
  readonly fix: string | null;
}

export interface MemoryEstimate {
  readonly kernelBytes: number;
  /** null when no per-connection figure is known for the contender. */
  readonly serverBytes: number | null;
  readonly driverBytes: number;
  readonly processBytes: number;
  /** Sum of the known parts (a lower bound when serverBytes is null). */
  readonly totalBytes: number;
  readonly kernelBytesPerConn: number;
  readonly serverBytesPerConn: number | null;
  readonly driverBytesPerConn: number;
  readonly availableBytes: number | null;
}

export interface RunPlan {
  readonly connections: number;
  readonly contender: string;
  readonly protocol: string;
  /** Planned for TLS: memory per connection from TLS_PER_CONN_BYTES and TLS_DRIVER_PER_CONN_BYTES. */
  readonly tls: boolean;
  readonly nofileSoft: number;
  readonly nofileHard: number;
  readonly fdReserve: number;
  /** Connections one process can hold: soft nofile minus the reserve. */
  readonly fdBudgetPerProcess: number;
  readonly serverWorkers: number;
  readonly connectionsPerWorker: number;
  readonly driverProcesses: number;
  readonly connectionsPerDriver: number;
  readonly driverOnHost: boolean;
  /** Fds on this host: connections on each local side plus every process's reserve. */
  readonly totalFds: number;
  /** Size of the ephemeral port range; null when unreadable. */
  readonly ephemeralPorts: number | null;
  readonly destinationPorts: number;
  /** Source addresses the connector should use (or was given). */
  readonly sourceAddresses: number;
  /** The suggested addresses, first and last: 127.0.0.2 onwards, the server keeping 127.0.0.1. */
  readonly sourceAddressRange: { readonly first: string; readonly last: string };
  /** Backlog to pass to listen() per listener. */
  readonly listenBacklog: number;
  readonly connectRatePerSec: number;
  readonly memory: MemoryEstimate;
  /** Socket-buffer pages a fully busy run may hold (compare with tcp_mem). */
  readonly tcpMemPagesNeeded: number;
  readonly checks: readonly PreflightCheck[];
  readonly feasible: boolean;
  /** One sentence per failed check. */
  readonly reasons: readonly string[];
}

function positiveInt(name: string, v: unknown): number {
  return checkInt(name, v, 1, Number.MAX_SAFE_INTEGER);
}

function nonNegative(name: string, v: unknown): number {
  return checkNumber(name, v, { min: 0 });
}

/** The n-th loopback address counting from 127.0.0.2 (n = 0). The whole 127/8 routes to lo. */
export function loopbackAddress(n: number): string {
  const v = 2 + n;
  if (!Number.isSafeInteger(n) || n < 0 || v > 0xfffffe) throw new RangeError(`loopback address index out of range: ${n}`);
  return `127.${(v >> 16) & 255}.${(v >> 8) & 255}.${v & 255}`;
}

/**
 * `ulimit -n` advice for one process holding `fds`, with the steps that need privilege when the
 * hard limit (or fs.nr_open above it) is in the way.
 */
export function nofileFix(fds: number, r: SystemReadings): string {
  const target = Math.max(1024, nextPow2(fds));
  if (target <= r.nofileHard) return `ulimit -n ${target}`;
  const nrOpen = r.nrOpen !== null && target > r.nrOpen ? `sysctl -w fs.nr_open=${target}\n` : '';
  const cap = r.capSysResource ? '' : '; this session lacks CAP_SYS_RESOURCE, so it cannot raise its own hard limit';
  return `${nrOpen}ulimit -n ${target} (needs raising the hard limit: as root, prlimit --pid $$ --nofile=${target}:${target}, or LimitNOFILE=${target} in systemd${cap})`;
}

/**
 * The open-files limit for `c1m tune`: what one process may hold against what one process
 * holding every connection needs, how to raise it now, and how to keep it raised (systemd's
 * LimitNOFILE=, limits.conf for login sessions). Pure, from the readings.
 */
export function formatNofile(connections: number, r: SystemReadings, reserve = DEFAULT_FD_RESERVE): string {
  const fds = connections + reserve;
  const target = Math.max(1024, nextPow2(fds));
  const head = `open files per process (nofile): soft ${fmtInt(r.nofileSoft)}, hard ${fmtInt(r.nofileHard)}`;
  if (r.nofileSoft >= fds) return `${head}: one process can hold ${fmtInt(connections)} connections (${fmtInt(fds)} fds)`;
  return [
    `${head}; one process holding ${fmtInt(connections)} connections needs ${fmtInt(fds)}.`,
    'Below that, c1m run splits the contender and the load over more processes (c1m preflight shows the plan).',
    `To use one process, in the shell that runs c1m:\n  ${nofileFix(fds, r).replaceAll('\n', '\n  ')}`,
    `To keep it: LimitNOFILE=${target} in the [Service] section of a systemd unit that runs c1m (DefaultLimitNOFILE= in`,
    `/etc/systemd/system.conf for every service), or for login sessions "* - nofile ${target}" in /etc/security/limits.conf;`,
    `fs.nr_open must be at least as high (above).`,
  ].join('\n');
}

function check(item: string, level: CheckLevel, value: string, need: string, fix: string | null): PreflightCheck {
  return { item, ok: level === 'ok', level, value, need, fix: level === 'ok' ? null : fix };
}

function nofileCheck(
  side: 'server' | 'driver',
  connections: number,
  processes: number,
  fixed: boolean,
  budget: number,
  reserve: number,
  r: SystemReadings,
): PreflightCheck {
  const item = `nofile (${side})`;
  const value = `soft ${fmtInt(r.nofileSoft)}, hard ${fmtInt(r.nofileHard)} per process`;
  const minProcesses = budget > 0 ? Math.ceil(connections / budget) : Number.POSITIVE_INFINITY;
  const noun = side === 'server' ? 'workers' : 'driver processes';
  const per = Math.ceil(connections / processes);
  const oneProcess = nofileFix(connections + reserve, r);
  if (budget < 1) {
    return check(item, 'fail', value, `more than the ${reserve} fds each process keeps for itself`, oneProcess);
  }
  if (processes < minProcesses) {
    return check(
      item,
      'fail',
      value,
      `${fmtInt(per + reserve)} fds in each of ${processes} ${noun} (${fmtInt(per)} connections + ${reserve})`,
      `use ${minProcesses} or more ${noun}, or raise the limit:\n${nofileFix(per + reserve, r)}`,
    );
  }
  if (processes === 1) return check(item, 'ok', value, `${fmtInt(per + reserve)} fds in 1 process`, null);
  const need = `${fmtInt(connections + reserve)} fds for one process: split into ${processes} ${noun} × ≤ ${fmtInt(per)} connections`;
  // A split the caller asked for is their choice; a split forced by the limit is worth a word.
  return check(item, fixed ? 'ok' : 'warn', value, need, `to use one process instead:\n${oneProcess}`);
}

/** Works out processes, addresses and memory for a run and checks each against the readings. */
/** Share of an address's ephemeral range the plan fills, so the kernel's port search stays short. */
export const PORT_FILL = 0.5;

export function planRun(options: PlanOptions): RunPlan {
  if (options === null || typeof options !== 'object') throw new TypeError('planRun: options must be an object');
  const connections = positiveInt('connections', options.connections);
  const { contender, protocol, readings: r } = options;
  if (typeof contender !== 'string' || contender === '') throw new TypeError('contender must be a non-empty string');
  if (typeof protocol !== 'string' || protocol === '') throw new TypeError('protocol must be a non-empty string');
  if (r === null || typeof r !== 'object' || typeof r.nofileSoft !== 'number') throw new TypeError('readings must be SystemReadings (see readSystem)');
  const reserve = options.fdReserve === undefined ? DEFAULT_FD_RESERVE : nonNegative('fdReserve', options.fdReserve);
  if (!Number.isSafeInteger(reserve)) throw new RangeError(`fdReserve must be an integer, got ${reserve}`);
  const driverOnHost = options.driverOnHost ?? true;
  if (typeof driverOnHost !== 'boolean') throw new TypeError('driverOnHost must be a boolean');

  const budget = Math.min(r.nofileSoft, Number.MAX_SAFE_INTEGER) - reserve;
  const minProcesses = budget > 0 ? Math.ceil(connections / budget) : 1;
  const workers = options.workers === undefined ? minProcesses : positiveInt('workers', options.workers);
  const drivers = options.driverProcesses === undefined ? minProcesses : positiveInt('driverProcesses', options.driverProcesses);
  const perWorker = Math.ceil(connections / workers);
  const perDriver = Math.ceil(connections / drivers);
  const hostProcesses = workers + (driverOnHost ? drivers : 0);
  const totalFds = connections * (driverOnHost ? 2 : 1) + reserve * hostProcesses;

  const checks: PreflightCheck[] = [];
  checks.push(nofileCheck('server', connections, workers, options.workers !== undefined, budget, reserve, r));
  if (driverOnHost) checks.push(nofileCheck('driver', connections, drivers, options.driverProcesses !== undefined, budget, reserve, r));

  // fs.nr_open bounds every hard limit; the plan needs it above each process's fds.
  const perProcessFds = Math.max(perWorker, driverOnHost ? perDriver : 0) + reserve;
  if (r.nrOpen === null) {
    checks.push(check('fs.nr_open', 'warn', 'unreadable', `≥ ${fmtInt(perProcessFds)}`, null));
  } else {
    const ok = r.nrOpen >= perProcessFds;
    checks.push(
      check('fs.nr_open', ok ? 'ok' : 'fail', fmtInt(r.nrOpen), `≥ ${fmtInt(perProcessFds)} (fds of the largest process)`, `sysctl -w fs.nr_open=${nextPow2(perProcessFds)}`),
    );
  }

  if (r.fileMax === null) {
    checks.push(check('fs.file-max', 'warn', 'unreadable', `${fmtInt(totalFds)} open files on this host`, null));
  } else {
    const inUse = r.fileNr?.allocated ?? 0;
    const free = r.fileMax - inUse;
    const level: CheckLevel = free >= totalFds ? 'ok' : r.capSysAdmin ? 'warn' : 'fail';
    const note = level === 'warn' ? ' (processes with CAP_SYS_ADMIN, as here, may exceed it; others will get ENFILE)' : '';
    checks.push(
      check(
        'fs.file-max',
        level,
        `${fmtInt(r.fileMax)} max, ${fmtInt(inUse)} in use (fs.file-nr): ${fmtInt(free)} free`,
        `${fmtInt(totalFds)} open files on this host${note}`,
        `sysctl -w fs.file-max=${nextPow2(Math.ceil((totalFds + inUse) * 1.25))}`,
      ),
    );
  }

  // Each (source address, destination address, destination port) tuple gives at most the
  // size of the ephemeral range, since the kernel picks the port per 4-tuple at connect()
  // (with IP_BIND_ADDRESS_NO_PORT when a source address is bound).
  const destinationPorts = options.destinationPorts === undefined ? 1 : positiveInt('destinationPorts', options.destinationPorts);
  const ports = r.portRange ? r.portRange.high - r.portRange.low + 1 : null;
  const perDestPort = Math.ceil(connections / destinationPorts);
  // Plan each tuple at half the range: near exhaustion, connect()'s search for a free port walks
  // most of the range on every call (measured here: a driver blocked for 15 s in one tick of
  // connects with ~25,000 connections per address), so addresses (127/8 has millions) are
  // cheaper than crowding them.
  const needAddresses = ports !== null && ports > 0 ? Math.ceil(perDestPort / Math.floor(ports * PORT_FILL)) : 1;
  const sourceAddresses = options.sourceAddresses === undefined ? needAddresses : positiveInt('sourceAddresses', options.sourceAddresses);
  const range = { first: loopbackAddress(0), last: loopbackAddress(sourceAddresses - 1) };
  const neededRange = `${loopbackAddress(0)}–${loopbackAddress(needAddresses - 1)}`;
  if (ports === null || ports <= 0) {
    checks.push(check('ephemeral ports', 'warn', 'net.ipv4.ip_local_port_range unreadable', `${fmtInt(perDestPort)} connections per destination port`, null));
  } else {
    const wide = 65535 - 1024 + 1;
    const widened = Math.ceil(perDestPort / Math.floor(wide * PORT_FILL));
    const ok = sourceAddresses >= needAddresses;
    const plural = (n: number, s: string): string => `${n} ${s}${n === 1 ? '' : 'es'}`;
    checks.push(
      check(
        'ephemeral ports',
        ok ? 'ok' : 'fail',
        `${fmtInt(ports)} ports (${r.portRange?.low}–${r.portRange?.high}) × ${plural(sourceAddresses, 'source address')} × ${destinationPorts} destination port${destinationPorts === 1 ? '' : 's'}`,
        `${fmtInt(perDestPort)} connections per destination port: ${plural(needAddresses, 'source address')} (${neededRange})`,
        `use ${needAddresses} source addresses (${neededRange}) or more destination ports, or widen the range (then ${widened} address${widened === 1 ? '' : 'es'}):\nsysctl -w net.ipv4.ip_local_port_range="1024 65535"`,
      ),
    );
  }

  const rate = options.connectRatePerSec === undefined ? DEFAULT_CONNECT_RATE : nonNegative('connectRatePerSec', options.connectRatePerSec);
  const backlogNeed = Math.max(MIN_BACKLOG, Math.ceil((rate * ACCEPT_STALL_SECONDS) / workers));
  const backlogNeedText = `≥ ${fmtInt(backlogNeed)} per listener (${fmtInt(rate)} connects/s, ${ACCEPT_STALL_SECONDS * 1000} ms stall, ${workers} listener${workers === 1 ? '' : 's'})`;
  for (const [key, value] of [
    ['net.core.somaxconn', r.somaxconn],
    ['net.ipv4.tcp_max_syn_backlog', r.tcpMaxSynBacklog],
  ] as const) {
    if (value === null) checks.push(check(key, 'warn', 'unreadable', backlogNeedText, null));
    else checks.push(check(key, value >= backlogNeed ? 'ok' : 'warn', fmtInt(value), backlogNeedText, `sysctl -w ${key}=${Math.max(65535, nextPow2(backlogNeed) - 1)}`));
  }
  // The kernel caps a listen backlog at somaxconn; the contenders' limit caps what may be asked for.
  const listenBacklog = Math.min(LIMITS['limits.backlog'].max, Math.max(backlogNeed, r.somaxconn ?? MIN_BACKLOG));

  if (r.nfConntrackMax !== null) {
    const count = r.nfConntrackCount ?? 0;
    const enough = r.nfConntrackMax - count >= connections;
    // With no rule asking for tracking, the table stays empty and its size does not matter.
    const level: CheckLevel = enough ? 'ok' : count > 0 ? 'fail' : 'warn';
    const note = level === 'warn' ? ' (only if netfilter rules track loopback; 0 tracked now suggests none do)' : '';
    checks.push(
      check(
        'net.netfilter.nf_conntrack_max',
        level,
        `${fmtInt(r.nfConntrackMax)} max, ${fmtInt(count)} tracked`,
        `${fmtInt(connections)} entries${note}`,
        `sysctl -w net.netfilter.nf_conntrack_max=${nextPow2(Math.ceil((connections + count) * 1.25))}`,
      ),
    );
  }

  // Socket buffers: one page per socket with data in flight on a fully busy run.
  const bufferBytes = connections * (driverOnHost ? SOCKET_BUFFER_BYTES_PER_PAIR : SOCKET_BUFFER_BYTES_PER_PAIR / 2);
  const tcpMemPagesNeeded = Math.ceil(bufferBytes / r.pageSize);
  if (r.tcpMem === null) {
    checks.push(check('net.ipv4.tcp_mem', 'warn', 'unreadable', `${fmtInt(tcpMemPagesNeeded)} pages`, null));
  } else {
    const w = tcpMemFor(bufferBytes, r.pageSize, r.memTotalBytes);
    const want = `${Math.max(w.low, r.tcpMem.low)} ${Math.max(w.pressure, r.tcpMem.pressure)} ${Math.max(w.high, r.tcpMem.high)}`;
    const level: CheckLevel = tcpMemPagesNeeded <= r.tcpMem.pressure ? 'ok' : 'warn';
    const effect =
      tcpMemPagesNeeded > r.tcpMem.high
        ? 'beyond the hard cap: sockets are refused buffer memory and stall'
        : 'beyond the pressure threshold: buffers shrink';
    checks.push(
      check(
        'net.ipv4.tcp_mem',
        level,
        `${r.tcpMem.low} ${r.tcpMem.pressure} ${r.tcpMem.high} pages (pressure at ${fmtBytes(r.tcpMem.pressure * r.pageSize)})`,
        `${fmtInt(tcpMemPagesNeeded)} pages (${fmtBytes(bufferBytes)}) when every socket has a page in flight${level === 'ok' ? '' : `; ${effect}`}`,
        `sysctl -w net.ipv4.tcp_mem=${quoteValue(want)}`,
      ),
    );
  }

  const kernelPerConn = options.kernelBytesPerConn === undefined ? (driverOnHost ? KERNEL_BYTES_PER_PAIR : KERNEL_BYTES_PER_PAIR / 2) : nonNegative('kernelBytesPerConn', options.kernelBytesPerConn);
  const tls = options.tls === true;
  const serverPerConn = options.perConnBytes === undefined ? ((tls ? TLS_PER_CONN_BYTES : DEFAULT_PER_CONN_BYTES)[contender] ?? null) : nonNegative('perConnBytes', options.perConnBytes);
  const driverPerConn = driverOnHost ? (options.driverPerConnBytes === undefined ? (tls ? TLS_DRIVER_PER_CONN_BYTES[options.tlsTickets === false ? 'full' : 'resumed'] : 64) : nonNegative('driverPerConnBytes', options.driverPerConnBytes)) : 0;
  const perProcess = options.perProcessBytes === undefined ? NODE_PROCESS_BYTES : nonNegative('perProcessBytes', options.perProcessBytes);
  const kernelBytes = connections * kernelPerConn;
  const serverBytes = serverPerConn === null ? null : connections * serverPerConn;
  const driverBytes = connections * driverPerConn;
  const processBytes = hostProcesses * perProcess;
  const totalBytes = kernelBytes + (serverBytes ?? 0) + driverBytes + processBytes;
  const memory: MemoryEstimate = {
    kernelBytes,
    serverBytes,
    driverBytes,
    processBytes,
    totalBytes,
    kernelBytesPerConn: kernelPerConn,
    serverBytesPerConn: serverPerConn,
    driverBytesPerConn: driverPerConn,
    availableBytes: r.memAvailableBytes,
  };
  {
    const avail = r.memAvailableBytes;
    const unknownServer = serverBytes === null ? ` + server unknown (no per-connection figure for ${contender}${tls ? ' over TLS' : ''}: pass perConnBytes)` : '';
    const need = `${fmtBytes(totalBytes)}${unknownServer}, ×${MEMORY_MARGIN} margin = ${fmtBytes(totalBytes * MEMORY_MARGIN)}`;
    if (avail === null) {
      checks.push(check('memory', 'warn', 'MemAvailable unreadable', need, null));
    } else {
      const level: CheckLevel = totalBytes > avail ? 'fail' : totalBytes * MEMORY_MARGIN > avail || serverBytes === null ? 'warn' : 'ok';
      const perConn = kernelPerConn + (serverPerConn ?? 0) + driverPerConn;
      const fits = perConn > 0 ? Math.max(0, Math.floor((avail / MEMORY_MARGIN - processBytes) / perConn)) : connections;
      checks.push(
        check(
          'memory',
          level,
          `MemAvailable ${fmtBytes(avail)}`,
          need,
          serverBytes === null && totalBytes * MEMORY_MARGIN <= avail
            ? `measure ${contender} first (a run's bytesPerConnection) and pass it as perConnBytes`
            : `lower connections to ${fmtInt(fits)} or fewer, or free memory (stop other services, drop caches: sync; echo 3 > /proc/sys/vm/drop_caches)`,
        ),
      );
    }
  }

  if (hostProcesses > r.cpus) {
    checks.push(
      check(
        'cpus',
        'warn',
        `${r.cpus} CPU${r.cpus === 1 ? '' : 's'}`,
        `${hostProcesses} processes (${workers} server + ${driverOnHost ? drivers : 0} driver): results will include contention`,
        driverOnHost ? 'run the driver on another machine, or raise nofile to need fewer processes (see nofile)' : 'raise nofile to need fewer processes (see nofile)',
      ),
    );
  } else {
    checks.push(check('cpus', 'ok', `${r.cpus} CPUs`, `${hostProcesses} processes`, null));
  }

  const reasons = checks.filter((c) => c.level === 'fail').map((c) => `${c.item}: needs ${c.need}; has ${c.value}`);
  return {
    connections,
    contender,
    protocol,
    tls,
    nofileSoft: r.nofileSoft,
    nofileHard: r.nofileHard,
    fdReserve: reserve,
    fdBudgetPerProcess: budget,
    serverWorkers: workers,
    connectionsPerWorker: perWorker,
    driverProcesses: drivers,
    connectionsPerDriver: perDriver,
    driverOnHost,
    totalFds,
    ephemeralPorts: ports,
    destinationPorts,
    sourceAddresses,
    sourceAddressRange: range,
    listenBacklog,
    connectRatePerSec: rate,
    memory,
    tcpMemPagesNeeded,
    checks,
    feasible: reasons.length === 0,
    reasons,
  };
}

/** Human text for a plan: what it takes, then each check as OK/WARN/FAIL with its fix (pure). */
export function formatPreflight(plan: RunPlan): string {
  const m = plan.memory;
  const lines: string[] = [];
  lines.push(`preflight: ${fmtInt(plan.connections)} connections, contender ${plan.contender}, protocol ${plan.protocol}${plan.tls ? ' over TLS' : ''}`);
  lines.push('plan');
  lines.push(
    `  server   ${plan.serverWorkers} worker${plan.serverWorkers === 1 ? '' : 's'} × ≤ ${fmtInt(plan.connectionsPerWorker)} connections ` +
      `(fd budget ${fmtInt(plan.fdBudgetPerProcess)} = soft nofile ${fmtInt(plan.nofileSoft)} − ${plan.fdReserve} reserve)`,
  );
  lines.push(
    `  driver   ${plan.driverProcesses} process${plan.driverProcesses === 1 ? '' : 'es'} × ≤ ${fmtInt(plan.connectionsPerDriver)} connections` +
      (plan.driverOnHost ? ', on this host' : ', on another host'),
  );
  lines.push(
    `  sources  ${plan.sourceAddresses} address${plan.sourceAddresses === 1 ? '' : 'es'} ${plan.sourceAddressRange.first}` +
      (plan.sourceAddresses > 1 ? `–${plan.sourceAddressRange.last}` : '') +
      ` → ${plan.destinationPorts} destination port${plan.destinationPorts === 1 ? '' : 's'}` +
      (plan.ephemeralPorts === null ? '' : ` (${fmtInt(plan.ephemeralPorts)} ephemeral ports per address and port)`),
  );
  lines.push(`  backlog  listen(…, ${fmtInt(plan.listenBacklog)}) at ${fmtInt(plan.connectRatePerSec)} connects/s`);
  const server = m.serverBytes === null ? `server unknown` : `server ${fmtBytes(m.serverBytes)} (${fmtInt(m.serverBytesPerConn ?? 0)} B/conn)`;
  lines.push(
    `  memory   ${fmtBytes(m.totalBytes)} = kernel ${fmtBytes(m.kernelBytes)} (${fmtInt(m.kernelBytesPerConn)} B/conn) + ${server}` +
      ` + driver ${fmtBytes(m.driverBytes)} (${fmtInt(m.driverBytesPerConn)} B/conn) + processes ${fmtBytes(m.processBytes)}`,
  );
  lines.push('checks');
  for (const c of plan.checks) {
    if (c.level === 'ok') {
      lines.push(`  OK    ${c.item}: ${c.value}; needs ${c.need}`);
      continue;
    }
    lines.push(`  ${c.level === 'warn' ? 'WARN' : 'FAIL'}  ${c.item}: ${c.value}`);
    lines.push(`          needs ${c.need}`);
    if (c.fix !== null) {
      const [first, ...more] = c.fix.split('\n');
      lines.push(`          fix: ${first ?? ''}`);
      for (const f of more) lines.push(`               ${f}`);
    }
  }
  lines.push(plan.feasible ? 'feasible' : `NOT feasible:\n${plan.reasons.map((s) => `  - ${s}`).join('\n')}`);
  return lines.join('\n');
}
