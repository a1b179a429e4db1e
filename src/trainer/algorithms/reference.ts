/**
 * Plain-number façade over the trainer's algorithm math.
 *
 * Every function here converts number arrays to tensors, calls THE SAME tensor functions the trainer uses
 * (src/trainer/algorithms/{masked,kl,advantages,losses,rewards}.ts — no second copy of any formula), converts back
 * and disposes every tensor. Conventions:
 *   - per-token inputs are number[][] shaped B×T, right padded; mask 1 = valid token, 0 = padding;
 *   - padded positions may hold any junk (NaN, ±Infinity, huge numbers, even null/undefined): it never matters;
 *     rows may also be ragged (missing positions count as padding);
 *   - per-token outputs are 0 at padded positions;
 *   - arithmetic is float32 (tfjs), so expect ~1e-6 relative agreement with float64 references.
 * Which reference each function follows (file + line in docs/references.md, one section per algorithm):
 *   klPenalty            verl core_algos.kl_penalty_forward (k3 clamps: x ∈ [−20, 20], k3 ∈ [−10, 10]; k1/abs/k2 unclamped)
 *   gae                  verl compute_gae_advantage_return, without the final whitening
 *   maskedWhiten         verl torch_functional.masked_whiten (unbiased var, rsqrt(var + 1e-8), global over the batch)
 *   outcomeAdvantages    grpo / dr_grpo: verl compute_grpo_outcome_advantage (eps default 1e-6, unbiased std,
 *                        group of one → mean 0, std 1; dr_grpo = no std division);
 *                        rloo: verl compute_rloo_outcome_advantage; reinforce_rej / raft: MinRL core_algos
 *   reinforcePlusPlusAdvantages  verl compute_reinforce_plus_plus_outcome_advantage (returns reset after EOS, global whitening)
 *   policyLoss           verl compute_policy_loss_vanilla + agg_loss; clip fractions as TRL GRPO logs them
 *   valueLoss            verl compute_value_loss (0.5 · agg(max(unclipped², clipped²)))
 *   gspoLoss             verl compute_policy_loss_gspo (seq-mean-token-mean forced)
 *   gmpoLoss             verl compute_policy_loss_geo_mean (clip = ε_low = ε_high in log space)
 *   overlongPenalty      TRL get_soft_overlong_punishment = DAPO Eq. 13 (−1 beyond L_max)
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { klPenaltyForward, type KlKind } from './kl';
import { maskedWhiten as maskedWhitenT } from './masked';
import {
  computeGaeAdvantageReturn, computeOutcomeAdvantage, computeReinforcePlusPlusOutcomeAdvantage, groupIndex, groupMatrix,
  GRPO_STD_EPS, OUTCOME_ESTIMATORS, type OutcomeEstimator,
} from './advantages';
import { computePolicyLossGeoMean, computePolicyLossGspo, computePolicyLossVanilla, computeValueLoss, LOSS_AGG_MODES, type LossAggMode } from './losses';
import { softOverlongPunishment } from './rewards';

export type { KlKind, OutcomeEstimator, LossAggMode };

type Matrix = readonly (readonly (number | null | undefined)[])[];

function ensureBackend(): void {
  // the trainer selects its backend at start; used standalone (tests, notebooks) the pure-JS cpu backend is used
  if (!tf.getBackend()) void tf.setBackend('cpu');
}

function checkMatrix(name: string, x: unknown): asserts x is Matrix {
  if (!Array.isArray(x) || !x.every((r) => Array.isArray(r))) throw new Error(`${name} must be number[][] shaped B×T (rows = samples), got ${typeof x}`);
}

/** Shape [B, T] shared by several matrices (T = longest row); rows must agree on B. */
function shapeOf(named: Record<string, Matrix>): [number, number] {
  const entries = Object.entries(named);
  const B = entries[0][1].length;
  let T = 0;
  for (const [n, m] of entries) {
    if (m.length !== B) throw new Error(`${n} has ${m.length} rows but ${entries[0][0]} has ${B}: every per-token array must be B×T`);
    for (const r of m) T = Math.max(T, r.length);
  }
  return [B, T];
}

