/**
 * Llama-family causal transformer (Llama 2/3, Qwen2, SmolLM, TinyLlama, Mistral without sliding window) in raw tfjs
 * ops, trainable on every backend including wasm (no gather in the differentiable path: see ops.ts).
 *
 *   ids [B,T] ─ embed_tokens ─ n_layers × block ─ RMSNorm ─┬─ lm_head (or embed_tokensᵀ when tied) → logits [B,T,V]
 *     block: x += o_proj(attn(RoPE(q_proj(n1)), RoPE(k_proj(n1)), v_proj(n1)));  n1 = RMSNorm(x)     └─ value_head → values [B,T]
 *            x += down_proj(silu(gate_proj(n2)) · up_proj(n2));                    n2 = RMSNorm(x)
 *
 * References: Touvron et al. 2023 (Llama 2) §2.2: pre-normalisation with RMSNorm (Zhang & Sennrich 2019), SwiGLU
 * (Shazeer 2020), rotary embeddings (Su et al. 2021, eq. 34), grouped-query attention (Ainslie et al. 2023).
 * Code followed: llama2.c run.c `forward` (rmsnorm, RoPE over adjacent pairs, GQA via kv_mul, SwiGLU w2(silu(w1 x)·w3 x))
 * and Hugging Face transformers `modeling_llama.py` (`rotate_half`, `repeat_kv`, `LlamaRMSNorm`, `LlamaMLP`).
 *
 * Rotary layouts (`ropeLayout`): 'interleaved' rotates adjacent pairs (2i, 2i+1) of each head (llama2.c, Meta's
 * original checkpoints); 'half' rotates (i, i + hd/2) (Hugging Face's rotate_half; HF's conversion script permutes the
 * q/k rows so that both give the same model: see llama2c.ts `permuteForHalfRope`). Both use θ_i = rope_theta^(−2i/hd).
 *
 * Weights use Hugging Face's names (`model.layers.0.self_attn.q_proj.weight`, ...), but every linear weight is stored
 * as [in, out] (x·W), the transpose of nn.Linear's [out, in]; loaders transpose. Shapes: D = dModel, H = nHeads,
 * K = nKvHeads, hd = D/H, F = hiddenDim, V = vocabSize.
 *
 * Padding: as GPT (gpt.ts): LEFT-padded batches pass `attentionMask` [B,T]; positions are cumsum(mask) − 1.
 *
 * Adapters: `forwardWith` / `prefillWith` / `decodeStepWith` add a `LinearAdapter`'s term to the block's linear layers
 * (LoRA: lora.ts, which keeps this model frozen and runs it with and without its adapters).
 */
import * as tf from '@tensorflow/tfjs-core';
import { Rng, hashString } from '../rng';
import { embed, linear, mm, swapLast } from './ops';
import { responseLogprobs, tokenLogprobs } from './logprobs';
import { attention } from './attention';
import { ModelWeights, type WeightInit, type Weights } from './weights';
import type { ForwardOptions, ForwardResult, KVCache, TokenLogprobOptions, TokenLogprobResult } from './types';

export interface LlamaConfig {
  vocabSize: number;
  /** maximum sequence length (prompt + response): max_position_embeddings / llama2.c seq_len */
  contextLength: number;
  /** hidden size D */
  dModel: number;
  /** MLP hidden size F (intermediate_size / llama2.c hidden_dim) */
  hiddenDim: number;
  nLayers: number;
  /** query heads H */
  nHeads: number;
  /** key/value heads K (H/K query heads share one K/V head); = nHeads for plain multi-head attention */
  nKvHeads?: number;
  /** rotary base θ (rope_theta), default 10000 */
  ropeTheta?: number;
  /** which pairs rotate: 'interleaved' (llama2.c) or 'half' (Hugging Face rotate_half). Default 'half'. */
  ropeLayout?: 'interleaved' | 'half';
  /** RMSNorm ε (rms_norm_eps), default 1e-5 */
  rmsNormEps?: number;
  /** output head = embed_tokensᵀ (tie_word_embeddings) */
  tieEmbeddings?: boolean;
  /** q/k/v projections have biases (Qwen2) */
  qkvBias?: boolean;
  /** scalar value head on the final hidden state (PPO critic sharing the trunk) */
  valueHead?: boolean;
}

