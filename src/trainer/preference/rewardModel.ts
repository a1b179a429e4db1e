/**
 * Reward model: the policy's transformer trunk with a scalar head read at the LAST token of prompt + completion (EOS),
 * as TRL's `AutoModelForSequenceClassification` reward models and OpenRLHF's `RewardModel` do. We reuse the GPT's
 * value head (`valueHead: true`) as the scalar head; the LM head is unused.
 *
 * Training: Bradley–Terry pairwise loss (optional margin per pair, optional reward centering; TRL RewardTrainer,
 * OpenRLHF PairWiseLoss) on pairwise data, or the InstructGPT K-wise ranking loss (all C(K,2) pairs of a prompt in one
 * batch, averaged) on ranking data. Metrics: rm/loss, rm/accuracy (r_c > r_r), rm/margin (mean r_c − r_r),
 * rm/chosen, rm/rejected; held-out eval/rm/*. Initialised from an SFT checkpoint's trunk when given (InstructGPT).
 *
 * Use as a reward: `createRewardFunction` (below) turns `reward: { type: "model", checkpoint }` (alone, or combined
 * with rule rewards with a weight per part) into a batched reward function for the RL loop.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as path from 'path';
import { GPT, type GPTConfig } from '../model/gpt';
import type { CharTokenizer } from '../tokenizer';
import { AdamW, clipByGlobalNorm } from '../optim';
import { Rng } from '../rng';
import * as L from '../algorithms/preference';
import type { RunWriter } from '../../runio/writer';
import type { PairRecord, RankingRecord } from './data';
import { rankingToPairs } from './data';
import { disposeBatch, encodeSeq, lastTokenValues, makeBatch, type EncodedSeq } from './batch';
import { drainSteps, drainStepsAsync, type TrainResult } from './stepper';

export interface RewardModelHyper {
  lr: number;
  batchSize: number;
  steps: number;
  maxGradNorm: number;
  weightDecay: number;
  /** subtract a margin inside the sigmoid: 'none', or 'data' (use each pair's "margin" field; 0 when absent) */
  margin: 'none' | 'data';
  /** TRL center_rewards_coefficient (Eisenstein et al. 2023); 0 = off (TRL default) */
  centerRewardsCoefficient: number;
  evalEvery: number;
}

export function rewardModelDefaults(): RewardModelHyper {
  return { lr: 1e-3, batchSize: 16, steps: 80, maxGradNorm: 1, weightDecay: 0, margin: 'data', centerRewardsCoefficient: 0, evalEvery: 20 };
}

/** A reward model = a value-head GPT. `fromPolicy` copies an SFT policy's trunk (every weight it shares). */
export function createRewardModel(config: GPTConfig, seed: number, fromPolicy?: GPT): GPT {
  const rm = GPT.create({ ...config, valueHead: true }, seed);
  if (fromPolicy) {
    for (const [name, v] of rm.weights) {
      const src = fromPolicy.weights.get(name);
      if (src && src.shape.join(',') === v.shape.join(',') && !name.startsWith('value_head.')) v.assign(src);
    }
  }
  zeroScalarHead(rm);
  return rm;
}

/**
 * Zero the scalar head: every completion starts with reward 0 (held-out accuracy 0 by the strict `>`, loss ln 2), so
 * what the model learns is visible from step 0 and no random length preference leaks in from the initialisation.
 */
export function zeroScalarHead(rm: GPT): void {
  for (const n of ['value_head.weight', 'value_head.bias']) {
    const v = rm.weights.get(n);
    if (v) tf.tidy(() => v.assign(tf.zerosLike(v)));
  }
}

interface EncPair { chosen: EncodedSeq; rejected: EncodedSeq; margin: number }
interface EncRanking { seqs: EncodedSeq[]; ranking: number[] }

