/**
 * Token comparison view (issue 21): the same completions under checkpoints A and B. Rows of tokens coloured by
 * Δ log-prob (or Δ entropy, ratio, KL, log-probs, ranks) with the heatmap's legend and colour scales; a hover card with
 * both log-probs, ranks and the top-k alternatives under A and B; the risers and fallers (grouped by token string);
 * the per-sample table (Σ Δ log-prob, mean KL; sortable, filterable). The host sends the overview once and the
 * per-token data of one page of samples at a time (`tokenDiff/samples`). Token text is only ever textContent.
 * Data: ../data/tokenDiff.ts (pure); drawing only here.
 */
import type { HostConnection } from '../rpc';
import type { InitParams, TokenDiffOverview, TokenDiffSampleRow } from '../../shared/protocol';
import { el, readTheme, onThemeChange, type Theme } from '../theme';
import { select, textfield, button } from '../controls';
import { displayToken } from '../data/tokens';

/** Text made visible (controls, bidi, zero-width as markers) but with plain spaces: for prompts and table cells. */
const visible = (s: string) => displayToken(s).text.replace(/␣/g, ' ');
import { divergingScale, sequentialScale, textColorOn, type RobustDomain } from '../data/scales';
import { drawLegend } from './legend';
import {
  DIFF_METRICS, byteLabel, comparisonDomain, completionsLabel, decodePage, diffMetric, fmtNum as fmt, legendFormat, pageLabel, tokenCell, groupTokenDeltas, metricDisplayValue, metricValue, pageDeltas, pageOf, sortFilterSamples, statTable, tokenDetail,
  type PageSample, type SampleSort, type SampleSortKey, type TokenDetail,
} from '../data/tokenDiff';

const PER_PAGE = 20;

export class TokenDiffView {
  private theme: Theme = readTheme();
  private overview: TokenDiffOverview | undefined;
  private metric = 'delta';
  private percentiles = '1-99';
  private search = '';
  private sign: '' | 'pos' | 'neg' = '';
  private sort: SampleSort = { key: 'index', descending: false };
  private page = 0;
  private order: number[] = [];
  private shown: PageSample[] = [];
  private vocab: Record<string, string> = {};
  private highlight: string | undefined;
  /** risers / fallers of the whole set (summary.json) or of the completions on this page */
  private statScope: 'all' | 'page' = 'all';
  private hovered: TokenDetail | undefined;
  /** the sample last clicked in the completions table (its row is outlined) */
  private selectedSample: number | undefined;
  private domain: RobustDomain | undefined;
  private loadSeq = 0;
  private readonly els: Record<string, HTMLElement> = {};

  constructor(private readonly host: HostConnection, private readonly root: HTMLElement) {}

  async init(p: InitParams): Promise<void> {
    const st = p.state;
    if (st?.metric) this.metric = diffMetric(st.metric).id;
    if (st?.percentiles) this.percentiles = st.percentiles;
    if (st?.search) this.search = st.search;
    this.overview = await this.host.request('tokenDiff/summary', {});
    this.build();
    this.save();
    onThemeChange(() => { this.theme = readTheme(); this.drawRows(); });
    this.reorder();
    await this.loadPage();
  }

