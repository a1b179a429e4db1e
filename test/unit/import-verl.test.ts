import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { detectFormat, importRun } from '../../src/importers/index';
import { passAtK } from '../../src/shared/passAtK';
import { FIX, close, openRun, tmpDir, validateIfAvailable } from './import-helpers';

const SRC = path.join(FIX, 'verl/gsm8k_grpo');

function jsonl(f: string): Record<string, unknown>[] {
  return fs.readFileSync(f, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));
}

test('verl: detect a folder with rollout / validation dumps and file-logger metrics, and single files', () => {
  assert.equal(detectFormat(SRC).format, 'verl');
  assert.match(detectFormat(path.join(SRC, 'rollout/2.jsonl')).reason, /input\/output\/score/);
  assert.match(detectFormat(path.join(SRC, 'metrics/verl_grpo_example_gsm8k/qwen2_5_0_5b.jsonl')).reason, /file logger/);
});

test('verl: dumps become rollout steps field by field, metrics are mapped (originals kept), validation → eval pass@k', async () => {
  const out = path.join(tmpDir('verl'), 'run');
  const r = await importRun(SRC, { out });
  assert.equal(r.format, 'verl');
  assert.equal(r.problemCount, 0, JSON.stringify(r.problems));
  const run = openRun(out);
  assert.equal(run.manifest.algorithm, 'grpo', 'no critic metrics');
  assert.deepEqual([...run.steps.keys()], [1, 2, 3]);
  for (const [step, st] of run.steps) {
    const src = jsonl(path.join(SRC, `rollout/${step}.jsonl`));
    assert.equal(st.samples.length, src.length);
    assert.deepEqual(st.header.arrays, []);
    src.forEach((e, i) => {
      const s = st.samples[i];
      assert.equal(s.prompt, e.input);
      assert.equal(s.completion, e.output);
      assert.equal(s.reward, e.score);
      assert.equal(s.length, 0);
      assert.deepEqual(s.rewardParts, { acc: e.acc ? 1 : 0 });
      assert.deepEqual(s.extra, { pred: e.pred, gts: e.gts }, 'non-numeric reward fields and gts kept');
    });
    // grouped by prompt: 2 prompts × 4 completions
    assert.equal(st.header.groups.length, 2);
    for (const g of st.header.groups) {
      assert.equal(g.samples.length, 4);
      assert.equal(g.answer, String(src[g.samples[0]].gts));
      const rs = g.samples.map((i) => src[i].score as number);
      const m = rs.reduce((a, b) => a + b, 0) / 4;
      const sd = Math.sqrt(rs.reduce((a, b) => a + (b - m) ** 2, 0) / 3);
      assert.ok(close(g.mean, m) && close(g.std, sd));
    }
  }
  // metrics: 4 records (step 0 = validation only → eval split), names mapped and originals kept
  const srcMetrics = jsonl(path.join(SRC, 'metrics/verl_grpo_example_gsm8k/qwen2_5_0_5b.jsonl'));
  assert.equal(run.metrics.length, srcMetrics.length);
  assert.equal(run.metrics[0].split, 'eval');
  for (let i = 1; i < srcMetrics.length; i++) {
    const d = srcMetrics[i].data as Record<string, number>;
    const v = run.metrics[i].values;
    assert.equal(run.metrics[i].step, srcMetrics[i].step);
    for (const [k, x] of Object.entries(d)) assert.equal(v[k], x, `original ${k} kept`);
    assert.equal(v['reward/mean'], d['critic/score/mean']);
    assert.equal(v.entropy, d['actor/entropy']);
    assert.equal(v['clip_ratio/region_mean'], d['actor/pg_clipfrac']);
    assert.equal(v.kl, d['actor/kl_loss']);
    assert.equal(v.lr, d['actor/lr']);
    assert.equal(v['response_length/mean'], d['response_length/mean']);
  }
  // validation dumps → eval records, pass@k by hand
  assert.deepEqual(run.evals.map((e) => e.step), [0, 2]);
  for (const ev of run.evals) {
    const src = jsonl(path.join(SRC, `validation/${ev.step}.jsonl`));
    assert.equal(ev.numPrompts, 2);
    assert.equal(ev.samplesPerPrompt, 2);
    const byPrompt = new Map<string, boolean[]>();
    for (const e of src) byPrompt.set(e.input as string, [...(byPrompt.get(e.input as string) ?? []), e.acc as boolean]);
    const c = [...byPrompt.values()].map((v) => v.filter(Boolean).length);
    // pass@1 = mean fraction correct; pass@2 with 2 samples = any correct
    assert.ok(close(ev.passAtK['1'], (c[0] / 2 + c[1] / 2) / 2));
    assert.ok(close(ev.passAtK['2'], ((c[0] > 0 ? 1 : 0) + (c[1] > 0 ? 1 : 0)) / 2));
  }
  const v = await validateIfAvailable(out);
  if (v) assert.equal(v.code, 0, v.out);
});

test('verl: pass@k estimator against hand values', () => {
  // n=4, c=1: pass@1 = 1/4, pass@2 = 1 − C(3,2)/C(4,2) = 1 − 3/6 = 0.5, pass@4 = 1
  assert.ok(close(passAtK(4, 1, 1), 0.25));
  assert.ok(close(passAtK(4, 1, 2), 0.5));
  assert.equal(passAtK(4, 1, 4), 1);
  assert.equal(passAtK(4, 0, 2), 0);
});

