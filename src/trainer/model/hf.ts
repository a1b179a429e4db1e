/**
 * Hugging Face model folders: `config.json` + `model.safetensors` (or sharded: `model.safetensors.index.json` with its
 * `weight_map`), tensors in F32 / F16 / BF16 (widened to float32). Families, chosen from `config.json` `model_type`:
 *
 *   llama, qwen2, mistral, smollm (llama layout)  → Llama (llama.ts), rotate-half RoPE (HF layout), nn.Linear weights
 *                                                  [out, in] transposed to [in, out]; Qwen2's q/k/v biases
 *   gpt2                                          → GPT (gpt.ts), Conv1D weights already [in, out]; lm_head tied to wte
 *
 * Every bad input is a clear error naming the file and the tensor or field, what was expected and what was found.
 */
import * as fs from 'fs';
import * as path from 'path';
import { isLittleEndian, swap32 } from '../../runio/writer';
import { GPT, type GPTConfig } from './gpt';
import { Llama, type LlamaConfig, type LlamaWeights } from './llama';
import { permuteForHalfRope } from './llama2c';
import { transpose2d, type Weights } from './weights';


/** IEEE half → float. */
function f16(h: number): number {
  const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

const DTYPE_BYTES: Record<string, number> = { F32: 4, F16: 2, BF16: 2, F64: 8 };

/** Read a safetensors file, every tensor widened to float32 (F32, F16, BF16, F64). `only`: names to keep. */
export function readSafetensors(file: string, only?: Set<string>): Weights {
  let buf: Buffer;
  try { buf = fs.readFileSync(file); } catch (e) { throw new Error(`${file}: cannot read (${(e as Error).message})`); }
  if (buf.length < 8) throw new Error(`${file}: ${buf.length} bytes, too short for a safetensors file`);
  const n = Number(buf.readBigUInt64LE(0));
  if (8 + n > buf.length) throw new Error(`${file}: header length ${n} exceeds the file size ${buf.length} (truncated?)`);
  let header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  try { header = JSON.parse(buf.toString('utf8', 8, 8 + n)); } catch (e) { throw new Error(`${file}: header is not valid JSON (${(e as Error).message})`); }
  const base = 8 + n;
  const out: Weights = {};
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__' || (only && !only.has(name))) continue;
    const size = DTYPE_BYTES[info.dtype];
    if (!size) throw new Error(`${file}: tensor ${name} has dtype ${info.dtype}; supported: F32, F16, BF16, F64 (convert the checkpoint to one of them)`);
    const count = info.shape.reduce((a, b) => a * b, 1);
    const [b, e] = info.data_offsets;
    if (e - b !== size * count || base + e > buf.length) throw new Error(`${file}: tensor ${name} (${info.dtype} [${info.shape}]) has offsets [${b}, ${e}]: expected ${size * count} bytes inside a ${buf.length}-byte file`);
    const data = new Float32Array(count);
    const at = base + b;
    if (info.dtype === 'F32') for (let i = 0; i < count; i++) data[i] = buf.readFloatLE(at + 4 * i);
    else if (info.dtype === 'F64') for (let i = 0; i < count; i++) data[i] = buf.readDoubleLE(at + 8 * i);
    else if (info.dtype === 'F16') for (let i = 0; i < count; i++) data[i] = f16(buf.readUInt16LE(at + 2 * i));
    else { const tmp = new DataView(new ArrayBuffer(4)); for (let i = 0; i < count; i++) { tmp.setUint32(0, buf.readUInt16LE(at + 2 * i) << 16, true); data[i] = tmp.getFloat32(0, true); } }
    out[name] = { shape: info.shape.slice(), data };
  }
  return out;
}

/**
 * Tensors → safetensors bytes, every tensor F32 (the format: u64 little-endian header length, JSON header padded with
 * spaces to a multiple of 8, then the little-endian data back to back in header order). What `export` and the LoRA
 * adapter files (lora.ts) are written with; readSafetensors reads it back.
 */
