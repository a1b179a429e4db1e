/**
 * LoRA (Hu et al. 2021, "LoRA: Low-Rank Adaptation of Large Language Models", eq. 3) on a frozen Llama, as Hugging
 * Face PEFT implements it (peft/tuners/lora/layer.py `Linear.forward`):
 *
 *     result = self.base_layer(x, *args, **kwargs)
 *     ...
 *     result = result + lora_B(lora_A(dropout(x))) * scaling          scaling = lora_alpha / r   (use_rslora: / √r)
 *
 * i.e. h = x·W (+ b) + (alpha/r)·B(A(dropout(x))) on the block's linear layers named in `targetModules`. The base
 * weights stay as they are and are not trainable; `trainableVariables()` is the adapters (and the value head, when the
 * base has one). Adapters off = the base model: `referenceView()` is the base run without adapters, sharing its
 * variables, which is what RL uses as π_ref (TRL with PEFT: `with self.accelerator.unwrap_model(self.model).disable_adapter()`
 * computes the reference log-probs; no second copy of the weights is kept).
 *
 * Files (PEFT `save_pretrained`): `adapter_model.safetensors` with `get_peft_model_state_dict`'s keys
 * (`base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight` [r, in], `...lora_B.weight` [out, r]: the adapter
 * name "default" removed) and `adapter_config.json` (LoraConfig.to_dict: peft_type "LORA", task_type "CAUSAL_LM", r,
 * lora_alpha, ...). In memory the adapters follow the model's layout (llama.ts: x·A·B with A [in, r], B [r, out], the
 * transposes of PEFT's nn.Linear weights) and the base's rotary layout: a llama2.c base is interleaved, so the q / k
 * adapters' B columns are permuted to Hugging Face's rotate-half layout when saved (permuteForHalfRope, as HF's
 * conversion permutes q_proj / k_proj rows) and back when loaded; saved files always fit the HF-layout base.
 *
 * Dropout (`lora_dropout`) acts in training forward passes only. The model code has no train / eval flag, so "training"
 * is decided per pass: by default (`training = 'auto'`) dropout is on exactly when tfjs is recording a gradient tape
 * (the loss inside tf.variableGrads / tf.grads), and off for sampling, old / reference log-probs and evaluation (what
 * torch's model.train() / model.eval() around the update gives). Set `training` to true / false to force it.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { Rng, hashString } from '../rng';
import { writeFileAtomic } from '../../runio/writer';
import { encodeSafetensors, readSafetensors } from './hf';
import { LLAMA_LINEAR_MODULES, Llama, llamaModulePath, type LinearAdapter, type LlamaLinearModule } from './llama';
import { permuteForHalfRope, permuteFromHalfRope } from './llama2c';
import { responseLogprobs as responseLogprobsOf, tokenLogprobs as tokenLogprobsOf } from './logprobs';
import { mm } from './ops';
import { transpose2d, type Weights } from './weights';
import type { CausalLM, ForwardOptions, ForwardResult, KVCache, TokenLogprobOptions, TokenLogprobResult } from './types';

/**
 * LoRA hyper-parameters, named as in RL Lens configs; each maps to a field of PEFT's `LoraConfig`
 * (peft/tuners/lora/config.py) and is written under that name in adapter_config.json.
 */
export interface LoraConfig {
  /**
   * `r` (int, default 8 = PEFT's default): rank of the update ΔW = B·A (A: r × in, B: out × r). Trainable parameters per
   * adapted layer: r·(in + out).
   */
  r?: number;
  /**
   * `lora_alpha` (number, default 8 = PEFT's default): the update is scaled by alpha / r (alpha / √r with
   * `useRslora`), so changing r at a fixed alpha keeps the initial step size comparable.
   */
  alpha?: number;
  /**
   * `lora_dropout` (probability in [0, 1), default 0 = PEFT's default): dropout on the adapter's input x before A, in
   * training forward passes only (see the file comment); the base layer always sees x itself.
   */
  dropout?: number;
  /**
   * `target_modules` (string[] or a regular expression string; default all seven linear layers of a Llama block:
   * q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj). Matched as PEFT matches them
   * (tuners_utils.check_target_module_exists): a list entry matches a module whose full name
   * (`model.layers.3.self_attn.q_proj`) equals it or ends with "." + entry; a string is a regex that must match the
   * whole name (re.fullmatch); "all-linear" is every linear layer but the output head. PEFT's own default for llama
   * (None → TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING) is ["q_proj", "v_proj"]; RL Lens adapts all seven, as
   * the QLoRA paper recommends and TRL's examples do. The embedding and lm_head cannot be targeted here.
   */
  targetModules?: string[] | string;
  /**
   * `layers_to_transform` (int or int[], default undefined = every layer): only these block indices get adapters
   * (with a list `targetModules` only, as in PEFT).
   */
  layersToTransform?: number | number[];
  /** `exclude_modules` (string[] or regex string, default undefined): modules matched here get no adapter (PEFT semantics as targetModules). */
  excludeModules?: string[] | string;
  /** `use_rslora` (boolean, default false): rank-stabilised scaling alpha / √r (Kalajdzievski 2023) instead of alpha / r. */
  useRslora?: boolean;
}

