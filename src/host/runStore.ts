/**
 * Live, incremental view of run directories for the extension host (pure Node, no `vscode`).
 *
 * A RunEntry follows one run folder: its manifest (re-read only when its mtime changes), its metrics
 * (metrics.jsonl followed from a byte offset with readJsonlFrom: appended lines only, never the whole file
 * again), its complete rollout steps and checkpoints (directory listings). `refresh()` says what changed so
 * the tree fires change events only for the nodes that need it. Rollout step files are immutable once
 * visible (renamed in atomically), so parsed steps are cached (LRU).
 */
import * as fs from 'fs';
import * as path from 'path';
import { FILES, stepFileBase, type InputProblem, type MetricsRecord, type RolloutStepHeader, type RunManifest, type EvalRecord } from '../shared/runFormat';
import type { StepInfo } from '../shared/protocol';
import { readJsonlFrom } from '../runio/jsonl';
import { readMetricsCache } from '../runio/metricsCache';
import { SeriesStore, type StoreColumns } from '../shared/seriesStore';
import { listCheckpoints, listRolloutSteps, readRolloutStepHeader, readRolloutStepIndex, type CheckpointEntry, type RolloutStepRead } from '../runio/reader';

export interface RunChanges { manifest: boolean; metrics: boolean; steps: boolean; checkpoints: boolean; any: boolean }

export interface FollowState { offset: number; line: number }

/** The metrics the Runs tree shows per step (headline.ts's keys, kl, zero-std fraction: runsTreeModel.ts step rows) and per checkpoint (pass@1). */
const STEP_KEYS = ['reward/mean', 'rewards/margins', 'rm/accuracy', 'loss', 'kl', 'frac_reward_zero_std', 'eval/pass@1', 'pass@1'];
function stepFields(values: Record<string, number | null>): Record<string, number | null> {
  const out: Record<string, number | null> = {};
  for (const k of STEP_KEYS) if (k in values) out[k] = values[k];
  return out;
}

export class RunEntry {
  readonly dir: string;
  manifest: RunManifest | undefined;
  manifestError: string | undefined;
  private manifestMtime = -1;
  /** train metrics per step, only the fields the tree shows per step (STEP_KEYS; eval-split lines go to evalMetrics):
   *  a 100k-step run's every record is not kept in the extension host (issue 18); latestMetrics has the last step's all */
  readonly metrics = new Map<number, Record<string, number | null>>();
  private lastFull: { step: number; values: Record<string, number | null> } | undefined;
  readonly evalMetrics = new Map<number, Record<string, number | null>>();
  readonly evals = new Map<number, EvalRecord>();
  lastStep: number | undefined;
  readonly problems: InputProblem[] = [];
  private readonly follow: Record<'metrics' | 'eval', FollowState> = { metrics: { offset: 0, line: 1 }, eval: { offset: 0, line: 1 } };
  steps: number[] = [];
  checkpoints: CheckpointEntry[] = [];
  private stepsSig = '';
  private ckptSig = '';
  /** bytes read from metrics/eval files so far (for tests: proves we never re-read) */
  bytesRead = 0;
  /** last time (ms since epoch) the run's files changed, as far as we know (file mtimes at first sight) */
  lastActivity = 0;

  constructor(dir: string) { this.dir = path.resolve(dir); }

  get status(): string { return this.manifest?.status ?? (this.manifestError ? 'invalid' : 'unknown'); }
  /** a run whose manifest says "running" but whose files have not changed for `ms` (its trainer is probably gone) */
  isStale(now: number, ms = 10 * 60_000): boolean {
    return this.status === 'running' && this.lastActivity > 0 && now - this.lastActivity > ms;
  }
  get latestMetrics(): Record<string, number | null> | undefined {
    if (this.lastStep === undefined) return undefined;
    return this.lastFull?.step === this.lastStep ? this.lastFull.values : this.metrics.get(this.lastStep);
  }

