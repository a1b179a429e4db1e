import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { detectFormat, importRun } from '../../src/importers/index';
import { FIX, close, openRun, tmpDir, validateIfAvailable } from './import-helpers';

const SRC = path.join(FIX, 'trl/Qwen2-0.5B-GRPO');
type Row = { step: string; prompt: string; completion: string; accuracy_reward: number; format_reward: number; advantage: number };
const ROWS = JSON.parse(fs.readFileSync(path.join(FIX, 'trl/trl_rows.json'), 'utf8')) as Record<string, Row[]>;

test('trl: detect the output folder, a completions parquet file and trainer_state.json', () => {
  const d = detectFormat(SRC);
  assert.equal(d.format, 'trl');
  assert.match(d.reason, /2 completions parquet file\(s\), trainer_state.json/);
  assert.equal(detectFormat(path.join(SRC, 'completions/completions_00002.parquet')).format, 'trl');
  assert.equal(detectFormat(path.join(SRC, 'trainer_state.json')).format, 'trl');
});

test('trl: completions parquet → rollouts field by field (reward = sum of reward columns), log_history → mapped metrics', async () => {
  const out = path.join(tmpDir('trl'), 'run');
  const r = await importRun(SRC, { out });
  assert.equal(r.problemCount, 0, JSON.stringify(r.problems));
  const run = openRun(out);
  assert.equal(run.manifest.algorithm, 'grpo');
  assert.equal(run.manifest.totalSteps, 2, 'max_steps from trainer_state.json');
  assert.deepEqual([...run.steps.keys()], [1, 2]);
  for (const [step, st] of run.steps) {
    const rows = ROWS[String(step)];
    assert.equal(st.samples.length, rows.length);
    rows.forEach((row, i) => {
      const s = st.samples[i];
      assert.equal(s.prompt, row.prompt);
      assert.equal(s.completion, row.completion);
      assert.deepEqual(s.rewardParts, { accuracy_reward: row.accuracy_reward, format_reward: row.format_reward });
      assert.equal(s.reward, row.accuracy_reward + row.format_reward);
      assert.ok(close(s.advantage!, row.advantage, 1e-12));
      assert.deepEqual(s.source, { file: `completions_${String(step).padStart(5, '0')}.parquet`, line: i + 1 });
    });
    // grouped by prompt: 2 prompts × num_generations 4; the advantage is (r − mean)/(std + 1e-4) of the group
    assert.equal(st.header.groups.length, 2);
    for (const g of st.header.groups) {
      assert.equal(g.samples.length, 4);
      for (const i of g.samples) assert.ok(close(st.samples[i].advantage!, (st.samples[i].reward - g.mean) / (g.std + 1e-4), 1e-9), 'group stats match TRL\'s own advantages');
    }
  }
  const state = JSON.parse(fs.readFileSync(path.join(SRC, 'trainer_state.json'), 'utf8')) as { log_history: Record<string, number>[] };
  assert.equal(run.metrics.length, 2, 'the end-of-training summary entry is merged into the last step');
  run.metrics.forEach((m, i) => {
    const e = state.log_history[i];
    assert.equal(m.step, e.step);
    for (const [k, v] of Object.entries(e)) if (k !== 'step') assert.equal(m.values[k], v, `original ${k} kept`);
    assert.equal(m.values['reward/mean'], e.reward);
    assert.equal(m.values['reward/std'], e.reward_std);
    assert.equal(m.values['response_length/mean'], e['completions/mean_length']);
    assert.equal(m.values.lr, e.learning_rate);
    assert.equal(m.values['clip_ratio/low_mean'], e['clip_ratio/low_mean']);
  });
  assert.equal(run.metrics[1].values.train_runtime, state.log_history[2].train_runtime);
  const v = await validateIfAvailable(out);
  if (v) assert.equal(v.code, 0, v.out);
});

test('trl: bad parquet, NaN reward columns, missing values, eval entries and a broken trainer_state are reported', async () => {
  const dir = tmpDir('trl-bad');
  const src = path.join(dir, 'out');
  fs.mkdirSync(path.join(src, 'completions'), { recursive: true });
  const buf = parquetWriteBuffer({
    columnData: [
      { name: 'step', data: ['3', '3', '3', 'x'], type: 'STRING' },
      { name: 'prompt', data: ['p', 'p', null, 'p'], type: 'STRING' },
      { name: 'completion', data: ['a', 'b', 'c', 'd'], type: 'STRING' },
      { name: 'acc', data: [1, NaN, 1, 1], type: 'DOUBLE' },
      { name: 'fmt', data: [0.5, 0.5, 0.5, 0.5], type: 'DOUBLE' },
      { name: 'advantage', data: [0.1, -0.1, 0, 0], type: 'DOUBLE' },
      { name: 'tag', data: ['x', 'y', 'z', 'w'], type: 'STRING' },
    ],
  });
  const good = path.join(src, 'completions/completions_00003.parquet');
  fs.writeFileSync(good, Buffer.from(buf));
  const cut = path.join(src, 'completions/completions_00004.parquet');
  fs.writeFileSync(cut, Buffer.from(buf).subarray(0, Math.floor(buf.byteLength / 2)));
  fs.writeFileSync(path.join(src, 'trainer_state.json'), JSON.stringify({ log_history: [{ step: 3, loss: 0.1, reward: 1.2 }, { step: 4, eval_reward: 0.9, eval_loss: 0.2 }, { loss: 1 }, { step: 5, kl: 'NaN?' }] }).replace('"reward":1.2', '"reward":NaN'));
  const r = await importRun(src, { out: path.join(dir, 'run') });
  const at = (f: string, line?: number): string => r.problems.filter((p) => p.file.endsWith(f) && p.line === line).map((p) => `${p.field}: ${p.message}`).join(' | ');
  assert.match(at('completions_00003.parquet', 2), /acc.*NaN.*nansum/);
  assert.match(at('completions_00003.parquet', 3), /missing "prompt"/);
  assert.match(at('completions_00003.parquet', 4), /step.*non-negative integer/);
  assert.match(at('completions_00004.parquet'), /not a readable parquet file/);
  const ts = r.problems.filter((p) => p.file.endsWith('trainer_state.json')).map((p) => `${p.field}: ${p.message}`).join(' | ');
  assert.match(ts, /log_history\[0\]\.reward: value is NaN/);
  assert.match(ts, /log_history\[2\]\.step: missing "step"/);
  assert.match(ts, /log_history\[3\]\.kl: not a number/);
  const run = openRun(r.runDir);
  assert.equal(run.manifest.source?.problemCount, r.problemCount);
  const s3 = run.steps.get(3)!;
  assert.deepEqual(s3.samples.map((s) => s.completion), ['a', 'b']);
  assert.equal(s3.samples[1].reward, 0.5, 'NaN column left out of the sum');
  assert.deepEqual(s3.samples[0].extra, { tag: 'x' }, 'unknown non-numeric columns kept');
  const val = await validateIfAvailable(r.runDir);
  if (val) assert.equal(val.code, 0, `a run converted from bad input still validates: ${val.out}`);
  const evalRec = run.metrics.find((m) => m.split === 'eval')!;
  assert.equal(evalRec.values.eval_reward, 0.9);
  assert.equal(evalRec.values['reward/mean'], 0.9, 'eval_ prefix stripped for the mapped name');
});
