/**
 * The RL Lens run directory: the contract between the trainer (writer), the extension and its
 * webviews (readers) and the importers (TRL / verl / OpenRLHF logs converted to it).
 *
 * This file has no dependencies on `vscode`, tfjs or the DOM: all three worlds import it.
 * The human-readable specification is docs/run-format.md; the JSON Schema is schemas/run-format.schema.json.
 *
 * Layout (format version 1):
 *
 *   RUN_DIR/
 *     manifest.json                 RunManifest, rewritten atomically (tmp + rename) on every status change
 *     events.jsonl                  TrainerEvent per line, append-only
 *     metrics.jsonl                 MetricsRecord per line, append-only (one line per step, eval lines too)
 *     eval.jsonl                    EvalRecord per line, append-only
 *     rollouts/
 *       step_00000012.jsonl         line 1: RolloutStepHeader; then one RolloutSample per line
 *       step_00000012.f32           per-token arrays, little-endian float32, sample-major (see RolloutSample.offset)
 *     checkpoints/
 *       step_00000012/
 *         model.safetensors         weights (readable by Python's `safetensors`)
 *         checkpoint.json           CheckpointMeta
 *
 * A rollout step becomes visible atomically: the .f32 file is written first, then the .jsonl is written to a
 * temporary name and renamed. Readers list `rollouts/*.jsonl` only, so they never see half a step.
 * Append-only JSONL files may end in a torn line after `kill -9`: readers skip an unparsable *last* line
 * (and report it), and report unparsable lines elsewhere with file:line.
 */

export const RUN_FORMAT = 'rl-lens-run';
export const RUN_FORMAT_VERSION = 1;

export const FILES = {
  manifest: 'manifest.json',
  events: 'events.jsonl',
  metrics: 'metrics.jsonl',
  eval: 'eval.jsonl',
  rolloutsDir: 'rollouts',
  checkpointsDir: 'checkpoints',
  checkpointMeta: 'checkpoint.json',
  checkpointWeights: 'model.safetensors',
  /** a LoRA checkpoint holds PEFT's adapter files instead of model.safetensors (docs/run-format.md) */
  checkpointAdapterWeights: 'adapter_model.safetensors',
  /** per-step summaries of the rollout steps, one line per step as it is written (docs/run-format.md, "Step index") */
  rolloutIndex: 'rollouts/index.jsonl',
  /** per-step overview sidecar, rollouts/step_X + this suffix (docs/run-format.md, "Step overview sidecar") */
  stepOverviewSuffix: '.overview.json',
  /** the doctor's summary of a step, rollouts/step_X + this suffix (docs/run-format.md, "Doctor step summary sidecar") */
  stepDoctorSuffix: '.doctor.json',
} as const;

/**
 * rollouts/step_X.overview.json: what the heatmap's first answer needs of a step, so the host never parses the whole
 * step JSONL (1,024 samples × 4,096 token strings) before it can answer. Written by the writer after the step's
 * .jsonl; rebuilt on demand (by parsing the .jsonl once) when missing or stale. A cache: deleting it loses nothing.
 */
export interface StepOverviewFile {
  kind: 'stepOverview';
  version: 1;
  step: number;
  /** the step_X.jsonl this was made from: used only while the file has exactly this size and mtime */
  jsonl: { bytes: number; mtimeMs: number };
  /** the header line, parsed */
  header: RolloutStepHeader;
  /** the sample lines, parsed, with `tokens` emptied and `prompt` / `completion` cut to `textCut` characters */
  samples: RolloutSample[];
  /** per sample (in `samples` order): [byte offset, byte length] of its line in step_X.jsonl (no newline) */
  lines: [number, number][];
  /** samples whose prompt or completion was cut */
  cut: number[];
  textCut: number;
  /** problems met parsing the .jsonl (bad lines: `file:line: message`), as the host reports them */
  problems: string[];
  /** what the overview derives from the .f32 block, written by the writer (which holds the block): used only while
   *  the .f32 (`header.dataFile`) has exactly this size and mtime; absent in a sidecar rebuilt from the .jsonl */
  data?: { bytes: number; mtimeMs: number };
  /** per sample: [mean advantage over the mask (only when a record lacks `advantage`), mean KL over the mask, clip
   *  low, clip high, clip dual tokens]; null = none (src/shared/protocol.ts StepOverview.numbers) */
  numbers?: (number | null)[][];
  /** stored arrays holding at least one finite value */
  withData?: string[];
  /** per metric the heatmap offers (not categorical): its colour-domain statistics over every valid token of the step
   *  (webview/data/scales.ts DomainStats, as `rollout/domain` answers without a group), under the same `data` stamp.
   *  Written by the writer, or by the host when it computed one (older sidecars have none). JSON has no NaN and no −0:
   *  rawMin / rawMax of count 0 are null, a −0 is "-0" (runio/stepOverview.ts decodeDomain restores them exactly). */
  domains?: Record<string, { count: number; rawMin: number | null | '-0'; rawMax: number | null | '-0'; q: Record<string, number | null | '-0'> }>;
}

