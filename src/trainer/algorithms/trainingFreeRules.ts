/**
 * The built-in, rule-based experience extractor of Training-Free GRPO for the built-in tool environments (calc-tool,
 * lookup-tool): a **stand-in for the paper's LLM**, which we do not have here. It follows the authors' three stages
 * (training_free_grpo/math/experience.py ExperienceUpdater.run): (1) summarise each rollout, (2) per group compare the
 * rollouts and propose at most `maxOperations` library operations (`max_operations=1` there), (3) the batch update
 * (algorithms/trainingFree.ts applyExperienceOps). Where the authors ask an LLM to write a natural-language lesson,
 * these rules write a short **pattern** in the tokenizer's alphabet, with numbers and keys replaced by variables
 * a, b, c, … (`?37+48=` → `?a+b=`):
 *
 * | lesson | when (best vs worst rollout of the group) | text |
 * |---|---|---|
 * | call | the worst made a bad call (err) or no call, or ran out of budget with more calls than the best; the best made clean calls | the best's first call, abstracted: `?a+b=` |
 * | answer | both made clean calls; the best answered its last tool result, the worst answered something else | the best's last call, its result and the answer: `?a+b=c c` |
 *
 * A lesson whose kind is already in the library with the same text is a Keep, with another text a Modify (the newer
 * evidence wins), else an Add. Before that, an experience the group contradicts — the worst rollout follows it and the
 * best does not — is Deleted (one operation per group, the delete first). No rule fits: Keep, "no rule explains the
 * difference". The rationale (English, recorded only, never in the prompt) names the rollouts compared.
 */
import type { EpisodeTurn } from '../envs/types';
import type { Experience, ExperienceOp } from './trainingFree';

/** What the extractor sees of one rollout. */
export interface RolloutView {
  /** index in the step's samples */
  index: number;
  score: number;
  correct: boolean;
  /** ended with EOS (not truncated) */
  finished: boolean;
  turns: readonly EpisodeTurn[];
  completion: string;
}

/** What the extractor sees of one group. */
export interface GroupView { id: string; problem: string; answer?: string; rollouts: readonly RolloutView[] }

/** Stage 1: the facts of a rollout the rules compare. */
export interface RolloutSummary {
  index: number;
  score: number;
  correct: boolean;
  finished: boolean;
  /** the arguments of the calls that got a tool result (not err) */
  cleanCalls: string[];
  /** calls answered with the error observation, and turns that ended on '=' without a valid call */
  badCalls: number;
  /** the last clean call's result */
  lastResult?: string;
  /** the final answer (the last turn's text when it made no call); undefined when the episode ended on a call */
  answer?: string;
  /** one line for the record: "calls ?37+48=85 ?85+19=104, answer 104, correct" */
  text: string;
}

export function summarizeRollout(r: RolloutView): RolloutSummary {
  const calls = r.turns.filter((t) => t.call !== undefined || t.result !== undefined);
  const clean = calls.filter((t) => !t.error && t.result !== undefined && t.call !== undefined);
  const last = r.turns[r.turns.length - 1];
  const answer = last && last.call === undefined && last.result === undefined ? last.text : undefined;
  const lastClean = clean[clean.length - 1];
  const parts = [
    calls.length ? `calls ${calls.map((t) => `?${t.call ?? ''}=${t.result ?? ''}${t.error ? ' (bad)' : ''}`).join(' ')}` : 'no call',
    answer !== undefined ? `answer ${JSON.stringify(answer)}` : 'no answer',
    r.correct ? 'correct' : 'wrong',
    ...(r.finished ? [] : ['truncated']),
  ];
  return {
    index: r.index, score: r.score, correct: r.correct, finished: r.finished,
    cleanCalls: clean.map((t) => t.call!), badCalls: calls.length - clean.length,
    ...(lastClean ? { lastResult: lastClean.result } : {}), ...(answer !== undefined ? { answer } : {}),
    text: parts.join(', '),
  };
}

const VARS = 'abcdefgh';

/**
 * Replace every maximal run of digits or letters by a variable a, b, c, … in order of first appearance (the same
 * run gets the same variable): `37+48` → `a+b`, `37+37` → `a+a`, `c` → `a`. `seen` carries the assignment across calls.
 */
export function abstractText(s: string, seen: Map<string, string> = new Map()): string {
  return s.replace(/[0-9]+|[a-z]+/g, (m) => {
    if (!seen.has(m)) seen.set(m, VARS[Math.min(seen.size, VARS.length - 1)]);
    return seen.get(m)!;
  });
}

