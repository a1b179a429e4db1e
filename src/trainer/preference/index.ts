/**
 * Registers the preference family with the trainer's algorithm registry:
 *   dpo, ipo, kto, orpo, simpo, odpo   (offline preference optimisation, ./train.ts)
 *   reward_model                       (Bradley–Terry / K-wise reward model, ./rewardModel.ts)
 *   pipeline                           (SFT → reward model → PPO/GRPO with the learned reward, ./pipeline.ts)
 * Each reads its own config section (config.dpo, config.reward_model, ...); also the top-level `reward` section (a
 * learned reward for RL runs) and the presets. Imported once from ../plugins.ts (by the entry points).
 */
import * as path from 'path';
import type { TrainContext } from '../engine';
import { registerAlgorithm, registerConfigSection, type AlgorithmModule } from '../registry';
import { sampleGroups } from '../sampling';
import type { Task } from '../tasks/types';
import { Rng } from '../rng';
import {
  contrastPairs, convertPreferenceData, correctnessPairs, formatProblem, hiddenScore, rankingToPairs, loadPreferenceFile, splitByPrompt, syntheticPairs, syntheticRankings, taskExamples, unpairPreferences,
  type LoadedPreferenceData, type PairRecord, type PreferenceKind, type RankingRecord, type UnpairedRecord,
} from './data';
import { PREFERENCE_FIELDS, PREFERENCE_METHODS, PreferenceTrainer, needsReference, preferenceDefaults, type PreferenceHyper, type PreferenceMethod } from './train';
import { sectionSchema, type Fields } from '../fields';
import { REWARD_CONFIG_SCHEMA, RewardModelTrainer, resolveRewardPaths, rewardModelDefaults, scoreWithRewardModel, withLearnedReward, zeroScalarHead, type ModelRewardSpec } from './rewardModel';
import { pipelineModule } from './pipeline';
import { charModel } from '../charModel';
// step-level methods (tasks with steps, tasks/steps.ts): Step-DPO (./stepDpo.ts), the process reward model (./prm.ts)
import './stepDpo';
import { withProcessReward, type ProcessRewardSpec } from './prm';

/** JSON Schema of the `data` part shared by every preference section. */
export const PREFERENCE_DATA_SCHEMA = {
  type: 'object', additionalProperties: false,
  description: 'preference data: a JSONL file in TRL format, or (default) a built-in synthetic set derived from the task with a hidden scoring rule',
  properties: {
    path: { type: 'string', minLength: 1, description: 'JSONL training data ({prompt, chosen, rejected} | {prompt, completion, label} | {prompt, completions, ranking}); relative paths are resolved from the working directory' },
    evalPath: { type: 'string', minLength: 1, description: 'held-out JSONL (same formats); default: evalFraction of the prompts of `path`' },
    evalFraction: { type: 'number', minimum: 0, maximum: 0.9, default: 0.1, description: 'share of prompts held out when there is no evalPath' },
    allowBadLines: { type: 'boolean', default: false, description: 'skip bad lines (counted, reported as a warning and in the manifest) instead of refusing to start' },
    builtin: {
      type: 'object', additionalProperties: false,
      properties: {
        count: { type: 'integer', minimum: 2, maximum: 1000000, default: 512, description: 'training prompts of the built-in set' },
        evalCount: { type: 'integer', minimum: 1, maximum: 100000, default: 64, description: 'held-out prompts (from the task\'s eval split)' },
        k: { type: 'integer', minimum: 2, maximum: 8, default: 4, description: 'candidates per prompt (K of the K-wise rankings)' },
        flipProb: { type: 'number', minimum: 0, maximum: 0.5, default: 0, description: 'label noise: probability a pair is flipped' },
        seed: { type: 'integer', minimum: 0, default: 7 },
        wrongPerPrompt: { type: 'integer', minimum: 1, maximum: 16, default: 3, description: 'source contrast: (answer, same-format wrong answer) pairs per prompt' },
        shorterPerPrompt: { type: 'integer', minimum: 0, maximum: 8, default: 2, description: 'source contrast: (answer, shorter wrong answer) pairs per prompt; 0 leaves "shorter wins" as a shortcut (the reward-hacking preset)' },
        source: { type: 'string', enum: ['synthetic', 'policy', 'contrast', 'contrast+policy'], default: 'synthetic', description: 'synthetic: rule-made candidates (answer, verbose, near misses, wrong); contrast: pairs balanced so that only correctness separates most of them (answer vs same-length same-format wrong answers, answer vs answer+extra, correct+extra vs wrong+same extra, answer vs shorter wrong answers; data.ts contrastPairs); policy: the starting policy\'s own samples (+ the answer), ranked by the hidden rule, as InstructGPT labelers rank model outputs; contrast+policy: both (the pipeline default)' },
      },
    },
  },
} as const;

