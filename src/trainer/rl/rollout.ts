/**
 * Rollout: G completions per prompt with the KV-cache sampler, rewards (with their parts), reward shaping
 * (DAPO overlong punishment, length penalty), DAPO dynamic sampling (drop groups whose rewards are all equal and
 * generate more until the batch is full, capped), and the padded batch layout the losses use.
 */
import * as tf from '@tensorflow/tfjs-core';
import { generate } from '../sampling';
import type { CausalLM } from '../model/types';
import type { Rng } from '../rng';
import { PAD } from '../tokenizer';
import { softOverlongPunishment, lengthPenalty } from '../algorithms/rewards';
import type { RlConfig } from './config';
import type { RlReward, RlTask, RlTaskItem, RlTokenizer } from './types';

export interface RolloutSample {
  group: string;
  item: RlTaskItem;
  promptIds: number[];
  completion: string;
  tokens: number[];
  /** log-prob recorded while sampling (τ-scaled softmax) */
  sampleLogprobs: number[];
  finished: boolean;
  reward: RlReward;
  /** reward used for the advantage: task score + overlong + length penalty */
  score: number;
  overlong: number;
  lengthPen: number;
}

export interface RolloutGroupInfo {
  id: string;
  prompt: string;
  answer?: string;
  /** indices into the kept samples (absent when the group was dropped by dynamic sampling) */
  samples: number[];
  rewards: number[];
  filtered: boolean;
  filterReason?: 'zero_variance' | 'dynamic_sampling';
}

export interface RolloutResult {
  samples: RolloutSample[];
  groups: RolloutGroupInfo[];
  /** every generated group, also the dropped ones (for frac_reward_zero_std) */
  generatedGroups: number;
  zeroStdGroups: number;
  genBatches: number;
  generatedTokens: number;
  genSeconds: number;
}

/** population std == 0 test used by DAPO's dynamic sampling (verl-dapo: keep iff np.std(metric) > 0 or one sample) */
function allEqual(x: number[]): boolean { return x.every((v) => v === x[0]); }

let groupCounter = 0;

/**
 * EOS / PAD / never-sampled ids of the tokenizer (sampling.ts defaults when it names none). PAD and BOS are never
 * sampled, except a BOS that is also the stop token (llama2.c story models end a story with BOS).
 */
export function specialIds(tok: RlTokenizer): { eos?: number; pad?: number; banned?: number[] } {
  if (tok.eos === undefined && tok.pad === undefined) return {};
  const pad = tok.pad ?? 0;
  return { eos: tok.eos ?? -1, pad, banned: [pad, ...(tok.bos !== undefined && tok.bos !== tok.eos ? [tok.bos] : [])] };
}

/** Generate one batch of `prompts × G` completions and score them. */
export function rolloutBatch(policy: CausalLM, task: RlTask, tok: RlTokenizer, cfg: RlConfig, rng: Rng, nPrompts: number, step: number): { samples: RolloutSample[]; items: RlTaskItem[]; groupIds: string[]; tokens: number } {
  const items: RlTaskItem[] = [];
  const groupIds: string[] = [];
  const prompts: number[][] = [];
  for (let p = 0; p < nPrompts; p++) {
    const item = task.sampleTrain(rng);
    items.push(item);
    groupIds.push(`s${step}g${groupCounter++}`);
    const ids = tok.encode(item.prompt, { bos: true });
    for (let g = 0; g < cfg.groupSize; g++) prompts.push(ids);
  }
  const gen = generate(policy, prompts, { maxNewTokens: cfg.maxNewTokens, temperature: cfg.temperature, topP: cfg.topP, rng, ...specialIds(tok) });
  const samples: RolloutSample[] = [];
  let tokens = 0;
  for (let i = 0; i < prompts.length; i++) {
    const p = Math.floor(i / cfg.groupSize);
    const completion = tok.decode(gen.tokens[i]);
    const reward = task.reward(items[p], completion, gen.finished[i]);
    const L = gen.tokens[i].length;
    tokens += L;
    const overlong = cfg.overlong.enabled ? cfg.overlong.factor * softOverlongPunishment(L, cfg.overlong.maxLength, cfg.overlong.cacheLength) : 0;
    const lengthPen = lengthPenalty(L, cfg.lengthPenalty.coef, cfg.lengthPenalty.target);
    samples.push({
      group: groupIds[p], item: items[p], promptIds: prompts[i], completion, tokens: gen.tokens[i], sampleLogprobs: gen.logprobs[i],
      finished: gen.finished[i], reward, score: reward.score + overlong + lengthPen, overlong, lengthPen,
    });
  }
  return { samples, items, groupIds, tokens };
}

