/**
 * Token heatmap and group view (one class, two modes). Data arrives with `rollout/getStep`; everything shown
 * is computed by the pure functions in ../data and drawn on canvas (TokenGrid) or as text nodes.
 */
import { toRolloutStep, type FilterSpec, type InitParams, type SortKey, type SortSpec, type StepPayload, type ViewTarget, type WebviewState } from '../../shared/protocol';
import { CLIP_CODE } from '../../shared/runFormat';
import type { HostConnection } from '../rpc';
import { availableMetrics, groupSummary, metricDef, sampleArray, sampleStats, searchTokens, sortAndFilter, metricValues, metricValuesOver, type MetricDef, type SampleStats, type StepData } from '../data/step';
import { divergingScale, fmt, robustDomain, sequentialScale, type RobustDomain } from '../data/scales';
import { drillDown, type DrillDown } from '../data/drilldown';
import { codePoints, displayText, displayToken } from '../data/tokens';
import { onThemeChange, readTheme, el, type Theme } from '../theme';
import { button, checkbox, select, setOptions, textfield, type SelectEl } from '../controls';
import { TokenGrid, type Cell } from './grid';
import { drawLegend } from './legend';

const CLIP_NAMES = ['none', 'low', 'high', 'dual'];
const PERCENTILES: Record<string, [number, number]> = { '1-99': [1, 99], '5-95': [5, 95], '0.1-99.9': [0.1, 99.9], '0-100': [0, 100] };

const optionsOf = (s: SelectEl) => [...s.querySelectorAll('vscode-option')].map((o) => ({ value: o.getAttribute('value')!, label: o.textContent!, title: o.getAttribute('description') ?? undefined }));

export class RolloutView {
  private theme: Theme = readTheme();
  private step: StepData | undefined;
  private stats: SampleStats[] = [];
  private steps: number[] = [];
  private runDir = '';
  private stepNo: number | undefined;
  private group: string | undefined;
  private metric = 'advantage';
  private sort: SortSpec = { key: 'index', descending: false };
  private filter: FilterSpec = { groups: 'all' };
  private search = '';
  private pct = '1-99';
  private showClips = true;
  private cellW = 48;
  private rows: number[] = [];
  private hits: { sample: number; token: number }[] = [];
  private hitIndex = -1;
  private domain: RobustDomain | undefined;
  private color: (v: number) => string = () => '#000';
  private readonly grid: TokenGrid;
  private readonly els: Record<string, HTMLElement> = {};
  private selPct!: SelectEl; private selW!: SelectEl;
  private selStep!: SelectEl; private selMetric!: SelectEl; private selGroup!: SelectEl; private selSort!: SelectEl; private selFilter!: SelectEl;
  /** for tests and the benchmark */
  readonly debug = { loadMs: 0, firstPaintMs: 0, domainMs: 0, hoverMs: 0, lastDrill: undefined as DrillDown | undefined };

  constructor(private readonly mode: 'heatmap' | 'group', private readonly host: HostConnection, private readonly root: HTMLElement) {
    this.grid = new TokenGrid(this.theme, {
      onHover: (c, ev) => this.hover(c, ev),
      onPin: (c) => this.pin(c),
    });
    this.grid.headerW = mode === 'group' ? 220 : 150;
    this.build();
    onThemeChange(() => { this.theme = readTheme(); this.grid.setTheme(this.theme); this.recolor(); });
    host.on('view/show', (t) => void this.show(t));
    host.on('rollout/stepAdded', (p) => {
      if (p.runDir !== this.runDir || this.steps.includes(p.step)) return;
      this.steps = [...this.steps, p.step].sort((a, b) => a - b);
      this.fillSteps();
    });
  }

