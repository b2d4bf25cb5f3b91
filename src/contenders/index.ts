// The contender layer: registry, process handles, and the contract. The protocols themselves
// are the wire's (src/wire/protocols.ts).

export * from './contender-contract.js';
export { checkServerTls, DEFAULT_HOST, DEFAULT_LIMITS, DEFAULT_SHUTDOWN_MS, drainBoundMs, resolveLimits } from './contender-config.js';
export { contenderNames, getContender, speaks } from './registry.js';
export {
  agreedTls,
  aggregateStats,
  contenderAvailable,
  ContenderUnavailableError,
  startContender,
  totalCut,
  type ContenderHandle,
  type StartOptions,
  type StopOptions,
  type StopReport,
  type WorkerExit,
  type WorkerInfo,
} from './contender-handle.js';
export { Counters } from './counters.js';
