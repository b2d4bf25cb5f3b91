// `c1m list`: the built-in scenarios with their protocols, contenders and parameter defaults.

import { listScenarios } from '../runner/catalog.js';
import { EXIT, type ExitCode } from './exit.js';
import { parseArgs } from './flags.js';
import type { Io } from './io.js';

export async function cmdList(argv: readonly string[], io: Io): Promise<ExitCode> {
  const args = parseArgs(argv, {}, { command: 'c1m list', maxPositionals: 0 });
  if (args.help) {
    io.out('usage: c1m list\n\nThe built-in scenarios (dist/scenarios/): name, description, protocols and parameters with defaults.\nRun one with c1m run <name>, or copy its file and run it by path.\n');
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
    if (own.length > 0) io.out(`  own: ${own.map((k) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} ${d(k)}`).join(' ')}\n`);
    io.out('\n');
  }
  return list.some((s) => s.scenario === null) ? EXIT.failed : EXIT.ok;
}
