/**
 * Colour scales and robust domains for the heatmap (pure: d3-scale / d3-interpolate only, no DOM).
 */
import { scaleDiverging, scaleSequential } from 'd3-scale';
import { interpolateRgb, piecewise } from 'd3-interpolate';
import { rgb } from 'd3-color';

/**
 * Quantile with linear interpolation between order statistics (numpy's default `np.percentile(..., method='linear')`).
 * `sorted` must be ascending; q in [0, 1].
 */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  if (n === 1) return sorted[0];
  const h = (n - 1) * Math.min(1, Math.max(0, q));
  const lo = Math.floor(h);
  const hi = Math.min(n - 1, lo + 1);
  return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
}

export interface RobustDomain {
  /** the domain the colour scale uses */
  lo: number;
  hi: number;
  /** raw range of the finite values (stated in the legend) */
  rawMin: number;
  rawMax: number;
  /** true when [lo, hi] is narrower than the raw range (values beyond are drawn at the end colours) */
  clipped: boolean;
  /** finite values considered */
  count: number;
  /** the percentiles used */
  pLow: number;
  pHigh: number;
}

/**
 * Robust colour domain: the [pLow, pHigh] percentiles of the finite values (so one outlier does not wash out
 * the map). Signed metrics get a symmetric domain [−m, m], m = max(|q_low|, |q_high|), centred on 0.
 * A degenerate domain (all equal) is widened so the scale stays defined.
 */
export function robustDomain(values: Iterable<number>, opts: { signed: boolean; pLow?: number; pHigh?: number }): RobustDomain {
  const pLow = opts.pLow ?? 1, pHigh = opts.pHigh ?? 99;
  const buf: number[] = [];
  for (const v of values) if (Number.isFinite(v)) buf.push(v);
  const arr = Float64Array.from(buf).sort();
  const n = arr.length;
  const q = (p: number) => quantileSorted(arr, p / 100);
  return domainFromStats({ count: n, rawMin: n ? arr[0] : NaN, rawMax: n ? arr[n - 1] : NaN, q: { [String(pLow)]: q(pLow), [String(pHigh)]: q(pHigh) } }, { signed: opts.signed, pLow, pHigh });
}

/** The percentiles a colour domain may use (the heatmap's choices: p1–p99, p5–p95, p0.1–p99.9, p0–p100). */
export const DOMAIN_PERCENTILES = [0, 0.1, 1, 5, 95, 99, 99.9, 100] as const;

/** What a colour domain is made from: the count, raw range and percentiles (keyed by String(p)) of the finite values.
 *  The host computes it once per step and metric (rollout/domain) so the page never scans a whole step. */
export interface DomainStats {
  count: number;
  rawMin: number;
  rawMax: number;
  q: Record<string, number>;
}

/** The narrowest half-width of a diverging (signed) colour domain: values within ±1e-6 are float32 noise (a float32
 *  log-prob or advantage near 1 is only resolved to ~1e-7), drawn near white rather than at full colour. */
export const SIGNED_DOMAIN_FLOOR = 1e-6;

/** robustDomain's rule applied to precomputed percentiles (`stats.q` must hold pLow and pHigh). */
export function domainFromStats(stats: DomainStats, opts: { signed: boolean; pLow: number; pHigh: number }): RobustDomain {
  const { pLow, pHigh } = opts, n = stats.count;
  if (n === 0) return { lo: opts.signed ? -1 : 0, hi: 1, rawMin: NaN, rawMax: NaN, clipped: false, count: 0, pLow, pHigh };
  const { rawMin, rawMax } = stats;
  let lo = stats.q[String(pLow)] ?? rawMin, hi = stats.q[String(pHigh)] ?? rawMax;
  if (opts.signed) {
    let m = Math.max(Math.abs(lo), Math.abs(hi));
    if (!(m > 0)) m = Math.max(Math.abs(rawMin), Math.abs(rawMax)) || 1;
    // a diverging scale narrower than float noise would draw rounding error at full colour (an all-equal group's
    // "advantages" of ±2e-10 from a mean off in its last bit): its half-width is at least SIGNED_DOMAIN_FLOOR
    m = Math.max(m, SIGNED_DOMAIN_FLOOR);
    lo = -m; hi = m;
  } else if (!(hi > lo)) {
    const pad = Math.abs(lo) > 0 ? Math.abs(lo) * 0.5 : 1;
    lo -= pad; hi += pad;
  }
  return { lo, hi, rawMin, rawMax, clipped: rawMin < lo || rawMax > hi, count: n, pLow, pHigh };
}

/**
 * Exact percentiles (quantileSorted's linear interpolation) of the first `n` values of `values` (all finite), without
 * sorting them all: a 65,536-bin histogram over [min, max] finds the bin of every order statistic needed, and only
 * the values of those bins are sorted. Linear in n (the host runs it over millions of per-token values).
 */
