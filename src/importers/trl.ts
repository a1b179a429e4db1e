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
import { DPO_REWARD_STATS, TRL_METRICS, TRL_METRIC_PATTERNS, mapMetrics } from './metricMap';
import { parseStep, type PollResult, type Session, type StepOut } from './session';
import { findTrainerStates, recoverTruncatedState, stepOfEntry } from './trainerState';
import { evalFromSamples } from './verl';

const KNOWN_COLUMNS = new Set(['step', 'prompt', 'completion', 'advantage', 'mode', 'image', 'images']);
const COMPLETIONS_NAME = /^completions_(\d+)\.parquet$/;

export interface TrlLayout {
  root: string;
  parquetFiles: string[];
  trainerState?: string;
  /** other TrainerState files in the folder that are not imported (reported) */
  otherStates: string[];
}

export function trlLayout(src: string): TrlLayout {
  const st = fs.statSync(src);
  if (st.isFile()) {
    if (src.endsWith('.parquet')) return { root: path.dirname(src), parquetFiles: [src], otherStates: [] };
    return { root: path.dirname(src), parquetFiles: [], trainerState: src, otherStates: [] };
  }
  const parquetFiles = listFiles(src, (n) => n.endsWith('.parquet'), 3).filter((f) => !/(^|[\\/])checkpoint-\d+[\\/]/.test(path.relative(src, f))).sort(naturalCompare);
  const states = findTrainerStates(src);
  return { root: src, parquetFiles, trainerState: states.chosen, otherStates: states.others };
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
  // a per-process file: removed when the process ends (tests would otherwise leave one per run in the temp folder)
  process.once('exit', () => { try { fs.rmSync(out, { force: true }); } catch { /* already gone */ } });
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

/** Names of a total reward column (TRL ≤ 0.16 logged only the total, as "reward"; see convertTrlRows). */
const TOTAL_COLUMNS = ['reward', 'total_reward', 'rewards'];

/** What one completions file's columns are, decided once per file (see convertTrlRows). */
export interface TrlColumnRoles {
  /** reward-function columns (summed into the total when there is no total column) */
  parts: string[];
  /** a total reward column, when the file has one */
  total?: string;
  /** numeric columns that are not rewards (TRL's log_extra columns, when the trainer state names the functions) */
  extras: string[];
}

/**
 * Which numeric columns are reward functions, which one (if any) is the total, which are something else.
 * - TRL ≤ 0.16 (huggingface/trl v0.14.0, trl/trainer/grpo_trainer.py, the wandb completions table):
 *       table = {"step": [str(self.state.global_step)] * len(rewards), "prompt": prompts_to_log,
 *                "completion": completions_to_log, "reward": rewards.tolist()}
 *   `reward` is the weighted total; there are no per-function columns.
 * - TRL ≥ 0.17 (huggingface/trl d2b69d769dab6f77acbfd33252bcd7d22765571b, trl/trainer/grpo_trainer.py,
 *   _generate_and_score_completions):
 *       for i, name in enumerate(self.reward_func_names):
 *           self._logs["rewards"][name].extend(rewards_per_func[:, i].tolist())
 *   and GRPOTrainer.log writes `{"step", "prompt", "completion", **self._logs["rewards"], "advantage"}`; newer
 *   versions add `"mode"` and `**self._logs["extra"]` (columns a reward function logged with log_extra) and write
 *   `completions/<mode>/completions_{step:05d}.parquet`. No total column: the total is
 *   `(rewards_per_func * self.reward_weights).nansum(dim=1)`.
 * So a `reward` column next to other numeric columns is a total (a table exported from the older writer, or a user's
 * extra column) unless the trainer state names a reward function "reward". It is never added as one more part.
 * `rewardFuncs`: reward-function names from the trainer state's `rewards/<name>/mean` (or older `rewards/<name>`)
 * metrics; numeric columns not among them are extras, not rewards.
 */
export function trlColumnRoles(rows: Record<string, unknown>[], rewardFuncs?: ReadonlySet<string>): TrlColumnRoles {
  const numeric: string[] = [];
  const seen = new Set<string>();
  for (const row of rows) {
    for (const [k, v] of Object.entries(row)) {
      if (KNOWN_COLUMNS.has(k) || seen.has(k)) continue;
      if (num(v) !== undefined) { seen.add(k); numeric.push(k); }
    }
  }
  const known = rewardFuncs && numeric.some((c) => rewardFuncs.has(c)) ? rewardFuncs : undefined;
  const total = TOTAL_COLUMNS.find((c) => numeric.includes(c) && !known?.has(c));
  const rest = numeric.filter((c) => c !== total);
  if (!known) return { parts: rest, total, extras: [] };
  return { parts: rest.filter((c) => known.has(c)), total, extras: rest.filter((c) => !known.has(c)) };
}

/** Convert the rows of one completions parquet file. `line` in problems = row number (1-based). */
export function convertTrlRows(rows: Record<string, unknown>[], file: string, fileStep: number | undefined, problems: Problems, notes: Set<string>, opts: { rewardFuncs?: ReadonlySet<string> } = {}): { step: number; mode: string; sample: RolloutSampleInput }[] {
  const out: { step: number; mode: string; sample: RolloutSampleInput }[] = [];
  const roles = trlColumnRoles(rows, opts.rewardFuncs);
  const base = path.basename(file);
  // aggregated per file: one problem per column / kind, with a count and the first row
  const nanRows = new Map<string, { n: number; first: number; value: number }>();
  const mismatch = { n: 0, checked: 0, first: 0, total: 0, sum: 0 };
  let noReward = 0; let noRewardFirst = 0;
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
    const finite = (k: string): number | undefined => {
      const x = num(row[k]);
      if (x === undefined) return undefined;
      if (!Number.isFinite(x)) {
        const a = nanRows.get(k);
        if (a) a.n++; else nanRows.set(k, { n: 1, first: line, value: x });
        return undefined;
      }
      return x;
    };
    let sum = 0;
    let nParts = 0;
    for (const k of roles.parts) { const x = finite(k); if (x !== undefined) { parts[k] = x; sum += x; nParts++; } }
    for (const k of roles.extras) { const x = num(row[k]); if (x !== undefined) extra[k] = Number.isFinite(x) ? x : null; }
    for (const [k, v] of Object.entries(row)) {
      if (KNOWN_COLUMNS.has(k) || k === roles.total || roles.parts.includes(k) || roles.extras.includes(k)) continue;
      if (v !== null && v !== undefined) extra[k] = jsonSafe(v);
    }
    let reward: number;
    const total = roles.total !== undefined ? finite(roles.total) : undefined;
    if (total !== undefined) {
      reward = total;
      if (nParts) {
        mismatch.checked++;
        if (Math.abs(total - sum) > 1e-4 * Math.max(1, Math.abs(total))) {
          if (!mismatch.n) { mismatch.first = line; mismatch.total = total; mismatch.sum = sum; }
          mismatch.n++;
        }
      }
    } else if (nParts) {
      reward = sum; // TRL: (rewards_per_func * reward_weights).nansum(dim=1), default weights 1.0
    } else {
      // no finite reward in this row: TRL's nansum of all-NaN rewards is 0 (and TRL warns); no column at all: unknown
      reward = 0;
      extra.reward_missing = true;
      if (!noReward) noRewardFirst = line;
      noReward++;
    }
    const sample: RolloutSampleInput = {
      group: '', prompt: textOf(row.prompt), completion: textOf(row.completion), tokens: [], reward, length: 0,
      source: { file: base, line },
    };
    if (nParts) sample.rewardParts = parts;
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
  for (const [k, a] of nanRows) {
    const isTotal = k === roles.total;
    problems.add({
      file, line: a.first, field: k, severity: 'warning',
      message: `${isTotal ? 'total reward' : 'reward'} column "${k}" is ${Number.isNaN(a.value) ? 'NaN' : a.value} on ${a.n} row(s) (first: row ${a.first})${isTotal ? '; those rows take the sum of the reward-function columns' : ' (the reward function returned None); left out of the sum as TRL does (nansum)'}`,
    });
  }
  if (roles.total !== undefined) {
    const partList = roles.parts.map((c) => `"${c}"`).join(', ');
    if (!roles.parts.length) notes.add(`${base}: column "${roles.total}" is the total reward (TRL ≤ 0.16 logged only the total); no per-function columns, so samples have no reward parts`);
    else if (!mismatch.n) notes.add(`${base}: column "${roles.total}" equals the sum of the reward-function columns ${partList} on all ${mismatch.checked} row(s): taken as the total, not counted as one more part`);
    else {
      problems.add({
        file, line: mismatch.first, field: roles.total, severity: 'warning',
        message: `column "${roles.total}" is not the sum of the other numeric columns ${partList} on ${mismatch.n} of ${mismatch.checked} row(s) (first: row ${mismatch.first}: ${roles.total}=${mismatch.total}, sum=${mismatch.sum}): "${roles.total}" is taken as the recorded total and the others as its parts (reward_weights other than 1, or columns that are not rewards, explain a difference)`,
      });
    }
  }
  if (roles.extras.length) notes.add(`${base}: numeric column(s) ${roles.extras.map((c) => `"${c}"`).join(', ')} are not reward functions of the trainer state (its rewards/<name>/mean metrics name ${[...(opts.rewardFuncs ?? [])].map((c) => `"${c}"`).join(', ')}): kept in sample.extra, not added to the reward`);
  if (noReward) {
    const none = !roles.parts.length && roles.total === undefined;
    problems.add({
      file, line: noRewardFirst, field: none ? undefined : 'reward', severity: 'warning',
      message: none
        ? `no reward column (numeric columns other than step/advantage): the ${noReward} row(s) have no reward; shown as 0 and marked extra.reward_missing`
        : `${noReward} row(s) (first: row ${noRewardFirst}) have no finite reward in any reward column: reward 0, as TRL's nansum gives (marked extra.reward_missing)`,
    });
  }
  return out;
}

/** transformers' TrainerState fields written after `log_history` (sorted keys), for "what was lost" messages. */
const FIELDS_AFTER_LOG_HISTORY = ['logging_steps', 'max_steps', 'num_input_tokens_seen', 'num_train_epochs', 'save_steps', 'stateful_callbacks', 'total_flos', 'train_batch_size', 'trial_name', 'trial_params'];

/**
 * Reward-function names in log_history keys: `rewards/<name>/mean` and `/std` (TRL ≥ 0.17) or `rewards/<name>`
 * (TRL 0.14-0.16); DPO-style `rewards/chosen|rejected|accuracies|margins` are not functions.
 */
export function rewardFuncsOf(keys: Iterable<string>): Set<string> {
  const out = new Set<string>();
  for (const k0 of keys) {
    const k = k0.startsWith('eval_') ? k0.slice(5) : k0;
    const m = /^rewards\/(.+?)(?:\/(mean|std))?$/.exec(k);
    if (!m || (!m[2] && DPO_REWARD_STATS.test(m[1]))) continue;
    out.add(m[1]);
  }
  return out;
}

interface StepStat { mean: number; n: number; min: number; max: number; partMeans: Record<string, number> }

export class TrlSession implements Session {
  readonly format = 'trl' as const;
  readonly problems = new Problems();
  readonly stepProblems = new Map<number, InputProblem[]>();
  readonly notes = new Set<string>();
  readonly partial = new Map<string, string>();
  private layout: TrlLayout = { root: '', parquetFiles: [], otherStates: [] };
  private readonly stamps = new Map<string, string>();
  private readonly fileProblems = new Map<string, InputProblem[]>();
  /** problems about the trainer state as a whole and about completions vs trainer state: recomputed, not accumulated */
  private readonly slotProblems = new Map<string, InputProblem[]>();
  private readonly sampleCounts = new Map<number, number>();
  private historyEmitted = 0;
  private stateStamp: string | undefined;
  private metricsCount = 0;
  private evalCount = 0;
  private rowsRead = 0;
  private readonly evalDone = new Set<string>();
  private readonly derived = new Map<number, Record<string, number | null>>();
  private readonly derivedDone = new Set<number>();
  /** train log_history values by step, reward-function names seen in them, logging_steps / global_step of the state */
  private readonly logTrain = new Map<number, Record<string, number | null>>();
  private readonly rewardFuncs = new Set<string>();
  private loggingSteps: number | undefined;
  private globalStep: number | undefined;
  /** per train step of the completions: reward statistics and the reward columns seen */
  private readonly stepStats = new Map<number, StepStat>();
  private readonly rewardColumns = new Set<string>();
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
    // the trainer state first: its rewards/<name>/mean metrics tell which completions columns are reward functions
    this.readTrainerState(final, metrics);
    const others = this.layout.otherStates;
    this.slotProblems.set('others', others.length ? [{
      file: others[0], severity: 'warning',
      message: `${others.length} more TrainerState file(s) in this folder (${others.map((f) => path.basename(f)).join(', ')}) besides ${path.basename(this.layout.trainerState ?? '')}, which is the one imported (trainer_state.json by name, else the newest); import another alone with \`rl-lens import FILE\``,
    }] : []);

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
      const conv = convertTrlRows(rows, f, fileStep, probs, this.notes, { rewardFuncs: this.rewardFuncs.size ? this.rewardFuncs : undefined });
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
        this.stepStats.set(step, stepStat(samples));
        for (const smp of samples) for (const k of Object.keys(smp.rewardParts ?? {})) this.rewardColumns.add(k);
        if (!this.derivedDone.has(step)) this.derived.set(step, derivedStepMetrics(samples, samples.map(() => ({}))));
        steps.push({ step, header: { step, algorithm: 'grpo', arrays: [], groups, sourceFormat: 'trl' }, samples, arrays: samples.map(() => ({})) });
      }
    }

    // derived per-step metrics only when there is no trainer state
    if (!this.layout.trainerState) {
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
    this.slotProblems.set('consistency', this.consistencyProblems());
    // file-level problems are step problems keyed by file: expose them through stepProblems under synthetic keys
    let k = -1;
    this.stepProblems.clear();
    for (const ps of [...this.fileProblems.values(), ...this.slotProblems.values()]) if (ps.length) this.stepProblems.set(k--, ps);
    return { steps, metrics, evals };
  }

  private readTrainerState(final: boolean, metrics: MetricsRecord[]): void {
    const ts = this.layout.trainerState;
    const stamp = ts ? fileStamp(ts) : undefined;
    if (!ts || !stamp || stamp === this.stateStamp) return;
    this.stateStamp = stamp;
    let text = '';
    try { text = fs.readFileSync(ts, 'utf8'); } catch (e) { this.problems.add({ file: ts, message: `cannot read (${(e as Error).message})` }); return; }
    const p = parsePyJson(text);
    let state: unknown;
    this.slotProblems.set('state', []);
    this.partial.delete(ts);
    if (p.ok) state = p.value;
    else {
      // trainer_state.json is rewritten in place (not appended): a half-written one is retried while following,
      // until it has not changed for settleMs; then (and at the end) what is whole in it is kept
      let age = Infinity;
      try { age = Date.now() - fs.statSync(ts).mtimeMs; } catch { /* gone */ }
      if (!final && age < (this.opts.settleMs ?? 10_000)) { this.stateStamp = undefined; return; }
      const rec = recoverTruncatedState(text);
      if (!rec) {
        this.slotProblems.set('state', [{ file: ts, message: `not valid JSON (${p.error}) and not a cut-short TrainerState either (corrupt in the middle?); metrics not imported. Fix or replace the file, e.g. with a checkpoint-N/trainer_state.json` }]);
        this.partial.set(ts, `${path.basename(ts)} is unreadable: no metrics imported`);
        return;
      }
      state = rec.state;
      const hist = Array.isArray(rec.state.log_history) ? rec.state.log_history : [];
      const stepsOf = hist.map(stepOfEntry).filter((s): s is number => s !== undefined);
      const gs = typeof rec.state.global_step === 'number' ? rec.state.global_step : undefined;
      const lostFields = FIELDS_AFTER_LOG_HISTORY.filter((f) => !rec.keys.includes(f));
      const kept = rec.where === 'before-log_history'
        ? 'the cut is before "log_history": no log_history entry recovered'
        : `recovered the ${hist.length} whole log_history entr${hist.length === 1 ? 'y' : 'ies'} before the cut${stepsOf.length ? ` (steps ${stepsOf[0]}–${stepsOf[stepsOf.length - 1]})` : ''}`;
      const lost = rec.where === 'after-log_history'
        ? `lost: the fields after log_history that were not whole (${lostFields.join(', ') || 'none known'})`
        : `lost: ${rec.where === 'in-log_history' ? `log_history[${hist.length}] onwards` : 'all of log_history'}${gs !== undefined ? ` (global_step says the run reached step ${gs}${stepsOf.length ? `; ${Math.max(0, gs - stepsOf[stepsOf.length - 1])} step(s) after the last recovered entry` : ''})` : ''} and the fields written after it (${lostFields.join(', ')})`;
      this.slotProblems.set('state', [{
        file: ts, line: rec.cutLine, field: rec.where === 'in-log_history' ? `log_history[${hist.length}]` : undefined, severity: 'error',
        message: `file is cut short at line ${rec.cutLine} (not valid JSON: ${p.error}; a crash or a copy in progress leaves a TrainerState like this): ${kept}; ${lost}. Re-copy the file, or import the run's latest checkpoint-N/trainer_state.json`,
      }]);
      this.partial.set(ts, `${path.basename(ts)} is cut short at line ${rec.cutLine}: ${kept}; ${lost}`);
    }
    if (!isObject(state) || !Array.isArray(state.log_history)) {
      this.problems.add({ file: ts, field: 'log_history', message: 'expected an object with a "log_history" list; metrics not imported' });
      return;
    }
    if (typeof state.max_steps === 'number') this.totalSteps = state.max_steps;
    if (typeof state.logging_steps === 'number') this.loggingSteps = state.logging_steps;
    if (typeof state.global_step === 'number') this.globalStep = state.global_step;
    const hist = state.log_history as unknown[];
    for (let i = this.historyEmitted; i < hist.length; i++) {
      const e = hist[i];
      const where = `log_history[${i}]`;
      if (!isObject(e)) { this.problems.add({ file: ts, field: where, message: 'entry is not an object; skipped' }); continue; }
      const step = parseStep(e.step);
      if (typeof step === 'string') { this.problems.add({ file: ts, field: `${where}.step`, message: `${step}; entry skipped` }); continue; }
      const data: Record<string, unknown> = { ...e };
      delete data.step;
      for (const f of rewardFuncsOf(Object.keys(data))) this.rewardFuncs.add(f);
      const isEval = Object.keys(data).some((k) => k.startsWith('eval_'));
      const m = mapMetrics(data, TRL_METRICS, { patterns: TRL_METRIC_PATTERNS, ...(isEval ? { stripPrefix: 'eval_' } : {}) });
      for (const k of m.nonFinite) this.problems.add({ file: ts, field: `${where}.${k}`, severity: 'warning', message: 'value is NaN/Infinity; stored as null (missing)' });
      for (const k of m.nonNumeric) this.problems.add({ file: ts, field: `${where}.${k}`, severity: 'warning', message: `not a number (${JSON.stringify(data[k])?.slice(0, 60)}); not a metric, skipped` });
      if (!isEval) this.logTrain.set(step, { ...(this.logTrain.get(step) ?? {}), ...m.values });
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
    this.notes.add('TRL metric names mapped to RL Lens names (reward → reward/mean, completions/mean_length or completion_length → response_length/mean, rewards/<f>/mean → reward/<f>/mean, learning_rate → lr, ...); the original names are kept too');
  }

  /**
   * Completions and trainer state of one folder should be one run: TRL writes both in GRPOTrainer.log, the
   * completions file at `self.state.global_step` and the log_history entry (Trainer.log) at the same step, and the
   * `reward` metric is the mean of the same rewards when logging_steps = 1. Says so, with the evidence, when they
   * disagree.
   */
  private consistencyProblems(): InputProblem[] {
    const ts = this.layout.trainerState;
    if (!ts || !this.stepStats.size || !this.logTrain.size) return [];
    const logSteps = [...this.logTrain.keys()].filter((s) => Object.keys(this.logTrain.get(s)!).some((k) => k === 'reward' || k === 'loss' || k.startsWith('rewards/'))).sort((a, b) => a - b);
    if (!logSteps.length) return [];
    const lastLog = logSteps[logSteps.length - 1];
    const compSteps = [...this.stepStats.keys()].sort((a, b) => a - b);
    const inRange = compSteps.filter((s) => s <= lastLog);
    const logSet = new Set(logSteps);
    const missing = inRange.filter((s) => !logSet.has(s));
    const evidence: string[] = [];
    const list = (xs: number[]): string => xs.slice(0, 5).join(', ') + (xs.length > 5 ? `, ... (${xs.length})` : '');
    if (missing.length && missing.length >= Math.max(1, Math.ceil(0.1 * inRange.length))) {
      evidence.push(`completions of step(s) ${list(missing)} have no log_history entry, though TRL logs every completions step (log_history has steps ${logSteps[0]}–${lastLog}${this.loggingSteps ? `, logging_steps ${this.loggingSteps}` : ''})`);
    }
    // reward-function names
    const cols = [...this.rewardColumns];
    const funcs = [...this.rewardFuncs];
    if (cols.length && funcs.length && !cols.some((c) => this.rewardFuncs.has(c))) {
      evidence.push(`the completions' reward columns (${cols.join(', ')}) are not the trainer state's reward functions (${funcs.join(', ')})`);
    }
    // rewards: exact when logging_steps = 1 (the same generation batch), close otherwise
    const exact = this.loggingSteps === 1;
    const diffs: { step: number; a: number; b: number }[] = [];
    let compared = 0;
    for (const s of compSteps) {
      const v = this.logTrain.get(s);
      const st = this.stepStats.get(s)!;
      if (!v) continue;
      const pairs: [number, number][] = [];
      let perFunc = false;
      for (const [c, mean] of Object.entries(st.partMeans)) {
        const x = v[`rewards/${c}/mean`] ?? v[`rewards/${c}`];
        if (typeof x === 'number') { pairs.push([mean, x]); perFunc = true; }
      }
      // the total only when there are no per-function metrics (the total depends on reward_weights, the parts do not)
      if (!perFunc && typeof v.reward === 'number') pairs.push([st.mean, v.reward]);
      if (!pairs.length) continue;
      compared++;
      const range = Math.max(1, st.max - st.min);
      const off = pairs.find(([a, b]) => (exact ? Math.abs(a - b) > 1e-3 * Math.max(1, Math.abs(b)) : Math.abs(a - b) > 0.25 * range));
      if (off) diffs.push({ step: s, a: off[0], b: off[1] });
    }
    if (compared && diffs.length > compared / 2) {
      const ex = diffs.slice(0, 3).map((d) => `step ${d.step}: ${fmt(d.a)} in the completions vs ${fmt(d.b)} in log_history`).join('; ');
      evidence.push(`at ${diffs.length} of ${compared} common step(s) the completions' mean reward differs from log_history's ${exact ? '(with logging_steps 1 they are the same batch)' : 'by more than a quarter of the reward range'}: ${ex}`);
    }
    if (!evidence.length) return [];
    return [{
      file: ts, field: 'log_history', severity: 'warning',
      message: `completions/ and ${path.basename(ts)} look like different runs: ${evidence.join('; ')}. Metrics come from ${path.basename(ts)}, rollouts from completions/: do not read one against the other, or import each alone`,
    }];
  }
}

function fmt(x: number): string { return Number.isInteger(x) ? String(x) : x.toPrecision(4); }

function stepStat(samples: RolloutSampleInput[]): StepStat {
  const rs = samples.map((s) => s.reward);
  const partSums: Record<string, [number, number]> = {};
  for (const s of samples) for (const [k, v] of Object.entries(s.rewardParts ?? {})) { const a = partSums[k] ?? (partSums[k] = [0, 0]); a[0] += v; a[1]++; }
  const partMeans: Record<string, number> = {};
  for (const [k, [sum, n]] of Object.entries(partSums)) partMeans[k] = sum / n;
  return { mean: rs.reduce((a, b) => a + b, 0) / Math.max(1, rs.length), n: rs.length, min: Math.min(...rs), max: Math.max(...rs), partMeans };
}