  refresh(): RunChanges {
    const ch: RunChanges = { manifest: false, metrics: false, steps: false, checkpoints: false, any: false };
    // manifest: re-read only when it changed
    const mf = path.join(this.dir, FILES.manifest);
    let mtime = -2;
    try { mtime = fs.statSync(mf).mtimeMs; } catch { /* missing */ }
    if (mtime !== this.manifestMtime) {
      this.manifestMtime = mtime;
      ch.manifest = true;
      if (mtime === -2) { this.manifest = undefined; this.manifestError = `${mf}: missing (not an RL Lens run folder)`; } else {
        try { this.manifest = JSON.parse(fs.readFileSync(mf, 'utf8')) as RunManifest; this.manifestError = undefined; } catch (e) {
          this.manifestError = `${mf}: ${(e as Error).message}`; // e.g. a manifest written by hand mid-edit
        }
      }
    }
    // first read: from the metrics columns cache the run's writer kept (a 100k-step run's 130 MB of JSON never parsed
    // at activation), then the lines after it
    if (this.follow.metrics.offset === 0 && this.follow.eval.offset === 0 && this.seed()) ch.metrics = true;
    // metrics + eval: appended lines only, metrics.jsonl in slices of 4 MB (a 100k-step run's 130 MB are never one
    // string plus every parsed record at once: issue 18, host memory)
    for (let more = true; more;) {
      const mr = readJsonlFrom<MetricsRecord>(path.join(this.dir, FILES.metrics), this.follow.metrics.offset, this.follow.metrics.line, 4 << 20);
      more = !!mr.more;
      this.bytesRead += mr.nextOffset - this.follow.metrics.offset;
      if (mr.nextOffset < this.follow.metrics.offset) { this.metrics.clear(); this.evalMetrics.clear(); this.lastFull = undefined; } // file replaced
      this.follow.metrics = { offset: mr.nextOffset, line: mr.nextLine };
      this.problems.push(...mr.problems);
      for (const { value: r } of mr.records) {
        if (typeof r?.step !== 'number' || typeof r.values !== 'object' || r.values === null) continue;
        const target = r.split === 'eval' ? this.evalMetrics : this.metrics;
        target.set(r.step, { ...(target.get(r.step) ?? {}), ...stepFields(r.values) });
        if (r.split !== 'eval' && (this.lastStep === undefined || r.step >= this.lastStep)) {
          this.lastStep = r.step;
          this.lastFull = { step: r.step, values: { ...(this.lastFull?.step === r.step ? this.lastFull.values : {}), ...r.values } };
        }
        ch.metrics = true;
      }
    }
    const er = readJsonlFrom<EvalRecord>(path.join(this.dir, FILES.eval), this.follow.eval.offset, this.follow.eval.line);
    this.bytesRead += Math.max(0, er.nextOffset - this.follow.eval.offset);
    this.follow.eval = { offset: er.nextOffset, line: er.nextLine };
    this.problems.push(...er.problems);
    for (const { value: r } of er.records) { if (typeof r?.step === 'number') { this.evals.set(r.step, r); ch.metrics = true; } }
    if (this.problems.length > 200) this.problems.splice(0, this.problems.length - 200);
    // rollout steps and checkpoints: listings
    const steps = listRolloutSteps(this.dir);
    const sig = steps.join(',');
    if (sig !== this.stepsSig) { this.stepsSig = sig; this.steps = steps; ch.steps = true; }
    const ck = listCheckpoints(this.dir);
    const csig = ck.map((c) => `${c.name}:${c.meta?.step ?? ''}:${c.meta?.eval ? 1 : 0}`).join(',');
    if (csig !== this.ckptSig) { this.ckptSig = csig; this.checkpoints = ck; ch.checkpoints = true; }
    ch.any = ch.manifest || ch.metrics || ch.steps || ch.checkpoints;
    if (ch.any) {
      let latest = mtime > 0 ? mtime : 0;
      try { latest = Math.max(latest, fs.statSync(path.join(this.dir, FILES.metrics)).mtimeMs); } catch { /* none */ }
      try { latest = Math.max(latest, fs.statSync(path.join(this.dir, FILES.events)).mtimeMs); } catch { /* none */ }
      this.lastActivity = Math.max(this.lastActivity, latest);
    }
    return ch;
  }

