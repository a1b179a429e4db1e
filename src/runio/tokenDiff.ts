/**
 * The token-comparison folder (`rl-lens diff-tokens`, issue 21) without tfjs: its format constants and types, the
 * cache key, the summary / per-sample readers, and what a side (A or B) of a comparison can be. The trainer
 * (src/trainer/diffTokens.ts, which computes and writes the folder) and the extension host (src/host/tokenDiff,
 * which reads the cache before it starts a process, and serves the webview) both use this module.
 *
 * A side is a checkpoint folder (checkpoint.json) or a pretrained model (a hub id `hf:owner/repo[/sub]`, a llama2.c
 * `.bin` / folder, a Hugging Face folder): the base a run started from, or two Hugging Face folders of one family.
 * `base` (or `base:`) as side A names side B's base: its run config's `model.pretrained` (LoRA: `model.base.local`).
 * Format: docs/run-format.md, "Token comparison (`rl-lens diff-tokens`)".
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { FILES, type CheckpointMeta } from '../shared/runFormat';

export const TOKEN_DIFF_FORMAT = 'rl-lens-token-diff';
export const TOKEN_DIFF_VERSION = 1;
export const TOKEN_DIFF_FILES = { summary: 'summary.json', samples: 'samples.jsonl', data: 'tokens.f32', vocab: 'vocab.json', cacheDir: 'token-diff' } as const;

/** The per-token arrays of the `.f32` file, in storage order: `width` floats per token (top-k lists: k). */
export function tokenDiffArrays(k: number): { name: string; width: number }[] {
  return [
    { name: 'logprob_a', width: 1 }, { name: 'logprob_b', width: 1 }, { name: 'entropy_a', width: 1 }, { name: 'entropy_b', width: 1 },
    { name: 'rank_a', width: 1 }, { name: 'rank_b', width: 1 }, { name: 'kl', width: 1 },
    { name: 'top_a_id', width: k }, { name: 'top_a_logprob', width: k }, { name: 'top_b_id', width: k }, { name: 'top_b_logprob', width: k },
  ];
}

export interface TokenStat { token: string; count: number; meanDelta: number; sumDelta: number }

export interface CompletionSource {
  kind: 'rollout' | 'jsonl';
  path: string;
  step?: number;
  /** the rollout step's sampling temperature (header.params.temperature) */
  temperature?: number;
}

/** One side of a comparison as summary.json names it. A pretrained side has `kind: 'base'`, `dir` = its spec, step 0. */
export interface CheckpointRef { dir: string; step: number; algorithm: string; family: string; tag?: string; kind?: 'checkpoint' | 'base' }

/** Where a completion came from: the rollout sample's index / group / reward, or the JSONL line. */
export interface CompletionOrigin { index?: number; group?: string; reward?: number | null; line?: number }

/** summary.json */
export interface TokenDiffSummary {
  format: typeof TOKEN_DIFF_FORMAT;
  formatVersion: number;
  createdAt: string;
  /** the cache key this folder was computed for (tokenDiffKey): a folder given with --out is reused when it matches */
  key?: string;
  a: CheckpointRef;
  b: CheckpointRef;
  source: CompletionSource & { splitOnOwn?: number };
  settings: { topK: number; temperature: number; batch: number; minCount: number };
  counts: { samples: number; tokens: number; truncated: number };
  meanDelta: number;
  meanKl: number;
  arrays: { name: string; width: number }[];
  dataFile: string;
  index: string;
  vocab: string;
  risers: TokenStat[];
  fallers: TokenStat[];
  samples: { index: number; length: number; sumDelta: number; meanKl: number; offset: number; truncated?: boolean }[];
  timings: { loadSeconds: number; computeSeconds: number; writeSeconds: number; tokensPerSecond: number };
  backend?: string;
}

/** One line of samples.jsonl */
export interface TokenDiffSampleLine {
  index: number;
  prompt: string;
  completion: string;
  promptIds: number[];
  tokenIds: number[];
  tokens: string[];
  length: number;
  offset: number;
  sumDelta: number;
  meanKl: number;
  truncated?: boolean;
  source?: CompletionOrigin;
}

