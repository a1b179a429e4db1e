/**
 * GiGPO — Group-in-Group Policy Optimization (Feng et al. 2025, "Group-in-Group Policy Optimization for LLM Agent
 * Training", arXiv 2505.10978; official code langfengQ/verl-agent gigpo/core_gigpo.py). docs/algorithms.md#gigpo.
 *
 * Two levels of groups over the G trajectories {τ_i} sampled for one task (one initial state):
 *   - episode level (Eq. 3):  A^E(τ_i) = (R(τ_i) − mean_j R(τ_j)) / F_norm,   F_norm = std_j R(τ_j) (+ε) or 1
 *   - step level: the anchor states s̃ that recur across the group's trajectories (Eq. 6: the step-level group of s̃
 *     is every (a_t^(i), R_t^(i)) whose environment state s_t^(i) = s̃), each step's discounted return
 *     R_t^(i) = Σ_{k≥t} γ^{k−t} r_k^(i) (Eq. 5), and
 *                            A^S(a_t^(i)) = (R_t^(i) − mean_{G^S(s̃)} R) / F_norm     (Eq. 7)
 *   - combined (Eq. 8):     A(a_t^(i)) = A^E(τ_i) + ω·A^S(a_t^(i))
 * Every token of turn t of τ_i gets A(a_t^(i)); environment (tool-output) tokens are masked out of the loss.
 *
 * Normalisation as core_gigpo.py: std is the unbiased (n − 1) std (torch.std); a group of one has mean 0 (episode) /
 * its own value (step), and std 1, so a singleton step group gives A^S = 0. Episode statistics here are over
 * trajectories (the paper's Eq. 3; core_gigpo.py's default compute_mean_std_cross_steps=True counts each step row of
 * a trajectory instead, which weighs long trajectories more — we follow the paper).
 * Plain numbers (no tensors): the values are per turn, and the step computes them once per batch.
 */
import { groupNormalize } from './groupNorm';

/** How A^E and A^S are normalised: mean_std_norm = divide by std + ε (the paper), mean_norm = F_norm 1 (verl-agent option). */
export type GigpoMode = 'mean_std_norm' | 'mean_norm';


/** Eq. 5: discounted return of every step, R_t = Σ_{k≥t} γ^{k−t} r_k. rewards [T] → [T] */
export function stepDiscountedReturns(rewards: readonly number[], gamma: number): number[] {
  const out = new Array<number>(rewards.length);
  let run = 0;
  for (let t = rewards.length - 1; t >= 0; t--) { run = rewards[t] + gamma * run; out[t] = run; }
  return out;
}

/** Group-relative normalisation of values by group key (core_gigpo episode_norm_reward / step_norm_reward). */
function groupNormalise(values: readonly number[], keys: readonly string[], singletonMean: 'zero' | 'self', mode: GigpoMode, eps: number): number[] {
  return groupNormalize(values, keys, { eps, singletonMean, scaleByStd: mode !== 'mean_norm' });
}

/** Eq. 3: episode-relative advantage A^E of each trajectory. R [B] (trajectory return), group [B] (episode group id) → [B] */
export function episodeRelativeAdvantages(R: readonly number[], group: readonly string[], mode: GigpoMode, eps: number): number[] {
  return groupNormalise(R, group, 'zero', mode, eps);
}

/**
 * Eq. 6: anchor-state grouping. Steps of the same episode group whose anchor observation is identical form one
 * step-level group. group [B], anchors [B][T_i] (observation strings) → step group id of every step [B][T_i]
 * ("<episode group>#<k>", k in first-seen order).
 */
export function buildStepGroups(group: readonly string[], anchors: readonly (readonly string[])[]): string[][] {
  const ids = new Map<string, string>();
  const count = new Map<string, number>();
  return anchors.map((turns, i) => turns.map((obs) => {
    const key = `${group[i]}\u0000${obs}`;
    let id = ids.get(key);
    if (id === undefined) { const k = count.get(group[i]) ?? 0; count.set(group[i], k + 1); id = `${group[i]}#${k}`; ids.set(key, id); }
    return id;
  }));
}

/** Eq. 7: step-relative advantage A^S of every step from its discounted return and its step group. [B][T_i] → [B][T_i] */
export function stepRelativeAdvantages(returns: readonly (readonly number[])[], stepGroups: readonly (readonly string[])[], mode: GigpoMode, eps: number): number[][] {
  const flat = returns.flat(), keys = stepGroups.flat();
  const a = groupNormalise(flat, keys, 'self', mode, eps);
  let k = 0;
  return returns.map((row) => row.map(() => a[k++]));
}

export interface GigpoInput {
  /** per trajectory: its episode group (trajectories of the same task / initial state) [B] */
  group: readonly string[];
  /** per trajectory, per step (turn): the reward r_t^(i) given after the step (the final reward on the last step) [B][T_i] */
  stepRewards: readonly (readonly number[])[];
  /** per trajectory, per step: the anchor observation s_t^(i) (the environment state the step acted in) [B][T_i] */
  anchors: readonly (readonly string[])[];
  /** γ of the step returns (Eq. 5); verl-agent algorithm.gamma 0.95 */
  gamma: number;
  /** ω: weight of the step-level advantage (Eq. 8); verl-agent step_advantage_w 1.0 */
  omega: number;
  mode?: GigpoMode;
  /** ε added to the std (core_gigpo epsilon 1e-6) */
  eps?: number;
}

export interface GigpoOutput {
  /** A^E per trajectory [B] */
  episodeAdvantages: number[];
  /** R_t^(i) per step [B][T_i] */
  stepReturns: number[][];
  /** step-level group id per step [B][T_i] */
  stepGroups: string[][];
  /** A^S per step [B][T_i] */
  stepAdvantages: number[][];
  /** A = A^E + ω·A^S per step [B][T_i] */
  advantages: number[][];
}

/**
 * GiGPO advantages (Eq. 3, 5, 6, 7, 8) from plain numbers. The episode return R(τ_i) is Σ_t r_t^(i) (the sum of the
 * trajectory's step rewards, core_gigpo: token_level_rewards.sum).
 */
export function gigpoAdvantages(inp: GigpoInput): GigpoOutput {
  const { group, stepRewards, anchors, gamma, omega } = inp;
  const mode = inp.mode ?? 'mean_std_norm', eps = inp.eps ?? 1e-6;
  const B = group.length;
  if (stepRewards.length !== B || anchors.length !== B) throw new Error(`gigpoAdvantages: group (${B}), stepRewards (${stepRewards.length}) and anchors (${anchors.length}) must have one entry per trajectory`);
  stepRewards.forEach((r, i) => { if (r.length !== anchors[i].length || r.length === 0) throw new Error(`gigpoAdvantages: trajectory ${i} has ${r.length} step rewards and ${anchors[i].length} anchors; each needs ≥ 1 step and one anchor per step`); });
  const R = stepRewards.map((r) => r.reduce((a, b) => a + b, 0));
  const episodeAdvantages = episodeRelativeAdvantages(R, group, mode, eps);
  const stepReturns = stepRewards.map((r) => stepDiscountedReturns(r, gamma));
  const stepGroups = buildStepGroups(group, anchors);
  const stepAdvantages = stepRelativeAdvantages(stepReturns, stepGroups, mode, eps);
  const advantages = stepAdvantages.map((row, i) => row.map((aS) => episodeAdvantages[i] + omega * aS));
  return { episodeAdvantages, stepReturns, stepGroups, stepAdvantages, advantages };
}
