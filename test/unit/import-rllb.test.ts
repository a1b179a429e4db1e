import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { detectFormat, importRun } from '../../src/importers/index';
import { FIX, close, openRun, tmpDir, validateIfAvailable } from './import-helpers';

const SRC = path.join(FIX, 'rllb/poem_task');

/** The source lines, read independently of the importer (plain JSON.parse). */
function sourceLines(): { file: string; line: number; rec: Record<string, unknown> }[] {
  const out: { file: string; line: number; rec: Record<string, unknown> }[] = [];
  for (const f of ['rollout_data_rank0.jsonl', 'rollout_data_rank1.jsonl']) {
    fs.readFileSync(path.join(SRC, f), 'utf8').split('\n').forEach((l, i) => { if (l.trim()) out.push({ file: f, line: i + 1, rec: JSON.parse(l) }); });
  }
  return out;
}

test('rllb: detect the RLLoggingBoard folder (one file per data-parallel rank)', () => {
  const d = detectFormat(SRC);
  assert.equal(d.format, 'rllb');
  assert.match(d.reason, /2 RLLoggingBoard JSONL file/);
  assert.equal(detectFormat(path.join(SRC, 'rollout_data_rank1.jsonl')).format, 'rllb');
});

test('rllb: realistic sample converts field by field, per-token arrays and kl = logprob − ref_logprob', async () => {
  const out = path.join(tmpDir('rllb'), 'run');
  const r = await importRun(SRC, { out });
  assert.equal(r.format, 'rllb');
  assert.equal(r.problemCount, 0, JSON.stringify(r.problems));
  assert.equal(r.counts.samples, 18);
  assert.equal(r.counts.steps, 3);
  assert.ok(r.notes.some((n) => /grouped by identical prompt/.test(n)), 'says it grouped by prompt');
  const run = openRun(out);
  assert.equal(run.manifest.status, 'completed');
  assert.equal(run.manifest.algorithm, 'ppo', 'values present: PPO with a critic');
  assert.equal(run.manifest.source?.format, 'rllb');
  assert.deepEqual([...run.steps.keys()], [1, 2, 3]);

  const src = sourceLines();
  let checked = 0;
  for (const [step, st] of run.steps) {
    assert.deepEqual(st.header.arrays, ['logprob', 'ref_logprob', 'kl', 'token_reward', 'value']);
    // merged by step: rank 0's lines first, then rank 1's, in file order
    const expected = src.filter((s) => s.rec.step === step);
    assert.equal(st.samples.length, expected.length);
    expected.forEach((e, i) => {
      const s = st.samples[i];
      const a = st.arrays[i];
      assert.equal(s.prompt, e.rec.prompt);
      assert.equal(s.completion, e.rec.response);
      assert.deepEqual(s.tokens, e.rec.response_tokens);
      assert.equal(s.reward, e.rec.reward);
      assert.deepEqual(s.source, { file: e.file, line: e.line });
      const L = (e.rec.response_tokens as string[]).length;
      assert.equal(s.length, L);
      for (const [srcKey, name] of [['logprobs', 'logprob'], ['ref_logprobs', 'ref_logprob'], ['values', 'value'], ['token_rewards', 'token_reward']] as const) {
        const want = e.rec[srcKey] as number[];
        for (let t = 0; t < L; t++) assert.ok(close(a[name][t], want[t], 1e-6), `${name}[${t}] ${a[name][t]} vs ${want[t]}`);
      }
      const lp = e.rec.logprobs as number[]; const rp = e.rec.ref_logprobs as number[];
      for (let t = 0; t < L; t++) assert.ok(Math.abs(a.kl[t] - (lp[t] - rp[t])) < 1e-6, `kl[${t}]`);
      // extra fields are kept, not dropped
      if ('ref_response' in e.rec) assert.deepEqual(s.extra, { ref_response: e.rec.ref_response, ref_reward: e.rec.ref_reward });
      if ('ground_truth' in e.rec) assert.equal((s.extra as Record<string, unknown>).ground_truth, e.rec.ground_truth);
      checked++;
    });
    // groups: by identical prompt, 2 samples each (one per rank)
    assert.equal(st.header.groups.length, 3);
    for (const g of st.header.groups) {
      assert.equal(g.samples.length, 2);
      const rs = g.samples.map((i) => st.samples[i].reward);
      const m = (rs[0] + rs[1]) / 2;
      assert.ok(close(g.mean, m));
      assert.ok(close(g.std, Math.abs(rs[0] - rs[1]) / Math.SQRT2), 'unbiased std of two values = |a − b|/√2');
    }
    const g2 = st.header.groups.find((g) => g.prompt.startsWith('Continue'))!;
    assert.equal(g2.answer, 'rhyme with -at');
  }
  assert.equal(checked, 18);
  // derived metrics: reward/mean per step, checked against the source
  assert.equal(run.metrics.length, 3);
  for (const m of run.metrics) {
    const rs = src.filter((s) => s.rec.step === m.step).map((s) => s.rec.reward as number);
    assert.ok(close(m.values['reward/mean'] as number, rs.reduce((a, b) => a + b, 0) / rs.length));
    assert.ok(typeof m.values.kl === 'number' && typeof m.values['values/mean'] === 'number');
  }
  const v = await validateIfAvailable(out);
  if (v) assert.equal(v.code, 0, v.out);
});

function writeLines(dir: string, name: string, lines: string[], trailingNewline = true): string {
  fs.mkdirSync(dir, { recursive: true });
  const f = path.join(dir, name);
  fs.writeFileSync(f, lines.join('\n') + (trailingNewline ? '\n' : ''));
  return f;
}