  private build(): void {
    const bar = el('div', { cls: 'toolbar', attrs: { role: 'toolbar' } });
    this.selStep = select('step', 'Step', [], '', (v) => void this.loadStep(Number(v)));
    this.selGroup = select('group', 'Group', [], '', (v) => { this.group = v || undefined; this.refresh(true); this.selectionChanged(); });
    this.selMetric = select('metric', 'Metric', [], this.metric, (v) => { this.metric = v; this.refresh(false); });
    this.selSort = select('sort', 'Sort samples by', (['index', 'reward', 'advantage', 'kl', 'length', 'clips'] as SortKey[]).flatMap((k) => [
      { value: `${k}:asc`, label: `${k} ↑` }, { value: `${k}:desc`, label: `${k} ↓` }]), 'index:asc', (v) => {
      const [key, d] = v.split(':'); this.sort = { key: key as SortKey, descending: d === 'desc' }; this.refresh(true);
    });
    this.selFilter = select('filter', 'Filter samples', [{ value: 'all', label: 'all groups' }, { value: 'kept', label: 'kept groups' }, { value: 'filtered', label: 'filtered groups' }], 'all', (v) => {
      this.filter = { ...this.filter, groups: v as FilterSpec['groups'] }; this.refresh(true);
    });
    const selPct = this.selPct = select('pct', 'Colour domain percentiles', Object.keys(PERCENTILES).map((k) => ({ value: k, label: `p${k.replace('-', '–p')}` })), this.pct, (v) => { this.pct = v; this.refresh(false); this.saveState(); });
    const selW = this.selW = select('cellw', 'Cell width', [['12', 'overview'], ['32', 'narrow'], ['48', 'normal'], ['80', 'wide']].map(([v, l]) => ({ value: v, label: l })), String(this.cellW), (v) => { this.cellW = Number(v); this.grid.setCellWidth(this.cellW); this.saveState(); });
    const search = textfield('search', 'search tokens (/)', '', (v) => { this.search = v; this.updateSearch(); });
    const clipBox = checkbox('clips', 'clip markers', this.showClips, (v) => { this.showClips = v; this.refresh(false); });
    const lab = (t: string, c: HTMLElement) => el('label', { cls: 'ctl' }, el('span', { text: t }), c);
    bar.append(
      lab('step', this.selStep),
      ...(this.mode === 'group' ? [lab('group', this.selGroup), button('prev-group', '◀', 'previous group ([)', () => this.moveGroup(-1)), button('next-group', '▶', 'next group (])', () => this.moveGroup(1))] : [lab('group', this.selGroup)]),
      lab('metric', this.selMetric), lab('sort', this.selSort), lab('show', this.selFilter), lab('domain', selPct), lab('cells', selW), search, clipBox,
      button('open-other', this.mode === 'heatmap' ? 'Group view' : 'Heatmap', this.mode === 'heatmap' ? 'open the group of the pinned sample (g)' : 'open this step in the heatmap', () => this.openOther()),
    );
    this.els.search = search;
    const legend = el('div', { cls: 'legend', attrs: { id: 'legend' } });
    const status = el('div', { cls: 'status', attrs: { id: 'status', 'aria-live': 'polite' } });
    const summary = el('div', { cls: 'group-summary', attrs: { id: 'group-summary' } });
    const tooltip = el('div', { cls: 'tooltip', attrs: { id: 'tooltip', role: 'tooltip' } });
    tooltip.hidden = true;
    const drill = el('div', { cls: 'drill', attrs: { id: 'drill', 'aria-live': 'polite' } });
    const main = el('div', { cls: 'main' }, this.grid.root, drill);
    this.grid.root.tabIndex = 0;
    this.grid.root.setAttribute('aria-label', 'token heatmap: arrow keys move the pinned token');
    this.grid.root.id = 'grid';
    this.root.append(bar, legend, ...(this.mode === 'group' ? [summary] : []), status, main, tooltip);
    drill.append(el('div', { cls: 'muted', text: 'Click a token to pin it and see how its credit arose. Arrow keys move, Esc unpins.' }));
    Object.assign(this.els, { legend, status, summary, tooltip, drill });
    this.grid.root.addEventListener('keydown', (e) => this.key(e));
    document.addEventListener('keydown', (e) => {
      if (e.key === '/' && document.activeElement !== search) { e.preventDefault(); (search as HTMLElement).focus(); }
    });
  }

