/**
 * Tree-GRPO on the tree rollout (algorithms/treeGrpo.ts for the math, rl/treeRollout.ts for the trees): each sample is
 * a leaf; its intra-tree group is its tree (`tree.id`), its inter-tree group its prompt (`group`: every tree of the
 * prompt); the reward is the episode's score (final reward + per-turn rewards: the outcome reward the authors place on
 * the last token). The sequence advantage Â = Â_intra + Â_inter is broadcast over the leaf's policy tokens by the step.
 */
import { treeGrpoAdvantages, type TreeGrpoOutput } from '../algorithms/treeGrpo';
import type { RlConfig } from './config';
import type { RolloutSample } from './rollout';

export function treeGrpoForSamples(S: readonly RolloutSample[], cfg: RlConfig): TreeGrpoOutput {
  if (S.some((s) => !s.tree)) throw new Error('rl.advantage "tree_grpo" needs tree rollouts (algorithm "tree_grpo" on a task with an environment: calc-tool, lookup-tool or rl.env.module)');
  return treeGrpoAdvantages({ rewards: S.map((s) => s.score), prompt: S.map((s) => s.group), tree: S.map((s) => s.tree!.id), eps: cfg.advEps });
}
