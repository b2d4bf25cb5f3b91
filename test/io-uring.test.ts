// Whether io_uring can run here (src/system/io-uring.ts): each failing condition gives its own
// reason and fix, in the order the checks run, from injected readings; then the real verdict on
// this machine agrees with what the machine says (liburing-dev, kernel, sysctl, the probe binary
// run directly), and the probe run under a real seccomp filter that denies io_uring_setup
// (native/tests/deny_io_uring.cc) is reported as that denial.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { release } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, it } from 'node:test';
import { ioUringStatus, ioUringStatusOf, kernelVersion, REF_ECHO_URING_PATH, runProbe, type IoUringReadings, type ProbeResult } from '../src/system/io-uring.js';
import { ROOT } from './helpers/cli.js';

const OK_PROBE: ProbeResult = { status: 0, line: 'ok' };

/** A machine where everything passes; each test breaks one thing. probe counts its calls. */
function readings(over: Partial<IoUringReadings> = {}, probe: ProbeResult = OK_PROBE): IoUringReadings & { probes: () => number } {
  let calls = 0;
  return {
    liburing: { found: true, why: '/usr/include/liburing.h, /usr/lib/x86_64-linux-gnu/liburing.so', version: '2.3' },
    probeBuilt: true,
    kernel: '6.1.0-18-amd64',
    ioUringDisabled: 0,
    probe: () => {
      calls++;
      return probe;
    },
    ...over,
    probes: () => calls,
  };
}

