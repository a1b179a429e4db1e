/**
 * Dashboard data: metric grouping, append-only series store, smoothing, decimation, nearest step. Pure (no DOM).
 */

export interface PanelGroup { id: string; title: string; test: (name: string) => boolean }

/** Panel order and membership (first match wins). Names follow TRL / verl namespacing (docs/metrics.md). */
export const PANEL_GROUPS: PanelGroup[] = [
  { id: 'reward', title: 'Reward and its parts', test: (n) => /^(reward|rewards|score|critic\/(score|rewards))\b/.test(n) || /reward/.test(n) && !/loss/.test(n) },
  { id: 'kl', title: 'KL and β', test: (n) => /(^|\/)kl|kl_|beta|kl_coef/.test(n) },
  { id: 'entropy', title: 'Entropy', test: (n) => /entropy/.test(n) },
  { id: 'lengths', title: 'Lengths', test: (n) => /length/.test(n) },
  { id: 'clipping', title: 'Clipping (low / high)', test: (n) => /clip/.test(n) },
  { id: 'losses', title: 'Losses', test: (n) => /loss/.test(n) },
  { id: 'optim', title: 'Grad norm and lr', test: (n) => /grad|(^|\/)lr$|learning_rate/.test(n) },
  { id: 'throughput', title: 'Throughput', test: (n) => /throughput|tokens?_per|per_s|tok\/s|(^|\/)time|perf\//.test(n) },
  { id: 'eval', title: 'Eval pass@1 / pass@k', test: (n) => /^eval\/|pass@/.test(n) },
  { id: 'other', title: 'Other', test: () => true },
];

export function panelOf(name: string): string {
  // eval first so eval/reward lands in eval
  if (PANEL_GROUPS[8].test(name)) return 'eval';
  return PANEL_GROUPS.find((g) => g.test(name))!.id;
}

/** Group metric names into panels, in PANEL_GROUPS order, names sorted inside a panel. */
export function groupMetricNames(names: Iterable<string>): { id: string; title: string; names: string[] }[] {
  const by = new Map<string, string[]>();
  for (const n of names) { const p = panelOf(n); (by.get(p) ?? by.set(p, []).get(p)!).push(n); }
  return PANEL_GROUPS.filter((g) => by.has(g.id)).map((g) => ({ id: g.id, title: g.title, names: by.get(g.id)!.sort() }));
}

export { Column, SeriesStore, type Series, type StoreColumns } from '../../shared/seriesStore';
import { Column } from '../../shared/seriesStore';


/** An integer series taking at most this many distinct values is step-like (drawn raw; see `smoothingFor`). */
export const STEP_LIKE_MAX_LEVELS = 16;

/** Is this an eval series (the eval split: `eval/…`, or a pass@k)? Each point is its own measurement. */
export const isEvalSeries = (name: string): boolean => name.startsWith('eval/') || /pass@/.test(name);

const levelsOf = new WeakMap<object, { n: number; integer: boolean; levels: Set<number> }>();

/**
 * Are a series' finite values all integers, with at most STEP_LIKE_MAX_LEVELS distinct values (a count or a level:
 * a library size, an epoch, operations per step, a 0/1 flag)? Incremental per `key` (the series' values column):
 * only the points appended since the last call are read. No finite value: false.
 */
export function isStepLike(values: ArrayLike<number>, key: object = values as unknown as object): boolean {
  let st = levelsOf.get(key);
  if (!st || values.length < st.n) { st = { n: 0, integer: true, levels: new Set() }; levelsOf.set(key, st); }
  for (let i = st.n; i < values.length && st.integer; i++) {
    const v = values[i];
    if (!Number.isFinite(v)) continue;
    if (!Number.isInteger(v)) { st.integer = false; break; }
    if (st.levels.size <= STEP_LIKE_MAX_LEVELS) st.levels.add(v);
  }
  st.n = values.length;
  return st.integer && st.levels.size > 0 && st.levels.size <= STEP_LIKE_MAX_LEVELS;
}

/**
 * The smoothing weight a series is drawn with (docs/views.md "Dashboard"): the slider's `weight`, except 0 (drawn
 * raw, no band) for
 *   - eval series (isEvalSeries): few points far apart, each a measurement on fixed prompts; an EMA over them would
 *     mix evals many steps apart and start from a debiased first point;
 *   - step-like series (isStepLike): an EMA turns a count that steps 1 → 2 into 1.25, 1.6, … values it never takes.
 * Both sides (the page, the host's metrics/window and metrics/at) use this rule, so a chart and its hover agree.
 */
export function smoothingFor(s: { name: string; values: Column }, weight: number): number {
  if (!(weight > 0)) return 0;
  if (isEvalSeries(s.name)) return 0;
  return isStepLike(s.values.view(), s.values) ? 0 : weight;
}

/**
 * TensorBoard's debiased exponential moving average: s_n = w·s_{n−1} + (1 − w)·x_n, shown as s_n / (1 − w^n).
 * w = 0 returns the input. Non-finite inputs are passed through and do not update the average.
 */
export function emaSmooth(values: ArrayLike<number>, weight: number): Float64Array {
  const out = new Float64Array(values.length);
  let last = 0, n = 0;
  for (let i = 0; i < values.length; i++) {
    const x = values[i];
    if (!Number.isFinite(x) || weight <= 0) { out[i] = x; continue; }
    last = last * weight + (1 - weight) * x;
    n++;
    out[i] = last / (1 - Math.pow(weight, n));
  }
  return out;
}

/** Index of the point whose step is nearest to `step` (steps ascending); -1 if empty. */
export function nearestIndex(steps: ArrayLike<number>, step: number): number {
  const n = steps.length;
  if (!n) return -1;
  let lo = 0, hi = n - 1;
  while (lo < hi) { const mid = (lo + hi) >> 1; if (steps[mid] < step) lo = mid + 1; else hi = mid; }
  if (lo > 0 && Math.abs(steps[lo - 1] - step) <= Math.abs(steps[lo] - step)) return lo - 1;
  return lo;
}

/**
 * Min/max decimation for drawing: within [x0, x1], keep per pixel bucket the first, min, max and last point
 * (so spikes survive) — at most ~4 points per pixel. Returns indices, ascending.
 */
export function decimate(steps: ArrayLike<number>, values: ArrayLike<number>, x0: number, x1: number, pixels: number): number[] {
  const n = steps.length;
  const out: number[] = [];
  if (!n || !(x1 > x0)) { for (let i = 0; i < n; i++) if (steps[i] >= x0 && steps[i] <= x1) out.push(i); return out; }
  let i = Math.max(0, lowerBound(steps, x0) - 1);
  const end = Math.min(n - 1, lowerBound(steps, x1));
  if (end - i + 1 <= pixels * 4) { for (; i <= end; i++) out.push(i); return out; }
  const width = (x1 - x0) / pixels;
  while (i <= end) {
    const b = Math.floor((steps[i] - x0) / width);
    let first = i, mn = i, mx = i, last = i;
    while (i <= end && Math.floor((steps[i] - x0) / width) === b) {
      if (values[i] < values[mn]) mn = i;
      if (values[i] > values[mx]) mx = i;
      last = i; i++;
    }
    for (const k of [...new Set([first, mn, mx, last])].sort((a, c) => a - c)) out.push(k);
  }
  return out;
}

/**
 * Min/max envelope per pixel bucket within [x0, x1] (drawn as a filled band behind a smoothed line: one polygon
 * instead of thousands of stroked segments). Buckets with no finite value are skipped.
 */
export function envelope(steps: ArrayLike<number>, values: ArrayLike<number>, x0: number, x1: number, pixels: number): { x: number[]; lo: number[]; hi: number[] } {
  const out = { x: [] as number[], lo: [] as number[], hi: [] as number[] };
  const n = steps.length;
  if (!n || !(x1 > x0) || pixels < 1) return out;
  const width = (x1 - x0) / pixels;
  let i = Math.max(0, lowerBound(steps, x0) - 1);
  const end = Math.min(n - 1, lowerBound(steps, x1));
  while (i <= end) {
    const b = Math.floor((steps[i] - x0) / width);
    let lo = Infinity, hi = -Infinity, sx = 0, c = 0;
    while (i <= end && Math.floor((steps[i] - x0) / width) === b) {
      const v = values[i];
      if (Number.isFinite(v)) { if (v < lo) lo = v; if (v > hi) hi = v; sx += steps[i]; c++; }
      i++;
    }
    if (c) { out.x.push(sx / c); out.lo.push(lo); out.hi.push(hi); }
  }
  return out;
}

/** One point per pixel bucket (the last one), for lines that are already smooth; first/last in view kept. */
export function decimateLast(steps: ArrayLike<number>, x0: number, x1: number, pixels: number): number[] {
  const n = steps.length, out: number[] = [];
  if (!n) return out;
  let i = Math.max(0, lowerBound(steps, x0) - 1);
  const end = Math.min(n - 1, lowerBound(steps, x1));
  if (!(x1 > x0) || end - i + 1 <= pixels) { for (; i <= end; i++) out.push(i); return out; }
  const width = (x1 - x0) / pixels;
  out.push(i);
  let bucket = Math.floor((steps[i] - x0) / width);
  for (i++; i <= end; i++) {
    const b = Math.floor((steps[i] - x0) / width);
    if (b !== bucket) { if (out[out.length - 1] !== i - 1) out.push(i - 1); bucket = b; }
  }
  if (out[out.length - 1] !== end) out.push(end);
  return out;
}


function lowerBound(a: ArrayLike<number>, x: number): number {
  let lo = 0, hi = a.length;
  while (lo < hi) { const m = (lo + hi) >> 1; if (a[m] < x) lo = m + 1; else hi = m; }
  return lo;
}

/** y-extent of the visible points of several series (finite only), padded 5 %; [0, 1] if none. */
export function yExtent(parts: { steps: ArrayLike<number>; values: ArrayLike<number> }[], x0: number, x1: number): [number, number] {
  let lo = Infinity, hi = -Infinity;
  for (const p of parts) for (let i = 0; i < p.steps.length; i++) {
    const s = p.steps[i];
    if (s < x0 || s > x1) continue;
    const v = p.values[i];
    if (Number.isFinite(v)) { if (v < lo) lo = v; if (v > hi) hi = v; }
  }
  return padExtent(lo, hi);
}

/** yExtent's rule for a raw [lo, hi]: [0, 1] when empty, a flat line widened by 10 %, else padded 5 %. */
export function padExtent(lo: number, hi: number): [number, number] {
  if (lo === Infinity) return [0, 1];
  if (lo === hi) { const d = Math.abs(lo) * 0.1 || 1; return [lo - d, hi + d]; }
  const pad = (hi - lo) * 0.05;
  return [lo - pad, hi + pad];
}

/** Nearest step that has rollouts (dashboard click-through); undefined if none. */
export function nearestRolloutStep(rolloutSteps: number[], step: number): number | undefined {
  if (!rolloutSteps.length) return undefined;
  return rolloutSteps[nearestIndex(rolloutSteps, step)];
}

/**
 * Which series of a panel go on a right-hand axis: those whose largest |value| in view is below 1/`ratio` of the
 * panel's largest (e.g. lr ≈ 1e-4 next to grad norm ≈ 1). Returns their names (empty: one axis suffices).
 */
export function splitAxes(byName: Map<string, { steps: ArrayLike<number>; values: ArrayLike<number> }[]>, x0: number, x1: number, ratio = 20): Set<string> {
  const mag = new Map<string, number>();
  for (const [n, parts] of byName) {
    let m = 0;
    for (const p of parts) for (let i = 0; i < p.steps.length; i++) if (p.steps[i] >= x0 && p.steps[i] <= x1 && Number.isFinite(p.values[i])) m = Math.max(m, Math.abs(p.values[i]));
    mag.set(n, m);
  }
  return splitByMagnitude(mag, ratio);
}

/** splitAxes' rule on the largest |value| in view of each series. */
export function splitByMagnitude(mag: Map<string, number>, ratio = 20): Set<string> {
  const top = Math.max(0, ...mag.values());
  const right = new Set<string>();
  if (!(top > 0)) return right;
  for (const [n, m] of mag) if (m * ratio < top) right.add(n);
  return right.size === mag.size ? new Set() : right;
}

/**
 * Incremental per-pixel downsampling of one series (issue 18): min / max (with their indices) over aligned blocks of
 * 2^k consecutive points. A level is built only when a draw first needs it, in one pass over the points (O(n), n/2^k
 * blocks): the first view of a long series costs one scan and the memory of the few levels it uses, not every level
 * of every series. `update` takes in the points appended since the last call and touches only the last block of each
 * level built so far (O(levels) per point), so a live record never re-scans the series; a draw asks for the blocks of
 * the level at which the points in view make about one block per pixel (O(pixels), not O(points)) and draws first /
 * min / max / last of each, so spikes survive as with `decimate`. Non-finite values are skipped. Of equal extremes in
 * a block, the first is kept.
 */
export class SeriesIndex {
  /** levels[k - 1] = [min, max, minIdx, maxIdx] per block of 2^k points, or undefined until a draw needs level k */
  private levels: (Level | undefined)[] = [];
  /** the points as of the last update (a view: levels are built from it on demand) */
  private src: ArrayLike<number> = [];
  /** points taken in so far */
  n = 0;

  /** Take in values[n .. values.length) (the points appended since the last call). */
  update(values: ArrayLike<number>): void {
    const end = values.length;
    this.src = values;
    if (end < this.n) { this.levels = []; this.n = 0; } // the series was replaced: start again
    if (end === this.n) return;
    // many new points: the built levels are dropped and rebuilt in one pass when next needed
    if (end - this.n > 4096) { this.levels = []; this.n = end; return; }
    for (let k = 1; k <= this.levels.length; k++) {
      let L = this.levels[k - 1];
      if (!L) continue;
      for (let i = this.n; i < end; i++) {
        const v = values[i];
        if (!Number.isFinite(v)) continue;
        const b = i >> k;
        if (b >= L.min.length) L = this.levels[k - 1] = grow(L, b + 1);
        if (v < L.min[b]) { L.min[b] = v; L.minAt[b] = i; }
        if (v > L.max[b]) { L.max[b] = v; L.maxAt[b] = i; }
        if (v > 0 && v < L.pmin[b]) L.pmin[b] = v;
      }
    }
    this.n = end;
  }

  /** The deepest level the points need (blocks of 2^top hold them all). */
  private get top(): number { return Math.max(1, Math.ceil(Math.log2(Math.max(2, this.n)))); }

  /** Level k (blocks of 2^k points), built now from the points in one pass if no draw needed it before. */
  private level(k: number): Level {
    const have = this.levels[k - 1];
    if (have) return have;
    const end = this.n, values = this.src;
    const blocks = Math.max(16, ((end - 1) >> k) + 1);
    const L = newLevel(blocks);
    const { min, max, minAt, maxAt, pmin } = L;
    // from the nearest finer level already built (its blocks in order: the first of equal extremes is kept), else the points
    let f = k - 1;
    while (f >= 1 && !this.levels[f - 1]) f--;
    if (f >= 1) {
      const P = this.levels[f - 1]!, sh = k - f, pn = Math.min(P.min.length, ((end - 1) >> f) + 1);
      for (let c = 0; c < pn; c++) {
        const b = c >> sh;
        if (P.min[c] < min[b]) { min[b] = P.min[c]; minAt[b] = P.minAt[c]; }
        if (P.max[c] > max[b]) { max[b] = P.max[c]; maxAt[b] = P.maxAt[c]; }
        if (P.pmin[c] < pmin[b]) pmin[b] = P.pmin[c];
      }
    } else blocksOf(asF64(values, end), 0, end, k, L);
    while (this.levels.length < k) this.levels.push(undefined);
    this.levels[k - 1] = L;
    return L;
  }

  /** Level k's blocks b0..b1 (as L.x[b - base]): the level when built or when the blocks cover much of the series (it
   *  is built then), else computed from just their points and not kept (a zoomed-in view costs the points in view). */
  private blocks(k: number, b0: number, b1: number): { L: Level; base: number } {
    const have = this.levels[k - 1];
    if (have || (b1 - b0 + 1) * 2 ** k * 8 >= this.n) return { L: have ?? this.level(k), base: 0 };
    const L = newLevel(b1 - b0 + 1), start = b0 * 2 ** k, end = Math.min(this.n, (b1 + 1) * 2 ** k);
    blocksOf(asF64(this.src, end), start, end, k, L);
    return { L, base: b0 };
  }

  /** The smallest level whose blocks hold at least `per` points (0 = single points). */
  private levelFor(per: number): number {
    let k = 0;
    const top = this.top;
    while (k < top && 2 ** k < per) k++;
    return k;
  }

  /** min / max of the finite values among indices [i0, i1] (inclusive); [Infinity, -Infinity] when none: the points
   *  at the edges, whole blocks in between, at a level that makes about 256 blocks of the range. */
  extent(values: ArrayLike<number>, i0: number, i1: number): [number, number] {
    const e = this.extents(values, i0, i1);
    return [e[0], e[1]];
  }

  /** extent's min and max, and the smallest positive finite value among indices [i0, i1] (Infinity when none). */
  extents(values: ArrayLike<number>, i0: number, i1: number): [lo: number, hi: number, posLo: number] {
    let lo = Infinity, hi = -Infinity, pl = Infinity;
    const a = Math.max(0, i0), end = Math.min(i1, this.n - 1);
    if (end < a) return [lo, hi, pl];
    const k = this.levelFor((end - a + 1) / 256), size = 2 ** k;
    const scan = (from: number, to: number) => { for (let i = from; i <= to; i++) { const v = values[i]; if (Number.isFinite(v)) { if (v < lo) lo = v; if (v > hi) hi = v; if (v > 0 && v < pl) pl = v; } } };
    const b0 = Math.ceil(a / size), b1 = Math.floor((end + 1) / size) - 1; // whole blocks inside [a, end]
    if (k === 0 || b1 < b0) { scan(a, end); return [lo, hi, pl]; }
    const { L, base } = this.blocks(k, b0, b1);
    scan(a, b0 * size - 1);
    for (let b = b0 - base; b <= b1 - base; b++) { if (L.min[b] < lo) lo = L.min[b]; if (L.max[b] > hi) hi = L.max[b]; if (L.pmin[b] < pl) pl = L.pmin[b]; }
    scan((b1 + 1) * size, end);
    return [lo, hi, pl];
  }

  /**
   * Indices to draw for points [i0, i1] on `pixels` pixels: all of them when few, else first / min / max / last of each
   * block at the level that gives about one block per pixel. Ascending.
   */
  decimate(i0: number, i1: number, pixels: number): number[] {
    const out: number[] = [];
    i0 = Math.max(0, i0); i1 = Math.min(i1, this.n - 1);
    if (i1 < i0) return out;
    const k = this.levelFor((i1 - i0 + 1) / Math.max(1, pixels));
    if (k === 0) { for (let i = i0; i <= i1; i++) out.push(i); return out; }
    const size = 2 ** k, { L, base } = this.blocks(k, i0 >> k, i1 >> k);
    for (let b = i0 >> k; b <= i1 >> k; b++) {
      const first = Math.max(i0, b * size), last = Math.min(i1, (b + 1) * size - 1);
      const inner = first === b * size && last === (b + 1) * size - 1;
      const a = inner ? L.minAt[b - base] : -1, c = inner ? L.maxAt[b - base] : -1;
      const pts = [first, ...(a >= 0 ? [a] : []), ...(c >= 0 ? [c] : []), last].sort((x, y) => x - y);
      for (const p of pts) if (out[out.length - 1] !== p) out.push(p);
    }
    return out;
  }

  /** The last index of each block (about one point per pixel) for lines that are already smooth; first and last kept. */
  decimateLast(i0: number, i1: number, pixels: number): number[] {
    const out: number[] = [];
    i0 = Math.max(0, i0); i1 = Math.min(i1, this.n - 1);
    if (i1 < i0) return out;
    const k = this.levelFor((i1 - i0 + 1) / Math.max(1, pixels));
    if (k === 0) { for (let i = i0; i <= i1; i++) out.push(i); return out; }
    out.push(i0);
    const size = 2 ** k;
    for (let b = i0 >> k; b <= i1 >> k; b++) { const last = Math.min(i1, (b + 1) * size - 1); if (out[out.length - 1] !== last) out.push(last); }
    return out;
  }

  /** Min/max band per block (as `envelope`): x = the middle of the block's first and last x. */
  envelope(xs: ArrayLike<number>, values: ArrayLike<number>, i0: number, i1: number, pixels: number): { x: number[]; lo: number[]; hi: number[] } {
    const out = { x: [] as number[], lo: [] as number[], hi: [] as number[] };
    i0 = Math.max(0, i0); i1 = Math.min(i1, this.n - 1);
    if (i1 < i0) return out;
    const k = this.levelFor((i1 - i0 + 1) / Math.max(1, pixels));
    const size = 2 ** k, { L, base } = k > 0 ? this.blocks(k, i0 >> k, i1 >> k) : { L: undefined, base: 0 };
    for (let b = i0 >> k; b <= i1 >> k; b++) {
      const first = Math.max(i0, b * size), last = Math.min(i1, (b + 1) * size - 1);
      const [lo, hi] = L && first === b * size && last === (b + 1) * size - 1 ? [L.min[b - base], L.max[b - base]] : this.extent(values, first, last);
      if (lo <= hi) { out.x.push((xs[first] + xs[last]) / 2); out.lo.push(lo); out.hi.push(hi); }
    }
    return out;
  }
}

/** One level: per block of 2^k points, the min and max (and their indices) and the smallest positive value (log axes). */
interface Level { min: Float64Array; max: Float64Array; minAt: Int32Array; maxAt: Int32Array; pmin: Float64Array }

/** The first `end` points as a Float64Array (the series' own when it is one). */
function asF64(values: ArrayLike<number>, end: number): Float64Array {
  return values instanceof Float64Array ? values : Float64Array.from({ length: end }, (_, i) => values[i]);
}

/** Level k's blocks of the points values[start .. end) (start a multiple of 2^k) into L from its index 0, in one pass;
 *  a block's first extreme kept. Typed arguments only: this loop runs over every point of every series of a big run
 *  when its first view is drawn. */
function blocksOf(values: Float64Array, start: number, end: number, k: number, L: Level): void {
  const { min, max, minAt, maxAt, pmin } = L, size = 1 << k;
  for (let b = 0, i = start; i < end; b++) {
    const stop = Math.min(end, i + size);
    let lo = Infinity, hi = -Infinity, la = -1, ha = -1, pl = Infinity;
    for (; i < stop; i++) {
      const v = values[i];
      if (v < lo) { lo = v; la = i; } // NaN compares false: skipped
      if (v > hi) { hi = v; ha = i; }
      if (v > 0 && v < pl) pl = v;
    }
    // ±Infinity are not finite: a block holding one is taken again, skipping them
    if (lo === -Infinity || hi === Infinity) { lo = pl = Infinity; hi = -Infinity; la = ha = -1; for (let j = start + b * size; j < stop; j++) { const v = values[j]; if (Number.isFinite(v)) { if (v < lo) { lo = v; la = j; } if (v > hi) { hi = v; ha = j; } if (v > 0 && v < pl) pl = v; } } }
    min[b] = lo; max[b] = hi; minAt[b] = la; maxAt[b] = ha; pmin[b] = pl;
  }
}

function grow(L: Level, need: number): Level {
  const cap = Math.max(need, L.min.length * 2);
  const G = newLevel(cap);
  G.min.set(L.min); G.max.set(L.max); G.minAt.set(L.minAt); G.maxAt.set(L.maxAt); G.pmin.set(L.pmin);
  return G;
}

function newLevel(blocks: number): Level {
  return { min: new Float64Array(blocks).fill(Infinity), max: new Float64Array(blocks).fill(-Infinity), minAt: new Int32Array(blocks).fill(-1), maxAt: new Int32Array(blocks).fill(-1), pmin: new Float64Array(blocks).fill(Infinity) };
}

/** Index range [i0, i1] of the points whose x lies in [x0, x1], widened by one point each side (lines run to the edge). */
export function indexRange(xs: ArrayLike<number>, x0: number, x1: number): [number, number] {
  return [Math.max(0, lowerBound(xs, x0) - 1), Math.min(xs.length - 1, lowerBound(xs, x1))];
}

/** EMA smoothing (emaSmooth's rule) kept up to date as points are appended: only new points are computed. */
export class IncrementalEma {
  private out = new Float64Array(0);
  private n = 0;
  private last = 0;
  private count = 0;
  constructor(readonly weight: number) {}
  /** Smoothed values of values[0 .. length). */
  update(values: ArrayLike<number>): Float64Array {
    const end = values.length;
    if (end < this.n) { this.n = 0; this.last = 0; this.count = 0; }
    if (end > this.out.length) { const o = new Float64Array(Math.max(end, this.out.length * 2)); o.set(this.out.subarray(0, this.n)); this.out = o; }
    const w = this.weight;
    // past `flat` points w^n < 2^-60: 1 − w^n is exactly 1 in float64, the debiasing a no-op (no Math.pow per point)
    const flat = w > 0 && w < 1 ? Math.ceil((60 * Math.LN2) / -Math.log(w)) : Infinity;
    for (let i = this.n; i < end; i++) {
      const x = values[i];
      if (!Number.isFinite(x) || w <= 0) { this.out[i] = x; continue; }
      this.last = this.last * w + (1 - w) * x;
      this.count++;
      this.out[i] = this.count < flat ? this.last / (1 - Math.pow(w, this.count)) : this.last;
    }
    this.n = end;
    return this.out.subarray(0, end);
  }
  /** The running average after the last point taken in (its value there is last / (1 − weight^count)): a page
   *  continues the line from it over points appended after a host-computed window (dashboardWindow.ts). */
  state(): { last: number; count: number } { return { last: this.last, count: this.count }; }
}
