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
 * Per-layer KV cache for incremental decoding. k, v: [B, Tc, K·hd] (K key/value heads; K = H for GPT), as the
 * attention op (attention.ts) reads them: no head transposes, and appending a step is a concat along the middle axis
 * (B row copies on wasm). On wasm / cpu the attention kernels also mirror the cache in their own memory between steps.
 */
export interface KVCache {
  layers: { k: tf.Tensor3D; v: tf.Tensor3D }[];
  /** per row: 1 = real key, 0 = padding; length Tc */
  keyMask: number[][];
  /** per row: position of the next token */
  nextPos: number[];
  batch: number;
}

/**
 * What the RL loop, sampling and evaluation need of a policy: GPT (gpt.ts, the built-in char model and GPT-2) and
 * Llama (llama.ts) both are one. Weights are named tensors; `clone` / `withValueHead` return the same family.
 */
export interface CausalLM {
  readonly family?: string;
  readonly config: { vocabSize: number; contextLength: number; dModel: number; valueHead?: boolean };
  forward(ids: tf.Tensor2D, opts?: ForwardOptions): ForwardResult;
  tokenLogprobs(ids: tf.Tensor2D, opts?: TokenLogprobOptions): TokenLogprobResult;
  responseLogprobs(ids: tf.Tensor2D, promptLength: number, opts?: TokenLogprobOptions): TokenLogprobResult;
  prefill(ids: number[][], mask?: number[][]): { cache: KVCache; logits: tf.Tensor2D; values?: tf.Tensor1D };
  decodeStep(cache: KVCache, tokens: number[]): { logits: tf.Tensor2D; values?: tf.Tensor1D };
  trainableVariables(): tf.Variable[];
  clone(trainable?: boolean): CausalLM;
  /** the same model plus a zero-initialised scalar value head (PPO's shared critic) */
  withValueHead(trainable?: boolean): CausalLM;
  copyWeightsFrom(other: CausalLM): void;
  getWeights(): Record<string, { shape: number[]; data: Float32Array }>;
  setWeights(weights: Record<string, { shape: number[]; data: Float32Array }>): void;
  dispose(): void;
  parameterCount(): number;
  flopsPerToken(T?: number): number;
  summary(): { parameters: number; flopsPerToken: number; [k: string]: unknown };
}
