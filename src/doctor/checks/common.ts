/** Helpers shared by the checks: metric aliases (our names first, then verl / TRL / OpenRLHF), windows, finding builder. */
import type { DoctorInput, Episode, Finding, Series, CheckName, Severity, Evidence } from '../types';
import type { Thresholds } from '../thresholds';
import { finitePoints, median, windowSize, type SeriesEpisode } from '../stats';

/** Metric names each check accepts, in order of preference. Importers map most names to ours; the rest are here. */
export const ALIASES = {
  reward: ['reward/mean', 'reward', 'rewards/mean', 'critic/score/mean', 'critic/rewards/mean', 'train/reward', 'objective/scores', 'env/reward_mean'],
  rewardStd: ['reward/std', 'reward_std', 'critic/score/std'],
  rewardMin: ['reward/min', 'critic/score/min', 'rewards/min'],
  rewardMax: ['reward/max', 'critic/score/max', 'rewards/max'],
  entropy: ['entropy', 'entropy/mean', 'actor/entropy', 'policy/entropy', 'objective/entropy', 'train/entropy', 'policy/entropy_avg'],
  kl: ['kl', 'kl/mean', 'objective/kl', 'actor/kl_loss', 'actor/reward_kl_penalty', 'kl_divergence', 'train/kl', 'policy/approxkl_avg'],
  klCoef: ['kl_coef', 'beta', 'actor/kl_coef', 'actor/reward_kl_penalty_coeff', 'objective/kl_coef', 'kl_ctl'],
  clipLow: ['clip_ratio/low_mean', 'actor/pg_clipfrac_lower', 'clip_ratio/low_min'],
  clipHigh: ['clip_ratio/high_mean', 'clip_ratio/high_max'],
  clipRegion: ['clip_ratio/region_mean', 'clip_ratio', 'actor/pg_clipfrac', 'clipfrac', 'policy/clipfrac', 'policy/clipfrac_avg'],
  length: ['response_length/mean', 'completions/mean_length', 'completion_length', 'response_length', 'tokens/response_length/mean'],
  lengthClip: ['response_length/clip_ratio', 'completions/clipped_ratio', 'response/clip_ratio', 'response_length/clip_frac'],
  zeroStd: ['frac_reward_zero_std', 'zero_std_frac', 'reward/frac_zero_std'],
  vfExplainedVar: ['vf_explained_var', 'critic/vf_explained_var', 'value/explained_variance', 'val/explained_variance'],
  vfLoss: ['vf_loss', 'critic/vf_loss', 'loss/value', 'value_loss'],
  vfClipfrac: ['vf_clipfrac', 'critic/vf_clipfrac', 'value/clipfrac', 'policy/vf_clipfrac'],
  gradNorm: ['grad_norm', 'actor/grad_norm', 'critic/grad_norm', 'train/grad_norm'],
  losses: ['loss', 'pg_loss', 'actor/pg_loss', 'vf_loss', 'critic/vf_loss', 'train/loss', 'loss/policy', 'loss/total'],
  evalScore: ['eval/pass@1', 'pass@1', 'eval/accuracy', 'eval/reward/mean', 'eval/reward'],
} as const;

export type AliasKey = keyof typeof ALIASES;

/** First alias present with at least one finite value. */
export function pick(metrics: Record<string, Series>, key: AliasKey): { name: string; series: Series } | undefined {
  for (const name of ALIASES[key]) {
    const s = metrics[name];
    if (s && s.values.some((v) => Number.isFinite(v))) return { name, series: s };
  }
  return undefined;
}

/** Series from rollouts (one point per rollout step), for runs that logged per-token data but not the metric. */
export function fromRollouts(input: DoctorInput, f: (r: DoctorInput['rollouts'][number]) => number | undefined): Series {
  const steps: number[] = [], values: number[] = [];
  for (const r of input.rollouts) {
    const v = f(r);
    if (v !== undefined && Number.isFinite(v)) { steps.push(r.step); values.push(v); }
  }
  return { steps, values };
}

/** Metric series, or a rollout-derived fallback (named "rollouts:<what>"). */
export function metricOrRollouts(input: DoctorInput, key: AliasKey, what: string, f: (r: DoctorInput['rollouts'][number]) => number | undefined): { name: string; series: Series } | undefined {
  const m = pick(input.metrics, key);
  if (m) return { name: m.name, series: finitePoints(m.series) };
  const s = fromRollouts(input, f);
  return s.values.length ? { name: `rollouts:${what}`, series: s } : undefined;
}

export function win(th: Thresholds, n: number): number {
  return windowSize(n, th.windowFraction, th.windowMin, th.windowMax);
}

/**
 * The recent level of a share (clipped tokens, truncated responses): the median of the last win(n) points; on a short
 * history (fewer than windowMin points, e.g. a TRL run logging once every `logging_steps`) the lowest of all points, so
 * that every point must be above a threshold. `w` is the number of points judged.
 */
export function recentLevel(values: number[], th: Thresholds): { short: boolean; w: number; recent: number } {
  const n = values.length;
  const short = n < th.windowMin;
  const w = short ? n : win(th, n);
  return { short, w, recent: short ? Math.min(...values) : median(values.slice(-w)) };
}

/** Episodes found by stats.episodesBeyond as a finding carries them. */
export function toEpisodes(eps: SeriesEpisode[]): Episode[] {
  return eps.map((e) => ({ start: e.start, end: e.end, peak: e.peak, points: e.points, recovered: e.recovered }));
}

export function lastSteps(s: Series, w: number): [number, number] {
  const n = s.steps.length;
  return [s.steps[Math.max(0, n - w)], s.steps[n - 1]];
}

export function finding(check: CheckName, kind: string, severity: Severity, title: string, message: string,
  stepRange: [number, number], evidence: Evidence, remedy: string): Finding {
  return { id: `${check}/${kind}`, check, kind, severity, title, message, stepRange, evidence, remedy };
}

export function fmt(x: number, digits = 3): string {
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return x.toExponential(2);
  return String(Number(x.toFixed(digits)));
}

export function pct(x: number): string { return `${(100 * x).toFixed(x < 0.1 ? 1 : 0)}%`; }

/** Search a (nested) config for a finite number under a key matching `re` (first match, depth-first). */
export function configNumber(config: Record<string, unknown> | undefined, re: RegExp): { key: string; value: number } | undefined {
  if (!config) return undefined;
  const stack: [string, unknown][] = Object.entries(config);
  let guard = 0;
  while (stack.length && guard++ < 10000) {
    const [k, v] = stack.shift()!;
    const leaf = k.split('.').pop()!;
    if (typeof v === 'number' && Number.isFinite(v) && re.test(leaf)) return { key: k, value: v };
    if (v && typeof v === 'object' && !Array.isArray(v)) for (const [k2, v2] of Object.entries(v as Record<string, unknown>)) stack.push([`${k}.${k2}`, v2]);
  }
  return undefined;
}

/** Survey citation used in remedies (docs/doctor.md lists the passages). */
export const SURVEY = 'survey (shared/seeds)';
