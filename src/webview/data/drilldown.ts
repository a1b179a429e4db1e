/**
 * Credit drill-down: explains, with numbers that add up, how a token's advantage arose. Pure (no DOM).
 *
 * PPO (GAE), following verl `compute_gae_advantage_return` (core_algos L215–263) and `masked_whiten`
 * (verl/utils/torch_functional.py L287–339), see docs/references.md#masked-statistics, #ppo-reward, #gae:
 *   r_t   = score·[t = last valid] − β·kl_t                       (verl `apply_kl_penalty`)
 *   δ_t   = r_t + γ·V_{t+1} − V_t                                  (V past the end = 0; masked positions carry through)
 *   A_t   = Σ_k (γλ)^k δ_{t+k}  (= δ_t + γλ·A_{t+1})
 *   R_t   = A_t + V_t
 *   Â_t   = (A_t − mean) · rsqrt(var + 1e-8), mean/var (unbiased) over all valid tokens of the batch
 * Group methods (§2, §5): GRPO A_i = (r_i − mean_g)/(std_g + ε) (unbiased std, verl ε = 1e-6), Dr.GRPO A_i = r_i − mean_g,
 *   RLOO A_i = r_i − (Σ_g − r_i)/(n − 1), Reinforce-Rej A_i = r_i if std_g > 0 else 0, RAFT A_i = max(r_i, 0).
 * DPO (§6, TRL dpo_trainer L1397–1435): implicit reward β·Σ_t(log π − log π_ref); δ = r_c − r_r (in β units); loss −log σ(δ).
 * GiGPO (arXiv 2505.10978, src/trainer/algorithms/gigpo.ts): a policy token of turn t gets A = A^E + ω·A^S_t, A^E from
 *   the episode group's returns R(τ) (Eq. 3), A^S from the discounted step returns R_t = Σ_k γ^k r_{t+k} of the turns
 *   that acted in the same anchor state (Eq. 5–7); r_t = the turn's reward, the final reward added on the last turn.
 * Rollout trees (Tree-GRPO, ARPO): a token of a shared prefix is in every trajectory through it (src/webview/data/tree.ts);
 *   Tree-GRPO's advantage = intra-tree (the tree's leaves) + inter-tree (every leaf of the prompt), each (R − mean)/(std + ε).
 */
import { meanStd, sampleArray, sampleMask, type StepData } from './step';
import { shortText } from './sampleFilter';
import { anchorText, sampleTurns, turnOfToken, type TurnRow } from './turns';
import { buildTrees, nodeOfToken, sampleTree, type RolloutTree } from './tree';

// ---------------------------------------------------------------- PPO

/** verl apply_kl_penalty: per-token reward r_t = score at the last valid token − β·kl_t·m_t. Shapes: kl, mask [T]. */
export function klPenalizedTokenReward(score: number, kl: ArrayLike<number>, mask: ArrayLike<number>, beta: number): Float64Array {
  const T = mask.length;
  const r = new Float64Array(T);
  let last = -1;
  for (let t = 0; t < T; t++) if (mask[t] > 0) last = t;
  for (let t = 0; t < T; t++) r[t] = -beta * (Number(kl[t]) || 0) * (mask[t] > 0 ? 1 : 0) + (t === last ? score : 0);
  return r;
}

/** TD residuals δ_t = r_t + γ·V_{t+1} − V_t with verl's mask carry-through (next V = value of the next valid token). [T] */
export function tdResiduals(r: ArrayLike<number>, v: ArrayLike<number>, mask: ArrayLike<number>, gamma: number): Float64Array {
  const T = r.length;
  const d = new Float64Array(T);
  let nextV = 0;
  for (let t = T - 1; t >= 0; t--) {
    d[t] = r[t] + gamma * nextV - v[t];
    if (mask[t] > 0) nextV = v[t];
  }
  return d;
}

/** GAE (verl compute_gae_advantage_return, before whitening): A_t = δ_t + γλ·A_{t+1} on valid tokens; returns R = A + V. [T] */
export function gae(r: ArrayLike<number>, v: ArrayLike<number>, mask: ArrayLike<number>, gamma: number, lambda: number): { advantages: Float64Array; returns: Float64Array; deltas: Float64Array } {
  const T = r.length;
  const deltas = tdResiduals(r, v, mask, gamma);
  const adv = new Float64Array(T), ret = new Float64Array(T);
  let last = 0;
  for (let t = T - 1; t >= 0; t--) {
    const cand = deltas[t] + gamma * lambda * last;
    if (mask[t] > 0) last = cand;
    adv[t] = last;
    ret[t] = last + v[t];
  }
  return { advantages: adv, returns: ret, deltas };
}

/** The terms of A_t = Σ_k (γλ)^k δ_{t+k} over the valid tokens from t on (k counts valid tokens). */
export function gaeTerms(deltas: ArrayLike<number>, mask: ArrayLike<number>, t: number, gamma: number, lambda: number): { position: number; weight: number; delta: number; contribution: number }[] {
  const out: { position: number; weight: number; delta: number; contribution: number }[] = [];
  let k = 0;
  for (let j = t; j < deltas.length; j++) {
    if (!(mask[j] > 0)) continue;
    const w = Math.pow(gamma * lambda, k++);
    out.push({ position: j, weight: w, delta: deltas[j], contribution: w * deltas[j] });
  }
  return out;
}

