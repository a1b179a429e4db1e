/**
 * Preference data: JSONL in TRL's dataset formats, validated line by line, plus built-in synthetic preference sets.
 *
 * Formats (one JSON object per line; the kind of a file is taken from its first valid line, and every line must match it):
 *   pairwise  {"prompt": str, "chosen": str, "rejected": str}                     TRL "preference" (DPO, IPO, ORPO, SimPO, ODPO, reward model)
 *             optional "margin": number (TRL RewardTrainer margin), "score_chosen"/"score_rejected": number (ODPO offset;
 *             UltraFeedback-binarized names)
 *   unpaired  {"prompt": str, "completion": str, "label": bool}                   TRL "unpaired preference" (KTO)
 *   ranking   {"prompt": str, "completions": [str, ...], "ranking": [int, ...]}   K-wise (InstructGPT reward models);
 *             ranking lists completion indices from BEST to WORST (a permutation of 0..K−1); optional "scores": number[]
 *
 * Conversions (TRL does the same): ranking → all C(K,2) pairs for pairwise methods; pairwise → unpaired for KTO
 * (chosen = desirable, rejected = undesirable, as TRL's `unpair_preference_dataset`).
 *
 * Bad lines: every problem is reported with file:line, field and how to fix it. A run never starts on silently dropped
 * data: by default any bad line makes loading throw `PreferenceDataError` (listing the problems); with
 * `allowBadLines: true` (config `data.allowBadLines`) bad lines are skipped, and the counts are returned so the
 * trainer reports them (warning event + manifest).
 */
import * as fs from 'fs';
import type { InputProblem } from '../../shared/runFormat';
import { parseJsonlText } from '../../runio/jsonl';
import { Rng } from '../rng';
import type { Task } from '../tasks/types';

export interface SourceRef { file: string; line: number }

export interface PairRecord {
  prompt: string;
  chosen: string;
  rejected: string;
  margin?: number;
  scoreChosen?: number;
  scoreRejected?: number;
  /** false: that completion does NOT end with EOS (a middle reasoning step of Step-DPO, which ends with its step
   *  delimiter and is followed by more steps; preference/stepDpo.ts). Default true: EOS after the completion. */
  chosenEos?: boolean;
  rejectedEos?: boolean;
  source?: SourceRef;
}
export interface UnpairedRecord { prompt: string; completion: string; label: boolean; source?: SourceRef }
export interface RankingRecord { prompt: string; completions: string[]; ranking: number[]; scores?: number[]; source?: SourceRef }

export type PreferenceKind = 'pairwise' | 'unpaired' | 'ranking';

export type PreferenceData =
  | { kind: 'pairwise'; records: PairRecord[] }
  | { kind: 'unpaired'; records: UnpairedRecord[] }
  | { kind: 'ranking'; records: RankingRecord[] };

export interface LoadCounts { lines: number; records: number; badLines: number; blankLines: number }

export type LoadedPreferenceData = PreferenceData & { counts: LoadCounts; problems: InputProblem[]; file: string };

export class PreferenceDataError extends Error {
  constructor(readonly problems: InputProblem[], readonly counts?: LoadCounts) {
    const shown = problems.slice(0, 20).map(formatProblem).join('\n  ');
    const more = problems.length > 20 ? `\n  ... and ${problems.length - 20} more` : '';
    const cnt = counts ? ` (${counts.badLines} bad of ${counts.lines - counts.blankLines} lines)` : '';
    super(`preference data has ${problems.length} problem(s)${cnt}; the run was not started:\n  ${shown}${more}\n` +
      'Fix the lines above, or set data.allowBadLines: true to skip bad lines (they are counted and reported).');
    this.name = 'PreferenceDataError';
  }
}

export function formatProblem(p: InputProblem): string {
  return `${p.file}${p.line !== undefined ? `:${p.line}` : ''}${p.field ? ` field "${p.field}"` : ''}: ${p.message}`;
}

function kindOf(o: Record<string, unknown>): PreferenceKind | undefined {
  if ('chosen' in o || 'rejected' in o) return 'pairwise';
  if ('completions' in o || 'ranking' in o) return 'ranking';
  if ('completion' in o || 'label' in o) return 'unpaired';
  return undefined;
}

