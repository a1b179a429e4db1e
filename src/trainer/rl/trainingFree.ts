/**
 * Training-Free GRPO (`algorithm: "tfgrpo"`, config section `tfgrpo`, preset `tfgrpo-calc`; docs/algorithms.md
 * "Training-Free GRPO"). The policy's weights are frozen: nothing is trained after the warm start. An experience
 * library E sits in the prompt; each step takes a batch of queries from a small fixed training set, runs G episodes
 * per query with the current E, scores them, keeps the groups whose rewards differ, summarises each rollout, asks the
 * extractor for the group's "semantic advantage" as library operations (Add / Delete / Modify / Keep), and applies
 * them (algorithms/trainingFree.ts). Several epochs over the training set. The loop follows the authors'
 * training_free_grpo/train.py (TencentCloudADP/youtu-agent, branch training_free_GRPO): per epoch a shuffled copy of
 * the data, per batch: format the problems with the experiences, duplicate each grpo_n times, roll out, verify,
 * ExperienceUpdater().run → the next step's experiences.
 *
 * The extractor: the built-in rules (algorithms/trainingFreeRules.ts, the stand-in for the paper's LLM) or a user
 * module (`tfgrpo.extractor.module`, loaded with userModule.ts, refused in an untrusted workspace).
 *
 * What the run records: per step `experiences.jsonl` (the library the rollouts saw, every operation with its text,
 * rationale and group, the library after), the step's rollouts with `header.experiences` / `header.experienceOps`
 * (the group view shows them), metrics tfgrpo/*; at the start and after every epoch a paired eval (same seed) of the
 * frozen model with the library (the run's eval: eval.jsonl, eval/pass@k) and without it (the record's `baseline`,
 * eval/pass@k_no_library); at the end `library.json`.
 */
import * as fs from 'fs';
import * as path from 'path';
import { registerAlgorithm, registerConfigSection, type AlgorithmModule } from '../registry';
import type { TrainContext } from '../engine';
import type { TrainConfig } from '../config';
import { sectionDefaults, sectionSchema, type Fields } from '../fields';
import { Rng } from '../rng';
import { engineWarmStart } from './warmstart';
import type { CausalLM } from '../model/types';
import { loadUserModule } from '../userModule';
import { appendJsonLine, writeFileAtomic } from '../../runio/writer';
import { passAtK } from '../../shared/passAtK';
import { arrayNamesOf } from '../../shared/rolloutStep';
import type { EvalRecord, RolloutSampleInput } from '../../shared/runFormat';
import type { EnvItem, Environment } from '../envs/types';
import { RL_FIELDS, type RlConfig } from './config';
import { evalEpisodes, multiTurnRollout } from './multiturn';
import { rlTaskFrom, type RlTokenizer } from './types';
import type { RolloutResult } from './rollout';
import {
  applyExperienceOps, assemblePrompt, checkOps, countOps, formatLibrary, groupStats, selectGroupsByVariance,
  type AppliedOp, type Experience, type ExperienceOp,
} from '../algorithms/trainingFree';
import { ruleCritique, summarizeRollout, type GroupView, type RolloutView } from '../algorithms/trainingFreeRules';

