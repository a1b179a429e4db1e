/**
 * GVPO and GRPO-λ inside the RL loop (standalone runRl, cpu backend, tiny GPT): what the trainer logs and traces is
 * what the façades (checked against float64 Python in algo-gvpo / algo-grpo-lambda) compute from the same trace.
 *   GVPO, 1 minibatch × 2 epochs: epoch 1 is on-policy (π_θ = π_old, implicit reward 0, loss Σ½(R − R̄)²/(n−1)); epoch 2
 *     sees the updated policy, so its loss = gvpoLoss(trace logprob, trace old_logprob, rewards, groups, β); pg_loss is
 *     their mean. implicit_reward per token = β·(logprob − old_logprob); advantage = R − mean(R) of the group.
 *   GRPO-λ: every sample's reward = grpoLambdaRewards(correct, length, group, λ) of the whole batch; the groups' rewards
 *     and grpo_lambda/frac_groups_penalised = ⌈λK⌉/K follow.
 * Tolerances: float32 tensors → 1e-4 relative (+1e-5) for losses, 1e-5 for per-token values; rewards exact (1e-12).
 */
import { before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { initBackend } from '../../src/trainer/backend';
import { GPT } from '../../src/trainer/model/gpt';
import { CharTokenizer } from '../../src/trainer/tokenizer';
import { createTask } from '../../src/trainer/tasks';
import { runRl } from '../../src/trainer/rl/loop';
import { rlTaskFrom, type RlTask } from '../../src/trainer/rl/types';
import { resolveRlConfig } from '../../src/trainer/rl/config';
import type { RolloutStepInput } from '../../src/shared/rolloutStep';
import * as R from '../../src/trainer/algorithms/reference';

before(async () => { await initBackend('cpu'); });

function tiny(seed: number) {
  const tok = new CharTokenizer();
  const policy = GPT.create({ vocabSize: tok.size, contextLength: 16, dModel: 16, nHeads: 2, nLayers: 1 }, seed);
  return { tok, policy, ref: policy.clone(false) };
}

test('gvpo in the loop: pg_loss, implicit_reward and advantage traces equal the façade on the traced arrays', async () => {
  const { tok, policy, ref } = tiny(5);
  const task = rlTaskFrom(createTask('arithmetic', { difficulty: 1, partialCredit: true }));
  let ro: RolloutStepInput | undefined;
  const res = await runRl({ policy, ref, tokenizer: tok, task, seed: 5 }, 'gvpo', {
    steps: 1, promptsPerStep: 3, groupSize: 4, maxNewTokens: 4, miniBatches: 1, ppoEpochs: 2, lr: 0.01, warmupSteps: 0, eval: { every: 0 }, gvpoBeta: 0.5,
  }, { rollout: (_s, r) => { ro = r; }, step: () => undefined });
  assert.ok(ro);
  const m = res.metrics[0];
  const S = ro!.samples, A = ro!.arrays;
  assert.equal(S.length, 12);
  assert.equal(ro!.header.params?.gvpoBeta, 0.5);
  const rewards = S.map((s) => s.reward), groupIds = S.map((s) => s.group);
  assert.ok(new Set(rewards).size > 1, 'partial credit gives different rewards');
  // advantage = R − mean of the group (dr_grpo, what the recipe feeds the loss)
  for (const g of ro!.header.groups) {
    const mu = g.rewards.reduce((a, b) => a + b, 0) / g.rewards.length;
    for (const i of g.samples) assert.ok(Math.abs((S[i].advantage ?? NaN) - (S[i].reward - mu)) < 1e-5, `advantage of sample ${i}`);
  }
  for (let i = 0; i < S.length; i++) {
    const a = A[i];
    for (let t = 0; t < S[i].length; t++) {
      const want = 0.5 * (Number(a.logprob[t]) - Number(a.old_logprob[t]));
      assert.ok(Math.abs(Number(a.implicit_reward[t]) - want) < 1e-5, `implicit_reward[${i}][${t}] ${a.implicit_reward[t]} vs ${want}`);
    }
  }
  const lp = A.map((a) => Array.from(a.logprob as ArrayLike<number>)), old = A.map((a) => Array.from(a.old_logprob as ArrayLike<number>));
  const mask = S.map((s) => new Array<number>(s.length).fill(1));
  const epoch1 = R.gvpoLoss({ logprobs: old, refLogprobs: old, mask, rewards, groupIds, beta: 0.5 });
  const epoch2 = R.gvpoLoss({ logprobs: lp, refLogprobs: old, mask, rewards, groupIds, beta: 0.5 });
  assert.ok(epoch2 !== epoch1, 'the second epoch is off-policy (the policy moved)');
  const want = (epoch1 + epoch2) / 2, got = m['pg_loss'] as number;
  assert.ok(Math.abs(got - want) <= 1e-5 + 1e-4 * Math.abs(want), `pg_loss ${got} vs façade ${want} (epochs ${epoch1}, ${epoch2})`);
  for (const k of ['gvpo/implicit_reward/mean', 'gvpo/implicit_reward/std', 'gvpo/weight/rms']) assert.ok(Number.isFinite(m[k] as number), `${k} = ${m[k]}`);
  assert.ok(!('kl_loss' in m), 'no KL term in the loss (verl recipe use_kl_loss=False)');
  for (const x of [policy, ref]) x.dispose();
});

/** A task whose correctness is a coin the tiny random model flips: completions of even length are correct. */
function parityTask(): RlTask {
  const items = ['a', 'b', 'c', 'd', 'e'].map((p) => ({ prompt: p }));
  return {
    name: 'parity', sampleTrain: (rng) => items[rng.int(items.length)], evalItems: (n) => items.slice(0, n),
    reward: (_item, completion) => ({ score: 0.25, parts: { task: 0.25, odd: completion.length % 2 }, correct: completion.length % 2 === 0 }),
  };
}

for (const penalty of ['efficient', 'kimi'] as const) {
  test(`grpo_lambda in the loop (${penalty}): the traced rewards are grpoLambdaRewards of the batch; ⌈λK⌉ of K groups penalised`, async () => {
    const { tok, policy, ref } = tiny(7);
    const steps: RolloutStepInput[] = [];
    const rl = { steps: 2, promptsPerStep: 4, groupSize: 4, maxNewTokens: 6, eval: { every: 0 }, grpoLambda: { lambda: 0.4, penalty, alpha: 0.3 } };
    const res = await runRl({ policy, ref, tokenizer: tok, task: parityTask(), seed: 7 }, 'grpo_lambda', rl, { rollout: (_s, r) => { steps.push(r); }, step: () => undefined });
    assert.equal(steps.length, 2);
    steps.forEach((ro, k) => {
      const S = ro.samples;
      const correctness = S.map((s) => s.rewardParts!.correct);
      assert.ok(correctness.every((c) => c === 0 || c === 1));
      const want = R.grpoLambdaRewards({ correctness, lengths: S.map((s) => s.length), groupIds: S.map((s) => s.group), lambda: 0.4, penalty, alpha: 0.3 });
      S.forEach((s, i) => assert.ok(Math.abs(s.reward - want[i]) <= 1e-12, `step ${k + 1} sample ${i}: reward ${s.reward} vs ${want[i]}`));
      for (const g of ro.header.groups) assert.deepEqual(g.rewards, g.samples.map((i) => S[i].reward));
      const pen = new Set(S.filter((s) => s.rewardParts!.length_penalised === 1).map((s) => s.group));
      // ⌈0.4·4⌉ = 2 groups, fewer when fewer have a correct answer (skipUnsolved)
      const solvedGroups = ro.header.groups.filter((g) => g.samples.some((i) => S[i].rewardParts!.correct === 1)).length;
      assert.equal(pen.size, Math.min(Math.ceil(0.4 * 4), solvedGroups), 'penalised groups');
      assert.ok(pen.size > 0, 'this seed penalises some group (the test can see the penalty)');
      assert.equal(res.metrics[k]['grpo_lambda/frac_groups_penalised'], pen.size / 4);
      const eq = ro.header.groups.filter((g) => g.rewards.every((x) => x === g.rewards[0])).length;
      assert.equal(res.metrics[k]['frac_reward_zero_std'], eq / 4, 'frac_reward_zero_std counts GRPO-λ\'s rewards');
      assert.equal(ro.header.params?.grpoLambda, 0.4);
      // the task's own score stays in reward/mean; the advantage uses GRPO-λ's
      assert.equal(res.metrics[k]['reward/mean'], 0.25);
      assert.ok(Math.abs((res.metrics[k]['score/mean'] as number) - want.reduce((a, b) => a + b, 0) / want.length) < 1e-9);
    });
    for (const x of [policy, ref]) x.dispose();
  });
}

test('grpo_lambda accuracyPart: the 0/1 correctness comes from that reward part; a part that is not 0/1 is an error naming the field', async () => {
  const { tok, policy, ref } = tiny(8);
  const steps: RolloutStepInput[] = [];
  await runRl({ policy, ref, tokenizer: tok, task: parityTask(), seed: 8 }, 'grpo_lambda', { steps: 1, promptsPerStep: 3, groupSize: 4, maxNewTokens: 6, eval: { every: 0 }, grpoLambda: { accuracyPart: 'odd' } },
    { rollout: (_s, r) => { steps.push(r); }, step: () => undefined });
  for (const s of steps[0].samples) assert.equal(s.rewardParts!.correct, s.rewardParts!.odd);
  await assert.rejects(runRl({ policy, ref, tokenizer: tok, task: parityTask(), seed: 8 }, 'grpo_lambda', { steps: 1, promptsPerStep: 2, groupSize: 2, maxNewTokens: 4, eval: { every: 0 }, grpoLambda: { accuracyPart: 'task' } },
    { rollout: () => undefined, step: () => undefined }), /rl\.grpoLambda\.accuracyPart: reward part "task" of sample 0 is 0\.25, not 0 or 1/);
  for (const x of [policy, ref]) x.dispose();
});

test('config errors name the field: gvpo groupSize 1, advantage other than dr_grpo, dynamic sampling; grpo_lambda λ, penalty', () => {
  assert.throws(() => resolveRlConfig('gvpo', { groupSize: 1 }), /rl\.groupSize: GVPO needs at least 2/);
  assert.throws(() => resolveRlConfig('gvpo', { advantage: 'grpo' }), /rl\.advantage: policyLoss "gvpo" .* set advantage "dr_grpo"/);
  assert.throws(() => resolveRlConfig('gvpo', { dynamicSampling: { enabled: true } }), /rl\.dynamicSampling\.enabled: GVPO/);
  assert.throws(() => resolveRlConfig('gvpo', { gvpoBeta: 0 }), /rl\.gvpoBeta: must be a number/);
  assert.throws(() => resolveRlConfig('grpo_lambda', { grpoLambda: { lambda: 2 } }), /rl\.grpoLambda\.lambda: must be a number ≥ 0 and ≤ 1/);
  assert.throws(() => resolveRlConfig('grpo_lambda', { grpoLambda: { penalty: 'linear' } }), /rl\.grpoLambda\.penalty: must be one of "kimi", "efficient"/);
  assert.throws(() => resolveRlConfig('grpo_lambda', { dynamicSampling: { enabled: true } }), /rl\.dynamicSampling\.enabled: grpo_lambda/);
  const g = resolveRlConfig('gvpo', {});
  assert.deepEqual([g.policyLoss, g.advantage, g.groupSize, g.miniBatches, g.gvpoBeta, g.kl.inLoss, g.kl.coef], ['gvpo', 'dr_grpo', 4, 4, 0.1, false, 0]);
  const l = resolveRlConfig('grpo_lambda', {});
  assert.deepEqual([l.policyLoss, l.advantage, l.grpoLambda], ['ppo', 'grpo', { lambda: 0.2, penalty: 'kimi', skipUnsolved: true, accuracyPart: null, alpha: 0.2 }]);
  assert.throws(() => resolveRlConfig('grpo_lambda', { grpoLambda: { accuracyPart: '' } }), /rl\.grpoLambda\.accuracyPart: must be null/);
});
