// One rollout step, one shape (src/shared/rolloutStep.ts): block layout and offsets (hand-computed), whole-group
// retention, the one trace-retention setting end to end (which steps the trainer actually writes), arrays stored only
// when the algorithm computes them, and group baselines equal to what the advantage used (RLOO: leave-one-out).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  arraySpan, arraysWithData, isFullTraceStep, packRolloutStep, retainWholeGroups, sampleArray, type RolloutStepInput,
} from '../../src/shared/rolloutStep';
import { PRESETS, deepMerge, resolveConfig } from '../../src/trainer/config';
import '../../src/trainer/plugins'; // the entry point registers the algorithms
import { runTraining } from '../../src/trainer/engine';
import { applyTraceRetention } from '../../src/host/configPrep';
import { listRolloutSteps, readRolloutStep } from '../../src/runio/reader';
import { availableMetrics, groupSummary } from '../../src/webview/data/step';
import { drillDown } from '../../src/webview/data/drilldown';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'rllens-step-'));

const g = (id: string, samples: number[]) => ({ id, prompt: id, samples, rewards: samples.map(() => 0), mean: 0, std: 0 });
const smp = (group: string, length: number) => ({ group, prompt: group, completion: 'x'.repeat(length), tokens: Array(length).fill('x'), reward: 0, length });

test('packRolloutStep: offsets back to back, array-major blocks, NaN where a producer gave nothing (hand-computed)', () => {
  // arrays [a, b]; sample 0 has 2 tokens, sample 1 has 3 → block 0 = 4 floats at 0, block 1 = 6 floats at 4
  const step = packRolloutStep({
    header: { step: 7, arrays: ['a', 'b'], groups: [g('g', [0, 1])] },
    samples: [smp('g', 2), smp('g', 3)],
    arrays: [{ a: [1, 2], b: [3, 4] }, { a: [5, 6, 7] }],
  }, 'step_00000007.f32');
  assert.deepEqual(step.samples.map((s) => s.offset), [0, 4]);
  assert.deepEqual(step.samples.map((s) => s.index), [0, 1]);
  assert.equal(step.header.numSamples, 2);
  assert.equal(step.header.dataFile, 'step_00000007.f32');
  assert.deepEqual(Array.from(step.data.subarray(0, 4)), [1, 2, 3, 4]);
  assert.deepEqual(Array.from(step.data.subarray(4, 7)), [5, 6, 7]);
  assert.ok(Array.from(step.data.subarray(7, 10)).every(Number.isNaN), 'missing array b of sample 1 is NaN');
  assert.deepEqual(arraySpan(step.header, step.samples[1], 'b'), { start: 7, end: 10 });
  assert.deepEqual(Array.from(sampleArray(step, 1, 'a')!), [5, 6, 7]);
  assert.equal(sampleArray(step, 1, 'nope'), undefined);
  assert.deepEqual(arraysWithData(step), ['a', 'b']);
  // a block shorter than the offsets say: the sample beyond it has no arrays (never a read past the end)
  assert.equal(sampleArray({ ...step, data: step.data.subarray(0, 8) }, 1, 'b'), undefined);
  // no arrays: no data file, no offsets
  const none = packRolloutStep({ header: { step: 1, arrays: [], groups: [] }, samples: [smp('g', 2)], arrays: [{}] }, 'x.f32');
  assert.equal(none.header.dataFile, undefined);
  assert.equal(none.samples[0].offset, undefined);
  assert.equal(none.data.length, 0);
});

test('arraysWithData: an all-NaN array is stored but never offered', () => {
  const step = packRolloutStep({ header: { step: 1, arrays: ['advantage', 'value'], groups: [] }, samples: [smp('g', 2)], arrays: [{ advantage: [0.5, 0.5] }] }, 'f');
  assert.deepEqual(arraysWithData(step), ['advantage']);
  assert.deepEqual(availableMetrics(step).map((m) => m.id), ['advantage']);
});

