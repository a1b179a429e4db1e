/**
 * Data of the token comparison view (issue 21), pure (no DOM): the metrics a token can be coloured by, their values
 * from a page's floats, colour domains, the hover drill-down of one token (top-k under A and B), the risers / fallers
 * table, the per-sample table's filter and sort, and token grouping by display string (the same rule as the
 * trainer's risers / fallers: src/trainer/diffTokens.ts). The view (views/tokenDiff.ts) only draws what these return.
 */
import type { TokenDiffPage, TokenDiffSampleRow, TokenDiffStatRow } from '../../shared/protocol';
import { toFloat32 } from '../../shared/protocol';
import { domainFromStats, domainStats, robustDomain, type DomainStats, type RobustDomain } from './scales';
import { groupTokenDeltas } from '../../shared/tokenStats';

/** A colour metric of the comparison: signed ones get a diverging scale centred on 0. */
export interface DiffMetricDef { id: string; label: string; signed: boolean; needs: string[]; description: string }

export const DIFF_METRICS: DiffMetricDef[] = [
  { id: 'delta', label: 'Δ log-prob (B − A)', signed: true, needs: ['logprob_a', 'logprob_b'], description: 'log p_B(token) − log p_A(token): > 0 the token became more likely' },
  { id: 'dentropy', label: 'Δ entropy (B − A)', signed: true, needs: ['entropy_a', 'entropy_b'], description: 'entropy of B minus entropy of A at the position (nats): < 0 B is more certain' },
  { id: 'logratio', label: 'Ratio exp(Δ) (log scale)', signed: true, needs: ['logprob_a', 'logprob_b'], description: 'p_B / p_A of the token, coloured on a log scale centred on 1 (the value shown is the ratio)' },
  { id: 'kl', label: 'KL(B‖A)', signed: false, needs: ['kl'], description: 'full-distribution KL(B‖A) at the position (nats)' },
  { id: 'logprob_a', label: 'Log-prob A', signed: false, needs: ['logprob_a'], description: 'log p_A(token)' },
  { id: 'logprob_b', label: 'Log-prob B', signed: false, needs: ['logprob_b'], description: 'log p_B(token)' },
  { id: 'entropy_b', label: 'Entropy B', signed: false, needs: ['entropy_b'], description: 'entropy of B at the position (nats)' },
  { id: 'rank_a', label: 'Rank A', signed: false, needs: ['rank_a'], description: 'rank of the token under A (1 = argmax)' },
  { id: 'rank_b', label: 'Rank B', signed: false, needs: ['rank_b'], description: 'rank of the token under B (1 = argmax)' },
];

export function diffMetric(id: string | undefined): DiffMetricDef {
  return DIFF_METRICS.find((m) => m.id === id) ?? DIFF_METRICS[0];
}

/** One sample of a page: its arrays as views into the page buffer. */
export interface PageSample {
  index: number;
  length: number;
  tokens: string[];
  tokenIds: number[];
  prompt: string;
  completion: string;
  arrays: Record<string, Float32Array>;
}

/** Split a `tokenDiff/samples` answer into per-sample arrays (views, no copy). */
export function decodePage(page: TokenDiffPage, arrays: { name: string; width: number }[]): PageSample[] {
  const data = toFloat32(page.data);
  return page.samples.map((s) => {
    const out: Record<string, Float32Array> = {};
    let at = s.offset;
    for (const a of arrays) { out[a.name] = data.subarray(at, at + a.width * s.length); at += a.width * s.length; }
    return { index: s.index, length: s.length, tokens: s.tokens, tokenIds: s.tokenIds, prompt: s.prompt, completion: s.completion, arrays: out };
  });
}

/** The metric's colour value at token t (logratio: the log of the ratio, i.e. Δ). NaN where missing. */
export function metricValue(arrays: Record<string, Float32Array>, metric: string, t: number): number {
  const g = (n: string) => arrays[n]?.[t] ?? NaN;
  switch (metric) {
    case 'delta': case 'logratio': return g('logprob_b') - g('logprob_a');
    case 'dentropy': return g('entropy_b') - g('entropy_a');
    default: return g(metric);
  }
}

/** The value a cell shows for the metric (logratio: exp(Δ), the ratio itself). */
export function metricDisplayValue(arrays: Record<string, Float32Array>, metric: string, t: number): number {
  const v = metricValue(arrays, metric, t);
  return metric === 'logratio' ? Math.exp(v) : v;
}

