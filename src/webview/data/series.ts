/**
 * Dashboard data: metric grouping, append-only series store, smoothing, decimation, nearest step. Pure (no DOM).
 */
import type { EvalRecord, MetricsRecord } from '../../shared/runFormat';

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

/** Growable numeric column (append only). */
export class Column {
  private buf: Float64Array;
  length = 0;
  constructor(cap = 256) { this.buf = new Float64Array(cap); }
  push(v: number): void {
    if (this.length === this.buf.length) { const nb = new Float64Array(Math.max(16, this.buf.length * 2)); nb.set(this.buf); this.buf = nb; }
    this.buf[this.length++] = v;
  }
  get(i: number): number { return this.buf[i]; }
  view(): Float64Array { return this.buf.subarray(0, this.length); }
  /** A column holding `values` (no copy: appends copy into a larger buffer first). */
  static of(values: Float64Array): Column {
    const c = new Column(1);
    c.buf = values; c.length = values.length;
    return c;
  }
}

/** A SeriesStore as columns (the host builds it, `metrics/columns`): one binary transfer instead of every record as
 *  JSON. Series whose steps equal an earlier series' share them (`stepsOf[k]` = that series, or -1: its own, in
 *  `steps` in order). */
export interface StoreColumns {
  names: string[];
  lengths: number[];
  stepsOf: number[];
  steps: Float64Array;
  values: Float64Array;
  /** clock knots: steps then times (clockLength each) */
  clock: Float64Array;
  clockLength: number;
  appended: number;
}

export interface Series { name: string; steps: Column; values: Column }

/** All series of one run; records are appended as they stream in (never replaced). */
export class SeriesStore {
  readonly series = new Map<string, Series>();
  maxStep = -Infinity;
  minStep = Infinity;
  /** number of records appended (for tests / streaming checks) */
  appended = 0;
  /** step → time knots from the records' `time` (seconds since run start): steps ascending, times non-decreasing
   *  (a record whose time went backwards is clamped to the last one), for the time x-axes (dashboardAxis.ts) */
  readonly clock = { steps: new Column(64), times: new Column(64) };

  private tick(step: number, time: number | undefined): void {
    if (typeof time !== 'number' || !Number.isFinite(time) || !Number.isFinite(step)) return;
    const n = this.clock.steps.length;
    if (n && step <= this.clock.steps.get(n - 1)) return;
    this.clock.steps.push(step);
    this.clock.times.push(n ? Math.max(time, this.clock.times.get(n - 1)) : time);
  }

  private col(name: string): Series {
    let s = this.series.get(name);
    if (!s) { s = { name, steps: new Column(), values: new Column() }; this.series.set(name, s); }
    return s;
  }

  private add(name: string, step: number, v: number | null | undefined): void {
    if (typeof v !== 'number' || !Number.isFinite(v)) return;
    const s = this.col(name);
    // keep steps ascending: a repeated or older step (a resumed run) replaces nothing; it is appended only if newer
    if (s.steps.length && step <= s.steps.get(s.steps.length - 1)) return;
    s.steps.push(step); s.values.push(v);
    if (step > this.maxStep) this.maxStep = step;
    if (step < this.minStep) this.minStep = step;
  }

  /** The store as columns (see StoreColumns). */
  toColumns(): StoreColumns {
    const names = [...this.series.keys()];
    const lengths: number[] = [], stepsOf: number[] = [];
    let own = 0, total = 0;
    const views = names.map((n) => this.series.get(n)!);
    views.forEach((s, k) => {
      lengths.push(s.steps.length); total += s.steps.length;
      const st = s.steps.view();
      let ref = -1;
      for (let j = k - 1; j >= 0 && j >= k - 8 && ref < 0; j--) if (stepsOf[j] === -1 && sameColumn(views[j].steps.view(), st)) ref = j;
      stepsOf.push(ref);
      if (ref < 0) own += s.steps.length;
    });
    const steps = new Float64Array(own), values = new Float64Array(total);
    let a = 0, b = 0;
    views.forEach((s, k) => { if (stepsOf[k] < 0) { steps.set(s.steps.view(), a); a += s.steps.length; } values.set(s.values.view(), b); b += s.values.length; });
    const n = this.clock.steps.length, clock = new Float64Array(2 * n);
    clock.set(this.clock.steps.view(), 0); clock.set(this.clock.times.view(), n);
    return { names, lengths, stepsOf, steps, values, clock, clockLength: n, appended: this.appended };
  }

