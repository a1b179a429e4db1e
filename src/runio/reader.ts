/**
 * Run directory reader (extension host, CLI, doctor, tests). Tolerant: problems are collected with file:line,
 * never thrown for bad lines. Per-token arrays are read lazily, per step and per sample.
 */
import * as fs from 'fs';
import * as path from 'path';
import {
  FILES, parseStepFileBase, stepFileBase,
  type CheckpointMeta, type EvalRecord, type InputProblem, type MetricsRecord, type RolloutIndexEntry, type RolloutSample, type RolloutStepHeader,
  type RunManifest, type TrainerEvent,
} from '../shared/runFormat';
import { readJsonlFile, readJsonlFrom } from './jsonl';
import { blockProblems, sampleArrays, sampleBlock, type RolloutStep } from '../shared/rolloutStep';
import { appendJsonLine, isLittleEndian, rolloutIndexEntry, swap32 } from './writer';

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

const indexCache = new Map<string, { offset: number; line: number; entries: Map<number, RolloutIndexEntry> }>();

/**
 * rollouts/index.jsonl as step → entry (the last line of a step counts), read incrementally: a later call reads only
 * the lines appended since (a file that shrank is read again). Empty when the run has no index.
 */
export function readRolloutIndex(dir: string): Map<number, RolloutIndexEntry> {
  const file = path.join(path.resolve(dir), FILES.rolloutIndex);
  let c = indexCache.get(file);
  let size = -1;
  try { size = fs.statSync(file).size; } catch { /* no index */ }
  if (size < 0) { indexCache.delete(file); return c?.entries ?? new Map(); }
  if (!c || size < c.offset) { c = { offset: 0, line: 1, entries: new Map() }; indexCache.set(file, c); }
  if (size > c.offset) {
    const r = readJsonlFrom<RolloutIndexEntry>(file, c.offset, c.line);
    c.offset = r.nextOffset; c.line = r.nextLine;
    for (const { value: e } of r.records) if (e && Number.isInteger(e.step) && e.step >= 0) c.entries.set(e.step, e);
  }
  return c.entries;
}

/**
 * Every rollout step of a run summarised (ascending): from rollouts/index.jsonl, never by reading the steps; a step
 * the index lacks (imported or older runs, or a step published by a writer that stopped before its index line) is
 * summarised from its header line only (readRolloutStepHeader) and, with `rebuild`, appended to the index so the
 * next open finds it there (a read-only folder is left alone). A step whose header cannot be read is left out.
 */
export function rolloutStepSummaries(dir: string, opts: { rebuild?: boolean } = {}): RolloutIndexEntry[] {
  const steps = listRolloutSteps(dir);
  const idx = readRolloutIndex(dir);
  const out: RolloutIndexEntry[] = [];
  const added: RolloutIndexEntry[] = [];
  for (const step of steps) {
    let e = idx.get(step);
    if (!e) {
      try {
        const h = readRolloutStepHeader(dir, step);
        const size = (f: string | undefined) => { try { return f ? fs.statSync(path.join(dir, FILES.rolloutsDir, f)).size : 0; } catch { return 0; } };
        e = rolloutIndexEntry(h, undefined, size(`${stepFileBase(step)}.jsonl`), size(h.dataFile));
      } catch { continue; }
      idx.set(step, e);
      added.push(e);
    }
    out.push(e);
  }
  if (opts.rebuild && added.length) {
    // one write per line (O_APPEND): a trainer appending at the same time interleaves whole lines; the next read
    // takes these lines in again (the same entries: the last line of a step counts)
    try { fs.mkdirSync(path.join(dir, FILES.rolloutsDir), { recursive: true }); for (const e of added) appendJsonLine(path.join(dir, FILES.rolloutIndex), e); } catch { /* read-only run folder: kept in memory only */ }
  }
  return out;
}

/** A step read back: the stored shape (src/shared/rolloutStep.ts) and the problems met reading it. */
export interface RolloutStepRead extends RolloutStep {
  problems: InputProblem[];
}

