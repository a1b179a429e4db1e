/**
 * The plain-number façade (src/trainer/algorithms/reference.ts, which calls the trainer's tensor code) against values
 * computed independently in Python (float64, loops over valid tokens only) by test/fixtures/algo_reference.py from the
 * formulas in docs/references.md. The numbers live in test/fixtures/algo-reference.json, produced by
 *   python3 test/fixtures/algo_reference.py > test/fixtures/algo-reference.json
 * and are never produced by the code under test.
 *
 * Padded positions (null in the fixture) are filled here with junk (NaN, ±Infinity, 1e30, −7.5): results must not change.
 * Tolerance: |got − want| ≤ 2e-5 + 2e-5·|want| (tfjs computes in float32; inputs were rounded to float32 in Python).
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as R from '../../src/trainer/algorithms/reference';

const fx = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'fixtures', 'algo-reference.json'), 'utf8'));
const JUNK = [NaN, Infinity, -Infinity, 1e30, -7.5];

type Cell = number | null;
function junk(m: Cell[][], seed = 0): number[][] {
  let k = seed;
  return m.map((r) => r.map((v) => (v === null ? JUNK[k++ % JUNK.length] : v)));
}
function close(got: number, want: number, what: string): void {
  const tol = 2e-5 + 2e-5 * Math.abs(want);
  assert.ok(Number.isFinite(got) && Math.abs(got - want) <= tol, `${what}: got ${got}, want ${want} (tol ${tol})`);
}
function closeM(got: number[][], want: number[][], what: string, mask?: number[][]): void {
  assert.equal(got.length, want.length, `${what}: rows`);
  want.forEach((row, b) => row.forEach((w, t) => {
    if (mask && !mask[b][t]) assert.equal(got[b][t], 0, `${what}[${b}][${t}] padding must be 0`);
    else close(got[b][t], w, `${what}[${b}][${t}]`);
  }));
}

test('klPenalty k1/abs/k2/k3 with verl clamps (k3: x clamped to ±20, value to ±10)', () => {
  for (const c of fx.kl) closeM(R.klPenalty(c.logp, c.refLogp, c.kind), c.expected, `kl ${c.kind}`);
  // the clamp entries are really in the fixture: k3 of ref − lp = 25 is 10, not e^20
  const k3 = fx.kl.find((c: { kind: string }) => c.kind === 'k3');
  assert.equal(k3.expected[0][7], 10);
});

test('gae (verl reverse loop, mask carry-through, not whitened), junk in padding', () => {
  for (const [i, c] of fx.gae.entries()) {
    for (const seed of [0, 2]) {
      const r = R.gae(junk(c.tokenRewards, seed), junk(c.values, seed + 1), c.mask, c.gamma, c.lambda);
      closeM(r.advantages, c.advantages, `gae#${i} advantages`, c.mask);
      closeM(r.returns, c.returns, `gae#${i} returns`, c.mask);
    }
  }
});

test('maskedWhiten (verl: unbiased var, rsqrt(var + 1e-8), global), junk in padding', () => {
  for (const c of fx.whiten) closeM(R.maskedWhiten(junk(c.x), c.mask), c.expected, 'whiten', c.mask);
  assert.throws(() => R.maskedWhiten([[1, 2]], [[1, 0]]), /at least 2/);
});

test('outcomeAdvantages grpo / dr_grpo / rloo / reinforce_rej / raft (groups of 1, all-equal groups, mixed id types, eps)', () => {
  for (const c of fx.outcome) {
    const got = R.outcomeAdvantages(c.rewards, c.groupIds, c.estimator, c.eps !== undefined ? { eps: c.eps } : undefined);
    assert.equal(got.length, c.expected.length);
    got.forEach((g, i) => close(g, c.expected[i], `${c.estimator}${c.eps ? `(eps ${c.eps})` : ''}[${i}]`));
  }
  // group id 7 (number) and '7' (string) are different groups
  const a = R.outcomeAdvantages([1, 0], [7, '7'], 'grpo');
  close(a[0], 1 / (1 + 1e-6), 'group of one: (1 − 0)/(1 + 1e-6)');
  assert.equal(a[1], 0);
  assert.throws(() => R.outcomeAdvantages([1], [1], 'ppo' as never), /estimator must be one of/);
});

test('reinforcePlusPlusAdvantages (verl: returns reset after EOS, global whitening), junk in padding', () => {
  for (const c of fx.rpp) closeM(R.reinforcePlusPlusAdvantages(junk(c.tokenRewards, 1), c.mask, c.gamma), c.expected, `rpp γ=${c.gamma}`, c.mask);
});

test('policyLoss: every aggregation mode, dual clip on/off, ±20 ratio clamp, loss_scale_factor, clip fractions', () => {
  for (const c of fx.policy) {
    const r = R.policyLoss({ logp: junk(c.logp), oldLogp: junk(c.oldLogp, 3), advantages: junk(c.advantages, 1), mask: c.mask,
      clipLow: c.clipLow, clipHigh: c.clipHigh, dualClip: c.dualClip ?? undefined, agg: c.agg, lossScaleFactor: c.lossScaleFactor });
    const what = `policy ${c.agg} dual=${c.dualClip}`;
    close(r.loss, c.expected.loss, `${what} loss`);
    close(r.clipFracLow, c.expected.clipFracLow, `${what} clipFracLow`);
    close(r.clipFracHigh, c.expected.clipFracHigh, `${what} clipFracHigh`);
    close(r.clipFracDual, c.expected.clipFracDual, `${what} clipFracDual`);
  }
});

test('valueLoss (verl: 0.5·agg(max(unclipped², clipped²)), clip fraction)', () => {
  for (const c of fx.value) {
    const r = R.valueLoss({ values: junk(c.values), oldValues: junk(c.oldValues, 2), returns: junk(c.returns, 4), mask: c.mask, clip: c.clip, agg: c.agg });
    close(r.loss, c.expected.loss, `value ${c.agg}`);
    close(r.clipFrac, c.expected.clipFrac, `value ${c.agg} clipFrac`);
  }
});

test('gspoLoss (verl sequence ratio, max-10 clamp, seq-mean-token-mean) and gmpoLoss (sign-aware log-space clip)', () => {
  for (const c of fx.gspo) close(R.gspoLoss({ ...c, logp: junk(c.logp), oldLogp: junk(c.oldLogp, 1), advantages: junk(c.advantages, 2) }).loss, c.expected.loss, `gspo ${c.clipLow}`);
  for (const c of fx.gmpo) close(R.gmpoLoss({ ...c, logp: junk(c.logp), oldLogp: junk(c.oldLogp, 1), advantages: junk(c.advantages, 2) }).loss, c.expected.loss, `gmpo ${c.clip}`);
});

test('overlongPenalty (TRL / DAPO Eq. 13)', () => {
  for (const c of fx.overlong) close(R.overlongPenalty(c.length, c.maxLength, c.cacheLength), c.expected, `overlong ${c.length}`);
  // by hand: L_max 16, L_cache 4: 13 → (12 − 13)/4 = −0.25; 17 → −1
  assert.equal(R.overlongPenalty(13, 16, 4), -0.25);
  assert.equal(R.overlongPenalty(17, 16, 4), -1);
});

test('bad input is a clear error; the façade leaks no tensors', () => {
  assert.throws(() => R.gae([[1, 2]], [[1]], [[1, 2]], 1, 1), /mask\[0\]\[1\] = 2/);
  assert.throws(() => R.policyLoss({ logp: [[0]], oldLogp: [[0], [0]], advantages: [[1]], mask: [[1]], clipLow: 0.2, clipHigh: 0.2, agg: 'token-mean' }), /rows/);
  assert.throws(() => R.policyLoss({ logp: [[0]], oldLogp: [[0]], advantages: [[1]], mask: [[1]], clipLow: 0.2, clipHigh: 0.2, agg: 'mean' as never }), /agg must be one of/);
  const before = tf.memory().numTensors;
  const c = fx.policy[1];
  for (let i = 0; i < 3; i++) {
    R.policyLoss({ logp: junk(c.logp), oldLogp: junk(c.oldLogp), advantages: junk(c.advantages), mask: c.mask, clipLow: 0.2, clipHigh: 0.28, dualClip: 3, agg: 'token-mean' });
    R.gae(junk(fx.gae[0].tokenRewards), junk(fx.gae[0].values), fx.gae[0].mask, 1, 1);
    R.outcomeAdvantages(fx.outcome[0].rewards, fx.outcome[0].groupIds, 'rloo');
  }
  assert.equal(tf.memory().numTensors, before);
});
