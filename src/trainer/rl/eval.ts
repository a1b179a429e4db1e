/**
 * Evaluation on the task's held-out prompts: n samples per prompt, pass@k with the unbiased estimator
 * (Chen et al. 2021) for every k ≤ n asked for, plus the mean reward. Deterministic given the seed.
 */
import { sampleGroups } from '../sampling';
import type { CausalLM } from '../model/types';
import { Rng } from '../rng';
import { specialIds } from './rollout';
import { passAtK } from '../../shared/passAtK';
import type { RlTask, RlTokenizer } from './types';

export interface EvalResult {
  passAtK: Record<string, number>;
  meanReward: number;
  samplesPerPrompt: number;
  numPrompts: number;
  items: { prompt: string; completions: string[]; rewards: number[]; correct: number }[];
}

export function evaluatePolicy(model: CausalLM, task: RlTask, tok: RlTokenizer, o: { prompts: number; samples: number; temperature: number; k: number[]; maxNewTokens: number; seed: number; chunk?: number }): EvalResult {
  const items = task.evalItems(o.prompts);
  const n = o.temperature > 0 ? o.samples : 1;
  const rng = new Rng(o.seed);
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
