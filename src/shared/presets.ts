/**
 * The built-in presets, one table for every consumer: the CLI (`rl-lens train --preset NAME`, src/trainer/presets.ts
 * PRESETS is built from it) and the extension's "Start Run…" (src/host/commands.ts), so a preset of one name is the
 * same run everywhere. Pure data (no tfjs, no Node APIs): the host bundle imports it.
 *
 * Each entry: the config maker, a label and detail for the quick pick, its family (the quick pick's order: the
 * recommended preset first, then by family, then by how long it takes) and how long it took, measured with the CLI
 * (`node bin/rl-lens.js train --preset ID`, backend auto = wasm here) on the machine named in MEASURED_ON.
 * media/templates/<id>.jsonc, where one exists, is the same config with comments (New config from template); a unit
 * test keeps them equal (test/unit/host-config.test.ts).
 */
import { deepMerge } from './deepMerge';

export type PresetFamily = 'grpo' | 'ppo' | 'preference' | 'pipeline' | 'sft';

/** Families in the order Start Run lists them. */
export const FAMILY_ORDER: readonly PresetFamily[] = ['grpo', 'ppo', 'preference', 'pipeline', 'sft'];
export const FAMILY_LABEL: Record<PresetFamily, string> = {
  grpo: 'Group-relative RL (GRPO, DAPO)', ppo: 'Actor-critic RL (PPO)', preference: 'Preference optimization (DPO, …)',
  pipeline: 'Pipelines (SFT → reward model → RL)', sft: 'Supervised fine-tuning',
};

/** Where the `seconds` below were measured. */
export const MEASURED_ON = '2-core AMD EPYC VM, wasm backend, shared with other jobs (load average 2-6), 2026-12-05';

export interface PresetEntry {
  id: string;
  label: string;
  detail: string;
  family: PresetFamily;
  /** listed first by Start Run */
  recommended?: boolean;
  /** offered by Start Run (the others are CLI / test presets) */
  startRun?: boolean;
  /** wall-clock seconds of a whole run on MEASURED_ON (start to end event); absent when not measured */
  seconds?: number;
  make: () => Record<string, unknown>;
}

// ---- the configs ---------------------------------------------------------------------------------------------

/**
 * The built-in default (`npm run train`, `rl-lens train` without arguments, the first Start Run preset): GRPO with
 * clip-higher (ε_low 0.2, ε_high 0.28, DAPO) on a real pretrained LM, Karpathy's stories260K (Llama-2 architecture,
 * TinyStories), on the stories-word task: the story must use the word the prompt names, end happily and keep a length
 * window. The hub id resolves to the Hugging Face cache, a local copy (RL_LENS_MODELS, ../shared/models here) or a
 * download, its files checked against the sha256 the hub publishes (src/trainer/model/hub.ts STORIES260K).
 * 8 prompts × 8 completions of up to 96 tokens per step in 2 minibatches, lr 1e-3 (2e-3 drove the KL to 1.7 in 8 steps, 5e-4 learned
 * little; .scratch tuning, docs/models.md); held-out reward and pass@k every 4 steps, a checkpoint every 4.
 */
export function grpoStoriesPreset(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return deepMerge({
    name: 'grpo-stories',
    algorithm: 'grpo',
    seed: 1,
    task: { name: 'stories-word' },
    model: { pretrained: 'hf:karpathy/tinyllamas/stories260K', contextLength: 160 },
    train: { steps: 12, lr: 0.001, lrSchedule: 'constant', warmupSteps: 0, gradClip: 1 },
    sampling: { temperature: 1, maxNewTokens: 96 },
    eval: { every: 4, numPrompts: 16, samplesPerPrompt: 4, k: [1, 2, 4], temperature: 1 },
    checkpoint: { every: 4 },
    rollouts: { every: 2, maxSamples: 32 },
    // 2 minibatches: the second update sees ratios ≠ 1, so the clip bounds (and clip-higher) act; with one they never do
    rl: { promptsPerStep: 8, groupSize: 8, miniBatches: 2, clipHigh: 0.28 },
  }, extra) as Record<string, unknown>;
}

