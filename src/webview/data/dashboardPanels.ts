/**
 * Dashboard panels, pure (no DOM): which unit a metric is measured in, panels with ONE unit each (topic × unit; the
 * "other" topic split by namespace), distinct colours within a panel, the metric-name filter and the legend's
 * hide / isolate state. Metric names are untrusted text: they are only compared and returned here, never parsed as HTML.
 */
import { PANEL_GROUPS, panelOf } from './series';

/** What a metric is measured in. One panel never mixes two of these. */
export type Unit = 'reward' | 'advantage' | 'value' | 'nats' | 'coef' | 'fraction' | 'tokens' | 'count' | 'loss' | 'norm' | 'lr' | 'tokens/s' | 'seconds' | 'flops' | 'other';

/** Unit order (also the order of a topic's panels when the counts tie) and how the unit is named on a panel. */
export const UNITS: readonly Unit[] = ['reward', 'advantage', 'value', 'nats', 'coef', 'fraction', 'tokens', 'count', 'loss', 'norm', 'lr', 'tokens/s', 'seconds', 'flops', 'other'];
export const UNIT_LABEL: Record<Unit, string> = {
  reward: 'reward', advantage: 'advantage', value: 'value / return', nats: 'nats', coef: 'coefficient', fraction: 'fraction (0–1)',
  tokens: 'tokens', count: 'count', loss: 'loss', norm: 'norm', lr: 'learning rate', 'tokens/s': 'tokens / s', seconds: 'seconds', flops: 'GFLOP/s', other: 'value',
};

/**
 * The unit of a metric from its name (TRL / verl / RL Lens naming, docs/metrics.md). First matching rule wins; the
 * order matters (`kl_loss` is a loss, `frac_reward_zero_std` a fraction, `response_length/clip_ratio` a fraction).
 */
