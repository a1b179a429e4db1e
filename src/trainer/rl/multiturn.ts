/**
 * Multi-turn rollouts (issue 20; docs/environments.md): G episodes per prompt with a tool environment
 * (envs/types.ts). Each turn, every unfinished episode continues with the KV-cache sampler until it closes a tool
 * call ('='), ends with EOS, or reaches the turn's token limit (rl maxNewTokens); a call is executed by the
 * environment and its output appended as environment tokens; an episode ends at EOS, at rl.env.maxTurns policy
 * turns, or when it has used rl.env.maxTokens response tokens (policy + environment).
 *
 * The result is the single-turn RolloutResult (rollout.ts) of the concatenated trajectories, plus per sample
 * `lossMask` (1 = a policy token, 0 = an environment token: as verl's multi-turn `response_mask` / OpenRLHF's
 * action mask, the update multiplies it into the response mask so tool outputs get no gradient) and `turns`
 * (text, call, result, per-turn reward, token spans, GiGPO anchor state). The episode's score is the final reward
 * plus the per-turn rewards.
 */
import { generate } from '../sampling';
import type { CausalLM } from '../model/types';
import type { Rng } from '../rng';
import type { RlConfig } from './config';
import type { RlTokenizer } from './types';
import { specialIds, type RolloutGroupInfo, type RolloutResult, type RolloutSample } from './rollout';
import { RESULT_END, TOOL_CLOSE, TOOL_ERROR, anchorState, executeCall, parseToolCall, type EnvItem, type Environment, type EpisodeTurn } from '../envs/types';

export type { EpisodeTurn };

export interface MultiTurnOptions { maxTurns: number; maxTokens: number; contextLength: number }

interface Episode { item: EnvItem; group: string; promptIds: number[]; tokens: number[]; logprobs: number[]; lossMask: number[]; turns: EpisodeTurn[]; outputs: string[]; done: boolean; finished: boolean }

let episodeGroupCounter = 0;

/** Encode an environment's output; characters outside the tokenizer's alphabet make it the error observation. */
function encodeObservation(tok: RlTokenizer, text: string): { ids: number[]; error?: string } {
  try { return { ids: tok.encode(text) }; } catch (e) { return { ids: tok.encode(TOOL_ERROR + RESULT_END), error: `observation not encodable: ${(e as Error).message}` }; }
}