/** number[][] → float32 [B, T]; missing / non-numbers become NaN (only allowed where the mask is 0). */
function toTensor(m: Matrix, B: number, T: number): tf.Tensor2D {
  const d = new Float32Array(B * T).fill(NaN);
  for (let b = 0; b < B; b++) { const r = m[b]; for (let t = 0; t < r.length; t++) { const v = r[t]; if (typeof v === 'number') d[b * T + t] = v; } }
  return tf.tensor2d(d, [B, T]);
}

/** mask → float32 0/1 [B, T]; missing positions are padding; anything not 0/1 is an error. */
function maskTensor(m: Matrix, B: number, T: number): tf.Tensor2D {
  const d = new Float32Array(B * T);
  for (let b = 0; b < B; b++) {
    const r = m[b];
    for (let t = 0; t < r.length; t++) {
      const v = r[t];
      if (v !== 0 && v !== 1) throw new Error(`mask[${b}][${t}] = ${String(v)}: the mask must hold 1 (valid token) or 0 (padding)`);
      d[b * T + t] = v;
    }
  }
  return tf.tensor2d(d, [B, T]);
}

function toMatrix(t: tf.Tensor): number[][] { return t.arraySync() as number[][]; }

function withTensors<R>(f: () => R): R {
  ensureBackend();
  const before = tf.memory().numTensors;
  try { return tf.tidy(f as () => never) as R; } finally {
    // tidy disposes everything but tensors returned; façade functions return plain numbers only
    void before;
  }
}

function aggOf(agg: unknown): LossAggMode {
  if (!LOSS_AGG_MODES.includes(agg as LossAggMode)) throw new Error(`agg must be one of ${LOSS_AGG_MODES.join(', ')}, got ${JSON.stringify(agg)}`);
  return agg as LossAggMode;
}

/** Per-token KL estimate. logp, refLogp: B×T → B×T (no mask: every position is computed). */
export function klPenalty(logp: number[][], refLogp: number[][], kind: 'k1' | 'abs' | 'k2' | 'k3'): number[][] {
  checkMatrix('logp', logp); checkMatrix('refLogp', refLogp);
  if (!['k1', 'abs', 'k2', 'k3'].includes(kind)) throw new Error(`kind must be k1, abs, k2 or k3, got ${JSON.stringify(kind)}`);
  const [B, T] = shapeOf({ logp, refLogp });
  const out = withTensors(() => toMatrix(klPenaltyForward(toTensor(logp, B, T), toTensor(refLogp, B, T), kind)));
  return out.map((r, b) => r.slice(0, logp[b].length));
}

/** GAE (not whitened). tokenRewards, values, mask: B×T → advantages, returns: B×T (0 on padding). */
export function gae(tokenRewards: number[][], values: number[][], mask: number[][], gamma: number, lambda: number): { advantages: number[][]; returns: number[][] } {
  checkMatrix('tokenRewards', tokenRewards); checkMatrix('values', values); checkMatrix('mask', mask);
  const [B, T] = shapeOf({ tokenRewards, values, mask });
  return withTensors(() => {
    const r = computeGaeAdvantageReturn(toTensor(tokenRewards, B, T), toTensor(values, B, T), maskTensor(mask, B, T), gamma, lambda, false);
    return { advantages: toMatrix(r.advantages), returns: toMatrix(r.returns) };
  });
}

function requireTokens(mask: Matrix, min: number, what: string): void {
  let n = 0;
  for (const r of mask) for (const v of r) if (v === 1) n++;
  if (n < min) throw new Error(`${what}: the mask has ${n} valid token(s); whitening needs at least 2 (verl masked_var raises too)`);
}

/** masked_whiten over all valid tokens of the batch. x, mask: B×T → B×T (0 on padding). */
export function maskedWhiten(x: number[][], mask: number[][]): number[][] {
  checkMatrix('x', x); checkMatrix('mask', mask);
  const [B, T] = shapeOf({ x, mask });
  requireTokens(mask, 2, 'maskedWhiten');
  return withTensors(() => toMatrix(maskedWhitenT(toTensor(x, B, T), maskTensor(mask, B, T))));
}

