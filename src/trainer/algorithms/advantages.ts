/**
 * Advantage estimators. Shapes: B = batch (completions), T = response length (right padded), K = number of groups.
 * Every function says which reference it follows (docs/references.md gives file + line).
 */
import * as tf from '@tensorflow/tfjs-core';
import { maskSelect, maskedWhiten } from './masked';

export type OutcomeEstimator = 'grpo' | 'dr_grpo' | 'rloo' | 'reinforce_rej' | 'raft';
export const OUTCOME_ESTIMATORS: readonly OutcomeEstimator[] = ['grpo', 'dr_grpo', 'rloo', 'reinforce_rej', 'raft'];

/** verl's default std epsilon in compute_grpo_outcome_advantage. */
export const GRPO_STD_EPS = 1e-6;

/**
 * Generalized Advantage Estimation, verl `compute_gae_advantage_return` (core_algos L215–263), reverse loop:
 *   δ_t = r_t + γ·nextV − V_t;  A_t = δ_t + γλ·A_{t+1}
 * On masked positions (m_t = 0) nextV and A_next carry through unchanged (verl: "skip values and TD-error on
 * observation tokens"); returns = A + V. verl then whitens A; here `whiten` (default false) does it, so the raw
 * advantages stay available for the traces and the credit drill-down.
 * tokenRewards, values, mask: [B, T] → advantages [B, T], returns [B, T] (both 0 on padded positions).
 */
export function computeGaeAdvantageReturn(
  tokenRewards: tf.Tensor2D, values: tf.Tensor2D, mask: tf.Tensor2D, gamma: number, lam: number, whiten = false,
): { advantages: tf.Tensor2D; returns: tf.Tensor2D } {
  return tf.tidy(() => {
    const T = tokenRewards.shape[1];
    const r = tf.unstack(maskSelect(tokenRewards, mask), 1); // T × [B]
    const v = tf.unstack(maskSelect(values, mask), 1);
    const m = tf.unstack(tf.cast(tf.greater(mask, 0), 'bool'), 1);
    const B = tokenRewards.shape[0];
    let nextValues: tf.Tensor = tf.zeros([B]);
    let lastGaeLam: tf.Tensor = tf.zeros([B]);
    const advRev: tf.Tensor[] = [];
    for (let t = T - 1; t >= 0; t--) {
      const delta = tf.sub(tf.add(r[t], tf.mul(gamma, nextValues)), v[t]);
      const lastGaeLamNew = tf.add(delta, tf.mul(gamma * lam, lastGaeLam));
      nextValues = tf.where(m[t], v[t], nextValues);
      lastGaeLam = tf.where(m[t], lastGaeLamNew, lastGaeLam);
      advRev.push(lastGaeLam);
    }
    const advRaw = tf.stack(advRev.reverse(), 1) as tf.Tensor2D;
    const returns = maskSelect(tf.add(advRaw, values), mask) as tf.Tensor2D;
    const adv = maskSelect(advRaw, mask) as tf.Tensor2D;
    return { advantages: (whiten ? maskedWhiten(adv, mask) : adv) as tf.Tensor2D, returns };
  });
}

/**
 * Discounted return with reset after EOS, verl `compute_reinforce_plus_plus_outcome_advantage` (core_algos L583–618):
 *   G_t = r_t + γ·G_{t+1}, running return reset to 0 after each masked position (so padding never leaks in),
 * then A = masked_whiten(G, m)·m — global whitening over every valid token of the batch (unbiased var, rsqrt(var+1e-8)).
 * tokenRewards, mask: [B, T] → advantages [B, T], returns [B, T].
 */
export function computeReinforcePlusPlusOutcomeAdvantage(
  tokenRewards: tf.Tensor2D, mask: tf.Tensor2D, gamma: number,
): { advantages: tf.Tensor2D; returns: tf.Tensor2D } {
  return tf.tidy(() => {
    const T = tokenRewards.shape[1];
    const B = tokenRewards.shape[0];
    const r = tf.unstack(maskSelect(tokenRewards, mask), 1);
    const m = tf.unstack(tf.cast(tf.greater(mask, 0), 'bool'), 1);
    let running: tf.Tensor = tf.zeros([B]);
    const rev: tf.Tensor[] = [];
    for (let t = T - 1; t >= 0; t--) {
      running = tf.add(r[t], tf.mul(gamma, running));
      rev.push(running);
      running = tf.where(m[t], running, tf.zerosLike(running)); // reset after EOS
    }
    const returns = maskSelect(tf.stack(rev.reverse(), 1), mask) as tf.Tensor2D;
    return { advantages: maskedWhiten(returns, mask) as tf.Tensor2D, returns };
  });
}

