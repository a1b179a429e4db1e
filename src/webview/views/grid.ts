/**
 * Canvas token grid: rows = samples, columns = token positions. Virtualised in both directions: only the
 * visible cells are drawn, on a canvas that stays in the viewport while a transparent scroller above it provides
 * the scrollbars and mouse events. Hover and pin outlines live on a second canvas so hovering never redraws cells.
 * Token text is drawn with fillText (never HTML). Per-token data comes from the page's window cache
 * (data/stepWindow.ts): cells not yet fetched are drawn as placeholders and fetched (with the rows and blocks
 * around the view, so scrolling finds them there); the cache redraws when they arrive.
 */
import type { MetricDef, StepData } from '../data/step';
import type { StepWindows, WindowBlock } from '../data/stepWindow';
import { displayToken, type DisplayToken } from '../data/tokens';
import { textColorOn } from '../data/scales';
import { fitCanvas, type Theme } from '../theme';

export interface Cell { row: number; sample: number; token: number }

export interface GridModel {
  /** the step's records (sample lengths; per-token data comes from `windows`) */
  step: StepData;
  windows: StepWindows;
  /** sample indices in display order */
  rows: number[];
  metric: MetricDef;
  color: (v: number) => string;
  /** left header text per sample (1–2 short strings) */
  rowLabel: (sample: number) => string[];
  /** "sample:token" keys of search hits */
  hits: Set<string>;
  showClips: boolean;
  /** samples whose group was filtered (drawn with a marker) */
  filtered: Set<number>;
}

export interface GridCallbacks {
  onHover(cell: Cell | null, ev: MouseEvent | null): void;
  onPin(cell: Cell | null): void;
}

export class TokenGrid {
  readonly root: HTMLDivElement;
  private readonly canvas: HTMLCanvasElement;
  private readonly overlay: HTMLCanvasElement;
  private readonly scroller: HTMLDivElement;
  private readonly sizer: HTMLDivElement;
  private model: GridModel | undefined;
  private toks = new WeakMap<WindowBlock, DisplayToken[]>();
  private textWidth = new Map<string, number>();
  rowH = 20;
  cellW = 48;
  headerW = 150;
  readonly headerH = 18;
  hover: Cell | null = null;
  pinned: Cell | null = null;
  private raf = 0;
  /** stats for tests / benchmark */
  readonly stats = { frames: 0, cellsDrawn: 0, lastDrawMs: 0, lastOverlayMs: 0, cellsPending: 0 };

  constructor(private theme: Theme, private readonly cb: GridCallbacks) {
    this.root = document.createElement('div');
    this.root.className = 'grid-root';
    this.canvas = document.createElement('canvas');
    this.canvas.className = 'grid-canvas';
    this.overlay = document.createElement('canvas');
    this.overlay.className = 'grid-canvas grid-overlay';
    this.scroller = document.createElement('div');
    this.scroller.className = 'grid-scroller';
    this.sizer = document.createElement('div');
    this.sizer.className = 'grid-sizer';
    this.scroller.appendChild(this.sizer);
    this.root.append(this.canvas, this.overlay, this.scroller);
    this.scroller.addEventListener('scroll', () => this.schedule());
    this.scroller.addEventListener('mousemove', (ev) => {
      const cell = this.cellAt(ev);
      const same = cell && this.hover && cell.row === this.hover.row && cell.token === this.hover.token;
      if (!same) { this.hover = cell; this.drawOverlay(); }
      this.cb.onHover(cell, ev);
    });
    this.scroller.addEventListener('mouseleave', () => { this.hover = null; this.drawOverlay(); this.cb.onHover(null, null); });
    this.scroller.addEventListener('click', (ev) => {
      const cell = this.cellAt(ev);
      this.setPinned(cell && this.pinned && cell.row === this.pinned.row && cell.token === this.pinned.token ? null : cell);
      this.cb.onPin(this.pinned);
    });
    new ResizeObserver(() => this.schedule()).observe(this.root);
  }

  setTheme(t: Theme): void { this.theme = t; this.textWidth.clear(); this.schedule(); }

  setModel(m: GridModel): void {
    this.model = m;
    if (this.pinned && !m.rows.includes(this.pinned.sample)) this.pinned = null;
    if (this.pinned) this.pinned = { ...this.pinned, row: m.rows.indexOf(this.pinned.sample) };
    this.hover = null;
    this.resize();
    this.drawNow();
  }

  setCellWidth(w: number): void { this.cellW = w; this.resize(); this.schedule(); }

  get scrollTop(): number { return this.scroller.scrollTop; }
  set scrollTop(v: number) { this.scroller.scrollTop = v; }

  private width(): number {
    const m = this.model;
    if (!m) return 0;
    let w = 0;
    for (const i of m.rows) w = Math.max(w, m.step.samples[i].length);
    return w;
  }

