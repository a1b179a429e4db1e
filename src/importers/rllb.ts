/**
 * RLLoggingBoard JSONL (OpenRLHF's and verl's RLLoggingBoard loggers) → RL Lens rollouts.
 *
 * Format (RLLoggingBoard README §2.1, and the writer `RLLoggingBoardLogger.log` of its verl/OpenRLHF branches):
 * one JSON object per line with `prompt`, `response`, `response_tokens` (str per token), `logprobs`,
 * `ref_logprobs`, `values`, `token_rewards` (KL penalty + reward, what PPO trains on), `reward` (float), `step`,
 * optional `ref_response`, `ref_reward`, and whatever else the writer adds (`ground_truth`, `rm_response`, ...).
 * A folder may hold one file per data-parallel rank (`rollout_data_rank{N}.jsonl`): lines are merged by `step`.
 *
 * Per-token arrays stored: logprob, ref_logprob, value, token_reward, and kl = logprob − ref_logprob (k1, the
 * log-ratio RLLoggingBoard shows as `log_ratio`); other numeric lists with one value per token are kept under
 * their own names. Everything else on the line goes to `sample.extra`.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { InputProblem, RolloutSampleInput } from '../shared/runFormat';
import { Problems, TailWatch, asNumberArray, countNonFinite, derivedStepMetrics, groupSamples, jsonSafe, keepExtra, listFiles, naturalCompare } from './common';
import { orderArrays } from '../shared/rolloutStep';
import { JsonlStepIndex, parseStep, type ConvertedSample, type PollResult, type Session, type StepOut } from './session';

/** RLLoggingBoard key → RL Lens per-token array name. */
export const RLLB_ARRAYS: Record<string, string> = {
  logprobs: 'logprob',
  ref_logprobs: 'ref_logprob',
  values: 'value',
  token_rewards: 'token_reward',
  old_logprobs: 'old_logprob',
  advantages: 'advantage',
  returns: 'return',
  entropy: 'entropy',
  entropies: 'entropy',
  ratios: 'ratio',
  kl: 'kl',
  mask: 'mask',
  masks: 'mask',
};

const CORE_KEYS = new Set(['step', 'prompt', 'response', 'response_tokens', 'reward']);
const GROUP_KEYS = ['uid', 'group_id', 'prompt_id'];

export function rllbFiles(src: string): string[] {
  const st = fs.statSync(src);
  if (st.isFile()) return [src];
  return listFiles(src, (n) => n.endsWith('.jsonl')).sort(naturalCompare);
}

/**
 * Convert one parsed RLLoggingBoard line. Returns undefined (after reporting) when the line cannot be used.
 * A line without `response_tokens` is converted (text, reward; arrays kept in extra) and flagged `missingTokens`
 * instead of reported, so that the session reports all such lines as one warning with a count and the first line.
 */
