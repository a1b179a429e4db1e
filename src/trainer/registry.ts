/**
 * Algorithm registry: the plug-in point for training algorithms (sft here; RL algorithms in ./algorithms or ./rl,
 * preference methods in ./preference). See src/trainer/README.md "Plug-in interface".
 *
 * Plug-ins register themselves when their module is loaded (registerAlgorithm, registerConfigSection; presets:
 * presets.ts registerPreset). Only entry points load them, by importing ./plugins: the CLI (src/cli/main.ts), the
 * benchmark (bench.ts), schemaGen.ts and tests. config.ts and engine.ts never import a plug-in.
 *
 * This module has no imports of algorithm code (so algorithm modules can import it without cycles).
 */
import type { AlgorithmModule, ConfigSectionModule } from './context';

export type { AlgorithmModule, ConfigSectionModule } from './context';

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

const sections = new Map<string, ConfigSectionModule>();

/** Add a top-level config section owned by a plug-in (e.g. `reward`); see ConfigSectionModule. */
export function registerConfigSection(s: ConfigSectionModule): void {
  sections.set(s.name, s);
}

export function listConfigSections(): ConfigSectionModule[] {
  return [...sections.values()];
}
