/**
 * Live dashboard: panels with one unit each (topic × unit, "other" by namespace: data/dashboardPanels.ts), lines on
 * canvas, axes and brush with d3 (SVG). Shared x zoom (brush; double-click resets), shared cursor with the values at
 * the cursor in a hover box ("name: value", the legend never reflows), click-through to the nearest step's rollouts,
 * several runs overlaid (dash pattern per run; a run picker in the toolbar asks the host for `runs/list`).
 * Legend: click hides a series, alt-click / double-click isolates it. Metric search (text terms or /regex/). x-axis:
 * step, relative time or wall time (data/dashboardAxis.ts). Per panel: log scale, CSV (pure data, dashboardExport.ts)
 * and PNG (the canvas plus axes drawn on a copy) saved by the host (`export/save`, a save dialog).
 * Streaming: `metrics/append` carries only new records (and the run's status); they are appended to the SeriesStore.
 * Metric names and run labels are untrusted: only ever set as textContent / attributes / canvas fillText.
 */
import { select, type Selection } from 'd3-selection';
import { scaleLinear, scaleLog, type ScaleContinuousNumeric } from 'd3-scale';
import { axisBottom, axisLeft, axisRight, type Axis } from 'd3-axis';
import type { NumberValue } from 'd3-scale';
import { brushX, type D3BrushEvent } from 'd3-brush';
import type { DashboardAnnotation, InitParams, MetricsAtRow, MetricsColumnsPayload, MetricsWindowInfo, MetricsWindowParams, RunRef, ViewTarget, WebviewState } from '../../shared/protocol';
import type { HostConnection } from '../rpc';
import { Column, SeriesStore, SeriesIndex, IncrementalEma, smoothingFor, padExtent, splitByMagnitude, nearestIndex, nearestRolloutStep, type Series } from '../data/series';
import { logExtentOf, seriesView, unpackViews, type SeriesView } from '../data/dashboardWindow';
import { dashboardPanels, filterPanels, isolate, metricFilter, seriesColors, toggleHidden, UNIT_LABEL, type Unit } from '../data/dashboardPanels';
import { X_LABEL, X_MODES, formatDuration, formatWall, seriesX, stepToX, xToStep, type XMode } from '../data/dashboardAxis';
import { exportFileName, panelCsv } from '../data/dashboardExport';
import { fmt } from '../data/scales';
import { fitCanvas, onThemeChange, readTheme, el, type Theme } from '../theme';
import { button, checkbox, select as selectControl, textfield } from '../controls';
import { annotationBands, bandsAt, focusDomain, type AnnotationBand } from '../data/annotations';

const DASH: number[][] = [[], [6, 4], [2, 3], [10, 3, 2, 3]];

type YScale = ScaleContinuousNumeric<number, number>;
interface RunData {
  run: RunRef; store: SeriesStore; rolloutSteps: number[]; index: number;
  /** run start, seconds since the epoch (wall-time axis); undefined when the manifest has none */
  startSec?: number;
  /** x of each series' points in a time mode (recomputed when the series or the clock grows) */
  xs: Map<string, { mode: XMode; n: number; knots: number; xs: Float64Array }>;
  /** per series: incremental per-pixel downsampling and EMA (data/series.ts), brought up to date at each draw */
  ds: Map<string, SeriesIndex>;
  ema: Map<string, IncrementalEma>;
  /** a run with many points (issue 18): the host keeps its series and sends what the charts draw (`metrics/window`);
   *  `store` then holds only the points appended since that window, its clock and step range */
  remote?: RemoteRun;
}
interface RemoteRun {
  /** the window drawn (undefined until one arrives for the current x-axis) */
  window?: { info: MetricsWindowInfo; views: Map<string, SeriesView> };
  /** the parameters of the window drawn or asked for (windowKey), and whether a request is out */
  key: string; inFlight: boolean;
  /** bumped by each `metrics/append`: the next draw asks for a fresh window */
  version: number;
  /** the window asked for at the last draw (sent when the request out comes back) */
  want?: MetricsWindowParams & { key: string };
}
interface Panel {
  id: string; title: string; unit: Unit;
  /** the names shown (after the metric filter); colours come from the unfiltered panel so they never change */
  names: string[]; colors: Map<string, string>;
  /** series drawn against the right axis (magnitudes far below the panel's largest, e.g. lr next to grad norm) */
  right: Set<string>; y: YScale; y2: YScale; log: boolean; logNote: string;
  root: HTMLElement; canvas: HTMLCanvasElement; cursor: HTMLCanvasElement; svg: Selection<SVGSVGElement, unknown, null, undefined>;
  legend: HTMLElement; items: Map<string, HTMLElement>; hover: HTMLElement; logBtn: HTMLButtonElement;
  /** doctor findings drawn on this chart (annotationBands), and the hover box naming them */
  bands: AnnotationBand[]; tip: HTMLElement;
  x: ReturnType<typeof scaleLinear<number, number>>; w: number; h: number;
}

const M = { l: 48, r: 44, t: 6, b: 32 };
/** How long a chart click waits for a second one (a double-click resets the zoom; a click opens that step's rollouts). */
const DOUBLE_CLICK_MS = 300;

export class DashboardView {
  private theme: Theme = readTheme();
  private runs: RunData[] = [];
  private panels: Panel[] = [];
  private smoothing = 0.6;
  private zoom: [number, number] | null = null;
  /** cursor position in x units (step or seconds) */
  private cursorX: number | null = null;
  private follow = true;
  private raf = 0;
  private grid!: HTMLElement;
  private status!: HTMLElement;
  private runsBox!: HTMLElement;
  private picker!: HTMLElement;
  private filterNote!: HTMLElement;
  private layoutKey = '';
  private hidden = new Set<string>();
  private filterText = '';
  private xMode: XMode = 'step';
  private readonly logPanels = new Set<string>();
  private message = '';
  /** doctor annotations per run folder (`doctor/annotations` replaces a run's list) */
  private readonly annotations = new Map<string, DashboardAnnotation[]>();
  /** the finding whose evidence this dashboard was opened for (its band is emphasised) */
  private focusFinding: string | undefined;
  readonly debug = { windows: 0, lastWindowMs: 0, firstRequestMs: 0, firstHostMs: 0, firstPaintMs: 0, lastDrawMs: 0, draws: 0, appended: 0, lastAppendMs: 0, pointsDrawn: 0, lastExport: undefined as undefined | { format: string; fileName: string; bytes: number; path?: string; error?: string } };

  constructor(private readonly host: HostConnection, private readonly root: HTMLElement) {
    this.build();
    onThemeChange(() => { this.theme = readTheme(); this.layoutKey = ''; this.renderRuns(); this.schedule(); });
    host.on('metrics/append', (p) => {
      const t0 = performance.now();
      const r = this.runs.find((x) => x.run.runDir === p.runDir);
      if (!r) return;
      r.store.appendMetrics(p.records); r.store.appendEvals(p.evals);
      if (r.remote && (p.records.length || p.evals.length)) r.remote.version++;
      if (p.status && p.status !== r.run.status) { r.run.status = p.status; this.renderRuns(); }
      this.debug.appended += p.records.length + p.evals.length;
      this.schedule();
      this.debug.lastAppendMs = performance.now() - t0;
    });
    host.on('rollout/stepAdded', (p) => { const r = this.runs.find((x) => x.run.runDir === p.runDir); if (r && !r.rolloutSteps.includes(p.step)) r.rolloutSteps.push(p.step); });
    host.on('runs/set', (p) => void this.setRuns(p.runs));
    host.on('doctor/annotations', (p) => { this.annotations.set(p.runDir, p.annotations); this.schedule(); });
    host.on('view/show', (t) => this.focus(t));
    new ResizeObserver(() => { this.layoutKey = ''; this.schedule(); }).observe(root);
  }

