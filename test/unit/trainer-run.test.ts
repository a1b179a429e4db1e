// In-process training runs: run directory round trip + validation, determinism, failure and stop handling.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { PRESETS, deepMerge, resolveConfig } from '../../src/trainer/config';
import '../../src/trainer/plugins'; // the entry point registers the algorithms (config.ts imports none)
import { StopSignal, runTraining, registerAlgorithm } from '../../src/trainer/engine';
import { loadCheckpoint } from '../../src/trainer/checkpoint';
import { validateRun } from '../../src/cli/validate';
import { listCheckpoints, listRolloutSteps, readEvals, readEvents, readManifest, readMetrics, readRolloutStep, readSampleArrays } from '../../src/runio/reader';
import type { TrainerEvent } from '../../src/shared/runFormat';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'rllens-run-'));
const tiny = (over: Record<string, unknown> = {}) => resolveConfig(deepMerge(PRESETS.tiny(), { backend: 'wasm', ...over }));

test('tiny SFT run: complete run directory that reads back and validates', async () => {
  const dir = path.join(tmp(), 'run');
  const events: TrainerEvent[] = [];
  const lines: string[] = [];
  const r = await runTraining(tiny(), { outDir: dir, onEvent: (e) => events.push(e), progress: (l) => lines.push(l) });
  assert.equal(r.status, 'completed', r.error);
  assert.equal(r.step, 20);
  const problems = validateRun(dir);
  assert.deepEqual(problems.filter((p) => p.severity !== 'warning'), [], JSON.stringify(problems));
  const m = readManifest(dir);
  assert.equal(m.status, 'completed');
  assert.equal(m.backend?.name, 'wasm');
  assert.ok(m.model && m.model.parameters > 0);
  assert.equal((m.config as { derived: { sequenceLength: number } }).derived.sequenceLength, 8);
  // the events on the channel are exactly those in events.jsonl
  assert.deepEqual(readEvents(dir), JSON.parse(JSON.stringify(events)));
  assert.equal(events[0].type, 'start');
  assert.equal(events[events.length - 1].type, 'end');
  const train = readMetrics(dir).filter((x) => x.split === 'train');
  assert.deepEqual(train.map((x) => x.step), Array.from({ length: 20 }, (_, i) => i + 1));
  assert.ok(typeof train[0].values.loss === 'number');
  const evals = readEvals(dir);
  assert.deepEqual(evals.map((e) => e.step), [0, 10, 20]);
  assert.ok('1' in evals[0].passAtK && '4' in evals[0].passAtK);
  const steps = listRolloutSteps(dir);
  assert.deepEqual(steps, [1, 5, 10, 15, 20]);
  const st = readRolloutStep(dir, 5);
  assert.equal(st.header.numSamples, 8);
  const arr = readSampleArrays(dir, st.header, st.samples[0]);
  assert.equal(arr.logprob.length, st.samples[0].length);
  for (const v of arr.logprob) assert.ok(v <= 0);
  const cks = listCheckpoints(dir).map((c) => c.name);
  assert.deepEqual(cks, ['step_00000010', 'step_00000020', 'step_00000020_final']);
  const { model, meta } = loadCheckpoint(path.join(dir, 'checkpoints', 'step_00000020_final'));
  assert.equal(meta.step, 20);
  model.dispose();
  assert.ok(lines.some((l) => /^\[rl-lens\] backend wasm/.test(l)), 'backend line printed at start');
  assert.ok(lines.some((l) => /^step 20\/20 loss [\d.]+ .*ETA/.test(l)), 'progress lines');
});

test('determinism: same seed, same backend → identical metrics; other seed → different', async () => {
  const strip = (dir: string) => readMetrics(dir).map((x) => ({ step: x.step, split: x.split, values: Object.fromEntries(Object.entries(x.values).filter(([k]) => !k.startsWith('perf/'))) }));
  const over = { train: { steps: 6 }, eval: { every: 3, numPrompts: 4, samplesPerPrompt: 2, k: [1, 2] }, rollouts: { every: 0 }, checkpoint: { every: 0 } };
  const a = path.join(tmp(), 'a'), b = path.join(tmp(), 'b'), c = path.join(tmp(), 'c');
  await runTraining(tiny(over), { outDir: a });
  await runTraining(tiny(over), { outDir: b });
  await runTraining(tiny({ ...over, seed: 2 }), { outDir: c });
  assert.deepEqual(strip(a), strip(b));
  assert.notDeepEqual(strip(a), strip(c));
});

