/**
 * Process reward model (PRM): a score per reasoning STEP (Lightman et al. 2023, "Let's Verify Step by Step";
 * Math-Shepherd; OpenRLHF's PRM trainer `openrlhf/trainer/prm_trainer.py` with `PRMLoss`).
 *
 *   model    the policy's transformer trunk + the scalar head (`valueHead`, as the outcome reward model of
 *            ./rewardModel.ts), read at EVERY step's last token (its delimiter, or EOS after the last step) instead
 *            of only at the sequence's end: z = logit that the step is correct; the step's score is σ(z).
 *   loss     binary cross-entropy with logits at the step-end tokens (algorithms/process.ts prmLoss; OpenRLHF PRMLoss
 *            is the cross-entropy over the two reward tokens "+"/"−" at each step tag, the same thing with
 *            z = logit(+) − logit(−)).
 *   data     step-labelled samples of the task (tasks/steps.ts): `data.samples` solutions per train problem sampled
 *            from the starting policy (the SFT model; PRM800K labelled the generator's own solutions) + the reference
 *            solution, each step labelled by the task's verifier (1 = the step is right). The verifier compares with
 *            the TRUE running sum, so a step built on an earlier slip is labelled wrong (Math-Shepherd's "does it still
 *            lead to the answer"); PRM800K's human labels stop at the first error instead.
 *   metrics  prm/loss, prm/accuracy (σ(z) > 0.5 vs the label, over steps), prm/accuracy_pos / _neg (right / wrong
 *            steps), prm/first_error_accuracy (solutions with an error: the first step the PRM rejects is the first
 *            wrong one; correct solutions: the PRM rejects none; ProcessBench-style); held-out eval/prm/*.
 *   traces   per solution: step_reward (σ(z) at each step's last token), step_boundary (1 there), step_label,
 *            so the heatmap shows steps and their scores.
 *
 * In RL: `reward: { "type": "process", "checkpoint": "…" }` (withProcessReward below) scores each step; the RL step
 * puts a step's score on its last token (PRIME / verl) and, for grpo / dr_grpo, uses DeepSeekMath's
 * process-supervision advantages (rl/step.ts, algorithms/process.ts). The rollouts and metrics carry the true step
 * accuracy and final correctness next to the PRM's scores so PRM hacking shows (docs/algorithms.md "Process rewards").
 */
import * as tf from '@tensorflow/tfjs-core';
import type { TrainContext } from '../engine';
import { registerAlgorithm, type AlgorithmModule } from '../registry';
import { sectionSchema, sectionDefaults, type Fields } from '../fields';
import { deepMerge } from '../../shared/deepMerge';
import { sampleGroups } from '../sampling';
import { Rng } from '../rng';
import { clipByGlobalNorm, type AdamW } from '../optim';
import { charModel } from '../charModel';
import type { GPT } from '../model/gpt';
import type { CharTokenizer } from '../tokenizer';
import type { TaskExample } from '../tasks/types';
import { hasSteps, splitSteps, stepEndTokens, checkSteps, stepAccuracy, type StepSpan, type StepTask } from '../tasks/steps';
import { prmLoss, stepScore } from '../algorithms/process';
import type { RolloutGroup, RolloutSampleInput } from '../../shared/runFormat';
import { zeroScalarHead, type LoadedRewardModel } from './rewardModel';
import { supervisedWarmStart, finalAnswerCorrect, distinctProblems, SFT_WARM_START_FIELDS } from './stepDpo';

/** A solution with its steps labelled (1 = right, 0 = wrong). */
export interface StepLabelledRecord { prompt: string; completion: string; finished: boolean; labels: number[] }

/** An encoded solution: ids (BOS prompt completion [EOS]) and the positions of its step-end tokens in ids. */
export interface EncodedSteps { ids: number[]; ends: number[]; labels: number[]; promptLen: number; record: StepLabelledRecord }

/** Steps of a completion for scoring: its spans, or, for an empty finished completion, one step ending at EOS. */
export function scoringSteps(completion: string, finished: boolean, delimiter: string): StepSpan[] {
  const st = splitSteps(completion, finished, delimiter);
  return st.length ? st : finished ? [{ text: '', start: 0, end: 0, terminator: 'eos' }] : [];
}

/**
 * Encode a solution for the character model: ids = [BOS] prompt completion [EOS if finished]; the step-end positions
 * are 1 + |prompt| + the step's last token in the completion (EOS = index |completion|). Cut to the context: steps
 * that end beyond it are dropped (a truncated sample keeps its first steps).
 */
