// rollouts/index.jsonl (issue 18, docs/run-format.md "Step index"): the writer appends one line per published step;
// the step picker's summaries come from it without reading the steps; runs without it are rebuilt from the headers.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { makeRun } from '../fixtures/makeRun';
import { FILES, stepFileBase } from '../../src/shared/runFormat';
import { listRolloutSteps, readRolloutIndex, readRolloutStep, rolloutStepSummaries } from '../../src/runio/reader';
import { writeRolloutStepFiles } from '../../src/runio/writer';
import { stepInfoOf } from '../../src/host/runStore';
import { stepInfos } from '../../src/host/ui/panels/dataProvider';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rl-lens-index-'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));

const headerInfo = (dir: string, step: number) => { const st = readRolloutStep(dir, step); return { ...stepInfoOf(st.header), step }; };

test('the writer appends one index line per step with what the step picker shows; summaries equal the headers', () => {
  const dir = makeRun({ dir: path.join(tmp, 'a'), algorithm: 'grpo', steps: 6, rolloutEvery: 2, seed: 31 });
  const lines = fs.readFileSync(path.join(dir, FILES.rolloutIndex), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const steps = listRolloutSteps(dir);
  assert.deepEqual(lines.map((l) => l.step), steps);
  for (const e of lines) {
    const st = readRolloutStep(dir, e.step);
    assert.equal(e.traced, st.header.arrays.length > 0);
    assert.deepEqual(e.arrays, st.header.arrays);
    assert.equal(e.samples, st.samples.length);
    assert.equal(e.groups, st.header.groups.length);
    assert.equal(e.jsonlBytes, fs.statSync(path.join(dir, FILES.rolloutsDir, `${stepFileBase(e.step)}.jsonl`)).size);
    assert.equal(e.dataBytes, st.header.dataFile ? fs.statSync(path.join(dir, FILES.rolloutsDir, st.header.dataFile)).size : 0);
    const rs = st.samples.map((s) => s.reward).filter(Number.isFinite);
    assert.ok(Math.abs(e.rewardMean - rs.reduce((a, b) => a + b, 0) / rs.length) < 1e-12);
  }
  assert.deepEqual(stepInfos(dir), steps.map((s) => headerInfo(dir, s)));
});

test('with an index the steps are not read: a step whose header is unreadable is still summarised from the index', () => {
  const dir = makeRun({ dir: path.join(tmp, 'b'), algorithm: 'grpo', steps: 4, rolloutEvery: 1, seed: 32 });
  const step = listRolloutSteps(dir)[1];
  const want = stepInfos(dir).find((i) => i.step === step);
  fs.writeFileSync(path.join(dir, FILES.rolloutsDir, `${stepFileBase(step)}.jsonl`), 'not json at all\n');
  assert.deepEqual(rolloutStepSummaries(dir).find((e) => e.step === step)?.samples, want?.samples);
});

test('an old or imported run without index: rebuilt from the header lines on demand, appended once, then read from it', () => {
  const dir = makeRun({ dir: path.join(tmp, 'c'), algorithm: 'ppo', steps: 5, rolloutEvery: 1, seed: 33 });
  fs.rmSync(path.join(dir, FILES.rolloutIndex));
  const steps = listRolloutSteps(dir);
  assert.equal(readRolloutIndex(dir).size, 0);
  const without = rolloutStepSummaries(dir);
  assert.ok(!fs.existsSync(path.join(dir, FILES.rolloutIndex)), 'no rebuild unless asked');
  assert.deepEqual(without.map((e) => e.step), steps);
  const infos = stepInfos(dir); // the step picker asks: rebuild
  assert.deepEqual(infos, steps.map((s) => headerInfo(dir, s)));
  const lines = fs.readFileSync(path.join(dir, FILES.rolloutIndex), 'utf8').trim().split('\n');
  assert.equal(lines.length, steps.length);
  stepInfos(dir);
  assert.equal(fs.readFileSync(path.join(dir, FILES.rolloutIndex), 'utf8').trim().split('\n').length, steps.length, 'not appended twice');
  assert.ok(lines.every((l) => JSON.parse(l).rewardMean === undefined), 'rebuilt lines carry no reward mean (samples not read)');
});

test('live run: a new step is picked up incrementally; a step listed twice counts by its last line; a torn tail is skipped', () => {
  const dir = makeRun({ dir: path.join(tmp, 'd'), algorithm: 'grpo', steps: 3, rolloutEvery: 1, seed: 34 });
  const st = readRolloutStep(dir, listRolloutSteps(dir)[0]);
  const n0 = rolloutStepSummaries(dir).length;
  // a new step written by the writer
  writeRolloutStepFiles(path.join(dir, FILES.rolloutsDir), { ...st.header, step: 99 }, st.samples.map((s) => ({ ...s })), st.samples.map(() => ({})));
  const after = rolloutStepSummaries(dir);
  assert.equal(after.length, n0 + 1);
  assert.equal(after.at(-1)!.step, 99);
  // rewritten: last line counts; a torn line is ignored
  fs.appendFileSync(path.join(dir, FILES.rolloutIndex), JSON.stringify({ ...after.at(-1), samples: 1234 }) + '\n{"step": 99, "sam');
  assert.equal(rolloutStepSummaries(dir).at(-1)!.samples, 1234);
});
