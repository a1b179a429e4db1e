/**
 * GPT-style causal transformer in raw tfjs ops (no tfjs-layers), trainable on every backend including wasm.
 *
 *   ids [B,T] ─ token emb (oneHot·wte) + position emb (oneHot(pos)·wpe) ─ n_layer × pre-LN block ─ ln_f ─┬─ lm_head → logits [B,T,V]
 *     block: x += attn(ln_1(x)); x += mlp(ln_2(x));  attn = causal multi-head self-attention; mlp = GELU(x·W_fc)·W_proj     └─ value_head → values [B,T]
 *
 * Weights follow GPT-2's names (`wte.weight`, `h.0.attn.c_attn.weight`, ...) and its layout (Conv1D: weight [in, out]);
 * `lm_head.weight` is [D, V] (untied from wte). Init as GPT-2 / nanoGPT: N(0, 0.02) for every matrix and embedding,
 * residual projections (attn.c_proj, mlp.c_proj) N(0, 0.02/√(2·n_layer)), biases 0, LayerNorm γ=1 β=0. The init uses
 * a seeded JS generator, so the same seed gives the same weights on every backend.
 *
 * Padding: batches may be LEFT-padded (prompts of different lengths); pass `attentionMask` [B,T] (1 = real token).
 * Positions are then cumsum(mask)−1 per row, and padded keys are masked out, so a left-padded row computes exactly what
 * the unpadded row would. Right padding needs no mask (causality): later pads never influence earlier positions.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Rng, hashString } from '../rng';
import { embed, gelu, layerNorm, linear, mm } from './ops';
import { responseLogprobs, tokenLogprobs } from './logprobs';
import { attention } from './attention';
import { ModelWeights, type WeightInit, type Weights } from './weights';
import type { ForwardOptions, ForwardResult, KVCache, TokenLogprobOptions, TokenLogprobResult } from './types';

export interface GPTConfig {
  vocabSize: number;
  /** maximum sequence length (prompt + response) */
  contextLength: number;
  dModel: number;
  nHeads: number;
  nLayers: number;
  /** MLP hidden size = mlpRatio · dModel (GPT-2: 4) */
  mlpRatio?: number;
  /** add a scalar value head on the final hidden state (PPO critic sharing the trunk) */
  valueHead?: boolean;
  layerNormEps?: number;
}

export type { ForwardOptions, ForwardResult, KVCache, TokenLogprobOptions, TokenLogprobResult } from './types';

export class GPT extends ModelWeights {
  readonly config: Required<GPTConfig>;

  private constructor(config: GPTConfig, trainable: boolean, init: WeightInit) {
    const c = GPT.fullConfig(config);
    if (c.dModel % c.nHeads !== 0) throw new Error(`model: dModel (${c.dModel}) must be divisible by nHeads (${c.nHeads})`);
    super('model', GPT.shapes(c), trainable, init);
    this.config = c;
  }

  /** The config with its defaults filled in. */
  static fullConfig(config: GPTConfig): Required<GPTConfig> {
    return { mlpRatio: 4, valueHead: false, layerNormEps: 1e-5, ...config };
  }

  /** Names and shapes of all weights, in a fixed order. */
  static shapes(c: Required<GPTConfig>): [string, number[]][] {
    const D = c.dModel, V = c.vocabSize, F = c.mlpRatio * c.dModel;
    const out: [string, number[]][] = [['wte.weight', [V, D]], ['wpe.weight', [c.contextLength, D]]];
    for (let l = 0; l < c.nLayers; l++) {
      const p = `h.${l}.`;
      out.push([p + 'ln_1.weight', [D]], [p + 'ln_1.bias', [D]],
        [p + 'attn.c_attn.weight', [D, 3 * D]], [p + 'attn.c_attn.bias', [3 * D]],
        [p + 'attn.c_proj.weight', [D, D]], [p + 'attn.c_proj.bias', [D]],
        [p + 'ln_2.weight', [D]], [p + 'ln_2.bias', [D]],
        [p + 'mlp.c_fc.weight', [D, F]], [p + 'mlp.c_fc.bias', [F]],
        [p + 'mlp.c_proj.weight', [F, D]], [p + 'mlp.c_proj.bias', [D]]);
    }
    out.push(['ln_f.weight', [D]], ['ln_f.bias', [D]], ['lm_head.weight', [D, V]]);
    if (c.valueHead) out.push(['value_head.weight', [D, 1]], ['value_head.bias', [1]]);
    return out;
  }

