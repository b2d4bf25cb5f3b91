#!/usr/bin/env node
// `c1m`: the command table and main(), which returns the exit code (src/cli/exit.ts) and runs
// only when this file (the package's bin) or src/cli.ts (`node dist/src/cli.js`) is the entry
// point, so tests import it. One file per command beside this one.

import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { didYouMean } from '../checks.js';
import { packageVersion } from '../runner/env.js';
import { EXIT, type ExitCode } from './exit.js';
import { UsageError } from './flags.js';
import { processIo, type Io } from './io.js';
import { cmdCompare } from './compare.js';
import { cmdConform } from './conform.js';
import { cmdList } from './list.js';
import { cmdPreflight } from './preflight.js';
import { cmdProfile } from './profile.js';
import { cmdReport } from './report.js';
import { cmdRun } from './run.js';
import { cmdServe } from './serve.js';
import { cmdSuite } from './suite.js';
import { cmdTune } from './tune.js';

const USAGE = `c1m — a million-connection benchmark harness for Node.js on Linux

usage: c1m <command> [flags]   (c1m <command> --help for its flags; c1m --version)

  list          scenarios, with their protocols and parameters
  run           run a scenario; writes one result file and its HTML report
  suite         several scenarios (npm start: --quick), then one table of their headline figures
  preflight     what a run of N connections needs from this machine, with exact fixes
  serve         start a contender in the foreground until Ctrl-C
  conform       strict HTTP/1.1 and WebSocket cases against each contender: the conformance matrix
  tune          kernel settings for a million connections (show; --apply / --revert as root)
  report        terminal, markdown and HTML reports from result files
  compare       BASE NEW: exits 1 when a figure regressed beyond its noise and a threshold (a CI gate)
  profile       a contender under clinic, V8's profilers or perf while a scenario's load runs
`;

type Command = (argv: readonly string[], io: Io) => ExitCode | Promise<ExitCode>;

const COMMANDS: Record<string, Command> = {
  list: cmdList,
  run: cmdRun,
  suite: cmdSuite,
  preflight: cmdPreflight,
  serve: cmdServe,
  conform: cmdConform,
  tune: cmdTune,
  report: cmdReport,
  compare: cmdCompare,
  profile: cmdProfile,
};

export async function main(argv: readonly string[], io: Io = processIo()): Promise<ExitCode> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    io.out(USAGE);
    return command === undefined ? EXIT.usage : EXIT.ok;
  }
  if (command === '--version' || command === '-v' || command === 'version') {
    io.out(`c1m ${packageVersion() ?? 'unknown version'}\n`);
    return EXIT.ok;
  }
  const run = COMMANDS[command];
  if (run === undefined) {
    io.err(`c1m: unknown command "${command}"${didYouMean(command, Object.keys(COMMANDS))}\n\n${USAGE}`);
    return EXIT.usage;
  }
  try {
    return await run(rest, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`${err.message}\n`);
      return EXIT.usage;
    }
    io.err(`c1m ${command}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return EXIT.failed;
  }
}

/** Runs main() on this process's arguments and exits with its code, when moduleUrl is the entry point. */
export async function runIfEntry(moduleUrl: string): Promise<void> {
  const entry = process.argv[1];
  if (entry === undefined || moduleUrl !== pathToFileURL(realpathSync(entry)).href) return;
  const code = await main(process.argv.slice(2));
  // Every child is stopped by now; exiting here keeps a stray handle from holding the CLI open.
  process.exit(code);
}

await runIfEntry(import.meta.url);