export type LlamaWeights = Weights;

/** The linear layers of a Llama block, by Hugging Face module name (what PEFT's `target_modules` name). */
export const LLAMA_LINEAR_MODULES = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] as const;
export type LlamaLinearModule = (typeof LLAMA_LINEAR_MODULES)[number];

/** Where a block's linear layer sits: `self_attn.q_proj`, ..., `mlp.down_proj` (weight `model.layers.<l>.<path>.weight`). */
export function llamaModulePath(m: LlamaLinearModule): string {
  return (m === 'gate_proj' || m === 'up_proj' || m === 'down_proj' ? 'mlp.' : 'self_attn.') + m;
}

/**
 * Something added to the output of a block's linear layers: y = x·W (+ b) + delta(layer, module, x). LoRA (lora.ts)
 * is one; `undefined` from `delta` (or no adapter at all) leaves the layer as it is. Called inside the forward pass,
 * so whatever it computes is part of the gradient and of the caller's tf.tidy.
 */
export interface LinearAdapter {
  delta(layer: number, module: LlamaLinearModule, x: tf.Tensor2D): tf.Tensor2D | undefined;
}

/** RMSNorm (Zhang & Sennrich 2019, eq. 4): x / √(mean(x²) + ε) · g, over the last axis. x [..., D], g [D]. */
export function rmsNorm(x: tf.Tensor, g: tf.Tensor1D, eps: number): tf.Tensor {
  const ms = tf.mean(tf.square(x), -1, true);
  return tf.mul(tf.mul(x, tf.rsqrt(tf.add(ms, eps))), g);
}

/** SiLU (swish): x·σ(x). */
export function silu(x: tf.Tensor): tf.Tensor {
  return tf.mul(x, tf.sigmoid(x));
}

/**
 * The rotation partner of every coordinate as a signed permutation R [hd, hd]: (x·R) puts −b where a pair (a, b) has a
 * and a where it has b. Pairs are (2i, 2i+1) for 'interleaved', (i, i + hd/2) for 'half'.
 */
const ropeRotations = new Map<string, Float32Array>();
function ropeRotation(hd: number, layout: 'interleaved' | 'half'): Float32Array {
  const key = `${hd}/${layout}`;
  let r = ropeRotations.get(key);
  if (!r) {
    r = new Float32Array(hd * hd);
    const half = hd / 2;
    for (let i = 0; i < half; i++) {
      const a = layout === 'half' ? i : 2 * i, b = layout === 'half' ? i + half : 2 * i + 1;
      r[b * hd + a] = -1; // out[a] = −x[b]
      r[a * hd + b] = 1; //  out[b] = x[a]
    }
    ropeRotations.set(key, r);
  }
  return r;
}

/**
 * Rotary position embedding (Su et al. 2021, eq. 34) on x [B, T, heads, hd] with cos, sin [B or 1, T, 1, hd] (each
 * pair's cos / sin at both of its coordinates): each rotated pair (a, b) becomes (a·cos − b·sin, a·sin + b·cos),
 * computed as x·cos + (x·R)·sin with R the signed permutation above (one small matMul; exact: R has one ±1 per column).
 * No strided slices: tfjs-backend-wasm copies strided Slice / Pack element by element in JS, which made RoPE the
 * largest cost of a stories260K step.
 */
export function applyRope(x: tf.Tensor4D, cos: tf.Tensor, sin: tf.Tensor, layout: 'interleaved' | 'half'): tf.Tensor4D {
  const [B, T, Hh, hd] = x.shape;
  const rot = tf.tensor2d(ropeRotation(hd, layout), [hd, hd]);
  const xr = tf.reshape(mm(tf.reshape(x, [B * T * Hh, hd]), rot), [B, T, Hh, hd]);
  return tf.add(tf.mul(x, cos), tf.mul(xr, sin)) as tf.Tensor4D;
}

