/**
 * Offline preference losses and reward-model losses, as tensors (tfjs-core).
 *
 * One function per equation, named as in its paper. Every function follows one reference implementation, named in
 * its doc comment with file and line at the commits listed in docs/references.md (#preference):
 *   TRL   huggingface/trl @ f2cd5771   (dpo_trainer.py, kto_trainer.py, experimental orpo_trainer.py, cpo_trainer.py, reward_trainer.py)
 *   ORLHF OpenRLHF/OpenRLHF @ 3c3be623 (openrlhf/models/loss.py: DPOLoss, PairWiseLoss)
 *   SimPO princeton-nlp/SimPO @ 15c4ff89 (scripts/simpo_trainer.py `simpo_loss`)
 *   ODPO  rycolab/odpo @ c4a01be9       (trainers.py `preference_loss`, L46–99)
 *
 * Conventions: B = batch of examples (pairs, or KTO examples). `*Logps` are per-example SEQUENCE log-probs of the
 * completion tokens (sum over tokens, prompt excluded) unless a name says `avg`. All loss functions return the
 * per-example losses `[B]` (callers take the mean, as every reference does) together with the quantities that the
 * references log as metrics. Everything runs in `tf.tidy`; inputs are not disposed.
 *
 * The plain-number façade over these functions is src/trainer/algorithms/referencePreference.ts.
 */
import * as tf from '@tensorflow/tfjs-core';
// the losses are differentiated: make sure the gradient kernels are registered (idempotent side effect)
import '@tensorflow/tfjs-core/dist/register_all_gradients';

type T1 = tf.Tensor1D;

/**
 * log σ(x) = −softplus(−x). tf.logSigmoid is a customGrad op whose gradient breaks when it runs inside tf.tidy
 * under tf.grad (tfjs-core 4.22: its saved input is disposed), so we compose it from softplus (gradient σ). Shape: any.
 */
export function logSigmoid<R extends tf.Rank>(x: tf.Tensor<R>): tf.Tensor<R> {
  return tf.tidy(() => tf.neg(tf.softplus(tf.neg(x))));
}

/** Summed sequence log-probs of one pairwise batch, each `[B]`. Reference log-probs are absent for reference-free methods. */
export interface PairLogps {
  policyChosen: T1;
  policyRejected: T1;
  refChosen: T1;
  refRejected: T1;
}

export interface PairLossOut {
  /** per-pair loss `[B]` */
  losses: T1;
  /** implicit reward of the chosen completion `[B]` (the value TRL logs as rewards/chosen; no gradient needed) */
  chosenRewards: T1;
  /** implicit reward of the rejected completion `[B]` */
  rejectedRewards: T1;
}

/** DPO's h = (π_c − ref_c) − (π_r − ref_r), `[B]`. TRL dpo_trainer.py L1397–1405 (`logits`), ODPO trainers.py L70–76. */
export function dpoLogits(p: PairLogps): T1 {
  return tf.tidy(() => tf.sub(tf.sub(p.policyChosen, p.refChosen), tf.sub(p.policyRejected, p.refRejected)) as T1);
}

/** Implicit rewards β(π − ref) for chosen and rejected, `[B]` each. TRL dpo_trainer.py L1426–1435; ODPO trainers.py L96–97. */
export function dpoImplicitRewards(p: PairLogps, beta: number): { chosenRewards: T1; rejectedRewards: T1 } {
  return tf.tidy(() => ({
    chosenRewards: tf.mul(beta, tf.sub(p.policyChosen, p.refChosen)) as T1,
    rejectedRewards: tf.mul(beta, tf.sub(p.policyRejected, p.refRejected)) as T1,
  }));
}

/**
 * DPO sigmoid loss (Rafailov et al. 2023, Eq. 7), with conservative DPO (cDPO) label smoothing ε:
 *   L = −(1 − ε)·logσ(β·h) − ε·logσ(−β·h),  h = dpoLogits.   Shapes: inputs `[B]` → losses `[B]`.
 * ε = 0 is TRL's `loss_type="sigmoid"` (dpo_trainer.py L1406–1415, default β = 0.1). ε > 0 follows OpenRLHF `DPOLoss`
 * (openrlhf/models/loss.py) and ODPO trainers.py L91–93; this TRL version routes label smoothing to other loss types.
 */
