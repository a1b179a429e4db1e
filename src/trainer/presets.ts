/**
 * Built-in presets (`rl-lens train --preset NAME`): the table, the two SFT presets every build has, and
 * `registerPreset`, which the algorithm plug-ins call when they are loaded (rl/register.ts, preference/index.ts).
 * Imports no plug-in, so the plug-ins can import it without an import cycle.
 */
import { deepMerge } from '../shared/deepMerge';

/** The built-in default: a real SFT run on arithmetic that finishes in a few minutes on 2 cores (wasm) and visibly learns. */
export function defaultPreset(): Record<string, unknown> {
  return {
    name: 'default-sft-arithmetic',
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

export const PRESETS: Record<string, () => Record<string, unknown>> = {
  default: defaultPreset,
  /** a few seconds: for tests and smoke checks */
  tiny: () => deepMerge(defaultPreset(), { name: 'tiny-sft', task: { difficulty: 1 }, model: { dModel: 32, nLayers: 1 }, train: { steps: 20, batchSize: 16 }, eval: { every: 10, numPrompts: 8, samplesPerPrompt: 4, k: [1, 4] }, checkpoint: { every: 10 }, rollouts: { every: 5, maxSamples: 8 } }) as Record<string, unknown>,
};

/** Add (or replace) a preset; plug-ins call it at load time. */
export function registerPreset(name: string, make: () => Record<string, unknown>): void {
  PRESETS[name] = make;
}
