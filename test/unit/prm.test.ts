// Process rewards: the PRM loss, step rewards on step-end tokens and DeepSeekMath's process-supervision advantages
// against float64 Python written from the papers / OpenRLHF (test/fixtures/step_process.py → step-process.json);
// the step encoding of the PRM; a PRM trained through the engine (traces with step_reward / step_boundary); the PRM
// as the reward of a GRPO run (reward.type "process": step rewards on the step-end tokens, true step accuracy logged); the pipeline SFT → PRM → GRPO.
// Tolerances: float32 losses relative 2e-5 (absolute 1e-6); the host-side process math is float64: 1e-12.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as R from '../../src/trainer/algorithms/reference';
import { encodeSteps, labelSteps, prmMetrics } from '../../src/trainer/preference/prm';
import { stepTokenEnds } from '../../src/trainer/rl/rollout';
import { createTask, type StepTask } from '../../src/trainer/tasks';
import { CharTokenizer, DEFAULT_CHARS } from '../../src/trainer/tokenizer';
import { resolveConfig } from '../../src/trainer/config';
import '../../src/trainer/plugins';
import { runTraining } from '../../src/trainer/engine';
import { readManifest, readMetrics, listRolloutSteps, readRolloutStep, readSampleArrays } from '../../src/runio/reader';
import { PRESETS } from '../../src/trainer/presets';

const PY = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'fixtures', 'step-process.json'), 'utf8'));

function close(actual: number, expected: number, what: string, rel = 2e-5, abs = 1e-6): void {
  assert.ok(Number.isFinite(actual), `${what}: got ${actual}`);
  assert.ok(Math.abs(actual - expected) <= abs + rel * Math.abs(expected), `${what}: got ${actual}, expected ${expected} (python)`);
}
function closeMatrix(a: number[][], b: number[][], what: string, tol = 1e-12): void {
  assert.equal(a.length, b.length, what);
  a.forEach((row, i) => { assert.equal(row.length, b[i].length, `${what}[${i}]`); row.forEach((v, j) => assert.ok(Math.abs(v - b[i][j]) <= tol, `${what}[${i}][${j}]: ${v} vs ${b[i][j]} (python)`)); });
}

test('prmLoss façade = OpenRLHF PRMLoss (two reward tokens, hard and soft labels) at the step tags (python)', async () => {
  await tf.setBackend('cpu');
  const p = PY.prm;
  close(R.prmLoss({ logits: p.logits, labels: p.labels, stepMask: p.stepMask }), p.loss, 'hard labels');
  close(R.prmLoss({ logits: p.logits, labels: p.softLabels, stepMask: p.stepMask }), p.softLoss, 'soft labels');
  // zero logits: ln 2 whatever the labels
  close(R.prmLoss({ logits: p.logits.map((r: number[]) => r.map(() => 0)), labels: p.labels, stepMask: p.stepMask }), Math.LN2, 'z = 0');
  assert.throws(() => R.prmLoss({ logits: p.logits, labels: [[1, 2, 1, 0, 0], p.labels[1]], stepMask: p.stepMask }), /labels\[0\]\[1\]: must be in \[0, 1\]/);
});

test('processRewardAdvantages façade = DeepSeekMath §4.1.3 process supervision and PRIME/verl step-end rewards (python)', () => {
  const p = PY.process;
  const r = R.processRewardAdvantages({ stepRewards: p.stepRewards, stepEnds: p.stepEnds, groupIds: p.groupIds, mask: p.mask });
  closeMatrix(r.tokenRewards, p.tokenRewards, 'tokenRewards');
  closeMatrix(r.normalized, p.normalized, 'normalized');
  closeMatrix(r.advantages, p.advantages, 'advantages');
  assert.throws(() => R.processRewardAdvantages({ stepRewards: p.stepRewards, stepEnds: [[3], ...p.stepEnds.slice(1)], groupIds: p.groupIds, mask: p.mask }), /stepEnds\[0\]: expected 2 token indices/);
});

