/**
 * Synthetic runs at real scale for the webview benchmarks (scripts/bench-webview.mjs, scripts/bench-workbench.mjs):
 * verl-sized GRPO steps (1,024 completions × 4,096 tokens, 9 per-token arrays: 151 MB of float32 per step) written
 * with the real writer, and run folders of a given apparent size: the last step is written for real, the earlier
 * ones are hard links of it (same bytes, no disk written) with their own index lines (rollouts/index.jsonl), so a
 * 10 GB run costs one step of disk. Metrics: `metricsSteps` records of 24 metrics.
 */
import * as fs from 'fs';
import * as path from 'path';
import { FILES, stepFileBase, type RolloutSample, type RolloutStepHeader } from '../src/shared/runFormat';
import { RunWriter, appendJsonLine, rolloutIndexEntry, writeRolloutStepPacked } from '../src/runio/writer';
import { rng } from '../test/fixtures/makeRun';

const ARRAYS = ['logprob', 'old_logprob', 'ref_logprob', 'kl', 'advantage', 'ratio', 'clip', 'entropy', 'mask'];
const VOCAB = [' the', ' a', ' 1', ' 2', ' +', ' =', ' so', ' answer', ' is', '.', ',', ' we', ' add', ' then', '\n', ' 3', ' 4', ' 5', ' 7', ' 9'];

export interface BigRunOptions {
  dir: string;
  samples: number;
  tokens: number;
  /** traced steps (default 1), or the apparent run size in GB (one step is samples × tokens × 9 × 4 bytes) */
  steps?: number;
  gigabytes?: number;
  /** metric records (24 metrics each); default 100 */
  metricsSteps?: number;
  seed?: number;
}

export function makeBigRun(o: BigRunOptions): string {
  const r = rng(o.seed ?? 1);
  const stepBytes = o.samples * o.tokens * ARRAYS.length * 4;
  const steps = o.gigabytes ? Math.max(1, Math.round((o.gigabytes * 2 ** 30) / stepBytes)) : (o.steps ?? 1);
  const metricsSteps = Math.max(o.metricsSteps ?? 100, steps);
  const every = Math.max(1, Math.floor(metricsSteps / steps));
  const w = RunWriter.create(o.dir, {
    id: path.basename(o.dir), name: `big ${o.samples}x${o.tokens}`, algorithm: 'grpo', task: 'arithmetic',
    config: { algorithm: 'grpo', groupSize: 8 }, seed: o.seed ?? 1, totalSteps: metricsSteps,
    backend: { name: 'cpu', requested: 'auto' }, model: { parameters: 1 },
  });
  // metrics: through the writer, line by line, as a trainer writes them (its columns cache included)
  for (let s = 1; s <= metricsSteps; s++) {
    const values: Record<string, number> = { 'reward/mean': 0.3 + 0.5 * s / metricsSteps + 0.05 * r(), kl: 0.01 + 0.01 * r(), entropy: 1 - 0.5 * s / metricsSteps, 'response_length/mean': 500 + 100 * r() };
    for (let k = 0; k < 20; k++) values[`extra/metric_${String(k).padStart(2, '0')}`] = Math.sin(s / (10 + k)) + 0.1 * r();
    w.metrics({ step: s, time: s * 1.7, values });
  }
  // the traced step (the last one), written for real
  const last = steps * every;
  const G = 8, nGroups = Math.ceil(o.samples / G);
  const A = ARRAYS.length, L = o.tokens;
  const data = new Float32Array(o.samples * A * L);
  const samples: RolloutSample[] = [];
  const groups: RolloutStepHeader['groups'] = [];
  const tokens = Array.from({ length: L }, (_, t) => VOCAB[(t * 7 + 3) % VOCAB.length]);
  for (let g = 0; g < nGroups; g++) {
    const members: number[] = [], rewards: number[] = [];
    for (let k = 0; k < G && samples.length < o.samples; k++) {
      const i = samples.length, off = i * A * L;
      const reward = r() < 0.5 ? 1 : 0;
      const adv = (reward - 0.5) * 2 + 0.1 * (r() - 0.5);
      const valid = L - Math.floor(r() * L * 0.2);
      for (let t = 0; t < L; t++) {
        const lp = -Math.abs(r() - 0.5) * 2 - 0.01, old = lp + 0.05 * (r() - 0.5), ref = lp - 0.1 * r();
        const vals = [lp, old, ref, lp - ref, adv, Math.exp(lp - old), 0, 0.2 + r(), t < valid ? 1 : 0];
        for (let a = 0; a < A; a++) data[off + a * L + t] = vals[a];
      }
      samples.push({ kind: 'sample', index: i, group: `g${g}`, prompt: `${g} + ${k} = ?`, completion: tokens.join(''), tokens, reward, rewardParts: { accuracy: reward, format: 0 }, advantage: adv, length: L, offset: off } as RolloutSample);
      members.push(i); rewards.push(reward);
    }
    const mean = rewards.reduce((a, b) => a + b, 0) / rewards.length;
    groups.push({ id: `g${g}`, prompt: `${g} + k = ?`, samples: members, rewards, mean, std: Math.sqrt(rewards.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, rewards.length - 1)) });
  }
  const header = { kind: 'header', step: last, algorithm: 'grpo', numSamples: samples.length, arrays: ARRAYS, dataFile: `${stepFileBase(last)}.f32`, groups, params: {} } as unknown as RolloutStepHeader;
  const rdir = path.join(o.dir, FILES.rolloutsDir);
  writeRolloutStepPacked(rdir, { header, samples, data });
  // the earlier traced steps: hard links of the real one, each with its own index line
  const jsonl = path.join(rdir, `${stepFileBase(last)}.jsonl`), f32 = path.join(rdir, `${stepFileBase(last)}.f32`);
  const jsonlBytes = fs.statSync(jsonl).size;
  // the sidecars the writer leaves beside a step (the heatmap's overview, the doctor's summary): each step its own, as
  // a trainer's run has them (the linked files have the real step's size and mtime, so they are valid for them)
  const sidecars = [FILES.stepOverviewSuffix, FILES.stepDoctorSuffix].map((suffix) => ({ suffix, text: fs.existsSync(path.join(rdir, `${stepFileBase(last)}${suffix}`)) ? fs.readFileSync(path.join(rdir, `${stepFileBase(last)}${suffix}`), 'utf8') : undefined }));
  for (let k = 1; k < steps; k++) {
    const s = k * every;
    fs.linkSync(jsonl, path.join(rdir, `${stepFileBase(s)}.jsonl`));
    fs.linkSync(f32, path.join(rdir, `${stepFileBase(s)}.f32`));
    for (const { suffix, text } of sidecars) {
      if (!text) continue;
      const side = JSON.parse(text);
      side.step = s;
      if (side.summary) side.summary.step = s;
      fs.writeFileSync(path.join(rdir, `${stepFileBase(s)}${suffix}`), JSON.stringify(side));
    }
    appendJsonLine(path.join(o.dir, FILES.rolloutIndex), rolloutIndexEntry({ ...header, step: s }, samples, jsonlBytes, data.byteLength));
  }
  w.updateManifest({ status: 'completed', step: metricsSteps });
  return o.dir;
}
