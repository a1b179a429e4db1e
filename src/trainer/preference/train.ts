/**
 * Offline preference optimisation: dpo, ipo, kto, orpo, simpo, odpo. One optimizer step = one batch of pairs (or of
 * KTO examples). The math is ../algorithms/preference.ts; this file does batching, reference log-probs, metrics with
 * TRL's names, held-out evaluation and per-token traces (implicit reward β·(log π − log π_ref) per token, written as
 * rollout samples with role chosen/rejected and a pair id, so the heatmaps show DPO runs).
 *
 * Reference model: dpo, ipo, kto and odpo keep a frozen copy of the starting policy (TRL's default when no
 * ref_model is given); orpo and simpo are reference-free and build none.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { CausalLM } from '../model/types';
import type { SeqTokenizer } from './batch';
import { AdamW, clipByGlobalNorm } from '../optim';
import { Rng } from '../rng';
import * as L from '../algorithms/preference';
import type { RunWriter } from '../../runio/writer';
import type { RolloutSampleInput, RolloutGroup, RolloutStepHeaderInput } from '../../shared/runFormat';
import type { PairRecord, UnpairedRecord } from './data';
import { completionLogps, disposeBatch, encodeSeq, makeBatch, withoutEos, type EncodedSeq, type SeqBatch } from './batch';
import { drainSteps, drainStepsAsync, type TrainResult } from './stepper';
import { fieldDefault, type Fields } from '../fields';

export type PreferenceMethod = 'dpo' | 'ipo' | 'kto' | 'orpo' | 'simpo' | 'odpo';
export const PREFERENCE_METHODS: PreferenceMethod[] = ['dpo', 'ipo', 'kto', 'orpo', 'simpo', 'odpo'];

export interface PreferenceHyper {
  /** β: TRL 0.1 for dpo/ipo/kto/orpo/odpo; official SimPO 2.0 */
  beta: number;
  /** cDPO label smoothing ε (dpo, simpo); 0 = off */
  labelSmoothing: number;
  /** IPO log-ratio: 'length' (TRL, default) or 'sum' (OpenRLHF / ODPO repo) */
  ipoNormalize: L.IpoNormalization;
  /** SimPO γ (official 0.5 = γ/β 0.25 × β 2.0) */
  gamma: number;
  /** ODPO α (1.0) and ratio offset (false) */
  alpha: number;
  ratio: boolean;
  /** KTO λ_D, λ_U (1, 1) */
  desirableWeight: number;
  undesirableWeight: number;
  /** NLL-on-chosen weight (Llama 3.1 / RPO, TRL rpo_alpha); 0 = off. Not used by orpo (its NLL is part of the loss). */
  rpoAlpha: number;
  lr: number;
  batchSize: number;
  steps: number;
  maxGradNorm: number;
  weightDecay: number;
  warmupSteps: number;
  /** evaluate on held-out data every N steps (and at the end); 0 = only at the end */
  evalEvery: number;
  /** write per-token traces every N steps (0 = never) for this many pairs */
  traceEvery: number;
  tracePairs: number;
}

/**
 * Every field of the preference methods' sections (config.dpo, config.ipo, …), once: type, default (per-method
 * overrides), meaning and reference. `only`: the methods that have the field. The sections' JSON Schema (index.ts, +
 * the shared `data` part), preferenceDefaults and docs/config.md (scripts/gen-config-docs.ts) are derived from it.
 */
