/**
 * Batched generation with a KV cache: temperature, top-p, top-k, max new tokens, stop at EOS, greedy or sampled, seeded.
 *
 * Log-prob convention (same as verl / TRL, which recompute old and ref log-probs with logits / temperature):
 *   logprob[t] = log softmax(logits_t / τ)[token_t], τ = the sampling temperature (τ = 1 for greedy decoding),
 *   computed BEFORE top-p / top-k truncation, i.e. under the policy at the training temperature, not under the truncated
 *   sampling distribution. entropy[t] is the entropy of that same softmax(logits_t / τ).
 * So `model.responseLogprobs(..., { temperature: τ })` on the returned ids reproduces `logprobs` (tested to 1e-4).
 *
 * Layout of the result (B rows, P = padded prompt width, N = generated width):
 *   ids           [B, P+N]  prompt LEFT-padded with PAD, then the response, right-padded with PAD after EOS
 *   attentionMask [B, P+N]  1 for real prompt tokens and every response position up to and including EOS, else 0
 *   responseMask  [B, N]    1 for generated tokens (including the EOS token), 0 after it
 */
import * as tf from '@tensorflow/tfjs-core';
import type { KVCache } from './model/types';
import { ModelWeights } from './model/weights';
import { Rng } from './rng';
import { EOS, PAD } from './tokenizer';

export interface SampleOptions {
  maxNewTokens: number;
  /** 0 = greedy (argmax). Default 1. */
  temperature?: number;
  /** nucleus sampling: keep the smallest set of tokens with cumulative probability ≥ topP (1 = off) */
  topP?: number;
  /** keep the k most likely tokens (0 = off) */
  topK?: number;
  /** seed or generator (the same seed gives the same samples on the same backend) */
  seed?: number;
  rng?: Rng;
  /** stop a row at EOS (default true) */
  stopAtEos?: boolean;
  /** also record the value head's estimate at each generated token's state (model needs valueHead) */
  values?: boolean;
  /** token ids never sampled (e.g. PAD, BOS); default [pad, 1] (the char tokenizer's PAD and BOS) */
  banned?: number[];
  /** end-of-sequence id (default: the char tokenizer's EOS); pretrained tokenizers pass theirs */
  eos?: number;
  /** id used for padding (default: the char tokenizer's PAD); masked out everywhere */
  pad?: number;
  /** also end a row at any of these ids (kept as the row's last token; `finished` stays false): the multi-turn
   *  rollout stops a policy turn at the end of a tool call (rl/multiturn.ts, envs/types.ts) */
  stopTokens?: number[];
}

/** What generation needs of a model: GPT (gpt.ts) and Llama (llama.ts) both are one. */
export interface Decoder {
  readonly config: { vocabSize: number; contextLength: number; valueHead?: boolean };
  prefill(ids: number[][], mask?: number[][]): { cache: KVCache; logits: tf.Tensor2D; values?: tf.Tensor1D };
  decodeStep(cache: KVCache, tokens: number[]): { logits: tf.Tensor2D; values?: tf.Tensor1D };
}

export interface GenerationResult {
  /** prompts as given (unpadded) */
  prompts: number[][];
  /** generated ids per row, EOS included when produced */
  tokens: number[][];
  /** per generated token: log softmax(logits/τ)[token] (see file comment) */
  logprobs: number[][];
  /** per generated token: entropy of softmax(logits/τ) */
  entropy: number[][];
  /** per generated token: value of the state the token was chosen in (with opts.values) */
  values?: number[][];
  /** true when the row ended with EOS; false = truncated at maxNewTokens / context */
  finished: boolean[];
  ids: number[][];
  attentionMask: number[][];
  responseMask: number[][];
  promptLength: number;
  /** N = the width of the response part of ids */
  responseLength: number;
  /** τ used for logprobs (1 for greedy) */
  temperature: number;
}

/** Reused float64 buffers of pickToken (one per slot; the sampler is synchronous): `n` numbers, contents undefined. */
const buffers: Float64Array[] = [];
/** pickToken's banned-id mask, all zero between calls */
let bannedMask = new Uint8Array(0);
function scratch(n: number, slot: number): Float64Array {
  let b = buffers[slot];
  if (!b || b.length < n) { b = new Float64Array(n); buffers[slot] = b; }
  return b.length === n ? b : b.subarray(0, n);
}