/** verl masked_whiten statistics: mean = Σx·m/(Σm + 1e-8); var unbiased (× N/(N−1)); Â = (x − mean)·rsqrt(var + 1e-8). */
export function maskedWhitenStats(xs: ArrayLike<number>[], masks: ArrayLike<number>[]): { mean: number; variance: number; count: number } {
  let s = 0, n = 0;
  xs.forEach((x, i) => { for (let t = 0; t < x.length; t++) if (masks[i][t] > 0) { s += x[t]; n++; } });
  const mean = s / (n + 1e-8);
  let ss = 0;
  xs.forEach((x, i) => { for (let t = 0; t < x.length; t++) if (masks[i][t] > 0) ss += (x[t] - mean) ** 2; });
  const biased = ss / (n + 1e-8);
  const variance = n > 1 ? biased * (n / (n - 1)) : biased;
  return { mean, variance, count: n };
}

export function whiten(x: number, stats: { mean: number; variance: number }): number {
  return (x - stats.mean) / Math.sqrt(stats.variance + 1e-8);
}

// ---------------------------------------------------------------- group methods

export type OutcomeEstimator = 'grpo' | 'dr_grpo' | 'rloo' | 'reinforce_rej' | 'raft';

export function estimatorFor(algorithm: string): OutcomeEstimator | undefined {
  switch (algorithm) {
    case 'grpo': case 'dapo': case 'gspo': case 'gmpo': return 'grpo';
    case 'dr_grpo': return 'dr_grpo';
    case 'rloo': return 'rloo';
    case 'reinforce_rej': return 'reinforce_rej';
    case 'raft': case 'raft_pp': return 'raft';
    default: return undefined;
  }
}

export interface GroupAdvantage {
  estimator: OutcomeEstimator;
  rewards: number[];
  mean: number;
  std: number;
  /** what is subtracted from r_i */
  baseline: number;
  /** what (r_i − baseline) is divided by (1 when none) */
  scale: number;
  advantage: number;
  /** z-score of the sample in its group (r_i − mean)/std, NaN if std = 0 */
  z: number;
  /** rank of the sample's reward in the group, 1 = best */
  rank: number;
  formula: string;
}

/** Outcome advantage of member `i` of a group with rewards `rewards` (one function for the five estimators above). */
export function groupAdvantage(estimator: OutcomeEstimator, rewards: number[], i: number, eps = 1e-6): GroupAdvantage {
  const n = rewards.length;
  const st = meanStd(rewards);
  const std = n > 1 ? st.stdUnbiased : 1; // verl: a group of size 1 gets mean 0, std 1
  const mean = n > 1 ? st.mean : 0;
  const r = rewards[i];
  const rank = 1 + rewards.filter((x) => x > r).length;
  const z = std > 0 ? (r - mean) / std : NaN;
  let baseline = mean, scale = 1, advantage: number, formula: string;
  switch (estimator) {
    case 'grpo': scale = std + eps; advantage = (r - mean) / scale; formula = `(r − mean) / (std + ${eps})`; break;
    case 'dr_grpo': advantage = r - mean; formula = 'r − mean (no std division)'; break;
    case 'rloo': baseline = n > 1 ? (st.mean * n - r) / (n - 1) : 0; advantage = r - baseline; formula = 'r − mean of the other n−1 rewards'; break;
    case 'reinforce_rej': baseline = 0; advantage = st.stdUnbiased > 0 ? r : 0; formula = st.stdUnbiased > 0 ? 'r (group kept: std > 0)' : '0 (group rejected: all rewards equal)'; break;
    case 'raft': baseline = 0; advantage = Math.max(r, 0); formula = 'max(r, 0)'; break;
  }
  return { estimator, rewards, mean: st.mean, std: st.stdUnbiased, baseline, scale, advantage, z, rank, formula };
}

// ---------------------------------------------------------------- DPO

/** Implicit reward of a completion: β·Σ_t m_t (log π − log π_ref). */
export function implicitReward(logp: ArrayLike<number>, refLogp: ArrayLike<number>, mask: ArrayLike<number>, beta: number): number {
  let s = 0;
  for (let t = 0; t < logp.length; t++) if (mask[t] > 0) s += logp[t] - refLogp[t];
  return beta * s;
}

/** DPO sigmoid loss −log σ(r_c − r_r) for implicit rewards already scaled by β. */
export function dpoLoss(rChosen: number, rRejected: number): number {
  const x = rChosen - rRejected;
  // −log σ(x) = log(1 + e^{−x}), stable
  return x > 0 ? Math.log1p(Math.exp(-x)) : -x + Math.log1p(Math.exp(x));
}

// ---------------------------------------------------------------- drill-down for a pinned token

export interface Check { label: string; computed: number; stored: number; ok: boolean }
export interface DrillLine { label: string; value: number | string; note?: string }
export interface DrillTable { id: string; title: string; columns: string[]; rows: (number | string)[][]; self?: number[] }
export interface DrillDown {
  kind: 'ppo' | 'group' | 'dpo' | 'token' | 'gigpo' | 'tree';
  title: string;
  lines: DrillLine[];
  /** GAE terms (PPO) */
  terms?: { position: number; weight: number; delta: number; contribution: number }[];
  /** group members (group methods) */
  group?: { sample: number; reward: number; advantage: number; self: boolean }[];
  /** further tables: GiGPO's step group, a tree's leaves, the trajectories that share a token */
  tables?: DrillTable[];
  checks: Check[];
}

const close = (a: number, b: number, tol: number) => Math.abs(a - b) <= tol * Math.max(1, Math.abs(a), Math.abs(b));

function num(x: unknown, d: number): number { return typeof x === 'number' && Number.isFinite(x) ? x : d; }