export function encodeSteps(tok: CharTokenizer, r: StepLabelledRecord, contextLength: number, delimiter: string): EncodedSteps {
  const p = tok.encode(r.prompt, { bos: true });
  const c = tok.encode(r.completion);
  const ids = [...p, ...c, ...(r.finished ? [tok.eos] : [])].slice(0, contextLength);
  const spans = scoringSteps(r.completion, r.finished, delimiter);
  const ends: number[] = [], labels: number[] = [];
  stepEndTokens(spans, c.map((_, j) => j + 1), r.finished).forEach((t, j) => {
    const pos = p.length + t;
    if (t >= 0 && pos < ids.length) { ends.push(pos); labels.push(r.labels[j] ?? 0); }
  });
  return { ids, ends, labels, promptLen: p.length, record: r };
}

/** Label the steps of solutions with the task's verifier (an empty finished solution: one wrong step at EOS). */
export function labelSteps(task: StepTask, ex: TaskExample, completion: string, finished: boolean): number[] {
  const st = checkSteps(ex.prompt, completion, finished);
  if (!st.length) return finished ? [0] : [];
  return st.map((s) => (s.correct ? 1 : 0));
}

/** Step-labelled data: samples of the policy on the problems + each problem's reference solution. */
export function prmStepData(policy: GPT, tok: CharTokenizer, task: StepTask, examples: readonly TaskExample[], o: { samples: number; temperature: number; maxNewTokens: number; rng: Rng; reference: boolean }): StepLabelledRecord[] {
  const out: StepLabelledRecord[] = [];
  const g = o.samples > 0 ? sampleGroups(policy, tok, examples.map((e) => e.prompt), o.samples, { maxNewTokens: o.maxNewTokens, temperature: o.temperature, rng: o.rng }) : undefined;
  examples.forEach((ex, i) => {
    if (o.reference) out.push({ prompt: ex.prompt, completion: ex.answer, finished: true, labels: labelSteps(task, ex, ex.answer, true) });
    g?.texts[i].forEach((c, j) => {
      const fin = g.finished[i][j];
      const labels = labelSteps(task, ex, c, fin);
      if (labels.length) out.push({ prompt: ex.prompt, completion: c, finished: fin, labels });
    });
  });
  return out;
}

interface StepBatch { ids: tf.Tensor2D; labels: tf.Tensor2D; mask: tf.Tensor2D; T: number; rows: EncodedSteps[] }

function makeStepBatch(rows: EncodedSteps[], pad: number): StepBatch {
  const B = rows.length, T = Math.max(2, ...rows.map((r) => r.ids.length));
  const ids = new Int32Array(B * T).fill(pad), labels = new Float32Array(B * T), mask = new Float32Array(B * T);
  rows.forEach((r, b) => {
    ids.set(r.ids, b * T);
    r.ends.forEach((e, j) => { mask[b * T + e] = 1; labels[b * T + e] = r.labels[j]; });
  });
  return { ids: tf.tensor2d(ids, [B, T], 'int32'), labels: tf.tensor2d(labels, [B, T]), mask: tf.tensor2d(mask, [B, T]), T, rows };
}

function disposeStepBatch(b: StepBatch): void { tf.dispose([b.ids, b.labels, b.mask]); }

/** z at every position: the scalar head on each prefix's last hidden state. [B, T]. */
function stepLogits(model: GPT, ids: tf.Tensor2D): tf.Tensor2D {
  return model.forward(ids, { values: true }).values! as tf.Tensor2D;
}

/** PRM logits at the step ends of each row (host), batched, no gradient. */
export function prmStepLogits(model: GPT, rows: EncodedSteps[], pad: number, batchSize = 64): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < rows.length; i += batchSize) {
    const b = makeStepBatch(rows.slice(i, i + batchSize), pad);
    const z = tf.tidy(() => stepLogits(model, b.ids));
    const zz = z.dataSync();
    b.rows.forEach((r, k) => out.push(r.ends.map((e) => zz[k * b.T + e])));
    z.dispose();
    disposeStepBatch(b);
  }
  return out;
}

/**
 * One PRM optimizer step on a batch of encoded solutions: the loss (prmLoss at the step ends), clipped gradients,
 * the update (skipped when the loss or the norm is not finite). Returns the loss, the gradient norm and the logits at
 * each row's step ends (host). Every tensor it makes is disposed (test/unit/rl-leak.test.ts).
 */