  private resize(): void {
    const m = this.model;
    this.sizer.style.width = `${this.headerW + this.width() * this.cellW}px`;
    this.sizer.style.height = `${this.headerH + (m ? m.rows.length : 0) * this.rowH}px`;
  }

  private tokensOf(b: WindowBlock): DisplayToken[] { let v = this.toks.get(b); if (!v) { v = b.tokens.map(displayToken); this.toks.set(b, v); } return v; }

  /**
   * The tokens the grid draws for a sample (as displayToken shows them), fetching the sample's blocks it lacks: what
   * the canvas fillTexts per cell. For tests and the screenshot script; the drawing path reads the same blocks.
   */
  async tokens(sample: number): Promise<DisplayToken[]> {
    const m = this.model;
    if (!m) return [];
    const n = m.step.samples[sample]?.length ?? 0;
    const cells = m.windows.blocksOf(sample, 0, n).map((k) => [sample, k] as [number, number]);
    await m.windows.want(cells);
    const out: DisplayToken[] = [];
    for (const [, k] of cells) { const b = m.windows.get(sample, k); if (b) out.push(...this.tokensOf(b)); }
    return out.slice(0, n);
  }

  /** Rows [r0, r1) and tokens [c0, c1) in view now. */
  visibleRange(): { r0: number; r1: number; c0: number; c1: number } {
    const m = this.model;
    const H = this.root.clientHeight, W = this.root.clientWidth;
    const sx = this.scroller.scrollLeft, sy = this.scroller.scrollTop;
    const rows = m ? m.rows.length : 0;
    return {
      r0: Math.max(0, Math.floor(sy / this.rowH)), r1: Math.min(rows, Math.ceil((sy + H - this.headerH) / this.rowH)),
      c0: Math.max(0, Math.floor(sx / this.cellW)), c1: Math.max(0, Math.ceil((sx + W - this.headerW) / this.cellW)),
    };
  }

  /** The (sample, block) cells of the view, and those a view further each way (fetch-ahead). */
  windowCells(ahead = true): { visible: [number, number][]; around: [number, number][] } {
    const m = this.model;
    if (!m) return { visible: [], around: [] };
    const { r0, r1, c0, c1 } = this.visibleRange();
    const cells = (a: number, b: number, t0: number, t1: number) => {
      const out: [number, number][] = [];
      for (let r = Math.max(0, a); r < Math.min(m.rows.length, b); r++) for (const k of m.windows.blocksOf(m.rows[r], t0, t1)) out.push([m.rows[r], k]);
      return out;
    };
    const visible = cells(r0, r1, c0, c1);
    if (!ahead) return { visible, around: [] };
    const dr = Math.max(1, r1 - r0), dc = Math.max(1, c1 - c0);
    const around = cells(r0 - dr, r1 + dr, Math.max(0, c0 - dc), c1 + dc).filter(([s, b]) => !visible.some(([s2, b2]) => s2 === s && b2 === b));
    return { visible, around };
  }

  /** Fetch what the view shows (then what lies around it); resolves when the view's cells are there. */
  async fetchView(): Promise<void> {
    const m = this.model;
    if (!m) return;
    const { visible, around } = this.windowCells();
    m.windows.setVisible(visible);
    const first = m.windows.want(visible);
    if (around.length) void first.then(() => m.windows.want(around));
    await first;
  }

  cellAt(ev: MouseEvent): Cell | null {
    const m = this.model;
    if (!m) return null;
    const r = this.scroller.getBoundingClientRect();
    const x = ev.clientX - r.left, y = ev.clientY - r.top;
    if (x < this.headerW || y < this.headerH) return null;
    const row = Math.floor((y - this.headerH + this.scroller.scrollTop) / this.rowH);
    const token = Math.floor((x - this.headerW + this.scroller.scrollLeft) / this.cellW);
    if (row < 0 || row >= m.rows.length) return null;
    const sample = m.rows[row];
    if (token < 0 || token >= m.step.samples[sample].length) return null;
    return { row, sample, token };
  }

  /** The sample whose row header (left column) is under the pointer, if any. */
  headerSampleAt(ev: MouseEvent): number | undefined {
    const m = this.model;
    if (!m) return undefined;
    const r = this.scroller.getBoundingClientRect();
    const x = ev.clientX - r.left, y = ev.clientY - r.top;
    if (x < 0 || x >= this.headerW || y < this.headerH) return undefined;
    const row = Math.floor((y - this.headerH + this.scroller.scrollTop) / this.rowH);
    return row >= 0 && row < m.rows.length ? m.rows[row] : undefined;
  }

  setPinned(c: Cell | null): void { this.pinned = c; this.drawOverlay(); }

