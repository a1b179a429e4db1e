/**
 * Rollout trees (Tree-GRPO, ARPO; issue 20) as the group view draws them. A sample is one root-to-leaf trajectory and
 * carries `tree` (docs/run-format.md): the tree's id, the sample it branched from (`parent`, a sample index; null for
 * the root trajectory) and where it leaves its parent (`branchAt`: tokens [0, branchAt) equal the parent's), plus
 * per-branch numbers (ARPO's entropy rise, Tree-GRPO's intra- / inter-tree advantages). Shared prefix tokens are
 * repeated in each sample's tokens; the drawing shows them once.
 *
 * The drawing is a prefix tree of segments: a node is a token span [from, to) of one sample (its `owner`), shared by
 * every trajectory below it; a node ends where a trajectory branches off, and its children are the owner's
 * continuation and the trajectories that branch there. Pure (no DOM); parsed defensively (old runs have no `tree`).
 */
import type { RolloutTreeLinkFields } from '../../shared/runFormat';
import { groupMeanStd } from '../../shared/groupStats';

/**
 * A sample's `tree` as read (src/shared/runFormat.ts RolloutTreeLink), numbers checked; unknown fields dropped.
 * `alpha`: ARPO's α of P_t = α + β·ΔH_t for this decision (drawn per decision unless rl.arpo.alpha fixes it), which
 * the trainer writes next to branchProb; without it P_t cannot be explained from ΔH.
 */
export type TreeInfo = RolloutTreeLinkFields & { alpha?: number };

type SampleLike = { length?: number; group?: string; reward?: number; advantage?: number; [k: string]: unknown };

const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
const fin = (x: unknown): number | undefined => (typeof x === 'number' && Number.isFinite(x) ? x : undefined);

/** A sample's `tree`, checked; undefined when it has none or it is unusable (no id). */
export function sampleTree(s: object): TreeInfo | undefined {
  const t = (s as { tree?: unknown }).tree;
  if (!isObj(t) || (typeof t.id !== 'string' && typeof t.id !== 'number')) return undefined;
  const parent = fin(t.parent);
  const out: TreeInfo = { id: String(t.id), parent: parent !== undefined && Number.isInteger(parent) && parent >= 0 ? parent : null, branchAt: Math.max(0, Math.floor(fin(t.branchAt) ?? 0)) };
  const bt = fin(t.branchTurn); if (bt !== undefined) out.branchTurn = bt;
  if (typeof t.node === 'string') out.node = t.node;
  for (const k of ['entropy', 'entropyInitial', 'entropyDelta', 'branchProb', 'threshold', 'alpha', 'advIntra', 'advInter'] as const) { const v = fin(t[k]); if (v !== undefined) out[k] = v; }
  return out;
}

/** Does any sample of the step carry a tree? */
export function hasTrees(samples: readonly object[]): boolean {
  return samples.some((s) => sampleTree(s) !== undefined);
}

export interface TreeNode {
  /** unique within the tree: "owner:from" */
  key: string;
  /** the sample whose tokens [from, to) this node shows */
  owner: number;
  from: number;
  to: number;
  /** the trajectories (sample indices) that pass through this node, i.e. share its tokens */
  samples: number[];
  children: TreeNode[];
  /** set on the first node of a trajectory that branched off its parent here (what triggered the branch) */
  branch?: { sample: number; at: number; info: TreeInfo };
  /** a leaf: the trajectory ends here (its reward and advantage are the sample's) */
  leaf?: number;
  depth: number;
}

export interface RolloutTree {
  id: string;
  /** the prompt's group (of the root trajectory) */
  group: string;
  /** the tree's trajectories (sample indices, ascending) */
  samples: number[];
  root: TreeNode;
  /** trajectories = leaves */
  leaves: number;
  /** trajectories that branched off another (samples with a parent) */
  branches: number;
  /** token positions where the tree forks (distinct (owner, token) points) */
  branchPoints: number;
  problems: string[];
}

/**
 * The trees of the given samples (e.g. one group's members), in order of their first sample. Each tree's root is its
 * trajectory with parent null (the first one when several claim to be root; the others hang under it at branchAt).
 * A parent outside the tree, a cycle or a branchAt past the parent's length is reported in `problems` and repaired
 * (the sample hangs under the root, branchAt clamped).
 */
