/**
 * Checkpoint report computation (trainer world: loads tfjs models). Used by `rl-lens report` (src/cli/report.ts).
 *
 *  - weights: per-tensor statistics and relative change vs a base checkpoint (stats.ts);
 *  - generations: greedy decoding (temperature 0, fixed seed) of the task's FIXED eval set (task.evalSet(n), the same
 *    prompts for every run of the task/difficulty), so two checkpoints line up prompt by prompt;
 *  - pass@k: n samples per prompt at the eval temperature with a fixed seed, k = 1, 2, 4, … n, unbiased estimator
 *    1 − C(n−c,k)/C(n,k) of Chen et al. 2021 (`passAtK` in shared/passAtK.ts, the one every eval uses);
 *  - cache: `<checkpoint>/report.json` (src/report/cache.ts): per-checkpoint evals and whole reports.
 */
import * as fs from 'fs';
import * as path from 'path';
import { FILES, type CheckpointMeta } from '../../shared/runFormat';
import { checkpointWeightsFile, isRunDir, readManifest, readMetrics } from '../../runio/reader';
import { REPORT_VERSION, type CheckpointEval, type CheckpointReport, type GenerationRow, type ReportSettings } from '../../report/types';
import { kValues } from '../../report/render';
import { evalKey, getCachedEval, getCachedReport, putCached, reportKey } from '../../report/cache';
import { readSafetensorsViews, tensorTable } from './stats';
import { loadCheckpoint, readCheckpointMeta } from '../checkpoint';
import { generate } from '../sampling';
import { passAtK } from '../../shared/passAtK';
import { Rng } from '../rng';
import { createTask, isSolved, type Task } from '../tasks';
import type { CausalLM } from '../model/types';
import { specialIds } from '../rl/rollout';
import type { RlTokenizer } from '../rl/types';

export interface ReportOptions {
  base?: string;
  settings: ReportSettings;
  /** ignore and overwrite the cache */
  noCache?: boolean;
  progress?: (message: string) => void;
}

/** The run folder that holds a checkpoint (…/run/checkpoints/<name>), if it is one. */
export function runDirOfCheckpoint(dir: string): string | undefined {
  const parent = path.dirname(dir);
  if (path.basename(parent) !== FILES.checkpointsDir) return undefined;
  const run = path.dirname(parent);
  return isRunDir(run) ? run : undefined;
}

function taskOf(meta: CheckpointMeta): { task: Task; describe: string } {
  const t = (meta.config.task ?? {}) as { name?: string; difficulty?: number; rewardModule?: string };
  if (!t.name) throw new Error('checkpoint.json config.task.name is missing: cannot rebuild the eval prompts (use --no-generations for a weights-only report)');
  const task = createTask(t.name, t as never);
  const notes: string[] = [];
  if (t.rewardModule) notes.push(`the run's reward module ${t.rewardModule} is not re-run here: built-in rule reward`);
  else if (meta.config.reward) notes.push('the run used a learned reward: generations are scored with the rule reward');
  else notes.push('rule reward');
  return { task, describe: `${t.name} (difficulty ${t.difficulty ?? 1}), ${notes.join('; ')}` };
}

function describeTask(meta: CheckpointMeta): string {
  try { return taskOf(meta).describe; } catch (e) { return `unknown (${(e as Error).message})`; }
}

function maxNewTokens(meta: CheckpointMeta): number {
  const d = (meta.config.derived ?? {}) as { maxNewTokens?: number };
  const s = (meta.config.sampling ?? {}) as { maxNewTokens?: number };
  return d.maxNewTokens ?? s.maxNewTokens ?? 8;
}

/** Greedy generations + pass@k of one checkpoint (see the file header). */
export function evaluateCheckpoint(model: CausalLM, tokenizer: RlTokenizer, task: Task, newTokens: number, s: ReportSettings): CheckpointEval {
  // the fixed eval set; small tasks repeat prompts to fill n: keep each prompt once (pass@k per distinct prompt)
  const seen = new Set<string>();
  const examples = task.evalSet(s.numPrompts).filter((ex) => (seen.has(ex.prompt) ? false : (seen.add(ex.prompt), true)));
  const prompts = examples.map((ex) => tokenizer.encode(ex.prompt, { bos: true }));
  const items: GenerationRow[] = [];
  if (s.generations && examples.length) {
    const g = generate(model, prompts, { maxNewTokens: newTokens, temperature: 0, seed: s.seed, ...specialIds(tokenizer) });
    examples.forEach((ex, i) => {
      const completion = tokenizer.decode(g.tokens[i]);
      const r = task.reward(ex, completion, g.finished[i]);
      items.push({ index: i, prompt: ex.prompt, answer: ex.answer, completion, finished: g.finished[i], reward: r.score, parts: r.parts, correct: isSolved(task, ex, completion, g.finished[i]) });
    });
  }
  const ks = s.generations ? kValues(s.samples) : [];
  const correct = new Array(examples.length).fill(0);
  if (ks.length && examples.length) {
    const rng = new Rng(s.seed);
    const rows: number[] = [];
    examples.forEach((_, i) => { for (let j = 0; j < s.samples; j++) rows.push(i); });
    const chunk = 512;
    for (let a = 0; a < rows.length; a += chunk) {
      const part = rows.slice(a, a + chunk);
      const g = generate(model, part.map((i) => prompts[i]), { maxNewTokens: newTokens, temperature: s.temperature, rng, ...specialIds(tokenizer) });
      part.forEach((i, j) => { if (isSolved(task, examples[i], tokenizer.decode(g.tokens[j]), g.finished[j])) correct[i]++; });
    }
  }
  const values = ks.map((k) => correct.reduce((acc, c) => acc + passAtK(s.samples, c, k), 0) / Math.max(1, examples.length));
  return {
    generations: { greedy: true, seed: s.seed, maxNewTokens: newTokens, numPrompts: examples.length, items },
    passAtK: { samples: s.samples, numPrompts: examples.length, temperature: s.temperature, seed: s.seed, k: ks, values, correctPerPrompt: correct },
  };
}

