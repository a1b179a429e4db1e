/**
 * Registers every online RL algorithm with the engine (registry.ts), so `rl-lens train --config` runs them.
 * All of them read the config section `rl` (schema below; defaults depend on `algorithm`, see config.ts
 * ALGORITHM_DEFAULTS). Steps, learning rate and its schedule, gradient clipping, sampling, eval and rollout retention
 * come from the shared sections `train`, `sampling`, `eval`, `rollouts`.
 *
 * Initial policy: `init.checkpoint` (an SFT checkpoint), or, without one, a supervised warm start in the same run
 * (`rl.warmStart`: steps, batchSize, lr, demoNoise) before RL; the reference model is the policy RL starts from.
 */
import { registerAlgorithm, type AlgorithmModule } from '../registry';
import type { TrainContext } from '../engine';
import type { TrainConfig } from '../config';
import { AdamW } from '../optim';
import { sftBatch, sftStep } from '../sft';
import { ALGORITHM_DEFAULTS, RL_ALGORITHMS, resolveRlConfig, type RlAlgorithm, type RlConfig } from './config';
import { runRlResolved, withValueHead } from './loop';
import { rlTaskFrom } from './types';
import { LOSS_AGG_MODES } from '../algorithms/losses';

const num = (x: Record<string, unknown> = {}) => ({ type: 'number', ...x });
const int = (x: Record<string, unknown> = {}) => ({ type: 'integer', ...x });
const bool = (description?: string) => ({ type: 'boolean', ...(description ? { description } : {}) });

