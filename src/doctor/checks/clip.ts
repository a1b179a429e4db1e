/**
 * Clip saturation: the share of tokens whose importance ratio hit the PPO clip (low: ratio < 1−ε with A < 0; high:
 * ratio > 1+ε with A > 0; region: either) and ratio outliers. Survey: DAPO clip-higher (decoupled ε_low 0.2 / ε_high 0.28,
 * "正向clip设0.25, 负向clip设0.15"), GSPO's sequence-level ratio against exploding token ratios, dual clip.
 */
import type { DoctorInput, Finding } from '../types';
import type { Thresholds } from '../thresholds';
import { median } from '../stats';
import { metricOrRollouts, finding, fmt, pct, lastSteps, recentLevel } from './common';

export function checkClip(input: DoctorInput, th: Thresholds): Finding[] {
  const out: Finding[] = [];
  const kinds = [
    { kind: 'low', key: 'clipLow' as const, f: (r: DoctorInput['rollouts'][number]) => r.tokens?.clipLowFrac, label: 'low (ratio < 1−ε, A < 0)' },
    { kind: 'high', key: 'clipHigh' as const, f: (r: DoctorInput['rollouts'][number]) => r.tokens?.clipHighFrac, label: 'high (ratio > 1+ε, A > 0)' },
    { kind: 'region', key: 'clipRegion' as const, f: () => undefined, label: 'total' },
  ];
  for (const k of kinds) {
    const m = metricOrRollouts(input, k.key, `clip_${k.kind}`, k.f);
    if (!m) continue;
    const n = m.series.values.length;
    if (!n) continue;
    // a short history (fewer than windowMin points): every point must be above the threshold (the lowest one is judged)
    const { short, w, recent } = recentLevel(m.series.values, th);
    if (recent > th.clip.warn) {
      const severity = recent > th.clip.error ? 'error' : 'warning';
      const remedy = k.kind === 'high'
        ? 'Updates push many tokens past 1+ε: lower the learning rate or the number of PPO epochs / minibatch reuse; if entropy is also falling, raise ε_high (DAPO clip-higher, 0.28) so useful low-probability tokens are not cut off.'
        : k.kind === 'low'
          ? 'Updates push many tokens below 1−ε: lower the learning rate or the PPO epochs; use a dual clip (c = 3) for negative advantages; check that old log-probs come from the sampling policy (stale rollouts inflate ratios).'
          : 'Too many tokens are clipped, so the trust region is doing the work instead of the step size: lower the learning rate, fewer PPO epochs per batch, larger batches; consider decoupled clipping (clip-higher).';
      out.push(finding('clip', k.kind, severity, `Clip saturation: ${k.kind}`,
        `${pct(recent)} of tokens were clipped ${k.label} (${short ? `${n === 1 ? `the only logged point of ${m.name}` : `the lowest of all ${n} logged points of ${m.name}`}, too few for the usual median of ${th.windowMin}` : `median of the last ${w} points of ${m.name}`}; warning above ${pct(th.clip.warn)}, error above ${pct(th.clip.error)}). `
        + 'Clipped tokens get no gradient, so most of each update is discarded.',
        lastSteps(m.series, w), { metrics: [m.name], values: { recent } }, remedy));
    }
  }
  const rs = input.rollouts.filter((r) => r.tokens?.ratioOutlierFrac !== undefined);
  if (rs.length >= 2) {
    const recent = rs.slice(-Math.min(5, rs.length));
    const frac = median(recent.map((r) => r.tokens!.ratioOutlierFrac!));
    if (frac > th.clip.ratioOutlierFrac) {
      const last = recent[recent.length - 1];
      const b = last.tokens!.ratioOutlierBound ?? th.clip.ratioOutlier;
      out.push(finding('clip', 'ratio-outliers', 'warning', 'Importance-ratio outliers',
        `${pct(frac)} of tokens have π/π_old outside [1/${fmt(b)}, ${fmt(b)}] (median over the last ${recent.length} rollout steps; threshold ${pct(th.clip.ratioOutlierFrac)}); `
        + `extremes ${fmt(last.tokens!.ratioMin ?? NaN)} … ${fmt(last.tokens!.ratioMax ?? NaN)}.`,
        [recent[0].step, last.step],
        {
          metrics: ['rollouts:ratio'], steps: recent.map((r) => r.step), values: { outlierShare: frac, ratioMax: last.tokens!.ratioMax ?? NaN, ratioMin: last.tokens!.ratioMin ?? NaN },
          samples: (last.tokens!.ratioWorstSamples ?? []).slice(0, 8).map((x) => ({ step: last.step, sample: x.sample })),
        },
        'Lower the learning rate or PPO epochs; use a sequence-level ratio (GSPO) or dual clip; make sure old log-probs are recomputed by the same model / precision as the training forward pass.'));
    }
  }
  return out;
}
