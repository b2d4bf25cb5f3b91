// Driver name → implementation module. Modules are imported only when a driver process asks
// for one, so a driver whose module or package is missing costs nothing until it is chosen and
// then reports 'unavailable' instead of crashing the process.
//
// A driver module exports `createDriver: DriverFactory` (a default export works too).

import { DriverUnavailableError, type DriverFactory, type DriverName } from './driver-contract.js';

/** Module specifiers, relative to this file (compiled: dist/src/drivers/). */
export const DRIVER_MODULES: Readonly<Record<DriverName, string>> = Object.freeze({
  // The engine's connector (src/drivers/native.ts); unavailable when the addon cannot load.
  native: './native.js',
  autocannon: './autocannon.js',
  wrk: './wrk.js',
  h2load: './h2load.js',
});

export function driverNames(): DriverName[] {
  return Object.keys(DRIVER_MODULES) as DriverName[];
}

function isFactory(v: unknown): v is DriverFactory {
  return typeof v === 'function';
}

/**
 * Imports the driver's module and returns its factory. Throws DriverUnavailableError when the
 * module, or a package it needs, is not installed; anything else (a syntax error, a module that
 * exports no factory) is a bug and is thrown as is.
 */
export async function loadDriver(name: DriverName): Promise<DriverFactory> {
  const specifier = DRIVER_MODULES[name];
  if (specifier === undefined) throw new RangeError(`unknown driver "${String(name)}"; known: ${driverNames().join(', ')}`);
  const url = new URL(specifier, import.meta.url);
  let mod: Record<string, unknown>;
  try {
    mod = (await import(url.href)) as Record<string, unknown>;
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ERR_MODULE_NOT_FOUND') {
      const own = e.message.includes(url.pathname);
      throw new DriverUnavailableError(own ? `the ${name} driver is not built into this install (${url.pathname} is missing)` : `the ${name} driver cannot load: ${e.message}`);
    }
    throw err;
  }
  const factory = mod['createDriver'] ?? mod['default'];
  if (!isFactory(factory)) throw new TypeError(`${url.pathname} exports no createDriver function`);
  return factory;
}
