/**
 * Read a run directory into the doctor's input model, incrementally for live runs: metrics / eval / events are
 * followed from byte offsets (only complete lines), rollout steps are summarized once each.
 * Uses src/runio (the tolerant readers); problems (bad lines) are collected, never thrown.
 */
import * as fs from 'fs';
import * as path from 'path';
import { FILES, type EvalRecord, type InputProblem, type MetricsRecord, type TrainerEvent } from '../shared/runFormat';
import { readJsonlFrom } from '../runio/jsonl';
import { listRolloutSteps, readManifest, readRolloutStepIndex } from '../runio/reader';
import { isLittleEndian, swap32 } from '../runio/writer';
import { sampleArrays, sampleBlock } from '../shared/rolloutStep';
import { emptyInput, type DoctorInput, type RolloutSummary, type Series } from './types';
import { summarizeRolloutStepSliced } from './summarize';
import { readStepDoctorSummary, stepStamps, writeStepDoctorSummary, type StepStamps } from './stepSummaryFile';
import { DEFAULT_THRESHOLDS } from './thresholds';

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

/** A turn of the event loop for everything else (timers, I/O, the host's messages) between two slices of work. */
export function pause(ms = 2): Promise<void> { return new Promise((res) => setTimeout(res, ms)); }

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
    // metrics.jsonl in slices of a few MB: never its whole text and every record of a 100k-step run at once
    const g = this.work(4 << 20);
    for (;;) { const r = g.next(); if (r.done) return r.value; }
  }

  private pass: Promise<boolean> | undefined;

  /**
   * update() without holding the event loop (the extension host): the same reads in slices (metrics.jsonl ~1 MB at a
   * time, a rollout step 32 samples at a time), pausing (a 2 ms timer: I/O and timers run) whenever a slice ran
   * `sliceMs`; the same result as update().
   * Calls made while a pass runs share it, then one more pass reads what came in meanwhile.
   */
  updateAsync(opts: { sliceMs?: number } = {}): Promise<boolean> {
    const run = async (): Promise<boolean> => {
      const g = this.work(1 << 20);
      const slice = opts.sliceMs ?? 12;
      let t = Date.now();
      for (;;) {
        const r = g.next();
        if (r.done) return r.value;
        if (Date.now() - t >= slice) { await pause(); t = Date.now(); }
      }
    };
    const prev = this.pass;
    const next: Promise<boolean> = (prev ? prev.catch(() => false).then(run) : run()).finally(() => { if (this.pass === next) this.pass = undefined; });
    this.pass = next;
    return next;
  }

  /** The reads of one update, a yield after each slice (a metrics chunk of `maxBytes`, one rollout step). */
  private *work(maxBytes?: number): Generator<void, boolean> {
    const m = readManifest(this.dir);
    this.input.runId = m.id; this.input.algorithm = m.algorithm; this.input.status = m.status; this.input.config = m.config;
    if (m.source && typeof m.source === 'object') this.input.source = m.source as Record<string, unknown>;
    let changed = false;
    for (let more = true; more;) {
      const mr = readJsonlFrom<MetricsRecord>(path.join(this.dir, FILES.metrics), this.metrics.offset, this.metrics.line, maxBytes);
      more = !!mr.more;
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
      if (more) yield;
    }
    const er = readJsonlFrom<EvalRecord>(path.join(this.dir, FILES.eval), this.evals.offset, this.evals.line);
    this.evals = { offset: er.nextOffset, line: er.nextLine };
    this.problems.push(...er.problems);
    for (const { value: e } of er.records) {
      if (!e || typeof e.step !== 'number' || !e.passAtK || typeof e.passAtK !== 'object') continue;
      const passAtK: Record<string, number> = {};
      for (const [k, v] of Object.entries(e.passAtK)) if (typeof v === 'number' && Number.isFinite(v)) passAtK[k] = v;
      // a baseline eval beside it (Training-Free GRPO: the model without its experience library), numbers checked
      const b = e.baseline;
      const basePk: Record<string, number> = {};
      if (b && typeof b === 'object' && b.passAtK && typeof b.passAtK === 'object') for (const [k, v] of Object.entries(b.passAtK)) if (typeof v === 'number' && Number.isFinite(v)) basePk[k] = v;
      this.input.evals.push({ step: e.step, passAtK, samplesPerPrompt: e.samplesPerPrompt, numPrompts: e.numPrompts, meanReward: e.meanReward, ...(b && Object.keys(basePk).length ? { baseline: { name: String(b.name ?? 'baseline'), passAtK: basePk } } : {}) });
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
      if (this.rollouts.has(step)) continue; // read meanwhile by a synchronous update()
      try {
        const sum = yield* summarizeStepFileSliced(this.dir, step, this.problems, this.opts.ratioBound);
        const rs = this.input.rollouts;
        rs.push(sum);
        if (rs.length > 1 && rs[rs.length - 2].step > sum.step) rs.sort((a, b) => a.step - b.step); // kept sorted between yields
        changed = true;
      } catch (e) {
        this.problems.push({ file: path.join(this.dir, FILES.rolloutsDir), message: `step ${step}: ${(e as Error).message}` });
      }
      this.rollouts.add(step);
      yield;
    }
    return changed;
  }

  private reset(): void {
    const fresh = emptyInput();
    Object.assign(this.input, fresh);
    this.metrics = { offset: 0, line: 1 }; this.evals = { offset: 0, line: 1 }; this.events = { offset: 0, line: 1 };
    this.rollouts.clear();
  }
}

