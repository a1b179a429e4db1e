/**
 * Gradients of the tensor losses (src/trainer/algorithms), checked against values worked out by hand
 * (each derivation in the comment next to it). Tolerance 1e-5 absolute (float32).
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { computePolicyLossGspo, computePolicyLossVanilla, computePolicyLossGeoMean, aggLoss } from '../../src/trainer/algorithms/losses';
import { klPenalty } from '../../src/trainer/algorithms/kl';
import { computeGaeAdvantageReturn } from '../../src/trainer/algorithms/advantages';
import { AdaptiveKLController, adaptiveBetaUpdate, warmupCosineLr } from '../../src/trainer/algorithms/control';

const near = (a: number, b: number, what: string, tol = 1e-5) => assert.ok(Math.abs(a - b) <= tol, `${what}: got ${a}, want ${b}`);
const grad = (f: (x: tf.Tensor2D) => tf.Scalar, x: number[][]) => tf.tidy(() => tf.grad(f as (x: tf.Tensor) => tf.Tensor)(tf.tensor2d(x)).arraySync() as number[][]);

test('GSPO: forward is the sequence ratio s_i, gradient is s_i·(−A)/n_i on every token (not ρ_t)', () => {
  // lp = [−1, −2], old = [−1.1, −1.9] → Δ = [0.1, −0.1], log s = 0, s = 1 (inside [0.8, 1.28]); A = 0.5.
  // loss = seq-mean-token-mean(−A·s) = −0.5; ∂/∂lp_t = −A·s/n = −0.25 for both tokens.
  // (token-level PPO would give −A·e^{±0.1}/2 = −0.2763 / −0.2262.)
  const old = tf.tensor2d([[-1.1, -1.9]]), A = tf.tensor2d([[0.5, 0.5]]), m = tf.tensor2d([[1, 1]]);
  const g = grad((lp) => computePolicyLossGspo(lp, old, A, m, 0.2, 0.28).loss, [[-1, -2]]);
  near(g[0][0], -0.25, 'dL/dlp0'); near(g[0][1], -0.25, 'dL/dlp1');
  const gp = grad((lp) => computePolicyLossVanilla(lp, old, A, m, { clipLow: 0.2, clipHigh: 0.2, agg: 'token-mean' }).loss, [[-1, -2]]);
  near(gp[0][0], -0.5 * Math.exp(0.1) / 2, 'ppo dL/dlp0'); near(gp[0][1], -0.5 * Math.exp(-0.1) / 2, 'ppo dL/dlp1');
  tf.dispose([old, A, m]);
});

test('PPO: a clipped token (A > 0, ρ > 1+ε) gets zero gradient; dual clip (A < 0, ρ > c) too', () => {
  // token 0: Δ = 0.5 → ρ = 1.6487 > 1.2, A = 1 → loss −1.2 (constant) → grad 0.
  // token 1: Δ = ln 4 → ρ = 4 > c = 3, A = −1 → loss min(max(4, 0.8·… ), 3) = 3 (constant) → grad 0.
  // token 2: Δ = 0, A = 2 → −2ρ, grad −2·1/3 (token-mean over 3 tokens).
  const old = tf.tensor2d([[-1.5, -2 - Math.log(4), -1]]), A = tf.tensor2d([[1, -1, 2]]), m = tf.tensor2d([[1, 1, 1]]);
  const g = grad((lp) => computePolicyLossVanilla(lp, old, A, m, { clipLow: 0.2, clipHigh: 0.2, dualClip: 3, agg: 'token-mean' }).loss, [[-1, -2, -1]]);
  near(g[0][0], 0, 'clipped high'); near(g[0][1], 0, 'dual clipped'); near(g[0][2], -2 / 3, 'unclipped');
  const codes = tf.tidy(() => computePolicyLossVanilla(tf.tensor2d([[-1, -2, -1]]), old, A, m, { clipLow: 0.2, clipHigh: 0.2, dualClip: 3, agg: 'token-mean' }).clipCode.arraySync());
  assert.deepEqual(codes, [[2, 3, 0]]);
  tf.dispose([old, A, m]);
});

test('GMPO: gradient −Ā·ratio/n on unclipped tokens, 0 on tokens clipped in log space', () => {
  // A = 1 on both tokens (Ā = 1); Δ = [0.1, 0.6]; ε = 0.4: token 1 clipped to 0.4 (sign +: min(Δ, clamp Δ)).
  // ratio = exp((0.1 + 0.4)/2) = e^0.25; loss = −e^0.25; ∂/∂lp0 = −e^0.25/2, ∂/∂lp1 = 0.
  const old = tf.tensor2d([[-1.1, -2.6]]), A = tf.tensor2d([[1, 1]]), m = tf.tensor2d([[1, 1]]);
  const g = grad((lp) => computePolicyLossGeoMean(lp, old, A, m, 0.4, 0.4).loss, [[-1, -2]]);
  near(g[0][0], -Math.exp(0.25) / 2, 'unclipped'); near(g[0][1], 0, 'clipped');
  tf.dispose([old, A, m]);
});

test("k3+ (verl straight-through): forward k3, gradient k2's (lp − ref)", () => {
  // lp = −1, ref = −1.5: k3 = e^{−0.5} + 0.5 − 1 = 0.10653; k2 gradient = lp − ref = 0.5; k3's own = 1 − e^{ref−lp} = 0.39347.
  const ref = tf.tensor2d([[-1.5]]);
  const v = tf.tidy(() => klPenalty(tf.tensor2d([[-1]]), ref, 'k3+').arraySync() as number[][]);
  near(v[0][0], Math.exp(-0.5) - 0.5, 'k3+ value');
  near(grad((lp) => tf.sum(klPenalty(lp, ref, 'k3+')) as tf.Scalar, [[-1]])[0][0], 0.5, 'k3+ grad');
  near(grad((lp) => tf.sum(klPenalty(lp, ref, 'k3')) as tf.Scalar, [[-1]])[0][0], 1 - Math.exp(-0.5), 'k3 grad');
  ref.dispose();
});

test('aggregation: seq-mean modes skip empty rows; token-mean of an empty mask is 0, not NaN', () => {
  // L = [[1, 2], [9, 9]], mask [[1, 1], [0, 0]]: seq-mean-token-sum = 3 (only row 0), seq-mean-token-mean = 1.5
  const L = tf.tensor2d([[1, 2], [9, 9]]), m = tf.tensor2d([[1, 1], [0, 0]]);
  near(aggLoss(L, m, 'seq-mean-token-sum').arraySync() as number, 3, 'seq-mean-token-sum');
  near(aggLoss(L, m, 'seq-mean-token-mean').arraySync() as number, 1.5, 'seq-mean-token-mean');
  near(aggLoss(L, m, 'seq-mean-token-sum-norm').arraySync() as number, 1.5, 'token-sum / T');
  near(aggLoss(L, tf.zerosLike(m), 'token-mean').arraySync() as number, 0, 'empty');
  tf.dispose([L, m]);
});

test('GAE: whiten flag applies masked_whiten; controllers and schedules follow their rules', () => {
  const r = computeGaeAdvantageReturn(tf.tensor2d([[0, 1], [1, 0]]), tf.tensor2d([[0, 0], [0, 0]]), tf.tensor2d([[1, 1], [1, 1]]), 1, 1, true);
  // raw A = [[1, 1], [1, 0]] → mean 0.75, unbiased var 0.25 → whitened [[0.5, 0.5], [0.5, −1.5]]·(1/sqrt(0.25+1e-8))·0.5 …
  const a = r.advantages.arraySync() as number[][];
  const s = Math.sqrt(0.25 + 1e-8);
  near(a[0][0], 0.25 / s, 'w00'); near(a[1][1], -0.75 / s, 'w11');
  tf.dispose([r.advantages, r.returns]);
  // verl adaptive KL: KL = 0.3, target 0.1 → error clipped to 0.2; β = 0.1·(1 + 0.2·256/10000)
  const c = new AdaptiveKLController(0.1, 0.1, 10000);
  near(c.update(0.3, 256), 0.1 * (1 + 0.2 * 256 / 10000), 'adaptive KL', 1e-12);
  near(adaptiveBetaUpdate(0.04, 0.5, { target: 0.1, rate: 0.5 }), 0.06, 'beta up', 1e-12);
  near(adaptiveBetaUpdate(0.04, 0.01, { target: 0.1, rate: 1 }), 0.02, 'beta down', 1e-12);
  near(warmupCosineLr(0, { lr: 1, warmupSteps: 4, totalSteps: 14 }), 0.25, 'warmup');
  near(warmupCosineLr(9, { lr: 1, warmupSteps: 4, totalSteps: 14 }), 0.5, 'cosine midpoint');
  near(warmupCosineLr(14, { lr: 1, warmupSteps: 4, totalSteps: 14, minLrRatio: 0.1 }), 0.1, 'end');
});
