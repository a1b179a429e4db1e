import * as tf from '@tensorflow/tfjs-core';
import * as fs from 'fs';
import { initBackend } from '/work/main/src/trainer/backend';
import { GPT } from '/work/main/src/trainer/model/gpt';
import { CharTokenizer } from '/work/main/src/trainer/tokenizer';
import { createTask } from '/work/main/src/trainer/tasks';
import { sftWarmStart } from '/work/main/src/trainer/rl/warmstart';
import { runRl, withValueHead } from '/work/main/src/trainer/rl/loop';
import { rlTaskFrom } from '/work/main/src/trainer/rl/types';
import { evaluatePolicy } from '/work/main/src/trainer/rl/eval';
import { saveCheckpoint, loadCheckpoint } from '/work/main/src/trainer/checkpoint';
(async () => {
  await initBackend(process.env.BE ?? 'wasm');
  const alg = (process.env.ALG ?? 'grpo') as any;
  const tok = new CharTokenizer();
  const task = createTask(process.env.TASK ?? 'arithmetic', { difficulty: Number(process.env.DIFF ?? 1) });
  const t0 = Date.now();
  const ck = process.env.CK!;
  let policy: GPT;
  if (fs.existsSync(ck + '/model.safetensors')) policy = loadCheckpoint(ck).model;
  else {
    policy = GPT.create({ vocabSize: tok.size, contextLength: 16, dModel: Number(process.env.D ?? 64), nHeads: 4, nLayers: 2 }, 1);
    sftWarmStart(policy, task, tok, { steps: Number(process.env.SFT ?? 200), batchSize: 64, lr: 3e-3, noise: Number(process.env.NOISE ?? 0.3), seed: 1, log: console.log });
    saveCheckpoint(ck, policy, { step: 0, algorithm: 'sft', time: new Date().toISOString(), config: {}, tokenizer: tok.spec() } as any);
    const g = evaluatePolicy(policy, rlTaskFrom(task), tok, { prompts: 64, samples: 1, temperature: 0, k: [1], maxNewTokens: 5, seed: 1 });
    console.log('sft done', ((Date.now() - t0) / 1000).toFixed(1), 's; greedy eval', g.passAtK);
  }
  if (alg === 'ppo') policy = withValueHead(policy);
  const ref = policy.clone(false);
  const rl = JSON.parse(process.env.RL ?? '{}');
  const res = runRl({ policy, ref, tokenizer: tok, task: rlTaskFrom(task), seed: 1, log: console.log }, alg, { steps: 30, promptsPerStep: 16, groupSize: 8, maxNewTokens: 5, lr: 1e-3, eval: { every: 10, prompts: 64, samples: 8, k: [1, 8] }, ...rl });
  console.log('total', ((Date.now() - t0) / 1000).toFixed(1), 's', 'tensors', tf.memory().numTensors);
  console.log(res.evals.map((e) => `${e.step}: ${JSON.stringify(e.result.passAtK)}`).join('\n'));
})();