/** Grouped-query attention: each of the K key/value heads serves H/K consecutive query heads (HF repeat_kv). [B,T,K,hd] → [B,T,H,hd]. */
export function repeatKv(x: tf.Tensor4D, rep: number): tf.Tensor4D {
  if (rep === 1) return x;
  const [B, T, K, hd] = x.shape;
  const e = tf.expandDims(x, 3); // [B,T,K,1,hd]
  return tf.reshape(tf.concat(Array.from({ length: rep }, () => e), 3), [B, T, K * rep, hd]) as tf.Tensor4D;
}

export class Llama extends ModelWeights {
  get family(): 'llama' { return 'llama'; }
  readonly config: Required<LlamaConfig>;

  private constructor(config: LlamaConfig, trainable: boolean, init: WeightInit) {
    const c = Llama.fullConfig(config);
    if (c.dModel % c.nHeads !== 0) throw new Error(`llama: dModel (${c.dModel}) must be divisible by nHeads (${c.nHeads})`);
    if (c.nHeads % c.nKvHeads !== 0) throw new Error(`llama: nHeads (${c.nHeads}) must be a multiple of nKvHeads (${c.nKvHeads})`);
    if ((c.dModel / c.nHeads) % 2 !== 0) throw new Error(`llama: head size ${c.dModel / c.nHeads} must be even (rotary pairs)`);
    super('llama', Llama.shapes(c), trainable, init);
    this.config = c;
  }

  /** Rotary tables cos, sin [contextLength, hd], each pair's value at both its coordinates (host arrays, made on first use). */
  private ropeHost?: { cos: Float32Array; sin: Float32Array };
  private get ropeTable(): { cos: Float32Array; sin: Float32Array } {
    if (!this.ropeHost) {
      const c = this.config, hd = c.dModel / c.nHeads;
      const t = Llama.ropeTables(c);
      const cos = new Float32Array(c.contextLength * hd), sin = new Float32Array(c.contextLength * hd);
      for (let p = 0; p < c.contextLength; p++) {
        for (let i = 0; i < t.half; i++) {
          const a = c.ropeLayout === 'half' ? i : 2 * i, b = c.ropeLayout === 'half' ? i + t.half : 2 * i + 1;
          cos[p * hd + a] = cos[p * hd + b] = t.cos[p * t.half + i];
          sin[p * hd + a] = sin[p * hd + b] = t.sin[p * t.half + i];
        }
      }
      this.ropeHost = { cos, sin };
    }
    return this.ropeHost;
  }

  static fullConfig(config: LlamaConfig): Required<LlamaConfig> {
    return { nKvHeads: config.nHeads, ropeTheta: 10000, ropeLayout: 'half', rmsNormEps: 1e-5, tieEmbeddings: false, qkvBias: false, valueHead: false, ...config };
  }

  /**
   * cos / sin of pos·θ_i for every position and pair i (θ_i = rope_theta^(−2i/hd)), computed as llama2.c does in
   * float32: freq = 1 / powf(theta, 2i/hd), val = pos·freq.
   */
  static ropeTables(c: Required<LlamaConfig>): { cos: Float32Array; sin: Float32Array; half: number } {
    const hd = c.dModel / c.nHeads, half = hd / 2;
    const cos = new Float32Array(c.contextLength * half), sin = new Float32Array(c.contextLength * half);
    for (let i = 0; i < half; i++) {
      const freq = Math.fround(1 / Math.fround(Math.pow(c.ropeTheta, Math.fround((2 * i) / hd))));
      for (let p = 0; p < c.contextLength; p++) {
        const val = Math.fround(p * freq);
        cos[p * half + i] = Math.cos(val);
        sin[p * half + i] = Math.sin(val);
      }
    }
    return { cos, sin, half };
  }

