/**
 * The contract between the engine and the algorithm plug-ins, as types only: the resolved config (TrainConfig), what
 * the engine hands an algorithm (TrainContext) and what an algorithm module declares (AlgorithmModule).
 * Imports types from leaf modules only, so config.ts, registry.ts, engine.ts and every plug-in can import it without
 * an import cycle (test/unit/structure-imports.test.ts).
 */
import type { BackendInfo, EvalRecord, RolloutSampleInput, RolloutStepHeaderInput, TrainerEvent } from '../shared/runFormat';
import type { RunWriter } from '../runio/writer';
import type { GPT } from './model/gpt';
import type { Llama } from './model/llama';
import type { LoraConfig, LoraLlama } from './model/lora';
import type { CausalLM } from './model/types';
import type { TextTokenizer } from './tokenizers';
import type { AdamW } from './optim';
import type { Rng } from './rng';
import type { Task } from './tasks';
import type { CharTokenizer } from './tokenizer';

export interface TrainConfig {
  $schema?: string;
  name?: string;
  algorithm: string;
  seed: number;
  backend: string;
  /** wasm threads requested (Node runs the single-threaded wasm binary: see docs/backends.md) */
  threads?: number;
  task: { name: string; difficulty: number; formatWeight: number; partialCredit: boolean; partialWeight: number; evalFraction: number; rewardModule?: string };
  model: {
    dModel: number; nHeads: number; nLayers: number; contextLength: number; mlpRatio: number; valueHead: boolean;
    /** a pretrained causal LM (path or hf: id, model/pretrained.ts); absent = a fresh character-level GPT */
    pretrained?: string;
    /** its tokenizer when not beside the weights */
    tokenizer?: string;
    /** LoRA adapters on the frozen pretrained model (model/lora.ts LoraConfig) */
    lora?: LoraConfig;
  };
  /** start from a checkpoint folder (…/checkpoints/step_X) instead of a fresh model */
  init?: { checkpoint?: string };
  train: {
    steps: number; batchSize: number; lr: number; lrSchedule: 'constant' | 'cosine'; warmupSteps: number; minLrRatio: number;
    weightDecay: number; gradClip: number; beta1: number; beta2: number; eps: number;
  };
  sampling: { temperature: number; topP: number; topK: number; maxNewTokens: number };
  eval: { every: number; numPrompts: number; samplesPerPrompt: number; k: number[]; temperature: number; atStart: boolean };
  checkpoint: { every: number };
  rollouts: { every: number; maxSamples: number };
  log: { every: number };
  sft: { demoNoise: number; demoCoverage: number };
  /** computed once from the rest (never read from the file) */
  derived: Derived;
  [section: string]: unknown;
}

export interface Derived {
  vocabSize: number;
  vocab: string[];
  maxPromptTokens: number;
  maxAnswerTokens: number;
  /** tokens of one SFT example: BOS + prompt + answer + EOS, ≤ contextLength */
  sequenceLength: number;
  maxNewTokens: number;
  parameters?: number;
  flopsPerToken?: number;
  /** false when the task scores completions on their text whether or not they ended with EOS (tasks/types.ts Task.solved) */
  eosRequired?: boolean;
  /** what model.pretrained loaded (model/pretrained.ts Pretrained.source) */
  pretrained?: { spec: string; format: string; family: string; files: string[]; notes: string[] };
}

/** The policies a run trains: the built-in GPT (also GPT-2 weights), a Llama-family model, or LoRA adapters on one. */
export type RunModel = GPT | Llama | LoraLlama;
export type RunTokenizer = CharTokenizer | TextTokenizer;