const KIND_FIELDS: Record<PreferenceKind, string> = {
  pairwise: '{"prompt", "chosen", "rejected"}',
  unpaired: '{"prompt", "completion", "label"}',
  ranking: '{"prompt", "completions", "ranking"}',
};

/** A chat message of TRL's conversational format: {"role": "user", "content": "..."} (content may be text parts). */
interface Message { role: string; content: string }

/** Is `v` a conversational field (a list of {"role", "content"} objects)? */
function isMessages(v: unknown): v is unknown[] {
  return Array.isArray(v) && v.length > 0 && v.every((m) => typeof m === 'object' && m !== null && !Array.isArray(m) && 'role' in m);
}

/**
 * Check a conversational field and return its messages; `content` may be a string or a list of parts
 * ({"type": "text", "text": "..."}; TRL's multimodal form, text parts only). Problems name the field and index.
 */
function readMessages(v: unknown[], field: string, bad: (field: string, message: string) => void): Message[] | undefined {
  const out: Message[] = [];
  let ok = true;
  v.forEach((m, i) => {
    const o = m as Record<string, unknown>;
    if (typeof o.role !== 'string' || !o.role) { bad(`${field}[${i}].role`, 'expected a non-empty string ("system", "user", "assistant", ...)'); ok = false; return; }
    let c = o.content;
    if (Array.isArray(c) && c.every((p) => typeof p === 'object' && p !== null && (p as { type?: unknown }).type === 'text' && typeof (p as { text?: unknown }).text === 'string')) {
      c = (c as { text: string }[]).map((p) => p.text).join('');
    }
    if (typeof c !== 'string') { bad(`${field}[${i}].content`, `expected a string (or a list of {"type": "text", "text"} parts), got ${c === undefined ? 'nothing' : JSON.stringify(c).slice(0, 60)}`); ok = false; return; }
    out.push({ role: o.role, content: c });
  });
  return ok ? out : undefined;
}

/**
 * Messages as the text the character-level model reads. The built-in tokenizer has no chat template, so the
 * messages' contents are joined with newlines and the roles are dropped (documented in docs/preference.md).
 */
export function messagesText(msgs: Message[]): string { return msgs.map((m) => m.content).join('\n'); }

/**
 * TRL's `extract_prompt` (trl/data_utils.py) for the implicit-prompt preference format: the prompt is the shared
 * beginning of `chosen` and `rejected` (strings: characters; conversational: messages). At the first difference, a
 * preceding space is left to the completions (prompt "The sky is", chosen " blue."). As in TRL, when one sequence is a
 * prefix of the other the loop ends without a difference and the split falls one element before the shorter's end.
 */
export function extractPrompt<T>(chosen: T[], rejected: T[], eq: (a: T, b: T) => boolean = (a, b) => a === b): { prompt: T[]; chosen: T[]; rejected: T[] } | undefined {
  const n = Math.min(chosen.length, rejected.length);
  if (n === 0) return undefined;
  let idx = n - 1;
  for (let i = 0; i < n; i++) {
    if (!eq(chosen[i], rejected[i])) {
      idx = i > 0 && (chosen[i - 1] as unknown) === ' ' ? i - 1 : i;
      break;
    }
  }
  return { prompt: chosen.slice(0, idx), chosen: chosen.slice(idx), rejected: rejected.slice(idx) };
}

/**
 * Bring a record in any of TRL's preference formats to the plain form the loader validates:
 *   conversational fields (lists of {"role", "content"}) → text (`messagesText`);
 *   implicit prompt ({"chosen", "rejected"} without "prompt", string or conversational) → `extractPrompt`.
 * Returns a new object; what cannot be read is reported through `bad` (field names with indices) and left as is.
 */