/** Every field of the `tfgrpo` section, once (schema, default, meaning, reference); docs/config.md is generated from it. */
export const TFGRPO_FIELDS: Fields = {
  trainSize: { schema: { type: 'integer', minimum: 1 }, default: 32, doc: 'size of the fixed training set (problems drawn once from the environment\'s train split); the epochs go over it', ref: 'training_free_grpo/train.py --dataset_truncate; the paper learns from ~100 problems (survey seed, "仅用100条训练样本")' },
  batchSize: { schema: { type: 'integer', minimum: 1 }, default: 8, doc: 'problems per step (each gets groupSize episodes); the last batch of an epoch may be smaller', ref: 'training_free_grpo/train.py --batchsize (64 there; it asserts the data divides evenly)' },
  groupSize: { schema: { type: 'integer', minimum: 2 }, default: 5, doc: 'episodes per problem (G), all with the same library', ref: 'training_free_grpo/train.py --grpo_n 5' },
  epochs: { schema: { type: 'integer', minimum: 1 }, default: 3, doc: 'passes over the training set (reshuffled each epoch); steps = epochs × ⌈trainSize / batchSize⌉, capped by train.steps', ref: 'training_free_grpo/train.py --epochs 2 (shuffled copy of the data per epoch)' },
  select: { schema: { type: 'string', enum: ['variance', 'partial'] }, default: 'variance', doc: 'which groups are compared: variance = the rewards differ (std > minStd); partial = the authors\' filter, 0 < mean accuracy < 1 (the reward part "accuracy", or correct / wrong)', ref: 'training_free_grpo/math/experience.py _single_rollout_summary (only_partial_correct: 0 < avg_score < 1)' },
  minStd: { schema: { type: 'number', minimum: 0 }, default: 0, doc: 'select "variance": a group is compared when its reward std (population) is above this', ref: 'all-equal groups carry no signal (GRPO advantages all 0)' },
  maxOperations: { schema: { type: 'integer', minimum: 1 }, default: 1, doc: 'library operations one group may propose (its semantic advantage)', ref: 'training_free_grpo/math/experience.py _single_query_critique max_operations=1' },
  maxExperiences: { schema: { type: 'integer', minimum: 1 }, default: 4, doc: 'bound on the library\'s entries: an add beyond it is rejected (recorded with the reason)', ref: 'ours: the prompt must fit the context' },
  maxLibraryTokens: { schema: { type: ['integer', 'null'], minimum: 1 }, default: null, doc: 'bound on the library prefix in tokens; null = the room the context leaves (contextLength − the longest problem with BOS − rl.env.maxTokens); more than that room is an error. An add / modify that would exceed it is rejected', ref: 'ours: the prompt must fit the context' },
  separator: { schema: { type: 'string' }, default: ' ', doc: 'text after each experience in the prompt (the built-in char model\'s alphabet has no newline): prompt = e₁ + sep + e₂ + sep + … + problem', ref: 'training_free_grpo/web/prompts.py PROBLEM_WITH_EXPERIENCE_TEMPLATE (experiences, then the problem)' },
  evalWithoutLibrary: { schema: { type: 'boolean' }, default: true, doc: 'evaluate the frozen model without the library too (same seed, same problems) at the start and after every epoch: the reward the library buys', ref: 'the paper\'s baseline: the same model without experiences' },
  extractor: {
    doc: 'who turns a group\'s comparison into library operations',
    fields: {
      module: { schema: { type: ['string', 'null'], minLength: 1 }, default: null, doc: 'path of a JS module exporting an extractor { name, critique(input) → ops (may be async), summarize?(rollout), formatPrompt?(library, problem) } (e.g. one that asks an LLM); null = the built-in rules for calc-tool / lookup-tool. Only loaded in a trusted workspace (as task.rewardModule)', ref: 'docs/algorithms.md "Training-Free GRPO"; training_free_grpo/math/experience.py ExperienceUpdater (the LLM stages it replaces)' },
    },
  },
  warmStart: RL_FIELDS.warmStart,
};

export const TFGRPO_SCHEMA: Record<string, unknown> = sectionSchema(TFGRPO_FIELDS, { withDefaults: true, description: 'Training-Free GRPO (algorithm tfgrpo): experience library in the prompt, weights frozen (docs/algorithms.md)' });

export interface TfgrpoConfig {
  trainSize: number; batchSize: number; groupSize: number; epochs: number; select: 'variance' | 'partial'; minStd: number;
  maxOperations: number; maxExperiences: number; maxLibraryTokens: number | null; separator: string; evalWithoutLibrary: boolean;
  extractor: { module: string | null };
  warmStart: { steps: number; batchSize: number; lr: number; demoNoise: number };
}

