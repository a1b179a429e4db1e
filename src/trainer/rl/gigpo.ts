/**
 * GiGPO on the multi-turn rollout (algorithms/gigpo.ts for the math): each sample's turns are GiGPO's steps — step
 * reward r_t = the turn's reward, plus the episode's final reward on its last turn; anchor s_t = the turn's
 * environment state (EpisodeTurn.anchor). Every policy token of turn t gets A_t = A^E + ω·A^S_t; environment tokens
 * get 0 (they are out of the loss mask anyway).
 */
import { gigpoAdvantages, type GigpoOutput } from '../algorithms/gigpo';
import type { RlConfig } from './config';
import type { RolloutSample } from './rollout';

export interface GigpoTokens {
  out: GigpoOutput;
  /** per-token advantage [B][N] (N = the padded response width) */
  tokenAdv: number[][];
}

export function gigpoForSamples(S: readonly RolloutSample[], cfg: RlConfig, N: number): GigpoTokens {
  if (S.some((s) => !s.turns?.length)) throw new Error('rl.advantage "gigpo" needs multi-turn episodes: use a task with an environment (calc-tool, lookup-tool) or rl.env.module');
  const stepRewards = S.map((s) => {
    const r = s.turns!.map((t) => t.reward);
    r[r.length - 1] += s.reward.score;
    return r;
  });
  const out = gigpoAdvantages({ group: S.map((s) => s.group), stepRewards, anchors: S.map((s) => s.turns!.map((t) => t.anchor)), gamma: cfg.gigpo.gamma, omega: cfg.gigpo.omega, mode: cfg.gigpo.mode, eps: cfg.advEps });
  const tokenAdv = S.map((s, b) => {
    const row = new Array<number>(N).fill(0);
    s.turns!.forEach((t, k) => { for (let j = t.start; j < t.end && j < N; j++) row[j] = out.advantages[b][k]; });
    return row;
  });
  return { out, tokenAdv };
}
