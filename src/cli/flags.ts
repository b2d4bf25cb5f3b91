// Command-line flags: `--name value`, `--name=value`, bare `--name` for booleans, `--` to end
// flags. Names may be written camelCase or kebab-case (`--message-bytes` = `--messageBytes`).
// Anything unknown or malformed is a UsageError (the CLI exits 2 with its message). Commands that
// take a scenario parse in two passes (scenarioCommand): its own flags are known only once it is
// loaded.

import { didYouMean } from '../checks.js';
import { loadScenario, ScenarioNotFoundError } from '../runner/catalog.js';
import { parseValue, standardParamSpecs, type ParamSpec, type ParamValue, type Scenario } from '../runner/scenario.js';
import { EXIT } from './exit.js';
import type { Io } from './io.js';

export class UsageError extends Error {
  override name = 'UsageError';
}

/** A flag: a parameter spec whose default is optional (absent flags are simply not returned). */
export type FlagSpec = Omit<ParamSpec, 'default'> & { readonly default?: ParamValue };

export interface ParsedArgs {
  values: Record<string, ParamValue>;
  positionals: string[];
  help: boolean;
}

function camel(name: string): string {
  return name.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** A flag's name as the command line writes it: connectRate → connect-rate. */
export function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

export interface ParseOptions {
  /** For messages: "c1m run". */
  readonly command: string;
  readonly maxPositionals?: number;
  /**
   * Unknown flags are kept (as strings, in `unknown`) instead of refused: the first pass of
   * `c1m run`, before the scenario and therefore its own flags are known.
   */
  readonly lenient?: boolean;
  /** The command whose --help lists these flags, for messages; `command` when absent ("c1m run idle-hold"). */
  readonly see?: string;
}

export function parseArgs(argv: readonly string[], flags: Readonly<Record<string, FlagSpec>>, o: ParseOptions): ParsedArgs & { unknown: string[] } {
  const values: Record<string, ParamValue> = {};
  const positionals: string[] = [];
  const unknown: string[] = [];
  let help = false;
  const max = o.maxPositionals ?? Number.POSITIVE_INFINITY;
  const see = `see ${o.see ?? o.command} --help`;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (arg === '--help' || arg === '-h') {
      help = true;
      continue;
    }
    if (!arg.startsWith('-') || arg === '-') {
      positionals.push(arg);
      continue;
    }
    if (!arg.startsWith('--')) throw new UsageError(`${o.command}: unknown option ${arg} (flags are --long; ${see})`);
    const eq = arg.indexOf('=');
    const raw = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
    const name = camel(raw);
    const spec = flags[name];
    if (spec === undefined) {
      if (o.lenient) {
        unknown.push(arg);
        if (eq < 0 && i + 1 < argv.length && !(argv[i + 1] as string).startsWith('--')) unknown.push(argv[++i] as string);
        continue;
      }
      const known = [...Object.keys(flags).map(kebab), 'help'];
      throw new UsageError(`${o.command}: unknown flag --${raw}${didYouMean(kebab(name), known, (f) => `--${f}`)}; ${see}`);
    }
    let text: string;
    if (eq >= 0) text = arg.slice(eq + 1);
    else if (spec.type === 'bool') text = 'true';
    else {
      const next = argv[i + 1];
      if (next === undefined || (next.startsWith('--') && next.length > 2)) throw new UsageError(`${o.command}: --${raw} needs a value`);
      text = next;
      i++;
    }
    try {
      values[name] = parseValue(`--${raw}`, spec as ParamSpec, text);
    } catch (err) {
      throw new UsageError(`${o.command}: ${(err as Error).message}`);
    }
  }
  if (positionals.length > max) {
    throw new UsageError(`${o.command}: unexpected argument ${JSON.stringify(positionals[max])} (${see})`);
  }
  return { values, positionals, help, unknown };
}

/** Help lines for a flag table: `  --name <int>   help (default x)`. */
export function flagHelp(flags: Readonly<Record<string, FlagSpec>>, defaults: Readonly<Record<string, ParamValue>> = {}): string[] {
  const rows = Object.entries(flags).map(([name, f]) => {
    const arg = f.type === 'bool' ? '' : f.choices ? ` <${f.choices.join('|')}>` : f.type === 'list' ? ` <a,b,…>` : ` <${f.type === 'int' ? 'N' : f.type === 'number' ? 'X' : 'value'}>`;
    const d = defaults[name] ?? f.default;
    const def = d === undefined || d === false ? '' : ` (default ${Array.isArray(d) ? d.join(',') : String(d)})`;
    return [`--${kebab(name)}${arg}`, `${f.help}${def}`] as const;
  });
  const width = Math.min(34, Math.max(0, ...rows.map(([l]) => l.length)));
  return rows.map(([l, r]) => (l.length > width ? `  ${l}\n  ${' '.repeat(width)}  ${r}` : `  ${l.padEnd(width)}  ${r}`));
}

/**
 * The start of a command that takes a scenario and that scenario's own flags (`c1m run`,
 * `c1m profile`): a first, lenient pass finds the scenario, the second parses its flags too.
 * Returns the scenario and the parsed flags, or `{ exit }` after printing help or a load error;
 * an unknown scenario or a bad flag is a UsageError.
 */
export async function scenarioCommand(
  argv: readonly string[],
  flags: Readonly<Record<string, FlagSpec>>,
  o: { command: string; usage: (s: Scenario | null) => string },
  io: Io,
): Promise<{ scenario: Scenario; args: ParsedArgs } | { exit: typeof EXIT.ok | typeof EXIT.failed }> {
  const first = parseArgs(argv, { ...flags, ...standardParamSpecs() }, { command: o.command, lenient: true });
  const ref = first.positionals[0];
  if (ref === undefined) {
    if (first.help) {
      io.out(o.usage(null));
      return { exit: EXIT.ok };
    }
    throw new UsageError(`${o.command}: which scenario? (c1m list shows them; see ${o.command} --help)`);
  }
  let scenario: Scenario;
  try {
    scenario = await loadScenario(ref);
  } catch (err) {
    if (err instanceof ScenarioNotFoundError) throw new UsageError(`${o.command}: ${err.message}`);
    io.err(`${o.command}: cannot load scenario ${ref}: ${(err as Error).message}\n`);
    return { exit: EXIT.failed };
  }
  const all: Record<string, FlagSpec> = { ...flags };
  for (const [k, spec] of Object.entries(scenario.paramSpecs)) all[k] = { ...spec };
  // Its own flags are listed by the scenario's help, not the command's.
  const args = parseArgs(argv, all, { command: o.command, maxPositionals: 1, see: `${o.command} ${ref}` });
  if (args.help) {
    io.out(o.usage(scenario));
    return { exit: EXIT.ok };
  }
  return { scenario, args };
}
