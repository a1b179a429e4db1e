/**
 * Host-side data for the webviews, read from run directories with src/runio/reader.ts. No `vscode` import
 * (unit-testable). Live follow keeps byte offsets per run so only new metric / eval lines are read and sent.
 */
import * as fs from 'fs';
import * as path from 'path';
import { FILES, type EvalRecord, type MetricsRecord, type RunStatus } from '../../../shared/runFormat';
import type { HostNotificationMap, MetricsColumnsPayload, MetricsPayload, MetricsWindowParams, RunRef, StepInfo, StepPayload } from '../../../shared/protocol';
import { MetricsSource } from './metricsWindow';
import { SeriesStore, type StoreColumns } from '../../../webview/data/series';
import { isRunDir, listRolloutSteps, readManifest, readRolloutStep, rolloutStepSummaries } from '../../../runio/reader';
import { readJsonlFrom } from '../../../runio/jsonl';
import { tokenViewOf } from '../../tokenize';
import { appendRecords, fileMark, isEvalLine, isMetricsLine, readMetricsCache, writeMetricsCache } from '../../../runio/metricsCache';
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

export function columnsPayload(run: RunRef, rolloutSteps: number[], c: StoreColumns): MetricsColumnsPayload {
  const buf = (a: Float64Array) => a.byteOffset === 0 && a.buffer.byteLength === a.byteLength ? a.buffer as ArrayBuffer : a.slice().buffer as ArrayBuffer;
  return { run, rolloutSteps, names: c.names, lengths: c.lengths, stepsOf: c.stepsOf, steps: buf(c.steps), values: buf(c.values), clock: buf(c.clock), clockLength: c.clockLength, appended: c.appended };
}

/** New bytes (metrics + eval) read past the cache before it is rewritten. */
const CACHE_REWRITE_BYTES = 4 << 20;
/** The most bytes of a metrics file parsed at once (the first read of a big run goes in slices: bounded memory). */
const READ_SLICE = 4 << 20;
/** Runs with more points than this (all series together) are sent to the dashboard bucketed (metricsWindow.ts). */
export const BUCKET_ABOVE = 100_000;

/** BUCKET_ABOVE, or RL_LENS_BUCKET_ABOVE when set (tests compare a bucketed dashboard with one drawn from every point). */
function bucketThreshold(): number {
  const v = Number(process.env.RL_LENS_BUCKET_ABOVE);
  return process.env.RL_LENS_BUCKET_ABOVE !== undefined && Number.isFinite(v) ? v : BUCKET_ABOVE;
}

/** Where a JSONL file's complete lines end, and the line after them (read in slices of READ_SLICE bytes). */
function endOfLines(file: string): { offset: number; line: number } {
  let fd: number;
  try { fd = fs.openSync(file, 'r'); } catch { return { offset: 0, line: 1 }; }
  try {
    const buf = Buffer.alloc(READ_SLICE);
    let pos = 0, end = 0, lines = 0;
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, pos);
      if (n <= 0) break;
      for (let i = buf.indexOf(0x0a, 0); i >= 0 && i < n; i = buf.indexOf(0x0a, i + 1)) { lines++; end = pos + i + 1; }
      pos += n;
    }
    return { offset: end, line: lines + 1 };
  } finally { fs.closeSync(fd); }
}

