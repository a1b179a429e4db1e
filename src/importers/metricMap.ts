/**
 * Foreign metric names → RL Lens metric names, for metrics that mean the same thing.
 * Target names follow what RL Lens's own trainer writes (src/trainer/rl/step.ts), so native and imported runs overlay.
 * The original names are always kept too (an imported metrics record holds both), so nothing is lost
 * and users who know verl / TRL names still find them.
 *
 * Sources of the foreign names:
 * - verl: verl/trainer/ppo/metric_utils.py compute_data_metrics / compute_timing_metrics / compute_throughout_metrics
 *   and the actor / critic workers (dp_actor.py, dp_critic.py); values as logged by verl/utils/tracking.py FileLogger.
 * - TRL: GRPOTrainer._metrics (trl/trainer/grpo_trainer.py) and transformers.Trainer.log (loss, grad_norm,
 *   learning_rate, epoch) as stored in trainer_state.json `log_history`.
 */

export const VERL_METRICS: Record<string, string | string[]> = {
  'critic/score/mean': 'reward/mean',
  'critic/score/max': 'reward/max',
  'critic/score/min': 'reward/min',
  'critic/rewards/mean': 'reward_with_kl/mean', // sequence sum of token_level_rewards (score − β·KL)
  'critic/advantages/mean': 'advantages/mean',
  'critic/returns/mean': 'returns/mean',
  'critic/values/mean': 'values/mean',
  'critic/vf_explained_var': 'vf_explained_var',
  'critic/vf_loss': 'vf_loss',
  'critic/vf_clipfrac': 'vf_clipfrac',
  'actor/entropy': 'entropy',
  'actor/pg_loss': 'pg_loss',
  'actor/pg_clipfrac': 'clip_ratio/region_mean', // fraction of tokens where the clipped surrogate is active
  'actor/pg_clipfrac_lower': 'clip_ratio/dual_mean', // dual-clip bound active (A < 0)
  'actor/ppo_kl': 'approx_kl', // KL(old ‖ new) estimate inside the PPO update
  'actor/kl_loss': ['kl', 'kl_loss'], // KL to the reference, used as a loss term (use_kl_loss)
  'actor/kl_coef': 'kl_coef',
  'actor/reward_kl_penalty': 'kl', // KL to the reference, used in the reward (use_kl_in_reward)
  'actor/reward_kl_penalty_coeff': 'kl_coef',
  'actor/grad_norm': 'grad_norm',
  'actor/lr': 'lr',
  'response_length/mean': 'response_length/mean',
  'response_length/max': 'response_length/max',
  'response_length/min': 'response_length/min',
  'response_length/clip_ratio': 'response_length/clip_ratio',
  'timing_s/step': 'step_time',
  'timing_s/gen': 'timing/gen_s',
  'perf/throughput': 'tokens_per_s',
};

export const TRL_METRICS: Record<string, string | string[]> = {
  reward: 'reward/mean',
  reward_std: 'reward/std',
  kl: 'kl',
  entropy: 'entropy',
  clip_ratio: 'clip_ratio/region_mean', // TRL < 0.18 logged one clip ratio (low or high region)
  'clip_ratio/low_mean': 'clip_ratio/low_mean',
  'clip_ratio/high_mean': 'clip_ratio/high_mean',
  'clip_ratio/region_mean': 'clip_ratio/region_mean',
  'completions/mean_length': 'response_length/mean',
  'completions/max_length': 'response_length/max',
  'completions/min_length': 'response_length/min',
  'completions/clipped_ratio': 'response_length/clip_ratio',
  frac_reward_zero_std: 'frac_reward_zero_std',
  loss: 'loss',
  grad_norm: 'grad_norm',
  learning_rate: 'lr',
};

/**
 * Build a metrics `values` object: every finite numeric original under its own name, plus the mapped name
 * when there is an equivalent and the mapped name is not itself an original key.
 * Non-finite numbers become null and are reported; non-numeric values are returned in `nonNumeric`.
 */
export function mapMetrics(data: Record<string, unknown>, table: Record<string, string | string[]>, opts: { stripPrefix?: string } = {}): {
  values: Record<string, number | null>;
  nonFinite: string[];
  nonNumeric: string[];
} {
  const values: Record<string, number | null> = {};
  const nonFinite: string[] = [];
  const nonNumeric: string[] = [];
  for (const [k, raw] of Object.entries(data)) {
    let v: unknown = raw;
    if (typeof v === 'boolean') v = v ? 1 : 0;
    if (typeof v !== 'number') { nonNumeric.push(k); continue; }
    if (!Number.isFinite(v)) { nonFinite.push(k); values[k] = null; continue; }
    values[k] = v;
  }
  for (const k of Object.keys(values)) {
    const base = opts.stripPrefix && k.startsWith(opts.stripPrefix) ? k.slice(opts.stripPrefix.length) : k;
    const t = table[base];
    for (const target of t === undefined ? [] : Array.isArray(t) ? t : [t]) {
      if (target !== k && !(target in data)) values[target] = values[k];
    }
  }
  return { values, nonFinite, nonNumeric };
}