  /**
   * What the tree keeps of the lines the run's writer covered in its metrics columns cache (runio/metricsCache.ts), read
   * from the cache instead of the JSON: per train step the STEP_KEYS fields, the last train step's every metric, and
   * eval pass@1 per step (from eval.jsonl and eval-split lines alike: what passAt1 looks up). Only a writer's cache (its
   * lines are whole JSON, none skipped, so no problem to report is lost); false when there is none or it is stale.
   */
  private seed(): boolean {
    const c = readMetricsCache(this.dir);
    if (!c || c.source !== 'writer') return false;
    this.seedFrom(c.columns);
    this.follow.metrics = { offset: c.metrics.offset, line: c.metrics.line };
    this.follow.eval = { offset: c.eval.offset, line: c.eval.line };
    return true;
  }

  private seedFrom(columns: StoreColumns): void {
    const st = SeriesStore.fromColumns(columns);
    let last = -Infinity;
    // train series: every name not under eval/ (eval-split lines and eval.jsonl are under eval/ in the columns)
    const train = [...st.series.values()].filter((s) => !s.name.startsWith('eval/') && s.steps.length);
    for (const s of train) last = Math.max(last, s.steps.get(s.steps.length - 1));
    for (const s of train) {
      if (!STEP_KEYS.includes(s.name)) continue;
      const steps = s.steps.view(), values = s.values.view();
      for (let i = 0; i < steps.length; i++) {
        const m = this.metrics.get(steps[i]);
        if (m) m[s.name] = values[i]; else this.metrics.set(steps[i], { [s.name]: values[i] });
      }
    }
    const p1 = st.series.get('eval/pass@1');
    if (p1) for (let i = 0; i < p1.steps.length; i++) { const st1 = p1.steps.get(i), m = this.evalMetrics.get(st1); if (m) m['eval/pass@1'] = p1.values.get(i); else this.evalMetrics.set(st1, { 'eval/pass@1': p1.values.get(i) }); }
    if (Number.isFinite(last)) {
      this.lastStep = last;
      const values: Record<string, number | null> = {};
      for (const s of train) if (s.steps.get(s.steps.length - 1) === last) values[s.name] = s.values.get(s.values.length - 1);
      this.lastFull = { step: last, values };
    }
  }

  /** pass@1 at a checkpoint: the eval at exactly its step (eval.jsonl / eval metrics), else the checkpoint's own meta
   *  (which may carry the previous eval when the checkpoint was written before that step's eval) */
  passAt1(c: CheckpointEntry): number | undefined {
    const step = c.meta?.step;
    if (step !== undefined) {
      const e = this.evals.get(step)?.passAtK?.['1'];
      if (typeof e === 'number') return e;
      const ev = this.evalMetrics.get(step);
      const em = ev?.['eval/pass@1'] ?? ev?.['pass@1'] ?? this.metrics.get(step)?.['eval/pass@1'];
      if (typeof em === 'number') return em;
    }
    const v = c.meta?.eval?.passAtK?.['1'];
    return typeof v === 'number' ? v : undefined;
  }
}

/** A step as the tree needs it: the stored shape without its per-token block (the tree never reads the block). */
export type CachedStep = Omit<RolloutStepRead, 'data'>;

/** What a step's header says (per-token traces or text only, the counts): the tree's step rows, the webview's step picker. */
export function stepInfoOf(h: Pick<RolloutStepHeader, 'step' | 'arrays' | 'numSamples' | 'groups' | 'subsampled' | 'totalGroups' | 'totalSamples'>): StepInfo {
  const info: StepInfo = { step: h.step, traced: Array.isArray(h.arrays) && h.arrays.length > 0, samples: h.numSamples ?? 0, groups: h.groups?.length ?? 0 };
  if (h.subsampled) info.subsampled = true;
  if (typeof h.totalGroups === 'number') info.totalGroups = h.totalGroups;
  if (typeof h.totalSamples === 'number') info.totalSamples = h.totalSamples;
  return info;
}

