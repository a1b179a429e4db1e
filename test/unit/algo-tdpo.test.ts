// TDPO (TDPO1 / TDPO2): the façade and the tensor code vs float64 numpy values from test/fixtures/offline_losses.py
// (written from the paper and the authors' trainers.py, not from this code; output committed as offline-losses.json).
// Tolerance: float32 tensors → relative 2e-5 (absolute 1e-6) for losses and KL terms, 1e-4 relative for gradients.
import { before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as R from '../../src/trainer/algorithms/reference';
import * as TD from '../../src/trainer/algorithms/tdpo';

const PY = JSON.parse(fs.readFileSync(path.join(__dirname, '../fixtures/offline-losses.json'), 'utf8')).tdpo;
const IN = PY.inputs as { chosenLogpsMargin: number[]; rejectedLogpsMargin: number[]; chosenPositionKl: number[]; rejectedPositionKl: number[] };
const CASES: [number, number][] = [[0.1, 0.5], [0.5, 0.5], [0.1, 1.0], [1.0, 0.2]];

// the training smoke below imports the wasm backend too: the numeric tests run on cpu, chosen explicitly
before(async () => { await tf.setBackend('cpu'); });

function close(actual: number, expected: number, what: string, rel = 2e-5, abs = 1e-6): void {
  assert.ok(Number.isFinite(actual), `${what}: got ${actual}`);
  assert.ok(Math.abs(actual - expected) <= abs + rel * Math.abs(expected), `${what}: got ${actual}, expected ${expected} (python)`);
}
const key = (b: number, a: number) => `beta${b === 1 ? '1.0' : b}_alpha${a === 1 ? '1.0' : a}`;

test('tdpoLoss façade: TDPO1 and TDPO2 match the float64 reference for several β, α', () => {
  for (const [beta, alpha] of CASES) {
    close(R.tdpoLoss({ ...IN, beta, alpha, tdpo2: false }), PY[`tdpo1_${key(beta, alpha)}`], `tdpo1 ${key(beta, alpha)}`);
    close(R.tdpoLoss({ ...IN, beta, alpha, tdpo2: true }), PY[`tdpo2_${key(beta, alpha)}`], `tdpo2 ${key(beta, alpha)}`);
  }
  // defaults are the authors' (TDPO2, α 0.5)
  close(R.tdpoLoss({ ...IN, beta: 0.1 }), PY['tdpo2_beta0.1_alpha0.5'], 'defaults = TDPO2 α 0.5');
  // TDPO1 ignores α; TDPO2 with α = 1 has the same VALUE as TDPO1 (only the gradient differs: sg on the chosen KL)
  close(R.tdpoLoss({ ...IN, beta: 0.1, alpha: 7, tdpo2: false }), PY['tdpo1_beta0.1_alpha0.5'], 'tdpo1 ignores alpha');
  close(R.tdpoLoss({ ...IN, beta: 0.1, alpha: 1, tdpo2: true }), PY['tdpo1_beta0.1_alpha1.0'], 'tdpo2 α=1 value = tdpo1');
  assert.notEqual(PY['tdpo1_beta0.1_alpha0.5'], PY['tdpo2_beta0.1_alpha0.5'], 'the fixture separates the variants');
});

test('tdpoLoss tensors: gradients (TDPO2 detaches the chosen sequential KL, as the authors\' code) match the analytic ones', () => {
  const names = ['chosenLogpsMargin', 'rejectedLogpsMargin', 'chosenPositionKl', 'rejectedPositionKl'] as const;
  const before = tf.memory().numTensors;
  for (const [beta, alpha] of CASES) {
    for (const tdpo2 of [false, true]) {
      const xs = names.map((n) => tf.tensor1d(IN[n]));
      const f = (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor, d: tf.Tensor) => tf.mean(TD.tdpoLoss(a as tf.Tensor1D, b as tf.Tensor1D, c as tf.Tensor1D, d as tf.Tensor1D, beta, alpha, tdpo2).losses);
      const gs = tf.grads(f)(xs);
      const want = PY[`grad_tdpo${tdpo2 ? 2 : 1}_${key(beta, alpha)}`];
      names.forEach((n, k) => Array.from(gs[k].dataSync()).forEach((v, i) => close(v, want[n][i], `${tdpo2 ? 'tdpo2' : 'tdpo1'} ${key(beta, alpha)} d/d${n}[${i}]`, 1e-4, 1e-7)));
      tf.dispose([...xs, ...gs]);
    }
  }
  assert.equal(tf.memory().numTensors, before, 'no tensor leaks');
});

test('tdpoBatchLogps: per-position sequential KL(π_ref‖π_θ) and log-prob margins from logits match _tdpo_get_batch_logps', () => {
  const b = PY.batch;
  const r = R.tdpoBatchLogps({ logits: b.logits, refLogits: b.refLogits, ids: b.ids, mask: b.mask });
  r.logpsMargin.forEach((v, i) => close(v, b.logpsMargin[i], `logpsMargin[${i}]`, 1e-5, 1e-5));
  r.positionKl.forEach((v, i) => close(v, b.positionKl[i], `positionKl[${i}]`, 1e-5, 1e-6));
  r.perPositionKl.forEach((row, i) => row.forEach((v, t) => close(v, b.perPositionKl[i][t], `perPositionKl[${i}][${t}]`, 1e-5, 1e-6)));
  // the KL is ≥ 0 everywhere, 0 on masked columns, and 0 when the policy is the reference
  assert.ok(r.perPositionKl.flat().every((v) => v >= -1e-7));
  assert.equal(r.perPositionKl[1][0], 0);
  const same = R.tdpoBatchLogps({ logits: b.logits, refLogits: b.logits, ids: b.ids, mask: b.mask });
  same.positionKl.forEach((v) => assert.ok(Math.abs(v) < 1e-6));
  same.logpsMargin.forEach((v) => assert.ok(Math.abs(v) < 1e-6));
  // gradient flows into the policy logits only (refLogits are data)
  const before = tf.memory().numTensors;
  const [B, T, V] = [b.logits.length, b.logits[0].length, b.logits[0][0].length];
  const lg = tf.tensor3d(b.logits, [B, T, V]), rl = tf.tensor3d(b.refLogits, [B, T, V]);
  const ids = tf.tensor2d(b.ids, [B, T], 'int32'), mask = tf.tensor2d(b.mask, [B, T - 1]);
  const g = tf.grad((x: tf.Tensor) => tf.sum(TD.tdpoBatchLogps(x as tf.Tensor3D, rl, ids, mask).positionKl))(lg);
  // d KL(p_ref ‖ softmax(z)) / dz = softmax(z) − p_ref on masked positions, 0 elsewhere
  const gv = g.arraySync() as number[][][];
  const sm = (z: number[]) => { const m = Math.max(...z); const e = z.map((x) => Math.exp(x - m)); const s = e.reduce((a, c) => a + c, 0); return e.map((x) => x / s); };
  for (let i = 0; i < B; i++) for (let t = 0; t < T; t++) {
    const w = t < T - 1 ? b.mask[i][t] : 0;
    const p = sm(b.logits[i][t]), q = sm(b.refLogits[i][t]);
    for (let v = 0; v < V; v++) close(gv[i][t][v], w * (p[v] - q[v]), `dKL/dlogits[${i}][${t}][${v}]`, 1e-4, 1e-6);
  }
  tf.dispose([lg, rl, ids, mask, g]);
  assert.equal(tf.memory().numTensors, before, 'no tensor leaks');
});

test('tdpoLoss façade: bad input names the field', () => {
  assert.throws(() => R.tdpoLoss({ ...IN, rejectedPositionKl: [1, 2], beta: 0.1 }), /rejectedPositionKl: expected 5 values/);
  assert.throws(() => R.tdpoLoss({ ...IN, beta: 0 }), /beta: expected a number > 0/);
  assert.throws(() => R.tdpoLoss({ ...IN, beta: 0.1, alpha: -1 }), /alpha: expected a number ≥ 0/);
  assert.throws(() => R.tdpoLoss({ ...IN, chosenLogpsMargin: [NaN, 0, 0, 0, 0], beta: 0.1 }), /chosenLogpsMargin\[0\]/);
});

// ---- training smoke: the trainer's real model, data and loop (wasm backend, as the CLI uses it; ~10 s on 2 cores)
import { initBackend } from '../../src/trainer/backend';
import { CharTokenizer } from '../../src/trainer/tokenizer';
import { createTask } from '../../src/trainer/tasks';
import { builtinPreferenceData } from '../../src/trainer/preference';
import { OfflineTrainer, offlineDefaults } from '../../src/trainer/preference/offline';
import type { PairRecord } from '../../src/trainer/preference/data';
import { GPT } from '../../src/trainer/model/gpt';

test('TDPO2 training smoke: held-out accuracy and margin rise, loss falls; seq_kl traces sum to the KL; no tensor leak', async () => {
  await initBackend('wasm');
  const tok = new CharTokenizer();
  const task = createTask('arithmetic', { difficulty: 1 });
  const data = builtinPreferenceData(task, 'pairwise', { count: 256, evalCount: 32, k: 4, flipProb: 0, seed: 11 });
  const policy = GPT.create({ vocabSize: tok.size, contextLength: 16, dModel: 32, nHeads: 2, nLayers: 1 }, 5);
  const traces: { header: { arrays: string[] }; samples: { role?: string; length: number; rewardParts?: Record<string, number> }[]; arrays: Record<string, number[]>[] }[] = [];
  const trainer = new OfflineTrainer({
    method: 'tdpo', hp: { ...offlineDefaults('tdpo'), steps: 30, batchSize: 16, lr: 3e-3, evalEvery: 0, traceEvery: 15, tracePairs: 3 },
    policy, tokenizer: tok, train: data.train as PairRecord[], eval: data.eval as PairRecord[], seed: 2,
    writeTrace: (_s, h, samples, arrays) => traces.push({ header: h as { arrays: string[] }, samples, arrays }),
  });
  for (let T = 2; T <= 16; T++) tf.tidy(() => policy.forward(tf.zeros([1, T], 'int32') as tf.Tensor2D).logits);
  const before = trainer.evaluate();
  trainer.trainStep();
  const n1 = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) trainer.trainStep();
  assert.equal(tf.memory().numTensors, n1, 'no tensor leak across TDPO steps');
  while (trainer.step < 30) trainer.trainStep();
  const after = trainer.evaluate();
  console.log(`TDPO2: held-out accuracy ${before['eval/rewards/accuracies'].toFixed(3)} → ${after['eval/rewards/accuracies'].toFixed(3)}, margin ${before['eval/rewards/margins'].toFixed(3)} → ${after['eval/rewards/margins'].toFixed(3)}, loss ${before['eval/loss'].toFixed(3)} → ${after['eval/loss'].toFixed(3)}, KL chosen ${after['eval/kl/chosen'].toFixed(3)} rejected ${after['eval/kl/rejected'].toFixed(3)}`);
  // the policy IS the reference at the start: margins and sequential KL 0, loss ln 2
  assert.ok(Math.abs(before['eval/loss'] - Math.LN2) < 1e-5);
  assert.ok(Math.abs(before['eval/kl/chosen']) < 1e-6 && Math.abs(before['eval/kl/rejected']) < 1e-6);
  assert.ok(after['eval/loss'] < before['eval/loss'] - 0.05, 'held-out loss falls');
  assert.ok(after['eval/rewards/accuracies'] >= 0.7, `held-out accuracy ${after['eval/rewards/accuracies']} ≥ 0.7`);
  assert.ok(after['eval/rewards/margins'] > 0.2, 'held-out margin grows');
  assert.ok(after['eval/kl/chosen'] > 0 && after['eval/kl/rejected'] > 0, 'the policy moved away from the reference');
  // traces: steps 1, 15, 30; seq_kl per token ≥ 0, its sum is the sample's sequential KL
  assert.equal(traces.length, 3);
  const last = traces[2];
  assert.deepEqual(last.header.arrays, ['logprob', 'ref_logprob', 'implicit_reward', 'mask', 'seq_kl']);
  for (const [i, s] of last.samples.entries()) {
    const kl = last.arrays[i].seq_kl;
    assert.equal(kl.length, s.length);
    assert.ok(kl.every((v) => v >= -1e-6));
    close(kl.reduce((a, b) => a + b, 0), s.rewardParts!.seq_kl, `Σ seq_kl of sample ${i}`, 1e-4, 1e-5);
  }
  trainer.dispose();
  policy.dispose();
});
