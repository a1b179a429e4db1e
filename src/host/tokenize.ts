/**
 * A token view for every run: steps whose samples have text but no tokens (runs imported from TRL, whose completions
 * parquet holds only text) get tokens when a step is served to a webview (ui/panels/dataProvider.ts getStep).
 *
 *   1. The run's own tokenizer when one can be found (findTokenizerFile): the `rlLens.tokenizerPath` setting (a
 *      `tokenizer.json` or a model folder holding one), `tokenizer.json` in the run folder or one of its checkpoints,
 *      in the source folder an imported run came from (manifest.source.path), its parent, or their `checkpoint-N`
 *      folders (the newest first: TRL saves the tokenizer with each checkpoint). Loaded offline with
 *      `@huggingface/tokenizers` (pure JS, no download; a bad file falls back to 2. and says why).
 *   2. Else an approximate segmentation (words with their leading space, single digits, single punctuation marks,
 *      runs of whitespace), LABELLED as such: `header.tokenization.approximate` and the heatmap's status line.
 *
 * Per-sample values are then shown on every token of the sample: the step gets per-token arrays `sequence_reward`
 * (the sample's reward) and `advantage` (its sequence advantage, when it has one), filled from the sequence values and
 * listed in `header.tokenization.broadcast`. Token text is untrusted: it is only ever shown as text.
 *
 * No `vscode` import (unit-tested); withTokenView is pure given a tokenize function.
 */
import * as fs from 'fs';
import * as path from 'path';
import { Tokenizer } from '@huggingface/tokenizers';
import type { RolloutSample, RunManifest } from '../shared/runFormat';
import type { TokenizationInfo } from '../shared/protocol';
import { orderArrays, packRolloutStep, sampleArrays, type RolloutStep, type TokenArrays } from '../shared/rolloutStep';

/** The longest completion tokenized, in characters (the rest of the text is left out of the token view). */
export const MAX_TOKENIZED_CHARS = 20_000;

// ---- approximate segmentation ------------------------------------------------------------------------------

const APPROX = / ?[\p{L}\p{M}]+| ?\p{N}| ?[^\s\p{L}\p{M}\p{N}]|\s+(?!\S)|\s+/gu;

/** Words with their leading space, single digits, single other characters, whitespace runs; joined they are the text. */
export function approximateTokens(text: string): string[] {
  return text.match(APPROX) ?? [];
}

// ---- the run's tokenizer ------------------------------------------------------------------------------------

/** A loaded tokenizer: text → token ids and the display string of each token (they join to the text). */
export interface TextTokenizer {
  file: string;
  tokenize(text: string): { tokens: string[]; ids: number[] };
}

const isFile = (f: string) => { try { return fs.statSync(f).isFile(); } catch { return false; } };
const isDir = (f: string) => { try { return fs.statSync(f).isDirectory(); } catch { return false; } };

/** `tokenizer.json` in `dir`, else in its `checkpoint-N` / `checkpoints/*` subfolders (the newest first). */
function tokenizerIn(dir: string): string | undefined {
  if (!isDir(dir)) return undefined;
  const direct = path.join(dir, 'tokenizer.json');
  if (isFile(direct)) return direct;
  const subs: { dir: string; n: number }[] = [];
  const scan = (d: string) => {
    let names: string[] = [];
    try { names = fs.readdirSync(d); } catch { return; }
    for (const n of names) {
      const m = /(\d+)/.exec(n);
      if (/^(checkpoint|step|global_step)/i.test(n)) subs.push({ dir: path.join(d, n), n: m ? Number(m[1]) : -1 });
    }
  };
  scan(dir);
  scan(path.join(dir, 'checkpoints'));
  subs.sort((a, b) => b.n - a.n);
  for (const s of subs) { const f = path.join(s.dir, 'tokenizer.json'); if (isFile(f)) return f; }
  return undefined;
}

/**
 * Where the run's tokenizer.json is, if anywhere: the configured path (a file, or a folder holding one), the run folder
 * and its checkpoints, the source of an imported run, its parent folder. Undefined when none is found.
 */