export function prmTrainStep(model: GPT, optimizer: AdamW, rows: EncodedSteps[], pad: number, gradClip: number, lr: number): { loss: number; gradNorm: number; logits: number[][] } {
  const b = makeStepBatch(rows, pad);
  let zHost: Float32Array | undefined;
  try {
    const { value, grads } = tf.variableGrads(() => {
      const z = stepLogits(model, b.ids);
      zHost = z.dataSync() as Float32Array;
      return prmLoss(z, b.labels, b.mask);
    }, model.trainableVariables());
    const loss = value.dataSync()[0];
    value.dispose();
    const c = clipByGlobalNorm(grads, gradClip);
    tf.dispose(grads);
    if (Number.isFinite(c.norm) && Number.isFinite(loss)) optimizer.apply(c.grads, lr);
    tf.dispose(c.grads);
    return { loss, gradNorm: c.norm, logits: rows.map((r, k) => r.ends.map((e) => zHost![k * b.T + e])) };
  } finally { disposeStepBatch(b); }
}

/** Step-level metrics of logits against labels (host arrays). */
export function prmMetrics(logits: number[][], labels: number[][], prefix = 'prm/'): Record<string, number> {
  let n = 0, ok = 0, np = 0, okp = 0, nn = 0, okn = 0, sols = 0, firstOk = 0;
  logits.forEach((zs, b) => {
    zs.forEach((z, j) => {
      const y = labels[b][j], pred = z > 0 ? 1 : 0;
      n++; if (pred === y) ok++;
      if (y) { np++; if (pred) okp++; } else { nn++; if (!pred) okn++; }
    });
    if (zs.length) {
      sols++;
      const trueFirst = labels[b].findIndex((y) => !y), predFirst = zs.findIndex((z) => z <= 0);
      if (trueFirst === predFirst) firstOk++;
    }
  });
  return {
    [`${prefix}accuracy`]: n ? ok / n : NaN, [`${prefix}accuracy_pos`]: np ? okp / np : NaN, [`${prefix}accuracy_neg`]: nn ? okn / nn : NaN,
    [`${prefix}first_error_accuracy`]: sols ? firstOk / sols : NaN, [`${prefix}steps`]: n, [`${prefix}wrong_step_frac`]: n ? nn / n : NaN,
  };
}

/** Every field of the `prm` section. */
export const PRM_FIELDS: Fields = {
  evalEvery: { schema: { type: 'integer', minimum: 0 }, default: 50, doc: 'held-out step metrics every N steps (and at the end); 0 = end only' },
  traceSolutions: { schema: { type: 'integer', minimum: 1 }, default: 16, doc: 'solutions written per traced step (rollouts.every): step_reward, step_boundary, step_label per token' },
  sft: {
    doc: 'supervised warm start (the generator of the labelled samples) when init.checkpoint is not given; the PRM trunk starts from it',
    fields: {
      ...SFT_WARM_START_FIELDS,
      lr: { schema: { type: 'number', exclusiveMinimum: 0 }, default: 0.003, doc: 'SFT learning rate' },
      demoNoise: { schema: { type: 'number', minimum: 0, maximum: 1 }, default: 0.3, doc: 'probability that a demonstration carries one arithmetic slip (task.corrupt)' },
    },
  },
  data: {
    doc: 'step-labelled data: the starting policy\'s solutions (+ the reference solutions), each step labelled by the task\'s verifier',
    fields: {
      prompts: { schema: { type: 'integer', minimum: 1, maximum: 100000 }, default: 512, doc: 'training problems (task train split)' },
      evalPrompts: { schema: { type: 'integer', minimum: 1, maximum: 100000 }, default: 64, doc: 'held-out problems (task eval split)' },
      samples: { schema: { type: 'integer', minimum: 0, maximum: 64 }, default: 8, doc: 'solutions sampled per problem from the starting policy' },
      temperature: { schema: { type: 'number', exclusiveMinimum: 0 }, default: 1, doc: 'sampling temperature' },
      reference: { schema: { type: 'boolean' }, default: true, doc: 'add each problem\'s reference solution (every step right)' },
      seed: { schema: { type: 'integer', minimum: 0 }, default: 7, doc: 'seed of the problems and the sampling' },
    },
  },
};

