/**
 * Access to one rollout step's per-token data, derived metrics, per-sample statistics, sorting, filtering,
 * search and group alignment. Pure (no DOM); used by the webviews and unit tests.
 */
import { groupMeanStd } from '../../shared/groupStats';
import type { RolloutGroup, RolloutStepHeader } from '../../shared/runFormat';
import type { FilterSpec, SortKey, SortSpec } from '../../shared/protocol';
import { arraysWithData, sampleArray, type RolloutStep } from '../../shared/rolloutStep';
import { inRange, isCorrect } from './sampleFilter';

/** The step the views draw: the stored shape itself (src/shared/rolloutStep.ts), no copy of the block. */
export type StepData = RolloutStep;
export { sampleArray };

export interface MetricDef {
  id: string;
  label: string;
  /** signed metrics get a diverging scale centred on 0 */
  signed: boolean;
  /** categorical (clip codes) */
  categorical?: boolean;
  /** stored array name, or the names a derived metric needs */
  needs: string[];
  description: string;
}

export const METRICS: MetricDef[] = [
  { id: 'advantage', label: 'Advantage', signed: true, needs: ['advantage'], description: 'A_t used in the policy loss (after whitening / group normalisation)' },
  { id: 'sequence_reward', label: 'Reward (per sample, broadcast)', signed: true, needs: ['sequence_reward'], description: "the sample's reward shown on every token (the source had no per-token data)" },
  { id: 'token_reward', label: 'Token reward', signed: true, needs: ['token_reward'], description: 'r_t: score at the last token − β·KL per token (PPO)' },
  { id: 'kl', label: 'KL', signed: true, needs: ['kl'], description: 'per-token KL estimate to the reference policy' },
  { id: 'ratio', label: 'Ratio π/π_old', signed: false, needs: ['ratio'], description: 'importance ratio exp(logπ − logπ_old)' },
  { id: 'clip', label: 'Clip flag', signed: false, categorical: true, needs: ['clip'], description: '0 none, 1 low (ratio < 1−ε, A<0), 2 high (ratio > 1+ε, A>0), 3 dual clip' },
  { id: 'entropy', label: 'Entropy', signed: false, needs: ['entropy'], description: 'policy entropy at the token (nats)' },
  { id: 'value', label: 'Value V_t', signed: true, needs: ['value'], description: 'critic value (PPO)' },
  { id: 'return', label: 'Return', signed: true, needs: ['return'], description: 'GAE return A_t + V_t (before whitening)' },
  { id: 'logprob', label: 'Log-prob', signed: false, needs: ['logprob'], description: 'log π(token)' },
  { id: 'ref_logprob', label: 'Ref log-prob', signed: false, needs: ['ref_logprob'], description: 'log π_ref(token)' },
  { id: 'logprob_minus_ref', label: 'Log-prob − ref', signed: true, needs: ['logprob', 'ref_logprob'], description: 'log π − log π_ref (k1 KL term)' },
  { id: 'implicit_reward', label: 'Implicit reward', signed: true, needs: ['implicit_reward'], description: 'β·(log π − log π_ref) per token (DPO family)' },
  { id: 'step_reward', label: 'Step reward', signed: false, needs: ['step_reward'], description: 'process reward model: the score σ(z) of each reasoning step, on the step\'s last token (blank elsewhere)' },
  { id: 'step_boundary', label: 'Step boundaries', signed: false, needs: ['step_boundary'], description: '1 on the last token of each reasoning step (its delimiter, or EOS)' },
  { id: 'seq_kl', label: 'Sequential KL (TDPO)', signed: false, needs: ['seq_kl'], description: 'KL(π_ref(·|prefix) ‖ π_θ(·|prefix)) at each token: the terms of TDPO\'s D_SeqKL' },
  { id: 'eepo_forget', label: 'EEPO forget loss', signed: false, needs: ['eepo_forget'], description: 'EEPO: −log(1 − π(token)) of the first-stage samples, what the temporary unlearning step minimised (0 for the second stage)' },
];

/** Stored arrays that are inputs of other metrics, never offered on their own. */
// loss_mask (multi-turn episodes: 0 on environment tokens) is drawn through `mask`: the heatmap dims those cells
const NOT_SHOWN = new Set(['mask', 'old_logprob', 'loss_mask']);

/**
 * A per-token array RL Lens has no definition for (an importer kept a trainer's own per-token field, or a newer
 * trainer wrote one): offered under its stored name, drawn as stored on a diverging scale (its sign is unknown).
 */