export function findTokenizerFile(runDir: string, manifest: Pick<RunManifest, 'source'> | undefined, configured?: string): string | undefined {
  if (configured) {
    const c = path.resolve(configured);
    if (isFile(c)) return c;
    const f = tokenizerIn(c);
    if (f) return f;
  }
  const own = tokenizerIn(runDir);
  if (own) return own;
  const src = typeof manifest?.source?.path === 'string' ? manifest.source.path : undefined;
  if (src) {
    const sdir = isDir(src) ? src : path.dirname(src);
    return tokenizerIn(sdir) ?? tokenizerIn(path.dirname(sdir));
  }
  return undefined;
}

const cache = new Map<string, { stamp: string; tok: TextTokenizer }>();
/** text remembered per loaded tokenizer (characters), see loadTokenizer */
const MEMO_CHARS = 4_000_000;

/** Load a tokenizer.json (and tokenizer_config.json beside it) offline; cached by path, size and mtime. Throws on a bad file. */
export function loadTokenizer(file: string): TextTokenizer {
  const st = fs.statSync(file);
  const stamp = `${st.size}:${st.mtimeMs}`;
  const hit = cache.get(file);
  if (hit?.stamp === stamp) return hit.tok;
  const json = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  if (!json || typeof json !== 'object' || !json.model) throw new Error(`${file} is not a Hugging Face tokenizer.json (no "model")`);
  let config: Record<string, unknown> = {};
  const cfgFile = path.join(path.dirname(file), 'tokenizer_config.json');
  try { if (isFile(cfgFile)) config = JSON.parse(fs.readFileSync(cfgFile, 'utf8')) as Record<string, unknown>; } catch { config = {}; }
  const hf = new Tokenizer(json, config);
  const decode = (ids: number[]) => hf.decode(ids, { skip_special_tokens: false, clean_up_tokenization_spaces: false });
  // getStep tokenizes a step's texts on every request (a webview going back to a step asks again): remember the
  // results of this tokenizer, up to MEMO_CHARS characters of text (oldest dropped first)
  const memo = new Map<string, { tokens: string[]; ids: number[] }>();
  let memoChars = 0;
  const tok: TextTokenizer = {
    file,
    tokenize(text) {
      let r = memo.get(text);
      if (!r) {
        const ids = hf.encode(text, { add_special_tokens: false }).ids;
        r = { ids, tokens: displayTokens(ids, decode) };
        memo.set(text, r);
        memoChars += text.length;
        for (const k of memo.keys()) { if (memoChars <= MEMO_CHARS) break; memo.delete(k); memoChars -= k.length; }
      }
      return { ids: r.ids.slice(), tokens: r.tokens.slice() };
    },
  };
  cache.set(file, { stamp, tok });
  return tok;
}

/**
 * The text each token adds: decode(ids[i-k..i]) minus decode(ids[i-k..i-1]) with a few tokens of context (so
 * SentencePiece's "▁" becomes a space, byte-fallback pieces join into their character, and the decoder's strip of a
 * leading space applies only at the start). A token that completes no character yet shows "" (its bytes show on the
 * token that completes it).
 */
export function displayTokens(ids: number[], decode: (ids: number[]) => string, context = 4): string[] {
  const out: string[] = [];
  for (let i = 0; i < ids.length; i++) {
    const from = Math.max(0, i - context);
    const before = i > from ? decode(ids.slice(from, i)) : '';
    const upto = decode(ids.slice(from, i + 1));
    if (upto.startsWith(before) && !before.endsWith('\uFFFD')) out.push(upto.slice(before.length));
    else if (before.endsWith('\uFFFD') && !upto.endsWith('\uFFFD')) {
      // this token completed a multi-byte character: it takes the character, earlier partial tokens show ""
      const common = commonPrefix(before, upto);
      out.push(upto.slice(common.replace(/\uFFFD+$/, '').length));
    } else out.push(upto.endsWith('\uFFFD') ? '' : decode([ids[i]]));
  }
  return out;
}

function commonPrefix(a: string, b: string): string {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return a.slice(0, i);
}

// ---- the step -----------------------------------------------------------------------------------------------

/** Does sample s need tokens? (text, but no tokens and no per-token data) */
export function needsTokens(s: Pick<RolloutSample, 'tokens' | 'length' | 'completion'>): boolean {
  return (!Array.isArray(s.tokens) || s.tokens.length === 0) && !(s.length > 0) && typeof s.completion === 'string' && s.completion.length > 0;
}

/**
 * The step with tokens for every sample that had text but none, and per-sample values broadcast onto them. Returns
 * the step itself (and no info) when no sample needs tokens. `tokenizer`: the run's; undefined = approximate.
 */
