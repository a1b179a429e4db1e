/**
 * The dashboard's columns of a run cached in the run folder (docs/run-format.md, "Metrics columns cache"), written by
 * the run's writer as it goes (MetricsColumnsWriter) and by the extension host for runs without one (imports, older runs):
 * `.rl-lens/metrics-columns.bin` holds the parsed columns of metrics.jsonl and eval.jsonl up to recorded byte offsets,
 * so opening a big run reads a few MB of Float64 instead of parsing every JSON line; a live run's appended lines are
 * read from those offsets only. A cache whose files changed other than by appending (smaller; the same size with
 * another mtime; the bytes just before the offset differ) is ignored and rewritten. Written atomically; a read-only folder is left alone.
 * Layout: "RLLCOLS1", uint32 LE header length, header JSON (UTF-8), padding to 8 bytes, Float64 LE steps, values, clock.
 */
import * as fs from 'fs';
import * as path from 'path';
import { FILES } from '../shared/runFormat';
import { SeriesStore, type StoreColumns } from '../shared/seriesStore';
import type { EvalRecord, MetricsRecord } from '../shared/runFormat';
import { writeFileAtomic } from './atomic';

export const METRICS_CACHE_FILE = path.join('.rl-lens', 'metrics-columns.bin');
const MAGIC = 'RLLCOLS1';
const TAIL = 256;
const isLE = new Uint8Array(new Float64Array([1]).buffer)[7] === 0x3f;

/** Where a followed file was read to, the bytes just before that offset (to tell an append from a rewrite), and the
 *  file's mtime when it ended there (a file of the same size with another mtime was rewritten: the cache is refused). */
export interface FileMark { offset: number; line: number; tail: string; mtimeMs?: number }

interface Header {
  version: 1;
  /** who wrote it: the run's writer as it wrote the lines ('writer': every line whole JSON, none skipped) or a reader
   *  that parsed the files ('host': bad lines were skipped); absent in caches written before this field: 'host' */
  source?: CacheSource;
  metrics: FileMark;
  eval: FileMark;
  names: string[]; lengths: number[]; stepsOf: number[]; clockLength: number; appended: number;
  nSteps: number; nValues: number;
}

/** The mark of `file` read to `offset` (the tail bytes before it, hex). */
export function fileMark(file: string, offset: number, line: number): FileMark {
  let mtimeMs: number | undefined;
  try { const st = fs.statSync(file); if (st.size === offset) mtimeMs = st.mtimeMs; } catch { /* no file */ }
  return { offset, line, tail: tailOf(file, offset) ?? '', ...(mtimeMs !== undefined ? { mtimeMs } : {}) };
}

/** Still the file the mark was taken of, maybe with lines appended: same size and mtime, or grown with the same tail. */
function stillValid(file: string, m: FileMark): boolean {
  let size = 0, mtimeMs: number | undefined;
  try { const st = fs.statSync(file); size = st.size; mtimeMs = st.mtimeMs; } catch { size = 0; }
  if (size < m.offset) return false;
  if (size === m.offset && m.mtimeMs !== undefined && mtimeMs !== m.mtimeMs) return false;
  return tailOf(file, m.offset) === m.tail;
}

function tailOf(file: string, offset: number): string | undefined {
  if (offset <= 0) return '';
  let fd: number;
  try { fd = fs.openSync(file, 'r'); } catch { return undefined; }
  try {
    const n = Math.min(TAIL, offset);
    const b = Buffer.alloc(n);
    if (fs.readSync(fd, b, 0, n, offset - n) !== n) return undefined;
    return b.toString('hex');
  } finally { fs.closeSync(fd); }
}

/** The cached columns of a run, when its files are still what the cache read (maybe with lines appended since). */
export type CacheSource = 'writer' | 'host';

export function readMetricsCache(runDir: string): { columns: StoreColumns; metrics: FileMark; eval: FileMark; source: CacheSource } | undefined {
  let buf: Buffer;
  // read into an ArrayBuffer of its own (offset 0): the Float64 columns are views of it, not a copy
  try {
    const file = path.join(runDir, METRICS_CACHE_FILE);
    const fd = fs.openSync(file, 'r');
    try {
      const size = fs.fstatSync(fd).size;
      buf = Buffer.from(new ArrayBuffer(size));
      let o = 0;
      while (o < size) { const n = fs.readSync(fd, buf, o, size - o, o); if (n <= 0) break; o += n; }
      if (o < size) return undefined;
    } finally { fs.closeSync(fd); }
  } catch { return undefined; }
  try {
    if (buf.length < 12 || buf.toString('latin1', 0, 8) !== MAGIC) return undefined;
    const hl = buf.readUInt32LE(8);
    const h = JSON.parse(buf.toString('utf8', 12, 12 + hl)) as Header;
    if (h.version !== 1) return undefined;
    for (const [f, m] of [[FILES.metrics, h.metrics], [FILES.eval, h.eval]] as const) {
      if (!stillValid(path.join(runDir, f), m)) return undefined;
    }
    const start = Math.ceil((12 + hl) / 8) * 8;
    const total = h.nSteps + h.nValues + 2 * h.clockLength;
    if (buf.length < start + total * 8) return undefined;
    // start is a multiple of 8 and buf starts its ArrayBuffer: an aligned view (little-endian hosts; else a swapped copy)
    const all = isLE ? new Float64Array(buf.buffer, start, total) : Float64Array.from({ length: total }, (_, i) => buf.readDoubleLE(start + 8 * i));
    const steps = all.subarray(0, h.nSteps), values = all.subarray(h.nSteps, h.nSteps + h.nValues), clock = all.subarray(h.nSteps + h.nValues);
    return { columns: { names: h.names, lengths: h.lengths, stepsOf: h.stepsOf, steps, values, clock, clockLength: h.clockLength, appended: h.appended }, metrics: h.metrics, eval: h.eval, source: h.source === 'writer' ? 'writer' : 'host' };
  } catch { return undefined; }
}