export const PREFERENCE_FIELDS: Fields = {
  beta: { schema: { type: 'number', exclusiveMinimum: 0 }, default: 0.1, byAlgorithm: { simpo: 2.0 }, doc: 'β: scale of the implicit reward (orpo: the paper\'s λ, weight of the odds-ratio term)', ref: 'TRL DPOConfig beta 0.1; official SimPO β 2.0 (docs/references.md#preference); TRL ORPOConfig beta 0.1' },
  rpoAlpha: { schema: { type: 'number', minimum: 0 }, default: 0, doc: 'weight of an NLL term on the chosen completions; 0 = off (orpo has its own NLL term)', ref: 'Llama 3.1 / RPO; TRL DPOConfig rpo_alpha' },
  evalEvery: { schema: { type: 'integer', minimum: 0 }, default: 20, doc: 'held-out preference metrics every N steps (and at the end); 0 = end only' },
  tracePairs: { schema: { type: 'integer', minimum: 1 }, default: 8, doc: 'pairs written per traced step (rollouts.every)' },
  labelSmoothing: { schema: { type: 'number', minimum: 0, maximum: 0.5 }, default: 0, only: ['dpo', 'simpo'], doc: 'label smoothing ε (conservative DPO: the labels are wrong with probability ε); 0 = off', ref: 'cDPO; OpenRLHF label_smoothing; SimPO code; TRL DPOConfig label_smoothing' },
  normalize: { schema: { type: 'string', enum: ['length', 'sum'] }, default: 'length', only: ['ipo'], doc: 'length: log-ratios divided by completion length; sum: summed log-probs', ref: 'TRL (length); OpenRLHF / ODPO repo (sum)' },
  gamma: { schema: { type: 'number', minimum: 0 }, default: 0.5, only: ['simpo'], doc: 'target reward margin γ', ref: 'official SimPO γ/β = 0.25 with β = 2 → 0.5 (docs/references.md#preference)' },
  alpha: { schema: { type: 'number', minimum: 0 }, default: 1, only: ['odpo'], doc: 'offset scale α: the margin must exceed α·log(s_c − s_r)', ref: 'ODPO repo default 1' },
  ratio: { schema: { type: 'boolean' }, default: false, only: ['odpo'], doc: 'offset α·log(s_c/s_r) instead of α·log(s_c − s_r)', ref: 'ODPO paper' },
  desirableWeight: { schema: { type: 'number', minimum: 0 }, default: 1, only: ['kto'], doc: 'λ_D: weight of desirable examples', ref: 'TRL KTOConfig desirable_weight 1' },
  undesirableWeight: { schema: { type: 'number', minimum: 0 }, default: 1, only: ['kto'], doc: 'λ_U: weight of undesirable examples', ref: 'TRL KTOConfig undesirable_weight 1' },
};

/** Defaults per method, from PREFERENCE_FIELDS (+ the standalone defaults of what a run takes from `train`). */
export function preferenceDefaults(method: PreferenceMethod): PreferenceHyper {
  const d = (k: string) => fieldDefault(PREFERENCE_FIELDS[k], method);
  return {
    beta: d('beta') as number, labelSmoothing: d('labelSmoothing') as number, ipoNormalize: d('normalize') as L.IpoNormalization, gamma: d('gamma') as number,
    alpha: d('alpha') as number, ratio: d('ratio') as boolean, desirableWeight: d('desirableWeight') as number, undesirableWeight: d('undesirableWeight') as number,
    rpoAlpha: d('rpoAlpha') as number,
    // a run takes these from the `train` section (index.ts); standalone defaults for direct use (tests)
    lr: 5e-4, batchSize: 16, steps: 60, maxGradNorm: 1, weightDecay: 0, warmupSteps: 0,
    evalEvery: d('evalEvery') as number, traceEvery: 10, tracePairs: d('tracePairs') as number,
  };
}

export function needsReference(method: PreferenceMethod): boolean { return method !== 'orpo' && method !== 'simpo'; }

/** A (prompt, completion) encoded with where it came from. */
interface Item { prompt: string; completion: string; seq: EncodedSeq }
interface PairItem { id: string; chosen: Item; rejected: Item; scoreChosen?: number; scoreRejected?: number }
interface KtoItem { id: string; item: Item; label: boolean }

function eosRule(s: EncodedSeq, eos: boolean | undefined, tok: SeqTokenizer): EncodedSeq { return eos === false ? withoutEos(s, tok) : s; }

export function encodePairs(records: PairRecord[], tok: SeqTokenizer, contextLength: number, method: PreferenceMethod, idPrefix = 'p'): PairItem[] {
  return records.map((r, i) => {
    if (method === 'odpo') {
      const loc = r.source ? `${r.source.file}:${r.source.line}: ` : `pair ${i}: `;
      if (r.scoreChosen === undefined || r.scoreRejected === undefined) throw new Error(`${loc}ODPO needs "score_chosen" and "score_rejected" on every pair (its offset is α·log(s_c − s_r))`);
    }
    return {
      id: `${idPrefix}${i}`,
      // chosenEos / rejectedEos false (Step-DPO's middle steps): the step continues, so no EOS after it
      chosen: { prompt: r.prompt, completion: r.chosen, seq: eosRule(encodeSeq(tok, r.prompt, r.chosen, contextLength, r.source, 'chosen'), r.chosenEos, tok) },
      rejected: { prompt: r.prompt, completion: r.rejected, seq: eosRule(encodeSeq(tok, r.prompt, r.rejected, contextLength, r.source, 'rejected'), r.rejectedEos, tok) },
      scoreChosen: r.scoreChosen, scoreRejected: r.scoreRejected,
    };
  });
}

