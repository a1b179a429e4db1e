/**
 * Three later offline methods of the survey (issue 19), trained like the preference methods of ./train.ts:
 *   tdpo  Token-level DPO (TDPO1 / TDPO2): pairs; the loss needs the policy's and the reference's FULL next-token
 *         distributions at every completion position (the sequential KL), so it runs a logits forward, not only log-probs.
 *   qrpo  Quantile Reward Policy Optimization: single completions with an absolute reward, turned into a quantile
 *         reward against reference completions' rewards for the same prompt; pointwise regression, no pairs.
 *   spin  Self-Play fIne-tuNing: real (SFT) completions vs the opponent's own generations; `iterations` rounds in one
 *         run, the opponent / reference refreshed to the current policy at the start of each, a checkpoint at each end.
 * The math is ../algorithms/tdpo.ts, qrpo.ts, spin.ts (plain-number façade: ../algorithms/referenceOffline.ts).
 * Every traced step writes per-token arrays (rollouts): logprob, ref_logprob, implicit_reward = β·(log π − log π_ref)
 * per token, mask; TDPO adds seq_kl (the per-position KL(π_ref‖π_θ) whose sum is D_SeqKL). Registered from ../plugins.ts.
 */
import * as fs from 'fs';
import * as tf from '@tensorflow/tfjs-core';
import type { CausalLM } from '../model/types';
import type { TrainContext } from '../engine';
import { registerAlgorithm, type AlgorithmModule } from '../registry';
import { sectionSchema, fieldDefault, type Fields } from '../fields';
import { AdamW, clipByGlobalNorm } from '../optim';
import { Rng } from '../rng';
import { sampleGroups } from '../sampling';
import type { Task, TaskExample } from '../tasks/types';
import { sftBatch, sftStep } from '../sft';
import { charModel } from '../charModel';
import * as TD from '../algorithms/tdpo';
import * as QR from '../algorithms/qrpo';
import * as SP from '../algorithms/spin';
import type { RolloutGroup, RolloutSampleInput, RolloutStepHeaderInput } from '../../shared/runFormat';
import { completionLogps, disposeBatch, encodeSeq, makeBatch, type EncodedSeq, type SeqBatch, type SeqTokenizer } from './batch';
import { loadPreferenceFile, splitByPrompt, taskExamples, formatProblem, type PairRecord, type SourceRef } from './data';
import { builtinPreferenceData, resolvePath } from './index';

export type OfflineMethod = 'tdpo' | 'qrpo' | 'spin';
export const OFFLINE_METHODS: OfflineMethod[] = ['tdpo', 'qrpo', 'spin'];

/** Every field of the tdpo / qrpo / spin sections: type, default, meaning, reference (docs/config.md is derived from it). */
export const OFFLINE_FIELDS: Fields = {
  beta: { schema: { type: 'number', exclusiveMinimum: 0 }, default: 0.1, doc: 'β: KL strength (spin: the paper\'s λ)', ref: 'TDPO config/loss/tdpo.yaml beta 0.1; SPIN configs/config.yaml beta 0.1; QRPO β (paper sweeps; docs/references.md#qrpo)' },
  alpha: { schema: { type: 'number', minimum: 0 }, default: 0.5, only: ['tdpo'], doc: 'α: weight of the sequential-KL difference in TDPO2 (unused by TDPO1)', ref: 'TDPO config/loss/tdpo.yaml alpha 0.5' },
  tdpo2: { schema: { type: 'boolean' }, default: true, only: ['tdpo'], doc: 'true: TDPO2 (α, chosen sequential KL detached); false: TDPO1', ref: 'TDPO config/loss/tdpo.yaml if_tdpo2 true' },
  logZ: { schema: { type: 'string', enum: ['exact', 'simplified'] }, default: 'exact', only: ['qrpo'], doc: 'log partition of the quantile reward: exact log(β(e^{1/β} − 1)); simplified log β + 1/β (the authors\' README code)', ref: 'QRPO paper Eq. 11; CLAIRE-Labo README qrpo_loss' },
  refSamples: { schema: { type: 'integer', minimum: 1, maximum: 64 }, default: 8, only: ['qrpo'], doc: 'built-in data: reference completions sampled from π_ref per prompt (their rewards estimate the quantile)', ref: 'QRPO paper: n reference completions per prompt (pre-computation scaling)' },
  trainSamples: { schema: { type: 'integer', minimum: 1, maximum: 64 }, default: 4, only: ['qrpo'], doc: 'built-in data: training completions per prompt, taken from the reference samples (+ the task\'s answer when it has one)' },
  includeAnswer: { schema: { type: 'boolean' }, default: true, only: ['qrpo'], doc: 'built-in data, character model: add the task\'s answer (scored by the task reward) to each prompt\'s training completions; false = only π_ref\'s own samples (the comparison with DPO on the same samples)' },
  iterations: { schema: { type: 'integer', minimum: 1, maximum: 20 }, default: 3, only: ['spin'], doc: 'self-play iterations in the run: train.steps are split evenly; each iteration regenerates y\' with the current policy and makes it the opponent', ref: 'SPIN paper iterations 0–3 (configs/config_iter*.yaml)' },
  lossType: { schema: { type: 'string', enum: ['sigmoid', 'hinge'] }, default: 'sigmoid', only: ['spin'], doc: 'sigmoid: the paper\'s logistic ℓ(t) = log(1 + e^{−t}); hinge: max(0, 1 − t)', ref: 'SPIN trainer.py loss_type' },
  source: { schema: { type: 'string', enum: ['synthetic', 'policy'] }, default: 'synthetic', only: ['tdpo'], doc: 'built-in pairs (no data.path): synthetic (rule-made candidates, the dpo-arithmetic set) or policy (k samples of the starting policy per prompt, best vs worst by the task reward; works for pretrained models)' },
  samplesPerPrompt: { schema: { type: 'integer', minimum: 2, maximum: 32 }, default: 4, only: ['tdpo'], doc: 'source policy: samples per prompt (the pair is the best and the worst by task reward, when they differ)' },
  warmStartSteps: { schema: { type: 'integer', minimum: 0 }, default: 0, doc: 'character model without init.checkpoint: supervised warm start on the task\'s demonstrations first (the reference is then the warm-started policy); 0 = none' },
  warmStartDemoNoise: { schema: { type: 'number', minimum: 0, maximum: 1 }, default: 0.3, doc: 'warm start: probability that a demonstration carries a wrong, well-formatted answer (as rl.warmStart.demoNoise)' },
  evalEvery: { schema: { type: 'integer', minimum: 0 }, default: 20, doc: 'held-out method metrics every N steps (and at the end); 0 = end only' },
  tracePairs: { schema: { type: 'integer', minimum: 1 }, default: 8, doc: 'pairs (qrpo: completions) written per traced step (rollouts.every)' },
};

