// Every doctor check fires on a seeded synthetic run that shows its pathology (with noise), with the expected id and
// severity, evidence naming real metrics / steps, a step range inside the run and a remedy; and imported (verl-named)
// metrics are recognized. Healthy runs are in doctor-healthy.test.ts.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { diagnose, type Finding } from '../../src/doctor';
import { emptyInput } from '../../src/doctor/types';
import { synthRun, type Patho } from './doctor-synth';

const CASES: { patho: Patho; expect: string; severity: Finding['severity']; alg?: 'ppo' }[] = [
  { patho: 'entropy-collapse', expect: 'entropy/collapse', severity: 'error' },
  { patho: 'entropy-falling', expect: 'entropy/falling', severity: 'warning' },
  { patho: 'zero-variance-hard', expect: 'zero-variance/groups', severity: 'error' },
  { patho: 'zero-variance-easy', expect: 'zero-variance/groups', severity: 'error' },
  { patho: 'kl-blowup', expect: 'kl/blowup', severity: 'error' }, // KL ≈ 8.5 over the last 5 points (> kl.error 5)
  { patho: 'kl-zero', expect: 'kl/zero', severity: 'warning' },
  { patho: 'beta-at-max', expect: 'beta/at-max', severity: 'warning' },
  { patho: 'clip-high', expect: 'clip/high', severity: 'warning' },
  { patho: 'ratio-outliers', expect: 'clip/ratio-outliers', severity: 'warning' },
  { patho: 'length-hack', expect: 'length/drift', severity: 'warning' },
  { patho: 'truncation', expect: 'length/truncation', severity: 'error' },
  { patho: 'overlong-penalty', expect: 'length/overlong-penalty', severity: 'warning' },
  { patho: 'eval-drop', expect: 'reward-hacking/eval', severity: 'error' },
  { patho: 'part-drop', expect: 'reward-hacking/part:accuracy', severity: 'warning' },
  { patho: 'phrase', expect: 'reward-hacking/phrase', severity: 'info' },
  { patho: 'mode-distinct', expect: 'mode-collapse/distinct', severity: 'warning' },
  { patho: 'pass-at-k', expect: 'mode-collapse/pass-at-k', severity: 'warning' },
  { patho: 'critic-ev', expect: 'critic/explained-variance', severity: 'warning', alg: 'ppo' },
  { patho: 'value-loss', expect: 'critic/value-loss', severity: 'warning', alg: 'ppo' },
  { patho: 'value-clip', expect: 'critic/value-clip', severity: 'warning', alg: 'ppo' },
  { patho: 'nan', expect: 'numerical/nonfinite', severity: 'error' },
  { patho: 'grad-spikes', expect: 'numerical/spike:grad_norm', severity: 'error' },
  { patho: 'loss-spike', expect: 'numerical/spike:pg_loss', severity: 'warning' },
];

const OPTS = { groups: 8, rolloutEvery: 4 };

for (const c of CASES) {
  test(`${c.patho} → ${c.expect} (${c.severity}) on 2 seeds`, () => {
    for (const seed of [1, 2]) {
      const run = synthRun(seed, c.patho, { ...OPTS, algorithm: c.alg ?? 'grpo' });
      const fs = diagnose(run.input);
      const f = fs.find((x) => x.id === c.expect);
      assert.ok(f, `seed ${seed}: expected ${c.expect}, got ${fs.map((x) => x.id).join(', ') || 'nothing'}`);
      assert.equal(f.severity, c.severity, `seed ${seed}: ${f.message}`);
      assert.ok(f.stepRange[0] <= f.stepRange[1] && f.stepRange[0] >= 0 && f.stepRange[1] <= 199, `range ${f.stepRange}`);
      assert.ok(f.remedy.length > 20 && f.message.length > 20 && f.title.length > 0);
      const ev = f.evidence;
      assert.ok((ev.metrics?.length ?? 0) + (ev.steps?.length ?? 0) + (ev.samples?.length ?? 0) + (ev.groups?.length ?? 0) > 0, 'evidence is not empty');
      for (const m of ev.metrics ?? []) assert.ok(m in run.input.metrics || /^(rollouts|eval):/.test(m), `evidence metric ${m} exists`);
    }
  });
}

