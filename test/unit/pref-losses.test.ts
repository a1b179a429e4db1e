// Preference-loss façade and tensor code vs values computed independently in python3/numpy (float64) by
// test/fixtures/pref_losses.py (written from the formulas of the references in docs/references.md#preference, not from this code).
// Tolerance: our tensors are float32, so relative error 2e-5 (absolute 1e-6 near zero) unless stated.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as R from '../../src/trainer/algorithms/reference';
import * as P from '../../src/trainer/algorithms/preference';

const PY = {
  dpo: 0.6434927141671228,
  'dpo_cdpo_0.1': 0.6537427141671229,
  'dpo_rpo_0.5': 1.6413188011236446,
  'dpo_beta_0.5': 0.4760091691442927,
  ipo_length: 23.10084326814059,
  ipo_sum: 16.027500000000003,
  simpo: 0.9786107914520644,
  odpo: 0.3709511606595933,
  'odpo_ratio_a0.5': 0.990587069302602,
  kto_z: 0.6,
  kto: 0.5004887826662013,
  kto_w: 0.5974915543150544,
  kto_z0: 0.49750052070315787,
  orpo: 2.0650224409908646,
  orpo_nll_given: 1.769370267077821,
  orpo_near0: 1.1686616729925456,
  log1mexp: [-11.512930464966061, -5.810642615314055, -3.020628109057377, -2.353119794155693, -2.3512181271000716, -0.6863410028083852, -0.006760749449488566, -9.359180097590508e-14],
  bt: 0.5540494221109977,
  'bt_margin_0.5': 0.7771927576318314,
  bt_margin_vec: 0.8336414267498361,
  'bt_center_0.01': 0.5636694221109977,
  kwise: 0.2661719975316428,
  dpo_grad_pc: [-0.012125112459514748, -0.012187565087894741, -0.011564253866406263, -0.011564253866406264],
  kto_grad: [-0.00499800053321247, 0.00498490544987996, -0.004968136039818317, 0.004999875002083304, -0.004999875002083305],
};

function close(actual: number, expected: number, what: string, rel = 2e-5, abs = 1e-6): void {
  assert.ok(Number.isFinite(actual), `${what}: got ${actual}`);
  assert.ok(Math.abs(actual - expected) <= abs + rel * Math.abs(expected), `${what}: got ${actual}, expected ${expected} (python)`);
}

const pairs = {
  policyChosenLogps: [-12.3, -8.1, -20.5, -5.0],
  policyRejectedLogps: [-14.0, -7.5, -25.0, -9.2],
  refChosenLogps: [-12.0, -9.0, -21.0, -6.1],
  refRejectedLogps: [-13.1, -7.9, -24.0, -8.8],
  chosenLengths: [6, 4, 10, 3],
  rejectedLengths: [7, 4, 12, 5],
  beta: 0.1,
};
const scores = { chosenScores: [0.9, 0.7, 1.0, 0.6], rejectedScores: [0.2, 0.5, 0.1, 0.3] };

test('pref façade: DPO sigmoid, cDPO label smoothing, RPO NLL term, β', () => {
  close(R.dpoLoss(pairs), PY.dpo, 'dpo');
  close(R.dpoLoss({ ...pairs, labelSmoothing: 0.1 }), PY['dpo_cdpo_0.1'], 'cdpo');
  close(R.dpoLoss({ ...pairs, rpoAlpha: 0.5 }), PY['dpo_rpo_0.5'], 'dpo + 0.5 NLL');
  close(R.dpoLoss({ ...pairs, beta: 0.5 }), PY['dpo_beta_0.5'], 'dpo beta 0.5');
});

test('pref façade: IPO (TRL length-normalised default, OpenRLHF summed), SimPO, ODPO', () => {
  close(R.ipoLoss(pairs), PY.ipo_length, 'ipo length');
  close(R.ipoLoss({ ...pairs, normalize: 'sum' }), PY.ipo_sum, 'ipo sum');
  close(R.simpoLoss({ ...pairs, beta: 2.0, gamma: 0.5 }), PY.simpo, 'simpo');
  // reference-free: ref log-probs are ignored
  close(R.simpoLoss({ ...pairs, refChosenLogps: [0, 0, 0, 0], beta: 2.0, gamma: 0.5 }), PY.simpo, 'simpo ignores ref');
  close(R.odpoLoss({ ...pairs, ...scores, alpha: 1 }), PY.odpo, 'odpo');
  close(R.odpoLoss({ ...pairs, ...scores, alpha: 0.5, ratio: true }), PY['odpo_ratio_a0.5'], 'odpo ratio');
  assert.throws(() => R.odpoLoss({ ...pairs, chosenScores: [0.1, 0.7, 1, 0.6], rejectedScores: [0.2, 0.5, 0.1, 0.3], alpha: 1 }), /chosenScores\[0\].*chosen score > rejected score/);
});