export const DEFAULT_LORA_TARGETS: readonly LlamaLinearModule[] = LLAMA_LINEAR_MODULES;

/** The config with PEFT's / RL Lens's defaults filled in (and checked: errors name the field). */
export function fullLoraConfig(c: LoraConfig = {}): Required<Omit<LoraConfig, 'layersToTransform' | 'excludeModules'>> & Pick<LoraConfig, 'layersToTransform' | 'excludeModules'> {
  const given = Object.fromEntries(Object.entries(c).filter(([, v]) => v !== undefined && v !== null)) as LoraConfig;
  const full = { r: 8, alpha: 8, dropout: 0, targetModules: [...DEFAULT_LORA_TARGETS] as string[] | string, useRslora: false, ...given };
  if (!Number.isInteger(full.r) || full.r < 1) throw new Error(`lora: r must be a positive integer, got ${JSON.stringify(full.r)}`);
  if (typeof full.alpha !== 'number' || !Number.isFinite(full.alpha) || full.alpha <= 0) throw new Error(`lora: alpha must be a positive number, got ${JSON.stringify(full.alpha)}`);
  if (typeof full.dropout !== 'number' || !(full.dropout >= 0 && full.dropout < 1)) throw new Error(`lora: dropout must be in [0, 1), got ${JSON.stringify(full.dropout)}`);
  if (typeof full.targetModules !== 'string' && (!Array.isArray(full.targetModules) || !full.targetModules.length || full.targetModules.some((t) => typeof t !== 'string'))) {
    throw new Error(`lora: targetModules must be a non-empty list of module names or a regex string, got ${JSON.stringify(full.targetModules)}`);
  }
  return full;
}

/** One adapted linear layer: its PEFT module name and variables A [in, r], B [r, out] (x·A·B, the model's layout). */
interface Site { layer: number; module: LlamaLinearModule; key: string; A: tf.Variable<tf.Rank.R2>; B: tf.Variable<tf.Rank.R2> }

const NOT_ADAPTABLE = /(^|\.)(lm_head|embed_tokens|norm|input_layernorm|post_attention_layernorm|value_head)$/;

/** PEFT's target matching (tuners_utils.check_target_module_exists) over a Llama's linear layers → the (layer, module) sites. */
export function loraSites(cfg: { nLayers: number }, lora: LoraConfig, where = 'lora'): { layer: number; module: LlamaLinearModule; key: string }[] {
  const c = fullLoraConfig(lora);
  const keys: { layer: number; module: LlamaLinearModule; key: string }[] = [];
  for (let l = 0; l < cfg.nLayers; l++) for (const m of LLAMA_LINEAR_MODULES) keys.push({ layer: l, module: m, key: `model.layers.${l}.${llamaModulePath(m)}` });
  const supported = `LoRA here adapts the linear layers of the blocks: ${LLAMA_LINEAR_MODULES.join(', ')}`;
  const matches = (spec: string[] | string, key: string) => typeof spec === 'string'
    ? (spec === 'all-linear' || new RegExp(`^(?:${spec})$`).test(key))
    : spec.some((t) => key === t || key.endsWith(`.${t}`));
  const t = c.targetModules;
  if (typeof t === 'string') {
    try { new RegExp(t); } catch (e) { throw new Error(`${where}: target_modules ${JSON.stringify(t)} is not a valid regular expression (${(e as Error).message})`); }
  } else {
    for (const entry of t) {
      if (!keys.some((k) => matches([entry], k.key))) {
        throw new Error(`${where}: target module ${JSON.stringify(entry)} ${NOT_ADAPTABLE.test(entry) ? 'is not supported' : 'is unknown: it names no linear layer of this Llama'} (${supported})`);
      }
    }
  }
  let layers: number[] | undefined;
  if (c.layersToTransform !== undefined && c.layersToTransform !== null) {
    layers = Array.isArray(c.layersToTransform) ? c.layersToTransform : [c.layersToTransform];
    const bad = layers.filter((l) => !Number.isInteger(l) || l < 0 || l >= cfg.nLayers);
    if (bad.length) throw new Error(`${where}: layers_to_transform ${JSON.stringify(bad)} out of range (the model has layers 0..${cfg.nLayers - 1})`);
  }
  const out = keys.filter((k) => matches(t, k.key)
    && !(typeof t !== 'string' && layers && !layers.includes(k.layer))
    && !(c.excludeModules !== undefined && c.excludeModules !== null && matches(c.excludeModules, k.key)));
  if (!out.length) throw new Error(`${where}: target_modules ${JSON.stringify(t)} match no linear layer of this Llama (${supported})`);
  return out;
}

