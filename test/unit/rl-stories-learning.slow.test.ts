// Learning on a real pretrained LM: GRPO with clip-higher (ε_high 0.28, DAPO) on stories260K and the stories-word task,
// wasm backend, fixed seeds. The held-out prompts' mean reward (32 eval prompts × 4 samples of 96 tokens at temperature 1, the same
// sampling seed before and after) must rise. Measured when written (2-core machine): see docs/models.md.
import { test, before } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { initBackend } from '../../src/trainer/backend';
import { loadPretrained } from '../../src/trainer/model/pretrained';
import { runRl } from '../../src/trainer/rl/loop';
import { evaluatePolicy } from '../../src/trainer/rl/eval';
import { createStoriesTask } from '../../src/trainer/tasks/stories';

const S260 = path.resolve(__dirname, '../../../shared/models/stories260K');
const skip = fs.existsSync(path.join(S260, 'stories260K.bin')) ? false : `${S260} not present`;

before(async () => { await initBackend('wasm'); });

test('GRPO (clip-higher) raises stories260K\'s held-out reward on stories-word in 10 steps', { skip, timeout: 900_000 }, async () => {
  const p = await loadPretrained(S260, { maxContext: 160 });
  const ref = p.model.clone(false);
  const task = createStoriesTask('stories-word');
  const ev = () => evaluatePolicy(p.model, task, p.tokenizer, { prompts: 32, samples: 4, temperature: 1, k: [1], maxNewTokens: 96, seed: 99 });
  const beforeR = ev().meanReward;
  const t0 = Date.now();
  const r = await runRl({ policy: p.model, ref, tokenizer: p.tokenizer, task, seed: 1 }, 'grpo', {
    steps: 10, promptsPerStep: 8, groupSize: 8, maxNewTokens: 96, lr: 2e-3, warmupSteps: 0, clipHigh: 0.28, eval: { every: 0 },
  }, { rollout: () => undefined });
  const afterR = ev().meanReward;
  const train = r.metrics.map((m) => Number(m['reward/mean']).toFixed(2)).join(' ');
  console.log(`# held-out mean reward ${beforeR.toFixed(3)} → ${afterR.toFixed(3)}; train reward per step ${train}; ${((Date.now() - t0) / 1000).toFixed(0)} s for 10 steps`);
  assert.ok(afterR - beforeR >= 0.2, `held-out reward ${beforeR} → ${afterR} (train ${train})`);
  ref.dispose(); p.model.dispose();
});