export function encodeSafetensors(weights: Weights, metadata: Record<string, string> = {}): Uint8Array {
  const names = Object.keys(weights);
  const header: Record<string, unknown> = { __metadata__: metadata };
  let off = 0;
  for (const name of names) {
    const w = weights[name];
    const n = w.shape.reduce((a, b) => a * b, 1);
    if (n !== w.data.length) throw new Error(`safetensors: ${name} has ${w.data.length} values but shape [${w.shape}]`);
    header[name] = { dtype: 'F32', shape: w.shape, data_offsets: [off, off + 4 * n] };
    off += 4 * n;
  }
  let json = JSON.stringify(header);
  while ((8 + Buffer.byteLength(json)) % 8 !== 0) json += ' ';
  const hbytes = Buffer.from(json, 'utf8');
  const out = new Uint8Array(8 + hbytes.length + off);
  const dv = new DataView(out.buffer);
  dv.setBigUint64(0, BigInt(hbytes.length), true);
  out.set(hbytes, 8);
  let at = 8 + hbytes.length;
  for (const name of names) {
    const d = weights[name].data;
    const bytes = new Uint8Array(d.buffer, d.byteOffset, d.byteLength).slice();
    if (!isLittleEndian()) swap32(bytes);
    out.set(bytes, at);
    at += bytes.length;
  }
  return out;
}

/** All tensors of a model folder: `model.safetensors`, or the shards named by `model.safetensors.index.json`. */
export function readHfWeights(dir: string): Weights {
  const single = path.join(dir, 'model.safetensors'), index = path.join(dir, 'model.safetensors.index.json');
  if (fs.existsSync(index)) {
    let map: Record<string, string>;
    try { map = (JSON.parse(fs.readFileSync(index, 'utf8')) as { weight_map: Record<string, string> }).weight_map; } catch (e) { throw new Error(`${index}: not valid JSON (${(e as Error).message})`); }
    if (!map || typeof map !== 'object') throw new Error(`${index}: no "weight_map" object`);
    const byShard = new Map<string, Set<string>>();
    for (const [t, shard] of Object.entries(map)) { if (!byShard.has(shard)) byShard.set(shard, new Set()); byShard.get(shard)!.add(t); }
    const out: Weights = {};
    for (const [shard, names] of byShard) {
      const f = path.join(dir, shard);
      if (!fs.existsSync(f)) throw new Error(`${index}: weight_map names shard ${shard}, which is not in ${dir} (download every shard)`);
      const w = readSafetensors(f, names);
      for (const t of names) {
        if (!w[t]) throw new Error(`${f}: tensor ${t} missing (model.safetensors.index.json says it is in this shard)`);
        out[t] = w[t];
      }
    }
    return out;
  }
  if (fs.existsSync(single)) return readSafetensors(single);
  const bins = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => /\.bin$|\.pt$|\.pth$/.test(f)) : [];
  throw new Error(`${dir}: no model.safetensors or model.safetensors.index.json${bins.length ? ` (found ${bins.join(', ')}: PyTorch pickles are not read; convert to safetensors)` : ''}`);
}

export type HfFamily = 'llama' | 'gpt2';
export const LLAMA_MODEL_TYPES = ['llama', 'qwen2', 'mistral', 'smollm'] as const;

export interface HfModelDescription {
  family: HfFamily;
  modelType: string;
  llama?: LlamaConfig;
  gpt2?: GPTConfig;
  /** things of the config RL Lens does not implement, said plainly (e.g. Mistral's sliding window) */
  notes: string[];
}