/** JSON Schema of a method's section: derived from PREFERENCE_FIELDS (train.ts), + the shared `data` part. */
function methodSchema(method: PreferenceMethod): Record<string, unknown> {
  const s = sectionSchema(PREFERENCE_FIELDS, { withDefaults: true, algorithm: method }) as { properties: Record<string, unknown> };
  s.properties.data = PREFERENCE_DATA_SCHEMA;
  return s;
}

interface DataSection {
  path?: string; evalPath?: string; evalFraction?: number; allowBadLines?: boolean;
  builtin?: { count?: number; evalCount?: number; k?: number; flipProb?: number; seed?: number; source?: 'synthetic' | 'policy' | 'contrast' | 'contrast+policy'; wrongPerPrompt?: number; shorterPerPrompt?: number };
}

/** A config path: absolute, or relative to the working directory (also used by ./offline.ts). */
export function resolvePath(p: string): string { return path.isAbsolute(p) ? p : path.resolve(process.cwd(), p); }

/** Report what a file gave (counts; skipped lines as a warning) in the log and the manifest. */
function reportLoaded(ctx: TrainContext, d: LoadedPreferenceData, role: 'train' | 'eval'): void {
  const c = d.counts;
  ctx.log(`data (${role}): ${d.records.length} ${d.kind} records from ${d.file} (${c.lines} lines, ${c.blankLines} blank, ${c.badLines} bad)`);
  if (d.problems.length) {
    ctx.warn(`data (${role}): skipped ${c.badLines} bad line(s) of ${d.file} (data.allowBadLines is on); first: ${formatProblem(d.problems[0])}`, 'bad_data_lines');
  }
  const prev = (ctx.writer.current.data as Record<string, unknown> | undefined) ?? {};
  ctx.writer.updateManifest({ data: { ...prev, [role]: { file: d.file, kind: d.kind, counts: c, problems: d.problems.slice(0, 50), problemCount: d.problems.length } } });
}

/**
 * Training and held-out data for a method, in the kind it needs. From data.path (+ data.evalPath or a split by prompt)
 * or the built-in synthetic set of the run's task (train split prompts for training, the task's eval split for eval).
 */
