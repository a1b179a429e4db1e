/**
 * A run's metric series as growable columns (the dashboard's store, the metrics columns cache): records appended as
 * they come (never replaced), one column of steps and of values per series, and the run's step → time clock. Built
 * the same way by the trainer's writer (runio/metricsCache.ts), the extension host and the dashboard page. Pure.
 */
import type { EvalRecord, MetricsRecord } from './runFormat';

/** Growable numeric column (append only). */
export class Column {
  private buf: Float64Array;
  length = 0;
  constructor(cap = 256) { this.buf = new Float64Array(cap); }
  push(v: number): void {
    if (this.length === this.buf.length) { const nb = new Float64Array(Math.max(16, this.buf.length * 2)); nb.set(this.buf); this.buf = nb; }
    this.buf[this.length++] = v;
  }
  get(i: number): number { return this.buf[i]; }
  view(): Float64Array { return this.buf.subarray(0, this.length); }
  /** A column holding `values` (no copy: appends copy into a larger buffer first). */
  static of(values: Float64Array): Column {
    const c = new Column(1);
    c.buf = values; c.length = values.length;
    return c;
  }
}

/** A SeriesStore as columns (the host builds it, `metrics/columns`): one binary transfer instead of every record as
 *  JSON. Series whose steps equal an earlier series' share them (`stepsOf[k]` = that series, or -1: its own, in
 *  `steps` in order). */
export interface StoreColumns {
  names: string[];
  lengths: number[];
  stepsOf: number[];
  steps: Float64Array;
  values: Float64Array;
  /** clock knots: steps then times (clockLength each) */
  clock: Float64Array;
  clockLength: number;
  appended: number;
}

export interface Series { name: string; steps: Column; values: Column }

/** All series of one run; records are appended as they stream in (never replaced). */
export class SeriesStore {
  readonly series = new Map<string, Series>();
  maxStep = -Infinity;
  minStep = Infinity;
  /** number of records appended (for tests / streaming checks) */
  appended = 0;
  /** step → time knots from the records' `time` (seconds since run start): steps ascending, times non-decreasing
   *  (a record whose time went backwards is clamped to the last one), for the time x-axes (dashboardAxis.ts) */
  readonly clock = { steps: new Column(64), times: new Column(64) };

  private tick(step: number, time: number | undefined): void {
    if (typeof time !== 'number' || !Number.isFinite(time) || !Number.isFinite(step)) return;
    const n = this.clock.steps.length;
    if (n && step <= this.clock.steps.get(n - 1)) return;
    this.clock.steps.push(step);
    this.clock.times.push(n ? Math.max(time, this.clock.times.get(n - 1)) : time);
  }

  private col(name: string): Series {
    let s = this.series.get(name);
    if (!s) { s = { name, steps: new Column(), values: new Column() }; this.series.set(name, s); }
    return s;
  }

  private add(name: string, step: number, v: number | null | undefined): void {
    if (typeof v !== 'number' || !Number.isFinite(v)) return;
    const s = this.col(name);
    // keep steps ascending: a repeated or older step (a resumed run) replaces nothing; it is appended only if newer
    if (s.steps.length && step <= s.steps.get(s.steps.length - 1)) return;
    s.steps.push(step); s.values.push(v);
    if (step > this.maxStep) this.maxStep = step;
    if (step < this.minStep) this.minStep = step;
  }

  /** The store as columns (see StoreColumns). */
  toColumns(): StoreColumns {
    const names = [...this.series.keys()];
    const lengths: number[] = [], stepsOf: number[] = [];
    let own = 0, total = 0;
    const views = names.map((n) => this.series.get(n)!);
    views.forEach((s, k) => {
      lengths.push(s.steps.length); total += s.steps.length;
      const st = s.steps.view();
      let ref = -1;
      for (let j = k - 1; j >= 0 && j >= k - 8 && ref < 0; j--) if (stepsOf[j] === -1 && sameColumn(views[j].steps.view(), st)) ref = j;
      stepsOf.push(ref);
      if (ref < 0) own += s.steps.length;
    });
    const steps = new Float64Array(own), values = new Float64Array(total);
    let a = 0, b = 0;
    views.forEach((s, k) => { if (stepsOf[k] < 0) { steps.set(s.steps.view(), a); a += s.steps.length; } values.set(s.values.view(), b); b += s.values.length; });
    const n = this.clock.steps.length, clock = new Float64Array(2 * n);
    clock.set(this.clock.steps.view(), 0); clock.set(this.clock.times.view(), n);
    return { names, lengths, stepsOf, steps, values, clock, clockLength: n, appended: this.appended };
  }

  /** A store from columns (toColumns); later records are appended as usual. No copies: the series are views of the
   *  columns (a Column at capacity copies itself before it grows, so appending never writes into them). */
  static fromColumns(c: StoreColumns): SeriesStore {
    const st = new SeriesStore();
    const own: Float64Array[] = [];
    let a = 0, b = 0;
    c.names.forEach((name, k) => {
      const n = c.lengths[k];
      let steps: Float64Array;
      if (c.stepsOf[k] >= 0) steps = own[c.stepsOf[k]];
      else { steps = c.steps.subarray(a, a + n); a += n; }
      own[k] = steps;
      const values = c.values.subarray(b, b + n); b += n;
      st.series.set(name, { name, steps: Column.of(steps), values: Column.of(values) });
      if (n) { st.minStep = Math.min(st.minStep, steps[0]); st.maxStep = Math.max(st.maxStep, steps[n - 1]); }
    });
    for (let i = 0; i < c.clockLength; i++) { st.clock.steps.push(c.clock[i]); st.clock.times.push(c.clock[c.clockLength + i]); }
    st.appended = c.appended;
    return st;
  }

  appendMetrics(records: MetricsRecord[]): void {
    for (const r of records) {
      const ev = r.split === 'eval', vals = r.values as Record<string, number | null | undefined>;
      for (const k in vals) if (Object.prototype.hasOwnProperty.call(vals, k)) this.add(ev && !k.startsWith('eval/') ? 'eval/' + k : k, r.step, vals[k]);
      this.tick(r.step, r.time);
      this.appended++;
    }
  }

  appendEvals(records: EvalRecord[]): void {
    for (const e of records) {
      for (const [k, v] of Object.entries(e.passAtK)) this.add(`eval/pass@${k}`, e.step, v);
      // the same name the trainer writes to metrics.jsonl (its eval split), so one series, not two
      if (e.meanReward !== undefined) this.add('eval/reward/mean', e.step, e.meanReward);
      // a reference configuration's eval beside it (EvalRecord.baseline, e.g. tfgrpo "no_library"): the names its
      // trainer writes to the same eval line of metrics.jsonl
      const b = e.baseline;
      if (b && typeof b.name === 'string' && /^[A-Za-z0-9_]+$/.test(b.name) && b.passAtK && typeof b.passAtK === 'object') {
        for (const [k, v] of Object.entries(b.passAtK)) this.add(`eval/pass@${k}_${b.name}`, e.step, v);
        if (b.meanReward !== undefined) this.add(`eval/reward/mean_${b.name}`, e.step, b.meanReward);
      }
      this.tick(e.step, e.time);
      this.appended++;
    }
  }
}

function sameColumn(a: Float64Array, b: Float64Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