export function fromTrlFormats(r: Record<string, unknown>, kind: PreferenceKind, bad: (field: string, message: string) => void): { record: Record<string, unknown>; failed: Set<string> } {
  const out: Record<string, unknown> = { ...r };
  const failed = new Set<string>();
  const fields = kind === 'pairwise' ? ['prompt', 'chosen', 'rejected'] : kind === 'unpaired' ? ['prompt', 'completion'] : ['prompt'];
  const msgs: Record<string, Message[] | undefined> = {};
  for (const f of fields) if (isMessages(r[f])) { msgs[f] = readMessages(r[f] as unknown[], f, bad); if (!msgs[f]) failed.add(f); }
  if (kind === 'pairwise' && r.prompt === undefined && r.chosen !== undefined && r.rejected !== undefined) {
    const join = (x: { prompt: string[]; chosen: string[]; rejected: string[] } | undefined) => x && { prompt: x.prompt.join(''), chosen: x.chosen.join(''), rejected: x.rejected.join('') };
    const asText = (x: { prompt: Message[]; chosen: Message[]; rejected: Message[] } | undefined) => x && { prompt: messagesText(x.prompt), chosen: messagesText(x.chosen), rejected: messagesText(x.rejected) };
    const conv = msgs.chosen && msgs.rejected, plain = typeof r.chosen === 'string' && typeof r.rejected === 'string';
    // conversational: an empty prompt is allowed (TRL keeps it); text: the prompt is what precedes the first difference
    const split = failed.size ? undefined
      : conv ? asText(extractPrompt(msgs.chosen!, msgs.rejected!, (a, b) => a.role === b.role && a.content === b.content))
        : plain ? join(extractPrompt(Array.from(r.chosen as string), Array.from(r.rejected as string))) : undefined;
    if (split) return { record: Object.assign(out, split), failed };
    // a broken message (already reported) leaves no prompt to extract; the sound fields still convert below
    if (!failed.size && (conv || plain)) bad('prompt', 'missing, and "chosen" / "rejected" share no beginning to take it from (implicit-prompt format)');
    if (failed.size || conv || plain) failed.add('prompt');
  }
  for (const f of fields) if (msgs[f]) out[f] = messagesText(msgs[f]!);
  return { record: out, failed };
}

/** Validate one parsed line. Returns the record, or problems (file, line, field). */
export function validateRecord(o: unknown, kind: PreferenceKind, file: string, line: number): { record?: PairRecord | UnpairedRecord | RankingRecord; problems: InputProblem[] } {
  const problems: InputProblem[] = [];
  const bad = (field: string | undefined, message: string) => problems.push({ file, line, field, message, severity: 'error' });
  if (typeof o !== 'object' || o === null || Array.isArray(o)) {
    bad(undefined, `expected a JSON object like ${KIND_FIELDS[kind]}, got ${Array.isArray(o) ? 'an array' : typeof o}`);
    return { problems };
  }
  const { record: r, failed } = fromTrlFormats(o as Record<string, unknown>, kind, bad);
  const str = (f: string, allowEmpty = false): string | undefined => {
    if (failed.has(f)) return undefined; // already reported with the message index
    const v = r[f];
    if (v === undefined) { bad(f, `missing (a ${kind} record needs ${KIND_FIELDS[kind]})`); return undefined; }
    if (typeof v !== 'string') {
      bad(f, `expected a string or a list of {"role", "content"} messages, got ${Array.isArray(v) ? 'an array' : typeof v}`);
      return undefined;
    }
    if (!allowEmpty && v.length === 0) { bad(f, 'must not be empty'); return undefined; }
    return v;
  };
  const optNum = (f: string): number | undefined => {
    const v = r[f];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'number' || !Number.isFinite(v)) { bad(f, `expected a finite number, got ${JSON.stringify(v)}`); return undefined; }
    return v;
  };
  const source = { file, line };
  const prompt = str('prompt', true);
  if (kind === 'pairwise') {
    const chosen = str('chosen'), rejected = str('rejected');
    const margin = optNum('margin'), scoreChosen = optNum('score_chosen'), scoreRejected = optNum('score_rejected');
    if (problems.length) return { problems };
    return { record: { prompt: prompt!, chosen: chosen!, rejected: rejected!, margin, scoreChosen, scoreRejected, source }, problems };
  }
  if (kind === 'unpaired') {
    const completion = str('completion');
    const label = r.label;
    if (label === undefined) bad('label', 'missing (true = desirable, false = undesirable)');
    else if (typeof label !== 'boolean') bad('label', `expected true or false, got ${JSON.stringify(label)}`);
    if (problems.length) return { problems };
    return { record: { prompt: prompt!, completion: completion!, label: label as boolean, source }, problems };
  }
  const comps = r.completions, ranking = r.ranking;
  if (!Array.isArray(comps) || comps.length < 2) bad('completions', 'expected an array of at least 2 strings');
  else comps.forEach((c, i) => { if (typeof c !== 'string' || !c.length) bad(`completions[${i}]`, 'expected a non-empty string'); });
  const k = Array.isArray(comps) ? comps.length : 0;
  if (!Array.isArray(ranking)) bad('ranking', 'expected an array of completion indices, best first');
  else if (ranking.length !== k || !ranking.every((x) => Number.isInteger(x) && x >= 0 && x < k) || new Set(ranking).size !== k) {
    bad('ranking', `expected a permutation of 0..${k - 1} (completion indices, best first), got ${JSON.stringify(ranking)}`);
  }
  let scores: number[] | undefined;
  if (r.scores !== undefined) {
    if (!Array.isArray(r.scores) || r.scores.length !== k || !r.scores.every((x) => typeof x === 'number' && Number.isFinite(x))) bad('scores', `expected ${k} finite numbers`);
    else scores = r.scores as number[];
  }
  if (problems.length) return { problems };
  return { record: { prompt: prompt!, completions: comps as string[], ranking: ranking as number[], scores, source }, problems };
}

