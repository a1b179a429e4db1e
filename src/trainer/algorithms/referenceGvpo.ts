/**
 * Plain-number façade over GVPO (./gvpo.ts, the very tensor code the trainer runs) and GRPO-λ (./grpoLambda.ts).
 * Re-exported by ./reference.ts.
 *
 *   gvpoLoss({ logprobs, refLogprobs, mask, rewards, groupIds, beta }) → number
 *       logprobs / refLogprobs / mask: B×T, right padded (padding may hold junk: NaN, ±Infinity, null); refLogprobs =
 *       π_θ' of the paper (the policy that sampled the completions); rewards: B; groupIds: B (equal ids = one prompt,
 *       every group of the same size n ≥ 2). Value as the authors' verl recipe computes it (compute_policy_loss_gvpo):
 *       s_i = β·Σ_t mask·(logprobs − refLogprobs),  Σ_i ½·((s_i − mean_g(i) s) − (R_i − mean_g(i) R))² / (n − 1),
 *       the SUM over every sequence of the batch (no mean over groups). float32 arithmetic.
 *   grpoLambdaRewards({ correctness, lengths, groupIds, lambda, penalty?, alpha? }) → number[]   (./grpoLambda.ts)
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { groupIndex, groupMatrix } from './advantages';
import { computePolicyLossGvpo } from './gvpo';

export { grpoLambdaRewards, type GrpoLambdaInput, type GrpoLambdaPenalty } from './grpoLambda';

type Matrix = readonly (readonly (number | null | undefined)[])[];

function matrix(name: string, m: unknown, B?: number): Matrix {
  if (!Array.isArray(m) || !m.every((r) => Array.isArray(r))) throw new Error(`${name}: expected number[][] shaped B×T (rows = completions)`);
  if (B !== undefined && m.length !== B) throw new Error(`${name}: has ${m.length} rows, expected ${B} (one per completion, like logprobs)`);
  return m as Matrix;
}

export interface GvpoLossInput {
  /** log π_θ per response token, B×T */
  logprobs: number[][];
  /** log π_θ' per response token (the sampling / reference policy of the paper), B×T */
  refLogprobs: number[][];
  /** 1 = valid token, 0 = padding, B×T */
  mask: number[][];
  /** R(x, y_i), one per completion [B] */
  rewards: number[];
  /** prompt of each completion [B]; every group must have the same size n ≥ 2 */
  groupIds: (string | number)[];
  /** β of the KL constraint (verl recipe gvpo_beta 0.1) */
  beta: number;
}

/** GVPO loss (see the header). Throws with the field's name on bad input. */
export function gvpoLoss(a: GvpoLossInput): number {
  const lp = matrix('logprobs', a.logprobs);
  const B = lp.length;
  const ref = matrix('refLogprobs', a.refLogprobs, B), mask = matrix('mask', a.mask, B);
  if (!Array.isArray(a.rewards) || a.rewards.length !== B) throw new Error(`rewards: expected ${B} numbers (one per completion), got ${Array.isArray(a.rewards) ? a.rewards.length : typeof a.rewards}`);
  a.rewards.forEach((r, i) => { if (typeof r !== 'number' || !Number.isFinite(r)) throw new Error(`rewards[${i}]: expected a finite number, got ${String(r)}`); });
  if (!Array.isArray(a.groupIds) || a.groupIds.length !== B) throw new Error(`groupIds: expected ${B} ids (one per completion), got ${Array.isArray(a.groupIds) ? a.groupIds.length : typeof a.groupIds}`);
  if (typeof a.beta !== 'number' || !(a.beta > 0) || !Number.isFinite(a.beta)) throw new Error(`beta: expected a number > 0 (the KL constraint's β, e.g. 0.1), got ${String(a.beta)}`);
  const { index, keys, sizes } = groupIndex(a.groupIds);
  const n = sizes[0];
  if (sizes.some((s) => s !== n)) throw new Error(`groupIds: every group must have the same size n (the loss divides by n − 1); sizes ${sizes.join(', ')}`);
  if (n < 2) throw new Error(`groupIds: groups of ${n}: GVPO needs at least 2 completions per prompt (it divides by n − 1)`);
  let T = 0;
  for (const m of [lp, ref, mask]) for (const r of m) T = Math.max(T, r.length);
  const lpD = new Float32Array(B * T), refD = new Float32Array(B * T), mD = new Float32Array(B * T);
  for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) {
    const v = mask[b][t] ?? 0;
    if (v !== 0 && v !== 1) throw new Error(`mask[${b}][${t}] = ${String(v)}: the mask must hold 1 (valid token) or 0 (padding)`);
    mD[b * T + t] = v;
    const x = lp[b][t], y = ref[b][t];
    if (v === 1 && (typeof x !== 'number' || !Number.isFinite(x))) throw new Error(`logprobs[${b}][${t}]: a valid token needs a finite log-prob, got ${String(x)}`);
    if (v === 1 && (typeof y !== 'number' || !Number.isFinite(y))) throw new Error(`refLogprobs[${b}][${t}]: a valid token needs a finite log-prob, got ${String(y)}`);
    lpD[b * T + t] = typeof x === 'number' ? x : NaN;
    refD[b * T + t] = typeof y === 'number' ? y : NaN;
  }
  if (!tf.getBackend()) void tf.setBackend('cpu');
  return tf.tidy(() => {
    const r = computePolicyLossGvpo(tf.tensor2d(lpD, [B, T]), tf.tensor2d(refD, [B, T]), tf.tensor2d(mD, [B, T]), tf.tensor1d(a.rewards), groupMatrix(index, keys.length), a.beta, n);
    return r.loss.dataSync()[0];
  });
}