  async init(p: InitParams): Promise<void> {
    const st = p.state;
    if (st) {
      this.metric = st.metric ?? this.metric; this.sort = st.sort ?? this.sort; this.filter = st.filter ?? this.filter; this.search = st.search ?? '';
      if (st.percentiles && PERCENTILES[st.percentiles]) { this.pct = st.percentiles; setOptions(this.selPct, optionsOf(this.selPct), this.pct); }
      if (st.cellWidth && [12, 32, 48, 80].includes(st.cellWidth)) { this.cellW = st.cellWidth; this.grid.setCellWidth(this.cellW); setOptions(this.selW, optionsOf(this.selW), String(this.cellW)); }
      (this.els.search as HTMLElement & { value: string }).value = this.search;
      setOptions(this.selSort, [...this.selSort.querySelectorAll('vscode-option')].map((o) => ({ value: o.getAttribute('value')!, label: o.textContent! })), `${this.sort.key}:${this.sort.descending ? 'desc' : 'asc'}`);
      setOptions(this.selFilter, [...this.selFilter.querySelectorAll('vscode-option')].map((o) => ({ value: o.getAttribute('value')!, label: o.textContent! })), this.filter.groups);
    }
    const target = p.target ?? st?.target ?? (p.runs[0] ? { runDir: p.runs[0].runDir } : undefined);
    if (!target) { this.setStatus('No run to show. Open a run in the RL Lens view first.'); return; }
    await this.show(target, st?.scrollTop);
  }

  /** Navigate to a target (command, tree selection, dashboard click). */
  async show(t: ViewTarget, scrollTop?: number): Promise<void> {
    if (t.runDir !== this.runDir) {
      this.runDir = t.runDir;
      this.steps = await this.host.request('rollout/listSteps', { runDir: t.runDir });
      this.fillSteps();
    }
    if (!this.steps.length) { this.setStatus('This run has no rollout steps yet (the trainer writes them every few steps).'); return; }
    const step = t.step !== undefined && this.steps.includes(t.step) ? t.step : t.step !== undefined ? this.steps.reduce((a, b) => (Math.abs(b - t.step!) < Math.abs(a - t.step!) ? b : a)) : this.steps[this.steps.length - 1];
    if (t.metric) this.metric = t.metric; // e.g. a doctor finding's evidence; loadStep falls back when the step lacks that array
    if (t.group !== undefined) this.group = t.group;
    else if (t.sample === undefined && this.mode === 'heatmap') this.group = undefined;
    await this.loadStep(step, t.sample, t.token);
    if (scrollTop !== undefined) this.grid.scrollTop = scrollTop;
  }

  private fillSteps(): void {
    setOptions(this.selStep, this.steps.map((s) => ({ value: String(s), label: `step ${s}` })), String(this.stepNo ?? ''));
  }

  private async loadStep(step: number, sample?: number, token?: number): Promise<void> {
    const t0 = performance.now();
    this.setStatus(`loading step ${step}…`);
    let payload: StepPayload;
    try { payload = await this.host.request('rollout/getStep', { runDir: this.runDir, step }); } catch (e) { this.setStatus(`Could not load step ${step}: ${(e as Error).message}`); return; }
    const t1 = performance.now();
    this.stepNo = step;
    this.step = toRolloutStep(payload);
    this.stats = sampleStats(this.step);
    const metrics = availableMetrics(this.step);
    if (!metrics.some((m) => m.id === this.metric)) this.metric = metrics[0]?.id ?? 'advantage';
    setOptions(this.selMetric, metrics.map((m) => ({ value: m.id, label: m.label, title: m.description })), this.metric);
    this.fillSteps();
    const groups = payload.header.groups;
    if (this.mode === 'group' && (!this.group || !groups.some((g) => g.id === this.group))) {
      this.group = sample !== undefined ? payload.samples[sample]?.group : groups[0]?.id;
    }
    if (this.group && !groups.some((g) => g.id === this.group)) this.group = undefined;
    setOptions(this.selGroup, [...(this.mode === 'heatmap' ? [{ value: '', label: 'all groups' }] : []),
      ...groups.map((g) => ({ value: g.id, label: `${g.id}  μ=${fmt(g.mean, 3)}${g.filtered ? '  ⊘ filtered' : ''}`, title: displayText(g.prompt) }))], this.group ?? '');
    this.refresh(true);
    if (!metrics.length) this.setStatus(`step ${step} kept no per-token arrays (the trainer stores them every few steps: pick another step); token text is shown`);
    if (payload.problems.length) this.setStatus(`${payload.problems.length} problem(s) reading this step: ${payload.problems.slice(0, 3).join('; ')}`);
    if (sample !== undefined && this.rows.includes(sample)) {
      const c: Cell = { row: this.rows.indexOf(sample), sample, token: Math.min(token ?? 0, payload.samples[sample].length - 1) };
      this.grid.setPinned(c); this.grid.reveal(c); this.pin(c, false);
    }
    this.debug.loadMs = t1 - t0;
    this.debug.firstPaintMs = performance.now() - t0;
  }