const kto = {
  policyLogps: [-10.0, -6.0, -15.0, -4.0, -9.0],
  refLogps: [-11.0, -5.5, -14.0, -4.5, -9.5],
  labels: [true, false, true, false, true],
  policyKlLogps: [-30.0, -28.0, -25.0, -31.0, -22.0],
  refKlLogps: [-31.0, -28.5, -24.0, -33.0, -22.5],
  beta: 0.1,
};

test('pref façade: KTO with z from mismatched pairs (clamped at 0), desirable/undesirable weights', () => {
  close(R.ktoLoss(kto), PY.kto, 'kto');
  close(R.ktoLoss({ ...kto, undesirableWeight: 1.5 }), PY.kto_w, 'kto weights');
  close(R.ktoLoss({ ...kto, refKlLogps: kto.policyKlLogps.map((x) => x + 1) }), PY.kto_z0, 'kto z clamped');
  const z = P.ktoReferencePoint(tf.tensor1d(kto.policyKlLogps), tf.tensor1d(kto.refKlLogps));
  close(z.dataSync()[0], PY.kto_z, 'z');
  z.dispose();
  // TRL's layout (kto_loss(policy_chosen_logps, policy_rejected_logps, policy_KL_logps, ...)): the same examples split
  // by label give the same mean loss (the numpy value), and a given z (kl) equals the one from the KL batch
  const des = (a: number[]) => a.filter((_, k) => kto.labels[k]), und = (a: number[]) => a.filter((_, k) => !kto.labels[k]);
  const trl = { policyChosenLogps: des(kto.policyLogps), policyRejectedLogps: und(kto.policyLogps), refChosenLogps: des(kto.refLogps), refRejectedLogps: und(kto.refLogps), beta: kto.beta };
  close(R.ktoLoss({ ...trl, policyKlLogps: kto.policyKlLogps, refKlLogps: kto.refKlLogps }), PY.kto, 'kto, TRL layout');
  close(R.ktoLoss({ ...trl, kl: PY.kto_z }), PY.kto, 'kto, z given');
  close(R.ktoLoss({ ...trl, policyKlLogps: kto.policyKlLogps, refKlLogps: kto.refKlLogps, undesirableWeight: 1.5 }), PY.kto_w, 'kto, TRL layout, weights');
  assert.throws(() => R.ktoLoss({ ...trl, refRejectedLogps: [-1] }), /refRejectedLogps: expected 2 values/);
});

