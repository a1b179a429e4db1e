/**
 * The dashboard's charts of a run with many points, computed on the host (issue 18): the run's series stay here (a
 * SeriesStore kept up to date by the follower's polls), the page asks for what it draws at its x-range and plot width
 * (`metrics/window`: per-pixel buckets, dashboardWindow.ts seriesView), for the hover values (`metrics/at`) and, to
 * export a panel, for whole series (`metrics/series`). Each series keeps its downsampling index, EMA and time-axis x,
 * brought up to date with only the points appended since (a live record touches the last buckets only). No `vscode`.
 */
import type { MetricsAtRow, MetricsWindowParams, MetricsWindowPayload } from '../../../shared/protocol';
import { IncrementalEma, SeriesIndex, SeriesStore, nearestIndex, smoothingFor, type Series, type StoreColumns } from '../../../webview/data/series';
import { packViews, seriesView, type SeriesView } from '../../../webview/data/dashboardWindow';
import { seriesX, stepToX, type XMode } from '../../../webview/data/dashboardAxis';

interface PerSeries { ds: SeriesIndex; ema?: IncrementalEma; xs?: { mode: XMode; n: number; knots: number; startSec?: number; xs: Float64Array } }

export class MetricsSource {
  private readonly per = new Map<string, PerSeries>();
  constructor(readonly store: SeriesStore) {}

  /** points in all series */
  get points(): number { let n = 0; for (const s of this.store.series.values()) n += s.steps.length; return n; }

  private clock() { return { steps: this.store.clock.steps.view(), times: this.store.clock.times.view() }; }

  private of(s: Series): PerSeries {
    let p = this.per.get(s.name);
    if (!p) { p = { ds: new SeriesIndex() }; this.per.set(s.name, p); }
    p.ds.update(s.values.view());
    return p;
  }

  private xsOf(s: Series, p: PerSeries, mode: XMode, startSec: number | undefined): ArrayLike<number> {
    if (mode === 'step') return s.steps.view();
    const n = s.steps.length, knots = this.store.clock.steps.length, c = p.xs;
    if (c && c.mode === mode && c.n === n && c.knots === knots && c.startSec === startSec) return c.xs;
    const xs = seriesX(mode, s.steps.view(), this.clock(), startSec);
    p.xs = { mode, n, knots, startSec, xs };
    return xs;
  }

  private smoothed(s: Series, p: PerSeries, slider: number) {
    // eval and step-like series are drawn raw (series.ts smoothingFor, the page's rule too)
    const weight = smoothingFor(s, slider);
    if (!(weight > 0)) return undefined;
    if (!p.ema || p.ema.weight !== weight) p.ema = new IncrementalEma(weight);
    const values = p.ema.update(s.values.view());
    return { values, ...p.ema.state() };
  }

  /** The dashboard's full x-range in a mode (its fullDomain rule for one run). */
  fullDomain(mode: XMode, startSec: number | undefined): [number, number] {
    const st = this.store;
    if (!Number.isFinite(st.minStep)) return [0, 1];
    const a = stepToX(mode, st.minStep, this.clock(), startSec), b = stepToX(mode, st.maxStep, this.clock(), startSec);
    if (!Number.isFinite(a) || !Number.isFinite(b)) return [0, 1];
    return a === b ? [a - 1, b + 1] : [a, b];
  }

  /** Every series' view at the window (x-range default: all steps). */
  window(runDir: string, w: MetricsWindowParams): MetricsWindowPayload {
    const mode = checkMode(w.xMode);
    const pixels = Math.max(1, Math.min(8192, Math.floor(Number(w.pixels) || 0)));
    const smoothing = Math.min(0.99, Math.max(0, Number(w.smoothing) || 0));
    const startSec = typeof w.startSec === 'number' && Number.isFinite(w.startSec) ? w.startSec : undefined;
    const [d0, d1] = this.fullDomain(mode, startSec);
    const x0 = typeof w.x0 === 'number' && Number.isFinite(w.x0) ? w.x0 : d0, x1 = typeof w.x1 === 'number' && Number.isFinite(w.x1) ? w.x1 : d1;
    const names: string[] = [], views: SeriesView[] = [];
    for (const s of this.store.series.values()) {
      if (!s.steps.length) continue;
      const p = this.of(s);
      names.push(s.name);
      views.push(seriesView(this.xsOf(s, p, mode, startSec), s.steps.view(), s.values.view(), this.smoothed(s, p, smoothing), p.ds, x0, x1, pixels));
    }
    const data = packViews(views);
    return { runDir, names, x0, x1, pixels, smoothing, xMode: mode, data: data.buffer as ArrayBuffer };
  }

  /** The point of each named series nearest to x (the hover box): its step, x and value (smoothed when smoothing > 0). */
  at(x: number, names: string[], smoothing: number, xMode: XMode, startSec: number | undefined): MetricsAtRow[] {
    const mode = checkMode(xMode);
    if (!Array.isArray(names)) throw new Error('names must be an array of metric names');
    const out: MetricsAtRow[] = [];
    for (const n of names) {
      const s = typeof n === 'string' ? this.store.series.get(n) : undefined;
      if (!s || !s.steps.length) continue;
      const p = this.of(s);
      const xs = this.xsOf(s, p, mode, typeof startSec === 'number' ? startSec : undefined);
      const i = nearestIndex(xs, Number(x));
      if (i < 0) continue;
      const sm = this.smoothed(s, p, Math.min(0.99, Math.max(0, Number(smoothing) || 0)));
      out.push({ name: n, step: s.steps.get(i), x: xs[i], value: sm ? sm.values[i] : s.values.get(i) });
    }
    return out;
  }

  /** The named series whole, as columns (CSV export); the clock too. */
  series(names: string[]): StoreColumns {
    if (!Array.isArray(names)) throw new Error('names must be an array of metric names');
    const sub = new SeriesStore();
    for (const n of names) { const s = typeof n === 'string' ? this.store.series.get(n) : undefined; if (s) sub.series.set(n, s); }
    for (let i = 0; i < this.store.clock.steps.length; i++) { sub.clock.steps.push(this.store.clock.steps.get(i)); sub.clock.times.push(this.store.clock.times.get(i)); }
    sub.appended = this.store.appended;
    return sub.toColumns();
  }
}

function checkMode(m: unknown): XMode {
  if (m !== 'step' && m !== 'relative' && m !== 'wall') throw new Error(`xMode must be step, relative or wall, got ${JSON.stringify(m)}`);
  return m;
}
