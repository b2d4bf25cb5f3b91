// Writes results/schema/c1m.result-1.schema.json from the one definition of the result file
// (src/results/schema.ts): `npm run schema`, which builds first. test/results-schema.test.ts
// fails while the committed file differs from what the definition generates.
import { writeFileSync } from 'node:fs';
import { SCHEMA_FILE, resultSchemaText } from '../dist/src/results/schema.js';

writeFileSync(SCHEMA_FILE, resultSchemaText());
console.log(`${SCHEMA_FILE} regenerated from src/results/schema.ts`);
