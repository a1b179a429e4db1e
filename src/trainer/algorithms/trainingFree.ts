/**
 * Training-Free GRPO (Cai et al. 2025, arXiv 2510.08191; code: TencentCloudADP/youtu-agent, branch training_free_GRPO,
 * `training_free_grpo/`; docs/algorithms.md "Training-Free GRPO"): no weight update; an **experience library** E is put
 * in the prompt, and after each batch of G rollouts per query it is updated from the comparison of the better and
 * worse rollouts of every group that carries a signal (the "semantic advantage"), with the operations Add / Delete /
 * Modify / Keep.
 *
 * This file is the pure part (no tensors, no model): which groups carry a signal, the library and its operations, the
 * size bounds, prompt assembly. The built-in rule-based stand-in for the paper's LLM is ./trainingFreeRules.ts; the
 * loop is rl/trainingFree.ts.
 */
import { groupMeanStd } from './groupNorm';

/** One experience of the library: a stable id (kept across modifications, so its history can be followed) and its text. */
export interface Experience { id: string; text: string }

/** The four library operations of the paper (the authors' code names them ADD / UPDATE / DELETE / NONE). */
export const EXPERIENCE_OPS = ['add', 'delete', 'modify', 'keep'] as const;
export type ExperienceOpKind = typeof EXPERIENCE_OPS[number];

/** An operation an extractor proposes (the "semantic advantage" of one group, turned into a library edit). */
export interface ExperienceOp {
  op: ExperienceOpKind;
  /** the experience edited (delete, modify; keep may name the one that already says it) */
  id?: string;
  /** the new text (add, modify) */
  text?: string;
  /** why: what the comparison of the group's rollouts showed (recorded, never put in the prompt) */
  rationale: string;
  /** the rollout group it came from */
  group?: string;
}

/** An operation as applied to the library (what experiences.jsonl records). */
export interface AppliedOp extends ExperienceOp {
  /** false: rejected (unknown id, text outside the alphabet, the library full, …); `reason` says why */
  applied: boolean;
  reason?: string;
  /** modify / delete: the text before */
  previous?: string;
}

/** Size bounds of the library: entries, and the length of the assembled prefix in tokens (measured by the caller). */
export interface LibraryBounds { maxExperiences: number; maxTokens: number }

/** Mean and population standard deviation of a group's rewards (groupNorm.ts's mean: an all-equal group has std
 *  exactly 0, so float rounding never makes it look like a group with a better and a worse rollout). */
export function groupStats(rewards: readonly number[]): { mean: number; std: number } {
  const n = rewards.length;
  if (!n) return { mean: NaN, std: NaN };
  const { mean, std } = groupMeanStd(rewards);
  return { mean, std: n < 2 ? 0 : std * Math.sqrt((n - 1) / n) };
}

/**
 * The groups that carry a signal. `variance` (default): the rewards differ (population std > minStd) — an all-equal
 * group has no better and worse rollout to compare, as its GRPO advantages are all 0. `partial`: the authors' filter,
 * 0 < mean accuracy < 1 over the group (training_free_grpo/math/experience.py `_single_rollout_summary`,
 * `only_partial_correct`: `avg_score > 0 and avg_score < 1`), on a 0/1 accuracy per rollout.
 * → the indices of the selected groups, in order.
 */
export function selectGroupsByVariance(groups: readonly { rewards: readonly number[]; accuracy?: readonly number[] }[], mode: 'variance' | 'partial' = 'variance', minStd = 0): number[] {
  const out: number[] = [];
  groups.forEach((g, i) => {
    if (g.rewards.length < 2) return;
    if (mode === 'partial') {
      const acc = g.accuracy ?? g.rewards;
      const m = acc.reduce((a, b) => a + b, 0) / acc.length;
      if (m > 0 && m < 1) out.push(i);
    } else if (groupStats(g.rewards).std > minStd) out.push(i);
  });
  return out;
}

/** The prefix the library puts before the problem: each experience's text followed by `separator`; '' for an empty library. */
export function formatLibrary(library: readonly Experience[], separator = ' '): string {
  return library.map((e) => e.text + separator).join('');
}

/**
 * The prompt a rollout sees: the library prefix, then the problem (the authors' train.py: the problem alone while the
 * library is empty, PROBLEM_WITH_EXPERIENCE_TEMPLATE with the experiences and the problem after).
 */
export function assemblePrompt(library: readonly Experience[], problem: string, separator = ' '): string {
  return formatLibrary(library, separator) + problem;
}

/**
 * Apply a step's operations to the library, in order (the authors' web `_batch_update`: ADD appends with a new id,
 * UPDATE of an unknown id adds, DELETE of an unknown id is skipped, NONE changes nothing). Bounds: an add beyond
 * `maxExperiences`, or an add / modify that would make the assembled prefix longer than `maxTokens` tokens
 * (`measure`), is rejected and recorded with the reason; so is a text `check` refuses (e.g. a character outside the
 * tokenizer's alphabet) and an add whose text is already in the library (recorded as a keep of that one).
 * Never mutates `library`. `nextId` numbers new experiences ("0", "1", …) and continues across steps.
 */
