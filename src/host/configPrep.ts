/**
 * Preparing a run config before the trainer sees it (pure: no `vscode`): JSONC parsing, overrides, the
 * trace-retention setting, and relative paths made absolute when the config is copied next to the run.
 */
import * as path from 'path';
import { stripJsonComments } from './trainerProcess';

/** the one deep merge (shared with the trainer's config); re-exported for commands.ts */
export { deepMerge } from '../shared/deepMerge';

export function parseConfigText(text: string, file: string): Record<string, unknown> {
  let v: unknown;
  try { v = JSON.parse(stripJsonComments(text)); } catch (e) {
    throw new Error(`${file}: not valid JSON(C): ${(e as Error).message}. Fix the syntax (the editor underlines it) and start again.`);
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error(`${file}: a config must be a JSON object ({ "algorithm": ..., ... })`);
  return v as Record<string, unknown>;
}

/**
 * The rlLens.traceRetention setting (full per-token traces every N steps; 0 = as the config says) applied to a
 * config that does not set `rollouts.every` itself. Every algorithm reads the one `rollouts` section
 * (RolloutRetention, src/shared/rolloutStep.ts). Returns the changed copy, or undefined when nothing changes.
 */
export function applyTraceRetention(config: Record<string, unknown>, every: number): Record<string, unknown> | undefined {
  if (!(every > 0)) return undefined;
  const obj = (v: unknown): Record<string, unknown> => (v && typeof v === 'object' && !Array.isArray(v) ? v as Record<string, unknown> : {});
  const r = obj(config.rollouts);
  if (r.every !== undefined) return undefined;
  return { ...config, rollouts: { ...r, every } };
}

export function isStrictJson(text: string): boolean {
  try { JSON.parse(text); return true; } catch { return false; }
}

/** Config fields that hold paths (resolved against the config file's folder by the trainer). */
const PATH_KEYS = /^(rewardModule|module|checkpoint|path|file|dir|data|dataset|preferences|[a-z]+(Path|File|Dir|Checkpoint))$/;

/** Copy of a config with relative path fields made absolute against `base` (for a copy written elsewhere). */
export function absolutizePaths(config: Record<string, unknown>, base: string): Record<string, unknown> {
  const walk = (v: unknown, key: string): unknown => {
    if (Array.isArray(v)) return v.map((x) => walk(x, key));
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, walk(x, k)]));
    if (typeof v === 'string' && PATH_KEYS.test(key) && /[\\/.]/.test(v) && !path.isAbsolute(v) && !/^[a-z]+:/i.test(v)) return path.resolve(base, v);
    return v;
  };
  return walk(config, '') as Record<string, unknown>;
}

