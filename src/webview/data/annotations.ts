/**
 * Doctor annotations on the dashboard charts (pure; no DOM). A finding's step range [from, to] becomes a shaded
 * band on the charts whose series it names; `dashboard.ts` draws the bands, this file only computes where.
 */
import type { DashboardAnnotation } from '../../shared/protocol';

export interface AnnotationBand {
  id: string;
  severity: DashboardAnnotation['severity'];
  title: string;
  from: number;
  to: number;
  /** left edge in chart pixels */
  x: number;
  /** width in chart pixels (≥ minPx unless clipped at the plot edge) */
  width: number;
}

export interface BandOptions {
  /** narrowest band drawn (a single-step finding would be 0 px wide), centred on the range; default 4 */
  minPx?: number;
}

const SEV_ORDER: Record<DashboardAnnotation['severity'], number> = { info: 0, warning: 1, error: 2 };

/**
 * Bands of one chart. `names`: the chart's series names; an annotation is drawn when it names one of them.
 * The x scale is linear: step s ↦ r0 + (s − d0)·(r1 − r0)/(d1 − d0) for domain [d0, d1] and pixel range [r0, r1].
 * Bands outside the domain are dropped, the rest clipped to [r0, r1]. Sorted info → warning → error so the most
 * severe is drawn last (on top).
 */
export function annotationBands(annotations: readonly DashboardAnnotation[], names: readonly string[], domain: readonly [number, number], range: readonly [number, number], o: BandOptions = {}): AnnotationBand[] {
  const [d0, d1] = domain, [r0, r1] = range;
  if (!(d1 > d0) || !(r1 > r0)) return [];
  const minPx = o.minPx ?? 4;
  const k = (r1 - r0) / (d1 - d0);
  const px = (s: number) => r0 + (s - d0) * k;
  const shown = new Set(names);
  const out: AnnotationBand[] = [];
  for (const a of annotations) {
    if (!a.metrics.some((m) => shown.has(m))) continue;
    if (a.to < d0 || a.from > d1) continue;
    let left = px(a.from), right = px(a.to);
    if (right - left < minPx) { const mid = (left + right) / 2; left = mid - minPx / 2; right = mid + minPx / 2; }
    left = Math.max(r0, left); right = Math.min(r1, right);
    if (right <= left) continue;
    out.push({ id: a.id, severity: a.severity, title: a.title, from: a.from, to: a.to, x: left, width: right - left });
  }
  return out.sort((a, b) => SEV_ORDER[a.severity] - SEV_ORDER[b.severity]);
}

/** Bands under pixel x (hover): most severe first. */
export function bandsAt(bands: readonly AnnotationBand[], x: number): AnnotationBand[] {
  return bands.filter((b) => x >= b.x && x <= b.x + b.width).sort((a, b) => SEV_ORDER[b.severity] - SEV_ORDER[a.severity]);
}

/**
 * The x zoom that brings a finding's steps into view: [from − pad, to + pad] with pad = max(1, (to − from)/2), clipped
 * to the run's steps [lo, hi]. null (show everything) when that would still cover ≥ 90% of the run or the input is bad.
 */
export function focusDomain(stepRange: readonly [number, number], full: readonly [number, number]): [number, number] | null {
  const [from, to] = stepRange, [lo, hi] = full;
  if (![from, to, lo, hi].every(Number.isFinite) || from > to || !(hi > lo)) return null;
  const pad = Math.max(1, (to - from) / 2);
  const a = Math.max(lo, from - pad), b = Math.min(hi, to + pad);
  if (!(b > a) || b - a >= 0.9 * (hi - lo)) return null;
  return [a, b];
}
