/**
 * GRPO-λ rewards (src/trainer/algorithms/grpoLambda.ts via the façade grpoLambdaRewards in reference.ts) against values
 * computed independently in float64 Python by test/fixtures/grpo_lambda_ref.py (Top-λ selection of GRPO-λ, the
 * length-penalised rewards of Arora & Zanette 2025 and Kimi k1.5), committed as test/fixtures/grpo-lambda-reference.json:
 *   python3 test/fixtures/grpo_lambda_ref.py > test/fixtures/grpo-lambda-reference.json
 * Both sides compute in float64: tolerance 1e-12 absolute.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as R from '../../src/trainer/algorithms/reference';
import { computeGrpoLambdaRewards, topLambdaSelect, type GrpoLambdaPenalty } from '../../src/trainer/algorithms/grpoLambda';

interface Case { correctness: number[]; lengths: number[]; groupIds: (string | number)[]; lambda: number; penalty: GrpoLambdaPenalty; alpha: number; skipUnsolved: boolean; expected: number[]; penalised: boolean[]; selectedGroups: number }
const fx = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'fixtures', 'grpo-lambda-reference.json'), 'utf8')) as { grpoLambda: Case[] };

test('grpoLambdaRewards matches the float64 reference (both penalties, λ = 0, 1/3, 0.2, 0.35, 0.5, 2/3, 1; ties; std 0; all-wrong groups with and without skipUnsolved)', () => {
  assert.ok(fx.grpoLambda.length >= 14 && fx.grpoLambda.some((c) => !c.skipUnsolved) && fx.grpoLambda.some((c) => c.skipUnsolved));
  for (const [i, c] of fx.grpoLambda.entries()) {
    const got = R.grpoLambdaRewards({ correctness: c.correctness, lengths: c.lengths, groupIds: c.groupIds, lambda: c.lambda, penalty: c.penalty, alpha: c.alpha, skipUnsolved: c.skipUnsolved });
    assert.equal(got.length, c.expected.length);
    got.forEach((g, b) => assert.ok(Math.abs(g - c.expected[b]) <= 1e-12, `case ${i} (${c.penalty}, λ ${c.lambda}) [${b}]: got ${g}, want ${c.expected[b]}`));
    const d = computeGrpoLambdaRewards({ correctness: c.correctness, lengths: c.lengths, groupIds: c.groupIds, lambda: c.lambda, penalty: c.penalty, alpha: c.alpha, skipUnsolved: c.skipUnsolved });
    assert.deepEqual(d.penalised, c.penalised, `case ${i}: penalised`);
    assert.equal(d.selectedGroups, c.selectedGroups, `case ${i}: selected groups`);
  }
});

test('λ = 0 is plain 0/1 correctness; the penalty changes only the selected groups; correct beats wrong in every penalised group', () => {
  const c = fx.grpoLambda.find((x) => x.lambda === 0.2)!;
  assert.deepEqual(R.grpoLambdaRewards({ ...c, lambda: 0 }), c.correctness);
  const d = computeGrpoLambdaRewards(c);
  c.correctness.forEach((x, b) => { if (!d.penalised[b]) assert.equal(d.rewards[b], x); });
  // 'efficient': a correct completion keeps ≥ 1 − α, a wrong one gets 0
  c.correctness.forEach((x, b) => { if (d.penalised[b]) assert.ok(x ? d.rewards[b] >= 1 - c.alpha && d.rewards[b] < 1 : d.rewards[b] === 0); });
  // the selected groups are the most accurate ones
  const sel = d.groupRatio.filter((_, b) => d.penalised[b]), rest = d.groupRatio.filter((_, b) => !d.penalised[b]);
  assert.ok(Math.min(...sel) >= Math.max(...rest), `selected ratios ${sel} vs others ${rest}`);
});

test('topLambdaSelect: ⌈λ·K⌉ groups, highest ratio first, ties to the earlier group', () => {
  assert.deepEqual(topLambdaSelect([0.5, 1, 0.5, 0], 0.5), [true, true, false, false]);
  assert.deepEqual(topLambdaSelect([0.5, 1, 0.5, 0], 0.25), [false, true, false, false]);
  assert.deepEqual(topLambdaSelect([0.5, 1, 0.5, 0], 0.3), [true, true, false, false]); // ⌈1.2⌉ = 2
  assert.deepEqual(topLambdaSelect([0.2, 0.2, 0.2], 2 / 3), [true, true, false]);
  assert.deepEqual(topLambdaSelect([0.2, 0.9], 0), [false, false]);
  assert.deepEqual(topLambdaSelect([0.2, 0.9], 1), [true, true]);
  // a group with no correct answer is never penalised (skipUnsolved, default); without it, ranking alone decides
  assert.deepEqual(topLambdaSelect([0, 0.5, 0], 1), [false, true, false]);
  assert.deepEqual(topLambdaSelect([0, 0.5, 0], 1, false), [true, true, true]);
  assert.deepEqual(topLambdaSelect([0, 0, 0], 0.2), [false, false, false]);
});

test('bad input: clear errors naming the field', () => {
  const ok = { correctness: [1, 0], lengths: [3, 4], groupIds: ['a', 'a'], lambda: 0.5 };
  assert.doesNotThrow(() => R.grpoLambdaRewards(ok));
  assert.throws(() => R.grpoLambdaRewards({ ...ok, correctness: [1, 0.5] }), /correctness\[1\] = 0.5: must be 0 \(wrong\) or 1/);
  assert.throws(() => R.grpoLambdaRewards({ ...ok, lengths: [3] }), /lengths: expected 2 values/);
  assert.throws(() => R.grpoLambdaRewards({ ...ok, lengths: [3, -1] }), /lengths\[1\]/);
  assert.throws(() => R.grpoLambdaRewards({ ...ok, groupIds: ['a'] }), /groupIds: expected 2 ids/);
  assert.throws(() => R.grpoLambdaRewards({ ...ok, lambda: 1.5 }), /lambda: must be a number in \[0, 1\]/);
  assert.throws(() => R.grpoLambdaRewards({ ...ok, penalty: 'linear' as never }), /penalty: must be one of efficient, kimi/);
  assert.throws(() => R.grpoLambdaRewards({ ...ok, alpha: -1 }), /alpha: must be a number ≥ 0/);
  assert.throws(() => R.grpoLambdaRewards({ ...ok, skipUnsolved: 1 as never }), /skipUnsolved: must be true or false/);
});
