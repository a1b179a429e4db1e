/**
 * EEPO: Exploration-Enhanced Policy Optimization via Sample-Then-Forget (Chen, Han, Wang, Han, Bai, Schütze, Wong;
 * arXiv 2510.05837, ICLR 2026; docs/references.md#eepo).
 *
 * Rollouts in two stages with a temporary unlearning step between them (the paper's §3, "sample-then-forget"):
 *   1. the rollout model (a copy of π_θ) samples the first half of each group, y^(1) ~ π_θ(·|x);
 *   2. adaptive trigger: only when the mean token entropy of those samples is below a threshold τ (entropy collapse);
 *   3. ONE gradient step on the rollout model that lowers the likelihood of the first-half samples with the
 *      complementary loss, which weighs high-probability tokens most (the dominant mode is pushed down, the rest is not
 *      flattened as a temperature rise or entropy bonus would):
 *          ℓ_t = −log(1 − π_θ(y_t | x, y_<t))                 (complementary loss per token)
 *          L_forget = (1/Σ_t m_t) · Σ_{i,t} m_{i,t} · ℓ_{i,t}     (token mean over the first-stage samples)
 *          θ' = θ − η · ∇_θ L_forget                            (single SGD step, gradient clipped to norm `clip`)
 *      dℓ_t/dz_v = p_y/(1 − p_y) · (1[v = y] − π_v): the push grows as p_y → 1, so confident tokens are suppressed most;
 *   4. the second half of the group is sampled from π_θ' (forced to explore elsewhere);
 *   5. the weights are restored (θ' is discarded: "forgetting only affects the current rollout"), and the GRPO update
 *      runs on the whole group with the old log-probs of the restored π_θ (the objective is GRPO's, unchanged).
 * The paper's exact complementary-loss normalisation and τ were not available to us; the form above (−log(1 − p), the
 * complementary-label loss of the unlearning literature the paper builds on) is what its text describes ("penalise
 * high-probability tokens more strongly"); docs/algorithms.md says so.
 *
 * Numerics: p is clamped to ≤ 1 − 1e-6 before log(1 − p) (ℓ ≤ 13.8), so a token sampled with probability 1 in float32
 * gives a finite loss and gradient.
 */
import * as tf from '@tensorflow/tfjs-core';
import { maskSelect } from './masked';

/** Largest probability used inside log(1 − p) (ℓ ≤ −log(1e-6) ≈ 13.8). */
export const EEPO_P_MAX = 1 - 1e-6;

/**
 * Complementary (unlearning) loss per token, ℓ_t = −log(1 − π(y_t | ·)). logprobs, mask: [B, N] → [B, N], 0 on padding.
 * Differentiable in logprobs.
 */
export function complementaryTokenLoss(logprobs: tf.Tensor2D, mask: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    // where() first so padding junk (NaN, ±Inf) never reaches exp/log1p (its gradient would be NaN·0 = NaN)
    const lp = tf.where(tf.greater(mask, 0), logprobs, tf.fill(logprobs.shape, -1e4));
    const p = tf.minimum(tf.exp(lp), EEPO_P_MAX);
    return maskSelect(tf.neg(tf.log1p(tf.neg(p))), mask) as tf.Tensor2D;
  });
}

/** L_forget: token mean of the complementary loss over the valid tokens of the first-stage samples. [B, N] → scalar. */
export function eepoForgetLoss(logprobs: tf.Tensor2D, mask: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => tf.div(tf.sum(complementaryTokenLoss(logprobs, mask)), tf.maximum(tf.sum(mask), 1)) as tf.Scalar);
}

/** The adaptive trigger: unlearn only when the first stage's mean token entropy H̄ is below τ (τ null = always). */
export function eepoTrigger(meanEntropy: number, threshold: number | null): boolean {
  return threshold === null || meanEntropy < threshold;
}

/** Split of a group of G into the two rollout stages: ⌈G/2⌉ first (sampled before unlearning), ⌊G/2⌋ after. */
export function eepoStageSizes(G: number): [number, number] {
  const first = Math.ceil(G / 2);
  return [first, G - first];
}
