/**
 * One RL step, in four phases that read top to bottom (each a function below):
 *
 *   1. prepare      rollout → old / ref log-probs, entropy, values (no gradients) → per-token rewards → advantages,
 *                   and, from the same tensors, each sample's group statistics and baseline
 *   2. groupStats   per-group mean / std / baseline(s) read from those tensors; the zero-variance and rejection filters
 *   3. update       ppoEpochs × miniBatches policy (and separate-critic) updates with gradient clipping
 *   4. trace        the step as the run stores it (RolloutStepInput, src/shared/rolloutStep.ts): groups, samples and
 *                   the per-token arrays this algorithm computed (value only with a critic, return only with returns)
 *
 * All math comes from src/trainer/algorithms.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { CausalLM } from '../model/types';
import { AdamW, clipByGlobalNorm } from '../optim';
import type { Rng } from '../rng';
import { klPenalty } from '../algorithms/kl';
import {
  broadcastToTokens, computeGaeAdvantageReturn, computeOutcomeAdvantage, computeOutcomeBaseline, computeReinforcePlusPlusOutcomeAdvantage,
  groupIndex, groupMatrix, groupStatistics,
} from '../algorithms/advantages';
import { aggLoss, computePolicyLossGeoMean, computePolicyLossGspo, computePolicyLossReinforce, computePolicyLossVanilla, computeValueLoss } from '../algorithms/losses';
import { applyKlPenalty, placeAtLastToken } from '../algorithms/rewards';
import { maskSelect, maskedMean } from '../algorithms/masked';
import { arrayNamesOf, type RolloutStepInput } from '../../shared/rolloutStep';
import type { RolloutGroup, RolloutSampleInput } from '../../shared/runFormat';
import type { RlConfig, RlAlgorithm } from './config';
import { pack, responseForward, rollout, type PackedBatch, type RolloutResult } from './rollout';
import { explainedVariance, mean, skew, std } from './stats';
import type { RlTask, RlTokenizer } from './types';
import { rewardScheduleMetrics } from './delta';
import { applyGrpoLambda } from './grpoLambda';
import { computePolicyLossGvpo } from '../algorithms/gvpo';
import { normalizeStepRewards, placeStepRewards, processAdvantages } from '../algorithms/process';
import { multiTurnRollout } from './multiturn';
import { gigpoForSamples, type GigpoTokens } from './gigpo';
import { arpoBudget, arpoHardAdvantages, arpoRollout } from './arpo';
import { treeRollout } from './treeRollout';
import { treeGrpoForSamples } from './treeGrpo';
import type { TreeGrpoOutput } from '../algorithms/treeGrpo';

export interface StepState {
  step: number;
  lr: number;
  klCoef: number;
  optimizer: AdamW;
  criticOptimizer?: AdamW;
}

/** What one step gives: its metrics (metrics.jsonl) and its rollouts in the stored shape (with every array computed). */
export interface RlStepResult {
  metrics: Record<string, number | null>;
  rollout: RolloutStepInput;
}

/** Statistics of one group as the step stores them: the RolloutGroup fields (runFormat.ts) phase 2 fills in. */
export type GroupStat = Pick<RolloutGroup, 'mean' | 'std' | 'baseline' | 'baselines' | 'scores' | 'filtered' | 'filterReason'>;

const rowsOf = (t: tf.Tensor) => t.arraySync() as number[][];
const vecOf = (t: tf.Tensor) => Array.from(t.dataSync());

function sliceRows(m: number[][], idx: number[]): number[][] { return idx.map((i) => m[i]); }

/** Phase 1's output, as host arrays ([B][N] rows unless said otherwise). */
interface Prepared {
  pk: PackedBatch;
  /** per sample: its group id [B] (GVPO minibatches hold whole groups) */
  group: string[];
  mask: number[][];
  old: number[][];
  ref: number[][];
  entropy: number[][];
  /** per-token KL of the rollout policy to the reference (the estimator of the config) */
  kl: number[][];
  tokenRewards: number[][];
  adv: number[][];
  values?: number[][];
  returns?: number[][];
  /** per sample: the sequence-level advantage (outcome estimators) [B] */
  seqAdv?: number[];
  /** per sample, from groupStatistics over the rewards (the scores the task gave): group mean and unbiased std [B] */
  groupMean: number[];
  groupStd: number[];
  /** per sample: the sequence score the outcome estimator was given (reward − β·Σ KL when the KL is in the reward) [B] */
  estimatorScores?: number[];
  /** per sample: the baseline the outcome estimator subtracted (computeOutcomeBaseline) [B] */
  baseline?: number[];
  klMean: number;
  k1Mean: number;
  entropyMean: number;
  /** GiGPO: episode / step advantages, step groups per turn (advantage "gigpo") */
  gigpo?: GigpoTokens;
  /** Tree-GRPO: intra- / inter-tree advantages per leaf (advantage "tree_grpo") */
  treeGrpo?: TreeGrpoOutput;
}

/**
 * Run one step. `policy` is updated in place (and `critic` when separate).
 */
