/**
 * `algorithm: "step_dpo"`: Step-DPO (Lai et al. 2024, "Step-DPO: Step-wise Preference Optimization for Long-chain
 * Reasoning of LLMs"; authors' code dvlab-research/Step-DPO). The unit of preference is ONE reasoning step:
 *
 *   (x, s_1~k−1, s_win, s_lose): a problem x, a correct prefix of k − 1 steps, a correct k-th step s_win and an
 *   erroneous k-th step s_lose. Loss = DPO's sigmoid loss on the step, the prefix being part of the prompt
 *   (algorithms/process.ts stepDpoLosses; the authors' train.py: prompt = prompt + initial_reason_steps).
 *
 * Data construction, as the paper's pipeline (§3.2) and the authors' data_pipeline/ do it, on a task with verifiable
 * steps (tasks/steps.ts, e.g. arithmetic-steps):
 *   1. error collection: sample `data.samples` solutions per problem from π_ref (the SFT model) at temperature
 *      `data.temperature`; keep those whose final answer is wrong;
 *   2. step localisation: the first erroneous step k (the paper asks GPT-4; here the task's verifier says exactly);
 *      the prefix s_1~k−1 is the sample's own (correct) steps before it, s_lose its k-th step as written (with its
 *      terminator: the delimiter, or EOS when the model stopped there);
 *   3. rectification: sample `data.continuations` continuations of x + prefix from π_ref, keep those whose final
 *      answer is right (the paper: "in-distribution" correct steps from the model itself), and take each one's FIRST
 *      step as s_win; distinct first steps only (generate_dataset.py `visited_chosen`). Continuations of a (problem,
 *      prefix) are sampled once (the authors' identifier = prompt || prefix). Deviation: a kept first step the verifier
 *      rejects (a right answer reached by compensating slips) is dropped and counted (`data.chosenRejectedByVerifier`).
 * Training: π_ref = the model the data came from (after the warm start), frozen; DPO steps as the `dpo` method runs
 * them (preference/train.ts: batches, metrics with TRL's names, held-out pairs, traces of implicit_reward per token
 * of the step with the prompt + prefix as the prompt). Before and after: step accuracy and final accuracy of sampled
 * solutions on the task's held-out prompts (`eval/step_accuracy`, `eval/final_accuracy`, `eval/first_error_step0`).
 *
 * Without `init.checkpoint` the run starts with a supervised warm start on the task's demonstrations (`step_dpo.sft`),
 * so one run holds SFT → data construction → Step-DPO (`--preset step-dpo-arithmetic`).
 */
import type { TrainContext } from '../engine';
import { registerAlgorithm, type AlgorithmModule } from '../registry';
import { sectionSchema, sectionDefaults, type Fields } from '../fields';
import { deepMerge } from '../../shared/deepMerge';
import { sampleGroups } from '../sampling';
import { Rng } from '../rng';
import { charModel } from '../charModel';
import { engineWarmStart } from '../rl/warmstart';
import type { GPT } from '../model/gpt';
import type { CharTokenizer } from '../tokenizer';
import type { TaskExample } from '../tasks/types';
import { checkSteps, firstErrorStep, hasSteps, stepAccuracy, type StepTask } from '../tasks/steps';
import type { PairRecord } from './data';
import { PreferenceTrainer, preferenceDefaults, type PreferenceHyper } from './train';

/** One sampled solution (decoded text, EOS excluded) and whether the model ended it with EOS. */
export interface SampledSolution { completion: string; finished: boolean }

/** A located error: the problem, the correct prefix (with its delimiters), the erroneous step as written, its index. */
export interface LocatedError {
  problem: string;
  /** s_1~k−1 joined with their delimiters ('' when the first step is wrong) */
  prefix: string;
  /** s_lose: the k-th step as written, its delimiter included when it has one */
  rejected: string;
  /** s_lose ended with EOS (the model stopped after it) */
  rejectedEos: boolean;
  /** k − 1: index of the erroneous step */
  step: number;
}

