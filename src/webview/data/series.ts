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
    if (this.length === this.buf.length) { const nb = new Float64Array(this.buf.length * 2); nb.set(this.buf); this.buf = nb; }
    this.buf[this.length++] = v;
  }
  get(i: number): number { return this.buf[i]; }
  view(): Float64Array { return this.buf.subarray(0, this.length); }
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

  appendMetrics(records: MetricsRecord[]): void {
    for (const r of records) {
      const prefix = r.split === 'eval' ? 'eval/' : '';
      for (const [k, v] of Object.entries(r.values)) this.add(prefix && !k.startsWith('eval/') ? prefix + k : k, r.step, v);
      this.tick(r.step, r.time);
      this.appended++;
    }
  }

  appendEvals(records: EvalRecord[]): void {
    for (const e of records) {
      for (const [k, v] of Object.entries(e.passAtK)) this.add(`eval/pass@${k}`, e.step, v);
      // the same name the trainer writes to metrics.jsonl (its eval split), so one series, not two
      if (e.meanReward !== undefined) this.add('eval/reward/mean', e.step, e.meanReward);
      this.tick(e.step, e.time);
      this.appended++;
    }
  }
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
  const top = Math.max(0, ...mag.values());
  const right = new Set<string>();
  if (!(top > 0)) return right;
  for (const [n, m] of mag) if (m * ratio < top) right.add(n);
  return right.size === mag.size ? new Set() : right;
}