/** The kind of an experience text written by these rules (undefined: not one of theirs). */
export function lessonKind(text: string): 'call' | 'answer' | undefined {
  if (/^\?[a-h+-]+=$/.test(text)) return 'call';
  if (/^\?[a-h+-]+=[a-h] [a-h]$/.test(text)) return 'answer';
  return undefined;
}

/** Does the rollout follow the experience? call: its first clean call has that shape; answer: it answered its last result. */
export function follows(s: RolloutSummary, text: string): boolean {
  const kind = lessonKind(text);
  if (kind === 'call') return s.cleanCalls.length > 0 && `?${abstractText(s.cleanCalls[0])}=` === text;
  if (kind === 'answer') return s.lastResult !== undefined && s.answer === s.lastResult;
  return false;
}

/** The lesson of best vs worst, or undefined. */
export function lessonOf(best: RolloutSummary, worst: RolloutSummary): { kind: 'call' | 'answer'; text: string; why: string } | undefined {
  const bestClean = best.cleanCalls.length > 0 && best.badCalls === 0;
  if (bestClean && (worst.badCalls > 0 || worst.cleanCalls.length === 0 || (!worst.finished && best.finished && worst.cleanCalls.length + worst.badCalls > best.cleanCalls.length))) {
    const text = `?${abstractText(best.cleanCalls[0])}=`;
    const what = worst.badCalls > 0 ? `made ${worst.badCalls} bad call(s)` : worst.cleanCalls.length === 0 ? 'made no call' : `ran out of budget after ${worst.cleanCalls.length + worst.badCalls} calls`;
    return { kind: 'call', text, why: `the worst rollout #${worst.index} (${worst.text}) ${what}; the best #${best.index} (${best.text}) called ?${best.cleanCalls[0]}=` };
  }
  if (bestClean && worst.cleanCalls.length > 0 && best.lastResult !== undefined && best.answer === best.lastResult && worst.answer !== worst.lastResult) {
    const seen = new Map<string, string>();
    const call = abstractText(best.cleanCalls[best.cleanCalls.length - 1], seen);
    const v = abstractText(best.lastResult, seen);
    return { kind: 'answer', text: `?${call}=${v} ${v}`, why: `the best rollout #${best.index} (${best.text}) answered its last tool result; the worst #${worst.index} (${worst.text}) answered ${JSON.stringify(worst.answer ?? '')} after the result ${worst.lastResult}` };
  }
  return undefined;
}

/**
 * Stage 2 for one group: compare its best and worst rollouts (by score; ties: the first) and propose at most
 * `maxOperations` operations against `library`.
 */
export function ruleCritique(group: GroupView, library: readonly Experience[], maxOperations = 1): ExperienceOp[] {
  if (group.rollouts.length < 2 || maxOperations < 1) return [];
  const sums = group.rollouts.map(summarizeRollout);
  let best = sums[0], worst = sums[0];
  for (const s of sums) { if (s.score > best.score) best = s; if (s.score < worst.score) worst = s; }
  if (best.score === worst.score) return [{ op: 'keep', rationale: 'all rollouts scored the same: no better and worse to compare', group: group.id }];
  const ops: ExperienceOp[] = [];
  for (const e of library) {
    if (ops.length >= maxOperations) break;
    if (lessonKind(e.text) && follows(worst, e.text) && !follows(best, e.text)) {
      ops.push({ op: 'delete', id: e.id, rationale: `contradicted: the worst rollout #${worst.index} (${worst.text}) follows ${JSON.stringify(e.text)}, the best #${best.index} (${best.text}) does not`, group: group.id });
    }
  }
  if (ops.length >= maxOperations) return ops;
  const l = lessonOf(best, worst);
  if (!l) return [...ops, { op: 'keep', rationale: `no rule explains the difference between the best #${best.index} (${best.text}) and the worst #${worst.index} (${worst.text})`, group: group.id }];
  const deleted = new Set(ops.map((o) => o.id));
  const same = library.find((e) => !deleted.has(e.id) && e.text === l.text);
  if (same) return [...ops, { op: 'keep', id: same.id, text: l.text, rationale: `already in the library: ${l.why}`, group: group.id }];
  const kin = library.find((e) => !deleted.has(e.id) && lessonKind(e.text) === l.kind);
  if (kin) return [...ops, { op: 'modify', id: kin.id, text: l.text, rationale: `refines ${JSON.stringify(kin.text)}: ${l.why}`, group: group.id }];
  return [...ops, { op: 'add', text: l.text, rationale: l.why, group: group.id }];
}
