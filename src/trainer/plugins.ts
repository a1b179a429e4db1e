/**
 * Every algorithm module is imported here once, so that it registers itself (registry.ts) with its presets
 * (presets.ts) and config sections. Imported only by entry points: src/cli/main.ts, schemaGen.ts, tests.
 * config.ts and engine.ts never import it (test/unit/structure-imports.test.ts checks there is no import cycle).
 * To add one: `import './algorithms/register';` (or your module's file) — one line per module family.
 */
import './sft';
import './preference';
import './preference/offline';
import './rl/register';
import './rl/trainingFree';
