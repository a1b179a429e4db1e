/**
 * Quantile Reward Policy Optimization (QRPO; Matrenok, Moalla & Gulcehre 2025, arXiv 2507.08068), as tensors (tfjs-core)
 * plus the quantile transform on plain numbers. Follows the authors' reference `qrpo_loss` (CLAIRE-Labo/
 * quantile-reward-policy-optimization README, docs/references.md#qrpo):
 *
 *   log_ratios       = logps − ref_logps                                   [B]
 *   quantile_rewards = mean_j 1[ref_rewards[:, j] ≤ rewards]               [B]   (the reward's empirical CDF under π_ref)
 *   log_Z            = log β + 1/β                                         (their "numerical simplification (Eq. 11)")
 *   loss             = (quantile_rewards − β·log_Z − β·log_ratios)²        [B]
 *
 * Paper: with the quantile reward R_q(x, y) = Pr_{y'∼π_ref(·|x)}[R(x, y') ≤ R(x, y)], uniform on [0, 1] under π_ref, the
 * partition function of the KL-regularised optimum π*(y|x) = π_ref(y|x)·exp(R_q/β)/Z(x) is analytic:
 *   Z_q = E_{u∼U[0,1]} exp(u/β) = β·(exp(1/β) − 1),   log Z_q = log β + 1/β + log(1 − exp(−1/β)).
 * The regression β·log π_θ/π_ref = R_q − β·log Z_q is then pointwise (no pair needed to cancel Z): offline like DPO.
 * `logZ: 'exact'` (default here) uses the closed form, `'simplified'` the code's log β + 1/β (they differ by
 * log(1 − e^{−1/β}): −4.5e−5 at β = 0.1, −0.46 at β = 1).
 *
 * Shapes: B = completions in the batch, n = reference completions per prompt. The façade is ./referenceOffline.ts `qrpoLoss`.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';

type T1 = tf.Tensor1D;

export type QrpoLogZ = 'exact' | 'simplified';

/**
 * Quantile reward R_q (the empirical CDF of the reference completions' rewards at the completion's reward; the code's
 * `(ref_rewards <= rewards.unsqueeze(1)).float().mean(1)`). rewards `[B]`, refRewards `[B][n]` (n ≥ 1 each) → `[B]` in [0, 1].
 */
export function quantileRewards(rewards: readonly number[], refRewards: readonly (readonly number[])[]): number[] {
  return rewards.map((r, i) => {
    const ref = refRewards[i];
    let le = 0;
    for (const x of ref) if (x <= r) le++;
    return le / ref.length;
  });
}

/** log Z_q(β): 'exact' log(β(e^{1/β} − 1)) = log β + 1/β + log1p(−e^{−1/β}); 'simplified' log β + 1/β (authors' code). */
export function quantileLogPartition(beta: number, mode: QrpoLogZ = 'exact'): number {
  const simplified = Math.log(beta) + 1 / beta;
  return mode === 'simplified' ? simplified : simplified + Math.log1p(-Math.exp(-1 / beta));
}

export interface QrpoLossOut {
  /** per-completion squared error `[B]` */
  losses: T1;
  /** β·(log π_θ − log π_ref) `[B]`: the policy's implied reward minus log partition (what regresses onto R_q − β log Z) */
  impliedRewards: T1;
}

/**
 * QRPO regression loss (the code's `qrpo_loss`): (R_q − β·log Z − β·(logps − refLogps))².
 * Shapes: logps, refLogps, quantile `[B]` → losses `[B]` (callers take the mean, as the authors' trainer does).
 */
export function qrpoLoss(logps: T1, refLogps: T1, quantile: T1, beta: number, logZ: number): QrpoLossOut {
  return tf.tidy(() => {
    const impliedRewards = tf.mul(beta, tf.sub(logps, refLogps)) as T1;
    const losses = tf.square(tf.sub(tf.sub(quantile, beta * logZ), impliedRewards)) as T1;
    return { losses, impliedRewards };
  });
}
