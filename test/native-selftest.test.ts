// Runs the native self-test executables built beside the addon (the sanitizer build's too,
// when C1M_ADDON points there), so the pure C++ pieces are checked on every `npm test`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { addonPath } from '../src/index.js';

for (const name of ['c1m_selftest_structs', 'c1m_selftest_proto']) {
  test(`native self-test ${name}`, () => {
    const exe = join(dirname(addonPath), name);
    assert.ok(existsSync(exe), `${exe} is built by npm install (binding.gyp)`);
    const r = spawnSync(exe, [], { encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.status, 0, `${name} failed:\n${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /\d+ passed, 0 failed/);
  });
}
