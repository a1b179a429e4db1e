/**
 * "What RL changed, token by token" (issue 21): the same completions teacher-forced under two checkpoints A and B of
 * one model family and tokenizer. Per completion token: log-prob, entropy and rank (1 = argmax) of the token under A
 * and under B, the full-distribution KL(B‖A) at that position, and the top-k alternatives under each; per completion:
 * Σ Δlogprob (B − A) and the mean KL over its tokens; over the set: the tokens (grouped by display string) whose
 * log-prob rose or fell most.
 *
 *   diffTokens(a, b, completions, opts)         the computation on two loaded models (batched, tf.tidy, cancellable)
 *   completionsFromRun / completionsFromJsonl   the completions to compare (a run's rollout step, or prompt/completion pairs)
 *   diffCheckpoints(dirA, dirB, source, opts)   load both checkpoints (same family + tokenizer, else an error naming both),
 *                                               compute, write the folder (writeTokenDiff), cached next to B
 *
 * Conventions (as the trainer's old_logprob, src/trainer/rl/step.ts): position i of a completion is token
 * completionIds[i] predicted from prompt ids + completionIds[<i]; logits are divided by `temperature` before the
 * softmax (the sampling temperature of a run makes log-probs equal to its rollouts' `old_logprob`). Every
 * per-position quantity is computed from the two softmaxes in float32:
 *   lse = max z − log max p,  logprob = z[tok] − lse,  entropy = lse − Σ p·z,  rank = 1 + #{v : z_v > z_tok},
 *   KL(B‖A) = Σ pB·(lpB − lpA).
 * Output folder: docs/run-format.md, "Token comparison (`rl-lens diff-tokens`)".
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import type { CausalLM } from './model/types';
import { loadCheckpoint, readCheckpointMeta } from './checkpoint';
import { loadPretrained } from './model/pretrained';
import { groupTokenDeltas } from '../shared/tokenStats';
import type { RunTokenizer } from './context';
import { FILES, type CheckpointMeta } from '../shared/runFormat';
import { listRolloutSteps, readRolloutStepIndex } from '../runio/reader';
import { identicalCheckpoints } from '../runio/checkpointPairs';
import { isLittleEndian, jsonReplacer, swap32, writeFileAtomic } from '../runio/writer';
import {
  TOKEN_DIFF_FORMAT, TOKEN_DIFF_VERSION, TOKEN_DIFF_FILES, defaultTokenDiffDir, parseSide, readTokenDiffSummary, sideLabel, tokenDiffArrays, tokenDiffKey,
  type CheckpointRef, type CompletionSource, type TokenDiffSampleLine, type TokenDiffSide, type TokenDiffSummary, type TokenStat,
} from '../runio/tokenDiff';

export {
  TOKEN_DIFF_FORMAT, TOKEN_DIFF_VERSION, TOKEN_DIFF_FILES, tokenDiffArrays, tokenDiffKey, readTokenDiffSummary, tokenDiffSampleArrays, parseSide, baseModelOf,
  type TokenStat, type CompletionSource, type CheckpointRef, type TokenDiffSummary, type TokenDiffSampleLine, type TokenDiffSide,
} from '../runio/tokenDiff';

/** One completion to compare: the ids the models see (prompt with BOS, as the trainer encodes it) and the response. */
export interface DiffCompletion {
  prompt: string;
  completion: string;
  promptIds: number[];
  completionIds: number[];
  /** where it came from: the rollout sample's index / group / reward, or the JSONL line */
  source?: { index?: number; group?: string; reward?: number | null; line?: number };
}

export interface DiffTokensOptions {
  /** alternatives kept per position and model (default 5) */
  topK?: number;
  /** completions per forward pass (default 32; lowered so one batch's logits stay under ~32M floats) */
  batch?: number;
  /** logits ÷ temperature before the softmax (default 1) */
  temperature?: number;
  /** tokens seen fewer times are left out of the risers / fallers (default 3; 1 when none reaches it) */
  minCount?: number;
  /** risers and fallers listed (default 25 each) */
  topTokens?: number;
  /** display strings of ids (the tokenizer's `display`); ids are shown as `#id` without one */
  display?: (ids: number[]) => string[];
  /** after each batch: completions done, of total */
  onProgress?: (done: number, total: number) => void;
  /** checked between batches: true = stop (diffTokens throws DiffTokensCancelled) */
  shouldCancel?: () => boolean;
}

