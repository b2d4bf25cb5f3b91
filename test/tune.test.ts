// Every test here goes through a fake SysctlIO or a directory laid out like /proc/sys:
// nothing may change the real kernel's settings.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { SystemReadings } from '../src/system/limits.js';
import {
  defaultStateFile,
  formatTune,
  procSysctlIO,
  readTuneState,
  tcpMemFor,
  tuneApply,
  tuneRevert,
  tuneShow,
  type SysctlIO,
} from '../src/system/tune.js';

const tmp = mkdtempSync(join(os.tmpdir(), 'c1m-tune-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const stateFile = (): string => join(tmp, `state-${n++}`, 'tune-state.json');

/** The reference box's values, as /proc/sys prints them (tabs between fields). */
const INITIAL: Readonly<Record<string, string>> = {
  'fs.file-max': '2466170',
  'fs.nr_open': '1048576',
  'net.ipv4.ip_local_port_range': '32768\t60999',
  'net.core.somaxconn': '4096',
  'net.ipv4.tcp_max_syn_backlog': '2048',
  'net.core.netdev_max_backlog': '1000',
  'net.ipv4.tcp_mem': '287898\t383867\t575796',
  'net.ipv4.tcp_tw_reuse': '2',
};

class FakeIO implements SysctlIO {
  readonly values: Map<string, string>;
  readonly writes: [string, string][] = [];
  failOn: string | null = null;
  constructor(initial: Readonly<Record<string, string>> = INITIAL) {
    this.values = new Map(Object.entries(initial));
  }
  read(key: string): string | null {
    return this.values.get(key) ?? null;
  }
  write(key: string, value: string): void {
    if (key === this.failOn) throw Object.assign(new Error('permission denied'), { code: 'EACCES' });
    if (!this.values.has(key)) throw Object.assign(new Error('no such file'), { code: 'ENOENT' });
    this.writes.push([key, value]);
    this.values.set(key, value);
  }
  snapshot(): Record<string, string> {
    return Object.fromEntries([...this.values].map(([k, v]) => [k, v.split(/\s+/).join(' ')]));
  }
}

const readings = { pageSize: 4096, memTotalBytes: 24684084 * 1024 } as const;

function boxReadings(sysctl: Record<string, string>): SystemReadings {
  return {
    nofileSoft: 20000,
    nofileHard: 20000,
    nrOpen: 1048576,
    fileMax: 2466170,
    fileNr: null,
    portRange: null,
    somaxconn: null,
    tcpMaxSynBacklog: null,
    tcpMem: null,
    nfConntrackMax: null,
    nfConntrackCount: null,
    memTotalBytes: readings.memTotalBytes,
    memAvailableBytes: null,
    cpus: 2,
    cpuModel: null,
    kernelRelease: '6.18',
    pageSize: 4096,
    isRoot: true,
    capSysResource: false,
    capSysAdmin: true,
    sysctl,
  };
}

const normalized = (o: Readonly<Record<string, string>>): Record<string, string> =>
  Object.fromEntries(Object.entries(o).map(([k, v]) => [k, v.split(/\s+/).join(' ')]));

describe('tuneShow', () => {
  it('lists current against wanted for a million connections', () => {
    const rows = tuneShow(boxReadings(normalized(INITIAL)));
    const byKey = Object.fromEntries(rows.map((r) => [r.key, r]));
    assert.deepEqual(
      rows.map((r) => [r.key, r.current, r.wanted, r.ok]),
      [
        ['fs.file-max', '2466170', '4194304', false],
        ['fs.nr_open', '1048576', '1048576', true],
        ['net.ipv4.ip_local_port_range', '32768 60999', '1024 65535', false],
        ['net.core.somaxconn', '4096', '65535', false],
        ['net.ipv4.tcp_max_syn_backlog', '2048', '65535', false],
        ['net.core.netdev_max_backlog', '1000', '16384', false],
        ['net.ipv4.tcp_mem', '287898 383867 575796', '1500000 2000000 3000000', false],
        ['net.netfilter.nf_conntrack_max', null, null, true],
        ['net.ipv4.tcp_tw_reuse', '2', '2', true],
      ],
    );
    assert.ok(byKey['net.core.somaxconn']?.why.length);
  });

  it('never lowers a value that already suffices', () => {
    const rows = tuneShow(
      boxReadings({
        'fs.file-max': '9223372036854775807',
        'net.core.somaxconn': '200000',
        'net.ipv4.ip_local_port_range': '2000 65535',
        'net.ipv4.tcp_mem': '5000000 100 9000000',
        'net.ipv4.tcp_tw_reuse': '0',
      }),
    );
    const wanted = Object.fromEntries(rows.map((r) => [r.key, r.wanted]));
    assert.equal(wanted['fs.file-max'], '9223372036854775807');
    assert.equal(wanted['net.core.somaxconn'], '200000');
    assert.equal(wanted['net.ipv4.ip_local_port_range'], '1024 65535');
    assert.equal(wanted['net.ipv4.tcp_mem'], '5000000 2000000 9000000');
    assert.equal(wanted['net.ipv4.tcp_tw_reuse'], '1');
  });

  it('scales with the connection target and caps socket memory below physical memory', () => {
    const small = tuneShow(boxReadings(normalized(INITIAL)), { connections: 10_000 });
    assert.equal(small.find((r) => r.key === 'net.ipv4.tcp_mem')?.ok, true);
    assert.deepEqual(tcpMemFor(8_192_000_000, 4096, 4 * 1024 ** 3), { low: 393216, pressure: 524288, high: 786432 });
    assert.deepEqual(tcpMemFor(8_192_000_000, 4096, null), { low: 1500000, pressure: 2000000, high: 3000000 });
    assert.throws(() => tuneShow(boxReadings({}), { connections: 0 }), RangeError);
  });

  it('prints the commands to run by hand', () => {
    const text = formatTune(tuneShow(boxReadings(normalized(INITIAL))));
    assert.match(text, /^change {2}net\.core\.somaxconn +4096 → 65535$/m);
    assert.match(text, /^absent {2}net\.netfilter\.nf_conntrack_max +not present on this kernel$/m);
    assert.match(text, /^ {2}sysctl -w net\.ipv4\.ip_local_port_range="1024 65535"$/m);
    assert.match(text, /^ {2}sysctl -w net\.ipv4\.tcp_mem="1500000 2000000 3000000"$/m);
    assert.match(text, /^6 to change;/m);
  });
});

describe('tuneApply and tuneRevert', () => {
  it('refuses to run without root and changes nothing', () => {
    const io = new FakeIO();
    const file = stateFile();
    assert.throws(() => tuneApply({ io, stateFile: file, isRoot: false, readings }), /must run as root .*nothing was changed/);
    assert.equal(io.writes.length, 0);
    assert.equal(existsSync(file), false);
  });

  it('records old values, writes new ones, and reverts to exactly the old ones', () => {
    const io = new FakeIO();
    const file = stateFile();
    const before = io.snapshot();
    const res = tuneApply({ io, stateFile: file, isRoot: true, readings });
    assert.deepEqual(
      res.changed.map((c) => c.key),
      ['fs.file-max', 'net.ipv4.ip_local_port_range', 'net.core.somaxconn', 'net.ipv4.tcp_max_syn_backlog', 'net.core.netdev_max_backlog', 'net.ipv4.tcp_mem'],
    );
    assert.deepEqual(res.changed[1], { key: 'net.ipv4.ip_local_port_range', from: '32768 60999', to: '1024 65535' });
    assert.equal(io.read('net.core.somaxconn'), '65535');
    assert.deepEqual(readTuneState(file)?.previous, {
      'fs.file-max': '2466170',
      'net.ipv4.ip_local_port_range': '32768 60999',
      'net.core.somaxconn': '4096',
      'net.ipv4.tcp_max_syn_backlog': '2048',
      'net.core.netdev_max_backlog': '1000',
      'net.ipv4.tcp_mem': '287898 383867 575796',
    });

    // A second apply finds nothing to do and keeps the original record.
    const again = tuneApply({ io, stateFile: file, isRoot: true, readings });
    assert.deepEqual(again.changed, []);
    assert.equal(readTuneState(file)?.previous['net.core.somaxconn'], '4096');

    const rev = tuneRevert({ io, stateFile: file, isRoot: true });
    assert.equal(rev.found, true);
    assert.equal(rev.restored.length, 6);
    assert.deepEqual(io.snapshot(), before);
    assert.equal(existsSync(file), false);
    assert.deepEqual(tuneRevert({ io, stateFile: file, isRoot: true }), { found: false, restored: [], stateFile: file });
  });

  it('keeps the first recorded value when applying over a partly tuned system', () => {
    const io = new FakeIO();
    const file = stateFile();
    tuneApply({ io, stateFile: file, isRoot: true, readings });
    // Someone lowers a value again; the next apply raises it but must not record 512 as "previous".
    io.values.set('net.core.somaxconn', '512');
    const res = tuneApply({ io, stateFile: file, isRoot: true, readings });
    assert.deepEqual(res.changed, [{ key: 'net.core.somaxconn', from: '512', to: '65535' }]);
    assert.equal(readTuneState(file)?.previous['net.core.somaxconn'], '4096');
    tuneRevert({ io, stateFile: file, isRoot: true });
    assert.equal(io.read('net.core.somaxconn'), '4096');
  });

  it('puts back what it wrote when a write fails, and says which one', () => {
    const io = new FakeIO();
    io.failOn = 'net.core.somaxconn';
    const file = stateFile();
    const before = io.snapshot();
    assert.throws(
      () => tuneApply({ io, stateFile: file, isRoot: true, readings }),
      (err: Error) => {
        assert.equal(
          err.message,
          'could not write net.core.somaxconn=65535 (EACCES: permission denied); the settings written before it were restored; nothing is changed',
        );
        return true;
      },
    );
    assert.deepEqual(io.snapshot(), before);
    assert.equal(existsSync(file), false);
  });

  it('keeps unrestored values on record when revert cannot write them', () => {
    const io = new FakeIO();
    const file = stateFile();
    tuneApply({ io, stateFile: file, isRoot: true, readings });
    io.failOn = 'net.ipv4.tcp_mem';
    assert.throws(() => tuneRevert({ io, stateFile: file, isRoot: true }), /could not restore net\.ipv4\.tcp_mem="287898 383867 575796"/);
    assert.deepEqual(readTuneState(file)?.previous, { 'net.ipv4.tcp_mem': '287898 383867 575796' });
    io.failOn = null;
    tuneRevert({ io, stateFile: file, isRoot: true });
    assert.equal(io.read('net.ipv4.tcp_mem'), '287898 383867 575796');
  });

  it('rejects a state file it did not write', () => {
    const file = stateFile();
    mkdirSync(join(file, '..'), { recursive: true });
    writeFileSync(file, '{"hello": 1}');
    assert.throws(() => tuneRevert({ io: new FakeIO(), stateFile: file, isRoot: true }), /not a c1m tune state file/);
  });
});

describe('procSysctlIO', () => {
  it('reads and writes files laid out like /proc/sys (here a temporary copy)', () => {
    const root = join(tmp, 'sys');
    mkdirSync(join(root, 'net', 'ipv4'), { recursive: true });
    writeFileSync(join(root, 'net', 'ipv4', 'ip_local_port_range'), '32768\t60999\n');
    const io = procSysctlIO(root);
    assert.equal(io.read('net.ipv4.ip_local_port_range'), '32768 60999');
    assert.equal(io.read('net.ipv4.absent'), null);
    io.write('net.ipv4.ip_local_port_range', '1024 65535');
    assert.equal(readFileSync(join(root, 'net', 'ipv4', 'ip_local_port_range'), 'utf8'), '1024 65535\n');
    assert.throws(() => io.read('../../etc/passwd'), TypeError);
  });

  it('puts the state file under the XDG cache directory', () => {
    assert.equal(defaultStateFile({ HOME: '/home/u' }), '/home/u/.cache/c1m/tune-state.json');
    assert.equal(defaultStateFile({ HOME: '/home/u', XDG_CACHE_HOME: '/var/cache/u' }), '/var/cache/u/c1m/tune-state.json');
  });
});
