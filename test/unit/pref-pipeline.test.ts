// Preference methods through the real engine (run directories, traces, checkpoints), the learned reward used as a
// task reward, data errors with file:line through a run, and the pipeline's stage runs linked from the parent.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { resolveConfig } from '../../src/trainer/config';
import '../../src/trainer/plugins'; // the entry point registers the algorithms (config.ts imports none)
import { runTraining } from '../../src/trainer/engine';
import { loadCharCheckpoint } from '../../src/trainer/checkpoint';
import { createTask } from '../../src/trainer/tasks';
import { withLearnedReward } from '../../src/trainer/preference/rewardModel';
import { hiddenScore } from '../../src/trainer/preference/data';
import { readManifest, readMetrics, listRolloutSteps, readRolloutStep, readSampleArrays, listCheckpoints } from '../../src/runio/reader';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rllens-pref-run-'));
const tiny = (algorithm: string, extra: Record<string, unknown> = {}) => ({
  algorithm, backend: 'wasm', seed: 3, task: { name: 'arithmetic', difficulty: 1 },
  model: { dModel: 16, nHeads: 2, nLayers: 1, contextLength: 12 },
  train: { steps: 3, batchSize: 8, lr: 0.003, lrSchedule: 'constant', warmupSteps: 0 },
  eval: { every: 0, numPrompts: 4, samplesPerPrompt: 2, k: [1, 2] }, rollouts: { every: 3, maxSamples: 8 },
  ...extra,
});
const builtin = { data: { builtin: { count: 24, evalCount: 8 } }, evalEvery: 0 };

test('every preference method trains through the engine and writes chosen/rejected token traces', async () => {
  for (const alg of ['dpo', 'ipo', 'kto', 'orpo', 'simpo', 'odpo']) {
    const out = path.join(tmp, alg);
    const r = await runTraining(resolveConfig(tiny(alg, { [alg]: builtin })), { outDir: out });
    assert.equal(r.status, 'completed', `${alg}: ${r.error}`);
    const m = readMetrics(out);
    const train = m.filter((x) => (x.split ?? 'train') === 'train' && x.values['rewards/margins'] !== undefined);
    assert.equal(train.length, 3, `${alg}: one metrics line per step`);
    for (const k of ['loss', 'rewards/chosen', 'rewards/rejected', 'rewards/accuracies', 'logps/chosen', 'logps/rejected']) assert.ok(k in train[0].values, `${alg}: metric ${k}`);
    assert.ok(m.some((x) => x.split === 'eval' && x.values['eval/rewards/accuracies'] !== undefined), `${alg}: held-out metrics`);
    const steps = listRolloutSteps(out);
    assert.deepEqual(steps, [1, 3], `${alg}: traced steps`);
    const st = readRolloutStep(out, 3);
    const roles = st.samples.map((s) => s.role);
    assert.ok(alg === 'kto' ? roles.includes('desirable') : roles[0] === 'chosen' && roles[1] === 'rejected', `${alg}: roles ${roles}`);
    const arr = readSampleArrays(out, st.header, st.samples[0]);
    assert.equal(arr.implicit_reward.length, st.samples[0].length);
    assert.ok(Array.from(arr.implicit_reward).every(Number.isFinite), `${alg}: finite implicit rewards`);
    assert.ok(listCheckpoints(out).length >= 1, `${alg}: checkpoint`);
  }
});

