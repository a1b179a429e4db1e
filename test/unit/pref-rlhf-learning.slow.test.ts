/**
 * The classic RLHF pipeline learns: the built-in `rlhf-arithmetic` preset exactly as `rl-lens train --preset
 * rlhf-arithmetic` runs it (seed 1, wasm): SFT 300 steps → reward model (trunk from SFT; contrastive pairs + rankings of
 * the SFT policy's own samples; 2000 steps) → PPO against the learned, normalised reward (80 steps).
 * Asserts what issue 4 asks of it: PPO raises the reward model's score AND the hidden true score the RM was taught from
 * (RL rollouts, mean of the first vs last 5 steps), and eval pass@1 on held-out prompts the RM never saw.
 * Measured (2026-11-22, 2 cores, two pipelines at once, 2 min 53 s): RM score −0.11 → 0.21 (normalised units), hidden
 * 0.78 → 0.90, eval pass@1 0.69 → 0.84; the RM orders 98.4 % of the SFT policy's same-prompt sample pairs as the hidden
 * rule does. Thresholds below are about a third of those gains.
 */
import { before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { initBackend } from '../../src/trainer/backend';
import { resolveConfig } from '../../src/trainer/config';
import '../../src/trainer/plugins'; // the entry point registers the algorithms (config.ts imports none)
import { runTraining } from '../../src/trainer/engine';
import { rlhfArithmeticPreset } from '../../src/trainer/preference';
import { readManifest } from '../../src/runio/reader';

before(async () => { await initBackend('wasm'); });

type FirstLast = { first: number; last: number };
interface Summary {
  rewardModel: { after: Record<string, number>; onPolicy: { pairAccuracy: number; bestOfNHidden: number; hiddenMean: number } };
  rl: { rmScore: FirstLast; hiddenScore: FirstLast; eval: { before: { passAtK: Record<string, number> }; after: { passAtK: Record<string, number> } } };
}

test('rlhf-arithmetic: PPO against the learned reward model raises the RM score and the hidden true score', { timeout: 1_200_000 }, async () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'rl-rlhf-'));
  try {
    const t0 = Date.now();
    const res = await runTraining(resolveConfig(rlhfArithmeticPreset({ backend: 'wasm' })), { outDir: path.join(out, 'run') });
    assert.equal(res.status, 'completed', res.error);
    const p = (readManifest(path.join(out, 'run')) as unknown as { pipeline: Summary }).pipeline;
    const { rmScore, hiddenScore } = p.rl;
    const pass0 = p.rl.eval.before.passAtK['1'], pass1 = p.rl.eval.after.passAtK['1'];
    console.log(`rlhf-arithmetic (${((Date.now() - t0) / 1000).toFixed(0)} s): RM held-out accuracy ${p.rewardModel.after['eval/rm/accuracy'].toFixed(3)}, `
      + `on SFT samples ${p.rewardModel.onPolicy.pairAccuracy.toFixed(3)}; PPO: RM score ${rmScore.first.toFixed(3)} → ${rmScore.last.toFixed(3)}, `
      + `hidden ${hiddenScore.first.toFixed(3)} → ${hiddenScore.last.toFixed(3)}, eval pass@1 ${pass0.toFixed(3)} → ${pass1.toFixed(3)}`);
    assert.ok(p.rewardModel.onPolicy.pairAccuracy >= 0.9, `the RM orders only ${p.rewardModel.onPolicy.pairAccuracy} of the SFT policy's sample pairs right`);
    assert.ok(rmScore.last - rmScore.first >= 0.1, `RM score rose only ${(rmScore.last - rmScore.first).toFixed(3)}`);
    assert.ok(hiddenScore.last - hiddenScore.first >= 0.04, `hidden true score rose only ${(hiddenScore.last - hiddenScore.first).toFixed(3)}`);
    assert.ok(pass1 - pass0 >= 0.05, `eval pass@1 rose only ${(pass1 - pass0).toFixed(3)} (${pass0} → ${pass1})`);
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
});