/** The reward-hacking example on the real model: stories-hackable pays per repetition of the word; `reward/honest/mean` shows the rest. */
export function grpoStoriesHackablePreset(): Record<string, unknown> {
  return grpoStoriesPreset({ name: 'grpo-stories-hackable', task: { name: 'stories-hackable' }, train: { steps: 24 }, eval: { every: 6 }, checkpoint: { every: 12 } });
}

/** The default run: GRPO on stories260K (above). */
export function defaultPreset(): Record<string, unknown> {
  return grpoStoriesPreset();
}

/** A quick SFT run on arithmetic from scratch (the default before pretrained models): 300 steps, about a minute on 2 cores. */
export function sftQuickPreset(): Record<string, unknown> {
  return {
    name: 'sft-arithmetic-quick',
    algorithm: 'sft',
    seed: 1,
    task: { name: 'arithmetic', difficulty: 1 },
    model: { dModel: 64, nHeads: 4, nLayers: 2, contextLength: 16 },
    train: { steps: 300, batchSize: 64, lr: 0.003, lrSchedule: 'cosine', warmupSteps: 20 },
    sampling: { temperature: 1, maxNewTokens: 5 },
    eval: { every: 50, numPrompts: 64, samplesPerPrompt: 8, k: [1, 2, 4, 8] },
    checkpoint: { every: 100 },
    rollouts: { every: 25, maxSamples: 32 },
    sft: { demoNoise: 0.1, demoCoverage: 1 },
  };
}

/** grpo on arithmetic (difficulty 1) from a noisy SFT warm start made in the same run: eval pass@1 rises by ~20 points. */
export function rlArithmeticPreset(algorithm: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return deepMerge({
    name: `${algorithm.replace(/_/g, '-')}-arithmetic`,
    algorithm,
    seed: 1,
    task: { name: 'arithmetic', difficulty: 1 },
    model: { dModel: 64, nHeads: 4, nLayers: 2, contextLength: 16 },
    train: { steps: 80, lr: 0.001, lrSchedule: 'cosine', warmupSteps: 2, minLrRatio: 0.1, gradClip: 1 },
    sampling: { temperature: 1, maxNewTokens: 5 },
    eval: { every: 20, numPrompts: 64, samplesPerPrompt: 8, k: [1, 2, 4, 8], temperature: 1 },
    checkpoint: { every: 40 },
    rollouts: { every: 10, maxSamples: 64 },
    rl: { promptsPerStep: 32, groupSize: 8, warmStart: { steps: 400, batchSize: 64, lr: 0.003, demoNoise: 0.5 } },
  }, extra) as Record<string, unknown>;
}

/** The tiny RL presets of Start Run (seconds): a 1-layer model, 30 steps after a 150-step warm start. */
export function rlTinyPreset(algorithm: string, rl: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: `${algorithm}-arithmetic-tiny`, algorithm, seed: 1,
    task: { name: 'arithmetic', difficulty: 1 },
    model: { dModel: 32, nHeads: 4, nLayers: 1, contextLength: 16 },
    train: { steps: 30, lr: 0.003 },
    sampling: { maxNewTokens: 5 },
    eval: { every: 10, numPrompts: 16, samplesPerPrompt: 4, k: [1, 4] },
    checkpoint: { every: 10 },
    rollouts: { every: 5, maxSamples: 64 },
    rl: { promptsPerStep: 8, groupSize: 8, ...rl, warmStart: { steps: 150, batchSize: 32, demoNoise: 0.3 } },
  };
}

export function sftTinyPreset(): Record<string, unknown> {
  return {
    name: 'sft-tiny', algorithm: 'sft', seed: 1,
    task: { name: 'arithmetic', difficulty: 1 },
    model: { dModel: 32, nHeads: 4, nLayers: 1, contextLength: 16 },
    train: { steps: 20, batchSize: 16, lr: 0.003 },
    sampling: { maxNewTokens: 5 },
    eval: { every: 10, numPrompts: 8, samplesPerPrompt: 4, k: [1, 4] },
    checkpoint: { every: 10 },
    rollouts: { every: 5, maxSamples: 8 },
  };
}

/** The quick SFT preset at difficulty 2 and 400 steps (evals, checkpoints and traces spread over them). */
export function sftArithmeticPreset(): Record<string, unknown> {
  return deepMerge(sftQuickPreset(), {
    name: 'sft-arithmetic', task: { difficulty: 2 }, train: { steps: 400 }, eval: { every: 100 }, checkpoint: { every: 200 }, rollouts: { every: 50 },
  });
}

