/**
 * Worker thread that decodes parquet files with hyparquet and posts the rows back (one request at a time).
 * Parquet decoding runs here, not in the caller's thread, because hyparquet can loop forever, allocate without
 * bound, or leave rejected promises behind on corrupt files: the caller (extension host, CLI) waits with a
 * timeout and terminates the worker. Bundled as dist/parquet-worker.js (scripts/build.mjs).
 */
import { parentPort } from 'worker_threads';
import { parquetReadObjects } from 'hyparquet';

process.on('unhandledRejection', () => { /* a corrupt file: the read itself reports it */ });

parentPort!.on('message', (m: { id: number; buffer: ArrayBuffer }) => {
  parquetReadObjects({ file: m.buffer }).then(
    (rows) => parentPort!.postMessage({ id: m.id, ok: true, rows }),
    (e: unknown) => parentPort!.postMessage({ id: m.id, ok: false, error: (e as Error)?.message ?? String(e) }),
  );
});
