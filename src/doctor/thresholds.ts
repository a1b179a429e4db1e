/**
 * Thresholds of every check, with their defaults. Each is documented in docs/doctor.md (what it measures, why
 * this default, false-positive notes) and exposed in VS Code as `rlLens.doctor.<group>.<name>`.
 */
export const DEFAULT_THRESHOLDS = {
  /** trend checks (entropy, KL growth, reward vs eval, lengths, critic) need at least this many finite points */
  minSteps: 20,
  /** head / tail windows are this fraction of the run's points, clamped to [windowMin, windowMax] */
  windowFraction: 0.2,
  windowMin: 5,
  windowMax: 50,
  /** a head→tail change counts only when it exceeds this many standard errors of the window medians */
  trendZ: 4,
  entropy: {
    /** warning when the recent median entropy is below this fraction of the initial median */
    warnRatio: 0.25,
    /** error below this fraction */
    errorRatio: 0.1,
    /** warning when entropy fell by more than this fraction within the last window alone (falling fast) */
    fastDropRatio: 0.5,
    /** info when the top 10% highest-entropy tokens carry more than this share of all entropy in the recent rollouts */
    topShare: 0.9,
  },
  zeroVariance: {
    /** a group is zero-variance when max − min of its rewards is below this */
    eps: 1e-6,
    /** warning when the recent median fraction of zero-variance groups exceeds this */
    warnFraction: 0.5,
    /** error above this */
    errorFraction: 0.9,
    /** minimum rollout steps (or metric points) before the check speaks */
    minSteps: 3,
  },
  kl: {
    /** warning when recent median KL exceeds this (nats/token; the survey's adaptive-β rule raises β above 0.5) */
    warn: 0.5,
    /** error above this */
    error: 5,
    /** warning when KL grew by this factor from the head window to the tail window ... */
    growthFactor: 20,
    /** ... and the tail is at least this large */
    growthMin: 0.1,
    /** KL is "stuck at zero" when every recent |KL| is below this */
    zeroEps: 1e-6,
    /** early warning: KL growing exponentially, doubling within this many steps (Theil–Sen slope of log KL over the recent window) ... */
    doublingSteps: 25,
    /** ... once it is at least this large (below it, KL is still in its initial rise from 0) */
    rateMin: 0.03,
  },
  beta: {
    /** β is pinned when it sits at its bound (or at its extreme for adaptive controllers) for this fraction of the recent window */
    pinnedFraction: 0.8,
  },
  clip: {
    /** warning when the recent median clip fraction (low, high or region) exceeds this */
    warn: 0.2,
    /** error above this */
    error: 0.4,
    /** a token's ratio is an outlier outside [1/r, r] */
    ratioOutlier: 10,
    /** warning when more than this fraction of tokens have outlier ratios (median over recent rollouts) */
    ratioOutlierFrac: 0.01,
  },
  length: {
    /** length drift: tail/head mean length at least this ratio ... */
    growthRatio: 1.5,
    /** ... with step-level Spearman correlation of length and reward at least this ... */
    rewardCorr: 0.6,
    /** ... and (when rollouts exist) a within-group length–reward correlation at least this */
    withinGroupCorr: 0.3,
    /** warning when the recent median truncation ratio (responses cut at max length) exceeds this */
    truncWarn: 0.1,
    /** error above this */
    truncError: 0.3,
    /** warning when a length/overlong penalty part carries more than this share of the mean |reward| */
    overlongShare: 0.5,
  },
  reward: {
    /** warning when the median reward of the run's second half is below its first half by this many standard errors ... */
    declineZ: 3,
    /** ... and by at least this fraction of the reward's scale (range of its rolling median, or its first-half level) */
    declineFrac: 0.1,
  },
  hacking: {
    /** eval pass@1 (or eval score) must fall by at least this (absolute) from its peak ... */
    evalDrop: 0.1,
    /** ... and by at least this many binomial standard errors ... */
    evalDropZ: 2,
    /** ... with at least this many eval points */
    minEvals: 4,
    /** a reward part "falls" when its tail median is below its head median by this fraction of the part's range ... */
    partDrop: 0.1,
    /** ... and by this many standard errors (lower than trendZ: it must coincide with the total's rise at trendZ, two
     *  opposite trends at once; the learned-RM hacking preset's hidden score falls at z ≈ −3.4, docs/preference.md) */
    partZ: 3,
    /** an emergent phrase: present in at least this share of recent samples ... */
    phraseShare: 0.6,
    /** ... present in at most this share of the first rollouts ... */
    phraseBaseShare: 0.1,
    /** ... with samples containing it scoring higher by at least this many reward std */
    phraseLift: 0.5,
  },
  mode: {
    /** warning when the recent mean share of distinct completions per group falls below this ... */
    distinctWarn: 0.25,
    /** ... having started above this */
    distinctFrom: 0.5,
    /** warning when the pass@k − pass@1 gap shrinks to this fraction of its initial value ... */
    passGapRatio: 0.3,
    /** ... having started at least this large */
    passGapMin: 0.1,
  },
  critic: {
    /** warning when the recent median explained variance of the value head is below this (after minSteps) */
    evWarn: 0,
    /** error below this */
    evError: -1,
    /** warning when the value loss tail median is this many times its minimum rolling median */
    vfLossGrowth: 5,
    /** warning when the recent median value clip fraction exceeds this */
    vfClipWarn: 0.3,
  },
  numerical: {
    /** a spike is at least this many robust σ away from the rolling median ... */
    spikeZ: 10,
    /** ... for positive metrics (gradient norms): this many robust σ of log values ... */
    spikeLogZ: 6,
    /** ... and this many times the rolling median in magnitude */
    spikeRatio: 5,
    /** smallest robust σ for signed metrics (losses): a GRPO pg_loss sits at ~1e-8 by construction, so tiny wiggles must not count */
    spikeSigmaFloor: 0.001,
    /** rolling window for spike baselines */
    spikeWindow: 50,
    /** points of history before spikes are judged */
    spikeHistory: 20,
    /** error (not warning) when spikes exceed this many */
    spikeErrorCount: 3,
  },
};

