/**
 * A rollout step's overview sidecar, rollouts/step_X.overview.json (docs/run-format.md, "Step overview sidecar";
 * `StepOverviewFile` in src/shared/runFormat.ts): the header, the sample records without token texts (prompt and
 * completion cut to TEXT_CUT characters) and each sample line's byte range in step_X.jsonl. The heatmap's first answer
 * comes from it without parsing the step's JSONL (a verl step: 1,024 lines of 4,096 token strings each); token texts
 * are read later, per sample, with positioned reads of those byte ranges.
 *
 * Written by the writer right after the step's .jsonl (writeRolloutStepPacked); rebuilt on demand (one parse of the
 * .jsonl) when missing or stale: it is used only while step_X.jsonl has exactly the size and mtime it records. What it
 * derives from the .f32 (per-sample numbers, step-wide colour domains: stepNumbers, stepDomains) is used only while the
 * .f32 has the size and mtime recorded with them.
 */
import * as fs from 'fs';
import * as path from 'path';
import { FILES, stepFileBase, type RolloutSample, type RolloutStepHeader, type StepOverviewFile } from '../shared/runFormat';
import { sampleBlock, type RolloutStep } from '../shared/rolloutStep';
import { sameStamp } from './fileStamp';
import { metricDef, metricValues, metricsFor, sampleMask, sampleNumbers } from '../webview/data/step';
import { domainStats, type DomainStats } from '../webview/data/scales';

/** Characters of a sample's prompt and completion the overview carries (the row tooltip shows 600). */
export const TEXT_CUT = 2000;

export function stepOverviewPath(rolloutsDir: string, step: number): string {
  return path.join(rolloutsDir, `${stepFileBase(step)}${FILES.stepOverviewSuffix}`);
}

const long = (t: unknown) => typeof t === 'string' && t.length > TEXT_CUT;

/** A sample's record as the overview carries it: no token texts, prompt and completion cut to TEXT_CUT. */
export function overviewSample(x: RolloutSample): RolloutSample {
  const out = { ...x, tokens: [] as string[] };
  if (long(x.prompt)) out.prompt = x.prompt!.slice(0, TEXT_CUT);
  if (long(x.completion)) out.completion = x.completion!.slice(0, TEXT_CUT);
  return out;
}

/** Indices of the samples whose prompt or completion the overview cuts. */
export function cutSamples(samples: Pick<RolloutSample, 'prompt' | 'completion'>[]): number[] {
  return samples.flatMap((x, i) => (long(x.prompt) || long(x.completion) ? [i] : []));
}

/** The sidecar of a step from its parsed records and their lines' byte ranges. */
export function makeStepOverview(header: RolloutStepHeader, samples: RolloutSample[], lines: [number, number][], jsonl: { bytes: number; mtimeMs: number }, problems: string[] = []): StepOverviewFile {
  return {
    kind: 'stepOverview', version: 1, step: header.step, jsonl, header, samples: samples.map(overviewSample), lines,
    cut: cutSamples(samples), textCut: TEXT_CUT, problems,
  };
}

/** Sample i's block restricted to `arrays` (stored ones, in the header's order), as a one-sample step. */
export type SampleStepOf = (i: number, arrays: string[]) => RolloutStep;

/** SampleStepOf over a step held in memory (the writer's). */
export function memorySampleStep(step: RolloutStep): SampleStepOf {
  return (i, arrays) => {
    const { header } = step, s = step.samples[i];
    const names = header.arrays.filter((n) => arrays.includes(n));
    const b = sampleBlock(header, s);
    if (!b || !names.length) return { header: { ...header, arrays: [] }, samples: [{ ...s, offset: undefined }], data: new Float32Array(0) };
    const L = s.length, data = new Float32Array(names.length * L).fill(NaN);
    names.forEach((n, k) => { const at = b.start + header.arrays.indexOf(n) * L; data.set(step.data.subarray(Math.min(at, step.data.length), Math.min(at + L, step.data.length)), k * L); });
    return { header: { ...header, arrays: names }, samples: [{ ...s, offset: 0 }], data };
  };
}

