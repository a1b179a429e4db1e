// SPIN: the logistic (and hinge) self-play loss vs float64 numpy values from test/fixtures/offline_losses.py (written
// from the paper's L_SPIN and the authors' trainer.py `spin_loss`, not from this code).
// Tolerance: float32 tensors → relative 2e-5 (absolute 1e-6); gradients relative 1e-4.
import { before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as R from '../../src/trainer/algorithms/reference';
import * as SP from '../../src/trainer/algorithms/spin';

const PY = JSON.parse(fs.readFileSync(path.join(__dirname, '../fixtures/offline-losses.json'), 'utf8')).spin;
const IN = PY.inputs as { policyRealLogps: number[]; policyGeneratedLogps: number[]; opponentRealLogps: number[]; opponentGeneratedLogps: number[] };
const LAMBDAS = [0.1, 1.0, 5.0];
const lk = (l: number) => `lambda${Number.isInteger(l) ? l.toFixed(1) : l}`;

// the training smoke below imports the wasm backend too: the numeric tests run on cpu, chosen explicitly
before(async () => { await tf.setBackend('cpu'); });

function close(actual: number, expected: number, what: string, rel = 2e-5, abs = 1e-6): void {
  assert.ok(Number.isFinite(actual), `${what}: got ${actual}`);
  assert.ok(Math.abs(actual - expected) <= abs + rel * Math.abs(expected), `${what}: got ${actual}, expected ${expected} (python)`);
}

test('spinLoss façade: logistic and hinge loss for several λ (β in the authors\' code)', () => {
  for (const l of LAMBDAS) {
    close(R.spinLoss({ ...IN, lambda: l }), PY[`sigmoid_${lk(l)}`], `sigmoid λ ${l}`);
    close(R.spinLoss({ ...IN, beta: l }), PY[`sigmoid_${lk(l)}`], `sigmoid β ${l}`);
    close(R.spinLoss({ ...IN, beta: l, lossType: 'hinge' }), PY[`hinge_${lk(l)}`], `hinge λ ${l}`);
  }
  // policy = opponent (every iteration starts so): log 2 whatever the data
  close(R.spinLoss({ ...IN, policyRealLogps: IN.opponentRealLogps, policyGeneratedLogps: IN.opponentGeneratedLogps, beta: 0.1 }), PY.start_of_iteration, 'start of iteration');
});

test('spinLoss tensors: gradient w.r.t. the policy\'s real / generated log-probs; opponent terms are data', () => {
  const before = tf.memory().numTensors;
  for (const l of LAMBDAS) {
    const pr = tf.tensor1d(IN.policyRealLogps), pg = tf.tensor1d(IN.policyGeneratedLogps), or = tf.tensor1d(IN.opponentRealLogps), og = tf.tensor1d(IN.opponentGeneratedLogps);
    const [gr, gg] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.mean(SP.spinLoss(a as tf.Tensor1D, b as tf.Tensor1D, or, og, l).losses))([pr, pg]);
    const want = PY[`grad_sigmoid_${lk(l)}`];
    Array.from(gr.dataSync()).forEach((v, i) => close(v, want.policyRealLogps[i], `d/dreal[${i}] λ ${l}`, 1e-4, 1e-7));
    Array.from(gg.dataSync()).forEach((v, i) => close(v, want.policyGeneratedLogps[i], `d/dgenerated[${i}] λ ${l}`, 1e-4, 1e-7));
    tf.dispose([pr, pg, or, og, gr, gg]);
  }
  assert.equal(tf.memory().numTensors, before, 'no tensor leaks');
});

test('spinLoss façade: bad input names the field', () => {
  assert.throws(() => R.spinLoss({ ...IN }), /beta \(= the SPIN paper's λ\): expected a number > 0/);
  assert.throws(() => R.spinLoss({ ...IN, beta: 0.1, lambda: 0.2 }), /give one/);
  assert.throws(() => R.spinLoss({ ...IN, opponentGeneratedLogps: [1], beta: 0.1 }), /opponentGeneratedLogps: expected 4 values/);
  assert.throws(() => R.spinLoss({ ...IN, beta: 0.1, lossType: 'ipo' as 'hinge' }), /lossType/);
});

// ---- training smoke: 2 self-play iterations (wasm backend as the CLI uses it; a few seconds on 2 cores)
import { initBackend } from '../../src/trainer/backend';
import { CharTokenizer } from '../../src/trainer/tokenizer';
import { createTask } from '../../src/trainer/tasks';
import { taskExamples } from '../../src/trainer/preference/data';
import { OfflineTrainer, offlineDefaults } from '../../src/trainer/preference/offline';
import { GPT } from '../../src/trainer/model/gpt';

test('SPIN training smoke: each iteration starts at ln 2 (opponent = current policy), the real-vs-generated margin grows; no tensor leak', async () => {
  await initBackend('wasm');
  const tok = new CharTokenizer();
  const task = createTask('arithmetic', { difficulty: 1 });
  const real = taskExamples(task, 64, 5, 'train').examples.map((e) => ({ prompt: e.prompt, completion: e.answer }));
  const policy = GPT.create({ vocabSize: tok.size, contextLength: 16, dModel: 32, nHeads: 2, nLayers: 1 }, 6);
  const iters: number[] = [];
  const trainer = new OfflineTrainer({
    method: 'spin', hp: { ...offlineDefaults('spin'), beta: 0.1, iterations: 2, steps: 24, batchSize: 16, lr: 3e-3, traceEvery: 0, maxNewTokens: 5 },
    policy, tokenizer: tok, train: real, seed: 3, onIteration: (it, s) => iters.push(it, s),
  });
  for (let T = 2; T <= 16; T++) tf.tidy(() => policy.forward(tf.zeros([1, T], 'int32') as tf.Tensor2D).logits);
  const m: Record<string, number>[] = [];
  m.push(trainer.trainStep().metrics);
  const n1 = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) m.push(trainer.trainStep().metrics);
  assert.equal(tf.memory().numTensors, n1, 'no tensor leak across SPIN steps');
  while (trainer.step < 24) m.push(trainer.trainStep().metrics);
  console.log(`SPIN: loss ${m.map((x) => x.loss.toFixed(3)).join(' ')}; margin end of it0 ${m[11]['rewards/margins'].toFixed(3)}, end of it1 ${m[23]['rewards/margins'].toFixed(3)}`);
  // step 1 and step 13 (first of iteration 1) compare the policy with itself: loss ln 2, rewards 0
  close(m[0].loss, Math.LN2, 'iteration 0 starts at ln 2');
  close(m[12].loss, Math.LN2, 'iteration 1 starts at ln 2 (the opponent was refreshed)');
  assert.equal(m[12]['rewards/margins'], 0);
  assert.equal(m[0]['spin/iteration'], 0);
  assert.equal(m[12]['spin/iteration'], 1);
  assert.deepEqual(iters, [0, 12, 1, 24], 'onIteration at the end of each iteration (checkpoint there)');
  assert.ok(m[11].loss < Math.LN2 - 0.05 && m[11]['rewards/margins'] > 0.1, `iteration 0 separates real from generated (loss ${m[11].loss}, margin ${m[11]['rewards/margins']})`);
  assert.ok(m[11]['logps/real'] > m[0]['logps/real'], 'log p(real) rises');
  trainer.dispose();
  policy.dispose();
});