export function withTokenView(step: RolloutStep, tokenizer: TextTokenizer | undefined, why?: string): { step: RolloutStep; info?: TokenizationInfo } {
  const todo = step.samples.map(needsTokens);
  const n = todo.filter(Boolean).length;
  if (!n) return { step };
  const tokenized: { tokens: string[]; ids?: number[] }[] = step.samples.map((s, i) => {
    if (!todo[i]) return { tokens: s.tokens };
    const text = s.completion.length > MAX_TOKENIZED_CHARS ? s.completion.slice(0, MAX_TOKENIZED_CHARS) : s.completion;
    if (tokenizer) { const r = tokenizer.tokenize(text); return { tokens: r.tokens, ids: r.ids }; }
    return { tokens: approximateTokens(text) };
  });
  const hasAdv = step.samples.some((s, i) => todo[i] && typeof s.advantage === 'number' && Number.isFinite(s.advantage));
  const broadcast = ['sequence_reward', ...(hasAdv ? ['advantage'] : [])];
  const names = orderArrays([...step.header.arrays, ...broadcast]);
  const arrays: TokenArrays[] = step.samples.map((s, i) => {
    if (!todo[i]) return sampleArrays(step, i);
    const L = tokenized[i].tokens.length;
    const rec: TokenArrays = { sequence_reward: new Float32Array(L).fill(Number.isFinite(s.reward) ? s.reward : NaN) };
    if (hasAdv) rec.advantage = new Float32Array(L).fill(typeof s.advantage === 'number' ? s.advantage : NaN);
    return rec;
  });
  const source = tokenizer ? 'tokenizer' : 'approximate';
  const file = tokenizer ? path.basename(path.dirname(tokenizer.file)) + '/' + path.basename(tokenizer.file) : undefined;
  const info: TokenizationInfo = {
    source, approximate: !tokenizer, samples: n, broadcast,
    ...(tokenizer ? { tokenizer: tokenizer.file } : {}),
    note: (tokenizer
      ? `tokens of ${n} sample(s) from the run's tokenizer (${file}): the source had text only`
      : `APPROXIMATE tokens for ${n} sample(s) (words / digits / punctuation, not the model's tokenizer${why ? `: ${why}` : ''}; set rlLens.tokenizerPath to a tokenizer.json or model folder)`)
      + `; ${broadcast.join(' and ')} are per-sample values shown on every token (broadcast)`,
  };
  const { kind: _k, numSamples: _n, dataFile: _d, ...headerRest } = step.header;
  void _k; void _n; void _d;
  const packed = packRolloutStep({
    header: { ...headerRest, arrays: names, tokenization: info },
    samples: step.samples.map((s, i) => {
      const { kind: _kind, index: _index, offset: _offset, ...rest } = s;
      void _kind; void _index; void _offset;
      if (!todo[i]) return rest as typeof rest & { tokens: string[]; length: number };
      const t = tokenized[i];
      return { ...rest, tokens: t.tokens, length: t.tokens.length, ...(t.ids ? { tokenIds: t.ids } : {}), tokensApproximate: !tokenizer || undefined };
    }),
    arrays,
  }, step.header.dataFile ?? 'tokenized');
  return { step: packed, info };
}

/** The configured tokenizer path (rlLens.tokenizerPath); the extension sets the provider, tests may too. */
let configuredPath: () => string | undefined = () => undefined;
export function setTokenizerPathProvider(f: () => string | undefined): void { configuredPath = f; }

/**
 * The run's step with a token view (see the top of this file): finds and loads the run's tokenizer, else falls back
 * to the approximate segmentation and says why.
 */
export function tokenViewOf(runDir: string, manifest: Pick<RunManifest, 'source'> | undefined, step: RolloutStep): { step: RolloutStep; info?: TokenizationInfo } {
  if (!step.samples.some(needsTokens)) return { step };
  let why = 'no tokenizer.json found in the run, its checkpoints or its source folder';
  const file = findTokenizerFile(runDir, manifest, configuredPath()?.trim() || undefined);
  if (file) {
    try { return withTokenView(step, loadTokenizer(file)); } catch (e) { why = `${file} could not be used: ${(e as Error).message}`; }
  }
  return withTokenView(step, undefined, why);
}
