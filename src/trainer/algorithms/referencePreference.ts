/**
 * Plain-number façade over the preference losses of ./preference.ts (the very tensor code the trainer runs, not a
 * second copy). Each function takes one object of number arrays (one entry per example) and returns the MEAN loss
 * over the batch as a number. Re-exported by ./reference.ts.
 *
 * Inputs named `*Logps` are SEQUENCE log-probs: the sum over the completion's tokens (prompt excluded) of
 * log π(token | prefix). `*Lengths` are the completions' token counts (used by IPO's TRL normalisation, SimPO and ORPO
 * averages, and the optional NLL term).
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as P from './preference';

function t1(name: string, v: readonly number[] | undefined, n?: number): tf.Tensor1D {
  if (!Array.isArray(v)) throw new Error(`${name}: expected an array of numbers`);
  if (n !== undefined && v.length !== n) throw new Error(`${name}: expected ${n} values (one per example), got ${v.length}`);
  v.forEach((x, i) => { if (typeof x !== 'number' || Number.isNaN(x)) throw new Error(`${name}[${i}]: expected a number, got ${String(x)}`); });
  return tf.tensor1d(v as number[], 'float32');
}

function positive(name: string, v: readonly number[]): void {
  v.forEach((x, i) => { if (!(x > 0)) throw new Error(`${name}[${i}]: must be > 0 (a completion length), got ${x}`); });
}

/** Runs f in a tf.tidy scope and returns its scalar as a number (shared by the ./reference*.ts façades). */
export function runScalar(f: () => tf.Scalar): number {
  const s = tf.tidy(f);
  const v = s.dataSync()[0];
  s.dispose();
  return v;
}

/** Common input of the pairwise, reference-based losses (DPO, IPO, ODPO). All arrays have one value per pair. */
export interface PairwiseLossInput {
  /** Σ_t log π_θ(y_c,t | x, y_c,<t) per pair */
  policyChosenLogps: number[];
  policyRejectedLogps: number[];
  /** the same under the frozen reference model */
  refChosenLogps: number[];
  refRejectedLogps: number[];
  /** completion lengths in tokens (|y_c|, |y_r|) */
  chosenLengths: number[];
  rejectedLengths: number[];
  /** β, the KL-regularisation strength (TRL default 0.1) */
  beta: number;
}

function pair(i: PairwiseLossInput, needRef = true): P.PairLogps {
  const n = i.policyChosenLogps?.length;
  return {
    policyChosen: t1('policyChosenLogps', i.policyChosenLogps),
    policyRejected: t1('policyRejectedLogps', i.policyRejectedLogps, n),
    refChosen: needRef ? t1('refChosenLogps', i.refChosenLogps, n) : tf.zeros([n]),
    refRejected: needRef ? t1('refRejectedLogps', i.refRejectedLogps, n) : tf.zeros([n]),
  };
}

/**
 * DPO sigmoid loss, mean over pairs: −(1−ε)logσ(βh) − ε·logσ(−βh), h = (π_c − ref_c) − (π_r − ref_r).
 * `labelSmoothing` ε (cDPO, OpenRLHF; default 0 = TRL "sigmoid"); `rpoAlpha` adds α·NLL on the chosen completions
 * (token mean, from policyChosenLogps / chosenLengths; Llama 3.1 / RPO; default 0 = off).
 */
export function dpoLoss(i: PairwiseLossInput & { labelSmoothing?: number; rpoAlpha?: number }): number {
  return runScalar(() => {
    const p = pair(i);
    let loss = tf.mean(P.dpoSigmoidLoss(p, i.beta, i.labelSmoothing ?? 0).losses) as tf.Scalar;
    if (i.rpoAlpha) {
      const len = t1('chosenLengths', i.chosenLengths, i.policyChosenLogps.length);
      positive('chosenLengths', i.chosenLengths);
      loss = tf.add(loss, tf.mul(i.rpoAlpha, P.chosenNllLoss(p.policyChosen, len)));
    }
    return loss;
  });
}

