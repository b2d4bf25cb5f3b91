// The conformance suite (src/conform/): every case passes against a strict fake server and reports
// a deviation against one that is lax in the one way the case is about (test/helpers/
// fake-conform-server.ts), so no case is a check that cannot fail; the summary a measured run
// records; and one real `c1m conform --contenders epoll`, whose matrix, result file and page are
// checked for their shape.

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { runCase, type CaseContext } from '../src/conform/case.js';
import { CONFORM_SCHEMA, CONFORM_SCHEMA_FILE, conformSchemaText, validateConform } from '../src/conform/schema.js';
import { ALL_CASES, caseContext, quickConformance } from '../src/conform/suite.js';
import { summaryLine } from '../src/conform/summary.js';
import { c1m, ROOT } from './helpers/cli.js';
import { FAKE_MAX_MESSAGE_BYTES, FAULTS, startFakeServer, type Fault } from './helpers/fake-conform-server.js';
import { openFds, waitGone } from './helpers/processes.js';
import { renderConformMarkdown } from '../src/conform/page.js';

const tmp = mkdtempSync(join(tmpdir(), 'c1m-conform-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** For every case, the fault of the fake server that case must catch. */
const CATCHES: Record<string, Fault> = {
  'http.pipelining': 'pipeline-one',
  'http.split-every-byte': 'split',
  'http.pipeline-before-bad': 'bad-drops-good',
  'http.space-before-colon': 'lax-colon',
  'http.no-host': 'no-host-ok',
  'http.two-hosts': 'two-hosts-ok',
  'http.431-head-size': 'no-head-limit',
  'http.431-field-count': 'no-count-limit',
  'http.413-body-size': 'no-413',
  'http.505-version': 'no-505',
  'http.version-case': 'version-case-ok',
  'http.smuggle-cl-te': 'cl-te-keepalive',
  'http.smuggle-two-cl': 'two-cl-first',
  'http.head-no-body': 'head-body',
  'http.304-no-body': '304-body',
  'http.connection-close': 'ignore-close',
  'http.http10': 'http10-keepalive',
  'http.expect-100': 'no-100',
  'http.slowloris': 'no-header-timeout',
  'ws.handshake': 'ws-wrong-accept',
  'ws.handshake-version': 'ws-any-version',
  'ws.handshake-key': 'ws-any-key',
  'ws.handshake-upgrade': 'ws-no-upgrade-token-ok',
  'ws.handshake-method': 'ws-post-ok',
  'ws.frame-with-upgrade': 'ws-drop-glued',
  'ws.echo': 'ws-mask-out',
  'ws.payload-lengths': 'ws-no-64bit',
  'ws.fragments-with-pings': 'ws-no-ping-in-fragments',
  'ws.ping-125': 'ws-pong-truncated',
  'ws.pong-unsolicited': 'ws-close-on-pong',
  'ws.unmasked': 'ws-accept-unmasked',
  'ws.control-too-long': 'ws-no-control-limit',
  'ws.control-fragmented': 'ws-fragmented-control-ok',
  'ws.reserved-bits': 'ws-ignore-rsv',
  'ws.reserved-opcode-data': 'ws-bare-close',
  'ws.reserved-opcode-control': 'ws-bare-close',
  'ws.continuation-first': 'ws-bare-close',
  'ws.interleaved-messages': 'ws-bare-close',
  'ws.close-echo': 'ws-no-close-reply',
  'ws.close-payload-1-byte': 'ws-bare-close',
  'ws.close-code-invalid': 'ws-echo-any-code',
  'ws.close-reason-utf8': 'ws-bare-close',
  'ws.utf8-invalid': 'ws-no-utf8-check',
  'ws.utf8-split-code-point': 'ws-utf8-per-fragment',
  'ws.message-too-big': 'ws-no-size-limit',
};

/** What a few deviations must say, in plain words. */
const SAYS: Partial<Record<string, RegExp>> = {
  'http.head-no-body': /answered 200 with a 13-byte body to HEAD/,
  'http.connection-close': /answered 200 and left the connection open/,
  'http.split-every-byte': /answered 400 to GET \/ sent one byte at a time/,
  'http.pipeline-before-bad': /the valid request before the malformed one got no 200/,
  'http.slowloris': /still open after 1\.\d s of 1 byte per 200 ms/,
  'ws.reserved-opcode-data': /closed the connection without a close frame on opcode 0x3; want close 1002/,
  'ws.frame-with-upgrade': /a frame sent with the upgrade request: no echo/,
  'ws.unmasked': /answered an unmasked frame with a text frame/,
  'ws.utf8-invalid': /answered text that is not UTF-8 with a text frame/,
};

function ctxFor(port: number, family: 'http' | 'ws'): CaseContext {
  return caseContext({ host: '127.0.0.1', port }, family === 'http' ? 'http-hello' : 'ws-echo', { waitMs: 300, slowlorisMs: 1000, maxMessageBytes: FAKE_MAX_MESSAGE_BYTES });
}

describe('every case passes against a strict server and catches the fault it is about', () => {
  it('names a fault for every case, and every fault is caught by some case', () => {
    assert.deepEqual(Object.keys(CATCHES).sort(), ALL_CASES.map((c) => c.id).sort());
    assert.deepEqual([...new Set(Object.values(CATCHES))].sort(), [...FAULTS].sort().filter((f) => Object.values(CATCHES).includes(f)));
    for (const f of FAULTS) assert.ok(Object.values(CATCHES).includes(f), `fault ${f} is caught by some case`);
    assert.equal(new Set(ALL_CASES.map((c) => c.id)).size, ALL_CASES.length, 'case ids are unique');
    for (const c of ALL_CASES) assert.match(c.source, /^RFC (9110|9112|6455|6585)\b/, `${c.id} says where its requirement is written`);
  });

  for (const c of ALL_CASES) {
    const fault = CATCHES[c.id] as Fault;
    it(`${c.id}: pass when strict, deviation with "${fault}"`, async () => {
      const fds = openFds();
      const strict = await startFakeServer();
      const lax = await startFakeServer([fault]);
      try {
        const good = await runCase(c, ctxFor(strict.port, c.family));
        assert.equal(good.verdict.status, 'pass', `strict: ${good.verdict.detail}`);
        const bad = await runCase(c, ctxFor(lax.port, c.family));
        assert.equal(bad.verdict.status, 'deviation', `with ${fault}: ${bad.verdict.detail}`);
        assert.ok(bad.verdict.detail.length > 10, bad.verdict.detail);
        const says = SAYS[c.id];
        if (says !== undefined) assert.match(bad.verdict.detail, says);
      } finally {
        await strict.close();
        await lax.close();
      }
      // Every connection a case opened is gone (fds settle once the sockets have closed).
      for (let i = 0; i < 20 && openFds() > fds; i++) await new Promise((r) => setTimeout(r, 25));
      assert.ok(openFds() <= fds, `fds ${openFds()} after, ${fds} before`);
    });
  }

  it('a server that accepts and never writes gets "no answer within N ms" from every HTTP case', async () => {
    const { createServer } = await import('node:net');
    const held = new Set<import('node:net').Socket>();
    const mute = createServer((s) => {
      held.add(s);
      s.on('error', () => {});
      s.resume();
    });
    await new Promise<void>((r) => mute.listen(0, '127.0.0.1', r));
    const port = (mute.address() as import('node:net').AddressInfo).port;
    try {
      for (const id of ['http.pipelining', 'http.no-host', 'http.expect-100']) {
        const c = ALL_CASES.find((x) => x.id === id);
        assert.ok(c);
        const out = await runCase(c, ctxFor(port, 'http'));
        assert.equal(out.verdict.status, 'deviation', id);
        assert.match(out.verdict.detail, /gave no answer within 300 ms/, `${id}: ${out.verdict.detail}`);
        assert.ok(out.ms < 2000, `${id} took ${out.ms} ms`);
      }
    } finally {
      for (const s of held) s.destroy();
      await new Promise((r) => mute.close(r));
    }
  });
});

describe('the summary a measured run records', () => {
  it('counts the quick cases of the protocol and names each deviation', async () => {
    const strict = await startFakeServer();
    const lax = await startFakeServer(['head-body', 'ignore-close']);
    try {
      const good = await quickConformance('http-hello', { host: '127.0.0.1', port: strict.port }, { waitMs: 300 });
      assert.equal(good.family, 'http');
      assert.equal(good.casesRun, ALL_CASES.filter((c) => c.family === 'http' && c.quick).length);
      assert.deepEqual(good.deviations, []);
      assert.equal(good.passed + good.notApplicable, good.casesRun);
      const bad = await quickConformance('http-hello', { host: '127.0.0.1', port: lax.port }, { waitMs: 300 });
      assert.deepEqual(bad.deviations.map((d) => d.id).sort(), ['http.connection-close', 'http.head-no-body']);
      assert.equal(bad.passed, bad.casesRun - 2 - bad.notApplicable);
      assert.match(summaryLine(bad), /deviations: http\.head-no-body, http\.connection-close/);
      const none = await quickConformance('tcp-echo', { host: '127.0.0.1', port: strict.port });
      assert.equal(none.casesRun, 0);
      assert.match(none.note ?? '', /no conformance cases for tcp-echo/);
    } finally {
      await strict.close();
      await lax.close();
    }
  });
});

describe('c1m conform', () => {
  it('the committed JSON Schema document is what the definition generates (run `npm run schema` when this fails)', () => {
    assert.equal(readFileSync(join(ROOT, CONFORM_SCHEMA_FILE), 'utf8'), conformSchemaText());
  });

  it('--contenders epoll: writes a matrix of every case for epoll, its result file and its page', async () => {
    const out = join(tmp, 'epoll.json');
    const r = await c1m('conform', '--contenders', 'epoll', '--slowloris-ms', '500', '--out', out);
    assert.equal(r.code, 0, r.err);
    const pids = [...r.err.matchAll(/started pid=(\d+) role=contender/g)].map((m) => Number(m[1]));
    assert.equal(pids.length, 2, `one contender process per family: ${r.err}`);
    assert.deepEqual(await waitGone(pids), [], 'every contender process is gone');
    const result = validateConform(JSON.parse(readFileSync(out, 'utf8')) as unknown, out);
    assert.equal(result.schema, CONFORM_SCHEMA);
    assert.deepEqual(result.params.contenders, ['epoll']);
    assert.equal(result.env.versions?.['c1m'], '0.1.0');
    assert.deepEqual(result.cases.map((c) => c.id), ALL_CASES.map((c) => c.id));
    assert.deepEqual(result.cells.map((c) => `${c.case}/${c.contender}`), ALL_CASES.map((c) => `${c.id}/epoll`));
    assert.deepEqual(result.runs.map((x) => `${x.contender}/${x.protocol}`), ['epoll/http-hello', 'epoll/ws-echo']);
    for (const run of result.runs) {
      const cells = result.cells.filter((c) => result.cases.find((k) => k.id === c.case)?.family === run.family);
      assert.equal(run.summary.casesRun, cells.length);
      assert.equal(run.summary.passed, cells.filter((c) => c.status === 'pass').length);
      assert.deepEqual(run.summary.deviations.map((d) => d.id), cells.filter((c) => c.status === 'deviation').map((c) => c.case));
    }
    for (const cell of result.cells) {
      assert.ok(cell.status === 'deviation' ? cell.breaks !== null : cell.breaks === null, JSON.stringify(cell));
      if (cell.status !== 'pass') assert.ok(cell.detail.length > 0);
    }
    assert.equal(result.runs.find((x) => x.protocol === 'ws-echo')?.limits?.maxMessageBytes, 1 << 20, 'the 1009 case used the limit epoll applied');
    const page = readFileSync(out.replace(/\.json$/, '.html'), 'utf8');
    assert.match(page, /^<!doctype html>/);
    assert.doesNotMatch(page, /<script|src="http/, 'the page is self-contained');
    for (const c of ALL_CASES) assert.ok(page.includes(`>${c.id}<`), `the page lists ${c.id}`);
    assert.match(r.out, /^case\s+epoll\s*\n/);
    assert.match(r.out, /epoll × http-hello: \d+ of \d+ passed/);
    // --from redraws the same table and page from the file, running nothing.
    const again = await c1m('conform', '--from', out, '--out', join(tmp, 'again.json'));
    assert.equal(again.code, 0, again.err);
    assert.equal(again.out, `${r.out.slice(0, r.out.indexOf('result: '))}report: ${join(tmp, 'again.html')}\n`);
    assert.equal(readFileSync(join(tmp, 'again.html'), 'utf8'), page);
    const notOne = await c1m('conform', '--from', join(ROOT, 'package.json'));
    assert.equal(notOne.code, 1);
    assert.match(notOne.err, /package\.json: not a c1m\.conform\/1 file/);
  });

  it('a contender that does not speak a family gets n/a with the reason; unknown flags and contenders are usage errors', async () => {
    const out = join(tmp, 'cref.json');
    const r = await c1m('conform', '--contenders', 'c-ref', '--out', out);
    assert.equal(r.code, 0, r.err);
    const result = validateConform(JSON.parse(readFileSync(out, 'utf8')) as unknown, out);
    assert.ok(result.cells.length === ALL_CASES.length && result.cells.every((c) => c.status === 'n/a' && /c-ref does not serve (http-hello|ws-echo)/.test(c.detail)));
    assert.ok(existsSync(out.replace(/\.json$/, '.html')));
    const bad = await c1m('conform', '--contender', 'epoll');
    assert.equal(bad.code, 2);
    assert.match(bad.err, /unknown flag --contender \(did you mean --contenders\?\)/);
    const who = await c1m('conform', '--contenders', 'epol');
    assert.equal(who.code, 2);
    assert.match(who.err, /unknown contender "epol"/);
  });
});

describe('the README matrix', () => {
  it('is one row per contender × protocol from a conformance file: passed of applicable, deviations by the word they broke', () => {
    const file = 'results/reference/conform/2026-12-06T23-10-45Z.json';
    const r = validateConform(JSON.parse(readFileSync(join(ROOT, file), 'utf8')), file);
    const md = renderConformMarkdown(r, file);
    const rows = md.split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| contender'));
    assert.equal(rows.length, r.runs.length);
    for (const run of r.runs) {
      const row = rows.find((l) => l.startsWith(`| ${run.contender} | ${run.protocol} |`));
      assert.ok(row, `${run.contender} × ${run.protocol}`);
      for (const d of run.summary.deviations) assert.ok(row.includes(`\`${d.id.replace(/^(http|ws)\./, '')}\``), `${d.id} in ${row}`);
      if (run.summary.casesRun > run.summary.notApplicable) {
        assert.ok(row.includes(`| ${run.summary.passed} of ${run.summary.casesRun - run.summary.notApplicable}`), row);
      }
    }
    assert.match(md, /\| epoll \| ws-echo \| 26 of 26 \| none \|/);
  });
});
