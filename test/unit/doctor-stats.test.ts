// Robust statistics and per-token summaries of the run doctor, against values computed independently with numpy
// (python3 -c ...: np.median, median |x − median|, median pairwise slope, corrcoef of ranks). Tolerance 1e-9 unless stated.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { median, mad, theilSen, spearman, pearson, headTail, spikes, noiseSigma } from '../../src/doctor/stats';
import { summarizeRolloutStep } from '../../src/doctor/summarize';
import { resolveThresholds, flattenThresholds, unflattenThresholds, DEFAULT_THRESHOLDS } from '../../src/doctor/thresholds';
import type { RolloutSample, RolloutStepHeader } from '../../src/shared/runFormat';

const close = (a: number, b: number, tol = 1e-9) => assert.ok(Math.abs(a - b) <= tol, `${a} vs ${b}`);

test('median / MAD match numpy (NaN ignored)', () => {
  close(median([3, 1, 4, 1, 5, 9, 2, 6]), 3.5);
  close(mad([3, 1, 4, 1, 5, NaN, 9, 2, 6]), 2.0);
  assert.ok(Number.isNaN(median([])));
});

test('Theil–Sen ignores one outlier (numpy: 2.0); Spearman / Pearson match numpy', () => {
  const xs = [...Array(10).keys()];
  const ys = xs.map((x) => 2 * x + 1); ys[5] = 100;
  close(theilSen(xs, ys), 2.0);
  close(spearman([1, 2, 3, 4, 5, 6], [2, 1, 4, 3, 6, 5]), 0.8285714285714287, 1e-12);
  close(pearson([1, 2, 3, 4], [1, 3, 2, 5]), 0.8315218406202999, 1e-12);
});

test('headTail: a pure step change is detected, a flat noisy series is not', () => {
  const noise = [0.1, -0.2, 0.05, 0.15, -0.1, 0, 0.2, -0.15, 0.05, -0.05];
  const flat = { steps: noise.map((_, i) => i), values: noise.map((n) => 1 + n) };
  const t = headTail(flat, 3);
  assert.ok(Math.abs(t.z) < 4, `flat z = ${t.z}`);
  const stepped = { steps: [...Array(20).keys()], values: [...Array(20).keys()].map((i) => (i < 10 ? 1 : 0.2) + noise[i % 10] * 0.1) };
  const s = headTail(stepped, 5);
  close(s.head, median(stepped.values.slice(0, 5)));
  close(s.tail, median(stepped.values.slice(15)));
  assert.ok(s.z < -4, `stepped z = ${s.z}`);
  assert.ok(noiseSigma(stepped.values) > 0);
});

test('spikes: one 50× gradient-norm spike is found at its step; smooth noise is not', () => {
  const vals = [...Array(60).keys()].map((i) => 0.5 * Math.exp(0.2 * Math.sin(i * 1.7)));
  vals[40] = 25;
  const sp = spikes({ steps: vals.map((_, i) => i * 2), values: vals }, 20, 10, 5, 10, 6);
  assert.deepEqual(sp.map((s) => s.step), [80]);
  vals[40] = 0.6;
  assert.equal(spikes({ steps: vals.map((_, i) => i), values: vals }, 20, 10, 5, 10, 6).length, 0);
});

test('summarizeRolloutStep: entropy top-10% share, clip fractions, ratio outliers, groups (hand-computed)', () => {
  // one sample of 20 tokens with entropies 0.1..2.0: top 2 tokens carry (2.0 + 1.9) / 21 = 0.185714...
  const ent = [...Array(20).keys()].map((i) => 0.1 * (i + 1));
  const clip = [1, 2, 2, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0];
  const ratio = ent.map((_, i) => (i === 3 ? 20 : 1));
  const header: RolloutStepHeader = { kind: 'header', step: 7, numSamples: 3, arrays: ['entropy', 'clip', 'ratio'], groups: [{ id: 'a', prompt: 'p', samples: [0, 1, 2], rewards: [1, 1, 0], mean: 2 / 3, std: 0.47 }] };
  const mk = (i: number, text: string, reward: number, length: number): RolloutSample => ({ kind: 'sample', index: i, group: 'a', prompt: 'p', completion: text, tokens: [], reward, length });
  const samples = [mk(0, 'x', 1, 20), mk(1, 'x', 1, 2), mk(2, 'y', 0, 0)];
  const arrays: Record<string, number[]>[] = [{ entropy: ent, clip, ratio }, { entropy: [NaN, NaN], clip: [NaN, NaN], ratio: [NaN, NaN] }, {}];
  const s = summarizeRolloutStep(header, samples, (x) => arrays[x.index]);
  close(s.tokens!.entropyTopShare!, 0.18571428571428572, 1e-6); // float32 not involved here: plain numbers
  close(s.tokens!.entropyMean!, 1.05, 1e-12);
  close(s.tokens!.clipLowFrac!, 1 / 20);
  close(s.tokens!.clipHighFrac!, 2 / 20);
  close(s.tokens!.clipDualFrac!, 1 / 20);
  close(s.tokens!.ratioOutlierFrac!, 1 / 20);
  assert.equal(s.tokens!.ratioMax, 20);
  assert.deepEqual(s.tokens!.ratioWorstSamples!.map((x) => x.sample), [0]);
  assert.equal(s.groups[0].distinct, 2);
  assert.deepEqual(s.groups[0].rewards, [1, 1, 0]);
});

test('thresholds: overrides merge, bad values are ignored, flatten/unflatten round trip', () => {
  const t = resolveThresholds({ kl: { warn: 2 }, entropy: { warnRatio: 'x' as unknown as number }, nope: 1 } as Record<string, unknown>);
  assert.equal(t.kl.warn, 2);
  assert.equal(t.kl.error, DEFAULT_THRESHOLDS.kl.error);
  assert.equal(t.entropy.warnRatio, DEFAULT_THRESHOLDS.entropy.warnRatio);
  const flat = flattenThresholds();
  assert.equal(flat['kl.warn'], DEFAULT_THRESHOLDS.kl.warn);
  assert.deepEqual(resolveThresholds(unflattenThresholds(flat)), resolveThresholds());
});
