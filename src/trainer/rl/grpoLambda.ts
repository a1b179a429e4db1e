/**
 * GRPO-λ in the RL loop (algorithm `grpo_lambda`; the math: algorithms/grpoLambda.ts). After the rollout, the batch's
 * rewards are replaced by GRPO-λ's: 0/1 correctness (the task's "solved": RlReward.correct, or the 0/1 reward part
 * rl.grpoLambda.accuracyPart) for every group, and the
 * length-penalised reward for the top-λ groups by correctness ratio (rl.grpoLambda). The task's own score stays in
 * `reward/mean`; what the advantage uses is `score/mean`. Each sample's reward parts gain `correct` (0/1),
 * `length_reward` (reward − correct) and `length_penalised` (1 = its group got the penalty), so the group view and the
 * metrics `reward/<part>/mean` show them.
 */
import { computeGrpoLambdaRewards } from '../algorithms/grpoLambda';
import type { RlConfig } from './config';
import type { RolloutResult } from './rollout';

/** Rewrite the rollout's scores with GRPO-λ's rewards (in place) → the step's grpo_lambda/* metrics. */
export function applyGrpoLambda(ro: RolloutResult, cfg: RlConfig): Record<string, number | null> {
  const S = ro.samples;
  if (!S.length) return {};
  const part = cfg.grpoLambda.accuracyPart;
  const correctness = S.map((s, i) => {
    if (part === null) return s.reward.correct ? 1 : 0;
    const v = s.reward.parts[part];
    if (v !== 0 && v !== 1) throw new Error(`rl.grpoLambda.accuracyPart: reward part "${part}" of sample ${i} is ${String(v)}, not 0 or 1; parts of this task: ${Object.keys(s.reward.parts).join(', ')} (null = the task's solved flag)`);
    return v;
  });
  const r = computeGrpoLambdaRewards({
    correctness, lengths: S.map((s) => s.tokens.length), groupIds: S.map((s) => s.group),
    lambda: cfg.grpoLambda.lambda, penalty: cfg.grpoLambda.penalty, alpha: cfg.grpoLambda.alpha, skipUnsolved: cfg.grpoLambda.skipUnsolved,
  });
  S.forEach((s, i) => {
    s.reward = { ...s.reward, parts: { ...s.reward.parts, correct: correctness[i], length_reward: r.lengthReward[i], length_penalised: r.penalised[i] ? 1 : 0 } };
    // overlong / rl.lengthPenalty stay additive (0 unless configured)
    s.score = r.rewards[i] + s.overlong + s.lengthPen;
  });
  for (const g of ro.groups) if (g.samples.length) g.rewards = g.samples.map((i) => S[i].score);
  // frac_reward_zero_std counts the groups whose rewards (now GRPO-λ's) are all equal
  ro.zeroStdGroups = ro.groups.filter((g) => g.rewards.length > 1 && g.rewards.every((x) => x === g.rewards[0])).length;
  const pen = S.map((_, i) => i).filter((i) => r.penalised[i]);
  const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
  return {
    'grpo_lambda/frac_groups_penalised': r.groups ? r.selectedGroups / r.groups : 0,
    'grpo_lambda/accuracy': mean(correctness),
    'grpo_lambda/length_reward/mean': pen.length ? mean(pen.map((i) => r.lengthReward[i])) : 0,
    'grpo_lambda/min_penalised_ratio': pen.length ? Math.min(...pen.map((i) => r.groupRatio[i])) : null,
    'grpo_lambda/response_length_penalised/mean': pen.length ? mean(pen.map((i) => S[i].tokens.length)) : null,
  };
}
