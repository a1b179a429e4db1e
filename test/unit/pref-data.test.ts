// Preference data: TRL JSONL formats, errors with file:line and field, no silent drops, synthetic sets.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  PreferenceDataError, loadPreferenceFile, parsePreferenceJsonl, rankingToPairs, unpairPreferences,
  hiddenScore, syntheticPairs, syntheticRankings, arithmeticExamples, splitByPrompt, toJsonl, taskExamples,
  contrastPairs, correctnessPairs, sameFormatWrong, shorterWrongs, extractPrompt, formatProblem, type PairRecord, type UnpairedRecord,
} from '../../src/trainer/preference/data';
import { Rng } from '../../src/trainer/rng';
import { createTask, splitOf } from '../../src/trainer/tasks';

function tmpFile(name: string, text: string): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'rllens-pref-'));
  const f = path.join(d, name);
  fs.writeFileSync(f, text);
  return f;
}

test('pref data: the three TRL formats load, with counts', () => {
  const pw = tmpFile('p.jsonl', '{"prompt":"1+1=","chosen":"2","rejected":"3","margin":0.5}\n\n{"prompt":"2+2=","chosen":"4","rejected":"44","score_chosen":1,"score_rejected":0.2}\n');
  const d = loadPreferenceFile(pw);
  assert.equal(d.kind, 'pairwise');
  assert.deepEqual(d.counts, { lines: 3, records: 2, badLines: 0, blankLines: 1 });
  assert.equal(d.kind === 'pairwise' && d.records[0].margin, 0.5);
  assert.equal(d.kind === 'pairwise' && d.records[1].scoreRejected, 0.2);
  assert.deepEqual(d.kind === 'pairwise' && d.records[1].source, { file: pw, line: 3 });
  const kto = loadPreferenceFile(tmpFile('k.jsonl', '{"prompt":"1+1=","completion":"2","label":true}\n{"prompt":"1+1=","completion":"5","label":false}'));
  assert.equal(kto.kind, 'unpaired');
  assert.equal(kto.records.length, 2, 'unterminated last line that parses is kept');
  const rk = loadPreferenceFile(tmpFile('r.jsonl', '{"prompt":"x","completions":["a","b","c"],"ranking":[2,0,1]}\n'));
  assert.equal(rk.kind, 'ranking');
  // ranking → pairwise: all C(3,2) = 3 pairs, better first
  const asPairs = loadPreferenceFile(rk.file, { expect: 'pairwise' });
  assert.equal(asPairs.kind, 'pairwise');
  assert.deepEqual(asPairs.records.map((r) => [(r as { chosen: string }).chosen, (r as { rejected: string }).rejected]), [['c', 'a'], ['c', 'b'], ['a', 'b']]);
  // pairwise → unpaired for KTO (TRL unpair_preference_dataset)
  const u = unpairPreferences([{ prompt: 'p', chosen: 'a', rejected: 'b' }]);
  assert.deepEqual(u.map((x) => [x.completion, x.label]), [['a', true], ['b', false]]);
  assert.equal(rankingToPairs([{ prompt: 'p', completions: ['a', 'b', 'c', 'd'], ranking: [0, 1, 2, 3] }]).length, 6);
});

