/**
 * `algorithm: "pipeline"`: the classic RLHF pipeline of the survey (InstructGPT) in one config:
 *   stage 1  sft           supervised warm start on task demonstrations
 *   stage 2  reward_model  trunk initialised from stage 1, trained on ranked answers: by default the built-in
 *                          contrastive pairs of the task (answer vs same-format wrong answers, concise vs verbose;
 *                          data.ts contrastPairs), or the synthetic rankings (`builtin.source: "synthetic"`), or rankings of the SFT model's own samples
 *                          (`pipeline.rewardModel.reward_model.data.builtin.source: "policy"`, as InstructGPT's
 *                          labelers rank model outputs), or `reward_model.data.path`
 *   stage 3  ppo | grpo    policy initialised from stage 1, reward = the stage-2 reward model
 *                          (`reward: { type: "model" }`, or combined with the task's rule reward by weights)
 * Each stage is a complete run in `RUN_DIR/stages/<n>-<name>/` (its own manifest, metrics, rollouts, checkpoints) and
 * names the parent (`parent` in its manifest); the parent run's manifest lists them in `stages` (name, relative path,
 * algorithm, status), so the Runs tree shows the pipeline. The parent's own metrics get one line per finished stage
 * (stage summaries), and at the end its policy holds the final stage's weights (so the parent's final eval and
 * checkpoint are those of the pipeline's result).
 *
 * Stage configs: the parent config (task, model, backend, seed, eval, rollouts, ...) deep-merged with
 * `pipeline.sft`, `pipeline.rewardModel`, `pipeline.rl` overrides (any config fields, e.g. {"train": {"steps": 200}}).
 */
import * as fs from 'fs';
import * as path from 'path';
import { writeFileAtomic, jsonReplacer } from '../../runio/writer';
import { readEvals, readManifest, readMetrics } from '../../runio/reader';
import { checkpointDirName, FILES, type PipelineSummary, type RunStatus } from '../../shared/runFormat';
import { getAlgorithm, type AlgorithmModule } from '../registry';
import { runTraining, type TrainContext, type StopSignal } from '../engine';
import { deepMerge as merge } from '../../shared/deepMerge';
import { resolveConfig } from '../config';
import { loadCharCheckpoint } from '../checkpoint';
import { charModel } from '../charModel';
import { sampleGroups } from '../sampling';
import { scoreWithRewardModel } from './rewardModel';
import { Rng } from '../rng';
import { hiddenScore } from './data';
import { checkOnPolicy, type OnPolicyCheck, type ScoredGroup } from './rmCheck';

type Stage = { key: 'sft' | 'rewardModel' | 'rl'; name: string; algorithm: string };

