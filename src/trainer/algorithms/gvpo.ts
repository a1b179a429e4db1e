/**
 * GVPO: Group Variance Policy Optimization (Zhang et al. 2025, "GVPO: Group Variance Policy Optimization for Large
 * Language Model Post-Training", arXiv 2504.19599, NeurIPS 2025; docs/references.md#gvpo).
 *
 * The KL-constrained reward maximisation  max_π E[R(x, y)] − β·KL(π ‖ π_θ')  has the closed-form solution
 * π*(y|x) = π_θ'(y|x)·exp(R(x, y)/β)/Z(x), i.e. R(x, y) = β·log(π*(y|x)/π_θ'(y|x)) + β·log Z(x). The partition
 * function Z(x) is intractable, but it is the same for every completion of one prompt, so it cancels in any weighted
 * sum whose weights sum to zero within the group. GVPO takes the group's central distances:
 *
 *   R_θ(x, y_i) = β·log(π_θ(y_i|x)/π_θ'(y_i|x))                                  (the implicit reward)
 *   L_GVPO(θ)   = Σ_x Σ_i ½·[(R_θ(x, y_i) − mean_j R_θ(x, y_j)) − (R(x, y_i) − mean_j R(x, y_j))]² / (n − 1)
 *
 * (paper §3: the loss "mirrors the mean squared error between the central distance of implicit rewards and that of
 * actual rewards"; its gradient is −β·Σ_i w_i·∇log π_θ(y_i|x)/(n−1) with w_i = (R_i − R̄) − (R_θ,i − R̄_θ), Σ_i w_i = 0).
 * π_θ' is the policy that sampled the completions (any policy: the samples may be off-policy), n the group size.
 *
 * As the authors' verl recipe computes it: zichongli5/verl@f5953e97 recipe/gvpo/gvpo_core_algos.py
 * compute_policy_loss_gvpo (L40–63): rtheta = β·(Σ_t m·log π_θ − Σ_t m·log π_old); R_i − R̄ comes in as the advantage
 * (adv_estimator grpo with norm_adv_by_std_in_grpo=False, run_qwen2-7b_math_gvpo.sh), its token mean; the loss is the SUM
 * over the batch's sequences of ½((rtheta − group mean rtheta) − (R − R̄))², divided by (n − 1) (no mean over groups).
 * The recipe detaches the group mean of rtheta; that does not change the gradient (∂L/∂mean = −Σ_i w_i = 0), so the
 * mean is left differentiable here.
 *
 * Shapes: B = sequences (groups of n, whole groups only), T = response tokens, K = groups; G = groupMatrix [B, K].
 */
import * as tf from '@tensorflow/tfjs-core';
import { maskedSum } from './masked';

/**
 * The implicit reward of the closed-form solution, summed over each completion's tokens:
 * R_θ(x, y_i) = β·Σ_t m_t·(log π_θ(y_i,t) − log π_θ'(y_i,t)).  logprobs, refLogprobs, mask [B, T] → [B].
 * Padding may hold junk (maskedSum selects, never multiplies).
 */
export function gvpoImplicitReward(logprobs: tf.Tensor2D, refLogprobs: tf.Tensor2D, mask: tf.Tensor2D, beta: number): tf.Tensor1D {
  return tf.tidy(() => tf.mul(beta, maskedSum(tf.sub(logprobs, refLogprobs), mask, -1)) as tf.Tensor1D);
}

/**
 * Central distance within each group: x_i − mean_{j ∈ g(i)} x_j.  x [B], G [B, K] (one 1 per row) → [B].
 * Elementwise sums only (no transposed matMul: differentiable on every backend).
 */
export function groupCentralDistance(x: tf.Tensor1D, G: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => {
    const countK = tf.sum(G, 0);                                                    // [K]
    const meanK = tf.div(tf.sum(tf.mul(G, tf.expandDims(x, 1)), 0), tf.maximum(countK, 1)); // [K]
    const meanB = tf.sum(tf.mul(G, tf.expandDims(meanK, 0)), 1);                   // [B]
    return tf.sub(x, meanB) as tf.Tensor1D;
  });
}

/**
 * The GVPO weights w_i = (R_i − R̄) − (R_θ,i − R̄_θ) (sum to zero within every group).
 * implicitReward, rewards [B], G [B, K] → [B].
 */
export function gvpoWeights(implicitReward: tf.Tensor1D, rewards: tf.Tensor1D, G: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => tf.sub(groupCentralDistance(rewards, G), groupCentralDistance(implicitReward, G)) as tf.Tensor1D);
}

/**
 * L_GVPO = Σ_i ½·w_i² / (n − 1), w_i = (R_i − R̄) − (R_θ,i − R̄_θ), summed over every sequence of the batch.
 * logprobs (π_θ, differentiable), refLogprobs (π_θ', the sampling policy), mask [B, T]; rewards [B]; G [B, K];
 * n = the group size (every group has n members; n ≥ 2). → { loss: scalar, implicitReward [B], weight [B] }.
 */
export function computePolicyLossGvpo(
  logprobs: tf.Tensor2D, refLogprobs: tf.Tensor2D, mask: tf.Tensor2D, rewards: tf.Tensor1D, G: tf.Tensor2D, beta: number, n: number,
): { loss: tf.Scalar; implicitReward: tf.Tensor1D; weight: tf.Tensor1D } {
  if (!(n >= 2)) throw new Error(`gvpo: the group size n must be ≥ 2 (the loss divides by n − 1), got ${n}`);
  return tf.tidy(() => {
    const implicitReward = gvpoImplicitReward(logprobs, refLogprobs, mask, beta); // [B]
    const weight = gvpoWeights(implicitReward, rewards, G);                       // [B]
    const loss = tf.div(tf.sum(tf.mul(0.5, tf.square(weight))), n - 1) as tf.Scalar;
    return { loss, implicitReward, weight };
  });
}