export function rlStep(
  algorithm: RlAlgorithm, cfg: RlConfig, st: StepState, policy: CausalLM, ref: CausalLM, critic: CausalLM | undefined, task: RlTask, tok: RlTokenizer, rng: Rng,
): RlStepResult {
  const t0 = Date.now();
  if (algorithm === 'tree_grpo' && !task.env) throw new Error('algorithm "tree_grpo" grows trees of agent steps (a node = a turn, its tool call and result): it needs a task with an environment (calc-tool, lookup-tool) or rl.env.module');
  if (algorithm === 'arpo' && !task.env) throw new Error('algorithm "arpo" branches after tool results: it needs a task with an environment (calc-tool, lookup-tool) or rl.env.module');
  // multi-turn tool environments (task.env, rl/multiturn.ts); else single-turn completions
  const ro = task.env
    ? (algorithm === 'arpo' ? arpoRollout : algorithm === 'tree_grpo' ? treeRollout : multiTurnRollout)(policy, task.env, tok, cfg, rng, st.step, { maxTurns: cfg.env.maxTurns, maxTokens: cfg.env.maxTokens, contextLength: policy.config.contextLength })
    : rollout(policy, task, tok, cfg, rng, st.step);
  // GRPO-λ: 0/1 correctness, the length-penalised reward for the top-λ groups (rewrites the scores; grpo_lambda/*)
  const lambdaMetrics = algorithm === 'grpo_lambda' ? applyGrpoLambda(ro, cfg) : {};
  const metrics = rolloutMetrics(ro, cfg);
  Object.assign(metrics, lambdaMetrics);
  // EEPO (eepo/*), GHPO (ghpo/*) and the DELTA reward schedule (reward/schedule_dense)
  Object.assign(metrics, ro.extraMetrics ?? {}, rewardScheduleMetrics(cfg, st.step));
  if (ro.samples.length === 0) {
    // every group was dropped by dynamic sampling: nothing to learn from this step (no update, no loss)
    metrics['groups/filtered'] = ro.groups.length;
    metrics['step_time'] = (Date.now() - t0) / 1000;
    const stats = new Map<string, GroupStat>(ro.groups.map((g) => [g.id, { mean: mean(g.rewards), std: std(g.rewards), filtered: true, filterReason: g.filterReason }]));
    return { metrics, rollout: trace(algorithm, cfg, st, ro, tok, stats, undefined, undefined, metrics) };
  }
  const needValues = cfg.advantage === 'gae';
  const sharedCritic = needValues && cfg.critic === 'shared';
  const criticModel = needValues ? (sharedCritic ? policy : critic) : undefined;
  if (needValues && !criticModel?.config.valueHead) throw new Error('ppo: the critic has no value head');

  const tPrep = Date.now();
  const prep = prepare(cfg, st, ro, policy, ref, criticModel, sharedCritic, tok.pad);
  // ARPO hard attribution: a token shared by d branches gets the mean of their GRPO advantages (soft: as computed)
  if (algorithm === 'arpo' && cfg.arpo.attribution === 'hard') prep.adv = arpoHardAdvantages(ro.samples, prep.seqAdv!, prep.mask);
  metrics['timing/prepare_s'] = (Date.now() - tPrep) / 1000;
  metrics['kl'] = prep.klMean;
  metrics['kl/k1'] = prep.k1Mean;
  metrics['entropy'] = prep.entropyMean;
  const stats = groupStats(cfg, ro, prep);
  metrics['groups/filtered'] = [...stats.values()].filter((g) => g.filtered).length;
  Object.assign(metrics, advantageMetrics(prep));
  if (prep.gigpo) {
    // GiGPO: how many anchor-state step groups, how large, and how much of the advantage comes from the step level
    const o = prep.gigpo.out, sizes = new Map<string, number>();
    for (const g of o.stepGroups.flat()) sizes.set(g, (sizes.get(g) ?? 0) + 1);
    metrics['gigpo/step_groups'] = sizes.size;
    metrics['gigpo/step_group_size/mean'] = mean([...sizes.values()]);
    metrics['gigpo/step_group_gt1/frac'] = [...sizes.values()].filter((n) => n > 1).length / Math.max(1, sizes.size);
    metrics['gigpo/episode_adv_abs/mean'] = mean(o.episodeAdvantages.map(Math.abs));
    metrics['gigpo/step_adv_abs/mean'] = mean(o.stepAdvantages.flat().map(Math.abs));
  }
  if (prep.treeGrpo) {
    // Tree-GRPO: how large the two levels of advantage are (the tree/* rollout metrics come from rl/treeRollout.ts)
    metrics['tree/adv_intra_abs/mean'] = mean(prep.treeGrpo.intra.map(Math.abs));
    metrics['tree/adv_inter_abs/mean'] = mean(prep.treeGrpo.inter.map(Math.abs));
  }
  const tUpd = Date.now();
  const upd = update(algorithm, cfg, st, prep, policy, criticModel, sharedCritic, rng);
  metrics['timing/update_s'] = (Date.now() - tUpd) / 1000;
  Object.assign(metrics, upd.metrics);
  metrics['lr'] = st.lr;
  metrics['kl_coef'] = st.klCoef;
  const dt = (Date.now() - t0) / 1000;
  metrics['step_time'] = dt;
  metrics['timing/gen_s'] = ro.genSeconds;
  metrics['tokens_per_s'] = ro.generatedTokens / Math.max(dt, 1e-9);
  return { metrics, rollout: trace(algorithm, cfg, st, ro, tok, stats, prep, upd, metrics) };
}

