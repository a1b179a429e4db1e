/**
 * Random access to one rollout step for the windowed heatmap (issue 18): the host never ships a whole step. A
 * StepSource reads byte ranges of the step's `.f32` with positioned reads (sample offsets: src/shared/rolloutStep.ts),
 * never the whole file, and answers the page's requests (src/shared/protocol.ts `rollout/overview`, `rollout/window`,
 * `rollout/domain`, `rollout/search`, `rollout/drill`). The overview (per-sample numbers and min/max/mean strips) and
 * the colour-domain percentiles are computed once per step (and metric) and cached; the per-sample numbers and the
 * step-wide domains come from the sidecar when the writer (or an earlier open) stored them for this very .f32, and are
 * added to it when computed here. No `vscode` import.
 *
 * The records come from the step's overview sidecar (rollouts/step_X.overview.json, src/runio/stepOverview.ts: no
 * token texts, prompt and completion cut to TEXT_CUT, each sample line's byte range), rebuilt once when missing or
 * stale; a sample's token texts (and full texts) are read from its line of step_X.jsonl with a positioned read when a
 * window, a search or the text filter first needs them. So the first answer does not depend on the size of the .jsonl.
 *
 * Steps whose samples had text but no tokens (imported runs) are tokenized by src/host/tokenize.ts; such a step is
 * small (text only) and is held in memory whole. Memory: the samples' records and the token texts read so far of at
 * most MAX_SOURCES steps, plus one sample's block at a time while an overview or domain is computed.
 */
import * as fs from 'fs';
import * as path from 'path';
import { FILES, stepFileBase, type RolloutSample, type RolloutStepHeader, type StepOverviewFile } from '../../../shared/runFormat';
import type { DrillDownResult, StepDomain, StepOverview, StepWindow } from '../../../shared/protocol';
import { sampleBlock, type RolloutStep } from '../../../shared/rolloutStep';
import { readManifest, readRolloutStepIndex } from '../../../runio/reader';
import { TEXT_CUT, cutSamples, freshDomain, freshNumbers, metricDomains, readSampleLines, readStepOverview, stepNumbers, stepOverviewPath, withBlockStats, writeJsonAtomic } from '../../../runio/stepOverview';
import { isLittleEndian, swap32 } from '../../../runio/writer';
import { sameStamp } from '../../../runio/fileStamp';
import { needsTokens, tokenViewOf } from '../../tokenize';
import { metricDef } from '../../../webview/data/step';
import type { DomainStats } from '../../../webview/data/scales';
import { drillDown } from '../../../webview/data/drilldown';

/** Tokens per column block of `rollout/window`. */
export const BLOCK_TOKENS = 256;
/** Most token hits a search returns. */
export const MAX_HITS = 100_000;
export { TEXT_CUT };
const MAX_SOURCES = 4;

export class StepSource {
  readonly header: RolloutStepHeader;
  /** the samples' records without their token texts (`texts` / `ends` hold them); prompt and completion cut to
   *  TEXT_CUT when they come from the overview sidecar (`lines` set) */
  readonly samples: RolloutSample[];
  /** token texts packed per sample (one string and the end offsets), read lazily from the .jsonl when `lines` is set */
  private readonly texts: (string | undefined)[];
  private readonly ends: (Uint32Array | undefined)[];
  /** the overview sidecar the records came from (undefined: the whole step was parsed here) */
  private readonly lines: StepOverviewFile | undefined;
  /** the sidecar as last read or written here (what `keep` adds to) */
  private sidecar: StepOverviewFile | undefined;
  private readonly jsonlFile: string;
  private readonly cut: number[];
  /** the .f32's size and mtime when this source was made */
  private dataStat: fs.Stats | undefined;
  /** where the records came from (tests): the sidecar, a rebuilt sidecar, or the whole .jsonl parsed */
  readonly from: 'sidecar' | 'rebuilt' | 'parsed';
  readonly problems: string[];
  readonly tokenization: StepOverview['tokenization'];
  /** the whole block when the step was tokenized here (text-only imports); else read from `file` */
  private readonly memory: Float32Array | undefined;
  private readonly file: string | undefined;
  private readonly fileFloats: number;
  private overviewCache: StepOverview | undefined;
  private readonly domains = new Map<string, StepDomain>();
  /** floats read from the `.f32` file so far (tests: windows read only what they return) */
  floatsRead = 0;

