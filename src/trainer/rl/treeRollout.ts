/**
 * Tree-GRPO's tree-search rollout (Ji et al. 2025, arXiv 2509.21240; authors' code AMAP-ML/Tree-GRPO,
 * search_r1/llm_agent/generation_ts.py LLMGenerationTreeSearchManager.run_llm_loop_tree_search and tree_node.py,
 * read in the mirror nielsyA/Tree-GRPO). docs/algorithms.md#tree-grpo.
 *
 * A node is a complete agent step (the policy's turn, its tool call and the tool's result); the state a node leaves
 * behind is an agent-step boundary. Per prompt:
 *   1. initialisation: M trees, each one complete chain from the prompt (the tree's root) to a leaf;
 *   2. L expansion iterations: in every tree, N nodes drawn uniformly WITH replacement from the root and the tree's
 *      non-leaf nodes (tree_node.py get_expand_node, mode 'random'); each drawn node is expanded by generating one new
 *      chain from the state right after it to the end (generation_ts.py gen_action_chain from the node's input_ids):
 *      the branch shares the node's prefix — its policy and tool tokens — with the trajectory it branched from
 *      (multiturn.ts forkEpisode), and the tool calls of that prefix are not executed again;
 *   3. leaves: each tree then has 1 + L·N leaves; with leavesPerTree k the authors draw k of them at random and prune
 *      the rest (tree_node.py sample_leaf); null keeps all (their scripts: k = 1 + L·N).
 * Every leaf is one sample (a root-to-leaf trajectory, the shared prefix repeated in its tokens, as the authors'
 * final_output rows); its `tree` records the tree id, the trajectory it branched from, the branch point and the node id
 * "<tree>/<depth>.<k>" (depth = completed agent steps, k = the node's index among the tree's nodes of that depth).
 *
 * Budget (what the update pays for is the leaves, what the rollout pays for is generation): M full chains + M·L·N
 * partial chains. An expansion from depth d regenerates only the turns after d and re-executes only their tool calls,
 * so on calc-tool (3 agent steps: two calls and the answer; candidates root, depth 1, depth 2) an expansion costs on
 * average ≈ 0.6 of a chain's policy tokens and ½ of its tool calls: M 4, N 2, L 1 gives 12 leaves for ≈ 4 + 8·0.6 ≈ 9
 * chains' tokens and 4 + 8·0.5 = 8 chains' tool calls — GRPO's budget of G = 8 chains. Measured per step:
 * tree/chain_equiv (policy tokens generated / mean policy tokens of the step's root chains) and tree/tool_calls_executed.
 */
import type { CausalLM } from '../model/types';
import type { Rng } from '../rng';
import type { RlConfig } from './config';
import type { RlTokenizer } from './types';
import type { RolloutResult } from './rollout';
import type { Environment } from '../envs/types';
import { episodesToResult, forkEpisode, newEpisodes, runEpisodes, stepItems, type Episode, type MultiTurnOptions } from './multiturn';
import { chooseExpansionNodes } from '../algorithms/treeGrpo';

/** A node of a tree: the state after `depth` agent steps of `owner` (depth 0 = the root: the prompt). */
interface TreeNode { id: string; owner: Episode; depth: number }

interface Tree { id: string; root: TreeNode; episodes: Episode[]; nodes: TreeNode[]; perDepth: number[] }

function addNode(t: Tree, owner: Episode, depth: number): TreeNode {
  const k = t.perDepth[depth] ?? 0;
  t.perDepth[depth] = k + 1;
  const n = { id: `${t.id}/${depth}.${k}`, owner, depth };
  t.nodes.push(n);
  return n;
}

/** Register the nodes an episode created itself: depths after its branch point up to its leaf (the leaf included). */
function addEpisodeNodes(t: Tree, e: Episode): void {
  for (let d = (e.tree?.branchTurn ?? 0) + 1; d <= e.turns.length; d++) addNode(t, e, d);
}

/** Candidate nodes of an expansion: the root and every non-leaf node (a node after which its owner continued). */
function candidates(t: Tree): TreeNode[] {
  return t.nodes.filter((n) => n.depth === 0 || n.depth < n.owner.turns.length);
}

/** Policy tokens / executed tool calls an episode produced itself (after its branch point). */
function ownCost(e: Episode): { tokens: number; calls: number } {
  const from = e.tree?.branchAt ?? 0, turnFrom = e.tree?.branchTurn ?? 0;
  return { tokens: e.lossMask.slice(from).filter((m) => m === 1).length, calls: e.turns.slice(turnFrom).filter((t) => t.result !== undefined).length };
}

/**
 * Tree-GRPO rollout of one step: `promptsPerStep` prompts (or `items`), M trees each, L iterations of N expansions.
 * Samples are ordered by prompt group, each group's leaves in creation order (roots first).
 */