/** Reward, score and length metrics of the rollout (before any update). */
function rolloutMetrics(ro: RolloutResult, cfg: RlConfig): Record<string, number | null> {
  const S = ro.samples;
  const metrics: Record<string, number | null> = {};
  const allRewards = S.map((s) => s.reward.score);
  metrics['reward/mean'] = mean(allRewards);
  metrics['reward/std'] = std(allRewards);
  const partNames = [...new Set(S.flatMap((s) => Object.keys(s.reward.parts)))];
  for (const p of partNames) metrics[`reward/${p}/mean`] = mean(S.map((s) => s.reward.parts[p] ?? 0));
  if (cfg.overlong.enabled) metrics['reward/overlong/mean'] = mean(S.map((s) => s.overlong));
  if (cfg.lengthPenalty.coef) metrics['reward/length_penalty/mean'] = mean(S.map((s) => s.lengthPen));
  metrics['score/mean'] = mean(S.map((s) => s.score));
  metrics['frac_reward_zero_std'] = ro.generatedGroups ? ro.zeroStdGroups / ro.generatedGroups : 0;
  metrics['dynamic_sampling/gen_batches'] = ro.genBatches;
  metrics['dynamic_sampling/kept_groups'] = ro.groups.filter((g) => !g.filtered).length;
  const lengths = S.map((s) => s.tokens.length);
  metrics['response_length/mean'] = mean(lengths);
  metrics['response_length/max'] = lengths.length ? Math.max(...lengths) : 0;
  metrics['response_length/min'] = lengths.length ? Math.min(...lengths) : 0;
  metrics['response_length/clip_ratio'] = S.length ? S.filter((s) => !s.finished).length / S.length : 0;
  // every generated token, dropped groups' too (the engine's perf/tokens_per_sec)
  metrics['tokens/generated'] = ro.generatedTokens;
  return metrics;
}

/**
 * Phase 1: log-probs of the rollout policy and the reference, entropy and values (no gradients), per-token rewards,
 * advantages, and each sample's group statistics and baseline from the same tensors the advantages came from.
 */
function prepare(cfg: RlConfig, st: StepState, ro: RolloutResult, policy: CausalLM, ref: CausalLM, criticModel: CausalLM | undefined, sharedCritic: boolean, tokPad?: number): Prepared {
  const S = ro.samples;
  const pk = pack(S, tokPad);
  const { P, N } = pk;
  const needValues = cfg.advantage === 'gae';
  // GiGPO (plain numbers, algorithms/gigpo.ts): per-turn advantages from episode and anchor-state step groups
  const gi = cfg.advantage === 'gigpo' ? gigpoForSamples(S, cfg, N) : undefined;
  // Tree-GRPO (plain numbers, algorithms/treeGrpo.ts): per leaf, intra-tree + inter-tree group-relative advantage
  const tg = cfg.advantage === 'tree_grpo' ? treeGrpoForSamples(S, cfg) : undefined;
  const t = tf.tidy(() => {
    const ids = tf.tensor2d(pk.ids, undefined, 'int32');
    const am = tf.tensor2d(pk.attentionMask);
    const mask = tf.tensor2d(pk.responseMask);
    const o = responseForward(policy, { ids, attentionMask: am }, P, N, { temperature: cfg.temperature, entropy: true, values: sharedCritic });
    const r = responseForward(ref, { ids, attentionMask: am }, P, N, { temperature: cfg.temperature });
    let values: tf.Tensor2D | undefined = o.values;
    if (needValues && !sharedCritic) values = responseForward(criticModel!, { ids, attentionMask: am }, P, N, { temperature: 1, values: true }).values;
    const scores = tf.tensor1d(S.map((s) => s.score));
    const klEst = cfg.kl.estimator;
    // token rewards: score at the last response token, minus β·KL(old‖ref) per token when the KL is in the reward
    let tokenRewards: tf.Tensor2D;
    let klTok: tf.Tensor2D;
    if (cfg.kl.inReward) {
      const a = applyKlPenalty(scores, o.logprobs, r.logprobs, mask, st.klCoef, klEst);
      tokenRewards = a.tokenRewards; klTok = a.kl;
    } else {
      tokenRewards = placeAtLastToken(scores, mask);
      klTok = maskSelect(klPenalty(o.logprobs, r.logprobs, klEst), mask) as tf.Tensor2D;
    }
    // process rewards (reward.type "process", a PRM): each step's reward on the step's last token replaces the score
    // at the last token (PRIME / verl); the KL term, when in the reward, stays
    const proc = S.some((s) => s.stepEnds) ? { rewards: S.map((s) => s.stepRewards ?? []), ends: S.map((s) => s.stepEnds ?? []) } : undefined;
    if (proc) tokenRewards = tf.add(tf.sub(tokenRewards, placeAtLastToken(scores, mask)), tf.tensor2d(placeStepRewards(proc.rewards, proc.ends, N), [S.length, N])) as tf.Tensor2D;
    const k3 = maskSelect(klPenalty(o.logprobs, r.logprobs, 'k3'), mask);
    const k1 = maskSelect(klPenalty(o.logprobs, r.logprobs, 'k1'), mask);
    // advantages, and group statistics from the same group matrix G
    const { index, keys } = groupIndex(S.map((s) => s.group));
    const G = groupMatrix(index, keys.length);
    const rewardStats = groupStatistics(scores, G);
    let adv: tf.Tensor2D;
    let returns: tf.Tensor2D | undefined;
    let seqAdv: tf.Tensor1D | undefined;
    let seqScore: tf.Tensor1D | undefined;
    let baseline: tf.Tensor1D | undefined;
    if (cfg.advantage === 'gae') {
      const g = computeGaeAdvantageReturn(tokenRewards, values!, mask, cfg.gamma, cfg.lambda, true);
      adv = g.advantages; returns = g.returns;
    } else if (cfg.advantage === 'reinforce_pp') {
      const g = computeReinforcePlusPlusOutcomeAdvantage(tokenRewards, mask, cfg.gamma);
      adv = g.advantages; returns = g.returns;
    } else if (tg) {
      seqAdv = tf.tensor1d(tg.advantages);
      adv = broadcastToTokens(seqAdv, mask);
    } else if (gi) {
      adv = tf.mul(tf.tensor2d(gi.tokenAdv, [S.length, N]), mask) as tf.Tensor2D;
      seqAdv = tf.tensor1d(gi.out.episodeAdvantages);
    } else if (proc) {
      // DeepSeekMath §4.1.3 process supervision: step rewards normalised over the group, Â_t = Σ of the normalised
      // rewards of the steps ending at or after t (grpo; dr_grpo without the std division)
      if (cfg.advantage !== 'grpo' && cfg.advantage !== 'dr_grpo') throw new Error(`rl.advantage: process rewards (reward.type "process") need "grpo" or "dr_grpo" (DeepSeekMath process supervision), "gae" (PPO on the step rewards) or "reinforce_pp"; got ${JSON.stringify(cfg.advantage)}`);
      const norm = normalizeStepRewards(proc.rewards, S.map((s) => s.group), cfg.advEps, cfg.advantage === 'grpo');
      const a = processAdvantages(norm, proc.ends, pk.responseMask);
      adv = tf.tensor2d(a, [S.length, N]);
      seqAdv = tf.tensor1d(a.map((row) => row[0] ?? 0));
    } else {
      // outcome estimators use the sequence reward (Σ token rewards: score − β·Σ KL when the KL is in the reward, as TRL RLOO)
      seqScore = tf.sum(tokenRewards, 1) as tf.Tensor1D;
      const est = cfg.advantage as Exclude<typeof cfg.advantage, 'gigpo' | 'tree_grpo'>;
      seqAdv = computeOutcomeAdvantage(est, seqScore, G, cfg.advEps);
      baseline = computeOutcomeBaseline(est, seqScore, G);
      adv = broadcastToTokens(seqAdv, mask);
    }
    return {
      old: o.logprobs, ref: r.logprobs, entropy: o.entropy!, values, tokenRewards, klTok, adv, returns, seqAdv, seqScore, baseline, mask,
      groupMean: rewardStats.mean, groupStd: rewardStats.std,
      klMean: maskedMean(k3, mask), k1Mean: maskedMean(k1, mask), entropyMean: maskedMean(o.entropy!, mask),
    };
  });
  const prep: Prepared = {
    pk, group: S.map((s) => s.group), mask: rowsOf(t.mask), old: rowsOf(t.old), ref: rowsOf(t.ref), entropy: rowsOf(t.entropy), kl: rowsOf(t.klTok),
    tokenRewards: rowsOf(t.tokenRewards), adv: rowsOf(t.adv),
    values: t.values ? rowsOf(t.values) : undefined, returns: t.returns ? rowsOf(t.returns) : undefined,
    seqAdv: t.seqAdv ? vecOf(t.seqAdv) : undefined,
    groupMean: vecOf(t.groupMean), groupStd: vecOf(t.groupStd),
    estimatorScores: t.seqScore ? vecOf(t.seqScore) : undefined, baseline: t.baseline ? vecOf(t.baseline) : undefined,
    klMean: t.klMean.dataSync()[0], k1Mean: t.k1Mean.dataSync()[0], entropyMean: t.entropyMean.dataSync()[0],
    ...(gi ? { gigpo: gi } : {}),
    ...(tg ? { treeGrpo: tg } : {}),
  };
  tf.dispose(Object.values(t).filter((x): x is tf.Tensor => x instanceof tf.Tensor));
  return prep;
}