/**
 * The overview's numbers of a step (src/shared/protocol.ts StepOverview `numbers`, `withData`): reads only the arrays
 * the numbers need (mask, kl, clip, and advantage when a record lacks it) and, per other array, samples until a finite
 * value shows up (usually the first). The host (StepSource) and the writer (into the sidecar) compute them this way.
 */
export function stepNumbers(header: RolloutStepHeader, samples: RolloutSample[], sampleStep: SampleStepOf): { numbers: number[][]; withData: string[] } {
  const numbers: number[][] = [];
  const need = ['mask', 'kl', 'clip', ...(samples.every((s) => typeof s.advantage === 'number') ? [] : ['advantage'])];
  const withData = new Set<string>();
  samples.forEach((_, i) => {
    const one = sampleStep(i, need);
    const n = sampleNumbers(one, 0);
    numbers.push([n.advantage, n.kl, n.clipLow, n.clipHigh, n.clipDual]);
    const L = one.samples[0].length;
    one.header.arrays.forEach((name, k) => { if (!withData.has(name) && hasFinite(one.data, k * L, (k + 1) * L)) withData.add(name); });
  });
  for (const name of header.arrays) {
    if (withData.has(name) || need.includes(name)) continue;
    for (let i = 0; i < samples.length; i++) {
      const one = sampleStep(i, [name]);
      if (hasFinite(one.data, 0, one.data.length)) { withData.add(name); break; }
    }
  }
  return { numbers, withData: header.arrays.filter((n) => withData.has(n)) };
}

function hasFinite(a: Float32Array, from: number, to: number): boolean {
  for (let t = from; t < to; t++) if (Number.isFinite(a[t])) return true;
  return false;
}

/** Were the sidecar's block-derived parts (numbers, withData, domains) made from the .f32 as it is now (size, mtime)? */
function freshData(ov: StepOverviewFile, data: { size: number; mtimeMs: number } | undefined): boolean {
  return sameStamp(ov.data, data);
}

/** The sidecar's numbers when they were made from the .f32 as it is now (size and mtime), null → NaN; else undefined. */
export function freshNumbers(ov: StepOverviewFile, data: { size: number; mtimeMs: number } | undefined): { numbers: number[][]; withData: string[] } | undefined {
  if (!freshData(ov, data)) return undefined;
  if (!Array.isArray(ov.numbers) || ov.numbers.length !== ov.samples.length || !Array.isArray(ov.withData)) return undefined;
  return { numbers: ov.numbers.map((r) => r.map((x) => (typeof x === 'number' ? x : NaN))), withData: ov.withData };
}

/** Floats of gathered values one pass of metricDomains may hold: metrics share a pass over the samples while theirs fit
 *  (a trainer's small step: all of them in one pass), a 1,024 × 4,096-token step gets one metric a pass. */
const GATHER_FLOATS = 1 << 22;

/**
 * The colour-domain statistics of each of `metrics` (data/step.ts metricDef, metricValues: stored or derived) over the
 * valid tokens of samples `members` (sampleMask > 0, finite values): scales.ts domainStats of those values. The one
 * gathering of the host's `rollout/domain` (StepSource.domain, any group) and the writer's step-wide `domains` in the
 * sidecar, so both give the same numbers. Reads one sample's arrays at a time (the metrics' `needs` and mask), for as
 * many metrics per pass over the samples as GATHER_FLOATS allows (the values do not depend on how they are batched).
 */
