/**
 * The one pass@k of the code base (pure, no imports: the trainer, the importers, the report and the webviews may all
 * use it). See docs/references.md#pass-at-k.
 *
 * Unbiased estimator of Chen et al. 2021 ("Evaluating Large Language Models Trained on Code", eq. 1): with n samples
 * of one problem of which c are correct, pass@k = 1 − C(n−c, k) / C(n, k), computed in the numerically stable product
 * form of the paper's numpy code: `if n - c < k: return 1.0; return 1 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1))`.
 * The benchmark's pass@k is the mean of this over problems.
 *
 * k > n: the estimator is undefined (one cannot draw k of n samples without replacement; C(n, k) = 0) → NaN, never a
 * made-up 1 or 0. Callers only ask for k ≤ n: the trainer's config rejects `eval.k` above `eval.samplesPerPrompt`,
 * rl/eval and the verl importer skip k > n (verl's `process_validation_metrics` likewise only reports @N for N ≤ the
 * number of responses). Other invalid input (non-integers, c outside 0..n, k < 1) is NaN too.
 */
export function passAtK(n: number, c: number, k: number): number {
  if (!Number.isInteger(n) || !Number.isInteger(c) || !Number.isInteger(k)) return NaN;
  if (k < 1 || k > n || c < 0 || c > n) return NaN;
  if (n - c < k) return 1;
  let prod = 1;
  for (let i = n - c + 1; i <= n; i++) prod *= 1 - k / i;
  return 1 - prod;
}