  private build(): void {
    const bar = el('div', { cls: 'toolbar', attrs: { role: 'toolbar' } });
    const range = el('input', { attrs: { type: 'range', min: '0', max: '0.99', step: '0.01', id: 'smoothing', 'aria-label': 'smoothing' } }) as HTMLInputElement;
    range.value = String(this.smoothing);
    const val = el('span', { cls: 'muted', text: this.smoothing.toFixed(2), attrs: { id: 'smoothing-value' } });
    range.addEventListener('input', () => { this.smoothing = Number(range.value); val.textContent = this.smoothing.toFixed(2); this.schedule(); this.save(); });
    this.runsBox = el('div', { cls: 'runs', attrs: { id: 'runs' } });
    this.status = el('div', { cls: 'status', attrs: { id: 'status', 'aria-live': 'polite' } });
    const search = textfield('metric-filter', 'filter metrics (words or /regex/)', this.filterText, (v) => { this.filterText = v; this.layoutKey = ''; this.schedule(); this.save(); });
    this.filterNote = el('span', { cls: 'muted', attrs: { id: 'metric-filter-note' } });
    const xSel = selectControl('x-axis', 'x-axis', X_MODES.map((m) => ({ value: m, label: `x: ${X_LABEL[m]}` })), this.xMode, (v) => this.setXMode(v as XMode));
    this.picker = el('div', { cls: 'run-picker', attrs: { id: 'run-picker', role: 'group', 'aria-label': 'runs to overlay' } });
    this.picker.hidden = true;
    const pick = button('pick-runs', 'Runs…', 'choose the runs to overlay', () => void this.togglePicker());
    bar.append(search, this.filterNote, el('label', { cls: 'ctl' }, el('span', { text: 'smoothing' }), range, val), xSel,
      button('reset-zoom', 'Reset zoom', 'show all steps (double-click a chart)', () => { this.zoom = null; this.schedule(); this.save(); }),
      checkbox('follow', 'follow live', this.follow, (v) => { this.follow = v; }), pick, this.runsBox);
    this.grid = el('div', { cls: 'panels', attrs: { id: 'panels' } });
    this.root.append(bar, this.picker, this.status, this.grid);
  }

  async init(p: InitParams): Promise<void> {
    const st = p.state;
    if (st?.smoothing !== undefined) { this.smoothing = st.smoothing; const r = this.root.querySelector<HTMLInputElement>('#smoothing'); if (r) r.value = String(st.smoothing); const v = this.root.querySelector('#smoothing-value'); if (v) v.textContent = st.smoothing.toFixed(2); }
    if (st?.zoom) this.zoom = st.zoom;
    if (Array.isArray(st?.hidden)) this.hidden = new Set(st.hidden.filter((n) => typeof n === 'string'));
    if (typeof st?.metricFilter === 'string') { this.filterText = st.metricFilter; const f = this.root.querySelector<HTMLElement & { value: string }>('#metric-filter'); if (f) f.value = st.metricFilter; }
    if (st?.xAxis && X_MODES.includes(st.xAxis)) { this.xMode = st.xAxis; const x = this.root.querySelector<HTMLElement & { value: string }>('#x-axis'); if (x) try { x.value = st.xAxis; } catch { /* not upgraded yet */ } }
    for (const id of st?.logPanels ?? []) if (typeof id === 'string') this.logPanels.add(id);
    await this.setRuns(p.runs);
    if (p.target) this.focus(p.target);
  }

  private setXMode(m: XMode): void {
    if (!X_MODES.includes(m) || m === this.xMode) return;
    this.xMode = m;
    this.zoom = null; // the zoom is in x units: it does not carry over
    this.cursorX = null;
    this.layoutKey = '';
    this.schedule(); this.save();
  }

  /** Show a doctor finding's evidence: zoom to its step range (when that narrows the view) and scroll to its curves. */
  focus(t: ViewTarget): void {
    if (t.finding !== undefined) this.focusFinding = t.finding;
    if (t.stepRange) {
      const r = this.runs.find((x) => x.run.runDir === t.runDir) ?? this.runs[0];
      const range: [number, number] = r ? [this.toX(r, t.stepRange[0]), this.toX(r, t.stepRange[1])] : t.stepRange;
      this.zoom = range.every(Number.isFinite) ? focusDomain(range, this.fullDomain()) : null;
      this.save();
    }
    this.drawNow();
    const want = new Set(t.metrics ?? []);
    const p = this.panels.find((q) => q.names.some((n) => want.has(n)));
    p?.root.scrollIntoView?.({ block: 'nearest' });
  }

  async setRuns(runs: RunRef[]): Promise<void> {
    const t0 = performance.now();
    const loaded: RunData[] = [];
    for (const [k, run] of runs.entries()) {
      const existing = this.runs.find((r) => r.run.runDir === run.runDir);
      if (existing) { existing.index = k; loaded.push(existing); continue; }
      let m: MetricsColumnsPayload;
      const started0 = Date.parse(run.startedAt ?? '');
      // the window of the first paint (a run with many points comes bucketed: only what the charts draw)
      const window: MetricsWindowParams = { pixels: this.plotWidth(), smoothing: this.smoothing, xMode: this.xMode, ...(this.zoom ? { x0: this.zoom[0], x1: this.zoom[1] } : {}), ...(Number.isFinite(started0) ? { startSec: started0 / 1000 } : {}) };
      const tr = performance.now();
      try { m = await this.host.request('metrics/columns', { runDir: run.runDir, window }); this.debug.firstRequestMs = performance.now() - tr; this.debug.firstHostMs = m.hostMs ?? 0; } catch (e) { this.message = `Could not read ${run.label}: ${(e as Error).message}`; continue; }
      const f64 = (b: ArrayBuffer | Float64Array) => (b instanceof Float64Array ? b : new Float64Array(b));
      const started = Date.parse(m.run.startedAt ?? run.startedAt ?? '');
      const startSec = Number.isFinite(started) ? started / 1000 : undefined;
      let store: SeriesStore, remote: RemoteRun | undefined;
      if (m.bucketed && m.windowData) {
        // no points: the series' names, clock and step range; the window's views; appended records go to `store`
        store = SeriesStore.fromColumns({ names: [], lengths: [], stepsOf: [], steps: new Float64Array(0), values: new Float64Array(0), clock: f64(m.clock), clockLength: m.clockLength, appended: m.appended });
        for (const name of m.names) store.series.set(name, { name, steps: new Column(16), values: new Column(16) });
        store.minStep = m.bucketed.minStep; store.maxStep = m.bucketed.maxStep;
        const info = m.bucketed.window;
        remote = { key: '', inFlight: false, version: 0 };
        remote.window = { info, views: viewsByName(info.names, f64(m.windowData)) };
        remote.key = windowKey({ x0: info.x0, x1: info.x1, pixels: info.pixels, smoothing: info.smoothing, xMode: info.xMode, startSec }, 0);
      } else {
        // the series as the host built them (one binary transfer); later records stream in as `metrics/append`
        store = SeriesStore.fromColumns({ names: m.names, lengths: m.lengths, stepsOf: m.stepsOf, steps: f64(m.steps), values: f64(m.values), clock: f64(m.clock), clockLength: m.clockLength, appended: m.appended });
      }
      loaded.push({ run: { ...run, ...m.run }, store, rolloutSteps: m.rolloutSteps.slice(), index: k, startSec, xs: new Map(), ds: new Map(), ema: new Map(), ...(remote ? { remote } : {}) });
    }
    this.runs = loaded;
    this.layoutKey = '';
    this.renderRuns();
    if (!this.picker.hidden) this.renderPicker(await this.knownRuns());
    this.drawNow();
    this.debug.firstPaintMs = performance.now() - t0;
    this.save();
  }