  constructor(readonly runDir: string, readonly step: number) {
    this.jsonlFile = path.join(runDir, FILES.rolloutsDir, `${stepFileBase(step)}.jsonl`);
    const read = readStepOverview(runDir, step);
    let ov: StepOverviewFile | undefined = read.overview;
    let idx: { header: RolloutStepHeader; samples: RolloutSample[]; problems: { file: string; line?: number; message: string }[] };
    if (ov.samples.some(needsTokens)) { ov = undefined; idx = readRolloutStepIndex(runDir, step); } // text-only import: parsed whole below
    else idx = { header: ov.header, samples: ov.samples, problems: [] };
    this.from = ov ? read.from : 'parsed';
    let manifest;
    try { manifest = readManifest(runDir); } catch { manifest = undefined; }
    const file = idx.header.dataFile ? path.join(runDir, FILES.rolloutsDir, idx.header.dataFile) : undefined;
    let size = 0;
    if (file) { try { const st = fs.statSync(file); size = st.size; this.dataStat = st; } catch { size = 0; } }
    const problems = ov ? [...ov.problems] : idx.problems.map((p) => `${path.basename(p.file)}${p.line ? `:${p.line}` : ''}: ${p.message}`);
    let header = idx.header, samples = idx.samples, memory: Float32Array | undefined, tokenization: StepOverview['tokenization'];
    if (samples.some(needsTokens)) {
      // imported text-only step: tokenized here (small: no stored per-token block), kept whole in memory
      const data = file && size ? readFloats(file, 0, Math.floor(size / 4)) : new Float32Array(0);
      const tv = tokenViewOf(runDir, manifest, { header, samples, data });
      header = tv.step.header; samples = tv.step.samples; memory = tv.step.data; tokenization = tv.info;
    }
    this.header = header.algorithm ? header : { ...header, algorithm: String(manifest?.algorithm ?? '') };
    // token texts packed: one string and the end offsets per sample instead of millions of small strings (a
    // 1,024 × 4,096-token step: ~35 MB instead of ~150 MB of host memory)
    this.lines = ov;
    this.sidecar = ov;
    this.texts = new Array(samples.length).fill(undefined);
    this.ends = new Array(samples.length).fill(undefined);
    if (!ov) samples.forEach((x, i) => this.pack(i, x));
    this.cut = ov ? ov.cut : cutSamples(samples);
    this.samples = ov ? samples : samples.map((x) => ({ ...x, tokens: [] }));
    this.memory = memory;
    this.file = memory ? undefined : file;
    this.fileFloats = memory ? memory.length : Math.floor(size / 4);
    for (const s of samples) {
      const b = sampleBlock(this.header, s);
      if (b && b.end > this.fileFloats) problems.push(`${this.header.dataFile ?? 'data file'}: sample ${s.index}: per-token data beyond the end of ${this.header.dataFile ?? 'the data file'} (file truncated?)`);
    }
    this.problems = problems;
    this.tokenization = tokenization;
  }

  private pack(i: number, x: Pick<RolloutSample, 'tokens'>): void {
    const toks = Array.isArray(x.tokens) ? x.tokens : [];
    const e = new Uint32Array(toks.length);
    const strs = toks.map(String);
    let at = 0;
    strs.forEach((t, k) => { at += t.length; e[k] = at; });
    this.texts[i] = strs.join(''); this.ends[i] = e;
  }

  /** The full records of samples `indices` from their lines of the .jsonl (positioned reads, one open). */
  private fullRecords(indices: number[]): RolloutSample[] {
    if (!this.lines || !indices.length) return [];
    const fd = fs.openSync(this.jsonlFile, 'r');
    try { return readSampleLines(fd, this.lines, indices, path.basename(this.jsonlFile)); } finally { fs.closeSync(fd); }
  }