/**
 * One line of rollouts/index.jsonl: what the Runs tree and the step picker show of a rollout step, so that opening a
 * run never reads every step. Appended by the writer after the step is published; rebuilt from the step headers for
 * runs without it (imported or older runs). A step listed twice: the last line counts.
 */
export interface RolloutIndexEntry {
  step: number;
  /** per-token arrays stored (the heatmap can colour it) */
  traced: boolean;
  arrays: string[];
  /** samples / groups stored */
  samples: number;
  groups: number;
  /** groups / samples generated when trace retention stored fewer (header.totalGroups / totalSamples) */
  totalGroups?: number;
  totalSamples?: number;
  subsampled?: boolean;
  /** mean reward of the stored samples (null when none is finite) */
  rewardMean?: number | null;
  /** bytes of step_X.jsonl and step_X.f32 */
  jsonlBytes: number;
  dataBytes: number;
}

export type RunStatus = 'running' | 'completed' | 'failed' | 'stopped';

/** Names of the algorithms the trainer knows. Importers may write any string. */
export type AlgorithmName =
  | 'sft'
  | 'ppo' | 'grpo' | 'dr_grpo' | 'dapo' | 'gspo' | 'gmpo' | 'rloo' | 'reinforce_pp'
  | 'raft' | 'raft_pp' | 'reinforce_rej'
  | 'reward_model' | 'dpo' | 'ipo' | 'kto' | 'orpo' | 'simpo' | 'odpo'
  | 'pipeline';

export type BackendName = 'tensorflow-gpu' | 'tensorflow' | 'wasm' | 'cpu';

export interface BackendInfo {
  /** the backend actually running */
  name: BackendName | string;
  /** what the config asked for ('auto' or a name) */
  requested?: string;
  /** GPU name(s) when the backend runs on one */
  gpu?: string;
  threads?: number;
  simd?: boolean;
  /** why earlier candidates of `auto` were skipped */
  skipped?: { name: string; reason: string }[];
}

export interface RunManifest {
  format: typeof RUN_FORMAT;
  formatVersion: number;
  /** unique id, also the folder name by default */
  id: string;
  name?: string;
  status: RunStatus;
  algorithm: AlgorithmName | string;
  task?: string;
  /** the full, validated config with derived values filled in */
  config: Record<string, unknown>;
  backend?: BackendInfo;
  versions?: Record<string, string>;
  seed?: number;
  /** ISO 8601 */
  startedAt: string;
  updatedAt?: string;
  endedAt?: string;
  /** planned number of optimizer steps (for progress); absent if unknown */
  totalSteps?: number;
  /** last step written */
  step?: number;
  /** for a failed run, the error */
  error?: { message: string; stack?: string };
  /** model summary */
  model?: { parameters: number; flopsPerToken?: number; [k: string]: unknown };
  /** pipeline: a parent run lists its stages (relative paths); a stage names its parent */
  stages?: { name: string; path: string; algorithm: string; status?: RunStatus }[];
  parent?: string;
  /** pipeline parent: what each stage gave (docs/preference.md, "Pipeline") */
  pipeline?: PipelineSummary;
  /** runs converted from other trainers: where from, and what the converter did */
  source?: {
    format: 'rllb' | 'verl' | 'trl' | 'python-logger' | string;
    path?: string;
    detected?: string;
    notes?: string[];
    problems?: InputProblem[];
    problemCount?: number;
  };
  /** anything else (unknown fields from imports are kept) */
  [extra: string]: unknown;
}

/** First vs last (mean of up to 5 logged steps) of a stage's train metric. */
export interface FirstLast { first: number; last: number }

