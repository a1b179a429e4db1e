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
import type { RolloutTreeLinkFields } from '../../shared/runFormat';
import type { CausalLM } from '../model/types';
import type { Rng } from '../rng';
import type { RlConfig } from './config';
import type { RlTokenizer } from './types';
import { specialIds, type RolloutGroupInfo, type RolloutResult, type RolloutSample } from './rollout';
import { RESULT_END, TOOL_CLOSE, TOOL_ERROR, anchorState, executeCall, parseToolCall, type EnvItem, type Environment, type EpisodeTurn } from '../envs/types';

export type { EpisodeTurn };

export interface MultiTurnOptions { maxTurns: number; maxTokens: number; contextLength: number }

/**
 * Where an episode sits in a rollout tree (Tree-GRPO, ARPO): the stored link (src/shared/runFormat.ts
 * RolloutTreeLink: tree id, branch point, branch numbers) with `parent` as the episode it branched from;
 * episodesToResult turns it into a sample index. A branch shares its parent's tokens [0, branchAt) (repeated in its
 * own `tokens`) and continues from there.
 */
export type EpisodeTree = Omit<RolloutTreeLinkFields, 'parent' | 'branchTurn'> & { parent: Episode | null; branchTurn: number; [k: string]: unknown };

export interface Episode {
  item: EnvItem; group: string; promptIds: number[];
  /** response tokens so far (policy and environment), their sampling log-probs (0 for environment tokens) and
   *  sampling entropies (NaN for environment tokens); lossMask 1 = policy token */
  tokens: number[]; logprobs: number[]; entropies: number[]; lossMask: number[];
  turns: EpisodeTurn[];
  /** tool outputs so far (the anchor state's parts) */
  outputs: string[];
  done: boolean; finished: boolean;
  tree?: EpisodeTree;
}

/** What a hook sees after one policy turn of one episode was generated (and its tool call executed, if any). */
export interface TurnEvent {
  episode: Episode;
  /** index of the turn in episode.turns */
  turn: number;
  /** sampling entropies of the turn's policy tokens */
  entropies: number[];
}

/**
 * Hooks of runEpisodes: `afterTurn` may return new episodes (branches made with forkEpisode) to add to the pool;
 * they are generated from the next round on (a branch at its turn limit or out of budget is added as done).
 */
export interface EpisodeHooks { afterTurn?: (ev: TurnEvent) => Episode[] | void }

let episodeGroupCounter = 0;

/** Encode an environment's output; characters outside the tokenizer's alphabet make it the error observation. */
function encodeObservation(tok: RlTokenizer, text: string): { ids: number[]; error?: string } {
  try { return { ids: tok.encode(text) }; } catch (e) { return { ids: tok.encode(TOOL_ERROR + RESULT_END), error: `observation not encodable: ${(e as Error).message}` }; }
}

/** A fresh group id for one prompt's episodes. */
export function newGroupId(step: number): string { return `s${step}e${episodeGroupCounter++}`; }

/** n fresh episodes of one environment item (no tokens yet). */
export function newEpisodes(item: EnvItem, group: string, promptIds: number[], n: number): Episode[] {
  return Array.from({ length: n }, () => ({ item, group, promptIds, tokens: [], logprobs: [], entropies: [], lossMask: [], turns: [], outputs: [], done: false, finished: false }));
}

/**
 * A branch of `e` that keeps its turns [0, atTurn) — their policy and environment tokens — and regenerates from
 * there (the state right after turn atTurn−1's tool result, i.e. an agent-step boundary). The branch's `tree`
 * points at `e`; `e` gets a tree of its own (id `treeId`) if it has none. atTurn ≤ e.turns.length.
 */
export function forkEpisode(e: Episode, atTurn: number, treeId?: string): Episode {
  if (!Number.isInteger(atTurn) || atTurn < 0 || atTurn > e.turns.length) throw new Error(`forkEpisode: atTurn ${atTurn} outside 0..${e.turns.length}`);
  if (atTurn > 0 && e.turns[atTurn - 1].result === undefined) throw new Error(`forkEpisode: turn ${atTurn - 1} made no tool call; a branch starts after a tool result`);
  if (!e.tree) e.tree = { id: treeId ?? `${e.group}/t0`, parent: null, branchAt: 0, branchTurn: 0 };
  const cut = atTurn === 0 ? 0 : (e.turns[atTurn - 1].resultEnd ?? e.turns[atTurn - 1].end);
  const turns = e.turns.slice(0, atTurn).map((t) => ({ ...t }));
  return {
    item: e.item, group: e.group, promptIds: e.promptIds,
    tokens: e.tokens.slice(0, cut), logprobs: e.logprobs.slice(0, cut), entropies: e.entropies.slice(0, cut), lossMask: e.lossMask.slice(0, cut),
    turns, outputs: turns.filter((t) => t.result !== undefined).map((t) => t.result as string), done: false, finished: false,
    tree: { id: e.tree.id, parent: e, branchAt: cut, branchTurn: atTurn },
  };
}