/** log-softmax, entropy and the chosen token for one row of logits (float64 math). */
export function pickToken(logits: ArrayLike<number>, opts: { temperature: number; topP: number; topK: number; banned: number[] }, rng: Rng | undefined): { token: number; logprob: number; entropy: number } {
  const V = logits.length;
  const tau = opts.temperature > 0 ? opts.temperature : 1;
  const z = scratch(V, 0);
  let max = -Infinity;
  for (let i = 0; i < V; i++) { z[i] = logits[i] / tau; if (z[i] > max) max = z[i]; }
  let sum = 0;
  for (let i = 0; i < V; i++) sum += Math.exp(z[i] - max);
  const lse = max + Math.log(sum);
  const logp = scratch(V, 3);
  // p[i] = exp(logp[i]), computed once (the sums and the sampling walk below use these same values)
  const p = scratch(V, 1);
  let entropy = 0;
  for (let i = 0; i < V; i++) { logp[i] = z[i] - lse; p[i] = Math.exp(logp[i]); if (p[i] > 0) entropy -= p[i] * logp[i]; }
  let banned = bannedMask;
  if (banned.length !== V) banned = bannedMask = new Uint8Array(V);
  for (const b of opts.banned) if (b >= 0 && b < V) banned[b] = 1;
  let token: number;
  if (rng && opts.temperature > 0 && opts.topK <= 0 && opts.topP >= 1) {
    token = sampleSorted(logp, p, banned, rng);
    for (const b of opts.banned) if (b >= 0 && b < V) banned[b] = 0;
    return { token, logprob: logp[token], entropy };
  }
  const allowed: number[] = [];
  for (let i = 0; i < V; i++) if (!banned[i]) allowed.push(i);
  for (const b of opts.banned) if (b >= 0 && b < V) banned[b] = 0;
  if (opts.temperature <= 0 || !rng) {
    token = allowed[0];
    for (const i of allowed) if (logp[i] > logp[token]) token = i;
  } else {
    let cand = allowed.slice().sort((a, b) => logp[b] - logp[a] || a - b);
    if (opts.topK > 0) cand = cand.slice(0, opts.topK);
    let mass = 0;
    for (const i of cand) mass += p[i];
    if (opts.topP < 1) {
      const keep: number[] = [];
      let cum = 0;
      for (const i of cand) { keep.push(i); cum += p[i] / mass; if (cum >= opts.topP) break; }
      cand = keep;
      mass = 0;
      for (const i of cand) mass += p[i];
    }
    let u = rng.next() * mass;
    token = cand[cand.length - 1];
    for (const i of cand) { u -= p[i]; if (u <= 0) { token = i; break; } }
  }
  return { token, logprob: logp[token], entropy };
}

/**
 * Sampling without top-k / top-p, exactly as the general path does it (candidates in order of logp descending, ties
 * by index; mass = Σ p in that order; u = r·mass; walk down the candidates subtracting p until u ≤ 0) but without
 * sorting the candidates: the sum and the walk only need the p values in descending order, which a native sort of a
 * Float64Array gives (tokens with equal p add the same number whatever their order); the token at the rank where the
 * walk stops is then found among the candidates with that p (ordered by logp, then index). Same token, bit for bit.
 */
function sampleSorted(logp: Float64Array, p: Float64Array, banned: Uint8Array, rng: Rng): number {
  const V = p.length;
  let n = 0;
  const ps = scratch(V, 2);
  for (let i = 0; i < V; i++) if (!banned[i]) ps[n++] = p[i];
  const sorted = ps.subarray(0, n).sort(); // ascending: the candidates' order is sorted[n − 1], sorted[n − 2], ...
  let mass = 0;
  for (let r = n - 1; r >= 0; r--) mass += sorted[r];
  let u = rng.next() * mass;
  let stop = 0; // rank in descending order
  for (; stop < n; stop++) { u -= sorted[n - 1 - stop]; if (u <= 0) break; }
  const order = (a: number, b: number) => logp[b] - logp[a] || a - b;
  if (stop >= n) {
    // the walk ran out (rounding): the last candidate
    let last = -1;
    for (let i = 0; i < V; i++) if (!banned[i] && (last < 0 || order(last, i) < 0)) last = i;
    return last;
  }
  const pv = sorted[n - 1 - stop];
  let first = stop; // first descending rank holding the value pv
  while (first > 0 && sorted[n - first] === pv) first--;
  const tied: number[] = [];
  for (let i = 0; i < V; i++) if (!banned[i] && p[i] === pv) tied.push(i);
  return tied.sort(order)[stop - first];
}

/**
 * Generate continuations of a batch of prompts (token ids, BOS included by the caller) with a KV cache.
 * No gradients; all intermediate tensors are disposed.
 */