export function resolvePreferenceData(ctx: TrainContext, data: DataSection, want: PreferenceKind): { train: (PairRecord | UnpairedRecord | RankingRecord)[]; eval: (PairRecord | UnpairedRecord | RankingRecord)[]; kind: PreferenceKind } {
  if (!data.path && ctx.config.model.pretrained) throw new Error(`${ctx.config.algorithm}.data.path: a pretrained model needs your preference data (JSONL, docs/preference.md "Data"); the built-in data is made from the arithmetic tasks for the character model`);
  if (data.path) {
    const allow = Boolean(data.allowBadLines);
    const tr = loadPreferenceFile(resolvePath(data.path), { expect: want === 'ranking' ? undefined : want, allowBadLines: allow });
    reportLoaded(ctx, tr, 'train');
    const kind = tr.kind;
    let train = tr.records as (PairRecord | UnpairedRecord | RankingRecord)[];
    let ev: (PairRecord | UnpairedRecord | RankingRecord)[] = [];
    if (data.evalPath) {
      const e = loadPreferenceFile(resolvePath(data.evalPath), { expect: kind, allowBadLines: allow });
      reportLoaded(ctx, e, 'eval');
      ev = e.records as typeof ev;
    } else if ((data.evalFraction ?? 0.1) > 0) {
      const sp = splitByPrompt(train, data.evalFraction ?? 0.1, ctx.config.seed);
      train = sp.train; ev = sp.eval;
      ctx.log(`data: held out ${ev.length} records (${Math.round(100 * (data.evalFraction ?? 0.1))}% of prompts) for eval`);
    }
    if (!train.length) throw new Error(`data.path ${data.path}: no training records left after holding out data.evalFraction`);
    return { train, eval: ev, kind };
  }
  const b = data.builtin ?? {};
  const o = { count: b.count ?? 512, evalCount: b.evalCount ?? 64, k: b.k ?? 4, flipProb: b.flipProb ?? 0, seed: b.seed ?? 7 };
  // sources: one set, or (contrast+policy) the contrastive pairs (correctness, length balanced) + rankings of the
  // starting policy's own samples (what the RL stage will ask the reward model about; InstructGPT's labelers ranked
  // model outputs)
  const sources = b.source === 'contrast+policy' ? ['contrast', 'policy'] as const : [b.source ?? 'synthetic'] as const;
  const what = {
    synthetic: 'synthetic set (hidden rule: correct and concise beats wrong or verbose)',
    contrast: 'contrastive set (answer vs same-format and shorter wrong answers, concise vs verbose: length is no shortcut)',
    policy: 'set from the starting policy\'s own samples (+ the answer; ranked by the hidden rule)',
  };
  const parts = sources.map((src) => ({
    src,
    ...(src === 'policy' ? policyPreferenceData(ctx, want, o)
      : src === 'contrast' ? contrastPreferenceData(ctx.task, want, { ...o, wrongPerPrompt: b.wrongPerPrompt ?? 3, shorterPerPrompt: b.shorterPerPrompt ?? 2 })
        : builtinPreferenceData(ctx.task, want, o)),
  }));
  const train = parts.flatMap((p) => p.train), ev = parts.flatMap((p) => p.eval);
  ctx.log(`data: built-in ${want} data for task ${ctx.task.name}: ${parts.map((p) => `${what[p.src]}: ${p.train.length} train / ${p.eval.length} held-out records`).join('; + ')}`);
  const perPart = parts.length > 1 ? Object.fromEntries(parts.map((p) => [p.src, { train: p.train.length, eval: p.eval.length }])) : {};
  ctx.writer.updateManifest({ data: { builtin: { task: ctx.task.name, kind: want, train: train.length, eval: ev.length, ...perPart, ...b } } });
  return { train, eval: ev, kind: want };
}

/** The built-in synthetic preference set of a task (see data.ts hiddenScore). */
export function builtinPreferenceData(task: Task, want: PreferenceKind, o: { count: number; evalCount: number; k: number; flipProb: number; seed: number }): { train: (PairRecord | UnpairedRecord | RankingRecord)[]; eval: (PairRecord | UnpairedRecord | RankingRecord)[] } {
  const tr = taskExamples(task, o.count, o.seed, 'train');
  const ev = taskExamples(task, o.evalCount, o.seed, 'eval');
  const opts = (n: number, seed: number) => ({ count: n, seed, k: o.k, alphabet: tr.alphabet, flipProb: o.flipProb });
  if (want === 'ranking') {
    // eval is always clean pairs (accuracy against the hidden rule)
    return { train: syntheticRankings(tr.examples, opts(o.count, o.seed + 1)), eval: syntheticPairs(ev.examples, { ...opts(o.evalCount, o.seed + 2), flipProb: 0 }) };
  }
  const trainPairs = syntheticPairs(tr.examples, opts(o.count, o.seed + 1));
  const evalPairs = syntheticPairs(ev.examples, { ...opts(o.evalCount, o.seed + 2), flipProb: 0 });
  if (want === 'unpaired') return { train: unpairPreferences(trainPairs), eval: unpairPreferences(evalPairs) };
  return { train: trainPairs, eval: evalPairs };
}

