// Opens the HTML report of the fixtures (and of made-up stepped and capacity results) in
// Debian's headless Chromium and checks that it draws every chart with the expected number of
// series, logs no error, and fetches nothing: every
// request must stay on file: or data: URLs. Skipped, with the reason, when /usr/bin/chromium is
// absent (apt-get install chromium). Set C1M_SCREENSHOT=/path.png to keep a screenshot.

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { LoadedResult } from '../src/results/schema.js';
import { readResult } from '../src/results/load.js';
import { renderHtml } from '../src/report/html.js';
import { capacityFile, stepped } from './helpers/made-up-results.js';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const root = fileURLToPath(new URL('../../', import.meta.url));
const fixture = (name: string): LoadedResult => ({
  file: `test/fixtures/${name}`,
  result: readResult(JSON.parse(readFileSync(join(root, 'test/fixtures', name), 'utf8')), name),
});

interface Watched {
  page: Page;
  problems: string[];
  offline: string[];
}

async function open(browser: Browser, url: string, width: number): Promise<Watched> {
  const page = await browser.newPage({ viewport: { width, height: 900 } });
  const problems: string[] = [];
  const offline: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  // Anything that is not the page itself or inline data is refused and remembered.
  await page.route('**/*', async (route) => {
    const u = route.request().url();
    if (u.startsWith('file:') || u.startsWith('data:')) await route.continue();
    else {
      offline.push(u);
      await route.abort();
    }
  });
  page.on('request', (r) => {
    const u = r.url();
    if (!u.startsWith('file:') && !u.startsWith('data:') && !offline.includes(u)) offline.push(u);
  });
  await page.goto(url);
  await page.waitForSelector('body[data-charts-drawn]', { timeout: 30_000 });
  return { page, problems, offline };
}

/**
 * Writes the report of `results` to a temporary file, opens it in Chromium and hands the page to
 * `check`, then asserts that the page logged no error and fetched nothing; the browser and the
 * file are gone afterwards, whatever happened. Skips the test when Chromium is not installed.
 */
