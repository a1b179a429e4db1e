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
 * ids [B,T] → logprobs [B,T−1] with logprobs[:,t] = log softmax(logits[:,t]/temperature)[ids[:,t+1]] (and the entropy
 * of that distribution, and values, when asked).
 */
export function tokenLogprobs(model: ForwardModel, ids: tf.Tensor2D, opts: TokenLogprobOptions = {}): TokenLogprobResult {
  const [B, T] = ids.shape;
  const V = model.config.vocabSize;
  const out = model.forward(ids, opts);
  let logits = tf.slice(out.logits, [0, 0, 0], [B, T - 1, V]);
  if (opts.temperature !== undefined && opts.temperature !== 1) logits = tf.div(logits, opts.temperature);
  const logp = tf.logSoftmax(logits);
  const targets = oneHotF32(tf.reshape(tf.slice(ids, [0, 1], [B, T - 1]), [B * (T - 1)]) as tf.Tensor1D, V);
  const logprobs = tf.reshape(tf.sum(tf.mul(tf.reshape(logp, [B * (T - 1), V]), targets), 1), [B, T - 1]) as tf.Tensor2D;
  const res: TokenLogprobResult = { logprobs };
  if (opts.entropy) res.entropy = tf.neg(tf.sum(tf.mul(tf.exp(logp), logp), 2)) as tf.Tensor2D;
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
