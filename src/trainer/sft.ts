/**
 * `algorithm: "sft"`: supervised warm start (stage 1 of the RLHF pipeline). Trains the policy on task demonstrations
 * with a completion-only token cross-entropy (the prompt tokens are context, not targets; TRL SFTTrainer's
 * completion_only_loss): L = −Σ_t m_t·log π(y_t | y_<t) / Σ_t m_t, m_t = 1 on answer tokens and EOS.
 *
 * Knobs that keep SFT "decent, not perfect" (room for RL): sft.demoNoise = probability that a demonstration carries a
 * wrong but well-formatted answer; sft.demoCoverage = fraction of training problems that have demonstrations at all.
 * Evaluates pass@k on held-out prompts (start, every eval.every steps, end) and traces sampled completions
 * (logprob, entropy per token) every rollouts.every steps.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { TrainContext } from './engine';
import { buildGroups } from './engine';
import { clipByGlobalNorm } from './optim';
import { registerAlgorithm } from './registry';
import type { Rng } from './rng';
import { generate } from './sampling';
import type { RolloutSampleInput } from '../shared/runFormat';
import type { Task, TaskExample } from './tasks';
import type { CharTokenizer } from './tokenizer';
import { PAD } from './tokenizer';
import { charModel } from './charModel';

/** Hash → [0,1) with a salt different from the train/eval split. */
function coverageValue(prompt: string): number {
  let h = 0x2545f491;
  for (let i = 0; i < prompt.length; i++) { h ^= prompt.charCodeAt(i); h = Math.imul(h, 0x01000193); }
  h ^= h >>> 16; h = Math.imul(h, 0x7feb352d); h ^= h >>> 15;
  return (h >>> 0) / 4294967296;
}

export interface SftBatch {
  ids: number[][];
  /** [B, T−1]: 1 where ids[:, t+1] is a target (answer token or EOS) */
  lossMask: number[][];
  examples: TaskExample[];
  noisy: number;
  tokens: number;
}

/** Draw a batch of demonstrations: BOS prompt answer EOS, right-padded to T. */
export function sftBatch(task: Task, tok: CharTokenizer, rng: Rng, batchSize: number, T: number, demoNoise: number, demoCoverage: number): SftBatch {
  const ids: number[][] = [];
  const lossMask: number[][] = [];
  const examples: TaskExample[] = [];
  let noisy = 0, tokens = 0;
  while (ids.length < batchSize) {
    const ex = task.sample(rng, 'train');
    if (demoCoverage < 1 && coverageValue(ex.prompt) >= demoCoverage) continue;
    let answer = ex.answer;
    if (demoNoise > 0 && rng.next() < demoNoise) { answer = task.corrupt(ex, rng); noisy++; }
    const p = tok.encode(ex.prompt, { bos: true });
    const a = tok.encode(answer, { eos: true });
    const seq = [...p, ...a];
    if (seq.length > T) throw new Error(`sft: example ${JSON.stringify(ex.prompt + answer)} needs ${seq.length} tokens > ${T}`);
    const m = new Array(T - 1).fill(0);
    for (let t = p.length - 1; t < seq.length - 1; t++) m[t] = 1;
    ids.push([...seq, ...new Array(T - seq.length).fill(PAD)]);
    lossMask.push(m);
    examples.push(ex);
    tokens += seq.length;
  }
  return { ids, lossMask, examples, noisy, tokens };
}

/** Masked mean negative log-likelihood. logprobs, mask [B,T−1] → scalar. */
export function maskedNll(logprobs: tf.Tensor2D, mask: tf.Tensor2D): tf.Scalar {
  return tf.div(tf.neg(tf.sum(tf.mul(logprobs, mask))), tf.maximum(tf.sum(mask), 1)) as tf.Scalar;
}