/** Pick what to explain for token t of sample i, by the step's algorithm and stored arrays. Tolerance for checks: 1e-3
 *  relative (float32 storage). A token masked out of the loss (an environment token: a tool's output) is explained as
 *  such first, for every method; the method's numbers follow as what the trajectory's policy tokens got. */
export function drillDown(step: StepData, i: number, t: number): DrillDown {
  return environmentFirst(step, i, t, methodDrill(step, i, t));
}

const METHOD_NAME: Record<DrillDown['kind'], string> = { ppo: 'PPO', group: '', dpo: 'DPO', token: 'Token', gigpo: 'GiGPO', tree: 'Tree-GRPO' };

/**
 * An environment token's drill-down (loss mask 0): it leads with whose the token is — the environment's (the tool
 * output of turn k) — and that it gets no gradient, no advantage and no KL; then what the policy tokens around it got;
 * then the method's numbers, labelled as the trajectory's policy tokens' (not this token's). Policy tokens: unchanged.
 */
function environmentFirst(step: StepData, i: number, t: number, dd: DrillDown): DrillDown {
  const mask = sampleMask(step, i);
  if (!(t >= 0 && t < mask.length) || mask[t] > 0) return dd;
  const s = step.samples[i];
  const turns = sampleTurns(s);
  const where = turnOfToken(turns, t);
  const name = dd.kind === 'group' ? dd.title.split(' ')[0] : METHOD_NAME[dd.kind];
  let whose: string, env = false;
  if (where?.part === 'environment') {
    const tr = turns[where.turn];
    env = true;
    whose = `the environment's: tool result ${JSON.stringify(tr.result ?? tr.error ?? '')} of turn ${where.turn}${tr.call !== undefined ? ` (after the call ${JSON.stringify(`?${tr.call}=`)})` : ''}`;
  } else if (turns.length) whose = where ? `masked out of the loss (in turn ${where.turn}'s policy span)` : 'outside every turn, masked out of the loss';
  else { env = sampleTree(s) !== undefined; whose = env ? 'the environment\'s (a tool output: loss mask 0)' : 'masked out of the loss (loss mask 0)'; }
  const lead: DrillLine[] = [
    { label: `token ${t} of sample ${i} is`, value: whose, note: 'loss mask 0' },
    { label: 'its gradient / advantage / KL', value: 'none', note: 'the policy did not write this token: the loss skips it (no policy gradient, no advantage, no KL penalty)' },
  ];
  // what the policy tokens around it got (stored token advantages), the nearest one on each side
  const tokAdv = sampleArray(step, i, 'advantage');
  if (tokAdv) {
    let a = -1, b = -1;
    for (let k = t - 1; k >= 0; k--) if (mask[k] > 0) { a = k; break; }
    for (let k = t + 1; k < mask.length; k++) if (mask[k] > 0) { b = k; break; }
    const parts = [a, b].filter((k) => k >= 0).map((k) => `token ${k}: A ${fmtN(tokAdv[k])}`);
    if (parts.length) lead.push({ label: 'the policy tokens around it got', value: parts.join(' · '), note: a >= 0 && b >= 0 ? 'the nearest policy token before and after' : 'the nearest policy token' });
  }
  if (dd.lines.length) lead.push({ label: dd.kind === 'ppo' ? `below: ${name}'s numbers at this position` : `below: how ${name} credited this trajectory's policy tokens`, value: '', note: dd.kind === 'ppo' ? 'not used by the loss for this token' : 'not this token' });
  const checks = dd.checks.some((c) => /masked out of the loss/.test(c.label)) ? dd.checks
    : [...dd.checks, { label: `token ${t} is masked out of the loss (mask 0)`, computed: 0, stored: mask[t], ok: mask[t] === 0 }];
  return { ...dd, title: `${name}: token ${t} of sample ${i} is ${env ? 'the environment\'s (tool output)' : 'masked out of the loss'}`, lines: [...lead, ...dd.lines], checks };
}

function methodDrill(step: StepData, i: number, t: number): DrillDown {
  const s = step.samples[i];
  const p = step.header.params ?? {};
  const alg = String(step.header.algorithm ?? '');
  const has = (n: string) => step.header.arrays.includes(n);
  const tol = 1e-3;
  if (s.role && s.pair !== undefined && has('logprob') && has('ref_logprob')) return dpoDrill(step, i, t, num(p.beta, 0.1), tol);
  // the advantage estimator the trainer names in the step params (RL Lens trainer: params.advantage), else by algorithm
  const advKind = typeof p.advantage === 'string' ? p.advantage : undefined;
  const gaeRun = advKind === 'gae' || (!advKind && (alg === 'ppo' || !estimatorFor(alg)));
  if (has('value') && has('token_reward') && gaeRun) return ppoDrill(step, i, t, num(p.gamma, 1), num(p.lambda, 1), num(p.beta ?? p.klCoef, 0), tol);
  const eps = num(p.advEps ?? p.eps ?? p.stdEps, 1e-6);
  // multi-turn episodes (issue 20): GiGPO's two levels of groups; a rollout tree's intra- / inter-tree advantages
  if ((advKind === 'gigpo' || alg === 'gigpo') && sampleTurns(s).length) return gigpoDrill(step, i, t, { omega: num(p.gigpoOmega, 1), gamma: num(p.gigpoGamma, 1), mode: p.gigpoMode === 'mean_norm' ? 'mean_norm' : 'mean_std_norm', eps }, tol);
  const tree = sampleTree(s);
  if (tree && (tree.advIntra !== undefined || tree.advInter !== undefined || /tree/.test(advKind ?? alg))) return treeDrill(step, i, t, eps, tol);
  const est = (advKind ? estimatorFor(advKind) : undefined) ?? estimatorFor(alg);
  // ARPO (and any group method on a tree): the sample's group advantage, plus where the token sits in its tree
  if (est) return withTree(step, i, t, groupDrill(step, i, t, est, eps, tol));
  const adv = sampleArray(step, i, 'advantage');
  return withTree(step, i, t, { kind: 'token', title: `Token ${t}`, lines: [{ label: 'advantage', value: adv ? adv[t] : NaN }], checks: [] });
}