export function metricDomains(samples: Pick<RolloutSample, 'length'>[], members: readonly number[], metrics: readonly string[], sampleStep: SampleStepOf): DomainStats[] {
  let cap = 0;
  for (const i of members) cap += samples[i].length;
  const per = Math.max(1, Math.floor(GATHER_FLOATS / Math.max(1, cap)));
  const out: DomainStats[] = [];
  for (let k = 0; k < metrics.length; k += per) {
    const batch = metrics.slice(k, k + per);
    const needs = [...new Set([...batch.flatMap((m) => metricDef(m).needs), 'mask'])];
    const vals = batch.map(() => new Float32Array(Math.min(cap, 1 << 20))), n = batch.map(() => 0);
    for (const i of members) {
      const one = sampleStep(i, needs);
      const m = sampleMask(one, 0);
      batch.forEach((metric, b) => {
        const v = metricValues(one, 0, metric);
        let buf = vals[b], c = n[b];
        for (let t = 0; t < v.length; t++) {
          if (!(m[t] > 0) || !Number.isFinite(v[t])) continue;
          if (c === buf.length) { const nv = new Float32Array(Math.min(cap, buf.length * 2)); nv.set(buf); buf = vals[b] = nv; }
          buf[c++] = v[t];
        }
        n[b] = c;
      });
    }
    batch.forEach((_, b) => out.push(domainStats(vals[b], n[b])));
  }
  return out;
}

/** The metrics whose step-wide colour domain the sidecar carries: those the heatmap offers for `withData`
 *  (data/step.ts metricsFor), less categorical ones (clip codes: no colour domain). */
export function domainMetrics(withData: readonly string[]): string[] {
  return metricsFor(withData).filter((m) => !m.categorical).map((m) => m.id);
}

/** The step-wide domain (every sample) of each of domainMetrics(withData): what the writer stores in the sidecar. */
export function stepDomains(samples: Pick<RolloutSample, 'length'>[], withData: readonly string[], sampleStep: SampleStepOf): Record<string, DomainStats> {
  const ids = domainMetrics(withData);
  const stats = metricDomains(samples, samples.map((_, i) => i), ids, sampleStep);
  return Object.fromEntries(ids.map((id, k) => [id, stats[k]]));
}

type StoredDomain = NonNullable<StepOverviewFile['domains']>[string];
/** JSON has no NaN (rawMin / rawMax of count 0: null) and writes −0 as 0 (so "-0"): decodeNumber undoes it exactly. */
const encodeNumber = (v: number): number | null | '-0' => (Object.is(v, -0) ? '-0' : Number.isFinite(v) ? v : null);
const decodeNumber = (v: unknown): number => (typeof v === 'number' ? v : v === '-0' ? -0 : NaN);

/** A DomainStats as the sidecar stores it (bit-exact through JSON: decodeDomain gives the same numbers back). */
export function encodeDomain(d: DomainStats): StoredDomain {
  const q: Record<string, number | null | '-0'> = {};
  for (const [k, v] of Object.entries(d.q)) q[k] = encodeNumber(v);
  return { count: d.count, rawMin: encodeNumber(d.rawMin), rawMax: encodeNumber(d.rawMax), q };
}

export function decodeDomain(x: StoredDomain | undefined): DomainStats | undefined {
  if (!x || typeof x !== 'object' || typeof x.count !== 'number' || !x.q || typeof x.q !== 'object') return undefined;
  const q: Record<string, number> = {};
  for (const [k, v] of Object.entries(x.q)) q[k] = decodeNumber(v);
  return { count: x.count, rawMin: decodeNumber(x.rawMin), rawMax: decodeNumber(x.rawMax), q };
}

/** The sidecar's step-wide domain of `metric` when it was made from the .f32 as it is now (size and mtime); else undefined. */
export function freshDomain(ov: StepOverviewFile, data: { size: number; mtimeMs: number } | undefined, metric: string): DomainStats | undefined {
  if (!freshData(ov, data) || !ov.domains || typeof ov.domains !== 'object' || !Object.prototype.hasOwnProperty.call(ov.domains, metric)) return undefined;
  return decodeDomain(ov.domains[metric]);
}