/**
 * The contrastive built-in set (data.ts contrastPairs) for the task's train prompts; held-out: the same construction on
 * the task's eval prompts. Rankings (the reward model's K-wise loss) are the pairs as 2-completion rankings.
 */
export function contrastPreferenceData(task: Task, want: PreferenceKind, o: { count: number; evalCount: number; k: number; flipProb: number; seed: number; wrongPerPrompt: number; shorterPerPrompt?: number }): { train: (PairRecord | UnpairedRecord | RankingRecord)[]; eval: (PairRecord | UnpairedRecord | RankingRecord)[] } {
  const tr = taskExamples(task, o.count, o.seed, 'train');
  const ev = taskExamples(task, o.evalCount, o.seed, 'eval');
  const trainPairs = contrastPairs(tr.examples, { count: o.count, seed: o.seed + 1, alphabet: tr.alphabet, flipProb: o.flipProb, wrongPerPrompt: o.wrongPerPrompt, shorterPerPrompt: o.shorterPerPrompt });
  const evalPairs = contrastPairs(ev.examples, { count: o.evalCount, seed: o.seed + 2, alphabet: tr.alphabet, flipProb: 0, wrongPerPrompt: 1 });
  if (want === 'unpaired') return { train: unpairPreferences(trainPairs), eval: unpairPreferences(evalPairs) };
  if (want === 'ranking') return { train: (convertPreferenceData({ kind: 'pairwise', records: trainPairs }, 'ranking') as { records: RankingRecord[] }).records, eval: evalPairs };
  return { train: trainPairs, eval: evalPairs };
}

/**
 * Rankings of the starting policy's own samples (InstructGPT: labelers rank K model outputs per prompt). For each
 * prompt: k − 1 samples at temperature 1 plus the reference answer, deduplicated by hidden score (every pair has a
 * strict preference), ranked by `hiddenScore`. Train prompts from the task's train split, held-out from its eval split.
 */
export function policyPreferenceData(ctx: TrainContext, want: PreferenceKind, o: { count: number; evalCount: number; k: number; flipProb: number; seed: number }): { train: (PairRecord | UnpairedRecord | RankingRecord)[]; eval: (PairRecord | UnpairedRecord | RankingRecord)[] } {
  const rng = new Rng(o.seed ^ 0x7f4a7c15);
  const rank = (examples: { prompt: string; answer: string }[]): RankingRecord[] => {
    const out: RankingRecord[] = [];
    const n = Math.max(1, o.k - 1);
    const g = sampleGroups(ctx.policy, ctx.tokenizer, examples.map((ex) => ex.prompt), n, { maxNewTokens: ctx.config.derived.maxNewTokens, temperature: 1, rng }, 64 * n);
    examples.forEach((ex, j) => {
      const byScore = new Map<number, string>();
      const add = (c: string) => { const sc = Math.round(hiddenScore(c, ex.answer) * 1e6) / 1e6; if (c.length && !byScore.has(sc)) byScore.set(sc, c); };
      add(ex.answer);
      // a sample cut at maxNewTokens (no EOS) is kept as far as it fits the context with its EOS (what the RM scores too)
      const maxC = ctx.policy.config.contextLength - 2 - Array.from(ex.prompt).length;
      for (const c of g.texts[j].slice(0, o.k - 1)) add(Array.from(c).slice(0, maxC).join(''));
      const comps = [...byScore.values()];
      if (comps.length < 2) return; // every sample was right: no preference to learn from this prompt
      const scores = comps.map((c) => hiddenScore(c, ex.answer));
      out.push({ prompt: ex.prompt, completions: comps, ranking: comps.map((_, q) => q).sort((a, c) => scores[c] - scores[a]), scores });
    });
    return out;
  };
  const tr = rank(taskExamples(ctx.task, o.count, o.seed, 'train').examples);
  const ev = rankingToPairs(rank(taskExamples(ctx.task, o.evalCount, o.seed, 'eval').examples));
  if (o.flipProb) for (const r of tr) if (rng.next() < o.flipProb && r.ranking.length >= 2) [r.ranking[0], r.ranking[1]] = [r.ranking[1], r.ranking[0]];
  if (want === 'ranking') return { train: tr, eval: ev };
  const trainPairs = rankingToPairs(tr);
  return want === 'unpaired' ? { train: unpairPreferences(trainPairs), eval: unpairPreferences(ev) } : { train: trainPairs, eval: ev };
}