/** JSON Schema of the `data` part of the tdpo / qrpo / spin sections. */
export const OFFLINE_DATA_SCHEMA = {
  type: 'object', additionalProperties: false,
  description: 'data: a JSONL file (tdpo: pairs {prompt, chosen, rejected}; qrpo: {prompt, completion, reward, ref_rewards}; spin: SFT demonstrations {prompt, completion}) or (default) built from the run\'s task',
  properties: {
    path: { type: 'string', minLength: 1, description: 'JSONL training data (formats above, docs/preference.md); relative to the working directory' },
    evalPath: { type: 'string', minLength: 1, description: 'held-out JSONL (same format); default: evalFraction of the prompts of `path`' },
    evalFraction: { type: 'number', minimum: 0, maximum: 0.9, default: 0.1, description: 'share of prompts held out when there is no evalPath' },
    allowBadLines: { type: 'boolean', default: false, description: 'tdpo: skip bad lines of a pair file (reported) instead of refusing to start' },
    count: { type: 'integer', minimum: 2, maximum: 100000, default: 128, description: 'built-in data: training prompts from the task\'s train split' },
    evalCount: { type: 'integer', minimum: 1, maximum: 10000, default: 32, description: 'built-in data: held-out prompts from the task\'s eval split' },
    seed: { type: 'integer', minimum: 0, default: 7, description: 'built-in data seed' },
  },
} as const;

interface DataSection { path?: string; evalPath?: string; evalFraction?: number; allowBadLines?: boolean; count?: number; evalCount?: number; seed?: number }

export interface OfflineHyper {
  beta: number; alpha: number; tdpo2: boolean; logZ: QR.QrpoLogZ; iterations: number; lossType: SP.SpinLossType;
  lr: number; batchSize: number; steps: number; maxGradNorm: number; evalEvery: number; traceEvery: number; tracePairs: number;
  /** spin: sampling of the opponent's generations */
  temperature: number; maxNewTokens: number;
}

export function offlineDefaults(method: OfflineMethod): OfflineHyper {
  const d = (k: string) => fieldDefault(OFFLINE_FIELDS[k], method);
  return {
    beta: d('beta') as number, alpha: d('alpha') as number, tdpo2: d('tdpo2') as boolean, logZ: d('logZ') as QR.QrpoLogZ,
    iterations: d('iterations') as number, lossType: d('lossType') as SP.SpinLossType,
    lr: 3e-3, batchSize: 16, steps: 60, maxGradNorm: 1, evalEvery: d('evalEvery') as number, traceEvery: 10, tracePairs: d('tracePairs') as number,
    temperature: 1, maxNewTokens: 8,
  };
}

// ---- data ----------------------------------------------------------------------------------------------------------

/** QRPO: one completion with its absolute reward and the rewards of reference completions for the same prompt. */
export interface QrpoRecord { prompt: string; completion: string; reward: number; refRewards: number[]; source?: SourceRef }
/** SPIN: one real (SFT) demonstration. */
export interface SpinRecord { prompt: string; completion: string; source?: SourceRef }

function jsonlLines(file: string): { line: number; value: Record<string, unknown> }[] {
  if (!fs.existsSync(file)) throw new Error(`${file}: file not found (data.path in the config)`);
  const out: { line: number; value: Record<string, unknown> }[] = [];
  fs.readFileSync(file, 'utf8').split(/\r?\n/).forEach((s, i) => {
    if (!s.trim()) return;
    let v: unknown;
    try { v = JSON.parse(s); } catch (e) { throw new Error(`${file}:${i + 1}: not JSON (${(e as Error).message})`); }
    if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error(`${file}:${i + 1}: expected a JSON object per line`);
    out.push({ line: i + 1, value: v as Record<string, unknown> });
  });
  if (!out.length) throw new Error(`${file}: no records`);
  return out;
}

/** QRPO JSONL: {"prompt", "completion", "reward": number, "ref_rewards": [number, …]} per line (errors name file:line and field). */
export function loadQrpoFile(file: string): QrpoRecord[] {
  return jsonlLines(file).map(({ line, value: v }) => {
    const at = `${file}:${line}: field`;
    if (typeof v.prompt !== 'string') throw new Error(`${at} "prompt": expected a string`);
    if (typeof v.completion !== 'string') throw new Error(`${at} "completion": expected a string`);
    if (typeof v.reward !== 'number' || !Number.isFinite(v.reward)) throw new Error(`${at} "reward": expected a finite number (the completion's absolute reward)`);
    const rr = v.ref_rewards;
    if (!Array.isArray(rr) || !rr.length || rr.some((x) => typeof x !== 'number' || !Number.isFinite(x))) throw new Error(`${at} "ref_rewards": expected a non-empty array of finite numbers (rewards of reference-policy completions for this prompt)`);
    return { prompt: v.prompt, completion: v.completion, reward: v.reward, refRewards: rr as number[], source: { file, line } };
  });
}

/** SPIN JSONL: {"prompt", "completion"} (also {"prompt", "chosen"}: the chosen side of a pair file is the demonstration). */
export function loadSpinFile(file: string): SpinRecord[] {
  return jsonlLines(file).map(({ line, value: v }) => {
    const c = typeof v.completion === 'string' ? v.completion : v.chosen;
    if (typeof v.prompt !== 'string') throw new Error(`${file}:${line}: field "prompt": expected a string`);
    if (typeof c !== 'string') throw new Error(`${file}:${line}: field "completion": expected a string (the real, SFT demonstration)`);
    return { prompt: v.prompt, completion: c, source: { file, line } };
  });
}

function taskExample(task: Task, prompt: string, answer: string): TaskExample {
  return { prompt, answer, difficulty: task.options.difficulty } as TaskExample;
}

/**
 * Pairs from the model's own samples: k samples per prompt at temperature 1, scored by the task reward; the pair is
 * (best, worst) when their rewards differ (ties: first sample). Works for any model the sampler runs (pretrained too).
 */
export function policyPairs(model: CausalLM, tok: SeqTokenizer & Parameters<typeof sampleGroups>[1], task: Task, examples: { prompt: string; answer: string }[], k: number, maxNewTokens: number, rng: Rng): PairRecord[] {
  const g = sampleGroups(model as Parameters<typeof sampleGroups>[0], tok, examples.map((e) => e.prompt), k, { maxNewTokens, temperature: 1, rng }, 64 * k);
  const out: PairRecord[] = [];
  examples.forEach((ex, j) => {
    const scored = g.texts[j].map((c, s) => ({ c, r: task.reward(taskExample(task, ex.prompt, ex.answer), c, g.finished[j][s]).score }));
    let best = scored[0], worst = scored[0];
    for (const x of scored) { if (x.r > best.r) best = x; if (x.r < worst.r) worst = x; }
    if (best.r > worst.r && best.c !== worst.c) out.push({ prompt: ex.prompt, chosen: best.c, rejected: worst.c, scoreChosen: best.r, scoreRejected: worst.r });
  });
  return out;
}

/**
 * QRPO's data from a task: for each prompt, n reference completions sampled from π_ref (temperature 1) scored by the
 * task reward give ref_rewards; the training completions are the first m of those samples plus the task's answer.
 */