  /** The run labels in the toolbar, with each run's status (re-rendered when `metrics/append` changes it). */
  private renderRuns(): void {
    this.runsBox.replaceChildren(...this.runs.map((r) => {
      const sw = el('canvas', { cls: 'run-swatch' }) as HTMLCanvasElement;
      const ctx = fitCanvas(sw, 28, 10);
      ctx.strokeStyle = this.theme.fg; ctx.lineWidth = 2; ctx.setLineDash(DASH[r.index % DASH.length]);
      ctx.beginPath(); ctx.moveTo(0, 5); ctx.lineTo(28, 5); ctx.stroke();
      return el('span', { cls: 'run-label', title: r.run.runDir, attrs: { 'data-run': r.run.runDir, 'data-status': r.run.status ?? '' } }, sw, el('span', { text: ` ${r.run.label}${r.run.status ? ` (${r.run.status})` : ''}` }));
    }));
  }

  // ---- run picker ----------------------------------------------------------------------------------------------

  private async knownRuns(): Promise<RunRef[]> {
    let known: RunRef[] = [];
    try { known = await this.host.request('runs/list', {}); } catch (e) { this.message = `Could not list runs: ${(e as Error).message}`; }
    const out = known.slice();
    for (const r of this.runs) if (!out.some((k) => k.runDir === r.run.runDir)) out.unshift(r.run);
    return out;
  }

  private async togglePicker(): Promise<void> {
    if (!this.picker.hidden) { this.picker.hidden = true; return; }
    this.renderPicker(await this.knownRuns());
    this.picker.hidden = false;
  }

  private renderPicker(known: RunRef[]): void {
    const shown = new Set(this.runs.map((r) => r.run.runDir));
    this.picker.replaceChildren(el('div', { cls: 'muted', text: 'Runs to overlay (one dash pattern per run):' }), ...known.map((r) => {
      const box = el('input', { attrs: { type: 'checkbox', 'data-run': r.runDir } }) as HTMLInputElement;
      box.checked = shown.has(r.runDir);
      box.addEventListener('change', () => {
        const keep = this.runs.map((x) => x.run).filter((x) => x.runDir !== r.runDir);
        const next = box.checked ? [...keep, r] : keep;
        void this.setRuns(next);
        this.host.notify('dashboard/runs', { runDirs: next.map((x) => x.runDir) });
      });
      const desc = [r.algorithm, r.status, r.runDir.split(/[\\/]/).pop()].filter(Boolean).join(' · ');
      return el('label', { cls: 'run-choice', title: r.runDir }, box, el('span', { text: ` ${r.label}` }), el('span', { cls: 'muted', text: desc ? `  ${desc}` : '' }));
    }));
  }

  // ---- x axis --------------------------------------------------------------------------------------------------

  private toX(r: RunData, step: number): number {
    return stepToX(this.xMode, step, { steps: r.store.clock.steps.view(), times: r.store.clock.times.view() }, r.startSec);
  }

  private fromX(r: RunData, x: number): number {
    return xToStep(this.xMode, x, { steps: r.store.clock.steps.view(), times: r.store.clock.times.view() }, r.startSec);
  }

  /** x of every point of a series in the current mode (the steps themselves in step mode) */
  private xsOf(r: RunData, s: Series): ArrayLike<number> {
    if (this.xMode === 'step') return s.steps.view();
    const knots = r.store.clock.steps.length, n = s.steps.length;
    const c = r.xs.get(s.name);
    if (c && c.mode === this.xMode && c.n === n && c.knots === knots) return c.xs;
    const xs = seriesX(this.xMode, s.steps.view(), { steps: r.store.clock.steps.view(), times: r.store.clock.times.view() }, r.startSec);
    r.xs.set(s.name, { mode: this.xMode, n, knots, xs });
    return xs;
  }

  /** The series' downsampling index, brought up to date with the points appended since the last draw. */
  private dsOf(r: RunData, s: Series): SeriesIndex {
    let ix = r.ds.get(s.name);
    if (!ix) { ix = new SeriesIndex(); r.ds.set(s.name, ix); }
    ix.update(s.values.view());
    return ix;
  }

  /** The series smoothed with the current weight (only the points appended since the last call are computed). */
  private smoothOf(r: RunData, s: Series): Float64Array {
    return this.emaOf(r, s).update(s.values.view());
  }

  private emaOf(r: RunData, s: Series): IncrementalEma {
    let e = r.ema.get(s.name);
    if (!e || e.weight !== this.smoothing) { e = new IncrementalEma(this.smoothing); r.ema.set(s.name, e); }
    return e;
  }