function fmt(m: Record<string, number>, keys: string[]): string {
  return keys.filter((k) => m[k] !== undefined).map((k) => `${k.replace(/^eval\//, '')} ${Number(m[k]).toFixed(3)}`).join('  ');
}

function preferenceModule(method: PreferenceMethod): AlgorithmModule {
  return {
    name: method,
    kind: 'preference',
    summary: {
      dpo: 'Direct Preference Optimization (sigmoid loss, optional cDPO smoothing)',
      ipo: 'Identity Preference Optimization (squared loss)',
      kto: 'Kahneman-Tversky Optimization (unpaired desirable / undesirable examples)',
      orpo: 'Odds-Ratio Preference Optimization (reference-free, NLL + odds-ratio term)',
      simpo: 'Simple Preference Optimization (reference-free, length-normalised, margin γ)',
      odpo: 'DPO with an offset from score differences',
    }[method],
    configSchema: methodSchema(method),
    defaults: () => ({}),
    needsReference: needsReference(method),
    async run(ctx: TrainContext) {
      const sec = ctx.section as Record<string, unknown>;
      const want: PreferenceKind = method === 'kto' ? 'unpaired' : 'pairwise';
      const data = resolvePreferenceData(ctx, (sec.data ?? {}) as DataSection, want);
      const t = ctx.config.train;
      const hp: PreferenceHyper = {
        ...preferenceDefaults(method),
        beta: (sec.beta as number) ?? preferenceDefaults(method).beta,
        labelSmoothing: (sec.labelSmoothing as number) ?? 0,
        ipoNormalize: (sec.normalize as 'length' | 'sum') ?? 'length',
        gamma: (sec.gamma as number) ?? 0.5,
        alpha: (sec.alpha as number) ?? 1,
        ratio: Boolean(sec.ratio),
        desirableWeight: (sec.desirableWeight as number) ?? 1,
        undesirableWeight: (sec.undesirableWeight as number) ?? 1,
        rpoAlpha: (sec.rpoAlpha as number) ?? 0,
        lr: t.lr, batchSize: t.batchSize, steps: ctx.totalSteps, maxGradNorm: t.gradClip, weightDecay: t.weightDecay, warmupSteps: t.warmupSteps,
        evalEvery: (sec.evalEvery as number) ?? 20, traceEvery: 0, tracePairs: (sec.tracePairs as number) ?? 8,
      };
      ctx.log(`${method}: β ${hp.beta}${method === 'simpo' ? `, γ ${hp.gamma}` : ''}${method === 'odpo' ? `, α ${hp.alpha}${hp.ratio ? ' (ratio)' : ''}` : ''}${hp.rpoAlpha ? `, NLL-on-chosen ${hp.rpoAlpha}` : ''}; ${needsReference(method) ? 'frozen reference = the starting policy' : 'reference-free'}`);
      const trainer = new PreferenceTrainer({
        method, hp, policy: ctx.policy, tokenizer: ctx.tokenizer, seed: ctx.config.seed,
        train: data.train as PairRecord[] | UnpairedRecord[], eval: data.eval as PairRecord[] | UnpairedRecord[],
        optimizer: ctx.optimizer, lrAt: (s) => ctx.lr(s), reference: ctx.reference,
        traceStep: (s) => ctx.traceStep(s),
        writeTrace: (s, h, samples, arrays) => ctx.rollout(s, h, samples, arrays),
        onStep: (s, m, tokens) => {
          ctx.step(s, m, { tokens });
          if (ctx.evalStep(s)) ctx.evaluate(s);
        },
        onEval: (s, m) => {
          ctx.writer.metrics({ step: s, split: 'eval', values: m });
          ctx.log(`${method} held-out (${trainer.evalSize} ${method === 'kto' ? 'examples' : 'pairs'}) step ${s}: ${fmt(m, ['eval/loss', 'eval/rewards/accuracies', 'eval/rewards/margins', 'eval/logps/chosen', 'eval/logps/rejected'])}`);
        },
        shouldStop: () => ctx.stopRequested(),
      });
      try {
        const r = await trainer.runAsync(() => ctx.yield());
        ctx.writer.updateManifest({ preference: { method, before: r.before, after: r.after } });
      } finally { trainer.dispose(); }
    },
  };
}

