import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  normalizeSysctl,
  parseCapEff,
  parseCpuModel,
  parseProcLimits,
  readingsEnv,
  readSystem,
  sysctlPath,
  type SystemReadings,
} from '../src/system/limits.js';
import { fmtBytes, fmtInt, nextPow2 } from '../src/system/plain-format.js';
import { formatPreflight, loopbackAddress, nofileFix, planRun, TLS_DRIVER_PER_CONN_BYTES, TLS_PER_CONN_BYTES, type PreflightCheck, type RunPlan } from '../src/system/preflight.js';
import { ioModels, ioModelSection } from '../src/cli/availability.js';
import { box } from './helpers/readings.js';

const GiB = 1024 ** 3;

function item(plan: RunPlan, name: string): PreflightCheck {
  const c = plan.checks.find((x) => x.item === name);
  assert.ok(c, `no check named ${name}`);
  return c;
}

describe('limits parsers', () => {
  it('reads soft and hard limits from /proc/<pid>/limits', () => {
    const text = [
      'Limit                     Soft Limit           Hard Limit           Units     ',
      'Max cpu time              unlimited            unlimited            seconds   ',
      'Max open files            20000                20000                files     ',
      'Max realtime priority     0                    0                    ',
    ].join('\n');
    const m = parseProcLimits(text);
    assert.deepEqual(m.get('Max open files'), { soft: 20000, hard: 20000 });
    assert.deepEqual(m.get('Max cpu time'), { soft: Infinity, hard: Infinity });
    assert.deepEqual(m.get('Max realtime priority'), { soft: 0, hard: 0 });
  });

  it('reads capabilities, cpu model and sysctl paths', () => {
    assert.equal(parseCapEff('Name:\tx\nCapEff:\t000001fffeffffff\n'), 0x1fffeffffffn);
    assert.equal(parseCapEff('Name:\tx\n'), null);
    assert.equal(parseCpuModel('processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Processor\n'), 'Intel(R) Xeon(R) Processor');
    assert.equal(sysctlPath('net.ipv4.ip_local_port_range'), '/proc/sys/net/ipv4/ip_local_port_range');
    assert.throws(() => sysctlPath('../etc/passwd'), TypeError);
    assert.equal(normalizeSysctl('32768\t60999\n'), '32768 60999');
  });

  it('builds readings from the files it is given', () => {
    const files: Record<string, string> = {
      '/proc/self/limits': 'Max open files            1024                 524288               files     \n',
      '/proc/self/status': 'Name:\tnode\nCapEff:\t000001fffeffffff\n',
      '/proc/meminfo': 'MemTotal:       24684084 kB\nMemFree:        24281916 kB\nMemAvailable:   24359396 kB\n',
      '/proc/cpuinfo': 'model name\t: Test CPU\n',
      '/proc/sys/fs/nr_open': '1048576\n',
      '/proc/sys/fs/file-max': '2466170\n',
      '/proc/sys/fs/file-nr': '488\t0\t2466170\n',
      '/proc/sys/net/ipv4/ip_local_port_range': '32768\t60999\n',
      '/proc/sys/net/core/somaxconn': '4096\n',
      '/proc/sys/net/ipv4/tcp_max_syn_backlog': '2048\n',
      '/proc/sys/net/ipv4/tcp_mem': '287898\t383867\t575796\n',
    };
    const r = readSystem({ readText: (p) => files[p] ?? null });
    assert.equal(r.nofileSoft, 1024);
    assert.equal(r.nofileHard, 524288);
    assert.equal(r.capSysResource, false);
    assert.equal(r.capSysAdmin, true);
    assert.deepEqual(r.fileNr, { allocated: 488, unused: 0, max: 2466170 });
    assert.deepEqual(r.portRange, { low: 32768, high: 60999 });
    assert.deepEqual(r.tcpMem, { low: 287898, pressure: 383867, high: 575796 });
    assert.equal(r.nfConntrackMax, null);
    assert.equal(r.memTotalBytes, 24684084 * 1024);
    assert.equal(r.memAvailableBytes, 24359396 * 1024);
    assert.equal(r.cpuModel, 'Test CPU');
    assert.equal(r.sysctl['net.ipv4.ip_local_port_range'], '32768 60999');
    const env = readingsEnv(r);
    assert.equal(env.sysctl['net.core.somaxconn'], 4096);
    assert.equal(env.sysctl['net.ipv4.ip_local_port_range'], '32768 60999');
    assert.equal(env.nofileSoft, 1024);
    const huge = readSystem({ readText: (p) => (p === '/proc/sys/fs/file-max' ? '9223372036854775807\n' : (files[p] ?? null)) });
    assert.equal(huge.fileMax, 9223372036854775807);
    assert.equal(readingsEnv(huge).sysctl['fs.file-max'], '9223372036854775807', 'kept exact as text');
  });

  it('reads the real machine without changing it', () => {
    const r = readSystem();
    assert.ok(r.nofileSoft > 0 && r.nofileHard >= r.nofileSoft);
    assert.ok(r.cpus >= 1);
    assert.ok(r.pageSize >= 4096);
    assert.ok(r.memTotalBytes !== null && r.memTotalBytes > 0);
    assert.equal(typeof r.kernelRelease, 'string');
  });
});