export function generate(model: Decoder, prompts: number[][], opts: SampleOptions): GenerationResult {
  const B = prompts.length;
  if (B === 0) throw new Error('generate: no prompts');
  const temperature = opts.temperature ?? 1;
  const tau = temperature > 0 ? temperature : 1;
  const pad = opts.pad ?? PAD, eos = opts.eos ?? EOS;
  const pick = { temperature, topP: opts.topP ?? 1, topK: opts.topK ?? 0, banned: opts.banned ?? [pad, 1] };
  const rng = temperature > 0 ? (opts.rng ?? new Rng(opts.seed ?? 0)) : undefined;
  const stopAtEos = opts.stopAtEos ?? true;
  const P = Math.max(...prompts.map((p) => p.length));
  if (P === 0) throw new Error('generate: empty prompt (include BOS)');
  const maxNew = Math.min(opts.maxNewTokens, model.config.contextLength - P);
  if (maxNew <= 0) throw new Error(`generate: prompt length ${P} leaves no room in contextLength ${model.config.contextLength}`);
  const wantValues = Boolean(opts.values);
  if (wantValues && !model.config.valueHead) throw new Error('generate: values requested but the model has no value head');

  const padded = prompts.map((p) => [...Array(P - p.length).fill(pad), ...p]);
  const pmask = prompts.map((p) => [...Array(P - p.length).fill(0), ...Array(p.length).fill(1)]);
  const tokens: number[][] = prompts.map(() => []);
  const logprobs: number[][] = prompts.map(() => []);
  const entropy: number[][] = prompts.map(() => []);
  const values: number[][] | undefined = wantValues ? prompts.map(() => []) : undefined;
  const done = prompts.map(() => false);
  const finished = prompts.map(() => false);

  const pre = model.prefill(padded, pmask);
  const cache = pre.cache;
  let logitsT = pre.logits;
  let valuesT = pre.values;
  let N = 0;
  try {
    for (let step = 0; step < maxNew; step++) {
      const L = logitsT.dataSync();
      const Vv = valuesT ? valuesT.dataSync() : undefined;
      const V = model.config.vocabSize;
      const next: number[] = [];
      for (let b = 0; b < B; b++) {
        if (done[b]) { next.push(pad); continue; }
        const r = pickToken(L.subarray(b * V, (b + 1) * V), pick, rng);
        tokens[b].push(r.token);
        logprobs[b].push(r.logprob);
        entropy[b].push(r.entropy);
        if (values && Vv) values[b].push(Vv[b]);
        next.push(r.token);
        if (stopAtEos && r.token === eos) { done[b] = true; finished[b] = true; }
        else if (opts.stopTokens?.includes(r.token)) done[b] = true;
      }
      N = step + 1;
      logitsT.dispose();
      valuesT?.dispose();
      valuesT = undefined;
      if (done.every(Boolean) || step === maxNew - 1) { logitsT = tf.zeros([1, 1]); break; }
      const o = model.decodeStep(cache, next);
      logitsT = o.logits;
      valuesT = o.values;
    }
  } finally {
    logitsT.dispose();
    valuesT?.dispose();
    ModelWeights.disposeCache(cache);
  }
  const ids: number[][] = [];
  const attentionMask: number[][] = [];
  const responseMask: number[][] = [];
  for (let b = 0; b < B; b++) {
    const n = tokens[b].length;
    ids.push([...padded[b], ...tokens[b], ...Array(N - n).fill(pad)]);
    attentionMask.push([...pmask[b], ...Array(n).fill(1), ...Array(N - n).fill(0)]);
    responseMask.push([...Array(n).fill(1), ...Array(N - n).fill(0)]);
  }
  return { prompts: prompts.map((p) => p.slice()), tokens, logprobs, entropy, values, finished, ids, attentionMask, responseMask, promptLength: P, responseLength: N, temperature: tau };
}

/** What `sampleGroups` needs of a tokenizer. */
export interface TextCodec {
  encode(text: string, opts?: { bos?: boolean }): number[];
  decode(ids: ArrayLike<number>): string;
}

/**
 * `n` decoded samples for each prompt text (BOS added), generated `chunk` rows at a time over the prompts repeated
 * n times in order (prompt 0 × n, prompt 1 × n, …), with one generator threaded through all chunks: the same rows and
 * chunking give the same samples. Returns them grouped per prompt, with whether each ended with EOS.
 */
export function sampleGroups(model: Decoder, tok: TextCodec, prompts: string[], n: number, opts: SampleOptions, chunk = 256): { texts: string[][]; finished: boolean[][] } {
  const rows: number[][] = [];
  for (const p of prompts) { const ids = tok.encode(p, { bos: true }); for (let s = 0; s < n; s++) rows.push(ids); }
  const texts: string[][] = prompts.map(() => []), finished: boolean[][] = prompts.map(() => []);
  for (let i = 0; i < rows.length; i += chunk) {
    const g = generate(model, rows.slice(i, i + chunk), opts);
    g.tokens.forEach((t, j) => {
      const p = Math.floor((i + j) / n);
      texts[p].push(tok.decode(t));
      finished[p].push(g.finished[j]);
    });
  }
  return { texts, finished };
}