  /** A new model with GPT-2 initialisation from `seed` (same seed → same weights on every backend). */
  static create(config: GPTConfig, seed = 0): GPT {
    const nLayers = config.nLayers;
    return new GPT(config, true, (name, shape) => {
      const n = shape.reduce((a, b) => a * b, 1);
      const out = new Float32Array(n);
      if (name.endsWith('.bias')) return out;
      if (/ln_\d\.weight$|ln_f\.weight$/.test(name)) return out.fill(1);
      const std = /c_proj\.weight$/.test(name) ? 0.02 / Math.sqrt(2 * nLayers) : 0.02;
      const rng = new Rng((seed * 1000003) ^ hashString(name));
      for (let i = 0; i < n; i++) out[i] = rng.normal() * std;
      return out;
    });
  }

  /** A model with the given weights (e.g. from a checkpoint). Every weight of the architecture must be present with its shape. */
  static fromWeights(config: GPTConfig, weights: Weights, trainable = true): GPT {
    ModelWeights.checkWeights(GPT.shapes(GPT.fullConfig(config)), weights, 'model: weight', 'the checkpoint');
    return new GPT(config, trainable, (name) => weights[name].data);
  }

  /** Copy of this model (new variables). `trainable: false` for a frozen reference model. */
  clone(trainable = false): GPT {
    return new GPT(this.config, trainable, (name) => this.w(name).dataSync() as Float32Array);
  }

  /** This model plus a zero-initialised value head (PPO's shared critic): a new model, this one is unchanged. */
  withValueHead(trainable = true): GPT {
    return this.config.valueHead ? this : GPT.fromWeights({ ...this.config, valueHead: true }, this.weightsWithValueHead(this.config.dModel), trainable);
  }

  /** Number of parameters. */
  parameterCount(): number { return ModelWeights.countParameters(GPT.shapes(this.config)); }

  /**
   * Estimated forward FLOPs per token at sequence length T (default: contextLength), Kaplan et al. 2020 convention:
   * 2 × (parameters used in matrix products: blocks + lm_head [+ value head]) + 2 × n_layer × T × d_model (QKᵀ and A·V, causal average T/2 keys... counted at T as Kaplan)
   * Embedding lookups count 0 (a gather), even though we implement them as one-hot products. Training ≈ 3 × forward.
   */
  flopsPerToken(T = this.config.contextLength): number {
    const c = this.config;
    const D = c.dModel, F = c.mlpRatio * D;
    const perLayer = D * 3 * D + D * D + D * F + F * D;
    const matmulParams = c.nLayers * perLayer + D * c.vocabSize + (c.valueHead ? D : 0);
    return 2 * matmulParams + 2 * c.nLayers * T * D;
  }

  /** Model summary for the manifest. */
  summary(): { parameters: number; flopsPerToken: number; [k: string]: unknown } {
    return { parameters: this.parameterCount(), flopsPerToken: this.flopsPerToken(), ...this.config };
  }

  /** Causal mask [T, T], one kept per length (the built-in tasks use a handful of lengths). */
  private causal(T: number): tf.Tensor2D {
    return this.constant(`causal${T}`, () => ModelWeights.causalMask(T));
  }

  /** Token + position embeddings. ids [B,T] int32, positions [B,T] int32 or undefined (= 0..T−1). Returns x [B·T, D]. */
  private embedTokens(ids: tf.Tensor2D, positions?: tf.Tensor2D): tf.Tensor2D {
    const [B, T] = ids.shape;
    if (T > this.config.contextLength) throw new Error(`model: sequence length ${T} exceeds contextLength ${this.config.contextLength}`);
    const D = this.config.dModel;
    const tok = embed(tf.reshape(ids, [B * T]) as tf.Tensor1D, this.w('wte.weight') as tf.Tensor2D);
    if (!positions) {
      const pos = tf.slice(this.w('wpe.weight'), [0, 0], [T, D]);
      return tf.reshape(tf.add(tf.reshape(tok, [B, T, D]), pos), [B * T, D]);
    }
    const pos = embed(tf.reshape(positions, [B * T]) as tf.Tensor1D, this.w('wpe.weight') as tf.Tensor2D);
    return tf.add(tok, pos) as tf.Tensor2D;
  }


