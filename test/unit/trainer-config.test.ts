// Tokenizer, tasks and rewards, pass@k, config validation and the shipped schemas (no tfjs needed).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CharTokenizer, BOS, EOS, PAD } from '../../src/trainer/tokenizer';
import { ArithmeticTask, CountLetterTask, ReverseTask, SortDigitsTask, createTask, loadUserReward, withUserReward, splitOf, TASK_NAMES, needsPretrained } from '../../src/trainer/tasks';
// the character tasks (the stories tasks need a pretrained model's tokenizer: test/unit/rl-stories.test.ts)
const CHAR_TASKS = TASK_NAMES.filter((n) => !needsPretrained(createTask(n)));
import { ConfigError, PRESETS, loadConfigFile, resolveConfig, lineOfPointer } from '../../src/trainer/config';
import '../../src/trainer/plugins'; // the entry point registers the algorithms (config.ts imports none)
import { lrAt } from '../../src/trainer/engine';
import { passAtK } from '../../src/shared/passAtK';
import { schemaFiles } from '../../src/trainer/schemaGen';
import { Rng } from '../../src/trainer/rng';

test('tokenizer: text → ids → text round trip for every task, specials shown as strings', () => {
  const tok = new CharTokenizer();
  assert.equal(tok.vocab[PAD], '<pad>');
  assert.equal(tok.vocab[BOS], '<bos>');
  assert.equal(tok.vocab[EOS], '<eos>');
  for (const name of CHAR_TASKS) {
    const task = createTask(name, { difficulty: 2 });
    const rng = new Rng(1);
    for (let i = 0; i < 50; i++) {
      const ex = task.sample(rng, 'train');
      const text = ex.prompt + ex.answer;
      const ids = tok.encode(text, { bos: true, eos: true });
      assert.equal(ids[0], BOS);
      assert.equal(ids[ids.length - 1], EOS);
      assert.equal(tok.decode(ids), text);
      assert.deepEqual(tok.display(ids), ['<bos>', ...Array.from(text), '<eos>']);
    }
  }
  assert.equal(tok.decode([BOS, 3, 4, EOS, 5]), tok.vocab[3] + tok.vocab[4], 'decoding stops at EOS');
  assert.throws(() => tok.encode('2+Z'), /character "Z" is not in the vocabulary/);
  const again = CharTokenizer.fromSpec(tok.spec());
  assert.deepEqual(again.vocab, tok.vocab);
});

test('arithmetic: "2+3=" → "5"; reward parts accuracy / format / partial computed by hand', () => {
  const t = new ArithmeticTask({ difficulty: 2, partialCredit: true, formatWeight: 0.1, partialWeight: 0.5 });
  const ex = { id: '23+45=', prompt: '23+45=', answer: '68', difficulty: 2 };
  assert.deepEqual(t.reward(ex, '68'), { score: 1.1, parts: { accuracy: 1, format: 1, partial: 0 } });
  // "67": right-aligned digits: 6=6 ✓, 7≠8 → 1/2 partial; format ok → 0.1 + 0.5·0.5
  assert.deepEqual(t.reward(ex, '67'), { score: 0.1 + 0.25, parts: { accuracy: 0, format: 1, partial: 0.5 } });
  // "x" is not an integer: no format credit
  assert.deepEqual(t.reward(ex, '6+'), { score: 0.5 * 0.5, parts: { accuracy: 0, format: 0, partial: 0.5 } });
  // not finished (no EOS): nothing counts
  assert.equal(t.reward(ex, '68', false).parts.accuracy, 0);
  const plain = new ArithmeticTask({ difficulty: 1 });
  assert.deepEqual(plain.reward({ id: '2+3=', prompt: '2+3=', answer: '5', difficulty: 1 }, '5'), { score: 1.1, parts: { accuracy: 1, format: 1 } });
  const rng = new Rng(4);
  for (let i = 0; i < 200; i++) {
    const e = new ArithmeticTask({ difficulty: 3 }).sample(rng, 'train');
    const [, a, op, b] = /^(\d+)([+-])(\d+)=$/.exec(e.prompt)!;
    assert.equal(Number(e.answer), op === '+' ? Number(a) + Number(b) : Number(a) - Number(b));
    assert.notEqual(t.corrupt(e, rng), e.answer);
  }
});

