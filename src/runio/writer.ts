/**
 * Run directory writer (trainer side, importers, tests). Append-only JSONL with one write() per line,
 * atomic replace (tmp + rename) for manifest, checkpoints and rollout steps. See src/shared/runFormat.ts.
 */
import * as fs from 'fs';
import * as path from 'path';
import {
  FILES, RUN_FORMAT, RUN_FORMAT_VERSION, stepFileBase,
  type EvalRecord, type MetricsRecord, type RolloutIndexEntry, type RolloutSample, type RolloutSampleInput, type RolloutStepHeader, type RolloutStepHeaderInput, type RunManifest, type TrainerEvent,
} from '../shared/runFormat';
import { packRolloutStep, sampleArrays, sampleBlock, type RolloutStep, type TokenArrays } from '../shared/rolloutStep';
import { summarizeRolloutStep } from '../doctor/summarize';
import { writeStepDoctorSummary } from '../doctor/stepSummaryFile';
import { DEFAULT_THRESHOLDS } from '../doctor/thresholds';
import { writeFileAtomic } from './atomic';
import { MetricsColumnsWriter } from './metricsCache';
import { makeStepOverview, memorySampleStep, stepDomains, stepNumbers, stepOverviewPath, withBlockStats, writeJsonAtomic } from './stepOverview';

export type { TokenArrays };

export { writeFileAtomic };

/** Append one JSON line; returns the text written (with its newline). */
export function appendJsonLine(file: string, value: unknown): string {
  // one write call per line with O_APPEND: concurrent readers see whole lines or a torn tail, never interleaving
  const text = JSON.stringify(value, jsonReplacer) + '\n';
  fs.appendFileSync(file, text);
  return text;
}

/** JSON cannot hold NaN/Infinity: write them as null (metrics) so files stay parsable. */
export function jsonReplacer(_k: string, v: unknown): unknown {
  if (typeof v === 'number' && !Number.isFinite(v)) return null;
  return v;
}

export class RunWriter {
  readonly dir: string;
  private manifest: RunManifest;

  /** the dashboard's columns of the lines written here, cached in the run folder as they come (issue 18) */
  private readonly columns: MetricsColumnsWriter;

  private constructor(dir: string, manifest: RunManifest) {
    this.dir = dir;
    this.manifest = manifest;
    this.columns = new MetricsColumnsWriter(dir);
  }

  /** Create a new run directory (fails if it already holds a manifest, so nothing is overwritten). */
  static create(dir: string, init: Omit<RunManifest, 'format' | 'formatVersion' | 'status' | 'startedAt'> & Partial<Pick<RunManifest, 'status' | 'startedAt'>>): RunWriter {
    fs.mkdirSync(dir, { recursive: true });
    if (fs.existsSync(path.join(dir, FILES.manifest))) {
      throw new Error(`${path.join(dir, FILES.manifest)} already exists: choose another --out folder or delete that run first`);
    }
    fs.mkdirSync(path.join(dir, FILES.rolloutsDir), { recursive: true });
    fs.mkdirSync(path.join(dir, FILES.checkpointsDir), { recursive: true });
    const now = new Date().toISOString();
    const manifest: RunManifest = {
      format: RUN_FORMAT, formatVersion: RUN_FORMAT_VERSION, status: 'running', startedAt: now, updatedAt: now,
      ...init,
    } as RunManifest;
    const w = new RunWriter(dir, manifest);
    w.writeManifest();
    for (const f of [FILES.events, FILES.metrics, FILES.eval]) {
      if (!fs.existsSync(path.join(dir, f))) fs.writeFileSync(path.join(dir, f), '');
    }
    return w;
  }

  get current(): Readonly<RunManifest> { return this.manifest; }

  updateManifest(patch: Partial<RunManifest>): void {
    // a run that ends has its columns cache written first, so a dashboard opened on the ended run finds it whole
    if (patch.status !== undefined && patch.status !== 'running') this.columns.flush();
    this.manifest = { ...this.manifest, ...patch, updatedAt: new Date().toISOString() };
    this.writeManifest();
  }

  private writeManifest(): void {
    writeFileAtomic(path.join(this.dir, FILES.manifest), JSON.stringify(this.manifest, jsonReplacer, 2) + '\n');
  }

  event(e: TrainerEvent): void { appendJsonLine(path.join(this.dir, FILES.events), e); }
  metrics(r: MetricsRecord): void { this.columns.line('m', appendJsonLine(path.join(this.dir, FILES.metrics), r)); }
  evalRecord(r: EvalRecord): void { this.columns.line('e', appendJsonLine(path.join(this.dir, FILES.eval), r)); }

  /** Write the dashboard's columns cache now (runio/metricsCache.ts); done by updateManifest when the run ends. */
  flushColumns(): void { this.columns.flush(); }

  /**
   * Write one rollout step: per-token arrays to step_X.f32 (sample-major, array-major inside a sample),
   * then header + samples to step_X.jsonl atomically. Returns the .jsonl path.
   * `arrays[i]` gives sample i's per-token arrays; every array named in `header.arrays` must have `samples[i].length` values
   * (missing arrays are stored as NaN).
   */
  writeRolloutStep(header: RolloutStepHeaderInput, samples: RolloutSampleInput[], arrays: TokenArrays[]): string {
    return writeRolloutStepFiles(path.join(this.dir, FILES.rolloutsDir), header, samples, arrays);
  }

  checkpointDir(name: string): string {
    const d = path.join(this.dir, FILES.checkpointsDir, name);
    fs.mkdirSync(d, { recursive: true });
    return d;
  }
}