  private build(): void {
    const o = this.overview!;
    const header = el('div', { cls: 'td-header' },
      el('h2', { text: o.title }),
      el('div', { cls: 'td-sub', text: `A: ${o.a.label}  ·  B: ${o.b.label}` }),
      el('div', { cls: 'td-sub', attrs: { id: 'td-counts' }, text: `${completionsLabel(o.counts.samples, o.stored)}, ${o.counts.tokens} tokens from ${o.source} · temperature ${o.settings.temperature} · mean Δ log-prob ${fmt(o.meanDelta)} per token · mean KL(B‖A) ${fmt(o.meanKl)}${o.counts.truncated ? ` · ${o.counts.truncated} cut to the context` : ''}` }),
    );
    const metric = select('td-metric', 'Colour tokens by', DIFF_METRICS.map((m) => ({ value: m.id, label: m.label, title: m.description })), this.metric, (v) => { this.metric = v; this.save(); this.drawRows(); });
    const pct = select('td-percentiles', 'Colour domain percentiles', ['1-99', '5-95', '0-100'].map((v) => ({ value: v, label: `p${v.replace('-', '–p')}` })), this.percentiles, (v) => { this.percentiles = v; this.save(); this.drawRows(); });
    const text = textfield('td-search', 'Filter: prompt or completion contains…', this.search, (v) => { this.search = v; this.save(); this.reorder(); void this.loadPage(); });
    const sign = select('td-sign', 'Samples', [{ value: '', label: 'all samples' }, { value: 'pos', label: 'Σ Δ > 0 (more likely under B)' }, { value: 'neg', label: 'Σ Δ < 0 (less likely under B)' }], '', (v) => { this.sign = v as '' | 'pos' | 'neg'; this.reorder(); void this.loadPage(); });
    const prev = button('td-prev', '‹ Prev', 'previous page of samples', () => { if (this.page > 0) { this.page--; void this.loadPage(); } });
    const next = button('td-next', 'Next ›', 'next page of samples', () => { if ((this.page + 1) * PER_PAGE < this.order.length) { this.page++; void this.loadPage(); } });
    const pageInfo = el('span', { cls: 'td-page', attrs: { id: 'td-page' } });
    const pager = el('span', { cls: 'td-pager' }, prev, pageInfo, next);
    const controls = el('div', { cls: 'toolbar td-controls' }, metric, pct, sign, text, pager);
    const legend = el('div', { cls: 'legend td-legend', attrs: { id: 'td-legend' } });
    const rows = el('div', { cls: 'td-rows', attrs: { id: 'td-rows', role: 'list' } });
    const tables = el('div', { cls: 'td-tables' },
      el('section', { cls: 'td-stats' },
        el('div', { cls: 'td-stats-head' }, el('h3', { attrs: { id: 'td-stats-title' } }),
          select('td-scope', 'Risers and fallers of', [{ value: 'all', label: 'all completions' }, { value: 'page', label: 'this page' }], this.statScope, (v) => { this.statScope = v === 'page' ? 'page' : 'all'; this.drawStats(); })),
        el('div', { attrs: { id: 'td-stats' } })),
      el('section', { cls: 'td-samples' }, el('h3', { text: 'Completions (click a header to sort, a row to show it)' }), el('div', { cls: 'td-samples-scroll', attrs: { id: 'td-samples' } })),
    );
    const tip = el('div', { cls: 'tooltip td-tip', attrs: { id: 'td-tip', role: 'tooltip' } });
    tip.hidden = true;
    Object.assign(this.els, { rows, legend, pageInfo, prev, next, tip, stats: tables.querySelector('#td-stats') as HTMLElement, samples: tables.querySelector('#td-samples') as HTMLElement });
    this.root.replaceChildren(header, controls, legend, rows, tables, tip);
    rows.addEventListener('mouseover', (ev) => this.hover(ev));
    rows.addEventListener('mousemove', (ev) => this.placeTip(ev));
    rows.addEventListener('mouseleave', () => { tip.hidden = true; });
    this.drawStats();
  }

  private save(): void {
    this.host.setState({ view: 'tokenDiff', runDirs: this.overview ? [this.overview.dir] : [], metric: this.metric, percentiles: this.percentiles, search: this.search });
  }

  private reorder(): void {
    this.order = sortFilterSamples(this.overview!.samples, this.sort, { text: this.search, sign: this.sign || undefined });
    this.page = 0;
    this.drawSamples();
  }

