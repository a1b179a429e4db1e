/**
 * Checkpoints: `model.safetensors` (written by hand, readable by Python's `safetensors`) + `checkpoint.json` (CheckpointMeta).
 *
 * safetensors layout (https://github.com/huggingface/safetensors, "Format"):
 *   8 bytes   N, unsigned little-endian 64-bit: size of the header
 *   N bytes   JSON header, UTF-8: { "__metadata__": {str: str}, "<name>": { "dtype": "F32", "shape": [...], "data_offsets": [begin, end] }, ... }
 *             offsets are relative to the start of the data section; we pad the header with spaces to a multiple of 8
 *   rest      the tensors' bytes, little-endian, row-major, back to back in header order
 *
 * Atomic: the folder is written under a temporary name and renamed into place; checkpoint.json is written last inside it.
 */
import * as fs from 'fs';
import * as path from 'path';
import { FILES, type CheckpointMeta } from '../shared/runFormat';
import { isLittleEndian, swap32, writeFileAtomic } from '../runio/writer';
import { GPT, type GPTConfig } from './model/gpt';
import { Llama, type LlamaConfig } from './model/llama';
import { CharTokenizer } from './tokenizer';
import { Llama2cTokenizer } from './tokenizers/llama2c';
import { hfTokenizer, llama2cTextTokenizer, type TextTokenizer } from './tokenizers';
import type { RunModel, RunTokenizer } from './context';
import { LoraLlama, encodeLoraAdapter, loadLoraAdapter, peftBaseModelName } from './model/lora';
import { loadPretrainedLocal } from './model/pretrained';
import { encodeSafetensors } from './model/hf';

export type NamedWeights = Record<string, { shape: number[]; data: Float32Array }>;

/** safetensors writer: one implementation, in model/hf.ts (export and the LoRA adapter files use it too) */
export { encodeSafetensors };

export function decodeSafetensors(buf: Uint8Array, file = 'model.safetensors'): { weights: NamedWeights; metadata: Record<string, string> } {
  if (buf.length < 8) throw new Error(`${file}: too short for a safetensors file (${buf.length} bytes)`);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const n = Number(dv.getBigUint64(0, true));
  if (8 + n > buf.length) throw new Error(`${file}: header length ${n} exceeds the file size ${buf.length}`);
  let header: Record<string, any>;
  try { header = JSON.parse(Buffer.from(buf.subarray(8, 8 + n)).toString('utf8')); } catch (e) { throw new Error(`${file}: header is not valid JSON: ${(e as Error).message}`); }
  const base = 8 + n;
  const weights: NamedWeights = {};
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    if (info.dtype !== 'F32') throw new Error(`${file}: tensor ${name} has dtype ${info.dtype}; only F32 is supported`);
    const [b, e] = info.data_offsets as [number, number];
    const count = (info.shape as number[]).reduce((a: number, c: number) => a * c, 1);
    if (e - b !== 4 * count || base + e > buf.length) throw new Error(`${file}: tensor ${name} offsets [${b}, ${e}] do not match shape [${info.shape}] or the file size`);
    const bytes = buf.slice(base + b, base + e);
    if (!isLittleEndian()) swap32(bytes);
    weights[name] = { shape: info.shape, data: new Float32Array(bytes.buffer, bytes.byteOffset, count) };
  }
  return { weights, metadata: header.__metadata__ ?? {} };
}

/**
 * The tokenizer description of a checkpoint. The character tokenizer is described in full (its vocabulary); a pretrained
 * model's tokenizer by its kind, special ids and files, which saveCheckpoint copies into the checkpoint folder
 * (`tokenizerFiles`: tok512.bin, or tokenizer.json + tokenizer_config.json), so the checkpoint loads on its own.
 */
export function tokenizerMeta(tok: RunTokenizer, files: string[] = [], source?: string): CheckpointMeta['tokenizer'] {
  if (tok instanceof CharTokenizer) return tok.spec();
  return { type: tok.kind, vocab: [], vocabSize: tok.vocabSize, bos: tok.bos ?? -1, eos: tok.eos ?? -1, pad: tok.pad, files: files.map((f) => path.basename(f)), ...(source ? { source } : {}) };
}

