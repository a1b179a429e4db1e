/**
 * ARPO's entropy-based adaptive rollout on the multi-turn primitives (rl/multiturn.ts; the math in
 * algorithms/arpo.ts; docs/algorithms.md#arpo). Per prompt: N root trajectories (each its own tree
 * "<group>/t<m>"); after every policy turn the hook measures the turn's step entropy H (first k tokens, / ln V), keeps
 * the trajectory's first measured H as H_initial, and — while the prompt has fewer than M trajectories — decides
 * P_t = α + β·ΔH_t > τ; a positive decision adds Z branches (forkEpisode), capped by the budget. When every
 * trajectory has ended with slots left, fresh root trajectories fill the prompt up to M, one per prompt per round
 * (the code's fill-up; they may branch too). The result is the usual RolloutResult of M trajectories per prompt; each
 * branch's `tree` carries node "<tree>/<turn>.<k>" (k = the ordinal, within the tree, of the trajectory it left),
 * entropy (H_t), entropyInitial, entropyDelta (ΔH_t), branchProb (P_t), threshold (τ) and alpha.
 *
 * Hard attribution (arpo.attribution "hard") is applied to the step's per-token advantages by arpoHardAdvantages.
 */
import type { CausalLM } from '../model/types';
import type { Rng } from '../rng';
import type { Environment, EnvItem } from '../envs/types';
import type { RlConfig } from './config';
import type { RlTokenizer } from './types';
import type { RolloutResult, RolloutSample } from './rollout';
import { attributeAdvantages, branchCount, decideBranch, entropyDelta, stepEntropy, type TreeLink } from '../algorithms/arpo';
import { episodesToResult, forkEpisode, newEpisodes, runEpisodes, stepItems, type Episode, type MultiTurnOptions, type TurnEvent } from './multiturn';

/** M (trajectories per prompt) and N (initial trajectories) of a config. */
export function arpoBudget(cfg: RlConfig): { M: number; N: number } {
  const M = cfg.arpo.budget ?? cfg.groupSize;
  const N = cfg.arpo.initialRollouts ?? Math.ceil(M / 2);
  if (N > M) throw new Error(`rl.arpo.initialRollouts: N (${N}) must be ≤ the budget M (${M})`);
  return { M, N };
}

const mean = (x: readonly number[]) => (x.length ? x.reduce((a, b) => a + b, 0) / x.length : 0);