/** One SFT optimizer step; returns loss and grad norm (all tensors disposed). */
export function sftStep(ctx: Pick<TrainContext, 'policy' | 'optimizer' | 'config'>, batch: SftBatch, lr: number): { loss: number; gradNorm: number } {
  const vars = ctx.policy.trainableVariables();
  const idsT = tf.tensor2d(batch.ids, undefined, 'int32');
  const maskT = tf.tensor2d(batch.lossMask, undefined, 'float32');
  const { value, grads } = tf.variableGrads(() => maskedNll(ctx.policy.tokenLogprobs(idsT).logprobs, maskT), vars);
  const { grads: clipped, norm } = clipByGlobalNorm(grads, ctx.config.train.gradClip);
  const loss = value.dataSync()[0];
  if (Number.isFinite(loss)) ctx.optimizer.apply(clipped, lr);
  tf.dispose([idsT, maskT, value, ...Object.values(grads), ...Object.values(clipped)]);
  return { loss, gradNorm: norm };
}

/** Trace: G sampled completions for a few training prompts, with per-token logprob / entropy / mask. */
function traceRollout(ctx: TrainContext, step: number): void {
  const G = 4;
  const nPrompts = Math.max(1, Math.floor(ctx.config.rollouts.maxSamples / G));
  const rng = ctx.rng.fork(step);
  const exs: TaskExample[] = [];
  for (let i = 0; i < nPrompts; i++) exs.push(ctx.task.sample(rng, 'train'));
  const prompts = exs.flatMap((ex) => Array.from({ length: G }, () => ctx.tokenizer.encode(ex.prompt, { bos: true })));
  const g = generate(ctx.policy, prompts, { maxNewTokens: ctx.config.derived.maxNewTokens, temperature: ctx.config.sampling.temperature, topP: ctx.config.sampling.topP, topK: ctx.config.sampling.topK, rng });
  const samples: RolloutSampleInput[] = [];
  const arrays: Record<string, number[]>[] = [];
  prompts.forEach((_, i) => {
    const ex = exs[Math.floor(i / G)];
    const text = ctx.tokenizer.decode(g.tokens[i]);
    const r = ctx.task.reward(ex, text, g.finished[i]);
    samples.push({ group: `g${Math.floor(i / G)}`, prompt: ex.prompt, completion: text, tokens: ctx.tokenizer.display(g.tokens[i]), tokenIds: g.tokens[i], reward: r.score, rewardParts: r.parts, length: g.tokens[i].length, truncated: !g.finished[i], answer: ex.answer });
    arrays.push({ logprob: g.logprobs[i], entropy: g.entropy[i], mask: g.tokens[i].map(() => 1) });
  });
  const answers: Record<string, string> = {};
  exs.forEach((ex, k) => { answers[`g${k}`] = ex.answer; });
  ctx.rollout(step, { step, algorithm: 'sft', arrays: ['logprob', 'entropy', 'mask'], groups: buildGroups(samples, answers), params: { temperature: ctx.config.sampling.temperature } }, samples, arrays);
}

registerAlgorithm({
  name: 'sft',
  kind: 'sft',
  summary: 'supervised fine-tuning on task demonstrations (completion-only cross-entropy)',
  async run(ctx) {
    const c = ctx.config;
    const T = c.derived.sequenceLength;
    const { tokenizer } = charModel(ctx, 'sft');
    if (c.eval.atStart) ctx.evaluate(0);
    for (let step = 1; step <= ctx.totalSteps; step++) {
      const batch = sftBatch(ctx.task, tokenizer, ctx.rng, c.train.batchSize, T, c.sft.demoNoise, c.sft.demoCoverage);
      const lr = ctx.lr(step);
      const { loss, gradNorm } = sftStep(ctx, batch, lr);
      if (ctx.evalStep(step) && step !== ctx.totalSteps) ctx.evaluate(step);
      if (ctx.traceStep(step)) traceRollout(ctx, step);
      ctx.step(step, { loss, grad_norm: gradNorm, lr, 'sft/noisy_fraction': batch.noisy / batch.examples.length }, { tokens: batch.ids.length * T });
      await ctx.yield(); // lets SIGTERM / {"type":"stop"} handlers run
      if (ctx.stopRequested()) break;
    }
  },
});
