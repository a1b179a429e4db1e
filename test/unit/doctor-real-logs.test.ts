// Issue 17, doctor problems D1–D3 found on real public TRL GRPO logs (docs/real-logs.md). The real files have no licence,
// so the fixtures under test/fixtures/doctor/trl-real-shapes/ are synthetic trainer_state.json files with the same keys
// and shape (values made up, seeded; written by make.py in that folder):
//   one-step-truncated         ← Ray-Cheng-11/Tau-Bench-Model-Training @ c3534c6c, trainer_state.json (1 log entry at step 10
//                                of 12, logging_steps 10, completions/clipped_ratio 0.9125, frac_reward_zero_std 0.45)
//   no-gradient-steps          ← aaravarora01/agent-memory-redteam @ 4a781377, trainer_state.json (steps 1–65 of 100,
//                                4 groups per step, frac_reward_zero_std 1 on 55 steps with grad_norm ~1e-3, 0.06–0.12 on 10)
//   reward-decline-truncation  ← Rusheel86/Chaos-Economy @ 7138430c, trainer_state.json (40 entries, steps 5–200, 5 reward
//                                functions, reward ~0.56 → ~0.32 between halves while completions/clipped_ratio → 1.0)
// Keys as TRL's GRPOTrainer logs them (trl/trainer/grpo_trainer.py, `_generate_and_score_completions`:
// `self._metrics[mode]["completions/clipped_ratio"].append(clipped_completions_ratio)`,
// `self._metrics[mode]["frac_reward_zero_std"].append(is_std_zero.float().mean().item())`,
// `self._metrics[mode]["reward_std"].append(std_grouped_rewards.mean().item())`,
// `self._metrics[mode][f"rewards/{reward_func_name}/mean"].append(mean_rewards)`), averaged over `logging_steps` and
// written by transformers' Trainer.log into TrainerState.log_history (`output = {**logs, **{"step": self.state.global_step}}`).
// Each file goes through the real TRL importer (importRun) and the real doctor CLI / report.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { importRun } from '../../src/importers';
import { loadDoctorInput } from '../../src/doctor/load';
import { diagnoseTimeline } from '../../src/doctor/timeline';
import { doctorReport } from '../../src/doctor/report';
import { diagnose } from '../../src/doctor';
import { noGradientSteps } from '../../src/doctor/checks/numerical';
import { spikes } from '../../src/doctor/stats';
import { emptyInput } from '../../src/doctor/types';
import { displayFindings, notifiable, SHORT_HISTORY_ID } from '../../src/host/doctor/display';
import { run as doctorCli } from '../../src/cli/doctor';
import { captureOutput } from './capture-output';

const FIX = path.join(__dirname, '../fixtures/doctor/trl-real-shapes');

async function cli(argv: string[]): Promise<{ code: number; out: string }> {
  const r = await captureOutput(() => doctorCli(argv));
  return { code: r.code, out: r.out };
}

/** Import a trainer_state.json (optionally edited) with the real TRL importer; returns the run folder. */
async function imported(name: string, edit?: (logs: Record<string, number>[]) => void): Promise<string> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `rllens-doctor-real-${name}-`));
  let src = path.join(FIX, name, 'trainer_state.json');
  if (edit) {
    const st = JSON.parse(fs.readFileSync(src, 'utf8'));
    edit(st.log_history);
    src = path.join(tmp, 'src', 'trainer_state.json');
    fs.mkdirSync(path.dirname(src), { recursive: true });
    fs.writeFileSync(src, JSON.stringify(st, null, 2));
  }
  const r = await importRun(src, { from: 'trl', out: path.join(tmp, 'run') });
  assert.equal(r.problemCount, 0, JSON.stringify(r.problems.slice(0, 3)));
  return r.runDir;
}

