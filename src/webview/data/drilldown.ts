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
 */
import { meanStd, sampleArray, sampleMask, type StepData } from './step';
import { shortText } from './sampleFilter';

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
export interface DrillDown {
  kind: 'ppo' | 'group' | 'dpo' | 'token';
  title: string;
  lines: DrillLine[];
  /** GAE terms (PPO) */
  terms?: { position: number; weight: number; delta: number; contribution: number }[];
  /** group members (group methods) */
  group?: { sample: number; reward: number; advantage: number; self: boolean }[];
  checks: Check[];
}

const close = (a: number, b: number, tol: number) => Math.abs(a - b) <= tol * Math.max(1, Math.abs(a), Math.abs(b));

function num(x: unknown, d: number): number { return typeof x === 'number' && Number.isFinite(x) ? x : d; }

/** Pick what to explain for token t of sample i, by the step's algorithm and stored arrays. Tolerance for checks: 1e-3 relative (float32 storage). */
export function drillDown(step: StepData, i: number, t: number): DrillDown {
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
  const est = (advKind ? estimatorFor(advKind) : undefined) ?? estimatorFor(alg);
  if (est) return groupDrill(step, i, t, est, num(p.advEps ?? p.eps ?? p.stdEps, 1e-6), tol);
  const adv = sampleArray(step, i, 'advantage');
  return { kind: 'token', title: `Token ${t}`, lines: [{ label: 'advantage', value: adv ? adv[t] : NaN }], checks: [] };
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
  if (tokAdv) checks.push({ label: `token ${t} advantage = sequence advantage (broadcast)`, computed: ga.advantage, stored: tokAdv[t], ok: close(ga.advantage, tokAdv[t], tol) });
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