  /** A store from columns (toColumns); later records are appended as usual. No copies: the series are views of the
   *  columns (a Column at capacity copies itself before it grows, so appending never writes into them). */
  static fromColumns(c: StoreColumns): SeriesStore {
    const st = new SeriesStore();
    const own: Float64Array[] = [];
    let a = 0, b = 0;
    c.names.forEach((name, k) => {
      const n = c.lengths[k];
      let steps: Float64Array;
      if (c.stepsOf[k] >= 0) steps = own[c.stepsOf[k]];
      else { steps = c.steps.subarray(a, a + n); a += n; }
      own[k] = steps;
      const values = c.values.subarray(b, b + n); b += n;
      st.series.set(name, { name, steps: Column.of(steps), values: Column.of(values) });
      if (n) { st.minStep = Math.min(st.minStep, steps[0]); st.maxStep = Math.max(st.maxStep, steps[n - 1]); }
    });
    for (let i = 0; i < c.clockLength; i++) { st.clock.steps.push(c.clock[i]); st.clock.times.push(c.clock[c.clockLength + i]); }
    st.appended = c.appended;
    return st;
  }

  appendMetrics(records: MetricsRecord[]): void {
    for (const r of records) {
      const ev = r.split === 'eval', vals = r.values as Record<string, number | null | undefined>;
      for (const k in vals) if (Object.prototype.hasOwnProperty.call(vals, k)) this.add(ev && !k.startsWith('eval/') ? 'eval/' + k : k, r.step, vals[k]);
      this.tick(r.step, r.time);
      this.appended++;
    }
  }

  appendEvals(records: EvalRecord[]): void {
    for (const e of records) {
      for (const [k, v] of Object.entries(e.passAtK)) this.add(`eval/pass@${k}`, e.step, v);
      // the same name the trainer writes to metrics.jsonl (its eval split), so one series, not two
      if (e.meanReward !== undefined) this.add('eval/reward/mean', e.step, e.meanReward);
      // a reference configuration's eval beside it (EvalRecord.baseline, e.g. tfgrpo "no_library"): the names its
      // trainer writes to the same eval line of metrics.jsonl
      const b = e.baseline;
      if (b && typeof b.name === 'string' && /^[A-Za-z0-9_]+$/.test(b.name) && b.passAtK && typeof b.passAtK === 'object') {
        for (const [k, v] of Object.entries(b.passAtK)) this.add(`eval/pass@${k}_${b.name}`, e.step, v);
        if (b.meanReward !== undefined) this.add(`eval/reward/mean_${b.name}`, e.step, b.meanReward);
      }
      this.tick(e.step, e.time);
      this.appended++;
    }
  }
}

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

