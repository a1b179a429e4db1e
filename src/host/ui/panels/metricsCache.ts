/**
 * The dashboard's columns of a run cached in the run folder (docs/run-format.md, "Metrics columns cache"):
 * `.rl-lens/metrics-columns.bin` holds the parsed columns of metrics.jsonl and eval.jsonl up to recorded byte offsets,
 * so opening a big run reads a few MB of Float64 instead of parsing every JSON line; a live run's appended lines are
 * read from those offsets only. A cache whose files changed other than by appending (smaller; the same size with
 * another mtime; the bytes just before the offset differ) is ignored and rewritten. Written atomically; a read-only folder is left alone.
 * Layout: "RLLCOLS1", uint32 LE header length, header JSON (UTF-8), padding to 8 bytes, Float64 LE steps, values, clock.
 */
import * as fs from 'fs';
import * as path from 'path';
import { FILES } from '../../../shared/runFormat';
import type { StoreColumns } from '../../../webview/data/series';
import { writeFileAtomic } from '../../../runio/writer';

export const METRICS_CACHE_FILE = path.join('.rl-lens', 'metrics-columns.bin');
const MAGIC = 'RLLCOLS1';
const TAIL = 256;
const isLE = new Uint8Array(new Float64Array([1]).buffer)[7] === 0x3f;

/** Where a followed file was read to, the bytes just before that offset (to tell an append from a rewrite), and the
 *  file's mtime when it ended there (a file of the same size with another mtime was rewritten: the cache is refused). */
export interface FileMark { offset: number; line: number; tail: string; mtimeMs?: number }

interface Header {
  version: 1;
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
export function readMetricsCache(runDir: string): { columns: StoreColumns; metrics: FileMark; eval: FileMark } | undefined {
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
    return { columns: { names: h.names, lengths: h.lengths, stepsOf: h.stepsOf, steps, values, clock, clockLength: h.clockLength, appended: h.appended }, metrics: h.metrics, eval: h.eval };
  } catch { return undefined; }
}

/** Write the cache (atomically; errors, e.g. a read-only run folder, are ignored). */
export function writeMetricsCache(runDir: string, c: StoreColumns, metrics: FileMark, evalMark: FileMark): void {
  try {
    const h: Header = { version: 1, metrics, eval: evalMark, names: c.names, lengths: c.lengths, stepsOf: c.stepsOf, clockLength: c.clockLength, appended: c.appended, nSteps: c.steps.length, nValues: c.values.length };
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
