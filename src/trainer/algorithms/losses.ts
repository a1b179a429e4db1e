/**
 * Policy and value losses. B = batch, T = response length; mask 1 = valid token (right padding, junk allowed there).
 * Every loss is computed inside tf.tidy; only the returned tensors survive.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import { maskSelect, maskedMean, maskedSum, stopGradient } from './masked';
import { CLIP_CODE } from '../../shared/runFormat';

export type LossAggMode = 'token-mean' | 'seq-mean-token-mean' | 'seq-mean-token-sum' | 'seq-mean-token-sum-norm';
export const LOSS_AGG_MODES: readonly LossAggMode[] = ['token-mean', 'seq-mean-token-mean', 'seq-mean-token-sum', 'seq-mean-token-sum-norm'];

/**
 * agg_loss, verl core_algos L1025–1081 with dp_size = 1 and no global batch info (docs/references.md#loss-aggregation):
 *   token-mean              Σ L·m / Σ m                                   (no eps; 0 when Σ m = 0)
 *   seq-mean-token-sum      Σ_{i: n_i>0} (Σ_t L·m) / #{i: n_i > 0}
 *   seq-mean-token-mean     Σ_{i: n_i>0} (Σ_t L·m / (n_i + 1e-8)) / #{i: n_i > 0}
 *   seq-mean-token-sum-norm Σ_i Σ_t L·m / loss_scale_factor              (default factor T = mask.shape[-1]; not ÷ B)
 * lossMat, mask: [B, T] → scalar.
 */
export function aggLoss(lossMat: tf.Tensor, mask: tf.Tensor, mode: LossAggMode, lossScaleFactor?: number): tf.Scalar {
  return tf.tidy(() => {
    const T = mask.shape[mask.rank - 1] as number;
    switch (mode) {
      case 'token-mean': {
        const n = tf.sum(mask);
        return tf.div(maskedSum(lossMat, mask), tf.maximum(n, 1e-30)) as tf.Scalar;
      }
      case 'seq-mean-token-sum':
      case 'seq-mean-token-mean': {
        const counts = tf.sum(mask, -1); // [B]
        let seq = maskedSum(lossMat, mask, -1); // [B]
        if (mode === 'seq-mean-token-mean') seq = tf.div(seq, tf.add(counts, 1e-8));
        const seqMask = tf.cast(tf.greater(counts, 0), 'float32');
        return tf.div(maskedSum(seq, seqMask), tf.maximum(tf.sum(seqMask), 1)) as tf.Scalar;
      }
      case 'seq-mean-token-sum-norm': {
        const f = lossScaleFactor ?? T;
        if (!(f > 0)) throw new Error(`lossScaleFactor must be > 0 (got ${f})`);
        return tf.div(maskedSum(lossMat, mask), f) as tf.Scalar;
      }
      default: throw new Error(`unknown loss aggregation "${String(mode)}": allowed ${LOSS_AGG_MODES.join(', ')}`);
    }
  });
}

export interface PolicyLossOptions {
  /** ε_low: ratio floor 1 − ε_low (verl clip_ratio_low, default 0.2) */
  clipLow: number;
  /** ε_high: ratio ceiling 1 + ε_high (verl clip_ratio_high; DAPO 0.28) */
  clipHigh: number;
  /** dual-clip constant c (> 1, verl clip_ratio_c = 3.0) for A < 0; undefined / null = no dual clip */
  dualClip?: number | null;
  agg: LossAggMode;
  lossScaleFactor?: number;
}

export interface PolicyLossResult {
  /** aggregated loss (scalar, differentiable) */
  loss: tf.Scalar;
  /** per-token loss [B, T] */
  lossMat: tf.Tensor2D;
  /** ratio ρ = exp(clamp(lp − old, −20, 20)) [B, T] */
  ratio: tf.Tensor2D;
  /** per token: CLIP_CODE none 0 / low 1 / high 2 / dual 3 [B, T] */
  clipCode: tf.Tensor2D;
  /** masked mean of (ρ < 1 − ε_low and A < 0) (TRL `clip_ratio/low_mean`) */
  clipFracLow: tf.Scalar;
  /** masked mean of (ρ > 1 + ε_high and A > 0) (TRL `clip_ratio/high_mean`) */
  clipFracHigh: tf.Scalar;
  /** masked mean of (dual bound active, A < 0) (verl `pg_clipfrac_lower`) */
  clipFracDual: tf.Scalar;
  /** verl `pg_clipfrac`: masked mean of (clipped branch > unclipped branch) */
  clipFrac: tf.Scalar;
  /** verl `ppo_kl`: masked mean of (old − lp) */
  ppoKl: tf.Scalar;
}

