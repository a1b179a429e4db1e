/**
 * Reward shaping: per-token rewards for PPO, DAPO's soft overlong punishment, a length penalty.
 */
import * as tf from '@tensorflow/tfjs-core';
import { maskSelect } from './masked';
import { klPenalty, type KlName } from './kl';

/**
 * DAPO soft overlong punishment in TRL's form, `get_soft_overlong_punishment(max_completion_len, soft_punish_cache)`
 * (trl/rewards/other_rewards.py L83–140), which is DAPO paper Eq. 13:
 *   0                               if |y| ≤ L_max − L_cache
 *   ((L_max − L_cache) − |y|)/L_cache if L_max − L_cache < |y| ≤ L_max
 *   −1                              if |y| > L_max
 * (verl's reward manager has no −1 floor and multiplies by a factor; OpenRLHF caps at −factor.)
 */
export function softOverlongPunishment(length: number, maxLength: number, cacheLength: number): number {
  if (!(cacheLength > 0)) throw new Error(`overlong cacheLength (L_cache) must be > 0, got ${cacheLength}`);
  if (!(maxLength >= cacheLength)) throw new Error(`overlong maxLength (L_max) must be ≥ cacheLength, got L_max=${maxLength}, L_cache=${cacheLength}`);
  const expected = maxLength - cacheLength;
  if (length <= expected) return 0;
  if (length <= maxLength) return (expected - length) / cacheLength;
  return -1;
}

/**
 * Length penalty (the survey's GRPO practice; linear, our own knob): −coef · max(0, |y| − target) / target.
 * coef 0 disables it.
 */
export function lengthPenalty(length: number, coef: number, target: number): number {
  if (!coef) return 0;
  return -coef * Math.max(0, length - target) / Math.max(1, target);
}

/**
 * Per-token reward for PPO, verl `apply_kl_penalty` (trainer/ppo/ray_trainer.py L70–109) with the score placed at the
 * last valid token (verl reward manager naive.py L100):
 *   r_t = score·[t = n_i − 1] − β·kl_penalty(old, ref)_t·m_t
 * scores: [B]; oldLogp, refLogp, mask: [B, T] → { tokenRewards [B, T], kl [B, T] }.
 */
export function applyKlPenalty(
  scores: tf.Tensor1D, oldLogp: tf.Tensor2D, refLogp: tf.Tensor2D, mask: tf.Tensor2D, beta: number, kind: KlName | string,
): { tokenRewards: tf.Tensor2D; kl: tf.Tensor2D } {
  return tf.tidy(() => {
    const kl = maskSelect(klPenalty(oldLogp, refLogp, kind), mask) as tf.Tensor2D;
    const scoreTok = placeAtLastToken(scores, mask);
    return { tokenRewards: tf.sub(scoreTok, tf.mul(beta, kl)) as tf.Tensor2D, kl };
  });
}

/** Put a sequence score at the last valid (mask = 1) token of each row. scores [B], mask [B, T] → [B, T]. */
export function placeAtLastToken(scores: tf.Tensor1D, mask: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const [B, T] = mask.shape;
    const m = mask.arraySync();
    const last = new Float32Array(B * T);
    for (let b = 0; b < B; b++) {
      let l = -1;
      for (let t = 0; t < T; t++) if (m[b][t] > 0) l = t;
      if (l >= 0) last[b * T + l] = 1;
    }
    return tf.mul(tf.tensor2d(last, [B, T]), tf.expandDims(scores, 1)) as tf.Tensor2D;
  });
}
