/**
 * Read a run directory into the doctor's input model, incrementally for live runs: metrics / eval / events are
 * followed from byte offsets (only complete lines), rollout steps are summarized once each.
 * Uses src/runio (the tolerant readers); problems (bad lines) are collected, never thrown.
 */
import * as fs from 'fs';
import * as path from 'path';
import { FILES, type EvalRecord, type InputProblem, type MetricsRecord, type TrainerEvent } from '../shared/runFormat';
import { readJsonlFrom } from '../runio/jsonl';
import { listRolloutSteps, readManifest, readRolloutStep } from '../runio/reader';
import { sampleArrays } from '../shared/rolloutStep';
import { emptyInput, type DoctorInput, type Series } from './types';
import { summarizeRolloutStep } from './summarize';

interface Follow { offset: number; line: number }

export interface LoadOptions {
  /** summarize at most this many rollout steps (the most recent ones are always kept); default 5000 */
  maxRolloutSteps?: number;
  /** ratio outlier bound used for the per-token summaries */
  ratioBound?: number;
}

function push(map: Record<string, Series>, name: string, step: number, v: unknown): void {
  const s = (map[name] ??= { steps: [], values: [] });
  s.steps.push(step);
  s.values.push(typeof v === 'number' && Number.isFinite(v) ? v : typeof v === 'string' && !Number.isNaN(Number(v)) && v.trim() !== '' ? Number(v) : NaN);
}

/** Incremental loader: call update() whenever the run may have changed; `input` is the model so far. */
export class DoctorLoader {
  readonly input: DoctorInput = emptyInput();
  readonly problems: InputProblem[] = [];
  private metrics: Follow = { offset: 0, line: 1 };
  private evals: Follow = { offset: 0, line: 1 };
  private events: Follow = { offset: 0, line: 1 };
  private rollouts = new Set<number>();

  constructor(readonly dir: string, private readonly opts: LoadOptions = {}) {}

  /** Read what was appended since the last call. Returns true when anything new was read. Throws only if the folder is not a run. */
  update(): boolean {
    const m = readManifest(this.dir);
    this.input.runId = m.id; this.input.algorithm = m.algorithm; this.input.status = m.status; this.input.config = m.config;
    if (m.source && typeof m.source === 'object') this.input.source = m.source as Record<string, unknown>;
    let changed = false;
    const mr = readJsonlFrom<MetricsRecord>(path.join(this.dir, FILES.metrics), this.metrics.offset, this.metrics.line);
    if (mr.nextOffset < this.metrics.offset) this.reset();
    this.metrics = { offset: mr.nextOffset, line: mr.nextLine };
    this.problems.push(...mr.problems);
    for (const { value: r, line } of mr.records) {
      if (!r || typeof r !== 'object' || typeof r.step !== 'number' || !r.values || typeof r.values !== 'object') {
        this.problems.push({ file: path.join(this.dir, FILES.metrics), line, message: 'expected {"step": number, "values": {...}}; line skipped' });
        continue;
      }
      const target = r.split === 'eval' ? this.input.evalMetrics : this.input.metrics;
      for (const [k, v] of Object.entries(r.values)) push(target, k, r.step, v);
      changed = true;
    }
    const er = readJsonlFrom<EvalRecord>(path.join(this.dir, FILES.eval), this.evals.offset, this.evals.line);
    this.evals = { offset: er.nextOffset, line: er.nextLine };
    this.problems.push(...er.problems);
    for (const { value: e } of er.records) {
      if (!e || typeof e.step !== 'number' || !e.passAtK || typeof e.passAtK !== 'object') continue;
      const passAtK: Record<string, number> = {};
      for (const [k, v] of Object.entries(e.passAtK)) if (typeof v === 'number' && Number.isFinite(v)) passAtK[k] = v;
      this.input.evals.push({ step: e.step, passAtK, samplesPerPrompt: e.samplesPerPrompt, numPrompts: e.numPrompts, meanReward: e.meanReward });
      changed = true;
    }
    const ev = readJsonlFrom<TrainerEvent>(path.join(this.dir, FILES.events), this.events.offset, this.events.line);
    this.events = { offset: ev.nextOffset, line: ev.nextLine };
    this.problems.push(...ev.problems);
    for (const { value: e } of ev.records) {
      if (e && e.type === 'error') { this.input.errors.push({ step: e.step, message: String(e.message ?? '') }); changed = true; }
    }
    let steps = listRolloutSteps(this.dir).filter((s) => !this.rollouts.has(s));
    const max = this.opts.maxRolloutSteps ?? 5000;
    if (this.rollouts.size + steps.length > max) steps = steps.slice(-Math.max(0, max - this.rollouts.size));
    for (const step of steps) {
      try {
        const st = readRolloutStep(this.dir, step);
        this.problems.push(...st.problems);
        const pos = new Map(st.samples.map((s, i) => [s, i]));
        const sum = summarizeRolloutStep(st.header, st.samples, (s) => sampleArrays(st, pos.get(s) ?? -1), this.opts.ratioBound);
        this.input.rollouts.push(sum);
        changed = true;
      } catch (e) {
        this.problems.push({ file: path.join(this.dir, FILES.rolloutsDir), message: `step ${step}: ${(e as Error).message}` });
      }
      this.rollouts.add(step);
    }
    if (steps.length) this.input.rollouts.sort((a, b) => a.step - b.step);
    return changed;
  }

  private reset(): void {
    const fresh = emptyInput();
    Object.assign(this.input, fresh);
    this.metrics = { offset: 0, line: 1 }; this.evals = { offset: 0, line: 1 }; this.events = { offset: 0, line: 1 };
    this.rollouts.clear();
  }
}

/** Load a whole run directory once. */
export function loadDoctorInput(dir: string, opts?: LoadOptions): { input: DoctorInput; problems: InputProblem[] } {
  if (!fs.existsSync(dir)) throw new Error(`${dir}: no such folder`);
  const l = new DoctorLoader(dir, opts);
  l.update();
  return { input: l.input, problems: l.problems };
}