test('bad preference data: the run fails before training with file:line and field; allowBadLines skips and reports', async () => {
  const f = path.join(tmp, 'bad.jsonl');
  fs.writeFileSync(f, '{"prompt":"1+1=","chosen":"2","rejected":"3"}\n{"prompt":"1+2=","chosen":"3"}\n{"prompt":"1+3=","chosen":"4","rejected":"5"}\n');
  const out = path.join(tmp, 'bad-run');
  const r = await runTraining(resolveConfig(tiny('dpo', { dpo: { data: { path: f, evalFraction: 0 } } })), { outDir: out });
  assert.equal(r.status, 'failed');
  assert.match(r.error!, new RegExp(`bad\\.jsonl:2 field "rejected": missing`));
  assert.equal(readMetrics(out).filter((x) => x.values.loss !== undefined).length, 0, 'no training step ran');
  const out2 = path.join(tmp, 'bad-run-allowed');
  const r2 = await runTraining(resolveConfig(tiny('dpo', { dpo: { data: { path: f, evalFraction: 0, allowBadLines: true } } })), { outDir: out2 });
  assert.equal(r2.status, 'completed', r2.error);
  const man = readManifest(out2) as unknown as { data: { train: { counts: { records: number; badLines: number } } } };
  assert.deepEqual([man.data.train.counts.records, man.data.train.counts.badLines], [2, 1]);
  const ev = fs.readFileSync(path.join(out2, 'events.jsonl'), 'utf8');
  assert.match(ev, /"code":"bad_data_lines"/);
});

test('reward_model run → checkpoint with a scalar head → learned reward on the task (alone and combined with the rule)', async () => {
  const out = path.join(tmp, 'rm');
  const r = await runTraining(resolveConfig(tiny('reward_model', { reward_model: builtin })), { outDir: out });
  assert.equal(r.status, 'completed', r.error);
  const ckDir = listCheckpoints(out).map((c) => c.dir).find((p) => /final/.test(p))!;
  const task = createTask('arithmetic', { difficulty: 1 });
  const load = (d: string) => { const c = loadCharCheckpoint(d, { trainable: false }); return { model: c.model, tokenizer: c.tokenizer }; };
  assert.equal(loadCharCheckpoint(ckDir).model.config.valueHead, true);
  const w = withLearnedReward(task, { type: 'model', checkpoint: ckDir, weight: 2 }, { loadCheckpoint: load, hiddenScore });
  const ex = { id: '2+3=', prompt: '2+3=', answer: '5', difficulty: 1 };
  const a = w.task.reward(ex, '5', true), b = w.task.reward(ex, '5555', true);
  assert.deepEqual(Object.keys(a.parts).sort(), ['hidden_score', 'rm']);
  assert.ok(Math.abs(a.score - 2 * a.parts.rm) < 1e-6, 'score = weight · rm');
  assert.equal(a.parts.hidden_score, 1);
  assert.ok(Math.abs(b.parts.hidden_score - 0.7) < 1e-12);
  const c = withLearnedReward(task, { type: 'combined', parts: [{ type: 'model', checkpoint: ckDir, weight: 1, name: 'rm' }, { type: 'rule', weight: 0.5, name: 'rule' }] }, { loadCheckpoint: load });
  const cr = c.task.reward(ex, '5', true);
  const rule = task.reward(ex, '5', true);
  assert.ok(Math.abs(cr.score - (cr.parts.rm + 0.5 * rule.score)) < 1e-6, 'combined = Σ weight · part');
  assert.equal(cr.parts['rule/accuracy'], 1);
  assert.equal(c.task.isCorrect(ex, '5'), true, 'other task methods pass through');
  w.dispose(); c.dispose();
  assert.throws(() => withLearnedReward(task, { type: 'model' } as never, { loadCheckpoint: load }), /reward\.checkpoint: required/);
});

