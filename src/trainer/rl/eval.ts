/**
 * Evaluation on the task's held-out prompts: n samples per prompt, pass@k with the unbiased estimator
 * (Chen et al. 2021) for every k ≤ n asked for, plus the mean reward. Deterministic given the seed.
 */
import { sampleGroups } from '../sampling';
import type { CausalLM } from '../model/types';
import { Rng } from '../rng';
import { specialIds } from './rollout';
import { evalEpisodes } from './multiturn';
import { envItemOf } from '../envs/types';

type RlTaskItemLike = { prompt: string; answer?: string; [k: string]: unknown };
import { passAtK } from '../../shared/passAtK';
import type { RlTask, RlTokenizer } from './types';

export interface EvalResult {
  passAtK: Record<string, number>;
  meanReward: number;
  samplesPerPrompt: number;
  numPrompts: number;
  items: { prompt: string; completions: string[]; rewards: number[]; correct: number }[];
}

export function evaluatePolicy(model: CausalLM, task: RlTask, tok: RlTokenizer, o: { prompts: number; samples: number; temperature: number; k: number[]; maxNewTokens: number; seed: number; chunk?: number; env?: { maxTurns: number; maxTokens: number } }): EvalResult {
  const items = task.evalItems(o.prompts);
  const n = o.temperature > 0 ? o.samples : 1;
  const rng = new Rng(o.seed);
  if (task.env) {
    // a tool environment: pass@k of multi-turn episodes (rl/multiturn.ts) with the training limits (rl.env)
    const e = evalEpisodes(model, task.env, tok, items.map((it) => envItemOf(it as RlTaskItemLike)), n, { maxTurns: o.env?.maxTurns ?? 4, maxTokens: o.env?.maxTokens ?? 32, contextLength: model.config.contextLength, maxNewTokens: o.maxNewTokens, temperature: o.temperature, topP: 1, rng });
    const pk: Record<string, number> = {};
    for (const k of o.k) if (k <= n) pk[String(k)] = e.correct.reduce((a, c) => a + passAtK(n, c, k), 0) / Math.max(1, items.length);
    const rsum = e.rewards.flat().reduce((a, b) => a + b, 0);
    return { passAtK: pk, meanReward: rsum / Math.max(1, items.length * n), samplesPerPrompt: n, numPrompts: items.length, items: items.map((it, p) => ({ prompt: it.prompt, completions: e.texts[p], rewards: e.rewards[p], correct: e.correct[p] })) };
  }
  const g = sampleGroups(model, tok, items.map((it) => it.prompt), n, { maxNewTokens: o.maxNewTokens, temperature: o.temperature, rng, ...specialIds(tok) }, o.chunk ?? 256);
  const out: EvalResult['items'] = [];
  let rsum = 0;
  items.forEach((it, p) => {
    const cs = g.texts[p];
    const rs = cs.map((c, j) => task.reward(it, c, g.finished[p][j]));
    rsum += rs.reduce((a, r) => a + r.score, 0);
    out.push({ prompt: it.prompt, completions: cs, rewards: rs.map((r) => r.score), correct: rs.filter((r) => r.correct).length });
  });
  const pk: Record<string, number> = {};
  for (const k of o.k) {
    if (k > n) continue;
    pk[String(k)] = out.reduce((a, it) => a + passAtK(n, it.correct, k), 0) / Math.max(1, out.length);
  }
  return { passAtK: pk, meanReward: rsum / Math.max(1, items.length * n), samplesPerPrompt: n, numPrompts: items.length, items: out };
}
