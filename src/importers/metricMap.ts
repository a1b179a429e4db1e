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
  // older verl (≤ 0.2): apply_kl_penalty returned {'critic/kl': current_kl, 'critic/kl_coeff': beta} (later renamed
  // actor/reward_kl_penalty[_coeff]); dp_actor.py logged 'actor/entropy_loss' (masked mean entropy) before actor/entropy
  'critic/kl': 'kl',
  'critic/kl_coeff': 'kl_coef',
  'actor/entropy_loss': 'entropy',
  'response_length/mean': 'response_length/mean',
  'response_length/max': 'response_length/max',
  'response_length/min': 'response_length/min',
  'response_length/clip_ratio': 'response_length/clip_ratio',
  'timing_s/step': 'perf/step_time',
  'timing_s/gen': 'timing/gen_s',
  // older verl (≤ 0.2) timing names, as its console logger printed them (volcengine/verl docs/start/quickstart.rst:
  // "step:0 - timing/gen:21.470 - timing/ref:4.360 - ..."); its learning rate `actor/lr(1e-4)` (= lr × 1e4, fsdp_workers.py
  // `metrics['actor/lr(1e-4)'] = lr * 1e4`) is rescaled to `lr` in verl.ts mapVerlMetrics
  'timing/gen': 'timing/gen_s',
  // verl: (prompt + response) tokens / step time / GPUs; ours counts the generated tokens (docs/metrics.md "Timing")
  'perf/throughput': 'perf/tokens_per_sec',
};

/**
 * TRL names, by trainer and version family (all written to trainer_state.json `log_history` through Trainer.log):
 *
 * GRPO, TRL 0.14-0.16 (huggingface/trl v0.14.0 trl/trainer/grpo_trainer.py, compute_loss):
 *     self._metrics["completion_length"].append(completion_length)
 *     self._metrics[f"rewards/{reward_func_name}"].append(reward_per_func[i].item())
 *     self._metrics["reward"].append(self.accelerator.gather_for_metrics(rewards).mean().item())
 *     self._metrics["reward_std"].append(self.accelerator.gather_for_metrics(std_grouped_rewards).mean().item())
 *     self._metrics["kl"].append(self.accelerator.gather_for_metrics(mean_kl).mean().item())
 *   0.16 keys them by mode (`self._metrics[mode]["completion_length"]`, eval entries get `eval_`) and adds
 *   `clip_ratio` (one number: the fraction of tokens where the clipped objective is active) with num_iterations > 1.
 *   unsloth's patched GRPOTrainer logs the same names (`completion_length`, `rewards/<f>`, `kl`; no `kl` when β = 0).
 * GRPO, TRL ≥ 0.17 (huggingface/trl d2b69d769dab6f77acbfd33252bcd7d22765571b trl/trainer/grpo_trainer.py,
 *   _generate_and_score_completions):
 *     self._metrics[mode]["num_tokens"] = [self.state.num_input_tokens_seen]
 *     self._metrics[mode]["completions/mean_length"].append(agg_completion_lengths.float().mean().item())
 *     self._metrics[mode]["completions/min_length"] ... ["completions/max_length"] ... ["completions/clipped_ratio"]
 *     self._metrics[mode]["completions/mean_terminated_length"] ... min_/max_terminated_length
 *     self._metrics[mode][f"rewards/{reward_func_name}/mean"].append(mean_rewards)
 *     self._metrics[mode][f"rewards/{reward_func_name}/std"].append(std_rewards)
 *     self._metrics[mode]["reward"].append(mean_grouped_rewards.mean().item())
 *     self._metrics[mode]["reward_std"].append(std_grouped_rewards.mean().item())
 *     self._metrics[mode]["frac_reward_zero_std"].append(is_std_zero.float().mean().item())
 *   and in _compute_loss `kl`, `entropy`, `clip_ratio/low_mean`, `clip_ratio/low_min`, `clip_ratio/high_mean`,
 *   `clip_ratio/high_max`, `clip_ratio/region_mean` (compute_liger_loss still logs a single `clip_ratio`).
 * PPO / RLOO / OnlineDPO, TRL ≥ 0.12 (huggingface/trl trl/trainer/ppo_trainer.py, train):
 *     metrics["objective/kl"] = self.accelerator.gather_for_metrics(mean_kl).mean().item()        # kl.sum(1).mean()
 *     metrics["objective/entropy"] = ...                                                          # (-logprobs).sum(1).mean()
 *     metrics["objective/non_score_reward"] = ...; metrics["objective/rlhf_reward"] = ...; metrics["objective/scores"] = ...
 *     metrics["policy/approxkl_avg"] = ...; metrics["policy/clipfrac_avg"] = ...; metrics["loss/policy_avg"] = ...
 *     metrics["loss/value_avg"] = ...; metrics["val/clipfrac_avg"] = ...; metrics["policy/entropy_avg"] = ...
 *     metrics["val/ratio"] = ...; metrics["val/ratio_var"] = ...; metrics["val/num_eos_tokens"] = ...
 *     metrics["lr"] = self.lr_scheduler.get_last_lr()[0]; metrics["episode"] = self.state.episode
 *   `objective/kl` and `objective/entropy` are sums over the sequence, not per-token means: kept under their own names
 *   only (RL Lens `kl` / `entropy` are per-token).
 * transformers Trainer (all of them): `loss`, `grad_norm`, `learning_rate`, `epoch`, and the end-of-training summary
 *   `train_runtime`, `train_loss`, ... (kept as is).
 */