export function qrpoTaskData(ref: CausalLM, tok: SeqTokenizer & Parameters<typeof sampleGroups>[1], task: Task, examples: { prompt: string; answer: string }[], n: number, m: number, maxNewTokens: number, rng: Rng, withAnswer: boolean): QrpoRecord[] {
  const g = sampleGroups(ref as Parameters<typeof sampleGroups>[0], tok, examples.map((e) => e.prompt), n, { maxNewTokens, temperature: 1, rng }, 64 * n);
  const out: QrpoRecord[] = [];
  examples.forEach((ex, j) => {
    const te = taskExample(task, ex.prompt, ex.answer);
    const refRewards = g.texts[j].map((c, s) => task.reward(te, c, g.finished[j][s]).score);
    const comps = g.texts[j].slice(0, m).map((c, s) => ({ c, r: refRewards[s] }));
    if (withAnswer && ex.answer) comps.push({ c: ex.answer, r: task.reward(te, ex.answer, true).score });
    for (const x of comps) out.push({ prompt: ex.prompt, completion: x.c, reward: x.r, refRewards });
  });
  return out;
}

// ---- the trainer -----------------------------------------------------------------------------------------------------

interface Item { prompt: string; completion: string; seq: EncodedSeq }
interface PairItem { id: string; chosen: Item; rejected: Item }
interface QrpoItem { id: string; item: Item; reward: number; quantile: number }

export interface OfflineStepResult {
  metrics: Record<string, number>;
  tokens?: number;
  trace?: { samples: RolloutSampleInput[]; arrays: Record<string, number[]>[]; groups: RolloutGroup[] };
}

export interface OfflineTrainerOptions {
  method: OfflineMethod;
  hp: OfflineHyper;
  policy: CausalLM;
  tokenizer: SeqTokenizer & Parameters<typeof sampleGroups>[1];
  seed: number;
  /** tdpo: pairs; qrpo: records; spin: real demonstrations */
  train: PairRecord[] | QrpoRecord[] | SpinRecord[];
  eval?: PairRecord[] | QrpoRecord[];
  /** frozen reference (tdpo, qrpo) / opponent (spin: its weights are refreshed each iteration); default: a clone */
  reference?: CausalLM;
  optimizer?: AdamW;
  lrAt?: (step: number) => number;
  traceStep?: (step: number) => boolean;
  writeTrace?: (step: number, header: RolloutStepHeaderInput, samples: RolloutSampleInput[], arrays: Record<string, number[]>[]) => void;
  onStep?: (step: number, metrics: Record<string, number>, tokens?: number) => void;
  onEval?: (step: number, metrics: Record<string, number>) => void;
  /** spin: called at the end of each iteration (the engine writes a checkpoint) */
  onIteration?: (iteration: number, step: number, info: Record<string, number>) => void;
  shouldStop?: () => boolean;
  log?: (msg: string) => void;
}

function mean(a: ArrayLike<number>): number { let s = 0; for (let i = 0; i < a.length; i++) s += a[i]; return a.length ? s / a.length : NaN; }

/** Row b's completion columns of a [B, T−1] host matrix. */
function cols(m: Float32Array, b: number, s: EncodedSeq, T: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) out.push(m[b * (T - 1) + s.promptLen - 1 + i]);
  return out;
}

export class OfflineTrainer {
  readonly method: OfflineMethod;
  readonly hp: OfflineHyper;
  readonly ref: CausalLM;
  private ownRef: boolean;
  private ownOpt: boolean;
  private opt: AdamW;
  private rng: Rng;
  private pairs: PairItem[] = [];
  private evalPairs: PairItem[] = [];
  private qitems: QrpoItem[] = [];
  private evalQitems: QrpoItem[] = [];
  private real: SpinRecord[] = [];
  private logZ = 0;
  step = 0;
  iteration = 0;
  /** spin: share of the current iteration's generations equal to the real completion */
  identicalFrac = NaN;

  constructor(private readonly o: OfflineTrainerOptions) {
    this.method = o.method;
    this.hp = o.hp;
    const ctxLen = o.policy.config.contextLength;
    if (o.method === 'tdpo') {
      this.pairs = this.encodePairs(o.train as PairRecord[], 'p');
      this.evalPairs = this.encodePairs((o.eval ?? []) as PairRecord[], 'e');
      if (!this.pairs.length) throw new Error('tdpo: no training pairs');
    } else if (o.method === 'qrpo') {
      this.logZ = QR.quantileLogPartition(o.hp.beta, o.hp.logZ);
      this.qitems = this.encodeQrpo(o.train as QrpoRecord[], 'q');
      this.evalQitems = this.encodeQrpo((o.eval ?? []) as QrpoRecord[], 'eq');
      if (!this.qitems.length) throw new Error('qrpo: no training completions');
    } else {
      this.real = (o.train as SpinRecord[]).filter((r) => {
        try { encodeSeq(o.tokenizer, r.prompt, r.completion, ctxLen, r.source); return true; } catch (e) { throw new Error(`spin: ${(e as Error).message}`); }
      });
      if (!this.real.length) throw new Error('spin: no real (SFT) demonstrations');
    }
    this.ref = o.reference ?? o.policy.clone(false);
    this.ownRef = !o.reference;
    this.opt = o.optimizer ?? new AdamW(o.policy.trainableVariables(), {});
    this.ownOpt = !o.optimizer;
    this.rng = new Rng(o.seed ^ 0x51a7e0f1);
  }

  dispose(): void { if (this.ownRef) this.ref.dispose(); if (this.ownOpt) this.opt.dispose(); }

  private encodePairs(records: PairRecord[], prefix: string): PairItem[] {
    const ctx = this.o.policy.config.contextLength, tok = this.o.tokenizer;
    return records.map((r, i) => ({
      id: `${prefix}${i}`,
      chosen: { prompt: r.prompt, completion: r.chosen, seq: encodeSeq(tok, r.prompt, r.chosen, ctx, r.source, 'chosen') },
      rejected: { prompt: r.prompt, completion: r.rejected, seq: encodeSeq(tok, r.prompt, r.rejected, ctx, r.source, 'rejected') },
    }));
  }

  private encodeQrpo(records: QrpoRecord[], prefix: string): QrpoItem[] {
    const ctx = this.o.policy.config.contextLength, tok = this.o.tokenizer;
    const q = QR.quantileRewards(records.map((r) => r.reward), records.map((r) => r.refRewards));
    return records.map((r, i) => ({ id: `${prefix}${i}`, reward: r.reward, quantile: q[i], item: { prompt: r.prompt, completion: r.completion, seq: encodeSeq(tok, r.prompt, r.completion, ctx, r.source) } }));
  }

  private lr(step: number): number { return this.o.lrAt ? this.o.lrAt(step) : this.hp.lr; }

  private sample<T>(xs: T[], n: number): T[] {
    const out: T[] = [];
    for (let i = 0; i < Math.min(n, xs.length); i++) out.push(xs[this.rng.int(xs.length)]);
    return out;
  }