export class DiffTokensCancelled extends Error {
  constructor(done: number, total: number) { super(`token comparison cancelled after ${done} of ${total} completions`); this.name = 'DiffTokensCancelled'; }
}

/** One completion's result: per-token arrays (each `length` long; top-k ones length × k, token-major). */
export interface SampleDiff {
  index: number;
  length: number;
  /** prompt + completion did not fit the context: the completion was cut to `length` tokens */
  truncated: boolean;
  sumDelta: number;
  meanKl: number;
  arrays: Record<string, Float32Array>;
}

export interface DiffTokensResult {
  topK: number;
  temperature: number;
  batch: number;
  samples: SampleDiff[];
  tokens: number;
  /** mean over all completion tokens */
  meanDelta: number;
  meanKl: number;
  risers: TokenStat[];
  fallers: TokenStat[];
  minCount: number;
  computeSeconds: number;
}

const MAX_BATCH_FLOATS = 32 * 1024 * 1024;

/** Per-position statistics of logits zA, zB [R, V] (already ÷ temperature) for targets [R] → host arrays. */
function positionStats(zA: tf.Tensor2D, zB: tf.Tensor2D, targets: tf.Tensor1D, k: number): tf.Tensor[] {
  const [R, V] = zA.shape;
  const flat = tf.add(tf.mul(tf.range(0, R, 1, 'int32'), tf.scalar(V, 'int32')), targets);
  const one = (z: tf.Tensor2D) => {
    const p = tf.softmax(z);
    const lse = tf.sub(tf.max(z, 1, true), tf.log(tf.max(p, 1, true))) as tf.Tensor2D; // [R,1]
    const zt = tf.reshape(tf.gather(tf.reshape(z, [R * V]), flat), [R, 1]);
    const lp = tf.sub(zt, lse);
    const ent = tf.sub(lse, tf.sum(tf.mul(p, z), 1, true));
    const rank = tf.add(tf.sum(tf.cast(tf.greater(z, zt), 'float32'), 1, true), 1);
    const top = tf.topk(z, Math.min(k, V));
    return { p, lse, lp, ent, rank, topIds: top.indices, topLp: tf.sub(top.values, lse) };
  };
  const a = one(zA), b = one(zB);
  // KL(B‖A) = Σ pB (zB − lseB − zA + lseA) = Σ pB (zB − zA) − lseB + lseA
  const kl = tf.maximum(tf.add(tf.sub(tf.sum(tf.mul(b.p, tf.sub(zB, zA)), 1, true), b.lse), a.lse), 0);
  return [a.lp, b.lp, a.ent, b.ent, a.rank, b.rank, kl, tf.cast(a.topIds, 'float32'), a.topLp, tf.cast(b.topIds, 'float32'), b.topLp];
}

/**
 * Teacher-forced comparison of `items` under models a and b (same vocabulary). Batches sorted by length (less
 * padding), prompts left-padded with an attention mask as the trainer packs them (rl/rollout.ts `pack`).
 */
