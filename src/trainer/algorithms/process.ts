/**
 * Step-level objectives: Step-DPO (a DPO loss on ONE reasoning step) and process reward models (a score per step)
 * with their use as a dense reward in RL. One function per equation; shapes in comments (B rows, T tokens, K steps).
 *
 * References (docs/references.md#step-level):
 *  - Step-DPO: Lai et al. 2024, "Step-DPO: Step-wise Preference Optimization for Long-chain Reasoning of LLMs",
 *    §3.1 objective; authors' code dvlab-research/Step-DPO train.py `dataset_preprocess` (prompt + initial_reason_steps
 *    is the prompt, chosen / rejected are single steps) and stepdpo_trainer.py (TRL's sigmoid DPO loss).
 *  - PRM training: Lightman et al. 2023, "Let's Verify Step by Step" (a per-step correctness classifier read at the end
 *    of each step); OpenRLHF openrlhf/models/loss.py `PRMLoss` (cross-entropy over the two reward tokens at each step
 *    tag; with a scalar head z = logit(+) − logit(−) that is the binary cross-entropy with logits used here).
 *  - Process rewards in RL: DeepSeekMath (Shao et al. 2024) §4.1.3 "Process Supervision RL with GRPO":
 *    r̃_i^index(j) = (r_i^index(j) − mean(R)) / std(R), Â_i,t = Σ_{index(j) ≥ t} r̃_i^index(j);
 *    PRIME / verl: a step's reward sits on the step's last token (token-level reward for GAE / returns).
 */
import * as tf from '@tensorflow/tfjs-core';
import { dpoSigmoidLoss, type PairLogps, type PairLossOut } from './preference';

/**
 * Step-DPO objective (Lai et al. 2024 §3.1):
 *   L(θ) = −E[ log σ( β·log πθ(s_win | x; s_1~k−1)/π_ref(s_win | x; s_1~k−1) − β·log πθ(s_lose | x; s_1~k−1)/π_ref(s_lose | x; s_1~k−1) ) ]
 * The log-probs are the summed log-probs of the STEP's tokens with x + the correct prefix s_1~k−1 as the prompt, so
 * it is DPO's sigmoid loss on step pairs (the authors' trainer is TRL's DPOTrainer with this data). → losses [B].
 */
export function stepDpoLosses(p: PairLogps /* each [B] */, beta: number): PairLossOut {
  return dpoSigmoidLoss(p, beta, 0);
}

/**
 * PRM loss: binary cross-entropy with logits at the step-end tokens (Lightman et al.; OpenRLHF PRMLoss with two
 * reward tokens), mean over the labelled positions:
 *   ℓ = Σ_{b,t} m_bt·( softplus(z_bt) − y_bt·z_bt ) / Σ m_bt      (= −y·log σ(z) − (1−y)·log(1−σ(z)))
 * logits z, labels y ∈ {0,1} (or soft labels in [0,1]), stepMask m ∈ {0,1}: [B, T] each → scalar.
 */
export function prmLoss(logits: tf.Tensor2D, labels: tf.Tensor2D, stepMask: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => {
    const per = tf.sub(tf.softplus(logits), tf.mul(labels, logits)); // [B, T]
    return tf.div(tf.sum(tf.mul(per, stepMask)), tf.maximum(tf.sum(stepMask), 1)) as tf.Scalar;
  });
}

/** A step's score from the PRM's logit: the probability that the step is correct, σ(z). */
export function stepScore(logit: number): number { return 1 / (1 + Math.exp(-logit)); }

/**
 * Token-level reward from step rewards (PRIME / verl: the step's reward on its last token):
 *   r_t = Σ_j r^(j)·[t = index(j)]
 * stepRewards[b][j], stepEnds[b][j] (token index of step j's last token, < T) → [B][T].
 */
export function placeStepRewards(stepRewards: readonly number[][], stepEnds: readonly number[][], T: number): number[][] {
  return stepRewards.map((rs, b) => {
    const row = new Array<number>(T).fill(0);
    rs.forEach((r, j) => {
      const t = stepEnds[b][j];
      if (!(t >= 0 && t < T)) throw new Error(`placeStepRewards: row ${b} step ${j} ends at token ${t}, outside 0..${T - 1}`);
      row[t] += r;
    });
    return row;
  });
}

/**
 * DeepSeekMath §4.1.3, the normalisation of process rewards: over ALL step rewards R of a group (the G outputs of one
 * question), r̃ = (r − mean(R)) / (std(R) + ε), std unbiased (torch.std, as verl's GRPO); a group with a single step
 * reward gets mean 0, std 1 (verl compute_grpo_outcome_advantage's rule for a group of one). stepRewards[b][k],
 * groupIds[b] → r̃ [b][k]. `scaleByStd: false` (Dr. GRPO) subtracts the mean only.
 */
export function normalizeStepRewards(stepRewards: readonly number[][], groupIds: readonly (string | number)[], eps = 1e-6, scaleByStd = true): number[][] {
  const byGroup = new Map<string | number, number[]>();
  stepRewards.forEach((rs, b) => { const g = byGroup.get(groupIds[b]) ?? []; g.push(...rs); byGroup.set(groupIds[b], g); });
  const stats = new Map<string | number, { mean: number; std: number }>();
  for (const [g, R] of byGroup) {
    if (R.length <= 1) { stats.set(g, { mean: 0, std: 1 }); continue; }
    const mean = R.reduce((a, x) => a + x, 0) / R.length;
    const std = Math.sqrt(R.reduce((a, x) => a + (x - mean) ** 2, 0) / (R.length - 1));
    stats.set(g, { mean, std });
  }
  return stepRewards.map((rs, b) => {
    const s = stats.get(groupIds[b])!;
    return rs.map((r) => (scaleByStd ? (r - s.mean) / (s.std + eps) : r - s.mean));
  });
}

/**
 * DeepSeekMath §4.1.3, the advantage of each token: the sum of the normalised rewards of the steps that end at or
 * after it, Â_t = Σ_{index(j) ≥ t} r̃^index(j); 0 on padding. normalized[b][k], stepEnds[b][k], mask [B][T] → [B][T].
 */
export function processAdvantages(normalized: readonly number[][], stepEnds: readonly number[][], mask: readonly number[][]): number[][] {
  return mask.map((mrow, b) => mrow.map((m, t) => {
    if (!m) return 0;
    let a = 0;
    normalized[b].forEach((r, j) => { if (stepEnds[b][j] >= t) a += r; });
    return a;
  }));
}