export function dpoSigmoidLoss(p: PairLogps, beta: number, labelSmoothing = 0): PairLossOut {
  return tf.tidy(() => {
    const h = dpoLogits(p);
    const bh = tf.mul(beta, h);
    let losses = tf.neg(logSigmoid(bh));
    if (labelSmoothing !== 0) {
      losses = tf.add(tf.mul(1 - labelSmoothing, losses), tf.mul(-labelSmoothing, logSigmoid(tf.neg(bh))));
    }
    return { losses: losses as T1, ...dpoImplicitRewards(p, beta) };
  });
}

/** How IPO turns sequence log-probs into its log-ratio: TRL divides by completion length, OpenRLHF / ODPO sum. */
export type IpoNormalization = 'length' | 'sum';

/**
 * IPO loss (Azar et al. 2023, Eq. 17):  L = (h − 1/(2β))².   Shapes: inputs `[B]`, lengths `[B]` → losses `[B]`.
 * normalize = 'length' (default) follows TRL dpo_trainer.py L1440–1451: h = (π_c−ref_c)/|y_c| − (π_r−ref_r)/|y_r|.
 * normalize = 'sum' follows OpenRLHF `DPOLoss(ipo=True)` and ODPO trainers.py L78–80: h = dpoLogits (summed log-probs).
 * Implicit rewards are β(π − ref) on summed log-probs in both cases (as TRL logs them).
 */
export function ipoLoss(p: PairLogps, beta: number, chosenLengths: T1, rejectedLengths: T1, normalize: IpoNormalization = 'length'): PairLossOut {
  return tf.tidy(() => {
    const h = normalize === 'length'
      ? tf.sub(tf.div(tf.sub(p.policyChosen, p.refChosen), chosenLengths), tf.div(tf.sub(p.policyRejected, p.refRejected), rejectedLengths))
      : dpoLogits(p);
    const losses = tf.square(tf.sub(h, 1 / (2 * beta)));
    return { losses: losses as T1, ...dpoImplicitRewards(p, beta) };
  });
}

/**
 * SimPO loss (Meng et al. 2024, Eq. 6), reference-free, length-normalised:
 *   a = logp/|y| (average per-token log-prob);  L = −(1−ε)·logσ(β(a_c − a_r) − γ) − ε·logσ(−(β(a_c − a_r) − γ)).
 * Follows the official SimPO `simpo_loss` (scripts/simpo_trainer.py @ 15c4ff89): `logits = a_c − a_r − gamma_beta_ratio`,
 * `−logσ(β·logits)`; official defaults β = 2.0, γ/β = 0.25 so γ = 0.5, ε = 0, sft_weight 0.
 * (TRL's CPO `loss_type="simpo"` computes the same with β = 0.1, simpo_gamma = 0.5 and an extra cpo_alpha NLL term.)
 * Shapes: avg log-probs `[B]` → losses `[B]`; rewards are β·a as SimPO logs them.
 */
export function simpoLoss(avgChosen: T1, avgRejected: T1, beta: number, gamma: number, labelSmoothing = 0): PairLossOut {
  return tf.tidy(() => {
    const logits = tf.sub(tf.sub(avgChosen, avgRejected), gamma / beta);
    const bl = tf.mul(beta, logits);
    let losses = tf.neg(logSigmoid(bl));
    if (labelSmoothing !== 0) losses = tf.add(tf.mul(1 - labelSmoothing, losses), tf.mul(-labelSmoothing, logSigmoid(tf.neg(bl))));
    return { losses: losses as T1, chosenRewards: tf.mul(beta, avgChosen) as T1, rejectedRewards: tf.mul(beta, avgRejected) as T1 };
  });
}

/**
 * ODPO offset Δ_r = α·log(s_w − s_l), or α·log(s_w / s_l) with `ratio` (ODPO trainers.py L81–88). Shapes: scores `[B]` → `[B]`.
 * The scores must make the argument of the log positive (s_w > s_l; both > 0 for the ratio): callers validate first.
 */
export function odpoOffset(chosenScores: T1, rejectedScores: T1, alpha: number, ratio = false): T1 {
  return tf.tidy(() => tf.mul(alpha, tf.log(ratio ? tf.div(chosenScores, rejectedScores) : tf.sub(chosenScores, rejectedScores))) as T1);
}