interface PrmSection {
  evalEvery: number; traceSolutions: number;
  sft: { steps: number; batchSize: number; lr: number; demoNoise: number };
  data: { prompts: number; evalPrompts: number; samples: number; temperature: number; reference: boolean; seed: number };
}

/** Per-token traces of solutions: step_reward σ(z) and step_label at step ends (NaN elsewhere), step_boundary. */
function traceRows(tok: CharTokenizer, rows: EncodedSteps[], logits: number[][]): { samples: RolloutSampleInput[]; arrays: Record<string, number[]>[]; groups: RolloutGroup[] } {
  const samples: RolloutSampleInput[] = [], arrays: Record<string, number[]>[] = [];
  const byPrompt = new Map<string, number[]>();
  rows.forEach((r, i) => {
    const toks = r.ids.slice(r.promptLen);
    const L = toks.length;
    const reward = new Array<number>(L).fill(NaN), boundary = new Array<number>(L).fill(0), label = new Array<number>(L).fill(NaN);
    r.ends.forEach((e, j) => { const t = e - r.promptLen; reward[t] = stepScore(logits[i][j]); boundary[t] = 1; label[t] = r.labels[j]; });
    const scores = logits[i].map(stepScore);
    const minScore = scores.length ? Math.min(...scores) : NaN;
    samples.push({
      group: r.record.prompt, prompt: r.record.prompt, completion: r.record.completion, tokens: tok.display(toks), tokenIds: toks,
      reward: minScore, rewardParts: { prm_min: minScore, step_label_mean: r.labels.length ? r.labels.reduce((a, b) => a + b, 0) / r.labels.length : NaN }, length: L, truncated: !r.record.finished,
    });
    arrays.push({ step_reward: reward, step_boundary: boundary, step_label: label, mask: new Array<number>(L).fill(1) });
    const g = byPrompt.get(r.record.prompt) ?? [];
    g.push(i); byPrompt.set(r.record.prompt, g);
  });
  const groups: RolloutGroup[] = [...byPrompt].map(([p, idx]) => {
    const rw = idx.map((i) => samples[i].reward as number);
    const m = rw.reduce((a, b) => a + b, 0) / rw.length;
    return { id: p, prompt: p, samples: idx, rewards: rw, mean: m, std: Math.sqrt(rw.reduce((a, b) => a + (b - m) ** 2, 0) / Math.max(1, rw.length - 1)) };
  });
  return { samples, arrays, groups };
}