export function encodeUnpaired(records: UnpairedRecord[], tok: SeqTokenizer, contextLength: number, idPrefix = 'k'): KtoItem[] {
  return records.map((r, i) => ({ id: `${idPrefix}${i}`, label: r.label, item: { prompt: r.prompt, completion: r.completion, seq: encodeSeq(tok, r.prompt, r.completion, contextLength, r.source) } }));
}

/** ODPO: validate the offsets' domain with the pair's location. */
function checkOdpoScores(pairs: PairItem[], ratio: boolean): void {
  for (const p of pairs) {
    const ok = ratio ? p.scoreChosen! > 0 && p.scoreRejected! > 0 : p.scoreChosen! > p.scoreRejected!;
    if (!ok) throw new Error(`${p.id}: ODPO needs ${ratio ? 'positive scores (ratio offset)' : 'score_chosen > score_rejected'}, got ${p.scoreChosen} and ${p.scoreRejected}`);
  }
}

export interface StepResult {
  metrics: Record<string, number>;
  /** tokens processed by the policy's forward pass (for tokens/s) */
  tokens?: number;
  /** per-token traces of the batch (only when requested) */
  trace?: { samples: RolloutSampleInput[]; arrays: Record<string, number[]>[]; groups: RolloutGroup[] };
}

function mean(a: ArrayLike<number>): number { let s = 0; for (let i = 0; i < a.length; i++) s += a[i]; return a.length ? s / a.length : NaN; }

/** Forward pass of a pairwise batch: returns host copies for metrics plus the scalar loss (inside a grad closure). */
function pairwiseLoss(method: PreferenceMethod, hp: PreferenceHyper, policy: CausalLM, batch: SeqBatch, refSum: tf.Tensor1D | undefined, pairs: PairItem[], keep: Record<string, tf.Tensor>): tf.Scalar {
  const B = pairs.length;
  const { sum, perToken } = completionLogps(policy, batch);
  const pc = tf.slice(sum, [0], [B]) as tf.Tensor1D, pr = tf.slice(sum, [B], [B]) as tf.Tensor1D;
  const lenC = tf.tensor1d(batch.lengths.slice(0, B), 'float32'), lenR = tf.tensor1d(batch.lengths.slice(B), 'float32');
  const rc = refSum ? tf.slice(refSum, [0], [B]) as tf.Tensor1D : tf.zerosLike(pc), rr = refSum ? tf.slice(refSum, [B], [B]) as tf.Tensor1D : tf.zerosLike(pr);
  const p: L.PairLogps = { policyChosen: pc, policyRejected: pr, refChosen: rc, refRejected: rr };
  let out: L.PairLossOut;
  let loss: tf.Scalar;
  if (method === 'dpo') out = L.dpoSigmoidLoss(p, hp.beta, hp.labelSmoothing);
  else if (method === 'ipo') out = L.ipoLoss(p, hp.beta, lenC, lenR, hp.ipoNormalize);
  else if (method === 'odpo') {
    out = L.odpoLoss(p, hp.beta, tf.tensor1d(pairs.map((x) => x.scoreChosen!), 'float32'), tf.tensor1d(pairs.map((x) => x.scoreRejected!), 'float32'), hp.alpha, hp.ratio);
  } else if (method === 'simpo') out = L.simpoLoss(tf.div(pc, lenC) as tf.Tensor1D, tf.div(pr, lenR) as tf.Tensor1D, hp.beta, hp.gamma, hp.labelSmoothing);
  else { // orpo
    const nll = L.chosenNllLoss(pc, lenC);
    const o = L.orpoLoss(tf.div(pc, lenC) as tf.Tensor1D, tf.div(pr, lenR) as tf.Tensor1D, nll, hp.beta);
    keep.nll = tf.keep(nll);
    keep.logOdds = tf.keep(o.logOdds);
    keep.logSigOdds = tf.keep(L.logSigmoid(o.logOdds));
    out = { losses: o.orLosses, chosenRewards: o.chosenRewards, rejectedRewards: o.rejectedRewards };
  }
  loss = method === 'orpo' ? tf.add(keep.nll, tf.mean(out.losses)) as tf.Scalar : tf.mean(out.losses) as tf.Scalar;
  if (hp.rpoAlpha && method !== 'orpo') {
    const nll = L.chosenNllLoss(pc, lenC);
    keep.nll = tf.keep(nll);
    loss = tf.add(loss, tf.mul(hp.rpoAlpha, nll)) as tf.Scalar;
  }
  keep.pc = tf.keep(pc); keep.pr = tf.keep(pr);
  keep.chosenRewards = tf.keep(out.chosenRewards); keep.rejectedRewards = tf.keep(out.rejectedRewards);
  keep.perToken = tf.keep(perToken); keep.loss = tf.keep(tf.clone(loss));
  return loss;
}