let counter = 0;

/** A Llama with LoRA adapters: a CausalLM whose trainable variables are the adapters (+ value head). */
export class LoraLlama implements CausalLM, LinearAdapter {
  readonly family = 'llama';
  readonly base: Llama;
  readonly lora: ReturnType<typeof fullLoraConfig>;
  /** alpha / r (alpha / √r with useRslora) */
  readonly scaling: number;
  /** 'auto': dropout in passes under a gradient tape only (file comment); true / false force it on / off */
  training: boolean | 'auto' = 'auto';
  private readonly sites = new Map<string, Site>();
  private readonly uid = `lora${++counter}`;
  private readonly initSeed: number;
  private readonly dropoutRng: Rng;
  private disposed = false;
  private merges = 0;

  /** Use `applyLora`. Takes ownership of `base` (dispose() frees it) and freezes it. */
  constructor(base: Llama, config: LoraConfig, opts: { seed?: number; trainable?: boolean } = {}) {
    this.base = base;
    this.lora = fullLoraConfig(config);
    this.scaling = this.lora.useRslora ? this.lora.alpha / Math.sqrt(this.lora.r) : this.lora.alpha / this.lora.r;
    this.initSeed = opts.seed ?? 0;
    this.dropoutRng = new Rng(this.initSeed ^ 0x5eed1);
    const trainable = opts.trainable ?? true;
    // base frozen; a value head (PPO's shared critic) stays trainable with the adapters
    for (const [name, v] of base.weights) v.trainable = trainable && name.startsWith('value_head.');
    const r = this.lora.r;
    for (const s of loraSites(base.config, this.lora)) {
      const [din, dout] = base.w(`${s.key}.weight`).shape;
      const A = tf.tidy(() => tf.variable(tf.tensor2d(this.initA(s.key, din), [din, r]), trainable, `${this.uid}/${s.key}.lora_A`));
      const B = tf.tidy(() => tf.variable(tf.zeros([r, dout]) as tf.Tensor2D, trainable, `${this.uid}/${s.key}.lora_B`));
      this.sites.set(`${s.layer}.${s.module}`, { ...s, A, B });
    }
  }

  /**
   * A as PEFT initialises it (LoraLayer.reset_lora_parameters, init_lora_weights=True):
   *
   *     # initialize A the same way as the default for nn.Linear and B to zero
   *     # https://github.com/microsoft/LoRA/blob/a0a92e0f26c067cf94747bdbf1ce73793fa44d19/loralib/layers.py#L124
   *     nn.init.kaiming_uniform_(self.lora_A[adapter_name].weight, a=math.sqrt(5))
   *     ...
   *     nn.init.zeros_(self.lora_B[adapter_name].weight)
   *
   * kaiming_uniform_ with a = √5 on lora_A.weight [r, in] (fan_in = in): gain = √(2 / (1 + a²)) = √(1/3),
   * bound = gain·√(3 / fan_in) = 1/√in, so A ~ U(−1/√in, 1/√in). Seeded JS generator (same on every backend). → [in, r]
   */
  private initA(key: string, din: number, draw = 0): Float32Array {
    const r = this.lora.r, bound = 1 / Math.sqrt(din);
    const rng = new Rng((this.initSeed * 1000003) ^ hashString(`${key}.lora_A#${draw}`));
    const out = new Float32Array(din * r);
    for (let i = 0; i < out.length; i++) out[i] = (2 * rng.next() - 1) * bound;
    return out;
  }

  get config(): Llama['config'] { return this.base.config; }

  /** The adapted layers' PEFT module names (`model.layers.0.self_attn.q_proj`, ...), in layer order. */
  get targetKeys(): string[] { return [...this.sites.values()].map((s) => s.key); }

  /** LinearAdapter: (alpha/r)·B(A(dropout(x))) for an adapted layer, undefined for the others. */
  delta(layer: number, module: LlamaLinearModule, x: tf.Tensor2D): tf.Tensor2D | undefined {
    const s = this.sites.get(`${layer}.${module}`);
    if (!s) return undefined;
    const p = this.lora.dropout;
    const on = p > 0 && (this.training === 'auto' ? tf.engine().isTapeOn() : this.training);
    // one independent mask per adapted layer (PEFT: each LoRA layer owns its nn.Dropout); kept units scaled by 1/(1−p)
    const xin = on ? tf.mul(x, tf.div(tf.cast(tf.greaterEqual(tf.randomUniform(x.shape, 0, 1, 'float32', this.dropoutRng.int(2 ** 31)), p), 'float32'), 1 - p)) as tf.Tensor2D : x;
    return tf.mul(mm(mm(xin, s.A), s.B), this.scaling) as tf.Tensor2D;
  }

