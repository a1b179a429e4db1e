/**
 * Registers every online RL algorithm with the engine (registry.ts), so `rl-lens train --config` runs them.
 * All of them read the config section `rl` (declared once in ./config.ts RL_FIELDS: schema, per-algorithm defaults,
 * meaning and reference of every field; docs/config.md is generated from it). Steps, learning rate and its schedule,
 * gradient clipping, sampling, eval and rollout retention come from the shared sections `train`, `sampling`, `eval`,
 * `rollouts`.
 *
 * Initial policy: `init.checkpoint` (an SFT checkpoint), or, without one, a supervised warm start in the same run
 * (`rl.warmStart`: steps, batchSize, lr, demoNoise) before RL; the reference model is the policy RL starts from.
 */
import { registerAlgorithm, type AlgorithmModule } from '../registry';
import type { TrainContext } from '../engine';
import type { TrainConfig } from '../config';
import { engineWarmStart } from './warmstart';
import { ALGORITHM_DEFAULTS, RL_ALGORITHMS, RL_SECTION_ONLY, RL_SECTION_SCHEMA, WARM_START_DEFAULT, isRlAlgorithm, resolveRlConfig, rlSectionDefaults, type RlAlgorithm, type RlConfig } from './config';
import { runRlResolved, withValueHead } from './loop';
import { rlTaskFrom } from './types';

/** The RlConfig of a run: the `rl` section + the shared train / sampling / eval / rollouts sections. */
export function rlConfigFromTrainConfig(config: TrainConfig, alg: RlAlgorithm): RlConfig {
  const sec = { ...((config.rl as Record<string, unknown>) ?? {}) };
  for (const k of RL_SECTION_ONLY) delete sec[k];
  const t = config.train;
  return resolveRlConfig(alg, {
    ...sec,
    steps: t.steps, lr: t.lr, warmupSteps: t.warmupSteps, minLrRatio: t.lrSchedule === 'constant' ? 1 : t.minLrRatio, weightDecay: t.weightDecay, gradClip: t.gradClip,
    maxNewTokens: config.derived?.maxNewTokens ?? config.sampling.maxNewTokens, temperature: config.sampling.temperature > 0 ? config.sampling.temperature : 1, topP: config.sampling.topP,
    eval: { every: config.eval.every, prompts: config.eval.numPrompts, samples: config.eval.samplesPerPrompt, temperature: config.eval.temperature, k: config.eval.k },
  }, 'rl');
}

async function runAlgorithm(ctx: TrainContext): Promise<void> {
  const alg = ctx.config.algorithm as RlAlgorithm;
  const cfg = rlConfigFromTrainConfig(ctx.config, alg);
  const sec = ctx.section as { warmStart?: typeof WARM_START_DEFAULT; summariesEveryStep?: boolean };
  const ref = ctx.reference;
  if (!ref) throw new Error(`${alg}: the engine gave no reference model`);
  // warm start (SFT) when no checkpoint and no pretrained model was given; the reference is then the warm-started policy
  if (ctx.config.model.pretrained) {
    ctx.log(`${alg}: from the pretrained ${ctx.config.derived.pretrained?.family ?? ''} model ${ctx.config.model.pretrained} (no warm start); the reference is that model, frozen`);
  } else if (!ctx.config.init?.checkpoint) {
    const ws = { ...WARM_START_DEFAULT, ...(sec.warmStart ?? {}) };
    if (ws.steps > 0) {
      ctx.log(`${alg}: no init.checkpoint: supervised warm start first (${ws.steps} steps, demoNoise ${ws.demoNoise}); set init.checkpoint to start from an SFT checkpoint`);
      // the engine writes the stop checkpoint (the warm-started policy so far) and the end event
      if (await engineWarmStart(ctx, ws, alg, 'rl.warmStart.lr') === 'stopped') return;
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
      rollout: (s, r, full) => {
        if (full) ctx.rollout(s, r.header, r.samples, r.arrays);
        else if (sec.summariesEveryStep !== false) ctx.rollout(s, r.header, r.samples, r.arrays, { force: true });
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
  gvpo: 'GVPO: closed-form KL-constrained objective, zero-sum group weights, off-policy minibatches without importance ratios',
  grpo_lambda: 'GRPO-λ: 0/1 reward, length penalty only for the top-λ groups by accuracy',
  gigpo: 'GiGPO: multi-turn tool episodes, episode-level plus anchor-state step-level group advantages (A = A^E + ω·A^S)',
  tree_grpo: 'Tree-GRPO: tree-search rollouts of agent steps (M trees, L iterations expanding N nodes, shared prefixes), intra-tree plus inter-tree group advantages of the leaves',
  arpo: 'ARPO: multi-turn tool episodes, entropy-based adaptive branching after tool results (P_t = α + β·ΔH_t > τ) under a budget of M trajectories per prompt, GRPO advantages with soft / hard attribution of shared tokens',
};

for (const name of RL_ALGORITHMS) {
  const mod: AlgorithmModule = {
    name,
    kind: 'rl',
    section: 'rl',
    summary: SUMMARIES[name],
    configSchema: RL_SECTION_SCHEMA,
    defaults: (config) => rlSectionDefaults(isRlAlgorithm(config.algorithm) ? config.algorithm : 'grpo'),
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

// ---- built-in presets: the table is src/shared/presets.ts (one source for the CLI and the extension)
export { rlArithmeticPreset } from '../../shared/presets';
