/**
 * Training-Free GRPO runs (src/trainer/rl/trainingFree.ts): a 2-step run writes the library per step and changes no
 * weight (the checkpoint after the warm start and the final one hold the same tensor bytes); a user extractor module
 * is used in a trusted workspace and refused in an untrusted one; config errors name the field.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const tiny = (over: Record<string, unknown> = {}) => ({
  algorithm: 'tfgrpo', seed: 3, backend: 'cpu', task: { name: 'calc-tool', difficulty: 2 },
  model: { dModel: 16, nHeads: 2, nLayers: 1, contextLength: 64 },
  sampling: { temperature: 1, maxNewTokens: 12 },
  eval: { numPrompts: 4, samplesPerPrompt: 2, k: [1, 2], temperature: 1 },
  checkpoint: { every: 0 }, rollouts: { every: 1, maxSamples: 40 },
  rl: { env: { maxTurns: 3, maxTokens: 36 } },
  ...over,
  tfgrpo: { trainSize: 8, batchSize: 4, groupSize: 4, epochs: 1, warmStart: { steps: 5, batchSize: 8, lr: 0.003, demoNoise: 0.5 }, ...((over.tfgrpo as object) ?? {}) },
});

/** The tensor bytes of a safetensors file (everything after the JSON header, whose metadata names the step). */
function tensorBytes(file: string): { header: Record<string, unknown>; data: Buffer } {
  const b = fs.readFileSync(file);
  const n = Number(b.readBigUInt64LE(0));
  const header = JSON.parse(b.subarray(8, 8 + n).toString('utf8')) as Record<string, unknown>;
  delete header.__metadata__;
  return { header, data: b.subarray(8 + n) };
}

// a user extractor: adds "?a+b=" once, then proposes a modify of it to "?a+b=c c"; summaries count the turns
const EXTRACTOR = `let n = 0;
module.exports = {
  name: 'scripted',
  summarize: (r) => 'turns ' + r.turns.length,
  critique: async ({ group, summaries, library }) => {
    if (!summaries.every((s) => /^turns \\d+$/.test(s))) throw new Error('summaries not passed: ' + JSON.stringify(summaries));
    n++;
    if (!library.length) return [{ op: 'add', text: '?a+b=', rationale: 'scripted add from ' + group.id }];
    return [{ op: 'modify', id: library[0].id, text: n % 2 ? '?a+b=c c' : '?a+b=', rationale: 'scripted modify' }, { op: 'add', text: 'never used', rationale: 'beyond maxOperations' }];
  },
};`;

