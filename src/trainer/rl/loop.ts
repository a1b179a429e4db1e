/**
 * The online RL training loop: steps of rollout + update (step.ts), KL-coefficient control, learning-rate schedule,
 * metrics per step, per-token traces with retention, eval pass@k every N steps.
 *
 * Trace retention is the run's `rollouts` section (RolloutRetention, src/shared/rolloutStep.ts, one rule for every
 * algorithm): every step may write rollouts/step_X.jsonl with the groups (rewards, mean, std, baseline, filtered +
 * reason) and every sample's text, tokens, reward parts and advantage (the "summary"); per-token arrays (.f32) are
 * kept on step 1 and every `every`-th step, for at most `maxSamples` samples (whole groups first).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { CausalLM } from '../model/types';
import { AdamW } from '../optim';
import { Rng } from '../rng';
import { adaptiveBetaUpdate, AdaptiveKLController, warmupCosineLr } from '../algorithms/control';
import { isFullTraceStep, retainWholeGroups, type RolloutRetention, type RolloutStepInput } from '../../shared/rolloutStep';
import { resolveRlConfig, type RlAlgorithm, type RlConfig } from './config';
import { evaluatePolicy, type EvalResult } from './eval';
import { rlStep } from './step';
import type { RlContext } from './types';

/** Retention without an engine (tests, compare): per-token arrays every step, at most 256 samples. */
export const STANDALONE_RETENTION: RolloutRetention = { every: 1, maxSamples: 256 };

export interface RlRunResult {
  steps: number;
  evals: { step: number; result: EvalResult }[];
  metrics: Record<string, number | null>[];
  stopped: boolean;
  seconds: number;
}

/** Policy with a value head on the same trunk (shared critic): the model itself when it has one, else a copy with a
 *  zero-initialised value head (GPT.withValueHead, Llama.withValueHead). */
export function withValueHead<M extends CausalLM>(model: M, trainable = true): M {
  // each family's withValueHead returns its own class (GPT → GPT, Llama → Llama), the model itself when it has one
  return model.withValueHead(trainable) as M;
}

/**
 * Where a run's outputs go. The engine plug-in (register.ts) maps these to its TrainContext (metrics.jsonl, events,
 * rollouts retention, eval, checkpoints); standalone use (tests, compare) gets the defaults below.
 */
export interface RlHooks {
  optimizer?: AdamW;
  lr?: (step: number) => number;
  /** evaluate now (pass@k); returns pass@k and mean reward */
  evaluate?: (step: number) => { passAtK: Record<string, number>; meanReward?: number };
  evalStep?: (step: number) => boolean;
  evalAtStart?: boolean;
  /** does this step keep per-token arrays? (default: isFullTraceStep with `retention`) */
  traceStep?: (step: number) => boolean;
  /** standalone retention (default STANDALONE_RETENTION); runs get theirs from the engine (`rollouts` section) */
  retention?: RolloutRetention;
  /** write the step's rollouts; `full` = the per-token arrays are included (else `arrays` is all `{}`) */
  rollout?: (step: number, rollout: RolloutStepInput, full: boolean) => void;
  step?: (step: number, metrics: Record<string, number | null>) => void;
  /** let the event loop run once per step (the engine's ctx.yield), so SIGTERM and {"type":"stop"} are seen */
  yield?: () => Promise<void>;
}

/**
 * Train `ctx.policy` with `algorithm`. `userRl` is the config's `rl` section (validated here).
 * The caller owns the models (and disposes them).
 */
export async function runRl(ctx: RlContext, algorithm: RlAlgorithm, userRl: unknown, hooks: RlHooks = {}): Promise<RlRunResult> {
  const cfg = resolveRlConfig(algorithm, userRl);
  return runRlResolved(ctx, algorithm, cfg, hooks);
}

/** The step's rollouts without per-token arrays (a summary step): header.arrays empty, `{}` per sample. */
export function withoutArrays(r: RolloutStepInput): RolloutStepInput {
  return { header: { ...r.header, arrays: [] }, samples: r.samples, arrays: r.samples.map(() => ({})) };
}