/** manifest.pipeline of an SFT → reward model → RL pipeline run (filled in as stages finish). */
export interface PipelineSummary {
  sft?: { dir: string; checkpoint: string; passAtK?: Record<string, number> };
  rewardModel?: {
    dir: string; checkpoint: string;
    /** held-out preference metrics before / after training (eval/rm/accuracy, eval/rm/margin, ...) */
    before?: Record<string, number>; after?: Record<string, number>;
    /** the RM on the SFT policy's own samples (rmCheck.ts): normalisation statistics, agreement with the hidden rule */
    onPolicy?: { samples: number; n: number; mean: number; std: number; pairs?: number; pairAccuracy?: number; hiddenMean?: number; bestOfNHidden?: number; passRate?: number; bestOfNPass?: number };
    /** what the RL stage subtracts and divides by */
    normalize?: { mean: number; std: number };
  };
  rl?: {
    dir: string; algorithm: string; checkpoint: string;
    /** reward/rm/mean and reward/hidden_score/mean of the RL stage's rollouts */
    rmScore?: FirstLast; hiddenScore?: FirstLast;
    passAtK?: Record<string, number>;
    /** the same held-out prompts before and after the RL stage */
    eval?: { before: { step: number; rmScore?: number; passAtK: Record<string, number> }; after: { step: number; rmScore?: number; passAtK: Record<string, number> } };
  };
}

/** A problem in some input, located. Used by validate, importers and readers. */
export interface InputProblem {
  file: string;
  line?: number;
  field?: string;
  message: string;
  severity?: 'error' | 'warning';
}

/** One line of metrics.jsonl. Metric names are namespaced like TRL / verl (docs/metrics.md). */
export interface MetricsRecord {
  step: number;
  /** seconds since run start */
  time?: number;
  /** 'train' (default) or 'eval' */
  split?: 'train' | 'eval';
  values: Record<string, number | null>;
}

/** One line of eval.jsonl. */
export interface EvalRecord {
  step: number;
  time?: number;
  /** pass@k for the k values computed, e.g. { "1": 0.42, "4": 0.7 } */
  passAtK: Record<string, number>;
  /** number of samples per prompt used for pass@k */
  samplesPerPrompt: number;
  numPrompts: number;
  meanReward?: number;
  /** optional per-prompt detail */
  items?: { prompt: string; completions: string[]; rewards: number[]; correct: number }[];
  /**
   * optional: the same eval (same prompts, samples and seed) of a reference configuration, beside the run's own. tfgrpo:
   * the record is the frozen model WITH the experience library (its policy), `baseline` the model without it
   * (name "no_library"). Readers plot it as eval/pass@k_<name> and eval/reward/mean_<name> (the metrics of the same eval line).
   */
  baseline?: { name: string; label?: string; passAtK: Record<string, number>; meanReward?: number };
}

/* Per-token array names, the .f32 block arithmetic and trace retention: src/shared/rolloutStep.ts. */

/**
 * Encoding of the `clip` per-token array: which clipping branch was active for the token.
 * low: ratio < 1 − ε_low with A < 0; high: ratio > 1 + ε_high with A > 0; dual: dual-clip bound active (A < 0).
 */
export const CLIP_CODE = { none: 0, low: 1, high: 2, dual: 3 } as const;

export interface RolloutGroup {
  id: string;
  prompt: string;
  /** indices of the samples (lines) of this step that belong to the group */
  samples: number[];
  rewards: number[];
  mean: number;
  std: number;
  /** the baseline the advantage was computed against, when it is one number for the whole group (GRPO, Dr. GRPO: the
   *  group mean of `scores`) */
  baseline?: number;
  /** per member (same order as `samples`): the baseline member k's advantage was computed against, when it differs
   *  between members (RLOO: the mean of the other n−1 scores) */
  baselines?: number[];
  /** per member: the sequence score the advantage estimator was given, when it differs from `rewards`
   *  (KL in the reward: reward − β·Σ_t KL_t); `mean`, `std` and the baselines are statistics of these */
  scores?: number[];
  /** true when the group contributed no gradient (zero variance, dynamic-sampling drop, rejection) */
  filtered?: boolean;
  filterReason?: 'zero_variance' | 'dynamic_sampling' | 'rejection' | string;
  /** ground truth / reference answer, when the task has one */
  answer?: string;
  /** GHPO (rl.ghpo): the hint the group was regenerated with (the first round(len·hintRatio) characters of `answer`,
   *  appended to `prompt`), its ratio ω and stage (1 = first ratio); absent when the group got no hint */
  hint?: string;
  hintRatio?: number;
  hintStage?: number;
  [extra: string]: unknown;
}

