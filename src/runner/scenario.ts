// The scenario format: a scenario is plain data (name, protocols, contenders, parameters, the
// driver's load) plus at most a small function that turns the effective parameters into
// phases. A scenario module default-exports defineScenario({...}); the runner does the rest.

import { checkNumber, errorMessage } from '../checks.js';
import { checkLimit, defaultOf, paramRange, type LimitName } from '../limits.js';
import type { Limits } from '../contenders/contender-contract.js';
import { PROTOCOLS, type Protocol } from '../wire/protocols.js';
import { LOAD_MODES } from '../drivers/driver-config.js';
import { DRIVERS, type DriverConfig, type DriverName } from '../drivers/driver-contract.js';

export type ParamType = 'int' | 'number' | 'string' | 'bool' | 'list';
export type ParamValue = number | string | boolean | readonly string[] | readonly number[];

export interface ParamSpec {
  readonly type: ParamType;
  readonly default: ParamValue;
  /** Bounds of an int or number, and of every item of an int or number list. */
  readonly min?: number;
  readonly max?: number;
  /** Allowed values of a string, or of every item of a string list. */
  readonly choices?: readonly string[];
  /** Items of a list: comma-separated on the command line. Default 'string'. */
  readonly items?: 'int' | 'number' | 'string';
  /** One line for --help and `c1m list`. */
  readonly help: string;
}

/** The parameters every scenario has; each is also a `c1m run` flag. */
export interface StandardParams {
  readonly protocol: Protocol;
  readonly contenders: readonly string[];
  /** Connections at the largest measured level (per side). */
  readonly connections: number;
  /** Seconds per measured phase. */
  readonly duration: number;
  /** Seconds of load before each measured window (not counted). */
  readonly warmup: number;
  /** Contender worker processes; 0 = as many as the fd limit requires. */
  readonly workers: number;
  readonly driver: DriverName;
  readonly reps: number;
  /** Contender on CPU 0, driver on CPU 1 (taskset). */
  readonly pin: boolean;
  /** Serve and drive over TLS with a certificate made for the run (https-hello, wss, tls-echo). */
  readonly tls: boolean;
  /** The certificate's key: ECDSA P-256 or RSA-2048. */
  readonly tlsKey: 'ec' | 'rsa';
  /** Session resumption by tickets: the server issues them and the drivers offer them back. */
  readonly tlsTickets: boolean;
  /** Seconds a connection may take to finish its TLS handshake after accept. */
  readonly tlsHandshakeTimeout: number;
}

/** Effective parameters: the standard ones plus whatever the scenario declares. */
export type Params = StandardParams & Readonly<Record<string, ParamValue>>;

export type ParamTable = Readonly<Record<string, ParamSpec>>;

/** The value type a spec declares: int/number → number, bool → boolean, list → string[] or number[]. */
export type ValueOf<S extends ParamSpec> = ParamType extends S['type']
  ? ParamValue
  : S['type'] extends 'int' | 'number'
  ? number
  : S['type'] extends 'bool'
    ? boolean
    : S['type'] extends 'string'
      ? string
      : S['items'] extends 'int' | 'number'
        ? readonly number[]
        : readonly string[];

/** Parameters as a scenario's own functions see them: the standard ones typed, its own typed from their specs. */
export type ParamsOf<P extends ParamTable> = StandardParams & { readonly [K in keyof P]: ValueOf<P[K]> };

/**
 * What the driver does on each connection (DriverConfig without the parts the runner fills in).
 * A group other than the main one may name its own driver (e.g. the native connector for open
 * loops beside an HTTP tool's closed loops); the main group's is always the run's --driver.
 */
export type LoadSpec = Omit<DriverConfig, 'driver' | 'protocol' | 'targets' | 'sourceAddresses' | 'tls'> & {
  driver?: DriverName;
  /** Over TLS (--tls): whether this load offers sessions back; default --tls-tickets. Ignored without --tls. */
  tlsResume?: boolean;
};

/** The driver group of the scenario's `load`; other groups are named in `groups`. */
export const MAIN_GROUP = 'main';

/** Limits the contender applies (src/contenders/README.md); the runner sets the listen backlog from preflight. */
export type ScenarioLimits = Partial<Omit<Limits, 'backlog'>>;

