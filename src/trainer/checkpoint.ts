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
import { CharTokenizer } from './tokenizer';

export type NamedWeights = Record<string, { shape: number[]; data: Float32Array }>;

export function encodeSafetensors(weights: NamedWeights, metadata: Record<string, string> = {}): Uint8Array {
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

/** Write a checkpoint folder atomically. Returns its path. */
export function saveCheckpoint(dir: string, model: GPT, meta: Omit<CheckpointMeta, 'format' | 'formatVersion' | 'model'> & { model?: Record<string, unknown> }): string {
  const parent = path.dirname(dir);
  fs.mkdirSync(parent, { recursive: true });
  const tmp = path.join(parent, `.${path.basename(dir)}.${process.pid}.${Date.now()}.tmp`);
  fs.mkdirSync(tmp, { recursive: true });
  const full: CheckpointMeta = { format: 'rl-lens-checkpoint', formatVersion: 1, ...meta, model: { ...model.config, parameters: model.parameterCount(), ...(meta.model ?? {}) } };
  writeFileAtomic(path.join(tmp, FILES.checkpointWeights), encodeSafetensors(model.getWeights(), { format: 'pt', producer: 'rl-lens', step: String(meta.step) }));
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

/** Load a checkpoint folder: model (trainable unless told otherwise), tokenizer and meta. */
export function loadCheckpoint(dir: string, opts: { trainable?: boolean; valueHead?: boolean } = {}): { model: GPT; tokenizer: CharTokenizer; meta: CheckpointMeta } {
  const meta = readCheckpointMeta(dir);
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
  return { model, tokenizer: CharTokenizer.fromSpec(meta.tokenizer), meta };
}
