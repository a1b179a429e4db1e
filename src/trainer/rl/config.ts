/**
 * Configuration of the online RL algorithms: the `rl` section of a run config, declared once in RL_FIELDS (type,
 * default, per-algorithm defaults, meaning, reference), as TRL's GRPOConfig does. Derived from it: the section's JSON
 * Schema (RL_SECTION_SCHEMA → schemas/config.schema.json), its defaults per algorithm (rlSectionDefaults), the resolved
 * RlConfig (resolveRlConfig) and the `rl` tables of docs/config.md (scripts/gen-config-docs.ts).
 * Defaults follow the references named next to each value (docs/references.md), scaled to the tiny built-in tasks where the
 * reference value makes no sense for a model of a few hundred thousand parameters (learning rate, batch).
 */
import type { KlName } from '../algorithms/kl';
import type { LossAggMode } from '../algorithms/losses';
import { LOSS_AGG_MODES } from '../algorithms/losses';
import { sectionDefaults, sectionSchema, type Fields } from '../fields';
import { deepMerge } from '../../shared/deepMerge';

export const RL_ALGORITHMS = ['ppo', 'grpo', 'dr_grpo', 'dapo', 'gspo', 'gmpo', 'rloo', 'reinforce_pp', 'raft', 'raft_pp', 'reinforce_rej'] as const;
export type RlAlgorithm = typeof RL_ALGORITHMS[number];
export function isRlAlgorithm(a: unknown): a is RlAlgorithm { return (RL_ALGORITHMS as readonly string[]).includes(a as string); }

/** How the advantage is estimated. */
export type AdvantageKind = 'gae' | 'grpo' | 'dr_grpo' | 'rloo' | 'reinforce_pp' | 'reinforce_rej' | 'raft';
/** Which policy loss. `ppo`: verl vanilla clip (+dual); `reinforce`: −A·log π (no ratio); `gspo`, `gmpo`. */
export type PolicyLossKind = 'ppo' | 'reinforce' | 'gspo' | 'gmpo';

const ADVANTAGES: AdvantageKind[] = ['gae', 'grpo', 'dr_grpo', 'rloo', 'reinforce_pp', 'reinforce_rej', 'raft'];
const POLICY_LOSSES: PolicyLossKind[] = ['ppo', 'reinforce', 'gspo', 'gmpo'];
const KL_ESTIMATORS: KlName[] = ['k1', 'abs', 'k2', 'k3', 'kl', 'mse', 'low_var_kl', 'k1+', 'k2+', 'k3+', 'low_var_kl+'] as KlName[];
const KL_CONTROLLERS = ['fixed', 'adaptive', 'adaptive_beta'] as const;
const int = (x: Record<string, unknown> = {}) => ({ type: 'integer', ...x });
const num = (x: Record<string, unknown> = {}) => ({ type: 'number', ...x });
const bool = { type: 'boolean' };
const oneOf = (values: readonly unknown[]) => ({ type: 'string', enum: [...values] });
/** algorithms without a KL term (β = 0, none in the loss) */
const NO_KL = { dr_grpo: 0, dapo: 0, gspo: 0, gmpo: 0, raft: 0, raft_pp: 0 };

/**
 * Every field of the `rl` section, once. `byAlgorithm` lists where an algorithm's default differs from `default`
 * (each with its reference). Section-only fields (not in RlConfig): summariesEveryStep, warmStart.
 */