const stepInfoCache = new Map<string, { stamp: string; info: StepInfo }>();

/**
 * A step's StepInfo from its header line (only the first line is read), cached per step file by size and mtime: step
 * files are immutable once visible, and the stamp catches a run folder deleted and written again. Throws when the
 * header cannot be read.
 */
export function readStepInfo(dir: string, step: number): StepInfo {
  const file = path.join(path.resolve(dir), FILES.rolloutsDir, `${stepFileBase(step)}.jsonl`);
  const st = fs.statSync(file);
  const stamp = `${st.size}:${st.mtimeMs}`;
  const hit = stepInfoCache.get(file);
  if (hit?.stamp === stamp) return hit.info;
  const info = stepInfoOf(readRolloutStepHeader(dir, step));
  if (stepInfoCache.size >= 50_000) stepInfoCache.clear();
  stepInfoCache.set(file, { stamp, info });
  return info;
}

/** All runs the extension knows, keyed by absolute folder, with an LRU cache of parsed rollout steps. */
export class RunStore {
  private readonly runs = new Map<string, RunEntry>();
  private readonly stepCache = new Map<string, CachedStep>();
  constructor(private readonly maxCachedSteps = 16) {}

  get(dir: string): RunEntry {
    const key = path.resolve(dir);
    let r = this.runs.get(key);
    if (!r) { r = new RunEntry(key); r.refresh(); this.runs.set(key, r); }
    return r;
  }
  peek(dir: string): RunEntry | undefined { return this.runs.get(path.resolve(dir)); }
  delete(dir: string): void {
    const key = path.resolve(dir);
    this.runs.delete(key);
    for (const k of [...this.stepCache.keys()]) if (k.startsWith(key + '\0')) this.stepCache.delete(k);
  }
  all(): RunEntry[] { return [...this.runs.values()]; }

  /** A step's header line, summarised (readStepInfo: cached, only the first line is read). */
  stepHeader(dir: string, step: number): StepInfo {
    return readStepInfo(dir, step);
  }

  step(dir: string, step: number): CachedStep {
    const key = `${path.resolve(dir)}\0${step}`;
    const hit = this.stepCache.get(key);
    if (hit) { this.stepCache.delete(key); this.stepCache.set(key, hit); return hit; }
    const s = readRolloutStepIndex(dir, step);
    this.stepCache.set(key, s);
    while (this.stepCache.size > this.maxCachedSteps) this.stepCache.delete(this.stepCache.keys().next().value as string);
    return s;
  }
}

/**
 * Find runs under a folder: the folder itself if it is a run, else its immediate subfolders that hold a
 * manifest.json. Stage runs of a pipeline (manifest.parent set, or listed in a parent's `stages`) are
 * returned too; the tree nests them under their parent.
 */
export function discoverRuns(folder: string): string[] {
  const root = path.resolve(folder);
  if (fs.existsSync(path.join(root, FILES.manifest))) return [root];
  let names: fs.Dirent[];
  try { names = fs.readdirSync(root, { withFileTypes: true }); } catch { return []; }
  return names
    .filter((d) => d.isDirectory() && !d.name.startsWith('.') && fs.existsSync(path.join(root, d.name, FILES.manifest)))
    .map((d) => path.join(root, d.name))
    .sort();
}

/** Resolve a pipeline's stage paths (relative to the parent run folder) to absolute folders. */
export function stageDirs(parentDir: string, m: RunManifest | undefined): { name: string; dir: string; algorithm: string }[] {
  return (m?.stages ?? []).map((s) => ({ name: s.name, dir: path.resolve(parentDir, s.path), algorithm: s.algorithm }));
}
