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

/** The supervised warm start of the step-task presets: 30% of the demonstrations carry one arithmetic slip, so the model makes step errors. */
const ARITHMETIC_STEPS_SFT = { steps: 300, batchSize: 64, lr: 0.003, demoNoise: 0.3 };

/** What the step-task presets (Step-DPO, PRM) share: task arithmetic-steps (three operands 0..9), the small char model, sampling, no checkpoints. */
function arithmeticStepsBase(): Record<string, unknown> {
  return {
    seed: 1,
    task: { name: 'arithmetic-steps', difficulty: 1 },
    model: { dModel: 64, nHeads: 4, nLayers: 2, contextLength: 24 },
    sampling: { temperature: 1, maxNewTokens: 15 },
    checkpoint: { every: 0 },
  };
}

/**
 * Step-DPO on multi-step arithmetic (task arithmetic-steps, three operands 0..9: "3+4+5=" → "3+4=7 7+5=12"), one run:
 * a supervised warm start with 30% demonstrations carrying one arithmetic slip (so the model makes step errors), the
 * paper's data construction from the model's own samples (first erroneous step located by the verifier, correct
 * steps from its own right-answer continuations), then DPO on the step pairs (β 0.5, the authors' value).
 * docs/algorithms.md "Step-DPO" has the measured before → after.
 */
export function stepDpoArithmeticPreset(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return deepMerge({
    ...arithmeticStepsBase(),
    name: 'step-dpo-arithmetic', algorithm: 'step_dpo',
    train: { steps: 80, batchSize: 32, lr: 0.0002, lrSchedule: 'constant', warmupSteps: 0 },
    eval: { every: 0, numPrompts: 64, samplesPerPrompt: 4, k: [1, 4], temperature: 1 },
    rollouts: { every: 20, maxSamples: 16 },
    step_dpo: { beta: 0.5, evalEvery: 20, sft: { ...ARITHMETIC_STEPS_SFT }, data: { prompts: 256, samples: 8, continuations: 8 }, eval: { prompts: 128, samples: 4 } },
  }, extra) as Record<string, unknown>;
}

/**
 * EEPO (sample-then-forget, rl.eepo) on the grpo-arithmetic run: the same seed, warm start, budget and GRPO update;
 * only the rollouts differ (half of each group, one unlearning step on it, the other half from the unlearned model,
 * weights restored). docs/algorithms.md "EEPO" compares entropy and pass@k with grpo-arithmetic.
 */
export function eepoArithmeticPreset(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return rlArithmeticPreset('grpo', deepMerge({ name: 'eepo-arithmetic', rl: { miniBatches: 4, eepo: { enabled: true } } }, extra) as Record<string, unknown>);
}

/**
 * Multi-turn tool use (issue 20, docs/environments.md): sums of three numbers < 100 with a calculator tool
 * (task calc-tool: `37+48+19:` → `?37+48=85 ?85+19=104 104`), a 400-step warm start on noisy demonstration
 * trajectories (half end with a wrong total), then RL on whole episodes; tool outputs are masked out of the loss.
 * `algorithm` gigpo (episode + anchor-state step advantages), arpo (entropy-based branching after tool results; M = groupSize
 * trajectories per prompt, N = 4 of them sampled first), tree_grpo (tree-search rollouts: tree-grpo-calc) or grpo (the baseline
 * on the same episodes).
 */
export function calcToolPreset(algorithm: 'gigpo' | 'grpo' | 'arpo' | 'tree_grpo', extra: Record<string, unknown> = {}): Record<string, unknown> {
  return deepMerge({
    name: `${algorithm}-calc`, algorithm, seed: 1,
    task: { name: 'calc-tool', difficulty: 2 },
    model: { dModel: 64, nHeads: 4, nLayers: 2, contextLength: 48 },
    train: { steps: 40, lr: 0.001, lrSchedule: 'cosine', warmupSteps: 2, minLrRatio: 0.1, gradClip: 1 },
    sampling: { temperature: 1, maxNewTokens: 12 },
    eval: { every: 20, numPrompts: 32, samplesPerPrompt: 4, k: [1, 4], temperature: 1 },
    checkpoint: { every: 0 },
    rollouts: { every: 10, maxSamples: 64 },
    rl: { promptsPerStep: 16, groupSize: 8, env: { maxTurns: 4, maxTokens: 36 }, warmStart: { steps: 400, batchSize: 64, lr: 0.003, demoNoise: 0.5 } },
  }, extra) as Record<string, unknown>;
}