/** Colour domain of a metric over the samples shown: robust percentiles, symmetric around 0 for signed metrics. */
export function diffDomain(samples: readonly PageSample[], metric: string, percentiles = '1-99'): RobustDomain {
  const [pLow, pHigh] = parsePercentiles(percentiles);
  const def = diffMetric(metric);
  function* values() { for (const s of samples) for (let t = 0; t < s.length; t++) yield metricValue(s.arrays, def.id, t); }
  return robustDomain(values(), { signed: def.signed, pLow, pHigh });
}

/** "1-99" → [1, 99]; a part that is not a number falls back to 1 (low) / 99 (high). */
function parsePercentiles(percentiles: string): [number, number] {
  const [pLow, pHigh] = percentiles.split('-').map(Number);
  return [Number.isFinite(pLow) ? pLow : 1, Number.isFinite(pHigh) ? pHigh : 99];
}

/**
 * Colour-domain statistics of every colour metric over a whole comparison (all samples, all tokens), computed once on
 * the host (TokenDiffData.overview) so the same value gets the same colour on every page and under every filter.
 * `data` holds the samples' blocks (tokenDiffSampleArrays layout: per sample, each array width × length floats).
 */
export function tokenDiffDomains(arrays: readonly { name: string; width: number }[], samples: readonly { offset: number; length: number }[], data: Float32Array): Record<string, DomainStats> {
  const total = samples.reduce((a, s) => a + s.length, 0);
  // where each one-wide array starts within a sample's block (offset + start × length)
  const start: Record<string, number> = {};
  let w = 0;
  for (const a of arrays) { if (a.width === 1) start[a.name] = w; w += a.width; }
  const out: Record<string, DomainStats> = {};
  const buf = new Float64Array(total);
  for (const m of DIFF_METRICS) {
    if (m.id === 'logratio') continue; // the same values as delta
    if (!m.needs.every((x) => start[x] !== undefined)) continue;
    const pair = m.id === 'delta' ? ['logprob_b', 'logprob_a'] : m.id === 'dentropy' ? ['entropy_b', 'entropy_a'] : undefined;
    let n = 0;
    for (const s of samples) {
      const L = s.length;
      if (pair) {
        const b = s.offset + start[pair[0]] * L, a = s.offset + start[pair[1]] * L;
        for (let t = 0; t < L; t++) { const v = data[b + t] - data[a + t]; if (Number.isFinite(v)) buf[n++] = v; }
      } else {
        const o = s.offset + start[m.id] * L;
        for (let t = 0; t < L; t++) { const v = data[o + t]; if (Number.isFinite(v)) buf[n++] = v; }
      }
    }
    out[m.id] = domainStats(buf, n);
  }
  if (out.delta) out.logratio = out.delta;
  return out;
}

/**
 * The colour domain of a metric for the whole comparison (overview.domains: p-low–p-high over all tokens, symmetric
 * for diverging metrics); without them (an old host), the samples given.
 */
export function comparisonDomain(domains: Record<string, DomainStats> | undefined, samples: readonly PageSample[], metric: string, percentiles = '1-99'): RobustDomain {
  const def = diffMetric(metric);
  const st = domains?.[def.id];
  const [lo, hi] = parsePercentiles(percentiles);
  if (st && (st.count === 0 || (String(lo) in st.q && String(hi) in st.q))) return domainFromStats(st, { signed: def.signed, pLow: lo, pHigh: hi });
  return diffDomain(samples, def.id, percentiles);
}

/** Legend of a metric: its title and how a colour value reads (ratio: e^x, centred on 1). */
export function legendFormat(metric: string): { title: string; value: (v: number) => string; centre: string } {
  const def = diffMetric(metric);
  if (def.id === 'logratio') return { title: 'ratio p_B/p_A (log scale)', value: (v) => fmtNum(Math.exp(v), 3), centre: 'centred on 1' };
  return { title: def.label, value: (v) => fmtNum(v, 3), centre: 'centred on 0' };
}

/**
 * The one number format of the token comparison view (cells, hover, legend, headers): `digits` significant digits
 * (default 3), exponent form below 1e-3 / from 1e5, Unicode minus (−), "—" for NaN, ∞ / −∞.
 */