  /** Token texts of these samples packed (read from their .jsonl lines the first time). */
  private loadTokens(indices: Iterable<number>): void {
    const need = [...new Set(indices)].filter((i) => this.ends[i] === undefined);
    if (!need.length) return;
    this.fullRecords(need).forEach((x, k) => this.pack(need[k], x));
  }

  /** Token texts [t0, t1) of sample i. */
  tokens(i: number, t0: number, t1: number): string[] {
    this.loadTokens([i]);
    const e = this.ends[i], out: string[] = [], text = this.texts[i] ?? '';
    if (!e) return out;
    for (let k = Math.max(0, t0); k < Math.min(t1, e.length); k++) out.push(text.slice(k ? e[k - 1] : 0, e[k]));
    return out;
  }

  /** `count` floats from float `start` of the step's block (NaN past the end of a truncated file). */
  read(start: number, count: number): Float32Array {
    if (this.memory) {
      const out = new Float32Array(count).fill(NaN);
      out.set(this.memory.subarray(Math.min(start, this.memory.length), Math.min(start + count, this.memory.length)));
      return out;
    }
    if (!this.file) return new Float32Array(count).fill(NaN);
    this.floatsRead += count;
    return readFloats(this.descriptor(), start, count);
  }

  private fd: number | undefined;
  private fdTimer: ReturnType<typeof setTimeout> | undefined;
  /** The `.f32` open for a burst of reads (an overview reads every sample): closed a second after the last one. */
  private descriptor(): number {
    if (this.fd === undefined) this.fd = fs.openSync(this.file!, 'r');
    clearTimeout(this.fdTimer);
    this.fdTimer = setTimeout(() => this.close(), 1000);
    this.fdTimer.unref?.();
    return this.fd;
  }

  close(): void {
    clearTimeout(this.fdTimer);
    if (this.fd !== undefined) { try { fs.closeSync(this.fd); } catch { /* closed */ } }
    this.fd = undefined;
  }

  /** Sample i's block restricted to `arrays` (stored ones, in the header's order), as a one-sample step. */
  sampleStep(i: number, arrays?: string[]): RolloutStep {
    const s = this.samples[i];
    const names = arrays ? this.header.arrays.filter((n) => arrays.includes(n)) : this.header.arrays;
    const b = sampleBlock(this.header, s);
    const header = { ...this.header, arrays: names };
    if (!b || !names.length) return { header: { ...this.header, arrays: [] }, samples: [{ ...s, offset: undefined }], data: new Float32Array(0) };
    const L = s.length;
    let data: Float32Array;
    if (names.length === this.header.arrays.length) data = this.read(b.start, b.end - b.start);
    else {
      data = new Float32Array(names.length * L);
      names.forEach((n, k) => data.set(this.read(b.start + this.header.arrays.indexOf(n) * L, L), k * L));
    }
    return { header, samples: [{ ...s, offset: 0 }], data };
  }

  /**
   * Records (without token texts), per-sample numbers and the arrays holding data, cached. Reads only the arrays the
   * numbers need (mask, advantage, kl, clip) and, per other array, samples until a finite value shows up (usually the
   * first). With `strips`, also a min/max/mean per sample and array (one pass over the whole block, cached).
   */
  overview(opts: { strips?: boolean } = {}): StepOverview {
    if (!this.overviewCache) {
      // from the sidecar when the writer put them there for this very .f32; else one pass over the arrays they need
      let got = this.sidecar && !this.memory ? freshNumbers(this.sidecar, this.dataStat) : undefined;
      if (!got) {
        got = stepNumbers(this.header, this.samples, (i, a) => this.sampleStep(i, a));
        this.keep(got); // for the next open (older or imported runs; a rewritten .f32)
      }
      const { numbers, withData } = got;
      this.overviewCache = {
        runDir: this.runDir, header: this.header, samples: this.lines ? this.samples : this.samples.map(cutText), numbers,
        cut: this.cut, textCut: TEXT_CUT,
        withData, blockTokens: BLOCK_TOKENS,
        dataBytes: this.fileFloats * 4, problems: this.problems, ...(this.tokenization ? { tokenization: this.tokenization } : {}),
      };
    }
    if (opts.strips && !this.overviewCache.strips) this.overviewCache = { ...this.overviewCache, strips: this.strips() };
    return this.overviewCache;
  }