/** Write the cache (atomically; errors, e.g. a read-only run folder, are ignored). */
export function writeMetricsCache(runDir: string, c: StoreColumns, metrics: FileMark, evalMark: FileMark, source: CacheSource = 'host'): void {
  try {
    const h: Header = { version: 1, source, metrics, eval: evalMark, names: c.names, lengths: c.lengths, stepsOf: c.stepsOf, clockLength: c.clockLength, appended: c.appended, nSteps: c.steps.length, nValues: c.values.length };
    const hb = Buffer.from(JSON.stringify(h), 'utf8');
    const start = Math.ceil((12 + hb.length) / 8) * 8;
    const out = Buffer.alloc(start + (c.steps.length + c.values.length + c.clock.length) * 8);
    out.write(MAGIC, 0, 'latin1'); out.writeUInt32LE(hb.length, 8); hb.copy(out, 12);
    let o = start;
    for (const a of [c.steps, c.values, c.clock]) { Buffer.from(a.buffer, a.byteOffset, a.byteLength).copy(out, o); o += a.byteLength; }
    fs.mkdirSync(path.join(runDir, path.dirname(METRICS_CACHE_FILE)), { recursive: true });
    writeFileAtomic(path.join(runDir, METRICS_CACHE_FILE), out);
  } catch { /* read-only run folder: no cache */ }
}

/** The records of metrics.jsonl (`which` 'm') or eval.jsonl ('e') that the dashboard keeps, into `store`: a metrics line
 *  needs a numeric `step` and `values`, an eval line a numeric `step` and `passAtK`; others are skipped. */
export function appendRecords(store: SeriesStore, which: 'm' | 'e', recs: unknown[]): void {
  if (which === 'm') store.appendMetrics(recs.filter(isMetricsLine));
  else store.appendEvals(recs.filter(isEvalLine));
}

/** A metrics.jsonl line the dashboard keeps: a numeric `step` and `values`. */
export const isMetricsLine = (x: unknown): x is MetricsRecord => hasStep(x) && !!(x as MetricsRecord).values;
/** An eval.jsonl line the dashboard keeps: a numeric `step` and `passAtK`. */
export const isEvalLine = (x: unknown): x is EvalRecord => hasStep(x) && !!(x as EvalRecord).passAtK;
const hasStep = (x: unknown) => !!x && typeof x === 'object' && typeof (x as { step?: unknown }).step === 'number';

/** Metrics and eval lines written since the last cache write after which the writer writes it again. */
export const WRITER_FLUSH_BYTES = 4 << 20;

/**
 * The cache kept by a run's writer as it goes (issue 18: a big run opens at once because the trainer already wrote what
 * the dashboard needs): each metrics / eval line the writer appends also goes into a SeriesStore here, parsed back from
 * the very text written (the host's reading of the file, rules and all), and the cache is written every
 * WRITER_FLUSH_BYTES of lines and when the run ends (`flush`). A writer killed between two writes leaves a cache
 * behind by less than that: the host reads those lines from the cache's offsets. A folder whose metrics or eval file
 * already held lines when the writer started (another writer's) gets no cache from it (the host builds one).
 */
export class MetricsColumnsWriter {
  private readonly store = new SeriesStore();
  private readonly at = { m: { offset: 0, line: 1 }, e: { offset: 0, line: 1 } };
  private behind = 0;
  private readonly off: boolean;

  constructor(private readonly runDir: string, private readonly every = WRITER_FLUSH_BYTES) {
    let off = false;
    for (const f of [FILES.metrics, FILES.eval]) { try { if (fs.statSync(path.join(runDir, f)).size > 0) off = true; } catch { /* none yet */ } }
    this.off = off;
  }

  /** A line just appended to metrics.jsonl ('m') or eval.jsonl ('e'), its text with the newline. */
  line(which: 'm' | 'e', text: string): void {
    if (this.off) return;
    const bytes = Buffer.byteLength(text, 'utf8');
    this.at[which] = { offset: this.at[which].offset + bytes, line: this.at[which].line + 1 };
    let rec: unknown;
    try { rec = JSON.parse(text); } catch { rec = undefined; }
    appendRecords(this.store, which, [rec]);
    this.behind += bytes;
    if (this.behind >= this.every) this.flush();
  }

  /** Write the cache now (the run ended, or enough lines came): what was appended so far. */
  flush(): void {
    if (this.off || this.behind === 0) return;
    writeMetricsCache(this.runDir, this.store.toColumns(), fileMark(path.join(this.runDir, FILES.metrics), this.at.m.offset, this.at.m.line), fileMark(path.join(this.runDir, FILES.eval), this.at.e.offset, this.at.e.line), 'writer');
    this.behind = 0;
  }
}
