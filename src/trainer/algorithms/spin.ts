/**
 * Self-Play fIne-tuNing (SPIN; Chen, Deng, Yuan, Ji & Gu, ICML 2024, arXiv 2401.01335), as tensors (tfjs-core).
 * Follows the authors' `SPINTrainer.spin_loss` (uclaml/SPIN spin/alignment/trainer.py @ 1c8755f3, docs/references.md#spin):
 *
 *   pi_logratios  = policy_real_logps − policy_generated_logps                     [B]
 *   ref_logratios = opponent_real_logps − opponent_generated_logps                 [B]
 *   logits        = pi_logratios − ref_logratios
 *   losses        = −log σ(β·logits)   ("sigmoid", the default)  |  relu(1 − β·logits)  ("hinge")
 *   real_rewards  = β·(policy_real − opponent_real),  generated_rewards = β·(policy_generated − opponent_generated)
 *
 * Paper (§4, L_SPIN): L(θ, θ_t) = E_{x∼q, y∼p_data(·|x), y'∼p_θt(·|x)} ℓ(λ log p_θ(y|x)/p_θt(y|x) − λ log p_θ(y'|x)/p_θt(y'|x)),
 * ℓ(t) = log(1 + exp(−t)) (logistic). The opponent p_θt is the previous iteration's model (iteration 0: the SFT model);
 * y is a real SFT demonstration, y' the opponent's own generation. The code's `beta` is the paper's λ (config 0.1).
 * Sequence log-probs are sums over the completion's tokens (prompt excluded). Shapes: all `[B]` → `[B]`.
 * The façade is ./referenceOffline.ts `spinLoss`.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import { logSigmoid } from './preference';

type T1 = tf.Tensor1D;

export type SpinLossType = 'sigmoid' | 'hinge';

export interface SpinLossOut {
  losses: T1;
  /** λ·(log p_θ(y) − log p_θt(y)) for the real completion `[B]` */
  realRewards: T1;
  /** λ·(log p_θ(y') − log p_θt(y')) for the generated completion `[B]` */
  generatedRewards: T1;
}

/** SPIN's loss (module comment): ℓ(λ·[(p_real − p_gen) − (o_real − o_gen)]). Inputs `[B]` (summed log-probs) → `[B]`. */
export function spinLoss(policyRealLogps: T1, policyGeneratedLogps: T1, opponentRealLogps: T1, opponentGeneratedLogps: T1, beta: number, lossType: SpinLossType = 'sigmoid'): SpinLossOut {
  return tf.tidy(() => {
    const logits = tf.sub(tf.sub(policyRealLogps, policyGeneratedLogps), tf.sub(opponentRealLogps, opponentGeneratedLogps));
    const bl = tf.mul(beta, logits);
    const losses = (lossType === 'hinge' ? tf.relu(tf.sub(1, bl)) : tf.neg(logSigmoid(bl))) as T1;
    return {
      losses,
      realRewards: tf.mul(beta, tf.sub(policyRealLogps, opponentRealLogps)) as T1,
      generatedRewards: tf.mul(beta, tf.sub(policyGeneratedLogps, opponentGeneratedLogps)) as T1,
    };
  });
}