export function fmtNum(v: number | undefined | null, digits = 3): string {
  if (v === undefined || v === null || Number.isNaN(v)) return '—';
  if (!Number.isFinite(v)) return v > 0 ? '∞' : '−∞';
  if (v === 0) return '0';
  const a = Math.abs(v);
  const s = a >= 1e5 || a < 1e-3 ? v.toExponential(Math.max(1, digits - 1)) : String(+v.toPrecision(digits));
  return s.replace(/-/g, '−');
}

/** The paging label: "samples 1–20 of 32 · page 1/2", "no samples" when none match. */
export function pageLabel(total: number, page: number, perPage: number, pages: number, onPage: number): string {
  if (!total) return 'no samples';
  return `samples ${page * perPage + 1}–${page * perPage + onPage} of ${total} · page ${page + 1}/${pages}`;
}

/**
 * What a token cell shows: its display string; an empty string (a byte piece of a UTF-8 sequence the tokenizer
 * shows on the sequence's first piece, or a byte that makes no character) as the piece's own name (`<0xF0>`, from
 * the comparison's vocabulary); "∅" only when the token has no text at all. `byte`: the byte value of a byte piece.
 */
export function tokenCell(raw: string | undefined, id: number, vocab: Record<string, string>): { text: string; byte?: number; empty: boolean } {
  const own = vocab[String(id)];
  const piece = /^<0x([0-9A-Fa-f]{2})>$/.exec(raw ?? '') ?? /^<0x([0-9A-Fa-f]{2})>$/.exec(own ?? '');
  if (raw) return { text: raw, ...(piece && piece[0] === raw ? { byte: parseInt(piece[1], 16) } : {}), empty: false };
  if (own && piece) return { text: own, byte: parseInt(piece[1], 16), empty: false };
  if (own) return { text: own, empty: false };
  return { text: '', empty: true };
}

/** A byte value as the hover shows it: "byte 0xF0 (240)". */
export function byteLabel(b: number): string { return `byte 0x${b.toString(16).toUpperCase().padStart(2, '0')} (${b})`; }

/**
 * The header's count of completions: "32 completions", or "32 of 64 completions (traces kept for 4 of 8 groups)" when
 * the rollout step stored only part of what it generated.
 */
export function completionsLabel(samples: number, stored?: { totalSamples?: number; groups?: number; totalGroups?: number }): string {
  const cut = stored?.totalSamples !== undefined && stored.totalSamples > samples;
  const groups = stored?.groups !== undefined && stored.totalGroups !== undefined && stored.totalGroups > stored.groups ? ` (traces kept for ${stored.groups} of ${stored.totalGroups} groups)` : '';
  return cut ? `${samples} of ${stored!.totalSamples} completions${groups}` : `${samples} completion${samples === 1 ? '' : 's'}${groups}`;
}

export interface Alternative { id: number; token: string; logprob: number; prob: number; isTarget: boolean }

/** The hover drill-down of token t of a sample: both log-probs, ranks, entropies, KL and the top-k under A and under B. */
export interface TokenDetail {
  sample: number;
  token: number;
  text: string;
  id: number;
  logprobA: number;
  logprobB: number;
  delta: number;
  ratio: number;
  entropyA: number;
  entropyB: number;
  rankA: number;
  rankB: number;
  kl: number;
  topA: Alternative[];
  topB: Alternative[];
}

export function tokenDetail(s: PageSample, t: number, vocab: Record<string, string>): TokenDetail {
  const a = s.arrays;
  const k = a.top_a_id ? Math.round(a.top_a_id.length / Math.max(1, s.length)) : 0;
  const id = s.tokenIds[t];
  const top = (ids: Float32Array | undefined, lps: Float32Array | undefined): Alternative[] => {
    const out: Alternative[] = [];
    if (!ids || !lps) return out;
    for (let c = 0; c < k; c++) {
      const v = ids[t * k + c], lp = lps[t * k + c];
      if (!Number.isFinite(v)) continue;
      out.push({ id: v, token: vocab[String(v)] ?? `#${v}`, logprob: lp, prob: Math.exp(lp), isTarget: v === id });
    }
    return out;
  };
  const lpA = a.logprob_a[t], lpB = a.logprob_b[t];
  return {
    sample: s.index, token: t, text: s.tokens[t] ?? `#${id}`, id,
    logprobA: lpA, logprobB: lpB, delta: lpB - lpA, ratio: Math.exp(lpB - lpA),
    entropyA: a.entropy_a[t], entropyB: a.entropy_b[t], rankA: a.rank_a[t], rankB: a.rank_b[t], kl: a.kl[t],
    topA: top(a.top_a_id, a.top_a_logprob), topB: top(a.top_b_id, a.top_b_logprob),
  };
}