// ---------------------------------------------------------------------------------------------------------------
// Sides

export type TokenDiffSide = { kind: 'checkpoint'; dir: string } | { kind: 'pretrained'; spec: string };

export const BASE_SIDE = 'base';

/** The pretrained model a checkpoint's run started from (undefined for the built-in character model). */
export function baseModelOf(ckptDir: string): string | undefined {
  let meta: CheckpointMeta;
  try { meta = JSON.parse(fs.readFileSync(path.join(ckptDir, FILES.checkpointMeta), 'utf8')) as CheckpointMeta; } catch { return undefined; }
  const lora = meta.model?.base as { spec?: string; local?: string } | undefined;
  if (lora?.local && fs.existsSync(lora.local)) return lora.local;
  if (lora?.spec) return lora.spec;
  const p = (meta.config?.model as { pretrained?: unknown } | undefined)?.pretrained;
  return typeof p === 'string' && p ? p : undefined;
}

/**
 * A command-line side: a checkpoint folder, `base` (side B's base model: needs `other`, a checkpoint), or a
 * pretrained model (hub id, .bin, folder). Errors name what was given.
 */
export function parseSide(arg: string, other?: string): TokenDiffSide {
  if (arg === BASE_SIDE || arg === `${BASE_SIDE}:`) {
    if (!other || !fs.existsSync(path.join(other, FILES.checkpointMeta))) throw new Error(`"${arg}" names the base model of checkpoint B, but ${other ?? 'B'} is not a checkpoint folder`);
    const spec = baseModelOf(other);
    if (!spec) throw new Error(`${path.join(other, FILES.checkpointMeta)}: its run has no pretrained base (config.model.pretrained is not set: the built-in character model starts from random weights); compare it with another checkpoint instead, e.g. its run's first one`);
    return { kind: 'pretrained', spec };
  }
  if (/^hf:/.test(arg)) return { kind: 'pretrained', spec: arg };
  if (!fs.existsSync(arg)) throw new Error(`${path.join(arg, FILES.checkpointMeta)}: missing (${arg} is neither a checkpoint folder nor a model: give a checkpoint folder, "base", a hub id hf:owner/repo, a llama2.c .bin or a Hugging Face folder)`);
  if (fs.statSync(arg).isDirectory() && fs.existsSync(path.join(arg, FILES.checkpointMeta))) return { kind: 'checkpoint', dir: arg };
  return { kind: 'pretrained', spec: arg };
}

export function sideLabel(s: TokenDiffSide): string { return s.kind === 'checkpoint' ? s.dir : s.spec; }

function fileIdentity(p: string): unknown {
  try { const st = fs.statSync(p); return { path: fs.realpathSync(p), size: st.size, mtimeMs: Math.round(st.mtimeMs) }; } catch { return { path: p }; }
}

function checkpointIdentity(dir: string): unknown {
  const files = fs.readdirSync(dir).filter((f) => /\.safetensors$|^checkpoint\.json$/.test(f)).sort();
  return files.map((f) => fileIdentity(path.join(dir, f)));
}

function sideIdentity(s: string | TokenDiffSide): unknown {
  if (typeof s === 'string') return checkpointIdentity(s);
  if (s.kind === 'checkpoint') return checkpointIdentity(s.dir);
  if (/^hf:/.test(s.spec)) return { hub: s.spec };
  try {
    const st = fs.statSync(s.spec);
    if (st.isFile()) return fileIdentity(s.spec);
    return fs.readdirSync(s.spec).filter((f) => /\.(safetensors|bin|json)$/.test(f)).sort().map((f) => fileIdentity(path.join(s.spec, f)));
  } catch { return { spec: s.spec }; }
}

/**
 * Cache key of a comparison: the two sides' files (path, size, mtime; a hub id as written), the source and the
 * settings. A side given as a string is a checkpoint folder (the same key as before sides existed).
 */