export async function diffTokens(a: CausalLM, b: CausalLM, items: readonly DiffCompletion[], opts: DiffTokensOptions = {}): Promise<DiffTokensResult> {
  const t0 = Date.now();
  const k = Math.max(1, Math.floor(opts.topK ?? 5));
  const temperature = opts.temperature ?? 1;
  if (!(temperature > 0)) throw new Error(`temperature must be > 0, got ${temperature}`);
  const V = a.config.vocabSize;
  if (b.config.vocabSize !== V) throw new Error(`the two models have different vocabularies (${V} and ${b.config.vocabSize} tokens)`);
  const ctx = Math.min(a.config.contextLength, b.config.contextLength);
  const names = tokenDiffArrays(k);
  // fit the context: keep the prompt, cut the completion (a prompt alone longer than the context is an error)
  const work = items.map((it, index) => {
    if (!it.promptIds.length) throw new Error(`completion ${index}: empty prompt ids (a completion needs at least a BOS token before it)`);
    if (it.promptIds.length >= ctx) throw new Error(`completion ${index}: its prompt is ${it.promptIds.length} tokens, the context ${ctx}`);
    const room = ctx - it.promptIds.length;
    const ids = it.completionIds.length > room ? it.completionIds.slice(0, room) : it.completionIds;
    return { index, prompt: it.promptIds, ids, truncated: ids.length < it.completionIds.length };
  });
  const order = work.map((_, i) => i).sort((x, y) => (work[x].prompt.length + work[x].ids.length) - (work[y].prompt.length + work[y].ids.length));
  const out: SampleDiff[] = new Array(items.length);
  const maxT = Math.max(1, ...work.map((w) => w.prompt.length + w.ids.length));
  const batch = Math.max(1, Math.min(Math.floor(opts.batch ?? 32), Math.floor(MAX_BATCH_FLOATS / (maxT * V)) || 1));
  let done = 0;
  for (let s = 0; s < order.length; s += batch) {
    if (opts.shouldCancel?.()) throw new DiffTokensCancelled(done, items.length);
    const batchRows = order.slice(s, s + batch).map((i) => work[i]).filter((w) => w.ids.length > 0);
    for (const w of order.slice(s, s + batch).map((i) => work[i]).filter((x) => x.ids.length === 0)) out[w.index] = emptySample(w.index, names, w.truncated);
    // left-padded to the longest prompt and right-padded to the longest completion, a batch is max P + max N long:
    // split it where that would exceed the context (each row alone fits)
    const packs: (typeof batchRows)[] = [];
    let pMax = 0, nMax = 0;
    for (const w of batchRows) {
      const p = Math.max(pMax, w.prompt.length), n = Math.max(nMax, w.ids.length);
      if (packs.length && p + n <= ctx) { packs[packs.length - 1].push(w); pMax = p; nMax = n; } else { packs.push([w]); pMax = w.prompt.length; nMax = w.ids.length; }
    }
    for (const rows of packs) {
      const B = rows.length;
      const P = Math.max(...rows.map((w) => w.prompt.length)), N = Math.max(...rows.map((w) => w.ids.length));
      const ids: number[] = [], mask: number[] = [], targets: number[] = [];
      for (const w of rows) {
        const lp = P - w.prompt.length, n = w.ids.length;
        for (let i = 0; i < lp; i++) { ids.push(0); mask.push(0); }
        for (const t of w.prompt) { ids.push(t); mask.push(1); }
        for (const t of w.ids) { ids.push(t); mask.push(1); targets.push(t); }
        for (let i = n; i < N; i++) { ids.push(0); mask.push(0); targets.push(0); }
      }
      for (const t of ids) if (!(t >= 0 && t < V)) throw new Error(`token id ${t} is outside the vocabulary (${V} tokens)`);
      const host = tf.tidy(() => {
        const idsT = tf.tensor2d(ids, [B, P + N], 'int32');
        const am = tf.tensor2d(mask, [B, P + N]);
        const z = (m: CausalLM) => {
          const logits = m.forward(idsT, { attentionMask: am }).logits; // [B, T, V]
          let r = tf.reshape(tf.slice(logits, [0, P - 1, 0], [B, N, V]), [B * N, V]) as tf.Tensor2D;
          if (temperature !== 1) r = tf.div(r, temperature);
          return r;
        };
        return positionStats(z(a), z(b), tf.tensor1d(targets, 'int32'), k);
      });
      const vals = host.map((t) => t.dataSync() as Float32Array);
      tf.dispose(host);
      const kk = Math.min(k, V);
      rows.forEach((w, r) => {
        const L = w.ids.length;
        const arrays: Record<string, Float32Array> = {};
        names.forEach((nm, j) => {
          const width = nm.width;
          const src = vals[j], srcW = width === 1 ? 1 : kk;
          const dst = new Float32Array(L * width).fill(NaN);
          for (let t = 0; t < L; t++) for (let c = 0; c < srcW; c++) dst[t * width + c] = src[(r * N + t) * srcW + c];
          arrays[nm.name] = dst;
        });
        let sd = 0, skl = 0;
        for (let t = 0; t < L; t++) { sd += arrays.logprob_b[t] - arrays.logprob_a[t]; skl += arrays.kl[t]; }
        out[w.index] = { index: w.index, length: L, truncated: w.truncated, sumDelta: sd, meanKl: skl / L, arrays };
      });
    }
    done = Math.min(items.length, s + batch);
    opts.onProgress?.(done, items.length);
    await new Promise<void>((r) => setImmediate(r)); // let a host's stop message through between batches
  }
  // risers / fallers by display string (src/shared/tokenStats.ts, the view's rule too)
  const display = opts.display ?? ((x: number[]) => x.map((id) => `#${id}`));
  let tokens = 0, sumDelta = 0, sumKl = 0;
  const perSample = out.map((sd) => {
    const delta: number[] = new Array(sd.length);
    for (let t = 0; t < sd.length; t++) {
      const d = sd.arrays.logprob_b[t] - sd.arrays.logprob_a[t];
      delta[t] = d; tokens++; sumDelta += d; sumKl += sd.arrays.kl[t];
    }
    return { tokens: display(work[sd.index].ids.slice(0, sd.length)), delta };
  });
  const { risers, fallers, minCount } = groupTokenDeltas(perSample, { minCount: opts.minCount, top: opts.topTokens });
  return {
    topK: k, temperature, batch, samples: out, tokens, meanDelta: tokens ? sumDelta / tokens : 0, meanKl: tokens ? sumKl / tokens : 0,
    risers, fallers, minCount, computeSeconds: (Date.now() - t0) / 1000,
  };
}

