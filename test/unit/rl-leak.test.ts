/**
 * Tensor hygiene of the RL loop (standalone, cpu backend): tf.memory().numTensors is identical after every RL step
 * (measured by the loop as metric num_tensors), for an outcome method (grpo) and for PPO with a separate critic
 * (two models, two optimizers, GAE). Also checks the separate-critic path trains the critic (vf_loss finite).
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

for (const [algorithm, extra] of [['grpo', {}], ['ppo', { critic: 'separate', ppoEpochs: 2, miniBatches: 2 }]] as const) {
  test(`${algorithm}${'critic' in extra ? ' (separate critic)' : ''}: numTensors stable across RL steps`, async () => {
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