/** Parse JSONL text (a file's content). Never throws: returns records, problems and counts. */
export function parsePreferenceJsonl(text: string, file: string, expect?: PreferenceKind): LoadedPreferenceData {
  const parsed = parseJsonlText<unknown>(text, file, { final: true });
  const problems: InputProblem[] = parsed.problems.map((p) => ({ ...p, severity: 'error' as const, message: p.message.replace('; line skipped', '') }));
  const badLines = new Set<number>(problems.map((p) => p.line!));
  let kind: PreferenceKind | undefined = expect;
  let kindLine = 0;
  const records: unknown[] = [];
  for (const { line, value } of parsed.records) {
    if (!kind) {
      const k = typeof value === 'object' && value !== null ? kindOf(value as Record<string, unknown>) : undefined;
      if (!k) {
        problems.push({ file, line, message: `cannot tell the record kind: expected one of ${Object.values(KIND_FIELDS).join(', ')}`, severity: 'error' });
        badLines.add(line);
        continue;
      }
      kind = k; kindLine = line;
    } else if (typeof value === 'object' && value !== null) {
      const k = kindOf(value as Record<string, unknown>);
      if (k && k !== kind) {
        problems.push({ file, line, message: `a ${k} record in a ${kind} file (${kindLine ? `line ${kindLine} set the kind` : 'the method needs this kind'}): one kind per file`, severity: 'error' });
        badLines.add(line);
        continue;
      }
    }
    const v = validateRecord(value, kind, file, line);
    if (v.record) records.push(v.record);
    else { problems.push(...v.problems); badLines.add(line); }
  }
  const allLines = text.length ? text.split('\n').length - (text.endsWith('\n') ? 1 : 0) : 0;
  const blankLines = text.split('\n').slice(0, allLines).filter((l) => l.trim() === '').length;
  const counts: LoadCounts = { lines: allLines, records: records.length, badLines: badLines.size, blankLines };
  return { kind: kind ?? expect ?? 'pairwise', records, problems, counts, file } as LoadedPreferenceData;
}

export interface LoadOptions {
  /** the kind the method needs; a file of another kind is converted when possible (ranking → pairwise, pairwise → unpaired) */
  expect?: PreferenceKind;
  /** skip bad lines instead of refusing to start (they are still counted and returned in `problems`) */
  allowBadLines?: boolean;
}

/** Load and validate a preference JSONL file. Throws PreferenceDataError on any bad line unless allowBadLines. */
export function loadPreferenceFile(file: string, opts: LoadOptions = {}): LoadedPreferenceData {
  if (!fs.existsSync(file)) throw new PreferenceDataError([{ file, message: 'file not found (data.path in the config)', severity: 'error' }]);
  const d = parsePreferenceJsonl(fs.readFileSync(file, 'utf8'), file);
  if (d.problems.length && !opts.allowBadLines) throw new PreferenceDataError(d.problems, d.counts);
  if (!d.records.length) throw new PreferenceDataError([...d.problems, { file, message: 'no usable records', severity: 'error' }], d.counts);
  if (!opts.expect || opts.expect === d.kind) return d;
  return { ...convertPreferenceData(d, opts.expect, file), counts: d.counts, problems: d.problems, file };
}

