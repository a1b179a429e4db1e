/**
 * Configuration of the online RL algorithms (the `rl` section of a run config) with each algorithm's defaults.
 * Defaults follow the references named next to each value (rl-formulas.md), scaled to the tiny built-in tasks
 * where the reference value makes no sense for a model of a few hundred thousand parameters (learning rate, batch).
 */
import type { KlName } from '../algorithms/kl';
import type { LossAggMode } from '../algorithms/losses';
import { LOSS_AGG_MODES } from '../algorithms/losses';

export const RL_ALGORITHMS = ['ppo', 'grpo', 'dr_grpo', 'dapo', 'gspo', 'gmpo', 'rloo', 'reinforce_pp', 'raft', 'raft_pp', 'reinforce_rej'] as const;
export type RlAlgorithm = typeof RL_ALGORITHMS[number];
export function isRlAlgorithm(a: unknown): a is RlAlgorithm { return (RL_ALGORITHMS as readonly string[]).includes(a as string); }

/** How the advantage is estimated. */
export type AdvantageKind = 'gae' | 'grpo' | 'dr_grpo' | 'rloo' | 'reinforce_pp' | 'reinforce_rej' | 'raft';
/** Which policy loss. `ppo`: verl vanilla clip (+dual); `reinforce`: −A·log π (no ratio); `gspo`, `gmpo`. */
export type PolicyLossKind = 'ppo' | 'reinforce' | 'gspo' | 'gmpo';

export interface RlConfig {
  /** optimizer steps (each = one rollout batch + ppoEpochs × miniBatches updates) */
  steps: number;
  /** prompts per step */
  promptsPerStep: number;
  /** completions per prompt (G) */
  groupSize: number;
  maxNewTokens: number;
  temperature: number;
  topP: number;
  ppoEpochs: number;
  /** minibatches per epoch */
  miniBatches: number;
  lr: number;
  warmupSteps: number;
  minLrRatio: number;
  weightDecay: number;
  /** global-norm gradient clip (verl grad_clip 1.0); 0 = off */
  gradClip: number;
  advantage: AdvantageKind;
  policyLoss: PolicyLossKind;
  /** ε_low / ε_high of the ratio clip (GMPO: in log space) */
  clipLow: number;
  clipHigh: number;
  /** dual-clip constant c (> 1) or null */
  dualClip: number | null;
  lossAgg: LossAggMode;
  /** seq-mean-token-sum-norm divisor; default maxNewTokens (Dr.GRPO: the generation budget) */
  lossScaleFactor?: number;
  /** GRPO std epsilon (verl 1e-6) */
  advEps: number;
  kl: {
    /** KL to the reference added to the loss (GRPO family) */
    inLoss: boolean;
    /** −β·KL per token added to the reward (PPO, REINFORCE++) */
    inReward: boolean;
    estimator: KlName;
    coef: number;
    controller: 'fixed' | 'adaptive' | 'adaptive_beta';
    /** target KL (adaptive controller / adaptive β) */
    target: number;
    /** verl adaptive controller horizon */
    horizon: number;
    /** adaptive β multiplicative rate */
    rate: number;
  };
  entropyCoef: number;
  gamma: number;
  lambda: number;
  /** critic for PPO: value head on the policy trunk (shared) or a separate model */
  critic: 'shared' | 'separate';
  vfCoef: number;
  valueClip: number;
  criticLr: number;
  dynamicSampling: { enabled: boolean; maxGenBatches: number };
  /** DAPO soft overlong punishment; maxLength / cacheLength 0 = derived from maxNewTokens */
  overlong: { enabled: boolean; maxLength: number; cacheLength: number; factor: number };
  /** groups whose reward std is ≤ this give no gradient (their advantages are zeroed); null = off */
  zeroVarianceFilter: number | null;
  lengthPenalty: { coef: number; target: number };
  traces: { fullEvery: number; maxSamples: number };
  eval: { every: number; prompts: number; samples: number; temperature: number; k: number[] };
  checkpointEvery: number;
}

