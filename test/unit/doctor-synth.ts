/**
 * Seeded synthetic run generator for the doctor's tests (not a test file itself).
 * `synthRun(seed, patho)` returns a DoctorInput (and, via writeSynthRun, a real run directory) for a healthy GRPO/PPO
 * run with realistic noise, optionally with one pathology injected. Rollout summaries go through the real
 * summarizeRolloutStep with synthetic per-token arrays.
 */
import { summarizeRolloutStep } from '../../src/doctor/summarize';
import type { DoctorInput, Series } from '../../src/doctor/types';
import type { RolloutSample, RolloutStepHeader, MetricsRecord, EvalRecord } from '../../src/shared/runFormat';
import { RunWriter } from '../../src/runio/writer';

import { rng } from '../fixtures/makeRun'; // mulberry32, shared by the test generators
export { rng };

export type Patho =
  | 'healthy' | 'entropy-collapse' | 'entropy-falling' | 'zero-variance-hard' | 'zero-variance-easy' | 'kl-blowup' | 'kl-zero' | 'beta-at-max'
  | 'clip-high' | 'ratio-outliers' | 'length-hack' | 'truncation' | 'overlong-penalty' | 'eval-drop' | 'part-drop' | 'phrase'
  | 'mode-distinct' | 'pass-at-k' | 'critic-ev' | 'value-loss' | 'value-clip' | 'nan' | 'grad-spikes' | 'loss-spike';

export interface SynthOptions {
  steps?: number;
  algorithm?: 'grpo' | 'ppo';
  groups?: number;
  groupSize?: number;
  /** noise multiplier (1 = default) */
  noise?: number;
  /** log rollouts every this many steps (0 = none) */
  rolloutEvery?: number;
  evalEvery?: number;
  /** metric names: ours or verl-style */
  names?: 'ours' | 'verl';
}

export interface SynthRun {
  input: DoctorInput;
  metrics: MetricsRecord[];
  evals: EvalRecord[];
  rollouts: { header: RolloutStepHeader; samples: RolloutSample[]; arrays: Record<string, number[]>[] }[];
  config: Record<string, unknown>;
  algorithm: string;
}

const VERL: Record<string, string> = {
  'reward/mean': 'critic/score/mean', entropy: 'actor/entropy', kl: 'actor/kl_loss', kl_coef: 'actor/kl_coef', 'clip_ratio/region_mean': 'actor/pg_clipfrac',
  'clip_ratio/low_mean': 'actor/pg_clipfrac_lower', pg_loss: 'actor/pg_loss', grad_norm: 'actor/grad_norm', 'response_length/mean': 'response_length/mean',
  'response_length/clip_ratio': 'response_length/clip_ratio', vf_explained_var: 'critic/vf_explained_var', vf_loss: 'critic/vf_loss', vf_clipfrac: 'critic/vf_clipfrac',
};

