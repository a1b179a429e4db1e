/**
 * What a dashboard chart draws of one series in an x-range at a pixel width (issue 18), computed apart from drawing.
 * The page computes it from the series it holds (a run with few points), or the host computes it for every series of
 * a run with many points and sends only that (`metrics/window`: per-pixel buckets, first / min / max / last, never
 * every point); zoom, pan, a resize or another smoothing ask for a new window. Both sides call `seriesView`, so a
 * chart looks the same whichever computed it. Pure (no DOM).
 */
import { SeriesIndex, indexRange } from './series';

/** One series in view. */
export interface SeriesView {
  /** the line's points: x in axis units, y raw (no smoothing) or smoothed; per-pixel buckets when the series is long */
  x: ArrayLike<number>; y: ArrayLike<number>;
  /** smoothing > 0: the raw values' min/max band per bucket (empty otherwise) */
  envX: ArrayLike<number>; envLo: ArrayLike<number>; envHi: ArrayLike<number>;
  /** min / max of the finite raw values with x in [x0, x1] (Infinity / −Infinity: none) */
  lo: number; hi: number;
  /** min / max of the positive finite raw values with x in [x0, x1] (a log scale's extent) */
  posLo: number; posHi: number;
  /** points in the whole series, its last step, the EMA state after its last point (IncrementalEma.state) */
  n: number; lastStep: number; emaLast: number; emaCount: number;
}

/**
 * The view of one series (xs: x of each point, ascending; raw values; smoothed values when smoothing is on, with the
 * EMA state after the last point) in [x0, x1] on `pixels` pixels: the same points the chart drew before (SeriesIndex
 * decimate / decimateLast / envelope over the index range widened by one point each side), the extents of the points
 * inside [x0, x1]. `ds` must be up to date with `raw`.
 */
export function seriesView(xs: ArrayLike<number>, steps: ArrayLike<number>, raw: ArrayLike<number>, smoothed: { values: ArrayLike<number>; last: number; count: number } | undefined, ds: SeriesIndex, x0: number, x1: number, pixels: number): SeriesView {
  const n = raw.length;
  const [i0, i1] = indexRange(xs, x0, x1);
  // the points inside [x0, x1] (indexRange widens by one each side for the lines)
  const a = i0 + (xs[i0] < x0 ? 1 : 0), b = i1 - (xs[i1] > x1 ? 1 : 0);
  // the positive values' range (a log axis): the largest is the max when positive
  const [lo, hi, pl] = ds.extents(raw, a, b);
  const posLo = lo <= hi && hi > 0 ? pl : Infinity, posHi = lo <= hi && hi > 0 ? hi : -Infinity;
  const px = Math.max(1, pixels);
  const pick = (idx: number[], from: ArrayLike<number>) => { const x = new Float64Array(idx.length), y = new Float64Array(idx.length); idx.forEach((i, k) => { x[k] = xs[i]; y[k] = from[i]; }); return { x, y }; };
  let line: { x: Float64Array; y: Float64Array };
  let env = { x: [] as number[], lo: [] as number[], hi: [] as number[] };
  if (smoothed) {
    env = ds.envelope(xs, raw, i0, i1, px);
    line = pick(ds.decimateLast(i0, i1, px), smoothed.values);
  } else line = pick(ds.decimate(i0, i1, px), raw);
  return {
    x: line.x, y: line.y, envX: Float64Array.from(env.x), envLo: Float64Array.from(env.lo), envHi: Float64Array.from(env.hi),
    lo, hi, posLo, posHi, n, lastStep: n ? steps[n - 1] : NaN, emaLast: smoothed?.last ?? 0, emaCount: smoothed?.count ?? 0,
  };
}

/** A log scale's y extent from the positive values' min / max (dashboardAxis.ts logExtent's rule). */
export function logExtentOf(lo: number, hi: number): [number, number] | undefined {
  if (lo === Infinity || !(lo > 0)) return undefined;
  if (lo === hi) return [lo / 2, hi * 2];
  return [lo / 1.1, hi * 1.1];
}

const STATS = 10;

/** Views of several series as one Float64 buffer (the `metrics/window` answer's `data`): per series 10 numbers
 *  (n, line points, band points, lo, hi, posLo, posHi, lastStep, emaLast, emaCount), then each series' x, y, band x,
 *  band lo, band hi. Infinity and NaN survive (binary, not JSON). */
export function packViews(views: SeriesView[]): Float64Array {
  let total = views.length * STATS;
  for (const v of views) total += 2 * v.x.length + 3 * v.envX.length;
  const out = new Float64Array(total);
  let o = views.length * STATS;
  views.forEach((v, k) => {
    out.set([v.n, v.x.length, v.envX.length, v.lo, v.hi, v.posLo, v.posHi, v.lastStep, v.emaLast, v.emaCount], k * STATS);
    for (const a of [v.x, v.y, v.envX, v.envLo, v.envHi]) { out.set(a, o); o += a.length; }
  });
  return out;
}

/** packViews' inverse (views into `data`, no copies). */
export function unpackViews(data: Float64Array, count: number): SeriesView[] {
  const out: SeriesView[] = [];
  let o = count * STATS;
  for (let k = 0; k < count; k++) {
    const [n, line, env, lo, hi, posLo, posHi, lastStep, emaLast, emaCount] = data.subarray(k * STATS, k * STATS + STATS);
    const take = (len: number) => { const a = data.subarray(o, o + len); o += len; return a; };
    const x = take(line), y = take(line), envX = take(env), envLo = take(env), envHi = take(env);
    out.push({ x, y, envX, envLo, envHi, lo, hi, posLo, posHi, n, lastStep, emaLast, emaCount });
  }
  return out;
}