/** Every field of the `reward_model` section (+ the shared `data` part): type, default, meaning, reference. */
export const REWARD_MODEL_FIELDS: Fields = {
  margin: { schema: { type: 'string', enum: ['none', 'data'] }, default: 'data', doc: 'data: subtract each pair\'s "margin" field inside the sigmoid; none: ignore it', ref: 'Llama 2 reward model margin; TRL RewardTrainer margin column' },
  centerRewardsCoefficient: { schema: { type: 'number', minimum: 0 }, default: 0, doc: 'reward centering: + c·mean((r_c + r_r)²) keeps scores near 0; 0 = off', ref: 'TRL RewardConfig center_rewards_coefficient (Eisenstein et al. 2023)' },
  loss: { schema: { type: 'string', enum: ['auto', 'pairwise', 'ranking'] }, default: 'auto', doc: 'auto: K-wise ranking loss on ranking data, Bradley–Terry on pairs', ref: 'InstructGPT K-wise loss; Bradley–Terry' },
  evalEvery: { schema: { type: 'integer', minimum: 0 }, default: 20, doc: 'held-out accuracy / margin every N steps (and at the end); 0 = end only' },
};

export const rewardModelModule: AlgorithmModule = {
  name: 'reward_model',
  kind: 'preference',
  summary: 'Reward model: transformer trunk + scalar head at the last token, Bradley–Terry / K-wise ranking loss',
  configSchema: (() => {
    const s = sectionSchema(REWARD_MODEL_FIELDS, { withDefaults: true }) as { properties: Record<string, unknown> };
    s.properties.data = PREFERENCE_DATA_SCHEMA;
    return s;
  })(),
  defaults: () => ({}),
  needsValueHead: () => true,
  needsReference: false,
  async run(ctx: TrainContext) {
    const sec = ctx.section as Record<string, unknown>;
    const lossKind = (sec.loss as string) ?? 'auto';
    const data = resolvePreferenceData(ctx, (sec.data ?? {}) as DataSection, lossKind === 'pairwise' ? 'pairwise' : 'ranking');
    let train = data.train, kind = data.kind;
    if (kind === 'ranking' && lossKind === 'pairwise') { train = rankingToPairs(train as RankingRecord[]); kind = 'pairwise'; }
    if (kind === 'unpaired') throw new Error('reward_model: needs pairwise or ranking data; the file holds unpaired (KTO) records');
    const t = ctx.config.train;
    const hp = { ...rewardModelDefaults(), lr: t.lr, batchSize: t.batchSize, steps: ctx.totalSteps, maxGradNorm: t.gradClip, weightDecay: t.weightDecay,
      margin: (sec.margin as 'none' | 'data') ?? 'data', centerRewardsCoefficient: (sec.centerRewardsCoefficient as number) ?? 0, evalEvery: (sec.evalEvery as number) ?? 20 };
    ctx.log(`reward_model: ${kind === 'ranking' ? 'K-wise ranking loss (InstructGPT, all pairs of a ranking in one batch)' : 'Bradley–Terry pairwise loss'}${hp.centerRewardsCoefficient ? `, reward centering ${hp.centerRewardsCoefficient}` : ''}; trunk ${ctx.config.init?.checkpoint ? `from ${ctx.config.init.checkpoint}` : 'freshly initialised'}`);
    // the engine gave the policy a fresh random value head (or the init checkpoint's): start the RM from a zero head
    const cm = charModel(ctx, 'reward_model');
    zeroScalarHead(cm.policy);
    const trainer = new RewardModelTrainer({
      hp, model: cm.policy, tokenizer: cm.tokenizer, train: train as PairRecord[] | RankingRecord[], trainKind: kind as 'pairwise' | 'ranking',
      eval: data.eval as PairRecord[] | RankingRecord[], seed: ctx.config.seed, optimizer: ctx.optimizer, lrAt: (s) => ctx.lr(s),
      onStep: (s, m) => ctx.step(s, { ...m, loss: m['rm/loss'] }),
      onEval: (s, m) => {
        ctx.writer.metrics({ step: s, split: 'eval', values: m });
        ctx.log(`reward_model held-out (${trainer.evalSize} pairs) step ${s}: ${fmt(m, ['eval/rm/accuracy', 'eval/rm/margin', 'eval/rm/loss'])}`);
      },
      shouldStop: () => ctx.stopRequested(),
    });
    // built-in data: also held-out accuracy on pairs that differ ONLY in correctness (answer vs a same-length,
    // same-format wrong answer, task eval prompts), so a model that ranks by length / format cannot hide behind it
    const b = ((sec.data ?? {}) as DataSection).builtin ?? {};
    const corr = ((sec.data ?? {}) as DataSection).path ? [] : (() => {
      const ev = taskExamples(ctx.task, b.evalCount ?? 64, (b.seed ?? 7) + 11, 'eval');
      return correctnessPairs(ev.examples, (b.seed ?? 7) + 12, taskExamples(ctx.task, b.count ?? 512, b.seed ?? 7, 'train').alphabet);
    })();
    const corrAcc = () => {
      if (!corr.length) return undefined;
      const r = scoreWithRewardModel(cm.policy, cm.tokenizer, corr.flatMap((p) => [{ prompt: p.prompt, completion: p.chosen }, { prompt: p.prompt, completion: p.rejected }]));
      let ok = 0;
      for (let i = 0; i < corr.length; i++) if (r[2 * i] > r[2 * i + 1]) ok++;
      return ok / corr.length;
    };
    try {
      const r = await trainer.runAsync(() => ctx.yield());
      const ca = corrAcc();
      const after = ca === undefined ? r.after : { ...r.after, 'eval/rm/accuracy_correctness_only': ca };
      if (ca !== undefined) {
        ctx.writer.metrics({ step: trainer.step, split: 'eval', values: { 'eval/rm/accuracy_correctness_only': ca } });
        ctx.log(`reward_model held-out accuracy on ${corr.length} pairs that differ only in correctness: ${ca.toFixed(3)}`);
      }
      ctx.writer.updateManifest({ rewardModel: { before: r.before, after, evalPairs: trainer.evalSize, correctnessPairs: corr.length } });
    } finally { trainer.dispose(); }
  },
};