/**
 * ODPO loss (Amini et al. 2024, Eq. 9): L = −logσ(β·h − Δ_r), h = dpoLogits, Δ_r = odpoOffset.
 * Follows rycolab/odpo trainers.py `preference_loss(offset=True)` L81–89 (no label smoothing on that branch); defaults α = 1, ratio false.
 * Shapes: inputs `[B]` → losses `[B]`.
 */
export function odpoLoss(p: PairLogps, beta: number, chosenScores: T1, rejectedScores: T1, alpha = 1, ratio = false): PairLossOut {
  return tf.tidy(() => {
    const losses = tf.neg(logSigmoid(tf.sub(tf.mul(beta, dpoLogits(p)), odpoOffset(chosenScores, rejectedScores, alpha, ratio))));
    return { losses: losses as T1, ...dpoImplicitRewards(p, beta) };
  });
}

/**
 * KTO reference point z = max(0, mean(KL_logps − ref_KL_logps)), computed on MISMATCHED (prompt, completion) pairs and
 * detached (no gradient flows through it). TRL kto_trainer.py L1552–1560 (`kl = (policy_KL_logps - reference_KL_logps).mean().clamp(min=0)`).
 * Shapes: `[M]` → scalar.
 */
export function ktoReferencePoint(policyKlLogps: T1, refKlLogps: T1): tf.Scalar {
  return tf.tidy(() => {
    if (policyKlLogps.size === 0) return tf.scalar(0);
    // tf.stopGradient does not exist in tfjs-core 4.22; a value rebuilt from data has no tape history
    const v = tf.maximum(tf.mean(tf.sub(policyKlLogps, refKlLogps)), 0).dataSync()[0];
    return tf.scalar(v);
  });
}

export interface KtoLossOut {
  /** per-example weighted losses `[B]`, in input order (TRL concatenates desirable then undesirable; the mean is the same) */
  losses: T1;
  /** implicit reward β(π − ref) per example `[B]` */
  rewards: T1;
  /** the reference point z (scalar) */
  kl: tf.Scalar;
}

/**
 * KTO loss (Ethayarajh et al. 2024, Eq. 8) as TRL `kto_loss` (kto_trainer.py L1552–1592, L1657), loss_type "kto":
 *   r = π − ref (summed log-probs);  desirable:  w_d·(1 − σ(β(r − z)));  undesirable:  w_u·(1 − σ(β(z − r)));
 *   loss = nanmean over all examples (= the plain mean when there are no NaNs). Defaults β 0.1, w_d = w_u = 1.
 * Shapes: policyLogps, refLogps, desirable (1 = desirable, 0 = undesirable, float) `[B]`; z scalar (ktoReferencePoint).
 */
export function ktoLoss(policyLogps: T1, refLogps: T1, desirable: T1, z: tf.Scalar, beta: number, desirableWeight = 1, undesirableWeight = 1): KtoLossOut {
  return tf.tidy(() => {
    const r = tf.sub(policyLogps, refLogps);
    const lossD = tf.mul(desirableWeight, tf.sub(1, tf.sigmoid(tf.mul(beta, tf.sub(r, z)))));
    const lossU = tf.mul(undesirableWeight, tf.sub(1, tf.sigmoid(tf.mul(beta, tf.sub(z, r)))));
    const losses = tf.add(tf.mul(desirable, lossD), tf.mul(tf.sub(1, desirable), lossU));
    return { losses: losses as T1, rewards: tf.mul(beta, r) as T1, kl: tf.clone(z) as tf.Scalar };
  });
}

/**
 * log(1 − exp(x)) for x < 0, stable near 0 (Mächler 2012, "Accurately computing log(1 − exp(−|a|))").
 * TRL computes `torch.log1p(-torch.exp(x))`; near x = 0 that loses all precision in float32, so here
 * x ≥ −0.1 uses log(−expm1(x)) with expm1 by its Taylor series to x⁷ (error < 1e-11), and x < −0.1 uses log1p(−exp(x)).
 * Both branches are evaluated on clamped inputs so that the unused one never produces NaN/inf gradients.
 * Shape: any → same.
 */