  /** Scroll so that a cell is visible. */
  reveal(c: Cell): void {
    const s = this.scroller;
    const y = c.row * this.rowH, x = c.token * this.cellW;
    const vh = s.clientHeight - this.headerH, vw = s.clientWidth - this.headerW;
    if (y < s.scrollTop) s.scrollTop = y; else if (y + this.rowH > s.scrollTop + vh) s.scrollTop = y + this.rowH - vh;
    if (x < s.scrollLeft) s.scrollLeft = x; else if (x + this.cellW > s.scrollLeft + vw) s.scrollLeft = x + this.cellW - vw;
    this.schedule();
  }

  /** Client rectangle of a cell (for tooltips and tests). */
  cellRect(c: Cell): DOMRect {
    const r = this.scroller.getBoundingClientRect();
    return new DOMRect(r.left + this.headerW + c.token * this.cellW - this.scroller.scrollLeft, r.top + this.headerH + c.row * this.rowH - this.scroller.scrollTop, this.cellW, this.rowH);
  }

  schedule(): void {
    if (this.raf) return;
    this.raf = requestAnimationFrame(() => { this.raf = 0; this.drawNow(); });
  }

  drawNow(): void {
    const t0 = performance.now();
    const W = this.root.clientWidth, H = this.root.clientHeight;
    const ctx = fitCanvas(this.canvas, W, H);
    const th = this.theme;
    ctx.fillStyle = th.palette.background;
    ctx.fillRect(0, 0, W, H);
    const m = this.model;
    let cells = 0;
    if (m) {
      const sx = this.scroller.scrollLeft, sy = this.scroller.scrollTop;
      const rh = this.rowH, cw = this.cellW, HW = this.headerW, HH = this.headerH;
      const r0 = Math.max(0, Math.floor(sy / rh)), r1 = Math.min(m.rows.length, Math.ceil((sy + H - HH) / rh));
      const c0 = Math.max(0, Math.floor(sx / cw)), c1 = Math.ceil((sx + W - HW) / cw);
      const drawText = cw >= 22;
      ctx.font = `12px ${th.mono}`;
      ctx.textBaseline = 'middle';
      ctx.save();
      ctx.beginPath(); ctx.rect(HW, HH, W - HW, H - HH); ctx.clip();
      let pending = 0;
      const B = m.windows.blockTokens;
      for (let r = r0; r < r1; r++) {
        const i = m.rows[r];
        const y = HH + r * rh - sy;
        const end = Math.min(c1, m.step.samples[i].length);
        for (let t = c0; t < end;) {
          const blk = m.windows.get(i, Math.floor(t / B));
          const bEnd = Math.min(end, (Math.floor(t / B) + 1) * B);
          if (!blk) {
            // not fetched yet: a placeholder (fetchView asks for it)
            ctx.fillStyle = th.border; ctx.globalAlpha = 0.25;
            for (; t < bEnd; t++) ctx.fillRect(HW + t * cw - sx, y, cw - 1, rh - 1);
            ctx.globalAlpha = 1;
            pending++;
            continue;
          }
          const v = m.windows.metric(blk, m.metric.id), mk = m.windows.mask(blk), cl = m.showClips ? m.windows.array(blk, 'clip') : undefined;
          const toks = drawText ? this.tokensOf(blk) : undefined;
          for (; t < bEnd; t++) {
            const k = t - blk.t0;
            const x = HW + t * cw - sx;
            const val = v[k];
            const col = Number.isFinite(val) ? m.color(val) : th.palette.background;
            ctx.globalAlpha = mk[k] > 0 ? 1 : 0.3;
            ctx.fillStyle = col;
            ctx.fillRect(x, y, cw - 1, rh - 1);
            ctx.globalAlpha = 1;
            if (toks && toks[k]) {
              const tk = toks[k];
              // special tokens (<eos>, <pad>…) in italics so they stand apart from text that merely looks like them
              ctx.fillStyle = textColorOn(col);
              if (tk.special) { ctx.font = `italic 12px ${th.mono}`; ctx.globalAlpha = 0.8; }
              this.fitText(ctx, tk.text, x + 3, y + rh / 2, cw - 6);
              if (tk.special) { ctx.font = `12px ${th.mono}`; ctx.globalAlpha = 1; }
            }
            if (cl && cl[k] > 0) this.clipMarker(ctx, cl[k], x, y, cw - 1, rh - 1);
            if (m.hits.size && m.hits.has(`${i}:${t}`)) { ctx.strokeStyle = th.focus; ctx.lineWidth = 2; ctx.strokeRect(x + 1, y + 1, cw - 3, rh - 3); }
            cells++;
          }
        }
      }
      this.stats.cellsPending = pending;
      if (pending || m.windows.missing(this.windowCells().around).length) void this.fetchView();
      ctx.restore();
      // row headers (sticky left)
      ctx.fillStyle = th.palette.background;
      ctx.fillRect(0, HH, HW, H - HH);
      ctx.font = `11px ${th.font}`;
      for (let r = r0; r < r1; r++) {
        const i = m.rows[r];
        const y = HH + r * rh - sy;
        const lab = m.rowLabel(i);
        ctx.fillStyle = m.filtered.has(i) ? th.muted : th.fg;
        this.fitText(ctx, lab.join('  '), 4, y + rh / 2, HW - 8);
      }
      ctx.strokeStyle = th.border; ctx.lineWidth = 1;
      ctx.beginPath(); ctx.moveTo(HW - 0.5, 0); ctx.lineTo(HW - 0.5, H); ctx.stroke();
      // column header (sticky top)
      ctx.fillStyle = th.palette.background;
      ctx.fillRect(0, 0, W, HH);
      ctx.fillStyle = th.muted;
      const every = Math.max(1, Math.ceil(30 / cw));
      for (let t = c0; t < Math.min(c1, this.width()); t++) {
        if (t % every) continue;
        const x = HW + t * cw - sx;
        if (x >= HW - 1) ctx.fillText(String(t), x + 2, HH / 2);
      }
      ctx.beginPath(); ctx.moveTo(0, HH - 0.5); ctx.lineTo(W, HH - 0.5); ctx.stroke();
    }
    this.stats.frames++;
    this.stats.cellsDrawn = cells;
    this.stats.lastDrawMs = performance.now() - t0;
    this.drawOverlay();
  }