function ppoDrill(step: StepData, i: number, t: number, gamma: number, lambda: number, beta: number, tol: number): DrillDown {
  const s = step.samples[i];
  const r = sampleArray(step, i, 'token_reward')!, v = sampleArray(step, i, 'value')!;
  const m = sampleMask(step, i);
  const { advantages, returns, deltas } = gae(r, v, m, gamma, lambda);
  const terms = gaeTerms(deltas, m, t, gamma, lambda);
  const sum = terms.reduce((a, x) => a + x.contribution, 0);
  // whitening statistics over the whole step (all samples, valid tokens)
  const allA: Float64Array[] = [], allM: Float32Array[] = [];
  for (let j = 0; j < step.samples.length; j++) {
    const rj = sampleArray(step, j, 'token_reward'), vj = sampleArray(step, j, 'value');
    if (!rj || !vj) continue;
    const mj = sampleMask(step, j);
    allA.push(gae(rj, vj, mj, gamma, lambda).advantages); allM.push(mj);
  }
  const ws = maskedWhitenStats(allA, allM);
  const white = whiten(advantages[t], ws);
  const kl = sampleArray(step, i, 'kl');
  const lastValid = (() => { let l = -1; for (let k = 0; k < m.length; k++) if (m[k] > 0) l = k; return l; })();
  const checks: Check[] = [
    { label: 'A_t = Σ (γλ)^k δ_{t+k}', computed: sum, stored: advantages[t], ok: close(sum, advantages[t], 1e-9) },
  ];
  const storedAdv = sampleArray(step, i, 'advantage'), storedRet = sampleArray(step, i, 'return');
  if (storedRet) checks.push({ label: 'return R_t = A_t + V_t', computed: returns[t], stored: storedRet[t], ok: close(returns[t], storedRet[t], tol) });
  if (storedAdv) checks.push({ label: 'whitened Â_t (stored advantage)', computed: white, stored: storedAdv[t], ok: close(white, storedAdv[t], tol) });
  if (kl && beta > 0) {
    const rr = klPenalizedTokenReward(s.reward, kl, m, beta);
    checks.push({ label: 'r_t = score·[last] − β·kl_t', computed: rr[t], stored: r[t], ok: close(rr[t], r[t], tol) });
  }
  return {
    kind: 'ppo', title: `PPO credit for token ${t} of sample ${i}`,
    lines: [
      { label: 'score (sequence reward)', value: s.reward, note: lastValid === t ? 'placed on this token (last valid)' : `placed on token ${lastValid}` },
      { label: 'β (KL coef)', value: beta }, { label: 'kl_t', value: kl ? kl[t] : NaN },
      { label: 'r_t token reward', value: r[t] },
      { label: 'V_t', value: v[t] }, { label: 'V_{t+1}', value: t + 1 < v.length ? v[t + 1] : 0, note: t + 1 < v.length ? '' : 'past the end: 0' },
      { label: 'γ, λ', value: `${gamma}, ${lambda}` },
      { label: 'δ_t = r_t + γV_{t+1} − V_t', value: deltas[t] },
      { label: 'A_t = Σ (γλ)^k δ_{t+k}', value: sum, note: `${terms.length} terms` },
      { label: 'whitening mean / std (step)', value: `${ws.mean.toPrecision(5)} / ${Math.sqrt(ws.variance + 1e-8).toPrecision(5)}`, note: `${ws.count} valid tokens` },
      { label: 'Â_t = (A_t − mean)/std', value: white },
    ],
    terms, checks,
  };
}

/** The group as a user knows it: its prompt on one line (shortened), not the internal id ("prompt 8+6=") */
function groupName(prompt: string | undefined, id: string): string {
  const p = shortText(prompt ?? '', 40);
  return p ? `prompt ${p}` : `group ${id}`;
}