  /** Ask the host for the per-token data of the current page (only the samples on screen). */
  private async loadPage(): Promise<void> {
    const p = pageOf(this.order, this.page, PER_PAGE);
    this.page = p.page;
    this.els.pageInfo.textContent = pageLabel(this.order.length, p.page, PER_PAGE, p.pages, p.items.length);
    this.setDisabled(this.els.prev, p.page <= 0);
    this.setDisabled(this.els.next, p.page >= p.pages - 1);
    const seq = ++this.loadSeq;
    const page = p.items.length ? await this.host.request('tokenDiff/samples', { samples: p.items }) : { samples: [], data: new ArrayBuffer(0), vocab: {} };
    if (seq !== this.loadSeq) return; // a newer page was asked for meanwhile
    this.shown = decodePage(page, this.overview!.arrays);
    this.vocab = page.vocab;
    this.drawRows();
    this.drawSamples();
    if (this.statScope === 'page') this.drawStats();
  }

  private setDisabled(b: HTMLElement | undefined, off: boolean): void {
    if (!b) return;
    b.toggleAttribute('disabled', off);
    b.setAttribute('aria-disabled', String(off));
    (b as HTMLElement & { disabled?: boolean }).disabled = off;
  }

  private drawRows(): void {
    const m = diffMetric(this.metric);
    // one domain per comparison and metric (all tokens, from the host), never per page or filter
    const domain = this.domain = comparisonDomain(this.overview!.domains, this.shown, m.id, this.percentiles);
    const color = m.signed ? divergingScale(domain, this.theme.palette) : sequentialScale(domain, this.theme.palette);
    const lf = legendFormat(m.id);
    drawLegend(this.els.legend, { ...m, categorical: false }, domain, color, this.theme, false, lf);
    const rowsByIndex = new Map(this.overview!.samples.map((r) => [r.index, r]));
    const frag = document.createDocumentFragment();
    this.shown.forEach((s, k) => {
      const info = rowsByIndex.get(s.index);
      const row = el('div', { cls: `td-row${this.selectedSample === s.index ? ' td-row-selected' : ''}`, attrs: { role: 'listitem', 'data-sample': String(s.index) } });
      const head = el('div', { cls: 'td-row-head', text: `#${s.index}  Σ Δ ${fmt(info?.sumDelta ?? NaN, 3)}  mean KL ${fmt(info?.meanKl ?? NaN, 3)}${typeof info?.reward === 'number' ? `  reward ${fmt(info.reward, 3)}` : ''}` });
      const prompt = el('span', { cls: 'td-prompt', text: visible(s.prompt.length > 80 ? `…${s.prompt.slice(-80)}` : s.prompt), title: 'prompt (not compared)' });
      const toks = el('div', { cls: 'td-toks' }, prompt);
      for (let t = 0; t < s.length; t++) {
        const v = metricValue(s.arrays, m.id, t);
        const c = Number.isFinite(v) ? color(v) : this.theme.palette.background;
        const cell = tokenCell(s.tokens[t], s.tokenIds[t], this.vocab);
        const d = displayToken(cell.text);
        const span = el('span', { cls: `td-tok${d.special ? ' special' : ''}${cell.byte !== undefined ? ' td-byte' : ''}${this.highlight !== undefined && s.tokens[t] === this.highlight ? ' td-hit' : ''}`, text: d.text, attrs: { 'data-row': String(k), 'data-t': String(t) } });
        span.style.background = c;
        span.style.color = textColorOn(c);
        toks.appendChild(span);
      }
      row.append(head, toks);
      frag.appendChild(row);
    });
    if (!this.shown.length) frag.appendChild(el('div', { cls: 'td-empty', text: 'No completions match the filter.' }));
    this.els.rows.replaceChildren(frag);
    document.body.dataset.tokens = String(this.shown.reduce((a, s) => a + s.length, 0));
  }