test('tfgrpo: a 2-step run records the library per step (experiences.jsonl, rollouts headers, metrics) and changes no weight', async () => {
  await import('../../src/trainer/plugins');
  const { runTraining } = await import('../../src/trainer/engine');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tfgrpo-run-'));
  fs.writeFileSync(path.join(dir, 'extractor.js'), EXTRACTOR);
  // the module path is relative to the config file
  fs.writeFileSync(path.join(dir, 'c.rllens.json'), JSON.stringify(tiny({ tfgrpo: { extractor: { module: 'extractor.js' } } })));
  const { loadConfigFile } = await import('../../src/trainer/config');
  const cfg = loadConfigFile(path.join(dir, 'c.rllens.json'));
  assert.equal((cfg.tfgrpo as { extractor: { module: string } }).extractor.module, path.join(dir, 'extractor.js'));
  const out = path.join(dir, 'run');
  const res = await runTraining(cfg, { outDir: out, trusted: true });
  assert.equal(res.status, 'completed', res.error);
  assert.equal(res.step, 2);
  // weights: identical tensor bytes after the warm start (step 0, sft) and at the end
  const a = tensorBytes(path.join(out, 'checkpoints', 'step_00000000_sft', 'model.safetensors'));
  const b = tensorBytes(path.join(out, 'checkpoints', 'step_00000002_final', 'model.safetensors'));
  assert.deepEqual(a.header, b.header);
  assert.ok(a.data.length > 1000);
  assert.ok(a.data.equals(b.data), 'the final checkpoint\'s tensors differ from the warm-started ones: something was trained');
  // the library per step
  const recs = fs.readFileSync(path.join(out, 'experiences.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(recs.length, 2);
  assert.deepEqual(recs.map((r) => [r.step, r.epoch, r.batch, r.extractor]), [[1, 1, 1, 'scripted'], [2, 1, 2, 'scripted']]);
  assert.deepEqual(recs[0].seen, []);
  // step 2's rollouts saw the library step 1 left
  assert.deepEqual(recs[1].seen, recs[0].library);
  for (const r of recs) {
    // at most one operation per compared group (maxOperations 1): the scripted second op is never used
    assert.equal(r.ops.length, r.selectedGroups.length);
    assert.ok(r.ops.every((o: { group: string; text?: string }) => r.selectedGroups.includes(o.group) && o.text !== 'never used'));
  }
  assert.ok(recs[0].selectedGroups.length > 0, 'no group with reward variance at step 1 (seed 3): the test needs one');
  assert.deepEqual(recs[0].library, [{ id: '0', text: '?a+b=' }]);
  // later adds of the same text become keeps of id 0, and the first op is the add from the first compared group
  assert.deepEqual([recs[0].ops[0].op, recs[0].ops[0].id, recs[0].ops[0].applied], ['add', '0', true]);
  assert.ok(recs[0].ops.slice(1).every((o: { op: string; id: string }) => o.op === 'keep' && o.id === '0'));
  // the rollouts' prompts carry the library they saw; the header lists it and the step's operations
  const { readRolloutStep } = await import('../../src/runio/reader');
  const st2 = readRolloutStep(out, 2);
  assert.deepEqual(st2.header.experiences, recs[1].seen);
  assert.equal((st2.header.experienceOps as unknown[]).length, recs[1].ops.length);
  assert.ok(st2.samples.every((s) => s.prompt.startsWith('?a+b= ')), 'step 2 prompts start with the library');
  // metrics: library size after each step, ops counts; the paired eval with and without the library
  const m = fs.readFileSync(path.join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const train = m.filter((r) => r.split === 'train');
  assert.deepEqual(train.map((r) => r.values['tfgrpo/library_size']), [1, 1]);
  assert.equal(train[0].values['tfgrpo/ops/add'], 1);
  // the run's eval is the policy = model + library; the model alone beside it (same seed), in both files
  const ev = m.filter((r) => r.split === 'eval');
  assert.deepEqual(ev.map((r) => r.step), [0, 2], 'one eval line per paired eval; no engine final eval of the model alone');
  // at step 0 the library is empty: with = without
  assert.equal(ev[0].values['eval/pass@1'], ev[0].values['eval/pass@1_no_library']);
  assert.equal(ev[1].values['eval/pass@1_gain'], ev[1].values['eval/pass@1'] - ev[1].values['eval/pass@1_no_library']);
  assert.equal(typeof ev[1].values['eval/pass@1_blank_prefix'], 'number');
  const evals = fs.readFileSync(path.join(out, 'eval.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(evals.map((e) => e.step), [0, 2]);
  evals.forEach((e, i) => {
    assert.equal(e.passAtK['1'], ev[i].values['eval/pass@1']);
    assert.deepEqual([e.baseline.name, e.baseline.passAtK['1'], e.baseline.meanReward], ['no_library', ev[i].values['eval/pass@1_no_library'], ev[i].values['eval/reward/mean_no_library']]);
  });
  // the frozen model alone: the same number at every eval (one seed)
  assert.deepEqual(evals[1].baseline.passAtK, evals[0].baseline.passAtK);
  assert.equal(evals[0].passAtK['1'], evals[0].baseline.passAtK['1']);
  // the eval items carry the prompts with the library (step 2: the library is non-empty)
  assert.ok(evals[1].items[0].prompt.startsWith('?a+b='), evals[1].items[0].prompt);
  // the final checkpoint's eval is the with-library eval of the last step
  const fin = JSON.parse(fs.readFileSync(path.join(out, 'checkpoints', 'step_00000002_final', 'checkpoint.json'), 'utf8'));
  assert.deepEqual(fin.eval.passAtK, evals[1].passAtK);
  assert.deepEqual(res.lastEval?.passAtK, evals[1].passAtK);
  // the step-0 model-alone number is what the engine's eval (evaluatePassAtK, seed ^ 0x5eed) gives for the same model
  const { evaluatePassAtK } = await import('../../src/trainer/engine');
  const { loadCheckpoint } = await import('../../src/trainer/checkpoint');
  const { createTask } = await import('../../src/trainer/tasks');
  const { Rng } = await import('../../src/trainer/rng');
  const ck = loadCheckpoint(path.join(out, 'checkpoints', 'step_00000000_sft'), { trainable: false });
  const alone = evaluatePassAtK(ck.model, ck.tokenizer, createTask(cfg.task.name, cfg.task), cfg, new Rng(cfg.seed ^ 0x5eed), 0);
  ck.model.dispose();
  assert.deepEqual(alone.passAtK, evals[0].baseline.passAtK);
  const lib = JSON.parse(fs.readFileSync(path.join(out, 'library.json'), 'utf8'));
  assert.deepEqual(lib.experiences, recs[1].library);
  // the run directory validates against the schema
  const { validateRun } = await import('../../src/cli/validate');
  const problems = validateRun(out);
  assert.deepEqual(problems, []);
});

test('tfgrpo: the extractor module is refused in an untrusted workspace; config errors name the field', async () => {
  const { resolveConfig, ConfigError } = await import('../../src/trainer/config');
  await import('../../src/trainer/plugins');
  const { runTraining } = await import('../../src/trainer/engine');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tfgrpo-cfg-'));
  const mod = path.join(dir, 'x.js');
  fs.writeFileSync(mod, EXTRACTOR);
  const res = await runTraining(resolveConfig(tiny({ tfgrpo: { extractor: { module: mod } } })), { outDir: path.join(dir, 'u'), trusted: false });
  assert.equal(res.status, 'failed');
  assert.match(res.error!, /tfgrpo\.extractor\.module: refusing to load .*not trusted/);
  assert.equal(fs.existsSync(path.join(dir, 'u', 'checkpoints', 'step_00000000_sft')), false, 'nothing ran before the refusal');
  const bad = path.join(dir, 'bad.js');
  fs.writeFileSync(bad, 'module.exports = { name: "b" };');
  const r2 = await runTraining(resolveConfig(tiny({ tfgrpo: { extractor: { module: bad } } })), { outDir: path.join(dir, 'b'), trusted: true });
  assert.match(r2.error!, /extractor\.critique must be a function/);
  const errOf = (c: Record<string, unknown>) => { try { resolveConfig(c); } catch (e) { assert.ok(e instanceof ConfigError, String(e)); return (e as Error).message; } return ''; };
  assert.match(errOf(tiny({ tfgrpo: { batchSize: 16 } })), /tfgrpo\.batchSize: must be ≤ tfgrpo\.trainSize \(8\), got 16/);
  assert.match(errOf(tiny({ tfgrpo: { groupSize: 1 } })), /tfgrpo\/groupSize|tfgrpo\.groupSize/);
  assert.match(errOf(tiny({ rl: { promptsPerStep: 4 } })), /rl\.promptsPerStep: algorithm tfgrpo reads only rl\.env/);
  assert.match(errOf(tiny({ task: { name: 'arithmetic', difficulty: 1 } })), /task\.name: tfgrpo runs multi-turn episodes/);
  // the library must fit the context: 64 − (BOS + 9) − 36 = 18 tokens of room
  const r3 = await runTraining(resolveConfig(tiny({ tfgrpo: { maxLibraryTokens: 30 } })), { outDir: path.join(dir, 'c'), trusted: true });
  assert.match(r3.error!, /tfgrpo\.maxLibraryTokens: 30 does not fit: model\.contextLength 64 − the longest problem with BOS \(\d+\) − rl\.env\.maxTokens \(36\) leaves \d+/);
});

test('tfgrpo: the plan in the log says when train.steps caps the epochs', async () => {
  const { tfgrpoPlan } = await import('../../src/trainer/rl/trainingFree');
  // 30 epochs × ⌈32 / 8⌉ = 4 batches = 120 steps, train.steps 4
  assert.equal(tfgrpoPlan({ epochs: 30, trainSize: 32, batchSize: 8 }, 4), '32 training problems, 30 epoch(s) × 4 batches of 8 (4 steps: train.steps 4 caps the 120 the epochs would take)');
  // 3 × ⌈30 / 8⌉ = 3 × 4 = 12 ≤ 100: no cap
  assert.equal(tfgrpoPlan({ epochs: 3, trainSize: 30, batchSize: 8 }, 100), '30 training problems, 3 epoch(s) × 4 batches of 8 (12 steps)');
  assert.equal(tfgrpoPlan({ epochs: 3, trainSize: 32, batchSize: 8 }), '32 training problems, 3 epoch(s) × 4 batches of 8 (12 steps)');
});