/**
 * IPO loss, mean over pairs: (h − 1/(2β))². `normalize`: 'length' (default, TRL: each log-ratio divided by its
 * completion length) or 'sum' (OpenRLHF / ODPO repo: summed log-probs, lengths unused).
 */
export function ipoLoss(i: PairwiseLossInput & { normalize?: P.IpoNormalization }): number {
  return runScalar(() => {
    const n = i.policyChosenLogps.length;
    const norm = i.normalize ?? 'length';
    if (norm === 'length') { positive('chosenLengths', i.chosenLengths); positive('rejectedLengths', i.rejectedLengths); }
    return tf.mean(P.ipoLoss(pair(i), i.beta, t1('chosenLengths', i.chosenLengths, n), t1('rejectedLengths', i.rejectedLengths, n), norm).losses) as tf.Scalar;
  });
}

/**
 * SimPO loss (official SimPO code), mean over pairs: −logσ(β(a_c − a_r) − γ) with a = logps / length.
 * Reference-free: `refChosenLogps` / `refRejectedLogps` are accepted for a uniform call shape and ignored.
 * Official defaults: β = 2.0, γ = 0.5 (γ/β = 0.25). `labelSmoothing` as in SimPO's code (default 0).
 */
export function simpoLoss(i: Omit<PairwiseLossInput, 'refChosenLogps' | 'refRejectedLogps'> & Partial<Pick<PairwiseLossInput, 'refChosenLogps' | 'refRejectedLogps'>> & { gamma: number; labelSmoothing?: number }): number {
  return runScalar(() => {
    const n = i.policyChosenLogps.length;
    positive('chosenLengths', i.chosenLengths); positive('rejectedLengths', i.rejectedLengths);
    const ac = tf.div(t1('policyChosenLogps', i.policyChosenLogps), t1('chosenLengths', i.chosenLengths, n)) as tf.Tensor1D;
    const ar = tf.div(t1('policyRejectedLogps', i.policyRejectedLogps, n), t1('rejectedLengths', i.rejectedLengths, n)) as tf.Tensor1D;
    return tf.mean(P.simpoLoss(ac, ar, i.beta, i.gamma, i.labelSmoothing ?? 0).losses) as tf.Scalar;
  });
}

/**
 * ODPO loss, mean over pairs: −logσ(βh − α·log(s_c − s_r)), or α·log(s_c / s_r) with `ratio: true` (ODPO repo).
 * `chosenScores` / `rejectedScores` are the scalar scores of the two completions (s_c > s_r required; both > 0 for
 * the ratio). Defaults in the ODPO repo: α = 1, ratio false.
 */
export function odpoLoss(i: PairwiseLossInput & { alpha: number; chosenScores: number[]; rejectedScores: number[]; ratio?: boolean }): number {
  const n = i.policyChosenLogps.length;
  i.chosenScores?.forEach((s, k) => {
    const r = i.rejectedScores?.[k];
    const ok = i.ratio ? s > 0 && r > 0 : s > r;
    if (!ok) throw new Error(`chosenScores[${k}] = ${s}, rejectedScores[${k}] = ${r}: ODPO needs ${i.ratio ? 'both scores > 0' : 'chosen score > rejected score'} (log of the ${i.ratio ? 'ratio' : 'difference'})`);
  });
  return runScalar(() => tf.mean(P.odpoLoss(pair(i), i.beta, t1('chosenScores', i.chosenScores, n), t1('rejectedScores', i.rejectedScores, n), i.alpha, i.ratio ?? false).losses) as tf.Scalar);
}

/** Input of the KTO loss (unpaired: each example is one completion labelled desirable or undesirable). */
export interface KtoLossInput {
  /** Σ_t log π_θ of each example's completion `[B]` */
  policyLogps: number[];
  /** the same under the reference model `[B]` */
  refLogps: number[];
  /** true = desirable (TRL label True), false = undesirable `[B]` */
  labels: boolean[];
  /** summed log-probs of MISMATCHED (prompt, completion) pairs under the policy `[M]` (TRL's KL batch: completions shifted
   *  by one within the batch); z = max(0, mean(policyKlLogps − refKlLogps)), no gradient. Empty arrays give z = 0. */
  policyKlLogps: number[];
  refKlLogps: number[];
  beta: number;
  /** λ_D and λ_U (TRL desirable_weight / undesirable_weight, default 1) */
  desirableWeight?: number;
  undesirableWeight?: number;
}

