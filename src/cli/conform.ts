// `c1m conform`: the strict HTTP/1.1 and WebSocket cases against every contender (or those named),
// each started as `c1m serve` starts it; writes the matrix (case × contender → pass, the deviation
// seen, or n/a) as a result file and its HTML page, and prints it as a table.

import { readFileSync } from 'node:fs';
import { readSystem } from '../system/limits.js';
import { runConformance } from '../conform/matrix.js';
import { defaultConformPath, writeConformResult } from '../conform/output.js';
import { renderConformHtml, renderConformText } from '../conform/page.js';
import { validateConform } from '../conform/schema.js';
import { htmlPathFor, writeAtomic } from '../runner/output.js';
import { ALL_CASES, DEFAULT_SLOWLORIS_MS, DEFAULT_WAIT_MS } from '../conform/suite.js';
import type { Family } from '../conform/case.js';
import { collectEnv } from '../runner/env.js';
import { commandSession } from '../runner/processes.js';
import { expandContenders } from '../runner/run.js';
import { EXIT, type ExitCode } from './exit.js';
import { flagHelp, parseArgs, UsageError, type FlagSpec } from './flags.js';
import type { Io } from './io.js';

export const CONFORM_FLAGS = {
  contenders: { type: 'list', default: ['all'], help: 'contenders to check, in this order ("all" = every registered contender)' },
  only: { type: 'string', choices: ['http', 'ws'], help: 'only the HTTP/1.1 cases (http) or only the WebSocket cases (ws)' },
  out: { type: 'string', help: 'result file (default results/conform/<UTC timestamp>.json); the HTML page goes beside it' },
  waitMs: { type: 'int', min: 50, max: 60_000, default: DEFAULT_WAIT_MS, help: 'how long a case waits for an answer or a close the server owes' },
  slowlorisMs: { type: 'int', min: 200, max: 600_000, default: DEFAULT_SLOWLORIS_MS, help: 'how long the slowloris case trickles (e.g. 30000 to see a header timeout)' },
  json: { type: 'bool', help: 'print the result JSON on stdout (paths then go to stderr)' },
  from: { type: 'string', help: 'run nothing: print the matrix of this conformance file and write its page (beside it, or beside --out)' },
} as const satisfies Record<string, FlagSpec>;

function usage(): string {
  return `usage: c1m conform [flags]

Runs ${ALL_CASES.length} strict cases written from RFC 9110, RFC 9112 (HTTP/1.1, against http-hello) and
RFC 6455 (WebSocket, against ws-echo) on plain TCP connections to 127.0.0.1, against each contender
started as c1m serve starts it, and writes the matrix (case × contender: pass, the deviation seen,
or n/a with the reason) to a result file and its HTML page. Every wait is bounded; over all
contenders it takes well under a minute.

flags:
${flagHelp(CONFORM_FLAGS).join('\n')}

exit: 0 the matrix was written (deviations are findings, not failures), 1 failed, 2 usage,
      3 a contender that serves a protocol could not be started (its cells say why), 130 interrupted
`;
}

export async function cmdConform(argv: readonly string[], io: Io): Promise<ExitCode> {
  const args = parseArgs(argv, CONFORM_FLAGS, { command: 'c1m conform', maxPositionals: 0 });
  if (args.help) {
    io.out(usage());
    return EXIT.ok;
  }
  const v = args.values;
  if (typeof v['from'] === 'string') return redraw(v['from'], typeof v['out'] === 'string' ? v['out'] : v['from'], io);
  let contenders: string[];
  try {
    contenders = expandContenders((v['contenders'] as string[] | undefined) ?? ['all']);
  } catch (err) {
    throw new UsageError(`c1m conform: ${(err as Error).message}`);
  }
  const only = v['only'] as Family | undefined;
  const session = commandSession({
    log: io.err,
    onFirst: (sig) => `c1m: ${sig}: stopping the contender and writing what was checked (again to kill at once)\n`,
    exitCode: EXIT.interrupted,
  });
  try {
    const result = await runConformance({
      contenders,
      env: collectEnv(readSystem()),
      waitMs: (v['waitMs'] as number | undefined) ?? DEFAULT_WAIT_MS,
      slowlorisMs: (v['slowlorisMs'] as number | undefined) ?? DEFAULT_SLOWLORIS_MS,
      ...(only !== undefined ? { families: [only] } : {}),
      tracker: session.tracker,
      signal: session.signal,
      log: (line) => io.err(`${line}\n`),
    });
    const path = typeof v['out'] === 'string' ? v['out'] : defaultConformPath(result.startedAt);
    const html = writeConformResult(result, path);
    const say = v['json'] === true ? io.err : io.out;
    if (v['json'] === true) io.out(`${JSON.stringify(result, null, 2)}\n`);
    else io.out(renderConformText(result));
    say(`result: ${path}\n`);
    say(`report: ${html}\n`);
    for (const run of result.runs) if (run.error !== null) io.err(`c1m conform: ${run.error}\n`);
    if (session.signal.aborted) return EXIT.interrupted;
    return result.runs.some((run) => run.error !== null) ? EXIT.someRunsFailed : EXIT.ok;
  } finally {
    const left = session.end();
    if (left.length > 0) io.err(`c1m: killed leftover process(es) ${left.join(', ')}\n`);
  }
}

/** --from: the table and the page of a file written before, nothing run. */
function redraw(file: string, out: string, io: Io): ExitCode {
  let result;
  try {
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(file, 'utf8'));
    } catch (err) {
      throw new Error(`${file}: ${(err as Error).message}`);
    }
    result = validateConform(json, file);
  } catch (err) {
    io.err(`c1m conform: ${(err as Error).message}\n`);
    return EXIT.failed;
  }
  const html = htmlPathFor(out);
  writeAtomic(html, renderConformHtml(result));
  io.out(renderConformText(result));
  io.out(`report: ${html}\n`);
  return EXIT.ok;
}
