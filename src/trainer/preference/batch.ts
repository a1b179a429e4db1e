/**
 * Turning (prompt, completion) text into model batches and sequence log-probs for the preference methods and the
 * reward model.
 *
 * Sequence layout (the same as SFT and the RL sampler): [BOS] prompt-tokens completion-tokens [EOS], RIGHT-padded with
 * PAD to the longest row (causality makes right padding exact without an attention mask). The completion's tokens
 * are the completion's characters followed by EOS (so a model learns to stop), `length` = |completion| + 1.
 * With p = 1 + |prompt| the index of the first completion token, `tokenLogprobs` column p − 1 + i scores completion
 * token i, so the response mask over the T − 1 log-prob columns is 1 on columns p − 1 … p − 2 + length.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { CausalLM } from '../model/types';

/**
 * What the preference methods need of a tokenizer: the built-in character tokenizer or a pretrained model's
 * (tokenizers/index.ts TextTokenizer). Prompt and completion are encoded separately, as TRL's DPO `tokenize_row` does.
 */
export interface SeqTokenizer {
  encode(text: string): number[];
  display(ids: ArrayLike<number>): string[];
  /** absent: the model has no BOS (e.g. Qwen2) / no EOS; a pretrained tokenizer may lack either */
  readonly bos?: number;
  readonly eos?: number;
  readonly pad: number;
}
import type { SourceRef } from './data';

export interface EncodedSeq {
  ids: number[];
  /** index of the first completion token in ids */
  promptLen: number;
  /** number of completion tokens (incl. EOS) */
  length: number;
}

/** Encode one (prompt, completion). Throws with file:line (when known) for characters outside the vocabulary or an overlong sequence. */
export function encodeSeq(tok: SeqTokenizer, prompt: string, completion: string, contextLength: number, where?: SourceRef, field = 'completion'): EncodedSeq {
  const loc = where ? `${where.file}:${where.line}: ` : '';
  let p: number[], c: number[];
  try { p = tok.encode(prompt); } catch (e) { throw new Error(`${loc}field "prompt": ${(e as Error).message}`); }
  try { c = tok.encode(completion); } catch (e) { throw new Error(`${loc}field "${field}": ${(e as Error).message}`); }
  const bos = tok.bos !== undefined && tok.bos >= 0 ? [tok.bos] : [];
  const eos = tok.eos !== undefined && tok.eos >= 0 ? [tok.eos] : [];
  const ids = [...bos, ...p, ...c, ...eos];
  if (ids.length > contextLength) {
    throw new Error(`${loc}prompt + ${field} are ${ids.length} tokens with BOS/EOS, more than model.contextLength ${contextLength}: shorten the text or raise contextLength`);
  }
  return { ids, promptLen: bos.length + p.length, length: c.length + eos.length };
}

/** The same sequence without its trailing EOS (a completion that continues: a middle step of Step-DPO). */
export function withoutEos(s: EncodedSeq, tok: SeqTokenizer): EncodedSeq {
  if (tok.eos === undefined || tok.eos < 0 || s.ids[s.ids.length - 1] !== tok.eos || s.length < 2) return s;
  return { ids: s.ids.slice(0, -1), promptLen: s.promptLen, length: s.length - 1 };
}

export interface SeqBatch {
  /** int32 [B, T] right-padded */
  ids: tf.Tensor2D;
  /** float32 [B, T−1]: 1 on the completion's log-prob columns */
  mask: tf.Tensor2D;
  /** float32 [B, T]: 1 at the last real token (EOS) of each row: where a reward model reads its score */
  lastTok: tf.Tensor2D;
  /** completion lengths (incl. EOS) */
  lengths: number[];
  seqs: EncodedSeq[];
  T: number;
}

/** Build a right-padded batch. The caller disposes ids/mask/lastTok (disposeBatch). */
export function makeBatch(seqs: EncodedSeq[], pad: number): SeqBatch {
  const B = seqs.length;
  const T = Math.max(2, ...seqs.map((s) => s.ids.length));
  const ids = new Int32Array(B * T).fill(pad);
  const mask = new Float32Array(B * (T - 1));
  const last = new Float32Array(B * T);
  seqs.forEach((s, b) => {
    ids.set(s.ids, b * T);
    for (let i = 0; i < s.length; i++) mask[b * (T - 1) + s.promptLen - 1 + i] = 1;
    last[b * T + s.ids.length - 1] = 1;
  });
  return {
    ids: tf.tensor2d(ids, [B, T], 'int32'),
    mask: tf.tensor2d(mask, [B, T - 1], 'float32'),
    lastTok: tf.tensor2d(last, [B, T], 'float32'),
    lengths: seqs.map((s) => s.length),
    seqs,
    T,
  };
}

export function disposeBatch(b: SeqBatch): void { tf.dispose([b.ids, b.mask, b.lastTok]); }

/**
 * Per-token log-probs of each row's completion and their sum (TRL `concatenated_forward` / `_get_batch_logps`:
 * Σ over completion tokens, prompt excluded). Differentiable. → perToken [B, T−1] (0 outside the completion), sum [B].
 */
export function completionLogps(model: CausalLM, b: SeqBatch): { perToken: tf.Tensor2D; sum: tf.Tensor1D } {
  return tf.tidy(() => {
    const lp = model.tokenLogprobs(b.ids).logprobs;
    const perToken = tf.mul(lp, b.mask) as tf.Tensor2D;
    return { perToken, sum: tf.sum(perToken, 1) as tf.Tensor1D };
  });
}

/** Scalar reward of each row from a value-head model, read at the last real token (TRL / OpenRLHF reward models). → [B] */
export function lastTokenValues(model: CausalLM, b: SeqBatch): tf.Tensor1D {
  return tf.tidy(() => {
    const v = model.forward(b.ids, { values: true }).values!;
    return tf.sum(tf.mul(v, b.lastTok), 1) as tf.Tensor1D;
  });
}

/** Row b's completion values from a [B, T−1] matrix (host arrays for rollout traces). */
export function completionSlice(m: number[][] | Float32Array, b: number, s: EncodedSeq, T: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const col = s.promptLen - 1 + i;
    out.push(Array.isArray(m) ? m[b][col] : (m as Float32Array)[b * (T - 1) + col]);
  }
  return out;
}