/** Convert between kinds where it is meaningful; throws naming the file otherwise. */
export function convertPreferenceData(d: PreferenceData, to: PreferenceKind, file = 'data'): PreferenceData {
  if (d.kind === to) return d;
  if (d.kind === 'ranking' && to === 'pairwise') return { kind: 'pairwise', records: rankingToPairs(d.records) };
  if (d.kind === 'pairwise' && to === 'unpaired') return { kind: 'unpaired', records: unpairPreferences(d.records) };
  if (d.kind === 'ranking' && to === 'unpaired') return { kind: 'unpaired', records: unpairPreferences(rankingToPairs(d.records)) };
  if (d.kind === 'pairwise' && to === 'ranking') {
    return { kind: 'ranking', records: d.records.map((r) => ({ prompt: r.prompt, completions: [r.chosen, r.rejected], ranking: [0, 1], source: r.source })) };
  }
  throw new PreferenceDataError([{ file, message: `this method needs ${to} data (${KIND_FIELDS[to]}) but the file holds ${d.kind} records (${KIND_FIELDS[d.kind]}), which cannot be converted`, severity: 'error' }]);
}

/** All C(K,2) pairs of each ranking (better first). Scores carry over for ODPO when present. */
export function rankingToPairs(rs: RankingRecord[]): PairRecord[] {
  const out: PairRecord[] = [];
  for (const r of rs) {
    for (let a = 0; a < r.ranking.length; a++) {
      for (let b = a + 1; b < r.ranking.length; b++) {
        const i = r.ranking[a], j = r.ranking[b];
        out.push({ prompt: r.prompt, chosen: r.completions[i], rejected: r.completions[j], scoreChosen: r.scores?.[i], scoreRejected: r.scores?.[j], source: r.source });
      }
    }
  }
  return out;
}

/** TRL `unpair_preference_dataset`: each pair gives a desirable (chosen) and an undesirable (rejected) example. */
export function unpairPreferences(ps: PairRecord[]): UnpairedRecord[] {
  return ps.flatMap((p) => [
    { prompt: p.prompt, completion: p.chosen, label: true, source: p.source },
    { prompt: p.prompt, completion: p.rejected, label: false, source: p.source },
  ]);
}

// ---------------------------------------------------------------------------------------------------------------
// Built-in synthetic preference sets, derived from a hidden scoring rule.

/** A task's prompt with its correct answer (what the synthetic generator needs from a built-in task). */
export interface TaskExample { prompt: string; answer: string }

/**
 * The hidden score of a completion for a prompt with a known answer: correct and concise beats wrong or verbose.
 *   score = 1 if the completion starts with the exact answer, else 0.6·(fraction of the answer's leading characters right)·0.5;
 *           minus 0.1 per character beyond the answer's length (verbosity), floored at −0.5.
 * So: correct+concise (1.0) > correct+verbose (0.9, 0.8, ...) > partly right > wrong; among wrong answers shorter is better.
 * The score is never shown to the models; the reward model must learn it from the pairs.
 */
export function hiddenScore(completion: string, answer: string): number {
  const extra = Math.max(0, completion.length - answer.length);
  let base: number;
  if (completion.startsWith(answer)) base = 1;
  else {
    let k = 0;
    while (k < answer.length && k < completion.length && completion[k] === answer[k]) k++;
    base = 0.3 * (k / Math.max(1, answer.length));
  }
  return Math.max(-0.5, base - 0.1 * extra);
}

/** Candidate completions for one example: the answer, verbose variants, near misses and wrong ones (all within `alphabet`). */
export function candidateCompletions(ex: TaskExample, rng: Rng, alphabet: string, n = 4): string[] {
  const a = ex.answer;
  const pick = () => alphabet[rng.int(alphabet.length)];
  const out = new Set<string>([a]);
  let guard = 0;
  while (out.size < n && guard++ < 100) {
    const kind = rng.int(4);
    let c: string;
    if (kind === 0) { // verbose: correct answer followed by 1-3 extra characters (repeats of its own characters)
      c = a + Array.from({ length: 1 + rng.int(3) }, () => a[rng.int(a.length)] ?? pick()).join('');
    } else if (kind === 1) { // near miss: change one character
      const i = rng.int(a.length);
      let ch = pick(); while (ch === a[i] && alphabet.length > 1) ch = pick();
      c = a.slice(0, i) + ch + a.slice(i + 1);
    } else if (kind === 2) { // wrong: random string of similar length
      c = Array.from({ length: Math.max(1, a.length + rng.int(3) - 1) }, pick).join('');
    } else { // wrong and verbose
      c = Array.from({ length: a.length + 2 + rng.int(3) }, pick).join('');
    }
    if (c.length) out.add(c);
  }
  return [...out];
}