test('pref data: bad lines give file:line and field, and loading refuses to start unless allowBadLines', () => {
  const text = [
    '{"prompt":"1+1=","chosen":"2","rejected":"3"}',
    '{"prompt":"1+2=","chosen":"3"}',
    'not json',
    '{"prompt":"1+3=","chosen":4,"rejected":"5"}',
    '{"prompt":"1+4=","completion":"5","label":true}',
    '{"prompt":"1+5=","chosen":"6","rejected":"7","margin":"big"}',
    '{"prompt":"1+6=","chosen":"7","rejected":"8"}',
  ].join('\n') + '\n';
  const f = tmpFile('bad.jsonl', text);
  let err: PreferenceDataError | undefined;
  try { loadPreferenceFile(f); } catch (e) { err = e as PreferenceDataError; }
  assert.ok(err instanceof PreferenceDataError, 'must throw');
  const where = err.problems.map((p) => `${p.line}:${p.field ?? ''}`);
  assert.deepEqual(where, ['3:', '2:rejected', '4:chosen', '5:', '6:margin']);
  assert.match(err.message, new RegExp(`${f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:2 field "rejected": missing`));
  assert.match(err.message, /:5: a unpaired record in a pairwise file/);
  assert.match(err.message, /5 bad of 7 lines/);
  assert.match(err.message, /allowBadLines/);
  const ok = loadPreferenceFile(f, { allowBadLines: true });
  assert.equal(ok.records.length, 2);
  assert.deepEqual(ok.counts, { lines: 7, records: 2, badLines: 5, blankLines: 0 });
  assert.equal(ok.problems.length, 5);
  // ranking errors
  const r = parsePreferenceJsonl('{"prompt":"x","completions":["a","b"],"ranking":[0,0]}\n{"prompt":"x","completions":["a"],"ranking":[0]}\n', 'r.jsonl');
  assert.deepEqual(r.problems.map((p) => `${p.line}:${p.field}`), ['1:ranking', '2:completions']);
  assert.throws(() => loadPreferenceFile('/nonexistent/x.jsonl'), /x\.jsonl: file not found/);
  // a file of the wrong kind for the method that cannot be converted
  const kf = tmpFile('k.jsonl', '{"prompt":"a","completion":"b","label":true}\n');
  assert.throws(() => loadPreferenceFile(kf, { expect: 'pairwise' }), /needs pairwise data .* holds unpaired records/);
});

test('pref data: hidden score orders correct+concise > correct+verbose > wrong; synthetic sets follow it', () => {
  assert.equal(hiddenScore('12', '12'), 1);
  assert.ok(Math.abs(hiddenScore('122', '12') - 0.9) < 1e-12);
  assert.ok(hiddenScore('122', '12') > hiddenScore('13', '12'));
  assert.ok(hiddenScore('13', '12') > hiddenScore('99', '12'));
  assert.ok(hiddenScore('99', '12') > hiddenScore('9999', '12'));
  const ex = arithmeticExamples(50, 7);
  assert.deepEqual(ex, arithmeticExamples(50, 7), 'deterministic');
  const rk = syntheticRankings(ex, { count: 50, seed: 1, k: 4 });
  assert.ok(rk.length >= 45);
  for (const r of rk) {
    const s = r.ranking.map((i) => r.scores![i]);
    for (let i = 1; i < s.length; i++) assert.ok(s[i - 1] > s[i], `ranking sorted by hidden score, strictly: ${JSON.stringify(r)}`);
  }
  const pairs = syntheticPairs(ex, { count: 50, seed: 1 });
  assert.ok(pairs.every((p) => p.scoreChosen! > p.scoreRejected!));
  assert.ok(pairs.every((p) => /^[0-9]+$/.test(p.chosen) && /^[0-9]+$/.test(p.rejected)), 'within the digit alphabet');
  // round trip through JSONL keeps everything
  const back = parsePreferenceJsonl(toJsonl({ kind: 'pairwise', records: pairs }), 'x.jsonl');
  assert.equal(back.problems.length, 0);
  assert.equal(back.records.length, pairs.length);
  const sp = splitByPrompt(pairs, 0.2, 3);
  assert.equal(sp.train.length + sp.eval.length, pairs.length);
  const evalPrompts = new Set(sp.eval.map((p) => p.prompt));
  assert.ok(sp.train.every((p) => !evalPrompts.has(p.prompt)), 'no prompt on both sides');
});

