// Issue 17 (doctor on real logs) items 1–3 and "findings that last": pooled zero-variance shares over a stated window,
// all-correct vs all-wrong from the reward level when only metrics exist, whole-history KL episodes, a meaningful
// spike figure when the median is 0, findings that keep their history (raised / resolved) in the CLI, the JSON report
// and the VS Code display, and "no data" (never "no problems found") for an empty run.
// Metric-only runs are written with TRL's own names as GRPOTrainer logs them into trainer_state.json `log_history`
// (trl/trainer/grpo_trainer.py: `self._metrics[mode]["frac_reward_zero_std"].append(is_std_zero.float().mean().item())`,
// `self._metrics[mode][f"rewards/{reward_func_name}/mean"].append(mean_rewards)`,
// `self._metrics[mode]["reward"].append(mean_grouped_rewards.mean().item())`; transformers Trainer.log:
// `output = {**logs, **{"step": self.state.global_step}}`), mapped the way the TRL importer maps them (mapMetrics).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import Ajv from 'ajv';
import { diagnose, type Finding } from '../../src/doctor';
import { emptyInput, type DoctorInput } from '../../src/doctor/types';
import { zeroVarianceSplitFromLevel } from '../../src/doctor/checks/zeroVariance';
import { summarizeRolloutStep } from '../../src/doctor/summarize';
import { diagnoseTimeline, checkpointSteps, truncateInput } from '../../src/doctor/timeline';
import { quantile, episodesBeyond } from '../../src/doctor/stats';
import { displayFindings, notifiable, notificationText, NO_DATA_ID } from '../../src/host/doctor/display';
import { run as doctorCli } from '../../src/cli/doctor';
import { captureOutput } from './capture-output';
import { RunWriter } from '../../src/runio/writer';
import { TRL_METRICS, mapMetrics } from '../../src/importers/metricMap';
import type { RolloutSample, RolloutStepHeader } from '../../src/shared/runFormat';
import { rng, synthRun, writeSynthRun } from './doctor-synth';
import { loadDoctorInput } from '../../src/doctor/load';

function tmp(): string { return fs.mkdtempSync(path.join(os.tmpdir(), 'rllens-doctor-hist-')); }

async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const r = await captureOutput(() => doctorCli(argv));
  return { code: r.code, out: r.out, err: r.err };
}

/** TRL-style log_history entries → a run directory (metrics.jsonl with TRL names + the importer's mapped names). */
function writeTrlRun(dir: string, logs: Record<string, number>[]): void {
  const w = RunWriter.create(dir, { id: 'trl', algorithm: 'grpo', config: {} });
  for (const e of logs) { const { step, ...data } = e; w.metrics({ step, values: mapMetrics(data, TRL_METRICS).values }); }
  w.updateManifest({ status: 'completed' });
}

