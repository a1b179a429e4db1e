/**
 * Mode collapse: the share of distinct completions per group falling (the policy repeats one answer), and pass@k
 * collapsing toward pass@1 (RL "sharpening" what the model already does, at the cost of coverage).
 * Survey: "模式崩塌: 温度扰动 + Diversity Bonus 保多样"; the pass@k controversy (base models catch up at large k);
 * EEPO / clip-higher keep exploration alive.
 */
import type { DoctorInput, Finding } from '../types';
import type { Thresholds } from '../thresholds';
import { mean, median } from '../stats';
import { finding, fmt, pct, win } from './common';

const ACC = /^(accuracy|acc|correct|correctness)$/i;

/**
 * Mean share of distinct completions per group, over groups that are not all-correct (so a model that answers a short
 * question correctly every time is not called collapsed). All-correct: every sample's accuracy part ≥ 0.5 when logged,
 * else every reward closer to the run's best reward `hi` than to its worst `lo`. undefined if fewer than 3 groups count.
 */
export function distinctShare(r: DoctorInput['rollouts'][number], lo: number, hi: number): number | undefined {
  const xs: number[] = [];
  for (const g of r.groups) {
    if (g.rewards.length < 2) continue;
    const acc = g.samples.map((i) => {
      const p = r.samples[i]?.parts;
      const k = p && Object.keys(p).find((x) => ACC.test(x));
      return k ? p![k] : undefined;
    });
    const allCorrect = acc.length && acc.every((a) => a !== undefined) ? acc.every((a) => a! >= 0.5) : g.rewards.every((x) => x > (hi + lo) / 2);
    if (allCorrect) continue;
    xs.push(g.distinct / g.rewards.length);
  }
  return xs.length >= 3 ? mean(xs) : undefined;
}

export function checkModeCollapse(input: DoctorInput, th: Thresholds): Finding[] {
  const out: Finding[] = [];
  let lo = Infinity, hi = -Infinity;
  for (const r of input.rollouts) for (const g of r.groups) for (const x of g.rewards) if (Number.isFinite(x)) { lo = Math.min(lo, x); hi = Math.max(hi, x); }
  const pts = input.rollouts.map((r) => ({ step: r.step, v: distinctShare(r, lo, hi) })).filter((p) => p.v !== undefined) as { step: number; v: number }[];
  if (pts.length >= 4) {
    const w = Math.max(1, Math.min(Math.floor(pts.length / 2), win(th, pts.length)));
    const head = median(pts.slice(0, w).map((p) => p.v)), tail = median(pts.slice(-w).map((p) => p.v));
    if (head >= th.mode.distinctFrom && tail < th.mode.distinctWarn) {
      const last = input.rollouts[input.rollouts.length - 1];
      const worst = last.groups.filter((g) => g.rewards.length >= 2).sort((a, b) => a.distinct / a.rewards.length - b.distinct / b.rewards.length).slice(0, 8);
      out.push(finding('mode-collapse', 'distinct', 'warning', 'Mode collapse: groups repeat one completion',
        `The share of distinct completions per group fell from ${pct(head)} to ${pct(tail)} (threshold ${pct(th.mode.distinctWarn)}; groups already all-correct are not counted): `
        + 'the G samples of a prompt are mostly the same text, so they carry no contrast for a group baseline.',
        [pts[0].step, pts[pts.length - 1].step],
        { metrics: ['rollouts:distinct'], groups: worst.map((g) => ({ step: last.step, group: g.id })), values: { initial: head, recent: tail } },
        'Raise the sampling temperature (0.8–1.0) or add a diversity bonus (survey: 温度扰动 + Diversity Bonus); raise ε_high (clip-higher) or the entropy bonus; keep β > 0.'));
    }
  }
  // pass@k collapsing toward pass@1
  const evs = input.evals.filter((e) => Number.isFinite(e.passAtK?.['1']));
  const ks = new Set<number>();
  for (const e of evs) for (const k of Object.keys(e.passAtK)) if (Number(k) > 1 && Number.isFinite(e.passAtK[k])) ks.add(Number(k));
  if (evs.length >= 4 && ks.size) {
    const k = Math.max(...ks);
    const rows = evs.filter((e) => Number.isFinite(e.passAtK[String(k)]));
    if (rows.length >= 4) {
      const w = Math.min(2, Math.floor(rows.length / 2));
      const gap = rows.map((e) => e.passAtK[String(k)] - e.passAtK['1']);
      const g0 = median(gap.slice(0, w)), g1 = median(gap.slice(-w));
      const pk0 = median(rows.slice(0, w).map((e) => e.passAtK[String(k)])), pk1 = median(rows.slice(-w).map((e) => e.passAtK[String(k)]));
      if (g0 >= th.mode.passGapMin && g1 <= th.mode.passGapRatio * g0 && pk1 < pk0 - 0.02 && input.algorithm === 'tfgrpo') {
        // Training-Free GRPO: the weights are frozen, so the drop is the experience library's (prompt), not RL's
        const b1 = rows[rows.length - 1].baseline?.passAtK[String(k)];
        out.push(finding('mode-collapse', 'pass-at-k', 'warning', `pass@${k} fell with the experience library`,
          `pass@${k} fell ${fmt(pk0)} → ${fmt(pk1)} (gap to pass@1 ${fmt(g0)} → ${fmt(g1)}) with the model's weights frozen (Training-Free GRPO): the drop comes from the experience library in the prompt`
          + (b1 !== undefined && Number.isFinite(b1) ? `; the same model without the library scores pass@${k} ${fmt(b1)} at the last eval.` : '.'),
          [rows[0].step, rows[rows.length - 1].step],
          { metrics: ['eval:pass@1', `eval:pass@${k}`], steps: rows.map((e) => e.step), values: { gapInitial: g0, gapRecent: g1, passKInitial: pk0, passKRecent: pk1, k, ...(b1 !== undefined ? { passKWithoutLibrary: b1 } : {}) } },
          'Read the library (experiences.jsonl, the group view) and the operations that added the entries before the drop; let the extractor delete entries that lower rewards, bound the library (tfgrpo.maxExperiences / maxLibraryTokens), or use a model that reads its context (a pretrained model with an LLM extractor). Clip-higher, temperature or KL do not apply: nothing is trained.'));
      } else if (g0 >= th.mode.passGapMin && g1 <= th.mode.passGapRatio * g0 && pk1 < pk0 - 0.02) {
        out.push(finding('mode-collapse', 'pass-at-k', 'warning', `pass@${k} collapsing toward pass@1`,
          `The gap pass@${k} − pass@1 shrank from ${fmt(g0)} to ${fmt(g1)} and pass@${k} itself fell (${fmt(pk0)} → ${fmt(pk1)}): `
          + 'RL is sharpening the most likely answer while losing the others (the survey\'s pass@k controversy).',
          [rows[0].step, rows[rows.length - 1].step],
          { metrics: ['eval:pass@1', `eval:pass@${k}`], steps: rows.map((e) => e.step), values: { gapInitial: g0, gapRecent: g1, passKInitial: pk0, passKRecent: pk1, k } },
          'Keep exploration: raise ε_high (clip-higher), the temperature or an entropy bonus; keep a KL term to the reference; stop at the checkpoint with the best pass@k if coverage matters.'));
      }
    }
  }
  return out;
}