const good = (step: number, extra: Record<string, unknown> = {}): string => JSON.stringify({
  prompt: 'p', response: 'ab', response_tokens: ['a', 'b'], logprobs: [-0.5, -1], ref_logprobs: [-0.25, -1.5],
  values: [0.1, 0.2], token_rewards: [0, 1], reward: 1, step, ...extra,
});

test('rllb: malformed input is reported with file:line and reason, counted and skipped; the rest opens', async () => {
  const dir = tmpDir('rllb-bad');
  const src = path.join(dir, 'src');
  const f = writeLines(src, 'rollout_data_rank0.jsonl', [
    good(1), // 1 ok
    '{"prompt": "p", "response": "x", "reward": 1, "step": 1, "logprobs": [0.1,', // 2 malformed JSON
    good(1, { reward: NaN }).replace('null', 'NaN'), // 3 reward NaN (Python json.dumps writes NaN)
    good(1, { logprobs: [-0.5] }), // 4 mismatched per-token array length
    JSON.stringify({ prompt: 'p', response_tokens: ['a'], reward: 1, step: 1 }), // 5 missing response
    good(2).replace('"ref_logprobs":[-0.25,-1.5]', '"ref_logprobs":[-0.25,Infinity]'), // 6 inf inside an array
    JSON.stringify({ prompt: 'p', response: 'x', reward: 0, step: 'two' }), // 7 bad step
    '', // 8 empty: ignored
    JSON.stringify({ prompt: 'q', response: 'ab<PAD>', response_tokens: ['a', 'b', '<PAD>'], logprobs: [-1, -2], ref_logprobs: [-1, -2], reward: 0.5, step: 2, rm_response: 'ok' }), // 9 README quirk
    '[1, 2, 3]', // 10 not an object
    good(2).slice(0, 40), // 11 torn last line (no newline)
  ], false);
  const r = await importRun(src, { out: path.join(dir, 'run') });
  const byLine = new Map<number, string[]>();
  for (const p of r.problems) {
    assert.equal(p.file, f, 'problems name the file');
    byLine.set(p.line!, [...(byLine.get(p.line!) ?? []), `${p.field ?? ''}: ${p.message}`]);
  }
  assert.match(byLine.get(2)!.join(), /not valid JSON/);
  assert.match(byLine.get(3)!.join(), /reward.*not finite/);
  assert.match(byLine.get(4)!.join(), /logprobs.*1 values for 2 response tokens.*mismatched/);
  assert.match(byLine.get(5)!.join(), /missing "response"/);
  assert.match(byLine.get(6)!.join(), /ref_logprobs.*non-finite.*token 1/);
  assert.match(byLine.get(7)!.join(), /step.*non-negative integer/);
  assert.match(byLine.get(9)!.join(), /3 tokens but the per-token arrays have 2 values/);
  assert.match(byLine.get(10)!.join(), /expected a JSON object/);
  assert.match(byLine.get(11)!.join(), /torn last line/);
  assert.equal(byLine.has(1), false);
  assert.equal(byLine.has(8), false);
  assert.equal(r.problemCount, r.problems.length);
  assert.equal(r.problemCount, 9);

  const run = openRun(r.runDir);
  assert.equal(run.manifest.source?.problemCount, 9, 'the count is stored in the manifest');
  assert.equal(run.manifest.source?.problems?.length, 9);
  const s1 = run.steps.get(1)!;
  assert.equal(s1.samples.length, 2, 'line 1 and line 4 (kept without its bad array)');
  assert.ok(s1.arrays[1].logprob.every((x) => Number.isNaN(x)), 'mismatched array stored as missing');
  assert.deepEqual((s1.samples[1].extra as Record<string, unknown>).logprobs, [-0.5], 'and kept in extra');
  const s2 = run.steps.get(2)!;
  assert.equal(s2.samples.length, 2);
  assert.ok(Number.isNaN(s2.arrays[0].ref_logprob[1]) && s2.arrays[0].ref_logprob[0] === -0.25);
  assert.ok(Number.isNaN(s2.arrays[0].kl[1]), 'kl of a non-finite ref is missing');
  const val = await validateIfAvailable(r.runDir);
  if (val) assert.equal(val.code, 0, `a run converted from bad input still validates: ${val.out}`);
  const quirk = s2.samples[1];
  assert.deepEqual(quirk.tokens, ['a', 'b']);
  assert.deepEqual((quirk.extra as Record<string, unknown>).dropped_tokens, ['<PAD>']);
  assert.equal((quirk.extra as Record<string, unknown>).rm_response, 'ok', 'unknown fields kept');
});

test('rllb: a line without response_tokens keeps its text and reward, arrays go to extra', async () => {
  const dir = tmpDir('rllb-notok');
  writeLines(path.join(dir, 'src'), 'a.jsonl', [JSON.stringify({ prompt: 'p', response: 'r', logprobs: [-1, -2], reward: 0.25, step: 0 })]);
  const r = await importRun(path.join(dir, 'src'), { out: path.join(dir, 'run'), from: 'rllb' });
  assert.equal(r.problemCount, 1);
  assert.match(r.problems[0].message, /^all 1 line\(s\) have no "response_tokens" \(first: line 1\)/);
  const run = openRun(r.runDir);
  const s = run.steps.get(0)!.samples[0];
  assert.equal(s.length, 0);
  assert.equal(s.reward, 0.25);
  assert.deepEqual((s.extra as Record<string, unknown>).logprobs, [-1, -2]);
});