/** JSON Schema of the `rl` section (defaults depend on the algorithm: see docs/algorithms.md). */
export const RL_SECTION_SCHEMA: Record<string, unknown> = {
  type: 'object', additionalProperties: false,
  description: 'online RL (ppo, grpo, dr_grpo, dapo, gspo, gmpo, rloo, reinforce_pp, raft, raft_pp, reinforce_rej); defaults depend on algorithm (docs/algorithms.md)',
  properties: {
    promptsPerStep: int({ minimum: 1, description: 'prompts per step (each gets groupSize completions)' }),
    groupSize: int({ minimum: 1, description: 'completions per prompt (G)' }),
    ppoEpochs: int({ minimum: 1, description: 'passes over each rollout batch' }),
    miniBatches: int({ minimum: 1, description: 'minibatches per epoch' }),
    advantage: { type: 'string', enum: ['gae', 'grpo', 'dr_grpo', 'rloo', 'reinforce_pp', 'reinforce_rej', 'raft'], description: 'advantage estimator' },
    policyLoss: { type: 'string', enum: ['ppo', 'reinforce', 'gspo', 'gmpo'], description: 'ppo = clipped surrogate (+dual clip); reinforce = −A·log π; gspo = sequence ratio; gmpo = geometric mean' },
    clipLow: num({ minimum: 0, maximum: 1, description: 'ε_low (ratio ≥ 1 − ε_low); GMPO: log space' }),
    clipHigh: num({ minimum: 0, description: 'ε_high (ratio ≤ 1 + ε_high); DAPO clip-higher 0.28' }),
    dualClip: { type: ['number', 'null'], exclusiveMinimum: 1, description: 'dual-clip constant c for A < 0 (verl 3.0); null = off' },
    lossAgg: { type: 'string', enum: LOSS_AGG_MODES as unknown as string[], description: 'loss aggregation (verl agg_loss)' },
    lossScaleFactor: num({ exclusiveMinimum: 0, description: 'divisor of seq-mean-token-sum-norm (default: sampling.maxNewTokens)' }),
    advEps: num({ minimum: 0, description: 'GRPO std epsilon (verl 1e-6)' }),
    kl: {
      type: 'object', additionalProperties: false,
      properties: {
        inLoss: bool('add coef·agg(KL(π‖π_ref)) to the loss (GRPO family)'),
        inReward: bool('subtract coef·KL(π_old‖π_ref) from the per-token reward (PPO, REINFORCE++, RLOO)'),
        estimator: { type: 'string', enum: ['k1', 'abs', 'k2', 'k3', 'kl', 'mse', 'low_var_kl', 'k1+', 'k2+', 'k3+', 'low_var_kl+'], description: 'KL estimator (verl names; "+" = k2 gradient)' },
        coef: num({ minimum: 0, description: 'β' }),
        controller: { type: 'string', enum: ['fixed', 'adaptive', 'adaptive_beta'], description: 'fixed β; adaptive = verl/InstructGPT controller; adaptive_beta = raise β above target, lower below' },
        target: num({ exclusiveMinimum: 0, description: 'target KL' }),
        horizon: num({ minimum: 1, description: 'adaptive controller horizon (verl 10000)' }),
        rate: num({ minimum: 0, description: 'adaptive_beta multiplicative rate' }),
      },
    },
    entropyCoef: num({ description: 'entropy bonus coefficient (loss −= coef·agg(entropy))' }),
    gamma: num({ minimum: 0, maximum: 1 }),
    lambda: num({ minimum: 0, maximum: 1 }),
    critic: { type: 'string', enum: ['shared', 'separate'], description: 'ppo: value head on the policy trunk or a separate critic model' },
    vfCoef: num({ minimum: 0, description: 'value loss weight (shared critic)' }),
    valueClip: num({ minimum: 0, description: 'value clipping range (verl cliprange_value 0.5)' }),
    criticLr: num({ minimum: 0, description: 'learning rate of a separate critic' }),
    dynamicSampling: { type: 'object', additionalProperties: false, properties: { enabled: bool('drop groups whose rewards are all equal and generate more (DAPO)'), maxGenBatches: int({ minimum: 1, description: 'cap on generation batches per step' }) } },
    overlong: { type: 'object', additionalProperties: false, properties: { enabled: bool('DAPO soft overlong punishment'), maxLength: int({ minimum: 0, description: 'L_max (0 = sampling.maxNewTokens)' }), cacheLength: int({ minimum: 0, description: 'L_cache (0 = round(L_max / 4))' }), factor: num({ minimum: 0 }) } },
    zeroVarianceFilter: { type: ['number', 'null'], minimum: 0, description: 'groups whose reward std ≤ this give no gradient; null = off' },
    lengthPenalty: { type: 'object', additionalProperties: false, properties: { coef: num({ minimum: 0 }), target: int({ minimum: 1 }) } },
    traces: { type: 'object', additionalProperties: false, description: 'standalone use only; runs use the rollouts section', properties: { fullEvery: int({ minimum: 0 }), maxSamples: int({ minimum: 0 }) } },
    summariesEveryStep: bool('write a rollout summary (groups, texts, rewards, no per-token arrays) on steps without a full trace'),
    warmStart: {
      type: 'object', additionalProperties: false, description: 'supervised warm start when init.checkpoint is not given',
      properties: { steps: int({ minimum: 0 }), batchSize: int({ minimum: 1 }), lr: num({ exclusiveMinimum: 0 }), demoNoise: num({ minimum: 0, maximum: 1 }) },
    },
  },
};

const WARM_START_DEFAULT = { steps: 300, batchSize: 64, lr: 0.003, demoNoise: 0.3 };

function sectionDefaults(config: Record<string, unknown>): Record<string, unknown> {
  const alg = config.algorithm as RlAlgorithm;
  const d = resolveRlConfig(RL_ALGORITHMS.includes(alg) ? alg : 'grpo', undefined) as unknown as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys((RL_SECTION_SCHEMA.properties as Record<string, unknown>))) if (k in d) out[k] = d[k];
  delete out.lossScaleFactor;
  out.overlong = { ...(out.overlong as object), maxLength: 0, cacheLength: 0 }; // derived from sampling.maxNewTokens at run time
  out.summariesEveryStep = true;
  out.warmStart = WARM_START_DEFAULT;
  return out;
}

/** The RlConfig of a run: the `rl` section + the shared train / sampling / eval / rollouts sections. */
export function rlConfigFromTrainConfig(config: TrainConfig, alg: RlAlgorithm): RlConfig {
  const sec = { ...((config.rl as Record<string, unknown>) ?? {}) };
  delete sec.warmStart; delete sec.summariesEveryStep;
  const t = config.train;
  return resolveRlConfig(alg, {
    ...sec,
    steps: t.steps, lr: t.lr, warmupSteps: t.warmupSteps, minLrRatio: t.lrSchedule === 'constant' ? 1 : t.minLrRatio, weightDecay: t.weightDecay, gradClip: t.gradClip,
    maxNewTokens: config.derived?.maxNewTokens ?? config.sampling.maxNewTokens, temperature: config.sampling.temperature > 0 ? config.sampling.temperature : 1, topP: config.sampling.topP,
    eval: { every: config.eval.every, prompts: config.eval.numPrompts, samples: config.eval.samplesPerPrompt, temperature: config.eval.temperature, k: config.eval.k },
    traces: { fullEvery: config.rollouts.every, maxSamples: config.rollouts.maxSamples },
  }, 'rl');
}