test('pipeline: SFT → reward model → stage 3 runs in stages/ folders linked from the parent manifest, stage 3 scored by the RM', async () => {
  const out = path.join(tmp, 'pipe');
  // stage 3 uses "sft" here to keep this mechanics test fast and independent of the RL module; any registered
  // algorithm works (ppo / grpo in real pipelines): its task reward is the learned reward either way.
  const cfg = resolveConfig(tiny('pipeline', {
    pipeline: { rlAlgorithm: 'sft', sft: { train: { steps: 3 } }, rewardModel: { train: { steps: 3 }, reward_model: builtin }, rl: { train: { steps: 2 } } },
  }));
  const r = await runTraining(cfg, { outDir: out });
  assert.equal(r.status, 'completed', r.error);
  const man = readManifest(out);
  assert.deepEqual(man.stages!.map((s) => [s.name, s.path, s.status]), [['sft', 'stages/1-sft', 'completed'], ['reward_model', 'stages/2-reward_model', 'completed'], ['sft', 'stages/3-sft', 'completed']]);
  for (const s of man.stages!) {
    const child = readManifest(path.join(out, s.path));
    assert.equal(path.resolve(out, s.path, child.parent as string), path.resolve(out), `${s.path} names its parent`);
  }
  const rmMan = readManifest(path.join(out, 'stages/2-reward_model'));
  assert.equal((rmMan.config as { init: { checkpoint: string } }).init.checkpoint, path.join(out, 'stages/1-sft/checkpoints/step_00000003_final'), 'RM trunk from the SFT checkpoint');
  const s3 = readManifest(path.join(out, 'stages/3-sft'));
  const reward = (s3.config as { reward: { type: string; checkpoint: string; normalize?: { mean: number; std: number } } }).reward;
  assert.equal(reward.checkpoint, path.join(out, 'stages/2-reward_model/checkpoints/step_00000003_final'));
  // the RM was trained on the contrastive pairs + the SFT policy's own samples, then checked on fresh SFT samples; the
  // stage-3 reward is normalised with that check's mean / std (Ziegler et al. 2019)
  const rmData = (rmMan as unknown as { data: { builtin: { source: string; contrast: { train: number }; policy: { train: number } } } }).data.builtin;
  assert.equal(rmData.source, 'contrast+policy');
  assert.ok(rmData.contrast.train > 0 && rmData.policy.train > 0, `both parts of the RM data: ${JSON.stringify(rmData)}`);
  const onPolicy = (man as unknown as { pipeline: { rewardModel: { onPolicy: { samples: number; mean: number; std: number; pairAccuracy: number; n: number } } } }).pipeline.rewardModel.onPolicy;
  assert.equal(onPolicy.samples, 64 * 8);
  assert.deepEqual(reward.normalize, { mean: onPolicy.mean, std: onPolicy.std });
  assert.ok(onPolicy.std > 0 && onPolicy.pairAccuracy >= 0 && onPolicy.pairAccuracy <= 1, JSON.stringify(onPolicy));
  // the stage-3 evaluation used the learned reward: its eval items carry RM scores, not the 0/1.1 rule reward
  const evals = fs.readFileSync(path.join(out, 'stages/3-sft/eval.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { items: { rewards: number[] }[] });
  const rewards = evals.flatMap((e) => e.items.flatMap((it) => it.rewards));
  assert.ok(rewards.some((x) => ![0, 0.1, 1, 1.1].includes(Math.round(x * 1e6) / 1e6)), 'rewards come from the reward model');
  const parent = readMetrics(out).filter((x) => x.values['pipeline/stage'] !== undefined);
  assert.deepEqual(parent.map((x) => x.values['pipeline/stage']), [1, 2, 3]);
  assert.ok(typeof parent[1].values['rm/eval_accuracy'] === 'number');
  assert.equal(parent[1].values['rm/policy_pair_accuracy'], onPolicy.pairAccuracy);
});

test('every offline method and the reward model has a CLI preset (rl-lens train --preset <method>-arithmetic) that trains', async () => {
  const { configFromArgs, parseTrainArgs } = await import('../../src/cli/train');
  for (const name of ['dpo', 'ipo', 'kto', 'orpo', 'simpo', 'odpo', 'reward-model'].map((m) => `${m}-arithmetic`)) {
    const a = parseTrainArgs(['--preset', name, '--steps', '2', '--backend', 'wasm']);
    const cfg = configFromArgs(a);
    assert.equal(cfg.algorithm, name.replace('-arithmetic', '').replace('-', '_'));
    const out = path.join(tmp, `preset-${name}`);
    const r = await runTraining(cfg, { outDir: out });
    assert.equal(r.status, 'completed', `${name}: ${r.error}`);
    assert.ok(readMetrics(out).some((m) => m.split === 'eval'), `${name}: held-out metrics written`);
  }
});