const base: RlConfig = {
  steps: 40, promptsPerStep: 16, groupSize: 8, maxNewTokens: 8, temperature: 1, topP: 1,
  ppoEpochs: 1, miniBatches: 1, lr: 3e-4, warmupSteps: 2, minLrRatio: 0.1, weightDecay: 0, gradClip: 1,
  advantage: 'grpo', policyLoss: 'ppo', clipLow: 0.2, clipHigh: 0.2, dualClip: null, lossAgg: 'token-mean', advEps: 1e-6,
  kl: { inLoss: true, inReward: false, estimator: 'k3', coef: 0.001, controller: 'fixed', target: 0.1, horizon: 10000, rate: 0.1 },
  entropyCoef: 0, gamma: 1, lambda: 1, critic: 'shared', vfCoef: 0.5, valueClip: 0.5, criticLr: 1e-3,
  dynamicSampling: { enabled: false, maxGenBatches: 4 },
  // 0 = derived: maxLength = maxNewTokens (L_max), cacheLength = max(1, round(L_max / 4)) (DAPO: 20480 / 4096 ≈ 1/5)
  overlong: { enabled: false, maxLength: 0, cacheLength: 0, factor: 1 },
  zeroVarianceFilter: null,
  lengthPenalty: { coef: 0, target: 8 },
  traces: { fullEvery: 1, maxSamples: 256 },
  eval: { every: 10, prompts: 100, samples: 4, temperature: 1, k: [1, 4] },
  checkpointEvery: 0,
};

type Patch = Partial<Omit<RlConfig, 'kl' | 'dynamicSampling' | 'overlong' | 'lengthPenalty' | 'traces' | 'eval'>> & {
  kl?: Partial<RlConfig['kl']>; dynamicSampling?: Partial<RlConfig['dynamicSampling']>; overlong?: Partial<RlConfig['overlong']>;
  lengthPenalty?: Partial<RlConfig['lengthPenalty']>; traces?: Partial<RlConfig['traces']>; eval?: Partial<RlConfig['eval']>;
};

/** Each algorithm's defaults on top of `base` (reference for each choice in the comment). */
export const ALGORITHM_DEFAULTS: Record<RlAlgorithm, Patch> = {
  // verl PPO: GAE (γ = λ = 1), whitening, clip 0.2, value clip 0.5, KL in reward (k1) with fixed/adaptive controller, dual clip 3
  ppo: { advantage: 'gae', policyLoss: 'ppo', dualClip: 3, ppoEpochs: 2, miniBatches: 2, gamma: 1, lambda: 0.95,
    kl: { inLoss: false, inReward: true, estimator: 'k1', coef: 0.01, controller: 'fixed' } },
  // verl GRPO docs: KL in loss, low_var_kl (k3), coef 0.001; GRPO paper aggregation: seq-mean-token-mean
  grpo: { advantage: 'grpo', policyLoss: 'ppo', lossAgg: 'seq-mean-token-mean', kl: { inLoss: true, estimator: 'k3', coef: 0.001 } },
  // Dr.GRPO: no std division, token sum / constant (generation budget), no KL loss (verl docs)
  dr_grpo: { advantage: 'dr_grpo', policyLoss: 'ppo', lossAgg: 'seq-mean-token-sum-norm', kl: { inLoss: false, coef: 0 } },
  // DAPO: clip-higher 0.2 / 0.28, dual clip kept (verl), token-mean, dynamic sampling, soft overlong punishment, β = 0
  dapo: { advantage: 'grpo', policyLoss: 'ppo', clipLow: 0.2, clipHigh: 0.28, dualClip: 3, lossAgg: 'token-mean',
    dynamicSampling: { enabled: true, maxGenBatches: 4 }, overlong: { enabled: true }, kl: { inLoss: false, coef: 0 } },
  // GSPO: sequence ratio, ε 3e-4 / 4e-4 (paper §5.1, verl example), β = 0, seq-mean-token-mean forced by the loss
  gspo: { advantage: 'grpo', policyLoss: 'gspo', clipLow: 3e-4, clipHigh: 4e-4, lossAgg: 'seq-mean-token-mean', kl: { inLoss: false, coef: 0 } },
  // GMPO: geometric mean, clip 0.4 in log space (verl example / README)
  gmpo: { advantage: 'grpo', policyLoss: 'gmpo', clipLow: 0.4, clipHigh: 0.4, kl: { inLoss: false, coef: 0 } },
  // RLOO: leave-one-out baseline (verl estimator), PPO clip loss, KL in reward (TRL RLOO: k1 summed into the reward)
  rloo: { advantage: 'rloo', policyLoss: 'ppo', kl: { inLoss: false, inReward: true, estimator: 'k1', coef: 0.01 } },
  // REINFORCE++: discounted returns of (score − β·KL per token), global whitening; PPO clip loss (verl)
  reinforce_pp: { advantage: 'reinforce_pp', policyLoss: 'ppo', kl: { inLoss: false, inReward: true, estimator: 'k1', coef: 0.01 } },
  // RAFT: rejection sampling fine-tuning: A = max(r, 0), vanilla −A·log π, token-mean (MinRL)
  // (RAFT and RAFT++ take several gradient steps per rollout batch, as MinRL does: with a single on-policy step the
  //  ratio is 1 and RAFT++'s importance sampling and clipping would change nothing)
  raft: { advantage: 'raft', policyLoss: 'reinforce', miniBatches: 4, kl: { inLoss: false, coef: 0 } },
  // RAFT++: RAFT advantage + importance sampling + clip + dual clip (MinRL "plusplus")
  raft_pp: { advantage: 'raft', policyLoss: 'ppo', dualClip: 3, miniBatches: 4, kl: { inLoss: false, coef: 0 } },
  // Reinforce-Rej: A = r unless the group is all-equal; plusplus loss; KL loss k3 0.001; n = 4 (MinRL scripts)
  reinforce_rej: { advantage: 'reinforce_rej', policyLoss: 'ppo', dualClip: 3, groupSize: 4, kl: { inLoss: true, estimator: 'k3', coef: 0.001 } },
};

