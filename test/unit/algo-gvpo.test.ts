/**
 * GVPO (src/trainer/algorithms/gvpo.ts via the façade gvpoLoss in reference.ts) against values computed independently
 * in float64 Python by test/fixtures/gvpo_ref.py (from the paper and the authors' verl recipe, loops over valid tokens
 * only), committed as test/fixtures/gvpo-reference.json:
 *   python3 test/fixtures/gvpo_ref.py > test/fixtures/gvpo-reference.json
 * Padded positions (null in the fixture) are filled with junk (NaN, ±Infinity, 1e30, −7.5): the loss must not change.
 * Tolerances (tfjs computes in float32): loss |got − want| ≤ 2e-5 + 2e-5·|want|; gradient ≤ 2e-5 + 1e-4·|want|
 * (the Python gradient is a central difference of the float64 loss, error ≈ 1e-9).
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as R from '../../src/trainer/algorithms/reference';
import { computePolicyLossGvpo, gvpoWeights } from '../../src/trainer/algorithms/gvpo';
import { groupIndex, groupMatrix } from '../../src/trainer/algorithms/advantages';

interface Case { logprobs: (number | null)[][]; refLogprobs: (number | null)[][]; mask: number[][]; rewards: number[]; groupIds: (string | number)[]; beta: number; n: number; expected: number; implicitReward: number[]; seqGrad: number[] }
const fx = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'fixtures', 'gvpo-reference.json'), 'utf8')) as { gvpo: Case[] };
const JUNK = [NaN, Infinity, -Infinity, 1e30, -7.5];
function junk(m: (number | null)[][], seed: number): number[][] {
  let k = seed;
  return m.map((r) => r.map((v) => (v === null ? JUNK[k++ % JUNK.length] : v)));
}
const close = (got: number, want: number, rel: number, what: string) => {
  const tol = 2e-5 + rel * Math.abs(want);
  assert.ok(Number.isFinite(got) && Math.abs(got - want) <= tol, `${what}: got ${got}, want ${want} (tol ${tol})`);
};

test('gvpoLoss matches the float64 reference (authors\' verl recipe: sum over sequences, ÷ (n − 1)), junk in padding', () => {
  assert.ok(fx.gvpo.length >= 4);
  for (const [i, c] of fx.gvpo.entries()) {
    for (const seed of [0, 3]) {
      const got = R.gvpoLoss({ logprobs: junk(c.logprobs, seed), refLogprobs: junk(c.refLogprobs, seed + 1), mask: c.mask, rewards: c.rewards, groupIds: c.groupIds, beta: c.beta });
      close(got, c.expected, 2e-5, `gvpo case ${i} (seed ${seed})`);
    }
  }
  // the on-policy case really is Σ ½(R − R̄)²/(n − 1) = 0.5/3
  assert.ok(Math.abs(fx.gvpo[2].expected - 0.5 / 3) < 1e-12);
});

test('gradient of the loss w.r.t. log π_θ = β·w′_i/(n − 1) on every valid token of sequence i (float64 finite differences)', () => {
  for (const [i, c] of fx.gvpo.entries()) {
    const B = c.mask.length, T = c.mask[0].length;
    const { index, keys } = groupIndex(c.groupIds);
    const lp = tf.tensor2d(junk(c.logprobs, 1).map((r) => r.map((v) => (Number.isFinite(v) ? v : 0))), [B, T]);
    const ref = tf.tensor2d(junk(c.refLogprobs, 2), [B, T]), mask = tf.tensor2d(c.mask, [B, T]);
    const rw = tf.tensor1d(c.rewards), G = groupMatrix(index, keys.length);
    const g = tf.grad((x: tf.Tensor) => computePolicyLossGvpo(x as tf.Tensor2D, ref, mask, rw, G, c.beta, c.n).loss)(lp);
    const ga = g.arraySync() as number[][];
    for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) {
      if (c.mask[b][t]) close(ga[b][t], c.seqGrad[b], 1e-4, `case ${i} grad[${b}][${t}]`);
      else assert.equal(ga[b][t], 0, `case ${i} grad[${b}][${t}] on padding`);
    }
    tf.dispose([lp, ref, mask, rw, G, g]);
  }
});

test('the weights sum to zero in every group; a per-group shift of the rewards (the partition function β·log Z(x)) changes nothing', () => {
  const c = fx.gvpo[1];
  const B = c.mask.length, T = c.mask[0].length;
  const { index, keys } = groupIndex(c.groupIds);
  tf.tidy(() => {
    const G = groupMatrix(index, keys.length);
    const s = tf.tensor1d(c.implicitReward), r = tf.tensor1d(c.rewards);
    const w = Array.from(gvpoWeights(s, r, G).dataSync());
    for (let k = 0; k < keys.length; k++) {
      const sum = w.filter((_, b) => index[b] === k).reduce((a, x) => a + x, 0);
      assert.ok(Math.abs(sum) < 1e-5, `group ${String(keys[k])}: Σ w = ${sum}`);
    }
    void B; void T;
  });
  const base = { logprobs: junk(c.logprobs, 0), refLogprobs: junk(c.refLogprobs, 0), mask: c.mask, groupIds: c.groupIds, beta: c.beta };
  const shift = new Map<string, number>([['7', 3.25], ['3', -11], ['9', 0.5]]);
  const shifted = R.gvpoLoss({ ...base, rewards: c.rewards.map((x, b) => x + shift.get(String(c.groupIds[b]))!) });
  close(shifted, c.expected, 2e-5, 'shifted rewards');
});

test('the loss is 0 exactly at the closed-form solution: β·log(π_θ/π_θ′) − mean = R − mean', () => {
  const beta = 0.25, rewards = [1, 0, 0.5, 1, 0, 0];
  const ref = [[-1, -2, -0.5], [-0.3, -0.7, -1.1], [-2, -0.1, -0.4], [-1, -1, -1], [-0.2, -3, -1], [-0.5, -0.5, -0.5]];
  // π_θ = π_θ′·exp(R/β)/Z: put R_i/β (+ any per-group log Z) on the first token
  const lp = ref.map((r, b) => r.map((v, t) => (t === 0 ? v + rewards[b] / beta + (b < 3 ? -4 : 1.5) : v)));
  const loss = R.gvpoLoss({ logprobs: lp, refLogprobs: ref, mask: ref.map((r) => r.map(() => 1)), rewards, groupIds: [0, 0, 0, 1, 1, 1], beta });
  assert.ok(Math.abs(loss) < 1e-9, `loss at the optimum: ${loss}`);
  // and > 0 away from it (the test can fail)
  const off = R.gvpoLoss({ logprobs: ref, refLogprobs: ref, mask: ref.map((r) => r.map(() => 1)), rewards, groupIds: [0, 0, 0, 1, 1, 1], beta });
  assert.ok(off > 0.1, `loss away from the optimum: ${off}`);
});

test('bad input: clear errors naming the field', () => {
  const ok = { logprobs: [[-1], [-2]], refLogprobs: [[-1], [-1]], mask: [[1], [1]], rewards: [1, 0], groupIds: ['a', 'a'], beta: 0.1 };
  assert.doesNotThrow(() => R.gvpoLoss(ok));
  assert.throws(() => R.gvpoLoss({ ...ok, groupIds: ['a', 'b'] }), /groupIds: groups of 1/);
  assert.throws(() => R.gvpoLoss({ ...ok, logprobs: [[-1], [-2], [-3]], refLogprobs: [[-1], [-1], [-1]], mask: [[1], [1], [1]], rewards: [1, 0, 1], groupIds: ['a', 'a', 'b'] }), /same size n/);
  assert.throws(() => R.gvpoLoss({ ...ok, beta: 0 }), /beta: expected a number > 0/);
  assert.throws(() => R.gvpoLoss({ ...ok, rewards: [1] }), /rewards: expected 2 numbers/);
  assert.throws(() => R.gvpoLoss({ ...ok, mask: [[1], [0.5]] }), /mask\[1\]\[0\]/);
  assert.throws(() => R.gvpoLoss({ ...ok, refLogprobs: [[-1]] }), /refLogprobs: has 1 rows, expected 2/);
  assert.throws(() => R.gvpoLoss({ ...ok, logprobs: [[NaN], [-2]] }), /logprobs\[0\]\[0\]: a valid token needs a finite log-prob/);
});

test('the façade leaves no tensor behind (tf.memory().numTensors unchanged, also when it throws)', () => {
  const c = fx.gvpo[0];
  const a = { logprobs: junk(c.logprobs, 0), refLogprobs: junk(c.refLogprobs, 0), mask: c.mask, rewards: c.rewards, groupIds: c.groupIds, beta: c.beta };
  R.gvpoLoss(a);
  const before = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) R.gvpoLoss(a);
  assert.throws(() => R.gvpoLoss({ ...a, beta: -1 }));
  assert.equal(tf.memory().numTensors, before);
});