export const PIPELINE_SCHEMA = {
  type: 'object', additionalProperties: false,
  properties: {
    rlAlgorithm: { type: 'string', default: 'ppo', description: 'stage 3 algorithm: ppo (InstructGPT) or grpo (or any registered RL algorithm)' },
    rewardModelAlgorithm: { type: 'string', enum: ['reward_model', 'prm'], default: 'reward_model', description: 'stage 2: reward_model (an outcome reward model, Bradley–Terry on ranked answers) or prm (a process reward model on verifier-labelled steps, tasks with steps; stage 3 then reads reward.type "process": each step\'s score on its last token; preference/prm.ts)' },
    processAggregate: { type: 'string', enum: ['min', 'product', 'mean', 'last'], default: 'min', description: 'with rewardModelAlgorithm prm: reward.aggregate of stage 3 (the logged sequence score from the step scores)' },
    sft: { type: 'object', default: {}, description: 'config overrides for stage 1 (deep-merged into the parent config)' },
    rewardModel: { type: 'object', default: {}, description: 'config overrides for stage 2 (e.g. {"train": {"steps": 120}, "reward_model": {...}})' },
    rl: { type: 'object', default: {}, description: 'config overrides for stage 3 (e.g. {"train": {"steps": 100}})' },
    rmWeight: { type: 'number', default: 1, description: 'weight of the reward model score in the stage-3 reward' },
    ruleWeight: { type: 'number', default: 0, description: 'weight of the task\'s rule reward in the stage-3 reward (0 = learned reward only)' },
    sftCheckpoint: { type: 'string', minLength: 1, description: 'skip stage 1 and use this SFT checkpoint folder' },
    normalizeReward: { type: 'boolean', default: true, description: 'normalise the reward model\'s score to mean 0, std 1 on the SFT policy\'s own samples before RL (Ziegler et al. 2019 / openai lm-human-preferences); the stage-3 reward is then (RM − mean)/std' },
    rmCheck: {
      type: 'object', additionalProperties: false, default: {},
      description: 'the reward model checked on the SFT policy\'s samples before RL (normalisation statistics; with a built-in task also agreement with the hidden rule and best-of-n)',
      properties: {
        prompts: { type: 'integer', minimum: 1, maximum: 4096, default: 64, description: 'train prompts sampled' },
        samples: { type: 'integer', minimum: 2, maximum: 64, default: 8, description: 'samples per prompt (the n of best-of-n)' },
      },
    },
  },
} as const;

/** Mark a finished stage run as a child of the pipeline run (manifest `parent`, relative path). */
function linkParent(stageDir: string, parentDir: string): void {
  const f = path.join(stageDir, FILES.manifest);
  try {
    const m = readManifest(stageDir);
    writeFileAtomic(f, JSON.stringify({ ...m, parent: path.relative(stageDir, parentDir) || '.' }, jsonReplacer, 2) + '\n');
  } catch { /* a stage that never created its folder has nothing to link */ }
}

/** First and last train values of a metric in a run (for before/after summaries). */
function firstLast(runDir: string, key: string): { first: number; last: number } | undefined {
  const vals = readMetrics(runDir).filter((r) => (r.split ?? 'train') === 'train' && typeof r.values[key] === 'number').map((r) => r.values[key] as number);
  if (!vals.length) return undefined;
  const k = Math.max(1, Math.min(5, Math.floor(vals.length / 4)));
  const avg = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
  return { first: avg(vals.slice(0, k)), last: avg(vals.slice(-k)) };
}

