/** Summaries of one rollout step for the doctor (pure: the caller supplies the per-token arrays). */
import type { RolloutSample, RolloutStepHeader } from '../shared/runFormat';
import { CLIP_CODE } from '../shared/runFormat';
import type { RolloutSummary, SampleSummary, GroupSummary, TokenSummary } from './types';
import { DEFAULT_THRESHOLDS } from './thresholds';

/** characters of a completion compared when counting a group's distinct completions */
const MAX_TEXT = 4000;
/** characters of a completion a summary keeps: the window the phrase check (checks/hacking.ts) reads. A summary is
 *  held for every step of a run (a verl step has 1,024 samples), so it keeps no more text than a check uses. */
export const SUMMARY_TEXT_CHARS = 300;

/** A string that shares no memory with the one it came from (Buffer round trip; V8 has no public flatten). */
function ownString(s: string): string { return s.length < 13 ? s : Buffer.from(s, 'utf8').toString('utf8'); }

/** `o` without its keys holding undefined: a summary is the same data whether computed or read back from its JSON
 *  sidecar (doctor/stepSummaryFile.ts), which keeps no undefined. */
function defined<T extends object>(o: T): T {
  for (const k of Object.keys(o) as (keyof T)[]) if (o[k] === undefined) delete o[k];
  return o;
}

function num(x: unknown): number | undefined {
  return typeof x === 'number' && Number.isFinite(x) ? x : undefined;
}

/**
 * @param arraysOf per-token arrays of sample i (may return {} when the step has none)
 * @param ratioBound ratio outlier bound r (tokens outside [1/r, r])
 */
export function summarizeRolloutStep(header: RolloutStepHeader, samples: RolloutSample[],
  arraysOf: (s: RolloutSample) => Record<string, ArrayLike<number>>, ratioBound = DEFAULT_THRESHOLDS.clip.ratioOutlier): RolloutSummary {
  const g = summarizeRolloutStepSliced(header, samples, arraysOf, ratioBound);
  for (;;) { const r = g.next(); if (r.done) return r.value; }
}

/** summarizeRolloutStep in slices: a yield every `every` samples of the per-token pass (a verl step holds ~4M tokens),
 *  so a caller can give the event loop a turn; the same summary. */
export function* summarizeRolloutStepSliced(header: RolloutStepHeader, samples: RolloutSample[],
  arraysOf: (s: RolloutSample) => Record<string, ArrayLike<number>>, ratioBound = DEFAULT_THRESHOLDS.clip.ratioOutlier, every = 32): Generator<void, RolloutSummary> {
  // whole texts (up to MAX_TEXT) only while the groups' distinct counts are taken; the summary keeps the phrase window
  const texts = samples.map((s) => String(s.completion ?? '').slice(0, MAX_TEXT));
  const ss: SampleSummary[] = samples.map((s, i) => {
    const parts: Record<string, number> = {};
    for (const [k, v] of Object.entries(s.rewardParts ?? {})) if (num(v) !== undefined) parts[k] = v;
    const ref = num((s as Record<string, unknown>).ref_reward) ?? num((s as Record<string, unknown>).refReward);
    return defined({
      index: typeof s.index === 'number' ? s.index : i,
      group: String(s.group ?? ''),
      reward: num(s.reward) ?? NaN,
      length: num(s.length) ?? (Array.isArray(s.tokens) ? s.tokens.length : 0),
      truncated: typeof s.truncated === 'boolean' ? s.truncated : undefined,
      parts: Object.keys(parts).length ? parts : undefined,
      // a copy, not a slice: V8 keeps a sliced string's parent (the whole completion) alive with it
      text: ownString(texts[i].slice(0, SUMMARY_TEXT_CHARS)),
      refReward: ref,
    });
  });
  const byIndex = new Map<number, number>();
  ss.forEach((s, i) => byIndex.set(s.index, i));
  // groups: from the header when present (indices are sample indices), else grouped by the samples' group field
  let groups: GroupSummary[];
  const hdrGroups = Array.isArray(header.groups) ? header.groups : [];
  if (hdrGroups.length) {
    groups = hdrGroups.map((g) => {
      const idx = (Array.isArray(g.samples) ? g.samples : []).map((k) => byIndex.get(k)).filter((k): k is number => k !== undefined);
      const members = idx.length ? idx : ss.map((s, i) => (s.group === String(g.id) ? i : -1)).filter((i) => i >= 0);
      const rewards = members.length ? members.map((i) => ss[i].reward) : (Array.isArray(g.rewards) ? g.rewards.map(Number) : []);
      return defined({
        id: String(g.id), samples: members, rewards, filtered: g.filtered === true ? true : undefined,
        filterReason: typeof g.filterReason === 'string' ? g.filterReason : undefined,
        distinct: new Set(members.map((i) => texts[i])).size,
      });
    });
  } else {
    const m = new Map<string, number[]>();
    ss.forEach((s, i) => { const a = m.get(s.group) ?? []; a.push(i); m.set(s.group, a); });
    groups = [...m.entries()].map(([id, members]) => ({ id, samples: members, rewards: members.map((i) => ss[i].reward), distinct: new Set(members.map((i) => texts[i])).size }));
  }
  const tokens = yield* tokenSummary(header, samples, arraysOf, ratioBound, every);
  return defined({ step: header.step, groups, samples: ss, tokens, params: header.params });
}