/** Group membership: ids (any strings / numbers) → dense indices in order of first appearance. */
export function groupIndex(groupIds: readonly (string | number)[]): { index: number[]; keys: (string | number)[]; sizes: number[] } {
  const map = new Map<string, number>();
  const keys: (string | number)[] = [];
  const sizes: number[] = [];
  const index = groupIds.map((g) => {
    const k = `${typeof g}:${String(g)}`;
    let i = map.get(k);
    if (i === undefined) { i = keys.length; map.set(k, i); keys.push(g); sizes.push(0); }
    sizes[i]++;
    return i;
  });
  return { index, keys, sizes };
}

/** One-hot membership matrix G[b, k] = 1 iff sample b is in group k, built on the JS side. → [B, K] float32. */
export function groupMatrix(index: readonly number[], K: number): tf.Tensor2D {
  const data = new Float32Array(index.length * K);
  index.forEach((k, b) => { data[b * K + k] = 1; });
  return tf.tensor2d(data, [index.length, K]);
}

export interface GroupStats {
  /** per sample: its group's mean (0 for a group of one, as verl) [B] */
  mean: tf.Tensor1D;
  /** per sample: its group's unbiased std (1 for a group of one, as verl) [B] */
  std: tf.Tensor1D;
  /** per sample: size of its group [B] */
  count: tf.Tensor1D;
  /** per sample: 1 if every reward in its group is equal (max == min), else 0 [B] */
  allEqual: tf.Tensor1D;
}

/**
 * Group statistics as verl's outcome estimators compute them: mean = torch.mean, std = torch.std (unbiased, N−1);
 * a group of size 1 gets mean 0 and std 1. scores: [B], G: [B, K] → GroupStats (all [B]).
 */
export function groupStatistics(scores: tf.Tensor1D, G: tf.Tensor2D): GroupStats {
  return tf.tidy(() => {
    const s = tf.expandDims(scores, 1); // [B, 1]
    const perSample = (k: tf.Tensor) => tf.sum(tf.mul(G, tf.expandDims(k, 0)), 1) as tf.Tensor1D;
    const countK = tf.sum(G, 0); // [K]
    const big = 3.4e38;
    const isMember = tf.greater(G, 0);
    const maxK = tf.max(tf.where(isMember, tf.mul(tf.onesLike(G), s), tf.fill(G.shape, -big)), 0);
    const minK = tf.min(tf.where(isMember, tf.mul(tf.onesLike(G), s), tf.fill(G.shape, big)), 0);
    const eqK = tf.cast(tf.lessEqual(tf.sub(maxK, minK), 0), 'float32');
    // mean = min_g + Σ(r − min_g)/n: the shift by a member of the group keeps float32 rounding out of
    // all-equal groups (a plain Σr/n of eight 0.7s is off by 6e-8, which /(0 + 1e-6) turned into A = 0.056).
    const minB = perSample(tf.where(tf.lessEqual(countK, 0), tf.zerosLike(minK), minK));
    const sumK = tf.sum(tf.mul(G, tf.expandDims(tf.sub(scores, minB), 1)), 0); // [K]
    const meanK = tf.add(tf.where(tf.lessEqual(countK, 0), tf.zerosLike(minK), minK), tf.div(sumK, tf.maximum(countK, 1)));
    const meanB = perSample(meanK); // [B]
    const sq = tf.expandDims(tf.square(tf.sub(scores, meanB)), 1);
    const varK = tf.div(tf.sum(tf.mul(G, sq), 0), tf.maximum(tf.sub(countK, 1), 1));
    const stdK = tf.sqrt(varK);
    const single = tf.lessEqual(countK, 1);
    const meanKv = tf.where(single, tf.zerosLike(meanK), meanK);
    const stdKv = tf.where(single, tf.onesLike(stdK), stdK);
    return { mean: perSample(meanKv), std: perSample(stdKv), count: perSample(countK), allEqual: perSample(eqK) };
  });
}

/**
 * GRPO outcome advantage, verl `compute_grpo_outcome_advantage` (core_algos L267–330):
 *   A_i = (r_i − mean_g) / (std_g + ε), ε = 1e-6, unbiased std; a group of one → mean 0, std 1.
 * `normByStd = false` is Dr.GRPO (verl `norm_adv_by_std_in_grpo=False`): A_i = r_i − mean_g.
 * scores: [B], G: [B, K] → [B].
 */
export function computeGrpoOutcomeAdvantage(scores: tf.Tensor1D, G: tf.Tensor2D, eps = GRPO_STD_EPS, normByStd = true): tf.Tensor1D {
  return tf.tidy(() => {
    const st = groupStatistics(scores, G);
    const centered = tf.sub(scores, st.mean);
    return (normByStd ? tf.div(centered, tf.add(st.std, eps)) : centered) as tf.Tensor1D;
  });
}

