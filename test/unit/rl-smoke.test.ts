/**
 * Every online RL algorithm through the real engine (`runTraining`, as `rl-lens train --config` runs it) on the wasm
 * backend: a tiny model, a 10-step warm start, 2 RL steps. Checks: the run completes, losses are finite, the weights
 * change between the warm-start (sft) checkpoint and the final one, and the per-token traces are written and readable
 * by src/runio/reader.ts; the tensor count is stable from one RL step to the next with the arrays every algorithm must leave (logprob, old/ref logprob, kl, advantage, ratio,
 * clip, entropy, mask; value/return for ppo).
 */
import { before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { resolveConfig } from '../../src/trainer/config';
import '../../src/trainer/plugins'; // the entry point registers the algorithms (config.ts imports none)
import { runTraining } from '../../src/trainer/engine';
import { rlArithmeticPreset, rlConfigFromTrainConfig } from '../../src/trainer/rl/register';
import { RL_ALGORITHMS } from '../../src/trainer/rl/config';
import { decodeSafetensors } from '../../src/trainer/checkpoint';
import { listCheckpoints, listRolloutSteps, readManifest, readMetrics, readRolloutStep, readSampleArrays } from '../../src/runio/reader';

import { initBackend } from '../../src/trainer/backend';

before(async () => { await initBackend('wasm'); });
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'rl-smoke-'));

/** algorithms that need a multi-turn environment (issue 20) */
const multiTurn = (algorithm: string) => ['gigpo', 'arpo', 'tree_grpo'].includes(algorithm);

function tinyConfig(algorithm: string): Record<string, unknown> {
  // gigpo, arpo, tree_grpo need a multi-turn environment (issue 20): the calculator tool, a context that holds an episode
  if (multiTurn(algorithm)) return rlArithmeticPreset(algorithm as never, {
    name: `smoke-${algorithm}`, backend: 'wasm', task: { name: 'calc-tool' }, model: { dModel: 16, nHeads: 2, nLayers: 1, contextLength: 40 }, train: { steps: 2, warmupSteps: 0, lr: 0.01 },
    sampling: { maxNewTokens: 8 }, eval: { every: 0, numPrompts: 4, samplesPerPrompt: 2, k: [1, 2], atStart: false },
    checkpoint: { every: 0 }, rollouts: { every: 1, maxSamples: 64 },
    rl: { promptsPerStep: 3, groupSize: 4, env: { maxTurns: 3, maxTokens: 24 }, warmStart: { steps: 10, batchSize: 16 },
      // tree_grpo: 2 trees × (1 + 1·1) leaves = 4 samples per prompt, as groupSize for the others
      // (its leaves share prefixes, so after a 10-step warm start all 4 may score alike: an entropy bonus gives the update
      // a gradient; its advantages are checked in algo-tree-grpo-rollout.test.ts)
      ...(algorithm === 'tree_grpo' ? { treeGrpo: { trees: 2, expandNodes: 1, iterations: 1 }, entropyCoef: 0.01 } : {}) },
  });
  return rlArithmeticPreset(algorithm as never, {
    name: `smoke-${algorithm}`, backend: 'wasm', task: { partialCredit: true }, model: { dModel: 16, nHeads: 2, nLayers: 1 }, train: { steps: 2, warmupSteps: 0, lr: 0.01 },
    sampling: { maxNewTokens: 4 }, eval: { every: 0, numPrompts: 4, samplesPerPrompt: 2, k: [1, 2], atStart: false },
    checkpoint: { every: 0 }, rollouts: { every: 1, maxSamples: 64 },
    rl: { promptsPerStep: 3, groupSize: 4, warmStart: { steps: 10, batchSize: 16 }, ...(algorithm === 'ppo' ? { ppoEpochs: 1, miniBatches: 2 } : {}),
      ...(algorithm === 'dapo' ? { dynamicSampling: { enabled: true, maxGenBatches: 2 } } : {}),
      // grpo_lambda's reward is 0/1 correctness, which a 10-step warm start never earns: an entropy bonus gives the
      // update a gradient (its reward path is checked in test/unit/rl-grpo-lambda.test.ts)
      ...(algorithm === 'grpo_lambda' ? { entropyCoef: 0.01 } : {}) },
  });
}