function evalOf(dir: string, meta: CheckpointMeta, o: ReportOptions, timings: Record<string, number>, label: string): CheckpointEval {
  if (!o.settings.generations) {
    const s = o.settings;
    return { generations: { greedy: true, seed: s.seed, maxNewTokens: maxNewTokens(meta), numPrompts: 0, items: [] }, passAtK: { samples: s.samples, numPrompts: 0, temperature: s.temperature, seed: s.seed, k: [], values: [], correctPerPrompt: [] } };
  }
  const key = evalKey(dir, o.settings);
  const cached = o.noCache ? undefined : getCachedEval(dir, key);
  if (cached) { timings[`${label}EvalCachedMs`] = 0; return cached; }
  const t0 = Date.now();
  o.progress?.(`generating with ${path.basename(dir)} (${o.settings.numPrompts} prompts greedy + ${o.settings.numPrompts}×${o.settings.samples} samples)`);
  const { task } = taskOf(meta);
  const { model, tokenizer } = loadCheckpoint(dir, { trainable: false });
  try {
    const ev = evaluateCheckpoint(model, tokenizer, task, maxNewTokens(meta), o.settings);
    putCached(dir, { eval: { key, value: ev } });
    return ev;
  } finally {
    model.dispose();
    timings[`${label}EvalMs`] = Date.now() - t0;
  }
}

function metricsAt(dir: string, meta: CheckpointMeta, runDir: string | undefined): Record<string, number | null> {
  const out: Record<string, number | null> = { ...(meta.metrics ?? {}) };
  if (runDir) {
    try {
      for (const r of readMetrics(runDir)) if (r.step === meta.step) Object.assign(out, r.values);
    } catch { /* the checkpoint's own metrics are enough */ }
  }
  return out;
}

/** Compute (or fetch from the cache) the report of `dir` against `o.base`. */
export function computeReport(dir: string, o: ReportOptions): CheckpointReport {
  dir = path.resolve(dir);
  const baseDir = o.base ? path.resolve(o.base) : undefined;
  const key = reportKey(dir, baseDir, o.settings);
  if (!o.noCache) {
    const hit = getCachedReport(dir, key);
    if (hit) return hit;
  }
  const timings: Record<string, number> = {};
  const meta = readCheckpointMeta(dir);
  const baseMeta = baseDir ? readCheckpointMeta(baseDir) : undefined;
  const runDir = runDirOfCheckpoint(dir);
  let runName: string | undefined;
  if (runDir) { try { const m = readManifest(runDir); runName = m.name ?? m.id; } catch { /* no name */ } }

  let t0 = Date.now();
  o.progress?.(`reading weights of ${path.basename(dir)}${baseDir ? ` and ${path.basename(baseDir)}` : ''}`);
  // a LoRA checkpoint has its adapters (adapter_model.safetensors) instead of the full weights: the table is theirs
  const views = readSafetensorsViews(checkpointWeightsFile(dir));
  const baseViews = baseDir ? (baseDir === dir ? views : readSafetensorsViews(checkpointWeightsFile(baseDir))) : undefined;
  timings.readMs = Date.now() - t0;
  t0 = Date.now();
  const rows = tensorTable(views, baseViews);
  timings.statsMs = Date.now() - t0;

  const ev = evalOf(dir, meta, o, timings, 'this');
  const baseEval = baseDir && baseMeta ? (baseDir === dir ? ev : evalOf(baseDir, baseMeta, o, timings, 'base')) : undefined;

  const report: CheckpointReport = {
    version: REPORT_VERSION,
    key,
    checkpoint: { dir, name: path.basename(dir), step: meta.step, tag: meta.tag, runDir, runName, algorithm: meta.algorithm, time: meta.time },
    base: baseDir && baseMeta ? { dir: baseDir, name: path.basename(baseDir), step: baseMeta.step, tag: baseMeta.tag } : undefined,
    task: describeTask(meta),
    config: meta.config,
    metrics: metricsAt(dir, meta, runDir),
    trainerEval: meta.eval,
    tensors: { count: rows.length, totalParams: rows.reduce((s, r) => s + r.params, 0), rows },
    eval: ev,
    baseEval,
    settings: o.settings,
    timings,
  };
  putCached(dir, { report });
  return report;
}

/** Whether a path is a checkpoint folder (has checkpoint.json). */
export function isCheckpointDir(dir: string): boolean {
  return fs.existsSync(path.join(dir, FILES.checkpointMeta));
}
