/**
 * llama2.c checkpoints (legacy version 0, karpathy/llama2.c `run.c` read_checkpoint / memory_map_weights) and the
 * conversion of their rotary layout to Hugging Face's.
 *
 * File: 7 little-endian int32 (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len; a negative
 * vocab_size means a separate classifier), then float32 arrays back to back, matrices row-major [out, in]:
 * token_embedding [V, D]; rms_att [L, D]; wq [L, H·hs, D]; wk [L, K·hs, D]; wv [L, K·hs, D]; wo [L, D, H·hs];
 * rms_ffn [L, D]; w1 [L, F, D]; w2 [L, D, F]; w3 [L, F, D]; rms_final [D]; freq_cis_real, freq_cis_imag
 * [seq_len·hs/2 each, unused]; wcls [V, D] only when vocab_size < 0.
 */
import * as fs from 'fs';
import type { LlamaConfig, LlamaWeights } from './llama';
import { transpose2d as transpose } from './weights';

export interface Llama2cCheckpoint {
  config: Required<Pick<LlamaConfig, 'vocabSize' | 'contextLength' | 'dModel' | 'hiddenDim' | 'nLayers' | 'nHeads' | 'nKvHeads' | 'ropeTheta' | 'ropeLayout' | 'rmsNormEps' | 'tieEmbeddings'>>;
  /** HF names, linear weights [in, out] (llama.ts) */
  weights: LlamaWeights;
}

/** Read a llama2.c `.bin` checkpoint. Errors name the file and say what was expected and found. */
export function readLlama2c(file: string): Llama2cCheckpoint {
  let buf: Buffer;
  try { buf = fs.readFileSync(file); } catch (e) { throw new Error(`${file}: cannot read the llama2.c checkpoint (${(e as Error).message})`); }
  return parseLlama2c(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength), file);
}

