// The doctor on real run directories: a synthetic run written through RunWriter is loaded by src/doctor/load.ts and
// diagnosed exactly like the in-memory input; live (incremental) loading finds a pathology once it appears; a torn
// last line is tolerated; `rl-lens doctor` prints findings / JSON and returns 1 on error findings, 0 when clean,
// 2 on usage errors.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { diagnose } from '../../src/doctor';
import { DoctorLoader, loadDoctorInput } from '../../src/doctor/load';
import { run as doctorCli } from '../../src/cli/doctor';
import { captureOutput } from './capture-output';
import { synthRun, writeSynthRun, appendSynth } from './doctor-synth';

function tmp(): string { return fs.mkdtempSync(path.join(os.tmpdir(), 'rllens-doctor-')); }

async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const r = await captureOutput(() => doctorCli(argv));
  return { code: r.code, out: r.out, err: r.err };
}

const OPTS = { groups: 6, rolloutEvery: 5, steps: 120 };

test('run dir → loader → same findings as the in-memory input (entropy collapse + zero variance)', () => {
  const dir = path.join(tmp(), 'run');
  const run = synthRun(7, 'entropy-collapse', OPTS);
  writeSynthRun(dir, run);
  const { input, problems } = loadDoctorInput(dir);
  assert.deepEqual(problems, []);
  assert.equal(input.rollouts.length, run.rollouts.length);
  assert.equal(input.metrics.entropy.values.length, 120);
  assert.ok(Math.abs(input.rollouts[3].tokens!.entropyMean! - run.input.rollouts[3].tokens!.entropyMean!) < 1e-5, 'float32 round trip');
  const a = diagnose(input).map((f) => `${f.id}:${f.severity}`), b = diagnose(run.input).map((f) => `${f.id}:${f.severity}`);
  assert.deepEqual(a, b);
  assert.ok(a.includes('entropy/collapse:error'));
});

test('live run: incremental loading reads only appended lines; the finding appears once the collapse happens', () => {
  const dir = path.join(tmp(), 'live');
  const run = synthRun(8, 'kl-blowup', OPTS);
  const w = writeSynthRun(dir, run, { upToStep: 50 });
  const l = new DoctorLoader(dir);
  assert.equal(l.update(), true);
  assert.equal(l.input.metrics.kl.values.length, 51);
  assert.ok(!diagnose(l.input).some((f) => f.check === 'kl'), 'no KL finding before the blow-up');
  assert.equal(l.update(), false, 'nothing new');
  // a torn (half-written) line at the end is not consumed yet
  fs.appendFileSync(path.join(dir, 'metrics.jsonl'), '{"step": 51, "values": {"kl": 0.0');
  l.update();
  assert.equal(l.input.metrics.kl.values.length, 51);
  // the writer finishes the line, then the rest of the run arrives
  fs.appendFileSync(path.join(dir, 'metrics.jsonl'), '1}}\n');
  appendSynth(w, { ...run, metrics: run.metrics.filter((m) => m.step > 51) }, 51, 119);
  assert.equal(l.update(), true);
  assert.equal(l.input.metrics.kl.values.length, 120); // steps 0..50, the completed 51, 52..119
  assert.equal(l.input.rollouts.length, run.rollouts.length);
  assert.ok(diagnose(l.input).some((f) => f.id === 'kl/blowup'));
});

test('rl-lens doctor: exit 1 on error findings, 0 on a healthy run, 2 on usage errors; --json parses', async () => {
  const bad = path.join(tmp(), 'bad');
  writeSynthRun(bad, synthRun(9, 'nan', OPTS));
  const r1 = await cli([bad]);
  assert.equal(r1.code, 1, r1.err);
  assert.match(r1.out, /ERROR NaN \/ infinite values/);
  assert.match(r1.out, /fix: /);
  const r2 = await cli([bad, '--json']);
  assert.equal(r2.code, 1);
  const j = JSON.parse(r2.out) as { findings: { id: string; severity: string }[] };
  assert.ok(j.findings.some((f) => f.id === 'numerical/nonfinite' && f.severity === 'error'));
  const good = path.join(tmp(), 'good');
  writeSynthRun(good, synthRun(10, 'healthy', OPTS));
  const r3 = await cli([good]);
  assert.equal(r3.code, 0, r3.out);
  assert.match(r3.out, /no problems found/);
  // a warning-only run exits 0 too
  const warn = path.join(tmp(), 'warn');
  writeSynthRun(warn, synthRun(11, 'kl-zero', OPTS));
  const r4 = await cli([warn]);
  assert.equal(r4.code, 0);
  assert.match(r4.out, /WARN  KL stuck at zero/);
  // thresholds from the command line: make the NaN check's sibling (spikes) irrelevant, and --only
  const r5 = await cli([bad, '--only', 'kl']);
  assert.equal(r5.code, 0);
  assert.equal((await cli([])).code, 2);
  assert.equal((await cli([bad, '--bogus'])).code, 2);
  assert.equal((await cli([bad, '--threshold', 'kl.nope=1'])).code, 2);
  assert.equal((await cli([bad, '--only', 'nothing'])).code, 2);
  const r6 = await cli([path.join(tmp(), 'missing')]);
  assert.equal(r6.code, 2);
  assert.match(r6.err, /no such folder|not an RL Lens run/);
  assert.equal((await cli([warn, '--threshold', 'kl.zeroEps=0'])).code, 0);
  assert.doesNotMatch((await cli([warn, '--threshold', 'kl.zeroEps=0'])).out, /KL stuck/);
});