  /** Recompute rows/domain and redraw. `rowsChanged`: sort/filter/group changed. */
  private refresh(rowsChanged: boolean): void {
    const st = this.step;
    if (!st) return;
    if (rowsChanged || !this.rows.length) {
      let rows = sortAndFilter(this.stats, this.sort, this.filter);
      if (this.group) rows = rows.filter((i) => st.samples[i].group === this.group);
      this.rows = rows;
    }
    const m = metricDef(this.metric);
    const t0 = performance.now();
    const [pl, ph] = PERCENTILES[this.pct] ?? [1, 99];
    this.domain = m.categorical ? { lo: 0, hi: 3, rawMin: 0, rawMax: 3, clipped: false, count: 0, pLow: 0, pHigh: 100 } : robustDomain(metricValuesOver(st, this.rows, m.id), { signed: m.signed, pLow: pl, pHigh: ph });
    this.debug.domainMs = performance.now() - t0;
    this.recolor();
    this.updateSearch(false);
    if (this.mode === 'group') this.renderSummary();
    this.setStatus(`step ${this.stepNo} · ${this.rows.length} of ${st.samples.length} samples · ${st.header.groups.length} groups · ${st.header.algorithm ?? ''}`);
    this.saveState();
  }

  private recolor(): void {
    const m = metricDef(this.metric);
    const d = this.domain;
    if (!d || !this.step) return;
    const pal = this.theme.palette;
    this.color = m.categorical ? (v) => [pal.background, pal.clipLow, pal.clipHigh, pal.clipDual][v] ?? pal.background : m.signed ? divergingScale(d, pal) : sequentialScale(d, pal);
    drawLegend(this.els.legend, m, d, this.color, this.theme, this.showClips);
    this.pushModel();
  }

  private pushModel(): void {
    const st = this.step!;
    const groups = new Map(st.header.groups.map((g) => [g.id, g]));
    const filtered = new Set<number>();
    for (const i of this.rows) if (groups.get(st.samples[i].group)?.filtered) filtered.add(i);
    this.grid.setModel({
      step: st, rows: this.rows, metric: metricDef(this.metric), color: this.color, showClips: this.showClips && this.metric !== 'clip',
      hits: new Set(this.hits.map((h) => `${h.sample}:${h.token}`)), filtered,
      rowLabel: (i) => {
        const s = st.samples[i], ss = this.stats[i];
        const base = [`#${i}`, `r ${fmt(s.reward, 3)}`, `A ${fmt(ss.advantage, 3)}`];
        if (this.mode === 'group') base.push(...Object.entries(s.rewardParts ?? {}).map(([k, v]) => `${k.slice(0, 4)} ${fmt(v, 2)}`));
        else base.splice(1, 0, s.group);
        return [filtered.has(i) ? '⊘' : '', ...base].filter(Boolean);
      },
    });
  }

  private updateSearch(redraw = true): void {
    if (!this.step) return;
    this.hits = searchTokens(this.step, this.rows, this.search);
    this.hitIndex = -1;
    if (redraw) this.pushModel();
    if (this.search) this.setStatus(`“${displayText(this.search)}”: ${this.hits.length} token(s) match · n / N to jump`);
    this.saveState();
  }