/** Pairwise metrics with TRL's names, from host arrays. */
function pairwiseMetrics(method: PreferenceMethod, k: Record<string, Float32Array>, ref?: { rc: Float32Array; rr: Float32Array }): Record<string, number> {
  const B = k.pc.length;
  const m: Record<string, number> = {
    loss: k.loss[0],
    'rewards/chosen': mean(k.chosenRewards), 'rewards/rejected': mean(k.rejectedRewards),
    'rewards/margins': mean(k.chosenRewards.map((c, i) => c - k.rejectedRewards[i])),
    'rewards/accuracies': mean(k.chosenRewards.map((c, i) => (c > k.rejectedRewards[i] ? 1 : 0))),
    'logps/chosen': mean(k.pc), 'logps/rejected': mean(k.pr),
  };
  if (ref) {
    // the survey's "chosen and rejected go down together": log π − log π_ref of each side, and how often both fell
    m['logps/chosen_vs_ref'] = mean(k.pc.map((v, i) => v - ref.rc[i]));
    m['logps/rejected_vs_ref'] = mean(k.pr.map((v, i) => v - ref.rr[i]));
    let both = 0;
    for (let i = 0; i < B; i++) if (k.pc[i] < ref.rc[i] && k.pr[i] < ref.rr[i]) both++;
    m['logps/both_down_frac'] = both / B;
  }
  if (k.nll) m.nll_loss = k.nll[0];
  if (method === 'orpo') { m.log_odds_ratio = mean(k.logSigOdds); m.log_odds_chosen = mean(k.logOdds); }
  return m;
}

export interface PreferenceTrainerOptions {
  method: PreferenceMethod;
  hp: PreferenceHyper;
  policy: CausalLM;
  tokenizer: SeqTokenizer;
  train: PairRecord[] | UnpairedRecord[];
  eval?: PairRecord[] | UnpairedRecord[];
  seed: number;
  writer?: RunWriter;
  /** called after every step with its metrics (the host emits step events / progress) */
  onStep?: (step: number, metrics: Record<string, number>, tokens?: number) => void;
  onEval?: (step: number, metrics: Record<string, number>) => void;
  shouldStop?: () => boolean;
  log?: (msg: string) => void;
  /** use this optimizer (the engine's) instead of a private AdamW over policy.trainableVariables() */
  optimizer?: AdamW;
  /** learning rate at a step (the engine's schedule); default hp.lr with hp.warmupSteps linear warmup */
  lrAt?: (step: number) => number;
  /** the frozen reference model (the engine's ctx.reference); default: a clone of the starting policy */
  reference?: CausalLM;
  /** should this step write a trace? default: hp.traceEvery */
  traceStep?: (step: number) => boolean;
  /** write a trace (default: writer.writeRolloutStep) */
  writeTrace?: (step: number, header: RolloutStepHeaderInput, samples: RolloutSampleInput[], arrays: Record<string, number[]>[]) => void;
}

/**
 * The training loop of one preference method. Owns its reference model (a frozen clone of the starting policy when
 * the method needs one). Returns the final eval metrics.
 */