export function applyExperienceOps(
  library: readonly Experience[], ops: readonly ExperienceOp[], bounds: LibraryBounds,
  o: { nextId: number; measure: (lib: readonly Experience[]) => number; check?: (text: string) => string | undefined },
): { library: Experience[]; applied: AppliedOp[]; nextId: number } {
  let lib = library.map((e) => ({ ...e }));
  let nextId = o.nextId;
  const applied: AppliedOp[] = [];
  const reject = (op: ExperienceOp, reason: string, previous?: string) => applied.push({ ...op, applied: false, reason, ...(previous !== undefined ? { previous } : {}) });
  const textProblem = (text: unknown): string | undefined => {
    if (typeof text !== 'string' || !text.length) return 'no text';
    return o.check?.(text);
  };
  for (const op of ops) {
    if (op.op === 'keep') { applied.push({ ...op, applied: true }); continue; }
    if (op.op === 'delete') {
      const k = lib.findIndex((e) => e.id === op.id);
      if (k < 0) { reject(op, `no experience ${JSON.stringify(op.id)} in the library`); continue; }
      applied.push({ ...op, applied: true, previous: lib[k].text });
      lib = lib.filter((_, j) => j !== k);
      continue;
    }
    const bad = textProblem(op.text);
    if (bad) { reject(op, bad); continue; }
    const text = op.text!;
    const k = op.op === 'modify' ? lib.findIndex((e) => e.id === op.id) : -1;
    const dup = lib.find((e) => e.text === text);
    if (dup && (k < 0 || lib[k].id !== dup.id)) { applied.push({ ...op, op: 'keep', id: dup.id, applied: true, reason: `already in the library as ${dup.id} (proposed ${op.op})` }); continue; }
    if (k >= 0) {
      const next = lib.map((e, j) => (j === k ? { ...e, text } : e));
      if (o.measure(next) > bounds.maxTokens) { reject(op, `the library would take ${o.measure(next)} tokens > ${bounds.maxTokens}`, lib[k].text); continue; }
      applied.push({ ...op, applied: true, previous: lib[k].text });
      lib = next;
      continue;
    }
    // add (or a modify of an unknown id: added, as the authors' code does)
    if (lib.length >= bounds.maxExperiences) { reject(op, `the library is full (${bounds.maxExperiences} experiences)`); continue; }
    const e = { id: String(nextId), text };
    const next = [...lib, e];
    if (o.measure(next) > bounds.maxTokens) { reject(op, `the library would take ${o.measure(next)} tokens > ${bounds.maxTokens}`); continue; }
    nextId++;
    applied.push({ ...op, op: 'add', id: e.id, applied: true, ...(op.op === 'modify' ? { reason: `modify of unknown id ${JSON.stringify(op.id)}: added` } : {}) });
    lib = next;
  }
  return { library: lib, applied, nextId };
}

/** Count the applied operations by kind (+ rejected): the step's tfgrpo/ops/* metrics. */
export function countOps(applied: readonly AppliedOp[]): Record<ExperienceOpKind | 'rejected', number> {
  const c = { add: 0, delete: 0, modify: 0, keep: 0, rejected: 0 };
  for (const a of applied) { if (!a.applied) c.rejected++; else c[a.op]++; }
  return c;
}

/**
 * Check an extractor's answer: a list of operations with `op` one of add / delete / modify / keep, `text` a string
 * for add and modify, `id` a string for delete and modify, `rationale` a string (may be empty). Throws naming the
 * offending entry.
 */
export function checkOps(x: unknown, where: string): ExperienceOp[] {
  if (!Array.isArray(x)) throw new Error(`${where}: must return a list of operations ({ op: "add"|"delete"|"modify"|"keep", id?, text?, rationale }), got ${JSON.stringify(x)?.slice(0, 200)}`);
  return x.map((o, i) => {
    const op = o as Record<string, unknown>;
    if (!op || typeof op !== 'object') throw new Error(`${where}[${i}]: must be an object, got ${JSON.stringify(o)}`);
    if (!(EXPERIENCE_OPS as readonly string[]).includes(op.op as string)) throw new Error(`${where}[${i}].op: must be one of ${EXPERIENCE_OPS.join(', ')}, got ${JSON.stringify(op.op)}`);
    if ((op.op === 'add' || op.op === 'modify') && typeof op.text !== 'string') throw new Error(`${where}[${i}].text: ${op.op} needs the experience's text (a string), got ${JSON.stringify(op.text)}`);
    if ((op.op === 'delete' || op.op === 'modify') && typeof op.id !== 'string') throw new Error(`${where}[${i}].id: ${op.op} needs the id of an experience in the library (a string), got ${JSON.stringify(op.id)}`);
    if (op.rationale !== undefined && typeof op.rationale !== 'string') throw new Error(`${where}[${i}].rationale: must be a string, got ${JSON.stringify(op.rationale)}`);
    return { op: op.op as ExperienceOpKind, ...(typeof op.id === 'string' ? { id: op.id } : {}), ...(typeof op.text === 'string' ? { text: op.text } : {}), rationale: (op.rationale as string | undefined) ?? '' };
  });
}