  forward(ids: tf.Tensor2D, opts: ForwardOptions = {}): ForwardResult { return this.base.forwardWith(this, ids, opts); }
  tokenLogprobs(ids: tf.Tensor2D, opts: TokenLogprobOptions = {}): TokenLogprobResult { return tokenLogprobsOf(this, ids, opts); }
  responseLogprobs(ids: tf.Tensor2D, promptLength: number, opts: TokenLogprobOptions = {}): TokenLogprobResult { return responseLogprobsOf(this, ids, promptLength, opts); }
  prefill(ids: number[][], mask?: number[][]): { cache: KVCache; logits: tf.Tensor2D; values?: tf.Tensor1D } { return this.base.prefillWith(this, ids, mask); }
  decodeStep(cache: KVCache, tokens: number[]): { logits: tf.Tensor2D; values?: tf.Tensor1D } { return this.base.decodeStepWith(this, cache, tokens); }

  /** The adapters' variables (+ the value head's, when the base has one). The base weights are frozen. */
  trainableVariables(): tf.Variable[] {
    return [...[...this.sites.values()].flatMap((s) => [s.A, s.B]).filter((v) => v.trainable), ...this.base.trainableVariables()];
  }

  /**
   * π_ref: the base with the adapters switched off, sharing this model's variables (no copy). Its dispose() frees
   * nothing; it cannot be written to (the base belongs to this model) and has no trainable variables.
   */
  referenceView(): CausalLM { return new LlamaBaseView(this.base); }

  /** Adapter tensors in the model's layout: `<module>.lora_A.weight` [in, r], `<module>.lora_B.weight` [r, out] (the base's rotary layout). */
  getAdapterWeights(): Weights {
    const out: Weights = {};
    for (const s of this.sites.values()) {
      out[`${s.key}.lora_A.weight`] = { shape: s.A.shape.slice(), data: s.A.dataSync() as Float32Array };
      out[`${s.key}.lora_B.weight`] = { shape: s.B.shape.slice(), data: s.B.dataSync() as Float32Array };
    }
    return out;
  }

  /** Set every adapter from tensors named and laid out as getAdapterWeights gives them; errors name the tensor. */
  setAdapterWeights(w: Weights, source = 'the adapter weights'): void {
    for (const s of this.sites.values()) {
      for (const [n, v] of [[`${s.key}.lora_A.weight`, s.A], [`${s.key}.lora_B.weight`, s.B]] as const) {
        const t = w[n];
        if (!t) throw new Error(`lora: tensor ${n} missing from ${source}`);
        if (t.shape.join(',') !== v.shape.join(',')) throw new Error(`lora: tensor ${n} in ${source} has shape [${t.shape}] but the model needs [${v.shape}]`);
      }
    }
    for (const s of this.sites.values()) {
      tf.tidy(() => { s.A.assign(tf.tensor(w[`${s.key}.lora_A.weight`].data, s.A.shape)); s.B.assign(tf.tensor(w[`${s.key}.lora_B.weight`].data, s.B.shape)); });
    }
  }

  /** Base weights and adapter weights together (checkpoint statistics, clones). */
  getWeights(): Weights { return { ...this.base.getWeights(), ...this.getAdapterWeights() }; }

  setWeights(w: Weights): void { this.base.setWeights(w); this.setAdapterWeights(w); }

  copyWeightsFrom(other: CausalLM): void { this.setWeights(other.getWeights()); }

  /**
   * PEFT's state dict (get_peft_model_state_dict of a PeftModelForCausalLM around LlamaForCausalLM: prefix
   * `base_model.model.`, adapter name removed): lora_A [r, in], lora_B [out, r] in Hugging Face's rotate-half layout.
   */
  peftStateDict(): Weights {
    const out: Weights = {};
    const c = this.config, r = this.lora.r;
    for (const s of this.sites.values()) {
      const [din] = s.A.shape, dout = s.B.shape[1];
      let B = { shape: [r, dout], data: s.B.dataSync() as Float32Array };
      const heads = ropeHeads(c, s.module);
      if (heads) B = permuteForHalfRope(B, heads);
      out[`base_model.model.${s.key}.lora_A.weight`] = { shape: [r, din], data: transpose2d(s.A.dataSync() as Float32Array, din, r) };
      out[`base_model.model.${s.key}.lora_B.weight`] = { shape: [dout, r], data: transpose2d(B.data, r, dout) };
    }
    return out;
  }