  /**
   * Adds what was computed here from the .f32 (numbers, step-wide domains) to the sidecar, stamped with the .f32, so a
   * reopened step need not read it (docs/run-format.md, "Step overview sidecar"): only while the .jsonl and the .f32
   * are still the ones this source read; atomically; a read-only run folder keeps nothing.
   */
  private keep(add: { numbers?: number[][]; withData?: string[]; domains?: Record<string, DomainStats> }): void {
    const ov = this.sidecar, data = this.dataStat;
    if (!ov || this.memory || !data || !this.file) return;
    try {
      const f32 = fs.statSync(this.file), jsonl = fs.statSync(this.jsonlFile);
      if (f32.size !== data.size || f32.mtimeMs !== data.mtimeMs || !sameStamp(ov.jsonl, jsonl)) return;
      const next = withBlockStats(ov, data, add);
      writeJsonAtomic(stepOverviewPath(path.dirname(this.jsonlFile), this.step), next);
      this.sidecar = next;
    } catch { /* read-only run folder, or the files are gone */ }
  }

  /** Float32 [sample][array][min, max, mean] over each sample's finite values (NaN when none): a minimap's data. */
  private strips(): ArrayBuffer {
    const A = this.header.arrays.length;
    const strips = new Float32Array(this.samples.length * A * 3).fill(NaN);
    this.samples.forEach((_, i) => {
      const one = this.sampleStep(i);
      const L = one.samples[0].length;
      if (!one.data.length) return;
      for (let k = 0; k < A; k++) {
        let mn = Infinity, mx = -Infinity, sum = 0, c = 0;
        for (let t = k * L, end = (k + 1) * L; t < end; t++) { const v = one.data[t]; if (Number.isFinite(v)) { if (v < mn) mn = v; if (v > mx) mx = v; sum += v; c++; } }
        if (c) { const at = (i * A + k) * 3; strips[at] = mn; strips[at + 1] = mx; strips[at + 2] = sum / c; }
      }
    });
    return strips.buffer as ArrayBuffer;
  }

  /** Per-token arrays and token texts of (sample, column block) cells; one ArrayBuffer for all of them. */
  window(cells: [number, number][]): StepWindow {
    if (!Array.isArray(cells) || cells.length > 20_000) throw new Error('cells must be an array of at most 20000 [sample, block] pairs');
    const A = this.header.arrays.length;
    const spans = cells.map((c) => {
      const [i, b] = Array.isArray(c) ? c : [NaN, NaN];
      if (!Number.isInteger(i) || !Number.isInteger(b) || i < 0 || i >= this.samples.length || b < 0) throw new Error(`bad window cell ${JSON.stringify(c)}`);
      const s = this.samples[i];
      const t0 = Math.min(s.length, b * BLOCK_TOKENS), t1 = Math.min(s.length, t0 + BLOCK_TOKENS);
      return { i, s, t0, n: t1 - t0 };
    });
    const total = spans.reduce((a, x) => a + (sampleBlock(this.header, x.s) ? A * x.n : 0), 0);
    const data = new Float32Array(total);
    const tokens: string[][] = [];
    let at = 0;
    this.loadTokens(spans.map((x) => x.i));
    for (const { i, s, t0, n } of spans) {
      tokens.push(this.tokens(i, t0, t0 + n));
      const blk = sampleBlock(this.header, s);
      if (!blk || !n) continue;
      for (let k = 0; k < A; k++) { data.set(this.read(blk.start + k * s.length + t0, n), at); at += n; }
    }
    return { data: data.buffer as ArrayBuffer, tokens };
  }