test('zero-variance share is pooled over the stated window: one group of 6 per step, 66% of the last 50 steps', () => {
  // TRL completions: one prompt × 6 completions per step. Steps 0..299 (window: 20% of 300, capped at 50); in the last
  // 50, steps with (t − 250) % 3 != 0 are all-equal (33 of 50: 66%), the rest mixed. The old median of per-step
  // fractions said 100%.
  const input: DoctorInput = { ...emptyInput(), algorithm: 'grpo' };
  for (let t = 0; t < 300; t++) {
    const zero = t >= 250 ? (t - 250) % 3 !== 0 : t % 2 === 0;
    const rewards = zero ? [1, 1, 1, 1, 1, 1] : [1, 0, 1, 0, 0, 1];
    const samples = rewards.map((r, i) => ({ kind: 'sample', index: i, group: 'p', prompt: 'q', completion: `c${i}`, reward: r, length: 3 }) as RolloutSample);
    const header = { kind: 'header', step: t, algorithm: 'grpo', numSamples: 6, groups: [{ id: 'p', samples: [0, 1, 2, 3, 4, 5], rewards }] } as unknown as RolloutStepHeader;
    input.rollouts.push(summarizeRolloutStep(header, samples, () => ({})));
  }
  const last50 = input.rollouts.slice(-50);
  const expectedZero = last50.filter((r) => new Set(r.groups[0].rewards).size === 1).length;
  assert.equal(expectedZero, 33);
  const f = diagnose(input).find((x) => x.id === 'zero-variance/groups');
  assert.ok(f, 'a 66% share is above the 50% warning');
  assert.equal(f.severity, 'warning', 'pooled share 66% < error 90% (the per-step median said 100%)');
  assert.ok(Math.abs(f.evidence.values!.fraction - 33 / 50) < 1e-12, String(f.evidence.values!.fraction));
  assert.ok(Math.abs(f.evidence.values!.noGradientShare - (33 * 6) / 300) < 1e-12);
  assert.equal(f.evidence.values!.windowSteps, 50);
  assert.match(f.message, /33 of 50 groups \(66%\)/);
  assert.match(f.message, /last 50 rollout steps \(steps 250–299/);
  assert.match(f.message, /198 of 300 samples/);
  assert.deepEqual(f.stepRange, [250, 299]);
});

test('all-correct vs all-wrong from the reward level (metrics only): bounds, verdicts, advice', () => {
  // independent check of the bound: enumerate a (all-correct share of groups) and mixed means m on a grid, keep the
  // combinations that reproduce the mean reward, and compare the range of a/z with the closed form
  for (const [r, z] of [[0.95, 0.8], [0.05, 0.8], [0.5, 0.6], [0.7, 0.5]] as const) {
    let lo = Infinity, hi = -Infinity;
    for (let a = 0; a <= z + 1e-9; a += z / 400) for (let m = 0; m <= 1; m += 1 / 400) {
      if (Math.abs(a * 1 + (z - a) * 0 + (1 - z) * m - r) < 2e-3) { lo = Math.min(lo, a / z); hi = Math.max(hi, a / z); }
    }
    const d = zeroVarianceSplitFromLevel(r, z, 0, 1);
    assert.ok(Math.abs(d.allCorrectMin - lo) < 0.01 && Math.abs(d.allCorrectMax - hi) < 0.01, `r ${r} z ${z}: [${d.allCorrectMin}, ${d.allCorrectMax}] vs grid [${lo}, ${hi}]`);
  }
  assert.equal(zeroVarianceSplitFromLevel(0.95, 0.8, 0, 1).verdict, 'all-correct');
  assert.equal(zeroVarianceSplitFromLevel(0.05, 0.8, 0, 1).verdict, 'all-wrong');
  assert.equal(zeroVarianceSplitFromLevel(0.5, 0.6, 0, 1).verdict, 'undecided');

  const mk = (reward: number, seed: number) => {
    const r = rng(seed);
    return Array.from({ length: 60 }, (_, i) => ({
      step: i + 1, loss: 0.01 * r(), grad_norm: 0.2 + 0.1 * r(), learning_rate: 1e-6, 'rewards/accuracy_reward/mean': reward + 0.01 * (r() - 0.5),
      'rewards/accuracy_reward/std': 0.1, reward: reward + 0.01 * (r() - 0.5), reward_std: 0.1, frac_reward_zero_std: 0.85 + 0.05 * (r() - 0.5), kl: 0.01, epoch: i / 60,
    }));
  };
  const dir = tmp();
  const got: Record<string, Finding> = {};
  for (const [name, level] of [['easy', 0.97], ['hard', 0.03], ['middle', 0.5]] as const) {
    const run = path.join(dir, name);
    writeTrlRun(run, mk(level, 3));
    const { input } = loadDoctorInput(run);
    const f = diagnose(input).find((x) => x.id === 'zero-variance/groups');
    assert.ok(f, `${name}: zero-variance finding from frac_reward_zero_std`);
    got[name] = f;
  }
  assert.match(got.easy.remedy, /all-correct: the prompts are too easy/);
  assert.doesNotMatch(got.easy.remedy, /too hard/);
  assert.match(got.easy.message, /mostly all-correct/);
  assert.ok(got.easy.evidence.values!.allCorrectShareMin > 0.5, JSON.stringify(got.easy.evidence.values));
  assert.match(got.hard.remedy, /all-wrong: the prompts are too hard/);
  assert.doesNotMatch(got.hard.remedy, /too easy/);
  assert.match(got.middle.message, /cannot be decided/);
  assert.match(got.middle.remedy, /cannot be told from these logs/);
  // the share is the window's mean (stated), the reward range says where it came from
  assert.match(got.easy.message, /over the last \d+ logged steps \(steps \d+–60; mean of frac_reward_zero_std/);
  assert.match(got.easy.message, /reward range \[0, 1\] \(1 reward function \(accuracy_reward\)/);
  assert.deepEqual(got.easy.source?.metrics, ['frac_reward_zero_std', 'reward/mean']);
});

test('KL episodes over the whole history: KL > 1 for most of steps 36–300, peak 11 at step 74, low at the end', () => {
  const r = rng(17);
  const logs: Record<string, number>[] = [];
  for (let s = 1; s <= 500; s++) {
    let kl = 0.02 + 0.01 * r();
    if (s >= 36 && s <= 300) kl = s === 74 ? 11 : 1.2 + 3 * Math.exp(-Math.abs(s - 74) / 40) + 0.3 * r();
    const reward = s < 36 ? 0.6 + 0.02 * r() : Math.max(0.2, 0.6 - 0.004 * (s - 36)) + 0.02 * r();
    logs.push({ step: s, loss: 0.01, grad_norm: 0.3 + 0.1 * r(), learning_rate: 1e-6, reward, reward_std: 0.3, kl, frac_reward_zero_std: 0.1 });
  }
  const dir = path.join(tmp(), 'kl');
  writeTrlRun(dir, logs);
  const { input } = loadDoctorInput(dir);
  // the old check looked only at the recent window: KL is 0.02–0.03 there
  const recent = input.metrics.kl.values.slice(-100);
  assert.ok(Math.max(...recent) < 0.05);
  const f = diagnose(input).find((x) => x.id === 'kl/blowup');
  assert.ok(f, 'a mid-run KL blow-up is reported even though KL is low at the end');
  assert.equal(f.episodes?.length, 1, JSON.stringify(f.episodes));
  const e = f.episodes![0];
  assert.equal(e.start, 36);
  assert.equal(e.end, 300);
  assert.deepEqual(e.peak, { step: 74, value: 11 });
  assert.equal(e.points, 265);
  assert.equal(e.recovered, true);
  assert.equal(f.severity, 'warning');
  assert.match(f.title, /recovered/);
  assert.match(f.message, /above 0\.5 for 265 of 500 logged steps \(36–300\), peak 11 at step 74/);
  assert.match(f.message, /reward\/mean went 0\.6\d* → 0\.2\d* \(fell\)/);
  assert.deepEqual(f.stepRange, [36, 300]);
  // episodesBeyond on a hand-made series: two stretches 5 points apart merge only when closer than k
  const s = { steps: [...Array(30).keys()], values: [...Array(30).keys()].map((i) => ((i >= 5 && i < 10) || (i >= 20 && i < 26) ? 2 : 0)) };
  const eps = episodesBeyond(s, 1, 3);
  assert.deepEqual(eps.map((x) => [x.start, x.end, x.points, x.recovered]), [[5, 9, 5, true], [20, 25, 6, true]]);
  const open = episodesBeyond({ steps: s.steps, values: s.values.map((v, i) => (i >= 25 ? 3 : v)) }, 1, 3);
  assert.equal(open[open.length - 1].recovered, false);
  assert.equal(open[open.length - 1].end, 29);
});

test('gradient-norm spike against a median of 0: a figure relative to the typical range, no "σ against a median of 0"', () => {
  const logs: Record<string, number>[] = [];
  for (let s = 1; s <= 120; s++) logs.push({ step: s, loss: 0, grad_norm: s === 90 ? 302 : s % 10 === 0 ? 0.5 : 0, learning_rate: 1e-6, reward: 0.5, kl: 0.01 });
  const dir = path.join(tmp(), 'spike');
  writeTrlRun(dir, logs);
  const { input } = loadDoctorInput(dir);
  const f = diagnose(input).find((x) => x.id === 'numerical/spike:grad_norm');
  assert.ok(f, 'the 302 spike is found');
  console.log(f.message);
  assert.doesNotMatch(f.message, /robust σ from the rolling median 0|against a (rolling )?median of 0/);
  // previous 50 points: 5 of them 0.5, 45 zeros → p90 = 0.5·(49·0.9 − 44) + 0 … computed independently below
  const prev = logs.slice(39, 89).map((l) => l.grad_norm).sort((a, b) => a - b);
  const pos = 0.9 * (prev.length - 1), p90 = prev[Math.floor(pos)] + (prev[Math.ceil(pos)] - prev[Math.floor(pos)]) * (pos - Math.floor(pos));
  assert.ok(Math.abs(quantile(prev, 0.9) - p90) < 1e-12);
  assert.ok(Math.abs(f.evidence.values!.p90 - p90) < 1e-12, `${f.evidence.values!.p90} vs ${p90}`);
  assert.ok(Math.abs(f.evidence.values!.ratioToTypical - 302 / p90) < 1e-9);
  assert.equal(f.evidence.values!.robustZ, undefined, 'no σ figure when the MAD is 0');
  assert.match(f.message, new RegExp(`${(302 / p90).toFixed(0)}× the top of the run's typical range`));
});

test('findings keep their history: a zero-variance episode in the middle of a run is reported as resolved by CLI, JSON and the VS Code display', async () => {
  // synthetic GRPO run, 8 groups/step; steps 60–100 every group all-wrong; healthy afterwards
  const base = synthRun(5, 'healthy', { groups: 8, rolloutEvery: 2, steps: 200 });
  for (const ro of base.rollouts) {
    if (ro.header.step < 60 || ro.header.step > 100) continue;
    for (const g of ro.header.groups!) { g.rewards = g.rewards.map(() => 0); for (const i of g.samples) (ro.samples[i] as { reward: number }).reward = 0; }
  }
  const input = synthRun(5, 'healthy', { groups: 8, rolloutEvery: 2, steps: 200 }).input;
  input.rollouts = base.rollouts.map((ro) => summarizeRolloutStep(ro.header, ro.samples, (s) => ro.arrays[s.index]));
  assert.ok(!diagnose(input).some((f) => f.id === 'zero-variance/groups'), 'the end-of-run diagnosis alone has forgotten it');
  assert.ok(diagnose(truncateInput(input, 100)).some((f) => f.id === 'zero-variance/groups'), 'at step 100 (live) it was there');
  const t = diagnoseTimeline(input);
  const f = t.findings.find((x) => x.id === 'zero-variance/groups');
  assert.ok(f, t.findings.map((x) => x.id).join(', '));
  assert.equal(f.history!.status, 'resolved');
  assert.ok(f.history!.raisedAt >= 60 && f.history!.raisedAt <= 100, String(f.history!.raisedAt));
  assert.ok(f.history!.resolvedAt! > 100 && f.history!.resolvedAt! <= 160, String(f.history!.resolvedAt));
  assert.ok(f.history!.lastSeenAt < f.history!.resolvedAt!);
  for (const s of [...checkpointSteps([...Array(200).keys()]), 199]) assert.ok(t.checkpoints.includes(s), `grid step ${s} replayed`);
  // bisection pinned the change to adjacent data steps: the step before raisedAt was replayed and had no finding
  assert.ok(t.checkpoints.includes(f.history!.raisedAt - 1) || f.history!.raisedAt === 0, `${f.history!.raisedAt - 1} replayed`);
  // the VS Code display (Diagnosis node) says the same and does not notify a resolved finding again
  const shown = displayFindings(input, t.findings).find((x) => x.id === 'zero-variance/groups')!;
  assert.match(shown.title, new RegExp(`\\(resolved by step ${f.history!.resolvedAt}\\)`));
  assert.match(shown.message, new RegExp(`^Raised at step ${f.history!.raisedAt}, last seen at step ${f.history!.lastSeenAt}, resolved by step ${f.history!.resolvedAt}`));
  assert.ok(!notifiable(t.findings).some((x) => x.id === 'zero-variance/groups'));
  const live = diagnoseTimeline(truncateInput(input, 100), undefined, { remember: true }).findings.find((x) => x.id === 'zero-variance/groups')!;
  assert.match(notificationText('run', live), new RegExp(`raised at step ${live.history!.raisedAt}`));
  assert.equal(live.history!.raisedAt, f.history!.raisedAt, 'live and after the fact agree on when it was raised');
  // CLI text and JSON
  const dir = path.join(tmp(), 'zv');
  writeSynthRun(dir, { ...base, input });
  const txt = await cli([dir]);
  assert.match(txt.out, /Zero-variance groups \(no gradient\) \(resolved\)/);
  assert.match(txt.out, new RegExp(`raised at step ${f.history!.raisedAt}, last seen at step ${f.history!.lastSeenAt}, resolved by step ${f.history!.resolvedAt}`));
  assert.doesNotMatch(txt.out, /no problems found/);
  const j = JSON.parse((await cli([dir, '--json'])).out);
  const jf = j.findings.find((x: { id: string }) => x.id === 'zero-variance/groups');
  assert.equal(jf.status, 'resolved');
  assert.equal(jf.raisedAt, f.history!.raisedAt);
  assert.equal(jf.resolvedAt, f.history!.resolvedAt);
  assert.equal(j.verdict, 'problems');
});

test('an empty run is "no data", never "no problems found": CLI exit 1, JSON verdict, Diagnosis node', async () => {
  const dir = path.join(tmp(), 'empty');
  RunWriter.create(dir, { id: 'empty', algorithm: 'grpo', config: {} });
  const r = await cli([dir]);
  assert.equal(r.code, 1, r.out + r.err);
  assert.match(r.out, /no data: the run has no metric values, no rollouts and no evals/);
  assert.doesNotMatch(r.out, /no problems found/);
  const j = JSON.parse((await cli([dir, '--json'])).out);
  assert.equal(j.verdict, 'no-data');
  assert.equal(j.findings.length, 0);
  const shown = displayFindings(emptyInput(), []);
  assert.equal(shown.length, 1);
  assert.equal(shown[0].id, NO_DATA_ID);
  assert.equal(shown[0].severity, 'warning');
  assert.equal(notifiable(shown).length, 0, 'a live run that has not logged yet does not notify');
  // a run whose import was partial says so
  const m = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
  m.source = { format: 'trl', partial: 'trainer_state.json cut at byte 1000: 3 log_history entries recovered' };
  fs.writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(m));
  const r2 = await cli([dir]);
  assert.match(r2.out, /partial run: trainer_state\.json cut at byte 1000/);
  assert.equal(JSON.parse((await cli([dir, '--json'])).out).data.partial, m.source.partial);
});

test('rl-lens doctor --json validates against schemas/doctor-report.schema.json (real CLI output, several runs)', async () => {
  const schema = JSON.parse(fs.readFileSync(path.join(__dirname, '../../schemas/doctor-report.schema.json'), 'utf8'));
  const validate = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true }).compile(schema);
  const root = tmp();
  const runs: string[] = [];
  for (const [name, patho] of [['nan', 'nan'], ['healthy', 'healthy'], ['zv', 'zero-variance-hard'], ['ratio', 'ratio-outliers'], ['eval', 'eval-drop']] as const) {
    const d = path.join(root, name);
    writeSynthRun(d, synthRun(4, patho, { groups: 6, rolloutEvery: 5, steps: 120 }));
    runs.push(d);
  }
  const empty = path.join(root, 'empty');
  RunWriter.create(empty, { id: 'e', algorithm: 'grpo', config: {} });
  runs.push(empty);
  const seen = new Set<string>();
  for (const d of runs) {
    const r = await cli([d, '--json']);
    const j = JSON.parse(r.out) as { findings: { id: string; data: { metrics: string[]; rolloutSteps?: unknown; evals?: unknown } }[] };
    const valid = validate(j);
    assert.ok(valid, `${path.basename(d)}: ${JSON.stringify(validate.errors?.slice(0, 3))}`);
    for (const f of j.findings) { seen.add(f.id); assert.ok(f.data.metrics.length || f.data.rolloutSteps || f.data.evals, `${f.id}: data source named`); }
  }
  for (const id of ['numerical/nonfinite', 'zero-variance/groups', 'clip/ratio-outliers', 'reward-hacking/eval']) assert.ok(seen.has(id), `${id} in the validated output (${[...seen].join(', ')})`);
  // the schema is not vacuous: a report missing a finding's advice, or with an unknown status, fails
  const j = JSON.parse((await cli([runs[0], '--json'])).out) as { findings: Record<string, unknown>[] };
  const broken = JSON.parse(JSON.stringify(j)); delete broken.findings[0].advice;
  assert.equal(validate(broken), false);
  const broken2 = JSON.parse(JSON.stringify(j)); broken2.findings[0].status = 'gone';
  assert.equal(validate(broken2), false);
});
