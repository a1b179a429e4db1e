/**
 * GRPO-λ: GRPO with a dynamic length penalty chosen by Top-λ selection (Dai, Liu & Si 2025, "Stable Reinforcement
 * Learning for Efficient Reasoning", arXiv 2505.18086; docs/references.md#grpo-lambda).
 *
 * A length penalty applied to every sample makes RL shorten the chain of thought before the model can solve the
 * problems, and accuracy collapses early in training. GRPO-λ looks at each group's correctness ratio (the share of its
 * n completions that are correct) across the batch: the top-λ fraction of groups, ranked by that ratio, get the
 * length-penalised reward (the efficiency-oriented objective), every other group the plain 0/1 correctness reward
 * (the accuracy-oriented objective); a group with no correct answer is never penalised (skipUnsolved, our reading of
 * "a low correctness ratio indicates the need to avoid length penalty"). Early, few groups are solved well and training is almost pure GRPO; as accuracy
 * grows the penalty reaches more and more of the well-solved prompts. There is no step-based schedule: the
 * selection is recomputed on every batch.
 *
 * Plain-number functions (the rewards are host-side, like ./rewards.ts); the trainer (rl/step.ts) and the façade
 * (grpoLambdaRewards, re-exported by ./reference.ts) call the same code.
 *
 * The length-penalised reward, two forms (rl.grpoLambda.penalty):
 *   'efficient'  Arora & Zanette 2025, "Training Language Models to Reason Efficiently" (arXiv 2502.04463):
 *                r_i = 1{y_i correct}·(1 − α·σ((len_i − mean_c)/std_c)), mean_c / std_c = mean and population std of
 *                the lengths of the group's CORRECT completions (std_c = 0 → the normalised length is 0).
 *   'kimi' (default) Kimi k1.5 (Kimi Team 2025, arXiv 2501.12599, "length penalty"; the length penalty GRPO-λ's introduction names): len_reward_i = λ_i if correct,
 *                min(0, λ_i) if wrong, λ_i = 0.5 − (len_i − min_len)/(max_len − min_len) over the group (max = min → 0);
 *                r_i = 1{correct} + len_reward_i.
 */

export type GrpoLambdaPenalty = 'efficient' | 'kimi';
export const GRPO_LAMBDA_PENALTIES: readonly GrpoLambdaPenalty[] = ['efficient', 'kimi'];

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

/**
 * Arora & Zanette's length-penalised reward for ONE group: r_i = c_i·(1 − α·σ((len_i − mean_c)/std_c)).
 * correct: 0/1 per completion [n], lengths [n] (tokens), α ≥ 0 → rewards [n].
 */
export function efficientReasoningReward(correct: readonly number[], lengths: readonly number[], alpha: number): number[] {
  const cl = lengths.filter((_, i) => correct[i] === 1);
  const meanC = cl.length ? cl.reduce((a, b) => a + b, 0) / cl.length : 0;
  const stdC = cl.length ? Math.sqrt(cl.reduce((a, b) => a + (b - meanC) ** 2, 0) / cl.length) : 0;
  return lengths.map((len, i) => {
    if (correct[i] !== 1) return 0;
    const z = stdC > 0 ? (len - meanC) / stdC : 0;
    return 1 - alpha * sigmoid(z);
  });
}

/**
 * Kimi k1.5's length reward for ONE group (added to the 0/1 correctness): λ_i = 0.5 − (len_i − min)/(max − min),
 * len_reward_i = λ_i if correct else min(0, λ_i); all lengths equal → 0. correct [n] 0/1, lengths [n] → [n].
 */
export function kimiLengthReward(correct: readonly number[], lengths: readonly number[]): number[] {
  const minL = Math.min(...lengths), maxL = Math.max(...lengths);
  return lengths.map((len, i) => {
    if (maxL === minL) return 0;
    const lam = 0.5 - (len - minL) / (maxL - minL);
    return correct[i] === 1 ? lam : Math.min(0, lam);
  });
}

/**
 * Top-λ selection over the K groups of a batch: rank the groups by correctness ratio (descending; ties: the group
 * that comes first in the batch wins) and select the first ⌈λ·K⌉. With `skipUnsolved` (default) a group without a
 * single correct completion (ratio 0, the lowest there is: "a low correctness ratio ... triggering a switch to
 * length-agnostic 0/1 rewards", GRPO-λ abstract) is never selected, so fewer than ⌈λ·K⌉ groups may be.
 * ratios [K], λ ∈ [0, 1] → selected [K].
 */
export function topLambdaSelect(ratios: readonly number[], lambda: number, skipUnsolved = true): boolean[] {
  const K = ratios.length;
  const k = Math.min(K, Math.ceil(lambda * K - 1e-9));
  const order = ratios.map((r, i) => i).sort((a, b) => ratios[b] - ratios[a] || a - b);
  const sel = new Array<boolean>(K).fill(false);
  for (let j = 0; j < k; j++) if (!skipUnsolved || ratios[order[j]] > 0) sel[order[j]] = true;
  return sel;
}