function groupDrill(step: StepData, i: number, t: number, est: OutcomeEstimator, eps: number, tol: number): DrillDown {
  const s = step.samples[i];
  const g = step.header.groups.find((x) => x.id === s.group);
  const members = g ? g.samples : step.samples.map((x, j) => (x.group === s.group ? j : -1)).filter((j) => j >= 0);
  // the estimator's input: the stored scores when they differ from the rewards (KL in the reward), else the rewards
  const scores = g?.scores && g.scores.length === members.length ? g.scores : undefined;
  const rewards = scores ?? members.map((j) => step.samples[j].reward);
  const me = members.indexOf(i);
  const ga = groupAdvantage(est, rewards, me, eps);
  const tokAdv = sampleArray(step, i, 'advantage');
  const checks: Check[] = [];
  const storedBaseline = g?.baselines?.[me] ?? g?.baseline;
  if (storedBaseline !== undefined && (est === 'grpo' || est === 'dr_grpo' || est === 'rloo')) checks.push({ label: 'baseline (stored)', computed: ga.baseline, stored: storedBaseline, ok: close(ga.baseline, storedBaseline, tol) });
  if (typeof s.advantage === 'number') checks.push({ label: `sequence advantage ${ga.formula}`, computed: ga.advantage, stored: s.advantage, ok: close(ga.advantage, s.advantage, tol) });
  // a token masked out of the loss (a multi-turn episode's environment token) gets no advantage
  const masked = sampleMask(step, i)[t] <= 0;
  if (tokAdv && !masked) checks.push({ label: `token ${t} advantage = sequence advantage (broadcast)`, computed: ga.advantage, stored: tokAdv[t], ok: close(ga.advantage, tokAdv[t], tol) });
  if (g && Number.isFinite(g.mean) && !scores) checks.push({ label: 'group mean (stored)', computed: ga.mean, stored: g.mean, ok: close(ga.mean, g.mean, tol) });
  return {
    kind: 'group', title: `${est.toUpperCase()} credit for sample ${i} (${groupName(g?.prompt, s.group)})`,
    lines: [
      { label: 'reward r_i', value: s.reward },
      ...(scores ? [{ label: 'score s_i = r_i − β·Σ_t KL_t (the estimator\'s input)', value: rewards[me] } as DrillLine] : []),
      { label: 'group size n', value: rewards.length },
      { label: 'group mean', value: ga.mean }, { label: 'group std (unbiased)', value: ga.std },
      { label: 'baseline', value: ga.baseline }, { label: 'scale', value: ga.scale },
      { label: 'z-score (r − mean)/std', value: ga.z }, { label: 'rank in group', value: `${ga.rank} of ${rewards.length}` },
      { label: `advantage = ${ga.formula}`, value: ga.advantage },
      ...(g?.filtered ? [{ label: 'group filtered', value: g.filterReason ?? 'yes', note: 'no gradient from this group' } as DrillLine] : []),
    ],
    group: members.map((j, k) => ({ sample: j, reward: rewards[k], advantage: groupAdvantage(est, rewards, k, eps).advantage, self: j === i })),
    checks,
  };
}

function dpoDrill(step: StepData, i: number, t: number, beta: number, tol: number): DrillDown {
  const s = step.samples[i];
  const mateIdx = step.samples.findIndex((x, j) => j !== i && x.pair === s.pair);
  const chosenIdx = s.role === 'chosen' || s.role === 'desirable' ? i : mateIdx;
  const rejectedIdx = chosenIdx === i ? mateIdx : i;
  const ir = (j: number) => j < 0 ? NaN : implicitReward(sampleArray(step, j, 'logprob')!, sampleArray(step, j, 'ref_logprob')!, sampleMask(step, j), beta);
  const rc = ir(chosenIdx), rr = ir(rejectedIdx);
  const lp = sampleArray(step, i, 'logprob')!, ref = sampleArray(step, i, 'ref_logprob')!;
  const tokIr = sampleArray(step, i, 'implicit_reward');
  const checks: Check[] = [];
  if (tokIr) {
    let sum = 0; const m = sampleMask(step, i);
    for (let k = 0; k < tokIr.length; k++) if (m[k] > 0) sum += tokIr[k];
    checks.push({ label: 'Σ_t stored implicit_reward = β·Σ(log π − log π_ref)', computed: ir(i), stored: sum, ok: close(ir(i), sum, tol) });
    checks.push({ label: `token ${t}: β·(log π − log π_ref)`, computed: beta * (lp[t] - ref[t]), stored: tokIr[t], ok: close(beta * (lp[t] - ref[t]), tokIr[t], tol) });
  }
  return {
    kind: 'dpo', title: `DPO implicit reward, pair ${s.pair} (this sample: ${s.role})`,
    lines: [
      { label: 'β', value: beta },
      { label: `token ${t}: β·(log π − log π_ref)`, value: beta * (lp[t] - ref[t]) },
      { label: `chosen r_c = β·Σ(log π − log π_ref) (sample ${chosenIdx})`, value: rc },
      { label: `rejected r_r (sample ${rejectedIdx})`, value: rr },
      { label: 'margin r_c − r_r', value: rc - rr },
      { label: 'loss −log σ(r_c − r_r)', value: dpoLoss(rc, rr) },
    ],
    checks,
  };
}

// ---------------------------------------------------------------- multi-turn episodes: GiGPO, rollout trees

export type NormMode = 'mean_std_norm' | 'mean_norm';

/**
 * Group-relative normalisation of member k of `values` (GiGPO Eq. 3 / 7, Tree-GRPO): (v − mean) / (std + ε) with the
 * unbiased std (mean_std_norm), or v − mean (mean_norm). A group of one: mean 0 (`singleton` 'zero', episode groups,
 * as verl) or its own value ('self', GiGPO step groups: A^S = 0), std 1.
 */
export function normalised(values: readonly number[], k: number, mode: NormMode, eps: number, singleton: 'zero' | 'self'): { mean: number; std: number; value: number } {
  const n = values.length;
  const st = meanStd(values as number[]);
  const mean = n > 1 ? st.mean : singleton === 'zero' ? 0 : values[k];
  const std = n > 1 ? st.stdUnbiased : 1;
  const value = mode === 'mean_norm' ? values[k] - mean : (values[k] - mean) / (std + eps);
  return { mean, std, value };
}

/** GiGPO's step rewards of an episode: r_t = the turn's reward, and the final reward (the episode's return minus
 *  the per-turn rewards) added on the last turn (src/trainer/rl/gigpo.ts). */
export function gigpoStepRewards(turnRewards: readonly number[], episodeReturn: number): number[] {
  const r = turnRewards.map((x) => (Number.isFinite(x) ? x : 0));
  if (r.length) r[r.length - 1] += episodeReturn - r.reduce((a, b) => a + b, 0);
  return r;
}

