/**
 * TRL → RL Lens.
 *
 * 1. Completions written with `log_completions=True` (GRPOTrainer.log, trl/trainer/grpo_trainer.py):
 *    `<output_dir>/completions/completions_{global_step:05d}.parquet` (some versions: `completions/<mode>/...`)
 *    from a pandas DataFrame with columns `step` (str(global_step) or int), `prompt`, `completion`, one column per
 *    reward function (named after the function / reward model), `advantage`, and in some versions `mode` and extra
 *    columns. Read with hyparquet (pure JS). No per-token data, no group ids: samples are grouped by identical prompt
 *    (TRL's RepeatSampler puts the num_generations completions of a prompt next to each other).
 *    reward = sum of the reward-function columns ignoring NaN (TRL's nansum with the default weights 1.0; the
 *    weights are not in the file).
 * 2. `trainer_state.json` (transformers Trainer, written at each checkpoint save and at the end): `log_history` is a
 *    list of dicts with `step`, `epoch`, `loss`, `grad_norm`, `learning_rate` and GRPO's metrics (`reward`,
 *    `reward_std`, `rewards/<f>/mean`, `kl`, `entropy`, `clip_ratio/*`, `completions/*`, `frac_reward_zero_std`);
 *    eval entries have `eval_`-prefixed names and become split 'eval' records.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Worker } from 'worker_threads';
import { createRequire } from 'module';
import type { EvalRecord, InputProblem, MetricsRecord, RolloutSampleInput } from '../shared/runFormat';
import { Problems, derivedStepMetrics, fileStamp, groupSamples, isObject, jsonSafe, listFiles, naturalCompare, parsePyJson, textOf } from './common';
import { TRL_METRICS, mapMetrics } from './metricMap';
import { parseStep, type PollResult, type Session, type StepOut } from './session';
import { evalFromSamples } from './verl';

const KNOWN_COLUMNS = new Set(['step', 'prompt', 'completion', 'advantage', 'mode', 'image', 'images']);
const COMPLETIONS_NAME = /^completions_(\d+)\.parquet$/;

export interface TrlLayout { root: string; parquetFiles: string[]; trainerState?: string }

export function trlLayout(src: string): TrlLayout {
  const st = fs.statSync(src);
  if (st.isFile()) {
    if (src.endsWith('.parquet')) return { root: path.dirname(src), parquetFiles: [src] };
    return { root: path.dirname(src), parquetFiles: [], trainerState: src };
  }
  const parquetFiles = listFiles(src, (n) => n.endsWith('.parquet'), 3).filter((f) => !/(^|[\\/])checkpoint-\d+[\\/]/.test(path.relative(src, f))).sort(naturalCompare);
  let trainerState: string | undefined = path.join(src, 'trainer_state.json');
  if (!fs.existsSync(trainerState)) {
    // during training only checkpoint-N/trainer_state.json exist: take the latest
    const cks = listFiles(src, (n) => n === 'trainer_state.json', 1).sort(naturalCompare);
    trainerState = cks.length ? cks[cks.length - 1] : undefined;
  }
  return { root: src, parquetFiles, trainerState };
}

/** Running from sources (tests, tsx): bundle the worker once with esbuild (a devDependency) into the temp folder. */
let devBundle: string | undefined;
function devWorkerBundle(source: string): string {
  if (devBundle && fs.existsSync(devBundle)) return devBundle;
  if (!fs.existsSync(source)) throw new Error(`neither parquet-worker.js nor ${source} found`);
  const out = path.join(os.tmpdir(), `rl-lens-parquet-worker-${process.pid}-${Math.round(fs.statSync(source).mtimeMs)}.js`);
  // createRequire: invisible to the bundler, so esbuild is not pulled into dist/ (it is only needed from sources)
  const esbuild = createRequire(__filename)('esbuild') as { buildSync(o: Record<string, unknown>): unknown };
  esbuild.buildSync({ entryPoints: [source], bundle: true, platform: 'node', format: 'cjs', target: 'node20', outfile: out, logLevel: 'silent' });
  devBundle = out;
  return out;
}

/** Cheap structural check done before decoding: magic bytes and footer length (catches truncated / half-written files). */
export function parquetEnvelopeProblem(buf: Uint8Array): string | undefined {
  const magic = (at: number): boolean => buf[at] === 0x50 && buf[at + 1] === 0x41 && buf[at + 2] === 0x52 && buf[at + 3] === 0x31;
  if (buf.length < 12) return `only ${buf.length} bytes: truncated (a parquet file starts and ends with "PAR1")`;
  if (!magic(0)) return 'does not start with "PAR1": not a parquet file';
  if (!magic(buf.length - 4)) return 'does not end with "PAR1": truncated or still being written';
  const footerLen = buf[buf.length - 8] | (buf[buf.length - 7] << 8) | (buf[buf.length - 6] << 16) | (buf[buf.length - 5] << 24);
  if (footerLen <= 0 || footerLen > buf.length - 12) return `footer length ${footerLen} does not fit in the ${buf.length}-byte file: corrupt`;
  return undefined;
}

