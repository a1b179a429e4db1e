// Finding samples in the heatmap (src/webview/data/sampleFilter.ts, step.ts sortAndFilter): ranges typed into filter
// fields, correctness, advantage sign, length, truncated, text and reward-part filters, sorting by any of them.
// Expected rows are computed here by brute force from the samples as stored (not with the functions under test).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parseRange, formatRange, inRange, isCorrect, shortText, lineLabel } from '../../src/webview/data/sampleFilter';
import { sampleStats, sortAndFilter, type StepData } from '../../src/webview/data/step';
import { readRolloutStep, listRolloutSteps } from '../../src/runio/reader';
import { makeRun } from '../fixtures/makeRun';
import type { FilterSpec } from '../../src/shared/protocol';

function lastStep(dir: string): StepData {
  const { header, samples, data } = readRolloutStep(dir, listRolloutSteps(dir).at(-1)!);
  return { header, samples, data };
}

test('filter ranges: values, ranges, bounds; unreadable text is an error; formatRange reads back', () => {
  assert.deepEqual(parseRange('0'), { min: 0, max: 0 });
  assert.deepEqual(parseRange(' 0.5..1 '), { min: 0.5, max: 1 });
  assert.deepEqual(parseRange('-1..-0.5'), { min: -1, max: -0.5 });
  assert.deepEqual(parseRange('0.5 to 1'), { min: 0.5, max: 1 });
  assert.deepEqual(parseRange('>0'), { min: 0, minOpen: true });
  assert.deepEqual(parseRange('>= 0.1'), { min: 0.1 });
  assert.deepEqual(parseRange('≤20'), { max: 20 });
  assert.deepEqual(parseRange('<20'), { max: 20, maxOpen: true });
  assert.deepEqual(parseRange('..3'), { max: 3 });
  assert.deepEqual(parseRange('1e-3..'), { min: 0.001 });
  assert.equal(parseRange('   '), undefined);
  assert.throws(() => parseRange('abc'), /not a range/);
  assert.throws(() => parseRange('2..1'), /2 > 1/);
  for (const t of ['0', '0.5..1', '>0', '>=0.1', '<20', '<=20']) assert.deepEqual(parseRange(formatRange(parseRange(t))), parseRange(t), t);
  assert.ok(inRange(0, parseRange('0')!) && !inRange(0.1, parseRange('0')!));
  assert.ok(!inRange(0, parseRange('>0')!) && inRange(1e-9, parseRange('>0')!));
  assert.ok(!inRange(NaN, parseRange('..1')!) && !inRange(undefined, parseRange('..1')!), 'a missing value never matches');
  assert.equal(isCorrect({ reward: 0.1, rewardParts: { accuracy: 0, format: 0.1 } }), false, 'accuracy part decides, not reward > 0');
  assert.equal(isCorrect({ reward: -1, rewardParts: { correct: 1 } }), true);
  assert.equal(isCorrect({ reward: 0.5 }), true);
  assert.equal(isCorrect({ reward: 0 }), false);
  assert.equal(shortText('a\n\n b\tc', 10), 'a b c');
  assert.equal(shortText('x'.repeat(50), 10), `${'x'.repeat(9)}…`);
  assert.equal(lineLabel('17 + 25 =\n ?'), '17 + 25 = ?', 'plain spaces in a prompt label');
  assert.equal(lineLabel('a\u202Eb <script>'), 'a⟨RLO⟩b <script>', 'bidi controls made visible, markup stays literal text');
});