/** Eq. 5: R_t = Σ_{k≥t} γ^{k−t} r_k (written as the closed sum, not the recursion the trainer uses). */
export function discountedReturns(r: readonly number[], gamma: number): number[] {
  return r.map((_, t) => r.slice(t).reduce((a, x, k) => a + Math.pow(gamma, k) * x, 0));
}

function membersOf(step: StepData, group: string): number[] {
  const g = step.header.groups.find((x) => x.id === group);
  return g ? g.samples.filter((j) => j >= 0 && j < step.samples.length) : step.samples.map((x, j) => (x.group === group ? j : -1)).filter((j) => j >= 0);
}

function gigpoDrill(step: StepData, i: number, t: number, o: { omega: number; gamma: number; mode: NormMode; eps: number }, tol: number): DrillDown {
  const s = step.samples[i];
  const turns = sampleTurns(s);
  const g = step.header.groups.find((x) => x.id === s.group);
  const members = membersOf(step, s.group);
  const R = members.map((j) => step.samples[j].reward);
  const me = members.indexOf(i);
  const ep = normalised(R, me, o.mode, o.eps, 'zero');
  const formula = o.mode === 'mean_norm' ? 'R − mean' : '(R − mean) / (std + ε)';
  const tokAdv = sampleArray(step, i, 'advantage');
  const mask = sampleMask(step, i);
  const checks: Check[] = [];
  if (typeof s.advantage === 'number') checks.push({ label: `A^E = ${formula} (stored sequence advantage)`, computed: ep.value, stored: s.advantage, ok: close(ep.value, s.advantage, tol) });
  const where = turnOfToken(turns, t);
  const lines: DrillLine[] = [
    { label: 'episode return R(τ) (final + per-turn rewards)', value: s.reward },
    { label: 'episode group size n', value: R.length, note: groupName(g?.prompt, s.group) },
    { label: 'episode group mean / std (unbiased)', value: `${fmtN(ep.mean)} / ${fmtN(ep.std)}` },
    { label: `A^E = ${formula}`, value: ep.value },
  ];
  const group = members.map((j, k) => ({ sample: j, reward: R[k], advantage: normalised(R, k, o.mode, o.eps, 'zero').value, self: j === i }));
  if (!where || where.part === 'environment') {
    // the lead (whose token, no gradient / advantage / KL) is drillDown's environmentFirst, as for every method
    if (tokAdv && mask[t] <= 0) checks.push({ label: `token ${t} is masked out of the loss (mask 0)`, computed: 0, stored: mask[t], ok: mask[t] === 0 });
    if (mask[t] > 0) {
      // in the loss but in no turn's span (e.g. a closing token after the last turn): its stored advantage
      lines.unshift({ label: `token ${t}`, value: 'outside every turn, in the loss', note: tokAdv ? `stored advantage ${fmtN(tokAdv[t])}` : '' });
      return { kind: 'gigpo', title: `GiGPO credit for token ${t} of sample ${i} (outside every turn)`, lines, group, checks };
    }
    return { kind: 'gigpo', title: `GiGPO: token ${t} of sample ${i} is the environment's`, lines, group, checks };
  }
  const turn = turns[where.turn];
  // the step-level group: every turn of the episode group that acted in the same anchor state (Eq. 6)
  const same = (u: TurnRow) => (turn.anchor !== undefined ? u.anchor === turn.anchor : turn.stepGroup !== undefined && u.stepGroup === turn.stepGroup);
  const stepMembers: { sample: number; turn: TurnRow; ret: number }[] = [];
  for (const j of members) {
    const tj = sampleTurns(step.samples[j]);
    const rets = discountedReturns(gigpoStepRewards(tj.map((u) => u.reward), step.samples[j].reward), o.gamma);
    tj.forEach((u, k) => { if (same(u)) stepMembers.push({ sample: j, turn: u, ret: rets[k] }); });
  }
  const self = stepMembers.findIndex((m) => m.sample === i && m.turn.index === turn.index);
  const rets = stepMembers.map((m) => m.ret);
  const st = normalised(rets, Math.max(0, self), o.mode, o.eps, 'self');
  const A = ep.value + o.omega * st.value;
  if (turn.stepReturn !== undefined) checks.push({ label: `step return R_t = Σ γ^k r_{t+k} (turn ${turn.index})`, computed: rets[self], stored: turn.stepReturn, ok: close(rets[self], turn.stepReturn, tol) });
  if (turn.stepGroup !== undefined) {
    const byId = members.reduce((a, j) => a + sampleTurns(step.samples[j]).filter((u) => u.stepGroup === turn.stepGroup).length, 0);
    checks.push({ label: `step group ${turn.stepGroup}: members with the same anchor state = members with the stored id`, computed: stepMembers.length, stored: byId, ok: stepMembers.length === byId });
  }
  if (turn.episodeAdvantage !== undefined) checks.push({ label: 'A^E (stored on the turn)', computed: ep.value, stored: turn.episodeAdvantage, ok: close(ep.value, turn.episodeAdvantage, tol) });
  if (turn.stepAdvantage !== undefined) checks.push({ label: `A^S = ${formula} over the step group`, computed: st.value, stored: turn.stepAdvantage, ok: close(st.value, turn.stepAdvantage, tol) });
  if (turn.advantage !== undefined) checks.push({ label: 'A = A^E + ω·A^S (stored on the turn)', computed: A, stored: turn.advantage, ok: close(A, turn.advantage, tol) });
  if (tokAdv) checks.push({ label: `token ${t} advantage = the turn's A`, computed: A, stored: tokAdv[t], ok: close(A, tokAdv[t], tol) });
  lines.unshift({ label: `token ${t}`, value: `policy, turn ${turn.index} (tokens ${turn.start}–${turn.end - 1})`, note: turn.call !== undefined ? `called ${JSON.stringify(`?${turn.call}=`)}` : 'no tool call' });
  lines.push(
    { label: 'anchor state s_t (prompt → tool outputs so far)', value: turn.anchor !== undefined ? anchorText(turn.anchor) : '(not stored)' },
    { label: 'step group', value: turn.stepGroup ?? '(by anchor state)', note: `${stepMembers.length} turn(s) acted in this state${stepMembers.length === 1 ? ': a group of one, A^S = 0' : ''}` },
    { label: `step return R_t (γ = ${o.gamma})`, value: rets[self] },
    { label: 'step group mean / std (unbiased)', value: `${fmtN(st.mean)} / ${fmtN(st.std)}` },
    { label: `A^S = ${formula}`, value: st.value },
    { label: 'ω', value: o.omega },
    { label: 'A = A^E + ω·A^S', value: A, note: 'every policy token of the turn gets it' },
  );
  return {
    kind: 'gigpo', title: `GiGPO credit for token ${t} of sample ${i} (turn ${turn.index})`, lines, group,
    tables: [{ id: 'step-group', title: `Step group${turn.stepGroup ? ` ${turn.stepGroup}` : ''}: the turns that acted in the same anchor state`,
      columns: ['sample', 'turn', 'R_t', 'A^S'],
      rows: stepMembers.map((m, k) => [`#${m.sample}`, m.turn.index, m.ret, normalised(rets, k, o.mode, o.eps, 'self').value]), self: self >= 0 ? [self] : [] }],
    checks,
  };
}