function emptySample(index: number, names: { name: string }[], truncated: boolean): SampleDiff {
  return { index, length: 0, truncated, sumDelta: 0, meanKl: 0, arrays: Object.fromEntries(names.map((n) => [n.name, new Float32Array(0)])) };
}

// ---------------------------------------------------------------------------------------------------------------
// Completions

/** Tokenizer part the completion sources need. */
type EncodeTok = Pick<RunTokenizer, 'encode'>;

/** `RUN_DIR`, `RUN_DIR:STEP` or a `.jsonl` file → what it names (errors name the path). Without a step: the last rollout step. */
export function parseCompletionsArg(arg: string): CompletionSource {
  const m = /^(.*):(\d+)$/.exec(arg);
  if (m && fs.existsSync(m[1]) && fs.statSync(m[1]).isDirectory()) return { kind: 'rollout', path: m[1], step: Number(m[2]) };
  if (!fs.existsSync(arg)) throw new Error(`${arg}: no such file or run folder`);
  if (fs.statSync(arg).isDirectory()) {
    if (!fs.existsSync(path.join(arg, FILES.manifest))) throw new Error(`${arg}: a folder without ${FILES.manifest} (not an RL Lens run)`);
    const steps = listRolloutSteps(arg);
    if (!steps.length) throw new Error(`${path.join(arg, FILES.rolloutsDir)}: no rollout steps`);
    return { kind: 'rollout', path: arg, step: steps[steps.length - 1] };
  }
  return { kind: 'jsonl', path: arg };
}

/**
 * Check a completion source before any model is loaded (a bad step or file fails in milliseconds, not after the
 * models): a rollout step's file must exist; a JSONL must be readable, every non-empty line a JSON object with string
 * `prompt` and `completion`, at least one. Errors name the file (and line). Tokenizing is checked later (it needs B's
 * tokenizer).
 */
export function checkCompletionsSource(source: CompletionSource): void {
  if (source.kind === 'rollout') {
    const file = path.join(source.path, FILES.rolloutsDir, `step_${String(source.step).padStart(8, '0')}.jsonl`);
    if (!fs.existsSync(file)) throw new Error(`${file}: no such rollout step (steps: ${listRolloutSteps(source.path).join(', ') || 'none'})`);
    return;
  }
  let text: string;
  try { text = fs.readFileSync(source.path, 'utf8'); } catch (e) { throw new Error(`${source.path}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`); }
  let n = 0;
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (!line) return;
    let v: { prompt?: unknown; completion?: unknown };
    try { v = JSON.parse(line); } catch (e) { throw new Error(`${source.path}:${i + 1}: not JSON (${(e as Error).message})`); }
    if (!v || typeof v !== 'object' || typeof v.prompt !== 'string' || typeof v.completion !== 'string') throw new Error(`${source.path}:${i + 1}: expected {"prompt": string, "completion": string}`);
    n++;
  });
  if (!n) throw new Error(`${source.path}: no completions (one {"prompt", "completion"} object per line)`);
}

/**
 * A rollout step's samples as the trainer scored them: the sampled `tokenIds`, the prompt encoded with BOS
 * (rl/rollout.ts `rolloutBatch`). Errors name the step file.
 */