test('PRM step encoding: the step-end positions are the delimiter / EOS tokens; labels from the verifier', () => {
  const tok = new CharTokenizer(DEFAULT_CHARS);
  const task = createTask('arithmetic-steps', { difficulty: 1 }) as StepTask;
  const ex = { id: '3+4+5=', prompt: '3+4+5=', answer: '3+4=7 7+5=12', difficulty: 1 };
  const labels = labelSteps(task, ex, '3+4=7 7+5=13', true);
  assert.deepEqual(labels, [1, 0]);
  const e = encodeSteps(tok, { prompt: ex.prompt, completion: '3+4=7 7+5=13', finished: true, labels }, 24, ' ');
  // ids: BOS(0) '3+4+5='(1..6) '3+4=7 '(7..12) '7+5=13'(13..18) EOS(19)
  assert.deepEqual(e.ends, [12, 19]);
  assert.equal(tok.display([e.ids[12]])[0].trim(), '');
  assert.equal(e.ids[19], tok.eos);
  // an empty finished completion: one wrong step at EOS
  assert.deepEqual(labelSteps(task, ex, '', true), [0]);
  assert.deepEqual(encodeSteps(tok, { prompt: ex.prompt, completion: '', finished: true, labels: [0] }, 24, ' ').ends, [7]);
  // metrics: first error found / missed
  const m = prmMetrics([[2, -1], [1, 1], [-1, 3]], [[1, 0], [1, 0], [1, 1]]);
  assert.equal(m['prm/accuracy'], 4 / 6); // predictions z > 0: [1,0] [1,1] [0,1]
  assert.equal(m['prm/first_error_accuracy'], 1 / 3);
});

test('RL: step rewards land on the step-end tokens (char tokenizer; EOS after the last step; GHPO hint offset)', () => {
  const tok = new CharTokenizer(DEFAULT_CHARS);
  const toks = [...tok.encode('3+4=7 7+5=12'), tok.eos];
  const steps = [{ end: 6, terminator: 'delimiter' as const, score: 0.9 }, { end: 12, terminator: 'eos' as const, score: 0.2 }];
  assert.deepEqual(stepTokenEnds(tok, toks, true, steps), { ends: [5, 12], scores: [0.9, 0.2] });
  const cut = tok.encode('3+4=7 7+5');
  assert.deepEqual(stepTokenEnds(tok, cut, false, [steps[0], { end: 9, terminator: 'none', score: 0.1 }]), { ends: [5, 8], scores: [0.9, 0.1] });
  // scored text = hint "3+4=7 " + completion "7+5=12": the first step lies in the hint
  assert.deepEqual(stepTokenEnds(tok, [...tok.encode('7+5=12'), tok.eos], true, steps, 6), { ends: [6], scores: [0.2] });
});