/**
 * The phases of one run, after the contender has started and answered the primer (which the
 * runner always does first: a contender that answers wrongly is never measured).
 * - ramp: grow (or shrink) to `connections`, at most `ratePerSec` new connections/s in total.
 * - warmup: apply the load for `durationMs`; nothing recorded but the timeline.
 * - measure: one measured step (a `steps[]` entry) at the current connection count. With `run`
 *   the driver applies the load (throughput, latency, CPU per op); without it the connections
 *   stay idle for `settleMs`, then for `holdMs` over which CPU is measured (memory, heartbeats).
 *   Memory, V8 heap and kernel figures are read at the end of every measure.
 * - reap: the `group`'s load (normally `stall`: its peers go silent) runs for `timeoutMs`
 *   (default: from the contender's effective heartbeat or idle timeout) while the server's
 *   connection count is polled; the step records how soon it had closed as many connections as
 *   the group held. A reap step, like a measure with `fit: false`, is left out of the slopes.
 * - hold: keep the connections for `durationMs` (timeline only).
 * - cooldown: close every connection (of every group), then wait `durationMs` (timeline only).
 *
 * Driver groups: a scenario with `groups` has several sets of connections, each driven by its
 * own driver process(es) with its own load (well-behaved clients and stalled ones, or one set
 * per open-loop rate). `group` (ramp) and `groups` (warmup, measure.run) name the sets a phase
 * acts on, the main group (the scenario's `load`) when absent. Groups named together apply
 * their loads at once; the step's throughput and latency are the first group's, and every
 * group's own figures go in the step's `groups`.
 */
export type Phase =
  | { readonly kind: 'ramp'; readonly connections: number; readonly ratePerSec?: number; readonly timeoutMs?: number; readonly group?: string }
  | { readonly kind: 'warmup'; readonly durationMs: number; readonly groups?: readonly string[] }
  | {
      readonly kind: 'measure';
      readonly label?: string;
      readonly run?: { readonly durationMs: number; readonly warmupMs?: number; readonly groups?: readonly string[] };
      readonly settleMs?: number;
      readonly holdMs?: number;
      /** false: leave this step out of the per-connection memory slopes (its memory is about something else). Default true. */
      readonly fit?: boolean;
    }
  | { readonly kind: 'reap'; readonly group: string; readonly label?: string; readonly timeoutMs?: number }
  | { readonly kind: 'hold'; readonly durationMs: number }
  | { readonly kind: 'cooldown'; readonly durationMs: number };

/**
 * throughput: load phases whose figures vary run to run, repeated 3 times by default.
 * memory: ramps and idle holds, measured once by default (the slope needs levels, not reps).
 */
export type ScenarioKind = 'throughput' | 'memory';

export interface ScenarioSpec<P extends ParamTable = ParamTable> {
  readonly name: string;
  /** One line for `c1m list`. */
  readonly description: string;
  /** Protocols the scenario can run; the first is the default of --protocol. */
  readonly protocols: readonly Protocol[];
  /** Default contender list; 'all' = every registered contender (those that cannot speak the protocol are recorded as skipped). */
  readonly contenders: readonly string[] | 'all';
  readonly kind: ScenarioKind;
  /** Default driver; 'native' when not given. */
  readonly driver?: DriverName;
  /** Defaults of the standard parameters for this scenario. */
  readonly defaults?: Partial<Pick<StandardParams, 'connections' | 'duration' | 'warmup' | 'reps' | 'workers' | 'tls'>>;
  /** The scenario's own parameters, each a `--<name>` flag of `c1m run`. */
  readonly params?: P;
  /** The driver's load; a function of the parameters or plain data. Default: closed loop, depth 1. */
  readonly load?: LoadSpec | ((p: ParamsOf<P>) => LoadSpec);
  /** More driver groups by name, each with its own load and processes (see Phase). */
  readonly groups?: Readonly<Record<string, LoadSpec>> | ((p: ParamsOf<P>) => Readonly<Record<string, LoadSpec>>);
  /** Limits for the contender (heartbeat, idle timeout, queue bound, message size). */
  readonly limits?: ScenarioLimits | ((p: ParamsOf<P>) => ScenarioLimits);
  /** Short --protocol values standing for a protocol (e.g. { tcp: 'tcp-echo' }). */
  readonly protocolAliases?: Readonly<Record<string, Protocol>>;
  /** Contenders when --contenders is not given, per protocol (otherwise `contenders`). */
  readonly contendersFor?: Readonly<Partial<Record<Protocol, readonly string[]>>>;
  readonly phases: readonly Phase[] | ((p: ParamsOf<P>) => readonly Phase[]);
  /** Timeline sampling interval; default 250 ms. */
  readonly sampleIntervalMs?: number;
}

