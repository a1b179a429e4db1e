/**
 * The padded batch layout of rollout samples and the response-column forward pass: used by the RL step (step.ts,
 * through rollout.ts's re-export) and by EEPO's unlearning step (eepo.ts). Its own module so that eepo.ts, which
 * rollout.ts imports, does not import rollout.ts back.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { CausalLM } from '../model/types';
import { PAD } from '../tokenizer';

/** What pack reads of a sample (a RolloutSample is one): prompt ids, response tokens, the optional loss mask. */
export interface PackableSample { promptIds: number[]; tokens: number[]; lossMask?: number[] }

/** Padded layout of a set of samples: prompt LEFT-padded to P, response RIGHT-padded to N (as the sampler lays it out). */
export interface PackedBatch {
  ids: number[][];
  attentionMask: number[][];
  responseMask: number[][];
  P: number;
  N: number;
}

export function pack(samples: readonly PackableSample[], pad = PAD): PackedBatch {
  const P = Math.max(...samples.map((s) => s.promptIds.length));
  const N = Math.max(1, ...samples.map((s) => s.tokens.length));
  const ids: number[][] = [], attentionMask: number[][] = [], responseMask: number[][] = [];
  for (const s of samples) {
    const lp = P - s.promptIds.length, n = s.tokens.length;
    ids.push([...Array(lp).fill(pad), ...s.promptIds, ...s.tokens, ...Array(N - n).fill(pad)]);
    attentionMask.push([...Array(lp).fill(0), ...Array(s.promptIds.length).fill(1), ...Array(n).fill(1), ...Array(N - n).fill(0)]);
    // multi-turn episodes: environment tokens stay in the attention (they are context) but leave the response mask
    responseMask.push([...(s.lossMask ?? Array(n).fill(1)), ...Array(N - n).fill(0)]);
  }
  return { ids, attentionMask, responseMask, P, N };
}

/**
 * Per-token log-probs (and entropy / values) of the response part: model.tokenLogprobs over the whole sequence, then
 * columns P−1 … P+N−2 (response token i at index P+i is predicted at column P+i−1). Differentiable.
 * → [B, N] each.
 */
export function responseForward(model: CausalLM, batch: { ids: tf.Tensor2D; attentionMask: tf.Tensor2D }, P: number, N: number, o: { temperature: number; entropy?: boolean; values?: boolean }): { logprobs: tf.Tensor2D; entropy?: tf.Tensor2D; values?: tf.Tensor2D } {
  const B = batch.ids.shape[0];
  const r = model.tokenLogprobs(batch.ids, { attentionMask: batch.attentionMask, temperature: o.temperature, entropy: o.entropy, values: o.values });
  const sl = (t: tf.Tensor2D) => tf.slice(t, [0, P - 1], [B, N]) as tf.Tensor2D;
  return { logprobs: sl(r.logprobs), entropy: r.entropy ? sl(r.entropy) : undefined, values: r.values ? sl(r.values) : undefined };
}