test('specific evidence: zero-variance split, ratio-outlier samples, phrase text, remedies cite the survey remedies', () => {
  const hard = diagnose(synthRun(3, 'zero-variance-hard', OPTS).input).find((x) => x.id === 'zero-variance/groups')!;
  assert.ok(hard.evidence.values!.allWrongShare > 0.8, JSON.stringify(hard.evidence.values));
  assert.match(hard.remedy, /too hard/);
  assert.match(hard.remedy, /dynamic sampling/i);
  const easy = diagnose(synthRun(3, 'zero-variance-easy', OPTS).input).find((x) => x.id === 'zero-variance/groups')!;
  assert.ok(easy.evidence.values!.allCorrectShare > 0.8, JSON.stringify(easy.evidence.values));
  assert.match(easy.remedy, /Reinforce-Rej/);
  assert.ok(hard.evidence.groups!.length > 0);
  const ro = diagnose(synthRun(3, 'ratio-outliers', OPTS).input).find((x) => x.id === 'clip/ratio-outliers')!;
  assert.ok(ro.evidence.samples!.length > 0);
  assert.match(ro.remedy, /GSPO/);
  const ph = diagnose(synthRun(3, 'phrase', OPTS).input).find((x) => x.id === 'reward-hacking/phrase')!;
  assert.match(ph.message, /!!!/);
  const ent = diagnose(synthRun(3, 'entropy-collapse', OPTS).input).find((x) => x.id === 'entropy/collapse')!;
  assert.match(ent.remedy, /ε_high/);
  assert.match(ent.remedy, /EEPO/);
  assert.ok(ent.evidence.values!.ratio < 0.1);
  const kl = diagnose(synthRun(3, 'kl-blowup', OPTS).input).find((x) => x.id === 'kl/blowup')!;
  assert.match(kl.remedy, /adaptive β/);
  const len = diagnose(synthRun(3, 'length-hack', OPTS).input).find((x) => x.id === 'length/drift')!;
  assert.match(len.remedy, /length penalty/);
});

test('thresholds change the verdict: raising kl.warn above the blow-up silences it', () => {
  const input = synthRun(1, 'kl-blowup', OPTS).input;
  assert.ok(diagnose(input).some((x) => x.id === 'kl/blowup'));
  assert.ok(!diagnose(input, { kl: { warn: 100, error: 1000, growthFactor: 1e9, doublingSteps: 1e-9 } }).some((x) => x.check === 'kl'));
});

test('imported run with verl metric names: entropy collapse, KL blow-up, critic, spikes are found', () => {
  for (const [patho, id, alg] of [['entropy-collapse', 'entropy/collapse', 'grpo'], ['kl-blowup', 'kl/blowup', 'grpo'], ['critic-ev', 'critic/explained-variance', 'ppo'], ['grad-spikes', 'numerical/spike:actor/grad_norm', 'grpo']] as const) {
    const input = synthRun(4, patho, { names: 'verl', rolloutEvery: 0, evalEvery: 0, algorithm: alg }).input;
    assert.ok(!('entropy' in input.metrics) && 'actor/entropy' in input.metrics);
    const fs = diagnose(input);
    assert.ok(fs.some((x) => x.id === id), `${patho}: got ${fs.map((x) => x.id).join(', ')}`);
  }
});

test('missing metrics: every check is skipped, nothing thrown, no findings', () => {
  assert.deepEqual(diagnose(emptyInput()), []);
  const onlyReward = emptyInput();
  onlyReward.metrics['reward/mean'] = { steps: [0, 1, 2], values: [0.1, 0.2, 0.3] };
  assert.deepEqual(diagnose(onlyReward), []);
});