/** Score (prompt, completion) pairs with a reward model, batched, no gradient. */
export function scoreWithRewardModel(rm: GPT, tok: CharTokenizer, items: { prompt: string; completion: string }[], batchSize = 64): number[] {
  const out: number[] = [];
  const ctx = rm.config.contextLength;
  for (let i = 0; i < items.length; i += batchSize) {
    const part = items.slice(i, i + batchSize).map((x) => {
      // completions the policy generated may exceed the context: keep what fits (the RM then scores a truncated text)
      const maxC = Math.max(0, ctx - 2 - Array.from(x.prompt).length);
      const c = Array.from(x.completion).filter((ch) => tok.has(ch)).slice(0, maxC).join('');
      return encodeSeq(tok, x.prompt, c, ctx);
    });
    const b = makeBatch(part, tok.pad);
    const r = tf.tidy(() => lastTokenValues(rm, b));
    out.push(...Array.from(r.dataSync()));
    r.dispose();
    disposeBatch(b);
  }
  return out;
}

export interface RewardModelTrainerOptions {
  hp: RewardModelHyper;
  model: GPT;
  tokenizer: CharTokenizer;
  train: PairRecord[] | RankingRecord[];
  trainKind: 'pairwise' | 'ranking';
  /** held-out pairs (rankings are expanded to their pairs for accuracy) */
  eval?: PairRecord[] | RankingRecord[];
  seed: number;
  writer?: RunWriter;
  onStep?: (step: number, metrics: Record<string, number>) => void;
  onEval?: (step: number, metrics: Record<string, number>) => void;
  shouldStop?: () => boolean;
  /** the engine's optimizer over model.trainableVariables() (default: a private AdamW) */
  optimizer?: AdamW;
  /** learning rate at a step (default hp.lr) */
  lrAt?: (step: number) => number;
}

export class RewardModelTrainer {
  private opt: AdamW;
  private ownOpt: boolean;
  private pairs: EncPair[] = [];
  private rankings: EncRanking[] = [];
  private evalPairs: EncPair[] = [];
  private rng: Rng;
  step = 0;

  constructor(private readonly o: RewardModelTrainerOptions) {
    if (!o.model.config.valueHead) throw new Error('reward model: the model needs a scalar head (valueHead: true); build it with createRewardModel');
    const tok = o.tokenizer, ctx = o.model.config.contextLength;
    const encPair = (p: PairRecord): EncPair => ({
      chosen: encodeSeq(tok, p.prompt, p.chosen, ctx, p.source, 'chosen'),
      rejected: encodeSeq(tok, p.prompt, p.rejected, ctx, p.source, 'rejected'),
      margin: o.hp.margin === 'data' ? p.margin ?? 0 : 0,
    });
    if (o.trainKind === 'ranking') {
      this.rankings = (o.train as RankingRecord[]).map((r) => ({ seqs: r.completions.map((c, i) => encodeSeq(tok, r.prompt, c, ctx, r.source, `completions[${i}]`)), ranking: r.ranking }));
      if (!this.rankings.length) throw new Error('reward model: no training rankings');
    } else {
      this.pairs = (o.train as PairRecord[]).map(encPair);
      if (!this.pairs.length) throw new Error('reward model: no training pairs');
    }
    const ev = o.eval ?? [];
    const evPairs = ev.length && 'completions' in ev[0] ? rankingToPairs(ev as RankingRecord[]) : (ev as PairRecord[]);
    this.evalPairs = evPairs.map(encPair);
    this.opt = o.optimizer ?? new AdamW(o.model.trainableVariables(), { weightDecay: o.hp.weightDecay });
    this.ownOpt = !o.optimizer;
    this.rng = new Rng(o.seed ^ 0x2545f491);
  }

  dispose(): void { if (this.ownOpt) this.opt.dispose(); }

  get evalSize(): number { return this.evalPairs.length; }

  private pairMetrics(rc: ArrayLike<number>, rr: ArrayLike<number>): Record<string, number> {
    let acc = 0, margin = 0, c = 0, r = 0;
    for (let i = 0; i < rc.length; i++) { acc += rc[i] > rr[i] ? 1 : 0; margin += rc[i] - rr[i]; c += rc[i]; r += rr[i]; }
    const n = rc.length;
    return { 'rm/accuracy': acc / n, 'rm/margin': margin / n, 'rm/chosen': c / n, 'rm/rejected': r / n };
  }