/** The section with its defaults (nested objects merged field by field). */
export function resolveTfgrpoConfig(sec: unknown): TfgrpoConfig {
  const d = sectionDefaults(TFGRPO_FIELDS) as unknown as TfgrpoConfig;
  const u = (sec && typeof sec === 'object' ? sec : {}) as Partial<TfgrpoConfig>;
  return { ...d, ...u, extractor: { ...d.extractor, ...(u.extractor ?? {}) }, warmStart: { ...d.warmStart, ...(u.warmStart ?? {}) } };
}

/** Steps of a run: epochs × ⌈trainSize / batchSize⌉, capped by train.steps. */
export function tfgrpoSteps(c: Pick<TfgrpoConfig, 'epochs' | 'trainSize' | 'batchSize'>, trainSteps = Infinity): number {
  return Math.min(trainSteps, c.epochs * Math.ceil(c.trainSize / c.batchSize));
}

/** The run's plan as the log states it; says when train.steps cuts the epochs short. */
export function tfgrpoPlan(c: Pick<TfgrpoConfig, 'epochs' | 'trainSize' | 'batchSize'>, trainSteps = Infinity): string {
  const perEpoch = Math.ceil(c.trainSize / c.batchSize), planned = c.epochs * perEpoch, steps = tfgrpoSteps(c, trainSteps);
  const note = steps < planned ? `${steps} steps: train.steps ${trainSteps} caps the ${planned} the epochs would take` : `${steps} steps`;
  return `${c.trainSize} training problems, ${c.epochs} epoch(s) × ${perEpoch} batches of ${c.batchSize} (${note})`;
}

/** Checks beyond the schema; throws naming the field and the fix. */
export function validateTfgrpoConfig(config: Record<string, unknown>): void {
  const c = resolveTfgrpoConfig(config.tfgrpo);
  const task = (config.task as { name?: string } | undefined)?.name;
  const envMod = ((config.rl as { env?: { module?: unknown } } | undefined)?.env?.module);
  if (task !== 'calc-tool' && task !== 'lookup-tool' && !envMod) throw new Error(`task.name: tfgrpo runs multi-turn episodes; use a task with an environment ("calc-tool" or "lookup-tool") or rl.env.module, got ${JSON.stringify(task)}`);
  if (c.batchSize > c.trainSize) throw new Error(`tfgrpo.batchSize: must be ≤ tfgrpo.trainSize (${c.trainSize}), got ${c.batchSize}`);
  if (c.separator.includes('\u0000')) throw new Error('tfgrpo.separator: must not contain NUL');
  const rl = config.rl as Record<string, unknown> | undefined;
  for (const k of Object.keys(rl ?? {})) if (k !== 'env') throw new Error(`rl.${k}: algorithm tfgrpo reads only rl.env (episode limits, user environment) from the rl section; its own settings are in tfgrpo (docs/config.md), and nothing is trained`);
  if (config.model && (config.model as { pretrained?: unknown }).pretrained && c.warmStart.steps > 0) { /* a pretrained model has no warm start (as the RL algorithms) */ }
}

/** What an experience extractor module exports (docs/algorithms.md "A user extractor"). */
export interface ExperienceExtractor {
  name: string;
  /** stage 1: one rollout's summary (the built-in: calls, answer, correct); may be async */
  summarize?(rollout: RolloutView & { problem: string; answer?: string }): string | Promise<string>;
  /** stages 2 + 3: the group's operations against the library (at most maxOperations are used); may be async */
  critique(input: { group: GroupView; summaries: string[]; library: Experience[]; maxOperations: number; step: number; epoch: number }): ExperienceOp[] | Promise<ExperienceOp[]>;
  /** the prompt with the library (default: each experience + separator, then the problem) */
  formatPrompt?(library: Experience[], problem: string): string;
}

/** The built-in rule-based extractor (algorithms/trainingFreeRules.ts). */
export const RULE_EXTRACTOR: ExperienceExtractor = {
  name: 'rules',
  summarize: (r) => summarizeRollout(r).text,
  critique: ({ group, library, maxOperations }) => ruleCritique(group, library, maxOperations),
};

