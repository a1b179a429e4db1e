/**
 * The shape of a benchmark case (types only): bench.ts runs them, and modules that contribute cases (rl/bench.ts)
 * build them, without importing each other's code.
 */
export interface BenchMeasurement {
  /** milliseconds per iteration (median) */
  ms: number;
  /** tokens processed per iteration */
  tokens: number;
  /** floating-point operations per iteration (model FLOPs, 6N-style convention for training) */
  flops: number;
  all?: number[];
  /** process CPU time (user + system) per iteration, median: ≈ wall time on an idle machine for the single-threaded backends */
  cpuMs?: number;
  note?: string;
  /** wall milliseconds of the case's phases (median), when it has phases */
  phases?: Record<string, number>;
  /** memory figures of the case (MiB unless the name says otherwise) */
  memory?: Record<string, number>;
}

export interface BenchCase {
  name: string;
  description: string;
  /** run once for warm-up then `iters` times; return the measurement */
  run(opts: { iters: number; backend: string }): Promise<BenchMeasurement> | BenchMeasurement;
  /**
   * The same shapes for bench/torch_ref.py (its request: `case` and the shapes; the bench adds threads and iters), so
   * the row is compared with PyTorch in the same invocation; undefined = no PyTorch counterpart.
   */
  torch?(): Promise<Record<string, unknown> | undefined> | Record<string, unknown> | undefined;
}