export const pipelineModule: AlgorithmModule = {
  name: 'pipeline',
  kind: 'pipeline',
  summary: 'SFT → reward model → PPO/GRPO with the learned reward, one run per stage',
  configSchema: PIPELINE_SCHEMA as unknown as Record<string, unknown>,
  defaults: () => ({}),
  needsReference: false,
  totalSteps: () => 3,
  async run(ctx: TrainContext) {
    const sec = ctx.section as { rewardModelAlgorithm?: 'reward_model' | 'prm'; processAggregate?: string; rlAlgorithm?: string; sft?: object; rewardModel?: object; rl?: object; rmWeight?: number; ruleWeight?: number; sftCheckpoint?: string; normalizeReward?: boolean; rmCheck?: { prompts?: number; samples?: number } };
    const rlAlg = sec.rlAlgorithm ?? 'ppo';
    const rmAlg = sec.rewardModelAlgorithm ?? 'reward_model';
    if (!getAlgorithm(rlAlg)) throw new Error(`pipeline.rlAlgorithm: no algorithm ${JSON.stringify(rlAlg)} is registered (expected ppo or grpo)`);
    const base: Record<string, unknown> = { ...(ctx.config as unknown as Record<string, unknown>) };
    for (const k of ['derived', 'pipeline', 'algorithm', 'name', '$schema', 'init', 'reward']) delete base[k];
    // sections of other algorithms filled with defaults are dropped: each stage resolves its own
    const stages: Stage[] = [
      ...(sec.sftCheckpoint ? [] : [{ key: 'sft', name: 'sft', algorithm: 'sft' } as Stage]),
      { key: 'rewardModel', name: rmAlg, algorithm: rmAlg },
      { key: 'rl', name: rlAlg, algorithm: rlAlg },
    ];
    const listed: { name: string; path: string; algorithm: string; status?: RunStatus }[] = stages.map((s, i) => ({ name: s.name, path: `stages/${i + 1}-${s.name}`, algorithm: s.algorithm }));
    ctx.writer.updateManifest({ stages: listed });
    const runName = (ctx.config.name ?? 'pipeline').replace(/[^A-Za-z0-9_.-]+/g, '_');
    let sftCkpt = sec.sftCheckpoint ? path.resolve(sec.sftCheckpoint) : undefined;
    let rmCkpt: string | undefined;
    let rmNorm: { mean: number; std: number } | undefined;
    let finalCkpt: string | undefined;
    const summary: PipelineSummary = {};
    const stop = { get requested() { return ctx.stopRequested(); }, reason: 'stop requested', request() { /* the parent's signal decides */ } } as unknown as StopSignal;

    for (let i = 0; i < stages.length; i++) {
      if (ctx.stopRequested()) break;
      const s = stages[i];
      const dir = path.join(ctx.runDir, listed[i].path);
      let raw = merge(base, { algorithm: s.algorithm, name: `${runName}-${s.name}` }) as Record<string, unknown>;
      if (s.key === 'rewardModel' || s.key === 'rl') raw.init = { checkpoint: sftCkpt };
      // the RM's default data: the contrastive built-in set (length and format balanced, so correctness is what it
      // must learn); the plain synthetic rankings taught a small RM length/format and PPO exploited it (docs/preference.md)
      // + rankings of the SFT policy's own samples (InstructGPT's labelers ranked model outputs): the RM must be right on
      // what the RL stage will show it, or the policy finds its errors (docs/preference.md, "Pipeline")
      if (s.key === 'rewardModel' && rmAlg === 'reward_model') raw.reward_model = { data: { builtin: { source: 'contrast+policy' } } };
      if (s.key === 'rl') {
        const rmW = sec.rmWeight ?? 1, ruleW = sec.ruleWeight ?? 0;
        const rmPart = { type: 'model', checkpoint: rmCkpt, weight: rmW, name: 'rm', ...(rmNorm ? { normalize: rmNorm } : {}) };
        raw.reward = rmAlg === 'prm' ? { type: 'process', checkpoint: rmCkpt, aggregate: sec.processAggregate ?? 'min' }
          : ruleW ? { type: 'combined', parts: [rmPart, { type: 'rule', weight: ruleW, name: 'rule' }] } : rmPart;
      }
      raw = merge(raw, (sec as Record<string, unknown>)[s.key] ?? {}) as Record<string, unknown>;
      const cfg = resolveConfig(raw, { file: `pipeline.${s.key} (stage ${i + 1})` });
      listed[i].status = 'running';
      ctx.writer.updateManifest({ stages: listed });
      ctx.log(`pipeline stage ${i + 1}/${stages.length}: ${s.algorithm} → ${listed[i].path}`);
      const res = await runTraining(cfg, { outDir: dir, stop, progress: (line) => ctx.log(`[${s.name}] ${line}`) });
      linkParent(dir, ctx.runDir);
      listed[i].status = res.status;
      ctx.writer.updateManifest({ stages: listed });
      if (res.status === 'failed') throw new Error(`pipeline stage ${i + 1} (${s.algorithm}) failed: ${res.error}; see ${path.relative(process.cwd(), dir)}/events.jsonl`);
      const ck = path.join(dir, 'checkpoints', checkpointDirName(res.step, res.status === 'stopped' ? 'stop' : 'final'));
      if (!fs.existsSync(ck)) throw new Error(`pipeline stage ${i + 1} (${s.algorithm}): final checkpoint ${ck} missing`);
      const m: Record<string, number | null> = { 'pipeline/stage': i + 1 };
      if (s.key === 'sft') {
        sftCkpt = ck;
        m['sft/eval_pass@1'] = res.lastEval?.passAtK['1'] ?? null;
        summary.sft = { dir: listed[i].path, checkpoint: path.relative(ctx.runDir, ck), passAtK: res.lastEval?.passAtK };
      } else if (s.key === 'rewardModel') {
        rmCkpt = ck;
        const rm = readManifest(dir).rewardModel as { before?: Record<string, number>; after?: Record<string, number> } | undefined;
        m['rm/eval_accuracy'] = rm?.after?.['eval/rm/accuracy'] ?? null;
        m['rm/eval_margin'] = rm?.after?.['eval/rm/margin'] ?? null;
        // a PRM scores steps, not whole answers: the outcome RM's on-policy check and normalisation do not apply
        const chk = rmAlg === 'prm' ? undefined : await checkRewardModelOnPolicy(ctx, sftCkpt, ck, sec.rmCheck ?? {}, loadCharCheckpoint);
        if (rmAlg === 'prm') {
          const prm = readManifest(dir).prm as { after?: Record<string, number> } | undefined;
          m['prm/eval_accuracy'] = prm?.after?.['eval/prm/accuracy'] ?? null;
          m['prm/eval_first_error_accuracy'] = prm?.after?.['eval/prm/first_error_accuracy'] ?? null;
        }
        if (chk) {
          if (sec.normalizeReward !== false) rmNorm = { mean: chk.mean, std: chk.std > 1e-6 ? chk.std : 1 };
          m['rm/policy_pair_accuracy'] = chk.pairAccuracy ?? null;
          m['rm/policy_best_of_n_hidden'] = chk.bestOfNHidden ?? null;
          ctx.log(`reward model on ${chk.samples} samples of the SFT policy (${chk.samples / chk.n} train prompts × ${chk.n}): score mean ${chk.mean.toFixed(3)}, std ${chk.std.toFixed(3)}`
            + (chk.pairAccuracy !== undefined ? `; orders ${(100 * chk.pairAccuracy).toFixed(1)}% of ${chk.pairs} same-prompt pairs as the hidden rule does; best-of-${chk.n} by the RM: hidden score ${chk.bestOfNHidden!.toFixed(3)} vs ${chk.hiddenMean!.toFixed(3)} on average` : '')
            + (rmNorm ? `; stage 3 reads (RM − ${rmNorm.mean.toFixed(3)}) / ${rmNorm.std.toFixed(3)}` : ''));
        }
        summary.rewardModel = { dir: listed[i].path, checkpoint: path.relative(ctx.runDir, ck), before: rm?.before, after: rm?.after, onPolicy: chk, normalize: rmNorm };
      } else {
        finalCkpt = ck;
        const rmScore = firstLast(dir, 'reward/rm/mean'), hidden = firstLast(dir, 'reward/hidden_score/mean');
        m['rl/rm_score_first'] = rmScore?.first ?? null; m['rl/rm_score_last'] = rmScore?.last ?? null;
        m['rl/hidden_score_first'] = hidden?.first ?? null; m['rl/hidden_score_last'] = hidden?.last ?? null;
        if (rmAlg === 'prm') {
          // PRM hacking: the PRM's score against the verifier's truth over the RL stage
          for (const k of ['prm', 'true_step_accuracy', 'true_final', 'true_accuracy']) {
            const fl = firstLast(dir, `reward/${k}/mean`);
            m[`rl/${k}_first`] = fl?.first ?? null; m[`rl/${k}_last`] = fl?.last ?? null;
          }
        }
        m['rl/eval_pass@1'] = res.lastEval?.passAtK['1'] ?? null;
        // the same fixed held-out prompts before and after RL: the RM score there (eval meanReward) and pass@1
        const evs = (() => { try { return readEvals(dir); } catch { return []; } })();
        const ev0 = evs.length > 1 ? evs[0] : undefined, ev1 = evs.length > 1 ? evs[evs.length - 1] : undefined;
        m['rl/eval_rm_score_first'] = ev0?.meanReward ?? null; m['rl/eval_rm_score_last'] = ev1?.meanReward ?? null;
        m['rl/eval_pass@1_first'] = ev0?.passAtK['1'] ?? null;
        summary.rl = { dir: listed[i].path, algorithm: rlAlg, checkpoint: path.relative(ctx.runDir, ck), rmScore, hiddenScore: hidden, passAtK: res.lastEval?.passAtK,
          eval: ev0 && ev1 ? { before: { step: ev0.step, rmScore: ev0.meanReward, passAtK: ev0.passAtK }, after: { step: ev1.step, rmScore: ev1.meanReward, passAtK: ev1.passAtK } } : undefined };
      }
      ctx.writer.updateManifest({ pipeline: summary });
      ctx.step(i + 1, m);
      if (res.status === 'stopped') break;
    }
    // the parent's policy becomes the pipeline's result (the engine then evaluates and checkpoints it)
    const resultCkpt = finalCkpt ?? sftCkpt;
    if (resultCkpt) {
      const { model } = loadCharCheckpoint(resultCkpt, { trainable: false });
      try {
        for (const [name, v] of charModel(ctx, 'pipeline').policy.weights) {
          const src = model.weights.get(name);
          if (src && src.shape.join(',') === v.shape.join(',')) v.assign(src);
        }
      } finally { model.dispose(); }
    }
  },
};

