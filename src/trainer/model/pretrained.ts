/**
 * Pretrained models by path or hub id, with their tokenizer:
 *   - a llama2.c checkpoint: `model.bin` (its tokenizer: --tokenizer, else `tokenizer.bin` / `tok*.bin` beside it);
 *   - a folder holding one llama2.c `.bin` and its tokenizer (e.g. ../shared/models/stories260K);
 *   - a Hugging Face folder: `config.json` + safetensors + `tokenizer.json` (hf.ts, tokenizers/index.ts), or a
 *     llama2.c `tokenizer.bin` / `tok*.bin` in place of tokenizer.json (`rl-lens export` of a llama2.c base);
 *   - a hub id `hf:owner/repo[/subfolder][@revision]` (hub.ts): the Hugging Face layout when the repo has a
 *     config.json there, else the llama2.c files the caller names (the stories260K preset pins them).
 */
import * as fs from 'fs';
import * as path from 'path';
import type { GPT } from './gpt';
import { Llama } from './llama';
import { readLlama2c } from './llama2c';
import { loadHfModel, type HfModelDescription } from './hf';
import { STORIES260K, hubFiles, parseHubId } from './hub';
import { Llama2cTokenizer } from '../tokenizers/llama2c';
import { hfTokenizer, llama2cTextTokenizer, type TextTokenizer } from '../tokenizers';

export interface Pretrained {
  model: Llama | GPT;
  tokenizer: TextTokenizer;
  /** what was loaded, from where */
  source: { spec: string; format: 'llama2c' | 'huggingface'; files: string[]; family: 'llama' | 'gpt2'; notes: string[] };
  description?: HfModelDescription;
  /** the tokenizer's own files (a checkpoint of a run copies them, so it loads without the original folder) */
  tokenizerFiles: string[];
}

/** The files a Hugging Face tokenizer is read from (tokenizers/index.ts hfTokenizer): tokenizer.json and its configs. */
export function hfTokenizerFiles(dir: string): string[] {
  return ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json'].map((f) => path.join(dir, f)).filter((f) => fs.existsSync(f));
}

/** llama2.c `.bin` files of a folder, and its llama2.c tokenizer files. */
function llama2cFilesIn(dir: string): { bins: string[]; toks: string[] } {
  const names = fs.readdirSync(dir);
  const toks = names.filter((n) => /^(tokenizer|tok\d*)\.bin$/.test(n)).map((n) => path.join(dir, n));
  const bins = names.filter((n) => n.endsWith('.bin') && !toks.includes(path.join(dir, n)) && !/^pytorch_model/.test(n)).map((n) => path.join(dir, n));
  return { bins, toks };
}

function fromLlama2c(spec: string, bin: string, tokFile: string | undefined, opts: { trainable?: boolean; maxContext?: number }): Pretrained {
  const ck = readLlama2c(bin);
  if (!tokFile) throw new Error(`${bin}: no llama2.c tokenizer beside it (tokenizer.bin or tok*.bin): pass --tokenizer PATH`);
  const tok = Llama2cTokenizer.fromFile(tokFile, ck.config.vocabSize);
  return {
    // maxContext caps seq_len (the rotary tables are [context, hd/2]; no weight depends on it)
    model: Llama.fromWeights(opts.maxContext ? { ...ck.config, contextLength: Math.min(ck.config.contextLength, opts.maxContext) } : ck.config, ck.weights, opts.trainable ?? true, bin),
    tokenizer: llama2cTextTokenizer(tok),
    source: { spec, format: 'llama2c', files: [bin, tokFile], family: 'llama', notes: [] },
    tokenizerFiles: [tokFile],
  };
}

