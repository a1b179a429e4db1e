/**
 * Findings over time (pure). A live run is diagnosed on the data it has so far, so a finding can appear at step s and be
 * gone at step t (the condition ended, or the window moved past it). To tell the same story live and after the fact,
 * the doctor replays itself: it diagnoses the data as it stood at checkpoint steps (every `stride`-th logged step, with
 * `stride` the smallest power of two that keeps at most `maxCheckpoints` of them, so a live run's checkpoints stay
 * valid as it grows) and at the last step, and keeps every finding it ever raised with its history: raised at s, still
 * present, or resolved at t. `DoctorTimeline` does this incrementally (each checkpoint is diagnosed once);
 * `diagnoseTimeline` once.
 */
import type { CheckName, DoctorInput, Finding, FindingHistory, Series, Severity } from './types';
import { diagnose } from './index';
import type { DeepPartial, Thresholds } from './thresholds';

export interface TimelineOptions {
  /** at most this many replay checkpoints before the last step (default 32) */
  maxCheckpoints?: number;
  only?: CheckName[];
  /** keep the diagnosis at the current last step as a checkpoint too (a live run: what it showed must not be
   *  forgotten even when the next replay checkpoint comes later) */
  remember?: boolean;
  /** at most this many extra diagnoses per update to pin down the step where findings changed (default 96) */
  maxRefinements?: number;
}

export interface TimelineResult {
  /** every finding ever raised: active ones (present on all the data) first, then resolved ones; each with `history` */
  findings: Finding[];
  /** steps the doctor was run at, last step included */
  checkpoints: number[];
  lastStep?: number;
}

const RANK: Record<Severity, number> = { error: 0, warning: 1, info: 2 };

/** Every step that has any data (metrics of either split, rollouts, evals), sorted, unique. */
export function dataSteps(input: DoctorInput): number[] {
  const set = new Set<number>();
  const add = (s: Series) => { for (let i = 0; i < s.steps.length; i++) if (Number.isFinite(s.values[i])) set.add(s.steps[i]); };
  for (const s of Object.values(input.metrics)) add(s);
  for (const s of Object.values(input.evalMetrics)) add(s);
  for (const r of input.rollouts) set.add(r.step);
  for (const e of input.evals) set.add(e.step);
  return [...set].filter(Number.isFinite).sort((a, b) => a - b);
}

/** Replay checkpoints: every stride-th data step (stride a power of two, ≤ max checkpoints), the last step excluded. */
export function checkpointSteps(steps: number[], max = 32): number[] {
  const n = steps.length;
  let stride = 1;
  while (n / stride > max) stride *= 2;
  const out: number[] = [];
  for (let i = stride - 1; i < n - 1; i += stride) out.push(steps[i]);
  return out;
}

const cut = (s: Series, step: number): Series => {
  let k = 0;
  while (k < s.steps.length && s.steps[k] <= step) k++;
  if (k === s.steps.length) return s;
  // steps are appended in order by every writer; fall back to a filter if not
  if (s.steps.slice(k).some((x) => x <= step)) {
    const idx = s.steps.map((x, i) => (x <= step ? i : -1)).filter((i) => i >= 0);
    return { steps: idx.map((i) => s.steps[i]), values: idx.map((i) => s.values[i]) };
  }
  return { steps: s.steps.slice(0, k), values: s.values.slice(0, k) };
};

/** The run's data as it stood at `step` (everything logged at steps ≤ step). */
export function truncateInput(input: DoctorInput, step: number): DoctorInput {
  const m = (rec: Record<string, Series>) => {
    const out: Record<string, Series> = {};
    for (const [k, s] of Object.entries(rec)) { const c = cut(s, step); if (c.steps.length) out[k] = c; }
    return out;
  };
  return {
    ...input, status: 'running', metrics: m(input.metrics), evalMetrics: m(input.evalMetrics),
    evals: input.evals.filter((e) => e.step <= step), rollouts: input.rollouts.filter((r) => r.step <= step),
    errors: input.errors.filter((e) => e.step === undefined || e.step <= step),
  };
}

export class DoctorTimeline {
  private readonly done = new Map<number, Finding[]>();
  private key = '';

  /** Diagnose the data (new checkpoints only) and return every finding with its history. `between`: called after each
   *  diagnosis (the doctor's worker collects the replay's garbage there). */
  update(input: DoctorInput, thresholds?: DeepPartial<Thresholds> | Record<string, unknown>, opts: TimelineOptions & { between?: () => void } = {}): TimelineResult {
    const g = this.work(input, thresholds, opts);
    for (;;) { const r = g.next(); if (r.done) return r.value; opts.between?.(); }
  }

  /**
   * update() without holding the event loop (the extension host): the same diagnoses, a yield to the loop between
   * replays once `sliceMs` has passed; the same result. The input must not change until it resolves.
   */
  async updateAsync(input: DoctorInput, thresholds?: DeepPartial<Thresholds> | Record<string, unknown>, opts: TimelineOptions & { sliceMs?: number } = {}): Promise<TimelineResult> {
    const g = this.work(input, thresholds, opts);
    let t = Date.now();
    for (;;) {
      const r = g.next();
      if (r.done) return r.value;
      if (Date.now() - t >= (opts.sliceMs ?? 12)) { await new Promise<void>((res) => setTimeout(res, 2)); t = Date.now(); }
    }
  }