/**
 * PPO clipped surrogate with optional dual clip, verl `compute_policy_loss_vanilla` (core_algos L1160–1250):
 *   ρ = exp(clamp(lp − old, −20, 20));  L1 = −Aρ;  L2 = −A·clip(ρ, 1−ε_low, 1+ε_high);  Lc = max(L1, L2)
 *   dual clip (A < 0 only): L = min(Lc, −A·c);  then agg_loss(L, m, mode).
 * Clip fractions as TRL GRPO logs them (low: ρ < 1−ε_low with A < 0; high: ρ > 1+ε_high with A > 0), means use
 * verl's masked_mean (Σ m + 1e-8). logp, oldLogp, advantages, mask: [B, T].
 */
export function computePolicyLossVanilla(
  logp: tf.Tensor2D, oldLogp: tf.Tensor2D, advantages: tf.Tensor2D, mask: tf.Tensor2D, o: PolicyLossOptions,
): PolicyLossResult {
  if (o.dualClip != null && !(o.dualClip > 1)) throw new Error(`dualClip must be > 1 (verl asserts clip_ratio_c > 1.0), got ${o.dualClip}`);
  return tf.tidy(() => {
    const A = maskSelect(advantages, mask);
    const negApproxKl = tf.clipByValue(tf.sub(maskSelect(logp, mask), maskSelect(oldLogp, mask)), -20, 20);
    const ratio = tf.exp(negApproxKl);
    const l1 = tf.neg(tf.mul(A, ratio));
    const l2 = tf.neg(tf.mul(A, tf.clipByValue(ratio, 1 - o.clipLow, 1 + o.clipHigh)));
    const lc = tf.maximum(l1, l2);
    const neg = tf.less(A, 0);
    let lossMat: tf.Tensor = lc;
    let dual: tf.Tensor = tf.zerosLike(A);
    if (o.dualClip != null) {
      const l3 = tf.neg(tf.mul(A, o.dualClip));
      lossMat = tf.where(neg, tf.minimum(lc, l3), lc);
      dual = tf.cast(tf.logicalAnd(neg, tf.greater(lc, l3)), 'float32');
    }
    const rd = stopGradient(ratio);
    const low = tf.cast(tf.logicalAnd(tf.less(rd, 1 - o.clipLow), neg), 'float32');
    const high = tf.cast(tf.logicalAnd(tf.greater(rd, 1 + o.clipHigh), tf.greater(A, 0)), 'float32');
    const clipCode = maskSelect(tf.add(tf.add(tf.mul(low, CLIP_CODE.low), tf.mul(high, CLIP_CODE.high)),
      tf.mul(dual, CLIP_CODE.dual)), mask);
    // a token can be both "high" (ρ > 1+ε) and dual (A<0 is required for dual, A>0 for high): disjoint, so the sum is a code.
    const loss = aggLoss(lossMat, mask, o.agg, o.lossScaleFactor);
    return {
      loss,
      lossMat: maskSelect(lossMat, mask) as tf.Tensor2D,
      ratio: maskSelect(ratio, mask) as tf.Tensor2D,
      clipCode: clipCode as tf.Tensor2D,
      clipFracLow: maskedMean(low, mask) as tf.Scalar,
      clipFracHigh: maskedMean(high, mask) as tf.Scalar,
      clipFracDual: maskedMean(dual, mask) as tf.Scalar,
      clipFrac: maskedMean(tf.cast(tf.greater(l2, l1), 'float32'), mask) as tf.Scalar,
      ppoKl: maskedMean(tf.neg(negApproxKl), mask) as tf.Scalar,
    };
  });
}