/** Read `config.json` and map it to a family config. `maxContext` caps max_position_embeddings (rotary tables are [ctx, hd/2]). */
export function readHfConfig(dir: string, opts: { maxContext?: number } = {}): HfModelDescription {
  const file = path.join(dir, 'config.json');
  let c: Record<string, unknown>;
  try { c = JSON.parse(fs.readFileSync(file, 'utf8')); } catch (e) { throw new Error(`${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing (a Hugging Face model folder has a config.json)' : `not valid JSON (${(e as Error).message})`}`); }
  const num = (k: string, dflt?: number): number => {
    const v = c[k] ?? dflt;
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`${file}: field ${k} must be a number, got ${JSON.stringify(c[k])}`);
    return v;
  };
  const type = String(c.model_type ?? '');
  const notes: string[] = [];
  const cap = (n: number) => Math.min(n, opts.maxContext ?? 2048);
  if ((LLAMA_MODEL_TYPES as readonly string[]).includes(type)) {
    if (c.rope_scaling) throw new Error(`${file}: rope_scaling ${JSON.stringify(c.rope_scaling)} is not supported (plain RoPE only); Llama 3.1+ style scaled rotary embeddings are not implemented`);
    const D = num('hidden_size'), H = num('num_attention_heads');
    if (c.head_dim !== undefined && c.head_dim !== null && c.head_dim !== D / H) throw new Error(`${file}: head_dim ${c.head_dim} differs from hidden_size / num_attention_heads = ${D / H}; not supported`);
    if (type === 'mistral' && typeof c.sliding_window === 'number') notes.push(`sliding_window ${c.sliding_window} is ignored: attention is full causal (the same as Mistral's for sequences up to ${c.sliding_window} tokens)`);
    if (c.hidden_act !== undefined && c.hidden_act !== 'silu') throw new Error(`${file}: hidden_act ${JSON.stringify(c.hidden_act)} not supported for ${type} (SwiGLU with silu only)`);
    const ctx = num('max_position_embeddings', 2048);
    if (cap(ctx) < ctx) notes.push(`context capped at ${cap(ctx)} of max_position_embeddings ${ctx}`);
    return {
      family: 'llama', modelType: type, notes,
      llama: {
        vocabSize: num('vocab_size'), contextLength: cap(ctx), dModel: D, hiddenDim: num('intermediate_size'), nLayers: num('num_hidden_layers'),
        nHeads: H, nKvHeads: num('num_key_value_heads', H), ropeTheta: num('rope_theta', 10000), ropeLayout: 'half', rmsNormEps: num('rms_norm_eps', 1e-6),
        tieEmbeddings: Boolean(c.tie_word_embeddings ?? false), qkvBias: type === 'qwen2' || Boolean(c.attention_bias),
      },
    };
  }
  if (type === 'gpt2') {
    const D = num('n_embd');
    const inner = c.n_inner === null || c.n_inner === undefined ? 4 * D : num('n_inner');
    const act = c.activation_function ?? 'gelu_new';
    if (act !== 'gelu_new' && act !== 'gelu_pytorch_tanh') throw new Error(`${file}: activation_function ${JSON.stringify(act)} not supported (GELU tanh approximation only)`);
    return { family: 'gpt2', modelType: type, notes, gpt2: { vocabSize: num('vocab_size'), contextLength: num('n_positions'), dModel: D, nHeads: num('n_head'), nLayers: num('n_layer'), mlpRatio: inner / D, layerNormEps: num('layer_norm_epsilon', 1e-5) } };
  }
  throw new Error(`${file}: model_type ${JSON.stringify(c.model_type)} is not supported; supported: ${[...LLAMA_MODEL_TYPES, 'gpt2'].join(', ')}`);
}

function transpose2(w: { shape: number[]; data: Float32Array }): { shape: number[]; data: Float32Array } {
  const [r, c] = w.shape;
  return { shape: [c, r], data: transpose2d(w.data, r, c) };
}

/** HF llama-layout tensors → Llama weights (linear [out, in] → [in, out]; lm_head dropped when tied). */
export function llamaWeightsFromHf(cfg: Required<LlamaConfig>, hf: Weights, dir: string): LlamaWeights {
  const w: LlamaWeights = {};
  const get = (name: string) => {
    const t = hf[name];
    if (!t) throw new Error(`${dir}: tensor ${name} missing from the safetensors (expected for ${cfg.nLayers} layers${cfg.qkvBias ? ' with q/k/v biases' : ''})`);
    return t;
  };
  for (const [name] of Llama.shapes(cfg)) {
    if (name.startsWith('value_head.')) continue;
    const t = get(name);
    w[name] = /_proj\.weight$|^lm_head\.weight$/.test(name) ? transpose2(t) : t;
  }
  return w;
}