  /** Forward + BT loss for pairs; returns loss and host rewards. */
  private pairLoss(pairs: EncPair[], keep: Record<string, tf.Tensor>): tf.Scalar {
    const B = pairs.length;
    const b = makeBatch([...pairs.map((p) => p.chosen), ...pairs.map((p) => p.rejected)], this.o.tokenizer.pad);
    try {
      const r = lastTokenValues(this.o.model, b);
      const rc = tf.slice(r, [0], [B]) as tf.Tensor1D, rr = tf.slice(r, [B], [B]) as tf.Tensor1D;
      const margins = pairs.some((p) => p.margin) ? tf.tensor1d(pairs.map((p) => p.margin), 'float32') : undefined;
      const out = L.bradleyTerryLoss(rc, rr, margins, this.o.hp.centerRewardsCoefficient);
      keep.rc = tf.keep(rc); keep.rr = tf.keep(rr); keep.loss = tf.keep(tf.clone(out.loss));
      return out.loss;
    } finally { disposeBatch(b); }
  }

  private rankingLoss(rs: EncRanking[], keep: Record<string, tf.Tensor>): tf.Scalar {
    const seqs = rs.flatMap((r) => r.seqs);
    const offsets: number[] = [];
    let m = 0;
    for (const r of rs) { offsets.push(m); m += r.seqs.length; }
    const pairs = L.rankingPairs(rs.map((r) => r.ranking), offsets);
    const b = makeBatch(seqs, this.o.tokenizer.pad);
    try {
      const r = lastTokenValues(this.o.model, b);
      const out = L.kwiseRankingLoss(r, pairs);
      keep.r = tf.keep(r); keep.loss = tf.keep(tf.clone(out.loss));
      (keep as Record<string, unknown>).pairs = pairs as unknown as tf.Tensor; // host data, not a tensor
      return out.loss;
    } finally { disposeBatch(b); }
  }

  trainStep(): Record<string, number> {
    this.step++;
    const keep: Record<string, tf.Tensor> = {};
    const bs = this.o.hp.batchSize;
    let pairsHost: L.RankingPairs | undefined;
    const f = this.o.trainKind === 'ranking'
      ? () => { const part = Array.from({ length: Math.min(bs, this.rankings.length) }, () => this.rankings[this.rng.int(this.rankings.length)]); return this.rankingLoss(part, keep); }
      : () => { const part = Array.from({ length: Math.min(bs, this.pairs.length) }, () => this.pairs[this.rng.int(this.pairs.length)]); return this.pairLoss(part, keep); };
    const { value, grads } = tf.variableGrads(f, this.o.model.trainableVariables());
    value.dispose();
    const c = clipByGlobalNorm(grads, this.o.hp.maxGradNorm);
    tf.dispose(grads);
    if (!Number.isFinite(c.norm)) { tf.dispose(c.grads); throw new Error(`reward model: non-finite gradient norm at step ${this.step}`); }
    const lr = this.o.lrAt ? this.o.lrAt(this.step) : this.o.hp.lr;
    this.opt.apply(c.grads, lr);
    tf.dispose(c.grads);
    pairsHost = (keep as Record<string, unknown>).pairs as L.RankingPairs | undefined;
    delete (keep as Record<string, unknown>).pairs;
    let m: Record<string, number>;
    if (pairsHost) {
      const r = keep.r.dataSync();
      m = this.pairMetrics(pairsHost.better.map((i) => r[i]), pairsHost.worse.map((i) => r[i]));
    } else m = this.pairMetrics(keep.rc.dataSync(), keep.rr.dataSync());
    m['rm/loss'] = keep.loss.dataSync()[0];
    m.grad_norm = c.norm;
    m.learning_rate = lr;
    tf.dispose(Object.values(keep));
    if (!Number.isFinite(m['rm/loss'])) throw new Error(`reward model: loss is ${m['rm/loss']} at step ${this.step}`);
    return m;
  }

