/** The `rl` config: per-algorithm defaults from the references, derived values, and errors that name the field. */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { resolveRlConfig, RL_ALGORITHMS } from '../../src/trainer/rl/config';
import { resolveConfig } from '../../src/trainer/config';
import '../../src/trainer/plugins';
import { rlArithmeticPreset, rlConfigFromTrainConfig } from '../../src/trainer/rl/register';

test('per-algorithm defaults follow the references', () => {
  const dapo = resolveRlConfig('dapo', undefined);
  assert.deepEqual([dapo.clipLow, dapo.clipHigh, dapo.dualClip, dapo.lossAgg, dapo.dynamicSampling.enabled, dapo.overlong.enabled], [0.2, 0.28, 3, 'token-mean', true, true]);
  const grpo = resolveRlConfig('grpo', undefined);
  assert.deepEqual([grpo.kl.inLoss, grpo.kl.estimator, grpo.kl.coef, grpo.advEps, grpo.advantage], [true, 'k3', 0.001, 1e-6, 'grpo']);
  const ppo = resolveRlConfig('ppo', undefined);
  assert.deepEqual([ppo.advantage, ppo.kl.inReward, ppo.kl.estimator, ppo.valueClip, ppo.dualClip], ['gae', true, 'k1', 0.5, 3]);
  const gspo = resolveRlConfig('gspo', undefined);
  assert.deepEqual([gspo.policyLoss, gspo.clipLow, gspo.clipHigh], ['gspo', 3e-4, 4e-4]);
  assert.equal(resolveRlConfig('dr_grpo', undefined).lossAgg, 'seq-mean-token-sum-norm');
  assert.equal(resolveRlConfig('raft', undefined).policyLoss, 'reinforce');
  // overlong L_max / L_cache derived from maxNewTokens; the defaults table is never mutated
  const d = resolveRlConfig('dapo', { maxNewTokens: 20 });
  assert.deepEqual([d.overlong.maxLength, d.overlong.cacheLength], [20, 5]);
  assert.deepEqual([resolveRlConfig('dapo', { maxNewTokens: 8 }).overlong.maxLength], [8]);
  // + gvpo, grpo_lambda (issue 19): GVPO's recipe defaults
  // + gigpo, arpo, tree_grpo (issue 20)
  assert.equal(RL_ALGORITHMS.length, 16);
  const gvpo = resolveRlConfig('gvpo', undefined);
  assert.deepEqual([gvpo.policyLoss, gvpo.advantage, gvpo.gvpoBeta, gvpo.groupSize, gvpo.miniBatches, gvpo.kl.inLoss], ['gvpo', 'dr_grpo', 0.1, 4, 4, false]);
});

test('bad values name the field, the value and what is allowed', () => {
  assert.throws(() => resolveRlConfig('grpo', { clipHigh: 'x' }), /rl\.clipHigh: must be a number ≥ 0, got "x"/);
  assert.throws(() => resolveRlConfig('grpo', { lossAgg: 'mean' }), /rl\.lossAgg: must be one of "token-mean", .*got "mean"/);
  assert.throws(() => resolveRlConfig('grpo', { kl: { estimator: 'k4' } }), /rl\.kl\.estimator: must be one of/);
  assert.throws(() => resolveRlConfig('grpo', { groupsize: 4 }), /rl\.groupsize: unknown field/);
  assert.throws(() => resolveRlConfig('ppo', { policyLoss: 'gspo' }), /GAE \(ppo\) needs policyLoss "ppo"/);
  assert.throws(() => resolveRlConfig('dapo', { dualClip: 0.5 }), /rl\.dualClip/);
});

test('a run config: rl section validated by the shipped schema, shared sections mapped', () => {
  const cfg = resolveConfig(rlArithmeticPreset('dapo', { train: { steps: 7, lr: 0.002 }, sampling: { maxNewTokens: 4 } }));
  const rl = rlConfigFromTrainConfig(cfg, 'dapo');
  assert.deepEqual([rl.steps, rl.lr, rl.maxNewTokens, rl.clipHigh, rl.overlong.maxLength], [7, 0.002, 4, 0.28, 4]);
  assert.throws(() => resolveConfig(rlArithmeticPreset('grpo', { rl: { clipHigh: -1 } })), /rl\/clipHigh|rl\.clipHigh/);
});