/**
 * Phase 2: each group's statistics as stored (RolloutGroup): mean and std of its rewards and the baseline its
 * advantages were computed against, read from phase 1's tensors (per sample → per group: its first member); the
 * estimator's input scores when they differ from the rewards (KL in the reward). Applies the zero-variance filter
 * (zeroes the group's advantages) and marks Reinforce-Rej's rejected groups. Mutates `prep.adv` / `prep.seqAdv`.
 */
function groupStats(cfg: RlConfig, ro: RolloutResult, prep: Prepared): Map<string, GroupStat> {
  const out = new Map<string, GroupStat>();
  const scoresDiffer = !!prep.estimatorScores && ro.samples.some((s, i) => Math.fround(s.score) !== Math.fround(prep.estimatorScores![i]));
  for (const g of ro.groups) {
    const rs = g.rewards;
    const n = rs.length;
    if (!g.samples.length) { out.set(g.id, { mean: mean(rs), std: std(rs), filtered: g.filtered, filterReason: g.filterReason }); continue; }
    const first = g.samples[0];
    const info: GroupStat = { mean: prep.groupMean[first], std: prep.groupStd[first], filtered: g.filtered, filterReason: g.filterReason };
    if (prep.baseline) {
      const b = g.samples.map((i) => prep.baseline![i]);
      if (cfg.advantage === 'grpo' || cfg.advantage === 'dr_grpo') info.baseline = b[0];
      else info.baselines = b;
    }
    if (scoresDiffer) info.scores = g.samples.map((i) => prep.estimatorScores![i]);
    if (!g.filtered) {
      if (cfg.zeroVarianceFilter !== null && n > 1 && info.std <= cfg.zeroVarianceFilter) {
        info.filtered = true; info.filterReason = 'zero_variance';
        for (const i of g.samples) { prep.adv[i] = prep.adv[i].map(() => 0); if (prep.seqAdv) prep.seqAdv[i] = 0; }
      } else if (cfg.advantage === 'reinforce_rej' && n > 1 && rs.every((r) => r === rs[0])) {
        info.filtered = true; info.filterReason = 'rejection';
      }
    }
    out.set(g.id, info);
  }
  return out;
}