/**
 * Largest per-update step of Adam (bias-corrected) relative to lr, over the first T updates of a fresh optimizer:
 * m̂_t = Σ a_i g_i, v̂_t = Σ b_i g_i² with a_i = (1−β1)β1^{t−i}/(1−β1^t), b_i = (1−β2)β2^{t−i}/(1−β2^t), so by
 * Cauchy–Schwarz |m̂_t| ≤ sqrt(Σ a_i²/b_i)·sqrt(v̂_t) and |m̂_t/(√v̂_t + ε)| ≤ C_t = sqrt(Σ a_i²/b_i), whatever the
 * gradients (clipping included). C_1 = 1 (the first update is lr·sign(g)); C_t grows slowly (≈ 1.04 at t = 11 for 0.9/0.99).
 */
function adamStepBound(beta1: number, beta2: number, T: number): number {
  let worst = 0;
  for (let t = 1; t <= T; t++) {
    let c2 = 0;
    for (let i = 1; i <= t; i++) {
      const a = (1 - beta1) * beta1 ** (t - i) / (1 - beta1 ** t), b = (1 - beta2) * beta2 ** (t - i) / (1 - beta2 ** t);
      c2 += a * a / b;
    }
    worst = Math.max(worst, Math.sqrt(c2));
  }
  return worst;
}

function weights(dir: string): Record<string, Float32Array> {
  const w = decodeSafetensors(new Uint8Array(fs.readFileSync(path.join(dir, 'model.safetensors')))).weights;
  return Object.fromEntries(Object.entries(w).map(([k, v]) => [k, v.data]));
}