function* tokenSummary(header: RolloutStepHeader, samples: RolloutSample[], arraysOf: (s: RolloutSample) => Record<string, ArrayLike<number>>, ratioBound: number, every: number): Generator<void, TokenSummary | undefined> {
  const names = new Set(header.arrays ?? []);
  if (!names.has('entropy') && !names.has('clip') && !names.has('ratio')) return undefined;
  const ent: number[] = [];
  const posSum: number[] = [], posCnt: number[] = [];
  const sampleEnt: { sample: number; value: number }[] = [];
  const sampleRatio: { sample: number; value: number }[] = [];
  let tokens = 0, clipN = 0, low = 0, high = 0, dual = 0, ratioN = 0, outl = 0, rmax = -Infinity, rmin = Infinity;
  for (let i = 0; i < samples.length; i++) {
    if (i > 0 && i % every === 0) yield;
    const s = samples[i];
    const a = arraysOf(s);
    const L = num(s.length) ?? 0;
    const mask = a.mask;
    let se = 0, sn = 0, worst = 0;
    for (let t = 0; t < L; t++) {
      if (mask && mask[t] === 0) continue;
      tokens++;
      const e = a.entropy?.[t];
      if (e !== undefined && Number.isFinite(e)) {
        ent.push(e); se += e; sn++;
        posSum[t] = (posSum[t] ?? 0) + e; posCnt[t] = (posCnt[t] ?? 0) + 1;
      }
      const c = a.clip?.[t];
      if (c !== undefined && Number.isFinite(c)) {
        clipN++;
        if (c === CLIP_CODE.low) low++; else if (c === CLIP_CODE.high) high++; else if (c === CLIP_CODE.dual) dual++;
      }
      const r = a.ratio?.[t];
      if (r !== undefined && Number.isFinite(r) && r > 0) {
        ratioN++;
        rmax = Math.max(rmax, r); rmin = Math.min(rmin, r);
        if (r > ratioBound || r < 1 / ratioBound) outl++;
        worst = Math.max(worst, Math.abs(Math.log(r)));
      }
    }
    const idx = typeof s.index === 'number' ? s.index : i;
    if (sn) sampleEnt.push({ sample: idx, value: se / sn });
    if (worst > 0) sampleRatio.push({ sample: idx, value: worst });
  }
  const out: TokenSummary = { tokens };
  if (ent.length) {
    const total = ent.reduce((p, q) => p + q, 0);
    out.entropyMean = total / ent.length;
    // a typed-array sort (ascending, no comparator calls: a verl step has ~4M tokens), summed from the largest down
    // (the same order, so the same sum, as sorting descending)
    const sorted = Float64Array.from(ent).sort();
    const k = Math.max(1, Math.ceil(sorted.length * 0.1));
    let top = 0;
    for (let i = 0; i < k; i++) top += sorted[sorted.length - 1 - i];
    out.entropyTopShare = total > 0 ? top / total : undefined;
    out.entropyTopPositions = posSum.map((v, t) => ({ position: t, mean: v / posCnt[t], n: posCnt[t] }))
      .filter((p) => p && p.n >= 3).sort((p, q) => q.mean - p.mean).slice(0, 5).map(({ position, mean }) => ({ position, mean }));
    out.lowEntropySamples = sampleEnt.sort((p, q) => p.value - q.value).slice(0, 8);
  }
  if (clipN) { out.clipLowFrac = low / clipN; out.clipHighFrac = high / clipN; out.clipDualFrac = dual / clipN; }
  if (ratioN) {
    out.ratioMax = rmax; out.ratioMin = rmin; out.ratioOutlierFrac = outl / ratioN; out.ratioOutlierBound = ratioBound;
    out.ratioWorstSamples = sampleRatio.sort((p, q) => q.value - p.value).slice(0, 8);
  }
  return defined(out);
}