test('malformed input does not break the other checks', () => {
  const input = synthRun(1, 'kl-blowup', { rolloutEvery: 0 }).input;
  (input as unknown as { rollouts: unknown }).rollouts = [{ step: 1, groups: null, samples: null }];
  const fs = diagnose(input);
  assert.ok(fs.some((x) => x.id === 'kl/blowup'));
  assert.ok(fs.some((x) => x.id.endsWith('/failed') && x.severity === 'info'));
});

// ---- the remaining finding kinds, on small hand-built inputs (seeded noise) ----
import { summarizeRolloutStep } from '../../src/doctor/summarize';
import { rng } from './doctor-synth';
import type { DoctorInput } from '../../src/doctor/types';
import type { RolloutSample } from '../../src/shared/runFormat';

function series(n: number, f: (t: number) => number, seed = 1, noise = 0.02): { steps: number[]; values: number[] } {
  const r = rng(seed);
  return { steps: [...Array(n).keys()], values: [...Array(n).keys()].map((t) => f(t) * (1 + noise * (r() - 0.5) * 2)) };
}

test('entropy/concentrated (info): one position carries the entropy', () => {
  const input = emptyInput();
  for (let step = 0; step < 4; step++) {
    const samples: RolloutSample[] = [...Array(8).keys()].map((i) => ({ kind: 'sample', index: i, group: 'g', prompt: 'p', completion: `c${i}`, tokens: [], reward: i % 2, length: 20 }));
    const ent = [...Array(20).keys()].map((t) => (t === 3 ? 3 : 0.002));
    input.rollouts.push(summarizeRolloutStep({ kind: 'header', step, numSamples: 8, arrays: ['entropy'], groups: [] }, samples, () => ({ entropy: ent })));
  }
  const f = diagnose(input).find((x) => x.id === 'entropy/concentrated');
  assert.ok(f && f.severity === 'info');
  assert.match(f.message, /positions 3/);
});

test('kl/growth, clip/low, beta/at-min, zero-variance from frac_reward_zero_std, dynamic sampling downgrade', () => {
  const a = emptyInput();
  a.metrics.kl = series(100, (t) => 0.004 * Math.exp(t / 25));          // 0.004 → ~0.2, below kl.warn
  assert.ok(diagnose(a).some((x) => x.id === 'kl/growth' && x.severity === 'warning'), diagnose(a).map((x) => x.id).join());
  const b = emptyInput();
  b.metrics['clip_ratio/low_mean'] = series(60, () => 0.3);
  assert.ok(diagnose(b).some((x) => x.id === 'clip/low' && x.severity === 'warning'));
  const c = emptyInput();
  c.metrics.kl_coef = series(60, (t) => (t < 10 ? 0.05 / (1 + t) : 0.005), 1, 0);
  c.metrics.kl = series(60, () => 0.01);
  assert.ok(diagnose(c).some((x) => x.id === 'beta/at-min' && x.severity === 'info'), diagnose(c).map((x) => x.id).join());
  const d = emptyInput();
  d.metrics.frac_reward_zero_std = series(30, () => 0.7);
  assert.ok(diagnose(d).some((x) => x.id === 'zero-variance/groups' && x.severity === 'warning'));
  d.algorithm = 'dapo';
  assert.ok(diagnose(d).some((x) => x.id === 'zero-variance/groups' && x.severity === 'info'), 'DAPO already filters: info');
});

test('reward-hacking/ref-gap (info): policy − reference reward gap grows while KL is high', () => {
  const input: DoctorInput = emptyInput();
  input.metrics.kl = series(40, (t) => 0.2 + 0.03 * t);
  const r = rng(5);
  for (let step = 0; step < 40; step++) {
    const samples = [...Array(8).keys()].map((i) => ({ index: i, group: 'g', reward: 0.5 + 0.02 * step + 0.05 * r(), refReward: 0.5 + 0.05 * r(), length: 5, text: `x${i}` }));
    input.rollouts.push({ step, groups: [{ id: 'g', samples: samples.map((s) => s.index), rewards: samples.map((s) => s.reward), distinct: 8 }], samples });
  }
  const f = diagnose(input).find((x) => x.id === 'reward-hacking/ref-gap');
  assert.ok(f && f.severity === 'info', diagnose(input).map((x) => x.id).join());
});