export function completionsFromRun(runDir: string, step: number, tok: EncodeTok): { items: DiffCompletion[]; temperature?: number } {
  const file = path.join(runDir, FILES.rolloutsDir, `step_${String(step).padStart(8, '0')}.jsonl`);
  if (!fs.existsSync(file)) throw new Error(`${file}: no such rollout step (steps: ${listRolloutSteps(runDir).join(', ') || 'none'})`);
  const idx = readRolloutStepIndex(runDir, step);
  const items: DiffCompletion[] = [];
  const prompts = new Map<string, number[]>();
  for (const s of idx.samples) {
    if (!s.tokenIds) throw new Error(`${file}: sample ${s.index} has no tokenIds (steps written by importers carry display strings only; compare a JSONL of prompt/completion pairs instead)`);
    let p = prompts.get(s.prompt);
    if (!p) { p = tok.encode(s.prompt, { bos: true }); prompts.set(s.prompt, p); }
    items.push({ prompt: s.prompt, completion: s.completion, promptIds: p, completionIds: s.tokenIds, source: { index: s.index, group: s.group, reward: s.reward } });
  }
  if (!items.length) throw new Error(`${file}: no samples`);
  const t = idx.header.params?.temperature;
  return { items, temperature: typeof t === 'number' && t > 0 ? t : undefined };
}

/**
 * `{"prompt", "completion"}` per line (optional `promptIds` / `completionIds` to give exact ids). The prompt is encoded
 * with BOS; the completion's ids are those of prompt + completion after the prompt's, when the prompt's ids are a
 * prefix of them (no token across the boundary), else the completion encoded on its own. Errors name file:line.
 */
export function completionsFromJsonl(file: string, tok: EncodeTok): { items: DiffCompletion[]; splitOnOwn: number } {
  let text: string;
  try { text = fs.readFileSync(file, 'utf8'); } catch (e) { throw new Error(`${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`); }
  const items: DiffCompletion[] = [];
  let splitOnOwn = 0;
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (!line) return;
    let v: { prompt?: unknown; completion?: unknown; promptIds?: unknown; completionIds?: unknown };
    try { v = JSON.parse(line); } catch (e) { throw new Error(`${file}:${i + 1}: not JSON (${(e as Error).message})`); }
    if (!v || typeof v !== 'object' || typeof v.prompt !== 'string' || typeof v.completion !== 'string') throw new Error(`${file}:${i + 1}: expected {"prompt": string, "completion": string}`);
    const ints = (x: unknown, f: string) => { if (!Array.isArray(x) || !x.every((n) => Number.isInteger(n) && n >= 0)) throw new Error(`${file}:${i + 1}: ${f} must be an array of token ids`); return x as number[]; };
    // the character tokenizer throws on a character outside its vocabulary: name the line
    const enc = (s: string, bos: boolean) => { try { return tok.encode(s, { bos }); } catch (e) { throw new Error(`${file}:${i + 1}: ${(e as Error).message}`); } };
    const promptIds = v.promptIds !== undefined ? ints(v.promptIds, 'promptIds') : enc(v.prompt, true);
    let completionIds: number[];
    if (v.completionIds !== undefined) completionIds = ints(v.completionIds, 'completionIds');
    else {
      const all = enc(v.prompt + v.completion, true);
      if (all.length >= promptIds.length && promptIds.every((t, j) => all[j] === t)) completionIds = all.slice(promptIds.length);
      else { completionIds = enc(v.completion, false); splitOnOwn++; }
    }
    items.push({ prompt: v.prompt, completion: v.completion, promptIds, completionIds, source: { line: i + 1 } });
  });
  if (!items.length) throw new Error(`${file}: no completions (one {"prompt", "completion"} object per line)`);
  return { items, splitOnOwn };
}

// ---------------------------------------------------------------------------------------------------------------
// Checkpoints, output folder, cache

/** A tokenizer's identity: the bytes of its own file (tokenizer.json, or the llama2.c tok*.bin; char: its vocabulary). */
function tokenizerFilesIdentity(type: string, files: string[], vocabSize: unknown): { text: string; hash: string } {
  const h = crypto.createHash('sha1');
  // tokenizer.json (Hugging Face) or the llama2.c .bin: the vocabulary and merges. tokenizer_config.json is left out
  // (chat templates differ between a base and its instruct model while the tokens are the same)
  const own = files.filter((f) => /(^|[/\\])(tokenizer\.json|tok[^/\\]*\.bin|tokenizer\.bin)$/.test(f));
  for (const f of own) { try { h.update(fs.readFileSync(f)); } catch { h.update(path.basename(f)); } }
  return { text: `${type} tokenizer (${files.map((f) => path.basename(f)).join(', ') || 'no files'}, ${String(vocabSize)} tokens)`, hash: h.digest('hex') };
}

