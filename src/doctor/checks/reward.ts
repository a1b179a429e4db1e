/**
 * Reward decline: the training reward's second half sits significantly below its first half (a run that got worse, e.g.
 * collapsing after an early rise, or degrading while responses hit the length limit). Robust and stated: medians of
 * the two halves of the logged points, noise σ from first differences (insensitive to the trend itself), the Theil–Sen
 * slope over the whole run as a second opinion, and the reward parts that fell most (TRL `rewards/<f>/mean`).
 * Survey: a falling reward with rising truncation / KL / falling entropy is the usual "崩盘" (collapse) pattern; stop at
 * the best checkpoint and look at what changed.
 */
import type { DoctorInput, Finding } from '../types';
import type { Thresholds } from '../thresholds';
import { headTail, mean, median, rollingMedian, theilSen, align } from '../stats';
import { metricOrRollouts, pick, win, finding, fmt, pct } from './common';

export function checkReward(input: DoctorInput, th: Thresholds): Finding[] {
  const rew = metricOrRollouts(input, 'reward', 'reward', (r) => (r.samples.length ? mean(r.samples.map((x) => x.reward)) : undefined));
  if (!rew) return [];
  const s = rew.series;
  const n = s.values.length;
  if (n < th.minSteps) return [];
  const h = Math.floor(n / 2);
  const t = headTail(s, h);
  if (!(t.diff < 0 && t.z < -th.reward.declineZ)) return [];
  const roll = rollingMedian(s.values, win(th, n));
  const range = Math.max(...roll) - Math.min(...roll);
  const scale = Math.max(range, Math.abs(t.head), 1e-9);
  if (-t.diff < th.reward.declineFrac * scale) return [];
  const slope = theilSen(s.steps, s.values);
  if (!(slope < 0)) return [];
  const headTo = s.steps[h - 1], tailFrom = s.steps[n - h];
  // what moved with it: reward parts (halves on the same steps) and the truncated share
  const notes: string[] = [];
  const parts: { part: string; head: number; tail: number }[] = [];
  for (const [name, ps] of Object.entries(input.metrics)) {
    const mm = /^reward\/(.+)\/mean$/.exec(name);
    if (!mm) continue;
    const a = align(s, ps);
    if (a.steps.length < th.minSteps) continue;
    const [head, tail] = halfMedians(a.b);
    parts.push({ part: mm[1], head, tail });
  }
  const fell = parts.filter((p) => p.tail < p.head).sort((a, b) => (a.tail - a.head) - (b.tail - b.head)).slice(0, 3);
  if (fell.length) notes.push(`reward parts that fell most: ${fell.map((p) => `${p.part} ${fmt(p.head)} → ${fmt(p.tail)}`).join(', ')}`);
  const tr = pick(input.metrics, 'lengthClip');
  if (tr) {
    const a = align(s, tr.series);
    if (a.steps.length >= th.minSteps) {
      const [th0, th1] = halfMedians(a.b);
      if (th1 > th0 && th1 > th.length.truncWarn) notes.push(`meanwhile the truncated share (${tr.name}) went ${pct(th0)} → ${pct(th1)}`);
    }
  }
  return [finding('reward', 'decline', 'warning', 'Reward falling',
    `${rew.name} fell from a median of ${fmt(t.head)} over the first half of the run (steps ${s.steps[0]}–${headTo}, ${h} points) to ${fmt(t.tail)} over the second half `
    + `(steps ${tailFrom}–${s.steps[n - 1]}): ${fmt(t.diff)}, ${fmt(-t.z, 1)} standard errors (noise σ ${fmt(t.sigma)} per point from first differences; warning beyond ${fmt(th.reward.declineZ)} `
    + `and a fall of at least ${pct(th.reward.declineFrac)} of the reward's scale); Theil–Sen slope ${fmt(slope)} per step over the whole run.`
    + (notes.length ? ` ${notes.join('; ')}.` : ''),
    [s.steps[0], s.steps[n - 1]],
    { metrics: [rew.name, ...fell.map((p) => `reward/${p.part}/mean`), ...(tr && notes.some((x) => x.includes('truncated')) ? [tr.name] : [])], steps: [s.steps[0], headTo, tailFrom, s.steps[n - 1]],
      values: { firstHalf: t.head, secondHalf: t.tail, diff: t.diff, z: t.z, sigma: t.sigma, slopePerStep: slope, halfPoints: h } },
    'Find what changed when the reward started to fall: responses hitting the length limit (raise max new tokens or use overlong filtering), '
    + 'entropy or KL running away (see those findings), a learning rate too high late in training (decay it); keep the best checkpoint rather than the last.')];
}

/** Medians of the first and the second half of `xs` (the middle point of an odd count left out). */
function halfMedians(xs: number[]): [number, number] {
  const h = Math.floor(xs.length / 2);
  return [median(xs.slice(0, h)), median(xs.slice(-h))];
}

/**
 * DELTA reward schedule (rl.rewardSchedule, trainer rl/delta.ts): the step where the reward the advantage uses switched
 * from the dense part (partial credit per test case) to the binary one, read from `reward/schedule_dense` (1 → 0).
 * An info finding, so the dashboard draws it as a band on the reward and pass@k curves (host/doctor/evidence.ts
 * dashboardAnnotations): what follows the switch is the experiment (a plateau at binary reward 0, or a jump).
 */
export function checkRewardSchedule(input: DoctorInput): Finding[] {
  const s = input.metrics['reward/schedule_dense'];
  if (!s || s.values.length < 2) return [];
  const i = s.values.findIndex((v, k) => k > 0 && s.values[k - 1] >= 0.5 && v < 0.5);
  if (i < 0) return [];
  const from = s.steps[i - 1], to = s.steps[i];
  const names = ['reward/mean', 'score/mean', 'reward/schedule_dense', ...Object.keys(input.metrics).filter((n) => /^reward\/(accuracy|dense)\/mean$/.test(n))]
    .filter((n, k, a) => a.indexOf(n) === k && (n in input.metrics));
  const evalNames = Object.keys(input.evalMetrics ?? {}).filter((n) => /pass@\d+$/.test(n)).map((n) => `eval:${n.replace(/^eval\//, '')}`);
  return [finding('reward', 'schedule-switch', 'info', 'Reward switched: dense → binary',
    `The reward the advantage uses switched from the dense part (partial credit per test case) to the binary one after step ${from} (rl.rewardSchedule.denseUntil); `
    + 'from step ' + to + ' on only fully correct samples earn reward. DELTA (Sun et al. 2025) reports a plateau at zero binary reward and then a sudden jump after such a switch.',
    [from, to], { metrics: [...names, ...evalNames], steps: [from, to] },
    'Nothing to fix: this marks the schedule. Compare the binary reward (reward/accuracy/mean) and pass@k before and after the switch.')];
}