  /**
   * Set the adapters from a PEFT state dict (peftStateDict's names and shapes; rotate-half layout, permuted back for an
   * interleaved base). Every adapted layer needs both tensors; a tensor for no adapted layer, or of another shape, is an
   * error naming it and `source`.
   */
  setPeftStateDict(sd: Weights, source = 'adapter_model.safetensors'): void {
    const c = this.config, r = this.lora.r;
    const mine: Weights = {};
    const used = new Set<string>();
    for (const s of this.sites.values()) {
      const [din] = s.A.shape, dout = s.B.shape[1];
      const kA = `base_model.model.${s.key}.lora_A.weight`, kB = `base_model.model.${s.key}.lora_B.weight`;
      for (const [k, want] of [[kA, [r, din]], [kB, [dout, r]]] as const) {
        const t = sd[k];
        if (!t) throw new Error(`${source}: tensor ${k} missing (adapter_config.json targets ${s.key}${Object.keys(sd).some((n) => n.includes('.lora_A.default.')) ? '; the keys still carry the adapter name: PEFT removes it when saving' : ''})`);
        if (t.shape.join(',') !== want.join(',')) throw new Error(`${source}: tensor ${k} has shape [${t.shape}] but the base model needs [${want}] (r ${r} × ${k.endsWith('lora_A.weight') ? `in_features ${din}` : `out_features ${dout}`}): the adapter belongs to another base model or another r`);
        used.add(k);
      }
      let B = { shape: [r, dout], data: transpose2d(sd[kB].data, dout, r) };
      const heads = ropeHeads(c, s.module);
      if (heads) B = permuteFromHalfRope(B, heads);
      mine[`${s.key}.lora_A.weight`] = { shape: [din, r], data: transpose2d(sd[kA].data, r, din) };
      mine[`${s.key}.lora_B.weight`] = B;
    }
    const extra = Object.keys(sd).filter((k) => !used.has(k));
    if (extra.length) throw new Error(`${source}: tensor ${extra[0]}${extra.length > 1 ? ` (and ${extra.length - 1} more)` : ''} is not an adapter of the layers adapter_config.json targets (${this.targetKeys.length} layers: ${[...new Set([...this.sites.values()].map((s) => s.module))].join(', ')}); bias "none" LoRA of a LlamaForCausalLM has only lora_A / lora_B weights`);
    this.setAdapterWeights(mine, source);
  }

  /**
   * The merged weights W' = W + (alpha/r)·(A·B) ([in, out], the base's layout; accumulated in float64), value head
   * included: what PEFT's merge_and_unload gives (get_delta_weight: `transpose(weight_B @ weight_A, fan_in_fan_out) * scaling`).
   */
  mergedWeights(): Weights {
    const w = this.base.getWeights();
    const r = this.lora.r;
    for (const s of this.sites.values()) {
      const name = `${s.key}.weight`, W = w[name];
      const [din, dout] = W.shape;
      const A = s.A.dataSync(), B = s.B.dataSync();
      const out = new Float32Array(din * dout);
      for (let i = 0; i < din; i++) {
        for (let o = 0; o < dout; o++) {
          let d = 0;
          for (let k = 0; k < r; k++) d += A[i * r + k] * B[k * dout + o];
          out[i * dout + o] = W.data[i * dout + o] + this.scaling * d;
        }
      }
      w[name] = { shape: [din, dout], data: out };
    }
    return w;
  }

  /**
   * Merge the adapters into the base (W ← W + (alpha/r)·A·B) and start them afresh (A re-drawn as PEFT inits it, B = 0):
   * the model's outputs are unchanged and the reference view (the base) becomes the current policy. What a warm start
   * (SFT before RL) with LoRA needs so that π_ref is the warm-started model, still without a copy.
   */
  mergeIntoBase(): void {
    const merged = this.mergedWeights();
    this.merges++;
    for (const s of this.sites.values()) {
      const W = merged[`${s.key}.weight`];
      tf.tidy(() => {
        this.base.w(`${s.key}.weight`).assign(tf.tensor(W.data, W.shape));
        s.A.assign(tf.tensor2d(this.initA(s.key, s.A.shape[0], this.merges), s.A.shape as [number, number]));
        s.B.assign(tf.zerosLike(s.B));
      });
    }
  }

  /** A copy (new variables for base and adapters); adapters trainable or not as asked, the base frozen. */
  clone(trainable = false): LoraLlama {
    const m = new LoraLlama(this.base.clone(false), this.lora, { seed: this.initSeed, trainable });
    m.setAdapterWeights(this.getAdapterWeights());
    m.training = this.training;
    return m;
  }

  /**
   * This model plus a zero-initialised value head (a new model; this one is unchanged and still the caller's). It copies
   * the base: `applyLora(base.withValueHead(), config)` avoids that.
   */
  withValueHead(trainable = true): LoraLlama {
    if (this.config.valueHead) return this;
    const m = new LoraLlama(this.base.withValueHead(false), this.lora, { seed: this.initSeed, trainable });
    m.setAdapterWeights(this.getAdapterWeights());
    m.training = this.training;
    return m;
  }

  /** Base + adapter parameters. */
  parameterCount(): number { return this.base.parameterCount() + this.adapterParameterCount(); }

  /** Σ r·(in + out) over the adapted layers. */
  adapterParameterCount(): number { return [...this.sites.values()].reduce((n, s) => n + s.A.size + s.B.size, 0); }