export type Thresholds = typeof DEFAULT_THRESHOLDS;
export type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> : T[K] };

/** Defaults overridden by `over` (unknown keys and non-numbers are ignored, so settings cannot break the checks). */
export function resolveThresholds(over?: DeepPartial<Thresholds> | Record<string, unknown>): Thresholds {
  const out = JSON.parse(JSON.stringify(DEFAULT_THRESHOLDS)) as Thresholds;
  if (!over) return out;
  const rec = (dst: Record<string, unknown>, src: Record<string, unknown>) => {
    for (const [k, v] of Object.entries(src)) {
      if (!(k in dst)) continue;
      if (typeof dst[k] === 'number' && typeof v === 'number' && Number.isFinite(v)) dst[k] = v;
      else if (dst[k] && typeof dst[k] === 'object' && v && typeof v === 'object') rec(dst[k] as Record<string, unknown>, v as Record<string, unknown>);
    }
  };
  rec(out as unknown as Record<string, unknown>, over as Record<string, unknown>);
  return out;
}

/** Flatten to "group.name" → value (for settings and docs). */
export function flattenThresholds(t: Thresholds = DEFAULT_THRESHOLDS): Record<string, number> {
  const out: Record<string, number> = {};
  const rec = (o: Record<string, unknown>, prefix: string) => {
    for (const [k, v] of Object.entries(o)) {
      if (typeof v === 'number') out[prefix + k] = v;
      else if (v && typeof v === 'object') rec(v as Record<string, unknown>, `${prefix}${k}.`);
    }
  };
  rec(t as unknown as Record<string, unknown>, '');
  return out;
}

/** Inverse of flattenThresholds: {"kl.warn": 1} → {kl: {warn: 1}}. */
export function unflattenThresholds(flat: Record<string, unknown>): DeepPartial<Thresholds> {
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(flat)) {
    const parts = key.split('.');
    let o = out;
    for (const p of parts.slice(0, -1)) o = (o[p] ??= {}) as Record<string, unknown>;
    o[parts[parts.length - 1]] = v;
  }
  return out as DeepPartial<Thresholds>;
}
