/**
 * ARPO — Agentic Reinforced Policy Optimization (Dong et al. 2025, arXiv 2507.19849; code dongguanting/ARPO,
 * `ARPO/verl_arpo_entropy/verl/workers/rollout/vllm_rollout/vllm_rollout_with_tools.py`, read in the
 * dongguanting/ARPO-anonymous copy @9d1c532). docs/algorithms.md#arpo.
 *
 * Entropy-based adaptive rollout (§3.1), per prompt with a global budget of M trajectories:
 *   - N initial trajectories; the other M − N slots go to partial rollouts (branches)
 *   - step entropy (Eq. 4 and the code's "Entropy Variation Monitoring"): the entropy of the first k tokens a turn
 *     generates, summed over those tokens and divided by ln V:  H = Σ_{j<min(k, len)} h_j / ln V      (scalar)
 *     H_initial = H of the first turn the trajectory generated itself (the code's initial_entropy_dict: a branch's
 *     own first turn, not its parent's); H_t = H of the turn after tool result t
 *   - ΔH_t = H_t − H_initial                                                                   (Eq. 4, normalised as H)
 *   - P_t = α + β·ΔH_t;  Branch(Z) if P_t > τ, else continue                                  (Eq. 5)
 *     The code draws α afresh at each decision: it branches when clip(u − w·ΔH, 0, 1) ≤ branch_probability with
 *     u ~ U[0, 1) — the same as α = 1 − u, β = w, τ = 1 − branch_probability (`alpha: null` here). A number α is the
 *     paper's Eq. 5 read literally (deterministic given ΔH).
 *   - Z branches per decision, capped by the slots left (M − trajectories so far); no decision once the budget is
 *     spent; when every trajectory of a prompt has ended with slots left, fresh trajectories fill it (Termination (2)).
 *
 * Advantage attribution (§3.2), over the M trajectories {τ_i} of one prompt with GRPO advantages
 * Â_i = (R_i − mean R)/(std R + ε):
 *   - soft (the paper's and the code's default: algorithm.adv_estimator=grpo): every token of τ_i gets Â_i; shared
 *     prefix tokens are trained once per trajectory that contains them, with the same ratio r_{i,t} (Eq. 7)
 *   - hard: a token shared by d trajectories gets (1/d)·Σ Â over those d; a token of one trajectory only gets its Â_i
 * Plain numbers (no tensors): the rollout wiring is rl/arpo.ts.
 */
import { groupNormalize } from './groupNorm';

/** Minimal seeded uniform source (rng.ts Rng). */
export interface UniformSource { next(): number }

/**
 * Step entropy of one turn (Eq. 4's H ∈ R^{1×k}, reduced as the code does): Σ over the first min(k, n) policy-token
 * entropies (nats; non-finite entries — environment tokens — are skipped) divided by ln V. entropies [n] → scalar.
 */
export function stepEntropy(entropies: readonly number[], k: number, vocabSize: number): number {
  if (!(vocabSize > 1)) throw new Error(`stepEntropy: vocabSize must be > 1, got ${vocabSize}`);
  let s = 0;
  for (let j = 0, n = 0; j < entropies.length && n < k; j++) { const h = entropies[j]; if (Number.isFinite(h)) { s += h; n++; } }
  return s / Math.log(vocabSize);
}

/** Eq. 4: ΔH_t = H_t − H_initial (both already normalised by stepEntropy). */
export function entropyDelta(hT: number, hInitial: number): number { return hT - hInitial; }

/** Eq. 5: P_t = α + β·ΔH_t. */
export function branchProbability(alpha: number, beta: number, deltaH: number): number { return alpha + beta * deltaH; }

export interface BranchDecision {
  /** α used (drawn 1 − u when the config's α is null) */
  alpha: number;
  /** P_t = α + β·ΔH_t */
  p: number;
  /** P_t > τ */
  branch: boolean;
}

/**
 * One branching decision (Eq. 5). `alpha` null draws α = 1 − u, u = rng.next() (the code's random.random()); a
 * number uses it as is and draws nothing. Branch iff P_t > τ.
 */
export function decideBranch(deltaH: number, o: { alpha: number | null; beta: number; tau: number }, rng: UniformSource): BranchDecision {
  const alpha = o.alpha === null ? 1 - rng.next() : o.alpha;
  const p = branchProbability(alpha, o.beta, deltaH);
  return { alpha, p, branch: p > o.tau };
}

/** How many branches a decision creates: Z, capped by the budget left (M − trajectories so far), never negative. */
export function branchCount(z: number, budget: number, used: number): number { return Math.max(0, Math.min(z, budget - used)); }

