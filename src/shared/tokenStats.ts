/**
 * Risers and fallers of a token comparison (issue 21), one rule for the trainer (`rl-lens diff-tokens`, the whole set)
 * and the token comparison view (the completions on screen): tokens grouped by display string, count, Σ Δ and mean Δ
 * log-prob (B − A). Pure; no dependencies.
 */
export interface TokenDeltaStat { token: string; count: number; meanDelta: number; sumDelta: number }

/**
 * Risers (mean Δ > 0, largest first) and fallers (mean Δ < 0, most negative first), ties by count; groups seen fewer
 * than `minCount` times (default 3) are left out, all groups when none reaches it (`minCount` returned is then 1);
 * non-finite Δ are skipped; `top` (default 25) of each.
 */
export function groupTokenDeltas(samples: Iterable<{ tokens: readonly string[]; delta: ArrayLike<number> }>, opts: { minCount?: number; top?: number } = {}): { risers: TokenDeltaStat[]; fallers: TokenDeltaStat[]; minCount: number } {
  const by = new Map<string, { count: number; sum: number }>();
  for (const s of samples) {
    for (let t = 0; t < s.tokens.length; t++) {
      const d = s.delta[t];
      if (!Number.isFinite(d)) continue;
      const e = by.get(s.tokens[t]) ?? { count: 0, sum: 0 };
      e.count++; e.sum += d; by.set(s.tokens[t], e);
    }
  }
  let minCount = Math.max(1, Math.floor(opts.minCount ?? 3));
  let list = [...by].filter(([, e]) => e.count >= minCount);
  if (!list.length) { minCount = 1; list = [...by]; }
  const rows = list.map(([token, e]) => ({ token, count: e.count, meanDelta: e.sum / e.count, sumDelta: e.sum }));
  const n = opts.top ?? 25;
  return {
    risers: rows.filter((x) => x.meanDelta > 0).sort((x, y) => y.meanDelta - x.meanDelta || y.count - x.count).slice(0, n),
    fallers: rows.filter((x) => x.meanDelta < 0).sort((x, y) => x.meanDelta - y.meanDelta || y.count - x.count).slice(0, n),
    minCount,
  };
}
