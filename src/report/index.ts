// What `c1m report` needs: load files, then render them three ways.

export { loadResults, type LoadResults } from '../results/load.js';
export { validateResult, ResultValidationError } from '../results/validate.js';
export { renderHtml, type HtmlOptions } from './html.js';
export { renderMarkdown, type MarkdownOptions } from './markdown.js';
export { renderTerminal, type TerminalOptions } from './terminal.js';
