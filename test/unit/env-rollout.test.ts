/**
 * Multi-turn rollouts (src/trainer/rl/multiturn.ts) with a tiny random GPT (cpu backend): the turn limit and the
 * token budget bound every episode; the loss mask is 0 exactly on the environment's tokens (the tool outputs, which
 * decode to what the tool returned) and 1 on the policy's; tool-output tokens get zero gradient in the policy loss
 * (checked numerically: ∂loss/∂log π and a finite difference at environment positions are 0, at policy positions not);
 * GiGPO through rlStep writes turns with step groups and per-token advantages that are 0 on environment tokens
 * (its tensor hygiene is checked in rl-leak.test.ts, with the model's per-length constants made first).
 */
import { before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/trainer/backend';
import { GPT } from '../../src/trainer/model/gpt';
import { CharTokenizer } from '../../src/trainer/tokenizer';
import { Rng } from '../../src/trainer/rng';
import { CalcEnvironment, LookupEnvironment, RESULT_END, type Environment } from '../../src/trainer/envs';
import { multiTurnRollout } from '../../src/trainer/rl/multiturn';
import { pack, responseForward } from '../../src/trainer/rl/rollout';
import { resolveRlConfig } from '../../src/trainer/rl/config';
import { aggLoss, computePolicyLossVanilla } from '../../src/trainer/algorithms/losses';
import { runRl } from '../../src/trainer/rl/loop';
import { evaluatePolicy } from '../../src/trainer/rl/eval';
import { rlTaskFrom } from '../../src/trainer/rl/types';
import { createTask } from '../../src/trainer/tasks';

before(async () => { await initBackend('cpu'); });
const tok = new CharTokenizer();

function roll(env: Environment = new CalcEnvironment(), o = { maxTurns: 3, maxTokens: 20 }, seed = 1) {
  const policy = GPT.create({ vocabSize: tok.size, contextLength: 40, dModel: 16, nHeads: 2, nLayers: 1 }, seed);
  const cfg = resolveRlConfig('gigpo', { promptsPerStep: 8, groupSize: 8, maxNewTokens: 8 });
  const ro = multiTurnRollout(policy, env, tok, cfg, new Rng(seed), 1, { ...o, contextLength: 40 });
  return { policy, cfg, ro };
}

test('turn limit and token budget bound every episode; the loss mask marks exactly the tool outputs', () => {
  for (const env of [new CalcEnvironment(), new LookupEnvironment()]) {
    const { policy, ro } = roll(env);
    let calls = 0;
    for (const s of ro.samples) {
      assert.ok(s.tokens.length <= 20, `budget: ${s.tokens.length}`);
      assert.ok(s.turns!.length >= 1 && s.turns!.length <= 3, `turns: ${s.turns!.length}`);
      assert.equal(s.lossMask!.length, s.tokens.length);
      const want = new Array<number>(s.tokens.length).fill(1);
      for (const t of s.turns!) {
        if (t.resultEnd === undefined) continue;
        calls++;
        for (let j = t.end; j < t.resultEnd; j++) want[j] = 0;
        // the environment's tokens are what the tool answered (cut at the budget)
        const obs = tok.decode(s.tokens.slice(t.end, t.resultEnd));
        assert.ok((t.result! + RESULT_END).startsWith(obs), `${obs} vs ${t.result}`);
        assert.ok(tok.decode(s.tokens.slice(t.start, t.end)).endsWith('='), 'a call ends with =');
      }
      assert.deepEqual(s.lossMask, want);
      // a truncated episode (no EOS) never has an answer
      if (!s.finished) assert.equal(s.reward.parts.accuracy, 0);
    }
    assert.ok(calls > 5, `${env.name}: the random policy made only ${calls} calls`);
    // tool errors were observed, not thrown
    assert.ok(ro.samples.some((s) => s.turns!.some((t) => t.error)), 'some bad calls');
    policy.dispose();
  }
  // a smaller budget and one turn
  const { policy, ro } = roll(new CalcEnvironment(), { maxTurns: 1, maxTokens: 5 }, 2);
  for (const s of ro.samples) { assert.ok(s.tokens.length <= 5); assert.equal(s.turns!.length, 1); }
  policy.dispose();
});

test('environment tokens get zero gradient in the policy loss (∂loss/∂log π and a finite difference)', () => {
  const { policy, cfg, ro } = roll();
  const pk = pack(ro.samples);
  const envPos: [number, number][] = [], polPos: [number, number][] = [];
  ro.samples.forEach((s, b) => s.lossMask!.forEach((m, j) => (m ? polPos : envPos).push([b, j])));
  assert.ok(envPos.length > 0 && polPos.length > 0);
  const B = ro.samples.length, N = pk.N;
  const { old, adv, mask } = tf.tidy(() => {
    const o = responseForward(policy, { ids: tf.tensor2d(pk.ids, undefined, 'int32'), attentionMask: tf.tensor2d(pk.attentionMask) }, pk.P, N, { temperature: 1 });
    // advantages non-zero everywhere, also on environment tokens: only the mask may remove them
    const a = tf.tensor2d(Array.from({ length: B }, (_, b) => Array.from({ length: N }, (_, j) => ((b * 7 + j * 3) % 5) - 2 + 0.5)));
    return { old: o.logprobs, adv: a, mask: tf.tensor2d(pk.responseMask) };
  });
  const loss = (lp: tf.Tensor2D) => tf.tidy(() => {
    const r = computePolicyLossVanilla(lp, old, adv, mask, { clipLow: cfg.clipLow, clipHigh: cfg.clipHigh, agg: cfg.lossAgg });
    return aggLoss(r.lossMat, mask, cfg.lossAgg) as tf.Scalar;
  });
  const lp0 = tf.add(old, 0.05) as tf.Tensor2D;
  const g = tf.grad((x: tf.Tensor) => loss(x as tf.Tensor2D))(lp0).arraySync() as number[][];
  for (const [b, j] of envPos) assert.equal(g[b][j], 0, `∂loss/∂logπ at environment token [${b}][${j}]`);
  assert.ok(polPos.some(([b, j]) => Math.abs(g[b][j]) > 1e-6), 'policy tokens get a gradient');
  const base = loss(lp0).dataSync()[0];
  const bump = (b: number, j: number) => { const a = lp0.arraySync() as number[][]; a[b][j] += 0.3; return tf.tidy(() => loss(tf.tensor2d(a)).dataSync()[0]); };
  assert.equal(bump(...envPos[0]), base, 'changing an environment token\'s log-prob leaves the loss unchanged');
  assert.notEqual(bump(...polPos[0]), base);
  tf.dispose([old, adv, mask, lp0]);
  policy.dispose();
});

test('gigpo on calc-tool through the RL loop: turns with step groups, advantages 0 on environment tokens (leaks: rl-leak.test.ts)', async () => {
  const task = rlTaskFrom(createTask('calc-tool'));
  assert.ok(task.env);
  const policy = GPT.create({ vocabSize: tok.size, contextLength: 40, dModel: 16, nHeads: 2, nLayers: 1 }, 3);
  const ref = policy.clone(false);
  const steps: { arrays: Record<string, number[]>[]; samples: Record<string, unknown>[] }[] = [];
  const res = await runRl({ policy, ref, tokenizer: tok, task, seed: 3 }, 'gigpo', { steps: 3, promptsPerStep: 3, groupSize: 4, maxNewTokens: 8, eval: { every: 0 }, env: { maxTurns: 3, maxTokens: 24 } }, {
    rollout: (_s, r) => steps.push({ arrays: r.arrays as Record<string, number[]>[], samples: r.samples as Record<string, unknown>[] }),
  });
  for (const m of res.metrics) { assert.ok(Number.isFinite(m['pg_loss'] as number)); assert.ok((m['gigpo/step_groups'] as number) >= 3); }
  for (const st of steps) st.samples.forEach((s, b) => {
    const a = st.arrays[b];
    assert.deepEqual(a.mask, a.loss_mask);
    a.loss_mask.forEach((m, j) => { if (!m) assert.equal(a.advantage[j], 0); });
    const turns = s.turns as { stepGroup: string; start: number; end: number; advantage: number }[];
    for (const t of turns) { assert.match(t.stepGroup, /#\d+$/); for (let j = t.start; j < t.end; j++) assert.ok(Math.abs(a.advantage[j] - t.advantage) < 1e-5); }
  });
  assert.throws(() => resolveRlConfig('gigpo', { gigpo: { mode: 'x' } }), /rl\.gigpo\.mode: must be one of/);
  assert.throws(() => resolveRlConfig('gigpo', { env: { maxTurns: 0 } }), /rl\.env\.maxTurns: must be an integer ≥ 1/);
  // eval of a task with an environment runs episodes (pass@k of the final answers)
  const ev = evaluatePolicy(policy, task, tok, { prompts: 4, samples: 2, temperature: 1, k: [1, 2], maxNewTokens: 8, seed: 1, env: { maxTurns: 3, maxTokens: 24 } });
  assert.equal(ev.items.length, 4);
  assert.ok(ev.items.every((it) => it.completions.length === 2 && it.correct >= 0) && Number.isFinite(ev.meanReward));
  // gigpo on a single-turn task says what it needs
  await assert.rejects(runRl({ policy, ref, tokenizer: tok, task: rlTaskFrom(createTask('arithmetic')), seed: 1 }, 'gigpo', { steps: 1, promptsPerStep: 2, groupSize: 2, maxNewTokens: 4, eval: { every: 0 } }), /"gigpo" needs multi-turn episodes/);
  policy.dispose(); ref.dispose();
});
