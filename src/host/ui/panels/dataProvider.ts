/**
 * Host-side data for the webviews, read from run directories with src/runio/reader.ts. No `vscode` import
 * (unit-testable). Live follow keeps byte offsets per run so only new metric / eval lines are read and sent.
 */
import * as path from 'path';
import { FILES, type EvalRecord, type MetricsRecord, type RunStatus } from '../../../shared/runFormat';
import type { HostNotificationMap, MetricsColumnsPayload, MetricsPayload, RunRef, StepInfo, StepPayload } from '../../../shared/protocol';
import { SeriesStore, type StoreColumns } from '../../../webview/data/series';
import { isRunDir, listRolloutSteps, readManifest, readRolloutStep, rolloutStepSummaries } from '../../../runio/reader';
import { readJsonlFrom } from '../../../runio/jsonl';
import { tokenViewOf } from '../../tokenize';
import { fileMark, readMetricsCache, writeMetricsCache } from './metricsCache';
import { runDisplayLabel } from '../../runLabel';

export function runRef(runDir: string): RunRef {
  try {
    const m = readManifest(runDir);
    return { runDir, label: runDisplayLabel({ dir: runDir, name: m.name, id: m.id, startedAt: m.startedAt }), algorithm: m.algorithm, status: m.status, ...(typeof m.startedAt === 'string' ? { startedAt: m.startedAt } : {}) };
  } catch {
    return { runDir, label: path.basename(runDir) };
  }
}

/** Refuse paths that are not run folders (a webview only names runs the host showed it, but it is checked anyway). */
export function checkRunDir(runDir: unknown): string {
  if (typeof runDir !== 'string' || !runDir) throw new Error('runDir must be a non-empty string');
  const abs = path.resolve(runDir);
  if (!isRunDir(abs)) throw new Error(`${abs} is not an RL Lens run folder (no ${FILES.manifest})`);
  return abs;
}

export function getStep(runDir: string, step: number): StepPayload {
  const dir = checkRunDir(runDir);
  if (!Number.isInteger(step) || step < 0) throw new Error(`step must be a non-negative integer, got ${JSON.stringify(step)}`);
  // the one reader (runio/reader.ts): header, samples, the block, and every problem met (truncated block included)
  const read = readRolloutStep(dir, step);
  const problems = read.problems.map((p) => `${path.basename(p.file)}${p.line ? `:${p.line}` : ''}: ${p.message}`);
  // every run gets a token view: samples with text but no tokens (TRL imports) are tokenized here (src/host/tokenize.ts)
  let manifest;
  try { manifest = readManifest(dir); } catch { manifest = undefined; }
  const tv = tokenViewOf(dir, manifest, read);
  const r = tv.step;
  const header = r.header.algorithm ? r.header : { ...r.header, algorithm: String(manifest?.algorithm ?? '') };
  // the block as its own ArrayBuffer (readStepData made a fresh one): transferred to the webview, not JSON
  const data = r.data.byteOffset === 0 && r.data.byteLength === r.data.buffer.byteLength ? r.data.buffer as ArrayBuffer : r.data.slice().buffer as ArrayBuffer;
  return { runDir: dir, header, samples: r.samples, data, problems, ...(tv.info ? { tokenization: tv.info } : {}) };
}

/** Every rollout step of a run with what its index line says (runio/reader.ts rolloutStepSummaries: rollouts/index.jsonl,
 *  read incrementally; steps it lacks are summarised from their header line and added to it): never reads the steps. */
export function stepInfos(runDir: string): StepInfo[] {
  const dir = checkRunDir(runDir);
  return rolloutStepSummaries(dir, { rebuild: true }).map((e) => {
    const info: StepInfo = { step: e.step, traced: !!e.traced, samples: e.samples ?? 0, groups: e.groups ?? 0 };
    if (e.subsampled) info.subsampled = true;
    if (typeof e.totalGroups === 'number') info.totalGroups = e.totalGroups;
    if (typeof e.totalSamples === 'number') info.totalSamples = e.totalSamples;
    return info;
  });
}

/** A run's metrics as the dashboard's columns (`metrics/columns`): the series built here, sent as ArrayBuffers. */
export function metricsColumns(m: MetricsPayload): MetricsColumnsPayload {
  const store = new SeriesStore();
  store.appendMetrics(m.records); store.appendEvals(m.evals);
  return columnsPayload(m.run, m.rolloutSteps, store.toColumns());
}

function columnsPayload(run: RunRef, rolloutSteps: number[], c: StoreColumns): MetricsColumnsPayload {
  const buf = (a: Float64Array) => a.byteOffset === 0 && a.buffer.byteLength === a.byteLength ? a.buffer as ArrayBuffer : a.slice().buffer as ArrayBuffer;
  return { run, rolloutSteps, names: c.names, lengths: c.lengths, stepsOf: c.stepsOf, steps: buf(c.steps), values: buf(c.values), clock: buf(c.clock), clockLength: c.clockLength, appended: c.appended };
}