  private hover(ev: MouseEvent): void {
    const t = (ev.target as HTMLElement | null)?.closest?.('.td-tok') as HTMLElement | null;
    if (!t) { this.els.tip.hidden = true; return; }
    const s = this.shown[Number(t.dataset.row)];
    if (!s) return;
    const d = this.hovered = tokenDetail(s, Number(t.dataset.t), this.vocab);
    const cell = tokenCell(s.tokens[d.token], d.id, this.vocab);
    const m = diffMetric(this.metric);
    const tip = this.els.tip;
    const tok = (x: string) => el('code', { text: displayToken(x).text });
    const kv = (k: string, a: string, b?: string) => el('tr', {}, el('td', { text: k }), el('td', { text: a }), el('td', { text: b ?? '' }));
    const alt = (title: string, list: TokenDetail['topA']) => el('table', { cls: 'td-alt' },
      el('tr', {}, el('th', { text: title }), el('th', { text: 'log p' }), el('th', { text: 'p' })),
      ...list.map((x) => el('tr', { cls: x.isTarget ? 'td-target' : '' }, el('td', {}, tok(x.token)), el('td', { text: fmt(x.logprob) }), el('td', { text: fmt(x.prob) }))));
    tip.replaceChildren(
      el('div', { cls: 'td-tip-head' }, tok(cell.text), el('span', { text: `  id ${d.id}${cell.byte !== undefined ? ` · ${byteLabel(cell.byte)}` : ''} · sample #${d.sample} token ${d.token} · ${m.label} ${fmt(metricDisplayValue(s.arrays, m.id, d.token), 3)}` })),
      el('table', {}, el('tr', {}, el('th', { text: '' }), el('th', { text: 'A' }), el('th', { text: 'B' })),
        kv('log p', fmt(d.logprobA), fmt(d.logprobB)), kv('rank', fmt(d.rankA), fmt(d.rankB)), kv('entropy', fmt(d.entropyA), fmt(d.entropyB)),
        kv('Δ log p', fmt(d.delta)), kv('ratio p_B/p_A', fmt(d.ratio)), kv('KL(B‖A)', fmt(d.kl))),
      el('div', { cls: 'td-alts' }, alt('top under A', d.topA), alt('top under B', d.topB)),
    );
    tip.hidden = false;
    this.placeTip(ev);
  }

  private placeTip(ev: MouseEvent): void {
    const tip = this.els.tip;
    if (tip.hidden) return;
    const w = tip.offsetWidth, h = tip.offsetHeight;
    const x = ev.clientX + 14 + w > window.innerWidth ? Math.max(0, ev.clientX - 14 - w) : ev.clientX + 14;
    const y = ev.clientY + 14 + h > window.innerHeight ? Math.max(0, ev.clientY - 14 - h) : ev.clientY + 14;
    tip.style.left = `${x}px`; tip.style.top = `${y}px`;
  }

  private drawStats(): void {
    const o = this.overview!;
    const page = this.statScope === 'page' ? groupTokenDeltas(pageDeltas(this.shown), { minCount: o.settings.minCount }) : undefined;
    const rows = page ? statTable(page.risers, page.fallers) : statTable(o.risers, o.fallers);
    const title = this.root.querySelector('#td-stats-title');
    if (title) title.textContent = `Risers and fallers (mean Δ log-prob per token string, seen ≥ ${page?.minCount ?? o.settings.minCount}×${page ? `, ${this.shown.length} completions on this page` : `, ${o.counts.samples} completions`})`;
    const table = el('table', { cls: 'td-stat-table', attrs: { id: 'td-stat-table' } },
      el('tr', {}, el('th', { text: '' }), el('th', { text: 'token' }), el('th', { text: 'mean Δ' }), el('th', { text: 'count' }), el('th', { text: 'Σ Δ' }), el('th', { text: '' })));
    for (const r of rows) {
      const bar = el('span', { cls: `td-bar ${r.kind}` });
      bar.style.width = `${Math.round(r.bar * 120)}px`;
      bar.style.background = r.kind === 'riser' ? this.theme.palette.positive : this.theme.palette.negative;
      const tr = el('tr', { cls: `td-stat ${r.kind}${this.highlight === r.token ? ' selected' : ''}`, title: 'show where it occurs on this page' },
        el('td', { text: r.kind === 'riser' ? '▲' : '▼' }), el('td', {}, el('code', { text: displayToken(r.token).text })),
        el('td', { text: fmt(r.meanDelta, 3) }), el('td', { text: String(r.count) }), el('td', { text: fmt(r.sumDelta, 3) }), el('td', {}, bar));
      tr.addEventListener('click', () => {
        this.highlight = this.highlight === r.token ? undefined : r.token;
        this.drawStats(); this.drawRows();
        // the first occurrence on this page, scrolled into view
        this.els.rows.querySelector('.td-hit')?.scrollIntoView({ block: 'center' });
      });
      table.appendChild(tr);
    }
    if (!rows.length) table.appendChild(el('tr', {}, el('td', { text: 'no token changed on average' })));
    this.els.stats.replaceChildren(table);
  }