  /** update()'s work, a yield after each diagnosis. */
  private *work(input: DoctorInput, thresholds?: DeepPartial<Thresholds> | Record<string, unknown>, opts: TimelineOptions = {}): Generator<void, TimelineResult> {
    const key = JSON.stringify([thresholds ?? null, opts.only ?? null, opts.maxCheckpoints ?? 32]);
    if (key !== this.key) { this.done.clear(); this.key = key; }
    const steps = dataSteps(input);
    const final = diagnose(input, thresholds, { only: opts.only });
    // the data as it stood at `step`, diagnosed (every replay: checkpoints, the first step, refinements)
    const replay = (step: number): Finding[] => diagnose(truncateInput(input, step), thresholds, { only: opts.only });
    if (!steps.length) return { findings: final, checkpoints: [] };
    const last = steps[steps.length - 1];
    for (const s of [...this.done.keys()]) if (s > last) this.done.delete(s); // the run was rewritten: forget later points
    for (const s of checkpointSteps(steps, opts.maxCheckpoints ?? 32)) {
      if (!this.done.has(s)) { this.done.set(s, replay(s)); yield; }
    }
    // the first data step too, so a finding raised on the very first points (a level check on a short history) is
    // pinned to where it was first raised, not to the first grid checkpoint
    if (steps.length > 1 && !this.done.has(steps[0])) { this.done.set(steps[0], replay(steps[0])); yield; }
    if (opts.remember) this.done.set(last, final);
    // refine: between two evaluated steps whose findings differ, bisect over the data steps so "raised at" / "resolved
    // at" are the first data step where it changed, whatever the grid (a live run's grid is finer than the finished
    // run's: without this, live and after-the-fact would name different steps)
    const index = new Map(steps.map((s, i) => [s, i]));
    const at = (i: number) => (i === steps.length - 1 ? final : this.done.get(steps[i]));
    const ids = (fs: Finding[]) => fs.map((f) => f.id).sort().join('|');
    let budget = opts.maxRefinements ?? 96;
    const done = this.done;
    function* refine(a: number, b: number): Generator<void, void> {
      if (b - a <= 1 || budget <= 0 || ids(at(a)!) === ids(at(b)!)) return;
      const mid = (a + b) >> 1;
      if (!done.has(steps[mid])) { done.set(steps[mid], replay(steps[mid])); budget--; yield; }
      yield* refine(a, mid); yield* refine(mid, b);
    }
    const evaluated = [...this.done.keys(), last].filter((s) => s <= last && index.has(s)).map((s) => index.get(s)!).sort((a, b) => a - b);
    for (let i = 1; i < evaluated.length; i++) yield* refine(evaluated[i - 1], evaluated[i]);
    const points = [...this.done.entries()].filter(([s]) => s < last).sort((a, b) => a[0] - b[0]);
    points.push([last, final]);
    return { findings: mergeHistory(points), checkpoints: points.map(([s]) => s), lastStep: last };
  }

  reset(): void { this.done.clear(); }
}

/** Diagnose a run with the history of its findings (one pass; the CLI's and the tree's view). */
export function diagnoseTimeline(input: DoctorInput, thresholds?: DeepPartial<Thresholds> | Record<string, unknown>, opts: TimelineOptions = {}): TimelineResult {
  return new DoctorTimeline().update(input, thresholds, opts);
}

/** Findings at successive checkpoints → every finding once, with raised / still present / resolved. */
export function mergeHistory(points: [number, Finding[]][]): Finding[] {
  const hist = new Map<string, { h: FindingHistory; f: Finding }>();
  let prev = new Set<string>();
  for (const [step, fs] of points) {
    const now = new Set<string>();
    for (const f of fs) {
      now.add(f.id);
      const e = hist.get(f.id);
      if (!e) {
        hist.set(f.id, { f, h: { status: 'active', raisedAt: step, lastSeenAt: step, spans: [{ raisedAt: step, lastSeenAt: step }], worstSeverity: f.severity, asOfStep: step } });
        continue;
      }
      e.f = f;
      e.h.lastSeenAt = step; e.h.asOfStep = step;
      if (RANK[f.severity] < RANK[e.h.worstSeverity]) e.h.worstSeverity = f.severity;
      const sp = e.h.spans[e.h.spans.length - 1];
      if (prev.has(f.id)) sp.lastSeenAt = step; else e.h.spans.push({ raisedAt: step, lastSeenAt: step });
    }
    for (const id of prev) if (!now.has(id)) { const sp = hist.get(id)!.h.spans; sp[sp.length - 1].resolvedAt = step; }
    prev = now;
  }
  const out: Finding[] = [];
  for (const { f, h } of hist.values()) {
    const active = prev.has(f.id);
    const spans = h.spans.map((x) => ({ ...x }));
    const history: FindingHistory = { ...h, spans, status: active ? 'active' : 'resolved', raisedAt: spans[0].raisedAt };
    if (!active) history.resolvedAt = spans[spans.length - 1].resolvedAt;
    out.push({ ...f, history });
  }
  return out.sort((a, b) => (a.history!.status === b.history!.status ? 0 : a.history!.status === 'active' ? -1 : 1)
    || RANK[a.severity] - RANK[b.severity] || a.stepRange[0] - b.stepRange[0] || a.id.localeCompare(b.id));
}

/** One line about a finding's life: "raised at step 40, still present at step 500" / "raised at step 40, resolved by step 310". */
export function historyLine(f: Finding): string {
  const h = f.history;
  if (!h) return '';
  const again = h.spans.length > 1 ? ` (${h.spans.length} times: ${h.spans.map((s) => `${s.raisedAt}–${s.resolvedAt ?? 'now'}`).join(', ')})` : '';
  return h.status === 'active'
    ? `raised at step ${h.raisedAt}, still present at step ${h.lastSeenAt}${again}`
    : `raised at step ${h.raisedAt}, last seen at step ${h.lastSeenAt}, resolved by step ${h.resolvedAt}${again}`;
}
