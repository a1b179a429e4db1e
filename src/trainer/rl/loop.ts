/**
 * The online RL training loop: steps of rollout + update (step.ts), KL-coefficient control, learning-rate schedule,
 * metrics per step, per-token traces with retention, eval pass@k every N steps.
 *
 * Trace retention (cfg.traces): every step writes rollouts/step_X.jsonl with the groups (rewards, mean, std,
 * baseline, filtered + reason) and every sample's text, tokens, reward parts and advantage (the "summary");
 * per-token arrays (.f32) are written every `fullEvery` steps (0 = never) for at most `maxSamples` samples
 * (whole groups first; `subsampled: true` in the header when cut).
 */
import * as tf from '@tensorflow/tfjs-core';
import { GPT } from '../model/gpt';
import { AdamW } from '../optim';
import { Rng } from '../rng';
import { adaptiveBetaUpdate, AdaptiveKLController, warmupCosineLr } from '../algorithms/control';
import type { RolloutGroup, RolloutSampleInput } from '../../shared/runFormat';
import { resolveRlConfig, type RlAlgorithm, type RlConfig } from './config';
import { evaluatePolicy, type EvalResult } from './eval';
import { rlStep, type StepResult } from './step';
import type { RlContext } from './types';

export const TRACE_ARRAYS = ['logprob', 'old_logprob', 'ref_logprob', 'kl', 'token_reward', 'value', 'return', 'advantage', 'ratio', 'clip', 'entropy', 'mask'];

export interface RlRunResult {
  steps: number;
  evals: { step: number; result: EvalResult }[];
  metrics: Record<string, number | null>[];
  stopped: boolean;
  seconds: number;
}

/** Policy with a value head on the same trunk (shared critic), a copy with zero-initialised value head if needed. */
export function withValueHead(model: GPT, trainable = true): GPT {
  if (model.config.valueHead) return model;
  const w = model.getWeights();
  const D = model.config.dModel;
  w['value_head.weight'] = { shape: [D, 1], data: new Float32Array(D) };
  w['value_head.bias'] = { shape: [1], data: new Float32Array(1) };
  return GPT.fromWeights({ ...model.config, valueHead: true }, w, trainable);
}

/** Write one step's rollouts (summary always, per-token arrays when `full`). */
export function writeStepTraces(ctx: RlContext, algorithm: string, cfg: RlConfig, step: number, r: StepResult, full: boolean): string | undefined {
  if (!ctx.writer) return undefined;
  const S = r.rollout.samples;
  const tok = ctx.tokenizer;
  // choose the samples to keep: whole groups in order until maxSamples
  let keepIdx = S.map((_, i) => i);
  let subsampled = false;
  if (full && cfg.traces.maxSamples > 0 && S.length > cfg.traces.maxSamples) {
    keepIdx = [];
    for (const g of r.rollout.groups) {
      if (keepIdx.length + g.samples.length > cfg.traces.maxSamples) break;
      keepIdx.push(...g.samples);
    }
    subsampled = true;
  }
  const pos = new Map<number, number>();
  keepIdx.forEach((i, j) => pos.set(i, j));
  const groups: RolloutGroup[] = r.rollout.groups.map((g) => {
    const st = r.groupStats.get(g.id);
    return {
      id: g.id, prompt: g.prompt, answer: g.answer, samples: g.samples.filter((i) => pos.has(i)).map((i) => pos.get(i)!),
      rewards: g.rewards, mean: st?.mean ?? NaN, std: st?.std ?? NaN, ...(st?.baseline !== undefined ? { baseline: st.baseline } : {}),
      filtered: Boolean(st?.filtered), ...(st?.filterReason ? { filterReason: st.filterReason } : {}),
    };
  });
  const samples: RolloutSampleInput[] = keepIdx.map((i) => {
    const s = S[i];
    return {
      group: s.group, prompt: s.item.prompt, completion: s.completion, tokens: tok.display(s.tokens), tokenIds: s.tokens,
      reward: s.score, rewardParts: { ...s.reward.parts, ...(cfg.overlong.enabled ? { overlong: s.overlong } : {}), ...(cfg.lengthPenalty.coef ? { length_penalty: s.lengthPen } : {}) },
      ...(r.seqAdvantages ? { advantage: r.seqAdvantages[i] } : {}), length: s.tokens.length, truncated: !s.finished,
    };
  });
  const params: Record<string, number | string | boolean> = {
    algorithm, advantage: cfg.advantage, policyLoss: cfg.policyLoss, clipLow: cfg.clipLow, clipHigh: cfg.clipHigh, lossAgg: cfg.lossAgg,
    gamma: cfg.gamma, lambda: cfg.lambda, beta: r.metrics['kl_coef'] ?? 0, klEstimator: cfg.kl.estimator, klInReward: cfg.kl.inReward,
    klInLoss: cfg.kl.inLoss, eps: cfg.advEps, groupSize: cfg.groupSize, temperature: cfg.temperature, lr: r.metrics['lr'] ?? 0,
  };
  if (cfg.dualClip !== null) params.dualClip = cfg.dualClip;
  const arrays = full ? keepIdx.map((i) => r.traces[i]) : keepIdx.map(() => ({}));
  return ctx.writer.writeRolloutStep({ step, algorithm, arrays: full ? TRACE_ARRAYS : [], groups, params, subsampled }, samples, arrays);
}