function tokenizerIdentity(dir: string, meta: CheckpointMeta): { text: string; hash: string } {
  const t = meta.tokenizer;
  if (t.type === 'char') {
    const h = crypto.createHash('sha1');
    h.update(JSON.stringify(t.vocab));
    return { text: `char tokenizer (${t.vocab.length} tokens)`, hash: h.digest('hex') };
  }
  const files = ((t.files as string[] | undefined) ?? []).filter((f) => !/config\.json$/.test(f) || f === 'tokenizer_config.json');
  return tokenizerFilesIdentity(t.type, files.map((f) => path.join(dir, f)), t.vocabSize ?? meta.model.vocabSize);
}

/** Family, vocabulary and tokenizer of two checkpoints must agree: else an error naming both. */
export function checkComparable(dirA: string, metaA: CheckpointMeta, dirB: string, metaB: CheckpointMeta): void {
  const fam = (m: CheckpointMeta) => String(m.model.family ?? 'gpt');
  if (fam(metaA) !== fam(metaB)) throw new Error(`checkpoints of different model families: A ${dirA} is ${fam(metaA)}, B ${dirB} is ${fam(metaB)}`);
  const ta = tokenizerIdentity(dirA, metaA), tb = tokenizerIdentity(dirB, metaB);
  if (ta.hash !== tb.hash) throw new Error(`checkpoints with different tokenizers: A ${dirA} has a ${ta.text}, B ${dirB} has a ${tb.text}; token-by-token comparison needs the same tokenizer`);
}

/** One side loaded: its model and tokenizer, what summary.json says of it, its family and tokenizer identity. */
interface LoadedSide {
  model: CausalLM;
  tokenizer: Pick<RunTokenizer, 'encode' | 'display'>;
  ref: CheckpointRef;
  tok: { text: string; hash: string };
  what: string;
}

/** Load a side: a checkpoint folder (loadCheckpoint) or a pretrained model (loadPretrained: hub id, .bin, HF folder). */
async function loadSide(side: TokenDiffSide, maxContext?: number): Promise<LoadedSide> {
  if (side.kind === 'checkpoint') {
    const c = loadCheckpoint(side.dir, { trainable: false });
    const m = c.meta;
    return {
      model: c.model, tokenizer: c.tokenizer, tok: tokenizerIdentity(side.dir, m), what: `checkpoint ${side.dir}`,
      ref: { dir: path.resolve(side.dir), step: m.step, algorithm: m.algorithm, family: String(m.model.family ?? 'gpt'), ...(m.tag ? { tag: m.tag } : {}) },
    };
  }
  const p = await loadPretrained(side.spec, { trainable: false, ...(maxContext ? { maxContext } : {}) });
  const spec = /^hf:/.test(side.spec) ? side.spec : path.resolve(side.spec);
  return {
    model: p.model, tokenizer: p.tokenizer, tok: tokenizerFilesIdentity(p.tokenizer.kind, p.tokenizerFiles, p.tokenizer.vocabSize), what: `model ${side.spec}`,
    ref: { dir: spec, step: 0, algorithm: 'pretrained', family: p.source.family === 'gpt2' ? 'gpt2' : 'llama', kind: 'base' },
  };
}

/** The two loaded sides must share family, vocabulary and tokenizer: else an error naming both. */
function checkSidesComparable(a: LoadedSide, b: LoadedSide): void {
  const fam = (f: string) => (f === 'gpt' ? 'gpt (built-in)' : f);
  if (a.ref.family !== b.ref.family) throw new Error(`different model families: A ${a.what} is ${fam(a.ref.family)}, B ${b.what} is ${fam(b.ref.family)}`);
  if (a.tok.hash !== b.tok.hash) throw new Error(`different tokenizers: A ${a.what} has a ${a.tok.text}, B ${b.what} has a ${b.tok.text}; token-by-token comparison needs the same tokenizer`);
  if (a.model.config.vocabSize !== b.model.config.vocabSize) throw new Error(`different vocabularies: A ${a.what} has ${a.model.config.vocabSize} tokens, B ${b.what} ${b.model.config.vocabSize}`);
}

/**
 * Write the output folder atomically (a temp folder renamed into place): summary.json, samples.jsonl, tokens.f32
 * (little-endian float32; sample i's block at float offset `offset_i`: for each array of `arrays` in order,
 * width × length floats, token-major), vocab.json (display string of every id in the completions and top-k lists).
 */