/**
 * Generate every unfinished episode of `eps` to its end, one policy turn per round for all active episodes (one
 * KV-cache generation batch per round); each episode counts its own turns. Branches returned by hooks.afterTurn
 * join the pool. Returns the pool (the input episodes, then the branches in creation order) and the number of
 * policy tokens generated.
 */
export function runEpisodes(policy: CausalLM, env: Environment, tok: RlTokenizer, cfg: RlConfig, rng: Rng, eps: Episode[], o: MultiTurnOptions, hooks: EpisodeHooks = {}): { episodes: Episode[]; generated: number } {
  const pool = [...eps];
  const closeId = tok.encode(TOOL_CLOSE)[0];
  const sp = specialIds(tok);
  let generated = 0;
  const room = (e: Episode) => Math.min(o.maxTokens - e.tokens.length, o.contextLength - e.promptIds.length - e.tokens.length);
  for (const e of pool) if (!e.done && (e.turns.length >= o.maxTurns || room(e) <= 0)) e.done = true;
  for (;;) {
    const active = pool.filter((e) => !e.done);
    if (!active.length) break;
    // one generation batch per round; each row may generate at most what is left of its budget (cut below)
    const left = active.map(room);
    const maxNew = Math.min(cfg.maxNewTokens, Math.max(...left));
    const gen = generate(policy, active.map((e) => [...e.promptIds, ...e.tokens]), { maxNewTokens: maxNew, temperature: cfg.temperature, topP: cfg.topP, rng, ...sp, stopTokens: [closeId] });
    active.forEach((e, b) => {
      const ids = gen.tokens[b].slice(0, left[b]), lps = gen.logprobs[b].slice(0, left[b]), hs = gen.entropy[b].slice(0, left[b]);
      const finished = gen.finished[b] && ids.length === gen.tokens[b].length;
      const start = e.tokens.length;
      e.tokens.push(...ids); e.logprobs.push(...lps); e.entropies.push(...hs); e.lossMask.push(...ids.map(() => 1));
      generated += ids.length;
      const text = tok.decode(ids);
      const k = e.turns.length;
      const t: EpisodeTurn = { text, reward: 0, start, end: e.tokens.length, anchor: anchorState(e.item.prompt, e.outputs) };
      e.turns.push(t);
      if (finished) { e.done = true; e.finished = true; }
      else {
        const parsed = ids[ids.length - 1] === closeId ? parseToolCall(text) : { isCall: false };
        // the turn stopped at its token limit or the budget without a call or EOS: the episode is truncated
        if (!parsed.isCall) e.done = true;
        else {
          const r = executeCall(env, e.item, parsed);
          t.call = parsed.args; t.reward = r.reward ?? 0;
          if (r.error) t.error = r.error;
          const obs = encodeObservation(tok, r.output + RESULT_END);
          if (obs.error) { t.error = obs.error; t.result = TOOL_ERROR; } else t.result = r.output;
          const obsIds = obs.ids.slice(0, Math.max(0, room(e)));
          e.tokens.push(...obsIds); e.logprobs.push(...obsIds.map(() => 0)); e.entropies.push(...obsIds.map(() => NaN)); e.lossMask.push(...obsIds.map(() => 0));
          t.resultEnd = e.tokens.length;
          e.outputs.push(t.result);
          // budget spent (an observation cut short, or no room for another policy token) or turn limit reached: truncated
          if (obsIds.length < obs.ids.length || room(e) <= 0 || e.turns.length >= o.maxTurns) e.done = true;
        }
      }
      const more = hooks.afterTurn?.({ episode: e, turn: k, entropies: hs });
      if (more) for (const m of more) { if (m.turns.length >= o.maxTurns || room(m) <= 0) m.done = true; pool.push(m); }
    });
  }
  return { episodes: pool, generated };
}

/**
 * The RolloutResult of finished episodes: samples ordered by group (groups in `groupOrder`), each group's episodes
 * in pool order; the final reward from the environment plus per-turn rewards; `tree` with `parent` as a sample index.
 */