export function tokenDiffKey(a: string | TokenDiffSide, b: string | TokenDiffSide, source: CompletionSource, settings: { topK: number; temperature?: number; minCount: number }): string {
  const src = source.kind === 'rollout'
    ? { run: fileIdentity(path.join(source.path, FILES.rolloutsDir, `step_${String(source.step).padStart(8, '0')}.jsonl`)), step: source.step }
    : { file: fileIdentity(source.path) };
  return crypto.createHash('sha1').update(JSON.stringify({ v: TOKEN_DIFF_VERSION, a: sideIdentity(a), b: sideIdentity(b), src, s: settings })).digest('hex').slice(0, 16);
}

/** Where a comparison is cached by default: `<B>/token-diff/<key>/` (B a checkpoint), else undefined (give --out). */
export function defaultTokenDiffDir(b: string | TokenDiffSide, key: string): string | undefined {
  const dir = typeof b === 'string' ? b : b.kind === 'checkpoint' ? b.dir : undefined;
  return dir ? path.join(dir, TOKEN_DIFF_FILES.cacheDir, key) : undefined;
}

// ---------------------------------------------------------------------------------------------------------------
// Readers

/** summary.json of a finished comparison folder, or undefined (missing / another format version). */
export function readTokenDiffSummary(dir: string): TokenDiffSummary | undefined {
  try {
    const s = JSON.parse(fs.readFileSync(path.join(dir, TOKEN_DIFF_FILES.summary), 'utf8')) as TokenDiffSummary;
    return s.format === TOKEN_DIFF_FORMAT && s.formatVersion === TOKEN_DIFF_VERSION ? s : undefined;
  } catch { return undefined; }
}

/** Sample i's per-token arrays from a comparison folder (views into `data`, the whole tokens.f32 read as float32). */
export function tokenDiffSampleArrays(summary: Pick<TokenDiffSummary, 'arrays'>, sample: { offset: number; length: number }, data: Float32Array): Record<string, Float32Array> {
  const out: Record<string, Float32Array> = {};
  let at = sample.offset;
  for (const n of summary.arrays) { out[n.name] = data.subarray(at, at + n.width * sample.length); at += n.width * sample.length; }
  return out;
}

/** Floats per token of a folder's `.f32` (the sum of its arrays' widths). */
export function tokenDiffStride(summary: Pick<TokenDiffSummary, 'arrays'>): number {
  return summary.arrays.reduce((s, n) => s + n.width, 0);
}

/** samples.jsonl of a comparison folder, in sample order. */
export function readTokenDiffSamples(dir: string): TokenDiffSampleLine[] {
  const text = fs.readFileSync(path.join(dir, TOKEN_DIFF_FILES.samples), 'utf8');
  const out: TokenDiffSampleLine[] = [];
  text.split('\n').forEach((l, i) => {
    if (!l.trim()) return;
    try { out.push(JSON.parse(l) as TokenDiffSampleLine); } catch (e) { throw new Error(`${path.join(dir, TOKEN_DIFF_FILES.samples)}:${i + 1}: ${(e as Error).message}`); }
  });
  return out;
}

/** The floats of samples [from, from + count) of tokens.f32 (one contiguous block: samples are stored in order). */
export function readTokenDiffBlock(dir: string, summary: TokenDiffSummary, from: number, count: number): { offset: number; data: Float32Array } {
  const stride = tokenDiffStride(summary);
  const list = summary.samples.slice(from, from + count);
  if (!list.length) return { offset: 0, data: new Float32Array(0) };
  const start = list[0].offset, end = list[list.length - 1].offset + stride * list[list.length - 1].length;
  const bytes = Buffer.alloc((end - start) * 4);
  const fd = fs.openSync(path.join(dir, summary.dataFile), 'r');
  try { fs.readSync(fd, bytes, 0, bytes.length, start * 4); } finally { fs.closeSync(fd); }
  const data = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) { // big-endian host: the file is little-endian
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
    for (let i = 0; i < data.length; i++) data[i] = dv.getFloat32(i * 4, true);
  }
  return { offset: start, data };
}