  /** One optimizer step on lossFn (clip by global norm, the engine's / own AdamW). Returns the gradient norm. */
  private update(lossFn: () => tf.Scalar): number {
    const { value, grads } = tf.variableGrads(lossFn, this.o.policy.trainableVariables());
    value.dispose();
    const c = clipByGlobalNorm(grads, this.hp.maxGradNorm);
    tf.dispose(grads);
    if (!Number.isFinite(c.norm)) { tf.dispose(c.grads); throw new Error(`${this.method}: non-finite gradient norm at step ${this.step}`); }
    this.opt.apply(c.grads, this.lr(this.step));
    tf.dispose(c.grads);
    return c.norm;
  }

  private run2(update: boolean, lossFn: () => tf.Scalar): number {
    if (update) return this.update(lossFn);
    tf.tidy(() => { lossFn(); });
    return NaN;
  }

  // ---- TDPO: pairs, logits forward (sequential KL) ---------------------------------------------------------------

  private tdpoStep(pairs: PairItem[], update: boolean, trace: boolean): OfflineStepResult {
    const B = pairs.length;
    const batch = makeBatch([...pairs.map((p) => p.chosen.seq), ...pairs.map((p) => p.rejected.seq)], this.o.tokenizer.pad);
    const keep: Record<string, tf.Tensor> = {};
    const refLogits = tf.tidy(() => this.ref.forward(batch.ids).logits);
    try {
      const lossFn = (): tf.Scalar => {
        const logits = this.o.policy.forward(batch.ids).logits;                       // [2B, T, V]
        const r = TD.tdpoBatchLogps(logits, refLogits, batch.ids, batch.mask);
        const c = (x: tf.Tensor1D) => tf.slice(x, [0], [B]) as tf.Tensor1D, j = (x: tf.Tensor1D) => tf.slice(x, [B], [B]) as tf.Tensor1D;
        const out = TD.tdpoLoss(c(r.logpsMargin), j(r.logpsMargin), c(r.positionKl), j(r.positionKl), this.hp.beta, this.hp.alpha, this.hp.tdpo2);
        const loss = tf.mean(out.losses) as tf.Scalar;
        Object.assign(keep, {
          loss: tf.keep(tf.clone(loss)), chosenRewards: tf.keep(out.chosenRewards), rejectedRewards: tf.keep(out.rejectedRewards),
          kl: tf.keep(r.positionKl), margin: tf.keep(r.logpsMargin), logps: tf.keep(r.logps),
          perKl: tf.keep(r.perPositionKl), perLp: tf.keep(r.perTokenLogps), perRef: tf.keep(r.perTokenRefLogps),
        });
        return loss;
      };
      const gradNorm = this.run2(update, lossFn);
      const h = (k: string) => keep[k].dataSync() as Float32Array;
      const rc = h('chosenRewards'), rr = h('rejectedRewards'), kl = h('kl'), lp = h('logps'), mg = h('margin');
      const m: Record<string, number> = {
        loss: h('loss')[0],
        'rewards/chosen': mean(rc), 'rewards/rejected': mean(rr),
        'rewards/margins': mean(rc.map((v, i) => v - rr[i])), 'rewards/accuracies': mean(rc.map((v, i) => (v > rr[i] ? 1 : 0))),
        'kl/chosen': mean(kl.slice(0, B)), 'kl/rejected': mean(kl.slice(B)), 'kl/margin': mean(kl.slice(0, B).map((v, i) => v - kl[B + i])),
        'logps/chosen': mean(lp.slice(0, B)), 'logps/rejected': mean(lp.slice(B)),
        'logps/chosen_vs_ref': mean(mg.slice(0, B)), 'logps/rejected_vs_ref': mean(mg.slice(B)),
      };
      if (update) { m.grad_norm = gradNorm; m.learning_rate = this.lr(this.step); }
      if (!Number.isFinite(m.loss)) throw new Error(`tdpo: loss is ${m.loss} at step ${this.step}`);
      let tr: OfflineStepResult['trace'];
      if (trace) {
        const extra = { seq_kl: h('perKl') };
        tr = this.pairTrace(pairs, batch, h('perLp'), h('perRef'), extra, ['chosen', 'rejected'], (i, role) => (role === 0 ? rc[i] : rr[i]), (i, role) => ({ seq_kl: kl[role * B + i], logps_margin: mg[role * B + i] }));
      }
      return { metrics: m, trace: tr, tokens: batch.seqs.reduce((a, q) => a + q.ids.length, 0) };
    } finally {
      tf.dispose(Object.values(keep));
      refLogits.dispose();
      disposeBatch(batch);
    }
  }

  /**
   * Rows of a pair batch (first B rows one role, next B the other) as rollout samples, one group per pair.
   * Per token: logprob, ref_logprob, implicit_reward = β(log π − log π_ref), mask, + `extra` arrays ([2B, T−1] host).
   */
  private pairTrace(pairs: PairItem[], batch: SeqBatch, lp: Float32Array, ref: Float32Array, extra: Record<string, Float32Array>, roles: [string, string], reward: (i: number, role: number) => number, parts: (i: number, role: number) => Record<string, number>): OfflineStepResult['trace'] {
    const B = pairs.length, T = batch.T, beta = this.hp.beta, tok = this.o.tokenizer;
    const n = Math.min(this.hp.tracePairs, B);
    const samples: RolloutSampleInput[] = [], arrays: Record<string, number[]>[] = [], groups: RolloutGroup[] = [];
    for (let i = 0; i < n; i++) {
      const rewards: number[] = [];
      for (let role = 0; role < 2; role++) {
        const item = role === 0 ? pairs[i].chosen : pairs[i].rejected, s = item.seq, row = role * B + i;
        const logprob = cols(lp, row, s, T), refLp = cols(ref, row, s, T);
        const imp = logprob.map((v, t) => beta * (v - refLp[t]));
        const r = reward(i, role);
        rewards.push(r);
        samples.push({
          group: pairs[i].id, pair: pairs[i].id, role: roles[role], prompt: item.prompt, completion: item.completion,
          tokens: tok.display(s.ids.slice(s.promptLen, s.promptLen + s.length)), tokenIds: s.ids.slice(s.promptLen, s.promptLen + s.length),
          reward: r, rewardParts: { implicit_reward: imp.reduce((a, b) => a + b, 0), ...parts(i, role) }, length: s.length,
        });
        const a: Record<string, number[]> = { logprob, ref_logprob: refLp, implicit_reward: imp, mask: imp.map(() => 1) };
        for (const [k, v] of Object.entries(extra)) a[k] = cols(v, row, s, T);
        arrays.push(a);
      }
      groups.push({ id: pairs[i].id, prompt: pairs[i].chosen.prompt, samples: [2 * i, 2 * i + 1], rewards, mean: (rewards[0] + rewards[1]) / 2, std: Math.abs(rewards[0] - rewards[1]) / 2, margin: rewards[0] - rewards[1] });
    }
    return { samples, arrays, groups };
  }

