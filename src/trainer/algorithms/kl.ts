/**
 * KL estimators between the policy and the reference model, per token (Schulman's k1/k2/k3).
 *
 * Reference: verl `core_algos.kl_penalty_forward` (L1867–1902 at volcengine/verl@b178a3cd; docs/references.md#kl-estimators):
 *   k1 | kl        : lp − ref
 *   abs            : |lp − ref|
 *   k2 | mse       : ½ (lp − ref)²
 *   k3 | low_var_kl: x = clamp(ref − lp, −20, 20);  k3 = clamp(eˣ − x − 1, −10, 10)
 * and `kl_penalty` (L1841): a name ending in '+' (e.g. 'k3+') keeps the forward value and takes k2's gradient
 * (straight-through estimator).
 * Only k3 is clamped (as in verl; OpenRLHF clamps every estimator to [−10, 10], TRL clamps none).
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import { stopGradient } from './masked';

export type KlKind = 'k1' | 'abs' | 'k2' | 'k3';
export type KlName = KlKind | 'kl' | 'mse' | 'low_var_kl' | `${KlKind}+` | 'low_var_kl+';

export const KL_KINDS: readonly KlKind[] = ['k1', 'abs', 'k2', 'k3'];

/** Map verl's aliases to our names; throws with the allowed values on an unknown name. */
export function normalizeKlName(name: string): { kind: KlKind; straightThrough: boolean } {
  const st = name.endsWith('+');
  const base = st ? name.slice(0, -1) : name;
  const alias: Record<string, KlKind> = { k1: 'k1', kl: 'k1', abs: 'abs', k2: 'k2', mse: 'k2', k3: 'k3', low_var_kl: 'k3' };
  const kind = alias[base];
  if (!kind) throw new Error(`unknown KL estimator "${name}": allowed k1 (kl), abs, k2 (mse), k3 (low_var_kl), each optionally with "+" (k2 gradient)`);
  return { kind, straightThrough: st };
}

/** kl_penalty_forward (verl). logp, refLogp: [B, T] → [B, T] (no masking: callers aggregate with the mask). */
export function klPenaltyForward(logp: tf.Tensor, refLogp: tf.Tensor, kind: KlKind): tf.Tensor {
  return tf.tidy(() => {
    switch (kind) {
      case 'k1': return tf.sub(logp, refLogp);
      case 'abs': return tf.abs(tf.sub(logp, refLogp));
      case 'k2': return tf.mul(0.5, tf.square(tf.sub(logp, refLogp)));
      case 'k3': {
        const x = tf.clipByValue(tf.sub(refLogp, logp), -20, 20);
        return tf.clipByValue(tf.sub(tf.sub(tf.exp(x), x), 1), -10, 10);
      }
      default: throw new Error(`unknown KL estimator ${String(kind)}`);
    }
  });
}

/**
 * kl_penalty (verl): the estimator named `name`; with a trailing '+', forward = that estimator, backward = k2's
 * gradient: k2 + sg(k − k2). logp, refLogp: [B, T] → [B, T].
 */
export function klPenalty(logp: tf.Tensor, refLogp: tf.Tensor, name: KlName | string): tf.Tensor {
  const { kind, straightThrough } = normalizeKlName(name);
  return tf.tidy(() => {
    const fwd = klPenaltyForward(logp, refLogp, kind);
    if (!straightThrough) return fwd;
    const k2 = klPenaltyForward(logp, refLogp, 'k2');
    return tf.add(k2, stopGradient(tf.sub(fwd, k2)));
  });
}
