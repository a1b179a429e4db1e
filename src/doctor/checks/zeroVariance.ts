/**
 * Zero-variance groups: groups whose G rewards are all equal have zero group-normalized advantage and give no gradient
 * (GRPO's zero-variance problem). Split into all-correct and all-wrong, and the share of the batch with no gradient.
 * Survey: DAPO dynamic sampling (过滤全对/全错), Reinforce-Rej (filter both), "方差小于0.01的直接丢掉", G = 6–8, temperature 0.8–1.0.
 */
import type { DoctorInput, Finding, RolloutSummary } from '../types';
import type { Thresholds } from '../thresholds';
import { finitePoints, mean } from '../stats';
import { pick, win, finding, fmt, pct } from './common';

/** Which kind of zero-variance group dominates: all-correct (prompts too easy), all-wrong (too hard), or cannot tell. */
export type ZeroVarianceVerdict = 'all-correct' | 'all-wrong' | 'undecided';

export interface ZeroVarStep {
  step: number;
  groups: number;
  zero: number;
  allCorrect: number;
  allWrong: number;
  /** samples in zero-variance or trainer-filtered groups / all samples */
  noGradShare: number;
  /** samples of the step, and of them in zero-variance or trainer-filtered groups */
  samples: number;
  noGradSamples: number;
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
  return { step: r.step, groups, zero, allCorrect, allWrong, noGradShare: total ? noGrad / total : 0, samples: total, noGradSamples: noGrad, filteredByTrainer: filtered, zeroGroups };
}

/**
 * From metrics alone (no rollouts): which kind of zero-variance group dominates, decided from the reward level and
 * the reward's range. With a share z of the groups at one reward level each (lo: all wrong, hi: all right) and the
 * others strictly between, the mean reward r satisfies r − lo = a·(hi − lo) + (1 − z)·(m − lo) with a the all-correct
 * share and m ∈ [lo, hi] the mixed groups' mean, so a ∈ [max(0, u − (1 − z)), min(z, u)] with u = (r − lo)/(hi − lo).
 * Decided when the whole interval of a/z lies above or below one half; otherwise "cannot be decided".
 */
export function zeroVarianceSplitFromLevel(meanReward: number, zeroShare: number, lo: number, hi: number):
  { allCorrectMin: number; allCorrectMax: number; verdict: ZeroVarianceVerdict } {
  if (!(hi > lo) || !(zeroShare > 0) || !Number.isFinite(meanReward)) return { allCorrectMin: 0, allCorrectMax: 1, verdict: 'undecided' };
  const z = Math.min(1, zeroShare);
  const u = Math.min(1, Math.max(0, (meanReward - lo) / (hi - lo)));
  const aMin = Math.max(0, u - (1 - z)) / z, aMax = Math.min(z, u) / z;
  return { allCorrectMin: aMin, allCorrectMax: aMax, verdict: aMin > 0.5 ? 'all-correct' : aMax < 0.5 ? 'all-wrong' : 'undecided' };
}

/**
 * The per-sample reward's range for runs without rollouts: logged per-step min / max (verl critic/score/min|max), else
 * the sum of the reward functions' ranges when every function's mean stays in [0, 1] (TRL rewards/<fn>/mean; the
 * functions TRL ships and most user ones score 0 or 1), else [0, 1] when every logged mean reward is in [0, 1].
 * `how` says which, for the message.
 */
