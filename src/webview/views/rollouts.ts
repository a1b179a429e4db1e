/**
 * Token heatmap and group view (one class, two modes). The page never holds a whole step (issue 18): the host sends
 * the step's overview (`rollout/overview`: records, per-sample numbers), the colour domain of a metric computed once
 * on the host (`rollout/domain`), and per-token arrays only for the (sample, column block) cells in and around the
 * view (`rollout/window`, cached in data/stepWindow.ts); search and the credit drill-down run on the host. Everything
 * shown is computed by the pure functions in ../data and drawn on canvas (TokenGrid) or as text nodes.
 */
import type { DrillDownResult, FilterSpec, InitParams, NumRange, SortKey, SortSpec, StepInfo, StepOverview, ViewTarget, WebviewState } from '../../shared/protocol';
import type { HostConnection } from '../rpc';
import { groupSummary, metricDef, metricsFor, sampleStatsFrom, sortAndFilter, type MetricDef, type SampleStats, type StepData } from '../data/step';
import { divergingScale, domainFromStats, fmt, sequentialScale, type DomainStats, type RobustDomain } from '../data/scales';
import { StepWindows } from '../data/stepWindow';
import { codePoints, displayText, displayToken } from '../data/tokens';
import { formatRange, lineLabel, parseRange } from '../data/sampleFilter';
import { onThemeChange, readTheme, el, type Theme } from '../theme';
import { button, checkbox, select, setOptions, textfield, type SelectEl } from '../controls';
import { TokenGrid, type Cell } from './grid';
import { drawLegend } from './legend';
import { nearestIndex } from '../data/series';
import { buildTrees } from '../data/tree';
import { hasTurns, sampleTurns, turnOfToken } from '../data/turns';
import { gigpoTurnsTitle, isGigpo, treesPanel, turnsCell, turnsPanel, type SpanTarget } from './episode';
import { experiencePanel } from './experience';

const CLIP_NAMES = ['none', 'low', 'high', 'dual'];
const PERCENTILES: Record<string, [number, number]> = { '1-99': [1, 99], '5-95': [5, 95], '0.1-99.9': [0.1, 99.9], '0-100': [0, 100] };

const SORT_KEYS: [SortKey, string][] = [['index', 'index'], ['reward', 'reward'], ['advantage', 'advantage'], ['kl', 'KL'], ['length', 'length'], ['clips', 'clips'], ['truncated', 'truncated'], ['prompt', 'prompt']];
/** the nearest of `steps` (ascending, not empty) to `step` (the earlier one on a tie) */
const nearest = (steps: number[], step: number) => steps[nearestIndex(steps, step)];
type Field = HTMLElement & { value: string };

const optionsOf = (s: SelectEl) => [...s.querySelectorAll('vscode-option')].map((o) => ({ value: o.getAttribute('value')!, label: o.textContent!, title: o.getAttribute('description') ?? undefined }));

export class RolloutView {
  private theme: Theme = readTheme();
  private step: StepData | undefined;
  /** the step's per-token data cells fetched so far (bounded: data/stepWindow.ts) */
  private windows: StepWindows | undefined;
  private overview: StepOverview | undefined;
  /** colour-domain statistics by metric and group ('' = the whole step), from `rollout/domain` */
  private domains = new Map<string, DomainStats>();
  private searchCache = new Map<string, { hits: number[]; truncated: boolean }>();
  /** text filter answers of the host (`rollout/textMatch`), by text */
  private textMatches = new Map<string, Set<number>>();
  /** bumped on every step load: late answers for another step are dropped */
  private loadSeq = 0;
  private stats: SampleStats[] = [];
  private steps: number[] = [];
  /** what each step's header says (per-token traces or text only), from `rollout/stepInfo` */
  private stepInfo = new Map<number, StepInfo>();
  /** a note that stays in the status line until the user picks another step (e.g. why another step is shown) */
  private notice = '';
  /** filter fields whose text is not a range: field id → reason */
  private badFields = new Map<string, string>();
  private partNames: string[] = [];
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
  private readonly fields: Record<string, Field> = {};
  /** multi-turn episodes (issue 20): "sample:token" keys of the span a turn or tree node highlights, what it was, and
   *  the sample whose turns the group view lists */
  private highlight = new Set<string>();
  private highlightLabel = '';
  private turnSample: number | undefined;
  /** for tests and the benchmark */
  readonly debug = { loadMs: 0, firstPaintMs: 0, domainMs: 0, hoverMs: 0, metricSwitchMs: 0, lastDrill: undefined as DrillDownResult | undefined };

  constructor(private readonly mode: 'heatmap' | 'group', private readonly host: HostConnection, private readonly root: HTMLElement) {
    this.grid = new TokenGrid(this.theme, {
      onHover: (c, ev) => this.hover(c, ev),
      onPin: (c) => { this.dropHighlight(c); this.pin(c); },
    });
    this.grid.headerW = mode === 'group' ? 220 : 280;
    this.build();
    onThemeChange(() => { this.theme = readTheme(); this.grid.setTheme(this.theme); this.recolor(); });
    host.on('view/show', (t) => void this.show(t));
    host.on('rollout/stepAdded', (p) => {
      if (p.runDir !== this.runDir || this.steps.includes(p.step)) return;
      this.steps = [...this.steps, p.step].sort((a, b) => a - b);
      this.fillSteps();
      void this.loadStepInfo(); // is the new step traced?
    });
  }

