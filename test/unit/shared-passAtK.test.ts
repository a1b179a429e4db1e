// The one pass@k (src/shared/passAtK.ts) against values computed independently, and its k > n decision.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { passAtK } from '../../src/shared/passAtK';

// Expected values: float64 from the paper's numpy code (Chen et al. 2021, "Evaluating Large Language Models Trained
// on Code", Fig. 3), checked against the exact binomial form of eq. 1 with Python's math.comb (both agree to the last
// digit for every row below):
//
//   import numpy as np
//   from math import comb
//   def pass_at_k(n, c, k):
//       if n - c < k: return 1.0
//       return 1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1))
//   for n, c, k in ROWS: print(n, c, k, repr(float(pass_at_k(n, c, k))), repr(1 - comb(n - c, k) / comb(n, k)))
const ROWS: [n: number, c: number, k: number, expected: number][] = [
  [1, 0, 1, 0.0],
  [1, 1, 1, 1.0],
  [5, 1, 2, 0.4],
  [8, 2, 4, 0.7857142857142857],
  [10, 3, 1, 0.30000000000000004],
  [10, 3, 5, 0.9166666666666666],
  [16, 1, 8, 0.5],
  [20, 5, 10, 0.9837461300309598],
  [100, 7, 10, 0.5332595856827855],
  [200, 13, 50, 0.979277922955739],
  [200, 1, 1, 0.0050000000000000044],
  [200, 0, 100, 0.0],
  [4, 3, 2, 1.0],
];

test('passAtK: matches the paper\'s numpy estimator (float64) on hand-picked n, c, k', () => {
  for (const [n, c, k, expected] of ROWS) {
    const got = passAtK(n, c, k);
    assert.ok(Math.abs(got - expected) <= 1e-12, `pass@${k} with n=${n}, c=${c}: got ${got}, expected ${expected}`);
  }
});

test('passAtK: hand-computed small cases (1 − C(n−c,k)/C(n,k))', () => {
  assert.equal(passAtK(4, 1, 4), 1); // n − c = 3 < k: every draw of 4 contains the correct one
  assert.ok(Math.abs(passAtK(4, 1, 2) - (1 - 3 / 6)) < 1e-12); // C(3,2)/C(4,2) = 3/6
  assert.ok(Math.abs(passAtK(6, 2, 3) - (1 - 4 / 20)) < 1e-12); // C(4,3)/C(6,3) = 4/20
  assert.ok(Math.abs(passAtK(10, 3, 1) - 0.3) < 1e-12); // pass@1 = c/n
});

test('passAtK: k > n is undefined (NaN), never 1 or 0; other invalid input is NaN too', () => {
  assert.ok(Number.isNaN(passAtK(4, 4, 5)), 'all correct, k > n');
  assert.ok(Number.isNaN(passAtK(4, 0, 8)), 'none correct, k > n');
  assert.ok(Number.isNaN(passAtK(0, 0, 1)), 'no samples');
  assert.ok(Number.isNaN(passAtK(4, 1, 0)), 'k < 1');
  assert.ok(Number.isNaN(passAtK(4, 5, 1)), 'c > n');
  assert.ok(Number.isNaN(passAtK(4, -1, 1)), 'c < 0');
  assert.ok(Number.isNaN(passAtK(4, 1.5, 1)), 'non-integer c');
  assert.equal(passAtK(4, 4, 4), 1, 'k = n is defined');
});

test('passAtK: monotone in k and in c', () => {
  const n = 16;
  for (let c = 0; c <= n; c++) for (let k = 1; k < n; k++) assert.ok(passAtK(n, c, k + 1) >= passAtK(n, c, k) - 1e-15, `k: n=${n} c=${c} k=${k}`);
  for (let k = 1; k <= n; k++) for (let c = 0; c < n; c++) assert.ok(passAtK(n, c + 1, k) >= passAtK(n, c, k) - 1e-15, `c: n=${n} c=${c} k=${k}`);
});
