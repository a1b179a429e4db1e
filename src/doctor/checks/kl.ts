/**
 * KL to the reference: blow-up (level above a bound or runaway growth) and KL stuck at zero; the β controller at its
 * bounds. Survey: "adaptive β: 监控KL散度值, 超过0.5就把β调大到0.05, 低于0.1就降到0.01"; β = 0.02 typical; the KL penalty
 * keeps the policy from drifting into gibberish that fools the reward model (InstructGPT r = r0 − λ·r_kl).
 */
import type { DoctorInput, Finding } from '../types';
import type { Thresholds } from '../thresholds';
import { finite, finitePoints, headTail, median, episodesBeyond, theilSen } from '../stats';
import { pick, win, finding, fmt, lastSteps, configNumber, pct, toEpisodes } from './common';

const REMEDY_BLOWUP = 'Raise β (kl_coef) or use an adaptive β controller (survey: raise β to 0.05 when KL > 0.5, lower it to 0.01 below 0.1; '
  + 'InstructGPT / verl adaptive KL controller with a target KL); lower the learning rate; fewer PPO epochs per batch; '
  + 'check the reward for exploits (KL running away usually means the policy found something the reward pays for).';

export function checkKl(input: DoctorInput, th: Thresholds): Finding[] {
  const out: Finding[] = [];
  const m = pick(input.metrics, 'kl');
  if (!m) return out;
  const s = finitePoints(m.series);
  const n = s.values.length;
  if (!n) return out;
  if (n < th.minSteps) {
    // short history: too few points for trends or episodes, but a level above kl.warn at every logged point is strong
    // evidence on its own (each TRL / verl point is already a mean over a batch)
    const lo = Math.min(...s.values);
    if (lo > th.kl.warn) {
      out.push(finding('kl', 'blowup', lo > th.kl.error ? 'error' : 'warning', 'KL blow-up',
        `KL to the reference is above ${fmt(th.kl.warn)} at ${n === 1 ? 'the only logged point' : `all ${n} logged points`} (lowest ${fmt(lo)}, latest ${fmt(s.values[n - 1])}; warning above ${fmt(th.kl.warn)}, error above ${fmt(th.kl.error)}); `
        + `${n} point${n > 1 ? 's are' : ' is'} too few for trends (${th.minSteps} needed). The policy has moved far from the reference.`,
        [s.steps[0], s.steps[n - 1]], { metrics: [m.name], values: { lowest: lo, recent: s.values[n - 1], points: n } }, REMEDY_BLOWUP));
    }
    return out;
  }
  const w = win(th, n);
  const t = headTail(s, w);
  const tail = t.tail;
  // scan the whole history: every stretch where the rolling median (windowMin points) was above kl.warn
  const k = Math.max(1, Math.min(th.windowMin, n));
  const eps = episodesBeyond(s, th.kl.warn, k, 1, k);
  const current = median(s.values.slice(-k));
  if (eps.length || tail > th.kl.warn) {
    const last = eps[eps.length - 1];
    const active = !last || !last.recovered;
    const severity = active && Math.max(current, tail) > th.kl.error ? 'error' : 'warning';
    const peak = eps.length ? eps.reduce((a, b) => (b.peak.value > a.peak.value ? b : a)).peak : { step: s.steps[n - 1], value: Math.max(...s.values.slice(-w)) };
    const above = eps.reduce((a, e) => a + e.points, 0);
    const rew = pick(input.metrics, 'reward');
    let rewardNote = '';
    const values: Record<string, number> = { recent: current, tailMedian: tail, initial: t.head, peak: peak.value, peakStep: peak.step, episodes: eps.length, pointsAbove: above, points: n };
    if (rew && eps.length) {
      const rs = finitePoints(rew.series);
      const before = median(rs.values.filter((_, i) => rs.steps[i] < eps[0].start).slice(-k));
      const during = median(rs.values.filter((_, i) => rs.steps[i] <= (active ? s.steps[n - 1] : last.end)).slice(-k));
      if (Number.isFinite(before) && Number.isFinite(during)) {
        rewardNote = ` Meanwhile ${rew.name} went ${fmt(before)} → ${fmt(during)}${during < before ? ' (fell)' : ''}.`;
        values.rewardBefore = before; values.rewardAfter = during;
      }
    }
    const list = eps.length > 1 ? ` Episodes: ${eps.slice(0, 6).map((e) => `${e.start}–${e.end} (peak ${fmt(e.peak.value)} at ${e.peak.step}${e.recovered ? ', recovered' : ', ongoing'})`).join('; ')}${eps.length > 6 ? `; +${eps.length - 6} more` : ''}.` : '';
    const message = active
      ? `KL to the reference is ${fmt(current)} (median of the last ${k} points; warning above ${fmt(th.kl.warn)}, error above ${fmt(th.kl.error)})`
        + (last ? `, above ${fmt(th.kl.warn)} since step ${last.start}; peak ${fmt(peak.value)} at step ${peak.step}.` : '.')
        + ' The policy has moved far from the reference: text quality and the reward model\'s validity both degrade out there.' + list + rewardNote
      : `KL to the reference was above ${fmt(th.kl.warn)} for ${above} of ${n} logged steps (${eps.map((e) => `${e.start}–${e.end}`).slice(0, 6).join(', ')}), peak ${fmt(peak.value)} at step ${peak.step}, `
        + `and is back to ${fmt(current)} by step ${s.steps[n - 1]} (recovered). The policy was far from the reference then: checkpoints from those steps are suspect, and a blow-up that came once can come again.` + list + rewardNote;
    out.push({
      ...finding('kl', 'blowup', severity, active ? 'KL blow-up' : 'KL blow-up (recovered)', message,
        [eps.length ? eps[0].start : s.steps[Math.max(0, n - w)], active ? s.steps[n - 1] : last.end],
        { metrics: [m.name, ...(rew ? [rew.name] : [])], steps: eps.length ? [eps[0].start, peak.step] : undefined, values }, REMEDY_BLOWUP),
      episodes: toEpisodes(eps),
    });
  } else if (tail >= th.kl.growthMin && tail / Math.max(Math.abs(t.head), 1e-3) >= th.kl.growthFactor && t.z > th.trendZ) {
    out.push(finding('kl', 'growth', 'warning', 'KL growing fast',
      `KL grew ${fmt(tail / Math.max(Math.abs(t.head), 1e-3), 1)}× (${fmt(t.head)} → ${fmt(tail)}); not yet above ${fmt(th.kl.warn)}, but heading there.`,
      [s.steps[0], s.steps[n - 1]], { metrics: [m.name], values: { recent: tail, initial: t.head } }, REMEDY_BLOWUP));
  } else {
    const r = klGrowthRate(s, th);
    if (r) {
      out.push(finding('kl', 'growth', 'warning', 'KL growing exponentially',
        `KL doubles every ${fmt(r.doubling, 0)} steps (Theil–Sen slope of log KL over the last ${r.points} points, steps ${r.from}–${r.to}: ×${fmt(Math.exp(r.slope), 3)} per step; `
        + `the rise of log KL between the halves of that window is ${fmt(r.z, 1)} standard errors) and is now ${fmt(r.current)} `
        + `(warning when it doubles within ${fmt(th.kl.doublingSteps)} steps at a level of at least ${fmt(th.kl.rateMin)}). At this rate it passes ${fmt(th.kl.warn)} in about ${fmt(r.toWarn, 0)} steps: `
        + 'healthy runs grow KL roughly linearly (slower and slower in log terms); exponential growth is how a blow-up starts.',
        [r.from, r.to], { metrics: [m.name], values: { recent: r.current, slopeLogPerStep: r.slope, doublingSteps: r.doubling, stepsToWarn: r.toWarn, z: r.z, points: r.points } }, REMEDY_BLOWUP));
    }
  }
  const recent = s.values.slice(-w);
  const coef = pick(input.metrics, 'klCoef');
  const coefZero = coef ? finite(coef.series.values).every((v) => v === 0) : (configNumber(input.config, /^(beta|kl_coef|klCoef|init_kl_coef|kl_beta)$/i)?.value === 0);
  if (!coefZero && input.algorithm !== 'sft' && recent.every((v) => Math.abs(v) < th.kl.zeroEps)) {
    out.push(finding('kl', 'zero', 'warning', 'KL stuck at zero',
      `KL to the reference stayed below ${fmt(th.kl.zeroEps)} for the last ${w} points while a KL coefficient is set: `
      + 'either the policy is not moving (learning rate 0 or too small, all advantages zero) or the reference is the policy itself (not frozen / re-synced every step).',
      lastSteps(s, w), { metrics: [m.name], values: { maxAbsRecent: Math.max(...recent.map(Math.abs)) } },
      'Check that the reference model is a frozen copy loaded once (not the live policy), that the learning rate is non-zero, '
      + 'and that advantages are not all zero (see zero-variance groups).'));
  }
  return out;
}