/** First line of rollouts/step_XXXXXXXX.jsonl */
export interface RolloutStepHeaderCore {
  kind: 'header';
  step: number;
  algorithm?: string;
  numSamples: number;
  /** names of the per-token arrays stored for every sample, in storage order */
  arrays: string[];
  /** the .f32 file holding per-token arrays (relative to the rollouts folder); absent when no arrays */
  dataFile?: string;
  groups: RolloutGroup[];
  /** what the algorithm used: e.g. { gamma, lambda, eps, beta, clipLow, clipHigh } for the drill-down */
  params?: Record<string, number | string | boolean>;
  /** true if only a subset of the step's samples was kept (trace retention) */
  subsampled?: boolean;
  /** when subsampled: how many groups / samples the step had before trace retention cut it (the step's metrics,
   *  e.g. frac_reward_zero_std, are over all of them) */
  totalGroups?: number;
  totalSamples?: number;
}
export interface RolloutStepHeader extends RolloutStepHeaderCore { [extra: string]: unknown }
/** What a writer passes for a step header (the writer fills kind, numSamples, dataFile). */
export type RolloutStepHeaderInput = Omit<RolloutStepHeaderCore, 'kind' | 'numSamples' | 'dataFile'> & { [extra: string]: unknown };

/**
 * One policy turn of a multi-turn episode, as stored in a sample's `turns` (docs/run-format.md "Multi-turn episodes"):
 * the policy's text and, when it called a tool, the call and the environment's answer. Written by the trainer
 * (src/trainer/rl/multiturn.ts, whose EpisodeTurn is this without GiGPO's numbers), read by the group view.
 */
export interface RolloutTurn {
  /** the policy's text of this turn (EOS excluded) */
  text: string;
  /** the call's arguments (text between '?' and '='), when the turn called a tool */
  call?: string;
  /** what the environment appended (its output, or "err" for a bad call), the separator excluded */
  result?: string;
  /** why the call was bad (the error observation was appended) */
  error?: string;
  /** per-turn reward (the tool's reward; the final reward is on the sample) */
  reward: number;
  /** token span [start, end) of the policy's tokens in the sample's `tokens`, and the end of the environment's */
  start: number;
  end: number;
  resultEnd?: number;
  /** GiGPO anchor: the environment state this turn acted in (prompt + tool outputs so far, `\u0001`-joined) */
  anchor: string;
  /** GiGPO: the anchor-state step group ("<group>#<k>"), R_t, A^S, A^E and A = A^E + ω·A^S */
  stepGroup?: string;
  stepReturn?: number;
  stepAdvantage?: number;
  episodeAdvantage?: number;
  advantage?: number;
}

/**
 * A sample's place in a rollout tree (Tree-GRPO, ARPO; docs/run-format.md "Rollout trees"): the sample is one
 * root-to-leaf trajectory; it shares tokens [0, branchAt) with sample `parent` and its turns from `branchTurn` on
 * differ. Algorithm-specific branch numbers follow (RolloutTreeLink keeps unknown ones).
 */
export interface RolloutTreeLinkFields {
  /** tree id, unique within the step; the trajectories of one tree share it */
  id: string;
  /** sample index this trajectory branched from; null for the tree's root trajectory */
  parent: number | null;
  /** token index where it leaves its parent (0 for the root) */
  branchAt: number;
  /** index into `turns` of the first turn that differs from the parent's */
  branchTurn?: number;
  /** node id of the branch point, "<tree>/<turn>.<k>" */
  node?: string;
  /** ARPO: H_t after the tool result where it branched, H of the trajectory's first turn, normalised ΔH, branch
   *  probability P_t and the threshold τ it was compared with */
  entropy?: number;
  entropyInitial?: number;
  entropyDelta?: number;
  branchProb?: number;
  threshold?: number;
  /** Tree-GRPO: intra-tree and inter-tree advantages of the trajectory */
  advIntra?: number;
  advInter?: number;
}
/** A stored tree link: the known fields and any other branch numbers a writer added. */
export interface RolloutTreeLink extends RolloutTreeLinkFields { [k: string]: unknown }

