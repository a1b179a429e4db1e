/**
 * Group-relative normalisation on plain numbers, as verl's outcome estimators compute it
 * (core_algos.compute_grpo_outcome_advantage: torch.mean, torch.std unbiased, a group of one → mean 0, std 1), shared
 * by the per-step estimators that run on plain numbers (GiGPO's episode / step groups, Tree-GRPO's intra / inter
 * trees, ARPO's trajectory groups). The tensor version is advantages.ts groupStatistics.
 *
 * The mean is taken as min + Σ(v − min)/n, the same number in exact arithmetic, so that a group whose values are all
 * equal has deviations of exactly 0: Σv/n of eight 1.1s is 1.1000000000000003, whose 2e-16 deviations divided by
 * (std 2e-16 + ε) became "advantages" of 2e-10, drawn at full colour by the heatmap's domain.
 */
import { groupMeanStd } from '../../shared/groupStats';

export { groupMeanStd };

export interface GroupNormOptions {
  /** ε added to the std (verl 1e-6) */
  eps: number;
  /** a group of one: mean 0 (verl GRPO) or its own value (GiGPO's step groups: A^S = 0), std 1 */
  singletonMean: 'zero' | 'self';
  /** false: only subtract the mean (Dr.GRPO / GiGPO mean_norm) */
  scaleByStd: boolean;
}

/** (v − mean_g)/(std_g + ε) (or v − mean_g) of each value within its group `keys[i]`. values [B], keys [B] → [B] */
export function groupNormalize(values: readonly number[], keys: readonly string[], o: GroupNormOptions): number[] {
  if (values.length !== keys.length) throw new Error(`groupNormalize: ${values.length} values and ${keys.length} group keys; one key per value`);
  const by = new Map<string, number[]>();
  keys.forEach((k, i) => { let a = by.get(k); if (!a) by.set(k, a = []); a.push(values[i]); });
  const stat = new Map<string, { m: number; s: number }>();
  for (const [k, v] of by) {
    if (v.length === 1) stat.set(k, { m: o.singletonMean === 'zero' ? 0 : v[0], s: 1 });
    else { const g = groupMeanStd(v); stat.set(k, { m: g.mean, s: g.std }); }
  }
  return values.map((v, i) => { const { m, s } = stat.get(keys[i])!; return o.scaleByStd ? (v - m) / (s + o.eps) : v - m; });
}