export function episodesToResult(pool: Episode[], groupOrder: Array<{ id: string; item: EnvItem }>, env: Environment, tok: RlTokenizer, generated: number, t0: number, extra: Record<string, number> = {}): RolloutResult {
  const groups: RolloutGroupInfo[] = groupOrder.map((g) => ({ id: g.id, prompt: g.item.prompt, answer: g.item.answer, samples: [], rewards: [], filtered: false }));
  const gi = new Map(groupOrder.map((g, i) => [g.id, i]));
  const eps = groupOrder.flatMap((g) => pool.filter((e) => e.group === g.id));
  if (eps.length !== pool.length) throw new Error('episodesToResult: an episode belongs to no group of groupOrder');
  const index = new Map(eps.map((e, i) => [e, i]));
  const samples: RolloutSample[] = eps.map((e, i) => {
    const last = e.turns[e.turns.length - 1];
    const answer = last && last.call === undefined && last.result === undefined ? last.text : '';
    const reward = env.finalReward(e.item, answer, e.finished);
    const turnRewards = e.turns.reduce((a, t) => a + t.reward, 0);
    const score = reward.score + turnRewards;
    const g = groups[gi.get(e.group)!];
    g.samples.push(i); g.rewards.push(score);
    const tree = e.tree ? { ...e.tree, parent: e.tree.parent ? index.get(e.tree.parent) ?? null : null } : undefined;
    return {
      group: e.group, item: e.item, promptIds: e.promptIds, completion: tok.decode(e.tokens), tokens: e.tokens, sampleLogprobs: e.logprobs,
      finished: e.finished, reward: { ...reward, parts: { ...reward.parts, ...(e.turns.some((t) => t.reward) ? { turn_rewards: turnRewards } : {}) } },
      score, overlong: 0, lengthPen: 0, lossMask: e.lossMask, turns: e.turns, ...(tree ? { tree } : {}),
    };
  });
  const zeroStd = groups.filter((g) => g.rewards.length > 1 && g.rewards.every((r) => r === g.rewards[0])).length;
  const envTokens = eps.reduce((a, e) => a + e.lossMask.filter((m) => m === 0).length, 0);
  const calls = eps.flatMap((e) => e.turns.filter((t) => t.result !== undefined));
  const extraMetrics: Record<string, number> = {
    'env/turns/mean': eps.reduce((a, e) => a + e.turns.length, 0) / eps.length,
    'env/tool_calls/mean': calls.length / eps.length,
    // tool calls the environment executed this step: a branch's shared prefix (turns before tree.branchTurn) ran once, in its parent
    'env/tool_calls/executed': eps.reduce((a, e) => a + e.turns.slice(e.tree?.branchTurn ?? 0).filter((t) => t.result !== undefined).length, 0),
    'env/tool_errors/frac': calls.length ? calls.filter((t) => t.error).length / calls.length : 0,
    'env/env_tokens/frac': envTokens / Math.max(1, eps.reduce((a, e) => a + e.tokens.length, 0)),
    ...extra,
  };
  return { samples, groups, generatedGroups: groups.length, zeroStdGroups: zeroStd, genBatches: 1, generatedTokens: generated, genSeconds: (Date.now() - t0) / 1000, extraMetrics };
}

/** The environment items of one step (given, or `promptsPerStep` sampled) with their group ids and encoded prompts. */
export function stepItems(env: Environment, tok: RlTokenizer, cfg: RlConfig, rng: Rng, step: number, items?: EnvItem[]): Array<{ id: string; item: EnvItem; promptIds: number[] }> {
  const n = items?.length ?? cfg.promptsPerStep;
  return Array.from({ length: n }, (_, p) => {
    const item = items?.[p] ?? env.sample(rng, 'train');
    return { id: newGroupId(step), item, promptIds: tok.encode(item.prompt, { bos: true }) };
  });
}

/** Run G episodes for each of `nPrompts` environment problems. */
export function multiTurnRollout(policy: CausalLM, env: Environment, tok: RlTokenizer, cfg: RlConfig, rng: Rng, step: number, o: MultiTurnOptions, items?: EnvItem[]): RolloutResult {
  if (cfg.dynamicSampling.enabled || cfg.eepo?.enabled || cfg.ghpo?.enabled) throw new Error('rl.env: multi-turn rollouts do not support dynamicSampling, eepo or ghpo; turn them off');
  const t0 = Date.now();
  const its = stepItems(env, tok, cfg, rng, step, items);
  const eps = its.flatMap((g) => newEpisodes(g.item, g.id, g.promptIds, cfg.groupSize));
  const { episodes, generated } = runEpisodes(policy, env, tok, cfg, rng, eps, o);
  return episodesToResult(episodes, its, env, tok, generated, t0);
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
