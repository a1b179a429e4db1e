// Learning checks (each well under 90 s on 2 cores, wasm backend as the CLI uses it): the reward model reaches clearly better than chance
// held-out accuracy on the built-in arithmetic preference set; DPO raises held-out preference accuracy and the
// chosen-vs-rejected margin. Both use the trainer's real model, tasks and data code (no mocks).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/trainer/backend';
import { CharTokenizer } from '../../src/trainer/tokenizer';
import { createTask } from '../../src/trainer/tasks';
import { builtinPreferenceData } from '../../src/trainer/preference';
import { PreferenceTrainer, preferenceDefaults } from '../../src/trainer/preference/train';
import { RewardModelTrainer, createRewardModel, rewardModelDefaults, scoreWithRewardModel } from '../../src/trainer/preference/rewardModel';
import { hiddenScore, type PairRecord, type RankingRecord } from '../../src/trainer/preference/data';
import { GPT } from '../../src/trainer/model/gpt';

const tok = new CharTokenizer();
const task = createTask('arithmetic', { difficulty: 2 });
const modelCfg = { vocabSize: tok.size, contextLength: 16, dModel: 32, nHeads: 2, nLayers: 2 };

test('reward model (K-wise ranking loss): held-out pair accuracy clearly above chance, ranks by the hidden score', async () => {
  await initBackend('wasm');
  const data = builtinPreferenceData(task, 'ranking', { count: 300, evalCount: 60, k: 4, flipProb: 0, seed: 7 });
  const model = createRewardModel({ ...modelCfg, nLayers: 1 }, 3);
  const t0 = Date.now();
  const trainer = new RewardModelTrainer({
    hp: { ...rewardModelDefaults(), steps: 50, batchSize: 8, lr: 3e-3, evalEvery: 0 },
    model, tokenizer: tok, train: data.train as RankingRecord[], trainKind: 'ranking', eval: data.eval as PairRecord[], seed: 1,
  });
  const before = trainer.evaluate();
  // the model caches one causal mask per sequence length: create them all first, so that any growth below is a leak
  for (let T = 2; T <= modelCfg.contextLength; T++) tf.tidy(() => model.forward(tf.zeros([1, T], 'int32') as tf.Tensor2D).logits);
  const tensors0 = tf.memory().numTensors;
  trainer.trainStep();
  const tensors1 = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) trainer.trainStep();
  assert.equal(tf.memory().numTensors, tensors1, 'no tensor leak across steps');
  const r = { ...trainer.run(), before };
  const secs = (Date.now() - t0) / 1000;
  console.log(`RM: held-out accuracy ${r.before['eval/rm/accuracy'].toFixed(3)} → ${r.after['eval/rm/accuracy'].toFixed(3)}, margin ${r.before['eval/rm/margin'].toFixed(3)} → ${r.after['eval/rm/margin'].toFixed(3)}, loss ${r.before['eval/rm/loss'].toFixed(3)} → ${r.after['eval/rm/loss'].toFixed(3)} (${trainer.evalSize} pairs, ${secs.toFixed(1)} s; tensors before training ${tensors0})`);
  // zero scalar head at the start: every reward 0, so accuracy (strict >) 0 and loss ln 2
  assert.equal(r.before['eval/rm/accuracy'], 0);
  assert.ok(Math.abs(r.before['eval/rm/loss'] - Math.LN2) < 1e-5);
  assert.ok(r.after['eval/rm/accuracy'] >= 0.75, `held-out accuracy ${r.after['eval/rm/accuracy']} must be ≥ 0.75 (chance 0.5)`);
  assert.ok(r.after['eval/rm/loss'] < r.before['eval/rm/loss'] - 0.1, 'held-out BT loss must fall');
  assert.ok(r.after['eval/rm/margin'] > 0.2, 'positive held-out margin');
  // the scorer used as a reward: correct+concise > verbose > wrong on held-out prompts, on average
  const prompts = (data.eval as PairRecord[]).slice(0, 20);
  const answers = prompts.map((p) => p.chosen); // the built-in chosen completion is the exact answer (score 1)
  const s = (f: (a: string) => string) => scoreWithRewardModel(model, tok, prompts.map((p, i) => ({ prompt: p.prompt, completion: f(answers[i]) })));
  const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
  const good = mean(s((a) => a)), verbose = mean(s((a) => a + a[0] + a[0] + a[0]));
  assert.ok(answers.every((a) => hiddenScore(a, a) === 1));
  assert.ok(good > verbose, `RM score of exact answers ${good} must beat verbose ones ${verbose}`);
  trainer.dispose();
  model.dispose();
});

