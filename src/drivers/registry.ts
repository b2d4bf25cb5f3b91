// Driver name → implementation module. Modules are imported only when a driver process asks
// for one, so a driver whose module or package is missing costs nothing until it is chosen and
// then reports 'unavailable' instead of crashing the process.
//
// A driver module exports `createDriver: DriverFactory` (a default export works too).

import { DriverUnavailableError, type DriverFactory, type DriverName, type DriverProbe } from './driver-contract.js';

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
 * Imports the driver's module. Throws DriverUnavailableError when the module, or a package it
 * needs, is not installed; anything else (a syntax error) is a bug and is thrown as is.
 */
async function importDriver(name: DriverName): Promise<{ url: URL; mod: Record<string, unknown> }> {
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
  return { url, mod };
}

/**
 * Imports the driver's module and returns its factory. Throws DriverUnavailableError when the
 * module, or a package it needs, is not installed; a module that exports no factory is a bug.
 */
export async function loadDriver(name: DriverName): Promise<DriverFactory> {
  const { url, mod } = await importDriver(name);
  const factory = mod['createDriver'] ?? mod['default'];
  if (!isFactory(factory)) throw new TypeError(`${url.pathname} exports no createDriver function`);
  return factory;
}

/**
 * Whether driver name can run on this machine (`c1m list`): true, or the reason it cannot, the
 * sentence a run of it would be skipped with. Whether it speaks a protocol or a load mode is a
 * matter of the run, not of the machine, and is not asked here.
 */
export async function driverAvailable(name: DriverName): Promise<true | string> {
  let mod: Record<string, unknown>;
  try {
    ({ mod } = await importDriver(name));
  } catch (err) {
    if (err instanceof DriverUnavailableError) return err.message;
    throw err;
  }
  const probe = mod['probe'];
  return typeof probe === 'function' ? (probe as DriverProbe)() : true;
}