  /** Names and shapes of all weights, in a fixed order (HF names; linear weights [in, out]). */
  static shapes(c: Required<LlamaConfig>): [string, number[]][] {
    const D = c.dModel, hd = D / c.nHeads, Hq = c.nHeads * hd, Hk = c.nKvHeads * hd, F = c.hiddenDim, V = c.vocabSize;
    const out: [string, number[]][] = [['model.embed_tokens.weight', [V, D]]];
    for (let l = 0; l < c.nLayers; l++) {
      const p = `model.layers.${l}.`;
      out.push([p + 'input_layernorm.weight', [D]],
        [p + 'self_attn.q_proj.weight', [D, Hq]], [p + 'self_attn.k_proj.weight', [D, Hk]], [p + 'self_attn.v_proj.weight', [D, Hk]]);
      if (c.qkvBias) out.push([p + 'self_attn.q_proj.bias', [Hq]], [p + 'self_attn.k_proj.bias', [Hk]], [p + 'self_attn.v_proj.bias', [Hk]]);
      out.push([p + 'self_attn.o_proj.weight', [Hq, D]], [p + 'post_attention_layernorm.weight', [D]],
        [p + 'mlp.gate_proj.weight', [D, F]], [p + 'mlp.up_proj.weight', [D, F]], [p + 'mlp.down_proj.weight', [F, D]]);
    }
    out.push(['model.norm.weight', [D]]);
    if (!c.tieEmbeddings) out.push(['lm_head.weight', [D, V]]);
    if (c.valueHead) out.push(['value_head.weight', [D, 1]], ['value_head.bias', [1]]);
    return out;
  }

  /** Random init (seeded JS generator: same weights on every backend): N(0, 0.02) matrices, RMSNorm gains 1, biases 0. */
  static create(config: LlamaConfig, seed = 0): Llama {
    return new Llama(config, true, (name, shape) => {
      const n = shape.reduce((a, b) => a * b, 1);
      const out = new Float32Array(n);
      if (name.endsWith('.bias')) return out;
      if (/layernorm\.weight$|model\.norm\.weight$/.test(name)) return out.fill(1);
      const rng = new Rng((seed * 1000003) ^ hashString(name));
      for (let i = 0; i < n; i++) out[i] = rng.normal() * 0.02;
      return out;
    });
  }

  /** A model with the given weights. Every weight of the architecture must be present with its shape (named in the error). */
  static fromWeights(config: LlamaConfig, weights: LlamaWeights, trainable = true, source = 'the checkpoint'): Llama {
    ModelWeights.checkWeights(Llama.shapes(Llama.fullConfig(config)), weights, 'llama: tensor', source);
    return new Llama(config, trainable, (name) => weights[name].data);
  }

  clone(trainable = false): Llama {
    return new Llama(this.config, trainable, (name) => this.w(name).dataSync() as Float32Array);
  }

  /** This model plus a zero-initialised value head (PPO's shared critic): a new model, this one is unchanged. */
  withValueHead(trainable = true): Llama {
    return this.config.valueHead ? this : Llama.fromWeights({ ...this.config, valueHead: true }, this.weightsWithValueHead(this.config.dModel), trainable);
  }

  parameterCount(): number { return ModelWeights.countParameters(Llama.shapes(this.config)); }

  /** Forward FLOPs per token at length T (Kaplan et al. 2020 convention, as GPT.flopsPerToken). */
  flopsPerToken(T = this.config.contextLength): number {
    const c = this.config, D = c.dModel, hd = D / c.nHeads;
    const perLayer = D * c.nHeads * hd + 2 * D * c.nKvHeads * hd + c.nHeads * hd * D + 3 * D * c.hiddenDim;
    return 2 * (c.nLayers * perLayer + D * c.vocabSize + (c.valueHead ? D : 0)) + 2 * c.nLayers * T * D;
  }

  summary(): { parameters: number; flopsPerToken: number; [k: string]: unknown } {
    return { family: this.family, parameters: this.parameterCount(), flopsPerToken: this.flopsPerToken(), ...this.config };
  }

  /**
   * Causal mask bias [T, T] (0 on and below the diagonal, −1e9 above): a slice of one [ctx, ctx] mask kept for the
   * model's life (sequence lengths vary with every batch of real text: one cached mask per length would grow).
   */
  private causal(T: number): tf.Tensor2D {
    const full = this.constant('causal', () => ModelWeights.causalMask(this.config.contextLength));
    return T === this.config.contextLength ? full : tf.slice(full, [0, 0], [T, T]);
  }