export class PreferenceTrainer {
  readonly method: PreferenceMethod;
  readonly hp: PreferenceHyper;
  readonly ref?: CausalLM;
  private ownRef = false;
  private ownOpt = false;
  private opt: AdamW;
  private pairs: PairItem[] = [];
  private evalPairs: PairItem[] = [];
  private kto: KtoItem[] = [];
  private evalKto: KtoItem[] = [];
  private rng: Rng;
  step = 0;

  constructor(private readonly o: PreferenceTrainerOptions) {
    this.method = o.method;
    this.hp = o.hp;
    const ctx = o.policy.config.contextLength;
    if (o.method === 'kto') {
      this.kto = encodeUnpaired(o.train as UnpairedRecord[], o.tokenizer, ctx, 'k');
      this.evalKto = encodeUnpaired((o.eval ?? []) as UnpairedRecord[], o.tokenizer, ctx, 'ek');
      if (this.kto.length < 2) throw new Error('kto: needs at least 2 training examples (its KL reference point pairs each prompt with another example\'s completion)');
    } else {
      this.pairs = encodePairs(o.train as PairRecord[], o.tokenizer, ctx, o.method, 'p');
      this.evalPairs = encodePairs((o.eval ?? []) as PairRecord[], o.tokenizer, ctx, o.method, 'e');
      if (o.method === 'odpo') { checkOdpoScores(this.pairs, o.hp.ratio); checkOdpoScores(this.evalPairs, o.hp.ratio); }
      if (!this.pairs.length) throw new Error(`${o.method}: no training pairs`);
    }
    if (needsReference(o.method)) {
      this.ref = o.reference ?? o.policy.clone(false);
      this.ownRef = !o.reference;
    }
    this.opt = o.optimizer ?? new AdamW(o.policy.trainableVariables(), { weightDecay: o.hp.weightDecay });
    this.ownOpt = !o.optimizer;
    this.rng = new Rng(o.seed ^ 0x1f2e3d4c);
  }

  dispose(): void { if (this.ownRef) this.ref?.dispose(); if (this.ownOpt) this.opt.dispose(); }

  private lr(step: number): number {
    if (this.o.lrAt) return this.o.lrAt(step);
    const w = this.hp.warmupSteps;
    return w > 0 && step <= w ? this.hp.lr * step / w : this.hp.lr;
  }

  private sample<T>(xs: T[], n: number): T[] {
    const out: T[] = [];
    for (let i = 0; i < Math.min(n, xs.length); i++) out.push(xs[this.rng.int(xs.length)]);
    return out;
  }

  /** One optimizer step on a random batch. */
  trainStep(): StepResult {
    this.step++;
    const step = this.step;
    const trace = this.o.traceStep ? this.o.traceStep(step) : this.hp.traceEvery > 0 && (step === 1 || step % this.hp.traceEvery === 0);
    const r = this.method === 'kto' ? this.ktoStep(this.sample(this.kto, this.hp.batchSize), true, trace) : this.pairStep(this.sample(this.pairs, this.hp.batchSize), true, trace);
    if (trace && r.trace) {
      const header: RolloutStepHeaderInput = { step, algorithm: this.method, arrays: ['logprob', 'ref_logprob', 'implicit_reward', 'mask'], groups: r.trace.groups, params: { beta: this.hp.beta, referenceFree: !this.ref } };
      if (this.o.writeTrace) this.o.writeTrace(step, header, r.trace.samples, r.trace.arrays);
      else this.o.writer?.writeRolloutStep(header, r.trace.samples, r.trace.arrays);
    }
    return r;
  }

