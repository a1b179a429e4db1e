/**
 * The reward model, checked on the distribution the RL stage will ask it about: the starting (SFT) policy's own samples.
 *
 * 1. Normalisation (Ziegler et al. 2019, "Fine-Tuning Language Models from Human Preferences", §2.2 and
 *    openai/lm-human-preferences train_reward.py `normalize`, reproduced in vwxyzjn/lm-human-preference-details): the
 *    reward model's output is shifted and scaled so that it has mean 0 and standard deviation 1 on samples from the
 *    initial policy. The RL stage then reads `reward = (RM(x, y) − mean) / std`. Without it the raw scores (|r| ≈ 10,
 *    prompt-dependent offsets) go straight into PPO's value loss, whose gradient swamps the policy's through the shared
 *    trunk: PPO collapsed (pass@1 0.66 → 0.45) where the normalised reward lifted it (0.66 → 0.78), docs/preference.md.
 * 2. Agreement with the hidden rule (built-in tasks only): for every pair of samples of one prompt whose hidden scores
 *    differ, does the RM order them the same way? And best-of-n by the RM: the hidden score of the sample the RM ranks
 *    first in each group, next to the group's mean. Held-out accuracy on preference pairs says how the RM does on the
 *    data it was trained for; this says whether the RL stage can trust it on what the policy actually writes.
 */

/** One prompt's samples: the RM's score and (when the task has a hidden rule) the hidden score of each. */
export interface ScoredGroup { rm: number[]; hidden?: number[]; correct?: boolean[] }

export interface OnPolicyCheck {
  /** samples scored */
  samples: number;
  /** mean and (population) standard deviation of the raw RM scores: the normalisation of the RL stage's reward */
  mean: number;
  std: number;
  /** pairs within a group with different hidden scores, and the share the RM orders as the hidden rule does */
  pairs?: number;
  pairAccuracy?: number;
  /** mean hidden score of all samples, and of the RM's best sample per group (best-of-n) */
  hiddenMean?: number;
  bestOfNHidden?: number;
  /** share of exactly right samples, and of groups whose RM-best sample is right */
  passRate?: number;
  bestOfNPass?: number;
  /** group size n of best-of-n */
  n: number;
}

/** Σ over groups of the statistics above (pure; unit-tested against hand-computed values). */
export function checkOnPolicy(groups: ScoredGroup[]): OnPolicyCheck {
  const all = groups.flatMap((g) => g.rm);
  const samples = all.length;
  const mean = samples ? all.reduce((a, b) => a + b, 0) / samples : 0;
  const std = samples ? Math.sqrt(all.reduce((a, b) => a + (b - mean) ** 2, 0) / samples) : 0;
  const n = groups.length ? Math.max(...groups.map((g) => g.rm.length)) : 0;
  const out: OnPolicyCheck = { samples, mean, std, n };
  if (!groups.length || groups.some((g) => !g.hidden)) return out;
  let pairs = 0, agree = 0, hsum = 0, best = 0, pass = 0, bestPass = 0;
  for (const g of groups) {
    const h = g.hidden!;
    let bi = 0;
    for (let i = 0; i < g.rm.length; i++) {
      hsum += h[i];
      if (g.correct?.[i]) pass++;
      if (g.rm[i] > g.rm[bi]) bi = i;
      for (let j = i + 1; j < g.rm.length; j++) {
        if (Math.abs(h[i] - h[j]) < 1e-9) continue;
        pairs++;
        // a tie in the RM score counts as half right (it orders neither way)
        if (g.rm[i] === g.rm[j]) agree += 0.5;
        else if ((h[i] > h[j]) === (g.rm[i] > g.rm[j])) agree++;
      }
    }
    best += h[bi];
    if (g.correct?.[bi]) bestPass++;
  }
  out.pairs = pairs;
  out.pairAccuracy = pairs ? agree / pairs : undefined;
  out.hiddenMean = hsum / samples;
  out.bestOfNHidden = best / groups.length;
  if (groups.every((g) => g.correct)) { out.passRate = pass / samples; out.bestOfNPass = bestPass / groups.length; }
  return out;
}
