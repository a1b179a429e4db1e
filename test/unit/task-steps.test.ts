// The multi-step arithmetic task (tasks/steps.ts): step parsing, the per-step verifier, step-end tokens, rewards.
// Expected values are written out by hand from the rule in the file comment (not computed by the code under test).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { createTask, hasSteps, splitSteps, checkSteps, parseStep, firstErrorStep, stepEndTokens, stepAccuracy, TASK_NAMES } from '../../src/trainer/tasks';
import { Rng } from '../../src/trainer/rng';
import { CharTokenizer, DEFAULT_CHARS } from '../../src/trainer/tokenizer';

test('arithmetic-steps: registered, canonical chain, lengths, vocabulary of the built-in tokenizer', () => {
  assert.ok(TASK_NAMES.includes('arithmetic-steps'));
  const tok = new CharTokenizer(DEFAULT_CHARS);
  for (const d of [1, 2, 3]) {
    const task = createTask('arithmetic-steps', { difficulty: d });
    assert.equal(hasSteps(task), true);
    for (const ch of task.chars) assert.ok(tok.has(ch), `char ${JSON.stringify(ch)}`);
    const rng = new Rng(3);
    for (let i = 0; i < 50; i++) {
      const ex = task.sample(rng, 'train');
      assert.ok(ex.prompt.length <= task.maxPromptLength(), ex.prompt);
      assert.ok(ex.answer.length <= task.maxAnswerLength(), ex.answer);
      const x = ex.prompt.slice(0, -1).split('+').map(Number);
      assert.equal(x.length, d === 2 ? 4 : 3);
      const steps = ex.answer.split(' ');
      assert.equal(steps.length, x.length - 1);
      assert.equal(Number(steps[steps.length - 1].split('=')[1]), x.reduce((a, b) => a + b, 0));
      assert.deepEqual(task.reward(ex, ex.answer, true).parts, { accuracy: 1, format: 1, step_accuracy: 1 });
      assert.ok(checkSteps(ex.prompt, ex.answer, true).every((s) => s.correct));
    }
  }
  const t = createTask('arithmetic-steps', { difficulty: 1 });
  assert.equal(t.maxAnswerLength(), '9+9=18 18+9=27'.length);
  assert.equal(createTask('arithmetic-steps', { difficulty: 2 }).maxAnswerLength(), '9+9=18 18+9=27 27+9=36'.length);
});

test('splitSteps / parseStep: spans with terminators', () => {
  assert.deepEqual(splitSteps('3+4=7 7+5=12', true), [
    { text: '3+4=7', start: 0, end: 6, terminator: 'delimiter' },
    { text: '7+5=12', start: 6, end: 12, terminator: 'eos' },
  ]);
  assert.deepEqual(splitSteps('3+4=7 7+', false).map((s) => s.terminator), ['delimiter', 'none']);
  assert.deepEqual(splitSteps('', true), []);
  assert.deepEqual(splitSteps('3+4=7 ', true).map((s) => [s.text, s.end]), [['3+4=7', 6]]);
  assert.deepEqual(parseStep('12+34=46'), { a: 12, b: 34, c: 46 });
  assert.equal(parseStep('12+034=46'), null);
  assert.equal(parseStep('12+34=46 '), null);
});

test('checkSteps: per-step verdicts follow the true running sum and the terminator', () => {
  const v = (c: string, fin = true) => checkSteps('3+4+5=', c, fin).map((s) => s.correct);
  assert.deepEqual(v('3+4=7 7+5=12'), [true, true]);
  assert.deepEqual(v('3+4=8 8+5=13'), [false, false]);      // builds on the slip: wrong (Math-Shepherd notion)
  assert.deepEqual(v('3+4=8 7+5=12'), [false, true]);       // repairs the sum: right again
  assert.deepEqual(v('3+4=7'), [false]);                    // stopped after step 0: wrong terminator
  assert.deepEqual(v('3+4=7 7+5=12', false), [true, false]); // truncated before EOS
  assert.deepEqual(v('3+4=7 7+5=12 12+0=12'), [true, false, false]); // extra step
  assert.equal(firstErrorStep(checkSteps('3+4+5=', '3+4=7 7+5=13', true)), 1);
  assert.equal(firstErrorStep(checkSteps('3+4+5=', '3+4=7 7+5=12', true)), -1);
  assert.deepEqual(stepAccuracy('3+4+5=', '3+4=7 7+5=13', true), { correct: 1, total: 2, accuracy: 0.5, firstError: 1 });
  assert.deepEqual(stepAccuracy('3+4+5=', '3+4=7 ', true), { correct: 1, total: 2, accuracy: 0.5, firstError: 1 });
  assert.throws(() => checkSteps('3-4=', '1', true), /not of the form/);
});

test('stepEndTokens: the delimiter token, EOS after a finished last step, the last token of a truncated one', () => {
  const c = '3+4=7 7+5=12';
  const ends = Array.from({ length: c.length }, (_, j) => j + 1); // character tokenizer
  assert.deepEqual(stepEndTokens(splitSteps(c, true), ends, true), [5, 12]); // ' ' at 5, EOS at 12
  assert.deepEqual(stepEndTokens(splitSteps(c, false), ends, false), [5, 11]);
  // a subword tokenizer: tokens "3+4", "=7 ", "7+5=", "12"
  assert.deepEqual(stepEndTokens(splitSteps(c, true), [3, 6, 10, 12], true), [1, 4]);
});

test('reward: step_accuracy part; partialCredit pays the fraction of right steps', () => {
  const t = createTask('arithmetic-steps', { difficulty: 1 });
  const ex = { id: '3+4+5=', prompt: '3+4+5=', answer: '3+4=7 7+5=12', difficulty: 1 };
  assert.deepEqual(t.reward(ex, '3+4=7 7+5=13', true), { score: 0.1, parts: { accuracy: 0, format: 1, step_accuracy: 0.5 } });
  const tp = createTask('arithmetic-steps', { difficulty: 1, partialCredit: true, partialWeight: 0.5 });
  const r = tp.reward(ex, '3+4=7 7+5=13', true);
  assert.ok(Math.abs(r.score - (0.1 + 0.25)) < 1e-12, String(r.score));
  assert.equal(r.parts.partial, 0.5);
  assert.equal(tp.reward(ex, ex.answer, true).score, 1.1);
  // corrupt: well-formed, one slip
  const rng = new Rng(1);
  for (let i = 0; i < 20; i++) {
    const c = t.corrupt(ex, rng);
    assert.equal(t.reward(ex, c, true).parts.format, 1, c);
    assert.notEqual(c, ex.answer);
  }
});