test('pref data: built-in sets draw train prompts from the task\'s train split and eval prompts from its eval split', () => {
  const task = createTask('arithmetic', { difficulty: 1 });
  const tr = taskExamples(task, 300, 1, 'train'), ev = taskExamples(task, 20, 1, 'eval');
  assert.equal(tr.examples.length, 300, 'small problem spaces repeat prompts to reach the count');
  assert.ok(new Set(tr.examples.map((e) => e.prompt)).size > 50, 'distinct prompts first');
  assert.ok(tr.examples.every((e) => splitOf(e.prompt, task.options.evalFraction) === 'train'));
  assert.ok(ev.examples.every((e) => splitOf(e.prompt, task.options.evalFraction) === 'eval'));
  assert.ok(ev.examples.every((e) => { const [a, b] = e.prompt.slice(0, -1).split('+').map(Number); return String(a + b) === e.answer; }), 'answers are the task\'s');
  assert.match(tr.alphabet, /^[0-9-]+$/);
});

test('pref data: the contrast set balances length, so only correctness separates most pairs', () => {
  // same-format wrong answers: integers keep their digit count and sign; other strings get one character replaced
  const rng = new Rng(3);
  for (const a of ['7', '18', '105', '-42']) {
    for (let i = 0; i < 30; i++) {
      const w = sameFormatWrong(a, rng, '0123456789')!;
      assert.notEqual(w, a);
      assert.equal(w.length, a.length, `${a} → ${w}`);
      assert.ok(Math.abs(Number(w) - Number(a)) <= 3, `${a} → ${w}: offset of at most 3`);
    }
  }
  const s = sameFormatWrong('abc', rng, 'abc')!;
  assert.equal(s.length, 3); assert.notEqual(s, 'abc');
  assert.equal(sameFormatWrong('aaa', rng, 'a'), undefined, 'no wrong string over a one-letter alphabet');

  const ex = arithmeticExamples(50, 2);
  const pairs = contrastPairs(ex, { count: 50, seed: 1, wrongPerPrompt: 3 });
  const ans = new Map(ex.map((e) => [e.prompt, e.answer]));
  // every pair is a strict preference under the hidden rule
  assert.ok(pairs.every((p) => hiddenScore(p.chosen, ans.get(p.prompt)!) > hiddenScore(p.rejected, ans.get(p.prompt)!)));
  const eqLen = pairs.filter((p) => p.chosen.length === p.rejected.length);
  const chosenLonger = pairs.filter((p) => p.chosen.length > p.rejected.length);
  const chosenShorter = pairs.filter((p) => p.chosen.length < p.rejected.length);
  // per prompt: up to 3 (answer, wrong) + 1 (answer+x, wrong+x) pairs of equal length, 2 with a longer rejected and
  // (up to) 2 with a shorter rejected: length is no shortcut in either direction
  assert.ok(eqLen.length >= 0.45 * pairs.length, `${eqLen.length} of ${pairs.length} pairs have equal lengths`);
  assert.ok(chosenLonger.length >= 0.8 * chosenShorter.length && chosenLonger.length <= chosenShorter.length,
    `as many pairs prefer the longer completion (${chosenLonger.length}) as the shorter one (${chosenShorter.length})`);
  // the shorter wrong answers are the error a policy makes near a digit boundary ("3+7=" → "9") or an early EOS
  const sw = (a: string) => shorterWrongs(a, new Rng(3), 9).sort();
  assert.deepEqual(sw('10'), ['0', '1', '7', '8', '9']);
  assert.deepEqual(sw('100'), ['00', '10', '97', '98', '99']);
  assert.deepEqual(sw('7'), ['']);
  assert.deepEqual(sw('ab'), ['a', 'b']);
  assert.deepEqual(sw('12'), ['1', '2', '9']);
  assert.equal(shorterWrongs('10', new Rng(1), 2).length, 2);
  assert.ok(eqLen.some((p) => p.chosen !== ans.get(p.prompt)), 'some equal-length pairs are correct+verbose vs wrong+verbose');
  assert.ok(pairs.some((p) => p.chosen === ans.get(p.prompt) && p.rejected.startsWith(p.chosen)), 'concise vs verbose pairs');
  // held-out correctness-only pairs: the answer vs a same-length wrong answer
  const cp = correctnessPairs(ex, 5);
  assert.equal(cp.length, ex.length);
  assert.ok(cp.every((p) => p.chosen === ans.get(p.prompt) && p.rejected !== p.chosen && p.rejected.length === p.chosen.length));
});

