/**
 * Dashboard x-axis and y-scale data, pure (no DOM): step, wall time or relative time on x (metrics records carry
 * `time` = seconds since run start), tick labels, and the y extent of a log-scale panel.
 */
export type XMode = 'step' | 'relative' | 'wall';

export const X_MODES: readonly XMode[] = ['step', 'relative', 'wall'];
export const X_LABEL: Record<XMode, string> = { step: 'step', relative: 'relative time (since run start)', wall: 'wall time' };

/** A run's step → time knots: steps strictly ascending, times non-decreasing (seconds since run start). */
export interface StepClock { steps: ArrayLike<number>; times: ArrayLike<number> }

/**
 * Time of a step by linear interpolation between the run's knots (a step without its own `time`, e.g. an eval
 * record, gets one from its neighbours); clamped to the first / last knot outside them; NaN when the run has none.
 */
export function timeAtStep(c: StepClock, step: number): number {
  const n = c.steps.length;
  if (!n || !Number.isFinite(step)) return NaN;
  if (step <= c.steps[0]) return c.times[0];
  if (step >= c.steps[n - 1]) return c.times[n - 1];
  let lo = 0, hi = n - 1;
  while (hi - lo > 1) { const m = (lo + hi) >> 1; if (c.steps[m] <= step) lo = m; else hi = m; }
  const s0 = c.steps[lo], s1 = c.steps[hi], t0 = c.times[lo], t1 = c.times[hi];
  return t0 + ((step - s0) / (s1 - s0)) * (t1 - t0);
}

/** Inverse of timeAtStep (the step at a time, interpolated; the first step that reached a flat stretch). */
export function stepAtTime(c: StepClock, t: number): number {
  const n = c.steps.length;
  if (!n || !Number.isFinite(t)) return NaN;
  if (t <= c.times[0]) return c.steps[0];
  if (t >= c.times[n - 1]) return c.steps[n - 1];
  let lo = 0, hi = n - 1;
  while (hi - lo > 1) { const m = (lo + hi) >> 1; if (c.times[m] < t) lo = m; else hi = m; }
  const t0 = c.times[lo], t1 = c.times[hi];
  return t1 > t0 ? c.steps[lo] + ((t - t0) / (t1 - t0)) * (c.steps[hi] - c.steps[lo]) : c.steps[hi];
}

/** x of a step: the step, seconds since run start, or seconds since the epoch (run start + time). */
export function stepToX(mode: XMode, step: number, c: StepClock, startSec: number | undefined): number {
  if (mode === 'step') return step;
  const t = timeAtStep(c, step);
  if (mode === 'relative') return t;
  return startSec === undefined || !Number.isFinite(startSec) ? NaN : startSec + t;
}

export function xToStep(mode: XMode, x: number, c: StepClock, startSec: number | undefined): number {
  if (mode === 'step') return x;
  if (mode === 'relative') return stepAtTime(c, x);
  return startSec === undefined || !Number.isFinite(startSec) ? NaN : stepAtTime(c, x - startSec);
}

/** x of every point of a series (ascending when the steps are: the clock is monotone). */
export function seriesX(mode: XMode, steps: ArrayLike<number>, c: StepClock, startSec: number | undefined): Float64Array {
  const out = new Float64Array(steps.length);
  for (let i = 0; i < steps.length; i++) out[i] = stepToX(mode, steps[i], c, startSec);
  return out;
}

/** "45s", "2m 05s", "1h 02m", "3d 04h" (relative time ticks); "12.5s" below a minute when not whole. */
export function formatDuration(sec: number): string {
  if (!Number.isFinite(sec)) return '';
  const neg = sec < 0, s = Math.abs(sec);
  const sign = neg ? '−' : '';
  if (s < 60) return `${sign}${Number.isInteger(s) ? s : Number(s.toFixed(s < 10 ? 2 : 1))}s`;
  const pad = (v: number) => String(Math.floor(v)).padStart(2, '0');
  if (s < 3600) return `${sign}${Math.floor(s / 60)}m ${pad(s % 60)}s`;
  if (s < 86400) return `${sign}${Math.floor(s / 3600)}h ${pad((s % 3600) / 60)}m`;
  return `${sign}${Math.floor(s / 86400)}d ${pad((s % 86400) / 3600)}h`;
}

/** Wall-clock tick: HH:MM:SS (UTC offset `tzOffsetMin` minutes, default the local zone), with the date when the view spans days. */
export function formatWall(epochSec: number, spanSec: number, tzOffsetMin = -new Date(epochSec * 1000).getTimezoneOffset()): string {
  if (!Number.isFinite(epochSec)) return '';
  const d = new Date((epochSec + tzOffsetMin * 60) * 1000);
  const p = (v: number) => String(v).padStart(2, '0');
  const hms = `${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}`;
  return spanSec >= 86400 ? `${d.getUTCFullYear()}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())} ${hms}` : hms;
}

/**
 * y extent of a log-scale panel: the positive visible values (x within [x0, x1]), padded by a factor 1.1 each way;
 * a single value v gives [v/2, 2v]; undefined when nothing positive is in view (the panel cannot be drawn on log scale).
 */
export function logExtent(parts: { steps: ArrayLike<number>; values: ArrayLike<number> }[], x0: number, x1: number): [number, number] | undefined {
  let lo = Infinity, hi = -Infinity;
  for (const p of parts) for (let i = 0; i < p.steps.length; i++) {
    const s = p.steps[i], v = p.values[i];
    if (!(s >= x0 && s <= x1) || !(v > 0) || !Number.isFinite(v)) continue;
    if (v < lo) lo = v; if (v > hi) hi = v;
  }
  if (lo === Infinity) return undefined;
  if (lo === hi) return [lo / 2, hi * 2];
  return [lo / 1.1, hi * 1.1];
}
