/**
 * Which checkpoint is "the previous one" of a checkpoint, and whether two checkpoints hold the same weights: one rule
 * for the checkpoint report (host/checkpointDiff: compare with previous) and the token comparison (host/tokenDiff,
 * `rl-lens diff-tokens`). A run can write the same step twice (`step_00000012` and its `step_00000012_final` alias,
 * byte-identical weights): the previous checkpoint is the latest one with a smaller step, and comparing a checkpoint
 * with an identical copy is refused (it would show an all-zero comparison). No vscode, no tfjs.
 */
import * as fs from 'fs';
import * as path from 'path';
import { FILES, type CheckpointMeta } from '../shared/runFormat';

export interface StepEntry { dir: string; meta?: Pick<CheckpointMeta, 'step'> & { tag?: string } }

/** The latest checkpoint of `list` whose step is smaller than that of `dir` (same-step aliases skipped); undefined if none. */
export function previousCheckpoint<T extends StepEntry>(list: readonly T[], dir: string): T | undefined {
  const me = list.find((c) => path.resolve(c.dir) === path.resolve(dir));
  const step = me?.meta?.step ?? readCheckpointStep(dir);
  if (step === undefined) return undefined;
  let best: T | undefined;
  for (const c of list) {
    const s = c.meta?.step;
    if (typeof s !== 'number' || s >= step) continue;
    if (!best || s >= (best.meta!.step as number)) best = c;
  }
  return best;
}

/** The `step` of a checkpoint directory's checkpoint.json; undefined when unreadable or not a number. */
export function readCheckpointStep(dir: string): number | undefined {
  try { const m = JSON.parse(fs.readFileSync(path.join(dir, FILES.checkpointMeta), 'utf8')) as { step?: unknown }; return typeof m.step === 'number' ? m.step : undefined; } catch { return undefined; }
}

function weightFiles(dir: string): string[] {
  try { return fs.readdirSync(dir).filter((f) => f.endsWith('.safetensors')).sort(); } catch { return []; }
}

function sameBytes(a: string, b: string): boolean {
  const fa = fs.openSync(a, 'r'), fb = fs.openSync(b, 'r');
  try {
    const n = 1 << 20, ba = Buffer.alloc(n), bb = Buffer.alloc(n);
    for (;;) {
      const ra = fs.readSync(fa, ba, 0, n, null), rb = fs.readSync(fb, bb, 0, n, null);
      if (ra !== rb) return false;
      if (ra === 0) return true;
      if (!ba.subarray(0, ra).equals(bb.subarray(0, rb))) return false;
    }
  } finally { fs.closeSync(fa); fs.closeSync(fb); }
}

/**
 * Why two checkpoint folders hold the same model, or undefined when they differ: the same folder, the same step of
 * one run (an alias such as `…_final`), or byte-identical weight files (`*.safetensors`: same names, sizes, bytes).
 */
export function identicalCheckpoints(dirA: string, dirB: string): string | undefined {
  const a = path.resolve(dirA), b = path.resolve(dirB);
  if (a === b) return 'A and B are the same checkpoint';
  const sa = readCheckpointStep(a), sb = readCheckpointStep(b);
  const sameRun = path.dirname(path.dirname(a)) === path.dirname(path.dirname(b));
  if (sameRun && sa !== undefined && sa === sb) return `A ${path.basename(a)} and B ${path.basename(b)} are the same step (${sa}) of one run: the same weights, nothing to compare`;
  const wa = weightFiles(a), wb = weightFiles(b);
  if (!wa.length || wa.join('\n') !== wb.join('\n')) return undefined;
  try {
    for (const f of wa) if (fs.statSync(path.join(a, f)).size !== fs.statSync(path.join(b, f)).size) return undefined;
    for (const f of wa) if (!sameBytes(path.join(a, f), path.join(b, f))) return undefined;
  } catch { return undefined; }
  return `A ${path.basename(a)} and B ${path.basename(b)} have byte-identical weights (${wa.join(', ')}): nothing to compare`;
}

/**
 * What the reference of a checkpoint (CheckpointDiff.referenceOf) is, for a picker's label: "SFT warm start" (a
 * checkpoint of the run tagged sft), "First checkpoint (step n)" (the run's first, referenceOf's fallback), "Init
 * checkpoint" (config.init.checkpoint, outside the run), else "Reference". `list`: the run's checkpoints by step.
 */
export function referenceLabel(ref: string, list: readonly StepEntry[]): string {
  const inRun = list.find((c) => path.resolve(c.dir) === path.resolve(ref));
  if (!inRun) return 'Init checkpoint';
  if (inRun.meta?.tag === 'sft') return 'SFT warm start';
  if (list[0] && path.resolve(list[0].dir) === path.resolve(ref)) return `First checkpoint (step ${inRun.meta?.step})`;
  return 'Reference';
}
