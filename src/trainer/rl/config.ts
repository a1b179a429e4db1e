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

export const RL_ALGORITHMS = ['ppo', 'grpo', 'dr_grpo', 'dapo', 'gspo', 'gmpo', 'rloo', 'reinforce_pp', 'raft', 'raft_pp', 'reinforce_rej', 'gvpo', 'grpo_lambda', 'gigpo', 'arpo', 'tree_grpo'] as const;
export type RlAlgorithm = typeof RL_ALGORITHMS[number];
export function isRlAlgorithm(a: unknown): a is RlAlgorithm { return (RL_ALGORITHMS as readonly string[]).includes(a as string); }

/** How the advantage is estimated. */
export type AdvantageKind = 'gae' | 'grpo' | 'dr_grpo' | 'rloo' | 'reinforce_pp' | 'reinforce_rej' | 'raft' | 'gigpo' | 'tree_grpo';
/** Which policy loss. `ppo`: verl vanilla clip (+dual); `reinforce`: −A·log π (no ratio); `gspo`, `gmpo`. */
export type PolicyLossKind = 'ppo' | 'reinforce' | 'gspo' | 'gmpo' | 'gvpo';

const ADVANTAGES: AdvantageKind[] = ['gae', 'grpo', 'dr_grpo', 'rloo', 'reinforce_pp', 'reinforce_rej', 'raft', 'gigpo', 'tree_grpo'];
const POLICY_LOSSES: PolicyLossKind[] = ['ppo', 'reinforce', 'gspo', 'gmpo', 'gvpo'];
const KL_ESTIMATORS: KlName[] = ['k1', 'abs', 'k2', 'k3', 'kl', 'mse', 'low_var_kl', 'k1+', 'k2+', 'k3+', 'low_var_kl+'] as KlName[];
const KL_CONTROLLERS = ['fixed', 'adaptive', 'adaptive_beta'] as const;
const int = (x: Record<string, unknown> = {}) => ({ type: 'integer', ...x });
const num = (x: Record<string, unknown> = {}) => ({ type: 'number', ...x });
const bool = { type: 'boolean' };
const oneOf = (values: readonly unknown[]) => ({ type: 'string', enum: [...values] });
/** algorithms without a KL term (β = 0, none in the loss) */
const NO_KL = { dr_grpo: 0, dapo: 0, gspo: 0, gmpo: 0, raft: 0, raft_pp: 0, gvpo: 0 };

/**
 * Every field of the `rl` section, once. `byAlgorithm` lists where an algorithm's default differs from `default`
 * (each with its reference). Section-only fields (not in RlConfig): summariesEveryStep, warmStart.
 */