/** Run G episodes for each of `nPrompts` environment problems. */
export function multiTurnRollout(policy: CausalLM, env: Environment, tok: RlTokenizer, cfg: RlConfig, rng: Rng, step: number, o: MultiTurnOptions, items?: EnvItem[]): RolloutResult {
  if (cfg.dynamicSampling.enabled || cfg.eepo?.enabled || cfg.ghpo?.enabled) throw new Error('rl.env: multi-turn rollouts do not support dynamicSampling, eepo or ghpo; turn them off');
  const t0 = Date.now();
  const nPrompts = items?.length ?? cfg.promptsPerStep;
  const eps: Episode[] = [];
  const groups: RolloutGroupInfo[] = [];
  for (let p = 0; p < nPrompts; p++) {
    const item = items?.[p] ?? env.sample(rng, 'train');
    const group = `s${step}e${episodeGroupCounter++}`;
    const promptIds = tok.encode(item.prompt, { bos: true });
    groups.push({ id: group, prompt: item.prompt, answer: item.answer, samples: [], rewards: [], filtered: false });
    for (let g = 0; g < cfg.groupSize; g++) eps.push({ item, group, promptIds, tokens: [], logprobs: [], lossMask: [], turns: [], outputs: [], done: false, finished: false });
  }
  const closeId = tok.encode(TOOL_CLOSE)[0];
  const sp = specialIds(tok);
  let generated = 0;
  for (let turn = 0; turn < o.maxTurns; turn++) {
    const active = eps.filter((e) => !e.done);
    if (!active.length) break;
    // one generation batch per turn; each row may generate at most what is left of its budget (cut below)
    const left = active.map((e) => Math.min(o.maxTokens - e.tokens.length, o.contextLength - e.promptIds.length - e.tokens.length));
    const maxNew = Math.min(cfg.maxNewTokens, Math.max(...left));
    const gen = generate(policy, active.map((e) => [...e.promptIds, ...e.tokens]), { maxNewTokens: maxNew, temperature: cfg.temperature, topP: cfg.topP, rng, ...sp, stopTokens: [closeId] });
    active.forEach((e, b) => {
      const ids = gen.tokens[b].slice(0, left[b]), lps = gen.logprobs[b].slice(0, left[b]);
      const finished = gen.finished[b] && ids.length === gen.tokens[b].length;
      const start = e.tokens.length;
      e.tokens.push(...ids); e.logprobs.push(...lps); e.lossMask.push(...ids.map(() => 1));
      generated += ids.length;
      const text = tok.decode(ids);
      const t: EpisodeTurn = { text, reward: 0, start, end: e.tokens.length, anchor: anchorState(e.item.prompt, e.outputs) };
      e.turns.push(t);
      if (finished) { e.done = true; e.finished = true; return; }
      const parsed = ids[ids.length - 1] === closeId ? parseToolCall(text) : { isCall: false };
      // the turn stopped at its token limit or the budget without a call or EOS: the episode is truncated
      if (!parsed.isCall) { e.done = true; return; }
      const r = executeCall(env, e.item, parsed);
      t.call = parsed.args; t.reward = r.reward ?? 0;
      if (r.error) t.error = r.error;
      const obs = encodeObservation(tok, r.output + RESULT_END);
      if (obs.error) { t.error = obs.error; t.result = TOOL_ERROR; } else t.result = r.output;
      const room = Math.min(o.maxTokens - e.tokens.length, o.contextLength - e.promptIds.length - e.tokens.length);
      const obsIds = obs.ids.slice(0, Math.max(0, room));
      e.tokens.push(...obsIds); e.logprobs.push(...obsIds.map(() => 0)); e.lossMask.push(...obsIds.map(() => 0));
      t.resultEnd = e.tokens.length;
      e.outputs.push(t.result);
      // budget spent (an observation cut short, or no room for another policy token) or turn limit reached: truncated
      if (obsIds.length < obs.ids.length || e.tokens.length >= o.maxTokens || o.contextLength - e.promptIds.length - e.tokens.length <= 0 || turn === o.maxTurns - 1) e.done = true;
    });
  }
  const samples: RolloutSample[] = eps.map((e, i) => {
    const last = e.turns[e.turns.length - 1];
    const answer = last && last.call === undefined && last.result === undefined ? last.text : '';
    const reward = env.finalReward(e.item, answer, e.finished);
    const turnRewards = e.turns.reduce((a, t) => a + t.reward, 0);
    const score = reward.score + turnRewards;
    groups[Math.floor(i / cfg.groupSize)].samples.push(i);
    groups[Math.floor(i / cfg.groupSize)].rewards.push(score);
    return {
      group: e.group, item: e.item, promptIds: e.promptIds, completion: tok.decode(e.tokens), tokens: e.tokens, sampleLogprobs: e.logprobs,
      finished: e.finished, reward: { ...reward, parts: { ...reward.parts, ...(e.turns.some((t) => t.reward) ? { turn_rewards: turnRewards } : {}) } },
      score, overlong: 0, lengthPen: 0, lossMask: e.lossMask, turns: e.turns,
    };
  });
  const zeroStd = groups.filter((g) => g.rewards.length > 1 && g.rewards.every((r) => r === g.rewards[0])).length;
  const envTokens = eps.reduce((a, e) => a + e.lossMask.filter((m) => m === 0).length, 0);
  const calls = eps.flatMap((e) => e.turns.filter((t) => t.result !== undefined));
  const extraMetrics: Record<string, number> = {
    'env/turns/mean': eps.reduce((a, e) => a + e.turns.length, 0) / eps.length,
    'env/tool_calls/mean': calls.length / eps.length,
    'env/tool_errors/frac': calls.length ? calls.filter((t) => t.error).length / calls.length : 0,
    'env/env_tokens/frac': envTokens / Math.max(1, eps.reduce((a, e) => a + e.tokens.length, 0)),
  };
  return { samples, groups, generatedGroups: groups.length, zeroStdGroups: zeroStd, genBatches: 1, generatedTokens: generated, genSeconds: (Date.now() - t0) / 1000, extraMetrics };
}

/**
 * Eval with episodes (the engine's pass@k for a task with an environment): n episodes per eval item at `temperature`
 * (0 = greedy), the same limits as training. → per item the trajectories' texts, scores and solved count.
 */
export function evalEpisodes(policy: CausalLM, env: Environment, tok: RlTokenizer, items: EnvItem[], n: number, o: MultiTurnOptions & { maxNewTokens: number; temperature: number; topP: number; rng: Rng }): { texts: string[][]; rewards: number[][]; correct: number[] } {
  const cfg = { promptsPerStep: items.length, groupSize: n, maxNewTokens: o.maxNewTokens, temperature: o.temperature, topP: o.topP, dynamicSampling: { enabled: false, maxGenBatches: 1 } } as unknown as RlConfig;
  const ro = multiTurnRollout(policy, env, tok, cfg, o.rng, 0, o, items);
  return {
    texts: ro.groups.map((g) => g.samples.map((i) => ro.samples[i].completion)),
    rewards: ro.groups.map((g) => g.rewards),
    correct: ro.groups.map((g) => g.samples.filter((i) => ro.samples[i].reward.correct).length),
  };
}
