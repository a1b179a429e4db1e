/** Robust statistics used by the checks (pure). NaN entries are ignored unless said otherwise. */
import type { Series } from './types';

export function finite(xs: ArrayLike<number>): number[] {
  const out: number[] = [];
  for (let i = 0; i < xs.length; i++) if (Number.isFinite(xs[i])) out.push(xs[i]);
  return out;
}

export function median(xs: ArrayLike<number>): number {
  // a typed-array sort (numeric, no comparator calls): the doctor takes medians of whole 100k-point series
  return sortedMedian(Float64Array.from(finite(xs)).sort());
}

/** Median absolute deviation (unscaled). σ ≈ 1.4826 · MAD for Gaussian noise. */
export function mad(xs: ArrayLike<number>): number {
  const m = median(xs);
  return median(finite(xs).map((x) => Math.abs(x - m)));
}

export function mean(xs: ArrayLike<number>): number {
  const a = finite(xs);
  return a.length ? a.reduce((s, x) => s + x, 0) / a.length : NaN;
}

export function std(xs: ArrayLike<number>): number {
  const a = finite(xs);
  if (a.length < 2) return 0;
  const m = mean(a);
  return Math.sqrt(a.reduce((s, x) => s + (x - m) ** 2, 0) / (a.length - 1));
}

/** The finite points of a series, as parallel arrays. */
export function finitePoints(s: Series): Series {
  const steps: number[] = [], values: number[] = [];
  for (let i = 0; i < s.values.length; i++) if (Number.isFinite(s.values[i])) { steps.push(s.steps[i]); values.push(s.values[i]); }
  return { steps, values };
}

/** Window length for head/tail comparisons: fraction of n, clamped to [min, max]. */
export function windowSize(n: number, fraction: number, min: number, max: number): number {
  return Math.max(1, Math.min(n, Math.max(min, Math.min(max, Math.floor(n * fraction)))));
}

/** Robust noise scale of a series: 1.4826 · MAD of first differences / √2 (insensitive to a slow trend). */
export function noiseSigma(values: number[]): number {
  if (values.length < 3) return 0;
  const d: number[] = [];
  for (let i = 1; i < values.length; i++) d.push(values[i] - values[i - 1]);
  return (1.4826 * mad(d)) / Math.SQRT2;
}

export interface Trend {
  head: number;
  tail: number;
  diff: number;
  /** per-point noise σ */
  sigma: number;
  /** diff in units of the standard error of a difference of two window medians */
  z: number;
  window: number;
}

/**
 * Compare the median of the first `w` finite points with the median of the last `w`.
 * z uses the standard error of a median (≈ 1.2533 σ/√w) for each window.
 */
export function headTail(s: Series, w: number): Trend {
  const v = finite(s.values);
  const n = v.length;
  w = Math.max(1, Math.min(w, Math.floor(n / 2) || 1));
  const head = median(v.slice(0, w));
  const tail = median(v.slice(n - w));
  const sigma = noiseSigma(v);
  const se = 1.2533 * sigma * Math.sqrt(2 / w);
  const diff = tail - head;
  return { head, tail, diff, sigma, z: se > 0 ? diff / se : diff === 0 ? 0 : Math.sign(diff) * Infinity, window: w };
}

/** Rolling median of the last `w` points ending at each index (prefix uses what exists). */
export function rollingMedian(values: number[], w: number): number[] {
  return values.map((_, i) => median(values.slice(Math.max(0, i - w + 1), i + 1)));
}

/** Theil–Sen slope (median of pairwise slopes), subsampled to ≤ 200 points. */
export function theilSen(xs: number[], ys: number[]): number {
  const idx: number[] = [];
  const n = Math.min(xs.length, ys.length);
  const stride = Math.max(1, Math.ceil(n / 200));
  for (let i = 0; i < n; i += stride) if (Number.isFinite(ys[i])) idx.push(i);
  const slopes: number[] = [];
  for (let a = 0; a < idx.length; a++) {
    for (let b = a + 1; b < idx.length; b++) {
      const dx = xs[idx[b]] - xs[idx[a]];
      if (dx !== 0) slopes.push((ys[idx[b]] - ys[idx[a]]) / dx);
    }
  }
  return median(slopes);
}

function ranks(xs: number[]): number[] {
  const order = xs.map((x, i) => [x, i] as const).sort((a, b) => a[0] - b[0]);
  const r = new Array<number>(xs.length);
  for (let i = 0; i < order.length;) {
    let j = i;
    while (j + 1 < order.length && order[j + 1][0] === order[i][0]) j++;
    const avg = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) r[order[k][1]] = avg;
    i = j + 1;
  }
  return r;
}

