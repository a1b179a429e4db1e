/**
 * Checkpoint report: what `rl-lens report CKPT [--base CKPT]` computes (trainer world) and what the extension host
 * renders into a read-only `rl-lens:` document (pure text, see render.ts). Plain JSON, no tensors: both worlds import it.
 */
export const REPORT_VERSION = 1;

export interface TensorRow {
  name: string;
  shape: number[];
  /** number of elements */
  params: number;
  /** ‖W‖₂ (Frobenius norm of the whole tensor) */
  l2: number;
  mean: number;
  /** population standard deviation (divide by n) */
  std: number;
  maxAbs: number;
  /** ‖W − W_base‖₂ / ‖W_base‖₂ (null: no base, or the tensor is missing / has another shape in the base; Infinity-safe: ‖W_base‖ = 0 → null) */
  relChange?: number | null;
}

export interface GenerationRow {
  /** index in the task's fixed eval set */
  index: number;
  prompt: string;
  /** the reference answer */
  answer?: string;
  completion: string;
  /** ended with EOS */
  finished: boolean;
  reward: number;
  parts: Record<string, number>;
  correct: boolean;
}

export interface PassAtKResult {
  /** n: samples per prompt */
  samples: number;
  numPrompts: number;
  temperature: number;
  seed: number;
  /** k = 1, 2, 4, … ≤ n (and n) */
  k: number[];
  /** mean over prompts of the unbiased estimator 1 − C(n−c,k)/C(n,k), one per k */
  values: number[];
  /** c per prompt (number of correct samples out of n) */
  correctPerPrompt: number[];
}

/** Everything that depends on one checkpoint only (cacheable per checkpoint). */
export interface CheckpointEval {
  generations: { greedy: true; seed: number; maxNewTokens: number; numPrompts: number; items: GenerationRow[] };
  passAtK: PassAtKResult;
}

export interface CheckpointRef {
  dir: string;
  name: string;
  step: number;
  tag?: string;
}

export interface CheckpointReport {
  version: number;
  /** cache key: hash of (checkpoint file identity, base file identity, settings) */
  key: string;
  checkpoint: CheckpointRef & { runDir?: string; runName?: string; algorithm: string; time: string };
  /** the checkpoint that relative changes and the base pass@k column are computed against */
  base?: CheckpointRef;
  /** task / reward used for the generations, e.g. "arithmetic (difficulty 1), rule reward" */
  task: string;
  config: Record<string, unknown>;
  /** metrics at the checkpoint's step (checkpoint.json, completed from metrics.jsonl when the run folder has it) */
  metrics: Record<string, number | null>;
  /** the trainer's own eval at this step (from checkpoint.json), when present */
  trainerEval?: { passAtK: Record<string, number>; samplesPerPrompt: number; numPrompts: number };
  tensors: { count: number; totalParams: number; rows: TensorRow[] };
  eval: CheckpointEval;
  baseEval?: CheckpointEval;
  settings: ReportSettings;
  /** wall-clock milliseconds of each part (not rendered: it would show up as a difference) */
  timings: Record<string, number>;
}

export interface ReportSettings {
  /** samples per prompt for pass@k */
  samples: number;
  /** eval prompts (greedy generations and pass@k) */
  numPrompts: number;
  seed: number;
  temperature: number;
  /** compute generations (false = weights only, e.g. for huge checkpoints) */
  generations: boolean;
}