/**
 * Sample the SFT policy on train prompts and score the samples with the new reward model (rmCheck.ts): the
 * normalisation statistics of the RL stage's reward and, for built-in tasks (answers known), the agreement with the
 * hidden rule. Returns undefined when there is no SFT checkpoint to sample from.
 */
async function checkRewardModelOnPolicy(ctx: TrainContext, sftCkpt: string | undefined, rmCkpt: string, opts: { prompts?: number; samples?: number },
  load: typeof loadCharCheckpoint): Promise<OnPolicyCheck | undefined> {
  if (!sftCkpt) return undefined;
  const nP = opts.prompts ?? 64, n = opts.samples ?? 8;
  const rng = new Rng((ctx.config.seed ^ 0x5eed) >>> 0);
  const examples = Array.from({ length: nP }, () => ctx.task.sample(rng, 'train'));
  const pol = load(sftCkpt, { trainable: false });
  const rm = load(rmCkpt, { trainable: false, valueHead: true });
  try {
    const groups: ScoredGroup[] = [];
    const hasAnswers = examples.every((e) => typeof e.answer === 'string' && e.answer.length > 0);
    // 16 prompts at a time, yielding between them (a stop request is seen within one chunk)
    for (let i = 0; i < examples.length; i += 16) {
      const part = examples.slice(i, i + 16);
      const { texts } = sampleGroups(pol.model, pol.tokenizer, part.map((e) => e.prompt), n,
        { maxNewTokens: ctx.config.derived.maxNewTokens, temperature: ctx.config.sampling.temperature, topP: ctx.config.sampling.topP, topK: ctx.config.sampling.topK, rng }, 16 * n);
      const scores = scoreWithRewardModel(rm.model, rm.tokenizer, part.flatMap((e, q) => texts[q].map((c) => ({ prompt: e.prompt, completion: c }))));
      part.forEach((e, q) => {
        const c = texts[q];
        groups.push({ rm: scores.slice(q * n, (q + 1) * n), ...(hasAnswers ? { hidden: c.map((x) => hiddenScore(x, e.answer)), correct: c.map((x) => x === e.answer) } : {}) });
      });
      await ctx.yield();
    }
    return checkOnPolicy(groups);
  } finally { pol.model.dispose(); rm.model.dispose(); }
}
