/**
 * Training-Free GRPO, the pure part (src/trainer/algorithms/trainingFree.ts) and the built-in rules
 * (trainingFreeRules.ts): group selection, library operations and bounds, prompt assembly, the rules' lessons.
 * Expected values are written out by hand from the definitions in docs/algorithms.md (never read back from the code).
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { applyExperienceOps, assemblePrompt, checkOps, countOps, formatLibrary, selectGroupsByVariance, type Experience } from '../../src/trainer/algorithms/trainingFree';
import { abstractText, follows, lessonKind, ruleCritique, summarizeRollout, type GroupView, type RolloutView } from '../../src/trainer/algorithms/trainingFreeRules';
import { CharTokenizer, DEFAULT_CHARS } from '../../src/trainer/tokenizer';
import type { EpisodeTurn } from '../../src/trainer/envs/types';

test('selectGroupsByVariance: only groups whose rewards differ; "partial" = 0 < mean accuracy < 1 (the authors\' filter)', () => {
  const groups = [
    { rewards: [1.1, 1.1, 1.1], accuracy: [1, 1, 1] },      // all equal: no signal
    { rewards: [1.1, 0.1, 0], accuracy: [1, 0, 0] },        // std > 0, mean acc 1/3
    { rewards: [0.1, 0, 0.1], accuracy: [0, 0, 0] },        // std > 0 (format differs), mean acc 0
    { rewards: [0.5], accuracy: [1] },                      // a group of one: nothing to compare
    { rewards: [1, 0.9], accuracy: [1, 1] },                // std 0.05, mean acc 1
  ];
  assert.deepEqual(selectGroupsByVariance(groups), [1, 2, 4]);
  // population std of [1, 0.9] is 0.05, of [0.1, 0, 0.1] is 0.0471…: minStd 0.048 keeps group 4 and drops group 2
  assert.deepEqual(selectGroupsByVariance(groups, 'variance', 0.048), [1, 4]);
  assert.deepEqual(selectGroupsByVariance(groups, 'partial'), [1]);
});

test('prompt assembly: each experience then the separator, then the problem; an empty library leaves the problem alone', () => {
  const lib: Experience[] = [{ id: '0', text: '?a+b=' }, { id: '3', text: '?a+b=c c' }];
  assert.equal(formatLibrary(lib), '?a+b= ?a+b=c c ');
  assert.equal(assemblePrompt(lib, '37+48+19:'), '?a+b= ?a+b=c c 37+48+19:');
  assert.equal(assemblePrompt(lib, '1+2:', ':'), '?a+b=:?a+b=c c:1+2:');
  assert.equal(assemblePrompt([], '37+48+19:'), '37+48+19:');
});

const measure = (lib: readonly Experience[]) => formatLibrary(lib).length;
const tok = new CharTokenizer(DEFAULT_CHARS);
const check = (t: string) => { try { tok.encode(t); return undefined; } catch (e) { return (e as Error).message; } };

test('library operations: add numbers new ids, modify keeps the id, delete removes, keep changes nothing; unknown ids and bad text are rejected', () => {
  const lib: Experience[] = [{ id: '0', text: '?a+b=' }, { id: '1', text: '?a=b b' }];
  const r = applyExperienceOps(lib, [
    { op: 'add', text: '?a+b+c=', rationale: 'r1', group: 'g1' },
    { op: 'modify', id: '1', text: '?a+b=c c', rationale: 'r2', group: 'g2' },
    { op: 'delete', id: '0', rationale: 'r3', group: 'g3' },
    { op: 'keep', rationale: 'r4', group: 'g4' },
    { op: 'delete', id: '9', rationale: 'r5' },
    { op: 'add', text: 'Use THE tool', rationale: 'r6' },
    { op: 'add', text: '', rationale: 'r7' },
  ], { maxExperiences: 5, maxTokens: 100 }, { nextId: 7, measure, check });
  assert.deepEqual(r.library, [{ id: '1', text: '?a+b=c c' }, { id: '7', text: '?a+b+c=' }]);
  assert.equal(r.nextId, 8);
  assert.deepEqual(r.applied.map((a) => [a.op, a.id, a.applied]), [['add', '7', true], ['modify', '1', true], ['delete', '0', true], ['keep', undefined, true], ['delete', '9', false], ['add', undefined, false], ['add', undefined, false]]);
  assert.equal(r.applied[1].previous, '?a=b b');
  assert.equal(r.applied[2].previous, '?a+b=');
  assert.match(r.applied[4].reason!, /no experience "9"/);
  assert.match(r.applied[5].reason!, /alphabet|character|unknown/i);
  assert.deepEqual(countOps(r.applied), { add: 1, delete: 1, modify: 1, keep: 1, rejected: 3 });
  // the input library is not mutated
  assert.deepEqual(lib, [{ id: '0', text: '?a+b=' }, { id: '1', text: '?a=b b' }]);
});

test('library bounds: an add beyond maxExperiences or beyond maxTokens is rejected; a duplicate add is a keep of the existing one', () => {
  const lib: Experience[] = [{ id: '0', text: '?a+b=' }];  // prefix "?a+b= ": 6 characters
  // maxTokens 15: "?a+b= ?a=b b " is 13 → fits; then "?a+b+c= " would make 21 → rejected
  const r = applyExperienceOps(lib, [
    { op: 'add', text: '?a=b b', rationale: '' },
    { op: 'add', text: '?a+b+c=', rationale: '' },
    { op: 'add', text: '?a+b=', rationale: 'dup' },
    { op: 'modify', id: '0', text: '?a+b+c+d+e=', rationale: '' }, // 12 + 7 + 2 = "?a+b+c+d+e= ?a=b b " 19 > 15
  ], { maxExperiences: 3, maxTokens: 15 }, { nextId: 1, measure, check });
  assert.deepEqual(r.library, [{ id: '0', text: '?a+b=' }, { id: '1', text: '?a=b b' }]);
  assert.deepEqual(r.applied.map((a) => [a.op, a.id, a.applied]), [['add', '1', true], ['add', undefined, false], ['keep', '0', true], ['modify', '0', false]]);
  assert.match(r.applied[1].reason!, /21 tokens > 15/);
  assert.match(r.applied[3].reason!, /19 tokens > 15/);
  // entries: with maxExperiences 1 the second add is refused whatever its length
  const f = applyExperienceOps(lib, [{ op: 'add', text: '?a=', rationale: '' }], { maxExperiences: 1, maxTokens: 1000 }, { nextId: 1, measure });
  assert.equal(f.library.length, 1);
  assert.match(f.applied[0].reason!, /full \(1 experiences\)/);
  // the authors' rule: an UPDATE (modify) of an unknown id adds
  const m = applyExperienceOps([], [{ op: 'modify', id: 'x', text: '?a=', rationale: '' }], { maxExperiences: 2, maxTokens: 100 }, { nextId: 4, measure });
  assert.deepEqual(m.library, [{ id: '4', text: '?a=' }]);
  assert.equal(m.applied[0].op, 'add');
});

test('checkOps: clear errors naming the entry', () => {
  assert.throws(() => checkOps({ op: 'add' }, 'ex'), /ex: must return a list of operations/);
  assert.throws(() => checkOps([{ op: 'insert', text: 'a' }], 'ex'), /ex\[0\]\.op: must be one of add, delete, modify, keep, got "insert"/);
  assert.throws(() => checkOps([{ op: 'keep' }, { op: 'add' }], 'ex'), /ex\[1\]\.text: add needs the experience's text/);
  assert.throws(() => checkOps([{ op: 'delete' }], 'ex'), /ex\[0\]\.id: delete needs the id/);
  assert.deepEqual(checkOps([{ op: 'modify', id: '2', text: 't' }], 'ex'), [{ op: 'modify', id: '2', text: 't', rationale: '' }]);
});

// episodes written by hand in the calculator's syntax: prompt 37+48+19:, total 104
const turn = (text: string, call?: string, result?: string, error?: string): EpisodeTurn => ({ text, ...(call !== undefined ? { call } : {}), ...(result !== undefined ? { result } : {}), ...(error ? { error } : {}), reward: error ? -0.1 : 0, start: 0, end: 0, anchor: '' });
const good: EpisodeTurn[] = [turn('?37+48=', '37+48', '85'), turn('?85+19=', '85+19', '104'), turn('104')];
const copyErr: EpisodeTurn[] = [turn('?37+48=', '37+48', '85'), turn('?85+19=', '85+19', '104'), turn('105')];
const badCall: EpisodeTurn[] = [turn('?37+=', '37+', 'err', 'not a sum'), turn('99')];
const noCall: EpisodeTurn[] = [turn('103')];
const roll = (index: number, turns: EpisodeTurn[], score: number, correct: boolean, finished = true): RolloutView => ({ index, turns, score, correct, finished, completion: '' });

test('rules: summaries, abstraction, lesson kinds', () => {
  const s = summarizeRollout(roll(0, good, 1.1, true));
  assert.deepEqual([s.cleanCalls, s.badCalls, s.lastResult, s.answer], [['37+48', '85+19'], 0, '104', '104']);
  assert.equal(s.text, 'calls ?37+48=85 ?85+19=104, answer "104", correct');
  const b = summarizeRollout(roll(1, badCall, -0.1 + 0.1, false));
  assert.deepEqual([b.cleanCalls, b.badCalls, b.answer], [[], 1, '99']);
  assert.equal(abstractText('37+48'), 'a+b');
  assert.equal(abstractText('37+37-5'), 'a+a-b');
  assert.equal(abstractText('c'), 'a');
  assert.equal(lessonKind('?a+b='), 'call');
  assert.equal(lessonKind('?a+b=c c'), 'answer');
  assert.equal(lessonKind('use the tool'), undefined);
  assert.equal(follows(s, '?a+b='), true);
  assert.equal(follows(s, '?a+b+c='), false);
  assert.equal(follows(s, '?a+b=c c'), true);
  assert.equal(follows(summarizeRollout(roll(2, copyErr, 0.1, false)), '?a+b=c c'), false);
});

test('rules: one operation per group — add a call lesson, keep it when known, modify a kin, a copy lesson, delete a contradicted one', () => {
  const g = (rollouts: RolloutView[]): GroupView => ({ id: 'g', problem: '37+48+19:', answer: '104', rollouts });
  // the worst made a bad call, the best called the tool cleanly → add "?a+b="
  const ops1 = ruleCritique(g([roll(0, badCall, 0, false), roll(1, good, 1.1, true), roll(2, noCall, 0.1, false)]), []);
  assert.equal(ops1.length, 1);
  assert.deepEqual([ops1[0].op, ops1[0].text, ops1[0].group], ['add', '?a+b=', 'g']);
  assert.match(ops1[0].rationale, /worst rollout #0 .* made 1 bad call\(s\); the best #1 .* called \?37\+48=/);
  // already in the library → keep that one
  const ops2 = ruleCritique(g([roll(0, badCall, 0, false), roll(1, good, 1.1, true)]), [{ id: '5', text: '?a+b=' }]);
  assert.deepEqual([ops2[0].op, ops2[0].id], ['keep', '5']);
  // a call lesson of another shape in the library → modify it (the best's first call was a three-term sum)
  const oneCall = [turn('?37+48+19=', '37+48+19', '104'), turn('104')];
  const ops3 = ruleCritique(g([roll(0, noCall, 0.1, false), roll(1, oneCall, 1.1, true)]), [{ id: '2', text: '?a+b=' }]);
  assert.deepEqual([ops3[0].op, ops3[0].id, ops3[0].text], ['modify', '2', '?a+b+c=']);
  // both called; the best answered its last result, the worst did not → the answer lesson "?a+b=c c" (85+19 → a+b, 104 → c)
  const ops4 = ruleCritique(g([roll(0, copyErr, 0.1, false), roll(1, good, 1.1, true)]), []);
  assert.deepEqual([ops4[0].op, ops4[0].text], ['add', '?a+b=c c']);
  // contradiction: the worst follows "?a+b+c=" (a one-call sum it then answered wrongly… with a bad call later) and the
  // best does not (two-term calls) → delete it before anything else
  const worstFollows = [turn('?37+48+19=', '37+48+19', '104'), turn('?104+1=', '104+', 'err', 'bad'), turn('9')];
  const ops5 = ruleCritique(g([roll(0, worstFollows, -0.1, false), roll(1, good, 1.1, true)]), [{ id: '3', text: '?a+b+c=' }]);
  assert.deepEqual([ops5[0].op, ops5[0].id], ['delete', '3']);
  // all equal, or no rule: keep without an id
  assert.deepEqual(ruleCritique(g([roll(0, good, 1.1, true), roll(1, good, 1.1, true)]), []).map((o) => [o.op, o.id]), [['keep', undefined]]);
  const ops6 = ruleCritique(g([roll(0, noCall, 0, false), roll(1, [turn('104')], 1.1, true)]), []);
  assert.equal(ops6[0].op, 'keep');
  assert.match(ops6[0].rationale, /no rule explains/);
  // every text the rules write is in the character tokenizer's alphabet
  for (const o of [...ops1, ...ops3, ...ops4]) assert.equal(check(o.text!), undefined, o.text);
});
