/**
 * Per-token log-probabilities from any model's forward pass (GPT, Llama): the one implementation both classes use.
 * Gather-free (one-hot products), so differentiable on every backend including wasm.
 */
import * as tf from '@tensorflow/tfjs-core';
import { oneHotF32 } from './ops';
import type { ForwardOptions, ForwardResult, TokenLogprobOptions, TokenLogprobResult } from './types';

export interface ForwardModel {
  readonly config: { vocabSize: number };
  forward(ids: tf.Tensor2D, opts?: ForwardOptions): ForwardResult;
}

/**
 * Log-prob of the target (and the entropy) of each row of logits z [N, V], fused: one softmax p (tfjs-backend-wasm's
 * Softmax is a vectorised kernel; its Exp, which logSoftmax uses twice, is ~4× slower per element), logsumexp from it
 * as max(z) − log(max(p)) (the largest p is exp(0)/Σ), then
 *   logprob = z[target] − lse,   entropy = lse − Σ p·z,
 * with the gradients written out: d logprob/dz = onehot − p, d entropy/dz = −p·(z − Σ p·z).
 * z [N, V], targets one-hot [N, V] (a constant: saved, not an input, so no gradient is made for it).
 * → [N, 1] (logprob) or [N, 2] (logprob, entropy).
 */
function logprobEntropy(z: tf.Tensor2D, onehot: tf.Tensor2D, withEntropy: boolean): tf.Tensor2D {
  return tf.customGrad(((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const x = args[0] as tf.Tensor2D, save = args[1] as tf.GradSaveFunc;
    const p = tf.softmax(x);
    const lse = tf.sub(tf.max(x, 1, true), tf.log(tf.max(p, 1, true)));
    const lp = tf.sub(tf.sum(tf.mul(x, onehot), 1, true), lse);
    if (!withEntropy) {
      save([onehot, p]);
      return { value: lp, gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => [tf.mul(tf.sub(saved[0], saved[1]), dy as tf.Tensor)] };
    }
    const ez = tf.sum(tf.mul(p, x), 1, true);
    save([x, onehot, p, ez]);
    return {
      value: tf.concat([lp, tf.sub(lse, ez)], 1),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const g = dy as tf.Tensor2D;
        const [sz, soh, sp, sez] = saved;
        const dlp = tf.slice(g, [0, 0], [-1, 1]), dh = tf.slice(g, [0, 1], [-1, 1]);
        return [tf.sub(tf.mul(tf.sub(soh, sp), dlp), tf.mul(tf.mul(sp, tf.sub(sz, sez)), dh))];
      },
    };
  }) as Parameters<typeof tf.customGrad>[0])(z) as tf.Tensor2D;
}

/**
 * ids [B,T] → logprobs [B,T−1] with logprobs[:,t] = log softmax(logits[:,t]/temperature)[ids[:,t+1]] (and the entropy
 * of that distribution, and values, when asked).
 */
export function tokenLogprobs(model: ForwardModel, ids: tf.Tensor2D, opts: TokenLogprobOptions = {}): TokenLogprobResult {
  const [B, T] = ids.shape;
  const V = model.config.vocabSize;
  const out = model.forward(ids, opts);
  let logits = tf.reshape(tf.slice(out.logits, [0, 0, 0], [B, T - 1, V]), [B * (T - 1), V]) as tf.Tensor2D;
  if (opts.temperature !== undefined && opts.temperature !== 1) logits = tf.div(logits, opts.temperature);
  const targets = oneHotF32(tf.reshape(tf.slice(ids, [0, 1], [B, T - 1]), [B * (T - 1)]) as tf.Tensor1D, V);
  const res: TokenLogprobResult = { logprobs: undefined as unknown as tf.Tensor2D };
  if (opts.entropy) {
    const both = logprobEntropy(logits, targets, true);
    res.logprobs = tf.reshape(tf.slice(both, [0, 0], [-1, 1]), [B, T - 1]) as tf.Tensor2D;
    res.entropy = tf.reshape(tf.slice(both, [0, 1], [-1, 1]), [B, T - 1]) as tf.Tensor2D;
  } else {
    res.logprobs = tf.reshape(logprobEntropy(logits, targets, false), [B, T - 1]) as tf.Tensor2D;
  }
  if (out.values) res.values = tf.slice(out.values, [0, 0], [B, T - 1]);
  return res;
}

/** The response part of ids [B, P+N] (prompt left-padded to P): → tensors [B, N], column i = response token i. */
export function responseLogprobs(model: ForwardModel, ids: tf.Tensor2D, promptLength: number, opts: TokenLogprobOptions = {}): TokenLogprobResult {
  const [B, T] = ids.shape;
  const N = T - promptLength;
  if (N <= 0 || promptLength < 1) throw new Error(`model: responseLogprobs needs 1 ≤ promptLength < T (got P=${promptLength}, T=${T})`);
  const r = tokenLogprobs(model, ids, opts);
  const cut = (x: tf.Tensor2D): tf.Tensor2D => tf.slice(x, [0, promptLength - 1], [B, N]);
  return { logprobs: cut(r.logprobs), entropy: r.entropy && cut(r.entropy), values: r.values && cut(r.values) };
}
