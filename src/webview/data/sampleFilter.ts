/**
 * Sample-finding helpers of the heatmap (pure, no DOM): numeric ranges typed into a filter field, correctness of a
 * sample, and one-line prompt labels. step.ts sortAndFilter applies a FilterSpec with these.
 */
import type { NumRange } from '../../shared/protocol';
import { displayToken } from './tokens';

const NUM = String.raw`[+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?`;

/**
 * Read a range typed into a filter field: `0` (exactly 0), `0.5..1` or `0.5 to 1` (both ends included), `>0`, `>=0.5`,
 * `<20`, `<=20`, `≥`/`≤` too, `..1` / `0..` (one end open); empty = no filter (undefined). Throws with a short
 * reason when the text is not a range.
 */
export function parseRange(text: string): NumRange | undefined {
  const t = text.trim().replace(/≥/g, '>=').replace(/≤/g, '<=').replace(/−/g, '-');
  if (!t) return undefined;
  let m = new RegExp(`^(>=|<=|>|<|=)\\s*(${NUM})$`, 'i').exec(t);
  if (m) {
    const v = Number(m[2]);
    switch (m[1]) {
      case '>': return { min: v, minOpen: true };
      case '>=': return { min: v };
      case '<': return { max: v, maxOpen: true };
      case '<=': return { max: v };
      default: return { min: v, max: v };
    }
  }
  m = new RegExp(`^(${NUM})?\\s*(?:\\.\\.|\\bto\\b)\\s*(${NUM})?$`, 'i').exec(t);
  if (m && (m[1] !== undefined || m[2] !== undefined)) {
    const r: NumRange = {};
    if (m[1] !== undefined) r.min = Number(m[1]);
    if (m[2] !== undefined) r.max = Number(m[2]);
    if (r.min !== undefined && r.max !== undefined && r.min > r.max) throw new Error(`${r.min} > ${r.max}`);
    return r;
  }
  m = new RegExp(`^(${NUM})$`, 'i').exec(t);
  if (m) { const v = Number(m[1]); return { min: v, max: v }; }
  throw new Error(`"${text}" is not a range (try 0, 0.5..1, >0, <=20)`);
}

/** The text parseRange reads back as the same range. */
export function formatRange(r: NumRange | undefined): string {
  if (!r) return '';
  const { min, max } = r;
  if (min !== undefined && max !== undefined) return min === max && !r.minOpen && !r.maxOpen ? String(min) : `${min}..${max}`;
  if (min !== undefined) return `${r.minOpen ? '>' : '>='}${min}`;
  if (max !== undefined) return `${r.maxOpen ? '<' : '<='}${max}`;
  return '';
}

/** Is v inside r? NaN / undefined never is (a sample without the value does not match a range filter). */
export function inRange(v: number | undefined, r: NumRange): boolean {
  if (v === undefined || !Number.isFinite(v)) return false;
  if (r.min !== undefined && (r.minOpen ? !(v > r.min) : !(v >= r.min))) return false;
  if (r.max !== undefined && (r.maxOpen ? !(v < r.max) : !(v <= r.max))) return false;
  return true;
}

/** Correct: the reward part `accuracy` (or `correct`) > 0 when the sample has one, else reward > 0. */
export function isCorrect(s: { reward: number; rewardParts?: Record<string, number> }): boolean {
  const acc = s.rewardParts?.accuracy ?? s.rewardParts?.correct;
  return typeof acc === 'number' ? acc > 0 : s.reward > 0;
}

/** One line of at most `max` characters (newlines and tabs as spaces, runs of spaces collapsed), `…` when cut. */
export function shortText(s: string, max = 48): string {
  const v = s.replace(/\s+/g, ' ').trim();
  return v.length > max ? `${v.slice(0, max - 1)}…` : v;
}

/** Untrusted text (a prompt) as a one-line label: whitespace runs read as one plain space, everything else made visible
 *  as in the token cells (controls, bidi and zero-width characters as markers: tokens.ts displayToken). */
export function lineLabel(raw: string, max = 48): string {
  const words = raw.split(/[ \t\r\n]+/).filter(Boolean).map((w) => displayToken(w).text);
  return shortText(words.join(' '), max);
}
