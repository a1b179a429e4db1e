import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { RunWriter } from '../../src/runio/writer';
import { readManifest, readMetrics, listRolloutSteps, readRolloutStep, readSampleArrays } from '../../src/runio/reader';
import { sampleArrays } from '../../src/shared/rolloutStep';
import { parseJsonlText, readJsonlFrom } from '../../src/runio/jsonl';

function tmp(): string { return fs.mkdtempSync(path.join(os.tmpdir(), 'rllens-runio-')); }

test('run directory round trip: manifest, metrics, rollouts with per-token arrays', () => {
  const dir = path.join(tmp(), 'run');
  const w = RunWriter.create(dir, { id: 'r1', algorithm: 'grpo', config: { a: 1 } });
  w.metrics({ step: 1, values: { 'reward/mean': 0.5, kl: NaN } });
  w.writeRolloutStep(
    { step: 1, arrays: ['logprob', 'advantage'], groups: [{ id: 'g0', prompt: '1+1=', samples: [0, 1], rewards: [1, 0], mean: 0.5, std: 0.7071 }] },
    [
      { group: 'g0', prompt: '1+1=', completion: '2', tokens: ['2', '<eos>'], reward: 1, length: 2 },
      { group: 'g0', prompt: '1+1=', completion: '31', tokens: ['3', '1', '<eos>'], reward: 0, length: 3 },
    ],
    [{ logprob: [-0.1, -0.2], advantage: [0.7, 0.7] }, { logprob: [-1, -2, -3] }],
  );
  assert.equal(readManifest(dir).status, 'running');
  const m = readMetrics(dir);
  assert.equal(m[0].values['reward/mean'], 0.5);
  assert.equal(m[0].values.kl, null, 'NaN is written as null');
  assert.deepEqual(listRolloutSteps(dir), [1]);
  const st = readRolloutStep(dir, 1);
  assert.equal(st.samples.length, 2);
  const a1 = readSampleArrays(dir, st.header, st.samples[1]);
  assert.deepEqual(Array.from(a1.logprob), [-1, -2, -3]);
  assert.ok(a1.advantage.every((x) => Number.isNaN(x)), 'missing arrays are NaN');
  const a0 = sampleArrays(st, 0);
  assert.ok(Math.abs(a0.logprob[1] - -0.2) < 1e-7);
  assert.ok(Math.abs(a0.advantage[0] - 0.7) < 1e-7);
  assert.throws(() => RunWriter.create(dir, { id: 'r1', algorithm: 'grpo', config: {} }), /already exists/);
});

test('jsonl: torn last line is skipped with a warning, bad middle line reported with its line number', () => {
  const r = parseJsonlText('{"a":1}\nnot json\n{"a":3}\n{"a":', 'f.jsonl', { final: true });
  assert.deepEqual(r.records.map((x) => x.line), [1, 3]);
  assert.equal(r.problems.length, 2);
  assert.equal(r.problems[0].line, 2);
  assert.equal(r.problems[0].severity, 'error');
  assert.equal(r.problems[1].line, 4);
  assert.equal(r.problems[1].severity, 'warning');
});

test('jsonl: live follow consumes only complete lines', () => {
  const f = path.join(tmp(), 'x.jsonl');
  fs.writeFileSync(f, '{"a":1}\n{"a":');
  const c1 = readJsonlFrom(f, 0, 1);
  assert.equal(c1.records.length, 1);
  fs.appendFileSync(f, '2}\n');
  const c2 = readJsonlFrom(f, c1.nextOffset, c1.nextLine);
  assert.deepEqual(c2.records.map((x) => [x.line, (x.value as { a: number }).a]), [[2, 2]]);
});