export const RL_FIELDS: Fields = {
  promptsPerStep: { schema: int({ minimum: 1 }), default: 16, doc: 'prompts per step; each gets groupSize completions (batch = promptsPerStep × groupSize sequences)', ref: 'verl data.train_batch_size' },
  groupSize: { schema: int({ minimum: 1 }), default: 8, byAlgorithm: { reinforce_rej: 4 }, doc: 'completions per prompt (G)', ref: 'verl actor_rollout_ref.rollout.n; TRL GRPOConfig num_generations 8; Reinforce-Rej n = 4 (MinRL scripts)' },
  ppoEpochs: { schema: int({ minimum: 1 }), default: 1, byAlgorithm: { ppo: 2 }, doc: 'passes over each rollout batch', ref: 'verl actor.ppo_epochs 1 (docs/references.md#ppo-defaults); TRL PPOConfig num_ppo_epochs 4' },
  miniBatches: { schema: int({ minimum: 1 }), default: 1, byAlgorithm: { ppo: 2, raft: 4, raft_pp: 4 }, doc: 'minibatches (policy updates) per epoch; RAFT / RAFT++ take several steps per batch, or their importance ratio stays 1', ref: 'verl ppo_mini_batch_size = train_batch_size / miniBatches; MinRL' },
  advantage: {
    schema: oneOf(ADVANTAGES), default: 'grpo',
    byAlgorithm: { ppo: 'gae', dr_grpo: 'dr_grpo', rloo: 'rloo', reinforce_pp: 'reinforce_pp', raft: 'raft', raft_pp: 'raft', reinforce_rej: 'reinforce_rej' },
    doc: 'advantage estimator: gae (critic), grpo (group mean / std), dr_grpo (no std division), rloo (leave-one-out), reinforce_pp (discounted returns, global whitening), reinforce_rej (drop all-equal groups), raft (max(r, 0))',
    ref: 'verl algorithm.adv_estimator, core_algos compute_*_advantage (docs/algorithms.md); MinRL for raft / reinforce_rej',
  },
  policyLoss: {
    schema: oneOf(POLICY_LOSSES), default: 'ppo', byAlgorithm: { gspo: 'gspo', gmpo: 'gmpo', raft: 'reinforce' },
    doc: 'ppo = clipped surrogate (+ dual clip); reinforce = −A·log π; gspo = sequence-level ratio; gmpo = geometric mean of token ratios',
    ref: 'verl compute_policy_loss_vanilla / _gspo / _geo_mean; MinRL vanilla',
  },
  clipLow: { schema: num({ minimum: 0, maximum: 1 }), default: 0.2, byAlgorithm: { gspo: 3e-4, gmpo: 0.4 }, doc: 'ε_low: the ratio is clipped at 1 − ε_low (GMPO: in log space)', ref: 'verl clip_ratio_low 0.2; TRL epsilon; GSPO paper §5.1 3e-4; GMPO 0.4 (docs/references.md#gspo, #gmpo)' },
  clipHigh: { schema: num({ minimum: 0 }), default: 0.2, byAlgorithm: { dapo: 0.28, gspo: 4e-4, gmpo: 0.4 }, doc: 'ε_high: the ratio is clipped at 1 + ε_high', ref: 'verl clip_ratio_high; TRL epsilon_high; DAPO clip-higher 0.28 (docs/references.md#dapo)' },
  dualClip: { schema: { type: ['number', 'null'], exclusiveMinimum: 1 }, default: null, byAlgorithm: { ppo: 3, dapo: 3, raft_pp: 3, reinforce_rej: 3 }, doc: 'dual-clip constant c for A < 0 (loss = min(L_clip, −A·c)); null = off', ref: 'verl clip_ratio_c 3.0 (docs/references.md#policy-loss); MinRL plusplus' },
  lossAgg: {
    schema: oneOf(LOSS_AGG_MODES), default: 'token-mean', byAlgorithm: { grpo: 'seq-mean-token-mean', dr_grpo: 'seq-mean-token-sum-norm', gspo: 'seq-mean-token-mean' },
    doc: 'how per-token losses are averaged into the loss', ref: 'verl agg_loss loss_agg_mode (core_algos L1025–1081); GRPO paper seq-mean-token-mean; Dr. GRPO seq-mean-token-sum-norm; DAPO token-mean',
  },
  lossScaleFactor: { schema: num({ exclusiveMinimum: 0 }), defaultNote: 'sampling.maxNewTokens', doc: 'divisor of seq-mean-token-sum-norm (the generation budget)', ref: 'verl loss_scale_factor; Dr. GRPO' },
  advEps: { schema: num({ minimum: 0 }), default: 1e-6, doc: 'ε added to the group std: A = (r − mean)/(std + ε)', ref: 'verl compute_grpo_outcome_advantage epsilon 1e-6' },
  kl: {
    doc: 'KL to the reference model (the policy RL starts from)',
    fields: {
      inLoss: { schema: bool, default: true, byAlgorithm: { ppo: false, rloo: false, reinforce_pp: false, ...Object.fromEntries(Object.keys(NO_KL).map((k) => [k, false])) }, doc: 'add coef·agg(KL(π‖π_ref)) to the loss (GRPO family)', ref: 'verl actor.use_kl_loss / kl_loss_coef; GRPO paper' },
      inReward: { schema: bool, default: false, byAlgorithm: { ppo: true, rloo: true, reinforce_pp: true }, doc: 'subtract coef·KL(π_old‖π_ref) per token from the reward (PPO, REINFORCE++, RLOO)', ref: 'verl apply_kl_penalty (algorithm.use_kl_in_reward); TRL RLOO (k1 summed into the reward)' },
      estimator: { schema: oneOf(KL_ESTIMATORS), default: 'k3', byAlgorithm: { ppo: 'k1', rloo: 'k1', reinforce_pp: 'k1' }, doc: 'KL estimator (verl names; "+" = k2 gradient with this value)', ref: 'verl kl_penalty (k1, k2, k3 = low_var_kl); Schulman, "Approximating KL divergence" (docs/references.md#kl-estimators)' },
      coef: { schema: num({ minimum: 0 }), default: 0.001, byAlgorithm: { ppo: 0.01, rloo: 0.01, reinforce_pp: 0.01, ...NO_KL }, doc: 'β: weight of the KL term (initial β with an adaptive controller)', ref: 'verl kl_loss_coef 0.001 (GRPO docs), kl_ctrl.kl_coef; PPO / RLOO 0.01 (docs/references.md#ppo-defaults)' },
      controller: { schema: oneOf(KL_CONTROLLERS), default: 'fixed', doc: 'fixed β; adaptive = verl / InstructGPT controller; adaptive_beta = raise β above target, lower it below', ref: 'verl algorithm.kl_ctrl.type; algorithms/control.ts' },
      target: { schema: num({ exclusiveMinimum: 0 }), default: 0.1, doc: 'target KL of the adaptive controllers', ref: 'verl kl_ctrl.target_kl 0.1' },
      horizon: { schema: num({ minimum: 1 }), default: 10000, doc: 'adaptive controller horizon: β ← β·(1 + clip(KL/target − 1, ±0.2)·n/horizon)', ref: 'verl kl_ctrl.horizon 10000 (docs/references.md#ppo-reward)' },
      rate: { schema: num({ minimum: 0 }), default: 0.1, doc: 'adaptive_beta multiplicative rate: β·(1 + rate) above target, β/(1 + rate) below', ref: 'algorithms/control.ts adaptiveBetaUpdate' },
    },
  },
  entropyCoef: { schema: num(), default: 0, doc: 'entropy bonus coefficient (loss −= coef·agg(entropy))', ref: 'verl actor.entropy_coeff 0 (dp_actor.update_policy)' },
  gamma: { schema: num({ minimum: 0, maximum: 1 }), default: 1, doc: 'discount γ of the per-token returns (GAE for ppo, discounted returns for reinforce_pp); 1 = undiscounted (the score sits on the last token)', ref: 'verl algorithm.gamma 1.0; TRL PPOConfig gamma 1 (docs/references.md#ppo-defaults)' },
  lambda: { schema: num({ minimum: 0, maximum: 1 }), default: 1, byAlgorithm: { ppo: 0.95 }, doc: 'GAE λ (advantage "gae" only): 1 = Monte-Carlo return − V (high variance), 0 = one-step TD error (biased by the critic)', ref: 'verl algorithm.lam 1.0; TRL PPOConfig lam 0.95; Schulman et al. 2016 (GAE)' },
  critic: { schema: oneOf(['shared', 'separate']), default: 'shared', doc: 'ppo: value head on the policy trunk (shared) or a separate critic model', ref: 'verl critic worker (separate); TRL PPO value model' },
  vfCoef: { schema: num({ minimum: 0 }), default: 0.5, doc: 'value loss weight in the shared-trunk loss', ref: 'TRL PPOConfig vf_coef; OpenRLHF' },
  valueClip: { schema: num({ minimum: 0 }), default: 0.5, doc: 'value clipping range: V is clipped to V_old ± valueClip', ref: 'verl critic.cliprange_value 0.5 (compute_value_loss)' },
  criticLr: { schema: num({ minimum: 0 }), default: 1e-3, doc: 'learning rate of a separate critic', ref: 'verl critic.optim.lr' },
  dynamicSampling: {
    doc: 'DAPO dynamic sampling',
    fields: {
      enabled: { schema: bool, default: false, byAlgorithm: { dapo: true }, doc: 'drop groups whose rewards are all equal and generate more', ref: 'DAPO §3.2; verl algorithm.filter_groups.enable' },
      maxGenBatches: { schema: int({ minimum: 1 }), default: 4, doc: 'cap on generation batches per step', ref: 'verl filter_groups.max_num_gen_batches' },
    },
  },
  overlong: {
    doc: 'DAPO soft overlong punishment: 0 up to L_max − L_cache, linear to −factor at L_max, −factor beyond',
    fields: {
      enabled: { schema: bool, default: false, byAlgorithm: { dapo: true }, doc: 'add the soft overlong punishment to the reward', ref: 'DAPO Eq. 13; TRL get_soft_overlong_punishment (docs/references.md#overlong)' },
      maxLength: { schema: int({ minimum: 0 }), default: 0, doc: 'L_max in tokens; 0 = sampling.maxNewTokens', ref: 'DAPO L_max (20480 in the paper)' },
      cacheLength: { schema: int({ minimum: 0 }), default: 0, doc: 'L_cache in tokens; 0 = max(1, round(L_max / 4))', ref: 'DAPO L_cache (4096 ≈ L_max / 5)' },
      factor: { schema: num({ minimum: 0 }), default: 1, doc: 'size of the punishment at and beyond L_max', ref: 'OpenRLHF apply_overlong_penalty factor' },
    },
  },
  zeroVarianceFilter: { schema: { type: ['number', 'null'], minimum: 0 }, default: null, doc: 'groups whose reward std ≤ this give no gradient (their advantages are zeroed); null = off', ref: 'DAPO §3.2 (all-equal groups carry no signal)' },
  lengthPenalty: {
    doc: 'length penalty added to the reward: −coef·max(0, length − target)/target',
    fields: {
      coef: { schema: num({ minimum: 0 }), default: 0, doc: 'weight of the penalty; 0 = off', ref: 'algorithms/rewards.ts lengthPenalty' },
      target: { schema: int({ minimum: 1 }), default: 8, doc: 'length in tokens above which it applies', ref: 'algorithms/rewards.ts lengthPenalty' },
    },
  },
  summariesEveryStep: { schema: bool, default: true, doc: 'write a rollout summary (groups, texts, rewards, no per-token arrays) on steps without a full trace (rollouts.every)' },
  warmStart: {
    doc: 'supervised warm start before RL when init.checkpoint is not given (the reference is then the warm-started policy)',
    fields: {
      steps: { schema: int({ minimum: 0 }), default: 300, doc: 'SFT steps; 0 = none (RL starts from the random init)' },
      batchSize: { schema: int({ minimum: 1 }), default: 64, doc: 'demonstrations per SFT step' },
      lr: { schema: num({ exclusiveMinimum: 0 }), default: 0.003, doc: 'SFT learning rate (linear warm-up over min(20, steps/10) steps)' },
      demoNoise: { schema: num({ minimum: 0, maximum: 1 }), default: 0.3, doc: 'probability that a demonstration carries a wrong, well-formatted answer (as sft.demoNoise)' },
    },
  },
};

