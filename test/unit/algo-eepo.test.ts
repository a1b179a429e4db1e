/**
 * EEPO (sample-then-forget): the façade (algorithms/referenceExplore.ts → algorithms/eepo.ts) against float64 Python
 * written from the paper's description (test/fixtures/eepo_ghpo_delta_ref.py → eepo-ghpo-delta-reference.json:
 * complementary loss −log(1 − p) with p ≤ 1 − 1e-6, its analytic gradient for a tabular softmax policy, one SGD step),
 * then the two-stage rollout on a real GPT: the unlearning step lowers the first-stage samples' likelihood, the
 * weights come back bit for bit, no tensor leaks, and a run records stages and the eepo_forget trace.
 * Tolerance: |got − want| ≤ 2e-5 + 2e-5·|want| (float32 against float64); gradients 1e-6 + 1e-4·|want|.
 */
import { before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as R from '../../src/trainer/algorithms/reference';
import { eepoStageSizes, eepoTrigger } from '../../src/trainer/algorithms/eepo';
import { initBackend } from '../../src/trainer/backend';
import { GPT } from '../../src/trainer/model/gpt';
import { CharTokenizer } from '../../src/trainer/tokenizer';
import { createTask } from '../../src/trainer/tasks';
import { rlTaskFrom } from '../../src/trainer/rl/types';
import { eepoGenerate } from '../../src/trainer/rl/eepo';
import { runRl } from '../../src/trainer/rl/loop';
import { resolveRlConfig } from '../../src/trainer/rl/config';
import { Rng } from '../../src/trainer/rng';

const fx = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'fixtures', 'eepo-ghpo-delta-reference.json'), 'utf8'));
const close = (got: number, want: number, what: string, abs = 2e-5, rel = 2e-5) =>
  assert.ok(Number.isFinite(got) && Math.abs(got - want) <= abs + rel * Math.abs(want), `${what}: got ${got}, want ${want}`);

before(async () => { await initBackend('cpu'); });

test('eepoForgetLoss = float64 reference (complementary loss per token and token mean; p = 1 clamped; junk padding ignored)', () => {
  for (const [k, c] of fx.eepoLoss.entries()) {
    const junk = c.logprobs.map((r: (number | null)[]) => r.map((v) => (v === null ? NaN : v)));
    const r = R.eepoForgetLoss({ logprobs: junk, mask: c.mask });
    close(r.loss, c.loss, `case ${k} loss`);
    c.perToken.forEach((row: number[], b: number) => row.forEach((w, t) => close(r.perToken[b][t], w, `case ${k} ℓ[${b}][${t}]`)));
  }
  // the clamp case really is in the fixture: ℓ = −log(1 − float32(1 − 1e-6)) ≈ 13.80
  assert.ok(Math.abs(fx.eepoLoss[2].perToken[0][0] - 13.8023) < 1e-3);
});

test('eepoUnlearnStep = analytic gradient p/(1−p)·(1[v=y] − π_v) and the step lowers every valid token\'s log-prob', () => {
  for (const [k, c] of fx.eepoStep.entries()) {
    const r = R.eepoUnlearnStep({ logits: c.logits, tokens: c.tokens, mask: c.mask, lr: c.lr });
    close(r.loss, c.loss, `case ${k} loss`);
    c.grad.forEach((bt: number[][], b: number) => bt.forEach((v: number[], t: number) => v.forEach((w, j) => close(r.grad[b][t][j], w, `case ${k} ∇[${b}][${t}][${j}]`, 1e-6, 1e-4))));
    c.logprobsAfter.forEach((row: number[], b: number) => row.forEach((w, t) => {
      close(r.logprobsAfter[b][t], w, `case ${k} after[${b}][${t}]`, 5e-5, 5e-5);
      if (c.mask[b][t]) assert.ok(r.logprobsAfter[b][t] < r.logprobsBefore[b][t], `case ${k}: token [${b}][${t}] must become less likely`);
      else assert.equal(r.grad[b][t].every((g) => g === 0), true, 'padding gets no gradient');
    }));
  }
  // collapsed policy (case 1): the push on a dominant token is larger than on a token of a flatter one (case 0)
  const push = (c: { logprobsBefore: number[][]; logprobsAfter: number[][] }) => c.logprobsBefore[0][0] - c.logprobsAfter[0][0];
  assert.ok(push(fx.eepoStep[1]) > push(fx.eepoStep[0]), 'high-probability tokens are suppressed most');
});