test('retainWholeGroups: whole groups in order, the first always, renumbered; ungrouped steps by index', () => {
  const input: RolloutStepInput = {
    header: { step: 1, arrays: ['a'], groups: [g('g0', [0, 1, 2]), g('g1', [3, 4, 5]), g('g2', [6, 7, 8])] },
    samples: Array.from({ length: 9 }, (_, i) => smp(`g${Math.floor(i / 3)}`, 1)),
    arrays: Array.from({ length: 9 }, (_, i) => ({ a: [i] })),
  };
  assert.equal(retainWholeGroups(input, 9), input, 'nothing cut: the input itself');
  const r = retainWholeGroups(input, 7);
  assert.deepEqual(r.header.groups.map((x) => x.id), ['g0', 'g1']);
  assert.deepEqual(r.header.groups.map((x) => x.samples), [[0, 1, 2], [3, 4, 5]]);
  assert.deepEqual(r.arrays.map((a) => a.a[0]), [0, 1, 2, 3, 4, 5]);
  assert.equal(r.header.subsampled, true);
  assert.deepEqual([r.header.totalGroups, r.header.totalSamples], [3, 9], 'what the step had: its metrics cover all of it');
  const first = retainWholeGroups(input, 2);
  assert.deepEqual(first.header.groups.map((x) => x.samples), [[0, 1, 2]], 'a group is never split, the first is kept whole');
  // a group listed out of order keeps its members' new positions
  const shuffled: RolloutStepInput = { ...input, header: { ...input.header, groups: [g('g2', [6, 7, 8]), g('g0', [0, 1, 2])] } };
  const s = retainWholeGroups(shuffled, 6);
  assert.deepEqual(s.header.groups.map((x) => [x.id, x.samples]), [['g2', [0, 1, 2]], ['g0', [3, 4, 5]]]);
  assert.deepEqual(s.arrays.map((a) => a.a[0]), [6, 7, 8, 0, 1, 2]);
  const ungrouped = retainWholeGroups({ ...input, header: { ...input.header, groups: [] } }, 4);
  assert.deepEqual(ungrouped.arrays.map((a) => a.a[0]), [0, 1, 2, 3]);
});

test('isFullTraceStep: step 1 and every N-th; 0 = never', () => {
  assert.deepEqual([1, 2, 3, 4, 5, 6].filter((s) => isFullTraceStep(s, { every: 3, maxSamples: 8 })), [1, 3, 6]);
  assert.deepEqual([1, 2, 3].filter((s) => isFullTraceStep(s, { every: 0, maxSamples: 8 })), []);
});

/** A tiny RL run (grpo-tiny preset, 4 steps, 10 warm-start steps) of `algorithm`, as the extension prepares it. */
async function tinyRl(algorithm: string, retentionSetting: number, over: Record<string, unknown> = {}): Promise<string> {
  const raw = deepMerge(PRESETS['grpo-tiny'](), { algorithm, backend: 'wasm', eval: { every: 0 }, ...over }) as Record<string, unknown>;
  delete (raw.rollouts as Record<string, unknown>).every; // the config is silent: the setting decides
  const prepared = applyTraceRetention(raw, retentionSetting) ?? raw;
  const dir = path.join(tmp(), algorithm);
  const r = await runTraining(resolveConfig(prepared), { outDir: dir, progress: () => undefined });
  assert.equal(r.status, 'completed', r.error);
  return dir;
}

const withBlock = (dir: string) => listRolloutSteps(dir).filter((s) => fs.existsSync(path.join(dir, 'rollouts', `step_${String(s).padStart(8, '0')}.f32`)));

test('rlLens.traceRetention reaches RL runs: per-token arrays exactly on step 1 and every 3rd, summaries on every step; GRPO stores no value / return', async () => {
  const dir = await tinyRl('grpo', 3);
  assert.deepEqual(listRolloutSteps(dir), [1, 2, 3, 4], 'a summary on every step');
  assert.deepEqual(withBlock(dir), [1, 3], 'per-token arrays on steps 1 and 3 only');
  const st = readRolloutStep(dir, 3);
  assert.deepEqual(st.problems, []);
  assert.ok(st.header.arrays.includes('advantage') && st.header.arrays.includes('kl'));
  assert.ok(!st.header.arrays.includes('value') && !st.header.arrays.includes('return'), `GRPO has no critic: ${st.header.arrays.join(', ')}`);
  const offered = availableMetrics(st).map((m) => m.id);
  assert.ok(!offered.includes('value') && !offered.includes('return'), `offered: ${offered.join(', ')}`);
  assert.deepEqual(readRolloutStep(dir, 2).header.arrays, [], 'a summary step has no arrays');
  // GRPO's group baseline is the group mean the advantage subtracted; A_i = (r_i − mean)/(std + 1e-6), std unbiased
  for (const grp of st.header.groups) {
    const rs = grp.rewards, n = rs.length;
    const m = rs.reduce((a, b) => a + b, 0) / n;
    const sd = Math.sqrt(rs.reduce((a, b) => a + (b - m) ** 2, 0) / (n - 1));
    assert.ok(Math.abs(grp.baseline! - m) < 1e-5, `group ${grp.id}: baseline ${grp.baseline} vs mean ${m}`);
    assert.ok(Math.abs(grp.std - sd) < 1e-5, `group ${grp.id}: std ${grp.std} vs ${sd}`);
    grp.samples.forEach((i, k) => {
      const want = grp.filtered ? 0 : (rs[k] - m) / (sd + 1e-6);
      assert.ok(Math.abs(st.samples[i].advantage! - want) < 1e-3 * Math.max(1, Math.abs(want)), `sample ${i}: A ${st.samples[i].advantage} vs ${want}`);
    });
  }
});