/**
 * Outcome (sequence-level) advantages from one scalar reward per completion and its group id.
 * opts.eps: the std epsilon of 'grpo' (default 1e-6, verl); ignored by the others.
 */
export function outcomeAdvantages(
  rewards: number[], groupIds: (string | number)[], estimator: 'grpo' | 'dr_grpo' | 'rloo' | 'reinforce_rej' | 'raft', opts?: { eps?: number },
): number[] {
  if (!Array.isArray(rewards) || rewards.some((r) => typeof r !== 'number' || !Number.isFinite(r))) throw new Error('rewards must be an array of finite numbers');
  if (!Array.isArray(groupIds) || groupIds.length !== rewards.length) throw new Error(`groupIds must have one id per reward (${rewards.length}), got ${Array.isArray(groupIds) ? groupIds.length : typeof groupIds}`);
  if (!OUTCOME_ESTIMATORS.includes(estimator)) throw new Error(`estimator must be one of ${OUTCOME_ESTIMATORS.join(', ')}, got ${JSON.stringify(estimator)}`);
  if (rewards.length === 0) return [];
  const { index, keys } = groupIndex(groupIds);
  return withTensors(() => {
    const a = computeOutcomeAdvantage(estimator, tf.tensor1d(rewards), groupMatrix(index, keys.length), opts?.eps ?? GRPO_STD_EPS);
    return Array.from(a.dataSync());
  });
}

/** REINFORCE++ advantages (discounted returns reset after EOS, globally whitened). B×T → B×T (0 on padding). */
export function reinforcePlusPlusAdvantages(tokenRewards: number[][], mask: number[][], gamma: number): number[][] {
  checkMatrix('tokenRewards', tokenRewards); checkMatrix('mask', mask);
  const [B, T] = shapeOf({ tokenRewards, mask });
  requireTokens(mask, 2, 'reinforcePlusPlusAdvantages');
  return withTensors(() => toMatrix(computeReinforcePlusPlusOutcomeAdvantage(toTensor(tokenRewards, B, T), maskTensor(mask, B, T), gamma).advantages));
}

/** advantages may be per token (B×T) or per sequence (B, broadcast to the tokens). */
function advMatrix(adv: number[][] | number[], B: number, T: number): Matrix {
  if (Array.isArray(adv) && adv.every((a) => typeof a === 'number')) return (adv as number[]).map((a) => new Array<number>(T).fill(a));
  checkMatrix('advantages', adv);
  if (adv.length !== B) throw new Error(`advantages has ${adv.length} rows, expected ${B}`);
  return adv as Matrix;
}

/** PPO clipped policy loss (+ optional dual clip) aggregated by `agg`. dualClip: c > 1 (true = 3.0), absent = off. */
export function policyLoss(a: {
  logp: number[][]; oldLogp: number[][]; advantages: number[][] | number[]; mask: number[][];
  clipLow: number; clipHigh: number; dualClip?: number | boolean | null; agg: LossAggMode; lossScaleFactor?: number;
}): { loss: number; clipFracLow: number; clipFracHigh: number; clipFracDual: number; clipFrac: number; ppoKl: number } {
  checkMatrix('logp', a.logp); checkMatrix('oldLogp', a.oldLogp); checkMatrix('mask', a.mask);
  const [B, T] = shapeOf({ logp: a.logp, oldLogp: a.oldLogp, mask: a.mask });
  const adv = advMatrix(a.advantages, B, T);
  const dual = a.dualClip === true ? 3.0 : (typeof a.dualClip === 'number' ? a.dualClip : null);
  const agg = aggOf(a.agg);
  return withTensors(() => {
    const r = computePolicyLossVanilla(toTensor(a.logp, B, T), toTensor(a.oldLogp, B, T), toTensor(adv, B, T), maskTensor(a.mask, B, T),
      { clipLow: a.clipLow, clipHigh: a.clipHigh, dualClip: dual, agg, lossScaleFactor: a.lossScaleFactor });
    return {
      loss: r.loss.dataSync()[0], clipFracLow: r.clipFracLow.dataSync()[0], clipFracHigh: r.clipFracHigh.dataSync()[0],
      clipFracDual: r.clipFracDual.dataSync()[0], clipFrac: r.clipFrac.dataSync()[0], ppoKl: r.ppoKl.dataSync()[0],
    };
  });
}

