/**
 * Length pathologies: mean response length drifting up together with reward (length hacking), truncation (share of
 * responses cut at the maximum length), and an overlong / length penalty dominating the reward.
 * Survey: DAPO Overlong Reward Shaping / Soft Overlong Punishment (L_max, L_cache) and overlong filtering; length penalty
 * ("超过512 token后每多100个token扣0.5分", LenPenalty 0.01–0.05/token "防止水字数"); GRPO-λ dynamic length penalty.
 */
import type { DoctorInput, Finding } from '../types';
import type { Thresholds } from '../thresholds';
import { align, headTail, median, mean, pearson, spearman, finite, rollingMedian, episodesBeyond } from '../stats';
import { metricOrRollouts, win, finding, fmt, pct, lastSteps, recentLevel, toEpisodes } from './common';

const PENALTY = /overlong|length|len_?pen|too_?long|brevity/i;

/** Mean within-group Pearson correlation of length and reward over the given rollout steps (groups with variance in both). */
export function withinGroupLengthRewardCorr(rs: DoctorInput['rollouts']): { corr: number; groups: number } {
  const cs: number[] = [];
  for (const r of rs) for (const g of r.groups) {
    if (g.samples.length < 3) continue;
    const len = g.samples.map((i) => r.samples[i]?.length ?? NaN), rew = g.samples.map((i) => r.samples[i]?.reward ?? NaN);
    const c = pearson(len, rew);
    if (Number.isFinite(c)) cs.push(c);
  }
  return { corr: cs.length ? mean(cs) : NaN, groups: cs.length };
}