/** A run's start (manifest startedAt) in seconds since the epoch, for the wall-time axis. */
function startSecOf(run: RunRef): number | undefined {
  const t = Date.parse(run.startedAt ?? '');
  return Number.isFinite(t) ? t / 1000 : undefined;
}

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

  /** The run's series, kept here for a bucketed dashboard (metricsWindow.ts) and updated by each poll. */
  private source: MetricsSource | undefined;

  /**
   * initial() as the dashboard's columns, through the run folder's columns cache (metricsCache.ts): a run opened before
   * reads its cached columns and only the lines appended since; the cache is (re)written when it was missing, stale, or
   * more than a few MB behind. New lines are read in slices of a few MB straight into the series (never the whole
   * text, never every record at once). The same columns as metricsColumns(initial()); with `window`, a run of more than
   * `bucketAbove` points comes bucketed instead (issue 18): no points, the series' step range and that window's views.
   */
  initialColumns(window?: MetricsWindowParams, bucketAbove = bucketThreshold()): MetricsColumnsPayload {
    const t0 = performance.now();
    const out = this.columnsFrom(window, bucketAbove);
    out.hostMs = Math.round((performance.now() - t0) * 10) / 10;
    return out;
  }

  private columnsFrom(window: MetricsWindowParams | undefined, bucketAbove: number): MetricsColumnsPayload {
    const cached = readMetricsCache(this.runDir);
    if (cached) {
      this.m = { offset: cached.metrics.offset, line: cached.metrics.line };
      this.e = { offset: cached.eval.offset, line: cached.eval.line };
    }
    const store = cached ? SeriesStore.fromColumns(cached.columns) : new SeriesStore();
    const grew = this.readInto(store);
    const behind = cached ? grew : Infinity;
    const c = cached && !grew ? cached.columns : store.toColumns();
    if (behind > CACHE_REWRITE_BYTES && this.m.offset + this.e.offset > 0) {
      writeMetricsCache(this.runDir, c, fileMark(path.join(this.runDir, FILES.metrics), this.m.offset, this.m.line), fileMark(path.join(this.runDir, FILES.eval), this.e.offset, this.e.line));
    }
    this.source = new MetricsSource(store);
    const steps = listRolloutSteps(this.runDir);
    steps.forEach((s) => this.steps.add(s));
    const run = runRef(this.runDir);
    this.status = run.status;
    if (window && this.source.points > bucketAbove) {
      const startSec = window.startSec ?? startSecOf(run);
      const w = this.source.window(this.runDir, { ...window, ...(startSec !== undefined ? { startSec } : {}) });
      const { data, runDir: _r, ...info } = w;
      const empty = new ArrayBuffer(0);
      const clock = new Float64Array(2 * c.clockLength);
      clock.set(store.clock.steps.view(), 0); clock.set(store.clock.times.view(), c.clockLength);
      return { run, rolloutSteps: steps, names: c.names, lengths: c.lengths, stepsOf: c.names.map(() => -1), steps: empty, values: empty, clock: clock.buffer as ArrayBuffer, clockLength: c.clockLength, appended: c.appended, bucketed: { minStep: store.minStep, maxStep: store.maxStep, window: info }, windowData: data };
    }
    return columnsPayload(run, steps, c);
  }

  /**
   * Follow from now on without reading what is there (a heatmap follows a run for its new steps): the metrics and eval
   * files' ends (after their last complete line, lines counted in slices), the rollout steps and the status.
   */
  startAtEnd(): void {
    for (const [which, file] of [['m', FILES.metrics], ['e', FILES.eval]] as const) this[which] = endOfLines(path.join(this.runDir, file));
    listRolloutSteps(this.runDir).forEach((s) => this.steps.add(s));
    this.status = runRef(this.runDir).status;
  }

  /** The series kept for a bucketed dashboard (read now, from the start of the files, when this follower has none). */
  metricsSource(): MetricsSource {
    if (!this.source) {
      const f = new RunFollower(this.runDir);
      const store = new SeriesStore();
      f.m = { offset: 0, line: 1 }; f.e = { offset: 0, line: 1 };
      f.readInto(store, this.m.offset, this.e.offset);
      this.source = new MetricsSource(store);
    }
    return this.source;
  }

  /** Read the new lines into `store` in slices of at most READ_SLICE bytes (up to the given offsets, if any); the bytes
   *  read. Each slice's lines go straight into the series (no record list); unparsable lines are skipped, as readNew does. */
  private readInto(store: SeriesStore, mEnd = Infinity, eEnd = Infinity): number {
    let bytes = 0;
    for (const [which, file, end] of [['m', FILES.metrics, mEnd], ['e', FILES.eval, eEnd]] as const) {
      let fd: number;
      try { fd = fs.openSync(path.join(this.runDir, file), 'r'); } catch { continue; }
      try {
        const size = Math.min(fs.fstatSync(fd).size, end);
        const buf = Buffer.alloc(Math.min(READ_SLICE, Math.max(0, size - this[which].offset)));
        while (this[which].offset < size) {
          const at = this[which];
          const n = fs.readSync(fd, buf, 0, Math.min(buf.length, size - at.offset), at.offset);
          const nl = n > 0 ? buf.lastIndexOf(0x0a, n - 1) : -1;
          if (nl < 0) {
            // a line longer than a slice (or an unfinished one): the tolerant reader takes it whole
            const r = readJsonlFrom<MetricsRecord & EvalRecord>(path.join(this.runDir, file), at.offset, at.line);
            if (r.nextOffset <= at.offset) break;
            bytes += r.nextOffset - at.offset;
            this[which] = { offset: r.nextOffset, line: r.nextLine };
            this.take(store, which, r.records.map((x) => x.value));
            continue;
          }
          const text = buf.toString('utf8', 0, nl + 1);
          const batch: (MetricsRecord & EvalRecord)[] = [];
          let lines = 0;
          for (let p = 0; p < text.length;) {
            const q = text.indexOf('\n', p);
            lines++;
            if (q > p + 1 || (q === p + 1 && text.charCodeAt(p) !== 13)) { try { batch.push(JSON.parse(text.slice(p, q))); } catch { /* not JSON: skipped */ } }
            p = q + 1;
          }
          this.take(store, which, batch);
          bytes += nl + 1;
          this[which] = { offset: at.offset + nl + 1, line: at.line + lines };
        }
      } finally { fs.closeSync(fd); }
    }
    return bytes;
  }

  /** Metrics or eval records into the series (the ones readNew keeps). */
  private take(store: SeriesStore, which: 'm' | 'e', recs: (MetricsRecord & EvalRecord)[]): void {
    appendRecords(store, which, recs);
  }

  private readNew(): { records: MetricsRecord[]; evals: EvalRecord[] } {
    const mr = readJsonlFrom<MetricsRecord>(path.join(this.runDir, FILES.metrics), this.m.offset, this.m.line);
    this.m = { offset: mr.nextOffset, line: mr.nextLine };
    const er = readJsonlFrom<EvalRecord>(path.join(this.runDir, FILES.eval), this.e.offset, this.e.line);
    this.e = { offset: er.nextOffset, line: er.nextLine };
    const out = { records: mr.records.map((r) => r.value).filter(isMetricsLine), evals: er.records.map((r) => r.value).filter(isEvalLine) };
    if (this.source) { this.source.store.appendMetrics(out.records); this.source.store.appendEvals(out.evals); }
    return out;
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
