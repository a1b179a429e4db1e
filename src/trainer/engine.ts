/**
 * The training engine (imports no algorithm: the entry point registers them, see registry.ts): sets up backend, tokenizer, task, policy (and reference), the run directory and the event
 * channel, then hands a TrainContext to the algorithm module named by `config.algorithm` (see registry.ts and
 * README.md "Plug-in interface"). It owns the run's life cycle:
 *   start event → algorithm steps (ctx.step per optimizer step) → final checkpoint → end event, status completed;
 *   stop request (SIGTERM / {"type":"stop"}) → the algorithm returns after its current step → stop checkpoint, status stopped;
 *   exception or NaN/inf loss → error event (message + stack), status failed. Everything is appended as it happens,
 *   so nothing already written is lost.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { RunWriter, jsonReplacer, writeFileAtomic } from '../runio/writer';
import { passAtK } from '../shared/passAtK';
import { isFullTraceStep, retainWholeGroups } from '../shared/rolloutStep';
import { FILES, checkpointDirName, type BackendInfo, type EvalRecord, type RolloutGroup, type TrainerEvent } from '../shared/runFormat';
import { describeBackend, initBackend } from './backend';
import { loadCharCheckpoint, loadCheckpoint, saveCheckpoint, tokenizerMeta } from './checkpoint';
import type { RunModel, RunTokenizer, TrainConfig, TrainContext } from './context';
import { loadPretrained } from './model/pretrained';
import { Llama } from './model/llama';
import { LoraLlama, applyLora } from './model/lora';
import { specialIds } from './rl/rollout';
import { evalEpisodes } from './rl/multiturn';
import { envItemOf, envOf, envTask, loadUserEnvironment } from './envs';
import type { CausalLM } from './model/types';
import { GPT } from './model/gpt';
import { AdamW } from './optim';
import { getAlgorithm, listConfigSections, sectionOf } from './registry';
import { Rng } from './rng';
import { sampleGroups } from './sampling';
import { createTask, isSolved, loadUserReward, needsPretrained, withUserReward, type Task } from './tasks';
import { CharTokenizer, DEFAULT_CHARS } from './tokenizer';

export { registerAlgorithm, getAlgorithm, listAlgorithms, type AlgorithmModule } from './registry';

export class NonFiniteError extends Error {}
export class StopSignal {
  requested = false;
  reason?: string;
  request(reason = 'stop requested'): void { if (!this.requested) { this.requested = true; this.reason = reason; } }
}

export interface RunOptions {
  /** the run directory (created; must not hold a run yet). Default: <runsRoot>/<name>-<time> */
  outDir?: string;
  runsRoot?: string;
  /** override config.backend */
  backend?: string;
  /** every event, as written to events.jsonl (the CLI prints them on stdout with --events stdout) */
  onEvent?: (e: TrainerEvent) => void;
  /**
   * human progress lines (the CLI writes them to stderr). The messages that are events of their own (ctx.log, info
   * phases, ctx.warn) come here only without `onEvent`: a consumer of the events (the extension, which shows both the
   * events and stderr in the run's Output channel) gets each of them once.
   */
  progress?: (line: string) => void;
  /** may user code (task.rewardModule) be loaded? The CLI is trusted; the extension passes workspace trust. Default true. */
  trusted?: boolean;
  stop?: StopSignal;
}

export interface RunResult {
  status: 'completed' | 'stopped' | 'failed';
  runDir: string;
  step: number;
  lastMetrics: Record<string, number | null>;
  lastEval?: EvalRecord;
  error?: string;
  backend?: BackendInfo;
}

export type { TrainContext } from './context';

const now = () => new Date().toISOString();

export function lrAt(cfg: TrainConfig['train'], step: number, total: number): number {
  const base = cfg.lr;
  if (cfg.warmupSteps > 0 && step <= cfg.warmupSteps) return base * step / cfg.warmupSteps;
  if (cfg.lrSchedule === 'constant') return base;
  const span = Math.max(1, total - cfg.warmupSteps);
  const p = Math.min(1, Math.max(0, (step - cfg.warmupSteps) / span));
  const minLr = base * cfg.minLrRatio;
  return minLr + 0.5 * (base - minLr) * (1 + Math.cos(Math.PI * p));
}

