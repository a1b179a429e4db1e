/**
 * Rollout: G completions per prompt with the KV-cache sampler, rewards (with their parts), reward shaping
 * (DAPO overlong punishment, length penalty), DAPO dynamic sampling (drop groups whose rewards are all equal and
 * generate more until the batch is full, capped), and the padded batch layout the losses use.
 */
import { generate } from '../sampling';
import type { CausalLM } from '../model/types';
import type { Rng } from '../rng';
import { softOverlongPunishment, lengthPenalty } from '../algorithms/rewards';
import type { RlConfig } from './config';
import type { RlReward, RlTask, RlTaskItem, RlTokenizer } from './types';
import { eepoGenerate } from './eepo';
export { pack, responseForward, type PackedBatch } from './batch';
import { ghpoRefine } from './ghpo';
import { withRewardSchedule } from './delta';

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
  /** GHPO: the hint (beginning of the reference answer) appended to the prompt, and its ratio ω (rl.ghpo) */
  hint?: string;
  hintRatio?: number;
  /** EEPO: 1 = sampled before the unlearning step, 2 = after (rl.eepo); the first-stage tokens' complementary loss */
  eepoStage?: 1 | 2;
  forgetLoss?: number[];
  /** process rewards (RlReward.steps): each step's last token (index into `tokens`) and its score */
  stepEnds?: number[];
  stepRewards?: number[];
  /** multi-turn episodes (rl/multiturn.ts): 1 = a policy token, 0 = an environment (tool-output) token, per `tokens`
   *  entry; the update multiplies it into the response mask, so environment tokens get no gradient */
  lossMask?: number[];
  /** multi-turn episodes: the turns (policy text, tool call, tool result, per-turn reward, token spans, anchor) */
  turns?: import('../envs/types').EpisodeTurn[];
  /** rollout trees (Tree-GRPO, ARPO; rl/multiturn.ts EpisodeTree): the sample's tree, parent sample index and branch point */
  tree?: import('../../shared/runFormat').RolloutTreeLink & { branchTurn: number };
}

/**
 * Token index of each step's last token from the steps' character ends (RlReward.steps): the token whose decoded
 * prefix first reaches the step's end; a step that ended with EOS gets the EOS token. `offset`: characters before the
 * completion in the scored text (a GHPO hint); steps that end inside it are dropped.
 */
