/** Atomic file replacement for the run directory's writers (runio/writer.ts, runio/metricsCache.ts). */
import * as fs from 'fs';
import * as path from 'path';

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