/** New bytes (metrics + eval) read past the cache before it is rewritten. */
const CACHE_REWRITE_BYTES = 4 << 20;

/**
 * The `metrics/append` a poll of a followed run sends, or undefined when nothing changed. A status change alone (the run
 * ended between two polls without writing another metric line) is sent too, so the dashboard's "(running)" goes.
 */
export function appendMessage(runDir: string, p: ReturnType<RunFollower['poll']>): HostNotificationMap['metrics/append'] | undefined {
  if (!p.records.length && !p.evals.length && !p.statusChanged) return undefined;
  return { runDir, records: p.records, evals: p.evals, ...(p.status ? { status: p.status } : {}) };
}

/** Follows one run's metrics.jsonl / eval.jsonl / rollouts from where it last read. */
export class RunFollower {
  private m = { offset: 0, line: 1 };
  private e = { offset: 0, line: 1 };
  private steps = new Set<number>();
  private status: RunStatus | undefined;
  readonly runDir: string;

  constructor(runDir: string) { this.runDir = checkRunDir(runDir); }

  /** Everything so far (the dashboard's first load); later `poll` returns only what is new. */
  initial(): MetricsPayload {
    const { records, evals } = this.readNew();
    const steps = listRolloutSteps(this.runDir);
    steps.forEach((s) => this.steps.add(s));
    const run = runRef(this.runDir);
    this.status = run.status;
    return { run, records, evals, rolloutSteps: steps };
  }

  /**
   * initial() as the dashboard's columns, through the run folder's columns cache (metricsCache.ts): a run opened before
   * reads its cached columns and only the lines appended since; the cache is (re)written when it was missing, stale, or
   * more than a few MB behind. The same columns as metricsColumns(initial()).
   */
  initialColumns(): MetricsColumnsPayload {
    const cached = readMetricsCache(this.runDir);
    let store: SeriesStore | undefined;
    let behind = Infinity;
    if (cached) {
      this.m = { offset: cached.metrics.offset, line: cached.metrics.line };
      this.e = { offset: cached.eval.offset, line: cached.eval.line };
    }
    const { records, evals } = this.readNew();
    if (cached) behind = (this.m.offset - cached.metrics.offset) + (this.e.offset - cached.eval.offset);
    let c: StoreColumns;
    if (cached && !records.length && !evals.length) c = cached.columns;
    else {
      store = cached ? SeriesStore.fromColumns(cached.columns) : new SeriesStore();
      store.appendMetrics(records); store.appendEvals(evals);
      c = store.toColumns();
    }
    if (behind > CACHE_REWRITE_BYTES && this.m.offset + this.e.offset > 0) {
      writeMetricsCache(this.runDir, c, fileMark(path.join(this.runDir, FILES.metrics), this.m.offset, this.m.line), fileMark(path.join(this.runDir, FILES.eval), this.e.offset, this.e.line));
    }
    const steps = listRolloutSteps(this.runDir);
    steps.forEach((s) => this.steps.add(s));
    const run = runRef(this.runDir);
    this.status = run.status;
    return columnsPayload(run, steps, c);
  }

  private readNew(): { records: MetricsRecord[]; evals: EvalRecord[] } {
    const mr = readJsonlFrom<MetricsRecord>(path.join(this.runDir, FILES.metrics), this.m.offset, this.m.line);
    this.m = { offset: mr.nextOffset, line: mr.nextLine };
    const er = readJsonlFrom<EvalRecord>(path.join(this.runDir, FILES.eval), this.e.offset, this.e.line);
    this.e = { offset: er.nextOffset, line: er.nextLine };
    return { records: mr.records.map((r) => r.value).filter((r) => r && typeof r.step === 'number' && r.values), evals: er.records.map((r) => r.value).filter((r) => r && typeof r.step === 'number' && r.passAtK) };
  }

  /** New records, new rollout steps and a status change since the last call. */
  poll(): { records: MetricsRecord[]; evals: EvalRecord[]; newSteps: number[]; status?: RunStatus; statusChanged: boolean } {
    const { records, evals } = this.readNew();
    const newSteps = listRolloutSteps(this.runDir).filter((s) => !this.steps.has(s));
    newSteps.forEach((s) => this.steps.add(s));
    let status: RunStatus | undefined;
    try { status = readManifest(this.runDir).status; } catch { status = this.status; }
    const statusChanged = status !== this.status;
    this.status = status;
    return { records, evals, newSteps, status, statusChanged };
  }
}