  /** One pre-LN block on x [B·T, D]; returns the new x and this layer's keys/values (for the cache). */
  private block(l: number, x: tf.Tensor2D, B: number, T: number, bias: tf.Tensor | undefined, past?: { k: tf.Tensor3D; v: tf.Tensor3D }, keepKV = false): { x: tf.Tensor2D; k?: tf.Tensor3D; v: tf.Tensor3D } {
    const c = this.config, D = c.dModel, H = c.nHeads, hd = D / H, p = `h.${l}.`;
    const h1 = layerNorm(x, this.w(p + 'ln_1.weight') as tf.Tensor1D, this.w(p + 'ln_1.bias') as tf.Tensor1D, c.layerNormEps) as tf.Tensor2D;
    // q, k, v from column blocks of c_attn (slicing the small weight instead of splitting the [B·T, 3D] activation:
    // SplitV on wasm copies strided slices of the big tensor, and its gradient concatenates them again)
    const W = this.w(p + 'attn.c_attn.weight'), Wb = this.w(p + 'attn.c_attn.bias');
    const part = (i: number) => linear(h1, tf.slice(W, [0, i * D], [D, D]) as tf.Tensor2D, tf.slice(Wb, [i * D], [D]) as tf.Tensor1D);
    const q2 = part(0), k2 = part(1), v2 = part(2);
    // attention.ts: heads read in place ([B, T, H, hd] queries, [B, T, D] keys / values: no head transposes); fused
    // on wasm / cpu. The KV cache holds k, v as [B, Tc, D].
    const q = tf.reshape(q2, [B, T, H, hd]) as tf.Tensor4D;
    let k = tf.reshape(k2, [B, T, D]) as tf.Tensor3D, v = tf.reshape(v2, [B, T, D]) as tf.Tensor3D;
    if (past) { k = tf.concat([past.k, k], 1); v = tf.concat([past.v, v], 1); }
    const a2 = attention(q, k, v, bias, H, 1 / Math.sqrt(hd), past);
    const x1 = tf.add(x, linear(a2, this.w(p + 'attn.c_proj.weight') as tf.Tensor2D, this.w(p + 'attn.c_proj.bias') as tf.Tensor1D)) as tf.Tensor2D;
    const h2 = layerNorm(x1, this.w(p + 'ln_2.weight') as tf.Tensor1D, this.w(p + 'ln_2.bias') as tf.Tensor1D, c.layerNormEps) as tf.Tensor2D;
    const f = gelu(linear(h2, this.w(p + 'mlp.c_fc.weight') as tf.Tensor2D, this.w(p + 'mlp.c_fc.bias') as tf.Tensor1D)) as tf.Tensor2D;
    const x2 = tf.add(x1, linear(f, this.w(p + 'mlp.c_proj.weight') as tf.Tensor2D, this.w(p + 'mlp.c_proj.bias') as tf.Tensor1D)) as tf.Tensor2D;
    return { x: x2, k: past || keepKV ? k : undefined, v };
  }

  /** Final LayerNorm + heads on h [N, D]. */
  private heads(x: tf.Tensor2D, withValues: boolean): { logits: tf.Tensor2D; values?: tf.Tensor1D } {
    const c = this.config;
    const h = layerNorm(x, this.w('ln_f.weight') as tf.Tensor1D, this.w('ln_f.bias') as tf.Tensor1D, c.layerNormEps) as tf.Tensor2D;
    const logits = mm(h, this.w('lm_head.weight')) as tf.Tensor2D;
    if (!withValues) return { logits };
    if (!c.valueHead) throw new Error('model: values requested but the model has no value head (set model.valueHead: true)');
    const values = tf.reshape(linear(h, this.w('value_head.weight') as tf.Tensor2D, this.w('value_head.bias') as tf.Tensor1D), [-1]) as tf.Tensor1D;
    return { logits, values };
  }


  /**
   * Full forward pass. ids: int32 [B,T] (T ≤ contextLength). Differentiable; call inside tf.tidy / variableGrads.
   * → logits [B,T,V] (and values [B,T] with opts.values).
   */
  forward(ids: tf.Tensor2D, opts: ForwardOptions = {}): ForwardResult {
    const [B, T] = ids.shape;
    const positions = opts.attentionMask ? ModelWeights.positionsFromMask(opts.attentionMask) : undefined;
    let x = this.embedTokens(ids, positions);
    let bias: tf.Tensor = this.causal(T);
    if (opts.attentionMask) bias = tf.add(bias, ModelWeights.keyBias(opts.attentionMask));
    // one tidy per block: what the backward pass needs is kept by the tape, the block's other temporaries are freed here
    // (GPT-2-124M shapes on 4 × 128 tokens did not fit the wasm heap's 4 GiB otherwise)
    for (let l = 0; l < this.config.nLayers; l++) { const xi = x; x = tf.tidy(() => this.block(l, xi, B, T, bias).x); }
    const { logits, values } = this.heads(x, Boolean(opts.values));
    return {
      logits: tf.reshape(logits, [B, T, this.config.vocabSize]) as tf.Tensor3D,
      values: values ? (tf.reshape(values, [B, T]) as tf.Tensor2D) : undefined,
    };
  }

