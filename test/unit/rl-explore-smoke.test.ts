/**
 * EEPO, GHPO and the DELTA schedule through the real engine (`runTraining`, as `rl-lens train --preset …` runs them),
 * from their CLI presets shortened to seconds (wasm): the run completes, the rollout files hold what the views show
 * (EEPO: eepoStage on samples + the eepo_forget array; GHPO: hint on groups and samples; DELTA: reward/schedule_dense),
 * the files pass the run-format validator, and the doctor turns the reward switch into an info finding (the
 * dashboard's annotation band).
 */
import { before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { resolveConfig } from '../../src/trainer/config';
import '../../src/trainer/plugins';
import { runTraining } from '../../src/trainer/engine';
import { presetEntry } from '../../src/shared/presets';
import { deepMerge } from '../../src/shared/deepMerge';
import { readMetrics, readRolloutStep, readSampleArrays } from '../../src/runio/reader';
import { validateRun } from '../../src/cli/validate';
import { loadDoctorInput } from '../../src/doctor/load';
import { diagnose } from '../../src/doctor';
import { initBackend } from '../../src/trainer/backend';

before(async () => { await initBackend('wasm'); });
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'rl-explore-'));
const SHORT = {
  backend: 'wasm', model: { dModel: 16, nHeads: 2, nLayers: 1 }, train: { steps: 3 }, eval: { every: 0, numPrompts: 4, samplesPerPrompt: 2, k: [1, 2], atStart: false },
  checkpoint: { every: 0 }, rollouts: { every: 1, maxSamples: 64 }, rl: { promptsPerStep: 3, groupSize: 4, warmStart: { steps: 10, batchSize: 16 } },
};

async function run(id: string, extra: Record<string, unknown> = {}): Promise<string> {
  const out = path.join(root, id);
  const cfg = resolveConfig(deepMerge(deepMerge(presetEntry(id)!.make(), SHORT), extra) as Record<string, unknown>);
  const res = await runTraining(cfg, { outDir: out });
  assert.equal(res.status, 'completed');
  const problems = validateRun(out).filter((p) => (p as { severity?: string }).severity !== 'warning');
  assert.deepEqual(problems, [], JSON.stringify(problems));
  return out;
}

test('eepo-arithmetic-tiny: stages on the samples, eepo_forget per token, eepo metrics', async () => {
  const out = await run('eepo-arithmetic-tiny');
  const st = readRolloutStep(out, 1);
  assert.ok(st.header.arrays.includes('eepo_forget'));
  assert.deepEqual(st.samples.slice(0, 8).map((s) => s.eepoStage), [1, 1, 2, 2, 1, 1, 2, 2]);
  const a = readSampleArrays(out, st.header, st.samples[0]);
  assert.ok(Array.from(a.eepo_forget).every((x) => x > 0), 'first-stage tokens carry their complementary loss');
  const a2 = readSampleArrays(out, st.header, st.samples[2]);
  assert.ok(Array.from(a2.eepo_forget).every((x) => x === 0), 'second-stage tokens: 0');
  const m = readMetrics(out).filter((x) => x.split !== 'eval');
  assert.ok(m.every((x) => x.values['eepo/triggered'] === 1 && (x.values['eepo/forget_loss'] as number) > 0));
});

test('ghpo-arithmetic-tiny: the hint is stored on the group and its samples', async () => {
  // difficulty 4 (answers up to 4 characters) so that a 10-step warm start fails whole groups
  const out = await run('ghpo-arithmetic-tiny', { task: { difficulty: 4 }, model: { contextLength: 24 }, sampling: { maxNewTokens: 6 } });
  const hinted = [1, 2, 3].flatMap((s) => readRolloutStep(out, s).header.groups).filter((g) => typeof g.hint === 'string');
  assert.ok(hinted.length > 0, 'some group got a hint');
  for (const g of hinted) assert.ok(String(g.answer).startsWith(String(g.hint)) && typeof g.hintRatio === 'number');
});

test('delta-shift: reward/schedule_dense 1 → 0 and the doctor marks the switch (dashboard annotation)', async () => {
  const out = await run('delta-shift', { rl: { rewardSchedule: { denseUntil: 1 } } });
  const m = readMetrics(out).filter((x) => x.split !== 'eval');
  assert.deepEqual(m.map((x) => x.values['reward/schedule_dense']), [1, 0, 0]);
  const f = diagnose(loadDoctorInput(out).input).find((x) => x.id === 'reward/schedule-switch');
  assert.ok(f, 'switch finding');
  assert.deepEqual(f!.stepRange, [1, 2]);
  assert.ok(f!.evidence.metrics!.includes('reward/mean'));
});