/** Check that an object is an extractor; throws naming the missing member. */
export function checkExtractor(x: unknown, where: string): ExperienceExtractor {
  const o = (x && typeof x === 'object' && 'default' in (x as object) && (x as { default?: unknown }).default ? (x as { default: unknown }).default : x) as Record<string, unknown>;
  if (!o || typeof o !== 'object') throw new Error(`${where}: must export an extractor object { name, critique }, got ${typeof x}`);
  if (typeof o.name !== 'string' || !o.name) throw new Error(`${where}: extractor.name must be a non-empty string`);
  if (typeof o.critique !== 'function') throw new Error(`${where}: extractor.critique must be a function (group, summaries, library, maxOperations) → [{ op, id?, text?, rationale }] (docs/algorithms.md)`);
  for (const k of ['summarize', 'formatPrompt'] as const) if (o[k] !== undefined && typeof o[k] !== 'function') throw new Error(`${where}: extractor.${k} must be a function when given`);
  return o as unknown as ExperienceExtractor;
}

/** Load `tfgrpo.extractor.module`; refused unless the workspace is trusted. */
export function loadUserExtractor(modulePath: string, opts: { trusted: boolean; baseDir?: string }): ExperienceExtractor {
  const { abs, mod } = loadUserModule(modulePath, opts, 'tfgrpo.extractor.module', 'an experience extractor module runs code');
  return checkExtractor(mod, `tfgrpo.extractor.module ${abs}`);
}

/** One line of experiences.jsonl (docs/run-format.md). */
export interface ExperienceStepRecord {
  step: number; epoch: number; batch: number;
  /** the library the step's rollouts saw */
  seen: Experience[];
  /** the groups compared (reward variance) and all groups */
  selectedGroups: string[]; groups: number;
  ops: (AppliedOp & { prompt?: string })[];
  /** the library after the step (what the next step sees) */
  library: Experience[];
  libraryTokens: number;
  extractor: string;
}

interface Deps { policy: CausalLM; env: Environment; tok: RlTokenizer; contextLength: number; maxNewTokens: number; temperature: number; topP: number; maxTurns: number; maxTokens: number }

function rolloutCfg(d: Deps, groupSize: number): RlConfig {
  return { promptsPerStep: 0, groupSize, maxNewTokens: d.maxNewTokens, temperature: d.temperature, topP: d.topP, dynamicSampling: { enabled: false, maxGenBatches: 1 } } as unknown as RlConfig;
}

/** Paired eval: the same items and seed with a prompt builder; → pass@k, mean reward, the first 16 items (eval.jsonl). */
export function evalWithPrompt(d: Deps, items: EnvItem[], prompt: (p: string) => string, o: { n: number; temperature: number; k: number[]; seed: number }): { passAtK: Record<string, number>; meanReward: number; items: NonNullable<EvalRecord['items']> } {
  const e = evalEpisodes(d.policy, d.env, d.tok, items.map((it) => ({ ...it, prompt: prompt(it.prompt) })), o.n, { maxTurns: d.maxTurns, maxTokens: d.maxTokens, contextLength: d.contextLength, maxNewTokens: d.maxNewTokens, temperature: o.temperature, topP: d.topP, rng: new Rng(o.seed) });
  const pk: Record<string, number> = {};
  for (const k of o.k) if (k <= o.n) pk[String(k)] = e.correct.reduce((a, c) => a + passAtK(o.n, c, k), 0) / Math.max(1, items.length);
  return {
    passAtK: pk, meanReward: e.rewards.flat().reduce((a, b) => a + b, 0) / Math.max(1, items.length * o.n),
    items: items.slice(0, 16).map((it, i) => ({ prompt: prompt(it.prompt), completions: e.texts[i], rewards: e.rewards[i], correct: e.correct[i] })),
  };
}

/**
 * The eval seed of every tfgrpo eval: the engine's (engine.ts evalRng, config.seed ^ 0x5eed), fresh for each eval, so
 * "without the library" is the number the engine's first eval of the same model gives (gigpo-calc's step 0), and is
 * the same at every eval of the frozen model.
 */
