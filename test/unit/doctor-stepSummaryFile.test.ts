// The doctor's step summary sidecar (issue 18, src/doctor/stepSummaryFile.ts, docs/run-format.md "Doctor step summary
// sidecar"): the writer leaves each step's summary beside it, equal to the summary computed from the step's files;
// the doctor's loader takes it instead of parsing the step while the files are unchanged, and summarises the files
// again (writing the sidecar back) when they changed; a step with problems gets none (its problems are reported on
// every read).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { makeRun } from '../fixtures/makeRun';
import { listRolloutSteps } from '../../src/runio/reader';
import { DoctorLoader, summarizeStepFile } from '../../src/doctor/load';
import { doctorSummaryPath, readStepDoctorSummary } from '../../src/doctor/stepSummaryFile';
import { DEFAULT_THRESHOLDS } from '../../src/doctor/thresholds';
import type { InputProblem } from '../../src/shared/runFormat';
import Ajv from 'ajv';
import { RUN_FORMAT_SCHEMA } from '../../src/trainer/runSchema';

const ajv = new Ajv({ allErrors: true, strict: false });
ajv.addSchema(RUN_FORMAT_SCHEMA as object, 'rf');

const R = DEFAULT_THRESHOLDS.clip.ratioOutlier;

test('the writer\'s sidecar equals the summary computed from the step files, for every step of PPO, GRPO and DAPO runs (NaN rewards too)', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rl-lens-dsum-'));
  try {
    for (const algorithm of ['ppo', 'grpo', 'dapo'] as const) {
      const dir = makeRun({ dir: path.join(tmp, algorithm), algorithm, steps: 12, rolloutEvery: 4, seed: 5, hostile: true });
      const rdir = path.join(dir, 'rollouts');
      const steps = listRolloutSteps(dir);
      assert.ok(steps.length >= 3, `${algorithm}: steps`);
      for (const step of steps) {
        assert.ok(fs.existsSync(doctorSummaryPath(rdir, step)), `${algorithm} step ${step}: the writer left a sidecar`);
        const v = ajv.getSchema('rf#/definitions/stepDoctorSummary')!;
        assert.ok(v(JSON.parse(fs.readFileSync(doctorSummaryPath(rdir, step), 'utf8'))), `${algorithm} step ${step}: the schema: ${JSON.stringify(v.errors)}`);
        const kept = readStepDoctorSummary(rdir, step, R);
        assert.ok(kept, `${algorithm} step ${step}: sidecar valid`);
        fs.rmSync(doctorSummaryPath(rdir, step));
        const problems: InputProblem[] = [];
        const fromFiles = summarizeStepFile(dir, step, problems);
        assert.deepEqual(problems, []);
        assert.deepEqual(kept, fromFiles, `${algorithm} step ${step}: sidecar = summary of the files`);
        assert.ok(fromFiles.tokens && fromFiles.tokens.tokens > 0, 'a token summary was compared');
        assert.ok(fs.existsSync(doctorSummaryPath(rdir, step)), 'written back by the read');
      }
    }
    // a NaN reward survives the JSON round trip as NaN (a sample the reward function failed on)
    const dir = path.join(tmp, 'grpo'), rdir = path.join(dir, 'rollouts'), step = listRolloutSteps(dir)[0];
    const side = JSON.parse(fs.readFileSync(doctorSummaryPath(rdir, step), 'utf8'));
    side.summary.samples[0].reward = null; side.summary.groups[0].rewards[0] = null;
    fs.writeFileSync(doctorSummaryPath(rdir, step), JSON.stringify(side));
    const back = readStepDoctorSummary(rdir, step, R)!;
    assert.ok(Number.isNaN(back.samples[0].reward) && Number.isNaN(back.groups[0].rewards[0]));
  } finally { fs.rmSync(tmp, { recursive: true, force: true }); }
});

test('the loader reads the sidecar while the step is unchanged; a changed step, another ratio bound or another version is summarised from its files', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rl-lens-dsum2-'));
  try {
    const dir = makeRun({ dir: path.join(tmp, 'r'), algorithm: 'ppo', steps: 6, rolloutEvery: 3, seed: 9 });
    const rdir = path.join(dir, 'rollouts'), step = listRolloutSteps(dir)[0];
    const file = doctorSummaryPath(rdir, step);
    // a marker only the sidecar has: the loader shows it, so it did not parse the step
    const side = JSON.parse(fs.readFileSync(file, 'utf8'));
    const real = side.summary.samples[0].text;
    side.summary.samples[0].text = 'FROM THE SIDECAR';
    fs.writeFileSync(file, JSON.stringify(side));
    const textOf = (ratioBound?: number) => { const l = new DoctorLoader(dir, ratioBound ? { ratioBound } : {}); l.update(); return l.input.rollouts.find((r) => r.step === step)!.samples[0].text; };
    assert.equal(textOf(), 'FROM THE SIDECAR');
    assert.equal(textOf(R * 2), real, 'another ratio bound: from the files');
    // another version
    fs.writeFileSync(file, JSON.stringify({ ...side, version: 99 }));
    assert.equal(textOf(), real, 'another version: from the files');
    // the step's .jsonl touched (another mtime): from the files, and the sidecar written again
    fs.writeFileSync(file, JSON.stringify(side));
    assert.equal(textOf(), 'FROM THE SIDECAR');
    const jsonl = path.join(rdir, `step_${String(step).padStart(8, '0')}.jsonl`);
    const t = fs.statSync(jsonl).mtime; fs.utimesSync(jsonl, t, new Date(t.getTime() + 5000));
    assert.equal(textOf(), real, 'touched .jsonl: from the files');
    assert.equal(JSON.parse(fs.readFileSync(file, 'utf8')).summary.samples[0].text, real, 'the sidecar was written back');
    // the .f32 changed (truncated): from the files, its problem reported on every read, no sidecar written
    const f32 = jsonl.replace(/\.jsonl$/, '.f32');
    fs.truncateSync(f32, Math.floor(fs.statSync(f32).size / 2));
    for (let k = 0; k < 2; k++) {
      const l = new DoctorLoader(dir); l.update();
      assert.ok(l.problems.some((p) => /beyond the end/.test(p.message)), `read ${k + 1}: the truncation reported`);
    }
    assert.equal(readStepDoctorSummary(rdir, step, R), undefined, 'no valid sidecar for a step with problems');
  } finally { fs.rmSync(tmp, { recursive: true, force: true }); }
});