  private hover(c: Cell | null, ev: MouseEvent | null): void {
    const t0 = performance.now();
    const tip = this.els.tooltip;
    if (!c || !ev || !this.step) { tip.hidden = true; return; }
    const st = this.step, s = st.samples[c.sample];
    const tok = displayToken(s.tokens[c.token] ?? '');
    const rows: [string, string][] = [];
    for (const name of st.header.arrays) {
      const a = sampleArray(st, c.sample, name);
      if (!a) continue;
      rows.push([name, name === 'clip' ? CLIP_NAMES[a[c.token]] ?? String(a[c.token]) : name === 'mask' ? (a[c.token] > 0 ? 'valid' : 'masked') : fmt(a[c.token], 5)]);
    }
    if (st.header.arrays.includes('logprob') && st.header.arrays.includes('ref_logprob')) rows.push(['logprob − ref', fmt(metricValues(st, c.sample, 'logprob_minus_ref')[c.token], 5)]);
    tip.replaceChildren(
      el('div', { cls: 'tip-token', text: tok.text }),
      ...(tok.escaped || tok.special ? [el('div', { cls: 'tip-cp', text: codePoints(s.tokens[c.token] ?? '') })] : []),
      el('div', { cls: 'tip-where', text: `sample ${c.sample} · token ${c.token} of ${s.length} · group ${s.group} · reward ${fmt(s.reward)}` }),
      el('table', {}, ...rows.map(([k, v]) => el('tr', {}, el('td', { text: k }), el('td', { cls: k === metricDef(this.metric).needs[0] ? 'num cur' : 'num', text: v })))),
    );
    tip.hidden = false;
    const vw = window.innerWidth, vh = window.innerHeight;
    const w = tip.offsetWidth, h = tip.offsetHeight;
    let x = ev.clientX + 14, y = ev.clientY + 14;
    if (x + w > vw) x = Math.max(0, ev.clientX - w - 10);
    if (y + h > vh) y = Math.max(0, ev.clientY - h - 10);
    tip.style.left = `${x}px`; tip.style.top = `${y}px`;
    this.debug.hoverMs = performance.now() - t0;
  }

  private pin(c: Cell | null, notify = true): void {
    const drill = this.els.drill;
    if (!c || !this.step) { drill.replaceChildren(el('div', { cls: 'muted', text: 'Click a token to pin it and see how its credit arose. Arrow keys move, Esc unpins.' })); this.debug.lastDrill = undefined; return; }
    const dd = drillDown(this.step, c.sample, c.token);
    this.debug.lastDrill = dd;
    this.renderDrill(dd, c);
    if (notify) this.selectionChanged(c);
    this.saveState();
  }

  private renderDrill(dd: DrillDown, c: Cell): void {
    const st = this.step!, s = st.samples[c.sample];
    const tok = displayToken(s.tokens[c.token] ?? '');
    const out: HTMLElement[] = [
      el('h3', { text: dd.title }),
      el('div', { cls: 'drill-token' }, el('span', { text: 'token ' }), el('code', { text: tok.text })),
      el('table', { cls: 'drill-lines' }, ...dd.lines.map((l) => el('tr', {}, el('td', { text: l.label }), el('td', { cls: 'num', text: typeof l.value === 'number' ? fmt(l.value, 6) : l.value }), el('td', { cls: 'muted', text: l.note ?? '' })))),
    ];
    if (dd.terms) {
      const shown = dd.terms.slice(0, 10);
      const rest = dd.terms.slice(10);
      const restSum = rest.reduce((a, x) => a + x.contribution, 0);
      out.push(el('h4', { text: 'A_t as the discounted sum of TD residuals' }), el('table', { cls: 'drill-terms' },
        el('tr', {}, ...['position', '(γλ)^k', 'δ', 'contribution'].map((h) => el('th', { text: h }))),
        ...shown.map((x) => el('tr', {}, el('td', { text: String(x.position) }), el('td', { cls: 'num', text: fmt(x.weight, 5) }), el('td', { cls: 'num', text: fmt(x.delta, 5) }), el('td', { cls: 'num', text: fmt(x.contribution, 6) }))),
        ...(rest.length ? [el('tr', {}, el('td', { text: `… ${rest.length} more` }), el('td'), el('td'), el('td', { cls: 'num', text: fmt(restSum, 6) }))] : []),
        el('tr', { cls: 'sum' }, el('td', { text: 'Σ = A_t' }), el('td'), el('td'), el('td', { cls: 'num', text: fmt(dd.terms.reduce((a, x) => a + x.contribution, 0), 6) }))));
    }
    if (dd.group) {
      out.push(el('h4', { text: 'The group this sample was judged against' }));
      const max = Math.max(1e-9, ...dd.group.map((g) => Math.abs(g.advantage)));
      out.push(el('table', { cls: 'drill-group' },
        el('tr', {}, ...['sample', 'reward', 'advantage', ''].map((h) => el('th', { text: h }))),
        ...dd.group.map((g) => {
          const bar = el('span', { cls: `bar ${g.advantage >= 0 ? 'pos' : 'neg'}` });
          bar.style.width = `${Math.round((Math.abs(g.advantage) / max) * 60)}px`;
          return el('tr', { cls: g.self ? 'self' : '' }, el('td', { text: `#${g.sample}${g.self ? ' (this)' : ''}` }), el('td', { cls: 'num', text: fmt(g.reward, 4) }), el('td', { cls: 'num', text: fmt(g.advantage, 4) }), el('td', {}, bar));
        })));
    }
    if (dd.checks.length) {
      out.push(el('h4', { text: 'Checks against what the trainer stored' }), el('ul', { cls: 'checks' }, ...dd.checks.map((k) => el('li', { cls: k.ok ? 'ok' : 'bad', text: `${k.ok ? '✓' : '✗'} ${k.label}: computed ${fmt(k.computed, 6)}, stored ${fmt(k.stored, 6)}` }))));
    }
    this.els.drill.replaceChildren(...out);
  }