export function convertRllbRecord(rec: Record<string, unknown>, file: string, line: number, problems: Problems): (ConvertedSample & { missingTokens?: boolean }) | undefined {
  const bad = (field: string, message: string, severity: 'error' | 'warning' = 'error'): void => problems.add({ file, line, field, message, severity });
  if (typeof rec.prompt !== 'string') { bad('prompt', rec.prompt === undefined ? 'missing "prompt"; line skipped' : `"prompt" must be a string, got ${typeof rec.prompt}; line skipped`); return undefined; }
  if (typeof rec.response !== 'string') { bad('response', rec.response === undefined ? 'missing "response"; line skipped' : `"response" must be a string, got ${typeof rec.response}; line skipped`); return undefined; }
  if (typeof rec.reward !== 'number') { bad('reward', rec.reward === undefined ? 'missing "reward"; line skipped' : `"reward" must be a number, got ${JSON.stringify(rec.reward)}; line skipped`); return undefined; }
  if (!Number.isFinite(rec.reward)) { bad('reward', `"reward" is ${rec.reward} (not finite); line skipped`); return undefined; }

  const extra: Record<string, unknown> = {};
  let tokens: string[] = [];
  const rt = rec.response_tokens;
  const tokensOk = Array.isArray(rt) && rt.every((t) => typeof t === 'string');
  if (!tokensOk) {
    if (rt !== undefined) bad('response_tokens', '"response_tokens" must be a list of strings: per-token values of this sample cannot be shown (kept in extra)', 'warning');
  } else tokens = rt as string[];

  // candidate per-token arrays
  const cands: { key: string; name: string; values: number[] }[] = [];
  const consumed = new Set<string>(CORE_KEYS);
  for (const [key, v] of Object.entries(rec)) {
    if (CORE_KEYS.has(key)) continue;
    const known = RLLB_ARRAYS[key];
    const arr = asNumberArray(v);
    if (known) {
      if (!arr) { bad(key, `"${key}" must be a list of numbers; array skipped (kept in extra)`); extra[key] = jsonSafe(v); consumed.add(key); continue; }
      cands.push({ key, name: known, values: arr });
      consumed.add(key);
    } else if (arr && arr.length > 0 && tokensOk && arr.length === tokens.length) {
      cands.push({ key, name: key, values: arr }); // unknown per-token list: kept under its own name
      consumed.add(key);
    }
  }

  // the per-token length: the tokens, unless every array agrees on a shorter length (RLLoggingBoard's own sample
  // has a trailing "<PAD>" token without values)
  let L = tokens.length;
  const arrLens = new Set(cands.map((c) => c.values.length));
  if (tokensOk && cands.length && arrLens.size === 1) {
    const M = [...arrLens][0];
    if (M < L) {
      extra.dropped_tokens = tokens.slice(M);
      bad('response_tokens', `${L} tokens but the per-token arrays have ${M} values; the last ${L - M} token(s) ${JSON.stringify(tokens.slice(M))} have no values and are kept in extra.dropped_tokens`, 'warning');
      tokens = tokens.slice(0, M);
      L = M;
    }
  }
  const arrays: Record<string, ArrayLike<number>> = {};
  if (tokensOk) {
    for (const c of cands) {
      if (c.values.length !== L) {
        bad(c.key, `${c.values.length} values for ${L} response tokens (mismatched per-token array length); array skipped for this sample (kept in extra)`);
        extra[c.key] = jsonSafe(c.values);
        continue;
      }
      const nf = countNonFinite(c.values);
      if (nf) {
        const at: number[] = [];
        c.values.forEach((x, i) => { if (!Number.isFinite(x) && at.length < 5) at.push(i); });
        bad(c.key, `${nf} non-finite value(s) (NaN/Infinity) at token ${at.join(', ')}${nf > at.length ? ', ...' : ''}; stored as NaN (shown as missing)`, 'warning');
      }
      arrays[c.name] = Float32Array.from(c.values, (x) => (Number.isFinite(x) ? x : NaN));
    }
    if (!('kl' in arrays) && arrays.logprob && arrays.ref_logprob) {
      const lp = arrays.logprob; const rp = arrays.ref_logprob;
      arrays.kl = Float32Array.from({ length: L }, (_, i) => lp[i] - rp[i]);
    }
  } else {
    for (const c of cands) keepExtra(extra, c.key, c.values, (field, message) => bad(field, message, 'warning'));
    L = 0;
  }
  const warn = (field: string, message: string): void => bad(field, message, 'warning');
  for (const [key, v] of Object.entries(rec)) if (!consumed.has(key)) keepExtra(extra, key, v, warn);
  if (!tokensOk && rt !== undefined) extra.response_tokens = jsonSafe(rt);

  const sample: RolloutSampleInput = {
    group: '', prompt: rec.prompt, completion: rec.response, tokens: L ? tokens : [], reward: rec.reward, length: L,
    source: { file: path.basename(file), line },
  };
  if (Object.keys(extra).length) sample.extra = extra;
  return rt === undefined ? { sample, arrays, missingTokens: true } : { sample, arrays };
}

export class RllbSession implements Session {
  readonly format = 'rllb' as const;
  readonly problems = new Problems();
  readonly stepProblems = new Map<number, import('../shared/runFormat').InputProblem[]>();
  readonly notes = new Set<string>();
  readonly tails: TailWatch;
  private readonly index: JsonlStepIndex;
  private files: string[] = [];
  private readonly sampleCounts = new Map<number, number>();
  private readonly metricsDone = new Set<number>();
  private readonly pendingMetrics = new Map<number, Record<string, number | null>>();
  private hasValues = false;
  /** per step: lines without response_tokens (reported once for the whole source, see noTokensProblem) */
  private readonly noTokens = new Map<number, { file: string; line: number }[]>();

  constructor(private readonly src: string, opts: { staleTailMs?: number } = {}) {
    this.tails = new TailWatch(opts.staleTailMs);
    this.index = new JsonlStepIndex(this.problems, this.tails);
  }

  algorithm(): string { return this.hasValues ? 'ppo' : 'unknown'; }

  counts(): Record<string, number> {
    let samples = 0;
    for (const n of this.sampleCounts.values()) samples += n;
    return { files: this.files.length, lines: this.index.lines, samples, steps: this.sampleCounts.size };
  }

