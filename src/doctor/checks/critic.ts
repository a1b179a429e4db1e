/**
 * PPO critic health: explained variance of the value head (1 = perfect, 0 = no better than a constant, < 0 = worse),
 * value loss growing, value clip fraction. Survey: the critic (value model) is usually initialized from the reward model;
 * "LLM 只有最后一个 token 会被奖励模型打分, 训练在每个 token 上都准确价值函数难"; GRPO drops the critic altogether.
 */
import type { DoctorInput, Finding } from '../types';
import type { Thresholds } from '../thresholds';
import { finitePoints, median, rollingMedian, headTail } from '../stats';
import { pick, win, finding, fmt, pct, lastSteps } from './common';

export function checkCritic(input: DoctorInput, th: Thresholds): Finding[] {
  const out: Finding[] = [];
  const ev = pick(input.metrics, 'vfExplainedVar');
  if (ev) {
    const s = finitePoints(ev.series);
    if (s.values.length >= th.minSteps) {
      const w = win(th, s.values.length);
      const recent = median(s.values.slice(-w));
      if (recent < th.critic.evWarn) {
        out.push(finding('critic', 'explained-variance', recent < th.critic.evError ? 'error' : 'warning', 'Critic explains no variance',
          `The value head's explained variance is ${fmt(recent)} (median of the last ${w} points; warning below ${fmt(th.critic.evWarn)}, error below ${fmt(th.critic.evError)}): `
          + 'its predictions are no better than a constant, so GAE advantages are mostly noise.',
          lastSteps(s, w), { metrics: [ev.name], values: { recent } },
          'Warm up the critic first (value-only steps), initialize it from the reward model (survey), raise the critic learning rate or use a separate critic; '
          + 'normalize / whiten rewards; or switch to a critic-free estimator (GRPO, RLOO, REINFORCE++).'));
      }
    }
  }
  const vl = pick(input.metrics, 'vfLoss');
  if (vl) {
    const s = finitePoints(vl.series);
    const n = s.values.length;
    if (n >= th.minSteps) {
      const w = win(th, n);
      const roll = rollingMedian(s.values, w).slice(w - 1);
      const best = Math.min(...roll);
      const recent = roll[roll.length - 1];
      const t = headTail(s, w);
      if (best > 0 && recent >= th.critic.vfLossGrowth * best && t.z > th.trendZ) {
        out.push(finding('critic', 'value-loss', 'warning', 'Value loss growing',
          `The value loss grew to ${fmt(recent)}, ${fmt(recent / best, 1)}× its best rolling median ${fmt(best)}: the critic is falling behind the returns.`,
          lastSteps(s, w), { metrics: [vl.name], values: { recent, best } },
          'Lower the policy learning rate (the returns move faster than the critic can follow), raise the critic learning rate, widen the value clip range, whiten rewards.'));
      }
    }
  }
  const vc = pick(input.metrics, 'vfClipfrac');
  if (vc) {
    const s = finitePoints(vc.series);
    if (s.values.length >= th.windowMin) {
      const w = win(th, s.values.length);
      const recent = median(s.values.slice(-w));
      if (recent > th.critic.vfClipWarn) {
        out.push(finding('critic', 'value-clip', 'warning', 'Value clipping saturated',
          `${pct(recent)} of value predictions are clipped (threshold ${pct(th.critic.vfClipWarn)}): the value clip range is too narrow for how fast values change.`,
          lastSteps(s, w), { metrics: [vc.name], values: { recent } },
          'Widen cliprange_value (or turn value clipping off), lower the learning rate, whiten rewards so value targets stay in range.'));
      }
    }
  }
  return out;
}