/** Final answer of a solution: the result of its last step, when that step has the form a+b=c. */
export function finalAnswer(completion: string, delimiter = ' '): number | null {
  const parts = completion.split(delimiter);
  const m = /=(\d+)$/.exec(parts[parts.length - 1] ?? '');
  return m ? Number(m[1]) : null;
}

/** Is the final answer right (the paper's criterion for wrong samples and kept continuations)? Needs EOS (a finished solution). */
export function finalAnswerCorrect(task: StepTask, ex: TaskExample, s: SampledSolution): boolean {
  const ref = task.referenceSteps(ex);
  return s.finished && finalAnswer(s.completion, task.stepDelimiter) === finalAnswer(ref[ref.length - 1], task.stepDelimiter);
}

/**
 * Steps 1–2 of the pipeline for one problem: the samples with a wrong final answer, each with its first erroneous
 * step located by the verifier. Samples cut at the token limit inside the erroneous step (no terminator) are skipped
 * (nothing well-defined to prefer against). Identical (prefix, rejected) are kept once.
 */
export function locateErrors(task: StepTask, ex: TaskExample, samples: readonly SampledSolution[]): { errors: LocatedError[]; wrong: number; truncated: number } {
  const out: LocatedError[] = [];
  const seen = new Set<string>();
  let wrong = 0, truncated = 0;
  for (const s of samples) {
    if (finalAnswerCorrect(task, ex, s)) continue;
    wrong++;
    const st = checkSteps(ex.prompt, s.completion, s.finished);
    let k = firstErrorStep(st);
    if (k < 0) continue; // every written step right but the solution stopped early (no erroneous step was written)
    const bad = st[k];
    if (bad.terminator === 'none') { truncated++; continue; }
    const prefix = s.completion.slice(0, bad.start);
    const rejected = s.completion.slice(bad.start, bad.end);
    const key = `${prefix}\u0000${rejected}\u0000${bad.terminator}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ problem: ex.prompt, prefix, rejected, rejectedEos: bad.terminator === 'eos', step: k });
  }
  return { errors: out, wrong, truncated };
}

/**
 * Step 3 for one located error: continuations of x + prefix (sampled from π_ref) whose final answer is right give
 * s_win = their first step (with its terminator); distinct first steps only. Returns the step pairs as preference
 * records: prompt = x + prefix, chosen = s_win, rejected = s_lose, `chosenEos` / `rejectedEos` = whether the step
 * ends with EOS (a middle step ends with its delimiter and is not followed by EOS).
 */
export function rectify(task: StepTask, ex: TaskExample, e: LocatedError, continuations: readonly SampledSolution[]): { pairs: PairRecord[]; rejectedByVerifier: number } {
  const pairs: PairRecord[] = [];
  const visited = new Set<string>();
  let rejectedByVerifier = 0;
  for (const c of continuations) {
    const full = { completion: e.prefix + c.completion, finished: c.finished };
    if (!finalAnswerCorrect(task, ex, full)) continue;
    const st = checkSteps(ex.prompt, full.completion, full.finished);
    const win = st.find((s) => s.start === e.prefix.length);
    if (!win) continue;
    const chosen = full.completion.slice(win.start, win.end);
    const key = `${chosen}\u0000${win.terminator}`;
    if (visited.has(key)) continue;
    visited.add(key);
    if (!win.correct) { rejectedByVerifier++; continue; }
    if (chosen === e.rejected && (win.terminator === 'eos') === e.rejectedEos) continue;
    pairs.push({ prompt: e.problem + e.prefix, chosen, rejected: e.rejected, chosenEos: win.terminator === 'eos', rejectedEos: e.rejectedEos });
  }
  return { pairs, rejectedByVerifier };
}

export interface StepDpoDataStats {
  problems: number; samples: number; wrongSamples: number; truncatedErrors: number; locatedErrors: number;
  continuations: number; pairs: number; chosenRejectedByVerifier: number; errorsWithoutPair: number;
  /** pairs by the index of the erroneous step */
  byStep: number[];
}

/** The whole pipeline on a set of problems with a policy (π_ref). */
export function buildStepDpoPairs(policy: GPT, tok: CharTokenizer, task: StepTask, examples: readonly TaskExample[], o: { samples: number; continuations: number; temperature: number; maxNewTokens: number; rng: Rng }): { pairs: PairRecord[]; stats: StepDpoDataStats } {
  const stats: StepDpoDataStats = { problems: examples.length, samples: 0, wrongSamples: 0, truncatedErrors: 0, locatedErrors: 0, continuations: 0, pairs: 0, chosenRejectedByVerifier: 0, errorsWithoutPair: 0, byStep: [] };
  const g = sampleGroups(policy, tok, examples.map((e) => e.prompt), o.samples, { maxNewTokens: o.maxNewTokens, temperature: o.temperature, rng: o.rng });
  const located: { ex: TaskExample; e: LocatedError }[] = [];
  examples.forEach((ex, i) => {
    const sols = g.texts[i].map((c, j) => ({ completion: c, finished: g.finished[i][j] }));
    stats.samples += sols.length;
    const r = locateErrors(task, ex, sols);
    stats.wrongSamples += r.wrong; stats.truncatedErrors += r.truncated;
    for (const e of r.errors) located.push({ ex, e });
  });
  stats.locatedErrors = located.length;
  // continuations once per (problem, prefix) (the authors' identifier prompt || prefix)
  const keys = [...new Set(located.map((l) => l.e.problem + l.e.prefix))];
  const byKey = new Map<string, SampledSolution[]>();
  // one batch per prompt length: a batch's generation stops at the context for its LONGEST (left-padded) prompt, so
  // short prompts in a batch with long ones would be cut short
  const byLen = new Map<number, string[]>();
  for (const k of keys) { const n = tok.encode(k).length; byLen.set(n, [...(byLen.get(n) ?? []), k]); }
  for (const ks of byLen.values()) {
    const c = sampleGroups(policy, tok, ks, o.continuations, { maxNewTokens: o.maxNewTokens, temperature: o.temperature, rng: o.rng });
    ks.forEach((k, i) => byKey.set(k, c.texts[i].map((t, j) => ({ completion: t, finished: c.finished[i][j] }))));
  }
  stats.continuations = keys.length * o.continuations;
  const pairs: PairRecord[] = [];
  for (const { ex, e } of located) {
    const r = rectify(task, ex, e, byKey.get(e.problem + e.prefix) ?? []);
    stats.chosenRejectedByVerifier += r.rejectedByVerifier;
    if (!r.pairs.length) stats.errorsWithoutPair++;
    for (const p of r.pairs) { pairs.push(p); stats.byStep[e.step] = (stats.byStep[e.step] ?? 0) + 1; }
  }
  stats.pairs = pairs.length;
  for (let i = 0; i < stats.byStep.length; i++) stats.byStep[i] ??= 0;
  return { pairs, stats };
}

/** Step accuracy and final accuracy of sampled solutions on held-out problems (no gradient). */
export function stepEval(policy: GPT, tok: CharTokenizer, task: StepTask, examples: readonly TaskExample[], o: { samples: number; temperature: number; maxNewTokens: number; seed: number }): Record<string, number> {
  const g = sampleGroups(policy, tok, examples.map((e) => e.prompt), o.samples, { maxNewTokens: o.maxNewTokens, temperature: o.temperature, rng: new Rng(o.seed) });
  let steps = 0, final = 0, exact = 0, first0 = 0, n = 0;
  examples.forEach((ex, i) => g.texts[i].forEach((c, j) => {
    const fin = g.finished[i][j];
    const sa = stepAccuracy(ex.prompt, c, fin);
    steps += sa.accuracy;
    if (finalAnswerCorrect(task, ex, { completion: c, finished: fin })) final++;
    if (fin && task.isCorrect(ex, c)) exact++;
    if (sa.firstError === 0) first0++;
    n++;
  }));
  return { 'eval/step_accuracy': steps / n, 'eval/final_accuracy': final / n, 'eval/exact_accuracy': exact / n, 'eval/first_error_step0': first0 / n };
}

/** `steps` / `batchSize` of the supervised warm start (`sft` sub-section), shared with the `prm` section (./prm.ts). */
export const SFT_WARM_START_FIELDS: Fields = {
      steps: { schema: { type: 'integer', minimum: 0 }, default: 300, doc: 'SFT steps; 0 = none' },
      batchSize: { schema: { type: 'integer', minimum: 1 }, default: 64, doc: 'demonstrations per SFT step' },
};

/** Every field of the `step_dpo` section: type, default, meaning, reference. */
export const STEP_DPO_FIELDS: Fields = {
  beta: { schema: { type: 'number', exclusiveMinimum: 0 }, default: 0.5, doc: 'β of the DPO loss on the step', ref: 'Step-DPO bash_scrips/qwen2_7b_step_dpo.sh --beta=0.5 (configs/config_full.yaml: 0.05)' },
  rpoAlpha: { schema: { type: 'number', minimum: 0 }, default: 0, doc: 'weight of an NLL term on the chosen steps; 0 = off (Step-DPO has none)', ref: 'TRL rpo_alpha' },
  evalEvery: { schema: { type: 'integer', minimum: 0 }, default: 20, doc: 'held-out step-pair metrics every N steps (and at the end); 0 = end only' },
  tracePairs: { schema: { type: 'integer', minimum: 1 }, default: 8, doc: 'step pairs written per traced step (rollouts.every): implicit_reward per token of s_win and s_lose' },
  sft: {
    doc: 'supervised warm start on the task\'s demonstrations when init.checkpoint is not given (π_ref is then the warm-started model)',
    fields: {
      ...SFT_WARM_START_FIELDS,
      lr: { schema: { type: 'number', exclusiveMinimum: 0 }, default: 0.003, doc: 'SFT learning rate (linear warm-up over min(20, steps/10) steps)' },
      demoNoise: { schema: { type: 'number', minimum: 0, maximum: 1 }, default: 0.3, doc: 'probability that a demonstration carries a chain with one arithmetic slip (task.corrupt), so the SFT model makes step errors to learn from' },
    },
  },
  data: {
    doc: 'the step-pair construction (Step-DPO §3.2): error collection, step localisation, rectification with the model\'s own correct continuations',
    fields: {
      prompts: { schema: { type: 'integer', minimum: 1, maximum: 100000 }, default: 256, doc: 'training problems (task train split) sampled for error collection' },
      evalPrompts: { schema: { type: 'integer', minimum: 0, maximum: 100000 }, default: 64, doc: 'held-out problems (task eval split) for held-out step pairs; 0 = none' },
      samples: { schema: { type: 'integer', minimum: 1, maximum: 64 }, default: 8, doc: 'solutions sampled per problem (error collection)' },
      continuations: { schema: { type: 'integer', minimum: 1, maximum: 64 }, default: 8, doc: 'continuations sampled per (problem, correct prefix) (rectification)' },
      temperature: { schema: { type: 'number', exclusiveMinimum: 0 }, default: 1, doc: 'sampling temperature of both stages' },
      seed: { schema: { type: 'integer', minimum: 0 }, default: 7, doc: 'seed of the problems and of the sampling' },
    },
  },
  eval: {
    doc: 'step accuracy / final accuracy of sampled solutions on the task\'s held-out prompts, before and after Step-DPO',
    fields: {
      prompts: { schema: { type: 'integer', minimum: 1 }, default: 128, doc: 'held-out problems' },
      samples: { schema: { type: 'integer', minimum: 1 }, default: 4, doc: 'solutions per problem' },
      temperature: { schema: { type: 'number', exclusiveMinimum: 0 }, default: 1, doc: 'sampling temperature' },
    },
  },
};

interface StepDpoSection {
  beta: number; rpoAlpha: number; evalEvery: number; tracePairs: number;
  sft: { steps: number; batchSize: number; lr: number; demoNoise: number };
  data: { prompts: number; evalPrompts: number; samples: number; continuations: number; temperature: number; seed: number };
  eval: { prompts: number; samples: number; temperature: number };
}

/** Distinct problems of a split (as many as the task has, up to n); also used by ./prm.ts. */
export function distinctProblems(task: StepTask, n: number, split: 'train' | 'eval', seed: number): TaskExample[] {
  if (split === 'eval') return task.evalSet(n);
  const rng = new Rng(seed), seen = new Set<string>(), out: TaskExample[] = [];
  for (let i = 0; i < n * 50 && out.length < n; i++) { const ex = task.sample(rng, split); if (!seen.has(ex.prompt)) { seen.add(ex.prompt); out.push(ex); } }
  return out;
}

/** Supervised warm start (the RL warm start's loop): returns false when a stop was requested. */
export async function supervisedWarmStart(ctx: TrainContext, ws: { steps: number; batchSize: number; lr: number; demoNoise: number }, what: string): Promise<boolean> {
  charModel(ctx, what); // a character model only: the clear error before any step
  return (await engineWarmStart(ctx, ws, what, `${what}.sft.lr`, 13)) === 'done';
}

function fmt(m: Record<string, number>, keys: string[]): string {
  return keys.filter((k) => m[k] !== undefined).map((k) => `${k.replace(/^eval\//, '')} ${Number(m[k]).toFixed(3)}`).join('  ');
}

export const stepDpoModule: AlgorithmModule = {
  name: 'step_dpo',
  kind: 'preference',
  summary: 'Step-DPO: DPO on single reasoning steps (correct prefix, correct vs erroneous next step) built from the model\'s own samples',
  configSchema: sectionSchema(STEP_DPO_FIELDS, { withDefaults: true }),
  defaults: () => ({}),
  needsReference: false,
  async run(ctx: TrainContext) {
    const sec = deepMerge(sectionDefaults(STEP_DPO_FIELDS), (ctx.section ?? {}) as Record<string, unknown>) as unknown as StepDpoSection;
    const task = ctx.task;
    if (!hasSteps(task)) throw new Error(`step_dpo: task ${JSON.stringify(task.name)} has no step structure; use task.name "arithmetic-steps" (tasks/steps.ts)`);
    const cm = charModel(ctx, 'step_dpo');
    if (!ctx.config.init?.checkpoint && sec.sft.steps > 0) {
      ctx.log(`step_dpo: no init.checkpoint: supervised warm start first (${sec.sft.steps} steps, demoNoise ${sec.sft.demoNoise}); π_ref is the warm-started model`);
      if (!(await supervisedWarmStart(ctx, sec.sft, 'step_dpo'))) { ctx.log('step_dpo: stopped during the warm start'); return; }
      ctx.checkpoint(0, 'sft');
    }
    const maxNewTokens = ctx.config.derived.maxNewTokens;
    const evalSet = task.evalSet(sec.eval.prompts);
    const evalOpts = { samples: sec.eval.samples, temperature: sec.eval.temperature, maxNewTokens, seed: (ctx.config.seed ^ 0x57e9) >>> 0 };
    const before = stepEval(cm.policy, cm.tokenizer, task, evalSet, evalOpts);
    ctx.writer.metrics({ step: 0, split: 'eval', values: before });
    ctx.log(`step_dpo before: ${fmt(before, ['eval/step_accuracy', 'eval/final_accuracy', 'eval/exact_accuracy', 'eval/first_error_step0'])} (${evalSet.length} held-out problems × ${sec.eval.samples})`);
    // the pipeline (§3.2) with π_ref = the current model
    const rng = new Rng((sec.data.seed ^ 0x5d0) >>> 0);
    const t0 = Date.now();
    const tr = buildStepDpoPairs(cm.policy, cm.tokenizer, task, distinctProblems(task, sec.data.prompts, 'train', sec.data.seed), { samples: sec.data.samples, continuations: sec.data.continuations, temperature: sec.data.temperature, maxNewTokens, rng });
    const ev = sec.data.evalPrompts > 0 ? buildStepDpoPairs(cm.policy, cm.tokenizer, task, distinctProblems(task, sec.data.evalPrompts, 'eval', sec.data.seed), { samples: sec.data.samples, continuations: sec.data.continuations, temperature: sec.data.temperature, maxNewTokens, rng }) : undefined;
    const s = tr.stats;
    ctx.log(`step_dpo data (${((Date.now() - t0) / 1000).toFixed(1)} s): ${s.problems} problems × ${sec.data.samples} samples → ${s.wrongSamples} with a wrong final answer → ${s.locatedErrors} distinct erroneous steps located (${s.truncatedErrors} cut inside the step skipped) → ${s.pairs} step pairs from ${s.continuations} continuations (${s.errorsWithoutPair} errors found no correct continuation; ${s.chosenRejectedByVerifier} right-answer continuations whose first step the verifier rejects); by step ${JSON.stringify(s.byStep)}; held-out ${ev?.pairs.length ?? 0} pairs`);
    ctx.writer.updateManifest({ stepDpo: { data: { train: tr.stats, eval: ev?.stats }, before } });
    if (!tr.pairs.length) throw new Error(`step_dpo: the data construction found no step pairs (${s.wrongSamples} wrong samples, ${s.locatedErrors} located errors): raise step_dpo.data.prompts / samples / continuations, or start from a model that makes (and can fix) step errors`);
    const reference = cm.policy.clone(false);
    const t = ctx.config.train;
    const hp: PreferenceHyper = {
      ...preferenceDefaults('dpo'), beta: sec.beta, rpoAlpha: sec.rpoAlpha,
      lr: t.lr, batchSize: t.batchSize, steps: ctx.totalSteps, maxGradNorm: t.gradClip, weightDecay: t.weightDecay, warmupSteps: t.warmupSteps,
      evalEvery: sec.evalEvery, traceEvery: 0, tracePairs: sec.tracePairs,
    };
    ctx.log(`step_dpo: β ${hp.beta}; ${tr.pairs.length} step pairs; frozen reference = the model the pairs were sampled from`);
    const trainer = new PreferenceTrainer({
      method: 'dpo', hp, policy: cm.policy, tokenizer: cm.tokenizer, seed: ctx.config.seed,
      train: tr.pairs, eval: ev?.pairs ?? [], optimizer: ctx.optimizer, lrAt: (st) => ctx.lr(st), reference,
      traceStep: (st) => ctx.traceStep(st),
      writeTrace: (st, h, samples, arrays) => ctx.rollout(st, { ...h, algorithm: 'step_dpo' }, samples, arrays),
      onStep: (st, m, tokens) => { ctx.step(st, m, { tokens }); if (ctx.evalStep(st)) ctx.evaluate(st); },
      onEval: (st, m) => {
        ctx.writer.metrics({ step: st, split: 'eval', values: m });
        ctx.log(`step_dpo held-out (${trainer.evalSize} step pairs) step ${st}: ${fmt(m, ['eval/loss', 'eval/rewards/accuracies', 'eval/rewards/margins'])}`);
      },
      shouldStop: () => ctx.stopRequested(),
    });
    try {
      const r = await trainer.runAsync(() => ctx.yield());
      const after = stepEval(cm.policy, cm.tokenizer, task, evalSet, evalOpts);
      ctx.writer.metrics({ step: trainer.step, split: 'eval', values: after });
      ctx.log(`step_dpo after: ${fmt(after, ['eval/step_accuracy', 'eval/final_accuracy', 'eval/exact_accuracy', 'eval/first_error_step0'])}`);
      ctx.writer.updateManifest({ stepDpo: { data: { train: tr.stats, eval: ev?.stats }, before, after, pairs: { before: r.before, after: r.after } } });
    } finally { trainer.dispose(); reference.dispose(); }
  },
};

registerAlgorithm(stepDpoModule);