export const prmModule: AlgorithmModule = {
  name: 'prm',
  kind: 'preference',
  summary: 'Process reward model: a correctness score per reasoning step (BCE at step-end tokens) from verifier-labelled samples',
  configSchema: sectionSchema(PRM_FIELDS, { withDefaults: true }),
  defaults: () => ({}),
  needsValueHead: () => true,
  needsReference: false,
  async run(ctx: TrainContext) {
    const sec = deepMerge(sectionDefaults(PRM_FIELDS), (ctx.section ?? {}) as Record<string, unknown>) as unknown as PrmSection;
    const task = ctx.task;
    if (!hasSteps(task)) throw new Error(`prm: task ${JSON.stringify(task.name)} has no step structure; use task.name "arithmetic-steps" (tasks/steps.ts)`);
    const cm = charModel(ctx, 'prm');
    if (!ctx.config.init?.checkpoint && sec.sft.steps > 0) {
      ctx.log(`prm: no init.checkpoint: supervised warm start first (${sec.sft.steps} steps, demoNoise ${sec.sft.demoNoise}); it generates the labelled samples and gives the PRM its trunk`);
      if (!(await supervisedWarmStart(ctx, sec.sft, 'prm'))) { ctx.log('prm: stopped during the warm start'); return; }
      ctx.checkpoint(0, 'sft');
    }
    const maxNewTokens = ctx.config.derived.maxNewTokens;
    const rng = new Rng((sec.data.seed ^ 0x9a3) >>> 0);
    const t0 = Date.now();
    const dOpts = { samples: sec.data.samples, temperature: sec.data.temperature, maxNewTokens, rng, reference: sec.data.reference };
    const trainRecs = prmStepData(cm.policy, cm.tokenizer, task, distinctProblems(task, sec.data.prompts, 'train', sec.data.seed), dOpts);
    const evalRecs = prmStepData(cm.policy, cm.tokenizer, task, distinctProblems(task, sec.data.evalPrompts, 'eval', sec.data.seed), dOpts);
    const ctxLen = cm.policy.config.contextLength, delim = task.stepDelimiter;
    const train = trainRecs.map((r) => encodeSteps(cm.tokenizer, r, ctxLen, delim)).filter((r) => r.ends.length);
    const evalRows = evalRecs.map((r) => encodeSteps(cm.tokenizer, r, ctxLen, delim)).filter((r) => r.ends.length);
    const count = (rows: EncodedSteps[]) => { let s = 0, w = 0; for (const r of rows) { s += r.labels.length; w += r.labels.filter((y) => !y).length; } return { solutions: rows.length, steps: s, wrongSteps: w }; };
    const stats = { train: count(train), eval: count(evalRows) };
    ctx.log(`prm data (${((Date.now() - t0) / 1000).toFixed(1)} s): ${stats.train.solutions} solutions / ${stats.train.steps} labelled steps (${stats.train.wrongSteps} wrong) for training; held-out ${stats.eval.solutions} / ${stats.eval.steps} (${stats.eval.wrongSteps} wrong)`);
    if (!train.length) throw new Error('prm: no step-labelled training data (prm.data.prompts / samples)');
    // the PRM: the (warm-started) trunk with a zero scalar head (every step starts at σ(0) = 0.5, loss ln 2)
    zeroScalarHead(cm.policy);
    const evaluate = (): Record<string, number> => {
      if (!evalRows.length) return {};
      const z = prmStepLogits(cm.policy, evalRows, cm.tokenizer.pad);
      let loss = 0, n = 0;
      z.forEach((zs, b) => zs.forEach((zz, j) => { const y = evalRows[b].labels[j]; loss += Math.log1p(Math.exp(-Math.abs(zz))) + Math.max(zz, 0) - y * zz; n++; }));
      return { 'eval/prm/loss': loss / Math.max(1, n), ...prmMetrics(z, evalRows.map((r) => r.labels), 'eval/prm/') };
    };
    const before = evaluate();
    ctx.writer.metrics({ step: 0, split: 'eval', values: before });
    ctx.writer.updateManifest({ prm: { data: stats, before } });
    const t = ctx.config.train;
    const brng = new Rng((ctx.config.seed ^ 0x51ab) >>> 0);
    let after = before;
    for (let step = 1; step <= ctx.totalSteps; step++) {
      if (ctx.stopRequested()) break;
      const part = Array.from({ length: Math.min(t.batchSize, train.length) }, () => train[brng.int(train.length)]);
      const lr = ctx.lr(step);
      const u = prmTrainStep(cm.policy, ctx.optimizer, part, cm.tokenizer.pad, t.gradClip, lr);
      if (!Number.isFinite(u.gradNorm) || !Number.isFinite(u.loss)) throw new Error(`prm: loss ${u.loss}, gradient norm ${u.gradNorm} at step ${step}; lower train.lr`);
      const m: Record<string, number> = { loss: u.loss, 'prm/loss': u.loss, ...prmMetrics(u.logits, part.map((r) => r.labels)), grad_norm: u.gradNorm, learning_rate: lr };
      ctx.step(step, m, { tokens: part.reduce((a, r) => a + r.ids.length, 0) });
      if (ctx.traceStep(step)) {
        const tr = part.slice(0, sec.traceSolutions);
        const z = prmStepLogits(cm.policy, tr, cm.tokenizer.pad);
        const x = traceRows(cm.tokenizer, tr, z);
        ctx.rollout(step, { step, algorithm: 'prm', arrays: ['step_reward', 'step_boundary', 'step_label', 'mask'], groups: x.groups, params: {} }, x.samples, x.arrays);
      }
      if ((sec.evalEvery > 0 && step % sec.evalEvery === 0) || step === ctx.totalSteps) {
        after = evaluate();
        ctx.writer.metrics({ step, split: 'eval', values: after });
        ctx.log(`prm held-out step ${step}: loss ${after['eval/prm/loss']?.toFixed(4)}  step accuracy ${after['eval/prm/accuracy']?.toFixed(3)} (right ${after['eval/prm/accuracy_pos']?.toFixed(3)}, wrong ${after['eval/prm/accuracy_neg']?.toFixed(3)})  first error found ${after['eval/prm/first_error_accuracy']?.toFixed(3)}`);
      }
      await ctx.yield();
    }
    ctx.writer.updateManifest({ prm: { data: stats, before, after } });
  },
};

