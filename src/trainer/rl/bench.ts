/**
 * Benchmark cases (registered by src/trainer/bench.ts; their type is benchCase.ts): one full online-RL step per algorithm family on the reference
 * model (vocab 32, d_model 128, 4 heads, 2 layers, context 32): sample G = 8 completions for each of 8 prompts
 * (64 sequences, 8 prompt tokens, ≤ 24 new tokens, KV cache), old + reference log-probs (and values for PPO),
 * advantages, one update (PPO: 2 epochs × 2 minibatches, as its defaults). Reward: a synthetic verifiable reward
 * (fraction of digit tokens), so the step does real work on an untrained model.
 */
import type { BenchCase, BenchMeasurement } from '../benchCase';
import * as tf from '@tensorflow/tfjs-core';
import { GPT, type GPTConfig } from '../model/gpt';
import { AdamW } from '../optim';
import { Rng } from '../rng';
import { resolveRlConfig, type RlAlgorithm } from './config';
import { rlStep } from './step';
import { withValueHead } from './loop';
import type { RlTask, RlTokenizer } from './types';

const MODEL: GPTConfig = { vocabSize: 32, contextLength: 32, dModel: 128, nHeads: 4, nLayers: 2 };

const tok: RlTokenizer = {
  encode: (text) => [1, ...Array.from(text).map((c) => 3 + (c.charCodeAt(0) % 29))],
  decode: (ids) => Array.from(ids).filter((i) => i > 2).map((i) => String.fromCharCode(48 + ((i - 3) % 40))).join(''),
  display: (ids) => Array.from(ids).map(String),
};
const task: RlTask = {
  name: 'bench',
  sampleTrain: (rng) => ({ prompt: Array.from({ length: 7 }, () => String.fromCharCode(97 + rng.int(26))).join('') }),
  evalItems: () => [],
  reward: (_i, c) => { const d = [...c].filter((x) => x >= '0' && x <= '9').length; return { score: c.length ? d / c.length : 0, parts: {}, correct: false }; },
};

function caseFor(algorithm: RlAlgorithm): BenchCase {
  return {
    name: `rl_step_${algorithm}`,
    description: `full ${algorithm} step: 8 prompts × G 8 sampled (≤ 24 new tokens) + old/ref log-probs + update`,
    run({ iters }): BenchMeasurement {
      let policy = GPT.create(MODEL, 5);
      if (algorithm === 'ppo') policy = withValueHead(policy);
      const ref = policy.clone(false);
      const cfg = resolveRlConfig(algorithm, { promptsPerStep: 8, groupSize: 8, maxNewTokens: 24, eval: { every: 0 }, ...(algorithm === 'dapo' ? { dynamicSampling: { enabled: false } } : {}) });
      const opt = new AdamW(policy.trainableVariables());
      const st = { step: 1, lr: 1e-4, klCoef: cfg.kl.coef, optimizer: opt };
      const rng = new Rng(9);
      const times: number[] = [];
      let tokens = 0;
      for (let i = 0; i <= iters; i++) {
        const t = performance.now();
        const r = rlStep(algorithm, cfg, st, policy, ref, undefined, task, tok, rng);
        const dt = performance.now() - t;
        if (i > 0) { times.push(dt); tokens += Number(r.metrics['tokens/generated']); }
      }
      opt.dispose(); policy.dispose(); ref.dispose();
      const ms = [...times].sort((a, b) => a - b)[Math.floor(times.length / 2)];
      const tokPerIter = tokens / Math.max(1, times.length);
      // FLOPs: generation (forward per new token) + old + ref forward + update (3× forward) × epochs·(1) over 64 × (8 + N)
      const T = 8 + tokPerIter / 64;
      const fpt = GPT.create(MODEL, 0);
      const f = fpt.flopsPerToken(Math.round(T));
      fpt.dispose();
      const passes = 1 + 1 + 1 + 3 * cfg.ppoEpochs;
      return { ms, tokens: tokPerIter, flops: f * 64 * T * passes, all: times, note: `${tokPerIter.toFixed(0)} generated tokens / step; tensors ${tf.memory().numTensors}` };
    },
  };
}

/** One case per family: PPO (critic + GAE), GRPO (group baseline, k3 KL in loss), DAPO (clip-higher), GSPO (sequence ratio), REINFORCE++ (KL in reward, returns). */
export function rlBenchCases(): BenchCase[] {
  return (['ppo', 'grpo', 'dapo', 'gspo', 'reinforce_pp'] as RlAlgorithm[]).map(caseFor);
}