test('D1: one logged step with 91% truncation is an error, and the doctor says the history is too short for trends', async () => {
  const dir = await imported('one-step-truncated');
  const { input } = loadDoctorInput(dir);
  const t = diagnoseTimeline(input);
  const trunc = t.findings.find((f) => f.id === 'length/truncation');
  assert.ok(trunc, `no truncation finding: ${t.findings.map((f) => f.id).join(', ')}`);
  assert.equal(trunc.severity, 'error'); // 0.9125 > length.truncError 0.3
  assert.equal(trunc.evidence.values?.truncatedShare, 0.9125);
  assert.deepEqual(trunc.stepRange, [10, 10]);
  assert.equal(trunc.history?.raisedAt, 10);
  assert.match(trunc.message, /only logged point/);
  // frac_reward_zero_std 0.45 is below zeroVariance.warnFraction (0.5): no zero-variance finding on one point
  assert.ok(!t.findings.some((f) => f.id === 'zero-variance/groups'));
  const rep = doctorReport(dir, input, t);
  assert.equal(rep.verdict, 'problems');
  assert.deepEqual(rep.data.trend, { points: 1, minPoints: 20, ran: false });
  assert.match(rep.summary, /too little data for trends: 1 logged step \(step 10\): trend checks need ≥ 20/);
  const c = await cli([dir]);
  assert.equal(c.code, 1);
  assert.match(c.out, /too little data for trends: 1 logged step \(step 10\): trend checks need ≥ 20/);
  assert.doesNotMatch(c.out, /no problems found/);
  assert.match(c.out, /ERROR Responses truncated at max length/);
});

test('D1: the same step with nothing above a level threshold is "too little data", never "no problems found" (CLI, JSON, tree)', async () => {
  const dir = await imported('one-step-truncated', (logs) => { logs[0]['completions/clipped_ratio'] = 0.05; });
  const c = await cli([dir]);
  assert.equal(c.code, 0);
  assert.match(c.out, /too little data: 1 logged step \(step 10\): trend checks need ≥ 20 .* This is not a healthy verdict\./);
  assert.doesNotMatch(c.out, /no problems found/);
  const j = JSON.parse((await cli([dir, '--json'])).out);
  assert.equal(j.verdict, 'too-little-data');
  assert.equal(j.findings.length, 0);
  assert.deepEqual(j.data.trend, { points: 1, minPoints: 20, ran: false });
  // VS Code: the Diagnosis node gets an info entry instead of an empty (= "no problems found") node; it never notifies
  const { input } = loadDoctorInput(dir);
  const shown = displayFindings(input, diagnoseTimeline(input).findings);
  assert.deepEqual(shown.map((f) => [f.id, f.severity]), [[SHORT_HISTORY_ID, 'info']]);
  assert.match(shown[0].message, /trend checks need ≥ 20/);
  assert.equal(notifiable(shown).length, 0);
  // with 20 logged steps the trend checks run and the run is called healthy
  const dir20 = await imported('one-step-truncated', (logs) => {
    const e = { ...logs[0], 'completions/clipped_ratio': 0.05 };
    logs.splice(0, 1, ...Array.from({ length: 20 }, (_, i) => ({ ...e, step: 10 * (i + 1) })));
  });
  const j20 = JSON.parse((await cli([dir20, '--json'])).out);
  assert.equal(j20.verdict, 'healthy', JSON.stringify(j20.findings.map((f: { id: string }) => f.id)));
  assert.deepEqual(j20.data.trend, { points: 20, minPoints: 20, ran: true });
});

test('D2: no-gradient steps (frac_reward_zero_std = 1) do not make the informative steps gradient-norm or loss "spikes"', async () => {
  const dir = await imported('no-gradient-steps');
  const { input } = loadDoctorInput(dir);
  const fs_ = diagnoseTimeline(input).findings;
  assert.ok(!fs_.some((f) => f.id.startsWith('numerical/spike')), fs_.map((f) => `${f.id}: ${f.message}`).join('\n'));
  const zv = fs_.find((f) => f.id === 'zero-variance/groups');
  assert.ok(zv && zv.severity === 'error', 'the zero-variance finding explains the near-zero gradients');
  const ng = noGradientSteps(input, { zeroVariance: { eps: 1e-6 } } as Parameters<typeof noGradientSteps>[1]);
  assert.equal(ng.steps.size, 55);
  assert.ok(![1, 2, 9, 10, 11, 15, 22, 37, 39, 46].some((s) => ng.steps.has(s)));
  // even without the exclusion the normal-range rule keeps them quiet (before both fixes: 4 "spikes", ERROR)
  const g = input.metrics.grad_norm;
  assert.equal(spikes(g, 50, 10, 5, 20, 6, 0.001).length, 0, 'a value inside the window\'s normal range (p10–p90 ×2) is not a spike either');
});