  /**
   * What series `n` of run `r` draws in [x0, x1] on `px` pixels (dashboardWindow.ts seriesView): computed from its
   * points, or for a bucketed run the host's window plus the points appended since it (drawn as they are).
   */
  private viewOf(r: RunData, n: string, x0: number, x1: number, px: number): SeriesView | undefined {
    const s = r.store.series.get(n);
    if (!r.remote) {
      if (!s || !s.steps.length) return undefined;
      const raw = s.values.view();
      let sm: { values: Float64Array; last: number; count: number } | undefined;
      if (smoothingFor(s, this.smoothing) > 0) { const e = this.emaOf(r, s); const values = e.update(raw); sm = { values, ...e.state() }; }
      return seriesView(this.xsOf(r, s), s.steps.view(), raw, sm, this.dsOf(r, s), x0, x1, px);
    }
    const w = r.remote.window;
    const base = w && w.info.xMode === this.xMode ? w.views.get(n) : undefined;
    const steps = s ? s.steps.view() : new Float64Array(0), raw = s ? s.values.view() : new Float64Array(0);
    let k0 = 0;
    if (base) while (k0 < steps.length && steps[k0] <= base.lastStep) k0++;
    if (k0 >= steps.length) return base;
    // the points appended after the window: the smoothed line continues from the window's EMA state
    const m = steps.length - k0, xs = new Float64Array(m), ys = new Float64Array(m);
    // eval and step-like series are drawn raw (series.ts smoothingFor, the host's rule too)
    const wgt = s ? smoothingFor(s, this.smoothing) : this.smoothing;
    let last = base && w!.info.smoothing === wgt ? base.emaLast : 0, count = base && w!.info.smoothing === wgt ? base.emaCount : 0;
    let lo = base?.lo ?? Infinity, hi = base?.hi ?? -Infinity, posLo = base?.posLo ?? Infinity, posHi = base?.posHi ?? -Infinity;
    for (let k = 0; k < m; k++) {
      const v = raw[k0 + k];
      xs[k] = this.toX(r, steps[k0 + k]);
      if (wgt > 0) { last = last * wgt + (1 - wgt) * v; count++; ys[k] = last / (1 - Math.pow(wgt, count)); } else ys[k] = v;
      if (xs[k] >= x0 && xs[k] <= x1) { if (v < lo) lo = v; if (v > hi) hi = v; if (v > 0) { if (v < posLo) posLo = v; if (v > posHi) posHi = v; } }
    }
    const cat = (a: ArrayLike<number> | undefined, b: ArrayLike<number>) => { const o = new Float64Array((a?.length ?? 0) + b.length); if (a) o.set(a as Float64Array); o.set(b as Float64Array, a?.length ?? 0); return o; };
    const band = wgt > 0;
    return {
      x: cat(base?.x, xs), y: cat(base?.y, ys),
      envX: band ? cat(base?.envX, xs) : base?.envX ?? [], envLo: band ? cat(base?.envLo, raw.subarray(k0)) : base?.envLo ?? [], envHi: band ? cat(base?.envHi, raw.subarray(k0)) : base?.envHi ?? [],
      lo, hi, posLo, posHi, n: (base?.n ?? 0) + m, lastStep: steps[steps.length - 1], emaLast: last, emaCount: count,
    };
  }

  /** A bucketed run: ask the host for the window of these parameters unless it is drawn or asked for already. */
  private wantWindow(r: RunData, x0: number, x1: number, px: number): void {
    const rem = r.remote;
    if (!rem) return;
    const params: MetricsWindowParams = { x0, x1, pixels: px, smoothing: this.smoothing, xMode: this.xMode, ...(r.startSec !== undefined ? { startSec: r.startSec } : {}) };
    const key = windowKey(params, rem.version);
    if (key === rem.key || key === rem.want?.key) return;
    rem.want = { ...params, key };
    if (!rem.inFlight) void this.fetchWindow(r);
  }

  private async fetchWindow(r: RunData): Promise<void> {
    const rem = r.remote!;
    const want = rem.want;
    if (!want) return;
    rem.want = undefined; rem.key = want.key; rem.inFlight = true;
    try {
      const { key: _key, ...params } = want;
      const t0 = performance.now();
      const w = await this.host.request('metrics/window', { runDir: r.run.runDir, ...params });
      if (!this.runs.includes(r)) return;
      rem.window = { info: w, views: viewsByName(w.names, w.data instanceof Float64Array ? w.data : new Float64Array(w.data)) };
      // the points appended before this window are in it now
      for (const [name, s] of r.store.series) {
        const v = rem.window.views.get(name);
        if (!v || !s.steps.length) continue;
        const st = s.steps.view(), k0 = st.findIndex((x) => x > v.lastStep);
        if (k0 === 0) continue;
        const keep = k0 < 0 ? 0 : st.length - k0;
        r.store.series.set(name, { name, steps: Column.of(st.slice(st.length - keep)), values: Column.of(s.values.view().slice(st.length - keep)) });
      }
      this.debug.windows++; this.debug.lastWindowMs = performance.now() - t0;
    } catch (e) {
      this.message = `Could not read ${r.run.label}: ${(e as Error).message}`;
    } finally { rem.inFlight = false; }
    if (rem.want) void this.fetchWindow(r);
    this.schedule();
  }

  private tickFormat(): (x: number) => string {
    if (this.xMode === 'relative') return formatDuration;
    if (this.xMode === 'wall') { const [a, b] = this.domainX(); return (x) => formatWall(x, b - a); }
    return (x) => fmt(x, 4);
  }

  private names(): Set<string> {
    const s = new Set<string>();
    for (const r of this.runs) for (const n of r.store.series.keys()) s.add(n);
    return s;
  }

