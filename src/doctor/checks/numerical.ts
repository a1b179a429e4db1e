/**
 * Numerical problems: non-finite values (NaN / ±Infinity, written as null in metrics.jsonl), gradient-norm spikes and
 * loss spikes (robust: rolling median and MAD), NaN errors reported by the trainer.
 * Survey: learning-rate warmup ("前500步从1e-7爬到5e-6, 然后cosine衰减") "能避免前期reward signal不稳定导致的崩盘"; gradient clipping.
 */
import type { DoctorInput, Finding } from '../types';
import type { Thresholds } from '../thresholds';
import { spikes, type Spike } from '../stats';
import { ALIASES, finding, fmt, pick } from './common';

/**
 * Steps at which no group had any reward variance, so the policy gradient is zero (only a KL or entropy term moves the
 * weights): TRL `frac_reward_zero_std` = 1 (trl/trainer/grpo_trainer.py: `self._metrics[mode]["frac_reward_zero_std"]
 * .append(is_std_zero.float().mean().item())`), a logged reward std of 0 (`reward_std`, the mean of the per-group stds),
 * or a rollout step whose groups all have equal rewards. Gradient norms and losses there sit orders of magnitude below the
 * informative steps, so they must not form the baseline that the informative steps are judged against.
 */
export function noGradientSteps(input: DoctorInput, th: Thresholds): { steps: Set<number>; how: string } {
  const steps = new Set<number>();
  const how: string[] = [];
  const zs = pick(input.metrics, 'zeroStd');
  if (zs) {
    let k = 0;
    zs.series.values.forEach((v, i) => { if (v >= 1 - 1e-9) { steps.add(zs.series.steps[i]); k++; } });
    if (k) how.push(`${zs.name} = 1`);
  }
  const sd = pick(input.metrics, 'rewardStd');
  if (sd) {
    let k = 0;
    sd.series.values.forEach((v, i) => { if (Number.isFinite(v) && Math.abs(v) < th.zeroVariance.eps) { steps.add(sd.series.steps[i]); k++; } });
    if (k) how.push(`${sd.name} = 0`);
  }
  let k = 0;
  for (const r of input.rollouts) {
    const gs = r.groups.filter((g) => g.rewards.length >= 2);
    if (gs.length && gs.every((g) => Math.max(...g.rewards) - Math.min(...g.rewards) < th.zeroVariance.eps)) { steps.add(r.step); k++; }
  }
  if (k) how.push('rollout steps whose groups all have equal rewards');
  return { steps, how: how.join(', ') };
}

const CORE = new Set<string>([...ALIASES.losses, ...ALIASES.gradNorm, ...ALIASES.reward, ...ALIASES.kl, ...ALIASES.entropy]);