export interface TrainContext {
  config: TrainConfig;
  /** config[section of the algorithm], with defaults */
  section: Record<string, unknown>;
  algorithm: AlgorithmModule;
  backend: BackendInfo;
  /** the character tokenizer of the built-in GPT, or the pretrained model's own (model.pretrained) */
  tokenizer: RunTokenizer;
  task: Task;
  /** the built-in character-level GPT, or a pretrained model (model.pretrained: Llama family or GPT-2) */
  policy: RunModel;
  /** frozen copy of the initial policy (when the module needs a reference); with LoRA, the base with the adapters off (no copy) */
  reference?: RunModel | CausalLM;
  optimizer: AdamW;
  rng: Rng;
  totalSteps: number;
  runDir: string;
  writer: RunWriter;
  lr(step: number): number;
  stopRequested(): boolean;
  /** may user code named in the config be loaded (e.g. tfgrpo.extractor.module)? RunOptions.trusted; absent = true */
  trusted?: boolean;
  /**
   * report one optimizer step: metrics.jsonl + step event + terminal progress; throws NonFiniteError on NaN/inf losses.
   * The step's time (perf/step_time, and from it perf/tokens_per_sec, perf/gflops and the ETA) is the step alone:
   * `info.seconds` when given, else the algorithm's own `step_time` metric (the RL step: rollout + update), else the wall
   * time since the previous step (or since the last `phase` call) minus the time spent in evaluate / recordEval /
   * checkpoint. `info.tokens`: tokens the step processed (RL: generated; SFT / preference: trained).
   */
  step(step: number, metrics: Record<string, number | null>, info?: { tokens?: number; seconds?: number }): void;
  /** write a rollout trace (respects config.rollouts.every / maxSamples unless force) */
  rollout(step: number, header: RolloutStepHeaderInput, samples: RolloutSampleInput[], arrays: Record<string, ArrayLike<number>>[], opts?: { force?: boolean }): void;
  /** should this step be traced? (config.rollouts.every) */
  traceStep(step: number): boolean;
  /** pass@k on the task's held-out prompts; writes eval.jsonl, an eval event and eval/* metrics */
  evaluate(step: number, model?: RunModel): EvalRecord;
  /**
   * Record an eval the algorithm computed itself (e.g. tfgrpo: the frozen model WITH its experience library, and
   * `baseline` without it): written as evaluate's (eval.jsonl, eval event, eval/pass@k + eval/reward/mean metrics,
   * plus `opts.metrics` in the same eval line) and taken as the run's last eval (checkpoint.json's pass@k; the engine's
   * final eval is skipped when one of the last step is recorded). `opts.message` replaces the progress line.
   */
  recordEval(rec: EvalRecord, opts?: { metrics?: Record<string, number | null>; message?: string }): EvalRecord;
  /** should this step be evaluated? (config.eval.every) */
  evalStep(step: number): boolean;
  checkpoint(step: number, tag?: string, extra?: { metrics?: Record<string, number | null>; eval?: EvalRecord }): string;
  /** should this step be checkpointed? (config.checkpoint.every) */
  checkpointStep(step: number): boolean;
  /** let the event loop run (SIGTERM, stop messages on stdin): `await ctx.yield()` once per step */
  yield(): Promise<void>;
  log(message: string): void;
  /**
   * progress of a one-off phase that is not an optimizer step (e.g. the RL warm start): a `log` event with `phase`,
   * shown by the host; level debug unless `opts.level` is 'info' (then also a progress line, as ctx.log: use it instead of a
   * ctx.log of the same message, which would write it twice). Restarts the step clock: no phase counts in a step's time.
   */
  phase(name: string, done: number, total: number, message?: string, opts?: { level?: 'info' | 'debug' }): void;
  warn(message: string, code?: string): void;
  emit(e: TrainerEvent): void;
}

export interface AlgorithmModule {
  /** the value of `algorithm` in the config, e.g. "grpo" */
  name: string;
  kind: 'sft' | 'rl' | 'preference' | 'pipeline';
  summary: string;
  /**
   * Name of the config section this algorithm reads (default: `name`). Several algorithms may share one section
   * (e.g. all RL algorithms read `rl`); the first registered module's schema/defaults for a section are used.
   */
  section?: string;
  /** JSON Schema (draft-07) of config[section]; merged into schemas/config.schema.json by schemaGen.ts */
  configSchema?: Record<string, unknown>;
  /** defaults for config[section] (merged under the user's values before validation) */
  defaults?: Record<string, unknown> | ((config: Record<string, unknown>) => Record<string, unknown>);
  /** the engine builds the policy with a value head when true */
  needsValueHead?: (config: Record<string, unknown>) => boolean;
  /** the engine provides ctx.reference (a frozen copy of the initial policy) */
  needsReference?: boolean | ((config: Record<string, unknown>) => boolean);
  /** planned optimizer steps (for progress / ETA); default config.train.steps */
  totalSteps?: (config: Record<string, unknown>) => number;
  /** extra validation after the schema (throw Error with a field-naming message) */
  validate?: (config: Record<string, unknown>) => void;
  run(ctx: TrainContext): Promise<void>;
}


/**
 * A top-level config section that is not an algorithm's own (e.g. `reward`, the learned reward of preference/): its
 * schema joins the config schema, and the engine lets it wrap the run's task. Registered by the plug-in that owns it
 * (registry.ts registerConfigSection), so neither config.ts nor engine.ts imports that plug-in.
 */
export interface ConfigSectionModule {
  /** the top-level key, e.g. "reward" */
  name: string;
  /** JSON Schema (draft-07) of config[name] */
  schema: Record<string, unknown>;
  /** make the value's relative paths absolute against the config file's folder (in place) */
  resolvePaths?: (value: unknown, baseDir: string) => void;
  /** called by the engine when config[name] is present: the task the run uses instead, and what to free at the end */
  wrapTask?: (task: Task, value: unknown, deps: { loadCheckpoint: (dir: string) => { model: GPT; tokenizer: CharTokenizer } }) => { task: Task; dispose: () => void };
}