  private layout(): void {
    const specs = dashboardPanels(this.names());
    const filter = metricFilter(this.filterText);
    const shown = filterPanels(specs, filter.test);
    const total = specs.reduce((a, p) => a + p.names.length, 0), visible = shown.reduce((a, p) => a + p.names.length, 0);
    this.filterNote.textContent = filter.error ?? (filter.active ? `${visible} of ${total} metrics` : '');
    const key = JSON.stringify(shown.map((g) => [g.id, g.names])) + this.theme.kind + this.root.clientWidth + this.xMode;
    if (key === this.layoutKey) return;
    this.layoutKey = key;
    this.panels = [];
    this.grid.replaceChildren();
    const { cols, pw } = this.panelWidth();
    this.grid.style.gridTemplateColumns = `repeat(${cols}, minmax(0, 1fr))`;
    const dark = this.theme.kind === 'dark' || this.theme.kind === 'high-contrast';
    if (!shown.length && total) this.grid.append(el('div', { cls: 'muted', text: `No metric matches "${this.filterText}".`, attrs: { id: 'no-match' } }));
    for (const g of shown) {
      const full = specs.find((s) => s.id === g.id)!.names;
      const palette = seriesColors(full.length, this.theme.series, dark);
      const colors = new Map(full.map((n, k) => [n, palette[k]]));
      const root = el('section', { cls: 'panel', attrs: { 'data-panel': g.id } });
      const legend = el('div', { cls: 'panel-legend', attrs: { role: 'group', 'aria-label': `${g.title} series` } });
      const items = new Map<string, HTMLElement>();
      for (const n of g.names) {
        const sw = el('span', { cls: 'swatch' });
        sw.style.background = colors.get(n)!;
        const item = el('button', { cls: 'legend-item', title: `${n}: click hides, alt-click or double-click shows only this one`, attrs: { type: 'button', 'data-name': n } }, sw, el('span', { text: ` ${n}` }));
        item.addEventListener('click', (ev) => { if (ev.altKey) this.isolateSeries(g.id, n); else this.toggleSeries(n); });
        item.addEventListener('dblclick', (ev) => { ev.preventDefault(); this.isolateSeries(g.id, n); });
        items.set(n, item);
        legend.append(item);
      }
      const logBtn = el('button', { cls: 'panel-btn', text: 'log', title: 'logarithmic y scale', attrs: { type: 'button', 'data-action': 'log', 'aria-pressed': 'false' } }) as HTMLButtonElement;
      logBtn.addEventListener('click', () => { if (this.logPanels.has(g.id)) this.logPanels.delete(g.id); else this.logPanels.add(g.id); this.schedule(); this.save(); });
      const csvBtn = el('button', { cls: 'panel-btn', text: 'CSV', title: 'export the shown series as CSV (raw values, every step)', attrs: { type: 'button', 'data-action': 'csv' } });
      csvBtn.addEventListener('click', () => void this.exportCsv(g.id));
      const pngBtn = el('button', { cls: 'panel-btn', text: 'PNG', title: 'export this chart as a PNG image', attrs: { type: 'button', 'data-action': 'png' } });
      pngBtn.addEventListener('click', () => void this.exportPng(g.id));
      const head = el('div', { cls: 'panel-head' }, el('h3', { text: g.title }), el('span', { cls: 'unit muted', text: UNIT_LABEL[g.unit] }), el('span', { cls: 'panel-actions' }, logBtn, csvBtn, pngBtn));
      const plot = el('div', { cls: 'plot' });
      const canvas = el('canvas', { cls: 'plot-canvas' }) as HTMLCanvasElement;
      const cursor = el('canvas', { cls: 'plot-canvas plot-cursor' }) as HTMLCanvasElement;
      const h = 182;
      const svg = select(plot).append('svg').attr('class', 'plot-svg').attr('width', pw).attr('height', h) as unknown as Selection<SVGSVGElement, unknown, null, undefined>;
      plot.prepend(canvas, cursor);
      const tip = el('div', { cls: 'annotation-tip', attrs: { role: 'tooltip' } });
      tip.hidden = true;
      const hover = el('div', { cls: 'hover-values', attrs: { role: 'status' } });
      hover.hidden = true;
      plot.append(tip, hover);
      root.append(head, legend, plot);
      this.grid.appendChild(root);
      const p: Panel = { id: g.id, title: g.title, unit: g.unit, names: g.names, colors, right: new Set(), y: scaleLinear(), y2: scaleLinear(), log: false, logNote: '', root, canvas, cursor, svg, legend, items, hover, logBtn, bands: [], tip, x: scaleLinear(), w: pw, h };
      this.panels.push(p);
      const brush = brushX<unknown>().extent([[M.l, M.t], [pw - M.r, h - M.b]]).on('end', (ev: D3BrushEvent<unknown>) => {
        if (!ev.sourceEvent) return;
        const sel = ev.selection as [number, number] | null;
        if (sel && sel[1] - sel[0] > 3) {
          this.zoom = [p.x.invert(sel[0]), p.x.invert(sel[1])];
          svg.select<SVGGElement>('g.brush').call(brush.move as never, null);
          this.schedule(); this.save();
        } else if (!sel) {
          // a click opens that step's rollouts, unless it was the first click of a double-click (reset zoom)
          if (this.clickTimer) clearTimeout(this.clickTimer);
          this.clickTimer = setTimeout(() => { this.clickTimer = undefined; this.clickThrough(); }, DOUBLE_CLICK_MS);
        }
      });
      svg.append('g').attr('class', 'annotations');
      svg.append('g').attr('class', 'axis x');
      svg.append('g').attr('class', 'axis y');
      svg.append('g').attr('class', 'axis y2');
      svg.append('text').attr('class', 'axis-label x').attr('text-anchor', 'middle').attr('x', (M.l + pw - M.r) / 2).attr('y', h - 4).text(X_LABEL[this.xMode]);
      svg.append('g').attr('class', 'brush').call(brush as never);
      svg.on('mousemove', (ev: MouseEvent) => {
        const mx = ev.offsetX;
        this.setCursor(p.x.invert(mx), p);
        this.hoverBands(p, mx);
      });
      svg.on('mouseleave', () => { this.setCursor(null); p.tip.hidden = true; });
      svg.on('dblclick', () => {
        if (this.clickTimer) { clearTimeout(this.clickTimer); this.clickTimer = undefined; }
        this.zoom = null; this.schedule(); this.save();
      });
    }
  }

  /** Columns of the panel grid and a panel's width (the layout's rule). */
  private panelWidth(): { cols: number; pw: number } {
    const width = this.grid.clientWidth || this.root.clientWidth || 800;
    const cols = Math.max(1, Math.min(3, Math.floor(width / 440)));
    return { cols, pw: Math.floor((width - 10 * (cols - 1)) / cols) - 16 }; // gap 10, panel padding + border 14
  }

  /** A chart's plot width in pixels (the x-range's pixel buckets). */
  private plotWidth(): number { return Math.max(1, this.panelWidth().pw - M.l - M.r); }

  private toggleSeries(name: string): void {
    this.hidden = toggleHidden(this.hidden, name);
    this.schedule(); this.save();
  }

  private isolateSeries(panelId: string, name: string): void {
    const p = this.panels.find((q) => q.id === panelId);
    if (!p) return;
    this.hidden = isolate(this.hidden, p.names, name);
    this.schedule(); this.save();
  }

  private domainX(): [number, number] {
    return this.zoom ?? this.fullDomain();
  }

  private fullDomain(): [number, number] {
    let lo = Infinity, hi = -Infinity;
    for (const r of this.runs) {
      if (!Number.isFinite(r.store.minStep)) continue;
      const a = this.toX(r, r.store.minStep), b = this.toX(r, r.store.maxStep);
      if (Number.isFinite(a)) lo = Math.min(lo, a);
      if (Number.isFinite(b)) hi = Math.max(hi, b);
    }
    if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [0, 1];
    return lo === hi ? [lo - 1, hi + 1] : [lo, hi];
  }

  schedule(): void {
    if (this.raf) return;
    this.raf = requestAnimationFrame(() => { this.raf = 0; this.drawNow(); });
  }