export function domainStats(values: Float64Array | Float32Array, n = values.length, percentiles: readonly number[] = DOMAIN_PERCENTILES): DomainStats {
  if (n === 0) return { count: 0, rawMin: NaN, rawMax: NaN, q: {} };
  let mn = Infinity, mx = -Infinity;
  for (let i = 0; i < n; i++) { const v = values[i]; if (v < mn) mn = v; if (v > mx) mx = v; }
  const ranks = new Set<number>();
  for (const p of percentiles) { const h = (n - 1) * Math.min(1, Math.max(0, p / 100)); const lo = Math.floor(h); ranks.add(lo); ranks.add(Math.min(n - 1, lo + 1)); }
  const at = new Map<number, number>();
  if (n <= 100_000 || !(mx > mn)) {
    const sorted = Float64Array.from(values.subarray(0, n)).sort();
    for (const r of ranks) at.set(r, sorted[r]);
  } else {
    const B = 65536, scale = (B - 1) / (mx - mn);
    const counts = new Uint32Array(B);
    for (let i = 0; i < n; i++) counts[Math.floor((values[i] - mn) * scale)]++;
    // rank → (bin, rank within the bin)
    const want = new Map<number, { bin: number; k: number }>();
    const sortedRanks = [...ranks].sort((a, b) => a - b);
    let cum = 0, b = 0;
    for (const r of sortedRanks) {
      while (cum + counts[b] <= r) { cum += counts[b]; b++; }
      want.set(r, { bin: b, k: r - cum });
    }
    // the values of the bins holding a wanted rank, gathered in one pass (a typed bin → list lookup, no Map per value)
    const slot = new Int32Array(B).fill(-1), lists: number[][] = [];
    for (const w of want.values()) if (slot[w.bin] < 0) { slot[w.bin] = lists.length; lists.push([]); }
    for (let i = 0; i < n; i++) { const v = values[i]; const k = slot[Math.floor((v - mn) * scale)]; if (k >= 0) lists[k].push(v); }
    const sortedBins = lists.map((list) => Float64Array.from(list).sort());
    for (const [r, w] of want) at.set(r, sortedBins[slot[w.bin]][w.k]);
  }
  const q: Record<string, number> = {};
  for (const p of percentiles) {
    const h = (n - 1) * Math.min(1, Math.max(0, p / 100)), lo = Math.floor(h), hi = Math.min(n - 1, lo + 1);
    const a = at.get(lo)!, c = at.get(hi)!;
    q[String(p)] = a + (h - lo) * (c - a);
  }
  return { count: n, rawMin: mn, rawMax: mx, q };
}

export type ThemeKind = 'light' | 'dark' | 'high-contrast' | 'high-contrast-light';

export interface Palette {
  /** centre colour of diverging scales and low end of sequential ones: the editor background */
  background: string;
  negative: string;
  positive: string;
  sequential: string[];
  clipLow: string;
  clipHigh: string;
  clipDual: string;
}

export function paletteFor(theme: ThemeKind, background: string): Palette {
  const dark = theme === 'dark' || theme === 'high-contrast';
  const hc = theme === 'high-contrast' || theme === 'high-contrast-light';
  return {
    background,
    // orange ↔ blue: distinguishable for the common colour-vision deficiencies
    negative: hc ? (dark ? '#ff8c00' : '#b35000') : dark ? '#f08a3c' : '#d95f02',
    positive: hc ? (dark ? '#3fa9ff' : '#0050b3') : dark ? '#4aa3f0' : '#1f6fb5',
    sequential: dark ? [background, '#2c3e70', '#2a7f8e', '#5fc46c', '#f4e04d'] : [background, '#c6dbef', '#6baed6', '#2171b5', '#08306b'],
    clipLow: dark ? '#ff5c8a' : '#c2185b',
    clipHigh: dark ? '#ffd54f' : '#e68a00',
    clipDual: dark ? '#e040fb' : '#7b1fa2',
  };
}

/** Diverging scale centred on 0 for signed metrics: negative → background → positive. Values beyond the domain clamp. */
export function divergingScale(domain: RobustDomain, p: Palette): (v: number) => string {
  const s = scaleDiverging(piecewise(interpolateRgb, [p.negative, interpolateRgb(p.negative, p.background)(0.6), p.background, interpolateRgb(p.background, p.positive)(0.4), p.positive]))
    .domain([domain.lo, 0, domain.hi]).clamp(true);
  return (v) => s(v);
}

/** Sequential scale for unsigned metrics (entropy, ratio, value...): background → palette end. */
export function sequentialScale(domain: RobustDomain, p: Palette): (v: number) => string {
  const s = scaleSequential(piecewise(interpolateRgb, p.sequential)).domain([domain.lo, domain.hi]).clamp(true);
  return (v) => s(v);
}

/** Relative luminance (WCAG) of a CSS colour. */
export function luminance(color: string): number {
  const c = rgb(color);
  const f = (x: number) => { const s = x / 255; return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4; };
  return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b);
}

/** Black or white text, whichever contrasts more with the cell colour. */
export function textColorOn(cell: string): string {
  const L = luminance(cell);
  return (L + 0.05) / 0.05 > 1.05 / (L + 0.05) ? '#000000' : '#ffffff';
}

/** Ticks for a legend: nice values spanning the domain (includes 0 for diverging). */
export function legendTicks(domain: RobustDomain, count = 5): number[] {
  const lo = domain.lo, hi = domain.hi;
  const step = niceStep((hi - lo) / Math.max(1, count - 1));
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Math.abs(v) < step * 1e-9 ? 0 : +v.toPrecision(12));
  return out;
}

function niceStep(x: number): number {
  if (!(x > 0)) return 1;
  const e = Math.pow(10, Math.floor(Math.log10(x)));
  const f = x / e;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * e;
}

/** Compact number format for cells, legends and tooltips. */
export function fmt(v: number | undefined | null, digits = 4): string {
  if (v === undefined || v === null || Number.isNaN(v)) return '—';
  if (!Number.isFinite(v)) return v > 0 ? '∞' : '−∞';
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) return v.toExponential(Math.max(1, digits - 2)).replace('-', '−');
  return (+v.toPrecision(digits)).toString().replace('-', '−');
}