export interface GrpoLambdaInput {
  /** 1 = the completion is correct, 0 = wrong (the 0/1 outcome reward), one per completion [B] */
  correctness: number[];
  /** completion lengths in tokens [B] */
  lengths: number[];
  /** equal ids = completions of the same prompt (one group) [B] */
  groupIds: (string | number)[];
  /** λ ∈ [0, 1]: the fraction of the batch's groups (the best by correctness ratio) that get the length penalty */
  lambda: number;
  /** the length-penalised reward: 'kimi' (Kimi k1.5, default) or 'efficient' (Arora & Zanette) */
  penalty?: GrpoLambdaPenalty;
  /** α of the 'efficient' form (default 0.2) */
  alpha?: number;
  /** never penalise a group with no correct completion (default true; false + λ = 1 = the paper's LP baseline) */
  skipUnsolved?: boolean;
}

export interface GrpoLambdaResult {
  /** the reward of each completion [B] */
  rewards: number[];
  /** whether the completion's group got the length-penalised reward [B] */
  penalised: boolean[];
  /** the correctness ratio of the completion's group [B] */
  groupRatio: number[];
  /** the length part of the reward (reward − correctness), 0 outside the selected groups [B] */
  lengthReward: number[];
  /** groups in the batch / selected */
  groups: number;
  selectedGroups: number;
}

/** α default of the 'efficient' form (config: rl.grpoLambda.alpha). */
export const GRPO_LAMBDA_ALPHA = 0.2;

/** GRPO-λ rewards of one batch (the trainer's function; grpoLambdaRewards is its façade). Checks its input. */
export function computeGrpoLambdaRewards(a: GrpoLambdaInput): GrpoLambdaResult {
  const B = a.correctness?.length;
  if (!Array.isArray(a.correctness)) throw new Error('correctness: expected an array of 0/1 values, one per completion');
  a.correctness.forEach((c, i) => { if (c !== 0 && c !== 1) throw new Error(`correctness[${i}] = ${String(c)}: must be 0 (wrong) or 1 (correct)`); });
  if (!Array.isArray(a.lengths) || a.lengths.length !== B) throw new Error(`lengths: expected ${B} values (one per completion), got ${Array.isArray(a.lengths) ? a.lengths.length : typeof a.lengths}`);
  a.lengths.forEach((l, i) => { if (typeof l !== 'number' || !Number.isFinite(l) || l < 0) throw new Error(`lengths[${i}] = ${String(l)}: must be a token count ≥ 0`); });
  if (!Array.isArray(a.groupIds) || a.groupIds.length !== B) throw new Error(`groupIds: expected ${B} ids (one per completion), got ${Array.isArray(a.groupIds) ? a.groupIds.length : typeof a.groupIds}`);
  if (typeof a.lambda !== 'number' || !(a.lambda >= 0 && a.lambda <= 1)) throw new Error(`lambda: must be a number in [0, 1] (the fraction of groups penalised), got ${String(a.lambda)}`);
  const penalty = a.penalty ?? 'kimi';
  if (!GRPO_LAMBDA_PENALTIES.includes(penalty)) throw new Error(`penalty: must be one of ${GRPO_LAMBDA_PENALTIES.join(', ')}, got ${JSON.stringify(penalty)}`);
  const alpha = a.alpha ?? GRPO_LAMBDA_ALPHA;
  if (typeof alpha !== 'number' || !(alpha >= 0)) throw new Error(`alpha: must be a number ≥ 0, got ${String(alpha)}`);
  // groups in order of first appearance
  const keyOf = (g: string | number) => `${typeof g}:${String(g)}`;
  const keys: string[] = [];
  const members = new Map<string, number[]>();
  a.groupIds.forEach((g, i) => {
    const k = keyOf(g);
    if (!members.has(k)) { members.set(k, []); keys.push(k); }
    members.get(k)!.push(i);
  });
  const ratios = keys.map((k) => { const m = members.get(k)!; return m.reduce((s, i) => s + a.correctness[i], 0) / m.length; });
  if (a.skipUnsolved !== undefined && typeof a.skipUnsolved !== 'boolean') throw new Error(`skipUnsolved: must be true or false, got ${JSON.stringify(a.skipUnsolved)}`);
  const sel = topLambdaSelect(ratios, a.lambda, a.skipUnsolved ?? true);
  const rewards = a.correctness.slice();
  const penalised = new Array<boolean>(B).fill(false);
  const groupRatio = new Array<number>(B).fill(0);
  keys.forEach((k, j) => {
    const m = members.get(k)!;
    for (const i of m) groupRatio[i] = ratios[j];
    if (!sel[j]) return;
    const c = m.map((i) => a.correctness[i]), len = m.map((i) => a.lengths[i]);
    const r = penalty === 'efficient' ? efficientReasoningReward(c, len, alpha) : kimiLengthReward(c, len).map((x, q) => c[q] + x);
    m.forEach((i, q) => { rewards[i] = r[q]; penalised[i] = true; });
  });
  return {
    rewards, penalised, groupRatio, lengthReward: rewards.map((r, i) => r - a.correctness[i]),
    groups: keys.length, selectedGroups: sel.filter(Boolean).length,
  };
}

/**
 * Façade: GRPO-λ per-completion rewards from 0/1 correctness, lengths and group ids (see computeGrpoLambdaRewards).
 * `{ correctness, lengths, groupIds, lambda, penalty?: 'kimi' | 'efficient', alpha?: 0.2, skipUnsolved?: true }` → number[] (one per completion).
 */
export function grpoLambdaRewards(a: GrpoLambdaInput): number[] {
  return computeGrpoLambdaRewards(a).rewards;
}
