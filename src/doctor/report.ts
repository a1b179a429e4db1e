/**
 * The doctor's report (pure): what `rl-lens doctor --json` prints, documented by schemas/doctor-report.schema.json
 * (version 1; fields are only ever added). Also the data summary that keeps the doctor from calling an empty run healthy.
 */
import { findingKind, type DoctorInput, type Episode, type Finding, type FindingSource, type Severity } from './types';
import type { InputProblem } from '../shared/runFormat';
import { historyLine, type TimelineResult } from './timeline';
import { DEFAULT_THRESHOLDS, type Thresholds } from './thresholds';

export const DOCTOR_REPORT_SCHEMA = 'rl-lens/doctor-report';
export const DOCTOR_REPORT_VERSION = 1;

export type Verdict = 'no-data' | 'too-little-data' | 'healthy' | 'problems';

/** How much history the trend checks had: logged training steps (metric or rollout) against `minSteps`. */
export interface TrendCoverage {
  /** distinct steps with a finite training metric or a rollout */
  points: number;
  /** what the trend checks need (thresholds.minSteps) */
  minPoints: number;
  /** false: too few points, only the level checks (truncation, zero-variance, clip, KL level, NaN) could speak */
  ran: boolean;
}

/** Trend checks (entropy, KL growth and episodes, reward trend, length drift, reward-part divergence, critic, spikes)
 *  need `minSteps` points; below that only level checks run, and the doctor says so instead of "no problems found". */
export function trendCoverage(input: DoctorInput, th: Pick<Thresholds, 'minSteps'> = DEFAULT_THRESHOLDS): TrendCoverage {
  const steps = new Set<number>();
  for (const sr of Object.values(input.metrics)) for (let i = 0; i < sr.values.length; i++) if (Number.isFinite(sr.values[i])) steps.add(sr.steps[i]);
  for (const r of input.rollouts) steps.add(r.step);
  return { points: steps.size, minPoints: th.minSteps, ran: steps.size >= th.minSteps };
}

/** "1 logged step (step 10): trend checks need ≥ 20 …" */
export function shortHistoryMessage(c: TrendCoverage, d: Pick<DataSummary, 'firstStep' | 'lastStep'>): string {
  const where = d.firstStep === null ? '' : d.firstStep === d.lastStep ? ` (step ${d.firstStep})` : ` (steps ${d.firstStep}–${d.lastStep})`;
  return `${c.points} logged step${c.points === 1 ? '' : 's'}${where}: trend checks need ≥ ${c.minPoints} (entropy, KL growth, reward trend, length drift, `
    + 'reward-part divergence, critic, spikes), so only the level checks (truncation, zero-variance, clip, KL level, NaN) could run';
}

export interface DataSummary {
  /** metric names (train and eval split) with at least one finite value */
  metrics: number;
  /** finite metric values in all */
  metricPoints: number;
  rolloutSteps: number;
  evals: number;
  firstStep: number | null;
  lastStep: number | null;
  /** steps the doctor replayed itself at (the last step included) */
  checkpoints: number[];
  /** an importer recovered only part of the source (manifest.source.partial), with what it said */
  partial?: string;
  /** how much history the trend checks had */
  trend?: TrendCoverage;
}

export interface ReportFinding {
  id: string;
  check: string;
  kind: string;
  severity: Severity;
  /** 'active': present on all the data; 'resolved': raised earlier, gone now */
  status: 'active' | 'resolved';
  title: string;
  message: string;
  steps: { from: number; to: number };
  raisedAt: number | null;
  lastSeenAt: number | null;
  resolvedAt: number | null;
  history: string;
  spans: { raisedAt: number; lastSeenAt: number; resolvedAt: number | null }[];
  episodes: Episode[];
  /** the numbers behind the message */
  figures: Record<string, number | null>;
  advice: string;
  /** what data it was computed from */
  data: FindingSource;
  evidence: { metrics: string[]; steps: number[]; groups: { step: number; group: string }[]; samples: { step: number; sample: number }[] };
}

export interface DoctorReport {
  schema: typeof DOCTOR_REPORT_SCHEMA;
  version: typeof DOCTOR_REPORT_VERSION;
  run: string;
  runId: string | null;
  algorithm: string | null;
  status: string | null;
  verdict: Verdict;
  /** one sentence: "no data", "no problems found in …", "2 errors, 1 warning (1 resolved)" */
  summary: string;
  data: DataSummary;
  counts: { error: number; warning: number; info: number; active: number; resolved: number };
  findings: ReportFinding[];
  problems: InputProblem[];
}

