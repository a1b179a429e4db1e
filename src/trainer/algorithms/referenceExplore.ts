/**
 * Plain-number façade of EEPO, GHPO and the DELTA reward schedule (one object argument each, plain numbers out),
 * calling the trainer's own functions (algorithms/eepo.ts, ghpo.ts, delta.ts; no second copy of a formula). Re-exported
 * by reference.ts. Checked against float64 Python written from the papers / the authors' code:
 * test/fixtures/eepo_ghpo_delta_ref.py → eepo-ghpo-delta-reference.json (test/unit/algo-eepo, ghpo, delta tests).
 *
 *   eepoForgetLoss({ logprobs, mask })                 EEPO complementary loss: per token −log(1 − e^{logp}) (p ≤ 1 − 1e-6),
 *                                                      and its token mean L_forget. B×T, right padded, junk-safe padding.
 *   eepoUnlearnStep({ logits, tokens, mask, lr })      the unlearning step on a tabular policy whose parameters are the
 *                                                      logits z [B][T][V] themselves: L_forget, ∇_z L_forget, and the
 *                                                      token log-probs before / after z' = z − lr·∇ (no clipping).
 *   ghpoHintSchedule({ solution, stageAccuracies, ratios? })   GHPO: which stage's group is kept, its ω and the hint.
 *   ghpoHintText({ solution, omega })                  solution[: round(len·ω)] (Python rounding, half to even).
 *   deltaReward({ parts, step, denseUntil, densePart?, binaryPart? })   the scheduled reward of one sample.
 *   deltaTestCaseRewards({ got, want })                dense / binary reward of an answer (tasks/delta.ts test cases).
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { complementaryTokenLoss, eepoForgetLoss as eepoForgetLossT } from './eepo';
import { GHPO_HINT_RATIOS, ghpoHint, ghpoRefinement } from './ghpo';
import { binaryTestCaseReward, deltaTestCases, denseTestCaseReward, scheduledReward } from './delta';

type Matrix = readonly (readonly (number | null | undefined)[])[];

function ensureBackend(): void { if (!tf.getBackend()) void tf.setBackend('cpu'); }

function rect(m: Matrix, T: number, fill = 0): number[][] {
  return m.map((r) => Array.from({ length: T }, (_, t) => { const v = r[t]; return typeof v === 'number' ? v : fill; }));
}

/** EEPO complementary loss: per token ℓ_t = −log(1 − π(y_t)) (0 on padding) and L_forget = token mean. */
export function eepoForgetLoss(o: { logprobs: Matrix; mask: Matrix }): { loss: number; perToken: number[][] } {
  ensureBackend();
  const B = o.logprobs.length, T = Math.max(1, ...o.logprobs.map((r) => r.length), ...o.mask.map((r) => r.length));
  if (o.mask.length !== B) throw new Error(`eepoForgetLoss: mask has ${o.mask.length} rows, logprobs ${B}`);
  const lp = tf.tensor2d(rect(o.logprobs, T, NaN), [B, T]), m = tf.tensor2d(rect(o.mask, T), [B, T]);
  try {
    const per = tf.tidy(() => complementaryTokenLoss(lp, m).arraySync() as number[][]);
    const loss = tf.tidy(() => eepoForgetLossT(lp, m).dataSync()[0]);
    return { loss, perToken: per };
  } finally { tf.dispose([lp, m]); }
}

/**
 * One EEPO unlearning step on a tabular policy: the parameters are the logits z [B][T][V]; π = softmax(z),
 * log π(y_t) at `tokens` [B][T]; returns L_forget, its gradient ∇_z [B][T][V] and the log-probs before and after
 * z' = z − lr·∇_z L_forget.
 */
export function eepoUnlearnStep(o: { logits: number[][][]; tokens: number[][]; mask: Matrix; lr: number }): { loss: number; grad: number[][][]; logprobsBefore: number[][]; logprobsAfter: number[][] } {
  ensureBackend();
  const B = o.logits.length, T = o.logits[0]?.length ?? 0, V = o.logits[0]?.[0]?.length ?? 0;
  const z = tf.variable(tf.tensor3d(o.logits, [B, T, V]), true);
  const oh = tf.oneHot(tf.tensor2d(o.tokens, [B, T], 'int32'), V);
  const m = tf.tensor2d(rect(o.mask, T), [B, T]);
  const lpOf = () => tf.sum(tf.mul(tf.logSoftmax(z), oh), -1) as tf.Tensor2D;
  try {
    const before = tf.tidy(() => lpOf().arraySync() as number[][]);
    const { value, grads } = tf.variableGrads(() => eepoForgetLossT(lpOf(), m), [z]);
    const g = grads[z.name];
    const loss = value.dataSync()[0];
    const grad = g.arraySync() as number[][][];
    tf.tidy(() => z.assign(tf.sub(z, tf.mul(o.lr, g))));
    tf.dispose([value, g]);
    const after = tf.tidy(() => lpOf().arraySync() as number[][]);
    return { loss, grad, logprobsBefore: before, logprobsAfter: after };
  } finally { tf.dispose([z, oh, m]); }
}

/** GHPO adaptive prompt refinement of one prompt (algorithms/ghpo.ts ghpoRefinement). */
export function ghpoHintSchedule(o: { solution: string; stageAccuracies: number[][]; ratios?: number[] }): { stage: number; omega: number; hint: string } {
  return ghpoRefinement(o.solution, o.stageAccuracies, o.ratios ?? GHPO_HINT_RATIOS);
}

/** GHPO hint at ratio ω: solution[: round(len·ω)]. */
export function ghpoHintText(o: { solution: string; omega: number }): string { return ghpoHint(o.solution, o.omega); }

/** DELTA: the scheduled reward of one sample (parts[densePart] while step ≤ denseUntil, else parts[binaryPart]). */
export function deltaReward(o: { parts: Record<string, number>; step: number; denseUntil: number | null; densePart?: string; binaryPart?: string }): number {
  return scheduledReward(o.parts, o.step, { denseUntil: o.denseUntil, densePart: o.densePart ?? 'dense', binaryPart: o.binaryPart ?? 'accuracy' });
}

/** DELTA task rewards of an answer: dense = share of test cases passed, binary = all pass (tasks/delta.ts test cases). */
export function deltaTestCaseRewards(o: { got: string; want: string }): { dense: number; binary: number } {
  const c = deltaTestCases(o.got, o.want);
  return { dense: denseTestCaseReward(c), binary: binaryTestCaseReward(c) };
}