test('"completions whose advantage was positive but whose reward part format was 0": exactly those, by brute force', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rl-lens-find-'));
  try {
    // several seeds: the answer must be right whether it is empty, one sample or many
    let nonEmpty = 0;
    for (const seed of [1, 2, 3, 4, 5, 6]) {
      const st = lastStep(makeRun({ dir: path.join(tmp, `g${seed}`), algorithm: 'grpo', steps: 5, groups: 8, seed }));
      st.samples.forEach((s) => { s.truncated = s.length >= 18; }); // the fixture never truncates: make some
      const stats = sampleStats(st);
      const filter: FilterSpec = { groups: 'all', advantage: 'pos', part: { name: 'format', range: parseRange('0')! } };
      const got = sortAndFilter(stats, { key: 'index', descending: false }, filter);
      const want = st.samples.map((s, i) => ((s.advantage ?? NaN) > 0 && s.rewardParts?.format === 0 ? i : -1)).filter((i) => i >= 0);
      assert.deepEqual(got, want, `seed ${seed}`);
      for (const i of got) { assert.ok(st.samples[i].advantage! > 0); assert.equal(st.samples[i].rewardParts!.format, 0); }
      if (want.length) nonEmpty++;
      // and the other filters, each against its own brute-force answer
      const check = (f: Partial<FilterSpec>, pred: (i: number) => boolean, what: string) => {
        const rows = sortAndFilter(stats, { key: 'index', descending: false }, { groups: 'all', ...f });
        assert.deepEqual(rows, st.samples.map((_, i) => i).filter(pred), `seed ${seed}: ${what}`);
      };
      const S = st.samples;
      const correct = (i: number) => (S[i].rewardParts?.accuracy ?? 0) > 0;
      check({ reward: parseRange('>=1') }, (i) => S[i].reward >= 1, 'reward ≥ 1');
      check({ reward: parseRange('0.5..1') }, (i) => S[i].reward >= 0.5 && S[i].reward <= 1, 'reward in 0.5..1');
      check({ correct: true }, correct, 'correct');
      check({ correct: false }, (i) => !correct(i), 'wrong');
      check({ advantage: 'neg' }, (i) => S[i].advantage! < 0, 'A < 0');
      check({ advantage: 'zero' }, (i) => S[i].advantage === 0, 'A = 0');
      check({ length: parseRange('<12') }, (i) => S[i].length < 12, 'length < 12');
      assert.ok(S.some((x) => x.truncated) && S.some((x) => !x.truncated));
      check({ truncated: true }, (i) => !!S[i].truncated, 'truncated');
      check({ truncated: false }, (i) => !S[i].truncated, 'not truncated');
      const word = S[3].prompt.slice(0, 4).toUpperCase();
      check({ text: word }, (i) => S[i].prompt.toLowerCase().includes(word.toLowerCase()) || S[i].completion.toLowerCase().includes(word.toLowerCase()), `text "${word}"`);
      check({ text: 'the sum' }, (i) => S[i].completion.toLowerCase().includes('the sum') || S[i].prompt.toLowerCase().includes('the sum'), 'text in completions');
      check({ part: { name: 'nope', range: { min: 0, max: 0 } } }, () => false, 'a part no sample has matches nothing');
      check({ advantage: 'pos', correct: false }, (i) => S[i].advantage! > 0 && !correct(i), 'A > 0 and wrong (combined)');
    }
    assert.ok(nonEmpty >= 2, `the fixtures must contain such completions (${nonEmpty} seeds had some)`);
  } finally { fs.rmSync(tmp, { recursive: true, force: true }); }
});

test('sort by a reward part, by truncated and by prompt; NaN (a sample without the part) last; ties by index', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rl-lens-sort-'));
  try {
    const st = lastStep(makeRun({ dir: path.join(tmp, 'g'), algorithm: 'grpo', steps: 5, seed: 9 }));
    delete st.samples[2].rewardParts; // a sample without parts sorts last whatever the direction
    st.samples[5].truncated = true; st.samples[11].truncated = true;
    const stats = sampleStats(st);
    for (const descending of [false, true]) {
      const rows = sortAndFilter(stats, { key: 'part:format', descending }, { groups: 'all' });
      assert.equal(rows.at(-1), 2);
      const v = rows.slice(0, -1).map((i) => st.samples[i].rewardParts!.format);
      for (let k = 1; k < v.length; k++) assert.ok(descending ? v[k - 1] >= v[k] : v[k - 1] <= v[k], `part:format ${descending ? '↓' : '↑'} at ${k}`);
      for (let k = 1; k < rows.length - 1; k++) if (v[k - 1] === v[k]) assert.ok(rows[k - 1] < rows[k], 'ties by index');
    }
    const byTrunc = sortAndFilter(stats, { key: 'truncated', descending: true }, { groups: 'all' });
    const firstUntruncated = byTrunc.findIndex((i) => !st.samples[i].truncated);
    assert.deepEqual(byTrunc.slice(0, 2), [5, 11], 'truncated first when descending');
    assert.ok(byTrunc.slice(firstUntruncated).every((i) => !st.samples[i].truncated));
    const byPrompt = sortAndFilter(stats, { key: 'prompt', descending: false }, { groups: 'all' });
    for (let k = 1; k < byPrompt.length; k++) assert.ok(st.samples[byPrompt[k - 1]].prompt <= st.samples[byPrompt[k]].prompt);
  } finally { fs.rmSync(tmp, { recursive: true, force: true }); }
});
