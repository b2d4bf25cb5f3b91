// `c1m preflight`: what a run of N connections needs from this machine, each check with its fix,
// and which I/O models it can run (informational: the run's own contender is checked when it starts).

import { paramRange } from '../limits.js';
import { readSystem } from '../system/limits.js';
import { formatPreflight, planRun } from '../system/preflight.js';
import { getContender } from '../contenders/index.js';
import { PROTOCOL_ALIAS_HELP, PROTOCOL_WORDS, resolveProtocol } from '../wire/protocols.js';
import { ioModelSection, tlsSection } from './availability.js';
import { EXIT, type ExitCode } from './exit.js';
import { flagHelp, parseArgs, UsageError, type FlagSpec } from './flags.js';
import type { Io } from './io.js';

/** What preflight and tune plan for unless told otherwise: the million c1m is named after. */
export const PLAN_CONNECTIONS = 1_000_000;

export const PREFLIGHT_FLAGS = {
  connections: { ...paramRange('connections'), help: 'connections per side', default: PLAN_CONNECTIONS },
  contender: { type: 'string', help: 'contender (memory per connection differs)', default: 'epoll' },
  protocol: { type: 'string', choices: PROTOCOL_WORDS, help: `protocol (${PROTOCOL_ALIAS_HELP})`, default: 'tcp-echo' },
  workers: { ...paramRange('workers'), help: 'contender processes (default: as the fd limit needs)' },
  drivers: { ...paramRange('workers'), help: 'driver processes (default: as the fd limit needs)' },
  tls: { type: 'bool', help: 'served and driven over TLS (OpenSSL keeps state per connection on both sides)', default: false },
  tlsTickets: { type: 'bool', help: '--tls: sessions resume by tickets (false: every handshake full, and the driver keeps no session)', default: true },
} as const satisfies Record<string, FlagSpec>;

export async function cmdPreflight(argv: readonly string[], io: Io): Promise<ExitCode> {
  const args = parseArgs(argv, PREFLIGHT_FLAGS, { command: 'c1m preflight', maxPositionals: 0 });
  if (args.help) {
    io.out(`usage: c1m preflight [flags]\n\nWhat a run needs from this machine (fds, ports, sysctls, memory, CPUs), each check OK, WARN or\nFAIL with the exact command that fixes it, then which I/O models (epoll, libuv, uWebSockets.js,\nio_uring) this machine can run and, for each that cannot, why and the fix. Changes nothing.\nExit 0 when feasible, 1 when not.\n\nflags:\n${flagHelp(PREFLIGHT_FLAGS).join('\n')}\n`);
    return EXIT.ok;
  }
  const v = args.values;
  const contender = (v['contender'] as string | undefined) ?? PREFLIGHT_FLAGS.contender.default;
  try {
    // The plan's memory per connection is the contender's: a name it does not know plans for nothing.
    getContender(contender);
  } catch (err) {
    throw new UsageError(`c1m preflight: ${(err as Error).message}`);
  }
  const plan = planRun({
    connections: (v['connections'] as number | undefined) ?? PREFLIGHT_FLAGS.connections.default,
    contender,
    protocol: resolveProtocol((v['protocol'] as string | undefined) ?? PREFLIGHT_FLAGS.protocol.default),
    readings: readSystem(),
    tls: v['tls'] === true,
    tlsTickets: v['tlsTickets'] !== false,
    ...(v['workers'] !== undefined ? { workers: v['workers'] as number } : {}),
    ...(v['drivers'] !== undefined ? { driverProcesses: v['drivers'] as number } : {}),
  });
  io.out(`${formatPreflight(plan)}\n\n${await ioModelSection()}\n${await tlsSection()}`);
  return plan.feasible ? EXIT.ok : EXIT.failed;
}