  /** Colour-domain percentiles of a metric over the valid tokens of the step (or of one group's samples); cached. The
   *  step-wide ones come from the sidecar when it holds them for this .f32 (the writer's), else are computed (one pass
   *  over the metric's arrays) and kept there; a group's are computed. */
  domain(metric: string, group?: string): StepDomain {
    const key = `${metric}\u0000${group ?? ''}`;
    const hit = this.domains.get(key);
    if (hit) return hit;
    const def = metricDef(metric);
    if (def.id !== metric || !def.needs.every((n) => this.header.arrays.includes(n))) throw new Error(`unknown metric ${JSON.stringify(metric)}: not a metric of this step (its arrays: ${this.header.arrays.join(', ')})`);
    const stored = group === undefined && this.sidecar && !this.memory ? freshDomain(this.sidecar, this.dataStat, metric) : undefined;
    let st = stored;
    if (!st) {
      const members = group === undefined ? this.samples.map((_, i) => i) : this.samples.map((s, i) => (s.group === group ? i : -1)).filter((i) => i >= 0);
      st = metricDomains(this.samples, members, [metric], (i, a) => this.sampleStep(i, a))[0];
      if (group === undefined) this.keep({ domains: { [metric]: st } });
    }
    const d: StepDomain = { metric, ...(group !== undefined ? { group } : {}), ...st };
    this.domains.set(key, d);
    return d;
  }

  /** Samples whose full prompt or completion contains `text`, case-insensitive (data/step.ts sampleMatches' rule). */
  textMatch(text: string): { samples: number[] } {
    if (typeof text !== 'string') throw new Error('text must be a string');
    const q = text.toLowerCase();
    // samples whose texts the overview cut: their full texts from their .jsonl lines
    const full = new Map<number, RolloutSample>();
    if (this.lines) this.fullRecords(this.cut).forEach((x, k) => full.set(this.cut[k], x));
    return { samples: this.samples.flatMap((s, i) => { const x = full.get(i) ?? s; return (x.prompt ?? '').toLowerCase().includes(q) || (x.completion ?? '').toLowerCase().includes(q) ? [i] : []; }) };
  }

  /** Token text search (case-insensitive, a match may span tokens): every token a match covers, by sample then token. */
  search(query: string): { hits: number[]; truncated: boolean } {
    if (typeof query !== 'string' || !query) return { hits: [], truncated: false };
    const q = query.toLowerCase();
    const hits: number[] = [];
    this.loadTokens(this.samples.map((_, i) => i));
    for (let i = 0; i < this.samples.length; i++) {
      const ends = this.ends[i]!, n = ends.length, texts = this.texts[i]!;
      const start = (k: number) => (k ? ends[k - 1] : 0);
      // lower-casing per token (as searchTokens does) keeps offsets when a character's lower case has another length
      let text = texts.toLowerCase();
      if (text.length !== texts.length) { text = ''; for (let k = 0; k < n; k++) text += texts.slice(start(k), ends[k]).toLowerCase(); }
      const lens = text.length === texts.length ? undefined : Array.from({ length: n }, (_, k) => texts.slice(start(k), ends[k]).toLowerCase().length);
      const starts = new Uint32Array(n);
      for (let k = 0, at = 0; k < n; k++) { starts[k] = at; at += lens ? lens[k] : ends[k] - start(k); }
      const len = (k: number) => (lens ? lens[k] : ends[k] - start(k));
      const covered = new Set<number>();
      for (let at = text.indexOf(q); at >= 0; at = text.indexOf(q, at + 1)) {
        // tokens overlapping [at, at + |q|): binary search the first, walk on
        let lo = 0, hi = n - 1;
        while (lo < hi) { const mid = (lo + hi + 1) >> 1; if (starts[mid] <= at) lo = mid; else hi = mid - 1; }
        for (let k = lo; k < n && starts[k] < at + q.length; k++) if (starts[k] + len(k) > at) covered.add(k);
      }
      for (const k of [...covered].sort((a, b) => a - b)) {
        if (hits.length >= MAX_HITS * 2) return { hits, truncated: true };
        hits.push(i, k);
      }
    }
    return { hits, truncated: false };
  }

