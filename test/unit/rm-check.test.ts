// The reward-model check on the SFT policy's samples (src/trainer/preference/rmCheck.ts): normalisation statistics,
// agreement with the hidden rule, best-of-n. Expected values computed by hand in the comments.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { checkOnPolicy } from '../../src/trainer/preference/rmCheck';

const close = (a: number | undefined, b: number, tol = 1e-9, what = '') => assert.ok(a !== undefined && Math.abs(a - b) <= tol, `${what}: ${a} vs ${b} (tol ${tol})`);

test('rm check: pair agreement, best-of-n and normalisation statistics match hand-computed values', () => {
  const r = checkOnPolicy([
    // all three pairs ordered as the hidden rule: (0,1) 3>1 & 1>0, (0,2) 3>2 & 1>0.15, (1,2) 1<2 & 0<0.15; best = sample 0
    { rm: [3, 1, 2], hidden: [1, 0, 0.15], correct: [true, false, false] },
    // (0,1) and (0,2) reversed; (1,2) equal hidden scores: not a pair; best = sample 1 (first of the tied maxima)
    { rm: [0, 5, 5], hidden: [1, 0, 0], correct: [true, false, false] },
  ]);
  assert.equal(r.samples, 6);
  assert.equal(r.n, 3);
  assert.equal(r.pairs, 5);
  close(r.pairAccuracy, 3 / 5, 1e-12, 'pair accuracy');
  close(r.hiddenMean, 2.15 / 6, 1e-12, 'hidden mean');
  close(r.bestOfNHidden, (1 + 0) / 2, 1e-12, 'best-of-n hidden');
  close(r.passRate, 2 / 6, 1e-12, 'pass rate');
  close(r.bestOfNPass, 1 / 2, 1e-12, 'best-of-n pass');
  // scores 3 1 2 0 5 5: mean 16/6; squared deviations sum 21.3333…, population variance 3.5556, std 1.885618
  close(r.mean, 16 / 6, 1e-12, 'mean');
  close(r.std, 1.885618, 1e-6, 'std');
});

test('rm check: an RM tie counts half; without hidden scores only the statistics are reported', () => {
  const t = checkOnPolicy([{ rm: [1, 1], hidden: [1, 0] }]);
  close(t.pairAccuracy, 0.5, 0, 'tie');
  assert.equal(t.passRate, undefined, 'no correctness given, no pass rate');
  const s = checkOnPolicy([{ rm: [2, 4] }, { rm: [6, 8] }]);
  assert.equal(s.pairAccuracy, undefined);
  close(s.mean, 5, 0, 'mean'); close(s.std, Math.sqrt(5), 1e-12, 'std'); // deviations −3 −1 1 3 → (9+1+1+9)/4 = 5
  assert.equal(checkOnPolicy([]).samples, 0);
});