export function log1mexp<R extends tf.Rank>(x: tf.Tensor<R>): tf.Tensor<R> {
  return tf.tidy(() => {
    const cut = -0.1;
    const far = tf.log1p(tf.neg(tf.exp(tf.minimum(x, cut))));
    const xn = tf.minimum(tf.maximum(x, cut), -1e-7); // x must stay < 0
    // −expm1(x) = −x·(1 + x/2 + x²/6 + x³/24 + x⁴/120 + x⁵/720 + x⁶/5040)  (Horner)
    const c = [1, 1 / 2, 1 / 6, 1 / 24, 1 / 120, 1 / 720, 1 / 5040];
    let poly: tf.Tensor = tf.fill(xn.shape, c[c.length - 1]);
    for (let k = c.length - 2; k >= 0; k--) poly = tf.add(tf.mul(poly, xn), c[k]);
    const near = tf.log(tf.mul(tf.neg(xn), poly));
    // branch select as arithmetic (tf.less has no gradient): mask = 1 where x < cut
    const mask = tf.step(tf.sub(cut, x));
    return tf.add(tf.mul(mask, far), tf.mul(tf.sub(1, mask), near)) as tf.Tensor<R>;
  });
}

export interface OrpoLossOut {
  /** total loss, scalar: NLL_chosen − mean(β·logσ(log_odds)) */
  loss: tf.Scalar;
  /** per-pair odds-ratio term −β·logσ(log_odds) `[B]` */
  orLosses: T1;
  /** log odds ratio `[B]` (TRL metric log_odds_ratio is mean(logσ(log_odds)), log_odds_chosen is mean(log_odds)) */
  logOdds: T1;
  chosenRewards: T1;
  rejectedRewards: T1;
}

/**
 * ORPO (Hong et al. 2024, Eq. 6–7) as TRL experimental orpo_trainer.py `odds_ratio_loss` L673–705 and L851:
 *   a = AVERAGE per-token log-prob of the completion;
 *   log_odds = (a_c − a_r) − (log1mexp(a_c) − log1mexp(a_r));
 *   loss = NLL_chosen − mean(β·logσ(log_odds)),  β = 0.1 (TRL's `beta`, the paper's λ).
 * NLL_chosen is the token-mean cross-entropy on the chosen sequences (a scalar the caller computes: TRL includes the
 * prompt tokens; our trainer uses the completion tokens, see docs/preference.md). Rewards are β·a (TRL L700–701).
 * Shapes: avgChosen, avgRejected `[B]`, nllChosen scalar → loss scalar.
 */
export function orpoLoss(avgChosen: T1, avgRejected: T1, nllChosen: tf.Scalar, beta: number): OrpoLossOut {
  return tf.tidy(() => {
    const logOdds = tf.sub(tf.sub(avgChosen, avgRejected), tf.sub(log1mexp(avgChosen), log1mexp(avgRejected))) as T1;
    const orLosses = tf.mul(-beta, logSigmoid(logOdds)) as T1;
    const loss = tf.add(nllChosen, tf.mean(orLosses)) as tf.Scalar;
    return { loss, orLosses, logOdds, chosenRewards: tf.mul(beta, avgChosen) as T1, rejectedRewards: tf.mul(beta, avgRejected) as T1 };
  });
}

/**
 * The NLL-on-chosen term (Llama 3.1 §4.1.4; RPO, Pang et al. 2024; TRL DPO `rpo_alpha`, dpo_trainer.py): α·NLL_chosen,
 * with NLL_chosen the token-mean negative log-likelihood over all chosen completion tokens of the batch:
 *   NLL = −Σ_i logp_c,i / Σ_i |y_c,i|.   Shapes: summed chosen log-probs `[B]`, lengths `[B]` → scalar.
 */
export function chosenNllLoss(policyChosen: T1, chosenLengths: T1): tf.Scalar {
  return tf.tidy(() => tf.div(tf.neg(tf.sum(policyChosen)), tf.sum(chosenLengths)) as tf.Scalar);
}

export interface RewardLossOut {
  /** scalar loss */
  loss: tf.Scalar;
  /** per-pair −logσ(r_c − r_r − margin) `[P]` */
  losses: T1;
}

