// c1m as a library: the epoll engine's TypeScript API (src/engine/index.ts), the scenario
// definition helper, and the limits table.
export * from './engine/index.js';
export { defineScenario } from './runner/scenario.js';
export { LIMITS, checkLimit } from './limits.js';
export type { Limit, LimitName } from './limits.js';