/** One persistent decoding worker, restarted when it hangs or dies. */
class ParquetWorkerClient {
  private w: Worker | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (r: Record<string, unknown>[]) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();

  private worker(): Worker {
    if (this.w) return this.w;
    const bundled = path.join(__dirname, 'parquet-worker.js');
    const script = fs.existsSync(bundled) ? bundled : devWorkerBundle(path.join(__dirname, 'parquetWorker.ts'));
    const w = new Worker(script, { resourceLimits: { maxOldGenerationSizeMb: 1024 }, stdout: true, stderr: true });
    w.unref();
    w.on('message', (m: { id: number; ok: boolean; rows?: Record<string, unknown>[]; error?: string }) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      clearTimeout(p.timer);
      if (m.ok) p.resolve(m.rows!); else p.reject(new Error(m.error ?? 'unknown parquet error'));
      if (!this.pending.size) w.unref();
    });
    const fail = (why: string): void => {
      if (this.w === w) this.w = undefined;
      for (const [id, p] of this.pending) { clearTimeout(p.timer); p.reject(new Error(why)); this.pending.delete(id); }
    };
    w.on('error', (e) => fail(/memory/i.test(e.message) ? `decoding ran out of memory (corrupt file?): ${e.message}` : e.message));
    w.on('exit', (code) => fail(`parquet worker exited (code ${code})`));
    this.w = w;
    return w;
  }

  read(buffer: ArrayBuffer, timeoutMs: number): Promise<Record<string, unknown>[]> {
    return new Promise((resolve, reject) => {
      let w: Worker;
      try { w = this.worker(); } catch (e) { reject(new Error(`parquet worker not available (${(e as Error).message})`)); return; }
      const id = this.nextId++;
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`decoding took more than ${timeoutMs / 1000} s (corrupt file?); stopped`));
        if (this.w === w) this.w = undefined;
        void w.terminate(); // other requests on it fail through 'exit'
      }, timeoutMs);
      timer.unref();
      this.pending.set(id, { resolve, reject, timer });
      w.ref();
      w.postMessage({ id, buffer }, [buffer]);
    });
  }
}
const parquetClient = new ParquetWorkerClient();

/**
 * Decode a parquet file (in a worker thread, with time and memory limits). Rejects with a clear message when the
 * file is truncated, cannot be decoded, or decoding runs away.
 */
export async function readParquetRows(file: string, opts: { timeoutMs?: number } = {}): Promise<Record<string, unknown>[]> {
  const buf = fs.readFileSync(file);
  const bad = parquetEnvelopeProblem(buf);
  if (bad) throw new Error(bad);
  const buffer = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer;
  return parquetClient.read(buffer, opts.timeoutMs ?? (Number(process.env.RL_LENS_PARQUET_TIMEOUT_MS) || 15_000));
}

function num(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'boolean') return v ? 1 : 0;
  return undefined;
}

