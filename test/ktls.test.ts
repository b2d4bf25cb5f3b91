// Whether kernel TLS can run here (src/system/ktls.ts): the verdict from injected readings of
// net.ipv4.tcp_available_ulp (without tls, with it, alone, unreadable), then the real verdict on
// this machine agrees with the file as this test reads it.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { kernelTlsStatus, kernelTlsStatusOf, readTcpAvailableUlp, TCP_AVAILABLE_ULP_PATH } from '../src/system/ktls.js';

const KERNEL = '6.18.44-fc-v1300';
const FIX = 'modprobe tls (CONFIG_TLS), or a kernel built with it';

describe('kernel TLS status from readings', () => {
  it('mptcp only: the tls module is not loaded, with the list and the fix', () => {
    assert.deepEqual(kernelTlsStatusOf({ ulp: 'mptcp\n', kernel: KERNEL }), {
      ok: false,
      reason: "the kernel's tls module is not loaded (net.ipv4.tcp_available_ulp: mptcp)",
      fix: FIX,
      kernel: KERNEL,
    });
  });

  it('"mptcp tls" and "tls" alone are ok, with no reason or fix', () => {
    for (const ulp of ['mptcp tls\n', 'tls\n', 'tls', 'espintcp tls mptcp\n']) {
      assert.deepEqual(kernelTlsStatusOf({ ulp, kernel: KERNEL }), { ok: true, kernel: KERNEL }, ulp);
    }
  });

  it('tls must be a whole word of the list, not part of another name', () => {
    for (const ulp of ['mptcp tlsx', 'ktls', '']) {
      const s = kernelTlsStatusOf({ ulp, kernel: KERNEL });
      assert.equal(s.ok, false, ulp);
      assert.equal(s.fix, FIX);
    }
    assert.equal(kernelTlsStatusOf({ ulp: '\n', kernel: KERNEL }).reason, "the kernel's tls module is not loaded (net.ipv4.tcp_available_ulp: (none))");
  });

  it('an unreadable list says so, with the same fix', () => {
    const s = kernelTlsStatusOf({ ulp: undefined, kernel: '5.10.0' });
    assert.equal(s.ok, false);
    assert.match(s.reason ?? '', /^unreadable \/proc\/sys\/net\/ipv4\/tcp_available_ulp: /);
    assert.equal(s.fix, FIX);
    assert.equal(s.kernel, '5.10.0');
  });

  it('reading: the file\'s contents, or undefined when it cannot be read', () => {
    const dir = mkdtempSync(join(tmpdir(), 'c1m-ktls-test-'));
    try {
      const f = join(dir, 'tcp_available_ulp');
      writeFileSync(f, 'mptcp tls\n');
      assert.equal(readTcpAvailableUlp(f), 'mptcp tls\n');
      assert.equal(readTcpAvailableUlp(join(dir, 'absent')), undefined);
      assert.equal(readTcpAvailableUlp(dir), undefined, 'a directory is not a readable list');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('kernel TLS status on this machine', () => {
  it('is well formed and agrees with the file as read here', (t) => {
    const s = kernelTlsStatus();
    t.diagnostic(`kernel TLS here: ${JSON.stringify(s)}`);
    assert.equal(s.kernel, release());
    let listed: string[] | undefined;
    try {
      listed = readFileSync(TCP_AVAILABLE_ULP_PATH, 'utf8').split(/\s+/);
    } catch {
      listed = undefined;
    }
    assert.equal(s.ok, listed?.includes('tls') ?? false);
    if (s.ok) {
      assert.deepEqual(Object.keys(s).sort(), ['kernel', 'ok']);
    } else {
      assert.equal(s.fix, FIX);
      if (listed === undefined) assert.match(s.reason ?? '', /^unreadable /);
      else assert.match(s.reason ?? '', /^the kernel's tls module is not loaded \(net\.ipv4\.tcp_available_ulp: .+\)$/);
    }
  });
});