  /** The base's forward FLOPs plus 2·r·(in + out) per adapted layer. */
  flopsPerToken(T?: number): number { return this.base.flopsPerToken(T) + 2 * this.adapterParameterCount(); }

  summary(): { parameters: number; flopsPerToken: number; [k: string]: unknown } {
    return {
      ...this.base.summary(), parameters: this.parameterCount(), flopsPerToken: this.flopsPerToken(),
      lora: { r: this.lora.r, alpha: this.lora.alpha, dropout: this.lora.dropout, targetModules: this.lora.targetModules, useRslora: this.lora.useRslora, layers: this.sites.size, trainableParameters: this.trainableVariables().reduce((n, v) => n + v.size, 0) },
    };
  }

  /** Frees the adapters and the base (which this model owns). */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const s of this.sites.values()) { s.A.dispose(); s.B.dispose(); }
    this.base.dispose();
  }
}

/** q_proj / k_proj of an interleaved-RoPE base: the heads its output columns are permuted over (HF layout ↔ ours). */
function ropeHeads(c: Llama['config'], m: LlamaLinearModule): number | undefined {
  if (c.ropeLayout !== 'interleaved') return undefined;
  return m === 'q_proj' ? c.nHeads : m === 'k_proj' ? c.nKvHeads : undefined;
}

/**
 * The base model, adapters off, as a CausalLM over the same variables (LoraLlama.referenceView). Read-only: it has no
 * trainable variables, setWeights / copyWeightsFrom refuse (they would change the policy's base), dispose() frees
 * nothing; clone / withValueHead make real copies (plain Llamas).
 */
class LlamaBaseView implements CausalLM {
  readonly family = 'llama';
  constructor(private readonly base: Llama) {}
  get config(): Llama['config'] { return this.base.config; }
  forward(ids: tf.Tensor2D, opts?: ForwardOptions): ForwardResult { return this.base.forwardWith(undefined, ids, opts); }
  tokenLogprobs(ids: tf.Tensor2D, opts?: TokenLogprobOptions): TokenLogprobResult { return this.base.tokenLogprobs(ids, opts); }
  responseLogprobs(ids: tf.Tensor2D, promptLength: number, opts?: TokenLogprobOptions): TokenLogprobResult { return this.base.responseLogprobs(ids, promptLength, opts); }
  prefill(ids: number[][], mask?: number[][]): { cache: KVCache; logits: tf.Tensor2D; values?: tf.Tensor1D } { return this.base.prefill(ids, mask); }
  decodeStep(cache: KVCache, tokens: number[]): { logits: tf.Tensor2D; values?: tf.Tensor1D } { return this.base.decodeStep(cache, tokens); }
  trainableVariables(): tf.Variable[] { return []; }
  clone(trainable = false): Llama { return this.base.clone(trainable); }
  withValueHead(trainable = true): Llama { return this.base.withValueHead(trainable); }
  copyWeightsFrom(): void { throw new Error('lora: the reference view shares the policy\'s frozen base and cannot be written; merge the adapters into the base instead (LoraLlama.mergeIntoBase)'); }
  getWeights(): Weights { return this.base.getWeights(); }
  setWeights(): void { this.copyWeightsFrom(); }
  dispose(): void { /* the base belongs to the LoraLlama */ }
  parameterCount(): number { return this.base.parameterCount(); }
  flopsPerToken(T?: number): number { return this.base.flopsPerToken(T); }
  summary(): { parameters: number; flopsPerToken: number; [k: string]: unknown } { return { ...this.base.summary(), view: 'lora reference (adapters off)' }; }
}

/**
 * LoRA on a freshly loaded Llama (llama2.c or Hugging Face, any rotary layout): freezes `base` in place and takes it
 * over (the returned model's dispose() frees it). A ~ U(−1/√in, 1/√in) from `seed`, B = 0, so the new model computes
 * exactly what the base does until the first update. For PPO's shared critic add the value head first
 * (`applyLora(base.withValueHead(), config)`): it stays trainable.
 */
export function applyLora(base: Llama, config: LoraConfig = {}, opts: { seed?: number } = {}): LoraLlama {
  return new LoraLlama(base, config, opts);
}

// ---------------------------------------------------------------------------------------------------------------
// adapter folders: adapter_config.json + adapter_model.safetensors (+ value_head.safetensors)

export const ADAPTER_CONFIG = 'adapter_config.json';
export const ADAPTER_WEIGHTS = 'adapter_model.safetensors';
/** RL Lens's own file beside a PEFT adapter: the value head (TRL's AutoModelForCausalLMWithValueHead names: v_head.summary.*). */
export const ADAPTER_VALUE_HEAD = 'value_head.safetensors';