/** How much a run holds. `empty` = nothing to diagnose (no finite metric value, no rollout, no eval). */
export function dataSummary(input: DoctorInput, checkpoints: number[] = [], th: Pick<Thresholds, 'minSteps'> = DEFAULT_THRESHOLDS): DataSummary & { empty: boolean } {
  let metrics = 0, metricPoints = 0, first = Infinity, last = -Infinity;
  for (const rec of [input.metrics, input.evalMetrics]) {
    for (const s of Object.values(rec)) {
      let k = 0;
      for (let i = 0; i < s.values.length; i++) if (Number.isFinite(s.values[i])) { k++; first = Math.min(first, s.steps[i]); last = Math.max(last, s.steps[i]); }
      if (k) { metrics++; metricPoints += k; }
    }
  }
  for (const r of input.rollouts) { first = Math.min(first, r.step); last = Math.max(last, r.step); }
  for (const e of input.evals) { first = Math.min(first, e.step); last = Math.max(last, e.step); }
  const src = input.source;
  const partial = src && src.partial ? (typeof src.partial === 'string' ? src.partial : typeof src.partial === 'object' ? JSON.stringify(src.partial) : 'the importer recovered only part of the source') : undefined;
  return {
    metrics, metricPoints, rolloutSteps: input.rollouts.length, evals: input.evals.length,
    firstStep: Number.isFinite(first) ? first : null, lastStep: Number.isFinite(last) ? last : null, checkpoints,
    ...(partial ? { partial } : {}), trend: trendCoverage(input, th), empty: metricPoints === 0 && input.rollouts.length === 0 && input.evals.length === 0,
  };
}

/** What the doctor says when a run has nothing to diagnose (never "no problems found"). */
export function noDataMessage(d: DataSummary): string {
  return 'no data: the run has no metric values, no rollouts and no evals, so nothing could be diagnosed'
    + (d.partial ? ` (the import was partial: ${d.partial})` : '') + '. This is not a healthy verdict.';
}

const num = (x: number) => (Number.isFinite(x) ? x : null);

export function reportFinding(f: Finding): ReportFinding {
  const h = f.history;
  const figures: Record<string, number | null> = {};
  for (const [k, v] of Object.entries(f.evidence?.values ?? {})) figures[k] = num(v);
  return {
    id: f.id, check: f.check, kind: findingKind(f), severity: f.severity, status: h?.status ?? 'active',
    title: f.title, message: f.message, steps: { from: f.stepRange[0], to: f.stepRange[1] },
    raisedAt: h?.raisedAt ?? null, lastSeenAt: h?.lastSeenAt ?? null, resolvedAt: h?.resolvedAt ?? null, history: historyLine(f),
    spans: (h?.spans ?? []).map((s) => ({ raisedAt: s.raisedAt, lastSeenAt: s.lastSeenAt, resolvedAt: s.resolvedAt ?? null })),
    episodes: (f.episodes ?? []).map((e) => ({ ...e, peak: { step: e.peak.step, value: num(e.peak.value) as number } })),
    figures, advice: f.remedy, data: f.source ?? { metrics: (f.evidence?.metrics ?? []).filter((m) => !m.includes(':')) },
    evidence: { metrics: f.evidence?.metrics ?? [], steps: f.evidence?.steps ?? [], groups: f.evidence?.groups ?? [], samples: f.evidence?.samples ?? [] },
  };
}

export function doctorReport(run: string, input: DoctorInput, t: TimelineResult, problems: InputProblem[] = [], th: Pick<Thresholds, 'minSteps'> = DEFAULT_THRESHOLDS): DoctorReport {
  const d = dataSummary(input, t.checkpoints, th);
  const { empty, ...data } = d;
  const findings = t.findings.map(reportFinding);
  const c = (s: Severity) => findings.filter((f) => f.severity === s).length;
  const counts = { error: c('error'), warning: c('warning'), info: c('info'), active: findings.filter((f) => f.status === 'active').length, resolved: findings.filter((f) => f.status === 'resolved').length };
  const short = !empty && data.trend && !data.trend.ran ? shortHistoryMessage(data.trend, data) : undefined;
  const verdict: Verdict = empty ? 'no-data' : findings.length ? 'problems' : short ? 'too-little-data' : 'healthy';
  const summary = verdict === 'no-data' ? noDataMessage(data)
    : verdict === 'too-little-data' ? `too little data: ${short}; they found nothing. This is not a healthy verdict.`
      : verdict === 'healthy' ? `no problems found (steps ${data.firstStep}–${data.lastStep}, ${t.checkpoints.length} checkpoints replayed)`
        : `${counts.error} error(s), ${counts.warning} warning(s), ${counts.info} info${counts.resolved ? ` (${counts.resolved} resolved before the last step)` : ''}${short ? `; too little data for trends: ${short}` : ''}`;
  return {
    schema: DOCTOR_REPORT_SCHEMA, version: DOCTOR_REPORT_VERSION, run, runId: input.runId ?? null, algorithm: input.algorithm ?? null, status: input.status ?? null,
    verdict, summary, data, counts, findings, problems,
  };
}