  private pairStep(pairs: PairItem[], update: boolean, trace: boolean): StepResult {
    const B = pairs.length;
    const batch = makeBatch([...pairs.map((p) => p.chosen.seq), ...pairs.map((p) => p.rejected.seq)], this.o.tokenizer.pad);
    const keep: Record<string, tf.Tensor> = {};
    let refSum: tf.Tensor1D | undefined, refTok: tf.Tensor2D | undefined;
    if (this.ref) { const r = completionLogps(this.ref, batch); refSum = r.sum; refTok = r.perToken; }
    let gradNorm = NaN;
    try {
      if (update) {
        const { value, grads } = tf.variableGrads(() => pairwiseLoss(this.method, this.hp, this.o.policy, batch, refSum, pairs, keep), this.o.policy.trainableVariables());
        value.dispose();
        const c = clipByGlobalNorm(grads, this.hp.maxGradNorm);
        tf.dispose(grads);
        gradNorm = c.norm;
        if (!Number.isFinite(c.norm)) { tf.dispose(c.grads); throw new Error(`${this.method}: non-finite gradient norm at step ${this.step}`); }
        this.opt.apply(c.grads, this.lr(this.step));
        tf.dispose(c.grads);
      } else {
        tf.tidy(() => { pairwiseLoss(this.method, this.hp, this.o.policy, batch, refSum, pairs, keep); });
      }
      const host: Record<string, Float32Array> = {};
      for (const [n, t] of Object.entries(keep)) if (n !== 'perToken') host[n] = t.dataSync() as Float32Array;
      const refHost = refSum ? refSum.dataSync() as Float32Array : undefined;
      const metrics = pairwiseMetrics(this.method, host, refHost ? { rc: refHost.slice(0, B), rr: refHost.slice(B) } : undefined);
      if (update) { metrics.grad_norm = gradNorm; metrics.learning_rate = this.lr(this.step); }
      let tr: StepResult['trace'];
      if (trace) tr = this.pairTrace(pairs, batch, keep.perToken.dataSync() as Float32Array, refTok?.dataSync() as Float32Array | undefined);
      if (!Number.isFinite(metrics.loss)) throw new Error(`${this.method}: loss is ${metrics.loss} at step ${this.step}`);
      return { metrics, trace: tr, tokens: batch.seqs.reduce((a, q) => a + q.ids.length, 0) };
    } finally {
      tf.dispose(Object.values(keep));
      tf.dispose([refSum, refTok].filter(Boolean) as tf.Tensor[]);
      disposeBatch(batch);
    }
  }

  /** Per-token implicit rewards of chosen and rejected completions as rollout samples (one group per pair). */
  private pairTrace(pairs: PairItem[], batch: SeqBatch, lp: Float32Array, ref: Float32Array | undefined): StepResult['trace'] {
    const B = pairs.length, T = batch.T, beta = this.hp.beta;
    const n = Math.min(this.hp.tracePairs, B);
    const samples: RolloutSampleInput[] = [];
    const arrays: Record<string, number[]>[] = [];
    const groups: RolloutGroup[] = [];
    const tok = this.o.tokenizer;
    for (let i = 0; i < n; i++) {
      const rewards: number[] = [];
      for (const [role, row, item] of [['chosen', i, pairs[i].chosen], ['rejected', B + i, pairs[i].rejected]] as const) {
        const s = item.seq;
        const logprob: number[] = [], refLp: number[] = [], imp: number[] = [];
        for (let t = 0; t < s.length; t++) {
          const col = row * (T - 1) + s.promptLen - 1 + t;
          logprob.push(lp[col]);
          const r = ref ? ref[col] : NaN;
          refLp.push(r);
          // reference-free methods: SimPO / ORPO's implicit reward is β·(average log-prob) = Σ_t β·logp_t/|y|
          imp.push(ref ? beta * (lp[col] - r) : beta * lp[col] / s.length);
        }
        const reward = imp.reduce((a, b) => a + b, 0);
        rewards.push(reward);
        samples.push({
          group: pairs[i].id, pair: pairs[i].id, role, prompt: item.prompt, completion: item.completion,
          tokens: tok.display(s.ids.slice(s.promptLen, s.promptLen + s.length)), tokenIds: s.ids.slice(s.promptLen, s.promptLen + s.length),
          reward, rewardParts: { implicit_reward: reward, logp: logprob.reduce((a, b) => a + b, 0) }, length: s.length,
        });
        arrays.push({ logprob, ref_logprob: refLp, implicit_reward: imp, mask: imp.map(() => 1) });
      }
      const m = (rewards[0] + rewards[1]) / 2;
      groups.push({ id: pairs[i].id, prompt: pairs[i].chosen.prompt, samples: [2 * i, 2 * i + 1], rewards, mean: m, std: Math.abs(rewards[0] - rewards[1]) / 2, margin: rewards[0] - rewards[1] });
    }
    return { samples, arrays, groups };
  }

