/**
 * Tensor hygiene of the RL loop (standalone, cpu backend): tf.memory().numTensors is identical after every RL step
 * (measured by the loop as metric num_tensors), for an outcome method (grpo) and for PPO with a separate critic
 * (two models, two optimizers, GAE), GVPO (2 epochs × 2 whole-group minibatches) and GRPO-λ. Also checks the separate-critic path trains the critic (vf_loss finite).
 */
import { before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { initBackend } from '../../src/trainer/backend';
import { GPT } from '../../src/trainer/model/gpt';
import { CharTokenizer } from '../../src/trainer/tokenizer';
import { createTask } from '../../src/trainer/tasks';
import { runRl, withValueHead } from '../../src/trainer/rl/loop';
import { rlTaskFrom } from '../../src/trainer/rl/types';

before(async () => { await initBackend('cpu'); });

// gvpo: its own loss (algorithms/gvpo.ts), whole-group minibatches, off-policy second epoch; grpo_lambda: reward rewrite
for (const [algorithm, extra] of [['grpo', {}], ['ppo', { critic: 'separate', ppoEpochs: 2, miniBatches: 2 }], ['gvpo', { ppoEpochs: 2, miniBatches: 2 }], ['grpo_lambda', { entropyCoef: 0.01 }],
  // EEPO two-stage rollouts (unlearning step + restore), GHPO hinted regeneration, DELTA reward schedule, all at once
  ['grpo', { eepo: { enabled: true }, ghpo: { enabled: true }, rewardSchedule: { denseUntil: 2, densePart: 'partial' } }]] as const) {
  test(`${algorithm}${'critic' in extra ? ' (separate critic)' : ''}${'eepo' in extra ? ' + EEPO + GHPO + reward schedule' : ''}: numTensors stable across RL steps`, async () => {
    const tok = new CharTokenizer();
    const task = rlTaskFrom(createTask('arithmetic', { difficulty: 1, partialCredit: true }));
    const policy = GPT.create({ vocabSize: tok.size, contextLength: 16, dModel: 16, nHeads: 2, nLayers: 1 }, 3);
    const ref = policy.clone(false);
    const critic = 'critic' in extra ? withValueHead(policy.clone(true), true) : undefined;
    const res = await runRl({ policy, ref, critic, tokenizer: tok, task, seed: 3 }, algorithm, {
      steps: 4, promptsPerStep: 3, groupSize: 4, maxNewTokens: 4, eval: { every: 0 }, ...extra,
    });
    const counts = res.metrics.map((m) => m['num_tensors']);
    // step 1 creates the optimizer state; from step 2 on nothing may be added
    assert.deepEqual(counts.slice(1), [counts[1], counts[1], counts[1]], `numTensors per step: ${counts.join(', ')}`);
    if (critic) assert.ok(res.metrics.every((m) => Number.isFinite(m['vf_loss'] as number)), 'critic value loss');
    for (const m of [policy, ref, critic]) m?.dispose();
  });
}

// TDPO (logits forward + sequential KL), QRPO (regression) and SPIN (opponent refreshed + generations at the iteration
// boundary, step 4 → 5): numTensors after every step from step 2 on equals step 2's, traces written on every step
import * as tf from '@tensorflow/tfjs-core';
import { OfflineTrainer, offlineDefaults, type OfflineMethod } from '../../src/trainer/preference/offline';
for (const method of ['tdpo', 'qrpo', 'spin'] as OfflineMethod[]) {
  test(`${method}: numTensors stable across offline steps (traces on, SPIN across an iteration boundary)`, () => {
    const tok = new CharTokenizer();
    const policy = GPT.create({ vocabSize: tok.size, contextLength: 16, dModel: 16, nHeads: 2, nLayers: 1 }, 3);
    const prompts = ['1+2=', '3+4=', '5+1=', '2+2='], answers = ['3', '7', '6', '4'];
    const train = method === 'tdpo' ? prompts.map((p, i) => ({ prompt: p, chosen: answers[i], rejected: answers[i] + '9' }))
      : method === 'qrpo' ? prompts.flatMap((p, i) => [{ prompt: p, completion: answers[i], reward: 1, refRewards: [0, 1, 0.5] }, { prompt: p, completion: '0', reward: 0, refRewards: [0, 1, 0.5] }])
        : prompts.map((p, i) => ({ prompt: p, completion: answers[i] }));
    const trainer = new OfflineTrainer({ method, hp: { ...offlineDefaults(method), steps: 8, iterations: 2, batchSize: 4, traceEvery: 1, tracePairs: 2, maxNewTokens: 3 }, policy, tokenizer: tok, train, seed: 1, writeTrace: () => {} });
    for (let T = 2; T <= 16; T++) tf.tidy(() => policy.forward(tf.zeros([1, T], 'int32') as tf.Tensor2D).logits);
    const counts: number[] = [];
    for (let s = 0; s < 8; s++) { trainer.trainStep(); counts.push(tf.memory().numTensors); }
    assert.deepEqual(counts.slice(1), counts.slice(1).map(() => counts[1]), `numTensors per step: ${counts.join(', ')}`);
    trainer.dispose();
    policy.dispose();
  });
}

// Process rewards (a PRM's step scores, here the verifier's verdicts standing in for them): step rewards on the
// step-end tokens and DeepSeekMath's process-supervision advantages (grpo) or GAE on them (ppo); the PRM's own
// training step; Step-DPO's step pairs (a middle step without EOS) through the DPO trainer
import { checkSteps, type StepTask } from '../../src/trainer/tasks/steps';
import { encodeSteps, labelSteps, prmTrainStep } from '../../src/trainer/preference/prm';
import { PreferenceTrainer, preferenceDefaults } from '../../src/trainer/preference/train';
import { AdamW } from '../../src/trainer/optim';
import { warmLengthConstants } from '../fixtures/warmModel';
for (const [algorithm, extra] of [['grpo', {}], ['ppo', {}]] as const) {
  test(`${algorithm} with process rewards (steps on their last tokens): numTensors stable across RL steps`, async () => {
    const tok = new CharTokenizer();
    const steps = createTask('arithmetic-steps', { difficulty: 1 }) as StepTask;
    const base = rlTaskFrom(steps);
    const task = { ...base, reward: (item: Parameters<typeof base.reward>[0], c: string, fin: boolean) => ({ ...base.reward(item, c, fin), steps: checkSteps(item.prompt, c, fin).map((s) => ({ end: s.end, terminator: s.terminator, score: s.correct ? 0.9 : 0.1 })) }) };
    const policy = GPT.create({ vocabSize: tok.size, contextLength: 24, dModel: 16, nHeads: 2, nLayers: 1, valueHead: algorithm === 'ppo' }, 3);
    const ref = policy.clone(false);
    const res = await runRl({ policy, ref, tokenizer: tok, task, seed: 3 }, algorithm, { steps: 4, promptsPerStep: 3, groupSize: 4, maxNewTokens: 8, eval: { every: 0 }, ...extra });
    const counts = res.metrics.map((m) => m['num_tensors']);
    assert.deepEqual(counts.slice(1), [counts[1], counts[1], counts[1]], `numTensors per step: ${counts.join(', ')}`);
    for (const m of [policy, ref]) m.dispose();
  });
}

test('prm training step and step_dpo step pairs: numTensors stable across steps', () => {
  const tok = new CharTokenizer();
  const task = createTask('arithmetic-steps', { difficulty: 1 }) as StepTask;
  const ex = (p: string, a: string) => ({ id: p, prompt: p, answer: a, difficulty: 1 });
  const sols = [[ex('3+4+5=', '3+4=7 7+5=12'), '3+4=7 7+5=13'], [ex('1+1+1=', '1+1=2 2+1=3'), '1+1=2 2+1=3'], [ex('2+2+2=', '2+2=4 4+2=6'), '2+2=5 ']] as const;
  const rows = sols.map(([e, c]) => encodeSteps(tok, { prompt: e.prompt, completion: c, finished: true, labels: labelSteps(task, e, c, true) }, 24, ' '));
  const prm = GPT.create({ vocabSize: tok.size, contextLength: 24, dModel: 16, nHeads: 2, nLayers: 1, valueHead: true }, 3);
  const opt = new AdamW(prm.trainableVariables(), {});
  const counts: number[] = [];
  for (let s = 0; s < 5; s++) { prmTrainStep(prm, opt, rows, tok.pad, 1, 1e-3); counts.push(tf.memory().numTensors); }
  assert.deepEqual(counts.slice(1), counts.slice(1).map(() => counts[1]), `prm numTensors per step: ${counts.join(', ')}`);
  opt.dispose(); prm.dispose();
  const policy = GPT.create({ vocabSize: tok.size, contextLength: 24, dModel: 16, nHeads: 2, nLayers: 1 }, 4);
  const pairs = [
    { prompt: '3+4+5=', chosen: '3+4=7 ', rejected: '3+4=8 ', chosenEos: false, rejectedEos: false },
    { prompt: '3+4+5=3+4=7 ', chosen: '7+5=12', rejected: '7+5=13', chosenEos: true, rejectedEos: true },
  ];
  const trainer = new PreferenceTrainer({ method: 'dpo', hp: { ...preferenceDefaults('dpo'), beta: 0.5, batchSize: 2, steps: 6, traceEvery: 1, tracePairs: 2 }, policy, tokenizer: tok, train: pairs, seed: 1, writeTrace: () => {} });
  const c2: number[] = [];
  for (let s = 0; s < 6; s++) { trainer.trainStep(); c2.push(tf.memory().numTensors); }
  assert.deepEqual(c2.slice(1), c2.slice(1).map(() => c2[1]), `step_dpo numTensors per step: ${c2.join(', ')}`);
  trainer.dispose(); policy.dispose();
});


/** A multi-turn calc-tool run of `algorithm` (4 RL steps on a tiny GPT): its metrics, after numTensors was checked
 *  stable across the steps. */
async function multiTurnLeakRun(algorithm: 'gigpo' | 'arpo', extra: Record<string, unknown> = {}) {
  const tok = new CharTokenizer();
  const task = rlTaskFrom(createTask('calc-tool'));
  const policy = GPT.create({ vocabSize: tok.size, contextLength: 40, dModel: 16, nHeads: 2, nLayers: 1 }, 3);
  const ref = policy.clone(false);
  warmLengthConstants(policy); warmLengthConstants(ref);
  try {
    const res = await runRl({ policy, ref, tokenizer: tok, task, seed: 3 }, algorithm, { steps: 4, promptsPerStep: 3, groupSize: 4, maxNewTokens: 8, eval: { every: 0 }, env: { maxTurns: 3, maxTokens: 24 }, ...extra });
    const counts = res.metrics.map((m) => m['num_tensors']);
    assert.deepEqual(counts.slice(1), [counts[1], counts[1], counts[1]], `numTensors per step: ${counts.join(', ')}`);
    return res.metrics;
  } finally { policy.dispose(); ref.dispose(); }
}

// GiGPO on multi-turn calculator episodes (issue 20: rl/multiturn.ts generation per turn, algorithms/gigpo.ts)
test('gigpo (multi-turn calc-tool episodes): numTensors stable across RL steps', async () => {
  await multiTurnLeakRun('gigpo');
});

// ARPO: branching rollouts (rl/arpo.ts) and hard attribution on plain numbers, through the same step
test('arpo (branching calc-tool episodes, hard attribution): numTensors stable across RL steps', async () => {
  const metrics = await multiTurnLeakRun('arpo', { arpo: { alpha: 1, beta: 0, attribution: 'hard' } });
  assert.ok(metrics.some((m) => (m['arpo/branches'] as number) > 0), 'some step branched');
});