test('pref data: TRL\'s other preference formats: implicit prompt, conversational (explicit and implicit), unpaired conversational', () => {
  const lines = [
    // TRL docs (dataset_formats.md), implicit prompt: → prompt "The sky is", chosen " blue.", rejected " green."
    { chosen: 'The sky is blue.', rejected: 'The sky is green.' },
    // no space before the difference: the split falls at the first differing character
    { chosen: '2+3=5', rejected: '2+3=6' },
    // conversational, explicit prompt (TRL docs example)
    { prompt: [{ role: 'user', content: 'What color is the sky?' }], chosen: [{ role: 'assistant', content: 'It is blue.' }], rejected: [{ role: 'assistant', content: 'It is green.' }] },
    // conversational, implicit prompt: the shared leading messages are the prompt
    { chosen: [{ role: 'user', content: 'What color is the sky?' }, { role: 'assistant', content: 'It is blue.' }], rejected: [{ role: 'user', content: 'What color is the sky?' }, { role: 'assistant', content: 'It is green.' }] },
    // multi-turn prompt; content as text parts
    { prompt: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: [{ type: 'text', text: '1+1' }, { type: 'text', text: '=' }] }], chosen: [{ role: 'assistant', content: '2' }], rejected: [{ role: 'assistant', content: '3' }] },
  ];
  const d = parsePreferenceJsonl(lines.map((l) => JSON.stringify(l)).join('\n') + '\n', 'trl.jsonl');
  assert.deepEqual(d.problems, []);
  assert.equal(d.kind, 'pairwise');
  const got = (d.records as PairRecord[]).map((r) => [r.prompt, r.chosen, r.rejected]);
  assert.deepEqual(got, [
    ['The sky is', ' blue.', ' green.'],
    ['2+3=', '5', '6'],
    ['What color is the sky?', 'It is blue.', 'It is green.'],
    ['What color is the sky?', 'It is blue.', 'It is green.'],
    ['Be brief.\n1+1=', '2', '3'],
  ]);
  // TRL's loop quirk: one completion a prefix of the other → the split falls one character before the shorter's end
  assert.deepEqual(extractPrompt(Array.from('abc'), Array.from('abcd')), { prompt: ['a', 'b'], chosen: ['c'], rejected: ['c', 'd'] });
  const kto = parsePreferenceJsonl(JSON.stringify({ prompt: [{ role: 'user', content: '2+2=' }], completion: [{ role: 'assistant', content: '4' }], label: true }) + '\n', 'kto.jsonl');
  assert.deepEqual(kto.problems, []);
  assert.deepEqual((kto.records as UnpairedRecord[]).map((r) => [r.prompt, r.completion, r.label]), [['2+2=', '4', true]]);
  // a broken message is reported with its field and index, once
  const bad = parsePreferenceJsonl([
    JSON.stringify({ prompt: [{ role: 'user' }], chosen: '1', rejected: '2' }),
    JSON.stringify({ chosen: 'abc', rejected: 'xyz' }),
    JSON.stringify({ chosen: [{ role: 'assistant', content: 'a' }], rejected: [{ role: '', content: 'b' }] }),
  ].join('\n') + '\n', 'bad.jsonl');
  assert.deepEqual(bad.problems.map(formatProblem), [
    'bad.jsonl:1 field "prompt[0].content": expected a string (or a list of {"type": "text", "text"} parts), got nothing',
    'bad.jsonl:3 field "rejected[0].role": expected a non-empty string ("system", "user", "assistant", ...)',
  ]);
  // "abc" vs "xyz" differ at once: the implicit prompt is empty (allowed, as in TRL); both completions kept whole
  assert.deepEqual((bad.records as PairRecord[]).map((r) => [r.prompt, r.chosen, r.rejected]), [['', 'abc', 'xyz']]);
});