/**
 * adapter_config.json as PEFT writes it (PeftConfigMixin.save_pretrained: `json.dumps(output_dict, indent=2,
 * sort_keys=True)` of LoraConfig.to_dict(), sets turned into lists; PeftModel.save_pretrained sets inference_mode
 * True for the file and auto_mapping stays null for a task_type model). Every LoraConfig field of PEFT's (0.13–0.17)
 * with its value or PEFT's default; fields only newer PEFT versions know are left out (an older PEFT drops unknown
 * fields with a warning, a newer one fills its defaults).
 */
export function peftAdapterConfig(model: LoraLlama, opts: { baseModelNameOrPath?: string; revision?: string } = {}): Record<string, unknown> {
  const c = model.lora;
  const list = (v: string[] | string | undefined) => (Array.isArray(v) ? [...new Set(v)].sort() : v ?? null);
  const cfg: Record<string, unknown> = {
    alpha_pattern: {}, auto_mapping: null, base_model_name_or_path: opts.baseModelNameOrPath ?? null, bias: 'none', exclude_modules: list(c.excludeModules),
    fan_in_fan_out: false, inference_mode: true, init_lora_weights: true, layer_replication: null, layers_pattern: null,
    layers_to_transform: c.layersToTransform ?? null, loftq_config: {}, lora_alpha: c.alpha, lora_bias: false, lora_dropout: c.dropout,
    megatron_config: null, megatron_core: 'megatron.core', modules_to_save: null, peft_type: 'LORA', r: c.r, rank_pattern: {},
    revision: opts.revision ?? null, target_modules: list(c.targetModules), task_type: 'CAUSAL_LM', use_dora: false, use_rslora: c.useRslora,
  };
  return Object.fromEntries(Object.keys(cfg).sort().map((k) => [k, cfg[k]]));
}

/** A model spec as RL Lens takes it (path, `hf:owner/repo[@rev]`) → PEFT's base_model_name_or_path (+ revision). */
export function peftBaseModelName(spec: string): { baseModelNameOrPath: string; revision?: string } {
  const m = /^hf:([^@]+)(?:@(.+))?$/.exec(spec.trim());
  return m ? { baseModelNameOrPath: m[1], ...(m[2] ? { revision: m[2] } : {}) } : { baseModelNameOrPath: spec };
}

/** The files of an adapter folder, as bytes / text (for writing into a checkpoint folder being assembled). */
export function encodeLoraAdapter(model: LoraLlama, opts: { baseModelNameOrPath?: string; revision?: string } = {}): Record<string, Uint8Array | string> {
  // PEFT: safe_save_file(output_state_dict, os.path.join(output_dir, SAFETENSORS_WEIGHTS_NAME), metadata={"format": "pt"})
  const files: Record<string, Uint8Array | string> = {
    [ADAPTER_WEIGHTS]: encodeSafetensors(model.peftStateDict(), { format: 'pt' }),
    [ADAPTER_CONFIG]: JSON.stringify(peftAdapterConfig(model, opts), null, 2),
  };
  if (model.config.valueHead) {
    const w = model.base.getWeights(), D = model.config.dModel;
    files[ADAPTER_VALUE_HEAD] = encodeSafetensors({ 'v_head.summary.weight': { shape: [1, D], data: w['value_head.weight'].data }, 'v_head.summary.bias': w['value_head.bias'] }, { format: 'pt' });
  }
  return files;
}

/** Save the adapters as PEFT's save_pretrained does (each file written atomically; the folder is created). */
export function saveLoraAdapter(dir: string, model: LoraLlama, opts: { baseModelNameOrPath?: string; revision?: string } = {}): string[] {
  fs.mkdirSync(dir, { recursive: true });
  const files = encodeLoraAdapter(model, opts);
  for (const [name, data] of Object.entries(files)) writeFileAtomic(path.join(dir, name), data);
  return Object.keys(files).map((f) => path.join(dir, f));
}

/**
 * adapter_config.json → LoraConfig, refusing what this implementation does not do (another peft_type, DoRA, biases,
 * fan_in_fan_out, rank / alpha patterns, modules_to_save, layer replication): each error names the file and field.
 */
