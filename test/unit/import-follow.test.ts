// Live follow: a source still being written (appended lines, new rank files, new dump files, torn tails) is converted
// incrementally; a step that receives more lines is rewritten; the result equals a one-shot import of the final source.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { followForeignRun, importRun, type ImportResult } from '../../src/importers/index';
import { FIX, openRun, tmpDir, waitFor } from './import-helpers';

test('follow rllb: appended lines, a second rank file and a torn tail are picked up incrementally', async () => {
  const dir = tmpDir('follow-rllb');
  const src = path.join(dir, 'src');
  fs.mkdirSync(src);
  const lines0 = fs.readFileSync(path.join(FIX, 'rllb/poem_task/rollout_data_rank0.jsonl'), 'utf8').trim().split('\n');
  const lines1 = fs.readFileSync(path.join(FIX, 'rllb/poem_task/rollout_data_rank1.jsonl'), 'utf8').trim().split('\n');
  const f0 = path.join(src, 'rollout_data_rank0.jsonl');
  const f1 = path.join(src, 'rollout_data_rank1.jsonl');
  fs.writeFileSync(f0, lines0.slice(0, 3).join('\n') + '\n'); // rank 0, step 1
  const updates: ImportResult[] = [];
  const out = path.join(dir, 'run');
  const f = followForeignRun(src, out, (r) => updates.push(r), { intervalMs: 50 });
  const first = await f.ready;
  assert.equal(first.counts.samples, 3);
  assert.equal(openRun(out).manifest.status, 'running');
  assert.equal(openRun(out).steps.get(1)!.samples.length, 3);

  // rank 1 appears with its step-1 lines, plus half a line (still being written)
  fs.writeFileSync(f1, lines1.slice(0, 3).join('\n') + '\n' + lines1[3].slice(0, 50));
  await waitFor(() => f.snapshot().counts.samples === 6);
  assert.equal(openRun(out).steps.get(1)!.samples.length, 6, 'step 1 rewritten with both ranks');
  assert.equal(f.snapshot().problemCount, 0, 'a partial last line is not a problem while following');
  // the rest of the torn line and more lines arrive
  fs.appendFileSync(f1, lines1[3].slice(50) + '\n' + lines1.slice(4).join('\n') + '\n');
  fs.appendFileSync(f0, lines0.slice(3).join('\n') + '\n');
  await waitFor(() => f.snapshot().counts.samples === 18);
  // step 1's derived metrics were written once step 2 existed; finish writes the last ones
  const fin = await f.finish();
  assert.equal(fin.problemCount, 0);
  assert.ok(updates.length >= 2);
  const live = openRun(out);
  assert.equal(live.manifest.status, 'completed');
  const once = await importRun(path.join(FIX, 'rllb/poem_task'), { out: path.join(dir, 'once') });
  const ref = openRun(once.runDir);
  assert.deepEqual([...live.steps.keys()], [...ref.steps.keys()]);
  for (const [step, st] of ref.steps) {
    const lv = live.steps.get(step)!;
    assert.deepEqual(lv.samples.map((s) => [s.prompt, s.completion, s.reward, s.tokens]), st.samples.map((s) => [s.prompt, s.completion, s.reward, s.tokens]));
    assert.deepEqual(lv.arrays.map((a) => Array.from(a.logprob)), st.arrays.map((a) => Array.from(a.logprob)));
  }
  assert.deepEqual(live.metrics.map((m) => m.step), [1, 2, 3], 'one derived metrics record per step, none twice');
  assert.deepEqual(live.metrics, ref.metrics);
});