  private renderSummary(): void {
    const st = this.step!;
    const box = this.els.summary;
    if (!this.group) { box.replaceChildren(el('div', { cls: 'muted', text: 'no group' })); return; }
    const gs = groupSummary(st, this.group);
    if (!gs) { box.replaceChildren(); return; }
    const parts = gs.partNames;
    box.replaceChildren(
      el('div', { cls: 'prompt' }, el('span', { cls: 'muted', text: 'prompt ' }), el('code', { attrs: { id: 'group-prompt' }, text: displayText(gs.prompt) }),
        ...(gs.answer !== undefined ? [el('span', { cls: 'muted', text: '  answer ' }), el('code', { text: displayText(gs.answer) })] : [])),
      el('div', { cls: 'group-stats', attrs: { id: 'group-stats' }, text:
        `n = ${gs.samples.length} · mean ${fmt(gs.mean, 5)} · std ${fmt(gs.stdUnbiased, 5)} (unbiased), ${fmt(gs.stdPopulation, 5)} (population)` +
        `${gs.stored.baseline !== undefined ? ` · baseline ${fmt(gs.stored.baseline, 5)}` : ''}${gs.stored.baselines ? ' · baseline per sample (leave-one-out)' : ''} · ${gs.filtered ? `FILTERED (${gs.filterReason ?? 'no gradient'})` : 'kept'}` }),
      el('table', { cls: 'group-table', attrs: { id: 'group-table' } },
        el('tr', {}, ...['sample', 'reward', ...parts, ...(gs.stored.scores ? ['score'] : []), ...(gs.stored.baselines ? ['baseline'] : []), 'advantage', 'length', 'clips', 'completion'].map((h) => el('th', { text: h }))),
        ...gs.samples.map((i, k) => {
          const s = st.samples[i], ss = this.stats[i];
          const tr = el('tr', {}, el('td', { text: `#${i}` }), el('td', { cls: 'num', text: fmt(s.reward, 4) }),
            ...parts.map((p) => el('td', { cls: 'num', text: fmt(s.rewardParts?.[p], 4) })),
            ...(gs.stored.scores ? [el('td', { cls: 'num', text: fmt(gs.stored.scores[k], 4) })] : []),
            ...(gs.stored.baselines ? [el('td', { cls: 'num', text: fmt(gs.stored.baselines[k], 4) })] : []),
            el('td', { cls: 'num', text: fmt(ss.advantage, 4) }), el('td', { cls: 'num', text: String(s.length) }), el('td', { cls: 'num', text: String(ss.clips) }),
            el('td', { cls: 'completion', text: displayText(s.completion).replace(/\n/g, '') }));
          tr.addEventListener('click', () => { const c = { row: this.rows.indexOf(i), sample: i, token: 0 }; if (c.row >= 0) { this.grid.setPinned(c); this.grid.reveal(c); this.pin(c); } });
          return tr;
        })),
    );
  }

