/**
 * Group normalisation on plain numbers (src/trainer/algorithms/groupNorm.ts), shared by GiGPO, Tree-GRPO and ARPO:
 * values checked by hand; an all-equal group gets advantages of exactly 0 (the naive Σv/n of eight 1.1s is
 * 1.1000000000000003, which /(2e-16 + 1e-6) made ~2e-10 "advantages" the heatmap drew at full colour).
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { groupMeanStd, groupNormalize } from '../../src/trainer/algorithms/groupNorm';

test('all-equal groups: deviations exactly 0, std exactly 0, advantages exactly 0', () => {
  assert.notEqual([1.1, 1.1, 1.1, 1.1, 1.1, 1.1, 1.1, 1.1].reduce((a, b) => a + b, 0) / 8, 1.1, 'the naive mean is off (the case this guards)');
  for (const v of [1.1, 0.9, -0.1, 0.7, 1e-3]) {
    const g = groupMeanStd(new Array(8).fill(v));
    assert.equal(g.mean, v);
    assert.equal(g.std, 0);
    assert.deepEqual(groupNormalize(new Array(7).fill(v), new Array(7).fill('g'), { eps: 1e-6, singletonMean: 'zero', scaleByStd: true }), new Array(7).fill(0));
  }
});

test('values by hand: rewards [1, 0, 0, 1, 1] → mean 0.6, unbiased std √0.3; singletons; mean-only', () => {
  const r = [1, 0, 0, 1, 1, 5, 2];
  const k = ['a', 'a', 'a', 'a', 'a', 'b', 'c'];
  const s = Math.sqrt(0.3); // Σ(r − 0.6)² = 3·0.16 + 2·0.36 = 1.2; / (5 − 1)
  const out = groupNormalize(r, k, { eps: 1e-6, singletonMean: 'zero', scaleByStd: true });
  const want = [0.4 / (s + 1e-6), -0.6 / (s + 1e-6), -0.6 / (s + 1e-6), 0.4 / (s + 1e-6), 0.4 / (s + 1e-6), 5 / (1 + 1e-6), 2 / (1 + 1e-6)];
  out.forEach((x, i) => assert.ok(Math.abs(x - want[i]) < 1e-12, `${i}: ${x} vs ${want[i]}`));
  // GiGPO's step groups: a singleton's own value is its mean (A^S = 0); mean_norm only centres
  const self = groupNormalize(r, k, { eps: 1e-6, singletonMean: 'self', scaleByStd: false });
  assert.deepEqual(self.slice(5), [0, 0]);
  self.slice(0, 5).forEach((x, i) => assert.ok(Math.abs(x - (r[i] - 0.6)) < 1e-12));
  assert.throws(() => groupNormalize([1, 2], ['a'], { eps: 1e-6, singletonMean: 'zero', scaleByStd: true }), /2 values and 1 group keys/);
});