function sameColumn(a: Float64Array, b: Float64Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
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
 * Incremental per-pixel downsampling of one series (issue 18): min / max (with their indices) over blocks of 2^k
 * consecutive points, for every k ≥ 1. `update` takes in the points appended since the last call and touches only the
 * last block of each level (O(log n) per point), so a live record never re-scans the series; a draw asks for the
 * blocks of the level at which the points in view make about two blocks per pixel (O(pixels), not O(points)) and
 * draws first / min / max / last of each, so spikes survive as with `decimate`. Non-finite values are skipped.
 */
export class SeriesIndex {
  /** levels[k - 1] = [min, max, minIdx, maxIdx] per block of 2^k points */
  private levels: { min: Float64Array; max: Float64Array; minAt: Int32Array; maxAt: Int32Array }[] = [];
  /** points taken in so far */
  n = 0;

  /** Take in values[n .. values.length) (the points appended since the last call). */
  update(values: ArrayLike<number>): void {
    const end = values.length;
    if (end < this.n) { this.levels = []; this.n = 0; } // the series was replaced: start again
    if (end === this.n) return;
    const K = Math.max(1, Math.ceil(Math.log2(Math.max(2, end))));
    if (end - this.n > 4096 || K > this.levels.length) { this.rebuild(values, end, K); return; }
    for (let i = this.n; i < end; i++) {
      const v = values[i];
      if (!Number.isFinite(v)) continue;
      for (let k = 1; k <= this.levels.length; k++) {
        const b = i >> k;
        let L = this.levels[k - 1];
        if (b >= L.min.length) L = this.levels[k - 1] = grow(L, b + 1);
        if (v < L.min[b]) { L.min[b] = v; L.minAt[b] = i; }
        if (v > L.max[b]) { L.max[b] = v; L.maxAt[b] = i; }
      }
    }
    this.n = end;
  }

  /** All levels bottom-up over values[0 .. end): level 1 from the points, each next one from pairs of blocks (O(end)). */
  private rebuild(values: ArrayLike<number>, end: number, K: number): void {
    this.levels = [];
    for (let k = 1; k <= K; k++) {
      const blocks = Math.max(16, ((end - 1) >> k) + 1);
      const L = { min: new Float64Array(blocks).fill(Infinity), max: new Float64Array(blocks).fill(-Infinity), minAt: new Int32Array(blocks).fill(-1), maxAt: new Int32Array(blocks).fill(-1) };
      if (k === 1) {
        for (let i = 0; i < end; i++) {
          const v = values[i], b = i >> 1;
          if (Number.isFinite(v)) { if (v < L.min[b]) { L.min[b] = v; L.minAt[b] = i; } if (v > L.max[b]) { L.max[b] = v; L.maxAt[b] = i; } }
        }
      } else {
        const P = this.levels[k - 2], pn = P.min.length;
        const pmin = P.min, pmax = P.max, pminAt = P.minAt, pmaxAt = P.maxAt, lmin = L.min, lmax = L.max, lminAt = L.minAt, lmaxAt = L.maxAt;
        for (let c = 0; c < pn; c++) { // children 2b and 2b + 1 in order: the first of equal extremes is kept
          const b = c >> 1;
          if (pmin[c] < lmin[b]) { lmin[b] = pmin[c]; lminAt[b] = pminAt[c]; }
          if (pmax[c] > lmax[b]) { lmax[b] = pmax[c]; lmaxAt[b] = pmaxAt[c]; }
        }
      }
      this.levels.push(L);
    }
    this.n = end;
  }

  /** The smallest level whose blocks hold at least `per` points (0 = single points). */
  private levelFor(per: number): number {
    let k = 0;
    while (k < this.levels.length && 2 ** k < per) k++;
    return k;
  }

  /** min / max of the finite values among indices [i0, i1] (inclusive); [Infinity, -Infinity] when none. */
  extent(values: ArrayLike<number>, i0: number, i1: number): [number, number] {
    let lo = Infinity, hi = -Infinity;
    let i = Math.max(0, i0);
    const end = Math.min(i1, this.n - 1);
    while (i <= end) {
      // the largest aligned block starting at i that fits in [i, end]
      let k = 0;
      while (k < this.levels.length && i % 2 ** (k + 1) === 0 && i + 2 ** (k + 1) - 1 <= end) k++;
      if (k === 0) { const v = values[i]; if (Number.isFinite(v)) { if (v < lo) lo = v; if (v > hi) hi = v; } i++; continue; }
      const L = this.levels[k - 1], b = i >> k;
      if (L.min[b] < lo) lo = L.min[b];
      if (L.max[b] > hi) hi = L.max[b];
      i += 2 ** k;
    }
    return [lo, hi];
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
    const L = this.levels[k - 1], size = 2 ** k;
    for (let b = i0 >> k; b <= i1 >> k; b++) {
      const first = Math.max(i0, b * size), last = Math.min(i1, (b + 1) * size - 1);
      const inner = first === b * size && last === (b + 1) * size - 1;
      const a = inner ? L.minAt[b] : -1, c = inner ? L.maxAt[b] : -1;
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
    const size = 2 ** k;
    for (let b = i0 >> k; b <= i1 >> k; b++) {
      const first = Math.max(i0, b * size), last = Math.min(i1, (b + 1) * size - 1);
      const [lo, hi] = k > 0 && first === b * size && last === (b + 1) * size - 1 ? [this.levels[k - 1].min[b], this.levels[k - 1].max[b]] : this.extent(values, first, last);
      if (lo <= hi) { out.x.push((xs[first] + xs[last]) / 2); out.lo.push(lo); out.hi.push(hi); }
    }
    return out;
  }
}

function grow(L: { min: Float64Array; max: Float64Array; minAt: Int32Array; maxAt: Int32Array }, need: number) {
  const cap = Math.max(need, L.min.length * 2);
  const min = new Float64Array(cap).fill(Infinity), max = new Float64Array(cap).fill(-Infinity), minAt = new Int32Array(cap).fill(-1), maxAt = new Int32Array(cap).fill(-1);
  min.set(L.min); max.set(L.max); minAt.set(L.minAt); maxAt.set(L.maxAt);
  return { min, max, minAt, maxAt };
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
