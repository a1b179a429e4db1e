// The doctor on a run produced FOR REAL by the RL Lens trainer (not synthetic): a too-hard task (arithmetic at
// difficulty 4, a barely warm-started model, no format reward) gives all-wrong groups → zero-variance finding at
// error level, and `rl-lens doctor` exits 1 on it. Small config so it runs in well under a minute. The larger real
// scenarios (healthy GRPO / PPO, length hacking via a custom reward module, a destroyed policy, no-KL collapse) are
// built by test/fixtures/doctor/make-runs.ts (minutes each; results in docs/doctor.md).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { diagnose } from '../../src/doctor';
import { loadDoctorInput } from '../../src/doctor/load';
import { run as doctorCli } from '../../src/cli/doctor';
import { buildScenarioRun, type Scenario } from '../fixtures/doctor/make-runs';

test('real trainer run (rl-lens train), too-hard task → zero-variance groups (all-wrong), doctor CLI exits 1', async () => {
  const sc = JSON.parse(fs.readFileSync(path.join(__dirname, '../fixtures/doctor/too-hard-grpo.json'), 'utf8')) as Scenario;
  const c = sc.config as Record<string, Record<string, unknown>>;
  c.train = { ...c.train, steps: 6 };
  c.rl = { ...c.rl, promptsPerStep: 4, groupSize: 4 };
  c.eval = { ...c.eval, every: 0, atStart: false };
  const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'rllens-doctor-real-')), 'too-hard');
  const seconds = await buildScenarioRun(sc, dir, { quiet: true });
  const { input } = loadDoctorInput(dir);
  assert.equal(input.rollouts.length, 6, 'one traced rollout step per RL step');
  const f = diagnose(input).find((x) => x.id === 'zero-variance/groups');
  assert.ok(f, 'zero-variance finding');
  assert.equal(f.severity, 'error');
  assert.ok(f.evidence.values!.allWrongShare > 0.9, JSON.stringify(f.evidence.values));
  const ow = process.stdout.write.bind(process.stdout);
  (process.stdout as unknown as { write: unknown }).write = () => true;
  let code: number;
  try { code = await doctorCli([dir]); } finally { (process.stdout as unknown as { write: unknown }).write = ow; }
  assert.equal(code, 1);
  console.log(`real too-hard run built in ${seconds.toFixed(1)} s`);
});

// Two real RL stages of the SFT → RM → RL pipeline (metrics.jsonl, eval.jsonl and manifest copied from
// `rl-lens train --preset rlhf-arithmetic-hacking` and `--preset rlhf-arithmetic --seed 1`, 2026-11-22; no rollouts).
// Both log the learned reward (`reward/rm/mean`) and the hidden true score (`reward/hidden_score/mean`) per step.
test('real learned-reward runs: RM over-optimisation is flagged (hidden score falls as the RM score rises), a learning pipeline is not', () => {
  const load = (name: string) => diagnose(loadDoctorInput(path.join(__dirname, '../fixtures/doctor', name)).input);
  const hack = load('rlhf-hacking').filter((f) => f.check === 'reward-hacking');
  const f = hack.find((x) => x.id === 'reward-hacking/part:hidden_score');
  assert.ok(f, `hidden-score finding; got ${hack.map((x) => x.id).join(', ') || 'none'}`);
  assert.equal(f.severity, 'warning');
  const v = f.evidence.values!;
  // window medians of the 80 logged steps (16-step windows): reward 0.133 → 0.444, hidden 0.738 → 0.652
  assert.ok(v.rewardTail > v.rewardHead && v.partTail < v.partHead - 0.05, JSON.stringify(v));
  assert.match(f.message, /hidden true score/);
  const ok = load('rlhf-learning').filter((x) => x.check === 'reward-hacking');
  assert.deepEqual(ok.map((x) => x.id), [], 'PPO that raised both the RM score and the hidden score: no hacking finding');
});