export function otherMetric(name: string): MetricDef {
  return { id: name, label: name, signed: true, needs: [name], description: `per-token array "${name}" as the run stored it (RL Lens has no description of it)` };
}

/** The definition of a metric id: a known metric, else a stored array of that name (otherMetric); '' → the first known. */
export function metricDef(id: string): MetricDef {
  return METRICS.find((m) => m.id === id) ?? (id && !NOT_SHOWN.has(id) ? otherMetric(id) : METRICS[0]);
}

/** Metrics this step can show: every array they need is stored and holds data (a blank array is never offered). */
export function availableMetrics(step: StepData): MetricDef[] {
  return metricsFor(arraysWithData(step));
}

/** Metrics whose arrays are all among `withData` (the stored arrays holding data: arraysWithData, or a step overview's). */
export function metricsFor(withData: readonly string[]): MetricDef[] {
  const have = new Set(withData);
  const known = METRICS.filter((m) => m.needs.every((n) => have.has(n)));
  const covered = new Set([...METRICS.flatMap((m) => m.needs), ...NOT_SHOWN]);
  return [...known, ...withData.filter((n) => !covered.has(n)).map(otherMetric)];
}

/** Values of a metric (stored or derived) for one sample; NaN where absent. */
export function metricValues(step: StepData, i: number, metricId: string): Float32Array {
  const s = step.samples[i];
  const n = s ? s.length : 0;
  if (metricId === 'logprob_minus_ref') {
    const a = sampleArray(step, i, 'logprob'), b = sampleArray(step, i, 'ref_logprob');
    const out = new Float32Array(n).fill(NaN);
    if (a && b) for (let t = 0; t < n; t++) out[t] = a[t] - b[t];
    return out;
  }
  return sampleArray(step, i, metricId) ?? new Float32Array(n).fill(NaN);
}

/** Valid-token mask of a sample (stored `mask`, else all ones). */
export function sampleMask(step: StepData, i: number): Float32Array {
  const m = sampleArray(step, i, 'mask');
  if (m) return m;
  return new Float32Array(step.samples[i]?.length ?? 0).fill(1);
}

/** Finite, unmasked values of a metric over the given samples (input to robustDomain). */
export function* metricValuesOver(step: StepData, rows: number[], metricId: string): Generator<number> {
  for (const i of rows) {
    const v = metricValues(step, i, metricId), m = sampleMask(step, i);
    for (let t = 0; t < v.length; t++) if (m[t] > 0 && Number.isFinite(v[t])) yield v[t];
  }
}

export interface SampleStats {
  index: number;
  group: string;
  reward: number;
  /** sequence advantage if stored, else mean token advantage over the mask */
  advantage: number;
  /** mean per-token KL over the mask */
  kl: number;
  length: number;
  /** tokens with a clip code ≠ 0 */
  clips: number;
  clipLow: number;
  clipHigh: number;
  clipDual: number;
  filtered: boolean;
  /** ended without EOS at the length limit */
  truncated: boolean;
  /** accuracy / correct reward part > 0, else reward > 0 (sampleFilter.ts isCorrect) */
  correct: boolean;
  /** named reward parts (empty when none) */
  parts: Record<string, number>;
  prompt: string;
  completion: string;
}

function maskedMean(v: Float32Array | undefined, m: Float32Array): number {
  if (!v) return NaN;
  let s = 0, c = 0;
  for (let t = 0; t < v.length; t++) if (m[t] > 0 && Number.isFinite(v[t])) { s += v[t]; c++; }
  return c ? s / c : NaN;
}

export function groupById(header: RolloutStepHeader): Map<string, RolloutGroup> {
  return new Map(header.groups.map((g) => [g.id, g]));
}

/** The per-token numbers of a sample's statistics (what needs its arrays): the host computes them once per step for a
 *  step overview (src/host/ui/panels/stepSource.ts), the page for a whole step; sampleStatsFrom adds the rest. */
export interface SampleNumbers {
  /** mean token advantage over the mask (NaN when not stored) */
  advantage: number;
  kl: number;
  clipLow: number;
  clipHigh: number;
  clipDual: number;
}

/** SampleNumbers of sample i (its arrays may be a one-sample step: the same arithmetic). */
export function sampleNumbers(step: StepData, i: number): SampleNumbers {
  const m = sampleMask(step, i);
  const clip = sampleArray(step, i, 'clip');
  let lo = 0, hi = 0, du = 0;
  if (clip) for (let t = 0; t < clip.length; t++) { if (m[t] <= 0) continue; const c = clip[t]; if (c === 1) lo++; else if (c === 2) hi++; else if (c === 3) du++; }
  return { advantage: maskedMean(sampleArray(step, i, 'advantage'), m), kl: maskedMean(sampleArray(step, i, 'kl'), m), clipLow: lo, clipHigh: hi, clipDual: du };
}