  /**
   * cos, sin [B, T, 1, hd] for int32 positions [B, T], copied from the host tables (positions are small host data; no
   * gather, no one-hot product). When every row has the same positions (no left padding): [1, T, 1, hd], broadcast.
   */
  private rope(positions: tf.Tensor2D): { cos: tf.Tensor; sin: tf.Tensor } {
    const [B, T] = positions.shape;
    const hd = this.config.dModel / this.config.nHeads;
    const pos = positions.dataSync();
    let same = true;
    for (let i = T; i < B * T && same; i++) same = pos[i] === pos[i % T];
    const rows = same ? 1 : B;
    const tab = this.ropeTable;
    const cos = new Float32Array(rows * T * hd), sin = new Float32Array(rows * T * hd);
    for (let r = 0; r < rows * T; r++) {
      const p = pos[r];
      if (p < 0) continue; // left padding (position −1): zeros, as a one-hot row of −1 gave
      if (p >= this.config.contextLength) throw new Error(`llama: position ${p} exceeds contextLength ${this.config.contextLength}`);
      cos.set(tab.cos.subarray(p * hd, (p + 1) * hd), r * hd);
      sin.set(tab.sin.subarray(p * hd, (p + 1) * hd), r * hd);
    }
    return { cos: tf.tensor4d(cos, [rows, T, 1, hd]), sin: tf.tensor4d(sin, [rows, T, 1, hd]) };
  }

  private static defaultPositions(B: number, T: number, offset = 0): tf.Tensor2D {
    return tf.tensor2d(Array.from({ length: B }, () => Array.from({ length: T }, (_, t) => t + offset)), [B, T], 'int32');
  }

  /**
   * One block on x [B·T, D] at rotary tables cos/sin [B or 1,T,1,hd]; with `past` (KV cache, keys after RoPE, one per
   * key/value head: [B, Tc, K·hd]) attends over past + new keys. Returns new x and this step's k, v [B, T(+Tc), K·hd].
   */
  private block(l: number, x: tf.Tensor2D, B: number, T: number, rope: { cos: tf.Tensor; sin: tf.Tensor }, bias: tf.Tensor | undefined, adapter: LinearAdapter | undefined, past?: { k: tf.Tensor3D; v: tf.Tensor3D }): { x: tf.Tensor2D; k: tf.Tensor3D; v: tf.Tensor3D } {
    const c = this.config, D = c.dModel, H = c.nHeads, K = c.nKvHeads, hd = D / H, p = `model.layers.${l}.`;
    // a linear layer x·W (+ b), plus the adapter's term when there is one
    const proj = (m: LlamaLinearModule, input: tf.Tensor2D): tf.Tensor2D => {
      const path = p + llamaModulePath(m);
      const y = linear(input, this.w(path + '.weight') as tf.Tensor2D, c.qkvBias && (m === 'q_proj' || m === 'k_proj' || m === 'v_proj') ? (this.w(path + '.bias') as tf.Tensor1D) : undefined);
      const d = adapter?.delta(l, m, input);
      return d ? (tf.add(y, d) as tf.Tensor2D) : y;
    };
    // attention: n1 = RMSNorm(x); q, k, v projections; RoPE on q and k; GQA
    const n1 = rmsNorm(x, this.w(p + 'input_layernorm.weight') as tf.Tensor1D, c.rmsNormEps) as tf.Tensor2D;
    const q = applyRope(tf.reshape(proj('q_proj', n1), [B, T, H, hd]), rope.cos, rope.sin, c.ropeLayout);
    const k = applyRope(tf.reshape(proj('k_proj', n1), [B, T, K, hd]), rope.cos, rope.sin, c.ropeLayout);
    const v = tf.reshape(proj('v_proj', n1), [B, T, K, hd]) as tf.Tensor4D;
    // attention.ts: GQA without repeating k / v, no head transposes; fused on wasm / cpu
    let kh = tf.reshape(k, [B, T, K * hd]) as tf.Tensor3D, vh = tf.reshape(v, [B, T, K * hd]) as tf.Tensor3D;
    if (past) { kh = tf.concat([past.k, kh], 1); vh = tf.concat([past.v, vh], 1); }
    const a2 = attention(q, kh, vh, bias, K, 1 / Math.sqrt(hd), past);
    const x1 = tf.add(x, proj('o_proj', a2)) as tf.Tensor2D;
    // MLP (SwiGLU): down(silu(gate(n2)) · up(n2))
    const n2 = rmsNorm(x1, this.w(p + 'post_attention_layernorm.weight') as tf.Tensor1D, c.rmsNormEps) as tf.Tensor2D;
    const f = tf.mul(silu(proj('gate_proj', n2)), proj('up_proj', n2)) as tf.Tensor2D;
    const x2 = tf.add(x1, proj('down_proj', f)) as tf.Tensor2D;
    return { x: x2, k: kh, v: vh };
  }