test('DPO raises held-out preference accuracy and the chosen-vs-rejected margin; traces carry per-token implicit rewards', async () => {
  await initBackend('wasm');
  const data = builtinPreferenceData(task, 'pairwise', { count: 300, evalCount: 40, k: 4, flipProb: 0, seed: 11 });
  const policy = GPT.create({ ...modelCfg, nLayers: 1 }, 5);
  const traces: { samples: { role?: string; pair?: string; length: number }[]; arrays: Record<string, number[]>[] }[] = [];
  const t0 = Date.now();
  const trainer = new PreferenceTrainer({
    method: 'dpo', hp: { ...preferenceDefaults('dpo'), steps: 40, batchSize: 16, lr: 3e-3, evalEvery: 0, traceEvery: 20, tracePairs: 4 },
    policy, tokenizer: tok, train: data.train as PairRecord[], eval: data.eval as PairRecord[], seed: 2,
    writeTrace: (_s, h, samples, arrays) => { assert.deepEqual(h.arrays, ['logprob', 'ref_logprob', 'implicit_reward', 'mask']); traces.push({ samples, arrays }); },
  });
  const r = trainer.run();
  const secs = (Date.now() - t0) / 1000;
  const b = r.before, a = r.after;
  console.log(`DPO: held-out rewards/accuracies ${b['eval/rewards/accuracies'].toFixed(3)} → ${a['eval/rewards/accuracies'].toFixed(3)}, rewards/margins ${b['eval/rewards/margins'].toFixed(3)} → ${a['eval/rewards/margins'].toFixed(3)}, logps/chosen ${b['eval/logps/chosen'].toFixed(2)} → ${a['eval/logps/chosen'].toFixed(2)}, logps/rejected ${b['eval/logps/rejected'].toFixed(2)} → ${a['eval/logps/rejected'].toFixed(2)}, loss ${b['eval/loss'].toFixed(3)} → ${a['eval/loss'].toFixed(3)} (${trainer.evalSize} pairs, ${secs.toFixed(1)} s)`);
  // at the start the policy IS the reference: every implicit reward is 0, accuracy (strict >) 0, loss ln 2
  assert.ok(Math.abs(b['eval/loss'] - Math.LN2) < 1e-5);
  assert.equal(b['eval/rewards/margins'], 0);
  assert.ok(a['eval/rewards/accuracies'] >= 0.7, `held-out accuracy ${a['eval/rewards/accuracies']} must be ≥ 0.7`);
  assert.ok(a['eval/rewards/margins'] > 0.3, `held-out margin ${a['eval/rewards/margins']} must be > 0.3`);
  assert.ok(a['eval/loss'] < b['eval/loss'] - 0.1);
  assert.ok('eval/logps/both_down_frac' in a, 'the "both log-probs down" metric is reported');
  // traces: chosen/rejected rows of each pair, implicit reward = β(logπ − logπ_ref) per token
  assert.equal(traces.length, 3, 'steps 1, 20, 40');
  const last = traces[traces.length - 1];
  assert.deepEqual(last.samples.slice(0, 2).map((s) => s.role), ['chosen', 'rejected']);
  assert.equal(last.samples[0].pair, last.samples[1].pair);
  for (const [i, s] of last.samples.entries()) {
    const ar = last.arrays[i];
    assert.equal(ar.logprob.length, s.length);
    ar.implicit_reward.forEach((v, t) => assert.ok(Math.abs(v - 0.1 * (ar.logprob[t] - ar.ref_logprob[t])) < 1e-5));
  }
  trainer.dispose();
  policy.dispose();
});