export function buildTrees(samples: readonly SampleLike[], members?: readonly number[]): RolloutTree[] {
  const idx = members ?? samples.map((_, i) => i);
  const byTree = new Map<string, number[]>();
  const info = new Map<number, TreeInfo>();
  for (const i of idx) {
    const t = samples[i] ? sampleTree(samples[i]) : undefined;
    if (!t) continue;
    info.set(i, t);
    (byTree.get(t.id) ?? byTree.set(t.id, []).get(t.id)!).push(i);
  }
  const out: RolloutTree[] = [];
  for (const [id, list] of byTree) {
    list.sort((a, b) => a - b);
    const problems: string[] = [];
    const len = (i: number) => Math.max(0, samples[i].length ?? 0);
    const roots = list.filter((i) => info.get(i)!.parent === null);
    const root = roots[0] ?? list[0];
    if (!roots.length) problems.push(`tree ${id}: no trajectory with parent null; sample ${root} taken as the root`);
    const inTree = new Set(list);
    // effective parent and branch point of every non-root trajectory (repaired where the file is inconsistent)
    const parent = new Map<number, number>(), at = new Map<number, number>();
    for (const i of list) {
      if (i === root) continue;
      const t = info.get(i)!;
      let p = t.parent;
      if (p === null) { problems.push(`tree ${id}: sample ${i} is a second root; shown under sample ${root}`); p = root; }
      else if (!inTree.has(p)) { problems.push(`tree ${id}: sample ${i} names parent ${p}, not in this tree; shown under sample ${root}`); p = root; }
      parent.set(i, p);
    }
    // cycles: a chain that never reaches the root is cut at the root
    for (const i of list) {
      const seen = new Set<number>();
      for (let c = i; c !== root; c = parent.get(c)!) {
        if (seen.has(c)) { problems.push(`tree ${id}: parents of sample ${i} form a cycle; shown under sample ${root}`); parent.set(i, root); break; }
        seen.add(c);
      }
    }
    for (const i of list) {
      if (i === root) continue;
      const b = info.get(i)!.branchAt, p = parent.get(i)!;
      const lim = Math.min(len(i), len(p));
      if (b > lim) problems.push(`tree ${id}: sample ${i} branches at token ${b}, past the shorter of it and its parent (${lim}); clamped`);
      at.set(i, Math.min(b, lim));
    }
    // a trajectory that leaves its parent at or before the point where the parent left ITS parent shares no more
    // with the parent than with the grandparent: it hangs under the grandparent (same shared prefixes, a tree whose
    // children all branch after their parent's own branch point)
    for (let changed = true, guard = 0; changed && guard < list.length + 1; guard++) {
      changed = false;
      for (const i of list) {
        const p = parent.get(i);
        if (p === undefined || p === root) continue;
        if (at.get(i)! <= at.get(p)!) { parent.set(i, parent.get(p)!); changed = true; }
      }
    }
    const kids = new Map<number, number[]>();
    for (const i of list) if (i !== root) (kids.get(parent.get(i)!) ?? kids.set(parent.get(i)!, []).get(parent.get(i)!)!).push(i);
    // the trajectories below a sample (itself and its descendants)
    const below = new Map<number, number[]>();
    const sub = (i: number): number[] => {
      let v = below.get(i);
      if (!v) { v = [i, ...(kids.get(i) ?? []).flatMap(sub)].sort((a, b) => a - b); below.set(i, v); }
      return v;
    };
    let branchPoints = 0;
    // node(s, from): sample s's tokens from `from` on, split where its children branch off (those branching exactly at
    // `from` are the caller's: siblings of this node)
    const node = (s: number, from: number, depth: number, branch?: TreeNode['branch']): TreeNode => {
      const forks = (kids.get(s) ?? []).filter((c) => at.get(c)! > from);
      const cut = forks.length ? Math.min(...forks.map((c) => at.get(c)!)) : Math.max(from, len(s));
      // trajectories sharing [from, cut): s and every child of s branching after `from` (with their subtrees)
      const sharing = [s, ...forks.flatMap(sub)].sort((a, b) => a - b);
      const n: TreeNode = { key: `${s}:${from}`, owner: s, from, to: cut, samples: sharing, children: [], depth, ...(branch ? { branch } : {}) };
      if (!forks.length) { n.leaf = s; return n; }
      fork(n, s, cut, depth + 1);
      return n;
    };
    // at token `cut` of s: s's continuation first, then every child of s branching there
    const fork = (n: TreeNode, s: number, cut: number, depth: number) => {
      branchPoints++;
      n.children.push(node(s, cut, depth));
      for (const c of kids.get(s) ?? []) if (at.get(c) === cut) n.children.push(node(c, cut, depth, { sample: c, at: cut, info: info.get(c)! }));
    };
    let r: TreeNode;
    if ((kids.get(root) ?? []).some((c) => at.get(c) === 0)) {
      // trajectories that differ from the root's first token on: an empty shared prefix above them all
      r = { key: `${root}:root`, owner: root, from: 0, to: 0, samples: list.slice(), children: [], depth: 0 };
      fork(r, root, 0, 1);
    } else r = node(root, 0, 0);
    out.push({ id, group: samples[root].group ?? '', samples: list, root: r, leaves: list.length, branches: list.length - 1, branchPoints, problems });
  }
  return out;
}

/** Every node of a tree, depth first (the order the view lists them). */
export function treeNodes(t: RolloutTree): TreeNode[] {
  const out: TreeNode[] = [];
  const walk = (n: TreeNode) => { out.push(n); n.children.forEach(walk); };
  walk(t.root);
  return out;
}

/** The node of `tree` that shows token `token` of trajectory `sample` (undefined when the sample is not in it). */
export function nodeOfToken(t: RolloutTree, sample: number, token: number): TreeNode | undefined {
  let best: TreeNode | undefined;
  for (const n of treeNodes(t)) if (n.samples.includes(sample) && token >= n.from && token < n.to) best = n;
  return best;
}

/**
 * How many trajectories of its tree share token `token` of sample `sample` (the prefix up to and including it is
 * theirs too), and which: a shared-prefix token is in every one of them, and the update trains it once per
 * trajectory (its loss term appears in each row). 1 = only this trajectory; undefined: the sample is in no tree.
 */
export function sharingTrajectories(samples: readonly SampleLike[], sample: number, token: number): number[] | undefined {
  const me = samples[sample] ? sampleTree(samples[sample]) : undefined;
  if (!me) return undefined;
  const trees = buildTrees(samples, samples.map((s, i) => (sampleTree(s)?.id === me.id ? i : -1)).filter((i) => i >= 0));
  const t = trees[0];
  if (!t) return [sample];
  const n = nodeOfToken(t, sample, token);
  return n ? n.samples.slice() : [sample];
}

/** Mean and unbiased std of the rewards of some samples (the leaves of a tree, or of every tree of a prompt). */
export function leafStats(samples: readonly SampleLike[], leaves: readonly number[]): { rewards: number[]; mean: number; std: number } {
  const rewards = leaves.map((i) => Number(samples[i]?.reward));
  const { mean, std } = groupMeanStd(rewards); // src/shared/groupStats.ts: all-equal leaves have std exactly 0
  return { rewards, mean, std };
}
