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
}

export interface BenchCase {
  name: string;
  description: string;
  /** run once for warm-up then `iters` times; return the measurement */
  run(opts: { iters: number; backend: string }): Promise<BenchMeasurement> | BenchMeasurement;
}