export function rewardRange(input: DoctorInput): { lo: number; hi: number; how: string } | undefined {
  const mn = pick(input.metrics, 'rewardMin'), mx = pick(input.metrics, 'rewardMax');
  if (mn && mx) {
    const lo = Math.min(...mn.series.values.filter(Number.isFinite)), hi = Math.max(...mx.series.values.filter(Number.isFinite));
    if (hi > lo) return { lo, hi, how: `lowest ${mn.name} and highest ${mx.name} over the run` };
  }
  // one entry per reward function: TRL logs rewards/<f>/mean (≥ 0.17) or rewards/<f> (0.14–0.16); the importer adds
  // reward/<f>/mean next to it, so the same function can appear under two names
  const fns = new Map<string, string[]>();
  for (const k of Object.keys(input.metrics)) {
    const mm = /^rewards?\/([^/]+)(\/mean)?$/.exec(k);
    if (!mm || /^(mean|std|min|max|chosen|rejected|accuracies|margins)$/.test(mm[1])) continue;
    fns.set(mm[1], [...(fns.get(mm[1]) ?? []), k]);
  }
  const inUnit = (name: string) => { const v = input.metrics[name].values.filter(Number.isFinite); return v.length > 0 && v.every((x) => x >= -1e-9 && x <= 1 + 1e-9); };
  const names = [...fns.keys()];
  if (names.length && [...fns.values()].every((ks) => ks.every(inUnit))) return { lo: 0, hi: names.length, how: `${names.length} reward function${names.length > 1 ? 's' : ''} (${names.slice(0, 5).join(', ')}) each scoring in [0, 1]` };
  const r = pick(input.metrics, 'reward');
  if (r && inUnit(r.name)) return { lo: 0, hi: 1, how: `every logged ${r.name} lies in [0, 1], taken as the reward's range` };
  return undefined;
}