export const tfgrpoEvalSeed = (seed: number): number => seed ^ 0x5eed;

/** The step's rollouts as the run stores them, with the library they saw and the operations they led to. */
function traceStep(step: number, ro: RolloutResult, tok: RlTokenizer, selected: Set<string>, seen: Experience[], ops: AppliedOp[], params: Record<string, number | string | boolean>, full: boolean) {
  const groups = ro.groups.map((g) => {
    const s = groupStats(g.rewards);
    return { id: g.id, prompt: g.prompt, ...(g.answer !== undefined ? { answer: g.answer } : {}), samples: g.samples, rewards: g.rewards, mean: s.mean, std: s.std, filtered: !selected.has(g.id), ...(!selected.has(g.id) ? { filterReason: 'no reward variance: not compared' } : {}) };
  });
  const samples: RolloutSampleInput[] = ro.samples.map((s) => ({
    group: s.group, prompt: s.item.prompt, completion: s.completion, tokens: tok.display(s.tokens), tokenIds: s.tokens,
    reward: s.score, rewardParts: { ...s.reward.parts }, length: s.tokens.length, truncated: !s.finished,
    ...(s.turns ? { turns: s.turns } : {}),
  }));
  const arrays = full ? ro.samples.map((s) => {
    const m = s.lossMask ?? new Array<number>(s.tokens.length).fill(1);
    return { logprob: s.sampleLogprobs.slice(0, s.tokens.length), mask: m.slice(), loss_mask: m.slice() };
  }) : ro.samples.map(() => ({}));
  return { header: { step, algorithm: 'tfgrpo', arrays: arrayNamesOf(arrays), groups, params, experiences: seen, experienceOps: ops }, samples, arrays };
}