/**
 * `ov` with block-derived parts added (numbers / withData, step-wide domains) computed from the .f32 whose size and
 * mtime are `data`: merged with the ones it holds for that same .f32, else replacing them (stale: made from another).
 */
export function withBlockStats(ov: StepOverviewFile, data: { size: number; mtimeMs: number }, add: { numbers?: number[][]; withData?: string[]; domains?: Record<string, DomainStats> }): StepOverviewFile {
  const base: StepOverviewFile = freshData(ov, data) ? ov : (({ numbers: _n, withData: _w, domains: _d, ...rest }) => rest)(ov);
  const domains = add.domains ? Object.fromEntries(Object.entries(add.domains).map(([k, d]) => [k, encodeDomain(d)])) : undefined;
  return {
    ...base, data: { bytes: data.size, mtimeMs: data.mtimeMs },
    ...(add.numbers ? { numbers: add.numbers } : {}), ...(add.withData ? { withData: add.withData } : {}),
    ...(domains || base.domains ? { domains: { ...base.domains, ...domains } } : {}),
  };
}

/** Is `ov` a sidecar of this step made from the .jsonl as it is now (size and mtime)? */
export function isFreshOverview(ov: unknown, step: number, jsonl: { size: number; mtimeMs: number }): ov is StepOverviewFile {
  const o = ov as StepOverviewFile;
  return !!o && typeof o === 'object' && o.kind === 'stepOverview' && o.version === 1 && o.step === step && o.textCut === TEXT_CUT
    && sameStamp(o.jsonl, jsonl)
    && !!o.header && o.header.kind === 'header' && Array.isArray(o.samples) && Array.isArray(o.lines) && o.lines.length === o.samples.length
    && Array.isArray(o.cut) && Array.isArray(o.problems);
}

export interface StepOverviewRead {
  overview: StepOverviewFile;
  /** where it came from: the sidecar, or a parse of the .jsonl (then written as the sidecar unless `written` is false) */
  from: 'sidecar' | 'rebuilt';
  written?: boolean;
}

/**
 * A step's overview: the sidecar when it matches step_X.jsonl (size and mtime), else rebuilt by parsing the .jsonl
 * once (the same tolerant rules as runio/jsonl.ts: bad lines reported and skipped, a torn last line a warning) and
 * written back (atomically; a read-only folder keeps it in memory only). Throws (RunFormatError, as
 * readRolloutStepIndex) when the .jsonl is missing or its first line is not the step header.
 */
export function readStepOverview(dir: string, step: number, opts: { write?: boolean } = {}): StepOverviewRead {
  const rdir = path.join(dir, FILES.rolloutsDir);
  const file = path.join(rdir, `${stepFileBase(step)}.jsonl`);
  const side = stepOverviewPath(rdir, step);
  let st: fs.Stats | undefined;
  try { st = fs.statSync(file); } catch { /* reported by the rebuild */ }
  if (st) {
    try {
      const ov = JSON.parse(fs.readFileSync(side, 'utf8'));
      if (isFreshOverview(ov, step, st)) return { overview: ov, from: 'sidecar' };
    } catch { /* none or unreadable: rebuilt */ }
  }
  const overview = rebuildStepOverview(file, step);
  let written = false;
  if (opts.write !== false) {
    try { writeJsonAtomic(side, overview); written = true; } catch { /* read-only run folder */ }
  }
  return { overview, from: 'rebuilt', written };
}