  // ---- QRPO: single completions, quantile reward, regression ------------------------------------------------------

  private qrpoStep(items: QrpoItem[], update: boolean, trace: boolean): OfflineStepResult {
    const batch = makeBatch(items.map((x) => x.item.seq), this.o.tokenizer.pad);
    const keep: Record<string, tf.Tensor> = {};
    const refR = completionLogps(this.ref, batch);
    const q = tf.tensor1d(items.map((x) => x.quantile), 'float32');
    try {
      const lossFn = (): tf.Scalar => {
        const { sum, perToken } = completionLogps(this.o.policy, batch);
        const out = QR.qrpoLoss(sum, refR.sum, q, this.hp.beta, this.logZ);
        const loss = tf.mean(out.losses) as tf.Scalar;
        Object.assign(keep, { loss: tf.keep(tf.clone(loss)), implied: tf.keep(out.impliedRewards), logps: tf.keep(sum), perLp: tf.keep(perToken), losses: tf.keep(out.losses) });
        return loss;
      };
      const gradNorm = this.run2(update, lossFn);
      const h = (k: string) => keep[k].dataSync() as Float32Array;
      const implied = h('implied'), qs = items.map((x) => x.quantile), target = qs.map((v) => v - this.hp.beta * this.logZ);
      const m: Record<string, number> = {
        loss: h('loss')[0],
        'qrpo/quantile_reward': mean(qs), 'qrpo/reward': mean(items.map((x) => x.reward)),
        'qrpo/implied_reward': mean(implied), 'qrpo/target': mean(target),
        'qrpo/residual': mean(Array.from(implied).map((v, i) => target[i] - v)),
        'logps/policy': mean(h('logps')), 'logps/vs_ref': mean(Array.from(implied).map((v) => v / this.hp.beta)),
        // does the policy's implied reward order completions as the quantile reward does? (Pearson over the batch)
        'qrpo/implied_vs_quantile_corr': pearson(Array.from(implied), qs),
      };
      if (update) { m.grad_norm = gradNorm; m.learning_rate = this.lr(this.step); }
      if (!Number.isFinite(m.loss)) throw new Error(`qrpo: loss is ${m.loss} at step ${this.step}`);
      let tr: OfflineStepResult['trace'];
      if (trace) tr = this.qrpoTrace(items, batch, h('perLp'), refR.perToken.dataSync() as Float32Array, implied);
      return { metrics: m, trace: tr, tokens: batch.seqs.reduce((a, s) => a + s.ids.length, 0) };
    } finally {
      tf.dispose(Object.values(keep));
      tf.dispose([refR.sum, refR.perToken, q]);
      disposeBatch(batch);
    }
  }

  /** QRPO traces: one group per prompt of the batch; sample reward = quantile reward R_q (parts: absolute reward, implied). */
  private qrpoTrace(items: QrpoItem[], batch: SeqBatch, lp: Float32Array, ref: Float32Array, implied: Float32Array): OfflineStepResult['trace'] {
    const n = Math.min(this.hp.tracePairs, items.length), T = batch.T, beta = this.hp.beta, tok = this.o.tokenizer;
    const samples: RolloutSampleInput[] = [], arrays: Record<string, number[]>[] = [];
    const byPrompt = new Map<string, number[]>();
    for (let i = 0; i < n; i++) {
      const it = items[i], s = it.item.seq;
      const logprob = cols(lp, i, s, T), refLp = cols(ref, i, s, T);
      const imp = logprob.map((v, t) => beta * (v - refLp[t]));
      const gid = `q:${it.item.prompt}`;
      if (!byPrompt.has(gid)) byPrompt.set(gid, []);
      byPrompt.get(gid)!.push(i);
      samples.push({
        group: gid, prompt: it.item.prompt, completion: it.item.completion,
        tokens: tok.display(s.ids.slice(s.promptLen, s.promptLen + s.length)), tokenIds: s.ids.slice(s.promptLen, s.promptLen + s.length),
        reward: it.quantile, rewardParts: { quantile_reward: it.quantile, reward: it.reward, implied_reward: implied[i], target: it.quantile - beta * this.logZ }, length: s.length,
      });
      arrays.push({ logprob, ref_logprob: refLp, implicit_reward: imp, mask: imp.map(() => 1) });
    }
    const groups: RolloutGroup[] = [...byPrompt.entries()].map(([id, idx]) => {
      const rw = idx.map((i) => items[i].quantile), mu = mean(rw);
      return { id, prompt: items[idx[0]].item.prompt, samples: idx, rewards: rw, mean: mu, std: Math.sqrt(mean(rw.map((v) => (v - mu) ** 2))) };
    });
    return { samples, arrays, groups };
  }

  // ---- SPIN: real vs the opponent's generations, iterations ---------------------------------------------------------

  /** Start of an iteration: the opponent becomes the current policy and generates y' for every real prompt. */
  private spinGenerate(): PairItem[] {
    this.ref.copyWeightsFrom(this.o.policy);
    const rng = new Rng((this.o.seed ^ 0x5b1d) + 7919 * this.iteration);
    const g = sampleGroups(this.ref as Parameters<typeof sampleGroups>[0], this.o.tokenizer, this.real.map((r) => r.prompt), 1, { maxNewTokens: this.hp.maxNewTokens, temperature: this.hp.temperature, rng }, 256);
    const ctx = this.o.policy.config.contextLength, tok = this.o.tokenizer;
    const out: PairItem[] = [];
    let same = 0;
    this.real.forEach((r, i) => {
      const gen = g.texts[i][0];
      if (gen === r.completion) same++;
      let gseq: EncodedSeq;
      try { gseq = encodeSeq(tok, r.prompt, gen, ctx); } catch { return; } // a generation that does not fit with its EOS is dropped
      out.push({ id: `it${this.iteration}_${i}`, chosen: { prompt: r.prompt, completion: r.completion, seq: encodeSeq(tok, r.prompt, r.completion, ctx, r.source) }, rejected: { prompt: r.prompt, completion: gen, seq: gseq } });
    });
    this.identicalFrac = same / this.real.length;
    this.o.log?.(`spin: iteration ${this.iteration}: opponent = the policy at step ${this.step}; ${out.length} (real, generated) pairs, ${(100 * this.identicalFrac).toFixed(1)}% of generations equal the real completion`);
    return out;
  }

