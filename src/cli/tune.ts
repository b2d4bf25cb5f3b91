// `c1m tune`: the kernel settings a million-connection run depends on, current against wanted;
// --apply writes those that fall short (root, old values recorded), --revert restores them.

import { paramRange } from '../limits.js';
import { readSystem } from '../system/limits.js';
import { formatNofile } from '../system/preflight.js';
import { SYSCTL_CONF, defaultStateFile, formatPersist, formatTune, procSysctlIO, tuneApply, tuneRevert, tuneShow } from '../system/tune.js';
import { EXIT, type ExitCode } from './exit.js';
import { flagHelp, parseArgs, UsageError, type FlagSpec } from './flags.js';
import type { Io } from './io.js';
import { PLAN_CONNECTIONS } from './preflight.js';

export const TUNE_FLAGS = {
  apply: { type: 'bool', help: 'write the settings that fall short (root; old values recorded for --revert)' },
  revert: { type: 'bool', help: 'restore the values recorded by --apply (root)' },
  connections: { ...paramRange('connections'), help: 'connections the settings should carry', default: PLAN_CONNECTIONS },
} as const satisfies Record<string, FlagSpec>;

export function cmdTune(argv: readonly string[], io: Io): ExitCode {
  const args = parseArgs(argv, TUNE_FLAGS, { command: 'c1m tune', maxPositionals: 0 });
  if (args.help) {
    io.out(`usage: c1m tune [--apply | --revert] [--connections N]\n\nShows every kernel setting a million-connection run depends on, current against wanted, and why;\nhow to keep them after a reboot (${SYSCTL_CONF}); and the open-files limit per process, with how to\nraise it and keep it raised (LimitNOFILE=). Changes nothing unless --apply is given; --apply changes\nthe running kernel's settings only, never the open-files limit or a file under /etc.\n\nflags:\n${flagHelp(TUNE_FLAGS).join('\n')}\n`);
    return EXIT.ok;
  }
  const { apply, revert } = args.values;
  const connections = (args.values['connections'] as number | undefined) ?? TUNE_FLAGS.connections.default;
  if (apply === true && revert === true) throw new UsageError('c1m tune: --apply and --revert exclude each other');
  try {
    // Where --apply records the old values: ~/.cache/c1m, or XDG_CACHE_HOME, of the given environment.
    const stateFile = defaultStateFile(io.env ?? process.env);
    if (apply === true) {
      const r = tuneApply({ io: procSysctlIO(), connections, stateFile });
      if (r.changed.length === 0) io.out('nothing to change: every setting suffices\n');
      for (const c of r.changed) io.out(`changed ${c.key}: ${c.from} → ${c.to}\n`);
      if (r.changed.length > 0) io.out(`old values recorded in ${r.stateFile}; c1m tune --revert restores them\n`);
      return EXIT.ok;
    }
    if (revert === true) {
      const r = tuneRevert({ io: procSysctlIO(), stateFile });
      if (!r.found) io.out(`nothing to revert (no ${r.stateFile})\n`);
      for (const c of r.restored) io.out(`restored ${c.key}: ${c.from} → ${c.to}\n`);
      return EXIT.ok;
    }
  } catch (err) {
    io.err(`c1m tune: ${(err as Error).message}\n`);
    return EXIT.failed;
  }
  const readings = readSystem();
  const rows = tuneShow(readings, { connections });
  io.out(`${formatTune(rows)}\n\n${formatPersist(rows)}\n\n${formatNofile(connections, readings)}\n`);
  return EXIT.ok;
}