registerAlgorithm({
  name: 'test_nan', kind: 'sft', summary: 'test: reports a NaN loss at step 3',
  async run(ctx) { for (let s = 1; s <= 5; s++) ctx.step(s, { loss: s === 3 ? NaN : 1 / s }); },
});
registerAlgorithm({
  name: 'test_throw', kind: 'sft', summary: 'test: throws at step 2',
  async run(ctx) { ctx.step(1, { loss: 1 }); throw new Error('boom in the algorithm'); },
});
registerAlgorithm({
  name: 'test_stop', kind: 'sft', summary: 'test: requests a stop at step 2 and honours it',
  async run(ctx) {
    for (let s = 1; s <= 100; s++) {
      tf.tidy(() => ctx.policy.forward(tf.tensor2d([[1, 4, 5]], undefined, 'int32')).logits.dataSync());
      ctx.step(s, { loss: 1 });
      await ctx.yield();
      if (ctx.stopRequested()) return;
    }
  },
});

test('NaN loss → error event, status failed, nothing lost, run still validates', async () => {
  const dir = path.join(tmp(), 'nan');
  const r = await runTraining(tiny({ algorithm: 'test_nan', eval: { atStart: false } }), { outDir: dir });
  assert.equal(r.status, 'failed');
  assert.match(r.error!, /non-finite loss \(NaN\) at step 3/);
  const ev = readEvents(dir);
  const err = ev.find((e) => e.type === 'error') as Extract<TrainerEvent, { type: 'error' }>;
  assert.match(err.message, /non-finite loss/);
  assert.deepEqual(ev[ev.length - 1], { ...ev[ev.length - 1], type: 'end', status: 'failed' });
  assert.equal(readManifest(dir).status, 'failed');
  assert.deepEqual(readMetrics(dir).map((m) => m.step), [1, 2, 3], 'the steps before the failure are kept (NaN written as null)');
  assert.equal(readMetrics(dir)[2].values.loss, null);
  assert.deepEqual(validateRun(dir).filter((p) => p.severity !== 'warning'), []);
});

test('exception in the algorithm → status failed with the message', async () => {
  const dir = path.join(tmp(), 'throw');
  const r = await runTraining(tiny({ algorithm: 'test_throw' }), { outDir: dir });
  assert.equal(r.status, 'failed');
  assert.equal(readManifest(dir).error?.message, 'boom in the algorithm');
  assert.ok(readEvents(dir).some((e) => e.type === 'error' && e.message === 'boom in the algorithm'));
});

test('stop request → current step finishes, stop checkpoint, status stopped', async () => {
  const dir = path.join(tmp(), 'stop');
  const stop = new StopSignal();
  const cfg = tiny({ algorithm: 'test_stop' });
  const r = await runTraining(cfg, { outDir: dir, stop, onEvent: (e) => { if (e.type === 'step' && e.step === 2) stop.request('test'); } });
  assert.equal(r.status, 'stopped');
  assert.equal(r.step, 2);
  assert.equal(readManifest(dir).status, 'stopped');
  assert.deepEqual(listCheckpoints(dir).map((c) => c.name), ['step_00000002_stop']);
  const end = readEvents(dir).pop() as Extract<TrainerEvent, { type: 'end' }>;
  assert.equal(end.status, 'stopped');
  assert.deepEqual(validateRun(dir).filter((p) => p.severity !== 'warning'), []);
});

test('validate reports broken files with file:line: field: message', async () => {
  const dir = path.join(tmp(), 'bad');
  await runTraining(tiny({ train: { steps: 5 }, rollouts: { every: 5, maxSamples: 8 }, eval: { every: 5 }, checkpoint: { every: 0 } }), { outDir: dir });
  const n = readMetrics(dir).length;
  fs.appendFileSync(path.join(dir, 'metrics.jsonl'), '{"step": -1, "values": {"x": "str"}}\n{not json\n');
  const st = path.join(dir, 'rollouts', 'step_00000005.jsonl');
  const lines = fs.readFileSync(st, 'utf8').trim().split('\n');
  const s1 = JSON.parse(lines[2]); s1.length += 1; lines[2] = JSON.stringify(s1);
  fs.writeFileSync(st, lines.join('\n') + '\n');
  fs.appendFileSync(path.join(dir, 'rollouts', 'step_00000005.f32'), Buffer.alloc(4));
  const probs = validateRun(dir).filter((p) => p.severity !== 'warning').map((p) => `${path.basename(p.file)}:${p.line ?? ''}: ${p.field ?? ''}: ${p.message}`);
  assert.ok(probs.some((p) => p.startsWith(`metrics.jsonl:${n + 1}: step: must be >= 0`)), probs.join('\n'));
  assert.ok(probs.some((p) => p.startsWith(`metrics.jsonl:${n + 1}: values.x: must be number,null`)), probs.join('\n'));
  assert.ok(probs.some((p) => p.startsWith(`metrics.jsonl:${n + 2}: : not valid JSON`)), probs.join('\n'));
  assert.ok(probs.some((p) => p.startsWith('step_00000005.jsonl:3: length: is') && p.includes('but tokens has')), probs.join('\n'));
  assert.ok(probs.some((p) => p.startsWith('step_00000005.f32:: : size')), probs.join('\n'));
});