function fmtDuration(s: number): string {
  if (!Number.isFinite(s) || s < 0) return '?';
  if (s < 60) return `${Math.round(s)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

function fmtNum(x: number | null | undefined): string {
  if (x === null || x === undefined) return 'null';
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  return a !== 0 && (a < 1e-3 || a >= 1e5) ? x.toExponential(2) : x.toFixed(a < 1 ? 4 : 3);
}

function versions(): Record<string, string> {
  const v: Record<string, string> = { node: process.version, 'tfjs-core': tf.version_core };
  try {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    v['rl-lens'] = (require('../../package.json') as { version: string }).version;
  } catch { /* bundled without package.json */ }
  return v;
}

function defaultRunDir(cfg: TrainConfig, root: string): string {
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-');
  const base = `${(cfg.name ?? cfg.algorithm).replace(/[^A-Za-z0-9_.-]+/g, '_')}-${stamp}`;
  let dir = path.join(root, base);
  for (let i = 2; fs.existsSync(dir); i++) dir = path.join(root, `${base}-${i}`);
  return dir;
}

/** Run a training job in this process. Never throws for training failures (they end as status failed); throws for setup errors before the run dir exists. */
export async function runTraining(config: TrainConfig, opts: RunOptions = {}): Promise<RunResult> {
  const mod = getAlgorithm(config.algorithm);
  if (!mod) throw new Error(`config.algorithm: no module registered for ${JSON.stringify(config.algorithm)}`);
  const progress = opts.progress ?? (() => undefined);
  const stop = opts.stop ?? new StopSignal();
  const backend = await initBackend(opts.backend ?? config.backend, { threads: config.threads });
  progress(`[rl-lens] ${describeBackend(backend)}`);

  // task (+ user reward: only in a trusted workspace)
  let task = createTask(config.task.name, config.task);
  if (config.task.rewardModule) {
    const fn = loadUserReward(config.task.rewardModule, { trusted: opts.trusted ?? true });
    task = withUserReward(task, fn, `task.rewardModule ${config.task.rewardModule}`);
  }
  // user environment module (rl.env.module: only in a trusted workspace) in place of the task's environment
  const envModule = (config.rl as { env?: { module?: string | null } } | undefined)?.env?.module;
  if (envModule) {
    if (!envOf(task)) throw new Error(`rl.env.module: needs a task with an environment (task.name "calc-tool" or "lookup-tool"), got ${JSON.stringify(config.task.name)}`);
    const env = loadUserEnvironment(envModule, { trusted: opts.trusted ?? true });
    for (const ch of env.chars) if (!new CharTokenizer(DEFAULT_CHARS).has(ch) && !config.model.pretrained) throw new Error(`rl.env.module: environment ${env.name} uses character ${JSON.stringify(ch)}, which the tokenizer lacks (${JSON.stringify(DEFAULT_CHARS)})`);
    task = envTask(config.task.name, env, config.task, { prompt: task.maxPromptLength(), answer: task.maxAnswerLength() });
  }
  // completions judged on their text alone (task.solved without EOS, e.g. the stories tasks): the doctor reads this
  config.derived.eosRequired = !task.solved;
  // plug-in sections that wrap the task, e.g. the learned reward `reward: { type: "model" | "combined", ... }`
  // (registered by preference/index.ts: rewardModel.ts withLearnedReward; parts rm, rule, hidden_score)
  const wrappers: { dispose: () => void }[] = [];
  for (const sec of listConfigSections()) {
    if (config[sec.name] === undefined || !sec.wrapTask) continue;
    const w = sec.wrapTask(task, config[sec.name], { loadCheckpoint: (d) => loadCharCheckpoint(d, { trainable: false }) });
    task = w.task;
    wrappers.push(w);
  }

  // model: a pretrained LM (model.pretrained), a checkpoint (init.checkpoint), or a fresh character-level GPT
  const wantValue = Boolean(config.model.valueHead || mod.needsValueHead?.(config));
  let policy: RunModel;
  let tokenizer: RunTokenizer;
  let tokenizerFiles: string[] = [];
  if (config.model.pretrained) {
    progress(`[rl-lens] loading ${config.model.pretrained}`);
    const p = await loadPretrained(config.model.pretrained, { tokenizer: config.model.tokenizer, trainable: true, maxContext: config.model.contextLength });
    policy = p.model;
    if (wantValue && !policy.config.valueHead) { const v = policy.withValueHead(true); policy.dispose(); policy = v; }
    if (config.model.lora) {
      if (!(policy instanceof Llama)) throw new Error(`model.lora: LoRA is implemented for the llama family; ${config.model.pretrained} is a ${p.source.family} model (train it fully: remove model.lora)`);
      policy = applyLora(policy, config.model.lora, { seed: config.seed });
      const trainable = policy.trainableVariables().reduce((a, v) => a + v.size, 0);
      progress(`[rl-lens] LoRA r ${policy.lora.r}, alpha ${policy.lora.alpha} on ${policy.targetKeys.length} layers: ${trainable.toLocaleString('en-US')} trainable beside ${policy.base.parameterCount().toLocaleString('en-US')} frozen parameters; the reference is the base with the adapters off`);
    }
    tokenizer = p.tokenizer;
    tokenizerFiles = p.tokenizerFiles;
    config.derived.pretrained = { spec: p.source.spec, format: p.source.format, family: p.source.family, files: p.source.files, notes: p.source.notes };
    for (const n of p.source.notes) progress(`[rl-lens] note: ${n}`);
    fitPretrainedLengths(config, task, tokenizer, policy.config.contextLength);
  } else if (config.init?.checkpoint) {
    const ck = loadCheckpoint(config.init.checkpoint, { trainable: true, valueHead: wantValue });
    policy = ck.model;
    tokenizer = ck.tokenizer;
    if (tokenizer instanceof CharTokenizer) {
      if (needsPretrained(task)) throw new Error(`init.checkpoint: ${config.init.checkpoint} holds the built-in character model; task ${task.name} needs a pretrained model (model.pretrained, or a checkpoint of such a run)`);
      for (const ch of task.chars) if (!tokenizer.has(ch)) throw new Error(`init.checkpoint: the checkpoint's tokenizer lacks ${JSON.stringify(ch)} needed by task ${task.name}`);
    } else {
      tokenizerFiles = ((ck.meta.tokenizer.files as string[] | undefined) ?? []).map((f) => path.join(config.init!.checkpoint!, f));
      fitPretrainedLengths(config, task, tokenizer, policy.config.contextLength);
    }
    if (policy.config.contextLength < config.derived.sequenceLength) throw new Error(`init.checkpoint: its contextLength ${policy.config.contextLength} is shorter than the task needs (${config.derived.sequenceLength})`);
  } else {
    const chars = new CharTokenizer(DEFAULT_CHARS);
    tokenizer = chars;
    policy = GPT.create({ vocabSize: chars.size, contextLength: config.model.contextLength, dModel: config.model.dModel, nHeads: config.model.nHeads, nLayers: config.model.nLayers, mlpRatio: config.model.mlpRatio, valueHead: wantValue }, config.seed);
  }
  config.derived.parameters = policy.parameterCount();
  config.derived.flopsPerToken = policy.flopsPerToken(config.derived.sequenceLength);
  const needRef = typeof mod.needsReference === 'function' ? mod.needsReference(config) : Boolean(mod.needsReference);
  // the reference: a frozen copy of the starting policy; with LoRA the base with the adapters off, sharing its weights (TRL with PEFT)
  const reference = needRef ? (policy instanceof LoraLlama ? policy.referenceView() : policy.clone(false)) : undefined;

  const totalSteps = mod.totalSteps?.(config) ?? config.train.steps;
  const runDir = opts.outDir ? path.resolve(opts.outDir) : defaultRunDir(config, path.resolve(opts.runsRoot ?? 'runs'));
  const runId = path.basename(runDir);
  const modelSummary = { ...policy.summary(), flopsPerToken: config.derived.flopsPerToken };
  const writer = RunWriter.create(runDir, {
    id: runId, name: config.name, algorithm: config.algorithm, task: config.task.name,
    config: JSON.parse(JSON.stringify(config, jsonReplacer)) as Record<string, unknown>,
    backend, versions: versions(), seed: config.seed, totalSteps, step: 0, model: modelSummary,
    host: { hostname: os.hostname(), cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, platform: `${os.platform()} ${os.arch()}` },
  });

  const emit = (e: TrainerEvent) => {
    writer.event(e);
    try { opts.onEvent?.(e); } catch { /* a broken consumer must not break training */ }
  };
  emit({ type: 'start', time: now(), runDir, runId, algorithm: config.algorithm, task: config.task.name, backend, totalSteps, config: writer.current.config, model: modelSummary });
  progress(`[rl-lens] run ${runDir}`);
  const pc = policy.config as { dModel: number; nLayers: number; nHeads: number; contextLength: number };
  progress(`[rl-lens] ${config.algorithm} on ${task.name} (difficulty ${config.task.difficulty}), ${config.derived.pretrained ? `${config.derived.pretrained.family} model ${config.derived.pretrained.spec}` : 'model'} ${policy.parameterCount().toLocaleString('en-US')} parameters (d_model ${pc.dModel}, ${pc.nLayers} layers, ${pc.nHeads} heads, context ${pc.contextLength}), ${totalSteps} steps`);

  const optimizer = new AdamW(policy.trainableVariables(), { beta1: config.train.beta1, beta2: config.train.beta2, eps: config.train.eps, weightDecay: config.train.weightDecay });
  const t0 = Date.now();
  let lastStep = 0;
  let lastMetrics: Record<string, number | null> = {};
  let lastEval: EvalRecord | undefined;
  let tokensSeen = 0;
  let stepsTimed = 0;
  // the step clock (ctx.step): a step's time starts when the previous step ended or the last one-off phase reported
  // (ctx.phase), less the time spent since in evaluate / recordEval / checkpoint (offStepMs); the ETA's window starts
  // where the first timed step began, so the warm start and the step-0 eval never count (docs/metrics.md "Timing")
  let stepClock = Date.now();
  let offStepMs = 0;
  let offDepth = 0;
  let offStart = 0;
  let timedFrom: number | undefined;
  const offStep = <T>(f: () => T): T => {
    if (offDepth++ === 0) offStart = Date.now();
    try { return f(); } finally { if (--offDepth === 0) offStepMs += Date.now() - offStart; }
  };
  const restartStepClock = () => { stepClock = Date.now(); offStepMs = 0; };
  // log / warning messages are events; a consumer of the events shows them, so they are not repeated as progress lines
  const eventLine = (line: string) => { if (!opts.onEvent) progress(line); };
  let lastCheckpointStep = -1;
  let lastCheckpointDir: string | undefined;
  const evalRng = new Rng(config.seed ^ 0x5eed);

  const ctx: TrainContext = {
    config,
    section: (config[sectionOf(mod)] as Record<string, unknown>) ?? {},
    algorithm: mod,
    backend, tokenizer, task, policy, reference, optimizer,
    rng: new Rng(config.seed),
    totalSteps, runDir, writer,
    lr: (step) => lrAt(config.train, step, totalSteps),
    stopRequested: () => stop.requested,
    trusted: opts.trusted ?? true,
    step(step, metrics, info) {
      const t = Date.now();
      // the step alone (context.ts TrainContext.step): what the algorithm measured, else the step clock
      const own = [info?.seconds, metrics['perf/step_time'], metrics['step_time']].find((v): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0);
      const dt = own ?? Math.max(0, t - stepClock - offStepMs) / 1000;
      const m: Record<string, number | null> = { ...metrics };
      // one name per figure: the RL step's own step_time / tokens_per_s (rl/step.ts) are perf/step_time / perf/tokens_per_sec
      delete m['step_time'];
      delete m['tokens_per_s'];
      m['perf/step_time'] = dt;
      if (info?.tokens) {
        tokensSeen += info.tokens;
        m['perf/tokens_per_sec'] ??= dt > 0 ? info.tokens / dt : null;
        if (config.derived.flopsPerToken && dt > 0) m['perf/gflops'] ??= (3 * config.derived.flopsPerToken * info.tokens) / dt / 1e9;
      }
      m['lr'] ??= lrAt(config.train, step, totalSteps);
      lastStep = step;
      lastMetrics = m;
      stepsTimed++;
      timedFrom ??= t - dt * 1000;
      writer.metrics({ step, time: (t - t0) / 1000, split: 'train', values: m });
      // the time per step since the first timed step began (steps plus what recurs between them: periodic evals,
      // checkpoints, traces), times the steps left; the warm start and the step-0 eval came before that window
      const eta = ((t - timedFrom) / 1000 / stepsTimed) * Math.max(0, totalSteps - step);
      emit({ type: 'step', time: now(), step, totalSteps, metrics: m, etaSeconds: eta });
      if (step % config.log.every === 0 || step === totalSteps || step === 1) {
        const keys = ['loss', 'reward/mean', 'kl', 'entropy', 'eval/pass@1'];
        const shown = keys.filter((k) => m[k] !== undefined).map((k) => `${k} ${fmtNum(m[k])}`);
        const tps = m['perf/tokens_per_sec'];
        progress(`step ${step}/${totalSteps} ${shown.join(' ')}${tps ? ` tok/s ${Math.round(tps)}` : ''}${dt ? ` ${(dt * 1000).toFixed(0)}ms/step` : ''} ETA ${fmtDuration(eta ?? NaN)}`);
      }
      for (const [k, v] of Object.entries(metrics)) {
        if (/loss/.test(k) && (v === null || !Number.isFinite(v))) throw new NonFiniteError(`non-finite ${k} (${v}) at step ${step}: training diverged (try a lower train.lr or train.gradClip)`);
      }
      if (this.checkpointStep(step)) { this.checkpoint(step); }
      restartStepClock();
    },
    traceStep: (step) => isFullTraceStep(step, config.rollouts),
    rollout(step, header, samples, arrays, o) {
      if (!o?.force && !ctx.traceStep(step)) return;
      // one retention rule for every algorithm (src/shared/rolloutStep.ts): whole groups, up to rollouts.maxSamples
      const kept = retainWholeGroups({ header, samples, arrays }, config.rollouts.maxSamples);
      const file = writer.writeRolloutStep(kept.header, kept.samples, kept.arrays);
      emit({ type: 'rollout', time: now(), step, file: path.relative(runDir, file), numSamples: kept.samples.length, numGroups: kept.header.groups.length });
    },
    evalStep: (step) => config.eval.every > 0 && step % config.eval.every === 0,
    evaluate(step, model = policy) {
      return offStep(() => ctx.recordEval(evaluatePassAtK(model, tokenizer, task, config, evalRng, step)));
    },
    recordEval(rec, o) { return offStep(() => recordEval(rec, o)); },
    checkpointStep: (step) => config.checkpoint.every > 0 && step % config.checkpoint.every === 0,
    checkpoint(step, tag, extra) { return offStep(() => writeCheckpoint(step, tag, extra)); },
    yield: () => new Promise<void>((resolve) => setImmediate(resolve)),
    log(message) { emit({ type: 'log', time: now(), level: 'info', message }); eventLine(message); },
    phase(name, done, total, message, o) {
      const level = o?.level ?? 'debug';
      const text = message ?? `${name} ${done}/${total}`;
      emit({ type: 'log', time: now(), level, message: text, phase: { name, done, total } });
      if (level === 'info') eventLine(text);
      restartStepClock();
    },
    warn(message, code) { emit({ type: 'warning', time: now(), message, code, step: lastStep }); eventLine(`warning: ${message}`); },
    emit,
  };

  function recordEval(rec: EvalRecord, o?: { metrics?: Record<string, number | null>; message?: string }): EvalRecord {
    const step = rec.step;
    writer.evalRecord(rec);
    const vals: Record<string, number | null> = { 'eval/reward/mean': rec.meanReward ?? null };
    for (const [k, v] of Object.entries(rec.passAtK)) vals[`eval/pass@${k}`] = v;
    writer.metrics({ step, time: (Date.now() - t0) / 1000, split: 'eval', values: { ...vals, ...(o?.metrics ?? {}) } });
    emit({ type: 'eval', time: now(), step, passAtK: rec.passAtK, meanReward: rec.meanReward, ...(rec.baseline ? { baseline: rec.baseline } : {}) });
    // an event of its own (the host logs it): a progress line only when nothing consumes the events
    eventLine(o?.message ?? `eval step ${step}: ${Object.entries(rec.passAtK).map(([k, v]) => `pass@${k} ${v.toFixed(3)}`).join(' ')} reward ${fmtNum(rec.meanReward)} (${rec.numPrompts} prompts × ${rec.samplesPerPrompt})`);
    lastEval = rec;
    // a checkpoint of this very step written before the eval (the RL loop checkpoints in ctx.step, then evaluates):
    // give it this eval, not the previous one (the tree and Compare Checkpoints show checkpoint.json's pass@k)
    if (lastCheckpointStep === step && lastCheckpointDir) {
      const f = path.join(lastCheckpointDir, FILES.checkpointMeta);
      try {
        const meta = JSON.parse(fs.readFileSync(f, 'utf8')) as Record<string, unknown>;
        meta.eval = { passAtK: rec.passAtK, samplesPerPrompt: rec.samplesPerPrompt, numPrompts: rec.numPrompts };
        writeFileAtomic(f, JSON.stringify(meta, null, 2) + '\n');
      } catch (e) { ctx.warn(`could not add step ${step}'s eval to ${f}: ${(e as Error).message}`); }
    }
    return rec;
  }

  function writeCheckpoint(step: number, tag?: string, extra?: { metrics?: Record<string, number | null>; eval?: EvalRecord }): string {
    const dir = path.join(runDir, 'checkpoints', checkpointDirName(step, tag));
    saveCheckpoint(dir, policy, {
      step, algorithm: config.algorithm, time: now(), config: writer.current.config, tokenizer: tokenizerMeta(tokenizer, tokenizerFiles, config.model.pretrained),
      metrics: extra?.metrics ?? lastMetrics, eval: (extra?.eval ?? lastEval) && { passAtK: (extra?.eval ?? lastEval)!.passAtK, samplesPerPrompt: (extra?.eval ?? lastEval)!.samplesPerPrompt, numPrompts: (extra?.eval ?? lastEval)!.numPrompts }, tag: tag ?? 'periodic',
    }, tokenizerFiles);
    lastCheckpointStep = step;
    lastCheckpointDir = dir;
    emit({ type: 'checkpoint', time: now(), step, path: path.relative(runDir, dir), tag: tag ?? 'periodic' });
    writer.updateManifest({ step });
    return dir;
  }

  let status: RunResult['status'] = 'completed';
  let error: string | undefined;
  try {
    await mod.run(ctx);
    if (stop.requested) {
      status = 'stopped';
      ctx.checkpoint(lastStep, 'stop');
    } else {
      if (!lastEval || lastEval.step !== lastStep) { try { ctx.evaluate(lastStep); } catch (e) { ctx.warn(`final eval failed: ${(e as Error).message}`); } }
      ctx.checkpoint(lastStep, 'final');
    }
  } catch (e) {
    status = 'failed';
    const err = e as Error;
    error = err.message;
    emit({ type: 'error', time: now(), message: err.message, stack: err.stack, step: lastStep });
    progress(`[rl-lens] error at step ${lastStep}: ${err.message}`);
  } finally {
    writer.updateManifest({ status, step: lastStep, endedAt: now(), ...(error ? { error: { message: error } } : {}) });
    emit({ type: 'end', time: now(), status, step: lastStep, reason: status === 'stopped' ? stop.reason : error });
    const secs = (Date.now() - t0) / 1000;
    progress(`[rl-lens] ${status} after ${lastStep} steps in ${fmtDuration(secs)}${tokensSeen ? ` (${Math.round(tokensSeen / secs)} tokens/s)` : ''}; run folder ${runDir}`);
    optimizer.dispose();
    reference?.dispose();
    policy.dispose();
    for (const w of wrappers) w.dispose();
  }
  void lastCheckpointStep;
  return { status, runDir, step: lastStep, lastMetrics, lastEval, error, backend };
}