/**
 * Exponential KL growth (the early sign of a blow-up): over the recent window (win(n), at least 3·windowMin points) the
 * Theil–Sen slope of log KL per step is at least ln 2 / kl.doublingSteps, the rise of log KL between the window's halves
 * exceeds trendZ standard errors, and the current level (median of the last windowMin points) is at least kl.rateMin
 * (below that, KL is still in its initial rise from 0, where any growth looks exponential).
 */
export function klGrowthRate(s: { steps: number[]; values: number[] }, th: Thresholds):
  { slope: number; doubling: number; current: number; toWarn: number; z: number; points: number; from: number; to: number } | undefined {
  const n = s.values.length;
  const R = Math.min(n, Math.max(win(th, n), 3 * th.windowMin));
  if (R < 3 * th.windowMin) return undefined;
  const steps = s.steps.slice(-R), logs = s.values.slice(-R).map((v) => Math.log(Math.max(v, 1e-8)));
  const current = median(s.values.slice(-th.windowMin));
  if (!(current >= th.kl.rateMin)) return undefined;
  const slope = theilSen(steps, logs);
  if (!(slope >= Math.LN2 / th.kl.doublingSteps)) return undefined;
  const h = headTail({ steps, values: logs }, Math.floor(R / 2));
  if (!(h.z > th.trendZ)) return undefined;
  return { slope, doubling: Math.LN2 / slope, current, toWarn: current < th.kl.warn ? Math.log(th.kl.warn / current) / slope : 0, z: h.z, points: R, from: steps[0], to: steps[R - 1] };
}