test('follow verl: new dump files and appended metric lines; dispose marks the run stopped', async () => {
  const dir = tmpDir('follow-verl');
  const src = path.join(dir, 'src');
  fs.mkdirSync(path.join(src, 'rollout'), { recursive: true });
  fs.mkdirSync(path.join(src, 'metrics'), { recursive: true });
  const V = path.join(FIX, 'verl/gsm8k_grpo');
  fs.copyFileSync(path.join(V, 'rollout/1.jsonl'), path.join(src, 'rollout/1.jsonl'));
  const mlines = fs.readFileSync(path.join(V, 'metrics/verl_grpo_example_gsm8k/qwen2_5_0_5b.jsonl'), 'utf8').trim().split('\n');
  const mf = path.join(src, 'metrics/exp.jsonl');
  fs.writeFileSync(mf, mlines.slice(0, 2).join('\n') + '\n');
  const out = path.join(dir, 'run');
  const f = followForeignRun(src, out, () => undefined, { intervalMs: 50 });
  const r0 = await f.ready;
  assert.equal(r0.format, 'verl');
  assert.equal(r0.counts.samples, 8);
  fs.copyFileSync(path.join(V, 'rollout/2.jsonl'), path.join(src, 'rollout/2.jsonl'));
  fs.appendFileSync(mf, mlines.slice(2).join('\n') + '\n');
  await waitFor(() => f.snapshot().counts.samples === 16 && openRun(out).metrics.length === 4);
  f.dispose();
  await waitFor(() => openRun(out).manifest.status === 'stopped');
  const run = openRun(out);
  assert.deepEqual([...run.steps.keys()], [1, 2]);
  assert.deepEqual(run.metrics.map((m) => m.step), [0, 1, 2, 3]);
});

test('follow: a torn tail that stops changing is reported after staleTailMs, and disappears once completed', async () => {
  const dir = tmpDir('follow-tail');
  const src = path.join(dir, 'src');
  fs.mkdirSync(src);
  const lines = fs.readFileSync(path.join(FIX, 'rllb/poem_task/rollout_data_rank0.jsonl'), 'utf8').trim().split('\n');
  const f0 = path.join(src, 'rollout_data_rank0.jsonl');
  fs.writeFileSync(f0, lines[0] + '\n' + lines[1].slice(0, 30));
  const f = followForeignRun(src, path.join(dir, 'run'), () => undefined, { intervalMs: 30, staleTailMs: 200 });
  await f.ready;
  assert.equal(f.snapshot().problemCount, 0, 'not yet: it may still be being written');
  await waitFor(() => f.snapshot().problemCount === 1);
  const p = f.snapshot().problems[0];
  assert.equal(p.file, f0);
  assert.equal(p.line, 2);
  assert.match(p.message, /no newline and has not changed/);
  fs.appendFileSync(f0, lines[1].slice(30) + '\n');
  await waitFor(() => f.snapshot().counts.samples === 2 && f.snapshot().problemCount === 0);
  f.dispose();
});

test('follow verl: a dump file rewritten in place (resume re-dumps a step) replaces that step', async () => {
  const dir = tmpDir('follow-rewrite');
  const src = path.join(dir, 'src');
  fs.mkdirSync(path.join(src, 'rollout'), { recursive: true });
  const line = (o: string, score: number): string => JSON.stringify({ input: 'the same long prompt '.repeat(20), output: o, score, step: 1 });
  const f1 = path.join(src, 'rollout/1.jsonl');
  fs.writeFileSync(f1, [line('a', 0), line('b', 1)].join('\n') + '\n');
  const out = path.join(dir, 'run');
  const f = followForeignRun(src, out, () => undefined, { intervalMs: 30 });
  await f.ready;
  assert.deepEqual(openRun(out).steps.get(1)!.samples.map((s) => s.completion), ['a', 'b']);
  fs.writeFileSync(f1, [line('c', 1), line('d', 1), line('e', 0)].join('\n') + '\n'); // same first bytes, longer
  await waitFor(() => f.snapshot().counts.samples === 3);
  const st = openRun(out).steps.get(1)!;
  assert.deepEqual(st.samples.map((s) => s.completion), ['c', 'd', 'e'], 'old lines forgotten, new ones read from the start');
  f.dispose();
});