  async poll(final: boolean): Promise<PollResult> {
    this.files = rllbFiles(this.src);
    const touched = new Set<number>();
    for (const f of this.files) for (const s of this.index.scan(f, final, (r) => parseStep(r.step))) touched.add(s);
    const steps: StepOut[] = [];
    for (const step of [...touched].sort((a, b) => a - b)) {
      const out = this.buildStep(step);
      if (out) steps.push(out);
    }
    if (this.files.length > 1) this.notes.add(`merged ${this.files.length} files (one per data-parallel rank) by "step"`);
    const nt = this.noTokensProblem();
    if (nt) this.stepProblems.set(-1, [nt]); else this.stepProblems.delete(-1);
    // derived metrics: a step is complete once a later step exists (or at the end)
    const metrics = [];
    const all = [...this.pendingMetrics.keys()].sort((a, b) => a - b);
    const maxStep = all.length ? all[all.length - 1] : -1;
    for (const s of all) {
      if (this.metricsDone.has(s) || (!final && s === maxStep)) continue;
      metrics.push({ step: s, values: this.pendingMetrics.get(s)! });
      this.metricsDone.add(s);
      this.pendingMetrics.delete(s);
    }
    return { steps, metrics, evals: [] };
  }

  private buildStep(step: number): StepOut | undefined {
    const probs = new Problems();
    const samples: RolloutSampleInput[] = [];
    const arrays: Record<string, ArrayLike<number>>[] = [];
    const noTok: { file: string; line: number }[] = [];
    this.noTokens.set(step, noTok);
    for (const { ref, rec } of this.index.records(step, this.files)) {
      const c = convertRllbRecord(rec, ref.file, ref.line, probs);
      if (!c) continue;
      if (c.missingTokens) noTok.push({ file: ref.file, line: ref.line });
      samples.push(c.sample);
      arrays.push(c.arrays);
    }
    this.stepProblems.set(step, probs.list);
    this.sampleCounts.set(step, samples.length);
    if (!samples.length) return undefined;
    const names = new Set<string>();
    for (const a of arrays) for (const k of Object.keys(a)) names.add(k);
    if (names.has('value')) this.hasValues = true;
    const { groups, byPrompt } = groupSamples(samples, (s) => {
      const e = s.extra as Record<string, unknown> | undefined;
      for (const k of GROUP_KEYS) { const v = e?.[k]; if (typeof v === 'string' || typeof v === 'number') return String(v); }
      return undefined;
    }, (s) => {
      const gt = (s.extra as Record<string, unknown> | undefined)?.ground_truth;
      return typeof gt === 'string' || typeof gt === 'number' ? String(gt) : undefined;
    });
    if (byPrompt) this.notes.add('rollouts grouped by identical prompt within each step (the source has no group ids)');
    if (names.has('kl')) this.notes.add('per-token kl = logprob − ref_logprob (k1 log-ratio), computed on import');
    if (!this.metricsDone.has(step)) {
      this.pendingMetrics.set(step, derivedStepMetrics(samples, arrays));
      this.notes.add('per-step metrics (reward/mean, reward/std, response_length/mean, kl, values/mean, ...) derived from the samples (the source has no metrics file)');
    }
    return { step, header: { step, algorithm: this.algorithm(), arrays: orderArrays(names), groups, sourceFormat: 'rllb' }, samples, arrays };
  }

  /** One warning for every line without response_tokens: the count, the first line (file order, then line). */
  private noTokensProblem(): InputProblem | undefined {
    const rank = new Map(this.files.map((f, i) => [f, i]));
    let n = 0;
    let first: { file: string; line: number } | undefined;
    const files = new Set<string>();
    for (const refs of this.noTokens.values()) {
      for (const r of refs) {
        n++;
        files.add(r.file);
        if (!first || (rank.get(r.file) ?? 0) < (rank.get(first.file) ?? 0) || (r.file === first.file && r.line < first.line)) first = r;
      }
    }
    if (!first) return undefined;
    const all = this.index.goodLines;
    return {
      file: first.file, line: first.line, field: 'response_tokens', severity: 'warning',
      message: `${n === all ? `all ${n}` : `${n} of ${all}`} line(s)${files.size > 1 ? ` in ${files.size} files` : ''} have no "response_tokens" (first: line ${first.line}): text and reward are kept, but per-token values cannot be shown (the per-token lists of those lines are kept in sample.extra)`,
    };
  }
}
