/**
 * `rl-lens export`: a base model + a PEFT LoRA adapter → one Hugging Face folder with the adapters merged in
 * (PEFT's merge_and_unload: W' = W + (lora_alpha / r)·B·A), which hf.ts (and transformers) load as a plain Llama:
 *
 *   config.json          the base's own config.json (Hugging Face base; torch_dtype float32) or one written from the
 *                        llama2.c header (model_type llama, the fields hf.ts reads)
 *   model.safetensors    F32, Hugging Face layout: nn.Linear [out, in], rotate-half q / k (a llama2.c base is permuted
 *                        as HF's conversion script does), lm_head only when untied; no value head
 *   tokenizer files      a Hugging Face base's tokenizer.json, tokenizer_config.json, special_tokens_map.json,
 *                        tokenizer.model, generation_config.json (those present); a llama2.c tokenizer as tokenizer.bin,
 *                        which RL Lens reads from the folder (pretrained.ts) and transformers does not
 *
 * The folder is assembled under a temporary name beside `out` and renamed into place; `out` must not exist or be empty.
 */
import * as fs from 'fs';
import * as path from 'path';
import { encodeSafetensors, llamaHfConfig, llamaWeightsToHf } from './hf';
import { Llama } from './llama';
import { ADAPTER_WEIGHTS, loadLoraAdapter, readLoraAdapterConfig } from './lora';
import { loadPretrained } from './pretrained';

export interface ExportOptions {
  /** the base: a llama2.c .bin, a folder, a Hugging Face folder or hf:owner/repo[/subfolder][@revision] (loadPretrained) */
  model: string;
  /** the PEFT adapter folder (adapter_config.json + adapter_model.safetensors) */
  adapter: string;
  /** the Hugging Face folder to write */
  out: string;
  /** the base's tokenizer when it is not beside the weights (as loadPretrained's --tokenizer) */
  tokenizer?: string;
}

export interface ExportResult {
  out: string;
  /** file names written into `out` */
  files: string[];
  base: { format: 'llama2c' | 'huggingface'; ropeLayout: 'interleaved' | 'half' };
  /** how many linear layers got a merged adapter */
  mergedLayers: number;
  /** what to tell the user (e.g. that the tokenizer is llama2.c's) */
  notes: string[];
}

/** Merge a PEFT LoRA adapter into its base and write a Hugging Face folder. Errors name the file (adapter, base, out). */
export async function exportMergedLora(o: ExportOptions): Promise<ExportResult> {
  // the adapter first: its errors come before loading a large base
  readLoraAdapterConfig(o.adapter);
  if (!fs.existsSync(path.join(o.adapter, ADAPTER_WEIGHTS))) throw new Error(`${path.join(o.adapter, ADAPTER_WEIGHTS)}: missing${fs.existsSync(path.join(o.adapter, 'adapter_model.bin')) ? ' (adapter_model.bin is a PyTorch pickle, which is not read: save with safe_serialization=True)' : ''}`);
  if (fs.existsSync(o.out) && (!fs.statSync(o.out).isDirectory() || fs.readdirSync(o.out).length)) throw new Error(`${o.out}: exists and is not an empty folder; give a new --out`);
  const p = await loadPretrained(o.model, { tokenizer: o.tokenizer, trainable: false });
  if (!(p.model instanceof Llama)) {
    p.model.dispose();
    throw new Error(`${o.model}: a ${p.source.family} model; LoRA export supports the llama family (llama, qwen2, mistral, smollm, llama2.c)`);
  }
  const lora = loadLoraAdapter(o.adapter, p.model, { trainable: false });
  const notes: string[] = [];
  const files: Record<string, Uint8Array | string> = {};
  try {
    const cfg = lora.config;
    files['model.safetensors'] = encodeSafetensors(llamaWeightsToHf(cfg, lora.mergedWeights()), { format: 'pt' });
    const srcDir = p.source.format === 'huggingface' ? p.source.files[0] : undefined;
    let config: Record<string, unknown>;
    if (srcDir) {
      config = JSON.parse(fs.readFileSync(path.join(srcDir, 'config.json'), 'utf8')) as Record<string, unknown>;
      Object.assign(config, { torch_dtype: 'float32', tie_word_embeddings: cfg.tieEmbeddings }, 'dtype' in config ? { dtype: 'float32' } : {});
      delete config.quantization_config;
    } else {
      config = { ...llamaHfConfig(cfg), ...(p.tokenizer.bos !== undefined ? { bos_token_id: p.tokenizer.bos } : {}) };
    }
    files['config.json'] = JSON.stringify(config, null, 2) + '\n';
    // the tokenizer: the files it was read from (pretrained.ts tokenizerFiles)
    if (p.tokenizer.kind === 'llama2c') {
      files['tokenizer.bin'] = fs.readFileSync(p.tokenizerFiles[0]);
      notes.push('tokenizer.bin is llama2.c\'s tokenizer (no tokenizer.json): RL Lens reads it from this folder (rl-lens generate --model OUT); transformers needs a tokenizer.json, converted from it');
    } else {
      for (const f of p.tokenizerFiles) files[path.basename(f)] = fs.readFileSync(f);
      const model = p.tokenizerFiles.length ? path.join(path.dirname(p.tokenizerFiles[0]), 'tokenizer.model') : '';
      if (model && fs.existsSync(model)) files['tokenizer.model'] = fs.readFileSync(model);
    }
    if (srcDir && fs.existsSync(path.join(srcDir, 'generation_config.json'))) files['generation_config.json'] = fs.readFileSync(path.join(srcDir, 'generation_config.json'));
    writeFolder(o.out, files);
    if (cfg.ropeLayout === 'interleaved') notes.push('the base uses llama2.c\'s interleaved rotary layout: q_proj / k_proj were permuted to Hugging Face\'s rotate-half layout');
    return { out: o.out, files: Object.keys(files).sort(), base: { format: p.source.format, ropeLayout: cfg.ropeLayout }, mergedLayers: lora.targetKeys.length, notes };
  } finally {
    lora.dispose();
  }
}

/** Write files into a temporary folder beside `dir`, then rename it into place (an empty `dir` is replaced). */
function writeFolder(dir: string, files: Record<string, Uint8Array | string>): void {
  const parent = path.dirname(path.resolve(dir));
  fs.mkdirSync(parent, { recursive: true });
  const tmp = path.join(parent, `.${path.basename(dir)}.${process.pid}.${Date.now()}.tmp`);
  fs.mkdirSync(tmp);
  try {
    for (const [name, data] of Object.entries(files)) fs.writeFileSync(path.join(tmp, name), data);
    if (fs.existsSync(dir)) fs.rmdirSync(dir); // empty (checked before)
    fs.renameSync(tmp, dir);
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}