export interface SyntheticOptions {
  /** number of prompts */
  count: number;
  seed: number;
  /** characters completions may use (the task's answer alphabet); default digits */
  alphabet?: string;
  /** candidates per prompt (K, for rankings); default 4 */
  k?: number;
  /** probability that a pair's labels are flipped (label noise, like real annotators); default 0 */
  flipProb?: number;
}

/**
 * K-wise rankings for examples (prompt + answer): K candidates sorted by the hidden score (ties broken by keeping only
 * distinct scores). `scores` holds the hidden scores (used as ODPO's offsets and for the pipeline's true-score metric).
 */
export function syntheticRankings(examples: TaskExample[], opts: SyntheticOptions): RankingRecord[] {
  const rng = new Rng(opts.seed);
  const alphabet = opts.alphabet ?? '0123456789';
  const out: RankingRecord[] = [];
  for (const ex of examples.slice(0, opts.count)) {
    const cands = candidateCompletions(ex, rng, alphabet, opts.k ?? 4);
    // keep candidates with distinct hidden scores so that every pair has a strict preference
    const byScore = new Map<number, string>();
    for (const c of cands) { const s = Math.round(hiddenScore(c, ex.answer) * 1e6) / 1e6; if (!byScore.has(s)) byScore.set(s, c); }
    const comps = [...byScore.values()];
    if (comps.length < 2) continue;
    const scores = comps.map((c) => hiddenScore(c, ex.answer));
    const ranking = comps.map((_, i) => i).sort((i, j) => scores[j] - scores[i]);
    out.push({ prompt: ex.prompt, completions: comps, ranking, scores });
  }
  return out;
}

/** Pairwise preferences (one pair per prompt: the best candidate vs a random worse one), with optional label noise. */
export function syntheticPairs(examples: TaskExample[], opts: SyntheticOptions): PairRecord[] {
  const rng = new Rng(opts.seed ^ 0x5bd1e995);
  return syntheticRankings(examples, opts).map((r) => {
    const best = r.ranking[0];
    const worse = r.ranking[1 + rng.int(r.ranking.length - 1)];
    let [c, w] = [best, worse];
    if (opts.flipProb && rng.next() < opts.flipProb) [c, w] = [w, c];
    return { prompt: r.prompt, chosen: r.completions[c], rejected: r.completions[w], scoreChosen: r.scores![c], scoreRejected: r.scores![w] };
  });
}

/**
 * A wrong answer with the SAME length and format as `answer` (so only correctness tells it apart): for an integer
 * answer, answer ± a small offset (1..3) with the same number of digits (and sign); otherwise one character replaced by
 * another from `alphabet`. Returns undefined when no such string exists (a one-character alphabet).
 */
export function sameFormatWrong(answer: string, rng: Rng, alphabet: string): string | undefined {
  if (/^-?\d+$/.test(answer)) {
    const v = Number(answer);
    for (let t = 0; t < 12; t++) {
      const d = (1 + rng.int(3)) * (rng.next() < 0.5 ? -1 : 1);
      const w = String(v + d);
      if (w !== answer && w.length === answer.length && (w.startsWith('-') === answer.startsWith('-')) && /^-?(0|[1-9]\d*)$/.test(w)) return w;
    }
  }
  if (alphabet.length < 2 || !answer.length) return undefined;
  const i = rng.int(answer.length);
  let ch = alphabet[rng.int(alphabet.length)];
  for (let t = 0; ch === answer[i] && t < 50; t++) ch = alphabet[rng.int(alphabet.length)];
  return ch === answer[i] ? undefined : answer.slice(0, i) + ch + answer.slice(i + 1);
}