export function parseLlama2c(bytes: Uint8Array, file = 'checkpoint'): Llama2cCheckpoint {
  if (bytes.byteLength < 28) throw new Error(`${file}: ${bytes.byteLength} bytes, too short for a llama2.c header (7 int32 = 28 bytes)`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const [dim, hidden, nLayers, nHeads, nKv, vocabRaw, seqLen] = Array.from({ length: 7 }, (_, i) => dv.getInt32(4 * i, true));
  const shared = vocabRaw > 0, V = Math.abs(vocabRaw);
  const bad = [['dim', dim], ['hidden_dim', hidden], ['n_layers', nLayers], ['n_heads', nHeads], ['n_kv_heads', nKv], ['vocab_size', V], ['seq_len', seqLen]].filter(([, v]) => !(Number(v) > 0 && Number(v) < 1e7));
  if (bad.length) throw new Error(`${file}: not a llama2.c checkpoint (legacy v0): header field ${bad.map(([k, v]) => `${k}=${v}`).join(', ')} out of range (a v1+ file starts with the magic 0x616b3432: export it with --version 0)`);
  if (dim % nHeads !== 0 || nHeads % nKv !== 0) throw new Error(`${file}: header dim=${dim}, n_heads=${nHeads}, n_kv_heads=${nKv}: dim must divide by n_heads and n_heads by n_kv_heads`);
  const hs = dim / nHeads, kvDim = nKv * hs;
  const sizes: [string, number][] = [
    ['token_embedding', V * dim], ['rms_att', nLayers * dim], ['wq', nLayers * dim * dim], ['wk', nLayers * kvDim * dim], ['wv', nLayers * kvDim * dim],
    ['wo', nLayers * dim * dim], ['rms_ffn', nLayers * dim], ['w1', nLayers * hidden * dim], ['w2', nLayers * dim * hidden], ['w3', nLayers * hidden * dim],
    ['rms_final', dim], ['freq_cis_real', (seqLen * hs) / 2], ['freq_cis_imag', (seqLen * hs) / 2], ...(shared ? [] : [['wcls', V * dim]] as [string, number][]),
  ];
  const floats = sizes.reduce((a, [, n]) => a + n, 0);
  const want = 28 + 4 * floats;
  if (bytes.byteLength !== want) {
    throw new Error(`${file}: ${bytes.byteLength} bytes, but the header (dim ${dim}, hidden_dim ${hidden}, n_layers ${nLayers}, n_heads ${nHeads}, n_kv_heads ${nKv}, vocab_size ${vocabRaw}, seq_len ${seqLen}) needs ${want} (truncated or not a legacy v0 file)`);
  }
  const all = new Float32Array(floats);
  for (let i = 0; i < floats; i++) all[i] = dv.getFloat32(28 + 4 * i, true);
  const arr: Record<string, Float32Array> = {};
  let off = 0;
  for (const [name, n] of sizes) { arr[name] = all.subarray(off, off + n); off += n; }
  const layer = (a: Float32Array, l: number, n: number) => a.subarray(l * n, (l + 1) * n);
  const w: LlamaWeights = { 'model.embed_tokens.weight': { shape: [V, dim], data: arr.token_embedding.slice() } };
  for (let l = 0; l < nLayers; l++) {
    const p = `model.layers.${l}.`;
    w[p + 'input_layernorm.weight'] = { shape: [dim], data: layer(arr.rms_att, l, dim).slice() };
    w[p + 'self_attn.q_proj.weight'] = { shape: [dim, dim], data: transpose(layer(arr.wq, l, dim * dim), dim, dim) };
    w[p + 'self_attn.k_proj.weight'] = { shape: [dim, kvDim], data: transpose(layer(arr.wk, l, kvDim * dim), kvDim, dim) };
    w[p + 'self_attn.v_proj.weight'] = { shape: [dim, kvDim], data: transpose(layer(arr.wv, l, kvDim * dim), kvDim, dim) };
    w[p + 'self_attn.o_proj.weight'] = { shape: [dim, dim], data: transpose(layer(arr.wo, l, dim * dim), dim, dim) };
    w[p + 'post_attention_layernorm.weight'] = { shape: [dim], data: layer(arr.rms_ffn, l, dim).slice() };
    w[p + 'mlp.gate_proj.weight'] = { shape: [dim, hidden], data: transpose(layer(arr.w1, l, hidden * dim), hidden, dim) };
    w[p + 'mlp.down_proj.weight'] = { shape: [hidden, dim], data: transpose(layer(arr.w2, l, dim * hidden), dim, hidden) };
    w[p + 'mlp.up_proj.weight'] = { shape: [dim, hidden], data: transpose(layer(arr.w3, l, hidden * dim), hidden, dim) };
  }
  w['model.norm.weight'] = { shape: [dim], data: arr.rms_final.slice() };
  if (!shared) w['lm_head.weight'] = { shape: [dim, V], data: transpose(arr.wcls, V, dim) };
  return {
    config: { vocabSize: V, contextLength: seqLen, dModel: dim, hiddenDim: hidden, nLayers, nHeads, nKvHeads: nKv, ropeTheta: 10000, ropeLayout: 'interleaved', rmsNormEps: 1e-5, tieEmbeddings: shared },
    weights: w,
  };
}

/**
 * Hugging Face's permutation of q / k projection rows (transformers `convert_llama_weights_to_hf.py` `permute`:
 * `w.view(n_heads, dim1 // n_heads // 2, 2, dim2).transpose(1, 2).reshape(dim1, dim2)`), which turns a checkpoint for
 * the interleaved rotary layout into one for rotate-half. Our weights are [in, out], so the permutation acts on
 * columns: new column h·hd + j·hd/2 + i = old column h·hd + 2i + j.
 */
export function permuteForHalfRope(w: { shape: number[]; data: Float32Array }, nHeads: number): { shape: number[]; data: Float32Array } {
  return permuteRopeColumns(w, nHeads, true);
}

/** The inverse of `permuteForHalfRope`: columns of a rotate-half ([in, out]) matrix back to the interleaved layout. */
export function permuteFromHalfRope(w: { shape: number[]; data: Float32Array }, nHeads: number): { shape: number[]; data: Float32Array } {
  return permuteRopeColumns(w, nHeads, false);
}

/** interleaved column h·hd + 2i + j ↔ rotate-half column h·hd + j·hd/2 + i, in the direction asked for */
function permuteRopeColumns(w: { shape: number[]; data: Float32Array }, nHeads: number, toHalf: boolean): { shape: number[]; data: Float32Array } {
  const [din, dout] = w.shape;
  const hd = dout / nHeads, half = hd / 2;
  const out = new Float32Array(w.data.length);
  for (let r = 0; r < din; r++) {
    for (let h = 0; h < nHeads; h++) for (let i = 0; i < half; i++) for (let j = 0; j < 2; j++) {
      const inter = r * dout + h * hd + 2 * i + j, halfCol = r * dout + h * hd + j * half + i;
      if (toHalf) out[halfCol] = w.data[inter]; else out[inter] = w.data[halfCol];
    }
  }
  return { shape: [din, dout], data: out };
}

/** A llama2.c checkpoint re-laid for rotate-half RoPE (what HF's conversion produces): q_proj / k_proj permuted. */
export function toHalfRopeLayout(ck: Llama2cCheckpoint): Llama2cCheckpoint {
  const w: LlamaWeights = { ...ck.weights };
  for (let l = 0; l < ck.config.nLayers; l++) {
    const p = `model.layers.${l}.self_attn.`;
    w[p + 'q_proj.weight'] = permuteForHalfRope(w[p + 'q_proj.weight'], ck.config.nHeads);
    w[p + 'k_proj.weight'] = permuteForHalfRope(w[p + 'k_proj.weight'], ck.config.nKvHeads);
  }
  return { config: { ...ck.config, ropeLayout: 'half' }, weights: w };
}
