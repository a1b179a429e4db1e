/**
 * Zero-variance groups: groups whose G rewards are all equal have zero group-normalized advantage and give no gradient
 * (GRPO's zero-variance problem). Split into all-correct and all-wrong, and the share of the batch with no gradient.
 * Survey: DAPO dynamic sampling (过滤全对/全错), Reinforce-Rej (filter both), "方差小于0.01的直接丢掉", G = 6–8, temperature 0.8–1.0.
 */
import type { DoctorInput, Finding, RolloutSummary } from '../types';
import type { Thresholds } from '../thresholds';
import { median } from '../stats';
import { pick, win, finding, fmt, pct } from './common';

export interface ZeroVarStep {
  step: number;
  groups: number;
  zero: number;
  allCorrect: number;
  allWrong: number;
  /** samples in zero-variance or trainer-filtered groups / all samples */
  noGradShare: number;
  filteredByTrainer: number;
  zeroGroups: string[];
}

const ACC = /^(accuracy|acc|correct|correctness|answer)$/i;

/**
 * Per-step zero-variance statistics of a rollout step (pure). `lo` / `hi` = lowest / highest reward seen in the run.
 * A zero-variance group is all-correct / all-wrong by its samples' accuracy part when logged, else by whether its
 * reward is closer to `hi` or to `lo`.
 */
export function zeroVarianceOf(r: RolloutSummary, eps: number, lo: number, hi: number): ZeroVarStep {
  let zero = 0, allCorrect = 0, allWrong = 0, noGrad = 0, total = 0, filtered = 0;
  const zeroGroups: string[] = [];
  let groups = 0;
  for (const g of r.groups) {
    total += g.rewards.length;
    if (g.filtered) filtered++;
    if (g.rewards.length < 2) continue;
    groups++;
    const mx = Math.max(...g.rewards), mn = Math.min(...g.rewards);
    const isZero = mx - mn < eps;
    if (isZero || g.filtered) noGrad += g.rewards.length;
    if (!isZero) continue;
    zero++;
    zeroGroups.push(g.id);
    const acc = g.samples.map((i) => {
      const p = r.samples[i]?.parts;
      if (!p) return undefined;
      const k = Object.keys(p).find((x) => ACC.test(x));
      return k !== undefined ? p[k] : undefined;
    });
    if (acc.length && acc.every((a) => a !== undefined)) {
      if (acc.every((a) => a! >= 0.5)) allCorrect++; else if (acc.every((a) => a! < 0.5)) allWrong++;
    } else if (hi - lo > eps) {
      // no accuracy part: closer to the run's best reward than to its worst = all-correct (robust to slow reward drift)
      if (mx > (hi + lo) / 2) allCorrect++; else allWrong++;
    }
  }
  return { step: r.step, groups, zero, allCorrect, allWrong, noGradShare: total ? noGrad / total : 0, filteredByTrainer: filtered, zeroGroups };
}

export function checkZeroVariance(input: DoctorInput, th: Thresholds): Finding[] {
  const t = th.zeroVariance;
  const rs = input.rollouts.filter((r) => r.groups.some((g) => g.rewards.length >= 2));
  const dynamic = /dapo|reinforce_rej|raft/i.test(input.algorithm ?? '') || rs.some((r) => r.groups.some((g) => g.filtered));
  const adviceFor = (correct: number, wrong: number) => {
    const parts: string[] = [];
    if (wrong >= correct) parts.push('Most are all-wrong: the prompts are too hard for the policy (SFT first, an easier curriculum or difficulty level, partial-credit rewards, a larger group size G, temperature 0.8–1.0).');
    if (correct > wrong) parts.push('Most are all-correct: the prompts are too easy (raise the difficulty; Reinforce-Rej drops all-correct groups too, since they only make the model over-confident).');
    parts.push(dynamic
      ? 'Dynamic sampling is already dropping these groups: each dropped group costs a rollout, so fix the prompt difficulty to save compute.'
      : 'Turn on dynamic sampling (DAPO: drop groups whose rewards are all equal and refill the batch) or a zero-variance filter (survey: drop groups with reward variance < 0.01).');
    return parts.join(' ');
  };
  if (rs.length >= t.minSteps) {
    let lo = Infinity, hi = -Infinity;
    for (const r of rs) for (const g of r.groups) for (const x of g.rewards) if (Number.isFinite(x)) { lo = Math.min(lo, x); hi = Math.max(hi, x); }
    const per = rs.map((r) => zeroVarianceOf(r, t.eps, lo, hi));
    const w = Math.min(per.length, win(th, per.length));
    const recent = per.slice(-w);
    const frac = median(recent.map((p) => (p.groups ? p.zero / p.groups : 0)));
    if (frac > t.warnFraction) {
      const correct = recent.reduce((s, p) => s + p.allCorrect, 0), wrong = recent.reduce((s, p) => s + p.allWrong, 0);
      const zeros = recent.reduce((s, p) => s + p.zero, 0) || 1;
      const noGrad = median(recent.map((p) => p.noGradShare));
      let severity: Finding['severity'] = frac > t.errorFraction ? 'error' : 'warning';
      if (dynamic && severity === 'warning') severity = 'info';
      const last = recent[recent.length - 1];
      return [finding('zero-variance', 'groups', severity, 'Zero-variance groups (no gradient)',
        `${pct(frac)} of groups had all-equal rewards in the last ${w} rollout steps (threshold ${pct(t.warnFraction)}): `
        + `${pct(correct / zeros)} all-correct, ${pct(wrong / zeros)} all-wrong; ${pct(noGrad)} of the batch gave no gradient.`,
        [recent[0].step, last.step],
        {
          metrics: ['rollouts:zero_variance'], steps: recent.map((p) => p.step),
          groups: last.zeroGroups.slice(0, 12).map((g) => ({ step: last.step, group: g })),
          values: { fraction: frac, allCorrectShare: correct / zeros, allWrongShare: wrong / zeros, noGradientShare: noGrad },
        }, adviceFor(correct, wrong))];
    }
    return [];
  }
  const m = pick(input.metrics, 'zeroStd');
  if (m) {
    const v = m.series.values.filter(Number.isFinite);
    if (v.length < t.minSteps) return [];
    const w = Math.min(v.length, win(th, v.length));
    const frac = median(v.slice(-w));
    if (frac > t.warnFraction) {
      let severity: Finding['severity'] = frac > t.errorFraction ? 'error' : 'warning';
      if (dynamic && severity === 'warning') severity = 'info';
      const steps = m.series.steps.filter((_, i) => Number.isFinite(m.series.values[i]));
      return [finding('zero-variance', 'groups', severity, 'Zero-variance groups (no gradient)',
        `${m.name} = ${fmt(frac)} (median of the last ${w} points; threshold ${fmt(t.warnFraction)}): that share of groups gave no gradient. `
        + '(No rollouts logged, so all-correct and all-wrong cannot be told apart.)',
        [steps[steps.length - w], steps[steps.length - 1]], { metrics: [m.name], values: { fraction: frac } }, adviceFor(0, 0))];
    }
  }
  return [];
}