export function metricUnit(name: string): Unit {
  const n = name.toLowerCase();
  if (/pass@/.test(n)) return 'fraction';
  if (/clip_?ratio|clip_?frac|(^|[/_])frac($|[/_])|fraction|explained_var/.test(n)) return 'fraction';
  if (/accurac(y|ies)$/.test(n) && !/^(reward|rewards)\//.test(n)) return 'fraction'; // a reward part named accuracy is a reward
  if (/loss/.test(n)) return 'loss';
  if (/advantage/.test(n)) return 'advantage';
  if (/(^|\/)(values|returns)(\/|$)|(^|\/)vpred/.test(n)) return 'value';
  if (/(^|[/_])(reward|rewards|score|scores)($|[/_])|critic\/(score|rewards)/.test(n)) return 'reward';
  if (/(^|\/)lr$|learning_rate/.test(n)) return 'lr';
  if (/grad_?norm/.test(n)) return 'norm';
  if (/kl_coef|beta/.test(n)) return 'coef';
  if (/(^|[/_])kl($|[/_])|entropy/.test(n)) return 'nats';
  if (/tokens?_per_s|tok\/s|throughput|per_sec/.test(n)) return 'tokens/s';
  if (/flops/.test(n)) return 'flops';
  if (/(^|[/_])time($|[/_])|timing|_s$|(^|\/)secs?$|seconds|duration/.test(n)) return 'seconds';
  if (/length|(^|\/)tokens($|\/)|num_tokens|(^|[/_])len$/.test(n)) return 'tokens';
  if (/(^|[/_])(num|count|n)($|_)|filtered|batches|kept|groups/.test(n)) return 'count';
  // operations per step by kind (tfgrpo/ops/add …) and the epoch index
  if (/(^|\/)ops\/|(^|[/_])epochs?$/.test(n)) return 'count';
  return 'other';
}

export interface DashboardPanelSpec {
  /** stable id (data-panel): the topic id for a topic's first panel, `topic.unit` for its others, `other.<namespace>` */
  id: string;
  /** the topic's title (or the namespace in "other"); the unit is shown next to it (UNIT_LABEL) */
  title: string;
  unit: Unit;
  /** sorted */
  names: string[];
}

const TOPIC_TITLE = new Map(PANEL_GROUPS.map((g) => [g.id, g.title]));
/** the unit of a topic's first panel (the one that keeps the topic id) when the topic has metrics in it */
const TOPIC_UNIT: Record<string, Unit> = { reward: 'reward', kl: 'nats', entropy: 'nats', lengths: 'tokens', clipping: 'fraction', losses: 'loss', optim: 'norm', throughput: 'tokens/s', eval: 'fraction' };
const idPart = (u: Unit) => u.replace('/', '_per_');

/** the part of a name before its first '/', or '' */
export function namespaceOf(name: string): string {
  const i = name.indexOf('/');
  return i > 0 ? name.slice(0, i) : '';
}

/** Metrics under one sub-namespace (`ns/group/…`) that get a panel of their own in "Other" (same unit). */
export const SUB_PANEL_MIN = 3;

/** `ns/group` of a name with three or more segments, else '' */
export function groupOf(name: string): string {
  const i = name.indexOf('/'), j = i > 0 ? name.indexOf('/', i + 1) : -1;
  return j > i + 1 ? name.slice(0, j) : '';
}

/** The topic (PANEL_GROUPS id) of a metric: by name (series.ts panelOf), except that every loss goes to "Losses"
 *  and every time / throughput figure to "Throughput" (eval metrics stay in "Eval"). */
export function topicOf(name: string, unit: Unit = metricUnit(name)): string {
  const topic = panelOf(name);
  if (topic === 'eval') return topic;
  if (unit === 'loss') return 'losses';
  if (unit === 'seconds' || unit === 'tokens/s' || unit === 'flops') return 'throughput';
  return topic;
}

/**
 * Panels with one unit each, in topic order (PANEL_GROUPS: reward, KL, entropy, lengths, clipping, losses, optimiser,
 * throughput, eval, other). A topic whose metrics have several units gets one panel per unit (most metrics first; the
 * topic's own unit first, then most metrics; the first keeps the topic id). "Other" is split by namespace (`advantages/…`, `timing/…`), names without one by unit.
 */
export function dashboardPanels(names: Iterable<string>): DashboardPanelSpec[] {
  const byTopic = new Map<string, Map<string, { unit: Unit; ns: string; names: string[] }>>();
  const all = new Set(names);
  // a breakdown: SUB_PANEL_MIN or more metrics of one unit under `ns/group/` (tfgrpo/ops/add, …/delete, …) → panel ns/group
  const groupCount = new Map<string, number>();
  for (const n of all) { const g = groupOf(n); if (g) groupCount.set(`${g}\u0000${metricUnit(n)}`, (groupCount.get(`${g}\u0000${metricUnit(n)}`) ?? 0) + 1); }
  for (const n of all) {
    const unit = metricUnit(n);
    const topic = topicOf(n, unit);
    const sub = groupOf(n);
    const ns = topic !== 'other' ? '' : sub && (groupCount.get(`${sub}\u0000${unit}`) ?? 0) >= SUB_PANEL_MIN ? sub : namespaceOf(n);
    const key = topic === 'other' && ns ? `ns:${ns}:${unit}` : unit;
    const t = byTopic.get(topic) ?? byTopic.set(topic, new Map()).get(topic)!;
    const g = t.get(key) ?? t.set(key, { unit, ns, names: [] }).get(key)!;
    g.names.push(n);
  }
  const out: DashboardPanelSpec[] = [];
  for (const topic of PANEL_GROUPS.map((g) => g.id)) {
    const t = byTopic.get(topic);
    if (!t) continue;
    const groups = [...t.values()];
    if (topic === 'other') {
      // namespaces alphabetically, then the un-namespaced metrics by unit
      groups.sort((a, b) => (a.ns && !b.ns ? -1 : !a.ns && b.ns ? 1 : a.ns < b.ns ? -1 : a.ns > b.ns ? 1 : UNITS.indexOf(a.unit) - UNITS.indexOf(b.unit)));
      const nsUnits = new Map<string, number>();
      for (const g of groups) if (g.ns) nsUnits.set(g.ns, (nsUnits.get(g.ns) ?? 0) + 1);
      for (const g of groups) {
        if (g.ns) {
          const many = (nsUnits.get(g.ns) ?? 0) > 1;
          out.push({ id: `other.${g.ns.replace('/', '.')}${many ? `.${idPart(g.unit)}` : ''}`, title: g.ns, unit: g.unit, names: g.names.sort() });
        } else out.push({ id: g.unit === 'other' ? 'other' : `other.${idPart(g.unit)}`, title: 'Other', unit: g.unit, names: g.names.sort() });
      }
      continue;
    }
    const main = TOPIC_UNIT[topic];
    groups.sort((a, b) => Number(b.unit === main) - Number(a.unit === main) || b.names.length - a.names.length || UNITS.indexOf(a.unit) - UNITS.indexOf(b.unit));
    const title = TOPIC_TITLE.get(topic) ?? topic;
    groups.forEach((g, k) => {
      out.push({ id: k === 0 ? topic : `${topic}.${idPart(g.unit)}`, title, unit: g.unit, names: g.names.sort() });
    });
  }
  return out;
}

/**
 * n distinct colours for the series of one panel: the theme's palette first, then hues spaced by the golden angle
 * (lightness for the theme), so a panel never draws two series in the same colour.
 */
export function seriesColors(n: number, palette: readonly string[], dark: boolean): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const c of palette) { if (out.length >= n) break; if (!seen.has(c.toLowerCase())) { seen.add(c.toLowerCase()); out.push(c); } }
  for (let k = 0; out.length < n; k++) {
    const hue = (17 + k * 137.508) % 360;
    const light = (dark ? 62 : 38) + ((k % 3) - 1) * 8;
    const c = `hsl(${hue.toFixed(1)}, ${k % 2 ? 55 : 70}%, ${light}%)`;
    if (!seen.has(c)) { seen.add(c); out.push(c); }
  }
  return out;
}

