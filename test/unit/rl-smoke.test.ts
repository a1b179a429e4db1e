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
import { runTraining } from '../../src/trainer/engine';
import { rlArithmeticPreset } from '../../src/trainer/rl/register';
import { RL_ALGORITHMS } from '../../src/trainer/rl/config';
import { decodeSafetensors } from '../../src/trainer/checkpoint';
import { listCheckpoints, listRolloutSteps, readManifest, readMetrics, readRolloutStep, readSampleArrays } from '../../src/runio/reader';

import { initBackend } from '../../src/trainer/backend';

before(async () => { await initBackend('wasm'); });
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'rl-smoke-'));

function tinyConfig(algorithm: string): Record<string, unknown> {
  return rlArithmeticPreset(algorithm as never, {
    name: `smoke-${algorithm}`, backend: 'wasm', task: { partialCredit: true }, model: { dModel: 16, nHeads: 2, nLayers: 1 }, train: { steps: 2, warmupSteps: 0, lr: 0.01 },
    sampling: { maxNewTokens: 4 }, eval: { every: 0, numPrompts: 4, samplesPerPrompt: 2, k: [1, 2], atStart: false },
    checkpoint: { every: 0 }, rollouts: { every: 1, maxSamples: 64 },
    rl: { promptsPerStep: 3, groupSize: 4, warmStart: { steps: 10, batchSize: 16 }, ...(algorithm === 'ppo' ? { ppoEpochs: 1, miniBatches: 2 } : {}),
      ...(algorithm === 'dapo' ? { dynamicSampling: { enabled: true, maxGenBatches: 2 } } : {}) },
  });
}

function weights(dir: string): Record<string, Float32Array> {
  const w = decodeSafetensors(new Uint8Array(fs.readFileSync(path.join(dir, 'model.safetensors')))).weights;
  return Object.fromEntries(Object.entries(w).map(([k, v]) => [k, v.data]));
}

for (const algorithm of RL_ALGORITHMS) {
  test(`${algorithm}: runs end to end, finite losses, weights change, traces readable`, async () => {
    const out = path.join(root, algorithm);
    const res = await runTraining(resolveConfig(tinyConfig(algorithm)), { outDir: out });
    assert.equal(res.status, 'completed', `status ${res.status}`);
    assert.equal(readManifest(out).status, 'completed');
    // no tensors left behind by the run (models, optimizer state, caches)
    const train = readMetrics(out).filter((m) => m.split !== 'eval');
    assert.equal(train.length, 2);
    // tensor count is the same after step 1 and step 2 (nothing leaks per step)
    assert.equal(train[0].values['num_tensors'], train[1].values['num_tensors'], 'numTensors changed between RL steps');
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
    let diff = 0;
    for (const k of Object.keys(a)) if (b[k]) for (let i = 0; i < a[k].length; i++) diff = Math.max(diff, Math.abs(a[k][i] - b[k][i]));
    assert.ok(diff > 0, 'weights did not change');
    // traces
    const steps = listRolloutSteps(out);
    assert.deepEqual(steps, [1, 2]);
    const st = readRolloutStep(out, 2);
    for (const k of ['logprob', 'old_logprob', 'ref_logprob', 'kl', 'token_reward', 'advantage', 'ratio', 'clip', 'entropy', 'mask', 'value', 'return']) assert.ok(st.header.arrays.includes(k), `array ${k}`);
    assert.ok(st.samples.length > 0 || algorithm === 'dapo', 'samples written');
    for (const s of st.samples) {
      const arr = readSampleArrays(out, st.header, s);
      assert.equal(arr.logprob.length, s.length);
      for (let t = 0; t < s.length; t++) {
        assert.ok(Number.isFinite(arr.logprob[t]) && arr.logprob[t] <= 0, 'logprob');
        assert.equal(arr.mask[t], 1);
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