/**
 * One step's doctor summary with bounded memory: header and samples from step_X.jsonl, then each sample's per-token
 * block with one positioned read (only when the summary needs token arrays), never the whole `.f32` block at once (a
 * verl-sized step holds ~150 MB of it). The same summary and problems as readRolloutStep + sampleArrays: a sample
 * whose block runs past the end of a truncated file is reported, and of its arrays only those inside the file are used.
 */
export function summarizeStepFile(dir: string, step: number, problems: InputProblem[], ratioBound?: number): RolloutSummary {
  const g = summarizeStepFileSliced(dir, step, problems, ratioBound);
  for (;;) { const r = g.next(); if (r.done) return r.value; }
}

/** summarizeStepFile with a yield every few samples of the per-token pass (updateAsync). */
function* summarizeStepFileSliced(dir: string, step: number, problems: InputProblem[], ratioBound = DEFAULT_THRESHOLDS.clip.ratioOutlier): Generator<void, RolloutSummary> {
  // the summary the writer (or an earlier read) left beside the step, while the step's files are as they were
  const rolloutsDir = path.join(dir, FILES.rolloutsDir);
  const kept = readStepDoctorSummary(rolloutsDir, step, ratioBound);
  if (kept) return kept;
  const before = problems.length;
  const sum = yield* summarizeStepFromFiles(dir, step, problems, ratioBound);
  // written back for the next read, unless the step had problems (they are reported on every read)
  if (problems.length === before) { try { writeStepDoctorSummary(rolloutsDir, step, sum.summary, ratioBound, sum.dataFile, sum.stamps); } catch { /* read-only folder */ } }
  return sum.summary;
}

/** The summary computed from the step's .jsonl and .f32 (and the files' stamps before they were read). */
function* summarizeStepFromFiles(dir: string, step: number, problems: InputProblem[], ratioBound: number): Generator<void, { summary: RolloutSummary; dataFile?: string; stamps: StepStamps }> {
  const rolloutsDir = path.join(dir, FILES.rolloutsDir);
  const pre = stepStamps(rolloutsDir, step);
  const st = readRolloutStepIndex(dir, step);
  problems.push(...st.problems);
  const stamps = { jsonl: pre.jsonl, data: st.header.dataFile ? stepStamps(rolloutsDir, step, st.header.dataFile).data : undefined };
  const dataFile = st.header.dataFile ? path.join(dir, FILES.rolloutsDir, st.header.dataFile) : undefined;
  let floats = 0;
  if (dataFile) { try { floats = Math.floor(fs.statSync(dataFile).size / 4); } catch { floats = 0; } }
  const shape = st.header;
  for (const s of st.samples) {
    const b = sampleBlock(shape, s);
    if (b && b.end > floats) problems.push({ file: path.join(dir, FILES.rolloutsDir, st.header.dataFile ?? ''), message: `sample ${s.index}: per-token data beyond the end of ${st.header.dataFile ?? 'the data file'} (file truncated?)` });
  }
  let fd: number | undefined;
  try {
    const summary = yield* summarizeRolloutStepSliced(st.header, st.samples, (s) => {
      const b = dataFile ? sampleBlock(shape, s) : undefined;
      if (!b || b.start >= floats) return {};
      if (fd === undefined) fd = fs.openSync(dataFile!, 'r');
      const end = Math.min(b.end, floats);
      const bytes = new Uint8Array((end - b.start) * 4);
      fs.readSync(fd, bytes, 0, bytes.length, b.start * 4);
      if (!isLittleEndian()) swap32(bytes);
      // the sample's block on its own (offset 0), as long as the file holds: arrays past its end are left out
      return sampleArrays({ header: shape, samples: [{ ...s, offset: 0 }], data: new Float32Array(bytes.buffer) }, 0);
    }, ratioBound);
    return { summary, dataFile: st.header.dataFile, stamps };
  } finally { if (fd !== undefined) fs.closeSync(fd); }
}

/** Load a whole run directory once. */
export function loadDoctorInput(dir: string, opts?: LoadOptions): { input: DoctorInput; problems: InputProblem[] } {
  if (!fs.existsSync(dir)) throw new Error(`${dir}: no such folder`);
  const l = new DoctorLoader(dir, opts);
  l.update();
  return { input: l.input, problems: l.problems };
}
