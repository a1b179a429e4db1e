/**
 * Run directory writer (trainer side, importers, tests). Append-only JSONL with one write() per line,
 * atomic replace (tmp + rename) for manifest, checkpoints and rollout steps. See src/shared/runFormat.ts.
 */
import * as fs from 'fs';
import * as path from 'path';
import {
  FILES, RUN_FORMAT, RUN_FORMAT_VERSION, stepFileBase,
  type EvalRecord, type MetricsRecord, type RolloutSample, type RolloutSampleInput, type RolloutStepHeader, type RolloutStepHeaderInput, type RunManifest, type TrainerEvent,
} from '../shared/runFormat';

/** Write a file atomically: write to a temp file in the same folder, fsync, rename over the target. */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${Date.now()}.tmp`);
  const fd = fs.openSync(tmp, 'w');
  try {
    fs.writeSync(fd, typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
}

export function appendJsonLine(file: string, value: unknown): void {
  // one write call per line with O_APPEND: concurrent readers see whole lines or a torn tail, never interleaving
  fs.appendFileSync(file, JSON.stringify(value, jsonReplacer) + '\n');
}

/** JSON cannot hold NaN/Infinity: write them as null (metrics) so files stay parsable. */
export function jsonReplacer(_k: string, v: unknown): unknown {
  if (typeof v === 'number' && !Number.isFinite(v)) return null;
  return v;
}

export type TokenArrays = Record<string, ArrayLike<number>>;

export class RunWriter {
  readonly dir: string;
  private manifest: RunManifest;

  private constructor(dir: string, manifest: RunManifest) {
    this.dir = dir;
    this.manifest = manifest;
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
    this.manifest = { ...this.manifest, ...patch, updatedAt: new Date().toISOString() };
    this.writeManifest();
  }

  private writeManifest(): void {
    writeFileAtomic(path.join(this.dir, FILES.manifest), JSON.stringify(this.manifest, jsonReplacer, 2) + '\n');
  }

  event(e: TrainerEvent): void { appendJsonLine(path.join(this.dir, FILES.events), e); }
  metrics(r: MetricsRecord): void { appendJsonLine(path.join(this.dir, FILES.metrics), r); }
  evalRecord(r: EvalRecord): void { appendJsonLine(path.join(this.dir, FILES.eval), r); }

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

export function writeRolloutStepFiles(rolloutsDir: string, header: RolloutStepHeaderInput, samples: RolloutSampleInput[], arrays: TokenArrays[]): string {
  fs.mkdirSync(rolloutsDir, { recursive: true });
  const base = stepFileBase(header.step);
  const names = header.arrays;
  let total = 0;
  for (const s of samples) total += s.length * names.length;
  const data = new Float32Array(total);
  const outSamples: RolloutSample[] = [];
  let off = 0;
  samples.forEach((s, i) => {
    const arrs = arrays[i] ?? {};
    names.forEach((name, k) => {
      const src = arrs[name];
      const at = off + k * s.length;
      for (let t = 0; t < s.length; t++) data[at + t] = src && t < src.length ? Number(src[t]) : NaN;
    });
    outSamples.push({ ...s, kind: 'sample', index: i, offset: names.length ? off : undefined } as RolloutSample);
    off += s.length * names.length;
  });
  const dataFile = names.length ? `${base}.f32` : undefined;
  if (dataFile) {
    // little-endian on disk
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    if (!isLittleEndian()) swap32(bytes);
    writeFileAtomic(path.join(rolloutsDir, dataFile), bytes);
  }
  const fullHeader: RolloutStepHeader = { kind: 'header', ...header, numSamples: samples.length, dataFile } as RolloutStepHeader;
  const lines = [JSON.stringify(fullHeader, jsonReplacer), ...outSamples.map((s) => JSON.stringify(s, jsonReplacer))];
  const file = path.join(rolloutsDir, `${base}.jsonl`);
  writeFileAtomic(file, lines.join('\n') + '\n');
  return file;
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