/** Convert the rows of one completions parquet file. `line` in problems = row number (1-based). */
export function convertTrlRows(rows: Record<string, unknown>[], file: string, fileStep: number | undefined, problems: Problems, notes: Set<string>): { step: number; mode: string; sample: RolloutSampleInput }[] {
  const out: { step: number; mode: string; sample: RolloutSampleInput }[] = [];
  rows.forEach((row, i) => {
    const line = i + 1;
    const bad = (field: string, message: string, severity: 'error' | 'warning' = 'error'): void => problems.add({ file, line, field, message, severity });
    let step: number | string = row.step === undefined || row.step === null ? (fileStep ?? 'missing "step"') : parseStep(typeof row.step === 'bigint' ? Number(row.step) : row.step);
    if (typeof step === 'string') { bad('step', `${step}; row skipped`); return; }
    if (fileStep !== undefined && step !== fileStep) bad('step', `row says step ${step} but the file name says ${fileStep}`, 'warning');
    if (row.prompt === undefined || row.prompt === null) { bad('prompt', 'missing "prompt"; row skipped'); return; }
    if (row.completion === undefined || row.completion === null) { bad('completion', 'missing "completion"; row skipped'); return; }
    const parts: Record<string, number> = {};
    const extra: Record<string, unknown> = {};
    let reward = 0;
    let nParts = 0;
    for (const [k, v] of Object.entries(row)) {
      if (KNOWN_COLUMNS.has(k)) continue;
      const x = num(v);
      if (x === undefined) { if (v !== null && v !== undefined) extra[k] = jsonSafe(v); continue; }
      if (!Number.isFinite(x)) {
        bad(k, Number.isNaN(x) ? `reward column "${k}" is NaN (the reward function returned None); left out of the sum as TRL does (nansum)` : `reward column "${k}" is ${x}; left out of the sum`, 'warning');
        continue;
      }
      parts[k] = x; reward += x; nParts++;
    }
    if (!nParts) notes.add('some completions have no reward-function column: their reward is shown as 0 (see extra.reward_missing)');
    const sample: RolloutSampleInput = {
      group: '', prompt: textOf(row.prompt), completion: textOf(row.completion), tokens: [], reward, length: 0,
      source: { file: path.basename(file), line },
    };
    if (nParts) sample.rewardParts = parts; else extra.reward_missing = true;
    const adv = num(row.advantage);
    if (adv !== undefined) {
      if (Number.isFinite(adv)) sample.advantage = adv; else bad('advantage', `"advantage" is ${adv}; left out`, 'warning');
    }
    if (typeof row.prompt !== 'string') extra.prompt_raw = jsonSafe(row.prompt);
    if (typeof row.completion !== 'string') extra.completion_raw = jsonSafe(row.completion);
    if (Object.keys(extra).length) sample.extra = extra;
    const mode = typeof row.mode === 'string' ? row.mode : /[\\/]eval[\\/]/.test(file) ? 'eval' : 'train';
    out.push({ step, mode, sample });
  });
  return out;
}

export class TrlSession implements Session {
  readonly format = 'trl' as const;
  readonly problems = new Problems();
  readonly stepProblems = new Map<number, InputProblem[]>();
  readonly notes = new Set<string>();
  private layout: TrlLayout = { root: '', parquetFiles: [] };
  private readonly stamps = new Map<string, string>();
  private readonly fileProblems = new Map<string, InputProblem[]>();
  private readonly sampleCounts = new Map<number, number>();
  private historyEmitted = 0;
  private stateStamp: string | undefined;
  private metricsCount = 0;
  private evalCount = 0;
  private rowsRead = 0;
  private readonly evalDone = new Set<string>();
  private readonly derived = new Map<number, Record<string, number | null>>();
  private readonly derivedDone = new Set<number>();
  totalSteps: number | undefined;

  constructor(private readonly src: string, private readonly opts: { settleMs?: number } = {}) {}

  algorithm(): string { return 'grpo'; }

  counts(): Record<string, number> {
    let samples = 0;
    for (const n of this.sampleCounts.values()) samples += n;
    return { files: this.layout.parquetFiles.length + (this.layout.trainerState ? 1 : 0), rows: this.rowsRead, samples, steps: this.sampleCounts.size, metricsRecords: this.metricsCount, evalRecords: this.evalCount };
  }