/**
 * A pretrained model's prompt lengths, known once its tokenizer is loaded: the longest prompt (BOS included) of the
 * task's eval set and of 256 training draws sets derived.maxPromptTokens, and the completions get what is left of the
 * context (at most sampling.maxNewTokens). Too long a prompt is an error that says which limit to raise.
 */
function fitPretrainedLengths(config: TrainConfig, task: Task, tok: RunTokenizer, contextLength: number): void {
  const rng = new Rng(config.seed ^ 0x9e37);
  const prompts = [...task.evalSet(config.eval.numPrompts), ...Array.from({ length: 256 }, () => task.sample(rng, 'train'))].map((ex) => ex.prompt);
  const maxPrompt = Math.max(1, ...prompts.map((p) => tok.encode(p, { bos: true }).length));
  const left = contextLength - maxPrompt;
  if (left < 1) throw new Error(`model.contextLength: ${contextLength} leaves no room after the task's prompts (up to ${maxPrompt} tokens with BOS); raise it (the model allows its own max_position_embeddings)`);
  config.derived.maxPromptTokens = maxPrompt;
  config.derived.maxNewTokens = Math.min(config.sampling.maxNewTokens, left);
  config.derived.maxAnswerTokens = config.derived.maxNewTokens;
  config.derived.sequenceLength = maxPrompt + config.derived.maxNewTokens;
  config.derived.vocabSize = tok instanceof CharTokenizer ? tok.size : tok.vocabSize;
  config.derived.vocab = [];
}