/**
 * Wrong answers SHORTER than `answer` (the other half of length balance): for an integer answer, answer ± 1..3 with
 * fewer digits (10 → 9, 8, 7), one digit dropped (10 → 1, 0); otherwise one character dropped; for a one-character
 * answer, the empty completion (an immediate EOS). At most `n`, distinct, all different from the answer.
 */
export function shorterWrongs(answer: string, rng: Rng, n = 2): string[] {
  const cands = new Set<string>();
  if (/^-?\d+$/.test(answer)) {
    const v = Number(answer);
    for (let d = -3; d <= 3; d++) {
      const w = String(v + d);
      if (d && w.length < answer.length && (w.startsWith('-') === answer.startsWith('-'))) cands.add(w);
    }
  }
  for (let i = 0; i < answer.length; i++) {
    const w = answer.slice(0, i) + answer.slice(i + 1);
    if (w !== answer && (answer.length > 1 || !cands.size)) cands.add(w);
  }
  const out = [...cands].filter((w) => w !== answer);
  rng.shuffle(out);
  return out.slice(0, n);
}

/**
 * Contrastive pairs that leave the reward model no shortcut but correctness (source "contrast"). Per example:
 *   `wrongPerPrompt` × (answer  ≻  same-length, same-format wrong answer)         only correctness differs
 *   1 × (answer  ≻  answer + 1–3 extra characters)                               only verbosity differs
 *   1 × (answer + extra  ≻  same-format wrong + the same extra)                  correctness at equal (longer) length
 *   1 × (answer  ≻  a longer random string)                                      wrong and verbose
 *   `shorterPerPrompt` (2) × (answer  ≻  a SHORTER wrong answer: 10 vs 9, 10 vs 1, 7 vs "")   wrong and shorter
 * The labels follow `hiddenScore` (correct and concise ≻ correct and verbose ≻ wrong), so the set agrees with the other
 * built-in sets; what changes is that length and format are balanced across chosen and rejected: as many length-
 * differing pairs prefer the longer completion as the shorter one. Without the shorter wrong answers "shorter wins"
 * was a shortcut, and a policy tuned on that reward model learned to answer "9" to "3+7=" (docs/preference.md; the
 * `rlhf-arithmetic-hacking` preset keeps that flaw on purpose with `shorterPerPrompt: 0`).
 */
export function contrastPairs(examples: TaskExample[], opts: SyntheticOptions & { wrongPerPrompt?: number; shorterPerPrompt?: number }): PairRecord[] {
  const rng = new Rng(opts.seed ^ 0x1b873593);
  const alphabet = opts.alphabet ?? '0123456789';
  const out: PairRecord[] = [];
  const push = (prompt: string, answer: string, c: string, r: string) => {
    let [a, b] = [c, r];
    if (opts.flipProb && rng.next() < opts.flipProb) [a, b] = [b, a];
    out.push({ prompt, chosen: a, rejected: b, scoreChosen: hiddenScore(a, answer), scoreRejected: hiddenScore(b, answer) });
  };
  for (const ex of examples.slice(0, opts.count)) {
    const a = ex.answer;
    const extra = () => Array.from({ length: 1 + rng.int(3) }, () => a[rng.int(a.length)] ?? alphabet[rng.int(alphabet.length)]).join('');
    const wrongs = new Set<string>();
    for (let t = 0; t < 4 * (opts.wrongPerPrompt ?? 3) && wrongs.size < (opts.wrongPerPrompt ?? 3); t++) {
      const w = sameFormatWrong(a, rng, alphabet);
      if (w !== undefined) wrongs.add(w);
    }
    for (const w of wrongs) push(ex.prompt, a, a, w);
    const x = extra();
    push(ex.prompt, a, a, a + x);
    const w0 = [...wrongs][0];
    if (w0 !== undefined) push(ex.prompt, a, a + x, w0 + x);
    push(ex.prompt, a, a, Array.from({ length: a.length + 2 + rng.int(3) }, () => alphabet[rng.int(alphabet.length)]).join(''));
    if ((opts.shorterPerPrompt ?? 2) > 0) for (const w of shorterWrongs(a, rng, opts.shorterPerPrompt ?? 2)) push(ex.prompt, a, a, w);
  }
  // a random string could equal the answer + extra by chance: keep only strict preferences under the hidden rule
  return out.filter((p) => (opts.flipProb ? true : p.scoreChosen! > p.scoreRejected!));
}

