/**
 * Writes the shipped JSON Schemas from their TypeScript sources:
 *   schemas/config.schema.json      base config schema + the config sections of every registered algorithm
 *   schemas/run-format.schema.json  the run directory's JSON parts (runSchema.ts)
 * Run after changing an algorithm's configSchema:  npx tsx src/trainer/schemaGen.ts
 * (test/unit/trainer-config.test.ts fails when the shipped files are out of date).
 */
import * as fs from 'fs';
import * as path from 'path';
import { configSchema } from './config';
import './plugins';
import { RUN_FORMAT_SCHEMA } from './runSchema';

export function schemaFiles(): Record<string, string> {
  return {
    'config.schema.json': JSON.stringify(configSchema(), null, 2) + '\n',
    'run-format.schema.json': JSON.stringify(RUN_FORMAT_SCHEMA, null, 2) + '\n',
  };
}

if (require.main === module) {
  const dir = path.resolve(__dirname, '..', '..', 'schemas');
  fs.mkdirSync(dir, { recursive: true });
  for (const [name, text] of Object.entries(schemaFiles())) {
    fs.writeFileSync(path.join(dir, name), text);
    process.stdout.write(`wrote schemas/${name}\n`);
  }
}
