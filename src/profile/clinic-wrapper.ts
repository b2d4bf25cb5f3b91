// The process a contender runs under for the clinic tools:
//   node clinic-wrapper.js <doctor|flame|heapprofiler|bubbleprof> <outDir> <analysisTimeoutMs> -- node contender-process.js '<config>'
// It drives the @clinic/* tool's own API (collect, then visualize) rather than the `clinic`
// command, which asks about usage statistics, checks npm for updates in a detached process and
// starts its load generator only for servers built on node:net. Files land in outDir; on success
// outDir/clinic.json names the HTML report. Exit codes: 0 written, 1 collect or visualize failed,
// 2 bad arguments, 5 the analysis overran its bound.

import { createRequire } from 'node:module';
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { CLINIC_NAME, CLINIC_PACKAGES, type ClinicTool } from './profile-contract.js';

const require = createRequire(import.meta.url);

interface ClinicToolInstance {
  collect(args: string[], cb: (err: Error | null, dataPath: string) => void): void;
  visualize(dataPath: string, html: string, cb: (err: Error | null) => void): void;
  on(event: string, cb: (msg?: unknown) => void): void;
}
type ClinicToolClass = new (settings: Record<string, unknown>) => ClinicToolInstance;

function fail(code: number, message: string): never {
  process.stderr.write(`c1m clinic wrapper: ${message}\n`);
  process.exit(code);
}

function main(argv: readonly string[]): void {
  const [tool, outDirArg, boundArg, dashes, ...command] = argv;
  if (tool === undefined || !(tool in CLINIC_PACKAGES) || outDirArg === undefined || dashes !== '--' || command.length === 0) {
    fail(2, 'usage: clinic-wrapper.js <doctor|flame|heapprofiler|bubbleprof> <outDir> <analysisTimeoutMs> -- <command…>');
  }
  const bound = Number(boundArg);
  if (!Number.isInteger(bound) || bound <= 0) fail(2, `analysisTimeoutMs must be a positive integer, got ${JSON.stringify(boundArg)}`);
  const outDir = resolve(outDirArg);
  // Node writes trace-event logs (node_trace.N.log, doctor and bubbleprof) and 0x its isolate
  // logs (flame) into the profiled process's working directory, and the tools look for them in
  // theirs: both become the output directory, so nothing lands where c1m was started.
  process.chdir(outDir);
  // stdout is the contender's control channel (JSON lines to c1m); the tools' chatter goes to stderr.
  console.log = console.error;

  // heap-profiler starts the program with stdin ignored, which would cut the contender's
  // control channel (it reads requests from stdin and drains when stdin ends). Every other tool
  // passes stdin on; this makes heap-profiler do the same. It must run before the tool is loaded,
  // as the tool keeps its own reference to spawn.
  const cp = require('node:child_process') as typeof import('node:child_process');
  const spawn = cp.spawn as (file: string, args: readonly string[], opts: import('node:child_process').SpawnOptions) => import('node:child_process').ChildProcess;
  const patched = (file: string, args: readonly string[], opts: import('node:child_process').SpawnOptions = {}): import('node:child_process').ChildProcess => {
    const stdio = opts.stdio;
    if (Array.isArray(stdio) && stdio[0] === 'ignore') opts = { ...opts, stdio: ['inherit', ...stdio.slice(1)] };
    return spawn(file, args, opts);
  };
  cp.spawn = patched as unknown as typeof cp.spawn;

  const Tool = require(CLINIC_PACKAGES[tool as ClinicTool]) as ClinicToolClass;
  const t = new Tool({ dest: outDir, name: CLINIC_NAME, debug: false });
  const say = (what: string) => (msg?: unknown) => process.stderr.write(`clinic ${tool}: ${what}${msg === undefined || msg === '' ? '' : `: ${String(msg)}`}\n`);
  t.on('warning', say('warning'));
  t.on('analysing', say('analysing'));
  t.on('status', say('status'));

  try {
    t.collect(command, (err, dataPath) => {
      if (err) fail(1, `collect failed: ${err.message}`);
      const html = `${dataPath}.html`;
      const timer = setTimeout(() => fail(5, `visualize did not finish within ${bound} ms`), bound);
      t.visualize(dataPath, html, (err2) => {
        clearTimeout(timer);
        if (err2) fail(1, `visualize failed: ${err2.message}`);
        writeFileSync(resolve(outDir, 'clinic.json'), `${JSON.stringify({ tool, data: dataPath, html }, null, 2)}\n`);
        process.exit(0);
      });
    });
  } catch (err) {
    fail(1, `collect failed: ${(err as Error).message}`);
  }
}

main(process.argv.slice(2));
