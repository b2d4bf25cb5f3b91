// The driver layer: process handles, the registry, splitting and merging, and the contract.

export * from './driver-contract.js';
export { DRIVER_DEFAULTS, LOAD_MODES, messageBytesLimit, resolveDriverConfig } from './driver-config.js';
export { CLIENT_BOUND_PCT, isClientBound } from './cpu.js';
export { DRIVER_MODULES, driverNames, loadDriver } from './registry.js';
export { addErrors, emptyErrors, mergeRampResults, mergeRunResults, splitCount, totalErrors } from './merge.js';
export {
  DRIVER_CHILD_PATH,
  startDriver,
  startDrivers,
  type DriverCloseReport,
  type DriverHandle,
  type DriverProgress,
  type StartDriverOptions,
} from './driver-handle.js';