/** Per-sample statistics from the samples' records and their SampleNumbers (same order). */
export function sampleStatsFrom(header: RolloutStepHeader, samples: StepData['samples'], numbers: readonly SampleNumbers[]): SampleStats[] {
  const groups = groupById(header);
  return samples.map((s, i) => {
    const n = numbers[i] ?? { advantage: NaN, kl: NaN, clipLow: 0, clipHigh: 0, clipDual: 0 };
    return {
      index: i, group: s.group, reward: s.reward,
      advantage: typeof s.advantage === 'number' ? s.advantage : n.advantage,
      kl: n.kl,
      length: s.length, clips: n.clipLow + n.clipHigh + n.clipDual, clipLow: n.clipLow, clipHigh: n.clipHigh, clipDual: n.clipDual,
      filtered: !!groups.get(s.group)?.filtered,
      truncated: !!s.truncated, correct: isCorrect(s), parts: { ...(s.rewardParts ?? {}) }, prompt: s.prompt ?? '', completion: s.completion ?? '',
    };
  });
}

export function sampleStats(step: StepData): SampleStats[] {
  return sampleStatsFrom(step.header, step.samples, step.samples.map((_, i) => sampleNumbers(step, i)));
}

/** Does a sample pass every filter of `filter`? (A range / part filter never matches a missing or NaN value.) */
export function sampleMatches(s: SampleStats, filter: FilterSpec): boolean {
  if (filter.groups === 'filtered' && !s.filtered) return false;
  if (filter.groups === 'kept' && s.filtered) return false;
  if (filter.minReward !== undefined && !(s.reward >= filter.minReward)) return false;
  if (filter.maxReward !== undefined && !(s.reward <= filter.maxReward)) return false;
  if (filter.reward && !inRange(s.reward, filter.reward)) return false;
  if (filter.correct !== undefined && s.correct !== filter.correct) return false;
  if (filter.advantage === 'pos' && !(s.advantage > 0)) return false;
  if (filter.advantage === 'neg' && !(s.advantage < 0)) return false;
  if (filter.advantage === 'zero' && s.advantage !== 0) return false;
  if (filter.length && !inRange(s.length, filter.length)) return false;
  if (filter.truncated !== undefined && s.truncated !== filter.truncated) return false;
  if (filter.text) {
    const q = filter.text.toLowerCase();
    if (!s.prompt.toLowerCase().includes(q) && !s.completion.toLowerCase().includes(q)) return false;
  }
  if (filter.part && !inRange(s.parts[filter.part.name], filter.part.range)) return false;
  return true;
}

/** The value a sort key reads (NaN when the sample lacks it, e.g. a reward part it does not have). */
export function sortValue(s: SampleStats, key: SortKey): number | string {
  if (key === 'index') return s.index;
  if (key === 'truncated') return s.truncated ? 1 : 0;
  if (key === 'prompt') return s.prompt;
  if (key.startsWith('part:')) return s.parts[key.slice(5)] ?? NaN;
  return s[key as 'reward' | 'advantage' | 'kl' | 'length' | 'clips'];
}

/** Rows to show: filter, then stable sort (NaN last, ties by index). */
export function sortAndFilter(stats: SampleStats[], sort: SortSpec, filter: FilterSpec): number[] {
  const rows = stats.filter((s) => sampleMatches(s, filter));
  const key = sort.key;
  const dir = sort.descending ? -1 : 1;
  rows.sort((a, b) => {
    const x = sortValue(a, key), y = sortValue(b, key);
    const xn = typeof x === 'number' && Number.isNaN(x), yn = typeof y === 'number' && Number.isNaN(y);
    if (xn || yn) return xn && yn ? a.index - b.index : xn ? 1 : -1;
    return x === y ? a.index - b.index : (x < y ? -dir : dir);
  });
  return rows.map((s) => s.index);
}

export interface TokenHit { sample: number; token: number }

/**
 * Token text search: matches `query` (case-insensitive) against the concatenated token text of each row so a
 * match may span tokens; returns every token a match covers, in row order.
 */
