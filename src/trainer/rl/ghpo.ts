/**
 * GHPO's adaptive prompt refinement inside the rollout (algorithms/ghpo.ts has the rules): after a batch is generated,
 * every group whose samples all failed (accuracy part ≤ 0) is generated again, all G samples, from the prompt with
 * the first ω of the reference answer appended (the hint); ω steps through rl.ghpo.hintRatios while the group still
 * fails (hkgc-1/GHPO: hint 25 % → 50 % → 75 %). The regenerated group replaces the old one; each of its samples
 * records `hint` / `hintRatio`, its reward is the task's reward of hint + completion (the completion continues the
 * answer the hint began), and its prompt ids include the hint, so the update conditions on it (the imitation part of
 * the hybrid) and trains the continuation by RL.
 */
import { generate } from '../sampling';
import type { CausalLM } from '../model/types';
import { ghpoAllWrong, ghpoHint } from '../algorithms/ghpo';
import type { RlConfig } from './config';
import type { RlTaskItem, RlTokenizer } from './types';

/** The part of a sample GHPO reads and rewrites (rollout.ts RolloutSample). */
export interface GhpoSample {
  item: RlTaskItem;
  reward: { score: number; parts: Record<string, number> };
  hint?: string;
  hintRatio?: number;
}

/** Accuracy of a sample for difficulty detection: the configured part, else the total reward. */
export function ghpoAccuracy(s: GhpoSample, part: string): number {
  const v = s.reward.parts[part];
  return typeof v === 'number' ? v : s.reward.score;
}

/**
 * Refine the groups of one generated batch in place. `samples`: nPrompts × G rows, each group's rows consecutive.
 * `make(row, item, promptIds, gen, j, hint, ratio)` builds the sample of generated row j (rollout.ts does the scoring).
 * Returns metrics (ghpo/hinted_groups, ghpo/hint_ratio_mean, ghpo/regenerations) and the tokens generated.
 */
export function ghpoRefine<S extends GhpoSample>(
  policy: CausalLM, tok: RlTokenizer, cfg: RlConfig, step: number, samples: S[], G: number, genOpts: Parameters<typeof generate>[2],
  make: (item: RlTaskItem, promptIds: number[], gen: ReturnType<typeof generate>, j: number, hint: string, ratio: number, old: S) => S,
): { metrics: Record<string, number>; tokens: number; groupHints: (undefined | { hint: string; ratio: number; stage: number })[] } {
  const nGroups = Math.floor(samples.length / G);
  const groupHints: (undefined | { hint: string; ratio: number; stage: number })[] = new Array(nGroups).fill(undefined);
  const metrics: Record<string, number> = { 'ghpo/hinted_groups': 0, 'ghpo/regenerations': 0, 'ghpo/all_wrong_groups': 0 };
  let tokens = 0;
  if (!cfg.ghpo.enabled || step < cfg.ghpo.startStep) return { metrics, tokens, groupHints };
  const failed = (p: number) => ghpoAllWrong(samples.slice(p * G, (p + 1) * G).map((s) => ghpoAccuracy(s, cfg.ghpo.accuracyPart)));
  for (let p = 0; p < nGroups; p++) if (failed(p)) metrics['ghpo/all_wrong_groups']++;
  cfg.ghpo.hintRatios.forEach((ratio, k) => {
    const redo: number[] = [];
    for (let p = 0; p < nGroups; p++) if (failed(p) && samples[p * G].item.answer !== undefined) redo.push(p);
    if (!redo.length) return;
    const rows: number[][] = [], meta: { p: number; hint: string }[] = [];
    for (const p of redo) {
      const item = samples[p * G].item;
      const hint = ghpoHint(String(item.answer), ratio);
      const ids = tok.encode(item.prompt + hint, { bos: true });
      if (ids.length >= policy.config.contextLength) throw new Error(`rl.ghpo: the hinted prompt ${JSON.stringify(item.prompt + hint)} needs ${ids.length} tokens, no room left in model.contextLength ${policy.config.contextLength}; raise model.contextLength (by the answer length) or lower rl.ghpo.hintRatios`);
      for (let g = 0; g < G; g++) { rows.push(ids); meta.push({ p, hint }); }
    }
    const gen = generate(policy, rows, genOpts);
    metrics['ghpo/regenerations']++;
    gen.tokens.forEach((t, j) => {
      tokens += t.length;
      const { p, hint } = meta[j];
      const at = p * G + (j % G);
      samples[at] = make(samples[at].item, rows[j], gen, j, hint, ratio, samples[at]);
    });
    for (const p of redo) groupHints[p] = { hint: meta.find((m) => m.p === p)!.hint, ratio, stage: k + 1 };
  });
  const hinted = groupHints.filter(Boolean) as { ratio: number }[];
  metrics['ghpo/hinted_groups'] = hinted.length;
  metrics['ghpo/hint_ratio_mean'] = nGroups ? hinted.reduce((a, h) => a + h.ratio, 0) / nGroups : 0;
  metrics['ghpo/still_wrong_groups'] = Array.from({ length: nGroups }, (_, p) => p).filter(failed).length;
  return { metrics, tokens, groupHints };
}