  private ktoStep(items: KtoItem[], update: boolean, trace: boolean): StepResult {
    const B = items.length;
    const seqs = items.map((x) => x.item.seq);
    // TRL's KL batch: each prompt with the NEXT example's completion (completions rotated by one), no gradient
    const tok = this.o.tokenizer, ctx = this.o.policy.config.contextLength;
    const klSeqs = items.map((x, i) => {
      const other = items[(i + B - 1) % B].item;
      try { return encodeSeq(tok, x.item.prompt, other.completion, ctx); } catch { return x.item.seq; }
    });
    const batch = makeBatch(seqs, tok.pad);
    const klBatch = makeBatch(klSeqs, tok.pad);
    const labels = tf.tensor1d(items.map((x) => (x.label ? 1 : 0)), 'float32');
    const keep: Record<string, tf.Tensor> = {};
    const ref = this.ref!;
    const refR = completionLogps(ref, batch);
    const z = tf.tidy(() => L.ktoReferencePoint(completionLogps(this.o.policy, klBatch).sum, completionLogps(ref, klBatch).sum));
    let gradNorm = NaN;
    const lossFn = (): tf.Scalar => {
      const { sum, perToken } = completionLogps(this.o.policy, batch);
      const out = L.ktoLoss(sum, refR.sum, labels, z, this.hp.beta, this.hp.desirableWeight, this.hp.undesirableWeight);
      let loss = tf.mean(out.losses) as tf.Scalar;
      if (this.hp.rpoAlpha) {
        // NLL on desirable completions only
        const nll = tf.div(tf.neg(tf.sum(tf.mul(sum, labels))), tf.maximum(tf.sum(tf.mul(tf.tensor1d(batch.lengths, 'float32'), labels)), 1)) as tf.Scalar;
        keep.nll = tf.keep(nll);
        loss = tf.add(loss, tf.mul(this.hp.rpoAlpha, nll)) as tf.Scalar;
      }
      keep.logps = tf.keep(sum); keep.rewards = tf.keep(out.rewards); keep.perToken = tf.keep(perToken); keep.loss = tf.keep(tf.clone(loss));
      return loss;
    };
    try {
      if (update) {
        const { value, grads } = tf.variableGrads(lossFn, this.o.policy.trainableVariables());
        value.dispose();
        const c = clipByGlobalNorm(grads, this.hp.maxGradNorm);
        tf.dispose(grads);
        gradNorm = c.norm;
        if (!Number.isFinite(c.norm)) { tf.dispose(c.grads); throw new Error(`kto: non-finite gradient norm at step ${this.step}`); }
        this.opt.apply(c.grads, this.lr(this.step));
        tf.dispose(c.grads);
      } else tf.tidy(() => { lossFn(); });
      const lp = keep.logps.dataSync(), rw = keep.rewards.dataSync(), refLp = refR.sum.dataSync();
      const d = items.map((x) => x.label);
      const sel = (a: ArrayLike<number>, want: boolean) => Array.from(a).filter((_, i) => d[i] === want);
      const rc = mean(sel(rw, true)), rr = mean(sel(rw, false));
      const metrics: Record<string, number> = {
        loss: keep.loss.dataSync()[0], kl: z.dataSync()[0],
        'rewards/chosen': rc, 'rewards/rejected': rr, 'rewards/margins': rc - rr,
        'logps/chosen': mean(sel(lp, true)), 'logps/rejected': mean(sel(lp, false)),
        'logps/chosen_vs_ref': mean(sel(Array.from(lp).map((v, i) => v - refLp[i]), true)),
        'logps/rejected_vs_ref': mean(sel(Array.from(lp).map((v, i) => v - refLp[i]), false)),
        // KTO has no pairs: accuracy = desirable rewards above the batch's undesirable mean
        'rewards/accuracies': mean(sel(rw, true).map((v) => (v > rr ? 1 : 0))),
      };
      if (keep.nll) metrics.nll_loss = keep.nll.dataSync()[0];
      if (update) { metrics.grad_norm = gradNorm; metrics.learning_rate = this.lr(this.step); }
      if (!Number.isFinite(metrics.loss)) throw new Error(`kto: loss is ${metrics.loss} at step ${this.step}`);
      let tr: StepResult['trace'];
      if (trace) {
        const lpt = keep.perToken.dataSync() as Float32Array, rft = refR.perToken.dataSync() as Float32Array;
        const samples: RolloutSampleInput[] = [], arrays: Record<string, number[]>[] = [], groups: RolloutGroup[] = [];
        const n = Math.min(this.hp.tracePairs * 2, B);
        for (let i = 0; i < n; i++) {
          const s = items[i].item.seq;
          const logprob: number[] = [], refl: number[] = [], imp: number[] = [];
          for (let t = 0; t < s.length; t++) { const col = i * (batch.T - 1) + s.promptLen - 1 + t; logprob.push(lpt[col]); refl.push(rft[col]); imp.push(this.hp.beta * (lpt[col] - rft[col])); }
          const reward = imp.reduce((a, b) => a + b, 0);
          samples.push({ group: items[i].id, pair: items[i].id, role: items[i].label ? 'desirable' : 'undesirable', prompt: items[i].item.prompt, completion: items[i].item.completion,
            tokens: tok.display(s.ids.slice(s.promptLen, s.promptLen + s.length)), reward, rewardParts: { implicit_reward: reward }, length: s.length });
          arrays.push({ logprob, ref_logprob: refl, implicit_reward: imp, mask: imp.map(() => 1) });
          groups.push({ id: items[i].id, prompt: items[i].item.prompt, samples: [i], rewards: [reward], mean: reward, std: 0 });
        }
        tr = { samples, arrays, groups };
      }
      return { metrics, trace: tr, tokens: seqs.reduce((a, q) => a + q.ids.length, 0) };
    } finally {
      tf.dispose(Object.values(keep));
      tf.dispose([refR.sum, refR.perToken, z, labels]);
      disposeBatch(batch); disposeBatch(klBatch);
    }
  }