/**
 * Training-Free GRPO (algorithm tfgrpo, docs/algorithms.md): the environment, seed, model size and warm start of
 * gigpo-calc (calcToolPreset), then no weight update: an experience library in the prompt, updated from the groups'
 * comparisons by the built-in rules, 3 epochs over 32 training problems (batches of 8, G = 5). contextLength 64 (not
 * 48) leaves the library room: 64 − 10 (BOS + the longest problem) − 36 (rl.env.maxTokens) = 18 tokens.
 */
export function tfgrpoCalcPreset(extra: Record<string, unknown> = {}): Record<string, unknown> {
  const base = calcToolPreset('grpo');
  const rl = base.rl as { env: unknown; warmStart: unknown };
  return deepMerge({
    ...base, name: 'tfgrpo-calc', algorithm: 'tfgrpo',
    model: { ...(base.model as object), contextLength: 64 },
    rollouts: { every: 1, maxSamples: 40 },
    rl: { env: rl.env },
    tfgrpo: { trainSize: 32, batchSize: 8, groupSize: 5, epochs: 3, warmStart: rl.warmStart },
  }, extra) as Record<string, unknown>;
}

/**
 * GHPO (rl.ghpo) on arithmetic difficulty 2 (a + b, a, b < 100; answers up to 3 digits): groups that fail entirely are
 * regenerated with 25 %, then 50 %, then 75 % of the answer appended to the prompt.
 */
export function ghpoArithmeticPreset(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return rlArithmeticPreset('grpo', deepMerge({ name: 'ghpo-arithmetic', task: { difficulty: 2 }, rl: { miniBatches: 4, ghpo: { enabled: true } } }, extra) as Record<string, unknown>);
}

/**
 * The DELTA experiment (docs/algorithms.md "DELTA"): task delta-shift ("d:482=" → "593"), a warm start that only
 * ever shows copies of the digits (demoNoise 1: every demonstration is the task's `corrupt` = copy), so the base model
 * never produces the answer (pass@k = 0); then GRPO with the dense reward (share of digits right) for `denseUntil`
 * steps and the binary one after (rl.rewardSchedule). `delta-shift-binary` is the same run with the binary reward
 * throughout (the plateau control).
 */
export function deltaShiftPreset(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return deepMerge({
    name: 'delta-shift', algorithm: 'grpo', seed: 1,
    task: { name: 'delta-shift', difficulty: 1 },
    model: { dModel: 32, nHeads: 4, nLayers: 2, contextLength: 16 },
    train: { steps: 300, lr: 0.002, lrSchedule: 'constant', warmupSteps: 0, gradClip: 1 },
    sampling: { temperature: 1, maxNewTokens: 5 },
    eval: { every: 20, numPrompts: 32, samplesPerPrompt: 64, k: [1, 8, 64], temperature: 1 },
    checkpoint: { every: 0 },
    rollouts: { every: 10, maxSamples: 32 },
    rl: { promptsPerStep: 16, groupSize: 8, rewardSchedule: { denseUntil: 60 }, warmStart: { steps: 200, batchSize: 64, lr: 0.003, demoNoise: 1 } },
  }, extra) as Record<string, unknown>;
}

/**
 * Issue 19's offline methods (src/trainer/preference/offline.ts; measured results in docs/algorithms.md):
 * `tdpo-arithmetic` is dpo-arithmetic with TDPO2 (the same built-in synthetic pairs, small model from scratch);
 * `qrpo-arithmetic` and `spin-arithmetic` start from the same noisy 400-step SFT warm start as grpo-arithmetic (made in
 * the run; the reference / first opponent is the warm-started policy): QRPO regresses on quantile rewards of the
 * reference's own samples (+ the answer), SPIN plays 3 iterations of real answers vs its own generations.
 */
