/**
 * Reward hacking signals (Goodhart): training reward rising while (a) eval accuracy falls, (b) another part of the
 * reward falls, (c) the reward-model gap over the reference grows while KL is high; and (d) reward concentrated on an
 * emergent phrase. Survey: 奖励黑客 (Lilian Weng's review): multiple reward components, reward capping, a KL penalty
 * (InstructGPT r = r0 − λ·r_kl "防止生成乱码来愚弄奖励模型"), generative critics / held-out checks.
 */
import type { DoctorInput, Finding, Series } from '../types';
import type { Thresholds } from '../thresholds';
import { SUMMARY_TEXT_CHARS } from '../summarize';
import { align, finite, finitePoints, headTail, mean, median, std, rollingMedian, noiseSigma, theilSen } from '../stats';
import { pick, metricOrRollouts, win, finding, fmt, pct } from './common';

const REMEDY = 'Treat the eval / held-out reward as the truth: stop at the best eval checkpoint, add a KL penalty or raise β, '
  + 'combine several reward parts (correctness + format) so one cannot be gamed alone, cap the reward, and read the highest-reward samples for the exploit (survey: 奖励黑客 remedies).';

function evalSeries(input: DoctorInput): { name: string; series: Series; n?: number } | undefined {
  const pts = input.evals.filter((e) => Number.isFinite(e.passAtK?.['1']));
  if (pts.length) {
    const n = pts.map((e) => (e.numPrompts ?? 0) * (e.samplesPerPrompt ?? 1)).filter((x) => x > 0);
    return { name: 'eval:pass@1', series: { steps: pts.map((e) => e.step), values: pts.map((e) => e.passAtK['1']) }, n: n.length ? Math.min(...n) : undefined };
  }
  const m = pick(input.evalMetrics, 'evalScore') ?? pick(input.evalMetrics, 'reward') ?? pick(input.metrics, 'evalScore');
  return m ? { name: m.name, series: m.series } : undefined;
}

/** The train-reward-up / eval-not-up divergence over the last minEvals + 2 evals (see checkRewardHacking (a')). */
export function divergence(reward: Series, ev: { series: Series; n?: number }, th: Thresholds) {
  const { steps, values: vals } = finitePoints(ev.series);
  const m = th.hacking.minEvals + 2;
  if (vals.length < m) return undefined;
  const es = steps.slice(-m), ev2 = vals.slice(-m);
  const from = es[0], to = es[m - 1];
  const sub: Series = { steps: [], values: [] };
  reward.steps.forEach((st, i) => { if (st >= from && st <= to && Number.isFinite(reward.values[i])) { sub.steps.push(st); sub.values.push(reward.values[i]); } });
  if (sub.values.length < th.minSteps) return undefined;
  const rt = headTail(sub, Math.floor(sub.values.length / 2));
  if (!(rt.diff > 0 && rt.z > th.trendZ)) return undefined;
  // a rise that matters: at least hacking.partDrop of the reward's scale (its level, or the range of its rolling median)
  const roll = rollingMedian(reward.values.filter(Number.isFinite), th.windowMin);
  if (rt.diff < th.hacking.partDrop * Math.max(Math.abs(rt.head), Math.max(...roll) - Math.min(...roll), 1e-9)) return undefined;
  const h = Math.floor(m / 2);
  const evalHead = median(ev2.slice(0, h)), evalTail = median(ev2.slice(-h));
  const p = Math.min(Math.max(evalHead, 0), 1);
  // standard error of a median of h points (≈ 1.2533 σ/√h) for each half
  const sigma = ev.n ? Math.sqrt(Math.max(p * (1 - p), 1e-4) / ev.n) : noiseSigma(vals);
  const se = 1.2533 * sigma * Math.sqrt(2 / h);
  const evalZ = se > 0 ? (evalTail - evalHead) / se : (evalTail < evalHead ? -Infinity : 0);
  const evalSlope = theilSen(es, ev2);
  if (!(evalZ <= -1 && evalSlope < 0)) return undefined;
  return { from, to, evals: m, rewardHead: rt.head, rewardTail: rt.tail, rewardZ: rt.z, rewardPoints: sub.values.length, evalHead, evalTail, evalZ, evalSlope };
}