test('string tasks: reverse, sort, count give the right answers and rewards', () => {
  const rng = new Rng(5);
  const rev = new ReverseTask({ difficulty: 2 }), srt = new SortDigitsTask({ difficulty: 2 }), cnt = new CountLetterTask({ difficulty: 2 });
  for (let i = 0; i < 100; i++) {
    const a = rev.sample(rng, 'train');
    assert.equal(a.answer, a.prompt.slice(2, -1).split('').reverse().join(''));
    const b = srt.sample(rng, 'train');
    assert.equal(b.answer, b.prompt.slice(2, -1).split('').sort().join(''));
    const c = cnt.sample(rng, 'train');
    const [, letter, s] = /^c:(.):(.*)=$/.exec(c.prompt)!;
    assert.equal(Number(c.answer), s.split(letter).length - 1);
    for (const [task, ex] of [[rev, a], [srt, b], [cnt, c]] as const) {
      assert.equal(task.reward(ex, ex.answer).parts.accuracy, 1);
      assert.equal(task.reward(ex, task.corrupt(ex, rng)).parts.accuracy, 0);
    }
  }
});

test('train and eval splits are disjoint; eval set is fixed across runs', () => {
  for (const name of CHAR_TASKS) {
    const t = createTask(name, { difficulty: 2 });
    const ev = t.evalSet(30);
    assert.equal(ev.length, 30);
    assert.deepEqual(createTask(name, { difficulty: 2 }).evalSet(30), ev, 'same eval prompts every time');
    for (const e of ev) assert.equal(splitOf(e.prompt, 0.1), 'eval');
    const rng = new Rng(9);
    const evalPrompts = new Set(ev.map((e) => e.prompt));
    for (let i = 0; i < 300; i++) assert.ok(!evalPrompts.has(t.sample(rng, 'train').prompt));
  }
});

test('user reward module: loaded only when trusted; result normalised', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rllens-rew-'));
  const f = path.join(dir, 'r.js');
  fs.writeFileSync(f, 'module.exports.reward = (p, c) => c.length === 1 ? { score: 2, parts: { short: 1 } } : 0.5;');
  assert.throws(() => loadUserReward(f, { trusted: false }), /not trusted/);
  const fn = loadUserReward(f, { trusted: true });
  const task = withUserReward(new ArithmeticTask(), fn, 'r.js');
  const ex = { id: '2+3=', prompt: '2+3=', answer: '5', difficulty: 1 };
  assert.deepEqual(task.reward(ex, '5'), { score: 2, parts: { short: 1 } });
  assert.deepEqual(task.reward(ex, '55'), { score: 0.5, parts: { user: 0.5 } });
  assert.equal(task.isCorrect(ex, '5'), true);
  fs.writeFileSync(path.join(dir, 'bad.js'), 'module.exports.reward = () => NaN;');
  const bad = withUserReward(new ArithmeticTask(), loadUserReward(path.join(dir, 'bad.js'), { trusted: true }), 'bad.js');
  assert.throws(() => bad.reward(ex, '5'), /bad\.js: reward returned NaN/);
});

test('pass@k: unbiased estimator 1 − C(n−c,k)/C(n,k) against hand values', () => {
  assert.equal(passAtK(8, 0, 1), 0);
  assert.equal(passAtK(8, 8, 4), 1);
  assert.ok(Math.abs(passAtK(8, 2, 1) - 2 / 8) < 1e-12);
  // n=8, c=2, k=4: 1 − C(6,4)/C(8,4) = 1 − 15/70
  assert.ok(Math.abs(passAtK(8, 2, 4) - (1 - 15 / 70)) < 1e-12);
  // n=5, c=1, k=2: 1 − C(4,2)/C(5,2) = 1 − 6/10
  assert.ok(Math.abs(passAtK(5, 1, 2) - 0.4) < 1e-12);
});

