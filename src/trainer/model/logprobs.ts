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
 * as max(z) − log(max(p)) (the largest p is exp(0)/Σ), the target's logit gathered, then
 *   logprob = z[target] − lse,   entropy = lse − Σ p·z,
 * with the gradients written out: d logprob/dz = onehot − p, d entropy/dz = −p·(z − Σ p·z) (the one-hot rows are made
 * only in the backward pass, and freed there). z [N, V], targets int32 [N] (constant).
 * → [N, 1] (logprob) or [N, 2] (logprob, entropy).
 */
function logprobEntropy(z: tf.Tensor2D, targets: tf.Tensor1D, withEntropy: boolean): tf.Tensor2D {
  const [N, V] = z.shape;
  return tf.customGrad(((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const x = args[0] as tf.Tensor2D, save = args[1] as tf.GradSaveFunc;
    const p = tf.softmax(x);
    const lse = tf.sub(tf.max(x, 1, true), tf.log(tf.max(p, 1, true)));
    const flat = tf.add(tf.mul(tf.range(0, N, 1, 'int32'), tf.scalar(V, 'int32')), tf.cast(targets, 'int32'));
    const lp = tf.sub(tf.reshape(tf.gather(tf.reshape(x, [N * V]), flat), [N, 1]), lse);
    const onehot = () => oneHotF32(targets, V);
    if (!withEntropy) {
      save([p]);
      return { value: lp, gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => [tf.tidy(() => tf.mul(tf.sub(onehot(), saved[0]), dy as tf.Tensor))] };
    }
    const ez = tf.sum(tf.mul(p, x), 1, true);
    save([x, p, ez]);
    return {
      value: tf.concat([lp, tf.sub(lse, ez)], 1),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => [tf.tidy(() => {
        const g = dy as tf.Tensor2D;
        const [sz, sp, sez] = saved;
        const dlp = tf.slice(g, [0, 0], [-1, 1]), dh = tf.slice(g, [0, 1], [-1, 1]);
        return tf.sub(tf.mul(tf.sub(onehot(), sp), dlp), tf.mul(tf.mul(sp, tf.sub(sz, sez)), dh));
      })],
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
  // every position's row, the last one with a dummy target (no [B, T−1, V] copy of the logits); its column is dropped
  let logits = tf.reshape(out.logits, [B * T, V]) as tf.Tensor2D;
  if (opts.temperature !== undefined && opts.temperature !== 1) logits = tf.div(logits, opts.temperature);
  const targets = tf.reshape(tf.concat([tf.slice(ids, [0, 1], [B, T - 1]), tf.zeros([B, 1], 'int32')], 1), [B * T]) as tf.Tensor1D;
  const cols = (x: tf.Tensor, c: number) => tf.slice(tf.reshape(tf.slice(x, [0, c], [-1, 1]), [B, T]), [0, 0], [B, T - 1]) as tf.Tensor2D;
  const res: TokenLogprobResult = { logprobs: undefined as unknown as tf.Tensor2D };
  if (opts.entropy) {
    const both = logprobEntropy(logits, targets, true);
    res.logprobs = cols(both, 0);
    res.entropy = cols(both, 1);
  } else {
    res.logprobs = cols(logprobEntropy(logits, targets, false), 0);
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
