// One declaration per algorithm family's config (src/trainer/fields.ts): the schema, the defaults and docs/config.md
// all come from it. docs/config.md must be what scripts/gen-config-docs.ts writes (regenerate: npm run docs:config).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { CONFIG_DOC, configDocsBlock, renderConfigDoc } from '../../scripts/gen-config-docs';
import { fieldRows } from '../../src/trainer/fields';
import { RL_ALGORITHMS, RL_FIELDS, RL_SECTION_SCHEMA, resolveRlConfig, rlSectionDefaults } from '../../src/trainer/rl/config';
import { PREFERENCE_FIELDS, PREFERENCE_METHODS, preferenceDefaults } from '../../src/trainer/preference/train';
import { configSchema } from '../../src/trainer/config';
import '../../src/trainer/plugins';

test('docs/config.md holds the generated field tables (npm run docs:config)', () => {
  const doc = fs.readFileSync(CONFIG_DOC, 'utf8');
  assert.equal(doc, renderConfigDoc(doc), 'docs/config.md is out of date: run npm run docs:config');
  assert.ok(doc.includes(configDocsBlock()));
});

test('every rl field is documented with a type, a meaning and a default; the shipped rl schema is the declaration', () => {
  const rows = fieldRows(RL_FIELDS);
  const doc = fs.readFileSync(CONFIG_DOC, 'utf8');
  for (const r of rows) {
    assert.ok(r.doc.length > 10, `rl.${r.path}: meaning`);
    assert.ok(r.default !== undefined || r.defaultNote, `rl.${r.path}: default`);
    assert.ok(doc.includes(`| \`rl.${r.path}\` |`), `docs/config.md lacks rl.${r.path}`);
    for (const a of Object.keys(r.byAlgorithm ?? {})) assert.ok((RL_ALGORITHMS as readonly string[]).includes(a), `rl.${r.path}: unknown algorithm ${a}`);
  }
  for (const k of ['gamma', 'lambda']) assert.ok(RL_FIELDS[k].ref && RL_FIELDS[k].doc, `rl.${k} documented`);
  assert.deepEqual(configSchema().properties.rl, RL_SECTION_SCHEMA);
  assert.equal('traces' in (RL_SECTION_SCHEMA.properties as object), false);
  // the defaults a run gets are the resolved RlConfig defaults (one declaration for both)
  for (const a of RL_ALGORITHMS) {
    const sec = rlSectionDefaults(a), rc = resolveRlConfig(a, { maxNewTokens: 8 });
    for (const k of ['advantage', 'policyLoss', 'clipLow', 'clipHigh', 'dualClip', 'lossAgg', 'gamma', 'lambda', 'groupSize', 'miniBatches', 'ppoEpochs'] as const) assert.deepEqual(sec[k], rc[k], `${a} rl.${k}`);
    assert.deepEqual(sec.kl, rc.kl, `${a} rl.kl`);
  }
});

test('preference sections: schema defaults and preferenceDefaults come from PREFERENCE_FIELDS', () => {
  const schema = configSchema();
  for (const m of PREFERENCE_METHODS) {
    const props = schema.properties[m].properties as Record<string, { default?: unknown }>;
    const d = preferenceDefaults(m);
    assert.equal(props.beta.default, d.beta, `${m}.beta`);
    assert.equal(props.beta.default, m === 'simpo' ? 2 : 0.1);
    for (const [k, f] of Object.entries(PREFERENCE_FIELDS)) assert.equal(k in props, !f.only || f.only.includes(m), `${m}.${k} present iff declared for ${m}`);
  }
});
