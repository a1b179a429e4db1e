/**
 * Tolerant JSONL reading, shared by every reader of the run directory (and by importers).
 * - a torn last line (no trailing newline and not parsable) is skipped and reported as a warning;
 * - any other unparsable line is reported as an error with file:line and skipped;
 * - reading can resume from a byte offset (live follow): only complete lines are consumed.
 */
import * as fs from 'fs';
import type { InputProblem } from '../shared/runFormat';

export interface JsonlChunk<T> {
  records: { line: number; value: T }[];
  problems: InputProblem[];
  /** byte offset just after the last complete line consumed */
  nextOffset: number;
  /** line number (1-based) of the next line to read */
  nextLine: number;
}

/** Parse JSONL text. `final` = true when no more data will be appended (then an unterminated last line is parsed too). */
export function parseJsonlText<T = unknown>(text: string, file: string, opts: { startLine?: number; final?: boolean } = {}): { records: { line: number; value: T }[]; problems: InputProblem[]; consumedChars: number; nextLine: number } {
  const records: { line: number; value: T }[] = [];
  const problems: InputProblem[] = [];
  let lineNo = opts.startLine ?? 1;
  let pos = 0;
  while (pos < text.length) {
    const nl = text.indexOf('\n', pos);
    const terminated = nl >= 0;
    if (!terminated && !opts.final) break; // incomplete line: leave it for the next read
    const end = terminated ? nl : text.length;
    const raw = text.slice(pos, end).replace(/\r$/, '');
    if (raw.trim().length > 0) {
      try {
        records.push({ line: lineNo, value: JSON.parse(raw) as T });
      } catch (e) {
        const torn = !terminated;
        problems.push({
          file, line: lineNo, severity: torn ? 'warning' : 'error',
          message: torn ? 'torn last line (the writer was interrupted); skipped' : `not valid JSON (${(e as Error).message}); line skipped`,
        });
      }
    }
    pos = terminated ? nl + 1 : text.length;
    lineNo++;
  }
  return { records, problems, consumedChars: pos, nextLine: lineNo };
}

/** Read a whole JSONL file (final: a torn last line is reported and skipped). Missing file → no records. */
export function readJsonlFile<T = unknown>(file: string): JsonlChunk<T> {
  if (!fs.existsSync(file)) return { records: [], problems: [], nextOffset: 0, nextLine: 1 };
  const buf = fs.readFileSync(file);
  const r = parseJsonlText<T>(buf.toString('utf8'), file, { final: true });
  return { records: r.records, problems: r.problems, nextOffset: buf.length, nextLine: r.nextLine };
}

/**
 * Read complete lines appended since `offset` (live follow). Never consumes a partial last line. With `maxBytes`, at
 * most about that many bytes are read (whole lines; a single longer line is read whole): call again from `nextOffset`
 * for the rest (`more` says there is more), so a big file can be read in slices between yields to the event loop.
 */
export function readJsonlFrom<T = unknown>(file: string, offset: number, startLine: number, maxBytes?: number): JsonlChunk<T> & { more?: boolean } {
  let fd: number;
  try { fd = fs.openSync(file, 'r'); } catch { return { records: [], problems: [], nextOffset: offset, nextLine: startLine }; }
  try {
    const size = fs.fstatSync(fd).size;
    if (size < offset) { offset = 0; startLine = 1; } // file was truncated / replaced: start again
    let len = size - offset;
    if (len <= 0) return { records: [], problems: [], nextOffset: offset, nextLine: startLine };
    let more = false;
    if (maxBytes !== undefined && maxBytes > 0 && len > maxBytes) { len = maxBytes; more = true; }
    let buf = Buffer.alloc(len);
    fs.readSync(fd, buf, 0, len, offset);
    let lastNl = buf.lastIndexOf(0x0a);
    if (lastNl < 0 && more) { // one line longer than the slice: read the rest whole
      len = size - offset; more = false;
      buf = Buffer.alloc(len);
      fs.readSync(fd, buf, 0, len, offset);
      lastNl = buf.lastIndexOf(0x0a);
    }
    if (lastNl < 0) return { records: [], problems: [], nextOffset: offset, nextLine: startLine };
    const complete = buf.subarray(0, lastNl + 1);
    const r = parseJsonlText<T>(complete.toString('utf8'), file, { startLine, final: false });
    return { records: r.records, problems: r.problems, nextOffset: offset + complete.length, nextLine: r.nextLine, ...(more ? { more } : {}) };
  } finally {
    fs.closeSync(fd);
  }
}
