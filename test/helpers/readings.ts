// Injected system readings for the preflight, runner and tune tests.

import type { SystemReadings } from '../../src/system/limits.js';

/** The reference box: 2 cores, 24 GiB, nofile 20,000 that cannot be raised, sysctls at defaults. */
export function box(over: Partial<SystemReadings> = {}): SystemReadings {
  return {
    nofileSoft: 20000,
    nofileHard: 20000,
    nrOpen: 1048576,
    fileMax: 2466170,
    fileNr: { allocated: 488, unused: 0, max: 2466170 },
    portRange: { low: 32768, high: 60999 },
    somaxconn: 4096,
    tcpMaxSynBacklog: 2048,
    tcpMem: { low: 287898, pressure: 383867, high: 575796 },
    nfConntrackMax: 262144,
    nfConntrackCount: 0,
    memTotalBytes: 24684084 * 1024,
    memAvailableBytes: 24359396 * 1024,
    cpus: 2,
    cpuModel: 'Intel(R) Xeon(R) Processor',
    kernelRelease: '6.18.44',
    pageSize: 4096,
    isRoot: true,
    capSysResource: false,
    capSysAdmin: false,
    sysctl: {},
    ...over,
  };
}