async function runAlgorithm(ctx: TrainContext): Promise<void> {
  const alg = ctx.config.algorithm as RlAlgorithm;
  const cfg = rlConfigFromTrainConfig(ctx.config, alg);
  const sec = ctx.section as { warmStart?: typeof WARM_START_DEFAULT; summariesEveryStep?: boolean };
  const ref = ctx.reference;
  if (!ref) throw new Error(`${alg}: the engine gave no reference model`);
  // warm start (SFT) when no checkpoint was given; the reference is then the warm-started policy
  if (!ctx.config.init?.checkpoint) {
    const ws = { ...WARM_START_DEFAULT, ...(sec.warmStart ?? {}) };
    if (ws.steps > 0) {
      ctx.log(`${alg}: no init.checkpoint: supervised warm start first (${ws.steps} steps, demoNoise ${ws.demoNoise}); set init.checkpoint to start from an SFT checkpoint`);
      const opt = new AdamW(ctx.policy.trainableVariables(), { beta1: ctx.config.train.beta1, beta2: ctx.config.train.beta2, eps: ctx.config.train.eps });
      const rng = ctx.rng.fork(11);
      let loss = NaN;
      for (let s = 0; s < ws.steps; s++) {
        const b = sftBatch(ctx.task, ctx.tokenizer, rng, ws.batchSize, ctx.config.derived.sequenceLength, ws.demoNoise, 1);
        const lr = ws.lr * Math.min(1, (s + 1) / Math.max(1, Math.min(20, ws.steps / 10)));
        loss = sftStep({ policy: ctx.policy, optimizer: opt, config: ctx.config }, b, lr).loss;
        if (!Number.isFinite(loss)) throw new Error(`${alg}: warm start diverged (loss ${loss}); lower rl.warmStart.lr`);
        if ((s + 1) % 100 === 0 || s === ws.steps - 1) ctx.log(`warm start ${s + 1}/${ws.steps}: loss ${loss.toFixed(4)}`);
      }
      opt.dispose();
      ref.copyWeightsFrom(ctx.policy);
      ctx.checkpoint(0, 'sft');
    }
  }
  const critic = cfg.advantage === 'gae' && cfg.critic === 'separate' ? withValueHead(ctx.policy.clone(true), true) : undefined;
  try {
    await runRlResolved({
      policy: ctx.policy, ref, critic, tokenizer: ctx.tokenizer, task: rlTaskFrom(ctx.task), seed: ctx.config.seed,
      log: (s) => ctx.log(s), shouldStop: () => ctx.stopRequested(),
    }, alg, cfg, {
      optimizer: ctx.optimizer,
      lr: (s) => ctx.lr(s),
      evaluate: (s) => ctx.evaluate(s),
      evalStep: (s) => ctx.evalStep(s),
      evalAtStart: ctx.config.eval.atStart,
      traceStep: (s) => ctx.traceStep(s),
      rollout: (s, header, samples, arrays, full) => {
        if (full) ctx.rollout(s, header, samples, arrays);
        else if (sec.summariesEveryStep !== false) ctx.rollout(s, header, samples, arrays, { force: true });
      },
      step: (s, m) => ctx.step(s, m, { tokens: Number(m['tokens/generated'] ?? 0) }),
      yield: () => ctx.yield(),
    });
  } finally {
    if (critic && critic !== ctx.policy) critic.dispose();
  }
}