// ---------------------------------------------------------------------------------------------------------------
// The PRM as the reward of an RL run

/** `reward: { "type": "process", … }`: the PRM's step scores as a dense reward. */
export interface ProcessRewardSpec {
  type: 'process';
  checkpoint: string;
  /** the sequence-level score (logged as the reward, group statistics): min (default, Math-Shepherd / weakest link), product (Lightman et al.), mean, last */
  aggregate?: 'min' | 'product' | 'mean' | 'last';
}

/** One step's reward as the RL loop gets it: where the step ends in the completion (characters) and its score. */
export interface StepRewardOut { end: number; terminator: StepSpan['terminator']; score: number }

function aggregate(scores: number[], how: ProcessRewardSpec['aggregate']): number {
  if (!scores.length) return 0;
  if (how === 'product') return scores.reduce((a, b) => a * b, 1);
  if (how === 'mean') return scores.reduce((a, b) => a + b, 0) / scores.length;
  if (how === 'last') return scores[scores.length - 1];
  return Math.min(...scores);
}

/**
 * Wrap a step task so that `reward(ex, completion, finished)` returns the PRM's step scores (σ(z) per step, `steps`,
 * for rl/step.ts) and their aggregate as the score. Parts: `prm` (the aggregate), `prm_step_mean`, and for
 * monitoring only (not in the score): `true_step_accuracy` (the verifier's fraction of right steps),
 * `true_final` (final answer right), `true_accuracy` (the task's exact accuracy): whether raising the PRM score
 * raised what it stands for. Scores are cached per (prompt, completion, finished).
 */
export function withProcessReward<T extends object>(task: T, spec: ProcessRewardSpec, deps: { loadCheckpoint: (dir: string) => LoadedRewardModel }): { task: T; dispose: () => void } {
  if (!hasSteps(task)) throw new Error(`reward.type "process": the task has no step structure; use task.name "arithmetic-steps"`);
  if (!spec.checkpoint) throw new Error('reward.checkpoint: required when reward.type is "process" (a PRM checkpoint folder, algorithm "prm")');
  const m = deps.loadCheckpoint(spec.checkpoint);
  if (!m.model.config.valueHead) { m.model.dispose(); throw new Error(`reward.checkpoint ${spec.checkpoint}: this checkpoint has no scalar head; train one with algorithm "prm"`); }
  const st = task as unknown as StepTask;
  const base = st.reward.bind(task);
  const cache = new Map<string, { score: number; parts: Record<string, number>; steps: StepRewardOut[] }>();
  const wrapped = new Proxy(task, {
    get(target, prop, recv) {
      if (prop !== 'reward') return Reflect.get(target, prop, recv);
      return (ex: TaskExample, completion: string, finished = true) => {
        const key = `${finished ? 1 : 0}\u0000${ex.prompt}\u0000${completion}`;
        let r = cache.get(key);
        if (!r) {
          const spans = scoringSteps(completion, finished, st.stepDelimiter);
          const enc = encodeSteps(m.tokenizer, { prompt: ex.prompt, completion: Array.from(completion).filter((ch) => m.tokenizer.has(ch)).join(''), finished, labels: spans.map(() => 0) }, m.model.config.contextLength, st.stepDelimiter);
          const z = enc.ends.length ? prmStepLogits(m.model, [enc], m.tokenizer.pad)[0] : [];
          const scores = z.map(stepScore);
          const steps = scores.map((s, j) => ({ end: spans[j].end, terminator: spans[j].terminator, score: s }));
          const rule = base(ex, completion, finished);
          const score = aggregate(scores, spec.aggregate);
          r = {
            score, steps,
            parts: { prm: score, prm_step_mean: scores.length ? scores.reduce((a, b) => a + b, 0) / scores.length : 0,
              true_step_accuracy: stepAccuracy(ex.prompt, completion, finished).accuracy, true_final: finalAnswerCorrect(st, ex, { completion, finished }) ? 1 : 0, true_accuracy: rule.parts.accuracy ?? 0 },
          };
          if (cache.size > 50000) cache.clear();
          cache.set(key, r);
        }
        return { score: r.score, parts: { ...r.parts }, steps: r.steps.map((s) => ({ ...s })) };
      };
    },
  });
  return { task: wrapped, dispose: () => { m.model.dispose(); cache.clear(); } };
}

registerAlgorithm(prmModule);