/**
 * RLOO (leave-one-out baseline), verl `compute_rloo_outcome_advantage` (core_algos L477–525):
 *   n > 1: A_i = r_i·n/(n−1) − mean_g·n/(n−1)  (= r_i − mean of the other n−1);  n = 1: A_i = r_i.
 * scores: [B], G: [B, K] → [B].
 */
export function computeRlooOutcomeAdvantage(scores: tf.Tensor1D, G: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => {
    const st = groupStatistics(scores, G);
    const n = st.count;
    const f = tf.div(n, tf.maximum(tf.sub(n, 1), 1));
    const loo = tf.sub(tf.mul(scores, f), tf.mul(st.mean, f));
    return tf.where(tf.greater(n, 1), loo, scores) as tf.Tensor1D;
  });
}

/**
 * Reinforce-Rej, MinRL (RLHFlow/Minimal-RL) `compute_reinforce_rej_outcome_advantage` (core_algos L130–170):
 *   A_i = r_i if the group's reward std > 0 (a group of one has std 1), else 0 — prompts whose answers are all
 *   right or all wrong are rejected. "std > 0" is tested as max ≠ min (exact in float32). scores: [B], G → [B].
 */
export function computeReinforceRejOutcomeAdvantage(scores: tf.Tensor1D, G: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => {
    const st = groupStatistics(scores, G);
    const keep = tf.logicalOr(tf.lessEqual(st.count, 1), tf.equal(st.allEqual, 0));
    return tf.where(keep, scores, tf.zerosLike(scores)) as tf.Tensor1D;
  });
}

/**
 * RAFT, MinRL `compute_raft_outcome_advantage` as summarised in docs/references.md#raft (L105–128): A_i = r_i with
 * negative scores set to 0, so only positively rewarded samples are trained (rejection sampling + SFT on them).
 * scores: [B] → [B].
 */
export function computeRaftOutcomeAdvantage(scores: tf.Tensor1D): tf.Tensor1D {
  return tf.tidy(() => tf.maximum(scores, 0) as tf.Tensor1D);
}

/** Outcome advantage by name (façade and trainer). scores [B], G [B, K] → [B]. */
export function computeOutcomeAdvantage(estimator: OutcomeEstimator, scores: tf.Tensor1D, G: tf.Tensor2D, eps = GRPO_STD_EPS): tf.Tensor1D {
  switch (estimator) {
    case 'grpo': return computeGrpoOutcomeAdvantage(scores, G, eps, true);
    case 'dr_grpo': return computeGrpoOutcomeAdvantage(scores, G, eps, false);
    case 'rloo': return computeRlooOutcomeAdvantage(scores, G);
    case 'reinforce_rej': return computeReinforceRejOutcomeAdvantage(scores, G);
    case 'raft': return computeRaftOutcomeAdvantage(scores);
    default: throw new Error(`unknown outcome estimator "${String(estimator)}": allowed ${OUTCOME_ESTIMATORS.join(', ')}`);
  }
}

/**
 * The baseline b_i each outcome estimator subtracts from sample i's score, from the same group statistics
 * (groupStatistics) the estimator uses, so that A_i = (s_i − b_i) / scale_i:
 *   grpo, dr_grpo: b_i = mean_g (0 for a group of one, as verl);
 *   rloo:          b_i = (n·mean_g − s_i)/(n − 1), the mean of the other n − 1 scores (0 for a group of one);
 *   reinforce_rej, raft: no baseline (undefined).
 * scores: [B], G: [B, K] → [B] or undefined.
 */
export function computeOutcomeBaseline(estimator: OutcomeEstimator, scores: tf.Tensor1D, G: tf.Tensor2D): tf.Tensor1D | undefined {
  if (estimator !== 'grpo' && estimator !== 'dr_grpo' && estimator !== 'rloo') return undefined;
  return tf.tidy(() => {
    const st = groupStatistics(scores, G);
    if (estimator !== 'rloo') return tf.clone(st.mean);
    const n = st.count;
    const loo = tf.div(tf.sub(tf.mul(n, st.mean), scores), tf.maximum(tf.sub(n, 1), 1));
    return tf.where(tf.greater(n, 1), loo, tf.zerosLike(scores)) as tf.Tensor1D;
  });
}

/** Sequence-level value broadcast to its valid tokens (verl: `scores.unsqueeze(-1) * response_mask`). [B], [B,T] → [B,T]. */
export function broadcastToTokens(x: tf.Tensor1D, mask: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => maskSelect(tf.mul(tf.expandDims(x, 1), tf.onesLike(mask)), mask) as tf.Tensor2D);
}
