/**
 * The PyTorch side of `npm run bench`: finds an interpreter that can `import torch` and runs bench/torch_ref.py on the
 * same shapes as a benchmark case, at a given number of threads, in the same invocation as the tfjs measurement.
 *
 * Interpreter: $RL_LENS_PYTHON when set, else `python3` on PATH, else /usr/bin/python3 (a pyenv shim on PATH may
 * lack torch while the Debian python3-torch package sits under /usr/bin). Threads: torch.set_num_threads(n) and
 * OMP_NUM_THREADS / OPENBLAS_NUM_THREADS / MKL_NUM_THREADS = n, so BLAS does not add threads of its own; and
 * OMP_WAIT_POLICY=PASSIVE unless set: OpenMP workers that spin while they wait starve each other when other work shares
 * the cores (measured on the 2-core machine with a background job: stories260K sampling at 2 threads 30 s spinning,
 * 1.4 s passive, 1.2 s at 1 thread).
 * Nothing found: every comparison says why ("could not compare: ...").
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

export interface TorchOk {
  ok: true;
  python: string;
  torch: string;
  /** BLAS / MKL libraries the interpreter had mapped (reference BLAS is ~10× slower than OpenBLAS or MKL) */
  blas: string[];
  threads: number;
  ms: number;
  cpuMs: number;
  all: number[];
  phases?: Record<string, number>;
  memory?: Record<string, number>;
}
export type TorchResult = TorchOk | { ok: false; reason: string };

/** bench/torch_ref.py beside the bundle (dist/bench.js) or the sources (src/trainer/torchRef.ts). */
export function torchScript(): string | undefined {
  for (const c of [path.join(__dirname, '..', 'bench', 'torch_ref.py'), path.join(__dirname, '..', '..', 'bench', 'torch_ref.py'), path.join(process.cwd(), 'bench', 'torch_ref.py')]) {
    if (fs.existsSync(c)) return c;
  }
  return undefined;
}

let found: { python?: string; torch?: string; reason?: string } | undefined;

/** The first interpreter that imports torch (memoised). */
export function findTorchPython(): { python?: string; torch?: string; reason?: string } {
  if (found) return found;
  const tried: string[] = [];
  const cands = [process.env.RL_LENS_PYTHON, 'python3', '/usr/bin/python3'].filter((x): x is string => !!x);
  for (const py of [...new Set(cands)]) {
    const r = spawnSync(py, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8', timeout: 120_000 });
    if (r.status === 0) return (found = { python: py, torch: r.stdout.trim() });
    tried.push(`${py}: ${r.error ? (r.error as NodeJS.ErrnoException).code ?? r.error.message : (r.stderr.trim().split('\n').pop() ?? `exit ${r.status}`)}`);
  }
  return (found = { reason: `no Python with torch (tried ${tried.join('; ')}); install python3-torch or set RL_LENS_PYTHON` });
}

/** Run one case of bench/torch_ref.py at `threads` threads. */
export function runTorch(request: Record<string, unknown>, threads: number, timeoutMs = 1_800_000): TorchResult {
  const py = findTorchPython();
  if (!py.python) return { ok: false, reason: py.reason ?? 'no Python with torch' };
  const script = torchScript();
  if (!script) return { ok: false, reason: 'bench/torch_ref.py not found' };
  const n = String(threads);
  const r = spawnSync(py.python, [script], {
    input: JSON.stringify({ ...request, threads }), encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 * 2 ** 20,
    env: { OMP_WAIT_POLICY: 'PASSIVE', ...process.env, OMP_NUM_THREADS: n, OPENBLAS_NUM_THREADS: n, MKL_NUM_THREADS: n },
  });
  if (r.status !== 0) return { ok: false, reason: `${py.python} ${script} failed (${r.error?.message ?? `exit ${r.status}`}): ${(r.stderr ?? '').trim().split('\n').slice(-3).join(' | ')}` };
  try {
    const a = JSON.parse(r.stdout.trim().split('\n').pop()!);
    return { ok: true, python: py.python, torch: a.torch, blas: a.blas, threads: a.threads, ms: a.ms, cpuMs: a.cpuMs, all: a.all, phases: a.phases, memory: a.memory };
  } catch (e) {
    return { ok: false, reason: `could not read torch_ref.py output (${(e as Error).message})` };
  }
}

/** A short name of the BLAS torch used: openblas, mkl, reference BLAS, ... */
export function blasName(libs: string[]): string {
  const s = libs.join(' ');
  if (/mkl/i.test(s)) return 'MKL';
  if (/openblas/i.test(s) && !/\/blas\/libblas/.test(s)) return 'OpenBLAS';
  if (/\/blas\/libblas/.test(s)) return 'reference BLAS (netlib)';
  return libs.length ? path.basename(libs[0]) : 'built-in';
}