/**
 * Llama weights → Hugging Face llama-layout tensors (the inverse of llamaWeightsFromHf): linear weights [in, out] →
 * nn.Linear's [out, in]; an interleaved-RoPE model (llama2.c) has its q / k projections permuted to rotate-half
 * (permuteForHalfRope, as HF's conversion script); lm_head only when untied; the value head is not part of the model.
 */
export function llamaWeightsToHf(cfg: Required<LlamaConfig>, w: LlamaWeights): Weights {
  const out: Weights = {};
  for (const [name] of Llama.shapes(cfg)) {
    if (name.startsWith('value_head.')) continue;
    let t = w[name];
    if (!t) throw new Error(`llama: tensor ${name} missing`);
    if (cfg.ropeLayout === 'interleaved' && /self_attn\.[qk]_proj\.(weight|bias)$/.test(name)) {
      const heads = name.includes('q_proj') ? cfg.nHeads : cfg.nKvHeads;
      t = t.shape.length === 2 ? permuteForHalfRope(t, heads) : { shape: t.shape, data: permuteForHalfRope({ shape: [1, t.shape[0]], data: t.data }, heads).data };
    }
    out[name] = /_proj\.weight$|^lm_head\.weight$/.test(name) ? transpose2(t) : t;
  }
  return out;
}

/** The `config.json` of a Llama in Hugging Face's layout: the fields readHfConfig reads (model_type llama, rotate-half). */
export function llamaHfConfig(cfg: Required<LlamaConfig>): Record<string, unknown> {
  return {
    architectures: ['LlamaForCausalLM'], model_type: 'llama', vocab_size: cfg.vocabSize, hidden_size: cfg.dModel, intermediate_size: cfg.hiddenDim,
    num_hidden_layers: cfg.nLayers, num_attention_heads: cfg.nHeads, num_key_value_heads: cfg.nKvHeads, max_position_embeddings: cfg.contextLength,
    rms_norm_eps: cfg.rmsNormEps, rope_theta: cfg.ropeTheta, rope_scaling: null, hidden_act: 'silu', attention_bias: cfg.qkvBias, mlp_bias: false,
    tie_word_embeddings: cfg.tieEmbeddings, torch_dtype: 'float32',
  };
}

/** HF GPT-2 tensors (optionally prefixed `transformer.`) → GPT weights; `lm_head.weight` = wteᵀ (GPT-2 ties them). */
export function gpt2WeightsFromHf(cfg: GPTConfig, hf: Weights, dir: string): Weights {
  const w: Weights = {};
  for (const [name] of GPT.shapes(GPT.fullConfig(cfg))) {
    if (name === 'lm_head.weight' || name.startsWith('value_head.')) continue;
    const t = hf[name] ?? hf[`transformer.${name}`];
    if (!t) throw new Error(`${dir}: tensor ${name} (or transformer.${name}) missing from the safetensors`);
    w[name] = t;
  }
  w['lm_head.weight'] = transpose2(w['wte.weight']);
  return w;
}

/** Load a Hugging Face model folder as a Llama or a GPT. */
export function loadHfModel(dir: string, opts: { trainable?: boolean; maxContext?: number } = {}): { description: HfModelDescription; model: Llama | GPT } {
  const description = readHfConfig(dir, opts);
  const hf = readHfWeights(dir);
  if (description.family === 'llama') {
    const cfg = Llama.fullConfig(description.llama!);
    if (!cfg.tieEmbeddings && !hf['lm_head.weight']) cfg.tieEmbeddings = true; // no separate head stored: tied
    description.llama = cfg;
    return { description, model: Llama.fromWeights(cfg, llamaWeightsFromHf(cfg, hf, dir), opts.trainable ?? true, dir) };
  }
  const cfg = description.gpt2!;
  return { description, model: GPT.fromWeights(cfg, gpt2WeightsFromHf(cfg, hf, dir), opts.trainable ?? true) };
}