/** pass@k on the task's fixed eval prompts (same prompts for every run of the task/difficulty). */
export function evaluatePassAtK(model: RunModel, tokenizer: RunTokenizer, task: Task, config: TrainConfig, rng: Rng, step: number): EvalRecord {
  const ev = config.eval;
  const examples = task.evalSet(ev.numPrompts);
  const n = ev.samplesPerPrompt;
  const env = envOf(task);
  if (env) {
    // a task with a tool environment (envs/): pass@k of multi-turn episodes with the run's limits (rl.env)
    const lim = ((config.rl as { env?: { maxTurns?: number; maxTokens?: number } } | undefined)?.env) ?? {};
    const e = evalEpisodes(model as CausalLM, env, tokenizer, examples.map(envItemOf), n, {
      maxTurns: lim.maxTurns ?? 4, maxTokens: lim.maxTokens ?? 32, contextLength: model.config.contextLength, maxNewTokens: config.derived.maxNewTokens, temperature: ev.temperature, topP: config.sampling.topP, rng,
    });
    const passAt: Record<string, number> = {};
    for (const k of ev.k) if (k <= n) passAt[String(k)] = e.correct.reduce((a, c) => a + passAtK(n, c, k), 0) / examples.length;
    const rsum = e.rewards.flat().reduce((a, b) => a + b, 0);
    return { step, time: undefined, passAtK: passAt, samplesPerPrompt: n, numPrompts: examples.length, meanReward: rsum / (examples.length * n), items: examples.slice(0, 16).map((ex, i) => ({ prompt: ex.prompt, completions: e.texts[i], rewards: e.rewards[i], correct: e.correct[i] })) };
  }
  const correct = new Array(examples.length).fill(0);
  const rewards: number[][] = examples.map(() => []);
  let rewardSum = 0;
  const g = sampleGroups(model, tokenizer, examples.map((ex) => ex.prompt), n, { maxNewTokens: config.derived.maxNewTokens, temperature: ev.temperature, topP: config.sampling.topP, rng, ...specialIds(tokenizer) }, config.model.pretrained ? 64 : 256);
  const completions = g.texts;
  examples.forEach((ex, idx) => completions[idx].forEach((text, j) => {
    const rew = task.reward(ex, text, g.finished[idx][j]);
    rewardSum += rew.score;
    if (isSolved(task, ex, text, g.finished[idx][j])) correct[idx]++;
    rewards[idx].push(rew.score);
  }));
  const passAt: Record<string, number> = {};
  for (const k of ev.k) {
    if (k > n) continue; // undefined there (shared/passAtK.ts); the config already rejects it
    let s = 0;
    for (const c of correct) s += passAtK(n, c, k);
    passAt[String(k)] = s / examples.length;
  }
  return {
    step, time: undefined, passAtK: passAt, samplesPerPrompt: n, numPrompts: examples.length, meanReward: rewardSum / (examples.length * n),
    items: examples.slice(0, 16).map((ex, i) => ({ prompt: ex.prompt, completions: completions[i], rewards: rewards[i], correct: correct[i] })),
  };
}

/** Helper for algorithms: groups of a rollout step from per-sample group ids and rewards. */
export function buildGroups(samples: { group: string; prompt: string; reward: number }[], answers?: Record<string, string>): RolloutGroup[] {
  const by = new Map<string, number[]>();
  samples.forEach((s, i) => { const a = by.get(s.group) ?? []; a.push(i); by.set(s.group, a); });
  return [...by.entries()].map(([id, idx]) => {
    const r = idx.map((i) => samples[i].reward);
    const mean = r.reduce((a, b) => a + b, 0) / r.length;
    const std = Math.sqrt(r.reduce((a, b) => a + (b - mean) ** 2, 0) / r.length);
    return { id, prompt: samples[idx[0]].prompt, samples: idx, rewards: r, mean, std, answer: answers?.[id] };
  });
}
