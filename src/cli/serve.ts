// `c1m serve <contender>`: the processes `c1m run` starts, in the foreground until Ctrl-C, then
// drained and stopped.

import { contenderNames, DEFAULT_HOST, getContender, startContender } from '../contenders/index.js';
import { defaultOf, paramRange } from '../limits.js';
import { isSameProcess, ProcessTracker } from '../runner/processes.js';
import { PROTOCOL_ALIAS_HELP, PROTOCOL_WORDS, resolveProtocol } from '../wire/protocols.js';
import { EXIT, type ExitCode } from './exit.js';
import { flagHelp, parseArgs, UsageError, type FlagSpec } from './flags.js';
import type { Io } from './io.js';

export const SERVE_FLAGS = {
  protocol: { type: 'string', choices: PROTOCOL_WORDS, help: `protocol to serve (required; ${PROTOCOL_ALIAS_HELP})` },
  port: { ...paramRange('port'), help: 'first port; worker i listens on port + i (0 = free ports)', default: defaultOf('port') },
  host: { type: 'string', help: 'address to listen on', default: DEFAULT_HOST },
  workers: { ...paramRange('workers'), help: 'worker processes', default: defaultOf('workers') },
} as const satisfies Record<string, FlagSpec>;

export async function cmdServe(argv: readonly string[], io: Io): Promise<ExitCode> {
  const args = parseArgs(argv, SERVE_FLAGS, { command: 'c1m serve', maxPositionals: 1 });
  if (args.help) {
    io.out(`usage: c1m serve <contender> --protocol <name> [flags]\n\nStarts a contender in the foreground (the same processes c1m run starts), prints where it\nlistens, and serves until Ctrl-C, then drains and stops it. Contenders: ${contenderNames().join(', ')}.\n\nflags:\n${flagHelp(SERVE_FLAGS).join('\n')}\n`);
    return EXIT.ok;
  }
  const contender = args.positionals[0];
  if (contender === undefined) throw new UsageError(`c1m serve: which contender? (${contenderNames().join(', ')})`);
  try {
    getContender(contender);
  } catch (err) {
    throw new UsageError(`c1m serve: ${(err as Error).message}`);
  }
  const word = args.values['protocol'] as string | undefined;
  if (word === undefined) throw new UsageError(`c1m serve: --protocol is required (${PROTOCOL_WORDS.join(', ')})`);
  const protocol = resolveProtocol(word);
  const host = (args.values['host'] as string | undefined) ?? DEFAULT_HOST;
  const port = args.values['port'] as number | undefined;
  const workers = args.values['workers'] as number | undefined;
  let handle;
  try {
    // Absent flags stay absent: startContender fills in the defaults the help shows (the limits table's).
    handle = await startContender({ contender, protocol, host, ...(port !== undefined ? { port } : {}), ...(workers !== undefined ? { workers } : {}) });
  } catch (err) {
    if (err instanceof TypeError && /host/.test(err.message)) throw new UsageError(`c1m serve: ${err.message}`);
    io.err(`c1m serve: ${(err as Error).message}\n`);
    return EXIT.failed;
  }
  for (const w of handle.workers) io.out(`${contender} ${protocol} listening on ${host}:${w.port} (worker ${w.worker}, pid ${w.pid})\n`);
  io.out('serving until Ctrl-C\n');
  const tracked = handle.workers.map((w) => new ProcessTracker().add(w.pid, 'contender', `${contender}#${w.worker}`));
  const code = await new Promise<ExitCode>((resolve) => {
    const stop = (): void => {
      clearInterval(watch);
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve(EXIT.ok);
    };
    // A worker that dies on its own ends the serve with an error instead of serving half.
    const watch = setInterval(() => {
      const gone = tracked.find((t) => !isSameProcess(t));
      if (gone) {
        io.err(`c1m serve: worker pid ${gone.pid} exited on its own\n`);
        stop();
        resolve(EXIT.failed);
      }
    }, 500);
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  const report = await handle.stop();
  const cut = report.drain.cut === null ? 'not known' : String(report.drain.cut);
  io.err(`c1m serve: stopped (${report.workers.map((w) => `pid ${w.pid}: ${w.signal ?? `code ${w.code}`}${w.killed ? ', killed' : ''}`).join('; ')}); drain cut ${cut} connection(s), bound ${report.drain.boundMs} ms\n`);
  return code;
}