test('verl: malformed dumps and metric lines are reported with file:line, the rest opens', async () => {
  const dir = tmpDir('verl-bad');
  const src = path.join(dir, 'src');
  fs.mkdirSync(path.join(src, 'rollout'), { recursive: true });
  fs.mkdirSync(path.join(src, 'logs'), { recursive: true });
  const ok = (i: number, score: unknown = 1): string => JSON.stringify({ input: `q${i}`, output: `a${i}`, gts: '1', score, step: 5, acc: true });
  const dump = path.join(src, 'rollout/5.jsonl');
  fs.writeFileSync(dump, [
    ok(0), // 1
    ok(1).replace('"score":1', '"score":NaN'), // 2 NaN score (Python json.dumps)
    JSON.stringify({ input: 'q', score: 1, step: 5 }), // 3 missing output
    ok(2).replace('"acc":true', '"acc":true,"format":Infinity'), // 4 inf extra field (kept as null, warned)
    '{"input": "q", "output"', // 5 malformed
    ok(3).replace('"step":5', '"step":6'), // 6 step disagrees with the file name
    ok(4).slice(0, 30), // 7 torn
  ].join('\n'));
  const metrics = path.join(src, 'logs/exp.jsonl');
  fs.writeFileSync(metrics, [
    JSON.stringify({ step: 5, data: { 'critic/score/mean': 0.5 } }), // 1
    '{"step": 6, "data": {"actor/entropy": NaN, "actor/lr": 1e-6, "note": "hi"}}', // 2 NaN + non-numeric
    '{"step": 7, "data": 3}', // 3 not {step, data}
    '{"step": 8, "data": {"actor', // 4 torn
  ].join('\n'));
  const r = await importRun(src, { out: path.join(dir, 'run') });
  const at = (f: string, line: number): string => r.problems.filter((p) => p.file === f && p.line === line).map((p) => `${p.field}: ${p.message}`).join(' | ');
  assert.match(at(dump, 2), /score.*NaN.*not finite/);
  assert.match(at(dump, 3), /missing "output"/);
  assert.match(at(dump, 4), /format.*Infinity/);
  assert.match(at(dump, 5), /not valid JSON/);
  // line 6 says step 6 in a file named 5.jsonl: it is filed under its own step (checked below)
  assert.match(at(dump, 7), /torn last line/);
  assert.match(at(metrics, 2), /actor\/entropy.*NaN/);
  assert.match(at(metrics, 2), /note.*not a number/);
  assert.match(at(metrics, 3), /expected \{"step": N, "data"/);
  assert.match(at(metrics, 4), /torn last line/);
  assert.equal(at(dump, 1), '');
  assert.equal(at(metrics, 1), '');
  const run = openRun(r.runDir);
  assert.equal(run.manifest.source?.problemCount, r.problemCount);
  const s5 = run.steps.get(5)!;
  assert.deepEqual(s5.samples.map((s) => s.prompt), ['q0', 'q2']);
  assert.equal((s5.samples[1].extra as Record<string, unknown>).format, null);
  assert.deepEqual(run.steps.get(6)!.samples.map((s) => s.prompt), ['q3']);
  assert.equal(run.metrics.length, 2);
  assert.equal(run.metrics[1].values['actor/entropy'], null);
  assert.equal(run.metrics[1].values.entropy, null);
  const val = await validateIfAvailable(r.runDir);
  if (val) assert.equal(val.code, 0, `a run converted from bad input still validates: ${val.out}`);
  assert.equal(run.metrics[1].values.lr, 1e-6);
});

test('verl: console-logger lines (real shape) are read as metrics; one inside a file-logger JSONL is named as such', async () => {
  // Shape of verl's console logger (LocalLogger.log → concat_dict_to_str: "step:N - name:value - ..."), as in the verl
  // docs quickstart log (docs/start/quickstart.rst, an indexed copy of the verl docs; see docs/real-logs.md) and behind
  // a Ray prefix as newer verl prints it. Trimmed synthetic copy with the same keys. (Full tests: import-verl-console.)
  const dir = tmpDir('verl-console');
  const log = path.join(dir, 'verl_demo.log');
  fs.writeFileSync(log, [
    'step:0 - timing/gen:21.470 - actor/reward_kl_penalty:0.000 - critic/vf_loss:14.947 - actor/entropy_loss:0.433 - actor/pg_loss:-0.005 - critic/score/mean:0.004 - response_length/mean:239.133',
    '(TaskRunner pid=15930, ip=10.4.1.33) step:1 - actor/entropy:0.36423397064208984 - actor/kl_loss:0.0013340971445359173 - critic/score/mean:0.5760498046875',
    'not a log line at all',
  ].join('\n') + '\n');
  const r = await importRun(log, { from: 'verl', out: path.join(dir, 'run') });
  assert.equal(r.problemCount, 0, JSON.stringify(r.problems));
  assert.equal(r.counts.consoleOtherLines, 1);
  const run = openRun(r.runDir);
  assert.deepEqual(run.metrics.map((m) => m.step), [0, 1]);
  assert.equal(run.metrics[0].values['reward/mean'], 0.004);
  assert.equal(run.metrics[1].values.kl, 0.0013340971445359173);
  // a console line in the middle of a file-logger JSONL: named for what it is, not "not valid JSON"
  const jl = path.join(dir, 'mixed.jsonl');
  fs.writeFileSync(jl, '{"step": 1, "data": {"critic/score/mean": 0.5}}\n(TaskRunner pid=1) step:2 - critic/score/mean:0.6\n');
  const r2 = await importRun(jl, { out: path.join(dir, 'run2') });
  assert.equal(r2.problemCount, 1);
  assert.match(r2.problems[0].message, /verl console-logger line.*inside a JSONL file/);
});