  drawNow(): void {
    const t0 = performance.now();
    this.layout();
    const [x0, x1] = this.domainX();
    const th = this.theme;
    let points = 0;
    const many = this.runs.length > 1;
    // doctor findings: steps → x units; the band's hover text keeps the steps
    const stepsOf = new Map<string, [number, number]>();
    const allAnnotations = this.runs.flatMap((r) => (this.annotations.get(r.run.runDir) ?? []).map((a) => {
      const title = many ? `${r.run.label}: ${a.title}` : a.title;
      stepsOf.set(`${a.id}\u0000${title}`, [a.from, a.to]);
      return { ...a, title, from: this.toX(r, a.from), to: this.toX(r, a.to) };
    }).filter((a) => Number.isFinite(a.from) && Number.isFinite(a.to)));
    const fmtX = this.tickFormat();
    const px = this.panels[0] ? this.panels[0].w - M.l - M.r : this.plotWidth();
    for (const r of this.runs) this.wantWindow(r, x0, x1, px);
    const untimed = this.xMode !== 'step' ? this.runs.filter((r) => !r.store.clock.steps.length || (this.xMode === 'wall' && r.startSec === undefined)) : [];
    for (const p of this.panels) {
      const W = p.w, H = p.h;
      const shown = p.names.filter((n) => !this.hidden.has(n));
      for (const [n, item] of p.items) { const off = this.hidden.has(n); item.classList.toggle('off', off); item.setAttribute('aria-pressed', String(!off)); }
      p.x.domain([x0, x1]).range([M.l, W - M.r]);
      const px = W - M.l - M.r;
      // what each shown series draws in view (dashboardWindow.ts seriesView: computed here, or by the host for a
      // bucketed run), and the extents in view from it
      const views: { r: RunData; n: string; v: SeriesView }[] = [];
      for (const r of this.runs) for (const n of shown) { const v = this.viewOf(r, n, x0, x1, px); if (v) views.push({ r, n, v }); }
      const ext = new Map<string, [number, number]>();
      for (const { n, v } of views) { const e = ext.get(n) ?? [Infinity, -Infinity]; ext.set(n, [Math.min(e[0], v.lo), Math.max(e[1], v.hi)]); }
      p.right = splitByMagnitude(new Map([...ext].map(([n, [lo, hi]]) => [n, lo <= hi ? Math.max(Math.abs(lo), Math.abs(hi)) : 0])));
      const extOf = (right: boolean) => { let lo = Infinity, hi = -Infinity; for (const [n, [a, b]] of ext) if (p.right.has(n) === right) { lo = Math.min(lo, a); hi = Math.max(hi, b); } return padExtent(lo, hi); };
      const posOf = (right: boolean) => { let lo = Infinity, hi = -Infinity; for (const { n, v } of views) if (p.right.has(n) === right) { lo = Math.min(lo, v.posLo); hi = Math.max(hi, v.posHi); } return logExtentOf(lo, hi); };
      const anyRight = views.some((x) => p.right.has(x.n));
      const wantLog = this.logPanels.has(p.id);
      const le = wantLog ? posOf(false) : undefined, re = wantLog && anyRight ? posOf(true) : undefined;
      p.log = wantLog && !!le && (!anyRight || !!re);
      p.logNote = wantLog && !p.log ? 'no positive values in view: linear scale' : '';
      p.logBtn.setAttribute('aria-pressed', String(wantLog));
      p.logBtn.classList.toggle('on', wantLog);
      p.logBtn.title = p.logNote || 'logarithmic y scale';
      p.y = (p.log ? scaleLog().domain(le!) : scaleLinear().domain(extOf(false))).range([H - M.b, M.t]).nice();
      p.y2 = (p.log && re ? scaleLog().domain(re) : scaleLinear().domain(extOf(true))).range([H - M.b, M.t]).nice();
      for (const n of p.names) p.items.get(n)!.classList.toggle('right-axis', p.right.has(n));
      const ctx = fitCanvas(p.canvas, W, H);
      ctx.clearRect(0, 0, W, H);
      ctx.save();
      ctx.beginPath(); ctx.rect(M.l, M.t, W - M.l - M.r, H - M.t - M.b); ctx.clip();
      const bottom = H - M.b;
      for (const { r, n, v } of views) {
        const color = p.colors.get(n)!;
        ctx.setLineDash(DASH[r.index % DASH.length]);
        const scale = p.right.has(n) ? p.y2 : p.y;
        const ys = p.log ? (u: number) => (u > 0 ? scale(u) : NaN) : (u: number) => scale(u);
        if (this.smoothing > 0 && v.envX.length > 1) {
          // raw values as a faint min/max band (one filled polygon), the smoothed line on top at one point per pixel
          ctx.globalAlpha = 0.18; ctx.fillStyle = color;
          ctx.beginPath();
          const yb = (u: number) => { const y = ys(u); return Number.isFinite(y) ? y : bottom; };
          for (let k = 0; k < v.envX.length; k++) ctx[k ? 'lineTo' : 'moveTo'](p.x(v.envX[k]), yb(v.envHi[k]));
          for (let k = v.envX.length - 1; k >= 0; k--) ctx.lineTo(p.x(v.envX[k]), yb(v.envLo[k]) + 0.75);
          ctx.closePath(); ctx.fill(); ctx.globalAlpha = 1;
          points += v.envX.length * 2;
        }
        points += this.line(ctx, p, v.x, v.y, color, ys);
        if (v.n === 1 || n.startsWith('eval/')) { // eval points: dots
          ctx.fillStyle = color;
          for (let k = 0; k < v.x.length; k++) { const X = p.x(v.x[k]), Y = ys(v.y[k]); if (!Number.isFinite(X) || !Number.isFinite(Y)) continue; ctx.beginPath(); ctx.arc(X, Y, 2.2, 0, Math.PI * 2); ctx.fill(); }
        }
      }
      ctx.restore();
      ctx.setLineDash([]);
      const yTicks = (a: Axis<NumberValue>, s: YScale) => (p.log ? a.tickValues(logTicks(s)) : a.ticks(5)).tickFormat((d) => fmt(Number(d), 3));
      const ax = p.svg.select<SVGGElement>('g.axis.x').attr('transform', `translate(0,${H - M.b})`).call(axisBottom(p.x).ticks(Math.max(2, Math.floor(W / (this.xMode === 'wall' ? 120 : 90)))).tickFormat((d) => fmtX(Number(d))));
      const ay = p.svg.select<SVGGElement>('g.axis.y').attr('transform', `translate(${M.l},0)`).call(yTicks(axisLeft(p.y), p.y));
      const ay2 = p.svg.select<SVGGElement>('g.axis.y2').attr('transform', `translate(${W - M.r},0)`).attr('display', p.right.size ? null : 'none');
      if (p.right.size) ay2.call(yTicks(axisRight(p.y2), p.y2));
      for (const a of [ax, ay, ay2]) { a.selectAll('text').attr('fill', th.muted); a.selectAll('line,path').attr('stroke', th.border); }
      p.svg.select('text.axis-label.x').attr('fill', th.muted).text(X_LABEL[this.xMode] + (p.logNote ? ` · ${p.logNote}` : ''));
      this.drawBands(p, x0, x1, allAnnotations, stepsOf);
      this.drawCursor(p);
    }
    const last = Math.max(...this.runs.map((r) => r.store.maxStep));
    const zoomText = this.zoom ? ` · zoom [${fmtX(this.zoom[0])}, ${fmtX(this.zoom[1])}]` : '';
    const note = untimed.length ? ` · ${untimed.map((r) => r.run.label).join(', ')}: no ${this.xMode === 'wall' && r0Timed(untimed) ? 'start time' : 'time'} logged, not drawn on this x-axis` : '';
    this.status.textContent = (this.message ? `${this.message} · ` : '') + (this.runs.length ? `${this.names().size} metrics · ${this.runs.length} run(s) · last step ${Number.isFinite(last) ? last : '—'}${zoomText}${note} · drag to zoom, double-click to reset, click to open that step's rollouts` : 'No run selected.');
    this.debug.draws++;
    this.debug.pointsDrawn = points;
    this.debug.lastDrawMs = performance.now() - t0;
  }

  /** Shaded bands (SVG rects under the brush, colour by severity from the theme's CSS variables: media/webview/main.css). */
  private drawBands(p: Panel, x0: number, x1: number, annotations: DashboardAnnotation[], stepsOf: Map<string, [number, number]>): void {
    p.bands = annotationBands(annotations, p.names.filter((n) => !this.hidden.has(n)), [x0, x1], [M.l, p.w - M.r]).map((b) => {
      const st = stepsOf.get(`${b.id}\u0000${b.title}`);
      return st ? { ...b, from: st[0], to: st[1] } : b;
    });
    const rects = p.svg.select<SVGGElement>('g.annotations').selectAll<SVGRectElement, AnnotationBand>('rect').data(p.bands).join('rect')
      .attr('class', (b) => `annotation sev-${b.severity}${b.id === this.focusFinding ? ' focused' : ''}`)
      .attr('data-finding', (b) => b.id)
      .attr('x', (b) => b.x).attr('y', M.t).attr('width', (b) => b.width).attr('height', p.h - M.t - M.b);
    rects.selectAll('title').data((b) => [b]).join('title').text((b) => `${b.title} (steps ${b.from}–${b.to})`);
  }