/** Parse step_X.jsonl once into its overview (the stamp is the opened file's, so a file replaced meanwhile is stale). */
export function rebuildStepOverview(file: string, step: number): StepOverviewFile {
  let fd: number;
  try { fd = fs.openSync(file, 'r'); } catch { throw new StepFileError('cannot read the step file', file, 1); }
  let buf: Buffer, st: fs.Stats;
  try {
    st = fs.fstatSync(fd);
    buf = Buffer.alloc(st.size);
    for (let got = 0, n; got < buf.length; got += n) { n = fs.readSync(fd, buf, got, buf.length - got, got); if (n <= 0) { buf = buf.subarray(0, got); break; } }
  } finally { fs.closeSync(fd); }
  const name = path.basename(file);
  const problems: string[] = [];
  let header: RolloutStepHeader | undefined;
  const samples: RolloutSample[] = [];
  const lines: [number, number][] = [];
  let lineNo = 1, first = true;
  for (let pos = 0; pos < buf.length; lineNo++) {
    const nl = buf.indexOf(10, pos);
    const terminated = nl >= 0;
    let end = terminated ? nl : buf.length;
    const start = pos;
    pos = terminated ? nl + 1 : buf.length;
    if (end > start && buf[end - 1] === 13) end--; // \r\n
    const raw = buf.toString('utf8', start, end);
    if (!raw.trim()) continue;
    let value: RolloutStepHeader | RolloutSample;
    try { value = JSON.parse(raw); } catch (e) {
      if (first) throw new StepFileError('first line must be the step header ({"kind":"header",...})', file, lineNo);
      problems.push(`${name}:${lineNo}: ${terminated ? `not valid JSON (${(e as Error).message}); line skipped` : 'torn last line (the writer was interrupted); skipped'}`);
      continue;
    }
    if (first) {
      first = false;
      if (!value || (value as RolloutStepHeader).kind !== 'header') throw new StepFileError('first line must be the step header ({"kind":"header",...})', file, lineNo);
      header = value as RolloutStepHeader;
      continue;
    }
    if (!value || (value as RolloutSample).kind !== 'sample') { problems.push(`${name}:${lineNo}: expected "sample", got ${JSON.stringify((value as RolloutSample | null)?.kind)}`); continue; }
    samples.push(value as RolloutSample);
    lines.push([start, end - start]);
  }
  if (!header) throw new StepFileError('first line must be the step header ({"kind":"header",...})', file, 1);
  return makeStepOverview(header, samples, lines, { bytes: st.size, mtimeMs: st.mtimeMs }, problems);
}

/**
 * The full records of some samples, read from step_X.jsonl at the byte ranges the overview records (one positioned
 * read per sample; `fd` an open descriptor of that file). Throws when a line is not that sample's (the file changed).
 */
export function readSampleLines(fd: number, overview: StepOverviewFile, indices: number[], file = 'step file'): RolloutSample[] {
  return indices.map((i) => {
    const at = overview.lines[i];
    if (!at) throw new Error(`${file}: no sample ${i}`);
    const bytes = Buffer.alloc(at[1]);
    let got = 0;
    for (let n; got < bytes.length; got += n) { n = fs.readSync(fd, bytes, got, bytes.length - got, at[0] + got); if (n <= 0) break; }
    let s: RolloutSample | undefined;
    try { s = JSON.parse(bytes.toString('utf8', 0, got)); } catch { s = undefined; }
    const want = overview.samples[i];
    if (got < bytes.length || !s || s.kind !== 'sample' || s.index !== want.index || s.length !== want.length) {
      throw new Error(`${file}: sample ${i}'s line is not where the step's overview says (the file changed while it was open?): reopen the step`);
    }
    return s;
  });
}

export function writeJsonAtomic(file: string, value: unknown): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${Date.now()}.tmp`);
  try {
    fs.writeFileSync(tmp, JSON.stringify(value, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v)));
    fs.renameSync(tmp, file);
  } catch (e) { try { fs.rmSync(tmp, { force: true }); } catch { /* gone */ } throw e; }
}

/** The step file's problem (the same message and file:line as runio/reader.ts RunFormatError, declared here so this
 *  module needs no reader import). */
export class StepFileError extends Error {
  constructor(message: string, readonly file: string, readonly line?: number) {
    super(`${file}${line ? `:${line}` : ''}: ${message}`);
  }
}
