/**
 * One RL step: rollout → old / ref log-probs (and values) → rewards per token → advantages → ppoEpochs × miniBatches
 * updates with grad clipping → metrics and per-token traces. All math comes from src/trainer/algorithms.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { GPT } from '../model/gpt';
import { AdamW, clipByGlobalNorm } from '../optim';
import type { Rng } from '../rng';
import { klPenalty } from '../algorithms/kl';
import {
  broadcastToTokens, computeGaeAdvantageReturn, computeOutcomeAdvantage, computeReinforcePlusPlusOutcomeAdvantage, groupIndex, groupMatrix,
} from '../algorithms/advantages';
import { aggLoss, computePolicyLossGeoMean, computePolicyLossGspo, computePolicyLossReinforce, computePolicyLossVanilla, computeValueLoss } from '../algorithms/losses';
import { applyKlPenalty, placeAtLastToken } from '../algorithms/rewards';
import { maskSelect, maskedMean } from '../algorithms/masked';
import type { RlConfig, RlAlgorithm } from './config';
import { pack, responseForward, rollout, type RolloutResult, type RolloutSample } from './rollout';
import { explainedVariance, mean, skew, std } from './stats';
import type { RlTask, RlTokenizer } from './types';

export interface StepState {
  step: number;
  lr: number;
  klCoef: number;
  optimizer: AdamW;
  criticOptimizer?: AdamW;
}

/** Per-sample per-token arrays for the trace (length = sample's response length). */
export type TokenTrace = Record<string, number[]>;

export interface StepResult {
  metrics: Record<string, number | null>;
  rollout: RolloutResult;
  traces: TokenTrace[];
  /** per kept sample: sequence-level advantage (outcome methods) */
  seqAdvantages?: number[];
  groupStats: Map<string, { mean: number; std: number; baseline?: number; filtered?: boolean; filterReason?: string }>;
}

const rowsOf = (t: tf.Tensor) => t.arraySync() as number[][];

function sliceRows(m: number[][], idx: number[]): number[][] { return idx.map((i) => m[i]); }

/**
 * Run one step. `policy` is updated in place (and `critic` when separate).
 */