test('truncation by the task\'s design (config.derived.eosRequired false, the stories tasks) is info, not an error, and says why', () => {
  const run = synthRun(1, 'truncation', { ...OPTS, algorithm: 'grpo' });
  const err = diagnose(run.input).find((x) => x.id === 'length/truncation')!;
  assert.equal(err.severity, 'error');
  const byDesign = diagnose({ ...run.input, config: { ...(run.input.config ?? {}), derived: { eosRequired: false } } }).find((x) => x.id === 'length/truncation')!;
  assert.equal(byDesign.severity, 'info');
  assert.match(byDesign.message, /scores completions on their text.*eosRequired is false/);
  // eosRequired true (or absent) keeps the error
  assert.equal(diagnose({ ...run.input, config: { derived: { eosRequired: true } } }).find((x) => x.id === 'length/truncation')!.severity, 'error');
});

test('a reward part that rises, peaks, then falls while the reward keeps rising (a real LM learns the task, then games it) is flagged from its peak', () => {
  // 24 steps, by hand: reward rises 0.7 → 5.3 throughout; honest rises 0.85 → 1.45 by step 10, then falls to 0.95;
  // small deterministic noise (±0.03) so the noise estimate is not zero
  const steps = Array.from({ length: 24 }, (_, i) => i + 1);
  const noise = (i: number) => 0.03 * Math.sin(i * 2.1);
  const reward = steps.map((s, i) => 0.7 + 0.2 * s + noise(i));
  const honest = steps.map((s, i) => (s <= 10 ? 0.85 + 0.06 * (s - 1) : 1.45 - 0.036 * (s - 10)) + noise(i + 5));
  const flat = steps.map((s, i) => (s <= 10 ? 0.85 + 0.06 * (s - 1) : 1.45) + noise(i + 5));
  const input = (part: number[]) => ({ ...emptyInput(), algorithm: 'grpo', metrics: { 'reward/mean': { steps, values: reward }, 'reward/honest/mean': { steps, values: part }, 'reward/word/mean': { steps, values: reward.map((r) => r - 0.5) } } });
  const f = diagnose(input(honest)).find((x) => x.id === 'reward-hacking/part:honest');
  assert.ok(f, 'flagged');
  assert.match(f!.message, /from its peak around step (9|10|11|12)/);
  // start (0.85) vs end (0.95) alone would not flag it: the head-tail test sees a rise
  assert.ok(honest[23] > honest[0]);
  // a part that rises and then holds its level is healthy
  assert.equal(diagnose(input(flat)).find((x) => x.id === 'reward-hacking/part:honest'), undefined);
});

test('Training-Free GRPO: a pass@k drop is blamed on the experience library (weights frozen), with the no-library baseline; no RL remedy', () => {
  const grpo = diagnose(synthRun(5, 'pass-at-k', OPTS).input).find((f) => f.id === 'mode-collapse/pass-at-k')!;
  assert.match(grpo.remedy, /clip-higher/);
  const run = synthRun(5, 'pass-at-k', { ...OPTS, algorithm: 'tfgrpo' as never });
  run.input.algorithm = 'tfgrpo';
  const last = run.input.evals[run.input.evals.length - 1];
  last.baseline = { name: 'no_library', passAtK: { ...last.passAtK, [Object.keys(last.passAtK).sort((a, b) => Number(b) - Number(a))[0]]: 0.8125 } };
  const f = diagnose(run.input).find((x) => x.id === 'mode-collapse/pass-at-k')!;
  assert.ok(f, 'the drop is still reported');
  assert.match(f.title, /fell with the experience library/);
  assert.match(f.message, /weights frozen \(Training-Free GRPO\)/);
  assert.match(f.message, /without the library scores pass@8 0\.813 at the last eval/);
  assert.doesNotMatch(f.remedy, /raise ε_high/);
  assert.match(f.remedy, /nothing is trained/);
});
