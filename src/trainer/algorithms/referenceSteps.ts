/**
 * Plain-number façade over the step-level math of ./process.ts (the code the trainer runs): Step-DPO's loss, the
 * process reward model's loss, and process rewards turned into token rewards and DeepSeekMath's process-supervision
 * advantages. One object argument with the papers' names; re-exported by ./reference.ts. Tested against float64
 * numpy in test/fixtures/step_process.py (test/unit/algo-step-dpo.test.ts, prm.test.ts).
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as S from './process';
import { runScalar } from './referencePreference';

function nums(name: string, v: unknown, n?: number): number[] {
  if (!Array.isArray(v)) throw new Error(`${name}: expected an array of numbers`);
  if (n !== undefined && v.length !== n) throw new Error(`${name}: expected ${n} values (one per pair), got ${v.length}`);
  v.forEach((x, i) => { if (typeof x !== 'number' || !Number.isFinite(x)) throw new Error(`${name}[${i}]: expected a finite number, got ${String(x)}`); });
  return v as number[];
}

function matrix(name: string, v: unknown, rows?: number): number[][] {
  if (!Array.isArray(v)) throw new Error(`${name}: expected an array of rows (number[][])`);
  if (rows !== undefined && v.length !== rows) throw new Error(`${name}: expected ${rows} rows, got ${v.length}`);
  return v.map((r, i) => nums(`${name}[${i}]`, r));
}

/** Input of the Step-DPO loss: one entry per step pair; log-probs are SUMMED over the step's tokens given x + prefix. */
export interface StepDpoLossInput {
  /** Σ_t log πθ(s_win,t | x; s_1~k−1; s_win,<t) */
  policyChosenLogps: number[];
  /** Σ_t log πθ(s_lose,t | x; s_1~k−1; s_lose,<t) */
  policyRejectedLogps: number[];
  /** the same under π_ref (the model the step pairs were sampled from) */
  refChosenLogps: number[];
  refRejectedLogps: number[];
  /** β (the authors' scripts: 0.5 for Qwen2-7B in bash_scrips/qwen2_7b_step_dpo.sh; configs/config_full.yaml 0.05) */
  beta: number;
}

/**
 * Step-DPO loss, mean over step pairs (Lai et al. 2024 §3.1): −log σ(β·[(log πθ − log π_ref)(s_win) − (log πθ − log π_ref)(s_lose)]).
 */
export function stepDpoLoss(i: StepDpoLossInput): number {
  const n = nums('policyChosenLogps', i.policyChosenLogps).length;
  if (!(i.beta > 0)) throw new Error(`beta: must be > 0, got ${i.beta}`);
  return runScalar(() => {
    const t = (name: string, x: number[]) => tf.tensor1d(nums(name, x, n), 'float32');
    const out = S.stepDpoLosses({
      policyChosen: t('policyChosenLogps', i.policyChosenLogps), policyRejected: t('policyRejectedLogps', i.policyRejectedLogps),
      refChosen: t('refChosenLogps', i.refChosenLogps), refRejected: t('refRejectedLogps', i.refRejectedLogps),
    }, i.beta);
    return tf.mean(out.losses) as tf.Scalar;
  });
}

/**
 * PRM loss (binary cross-entropy with logits at the step-end tokens, mean over the labelled positions; OpenRLHF
 * PRMLoss with two reward tokens, z = logit(+) − logit(−)). logits, labels (1 = the step is correct, 0 = wrong; soft
 * labels in [0,1] allowed) and stepMask (1 at a step's last token) are B×T.
 */
export function prmLoss(i: { logits: number[][]; labels: number[][]; stepMask: number[][] }): number {
  const z = matrix('logits', i.logits);
  const y = matrix('labels', i.labels, z.length), m = matrix('stepMask', i.stepMask, z.length);
  z.forEach((r, b) => {
    if (y[b].length !== r.length || m[b].length !== r.length) throw new Error(`labels[${b}] / stepMask[${b}]: expected ${r.length} values like logits[${b}]`);
    y[b].forEach((v, t) => { if (m[b][t] && !(v >= 0 && v <= 1)) throw new Error(`labels[${b}][${t}]: must be in [0, 1] where stepMask is 1, got ${v}`); });
  });
  return runScalar(() => S.prmLoss(tf.tensor2d(z), tf.tensor2d(y), tf.tensor2d(m)));
}

/**
 * Process rewards of G outputs per question → token rewards (PRIME / verl: step reward on the step's last token) and
 * DeepSeekMath §4.1.3 process-supervision advantages. stepRewards[b][k] (e.g. the PRM's σ(z) per step),
 * stepEnds[b][k] (token index of step k's last token), groupIds[b] (same id = same question), mask B×T.
 */
export function processRewardAdvantages(i: { stepRewards: number[][]; stepEnds: number[][]; groupIds: (string | number)[]; mask: number[][]; eps?: number; scaleByStd?: boolean }): { tokenRewards: number[][]; normalized: number[][]; advantages: number[][] } {
  const r = matrix('stepRewards', i.stepRewards);
  const e = matrix('stepEnds', i.stepEnds, r.length);
  const m = matrix('mask', i.mask, r.length);
  if (!Array.isArray(i.groupIds) || i.groupIds.length !== r.length) throw new Error(`groupIds: expected ${r.length} ids (one per output)`);
  e.forEach((row, b) => { if (row.length !== r[b].length) throw new Error(`stepEnds[${b}]: expected ${r[b].length} token indices (one per step), got ${row.length}`); });
  const T = m[0]?.length ?? 0;
  const normalized = S.normalizeStepRewards(r, i.groupIds, i.eps ?? 1e-6, i.scaleByStd ?? true);
  return { tokenRewards: S.placeStepRewards(r, e, T), normalized, advantages: S.processAdvantages(normalized, e, m) };
}