  private spinStep(pairs: PairItem[], update: boolean, trace: boolean): OfflineStepResult {
    const B = pairs.length;
    const batch = makeBatch([...pairs.map((p) => p.chosen.seq), ...pairs.map((p) => p.rejected.seq)], this.o.tokenizer.pad);
    const keep: Record<string, tf.Tensor> = {};
    const opp = completionLogps(this.ref, batch);
    try {
      const lossFn = (): tf.Scalar => {
        const { sum, perToken } = completionLogps(this.o.policy, batch);
        const sl = (x: tf.Tensor1D, o: number) => tf.slice(x, [o], [B]) as tf.Tensor1D;
        const out = SP.spinLoss(sl(sum, 0), sl(sum, B), sl(opp.sum, 0), sl(opp.sum, B), this.hp.beta, this.hp.lossType);
        const loss = tf.mean(out.losses) as tf.Scalar;
        Object.assign(keep, { loss: tf.keep(tf.clone(loss)), rr: tf.keep(out.realRewards), rg: tf.keep(out.generatedRewards), logps: tf.keep(sum), perLp: tf.keep(perToken) });
        return loss;
      };
      const gradNorm = this.run2(update, lossFn);
      const h = (k: string) => keep[k].dataSync() as Float32Array;
      const rr = h('rr'), rg = h('rg'), lp = h('logps');
      const m: Record<string, number> = {
        loss: h('loss')[0],
        'rewards/real': mean(rr), 'rewards/generated': mean(rg),
        'rewards/margins': mean(rr.map((v, i) => v - rg[i])), 'rewards/accuracies': mean(rr.map((v, i) => (v > rg[i] ? 1 : 0))),
        'logps/real': mean(lp.slice(0, B)), 'logps/generated': mean(lp.slice(B)),
        'spin/iteration': this.iteration, 'spin/identical_frac': this.identicalFrac,
      };
      if (update) { m.grad_norm = gradNorm; m.learning_rate = this.lr(this.step); }
      if (!Number.isFinite(m.loss)) throw new Error(`spin: loss is ${m.loss} at step ${this.step}`);
      let tr: OfflineStepResult['trace'];
      if (trace) tr = this.pairTrace(pairs, batch, h('perLp'), opp.perToken.dataSync() as Float32Array, {}, ['real', 'generated'], (i, role) => (role === 0 ? rr[i] : rg[i]), () => ({}));
      return { metrics: m, trace: tr, tokens: batch.seqs.reduce((a, s) => a + s.ids.length, 0) };
    } finally {
      tf.dispose(Object.values(keep));
      tf.dispose([opp.sum, opp.perToken]);
      disposeBatch(batch);
    }
  }

  // ---- loop ----------------------------------------------------------------------------------------------------------

  private spinPairs: PairItem[] = [];

  /** Steps per SPIN iteration (the last may be shorter). */
  get stepsPerIteration(): number { return Math.max(1, Math.ceil(this.hp.steps / this.hp.iterations)); }

  trainStep(): OfflineStepResult {
    if (this.method === 'spin' && this.step % this.stepsPerIteration === 0) {
      this.iteration = Math.floor(this.step / this.stepsPerIteration);
      this.spinPairs = this.spinGenerate();
      if (!this.spinPairs.length) throw new Error('spin: no (real, generated) pair fits model.contextLength');
    }
    this.step++;
    const step = this.step;
    const trace = this.o.traceStep ? this.o.traceStep(step) : this.hp.traceEvery > 0 && (step === 1 || step % this.hp.traceEvery === 0);
    const bs = this.hp.batchSize;
    const r = this.method === 'tdpo' ? this.tdpoStep(this.sample(this.pairs, bs), true, trace)
      : this.method === 'qrpo' ? this.qrpoStep(this.sample(this.qitems, bs), true, trace)
        : this.spinStep(this.sample(this.spinPairs, bs), true, trace);
    if (trace && r.trace) {
      const arrays = ['logprob', 'ref_logprob', 'implicit_reward', 'mask', ...(this.method === 'tdpo' ? ['seq_kl'] : [])];
      const params: Record<string, string | number | boolean> = { beta: this.hp.beta };
      if (this.method === 'tdpo') Object.assign(params, { alpha: this.hp.alpha, variant: this.hp.tdpo2 ? 'TDPO2' : 'TDPO1' });
      if (this.method === 'qrpo') Object.assign(params, { logZ: this.logZ, logZMode: this.hp.logZ });
      if (this.method === 'spin') Object.assign(params, { iteration: this.iteration, lambda: this.hp.beta, opponent: `policy at step ${this.iteration * this.stepsPerIteration}` });
      const header: RolloutStepHeaderInput = { step, algorithm: this.method, arrays, groups: r.trace.groups, params };
      this.o.writeTrace?.(step, header, r.trace.samples, r.trace.arrays);
    }
    if (this.method === 'spin' && (step % this.stepsPerIteration === 0 || step === this.hp.steps)) {
      this.o.onIteration?.(this.iteration, step, { 'spin/identical_frac': this.identicalFrac });
    }
    return r;
  }

  get evalSize(): number { return this.method === 'tdpo' ? this.evalPairs.length : this.method === 'qrpo' ? this.evalQitems.length : 0; }

  /** Held-out method metrics (tdpo: pairs, qrpo: completions; spin has none: its held-out measure is ctx.evaluate). */
  evaluate(): Record<string, number> {
    const bs = Math.max(1, this.hp.batchSize);
    const acc: Record<string, [number, number][]> = {};
    const add = (m: Record<string, number>, w: number) => { for (const [k, v] of Object.entries(m)) (acc[k] ??= []).push([v, w]); };
    if (this.method === 'tdpo') for (let i = 0; i < this.evalPairs.length; i += bs) { const p = this.evalPairs.slice(i, i + bs); add(this.tdpoStep(p, false, false).metrics, p.length); }
    if (this.method === 'qrpo') for (let i = 0; i < this.evalQitems.length; i += bs) { const p = this.evalQitems.slice(i, i + bs); add(this.qrpoStep(p, false, false).metrics, p.length); }
    const out: Record<string, number> = {};
    for (const [k, v] of Object.entries(acc)) {
      let s = 0, w = 0;
      for (const [x, n] of v) if (Number.isFinite(x)) { s += x * n; w += n; }
      out[`eval/${k}`] = w ? s / w : NaN;
    }
    return out;
  }

  /** All steps; yields after each (drain with ./stepper.ts). */
  *steps(): Generator<number, { before: Record<string, number>; after: Record<string, number>; steps: number }> {
    const before = this.evalSize ? this.evaluate() : {};
    if (this.evalSize) this.o.onEval?.(0, before);
    let after = before;
    while (this.step < this.hp.steps) {
      if (this.o.shouldStop?.()) break;
      const r = this.trainStep();
      this.o.onStep?.(this.step, r.metrics, r.tokens);
      const last = this.step === this.hp.steps;
      if (this.evalSize && ((this.hp.evalEvery > 0 && this.step % this.hp.evalEvery === 0) || last)) {
        after = this.evaluate();
        this.o.onEval?.(this.step, after);
      }
      yield this.step;
    }
    return { before, after, steps: this.step };
  }
}

function pearson(a: number[], b: number[]): number {
  const ma = mean(a), mb = mean(b);
  let sab = 0, saa = 0, sbb = 0;
  for (let i = 0; i < a.length; i++) { sab += (a[i] - ma) * (b[i] - mb); saa += (a[i] - ma) ** 2; sbb += (b[i] - mb) ** 2; }
  return saa > 0 && sbb > 0 ? sab / Math.sqrt(saa * sbb) : NaN;
}

