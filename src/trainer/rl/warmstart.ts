/**
 * A small supervised warm start (teacher forcing on task demonstrations) for RL runs and tests that need an SFT model
 * "decent but not perfect" and no checkpoint is given. Cross-entropy on the answer tokens + EOS only.
 * `noise`: probability that a demonstration carries a wrong (well-formatted) answer (task.corrupt), so the SFT
 * model keeps room for RL.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { GPT } from '../model/gpt';
import { AdamW, clipByGlobalNorm } from '../optim';
import { Rng } from '../rng';
import { EOS, PAD } from '../tokenizer';
import type { Task } from '../tasks/types';
import type { RlTokenizer } from './types';
import { warmupCosineLr } from '../algorithms/control';
import type { TrainContext } from '../engine';
import { sftBatch, sftStep } from '../sft';
import { charModel } from '../charModel';

export function sftWarmStart(model: GPT, task: Task, tok: RlTokenizer, o: { steps: number; batchSize: number; lr: number; noise: number; seed: number; log?: (s: string) => void }): { finalLoss: number } {
  const rng = new Rng(o.seed ^ 0x5f7);
  const opt = new AdamW(model.trainableVariables(), {});
  const vars = model.trainableVariables();
  let last = NaN;
  for (let step = 0; step < o.steps; step++) {
    const rows: number[][] = [], lmask: number[][] = [];
    for (let b = 0; b < o.batchSize; b++) {
      const ex = task.sample(rng, 'train');
      const ans = rng.next() < o.noise ? task.corrupt(ex, rng) : ex.answer;
      const p = tok.encode(ex.prompt, { bos: true });
      const a = [...tok.encode(ans), EOS];
      rows.push([...p, ...a]);
      // loss on the positions that predict answer tokens: column t predicts ids[t+1]
      lmask.push([...Array(p.length - 1).fill(0), ...Array(a.length).fill(1)]);
    }
    const T = Math.max(...rows.map((r) => r.length));
    const ids = tf.tensor2d(rows.map((r) => [...r, ...Array(T - r.length).fill(PAD)]), [rows.length, T], 'int32');
    const m = tf.tensor2d(lmask.map((r) => [...r, ...Array(T - 1 - r.length).fill(0)]), [rows.length, T - 1]);
    const { value, grads } = tf.variableGrads(() => {
      const lp = model.tokenLogprobs(ids).logprobs;
      return tf.neg(tf.div(tf.sum(tf.mul(lp, m)), tf.sum(m))) as tf.Scalar;
    }, vars);
    last = value.dataSync()[0];
    const c = clipByGlobalNorm(grads, 1);
    opt.apply(c.grads, warmupCosineLr(step, { lr: o.lr, warmupSteps: Math.min(20, o.steps / 10), totalSteps: o.steps, minLrRatio: 0.1 }));
    tf.dispose([value, ...Object.values(grads), ...Object.values(c.grads), ids, m]);
    if (o.log && (step % 50 === 0 || step === o.steps - 1)) o.log(`sft warm start ${step + 1}/${o.steps} loss ${last.toFixed(4)}`);
  }
  opt.dispose();
  return { finalLoss: last };
}

/**
 * The supervised warm start of an RL run inside the engine (no init.checkpoint, no pretrained model): `ws.steps`
 * SFT steps on the task's demonstrations (demoNoise of them corrupted) with a linear lr warmup over min(20, steps/10)
 * steps, the RNG fork `rngFork` (11; Step-DPO's 13) of the run's seed, progress as the 'warm start' phase, Stop honoured between steps.
 * Shared by the RL algorithms (rl/register.ts) and Training-Free GRPO, so both start from the same model.
 * `lrField` names the config field in the divergence error. → 'done', or 'stopped' (the engine then writes the stop
 * checkpoint: the warm-started policy so far).
 */
export async function engineWarmStart(ctx: TrainContext, ws: { steps: number; batchSize: number; lr: number; demoNoise: number }, label: string, lrField: string, rngFork = 11): Promise<'done' | 'stopped'> {
  const opt = new AdamW(ctx.policy.trainableVariables(), { beta1: ctx.config.train.beta1, beta2: ctx.config.train.beta2, eps: ctx.config.train.eps });
  const rng = ctx.rng.fork(rngFork);
  try {
    for (let s = 0; s < ws.steps; s++) {
      const b = sftBatch(ctx.task, charModel(ctx, `${label} warm start`).tokenizer, rng, ws.batchSize, ctx.config.derived.sequenceLength, ws.demoNoise, 1);
      const lr = ws.lr * Math.min(1, (s + 1) / Math.max(1, Math.min(20, ws.steps / 10)));
      const loss = sftStep({ policy: ctx.policy, optimizer: opt, config: ctx.config }, b, lr).loss;
      if (!Number.isFinite(loss)) throw new Error(`${label}: warm start diverged (loss ${loss}); lower ${lrField}`);
      // progress for the host (notification, status bar, tree): one event per report, every 5 steps; every 100th and
      // the last one at level info (the Output channel and the terminal show it), the others at level debug
      const logLine = (s + 1) % 100 === 0 || s === ws.steps - 1;
      if (logLine || (s + 1) % 5 === 0 || s === 0) ctx.phase('warm start', s + 1, ws.steps, `warm start ${s + 1}/${ws.steps}: loss ${loss.toFixed(4)}`, { level: logLine ? 'info' : 'debug' });
      // a chance for SIGTERM / {"type":"stop"} to arrive
      await ctx.yield();
      if (ctx.stopRequested()) { ctx.log(`${label}: stopped during the warm start at ${s + 1}/${ws.steps}`); return 'stopped'; }
    }
    return 'done';
  } finally { opt.dispose(); }
}