  /** Per-token log-probs of the sequence itself (logprobs.ts): logprobs[:,t] = log π(ids[:,t+1] | ids[:,≤t]) / τ-scaled. Differentiable. */
  tokenLogprobs(ids: tf.Tensor2D, opts: TokenLogprobOptions = {}): TokenLogprobResult {
    return tokenLogprobs(this, ids, opts);
  }

  /**
   * The RL entry point (logprobs.ts): per-token log-probs (and entropy / values) of the RESPONSE part of ids [B, P+N]
   * laid out as `generate` returns them → [B, N]. Differentiable.
   */
  responseLogprobs(ids: tf.Tensor2D, promptLength: number, opts: TokenLogprobOptions = {}): TokenLogprobResult {
    return responseLogprobs(this, ids, promptLength, opts);
  }

  /**
   * KV cache: run the (left-padded) prompts ids [B,P] with mask [B,P] (number[][], 1 = real) and keep keys/values.
   * Returns the cache and the logits for the next token [B,V]. Not differentiable (inference only); the caller owns
   * the returned tensors (dispose the logits; dispose the cache with disposeCache).
   */
  prefill(ids: number[][], mask?: number[][]): { cache: KVCache; logits: tf.Tensor2D; values?: tf.Tensor1D } {
    const B = ids.length, T = ids[0].length;
    const m = mask ?? ids.map((r) => r.map(() => 1));
    const r = tf.tidy(() => {
      const idsT = tf.tensor2d(ids, [B, T], 'int32');
      const maskT = tf.tensor2d(m, [B, T], 'float32');
      const positions = ModelWeights.positionsFromMask(maskT);
      let x = this.embedTokens(idsT, positions);
      const bias = tf.add(this.causal(T), ModelWeights.keyBias(maskT));
      const layers: { k: tf.Tensor3D; v: tf.Tensor3D }[] = [];
      for (let l = 0; l < this.config.nLayers; l++) {
        const o = this.block(l, x, B, T, bias, undefined, true);
        x = o.x;
        layers.push({ k: o.k!, v: o.v });
      }
      const last = tf.reshape(tf.slice(tf.reshape(x, [B, T, this.config.dModel]), [0, T - 1, 0], [B, 1, this.config.dModel]), [B, this.config.dModel]) as tf.Tensor2D;
      const h = this.heads(last, this.config.valueHead);
      return { layers, logits: h.logits, values: h.values };
    });
    const nextPos = m.map((row) => row.reduce((a, b) => a + b, 0));
    return { cache: { layers: r.layers, keyMask: m.map((row) => row.slice()), nextPos, batch: B }, logits: r.logits, values: r.values };
  }

  /**
   * KV cache: feed one token per row (tokens [B]) at each row's next position; updates the cache in place
   * (old tensors disposed) and returns the logits for the following token [B,V] (and values [B] with a value head).
   */
  decodeStep(cache: KVCache, tokens: number[]): { logits: tf.Tensor2D; values?: tf.Tensor1D } {
    const B = cache.batch;
    for (let b = 0; b < B; b++) if (cache.nextPos[b] >= this.config.contextLength) throw new Error(`model: position ${cache.nextPos[b]} exceeds contextLength ${this.config.contextLength}`);
    for (const row of cache.keyMask) row.push(1);
    const Tk = cache.keyMask[0].length;
    const old = cache.layers;
    const r = tf.tidy(() => {
      const idsT = tf.tensor2d(tokens, [B, 1], 'int32');
      const posT = tf.tensor2d(cache.nextPos, [B, 1], 'int32');
      let x = this.embedTokens(idsT, posT);
      const hasPad = cache.keyMask.some((row) => row.includes(0));
      const bias = hasPad ? ModelWeights.keyBias(tf.tensor2d(cache.keyMask, [B, Tk], 'float32')) : undefined;
      const layers: { k: tf.Tensor3D; v: tf.Tensor3D }[] = [];
      for (let l = 0; l < this.config.nLayers; l++) {
        const o = this.block(l, x, B, 1, bias, old[l]);
        x = o.x;
        layers.push({ k: o.k!, v: o.v });
      }
      const h = this.heads(x, this.config.valueHead);
      return { layers, logits: h.logits, values: h.values };
    });
    for (const l of old) { l.k.dispose(); l.v.dispose(); }
    cache.layers = r.layers;
    for (let b = 0; b < B; b++) cache.nextPos[b]++;
    return { logits: r.logits, values: r.values };
  }

}