/** Clipped value loss. values = new predictions, oldValues = rollout values. */
export function valueLoss(a: {
  values: number[][]; oldValues: number[][]; returns: number[][]; mask: number[][]; clip: number; agg: LossAggMode; lossScaleFactor?: number;
}): { loss: number; clipFrac: number } {
  checkMatrix('values', a.values); checkMatrix('oldValues', a.oldValues); checkMatrix('returns', a.returns); checkMatrix('mask', a.mask);
  const [B, T] = shapeOf({ values: a.values, oldValues: a.oldValues, returns: a.returns, mask: a.mask });
  const agg = aggOf(a.agg);
  return withTensors(() => {
    const r = computeValueLoss(toTensor(a.values, B, T), toTensor(a.oldValues, B, T), toTensor(a.returns, B, T), maskTensor(a.mask, B, T), a.clip, agg, a.lossScaleFactor);
    return { loss: r.loss.dataSync()[0], clipFrac: r.clipFrac.dataSync()[0] };
  });
}

/** GSPO sequence-ratio loss (seq-mean-token-mean). */
export function gspoLoss(a: { logp: number[][]; oldLogp: number[][]; advantages: number[][] | number[]; mask: number[][]; clipLow: number; clipHigh: number }): { loss: number; clipFracLow: number; clipFracHigh: number } {
  checkMatrix('logp', a.logp); checkMatrix('oldLogp', a.oldLogp); checkMatrix('mask', a.mask);
  const [B, T] = shapeOf({ logp: a.logp, oldLogp: a.oldLogp, mask: a.mask });
  const adv = advMatrix(a.advantages, B, T);
  return withTensors(() => {
    const r = computePolicyLossGspo(toTensor(a.logp, B, T), toTensor(a.oldLogp, B, T), toTensor(adv, B, T), maskTensor(a.mask, B, T), a.clipLow, a.clipHigh);
    return { loss: r.loss.dataSync()[0], clipFracLow: r.clipFracLow.dataSync()[0], clipFracHigh: r.clipFracHigh.dataSync()[0] };
  });
}

/** GMPO geometric-mean loss; `clip` is ε for both sides in log space (clipLow / clipHigh override it per side). */
export function gmpoLoss(a: { logp: number[][]; oldLogp: number[][]; advantages: number[][] | number[]; mask: number[][]; clip: number; clipLow?: number; clipHigh?: number }): { loss: number; clipFracLow: number; clipFracHigh: number } {
  checkMatrix('logp', a.logp); checkMatrix('oldLogp', a.oldLogp); checkMatrix('mask', a.mask);
  const [B, T] = shapeOf({ logp: a.logp, oldLogp: a.oldLogp, mask: a.mask });
  const adv = advMatrix(a.advantages, B, T);
  return withTensors(() => {
    const r = computePolicyLossGeoMean(toTensor(a.logp, B, T), toTensor(a.oldLogp, B, T), toTensor(adv, B, T), maskTensor(a.mask, B, T), a.clipLow ?? a.clip, a.clipHigh ?? a.clip);
    return { loss: r.loss.dataSync()[0], clipFracLow: r.clipFracLow.dataSync()[0], clipFracHigh: r.clipFracHigh.dataSync()[0] };
  });
}

/** DAPO soft overlong punishment (TRL / DAPO Eq. 13): 0, linear ramp to −1 over the last L_cache tokens, −1 beyond L_max. */
export function overlongPenalty(length: number, maxLength: number, cacheLength: number): number {
  return softOverlongPunishment(length, maxLength, cacheLength);
}
export * from './referencePreference';
export * from './referenceGvpo';
export * from './referenceOffline';
export * from './referenceSteps';
export * from './referenceExplore';