const mean = (x: readonly number[]) => x.reduce((a, b) => a + b, 0) / x.length;

/**
 * GRPO advantages per trajectory (verl compute_grpo_outcome_advantage, the ARPO scripts' adv_estimator=grpo):
 * (R − mean)/(std + ε) over the prompt's group, unbiased std; a group of one → mean 0, std 1. R [B], group [B] → [B]
 */
export function grpoTrajectoryAdvantages(R: readonly number[], group: readonly string[], eps: number): number[] {
  return groupNormalize(R, group, { eps, singletonMean: 'zero', scaleByStd: true });
}

/** A trajectory's place in its rollout tree: parent index (null = root) and the token where it leaves the parent. */
export interface TreeLink { tree: string; parent: number | null; branchAt: number; length: number }

/**
 * The trajectory that generated token j of trajectory i (walk up while j lies in the prefix copied from the parent).
 * Two trajectories share token j iff they have the same owner for it.
 */
export function tokenOwner(links: readonly TreeLink[], i: number, j: number): number {
  let a = i, guard = 0;
  while (links[a].parent !== null && j < links[a].branchAt) {
    a = links[a].parent!;
    if (++guard > links.length) throw new Error('tokenOwner: the parent links form a cycle');
  }
  return a;
}

/**
 * For every token, how many trajectories share it (d) and which: [B][L_i] of sorted trajectory-index lists.
 * Trajectories of different trees never share (their prefixes are independent samples).
 */
export function sharingSets(links: readonly TreeLink[]): number[][][] {
  links.forEach((l, i) => {
    if (l.parent !== null && (l.parent < 0 || l.parent >= links.length || links[l.parent].tree !== l.tree)) throw new Error(`sharingSets: trajectory ${i} names parent ${l.parent}, which is not a trajectory of its tree ${l.tree}`);
    if (l.parent !== null && (l.branchAt < 0 || l.branchAt > Math.min(l.length, links[l.parent].length))) throw new Error(`sharingSets: trajectory ${i} branches at ${l.branchAt}, outside its parent's and its own tokens`);
  });
  const byTree = new Map<string, number[]>();
  links.forEach((l, i) => { if (!byTree.has(l.tree)) byTree.set(l.tree, []); byTree.get(l.tree)!.push(i); });
  return links.map((l, i) => {
    const members = byTree.get(l.tree)!;
    return Array.from({ length: l.length }, (_, j) => {
      const o = tokenOwner(links, i, j);
      return members.filter((m) => links[m].length > j && tokenOwner(links, m, j) === o);
    });
  });
}

export type ArpoAttribution = 'soft' | 'hard';

/**
 * §3.2 advantage attribution. trajectoryAdv Â [B] (per trajectory), links [B] → per-token advantages [B][L_i]:
 * soft = Â_i on every token; hard = the mean of Â over the trajectories sharing the token.
 */
export function attributeAdvantages(trajectoryAdv: readonly number[], links: readonly TreeLink[], mode: ArpoAttribution): number[][] {
  if (trajectoryAdv.length !== links.length) throw new Error(`attributeAdvantages: ${trajectoryAdv.length} advantages for ${links.length} trajectories`);
  if (mode === 'soft') return links.map((l, i) => new Array<number>(l.length).fill(trajectoryAdv[i]));
  const sets = sharingSets(links);
  return sets.map((row) => row.map((s) => mean(s.map((m) => trajectoryAdv[m]))));
}

export interface ArpoAdvantageInput {
  /** per trajectory: its reward R_i [B] */
  rewards: readonly number[];
  /** per trajectory: its prompt's group [B] */
  group: readonly string[];
  /** per trajectory: its tree link [B] */
  links: readonly TreeLink[];
  mode: ArpoAttribution;
  /** ε added to the std (verl 1e-6) */
  eps?: number;
}

/** Façade: GRPO advantages over each prompt's M trajectories, then soft or hard attribution to tokens. */
export function arpoAdvantages(inp: ArpoAdvantageInput): { trajectoryAdvantages: number[]; tokenAdvantages: number[][] } {
  const { rewards, group, links, mode } = inp;
  if (rewards.length !== group.length || rewards.length !== links.length) throw new Error(`arpoAdvantages: rewards (${rewards.length}), group (${group.length}) and links (${links.length}) need one entry per trajectory`);
  const trajectoryAdvantages = grpoTrajectoryAdvantages(rewards, group, inp.eps ?? 1e-6);
  return { trajectoryAdvantages, tokenAdvantages: attributeAdvantages(trajectoryAdvantages, links, mode) };
}