/** Fields of the `rl` section that are not part of RlConfig (read by rl/register.ts only). */
export const RL_SECTION_ONLY = ['summariesEveryStep', 'warmStart'] as const;

/** JSON Schema of the `rl` section (no `default`s: they depend on the algorithm, see rlSectionDefaults). */
export const RL_SECTION_SCHEMA: Record<string, unknown> = sectionSchema(RL_FIELDS, {
  withDefaults: false,
  description: `online RL (${RL_ALGORITHMS.join(', ')}); defaults depend on algorithm (docs/config.md)`,
});

/** The defaults of the `rl` section for one algorithm (what a run config gets for the fields it leaves out). */
export function rlSectionDefaults(algorithm: RlAlgorithm): Record<string, unknown> {
  return sectionDefaults(RL_FIELDS, algorithm);
}

/** The warm start defaults (RL_FIELDS.warmStart). */
export const WARM_START_DEFAULT = sectionDefaults(RL_FIELDS.warmStart.fields!) as { steps: number; batchSize: number; lr: number; demoNoise: number };

/**
 * The resolved config of the RL loop: the `rl` section (RL_FIELDS, minus the section-only fields) + what a run takes
 * from the shared sections (train, sampling, eval, checkpoint; rl/register.ts rlConfigFromTrainConfig). Field meanings:
 * RL_FIELDS / docs/config.md.
 */