async function withReport(t: { skip: (why: string) => void }, results: LoadedResult[], check: (w: Watched) => Promise<void>): Promise<void> {
  if (!existsSync(CHROMIUM)) {
    t.skip('chromium not installed');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'c1m-browser-'));
  const file = join(dir, 'report.html');
  writeFileSync(file, renderHtml(results));
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
  try {
    const watched = await open(browser, pathToFileURL(file).href, 1400);
    await check(watched);
    assert.deepEqual(watched.problems, []);
    assert.deepEqual(watched.offline, [], 'the page fetched nothing from the network');
    await watched.page.close();
  } finally {
    await browser.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Elements matching `inner` inside the chart `id`. */
const count = (page: Page, id: string, inner: string): Promise<number> =>
  page.locator(`[data-chart="${id}"] ${inner}`).count();

test('the HTML report renders offline in Chromium with every chart and series', async (t) => {
  const results = ['result-idle-hold.json', 'result-http-hello.json', 'result-http-hello-next.json'].map(fixture);
  await withReport(t, results, async ({ page }) => {
    const data = JSON.parse((await page.locator('#c1m-data').textContent()) ?? '') as { charts: Array<{ id: string }> };
    const specs = data.charts.map((c) => c.id);
    // Scenarios in the order given: idle-hold is r1; http-hello's two files are r2 (A) and r3 (B).
    assert.deepEqual(specs, [
      'r1-memory-user',
      'r1-memory-kernel',
      'r1-connect-rate',
      'r1-timeline-connections',
      'r1-timeline-cpu',
      'r1-timeline-rss',
      's2-compare',
      'r2-steps-throughput',
      'r2-steps-cpu-per-op',
      'r2-nines-1',
      'r3-steps-throughput',
      'r3-steps-cpu-per-op',
      'r3-nines-1',
    ]);
    assert.equal(await page.getAttribute('body', 'data-charts-drawn'), String(specs.length));
    for (const id of specs) assert.equal(await count(page, id, '.plot svg'), 1, `${id} has a chart`);

    // idle-hold: epoll and net measured (epoll-native failed, uws skipped), three steps each.
    for (const id of ['r1-memory-user', 'r1-memory-kernel']) {
      assert.equal(await count(page, id, 'g.c1m-fit path'), 2, `${id} fitted lines`);
      assert.equal(await count(page, id, 'g.c1m-points circle'), 6, `${id} points`);
      assert.equal(await count(page, id, 'ul.legend li'), 2, `${id} legend`);
    }
    assert.equal(await count(page, 'r1-connect-rate', 'g.c1m-bar rect'), 2);
    assert.equal(await count(page, 'r1-connect-rate', 'g.c1m-whisker line'), 0, 'one rep: no whiskers');
    // The failed run's timeline is drawn too (dashed): it shows where it stalled.
    assert.equal(await count(page, 'r1-timeline-connections', 'g.c1m-timeline path'), 3);
    assert.equal(await count(page, 'r1-memory-user', 'text:has-text("100k")'), 1, 'log axis labelled 100k');
    assert.equal(await page.locator('[data-chart="r1-latency"]').count(), 0, 'idle-hold measured no latency');

    // http-hello: four contenders, three reps each, one step: a bar per contender, a faint dot per
    // repetition, one bold percentile line per contender over three faint ones.
    for (const r of ['r2', 'r3']) {
      assert.equal(await count(page, `${r}-steps-throughput`, 'g.c1m-bar rect'), 4);
      assert.equal(await count(page, `${r}-steps-throughput`, 'g.c1m-rep circle'), 12);
      assert.equal(await count(page, `${r}-steps-cpu-per-op`, 'g.c1m-bar rect'), 8, 'user and kernel parts');
      assert.equal(await count(page, `${r}-nines-1`, 'g.c1m-nines path'), 4);
      assert.equal(await count(page, `${r}-nines-1`, 'g.c1m-nines-rep path'), 12);
      assert.equal(await count(page, `${r}-nines-1`, 'ul.legend li'), 4, 'one legend entry per contender');
    }
    // B against A: four contenders × four figures measured in both files.
    assert.equal(await count(page, 's2-compare', 'g.c1m-ratio circle'), 16);

    // Failed and skipped runs are listed with their reasons; unmeasured figures are dashes.
    const failures = await page.locator('#r1 table.failures').innerText();
    assert.match(failures, /epoll-native\ttcp-echo\t0\tfailed\t2\tdriver timed out waiting for 100000 connections/);
    assert.match(failures, /uws\ttcp-echo\t0\tskipped\t—\tuWebSockets\.js does not speak raw TCP/);
    const epollRow = await page.locator('#r1 table.headline tr', { hasText: 'epoll' }).first().innerText();
    assert.deepEqual(
      epollRow.split('\t').map((s) => s.trim()),
      ['epoll', 'tcp-echo', '212 B 0.09× ?', '48.2k/s 2.25× ?', '—', '—', '1/1', ''],
    );
    assert.ok((await page.locator('#r1 .env').innerText()).includes('3f9c2d1e8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d'));

    if (process.env['C1M_SCREENSHOT']) await page.screenshot({ path: process.env['C1M_SCREENSHOT'], fullPage: true });

    // A narrow window redraws the charts to fit, without errors.
    await page.setViewportSize({ width: 720, height: 900 });
    // A string, as the project compiles without DOM types.
    await page.waitForFunction(`Number(document.querySelector('[data-chart="r1-memory-user"] svg')?.getAttribute('width')) < 700`);

  });
});

test('the step charts, percentile curves and capacity charts render in Chromium', async (t) => {
  const capacity = [
    capacityFile('epoll', 'tcp-echo', 30, '2026-01-01T00:00:00Z'),
    capacityFile('net', 'tcp-echo', 1600, '2026-01-01T01:00:00Z'),
    capacityFile('net', 'ws-echo', 3500, '2026-01-01T02:00:00Z'),
  ];
  await withReport(t, [stepped(), ...capacity], async ({ page }) => {
    const data = JSON.parse((await page.locator('#c1m-data').textContent()) ?? '') as { charts: Array<{ id: string }> };
    const specs = data.charts.map((c) => c.id);
    for (const id of ['r1-steps-throughput', 'r1-steps-cpu-per-op', 'r1-steps-cpu', 'r1-load-latency', 'r1-nines-1', 'r1-nines-2', 'r1-nines-3', 's2-per-conn-user', 's2-per-conn-kernel']) {
      assert.ok(specs.includes(id), `${id} in ${specs.join(', ')}`);
    }
    assert.equal(await page.getAttribute('body', 'data-charts-drawn'), String(specs.length));
    for (const id of specs) assert.equal(await count(page, id, '.plot svg'), 1, `${id} has a chart`);

    // Three steps × two contenders; the two open loops' offered rates; reps as dots.
    assert.equal(await count(page, 'r1-steps-throughput', 'g.c1m-bar rect'), 6);
    assert.equal(await count(page, 'r1-steps-throughput', 'g.c1m-offered line'), 2);
    assert.equal(await count(page, 'r1-steps-throughput', 'g.c1m-rep circle'), 12);
    // Server user + kernel and the driver, per contender and step; the client-bound line in each step.
    assert.equal(await count(page, 'r1-steps-cpu', 'g.c1m-bar rect'), 18);
    assert.equal(await count(page, 'r1-steps-cpu', 'g.c1m-threshold line'), 3);
    assert.equal(await count(page, 'r1-load-latency', 'g.c1m-load-latency path'), 4, 'p50 and p99 per contender');
    assert.equal(await count(page, 'r1-nines-3', 'g.c1m-nines path'), 2);
    assert.equal(await count(page, 'r1-nines-3', 'g.c1m-nines-rep path'), 4);
    assert.equal(await count(page, 'r1-nines-3', 'text:has-text("99.9%")'), 1, 'the nines axis is labelled');
    // Capacity: three lines to a million connections, each listed once in a table of its own.
    assert.equal(await count(page, 's2-per-conn-user', 'g.c1m-per-conn path'), 3);
    assert.equal(await count(page, 's2-per-conn-user', 'text:has-text("1M")'), 1, 'the axis reaches 1M');
    assert.equal(await page.locator('#s2 table.lone tbody tr').count(), 3);
    assert.equal(await page.locator('#s2 table.compare').count(), 0, 'no sparse side-by-side table');

    if (process.env['C1M_SCREENSHOT']) await page.screenshot({ path: process.env['C1M_SCREENSHOT'].replace(/\.png$/, '-steps.png'), fullPage: true });
  });
});