/** A checked scenario: the spec plus the full parameter table (standard and own). */
export interface Scenario extends ScenarioSpec {
  readonly paramSpecs: Readonly<Record<string, ParamSpec>>;
  /** Where it was loaded from (set by the loader). */
  readonly file?: string;
}

const NAME = /^[a-z][a-z0-9-]*$/;
const STANDARD = ['protocol', 'contenders', 'connections', 'duration', 'warmup', 'workers', 'driver', 'reps', 'pin', 'tls', 'tlsKey', 'tlsTickets', 'tlsHandshakeTimeout'] as const;
/** Flags of `c1m run` that are not parameters, so a scenario cannot declare them. */
export const RESERVED_FLAGS: readonly string[] = ['out', 'quick', 'json', 'help', 'html'];

function standardSpecs(s: ScenarioSpec): Record<string, ParamSpec> {
  const d = s.defaults ?? {};
  const aliases = Object.entries(s.protocolAliases ?? {});
  const aliasHelp = aliases.length > 0 ? ` (${aliases.map(([a, p]) => `${a} = ${p}`).join(', ')})` : '';
  return {
    protocol: {
      type: 'string',
      default: s.protocols[0] ?? 'http-hello',
      choices: [...s.protocols, ...aliases.map(([a]) => a)],
      help: `protocol the contenders speak${aliasHelp}`,
    },
    contenders: {
      type: 'list',
      default: s.contenders === 'all' ? ['all'] : s.contenders,
      help: `contenders to run, in this order ("all" = every registered contender)${
        s.contendersFor === undefined
          ? ''
          : `; by default per protocol: ${Object.entries(s.contendersFor)
              .map(([p, list]) => `${p}: ${(list ?? []).join(',')}`)
              .join('; ')}`
      }`,
    },
    connections: { ...paramRange('connections'), default: d.connections ?? defaultOf('connections'), help: 'connections at the largest level' },
    duration: { ...paramRange('durationS'), default: d.duration ?? defaultOf('durationS'), help: 'seconds per measured phase' },
    warmup: { ...paramRange('warmupS'), default: d.warmup ?? defaultOf('warmupS'), help: 'seconds of load before each measured window' },
    // 0 is no process count but "as many as the fd limit needs", so the scenario flag starts at 0.
    workers: { ...paramRange('workers'), min: 0, default: d.workers ?? 0, help: 'contender processes (0 = as many as the fd limit needs)' },
    driver: { type: 'string', default: s.driver ?? 'native', choices: DRIVERS, help: 'load generator' },
    reps: { ...paramRange('reps'), default: d.reps ?? (s.kind === 'throughput' ? defaultOf('reps') : 1), help: 'repetitions of every contender (interleaved)' },
    pin: { type: 'bool', default: false, help: 'contender on CPU 0, driver on CPU 1 (taskset)' },
    tls: { type: 'bool', default: d.tls ?? false, help: 'over TLS with a certificate made for the run: https-hello, wss-echo, wss-broadcast, tls-echo (contenders without TLS are skipped with the reason)' },
    tlsKey: { type: 'string', default: 'ec', choices: ['ec', 'rsa'], help: "--tls: the certificate's key, ECDSA P-256 (ec) or RSA-2048 (rsa)" },
    tlsTickets: { type: 'bool', default: true, help: '--tls: session resumption by tickets (servers issue them, drivers offer them back); false: every handshake is full' },
    tlsHandshakeTimeout: { type: 'number', default: 10, min: 0.1, max: 600, help: '--tls: seconds a connection may take to finish its handshake after accept (then closed and counted)' },
  };
}

/** The standard parameters of a scenario that sets no defaults (e.g. to parse flags before a scenario is loaded). */
export function standardParamSpecs(): Record<string, ParamSpec> {
  const specs = standardSpecs({ name: 'any', description: 'any', protocols: PROTOCOLS, contenders: 'all', kind: 'throughput', phases: [] });
  // A scenario may give its protocols short names (protocolAliases): until it is loaded, any word passes.
  specs['protocol'] = { type: 'string', default: PROTOCOLS[0], help: 'protocol the contenders speak' };
  return specs;
}

