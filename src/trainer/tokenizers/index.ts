/**
 * Tokenizers of pretrained models, behind one interface: llama2.c's (`llama2c.ts`, implemented from run.c) and
 * Hugging Face `tokenizer.json` files (read with the maintained `@huggingface/tokenizers`; no hand-written BPE).
 */
import * as fs from 'fs';
import * as path from 'path';
import { Tokenizer } from '@huggingface/tokenizers';
import { Llama2cTokenizer } from './llama2c';

export interface TextTokenizer {
  readonly kind: 'llama2c' | 'huggingface';
  readonly vocabSize: number;
  readonly bos: number | undefined;
  readonly eos: number | undefined;
  /** id used to pad batches (masked out everywhere): pad_token, else EOS, else 0 */
  readonly pad: number;
  encode(text: string, opts?: { bos?: boolean; eos?: boolean }): number[];
  /** text of ids (special tokens dropped) */
  decode(ids: ArrayLike<number>): string;
  /** one display string per token */
  display(ids: ArrayLike<number>): string[];
}

/**
 * llama2.c's tokenizer as a TextTokenizer. Its story models end a story with BOS, not EOS (run.c: "data-dependent
 * terminating condition: the BOS (=1) token delimits sequences"), so generation stops at BOS: `eos` is BOS here.
 */
export function llama2cTextTokenizer(t: Llama2cTokenizer): TextTokenizer {
  return {
    kind: 'llama2c', vocabSize: t.vocabSize, bos: t.bos, eos: t.bos, pad: 0,
    encode: (text, o) => t.encode(text, o),
    decode: (ids) => t.decode(ids),
    display: (ids) => t.display(ids),
  };
}

/** `tokenizer.json` (+ `tokenizer_config.json` when present) of a Hugging Face folder. Errors name the file. */
export function hfTokenizer(dir: string): TextTokenizer {
  const file = path.join(dir, 'tokenizer.json');
  let json: Record<string, unknown>;
  try { json = JSON.parse(fs.readFileSync(file, 'utf8')); } catch (e) { throw new Error(`${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing (the model folder needs its tokenizer.json, or pass --tokenizer)' : `not valid JSON (${(e as Error).message})`}`); }
  let config: Record<string, unknown> = {};
  const cfgFile = path.join(dir, 'tokenizer_config.json');
  if (fs.existsSync(cfgFile)) {
    try { config = JSON.parse(fs.readFileSync(cfgFile, 'utf8')); } catch (e) { throw new Error(`${cfgFile}: not valid JSON (${(e as Error).message})`); }
  }
  let tok: Tokenizer;
  try { tok = new Tokenizer(json, config); } catch (e) { throw new Error(`${file}: @huggingface/tokenizers cannot read it (${(e as Error).message})`); }
  const special = (k: string): number | undefined => {
    const v = config[k];
    const s = typeof v === 'string' ? v : v && typeof v === 'object' ? String((v as { content?: unknown }).content ?? '') : undefined;
    return s ? tok.token_to_id(s) : undefined;
  };
  const bos = special('bos_token'), eos = special('eos_token'), pad = special('pad_token') ?? eos ?? 0;
  const vocabSize = tok.get_vocab(true).size;
  return {
    kind: 'huggingface', vocabSize, bos, eos, pad,
    encode: (text, o = {}) => {
      const ids = tok.encode(text, { add_special_tokens: false }).ids.map(Number);
      return [...(o.bos && bos !== undefined ? [bos] : []), ...ids, ...(o.eos && eos !== undefined ? [eos] : [])];
    },
    decode: (ids) => tok.decode(Array.from(ids), { skip_special_tokens: true }),
    display: (ids) => Array.from(ids, (id) => tok.decode([id], { skip_special_tokens: false })),
  };
}