// ---- the algorithm modules -----------------------------------------------------------------------------------------

function offlineSchema(method: OfflineMethod): Record<string, unknown> {
  const s = sectionSchema(OFFLINE_FIELDS, { withDefaults: true, algorithm: method }) as { properties: Record<string, unknown> };
  s.properties.data = OFFLINE_DATA_SCHEMA;
  return s;
}

/** Supervised warm start (character model, no init.checkpoint): as the RL algorithms' rl.warmStart. */
async function warmStart(ctx: TrainContext, method: OfflineMethod, steps: number, demoNoise: number): Promise<boolean> {
  if (steps <= 0 || ctx.config.model.pretrained || ctx.config.init?.checkpoint) return true;
  const { tokenizer } = charModel(ctx, `${method} warm start`);
  ctx.log(`${method}: supervised warm start first (${steps} steps, demoNoise ${demoNoise}); the reference is then the warm-started policy`);
  const opt = new AdamW(ctx.policy.trainableVariables(), { beta1: ctx.config.train.beta1, beta2: ctx.config.train.beta2, eps: ctx.config.train.eps });
  const rng = ctx.rng.fork(11);
  try {
    for (let s = 0; s < steps; s++) {
      const b = sftBatch(ctx.task, tokenizer, rng, 64, ctx.config.derived.sequenceLength, demoNoise, 1);
      const loss = sftStep({ policy: ctx.policy, optimizer: opt, config: ctx.config }, b, 0.003 * Math.min(1, (s + 1) / Math.max(1, Math.min(20, steps / 10)))).loss;
      if (!Number.isFinite(loss)) throw new Error(`${method}: warm start diverged (loss ${loss})`);
      if ((s + 1) % 5 === 0 || s === steps - 1) ctx.phase('warm start', s + 1, steps, `warm start ${s + 1}/${steps}: loss ${loss.toFixed(4)}`);
      await ctx.yield();
      if (ctx.stopRequested()) return false;
    }
  } finally { opt.dispose(); }
  ctx.reference!.copyWeightsFrom(ctx.policy);
  ctx.checkpoint(0, 'sft');
  return true;
}

/** The method's training and held-out data (see OFFLINE_DATA_SCHEMA). */
function resolveData(ctx: TrainContext, method: OfflineMethod, sec: Record<string, unknown>): { train: PairRecord[] | QrpoRecord[] | SpinRecord[]; eval: PairRecord[] | QrpoRecord[] } {
  const d = (sec.data ?? {}) as DataSection;
  const seed = d.seed ?? 7, count = d.count ?? 128, evalCount = d.evalCount ?? 32;
  const tok = ctx.tokenizer as unknown as SeqTokenizer & Parameters<typeof sampleGroups>[1];
  const maxNew = ctx.config.derived.maxNewTokens;
  const split = <T extends { prompt: string }>(records: T[], evalRecords?: T[]): { train: T[]; eval: T[] } => {
    if (evalRecords) return { train: records, eval: evalRecords };
    if ((d.evalFraction ?? 0.1) > 0) return splitByPrompt(records, d.evalFraction ?? 0.1, ctx.config.seed);
    return { train: records, eval: [] };
  };
  if (d.path) {
    const file = resolvePath(d.path);
    if (method === 'tdpo') {
      const load = (f: string) => {
        const r = loadPreferenceFile(f, { expect: 'pairwise', allowBadLines: Boolean(d.allowBadLines) });
        if (r.problems.length) ctx.warn(`data: skipped ${r.counts.badLines} bad line(s) of ${f}; first: ${formatProblem(r.problems[0])}`, 'bad_data_lines');
        return r.records as PairRecord[];
      };
      const s = split(load(file), d.evalPath ? load(resolvePath(d.evalPath)) : undefined);
      ctx.log(`data: ${s.train.length} train / ${s.eval.length} held-out pairs from ${file}`);
      return s;
    }
    if (method === 'qrpo') {
      const s = split(loadQrpoFile(file), d.evalPath ? loadQrpoFile(resolvePath(d.evalPath)) : undefined);
      ctx.log(`data: ${s.train.length} train / ${s.eval.length} held-out completions with rewards from ${file}`);
      return s;
    }
    const real = loadSpinFile(file);
    ctx.log(`data: ${real.length} real (SFT) demonstrations from ${file}`);
    return { train: real, eval: [] };
  }
  const tr = taskExamples(ctx.task, count, seed, 'train').examples, ev = taskExamples(ctx.task, evalCount, seed, 'eval').examples;
  if (method === 'spin') {
    if (tr.some((e) => !e.answer)) throw new Error(`spin.data.path: task ${ctx.task.name} has no reference answers to use as real demonstrations: give SFT demonstrations as JSONL {"prompt", "completion"}`);
    ctx.log(`data: ${tr.length} real demonstrations (the task's answers to its train prompts)`);
    return { train: tr.map((e) => ({ prompt: e.prompt, completion: e.answer })), eval: [] };
  }
  const rng = new Rng(seed ^ 0x0ff1);
  if (method === 'qrpo') {
    const n = (sec.refSamples as number) ?? 8, m = (sec.trainSamples as number) ?? 4;
    const withAnswer = !ctx.config.model.pretrained && ((sec.includeAnswer as boolean) ?? true);
    const train = qrpoTaskData(ctx.reference!, tok, ctx.task, tr, n, m, maxNew, rng, withAnswer);
    const evalR = qrpoTaskData(ctx.reference!, tok, ctx.task, ev, n, m, maxNew, rng, withAnswer);
    ctx.log(`data: built from task ${ctx.task.name}: ${tr.length} prompts × (${m} reference samples${withAnswer ? ' + the answer' : ''}), each scored by the task reward; quantiles against ${n} reference samples per prompt (π_ref = the starting policy, temperature 1)`);
    return { train: filterFits(ctx, train), eval: filterFits(ctx, evalR) };
  }
  const source = (sec.source as string) ?? 'synthetic';
  if (source === 'synthetic') {
    if (ctx.config.model.pretrained) throw new Error('tdpo.source: "synthetic" pairs are made for the character model; use "policy" (pairs of the model\'s own samples ranked by the task reward) or data.path with a pretrained model');
    const b = builtinPreferenceData(ctx.task, 'pairwise', { count, evalCount, k: 4, flipProb: 0, seed });
    ctx.log(`data: built-in synthetic pairs for task ${ctx.task.name}: ${b.train.length} train / ${b.eval.length} held-out`);
    return { train: b.train as PairRecord[], eval: b.eval as PairRecord[] };
  }
  const k = (sec.samplesPerPrompt as number) ?? 4;
  const train = policyPairs(ctx.reference!, tok, ctx.task, tr, k, maxNew, rng), evalP = policyPairs(ctx.reference!, tok, ctx.task, ev, k, maxNew, rng);
  ctx.log(`data: pairs of the starting policy's own samples (${k} per prompt, best vs worst by the task reward): ${train.length} train / ${evalP.length} held-out`);
  return { train: filterFits(ctx, train), eval: filterFits(ctx, evalP) };
}