function fail(scenario: string, message: string): never {
  throw new TypeError(`scenario ${JSON.stringify(scenario)}: ${message}`);
}

function checkSpec(where: string, name: string, p: ParamSpec): void {
  if (typeof p !== 'object' || p === null) fail(where, `param ${name} must be an object`);
  if (!['int', 'number', 'string', 'bool', 'list'].includes(p.type)) fail(where, `param ${name}: unknown type ${JSON.stringify(p.type)}`);
  if (typeof p.help !== 'string' || p.help === '') fail(where, `param ${name} needs a help line`);
  try {
    checkValue(name, p, p.default);
  } catch (err) {
    fail(where, `default of ${(err as Error).message}`);
  }
}

/**
 * Checks a scenario definition and fills in the standard parameters. Throws TypeError with what
 * is wrong. `const P` keeps the literal param specs, so load() and phases() see typed values.
 */
export function defineScenario<const P extends ParamTable = ParamTable>(input: ScenarioSpec<P>): Scenario {
  // The runner calls load/phases with the checked values, which have exactly the types P declares.
  const spec = input as unknown as ScenarioSpec;
  if (typeof spec !== 'object' || spec === null) throw new TypeError('defineScenario needs an object');
  const name = spec.name;
  if (typeof name !== 'string' || !NAME.test(name)) throw new TypeError(`scenario name must be lower-case words joined by "-", got ${JSON.stringify(name)}`);
  if (typeof spec.description !== 'string' || spec.description === '') fail(name, 'needs a one-line description');
  if (!Array.isArray(spec.protocols) || spec.protocols.length === 0) fail(name, 'needs at least one protocol');
  for (const p of spec.protocols) if (!(PROTOCOLS as readonly string[]).includes(p)) fail(name, `unknown protocol ${JSON.stringify(p)}; known: ${PROTOCOLS.join(', ')}`);
  if (spec.contenders !== 'all' && (!Array.isArray(spec.contenders) || spec.contenders.length === 0)) fail(name, 'contenders must be "all" or a non-empty list');
  if (spec.kind !== 'throughput' && spec.kind !== 'memory') fail(name, 'kind must be "throughput" or "memory"');
  if (spec.driver !== undefined && !(DRIVERS as readonly string[]).includes(spec.driver)) fail(name, `unknown driver ${JSON.stringify(spec.driver)}`);
  if (typeof spec.phases !== 'function' && !Array.isArray(spec.phases)) fail(name, 'phases must be a list or a function returning one');
  if (spec.sampleIntervalMs !== undefined && !(Number.isFinite(spec.sampleIntervalMs) && spec.sampleIntervalMs >= 10)) fail(name, 'sampleIntervalMs must be ≥ 10');
  for (const [alias, p] of Object.entries(spec.protocolAliases ?? {})) {
    if (!spec.protocols.includes(p)) fail(name, `protocol alias ${JSON.stringify(alias)} stands for ${JSON.stringify(p)}, which is not one of its protocols`);
    if ((PROTOCOLS as readonly string[]).includes(alias)) fail(name, `protocol alias ${JSON.stringify(alias)} is itself a protocol`);
  }
  for (const [p, list] of Object.entries(spec.contendersFor ?? {})) {
    if (!spec.protocols.includes(p as Protocol)) fail(name, `contendersFor names ${JSON.stringify(p)}, which is not one of its protocols`);
    if (!Array.isArray(list) || list.length === 0) fail(name, `contendersFor.${p} must be a non-empty list`);
  }
  if (spec.groups !== undefined && typeof spec.groups !== 'function' && (typeof spec.groups !== 'object' || spec.groups === null)) fail(name, 'groups must be an object or a function returning one');
  if (spec.limits !== undefined && typeof spec.limits !== 'function' && (typeof spec.limits !== 'object' || spec.limits === null)) fail(name, 'limits must be an object or a function returning one');
  const paramSpecs: Record<string, ParamSpec> = standardSpecs(spec);
  for (const [key, p] of Object.entries(paramSpecs)) checkSpec(name, key, p);
  for (const [key, p] of Object.entries(spec.params ?? {})) {
    if (!NAME.test(key) && !/^[a-z][a-zA-Z0-9]*$/.test(key)) fail(name, `param name ${JSON.stringify(key)} must be a flag-friendly word`);
    if ((STANDARD as readonly string[]).includes(key) || RESERVED_FLAGS.includes(key)) fail(name, `param ${key} is a standard flag; set its default in "defaults" instead`);
    checkSpec(name, key, p);
    paramSpecs[key] = p;
  }
  return Object.freeze({ ...spec, paramSpecs: Object.freeze(paramSpecs) });
}