export const RL_FIELDS: Fields = {
  promptsPerStep: { schema: int({ minimum: 1 }), default: 16, doc: 'prompts per step; each gets groupSize completions (batch = promptsPerStep × groupSize sequences)', ref: 'verl data.train_batch_size' },
  groupSize: { schema: int({ minimum: 1 }), default: 8, byAlgorithm: { reinforce_rej: 4, gvpo: 4 }, doc: 'completions per prompt (G)', ref: 'verl actor_rollout_ref.rollout.n; TRL GRPOConfig num_generations 8; Reinforce-Rej n = 4 (MinRL scripts); GVPO n = 4 (recipe/gvpo/run_qwen2-7b_math_gvpo.sh rollout.n=4)' },
  ppoEpochs: { schema: int({ minimum: 1 }), default: 1, byAlgorithm: { ppo: 2 }, doc: 'passes over each rollout batch', ref: 'verl actor.ppo_epochs 1 (docs/references.md#ppo-defaults); TRL PPOConfig num_ppo_epochs 4' },
  miniBatches: { schema: int({ minimum: 1 }), default: 1, byAlgorithm: { ppo: 2, raft: 4, raft_pp: 4, gvpo: 4 }, doc: 'minibatches (policy updates) per epoch; RAFT / RAFT++ take several steps per batch, or their importance ratio stays 1; GVPO splits whole groups (its later minibatches are off-policy)', ref: 'verl ppo_mini_batch_size = train_batch_size / miniBatches; MinRL; GVPO recipe train_batch_size 1024 / ppo_mini_batch_size 256 = 4' },
  advantage: {
    schema: oneOf(ADVANTAGES), default: 'grpo',
    byAlgorithm: { ppo: 'gae', dr_grpo: 'dr_grpo', rloo: 'rloo', reinforce_pp: 'reinforce_pp', raft: 'raft', raft_pp: 'raft', reinforce_rej: 'reinforce_rej', gvpo: 'dr_grpo', gigpo: 'gigpo', tree_grpo: 'tree_grpo' },
    doc: 'advantage estimator: gae (critic), grpo (group mean / std), dr_grpo (no std division), rloo (leave-one-out), reinforce_pp (discounted returns, global whitening), reinforce_rej (drop all-equal groups), raft (max(r, 0)), gigpo (episode + anchor-state step advantages; multi-turn environments only), tree_grpo (intra-tree + inter-tree group advantages of the leaves of tree rollouts; algorithm tree_grpo only)',
    ref: 'verl algorithm.adv_estimator, core_algos compute_*_advantage (docs/algorithms.md); MinRL for raft / reinforce_rej',
  },
  policyLoss: {
    schema: oneOf(POLICY_LOSSES), default: 'ppo', byAlgorithm: { gspo: 'gspo', gmpo: 'gmpo', raft: 'reinforce', gvpo: 'gvpo' },
    doc: 'ppo = clipped surrogate (+ dual clip); reinforce = −A·log π; gspo = sequence-level ratio; gmpo = geometric mean of token ratios; gvpo = ½·(central distance of β·log(π/π_old) − that of the reward)²/(n − 1) (needs advantage dr_grpo)',
    ref: 'verl compute_policy_loss_vanilla / _gspo / _geo_mean; MinRL vanilla; GVPO recipe compute_policy_loss_gvpo (algorithms/gvpo.ts)',
  },
  clipLow: { schema: num({ minimum: 0, maximum: 1 }), default: 0.2, byAlgorithm: { gspo: 3e-4, gmpo: 0.4 }, doc: 'ε_low: the ratio is clipped at 1 − ε_low (GMPO: in log space)', ref: 'verl clip_ratio_low 0.2; TRL epsilon; GSPO paper §5.1 3e-4; GMPO 0.4 (docs/references.md#gspo, #gmpo)' },
  clipHigh: { schema: num({ minimum: 0 }), default: 0.2, byAlgorithm: { dapo: 0.28, gspo: 4e-4, gmpo: 0.4 }, doc: 'ε_high: the ratio is clipped at 1 + ε_high', ref: 'verl clip_ratio_high; TRL epsilon_high; DAPO clip-higher 0.28 (docs/references.md#dapo)' },
  dualClip: { schema: { type: ['number', 'null'], exclusiveMinimum: 1 }, default: null, byAlgorithm: { ppo: 3, dapo: 3, raft_pp: 3, reinforce_rej: 3 }, doc: 'dual-clip constant c for A < 0 (loss = min(L_clip, −A·c)); null = off', ref: 'verl clip_ratio_c 3.0 (docs/references.md#policy-loss); MinRL plusplus' },
  lossAgg: {
    schema: oneOf(LOSS_AGG_MODES), default: 'token-mean', byAlgorithm: { grpo: 'seq-mean-token-mean', arpo: 'seq-mean-token-mean', dr_grpo: 'seq-mean-token-sum-norm', gspo: 'seq-mean-token-mean' },
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
  eepo: {
    doc: 'EEPO sample-then-forget rollouts (any algorithm with groups): the first ⌈G/2⌉ samples of each group, then one unlearning step on them (complementary loss −log(1 − π) per token, SGD), the other ⌊G/2⌋ from the unlearned model, then the weights are restored (algorithms/eepo.ts)',
    fields: {
      enabled: { schema: bool, default: false, doc: 'two-stage rollouts with the temporary unlearning step', ref: 'EEPO (Chen et al. 2025, arXiv 2510.05837) §3; docs/references.md#eepo' },
      entropyThreshold: { schema: { type: ['number', 'null'], minimum: 0 }, default: null, doc: 'adaptive trigger τ: unlearn only when the first stage\'s mean token entropy (nats) is below τ; null = every step', ref: 'EEPO "entropy-based gating" (τ of the paper not published with the text we read)' },
      lr: { schema: num({ exclusiveMinimum: 0 }), default: 0.05, doc: 'η of the single SGD unlearning step θ\' = θ − η·∇L_forget (the rollout copy only)', ref: 'EEPO single-step rollout-model update; value chosen here: on eepo-arithmetic 0.05 lowered the stage-1 samples\' mean log-prob by 0.003–0.6 nats per step' },
      clip: { schema: num({ exclusiveMinimum: 0 }), default: 1, doc: 'global norm the unlearning gradient is clipped to before the step', ref: 'as train.gradClip' },
    },
  },
  ghpo: {
    doc: 'GHPO guided rollouts: groups whose every sample fails (accuracy ≤ 0) are regenerated with the first ω of the reference answer appended to the prompt as a hint, ω growing 0.25 → 0.5 → 0.75 while the group still fails (algorithms/ghpo.ts)',
    fields: {
      enabled: { schema: bool, default: false, doc: 'difficulty detection + adaptive prompt refinement', ref: 'GHPO (Liu et al. 2025, arXiv 2507.10628); hkgc-1/GHPO ghpo_trainer.py _generate_and_score_completions; docs/references.md#ghpo' },
      hintRatios: { schema: { type: 'array', items: { type: 'number', exclusiveMinimum: 0, maximum: 1 }, minItems: 1 }, default: [0.25, 0.5, 0.75], doc: 'hint ratios ω tried in order (hint = answer[: round(len·ω)], Python rounding)', ref: 'hkgc-1/GHPO inputs_hint_25 / _50 / _75' },
      startStep: { schema: int({ minimum: 1 }), default: 1, doc: 'first step with hints (before: plain RL)', ref: 'hkgc-1/GHPO GHPOConfig start_hint_step' },
      accuracyPart: { schema: { type: 'string', minLength: 1 }, default: 'accuracy', doc: 'reward part that decides "failed" (≤ 0); a task without it: the total reward', ref: 'hkgc-1/GHPO rewards_per_func[:, 0] (the accuracy reward)' },
    },
  },
  rewardSchedule: {
    doc: 'DELTA dense → binary reward: the reward the advantage uses is the task\'s dense part up to step denseUntil, its binary part after (algorithms/delta.ts)',
    fields: {
      denseUntil: { schema: { type: ['integer', 'null'], minimum: 0 }, default: null, doc: 'last step with the dense reward; null = no schedule (the task\'s own score)', ref: 'DELTA (Sun et al. 2025) two-phase reward; docs/references.md#delta' },
      densePart: { schema: { type: 'string', minLength: 1 }, default: 'dense', doc: 'reward part used in the dense phase (partial credit per test case)', ref: 'tasks/delta.ts' },
      binaryPart: { schema: { type: 'string', minLength: 1 }, default: 'accuracy', doc: 'reward part used in the binary phase (all test cases pass)', ref: 'tasks/delta.ts' },
    },
  },
  gvpoBeta: { schema: num({ exclusiveMinimum: 0 }), default: 0.1, doc: 'GVPO β: the KL constraint to the sampling policy π_θ\' in the implicit reward β·log(π_θ/π_θ\'); larger = smaller steps (policyLoss "gvpo" only)', ref: 'GVPO (arXiv 2504.19599) β; verl recipe actor.gvpo_beta 0.1 (run_qwen2-7b_math_gvpo.sh); docs/references.md#gvpo' },
  grpoLambda: {
    doc: 'GRPO-λ: the reward is 0/1 correctness (the task\'s "solved"), and the top-λ fraction of the batch\'s groups by correctness ratio get a length-penalised reward instead (algorithm grpo_lambda only; algorithms/grpoLambda.ts)',
    fields: {
      lambda: { schema: num({ minimum: 0, maximum: 1 }), default: 0.2, doc: 'λ: fraction of the batch\'s groups (the most accurate, ⌈λ·K⌉ of K) that get the length-penalised reward; 0 = plain 0/1 GRPO, 1 = the penalty on every group (the paper\'s LP baseline)', ref: 'GRPO-λ (arXiv 2505.18086) Top-λ selection; default: our reading, docs/references.md#grpo-lambda' },
      penalty: { schema: oneOf(['kimi', 'efficient']), default: 'kimi', doc: 'length-penalised reward: kimi = 1{correct} + the Kimi k1.5 length reward (0.5 − (len − min)/(max − min) over the group, ≤ 0 for wrong answers); efficient = 1{correct}·(1 − α·σ(z-scored length among the group\'s correct answers))', ref: 'Kimi k1.5 (arXiv 2501.12599), the length penalty GRPO-λ\'s introduction names; Arora & Zanette 2025 (arXiv 2502.04463)' },
      skipUnsolved: { schema: bool, default: true, doc: 'never give the length penalty to a group with no correct completion (so fewer than ⌈λ·K⌉ groups may be penalised); false with lambda 1 = the paper\'s LP baseline (the penalty on every group)', ref: 'GRPO-λ abstract: "a low correctness ratio indicates the need to avoid length penalty"; without it a batch with < ⌈λK⌉ solved groups penalised all-wrong groups and collapsed here (docs/algorithms.md#grpo-lambda)' },
      accuracyPart: { schema: { type: ['string', 'null'], minLength: 1 }, default: null, doc: 'where the 0/1 correctness comes from: null = the task\'s "solved" flag (what pass@k counts); a reward part name (e.g. "word" of stories-word) = that part, which must be 0 or 1', ref: 'GRPO-λ 0/1 outcome reward; our knob for tasks whose solved rate starts near 0' },
      alpha: { schema: num({ minimum: 0 }), default: 0.2, doc: 'α of the efficient penalty: a correct answer gets between 1 − α and 1 (the longer, relative to the group\'s other correct answers, the lower; the mean length gets 1 − α/2)', ref: 'Arora & Zanette 2025 α (0.05–0.4 in their sweeps)' },
    },
  },
  env: {
    doc: 'multi-turn tool environments (task calc-tool / lookup-tool, or a user module): episode limits; docs/environments.md',
    fields: {
      maxTurns: { schema: int({ minimum: 1 }), default: 4, doc: 'policy turns per episode (each ends with a tool call or EOS); an episode whose last allowed turn calls a tool is truncated', ref: 'verl multi_turn.max_assistant_turns; OpenRLHF agent max turns' },
      maxTokens: { schema: int({ minimum: 1 }), default: 32, doc: 'token budget of an episode\'s response: policy and environment tokens together (each turn also stops at sampling.maxNewTokens)', ref: 'verl multi_turn response_length budget' },
      module: { schema: { type: ['string', 'null'], minLength: 1 }, default: null, doc: 'path of a JS module exporting an environment (name, chars, sample, evalItems, tool, finalReward, demo) that replaces the task\'s; only loaded in a trusted workspace (as task.rewardModule)', ref: 'envs/index.ts loadUserEnvironment' },
    },
  },
  gigpo: {
    doc: 'GiGPO (algorithm gigpo, advantage "gigpo"): A = A^E + ω·A^S from episode groups and anchor-state step groups (algorithms/gigpo.ts)',
    fields: {
      omega: { schema: num({ minimum: 0 }), default: 1, doc: 'ω: weight of the step-level advantage A^S (Eq. 8); 0 = episode-level only (GRPO over trajectories)', ref: 'GiGPO (arXiv 2505.10978) Eq. 8; verl-agent algorithm.gigpo.step_advantage_w 1.0' },
      gamma: { schema: num({ minimum: 0, maximum: 1 }), default: 0.95, doc: 'γ of the step returns R_t = Σ_{k≥t} γ^{k−t} r_k (Eq. 5)', ref: 'verl-agent algorithm.gamma 0.95 (GiGPO scripts)' },
      mode: { schema: oneOf(['mean_std_norm', 'mean_norm']), default: 'mean_std_norm', doc: 'F_norm: mean_std_norm divides by the group std + advEps (the paper), mean_norm only subtracts the mean', ref: 'verl-agent algorithm.gigpo.mode' },
    },
  },
  arpo: {
    doc: 'ARPO (algorithm arpo): entropy-based adaptive rollout — N trajectories per prompt, then after tool results branch Z partial rollouts when P_t = α + β·ΔH_t > τ, until M trajectories; GRPO advantages over the M, soft or hard attribution to shared tokens (algorithms/arpo.ts, rl/arpo.ts; multi-turn environments only)',
    fields: {
      budget: { schema: { type: ['integer', 'null'], minimum: 1 }, default: null, doc: 'M: trajectories per prompt (the global rollout budget: N initial + branches + fill-ups); null = rl.groupSize', ref: 'ARPO (arXiv 2507.19849) §3.1 M; dongguanting/ARPO rollout.n (scripts ROLLOUT_N=16)' },
      initialRollouts: { schema: { type: ['integer', 'null'], minimum: 1 }, default: null, doc: 'N: trajectories sampled from the prompt first; the other M − N slots go to branches (or fresh trajectories when every trajectory ended early); null = ⌈M/2⌉', ref: 'ARPO §3.1 N; rollout.initial_rollouts (scripts INITIAL_ROLLOUTS=8 of 16)' },
      entropyTokens: { schema: int({ minimum: 1 }), default: 20, doc: 'k: a turn\'s step entropy is the sum of the entropies of its first k policy tokens, divided by ln V', ref: 'ARPO Eq. 4; vllm_rollout_with_tools.py "Entropy Variation Monitoring" (first 20 tokens)' },
      alpha: { schema: { type: ['number', 'null'] }, default: null, doc: 'α of P_t = α + β·ΔH_t: null = drawn uniform in (0, 1] at every decision, as the code (branch when clip(u − β·ΔH, 0, 1) ≤ 1 − τ); a number = fixed α (Eq. 5 read literally: branching is then deterministic given ΔH)', ref: 'ARPO Eq. 5 α "base sampling probability"; code prob = random.random() − entropy_weight·ΔH' },
      beta: { schema: num({ minimum: 0 }), default: 0.2, doc: 'β of P_t = α + β·ΔH_t: how much a rise of the entropy after a tool result raises the branch probability', ref: 'ARPO Eq. 5 β; rollout.entropy_weight (scripts Entropy_weight=0.2)' },
      tau: { schema: num(), default: 0.5, doc: 'τ: branch when P_t > τ', ref: 'ARPO Eq. 5 τ; = 1 − rollout.branch_probability (scripts BRANCH_PROBABILITY=0.5)' },
      branches: { schema: int({ minimum: 1 }), default: 1, doc: 'Z: partial rollouts created by one branching decision (capped by the budget left)', ref: 'ARPO Eq. 5 Branch(Z); rollout.beam_size − 1 (scripts BEAM_SIZE=2)' },
      branchAt: { schema: oneOf(['next_call', 'same_turn']), default: 'next_call', doc: 'where a branch starts: next_call = the decision after turn t uses the entropy of turn t and the branches copy the trajectory through turn t\'s tool result (the code: it forks the active trajectory after each tool round); same_turn = the branches regenerate turn t from right after the tool result that preceded it (Eq. 5 read as branching at the node whose first k tokens were measured)', ref: 'vllm_rollout_with_tools.py generate_sequences (fork after the tool results are appended); ARPO §3.1 (3)' },
      attribution: { schema: oneOf(['soft', 'hard']), default: 'soft', doc: 'soft = GRPO over the M trajectories, shared prefix tokens trained in every trajectory that contains them (the paper\'s default); hard = a shared token gets the mean advantage of the trajectories that share it', ref: 'ARPO §3.2 (Figure 5: "ARPO defaults to using the soft setting"); scripts algorithm.adv_estimator=grpo' },
    },
  },
  treeGrpo: {
    doc: 'Tree-GRPO (algorithm tree_grpo, advantage "tree_grpo"): per prompt M trees, each grown from one chain by L iterations that each expand N nodes (the root or an agent-step boundary, drawn with replacement) to a new chain to the end; leaves per prompt = M·k with k = 1 + L·N (rl.groupSize is not used); A = intra-tree + inter-tree group-relative advantage (algorithms/treeGrpo.ts, rl/treeRollout.ts; multi-turn environments only). Budget: M full chains + M·L·N partial chains (an expansion from depth d regenerates the turns after d), measured per step as tree/chain_equiv',
    fields: {
      trees: { schema: int({ minimum: 1 }), default: 4, doc: 'M: trees per prompt, each initialised with one complete chain', ref: 'Tree-GRPO (arXiv 2509.21240) M; AMAP-ML/Tree-GRPO generation_ts.py GenerationTreeSearchConfig.m, scripts tree_search_m=2 (4 here: 4 chains + 8 expansions ≈ the token budget of GRPO\'s 8 chains on calc-tool, docs/algorithms.md#tree-grpo)' },
      expandNodes: { schema: int({ minimum: 1 }), default: 2, doc: 'N: nodes expanded per tree per iteration, drawn uniformly with replacement from the root and the non-leaf nodes (agent-step boundaries: right after a tool result); each expansion regenerates one chain from the node to the end', ref: 'Tree-GRPO N; generation_ts.py config.n, tree_node.py get_expand_node (random.choices); scripts tree_search_n=2' },
      iterations: { schema: int({ minimum: 0 }), default: 1, doc: 'L: expansion iterations (0 = M independent chains: intra-tree groups of one)', ref: 'Tree-GRPO L; generation_ts.py config.l; scripts tree_search_l=1' },
      leavesPerTree: { schema: { type: ['integer', 'null'], minimum: 1 }, default: null, doc: 'k: leaves per tree kept for the update, drawn at random (the others are pruned; their tokens were still generated); null = every leaf (1 + L·N)', ref: 'generation_ts.py config.k, tree_node.py sample_leaf; scripts tree_search_k=3 = 1 + L·N (all)' },
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
  /** GVPO β (policyLoss "gvpo"; algorithms/gvpo.ts) */
  gvpoBeta: number;
  /** GRPO-λ Top-λ length penalty (algorithm grpo_lambda; algorithms/grpoLambda.ts) */
  grpoLambda: { lambda: number; penalty: 'efficient' | 'kimi'; skipUnsolved: boolean; accuracyPart: string | null; alpha: number };
  /** EEPO two-stage rollouts (algorithms/eepo.ts) */
  eepo: { enabled: boolean; entropyThreshold: number | null; lr: number; clip: number };
  /** GHPO hinted regeneration of all-wrong groups (algorithms/ghpo.ts) */
  ghpo: { enabled: boolean; hintRatios: number[]; startStep: number; accuracyPart: string };
  /** DELTA dense → binary reward schedule (algorithms/delta.ts) */
  rewardSchedule: { denseUntil: number | null; densePart: string; binaryPart: string };
  /** multi-turn episode limits and the user environment module (envs/, rl/multiturn.ts) */
  env: { maxTurns: number; maxTokens: number; module: string | null };
  /** GiGPO (algorithms/gigpo.ts) */
  gigpo: { omega: number; gamma: number; mode: 'mean_std_norm' | 'mean_norm' };
  /** ARPO entropy-based adaptive rollout and advantage attribution (algorithms/arpo.ts, rl/arpo.ts) */
  arpo: { budget: number | null; initialRollouts: number | null; entropyTokens: number; alpha: number | null; beta: number; tau: number; branches: number; branchAt: 'next_call' | 'same_turn'; attribution: 'soft' | 'hard' };
  /** Tree-GRPO tree rollouts (rl/treeRollout.ts, algorithms/treeGrpo.ts) */
  treeGrpo: { trees: number; expandNodes: number; iterations: number; leavesPerTree: number | null };
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
  num('gvpoBeta', c.gvpoBeta, 1e-12);
  num('grpoLambda.lambda', c.grpoLambda.lambda, 0, false, 1); oneOf('grpoLambda.penalty', c.grpoLambda.penalty, ['kimi', 'efficient']); oneOf('grpoLambda.skipUnsolved', c.grpoLambda.skipUnsolved, [true, false]); num('grpoLambda.alpha', c.grpoLambda.alpha, 0);
  if (c.grpoLambda.accuracyPart !== null && (typeof c.grpoLambda.accuracyPart !== 'string' || !c.grpoLambda.accuracyPart)) throw new RlConfigError(`${where}.grpoLambda.accuracyPart: must be null (the task's solved flag) or the name of a 0/1 reward part (e.g. "word"), got ${JSON.stringify(c.grpoLambda.accuracyPart)}`);
  if (c.policyLoss === 'gvpo' && c.groupSize < 2) throw new RlConfigError(`${where}.groupSize: GVPO needs at least 2 completions per prompt (its loss divides by n − 1), got ${c.groupSize}`);
  if (c.policyLoss === 'gvpo' && c.advantage !== 'dr_grpo') throw new RlConfigError(`${where}.advantage: policyLoss "gvpo" takes R − mean(R) as its reward term: set advantage "dr_grpo", got ${JSON.stringify(c.advantage)}`);
  if (c.policyLoss === 'gvpo' && c.dynamicSampling.enabled) throw new RlConfigError(`${where}.dynamicSampling.enabled: GVPO needs every group whole and of the same size; set it to false`);
  if (algorithm === 'grpo_lambda' && c.dynamicSampling.enabled) throw new RlConfigError(`${where}.dynamicSampling.enabled: grpo_lambda recomputes the rewards over the whole batch after sampling; set it to false`);
  if (c.eepo.entropyThreshold !== null) num('eepo.entropyThreshold', c.eepo.entropyThreshold, 0);
  num('eepo.lr', c.eepo.lr, 1e-12); num('eepo.clip', c.eepo.clip, 1e-12);
  if (!Array.isArray(c.ghpo.hintRatios) || !c.ghpo.hintRatios.length || c.ghpo.hintRatios.some((w) => typeof w !== 'number' || !(w > 0 && w <= 1))) throw new RlConfigError(`${where}.ghpo.hintRatios: must be a non-empty list of numbers in (0, 1], e.g. [0.25, 0.5, 0.75], got ${JSON.stringify(c.ghpo.hintRatios)}`);
  num('ghpo.startStep', c.ghpo.startStep, 1, true);
  if (c.rewardSchedule.denseUntil !== null) num('rewardSchedule.denseUntil', c.rewardSchedule.denseUntil, 0, true);
  for (const k of ['densePart', 'binaryPart'] as const) if (typeof c.rewardSchedule[k] !== 'string' || !c.rewardSchedule[k]) throw new RlConfigError(`${where}.rewardSchedule.${k}: must be the name of a reward part of the task (e.g. "dense", "accuracy"), got ${JSON.stringify(c.rewardSchedule[k])}`);
  if (typeof c.ghpo.accuracyPart !== 'string' || !c.ghpo.accuracyPart) throw new RlConfigError(`${where}.ghpo.accuracyPart: must be the name of a reward part (e.g. "accuracy"), got ${JSON.stringify(c.ghpo.accuracyPart)}`);
  num('env.maxTurns', c.env.maxTurns, 1, true); num('env.maxTokens', c.env.maxTokens, 1, true);
  if (c.env.module !== null && (typeof c.env.module !== 'string' || !c.env.module)) throw new RlConfigError(`${where}.env.module: must be null or the path of an environment module, got ${JSON.stringify(c.env.module)}`);
  num('gigpo.omega', c.gigpo.omega, 0); num('gigpo.gamma', c.gigpo.gamma, 0, false, 1); oneOf('gigpo.mode', c.gigpo.mode, ['mean_std_norm', 'mean_norm']);
  if (c.arpo.budget !== null) num('arpo.budget', c.arpo.budget, 1, true);
  if (c.arpo.initialRollouts !== null) num('arpo.initialRollouts', c.arpo.initialRollouts, 1, true);
  if (c.arpo.initialRollouts !== null && c.arpo.initialRollouts > (c.arpo.budget ?? c.groupSize)) throw new RlConfigError(`${where}.arpo.initialRollouts: N must be ≤ the budget M (arpo.budget, or groupSize ${c.groupSize} when it is null), got N ${c.arpo.initialRollouts} > M ${c.arpo.budget ?? c.groupSize}`);
  num('arpo.entropyTokens', c.arpo.entropyTokens, 1, true); num('arpo.beta', c.arpo.beta, 0); num('arpo.tau', c.arpo.tau, -Infinity); num('arpo.branches', c.arpo.branches, 1, true);
  if (c.arpo.alpha !== null) num('arpo.alpha', c.arpo.alpha, -Infinity);
  oneOf('arpo.branchAt', c.arpo.branchAt, ['next_call', 'same_turn']); oneOf('arpo.attribution', c.arpo.attribution, ['soft', 'hard']);
  if (algorithm === 'arpo' && c.advantage !== 'grpo') throw new RlConfigError(`${where}.advantage: ARPO computes GRPO advantages over each prompt's M trajectories (then soft / hard attribution, arpo.attribution); set advantage "grpo", got ${JSON.stringify(c.advantage)}`);
  num('treeGrpo.trees', c.treeGrpo.trees, 1, true); num('treeGrpo.expandNodes', c.treeGrpo.expandNodes, 1, true); num('treeGrpo.iterations', c.treeGrpo.iterations, 0, true);
  if (c.treeGrpo.leavesPerTree !== null) {
    num('treeGrpo.leavesPerTree', c.treeGrpo.leavesPerTree, 1, true);
    const all = 1 + c.treeGrpo.iterations * c.treeGrpo.expandNodes;
    if (c.treeGrpo.leavesPerTree > all) throw new RlConfigError(`${where}.treeGrpo.leavesPerTree: a tree has 1 + iterations·expandNodes = ${all} leaves, so k must be ≤ ${all} (or null for all of them), got ${c.treeGrpo.leavesPerTree}`);
  }
  if (c.advantage === 'tree_grpo' && algorithm !== 'tree_grpo') throw new RlConfigError(`${where}.advantage: "tree_grpo" needs the tree rollouts of algorithm "tree_grpo" (set algorithm "tree_grpo"), got algorithm ${JSON.stringify(algorithm)}`);
  num('eval.every', c.eval.every, 0, true); num('eval.prompts', c.eval.prompts, 1, true); num('eval.samples', c.eval.samples, 1, true);
  num('eval.temperature', c.eval.temperature, 0);
  if (!Array.isArray(c.eval.k) || c.eval.k.some((k) => !Number.isInteger(k) || k < 1)) throw new RlConfigError(`${where}.eval.k: must be a list of integers ≥ 1, got ${JSON.stringify(c.eval.k)}`);
  num('checkpointEvery', c.checkpointEvery, 0, true);
  if (c.advantage === 'gae' && c.policyLoss !== 'ppo') throw new RlConfigError(`${where}.policyLoss: GAE (ppo) needs policyLoss "ppo", got ${JSON.stringify(c.policyLoss)}`);
  return c;
}