export function pearson(xs: number[], ys: number[]): number {
  const n = Math.min(xs.length, ys.length);
  if (n < 3) return NaN;
  const mx = mean(xs.slice(0, n)), my = mean(ys.slice(0, n));
  let sxy = 0, sxx = 0, syy = 0;
  for (let i = 0; i < n; i++) { sxy += (xs[i] - mx) * (ys[i] - my); sxx += (xs[i] - mx) ** 2; syy += (ys[i] - my) ** 2; }
  return sxx > 0 && syy > 0 ? sxy / Math.sqrt(sxx * syy) : NaN;
}

/** Spearman rank correlation of paired finite values. */
export function spearman(xs: number[], ys: number[]): number {
  const px: number[] = [], py: number[] = [];
  for (let i = 0; i < Math.min(xs.length, ys.length); i++) if (Number.isFinite(xs[i]) && Number.isFinite(ys[i])) { px.push(xs[i]); py.push(ys[i]); }
  return pearson(ranks(px), ranks(py));
}

/** Align two series on common steps. */
export function align(a: Series, b: Series): { steps: number[]; a: number[]; b: number[] } {
  const m = new Map<number, number>();
  a.steps.forEach((s, i) => { if (Number.isFinite(a.values[i])) m.set(s, a.values[i]); });
  const out = { steps: [] as number[], a: [] as number[], b: [] as number[] };
  b.steps.forEach((s, i) => {
    const va = m.get(s);
    if (va !== undefined && Number.isFinite(b.values[i])) { out.steps.push(s); out.a.push(va); out.b.push(b.values[i]); }
  });
  return out;
}

/** Value of a series at (or just before) a step. */
export function valueAt(s: Series, step: number): number {
  let v = NaN;
  for (let i = 0; i < s.steps.length; i++) { if (s.steps[i] > step) break; if (Number.isFinite(s.values[i])) v = s.values[i]; }
  return v;
}

/**
 * Robust spike detection: point i is a spike when it deviates from the median m of the previous `w` points by more than
 * `z` robust σ (1.4826·MAD, floored at 1% of |m| and at `sigmaFloor`) AND by more than (ratio − 1)·|m|. For a series that is positive
 * everywhere (gradient norms) the σ test is done on log values with `logZ`, and the size test is x > ratio·m. A value within
 * the window's normal range (no farther from m than twice the 10th / 90th percentile is) is never a spike. Steps in `skip`
 * (no gradient at all: every group zero-variance) are neither judged nor part of the baseline.
 */
export interface Spike {
  index: number; step: number; value: number;
  /** rolling median of the previous points */
  baseline: number;
  z: number;
  /** robust σ was real: false when the window's MAD was 0 (z then rests on a floor and means little) */
  zMeaningful: boolean;
  /** 10th / 90th percentile of the previous points (the run's typical range there) */
  p10: number; p90: number;
}

export function spikes(s: Series, w: number, z: number, ratio: number, minHistory: number, logZ = z, sigmaFloor = 1e-12, skip?: ReadonlySet<number>): Spike[] {
  const out: Spike[] = [];
  const hist: number[] = [];
  // the last w values of hist kept sorted as they come and go (O(w) per point, no sort per point: a 100k-step run has
  // 40 series and the doctor replays them at dozens of checkpoints)
  const W = Math.max(1, Math.floor(w)), sorted = new Float64Array(W);
  let sn = 0;
  const keep = (v: number) => {
    hist.push(v);
    if (hist.length > W) {
      const k = lowerBound(sorted, sn, hist[hist.length - 1 - W]);
      sorted.copyWithin(k, k + 1, sn); sn--;
    }
    let k = lowerBound(sorted, sn, v);
    while (k < sn && sorted[k] <= v) k++;
    sorted.copyWithin(k + 1, k, sn); sorted[k] = v; sn++;
  };
  const positive = s.values.every((v, i) => !Number.isFinite(v) || v > 0 || skip?.has(s.steps[i]));
  for (let i = 0; i < s.values.length; i++) {
    const v = s.values[i];
    // skipped steps (e.g. steps without any reward gradient) are neither judged nor part of any baseline
    if (!Number.isFinite(v) || skip?.has(s.steps[i])) continue;
    if (hist.length >= minHistory) {
      // the rolling window: the last w points (all finite), its median and percentiles as median() / quantile() give them
      const win = sorted.subarray(0, sn);
      const m = sortedMedian(win);
      // within the run's normal range there: a value no farther from the rolling median than twice the 10th / 90th
      // percentile is (a window with two regimes, e.g. 1e-3 and 0.1, has its median in one and its p90 in the other)
      const p10 = sortedQuantile(win, 0.1), p90 = sortedQuantile(win, 0.9);
      if (Math.abs(v - m) <= 2 * Math.max(Math.abs(p90 - m), Math.abs(p10 - m))) { keep(v); continue; }
      let zz: number;
      if (positive) {
        // positive metrics (gradient norms) are log-normal-ish: judge the deviation of log(v) in robust σ of log values
        const lw = Array.from(win, Math.log);
        const lm = median(lw);
        const md = mad(lw);
        zz = Math.abs(Math.log(v) - lm) / Math.max(1.4826 * md, 0.01);
        if (zz > logZ && v > ratio * m) out.push({ index: i, step: s.steps[i], value: v, baseline: m, z: zz, zMeaningful: 1.4826 * md >= 0.01, p10, p90 });
      } else {
        const md = 1.4826 * mad(win);
        const sig = Math.max(md, 0.01 * Math.abs(m), sigmaFloor);
        zz = Math.abs(v - m) / sig;
        // no spread in the window (MAD 0: e.g. a grad norm that is exactly 0 at most steps): σ is only a floor, so
        // demand instead that the value is `ratio`× beyond anything in the window (nothing to compare with: no spike)
        const maxAbs = md > 0 ? 0 : Math.max(Math.abs(win[0]), Math.abs(win[win.length - 1]));
        const degenerateOk = md > 0 || (maxAbs > 0 && Math.abs(v - m) > ratio * maxAbs);
        if (zz > z && degenerateOk && Math.abs(v - m) > (ratio - 1) * Math.abs(m)) out.push({ index: i, step: s.steps[i], value: v, baseline: m, z: zz, zMeaningful: md > 0 && md >= 0.01 * Math.abs(m) && md >= sigmaFloor && m !== 0, p10, p90 });
      }
    }
    keep(v);
  }
  return out;
}

