/**
 * A group's mean and unbiased std, the one definition the trainer's plain-number estimators
 * (src/trainer/algorithms/groupNorm.ts) and the views' statistics and drill-down checks (src/webview/data) use.
 * The mean is taken as min + Σ(v − min)/n, the same number in exact arithmetic, so that a group whose values are all
 * equal has deviations of exactly 0: Σv/n of eight 1.1s is 1.1000000000000003, whose 2e-16 deviations divided by
 * (std 2e-16 + ε) became "advantages" of 2e-10. Pure (no Node, no DOM).
 */

/** mean and unbiased std of one group's values [n]; std is NaN for n < 2. */
export function groupMeanStd(v: readonly number[]): { mean: number; std: number } {
  const n = v.length;
  if (!n) return { mean: NaN, std: NaN };
  let lo = Infinity;
  for (const x of v) if (x < lo) lo = x;
  let s = 0;
  for (const x of v) s += x - lo;
  const mean = lo + s / n;
  if (n < 2) return { mean, std: NaN };
  let q = 0;
  for (const x of v) q += (x - mean) * (x - mean);
  return { mean, std: Math.sqrt(q / (n - 1)) };
}
