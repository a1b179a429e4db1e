/**
 * EEPO's two-stage rollout (algorithms/eepo.ts has the math): sample the first ⌈G/2⌉ of every group, one unlearning
 * step on them (complementary loss, SGD on the policy's own variables), sample the other ⌊G/2⌋ from the unlearned
 * model, restore the weights exactly. Returns what `generate` returns (rows in the caller's order) plus each row's
 * stage, the per-token complementary loss of the first-stage rows (the trace array `eepo_forget`) and metrics.
 * The optimizer state is never touched (the unlearning step is a plain assign), so the RL update that follows sees
 * exactly the policy it would see without EEPO.
 */
import * as tf from '@tensorflow/tfjs-core';
import { generate, type GenerationResult } from '../sampling';
import type { CausalLM } from '../model/types';
import { clipByGlobalNorm } from '../optim';
import { PAD } from '../tokenizer';
import { complementaryTokenLoss, eepoForgetLoss, eepoStageSizes, eepoTrigger } from '../algorithms/eepo';
import type { RlConfig } from './config';
import { pack, responseForward } from './batch';

export interface TwoStageGeneration extends Pick<GenerationResult, 'tokens' | 'logprobs' | 'entropy' | 'finished'> {
  /** per row: 1 = sampled before the unlearning step, 2 = after */
  stage: (1 | 2)[];
  /** per row: ℓ_t = −log(1 − π(y_t)) of the first-stage rows under π_θ (what the unlearning step minimised); zeros for stage 2 */
  forgetLoss: number[][];
  metrics: Record<string, number>;
}

const meanOf = (rows: number[][]) => { let s = 0, n = 0; for (const r of rows) for (const v of r) { s += v; n++; } return n ? s / n : 0; };
/** mean over groups of the number of distinct completions among `rows` of each group (exploration of one stage) */
function distinctPerGroup(tokens: number[][], groupOf: number[]): number {
  const m = new Map<number, Set<string>>();
  tokens.forEach((t, j) => { const g = groupOf[j]; if (!m.has(g)) m.set(g, new Set()); m.get(g)!.add(t.join(',')); });
  return m.size ? [...m.values()].reduce((a, s) => a + s.size, 0) / m.size : 0;
}

/** Mean response log-prob (over the mask) of packed rows under `model` at temperature τ. */
function meanResponseLogprob(model: CausalLM, ids: tf.Tensor2D, am: tf.Tensor2D, m: tf.Tensor2D, P: number, N: number, temperature: number): number {
  return tf.tidy(() => { const lp = responseForward(model, { ids, attentionMask: am }, P, N, { temperature }).logprobs; return tf.div(tf.sum(tf.mul(lp, m)), tf.maximum(tf.sum(m), 1)).dataSync()[0]; });
}

/**
 * `prompts`: every group's G rows consecutive (rolloutBatch's layout). `opts`: generate's options (rng, temperature …).
 */
export function eepoGenerate(policy: CausalLM, prompts: number[][], G: number, opts: Parameters<typeof generate>[2], eepo: RlConfig['eepo']): TwoStageGeneration {
  const [G1] = eepoStageSizes(G);
  const idx1: number[] = [], idx2: number[] = [];
  prompts.forEach((_, i) => ((i % G) < G1 ? idx1 : idx2).push(i));
  const group = (i: number) => Math.floor(i / G);
  const temperature = opts.temperature && opts.temperature > 0 ? opts.temperature : 1;
  const pad = opts.pad ?? PAD;
  const g1 = generate(policy, idx1.map((i) => prompts[i]), opts);
  const h1 = meanOf(g1.entropy);
  const metrics: Record<string, number> = { 'eepo/stage1_entropy': h1, 'eepo/triggered': 0 };
  const triggered = idx2.length > 0 && eepoTrigger(h1, eepo.entropyThreshold);
  let forget: number[][] = g1.tokens.map((t) => t.map(() => 0));
  let g2: GenerationResult | undefined;
  if (triggered) {
    const vars = policy.trainableVariables();
    const saved = vars.map((v) => tf.clone(v));
    const pk = pack(idx1.map((i, j) => ({ promptIds: prompts[i], tokens: g1.tokens[j] })), pad);
    const ids = tf.tensor2d(pk.ids, undefined, 'int32'), am = tf.tensor2d(pk.attentionMask), m = tf.tensor2d(pk.responseMask);
    try {
      // ℓ_t of the sampled tokens (trace), from the sampler's log-probs (= π_θ at τ, README convention)
      forget = tf.tidy(() => complementaryTokenLoss(tf.tensor2d(g1.logprobs.map((r) => [...r, ...Array(pk.N - r.length).fill(0)]), [idx1.length, pk.N]), m).arraySync() as number[][]).map((r, b) => r.slice(0, g1.tokens[b].length));
      const before = meanResponseLogprob(policy, ids, am, m, pk.P, pk.N, temperature);
      const { value, grads } = tf.variableGrads(() => eepoForgetLoss(responseForward(policy, { ids, attentionMask: am }, pk.P, pk.N, { temperature }).logprobs, m), vars);
      const clipped = clipByGlobalNorm(grads, eepo.clip);
      metrics['eepo/forget_loss'] = value.dataSync()[0];
      metrics['eepo/grad_norm'] = clipped.norm;
      // θ' = θ − η·∇L_forget (the rollout copy: restored below)
      for (const v of vars) { const g = clipped.grads[v.name]; if (g) tf.tidy(() => v.assign(tf.sub(v, tf.mul(eepo.lr, g)))); }
      tf.dispose([value, ...Object.values(grads), ...Object.values(clipped.grads)]);
      const after = meanResponseLogprob(policy, ids, am, m, pk.P, pk.N, temperature);
      metrics['eepo/stage1_logprob_drop'] = before - after;
      metrics['eepo/triggered'] = 1;
      g2 = generate(policy, idx2.map((i) => prompts[i]), opts);
    } finally {
      // restore θ exactly, whatever happened
      vars.forEach((v, i) => v.assign(saved[i]));
      tf.dispose([...saved, ids, am, m]);
    }
  } else if (idx2.length) {
    g2 = generate(policy, idx2.map((i) => prompts[i]), opts);
  }
  const B = prompts.length;
  const out: TwoStageGeneration = { tokens: new Array(B), logprobs: new Array(B), entropy: new Array(B), finished: new Array(B), stage: new Array(B), forgetLoss: new Array(B), metrics };
  idx1.forEach((i, j) => { out.tokens[i] = g1.tokens[j]; out.logprobs[i] = g1.logprobs[j]; out.entropy[i] = g1.entropy[j]; out.finished[i] = g1.finished[j]; out.stage[i] = 1; out.forgetLoss[i] = forget[j]; });
  if (g2) idx2.forEach((i, j) => { out.tokens[i] = g2!.tokens[j]; out.logprobs[i] = g2!.logprobs[j]; out.entropy[i] = g2!.entropy[j]; out.finished[i] = g2!.finished[j]; out.stage[i] = 2; out.forgetLoss[i] = g2!.tokens[j].map(() => 0); });
  if (g2) {
    metrics['eepo/stage2_entropy'] = meanOf(g2.entropy);
    metrics['eepo/distinct_stage2'] = distinctPerGroup(g2.tokens, idx2.map(group));
  }
  metrics['eepo/distinct_stage1'] = distinctPerGroup(g1.tokens, idx1.map(group));
  return out;
}
