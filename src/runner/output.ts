// Writing a run's result: the JSON file (checked against the contract before it is written, so
// a runner bug cannot leave a file that reports refuse) and the HTML report beside it.

import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { renderHtml } from '../report/html.js';
import { renderTerminal } from '../report/terminal.js';
import type { C1mResult, LoadedResult } from '../results/schema.js';
import { validateResult } from '../results/validate.js';

/** 2025-11-20T14:02:11.123Z → 2025-11-20T14-02-11Z: sorts by time, safe in every file system. */
export function fileTimestamp(iso: string): string {
  return iso.replace(/\.\d+Z$/, 'Z').replaceAll(':', '-');
}

/** results/<scenario>/<UTC timestamp>.json under root. */
export function defaultResultPath(scenario: string, startedAt: string, root = 'results'): string {
  return join(root, scenario, `${fileTimestamp(startedAt)}.json`);
}

/** The HTML report's path beside a result file: x.json → x.html. */
export function htmlPathFor(jsonPath: string): string {
  return jsonPath.endsWith('.json') ? `${jsonPath.slice(0, -5)}.html` : `${jsonPath}.html`;
}

/**
 * Writes text to path whole or not at all (a temporary file renamed over it), creating the
 * folder first: every file a command writes (--out, --html, --md, --capacity-md) goes here.
 */
export function writeAtomic(path: string, text: string): void {
  mkdirSync(dirname(path) || '.', { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

/** Validates and writes the result; returns it as a LoadedResult for the reports. */
export function writeResult(result: C1mResult, path: string): LoadedResult {
  const text = `${JSON.stringify(result, null, 2)}\n`;
  // Through JSON first: what is checked is exactly what a reader will get.
  validateResult(JSON.parse(text) as unknown, path);
  writeAtomic(path, text);
  return { file: path, result };
}

export function writeHtmlReport(loaded: LoadedResult, path: string, baseline = 'net'): void {
  writeAtomic(path, renderHtml([loaded], { baseline, title: `c1m ${loaded.result.scenario}` }));
}

export function terminalSummary(loaded: LoadedResult, baseline = 'net', width?: number): string {
  return renderTerminal([loaded], width === undefined ? { baseline } : { baseline, width });
}