export function readLoraAdapterConfig(dir: string): LoraConfig & { baseModelNameOrPath?: string; revision?: string } {
  const file = path.join(dir, ADAPTER_CONFIG);
  let c: Record<string, unknown>;
  try { c = JSON.parse(fs.readFileSync(file, 'utf8')); } catch (e) {
    throw new Error(`${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? `missing (a PEFT adapter folder has adapter_config.json and ${ADAPTER_WEIGHTS})` : `not valid JSON (${(e as Error).message})`}`);
  }
  const bad = (field: string, why: string) => new Error(`${file}: ${field} ${JSON.stringify(c[field])} ${why}`);
  if (String(c.peft_type ?? '').toUpperCase() !== 'LORA') throw bad('peft_type', 'is not supported (LORA only)');
  if (c.task_type !== undefined && c.task_type !== null && c.task_type !== 'CAUSAL_LM') throw bad('task_type', 'is not supported (CAUSAL_LM only)');
  if (c.use_dora) throw bad('use_dora', 'is not supported (plain LoRA only)');
  if (c.bias !== undefined && c.bias !== 'none') throw bad('bias', 'is not supported (bias "none" only)');
  if (c.lora_bias) throw bad('lora_bias', 'is not supported');
  if (c.fan_in_fan_out) throw bad('fan_in_fan_out', 'is not supported for a Llama (nn.Linear weights are [out, in])');
  for (const f of ['rank_pattern', 'alpha_pattern'] as const) if (c[f] && Object.keys(c[f] as object).length) throw bad(f, 'is not supported (one r and one lora_alpha for every layer)');
  if (Array.isArray(c.modules_to_save) && c.modules_to_save.length) throw bad('modules_to_save', 'is not supported (adapters only)');
  if (c.layer_replication) throw bad('layer_replication', 'is not supported');
  if (c.layers_pattern !== undefined && c.layers_pattern !== null && c.layers_pattern !== 'layers' && !(Array.isArray(c.layers_pattern) && c.layers_pattern.every((p) => p === 'layers'))) throw bad('layers_pattern', 'is not supported (a Llama\'s blocks are model.layers.N)');
  if (typeof c.r !== 'number') throw bad('r', 'must be a positive integer');
  const cfg: LoraConfig & { baseModelNameOrPath?: string; revision?: string } = {
    r: c.r, alpha: typeof c.lora_alpha === 'number' ? c.lora_alpha : 8, dropout: typeof c.lora_dropout === 'number' ? c.lora_dropout : 0,
    targetModules: c.target_modules === null || c.target_modules === undefined ? ['q_proj', 'v_proj'] : c.target_modules as string[] | string,
    useRslora: Boolean(c.use_rslora),
    ...(c.layers_to_transform !== null && c.layers_to_transform !== undefined ? { layersToTransform: c.layers_to_transform as number | number[] } : {}),
    ...(c.exclude_modules !== null && c.exclude_modules !== undefined ? { excludeModules: c.exclude_modules as string[] | string } : {}),
    ...(typeof c.base_model_name_or_path === 'string' ? { baseModelNameOrPath: c.base_model_name_or_path } : {}),
    ...(typeof c.revision === 'string' ? { revision: c.revision } : {}),
  };
  try { fullLoraConfig(cfg); } catch (e) { throw new Error(`${file}: ${(e as Error).message.replace(/^lora: /, '')}`); }
  return cfg;
}

/**
 * Load a PEFT adapter folder onto `base` (a freshly loaded Llama, which the result takes over; on an error after the
 * config was read it is disposed): adapter_config.json,
 * adapter_model.safetensors (F32 / F16 / BF16), and value_head.safetensors when present (the base gets a value head).
 * Errors name the file and the field or tensor: a missing file, a target module this Llama does not have, a tensor of
 * another shape (an adapter for another base).
 */
export function loadLoraAdapter(dir: string, base: Llama, opts: { trainable?: boolean } = {}): LoraLlama {
  const cfg = readLoraAdapterConfig(dir);
  const wfile = path.join(dir, ADAPTER_WEIGHTS);
  if (!fs.existsSync(wfile)) {
    const pickle = fs.existsSync(path.join(dir, 'adapter_model.bin'));
    throw new Error(`${wfile}: missing${pickle ? ' (adapter_model.bin is a PyTorch pickle, which is not read: save with safe_serialization=True)' : ''}`);
  }
  const sd = readSafetensors(wfile);
  const vfile = path.join(dir, ADAPTER_VALUE_HEAD);
  const model = fs.existsSync(vfile) && !base.config.valueHead ? base.withValueHead(false) : base;
  if (model !== base) base.dispose();
  let lora: LoraLlama;
  try {
    lora = new LoraLlama(model, cfg, { trainable: opts.trainable ?? true });
  } catch (e) {
    model.dispose();
    throw new Error(`${path.join(dir, ADAPTER_CONFIG)}: ${(e as Error).message.replace(/^lora: /, '')}`);
  }
  try {
    lora.setPeftStateDict(sd, wfile);
    if (fs.existsSync(vfile)) {
      const v = readSafetensors(vfile), D = model.config.dModel;
      const w = v['v_head.summary.weight'], b = v['v_head.summary.bias'];
      if (!w || w.data.length !== D || !b || b.data.length !== 1) throw new Error(`${vfile}: expected v_head.summary.weight [1, ${D}] and v_head.summary.bias [1]`);
      tf.tidy(() => { model.w('value_head.weight').assign(tf.tensor2d(w.data, [D, 1])); model.w('value_head.bias').assign(tf.tensor1d(b.data)); });
    }
  } catch (e) { lora.dispose(); throw e; }
  return lora;
}
