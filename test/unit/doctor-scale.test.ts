// The doctor at scale (issue 18): DoctorLoader.updateAsync reads the run in slices between yields to the event loop
// and ends with exactly what update() reads; a step is summarized from per-sample positioned reads (never the whole
// .f32 block) with the same summary and problems as the whole-step reader, a truncated block included;
// DoctorTimeline.updateAsync replays with yields between diagnoses and gives update()'s result.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { diagnose } from '../../src/doctor';
import { DoctorLoader, summarizeStepFile } from '../../src/doctor/load';
import { summarizeRolloutStep } from '../../src/doctor/summarize';
import { DoctorTimeline } from '../../src/doctor/timeline';
import { listRolloutSteps, readRolloutStep } from '../../src/runio/reader';
import { sampleArrays } from '../../src/shared/rolloutStep';
import { synthRun, writeSynthRun, appendSynth } from './doctor-synth';

function tmp(): string { return fs.mkdtempSync(path.join(os.tmpdir(), 'rllens-doctor-scale-')); }

/** the summary of a step as the doctor made it before: the whole step read, arrays as views into its block */
function wholeStepSummary(dir: string, step: number) {
  const st = readRolloutStep(dir, step);
  const pos = new Map(st.samples.map((s, i) => [s, i]));
  return { summary: summarizeRolloutStep(st.header, st.samples, (s) => sampleArrays(st, pos.get(s) ?? -1)), problems: st.problems };
}

test('updateAsync: same input, problems and findings as update(), read in slices that let the event loop run', async () => {
  const dir = path.join(tmp(), 'run');
  const run = synthRun(11, 'entropy-collapse', { groups: 6, rolloutEvery: 5, steps: 120 });
  const w = writeSynthRun(dir, run, { upToStep: 60 });
  const sync = new DoctorLoader(dir), async = new DoctorLoader(dir);
  sync.update();
  let ticks = 0;
  const timer = setInterval(() => { ticks++; }, 0);
  try { assert.equal(await async.updateAsync({ sliceMs: 0 }), true); } finally { clearInterval(timer); }
  assert.ok(ticks > 0, 'timers ran while the pass was reading (it yielded)');
  assert.deepEqual(async.input, sync.input);
  assert.deepEqual(async.problems, sync.problems);
  // live: appended lines only, two overlapping calls share the passes and end with everything
  appendSynth(w, run, 61, 120);
  sync.update();
  const [a, b] = await Promise.all([async.updateAsync({ sliceMs: 0 }), async.updateAsync({ sliceMs: 0 })]);
  assert.equal(a, true); assert.equal(b, false, 'the second pass found nothing new');
  assert.deepEqual(async.input, sync.input);
  assert.deepEqual(diagnose(async.input).map((f) => f.id), diagnose(sync.input).map((f) => f.id));
  assert.ok(diagnose(async.input).some((f) => f.id === 'entropy/collapse'));
});

test('summarizeStepFile: per-sample reads give the whole-step summary; a truncated .f32 gives the same problems and arrays', () => {
  const dir = path.join(tmp(), 'run');
  writeSynthRun(dir, synthRun(5, 'healthy', { groups: 4, rolloutEvery: 5, steps: 20 }));
  const steps = listRolloutSteps(dir);
  assert.ok(steps.length >= 2);
  for (const step of steps) {
    const problems: unknown[] = [];
    const got = summarizeStepFile(dir, step, problems as never);
    const want = wholeStepSummary(dir, step);
    assert.deepEqual(got, want.summary);
    assert.deepEqual(problems, want.problems);
  }
  // cut the last step's block in the middle of a sample: the same problems, the same (partial) token summary
  const step = steps[steps.length - 1];
  const f32 = fs.readdirSync(path.join(dir, 'rollouts')).find((n) => n.endsWith('.f32') && n.includes(String(step)))!;
  const file = path.join(dir, 'rollouts', f32);
  fs.truncateSync(file, Math.floor(fs.statSync(file).size * 0.6 / 4) * 4 + 2);
  const problems: unknown[] = [];
  const got = summarizeStepFile(dir, step, problems as never);
  const want = wholeStepSummary(dir, step);
  assert.ok(want.problems.length > 0, 'the whole-step reader reports the truncated block');
  assert.deepEqual(problems, want.problems);
  assert.deepEqual(got, want.summary);
});

test('DoctorTimeline.updateAsync: the same findings and checkpoints as update(), yielding between replays', async () => {
  const dir = path.join(tmp(), 'run');
  const run = synthRun(3, 'entropy-collapse', { groups: 6, rolloutEvery: 5, steps: 150 });
  writeSynthRun(dir, run);
  const l = new DoctorLoader(dir);
  l.update();
  const want = new DoctorTimeline().update(l.input, undefined, { remember: true });
  let ticks = 0;
  const timer = setInterval(() => { ticks++; }, 0);
  let got;
  try { got = await new DoctorTimeline().updateAsync(l.input, undefined, { remember: true, sliceMs: 0 }); } finally { clearInterval(timer); }
  assert.ok(ticks > 0, 'timers ran during the replays');
  assert.ok(want.checkpoints.length > 3 && want.findings.length > 0);
  assert.deepEqual(got, want);
});

test('a step summary keeps 300 characters per completion (held for every step) but counts distinct completions on the whole text', () => {
  const long = 'x'.repeat(1000);
  const header = { kind: 'header', step: 3, arrays: [], numSamples: 3, dataFile: 'step_3.f32', groups: [{ id: 'g', prompt: 'p', samples: [0, 1, 2], rewards: [1, 0, 0], mean: 1 / 3, std: 0.5, filtered: false }] };
  const mk = (index: number, completion: string) => ({ kind: 'sample', index, group: 'g', prompt: 'p', completion, tokens: [], reward: index === 0 ? 1 : 0, length: 0 });
  // samples 0 and 1 differ only at character 900; 2 equals 1
  const s = summarizeRolloutStep(header as never, [mk(0, long + 'a'), mk(1, long.slice(0, 900) + 'b' + long.slice(901) + 'a'), mk(2, long.slice(0, 900) + 'b' + long.slice(901) + 'a')] as never, () => ({}));
  assert.deepEqual(s.samples.map((x) => x.text.length), [300, 300, 300]);
  assert.equal(s.groups[0].distinct, 2, 'a difference past the kept window still counts');
});