export const TRL_METRICS: Record<string, string | string[]> = {
  // GRPO, all versions
  reward: 'reward/mean',
  reward_std: 'reward/std',
  kl: 'kl',
  // GRPO ≥ 0.17
  entropy: 'entropy',
  'clip_ratio/low_mean': 'clip_ratio/low_mean',
  'clip_ratio/high_mean': 'clip_ratio/high_mean',
  'clip_ratio/region_mean': 'clip_ratio/region_mean',
  'completions/mean_length': 'response_length/mean',
  'completions/max_length': 'response_length/max',
  'completions/min_length': 'response_length/min',
  'completions/clipped_ratio': 'response_length/clip_ratio',
  frac_reward_zero_std: 'frac_reward_zero_std',
  // GRPO 0.14-0.16 (and unsloth)
  completion_length: 'response_length/mean',
  clip_ratio: 'clip_ratio/region_mean', // TRL 0.16 (and liger loss) logged one clip ratio: the whole clipped region
  // PPO / RLOO / OnlineDPO ≥ 0.12
  'objective/scores': 'reward/mean',
  'objective/rlhf_reward': 'reward_with_kl/mean', // score − β·Σ KL, as verl's critic/rewards/mean
  'policy/approxkl_avg': 'approx_kl',
  'policy/clipfrac_avg': 'clip_ratio/region_mean',
  'policy/entropy_avg': 'entropy', // per-token entropy averaged over minibatches
  'loss/policy_avg': 'pg_loss',
  'loss/value_avg': 'vf_loss',
  'val/clipfrac_avg': 'vf_clipfrac',
  // transformers Trainer
  loss: 'loss',
  grad_norm: 'grad_norm',
  learning_rate: 'lr',
};

/** DPO-family `rewards/<x>` names (TRL DPOTrainer, RL Lens's preference runs): statistics, not reward functions. */
export const DPO_REWARD_STATS = /^(chosen|rejected|accuracies|margins)$/;

/**
 * Per-reward-function names: `rewards/<f>/mean|std` (GRPO ≥ 0.17) and `rewards/<f>` (GRPO 0.14-0.16) →
 * `reward/<f>/mean|std` (RL Lens's reward parts). DPO-family `rewards/chosen|rejected|accuracies|margins` (TRL
 * DPOTrainer, and RL Lens's own preference runs) are not reward functions and keep their names.
 */
export const TRL_METRIC_PATTERNS: [RegExp, (m: RegExpExecArray) => string | undefined][] = [
  [/^rewards\/(.+)\/(mean|std)$/, (m) => `reward/${m[1]}/${m[2]}`],
  [/^rewards\/([^/]+)$/, (m) => (DPO_REWARD_STATS.test(m[1]) ? undefined : `reward/${m[1]}/mean`)],
];

/**
 * OpenRLHF (OpenRLHF/OpenRLHF 012aae8c1ecfbe24960d2a1fc77a2baee655b67d openrlhf/trainer/ray/ppo_actor.py,
 * ActorPPOTrainer.training_step):
 *     experience.info["ppo_clip_ratio"] = clip_ratio.detach()
 *     experience.info["ppo_kl"] = ppo_kl.detach()
 *     kl_loss = masked_mean(kl, experience.action_mask); experience.info["kl"] = kl_loss.detach()   # use_kl_loss
 *     entropy_loss = masked_mean(output.entropy[:, -experience.action_mask.shape[1] :], experience.action_mask)
 *     status = {"policy_loss": actor_loss.detach().item(), "actor_lr": self.actor_scheduler.get_last_lr()[0]}
 *     status["entropy_loss"] = entropy_loss.detach().item()
 *     for k, v in experience.info.items(): ... status[k] = v.float().mean().item()
 * (experience.info also holds `reward`, `response_length`, `total_length`, `return`; the critic adds `critic_loss`,
 * `values`, `critic_lr`), logged by save_logs_and_checkpoints as
 *     logs = {"train/%s" % k: v for k, v in {**logs_dict, "global_step": global_step}.items()}
 * (wandb; TensorBoard: add_scalar(f"train/{k}", v, global_step)). OpenRLHF writes no metrics file of its own: these
 * names are mapped when such a history reaches RL Lens as `{"step", "data"}` lines (e.g. exported from wandb), with
 * or without the `train/` prefix.
 */
export const OPENRLHF_METRICS: Record<string, string | string[]> = {
  policy_loss: 'pg_loss',
  actor_lr: 'lr',
  ppo_clip_ratio: 'clip_ratio/region_mean',
  ppo_kl: 'approx_kl',
  kl: 'kl',
  entropy_loss: 'entropy', // a masked mean of the per-token entropy (named "loss" because it can be subtracted)
  reward: 'reward/mean',
  response_length: 'response_length/mean',
  return: 'returns/mean',
  values: 'values/mean',
  critic_loss: 'vf_loss',
  grad_norm: 'grad_norm',
};

/**
 * Build a metrics `values` object: every finite numeric original under its own name, plus the mapped name
 * when there is an equivalent and the mapped name is not itself an original key.
 * Non-finite numbers become null and are reported; non-numeric values are returned in `nonNumeric`.
 */
export function mapMetrics(data: Record<string, unknown>, table: Record<string, string | string[]>, opts: { stripPrefix?: string; patterns?: [RegExp, (m: RegExpExecArray) => string | undefined][] } = {}): {
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
    let t: string | string[] | undefined = Object.prototype.hasOwnProperty.call(table, base) ? table[base] : undefined;
    if (t === undefined) {
      for (const [re, to] of opts.patterns ?? []) {
        const m = re.exec(base);
        const target = m ? to(m) : undefined;
        if (target !== undefined) { t = target; break; }
      }
    }
    for (const target of t === undefined ? [] : Array.isArray(t) ? t : [t]) {
      if (target !== k && !(target in data)) values[target] = values[k];
    }
  }
  return { values, nonFinite, nonNumeric };
}