test('lr schedule: linear warmup then cosine to minLrRatio', () => {
  const c = { lr: 1, warmupSteps: 10, lrSchedule: 'cosine' as const, minLrRatio: 0.1 } as Parameters<typeof lrAt>[0];
  assert.equal(lrAt(c, 5, 110), 0.5);
  assert.equal(lrAt(c, 10, 110), 1);
  assert.ok(Math.abs(lrAt(c, 60, 110) - (0.1 + 0.45)) < 1e-12, 'half-way: min + (1 − min)/2');
  assert.ok(Math.abs(lrAt(c, 110, 110) - 0.1) < 1e-12);
  assert.equal(lrAt({ ...c, lrSchedule: 'constant' }, 80, 110), 1);
});

test('config: defaults and derived values are filled once', () => {
  const c = resolveConfig({ algorithm: 'sft' });
  assert.equal(c.backend, 'auto');
  assert.equal(c.train.lr, 0.003);
  assert.equal(c.task.name, 'arithmetic');
  // arithmetic difficulty 1: BOS + "9+9=" + "18" + EOS = 1 + 4 + 2 + 1 = 8
  assert.equal(c.derived.sequenceLength, 8);
  assert.equal(c.derived.vocabSize, new CharTokenizer().size);
  for (const name of Object.keys(PRESETS)) resolveConfig(PRESETS[name]());
});

test('config errors name file, line, field, bad value and what is allowed', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rllens-cfg-'));
  const f = path.join(dir, 'c.json');
  fs.writeFileSync(f, JSON.stringify({ algorithm: 'sft', backend: 'gpu', train: { lr: -1, stepz: 3 }, model: { dModel: 30, nHeads: 4 } }, null, 2));
  let err: ConfigError | undefined;
  try { loadConfigFile(f); } catch (e) { err = e as ConfigError; }
  assert.ok(err instanceof ConfigError, 'throws ConfigError');
  const msg = err!.message;
  assert.match(msg, new RegExp(`c\\.json:3: config\\.backend: "gpu" is not allowed; allowed: "auto", "tensorflow-gpu", "tensorflow", "wasm", "cpu"`));
  assert.match(msg, /c\.json:5: config\.train\.lr: must be > 0 \(got -1\)/);
  assert.match(msg, /c\.json:6: config\.train\.stepz: unknown field; allowed fields here: steps, batchSize/);
  fs.writeFileSync(f, JSON.stringify({ algorithm: 'sft', model: { dModel: 30, nHeads: 4 } }, null, 2));
  assert.throws(() => loadConfigFile(f), /config\.model\.nHeads: must divide model\.dModel \(30\)/);
  fs.writeFileSync(f, JSON.stringify({ algorithm: 'sft', task: { name: 'arithmetic', difficulty: 4 }, model: { contextLength: 10 } }, null, 2));
  assert.throws(() => loadConfigFile(f), /config\.model\.contextLength: must be ≥ 14 for task arithmetic at difficulty 4 \(BOS \+ prompt 8 \+ answer 4 \+ EOS\)/);
  fs.writeFileSync(f, JSON.stringify({ algorithm: 'nope' }));
  assert.throws(() => loadConfigFile(f), /config\.algorithm: "nope" is not allowed; allowed: .*"sft"/);
  fs.writeFileSync(f, '{ "algorithm": "sft",\n  "seed": 1,\n  oops }');
  assert.throws(() => loadConfigFile(f), /c\.json:3: config: not valid JSON/);
  assert.throws(() => resolveConfig({ algorithm: 'sft', eval: { samplesPerPrompt: 2, k: [1, 4] } }), /config\.eval\.k: pass@4 needs eval\.samplesPerPrompt ≥ 4/);
  assert.equal(lineOfPointer('{\n "a": {\n  "b": 1\n }\n}', '/a/b'), 3);
});

test('shipped schemas/*.json are current (regenerate with: npx tsx src/trainer/schemaGen.ts)', () => {
  const root = path.resolve(__dirname, '..', '..');
  for (const [name, text] of Object.entries(schemaFiles())) {
    const shipped = fs.readFileSync(path.join(root, 'schemas', name), 'utf8');
    assert.equal(shipped, text, `schemas/${name} is out of date: run npx tsx src/trainer/schemaGen.ts`);
  }
});