/** One sample (one completion) of a rollout step. */
export interface RolloutSampleCore {
  kind: 'sample';
  /** index within the step (0-based, equal to its line number − 2) */
  index: number;
  group: string;
  prompt: string;
  completion: string;
  /** the response tokens as display strings (one per token; raw text, escaping is the viewer's job) */
  tokens: string[];
  tokenIds?: number[];
  reward: number;
  /** named parts of the reward, e.g. { accuracy: 1, format: 0.1 } */
  rewardParts?: Record<string, number>;
  /** sequence-level advantage (outcome methods) */
  advantage?: number;
  /** number of response tokens (= tokens.length = length of each per-token array) */
  length: number;
  /** ended without EOS at max length */
  truncated?: boolean;
  /** offset, in float32 elements, of this sample's block in the .f32 file; block = arrays.length × length floats,
   *  array-major within the block: [arr0 t0..tL-1, arr1 t0..tL-1, ...] */
  offset?: number;
  /** preference runs: pair id and role */
  pair?: string;
  role?: 'chosen' | 'rejected' | 'desirable' | 'undesirable' | string;
  /** GHPO: the hint appended to the prompt before this completion (its reward judged hint + completion) and its ratio */
  hint?: string;
  hintRatio?: number;
  /** EEPO (rl.eepo): 1 = sampled before the unlearning step, 2 = from the unlearned model */
  eepoStage?: number;
}
/** A sample as stored; unknown fields from imports are kept. */
export interface RolloutSample extends RolloutSampleCore { [extra: string]: unknown }
/** What a writer passes for a sample (the writer fills kind, index, offset). */
export type RolloutSampleInput = Omit<RolloutSampleCore, 'kind' | 'index' | 'offset'> & { [extra: string]: unknown };

export interface CheckpointMeta {
  format: 'rl-lens-checkpoint';
  formatVersion: number;
  step: number;
  algorithm: string;
  time: string;
  config: Record<string, unknown>;
  /** tokenizer description (enough to rebuild it) */
  tokenizer: { type: string; vocab: string[]; bos: number; eos: number; pad: number; [k: string]: unknown };
  model: Record<string, unknown>;
  metrics?: Record<string, number | null>;
  eval?: { passAtK: Record<string, number>; samplesPerPrompt: number; numPrompts: number };
  /** which kind of checkpoint: final, periodic, sft, stop */
  tag?: string;
}

/** Events: written to events.jsonl and, one JSON per line, to the channel the extension reads. */
export type TrainerEvent =
  | { type: 'start'; time: string; runDir: string; runId: string; algorithm: string; task?: string; backend: BackendInfo; totalSteps?: number; config?: Record<string, unknown>; model?: RunManifest['model'] }
  | { type: 'step'; time: string; step: number; totalSteps?: number; metrics: Record<string, number | null>; etaSeconds?: number }
  | { type: 'rollout'; time: string; step: number; file: string; numSamples: number; numGroups: number }
  | { type: 'eval'; time: string; step: number; passAtK: Record<string, number>; meanReward?: number; baseline?: EvalRecord['baseline'] }
  | { type: 'checkpoint'; time: string; step: number; path: string; tag?: string }
  /** `phase`: progress of work that is not an optimizer step of the run (the SFT warm start before RL, ...): the host
   *  shows it in the progress notification, the status bar and the Runs tree until the first `step` event */
  | { type: 'log'; time: string; level: 'info' | 'debug'; message: string; phase?: TrainerPhase }
  | { type: 'warning'; time: string; message: string; step?: number; code?: string }
  | { type: 'error'; time: string; message: string; stack?: string; step?: number }
  | { type: 'end'; time: string; status: RunStatus; step?: number; reason?: string };

export type TrainerEventType = TrainerEvent['type'];

/** Progress of a phase before / between optimizer steps, e.g. { name: 'warm start', done: 120, total: 400 }. */
export interface TrainerPhase { name: string; done: number; total: number }

/** Prefix-free stdout protocol: with `--events stdout` every stdout line is exactly one JSON TrainerEvent. */
export const EVENT_LINE_PREFIX = '';

export function stepFileBase(step: number): string {
  return `step_${String(step).padStart(8, '0')}`;
}

export function checkpointDirName(step: number, tag?: string): string {
  return tag && tag !== 'periodic' ? `${stepFileBase(step)}_${tag}` : stepFileBase(step);
}

export function parseStepFileBase(name: string): number | undefined {
  const m = /^step_(\d+)/.exec(name);
  return m ? Number(m[1]) : undefined;
}