  /** Held-out pairwise accuracy / margin / loss. */
  evaluate(): Record<string, number> {
    if (!this.evalPairs.length) return {};
    const rc: number[] = [], rr: number[] = [];
    let lossSum = 0;
    const bs = Math.max(8, this.o.hp.batchSize);
    for (let i = 0; i < this.evalPairs.length; i += bs) {
      const part = this.evalPairs.slice(i, i + bs);
      const keep: Record<string, tf.Tensor> = {};
      tf.tidy(() => { this.pairLoss(part, keep); });
      rc.push(...Array.from(keep.rc.dataSync())); rr.push(...Array.from(keep.rr.dataSync()));
      lossSum += keep.loss.dataSync()[0] * part.length;
      tf.dispose(Object.values(keep));
    }
    const m = this.pairMetrics(rc, rr);
    const out: Record<string, number> = { 'eval/rm/loss': lossSum / this.evalPairs.length };
    for (const [k, v] of Object.entries(m)) out[`eval/${k}`] = v;
    return out;
  }

  run(): TrainResult { return drainSteps(this.steps()); }

  /** The same, yielding to the event loop after every step (`yieldFn`: the engine's ctx.yield, so stop requests are seen). */
  runAsync(yieldFn: () => Promise<void>): Promise<TrainResult> { return drainStepsAsync(this.steps(), yieldFn); }

  private *steps(): Generator<number, TrainResult> {
    const w = this.o.writer;
    const before = this.evaluate();
    if (this.evalPairs.length) { w?.metrics({ step: 0, split: 'eval', values: before }); this.o.onEval?.(0, before); }
    let after = before;
    while (this.step < this.o.hp.steps) {
      if (this.o.shouldStop?.()) break;
      const m = this.trainStep();
      w?.metrics({ step: this.step, split: 'train', values: m });
      this.o.onStep?.(this.step, m);
      const last = this.step === this.o.hp.steps;
      if (this.evalPairs.length && ((this.o.hp.evalEvery > 0 && this.step % this.o.hp.evalEvery === 0) || last)) {
        after = this.evaluate();
        w?.metrics({ step: this.step, split: 'eval', values: after });
        this.o.onEval?.(this.step, after);
      }
      yield this.step;
    }
    return { before, after, steps: this.step };
  }
}

// -------------------------------------------------------------------------------------------------------------
// Reward functions for the RL loop.

/** What a reward function returns per completion: the total and its named parts (shown by the views). */
export interface RewardValue { score: number; parts: Record<string, number> }
/** A batched reward function: one value per (prompt, completion). */
export type BatchRewardFn = (items: { prompt: string; completion: string; answer?: string }[]) => RewardValue[];

/** `reward` config of ppo / grpo runs that use a learned reward model. */
export type ModelRewardSpec =
  | { type: 'model'; checkpoint: string; weight?: number; name?: string; normalize?: { mean: number; std: number } }
  | { type: 'combined'; parts: ({ type: 'model'; checkpoint: string; weight?: number; name?: string; normalize?: { mean: number; std: number } } | { type: 'rule'; weight?: number; name?: string })[] };

/** A loaded reward model: what `createRewardFunction` needs from a checkpoint loader. */
export interface LoadedRewardModel { model: GPT; tokenizer: CharTokenizer }

/**
 * Build the batched reward function of a `reward: { type: "model" | "combined" }` config.
 *   type "model":    score = weight · (RM(prompt, completion) − mean)/std (normalize optional); parts { rm: raw RM score }
 *   type "combined": score = Σ_k weight_k · score_k over the parts; "rule" parts call `rule` (the task's verifiable
 *                    reward, whose own parts are kept, prefixed by the part name when one is given); parts also get
 *                    `<name>` = that part's unweighted score.
 * `loadCheckpoint` loads a reward-model checkpoint folder (the trainer's checkpoint loader); loaded models are cached
 * per path. Call `dispose()` on the returned object at the end of the run.
 */