export interface RlConfig {
  /** optimizer steps (each = one rollout batch + ppoEpochs × miniBatches updates); a run: train.steps */
  steps: number;
  promptsPerStep: number;
  groupSize: number;
  /** a run: derived.maxNewTokens */
  maxNewTokens: number;
  /** a run: sampling.temperature (> 0) */
  temperature: number;
  /** a run: sampling.topP */
  topP: number;
  ppoEpochs: number;
  miniBatches: number;
  /** a run: train.lr, warmupSteps, minLrRatio (1 with lrSchedule constant), weightDecay, gradClip */
  lr: number;
  warmupSteps: number;
  minLrRatio: number;
  weightDecay: number;
  gradClip: number;
  advantage: AdvantageKind;
  policyLoss: PolicyLossKind;
  clipLow: number;
  clipHigh: number;
  dualClip: number | null;
  lossAgg: LossAggMode;
  lossScaleFactor?: number;
  advEps: number;
  kl: { inLoss: boolean; inReward: boolean; estimator: KlName; coef: number; controller: 'fixed' | 'adaptive' | 'adaptive_beta'; target: number; horizon: number; rate: number };
  entropyCoef: number;
  gamma: number;
  lambda: number;
  critic: 'shared' | 'separate';
  vfCoef: number;
  valueClip: number;
  criticLr: number;
  dynamicSampling: { enabled: boolean; maxGenBatches: number };
  /** maxLength / cacheLength 0 in the section = derived from maxNewTokens (resolved here) */
  overlong: { enabled: boolean; maxLength: number; cacheLength: number; factor: number };
  zeroVarianceFilter: number | null;
  lengthPenalty: { coef: number; target: number };
  /** a run: eval.every, numPrompts, samplesPerPrompt, temperature, k */
  eval: { every: number; prompts: number; samples: number; temperature: number; k: number[] };
  checkpointEvery: number;
}

