// QRPO: quantile rewards, the analytic partition function and the regression loss vs float64 numpy values from
// test/fixtures/offline_losses.py (written from the paper and the authors' README `qrpo_loss`, not from this code).
// Tolerance: float32 tensors → relative 2e-5 (absolute 1e-6); log Z (float64 JS) 1e-12; gradients relative 1e-4.
import { before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as R from '../../src/trainer/algorithms/reference';
import * as QR from '../../src/trainer/algorithms/qrpo';

const PY = JSON.parse(fs.readFileSync(path.join(__dirname, '../fixtures/offline-losses.json'), 'utf8')).qrpo;
const IN = PY.inputs as { logps: number[]; refLogps: number[]; rewards: number[]; refRewards: number[][] };
const BETAS = [0.1, 0.5, 1.0, 2.0];
const bk = (b: number) => `beta${Number.isInteger(b) ? b.toFixed(1) : b}`;

// the training smoke below imports the wasm backend too: the numeric tests run on cpu, chosen explicitly
before(async () => { await tf.setBackend('cpu'); });

function close(actual: number, expected: number, what: string, rel = 2e-5, abs = 1e-6): void {
  assert.ok(Number.isFinite(actual), `${what}: got ${actual}`);
  assert.ok(Math.abs(actual - expected) <= abs + rel * Math.abs(expected), `${what}: got ${actual}, expected ${expected} (python)`);
}

test('qrpo: quantile rewards are the empirical CDF of the reference rewards (ties count as ≤)', () => {
  assert.deepEqual(R.qrpoQuantileRewards(IN), PY.quantile);
  assert.deepEqual(PY.quantile, [0.75, 0.5, 1, 0.75, 0]);
});

test('qrpo: analytic log partition log(β(e^{1/β} − 1)) and the authors\' simplification log β + 1/β', () => {
  for (const b of BETAS) {
    close(QR.quantileLogPartition(b, 'exact'), PY[`logZ_exact_${bk(b)}`], `exact ${b}`, 1e-12, 1e-12);
    close(QR.quantileLogPartition(b, 'simplified'), PY[`logZ_simplified_${bk(b)}`], `simplified ${b}`, 1e-12, 1e-12);
  }
  // Z normalises the optimal policy: E_{u∼U[0,1]} exp(u/β) / Z = 1 (python's midpoint rule)
  close(PY['normalisation_beta0.5'], 1, 'normalisation', 1e-8);
});

test('qrpoLoss façade: mean regression loss (exact and simplified log Z) and its gradient match the reference', () => {
  for (const b of BETAS) {
    close(R.qrpoLoss({ ...IN, beta: b }), PY[`loss_exact_${bk(b)}`], `exact β ${b}`);
    close(R.qrpoLoss({ ...IN, beta: b, logZ: 'simplified' }), PY[`loss_simplified_${bk(b)}`], `simplified β ${b}`);
  }
  assert.ok(Math.abs(PY['loss_exact_beta1.0'] - PY['loss_simplified_beta1.0']) > 1e-2, 'the fixture separates the two log Z');
  const before = tf.memory().numTensors;
  for (const b of BETAS) {
    const x = tf.tensor1d(IN.logps), ref = tf.tensor1d(IN.refLogps), q = tf.tensor1d(QR.quantileRewards(IN.rewards, IN.refRewards));
    const g = tf.grad((t: tf.Tensor) => tf.mean(QR.qrpoLoss(t as tf.Tensor1D, ref, q, b, QR.quantileLogPartition(b)).losses))(x);
    Array.from(g.dataSync()).forEach((v, i) => close(v, PY[`grad_logps_exact_${bk(b)}`][i], `d/dlogps[${i}] β ${b}`, 1e-4, 1e-7));
    tf.dispose([x, ref, q, g]);
  }
  assert.equal(tf.memory().numTensors, before, 'no tensor leaks');
});

test('qrpoLoss façade: bad input names the field', () => {
  assert.throws(() => R.qrpoLoss({ ...IN, refRewards: IN.refRewards.slice(1), beta: 0.1 }), /refRewards: expected 5 rows/);
  assert.throws(() => R.qrpoLoss({ ...IN, refRewards: [[], ...IN.refRewards.slice(1)], beta: 0.1 }), /refRewards\[0\]: expected at least one/);
  assert.throws(() => R.qrpoLoss({ ...IN, beta: -1 }), /beta: expected a number > 0/);
  assert.throws(() => R.qrpoLoss({ ...IN, beta: 0.1, logZ: 'x' as 'exact' }), /logZ: expected 'exact' or 'simplified'/);
  assert.throws(() => R.qrpoLoss({ ...IN, rewards: [1, 2], beta: 0.1 }), /rewards: expected 5 values/);
});

// ---- training smoke (wasm backend as the CLI uses it; a few seconds on 2 cores)
import { initBackend } from '../../src/trainer/backend';
import { CharTokenizer } from '../../src/trainer/tokenizer';
import { createTask } from '../../src/trainer/tasks';
import { builtinPreferenceData } from '../../src/trainer/preference';
import { OfflineTrainer, offlineDefaults, type QrpoRecord } from '../../src/trainer/preference/offline';
import type { RankingRecord } from '../../src/trainer/preference/data';
import { GPT } from '../../src/trainer/model/gpt';

/** QRPO records from the built-in rankings: each candidate a training completion with its hidden score as the reward,
 *  the prompt's candidates' scores as the reference rewards (a stand-in for π_ref samples with graded rewards). */
function records(rk: RankingRecord[]): QrpoRecord[] {
  return rk.flatMap((r) => r.completions.map((c, j) => ({ prompt: r.prompt, completion: c, reward: r.scores![j], refRewards: r.scores! })));
}

test('QRPO training smoke: regression loss falls from its closed-form start, implied rewards follow the quantiles; no tensor leak', async () => {
  await initBackend('wasm');
  const tok = new CharTokenizer();
  const task = createTask('arithmetic', { difficulty: 1 });
  const tr = builtinPreferenceData(task, 'ranking', { count: 96, evalCount: 24, k: 4, flipProb: 0, seed: 3 }).train as RankingRecord[];
  const train = records(tr.slice(0, 80)), evalR = records(tr.slice(80));
  const policy = GPT.create({ vocabSize: tok.size, contextLength: 16, dModel: 32, nHeads: 2, nLayers: 1 }, 4);
  const beta = 0.5;
  const trainer = new OfflineTrainer({ method: 'qrpo', hp: { ...offlineDefaults('qrpo'), beta, steps: 40, batchSize: 32, lr: 3e-3, evalEvery: 0, traceEvery: 0 }, policy, tokenizer: tok, train, eval: evalR, seed: 1 });
  for (let T = 2; T <= 16; T++) tf.tidy(() => policy.forward(tf.zeros([1, T], 'int32') as tf.Tensor2D).logits);
  const before = trainer.evaluate();
  // policy = reference: log-ratios 0, so the loss is mean (R_q − β log Z)², computed independently by the façade
  const q = QR.quantileRewards(evalR.map((r) => r.reward), evalR.map((r) => r.refRewards));
  const start = R.qrpoLoss({ logps: q.map(() => 0), refLogps: q.map(() => 0), rewards: evalR.map((r) => r.reward), refRewards: evalR.map((r) => r.refRewards), beta });
  close(before['eval/loss'], start, 'start loss = mean (R_q − β log Z)²', 1e-4);
  trainer.trainStep();
  const n1 = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) trainer.trainStep();
  assert.equal(tf.memory().numTensors, n1, 'no tensor leak across QRPO steps');
  while (trainer.step < 40) trainer.trainStep();
  const after = trainer.evaluate();
  console.log(`QRPO: held-out loss ${before['eval/loss'].toFixed(4)} → ${after['eval/loss'].toFixed(4)}, implied-vs-quantile corr ${after['eval/qrpo/implied_vs_quantile_corr'].toFixed(3)}, residual ${before['eval/qrpo/residual'].toFixed(3)} → ${after['eval/qrpo/residual'].toFixed(3)}`);
  assert.ok(after['eval/loss'] < 0.7 * before['eval/loss'], 'held-out regression loss falls by > 30%');
  assert.ok(after['eval/qrpo/implied_vs_quantile_corr'] > 0.3, 'higher quantile → higher β log π/π_ref on held-out prompts');
  trainer.dispose();
  policy.dispose();
});