/** Write a checkpoint folder atomically. Returns its path. `tokenizerFiles` are copied into it (a pretrained model's tokenizer). */
export function saveCheckpoint(dir: string, model: RunModel, meta: Omit<CheckpointMeta, 'format' | 'formatVersion' | 'model'> & { model?: Record<string, unknown> }, tokenizerFiles: string[] = []): string {
  const parent = path.dirname(dir);
  fs.mkdirSync(parent, { recursive: true });
  const tmp = path.join(parent, `.${path.basename(dir)}.${process.pid}.${Date.now()}.tmp`);
  fs.mkdirSync(tmp, { recursive: true });
  const lora = model instanceof LoraLlama ? loraCheckpointModel(model, meta.config) : undefined;
  const full: CheckpointMeta = { format: 'rl-lens-checkpoint', formatVersion: 1, ...meta, model: { family: model instanceof GPT ? 'gpt' : 'llama', ...model.config, parameters: model.parameterCount(), ...(lora ?? {}), ...(meta.model ?? {}) } };
  for (const f of tokenizerFiles) fs.copyFileSync(f, path.join(tmp, path.basename(f)));
  if (model instanceof LoraLlama) {
    // LoRA: the adapters as PEFT writes them (adapter_config.json + adapter_model.safetensors, + value_head.safetensors), not the frozen base
    const spec = (meta.config.model as { pretrained?: string } | undefined)?.pretrained ?? '';
    for (const [name, data] of Object.entries(encodeLoraAdapter(model, peftBaseModelName(spec)))) writeFileAtomic(path.join(tmp, name), data);
  } else {
    writeFileAtomic(path.join(tmp, FILES.checkpointWeights), encodeSafetensors(model.getWeights(), { format: 'pt', producer: 'rl-lens', step: String(meta.step) }));
  }
  writeFileAtomic(path.join(tmp, FILES.checkpointMeta), JSON.stringify(full, null, 2) + '\n');
  if (fs.existsSync(dir)) {
    const old = path.join(parent, `.${path.basename(dir)}.${process.pid}.${Date.now()}.old`);
    fs.renameSync(dir, old);
    fs.renameSync(tmp, dir);
    fs.rmSync(old, { recursive: true, force: true });
  } else {
    fs.renameSync(tmp, dir);
  }
  return dir;
}

export function readCheckpointMeta(dir: string): CheckpointMeta {
  const f = path.join(dir, FILES.checkpointMeta);
  let text: string;
  try { text = fs.readFileSync(f, 'utf8'); } catch { throw new Error(`${f}: missing (not a checkpoint folder, or an interrupted write)`); }
  try { return JSON.parse(text) as CheckpointMeta; } catch (e) { throw new Error(`${f}: not valid JSON: ${(e as Error).message}`); }
}

/** The tokenizer a checkpoint describes (tokenizerMeta): the character tokenizer, or the files copied beside the weights. */
export function checkpointTokenizer(dir: string, meta: CheckpointMeta): RunTokenizer {
  const t = meta.tokenizer;
  if (t.type === 'char') return CharTokenizer.fromSpec(t);
  const files = (t.files as string[] | undefined) ?? [];
  if (t.type === 'llama2c') {
    const f = path.join(dir, files[0] ?? 'tokenizer.bin');
    if (!fs.existsSync(f)) throw new Error(`${path.join(dir, FILES.checkpointMeta)}: tokenizer.files names ${files[0]}, but ${f} is missing`);
    return llama2cTextTokenizer(Llama2cTokenizer.fromFile(f, Number(meta.model.vocabSize)));
  }
  if (t.type === 'huggingface') {
    if (!fs.existsSync(path.join(dir, 'tokenizer.json'))) throw new Error(`${dir}: tokenizer.json is missing (the checkpoint's tokenizer is a Hugging Face one)`);
    return hfTokenizer(dir);
  }
  throw new Error(`${path.join(dir, FILES.checkpointMeta)}: tokenizer.type ${JSON.stringify(t.type)} is not one of char, llama2c, huggingface`);
}

/** What checkpoint.json's `model` says of a LoRA policy: the adapter config and the base it adapts (resolved local files). */
function loadLoraCheckpointModel(dir: string, meta: CheckpointMeta, opts: { trainable?: boolean; valueHead?: boolean }): LoraLlama {
  const base = meta.model.base as { spec?: string; local?: string } | undefined;
  const local = base?.local;
  if (!local || !fs.existsSync(local)) throw new Error(`${path.join(dir, FILES.checkpointMeta)}: model.base.local ${JSON.stringify(local)} (the base model these LoRA adapters belong to, ${base?.spec ?? '?'}) is not there; put the base back, or merge the adapters into a full model with rl-lens export --model BASE --adapter ${dir}`);
  const tokFile = ((meta.tokenizer.files as string[] | undefined) ?? []).map((f) => path.join(dir, f)).find((f) => f.endsWith('.bin'));
  const p = loadPretrainedLocal(local, { tokenizer: tokFile, trainable: false, maxContext: Number(meta.model.contextLength) });
  if (!(p.model instanceof Llama)) { p.model.dispose(); throw new Error(`${dir}: LoRA adapters need a llama base; ${local} is ${p.source.family}`); }
  let m = loadLoraAdapter(dir, p.model, { trainable: opts.trainable ?? true });
  if (opts.valueHead && !m.config.valueHead) { const v = m.withValueHead(opts.trainable ?? true); m.dispose(); m = v; }
  return m;
}

