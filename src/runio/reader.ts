/**
 * Run directory reader (extension host, CLI, doctor, tests). Tolerant: problems are collected with file:line,
 * never thrown for bad lines. Per-token arrays are read lazily, per step and per sample.
 */
import * as fs from 'fs';
import * as path from 'path';
import {
  FILES, parseStepFileBase, stepFileBase,
  type CheckpointMeta, type EvalRecord, type InputProblem, type MetricsRecord, type RolloutSample, type RolloutStepHeader,
  type RunManifest, type TrainerEvent,
} from '../shared/runFormat';
import { readJsonlFile } from './jsonl';
import { isLittleEndian, swap32 } from './writer';

export class RunFormatError extends Error {
  constructor(message: string, readonly file: string, readonly line?: number) {
    super(`${file}${line ? `:${line}` : ''}: ${message}`);
  }
}

export function isRunDir(dir: string): boolean {
  return fs.existsSync(path.join(dir, FILES.manifest));
}

export function readManifest(dir: string): RunManifest {
  const file = path.join(dir, FILES.manifest);
  let text: string;
  try { text = fs.readFileSync(file, 'utf8'); } catch { throw new RunFormatError('no manifest.json: not an RL Lens run folder (use "rl-lens import" for TRL / verl / OpenRLHF logs)', file); }
  try { return JSON.parse(text) as RunManifest; } catch (e) { throw new RunFormatError(`manifest is not valid JSON: ${(e as Error).message}`, file); }
}

export function readMetrics(dir: string, problems?: InputProblem[]): MetricsRecord[] {
  const r = readJsonlFile<MetricsRecord>(path.join(dir, FILES.metrics));
  problems?.push(...r.problems);
  return r.records.map((x) => x.value);
}

export function readEvents(dir: string, problems?: InputProblem[]): TrainerEvent[] {
  const r = readJsonlFile<TrainerEvent>(path.join(dir, FILES.events));
  problems?.push(...r.problems);
  return r.records.map((x) => x.value);
}

export function readEvals(dir: string, problems?: InputProblem[]): EvalRecord[] {
  const r = readJsonlFile<EvalRecord>(path.join(dir, FILES.eval));
  problems?.push(...r.problems);
  return r.records.map((x) => x.value);
}

/** Steps that have a complete rollout file, ascending. */
export function listRolloutSteps(dir: string): number[] {
  const d = path.join(dir, FILES.rolloutsDir);
  let names: string[];
  try { names = fs.readdirSync(d); } catch { return []; }
  return names.filter((n) => /^step_\d+\.jsonl$/.test(n)).map((n) => parseStepFileBase(n)!).sort((a, b) => a - b);
}

export interface RolloutStep {
  header: RolloutStepHeader;
  samples: RolloutSample[];
  problems: InputProblem[];
}

export function readRolloutStep(dir: string, step: number): RolloutStep {
  const file = path.join(dir, FILES.rolloutsDir, `${stepFileBase(step)}.jsonl`);
  const r = readJsonlFile<RolloutStepHeader | RolloutSample>(file);
  const problems = [...r.problems];
  const first = r.records[0];
  if (!first || (first.value as RolloutStepHeader).kind !== 'header') {
    throw new RunFormatError('first line must be the step header ({"kind":"header",...})', file, first?.line ?? 1);
  }
  const header = first.value as RolloutStepHeader;
  const samples: RolloutSample[] = [];
  for (const rec of r.records.slice(1)) {
    const s = rec.value as RolloutSample;
    if (s.kind !== 'sample') { problems.push({ file, line: rec.line, field: 'kind', message: `expected "sample", got ${JSON.stringify(s.kind)}` }); continue; }
    samples.push(s);
  }
  return { header, samples, problems };
}

/** Read the whole .f32 file of a step (all samples, all arrays). */
export function readStepData(dir: string, header: RolloutStepHeader): Float32Array | undefined {
  if (!header.dataFile) return undefined;
  const buf = fs.readFileSync(path.join(dir, FILES.rolloutsDir, header.dataFile));
  const bytes = new Uint8Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  if (!isLittleEndian()) swap32(bytes);
  return new Float32Array(bytes.buffer, 0, Math.floor(bytes.byteLength / 4));
}

/** Per-token arrays of one sample, read with a single positioned read. */
export function readSampleArrays(dir: string, header: RolloutStepHeader, sample: RolloutSample): Record<string, Float32Array> {
  const out: Record<string, Float32Array> = {};
  if (!header.dataFile || sample.offset === undefined || header.arrays.length === 0) return out;
  const n = header.arrays.length * sample.length;
  const bytes = new Uint8Array(n * 4);
  const fd = fs.openSync(path.join(dir, FILES.rolloutsDir, header.dataFile), 'r');
  try { fs.readSync(fd, bytes, 0, bytes.length, sample.offset * 4); } finally { fs.closeSync(fd); }
  if (!isLittleEndian()) swap32(bytes);
  const all = new Float32Array(bytes.buffer);
  header.arrays.forEach((name, k) => { out[name] = all.subarray(k * sample.length, (k + 1) * sample.length); });
  return out;
}

/** Slice one sample's arrays out of a step's full data. */
export function sliceSampleArrays(data: Float32Array, header: RolloutStepHeader, sample: RolloutSample): Record<string, Float32Array> {
  const out: Record<string, Float32Array> = {};
  if (sample.offset === undefined) return out;
  header.arrays.forEach((name, k) => {
    const at = sample.offset! + k * sample.length;
    out[name] = data.subarray(at, at + sample.length);
  });
  return out;
}

export interface CheckpointEntry {
  name: string;
  dir: string;
  meta?: CheckpointMeta;
  problem?: string;
}

export function listCheckpoints(dir: string): CheckpointEntry[] {
  const d = path.join(dir, FILES.checkpointsDir);
  let names: string[];
  try { names = fs.readdirSync(d); } catch { return []; }
  const out: CheckpointEntry[] = [];
  for (const name of names) {
    if (name.startsWith('.')) continue;
    const cdir = path.join(d, name);
    const metaFile = path.join(cdir, FILES.checkpointMeta);
    if (!fs.existsSync(metaFile)) continue; // incomplete (meta is written last)
    try {
      out.push({ name, dir: cdir, meta: JSON.parse(fs.readFileSync(metaFile, 'utf8')) as CheckpointMeta });
    } catch (e) {
      out.push({ name, dir: cdir, problem: `${metaFile}: ${(e as Error).message}` });
    }
  }
  return out.sort((a, b) => (a.meta?.step ?? 0) - (b.meta?.step ?? 0) || a.name.localeCompare(b.name));
}