/** Held-out pairs that differ ONLY in correctness: (answer, same-length same-format wrong answer), one per example. */
export function correctnessPairs(examples: TaskExample[], seed: number, alphabet = '0123456789'): PairRecord[] {
  const rng = new Rng(seed ^ 0x68e31da4);
  const out: PairRecord[] = [];
  for (const ex of examples) {
    const w = sameFormatWrong(ex.answer, rng, alphabet);
    if (w !== undefined) out.push({ prompt: ex.prompt, chosen: ex.answer, rejected: w, scoreChosen: hiddenScore(ex.answer, ex.answer), scoreRejected: hiddenScore(w, ex.answer) });
  }
  return out;
}

/** Built-in arithmetic examples "a+b=" → sum (used when no task module provides examples). Deterministic from seed. */
export function arithmeticExamples(count: number, seed: number, maxOperand = 20): TaskExample[] {
  const rng = new Rng(seed);
  return Array.from({ length: count }, () => {
    const a = rng.int(maxOperand), b = rng.int(maxOperand);
    return { prompt: `${a}+${b}=`, answer: String(a + b) };
  });
}

/**
 * Examples of a built-in task (trainer tasks/: arithmetic, reverse, sort, count) for synthetic preference sets:
 * `split` 'train' draws from the task's train prompts, 'eval' from its held-out prompts, so RM / DPO eval pairs are on
 * prompts never trained on. Also returns the task's answer alphabet (the characters its answers use).
 */
export function taskExamples(task: Task, count: number, seed: number, split: 'train' | 'eval'): { examples: TaskExample[]; alphabet: string } {
  const rng = new Rng(seed ^ (split === 'eval' ? 0x3c6ef372 : 0x6a09e667));
  const examples: TaskExample[] = [];
  const seen = new Set<string>();
  // distinct prompts first; small problem spaces (e.g. arithmetic difficulty 1 has ~90 train prompts) then repeat
  // prompts, each repeat getting its own candidate completions in the synthetic sets
  for (let i = 0; i < count * 20 && examples.length < count; i++) {
    const ex = task.sample(rng, split);
    if (seen.has(ex.prompt) && i < count * 10) continue;
    seen.add(ex.prompt);
    examples.push({ prompt: ex.prompt, answer: ex.answer });
  }
  const chars = new Set<string>();
  for (const e of examples) for (const ch of e.answer) chars.add(ch);
  return { examples, alphabet: [...chars].sort().join('') || '0123456789' };
}

/** Serialise records as JSONL in TRL's field names (for `rl-lens` users who want to see / edit the built-in sets). */
export function toJsonl(d: PreferenceData): string {
  const lines = (d.records as (PairRecord | UnpairedRecord | RankingRecord)[]).map((r) => {
    if (d.kind === 'pairwise') {
      const p = r as PairRecord;
      return { prompt: p.prompt, chosen: p.chosen, rejected: p.rejected, margin: p.margin, score_chosen: p.scoreChosen, score_rejected: p.scoreRejected };
    }
    if (d.kind === 'unpaired') { const u = r as UnpairedRecord; return { prompt: u.prompt, completion: u.completion, label: u.label }; }
    const k = r as RankingRecord;
    return { prompt: k.prompt, completions: k.completions, ranking: k.ranking, scores: k.scores };
  });
  return lines.map((l) => JSON.stringify(l)).join('\n') + '\n';
}

/** Deterministic train / held-out split by prompt (all records of one prompt land on the same side). */
export function splitByPrompt<T extends { prompt: string }>(records: T[], evalFraction: number, seed: number): { train: T[]; eval: T[] } {
  const prompts = [...new Set(records.map((r) => r.prompt))];
  new Rng(seed ^ 0x27d4eb2f).shuffle(prompts);
  const nEval = Math.max(evalFraction > 0 ? 1 : 0, Math.round(prompts.length * evalFraction));
  const evalSet = new Set(prompts.slice(0, nEval));
  return { train: records.filter((r) => !evalSet.has(r.prompt)), eval: records.filter((r) => evalSet.has(r.prompt)) };
}
