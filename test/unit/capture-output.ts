// Shared by the CLI tests (import, doctor): run a command's `run(argv)` with process.stdout / process.stderr captured.
// Not a test file itself.

/** Run `fn` with stdout and stderr captured: `out` and `err` each stream, `all` both in the order written. */
export async function captureOutput(fn: () => Promise<number>): Promise<{ code: number; out: string; err: string; all: string }> {
  const out: string[] = [], err: string[] = [], all: string[] = [];
  const ow = process.stdout.write.bind(process.stdout), ew = process.stderr.write.bind(process.stderr);
  (process.stdout as unknown as { write: unknown }).write = (c: string | Uint8Array) => { out.push(String(c)); all.push(String(c)); return true; };
  (process.stderr as unknown as { write: unknown }).write = (c: string | Uint8Array) => { err.push(String(c)); all.push(String(c)); return true; };
  try {
    const code = await fn();
    return { code, out: out.join(''), err: err.join(''), all: all.join('') };
  } finally {
    (process.stdout as unknown as { write: unknown }).write = ow; (process.stderr as unknown as { write: unknown }).write = ew;
  }
}