/** Defaults of the RlConfig fields that a run takes from the shared sections (used by standalone callers: bench, tests). */
const STANDALONE_DEFAULTS = {
  steps: 40, maxNewTokens: 8, temperature: 1, topP: 1, lr: 3e-4, warmupSteps: 2, minLrRatio: 0.1, weightDecay: 0, gradClip: 1,
  eval: { every: 10, prompts: 100, samples: 4, temperature: 1, k: [1, 4] },
  checkpointEvery: 0,
};

/** The RlConfig defaults of one algorithm (before the user's values and the derived overlong lengths). */
function rlDefaults(algorithm: RlAlgorithm): RlConfig {
  const sec = rlSectionDefaults(algorithm);
  for (const k of RL_SECTION_ONLY) delete sec[k];
  return { ...structuredClone(STANDALONE_DEFAULTS), ...sec } as unknown as RlConfig;
}

/** Each algorithm's full `rl` defaults (derived from RL_FIELDS). */
export const ALGORITHM_DEFAULTS: Record<RlAlgorithm, Partial<RlConfig>> = Object.fromEntries(RL_ALGORITHMS.map((a) => [a, rlDefaults(a)])) as Record<RlAlgorithm, Partial<RlConfig>>;

function isObj(x: unknown): x is Record<string, unknown> { return typeof x === 'object' && x !== null && !Array.isArray(x); }

export class RlConfigError extends Error {}

/**
 * The full RL config: base ← algorithm defaults ← user's `rl` section. Checks every field and names it on error
 * (`rl.clipHigh: must be a number ≥ 0, got "x"`).
 */