/**
 * Bradley–Terry pairwise reward-model loss with optional margin (Llama 2) and reward centering (Eisenstein et al. 2023):
 *   loss = mean(−logσ(r_c − r_r − m)) + c·mean((r_c + r_r)²).
 * Follows TRL RewardTrainer.compute_loss (reward_trainer.py L749–756; `center_rewards_coefficient` c, off by default) and
 * OpenRLHF `PairWiseLoss`. Shapes: rewards `[P]`, margin scalar or `[P]` → loss scalar.
 */
export function bradleyTerryLoss(chosenRewards: T1, rejectedRewards: T1, margin?: T1 | number, centerRewardsCoefficient = 0): RewardLossOut {
  return tf.tidy(() => {
    let d = tf.sub(chosenRewards, rejectedRewards);
    if (margin !== undefined) d = tf.sub(d, margin);
    const losses = tf.neg(logSigmoid(d)) as T1;
    let loss = tf.mean(losses) as tf.Scalar;
    if (centerRewardsCoefficient) loss = tf.add(loss, tf.mul(centerRewardsCoefficient, tf.mean(tf.square(tf.add(chosenRewards, rejectedRewards))))) as tf.Scalar;
    return { loss, losses };
  });
}

/** Pairs of a K-wise ranking batch: row indices into a flat reward vector, and a weight per pair. */
export interface RankingPairs {
  /** index of the better completion of each pair `[P]` */
  better: number[];
  /** index of the worse completion `[P]` */
  worse: number[];
  /** weight of each pair `[P]`: 1 / (C(K,2) · number of prompts), so that Σ weights = 1 */
  weight: number[];
}

/**
 * Every ordered pair of each ranking (InstructGPT, Ouyang et al. 2022, Eq. 1): for a prompt with K ranked completions
 * all C(K,2) comparisons enter the batch together and each prompt counts once: loss = mean over prompts of the
 * mean over its pairs of −logσ(r_better − r_worse).
 * `rankings[j]` lists the indices (into that prompt's completions) from best to worst; `offsets[j]` is where prompt j's
 * completions start in the flat reward vector.
 */
export function rankingPairs(rankings: number[][], offsets: number[]): RankingPairs {
  const better: number[] = [], worse: number[] = [], weight: number[] = [];
  const n = rankings.length;
  rankings.forEach((rk, j) => {
    const k = rk.length;
    const c = (k * (k - 1)) / 2;
    for (let a = 0; a < k; a++) {
      for (let b = a + 1; b < k; b++) {
        better.push(offsets[j] + rk[a]);
        worse.push(offsets[j] + rk[b]);
        weight.push(1 / (c * n));
      }
    }
  });
  return { better, worse, weight };
}

/**
 * Selection matrix S `[P, M]` with S[p, idx[p]] = 1, so that S·r gathers r[idx] with a plain matMul (tf.gather's
 * gradient needs UnsortedSegmentSum, which the wasm backend lacks).
 */
export function selectionMatrix(idx: number[], m: number): tf.Tensor2D {
  const v = new Float32Array(idx.length * m);
  idx.forEach((j, p) => { v[p * m + j] = 1; });
  return tf.tensor2d(v, [idx.length, m], 'float32');
}

/**
 * K-wise ranking loss (InstructGPT Eq. 1): Σ_pairs w·(−logσ(r_better − r_worse − margin)), weights from `rankingPairs`.
 * The pairwise term is `bradleyTerryLoss`'s. Shapes: rewards `[M]` (all completions of all prompts, flat) → loss scalar.
 */
export function kwiseRankingLoss(rewards: T1, pairs: RankingPairs, margin = 0): RewardLossOut {
  return tf.tidy(() => {
    const m = rewards.shape[0];
    const r2 = tf.reshape(rewards, [m, 1]) as tf.Tensor2D;
    const rb = tf.reshape(tf.matMul(selectionMatrix(pairs.better, m), r2), [-1]) as T1;
    const rw = tf.reshape(tf.matMul(selectionMatrix(pairs.worse, m), r2), [-1]) as T1;
    const losses = tf.neg(logSigmoid(margin ? tf.sub(tf.sub(rb, rw), margin) : tf.sub(rb, rw))) as T1;
    const loss = tf.sum(tf.mul(losses, tf.tensor1d(pairs.weight, 'float32'))) as tf.Scalar;
    return { loss, losses };
  });
}
