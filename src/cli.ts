#!/usr/bin/env node
// `node dist/src/cli.js`, the path the docs and `npm start` name: runs the CLI of src/cli/main.ts
// (the package's bin) when it is the entry point.
import { runIfEntry } from './cli/main.js';
await runIfEntry(import.meta.url);