export function checkZeroVariance(input: DoctorInput, th: Thresholds): Finding[] {
  const t = th.zeroVariance;
  const rs = input.rollouts.filter((r) => r.groups.some((g) => g.rewards.length >= 2));
  const dynamic = /dapo|reinforce_rej|raft/i.test(input.algorithm ?? '') || rs.some((r) => r.groups.some((g) => g.filtered));
  const adviceFor = (verdict: ZeroVarianceVerdict) => {
    const parts: string[] = [];
    if (verdict === 'all-wrong') parts.push('Most are all-wrong: the prompts are too hard for the policy (SFT first, an easier curriculum or difficulty level, partial-credit rewards, a larger group size G, temperature 0.8–1.0).');
    else if (verdict === 'all-correct') parts.push('Most are all-correct: the prompts are too easy (raise the difficulty; Reinforce-Rej drops all-correct groups too, since they only make the model over-confident).');
    else parts.push('Whether they are all-wrong (prompts too hard: SFT first, an easier curriculum, partial credit, larger G) or all-correct (prompts too easy: harder prompts) cannot be told from these logs: log rollouts (completions with their rewards) to see which.');
    parts.push(dynamic
      ? 'Dynamic sampling is already dropping these groups: each dropped group costs a rollout, so fix the prompt difficulty to save compute.'
      : 'Turn on dynamic sampling (DAPO: drop groups whose rewards are all equal and refill the batch) or a zero-variance filter (survey: drop groups with reward variance < 0.01).');
    return parts.join(' ');
  };
  const sev = (share: number): Finding['severity'] => {
    const s: Finding['severity'] = share > t.errorFraction ? 'error' : 'warning';
    return dynamic && s === 'warning' ? 'info' : s;
  };
  if (rs.length >= t.minSteps) {
    let lo = Infinity, hi = -Infinity;
    for (const r of rs) for (const g of r.groups) for (const x of g.rewards) if (Number.isFinite(x)) { lo = Math.min(lo, x); hi = Math.max(hi, x); }
    const per = rs.map((r) => zeroVarianceOf(r, t.eps, lo, hi));
    const w = Math.min(per.length, win(th, per.length));
    const recent = per.slice(-w);
    // shares over the whole window (pooled), not the median of per-step fractions (with one group per step that
    // median is 0 or 1)
    const groups = recent.reduce((s, p) => s + p.groups, 0), zeros = recent.reduce((s, p) => s + p.zero, 0);
    const samples = recent.reduce((s, p) => s + p.samples, 0), noGradSamples = recent.reduce((s, p) => s + p.noGradSamples, 0);
    const stepsWith = recent.filter((p) => p.zero > 0).length;
    const frac = groups ? zeros / groups : 0;
    const noGrad = samples ? noGradSamples / samples : 0;
    if (frac > t.warnFraction) {
      const correct = recent.reduce((s, p) => s + p.allCorrect, 0), wrong = recent.reduce((s, p) => s + p.allWrong, 0);
      const z = zeros || 1;
      const last = recent[recent.length - 1];
      const lastZero = [...recent].reverse().find((p) => p.zeroGroups.length) ?? last;
      const verdict = correct + wrong === 0 ? 'undecided' : correct > wrong ? 'all-correct' : 'all-wrong';
      return [finding('zero-variance', 'groups', sev(frac), 'Zero-variance groups (no gradient)',
        `${zeros} of ${groups} groups (${pct(frac)}) had all-equal rewards in the last ${w} rollout steps (steps ${recent[0].step}–${last.step}; threshold ${pct(t.warnFraction)}): `
        + `${pct(correct / z)} all-correct, ${pct(wrong / z)} all-wrong; ${noGradSamples} of ${samples} samples (${pct(noGrad)}) gave no gradient`
        + `${w > 1 ? `; ${stepsWith} of ${w} steps had at least one such group` : ''}.`,
        [recent[0].step, last.step],
        {
          metrics: ['rollouts:zero_variance'], steps: recent.map((p) => p.step),
          groups: lastZero.zeroGroups.slice(0, 12).map((g) => ({ step: lastZero.step, group: g })),
          values: {
            fraction: frac, zeroGroups: zeros, groups, allCorrectShare: correct / z, allWrongShare: wrong / z, noGradientShare: noGrad,
            noGradientSamples: noGradSamples, samples, stepsWithZeroVariance: stepsWith, windowSteps: w,
          },
        }, adviceFor(verdict))];
    }
    return [];
  }
  const m = pick(input.metrics, 'zeroStd');
  if (m) {
    const pts = finitePoints(m.series);
    const v = pts.values;
    if (!v.length) return [];
    // a short history (fewer than zeroVariance.minSteps points): every point must be above the threshold on its own
    const short = v.length < t.minSteps;
    if (short && !(Math.min(...v) > t.warnFraction)) return [];
    const w = Math.min(v.length, win(th, v.length));
    // mean of the per-step fractions = the share of groups over the window when every step has as many groups
    const frac = short ? Math.min(...v) : mean(v.slice(-w));
    if (frac > t.warnFraction) {
      const from = pts.steps[v.length - w], to = pts.steps[v.length - 1];
      const values: Record<string, number> = { fraction: frac, windowSteps: w, stepsWithZeroVariance: v.slice(-w).filter((x) => x > 0).length };
      const range = rewardRange(input);
      const rew = pick(input.metrics, 'reward');
      let split = '(No rollouts and no reward level logged, so all-correct and all-wrong cannot be told apart.)';
      let verdict: ZeroVarianceVerdict = 'undecided';
      const metrics = [m.name];
      if (rew) {
        const rp = finitePoints(rew.series);
        const r = mean(rp.values.filter((_, i) => rp.steps[i] >= from && rp.steps[i] <= to));
        values.meanReward = r;
        metrics.push(rew.name);
        if (range) {
          const d = zeroVarianceSplitFromLevel(r, frac, range.lo, range.hi);
          verdict = d.verdict;
          Object.assign(values, { rewardLow: range.lo, rewardHigh: range.hi, allCorrectShareMin: d.allCorrectMin, allCorrectShareMax: d.allCorrectMax });
          const where = `mean ${rew.name} ${fmt(r)} in a reward range [${fmt(range.lo)}, ${fmt(range.hi)}] (${range.how})`;
          split = verdict === 'undecided'
            ? `No rollouts logged; from the ${where}, between ${pct(d.allCorrectMin)} and ${pct(d.allCorrectMax)} of these groups are all-correct: which kind dominates cannot be decided.`
            : `No rollouts logged; from the ${where}, ${pct(d.allCorrectMin)}–${pct(d.allCorrectMax)} of these groups are all-correct: mostly ${verdict}${verdict === 'all-correct' ? ' (the reward sits near its maximum)' : ' (the reward sits near its minimum)'}.`;
        } else split = `No rollouts logged and the reward's range is unknown (mean ${rew.name} ${fmt(r)}), so all-correct and all-wrong cannot be told apart.`;
      }
      return [finding('zero-variance', 'groups', sev(frac), 'Zero-variance groups (no gradient)',
        `${pct(frac)} of groups gave no gradient over the last ${w} logged steps (steps ${from}–${to}; ${short ? `the lowest value of ${m.name}: too few points for a mean over ${t.minSteps}` : `mean of ${m.name}`}; threshold ${pct(t.warnFraction)}). ${split}`,
        [from, to], { metrics, values }, adviceFor(verdict))];
    }
  }
  return [];
}