function fromHfFolder(spec: string, dir: string, tokenizerOpt: string | undefined, opts: { trainable?: boolean; maxContext?: number }): Pretrained {
  // no tokenizer.json but a llama2.c tokenizer (tokenizer.bin / tok*.bin): what `rl-lens export` writes for a llama2.c base
  const tokenizer = tokenizerOpt ?? (fs.existsSync(path.join(dir, 'tokenizer.json')) ? undefined : llama2cFilesIn(dir).toks[0]);
  const { description, model } = loadHfModel(dir, opts);
  const tok = tokenizer && /\.bin$/.test(tokenizer) ? llama2cTextTokenizer(Llama2cTokenizer.fromFile(tokenizer)) : hfTokenizer(tokenizer ? (fs.statSync(tokenizer).isDirectory() ? tokenizer : path.dirname(tokenizer)) : dir);
  if (tok.vocabSize > model.config.vocabSize) {
    model.dispose();
    throw new Error(`${dir}: the tokenizer has ${tok.vocabSize} tokens but the model's vocab_size is ${model.config.vocabSize}: they do not belong together`);
  }
  const tokenizerFiles = tokenizer && /\.bin$/.test(tokenizer) ? [tokenizer] : hfTokenizerFiles(tokenizer ? (fs.statSync(tokenizer).isDirectory() ? tokenizer : path.dirname(tokenizer)) : dir);
  return { model, tokenizer: tok, description, tokenizerFiles, source: { spec, format: 'huggingface', files: [dir], family: description.family, notes: description.notes } };
}

/** Load a pretrained model and its tokenizer from a path or a hub id. Errors say what was expected and found. */
export async function loadPretrained(spec: string, opts: { tokenizer?: string; trainable?: boolean; maxContext?: number } = {}): Promise<Pretrained> {
  const id = parseHubId(spec);
  if (id) {
    let config: Record<string, string> | undefined;
    try { config = await hubFiles(spec, ['config.json']); } catch (e) {
      // no config.json there: the llama2.c files a preset pins (stories260K), else the error as it is
      if (spec.replace(/@.*$/, '') !== STORIES260K.id) throw e;
      const files = await hubFiles(STORIES260K.id, Object.keys(STORIES260K.files), { sha256: { ...STORIES260K.files } });
      return fromLlama2c(spec, files['stories260K.bin'], opts.tokenizer ?? files['tok512.bin'], opts);
    }
    const dir = path.dirname(config['config.json']);
    // weights: the shard index and its shards, else model.safetensors; then the tokenizer files (config optional)
    const index = await hubFiles(spec, ['model.safetensors.index.json']).catch(() => undefined);
    if (index) {
      const map = (JSON.parse(fs.readFileSync(index['model.safetensors.index.json'], 'utf8')) as { weight_map: Record<string, string> }).weight_map;
      await hubFiles(spec, [...new Set(Object.values(map))]);
    } else await hubFiles(spec, ['model.safetensors']);
    if (!opts.tokenizer) {
      await hubFiles(spec, ['tokenizer.json']);
      await hubFiles(spec, ['tokenizer_config.json']).catch(() => undefined);
    }
    return fromHfFolder(spec, dir, opts.tokenizer, opts);
  }
  return loadPretrainedLocal(spec, opts);
}

/** loadPretrained for a local path (a llama2.c .bin or folder, a Hugging Face folder): synchronous, no hub. */
export function loadPretrainedLocal(spec: string, opts: { tokenizer?: string; trainable?: boolean; maxContext?: number } = {}): Pretrained {
  let st: fs.Stats;
  try { st = fs.statSync(spec); } catch { throw new Error(`${spec}: no such file or folder (give a llama2.c .bin, a folder with config.json or with a .bin and its tokenizer, or hf:owner/repo[/subfolder])`); }
  if (st.isFile()) {
    if (!spec.endsWith('.bin')) throw new Error(`${spec}: a model file must be a llama2.c .bin; for a Hugging Face model give its folder`);
    const { toks } = llama2cFilesIn(path.dirname(spec));
    return fromLlama2c(spec, spec, opts.tokenizer ?? toks[0], opts);
  }
  if (fs.existsSync(path.join(spec, 'config.json'))) return fromHfFolder(spec, spec, opts.tokenizer, opts);
  const { bins, toks } = llama2cFilesIn(spec);
  if (bins.length === 1) return fromLlama2c(spec, bins[0], opts.tokenizer ?? toks[0], opts);
  throw new Error(`${spec}: neither a Hugging Face folder (no config.json) nor a llama2.c folder (${bins.length ? `${bins.length} .bin files: give the one to load` : 'no .bin checkpoint'})`);
}