/** One step's ARPO rollout: M trajectories per prompt (N initial, the rest branches or fill-ups). */
export function arpoRollout(policy: CausalLM, env: Environment, tok: RlTokenizer, cfg: RlConfig, rng: Rng, step: number, o: MultiTurnOptions, items?: EnvItem[]): RolloutResult {
  if (cfg.dynamicSampling.enabled || cfg.eepo?.enabled || cfg.ghpo?.enabled) throw new Error('rl.arpo: the ARPO rollout does not support dynamicSampling, eepo or ghpo; turn them off');
  const t0 = Date.now();
  const { M, N } = arpoBudget(cfg);
  const a = cfg.arpo;
  const V = policy.config.vocabSize;
  const its = stepItems(env, tok, cfg, rng, step, items);
  const count = new Map<string, number>(), trees = new Map<string, number>(), treeSize = new Map<string, number>();
  const ordinal = new Map<Episode, number>(), hInit = new Map<Episode, number>();
  const decisions: Array<{ h: number; dh: number; p: number; branched: boolean }> = [];
  let branches = 0, fillUps = 0;

  const roots = (g: { id: string; item: EnvItem; promptIds: number[] }, n: number): Episode[] => {
    const eps = newEpisodes(g.item, g.id, g.promptIds, n);
    for (const e of eps) {
      const m = trees.get(g.id) ?? 0;
      trees.set(g.id, m + 1);
      e.tree = { id: `${g.id}/t${m}`, parent: null, branchAt: 0, branchTurn: 0 };
      treeSize.set(e.tree.id, 1); ordinal.set(e, 0);
    }
    count.set(g.id, (count.get(g.id) ?? 0) + n);
    return eps;
  };

  const afterTurn = (ev: TurnEvent): Episode[] => {
    const e = ev.episode, t = ev.turn;
    const h = stepEntropy(ev.entropies, a.entropyTokens, V);
    // H_initial: the first turn this trajectory generated itself (the code's initial_entropy_dict, set on first sight)
    if (!hInit.has(e)) hInit.set(e, h);
    // where a branch would start: after this turn's tool result (the code) or at this turn, after the previous result
    let at: number;
    if (a.branchAt === 'next_call') { if (e.done || e.turns[t].result === undefined) return []; at = t + 1; }
    else { if (t < 1 || e.turns[t - 1].result === undefined) return []; at = t; }
    const used = count.get(e.group)!;
    if (used >= M) return []; // budget spent: no decision (the code's remaining_slots <= 0)
    const dh = entropyDelta(h, hInit.get(e)!);
    const d = decideBranch(dh, a, rng);
    decisions.push({ h, dh, p: d.p, branched: d.branch });
    if (!d.branch) return [];
    const z = branchCount(a.branches, M, used);
    count.set(e.group, used + z);
    branches += z;
    const k = ordinal.get(e)!;
    return Array.from({ length: z }, () => {
      const f = forkEpisode(e, at);
      const tid = f.tree!.id, ord = treeSize.get(tid)!;
      treeSize.set(tid, ord + 1); ordinal.set(f, ord);
      Object.assign(f.tree!, { node: `${tid}/${at}.${k}`, entropy: h, entropyInitial: hInit.get(e)!, entropyDelta: dh, branchProb: d.p, threshold: a.tau, alpha: d.alpha });
      return f;
    });
  };

  const pool: Episode[] = [];
  let generated = 0;
  let fresh = its.flatMap((g) => roots(g, N));
  for (;;) {
    const r = runEpisodes(policy, env, tok, cfg, rng, fresh, o, { afterTurn });
    pool.push(...r.episodes); generated += r.generated;
    // Termination (2): every trajectory of a prompt ended before the budget was spent → trajectory-level samples
    fresh = its.filter((g) => count.get(g.id)! < M).flatMap((g) => roots(g, 1));
    fillUps += fresh.length;
    if (!fresh.length) break;
  }
  const sharedTokens = pool.reduce((s, e) => s + (e.tree?.branchAt ?? 0), 0);
  const allTokens = pool.reduce((s, e) => s + e.tokens.length, 0);
  const extra: Record<string, number> = {
    'arpo/branches': branches,
    'arpo/decisions': decisions.length,
    'arpo/branch_rate': decisions.length ? decisions.filter((d) => d.branched).length / decisions.length : 0,
    'arpo/entropy/mean': mean(decisions.map((d) => d.h)),
    'arpo/entropy_delta/mean': mean(decisions.map((d) => d.dh)),
    'arpo/branch_prob/mean': mean(decisions.map((d) => d.p)),
    'arpo/budget_used': M > N ? branches / (its.length * (M - N)) : 0,
    'arpo/fill_ups': fillUps,
    'arpo/shared_tokens/frac': allTokens ? sharedTokens / allTokens : 0,
    'arpo/tree_size/mean': mean([...treeSize.values()]),
  };
  return episodesToResult(pool, its, env, tok, generated, t0, extra);
}

/**
 * Hard attribution (ARPO §3.2) of the step's per-token advantages: a token shared by d trajectories of a tree gets
 * the mean of their trajectory advantages Â (seqAdv, the GRPO advantage over the prompt's M trajectories); the rest
 * keep Â_i. → [B][N] (N = the padded response width), times the response mask.
 */
export function arpoHardAdvantages(S: readonly RolloutSample[], seqAdv: readonly number[], mask: readonly (readonly number[])[]): number[][] {
  const links: TreeLink[] = S.map((s, i) => (s.tree ? { tree: s.tree.id, parent: s.tree.parent, branchAt: s.tree.branchAt, length: s.tokens.length } : { tree: `#${i}`, parent: null, branchAt: 0, length: s.tokens.length }));
  const tok = attributeAdvantages(seqAdv, links, 'hard');
  return mask.map((row, b) => row.map((m, j) => (j < tok[b].length ? tok[b][j] * m : 0)));
}