export function synthRun(seed: number, patho: Patho = 'healthy', o: SynthOptions = {}): SynthRun {
  const r = rng(seed * 7919 + 17);
  const gauss = () => { let u = 0; while (u === 0) u = r(); return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r()); };
  const T = o.steps ?? 200, alg = o.algorithm ?? 'grpo', G = o.groupSize ?? 8, NG = o.groups ?? 16, k = o.noise ?? 1;
  const rolloutEvery = o.rolloutEvery ?? 1, evalEvery = o.evalEvery ?? 10;
  const clamp = (x: number, a: number, b: number) => Math.min(b, Math.max(a, x));
  const metrics: MetricsRecord[] = [];
  const evals: EvalRecord[] = [];
  const rollouts: SynthRun['rollouts'] = [];
  const config: Record<string, unknown> = { algorithm: alg, beta: 0.04, lr: 1e-5, groupSize: G };
  if (patho === 'beta-at-max') Object.assign(config, { klCtl: { adaptive: true, betaMin: 0.01, betaMax: 0.05 } });
  const onset = Math.floor(T * 0.4);
  const late = (t: number) => Math.max(0, (t - onset) / (T - onset)); // 0 before onset, → 1 at the end
  for (let t = 0; t < T; t++) {
    const p = t / T;
    let acc = 0.3 + 0.35 * (1 - Math.exp(-3 * p));
    let fmtPart = 0.7 + 0.2 * p;
    let lengthMean = 12 + 1.5 * p;
    if (patho === 'length-hack') lengthMean = 12 + 48 * late(t);
    let reward = acc + 0.1 * fmtPart;
    if (patho === 'part-drop') { acc = 0.6 - 0.4 * late(t); fmtPart = 0.7 + 3 * late(t); reward = acc + 0.5 * fmtPart; }
    if (patho === 'length-hack') reward += 0.03 * lengthMean * late(t);
    if (patho === 'eval-drop') reward += 0.5 * late(t);
    let entropy = 1.2 * (1 - 0.3 * p);
    if (patho === 'entropy-collapse') entropy = 1.2 * (t < onset ? 1 - 0.1 * p : 0.96 * Math.exp(-6 * late(t))) + 0.01;
    if (patho === 'entropy-falling') entropy = t < T - 40 ? 1.2 * (1 - 0.1 * p) : 1.1 * Math.exp(-(t - (T - 40)) / 20);
    let kl = 0.002 + 0.05 * p;
    if (patho === 'kl-blowup') kl = 0.01 * Math.exp(7 * late(t));
    if (patho === 'beta-at-max') kl = 0.05 + 0.9 * late(t);
    let klCoef = 0.04;
    if (patho === 'beta-at-max') klCoef = t < onset ? (t % 7 < 3 ? 0.01 : 0.02 + 0.005 * (t % 3)) : (late(t) < 0.1 ? 0.03 : 0.05);
    const v: Record<string, number | null> = {
      'reward/mean': reward + 0.04 * k * gauss(),
      'reward/std': 0.4 + 0.03 * k * gauss(),
      'reward/accuracy/mean': acc + 0.04 * k * gauss(),
      'reward/format/mean': (patho === 'part-drop' ? 0.5 : 0.1) * fmtPart + 0.01 * k * gauss(),
      entropy: Math.max(0, entropy + 0.03 * k * gauss()),
      kl: patho === 'kl-zero' ? 0 : Math.max(0, kl * (1 + 0.1 * k * gauss()) + 0.002 * k * Math.abs(gauss())),
      kl_coef: klCoef,
      'clip_ratio/low_mean': Math.abs(0.01 + 0.004 * k * gauss()),
      'clip_ratio/high_mean': patho === 'clip-high' ? clamp(0.3 + 0.05 * gauss(), 0, 1) : Math.abs(0.02 + 0.006 * k * gauss()),
      pg_loss: 0.05 * k * gauss(),
      grad_norm: 0.5 * Math.exp(0.3 * k * gauss()),
      lr: 1e-5,
      'response_length/mean': lengthMean + 0.5 * k * gauss(),
      'response_length/max': 24,
      'response_length/clip_ratio': patho === 'truncation' ? clamp(0.05 + 0.5 * late(t) + 0.03 * gauss(), 0, 1) : clamp(0.01 + 0.01 * k * Math.abs(gauss()), 0, 1),
    };
    v['clip_ratio/region_mean'] = (v['clip_ratio/low_mean'] as number) + (v['clip_ratio/high_mean'] as number);
    if (patho === 'overlong-penalty') { v['reward/overlong/mean'] = -0.8 * (0.2 + late(t)) + 0.03 * gauss(); }
    if (alg === 'ppo') {
      v.vf_explained_var = patho === 'critic-ev' ? -0.3 + 0.1 * gauss() : 0.6 * (1 - Math.exp(-8 * p)) + 0.05 * k * gauss();
      v.vf_loss = patho === 'value-loss' ? 0.05 + 1.5 * late(t) ** 2 + 0.01 * gauss() : Math.max(1e-4, 0.1 * Math.exp(-p) * (1 + 0.15 * k * gauss()));
      v.vf_clipfrac = patho === 'value-clip' ? clamp(0.5 + 0.05 * gauss(), 0, 1) : Math.abs(0.05 + 0.015 * k * gauss());
    }
    if (patho === 'nan' && t >= Math.floor(T * 0.75)) { v.pg_loss = null; v.grad_norm = null; }
    if (patho === 'grad-spikes' && (t === 120 || t === 150 || t === 170)) v.grad_norm = 40 + 5 * r();
    if (patho === 'loss-spike' && t === 130) v.pg_loss = 3.5;
    const values: Record<string, number | null> = {};
    for (const [name, x] of Object.entries(v)) values[o.names === 'verl' ? (VERL[name] ?? name) : name] = x;
    metrics.push({ step: t, values });

    // eval
    if (evalEvery && t % evalEvery === 0) {
      let p1 = acc;
      let pk = clamp(acc + 0.3, 0, 0.97);
      if (patho === 'eval-drop') { p1 = t < onset ? acc : acc - 0.4 * late(t); pk = clamp(p1 + 0.3, 0, 0.97); }
      if (patho === 'pass-at-k') { p1 = 0.4 + 0.05 * p; pk = t < onset ? 0.8 : 0.8 - 0.4 * late(t); pk = Math.max(pk, p1 + 0.02); }
      const N = 32 * 8;
      let c1 = 0;
      for (let i = 0; i < N; i++) if (r() < p1) c1++;
      evals.push({ step: t, passAtK: { '1': c1 / N, '8': clamp(pk + 0.02 * gauss(), 0, 1) }, samplesPerPrompt: 8, numPrompts: 32 });
    }

    // rollouts
    if (rolloutEvery && t % rolloutEvery === 0) {
      const samples: RolloutSample[] = [];
      const arrays: Record<string, number[]>[] = [];
      const groups: RolloutStepHeader['groups'] = [];
      const hard = patho === 'zero-variance-hard' && t >= onset;
      const easy = patho === 'zero-variance-easy' && t >= onset;
      for (let gi = 0; gi < NG; gi++) {
        const answer = String(11 + ((gi * 37 + t * 13) % 89));
        let q = clamp(acc + 0.2 * gauss(), 0.02, 0.98);
        if (hard) q = r() < 0.95 ? 0 : 0.3;
        if (easy) q = r() < 0.95 ? 1 : 0.7;
        const idx: number[] = [];
        const rewards: number[] = [];
        const collapsed = patho === 'mode-distinct' && t >= onset;
        const wrongFixed = String(10 + Math.floor(r() * 90));
        const groupCorrect = r() < q;
        for (let j = 0; j < G; j++) {
          // mode collapse: the group repeats one completion (right or wrong as a whole)
          const correct = collapsed ? groupCorrect : r() < q;
          let text = correct ? `= ${answer}` : `= ${collapsed ? wrongFixed : String(Math.floor(r() * 1000))}`;
          let len = Math.max(3, Math.round(lengthMean * (1 + 0.25 * gauss())));
          let rew = (correct ? 1 : 0) + 0.1 * fmtPart;
          const parts: Record<string, number> = { accuracy: correct ? 1 : 0, format: 0.1 * fmtPart };
          if (patho === 'length-hack') { rew += 0.03 * late(t) * len; parts.length_bonus = 0.03 * late(t) * len; }
          if (patho === 'phrase' && t >= onset && r() < 0.85) { text += ' !!!!'; rew += 1; parts.style = 1; }
          const truncated = patho === 'truncation' && t >= onset && r() < 0.5 * late(t) + 0.05 ? true : r() < 0.01;
          if (truncated) len = Math.max(len, 24);
          const ent: number[] = [], ratio: number[] = [], clip: number[] = [], mask: number[] = [];
          for (let s = 0; s < len; s++) {
            ent.push(Math.max(0, entropy * Math.exp(0.5 * gauss() - 0.125)));
            let rr = Math.exp(0.05 * gauss());
            if (patho === 'ratio-outliers' && t >= onset && r() < 0.05) rr = r() < 0.5 ? 30 : 0.02;
            ratio.push(rr);
            clip.push(rr > 1.2 ? 2 : rr < 0.8 ? 1 : 0);
            mask.push(1);
          }
          idx.push(samples.length);
          rewards.push(rew);
          samples.push({ kind: 'sample', index: samples.length, group: `g${gi}`, prompt: `${gi}+${t}=`, completion: text, tokens: text.split(''), reward: rew, rewardParts: parts, length: len, truncated } as RolloutSample);
          arrays.push({ entropy: ent, ratio, clip, mask });
        }
        const mean = rewards.reduce((a, b) => a + b, 0) / G;
        const sd = Math.sqrt(rewards.reduce((a, b) => a + (b - mean) ** 2, 0) / G);
        groups.push({ id: `g${gi}`, prompt: `${gi}+${t}=`, samples: idx, rewards, mean, std: sd, answer });
      }
      rollouts.push({ header: { kind: 'header', step: t, algorithm: alg, numSamples: samples.length, arrays: ['entropy', 'ratio', 'clip', 'mask'], groups }, samples, arrays });
    }
  }
  // DoctorInput built the way the loader builds it
  const input: DoctorInput = { runId: `synth-${patho}-${seed}`, algorithm: alg, status: 'completed', config, metrics: {}, evalMetrics: {}, evals: [], rollouts: [], errors: [] };
  for (const m of metrics) for (const [name, x] of Object.entries(m.values)) {
    const s: Series = (input.metrics[name] ??= { steps: [], values: [] });
    s.steps.push(m.step); s.values.push(x === null ? NaN : x);
  }
  input.evals = evals.map((e) => ({ step: e.step, passAtK: e.passAtK, samplesPerPrompt: e.samplesPerPrompt, numPrompts: e.numPrompts }));
  input.rollouts = rollouts.map((ro) => summarizeRolloutStep(ro.header, ro.samples, (s) => ro.arrays[s.index]));
  return { input, metrics, evals, rollouts, config, algorithm: alg };
}

/** Write a synthetic run as a real run directory (through RunWriter). */
export function writeSynthRun(dir: string, run: SynthRun, opts: { upToStep?: number; create?: boolean; fromStep?: number } = {}): RunWriter {
  const w = RunWriter.create(dir, { id: `synth`, algorithm: run.algorithm, config: run.config });
  appendSynth(w, run, 0, opts.upToStep ?? Infinity);
  return w;
}

export function appendSynth(w: RunWriter, run: SynthRun, fromStep: number, toStep: number): void {
  for (const m of run.metrics) if (m.step >= fromStep && m.step <= toStep) w.metrics(m);
  for (const e of run.evals) if (e.step >= fromStep && e.step <= toStep) w.evalRecord(e);
  for (const ro of run.rollouts) {
    if (ro.header.step < fromStep || ro.header.step > toStep) continue;
    const { kind: _k, numSamples: _n, dataFile: _d, ...h } = ro.header;
    w.writeRolloutStep(h, ro.samples.map(({ kind: _a, index: _b, offset: _c, ...s }) => s), ro.arrays);
  }
}
