/** What every model family's forward pass, log-prob and KV-cache methods take and return (gpt.ts, llama.ts). */
import type * as tf from '@tensorflow/tfjs-core';

export interface ForwardOptions {
  /** [B,T] 1 = real token, 0 = (left) padding. Omit when there is no left padding. */
  attentionMask?: tf.Tensor2D;
  /** also compute the value head (requires config.valueHead) */
  values?: boolean;
}

export interface ForwardResult {
  /** [B,T,V] next-token logits at every position */
  logits: tf.Tensor3D;
  /** [B,T] value estimate at every position (state = tokens ≤ t), when requested */
  values?: tf.Tensor2D;
}

export interface TokenLogprobOptions extends ForwardOptions {
  /** logits are divided by this before log-softmax (verl/TRL recompute old/ref log-probs at the sampling temperature). Default 1. */
  temperature?: number;
  /** also return the entropy of the (temperature-scaled) distribution at each position */
  entropy?: boolean;
}

export interface TokenLogprobResult {
  /** [B,T−1]: logprobs[:,t] = log π(ids[:,t+1] | ids[:,≤t]) */
  logprobs: tf.Tensor2D;
  /** [B,T−1]: entropy of π(· | ids[:,≤t]) */
  entropy?: tf.Tensor2D;
  /** [B,T−1]: value of the state ids[:,≤t] (the state in which token t+1 is chosen; verl's convention) */
  values?: tf.Tensor2D;
}

/**
 * Per-layer KV cache for incremental decoding. k, v: [B·H, Tc, hd]. Keys are stored untransposed because appending
 * along the middle axis is a cheap concat on wasm (its Concat copies row by row in JS: appending a column to
 * transposed keys [B·H, hd, Tc] cost 8192 copies per layer and step); they are transposed once per step for q·kᵀ.
 */
export interface KVCache {
  layers: { k: tf.Tensor3D; v: tf.Tensor3D }[];
  /** per row: 1 = real key, 0 = padding; length Tc */
  keyMask: number[][];
  /** per row: position of the next token */
  nextPos: number[];
  batch: number;
}
