/**
 * Tree-GRPO — Tree-based Group Relative Policy Optimization (Ji et al. 2025, "Tree Search for LLM Agent Reinforcement
 * Learning", arXiv 2509.21240; authors' code AMAP-ML/Tree-GRPO, read in the mirror nielsyA/Tree-GRPO:
 * verl/trainer/ppo/ray_trainer_ts.py compute_advantage, branch adv_estimator == 'tree'; the GRPO normaliser
 * verl/trainer/ppo/core_algos.py compute_grpo_outcome_advantage). docs/algorithms.md#tree-grpo.
 *
 * The rollout is a forest: for each prompt, M trees; every leaf H_i is one complete root-to-leaf trajectory with an
 * outcome reward R(H_i) (rl/treeRollout.ts builds them). Two groups per leaf:
 *   - intra-tree (the leaves of its own tree T(i)):     Â_intra(H_i) = (R(H_i) − mean_{j∈T(i)} R(H_j)) / (std_{j∈T(i)} R + ε)
 *   - inter-tree (every leaf of the prompt's M trees):   Â_inter(H_i) = (R(H_i) − mean_{j∈P(i)} R(H_j)) / (std_{j∈P(i)} R + ε)
 *   - combined (ray_trainer_ts.py: advantages = inter_tree_advantages + inner_tree_advantages):
 *                                                        Â(H_i) = Â_intra(H_i) + Â_inter(H_i)
 * Every policy token of H_i gets Â(H_i) (a sequence-level advantage, as GRPO; tool outputs are masked out of the loss).
 * Tokens a leaf shares with its siblings (a common prefix) therefore appear in several rows, each with its own leaf's
 * advantage: a shared prefix is trained with the sum of its leaves' advantages, and two sibling branches differ only after
 * their branch point — the step-level preference signal of the paper's analysis (intra-tree GRPO ≈ step-level DPO).
 *
 * Normalisation exactly as compute_grpo_outcome_advantage: std is torch.std (unbiased, n − 1), ε = 1e-6 added to
 * the std, and a group of one leaf has mean 0 and std 1 (so its advantage is R / (1 + ε)).
 * Plain numbers (no tensors): one value per leaf, computed once per step.
 */
import { groupNormalize } from './groupNorm';


/**
 * GRPO's outcome normalisation by group key (core_algos.compute_grpo_outcome_advantage): (R − mean)/(std + ε) per
 * group; a group of one: mean 0, std 1. R [B], keys [B] → [B]
 */
export function groupRelativeAdvantages(R: readonly number[], keys: readonly string[], eps: number): number[] {
  return groupNormalize(R, keys, { eps, singletonMean: 'zero', scaleByStd: true });
}

/** Intra-tree advantage Â_intra: each leaf against the leaves of its own tree. R [B], tree [B] (tree id) → [B] */
export function intraTreeAdvantages(R: readonly number[], tree: readonly string[], eps: number): number[] {
  return groupRelativeAdvantages(R, tree, eps);
}

/** Inter-tree advantage Â_inter: each leaf against every leaf of its prompt (all M trees). R [B], prompt [B] → [B] */
export function interTreeAdvantages(R: readonly number[], prompt: readonly string[], eps: number): number[] {
  return groupRelativeAdvantages(R, prompt, eps);
}

export interface TreeGrpoInput {
  /** per leaf: its outcome reward R(H_i) [B] */
  rewards: readonly number[];
  /** per leaf: its prompt (the inter-tree group: every tree of one prompt) [B] */
  prompt: readonly string[];
  /** per leaf: its tree id (the intra-tree group); a tree lies inside one prompt [B] */
  tree: readonly string[];
  /** ε added to the std (core_algos epsilon 1e-6) */
  eps?: number;
}

export interface TreeGrpoOutput {
  /** Â_intra per leaf [B] */
  intra: number[];
  /** Â_inter per leaf [B] */
  inter: number[];
  /** Â = Â_intra + Â_inter per leaf [B] */
  advantages: number[];
}

/** Tree-GRPO advantages of the leaves (intra-tree + inter-tree group-relative advantages) from plain numbers. */
export function treeGrpoAdvantages(inp: TreeGrpoInput): TreeGrpoOutput {
  const { rewards, prompt, tree } = inp;
  const eps = inp.eps ?? 1e-6;
  const B = rewards.length;
  if (prompt.length !== B || tree.length !== B) throw new Error(`treeGrpoAdvantages: rewards (${B}), prompt (${prompt.length}) and tree (${tree.length}) must have one entry per leaf`);
  const promptOfTree = new Map<string, string>();
  tree.forEach((t, i) => {
    const p = promptOfTree.get(t);
    if (p !== undefined && p !== prompt[i]) throw new Error(`treeGrpoAdvantages: tree ${JSON.stringify(t)} has leaves of two prompts (${JSON.stringify(p)}, ${JSON.stringify(prompt[i])}); a tree grows from one prompt`);
    promptOfTree.set(t, prompt[i]);
  });
  const intra = intraTreeAdvantages(rewards, tree, eps);
  const inter = interTreeAdvantages(rewards, prompt, eps);
  return { intra, inter, advantages: intra.map((a, i) => a + inter[i]) };
}

/**
 * Expansion node choice of one iteration (tree_node.py TreeNode.get_expand_node, mode 'random'): N nodes drawn
 * uniformly WITH replacement (Python random.choices) from the tree's root and its non-leaf nodes, so a node may be
 * expanded twice. `candidates` in the authors' order (root first, then the subtree's non-leaf nodes breadth-first),
 * `u` N uniforms in [0, 1) → the chosen candidates (floor(u·len), as random.choices).
 */
export function chooseExpansionNodes<T>(candidates: readonly T[], n: number, u: readonly number[]): T[] {
  if (!candidates.length) throw new Error('chooseExpansionNodes: no candidate node (a tree always has its root)');
  if (u.length !== n) throw new Error(`chooseExpansionNodes: ${u.length} uniforms for ${n} nodes`);
  return u.map((x) => candidates[Math.min(candidates.length - 1, Math.floor(x * candidates.length))]);
}
