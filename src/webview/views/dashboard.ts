/**
 * Live dashboard: one panel per metric group (reward+parts, KL+β, entropy, clipping, lengths, losses, grad norm+lr,
 * throughput, eval pass@k), lines on canvas, axes and brush with d3 (SVG). Shared x zoom (brush; double-click resets),
 * shared step cursor, click-through to the nearest step's rollouts, several runs overlaid (dash pattern per run).
 * Streaming: `metrics/append` carries only new records; they are appended to the SeriesStore and panels redraw.
 */
import { select, type Selection } from 'd3-selection';
import { scaleLinear, type ScaleLinear } from 'd3-scale';
import { axisBottom, axisLeft, axisRight } from 'd3-axis';
import { brushX, type D3BrushEvent } from 'd3-brush';
import type { DashboardAnnotation, InitParams, MetricsPayload, RunRef, ViewTarget, WebviewState } from '../../shared/protocol';
import type { HostConnection } from '../rpc';
import { SeriesStore, splitAxes, decimate, decimateLast, envelope, emaSmooth, groupMetricNames, nearestIndex, nearestRolloutStep, yExtent } from '../data/series';
import { fmt } from '../data/scales';
import { fitCanvas, onThemeChange, readTheme, el, type Theme } from '../theme';
import { button, checkbox } from '../controls';
import { annotationBands, bandsAt, focusDomain, type AnnotationBand } from '../data/annotations';

const DASH: number[][] = [[], [6, 4], [2, 3], [10, 3, 2, 3]];

interface RunData { run: RunRef; store: SeriesStore; rolloutSteps: number[]; index: number }
interface Panel {
  id: string; title: string; names: string[];
  /** series drawn against the right axis (magnitudes far below the panel's largest, e.g. lr next to grad norm) */
  right: Set<string>; y2: ScaleLinear<number, number>;
  root: HTMLElement; canvas: HTMLCanvasElement; cursor: HTMLCanvasElement; svg: Selection<SVGSVGElement, unknown, null, undefined>;
  legend: HTMLElement; values: Map<string, HTMLElement>;
  /** doctor findings drawn on this chart (annotationBands), and the hover box naming them */
  bands: AnnotationBand[]; tip: HTMLElement;
  x: ScaleLinear<number, number>; y: ScaleLinear<number, number>; w: number; h: number;
}

const M = { l: 48, r: 44, t: 6, b: 20 };

export class DashboardView {
  private theme: Theme = readTheme();
  private runs: RunData[] = [];
  private panels: Panel[] = [];
  private smoothing = 0.6;
  private zoom: [number, number] | null = null;
  private cursorStep: number | null = null;
  private follow = true;
  private raf = 0;
  private grid!: HTMLElement;
  private status!: HTMLElement;
  private runsBox!: HTMLElement;
  private layoutKey = '';
  /** doctor annotations per run folder (`doctor/annotations` replaces a run's list) */
  private readonly annotations = new Map<string, DashboardAnnotation[]>();
  /** the finding whose evidence this dashboard was opened for (its band is emphasised) */
  private focusFinding: string | undefined;
  readonly debug = { firstPaintMs: 0, lastDrawMs: 0, draws: 0, appended: 0, lastAppendMs: 0, pointsDrawn: 0 };