/** The first index k < n with a[k] >= x (a sorted ascending), or n. */
function lowerBound(a: Float64Array, n: number, x: number): number {
  let lo = 0, hi = n;
  while (lo < hi) { const mid = (lo + hi) >> 1; if (a[mid] < x) lo = mid + 1; else hi = mid; }
  return lo;
}

/** q-quantile (0..1) of the finite values, linear interpolation (numpy's default). */
export function quantile(xs: ArrayLike<number>, q: number): number {
  return sortedQuantile(Float64Array.from(finite(xs)).sort(), q);
}

/** median() of values already sorted ascending (all finite). */
export function sortedMedian(a: ArrayLike<number>): number {
  if (!a.length) return NaN;
  const m = a.length >> 1;
  return a.length % 2 ? a[m] : (a[m - 1] + a[m]) / 2;
}

/** quantile() of values already sorted ascending (all finite). */
export function sortedQuantile(a: ArrayLike<number>, q: number): number {
  if (!a.length) return NaN;
  const pos = (a.length - 1) * Math.min(1, Math.max(0, q));
  const lo = Math.floor(pos), hi = Math.ceil(pos);
  return a[lo] + (a[hi] - a[lo]) * (pos - lo);
}

/** One stretch of a series beyond a bound (see episodesBeyond). */
export interface SeriesEpisode { start: number; end: number; startIndex: number; endIndex: number; peak: { step: number; value: number }; points: number; recovered: boolean }

/**
 * Scan the whole series for stretches where the trailing rolling median of `k` points is beyond `bound` (above for
 * dir = 1, below for dir = −1). A stretch starts at the first raw point beyond the bound inside the rolling window that
 * first crossed it (the median lags by ~k/2) and ends at the last raw point beyond the bound before the median came
 * back; stretches closer than `k` points are merged; stretches shorter than `minPoints` points are dropped. `recovered`
 * is false for a stretch whose rolling median is still beyond the bound at the last point. NaN points are skipped.
 */
export function episodesBeyond(s: Series, bound: number, k: number, dir: 1 | -1 = 1, minPoints = k): SeriesEpisode[] {
  const p = finitePoints(s);
  const v = p.values, n = v.length;
  k = Math.max(1, Math.floor(k));
  if (n < k) return [];
  const roll = rollingMedian(v, k);
  const beyond = (x: number) => dir * (x - bound) > 0;
  const runs: { a: number; b: number; open: boolean }[] = [];
  for (let i = k - 1; i < n; i++) {
    if (!beyond(roll[i])) continue;
    let a = i;
    for (let j = Math.max(0, i - k + 1); j <= i; j++) if (beyond(v[j])) { a = j; break; }
    let b = i;
    while (b + 1 < n && beyond(roll[b + 1])) b++;
    const open = b === n - 1;
    let e = b;
    if (!open) while (e > a && !beyond(v[e])) e--;
    const prev = runs[runs.length - 1];
    if (prev && a - prev.b <= k) { prev.b = open ? b : e; prev.open = open; } else runs.push({ a, b: open ? b : e, open });
    i = b;
  }
  return runs.filter((r) => r.b - r.a + 1 >= minPoints).map((r) => {
    let pk = r.a;
    for (let j = r.a; j <= r.b; j++) if (dir * (v[j] - v[pk]) > 0) pk = j;
    return { start: p.steps[r.a], end: p.steps[r.b], startIndex: r.a, endIndex: r.b, peak: { step: p.steps[pk], value: v[pk] }, points: r.b - r.a + 1, recovered: !r.open };
  });
}