test('PPO stores value and return (it has a critic); RLOO groups carry the leave-one-out baselines the advantage used', async () => {
  const ppo = await tinyRl('ppo', 1, { train: { steps: 1 } });
  const p = readRolloutStep(ppo, 1);
  assert.ok(p.header.arrays.includes('value') && p.header.arrays.includes('return'), p.header.arrays.join(', '));
  assert.ok(arraysWithData(p).includes('value'));

  const dir = await tinyRl('rloo', 1, { train: { steps: 2 } });
  const st = readRolloutStep(dir, 2);
  const beta = Number(st.header.params?.beta);
  assert.ok(beta > 0, 'RLOO puts the KL in the reward (β > 0) by default');
  let checked = 0;
  for (const grp of st.header.groups) {
    if (!grp.samples.length) continue;
    assert.equal(grp.baseline, undefined, 'no single baseline: each member has its own');
    assert.equal(grp.baselines?.length, grp.samples.length);
    // the estimator's input: reward − β·Σ_t kl_t, recomputed here from the stored per-token KL
    const scores = grp.samples.map((i) => {
      const kl = sampleArray(st, i, 'kl')!;
      return st.samples[i].reward - beta * kl.reduce((a, b) => a + b, 0);
    });
    assert.ok(grp.scores, 'the estimator input is stored when it differs from the rewards');
    const n = scores.length, sum = scores.reduce((a, b) => a + b, 0);
    grp.samples.forEach((i, k) => {
      assert.ok(Math.abs(grp.scores![k] - scores[k]) < 1e-4, `score ${grp.scores![k]} vs ${scores[k]}`);
      const loo = (sum - scores[k]) / (n - 1); // mean of the other n − 1 (RLOO, Kool et al. 2019)
      assert.ok(Math.abs(grp.baselines![k] - loo) < 1e-4, `group ${grp.id} member ${k}: baseline ${grp.baselines![k]} vs leave-one-out ${loo}`);
      assert.ok(Math.abs(grp.baselines![k] - grp.mean) > 1e-9 || n === 1 || scores.every((x) => x === scores[0]) || Math.abs(scores[k] - sum / n) < 1e-6, 'not the group mean');
      assert.ok(Math.abs(st.samples[i].advantage! - (scores[k] - loo)) < 1e-4, `sample ${i}: A ${st.samples[i].advantage} vs ${scores[k] - loo}`);
      checked++;
      // what the group view and the drill-down show: the stored per-member baseline, every check passing
      const dd = drillDown(st, i, 0);
      const base = dd.checks.find((c) => c.label === 'baseline (stored)');
      assert.ok(base?.ok, `drill-down baseline check for sample ${i}: ${JSON.stringify(base)}`);
      assert.deepEqual(dd.checks.filter((c) => !c.ok), [], `sample ${i}: ${JSON.stringify(dd.checks)}`);
    });
    assert.deepEqual(groupSummary(st, grp.id)?.stored.baselines, grp.baselines);
  }
  assert.ok(checked >= 8, `checked ${checked} samples`);
});

test('an old config with rl.traces is refused with where the setting went', () => {
  assert.throws(() => resolveConfig({ algorithm: 'grpo', rl: { traces: { fullEvery: 5 } } }), /config\.rl\.traces: was replaced by the top-level "rollouts" section/);
});
