// Preflight for a whole scenario run: one plan per contender at the scenario's peak, the
// process counts the fd limit forces, and a refusal (with the plan's own explanation and
// fixes) when the run cannot succeed on this machine.

import type { DriverName } from '../drivers/driver-contract.js';
import { DEFAULT_CONNECT_RATE, formatPreflight, loopbackAddress, planRun, type RunPlan } from '../system/preflight.js';
import type { SystemReadings } from '../system/limits.js';

export class PreflightRefusal extends Error {
  override name = 'PreflightRefusal';
  constructor(
    message: string,
    /** formatPreflight() of every plan that failed, with the fixes. */
    readonly text: string,
  ) {
    super(message);
  }
}

export interface ScenarioPlan {
  /** One per contender planned (in the order given). */
  readonly plans: readonly RunPlan[];
  readonly serverWorkers: number;
  readonly driverProcesses: number;
  /** Source addresses the driver binds (empty: let the kernel choose, 127.0.0.1). */
  readonly sourceAddresses: readonly string[];
  readonly listenBacklog: number;
  /** WARN lines of the plans (the run goes ahead; they go to stderr and into the result). */
  readonly warnings: readonly string[];
}

export interface ScenarioPlanOptions {
  readonly contenders: readonly string[];
  readonly protocol: string;
  /** The most connections any ramp asks for. */
  readonly connections: number;
  /** The fastest ramp's rate; 0 (as fast as possible) plans for the default rate. */
  readonly connectRatePerSec: number;
  readonly readings: SystemReadings;
  /** Served and driven over TLS (memory per connection is TLS's), resuming by tickets unless tlsTickets is false. */
  readonly tls?: boolean;
  readonly tlsTickets?: boolean;
  /** Contender workers asked for; 0 or undefined = as the fd limit requires. */
  readonly workers?: number;
  readonly driver: DriverName;
}

/**
 * Plans every contender. Only the native connector binds source addresses, so with another
 * driver the plan counts on one, and a run needing more is refused with that said.
 */
export function planScenario(o: ScenarioPlanOptions): ScenarioPlan {
  const rate = o.connectRatePerSec > 0 ? o.connectRatePerSec : DEFAULT_CONNECT_RATE;
  const plans: RunPlan[] = [];
  const failed: RunPlan[] = [];
  for (const contender of o.contenders) {
    const base = {
      connections: Math.max(1, o.connections),
      contender,
      protocol: o.protocol,
      readings: o.readings,
      connectRatePerSec: rate,
      tls: o.tls === true,
      tlsTickets: o.tlsTickets !== false,
      ...(o.workers !== undefined && o.workers > 0 ? { workers: o.workers } : {}),
      ...(o.driver === 'native' ? {} : { sourceAddresses: 1 }),
    };
    // Each worker listens on its own port, so the port check counts one destination per worker.
    const first = planRun(base);
    const plan = planRun({ ...base, destinationPorts: first.serverWorkers });
    plans.push(plan);
    if (!plan.feasible) failed.push(plan);
  }
  if (failed.length > 0) {
    const driverNote =
      o.driver !== 'native' && failed.some((p) => p.checks.some((c) => c.item === 'ephemeral ports' && c.level === 'fail'))
        ? `\nnote: the ${o.driver} driver cannot bind source addresses; --driver native spreads connections over 127.0.0.x`
        : '';
    const text = failed.map(formatPreflight).join('\n\n') + driverNote;
    const who = failed.map((p) => p.contender).join(', ');
    throw new PreflightRefusal(`preflight: this run cannot succeed here (${who}): ${failed[0]?.reasons.join('; ') ?? ''}`, text);
  }
  const serverWorkers = Math.max(1, ...plans.map((p) => p.serverWorkers));
  const driverProcesses = Math.max(1, ...plans.map((p) => p.driverProcesses));
  // With several native driver processes, each gets addresses of its own (disjoint slices), so
  // no two processes search the same address's port range at once; as many each (a multiple of
  // the processes), since each process carries an equal share of the connections: 5 addresses
  // over 2 processes gave one of them 2 for as many connections as the other's 3.
  const needed = Math.max(1, ...plans.map((p) => p.sourceAddresses));
  const addresses = o.driver === 'native' ? (driverProcesses > 1 ? Math.ceil(needed / driverProcesses) * driverProcesses : needed) : 1;
  const warnings = [
    ...new Set(plans.flatMap((p) =>
        p.checks.filter((c) => c.level === 'warn').map((c) => `${c.item}: ${c.value}; needs ${c.need}${c.fix === null ? '' : ` (fix: ${c.fix.replaceAll('\n', '; ')})`}`),
      )),
  ];
  return {
    plans,
    serverWorkers,
    driverProcesses,
    sourceAddresses: addresses > 1 ? Array.from({ length: addresses }, (_, i) => loopbackAddress(i)) : [],
    listenBacklog: Math.max(...plans.map((p) => p.listenBacklog)),
    warnings,
  };
}
