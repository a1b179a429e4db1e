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

// The spike detector's rolling window, written here from its definition (spikes' doc: the last w finite, not skipped
// values before the point; median, 10th and 90th percentile by numpy's linear rule; positive series judged in log σ of
// the window, others in 1.4826·MAD with floors, MAD 0 → ratio × the largest |value|), re-sorting the window at every
// point: the incremental window (kept sorted as values come and go) must find the same spikes with the same numbers.
function refSpikes(values: number[], steps: number[], w: number, z: number, ratio: number, minHistory: number, logZ: number, floor: number, skip: Set<number>) {
  const q = (a: number[], p: number) => { const s = [...a].sort((x, y) => x - y), pos = (s.length - 1) * p, lo = Math.floor(pos), hi = Math.ceil(pos); return s[lo] + (s[hi] - s[lo]) * (pos - lo); };
  const med = (a: number[]) => { const s = [...a].sort((x, y) => x - y), m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
  const madOf = (a: number[]) => { const m = med(a); return med(a.map((x) => Math.abs(x - m))); };
  const positive = values.every((v, i) => !Number.isFinite(v) || v > 0 || skip.has(steps[i]));
  const hist: number[] = [], out: { index: number; z: number; baseline: number; p10: number; p90: number }[] = [];
  values.forEach((v, i) => {
    if (!Number.isFinite(v) || skip.has(steps[i])) return;
    if (hist.length >= minHistory) {
      const win = hist.slice(-w), m = med(win), p10 = q(win, 0.1), p90 = q(win, 0.9);
      if (Math.abs(v - m) > 2 * Math.max(Math.abs(p90 - m), Math.abs(p10 - m))) {
        if (positive) {
          const lw = win.map(Math.log), zz = Math.abs(Math.log(v) - med(lw)) / Math.max(1.4826 * madOf(lw), 0.01);
          if (zz > logZ && v > ratio * m) out.push({ index: i, z: zz, baseline: m, p10, p90 });
        } else {
          const md = 1.4826 * madOf(win), zz = Math.abs(v - m) / Math.max(md, 0.01 * Math.abs(m), floor);
          const ok = md > 0 || (Math.max(...win.map(Math.abs)) > 0 && Math.abs(v - m) > ratio * Math.max(...win.map(Math.abs)));
          if (zz > z && ok && Math.abs(v - m) > (ratio - 1) * Math.abs(m)) out.push({ index: i, z: zz, baseline: m, p10, p90 });
        }
      }
    }
    hist.push(v);
  });
  return out;
}

test('spikes: the incremental rolling window finds the reference detector\'s spikes (random series: ties, zeros, NaN, skipped steps, positive and signed)', () => {
  let seed = 7;
  const r = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  let compared = 0;
  for (let trial = 0; trial < 40; trial++) {
    const n = 300 + Math.floor(r() * 500), positive = trial % 2 === 0;
    const values = Array.from({ length: n }, (_, i) => {
      if (r() < 0.02) return NaN;
      if (r() < 0.03) return (positive ? 60 : 30) * (1 + r());           // spikes
      const base = r() < 0.3 ? Math.round(r() * 4) / 4 : r();           // ties
      return positive ? 0.5 + base : (trial % 4 === 1 && i % 7 === 0 ? 0 : base - 0.5);
    });
    const steps = values.map((_, i) => 2 * i);
    const skip = new Set(steps.filter(() => r() < 0.05));
    const w = [5, 20, 50][trial % 3];
    const got = spikes({ steps, values }, w, 4, 3, 10, 4, 1e-12, skip).map((s) => ({ index: s.index, z: s.z, baseline: s.baseline, p10: s.p10, p90: s.p90 }));
    const want = refSpikes(values, steps, w, 4, 3, 10, 4, 1e-12, skip);
    assert.equal(got.length, want.length, `trial ${trial}: ${got.length} spikes vs ${want.length}`);
    got.forEach((g, k) => {
      assert.equal(g.index, want[k].index, `trial ${trial} spike ${k}`);
      for (const f of ['z', 'baseline', 'p10', 'p90'] as const) assert.ok(Math.abs(g[f] - want[k][f]) <= 1e-12 * Math.max(1, Math.abs(want[k][f])), `trial ${trial} spike ${k} ${f}: ${g[f]} vs ${want[k][f]}`);
    });
    compared += want.length;
  }
  assert.ok(compared > 100, `${compared} spikes compared`);
});