/** SFT → reward model → PPO on the learned reward (docs/preference.md, "Pipeline"). */
export function rlhfArithmeticPreset(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return deepMerge({
    name: 'rlhf-arithmetic', algorithm: 'pipeline', seed: 1,
    task: { name: 'arithmetic', difficulty: 1 },
    model: { dModel: 64, nHeads: 4, nLayers: 2, contextLength: 16 },
    sampling: { temperature: 1, maxNewTokens: 5 },
    eval: { every: 0, numPrompts: 64, samplesPerPrompt: 4, k: [1, 4], temperature: 1 },
    checkpoint: { every: 0 }, rollouts: { every: 10, maxSamples: 32 },
    pipeline: {
      rlAlgorithm: 'ppo',
      sft: { train: { steps: 300, lr: 0.003, batchSize: 64 } },
      rewardModel: { train: { steps: 2000, batchSize: 32, lr: 0.001 }, reward_model: { evalEvery: 500, data: { builtin: { source: 'contrast+policy', count: 512, wrongPerPrompt: 6 } } } },
      rl: { train: { steps: 80, lr: 0.0003 }, rl: { promptsPerStep: 16, groupSize: 8, kl: { coef: 0.1 } } },
    },
  }, extra) as Record<string, unknown>;
}

/** `rlhf-arithmetic` with GRPO (group-normalised advantages, KL k3 in the loss) as stage 3 instead of PPO. */
export function rlhfGrpoPreset(): Record<string, unknown> {
  return rlhfArithmeticPreset({ name: 'rlhf-arithmetic-grpo', pipeline: { rlAlgorithm: 'grpo' } });
}

/**
 * The reward-hacking example (docs/preference.md), kept on purpose: the reward model never sees the policy's own samples
 * and learns from contrastive pairs WITHOUT the shorter wrong answers (`shorterPerPrompt: 0`), so in every pair whose
 * lengths differ the shorter completion wins, a shortcut it learns on top of correctness. GRPO at lr 2e-4 (seed 2) then
 * raises the RM score while the hidden true score falls: the policy learns to answer "9" to "3+7=". The on-policy check
 * before stage 3 shows the weaker RM; `reward/hidden_score/mean` falling under a rising `reward/rm/mean` shows the rest.
 */
export function rlhfHackingPreset(): Record<string, unknown> {
  return rlhfArithmeticPreset({
    name: 'rlhf-arithmetic-hacking', seed: 2,
    pipeline: {
      rlAlgorithm: 'grpo',
      rewardModel: { reward_model: { data: { builtin: { source: 'contrast', wrongPerPrompt: 6, shorterPerPrompt: 0 } } } },
      rl: { train: { lr: 0.0002 } },
    },
  });
}

/** The offline preference methods with an `<method>-arithmetic` preset (src/trainer/preference PREFERENCE_METHODS). */
export const PREFERENCE_PRESET_METHODS = ['dpo', 'ipo', 'kto', 'orpo', 'simpo', 'odpo'] as const;

/**
 * `<method>-arithmetic` presets for the offline methods and the reward model (`rl-lens train --preset dpo-arithmetic`):
 * arithmetic difficulty 1, the built-in synthetic preference set, a small model from scratch (the reference model of
 * dpo / ipo / kto / odpo is the frozen starting policy), 60 steps, held-out metrics every 20 (the reward model: the
 * contrastive set, 300 steps). Seconds each on 2 cores.
 */
export function preferenceArithmeticPreset(method: string): Record<string, unknown> {
  const name = `${method.replace('_', '-')}-arithmetic`;
  return {
    name, algorithm: method, seed: 1,
    task: { name: 'arithmetic', difficulty: 1 },
    model: { dModel: 32, nHeads: 4, nLayers: 1, contextLength: 16 },
    train: { steps: 60, batchSize: 16, lr: 0.003 },
    eval: { every: 20, numPrompts: 16, samplesPerPrompt: 4, k: [1, 4] },
    rollouts: { every: 10, maxSamples: 8 },
    ...(method === 'dpo' ? { dpo: { beta: 0.1, rpoAlpha: 0 } } : {}),
    // a reward model from scratch (no SFT trunk) on the contrastive pairs, 300 steps: held-out accuracy ≈ 0.83 but
    // only ≈ 0.56 on correctness-only pairs; a trunk that knows the task (pipeline stage 2) is what makes a good RM
    ...(method === 'reward_model' ? { train: { steps: 300, batchSize: 32, lr: 0.003 }, eval: { every: 100, numPrompts: 16, samplesPerPrompt: 4, k: [1, 4] }, reward_model: { evalEvery: 100, data: { builtin: { source: 'contrast' } } } } : {}),
  };
}