export function writeTokenDiff(outDir: string, summary: Omit<TokenDiffSummary, 'samples' | 'dataFile' | 'index' | 'vocab' | 'arrays'>, items: readonly DiffCompletion[], r: DiffTokensResult, display: (ids: number[]) => string[]): TokenDiffSummary {
  const names = tokenDiffArrays(r.topK);
  const per = names.reduce((s, n) => s + n.width, 0);
  let total = 0;
  for (const s of r.samples) total += per * s.length;
  const data = new Float32Array(total);
  const lines: string[] = [];
  const samples: TokenDiffSummary['samples'] = [];
  const ids = new Set<number>();
  let off = 0;
  for (const s of r.samples) {
    const it = items[s.index];
    const tokenIds = it.completionIds.slice(0, s.length);
    for (const t of tokenIds) ids.add(t);
    let at = off;
    for (const n of names) { data.set(s.arrays[n.name], at); at += n.width * s.length; }
    for (const n of ['top_a_id', 'top_b_id']) for (const v of s.arrays[n]) if (Number.isFinite(v)) ids.add(v);
    const line: TokenDiffSampleLine = {
      index: s.index, prompt: it.prompt, completion: it.completion, promptIds: it.promptIds, tokenIds, tokens: display(tokenIds), length: s.length, offset: off,
      sumDelta: s.sumDelta, meanKl: s.meanKl, ...(s.truncated ? { truncated: true } : {}), ...(it.source ? { source: it.source } : {}),
    };
    lines.push(JSON.stringify(line, jsonReplacer));
    samples.push({ index: s.index, length: s.length, sumDelta: s.sumDelta, meanKl: s.meanKl, offset: off, ...(s.truncated ? { truncated: true } : {}) });
    off += per * s.length;
  }
  const sorted = [...ids].sort((x, y) => x - y);
  // each id on its own (not the sorted list as one sequence: adjacent byte pieces would join into one character); a
  // byte piece alone is its name <0xHH> unless it is a character by itself
  const vocab = Object.fromEntries(sorted.map((id) => [String(id), display([id])[0] ?? '']));
  const full: TokenDiffSummary = { ...summary, arrays: names, dataFile: TOKEN_DIFF_FILES.data, index: TOKEN_DIFF_FILES.samples, vocab: TOKEN_DIFF_FILES.vocab, samples };
  const parent = path.dirname(path.resolve(outDir));
  fs.mkdirSync(parent, { recursive: true });
  const tmp = path.join(parent, `.${path.basename(outDir)}.${process.pid}.${Date.now()}.tmp`);
  fs.mkdirSync(tmp, { recursive: true });
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (!isLittleEndian()) swap32(bytes);
  writeFileAtomic(path.join(tmp, TOKEN_DIFF_FILES.data), bytes);
  writeFileAtomic(path.join(tmp, TOKEN_DIFF_FILES.samples), lines.join('\n') + '\n');
  writeFileAtomic(path.join(tmp, TOKEN_DIFF_FILES.vocab), JSON.stringify(vocab) + '\n');
  writeFileAtomic(path.join(tmp, TOKEN_DIFF_FILES.summary), JSON.stringify(full, jsonReplacer, 2) + '\n');
  if (fs.existsSync(outDir)) fs.rmSync(outDir, { recursive: true, force: true });
  fs.renameSync(tmp, outDir);
  return full;
}

export interface DiffCheckpointsOptions extends Omit<DiffTokensOptions, 'display'> {
  /** output folder; default `<B>/token-diff/<key>/` (reused when it holds a finished comparison) */
  out?: string;
  /** recompute even when the cache has it */
  force?: boolean;
  backend?: string;
  /** a stage begins (loading A, loading B): one line for a progress display */
  onStage?: (message: string) => void;
  /** compare two checkpoints with the same weights (same step of one run, or byte-identical files); else an error */
  allowSame?: boolean;
}

/**
 * Load A and B, build the completions, compare, write (or reuse the cached folder). A side is a checkpoint folder,
 * `base` (A only: B's pretrained base, runio/tokenDiff.ts parseSide), a hub id, a llama2.c .bin / folder or a Hugging
 * Face folder. The default output is `<B>/token-diff/<key>/` (B a checkpoint); two pretrained models need `out`.
 */