  /** The credit drill-down of token t of sample i (webview/data/drilldown.ts) over a partial step: sample i and its
   *  DPO mate whole; for a GAE explanation the arrays it needs of every sample (whitening is over the step). */
  drill(i: number, t: number): DrillDownResult {
    if (!Number.isInteger(i) || i < 0 || i >= this.samples.length) throw new Error(`no sample ${i}`);
    if (!Number.isInteger(t) || t < 0) throw new Error(`bad token ${t}`);
    const s = this.samples[i];
    const has = (n: string) => this.header.arrays.includes(n);
    const ppo = has('value') && has('token_reward');
    const mate = s.pair !== undefined ? this.samples.findIndex((x, j) => j !== i && x.pair === s.pair) : -1;
    const whole = new Set([i, ...(mate >= 0 ? [mate] : [])]);
    const names = this.header.arrays;
    const include = ppo ? this.samples.map((_, j) => j) : [...whole];
    const arraysFor = (j: number) => (ppo && !whole.has(j) ? ['token_reward', 'value', 'mask'] : names);
    // one header for all: the arrays of the included samples; missing ones (other samples' extra arrays) stay NaN
    const parts = include.map((j) => ({ j, one: this.sampleStep(j, arraysFor(j)) }));
    const L = (j: number) => this.samples[j].length;
    const total = parts.reduce((a, p) => a + names.length * L(p.j), 0);
    const data = new Float32Array(total).fill(NaN);
    const offsets = new Map<number, number>();
    let off = 0;
    for (const { j, one } of parts) {
      offsets.set(j, off);
      one.header.arrays.forEach((n, k) => { if (one.data.length) data.set(one.data.subarray(k * L(j), (k + 1) * L(j)), off + names.indexOf(n) * L(j)); });
      off += names.length * L(j);
    }
    const step: RolloutStep = { header: { ...this.header, arrays: names }, samples: this.samples.map((x, j) => ({ ...x, offset: offsets.get(j) })), data };
    return drillDown(step, i, Math.min(t, Math.max(0, s.length - 1)));
  }
}

function cutText(x: RolloutSample): RolloutSample {
  const long = (t: string | undefined) => typeof t === 'string' && t.length > TEXT_CUT;
  if (!long(x.prompt) && !long(x.completion)) return x;
  return { ...x, prompt: long(x.prompt) ? x.prompt.slice(0, TEXT_CUT) : x.prompt, completion: long(x.completion) ? x.completion.slice(0, TEXT_CUT) : x.completion };
}

function readFloats(fileOrFd: string | number, start: number, count: number): Float32Array {
  const out = new Float32Array(count);
  if (count <= 0) return out;
  const bytes = new Uint8Array(out.buffer);
  const fd = typeof fileOrFd === 'number' ? fileOrFd : fs.openSync(fileOrFd, 'r');
  let got = 0;
  try {
    for (let n; got < bytes.length; got += n) { n = fs.readSync(fd, bytes, got, bytes.length - got, start * 4 + got); if (n <= 0) break; }
  } finally { if (typeof fileOrFd !== 'number') fs.closeSync(fd); }
  const whole = Math.floor(got / 4) * 4;
  if (!isLittleEndian()) swap32(bytes.subarray(0, whole));
  if (whole < bytes.length) out.fill(NaN, whole / 4); // past the end of a truncated file
  return out;
}

/** Step sources by run folder and step (a few, most recent first); a rewritten step file is read again. */
const sources = new Map<string, { stamp: string; src: StepSource }>();

export function stepSource(runDir: string, step: number): StepSource {
  if (!Number.isInteger(step) || step < 0) throw new Error(`step must be a non-negative integer, got ${JSON.stringify(step)}`);
  const key = `${runDir}\u0000${step}`;
  const file = path.join(runDir, FILES.rolloutsDir, `${stepFileBase(step)}.jsonl`);
  let stamp = '';
  try { const st = fs.statSync(file); stamp = `${st.size}:${st.mtimeMs}`; } catch { /* readRolloutStepIndex reports it */ }
  const hit = sources.get(key);
  if (hit && hit.stamp === stamp) { sources.delete(key); sources.set(key, hit); return hit.src; }
  hit?.src.close();
  const src = new StepSource(runDir, step);
  sources.set(key, { stamp, src });
  while (sources.size > MAX_SOURCES) { const k = sources.keys().next().value as string; sources.get(k)?.src.close(); sources.delete(k); }
  return src;
}