export function resolveRlConfig(algorithm: RlAlgorithm, user: unknown, where = 'rl'): RlConfig {
  if (user !== undefined && !isObj(user)) throw new RlConfigError(`${where}: must be an object, got ${JSON.stringify(user)}`);
  const defaults = rlDefaults(algorithm);
  const known = new Set([...Object.keys(defaults), 'lossScaleFactor']);
  for (const k of Object.keys(user ?? {})) if (!known.has(k)) throw new RlConfigError(`${where}.${k}: unknown field; allowed: ${[...known].join(', ')}`);
  // deep copies: the resolved config is adjusted below and must never alias the defaults
  const c = deepMerge(defaults, user === undefined ? undefined : JSON.parse(JSON.stringify(user))) as RlConfig;
  const num = (path: string, v: unknown, min: number, int = false, max = Infinity) => {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max || (int && !Number.isInteger(v))) {
      throw new RlConfigError(`${where}.${path}: must be ${int ? 'an integer' : 'a number'} ≥ ${min}${max < Infinity ? ` and ≤ ${max}` : ''}, got ${JSON.stringify(v)}`);
    }
  };
  const oneOf = (path: string, v: unknown, allowed: readonly unknown[]) => {
    if (!allowed.includes(v)) throw new RlConfigError(`${where}.${path}: must be one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}, got ${JSON.stringify(v)}`);
  };
  num('steps', c.steps, 1, true); num('promptsPerStep', c.promptsPerStep, 1, true); num('groupSize', c.groupSize, 1, true);
  num('maxNewTokens', c.maxNewTokens, 1, true); num('temperature', c.temperature, 1e-6); num('topP', c.topP, 1e-6, false, 1);
  num('ppoEpochs', c.ppoEpochs, 1, true); num('miniBatches', c.miniBatches, 1, true); num('lr', c.lr, 0);
  num('warmupSteps', c.warmupSteps, 0, true); num('minLrRatio', c.minLrRatio, 0, false, 1); num('weightDecay', c.weightDecay, 0);
  num('gradClip', c.gradClip, 0); num('clipLow', c.clipLow, 0, false, 1); num('clipHigh', c.clipHigh, 0); num('advEps', c.advEps, 0);
  if (c.dualClip !== null) num('dualClip', c.dualClip, 1.000001);
  oneOf('advantage', c.advantage, ADVANTAGES);
  oneOf('policyLoss', c.policyLoss, POLICY_LOSSES);
  oneOf('lossAgg', c.lossAgg, LOSS_AGG_MODES);
  if (c.lossScaleFactor !== undefined) num('lossScaleFactor', c.lossScaleFactor, 1e-9);
  oneOf('kl.estimator', c.kl.estimator, KL_ESTIMATORS);
  oneOf('kl.controller', c.kl.controller, KL_CONTROLLERS);
  num('kl.coef', c.kl.coef, 0); num('kl.target', c.kl.target, 1e-12); num('kl.horizon', c.kl.horizon, 1); num('kl.rate', c.kl.rate, 0);
  num('entropyCoef', c.entropyCoef, -Infinity); num('gamma', c.gamma, 0, false, 1); num('lambda', c.lambda, 0, false, 1);
  oneOf('critic', c.critic, ['shared', 'separate']); num('vfCoef', c.vfCoef, 0); num('valueClip', c.valueClip, 0); num('criticLr', c.criticLr, 0);
  num('dynamicSampling.maxGenBatches', c.dynamicSampling.maxGenBatches, 1, true);
  num('overlong.maxLength', c.overlong.maxLength, 0, true); num('overlong.cacheLength', c.overlong.cacheLength, 0, true); num('overlong.factor', c.overlong.factor, 0);
  if (c.overlong.maxLength === 0) c.overlong.maxLength = c.maxNewTokens;
  if (c.overlong.cacheLength === 0) c.overlong.cacheLength = Math.max(1, Math.round(c.overlong.maxLength / 4));
  if (c.overlong.enabled && c.overlong.cacheLength > c.overlong.maxLength) throw new RlConfigError(`${where}.overlong.cacheLength: must be ≤ overlong.maxLength (${c.overlong.maxLength}), got ${c.overlong.cacheLength}`);
  if (c.zeroVarianceFilter !== null) num('zeroVarianceFilter', c.zeroVarianceFilter, 0);
  num('lengthPenalty.coef', c.lengthPenalty.coef, 0); num('lengthPenalty.target', c.lengthPenalty.target, 1);
  num('eval.every', c.eval.every, 0, true); num('eval.prompts', c.eval.prompts, 1, true); num('eval.samples', c.eval.samples, 1, true);
  num('eval.temperature', c.eval.temperature, 0);
  if (!Array.isArray(c.eval.k) || c.eval.k.some((k) => !Number.isInteger(k) || k < 1)) throw new RlConfigError(`${where}.eval.k: must be a list of integers ≥ 1, got ${JSON.stringify(c.eval.k)}`);
  num('checkpointEvery', c.checkpointEvery, 0, true);
  if (c.advantage === 'gae' && c.policyLoss !== 'ppo') throw new RlConfigError(`${where}.policyLoss: GAE (ppo) needs policyLoss "ppo", got ${JSON.stringify(c.policyLoss)}`);
  return c;
}