describe('format helpers', () => {
  it('formats counts, bytes and powers of two', () => {
    assert.equal(fmtInt(1000000), '1,000,000');
    assert.equal(fmtInt(999), '999');
    assert.equal(fmtBytes(2800), '2.7 KiB');
    assert.equal(fmtBytes(512), '512 B');
    assert.equal(fmtBytes(8 * GiB), '8.0 GiB');
    assert.equal(nextPow2(1000064), 1048576);
    assert.equal(nextPow2(1), 1);
    assert.equal(loopbackAddress(0), '127.0.0.2');
    assert.equal(loopbackAddress(35), '127.0.0.37');
    assert.equal(loopbackAddress(254), '127.0.1.0');
  });
});

describe('planRun: a million connections on the reference box', () => {
  const plan = planRun({ connections: 1_000_000, contender: 'net', protocol: 'tcp-echo', readings: box() });

  it('splits each side into processes of at most soft nofile − 64 connections', () => {
    assert.equal(plan.fdBudgetPerProcess, 19936);
    // ceil(1,000,000 / 19,936) = 51 processes, 19,608 connections each.
    assert.equal(plan.serverWorkers, 51);
    assert.equal(plan.connectionsPerWorker, 19608);
    assert.equal(plan.driverProcesses, 51);
    assert.equal(plan.connectionsPerDriver, 19608);
    assert.equal(plan.totalFds, 2_000_000 + 64 * 102);
  });

  it('needs 71 source addresses to one destination port with 28,232 ephemeral ports, each filled to half', () => {
    assert.equal(plan.ephemeralPorts, 28232);
    // ceil(1,000,000 / floor(28,232 × 0.5)) = 71: half-full ranges keep connect()'s port search short.
    assert.equal(plan.sourceAddresses, 71);
    assert.deepEqual(plan.sourceAddressRange, { first: '127.0.0.2', last: '127.0.0.72' });
    assert.equal(item(plan, 'ephemeral ports').level, 'ok');
  });

  it('estimates memory from per-connection figures', () => {
    assert.equal(plan.memory.kernelBytes, 8_192_000_000);
    assert.equal(plan.memory.serverBytes, 2_800_000_000);
    assert.equal(plan.memory.driverBytes, 64_000_000);
    assert.equal(plan.memory.processBytes, 102 * 48 * 1024 * 1024);
    assert.equal(plan.memory.totalBytes, 8_192_000_000 + 2_800_000_000 + 64_000_000 + 102 * 48 * 1024 * 1024);
    assert.equal(item(plan, 'memory').level, 'ok');
  });

  it('warns instead of failing when the limit only forces a split, with the exact fix', () => {
    const c = item(plan, 'nofile (server)');
    assert.equal(c.level, 'warn');
    assert.equal(c.ok, false);
    assert.equal(c.need, '1,000,064 fds for one process: split into 51 workers × ≤ 19,608 connections');
    assert.equal(
      c.fix,
      'to use one process instead:\n' +
        'ulimit -n 1048576 (needs raising the hard limit: as root, prlimit --pid $$ --nofile=1048576:1048576, or LimitNOFILE=1048576 in systemd; ' +
        'this session lacks CAP_SYS_RESOURCE, so it cannot raise its own hard limit)',
    );
    assert.equal(item(plan, 'nofile (driver)').level, 'warn');
  });

  it('checks the sysctls', () => {
    assert.equal(item(plan, 'net.core.somaxconn').level, 'ok');
    assert.equal(item(plan, 'net.ipv4.tcp_max_syn_backlog').level, 'ok');
    assert.equal(item(plan, 'fs.nr_open').level, 'ok');
    const fm = item(plan, 'fs.file-max');
    assert.equal(fm.level, 'ok');
    assert.equal(fm.value, '2,466,170 max, 488 in use (fs.file-nr): 2,465,682 free');
    const mem = item(plan, 'net.ipv4.tcp_mem');
    assert.equal(mem.level, 'warn');
    assert.equal(plan.tcpMemPagesNeeded, 2_000_000);
    assert.equal(mem.fix, 'sysctl -w net.ipv4.tcp_mem="1500000 2000000 3000000"');
    const ct = item(plan, 'net.netfilter.nf_conntrack_max');
    assert.equal(ct.level, 'warn', 'an empty conntrack table is probably not tracking loopback');
    assert.equal(ct.fix, 'sysctl -w net.netfilter.nf_conntrack_max=2097152');
  });

  it('warns about contention when processes outnumber CPUs', () => {
    const c = item(plan, 'cpus');
    assert.equal(c.level, 'warn');
    assert.equal(c.need, '102 processes (51 server + 51 driver): results will include contention');
  });

  it('is feasible, and says so in text with every fix', () => {
    assert.equal(plan.feasible, true);
    assert.deepEqual(plan.reasons, []);
    const text = formatPreflight(plan);
    assert.match(text, /^preflight: 1,000,000 connections, contender net, protocol tcp-echo$/m);
    assert.match(text, /^ {2}server {3}51 workers × ≤ 19,608 connections \(fd budget 19,936 = soft nofile 20,000 − 64 reserve\)$/m);
    assert.match(text, /^ {2}sources {2}71 addresses 127\.0\.0\.2–127\.0\.0\.72 → 1 destination port \(28,232 ephemeral ports per address and port\)$/m);
    assert.match(text, /^ {2}OK {4}net\.core\.somaxconn: 4,096; needs ≥ 511 per listener/m);
    assert.match(text, /^ {2}WARN {2}cpus: 2 CPUs$/m);
    assert.match(text, /^ {10}fix: sysctl -w net\.ipv4\.tcp_mem="1500000 2000000 3000000"$/m);
    assert.match(text, /^ {15}ulimit -n 1048576 \(needs raising the hard limit/m);
    assert.match(text, /\nfeasible$/);
    assert.equal(formatPreflight(plan), text, 'pure: the same plan prints the same text');
  });
});

describe('planRun: failures and other shapes', () => {
  it('fails when fixed workers cannot hold the connections', () => {
    const plan = planRun({ connections: 1_000_000, contender: 'epoll', protocol: 'tcp-echo', readings: box(), workers: 10 });
    const c = item(plan, 'nofile (server)');
    assert.equal(c.level, 'fail');
    assert.equal(c.need, '100,064 fds in each of 10 workers (100,000 connections + 64)');
    assert.equal(
      c.fix,
      'use 51 or more workers, or raise the limit:\n' +
        'ulimit -n 131072 (needs raising the hard limit: as root, prlimit --pid $$ --nofile=131072:131072, or LimitNOFILE=131072 in systemd; ' +
        'this session lacks CAP_SYS_RESOURCE, so it cannot raise its own hard limit)',
    );
    assert.equal(plan.feasible, false);
    assert.equal(plan.reasons.length, 1);
    assert.match(plan.reasons[0] ?? '', /^nofile \(server\): needs 100,064 fds/);
    assert.match(formatPreflight(plan), /NOT feasible:\n {2}- nofile \(server\)/);
  });

  it('fails when memory cannot hold the estimate, and says how many connections fit', () => {
    const plan = planRun({ connections: 1_000_000, contender: 'net', protocol: 'tcp-echo', readings: box({ memAvailableBytes: 8 * GiB }) });
    const c = item(plan, 'memory');
    assert.equal(c.level, 'fail');
    assert.equal(c.value, 'MemAvailable 8.0 GiB');
    // (8 GiB / 1.2 − 102 × 48 MiB) / (8192 + 2800 + 64) bytes per connection.
    assert.equal(c.fix, 'lower connections to 183,108 or fewer, or free memory (stop other services, drop caches: sync; echo 3 > /proc/sys/vm/drop_caches)');
    assert.equal(plan.feasible, false);
  });

  it('warns inside the safety margin', () => {
    const plan = planRun({ connections: 1_000_000, contender: 'net', protocol: 'tcp-echo', readings: box({ memAvailableBytes: 17 * GiB }) });
    assert.equal(item(plan, 'memory').level, 'warn');
    assert.equal(plan.feasible, true);
  });

  it('uses a measured per-connection figure over the default', () => {
    const plan = planRun({ connections: 100_000, contender: 'net', protocol: 'tcp-echo', readings: box(), perConnBytes: 3100 });
    assert.equal(plan.memory.serverBytes, 310_000_000);
    assert.equal(plan.memory.serverBytesPerConn, 3100);
  });

  it('over TLS plans OpenSSL\'s state per connection on both sides, and has no figure for a contender without TLS', () => {
    const plain = planRun({ connections: 100_000, contender: 'epoll', protocol: 'ws-echo', readings: box() });
    const tls = planRun({ connections: 100_000, contender: 'epoll', protocol: 'ws-echo', readings: box(), tls: true });
    assert.equal(plain.tls, false);
    assert.equal(tls.tls, true);
    assert.equal(tls.memory.serverBytesPerConn, TLS_PER_CONN_BYTES['epoll']);
    assert.equal(tls.memory.driverBytesPerConn, TLS_DRIVER_PER_CONN_BYTES.resumed);
    const full = planRun({ connections: 100_000, contender: 'epoll', protocol: 'ws-echo', readings: box(), tls: true, tlsTickets: false });
    assert.equal(full.memory.driverBytesPerConn, TLS_DRIVER_PER_CONN_BYTES.full);
    assert.equal(tls.memory.kernelBytesPerConn, plain.memory.kernelBytesPerConn);
    assert.equal(tls.memory.totalBytes - plain.memory.totalBytes, 100_000 * (TLS_PER_CONN_BYTES['epoll']! - 64 + TLS_DRIVER_PER_CONN_BYTES.resumed - 64));
    assert.match(formatPreflight(tls), /protocol ws-echo over TLS/);
    // 24 GiB available: (24 GiB / 1.2 − 102 × 48 MiB) / (8192 + 14 KiB + 21 KiB) bytes per connection.
    const million = planRun({ connections: 1_000_000, contender: 'epoll', protocol: 'ws-echo', readings: box({ memAvailableBytes: 24 * GiB }), tls: true });
    const m = item(million, 'memory');
    assert.equal(m.level, 'fail');
    assert.match(m.fix ?? '', /^lower connections to 371,116 or fewer/);
    const cref = planRun({ connections: 1000, contender: 'c-ref', protocol: 'tcp-echo', readings: box(), tls: true });
    assert.equal(cref.memory.serverBytes, null);
    assert.match(item(cref, 'memory').need, /no per-connection figure for c-ref over TLS/);
  });

  it('reports an unknown contender footprint as unknown, not zero', () => {
    const plan = planRun({ connections: 10_000, contender: 'mystery', protocol: 'tcp-echo', readings: box() });
    assert.equal(plan.memory.serverBytes, null);
    const c = item(plan, 'memory');
    assert.equal(c.level, 'warn');
    assert.equal(c.fix, 'measure mystery first (a run\'s bytesPerConnection) and pass it as perConnBytes');
  });

  it('fails when the connector has too few source addresses', () => {
    const plan = planRun({ connections: 1_000_000, contender: 'epoll', protocol: 'tcp-echo', readings: box(), sourceAddresses: 4 });
    const c = item(plan, 'ephemeral ports');
    assert.equal(c.level, 'fail');
    assert.equal(
      c.fix,
      'use 71 source addresses (127.0.0.2–127.0.0.72) or more destination ports, or widen the range (then 32 addresses):\n' +
        'sysctl -w net.ipv4.ip_local_port_range="1024 65535"',
    );
  });

  it('needs two source addresses when every worker has its own port (19,608 per port > half the range)', () => {
    const plan = planRun({ connections: 1_000_000, contender: 'epoll', protocol: 'tcp-echo', readings: box(), destinationPorts: 51 });
    assert.equal(plan.sourceAddresses, 2);
  });

  it('passes everything for a small run', () => {
    const plan = planRun({ connections: 10_000, contender: 'epoll', protocol: 'tcp-echo', readings: box() });
    assert.equal(plan.serverWorkers, 1);
    assert.equal(plan.driverProcesses, 1);
    assert.deepEqual(
      plan.checks.filter((c) => !c.ok).map((c) => c.item),
      [],
    );
    assert.equal(plan.feasible, true);
    assert.doesNotMatch(formatPreflight(plan), /WARN|FAIL|fix:/);
  });

  it('fails on a conntrack table that is tracking and too small', () => {
    const plan = planRun({ connections: 300_000, contender: 'epoll', protocol: 'tcp-echo', readings: box({ nfConntrackCount: 120 }) });
    const c = item(plan, 'net.netfilter.nf_conntrack_max');
    assert.equal(c.level, 'fail');
    assert.equal(c.fix, 'sysctl -w net.netfilter.nf_conntrack_max=524288');
    assert.equal(plan.feasible, false);
  });

  it('fails on fs.file-max without CAP_SYS_ADMIN, warns with it', () => {
    const r = { fileMax: 1_000_000, fileNr: { allocated: 1000, unused: 0, max: 1_000_000 } };
    const plain = item(planRun({ connections: 600_000, contender: 'epoll', protocol: 'tcp-echo', readings: box(r) }), 'fs.file-max');
    assert.equal(plain.level, 'fail');
    assert.equal(plain.fix, 'sysctl -w fs.file-max=2097152');
    const admin = item(planRun({ connections: 600_000, contender: 'epoll', protocol: 'tcp-echo', readings: box({ ...r, capSysAdmin: true }) }), 'fs.file-max');
    assert.equal(admin.level, 'warn');
  });

  it('warns on a backlog below what the connect rate needs', () => {
    const plan = planRun({ connections: 10_000, contender: 'epoll', protocol: 'tcp-echo', readings: box(), connectRatePerSec: 100_000 });
    // 100,000/s × 0.1 s on one listener.
    const c = item(plan, 'net.core.somaxconn');
    assert.equal(c.level, 'warn');
    assert.equal(c.fix, 'sysctl -w net.core.somaxconn=65535');
    assert.equal(plan.listenBacklog, 10_000);
  });

  it('counts only the server side when the driver is elsewhere', () => {
    const plan = planRun({ connections: 1_000_000, contender: 'epoll', protocol: 'tcp-echo', readings: box(), driverOnHost: false });
    assert.equal(plan.totalFds, 1_000_000 + 64 * 51);
    assert.equal(plan.memory.kernelBytesPerConn, 4096);
    assert.equal(plan.memory.driverBytes, 0);
    assert.equal(plan.checks.some((c) => c.item === 'nofile (driver)'), false);
    assert.equal(item(plan, 'cpus').need, '51 processes (51 server + 0 driver): results will include contention');
  });

  it('suggests a plain ulimit when the hard limit allows, and fs.nr_open when it is in the way', () => {
    const soft = box({ nofileSoft: 1024, nofileHard: 1048576 });
    assert.equal(nofileFix(30_064, soft), 'ulimit -n 32768');
    const plan = planRun({ connections: 30_000, contender: 'epoll', protocol: 'tcp-echo', readings: soft });
    assert.equal(plan.serverWorkers, 32);
    assert.equal(item(plan, 'nofile (server)').fix, 'to use one process instead:\nulimit -n 32768');
    assert.equal(
      nofileFix(2_000_064, box({ capSysResource: true })),
      'sysctl -w fs.nr_open=2097152\nulimit -n 2097152 (needs raising the hard limit: as root, prlimit --pid $$ --nofile=2097152:2097152, or LimitNOFILE=2097152 in systemd)',
    );
  });

  it('rejects bad input clearly', () => {
    const readings = box();
    assert.throws(() => planRun({ connections: 0, contender: 'net', protocol: 'tcp-echo', readings }), RangeError);
    assert.throws(() => planRun({ connections: 1.5, contender: 'net', protocol: 'tcp-echo', readings }), /connections must be an integer, got 1.5/);
    assert.throws(() => planRun({ connections: 10, contender: '', protocol: 'tcp-echo', readings }), TypeError);
    assert.throws(() => planRun({ connections: 10, contender: 'net', protocol: 'tcp-echo', readings, workers: 0 }), RangeError);
    assert.throws(() => planRun({ connections: 10, contender: 'net', protocol: 'tcp-echo', readings, perConnBytes: -1 }), RangeError);
    assert.throws(() => planRun({ connections: 10, contender: 'net', protocol: 'tcp-echo', readings: null as unknown as SystemReadings }), TypeError);
  });
});

describe('the I/O models preflight and list print', () => {
  const denied = {
    ok: false,
    reason: "io_uring_setup denied (a seccomp profile such as Docker's or Kubernetes' default): io_uring_setup: EPERM",
    fix: 'run with a seccomp profile that allows io_uring_setup, io_uring_enter and io_uring_register, e.g. docker run --security-opt seccomp=unconfined',
    kernel: '6.1.0-18-amd64',
    liburing: '2.3',
  };

  it('name epoll, libuv, uWebSockets.js and io_uring, each yes or why not with the fix', async () => {
    const models = await ioModels({ uws: 'uWebSockets.js is not installed (npm install uWebSockets.js)', uring: denied });
    assert.deepEqual(
      models.map(([name]) => name.split(' ')[0]),
      ['epoll', 'libuv', 'uWebSockets.js', 'io_uring'],
    );
    assert.equal(models[0]?.[1], true, 'epoll on Linux');
    assert.equal(models[1]?.[1], true, 'libuv always');
    const text = await ioModelSection({ uws: 'uWebSockets.js is not installed (npm install uWebSockets.js)', uring: denied });
    assert.match(text, /^I\/O models \(can run here\):\n/);
    assert.match(text, /^ {2}uWebSockets\.js \(uws\) +no: uWebSockets\.js is not installed \(npm install uWebSockets\.js\)$/m);
    assert.match(
      text,
      /^ {2}io_uring \(completion: uring, uring-native, c-ref-uring\) +no: io_uring_setup denied \(a seccomp profile such as Docker's or Kubernetes' default\): io_uring_setup: EPERM; fix: run with a seccomp profile that allows io_uring_setup, io_uring_enter and io_uring_register, e\.g\. docker run --security-opt seccomp=unconfined$/m,
    );
    const ok = await ioModelSection({ uws: true, uring: { ok: true, kernel: '6.1.0-18-amd64', liburing: '2.3' } });
    assert.match(ok, /^ {2}io_uring \(completion: uring, uring-native, c-ref-uring\) +yes \(kernel 6\.1\.0-18-amd64, liburing 2\.3\)$/m);
    assert.match(ok, /^ {2}uWebSockets\.js \(uws\) +yes$/m);
  });
});