/** Advantage (and, with a critic, value / return) statistics over the valid tokens. */
function advantageMetrics(prep: Prepared): Record<string, number> {
  const m: Record<string, number> = {};
  const { mask, adv, values, returns } = prep;
  const advFlat: number[] = [];
  for (let b = 0; b < mask.length; b++) for (let t = 0; t < mask[b].length; t++) if (mask[b][t]) advFlat.push(adv[b][t]);
  m['advantages/mean'] = mean(advFlat);
  m['advantages/std'] = std(advFlat);
  m['advantages/skew'] = skew(advFlat);
  m['advantages/max'] = advFlat.length ? Math.max(...advFlat) : 0;
  m['advantages/min'] = advFlat.length ? Math.min(...advFlat) : 0;
  if (returns && values) {
    const vv: number[] = [], rr: number[] = [];
    for (let b = 0; b < mask.length; b++) for (let t = 0; t < mask[b].length; t++) if (mask[b][t]) { vv.push(values[b][t]); rr.push(returns[b][t]); }
    m['vf_explained_var'] = explainedVariance(vv, rr);
    m['values/mean'] = mean(vv);
    m['returns/mean'] = mean(rr);
  }
  return m;
}

/** Phase 3's output: the last log-prob / ratio / clip code each token saw, and the loss metrics. */
interface Updated {
  logprob: number[][];
  /** GVPO: β·(log π_θ − log π_old) per token at each sample's last update (Σ_t = the implicit reward) */
  implicitReward?: number[][];
  ratio: number[][];
  clip: number[][];
  metrics: Record<string, number | null>;
}

