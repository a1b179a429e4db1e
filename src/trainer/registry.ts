/**
 * Algorithm registry: the plug-in point for training algorithms (sft here; RL algorithms in ./algorithms or ./rl,
 * preference methods in ./preference). See src/trainer/README.md "Plug-in interface".
 *
 * This module has no imports of algorithm code (so algorithm modules can import it without cycles).
 */
import type { TrainContext } from './engine';

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

const registry = new Map<string, AlgorithmModule>();

export function registerAlgorithm(m: AlgorithmModule): void {
  registry.set(m.name, m);
}

export function getAlgorithm(name: string): AlgorithmModule | undefined {
  return registry.get(name);
}

export function listAlgorithms(): AlgorithmModule[] {
  return [...registry.values()];
}

export function sectionOf(m: AlgorithmModule): string {
  return m.section ?? m.name;
}