export async function runRlResolved(ctx: RlContext, algorithm: RlAlgorithm, cfg: RlConfig, hooks: RlHooks = {}): Promise<RlRunResult> {
  const t0 = Date.now();
  const rng = new Rng(ctx.seed ^ 0x5eed);
  const log = ctx.log ?? (() => undefined);
  const needValues = cfg.advantage === 'gae';
  if (needValues && cfg.critic === 'shared' && !ctx.policy.config.valueHead) throw new Error(`${algorithm}: critic "shared" needs a policy with a value head (use withValueHead(policy))`);
  if (needValues && cfg.critic === 'separate' && !ctx.critic) throw new Error(`${algorithm}: critic "separate" needs ctx.critic (a model with a value head)`);
  const ownOptimizer = !hooks.optimizer;
  const optimizer = hooks.optimizer ?? new AdamW(ctx.policy.trainableVariables(), { weightDecay: cfg.weightDecay });
  const criticOptimizer = needValues && cfg.critic === 'separate' ? new AdamW(ctx.critic!.trainableVariables(), {}) : undefined;
  const adaptive = cfg.kl.controller === 'adaptive' ? new AdaptiveKLController(cfg.kl.coef, cfg.kl.target, cfg.kl.horizon) : undefined;
  const st = { step: 0, lr: cfg.lr, klCoef: cfg.kl.coef, optimizer, criticOptimizer };
  const evals: RlRunResult['evals'] = [];
  const all: Record<string, number | null>[] = [];
  const evalOpts = { prompts: cfg.eval.prompts, samples: cfg.eval.samples, temperature: cfg.eval.temperature, k: cfg.eval.k, maxNewTokens: cfg.maxNewTokens, seed: ctx.seed + 777, env: cfg.env };
  const doEval = (step: number) => {
    if (hooks.evaluate) {
      const e = hooks.evaluate(step);
      evals.push({ step, result: { passAtK: e.passAtK, meanReward: e.meanReward ?? NaN, samplesPerPrompt: 0, numPrompts: 0, items: [] } });
      return;
    }
    const e = evaluatePolicy(ctx.policy, ctx.task, ctx.tokenizer, evalOpts);
    evals.push({ step, result: e });
    ctx.writer?.evalRecord({ step, time: (Date.now() - t0) / 1000, passAtK: e.passAtK, samplesPerPrompt: e.samplesPerPrompt, numPrompts: e.numPrompts, meanReward: e.meanReward });
    const vals: Record<string, number | null> = { 'eval/reward/mean': e.meanReward };
    for (const [k, v] of Object.entries(e.passAtK)) vals[`eval/pass@${k}`] = v;
    ctx.writer?.metrics({ step, time: (Date.now() - t0) / 1000, split: 'eval', values: vals });
    ctx.onEval?.(step, e.passAtK, e.meanReward);
    log(`eval step ${step}: ${Object.entries(e.passAtK).map(([k, v]) => `pass@${k} ${(100 * v).toFixed(1)}%`).join('  ')}  reward ${e.meanReward.toFixed(3)}`);
  };
  const evalStep = hooks.evalStep ?? ((s: number) => cfg.eval.every > 0 && (s % cfg.eval.every === 0 || s === cfg.steps));
  const yieldNow = hooks.yield ?? (() => new Promise<void>((resolve) => setImmediate(resolve)));
  // a stop asked for while the model loaded or during the first eval ends the run before its first step
  await yieldNow();
  let stopped = Boolean(ctx.shouldStop?.());
  if (!stopped && (hooks.evalAtStart ?? cfg.eval.every > 0)) { doEval(0); await yieldNow(); stopped = Boolean(ctx.shouldStop?.()); }
  let step = 0;
  try {
    if (!stopped) for (step = 1; step <= cfg.steps; step++) {
      st.step = step;
      st.lr = hooks.lr ? hooks.lr(step) : warmupCosineLr(step - 1, { lr: cfg.lr, warmupSteps: cfg.warmupSteps, totalSteps: cfg.steps, minLrRatio: cfg.minLrRatio });
      const r = rlStep(algorithm, cfg, st, ctx.policy, ctx.ref, ctx.critic, ctx.task, ctx.tokenizer, rng);
      // DELTA: say when the reward switches from dense to binary (rl.rewardSchedule; the doctor marks it on the dashboard)
      if (cfg.rewardSchedule?.denseUntil != null && step === cfg.rewardSchedule.denseUntil + 1) log(`step ${step}: reward schedule switched from dense (${cfg.rewardSchedule.densePart}) to binary (${cfg.rewardSchedule.binaryPart}) after step ${cfg.rewardSchedule.denseUntil}`);
      r.metrics['num_tensors'] = tf.memory().numTensors;
      // KL coefficient control on the step's KL (verl: the batch's mean per-token KL)
      const klNow = r.metrics['kl/k1'] ?? 0;
      if (adaptive) st.klCoef = adaptive.update(klNow as number, cfg.promptsPerStep * cfg.groupSize);
      else if (cfg.kl.controller === 'adaptive_beta') st.klCoef = adaptiveBetaUpdate(st.klCoef, r.metrics['kl'] as number, { target: cfg.kl.target, rate: cfg.kl.rate });
      all.push(r.metrics);
      const retention = hooks.retention ?? STANDALONE_RETENTION;
      const full = hooks.traceStep ? hooks.traceStep(step) : isFullTraceStep(step, retention);
      const ro = full ? r.rollout : withoutArrays(r.rollout);
      if (hooks.rollout) hooks.rollout(step, ro, full);
      else if (ctx.writer) {
        const kept = retainWholeGroups(ro, retention.maxSamples);
        ctx.writer.writeRolloutStep(kept.header, kept.samples, kept.arrays);
      }
      if (hooks.step) hooks.step(step, r.metrics);
      else ctx.writer?.metrics({ step, time: (Date.now() - t0) / 1000, split: 'train', values: r.metrics });
      ctx.onStep?.(step, r.metrics);
      const m = r.metrics;
      if (!hooks.step) log(`step ${step}/${cfg.steps}  gen ${Number(m['timing/gen_s']).toFixed(2)} s  reward ${(m['reward/mean'] as number).toFixed(3)}  kl ${Number(m['kl']).toExponential(2)}  entropy ${Number(m['entropy']).toFixed(3)}  len ${Number(m['response_length/mean']).toFixed(1)}  ${Number(m['tokens_per_s']).toFixed(0)} tok/s  ${Number(m['step_time']).toFixed(2)} s`);
      if (evalStep(step)) doEval(step);
      await yieldNow();
      if (ctx.shouldStop?.()) { stopped = true; break; }
    }
  } finally {
    if (ownOptimizer) optimizer.dispose();
    criticOptimizer?.dispose();
  }
  return { steps: Math.min(step, cfg.steps), evals, metrics: all, stopped, seconds: (Date.now() - t0) / 1000 };
}
