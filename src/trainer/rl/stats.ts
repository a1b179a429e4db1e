/** Small statistics for metrics (plain numbers, float64). */

export function mean(x: readonly number[]): number { return x.length ? x.reduce((a, b) => a + b, 0) / x.length : NaN; }

/** population std (np.std) */
export function std(x: readonly number[]): number {
  if (!x.length) return NaN;
  const m = mean(x);
  return Math.sqrt(x.reduce((a, b) => a + (b - m) ** 2, 0) / x.length);
}

/** sample skewness g1 = m3 / m2^{3/2} (population moments, as scipy.stats.skew(bias=True)); 0 when all equal */
export function skew(x: readonly number[]): number {
  if (x.length < 2) return 0;
  const m = mean(x);
  let m2 = 0, m3 = 0;
  for (const v of x) { const d = v - m; m2 += d * d; m3 += d * d * d; }
  m2 /= x.length; m3 /= x.length;
  return m2 > 0 ? m3 / Math.pow(m2, 1.5) : 0;
}

/** 1 − Var(returns − values)/Var(returns) over paired values (verl critic/vf_explained_var) */
export function explainedVariance(values: readonly number[], returns: readonly number[]): number {
  if (returns.length < 2) return NaN;
  const vr = std(returns) ** 2;
  const diff = returns.map((r, i) => r - values[i]);
  const vd = std(diff) ** 2;
  return vr > 0 ? 1 - vd / vr : NaN;
}