export function searchTokens(step: StepData, rows: number[], query: string): TokenHit[] {
  if (!query) return [];
  const q = query.toLowerCase();
  const hits: TokenHit[] = [];
  for (const i of rows) {
    const toks = step.samples[i].tokens;
    const starts: number[] = [];
    let text = '';
    for (const t of toks) { starts.push(text.length); text += t.toLowerCase(); }
    const covered = new Set<number>();
    for (let at = text.indexOf(q); at >= 0; at = text.indexOf(q, at + 1)) {
      for (let k = 0; k < toks.length; k++) {
        const a = starts[k], b = a + toks[k].length;
        if (b > at && a < at + q.length) covered.add(k);
      }
    }
    [...covered].sort((a, b) => a - b).forEach((k) => hits.push({ sample: i, token: k }));
  }
  return hits;
}

export interface GroupSummary {
  id: string;
  prompt: string;
  answer?: string;
  /** GHPO: the hint appended to the prompt (the beginning of the answer) and its ratio ω, when the group got one */
  hint?: { text: string; ratio?: number; stage?: number };
  samples: number[];
  rewards: number[];
  /** recomputed from rewards */
  mean: number;
  /** Bessel-corrected (torch.std / np.std(ddof=1)) */
  stdUnbiased: number;
  /** population (np.std) — DAPO's dynamic-sampling test */
  stdPopulation: number;
  /** as stored by the trainer (baselines / scores: per member, in `samples` order) */
  stored: { mean: number; std: number; baseline?: number; baselines?: number[]; scores?: number[] };
  filtered: boolean;
  filterReason?: string;
  /** union of reward part names over the group, sorted */
  partNames: string[];
  /** alignment width: longest completion in tokens */
  width: number;
}

export function meanStd(xs: number[]): { mean: number; stdUnbiased: number; stdPopulation: number } {
  const n = xs.length;
  if (!n) return { mean: NaN, stdUnbiased: NaN, stdPopulation: NaN };
  // src/shared/groupStats.ts: an all-equal group has std exactly 0 (not float noise)
  const { mean, std } = groupMeanStd(xs);
  return { mean, stdUnbiased: std, stdPopulation: n > 1 ? std * Math.sqrt((n - 1) / n) : 0 };
}

/** Summarise a group for the group view (rewards, parts, statistics, alignment width). */
export function groupSummary(step: StepData, groupId: string): GroupSummary | undefined {
  const g = step.header.groups.find((x) => x.id === groupId);
  const members = g ? g.samples.filter((i) => i >= 0 && i < step.samples.length) : step.samples.map((s, i) => (s.group === groupId ? i : -1)).filter((i) => i >= 0);
  if (!members.length) return undefined;
  const rewards = members.map((i) => step.samples[i].reward);
  const st = meanStd(rewards);
  const parts = new Set<string>();
  for (const i of members) for (const k of Object.keys(step.samples[i].rewardParts ?? {})) parts.add(k);
  return {
    id: groupId, prompt: g?.prompt ?? step.samples[members[0]].prompt, answer: g?.answer, samples: members, rewards,
    mean: st.mean, stdUnbiased: st.stdUnbiased, stdPopulation: st.stdPopulation,
    stored: {
      mean: g?.mean ?? NaN, std: g?.std ?? NaN, baseline: g?.baseline,
      // per-member arrays line up with `members` only when the group lists exactly these samples
      ...(g?.baselines && g.baselines.length === members.length ? { baselines: g.baselines } : {}),
      ...(g?.scores && g.scores.length === members.length ? { scores: g.scores } : {}),
    },
    filtered: !!g?.filtered, filterReason: g?.filterReason,
    ...(typeof g?.hint === 'string' ? { hint: { text: g.hint, ratio: typeof g.hintRatio === 'number' ? g.hintRatio : undefined, stage: typeof g.hintStage === 'number' ? g.hintStage : undefined } } : {}),
    partNames: [...parts].sort(), width: Math.max(...members.map((i) => step.samples[i].length)),
  };
}

/**
 * Align a group's completions as token rows: `cells[r][t]` is the token index t of member r, or -1 past its end
 * (rows are right-padded to the longest completion; position t is the same generation step in every row).
 */
export function alignGroup(step: StepData, members: number[]): { width: number; cells: number[][] } {
  const width = members.reduce((w, i) => Math.max(w, step.samples[i].length), 0);
  return { width, cells: members.map((i) => Array.from({ length: width }, (_, t) => (t < step.samples[i].length ? t : -1))) };
}

/** First token index at which two aligned rows differ in text (-1 if identical up to the shorter length and equal length). */
export function firstDivergence(a: string[], b: string[]): number {
  const n = Math.min(a.length, b.length);
  for (let t = 0; t < n; t++) if (a[t] !== b[t]) return t;
  return a.length === b.length ? -1 : n;
}
