// Step-DPO (preference/stepDpo.ts, algorithms/process.ts): the façade's loss and the paper's data construction
// against float64 Python written from the paper and the authors' code (test/fixtures/step_process.py →
// step-process.json), step pairs encoded without EOS after a middle step, and a short run through the engine
// (SFT warm start → data construction → DPO on steps; traces with implicit_reward per token of the step).
// Tolerance of the loss: float32 tensors, relative 2e-5 (absolute 1e-6).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as R from '../../src/trainer/algorithms/reference';
import { createTask, type StepTask } from '../../src/trainer/tasks';
import { locateErrors, rectify, finalAnswer } from '../../src/trainer/preference/stepDpo';
import { encodePairs } from '../../src/trainer/preference/train';
import { CharTokenizer, DEFAULT_CHARS, EOS } from '../../src/trainer/tokenizer';
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

test('stepDpoLoss façade = −mean log σ(β·[(π−ref)(s_win) − (π−ref)(s_lose)]) (python, β 0.5 and 0.1)', async () => {
  await tf.setBackend('cpu'); // the engine (imported below for the run test) registers wasm first
  const s = PY.step_dpo_inputs;
  const input = { policyChosenLogps: s.pc, policyRejectedLogps: s.pr, refChosenLogps: s.rc, refRejectedLogps: s.rr };
  close(R.stepDpoLoss({ ...input, beta: 0.5 }), PY['step_dpo_beta_0.5'], 'β 0.5');
  close(R.stepDpoLoss({ ...input, beta: 0.1 }), PY['step_dpo_beta_0.1'], 'β 0.1');
  // policy = reference: ln 2
  close(R.stepDpoLoss({ ...input, refChosenLogps: s.pc, refRejectedLogps: s.pr, beta: 0.5 }), Math.LN2, 'π = π_ref');
  assert.throws(() => R.stepDpoLoss({ ...input, refRejectedLogps: [1], beta: 0.5 }), /refRejectedLogps: expected 3 values/);
  assert.throws(() => R.stepDpoLoss({ ...input, beta: 0 }), /beta: must be > 0/);
});

test('data construction: located errors and step pairs equal the python pipeline (paper §3.2, authors\' data_pipeline)', () => {
  const d = PY.step_dpo_data;
  const task = createTask('arithmetic-steps', { difficulty: 1 }) as StepTask;
  const ex = { id: d.prompt, prompt: d.prompt, answer: '3+4=7 7+5=12', difficulty: 1 };
  const samples = d.samples.map(([completion, finished]: [string, boolean]) => ({ completion, finished }));
  const loc = locateErrors(task, ex, samples);
  assert.deepEqual(loc.errors.map((e) => ({ prefix: e.prefix, rejected: e.rejected, rejectedEos: e.rejectedEos, step: e.step })), d.errors);
  assert.equal(loc.wrong, 6);
  assert.equal(loc.truncated, 1);
  const pairs = loc.errors.flatMap((e) => rectify(task, ex, e, (d.continuations[e.prefix] ?? []).map(([completion, finished]: [string, boolean]) => ({ completion, finished }))).pairs);
  assert.deepEqual(pairs, d.pairs);
  // the continuation "3+5=8 8+4=12" reaches the right answer with a wrong first step: dropped by the verifier
  assert.equal(rectify(task, ex, loc.errors[0], [{ completion: '3+5=8 8+4=12', finished: true }]).rejectedByVerifier, 1);
  assert.equal(finalAnswer('3+4=7 7+5=12'), 12);
  assert.equal(finalAnswer('3+4=7 7+'), null);
});

test('step pairs are encoded with EOS only after a last step (a middle step continues)', () => {
  const tok = new CharTokenizer(DEFAULT_CHARS);
  const [mid, last] = encodePairs([PY.step_dpo_data.pairs[0], PY.step_dpo_data.pairs[1]], tok, 24, 'dpo');
  assert.equal(mid.chosen.seq.length, '3+4=7 '.length);           // no EOS
  assert.notEqual(mid.chosen.seq.ids[mid.chosen.seq.ids.length - 1], EOS);
  assert.equal(last.chosen.seq.length, '7+5=12'.length + 1);     // + EOS
  assert.equal(last.chosen.seq.ids[last.chosen.seq.ids.length - 1], EOS);
  assert.equal(last.chosen.seq.promptLen, 1 + '3+4+5=3+4=7 '.length); // prompt = x + the correct prefix
});

test('step_dpo trains through the engine: warm start, pairs from its own samples, traces of the step, before/after eval', async () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rllens-stepdpo-'));
  const cfg = resolveConfig({
    ...PRESETS['step-dpo-arithmetic'](), backend: 'wasm', seed: 2,
    model: { dModel: 32, nHeads: 2, nLayers: 1, contextLength: 24 },
    train: { steps: 4, batchSize: 8, lr: 0.001, lrSchedule: 'constant', warmupSteps: 0 },
    eval: { every: 0, numPrompts: 4, samplesPerPrompt: 2, k: [1, 2] }, rollouts: { every: 2, maxSamples: 8 },
    step_dpo: { evalEvery: 0, tracePairs: 2, sft: { steps: 200, batchSize: 32, lr: 0.006, demoNoise: 0.3 }, data: { prompts: 24, evalPrompts: 8, samples: 4, continuations: 8 }, eval: { prompts: 8, samples: 2 } },
  });
  const r = await runTraining(cfg, { outDir: tmp });
  assert.equal(r.status, 'completed', r.error);
  const m = readManifest(r.runDir) as unknown as { stepDpo: { data: { train: { pairs: number; locatedErrors: number } }; before: Record<string, number>; after: Record<string, number> } };
  assert.ok(m.stepDpo.data.train.pairs > 0, JSON.stringify(m.stepDpo.data));
  for (const k of ['eval/step_accuracy', 'eval/final_accuracy']) { assert.ok(m.stepDpo.before[k] >= 0 && m.stepDpo.before[k] <= 1); assert.ok(m.stepDpo.after[k] >= 0 && m.stepDpo.after[k] <= 1); }
  const train = readMetrics(r.runDir).filter((x) => (x.split ?? 'train') === 'train' && typeof x.values.loss === 'number');
  assert.equal(train.length, 4);
  close(train[0].values.loss as number, Math.LN2, 'first step: π = π_ref', 1e-4, 1e-4);
  const steps = listRolloutSteps(r.runDir);
  assert.ok(steps.length > 0);
  const st = readRolloutStep(r.runDir, steps[0]);
  assert.equal(st.header.algorithm, 'step_dpo');
  assert.ok(st.header.arrays.includes('implicit_reward'));
  const roles = st.samples.map((s) => s.role);
  assert.ok(roles.includes('chosen') && roles.includes('rejected'));
  // the traced tokens are the step's tokens only: its text (+ EOS when it is a last step); the prompt holds the prefix
  const s0 = st.samples[0];
  assert.ok(s0.prompt.length > 0 && /=$|\s$/.test(s0.prompt), s0.prompt);
  const arr = readSampleArrays(r.runDir, st.header, st.samples[0]);
  assert.equal(arr.implicit_reward.length, s0.length);
});
