// Regression: all-equal groups must give advantage exactly 0 (verl: (r − mean)/(std + 1e-6) with r == mean).
// A plain float32 Σr/n made eight rewards of 0.7 come out as A = 0.056 each (6e-8 / 1e-6).
import { test, before } from 'node:test';
import * as assert from 'node:assert/strict';
import { initBackend } from '../../src/trainer/backend';
import { outcomeAdvantages } from '../../src/trainer/algorithms/reference';

before(async () => { await initBackend('wasm', {}); });

test('zero-variance groups get advantage exactly 0 for every estimator that centres on the group mean', () => {
  const rewards = [0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 1.1, 1.1, 1.1, 0.3, 0.3, 0.3];
  const groups = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 2, 2, 2];
  for (const est of ['grpo', 'dr_grpo', 'rloo'] as const) {
    const a = outcomeAdvantages(rewards, groups, est);
    assert.deepEqual(a, rewards.map(() => 0), `${est}: ${a.join(',')}`);
  }
  // a group with spread still gets the verl value: (0.7 − 0.4)/(std + 1e-6), std unbiased = 0.4242640687 (by hand)
  const b = outcomeAdvantages([0.7, 0.1], [0, 0], 'grpo');
  assert.ok(Math.abs(b[0] - 0.3 / (0.4242640687 + 1e-6)) < 1e-5, String(b[0]));
});