describe('io_uring status from readings', () => {
  it('is ok when every check passes, with the kernel and liburing versions', () => {
    const r = readings();
    assert.deepEqual(ioUringStatusOf(r), { ok: true, kernel: '6.1.0-18-amd64', liburing: '2.3' });
    assert.equal(r.probes(), 1);
  });

  it('built without liburing-dev: the library missing, or the probe binary not built', () => {
    const r = readings({ liburing: { found: false, why: 'liburing.h and liburing.so not found (install liburing-dev: apt-get install liburing-dev)' } });
    const s = ioUringStatusOf(r);
    assert.equal(s.ok, false);
    assert.equal(s.reason, 'built without liburing-dev (liburing.h and liburing.so not found)');
    assert.equal(s.fix, 'apt-get install liburing-dev && npm run build:native');
    assert.equal(s.liburing, undefined);
    assert.equal(r.probes(), 0, 'nothing is run when an earlier check fails');
    const b = ioUringStatusOf(readings({ probeBuilt: false }));
    assert.match(b.reason ?? '', /^built without liburing-dev \(c1m_ref_echo_uring is not built/);
    assert.equal(b.fix, 'apt-get install liburing-dev && npm run build:native');
  });

  it('a kernel before 6.0', () => {
    for (const kernel of ['5.15.0-91-generic', '5.19.17', '4.19.0-26-amd64', 'weird']) {
      const r = readings({ kernel });
      const s = ioUringStatusOf(r);
      assert.equal(s.ok, false, kernel);
      assert.equal(s.kernel, kernel);
      assert.match(s.reason ?? '', new RegExp(`^kernel ${kernel} is older than 6\\.0 \\(multishot receive`));
      assert.match(s.fix ?? '', /^a newer kernel: Linux 6\.0 or later/);
      assert.equal(r.probes(), 0);
    }
    for (const kernel of ['6.0.0', '6.18.44-fc-v1300', '7.0']) assert.equal(ioUringStatusOf(readings({ kernel })).ok, true, kernel);
    assert.deepEqual(kernelVersion('6.18.44-fc-v1300'), [6, 18]);
    assert.equal(kernelVersion('x'), null);
  });

  it('kernel.io_uring_disabled: 2 refuses everyone; 1 only when the probe is refused', () => {
    const two = readings({ ioUringDisabled: 2 });
    const s2 = ioUringStatusOf(two);
    assert.equal(s2.reason, 'kernel.io_uring_disabled is 2: io_uring is refused to every process');
    assert.equal(s2.fix, 'sysctl -w kernel.io_uring_disabled=0');
    assert.equal(two.probes(), 0);
    // 1 lets privileged processes and the io_uring_group through: the probe decides.
    assert.equal(ioUringStatusOf(readings({ ioUringDisabled: 1 })).ok, true);
    const s1 = ioUringStatusOf(readings({ ioUringDisabled: 1 }, { status: 1, line: 'io_uring_setup: EPERM' }));
    assert.match(s1.reason ?? '', /^kernel\.io_uring_disabled is 1: .*kernel\.io_uring_group/);
    assert.match(s1.fix ?? '', /^sysctl -w kernel\.io_uring_disabled=0 \(or add this user to the group .*io_uring_group\)$/);
    // No such knob (kernels before 6.6): enabled.
    assert.equal(ioUringStatusOf(readings({ ioUringDisabled: null })).ok, true);
  });

  it('io_uring_setup denied by a seccomp profile (EPERM or ENOSYS from the probe)', () => {
    for (const line of ['io_uring_setup: EPERM', 'io_uring_setup: ENOSYS']) {
      const s = ioUringStatusOf(readings({}, { status: 1, line }));
      assert.equal(s.ok, false);
      assert.equal(s.reason, `io_uring_setup denied (a seccomp profile such as Docker's or Kubernetes' default): ${line}`);
      assert.match(s.fix ?? '', /allows io_uring_setup, io_uring_enter and io_uring_register, e\.g\. docker run --security-opt seccomp=unconfined/);
    }
  });

  it('any other probe failure is passed on as the probe said it', () => {
    const s = ioUringStatusOf(readings({}, { status: 1, line: 'multishot recv: EINVAL (it needs Linux 6.0 or later)' }));
    assert.equal(s.reason, 'the io_uring probe failed: multishot recv: EINVAL (it needs Linux 6.0 or later)');
    const silent = ioUringStatusOf(readings({}, { status: null, line: '' }));
    assert.equal(silent.reason, 'the io_uring probe failed: exit status null (killed), nothing said');
    // "ok" with a failing exit status is not ok.
    assert.equal(ioUringStatusOf(readings({}, { status: 1, line: 'ok' })).ok, false);
  });
});

describe('io_uring status on this machine', () => {
  it('agrees with the machine, and is memoised', async (t) => {
    const s = ioUringStatus();
    t.diagnostic(`io_uring here: ${JSON.stringify(s)}`);
    assert.equal(ioUringStatus(), s, 'one verdict per process');
    assert.equal(s.kernel, release());
    const { findLiburing } = (await import(pathToFileURL(join(ROOT, 'scripts/has-liburing.mjs')).href)) as { findLiburing(): { found: boolean } };
    if (!findLiburing().found) {
      assert.match(s.reason ?? '', /^built without liburing-dev/);
      return;
    }
    assert.match(s.liburing ?? '', /^\d+\.\d+/, 'the installed liburing version');
    assert.ok(existsSync(REF_ECHO_URING_PATH), `${REF_ECHO_URING_PATH} is built where liburing-dev is installed`);
    // The probe binary, run directly: "ok" and 0, or the failing call and its errno name and 1.
    const p = spawnSync(REF_ECHO_URING_PATH, ['--probe'], { encoding: 'utf8', timeout: 10_000 });
    if (p.status === 0) {
      assert.equal(p.stdout, 'ok\n');
      assert.equal(s.ok, true);
      assert.equal(s.reason, undefined);
    } else {
      assert.equal(p.status, 1);
      assert.match(p.stdout, /^[\w ()-]+: .*E[A-Z]+|^[\w ()-]+: the kernel/);
      assert.equal(s.ok, false);
      assert.ok((s.reason ?? '').length > 0 && (s.fix ?? '').length > 0);
    }
    // Where this kernel is 6.0 or later with io_uring enabled, the probe is expected to pass here.
    const v = kernelVersion(release());
    const disabled = existsSync('/proc/sys/kernel/io_uring_disabled') ? Number(readFileSync('/proc/sys/kernel/io_uring_disabled', 'utf8')) : 0;
    if (v !== null && v[0] >= 6 && disabled === 0 && s.ok === false) t.diagnostic(`io_uring refused on a 6.x kernel with io_uring enabled: ${s.reason ?? ''}`);
  });

  it('a seccomp filter that denies io_uring_setup (as Docker\'s default does) is reported as one, with its fix', (t) => {
    if (!existsSync(REF_ECHO_URING_PATH)) return t.skip('built without liburing-dev');
    const deny = join(ROOT, 'build/Release/c1m_test_deny_io_uring');
    assert.ok(existsSync(deny), `${deny} is built`);
    for (const errno of ['EPERM', 'ENOSYS']) {
      const p = runProbe(REF_ECHO_URING_PATH, [deny, errno]);
      assert.deepEqual(p, { status: 1, line: `io_uring_setup: ${errno}` });
      // The real probe's answer through the real decision, on this machine's other readings.
      const s = ioUringStatusOf({ ...readings({ kernel: release(), ioUringDisabled: 0 }), probe: () => p });
      assert.equal(s.ok, false);
      assert.equal(s.reason, `io_uring_setup denied (a seccomp profile such as Docker's or Kubernetes' default): io_uring_setup: ${errno}`);
      assert.match(s.fix ?? '', /docker run --security-opt seccomp=unconfined/);
    }
    // And with nothing denied, the same wrapper-less probe passes where io_uring runs.
    if (ioUringStatus().ok) assert.deepEqual(runProbe(), { status: 0, line: 'ok' });
  });

  it('the probe needs no arguments and rejects a wrong command line with the usage', (t) => {
    if (!existsSync(REF_ECHO_URING_PATH)) return t.skip('built without liburing-dev');
    const r = spawnSync(REF_ECHO_URING_PATH, ['127.0.0.1'], { encoding: 'utf8' });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /^usage: .*c1m_ref_echo_uring HOST PORT BACKLOG COUNTERS_FILE \[reuseport\]/);
    const probe = spawnSync(REF_ECHO_URING_PATH, ['--probe'], { encoding: 'utf8', timeout: 10_000 });
    assert.equal(probe.stdout.split('\n').length, 2, `one line: ${probe.stdout}`);
  });
});