/** Phase 3: ppoEpochs × miniBatches updates of the policy (and of a separate critic). */
function update(algorithm: RlAlgorithm, cfg: RlConfig, st: StepState, prep: Prepared, policy: CausalLM, criticModel: CausalLM | undefined, sharedCritic: boolean, rng: Rng): Updated {
  const { pk, mask, old, adv, values, returns } = prep;
  const refLp = prep.ref;
  const { P, N } = pk;
  const B = mask.length;
  const needValues = cfg.advantage === 'gae';
  const lastLp: number[][] = old.map((r) => r.slice());
  const lastRatio: number[][] = old.map((r) => r.map(() => 1));
  const lastClip: number[][] = old.map((r) => r.map(() => 0));
  const pgLosses: number[] = [], vfLosses: number[] = [], gradNorms: number[] = [], klLosses: number[] = [];
  const clipLow: number[] = [], clipHigh: number[] = [], clipDual: number[] = [], vfClip: number[] = [];
  const lossScaleFactor = cfg.lossScaleFactor ?? cfg.maxNewTokens;
  const policyVars = policy.trainableVariables();
  const criticVars = needValues && !sharedCritic ? criticModel!.trainableVariables() : [];
  const order = Array.from({ length: B }, (_, i) => i);
  const mbSize = Math.ceil(B / cfg.miniBatches);
  // GVPO: minibatches of whole groups; per sample its implicit reward, weight and per-token β·(log π − log π_old) at its last update
  const gvpo = cfg.policyLoss === 'gvpo';
  const gvpoImplicit: number[] = new Array<number>(B).fill(0), gvpoWeight: number[] = new Array<number>(B).fill(0);
  const lastImplicit: number[][] = old.map((r) => r.map(() => 0));
  for (let epoch = 0; epoch < cfg.ppoEpochs; epoch++) {
    rng.shuffle(order);
    for (let mb = 0; mb < cfg.miniBatches; mb++) {
      const idx = gvpo ? wholeGroupMinibatch(order, prep.group, cfg.miniBatches, mb) : order.slice(mb * mbSize, (mb + 1) * mbSize);
      if (!idx.length) continue;
      const b = idx.length;
      const ids = tf.tensor2d(sliceRows(pk.ids, idx), [b, P + N], 'int32');
      const am = tf.tensor2d(sliceRows(pk.attentionMask, idx), [b, P + N]);
      const m = tf.tensor2d(sliceRows(mask, idx), [b, N]);
      const oldT = tf.tensor2d(sliceRows(old, idx), [b, N]);
      const refT = tf.tensor2d(sliceRows(refLp, idx), [b, N]);
      const advT = tf.tensor2d(sliceRows(adv, idx), [b, N]);
      const oldV = values ? tf.tensor2d(sliceRows(values, idx), [b, N]) : undefined;
      const retT = returns ? tf.tensor2d(sliceRows(returns, idx), [b, N]) : undefined;
      // GVPO: R − mean R (the dr_grpo advantage, as the authors' recipe passes it) and the minibatch's group matrix
      const gvIn = gvpo ? (() => { const gi = groupIndex(idx.map((i) => prep.group[i])); return { rew: tf.tensor1d(idx.map((i) => prep.seqAdv?.[i] ?? 0)), G: groupMatrix(gi.index, gi.keys.length) }; })() : undefined;
      let gvKept: tf.Tensor[] = [];
      let kept: tf.Tensor[] = [];
      const lossFn = (): tf.Scalar => {
        const f = responseForward(policy, { ids, attentionMask: am }, P, N, { temperature: cfg.temperature, entropy: cfg.entropyCoef !== 0, values: sharedCritic });
        let loss: tf.Scalar;
        let ratio: tf.Tensor, clip: tf.Tensor, cl: tf.Scalar, ch: tf.Scalar, cd: tf.Scalar;
        if (cfg.policyLoss === 'ppo') {
          const r = computePolicyLossVanilla(f.logprobs, oldT, advT, m, { clipLow: cfg.clipLow, clipHigh: cfg.clipHigh, dualClip: cfg.dualClip, agg: cfg.lossAgg, lossScaleFactor });
          loss = r.loss; ratio = r.ratio; clip = r.clipCode; cl = r.clipFracLow; ch = r.clipFracHigh; cd = r.clipFracDual;
        } else if (cfg.policyLoss === 'gspo') {
          const r = computePolicyLossGspo(f.logprobs, oldT, advT, m, cfg.clipLow, cfg.clipHigh);
          loss = r.loss; ratio = r.ratio; clip = r.clipCode; cl = r.clipFracLow; ch = r.clipFracHigh; cd = tf.scalar(0);
        } else if (cfg.policyLoss === 'gmpo') {
          const r = computePolicyLossGeoMean(f.logprobs, oldT, advT, m, cfg.clipLow, cfg.clipHigh);
          loss = r.loss; ratio = r.ratio; clip = r.clipCode; cl = r.clipFracLow; ch = r.clipFracHigh; cd = tf.scalar(0);
        } else if (cfg.policyLoss === 'gvpo') {
          // π_θ' = the rollout policy (old log-probs): no importance ratio, no clipping (the ratio is only traced)
          const r = computePolicyLossGvpo(f.logprobs, oldT, m, gvIn!.rew, gvIn!.G, cfg.gvpoBeta, cfg.groupSize);
          loss = r.loss; ratio = maskSelect(tf.exp(tf.sub(f.logprobs, oldT)), m); clip = tf.zerosLike(m); cl = tf.scalar(0); ch = tf.scalar(0); cd = tf.scalar(0);
          gvKept = [r.implicitReward, r.weight, tf.mul(cfg.gvpoBeta, maskSelect(tf.sub(f.logprobs, oldT), m))].map((t) => tf.keep(t));
        } else {
          loss = computePolicyLossReinforce(f.logprobs, advT, m, cfg.lossAgg, lossScaleFactor);
          ratio = maskSelect(tf.exp(tf.sub(f.logprobs, oldT)), m); clip = tf.zerosLike(m); cl = tf.scalar(0); ch = tf.scalar(0); cd = tf.scalar(0);
        }
        const pg = loss;
        let total: tf.Scalar = pg;
        let klL: tf.Scalar = tf.scalar(0);
        if (cfg.kl.inLoss && st.klCoef > 0) {
          klL = aggLoss(klPenalty(f.logprobs, refT, cfg.kl.estimator), m, cfg.lossAgg, lossScaleFactor);
          total = tf.add(total, tf.mul(st.klCoef, klL));
        }
        if (cfg.entropyCoef !== 0 && f.entropy) total = tf.sub(total, tf.mul(cfg.entropyCoef, aggLoss(f.entropy, m, cfg.lossAgg, lossScaleFactor)));
        let vf: tf.Scalar = tf.scalar(0), vfc: tf.Scalar = tf.scalar(0);
        if (sharedCritic && f.values) {
          const v = computeValueLoss(f.values, oldV!, retT!, m, cfg.valueClip, 'token-mean');
          vf = v.loss; vfc = v.clipFrac;
          total = tf.add(total, tf.mul(cfg.vfCoef, vf));
        }
        kept = [f.logprobs, ratio, clip, pg, cl, ch, cd, vf, vfc, klL].map((t) => tf.keep(t));
        return total as tf.Scalar;
      };
      const { value, grads } = tf.variableGrads(lossFn, policyVars);
      const lossVal = value.dataSync()[0];
      if (!Number.isFinite(lossVal)) {
        tf.dispose([...new Set<tf.Tensor>([value, ...kept]), ...gvKept, ...(gvIn ? [gvIn.rew, gvIn.G] : []), ...Object.values(grads), ids, am, m, oldT, refT, advT, ...(oldV ? [oldV] : []), ...(retT ? [retT] : [])]);
        throw new Error(`${algorithm}: loss is ${lossVal} at step ${st.step} (epoch ${epoch}, minibatch ${mb})`);
      }
      // read the diagnostics first: the returned loss may be one of the kept tensors (pg loss alone)
      const [lpK, ratioK, clipK, pgK, clK, chK, cdK, vfK, vfcK, klK] = kept;
      const lpA = rowsOf(lpK), rA = rowsOf(ratioK), cA = rowsOf(clipK);
      idx.forEach((i, j) => { lastLp[i] = lpA[j]; lastRatio[i] = rA[j]; lastClip[i] = cA[j]; });
      if (gvKept.length) {
        const [irK, wK, irTokK] = gvKept;
        const ir = vecOf(irK), w = vecOf(wK), irTok = rowsOf(irTokK);
        idx.forEach((i, j) => { gvpoImplicit[i] = ir[j]; gvpoWeight[i] = w[j]; lastImplicit[i] = irTok[j]; });
        tf.dispose(gvKept);
      }
      pgLosses.push(pgK.dataSync()[0]); clipLow.push(clK.dataSync()[0]); clipHigh.push(chK.dataSync()[0]); clipDual.push(cdK.dataSync()[0]);
      klLosses.push(klK.dataSync()[0]);
      if (sharedCritic) { vfLosses.push(vfK.dataSync()[0]); vfClip.push(vfcK.dataSync()[0]); }
      const clipped = clipByGlobalNorm(grads, cfg.gradClip);
      st.optimizer.apply(clipped.grads, st.lr);
      gradNorms.push(clipped.norm);
      tf.dispose([...new Set<tf.Tensor>([value, ...kept]), ...Object.values(grads), ...Object.values(clipped.grads)]);
      // separate critic: its own value loss and optimizer
      if (criticVars.length && st.criticOptimizer) {
        let vfc = 0;
        const cg = tf.variableGrads(() => {
          const f = responseForward(criticModel!, { ids, attentionMask: am }, P, N, { temperature: 1, values: true });
          const v = computeValueLoss(f.values!, oldV!, retT!, m, cfg.valueClip, 'token-mean');
          vfc = v.clipFrac.dataSync()[0];
          return v.loss;
        }, criticVars);
        vfLosses.push(cg.value.dataSync()[0]); vfClip.push(vfc);
        const cc = clipByGlobalNorm(cg.grads, cfg.gradClip);
        st.criticOptimizer.apply(cc.grads, cfg.criticLr);
        tf.dispose([cg.value, ...Object.values(cg.grads), ...Object.values(cc.grads)]);
      }
      tf.dispose([ids, am, m, oldT, refT, advT, ...(oldV ? [oldV] : []), ...(retT ? [retT] : []), ...(gvIn ? [gvIn.rew, gvIn.G] : [])]);
    }
  }
  // (no null values for *loss* keys: the engine treats a null/NaN loss as divergence; absent = not applicable)
  const metrics: Record<string, number | null> = {};
  metrics['pg_loss'] = mean(pgLosses);
  if (cfg.kl.inLoss) metrics['kl_loss'] = mean(klLosses);
  if (vfLosses.length) { metrics['vf_loss'] = mean(vfLosses); metrics['vf_clipfrac'] = mean(vfClip); }
  metrics['clip_ratio/low_mean'] = mean(clipLow);
  metrics['clip_ratio/high_mean'] = mean(clipHigh);
  metrics['clip_ratio/region_mean'] = mean(clipLow) + mean(clipHigh);
  metrics['clip_ratio/dual_mean'] = mean(clipDual);
  metrics['grad_norm'] = mean(gradNorms);
  if (gvpo) {
    // the implicit reward R_θ = β·Σ_t(log π_θ − log π_old) and the weight w = (R − R̄) − (R_θ − R̄_θ) at each sample's last update
    metrics['gvpo/implicit_reward/mean'] = mean(gvpoImplicit);
    metrics['gvpo/implicit_reward/std'] = std(gvpoImplicit);
    metrics['gvpo/weight/rms'] = Math.sqrt(mean(gvpoWeight.map((w) => w * w)));
  }
  return { logprob: lastLp, ratio: lastRatio, clip: lastClip, metrics, ...(gvpo ? { implicitReward: lastImplicit } : {}) };
}