export function treeRollout(policy: CausalLM, env: Environment, tok: RlTokenizer, cfg: RlConfig, rng: Rng, step: number, o: MultiTurnOptions): RolloutResult {
  if (cfg.dynamicSampling.enabled || cfg.eepo?.enabled || cfg.ghpo?.enabled) throw new Error('rl.treeGrpo: tree rollouts do not support dynamicSampling, eepo or ghpo; turn them off');
  const { trees: M, expandNodes: N, iterations: L, leavesPerTree } = cfg.treeGrpo;
  const t0 = Date.now();
  const its = stepItems(env, tok, cfg, rng, step);
  const forest: Tree[] = [];
  for (const g of its) {
    for (let m = 0; m < M; m++) {
      const [e] = newEpisodes(g.item, g.id, g.promptIds, 1);
      const id = `${g.id}/t${m}`;
      const t: Tree = { id, root: undefined as unknown as TreeNode, episodes: [e], nodes: [], perDepth: [] };
      t.root = addNode(t, e, 0);
      e.tree = { id, parent: null, branchAt: 0, branchTurn: 0, node: t.root.id, iteration: 0 };
      forest.push(t);
    }
  }
  // 1. M initial chains per prompt, generated together
  let generated = runEpisodes(policy, env, tok, cfg, rng, forest.flatMap((t) => t.episodes), o).generated;
  for (const t of forest) addEpisodeNodes(t, t.episodes[0]);
  const rootTokens = forest.reduce((a, t) => a + ownCost(t.episodes[0]).tokens, 0) / Math.max(1, forest.length);
  // 2. L iterations: N nodes per tree, each expanded to a new chain to the end (all trees' expansions in one batch)
  for (let l = 0; l < L; l++) {
    const branches: Array<{ t: Tree; e: Episode }> = [];
    for (const t of forest) {
      const chosen = chooseExpansionNodes(candidates(t), N, Array.from({ length: N }, () => rng.next()));
      for (const n of chosen) {
        const b = forkEpisode(n.owner, n.depth, t.id);
        b.tree = { ...b.tree!, node: n.id, iteration: l + 1 };
        branches.push({ t, e: b });
      }
    }
    generated += runEpisodes(policy, env, tok, cfg, rng, branches.map((x) => x.e), o).generated;
    for (const { t, e } of branches) { t.episodes.push(e); addEpisodeNodes(t, e); }
  }
  // 3. leaves: all, or k drawn at random per tree (sample_leaf); a kept leaf whose parent was pruned hangs from the
  //    nearest kept ancestor, sharing the shorter of the two prefixes
  const pool: Episode[] = [];
  for (const t of forest) {
    let keep = t.episodes;
    if (leavesPerTree !== null && leavesPerTree < keep.length) {
      const kept = new Set(rng.shuffle([...keep]).slice(0, leavesPerTree));
      keep = keep.filter((e) => kept.has(e));
      for (const e of keep) {
        let p = e.tree!.parent, at = e.tree!.branchAt, turn = e.tree!.branchTurn;
        while (p && !kept.has(p)) { at = Math.min(at, p.tree!.branchAt); turn = Math.min(turn, p.tree!.branchTurn); p = p.tree!.parent; }
        e.tree = { ...e.tree!, parent: p, branchAt: p ? at : 0, branchTurn: p ? turn : 0 };
      }
    }
    pool.push(...keep);
  }
  // what the rollout cost (every generated chain, pruned ones too) and what the leaves share
  const all = forest.flatMap((t) => t.episodes);
  const calls = all.reduce((a, e) => a + ownCost(e).calls, 0);
  const leafTokens = pool.reduce((a, e) => a + e.tokens.length, 0);
  const shared = pool.reduce((a, e) => a + (e.tree?.branchAt ?? 0), 0);
  const extra: Record<string, number> = {
    'tree/trees': forest.length,
    'tree/leaves': pool.length,
    'tree/leaves_per_tree/mean': pool.length / Math.max(1, forest.length),
    'tree/nodes': forest.reduce((a, t) => a + t.nodes.length, 0),
    'tree/expansions': all.length - forest.length,
    'tree/shared_token_frac': leafTokens ? shared / leafTokens : 0,
    // policy tokens generated per prompt, in units of the step's mean root chain (GRPO with G chains: ≈ G)
    'tree/chain_equiv': rootTokens > 0 ? generated / rootTokens / Math.max(1, its.length) : 0,
    'tree/tool_calls_executed': calls,
    'env/tool_calls/executed': calls,
  };
  return episodesToResult(pool, its.map((g) => ({ id: g.id, item: g.item })), env, tok, generated, t0, extra);
}
