/**
 * Token-level Direct Preference Optimization (TDPO; Zeng, Liu, Ma, Yang, Zhang & Wang, ICML 2024, arXiv 2404.11999),
 * as tensors (tfjs-core). One function per quantity of the paper, named as there; every function follows the authors'
 * code, Vance0124/Token-level-Direct-Preference-Optimization trainers.py @ 4a36a003 (docs/references.md#tdpo):
 *   `_tdpo_get_batch_logps` → tdpoBatchLogps (per-position sequential KL and log-prob margins),
 *   `tdpo_loss`             → tdpoLoss (TDPO1 and TDPO2).
 *
 * Paper notation (§4): for a completion y of prompt x,
 *   D_SeqKL(x, y; π_ref ‖ π_θ) = Σ_t D_KL(π_ref(·|[x, y<t]) ‖ π_θ(·|[x, y<t]))      (the sequential forward KL)
 *   u(x, y_w, y_l) = β log π_θ(y_w|x)/π_ref(y_w|x) − β log π_θ(y_l|x)/π_ref(y_l|x)      (DPO's reward difference)
 *   δ(x, y_w, y_l) = β D_SeqKL(x, y_l; π_ref‖π_θ) − β D_SeqKL(x, y_w; π_ref‖π_θ)
 *   L_TDPO1 = −E log σ(u − δ)
 *   L_TDPO2 = −E log σ(u − α·δ₂),  δ₂ = β D_SeqKL(y_l) − sg(β D_SeqKL(y_w))   (sg = stop-gradient; the code detaches
 *             the CHOSEN sequential KL: `alpha * (chosen_position_kl.detach() - rejected_position_kl)`)
 * The code computes β·(margin_c − margin_r + KL_c − KL_r) with margins = Σ_t (log π_θ − log π_ref) over completion tokens.
 * Authors' defaults (config/loss/tdpo.yaml): β = 0.1, α = 0.5, if_tdpo2 = true.
 *
 * Shapes: B = batch rows (the chosen rows then the rejected rows of a pair batch), T = sequence length, V = vocabulary.
 * The plain-number façade is ./referenceOffline.ts `tdpoLoss`.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import { logSigmoid } from './preference';
import { stopGradient } from './masked';
import { oneHotF32 } from '../model/ops';

type T1 = tf.Tensor1D;

/** log softmax over the last axis, composed (x − logΣexp x) so its gradient is plain arithmetic. [B,T,V] → [B,T,V] */
export function logSoftmaxLastAxis(logits: tf.Tensor3D): tf.Tensor3D {
  return tf.tidy(() => tf.sub(logits, tf.logSumExp(logits, -1, true)) as tf.Tensor3D);
}

export interface TdpoBatchLogps {
  /** Σ_t mask·(log π_θ(y_t) − log π_ref(y_t)) per row `[B]` (the code's `logps_margin`) */
  logpsMargin: T1;
  /** Σ_t mask·D_KL(π_ref(·|prefix_t) ‖ π_θ(·|prefix_t)) per row `[B]` = D_SeqKL (the code's `position_kl`) */
  positionKl: T1;
  /** Σ_t mask·log π_θ(y_t) per row `[B]` */
  logps: T1;
  /** per-position sequential KL term D_KL(π_ref ‖ π_θ) at each log-prob column, masked `[B, T−1]` (the trace `seq_kl`) */
  perPositionKl: tf.Tensor2D;
  /** per-token log π_θ(y_t), masked `[B, T−1]` */
  perTokenLogps: tf.Tensor2D;
  /** per-token log π_ref(y_t), masked `[B, T−1]` */
  perTokenRefLogps: tf.Tensor2D;
}

/**
 * `_tdpo_get_batch_logps` (trainers.py): from the policy's and the reference's logits at every position, the per-position
 * sequential KL Σ_v π_ref(v)(log π_ref(v) − log π_θ(v)) and the per-token log-prob margins, summed over the completion.
 * Shapes: logits, refLogits `[B, T, V]` (position t predicts token t+1); ids int32 `[B, T]`; mask `[B, T−1]` (1 on the
 * completion's log-prob columns, as batch.ts makeBatch builds it). Differentiable in `logits`; refLogits carry no gradient.
 */