  private clipMarker(ctx: CanvasRenderingContext2D, code: number, x: number, y: number, w: number, h: number): void {
    const p = this.theme.palette;
    const s = Math.min(8, h * 0.45);
    if (code === 1 || code === 3) { // low: triangle bottom-left (ratio pushed down)
      ctx.fillStyle = code === 3 ? p.clipDual : p.clipLow;
      ctx.beginPath(); ctx.moveTo(x, y + h); ctx.lineTo(x + s, y + h); ctx.lineTo(x, y + h - s); ctx.closePath(); ctx.fill();
    }
    if (code === 2 || code === 3) { // high: triangle top-right (ratio pushed up)
      ctx.fillStyle = code === 3 ? p.clipDual : p.clipHigh;
      ctx.beginPath(); ctx.moveTo(x + w, y); ctx.lineTo(x + w - s, y); ctx.lineTo(x + w, y + s); ctx.closePath(); ctx.fill();
    }
    if (code === 3) { ctx.strokeStyle = p.clipDual; ctx.lineWidth = 1.5; ctx.strokeRect(x + 0.75, y + 0.75, w - 1.5, h - 1.5); }
  }

  private fitText(ctx: CanvasRenderingContext2D, text: string, x: number, y: number, maxW: number): void {
    let w = this.textWidth.get(text);
    if (w === undefined) { w = ctx.measureText(text).width; if (this.textWidth.size > 20000) this.textWidth.clear(); this.textWidth.set(text, w); }
    if (w <= maxW) { ctx.fillText(text, x, y); return; }
    // truncate with an ellipsis
    const chars = [...text];
    const per = w / Math.max(1, chars.length);
    const n = Math.max(0, Math.floor((maxW - per) / per));
    ctx.fillText(chars.slice(0, n).join('') + '…', x, y);
  }

  drawOverlay(): void {
    const t0 = performance.now();
    const W = this.root.clientWidth, H = this.root.clientHeight;
    const ctx = fitCanvas(this.overlay, W, H);
    ctx.clearRect(0, 0, W, H);
    const sx = this.scroller.scrollLeft, sy = this.scroller.scrollTop;
    const box = (c: Cell, color: string, lw: number) => {
      const x = this.headerW + c.token * this.cellW - sx, y = this.headerH + c.row * this.rowH - sy;
      if (x + this.cellW < this.headerW || y + this.rowH < this.headerH) return;
      ctx.strokeStyle = color; ctx.lineWidth = lw;
      ctx.strokeRect(x + lw / 2, y + lw / 2, this.cellW - 1 - lw, this.rowH - 1 - lw);
    };
    if (this.hover) box(this.hover, this.theme.fg, 1);
    if (this.pinned) {
      // row band + thick box
      const y = this.headerH + this.pinned.row * this.rowH - sy;
      ctx.fillStyle = this.theme.focus; ctx.globalAlpha = 0.12; ctx.fillRect(0, y, W, this.rowH - 1); ctx.globalAlpha = 1;
      box(this.pinned, this.theme.focus, 2.5);
    }
    this.stats.lastOverlayMs = performance.now() - t0;
  }
}