// ---- built-in pipeline presets (rl-lens train --preset NAME); measured numbers in docs/preference.md

// the presets (rlhf-arithmetic, <method>-arithmetic, ...) are in src/shared/presets.ts, one table for the CLI and the extension
export { rlhfArithmeticPreset, rlhfGrpoPreset, rlhfHackingPreset, preferenceArithmeticPreset } from '../../shared/presets';

for (const m of PREFERENCE_METHODS) registerAlgorithm(preferenceModule(m));
registerAlgorithm(rewardModelModule);
registerAlgorithm(pipelineModule);
// the top-level `reward` section of RL runs: a learned reward (rewardModel.ts), alone or combined with the task's rule
// reward; the built-in tasks' hidden score is logged next to it (data.ts hiddenScore)
registerConfigSection({
  name: 'reward',
  schema: REWARD_CONFIG_SCHEMA as unknown as Record<string, unknown>,
  resolvePaths: resolveRewardPaths,
  wrapTask: (task, value, deps) => ((value as { type?: string }).type === 'process'
    ? withProcessReward(task, value as ProcessRewardSpec, { loadCheckpoint: deps.loadCheckpoint })
    : withLearnedReward(task, value as ModelRewardSpec, { loadCheckpoint: deps.loadCheckpoint, hiddenScore })),
});