function isObj(x: unknown): x is Record<string, unknown> { return typeof x === 'object' && x !== null && !Array.isArray(x); }

function merge<T>(a: T, b: unknown): T {
  if (!isObj(b)) return a;
  const out: Record<string, unknown> = { ...(a as Record<string, unknown>) };
  for (const [k, v] of Object.entries(b)) out[k] = isObj(v) && isObj(out[k]) ? merge(out[k], v) : v;
  return out as T;
}

export class RlConfigError extends Error {}

/**
 * The full RL config: base ← algorithm defaults ← user's `rl` section. Checks every field and names it on error
 * (`rl.clipHigh: must be a number ≥ 0, got "x"`).
 */
export function resolveRlConfig(algorithm: RlAlgorithm, user: unknown, where = 'rl'): RlConfig {
  if (user !== undefined && !isObj(user)) throw new RlConfigError(`${where}: must be an object, got ${JSON.stringify(user)}`);
  const known = new Set(Object.keys(base));
  for (const k of Object.keys(user ?? {})) if (!known.has(k)) throw new RlConfigError(`${where}.${k}: unknown field; allowed: ${[...known].join(', ')}`);
  // deep copies: the resolved config is adjusted below and must never alias `base` or the defaults table
  const c = merge(merge(JSON.parse(JSON.stringify(base)) as RlConfig, JSON.parse(JSON.stringify(ALGORITHM_DEFAULTS[algorithm]))), user === undefined ? undefined : JSON.parse(JSON.stringify(user)));
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
  oneOf('advantage', c.advantage, ['gae', 'grpo', 'dr_grpo', 'rloo', 'reinforce_pp', 'reinforce_rej', 'raft']);
  oneOf('policyLoss', c.policyLoss, ['ppo', 'reinforce', 'gspo', 'gmpo']);
  oneOf('lossAgg', c.lossAgg, LOSS_AGG_MODES);
  if (c.lossScaleFactor !== undefined) num('lossScaleFactor', c.lossScaleFactor, 1e-9);
  oneOf('kl.estimator', c.kl.estimator, ['k1', 'abs', 'k2', 'k3', 'kl', 'mse', 'low_var_kl', 'k1+', 'k2+', 'k3+', 'low_var_kl+']);
  oneOf('kl.controller', c.kl.controller, ['fixed', 'adaptive', 'adaptive_beta']);
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
  num('traces.fullEvery', c.traces.fullEvery, 0, true); num('traces.maxSamples', c.traces.maxSamples, 0, true);
  num('eval.every', c.eval.every, 0, true); num('eval.prompts', c.eval.prompts, 1, true); num('eval.samples', c.eval.samples, 1, true);
  num('eval.temperature', c.eval.temperature, 0);
  if (!Array.isArray(c.eval.k) || c.eval.k.some((k) => !Number.isInteger(k) || k < 1)) throw new RlConfigError(`${where}.eval.k: must be a list of integers ≥ 1, got ${JSON.stringify(c.eval.k)}`);
  num('checkpointEvery', c.checkpointEvery, 0, true);
  if (c.advantage === 'gae' && c.policyLoss !== 'ppo') throw new RlConfigError(`${where}.policyLoss: GAE (ppo) needs policyLoss "ppo", got ${JSON.stringify(c.policyLoss)}`);
  return c;
}