/**
 * The same inputs in TRL's `kto_loss` layout: the desirable and the undesirable examples in separate arrays
 * (`policyChosenLogps` / `refChosenLogps` = desirable, `policyRejectedLogps` / `refRejectedLogps` = undesirable;
 * either side may be empty), the KL batch as `policyKlLogps` / `refKlLogps`. `kl` gives the reference point z directly
 * instead (TRL's `kl`, already clamped at 0 and detached; used when the KL batch is off: z = 0).
 */
export interface KtoLossInputTrl {
  policyChosenLogps: number[];
  policyRejectedLogps: number[];
  refChosenLogps: number[];
  refRejectedLogps: number[];
  policyKlLogps?: number[];
  refKlLogps?: number[];
  kl?: number;
  beta: number;
  desirableWeight?: number;
  undesirableWeight?: number;
}

/**
 * KTO loss (TRL `kto_loss`), mean over examples: desirable w_d(1 − σ(β(r − z))), undesirable w_u(1 − σ(β(z − r))),
 * r = π − ref, z = max(0, mean(policyKlLogps − refKlLogps)) (or `kl`). Takes either layout (KtoLossInput with labels, or
 * TRL's chosen / rejected split); the mean over the concatenated desirable and undesirable losses equals TRL's.
 */
export function ktoLoss(input: KtoLossInput | KtoLossInputTrl): number {
  const i: KtoLossInput & { kl?: number } = 'labels' in input ? input : {
    policyLogps: [...(input.policyChosenLogps ?? []), ...(input.policyRejectedLogps ?? [])],
    refLogps: [...(input.refChosenLogps ?? []), ...(input.refRejectedLogps ?? [])],
    labels: [...(input.policyChosenLogps ?? []).map(() => true), ...(input.policyRejectedLogps ?? []).map(() => false)],
    policyKlLogps: input.policyKlLogps ?? [], refKlLogps: input.refKlLogps ?? [], kl: input.kl,
    beta: input.beta, desirableWeight: input.desirableWeight, undesirableWeight: input.undesirableWeight,
  };
  if (!('labels' in input)) {
    const nc = input.policyChosenLogps?.length ?? 0, nr = input.policyRejectedLogps?.length ?? 0;
    if ((input.refChosenLogps?.length ?? 0) !== nc) throw new Error(`refChosenLogps: expected ${nc} values (one per desirable example), got ${input.refChosenLogps?.length ?? 0}`);
    if ((input.refRejectedLogps?.length ?? 0) !== nr) throw new Error(`refRejectedLogps: expected ${nr} values (one per undesirable example), got ${input.refRejectedLogps?.length ?? 0}`);
  }
  if (i.kl !== undefined && !(Number.isFinite(i.kl) && i.kl >= 0)) throw new Error(`kl: expected a number ≥ 0 (the reference point z), got ${i.kl}`);
  return runScalar(() => {
    const n = i.policyLogps.length;
    if (!Array.isArray(i.labels) || i.labels.length !== n) throw new Error(`labels: expected ${n} booleans (one per example)`);
    const z = i.kl !== undefined ? tf.scalar(i.kl) : P.ktoReferencePoint(t1('policyKlLogps', i.policyKlLogps), t1('refKlLogps', i.refKlLogps, i.policyKlLogps.length));
    const d = tf.tensor1d(i.labels.map((b) => (b ? 1 : 0)), 'float32');
    return tf.mean(P.ktoLoss(t1('policyLogps', i.policyLogps), t1('refLogps', i.refLogps, n), d, z, i.beta, i.desirableWeight ?? 1, i.undesirableWeight ?? 1).losses) as tf.Scalar;
  });
}