  /** Final RMSNorm + heads on x [N, D]. */
  private heads(x: tf.Tensor2D, withValues: boolean): { logits: tf.Tensor2D; values?: tf.Tensor1D } {
    const c = this.config;
    const h = rmsNorm(x, this.w('model.norm.weight') as tf.Tensor1D, c.rmsNormEps) as tf.Tensor2D;
    const logits = (c.tieEmbeddings ? mm(h, swapLast(this.w('model.embed_tokens.weight'))) : mm(h, this.w('lm_head.weight'))) as tf.Tensor2D;
    if (!withValues) return { logits };
    if (!c.valueHead) throw new Error('llama: values requested but the model has no value head');
    const values = tf.reshape(linear(h, this.w('value_head.weight') as tf.Tensor2D, this.w('value_head.bias') as tf.Tensor1D), [-1]) as tf.Tensor1D;
    return { logits, values };
  }

  /** Embedding → blocks on ids [B,T] at int32 positions [B,T] → hidden x [B·T, D]; `keep` collects each layer's k / v, `past` is the cache. */
  private run(ids: tf.Tensor2D, positions: tf.Tensor2D, bias: tf.Tensor | undefined, adapter: LinearAdapter | undefined, keep?: { k: tf.Tensor3D; v: tf.Tensor3D }[], past?: { k: tf.Tensor3D; v: tf.Tensor3D }[]): tf.Tensor2D {
    const [B, T] = ids.shape;
    let x = embed(tf.reshape(ids, [B * T]) as tf.Tensor1D, this.w('model.embed_tokens.weight') as tf.Tensor2D);
    const rope = this.rope(positions);
    for (let l = 0; l < this.config.nLayers; l++) {
      const o = this.block(l, x, B, T, rope, bias, adapter, past?.[l]);
      x = o.x;
      keep?.push({ k: o.k, v: o.v });
    }
    return x;
  }

  /** Full forward pass. ids int32 [B,T] (T ≤ contextLength). Differentiable. → logits [B,T,V] (values [B,T] with opts.values). */
  forward(ids: tf.Tensor2D, opts: ForwardOptions = {}): ForwardResult {
    return this.forwardWith(undefined, ids, opts);
  }