function loraCheckpointModel(model: LoraLlama, config: Record<string, unknown>): Record<string, unknown> {
  const derived = (config.derived ?? {}) as { pretrained?: { spec: string; format: string; files: string[] } };
  const pre = derived.pretrained;
  const local = pre?.files[0]; // the llama2.c .bin or the Hugging Face folder
  return { lora: model.lora, trainableParameters: model.trainableVariables().reduce((a, v) => a + v.size, 0), base: { spec: pre?.spec, local } };
}

/** Load a checkpoint folder of any family (the built-in GPT, GPT-2 or Llama weights, LoRA adapters on a Llama): model, tokenizer and meta. */
export function loadCheckpoint(dir: string, opts: { trainable?: boolean; valueHead?: boolean } = {}): { model: RunModel; tokenizer: RunTokenizer; meta: CheckpointMeta } {
  const meta = readCheckpointMeta(dir);
  if (meta.model.family !== 'llama') return loadGptCheckpoint(dir, opts, meta);
  if (meta.model.lora) return { model: loadLoraCheckpointModel(dir, meta, opts), tokenizer: checkpointTokenizer(dir, meta), meta };
  const f = path.join(dir, FILES.checkpointWeights);
  const { weights } = decodeSafetensors(fs.readFileSync(f), f);
  const cfg = { ...(meta.model as unknown as LlamaConfig) };
  const tokenizer = checkpointTokenizer(dir, meta);
  let model = Llama.fromWeights({ ...cfg, valueHead: Boolean(cfg.valueHead) }, weights, opts.trainable ?? true, f);
  if (opts.valueHead && !cfg.valueHead) { const m = model.withValueHead(opts.trainable ?? true); model.dispose(); model = m; }
  return { model, tokenizer, meta };
}

/** A checkpoint of the built-in character model (reward models, the preference methods, SFT): an error for another family. */
export function loadCharCheckpoint(dir: string, opts: { trainable?: boolean; valueHead?: boolean } = {}): { model: GPT; tokenizer: CharTokenizer; meta: CheckpointMeta } {
  const r = loadCheckpoint(dir, opts);
  if (r.model instanceof GPT && r.tokenizer instanceof CharTokenizer) return { model: r.model, tokenizer: r.tokenizer, meta: r.meta };
  r.model.dispose();
  throw new Error(`${dir}: a checkpoint of a pretrained ${String(r.meta.model.family ?? 'gpt2')} model; this needs one of the built-in character-level model`);
}

function loadGptCheckpoint(dir: string, opts: { trainable?: boolean; valueHead?: boolean }, meta: CheckpointMeta): { model: GPT; tokenizer: RunTokenizer; meta: CheckpointMeta } {
  const f = path.join(dir, FILES.checkpointWeights);
  const { weights } = decodeSafetensors(fs.readFileSync(f), f);
  const m = meta.model as unknown as GPTConfig;
  const cfg: GPTConfig = { vocabSize: m.vocabSize, contextLength: m.contextLength, dModel: m.dModel, nHeads: m.nHeads, nLayers: m.nLayers, mlpRatio: m.mlpRatio, valueHead: Boolean(m.valueHead), layerNormEps: m.layerNormEps };
  // RL from an SFT checkpoint without a value head: add a freshly initialised one (N(0,0.02) weight, zero bias)
  if (opts.valueHead && !cfg.valueHead) {
    const fresh = GPT.create({ ...cfg, valueHead: true }, 12345);
    const fw = fresh.getWeights();
    weights['value_head.weight'] = fw['value_head.weight'];
    weights['value_head.bias'] = fw['value_head.bias'];
    fresh.dispose();
    cfg.valueHead = true;
  }
  const model = GPT.fromWeights(cfg, weights, opts.trainable ?? true);
  return { model, tokenizer: checkpointTokenizer(dir, meta), meta };
}
