// `c1m list`: the built-in scenarios with their protocols, contenders and parameter defaults, then
// which I/O models, contenders, drivers and profilers can run on this machine and, for those that cannot,
// why. Every verdict comes from the check a run itself makes: the contender's probe (in a child
// process), the driver's probe, the profiler's availability.

import { contenderAvailable, contenderNames } from '../contenders/index.js';
import { driverAvailable, driverNames } from '../drivers/registry.js';
import { PROFILE_TOOLS } from '../profile/profile-contract.js';
import { toolAvailable } from '../profile/tools.js';
import { listScenarios } from '../runner/catalog.js';
import { ioModelSection, section, tlsSection } from './availability.js';
import { EXIT, type ExitCode } from './exit.js';
import { kebab, parseArgs } from './flags.js';
import type { Io } from './io.js';

/** Which I/O models, contenders, drivers and profilers can run here, each with the reason when one cannot. */
export async function availability(): Promise<string> {
  const names = contenderNames();
  const [contenders, drivers] = await Promise.all([
    Promise.all(names.map(async (n) => [n, await contenderAvailable(n)] as const)),
    Promise.all(driverNames().map(async (n) => [n, await driverAvailable(n)] as const)),
  ]);
  const tools = PROFILE_TOOLS.map((t) => [t, toolAvailable(t)] as const);
  const uws = contenders.find(([n]) => n === 'uws')?.[1];
  return [
    await ioModelSection(uws !== undefined ? { uws } : {}),
    await tlsSection(uws !== undefined ? { uws } : {}),
    section('contenders (can run here):', contenders),
    section('drivers (--driver):', drivers),
    section('profilers (c1m profile --tool):', tools),
  ].join('\n');
}

export async function cmdList(argv: readonly string[], io: Io): Promise<ExitCode> {
  const args = parseArgs(argv, {}, { command: 'c1m list', maxPositionals: 0 });
  if (args.help) {
    io.out(
      'usage: c1m list\n\nThe built-in scenarios (dist/scenarios/): name, description, protocols and parameters with defaults.\n' +
        'Run one with c1m run <name>, or copy its file and run it by path. Then which I/O models (epoll, libuv,\n' +
        'uWebSockets.js, io_uring), contenders, drivers and profilers can run on this machine, and for each\n' +
        'that cannot, why and what to install or change.\n',
    );
    return EXIT.ok;
  }
  const list = await listScenarios();
  if (list.length === 0) {
    io.err('c1m list: no scenarios found in dist/scenarios (build with npx tsc -p .)\n');
    return EXIT.failed;
  }
  for (const { name, scenario, error } of list) {
    if (scenario === null) {
      io.out(`${name}\n  cannot be loaded: ${error ?? ''}\n\n`);
      continue;
    }
    const p = scenario.paramSpecs;
    const d = (k: string): string => {
      const v = p[k]?.default;
      return Array.isArray(v) ? v.join(',') : String(v);
    };
    io.out(`${scenario.name} — ${scenario.description}\n`);
    io.out(`  protocols: ${scenario.protocols.join(', ')} · contenders: ${d('contenders')} · ${scenario.kind}\n`);
    io.out(`  defaults: --connections ${d('connections')} --duration ${d('duration')} --warmup ${d('warmup')} --reps ${d('reps')} --driver ${d('driver')}\n`);
    const own = Object.keys(scenario.params ?? {});
    if (own.length > 0) io.out(`  own: ${own.map((k) => `--${kebab(k)} ${d(k)}`).join(' ')}\n`);
    io.out('\n');
  }
  io.out(await availability());
  return list.some((s) => s.scenario === null) ? EXIT.failed : EXIT.ok;
}
