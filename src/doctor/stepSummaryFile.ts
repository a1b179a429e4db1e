/**
 * The doctor's summary of one rollout step kept beside it (docs/run-format.md, "Doctor step summary sidecar"):
 * `rollouts/step_N.doctor.json`, written by the run's writer from the step it holds in memory (runio/writer.ts), so the
 * doctor of a 10 GB run reads a few hundred KB per step instead of parsing each step's JSONL and reading its whole
 * `.f32` block (issue 18: nothing reads all steps at open). Stamped with the step files' size and mtime and the ratio
 * bound the summary counted outliers with: used only while all of them still hold, else the doctor summarises the
 * step from its files as before and writes the sidecar back (unless the folder is read-only, or the step had problems:
 * those are reported on every read). A cache: deleting it loses nothing.
 */
import * as fs from 'fs';
import * as path from 'path';
import { FILES, stepFileBase } from '../shared/runFormat';
import { writeFileAtomic } from '../runio/atomic';
import { fileStamp, sameStamp, type FileStamp } from '../runio/fileStamp';
import type { RolloutSummary } from './types';

export const DOCTOR_SUMMARY_VERSION = 1;

export interface StepDoctorSummaryFile {
  kind: 'stepDoctorSummary';
  version: typeof DOCTOR_SUMMARY_VERSION;
  step: number;
  /** the step's .jsonl and (when it has one) the .f32 its header names (`file`, in rollouts/) as summarised */
  jsonl: FileStamp;
  data?: FileStamp & { file: string };
  /** the ratio outlier bound r the token summary used (tokens outside [1/r, r]) */
  ratioBound: number;
  /** the summary; NaN rewards are written as null (JSON) and read back as NaN */
  summary: RolloutSummary;
}

export function doctorSummaryPath(rolloutsDir: string, step: number): string {
  return path.join(rolloutsDir, `${stepFileBase(step)}${FILES.stepDoctorSuffix}`);
}

export interface StepStamps { jsonl?: FileStamp; data?: FileStamp }

/** The step's files' stamps now (its .jsonl, and `dataFile` in rollouts/ when given). */
export function stepStamps(rolloutsDir: string, step: number, dataFile?: string): StepStamps {
  return { jsonl: fileStamp(path.join(rolloutsDir, `${stepFileBase(step)}.jsonl`)), data: dataFile ? fileStamp(path.join(rolloutsDir, dataFile)) : undefined };
}

/**
 * Write step `step`'s summary beside its files (stamped with them as they are now). `dataFile`: the step's .f32 name
 * (header.dataFile), if any. Atomic; errors (a read-only folder) are the caller's to ignore.
 */
export function writeStepDoctorSummary(rolloutsDir: string, step: number, summary: RolloutSummary, ratioBound: number, dataFile?: string, expect?: StepStamps): void {
  const { jsonl, data } = stepStamps(rolloutsDir, step, dataFile);
  if (!jsonl || (dataFile && !data)) return;
  // files changed while they were summarised: no sidecar (the next read summarises them again)
  if (expect && (!sameStamp(expect.jsonl, jsonl) || (dataFile && !sameStamp(expect.data, data)))) return;
  const file: StepDoctorSummaryFile = { kind: 'stepDoctorSummary', version: DOCTOR_SUMMARY_VERSION, step, jsonl, ...(data && dataFile ? { data: { file: dataFile, ...data } } : {}), ratioBound, summary };
  writeFileAtomic(doctorSummaryPath(rolloutsDir, step), JSON.stringify(file, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v)));
}

/**
 * Step `step`'s summary from its sidecar, when the sidecar is there and still describes the step: same version and
 * step, the .jsonl (and the .f32 its header names) of the stamped size and mtime, the same ratio bound. Else undefined.
 */
export function readStepDoctorSummary(rolloutsDir: string, step: number, ratioBound: number): RolloutSummary | undefined {
  let f: StepDoctorSummaryFile;
  try { f = JSON.parse(fs.readFileSync(doctorSummaryPath(rolloutsDir, step), 'utf8')); } catch { return undefined; }
  if (!f || f.kind !== 'stepDoctorSummary' || f.version !== DOCTOR_SUMMARY_VERSION || f.step !== step || f.ratioBound !== ratioBound) return undefined;
  if (!sameStamp(f.jsonl, fileStamp(path.join(rolloutsDir, `${stepFileBase(step)}.jsonl`)))) return undefined;
  const s = f.summary;
  if (!s || !Array.isArray(s.samples) || !Array.isArray(s.groups)) return undefined;
  // the .f32 as named when summarised (a step rewritten to name another changes the .jsonl's stamp)
  if (f.data && (typeof f.data.file !== 'string' || path.basename(f.data.file) !== f.data.file || !sameStamp(f.data, fileStamp(path.join(rolloutsDir, f.data.file))))) return undefined;
  // JSON has no NaN: a sample without a reward was written as null
  for (const x of s.samples) if (x.reward === null) x.reward = NaN;
  for (const g of s.groups) if (Array.isArray(g.rewards)) g.rewards = g.rewards.map((r) => (r === null ? NaN : r));
  return s;
}