/** Write a producer's step (packed by src/shared/rolloutStep.ts) to `rolloutsDir`; returns the .jsonl path. */
export function writeRolloutStepFiles(rolloutsDir: string, header: RolloutStepHeaderInput, samples: RolloutSampleInput[], arrays: TokenArrays[]): string {
  const base = stepFileBase(header.step);
  return writeRolloutStepPacked(rolloutsDir, packRolloutStep({ header, samples, arrays }, `${base}.f32`));
}

/**
 * Write a packed step: the .f32 block first (little-endian), then header + samples to step_X.jsonl atomically, so a
 * reader that lists *.jsonl never sees half a step. Returns the .jsonl path.
 */
export function writeRolloutStepPacked(rolloutsDir: string, step: RolloutStep): string {
  fs.mkdirSync(rolloutsDir, { recursive: true });
  const base = stepFileBase(step.header.step);
  const { header, samples, data } = step;
  if (header.dataFile) {
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    if (!isLittleEndian()) swap32(bytes);
    writeFileAtomic(path.join(rolloutsDir, header.dataFile), bytes);
  }
  const lines = [JSON.stringify(header, jsonReplacer), ...samples.map((s) => JSON.stringify(s, jsonReplacer))];
  const file = path.join(rolloutsDir, `${base}.jsonl`);
  const text = lines.join('\n') + '\n';
  writeFileAtomic(file, text);
  // the overview sidecar (docs/run-format.md, "Step overview sidecar"): the records without token texts and each
  // sample line's byte range, so the heatmap answers without parsing this file; stamped with the file's size and mtime
  const ranges: [number, number][] = [];
  for (let k = 1, at = Buffer.byteLength(lines[0], 'utf8') + 1; k < lines.length; k++) {
    const n = Buffer.byteLength(lines[k], 'utf8');
    ranges.push([at, n]);
    at += n + 1;
  }
  try {
    const st = fs.statSync(file);
    let ov = makeStepOverview(header, samples, ranges, { bytes: st.size, mtimeMs: st.mtimeMs });
    if (header.dataFile) {
      // what the overview derives from the block (held here): the per-sample numbers and the step-wide colour domain of
      // each metric offered, so the host reads nothing of the block for the first answer and its colours
      const dst = fs.statSync(path.join(rolloutsDir, header.dataFile));
      const parsed = samples.map(asParsed), sampleStep = memorySampleStep(step);
      const numbers = stepNumbers(header, parsed, sampleStep);
      ov = withBlockStats(ov, dst, { ...numbers, domains: stepDomains(parsed, numbers.withData, sampleStep) });
    }
    writeJsonAtomic(stepOverviewPath(rolloutsDir, header.step), ov);
  } catch { /* a cache: rebuilt by the reader when missing */ }
  // the doctor's summary of the step (docs/run-format.md, "Doctor step summary sidecar"), from the block held here: the
  // doctor of a big run never parses its steps' JSONL nor reads their blocks
  try {
    const at = new Map(samples.map((s, i) => [s, i]));
    const summary = summarizeRolloutStep(header, samples, (s) => (header.dataFile && sampleBlock(header, s) ? sampleArrays(step, at.get(s)!) : {}));
    writeStepDoctorSummary(rolloutsDir, header.step, summary, DEFAULT_THRESHOLDS.clip.ratioOutlier, header.dataFile);
  } catch { /* a cache: the doctor summarises the step from its files when missing */ }
  // the step index (docs/run-format.md, "Step index"): after the step is published, so a listed step always exists
  appendJsonLine(path.join(rolloutsDir, path.basename(FILES.rolloutIndex)), rolloutIndexEntry(header, samples, Buffer.byteLength(text, 'utf8'), header.dataFile ? data.byteLength : 0));
  return file;
}

/** The record's `advantage` as a reader parses it (NaN / ±Infinity are written as null): stepNumbers reads it. */
function asParsed(s: RolloutSample): RolloutSample {
  return typeof s.advantage === 'number' && !Number.isFinite(s.advantage) ? { ...s, advantage: null as unknown as number } : s;
}

/** A step's line of rollouts/index.jsonl (`samples` omitted when rebuilt from the header alone: no reward mean). */
export function rolloutIndexEntry(header: RolloutStepHeader, samples: Pick<RolloutSample, 'reward'>[] | undefined, jsonlBytes: number, dataBytes: number): RolloutIndexEntry {
  const arrays = Array.isArray(header.arrays) ? header.arrays : [];
  const e: RolloutIndexEntry = {
    step: header.step, traced: arrays.length > 0, arrays, samples: header.numSamples ?? samples?.length ?? 0, groups: header.groups?.length ?? 0,
    jsonlBytes, dataBytes,
  };
  if (header.subsampled) e.subsampled = true;
  if (typeof header.totalGroups === 'number') e.totalGroups = header.totalGroups;
  if (typeof header.totalSamples === 'number') e.totalSamples = header.totalSamples;
  if (samples) {
    let sum = 0, n = 0;
    for (const s of samples) if (typeof s.reward === 'number' && Number.isFinite(s.reward)) { sum += s.reward; n++; }
    e.rewardMean = n ? sum / n : null;
  }
  return e;
}

export function isLittleEndian(): boolean {
  return new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
}

export function swap32(b: Uint8Array): void {
  for (let i = 0; i + 3 < b.length; i += 4) {
    const a0 = b[i], a1 = b[i + 1];
    b[i] = b[i + 3]; b[i + 1] = b[i + 2]; b[i + 2] = a1; b[i + 3] = a0;
  }
}