  private build(): void {
    const bar = el('div', { cls: 'toolbar', attrs: { role: 'toolbar' } });
    this.selStep = select('step', 'Step (● = per-token traces, ○ = text only)', [], '', (v) => { this.notice = ''; void this.loadStep(Number(v)); });
    this.selGroup = select('group', 'Group', [], '', (v) => { this.group = v || undefined; void this.withDomain(() => { this.refresh(true); this.selectionChanged(); }); });
    this.selMetric = select('metric', 'Metric', [], this.metric, (v) => void this.switchMetric(v));
    this.selSort = select('sort', 'Sort samples by', this.sortOptions(), 'index:asc', (v) => {
      const d = v.slice(v.lastIndexOf(':') + 1), key = v.slice(0, v.lastIndexOf(':'));
      this.sort = { key: key as SortKey, descending: d === 'desc' }; this.refresh(true);
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
    const filterBar = this.buildFilters();
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
    this.root.append(bar, filterBar, legend, ...(this.mode === 'group' ? [summary] : []), status, main, tooltip);
    drill.append(el('div', { cls: 'muted', text: 'Click a token to pin it and see how its credit arose. Arrow keys move, Esc unpins.' }));
    Object.assign(this.els, { legend, status, summary, tooltip, drill });
    this.grid.root.addEventListener('keydown', (e) => this.key(e));
    document.addEventListener('keydown', (e) => {
      if (e.key === '/' && document.activeElement?.tagName !== 'VSCODE-TEXTFIELD') { e.preventDefault(); (search as HTMLElement).focus(); }
    });
  }

  /** Sort options: the fixed keys, then one per reward part of the step (`part:NAME`). */
  private sortOptions(): { value: string; label: string }[] {
    const keys: [string, string][] = [...SORT_KEYS, ...this.partNames.map((n): [string, string] => [`part:${n}`, `part ${n}`])];
    return keys.flatMap(([k, l]) => [{ value: `${k}:asc`, label: `${l} ↑` }, { value: `${k}:desc`, label: `${l} ↓` }]);
  }

  /** The sample-finding row: reward / length ranges, correctness, advantage sign, truncated, text, a reward part's value, export. */
  private buildFilters(): HTMLElement {
    const bar = el('div', { cls: 'toolbar filters', attrs: { role: 'toolbar', id: 'filters', 'aria-label': 'find samples' } });
    const range = (id: string, key: 'reward' | 'length', hint: string) => {
      const f = textfield(id, hint, '', (v) => { this.setRange(id, v, (r) => { this.filter = { ...this.filter, [key]: r }; }); });
      f.title = `${hint}: a value (0), a range (0.5..1) or a bound (>0, <=20); empty = any`;
      return f;
    };
    const choice = (id: string, label: string, opts: [string, string][], onChange: (v: string) => void) => select(id, label, opts.map(([value, l]) => ({ value, label: l })), '', (v) => { onChange(v); this.refresh(true); });
    const fReward = range('f-reward', 'reward', 'reward range');
    const fLength = range('f-length', 'length', 'length range');
    const fCorrect = choice('f-correct', 'Correct (reward part accuracy / correct > 0, else reward > 0)', [['', 'any'], ['yes', 'correct'], ['no', 'wrong']], (v) => { this.filter = { ...this.filter, correct: v ? v === 'yes' : undefined }; });
    const fAdv = choice('f-adv', 'Sign of the advantage', [['', 'any'], ['pos', 'A > 0'], ['neg', 'A < 0'], ['zero', 'A = 0']], (v) => { this.filter = { ...this.filter, advantage: (v || undefined) as FilterSpec['advantage'] }; });
    const fTrunc = choice('f-trunc', 'Truncated (no EOS before the length limit)', [['', 'any'], ['yes', 'truncated'], ['no', 'not truncated']], (v) => { this.filter = { ...this.filter, truncated: v ? v === 'yes' : undefined }; });
    const fText = textfield('f-text', 'prompt / completion contains', '', (v) => { this.filter = { ...this.filter, text: v || undefined }; this.refresh(true); });
    const fPart = select('f-part', 'Reward part to filter by', [{ value: '', label: 'none' }], '', () => this.applyPart());
    const fPartRange = textfield('f-part-range', 'part value, e.g. 0', '', () => this.applyPart());
    fPartRange.title = 'value of the chosen reward part: 0, 0.5..1, >0, <=0.1';
    Object.assign(this.fields, { 'f-reward': fReward, 'f-length': fLength, 'f-correct': fCorrect, 'f-adv': fAdv, 'f-trunc': fTrunc, 'f-text': fText, 'f-part': fPart, 'f-part-range': fPartRange });
    const lab = (t: string, c: HTMLElement) => el('label', { cls: 'ctl' }, el('span', { text: t }), c);
    bar.append(
      lab('reward', fReward), lab('correct', fCorrect), lab('advantage', fAdv), lab('length', fLength), lab('truncated', fTrunc), lab('text', fText),
      lab('reward part', fPart), fPartRange,
      button('clear-filters', 'Clear', 'clear every sample filter', () => { this.filter = { groups: this.filter.groups }; this.badFields.clear(); this.syncFilterFields(); this.refresh(true); }),
      button('export', 'Export JSONL', 'save the samples shown (after filters) as JSON lines', () => void this.exportSamples()),
    );
    return bar;
  }

  /** Parse a range field; an unreadable one is marked invalid and named in the status line (its filter is dropped). */
  private setRange(id: string, text: string, apply: (r: NumRange | undefined) => void): void {
    let r: NumRange | undefined;
    try { r = parseRange(text); this.badFields.delete(id); this.fields[id]?.removeAttribute('invalid'); } catch (e) {
      r = undefined; this.badFields.set(id, (e as Error).message); this.fields[id]?.setAttribute('invalid', '');
    }
    apply(r);
    this.refresh(true);
  }

  private applyPart(): void {
    const name = this.fields['f-part'].value;
    this.setRange('f-part-range', this.fields['f-part-range'].value, (r) => { this.filter = { ...this.filter, part: name && r ? { name, range: r } : undefined }; });
  }

  /** Put the filter's values into its fields (state restore, Clear). */
  private syncFilterFields(): void {
    const f = this.filter, F = this.fields;
    const setSel = (id: string, v: string) => setOptions(F[id] as SelectEl, optionsOf(F[id] as SelectEl), v);
    F['f-reward'].value = formatRange(f.reward); F['f-length'].value = formatRange(f.length); F['f-text'].value = f.text ?? '';
    setSel('f-correct', f.correct === undefined ? '' : f.correct ? 'yes' : 'no');
    setSel('f-adv', f.advantage ?? '');
    setSel('f-trunc', f.truncated === undefined ? '' : f.truncated ? 'yes' : 'no');
    this.fillParts();
    F['f-part-range'].value = formatRange(f.part?.range);
    for (const id of Object.keys(F)) F[id].removeAttribute('invalid');
  }

  /** Reward-part choices: the parts of the loaded step (and the one filtered by, even when this step lacks it). */
  private fillParts(): void {
    const names = [...new Set([...this.partNames, ...(this.filter.part ? [this.filter.part.name] : [])])];
    setOptions(this.fields['f-part'] as SelectEl, [{ value: '', label: 'none' }, ...names.map((n) => ({ value: n, label: n }))], this.filter.part?.name ?? '');
  }

  private async exportSamples(): Promise<void> {
    if (this.stepNo === undefined || !this.step) return;
    try {
      const r = await this.host.request('samples/export', { runDir: this.runDir, step: this.stepNo, samples: this.rows.slice() });
      this.setStatus(r.path ? `exported ${r.count} sample(s) of step ${this.stepNo} to ${r.path}` : 'export cancelled');
    } catch (e) { this.setStatus(`export failed: ${(e as Error).message}`); }
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
      this.syncFilterFields();
    }
    const target = p.target ?? st?.target ?? (p.runs[0] ? { runDir: p.runs[0].runDir } : undefined);
    if (!target) { this.setStatus('No run to show. Open a run in the RL Lens view first.'); return; }
    await this.show(target, st?.scrollTop);
  }

  /** Navigate to a target (command, tree selection, dashboard click). */
  async show(t: ViewTarget, scrollTop?: number): Promise<void> {
    if (t.runDir !== this.runDir) {
      this.runDir = t.runDir;
      this.steps = []; this.stepInfo.clear();
      await this.loadStepInfo();
    }
    if (!this.steps.length) { this.setStatus('This run has no rollout steps yet (the trainer writes them every few steps).'); return; }
    let step = t.step !== undefined && this.steps.includes(t.step) ? t.step : t.step !== undefined ? nearest(this.steps, t.step) : this.steps[this.steps.length - 1];
    let sample = t.sample, token = t.token;
    this.notice = '';
    if (t.finding !== undefined && this.stepInfo.get(step)?.traced === false) {
      // a doctor finding's evidence: a step without per-token data shows nothing coloured; go to the nearest one with it
      const traced = this.steps.filter((s) => this.stepInfo.get(s)?.traced);
      if (traced.length) {
        const to = nearest(traced, step);
        this.notice = `step ${step} has no per-token data (text only): showing step ${to}, the nearest step with per-token traces`;
        step = to; sample = undefined; token = undefined; // sample indices of another step name other samples
      } else this.notice = `no step of this run kept per-token data: step ${step} is shown as text`;
    }
    if (t.metric) this.metric = t.metric; // e.g. a doctor finding's evidence; loadStep falls back when the step lacks that array
    if (t.group !== undefined && sample === t.sample) this.group = t.group;
    else if (sample === undefined && this.mode === 'heatmap') this.group = undefined;
    await this.loadStep(step, sample, token);
    if (scrollTop !== undefined) this.grid.scrollTop = scrollTop;
  }

  /** The run's steps and what each header says (per-token traces or text only). */
  private async loadStepInfo(): Promise<void> {
    const runDir = this.runDir;
    const infos = await this.host.request('rollout/stepInfo', { runDir });
    if (runDir !== this.runDir) return;
    this.stepInfo = new Map(infos.map((i) => [i.step, i]));
    // merged: a step announced by `rollout/stepAdded` while this request was under way stays listed
    this.steps = [...new Set([...this.steps, ...infos.map((i) => i.step)])].sort((a, b) => a - b);
    this.fillSteps();
  }

  private fillSteps(): void {
    setOptions(this.selStep, this.steps.map((s) => {
      const info = this.stepInfo.get(s);
      const mark = info === undefined ? '' : info.traced ? ' ●' : ' ○ text only';
      return { value: String(s), label: `step ${s}${mark}`, title: info === undefined ? undefined : info.traced ? 'per-token traces stored: every token coloured' : 'text only: this step kept no per-token arrays' };
    }), String(this.stepNo ?? ''));
  }

  private async loadStep(step: number, sample?: number, token?: number): Promise<void> {
    const t0 = performance.now();
    const seq = ++this.loadSeq;
    this.setStatus(`loading step ${step}…`);
    const runDir = this.runDir;
    let ov: StepOverview;
    // the current metric's domain is asked for alongside the overview (one round trip less before the first paint)
    const earlyGroup = this.group;
    const early = this.host.request('rollout/domain', { runDir, step, metric: this.metric, ...(earlyGroup !== undefined ? { group: earlyGroup } : {}) }).catch(() => undefined);
    try { ov = await this.host.request('rollout/overview', { runDir, step }); } catch (e) { this.setStatus(`Could not load step ${step}: ${(e as Error).message}`); return; }
    if (seq !== this.loadSeq) return;
    const t1 = performance.now();
    // a pinned token and its drill-down belong to the step they were pinned on: drop them (re-pinned below when asked)
    this.grid.setPinned(null);
    this.pin(null, false);
    this.highlight.clear(); this.highlightLabel = ''; this.turnSample = undefined; this.grid.root.removeAttribute('data-highlight');
    this.stepNo = step;
    this.overview = ov;
    this.domains = new Map();
    this.searchCache = new Map();
    this.textMatches = new Map();
    this.step = { header: ov.header, samples: ov.samples, data: new Float32Array(0) };
    const samples = ov.samples;
    this.windows = new StepWindows(ov.header.arrays, ov.blockTokens, (i) => samples[i]?.length ?? 0,
      (cells) => this.host.request('rollout/window', { runDir, step, cells }), () => this.grid.schedule());
    this.stats = sampleStatsFrom(ov.header, samples, ov.numbers.map(([advantage, kl, clipLow, clipHigh, clipDual]) => ({ advantage: num(advantage), kl: num(kl), clipLow, clipHigh, clipDual })));
    this.partNames = [...new Set(samples.flatMap((s) => Object.keys(s.rewardParts ?? {})))].sort();
    if (this.sort.key.startsWith('part:') && !this.partNames.includes(this.sort.key.slice(5))) this.sort = { key: 'index', descending: false };
    setOptions(this.selSort, this.sortOptions(), `${this.sort.key}:${this.sort.descending ? 'desc' : 'asc'}`);
    this.fillParts();
    const metrics = metricsFor(ov.withData);
    if (!metrics.some((m) => m.id === this.metric)) this.metric = metrics[0]?.id ?? 'advantage';
    setOptions(this.selMetric, metrics.map((m) => ({ value: m.id, label: m.label, title: m.description })), this.metric);
    this.fillSteps();
    const groups = ov.header.groups;
    if (this.mode === 'group' && (!this.group || !groups.some((g) => g.id === this.group))) {
      this.group = sample !== undefined ? samples[sample]?.group : groups[0]?.id;
    }
    if (this.group && !groups.some((g) => g.id === this.group)) this.group = undefined;
    const d = await early;
    if (seq !== this.loadSeq) return;
    if (d && d.metric === this.metric && earlyGroup === this.domainGroup()) this.domains.set(this.domainKey(this.metric), d);
    await this.ensureDomain(this.metric);
    if (seq !== this.loadSeq) return;
    // the prompt (not the internal group id), its mean reward ± std; the full prompt on hover
    setOptions(this.selGroup, [...(this.mode === 'heatmap' ? [{ value: '', label: 'all groups' }] : []),
      ...groups.map((g) => ({ value: g.id, label: `${lineLabel(g.prompt, 40)} · r ${fmt(g.mean, 3)} ± ${fmt(g.std, 2)}${g.filtered ? ' · ⊘ filtered' : ''}`, title: displayText(g.prompt) }))], this.group ?? '');
    this.refresh(true);
    if (!metrics.length) this.setStatus(`step ${step} kept no per-token arrays (the trainer stores them every few steps: pick another step); token text is shown`);
    // tokens made by the host (imported runs with text only): say where they came from, APPROXIMATE when not the model's
    if (ov.tokenization) this.setStatus(ov.tokenization.note);
    if (ov.problems.length) this.setStatus(`${ov.problems.length} problem(s) reading this step: ${ov.problems.slice(0, 3).join('; ')}`);
    if (sample !== undefined && this.rows.includes(sample)) {
      const c: Cell = { row: this.rows.indexOf(sample), sample, token: Math.min(token ?? 0, samples[sample].length - 1) };
      this.grid.setPinned(c); this.grid.reveal(c); this.pin(c, false);
    }
    this.selectionChanged(this.grid.pinned ?? undefined); // the host titles the tab with the step shown
    // the first frame with data: the cells in view fetched (rollout/window) and drawn
    await this.grid.fetchView();
    if (seq !== this.loadSeq) return;
    this.grid.drawNow();
    this.debug.loadMs = t1 - t0;
    this.debug.firstPaintMs = performance.now() - t0;
    void this.prefetchDomains(seq);
  }

  /** The group a colour domain covers: the group shown (group view, or a heatmap narrowed to one group), else the step. */
  private domainGroup(): string | undefined { return this.group; }
  private domainKey(metric: string, group = this.domainGroup()): string { return `${metric}\u0000${group ?? ''}`; }

  /** Make sure the domain statistics of `metric` (for the group shown) are here: asked of the host once, then cached. */
  private async ensureDomain(metric: string): Promise<void> {
    if (this.stepNo === undefined || metricDef(metric).categorical) return;
    const group = this.domainGroup();
    if (this.domains.has(this.domainKey(metric, group))) return;
    const seq = this.loadSeq;
    try {
      const d = await this.host.request('rollout/domain', { runDir: this.runDir, step: this.stepNo, metric, ...(group !== undefined ? { group } : {}) });
      if (seq === this.loadSeq) this.domains.set(this.domainKey(metric, group), d);
    } catch (e) { this.setStatus(`colour domain of ${metric}: ${(e as Error).message}`); }
  }

  /** Run `f` once the current metric's domain for the group shown is here. */
  private async withDomain(f: () => void): Promise<void> { await this.ensureDomain(this.metric); f(); }

  private async switchMetric(v: string): Promise<void> {
    const t0 = performance.now();
    this.metric = v;
    await this.ensureDomain(v);
    if (this.metric !== v) return;
    this.refresh(false); // recolours and draws the frame (grid.setModel → drawNow)
    this.debug.metricSwitchMs = performance.now() - t0;
  }

  /** After the first paint: the other metrics' domains (whole step), so a metric switch needs no round trip. */
  private async prefetchDomains(seq: number): Promise<void> {
    for (const m of metricsFor(this.overview?.withData ?? [])) {
      if (seq !== this.loadSeq || this.group !== undefined) return;
      if (!m.categorical) await this.ensureDomain(m.id);
    }
  }

  /** Recompute rows/domain and redraw. `rowsChanged`: sort/filter/group changed. */
  private refresh(rowsChanged: boolean): void {
    const st = this.step;
    if (!st) return;
    if (rowsChanged || !this.rows.length) {
      // texts cut in the overview (long completions): the text filter runs on the host over the full texts
      const hostText = this.filter.text && this.overview?.cut?.length ? this.filter.text : undefined;
      let rows = sortAndFilter(this.stats, this.sort, hostText ? { ...this.filter, text: undefined } : this.filter);
      if (hostText) {
        const m = this.textMatches.get(hostText);
        if (m) rows = rows.filter((i) => m.has(i));
        else {
          const seq = this.loadSeq;
          this.host.request('rollout/textMatch', { runDir: this.runDir, step: this.stepNo!, text: hostText }).then((r) => {
            if (seq !== this.loadSeq) return;
            this.textMatches.set(hostText, new Set(r.samples));
            if (this.filter.text === hostText) this.refresh(true);
          }, (e: Error) => this.setStatus(`text filter failed: ${e.message}`));
        }
      }
      if (this.group) rows = rows.filter((i) => st.samples[i].group === this.group);
      this.rows = rows;
    }
    const m = metricDef(this.metric);
    const t0 = performance.now();
    const [pl, ph] = PERCENTILES[this.pct] ?? [1, 99];
    // the colour domain covers the step (or the group shown), computed once on the host: filters and sorting never
    // change colours
    const ds = this.domains.get(this.domainKey(m.id)) ?? { count: 0, rawMin: NaN, rawMax: NaN, q: {} };
    this.domain = m.categorical ? { lo: 0, hi: 3, rawMin: 0, rawMax: 3, clipped: false, count: 0, pLow: 0, pHigh: 100 } : domainFromStats(ds, { signed: m.signed, pLow: pl, pHigh: ph });
    this.debug.domainMs = performance.now() - t0;
    this.recolor();
    this.updateSearch(false);
    if (this.mode === 'group') this.renderSummary();
    const h = st.header, ng = h.groups.length;
    const groups = h.subsampled && typeof h.totalGroups === 'number' ? `${ng} of ${h.totalGroups} groups stored` : `${ng} groups`;
    const bad = [...this.badFields.values()];
    this.setStatus(`${this.notice ? `${this.notice} · ` : ''}${bad.length ? `filter ignored: ${bad.join('; ')} · ` : ''}step ${this.stepNo} · ${this.rows.length} of ${st.samples.length} samples · ${groups} · ${h.algorithm ?? ''}`);
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
    const gigpo = isGigpo(st); // a GiGPO sample's stored advantage is A^E, not its tokens' A
    this.grid.setModel({
      step: st, windows: this.windows!, rows: this.rows, metric: metricDef(this.metric), color: this.color, showClips: this.showClips && this.metric !== 'clip',
      hits: new Set([...this.hits.map((h) => `${h.sample}:${h.token}`), ...this.highlight]), filtered,
      rowLabel: (i) => {
        const s = st.samples[i], ss = this.stats[i];
        const base = [`#${i}`, `r ${fmt(s.reward, 3)}`, `${gigpo ? 'A^E' : 'A'} ${fmt(ss.advantage, 3)}`];
        if (this.mode === 'group') base.push(...Object.entries(s.rewardParts ?? {}).map(([k, v]) => `${k.slice(0, 4)} ${fmt(v, 2)}`));
        else base.push(lineLabel(s.prompt ?? '', 60)); // the prompt, not the group id (full text on hover)
        return [filtered.has(i) ? '⊘' : '', ...base].filter(Boolean);
      },
    });
  }

  private updateSearch(redraw = true): void {
    if (!this.step) return;
    const q = this.search;
    if (!q) { this.hits = []; this.hitIndex = -1; if (redraw) this.pushModel(); this.saveState(); return; }
    const hit = this.searchCache.get(q);
    if (!hit) {
      // token texts stay on the host: it searches the whole step (rollout/search)
      const seq = this.loadSeq;
      this.host.request('rollout/search', { runDir: this.runDir, step: this.stepNo!, query: q }).then((r) => {
        if (seq !== this.loadSeq) return;
        this.searchCache.set(q, r);
        if (this.search === q) this.updateSearch(true);
      }, (e: Error) => this.setStatus(`search failed: ${e.message}`));
      return;
    }
    // hits in row order (the host lists them by sample)
    const by = new Map<number, number[]>();
    for (let k = 0; k + 1 < hit.hits.length; k += 2) (by.get(hit.hits[k]) ?? by.set(hit.hits[k], []).get(hit.hits[k])!).push(hit.hits[k + 1]);
    this.hits = this.rows.flatMap((i) => (by.get(i) ?? []).map((token) => ({ sample: i, token })));
    this.hitIndex = -1;
    if (redraw) this.pushModel();
    this.setStatus(`“${displayText(q)}”: ${this.hits.length}${hit.truncated ? '+' : ''} token(s) match · n / N to jump`);
    this.saveState();
  }

  /** Token text of a sample's token from the fetched cells (undefined until fetched). */
  private tokenText(sample: number, t: number): string | undefined {
    const b = this.windows?.at(sample, t);
    return b ? b.tokens[t - b.t0] : undefined;
  }

  private hover(c: Cell | null, ev: MouseEvent | null): void {
    const t0 = performance.now();
    const tip = this.els.tooltip;
    const row = !c && ev ? this.grid.headerSampleAt(ev) : undefined;
    if (row !== undefined && ev && this.step) { this.rowTip(row, ev); return; }
    if (!c || !ev || !this.step) { tip.hidden = true; return; }
    const st = this.step, s = st.samples[c.sample];
    const blk = this.windows?.at(c.sample, c.token);
    const raw = blk ? blk.tokens[c.token - blk.t0] ?? '' : '';
    const tok = displayToken(raw);
    const rows: [string, string][] = [];
    if (blk) {
      const k = c.token - blk.t0;
      for (const name of st.header.arrays) {
        const a = this.windows!.array(blk, name);
        if (!a) continue;
        rows.push([name, name === 'clip' ? CLIP_NAMES[a[k]] ?? String(a[k]) : name === 'mask' ? (a[k] > 0 ? 'valid' : 'masked') : fmt(a[k], 5)]);
      }
      if (st.header.arrays.includes('logprob') && st.header.arrays.includes('ref_logprob')) rows.push(['logprob − ref', fmt(this.windows!.metric(blk, 'logprob_minus_ref')[k], 5)]);
    } else rows.push(['', 'loading…']);
    tip.replaceChildren(
      el('div', { cls: 'tip-token', text: tok.text }),
      ...(tok.escaped || tok.special ? [el('div', { cls: 'tip-cp', text: codePoints(raw) })] : []),
      el('div', { cls: 'tip-where', text: `sample ${c.sample} · token ${c.token} of ${s.length} · group ${s.group} · reward ${fmt(s.reward)}${turnNote(s, c.token)}` }),
      el('table', {}, ...rows.map(([k, v]) => el('tr', {}, el('td', { text: k }), el('td', { cls: k === metricDef(this.metric).needs[0] ? 'num cur' : 'num', text: v })))),
    );
    this.placeTip(ev);
    this.debug.hoverMs = performance.now() - t0;
  }

  /** Hover over a row header: the sample's full prompt and completion, reward (and parts), advantage, length. */
  private rowTip(i: number, ev: MouseEvent): void {
    const st = this.step!, s = st.samples[i], ss = this.stats[i];
    const parts = Object.entries(s.rewardParts ?? {}).map(([k, v]) => `${k} ${fmt(v, 4)}`).join(', ');
    const comp = displayText(s.completion ?? '');
    this.els.tooltip.replaceChildren(
      el('div', { cls: 'tip-where', text: `sample ${i} · reward ${fmt(s.reward, 4)}${parts ? ` (${parts})` : ''} · advantage ${fmt(ss.advantage, 4)} · ${s.length} tokens${s.truncated ? ' · truncated' : ''}${ss.filtered ? ' · group filtered' : ''}` }),
      el('div', { cls: 'tip-prompt' }, el('span', { cls: 'muted', text: 'prompt ' }), el('code', { text: displayText(s.prompt ?? '') })),
      el('div', { cls: 'tip-completion' }, el('span', { cls: 'muted', text: 'completion ' }), el('code', { text: comp.length > 600 ? `${comp.slice(0, 599)}…` : comp })),
    );
    this.placeTip(ev);
  }

  private placeTip(ev: MouseEvent): void {
    const tip = this.els.tooltip;
    tip.hidden = false;
    const vw = window.innerWidth, vh = window.innerHeight;
    const w = tip.offsetWidth, h = tip.offsetHeight;
    let x = ev.clientX + 14, y = ev.clientY + 14;
    if (x + w > vw) x = Math.max(0, ev.clientX - w - 10);
    if (y + h > vh) y = Math.max(0, ev.clientY - h - 10);
    tip.style.left = `${x}px`; tip.style.top = `${y}px`;
  }

  private pin(c: Cell | null, notify = true): void {
    const drill = this.els.drill;
    const seq = ++this.pinSeq;
    if (!c || !this.step) { drill.replaceChildren(el('div', { cls: 'muted', text: 'Click a token to pin it and see how its credit arose. Arrow keys move, Esc unpins.' })); this.debug.lastDrill = undefined; return; }
    drill.replaceChildren(el('div', { cls: 'muted', text: `sample ${c.sample} · token ${c.token}: working out its credit…` }));
    // computed on the host over the step (a GAE explanation whitens over every sample): the page holds no whole step
    const step = this.stepNo!, loadSeq = this.loadSeq, w = this.windows;
    void Promise.all([
      this.host.request('rollout/drill', { runDir: this.runDir, step, sample: c.sample, token: c.token }),
      w ? w.want(w.blocksOf(c.sample, c.token, c.token + 1).map((b): [number, number] => [c.sample, b])) : undefined,
    ]).then(([dd]) => {
      if (seq !== this.pinSeq || loadSeq !== this.loadSeq) return;
      this.debug.lastDrill = dd;
      this.renderDrill(dd, c);
    }, (e: Error) => { if (seq === this.pinSeq) drill.replaceChildren(el('div', { cls: 'muted', text: `drill-down failed: ${e.message}` })); });
    if (notify) this.selectionChanged(c);
    this.saveState();
  }
  private pinSeq = 0;

  private renderDrill(dd: DrillDownResult, c: Cell): void {
    const tok = displayToken(this.tokenText(c.sample, c.token) ?? '');
    const out: HTMLElement[] = [
      el('h3', { text: dd.title }),
      // the token's TEXT, labelled and quoted, so that a digit ("7") is not read as an index next to "token 8 of sample 0"
      el('div', { cls: 'drill-token' }, el('span', { cls: 'muted', text: `text of token ${c.token}: “` }), el('code', { cls: 'tok-text', text: tok.text }), el('span', { cls: 'muted', text: '”' })),
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
    for (const tb of dd.tables ?? []) {
      // GiGPO's step group, a rollout tree's leaves, the trajectories that share the token
      out.push(el('h4', { text: tb.title }), el('table', { cls: 'drill-group', attrs: { 'data-table': tb.id } },
        el('tr', {}, ...tb.columns.map((h) => el('th', { text: h }))),
        ...tb.rows.map((r, k) => el('tr', { cls: tb.self?.includes(k) ? 'self' : '' }, ...r.map((v) => el('td', { cls: typeof v === 'number' ? 'num' : '', text: typeof v === 'number' ? fmt(v, 4) : v }))))));
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
    // multi-turn episodes: a turns column, and the turns of one member (the clicked row) with the group's rollout trees
    const multi = gs.samples.some((i) => hasTurns(st.samples[i]));
    // GiGPO: a sample's stored advantage is A^E (episode level); its turns' tokens get A = A^E + ω·A^S (the turns list)
    const gigpo = isGigpo(st);
    const advHead = gigpo ? 'A^E (episode)' : 'advantage';
    const headTitle: Record<string, string> = { 'A^E (episode)': 'GiGPO episode-level advantage A^E of the sample: NOT what its tokens get. A policy token of turn t gets A = A^E + ω·A^S_t (the A column of the turns list)' };
    box.replaceChildren(
      el('div', { cls: 'prompt' }, el('span', { cls: 'muted', text: 'prompt ' }), el('code', { attrs: { id: 'group-prompt' }, text: displayText(gs.prompt) }),
        ...(gs.answer !== undefined ? [el('span', { cls: 'muted', text: '  answer ' }), el('code', { text: displayText(gs.answer) })] : []),
        // GHPO: the hint the group was regenerated with (appended to the prompt; rewards judge hint + completion)
        ...(gs.hint ? [el('span', { cls: 'muted', text: `  hint${gs.hint.ratio !== undefined ? ` (ω ${gs.hint.ratio}${gs.hint.stage ? `, stage ${gs.hint.stage}` : ''})` : ''} ` }), el('code', { attrs: { id: 'group-hint' }, text: displayText(gs.hint.text) })] : [])),
      // Training-Free GRPO: the experience library these rollouts saw and this group's library operations (views/experience.ts)
      ...experiencePanel(st.header as Record<string, unknown>, this.group),
      el('div', { cls: 'group-stats', attrs: { id: 'group-stats' }, text:
        `n = ${gs.samples.length} · mean ${fmt(gs.mean, 5)} · std ${fmt(gs.stdUnbiased, 5)} (unbiased), ${fmt(gs.stdPopulation, 5)} (population)` +
        `${gs.stored.baseline !== undefined ? ` · baseline ${fmt(gs.stored.baseline, 5)}` : ''}${gs.stored.baselines ? ' · baseline per sample (leave-one-out)' : ''} · ${gs.filtered ? `FILTERED (${gs.filterReason ?? 'no gradient'})` : gs.rewards.length > 1 && gs.rewards.every((r) => r === gs.rewards[0]) ? 'kept · all rewards equal: zero variance, no group-relative signal' : 'kept'}` }),
      el('table', { cls: 'group-table', attrs: { id: 'group-table' } },
        el('tr', {}, ...['sample', 'reward', ...parts, ...(gs.stored.scores ? ['score'] : []), ...(gs.stored.baselines ? ['baseline'] : []), advHead, 'tokens', 'clips', ...(multi ? ['turns'] : []), 'completion'].map((h) => el('th', { text: h, ...(headTitle[h] ? { attrs: { title: headTitle[h] } } : {}) }))),
        ...gs.samples.map((i, k) => {
          const s = st.samples[i], ss = this.stats[i];
          // EEPO: which rollout stage the sample came from (2 = sampled after the temporary unlearning step)
          const tr = el('tr', {}, el('td', { text: `#${i}${s.eepoStage ? ` · stage ${s.eepoStage}` : ''}`, ...(s.eepoStage ? { attrs: { title: s.eepoStage === 2 ? 'EEPO: sampled from the temporarily unlearned model' : 'EEPO: sampled before the unlearning step' } } : {}) }), el('td', { cls: 'num', text: fmt(s.reward, 4) }),
            ...parts.map((p) => el('td', { cls: 'num', text: fmt(s.rewardParts?.[p], 4) })),
            ...(gs.stored.scores ? [el('td', { cls: 'num', text: fmt(gs.stored.scores[k], 4) })] : []),
            ...(gs.stored.baselines ? [el('td', { cls: 'num', text: fmt(gs.stored.baselines[k], 4) })] : []),
            el('td', { cls: 'num', text: fmt(ss.advantage, 4), ...(gigpo ? { attrs: { title: gigpoTurnsTitle(s) } } : {}) }), el('td', { cls: 'num', text: String(s.length) }), el('td', { cls: 'num', text: String(ss.clips) }),
            ...(multi ? [el('td', { cls: 'turns-cell', text: turnsCell(s) })] : []),
            el('td', { cls: 'completion', text: displayText(s.completion).replace(/\n/g, '') }));
          if (multi) tr.setAttribute('data-sample', String(i));
          tr.addEventListener('click', () => {
            if (multi && hasTurns(s)) { this.turnSample = i; this.renderEpisode(gs.samples); }
            const c = { row: this.rows.indexOf(i), sample: i, token: 0 }; if (c.row >= 0) { this.dropHighlight(c); this.grid.setPinned(c); this.grid.reveal(c); this.pin(c); }
          });
          return tr;
        })),
      ...(multi || gs.samples.some((i) => st.samples[i].tree !== undefined) ? [el('div', { cls: 'episode', attrs: { id: 'episode' } })] : []),
    );
    if (box.querySelector('#episode')) this.renderEpisode(gs.samples);
  }

  /** The turns of the chosen member and the group's rollout trees (src/webview/views/episode.ts). */
  private renderEpisode(members: number[]): void {
    const st = this.step, box = this.els.summary.querySelector('#episode');
    if (!st || !box) return;
    if (this.turnSample === undefined || !members.includes(this.turnSample) || !hasTurns(st.samples[this.turnSample])) this.turnSample = members.find((i) => hasTurns(st.samples[i]));
    const trees = buildTrees(st.samples, members);
    const thr = st.header.params?.arpoTau ?? st.header.params?.arpoThreshold;
    const parts: HTMLElement[] = [];
    if (this.turnSample !== undefined) parts.push(turnsPanel(st.samples[this.turnSample], this.turnSample, (t) => this.selectSpan(t)));
    if (trees.length) parts.push(treesPanel(trees, st.samples, (i, t) => this.tokenText(i, t), typeof thr === 'number' ? thr : undefined, (t) => this.selectSpan(t)));
    box.replaceChildren(...parts);
    // the trees show their segments' text: fetch the trajectories' token blocks once, then draw them again
    const w = this.windows;
    if (trees.length && w) {
      const cells = trees.flatMap((tr) => tr.samples.flatMap((i) => w.blocksOf(i, 0, st.samples[i].length).map((b): [number, number] => [i, b])));
      const cached = () => cells.filter(([i, b]) => w.has(i, b)).length, before = cached();
      if (before < cells.length) {
        const seq = this.loadSeq;
        // (cells the grid is fetching already are waited for, not asked again); drawn again only when some arrived
        void w.want(cells).then(() => { if (seq === this.loadSeq && this.els.summary.contains(box) && cached() > before) this.renderEpisode(members); }, () => undefined);
      }
    }
  }

  /** Highlight a turn's / tree node's tokens in the heatmap rows (and the rows sharing them), pin its first token. */
  private selectSpan(t: SpanTarget): void {
    this.highlight.clear();
    for (const i of [t.sample, ...(t.also ?? [])]) for (const [a, b] of t.spans) for (let k = a; k < b; k++) this.highlight.add(`${i}:${k}`);
    this.highlightLabel = `${t.label}: tokens ${t.spans.map(([a, b]) => `${a}–${b - 1}`).join(', ')}${t.also?.length ? ` (and the same tokens of ${t.also.map((j) => `#${j}`).join(', ')})` : ''}`;
    this.showTurns(t.sample);
    const row = this.rows.indexOf(t.sample);
    this.grid.root.setAttribute('data-highlight', `${t.sample}:${t.spans.map(([a, b]) => `${a}-${b}`).join(',')}`);
    this.pushModel();
    if (row < 0) { this.setStatus(`${this.highlightLabel}: sample ${t.sample} is hidden by the filters`); return; }
    const c: Cell = { row, sample: t.sample, token: Math.max(0, Math.min(t.spans[0][0], this.step!.samples[t.sample].length - 1)) };
    this.grid.setPinned(c); this.grid.reveal(c); this.pin(c);
    this.setStatus(`highlighted ${this.highlightLabel}`);
  }

  /** The turns list follows what was clicked (a tree node's trajectory): replace only the list, not the trees (the
   *  tree keeps its focus for the arrow keys). */
  private showTurns(i: number): void {
    const st = this.step, cur = this.els.summary.querySelector('#turns');
    if (!st || !cur || i === this.turnSample || !st.samples[i] || !hasTurns(st.samples[i])) return;
    this.turnSample = i;
    cur.replaceWith(turnsPanel(st.samples[i], i, (x) => this.selectSpan(x)));
  }

  /** The user pinned a token outside the highlighted turn / tree node: drop the highlight, its outline and caption. */
  private dropHighlight(c: Cell | null): void {
    if (!this.highlight.size || (c && this.highlight.has(`${c.sample}:${c.token}`))) return;
    this.highlight.clear(); this.highlightLabel = ''; this.grid.root.removeAttribute('data-highlight');
    this.pushModel();
    if (this.els.status.textContent?.startsWith('highlighted ')) this.setStatus('');
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
      case 'Escape': this.grid.setPinned(null); this.pin(null); if (this.highlight.size) { this.highlight.clear(); this.highlightLabel = ''; this.grid.root.removeAttribute('data-highlight'); this.pushModel(); } e.preventDefault(); return;
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
    this.dropHighlight(c);
    this.grid.setPinned(c); this.grid.reveal(c); this.pin(c);
  }

  private moveGroup(d: number): void {
    const gs = this.step?.header.groups ?? [];
    if (!gs.length) return;
    const k = gs.findIndex((g) => g.id === this.group);
    this.group = gs[(k + d + gs.length) % gs.length].id;
    setOptions(this.selGroup, [...this.selGroup.querySelectorAll('vscode-option')].map((o) => ({ value: o.getAttribute('value')!, label: o.textContent!, title: o.getAttribute('description') ?? undefined })), this.group);
    // the colour domain is per group: fetch the new group's before drawing (as choosing it in the dropdown does)
    void this.withDomain(() => { this.refresh(true); this.selectionChanged(); });
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
      stepInfo: [...this.stepInfo.values()], filter: { ...this.filter }, sort: { ...this.sort }, notice: this.notice,
      domain: this.domain, hits: this.hits.length, pinned: this.grid.pinned, highlight: { label: this.highlightLabel, cells: [...this.highlight] }, turnSample: this.turnSample, grid: { ...this.grid.stats, cellW: this.grid.cellW, rowH: this.grid.rowH, headerW: this.grid.headerW, headerH: this.grid.headerH },
      debug: { ...this.debug }, theme: this.theme.kind, colorAt: (v: number) => this.color(v),
      windows: this.windows ? { cached: this.windows.size, bytes: this.windows.bytes, budget: this.windows.budgetBytes, ...this.windows.stats } : undefined,
      overview: this.overview ? { samples: this.overview.samples.length, dataBytes: this.overview.dataBytes, blockTokens: this.overview.blockTokens } : undefined,
    };
  }

  /** Scroll a cell into view, fetch and draw what is then in view; its client rectangle (tests, benchmark). */
  async cellRect(sample: number, token: number): Promise<DOMRect | undefined> {
    const row = this.rows.indexOf(sample);
    if (row < 0) return undefined;
    const c = { row, sample, token };
    this.grid.reveal(c);
    await this.grid.fetchView();
    this.grid.drawNow();
    return this.grid.cellRect(c);
  }

  metricNow(): MetricDef { return metricDef(this.metric); }
}

/** A multi-turn episode's token: which turn, and whose (the policy's, or the environment's: a tool output). */
function turnNote(s: StepData['samples'][number], token: number): string {
  if (!hasTurns(s)) return '';
  const w = turnOfToken(sampleTurns(s), token);
  return w ? ` · turn ${w.turn}, ${w.part === 'policy' ? "the policy's" : "the environment's (tool output, masked)"}` : '';
}

/** A per-sample number from the overview (JSON has no NaN: null stands for it). */
function num(x: number | null | undefined): number { return typeof x === 'number' ? x : NaN; }