export function createRewardFunction(
  spec: ModelRewardSpec,
  deps: { loadCheckpoint: (dir: string) => LoadedRewardModel; rule?: (prompt: string, completion: string, answer?: string) => RewardValue; batchSize?: number },
): { fn: BatchRewardFn; dispose: () => void } {
  const cache = new Map<string, LoadedRewardModel>();
  const get = (dir: string): LoadedRewardModel => {
    let m = cache.get(dir);
    if (!m) {
      m = deps.loadCheckpoint(dir);
      if (!m.model.config.valueHead) throw new Error(`reward.checkpoint ${dir}: this checkpoint has no scalar head; train one with algorithm "reward_model"`);
      cache.set(dir, m);
    }
    return m;
  };
  const parts = spec.type === 'model' ? [spec] : spec.parts;
  if (!parts.length) throw new Error('reward.parts: at least one part is needed');
  for (const p of parts) if (p.type === 'rule' && !deps.rule) throw new Error('reward: a "rule" part needs the task\'s rule reward, and this task has none');
  for (const p of parts) if (p.type === 'model') get(p.checkpoint); // load now: fail before the run starts
  const fn: BatchRewardFn = (items) => {
    const out: RewardValue[] = items.map(() => ({ score: 0, parts: {} }));
    parts.forEach((p, k) => {
      const w = p.weight ?? 1;
      if (p.type === 'model') {
        const name = p.name ?? (parts.filter((x) => x.type === 'model').length > 1 ? `rm${k}` : 'rm');
        const m = get(p.checkpoint);
        const raw = scoreWithRewardModel(m.model, m.tokenizer, items, deps.batchSize ?? 64);
        raw.forEach((r, i) => {
          const s = p.normalize ? (r - p.normalize.mean) / (p.normalize.std || 1) : r;
          out[i].parts[name] = s;
          out[i].score += w * s;
        });
      } else {
        items.forEach((it, i) => {
          const r = deps.rule!(it.prompt, it.completion, it.answer);
          for (const [pk, pv] of Object.entries(r.parts)) out[i].parts[p.name ? `${p.name}/${pk}` : pk] = pv;
          if (p.name) out[i].parts[p.name] = r.score;
          out[i].score += w * r.score;
        });
      }
    });
    return out;
  };
  return { fn, dispose: () => { for (const m of cache.values()) m.model.dispose(); cache.clear(); } };
}

/** JSON Schema of the top-level `reward` config (ppo / grpo / any RL run): a learned reward, alone or combined with the task's rule reward. */
export const REWARD_CONFIG_SCHEMA = {
  type: 'object', additionalProperties: false,
  description: 'reward from a trained reward model (algorithm "reward_model"), alone or combined with the task\'s rule reward',
  required: ['type'],
  properties: {
    type: { type: 'string', enum: ['model', 'combined', 'process'], description: 'model: the RM score only; combined: Σ weight·part over `parts`; process: a process reward model (algorithm "prm") scores every reasoning step, each step\'s score goes on its last token (preference/prm.ts; tasks with steps)' },
    checkpoint: { type: 'string', minLength: 1, description: 'type model: the reward model checkpoint folder (…/checkpoints/step_X_final); type process: the PRM checkpoint folder' },
    aggregate: { type: 'string', enum: ['min', 'product', 'mean', 'last'], default: 'min', description: 'type process: the sequence-level score from the step scores (logged as the reward; the advantages use the step scores): min (Math-Shepherd, weakest step), product (Lightman et al.), mean, last' },
    weight: { type: 'number', default: 1 },
    name: { type: 'string', minLength: 1 },
    normalize: { type: 'object', additionalProperties: false, required: ['mean', 'std'], properties: { mean: { type: 'number' }, std: { type: 'number', exclusiveMinimum: 0 } } },
    parts: {
      type: 'array', minItems: 1,
      items: {
        type: 'object', additionalProperties: false, required: ['type'],
        properties: {
          type: { type: 'string', enum: ['model', 'rule'] },
          checkpoint: { type: 'string', minLength: 1 },
          weight: { type: 'number', default: 1 },
          name: { type: 'string', minLength: 1 },
          normalize: { type: 'object', additionalProperties: false, required: ['mean', 'std'], properties: { mean: { type: 'number' }, std: { type: 'number', exclusiveMinimum: 0 } } },
        },
      },
    },
  },
} as const;