/**
 * Vanilla policy gradient −A·log π (no ratio, no clip), the RAFT loss of MinRL `compute_policy_loss` with
 * policy_loss=vanilla (L473–535), aggregated with agg_loss. logp, advantages, mask: [B, T] → scalar.
 */
export function computePolicyLossReinforce(logp: tf.Tensor2D, advantages: tf.Tensor2D, mask: tf.Tensor2D, agg: LossAggMode, lossScaleFactor?: number): tf.Scalar {
  return tf.tidy(() => aggLoss(tf.neg(tf.mul(maskSelect(advantages, mask), maskSelect(logp, mask))), mask, agg, lossScaleFactor));
}

export interface ValueLossResult { loss: tf.Scalar; clipFrac: tf.Scalar; lossMat: tf.Tensor2D }

/**
 * Clipped value loss, verl `compute_value_loss` (core_algos L1799–1838):
 *   v_c = clip(v, V_old − c, V_old + c);  L = 0.5·agg(max((v − R)², (v_c − R)²));  clipfrac = mean((v_c−R)² > (v−R)²).
 * values (new predictions), oldValues, returns, mask: [B, T].
 */
export function computeValueLoss(
  values: tf.Tensor2D, oldValues: tf.Tensor2D, returns: tf.Tensor2D, mask: tf.Tensor2D, clip: number, agg: LossAggMode, lossScaleFactor?: number,
): ValueLossResult {
  return tf.tidy(() => {
    const v = maskSelect(values, mask);
    const vo = maskSelect(oldValues, mask);
    const R = maskSelect(returns, mask);
    // clip_by_value(v, vo − c, vo + c) = min(max(v, vo − c), vo + c)
    const vClipped = tf.minimum(tf.maximum(v, tf.sub(vo, clip)), tf.add(vo, clip));
    const l1 = tf.square(tf.sub(v, R));
    const l2 = tf.square(tf.sub(vClipped, R));
    const lossMat = tf.maximum(l1, l2);
    return {
      loss: tf.mul(0.5, aggLoss(lossMat, mask, agg, lossScaleFactor)) as tf.Scalar,
      clipFrac: maskedMean(tf.cast(tf.greater(l2, l1), 'float32'), mask) as tf.Scalar,
      lossMat: maskSelect(lossMat, mask) as tf.Tensor2D,
    };
  });
}

export interface SeqRatioLossResult { loss: tf.Scalar; ratio: tf.Tensor2D; clipCode: tf.Tensor2D; clipFracLow: tf.Scalar; clipFracHigh: tf.Scalar; lossMat: tf.Tensor2D }

/**
 * GSPO, verl `compute_policy_loss_gspo` (core_algos L1254–1326):
 *   log s_i = Σ_t (lp − old)·m / clamp(n_i, 1)
 *   log s_it = lp − sg(lp) + sg(log s_i), clamped at max 10  → forward value s_i, gradient per token (s_i·∇lp_t)
 *   L = max(−A·s, −A·clip(s, 1−ε_low, 1+ε_high)), aggregated with seq-mean-token-mean (forced), no dual clip.
 * logp, oldLogp, advantages, mask: [B, T].
 */