/** Risers / fallers by token string: the trainer's rule (src/shared/tokenStats.ts), here over the completions on screen. */
export { groupTokenDeltas };

/** The Δ log-prob rows of page samples, for groupTokenDeltas. */
export function pageDeltas(samples: readonly PageSample[]): { tokens: string[]; delta: Float32Array }[] {
  return samples.map((s) => {
    const delta = new Float32Array(s.length);
    for (let t = 0; t < s.length; t++) delta[t] = metricValue(s.arrays, 'delta', t);
    return { tokens: s.tokens.slice(0, s.length), delta };
  });
}

/** A row of the risers / fallers table: the bar is |mean Δ| over the largest |mean Δ| of both lists (0..1). */
export interface StatTableRow extends TokenDiffStatRow { kind: 'riser' | 'faller'; bar: number }

export function statTable(risers: readonly TokenDiffStatRow[], fallers: readonly TokenDiffStatRow[], n = 15): StatTableRow[] {
  const r = risers.slice(0, n), f = fallers.slice(0, n);
  const max = Math.max(0, ...r.map((x) => Math.abs(x.meanDelta)), ...f.map((x) => Math.abs(x.meanDelta)));
  const bar = (x: TokenDiffStatRow) => (max > 0 ? Math.abs(x.meanDelta) / max : 0);
  return [...r.map((x) => ({ ...x, kind: 'riser' as const, bar: bar(x) })), ...f.map((x) => ({ ...x, kind: 'faller' as const, bar: bar(x) }))];
}

export type SampleSortKey = 'index' | 'sumDelta' | 'meanKl' | 'length' | 'reward' | 'meanDelta';
export interface SampleSort { key: SampleSortKey; descending: boolean }
export interface SampleFilter {
  /** prompt or completion contains this text (case-insensitive) */
  text?: string;
  /** only samples whose Σ Δ has this sign */
  sign?: 'pos' | 'neg';
}

function sortValue(r: TokenDiffSampleRow, key: SampleSortKey): number {
  switch (key) {
    case 'index': return r.index;
    case 'sumDelta': return r.sumDelta;
    case 'meanDelta': return r.length ? r.sumDelta / r.length : 0;
    case 'meanKl': return r.meanKl;
    case 'length': return r.length;
    case 'reward': return typeof r.reward === 'number' ? r.reward : NaN;
  }
}

/** The per-sample table's rows in display order: filtered, sorted (NaN last, ties by index); returns sample indices. */
export function sortFilterSamples(rows: readonly TokenDiffSampleRow[], sort: SampleSort, filter: SampleFilter = {}): number[] {
  const q = filter.text?.trim().toLowerCase();
  const kept = rows.filter((r) => {
    if (q && !r.prompt.toLowerCase().includes(q) && !r.completion.toLowerCase().includes(q)) return false;
    if (filter.sign === 'pos' && !(r.sumDelta > 0)) return false;
    if (filter.sign === 'neg' && !(r.sumDelta < 0)) return false;
    return true;
  });
  const dir = sort.descending ? -1 : 1;
  kept.sort((x, y) => {
    const a = sortValue(x, sort.key), b = sortValue(y, sort.key);
    const na = Number.isNaN(a), nb = Number.isNaN(b);
    if (na || nb) return na === nb ? x.index - y.index : na ? 1 : -1;
    return a === b ? x.index - y.index : (a - b) * dir;
  });
  return kept.map((r) => r.index);
}

/** Page `page` (0-based) of `perPage` of an ordered list, and the number of pages. */
export function pageOf<T>(list: readonly T[], page: number, perPage: number): { items: T[]; page: number; pages: number } {
  const pages = Math.max(1, Math.ceil(list.length / perPage));
  const p = Math.min(Math.max(0, Math.floor(page)), pages - 1);
  return { items: list.slice(p * perPage, (p + 1) * perPage), page: p, pages };
}