export function checkNumerical(input: DoctorInput, th: Thresholds): Finding[] {
  const out: Finding[] = [];
  const bad: { name: string; steps: number[]; core: boolean }[] = [];
  for (const [name, s] of Object.entries(input.metrics)) {
    const firstFinite = s.values.findIndex((v) => Number.isFinite(v));
    if (firstFinite < 0) continue; // never logged as a number: not computed, not NaN
    const steps = s.steps.filter((_, i) => !Number.isFinite(s.values[i]));
    if (steps.length) bad.push({ name, steps, core: CORE.has(name) });
  }
  const nanErrors = input.errors.filter((e) => /nan|inf(inity)?\b|non-?finite/i.test(e.message));
  if (bad.length || nanErrors.length) {
    const steps = [...bad.flatMap((b) => b.steps), ...nanErrors.map((e) => e.step).filter((x): x is number => x !== undefined)].sort((a, b) => a - b);
    const core = bad.some((b) => b.core) || nanErrors.length > 0;
    const names = bad.map((b) => `${b.name} (${b.steps.length}×, first at step ${b.steps[0]})`);
    out.push(finding('numerical', 'nonfinite', core ? 'error' : 'warning', 'NaN / infinite values',
      (names.length ? `Non-finite values in ${names.slice(0, 6).join(', ')}${names.length > 6 ? ` and ${names.length - 6} more` : ''}. ` : '')
      + (nanErrors.length ? `The trainer reported: ${nanErrors[0].message.slice(0, 200)}` : ''),
      [steps[0] ?? 0, steps[steps.length - 1] ?? 0], { metrics: bad.map((b) => b.name), steps: steps.slice(0, 20) },
      'Lower the learning rate and add warmup (survey: warm up then cosine-decay), clip gradients (max norm 1.0), clamp log-ratios before exp (verl clamps KL and ratios), check the reward for NaN / huge values.'));
  }
  const t = th.numerical;
  const noGrad = noGradientSteps(input, th);
  const seen = new Set<string>();
  for (const name of [...ALIASES.gradNorm, ...ALIASES.losses]) {
    const s = input.metrics[name];
    if (!s || seen.has(name)) continue;
    seen.add(name);
    const sp = spikes(s, t.spikeWindow, t.spikeZ, t.spikeRatio, t.spikeHistory, t.spikeLogZ, t.spikeSigmaFloor, noGrad.steps);
    if (!sp.length) continue;
    const isGrad = (ALIASES.gradNorm as readonly string[]).includes(name);
    // the worst spike by size against the run's typical range there (the 90th percentile of the previous points);
    // "N robust σ" only where the rolling median and MAD are real (not 0: a metric at 0 most of the time, such as the
    // grad norm of a run whose groups mostly give no gradient, has MAD 0 and any σ figure would be a floor artefact)
    const over = (x: Spike) => Math.abs(x.value) / Math.max(Math.abs(x.p90), Math.abs(x.p10), 1e-12);
    const worst = sp.reduce((a, b) => (over(b) > over(a) ? b : a));
    const typical = `the run's typical range there (10th–90th percentile of the previous ${t.spikeWindow} points) ${fmt(worst.p10)} – ${fmt(worst.p90)}`;
    const size = worst.p90 === 0 && worst.p10 === 0
      ? `while at least 90% of the previous ${t.spikeWindow} points were exactly 0 (90th percentile 0: no gradient at most steps)`
      : `${fmt(over(worst), 2)}× the top of ${typical}`;
    const zText = worst.zMeaningful ? `; ${fmt(worst.z, 1)} robust σ from the rolling median ${fmt(worst.baseline)}` : '';
    const skipped = noGrad.steps.size ? ` The ${noGrad.steps.size} steps without any reward gradient (${noGrad.how}) are left out of the baselines.` : '';
    out.push(finding('numerical', `spike:${name}`, sp.length >= t.spikeErrorCount ? 'error' : 'warning', isGrad ? `Gradient-norm spikes (${name})` : `Loss spikes (${name})`,
      `${sp.length} spike${sp.length > 1 ? 's' : ''} in ${name}: the largest, at step ${worst.step}, is ${fmt(worst.value)}, ${size}${zText} `
      + `(a spike: more than ${t.spikeZ} robust σ, or ${t.spikeLogZ} σ of log values for positive metrics, ${t.spikeRatio}× the rolling median, and outside twice the typical range).${skipped}`,
      [sp[0].step, sp[sp.length - 1].step], { metrics: [name], steps: sp.map((x) => x.step).slice(0, 20), values: { worst: worst.value, baseline: worst.baseline, count: sp.length, p10: worst.p10, p90: worst.p90, ratioToTypical: over(worst), ...(worst.zMeaningful ? { robustZ: worst.z } : {}) } },
      isGrad ? 'Clip gradients (max norm 1.0), lower the learning rate or lengthen warmup; look at the rollouts of the spiking steps for extreme advantages or ratios.'
        : 'Lower the learning rate, clip gradients, check the spiking steps\' rollouts for outlier rewards or advantages (whiten advantages; cap rewards).'));
  }
  return out;
}