export function checkLength(input: DoctorInput, th: Thresholds): Finding[] {
  const out: Finding[] = [];
  const len = metricOrRollouts(input, 'length', 'length', (r) => (r.samples.length ? mean(r.samples.map((x) => x.length)) : undefined));
  const rew = metricOrRollouts(input, 'reward', 'reward', (r) => (r.samples.length ? mean(r.samples.map((x) => x.reward)) : undefined));
  if (len && rew) {
    const a = align(len.series, rew.series);
    const n = a.steps.length;
    if (n >= th.minSteps) {
      const w = win(th, n);
      const tl = headTail({ steps: a.steps, values: a.a }, w);
      const tr = headTail({ steps: a.steps, values: a.b }, w);
      const growth = tl.head > 0 ? tl.tail / tl.head : NaN;
      const rho = spearman(a.a, a.b);
      if (growth >= th.length.growthRatio && tl.z > th.trendZ && tr.diff > 0 && rho >= th.length.rewardCorr) {
        // within-group correlation from where the drift starts (length past a quarter of its rise) to the end; groups
        // without variance (at the end of a hack every sample may sit at max length) drop out by themselves
        const roll = rollingMedian(a.a, Math.max(1, Math.floor(w / 2)));
        const startIdx = roll.findIndex((x) => x >= tl.head + 0.25 * (tl.tail - tl.head));
        // (minus half a window: the rolling median lags the rise, and a fast hack is over within a few steps)
        const startStep = a.steps[Math.max(0, startIdx - Math.ceil(w / 2))];
        const wg = withinGroupLengthRewardCorr(input.rollouts.filter((r) => r.step >= startStep));
        const haveWithin = wg.groups >= 5;
        if (!haveWithin || wg.corr >= th.length.withinGroupCorr) {
          const last = input.rollouts[input.rollouts.length - 1];
          const longest = last ? [...last.samples].sort((p, q) => q.length - p.length).slice(0, 8).map((x) => ({ step: last.step, sample: x.index })) : undefined;
          out.push(finding('length', 'drift', haveWithin ? 'warning' : 'info', 'Length drifting up with reward',
            `Mean response length grew ${fmt(growth, 2)}× (${fmt(tl.head, 1)} → ${fmt(tl.tail, 1)} tokens) while reward rose (${fmt(tr.head)} → ${fmt(tr.tail)}); `
            + `step-level Spearman ρ(length, reward) = ${fmt(rho, 2)}`
            + (haveWithin ? `, and within groups longer answers score higher (mean r = ${fmt(wg.corr, 2)} over ${wg.groups} groups): the reward pays for length.`
              : '. No rollouts with length and reward variance inside groups, so this could also be genuinely longer reasoning.'),
            [a.steps[0], a.steps[n - 1]],
            { metrics: [len.name, rew.name], samples: longest, values: { lengthGrowth: growth, spearman: rho, withinGroupCorr: wg.corr } },
            'Add a length penalty (survey: e.g. −0.5 per 100 tokens beyond a budget, or 0.01–0.05 per token) or DAPO soft overlong punishment; '
            + 'use a length-normalized loss (Dr. GRPO removes GRPO\'s length bias); check the reward function for a term that grows with length.'));
        }
      }
    }
  }
  // truncation: the recent median of the truncated share; on a short history (fewer than windowMin points, e.g. a TRL
  // run that logged once every `logging_steps`, each point already a mean over those steps) every point must be above the
  // threshold, and severity follows the lowest of them. The whole history is scanned for episodes (rolling median of
  // windowMin points above truncWarn), so the finding's steps start where the condition first held.
  const tr = metricOrRollouts(input, 'lengthClip', 'truncated', (r) => (r.samples.length && r.samples.some((x) => x.truncated !== undefined)
    ? r.samples.filter((x) => x.truncated).length / r.samples.length : undefined));
  if (tr && tr.series.values.length) {
    const n = tr.series.values.length;
    const { short, w, recent } = recentLevel(tr.series.values, th);
    if (recent > th.length.truncWarn) {
      const last = input.rollouts[input.rollouts.length - 1];
      const k = Math.min(th.windowMin, n);
      const eps = episodesBeyond(tr.series, th.length.truncWarn, k, 1, k);
      const cur = eps.length && !eps[eps.length - 1].recovered ? eps[eps.length - 1] : undefined;
      const from = cur ? cur.start : tr.series.steps[n - w];
      const where = short
        ? `${n === 1 ? `the only logged point of ${tr.name} (step ${tr.series.steps[0]})` : `the lowest of all ${n} logged points of ${tr.name}`}: too few points for the usual median of ${th.windowMin}`
        : `median of the last ${w} points of ${tr.name}`;
      const since = cur && !short ? ` Above ${pct(th.length.truncWarn)} since step ${cur.start} (rolling median of ${k} points; peak ${pct(cur.peak.value)} at step ${cur.peak.step}).` : '';
      // a task that judges completions on their text and cuts them at the length limit by design (RL Lens's stories
      // tasks: config.derived.eosRequired false) makes truncation a fact of the setup, not a fault: say so, as info
      const byDesign = (input.config?.derived as { eosRequired?: boolean } | undefined)?.eosRequired === false;
      out.push({
        ...finding('length', 'truncation', byDesign ? 'info' : recent > th.length.truncError ? 'error' : 'warning', byDesign ? 'Responses cut at max length (by the task\'s design)' : 'Responses truncated at max length',
          `${pct(recent)} of responses hit the maximum length without EOS (${where}; warning above ${pct(th.length.truncWarn)}, error above ${pct(th.length.truncError)}).${since} `
          + (byDesign ? 'This run\'s task scores completions on their text whether or not they end (config.derived.eosRequired is false), so the cut is expected; it still bounds what the reward can see.' : 'Truncated answers are scored as if complete, which injects reward noise.'),
          [from, tr.series.steps[n - 1]],
          { metrics: [tr.name], steps: cur ? [cur.start, cur.peak.step] : undefined, values: { truncatedShare: recent, points: n, ...(cur ? { since: cur.start } : {}) }, samples: last ? last.samples.filter((x) => x.truncated).slice(0, 8).map((x) => ({ step: last.step, sample: x.index })) : undefined },
          'Raise max new tokens, or apply DAPO overlong filtering (mask truncated samples out of the loss) / soft overlong punishment (L_max, L_cache); add a length penalty if lengths are drifting up.'),
        ...(eps.length ? { episodes: toEpisodes(eps) } : {}),
      });
    }
  }
  // overlong / length penalty dominating
  const partSeries: { name: string; part: string; values: number[]; steps: number[] }[] = [];
  for (const [name, s] of Object.entries(input.metrics)) {
    const mm = /^reward\/(.+)\/mean$/.exec(name);
    if (mm) partSeries.push({ name, part: mm[1], values: s.values, steps: s.steps });
  }
  if (!partSeries.length && input.rollouts.some((r) => r.samples.some((x) => x.parts))) {
    const names = new Set<string>();
    for (const r of input.rollouts) for (const x of r.samples) for (const k of Object.keys(x.parts ?? {})) names.add(k);
    for (const p of names) {
      const s = input.rollouts.map((r) => mean(r.samples.map((x) => x.parts?.[p] ?? NaN)));
      partSeries.push({ name: `rollouts:reward/${p}`, part: p, values: s, steps: input.rollouts.map((r) => r.step) });
    }
  }
  // a penalty part: named like one and negative on average recently (a "length_bonus" is not a penalty)
  const pen = partSeries.filter((p) => PENALTY.test(p.part) && median(p.values.slice(-Math.max(1, th.windowMin))) < 0);
  if (pen.length && partSeries.length >= 2) {
    const n = Math.max(...partSeries.map((p) => finite(p.values).length));
    if (n >= th.windowMin) {
      const w = win(th, n);
      const mag = (p: typeof partSeries[number]) => Math.abs(median(p.values.slice(-w)));
      const total = partSeries.reduce((s, p) => s + (Number.isFinite(mag(p)) ? mag(p) : 0), 0);
      for (const p of pen) {
        const share = total > 0 ? mag(p) / total : 0;
        if (share > th.length.overlongShare) {
          out.push(finding('length', 'overlong-penalty', 'warning', `Length penalty dominates the reward (${p.part})`,
            `The "${p.part}" part carries ${pct(share)} of the reward's magnitude over the last ${w} points (threshold ${pct(th.length.overlongShare)}): the policy is mostly learning about length, not the task.`,
            lastSteps({ steps: p.steps, values: p.values }, w), { metrics: partSeries.map((x) => x.name), values: { share } },
            'Lower the penalty\'s weight or widen its budget (DAPO: L_cache soft zone before L_max); raise max new tokens if answers need the room; GRPO-λ applies the penalty only once accuracy is high.'));
        }
      }
    }
  }
  return out;
}
