/**
 * The DELTA experiment's pieces: the dense / binary test-case rewards and the step schedule (algorithms/delta.ts via
 * the façade) against Python (test/fixtures/eepo_ghpo_delta_ref.py), the delta-shift task (the base behaviour it
 * teaches is never the answer), the schedule inside the rollout (score = dense part up to denseUntil, binary after;
 * reward/schedule_dense logged; a line at the switch), and a clear error when the task lacks the named part.
 * Tolerance: exact (the values are small rationals computed the same way in float64).
 */
import { before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as R from '../../src/trainer/algorithms/reference';
import { initBackend } from '../../src/trainer/backend';
import { GPT } from '../../src/trainer/model/gpt';
import { CharTokenizer } from '../../src/trainer/tokenizer';
import { createTask } from '../../src/trainer/tasks';
import { shiftDigits } from '../../src/trainer/tasks/delta';
import { rlTaskFrom } from '../../src/trainer/rl/types';
import { resolveRlConfig } from '../../src/trainer/rl/config';
import { runRl } from '../../src/trainer/rl/loop';
import { withRewardSchedule } from '../../src/trainer/rl/delta';
import { Rng } from '../../src/trainer/rng';

const fx = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'fixtures', 'eepo-ghpo-delta-reference.json'), 'utf8'));

before(async () => { await initBackend('cpu'); });

test('dense / binary test-case rewards and the dense → binary schedule = Python reference', () => {
  for (const c of fx.deltaTestCases) assert.deepEqual(R.deltaTestCaseRewards({ got: c.got, want: c.want }), { dense: c.dense, binary: c.binary }, `${c.got} vs ${c.want}`);
  for (const c of fx.deltaSchedule) assert.equal(R.deltaReward({ parts: c.parts, step: c.step, denseUntil: c.denseUntil }), c.reward, `step ${c.step} denseUntil ${c.denseUntil}`);
  assert.throws(() => R.deltaReward({ parts: { accuracy: 1 }, step: 1, denseUntil: 5 }), /rl\.rewardSchedule\.densePart.*"dense"/);
});

test('delta-shift: the answer shifts every digit; the base behaviour (copy) never is the answer and earns dense 1/(L+1)', () => {
  const t = createTask('delta-shift', { difficulty: 2 });
  const rng = new Rng(4);
  for (let i = 0; i < 200; i++) {
    const ex = t.sample(rng, 'train');
    const digits = ex.prompt.slice(2, -1);
    assert.equal(ex.answer, shiftDigits(digits));
    const copy = t.corrupt(ex, rng);
    assert.equal(copy, digits);
    assert.notEqual(copy, ex.answer);
    const r = t.reward(ex, copy, true);
    assert.equal(r.parts.accuracy, 0);
    assert.equal(r.parts.dense, 1 / (digits.length + 1), 'only the length test case passes');
    assert.deepEqual(t.reward(ex, ex.answer, true).parts, { accuracy: 1, dense: 1, format: 1 });
  }
  assert.equal(t.reward({ id: 'd:12=', prompt: 'd:12=', answer: '23', difficulty: 1 }, '23', false).parts.accuracy, 0, 'no EOS: not solved');
});

test('the schedule inside a run: dense score up to denseUntil, binary after; reward/schedule_dense; a log line at the switch', async () => {
  const tok = new CharTokenizer();
  const task = rlTaskFrom(createTask('delta-shift', { difficulty: 1 }));
  const sched = withRewardSchedule(task, resolveRlConfig('grpo', { rewardSchedule: { denseUntil: 2 } }), 2);
  const item = { prompt: 'd:12=', answer: '23' };
  assert.equal(sched.reward(item, '24', true).score, 2 / 3);
  assert.equal(withRewardSchedule(task, resolveRlConfig('grpo', { rewardSchedule: { denseUntil: 2 } }), 3).reward(item, '24', true).score, 0);
  const policy = GPT.create({ vocabSize: tok.size, contextLength: 16, dModel: 16, nHeads: 2, nLayers: 1 }, 3);
  const ref = policy.clone(false);
  const lines: string[] = [];
  const res = await runRl({ policy, ref, tokenizer: tok, task, seed: 3, log: (l) => lines.push(l) }, 'grpo', { steps: 4, promptsPerStep: 3, groupSize: 4, maxNewTokens: 5, eval: { every: 0 }, rewardSchedule: { denseUntil: 2 } });
  assert.deepEqual(res.metrics.map((m) => m['reward/schedule_dense']), [1, 1, 0, 0]);
  // the score the advantage used: the dense part before the switch, the binary part after
  for (const [i, m] of res.metrics.entries()) assert.equal(m['score/mean'], i < 2 ? m['reward/dense/mean'] : m['reward/accuracy/mean'], `step ${i + 1}`);
  assert.ok(lines.some((l) => /step 3: reward schedule switched from dense/.test(l)), lines.join('\n'));
  policy.dispose(); ref.dispose();
});

test('config: rewardSchedule fields validated with the field named', () => {
  assert.throws(() => resolveRlConfig('grpo', { rewardSchedule: { denseUntil: -1 } }), /rl\.rewardSchedule\.denseUntil/);
  assert.throws(() => resolveRlConfig('grpo', { rewardSchedule: { densePart: '' } }), /rl\.rewardSchedule\.densePart/);
  assert.equal(resolveRlConfig('grpo', {}).rewardSchedule.denseUntil, null);
});