const SUMMARIES: Record<RlAlgorithm, string> = {
  ppo: 'PPO: actor-critic, GAE, clipped surrogate, value clipping, KL penalty in the reward',
  grpo: 'GRPO: group-normalised outcome advantage, KL to the reference in the loss (k3)',
  dr_grpo: 'Dr. GRPO: no std division, token sum / constant',
  dapo: 'DAPO: clip-higher, dynamic sampling, token-level loss, soft overlong punishment',
  gspo: 'GSPO: sequence-level importance ratio',
  gmpo: 'GMPO: geometric mean of token ratios with sign-aware clipping',
  rloo: 'RLOO: leave-one-out baseline',
  reinforce_pp: 'REINFORCE++: discounted returns with KL in the reward, global whitening',
  raft: 'RAFT: rejection-sampling fine-tuning (train on positively rewarded samples)',
  raft_pp: 'RAFT++: RAFT with importance sampling and clipping',
  reinforce_rej: 'Reinforce-Rej: drop prompts whose samples are all right or all wrong',
};

for (const name of RL_ALGORITHMS) {
  const mod: AlgorithmModule = {
    name,
    kind: 'rl',
    section: 'rl',
    summary: SUMMARIES[name],
    configSchema: RL_SECTION_SCHEMA,
    defaults: sectionDefaults,
    needsValueHead: (config) => {
      const c = (config.rl ?? {}) as Record<string, unknown>;
      const adv = c.advantage ?? ALGORITHM_DEFAULTS[config.algorithm as RlAlgorithm]?.advantage;
      return adv === 'gae' && (c.critic ?? 'shared') === 'shared';
    },
    needsReference: true,
    validate: (config) => { rlConfigFromTrainConfig(config as unknown as TrainConfig, config.algorithm as RlAlgorithm); },
    run: runAlgorithm,
  };
  registerAlgorithm(mod);
}

// ---- built-in presets (rl-lens train --preset NAME)
import { PRESETS, deepMerge } from '../config';

/** grpo on arithmetic (difficulty 1) from a noisy SFT warm start made in the same run: eval pass@1 rises by ~20 points. */
export function rlArithmeticPreset(algorithm: RlAlgorithm, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return deepMerge({
    name: `${algorithm.replace(/_/g, '-')}-arithmetic`,
    algorithm,
    seed: 1,
    task: { name: 'arithmetic', difficulty: 1 },
    model: { dModel: 64, nHeads: 4, nLayers: 2, contextLength: 16 },
    train: { steps: 80, lr: 0.001, lrSchedule: 'cosine', warmupSteps: 2, minLrRatio: 0.1, gradClip: 1 },
    sampling: { temperature: 1, maxNewTokens: 5 },
    eval: { every: 20, numPrompts: 64, samplesPerPrompt: 8, k: [1, 2, 4, 8], temperature: 1 },
    checkpoint: { every: 40 },
    rollouts: { every: 10, maxSamples: 64 },
    rl: { promptsPerStep: 32, groupSize: 8, warmStart: { steps: 400, batchSize: 64, lr: 0.003, demoNoise: 0.5 } },
  }, extra) as Record<string, unknown>;
}

/** Adds the RL presets to the CLI's preset table. Deferred to a microtask: register.ts is loaded from the engine's
 * plug-in list, which config.ts (owner of PRESETS) may still be initialising (import cycle). */
export function registerRlPresets(): void {
  // 4 minibatches per rollout batch (several policy updates on each batch, as verl's ppo_mini_batch_size < train_batch_size)
  PRESETS['grpo-arithmetic'] = () => rlArithmeticPreset('grpo', { rl: { miniBatches: 4 } });
  PRESETS['dapo-arithmetic'] = () => rlArithmeticPreset('dapo', { rl: { miniBatches: 4 } });
  PRESETS['ppo-arithmetic'] = () => rlArithmeticPreset('ppo');
  /** seconds: for tests and smoke checks (any RL algorithm via --config with "algorithm" changed) */
  PRESETS['grpo-tiny'] = () => rlArithmeticPreset('grpo', {
    name: 'grpo-tiny', model: { dModel: 32, nLayers: 1 }, train: { steps: 4 }, eval: { every: 2, numPrompts: 8, samplesPerPrompt: 4, k: [1, 4] },
    checkpoint: { every: 0 }, rollouts: { every: 2, maxSamples: 16 }, rl: { promptsPerStep: 4, groupSize: 4, warmStart: { steps: 10 } },
  });
}
queueMicrotask(registerRlPresets);