  private drawSamples(): void {
    const o = this.overview!;
    const byIndex = new Map<number, TokenDiffSampleRow>(o.samples.map((r) => [r.index, r]));
    const onPage = new Set(this.shown.map((s) => s.index));
    const cols: [SampleSortKey | '', string][] = [['index', '#'], ['sumDelta', 'Σ Δ log-prob'], ['meanDelta', 'mean Δ'], ['meanKl', 'mean KL'], ['length', 'tokens'], ['reward', 'reward'], ['', 'completion']];
    const head = el('tr', {}, ...cols.map(([k, label]) => {
      const th = el('th', { text: label + (k && this.sort.key === k ? (this.sort.descending ? ' ▼' : ' ▲') : ''), attrs: k ? { 'data-sort': k } : {} });
      if (k) th.addEventListener('click', () => { this.sort = { key: k, descending: this.sort.key === k ? !this.sort.descending : k !== 'index' }; this.reorder(); void this.loadPage(); });
      return th;
    }));
    const table = el('table', { cls: 'td-sample-table', attrs: { id: 'td-sample-table' } }, head);
    this.order.slice(0, 500).forEach((i, pos) => {
      const r = byIndex.get(i)!;
      const tr = el('tr', { cls: `${onPage.has(i) ? 'selected' : ''}${this.selectedSample === i ? ' td-sample-selected' : ''}`, attrs: { 'data-sample': String(i) } },
        el('td', { text: String(r.index) }), el('td', { text: fmt(r.sumDelta, 3) }), el('td', { text: fmt(r.length ? r.sumDelta / r.length : NaN, 3) }),
        el('td', { text: fmt(r.meanKl, 3) }), el('td', { text: String(r.length) }), el('td', { text: typeof r.reward === 'number' ? fmt(r.reward, 3) : '—' }),
        el('td', { cls: 'td-text', text: visible(r.completion.slice(0, 80)) }));
      tr.addEventListener('click', () => {
        this.selectedSample = i;
        this.page = Math.floor(pos / PER_PAGE);
        void this.loadPage().then(() => this.els.rows.querySelector(`[data-sample="${i}"]`)?.scrollIntoView({ block: 'nearest' }));
      });
      table.appendChild(tr);
    });
    if (this.order.length > 500) table.appendChild(el('tr', {}, el('td', { text: `… ${this.order.length - 500} more (sort or filter to bring them up)`, attrs: { colspan: '7' } })));
    this.els.samples.replaceChildren(table);
  }

  snapshot(): Record<string, unknown> {
    return {
      metric: this.metric, page: this.page, order: this.order.length, shown: this.shown.map((s) => s.index), tokens: this.shown.reduce((a, s) => a + s.length, 0),
      domain: this.domain, pageLabel: this.els.pageInfo?.textContent, selectedSample: this.selectedSample, highlight: this.highlight,
      legend: this.els.legend?.querySelector('#legend-info')?.textContent, risers: this.overview?.risers.length, fallers: this.overview?.fallers.length, hovered: this.hovered,
    };
  }
}