export function rlStep(
  algorithm: RlAlgorithm, cfg: RlConfig, st: StepState, policy: GPT, ref: GPT, critic: GPT | undefined, task: RlTask, tok: RlTokenizer, rng: Rng,
): StepResult {
  const t0 = Date.now();
  const ro = rollout(policy, task, tok, cfg, rng, st.step);
  const S = ro.samples;
  const metrics: Record<string, number | null> = {};
  const groupStats: StepResult['groupStats'] = new Map();
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
  if (S.length === 0) {
    // every group was dropped by dynamic sampling: nothing to learn from this step (no update, no loss)
    metrics['groups/filtered'] = ro.groups.length;
    metrics['step_time'] = (Date.now() - t0) / 1000;
    for (const g of ro.groups) groupStats.set(g.id, { mean: mean(g.rewards), std: std(g.rewards), filtered: true, filterReason: g.filterReason });
    return { metrics, rollout: ro, traces: [], groupStats };
  }

  const pk = pack(S);
  const { P, N } = pk;
  const B = S.length;
  const needValues = cfg.advantage === 'gae';
  const sharedCritic = needValues && cfg.critic === 'shared';
  const criticModel = needValues ? (sharedCritic ? policy : critic) : undefined;
  if (needValues && !criticModel?.config.valueHead) throw new Error('ppo: the critic has no value head');

  // ---- old log-probs, entropy, values (rollout policy) and reference log-probs: no gradients
  const pre = tf.tidy(() => {
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
    const k3 = maskSelect(klPenalty(o.logprobs, r.logprobs, 'k3'), mask);
    const k1 = maskSelect(klPenalty(o.logprobs, r.logprobs, 'k1'), mask);
    // advantages
    let adv: tf.Tensor2D;
    let returns: tf.Tensor2D | undefined;
    let seqAdv: tf.Tensor1D | undefined;
    const { index, keys } = groupIndex(S.map((s) => s.group));
    const G = groupMatrix(index, keys.length);
    if (cfg.advantage === 'gae') {
      const g = computeGaeAdvantageReturn(tokenRewards, values!, mask, cfg.gamma, cfg.lambda, true);
      adv = g.advantages; returns = g.returns;
    } else if (cfg.advantage === 'reinforce_pp') {
      const g = computeReinforcePlusPlusOutcomeAdvantage(tokenRewards, mask, cfg.gamma);
      adv = g.advantages; returns = g.returns;
    } else {
      // outcome estimators use the sequence reward (Σ token rewards: score − β·Σ KL when the KL is in the reward, as TRL RLOO)
      const seqScore = tf.sum(tokenRewards, 1) as tf.Tensor1D;
      seqAdv = computeOutcomeAdvantage(cfg.advantage, seqScore, G, cfg.advEps);
      adv = broadcastToTokens(seqAdv, mask);
    }
    return {
      old: o.logprobs, ref: r.logprobs, entropy: o.entropy!, values, tokenRewards, klTok, k3, k1, adv, returns, seqAdv, mask,
    };
  });

  const mask = rowsOf(pre.mask);
  const old = rowsOf(pre.old), refLp = rowsOf(pre.ref), ent = rowsOf(pre.entropy), kl = rowsOf(pre.klTok);
  const tokR = rowsOf(pre.tokenRewards);
  let adv = rowsOf(pre.adv);
  const values = pre.values ? rowsOf(pre.values) : undefined;
  const returns = pre.returns ? rowsOf(pre.returns) : undefined;
  const seqAdv = pre.seqAdv ? Array.from(pre.seqAdv.dataSync()) : undefined;
  const klMean = maskedMean(pre.k3, pre.mask), k1Mean = maskedMean(pre.k1, pre.mask), entMean = maskedMean(pre.entropy, pre.mask);
  metrics['kl'] = klMean.dataSync()[0];
  metrics['kl/k1'] = k1Mean.dataSync()[0];
  metrics['entropy'] = entMean.dataSync()[0];
  tf.dispose([klMean, k1Mean, entMean]);
  tf.dispose(Object.values(pre).filter((x): x is tf.Tensor => x instanceof tf.Tensor));

  // ---- group statistics for traces, zero-variance filter
  for (const g of ro.groups) {
    const rs = g.rewards;
    const n = rs.length;
    const m = mean(rs);
    const sd = n > 1 ? Math.sqrt(rs.reduce((a, b) => a + (b - m) ** 2, 0) / (n - 1)) : 1; // unbiased, as the estimator
    const info: { mean: number; std: number; baseline?: number; filtered?: boolean; filterReason?: string } = { mean: m, std: sd, filtered: g.filtered, filterReason: g.filterReason };
    if (['grpo', 'dr_grpo', 'rloo', 'gae'].includes(cfg.advantage)) info.baseline = cfg.advantage === 'gae' ? undefined : m;
    if (!g.filtered) {
      if (cfg.zeroVarianceFilter !== null && n > 1 && sd <= cfg.zeroVarianceFilter) {
        info.filtered = true; info.filterReason = 'zero_variance';
        for (const i of g.samples) { adv[i] = adv[i].map(() => 0); if (seqAdv) seqAdv[i] = 0; }
      } else if (cfg.advantage === 'reinforce_rej' && n > 1 && rs.every((r) => r === rs[0])) {
        info.filtered = true; info.filterReason = 'rejection';
      }
    }
    groupStats.set(g.id, info);
  }
  metrics['groups/filtered'] = [...groupStats.values()].filter((g) => g.filtered).length;

  const advFlat: number[] = [];
  for (let b = 0; b < B; b++) for (let t = 0; t < N; t++) if (mask[b][t]) advFlat.push(adv[b][t]);
  metrics['advantages/mean'] = mean(advFlat);
  metrics['advantages/std'] = std(advFlat);
  metrics['advantages/skew'] = skew(advFlat);
  metrics['advantages/max'] = advFlat.length ? Math.max(...advFlat) : 0;
  metrics['advantages/min'] = advFlat.length ? Math.min(...advFlat) : 0;
  if (returns && values) {
    const vv: number[] = [], rr: number[] = [];
    for (let b = 0; b < B; b++) for (let t = 0; t < N; t++) if (mask[b][t]) { vv.push(values[b][t]); rr.push(returns[b][t]); }
    metrics['vf_explained_var'] = explainedVariance(vv, rr);
    metrics['values/mean'] = mean(vv);
    metrics['returns/mean'] = mean(rr);
  }

  // ---- updates: ppoEpochs × miniBatches
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
  for (let epoch = 0; epoch < cfg.ppoEpochs; epoch++) {
    rng.shuffle(order);
    for (let mb = 0; mb < cfg.miniBatches; mb++) {
      const idx = order.slice(mb * mbSize, (mb + 1) * mbSize);
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
        tf.dispose([...new Set<tf.Tensor>([value, ...kept]), ...Object.values(grads), ids, am, m, oldT, refT, advT, ...(oldV ? [oldV] : []), ...(retT ? [retT] : [])]);
        throw new Error(`${algorithm}: loss is ${lossVal} at step ${st.step} (epoch ${epoch}, minibatch ${mb})`);
      }
      // read the diagnostics first: the returned loss may be one of the kept tensors (pg loss alone)
      const [lpK, ratioK, clipK, pgK, clK, chK, cdK, vfK, vfcK, klK] = kept;
      const lpA = rowsOf(lpK), rA = rowsOf(ratioK), cA = rowsOf(clipK);
      idx.forEach((i, j) => { lastLp[i] = lpA[j]; lastRatio[i] = rA[j]; lastClip[i] = cA[j]; });
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
      tf.dispose([ids, am, m, oldT, refT, advT, ...(oldV ? [oldV] : []), ...(retT ? [retT] : [])]);
    }
  }
  // (no null values for *loss* keys: the engine treats a null/NaN loss as divergence; absent = not applicable)
  metrics['pg_loss'] = mean(pgLosses);
  if (cfg.kl.inLoss) metrics['kl_loss'] = mean(klLosses);
  if (vfLosses.length) { metrics['vf_loss'] = mean(vfLosses); metrics['vf_clipfrac'] = mean(vfClip); }
  metrics['clip_ratio/low_mean'] = mean(clipLow);
  metrics['clip_ratio/high_mean'] = mean(clipHigh);
  metrics['clip_ratio/region_mean'] = mean(clipLow) + mean(clipHigh);
  metrics['clip_ratio/dual_mean'] = mean(clipDual);
  metrics['grad_norm'] = mean(gradNorms);
  metrics['lr'] = st.lr;
  metrics['kl_coef'] = st.klCoef;
  const dt = (Date.now() - t0) / 1000;
  metrics['step_time'] = dt;
  metrics['timing/gen_s'] = ro.genSeconds;
  metrics['tokens_per_s'] = ro.generatedTokens / Math.max(dt, 1e-9);

  // ---- per-token traces (unpadded: each sample's own length)
  const traces: TokenTrace[] = S.map((s: RolloutSample, b) => {
    const L = s.tokens.length;
    const cut = (row: number[] | undefined) => (row ? row.slice(0, L) : new Array<number>(L).fill(NaN));
    const klRow = cut(kl[b]);
    return {
      logprob: cut(lastLp[b]), old_logprob: cut(old[b]), ref_logprob: cut(refLp[b]), kl: klRow, token_reward: cut(tokR[b]),
      value: cut(values?.[b]), return: cut(returns?.[b]), advantage: cut(adv[b]), ratio: cut(lastRatio[b]), clip: cut(lastClip[b]),
      entropy: cut(ent[b]), mask: new Array<number>(L).fill(1),
    };
  });
  return { metrics, rollout: ro, traces, seqAdvantages: seqAdv, groupStats };
}