export function stepTokenEnds(tok: RlTokenizer, tokens: readonly number[], finished: boolean, steps: NonNullable<RlReward['steps']>, offset = 0): { ends: number[]; scores: number[] } {
  const textTokens = finished && tokens.length && tokens[tokens.length - 1] === tok.eos ? tokens.slice(0, -1) : tokens;
  const charEnds = textTokens.map((_, j) => tok.decode(textTokens.slice(0, j + 1)).length);
  const ends: number[] = [], scores: number[] = [];
  for (const st of steps) {
    const end = st.end - offset;
    let t: number;
    if (st.terminator === 'eos' && finished) t = textTokens.length < tokens.length ? textTokens.length : tokens.length - 1;
    else { if (end <= 0) continue; t = charEnds.findIndex((e) => e >= end); if (t < 0) t = tokens.length - 1; }
    if (t < 0) continue;
    ends.push(t); scores.push(st.score);
  }
  return { ends, scores };
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
  /** GHPO: the hint the group was regenerated with (absent: no hint), its ratio ω and stage (1 = first ratio) */
  hint?: string;
  hintRatio?: number;
  hintStage?: number;
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
  /** step metrics of the rollout's extensions (EEPO eepo/*, GHPO ghpo/*, reward schedule), merged by step.ts */
  extraMetrics?: Record<string, number>;
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
export function rolloutBatch(policy: CausalLM, task: RlTask, tok: RlTokenizer, cfg: RlConfig, rng: Rng, nPrompts: number, step: number): { samples: RolloutSample[]; items: RlTaskItem[]; groupIds: string[]; tokens: number; extraMetrics?: Record<string, number>; groupHints?: ({ hint: string; ratio: number; stage: number } | undefined)[] } {
  // DELTA: the dense or binary reward of this step (rl.rewardSchedule; the task itself without a schedule)
  task = withRewardSchedule(task, cfg, step);
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
  const genOpts = { maxNewTokens: cfg.maxNewTokens, temperature: cfg.temperature, topP: cfg.topP, rng, ...specialIds(tok) };
  // EEPO: two-stage sample-then-forget rollouts (rl.eepo); else one generation
  const two = cfg.eepo?.enabled ? eepoGenerate(policy, prompts, cfg.groupSize, genOpts, cfg.eepo) : undefined;
  const gen = two ?? generate(policy, prompts, genOpts);
  // one sample: decoded completion, task reward of (GHPO hint +) completion, reward shaping
  const make = (group: string, item: RlTaskItem, promptIds: number[], g: Pick<typeof gen, 'tokens' | 'logprobs' | 'finished'>, j: number, hint?: string, hintRatio?: number): RolloutSample => {
    const completion = tok.decode(g.tokens[j]);
    const reward = task.reward(item, (hint ?? '') + completion, g.finished[j]);
    const L = g.tokens[j].length;
    const overlong = cfg.overlong.enabled ? cfg.overlong.factor * softOverlongPunishment(L, cfg.overlong.maxLength, cfg.overlong.cacheLength) : 0;
    const lengthPen = lengthPenalty(L, cfg.lengthPenalty.coef, cfg.lengthPenalty.target);
    // process rewards (a PRM, reward.type "process"): where each step ends in the tokens
    const ps = reward.steps ? stepTokenEnds(tok, g.tokens[j], g.finished[j], reward.steps, (hint ?? '').length) : undefined;
    return {
      group, item, promptIds, completion, tokens: g.tokens[j], sampleLogprobs: g.logprobs[j],
      finished: g.finished[j], reward, score: reward.score + overlong + lengthPen, overlong, lengthPen,
      ...(hint !== undefined ? { hint, hintRatio } : {}),
      ...(ps ? { stepEnds: ps.ends, stepRewards: ps.scores } : {}),
    };
  };
  const samples: RolloutSample[] = [];
  let tokens = 0;
  for (let i = 0; i < prompts.length; i++) {
    const p = Math.floor(i / cfg.groupSize);
    tokens += gen.tokens[i].length;
    const s = make(groupIds[p], items[p], prompts[i], gen, i);
    if (two) { s.eepoStage = two.stage[i]; s.forgetLoss = two.forgetLoss[i]; }
    samples.push(s);
  }
  const extraMetrics: Record<string, number> = { ...(two?.metrics ?? {}) };
  let groupHints: ({ hint: string; ratio: number; stage: number } | undefined)[] | undefined;
  if (cfg.ghpo?.enabled) {
    // GHPO: groups that failed entirely are regenerated with a growing hint (rl.ghpo)
    const r = ghpoRefine(policy, tok, cfg, step, samples, cfg.groupSize, genOpts, (item, promptIds, g, j, hint, ratio, old) => make(old.group, item, promptIds, g, j, hint, ratio));
    tokens += r.tokens;
    Object.assign(extraMetrics, r.metrics);
    groupHints = r.groupHints;
  }
  return { samples, items, groupIds, tokens, extraMetrics, groupHints };
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
  const extraMetrics: Record<string, number> = {};
  const want = cfg.promptsPerStep;
  const ds = cfg.dynamicSampling.enabled;
  while (true) {
    const keptGroups = groups.filter((g) => !g.filtered).length;
    const need = ds ? want - keptGroups : want;
    if (need <= 0 || (genBatches > 0 && !ds) || genBatches >= (ds ? cfg.dynamicSampling.maxGenBatches : 1)) break;
    const b = rolloutBatch(policy, task, tok, cfg, rng, ds ? want : need, step);
    genBatches++;
    generatedTokens += b.tokens;
    // EEPO / GHPO metrics of each generation batch: counts add up, means (eepo/*, ghpo/hint_ratio_mean) are averaged below
    for (const [k, v] of Object.entries(b.extraMetrics ?? {})) extraMetrics[k] = (extraMetrics[k] ?? 0) + v;
    for (let p = 0; p < b.items.length; p++) {
      const gs = b.samples.slice(p * cfg.groupSize, (p + 1) * cfg.groupSize);
      const rewards = gs.map((s) => s.score);
      generatedGroups++;
      const eq = gs.length > 1 && allEqual(rewards);
      if (eq) zeroStd++;
      const info: RolloutGroupInfo = { id: b.groupIds[p], prompt: b.items[p].prompt, answer: b.items[p].answer, samples: [], rewards, filtered: false };
      const gh = b.groupHints?.[p];
      if (gh) { info.hint = gh.hint; info.hintRatio = gh.ratio; info.hintStage = gh.stage; }
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
  for (const k of Object.keys(extraMetrics)) if (genBatches > 1 && (k.startsWith('eepo/') || k === 'ghpo/hint_ratio_mean')) extraMetrics[k] /= genBatches;
  return { samples: kept, groups, generatedGroups, zeroStdGroups: zeroStd, genBatches, generatedTokens, genSeconds: (Date.now() - t0) / 1000, extraMetrics };
}