const fmtN = (x: number) => (Number.isFinite(x) ? Number(x.toPrecision(5)).toString() : String(x));

/** The tree of sample i among its group's trees (undefined when it has none). */
function treeOf(step: StepData, i: number): { tree: RolloutTree; all: RolloutTree[] } | undefined {
  const s = step.samples[i];
  if (!sampleTree(s)) return undefined;
  const all = buildTrees(step.samples, membersOf(step, s.group));
  const tree = all.find((x) => x.samples.includes(i));
  return tree ? { tree, all } : undefined;
}

/** Where token t of sample i sits in its tree: the trajectories sharing it (each trains it with its own advantage). */
function sharingLines(step: StepData, i: number, t: number, tree: RolloutTree): { lines: DrillLine[]; table: DrillTable } {
  const n = nodeOfToken(tree, i, t);
  const sharing = n ? n.samples : [i];
  const info = sampleTree(step.samples[i])!;
  const advOf = (j: number) => { const x = step.samples[j].advantage; return typeof x === 'number' ? x : NaN; };
  const lines: DrillLine[] = [
    { label: 'rollout tree', value: tree.id, note: `${tree.leaves} trajector${tree.leaves === 1 ? 'y' : 'ies'}, ${tree.branchPoints} branch point(s)` },
    { label: 'this trajectory', value: info.parent === null ? 'the root trajectory' : `branched from sample ${info.parent} at token ${info.branchAt}${info.branchTurn !== undefined ? ` (turn ${info.branchTurn})` : ''}`, note: info.node ? `node ${info.node}` : '' },
    { label: `token ${t}: trajectories that share it`, value: sharing.length, note: sharing.length > 1 ? `a shared prefix: trained once in each of ${sharing.length} rows (${sharing.map((j) => `#${j}`).join(', ')}), each with its own advantage` : 'only this trajectory' },
  ];
  if (sharing.length > 1) {
    const advs = sharing.map(advOf);
    if (advs.every(Number.isFinite)) lines.push({ label: 'Σ advantages over those rows', value: advs.reduce((a, b) => a + b, 0), note: 'what the token\'s log-prob gradient is weighted by in total (token-sum)' });
  }
  return {
    lines,
    table: { id: 'sharing', title: `Trajectories through token ${t}`, columns: ['sample', 'reward', 'advantage', 'branched at'],
      rows: sharing.map((j) => { const x = sampleTree(step.samples[j]); return [`#${j}`, step.samples[j].reward, advOf(j), x && x.parent !== null ? `token ${x.branchAt} of #${x.parent}` : 'root']; }),
      self: [sharing.indexOf(i)] },
  };
}

/** ARPO's branch numbers of a sample, when it branched (entropy rise after a tool result vs the threshold). */
function arpoLines(step: StepData, i: number): DrillLine[] {
  const x = sampleTree(step.samples[i]);
  if (!x || x.parent === null) return [];
  const p = step.header.params ?? {};
  const thr = x.threshold ?? (typeof p.arpoTau === 'number' ? p.arpoTau : typeof p.arpoThreshold === 'number' ? p.arpoThreshold : undefined);
  const out: DrillLine[] = [];
  if (x.entropy !== undefined) out.push({ label: 'ARPO: entropy H_t after the tool result', value: x.entropy, note: x.entropyInitial !== undefined ? `initial H ${fmtN(x.entropyInitial)}` : '' });
  if (x.entropyDelta !== undefined) out.push({ label: 'ARPO: normalised entropy rise ΔH', value: x.entropyDelta });
  if (x.branchProb !== undefined) {
    // P_t = α + β·ΔH_t: α is drawn per decision (the ARPO code) unless rl.arpo.alpha fixes it, so P_t differs between
    // branches with the same ΔH; α is shown (as the tree view does) when the trainer stored it
    const a = x.alpha;
    const split = a !== undefined ? `= α ${fmtN(a)} + β·ΔH ${fmtN(x.branchProb - a)}` : 'α not stored: P_t cannot be split into α and β·ΔH';
    const vs = thr !== undefined ? `vs τ, threshold ${fmtN(thr)}: ${x.branchProb > thr ? 'above, branched' : 'not above'}` : '';
    out.push({ label: 'ARPO: branch probability P_t = α + β·ΔH_t vs τ', value: x.branchProb, note: [split, vs].filter(Boolean).join(' · ') });
    if (a !== undefined) out.push({ label: 'ARPO: α (this decision)', value: a, note: 'drawn per decision unless rl.arpo.alpha fixes it' });
  }
  return out;
}

/** A group drill-down (ARPO: the sample's GRPO advantage) plus the token's place in its rollout tree. */
function withTree(step: StepData, i: number, t: number, dd: DrillDown): DrillDown {
  const tr = treeOf(step, i);
  if (!tr) return dd;
  const sh = sharingLines(step, i, t, tr.tree);
  let checks = dd.checks;
  const tokAdv = sampleArray(step, i, 'advantage');
  if (step.header.params?.arpoAttribution === 'hard' && dd.group && tokAdv && sampleMask(step, i)[t] > 0) {
    // ARPO hard attribution (§3.2): a token shared by d trajectories gets the mean of their advantages Â
    const sharing = nodeOfToken(tr.tree, i, t)?.samples ?? [i];
    const adv = sharing.map((j) => dd.group!.find((m) => m.sample === j)?.advantage ?? NaN);
    const m = adv.reduce((a, b) => a + b, 0) / adv.length;
    checks = [...checks.filter((c) => !/broadcast/.test(c.label)), { label: `token ${t} advantage = mean Â over the ${sharing.length} trajectories sharing it (hard attribution)`, computed: m, stored: tokAdv[t], ok: close(m, tokAdv[t], 1e-3) }];
    sh.lines.push({ label: 'ARPO hard attribution: mean Â over those rows', value: m });
  }
  return { ...dd, lines: [...dd.lines, ...sh.lines, ...arpoLines(step, i)], tables: [...(dd.tables ?? []), sh.table], checks };
}

/** Tree-GRPO: advantage = intra-tree (over the tree's leaves) + inter-tree (over every leaf of the prompt). */
function treeDrill(step: StepData, i: number, t: number, eps: number, tol: number): DrillDown {
  const s = step.samples[i];
  const tr = treeOf(step, i);
  if (!tr) return { kind: 'token', title: `Token ${t}`, lines: [], checks: [] };
  const { tree, all } = tr;
  const info = sampleTree(s)!;
  const leaves = tree.samples, prompt = all.flatMap((x) => x.samples).sort((a, b) => a - b);
  const rw = (xs: number[]) => xs.map((j) => step.samples[j].reward);
  const intra = normalised(rw(leaves), leaves.indexOf(i), 'mean_std_norm', eps, 'zero');
  const inter = normalised(rw(prompt), prompt.indexOf(i), 'mean_std_norm', eps, 'zero');
  const A = intra.value + inter.value;
  const tokAdv = sampleArray(step, i, 'advantage');
  const mask = sampleMask(step, i);
  const checks: Check[] = [];
  if (info.advIntra !== undefined) checks.push({ label: 'intra-tree advantage (stored)', computed: intra.value, stored: info.advIntra, ok: close(intra.value, info.advIntra, tol) });
  if (info.advInter !== undefined) checks.push({ label: 'inter-tree advantage (stored)', computed: inter.value, stored: info.advInter, ok: close(inter.value, info.advInter, tol) });
  if (typeof s.advantage === 'number') checks.push({ label: 'A = intra + inter (stored sequence advantage)', computed: A, stored: s.advantage, ok: close(A, s.advantage, tol) });
  if (tokAdv && mask[t] > 0) checks.push({ label: `token ${t} advantage = A (broadcast over the policy's tokens)`, computed: A, stored: tokAdv[t], ok: close(A, tokAdv[t], tol) });
  const sh = sharingLines(step, i, t, tree);
  const leafRow = (j: number) => {
    const x = sampleTree(step.samples[j]);
    const a = normalised(rw(leaves), leaves.indexOf(j), 'mean_std_norm', eps, 'zero').value, b = normalised(rw(prompt), prompt.indexOf(j), 'mean_std_norm', eps, 'zero').value;
    return [`#${j}`, step.samples[j].reward, x?.advIntra ?? a, x?.advInter ?? b, (x?.advIntra ?? a) + (x?.advInter ?? b)];
  };
  return {
    kind: 'tree', title: `Tree-GRPO credit for token ${t} of sample ${i} (tree ${tree.id})`,
    lines: [
      { label: 'reward R (this leaf)', value: s.reward },
      { label: `tree ${tree.id}: leaves / mean / std`, value: `${leaves.length} / ${fmtN(intra.mean)} / ${fmtN(intra.std)}` },
      { label: 'intra-tree A = (R − mean_tree) / (std_tree + ε)', value: intra.value },
      { label: `prompt: ${all.length} tree(s), leaves / mean / std`, value: `${prompt.length} / ${fmtN(inter.mean)} / ${fmtN(inter.std)}` },
      { label: 'inter-tree A = (R − mean_prompt) / (std_prompt + ε)', value: inter.value },
      { label: 'A = intra + inter', value: A },
      ...sh.lines, ...arpoLines(step, i),
    ],
    tables: [{ id: 'tree-leaves', title: `Leaves of tree ${tree.id}`, columns: ['sample', 'reward', 'intra', 'inter', 'A'], rows: leaves.map(leafRow), self: [leaves.indexOf(i)] }, sh.table],
    checks,
  };
}