// ---- parameter values ------------------------------------------------------------------------

function checkParamNumber(name: string, p: ParamSpec, v: unknown, integer: boolean): number {
  return checkNumber(name, v, { min: p.min, max: p.max, integer });
}

function checkString(name: string, p: ParamSpec, v: unknown): string {
  if (typeof v !== 'string' || v === '') throw new RangeError(`${name} must be a non-empty string, got ${JSON.stringify(v)}`);
  if (p.choices !== undefined && !p.choices.includes(v)) throw new RangeError(`${name} must be one of ${p.choices.join(', ')}; got ${JSON.stringify(v)}`);
  return v;
}

/** Checks a typed value against its spec (TypeError or RangeError naming the parameter when it does not fit). */
export function checkValue(name: string, p: ParamSpec, v: unknown): ParamValue {
  switch (p.type) {
    case 'int':
      return checkParamNumber(name, p, v, true);
    case 'number':
      return checkParamNumber(name, p, v, false);
    case 'string':
      return checkString(name, p, v);
    case 'bool':
      if (typeof v !== 'boolean') throw new RangeError(`${name} must be true or false, got ${JSON.stringify(v)}`);
      return v;
    case 'list': {
      if (!Array.isArray(v)) throw new RangeError(`${name} must be a list, got ${JSON.stringify(v)}`);
      const items = p.items ?? 'string';
      if (items === 'string') return v.map((x) => checkString(name, p, x));
      return v.map((x) => checkParamNumber(name, p, x, items === 'int'));
    }
  }
}

/** Parses a command-line string for a parameter ("1,2,3" for lists; true/false/yes/no/1/0 for bools). */
export function parseValue(name: string, p: ParamSpec, text: string): ParamValue {
  const number = (s: string): number => {
    const t = s.trim();
    // Number('') is 0 and Number('0x10') is 16; only plain decimals (with an optional exponent) are numbers here.
    if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(t)) throw new RangeError(`${name} must be ${p.type === 'int' || p.items === 'int' ? 'an integer' : 'a number'}, got ${JSON.stringify(s)}`);
    return Number(t);
  };
  switch (p.type) {
    case 'int':
    case 'number':
      return checkValue(name, p, number(text));
    case 'string':
      return checkValue(name, p, text);
    case 'bool': {
      const t = text.toLowerCase();
      if (['true', 'yes', '1', 'on'].includes(t)) return true;
      if (['false', 'no', '0', 'off'].includes(t)) return false;
      throw new RangeError(`${name} must be true or false, got ${JSON.stringify(text)}`);
    }
    case 'list': {
      const parts = text.split(',').map((s) => s.trim());
      if (parts.some((s) => s === '')) throw new RangeError(`${name} must be a comma-separated list without empty items, got ${JSON.stringify(text)}`);
      const items = p.items ?? 'string';
      return checkValue(name, p, items === 'string' ? parts : parts.map(number));
    }
  }
}

/**
 * Fills defaults into the given values and checks every one; unknown names are refused. A
 * protocol alias becomes its protocol, and without --contenders the protocol's own default
 * list (contendersFor) applies.
 */
export function resolveParams(scenario: Scenario, given: Readonly<Record<string, ParamValue>> = {}): Params {
  const out: Record<string, ParamValue> = {};
  for (const key of Object.keys(given)) {
    if (!(key in scenario.paramSpecs)) {
      throw new RangeError(`scenario ${scenario.name} has no parameter "${key}"; it has: ${Object.keys(scenario.paramSpecs).join(', ')}`);
    }
  }
  for (const [key, spec] of Object.entries(scenario.paramSpecs)) {
    const v = given[key];
    out[key] = v === undefined ? spec.default : checkValue(key, spec, v);
  }
  const protocol = out['protocol'] as string;
  const alias = scenario.protocolAliases?.[protocol];
  if (alias !== undefined) out['protocol'] = alias;
  const byProtocol = scenario.contendersFor?.[out['protocol'] as Protocol];
  if (given['contenders'] === undefined && byProtocol !== undefined) out['contenders'] = [...byProtocol];
  return out as Params;
}