test('trigger and stage sizes', () => {
  assert.equal(eepoTrigger(0.5, null), true);
  assert.equal(eepoTrigger(0.5, 0.4), false);
  assert.equal(eepoTrigger(0.3, 0.4), true);
  assert.deepEqual(eepoStageSizes(8), [4, 4]);
  assert.deepEqual(eepoStageSizes(5), [3, 2]);
});

test('two-stage rollout on a GPT: unlearning lowers the first-stage likelihood, weights restored exactly, no leak', () => {
  const tok = new CharTokenizer();
  const policy = GPT.create({ vocabSize: tok.size, contextLength: 16, dModel: 16, nHeads: 2, nLayers: 1 }, 5);
  const w0 = policy.trainableVariables().map((v) => Array.from(v.dataSync()));
  const prompts = ['2+3=', '4+4='].flatMap((p) => Array(4).fill(tok.encode(p, { bos: true })));
  const cfg = { enabled: true, entropyThreshold: null, lr: 0.5, clip: 10 };
  eepoGenerate(policy, prompts, 4, { maxNewTokens: 4, temperature: 1, rng: new Rng(2) }, cfg);   // first call: backend constants
  policy.trainableVariables().forEach((v, i) => assert.deepEqual(Array.from(v.dataSync()), w0[i], `${v.name} restored`));
  const n0 = tf.memory().numTensors;
  const g = eepoGenerate(policy, prompts, 4, { maxNewTokens: 4, temperature: 1, rng: new Rng(1) }, cfg);
  assert.equal(tf.memory().numTensors, n0, 'no tensor left behind');
  assert.deepEqual(g.stage, [1, 1, 2, 2, 1, 1, 2, 2]);
  assert.equal(g.metrics['eepo/triggered'], 1);
  assert.ok(g.metrics['eepo/stage1_logprob_drop'] > 0, `the step lowers the stage-1 log-prob (drop ${g.metrics['eepo/stage1_logprob_drop']})`);
  policy.trainableVariables().forEach((v, i) => assert.deepEqual(Array.from(v.dataSync()), w0[i], `${v.name} restored`));
  g.forgetLoss.forEach((r, i) => { assert.equal(r.length, g.tokens[i].length); if (g.stage[i] === 2) assert.ok(r.every((x) => x === 0)); else assert.ok(r.every((x) => x > 0)); });
  // gated off: τ below the entropy → one ordinary generation, nothing unlearned
  const off = eepoGenerate(policy, prompts, 4, { maxNewTokens: 4, temperature: 1, rng: new Rng(1) }, { enabled: true, entropyThreshold: 1e-3, lr: 0.5, clip: 10 });
  assert.equal(off.metrics['eepo/triggered'], 0);
  policy.dispose();
});

test('a run with rl.eepo: stages on the samples, eepo_forget in the per-token trace, eepo/* metrics, numTensors stable', async () => {
  const tok = new CharTokenizer();
  const task = rlTaskFrom(createTask('arithmetic', { difficulty: 1 }));
  const policy = GPT.create({ vocabSize: tok.size, contextLength: 16, dModel: 16, nHeads: 2, nLayers: 1 }, 3);
  const ref = policy.clone(false);
  const seen: { arrays: string[]; stages: unknown[] }[] = [];
  const res = await runRl({ policy, ref, tokenizer: tok, task, seed: 3 }, 'grpo', { steps: 3, promptsPerStep: 2, groupSize: 4, maxNewTokens: 4, eval: { every: 0 }, eepo: { enabled: true } }, {
    rollout: (_s, r) => seen.push({ arrays: r.header.arrays, stages: r.samples.map((s) => s.eepoStage) }),
  });
  assert.ok(seen[0].arrays.includes('eepo_forget'), `arrays ${seen[0].arrays}`);
  assert.deepEqual(seen[0].stages, [1, 1, 2, 2, 1, 1, 2, 2]);
  assert.equal(res.metrics[0]['eepo/triggered'], 1);
  const counts = res.metrics.map((m) => m['num_tensors']);
  assert.equal(counts[2], counts[1], `numTensors ${counts}`);
  policy.dispose(); ref.dispose();
});

test('config: rl.eepo fields validated with the field named', () => {
  assert.throws(() => resolveRlConfig('grpo', { eepo: { lr: -1 } }), /rl\.eepo\.lr/);
  assert.throws(() => resolveRlConfig('grpo', { eepo: { entropyThreshold: 'x' } }), /rl\.eepo\.entropyThreshold/);
  assert.equal(resolveRlConfig('grpo', {}).eepo.enabled, false);
});