/** Input of the ORPO loss (reference-free). */
export interface OrpoLossInput {
  /** summed completion log-probs per pair; ORPO uses their per-token averages logps / lengths */
  policyChosenLogps: number[];
  policyRejectedLogps: number[];
  chosenLengths: number[];
  rejectedLengths: number[];
  /** β (TRL) = λ (paper), default in TRL 0.1; give either `beta` or `lambda` */
  beta?: number;
  lambda?: number;
  /** the SFT term: token-mean NLL over the chosen sequences of the batch. TRL computes it over prompt + completion
   *  tokens; when omitted it is −Σ policyChosenLogps / Σ chosenLengths (completion tokens only). */
  chosenNll?: number;
}

/** ORPO loss (TRL `odds_ratio_loss` + NLL): NLL_chosen − mean(β·logσ(log_odds)), log_odds on average log-probs. */
export function orpoLoss(i: OrpoLossInput): number {
  const beta = i.beta ?? i.lambda;
  if (typeof beta !== 'number' || !Number.isFinite(beta)) throw new Error('beta (= the ORPO paper\'s λ): expected a number');
  if (i.beta !== undefined && i.lambda !== undefined && i.beta !== i.lambda) throw new Error(`beta ${i.beta} and lambda ${i.lambda}: give one (they are the same weight)`);
  return runScalar(() => {
    const n = i.policyChosenLogps.length;
    positive('chosenLengths', i.chosenLengths); positive('rejectedLengths', i.rejectedLengths);
    const lc = t1('policyChosenLogps', i.policyChosenLogps);
    const len = t1('chosenLengths', i.chosenLengths, n);
    const ac = tf.div(lc, len) as tf.Tensor1D;
    const ar = tf.div(t1('policyRejectedLogps', i.policyRejectedLogps, n), t1('rejectedLengths', i.rejectedLengths, n)) as tf.Tensor1D;
    const nll = i.chosenNll !== undefined ? tf.scalar(i.chosenNll) : P.chosenNllLoss(lc, len);
    return P.orpoLoss(ac, ar, nll, beta).loss;
  });
}

/**
 * Bradley–Terry reward-model loss (TRL RewardTrainer / OpenRLHF PairWiseLoss): mean(−logσ(r_c − r_r − margin))
 * + centerRewardsCoefficient·mean((r_c + r_r)²). `margin`: one number for all pairs or one per pair (default none).
 */
export function bradleyTerryLoss(i: { chosenRewards: number[]; rejectedRewards: number[]; margin?: number | number[]; centerRewardsCoefficient?: number }): number {
  return runScalar(() => {
    const n = i.chosenRewards.length;
    const m = i.margin === undefined ? undefined : typeof i.margin === 'number' ? i.margin : t1('margin', i.margin, n);
    return P.bradleyTerryLoss(t1('chosenRewards', i.chosenRewards), t1('rejectedRewards', i.rejectedRewards, n), m, i.centerRewardsCoefficient ?? 0).loss;
  });
}

/**
 * K-wise ranking loss (InstructGPT): `rewards[j]` are the scalar rewards of prompt j's completions, `rankings[j]` their
 * indices from best to worst; loss = mean over prompts of the mean over all C(K,2) pairs of −logσ(r_better − r_worse).
 */
export function kwiseRankingLoss(i: { rewards: number[][]; rankings: number[][] }): number {
  const offsets: number[] = [];
  let m = 0;
  i.rewards.forEach((r, j) => {
    offsets.push(m);
    const rk = i.rankings[j];
    if (!rk || rk.length !== r.length || new Set(rk).size !== r.length || rk.some((x) => !(x >= 0 && x < r.length))) {
      throw new Error(`rankings[${j}]: expected a permutation of 0..${r.length - 1}`);
    }
    m += r.length;
  });
  return runScalar(() => P.kwiseRankingLoss(t1('rewards', i.rewards.flat()), P.rankingPairs(i.rankings, offsets)).loss);
}
