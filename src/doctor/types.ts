/**
 * The run doctor's input model and its output (findings). Pure data: no vscode, no fs.
 * `load.ts` fills a DoctorInput from a run directory; tests build one directly from synthetic streams.
 */

/** One scalar metric over steps. `values[i]` is NaN where the run logged null / NaN / ±Infinity (non-finite). */
export interface Series {
  steps: number[];
  values: number[];
}

export interface EvalPoint {
  step: number;
  /** pass@k keyed by k ("1", "4", ...) */
  passAtK: Record<string, number>;
  samplesPerPrompt?: number;
  numPrompts?: number;
  meanReward?: number;
  /** the same eval of a baseline (Training-Free GRPO: the model without the experience library), when recorded */
  baseline?: { name: string; passAtK: Record<string, number> };
}

export interface GroupSummary {
  id: string;
  /** indices (into RolloutSummary.samples) of the group's samples */
  samples: number[];
  rewards: number[];
  /** the trainer marked the group as giving no gradient (zero variance, dynamic sampling drop, rejection) */
  filtered?: boolean;
  filterReason?: string;
  /** number of distinct completions (exact text) in the group */
  distinct: number;
}

export interface SampleSummary {
  index: number;
  group: string;
  reward: number;
  length: number;
  truncated?: boolean;
  parts?: Record<string, number>;
  /** the completion's first SUMMARY_TEXT_CHARS (300) characters (summarize.ts): what the phrase check reads */
  text: string;
  /** RLLoggingBoard-style reward of the reference model's response to the same prompt, when logged */
  refReward?: number;
}

/** Per-token statistics of one rollout step (only what the step's arrays allow). */
export interface TokenSummary {
  /** valid (mask = 1) tokens seen */
  tokens: number;
  entropyMean?: number;
  /** share of the step's total entropy carried by its 10% highest-entropy tokens (0.1 = spread evenly, → 1 = concentrated) */
  entropyTopShare?: number;
  /** response positions with the highest mean entropy, highest first */
  entropyTopPositions?: { position: number; mean: number }[];
  clipLowFrac?: number;
  clipHighFrac?: number;
  clipDualFrac?: number;
  ratioMax?: number;
  ratioMin?: number;
  /** fraction of tokens whose ratio is outside [1/r, r] for r = thresholds.clip.ratioOutlier (computed by the loader with the default r) */
  ratioOutlierFrac?: number;
  ratioOutlierBound?: number;
  /** samples with the most extreme |log ratio|, worst first */
  ratioWorstSamples?: { sample: number; value: number }[];
  /** samples with the lowest mean entropy, lowest first */
  lowEntropySamples?: { sample: number; value: number }[];
}

export interface RolloutSummary {
  step: number;
  groups: GroupSummary[];
  samples: SampleSummary[];
  tokens?: TokenSummary;
  /** step header params (eps, beta, clipLow, clipHigh, maxNewTokens, ...) */
  params?: Record<string, number | string | boolean>;
}

export interface DoctorInput {
  runId?: string;
  algorithm?: string;
  status?: string;
  config?: Record<string, unknown>;
  /** train-split metrics by name */
  metrics: Record<string, Series>;
  /** eval-split metrics (metrics.jsonl lines with split "eval") by name */
  evalMetrics: Record<string, Series>;
  evals: EvalPoint[];
  rollouts: RolloutSummary[];
  /** error events of the run (message and step) */
  errors: { step?: number; message: string }[];
  /** manifest.source of an imported run (format, notes; `partial` when the importer recovered a truncated input) */
  source?: Record<string, unknown>;
}

export type Severity = 'info' | 'warning' | 'error';

export interface Evidence {
  metrics?: string[];
  steps?: number[];
  groups?: { step: number; group: string }[];
  samples?: { step: number; sample: number }[];
  values?: Record<string, number>;
}

/** One stretch of steps where a check's condition held (e.g. KL above kl.warn), found by scanning the whole history. */
export interface Episode {
  /** first and last step of the stretch */
  start: number;
  end: number;
  /** the most extreme value inside it (highest KL, lowest explained variance, ...) and where */
  peak: { step: number; value: number };
  /** points (logged steps) inside it */
  points: number;
  /** false when the condition still holds at the last logged step */
  recovered: boolean;
}

/**
 * A finding's life over the run (src/doctor/timeline.ts): the doctor re-runs on the data as it stood at checkpoint steps
 * (what a live run showed), so a finding raised at step s and gone by step t is reported as resolved, not forgotten.
 */
export interface FindingHistory {
  /** 'active': present on the run's latest data; 'resolved': seen earlier, absent now */
  status: 'active' | 'resolved';
  /** first checkpoint step (last logged step of the data then) at which the finding was present */
  raisedAt: number;
  /** last checkpoint step at which it was present */
  lastSeenAt: number;
  /** first checkpoint step after lastSeenAt at which it was absent (resolved findings only) */
  resolvedAt?: number;
  /** every stretch of checkpoints in which it was present: [raised, resolved] (resolved absent while active) */
  spans: { raisedAt: number; lastSeenAt: number; resolvedAt?: number }[];
  /** the highest severity it had */
  worstSeverity: Severity;
  /** the last step of the data the finding's text and evidence come from */
  asOfStep: number;
}

/** What data a finding was computed from. */
export interface FindingSource {
  /** metrics.jsonl names (train split; eval-split names are prefixed "eval:" only when derived) */
  metrics: string[];
  /** rollout steps whose samples / groups / per-token arrays were used */
  rolloutSteps?: { count: number; from: number; to: number };
  /** eval.jsonl records used */
  evals?: { count: number; from: number; to: number };
  /** trainer error events used */
  errorEvents?: number;
}

export interface Finding {
  /** stable id (check/kind): the same pathology keeps its id as the run goes on (used for notify-once) */
  id: string;
  check: CheckName;
  /** the part of the id after the check ("blowup" in kl/blowup) */
  kind?: string;
  severity: Severity;
  title: string;
  message: string;
  stepRange: [number, number];
  evidence: Evidence;
  /** what usually fixes it (citing the survey's remedies) */
  remedy: string;
  /** stretches of the whole history where the condition held (checks that scan the history for episodes) */
  episodes?: Episode[];
  /** what data it was computed from (filled by diagnose()) */
  source?: FindingSource;
  /** raised / still present / resolved (filled by diagnoseTimeline()) */
  history?: FindingHistory;
}

/** A finding's kind: its `kind`, else the part of its id after the check ("blowup" in kl/blowup). */
export function findingKind(f: Pick<Finding, 'id' | 'kind'>): string {
  return f.kind ?? f.id.slice(f.id.indexOf('/') + 1);
}

/** 'data' is not a check: it names the doctor's own "no data" notice (src/host/doctor/display.ts) */
export type CheckName =
  | 'data' | 'entropy' | 'zero-variance' | 'kl' | 'beta' | 'clip' | 'length' | 'reward' | 'reward-hacking' | 'mode-collapse' | 'critic' | 'numerical';

export function emptyInput(): DoctorInput {
  return { metrics: {}, evalMetrics: {}, evals: [], rollouts: [], errors: [] };
}