  private hoverBands(p: Panel, x: number): void {
    const under = bandsAt(p.bands, x);
    if (!under.length) { p.tip.hidden = true; return; }
    p.tip.textContent = under.map((b) => `${b.severity === 'error' ? '⛔' : b.severity === 'warning' ? '⚠' : 'ℹ'} ${b.title} (steps ${b.from}–${b.to})`).join('\n');
    p.tip.hidden = false;
    p.tip.style.left = `${Math.min(Math.max(M.l, x + 8), Math.max(M.l, p.w - 220))}px`;
    p.tip.style.top = `${M.t}px`;
  }

  private line(ctx: CanvasRenderingContext2D, p: Panel, xs: ArrayLike<number>, vals: ArrayLike<number>, color: string, ys: (v: number) => number): number {
    ctx.strokeStyle = color; ctx.lineWidth = 1.5;
    ctx.beginPath();
    let pen = false;
    for (let i = 0; i < xs.length; i++) {
      const X = p.x(xs[i]), Y = ys(vals[i]);
      if (!Number.isFinite(X) || !Number.isFinite(Y)) { pen = false; continue; }
      if (pen) ctx.lineTo(X, Y); else { ctx.moveTo(X, Y); pen = true; }
    }
    ctx.stroke();
    return xs.length;
  }

  private setCursor(x: number | null, over?: Panel): void {
    this.cursorX = x;
    for (const p of this.panels) this.drawCursor(p, p === over);
  }

  /** The cursor line on every panel; the panel under the mouse also shows "name: value" of its shown series there. */
  private drawCursor(p: Panel, showValues = false): void {
    const ctx = fitCanvas(p.cursor, p.w, p.h);
    ctx.clearRect(0, 0, p.w, p.h);
    const x = this.cursorX;
    if (x === null || !showValues) p.hover.hidden = true;
    if (x === null) return;
    const X = p.x(x);
    ctx.strokeStyle = this.theme.fg; ctx.globalAlpha = 0.5; ctx.lineWidth = 1;
    ctx.beginPath(); ctx.moveTo(X, M.t); ctx.lineTo(X, p.h - M.b); ctx.stroke();
    if (!showValues) return;
    const names = p.names.filter((n) => !this.hidden.has(n));
    // each run's point nearest to x per shown series: from its points, or asked of the host (a bucketed run)
    const local = (r: RunData): MetricsAtRow[] => names.flatMap((n) => {
      const s = r.store.series.get(n);
      if (!s || !s.steps.length) return [];
      const xs = this.xsOf(r, s), i = nearestIndex(xs, x);
      if (i < 0) return [];
      return [{ name: n, step: s.steps.get(i), x: xs[i], value: smoothingFor(s, this.smoothing) > 0 ? this.smoothOf(r, s)[i] : s.values.get(i) }];
    });
    if (!this.runs.some((r) => r.remote)) { this.renderHover(p, X, x, this.runs.map((r) => ({ r, rows: local(r) }))); return; }
    const seq = ++this.hoverSeq;
    void Promise.all(this.runs.map(async (r) => {
      if (!r.remote) return { r, rows: local(r) };
      try { return { r, rows: await this.host.request('metrics/at', { runDir: r.run.runDir, x, names, smoothing: this.smoothing, xMode: this.xMode, ...(r.startSec !== undefined ? { startSec: r.startSec } : {}) }) }; } catch { return { r, rows: [] as MetricsAtRow[] }; }
    })).then((per) => { if (seq === this.hoverSeq && this.cursorX === x) this.renderHover(p, X, x, per); });
  }

  private hoverSeq = 0;

  /** The hover box: "step N" and "name: value" per series (run-prefixed when overlaid; "@step" when not the cursor's). */
  private renderHover(p: Panel, X: number, x: number, per: { r: RunData; rows: MetricsAtRow[] }[]): void {
    const many = this.runs.length > 1;
    const rows: Node[] = [];
    let head = '';
    for (const { r, rows: rr } of per) {
      for (const row of rr) {
        if (!head) head = `step ${row.step}${this.xMode !== 'step' ? ` · ${this.tickFormat()(row.x)}` : ''}`;
        const sw = el('span', { cls: 'swatch' });
        sw.style.background = p.colors.get(row.name) ?? '';
        rows.push(el('div', { cls: 'hover-row' }, sw, el('span', { cls: 'hover-name', text: ` ${many ? `${r.run.label}: ` : ''}${row.name}: ` }), el('span', { cls: 'num', text: `${fmt(row.value, 4)}${row.step !== Math.round(this.fromX(r, x)) ? ` @${row.step}` : ''}` })));
      }
    }
    if (!rows.length) { p.hover.hidden = true; return; }
    p.hover.replaceChildren(el('div', { cls: 'hover-head muted', text: head }), ...rows);
    p.hover.hidden = false;
    const boxW = p.hover.offsetWidth || 180;
    p.hover.style.left = `${X + 12 + boxW > p.w - M.r ? Math.max(M.l, X - 12 - boxW) : X + 12}px`;
  }

  /** a chart click waiting to see whether a second click makes it a double-click */
  private clickTimer: ReturnType<typeof setTimeout> | undefined;

  private clickThrough(): void {
    if (this.cursorX === null || !this.runs.length) return;
    const r = this.runs[0];
    const at = this.fromX(r, this.cursorX);
    if (!Number.isFinite(at)) return;
    const step = nearestRolloutStep(r.rolloutSteps.slice().sort((a, b) => a - b), at);
    if (step === undefined) { this.message = 'This run has no rollouts to open.'; this.schedule(); return; }
    this.host.notify('open/heatmap', { runDir: r.run.runDir, step });
  }

  // ---- export --------------------------------------------------------------------------------------------------

  private panelFile(p: Panel, ext: 'csv' | 'png'): string {
    return exportFileName(this.runs.map((r) => r.run.label).join('-vs-'), p.title, ext);
  }

  /** The shown series of a panel as CSV (raw values, every step) saved through the host's save dialog. */
  async exportCsv(panelId: string): Promise<void> {
    const p = this.panels.find((q) => q.id === panelId);
    if (!p) return;
    const names = p.names.filter((n) => !this.hidden.has(n));
    const parts: { label: string; store: SeriesStore }[] = [];
    for (const r of this.runs) {
      let store = r.store;
      if (r.remote) {
        // a bucketed run: the panel's series whole, from the host
        try {
          const c = await this.host.request('metrics/series', { runDir: r.run.runDir, names });
          const f64 = (b: ArrayBuffer | Float64Array) => (b instanceof Float64Array ? b : new Float64Array(b));
          store = SeriesStore.fromColumns({ names: c.names, lengths: c.lengths, stepsOf: c.stepsOf, steps: f64(c.steps), values: f64(c.values), clock: f64(c.clock), clockLength: c.clockLength, appended: c.appended });
        } catch (e) { this.message = `Export failed: ${(e as Error).message}`; this.schedule(); return; }
      }
      parts.push({ label: r.run.label, store });
    }
    const text = panelCsv(parts.map(({ label, store }) => ({
      label,
      series: new Map([...store.series].filter(([n]) => names.includes(n)).map(([n, s]) => [n, { steps: s.steps.view(), values: s.values.view() }])),
      clock: { steps: store.clock.steps.view(), times: store.clock.times.view() },
    })), names);
    await this.save1({ format: 'csv', fileName: this.panelFile(p, 'csv'), text }, text.length);
  }