export function checkRewardHacking(input: DoctorInput, th: Thresholds): Finding[] {
  const out: Finding[] = [];
  const rew = metricOrRollouts(input, 'reward', 'reward', (r) => (r.samples.length ? mean(r.samples.map((x) => x.reward)) : undefined));
  // (a) eval falls while train reward rises
  const ev = evalSeries(input);
  if (rew && ev) {
    const pts = { steps: ev.series.steps.filter((_, i) => Number.isFinite(ev.series.values[i])), values: finite(ev.series.values) };
    if (pts.values.length >= th.hacking.minEvals) {
      const sm = rollingMedian(pts.values, 3);
      let peak = 0;
      for (let i = 1; i < sm.length; i++) if (sm[i] > sm[peak]) peak = i;
      const lastV = sm[sm.length - 1];
      const drop = sm[peak] - lastV;
      const p = Math.min(Math.max(sm[peak], 0), 1);
      const se = ev.n ? Math.sqrt(Math.max(p * (1 - p), 1e-4) / ev.n) * Math.SQRT2 : 0;
      if (peak < sm.length - 1 && drop >= th.hacking.evalDrop && (se === 0 || drop >= th.hacking.evalDropZ * se)) {
        const fromStep = pts.steps[peak], toStep = pts.steps[pts.steps.length - 1];
        // the train reward must have RISEN since the eval peak: its recent median above its level at the peak step
        // (the median of the points just before the peak, or the first point after it when the run starts there)
        const after = { steps: rew.series.steps.filter((s) => s >= fromStep), values: rew.series.values.filter((_, i) => rew.series.steps[i] >= fromStep) };
        const w = Math.max(2, Math.floor(after.values.length / 3));
        const before = rew.series.values.filter((_, i) => rew.series.steps[i] <= fromStep).slice(-w);
        const atPeak = before.length ? median(before) : after.values[0];
        const recent = median(after.values.slice(-w));
        const t = after.values.length >= 4 ? headTail(after, w) : undefined;
        const rse = t ? 1.2533 * t.sigma * Math.sqrt(2 / w) : 0;
        const atEnd = recent;
        if (t && Number.isFinite(atPeak) && recent - atPeak > Math.max(2 * rse, 1e-9)) {
          out.push(finding('reward-hacking', 'eval', drop >= 2 * th.hacking.evalDrop ? 'error' : 'warning', 'Train reward up, eval down',
            `Training reward kept rising (${fmt(atPeak)} → ${fmt(atEnd)}) after step ${fromStep} while ${ev.name} fell from ${fmt(sm[peak])} to ${fmt(lastV)} `
            + `(drop ${fmt(drop)}; threshold ${fmt(th.hacking.evalDrop)}${se ? `, ${fmt(drop / se, 1)} standard errors` : ''}): the policy is optimizing the reward, not the task (Goodhart).`,
            [fromStep, toStep], { metrics: [rew.name, ev.name], steps: [fromStep, toStep], values: { evalPeak: sm[peak], evalNow: lastV, drop, rewardAtPeak: atPeak, rewardNow: atEnd } }, REMEDY));
        }
      }
    }
  }
  // (a') early warning, before the eval has fallen by hacking.evalDrop: over the span of the last minEvals + 2 evals the
  // training reward rose significantly (halves of the span, z > trendZ, by ≥ hacking.partDrop of its scale) while the eval did not rise at all: its later
  // half is below its earlier half by at least one standard error (binomial when the eval size is known, else the
  // eval's own noise from first differences) and its Theil–Sen slope is negative. Healthy runs move both together.
  if (rew && ev && !out.some((f) => f.id === 'reward-hacking/eval')) {
    const d = divergence(rew.series, ev, th);
    if (d) {
      out.push(finding('reward-hacking', 'divergence', 'warning', 'Train reward rising, eval not',
        `Over steps ${d.from}–${d.to} (the last ${d.evals} evals) the training reward rose ${fmt(d.rewardHead)} → ${fmt(d.rewardTail)} (${fmt(d.rewardZ, 1)} standard errors, halves of ${d.rewardPoints} points) `
        + `while ${ev.name} went ${fmt(d.evalHead)} → ${fmt(d.evalTail)} (${fmt(d.evalZ, 1)} standard errors; Theil–Sen slope ${fmt(d.evalSlope)} per step): `
        + `the reward and the held-out metric have stopped moving together, the usual first sign of reward hacking (the eval has not yet fallen by ${fmt(th.hacking.evalDrop)}).`,
        [d.from, d.to], { metrics: [rew.name, ev.name], steps: [d.from, d.to], values: { rewardHead: d.rewardHead, rewardTail: d.rewardTail, rewardZ: d.rewardZ, evalHead: d.evalHead, evalTail: d.evalTail, evalZ: d.evalZ, evalSlope: d.evalSlope, evals: d.evals } }, REMEDY));
    }
  }
  // (b) a reward part falls while the total rises
  if (rew && rew.series.values.length >= th.minSteps) {
    const w = win(th, rew.series.values.length);
    const tr = headTail(rew.series, w);
    if (tr.diff > 0 && tr.z > th.trendZ) {
      const parts: { name: string; part: string; series: Series }[] = [];
      for (const [name, s] of Object.entries(input.metrics)) {
        const mm = /^reward\/(.+)\/mean$/.exec(name);
        if (mm) parts.push({ name, part: mm[1], series: s });
      }
      if (!parts.length) {
        const names = new Set<string>();
        for (const r of input.rollouts) for (const x of r.samples) for (const k of Object.keys(x.parts ?? {})) names.add(k);
        for (const p of names) parts.push({ name: `rollouts:reward/${p}`, part: p, series: { steps: input.rollouts.map((r) => r.step), values: input.rollouts.map((r) => mean(r.samples.map((x) => x.parts?.[p] ?? NaN))) } });
      }
      if (parts.length >= 2) {
        for (const p of parts) {
          const a = align(rew.series, p.series);
          if (a.steps.length < th.minSteps) continue;
          const ww = win(th, a.steps.length);
          let tp = headTail({ steps: a.steps, values: a.b }, ww);
          const roll = rollingMedian(a.b, ww);
          const range = Math.max(...roll) - Math.min(...roll);
          const scale = Math.max(range, Math.abs(tp.head), 1e-9);
          let fromPeak: number | undefined;
          if (!(tp.diff < 0 && tp.z < -th.hacking.partZ)) {
            // a part that first rises with the reward and then falls while the reward keeps rising (a real LM learns the
            // task, then games it: stories-hackable's honest score) is compared from its peak window, not from the start,
            // when the reward rose over that same span too
            const peakEnd = roll.indexOf(Math.max(...roll)); // the rolling window ending here is the part's best
            const from = Math.max(0, peakEnd - ww + 1);
            if (a.steps.length - from >= 2 * ww) {
              const part = headTail({ steps: a.steps.slice(from), values: a.b.slice(from) }, ww);
              const rewardSince = headTail({ steps: a.steps.slice(from), values: a.a.slice(from) }, ww);
              if (part.diff < 0 && part.z < -th.hacking.partZ && rewardSince.diff > 0 && rewardSince.z > th.trendZ) { tp = part; fromPeak = a.steps[peakEnd]; }
            }
          }
          if (tp.diff < 0 && tp.z < -th.hacking.partZ && -tp.diff >= th.hacking.partDrop * scale) {
            out.push(finding('reward-hacking', `part:${p.part}`, 'warning', `Reward part "${p.part}" falls while the reward rises`,
              p.part === 'hidden_score'
                // RL Lens logs the built-in tasks' hidden true score next to a learned reward (not part of the total)
                ? `The reward rose (${fmt(tr.head)} → ${fmt(tr.tail)}) but the hidden true score it stands for fell (${fmt(tp.head)} → ${fmt(tp.tail)}): the policy is exploiting the reward model's errors (over-optimisation, Goodhart).`
                : `The total reward rose (${fmt(tr.head)} → ${fmt(tr.tail)}) but its "${p.part}" part fell (${fmt(tp.head)} → ${fmt(tp.tail)}${fromPeak !== undefined ? `, from its peak around step ${fromPeak}` : ''}): the policy trades this part for the others.`,
              [a.steps[0], a.steps[a.steps.length - 1]], { metrics: [rew.name, p.name], values: { partHead: tp.head, partTail: tp.tail, rewardHead: tr.head, rewardTail: tr.tail } },
              `If "${p.part}" is what you actually want (e.g. accuracy), re-weight the parts or gate the others on it; ` + REMEDY));
          }
        }
      }
    }
  }
  // (c) reward-model gap over the reference grows while KL is high
  const withRef = input.rollouts.filter((r) => r.samples.some((x) => x.refReward !== undefined));
  const kl = pick(input.metrics, 'kl');
  if (withRef.length >= th.minSteps && kl) {
    const gap = { steps: withRef.map((r) => r.step), values: withRef.map((r) => mean(r.samples.map((x) => (x.refReward !== undefined ? x.reward - x.refReward : NaN)))) };
    const w = win(th, gap.values.length);
    const t = headTail(gap, w);
    const klRecent = median(finite(kl.series.values).slice(-w));
    if (t.diff > 0 && t.z > th.trendZ && klRecent > th.kl.warn) {
      out.push(finding('reward-hacking', 'ref-gap', 'info', 'Reward gap over the reference grows at high KL',
        `The reward model prefers the policy over the reference more and more (gap ${fmt(t.head)} → ${fmt(t.tail)}) while KL is ${fmt(klRecent)}: `
        + 'past a point reward-model scores keep rising while true quality falls (over-optimization). Check samples by hand.',
        [gap.steps[0], gap.steps[gap.steps.length - 1]], { metrics: ['rollouts:ref_gap', kl.name], values: { gapHead: t.head, gapTail: t.tail, kl: klRecent } }, REMEDY));
    }
  }
  // (d) an emergent phrase that the reward pays for
  out.push(...checkPhrases(input, th));
  return out;
}