for (const algorithm of RL_ALGORITHMS) {
  test(`${algorithm}: runs end to end, finite losses, weights change, traces readable`, async () => {
    const out = path.join(root, algorithm);
    const config = resolveConfig(tinyConfig(algorithm));
    const res = await runTraining(config, { outDir: out });
    assert.equal(res.status, 'completed', `status ${res.status}`);
    assert.equal(readManifest(out).status, 'completed');
    // no tensors left behind by the run (models, optimizer state, caches)
    const train = readMetrics(out).filter((m) => m.split !== 'eval');
    assert.equal(train.length, 2);
    // tensor count is the same after step 1 and step 2 (nothing leaks per step)
    // (gigpo: multi-turn contexts meet new sequence lengths, each adding a model constant for a while; its leak check,
    // with those made first, is in rl-leak.test.ts)
    if (!multiTurn(algorithm)) assert.equal(train[0].values['num_tensors'], train[1].values['num_tensors'], 'numTensors changed between RL steps');
    for (const m of train) {
      for (const [k, v] of Object.entries(m.values)) if (/loss/.test(k)) assert.ok(v !== null && Number.isFinite(v), `${k} = ${v}`);
      for (const k of ['reward/mean', 'kl', 'entropy', 'clip_ratio/low_mean', 'clip_ratio/high_mean', 'advantages/std', 'response_length/mean', 'grad_norm', 'lr'])
        assert.ok(k in m.values, `metric ${k} missing`);
    }
    if (algorithm === 'ppo') assert.ok(train.every((m) => Number.isFinite(m.values['vf_loss'] as number)), 'ppo logs vf_loss');
    // weights changed between the warm-start checkpoint and the final one
    const cks = listCheckpoints(out);
    const sft = cks.find((c) => /sft/.test(c.name)), fin = cks.find((c) => /final/.test(c.name));
    assert.ok(sft && fin, `checkpoints: ${cks.map((c) => c.name).join(', ')}`);
    const a = weights(sft!.dir), b = weights(fin!.dir);
    let diff = 0, maxAbs = 0;
    for (const k of Object.keys(a)) if (b[k]) for (let i = 0; i < a[k].length; i++) {
      diff = Math.max(diff, Math.abs(a[k][i] - b[k][i]));
      maxAbs = Math.max(maxAbs, Math.abs(a[k][i]), Math.abs(b[k][i]));
    }
    // ... by as much as the RL updates can move them: the steps that trained (samples kept) made ppoEpochs × miniBatches
    // AdamW updates each at the logged lr. The first one moves every parameter with a non-zero gradient by lr·sign(g),
    // so the largest change is at least of the order of that lr; no parameter moves more than Σ lr·C (see adamStepBound)
    // plus the decoupled weight decay.
    const rl = rlConfigFromTrainConfig(config, algorithm);
    const trained = train.filter((m) => (m.values['dynamic_sampling/kept_groups'] as number) > 0);
    assert.ok(trained.length > 0, 'no RL step kept any sample');
    const perStep = rl.ppoEpochs * rl.miniBatches;
    const lrSum = trained.reduce((acc, m) => acc + (m.values['lr'] as number) * perStep, 0);
    const upper = lrSum * (adamStepBound(config.train.beta1, config.train.beta2, trained.length * perStep) + config.train.weightDecay * maxAbs) * 1.01 + 1e-6;
    const lower = 0.5 * (trained[0].values['lr'] as number);
    assert.ok(diff >= lower && diff <= upper, `max |Δθ| = ${diff} outside [${lower}, ${upper}] (lr ${trained.map((m) => m.values['lr']).join(', ')}, ${perStep} updates per step)`);
    // traces
    const steps = listRolloutSteps(out);
    assert.deepEqual(steps, [1, 2]);
    const st = readRolloutStep(out, 2);
    // every array the update used; value only with a critic (PPO), return only where the estimator computes returns
    const critic = rl.advantage === 'gae', returns = rl.advantage === 'gae' || rl.advantage === 'reinforce_pp';
    const want = ['logprob', 'old_logprob', 'ref_logprob', 'kl', 'token_reward', ...(critic ? ['value'] : []), ...(returns ? ['return'] : []), 'advantage', 'ratio', 'clip', 'entropy', 'mask',
      ...(rl.policyLoss === 'gvpo' ? ['implicit_reward'] : []), ...(multiTurn(algorithm) ? ['loss_mask'] : [])];
    if (st.samples.length) assert.deepEqual(st.header.arrays, want, 'stored arrays (storage order)');
    if (algorithm === 'dapo') {
      // what dynamic sampling guarantees, at every step: each kept group has reward variance; every generated group is
      // listed (kept or dropped, with its reason) and the metrics count them; a dropped group writes no sample; fewer
      // than promptsPerStep kept groups only once every allowed generation batch was used
      const want = 3, groupSize = 4, maxGenBatches = 2;
      for (const s of steps) {
        const hd = readRolloutStep(out, s);
        const m = train.find((x) => x.step === s)!.values;
        const kept = hd.header.groups.filter((g) => !g.filtered), dropped = hd.header.groups.filter((g) => g.filtered);
        const allEqual = (r: number[]) => r.length > 1 && r.every((x) => x === r[0]);
        for (const g of kept) assert.ok(!allEqual(g.rewards), `step ${s}: kept group ${g.id} has all-equal rewards ${g.rewards.join(', ')}`);
        for (const g of dropped) {
          assert.equal(g.filterReason, 'dynamic_sampling', `step ${s}: group ${g.id}`);
          assert.deepEqual(g.samples, [], `step ${s}: dropped group ${g.id} wrote samples`);
          assert.ok(allEqual(g.rewards) || kept.length === want, `step ${s}: group ${g.id} with reward variance dropped while only ${kept.length} kept`);
        }
        assert.equal(m['dynamic_sampling/kept_groups'], kept.length, `step ${s}: kept_groups metric`);
        assert.ok(kept.length <= want, `step ${s}: ${kept.length} groups kept`);
        assert.equal(hd.header.groups.length, (m['dynamic_sampling/gen_batches'] as number) * want, `step ${s}: every generated group is listed`);
        assert.ok(kept.length === want || m['dynamic_sampling/gen_batches'] === maxGenBatches, `step ${s}: stopped early with ${kept.length} groups`);
        assert.ok(Math.abs((m['frac_reward_zero_std'] as number) - hd.header.groups.filter((g) => allEqual(g.rewards)).length / hd.header.groups.length) < 1e-12, `step ${s}: frac_reward_zero_std`);
        assert.equal(hd.samples.length, kept.length * groupSize, `step ${s}: samples of the kept groups`);
      }
    } else assert.equal(st.samples.length, 3 * 4, 'samples written (promptsPerStep × groupSize)');
    for (const s of st.samples) {
      const arr = readSampleArrays(out, st.header, s);
      assert.equal(arr.logprob.length, s.length);
      for (let t = 0; t < s.length; t++) {
        assert.ok(Number.isFinite(arr.logprob[t]) && arr.logprob[t] <= 0, 'logprob');
        // (multi-turn: 0 on the environment's tokens, = loss_mask)
        assert.equal(arr.mask[t], multiTurn(algorithm) ? arr.loss_mask[t] : 1);
        assert.ok([0, 1, 2, 3].includes(arr.clip[t]), 'clip code');
        assert.ok(Number.isFinite(arr.advantage[t]));
      }
      if (algorithm === 'ppo') assert.ok(Array.from(arr.value).every(Number.isFinite), 'ppo values');
      assert.ok(st.header.groups.some((g) => g.id === s.group), 'sample group listed');
    }
    for (const g of st.header.groups) assert.ok(Number.isFinite(g.mean) && Number.isFinite(g.std));
  });
}

test.after(() => fs.rmSync(root, { recursive: true, force: true }));