export function checkBeta(input: DoctorInput, th: Thresholds): Finding[] {
  const coef = pick(input.metrics, 'klCoef');
  if (!coef) return [];
  const idx = coef.series.values.map((v, i) => (Number.isFinite(v) ? i : -1)).filter((i) => i >= 0);
  const steps = idx.map((i) => coef.series.steps[i]), values = idx.map((i) => coef.series.values[i]);
  const n = values.length;
  if (n < th.minSteps) return [];
  const lo = Math.min(...values), hi = Math.max(...values);
  if (!(hi > lo * 1.0001 && hi - lo > 1e-12)) return []; // constant β: no controller
  const w = win(th, n);
  const recent = values.slice(-w);
  const cfgMax = configNumber(input.config, /^(beta_?max|max_?beta|kl_?coef_?max|max_?kl_?coef|betaMax|klMax)$/i)?.value;
  const cfgMin = configNumber(input.config, /^(beta_?min|min_?beta|kl_?coef_?min|min_?kl_?coef|betaMin|klMin)$/i)?.value;
  const upper = cfgMax ?? hi, lower = cfgMin ?? lo;
  const near = (v: number, b: number) => Math.abs(v - b) <= 1e-9 + 1e-6 * Math.abs(b);
  const atMax = recent.filter((v) => near(v, upper)).length / w;
  const atMin = recent.filter((v) => near(v, lower)).length / w;
  const kl = pick(input.metrics, 'kl');
  const klRecent = kl ? median(finite(kl.series.values).slice(-w)) : NaN;
  const range = lastSteps({ steps, values }, w);
  if (atMax >= th.beta.pinnedFraction) {
    return [finding('beta', 'at-max', 'warning', 'β controller at its upper bound',
      `The KL coefficient sat at its ${cfgMax !== undefined ? 'configured maximum' : 'highest value'} ${fmt(upper)} for ${pct(atMax)} of the last ${w} steps`
      + (Number.isFinite(klRecent) ? ` while KL is ${fmt(klRecent)}` : '') + ': the controller cannot push KL back to its target.',
      range, { metrics: [coef.name, ...(kl ? [kl.name] : [])], values: { beta: upper, pinnedShare: atMax, kl: klRecent } },
      'Raise the β upper bound or the controller\'s horizon, lower the learning rate, and look for a reward exploit driving the KL up (survey: adaptive β).')];
  }
  if (atMin >= th.beta.pinnedFraction && n > w) {
    return [finding('beta', 'at-min', 'info', 'β controller at its lower bound',
      `The KL coefficient sat at its ${cfgMin !== undefined ? 'configured minimum' : 'lowest value'} ${fmt(lower)} for ${pct(atMin)} of the last ${w} steps`
      + (Number.isFinite(klRecent) ? ` (KL ${fmt(klRecent)})` : '') + ': KL stays below target even with the weakest penalty; the constraint is slack.',
      range, { metrics: [coef.name, ...(kl ? [kl.name] : [])], values: { beta: lower, pinnedShare: atMin, kl: klRecent } },
      'Usually fine. If the policy is barely moving, raise the learning rate or the KL target; if this is intended, lower the β minimum.')];
  }
  return [];
}
