/**
 * RL Lens run doctor: automatic diagnosis of RL fine-tuning pathologies from a run's metrics and traces.
 * Pure: `diagnose(input, thresholds?)` takes a DoctorInput (see load.ts for reading one from a run directory) and
 * returns findings, most severe first. Each check lives in checks/<name>.ts with its survey citations; thresholds and
 * their defaults are in thresholds.ts and docs/doctor.md.
 */
import { findingKind, type DoctorInput, type Finding, type CheckName, type FindingSource } from './types';
import { resolveThresholds, type Thresholds, type DeepPartial } from './thresholds';
import { checkEntropy } from './checks/entropy';
import { checkZeroVariance } from './checks/zeroVariance';
import { checkKl, checkBeta } from './checks/kl';
import { checkClip } from './checks/clip';
import { checkLength } from './checks/length';
import { checkRewardHacking } from './checks/hacking';
import { checkReward, checkRewardSchedule } from './checks/reward';
import { checkModeCollapse } from './checks/mode';
import { checkCritic } from './checks/critic';
import { checkNumerical } from './checks/numerical';

export * from './types';
export { DEFAULT_THRESHOLDS, resolveThresholds, flattenThresholds, unflattenThresholds, type Thresholds, type DeepPartial } from './thresholds';

export type Check = (input: DoctorInput, th: Thresholds) => Finding[];

/** Algorithms that learn from demonstrations or fixed preference pairs, not from the rewards of their own samples. */
const OFFLINE_ALGORITHMS = new Set(['sft', 'reward_model', 'dpo', 'ipo', 'kto', 'orpo', 'simpo', 'odpo']);

/**
 * Does the run learn from its own sampled completions' rewards (online RL)? The checks whose premise is that gradient
 * (zero-variance groups give none, truncated samples inject reward noise, the ratio is clipped) judge only such runs:
 * an SFT or DPO run's traced samples are a view of the policy, not what it trains on. Unknown algorithms (imports) count
 * as online.
 */
export function learnsFromOwnSamples(input: Pick<DoctorInput, 'algorithm'>): boolean {
  return !OFFLINE_ALGORITHMS.has(String(input.algorithm ?? '').toLowerCase());
}

/** Every check, in display order; `appliesTo` limits a check to the runs its premise holds for. */
export const CHECKS: { name: CheckName; title: string; run: Check; appliesTo?: (input: DoctorInput) => boolean }[] = [
  { name: 'numerical', title: 'NaN / inf, gradient-norm and loss spikes', run: checkNumerical },
  { name: 'entropy', title: 'Entropy collapse', run: checkEntropy },
  { name: 'zero-variance', title: 'Zero-variance groups', run: checkZeroVariance, appliesTo: learnsFromOwnSamples },
  { name: 'kl', title: 'KL blow-up / KL stuck at zero', run: checkKl },
  { name: 'beta', title: 'β controller at its bounds', run: checkBeta },
  { name: 'clip', title: 'Clip saturation and ratio outliers', run: checkClip, appliesTo: learnsFromOwnSamples },
  { name: 'length', title: 'Length drift, truncation, overlong penalty', run: checkLength, appliesTo: learnsFromOwnSamples },
  { name: 'reward', title: 'Reward falling', run: checkReward },
  { name: 'reward', title: 'Reward schedule switch (DELTA)', run: checkRewardSchedule },
  { name: 'reward-hacking', title: 'Reward hacking signals', run: checkRewardHacking },
  { name: 'mode-collapse', title: 'Mode collapse', run: checkModeCollapse },
  { name: 'critic', title: 'PPO critic health', run: checkCritic },
];

const RANK = { error: 0, warning: 1, info: 2 } as const;

export interface DiagnoseOptions {
  /** only these checks */
  only?: CheckName[];
}

/**
 * Run every check. A check whose metrics are missing returns nothing (skipped, not an error); a check that throws
 * on malformed input becomes an info finding `<check>/failed` so the rest still runs.
 */
export function diagnose(input: DoctorInput, thresholds?: DeepPartial<Thresholds> | Record<string, unknown>, opts: DiagnoseOptions = {}): Finding[] {
  const th = resolveThresholds(thresholds);
  const out: Finding[] = [];
  for (const c of CHECKS) {
    if (opts.only && !opts.only.includes(c.name)) continue;
    if (c.appliesTo && !c.appliesTo(input)) continue;
    try {
      out.push(...c.run(input, th));
    } catch (e) {
      out.push({
        id: `${c.name}/failed`, check: c.name, severity: 'info', title: `Check "${c.name}" could not run`,
        message: `The ${c.title} check failed on this run's data: ${(e as Error).message}`, stepRange: [0, 0], evidence: {},
        remedy: 'Report this with the run folder; the other checks are unaffected.',
      });
    }
  }
  for (const f of out) { f.kind = findingKind(f); f.source ??= sourceOf(f, input); }
  return out.sort((a, b) => RANK[a.severity] - RANK[b.severity] || a.stepRange[0] - b.stepRange[0] || a.id.localeCompare(b.id));
}

function span(steps: number[]): { count: number; from: number; to: number } | undefined {
  return steps.length ? { count: steps.length, from: Math.min(...steps), to: Math.max(...steps) } : undefined;
}

/** What data a finding was computed from: the metrics its evidence names, the rollout steps when it used rollouts
 *  ("rollouts:…" evidence, samples or groups), the eval records when it used "eval:…", the trainer's error events. */
export function sourceOf(f: Finding, input: DoctorInput): FindingSource {
  const ms = f.evidence?.metrics ?? [];
  const src: FindingSource = { metrics: ms.filter((m) => !/^(rollouts|eval):/.test(m)) };
  const rolloutLike = ms.some((m) => m.startsWith('rollouts:')) || !!f.evidence?.samples?.length || !!f.evidence?.groups?.length
    || f.id === 'reward-hacking/phrase' || f.id === 'mode-collapse/distinct';
  if (rolloutLike) { const r = span(input.rollouts.map((x) => x.step)); if (r) src.rolloutSteps = r; }
  if (ms.some((m) => m.startsWith('eval:'))) { const e = span(input.evals.map((x) => x.step)); if (e) src.evals = e; }
  if (f.id === 'numerical/nonfinite' && input.errors.length) src.errorEvents = input.errors.length;
  return src;
}

/** The highest severity among findings, or undefined when there are none. */
export function worstSeverity(findings: Finding[]): Finding['severity'] | undefined {
  let w: Finding['severity'] | undefined;
  for (const f of findings) if (!w || RANK[f.severity] < RANK[w]) w = f.severity;
  return w;
}