const NGRAM = [4, 8];
const MAX_SAMPLES = 512;

function grams(text: string): Set<string> {
  const t = text.slice(0, SUMMARY_TEXT_CHARS);
  const g = new Set<string>();
  for (const n of NGRAM) for (let i = 0; i + n <= t.length; i++) g.add(t.slice(i, i + n));
  return g;
}

/** (d) Phrases present in most recent samples, absent at the start, whose presence raises reward (not backed by accuracy). */
export function checkPhrases(input: DoctorInput, th: Thresholds): Finding[] {
  const rs = input.rollouts.filter((r) => r.samples.length);
  if (rs.length < 4) return [];
  const k = Math.max(1, Math.min(3, Math.floor(rs.length / 4)));
  const base = rs.slice(0, k).flatMap((r) => r.samples).slice(0, MAX_SAMPLES);
  const recentSteps = rs.slice(-k);
  const recent = recentSteps.flatMap((r) => r.samples).slice(-MAX_SAMPLES);
  if (recent.length < 8 || base.length < 8) return [];
  const rg = recent.map((s) => grams(s.text));
  const count = new Map<string, number>();
  for (const g of rg) for (const x of g) count.set(x, (count.get(x) ?? 0) + 1);
  const bg = base.map((s) => grams(s.text));
  const sd = std(recent.map((s) => s.reward));
  if (!(sd > 0)) return [];
  const cands: { phrase: string; share: number; baseShare: number; lift: number; accLift: number }[] = [];
  for (const [phrase, c] of count) {
    const share = c / recent.length;
    if (share < th.hacking.phraseShare || recent.length - c < 3) continue;
    const baseShare = bg.filter((g) => g.has(phrase)).length / base.length;
    if (baseShare > th.hacking.phraseBaseShare) continue;
    const withP = recent.filter((_, i) => rg[i].has(phrase)), without = recent.filter((_, i) => !rg[i].has(phrase));
    const lift = (mean(withP.map((s) => s.reward)) - mean(without.map((s) => s.reward))) / sd;
    if (lift < th.hacking.phraseLift) continue;
    const accKey = Object.keys(recent[0].parts ?? {}).find((x) => /^(accuracy|acc|correct|correctness)$/i.test(x));
    let accLift = NaN;
    if (accKey) {
      const asd = std(recent.map((s) => s.parts?.[accKey] ?? NaN));
      accLift = asd > 0 ? (mean(withP.map((s) => s.parts?.[accKey] ?? NaN)) - mean(without.map((s) => s.parts?.[accKey] ?? NaN))) / asd : 0;
      if (accLift >= lift * 0.8) continue; // the phrase comes with correct answers: not an exploit
    }
    cands.push({ phrase, share, baseShare, lift, accLift });
  }
  if (!cands.length) return [];
  // keep the longest phrases (drop a candidate contained in a longer one)
  cands.sort((a, b) => b.phrase.length - a.phrase.length || b.lift - a.lift);
  const kept: typeof cands = [];
  for (const c of cands) if (!kept.some((x) => x.phrase.includes(c.phrase))) kept.push(c);
  const top = kept.sort((a, b) => b.lift - a.lift).slice(0, 3);
  const last = recentSteps[recentSteps.length - 1];
  const best = top[0];
  return [finding('reward-hacking', 'phrase', 'info', 'Reward concentrated on an emergent phrase',
    `The phrase ${JSON.stringify(best.phrase)} now appears in ${pct(best.share)} of samples (was ${pct(best.baseShare)} at the start) and samples containing it score ${fmt(best.lift, 2)} reward-std higher`
    + (Number.isFinite(best.accLift) ? `, but only ${fmt(best.accLift, 2)} std higher in accuracy` : '')
    + '. If the reward (e.g. a format part) asks for this phrase, this is expected; otherwise the policy may be gaming the reward with it.',
    [recentSteps[0].step, last.step],
    {
      steps: recentSteps.map((r) => r.step), values: { share: best.share, baseShare: best.baseShare, lift: best.lift },
      samples: last.samples.filter((s) => s.text.includes(best.phrase)).slice(0, 8).map((s) => ({ step: last.step, sample: s.index })),
    },
    `Read the samples containing ${JSON.stringify(best.phrase)}; if it is an exploit, penalize it or make the reward check the answer rather than the surface form (survey: 奖励黑客).`)];
}