  /** The chart as a PNG: title, legend, the plot canvas and the axes, drawn on one canvas; saved through the host. */
  async exportPng(panelId: string): Promise<void> {
    const p = this.panels.find((q) => q.id === panelId);
    if (!p) return;
    const c = this.renderPng(p);
    const base64 = c.toDataURL('image/png').replace(/^data:image\/png;base64,/, '');
    await this.save1({ format: 'png', fileName: this.panelFile(p, 'png'), base64 }, Math.floor(base64.length * 0.75));
  }

  private renderPng(p: Panel): HTMLCanvasElement {
    const th = this.theme, headH = 38, W = p.w, H = p.h + headH;
    const c = document.createElement('canvas');
    const ctx = fitCanvas(c, W, H);
    const bg = getComputedStyle(document.body).getPropertyValue('--vscode-editor-background').trim() || (th.kind === 'dark' || th.kind === 'high-contrast' ? '#1e1e1e' : '#ffffff');
    ctx.fillStyle = bg; ctx.fillRect(0, 0, W, H);
    ctx.fillStyle = th.fg; ctx.font = `600 12px ${th.font}`; ctx.textBaseline = 'top';
    ctx.fillText(`${p.title} · ${UNIT_LABEL[p.unit]}${this.runs.length ? ` · ${this.runs.map((r) => r.run.label).join(' vs ')}` : ''}`, 4, 2);
    ctx.font = `11px ${th.font}`;
    let lx = 4;
    for (const n of p.names) {
      if (this.hidden.has(n)) continue;
      const w = ctx.measureText(n).width;
      if (lx + w + 20 > W) break;
      ctx.fillStyle = p.colors.get(n)!; ctx.fillRect(lx, 24, 10, 3);
      ctx.fillStyle = th.fg; ctx.fillText(n, lx + 13, 19);
      lx += w + 26;
    }
    ctx.drawImage(p.canvas, 0, headH, W, p.h);
    // axes (the SVG ones, redrawn here with the same scales and tick formats)
    ctx.strokeStyle = th.border; ctx.fillStyle = th.muted; ctx.lineWidth = 1;
    const y0 = headH + p.h - M.b;
    ctx.beginPath(); ctx.moveTo(M.l, headH + M.t); ctx.lineTo(M.l, y0); ctx.lineTo(W - M.r, y0); ctx.stroke();
    const fx = this.tickFormat();
    ctx.textAlign = 'center'; ctx.textBaseline = 'top';
    for (const t of p.x.ticks(Math.max(2, Math.floor(W / 90)))) { const X = p.x(t); ctx.beginPath(); ctx.moveTo(X, y0); ctx.lineTo(X, y0 + 4); ctx.stroke(); ctx.fillText(fx(t), X, y0 + 6); }
    ctx.fillText(X_LABEL[this.xMode], (M.l + W - M.r) / 2, headH + p.h - 12);
    ctx.textAlign = 'right'; ctx.textBaseline = 'middle';
    for (const t of p.log ? logTicks(p.y) : p.y.ticks(5)) { const Y = headH + p.y(t); ctx.beginPath(); ctx.moveTo(M.l - 4, Y); ctx.lineTo(M.l, Y); ctx.stroke(); ctx.fillText(fmt(t, 3), M.l - 6, Y); }
    if (p.right.size) {
      ctx.textAlign = 'left';
      for (const t of p.log ? logTicks(p.y2) : p.y2.ticks(5)) { const Y = headH + p.y2(t); ctx.fillText(fmt(t, 3), W - M.r + 6, Y); }
    }
    return c;
  }

  private async save1(file: { format: 'csv'; fileName: string; text: string } | { format: 'png'; fileName: string; base64: string }, bytes: number): Promise<void> {
    this.debug.lastExport = { format: file.format, fileName: file.fileName, bytes };
    try {
      const r = await this.host.request('export/save', file);
      this.debug.lastExport.path = r.path;
      this.message = r.path ? `Saved ${file.format.toUpperCase()} to ${r.path}` : 'Export cancelled';
    } catch (e) {
      this.debug.lastExport.error = (e as Error).message;
      this.message = `Export failed: ${(e as Error).message}`;
    }
    this.schedule();
  }

  private save(): void {
    const s: WebviewState = {
      view: 'dashboard', runDirs: this.runs.map((r) => r.run.runDir), smoothing: this.smoothing, zoom: this.zoom,
      hidden: [...this.hidden], metricFilter: this.filterText, xAxis: this.xMode, logPanels: [...this.logPanels],
    };
    this.host.setState(s);
  }

  snapshot(): Record<string, unknown> {
    return {
      runs: this.runs.map((r) => ({ runDir: r.run.runDir, label: r.run.label, status: r.run.status, series: r.store.series.size, maxStep: r.store.maxStep, appended: r.store.appended, bucketed: !!r.remote })),
      panels: this.panels.map((p) => ({ id: p.id, unit: p.unit, names: p.names.slice(), shown: p.names.filter((n) => !this.hidden.has(n)), colors: p.names.map((n) => p.colors.get(n)), log: p.log, y: p.y.domain(), x: p.x.domain(), bands: p.bands.map((b) => ({ ...b })) })),
      focusFinding: this.focusFinding, zoom: this.zoom, smoothing: this.smoothing, cursor: this.cursorX, hidden: [...this.hidden], metricFilter: this.filterText, xAxis: this.xMode,
      debug: { ...this.debug }, follow: this.follow,
    };
  }

  /** panel x position of a step (tests) */
  panelPoint(panelId: string, step: number): { x: number; y: number } | undefined {
    const p = this.panels.find((q) => q.id === panelId);
    if (!p) return undefined;
    const r = p.svg.node()!.getBoundingClientRect();
    const x = this.runs[0] ? this.toX(this.runs[0], step) : step;
    return { x: r.left + p.x(x), y: r.top + (p.h - M.b + M.t) / 2 };
  }
}

/** Ticks of a log axis: the powers of ten in its domain, or d3's ticks when the domain spans less than a decade. */
function logTicks(s: YScale): number[] {
  const [a, b] = s.domain();
  const out: number[] = [];
  for (let e = Math.ceil(Math.log10(a)); e <= Math.floor(Math.log10(b)); e++) out.push(10 ** e);
  return out.length >= 2 ? out : s.ticks(3);
}

function r0Timed(untimed: RunData[]): boolean {
  return untimed.every((r) => r.store.clock.steps.length > 0);
}

/** The parameters of a bucketed run's window, and its version (appends), as one key. */
function windowKey(p: MetricsWindowParams, version: number): string {
  return JSON.stringify([p.x0, p.x1, p.pixels, p.smoothing, p.xMode, p.startSec ?? null, version]);
}

/** A `metrics/window` answer's views by series name. */
function viewsByName(names: string[], data: Float64Array): Map<string, SeriesView> {
  const views = unpackViews(data, names.length);
  return new Map(names.map((n, k) => [n, views[k]]));
}