test('D2: a real spike among informative steps is still found, and the normal-range rule alone keeps a two-regime series quiet', () => {
  // 40 informative steps with grad norms 0.06–0.12, no-gradient steps in between at ~1e-3, one 2.5 at step 70
  const input = emptyInput();
  const steps: number[] = [], gn: number[] = [], zs: number[] = [];
  for (let t = 1; t <= 80; t++) {
    const informative = t % 2 === 0;
    steps.push(t); zs.push(informative ? 0.75 : 1);
    gn.push(t === 70 ? 2.5 : informative ? 0.06 + 0.06 * ((t * 37) % 11) / 10 : 0.0005 + 0.001 * ((t * 13) % 7) / 6);
  }
  input.metrics.grad_norm = { steps, values: gn };
  input.metrics.frac_reward_zero_std = { steps, values: zs };
  const f = diagnose(input).find((x) => x.id === 'numerical/spike:grad_norm');
  assert.ok(f, 'the 2.5 at step 70 is a spike');
  assert.deepEqual(f.evidence.steps, [70]);
  assert.match(f.message, /40 steps without any reward gradient \(frac_reward_zero_std = 1\) are left out of the baselines/);
  // the rule "within twice the typical range is not a spike": the same series without frac_reward_zero_std (so no step
  // is excluded) has its rolling median at the no-gradient level; informative steps are within the p10–p90 range
  const noMeta = emptyInput();
  noMeta.metrics.grad_norm = { steps, values: gn.map((v, i) => (steps[i] === 70 ? 0.11 : v)) };
  assert.ok(!diagnose(noMeta).some((x) => x.id.startsWith('numerical/spike')));
});

test('D3: a noisy reward falling between halves (truncation rising to 100%) warns, with the halves stated; the truncation episode starts where it was raised', async () => {
  const dir = await imported('reward-decline-truncation');
  const { input } = loadDoctorInput(dir);
  const t = diagnoseTimeline(input);
  const dec = t.findings.find((f) => f.id === 'reward/decline');
  assert.ok(dec, t.findings.map((f) => f.id).join(', '));
  assert.equal(dec.severity, 'warning');
  assert.match(dec.message, /first half of the run \(steps 5–100, 20 points\) .* second half \(steps 105–200\)/);
  assert.ok(dec.evidence.values!.z < -3 && dec.evidence.values!.slopePerStep < 0);
  assert.ok(dec.evidence.values!.firstHalf - dec.evidence.values!.secondHalf > 0.25);
  assert.match(dec.message, /truncated share \(response_length\/clip_ratio\) went/);
  const tr = t.findings.find((f) => f.id === 'length/truncation')!;
  assert.equal(tr.severity, 'error');
  assert.ok(tr.episodes?.length, 'episodes reported');
  const ep = tr.episodes![tr.episodes!.length - 1];
  assert.equal(ep.recovered, false);
  assert.equal(tr.stepRange[0], ep.start);
  assert.ok(ep.start <= tr.history!.raisedAt, `episode starts at ${ep.start}, after it was raised at ${tr.history!.raisedAt}`);
  assert.equal(tr.history!.raisedAt, 5); // 0.9 on the first logged point is already above the error threshold
  const c = await cli([dir]);
  assert.match(c.out, /WARN {2}Reward falling/);
  assert.match(c.out, /episode: steps 5–200/);
});

test('D3 control: the same run with the reward in reverse order (rising) and truncation low raises neither', async () => {
  const dir = await imported('reward-decline-truncation', (logs) => {
    const keys = Object.keys(logs[0]).filter((k) => k === 'reward' || /^rewards\//.test(k));
    const rev = logs.map((e) => keys.map((k) => e[k])).reverse();
    logs.forEach((e, i) => { keys.forEach((k, j) => { e[k] = rev[i][j]; }); e['completions/clipped_ratio'] = 0.02; });
  });
  const { input } = loadDoctorInput(dir);
  const ids = diagnoseTimeline(input).findings.map((f) => f.id);
  assert.ok(!ids.includes('reward/decline') && !ids.includes('length/truncation'), ids.join(', '));
});