/** Header and samples of a step without its per-token block (the tree, the doctor's summaries). */
export function readRolloutStepIndex(dir: string, step: number): Omit<RolloutStepRead, 'data'> {
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

/** A step's header line only (read until the first newline, not the samples): the step picker and the tree's step rows. */
export function readRolloutStepHeader(dir: string, step: number): RolloutStepHeader {
  const file = path.join(dir, FILES.rolloutsDir, `${stepFileBase(step)}.jsonl`);
  const fd = fs.openSync(file, 'r');
  const chunks: Buffer[] = [];
  try {
    const buf = Buffer.alloc(64 * 1024);
    for (let pos = 0; ;) {
      const n = fs.readSync(fd, buf, 0, buf.length, pos);
      if (n <= 0) break;
      const nl = buf.subarray(0, n).indexOf(10);
      chunks.push(Buffer.from(buf.subarray(0, nl >= 0 ? nl : n)));
      if (nl >= 0) break;
      pos += n;
    }
  } finally { fs.closeSync(fd); }
  let h: RolloutStepHeader;
  try { h = JSON.parse(Buffer.concat(chunks).toString('utf8')); } catch (e) { throw new RunFormatError(`step header is not JSON: ${(e as Error).message}`, file, 1); }
  if (!h || h.kind !== 'header') throw new RunFormatError('first line must be the step header ({"kind":"header",...})', file, 1);
  return h;
}

/**
 * One step, whole: header, samples and the `.f32` block (the one reader the host, the doctor, the CLI and tests use).
 * A block shorter than the offsets say (a truncated file) is reported per sample, never thrown.
 */
export function readRolloutStep(dir: string, step: number): RolloutStepRead {
  const idx = readRolloutStepIndex(dir, step);
  const data = readStepData(dir, idx.header) ?? new Float32Array(0);
  const out: RolloutStepRead = { ...idx, data };
  const file = path.join(dir, FILES.rolloutsDir, idx.header.dataFile ?? '');
  for (const message of blockProblems(out)) out.problems.push({ file, message });
  return out;
}

/** Read the whole .f32 file of a step (all samples, all arrays). */
export function readStepData(dir: string, header: RolloutStepHeader): Float32Array | undefined {
  if (!header.dataFile) return undefined;
  let buf: Buffer;
  try { buf = fs.readFileSync(path.join(dir, FILES.rolloutsDir, header.dataFile)); } catch { return undefined; }
  const bytes = new Uint8Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + Math.floor(buf.byteLength / 4) * 4));
  if (!isLittleEndian()) swap32(bytes);
  return new Float32Array(bytes.buffer, 0, bytes.byteLength / 4);
}

/** Per-token arrays of one sample, read with a single positioned read (random access without the whole block). */
export function readSampleArrays(dir: string, header: RolloutStepHeader, sample: RolloutSample): Record<string, Float32Array> {
  const b = header.dataFile ? sampleBlock(header, sample) : undefined;
  if (!b) return {};
  const bytes = new Uint8Array((b.end - b.start) * 4);
  const fd = fs.openSync(path.join(dir, FILES.rolloutsDir, header.dataFile!), 'r');
  try { fs.readSync(fd, bytes, 0, bytes.length, b.start * 4); } finally { fs.closeSync(fd); }
  if (!isLittleEndian()) swap32(bytes);
  // the sample's block on its own: the same arithmetic with the sample at offset 0
  return sampleArrays({ header, samples: [{ ...sample, offset: 0 }], data: new Float32Array(bytes.buffer) }, 0);
}

export interface CheckpointEntry {
  name: string;
  dir: string;
  meta?: CheckpointMeta;
  problem?: string;
}

/** A checkpoint's weights file: model.safetensors, or for a LoRA checkpoint (no full weights) its PEFT adapter_model.safetensors. */
export function checkpointWeightsFile(dir: string): string {
  const full = path.join(dir, FILES.checkpointWeights), adapter = path.join(dir, FILES.checkpointAdapterWeights);
  return !fs.existsSync(full) && fs.existsSync(adapter) ? adapter : full;
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
