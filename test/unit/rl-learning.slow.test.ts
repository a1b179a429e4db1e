/**
 * GRPO learns: the built-in `grpo-arithmetic` preset (arithmetic difficulty 1, a 64-wide 2-layer model, a noisy
 * supervised warm start made in the same run, then GRPO) on the wasm backend, shortened to 40 RL steps.
 * Asserts a clear rise of eval pass@1 (sampled at temperature 1, 64 held-out prompts × 8 samples): ≥ +8 points.
 * (The full 80-step preset gives about +20; see docs/algorithms.md.) Takes 2–4 minutes on 2 cores.
 */
import { before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { initBackend } from '../../src/trainer/backend';
import { resolveConfig } from '../../src/trainer/config';
import { runTraining } from '../../src/trainer/engine';
import { rlArithmeticPreset } from '../../src/trainer/rl/register';
import { readEvals } from '../../src/runio/reader';

before(async () => { await initBackend('wasm'); });

test('grpo raises eval pass@1 on arithmetic by at least 8 points', async () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'rl-learn-'));
  try {
    const t0 = Date.now();
    const cfg = resolveConfig(rlArithmeticPreset('grpo', { backend: 'wasm', train: { steps: 40 }, eval: { every: 40 }, checkpoint: { every: 0 }, rollouts: { every: 20 } }));
    const res = await runTraining(cfg, { outDir: path.join(out, 'run') });
    assert.equal(res.status, 'completed', res.error);
    const evals = readEvals(path.join(out, 'run'));
    const first = evals.find((e) => e.step === 0), last = evals.find((e) => e.step === 40);
    assert.ok(first && last, `eval records: ${evals.map((e) => e.step).join(', ')}`);
    const gain = last!.passAtK['1'] - first!.passAtK['1'];
    console.log(`grpo-arithmetic (40 steps): pass@1 ${(100 * first!.passAtK['1']).toFixed(1)}% → ${(100 * last!.passAtK['1']).toFixed(1)}% (+${(100 * gain).toFixed(1)} points) in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    assert.ok(gain >= 0.08, `pass@1 rose only ${(100 * gain).toFixed(1)} points (${first!.passAtK['1']} → ${last!.passAtK['1']})`);
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
});