/**
 * GVPO's minibatch `mb` of `miniBatches`: whole groups (its loss centres within each group), in the order their first
 * member appears in the shuffled `order`; ⌈K / miniBatches⌉ groups each. → sample indices.
 */
function wholeGroupMinibatch(order: readonly number[], group: readonly string[], miniBatches: number, mb: number): number[] {
  const groups: string[] = [];
  const members = new Map<string, number[]>();
  for (const i of order) {
    const g = group[i];
    if (!members.has(g)) { members.set(g, []); groups.push(g); }
    members.get(g)!.push(i);
  }
  const per = Math.ceil(groups.length / miniBatches);
  return groups.slice(mb * per, (mb + 1) * per).flatMap((g) => members.get(g)!);
}

/**
 * Phase 4: the step as the run stores it. Groups with their statistics (phase 2), every kept sample with its text,
 * tokens, reward parts and sequence advantage, and per sample the per-token arrays this algorithm computed, unpadded
 * (each sample's own length): `value` only with a critic, `return` only for estimators that compute returns.
 * What the drill-down needs to recompute the credit goes into header.params.
 */
function trace(algorithm: string, cfg: RlConfig, st: StepState, ro: RolloutResult, tok: RlTokenizer, stats: Map<string, GroupStat>, prep: Prepared | undefined, upd: Updated | undefined, metrics: Record<string, number | null>): RolloutStepInput {
  const groups: RolloutGroup[] = ro.groups.map((g) => {
    const s = stats.get(g.id);
    return {
      id: g.id, prompt: g.prompt, ...(g.answer !== undefined ? { answer: g.answer } : {}), samples: g.samples, rewards: g.rewards,
      mean: s?.mean ?? NaN, std: s?.std ?? NaN,
      ...(s?.baseline !== undefined ? { baseline: s.baseline } : {}), ...(s?.baselines ? { baselines: s.baselines } : {}), ...(s?.scores ? { scores: s.scores } : {}),
      filtered: Boolean(s?.filtered), ...(s?.filterReason ? { filterReason: s.filterReason } : {}),
      ...(g.hint !== undefined ? { hint: g.hint, hintRatio: g.hintRatio, hintStage: g.hintStage } : {}),
    };
  });
  const samples: RolloutSampleInput[] = ro.samples.map((s, i) => ({
    group: s.group, prompt: s.item.prompt, completion: s.completion, tokens: tok.display(s.tokens), tokenIds: s.tokens,
    reward: s.score, rewardParts: { ...s.reward.parts, ...(cfg.overlong.enabled ? { overlong: s.overlong } : {}), ...(cfg.lengthPenalty.coef ? { length_penalty: s.lengthPen } : {}) },
    ...(prep?.seqAdv ? { advantage: prep.seqAdv[i] } : {}), length: s.tokens.length, truncated: !s.finished,
    ...(s.hint !== undefined ? { hint: s.hint, hintRatio: s.hintRatio } : {}), ...(s.eepoStage ? { eepoStage: s.eepoStage } : {}),
    // multi-turn episodes: the turns, with GiGPO's step group, step return and advantages per turn
    ...(s.turns ? { turns: s.turns.map((t, k) => ({ ...t, ...(prep?.gigpo ? { stepGroup: prep.gigpo.out.stepGroups[i][k], stepReturn: prep.gigpo.out.stepReturns[i][k], stepAdvantage: prep.gigpo.out.stepAdvantages[i][k], episodeAdvantage: prep.gigpo.out.episodeAdvantages[i], advantage: prep.gigpo.out.advantages[i][k] } : {}) })) } : {}),
    // rollout trees (Tree-GRPO, ARPO): tree id, parent sample, branch point and the algorithm's branch numbers
    ...(s.tree ? { tree: { ...s.tree, ...(prep?.treeGrpo ? { advIntra: prep.treeGrpo.intra[i], advInter: prep.treeGrpo.inter[i] } : {}) } } : {}),
  }));
  const arrays = prep && upd ? ro.samples.map((s, b) => {
    const L = s.tokens.length;
    const cut = (row: number[]) => row.slice(0, L);
    const a: Record<string, number[]> = {
      logprob: cut(upd.logprob[b]), old_logprob: cut(prep.old[b]), ref_logprob: cut(prep.ref[b]), kl: cut(prep.kl[b]), token_reward: cut(prep.tokenRewards[b]),
      advantage: cut(prep.adv[b]), ratio: cut(upd.ratio[b]), clip: cut(upd.clip[b]), entropy: cut(prep.entropy[b]), mask: s.lossMask ? s.lossMask.slice(0, L) : new Array<number>(L).fill(1),
    };
    // multi-turn episodes: 1 = the policy's token, 0 = the environment's (tool output; no gradient, dimmed in the heatmap)
    if (s.lossMask) a.loss_mask = s.lossMask.slice(0, L);
    if (s.stepEnds) {
      // process rewards: where each step ends and its reward (the heatmap shows steps and their scores)
      a.step_boundary = new Array<number>(L).fill(0);
      a.step_reward = new Array<number>(L).fill(NaN);
      s.stepEnds.forEach((e, j) => { if (e < L) { a.step_boundary[e] = 1; a.step_reward[e] = s.stepRewards![j]; } });
    }
    if (prep.values) a.value = cut(prep.values[b]);
    if (prep.returns) a.return = cut(prep.returns[b]);
    // GVPO: β·(log π_θ − log π_old) per token at the sample's last update (Σ_t = its implicit reward R_θ)
    if (upd.implicitReward) a.implicit_reward = cut(upd.implicitReward[b]);
    // EEPO: the complementary loss −log(1 − π) of the first-stage tokens (what the unlearning step minimised; 0 in stage 2)
    if (cfg.eepo?.enabled) a.eepo_forget = cut(s.forgetLoss ?? new Array<number>(L).fill(0));
    return a;
  }) : ro.samples.map(() => ({}));
  const params: Record<string, number | string | boolean> = {
    algorithm, advantage: cfg.advantage, policyLoss: cfg.policyLoss, clipLow: cfg.clipLow, clipHigh: cfg.clipHigh, lossAgg: cfg.lossAgg,
    gamma: cfg.gamma, lambda: cfg.lambda, beta: metrics['kl_coef'] ?? st.klCoef, klEstimator: cfg.kl.estimator, klInReward: cfg.kl.inReward,
    klInLoss: cfg.kl.inLoss, eps: cfg.advEps, groupSize: cfg.groupSize, temperature: cfg.temperature, lr: metrics['lr'] ?? st.lr,
  };
  if (cfg.dualClip !== null) params.dualClip = cfg.dualClip;
  if (cfg.policyLoss === 'gvpo') params.gvpoBeta = cfg.gvpoBeta;
  if (cfg.advantage === 'gigpo') { params.gigpoOmega = cfg.gigpo.omega; params.gigpoGamma = cfg.gigpo.gamma; params.gigpoMode = cfg.gigpo.mode; }
  if (algorithm === 'tree_grpo') { params.treeTrees = cfg.treeGrpo.trees; params.treeExpandNodes = cfg.treeGrpo.expandNodes; params.treeIterations = cfg.treeGrpo.iterations; params.treeLeavesPerTree = cfg.treeGrpo.leavesPerTree ?? 1 + cfg.treeGrpo.iterations * cfg.treeGrpo.expandNodes; }
  if (algorithm === 'arpo') { const b = arpoBudget(cfg); Object.assign(params, { arpoBudget: b.M, arpoInitial: b.N, arpoEntropyTokens: cfg.arpo.entropyTokens, arpoAlpha: cfg.arpo.alpha ?? 'uniform', arpoBeta: cfg.arpo.beta, arpoTau: cfg.arpo.tau, arpoBranches: cfg.arpo.branches, arpoBranchAt: cfg.arpo.branchAt, arpoAttribution: cfg.arpo.attribution }); }
  if (ro.samples.some((s) => s.turns)) { params.envMaxTurns = cfg.env.maxTurns; params.envMaxTokens = cfg.env.maxTokens; }
  if (algorithm === 'grpo_lambda') { params.grpoLambda = cfg.grpoLambda.lambda; params.grpoLambdaPenalty = cfg.grpoLambda.penalty; params.grpoLambdaAlpha = cfg.grpoLambda.alpha; params.grpoLambdaSkipUnsolved = cfg.grpoLambda.skipUnsolved; }
  return { header: { step: st.step, algorithm, arrays: arrayNamesOf(arrays), groups, params }, samples, arrays };
}