  async poll(final: boolean): Promise<PollResult> {
    this.layout = trlLayout(this.src);
    const steps: StepOut[] = [];
    const evals: EvalRecord[] = [];
    const metrics: MetricsRecord[] = [];
    for (const f of this.layout.parquetFiles) {
      const stamp = fileStamp(f);
      if (!stamp || this.stamps.get(f) === stamp) continue;
      const m = COMPLETIONS_NAME.exec(path.basename(f));
      const fileStep = m ? Number(m[1]) : undefined;
      let rows: Record<string, unknown>[];
      try {
        rows = await readParquetRows(f);
      } catch (e) {
        // a file pandas is still writing: wait unless it has settled
        const age = Date.now() - fs.statSync(f).mtimeMs;
        if (!final && age < (this.opts.settleMs ?? 10_000)) continue;
        this.stamps.set(f, stamp);
        this.fileProblems.set(f, [{ file: f, severity: 'error', message: `not a readable parquet file (${(e as Error).message}); file skipped` }]);
        continue;
      }
      this.stamps.set(f, stamp);
      this.rowsRead += rows.length;
      const probs = new Problems();
      const conv = convertTrlRows(rows, f, fileStep, probs, this.notes);
      this.fileProblems.set(f, probs.list);
      const byStep = new Map<string, RolloutSampleInput[]>();
      for (const c of conv) {
        const key = `${c.mode}:${c.step}`;
        let l = byStep.get(key);
        if (!l) { l = []; byStep.set(key, l); }
        l.push(c.sample);
      }
      for (const [key, samples] of byStep) {
        const [mode, s] = key.split(':');
        const step = Number(s);
        if (mode === 'eval') {
          if (this.evalDone.has(`${f}:${step}`)) continue;
          this.evalDone.add(`${f}:${step}`);
          evals.push(evalFromSamples(step, samples));
          this.evalCount++;
          this.notes.add('eval-mode completions converted to eval records (correct = reward > 0)');
          continue;
        }
        const { groups, byPrompt } = groupSamples(samples, () => undefined);
        if (byPrompt) this.notes.add('rollouts grouped by identical prompt within each step (TRL completions have no group ids)');
        this.notes.add('TRL completions carry no per-token data: samples have text, reward-function columns and advantage');
        this.sampleCounts.set(step, samples.length);
        if (!this.derivedDone.has(step)) this.derived.set(step, derivedStepMetrics(samples, samples.map(() => ({}))));
        steps.push({ step, header: { step, algorithm: 'grpo', arrays: [], groups, sourceFormat: 'trl' }, samples, arrays: samples.map(() => ({})) });
      }
    }

    // trainer_state.json log_history
    const ts = this.layout.trainerState;
    const stamp = ts ? fileStamp(ts) : undefined;
    if (ts && stamp && stamp !== this.stateStamp) {
      this.stateStamp = stamp;
      let text = '';
      try { text = fs.readFileSync(ts, 'utf8'); } catch (e) { this.problems.add({ file: ts, message: `cannot read (${(e as Error).message})` }); }
      const p = text ? parsePyJson(text) : undefined;
      if (p && !p.ok) {
        // trainer_state.json is rewritten (not appended): a half-written one is retried while following
        if (final) this.problems.add({ file: ts, message: `not valid JSON (${p.error}); metrics not imported` });
        else this.stateStamp = undefined;
      } else if (p && p.ok) {
        const state = p.value;
        if (!isObject(state) || !Array.isArray(state.log_history)) {
          this.problems.add({ file: ts, field: 'log_history', message: 'expected an object with a "log_history" list; metrics not imported' });
        } else {
          if (typeof state.max_steps === 'number') this.totalSteps = state.max_steps;
          const hist = state.log_history as unknown[];
          for (let i = this.historyEmitted; i < hist.length; i++) {
            const e = hist[i];
            const where = `log_history[${i}]`;
            if (!isObject(e)) { this.problems.add({ file: ts, field: where, message: 'entry is not an object; skipped' }); continue; }
            const step = parseStep(e.step);
            if (typeof step === 'string') { this.problems.add({ file: ts, field: `${where}.step`, message: `${step}; entry skipped` }); continue; }
            const data: Record<string, unknown> = { ...e };
            delete data.step;
            const isEval = Object.keys(data).some((k) => k.startsWith('eval_'));
            const m = mapMetrics(data, TRL_METRICS, isEval ? { stripPrefix: 'eval_' } : {});
            for (const k of m.nonFinite) this.problems.add({ file: ts, field: `${where}.${k}`, severity: 'warning', message: 'value is NaN/Infinity; stored as null (missing)' });
            for (const k of m.nonNumeric) this.problems.add({ file: ts, field: `${where}.${k}`, severity: 'warning', message: `not a number (${JSON.stringify(data[k])?.slice(0, 60)}); not a metric, skipped` });
            const prev = metrics[metrics.length - 1];
            if (prev && prev.step === step && (prev.split ?? 'train') === (isEval ? 'eval' : 'train')) {
              Object.assign(prev.values, m.values); // e.g. the end-of-training summary entry of the last step
              continue;
            }
            const rec: MetricsRecord = { step, values: m.values };
            if (isEval) rec.split = 'eval';
            metrics.push(rec);
            this.metricsCount++;
          }
          this.historyEmitted = Math.max(this.historyEmitted, hist.length);
          this.notes.add('TRL metric names mapped to RL Lens names (reward → reward/mean, completions/mean_length → response_length/mean, learning_rate → lr, ...); the original names are kept too');
        }
      }
    }
    // derived per-step metrics only when there is no trainer_state.json
    if (!ts) {
      const all = [...this.derived.keys()].sort((a, b) => a - b);
      for (const s of all) {
        if (!final && s === all[all.length - 1]) continue;
        metrics.push({ step: s, values: this.derived.get(s)! });
        this.derived.delete(s);
        this.derivedDone.add(s);
        this.metricsCount++;
      }
      if (this.derivedDone.size) this.notes.add('per-step metrics derived from the completions (no trainer_state.json found)');
    }
    // file-level problems are step problems keyed by file: expose them through stepProblems under a synthetic key
    let k = -1;
    this.stepProblems.clear();
    for (const ps of this.fileProblems.values()) if (ps.length) this.stepProblems.set(k--, ps);
    return { steps, metrics, evals };
  }
}