/** Drop sampled records that do not fit the context with BOS/EOS (a sample cut at maxNewTokens may not). */
function filterFits<T extends { prompt: string }>(ctx: TrainContext, records: T[]): T[] {
  const tok = ctx.tokenizer as unknown as SeqTokenizer, L = ctx.policy.config.contextLength;
  const fits = (p: string, c: string) => { try { encodeSeq(tok, p, c, L); return true; } catch { return false; } };
  const out = records.filter((r) => {
    const x = r as unknown as { completion?: string; chosen?: string; rejected?: string };
    return x.completion !== undefined ? fits(r.prompt, x.completion) : fits(r.prompt, x.chosen!) && fits(r.prompt, x.rejected!);
  });
  if (out.length < records.length) ctx.log(`data: dropped ${records.length - out.length} sampled record(s) that do not fit model.contextLength with BOS/EOS`);
  return out;
}

const SUMMARY: Record<OfflineMethod, string> = {
  tdpo: 'Token-level DPO (TDPO1 / TDPO2): DPO with sequential per-token KL(π_ref‖π_θ) terms',
  qrpo: 'Quantile Reward Policy Optimization: pointwise regression on quantile rewards with the analytic partition function',
  spin: 'Self-Play fIne-tuNing: real demonstrations vs the previous iteration\'s own generations, several iterations per run',
};

function offlineModule(method: OfflineMethod): AlgorithmModule {
  return {
    name: method,
    kind: 'preference',
    summary: SUMMARY[method],
    configSchema: offlineSchema(method),
    defaults: () => ({}),
    needsReference: true,
    async run(ctx: TrainContext) {
      const sec = ctx.section as Record<string, unknown>;
      const ok = await warmStart(ctx, method, (sec.warmStartSteps as number) ?? 0, (sec.warmStartDemoNoise as number) ?? 0.3);
      if (!ok) { ctx.log(`${method}: stopped during the warm start`); return; }
      const data = resolveData(ctx, method, sec);
      // pass@k of the starting policy (after the warm start), the baseline of what the method changes
      if (ctx.config.eval.atStart && ctx.config.eval.every > 0) ctx.evaluate(0);
      const t = ctx.config.train;
      const def = offlineDefaults(method);
      const hp: OfflineHyper = {
        ...def,
        beta: (sec.beta as number) ?? def.beta, alpha: (sec.alpha as number) ?? def.alpha, tdpo2: (sec.tdpo2 as boolean) ?? def.tdpo2,
        logZ: (sec.logZ as QR.QrpoLogZ) ?? def.logZ, iterations: (sec.iterations as number) ?? def.iterations, lossType: (sec.lossType as SP.SpinLossType) ?? def.lossType,
        lr: t.lr, batchSize: t.batchSize, steps: ctx.totalSteps, maxGradNorm: t.gradClip,
        evalEvery: (sec.evalEvery as number) ?? def.evalEvery, traceEvery: 0, tracePairs: (sec.tracePairs as number) ?? def.tracePairs,
        temperature: ctx.config.sampling.temperature, maxNewTokens: ctx.config.derived.maxNewTokens,
      };
      if (method === 'spin' && ctx.config.model.lora) throw new Error('spin: model.lora: the opponent is refreshed to the current policy every iteration, but with LoRA the reference is the frozen base (adapters off) and cannot be rewritten: run SPIN without model.lora');
      if (method === 'spin' && hp.iterations > hp.steps) throw new Error(`spin.iterations: ${hp.iterations} iterations need at least as many train.steps (got ${hp.steps})`);
      ctx.log({
        tdpo: `tdpo: ${hp.tdpo2 ? `TDPO2 (α ${hp.alpha}, chosen sequential KL detached)` : 'TDPO1'}, β ${hp.beta}; frozen reference = the starting policy`,
        qrpo: `qrpo: β ${hp.beta}, log Z ${QR.quantileLogPartition(hp.beta, hp.logZ).toFixed(6)} (${hp.logZ}); frozen reference = the starting policy`,
        spin: `spin: λ ${hp.beta}, ${hp.iterations} iterations × ${Math.ceil(hp.steps / hp.iterations)} steps, ${hp.lossType} loss; opponent = the policy at the start of each iteration`,
      }[method]);
      let lastEval: { step: number; record: ReturnType<TrainContext['evaluate']> } | undefined;
      const trainer = new OfflineTrainer({
        method, hp, policy: ctx.policy, tokenizer: ctx.tokenizer as unknown as OfflineTrainerOptions['tokenizer'], seed: ctx.config.seed,
        train: data.train, eval: data.eval, reference: ctx.reference as CausalLM, optimizer: ctx.optimizer, lrAt: (s) => ctx.lr(s),
        traceStep: (s) => ctx.traceStep(s),
        writeTrace: (s, h, samples, arrays) => ctx.rollout(s, h, samples, arrays),
        // SPIN: onIteration (inside the step, before onStep) may have evaluated this step already
        onStep: (s, m, tokens) => { ctx.step(s, m, { tokens }); if (ctx.evalStep(s) && lastEval?.step !== s) lastEval = { step: s, record: ctx.evaluate(s) }; },
        onEval: (s, m) => {
          ctx.writer.metrics({ step: s, split: 'eval', values: m });
          const keys = method === 'tdpo' ? ['eval/loss', 'eval/rewards/accuracies', 'eval/rewards/margins', 'eval/kl/chosen', 'eval/kl/rejected'] : ['eval/loss', 'eval/qrpo/implied_vs_quantile_corr', 'eval/qrpo/residual'];
          ctx.log(`${method} held-out (${trainer.evalSize}) step ${s}: ${keys.filter((k) => m[k] !== undefined).map((k) => `${k.slice(5)} ${m[k].toFixed(3)}`).join('  ')}`);
        },
        // a checkpoint per SPIN iteration, with the pass@k of the iteration's final policy (evaluated once per step)
        onIteration: (it, s) => { lastEval = { step: s, record: ctx.evaluate(s) }; ctx.checkpoint(s, `iter${it}`, { eval: lastEval.record }); },
        shouldStop: () => ctx.stopRequested(),
        log: (m) => ctx.log(m),
      });
      try {
        const it = trainer.steps();
        let r: IteratorResult<number, { before: Record<string, number>; after: Record<string, number>; steps: number }>;
        for (r = it.next(); !r.done; r = it.next()) await ctx.yield();
        ctx.writer.updateManifest({ [method]: { before: r.value.before, after: r.value.after, steps: r.value.steps, ...(method === 'spin' ? { iterations: hp.iterations } : {}) } });
      } finally { trainer.dispose(); }
    },
  };
}

for (const m of OFFLINE_METHODS) registerAlgorithm(offlineModule(m));