export async function diffCheckpoints(dirA: string | TokenDiffSide, dirB: string | TokenDiffSide, sourceArg: string | CompletionSource, opts: DiffCheckpointsOptions = {}): Promise<{ dir: string; summary: TokenDiffSummary; cached: boolean }> {
  const t0 = Date.now();
  const sideB: TokenDiffSide = typeof dirB === 'string' ? parseSide(dirB) : dirB;
  const sideA: TokenDiffSide = typeof dirA === 'string' ? parseSide(dirA, sideB.kind === 'checkpoint' ? sideB.dir : undefined) : dirA;
  for (const s of [sideA, sideB]) if (s.kind === 'checkpoint' && !fs.existsSync(path.join(s.dir, FILES.checkpointMeta))) throw new Error(`${path.join(s.dir, FILES.checkpointMeta)}: missing (not a checkpoint folder)`);
  // two checkpoints: refuse a mismatch before loading anything
  if (sideA.kind === 'checkpoint' && sideB.kind === 'checkpoint') {
    checkComparable(sideA.dir, readCheckpointMeta(sideA.dir), sideB.dir, readCheckpointMeta(sideB.dir));
    const same = opts.allowSame ? undefined : identicalCheckpoints(sideA.dir, sideB.dir);
    if (same) throw new Error(`${same} (every Δ would be 0; --allow-same compares them anyway)`);
  }
  const source = typeof sourceArg === 'string' ? parseCompletionsArg(sourceArg) : sourceArg;
  checkCompletionsSource(source);
  const topK = Math.max(1, Math.floor(opts.topK ?? 5)), minCount = Math.max(1, Math.floor(opts.minCount ?? 3));
  const key = tokenDiffKey(sideA, sideB, source, { topK, temperature: opts.temperature, minCount });
  const outDir = opts.out ?? defaultTokenDiffDir(sideB, key);
  if (!outDir) throw new Error(`B ${sideLabel(sideB)} is not a checkpoint folder: give the output folder (--out DIR)`);
  if (!opts.force) {
    const cached = readTokenDiffSummary(outDir);
    // the default folder is named by the key; a folder given with --out is reused when it was made for this key
    if (cached && (!opts.out || cached.key === key)) return { dir: outDir, summary: cached, cached: true };
  }
  const progress = opts.onStage ?? (() => undefined);
  progress(`loading A (${sideLabel(sideA)})`);
  const B0 = sideB.kind === 'checkpoint' ? readCheckpointMeta(sideB.dir) : undefined;
  const A = await loadSide(sideA, B0 ? Number(B0.model.contextLength) || undefined : undefined);
  let B: LoadedSide | undefined;
  try {
    progress(`loading B (${sideLabel(sideB)})`);
    B = await loadSide(sideB);
    checkSidesComparable(A, B);
    const tok = B.tokenizer;
    const display = (ids: number[]) => tok.display(ids);
    let items: DiffCompletion[], temperature = opts.temperature, splitOnOwn: number | undefined;
    if (source.kind === 'rollout') {
      const r = completionsFromRun(source.path, source.step!, tok);
      items = r.items;
      source.temperature = r.temperature;
      temperature ??= r.temperature;
    } else {
      const r = completionsFromJsonl(source.path, tok);
      items = r.items; splitOnOwn = r.splitOnOwn;
    }
    const loadSeconds = (Date.now() - t0) / 1000;
    const r = await diffTokens(A.model, B.model, items, { ...opts, topK, minCount, temperature, display });
    const t1 = Date.now();
    const summary = writeTokenDiff(outDir, {
      format: TOKEN_DIFF_FORMAT, formatVersion: TOKEN_DIFF_VERSION, createdAt: new Date().toISOString(), key,
      a: A.ref, b: B.ref,
      source: { ...source, path: path.resolve(source.path), ...(splitOnOwn !== undefined ? { splitOnOwn } : {}) },
      settings: { topK: r.topK, temperature: r.temperature, batch: r.batch, minCount: r.minCount },
      counts: { samples: r.samples.length, tokens: r.tokens, truncated: r.samples.filter((s) => s.truncated).length },
      meanDelta: r.meanDelta, meanKl: r.meanKl, risers: r.risers, fallers: r.fallers,
      timings: { loadSeconds, computeSeconds: r.computeSeconds, writeSeconds: 0, tokensPerSecond: r.computeSeconds > 0 ? r.tokens / r.computeSeconds : 0 },
      ...(opts.backend ? { backend: opts.backend } : {}),
    }, items, r, display);
    summary.timings.writeSeconds = (Date.now() - t1) / 1000;
    writeFileAtomic(path.join(outDir, TOKEN_DIFF_FILES.summary), JSON.stringify(summary, jsonReplacer, 2) + '\n');
    return { dir: outDir, summary, cached: false };
  } finally {
    A.model.dispose();
    B?.model.dispose();
  }
}