  private key(e: KeyboardEvent): void {
    const p = this.grid.pinned;
    const st = this.step;
    if (!st) return;
    let c: Cell | null = p ?? (this.rows.length ? { row: 0, sample: this.rows[0], token: 0 } : null);
    if (!c) return;
    const move = (row: number, token: number) => {
      row = Math.max(0, Math.min(this.rows.length - 1, row));
      const sample = this.rows[row];
      token = Math.max(0, Math.min(st.samples[sample].length - 1, token));
      return { row, sample, token };
    };
    switch (e.key) {
      case 'ArrowRight': c = p ? move(c.row, c.token + 1) : c; break;
      case 'ArrowLeft': c = p ? move(c.row, c.token - 1) : c; break;
      case 'ArrowDown': c = p ? move(c.row + 1, c.token) : c; break;
      case 'ArrowUp': c = p ? move(c.row - 1, c.token) : c; break;
      case 'PageDown': c = move(c.row + 10, c.token); break;
      case 'PageUp': c = move(c.row - 10, c.token); break;
      case 'Home': c = move(c.row, 0); break;
      case 'End': c = move(c.row, Number.MAX_SAFE_INTEGER); break;
      case 'Escape': this.grid.setPinned(null); this.pin(null); e.preventDefault(); return;
      case 'n': case 'N': {
        if (!this.hits.length) return;
        this.hitIndex = (this.hitIndex + (e.key === 'n' ? 1 : -1) + this.hits.length) % this.hits.length;
        const h = this.hits[this.hitIndex];
        c = { row: this.rows.indexOf(h.sample), sample: h.sample, token: h.token };
        break;
      }
      case 'g': case 'Enter': this.openOther(); e.preventDefault(); return;
      case '[': this.moveGroup(-1); return;
      case ']': this.moveGroup(1); return;
      default: return;
    }
    e.preventDefault();
    this.grid.setPinned(c); this.grid.reveal(c); this.pin(c);
  }

  private moveGroup(d: number): void {
    const gs = this.step?.header.groups ?? [];
    if (!gs.length) return;
    const k = gs.findIndex((g) => g.id === this.group);
    this.group = gs[(k + d + gs.length) % gs.length].id;
    setOptions(this.selGroup, [...this.selGroup.querySelectorAll('vscode-option')].map((o) => ({ value: o.getAttribute('value')!, label: o.textContent!, title: o.getAttribute('description') ?? undefined })), this.group);
    this.refresh(true);
    this.selectionChanged();
  }

  private openOther(): void {
    const p = this.grid.pinned;
    const sample = p?.sample;
    const group = sample !== undefined ? this.step?.samples[sample].group : this.group;
    const t: ViewTarget = { runDir: this.runDir, step: this.stepNo, group, sample, token: p?.token };
    this.host.notify(this.mode === 'heatmap' ? 'open/group' : 'open/heatmap', t);
  }

  private selectionChanged(c?: Cell): void {
    if (this.stepNo === undefined) return;
    const sample = c?.sample;
    this.host.notify('selection/changed', { runDir: this.runDir, step: this.stepNo, group: sample !== undefined ? this.step!.samples[sample].group : this.group, sample, token: c?.token });
  }

  private setStatus(t: string): void { this.els.status.textContent = t; }

  private saveState(): void {
    const p = this.grid.pinned;
    const s: WebviewState = {
      view: this.mode, runDirs: this.runDir ? [this.runDir] : [],
      target: this.runDir ? { runDir: this.runDir, step: this.stepNo, group: this.group, sample: p?.sample, token: p?.token } : undefined,
      metric: this.metric, sort: this.sort, filter: this.filter, search: this.search, scrollTop: this.grid.scrollTop,
      cellWidth: this.cellW, percentiles: this.pct,
    };
    this.host.setState(s);
  }

  /** Test/benchmark hook (read-only snapshot). */
  snapshot(): Record<string, unknown> {
    return {
      mode: this.mode, runDir: this.runDir, step: this.stepNo, group: this.group, metric: this.metric, rows: this.rows.slice(), steps: this.steps.slice(),
      domain: this.domain, hits: this.hits.length, pinned: this.grid.pinned, grid: { ...this.grid.stats, cellW: this.grid.cellW, rowH: this.grid.rowH, headerW: this.grid.headerW, headerH: this.grid.headerH },
      debug: { ...this.debug }, theme: this.theme.kind, colorAt: (v: number) => this.color(v),
    };
  }

  cellRect(sample: number, token: number): DOMRect | undefined {
    const row = this.rows.indexOf(sample);
    if (row < 0) return undefined;
    const c = { row, sample, token };
    this.grid.reveal(c);
    this.grid.drawNow();
    return this.grid.cellRect(c);
  }

  metricNow(): MetricDef { return metricDef(this.metric); }
}