/** The scenario's phases for these parameters, checked (group names against groupsOf). */
export function phasesOf(scenario: Scenario, p: Params): readonly Phase[] {
  const phases = typeof scenario.phases === 'function' ? scenario.phases(p) : scenario.phases;
  if (!Array.isArray(phases) || phases.length === 0) fail(scenario.name, 'phases must be a non-empty list');
  const known = new Set([MAIN_GROUP, ...Object.keys(groupsOf(scenario, p))]);
  const nonNeg = (v: unknown): boolean => typeof v === 'number' && Number.isFinite(v) && v >= 0;
  // What the driver will be sent is checked here, against the same limits, before any process starts.
  const within = (where: string, what: string, limit: LimitName, v: unknown): void => {
    try {
      checkLimit(limit, v, what);
    } catch (err) {
      fail(scenario.name, `${where}: ${errorMessage(err)}`);
    }
  };
  const checkGroups = (where: string, names: readonly string[] | undefined): void => {
    if (names === undefined) return;
    if (!Array.isArray(names) || names.length === 0) fail(scenario.name, `${where}: groups must be a non-empty list`);
    for (const g of names) if (!known.has(g)) fail(scenario.name, `${where}: unknown driver group ${JSON.stringify(g)}; known: ${[...known].join(', ')}`);
  };
  phases.forEach((ph: Phase, i) => {
    const where = `phase ${i + 1} (${ph?.kind})`;
    switch (ph?.kind) {
      case 'ramp':
        within(where, 'connections', 'rampTarget', ph.connections);
        if (ph.ratePerSec !== undefined && !nonNeg(ph.ratePerSec)) fail(scenario.name, `${where}: ratePerSec must be ≥ 0`);
        if (ph.timeoutMs !== undefined) within(where, 'timeoutMs', 'phaseMs', ph.timeoutMs);
        if (ph.group !== undefined) checkGroups(where, [ph.group]);
        return;
      case 'warmup':
        if (!nonNeg(ph.durationMs)) fail(scenario.name, `${where}: durationMs must be ≥ 0`);
        checkGroups(where, ph.groups);
        return;
      case 'hold':
      case 'cooldown':
        if (!nonNeg(ph.durationMs)) fail(scenario.name, `${where}: durationMs must be ≥ 0`);
        return;
      case 'measure':
        if (ph.run !== undefined && !(nonNeg(ph.run.durationMs) && ph.run.durationMs > 0 && (ph.run.warmupMs === undefined || nonNeg(ph.run.warmupMs)))) {
          fail(scenario.name, `${where}: run needs durationMs > 0 and warmupMs ≥ 0`);
        }
        if (ph.settleMs !== undefined && !nonNeg(ph.settleMs)) fail(scenario.name, `${where}: settleMs must be ≥ 0`);
        if (ph.holdMs !== undefined && !nonNeg(ph.holdMs)) fail(scenario.name, `${where}: holdMs must be ≥ 0`);
        checkGroups(where, ph.run?.groups);
        if (ph.fit !== undefined && typeof ph.fit !== 'boolean') fail(scenario.name, `${where}: fit must be true or false`);
        return;
      case 'reap':
        checkGroups(where, [ph.group]);
        if (ph.timeoutMs !== undefined && !(nonNeg(ph.timeoutMs) && ph.timeoutMs > 0)) fail(scenario.name, `${where}: timeoutMs must be > 0`);
        return;
      default:
        fail(scenario.name, `${where}: kind must be ramp, warmup, measure, reap, hold or cooldown`);
    }
  });
  if (!phases.some((ph) => ph.kind === 'measure' || ph.kind === 'reap')) fail(scenario.name, 'needs at least one measure phase');
  return phases;
}