test('pref façade: ORPO (average log-probs, log1mexp), default NLL, given NLL, near-zero log-probs', () => {
  close(R.orpoLoss(pairs), PY.orpo, 'orpo');
  close(R.orpoLoss({ ...pairs, chosenNll: 1.7 }), PY.orpo_nll_given, 'orpo nll given');
  const { beta, ...noBeta } = pairs;
  close(R.orpoLoss({ ...noBeta, lambda: beta }), PY.orpo, 'orpo with the paper\'s λ');
  assert.throws(() => R.orpoLoss({ ...noBeta } as never), /beta \(= the ORPO paper's λ\): expected a number/);
  const near0 = { policyChosenLogps: [-0.01, -0.002, -0.3, -0.05], policyRejectedLogps: [-0.02, -0.5, -0.001, -0.08], chosenLengths: [1, 1, 1, 1], rejectedLengths: [1, 1, 1, 1], beta: 0.1, chosenNll: 1.0 };
  close(R.orpoLoss(near0), PY.orpo_near0, 'orpo near 0', 1e-4);
  const x = tf.tensor1d([-1e-5, -0.003, -0.05, -0.0999, -0.1001, -0.7, -5.0, -30.0]);
  const y = P.log1mexp(x);
  Array.from(y.dataSync()).forEach((v, i) => close(v, PY.log1mexp[i], `log1mexp[${i}]`, 1e-5, 1e-12));
  // finite gradients on both sides of the branch point, and at x → 0
  const g = tf.grad((t: tf.Tensor) => tf.sum(P.log1mexp(t)))(x);
  assert.ok(Array.from(g.dataSync()).every(Number.isFinite), 'log1mexp gradient finite');
  tf.dispose([x, y, g]);
});

test('pref façade: Bradley–Terry with margin (scalar, per pair) and reward centering; K-wise ranking', () => {
  const bt = { chosenRewards: [1.2, -0.3, 0.5, 2.0, 0.0], rejectedRewards: [0.4, 0.1, 0.6, -1.0, 0.0] };
  close(R.bradleyTerryLoss(bt), PY.bt, 'bt');
  close(R.bradleyTerryLoss({ ...bt, margin: 0.5 }), PY['bt_margin_0.5'], 'bt margin');
  close(R.bradleyTerryLoss({ ...bt, margin: [0.0, 1.0, 0.5, 2.0, 0.25] }), PY.bt_margin_vec, 'bt margin per pair');
  close(R.bradleyTerryLoss({ ...bt, centerRewardsCoefficient: 0.01 }), PY['bt_center_0.01'], 'bt centering');
  close(R.kwiseRankingLoss({ rewards: [[0.3, 1.2, -0.5], [2.0, 0.1, 0.4, -1.0]], rankings: [[1, 0, 2], [0, 2, 1, 3]] }), PY.kwise, 'kwise');
  assert.throws(() => R.kwiseRankingLoss({ rewards: [[0.3, 1.2]], rankings: [[0, 0]] }), /rankings\[0\]: expected a permutation/);
  assert.throws(() => R.bradleyTerryLoss({ chosenRewards: [1, 2], rejectedRewards: [1] }), /rejectedRewards: expected 2 values/);
});

test('pref tensors: gradients of DPO and KTO (z detached) match the analytic ones; no tensor leaks', () => {
  const before = tf.memory().numTensors;
  const fixed = { policyRejected: tf.tensor1d(pairs.policyRejectedLogps), refChosen: tf.tensor1d(pairs.refChosenLogps), refRejected: tf.tensor1d(pairs.refRejectedLogps) };
  const pc = tf.tensor1d(pairs.policyChosenLogps);
  const g = tf.grad((x: tf.Tensor) => tf.mean(P.dpoSigmoidLoss({ policyChosen: x as tf.Tensor1D, ...fixed }, 0.1).losses))(pc);
  Array.from(g.dataSync()).forEach((v, i) => close(v, PY.dpo_grad_pc[i], `dpo grad[${i}]`, 1e-4));
  const kp = tf.tensor1d(kto.policyLogps), kr = tf.tensor1d(kto.refLogps), d = tf.tensor1d(kto.labels.map(Number));
  const klp = tf.tensor1d(kto.policyKlLogps), klr = tf.tensor1d(kto.refKlLogps);
  // z is computed from the policy's KL log-probs but must carry no gradient
  const ktoOf = (x: tf.Tensor, y: tf.Tensor) => tf.mean(P.ktoLoss(x as tf.Tensor1D, kr, d, P.ktoReferencePoint(y as tf.Tensor1D, klr), 0.1).losses);
  const gk = tf.grad((x: tf.Tensor) => ktoOf(x, klp))(kp);
  Array.from(gk.dataSync()).forEach((v, i) => close(v, PY.kto_grad[i], `kto grad[${i}]`, 1e-4));
  assert.throws(() => tf.grad((y: tf.Tensor) => ktoOf(kp, y))(klp), /Cannot compute gradient/, 'no gradient path through z');
  const gkl = tf.scalar(0);
  tf.dispose([fixed.policyRejected, fixed.refChosen, fixed.refRejected, pc, g, kp, kr, d, klp, klr, gk, gkl]);
  assert.ok(tf.memory().numTensors >= before);
  const b2 = tf.memory().numTensors;
  R.dpoLoss({ ...pairs, rpoAlpha: 1 }); R.ipoLoss(pairs); R.simpoLoss({ ...pairs, gamma: 0.5 }); R.odpoLoss({ ...pairs, ...scores, alpha: 1 });
  R.ktoLoss(kto); R.orpoLoss(pairs); R.bradleyTerryLoss({ chosenRewards: [1], rejectedRewards: [0], margin: 1 });
  R.kwiseRankingLoss({ rewards: [[1, 2]], rankings: [[1, 0]] });
  assert.equal(tf.memory().numTensors, b2, 'the façade leaked tensors');
});