export function computePolicyLossGspo(
  logp: tf.Tensor2D, oldLogp: tf.Tensor2D, advantages: tf.Tensor2D, mask: tf.Tensor2D, clipLow: number, clipHigh: number,
): SeqRatioLossResult {
  return tf.tidy(() => {
    const lp = maskSelect(logp, mask);
    const A = maskSelect(advantages, mask);
    const delta = tf.sub(lp, maskSelect(oldLogp, mask));
    const n = tf.maximum(tf.sum(mask, -1), 1); // [B]
    const logSeq = tf.div(maskedSum(delta, mask, -1), n); // [B]
    const logSeqTok = tf.minimum(tf.add(tf.sub(lp, stopGradient(lp)), tf.expandDims(stopGradient(logSeq), 1)), 10);
    const s = tf.exp(logSeqTok);
    const l1 = tf.neg(tf.mul(A, s));
    const l2 = tf.neg(tf.mul(A, tf.clipByValue(s, 1 - clipLow, 1 + clipHigh)));
    const lossMat = tf.maximum(l1, l2);
    const sd = stopGradient(s);
    const low = tf.cast(tf.logicalAnd(tf.less(sd, 1 - clipLow), tf.less(A, 0)), 'float32');
    const high = tf.cast(tf.logicalAnd(tf.greater(sd, 1 + clipHigh), tf.greater(A, 0)), 'float32');
    return {
      loss: aggLoss(lossMat, mask, 'seq-mean-token-mean'),
      ratio: maskSelect(s, mask) as tf.Tensor2D,
      clipCode: maskSelect(tf.add(tf.mul(low, CLIP_CODE.low), tf.mul(high, CLIP_CODE.high)), mask) as tf.Tensor2D,
      clipFracLow: maskedMean(low, mask) as tf.Scalar,
      clipFracHigh: maskedMean(high, mask) as tf.Scalar,
      lossMat: maskSelect(lossMat, mask) as tf.Tensor2D,
    };
  });
}

/**
 * GMPO (geometric-mean policy optimisation), verl `compute_policy_loss_geo_mean` (core_algos L1636–1718):
 *   Δ = lp − old;  sgn = sign(A);  Δ' = sgn·min(sgn·Δ, sgn·clamp(Δ, −ε_low, ε_high))   (sign-aware token clip in log space)
 *   ratio_i = exp(Σ_t Δ'·m / (n_i + 1e-8));  Ā_i = Σ_t A·m / (n_i + 1e-8);  loss = mean_i(−Ā_i·ratio_i)
 * loss_agg_mode is ignored (as in verl). A token counts as clipped when Δ' ≠ Δ (low: Δ < −ε_low, high: Δ > ε_high).
 * logp, oldLogp, advantages, mask: [B, T].
 */
export function computePolicyLossGeoMean(
  logp: tf.Tensor2D, oldLogp: tf.Tensor2D, advantages: tf.Tensor2D, mask: tf.Tensor2D, clipLow: number, clipHigh: number,
): SeqRatioLossResult {
  return tf.tidy(() => {
    const A = maskSelect(advantages, mask);
    const delta = tf.sub(maskSelect(logp, mask), maskSelect(oldLogp, mask));
    // sign(A) without the Sign kernel (not on every backend): 1 / 0 / −1
    const sgn = tf.sub(tf.cast(tf.greater(A, 0), 'float32'), tf.cast(tf.less(A, 0), 'float32'));
    const dClamp = tf.clipByValue(delta, -clipLow, clipHigh);
    const dMin = tf.mul(sgn, tf.minimum(tf.mul(sgn, delta), tf.mul(sgn, dClamp)));
    const n = tf.sum(mask, -1);
    const ratioSeq = tf.exp(tf.div(maskedSum(dMin, mask, -1), tf.add(n, 1e-8))); // [B]
    const advSeq = tf.div(maskedSum(A, mask, -1), tf.add(n, 1e-8)); // [B]
    const loss = tf.mean(tf.neg(tf.mul(advSeq, ratioSeq))) as tf.Scalar;
    const dd = stopGradient(delta);
    const clipped = tf.notEqual(stopGradient(dMin), dd);
    const low = tf.cast(tf.logicalAnd(clipped, tf.less(dd, -clipLow)), 'float32');
    const high = tf.cast(tf.logicalAnd(clipped, tf.greater(dd, clipHigh)), 'float32');
    const ratioTok = tf.mul(tf.expandDims(ratioSeq, 1), tf.onesLike(A));
    return {
      loss,
      ratio: maskSelect(ratioTok, mask) as tf.Tensor2D,
      clipCode: maskSelect(tf.add(tf.mul(low, CLIP_CODE.low), tf.mul(high, CLIP_CODE.high)), mask) as tf.Tensor2D,
      clipFracLow: maskedMean(low, mask) as tf.Scalar,
      clipFracHigh: maskedMean(high, mask) as tf.Scalar,
      lossMat: maskSelect(tf.neg(tf.mul(tf.expandDims(advSeq, 1), ratioTok)), mask) as tf.Tensor2D,
    };
  });
}