  /** Held-out evaluation: the same quantities without an update, averaged over the eval set (batched). */
  evaluate(): Record<string, number> {
    const bs = Math.max(1, this.hp.batchSize);
    const acc: Record<string, number[]> = {};
    const add = (m: Record<string, number>, w: number) => { for (const [k, v] of Object.entries(m)) (acc[k] ??= []).push(v, w); };
    if (this.method === 'kto') {
      for (let i = 0; i + 1 < this.evalKto.length; i += bs) { const part = this.evalKto.slice(i, i + bs); if (part.length >= 2) add(this.ktoStep(part, false, false).metrics, part.length); }
    } else {
      for (let i = 0; i < this.evalPairs.length; i += bs) { const part = this.evalPairs.slice(i, i + bs); add(this.pairStep(part, false, false).metrics, part.length); }
    }
    const out: Record<string, number> = {};
    for (const [k, v] of Object.entries(acc)) {
      let s = 0, w = 0;
      for (let i = 0; i < v.length; i += 2) if (Number.isFinite(v[i])) { s += v[i] * v[i + 1]; w += v[i + 1]; }
      out[`eval/${k}`] = w ? s / w : NaN;
    }
    return out;
  }

  get evalSize(): number { return this.method === 'kto' ? this.evalKto.length : this.evalPairs.length; }

  /** Run all steps (with periodic eval). Returns the eval metrics before training and at the end. */
  run(): TrainResult { return drainSteps(this.steps()); }

  /** The same, yielding to the event loop after every step (`yieldFn`: the engine's ctx.yield, so stop requests are seen). */
  runAsync(yieldFn: () => Promise<void>): Promise<TrainResult> { return drainStepsAsync(this.steps(), yieldFn); }

  private *steps(): Generator<number, TrainResult> {
    const w = this.o.writer;
    const before = this.evalSize ? this.evaluate() : {};
    if (this.evalSize) { w?.metrics({ step: 0, split: 'eval', values: before }); this.o.onEval?.(0, before); }
    let after = before;
    while (this.step < this.hp.steps) {
      if (this.o.shouldStop?.()) break;
      const r = this.trainStep();
      w?.metrics({ step: this.step, split: 'train', values: r.metrics });
      this.o.onStep?.(this.step, r.metrics, r.tokens);
      const last = this.step === this.hp.steps;
      if (this.evalSize && ((this.hp.evalEvery > 0 && this.step % this.hp.evalEvery === 0) || last)) {
        after = this.evaluate();
        w?.metrics({ step: this.step, split: 'eval', values: after });
        this.o.onEval?.(this.step, after);
      }
      yield this.step;
    }
    return { before, after, steps: this.step };
  }
}