  constructor(private readonly host: HostConnection, private readonly root: HTMLElement) {
    this.build();
    onThemeChange(() => { this.theme = readTheme(); this.layoutKey = ''; this.schedule(); });
    host.on('metrics/append', (p) => {
      const t0 = performance.now();
      const r = this.runs.find((x) => x.run.runDir === p.runDir);
      if (!r) return;
      r.store.appendMetrics(p.records); r.store.appendEvals(p.evals);
      if (p.status) r.run.status = p.status;
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
    bar.append(el('label', { cls: 'ctl' }, el('span', { text: 'smoothing' }), range, val),
      button('reset-zoom', 'Reset zoom', 'show all steps (double-click a chart)', () => { this.zoom = null; this.schedule(); this.save(); }),
      checkbox('follow', 'follow live', this.follow, (v) => { this.follow = v; }), this.runsBox);
    this.grid = el('div', { cls: 'panels', attrs: { id: 'panels' } });
    this.root.append(bar, this.status, this.grid);
    (this as unknown as { rangeEl: HTMLInputElement }).rangeEl = range;
  }

  async init(p: InitParams): Promise<void> {
    const st = p.state;
    if (st?.smoothing !== undefined) { this.smoothing = st.smoothing; const r = this.root.querySelector<HTMLInputElement>('#smoothing'); if (r) r.value = String(st.smoothing); const v = this.root.querySelector('#smoothing-value'); if (v) v.textContent = st.smoothing.toFixed(2); }
    if (st?.zoom) this.zoom = st.zoom;
    await this.setRuns(p.runs);
    if (p.target) this.focus(p.target);
  }

  /** Show a doctor finding's evidence: zoom to its step range (when that narrows the view) and scroll to its curves. */
  focus(t: ViewTarget): void {
    if (t.finding !== undefined) this.focusFinding = t.finding;
    if (t.stepRange) { this.zoom = focusDomain(t.stepRange, this.fullDomain()); this.save(); }
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
      let m: MetricsPayload;
      try { m = await this.host.request('metrics/get', { runDir: run.runDir }); } catch (e) { this.status.textContent = `Could not read ${run.label}: ${(e as Error).message}`; continue; }
      const store = new SeriesStore();
      store.appendMetrics(m.records); store.appendEvals(m.evals);
      loaded.push({ run: m.run, store, rolloutSteps: m.rolloutSteps.slice(), index: k });
    }
    this.runs = loaded;
    this.layoutKey = '';
    this.runsBox.replaceChildren(...this.runs.map((r) => {
      const sw = el('canvas', { cls: 'run-swatch' }) as HTMLCanvasElement;
      const ctx = fitCanvas(sw, 28, 10);
      ctx.strokeStyle = this.theme.fg; ctx.lineWidth = 2; ctx.setLineDash(DASH[r.index % DASH.length]);
      ctx.beginPath(); ctx.moveTo(0, 5); ctx.lineTo(28, 5); ctx.stroke();
      return el('span', { cls: 'run-label', title: r.run.runDir }, sw, el('span', { text: ` ${r.run.label}${r.run.status ? ` (${r.run.status})` : ''}` }));
    }));
    this.drawNow();
    this.debug.firstPaintMs = performance.now() - t0;
    this.save();
  }

  private names(): Set<string> {
    const s = new Set<string>();
    for (const r of this.runs) for (const n of r.store.series.keys()) s.add(n);
    return s;
  }

  private layout(): void {
    const groups = groupMetricNames(this.names());
    const key = JSON.stringify(groups.map((g) => g.names)) + this.theme.kind + this.root.clientWidth;
    if (key === this.layoutKey) return;
    this.layoutKey = key;
    this.panels = [];
    this.grid.replaceChildren();
    const width = this.grid.clientWidth || this.root.clientWidth || 800;
    const cols = Math.max(1, Math.min(3, Math.floor(width / 440)));
    this.grid.style.gridTemplateColumns = `repeat(${cols}, minmax(0, 1fr))`;
    const pw = Math.floor((width - 10 * (cols - 1)) / cols) - 16; // gap 10, panel padding + border 14
    for (const g of groups) {
      const root = el('section', { cls: 'panel', attrs: { 'data-panel': g.id } });
      const legend = el('div', { cls: 'panel-legend' });
      const values = new Map<string, HTMLElement>();
      g.names.forEach((n, k) => {
        const sw = el('span', { cls: 'swatch' });
        sw.style.background = this.theme.series[k % this.theme.series.length];
        const v = el('span', { cls: 'num' });
        values.set(n, v);
        legend.append(el('span', { cls: 'legend-item', title: n }, sw, el('span', { text: ` ${n} ` }), v));
      });
      const plot = el('div', { cls: 'plot' });
      const canvas = el('canvas', { cls: 'plot-canvas' }) as HTMLCanvasElement;
      const cursor = el('canvas', { cls: 'plot-canvas plot-cursor' }) as HTMLCanvasElement;
      const h = 170;
      const svg = select(plot).append('svg').attr('class', 'plot-svg').attr('width', pw).attr('height', h) as unknown as Selection<SVGSVGElement, unknown, null, undefined>;
      plot.prepend(canvas, cursor);
      const tip = el('div', { cls: 'annotation-tip', attrs: { role: 'tooltip' } });
      tip.hidden = true;
      plot.append(tip);
      root.append(el('h3', { text: g.title }), legend, plot);
      this.grid.appendChild(root);
      const p: Panel = { id: g.id, title: g.title, names: g.names, right: new Set(), y2: scaleLinear(), root, canvas, cursor, svg, legend, values, bands: [], tip, x: scaleLinear(), y: scaleLinear(), w: pw, h };
      this.panels.push(p);
      const brush = brushX<unknown>().extent([[M.l, M.t], [pw - M.r, h - M.b]]).on('end', (ev: D3BrushEvent<unknown>) => {
        if (!ev.sourceEvent) return;
        const sel = ev.selection as [number, number] | null;
        if (sel && sel[1] - sel[0] > 3) {
          this.zoom = [p.x.invert(sel[0]), p.x.invert(sel[1])];
          svg.select<SVGGElement>('g.brush').call(brush.move as never, null);
          this.schedule(); this.save();
        } else if (!sel) {
          this.clickThrough();
        }
      });
      svg.append('g').attr('class', 'annotations');
      svg.append('g').attr('class', 'axis x');
      svg.append('g').attr('class', 'axis y');
      svg.append('g').attr('class', 'axis y2');
      svg.append('g').attr('class', 'brush').call(brush as never);
      svg.on('mousemove', (ev: MouseEvent) => {
        const [mx] = [ev.offsetX];
        this.setCursor(p.x.invert(mx));
        this.hoverBands(p, mx);
      });
      svg.on('mouseleave', () => { this.setCursor(null); p.tip.hidden = true; });
      svg.on('dblclick', () => { this.zoom = null; this.schedule(); this.save(); });
    }
  }

  private domainX(): [number, number] {
    return this.zoom ?? this.fullDomain();
  }

  private fullDomain(): [number, number] {
    let lo = Infinity, hi = -Infinity;
    for (const r of this.runs) { lo = Math.min(lo, r.store.minStep); hi = Math.max(hi, r.store.maxStep); }
    if (!Number.isFinite(lo)) return [0, 1];
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
    const allAnnotations = this.runs.flatMap((r) => (this.annotations.get(r.run.runDir) ?? []).map((a) => (many ? { ...a, title: `${r.run.label}: ${a.title}` } : a)));
    for (const p of this.panels) {
      const W = p.w, H = p.h;
      p.x.domain([x0, x1]).range([M.l, W - M.r]);
      const byName = new Map<string, { steps: ArrayLike<number>; values: ArrayLike<number> }[]>();
      for (const r of this.runs) for (const n of p.names) { const s = r.store.series.get(n); if (s) (byName.get(n) ?? byName.set(n, []).get(n)!).push({ steps: s.steps.view(), values: s.values.view() }); }
      p.right = splitAxes(byName, x0, x1);
      const left = [...byName].filter(([n]) => !p.right.has(n)).flatMap(([, v]) => v), right = [...byName].filter(([n]) => p.right.has(n)).flatMap(([, v]) => v);
      p.y.domain(yExtent(left, x0, x1)).range([H - M.b, M.t]).nice();
      p.y2.domain(yExtent(right, x0, x1)).range([H - M.b, M.t]).nice();
      for (const n of p.names) p.values.get(n)!.parentElement!.classList.toggle('right-axis', p.right.has(n));
      const ctx = fitCanvas(p.canvas, W, H);
      ctx.clearRect(0, 0, W, H);
      ctx.save();
      ctx.beginPath(); ctx.rect(M.l, M.t, W - M.l - M.r, H - M.t - M.b); ctx.clip();
      for (const r of this.runs) {
        p.names.forEach((n, k) => {
          const s = r.store.series.get(n);
          if (!s || !s.steps.length) return;
          const steps = s.steps.view(), raw = s.values.view();
          const color = th.series[k % th.series.length];
          ctx.setLineDash(DASH[r.index % DASH.length]);
          const px = W - M.l - M.r;
          const ys = p.right.has(n) ? p.y2 : p.y;
          const sm = this.smoothing > 0 ? emaSmooth(raw, this.smoothing) : raw;
          let idx: number[];
          if (this.smoothing > 0) {
            // raw values as a faint min/max band (one filled polygon), the smoothed line on top at one point per pixel
            const env = envelope(steps, raw, x0, x1, px);
            if (env.x.length > 1) {
              ctx.globalAlpha = 0.18; ctx.fillStyle = color;
              ctx.beginPath();
              for (let k = 0; k < env.x.length; k++) ctx[k ? 'lineTo' : 'moveTo'](p.x(env.x[k]), ys(env.hi[k]));
              for (let k = env.x.length - 1; k >= 0; k--) ctx.lineTo(p.x(env.x[k]), ys(env.lo[k]) + 0.75);
              ctx.closePath(); ctx.fill(); ctx.globalAlpha = 1;
              points += env.x.length * 2;
            }
            idx = decimateLast(steps, x0, x1, px);
          } else idx = decimate(steps, sm, x0, x1, px);
          points += this.line(ctx, p, steps, sm, idx, color, ys);
          if (steps.length === 1 || n.startsWith('eval/')) { // eval points: dots
            ctx.fillStyle = color;
            for (const i of idx) { ctx.beginPath(); ctx.arc(p.x(steps[i]), ys(sm[i]), 2.2, 0, Math.PI * 2); ctx.fill(); }
          }
        });
      }
      ctx.restore();
      ctx.setLineDash([]);
      const ax = p.svg.select<SVGGElement>('g.axis.x').attr('transform', `translate(0,${H - M.b})`).call(axisBottom(p.x).ticks(Math.max(2, Math.floor(W / 90))).tickFormat((d) => fmt(Number(d), 4)));
      const ay = p.svg.select<SVGGElement>('g.axis.y').attr('transform', `translate(${M.l},0)`).call(axisLeft(p.y).ticks(5).tickFormat((d) => fmt(Number(d), 3)));
      const ay2 = p.svg.select<SVGGElement>('g.axis.y2').attr('transform', `translate(${W - M.r},0)`).attr('display', p.right.size ? null : 'none');
      if (p.right.size) ay2.call(axisRight(p.y2).ticks(5).tickFormat((d) => fmt(Number(d), 3)));
      for (const a of [ax, ay, ay2]) { a.selectAll('text').attr('fill', th.muted); a.selectAll('line,path').attr('stroke', th.border); }
      this.drawBands(p, x0, x1, allAnnotations);
      this.drawCursor(p);
    }
    const last = Math.max(...this.runs.map((r) => r.store.maxStep));
    this.status.textContent = this.runs.length ? `${this.names().size} metrics · ${this.runs.length} run(s) · last step ${Number.isFinite(last) ? last : '—'}${this.zoom ? ` · zoom [${fmt(this.zoom[0])}, ${fmt(this.zoom[1])}]` : ''} · drag to zoom, double-click to reset, click to open that step's rollouts` : 'No run selected.';
    this.debug.draws++;
    this.debug.pointsDrawn = points;
    this.debug.lastDrawMs = performance.now() - t0;
  }

  /** Shaded bands (SVG rects under the brush, colour by severity from the theme's CSS variables: media/webview/main.css). */
  private drawBands(p: Panel, x0: number, x1: number, annotations: DashboardAnnotation[]): void {
    p.bands = annotationBands(annotations, p.names, [x0, x1], [M.l, p.w - M.r]);
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

  private line(ctx: CanvasRenderingContext2D, p: Panel, steps: ArrayLike<number>, vals: ArrayLike<number>, idx: number[], color: string, ys: ScaleLinear<number, number>): number {
    ctx.strokeStyle = color; ctx.lineWidth = 1.5;
    ctx.beginPath();
    let pen = false;
    for (const i of idx) {
      const v = vals[i];
      if (!Number.isFinite(v)) { pen = false; continue; }
      const X = p.x(steps[i]), Y = ys(v);
      if (pen) ctx.lineTo(X, Y); else { ctx.moveTo(X, Y); pen = true; }
    }
    ctx.stroke();
    return idx.length;
  }

  private setCursor(step: number | null): void {
    this.cursorStep = step;
    for (const p of this.panels) this.drawCursor(p);
  }

  private drawCursor(p: Panel): void {
    const ctx = fitCanvas(p.cursor, p.w, p.h);
    ctx.clearRect(0, 0, p.w, p.h);
    const step = this.cursorStep;
    const main = this.runs[0];
    for (const n of p.names) {
      const v = p.values.get(n)!;
      if (step === null || !main) { v.textContent = ''; continue; }
      const s = main.store.series.get(n);
      if (!s || !s.steps.length) { v.textContent = ''; continue; }
      const i = nearestIndex(s.steps.view(), step);
      v.textContent = `${fmt(this.smoothing > 0 ? emaSmooth(s.values.view().subarray(0, i + 1), this.smoothing)[i] : s.values.get(i), 4)} @${s.steps.get(i)}`;
    }
    if (step === null) return;
    const X = p.x(step);
    ctx.strokeStyle = this.theme.fg; ctx.globalAlpha = 0.5; ctx.lineWidth = 1;
    ctx.beginPath(); ctx.moveTo(X, M.t); ctx.lineTo(X, p.h - M.b); ctx.stroke();
  }

  private clickThrough(): void {
    if (this.cursorStep === null || !this.runs.length) return;
    const r = this.runs[0];
    const step = nearestRolloutStep(r.rolloutSteps.slice().sort((a, b) => a - b), this.cursorStep);
    if (step === undefined) { this.status.textContent = 'This run has no rollouts to open.'; return; }
    this.host.notify('open/heatmap', { runDir: r.run.runDir, step });
  }

  private save(): void {
    const s: WebviewState = { view: 'dashboard', runDirs: this.runs.map((r) => r.run.runDir), smoothing: this.smoothing, zoom: this.zoom };
    this.host.setState(s);
  }

  snapshot(): Record<string, unknown> {
    return {
      runs: this.runs.map((r) => ({ runDir: r.run.runDir, series: r.store.series.size, maxStep: r.store.maxStep, appended: r.store.appended })),
      panels: this.panels.map((p) => ({ id: p.id, names: p.names.slice(), y: p.y.domain(), x: p.x.domain(), bands: p.bands.map((b) => ({ ...b })) })), focusFinding: this.focusFinding, zoom: this.zoom, smoothing: this.smoothing, cursor: this.cursorStep,
      debug: { ...this.debug }, follow: this.follow,
    };
  }

  /** panel x position of a step (tests) */
  panelPoint(panelId: string, step: number): { x: number; y: number } | undefined {
    const p = this.panels.find((q) => q.id === panelId);
    if (!p) return undefined;
    const r = p.svg.node()!.getBoundingClientRect();
    return { x: r.left + p.x(step), y: r.top + (p.h - M.b + M.t) / 2 };
  }
}