export function offlineArithmeticPreset(method: 'tdpo' | 'qrpo' | 'spin'): Record<string, unknown> {
  if (method === 'tdpo') return { ...preferenceArithmeticPreset('tdpo'), tdpo: { data: { count: 512, evalCount: 64 } } };
  const c = rlArithmeticPreset(method, {
    // SPIN at lr 1e-3 pushed the real answers' log-probs down with the generated ones (pass@1 40 % → 17 %); 2e-4 does not
    train: { steps: 60, batchSize: 32, lr: method === 'spin' ? 0.0002 : 0.001 },
    [method]: method === 'qrpo'
      ? { warmStartSteps: 400, warmStartDemoNoise: 0.5, refSamples: 8, trainSamples: 4, data: { count: 128, evalCount: 32 } }
      : { warmStartSteps: 400, warmStartDemoNoise: 0.5, iterations: 3, data: { count: 256 } },
  });
  delete c.rl;
  return c;
}

/** QRPO / TDPO on the pretrained stories260K (stories-word task): data made from the model's own samples, scored by the task reward. */
export function offlineStoriesPreset(method: 'tdpo' | 'qrpo'): Record<string, unknown> {
  const c = grpoStoriesPreset({
    name: `${method}-stories`, algorithm: method,
    // at lr 5e-4 both overshot on ~96-token stories: tdpo's sequential KL reached 36 nats by step 12 (26 pairs, held-out
    // loss rising), qrpo's log-ratios fell ~7 nats (held-out loss 0.04 → 0.71): more pairs and lower learning rates
    train: { steps: 12, batchSize: 16, lr: method === 'tdpo' ? 0.0002 : 0.0001 },
    eval: { every: 6 }, checkpoint: { every: 6 }, rollouts: { every: 3, maxSamples: 16 },
    [method]: method === 'qrpo'
      ? { refSamples: 8, trainSamples: 4, evalEvery: 6, tracePairs: 8, data: { count: 24, evalCount: 8 } }
      : { source: 'policy', samplesPerPrompt: 4, evalEvery: 6, tracePairs: 4, data: { count: 96, evalCount: 16 } },
  });
  delete c.rl;
  return c;
}

/**
 * GVPO on the pretrained stories260K (the grpo-stories run with algorithm gvpo): 8 prompts × 8 completions, 2 minibatches
 * of whole groups (the second is off-policy: GVPO needs no importance ratio), β 0.1 (the authors' recipe), no KL loss.
 */
export function gvpoStoriesPreset(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return grpoStoriesPreset(deepMerge({ name: 'gvpo-stories', algorithm: 'gvpo', train: { steps: 24 }, eval: { every: 6 }, checkpoint: { every: 12 }, rl: { groupSize: 8, miniBatches: 2, gvpoBeta: 0.1 } }, extra) as Record<string, unknown>);
}

/**
 * GRPO-λ on the pretrained stories260K (stories-word): reward = 0/1 "solved" (the word used and a happy ending), and
 * for the top-λ groups by accuracy the length-penalised reward (rl.grpoLambda). docs/algorithms.md "GRPO-λ" compares
 * it with plain GRPO and a length penalty on every group at the same seed and budget.
 */
export function grpoLambdaStoriesPreset(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return grpoStoriesPreset(deepMerge({ name: 'grpo-lambda-stories', algorithm: 'grpo_lambda', train: { steps: 24 }, eval: { every: 6 }, checkpoint: { every: 12 }, rl: { grpoLambda: { lambda: 0.2, penalty: 'kimi' } } }, extra) as Record<string, unknown>);
}

/**
 * A process reward model on multi-step arithmetic (task arithmetic-steps, difficulty 1), one run: a supervised warm
 * start with 30% one-slip demonstrations, then 8 samples of it on each of 512 train problems (+ the reference
 * solutions), every step labelled by the verifier, and the PRM (the warm-started trunk + a zero scalar head) trained
 * with binary cross-entropy at the step-end tokens. Held-out step accuracy and first-error accuracy in the log.
 */
