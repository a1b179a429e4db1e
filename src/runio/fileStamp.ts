/**
 * A file's size and mtime as a cache recorded them (the step overview sidecar, the doctor's step summary sidecar, the
 * heatmap's write-back): a cache is used only while the file it was made from still has exactly that stamp.
 */
import * as fs from 'fs';

/** A file's size (bytes) and mtime when a cache was made from it. */
export interface FileStamp { bytes: number; mtimeMs: number }

/** The file's stamp now, or undefined when it cannot be read. */
export function fileStamp(file: string): FileStamp | undefined {
  try { const st = fs.statSync(file); return { bytes: st.size, mtimeMs: st.mtimeMs }; } catch { return undefined; }
}

/** Does `stamp` describe the file as `now` (a stamp, or fs.Stats-like size and mtime) shows it? False when either is missing. */
export function sameStamp(stamp: FileStamp | undefined, now: FileStamp | { size: number; mtimeMs: number } | undefined): boolean {
  if (!stamp || !now) return false;
  const bytes = 'bytes' in now ? now.bytes : now.size;
  return stamp.bytes === bytes && stamp.mtimeMs === now.mtimeMs;
}
