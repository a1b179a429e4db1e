/**
 * Multi-turn episodes as the group view shows them (issue 20, docs/run-format.md "Multi-turn episodes"): a sample's
 * `turns` read defensively (old runs and imported verl / TRL runs have none; a hand-edited file may hold anything),
 * their token spans ([start, end) the policy's tokens, [end, resultEnd) the environment's), and GiGPO's per-turn
 * numbers. Pure (no DOM).
 */
import type { RolloutTurn } from '../../shared/runFormat';

/** One policy turn as stored (src/shared/runFormat.ts RolloutTurn: policy text, call, result or error, per-turn reward,
 *  token spans, anchor and GiGPO's numbers), checked; `index` is its position in the sample's `turns`, spans are
 *  clamped to the sample's length and the anchor may be missing (hand-edited or foreign files). */
export type TurnRow = Omit<RolloutTurn, 'anchor'> & { index: number; anchor?: string };

const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
const fin = (x: unknown): number | undefined => (typeof x === 'number' && Number.isFinite(x) ? x : undefined);
const str = (x: unknown): string | undefined => (typeof x === 'string' ? x : undefined);
const clampInt = (x: number, lo: number, hi: number) => Math.max(lo, Math.min(hi, Math.floor(x)));

/**
 * The turns of a sample, or [] when it has none (single-turn runs, imports). Entries that are not objects are
 * skipped; spans are clamped to [0, length] and made non-decreasing (end ≥ start, resultEnd ≥ end).
 */
export function sampleTurns(s: { turns?: unknown; length?: number }): TurnRow[] {
  if (!Array.isArray(s.turns)) return [];
  const L = typeof s.length === 'number' && s.length >= 0 ? s.length : Number.MAX_SAFE_INTEGER;
  const out: TurnRow[] = [];
  s.turns.forEach((t, index) => {
    if (!isObj(t)) return;
    const start = clampInt(fin(t.start) ?? 0, 0, L);
    const end = clampInt(fin(t.end) ?? start, start, L);
    const re = fin(t.resultEnd);
    const row: TurnRow = { index, text: str(t.text) ?? '', reward: fin(t.reward) ?? NaN, start, end };
    if (re !== undefined) row.resultEnd = clampInt(re, end, L);
    for (const k of ['call', 'result', 'error', 'anchor', 'stepGroup'] as const) { const v = str(t[k]); if (v !== undefined) row[k] = v; }
    for (const k of ['stepReturn', 'stepAdvantage', 'episodeAdvantage', 'advantage'] as const) { const v = fin(t[k]); if (v !== undefined) row[k] = v; }
    out.push(row);
  });
  return out;
}

/** Does the sample carry turns (a multi-turn episode)? */
export function hasTurns(s: object): boolean {
  const t = (s as { turns?: unknown }).turns;
  return Array.isArray(t) && t.some(isObj);
}

/** The token spans of a turn: the policy's [start, end), the environment's [end, resultEnd) (empty when no call). */
export function turnSpans(t: TurnRow): { policy: [number, number]; environment: [number, number] } {
  return { policy: [t.start, t.end], environment: [t.end, t.resultEnd ?? t.end] };
}

/** Which turn a token belongs to and whether it is the policy's or the environment's (undefined: in no turn). */
export function turnOfToken(turns: readonly TurnRow[], token: number): { turn: number; part: 'policy' | 'environment' } | undefined {
  for (const t of turns) {
    if (token >= t.start && token < t.end) return { turn: t.index, part: 'policy' };
    if (t.resultEnd !== undefined && token >= t.end && token < t.resultEnd) return { turn: t.index, part: 'environment' };
  }
  return undefined;
}

/** Counts for a sample's turns column: turns, tool calls, bad calls, Σ per-turn rewards (finite ones). */
export function turnCounts(turns: readonly TurnRow[]): { turns: number; calls: number; errors: number; turnReward: number } {
  let calls = 0, errors = 0, turnReward = 0;
  for (const t of turns) {
    if (t.call !== undefined || t.result !== undefined) calls++;
    if (t.error !== undefined || t.result === 'err') errors++;
    if (Number.isFinite(t.reward)) turnReward += t.reward;
  }
  return { turns: turns.length, calls, errors, turnReward };
}

/** An anchor state for reading: the prompt, then each tool output so far, joined by " → ". */
export function anchorText(anchor: string): string {
  return anchor.split('\u0001').join(' → ');
}

/** The members of a GiGPO step group over a step's samples: every (sample, turn) whose stepGroup is `stepGroup`. */
export function stepGroupMembers(samples: readonly { turns?: unknown; length?: number; group?: string }[], stepGroup: string, group?: string): { sample: number; turn: TurnRow }[] {
  const out: { sample: number; turn: TurnRow }[] = [];
  samples.forEach((s, i) => {
    if (group !== undefined && s.group !== group) return;
    for (const t of sampleTurns(s)) if (t.stepGroup === stepGroup) out.push({ sample: i, turn: t });
  });
  return out;
}