export function prmArithmeticPreset(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return deepMerge({
    ...arithmeticStepsBase(),
    name: 'prm-arithmetic', algorithm: 'prm',
    train: { steps: 2000, batchSize: 64, lr: 0.001, lrSchedule: 'constant', warmupSteps: 0 },
    eval: { every: 0, numPrompts: 32, samplesPerPrompt: 4, k: [1, 4], temperature: 1 },
    rollouts: { every: 250, maxSamples: 16 },
    prm: { evalEvery: 500, sft: { ...ARITHMETIC_STEPS_SFT }, data: { prompts: 512, evalPrompts: 64, samples: 8 } },
  }, extra) as Record<string, unknown>;
}

/**
 * Process rewards in RL (docs/algorithms.md "Process rewards"): the pipeline SFT → PRM → GRPO on arithmetic-steps.
 * Stage 3 reads `reward: { type: "process" }`: each step's PRM score σ(z) on its last token, DeepSeekMath's
 * process-supervision advantages (step rewards normalised over the group, Â_t = Σ of the later steps' rewards). The
 * RL stage logs the PRM's score next to the verifier's true step accuracy and final correctness (PRM hacking).
 */
export function grpoPrmArithmeticPreset(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return deepMerge({
    ...arithmeticStepsBase(),
    name: 'grpo-prm-arithmetic', algorithm: 'pipeline',
    eval: { every: 0, numPrompts: 64, samplesPerPrompt: 4, k: [1, 4], temperature: 1 },
    rollouts: { every: 10, maxSamples: 32 },
    pipeline: {
      rewardModelAlgorithm: 'prm', rlAlgorithm: 'grpo',
      sft: { train: { steps: 300, lr: 0.003, batchSize: 64 }, sft: { demoNoise: 0.3 } },
      rewardModel: { train: { steps: 2000, batchSize: 64, lr: 0.001, lrSchedule: 'constant' }, prm: { evalEvery: 500, data: { prompts: 512, evalPrompts: 64, samples: 8 } } },
      rl: { train: { steps: 60, lr: 0.0003 }, rl: { promptsPerStep: 16, groupSize: 8 } },
    },
  }, extra) as Record<string, unknown>;
}

/**
 * PRM hacking, kept on purpose (docs/algorithms.md "Process rewards"): `grpo-prm-arithmetic` with a PRM trained 600
 * steps × 32 solutions instead of 2000 × 64. That PRM finds only ≈ 21 % of the wrong steps (held-out), and GRPO
 * against it raises the PRM's score while the verifier's true step accuracy collapses (0.70 → 0.12).
 */