// ---- the table -------------------------------------------------------------------------------------------------

export const PRESET_TABLE: PresetEntry[] = [
  { id: 'grpo-stories', seconds: 47, family: 'grpo', recommended: true, startRun: true, label: 'GRPO · stories260K (pretrained Llama) · TinyStories',
    detail: 'The default run (npm run train): GRPO with clip-higher on Karpathy\'s pretrained stories260K; stories must use the word the prompt names and end happily. Real subword tokens in the heatmap. Start here.',
    make: () => grpoStoriesPreset() },
  { id: 'grpo-stories-hackable', seconds: 95, family: 'grpo', startRun: true, label: 'GRPO · stories260K · hackable reward',
    detail: 'Reward hacking on a real LM: the reward pays per repetition of the word; watch reward rise while reward/honest falls, and the run doctor.',
    make: grpoStoriesHackablePreset },
  { id: 'grpo-arithmetic-tiny', seconds: 6.4, family: 'grpo', startRun: true, label: 'GRPO · arithmetic · tiny',
    detail: 'Group-relative policy optimization from a quick supervised warm start: 8 prompts × 8 completions per step, per-token traces every 5 steps. Start here.',
    make: () => rlTinyPreset('grpo') },
  { id: 'grpo-arithmetic', seconds: 88, family: 'grpo', startRun: true, label: 'GRPO · arithmetic',
    detail: 'The README\'s GRPO run (same as `rl-lens train --preset grpo-arithmetic`): 400-step SFT warm start with noisy demonstrations, then 80 GRPO steps; eval pass@1 rises by about 20 points.',
    make: () => rlArithmeticPreset('grpo', { rl: { miniBatches: 4 } }) },
  { id: 'dapo-arithmetic-tiny', seconds: 4.9, family: 'grpo', startRun: true, label: 'DAPO · arithmetic · tiny',
    detail: 'Clip-higher (ε_low 0.2, ε_high 0.28), dynamic sampling (zero-variance groups dropped and refilled), token-level loss, soft overlong punishment.',
    make: () => rlTinyPreset('dapo') },
  { id: 'dapo-arithmetic', family: 'grpo', label: 'DAPO · arithmetic', detail: 'rlArithmeticPreset with DAPO.', make: () => rlArithmeticPreset('dapo', { rl: { miniBatches: 4 } }) },
  { id: 'ppo-arithmetic-tiny', seconds: 7.6, family: 'ppo', startRun: true, label: 'PPO · arithmetic · tiny',
    detail: 'Actor-critic with a value head, GAE(γ, λ) and the clipped surrogate; per-token reward = score at the last token − β·KL. The heatmap shows values, returns and advantages per token.',
    make: () => rlTinyPreset('ppo', { promptsPerStep: 16, groupSize: 4, ppoEpochs: 2, miniBatches: 2 }) },
  { id: 'ppo-arithmetic', family: 'ppo', label: 'PPO · arithmetic', detail: 'rlArithmeticPreset with PPO.', make: () => rlArithmeticPreset('ppo') },
  { id: 'grpo-tiny', family: 'grpo', label: 'GRPO · tiny (tests)', detail: 'seconds: for tests and smoke checks',
    make: () => rlArithmeticPreset('grpo', {
      name: 'grpo-tiny', model: { dModel: 32, nLayers: 1 }, train: { steps: 4 }, eval: { every: 2, numPrompts: 8, samplesPerPrompt: 4, k: [1, 4] },
      checkpoint: { every: 0 }, rollouts: { every: 2, maxSamples: 16 }, rl: { promptsPerStep: 4, groupSize: 4, warmStart: { steps: 10 } },
    }) },
  ...PREFERENCE_PRESET_METHODS.map((m): PresetEntry => ({
    id: `${m}-arithmetic`, family: 'preference', ...(m === 'dpo' ? { seconds: 2.2 } : {}), startRun: m === 'dpo', label: `${m.toUpperCase()} · arithmetic · preferences`,
    detail: m === 'dpo' ? 'Direct Preference Optimization on a built-in synthetic preference set (correct and concise beats wrong or verbose); per-token implicit rewards in the heatmap.' : `${m.toUpperCase()} on the built-in synthetic preference set.`,
    make: () => preferenceArithmeticPreset(m),
  })),
  { id: 'reward-model-arithmetic', family: 'preference', label: 'Reward model · arithmetic', detail: 'A reward model from scratch on the contrastive pairs.', make: () => preferenceArithmeticPreset('reward_model') },
  { id: 'rlhf-arithmetic', seconds: 303, family: 'pipeline', startRun: true, label: 'RLHF pipeline · SFT → reward model → PPO',
    detail: 'InstructGPT\'s pipeline in one run: SFT, a reward model trained on ranked answers, then PPO against the learned reward; the Runs tree shows the three stages. The hidden true score is logged next to the RM score.',
    make: () => rlhfArithmeticPreset() },
  { id: 'rlhf-arithmetic-grpo', family: 'pipeline', label: 'RLHF pipeline · GRPO stage', detail: 'rlhf-arithmetic with GRPO as stage 3.', make: rlhfGrpoPreset },
  { id: 'rlhf-arithmetic-hacking', family: 'pipeline', label: 'RLHF pipeline · reward hacking example', detail: 'The reward-hacking example of docs/preference.md.', make: rlhfHackingPreset },
  { id: 'sft-tiny', seconds: 1.7, family: 'sft', startRun: true, label: 'SFT · arithmetic · tiny',
    detail: 'Supervised warm start on "2 + 3 = ?" problems, 20 steps, 1-layer model: a smoke test.', make: sftTinyPreset },
  { id: 'sft-arithmetic', seconds: 49, family: 'sft', startRun: true, label: 'SFT · arithmetic',
    detail: 'Stage 1 of the RLHF pipeline: supervised warm start with 10% noisy demonstrations, so RL has room to improve.', make: sftArithmeticPreset },
  { id: 'default', family: 'grpo', label: 'GRPO · stories260K (the CLI default)', detail: 'rl-lens train without --preset: grpo-stories.', make: defaultPreset },
  { id: 'sft-arithmetic-quick', seconds: 15, family: 'sft', label: 'SFT · arithmetic · quick', detail: 'SFT from scratch on arithmetic, 300 steps (the default before pretrained models).', make: sftQuickPreset },
  { id: 'tiny', family: 'sft', label: 'SFT · tiny (tests)', detail: 'a few seconds: for tests and smoke checks',
    make: () => deepMerge(sftQuickPreset(), { name: 'tiny-sft', task: { difficulty: 1 }, model: { dModel: 32, nLayers: 1 }, train: { steps: 20, batchSize: 16 }, eval: { every: 10, numPrompts: 8, samplesPerPrompt: 4, k: [1, 4] }, checkpoint: { every: 10 }, rollouts: { every: 5, maxSamples: 8 } }) as Record<string, unknown> },
];

export function presetEntry(id: string): PresetEntry | undefined {
  return PRESET_TABLE.find((p) => p.id === id);
}

/** "~15 s" / "~1 min" / "~3 min" from measured seconds; "" when not measured. */
export function formatDuration(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds)) return '';
  if (seconds < 60) return `~${Math.max(5, Math.round(seconds / 5) * 5)} s`;
  return `~${Math.round(seconds / 60)} min`;
}

/** Start Run's list: the recommended preset first, then by family (FAMILY_ORDER), then by measured duration. */
export function startRunPresets(table: readonly PresetEntry[] = PRESET_TABLE): PresetEntry[] {
  const fam = (p: PresetEntry) => FAMILY_ORDER.indexOf(p.family);
  return table.filter((p) => p.startRun).sort((a, b) =>
    Number(!!b.recommended) - Number(!!a.recommended) || fam(a) - fam(b) || (a.seconds ?? Infinity) - (b.seconds ?? Infinity) || a.id.localeCompare(b.id));
}