  /** `forward` with an adapter on the block's linear layers (LoRA: lora.ts); `undefined` = this model as it is. */
  forwardWith(adapter: LinearAdapter | undefined, ids: tf.Tensor2D, opts: ForwardOptions = {}): ForwardResult {
    const [B, T] = ids.shape;
    if (T > this.config.contextLength) throw new Error(`llama: sequence length ${T} exceeds contextLength ${this.config.contextLength}`);
    const positions = opts.attentionMask ? ModelWeights.positionsFromMask(opts.attentionMask) : Llama.defaultPositions(B, T);
    let bias: tf.Tensor = this.causal(T);
    if (opts.attentionMask) bias = tf.add(bias, ModelWeights.keyBias(opts.attentionMask));
    const r = this.heads(this.run(ids, positions, bias, adapter), Boolean(opts.values));
    return {
      logits: tf.reshape(r.logits, [B, T, this.config.vocabSize]) as tf.Tensor3D,
      values: r.values ? (tf.reshape(r.values, [B, T]) as tf.Tensor2D) : undefined,
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

  /** KV cache: run (left-padded) prompts and keep keys (after RoPE) / values; → cache and next-token logits [B,V]. */
  prefill(ids: number[][], mask?: number[][]): { cache: KVCache; logits: tf.Tensor2D; values?: tf.Tensor1D } {
    return this.prefillWith(undefined, ids, mask);
  }

  /** `prefill` with an adapter (the cache then holds the adapted keys / values: decode with the same adapter). */
  prefillWith(adapter: LinearAdapter | undefined, ids: number[][], mask?: number[][]): { cache: KVCache; logits: tf.Tensor2D; values?: tf.Tensor1D } {
    const B = ids.length, T = ids[0].length;
    if (T > this.config.contextLength) throw new Error(`llama: prompt length ${T} exceeds contextLength ${this.config.contextLength}`);
    const m = mask ?? ids.map((r) => r.map(() => 1));
    const r = tf.tidy(() => {
      const idsT = tf.tensor2d(ids, [B, T], 'int32');
      const maskT = tf.tensor2d(m, [B, T], 'float32');
      const layers: { k: tf.Tensor3D; v: tf.Tensor3D }[] = [];
      const x = this.run(idsT, ModelWeights.positionsFromMask(maskT), tf.add(this.causal(T), ModelWeights.keyBias(maskT)), adapter, layers);
      // heads on the last position only (the next-token logits): not B·T rows of V logits
      const D = this.config.dModel;
      const last = tf.reshape(tf.slice(tf.reshape(x, [B, T, D]), [0, T - 1, 0], [B, 1, D]), [B, D]) as tf.Tensor2D;
      const h = this.heads(last, this.config.valueHead);
      return { layers, logits: h.logits, values: h.values };
    });
    const nextPos = m.map((row) => row.reduce((a, b) => a + b, 0));
    return { cache: { layers: r.layers, keyMask: m.map((row) => row.slice()), nextPos, batch: B }, logits: r.logits, values: r.values };
  }

  /** KV cache: one token per row at each row's next position; updates the cache in place; → next-token logits [B,V]. */
  decodeStep(cache: KVCache, tokens: number[]): { logits: tf.Tensor2D; values?: tf.Tensor1D } {
    return this.decodeStepWith(undefined, cache, tokens);
  }

  /** `decodeStep` with an adapter (the one the cache was prefilled with). */
  decodeStepWith(adapter: LinearAdapter | undefined, cache: KVCache, tokens: number[]): { logits: tf.Tensor2D; values?: tf.Tensor1D } {
    const B = cache.batch;
    for (let b = 0; b < B; b++) if (cache.nextPos[b] >= this.config.contextLength) throw new Error(`llama: position ${cache.nextPos[b]} exceeds contextLength ${this.config.contextLength}`);
    for (const row of cache.keyMask) row.push(1);
    const Tk = cache.keyMask[0].length;
    const old = cache.layers;
    const r = tf.tidy(() => {
      const idsT = tf.tensor2d(tokens, [B, 1], 'int32');
      const posT = tf.tensor2d(cache.nextPos.map((p) => [p]), [B, 1], 'int32');
      const hasPad = cache.keyMask.some((row) => row.includes(0));
      const bias = hasPad ? ModelWeights.keyBias(tf.tensor2d(cache.keyMask, [B, Tk], 'float32')) : undefined;
      const layers: { k: tf.Tensor3D; v: tf.Tensor3D }[] = [];
      const h = this.heads(this.run(idsT, posT, bias, adapter, layers, old), this.config.valueHead);
      return { layers, logits: h.logits, values: h.values };
    });
    for (const l of old) { l.k.dispose(); l.v.dispose(); }
    cache.layers = r.layers;
    for (let b = 0; b < B; b++) cache.nextPos[b]++;
    return { logits: r.logits, values: r.values };
  }

}