export function tdpoBatchLogps(logits: tf.Tensor3D, refLogits: tf.Tensor3D, ids: tf.Tensor2D, mask: tf.Tensor2D): TdpoBatchLogps {
  return tf.tidy(() => {
    const [B, T, V] = logits.shape;
    const lg = tf.slice(logits, [0, 0, 0], [B, T - 1, V]) as tf.Tensor3D;             // logits[:, :-1, :]
    const rlg = tf.slice(refLogits, [0, 0, 0], [B, T - 1, V]) as tf.Tensor3D;
    const labels = tf.slice(ids, [0, 1], [B, T - 1]) as tf.Tensor2D;                   // labels[:, 1:]
    const onehot = tf.reshape(oneHotF32(tf.reshape(labels, [-1]) as tf.Tensor1D, V), [B, T - 1, V]);   // [B, T−1, V]
    const vocabLogps = logSoftmaxLastAxis(lg);                                         // [B, T−1, V]
    const refVocabLogps = logSoftmaxLastAxis(rlg);
    const refVocabPs = tf.exp(refVocabLogps);
    // per_position_kl = (reference_vocab_ps * (reference_vocab_logps - vocab_logps)).sum(-1)       [B, T−1]
    const perPositionKl = tf.mul(tf.sum(tf.mul(refVocabPs, tf.sub(refVocabLogps, vocabLogps)), -1), mask) as tf.Tensor2D;
    const perTokenLogps = tf.mul(tf.sum(tf.mul(vocabLogps, onehot), -1), mask) as tf.Tensor2D;
    const perTokenRefLogps = tf.mul(tf.sum(tf.mul(refVocabLogps, onehot), -1), mask) as tf.Tensor2D;
    return {
      logpsMargin: tf.sum(tf.sub(perTokenLogps, perTokenRefLogps), 1) as T1,
      positionKl: tf.sum(perPositionKl, 1) as T1,
      logps: tf.sum(perTokenLogps, 1) as T1,
      perPositionKl, perTokenLogps, perTokenRefLogps,
    };
  });
}

export interface TdpoLossOut {
  /** per-pair loss −log σ(β·logits) `[B]` */
  losses: T1;
  /** β·(margin_c + KL_c), the code's chosen "reward" (values = logps_margin + position_kl), no gradient needed */
  chosenRewards: T1;
  rejectedRewards: T1;
  /** the sigmoid's argument before β: margin_c − margin_r + (α·)(KL_c − KL_r) `[B]` */
  logits: T1;
}

/**
 * `tdpo_loss` (trainers.py): TDPO1 logits = (m_c − m_r) + (KL_c − KL_r); TDPO2 logits = (m_c − m_r) + α·(sg(KL_c) − KL_r);
 * losses = −log σ(β·logits). m = log-prob margin vs the reference, KL = D_SeqKL (tdpoBatchLogps). Shapes: all `[B]` → `[B]`.
 * The paper's L_TDPO1 = −log σ(u − δ) and L_TDPO2 = −log σ(u − α δ₂) (module comment).
 */
export function tdpoLoss(chosenLogpsMargin: T1, rejectedLogpsMargin: T1, chosenPositionKl: T1, rejectedPositionKl: T1, beta: number, alpha = 0.5, tdpo2 = true): TdpoLossOut {
  return tf.tidy(() => {
    const marginDiff = tf.sub(chosenLogpsMargin, rejectedLogpsMargin);
    const logits = (tdpo2
      ? tf.add(marginDiff, tf.mul(alpha, tf.sub(stopGradient(chosenPositionKl), rejectedPositionKl)))
      : tf.add(marginDiff, tf.sub(chosenPositionKl, rejectedPositionKl))) as T1;
    const losses = tf.neg(logSigmoid(tf.mul(beta, logits))) as T1;
    return {
      losses, logits,
      chosenRewards: tf.mul(beta, tf.add(chosenLogpsMargin, chosenPositionKl)) as T1,
      rejectedRewards: tf.mul(beta, tf.add(rejectedLogpsMargin, rejectedPositionKl)) as T1,
    };
  });
}
