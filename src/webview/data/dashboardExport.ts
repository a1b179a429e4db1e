/**
 * Dashboard export, pure (no DOM): a panel's data as CSV text and the file names of exports. The CSV holds the raw
 * (unsmoothed) values of the panel's shown series, every step the runs logged (not only the zoomed range).
 * Metric names and run labels are untrusted: header cells are quoted as needed and a cell that a spreadsheet would
 * read as a formula (= + - @, tab, CR first) is prefixed with an apostrophe.
 */
import type { StepClock } from './dashboardAxis';

/** One CSV field: text quoted when it holds a comma, quote or line break; formula-like text neutralised. */
export function csvText(s: string): string {
  let v = s;
  if (/^[=+\-@\t\r]/.test(v)) v = `'${v}`;
  return /[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

/** A number as a CSV field: shortest round-trip text; empty for missing / non-finite. */
export function csvNumber(v: number | undefined): string {
  return v === undefined || !Number.isFinite(v) ? '' : String(v);
}

export interface CsvRun {
  label: string;
  series: ReadonlyMap<string, { steps: ArrayLike<number>; values: ArrayLike<number> }>;
  /** the run's step → time knots (a `time_s` column when it has any) */
  clock?: StepClock;
}

/**
 * Wide CSV: `step`, then per run its `time_s` (seconds since run start, when logged) and one column per metric of
 * `names` that the run has. With several runs the columns are prefixed `label: ` (a repeated label gets ` #k`).
 * One row per step that any of them logged, ascending; a cell is empty where that series has no value at that step.
 */
export function panelCsv(runs: readonly CsvRun[], names: readonly string[]): string {
  const cols: { header: string; at: Map<number, number> }[] = [];
  const steps = new Set<number>();
  const seen = new Map<string, number>();
  runs.forEach((r) => {
    const k = (seen.get(r.label) ?? 0) + 1;
    seen.set(r.label, k);
    const prefix = runs.length > 1 ? `${r.label}${k > 1 ? ` #${k}` : ''}: ` : '';
    if (r.clock && r.clock.steps.length) {
      const at = new Map<number, number>();
      for (let i = 0; i < r.clock.steps.length; i++) at.set(r.clock.steps[i], r.clock.times[i]);
      cols.push({ header: `${prefix}time_s`, at });
    }
    for (const n of names) {
      const s = r.series.get(n);
      if (!s) continue;
      const at = new Map<number, number>();
      for (let i = 0; i < s.steps.length; i++) { at.set(s.steps[i], s.values[i]); steps.add(s.steps[i]); }
      cols.push({ header: `${prefix}${n}`, at });
    }
  });
  const lines = [['step', ...cols.map((c) => csvText(c.header))].join(',')];
  for (const st of [...steps].sort((a, b) => a - b)) lines.push([csvNumber(st), ...cols.map((c) => csvNumber(c.at.get(st)))].join(','));
  return lines.join('\n') + '\n';
}

/** A safe file name for an export: `<run>-<panel>.<ext>`, only [A-Za-z0-9._-] (others become `_`), at most 100 characters. */
export function exportFileName(runLabel: string, panel: string, ext: 'csv' | 'png'): string {
  const clean = (s: string) => s.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^[._]+|_+$/g, '');
  const base = [clean(runLabel), clean(panel)].filter(Boolean).join('-') || 'rl-lens-panel';
  return `${base.slice(0, 100 - ext.length - 1)}.${ext}`;
}