/** Check a `reward` config value (after schema validation): fields that depend on `type`. Throws naming the field. */
export function checkRewardSpec(spec: ModelRewardSpec): void {
  if (spec.type === 'model' && !spec.checkpoint) throw new Error('reward.checkpoint: required when reward.type is "model" (a reward model checkpoint folder)');
  if (spec.type === 'combined') {
    if (!spec.parts?.length) throw new Error('reward.parts: required when reward.type is "combined", e.g. [{"type":"model","checkpoint":"…","weight":1},{"type":"rule","weight":0.5}]');
    spec.parts.forEach((p, i) => { if (p.type === 'model' && !p.checkpoint) throw new Error(`reward.parts[${i}].checkpoint: required for a "model" part`); });
  }
}

/** Minimal view of a task (tasks/types.ts Task) for the learned-reward wrapper. */
interface RewardTask {
  reward(ex: { prompt: string; answer: string; difficulty: number; id: string }, completion: string, finished?: boolean): RewardValue;
}

/**
 * Wrap a task so that its `reward(example, completion, finished)` is the configured learned reward (alone or combined
 * with the task's own rule reward): what the RL loop calls, unchanged. Parts: `rm` (raw RM score, normalised when
 * configured), the rule reward's parts when a rule part is used, and `hidden_score` (the built-in tasks' hidden
 * "correct and concise" score of data.ts, for monitoring only: it is NOT part of the total) so a run shows whether
 * raising the RM also raised the true goal. RM scores are cached per (prompt, completion).
 * `baseDir` resolves a relative checkpoint path. Returns the wrapped task and a dispose function (frees the RMs).
 */
export function withLearnedReward<T extends object>(task: T, spec: ModelRewardSpec, deps: { loadCheckpoint: (dir: string) => LoadedRewardModel; baseDir?: string; hiddenScore?: (completion: string, answer: string) => number }): { task: T; dispose: () => void } {
  checkRewardSpec(spec);
  const abs = (p: string) => (deps.baseDir && !/^([a-zA-Z]:)?[\\/]/.test(p) ? `${deps.baseDir.replace(/[\\/]+$/, '')}/${p}` : p);
  const resolved: ModelRewardSpec = spec.type === 'model' ? { ...spec, checkpoint: abs(spec.checkpoint) } : { ...spec, parts: spec.parts.map((p) => (p.type === 'model' ? { ...p, checkpoint: abs(p.checkpoint) } : p)) };
  const base = task as unknown as RewardTask;
  const ruleOf = base.reward.bind(task);
  let current: { ex: Parameters<RewardTask['reward']>[0]; finished?: boolean } | undefined;
  const rf = createRewardFunction(resolved, { loadCheckpoint: deps.loadCheckpoint, rule: (_p, c) => ruleOf(current!.ex, c, current!.finished) });
  const cache = new Map<string, RewardValue>();
  const wrapped = new Proxy(task, {
    get(target, prop, recv) {
      if (prop === 'reward') {
        return (ex: Parameters<RewardTask['reward']>[0], completion: string, finished = true): RewardValue => {
          const key = `${finished ? 1 : 0}\u0000${ex.prompt}\u0000${completion}`;
          let r = cache.get(key);
          if (!r) {
            current = { ex, finished };
            r = rf.fn([{ prompt: ex.prompt, completion, answer: ex.answer }])[0];
            if (deps.hiddenScore) r.parts.hidden_score = deps.hiddenScore(completion, ex.answer);
            if (cache.size > 50000) cache.clear();
            cache.set(key, r);
          }
          return { score: r.score, parts: { ...r.parts } };
        };
      }
      return Reflect.get(target, prop, recv);
    },
  });
  return { task: wrapped, dispose: () => { rf.dispose(); cache.clear(); } };
}

/** Resolve the relative checkpoint paths of a `reward` config against `baseDir` (the config file's folder), in place. */
export function resolveRewardPaths(reward: unknown, baseDir: string): void {
  const r = reward as { checkpoint?: string; parts?: { checkpoint?: string }[] };
  if (typeof r.checkpoint === 'string') r.checkpoint = path.resolve(baseDir, r.checkpoint);
  for (const p of r.parts ?? []) if (typeof p.checkpoint === 'string') p.checkpoint = path.resolve(baseDir, p.checkpoint);
}