async function runTfgrpo(ctx: TrainContext): Promise<void> {
  const c = resolveTfgrpoConfig(ctx.section);
  const task = rlTaskFrom(ctx.task);
  const env = task.env;
  if (!env) throw new Error(`tfgrpo: task ${ctx.task.name} has no environment; use calc-tool, lookup-tool or rl.env.module`);
  const lim = ((ctx.config.rl as { env?: { maxTurns?: number; maxTokens?: number } } | undefined)?.env) ?? {};
  const envDefaults = sectionDefaults(RL_FIELDS.env.fields!) as { maxTurns: number; maxTokens: number };
  const maxTurns = lim.maxTurns ?? envDefaults.maxTurns, maxTokens = lim.maxTokens ?? envDefaults.maxTokens;
  const extractor = c.extractor.module ? loadUserExtractor(c.extractor.module, { trusted: ctx.trusted ?? true }) : RULE_EXTRACTOR;
  // warm start: the same loop, data and seed as the RL algorithms' (rl/register.ts runAlgorithm), so tfgrpo-calc
  // starts from the very model gigpo-calc starts from
  if (!ctx.config.model.pretrained && !ctx.config.init?.checkpoint && c.warmStart.steps > 0) {
    const ws = c.warmStart;
    ctx.log(`tfgrpo: no init.checkpoint: supervised warm start first (${ws.steps} steps, demoNoise ${ws.demoNoise}); then the weights stay frozen`);
    if (await engineWarmStart(ctx, ws, 'tfgrpo', 'tfgrpo.warmStart.lr') === 'stopped') return;
    ctx.checkpoint(0, 'sft');
  }
  const policy = ctx.policy as unknown as CausalLM;
  const tok = ctx.tokenizer as unknown as RlTokenizer;
  const d: Deps = { policy, env, tok, contextLength: policy.config.contextLength, maxNewTokens: ctx.config.derived.maxNewTokens, temperature: ctx.config.sampling.temperature > 0 ? ctx.config.sampling.temperature : 1, topP: ctx.config.sampling.topP, maxTurns, maxTokens };
  // the fixed training set (drawn once) and the eval problems
  const dataRng = ctx.rng.fork(23);
  const train: EnvItem[] = Array.from({ length: c.trainSize }, () => env.sample(dataRng, 'train'));
  const evalItems = env.evalItems(ctx.config.eval.numPrompts);
  // the library's room: what the context leaves after BOS + the longest problem + the episode's budget
  const longest = Math.max(...[...train, ...evalItems].map((it) => tok.encode(it.prompt, { bos: true }).length));
  const room = d.contextLength - longest - maxTokens;
  if (c.maxLibraryTokens !== null && c.maxLibraryTokens > room) throw new Error(`tfgrpo.maxLibraryTokens: ${c.maxLibraryTokens} does not fit: model.contextLength ${d.contextLength} − the longest problem with BOS (${longest}) − rl.env.maxTokens (${maxTokens}) leaves ${room}; lower it, or raise model.contextLength (a fresh model) / lower rl.env.maxTokens`);
  if (room < 1) throw new Error(`tfgrpo: no room for a library: model.contextLength ${d.contextLength} − the longest problem with BOS (${longest}) − rl.env.maxTokens (${maxTokens}) = ${room}; raise model.contextLength (tfgrpo-calc uses 64) or lower rl.env.maxTokens`);
  const maxLibTokens = c.maxLibraryTokens ?? room;
  const format = (lib: Experience[], problem: string) => extractor.formatPrompt ? String(extractor.formatPrompt(lib.map((e) => ({ ...e })), problem)) : assemblePrompt(lib, problem, c.separator);
  const measure = (lib: readonly Experience[]) => (lib.length ? tok.encode(format([...lib], '')).length : 0);
  const check = (text: string): string | undefined => {
    try { tok.encode(text); } catch (e) { return `not in the tokenizer's alphabet: ${(e as Error).message}`; }
    return undefined;
  };
  const steps = tfgrpoSteps(c, ctx.config.train.steps);
  const perEpoch = Math.ceil(c.trainSize / c.batchSize);
  ctx.log(`tfgrpo: ${tfgrpoPlan(c, ctx.config.train.steps)}, G = ${c.groupSize}; library ≤ ${c.maxExperiences} experiences, ≤ ${maxLibTokens} tokens; extractor ${extractor.name}; weights frozen`);
  const ev = ctx.config.eval;
  const evalN = ev.temperature > 0 ? ev.samplesPerPrompt : 1;
  const pct = (pk: Record<string, number>) => Object.entries(pk).map(([k, v]) => `pass@${k} ${(100 * v).toFixed(1)}%`).join(' ');
  // the run's eval (eval.jsonl, eval/pass@k: what the tree, dashboard and doctor read) is the policy = the frozen model
  // WITH the library; the model without it is the record's `baseline` ("no_library") and eval/pass@k_no_library, from
  // the same problems, samples and seed (tfgrpoEvalSeed), so the engine's final eval is not needed (it is skipped)
  const doEval = (step: number, lib: Experience[]) => {
    const o = { n: evalN, temperature: ev.temperature, k: ev.k, seed: tfgrpoEvalSeed(ctx.config.seed) };
    const withLib = evalWithPrompt(d, evalItems, (p) => (lib.length ? format(lib, p) : p), o);
    const vals: Record<string, number | null> = {};
    const rec: EvalRecord = { step, passAtK: withLib.passAtK, samplesPerPrompt: evalN, numPrompts: evalItems.length, meanReward: withLib.meanReward, items: withLib.items };
    let line = `eval step ${step}: with the library (${lib.length}) ${pct(withLib.passAtK)}`;
    if (c.evalWithoutLibrary) {
      const without = lib.length ? evalWithPrompt(d, evalItems, (p) => p, o) : withLib;
      rec.baseline = { name: 'no_library', label: 'the frozen model without the library', passAtK: without.passAtK, meanReward: without.meanReward };
      vals['eval/reward/mean_no_library'] = without.meanReward;
      for (const [k, v] of Object.entries(without.passAtK)) { vals[`eval/pass@${k}_no_library`] = v; vals[`eval/pass@${k}_gain`] = (withLib.passAtK[k] ?? NaN) - v; }
      line += `; without ${pct(without.passAtK)}`;
      if (lib.length) {
        // a control for the position shift alone: the library's length in blanks (the same number of characters
        // before the problem, no content); differs from "with the library" only by what the experiences say
        const blank = ' '.repeat(format(lib, '').length);
        const ctl = evalWithPrompt(d, evalItems, (p) => blank + p, o);
        for (const [k, v] of Object.entries(ctl.passAtK)) vals[`eval/pass@${k}_blank_prefix`] = v;
        line += `; blank prefix of the same length ${pct(ctl.passAtK)}`;
      }
    }
    ctx.recordEval(rec, { metrics: vals, message: `${line} (${evalItems.length} problems × ${evalN}, eval seed ${o.seed}: the frozen model, paired)` });
  };
  let library: Experience[] = [];
  let nextId = 0;
  const expFile = path.join(ctx.runDir, 'experiences.jsonl');
  fs.writeFileSync(expFile, '');
  if (ctx.config.eval.atStart !== false) doEval(0, library);
  await ctx.yield();
  const shuffleRng = ctx.rng.fork(29);
  const rolloutRng = ctx.rng.fork(31);
  let step = 0;
  for (let epoch = 1; epoch <= c.epochs && step < steps; epoch++) {
    // a shuffled copy of the training set per epoch (train.py)
    const order = train.map((_, i) => i);
    for (let i = order.length - 1; i > 0; i--) { const j = shuffleRng.int(i + 1); [order[i], order[j]] = [order[j], order[i]]; }
    for (let b = 0; b < perEpoch && step < steps; b++) {
      step++;
      const ts = Date.now();
      const seen = library.map((e) => ({ ...e }));
      const batch = order.slice(b * c.batchSize, (b + 1) * c.batchSize).map((i) => train[i]);
      const items = batch.map((it) => ({ ...it, prompt: seen.length ? format(seen, it.prompt) : it.prompt, problem: it.prompt }));
      const ro = multiTurnRollout(policy, env, tok, rolloutCfg(d, c.groupSize), rolloutRng, step, { maxTurns, maxTokens, contextLength: d.contextLength }, items);
      // which groups carry a signal
      const acc = (i: number) => { const s = ro.samples[i]; return s.reward.parts.accuracy ?? (s.reward.correct ? 1 : 0); };
      const sel = selectGroupsByVariance(ro.groups.map((g) => ({ rewards: g.rewards, accuracy: g.samples.map(acc) })), c.select, c.minStd);
      const selected = new Set(sel.map((i) => ro.groups[i].id));
      // stages 1–2 per selected group: summaries, then the extractor's operations
      const proposed: (ExperienceOp & { prompt?: string })[] = [];
      for (const gi of sel) {
        const g = ro.groups[gi];
        const problem = String(batch[gi].prompt);
        const rollouts: RolloutView[] = g.samples.map((i) => ({ index: i, score: ro.samples[i].score, correct: ro.samples[i].reward.correct, finished: ro.samples[i].finished, turns: ro.samples[i].turns ?? [], completion: ro.samples[i].completion }));
        const group: GroupView = { id: g.id, problem, ...(g.answer !== undefined ? { answer: g.answer } : {}), rollouts };
        const summaries = await Promise.all(rollouts.map(async (r) => (extractor.summarize ? String(await extractor.summarize({ ...r, problem, ...(g.answer !== undefined ? { answer: g.answer } : {}) })) : '')));
        const raw = await extractor.critique({ group, summaries, library: library.map((e) => ({ ...e })), maxOperations: c.maxOperations, step, epoch });
        const ops = checkOps(raw, `tfgrpo extractor ${extractor.name}: critique of group ${g.id}`).slice(0, c.maxOperations);
        for (const op of ops) proposed.push({ ...op, group: g.id, prompt: problem });
      }
      // stage 3: the batch update, within the bounds
      const r = applyExperienceOps(library, proposed, { maxExperiences: c.maxExperiences, maxTokens: maxLibTokens }, { nextId, measure, check });
      library = r.library; nextId = r.nextId;
      const counts = countOps(r.applied);
      const libTokens = measure(library);
      const rec: ExperienceStepRecord = { step, epoch, batch: b + 1, seen, selectedGroups: [...selected], groups: ro.groups.length, ops: r.applied, library, libraryTokens: libTokens, extractor: extractor.name };
      appendJsonLine(expFile, rec);
      const scores = ro.samples.map((s) => s.score);
      const metrics: Record<string, number | null> = {
        'reward/mean': scores.reduce((a, x) => a + x, 0) / Math.max(1, scores.length),
        'tfgrpo/accuracy': ro.samples.filter((s) => s.reward.correct).length / Math.max(1, ro.samples.length),
        'tfgrpo/library_size': library.length, 'tfgrpo/library_size_seen': seen.length, 'tfgrpo/library_tokens': libTokens,
        'tfgrpo/groups_selected': sel.length, 'tfgrpo/groups_selected_frac': sel.length / Math.max(1, ro.groups.length), 'tfgrpo/epoch': epoch,
        'tfgrpo/ops/add': counts.add, 'tfgrpo/ops/delete': counts.delete, 'tfgrpo/ops/modify': counts.modify, 'tfgrpo/ops/keep': counts.keep, 'tfgrpo/ops/rejected': counts.rejected,
        'zero_std_groups/frac': (ro.groups.length - sel.length) / Math.max(1, ro.groups.length),
        'response_length/mean': ro.samples.reduce((a, s) => a + s.tokens.length, 0) / Math.max(1, ro.samples.length),
        'timing/gen_s': ro.genSeconds, step_time: (Date.now() - ts) / 1000,
        ...(ro.extraMetrics ?? {}),
      };
      const full = ctx.traceStep(step);
      const t = traceStep(step, ro, tok, selected, seen, r.applied, { algorithm: 'tfgrpo', groupSize: c.groupSize, temperature: d.temperature, envMaxTurns: maxTurns, envMaxTokens: maxTokens, epoch, extractor: extractor.name }, full);
      ctx.rollout(step, t.header, t.samples, t.arrays, { force: true });
      ctx.step(step, metrics, { tokens: ro.generatedTokens });
      ctx.log(`step ${step}/${steps} (epoch ${epoch}): reward ${Number(metrics['reward/mean']).toFixed(3)}, ${sel.length}/${ro.groups.length} groups compared, ops +${counts.add} −${counts.delete} ~${counts.modify} =${counts.keep} ✗${counts.rejected}, library ${library.length} (${libTokens} tokens)`);
      if (b === perEpoch - 1 || step === steps) doEval(step, library);
      await ctx.yield();
      if (ctx.stopRequested()) break;
    }
    if (ctx.stopRequested()) break;
  }
  writeFileAtomic(path.join(ctx.runDir, 'library.json'), JSON.stringify({ step, extractor: extractor.name, separator: c.separator, experiences: library, prompt: format(library, '<problem>') }, null, 2) + '\n');
}

const MODULE: AlgorithmModule = {
  name: 'tfgrpo',
  kind: 'rl',
  section: 'tfgrpo',
  summary: 'Training-Free GRPO: weights frozen; an experience library in the prompt, updated (add / delete / modify / keep) from the comparison of better and worse rollouts of each group with reward variance',
  configSchema: TFGRPO_SCHEMA,
  needsReference: false,
  totalSteps: (config) => tfgrpoSteps(resolveTfgrpoConfig(config.tfgrpo), (config.train as TrainConfig['train'] | undefined)?.steps),
  validate: validateTfgrpoConfig,
  run: runTfgrpo,
};
registerAlgorithm(MODULE);
// the extractor module's path is relative to the config file (as task.rewardModule, rl.env.module)
registerConfigSection({
  name: 'tfgrpo', schema: TFGRPO_SCHEMA,
  resolvePaths: (v, baseDir) => {
    const x = (v as { extractor?: { module?: unknown } } | undefined)?.extractor;
    if (x && typeof x.module === 'string') x.module = path.resolve(baseDir, x.module);
  },
});
