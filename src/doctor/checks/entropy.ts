/**
 * Entropy collapse: the policy's per-token entropy falls to a small fraction of where it started (level), or falls
 * fast within the last window (slope); and per-token entropy concentrated at a few positions (info).
 * Survey: DAPO "Clip-Higher" (ε_low 0.2, ε_high 0.28) against 熵崩溃; EEPO (sample-then-forget when entropy is below a
 * threshold); temperature / diversity bonus against 模式崩塌.
 */
import type { DoctorInput, Finding } from '../types';
import type { Thresholds } from '../thresholds';
import { median, theilSen, headTail, rollingMedian } from '../stats';
import { metricOrRollouts, win, finding, fmt, pct } from './common';

const REMEDY_COLLAPSE = 'Raise ε_high (DAPO clip-higher: ε_low 0.2, ε_high 0.28) so low-probability tokens can still be pushed up; '
  + 'add or raise an entropy bonus; sample at temperature 0.8–1.0; keep a KL term to the reference (β > 0); lower the learning rate. '
  + 'EEPO (survey) re-opens exploration by "sample-then-forget" when entropy drops below a threshold.';

export function checkEntropy(input: DoctorInput, th: Thresholds): Finding[] {
  const out: Finding[] = [];
  const m = metricOrRollouts(input, 'entropy', 'entropy', (r) => r.tokens?.entropyMean);
  if (m && m.series.values.length >= th.minSteps) {
    const s = m.series;
    const n = s.values.length;
    const w = win(th, n);
    // initial level: median of the first windowMin points (entropy often drops within the first steps, so a 20% head
    // window would already include the fall); recent level: median of the last w points
    const k0 = Math.min(th.windowMin, n);
    const ht = headTail(s, w);
    const head = median(s.values.slice(0, k0));
    const se = 1.2533 * ht.sigma * Math.sqrt(1 / k0 + 1 / w);
    const t = { head, tail: ht.tail, z: se > 0 ? (ht.tail - head) / se : (ht.tail < head ? -Infinity : 0) };
    const ratio = t.head > 0 ? t.tail / t.head : NaN;
    const slopeWin = s.values.slice(-2 * w);
    const slope = theilSen(s.steps.slice(-2 * w), slopeWin);
    const values = { initial: t.head, recent: t.tail, ratio, slopePerStep: slope, window: w };
    if (Number.isFinite(ratio) && ratio < th.entropy.warnRatio && t.z < -th.trendZ) {
      const roll = rollingMedian(s.values, w);
      let from = s.steps.findIndex((_, i) => i >= w && roll[i] < th.entropy.warnRatio * t.head);
      if (from < 0) from = n - w;
      const severity = ratio < th.entropy.errorRatio ? 'error' : 'warning';
      out.push(finding('entropy', 'collapse', severity, 'Entropy collapse',
        `Policy entropy fell from ${fmt(t.head)} to ${fmt(t.tail)} (${pct(ratio)} of its initial level; threshold ${pct(th.entropy.warnRatio)}). `
        + 'The policy has become nearly deterministic: groups stop disagreeing, advantages vanish and exploration stops.',
        [s.steps[from], s.steps[n - 1]], { metrics: [m.name], steps: [s.steps[from]], values }, REMEDY_COLLAPSE));
    } else if (n >= 2 * w) {
      const prev = median(s.values.slice(n - 2 * w, n - w));
      const tail = t.tail;
      const drop = prev > 0 ? 1 - tail / prev : 0;
      const local = headTail({ steps: s.steps.slice(n - 2 * w), values: s.values.slice(n - 2 * w) }, w);
      if (drop > th.entropy.fastDropRatio && local.z < -th.trendZ) {
        out.push(finding('entropy', 'falling', 'warning', 'Entropy falling fast',
          `Entropy fell by ${pct(drop)} within the last ${w} points (${fmt(prev)} → ${fmt(tail)}; slope ${fmt(slope)} per step). `
          + 'If it keeps falling the run will collapse.',
          [s.steps[n - 2 * w], s.steps[n - 1]], { metrics: [m.name], values: { ...values, previous: prev, drop } }, REMEDY_COLLAPSE));
      }
    }
  }
  // per-token concentration (needs per-token entropy arrays)
  const rs = input.rollouts.filter((r) => r.tokens?.entropyTopShare !== undefined);
  if (rs.length >= 2) {
    const recent = rs.slice(-Math.min(5, rs.length));
    const share = median(recent.map((r) => r.tokens!.entropyTopShare!));
    if (share > th.entropy.topShare) {
      const last = recent[recent.length - 1];
      out.push(finding('entropy', 'concentrated', 'info', 'Entropy concentrated on a few tokens',
        `In the last ${recent.length} rollout steps the 10% highest-entropy tokens carry ${pct(share)} of all entropy `
        + `(threshold ${pct(th.entropy.topShare)}): almost every token is decided; only a few "forking" positions are still explored`
        + (last.tokens!.entropyTopPositions?.length ? ` (highest at positions ${last.tokens!.entropyTopPositions!.slice(0, 5).map((p) => p.position).join(', ')})` : '') + '.',
        [recent[0].step, last.step],
        {
          metrics: ['rollouts:entropy'], steps: recent.map((r) => r.step), values: { topShare: share },
          samples: (last.tokens!.lowEntropySamples ?? []).slice(0, 8).map((x) => ({ step: last.step, sample: x.sample })),
        },
        'Usually harmless on its own (high-entropy minority tokens drive learning); if entropy is also collapsing, raise ε_high (clip-higher) or the sampling temperature.'));
    }
  }
  return out;
}
