// Writing a conformance result: the JSON file (checked against its schema first, so a bug cannot
// leave a file that readers refuse) and its HTML page beside it, both written whole or not at all.

import { fileTimestamp, htmlPathFor, writeAtomic } from '../runner/output.js';
import { renderConformHtml } from './page.js';
import { validateConform, type ConformResult } from './schema.js';

/** results/conform/<UTC timestamp>.json under root. */
export function defaultConformPath(startedAt: string, root = 'results'): string {
  return `${root}/conform/${fileTimestamp(startedAt)}.json`;
}

/** Validates and writes the result and its page; returns the page's path. */
export function writeConformResult(result: ConformResult, path: string, htmlPath = htmlPathFor(path)): string {
  const text = `${JSON.stringify(result, null, 2)}\n`;
  validateConform(JSON.parse(text) as unknown, path);
  writeAtomic(path, text);
  writeAtomic(htmlPath, renderConformHtml(result));
  return htmlPath;
}
