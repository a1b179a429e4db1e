/**
 * Masked statistics over right-padded B×T token tensors.
 *
 * Reference: verl `verl/utils/torch_functional.py` (masked_sum / masked_mean / masked_var / masked_whiten, L287–339 at
 * volcengine/verl@b178a3cd, see docs/references.md#masked-statistics).
 *   masked_mean(x, m)   = Σ x·m / (Σ m + 1e-8)
 *   masked_var(x, m)    = masked_mean((x − mean)², m) · N/(N − 1)          (unbiased, N = Σ m)
 *   masked_whiten(x, m) = (x − mean) · rsqrt(var + 1e-8)
 *
 * Padding may hold any junk (NaN, ±Inf, huge numbers): every masked sum selects with `where(m > 0, x, 0)` instead of
 * multiplying by the mask (verl's newer `masked_sum` does the same), so junk never reaches a valid position.
 * Mask: 1 = valid token, 0 = padding (float32 tensor of the same shape as x).
 */
import * as tf from '@tensorflow/tfjs-core';

/** verl's epsilon in masked_mean's denominator and in masked_whiten's rsqrt. */
export const MASKED_EPS = 1e-8;

/** `where(m > 0, x, 0)`: x with every padded position replaced by an exact 0 (junk-safe). Shape of x. */
export function maskSelect(x: tf.Tensor, mask: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.where(tf.greater(mask, 0), x, tf.zerosLike(x)));
}

/** masked_sum: Σ x·m over `axis` (all axes when undefined). x, mask: [B, T] → scalar or reduced shape. */
export function maskedSum(x: tf.Tensor, mask: tf.Tensor, axis?: number): tf.Tensor {
  return tf.tidy(() => tf.sum(maskSelect(x, mask), axis));
}

/** masked_mean (verl): Σ x·m / (Σ m + 1e-8). x, mask: [B, T] → scalar (axis undefined) or [B] (axis −1). */
export function maskedMean(x: tf.Tensor, mask: tf.Tensor, axis?: number): tf.Tensor {
  return tf.tidy(() => tf.div(maskedSum(x, mask, axis), tf.add(tf.sum(mask, axis), MASKED_EPS)));
}

/**
 * masked_var (verl), unbiased by default: masked_mean((x − masked_mean(x))², m) · N/(N−1), N = Σ m, over the whole
 * tensor. verl raises when N ≤ 1; tensor code cannot raise, so the Bessel factor is taken as 1 when N ≤ 1
 * (the façade checks and raises like verl). x, mask: [B, T] → scalar.
 */
export function maskedVar(x: tf.Tensor, mask: tf.Tensor, unbiased = true): tf.Tensor {
  return tf.tidy(() => {
    const mean = maskedMean(x, mask);
    const centered = tf.sub(x, mean);
    let variance = maskedMean(tf.square(centered), mask);
    if (unbiased) {
      const n = tf.sum(mask);
      const bessel = tf.where(tf.greater(n, 1), tf.div(n, tf.maximum(tf.sub(n, 1), 1)), tf.onesLike(n));
      variance = tf.mul(variance, bessel);
    }
    return variance;
  });
}

/**
 * masked_whiten (verl): (x − mean)·rsqrt(var + 1e-8), statistics over every valid token of the batch (global).
 * `shiftMean = false` adds the mean back (verl's shift_mean flag). Padded positions of the result are set to 0
 * (verl leaves them as whatever the formula gives; callers multiply by the mask). x, mask: [B, T] → [B, T].
 */
export function maskedWhiten(x: tf.Tensor, mask: tf.Tensor, shiftMean = true): tf.Tensor {
  return tf.tidy(() => {
    const xs = maskSelect(x, mask);
    const mean = maskedMean(xs, mask);
    const variance = maskedVar(xs, mask, true);
    let w = tf.mul(tf.sub(xs, mean), tf.rsqrt(tf.add(variance, MASKED_EPS)));
    if (!shiftMean) w = tf.add(w, mean);
    return maskSelect(w, mask);
  });
}

/** Number of valid tokens per row. mask: [B, T] → [B]. */
export function sequenceLengths(mask: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.sum(tf.cast(tf.greater(mask, 0), 'float32'), -1));
}

/**
 * Stop-gradient: forward = x, gradient = 0 (PyTorch `.detach()`). tfjs-core has no stopGradient op, so it is a
 * custom gradient. x: any shape → same shape.
 */
export const stopGradient: (x: tf.Tensor) => tf.Tensor = tf.customGrad(((x: tf.Tensor) => ({
  value: tf.clone(x),
  gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy),
})) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (x: tf.Tensor) => tf.Tensor;