/**
 * The metric search box: space-separated terms that must all occur in the name (case-insensitive), or `/regex/`.
 * An invalid regex matches everything and says why.
 */
export function metricFilter(query: string): { test(name: string): boolean; error?: string; active: boolean } {
  const q = query.trim();
  if (!q) return { test: () => true, active: false };
  const re = /^\/(.+)\/([a-z]*)$/.exec(q);
  if (re) {
    try {
      const r = new RegExp(re[1], re[2].includes('i') ? re[2] : `${re[2]}i`);
      return { test: (n) => r.test(n), active: true };
    } catch (e) {
      return { test: () => true, error: `invalid regular expression: ${(e as Error).message}`, active: false };
    }
  }
  const terms = q.toLowerCase().split(/\s+/);
  return { test: (n) => { const l = n.toLowerCase(); return terms.every((t) => l.includes(t)); }, active: true };
}

/** Panels restricted to the names that pass the filter (panels left without a name are dropped). */
export function filterPanels(panels: readonly DashboardPanelSpec[], test: (name: string) => boolean): DashboardPanelSpec[] {
  return panels.map((p) => ({ ...p, names: p.names.filter(test) })).filter((p) => p.names.length > 0);
}

/** Legend click: hide a shown series, show a hidden one. Returns a new set (the input is not changed). */
export function toggleHidden(hidden: ReadonlySet<string>, name: string): Set<string> {
  const h = new Set(hidden);
  if (h.has(name)) h.delete(name); else h.add(name);
  return h;
}

/**
 * Legend alt-click / double-click: show only `name` among the panel's series; doing it again on the series that is
 * already the only one shown shows them all again (W&B / Plotly behaviour). Other panels' choices are kept.
 */
export function isolate(hidden: ReadonlySet<string>, panelNames: readonly string[], name: string): Set<string> {
  const h = new Set(hidden);
  const alone = !h.has(name) && panelNames.every((n) => n === name || h.has(n));
  for (const n of panelNames) { if (alone || n === name) h.delete(n); else h.add(n); }
  return h;
}