function checkLoad(scenario: Scenario, what: string, load: unknown): LoadSpec {
  if (typeof load !== 'object' || load === null || !LOAD_MODES.includes((load as LoadSpec).mode)) fail(scenario.name, `${what}.mode must be ${LOAD_MODES.join(', ')}`);
  const driver = (load as LoadSpec).driver;
  if (driver !== undefined) {
    if (what === 'load') fail(scenario.name, 'load.driver: the main group runs the --driver of the run (set the scenario\'s default driver instead)');
    if (!(DRIVERS as readonly string[]).includes(driver)) fail(scenario.name, `${what}.driver must be one of ${DRIVERS.join(', ')}, got ${JSON.stringify(driver)}`);
  }
  return load as LoadSpec;
}

/** The driver's load for these parameters (closed loop, depth 1 by default). */
export function loadOf(scenario: Scenario, p: Params): LoadSpec {
  const load = typeof scenario.load === 'function' ? scenario.load(p) : (scenario.load ?? { mode: 'closed' });
  return checkLoad(scenario, 'load', load);
}

/** The scenario's other driver groups for these parameters (none by default). */
export function groupsOf(scenario: Scenario, p: Params): Record<string, LoadSpec> {
  const groups = typeof scenario.groups === 'function' ? scenario.groups(p) : (scenario.groups ?? {});
  if (typeof groups !== 'object' || groups === null) fail(scenario.name, 'groups must be an object');
  const out: Record<string, LoadSpec> = {};
  for (const [name, load] of Object.entries(groups)) {
    if (!NAME.test(name) || name === MAIN_GROUP) fail(scenario.name, `driver group name ${JSON.stringify(name)} must be lower-case words joined by "-", and not "${MAIN_GROUP}"`);
    out[name] = checkLoad(scenario, `groups.${name}`, load);
  }
  return out;
}

/** The contender limits the scenario asks for (none by default: the contenders' defaults). */
export function limitsOf(scenario: Scenario, p: Params): ScenarioLimits {
  const limits = typeof scenario.limits === 'function' ? scenario.limits(p) : (scenario.limits ?? {});
  if (typeof limits !== 'object' || limits === null) fail(scenario.name, 'limits must be an object');
  return limits;
}

/** The most connections each driver group ever holds, walking the ramps in order. */
export function groupPeaks(phases: readonly Phase[]): Map<string, number> {
  const peaks = new Map<string, number>([[MAIN_GROUP, 0]]);
  for (const ph of phases) {
    if (ph.kind !== 'ramp') continue;
    const g = ph.group ?? MAIN_GROUP;
    peaks.set(g, Math.max(peaks.get(g) ?? 0, ph.connections));
  }
  return peaks;
}

/** The most connections all groups hold at once, walking the ramps in order (what preflight has to plan for). */
export function peakConnections(phases: readonly Phase[]): number {
  const now = new Map<string, number>();
  let peak = 0;
  for (const ph of phases) {
    if (ph.kind === 'ramp') now.set(ph.group ?? MAIN_GROUP, ph.connections);
    else if (ph.kind === 'cooldown') now.clear();
    else continue;
    peak = Math.max(peak, [...now.values()].reduce((a, b) => a + b, 0));
  }
  return peak;
}

// ---- helpers for writing phases ----------------------------------------------------------------

/** `levels` connection counts evenly spaced up to `top` (e.g. 4 levels of 1000: 250, 500, 750, 1000). */
export function levelsUpTo(top: number, levels: number): number[] {
  const out: number[] = [];
  for (let i = 1; i <= levels; i++) out.push(Math.max(1, Math.round((top * i) / levels)));
  return [...new Set(out)];
}

/** For each level: ramp to it, then a measured load run (throughput scenarios). */
export function throughputPhases(levels: readonly number[], run: { durationMs: number; warmupMs?: number }, ramp: { ratePerSec?: number; timeoutMs?: number } = {}): Phase[] {
  return levels.flatMap((connections): Phase[] => [
    { kind: 'ramp', connections, ...ramp },
    { kind: 'measure', label: `${connections} connections`, run },
  ]);
}

/** For each level: ramp to it, let it settle, measure memory (memory scenarios; the slope needs ≥ 2 levels). */
export function memoryPhases(levels: readonly number[], settle: { settleMs?: number; holdMs?: number } = {}, ramp: { ratePerSec?: number; timeoutMs?: number } = {}): Phase[] {
  return levels.flatMap((connections): Phase[] => [
    { kind: 'ramp', connections, ...ramp },
    { kind: 'measure', label: `${connections} connections`, ...settle },
  ]);
}