export function grpoPrmHackingPreset(): Record<string, unknown> {
  return grpoPrmArithmeticPreset({ name: 'grpo-prm-arithmetic-hacking', pipeline: { rewardModel: { train: { steps: 600, batchSize: 32 }, prm: { evalEvery: 200 } } } });
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
  // seconds of the three EEPO / GHPO / DELTA Start Run presets below: measured 2026-12-06 at load average ≈ 15 (others' runs), so
  // slower than the rest of the table would show them
  { id: 'eepo-arithmetic-tiny', seconds: 24, family: 'grpo', startRun: true, label: 'EEPO · arithmetic · tiny',
    detail: 'Sample-then-forget (EEPO): half of each group, one unlearning step on those samples, the other half from the unlearned model, weights restored; then GRPO. The group view shows each sample\'s stage, the heatmap the forget loss (eepo_forget).',
    make: () => ({ ...rlTinyPreset('grpo', { eepo: { enabled: true } }), name: 'eepo-arithmetic-tiny' }) },
  { id: 'eepo-arithmetic', family: 'grpo', label: 'EEPO · arithmetic', detail: 'grpo-arithmetic with EEPO rollouts (same seed and budget): compare entropy and pass@k.', make: () => eepoArithmeticPreset() },
  { id: 'ghpo-arithmetic-tiny', seconds: 34, family: 'grpo', startRun: true, label: 'GHPO · arithmetic · tiny',
    detail: 'Guided hybrid PO (GHPO): groups that fail entirely get 25 %, 50 %, then 75 % of the answer as a hint in the prompt; the group view shows the hint.',
    make: () => ({ ...rlTinyPreset('grpo', { ghpo: { enabled: true } }), name: 'ghpo-arithmetic-tiny', task: { name: 'arithmetic', difficulty: 2 } }) },
  { id: 'ghpo-arithmetic', family: 'grpo', label: 'GHPO · arithmetic (difficulty 2)', detail: 'GRPO with GHPO hints on two-digit sums.', make: () => ghpoArithmeticPreset() },
  { id: 'delta-shift', seconds: 162, family: 'grpo', startRun: true, label: 'DELTA · dense → binary reward',
    detail: 'Can RL learn what the base never finds? The base model only copies digits (pass@k = 0); GRPO with a dense reward (share of digits right), switched to the binary one at step 60 (marked on the dashboard).',
    make: () => deltaShiftPreset() },
  { id: 'delta-shift-binary', family: 'grpo', label: 'DELTA · binary reward only (control)', detail: 'delta-shift with the binary reward from the start: the zero-reward plateau.',
    make: () => deltaShiftPreset({ name: 'delta-shift-binary', rl: { rewardSchedule: { denseUntil: null } } }) },
  { id: 'gvpo-stories', seconds: 284, family: 'grpo', startRun: true, label: 'GVPO · stories260K (pretrained)',
    detail: 'Group Variance Policy Optimization: the loss is the squared gap between the centred implicit reward β·log(π/π_old) and the centred reward, so the weights sum to zero in each group; no ratio, no clipping, off-policy minibatches. The heatmap shows the implicit reward per token.',
    make: () => gvpoStoriesPreset() },
  { id: 'gvpo-arithmetic', family: 'grpo', label: 'GVPO · arithmetic', detail: 'rlArithmeticPreset with GVPO (groups of 8, 4 whole-group minibatches).', make: () => rlArithmeticPreset('gvpo', { rl: { groupSize: 8 } }) },
  { id: 'grpo-lambda-stories', seconds: 145, family: 'grpo', startRun: true, label: 'GRPO-λ · stories260K · dynamic length penalty',
    detail: 'GRPO-λ: 0/1 reward, and a length penalty only for the top-λ (20 %) groups by accuracy, so stories get shorter where the model already succeeds without the early accuracy collapse of a penalty on every group. The group view shows which groups were penalised (length_penalised).',
    make: () => grpoLambdaStoriesPreset() },
  { id: 'grpo-lambda-arithmetic', family: 'grpo', label: 'GRPO-λ · arithmetic', detail: 'rlArithmeticPreset with GRPO-λ (answers have little length to lose: a smoke-size run).', make: () => rlArithmeticPreset('grpo_lambda') },
  { id: 'gigpo-calc', seconds: 245, family: 'grpo', startRun: true, label: 'GiGPO · calculator tool · multi-turn',
    detail: 'Group-in-Group Policy Optimization on multi-turn episodes with a calculator tool: episode-level group advantages plus step-level advantages of anchor states that recur across the group (same tool results so far). Tool outputs are environment tokens: masked out of the loss and dimmed in the heatmap; the group view lists each episode\'s turns.',
    make: () => calcToolPreset('gigpo') },
  { id: 'tfgrpo-calc', seconds: 86, family: 'grpo', startRun: true, label: 'Training-Free GRPO · calculator tool · experience library',
    detail: 'Training-Free GRPO: the weights stay frozen after the warm start; an experience library in the prompt is updated (add / delete / modify / keep) from the comparison of better and worse episodes of each group with reward variance (built-in rules stand in for the paper\'s LLM). The group view shows the library each step\'s rollouts saw; the dashboard plots tfgrpo/library_size and the eval with and without the library.',
    make: () => tfgrpoCalcPreset() },
  { id: 'arpo-calc', seconds: 260, family: 'grpo', startRun: true, label: 'ARPO · calculator tool · branching after tool calls',
    detail: 'Agentic Reinforced Policy Optimization on multi-turn episodes with a calculator tool: 4 episodes per prompt, then branches after tool results where the entropy rose (P = α + β·ΔH > τ) until 8 per prompt; GRPO advantages over the 8, shared prefixes trained in every branch (soft attribution). The group view draws each prompt\'s episodes as a tree with the entropy that triggered each branch.',
    make: () => calcToolPreset('arpo') },
  { id: 'tree-grpo-calc', seconds: 260, family: 'grpo', startRun: true, label: 'Tree-GRPO · calculator tool · tree-search rollouts',
    detail: 'Tree-based GRPO on multi-turn episodes with a calculator tool: per prompt 4 trees, each one episode plus 2 expansions that regenerate from the root or right after a tool result (shared prefixes: 12 leaves for about the token and tool-call budget of GRPO\'s 8 episodes); each leaf\'s advantage is its intra-tree plus its inter-tree group advantage. The group view draws the trees: shared prefixes once, branch points, each leaf\'s reward and both advantages.',
    make: () => calcToolPreset('tree_grpo', { name: 'tree-grpo-calc', rl: { treeGrpo: { trees: 4, expandNodes: 2, iterations: 1, leavesPerTree: null } } }) },
  { id: 'grpo-calc', family: 'grpo', label: 'GRPO · calculator tool · multi-turn', detail: 'The GRPO baseline of gigpo-calc: the same episodes, environment and budget, one advantage per episode.', make: () => calcToolPreset('grpo') },
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
  { id: 'step-dpo-arithmetic', seconds: 260, family: 'preference', startRun: true, label: 'Step-DPO · multi-step arithmetic',
    detail: 'Step-DPO: SFT warm start, step pairs built from the model\'s own samples (first wrong step vs a correct step after the same correct prefix), DPO on the step; implicit reward per token of each step in the heatmap.',
    make: () => stepDpoArithmeticPreset() },
  ...(['tdpo', 'qrpo', 'spin'] as const).map((m): PresetEntry => ({
    // whole-run wall seconds measured with the CLI on MEASURED_ON (2026-12-06, machine loaded by other jobs)
    id: `${m}-arithmetic`, family: 'preference', startRun: true, seconds: { tdpo: 9.8, qrpo: 62, spin: 47 }[m], label: `${m.toUpperCase()} · arithmetic`,
    detail: { tdpo: 'Token-level DPO (TDPO2) on the built-in synthetic pairs; the heatmap shows the per-token sequential KL (seq_kl).', qrpo: 'Quantile Reward Policy Optimization after a noisy SFT warm start: pointwise regression on quantile rewards of the reference\'s own samples.', spin: 'Self-play fine-tuning after a noisy SFT warm start: 3 iterations of real answers vs the model\'s own generations, a checkpoint per iteration.' }[m],
    make: () => offlineArithmeticPreset(m),
  })),
  ...(['tdpo', 'qrpo'] as const).map((m): PresetEntry => ({
    id: `${m}-stories`, family: 'preference', label: `${m.toUpperCase()} · stories260K (pretrained)`,
    detail: `${m.toUpperCase()} on Karpathy's stories260K with data from the model's own samples scored by the stories-word reward.`,
    make: () => offlineStoriesPreset(m),
  })),
  { id: 'prm-arithmetic', family: 'preference', label: 'Process reward model · multi-step arithmetic',
    detail: 'A PRM: SFT warm start, its samples labelled step by step by the verifier, a score per step (BCE at each step\'s last token); step_reward / step_boundary in the heatmap.',
    make: () => prmArithmeticPreset() },
  { id: 'grpo-prm-arithmetic', seconds: 1530, family: 'pipeline', startRun: true, label: 'Process rewards · SFT → PRM → GRPO',
    detail: 'GRPO with a process reward model: each step\'s score on its last token, DeepSeekMath process-supervision advantages; the PRM score is logged next to the true step accuracy (does the PRM get hacked?).',
    make: () => grpoPrmArithmeticPreset() },
  { id: 'grpo-prm-arithmetic-hacking', seconds: 674, family: 'pipeline', label: 'Process rewards · PRM hacking example',
    detail: 'grpo-prm-arithmetic with a weaker PRM (600 steps): the PRM score rises while the true step accuracy collapses; rl-lens doctor flags it.',
    make: grpoPrmHackingPreset },
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
