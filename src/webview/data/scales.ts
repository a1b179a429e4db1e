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
  if (n === 0) return { lo: opts.signed ? -1 : 0, hi: 1, rawMin: NaN, rawMax: NaN, clipped: false, count: 0, pLow, pHigh };
  const rawMin = arr[0], rawMax = arr[n - 1];
  let lo = quantileSorted(arr, pLow / 100), hi = quantileSorted(arr, pHigh / 100);
  if (opts.signed) {
    let m = Math.max(Math.abs(lo), Math.abs(hi));
    if (!(m > 0)) m = Math.max(Math.abs(rawMin), Math.abs(rawMax)) || 1;
    lo = -m; hi = m;
  } else if (!(hi > lo)) {
    const pad = Math.abs(lo) > 0 ? Math.abs(lo) * 0.5 : 1;
    lo -= pad; hi += pad;
  }
  return { lo, hi, rawMin, rawMax, clipped: rawMin < lo || rawMax > hi, count: n, pLow, pHigh };
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