test('prm trains through the engine, then GRPO reads it as a process reward (step_reward / step_boundary traces, true step accuracy)', async () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rllens-prm-'));
  const small = { backend: 'wasm', seed: 2, model: { dModel: 32, nHeads: 2, nLayers: 1, contextLength: 24 }, eval: { every: 0, numPrompts: 4, samplesPerPrompt: 2, k: [1, 2] }, rollouts: { every: 2, maxSamples: 16 } };
  const r = await runTraining(resolveConfig({
    ...PRESETS['prm-arithmetic'](), ...small,
    train: { steps: 4, batchSize: 8, lr: 0.003, lrSchedule: 'constant', warmupSteps: 0 },
    prm: { evalEvery: 0, traceSolutions: 4, sft: { steps: 40, batchSize: 32, demoNoise: 0.5 }, data: { prompts: 16, evalPrompts: 4, samples: 2 } },
  }), { outDir: path.join(tmp, 'prm') });
  assert.equal(r.status, 'completed', r.error);
  const man = readManifest(r.runDir) as unknown as { prm: { data: { train: { steps: number } }; before: Record<string, number>; after: Record<string, number> } };
  assert.ok(man.prm.data.train.steps > 0);
  close(man.prm.before['eval/prm/loss'], Math.LN2, 'zero head: ln 2', 1e-6, 1e-6);
  const tr = readMetrics(r.runDir).filter((x) => (x.split ?? 'train') === 'train' && typeof x.values['prm/loss'] === 'number');
  assert.equal(tr.length, 4);
  const st = readRolloutStep(r.runDir, listRolloutSteps(r.runDir)[0]);
  assert.deepEqual(st.header.arrays.filter((a) => a.startsWith('step_')).sort(), ['step_boundary', 'step_label', 'step_reward']);
  const a0 = readSampleArrays(r.runDir, st.header, st.samples[0]);
  const b = Array.from(a0.step_boundary);
  assert.ok(b.some((x) => x === 1));
  b.forEach((x, t) => assert.equal(Number.isNaN(a0.step_reward[t]), x !== 1));

  const prmCkpt = path.join(r.runDir, 'checkpoints', fs.readdirSync(path.join(r.runDir, 'checkpoints')).find((d) => d.endsWith('_final'))!);
  const sftCkpt = path.join(r.runDir, 'checkpoints', fs.readdirSync(path.join(r.runDir, 'checkpoints')).find((d) => d.endsWith('_sft'))!);
  const g = await runTraining(resolveConfig({
    algorithm: 'grpo', task: { name: 'arithmetic-steps', difficulty: 1 }, ...small, sampling: { maxNewTokens: 15 },
    init: { checkpoint: sftCkpt }, reward: { type: 'process', checkpoint: prmCkpt },
    train: { steps: 2, lr: 0.001 }, rl: { promptsPerStep: 4, groupSize: 4 },
  }), { outDir: path.join(tmp, 'grpo') });
  assert.equal(g.status, 'completed', g.error);
  const gm = readMetrics(g.runDir).filter((x) => (x.split ?? 'train') === 'train' && typeof x.values['reward/prm/mean'] === 'number');
  assert.equal(gm.length, 2);
  for (const k of ['reward/true_step_accuracy/mean', 'reward/true_final/mean', 'reward/prm_step_mean/mean']) assert.equal(typeof gm[0].values[k], 'number', k);
  const gs = readRolloutStep(g.runDir, listRolloutSteps(g.runDir)[0]);
  assert.ok(gs.header.arrays.includes('step_reward') && gs.header.arrays.includes('step_boundary'));
  // token_reward = the step scores at the step ends (GRPO: no KL in the reward), advantage = DeepSeekMath's Σ of later normalised step rewards
  for (let i = 0; i < Math.min(4, gs.samples.length); i++) {
    const a = readSampleArrays(g.runDir, gs.header, gs.samples[i]);
    for (let t = 0; t < gs.samples[i].length; t++) {
      if (a.step_boundary[t] === 1) close(a.token_reward[t], a.step_reward[t], `token_reward at a step end (sample ${i}, t ${t})`, 1e-6, 1e-6);
      else assert.equal(a.token_reward[t], 0, `token_reward off the step ends (sample ${i}, t ${t})`);
    }
  }
});

test('pipeline with rewardModelAlgorithm "prm": SFT → PRM → GRPO on the process reward, PRM-vs-truth summary in the parent metrics', async () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rllens-prm-pipe-'));
  const cfg = resolveConfig({
    ...PRESETS['grpo-prm-arithmetic'](), backend: 'wasm', seed: 2,
    model: { dModel: 32, nHeads: 2, nLayers: 1, contextLength: 24 },
    eval: { every: 0, numPrompts: 4, samplesPerPrompt: 2, k: [1, 2] }, rollouts: { every: 2, maxSamples: 8 },
    pipeline: {
      rewardModelAlgorithm: 'prm', rlAlgorithm: 'grpo',
      sft: { train: { steps: 30, lr: 0.006, batchSize: 32 } },
      rewardModel: { train: { steps: 3, batchSize: 8 }, prm: { evalEvery: 0, data: { prompts: 8, evalPrompts: 4, samples: 2 } } },
      rl: { train: { steps: 2, lr: 0.001 }, rl: { promptsPerStep: 2, groupSize: 4 } },
    },
  });
  const r = await runTraining(cfg, { outDir: tmp });
  assert.equal(r.status, 'completed', r.error);
  const m = readManifest(r.runDir) as unknown as { stages: { name: string; status: string }[] };
  assert.deepEqual(m.stages.map((s) => [s.name, s.status]), [['sft', 'completed'], ['prm', 'completed'], ['grpo', 'completed']]);
  const last = readMetrics(r.runDir).filter((x) => typeof x.values['rl/true_step_accuracy_last'] === 'number');
  assert.equal(last.length, 1);
  for (const k of ['rl/prm_first', 'rl/prm_last', 'rl/true_final_first', 'rl/true_accuracy_last']) assert.equal(typeof last[0].values[k], 'number', k);
  const stage3 = readManifest(path.join(r.runDir, 'stages', '3-grpo')) as unknown as { config: { reward?: { type: string; checkpoint: string } } };
  assert.equal(stage3.config.reward?.type, 'process');
  assert.match(stage3.config.reward!.checkpoint, /2-prm[\/]checkpoints[\/]step_\d+_final$/);
});
