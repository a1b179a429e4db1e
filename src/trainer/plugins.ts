/**
 * Every algorithm module is imported here once, so that it registers itself (registry.ts).
 * To add one: `import './algorithms/register';` (or your module's file) — one line per module family.
 */
import './sft';
import './preference';
import './rl/register';
