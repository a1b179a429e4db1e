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