/**
 * Train `ctx.policy` with `algorithm`. `userRl` is the config's `rl` section (validated here).
 * The caller owns the models (and disposes them).
 */
export function runRl(ctx: RlContext, algorithm: RlAlgorithm, userRl: unknown): RlRunResult {
  const cfg = resolveRlConfig(algorithm, userRl);
  return runRlResolved(ctx, algorithm, cfg);
}

export function runRlResolved(ctx: RlContext, algorithm: RlAlgorithm, cfg: RlConfig): RlRunResult {
  const t0 = Date.now();
  const rng = new Rng(ctx.seed ^ 0x5eed);
  const log = ctx.log ?? (() => undefined);
  const needValues = cfg.advantage === 'gae';
  if (needValues && cfg.critic === 'shared' && !ctx.policy.config.valueHead) throw new Error(`${algorithm}: critic "shared" needs a policy with a value head (use withValueHead(policy))`);
  if (needValues && cfg.critic === 'separate' && !ctx.critic) throw new Error(`${algorithm}: critic "separate" needs ctx.critic (a model with a value head)`);
  const optimizer = new AdamW(ctx.policy.trainableVariables(), { weightDecay: cfg.weightDecay });
  const criticOptimizer = needValues && cfg.critic === 'separate' ? new AdamW(ctx.critic!.trainableVariables(), {}) : undefined;
  const adaptive = cfg.kl.controller === 'adaptive' ? new AdaptiveKLController(cfg.kl.coef, cfg.kl.target, cfg.kl.horizon) : undefined;
  const st = { step: 0, lr: cfg.lr, klCoef: cfg.kl.coef, optimizer, criticOptimizer };
  const evals: RlRunResult['evals'] = [];
  const all: Record<string, number | null>[] = [];
  const evalOpts = { prompts: cfg.eval.prompts, samples: cfg.eval.samples, temperature: cfg.eval.temperature, k: cfg.eval.k, maxNewTokens: cfg.maxNewTokens, seed: ctx.seed + 777 };
  const doEval = (step: number) => {
    const e = evaluatePolicy(ctx.policy, ctx.task, ctx.tokenizer, evalOpts);
    evals.push({ step, result: e });
    ctx.writer?.evalRecord({ step, time: (Date.now() - t0) / 1000, passAtK: e.passAtK, samplesPerPrompt: e.samplesPerPrompt, numPrompts: e.numPrompts, meanReward: e.meanReward });
    const vals: Record<string, number | null> = { 'eval/reward/mean': e.meanReward };
    for (const [k, v] of Object.entries(e.passAtK)) vals[`eval/pass@${k}`] = v;
    ctx.writer?.metrics({ step, time: (Date.now() - t0) / 1000, split: 'eval', values: vals });
    ctx.onEval?.(step, e.passAtK, e.meanReward);
    log(`eval step ${step}: ${Object.entries(e.passAtK).map(([k, v]) => `pass@${k} ${(100 * v).toFixed(1)}%`).join('  ')}  reward ${e.meanReward.toFixed(3)}`);
  };
  if (cfg.eval.every > 0) doEval(0);
  let stopped = false;
  let step = 0;
  try {
    for (step = 1; step <= cfg.steps; step++) {
      st.step = step;
      st.lr = warmupCosineLr(step - 1, { lr: cfg.lr, warmupSteps: cfg.warmupSteps, totalSteps: cfg.steps, minLrRatio: cfg.minLrRatio });
      const before = tf.memory().numTensors;
      const r = rlStep(algorithm, cfg, st, ctx.policy, ctx.ref, ctx.critic, ctx.task, ctx.tokenizer, rng);
      r.metrics['num_tensors'] = tf.memory().numTensors - before;
      // KL coefficient control on the step's KL (verl uses the mean per-token KL of the batch)
      const klNow = r.metrics['kl/k1'] ?? 0;
      if (adaptive) st.klCoef = adaptive.update(klNow as number, cfg.promptsPerStep * cfg.groupSize);
      else if (cfg.kl.controller === 'adaptive_beta') st.klCoef = adaptiveBetaUpdate(st.klCoef, r.metrics['kl'] as number, { target: cfg.kl.target, rate: cfg.kl.rate });
      all.push(r.metrics);
      const full = cfg.traces.fullEvery > 0 && (step % cfg.traces.fullEvery === 0 || step === cfg.steps || step === 1);
      writeStepTraces(ctx, algorithm, cfg, step, r, full);
      ctx.writer?.metrics({ step, time: (Date.now() - t0) / 1000, split: 'train', values: r.metrics });
      ctx.onStep?.(step, r.metrics);
      const m = r.metrics;
      log(`step ${step}/${cfg.steps}  reward ${(m['reward/mean'] as number).toFixed(3)}  kl ${Number(m['kl']).toExponential(2)}  entropy ${Number(m['entropy']).toFixed(3)}  len ${Number(m['response_length/mean']).toFixed(1)}  ${Number(m['tokens_per_s']).toFixed(0)} tok/s  ${Number(m['step_time']).toFixed(2)} s`);
      if (cfg.eval.every > 0 && (step % cfg.eval.every === 0 || step === cfg.steps)) doEval(step);
      if (ctx.shouldStop?.()) { stopped = true; break; }
    }
  } finally {
    optimizer.dispose();
    criticOptimizer?.dispose();
  }
  return { steps: Math.min(step, cfg.steps), evals, metrics: all, stopped, seconds: (Date.now() - t0) / 1000 };
}
