// Writes results/schema/c1m.result-1.schema.json from the one definition of the result file
// (src/results/schema.ts), and results/schema/c1m.conform-1.schema.json from the conformance
// file's (src/conform/schema.ts): `npm run schema`, which builds first. test/results.test.ts and
// test/conform.test.ts fail while a committed file differs from what its definition generates.
import { writeFileSync } from 'node:fs';
import { SCHEMA_FILE, resultSchemaText } from '../dist/src/results/schema.js';
import { CONFORM_SCHEMA_FILE, conformSchemaText } from '../dist/src/conform/schema.js';

writeFileSync(SCHEMA_FILE, resultSchemaText());
console.log(`${SCHEMA_FILE} regenerated from src/results/schema.ts`);
writeFileSync(CONFORM_SCHEMA_FILE, conformSchemaText());
console.log(`${CONFORM_SCHEMA_FILE} regenerated from src/conform/schema.ts`);