/**
 * One step's rollout. With dynamic sampling (DAPO) groups whose shaped rewards are all equal are dropped and more
 * prompts are generated until `promptsPerStep` groups are kept or `maxGenBatches` generation batches were used
 * (verl-dapo `max_num_gen_batches`); then the kept groups are trimmed to promptsPerStep.
 */
export function rollout(policy: CausalLM, task: RlTask, tok: RlTokenizer, cfg: RlConfig, rng: Rng, step: number): RolloutResult {
  const t0 = Date.now();
  const kept: RolloutSample[] = [];
  const groups: RolloutGroupInfo[] = [];
  let generatedGroups = 0, zeroStd = 0, genBatches = 0, generatedTokens = 0;
  const want = cfg.promptsPerStep;
  const ds = cfg.dynamicSampling.enabled;
  while (true) {
    const keptGroups = groups.filter((g) => !g.filtered).length;
    const need = ds ? want - keptGroups : want;
    if (need <= 0 || (genBatches > 0 && !ds) || genBatches >= (ds ? cfg.dynamicSampling.maxGenBatches : 1)) break;
    const b = rolloutBatch(policy, task, tok, cfg, rng, ds ? want : need, step);
    genBatches++;
    generatedTokens += b.tokens;
    for (let p = 0; p < b.items.length; p++) {
      const gs = b.samples.slice(p * cfg.groupSize, (p + 1) * cfg.groupSize);
      const rewards = gs.map((s) => s.score);
      generatedGroups++;
      const eq = gs.length > 1 && allEqual(rewards);
      if (eq) zeroStd++;
      const info: RolloutGroupInfo = { id: b.groupIds[p], prompt: b.items[p].prompt, answer: b.items[p].answer, samples: [], rewards, filtered: false };
      const full = groups.filter((g) => !g.filtered).length >= want;
      if (ds && (eq || full)) {
        info.filtered = true;
        info.filterReason = 'dynamic_sampling';
      } else {
        for (const s of gs) { info.samples.push(kept.length); kept.push(s); }
      }
      groups.push(info);
    }
  }
  return { samples: kept, groups, generatedGroups, zeroStdGroups: zeroStd, genBatches, generatedTokens, genSeconds: (Date.now() - t0) / 1000 };
}

/** Padded layout of a set of samples: prompt LEFT-padded to P, response RIGHT-padded to N (as the sampler lays it out). */
export interface PackedBatch {
  ids: number[][];
  attentionMask: number[][];
  responseMask: number[][];
  P: number;
  N: number;
}

export function pack(samples: readonly RolloutSample[], pad = PAD): PackedBatch {
  const P = Math.max(...samples.map((s) => s.promptIds.length));
  const N = Math.max(1, ...samples.map((s) => s.tokens.length));
  const ids: number[][] = [], attentionMask: number[][] = [], responseMask: number[][] = [];
  for (const s of samples) {
    const lp = P - s.promptIds.length, n = s.tokens.length;
    ids.push([...Array(lp).fill(pad), ...s.promptIds, ...s.tokens, ...Array(N - n).fill(pad)]);
    attentionMask.push([...Array(lp).fill(0), ...Array(s.promptIds.length).fill(1), ...Array(n).fill(1), ...Array(N - n).fill(0)]);
    responseMask.push([...Array(n).fill(1), ...Array(N - n).fill(0)]);
  }
  return { ids, attentionMask, responseMask, P, N };
}

/**
 * Per-token log-probs (and entropy / values) of the response part: model.tokenLogprobs over the whole sequence, then
 * columns P−1 … P+N−2 (response token i at index P+i is predicted at column P+i−1). Differentiable.
 * → [B, N] each.
 */
export function responseForward(model: CausalLM, batch: { ids: tf.Tensor2D; attentionMask: tf.Tensor2D }, P: number, N: number, o: { temperature: number; entropy?: boolean; values?: boolean }): { logprobs: tf.Tensor2D; entropy?: tf.Tensor2D; values?: tf.Tensor2D } {
  const B = batch.ids.shape[0];
  const r = model.tokenLogprobs(batch.ids, { attentionMask: batch.attentionMask, temperature: o.temperature, entropy: o.entropy, values: o.values });
  const sl = (t: tf.Tensor2D) => tf.slice(t, [0, P - 1], [B, N]) as tf.Tensor2D;
  return { logprobs: sl(r.logprobs), entropy: r.entropy ? sl(r.entropy) : undefined, values: r.values ? sl(r.values) : undefined };
}
